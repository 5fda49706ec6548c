//! The machine's hostname, as Mesos uses it when `--hostname` is not given (the master,
//! the agent) and for an empty `FrameworkInfo.hostname` (the scheduler driver): stout's
//! `net::hostname()`, used the same way by `src/master/master.cpp`, `src/slave/slave.cpp`
//! and `src/sched/sched.cpp`.

/// The machine's hostname; `localhost` when the system does not tell.
pub fn system_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
