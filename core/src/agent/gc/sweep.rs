//! The runtime's half of garbage collection: the I/O behind [`super::super::Effect::Touch`]
//! and [`super::super::Effect::Remove`], and the disk usage the schedule is pruned by.
//!
//! A removal is in two steps, as Mesos's `GarbageCollectorProcess::remove` dispatches its
//! `rmdirs` off the actor (MESOS-6549, MESOS-7964):
//! 1. on the actor, in order with every other effect ([`Sweeper::take_out`]): the path is
//!    renamed into `<work_dir>/.gc/`, out of the layout. A launch the actor handles next into
//!    the same framework or executor (their names come back) creates fresh directories and
//!    can never have them deleted under it. A `runs/latest` link naming the removed run is
//!    removed with it, so no `latest` (work or `meta/`) dangles: recovery follows the
//!    `meta/` one.
//! 2. off the actor, one batch at a time ([`delete`]): mounts left beneath the path are
//!    unmounted first (Mesos MESOS-8830: a persistent volume's data must never be deleted
//!    through a dangling mount), then the tree is deleted without following symlinks
//!    (`std::fs::remove_dir_all` opens each directory relative to its parent, `O_NOFOLLOW`).
//!
//! `<work_dir>/.gc/` holds only garbage, in one directory per agent run: what an earlier
//! run (a crash) left there is deleted at the next start ([`empty_trash`]), beside this
//! run's own removals.

use std::path::{Path, PathBuf};

use super::collector::{Outcome, Removal};

/// The directory under the work_dir removals are renamed into.
pub const TRASH: &str = ".gc";

/// Renames removals out of the work_dir's layout (on the agent's actor).
#[derive(Debug)]
pub struct Sweeper {
    trash: PathBuf,
}

/// What is left to do off the actor for one batch of removals.
#[derive(Debug, Default)]
pub struct Batch {
    items: Vec<Item>,
}

#[derive(Debug)]
struct Item {
    /// The path as scheduled: what the outcome is reported for.
    path: PathBuf,
    /// Where it is now: in the trash, or still in place when it could not be renamed
    /// (another filesystem mounted inside the work_dir).
    now_at: PathBuf,
    /// Known already (it did not exist).
    outcome: Option<Outcome>,
}

impl Sweeper {
    pub fn new(work_dir: &Path) -> Sweeper {
        Sweeper {
            trash: work_dir
                .join(TRASH)
                .join(crate::common::id::ContainerId::random().as_str()),
        }
    }

    /// Where this run's removals are moved to.
    pub fn trash(&self) -> &Path {
        &self.trash
    }

    /// Step 1: takes each path out of the layout (see the module doc).
    pub fn take_out(&mut self, removals: &[Removal]) -> Batch {
        if let Err(e) = std::fs::create_dir_all(&self.trash) {
            tracing::warn!(path = %self.trash.display(), error = %e, "failed to create the gc directory; deleting in place");
        }
        let mut batch = Batch::default();
        for removal in removals {
            let path = &removal.path;
            unlink_latest(path);
            let to = self
                .trash
                .join(crate::common::id::ContainerId::random().as_str());
            let item = match std::fs::rename(path, &to) {
                Ok(()) => Item {
                    path: path.clone(),
                    now_at: to,
                    outcome: None,
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Item {
                    path: path.clone(),
                    now_at: path.clone(),
                    outcome: Some(Outcome::Missing),
                },
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot move out of the work_dir's layout; deleting in place");
                    Item {
                        path: path.clone(),
                        now_at: path.clone(),
                        outcome: None,
                    }
                }
            };
            batch.items.push(item);
        }
        batch
    }
}

/// Removes `<dir>/runs/latest` when `path` is `<dir>/runs/<run>` and the link names it.
fn unlink_latest(path: &Path) {
    let (Some(runs), Some(run)) = (path.parent(), path.file_name()) else {
        return;
    };
    if runs.file_name().is_none_or(|n| n != "runs") {
        return;
    }
    let latest = runs.join("latest");
    if std::fs::read_link(&latest).is_ok_and(|target| target.as_os_str() == run)
        && let Err(e) = std::fs::remove_file(&latest)
    {
        tracing::warn!(path = %latest.display(), error = %e, "failed to remove a link to a removed run");
    }
}

