//! Removal of what is done, and the garbage collection of its directories.
//!
//! - Terminated executors whose updates are all acknowledged move to the completed history,
//!   frameworks left without executors follow, and an agent the master shut down
//!   terminates once nothing runs (src/slave/slave.cpp `Slave::removeExecutor`,
//!   `Slave::removeFramework`, the end of `Slave::shutdown`).
//! - What they leave on disk is scheduled for removal ([`collector`], Mesos's
//!   src/slave/gc.cpp): a removed executor's run directory (its sandbox) and `meta/` run
//!   directory, its executor directories (work and `meta/`), a removed framework's
//!   directories, all `--gc_delay` after they were last modified (`Slave::garbageCollect`;
//!   the agent touches them when it schedules them, so the delay runs from then and an
//!   agent restart recomputes the same schedule from the directories' mtimes). A framework
//!   or executor that comes back (a task launched into it) takes its directories off the
//!   schedule (`Slave::run`'s `unschedule`).
//! - Every `--disk_watch_interval` the runtime measures the work_dir's filesystem
//!   (statvfs) and [`Agent::check_disk_usage`] removes early every directory at least
//!   `gc_delay * max(0, 1 - gc_disk_headroom - usage)` old (`Slave::_checkDiskUsage`).
//!
//! Decisions only, with `now` handed in: the runtime performs [`Effect::Touch`] and
//! [`Effect::Remove`] (gc/sweep.rs: a rename out of the work_dir's tree on the actor, so a
//! later launch into the same framework or executor cannot race the deletion, then the
//! deletion off the actor) and reports back with [`Agent::gc_removed`].

pub mod collector;
pub mod sweep;

use std::path::PathBuf;
use std::time::Duration;

use super::{
    Agent, Effect, Executor, ExecutorKey, ExecutorState, MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK,
    MAX_COMPLETED_FRAMEWORKS, Time, paths,
};
use crate::common::id::{AgentId, ContainerId, FrameworkId};
use collector::Outcome;

/// Mesos's GC_DELAY.
pub const DEFAULT_GC_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Mesos's GC_DISK_HEADROOM.
pub const DEFAULT_GC_DISK_HEADROOM: f64 = 0.1;
/// Mesos's DISK_WATCH_INTERVAL.
pub const DEFAULT_DISK_WATCH_INTERVAL: Duration = Duration::from_secs(60);

/// `--gc_delay`, `--gc_disk_headroom`, `--disk_watch_interval`.
#[derive(Clone, Copy, Debug)]
pub struct GcConfig {
    /// How long a removed executor's or framework's directories stay at most.
    pub delay: Duration,
    /// The share of the disk kept free: in `0.0..=1.0` (checked where the flag is read).
    pub disk_headroom: f64,
    /// How often the work_dir's disk usage is checked.
    pub disk_watch_interval: Duration,
}

impl Default for GcConfig {
    fn default() -> GcConfig {
        GcConfig {
            delay: DEFAULT_GC_DELAY,
            disk_headroom: DEFAULT_GC_DISK_HEADROOM,
            disk_watch_interval: DEFAULT_DISK_WATCH_INTERVAL,
        }
    }
}

impl GcConfig {
    /// Mesos's `Slave::age`: the oldest a directory may be at disk `usage` (0..1).
    pub fn max_allowed_age(&self, usage: f64) -> Duration {
        let share = (1.0 - self.disk_headroom - usage).clamp(0.0, 1.0);
        self.delay.mul_f64(share)
    }
}

/// `--gc_disk_headroom` must be within 0.0 and 1.0 (Mesos's check in `Slave::initialize`).
pub fn validate_headroom(value: &crate::flags::FlagValue) -> Result<(), String> {
    match value {
        crate::flags::FlagValue::Float(h) if !(0.0..=1.0).contains(h) => Err(format!(
            "Invalid value '{h}' for --gc_disk_headroom. Must be between 0.0 and 1.0"
        )),
        _ => Ok(()),
    }
}

/// The modification times (seconds since the epoch) of one executor run's directories,
/// read at recovery: what a recovered run that has ended is scheduled by, as Mesos's
/// `Framework::recoverExecutor` schedules it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunTimes {
    pub run: Option<f64>,
    pub meta_run: Option<f64>,
    pub executor: Option<f64>,
    pub meta_executor: Option<f64>,
}

