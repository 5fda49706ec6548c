//! Starts executor processes detached from the agent (DESIGN.md §5): each in its own
//! session and process group (setsid), in its sandbox, with stdout and stderr written
//! straight to the sandbox's files — never piped through the agent — so executors outlive
//! an agent restart.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

use remesos_proto::v1;

/// The user to run as, resolved when the agent runs as root (reference: `--switch_user`).
#[derive(Clone, Copy, Debug)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
}

/// Looks up `user` when the agent is root; `None` (run as the agent's user) otherwise.
pub fn credentials(user: Option<&str>) -> Result<Option<Credentials>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let name = std::ffi::CString::new(user).map_err(|_| format!("invalid user name '{user}'"))?;
    // SAFETY: getpwnam returns a pointer to static storage or null; we copy out the two ids
    // immediately, and the agent does not call getpwnam concurrently (launches are
    // sequential per call site; the data is read before any other libc call).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(format!("Failed to find user '{user}'"));
    }
    // SAFETY: pw is non-null and points to a valid passwd struct.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some(Credentials { uid, gid }))
}

/// Recursively hands the sandbox to the task's user.
pub fn chown_sandbox(dir: &Path, creds: Credentials) -> std::io::Result<()> {
    std::os::unix::fs::chown(dir, Some(creds.uid), Some(creds.gid))?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && !path.is_symlink() {
            chown_sandbox(&path, creds)?;
        } else {
            std::os::unix::fs::lchown(&path, Some(creds.uid), Some(creds.gid))?;
        }
    }
    Ok(())
}

/// Builds the executor's command: shell form runs `/bin/sh -c value`; argv form runs
/// `value` with `arguments` (whose first element is argv[0], as Mesos passes it).
pub fn command(info: &v1::CommandInfo) -> Result<std::process::Command, String> {
    let value = info.value.clone().unwrap_or_default();
    if info.shell.unwrap_or(true) {
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(value);
        return Ok(cmd);
    }
    if value.is_empty() {
        return Err("'CommandInfo.value' must be set".into());
    }
    let mut cmd = std::process::Command::new(&value);
    if let Some((argv0, rest)) = info.arguments.split_first() {
        cmd.arg0(argv0);
        cmd.args(rest);
    }
    Ok(cmd)
}

/// How a process is confined beyond its session: the cgroups it joins (open `cgroup.procs`
/// files, written between fork and exec) and whether it gets its own pid namespace.
#[derive(Debug, Default)]
pub struct Confinement {
    pub cgroup_procs: Vec<std::fs::File>,
    pub pid_namespace: bool,
}

/// Spawns the process: new session, cwd = sandbox, stdout/stderr appended to the sandbox's
/// files, `env` replacing the agent's environment when `clear_env`.
pub fn spawn(
    mut cmd: std::process::Command,
    sandbox: &Path,
    env: &[(String, String)],
    clear_env: bool,
    creds: Option<Credentials>,
    confinement: &Confinement,
) -> std::io::Result<tokio::process::Child> {
    let stdout = OpenOptions::new()
        .create(true)
        .append(true)
        .open(sandbox.join("stdout"))?;
    let stderr = OpenOptions::new()
        .create(true)
        .append(true)
        .open(sandbox.join("stderr"))?;
    if clear_env {
        cmd.env_clear();
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(sandbox)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    if let Some(c) = creds {
        cmd.uid(c.uid).gid(c.gid);
    }
    let cgroup_fds = super::isolator::raw_fds(&confinement.cgroup_procs);
    let pid_namespace = confinement.pid_namespace;
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls
    // (setsid, write, unshare, fork, mount, waitpid, _exit) on data prepared before the fork;
    // the cgroup files stay open in the parent until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for fd in &cgroup_fds {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if pid_namespace {
                enter_pid_namespace()?;
            }
            Ok(())
        });
    }
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(false);
    cmd.spawn()
}

/// Makes the rest of the exec happen as pid 1 of a new pid namespace with its own `/proc`.
/// unshare(CLONE_NEWPID) only affects children, so this forks: the child goes on to exec;
/// the parent stays outside as a reaper that exits as the child did, so the agent's view
/// (the process it started, its exit status, its process group) stays the same.
///
/// # Safety
/// Only between fork and exec.
unsafe fn enter_pid_namespace() -> std::io::Result<()> {
    // SAFETY: the caller is a freshly forked child; every call below is async-signal-safe.
    unsafe {
        if libc::unshare(libc::CLONE_NEWPID | libc::CLONE_NEWNS) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let child = libc::fork();
        if child < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if child == 0 {
            // A private mount tree, so the new /proc does not show on the host.
            let none = c"none".as_ptr();
            let root = c"/".as_ptr();
            if libc::mount(
                none,
                root,
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            let proc_ = c"proc".as_ptr();
            if libc::mount(
                proc_,
                c"/proc".as_ptr(),
                proc_,
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            return Ok(());
        }
        // The reaper. Its copies of the parent's fds (among them the pipe std reads exec
        // errors from) must close, or spawn() would wait for the reaper to exit.
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        // A SIGTERM to the process group must not end the reaper before the namespace's
        // init (which, as init, ignores signals it has no handler for; SIGKILL still works).
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        let mut status = 0;
        loop {
            let r = libc::waitpid(child, &mut status, 0);
            if r == child {
                break;
            }
            if r < 0 && *libc::__errno_location() != libc::EINTR {
                libc::_exit(127);
            }
        }
        if libc::WIFEXITED(status) {
            libc::_exit(libc::WEXITSTATUS(status));
        }
        let signal = libc::WTERMSIG(status);
        libc::signal(signal, libc::SIG_DFL);
        libc::kill(libc::getpid(), signal);
        libc::_exit(128 + signal)
    }
}

/// Signals the process group `pid` leads (the executor and everything it started). A kill
/// also reaches every process of the executor's session: executors put their tasks in
/// process groups of their own, which stay in the session (setsid) the executor leads.
pub fn signal_group(pid: u32, kill: bool) {
    let signal = if kill { libc::SIGKILL } else { libc::SIGTERM };
    let Ok(pid) = i32::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pid, signal);
    }
    if kill {
        for member in super::isolator::session_members(pid) {
            // SAFETY: as above, for one process.
            unsafe {
                libc::kill(member, libc::SIGKILL);
            }
        }
    }
}