/// One batch at a time: Mesos runs its `rmdirs` on one executor so that deletions never
/// take every worker thread (MESOS-7964); here they never take both cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Step 2 (blocking): deletes what [`Sweeper::take_out`] moved; the outcome of each path.
pub fn delete(batch: Batch) -> Vec<(PathBuf, Outcome)> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mounts = mount_points();
    batch
        .items
        .into_iter()
        .map(|item| {
            if let Some(outcome) = item.outcome {
                return (item.path, outcome);
            }
            let outcome = match unmount_beneath(&item.now_at, &mounts) {
                Err(e) => Outcome::Failed(e),
                Ok(()) => match std::fs::remove_dir_all(&item.now_at) {
                    Ok(()) => Outcome::Removed,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Missing,
                    Err(e) => Outcome::Failed(e.to_string()),
                },
            };
            (item.path, outcome)
        })
        .collect()
}

/// Deletes what earlier runs left in `<work_dir>/.gc/`, all but `mine` (blocking).
pub fn empty_trash(work_dir: &Path, mine: &Path) {
    let trash = work_dir.join(TRASH);
    let Ok(entries) = std::fs::read_dir(&trash) else {
        return;
    };
    let items = entries
        .flatten()
        .filter(|e| e.path() != mine)
        .map(|e| Item {
            path: e.path(),
            now_at: e.path(),
            outcome: None,
        })
        .collect();
    for (path, outcome) in delete(Batch { items }) {
        if let Outcome::Failed(e) = outcome {
            tracing::warn!(path = %path.display(), error = %e, "failed to delete leftover garbage");
        }
    }
}

/// The mount points of this process's mount namespace, in mount order
/// (`/proc/self/mountinfo`'s fifth field, octal escapes decoded).
fn mount_points() -> Vec<PathBuf> {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return vec![];
    };
    table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape(field)))
        .collect()
}

/// `\040` and the like, as the kernel escapes space, tab, newline and backslash.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts (lazily, innermost first) every mount at or beneath `path`.
fn unmount_beneath(path: &Path, mounts: &[PathBuf]) -> Result<(), String> {
    for target in mounts.iter().rev().filter(|m| m.starts_with(path)) {
        tracing::warn!(mount = %target.display(), path = %path.display(), "unmounting a mount left inside a garbage-collected directory");
        rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH)
            .map_err(|e| format!("failed to unmount '{}': {e}", target.display()))?;
    }
    Ok(())
}

/// Sets `path`'s modification time to now, without following a symlink (Mesos's
/// `os::utime` before `garbageCollect`): the time its schedule counts from, also after a
/// restart.
pub fn touch(path: &Path) {
    let times = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
    };
    match rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    ) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "failed to touch"),
    }
}

/// The share of the work_dir's filesystem in use, 0..1 (stout's `fs::usage`:
/// `(f_blocks - f_bfree) / f_blocks`).
pub fn disk_usage(path: &Path) -> Result<f64, String> {
    let s = rustix::fs::statvfs(path)
        .map_err(|e| format!("Error invoking statvfs on '{}': {e}", path.display()))?;
    if s.f_blocks == 0 {
        return Err(format!(
            "'{}' has a filesystem of no blocks",
            path.display()
        ));
    }
    Ok(s.f_blocks.saturating_sub(s.f_bfree) as f64 / s.f_blocks as f64)
}

