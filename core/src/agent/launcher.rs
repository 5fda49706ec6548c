//! Starts executor processes detached from the agent (DESIGN.md §5): each in its own
//! session and process group (setsid), in its sandbox, with stdout and stderr written
//! straight to the sandbox's files — never piped through the agent — so executors outlive
//! an agent restart.

use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

use remesos_proto::v1;

/// The user to run as, resolved when the agent runs as root (reference: `--switch_user`).
#[derive(Clone, Debug)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// The user's supplementary groups (`getgrouplist`, what `initgroups` would set), the
    /// primary group included.
    pub groups: Vec<u32>,
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
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero `passwd` is a valid value of this plain C struct.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buffer.len()` is its true size;
    // getpwnam_r (reentrant, unlike getpwnam) writes only into `entry`, `buffer`, `result`.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(format!("Failed to find user '{user}'"));
    }
    let (uid, gid) = (entry.pw_uid, entry.pw_gid);
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut count = groups.len() as libc::c_int;
        // SAFETY: `name` is valid, `groups` holds `count` entries; getgrouplist writes at
        // most `count` of them and sets `count` to the number it needs.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            groups.truncate(count.max(0) as usize);
            break;
        }
        if count as usize <= groups.len() || groups.len() >= 65536 {
            // Cannot tell how many it needs: the primary group alone.
            groups = vec![gid];
            break;
        }
        groups.resize(count as usize, 0);
    }
    Ok(Some(Credentials { uid, gid, groups }))
}

/// Switches the calling process to `creds`: supplementary groups, then gid, then uid (the
/// order in which each call is still permitted), as Mesos's `os::su` does with `initgroups`.
///
/// # Safety
/// Only between fork and exec: every call is async-signal-safe and `creds` is read only.
pub unsafe fn drop_privileges(creds: &Credentials) -> std::io::Result<()> {
    // SAFETY: plain system calls on data prepared before the fork.
    unsafe {
        if libc::setgroups(creds.groups.len(), creds.groups.as_ptr()) != 0
            || libc::setgid(creds.gid) != 0
            || libc::setuid(creds.uid) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Builds the executor's command: shell form runs `/bin/sh -c value`; argv form runs
/// `value` with `arguments` (whose first element is argv[0], as Mesos passes it).
#[allow(
    clippy::disallowed_methods,
    reason = "the launcher is where executors are started"
)]
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
    // Never through a symlink, a FIFO or a hard link the fetched files may have put there.
    let dir = super::beneath::open_dir(sandbox)?;
    let stdout = super::beneath::open_log(dir.as_fd(), "stdout")?;
    let stderr = super::beneath::open_log(dir.as_fd(), "stderr")?;
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
