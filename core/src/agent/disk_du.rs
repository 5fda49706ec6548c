//! The `disk/du` isolator (Mesos's `posix/disk`,
//! src/slave/containerizer/mesos/isolators/posix/disk.cpp): a container's disk use, measured
//! every `--container_disk_watch_interval` (default 15 s) per *path* — its sandbox, whose
//! quota is the container's `disk` without a volume, and each persistent volume it uses, whose
//! quota is the volume's size. The sandbox's count leaves out the volumes inside it, as
//! Mesos's `du --exclude` does. With `--enforce_container_disk_quota` a path over its quota
//! limits the container: it is destroyed and its unfinished tasks fail with
//! `REASON_CONTAINER_LIMITATION_DISK` and Mesos's message `Disk usage (…) exceeds quota (…)`.
//! Without it the usage is only reported (`/monitor/statistics`: `disk_limit_bytes`,
//! `disk_used_bytes`, and `disk_statistics` per volume). A path of a `MOUNT` disk is never
//! enforced (its filesystem is its quota), as in Mesos.
//!
//! ```text
//! runtime tick ──► Agent::disk_watch (the live non-docker containers' paths and quotas)
//!              ──► usage() of each path, off the actor (a blocking walk)
//!              ──► Agent::container_disk_usage: remembered for statistics; over quota and
//!                  enforced ──► Agent::container_limited (destroy, tasks TASK_FAILED)
//! ```
//!
//! The walk counts allocated blocks (`st_blocks`, as `du` does), never follows a symlink and
//! stays on the path's filesystem (`du -x`: a bind mount of another filesystem, e.g. a
//! volume or the host's `/proc` in an image container, is not counted), and counts a file
//! with several links once.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use remesos_proto::v1;

use crate::duration::format_bytes;

/// Mesos's default `--container_disk_watch_interval`.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(15);

/// `disk/du`'s flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskDu {
    /// `--container_disk_watch_interval`.
    pub watch_interval: Duration,
    /// `--enforce_container_disk_quota`.
    pub enforce_quota: bool,
}

impl Default for DiskDu {
    fn default() -> Self {
        DiskDu {
            watch_interval: DEFAULT_WATCH_INTERVAL,
            enforce_quota: false,
        }
    }
}

/// One path of a container whose use is measured.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchedPath {
    pub container_id: String,
    pub path: PathBuf,
    /// Paths inside `path` that are counted on their own (the volumes inside a sandbox).
    pub excludes: Vec<PathBuf>,
    pub quota_bytes: u64,
    /// A `MOUNT` disk: reported, never enforced.
    pub mount: bool,
    /// The persistent volume's id; `None` for the sandbox.
    pub persistence: Option<v1::resource::disk_info::Persistence>,
}

/// The paths of a container with `sandbox` and `resources` (its executor's and tasks'):
/// the sandbox when any `disk` has no volume, and each persistent volume.
pub fn watched_paths(
    container_id: &str,
    sandbox: &Path,
    resources: &[v1::Resource],
) -> Vec<WatchedPath> {
    let mut sandbox_quota: Option<(u64, bool)> = None;
    let mut volumes: Vec<WatchedPath> = Vec::new();
    for r in resources.iter().filter(|r| r.name == "disk") {
        let bytes = (r.scalar.as_ref().map_or(0.0, |s| s.value).max(0.0) * 1024.0 * 1024.0) as u64;
        let mount = r
            .disk
            .as_ref()
            .and_then(|d| d.source.as_ref())
            .is_some_and(|s| s.r#type == v1::resource::disk_info::source::Type::Mount as i32);
        let volume = r.disk.as_ref().and_then(|d| d.volume.as_ref());
        match volume {
            None => {
                let (total, any_mount) = sandbox_quota.unwrap_or((0, false));
                sandbox_quota = Some((total + bytes, any_mount || mount));
            }
            Some(volume) => {
                // Paths are checked where volumes are mounted (volumes.rs); one that climbs
                // out of the sandbox is not measured here either.
                let relative = Path::new(&volume.container_path);
                if relative.is_absolute()
                    || relative
                        .components()
                        .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    continue;
                }
                let path = sandbox.join(relative);
                if volumes.iter().any(|v| v.path == path) {
                    continue;
                }
                volumes.push(WatchedPath {
                    container_id: container_id.to_string(),
                    path,
                    excludes: Vec::new(),
                    quota_bytes: bytes,
                    mount,
                    persistence: r.disk.as_ref().and_then(|d| d.persistence.clone()),
                });
            }
        }
    }
    let mut paths = Vec::new();
    if let Some((quota_bytes, mount)) = sandbox_quota {
        paths.push(WatchedPath {
            container_id: container_id.to_string(),
            path: sandbox.to_path_buf(),
            excludes: volumes.iter().map(|v| v.path.clone()).collect(),
            quota_bytes,
            mount,
            persistence: None,
        });
    }
    paths.extend(volumes);
    paths
}

