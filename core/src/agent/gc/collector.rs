//! The garbage collector's schedule: which directories go, and when (Mesos's
//! `GarbageCollectorProcess`, src/slave/gc.cpp).
//!
//! Pure bookkeeping, no I/O and no clock: a path is scheduled for an instant, comes due
//! ([`Collector::due`]) or is pruned early because the disk fills ([`Collector::prune`]),
//! is then *removing* until the runtime reports how its removal ended
//! ([`Collector::finished`]). A path removing cannot be unscheduled (Mesos's `unschedule`
//! of a path in removal waits for it and answers false); a path scheduled again replaces
//! its earlier schedule.
//!
//! Paths come only from [`super::super::paths`] over validated ids (the agent's
//! `garbage_collect` callers); nothing here builds one.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One path the runtime is to remove now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    pub path: PathBuf,
    /// `/files` names to detach once the path is gone (Mesos's `detachFile` on the GC's
    /// future).
    pub detach: Vec<String>,
}

/// How a removal ended, as the runtime reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Removed,
    /// It did not exist (removed by hand, or with its parent): neither success nor failure,
    /// as Mesos logs "Skipped ... which does not exist".
    Missing,
    Failed(String),
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    detach: Vec<String>,
    removing: bool,
}

/// Removal time, then the order of scheduling: paths due at one instant go in the order
/// they were scheduled (a run before its executor's directory).
type Key = (Instant, u64);

#[derive(Debug, Default)]
pub struct Collector {
    /// Each scheduled path's key in `queue`.
    timeouts: HashMap<PathBuf, Key>,
    /// Scheduled paths by removal time. Invariant: the same paths as `timeouts`.
    queue: BTreeMap<Key, Entry>,
    seq: u64,
    /// `gc/path_removals_succeeded`.
    pub succeeded: u64,
    /// `gc/path_removals_failed`.
    pub failed: u64,
}

impl Collector {
    /// Schedules `path` for removal at `at` (Mesos's `schedule(d, path)` with `at = now + d`).
    /// A path already scheduled moves to the new time; one being removed stays as it is.
    pub fn schedule(&mut self, at: Instant, path: PathBuf, detach: Vec<String>) {
        if let Some(key) = self.timeouts.get(&path) {
            if self.queue.get(key).is_some_and(|e| e.removing) {
                return;
            }
            self.unschedule(&path);
        }
        self.seq += 1;
        let key = (at, self.seq);
        self.timeouts.insert(path.clone(), key);
        self.queue.insert(
            key,
            Entry {
                path,
                detach,
                removing: false,
            },
        );
        debug_assert_eq!(self.timeouts.len(), self.queue.len());
    }

    /// Takes `path` off the schedule: true if it was scheduled and not yet being removed.
    pub fn unschedule(&mut self, path: &std::path::Path) -> bool {
        let Some(key) = self.timeouts.get(path).copied() else {
            return false;
        };
        if self.queue.get(&key).is_some_and(|e| e.removing) {
            return false;
        }
        self.timeouts.remove(path);
        self.queue.remove(&key);
        true
    }

    /// Whether `path` is scheduled (or being removed).
    pub fn is_scheduled(&self, path: &std::path::Path) -> bool {
        self.timeouts.contains_key(path)
    }

