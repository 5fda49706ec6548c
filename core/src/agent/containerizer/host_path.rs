//! `--host_path_volume_force_creation`: the host directories under which a missing
//! host_path volume source is created instead of failing the launch — Mesos's
//! `volume/host_path` isolator with its `PathValidator`
//! (src/slave/containerizer/mesos/isolators/volume/host_path.cpp, volume/utils.cpp).
//!
//! The flag is a colon-separated list of absolute directories. A missing host path equal to
//! one of them, or below one, is created as a directory (Mesos "always assumes the
//! non-existing host path as a directory"), owned by the agent's user with mode 0755 as
//! Mesos's `os::mkdir` leaves it; any other missing host path fails the launch as before.
//! Both containerizers apply it: the mesos containerizer's image tasks and the docker
//! containerizer, whose missing host paths remesos refuses rather than let dockerd create
//! them (Mesos leaves that to dockerd).
//!
//! Beyond Mesos: the path may not contain `..` (Mesos normalises it lexically, which lets a
//! path leave the listed directory only through `..`), an empty entry stops the agent (in
//! Mesos an empty entry matches every path), and below the listed directory no symlink is
//! followed while creating, so a link planted inside it cannot make the agent create
//! directories elsewhere.

use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};

/// The parsed flag: the directories under which host paths may be created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForceCreation {
    allowed: Vec<PathBuf>,
}

impl ForceCreation {
    /// Parses the flag's value; an error stops the agent.
    pub fn parse(value: &str) -> Result<ForceCreation, String> {
        let mut allowed = Vec::new();
        for entry in value.split(':') {
            let path = Path::new(entry);
            if entry.is_empty() || !path.is_absolute() || climbs(path) {
                return Err(format!(
                    "invalid --host_path_volume_force_creation entry '{}': expected \
                     colon-separated absolute directories without '..'",
                    entry.escape_debug()
                ));
            }
            allowed.push(path.components().collect());
        }
        Ok(ForceCreation { allowed })
    }

    /// The flag's validator: a bad value stops the agent even when no containerizer reads it.
    pub fn validate_flag(value: &crate::flags::FlagValue) -> Result<(), String> {
        match value {
            crate::flags::FlagValue::Str(text) => ForceCreation::parse(text).map(drop),
            _ => Ok(()),
        }
    }

    /// The listed directory `path` is or is under (compared by components, so `/data` does
    /// not admit `/database`).
    fn root_of(&self, path: &Path) -> Option<&Path> {
        self.allowed
            .iter()
            .filter(|root| path.starts_with(root))
            .max_by_key(|root| root.components().count())
            .map(PathBuf::as_path)
    }

    /// Makes sure the host path of a volume exists: it exists, or it is created because the
    /// flag lists a directory it is under. The error is the task's message: `missing` is
    /// the containerizer's own text for a missing path that is not created.
    pub fn ensure(&self, host_path: &Path, missing: impl FnOnce() -> String) -> Result<(), String> {
        if host_path.exists() {
            return Ok(());
        }
        let shown = host_path.display();
        if !host_path.is_absolute() || climbs(host_path) {
            return Err(missing());
        }
        let normalized: PathBuf = host_path.components().collect();
        let Some(root) = self.root_of(&normalized) else {
            if self.allowed.is_empty() {
                return Err(missing());
            }
            return Err(format!(
                "{} (it is not under a directory of --host_path_volume_force_creation, so it is \
                 not created)",
                missing()
            ));
        };
        // The listed directory is the operator's: made as given (following its symlinks).
        std::fs::create_dir_all(root)
            .map_err(|e| format!("Failed to create the host path at '{shown}': {e}"))?;
        let dir = std::fs::File::open(root)
            .map_err(|e| format!("Failed to create the host path at '{shown}': {e}"))?;
        let rest = normalized.strip_prefix(root).unwrap_or(Path::new(""));
        super::linux::make_dirs_owned(dir.as_fd(), rest, None)
            .map_err(|e| format!("Failed to create the host path at '{shown}': {e}"))?;
        tracing::info!(host_path = %shown, "created a missing host_path volume source (--host_path_volume_force_creation)");
        Ok(())
    }
}

/// Whether a path has a `..` component.
fn climbs(path: &Path) -> bool {
    path.components().any(|c| matches!(c, Component::ParentDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_must_be_absolute_without_dots_and_none_empty() {
        assert!(ForceCreation::parse("/data:/srv/x").is_ok());
        for bad in ["", "/data:", "data", "/data/../etc", "/a::/b"] {
            assert!(ForceCreation::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_path_is_admitted_at_or_below_a_listed_directory_by_components() {
        let f = ForceCreation::parse("/data:/srv//x/").unwrap();
        assert!(f.root_of(Path::new("/data")).is_some());
        assert!(f.root_of(Path::new("/data/a/b")).is_some());
        assert!(f.root_of(Path::new("/srv/x/y")).is_some());
        assert!(f.root_of(Path::new("/database")).is_none());
        assert!(f.root_of(Path::new("/srv")).is_none());
    }

    #[test]
    fn missing_paths_are_created_only_under_listed_directories_and_not_through_symlinks() {
        let base = std::env::temp_dir().join(format!("remesos-hostpath-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("outside")).unwrap();
        let allowed = base.join("allowed");
        let f = ForceCreation::parse(allowed.to_str().unwrap()).unwrap();
        let missing = || "missing".to_string();
        // Created below the listed directory, the directory itself too.
        f.ensure(&allowed.join("a/b"), missing).unwrap();
        assert!(allowed.join("a/b").is_dir());
        // Not under it: the containerizer's message, saying why it was not created.
        let e = f.ensure(&base.join("other/x"), missing).unwrap_err();
        assert!(e.starts_with("missing (it is not under"), "{e}");
        assert!(!base.join("other").exists());
        // Without the flag: the message alone.
        let e = ForceCreation::default().ensure(&base.join("other/x"), missing);
        assert_eq!(e.unwrap_err(), "missing");
        // A symlink planted below the listed directory is not followed.
        std::os::unix::fs::symlink(base.join("outside"), allowed.join("link")).unwrap();
        assert!(f.ensure(&allowed.join("link/evil"), missing).is_err());
        assert!(!base.join("outside/evil").exists());
        // `..` never creates anything.
        let e = f.ensure(&allowed.join("../escaped"), missing).unwrap_err();
        assert_eq!(e, "missing");
        assert!(!base.join("escaped").exists());
        let _ = std::fs::remove_dir_all(&base);
    }
}
