//! Starts executor processes detached from the agent (DESIGN.md §5): each in its own
//! session and process group (setsid), in its sandbox, with stdout and stderr written
//! straight to the sandbox's files — never piped through the agent — so executors outlive
//! an agent restart.
//!
//! Mesos: the posix launcher (src/slave/containerizer/mesos/launcher.cpp) and `os::su`
//! (stout). System calls go through `rustix` (processes, namespaces, mounts) and `nix`
//! (the user database, credentials); `libc` is left only for what neither wraps: `fork`
//! inside a pre-exec hook, `close_range`, `signal` and `_exit`.

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
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

/// Whom an executor (or a nested container) runs as, before the user database is asked:
/// Mesos's `--switch_user` decision (src/slave/slave.cpp `Framework::launchExecutor`,
/// src/slave/http.cpp `_launchContainer`). With `switch_user` the command's own user wins
/// over the fallback (the framework's user for an executor, the parent's for a nested
/// container); without it nothing is switched, the process runs as the agent's own user
/// and its sandbox is not chowned. An empty name is no user.
pub fn run_as(
    switch_user: bool,
    command_user: Option<&str>,
    fallback: Option<&str>,
) -> Option<String> {
    if !switch_user {
        return None;
    }
    command_user
        .filter(|u| !u.is_empty())
        .or(fallback.filter(|u| !u.is_empty()))
        .map(str::to_string)
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

impl Credentials {
    /// Whether switching to these credentials would change nothing: this process's real,
    /// effective and saved ids are already `uid` and `gid`, and it is in the same groups
    /// (its supplementary groups and `gid`, as the kernel checks access, against `groups`
    /// and `gid`). Then an executor needs no switch (and so can be started without a
    /// fork): the common case of tasks run as the agent's own user, e.g. Apache's Java
    /// driver filling an empty `FrameworkInfo.user` with the current user.
    pub fn are_current(&self) -> bool {
        use nix::unistd::{getgroups, getresgid, getresuid};
        let (Ok(uids), Ok(gids), Ok(mut groups)) = (getresuid(), getresgid(), getgroups()) else {
            return false;
        };
        let mut wanted = self.groups.clone();
        for list in [&mut groups, &mut wanted] {
            list.push(Gid::from_raw(self.gid));
            list.sort_by_key(|g| g.as_raw());
            list.dedup();
        }
        [uids.real, uids.effective, uids.saved]
            .iter()
            .all(|u| u.as_raw() == self.uid)
            && [gids.real, gids.effective, gids.saved]
                .iter()
                .all(|g| g.as_raw() == self.gid)
            && groups == wanted
    }
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

/// What a `CommandInfo` runs: the program, its argv[0] and the rest of its arguments.
/// Shell form runs `/bin/sh -c value`; argv form runs `value` with `arguments` (whose first
/// element is argv[0], as Mesos passes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Argv {
    pub program: String,
    pub arg0: String,
    pub args: Vec<String>,
}

impl Argv {
    pub fn of(info: &v1::CommandInfo) -> Result<Argv, LaunchError> {
        let value = info.value.clone().unwrap_or_default();
        if info.shell.unwrap_or(true) {
            return Ok(Argv {
                program: "/bin/sh".into(),
                arg0: "/bin/sh".into(),
                args: vec!["-c".into(), value],
            });
        }
        if value.is_empty() {
            return Err(LaunchError::MissingCommand);
        }
        let (arg0, args) = match info.arguments.split_first() {
            Some((argv0, rest)) => (argv0.clone(), rest.to_vec()),
            None => (value.clone(), Vec::new()),
        };
        Ok(Argv {
            program: value,
            arg0,
            args,
        })
    }

    /// The same as a `std::process::Command` (which forks when given a pre-exec hook).
    #[allow(
        clippy::disallowed_methods,
        reason = "the launcher is where executors are started"
    )]
    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.arg0(&self.arg0).args(&self.args);
        cmd
    }
}