impl Agent {
    /// Drops terminated executors whose updates are all delivered, and frameworks left empty.
    /// A terminating framework's terminated executors go at once: nobody will acknowledge
    /// their updates (Mesos's `removeExecutor` from `Slave::shutdownFramework`). What they
    /// leave on disk is scheduled for removal.
    pub(super) fn gc_framework(&mut self, now: Time, framework_id: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let terminating = framework.terminating;
        let done: Vec<String> = framework
            .executors
            .iter()
            .filter(|(_, e)| e.state == ExecutorState::Terminated)
            .filter(|(_, e)| {
                terminating
                    || !e
                        .completed
                        .iter()
                        .any(|t| self.updates.has_pending(framework_id, &t.task_id.value))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in done {
            let Some(executor) = self
                .frameworks
                .get_mut(framework_id)
                .and_then(|f| f.executors.remove(&id))
            else {
                continue;
            };
            self.schedule_executor(now, framework_id, &executor);
            let Some(framework) = self.frameworks.get_mut(framework_id) else {
                continue;
            };
            if framework.completed_executors.len() >= MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK {
                framework.completed_executors.pop_front();
            }
            framework.completed_executors.push_back(executor);
        }
        if self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.executors.is_empty())
            && let Some(framework) = self.frameworks.remove(framework_id)
        {
            if framework.terminating {
                self.updates.cleanup(framework_id);
            }
            self.schedule_framework(now, framework_id, None);
            if self.completed_frameworks.len() >= MAX_COMPLETED_FRAMEWORKS {
                self.completed_frameworks.pop_front();
            }
            self.completed_frameworks.push_back(framework);
        }
        // The last executor gone from a terminating agent: it can exit now.
        self.terminate_when_idle();
    }

    /// Emits [`Effect::Terminate`] once a terminating agent runs no executor.
    pub(super) fn terminate_when_idle(&mut self) {
        if self.terminating
            && !self.terminate_emitted
            && self.frameworks.values().all(|f| f.executors.is_empty())
        {
            self.terminate_emitted = true;
            self.emit(Effect::Terminate);
        }
    }

    // ----- scheduling (Mesos's `Slave::garbageCollect`) -----

    /// Schedules `path` for removal `--gc_delay` after its modification time `mtime`
    /// (seconds since the epoch), or — without one — after now, touching it so that a
    /// restarted agent finds the same time in its mtime.
    pub(super) fn garbage_collect(
        &mut self,
        now: Time,
        path: PathBuf,
        detach: Vec<String>,
        mtime: Option<f64>,
    ) {
        let delay = self.config.gc.delay;
        let remaining = match mtime {
            Some(mtime) => {
                let age = Duration::try_from_secs_f64((now.wall - mtime).max(0.0))
                    .unwrap_or(Duration::MAX);
                delay.saturating_sub(age)
            }
            None => {
                self.emit(Effect::Touch { path: path.clone() });
                delay
            }
        };
        tracing::debug!(path = %path.display(), ?remaining, "scheduling for garbage collection");
        let at = now.mono.checked_add(remaining).unwrap_or(now.mono + delay);
        self.gc.schedule(at, path, detach);
    }

    /// The agent id as a path component: set once registered or recovered, validated there.
    fn gc_agent_id(&self) -> Option<AgentId> {
        AgentId::new(self.id.clone()?).ok()
    }

    /// A removed executor's directories: its run (sandbox and `meta/` run) and its executor
    /// directories (work, with its `runs/latest`, and `meta/`), by the mtimes recovery read
    /// for a run that ended before a restart, else from now (Mesos's `removeExecutor`).
    fn schedule_executor(&mut self, now: Time, framework_id: &str, executor: &Executor) {
        let (Some(agent), Some(key), Ok(container)) = (
            self.gc_agent_id(),
            ExecutorKey::parse(framework_id, &executor.info.executor_id.value),
            ContainerId::new(executor.container_id.as_str()),
        ) else {
            return;
        };
        let wd = self.config.work_dir.clone();
        let times = executor.recovered_times.unwrap_or_default();
        let recovered = executor.recovered_times.is_some();
        // A recovered run whose directory is gone has no mtime: nothing to schedule.
        let at = |t: Option<f64>| if recovered { t.map(Some) } else { Some(None) };
        let run = paths::sandbox(&wd, &agent, &key.framework, &key.executor, &container);
        let executor_dir = paths::executor_dir(&wd, &agent, &key.framework, &key.executor);
        let scheduled = [
            (run.clone(), vec![run.display().to_string()], times.run),
            (
                paths::meta_run_dir(&wd, &agent, &key.framework, &key.executor, &container),
                vec![],
                times.meta_run,
            ),
            (
                executor_dir.clone(),
                vec![
                    executor_dir
                        .join("runs")
                        .join("latest")
                        .display()
                        .to_string(),
                    paths::virtual_latest(&key.framework, &key.executor),
                ],
                times.executor,
            ),
            (
                paths::meta_executor_dir(&wd, &agent, &key.framework, &key.executor),
                vec![],
                times.meta_executor,
            ),
        ];
        for (path, detach, mtime) in scheduled {
            if let Some(mtime) = at(mtime) {
                self.garbage_collect(now, path, detach, mtime);
            }
        }
    }

    /// A removed framework's directories, work and `meta/` (Mesos's `removeFramework`),
    /// from now or by the mtimes recovery read.
    pub(super) fn schedule_framework(
        &mut self,
        now: Time,
        framework_id: &str,
        times: Option<(Option<f64>, Option<f64>)>,
    ) {
        let Some((work, meta)) = self.framework_dirs(framework_id) else {
            return;
        };
        match times {
            None => {
                self.garbage_collect(now, work, vec![], None);
                self.garbage_collect(now, meta, vec![], None);
            }
            Some((work_time, meta_time)) => {
                for (path, mtime) in [(work, work_time), (meta, meta_time)] {
                    if let Some(mtime) = mtime {
                        self.garbage_collect(now, path, vec![], Some(mtime));
                    }
                }
            }
        }
    }

    /// A framework's work and `meta/` directories on this agent; `None` before the agent
    /// has an id or for an id that is not a valid framework id (no path is built from it).
    fn framework_dirs(&self, framework_id: &str) -> Option<(PathBuf, PathBuf)> {
        let agent = self.gc_agent_id()?;
        let framework = FrameworkId::new(framework_id).ok()?;
        let wd = &self.config.work_dir;
        let work = paths::slave_dir(wd, &agent)
            .join("frameworks")
            .join(&framework);
        Some((work, paths::meta_framework_dir(wd, &agent, &framework)))
    }

    /// A framework comes back to this agent: its directories stay (Mesos's `Slave::run`).
    pub(super) fn unschedule_framework(&mut self, framework_id: &str) {
        let Some((work, meta)) = self.framework_dirs(framework_id) else {
            return;
        };
        self.unschedule([work, meta]);
    }

    /// An executor is launched again under its old id: its directories stay (its old runs
    /// remain scheduled; `runs/latest` moves to the new run).
    pub(super) fn unschedule_executor(&mut self, key: &ExecutorKey) {
        let Some(agent) = self.gc_agent_id() else {
            return;
        };
        let wd = &self.config.work_dir;
        let work = paths::executor_dir(wd, &agent, &key.framework, &key.executor);
        let meta = paths::meta_executor_dir(wd, &agent, &key.framework, &key.executor);
        self.unschedule([work, meta]);
    }

    fn unschedule(&mut self, paths: [PathBuf; 2]) {
        for path in paths {
            if self.gc.unschedule(&path) {
                tracing::info!(path = %path.display(), "unscheduled from garbage collection");
            }
        }
    }

    /// Directories recovery found that no executor needs (old runs, executors that cannot
    /// be recovered, other agents' directories), each with its mtime (`None`: touch it and
    /// count from now, as Mesos does for old agents' directories).
    pub fn garbage_collect_recovered(&mut self, now: Time, garbage: Vec<(PathBuf, Option<f64>)>) {
        for (path, mtime) in garbage {
            self.garbage_collect(now, path, vec![], mtime);
        }
    }

    // ----- running the schedule -----

    /// Moves the paths due at `now` to the runtime (from [`Agent::tick`]).
    pub(super) fn gc_due(&mut self, now: Time) {
        let removals = self.gc.due(now.mono);
        if !removals.is_empty() {
            self.emit(Effect::Remove(removals));
        }
    }

    /// The work_dir's filesystem is `usage` full (0..1, statvfs): every directory at least
    /// the allowed age old goes now (Mesos's `Slave::_checkDiskUsage`).
    pub fn check_disk_usage(&mut self, now: Time, usage: Result<f64, String>) {
        let usage = match usage {
            Ok(u) if u.is_finite() => u,
            Ok(u) => {
                tracing::error!(usage = u, "failed to get disk usage: not a number");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "failed to get disk usage");
                return;
            }
        };
        let age = self.config.gc.max_allowed_age(usage);
        tracing::debug!(
            usage = format!("{:.2}%", usage * 100.0),
            max_allowed_age = %crate::duration::format_duration(age),
            "current disk usage"
        );
        let removals = self
            .gc
            .prune(now.mono, self.config.gc.delay.saturating_sub(age));
        if !removals.is_empty() {
            tracing::info!(paths = removals.len(), "pruning directories early");
            self.emit(Effect::Remove(removals));
        }
    }

    /// The runtime's report on removals it performed.
    pub fn gc_removed(&mut self, results: Vec<(PathBuf, Outcome)>) {
        for (path, outcome) in results {
            match &outcome {
                Outcome::Removed => tracing::info!(path = %path.display(), "deleted"),
                Outcome::Missing => {
                    tracing::info!(path = %path.display(), "skipped: it does not exist")
                }
                Outcome::Failed(error) => {
                    tracing::warn!(path = %path.display(), %error, "failed to delete")
                }
            }
            self.gc.finished(&path, &outcome);
        }
    }
}