    /// The earliest removal time of a path not yet being removed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue
            .iter()
            .find(|(_, e)| !e.removing)
            .map(|((at, _), _)| *at)
    }

    /// The paths due at `now`, oldest first; they are removing from now on.
    pub fn due(&mut self, now: Instant) -> Vec<Removal> {
        self.take_until(now)
    }

    /// Mesos's `prune(d)`: every path whose removal time is within `within` of `now`,
    /// oldest first, goes now.
    pub fn prune(&mut self, now: Instant, within: Duration) -> Vec<Removal> {
        self.take_until(now + within)
    }

    fn take_until(&mut self, until: Instant) -> Vec<Removal> {
        let mut out = Vec::new();
        for ((at, _), entry) in self.queue.iter_mut() {
            if *at > until {
                break;
            }
            if entry.removing {
                continue;
            }
            entry.removing = true;
            out.push(Removal {
                path: entry.path.clone(),
                detach: entry.detach.clone(),
            });
        }
        out
    }

    /// The runtime's report on one removal: the path leaves the schedule and the counters
    /// move (Mesos's `_remove`).
    pub fn finished(&mut self, path: &std::path::Path, outcome: &Outcome) {
        if let Some(key) = self.timeouts.remove(path) {
            self.queue.remove(&key);
        }
        match outcome {
            Outcome::Removed => self.succeeded += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Missing => {}
        }
    }

    /// How many paths would be due at `at` (tests read the schedule without taking it).
    #[cfg(test)]
    pub fn count_due(&self, at: Instant) -> usize {
        self.queue.range(..=(at, u64::MAX)).count()
    }

    /// `gc/path_removals_pending`: paths scheduled, including those being removed.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    fn paths(removals: &[Removal]) -> Vec<PathBuf> {
        removals.iter().map(|r| r.path.clone()).collect()
    }

    #[test]
    fn paths_go_when_due_oldest_first() {
        let t0 = Instant::now();
        let mut gc = Collector::default();
        gc.schedule(t0 + Duration::from_secs(20), p("/w/b"), vec![]);
        gc.schedule(t0 + Duration::from_secs(10), p("/w/a"), vec![]);
        gc.schedule(t0 + Duration::from_secs(30), p("/w/c"), vec![]);
        assert_eq!(gc.next_deadline(), Some(t0 + Duration::from_secs(10)));
        assert!(gc.due(t0 + Duration::from_secs(5)).is_empty());
        assert_eq!(
            paths(&gc.due(t0 + Duration::from_secs(25))),
            [p("/w/a"), p("/w/b")]
        );
        // Removing: not due again, still pending, the next deadline is the third path's.
        assert!(gc.due(t0 + Duration::from_secs(25)).is_empty());
        assert_eq!(gc.pending(), 3);
        assert_eq!(gc.next_deadline(), Some(t0 + Duration::from_secs(30)));
        gc.finished(&p("/w/a"), &Outcome::Removed);
        gc.finished(&p("/w/b"), &Outcome::Failed("EACCES".into()));
        assert_eq!((gc.succeeded, gc.failed, gc.pending()), (1, 1, 1));
    }

    #[test]
    fn paths_due_together_go_in_the_order_they_were_scheduled() {
        let t0 = Instant::now();
        let mut gc = Collector::default();
        for name in ["/w/run", "/w/executor", "/w/meta-run"] {
            gc.schedule(t0, p(name), vec![]);
        }
        assert_eq!(
            paths(&gc.due(t0)),
            [p("/w/run"), p("/w/executor"), p("/w/meta-run")]
        );
    }

    #[test]
    fn prune_takes_every_path_due_within_the_age() {
        // Mesos `_checkDiskUsage`: prune(gc_delay - age) removes what is at least `age` old.
        let t0 = Instant::now();
        let mut gc = Collector::default();
        gc.schedule(t0 + Duration::from_secs(100), p("/w/old"), vec![]);
        gc.schedule(t0 + Duration::from_secs(500), p("/w/new"), vec![]);
        assert_eq!(
            paths(&gc.prune(t0, Duration::from_secs(100))),
            [p("/w/old")]
        );
        assert_eq!(gc.next_deadline(), Some(t0 + Duration::from_secs(500)));
    }

    #[test]
    fn an_unscheduled_path_is_never_removed() {
        let t0 = Instant::now();
        let mut gc = Collector::default();
        gc.schedule(t0, p("/w/f"), vec![]);
        assert!(gc.unschedule(&p("/w/f")));
        assert!(!gc.unschedule(&p("/w/f")));
        assert!(gc.due(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(gc.pending(), 0);
    }

    #[test]
    fn a_path_being_removed_cannot_be_unscheduled_or_rescheduled() {
        let t0 = Instant::now();
        let mut gc = Collector::default();
        gc.schedule(t0, p("/w/f"), vec!["/files/f".into()]);
        assert_eq!(gc.due(t0)[0].detach, ["/files/f"]);
        assert!(!gc.unschedule(&p("/w/f")));
        gc.schedule(t0 + Duration::from_secs(60), p("/w/f"), vec![]);
        assert_eq!(gc.next_deadline(), None);
        gc.finished(&p("/w/f"), &Outcome::Missing);
        assert_eq!((gc.succeeded, gc.failed, gc.pending()), (0, 0, 0));
    }

    #[test]
    fn scheduling_again_moves_the_removal_time() {
        let t0 = Instant::now();
        let mut gc = Collector::default();
        gc.schedule(t0, p("/w/f"), vec![]);
        gc.schedule(t0 + Duration::from_secs(60), p("/w/f"), vec![]);
        assert_eq!(gc.pending(), 1);
        assert!(gc.due(t0).is_empty());
        assert_eq!(gc.next_deadline(), Some(t0 + Duration::from_secs(60)));
    }
}
