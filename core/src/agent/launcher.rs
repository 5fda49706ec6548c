//! Starts executor processes detached from the agent (DESIGN.md §5): each in its own
//! session and process group (setsid), in its sandbox, with stdout and stderr written
//! straight to the sandbox's files — never piped through the agent — so executors outlive
//! an agent restart.
//!
//! Mesos: the posix launcher (src/slave/containerizer/mesos/launcher.cpp) and `os::su`
//! (stout). System calls go through `rustix` (processes, namespaces, mounts) and `nix`
//! (the user database, credentials); `libc` is left only for what neither wraps: `fork`
//! inside a pre-exec hook, `close_range`, `signal` and `_exit`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

use nix::unistd::{Gid, Uid, User};
use remesos_proto::v1;
use rustix::process::{Pid, Signal};

/// Why an executor could not be started. The texts are the TaskStatus.message its tasks
/// fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    #[error("invalid user name '{0}'")]
    InvalidUserName(String),
    #[error("Failed to find user '{0}'")]
    UnknownUser(String),
    #[error("'CommandInfo.value' must be set")]
    MissingCommand,
}

/// The user to run as, resolved when the agent runs as root (reference: `--switch_user`).
#[derive(Clone, Debug)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// The user's supplementary groups (`getgrouplist`, what `initgroups` would set), the
    /// primary group included.
    pub groups: Vec<Gid>,
}

/// Looks up `user` when the agent is root; `None` (run as the agent's user) otherwise.
pub fn credentials(user: Option<&str>) -> Result<Option<Credentials>, LaunchError> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let name =
        std::ffi::CString::new(user).map_err(|_| LaunchError::InvalidUserName(user.into()))?;
    // getpwnam_r (reentrant), its buffer grown as needed.
    let entry = match User::from_name(user) {
        Ok(Some(entry)) => entry,
        Ok(None) | Err(_) => return Err(LaunchError::UnknownUser(user.into())),
    };
    let (uid, gid) = (entry.uid.as_raw(), entry.gid.as_raw());
    // When the list cannot be had: the primary group alone.
    let groups = nix::unistd::getgrouplist(&name, entry.gid).unwrap_or_else(|_| vec![entry.gid]);
    Ok(Some(Credentials { uid, gid, groups }))
}

/// Switches the calling process to `creds`: supplementary groups, then gid, then uid (the
/// order in which each call is still permitted), as Mesos's `os::su` does with `initgroups`.
///
/// # Safety
/// Only between fork and exec: every call is async-signal-safe and `creds` is read only.
pub unsafe fn drop_privileges(creds: &Credentials) -> std::io::Result<()> {
    nix::unistd::setgroups(&creds.groups)?;
    nix::unistd::setgid(Gid::from_raw(creds.gid))?;
    nix::unistd::setuid(Uid::from_raw(creds.uid))?;
    Ok(())
}

/// Builds the executor's command: shell form runs `/bin/sh -c value`; argv form runs
/// `value` with `arguments` (whose first element is argv[0], as Mesos passes it).
#[allow(
    clippy::disallowed_methods,
    reason = "the launcher is where executors are started"
)]
pub fn command(info: &v1::CommandInfo) -> Result<std::process::Command, LaunchError> {
    let value = info.value.clone().unwrap_or_default();
    if info.shell.unwrap_or(true) {
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(value);
        return Ok(cmd);
    }
    if value.is_empty() {
        return Err(LaunchError::MissingCommand);
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
    /// A private mount namespace with the sandbox and volumes bound into an image's rootfs
    /// (containerizer/linux.rs), made after the pid namespace.
    pub mounts: Option<std::sync::Arc<super::containerizer::linux::MountPlan>>,
}

/// The logrotate container logger of one container: its settings and the `remesos` binary
/// that runs `remesos logrotate-logger` (container_logger.rs).
#[derive(Debug, Clone)]
pub struct Logger {
    pub settings: super::container_logger::LogrotateSettings,
    pub binary: std::path::PathBuf,
    /// The systemd executor slice's `cgroup.procs`, which the loggers join too.
    pub slice: Option<std::path::PathBuf>,
}

/// Spawns the process: new session, cwd = sandbox, stdout/stderr appended to the sandbox's
/// files — directly, or through `remesos logrotate-logger` companions when `logger` is
/// given — and `env` replacing the agent's environment when `clear_env`.
pub fn spawn(
    mut cmd: std::process::Command,
    sandbox: &Path,
    env: &[(String, String)],
    clear_env: bool,
    creds: Option<Credentials>,
    confinement: &Confinement,
    logger: Option<&Logger>,
) -> std::io::Result<tokio::process::Child> {
    // Never through a symlink, a FIFO or a hard link the fetched files may have put there.
    let dir = super::beneath::open_dir(sandbox)?;
    let stdout = super::beneath::open_log(dir.as_fd(), "stdout")?;
    let stderr = super::beneath::open_log(dir.as_fd(), "stderr")?;
    let (stdout, stderr): (Stdio, Stdio) = match logger {
        None => (stdout.into(), stderr.into()),
        Some(logger) => {
            let settings = &logger.settings;
            let path = settings.logrotate_path.as_deref();
            (
                companion(
                    logger,
                    sandbox,
                    "stdout",
                    &settings.stdout,
                    path,
                    creds.as_ref(),
                )?,
                companion(
                    logger,
                    sandbox,
                    "stderr",
                    &settings.stderr,
                    path,
                    creds.as_ref(),
                )?,
            )
        }
    };
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
    let mounts = confinement.mounts.clone();
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls
    // (setsid, write, unshare, fork, mount, open, waitpid, _exit) on data prepared before the
    // fork (the mount plan's paths included);
    // the cgroup files stay open in the parent until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::setsid()?;
            for fd in &cgroup_fds {
                // Sound (inside the unsafe block above): the child's copy of a cgroup file
                // the parent holds open until spawn returns, valid for this call.
                let fd = BorrowedFd::borrow_raw(*fd);
                rustix::io::write(fd, b"0")?;
            }
            if pid_namespace {
                enter_pid_namespace()?;
            }
            if let Some(mounts) = &mounts {
                // Sound: this is the freshly forked child (see above).
                mounts.enter()?;
            }
            Ok(())
        });
    }
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(false);
    cmd.spawn()
}

