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

/// Spawns the process: new session, cwd = sandbox, stdout/stderr appended to the sandbox's
/// files, `env` replacing the agent's environment when `clear_env`.
pub fn spawn(
    mut cmd: std::process::Command,
    sandbox: &Path,
    env: &[(String, String)],
    clear_env: bool,
    creds: Option<Credentials>,
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
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(false);
    cmd.spawn()
}

/// Signals the process group `pid` leads (the executor and everything it started).
pub fn signal_group(pid: u32, kill: bool) {
    let signal = if kill { libc::SIGKILL } else { libc::SIGTERM };
    let Ok(pid) = i32::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pid, signal);
    }
}