/// Builds the executor's command (see [`Argv::of`]).
pub fn command(info: &v1::CommandInfo) -> Result<std::process::Command, LaunchError> {
    Ok(Argv::of(info)?.command())
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

/// A started executor: its pid, and how to wait for it.
#[derive(Debug)]
pub enum Child {
    /// Started by `fork` + pre-exec hook + `exec` (std's Command; see [`spawn`]).
    Forked(tokio::process::Child),
    /// Started by `posix_spawn`; reaped here (a pidfd says when it has exited).
    Spawned { pid: u32 },
}

impl Child {
    pub fn id(&self) -> Option<u32> {
        match self {
            Child::Forked(child) => child.id(),
            Child::Spawned { pid } => Some(*pid),
        }
    }

    /// Waits for the process to exit and reaps it.
    pub async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        match self {
            Child::Forked(child) => child.wait().await,
            Child::Spawned { pid } => reap(*pid).await,
        }
    }
}

/// Spawns the process: new session, cwd = sandbox, stdout/stderr appended to the sandbox's
/// files — directly, or through `remesos logrotate-logger` companions when `logger` is
/// given — and `env` replacing the agent's environment when `clear_env`.
///
/// Without a user to switch to (none, or the agent's own: `Credentials::are_current`),
/// cgroups to join, a pid namespace or a mount namespace (the posix containerizer's
/// default), nothing has to run between fork and exec: the
/// process is started with `posix_spawn` (glibc: `clone(CLONE_VM|CLONE_VFORK)`, no copy of
/// the agent's page tables, and no tearing that copy down again at exec), the session by
/// `POSIX_SPAWN_SETSID`. Otherwise the pre-exec hook does that work after a `fork`.
pub fn spawn(
    argv: &Argv,
    sandbox: &Path,
    env: &[(String, String)],
    clear_env: bool,
    creds: Option<Credentials>,
    confinement: &Confinement,
    logger: Option<&Logger>,
) -> std::io::Result<Child> {
    // Never through a symlink, a FIFO or a hard link the fetched files may have put there.
    let dir = super::beneath::open_dir(sandbox)?;
    let stdout = super::beneath::open_log(dir.as_fd(), "stdout")?;
    let stderr = super::beneath::open_log(dir.as_fd(), "stderr")?;
    let (stdout, stderr): (OwnedFd, OwnedFd) = match logger {
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
    let plain = creds.as_ref().is_none_or(Credentials::are_current)
        && confinement.cgroup_procs.is_empty()
        && !confinement.pid_namespace
        && confinement.mounts.is_none()
        // posix_spawn would look a bare name up in the agent's PATH, std in the child's.
        && argv.program.contains('/');
    if plain {
        let pid = posix_spawn(
            argv,
            sandbox,
            &environment(env, clear_env),
            &stdout,
            &stderr,
        )?;
        return Ok(Child::Spawned { pid });
    }
    let mut cmd = argv.command();
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
    let pid_namespace = confinement.pid_namespace;
    // std switches the user before the pre-exec hook runs; making a pid namespace needs
    // root, so then the hook switches, once the namespace is made (the reaper left
    // outside it stays the agent's user).
    let late_creds = creds.clone().filter(|_| pid_namespace);
    if let Some(c) = creds.filter(|_| !pid_namespace) {
        cmd.uid(c.uid).gid(c.gid);
    }
    let cgroup_fds = super::isolator::raw_fds(&confinement.cgroup_procs);
    let mounts = confinement.mounts.clone();
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls
    // (setsid, write, unshare, fork, mount, open, waitpid, _exit, setgroups/setgid/setuid)
    // on data prepared before the fork (the mount plan's paths included); the cgroup files
    // stay open in the parent until spawn returns.
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
            if let Some(c) = &late_creds {
                // Sound: between fork and exec (see above).
                drop_privileges(c)?;
            }
            Ok(())
        });
    }
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(false);
    cmd.spawn().map(Child::Forked)
}

/// The executor's environment as std's Command would build it: the agent's own (or, when
/// `clear_env`, only its PATH), then `env` on top, a later value of a name winning.
fn environment(env: &[(String, String)], clear_env: bool) -> Vec<(OsString, OsString)> {
    let mut merged: Vec<(OsString, OsString)> = if clear_env {
        std::env::var_os("PATH")
            .map(|path| ("PATH".into(), path))
            .into_iter()
            .collect()
    } else {
        std::env::vars_os().collect()
    };
    for (name, value) in env {
        let name = OsString::from(name);
        merged.retain(|(n, _)| *n != name);
        merged.push((name, value.into()));
    }
    merged
}

fn c_string(bytes: &[u8]) -> std::io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "nul byte found in provided data",
        )
    })
}

