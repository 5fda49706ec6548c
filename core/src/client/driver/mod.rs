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
    status: Mutex<Status>,
    changed: Condvar,
}

impl StatusCell {
    pub(crate) fn new() -> StatusCell {
        StatusCell {
            status: Mutex::new(Status::NotStarted),
            changed: Condvar::new(),
        }
    }

    pub(crate) fn status(&self) -> Status {
        *self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the status when the current one is `allowed`; returns the status before.
    pub(crate) fn transition(&self, allowed: &[Status], to: Status) -> Status {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let before = *status;
        if allowed.contains(&before) {
            *status = to;
            self.changed.notify_all();
        }
        before
    }

    /// Waits until the status is no longer RUNNING (returns at once when not RUNNING).
    pub(crate) fn join(&self) -> Status {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        while *status == Status::Running {
            status = self.changed.wait(status).unwrap_or_else(|e| e.into_inner());
        }
        *status
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
