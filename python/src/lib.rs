//! `mesos.native._mesos`: the Python 3 extension behind `mesos.native` (Apache's
//! `src/python/native`, a C extension over libmesos for Python 2), here over the same Rust
//! drivers as libmesos.so (`remesos::client::driver`). Like `jni-driver/`, this crate is
//! thin: it converts between Python objects and the drivers' types and holds no logic.
//!
//! Protobufs cross as serialized bytes, as in the original: a `mesos_pb2` message given to a
//! method is read with `SerializeToString()`; a callback's arguments are made with
//! `mesos.interface.mesos_pb2.<Type>()` and `ParseFromString`. v0 (`mesos_pb2`) and v1
//! messages share field numbers, so v0 bytes decode as the v1 types the drivers use.
//!
//! Threads: the driver's one callback thread takes the GIL for each callback, in order;
//! `join`, `run` and `stop` release it while they wait (inside a callback too); at exit the
//! interpreter waits for a callback in flight (`FINALIZING`, `IN_FLIGHT`). A callback that raises prints its
//! traceback and aborts the driver, as the original's `ProxyScheduler` does.

// The Python methods and keyword arguments keep the original extension's camelCase names
// (`launchTasks`, `implicitAcknowledgements`): they are the API.
#![allow(non_snake_case)]

mod convert;
mod executor;
mod scheduler;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pyo3::marker::Ungil;
use pyo3::prelude::*;
use pyo3::types::PyWeakrefReference;

/// The Python driver object, weakly (set at `start`): the callbacks' first argument. Weak
/// so that the driver object can be collected while its callback thread holds a [`Proxy`].
pub(crate) type DriverRef = Arc<OnceLock<Py<PyWeakrefReference>>>;

/// What a driver's callback thread calls: the framework's `Scheduler` or `Executor`
/// (`target`), with the driver object as the first argument.
pub(crate) struct Proxy {
    target: Py<PyAny>,
    driver: DriverRef,
}

impl Proxy {
    /// A proxy for `target` and the cell its driver object is put in at `start`.
    pub(crate) fn new(target: Py<PyAny>) -> (Proxy, DriverRef) {
        let driver = DriverRef::default();
        let proxy = Proxy {
            target,
            driver: driver.clone(),
        };
        (proxy, driver)
    }

    /// Delivers one callback on the driver's callback thread: `call` names the method and
    /// calls it on the target with the driver object. A raise is reported as the original
    /// reports it and fails the delivery (the driver aborts).
    pub(crate) fn deliver(
        &self,
        side: &str,
        call: impl for<'py> FnOnce(
            Python<'py>,
            &Bound<'py, PyAny>,
            &Bound<'py, PyAny>,
        ) -> (&'static str, PyResult<Bound<'py, PyAny>>),
    ) -> Result<(), String> {
        callback(|py| {
            let Some((driver, target)) = self.bind(py) else {
                return Ok(());
            };
            let (name, outcome) = call(py, &driver, &target);
            outcome.map(drop).map_err(|e| failed(py, side, name, e))
        })
    }

    /// The driver object and the target; `None` once the driver object is gone (nobody to
    /// call back).
    pub(crate) fn bind<'py>(
        &self,
        py: Python<'py>,
    ) -> Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let driver = self.driver.get()?.bind(py).upgrade()?;
        Some((driver, self.target.bind(py).clone()))
    }
}

/// What the original does when a callback raises: says which, prints the traceback (here
/// without PyErr_Print's exit on SystemExit) and lets the driver abort.
fn failed(py: Python<'_>, side: &str, name: &str, e: PyErr) -> String {
    eprintln!("Failed to call {side}'s {name}");
    e.display(py);
    format!("the {side}'s {name} raised: {e}")
}

/// `run()` of both drivers: `join()` once `start()` gave DRIVER_RUNNING, else that status.
pub(crate) fn run(started: i32, join: impl FnOnce() -> i32) -> i32 {
    if started == remesos::client::driver::Status::Running as i32 {
        join()
    } else {
        started
    }
}

/// Records the driver object `this` for the callbacks (the first `start` does; later ones
/// find the driver started).
pub(crate) fn remember<T: pyo3::PyClass>(cell: &DriverRef, this: &Bound<'_, T>) -> PyResult<()> {
    let _ = cell.set(PyWeakrefReference::new(this.as_any())?.unbind());
    Ok(())
}

/// Set by an `atexit` hook: the interpreter is shutting down. A thread that takes the GIL
/// once CPython finalizes is ended by it (`pthread_exit`) in the middle of Rust frames,
/// which aborts the process, so no callback starts from here on (a script that returns from
/// its main thread without stopping its driver ends quietly, as with the original).
static FINALIZING: AtomicBool = AtomicBool::new(false);

/// Callbacks between their check of [`FINALIZING`] and their return: the `atexit` hook
/// waits for them (with the GIL released) so that none takes the GIL back after CPython
/// has begun to finalize.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// How long the `atexit` hook waits for callbacks in flight (one blocked for good, in a
/// `join()` of its own driver say, must not hang the interpreter's exit).
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// Runs a callback with the GIL on the driver's callback thread (`Ok` without running it
/// once the interpreter is exiting).
pub(crate) fn callback(f: impl FnOnce(Python<'_>) -> Result<(), String>) -> Result<(), String> {
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let outcome = if FINALIZING.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Python::attach(f)
    };
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    outcome
}

/// Runs a driver wait (`stop`, `join`) with the GIL released, so callbacks and other
/// Python threads go on, as the original's `Py_BEGIN_ALLOW_THREADS` does, also when a
/// callback calls it (the `atexit` hook waits for that callback before CPython finalizes).
pub(crate) fn wait<T: Ungil>(py: Python<'_>, f: impl Ungil + FnOnce() -> T) -> T {
    py.detach(f)
}

#[pyfunction]
fn _interpreter_exiting(py: Python<'_>) {
    FINALIZING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let step = Duration::from_millis(5);
        let mut waited = Duration::ZERO;
        while IN_FLIGHT.load(Ordering::SeqCst) > 0 && waited < EXIT_WAIT {
            std::thread::sleep(step);
            waited += step;
        }
    });
}

#[pymodule]
fn _mesos(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<scheduler::MesosSchedulerDriverImpl>()?;
    m.add_class::<executor::MesosExecutorDriverImpl>()?;
    let hook = wrap_pyfunction!(_interpreter_exiting, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