/// `posix_spawn(3)` of `argv` in a new session (`POSIX_SPAWN_SETSID`), in `cwd`, stdin
/// from /dev/null, stdout and stderr onto the given files, with `env` and, as std's Command
/// leaves them, an empty signal mask and SIGPIPE back to its default (the agent ignores it).
/// Every other descriptor of the agent is close-on-exec. The exec's error, if any, is the
/// result (glibc reports it from the child before posix_spawn returns).
fn posix_spawn(
    argv: &Argv,
    cwd: &Path,
    env: &[(OsString, OsString)],
    stdout: &OwnedFd,
    stderr: &OwnedFd,
) -> std::io::Result<u32> {
    use std::os::unix::ffi::OsStrExt;
    let program = c_string(argv.program.as_bytes())?;
    let args: Vec<CString> = std::iter::once(&argv.arg0)
        .chain(&argv.args)
        .map(|a| c_string(a.as_bytes()))
        .collect::<std::io::Result<_>>()?;
    let env: Vec<CString> = env
        .iter()
        .map(|(name, value)| {
            let mut entry = name.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            c_string(&entry)
        })
        .collect::<std::io::Result<_>>()?;
    let cwd = c_string(cwd.as_os_str().as_bytes())?;
    let mut arg_ptrs: Vec<*mut libc::c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    arg_ptrs.push(std::ptr::null_mut());
    let mut env_ptrs: Vec<*mut libc::c_char> = env.iter().map(|e| e.as_ptr().cast_mut()).collect();
    env_ptrs.push(std::ptr::null_mut());
    let check = |rc: libc::c_int| match rc {
        0 => Ok(()),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    };
    // SAFETY: the attribute and file-action objects are initialised before any use and
    // destroyed on every path after; each pointer handed to posix_spawn (program, argv,
    // envp, cwd, /dev/null) points into a CString or array that outlives the call; the
    // descriptors are open (borrowed from owned files alive until return).
    unsafe {
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        check(libc::posix_spawnattr_init(&mut attr))?;
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        if let Err(e) = check(libc::posix_spawn_file_actions_init(&mut actions)) {
            libc::posix_spawnattr_destroy(&mut attr);
            return Err(e);
        }
        let result = (|| {
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            check(libc::posix_spawnattr_setsigmask(&mut attr, &empty))?;
            let mut pipe: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe);
            libc::sigaddset(&mut pipe, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(&mut attr, &pipe))?;
            // (The libc crate types these flags c_int and c_short by turns; all fit c_short.)
            let flags = libc::c_int::from(libc::POSIX_SPAWN_SETSID)
                | libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF;
            let flags = libc::c_short::try_from(flags).map_err(std::io::Error::other)?;
            check(libc::posix_spawnattr_setflags(&mut attr, flags))?;
            check(libc::posix_spawn_file_actions_addopen(
                &mut actions,
                0,
                c"/dev/null".as_ptr(),
                libc::O_RDONLY,
                0,
            ))?;
            check(libc::posix_spawn_file_actions_adddup2(
                &mut actions,
                stdout.as_raw_fd(),
                1,
            ))?;
            check(libc::posix_spawn_file_actions_adddup2(
                &mut actions,
                stderr.as_raw_fd(),
                2,
            ))?;
            check(libc::posix_spawn_file_actions_addchdir_np(
                &mut actions,
                cwd.as_ptr(),
            ))?;
            let mut pid: libc::pid_t = 0;
            check(libc::posix_spawn(
                &mut pid,
                program.as_ptr(),
                &actions,
                &attr,
                arg_ptrs.as_ptr(),
                env_ptrs.as_ptr(),
            ))?;
            u32::try_from(pid).map_err(|_| std::io::Error::other("posix_spawn gave no pid"))
        })();
        libc::posix_spawn_file_actions_destroy(&mut actions);
        libc::posix_spawnattr_destroy(&mut attr);
        result
    }
}

