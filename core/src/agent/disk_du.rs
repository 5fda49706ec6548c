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
//! with several links once. The tree belongs to the task, which may change it while it is
//! walked: every directory is opened *relative to its parent's descriptor* with
//! `O_NOFOLLOW|O_DIRECTORY` and every entry is `fstatat(AT_SYMLINK_NOFOLLOW)`ed there, so a
//! directory swapped for a symlink between the listing and the open is refused, not
//! followed, and nothing outside the starting directory is ever opened. A volume is walked
//! from its own directory (`<work_dir>/volumes/roles/<role>/<id>`, as Mesos does), never
//! through the sandbox's link or mount point.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
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
/// the sandbox when any `disk` has no volume, and each persistent volume's directory under
/// `work_dir`.
pub fn watched_paths(
    container_id: &str,
    sandbox: &Path,
    work_dir: &Path,
    resources: &[v1::Resource],
) -> Vec<WatchedPath> {
    let mut sandbox_quota: Option<(u64, bool)> = None;
    // Each volume with where it appears in the sandbox (left out of the sandbox's count).
    let mut volumes: Vec<(WatchedPath, PathBuf)> = Vec::new();
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
                let Ok(path) = super::volumes::volume_path(work_dir, r) else {
                    continue;
                };
                if volumes.iter().any(|(v, _)| v.path == path) {
                    continue;
                }
                let in_sandbox = sandbox.join(relative);
                volumes.push((
                    WatchedPath {
                        container_id: container_id.to_string(),
                        path,
                        excludes: Vec::new(),
                        quota_bytes: bytes,
                        mount,
                        persistence: r.disk.as_ref().and_then(|d| d.persistence.clone()),
                    },
                    in_sandbox,
                ));
            }
        }
    }
    let mut paths = Vec::new();
    if let Some((quota_bytes, mount)) = sandbox_quota {
        paths.push(WatchedPath {
            container_id: container_id.to_string(),
            path: sandbox.to_path_buf(),
            excludes: volumes.iter().map(|(_, p)| p.clone()).collect(),
            quota_bytes,
            mount,
            persistence: None,
        });
    }
    paths.extend(volumes.into_iter().map(|(v, _)| v));
    paths
}

/// What `du -k -s -x` counts under `root` (in bytes), leaving out `excludes`. A path that
/// vanishes or changes during the walk (a task deleting files, or swapping a directory for
/// a symlink) is skipped; only an unreadable `root` is an error. `root` itself is not
/// followed if it is a symlink (an error: it is not a directory).
pub fn usage(root: &Path, excludes: &[PathBuf]) -> std::io::Result<u64> {
    walk(root, excludes, &mut |_| {})
}

/// [`usage`], calling `before_open` with each subdirectory's path after it was stat'ed and
/// before it is opened: where a test swaps it, as a task could.
fn walk(
    root: &Path,
    excludes: &[PathBuf],
    before_open: &mut dyn FnMut(&Path),
) -> std::io::Result<u64> {
    let top = open_dir_at(rustix::fs::CWD, root.as_os_str())?;
    let stat = rustix::fs::fstat(&top)?;
    let device = stat.st_dev;
    let mut seen_links: HashSet<(u64, u64)> = HashSet::new();
    let mut total = blocks_bytes(&stat);
    // Each pending directory: its descriptor (opened beneath its parent's) and its path,
    // kept only to compare with `excludes`.
    let mut pending: Vec<(OwnedFd, PathBuf)> = vec![(top, root.to_path_buf())];
    while let Some((dir, path)) = pending.pop() {
        for name in entry_names(&dir) {
            let child = path.join(&name);
            if excludes.iter().any(|e| e == &child) {
                continue;
            }
            let Ok(meta) = rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
            else {
                continue;
            };
            if meta.st_dev != device {
                continue;
            }
            let is_dir = FileType::from_raw_mode(meta.st_mode) == FileType::Directory;
            if meta.st_nlink > 1 && !is_dir && !seen_links.insert((meta.st_dev, meta.st_ino)) {
                continue;
            }
            if !is_dir {
                total += blocks_bytes(&meta);
                continue;
            }
            // Opened without following a symlink: what was a directory when it was stat'ed
            // and is a symlink now fails here (ELOOP/ENOTDIR) and is skipped. Counted from
            // the open descriptor, so what is counted is what is walked.
            before_open(&child);
            let Ok(sub) = open_dir_at(&dir, name.as_os_str()) else {
                continue;
            };
            let Ok(opened) = rustix::fs::fstat(&sub) else {
                continue;
            };
            if opened.st_dev != device {
                continue;
            }
            total += blocks_bytes(&opened);
            pending.push((sub, child));
        }
    }
    Ok(total)
}