/// What `du -k -s -x` counts under `root` (in bytes), leaving out `excludes`. A path that
/// vanishes during the walk (a task deleting files) is skipped; only an unreadable `root`
/// is an error.
pub fn usage(root: &Path, excludes: &[PathBuf]) -> std::io::Result<u64> {
    let top = std::fs::symlink_metadata(root)?;
    let device = top.dev();
    let mut seen_links: HashSet<(u64, u64)> = HashSet::new();
    let mut total = top.blocks() * 512;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if excludes.iter().any(|e| e == &path) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.dev() != device {
                continue;
            }
            if meta.nlink() > 1 && !meta.is_dir() && !seen_links.insert((meta.dev(), meta.ino())) {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(total)
}

/// Mesos's limitation message.
pub fn exceeded_message(used_bytes: u64, quota_bytes: u64) -> String {
    format!(
        "Disk usage ({}) exceeds quota ({})",
        format_bytes(used_bytes),
        format_bytes(quota_bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(mb: f64, volume: Option<(&str, &str)>) -> v1::Resource {
        v1::Resource {
            name: "disk".into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value: mb }),
            disk: volume.map(|(id, path)| v1::resource::DiskInfo {
                persistence: Some(v1::resource::disk_info::Persistence {
                    id: id.into(),
                    ..Default::default()
                }),
                volume: Some(v1::Volume {
                    container_path: path.into(),
                    mode: v1::volume::Mode::Rw as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_sandbox_and_each_volume_are_watched_with_their_own_quota() {
        let sandbox = Path::new("/s");
        let paths = watched_paths(
            "c",
            sandbox,
            &[
                disk(2.0, None),
                disk(3.0, None),
                disk(5.0, Some(("v", "data"))),
            ],
        );
        assert_eq!(paths.len(), 2);
        assert_eq!(paths[0].path, sandbox);
        assert_eq!(paths[0].quota_bytes, 5 << 20);
        assert_eq!(paths[0].excludes, vec![PathBuf::from("/s/data")]);
        assert_eq!(paths[1].path, Path::new("/s/data"));
        assert_eq!(paths[1].quota_bytes, 5 << 20);
        assert_eq!(paths[1].persistence.as_ref().unwrap().id, "v");
        // No disk at all: nothing to watch; a volume path that climbs out: not watched.
        assert!(watched_paths("c", sandbox, &[]).is_empty());
        assert!(watched_paths("c", sandbox, &[disk(1.0, Some(("v", "../x")))]).is_empty());
    }

    #[test]
    fn usage_counts_blocks_once_and_leaves_out_excludes_and_symlinks() {
        let dir = std::env::temp_dir().join(format!("remesos-disk-du-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::create_dir_all(dir.join("volume")).unwrap();
        let excludes = [dir.join("volume")];
        let empty = usage(&dir, &excludes).unwrap();
        std::fs::write(dir.join("sub/a"), vec![1u8; 1 << 20]).unwrap();
        std::fs::hard_link(dir.join("sub/a"), dir.join("b")).unwrap();
        std::fs::write(dir.join("volume/big"), vec![1u8; 2 << 20]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.join("link")).unwrap();
        let used = usage(&dir, &excludes).unwrap();
        // 1 MiB of data (the hard link counted once), give or take the filesystem's blocks.
        assert!(used >= empty + (1 << 20), "{used}");
        assert!(used < empty + (1 << 20) + (256 << 10), "{used}");
        assert!(usage(&dir, &[]).unwrap() >= used + (2 << 20));
        assert!(usage(&dir.join("missing"), &[]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_message_is_mesoss() {
        assert_eq!(
            exceeded_message(3 << 20, 1 << 20),
            "Disk usage (3MB) exceeds quota (1MB)"
        );
        assert_eq!(
            exceeded_message((3 << 20) + 5, 1 << 20),
            "Disk usage (3145733B) exceeds quota (1MB)"
        );
    }
}