/// Waits for our child `pid` (started by [`posix_spawn`]) to exit and reaps it: a pidfd
/// becomes readable when it has exited; where pidfds are missing (Linux < 5.3), a
/// blocking `waitpid` on the blocking pool.
async fn reap(pid: u32) -> std::io::Result<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("invalid pid {pid}")))?;
    let exited =
        |status: rustix::process::WaitStatus| std::process::ExitStatus::from_raw(status.as_raw());
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::NONBLOCK)
        .map_err(std::io::Error::from)
        .and_then(|fd| tokio::io::unix::AsyncFd::with_interest(fd, tokio::io::Interest::READABLE));
    let Ok(pidfd) = pidfd else {
        return tokio::task::spawn_blocking(move || {
            loop {
                match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
                    Ok(Some((_, status))) => return Ok(exited(status)),
                    Ok(None) | Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        })
        .await
        .map_err(std::io::Error::other)?;
    };
    loop {
        if let Some((_, status)) =
            rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG)?
        {
            return Ok(exited(status));
        }
        pidfd.readable().await?.clear_ready();
    }
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
) -> std::io::Result<OwnedFd> {
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
pub(super) unsafe fn enter_pid_namespace() -> std::io::Result<()> {
    use rustix::thread::UnshareFlags;
    // SAFETY: the caller is a freshly forked child with one thread, so no other thread
    // shares (or sees the change of) the namespaces unshared here.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWPID | UnshareFlags::NEWNS)? };
    // SAFETY: forwarded from the caller.
    unsafe { fork_behind_reaper()? };
    mount_own_proc()
}

/// In the mount namespace just unshared: a private mount tree, so that the new `/proc`
/// (of the pid namespace this process is in) does not show on the host.
fn mount_own_proc() -> std::io::Result<()> {
    use rustix::mount::{MountFlags, MountPropagationFlags};
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
    Ok(())
}

/// Forks once more, so that a pid namespace entered (setns) or made (unshare) by this
/// process applies to the rest of the exec: returns in the child; the parent stays behind
/// as the child's reaper, ignoring SIGTERM (a pid namespace's init does too), and ends as
/// the child ended, with its exit code or by its signal.
///
/// # Safety
/// Only between fork and exec.
pub(super) unsafe fn fork_behind_reaper() -> std::io::Result<()> {
    // SAFETY: fork in a single-threaded freshly forked child; both sides only make
    // async-signal-safe calls afterwards.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if child == 0 {
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

#[cfg(test)]
mod tests {

    /// Mesos's `--switch_user` decision (slave.cpp `Framework::launchExecutor`, http.cpp
    /// `_launchContainer`): the command's user, else the fallback; nobody without the flag.
    #[test]
    fn switch_user_picks_the_commands_user_then_the_fallback_and_false_picks_none() {
        use super::run_as;
        assert_eq!(
            run_as(true, Some("nobody"), Some("fw")).as_deref(),
            Some("nobody")
        );
        assert_eq!(run_as(true, None, Some("fw")).as_deref(), Some("fw"));
        assert_eq!(run_as(true, Some(""), Some("fw")).as_deref(), Some("fw"));
        assert_eq!(run_as(true, None, Some("")), None);
        assert_eq!(run_as(true, None, None), None);
        assert_eq!(run_as(false, Some("nobody"), Some("fw")), None);
        assert_eq!(run_as(false, None, Some("fw")), None);
    }

    use super::*;

    /// Credentials equal to this process's own need no switch; any difference (uid, gid, a
    /// group more or less) does.
    #[test]
    fn only_this_processs_own_ids_and_groups_are_current() {
        let own = Credentials {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            groups: nix::unistd::getgroups().expect("getgroups"),
        };
        assert!(own.are_current());
        let mut reordered = own.clone();
        reordered.groups.reverse();
        reordered.groups.extend(own.groups.first().copied());
        assert!(reordered.are_current(), "order and repeats do not matter");
        let other_uid = Credentials {
            uid: own.uid + 1,
            ..own.clone()
        };
        assert!(!other_uid.are_current());
        let other_gid = Credentials {
            gid: own.gid + 1,
            ..own.clone()
        };
        assert!(!other_gid.are_current());
        let mut more = own.clone();
        more.groups.push(Gid::from_raw(54_321));
        assert!(!more.are_current());
        // The primary group counts as a member whether listed or not (`getgroups` may
        // leave it out, `getgrouplist` puts it in).
        let mut primary_listed = own.clone();
        primary_listed.groups.push(Gid::from_raw(own.gid));
        assert!(primary_listed.are_current());
        let mut fewer = own.clone();
        fewer.groups.retain(|g| g.as_raw() == own.gid);
        assert_eq!(
            fewer.are_current(),
            own.groups.iter().all(|g| g.as_raw() == own.gid),
            "a supplementary group less is a switch"
        );
    }

    fn sandbox(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("launcher-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn shell(script: &str) -> Argv {
        Argv::of(&v1::CommandInfo {
            value: Some(script.into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn argv_follows_mesos_shell_and_argv_forms() {
        assert_eq!(
            shell("echo hi"),
            Argv {
                program: "/bin/sh".into(),
                arg0: "/bin/sh".into(),
                args: vec!["-c".into(), "echo hi".into()],
            }
        );
        let argv = |arguments: Vec<String>| {
            Argv::of(&v1::CommandInfo {
                shell: Some(false),
                value: Some("/usr/bin/env".into()),
                arguments,
                ..Default::default()
            })
        };
        // arguments[0] is argv[0]; without arguments argv[0] is the program.
        assert_eq!(argv(vec!["env0".into(), "-i".into()]).unwrap().arg0, "env0");
        assert_eq!(argv(Vec::new()).unwrap().arg0, "/usr/bin/env");
        assert_eq!(
            Argv::of(&v1::CommandInfo {
                shell: Some(false),
                ..Default::default()
            }),
            Err(LaunchError::MissingCommand)
        );
    }

    /// The posix_spawn path gives what the fork path gave: its own session (it leads it),
    /// the sandbox as cwd, stdout/stderr into the sandbox's files, stdin from /dev/null,
    /// the environment with the given variables on top, SIGPIPE not ignored and no signal
    /// blocked (the test harness, like the agent, ignores SIGPIPE).
    #[tokio::test]
    async fn posix_spawn_starts_a_session_leader_in_the_sandbox() {
        let dir = sandbox("spawn");
        let script = "echo $$ $(cut -d' ' -f6 /proc/$$/stat); pwd; echo \"$GREETING\"; \
                      while read -r k v; do case $k in SigBlk:|SigIgn:) echo \"$k $v\";; esac; \
                      done < /proc/$$/status; cat; echo err >&2; exit 3";
        let env = [("GREETING".to_string(), "hello".to_string())];
        let mut child = spawn(
            &shell(script),
            &dir,
            &env,
            true,
            None,
            &Confinement::default(),
            None,
        )
        .unwrap();
        assert!(matches!(child, Child::Spawned { .. }), "{child:?}");
        let pid = child.id().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(3));
        let stdout = std::fs::read_to_string(dir.join("stdout")).unwrap();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], format!("{pid} {pid}"), "pid and session id");
        assert_eq!(lines[1], dir.canonicalize().unwrap().display().to_string());
        assert_eq!(lines[2], "hello");
        // /proc/<pid>/status lists SigBlk before SigIgn. The shell reads them itself (a
        // forked reader would see the mask dash sets around its own fork).
        let mask = |line: &str, name: &str| {
            assert!(line.starts_with(name), "{line}");
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        assert_eq!(mask(lines[3], "SigBlk:"), 0, "signals blocked: {stdout}");
        let ignored = mask(lines[4], "SigIgn:");
        assert_eq!(
            ignored & (1 << (libc::SIGPIPE - 1)),
            0,
            "SIGPIPE ignored: {stdout}"
        );
        assert_eq!(lines.len(), 5, "stdin is /dev/null: {stdout}");
        assert_eq!(
            std::fs::read_to_string(dir.join("stderr")).unwrap(),
            "err\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn posix_spawn_reports_a_missing_program_and_a_nul_byte() {
        let dir = sandbox("bad");
        let missing = Argv {
            program: "/nonexistent/executor".into(),
            arg0: "executor".into(),
            args: Vec::new(),
        };
        let spawned = |argv: &Argv| {
            spawn(argv, &dir, &[], false, None, &Confinement::default(), None).map(|_| ())
        };
        let error = spawned(&missing).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound, "{error}");
        let error = spawned(&shell("echo a\0b")).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
        let error = spawn(
            &shell("true"),
            &dir,
            &[("A\0B".into(), "x".into())],
            false,
            None,
            &Confinement::default(),
            None,
        )
        .map(|_| ())
        .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
        // Nothing ran: the sandbox's logs are empty.
        assert_eq!(std::fs::read_to_string(dir.join("stdout")).unwrap(), "");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