fn blocks_bytes(stat: &rustix::fs::Stat) -> u64 {
    u64::try_from(stat.st_blocks)
        .unwrap_or(0)
        .saturating_mul(512)
}

/// `name` in `dir` as a directory, never through a symlink in its last component (`name`
/// is one component: an entry of `dir`, or the walk's root).
fn open_dir_at<Fd: std::os::fd::AsFd>(dir: Fd, name: &OsStr) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The names in the open directory `dir` (not `.` and `..`); an unreadable one has none.
fn entry_names(dir: &OwnedFd) -> Vec<OsString> {
    // A second descriptor for the listing, so `dir` stays usable for `*at` calls.
    let Ok(listing) = open_dir_at(dir, OsStr::new(".")) else {
        return Vec::new();
    };
    let Ok(entries) = rustix::fs::Dir::new(listing) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect()
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
            reservations: vec![v1::resource::ReservationInfo {
                r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
                role: Some("r".into()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_sandbox_and_each_volume_are_watched_with_their_own_quota() {
        let sandbox = Path::new("/s");
        let work_dir = Path::new("/w");
        let paths = watched_paths(
            "c",
            sandbox,
            work_dir,
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
        // The volume is walked from its own directory, not through the sandbox's link.
        assert_eq!(paths[1].path, Path::new("/w/volumes/roles/r/v"));
        assert_eq!(paths[1].quota_bytes, 5 << 20);
        assert_eq!(paths[1].persistence.as_ref().unwrap().id, "v");
        // No disk at all: nothing to watch; a volume path that climbs out, or a path-like
        // persistence id: not watched.
        assert!(watched_paths("c", sandbox, work_dir, &[]).is_empty());
        for bad in [
            ("v", "../x"),
            ("v", "/etc"),
            ("..", "data"),
            ("a/b", "data"),
        ] {
            assert!(
                watched_paths("c", sandbox, work_dir, &[disk(1.0, Some(bad))]).is_empty(),
                "{bad:?}"
            );
        }
    }

    /// A task swaps a subdirectory of its sandbox for a symlink to a big directory outside
    /// between the walk's listing and its descent: the walk refuses the symlink (O_NOFOLLOW
    /// on the parent's descriptor) and counts nothing of what lies outside. A walk by path
    /// (`read_dir` on the joined path) would follow it.
    #[test]
    fn a_directory_swapped_for_a_symlink_mid_walk_is_not_followed() {
        let dir = std::env::temp_dir().join(format!(
            "remesos-disk-du-swap-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let sandbox = dir.join("sandbox");
        let outside = dir.join("outside");
        std::fs::create_dir_all(sandbox.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("big"), vec![1u8; 4 << 20]).unwrap();
        let before = usage(&sandbox, &[]).unwrap();
        let mut swapped = 0;
        let used = walk(&sandbox, &[], &mut |path| {
            if path == sandbox.join("sub") {
                std::fs::remove_dir(path).unwrap();
                std::os::unix::fs::symlink(&outside, path).unwrap();
                swapped += 1;
            }
        })
        .unwrap();
        assert_eq!(swapped, 1);
        assert!(
            used < before + (1 << 20),
            "counted outside: {used} vs {before}"
        );
        // Once swapped, a fresh walk sees a symlink and does not follow it either; the
        // outside directory itself measures its 4 MiB (the fixture is real).
        assert!(usage(&sandbox, &[]).unwrap() < before + (1 << 20));
        assert!(usage(&outside, &[]).unwrap() >= 4 << 20);
        // The root itself is not followed when it is a symlink.
        assert!(usage(&sandbox.join("sub"), &[]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
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