/// Starts `remesos logrotate-logger` for the sandbox's file `name` (Mesos's
/// `mesos-logrotate-logger`): in its own session, so it outlives the agent, as the task's
/// user, reading a pipe whose write end is returned for the executor. It ends at EOF, when
/// the last process holding the write end has exited; a task reaps it.
fn companion(
    logger: &Logger,
    sandbox: &Path,
    name: &str,
    rotation: &super::container_logger::Rotation,
    logrotate_path: Option<&Path>,
    creds: Option<&Credentials>,
) -> std::io::Result<Stdio> {
    let (reader, writer) = std::io::pipe()?;
    #[allow(
        clippy::disallowed_methods,
        reason = "the container logger is a companion process, as Mesos's"
    )]
    let mut cmd = std::process::Command::new(&logger.binary);
    cmd.args(super::container_logger::logger_args(
        &sandbox.join(name),
        rotation,
        logrotate_path,
    ))
    .env_clear()
    .current_dir(sandbox)
    .stdin(reader)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    let creds = creds.cloned();
    let slice = logger
        .slice
        .as_deref()
        .map(super::systemd::open_procs)
        .transpose()?;
    let slice_fd = slice.as_ref().map(|f| f.as_raw_fd());
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls
    // (setsid, write, and those of `drop_privileges`) on data prepared before the fork; the
    // slice's file stays open in the parent until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::setsid()?;
            if let Some(fd) = slice_fd {
                rustix::io::write(BorrowedFd::borrow_raw(fd), b"0")?;
            }
            if let Some(creds) = &creds {
                drop_privileges(creds)?;
            }
            Ok(())
        });
    }
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "Failed to start the container logger '{}': {e}",
                    logger.binary.display()
                ),
            )
        })?;
    drop(slice);
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(writer.into())
}

/// Makes the rest of the exec happen as pid 1 of a new pid namespace with its own `/proc`.
/// unshare(CLONE_NEWPID) only affects children, so this forks: the child goes on to exec;
/// the parent stays outside as a reaper that exits as the child did, so the agent's view
/// (the process it started, its exit status, its process group) stays the same.
///
/// # Safety
/// Only between fork and exec.
unsafe fn enter_pid_namespace() -> std::io::Result<()> {
    use rustix::mount::{MountFlags, MountPropagationFlags};
    use rustix::thread::UnshareFlags;
    // SAFETY: the caller is a freshly forked child with one thread, so no other thread
    // shares (or sees the change of) the namespaces unshared here.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWPID | UnshareFlags::NEWNS)? };
    // SAFETY: fork in a single-threaded freshly forked child; both sides only make
    // async-signal-safe calls afterwards.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if child == 0 {
        // A private mount tree, so the new /proc does not show on the host.
        rustix::mount::mount_change(
            c"/",
            MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
        )?;
        rustix::mount::mount(
            c"proc",
            c"/proc",
            c"proc",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            None,
        )?;
        return Ok(());
    }
    // The reaper. Its copies of the parent's fds (among them the pipe std reads exec
    // errors from) must close, or spawn() would wait for the reaper to exit.
    // SAFETY: close_range closes descriptors only; nothing in this process uses them again.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    // A SIGTERM to the process group must not end the reaper before the namespace's
    // init (which, as init, ignores signals it has no handler for; SIGKILL still works).
    // SAFETY: installs SIG_IGN, no handler code; async-signal-safe.
    unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    let child = Pid::from_raw(child);
    let status = loop {
        match rustix::process::waitpid(child, rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => break status,
            Ok(None) | Err(rustix::io::Errno::INTR) => continue,
            // SAFETY: _exit ends the reaper at once without running anything else.
            Err(_) => unsafe { libc::_exit(127) },
        }
    };
    if let Some(code) = status.exit_status() {
        // SAFETY: as above.
        unsafe { libc::_exit(code) };
    }
    let signal = status.terminating_signal().unwrap_or(libc::SIGKILL);
    // SAFETY: restores the default action, so the signal below ends the reaper as it ended
    // the child.
    unsafe { libc::signal(signal, libc::SIG_DFL) };
    // SAFETY: `signal` is the number the kernel reported ending the child: a real signal.
    let sig = unsafe { Signal::from_raw_unchecked(signal) };
    let _ = rustix::process::kill_process(rustix::process::getpid(), sig);
    // SAFETY: as above.
    unsafe { libc::_exit(128 + signal) }
}

/// Signals the process group `pid` leads (the executor and everything it started). A kill
/// also reaches every process of the executor's session: executors put their tasks in
/// process groups of their own, which stay in the session (setsid) the executor leads.
pub fn signal_group(pid: u32, kill: bool) {
    let signal = if kill { Signal::KILL } else { Signal::TERM };
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    let _ = rustix::process::kill_process_group(pid, signal);
    if kill {
        for member in super::isolator::session_members(pid.as_raw_nonzero().get()) {
            if let Some(member) = Pid::from_raw(member) {
                let _ = rustix::process::kill_process(member, Signal::KILL);
            }
        }
    }
}
