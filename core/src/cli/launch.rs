//! `remesos launch` (not listed in the usage): a custom executor's process entering its
//! container image, Mesos's `mesos-containerizer launch` with `--rootfs`
//! (src/slave/containerizer/mesos/launch.cpp). The agent starts it, as root, in the private
//! mount namespace where it bound the sandbox, the volumes and the host's network files into
//! the provisioned rootfs (agent/containerizer/linux.rs); it then
//!
//! ```text
//! chown the sandbox to the user; unshare(NEWNS); /proc /sys /dev; pivot_root (common/rootfs.rs)
//! setgroups, setgid, setuid (the user from the image's /etc/passwd)
//! execvp the executor's command (the image's Entrypoint/Cmd applied by the agent)
//! ```
//!
//! and so becomes the executor: same pid, which the agent watches and checkpoints. The
//! image's `Env` (`--task_environment`) is set under what the agent gave, except that it
//! does not replace the agent's `MESOS_*` and `LIBPROCESS_*` variables; the command's own
//! `environment` is set over both. No thread is started before the exec: entering the
//! rootfs needs a single-threaded process.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

use remesos_proto::v1;

use crate::common::rootfs::{Rootfs, lookup_user};
use crate::executor::command::{argv, overlay_environment};
use crate::flags::{Flag, Flags};

fn flags() -> Flags {
    Flags::new("remesos launch")
        .flag(Flag::path(
            "rootfs",
            "The container's provisioned root filesystem",
        ))
        .flag(Flag::path(
            "sandbox_directory",
            "The sandbox path inside the container (bound there by the agent)",
        ))
        .flag(Flag::path(
            "working_directory",
            "The working directory inside the container",
        ))
        .flag(Flag::string(
            "user",
            "The user the executor runs as (from the image's /etc/passwd)",
        ))
        .flag(Flag::string("command", "JSON CommandInfo of the executor"))
        .flag(Flag::string(
            "task_command",
            "JSON CommandInfo that replaces --command (the image's Entrypoint and Cmd)",
        ))
        .flag(Flag::string(
            "task_environment",
            "JSON Environment of the image, set under the agent's",
        ))
}

pub fn main(args: &[String]) -> ExitCode {
    // The flags come from the agent's command line only.
    let loaded = match super::load_flags(&flags(), args, &[]) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let error = match launch(&loaded) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    eprintln!("Failed to launch the executor in its container: {error}");
    ExitCode::from(1)
}

fn json<T: prost::Message + prost::Name + Default>(
    loaded: &crate::flags::LoadedFlags,
    name: &str,
) -> Result<Option<T>, String> {
    loaded
        .get_str(name)
        .map(|text| {
            remesos_proto::json::from_slice(text.as_bytes())
                .map_err(|e| format!("failed to parse --{name}: {e}"))
        })
        .transpose()
}

/// Enters the rootfs and execs the command; returns only on failure.
fn launch(loaded: &crate::flags::LoadedFlags) -> Result<std::convert::Infallible, String> {
    let rootfs = loaded
        .get_str("rootfs")
        .map(PathBuf::from)
        .ok_or("missing --rootfs")?;
    let working_directory = loaded
        .get_str("working_directory")
        .or(loaded.get_str("sandbox_directory"))
        .map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let command: v1::CommandInfo = json(loaded, "task_command")?
        .or(json(loaded, "command")?)
        .ok_or("missing --command")?;
    let image_environment: Option<v1::Environment> = json(loaded, "task_environment")?;
    let (program, arg0, args) =
        argv(&command).map_err(|what| format!("{what} is not specified"))?;

    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    if let Some(image) = &image_environment {
        let mut from_image = BTreeMap::new();
        overlay_environment(&mut from_image, image);
        for (name, value) in from_image {
            if !name.starts_with("MESOS_") && !name.starts_with("LIBPROCESS_") {
                env.insert(name, value);
            }
        }
    }
    if let Some(own) = &command.environment {
        overlay_environment(&mut env, own);
    }

    let enter = Rootfs::new(&rootfs, &working_directory)?;
    let user = match loaded.get_str("user").filter(|u| !u.is_empty()) {
        Some(user) => Some(lookup_user(&rootfs, user)?),
        None => None,
    };
    if let Some((uid, gid, _)) = &user {
        // The sandbox (this process's working directory) is the user's, as Mesos's
        // launcher leaves it for an executor in an image.
        std::os::unix::fs::chown(".", Some(*uid), Some(*gid))
            .map_err(|e| format!("Failed to chown the sandbox to the executor's user: {e}"))?;
    }
    // SAFETY: `remesos launch` has started no thread (flags parsed, files read, nothing
    // else), so this process is as single-threaded as the forked child `enter` expects.
    unsafe { enter.enter() }.map_err(|e| format!("Failed to enter the rootfs: {e}"))?;
    if let Some((uid, gid, groups)) = &user {
        // SAFETY: plain system calls on ids looked up above.
        let failed = unsafe {
            libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                || libc::setgid(*gid) != 0
                || libc::setuid(*uid) != 0
        };
        if failed {
            return Err(format!(
                "Failed to switch to uid {uid}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    #[allow(
        clippy::disallowed_methods,
        reason = "the launch helper execs the executor, as Mesos's mesos-containerizer launch"
    )]
    let error = std::process::Command::new(&program)
        .arg0(&arg0)
        .args(&args)
        .env_clear()
        .envs(env)
        .exec();
    Err(format!("'{program}': {error}"))
}
