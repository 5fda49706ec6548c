//! The drivers behind libmesos.so: what Apache's `MesosSchedulerDriver` and
//! `MesosExecutorDriver` do (reference/mesos-contract.md §1.8, §1.4), over the v1 HTTP
//! APIs. The JNI layer (`jni-driver/`) only converts between Java objects and these types.
//!
//! Data flow of the scheduler driver:
//!
//! ```text
//!  natives (any Java thread) --Command--> actor (tokio task: subscription, calls, reconnect)
//!                                           | decisions: scheduler::State (sync, no I/O)
//!                                           v
//!                            callback thread (one per driver) --> Scheduler::deliver
//!                                           | (implicit ACKNOWLEDGE after statusUpdate)
//!                                           +--Command--> actor
//! ```
//!
//! Natives never wait on the callback thread: frameworks call the driver from inside
//! callbacks (Spark launches in `resourceOffers`, Hadoop kills tasks under its own lock), so
//! every native enqueues and returns. Only `stop()` waits, for the actor (never the callback
//! thread), so that TEARDOWN has gone out when it returns.

pub mod executor;
pub mod log;
pub mod mesos;
pub mod scheduler;
pub mod state;

use std::sync::{Condvar, Mutex, OnceLock};

/// `Protos.Status` of Apache's bindings (`include/mesos/mesos.proto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    NotStarted = 1,
    Running = 2,
    Aborted = 3,
    Stopped = 4,
}

/// A driver's [`Status`], shared by its handle, its actor and its callback thread; `join`
/// waits on it.
pub(crate) struct StatusCell {
    inner: Mutex<CellState>,
    changed: Condvar,
    /// The callback thread, once started: `join` from a callback must not wait for it.
    callback_thread: OnceLock<std::thread::ThreadId>,
}

struct CellState {
    status: Status,
    /// `error` callbacks queued and not yet run. Apache's driver aborts and then calls
    /// `error` in the same step of its process, before `join` can return; `join` waits for
    /// them too, so that `run()` never returns ABORTED before the error reached the
    /// framework (a script that exits when `run()` returns would lose it).
    pending_errors: usize,
}

impl StatusCell {
    pub(crate) fn new() -> StatusCell {
        StatusCell {
            inner: Mutex::new(CellState {
                status: Status::NotStarted,
                pending_errors: 0,
            }),
            changed: Condvar::new(),
            callback_thread: OnceLock::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CellState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn status(&self) -> Status {
        self.lock().status
    }

    /// Sets the status when the current one is `allowed`; returns the status before.
    pub(crate) fn transition(&self, allowed: &[Status], to: Status) -> Status {
        let mut state = self.lock();
        let before = state.status;
        if allowed.contains(&before) {
            state.status = to;
            self.changed.notify_all();
        }
        before
    }

    /// Records the calling thread as the one that runs the callbacks.
    pub(crate) fn set_callback_thread(&self) {
        let _ = self.callback_thread.set(std::thread::current().id());
    }

    /// An `error` callback was queued.
    pub(crate) fn error_queued(&self) {
        self.lock().pending_errors += 1;
    }

    /// A queued `error` callback ran (or will never run).
    pub(crate) fn error_delivered(&self) {
        let mut state = self.lock();
        state.pending_errors = state.pending_errors.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Waits until the status is no longer RUNNING and every queued `error` callback ran
    /// (returns at once when not RUNNING and none is queued, and never waits for the
    /// callbacks when called from one).
    pub(crate) fn join(&self) -> Status {
        let in_callback = self.callback_thread.get() == Some(&std::thread::current().id());
        let mut state = self.lock();
        while state.status == Status::Running || (state.pending_errors > 0 && !in_callback) {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.status
    }
}

/// The runtime every driver of the process runs on: two worker threads, created on first
/// use. Its threads are never attached to the JVM; only the callback threads are.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // A library has no better option than to abort here: without a runtime no driver
        // can do anything, and this happens only if the OS refuses threads.
        #[allow(clippy::expect_used)]
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("remesos-driver")
            .enable_all()
            .build()
            .expect("start the driver runtime")
    })
}

/// The OS user the process runs as (for an empty `FrameworkInfo.user`).
pub fn current_user() -> String {
    if let Ok(user) = std::env::var("USER")
        && !user.is_empty()
    {
        return user;
    }
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy the name out
    // at once and never keep the pointer.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            return std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned();
        }
    }
    "root".to_string()
}

/// The process environment as the drivers read it (variables that are not UTF-8 are
/// skipped).
pub fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The first directory on `PATH` that holds the `remesos` binary: where `local` mode finds
/// the executables when this process is not `remesos` (a JVM, a Python interpreter).
pub fn launcher_dir_on_path() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("remesos").is_file()))
}

/// The machine's hostname (for an empty `FrameworkInfo.hostname`).
pub fn hostname() -> String {
    crate::common::address::system_hostname()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn join_returns_only_after_the_queued_error_callback_ran() {
        let cell = Arc::new(StatusCell::new());
        cell.transition(&[Status::NotStarted], Status::Running);
        cell.error_queued();
        cell.transition(&[Status::Running], Status::Aborted);
        let (tx, rx) = mpsc::channel();
        let joiner = {
            let cell = cell.clone();
            std::thread::spawn(move || tx.send(cell.join()).unwrap())
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "join returned while the error callback was still queued"
        );
        cell.error_delivered();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            Status::Aborted
        );
        joiner.join().unwrap();
    }

    #[test]
    fn join_from_the_callback_thread_does_not_wait_for_its_own_error() {
        let cell = StatusCell::new();
        cell.transition(&[Status::NotStarted], Status::Running);
        cell.set_callback_thread();
        cell.error_queued();
        cell.transition(&[Status::Running], Status::Aborted);
        assert_eq!(cell.join(), Status::Aborted);
    }
}