/// `path`'s modification time in seconds since the epoch (`None`: it does not exist). Read
/// at recovery, where the schedule is recomputed from it.
pub fn mtime(path: &Path) -> Option<f64> {
    let modified = std::fs::symlink_metadata(path).ok()?.modified().ok()?;
    Some(
        modified
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("remesos-sweep-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn removal(path: &Path) -> Removal {
        Removal {
            path: path.to_path_buf(),
            detach: vec![],
        }
    }

    #[test]
    fn a_removed_run_takes_the_latest_link_naming_it_and_only_that() {
        let wd = scratch("latest");
        let runs = wd.join("e1/runs");
        std::fs::create_dir_all(runs.join("c1")).unwrap();
        std::fs::create_dir_all(runs.join("c2")).unwrap();
        std::os::unix::fs::symlink("c2", runs.join("latest")).unwrap();
        let mut sweeper = Sweeper::new(&wd);
        // c1 is not latest: the link stays.
        let out = delete(sweeper.take_out(&[removal(&runs.join("c1"))]));
        assert_eq!(out, [(runs.join("c1"), Outcome::Removed)]);
        assert_eq!(
            std::fs::read_link(runs.join("latest")).unwrap(),
            Path::new("c2")
        );
        let out = delete(sweeper.take_out(&[removal(&runs.join("c2"))]));
        assert_eq!(out, [(runs.join("c2"), Outcome::Removed)]);
        assert!(std::fs::symlink_metadata(runs.join("latest")).is_err());
        let _ = std::fs::remove_dir_all(&wd);
    }

    #[test]
    fn a_path_taken_out_is_gone_from_the_layout_before_its_deletion() {
        // What makes a launch into the same executor right after safe: its directory is
        // created afresh and the pending deletion only ever sees the old tree.
        let wd = scratch("takeout");
        let dir = wd.join("slaves/S1/frameworks/F1/executors/E1");
        std::fs::create_dir_all(dir.join("runs/c1")).unwrap();
        std::fs::write(dir.join("runs/c1/stdout"), "old").unwrap();
        let batch = Sweeper::new(&wd).take_out(&[removal(&dir)]);
        assert!(!dir.exists());
        std::fs::create_dir_all(dir.join("runs/c2")).unwrap();
        assert_eq!(delete(batch), [(dir.clone(), Outcome::Removed)]);
        assert!(dir.join("runs/c2").exists());
        assert_eq!(std::fs::read_dir(wd.join(TRASH)).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&wd);
    }

    #[test]
    fn leftovers_of_earlier_runs_are_emptied_but_not_this_runs_removals() {
        let wd = scratch("leftovers");
        let earlier = wd.join(TRASH).join("earlier-run/some-sandbox");
        std::fs::create_dir_all(&earlier).unwrap();
        let sweeper = Sweeper::new(&wd);
        std::fs::create_dir_all(sweeper.trash().join("in-flight")).unwrap();
        empty_trash(&wd, sweeper.trash());
        assert!(!wd.join(TRASH).join("earlier-run").exists());
        assert!(sweeper.trash().join("in-flight").exists());
        let _ = std::fs::remove_dir_all(&wd);
    }

    #[test]
    fn a_missing_path_is_neither_success_nor_failure() {
        let wd = scratch("missing");
        let out = delete(Sweeper::new(&wd).take_out(&[removal(&wd.join("nope"))]));
        assert_eq!(out, [(wd.join("nope"), Outcome::Missing)]);
        let _ = std::fs::remove_dir_all(&wd);
    }

    #[test]
    fn deletion_does_not_follow_symlinks_out_of_the_tree() {
        let wd = scratch("symlink");
        let outside = wd.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), "x").unwrap();
        let sandbox = wd.join("sandbox");
        std::fs::create_dir_all(&sandbox).unwrap();
        std::os::unix::fs::symlink(&outside, sandbox.join("escape")).unwrap();
        let out = delete(Sweeper::new(&wd).take_out(&[removal(&sandbox)]));
        assert_eq!(out, [(sandbox, Outcome::Removed)]);
        assert!(outside.join("keep").exists());
        let _ = std::fs::remove_dir_all(&wd);
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape(r"/a\040b\134c"), r"/a b\c");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn disk_usage_is_a_share() {
        let u = disk_usage(&std::env::temp_dir()).unwrap();
        assert!((0.0..=1.0).contains(&u));
    }
}
