//! `--systemd_enable_support`: executors leave the agent's systemd unit, so restarting the
//! agent's service (`systemctl restart mesos-agent`) does not kill them. Mesos's
//! `src/linux/systemd.cpp` (`systemd::initialize`, `systemd::exists`,
//! `systemd::mesos::extendLifetime`) and `src/slave/main.cpp`:
//!
//! - systemd counts as present when `/sbin/init` resolves to a binary whose `--version`
//!   starts with `systemd <number>` (Mesos's test) and pid 1 is systemd (ours, see
//!   [`exists`]). Without it the flag is ignored, as in Mesos
//!   (`if (flags.systemd_enable_support && systemd::exists())`): there is no unit to leave.
//! - At start the agent makes sure the slice `mesos_executors.slice` exists: the unit file
//!   `<--systemd_runtime_directory>/mesos_executors.slice` is written if missing (never
//!   overwritten: operators may tune it), `systemctl start mesos_executors.slice` runs, and the
//!   slice's cgroup must then exist. A missing runtime directory or a failure stops the agent
//!   ("Failed to initialize systemd: ...").
//! - Each executor is moved into the slice's cgroup between fork and exec (Mesos's
//!   `EXTEND_LIFETIME` parent hook): its pid is written to the slice's `cgroup.procs`, in the
//!   named `systemd` hierarchy under cgroups v1 (`/sys/fs/cgroup/systemd/mesos_executors.slice`)
//!   or the unified one under v2 (`/sys/fs/cgroup/mesos_executors.slice`), before the
//!   isolators' cgroups (so under v2 an isolated executor ends in its own cgroup under
//!   `--cgroups_root`, which is outside the agent's unit too).
//!
//! The companions started with an executor (its container loggers) join the slice the same
//! way, since they must outlive the agent as well. Tested over a fake cgroup tree (this
//! module's unit tests); the machines CI runs on have no systemd as pid 1.

use std::path::{Path, PathBuf};

/// Mesos's `MESOS_EXECUTORS_SLICE`.
pub const EXECUTORS_SLICE: &str = "mesos_executors.slice";
/// Mesos's `--systemd_runtime_directory` default.
pub const DEFAULT_RUNTIME_DIRECTORY: &str = "/run/systemd/system";
/// Where the cgroup hierarchies are mounted (Mesos's `--cgroups_hierarchy` default).
pub const CGROUPS_ROOT: &str = "/sys/fs/cgroup";

/// Why systemd support could not be set up: the agent stops with it.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("Failed to initialize systemd: Failed to locate systemd runtime directory: {0}")]
    NoRuntimeDirectory(String),
    #[error(
        "Failed to initialize systemd: Failed to create systemd slice '{EXECUTORS_SLICE}': {0}"
    )]
    CreateSlice(String),
    #[error("Failed to initialize systemd: Failed to start '{EXECUTORS_SLICE}': {0}")]
    StartSlice(String),
    #[error("Failed to initialize systemd: Failed to locate systemd cgroups hierarchy: {0}")]
    NoHierarchy(String),
}

/// Whether systemd is the init system: Mesos's `systemd::exists` (`/sbin/init`'s `--version`
/// output starts with `systemd <version>`) and, beyond it, systemd actually running as pid 1
/// (`/proc/1/comm`): a container image with systemd installed but another init would
/// otherwise stop the agent at start for want of `/run/systemd/system`.
pub fn exists() -> bool {
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    if pid1.trim() != "systemd" {
        return false;
    }
    let Ok(init) = std::fs::canonicalize("/sbin/init") else {
        return false;
    };
    if init.file_name().is_none_or(|n| n != "systemd") {
        // Not systemd; running an unknown init with --version is not worth the risk.
        return false;
    }
    #[allow(
        clippy::disallowed_methods,
        reason = "systemd's version comes from running it, as Mesos does"
    )]
    let output = std::process::Command::new(&init)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output();
    output.is_ok_and(|o| is_systemd_version(&String::from_utf8_lossy(&o.stdout)))
}

/// `systemd 252 (252.6-1)` and the like.
fn is_systemd_version(text: &str) -> bool {
    let mut words = text.split_whitespace();
    words.next() == Some("systemd") && words.next().is_some_and(|v| v.parse::<u32>().is_ok())
}

/// The slice's `cgroup.procs` under the cgroup mount `cgroups_root`: the named `systemd`
/// hierarchy's under cgroups v1, the unified hierarchy's under v2.
pub fn slice_procs(cgroups_root: &Path) -> PathBuf {
    let v1 = cgroups_root.join("systemd");
    let base = if v1.join("cgroup.procs").exists() {
        v1
    } else {
        cgroups_root.to_path_buf()
    };
    base.join(EXECUTORS_SLICE).join("cgroup.procs")
}

/// Mesos's `systemd::initialize`: makes sure the slice exists and runs, and returns the
/// `cgroup.procs` file executors are moved into. `start` starts a unit by name (`systemctl
/// start`); passed in so the logic can be tested over a fake tree.
pub fn initialize(
    runtime_directory: &Path,
    cgroups_root: &Path,
    start: impl FnOnce(&str) -> Result<(), String>,
) -> Result<PathBuf, SystemdError> {
    if !runtime_directory.is_dir() {
        return Err(SystemdError::NoRuntimeDirectory(
            runtime_directory.display().to_string(),
        ));
    }
    let unit = runtime_directory.join(EXECUTORS_SLICE);
    if !unit.exists() {
        std::fs::write(&unit, "[Unit]\nDescription=Mesos Executors Slice\n")
            .map_err(|e| SystemdError::CreateSlice(e.to_string()))?;
    }
    start(EXECUTORS_SLICE).map_err(SystemdError::StartSlice)?;
    let procs = slice_procs(cgroups_root);
    if !procs.exists() {
        return Err(SystemdError::NoHierarchy(format!(
            "'{}' does not exist",
            procs.display()
        )));
    }
    Ok(procs)
}

/// `systemctl daemon-reload` (the unit may be new) and `systemctl start <unit>`.
pub fn systemctl_start(unit: &str) -> Result<(), String> {
    for args in [&["daemon-reload"][..], &["start", unit][..]] {
        #[allow(
            clippy::disallowed_methods,
            reason = "systemd is driven through systemctl, as Mesos does"
        )]
        let output = std::process::Command::new("systemctl")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("Failed to run systemctl: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "systemctl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// The agent's systemd setting: `Some(procs)` when executors are moved into the slice.
/// `enable` is `--systemd_enable_support`; without systemd it is ignored, as in Mesos.
pub fn from_flags(enable: bool, runtime_directory: &Path) -> Result<Option<PathBuf>, SystemdError> {
    if !enable || !exists() {
        if enable {
            tracing::info!(
                "systemd is not the init system: --systemd_enable_support has nothing to do"
            );
        }
        return Ok(None);
    }
    tracing::info!("Initializing systemd state");
    initialize(runtime_directory, Path::new(CGROUPS_ROOT), systemctl_start).map(Some)
}

/// Opens the slice's `cgroup.procs` for writing, for a launch: the child writes `0` (itself)
/// to it between fork and exec, as it does for the isolators' cgroups.
pub fn open_procs(procs: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).open(procs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("systemd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_slice_is_created_once_started_and_its_cgroup_found_v1_and_v2() {
        for v1 in [true, false] {
            let root = tree(if v1 { "v1" } else { "v2" });
            let runtime = root.join("run/systemd/system");
            std::fs::create_dir_all(&runtime).unwrap();
            let cgroups = root.join("sys/fs/cgroup");
            let hierarchy = if v1 {
                cgroups.join("systemd")
            } else {
                cgroups.clone()
            };
            std::fs::create_dir_all(&hierarchy).unwrap();
            std::fs::write(hierarchy.join("cgroup.procs"), "").unwrap();
            // systemd makes the slice's cgroup when it starts the slice.
            let mut started = Vec::new();
            let procs = initialize(&runtime, &cgroups, |unit| {
                started.push(unit.to_string());
                std::fs::create_dir_all(hierarchy.join(EXECUTORS_SLICE)).unwrap();
                std::fs::write(hierarchy.join(EXECUTORS_SLICE).join("cgroup.procs"), "").unwrap();
                Ok(())
            })
            .unwrap();
            assert_eq!(started, [EXECUTORS_SLICE]);
            assert_eq!(procs, hierarchy.join(EXECUTORS_SLICE).join("cgroup.procs"));
            let unit = std::fs::read_to_string(runtime.join(EXECUTORS_SLICE)).unwrap();
            assert_eq!(unit, "[Unit]\nDescription=Mesos Executors Slice\n");
            // An operator's own unit file is kept.
            std::fs::write(runtime.join(EXECUTORS_SLICE), "[Unit]\nDescription=mine\n").unwrap();
            initialize(&runtime, &cgroups, |_| Ok(())).unwrap();
            assert!(
                std::fs::read_to_string(runtime.join(EXECUTORS_SLICE))
                    .unwrap()
                    .contains("mine")
            );
            // Moving a process: its pid written to the slice's cgroup.procs.
            use std::io::Write;
            open_procs(&procs).unwrap().write_all(b"4242").unwrap();
            assert_eq!(std::fs::read_to_string(&procs).unwrap(), "4242");
            let _ = std::fs::remove_dir_all(&root);
        }
    }

    #[test]
    fn a_missing_runtime_directory_or_slice_cgroup_stops_the_agent() {
        let root = tree("missing");
        let missing = initialize(&root.join("nope"), &root, |_| Ok(()));
        assert!(matches!(missing, Err(SystemdError::NoRuntimeDirectory(_))));
        let no_cgroup = initialize(&root, &root.join("cgroup"), |_| Ok(()));
        assert!(matches!(no_cgroup, Err(SystemdError::NoHierarchy(_))));
        let failed = initialize(&root, &root, |_| Err("no bus".to_string()));
        assert!(matches!(failed, Err(SystemdError::StartSlice(_))));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn systemd_is_recognised_by_its_version_line() {
        assert!(is_systemd_version(
            "systemd 252 (252.22-1~deb12u1)\n+PAM +AUDIT"
        ));
        assert!(!is_systemd_version("init (upstart 1.5)"));
        assert!(!is_systemd_version("systemd"));
        assert!(!is_systemd_version(""));
    }
}
