//! Agent recovery (reference/mesos-contract.md §8.6, Mesos `docs/agent-recovery.md`): after a
//! restart — even `kill -9` — the agent reads back what it checkpointed under
//! `<work_dir>/meta` and takes up its executors again.
//!
//! ```text
//! meta/boot_id ── differs from this boot? ──► start afresh (a new agent id)
//! meta/slaves/latest ──► slave.info (the agent id)
//!   frameworks/<fid>/framework.info
//!     executors/<eid>/executor.info, runs/latest ──► runs/<cid>/
//!        executor.sentinel (the run ended) | pids/forked.pid (the executor's pid)
//!        tasks/<tid>/task.info, task.updates (status updates and ACKs, RecordIO)
//! ```
//!
//! What happens next ([`super::Agent::recover`], [`super::runtime`]):
//! - a live executor is watched by pid and has `--executor_reregistration_timeout` (doubled:
//!   its resubscription backoff is random up to the same value) to SUBSCRIBE again; then its
//!   tasks that stayed STAGING and that it does not report as unacknowledged never reached
//!   it and end `TASK_LOST`/`TASK_DROPPED` (`REASON_AGENT_RESTARTED`); one that does not come
//!   back is killed and its tasks fail (`REASON_EXECUTOR_REREGISTRATION_TIMEOUT`);
//! - an executor that died meanwhile fails its unfinished tasks;
//! - unacknowledged status updates are pending again and are resent once the agent has
//!   reregistered with the master, which it does with every task and executor it recovered.
//!
//! Frameworks that do not checkpoint are not recovered: their executors still alive are
//! killed ([`drop_unrecoverable`]), as the master already reported their tasks lost.
//!
//! `--recover=cleanup` kills the live executors and exits instead ([`cleanup`]).

use std::path::{Path, PathBuf};

use prost::Message;
use remesos_proto::internal as wire;
use remesos_proto::v1;

use std::collections::BTreeMap;

use super::{Agent, Executor, ExecutorKey, Framework, Time, isolator, paths};
use crate::common::id::{AgentId, ContainerId, ExecutorId, FrameworkId, TaskId};

/// This boot's id (`/proc/sys/kernel/random/boot_id`).
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// What a restarted agent found.
#[derive(Debug, Default)]
pub struct State {
    pub agent_info: v1::AgentInfo,
    pub agent_id: String,
    pub frameworks: Vec<FrameworkState>,
    /// Directories no executor needs, with their mtimes (seconds since the epoch), for the
    /// garbage collector: old runs of an executor (Mesos keeps only the latest), executors
    /// whose info or latest run is missing, frameworks that are not recovered
    /// (`Framework::recoverExecutor`, `Slave::recoverFramework`).
    pub garbage: Vec<(PathBuf, f64)>,
    /// Operations whose statuses were not acknowledged (`operations.state`, operations.rs).
    pub operations: remesos_proto::internal::OperationCheckpoint,
}

#[derive(Debug)]
pub struct FrameworkState {
    pub info: v1::FrameworkInfo,
    pub executors: Vec<ExecutorState>,
    /// The framework's work and `meta/` directories that exist, with their mtimes.
    pub dirs: Vec<(PathBuf, f64)>,
}

#[derive(Debug)]
pub struct ExecutorState {
    pub info: v1::ExecutorInfo,
    pub container_id: String,
    pub sandbox: PathBuf,
    pub pid: Option<u32>,
    /// The run ended before the restart (`executor.sentinel`).
    pub terminated: bool,
    pub tasks: Vec<TaskState>,
    /// The mtimes of the run's and the executor's directories (what the run's garbage
    /// collection counts from once it is removed).
    pub times: super::gc::RunTimes,
}

#[derive(Debug)]
pub struct TaskState {
    pub info: v1::TaskInfo,
    pub records: Vec<wire::StatusUpdateRecord>,
    pub updates_path: PathBuf,
}

#[derive(Debug)]
pub enum Outcome {
    /// Nothing to recover.
    Fresh,
    /// The machine rebooted since the checkpoint: its executors are gone; the agent
    /// registers as a new agent (Mesos does the same).
    Rebooted {
        old_agent_id: Option<String>,
    },
    Recovered(Box<State>),
}

/// Reads the checkpointed state. Errors are about unreadable checkpoints; a missing piece
/// (e.g. a framework directory without `framework.info`, from a crash mid-write) is skipped
/// with a warning, as Mesos does without `--strict`.
pub fn read(work_dir: &Path) -> Result<Outcome, String> {
    let meta = paths::meta_dir(work_dir);
    let agent_id = std::fs::read_link(meta.join("slaves").join("latest"))
        .ok()
        .and_then(|p| p.to_str().map(str::to_string));
    if let (Ok(old), Some(now)) = (std::fs::read_to_string(meta.join("boot_id")), boot_id())
        && old.trim() != now
    {
        return Ok(Outcome::Rebooted {
            old_agent_id: agent_id,
        });
    }
    let Some(agent_id) = agent_id else {
        return Ok(Outcome::Fresh);
    };
    // Every name below comes off the disk (a symlink's target, directory names): each is
    // validated like an id from the network before it is joined into a path.
    let agent = AgentId::new(agent_id.as_str()).map_err(|e| {
        format!(
            "invalid agent id in {}: {e}",
            meta.join("slaves/latest").display()
        )
    })?;
    let slave_dir = paths::meta_slave_dir(work_dir, &agent);
    let Ok(bytes) = std::fs::read(slave_dir.join("slave.info")) else {
        return Ok(Outcome::Fresh);
    };
    let agent_info = v1::AgentInfo::decode(bytes.as_slice()).map_err(|e| {
        format!(
            "failed to read {}: {e}",
            slave_dir.join("slave.info").display()
        )
    })?;
    let mut state = State {
        agent_info,
        agent_id: agent_id.clone(),
        frameworks: Vec::new(),
        garbage: Vec::new(),
        operations: super::operations::read_checkpoint(work_dir, &agent)?,
    };
    // The directories, with their mtimes, of those that exist.
    let existing = |paths: &[PathBuf]| -> Vec<(PathBuf, f64)> {
        paths
            .iter()
            .filter_map(|p| Some((p.clone(), mtime(p)?)))
            .collect()
    };
    for fid in dir_names(&slave_dir.join("frameworks")) {
        let Ok(fid) = FrameworkId::new(fid.as_str()) else {
            tracing::warn!(framework_id = %fid.escape_debug(), "skipping a framework directory with an invalid id");
            continue;
        };
        let fdir = paths::meta_framework_dir(work_dir, &agent, &fid);
        let Some(info) = decode::<v1::FrameworkInfo>(&fdir.join("framework.info")) else {
            tracing::warn!(framework_id = %fid, "skipping a framework without framework.info");
            continue;
        };
        let mut framework = FrameworkState {
            info,
            executors: Vec::new(),
            dirs: existing(&[
                paths::slave_dir(work_dir, &agent)
                    .join("frameworks")
                    .join(&fid),
                fdir.clone(),
            ]),
        };
        for eid in dir_names(&fdir.join("executors")) {
            let Ok(eid) = ExecutorId::new(eid.as_str()) else {
                tracing::warn!(framework_id = %fid, executor_id = %eid.escape_debug(), "skipping an executor directory with an invalid id");
                continue;
            };
            let edir = paths::meta_executor_dir(work_dir, &agent, &fid, &eid);
            let work_edir = paths::executor_dir(work_dir, &agent, &fid, &eid);
            let latest = std::fs::read_link(edir.join("runs").join("latest"))
                .ok()
                .and_then(|p| p.to_str().map(str::to_string))
                .and_then(|c| ContainerId::new(c).ok())
                .filter(|c| paths::meta_run_dir(work_dir, &agent, &fid, &eid, c).is_dir());
            // Mesos keeps only the latest run: the others are garbage.
            for cid in dir_names(&edir.join("runs")) {
                let Ok(cid) = ContainerId::new(cid) else {
                    continue;
                };
                if latest.as_ref() != Some(&cid) {
                    state.garbage.extend(existing(&[
                        paths::sandbox(work_dir, &agent, &fid, &eid, &cid),
                        paths::meta_run_dir(work_dir, &agent, &fid, &eid, &cid),
                    ]));
                }
            }
            let info = decode::<v1::ExecutorInfo>(&edir.join("executor.info"));
            let (Some(info), Some(container)) = (info, latest) else {
                // Nothing of it can run: it never launched, or its run is gone.
                tracing::warn!(framework_id = %fid, executor_id = %eid, "skipping an executor without executor.info or a latest run");
                state
                    .garbage
                    .extend(existing(&[work_edir.clone(), edir.clone()]));
                continue;
            };
            let container_id = container.to_string();
            let run = paths::meta_run_dir(work_dir, &agent, &fid, &eid, &container);
            let sandbox = paths::sandbox(work_dir, &agent, &fid, &eid, &container);
            let times = super::gc::RunTimes {
                run: mtime(&sandbox),
                meta_run: mtime(&run),
                executor: mtime(&work_edir),
                meta_executor: mtime(&edir),
            };
            let pid = recorded_pid(&run.join("pids").join("forked.pid"));
            let mut executor = ExecutorState {
                info,
                sandbox,
                container_id: container_id.clone(),
                pid,
                terminated: run.join("executor.sentinel").exists(),
                tasks: Vec::new(),
                times,
            };
            for tid in dir_names(&run.join("tasks")) {
                let Ok(tid) = TaskId::new(tid.as_str()) else {
                    continue;
                };
                let tdir = run.join("tasks").join(&tid);
                let Some(info) = decode::<v1::TaskInfo>(&tdir.join("task.info")) else {
                    continue;
                };
                let updates_path = tdir.join("task.updates");
                executor.tasks.push(TaskState {
                    info,
                    records: read_records(&updates_path),
                    updates_path,
                });
            }
            framework.executors.push(executor);
        }
        state.frameworks.push(framework);
    }
    Ok(Outcome::Recovered(Box::new(state)))
}

/// Writes this boot's id under `meta/` (after [`read`] compared it).
pub fn write_boot_id(work_dir: &Path) -> std::io::Result<()> {
    let meta = paths::meta_dir(work_dir);
    std::fs::create_dir_all(&meta)?;
    let tmp = meta.join("boot_id.tmp");
    std::fs::write(&tmp, boot_id().unwrap_or_default())?;
    std::fs::rename(tmp, meta.join("boot_id"))
}

/// `--recover=cleanup`: kills every live executor found in the checkpoint (SIGKILL to its
/// process group). Returns how many it killed.
pub fn cleanup(work_dir: &Path) -> Result<usize, String> {
    let Outcome::Recovered(state) = read(work_dir)? else {
        return Ok(0);
    };
    let mut killed = 0;
    for executor in state.frameworks.iter().flat_map(|f| f.executors.iter()) {
        if executor.terminated {
            continue;
        }
        if let Some(pid) = executor.pid.filter(|p| super::isolator::alive(*p)) {
            super::launcher::signal_group(pid, true);
            killed += 1;
        }
    }
    Ok(killed)
}

/// Drops the frameworks that do not checkpoint from a recovered state, SIGKILLing their
/// executors that are still alive: Mesos recovers only checkpointing frameworks, and the
/// master already reported the others' tasks lost when the agent went away (§8.5).
/// Returns how many executors it killed.
pub fn drop_unrecoverable(state: &mut State) -> usize {
    let mut killed = 0;
    let garbage = &mut state.garbage;
    state.frameworks.retain(|framework| {
        if framework.info.checkpoint.unwrap_or(false) {
            return true;
        }
        // Its directories are garbage now (beyond Mesos, which does not checkpoint such a
        // framework and so never finds its sandboxes again).
        garbage.extend(framework.dirs.iter().cloned());
        for executor in &framework.executors {
            if executor.terminated {
                continue;
            }
            if let Some(pid) = executor.pid.filter(|p| super::isolator::alive(*p)) {
                super::launcher::signal_group(pid, true);
                killed += 1;
            }
        }
        false
    });
    killed
}

/// Other agents' directories under the work_dir, `slaves/<id>` and `meta/slaves/<id>`, for
/// every id but `current` (all of them when this agent has no id yet: it registers anew):
/// Mesos's `Slave::__recover` schedules them for garbage collection.
pub fn old_agent_dirs(work_dir: &Path, current: Option<&str>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in dir_names(&work_dir.join("slaves")) {
        let Ok(agent) = AgentId::new(entry.as_str()) else {
            continue;
        };
        if current == Some(agent.as_str()) {
            continue;
        }
        out.push(paths::slave_dir(work_dir, &agent));
        let meta = paths::meta_slave_dir(work_dir, &agent);
        if meta.is_dir() {
            out.push(meta);
        }
    }
    out
}

fn mtime(path: &Path) -> Option<f64> {
    super::gc::sweep::mtime(path)
}

fn decode<M: Message + Default>(path: &Path) -> Option<M> {
    let bytes = std::fs::read(path).ok()?;
    M::decode(bytes.as_slice()).ok()
}

/// The complete records of a `task.updates` file (a record torn by a crash is dropped).
fn read_records(path: &Path) -> Vec<wire::StatusUpdateRecord> {
    let Ok(bytes) = std::fs::read(path) else {
        return vec![];
    };
    let mut decoder = remesos_proto::recordio::Decoder::new(64 * 1024 * 1024);
    let Ok(records) = decoder.feed(&bytes) else {
        return vec![];
    };
    records
        .iter()
        .filter_map(|r| wire::StatusUpdateRecord::decode(r.as_ref()).ok())
        .collect()
}

fn dir_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Whether an ExecutorInfo is one the agent generated for a command task (reference §4.3):
/// `remesos executor` or `remesos-executor`.
pub fn is_command_executor(info: &v1::ExecutorInfo) -> bool {
    info.name
        .as_deref()
        .is_some_and(|n| n.starts_with("Command Executor (Task: "))
        && info.command.as_ref().is_some_and(|c| {
            c.arguments.last().is_some_and(|a| a == "executor")
                || c.arguments.as_slice() == [super::LEAN_EXECUTOR]
        })
}

/// The executor pid checkpointed in `forked.pid`, if that process still runs — the same
/// process, not a later one that reused the pid: it must have started before the file was
/// written (boot time is whole seconds, hence the slack).
pub(super) fn recorded_pid(path: &Path) -> Option<u32> {
    let pid = std::fs::read_to_string(path)
        .ok()?
        .trim()
        .parse::<u32>()
        .ok()?;
    let written = std::fs::metadata(path).ok()?.modified().ok()?;
    match super::isolator::started_at(pid) {
        Some(started) if started <= written + std::time::Duration::from_secs(2) => Some(pid),
        Some(_) => {
            tracing::warn!(pid, path = %path.display(), "the checkpointed executor pid belongs to a later process; the executor is gone");
            None
        }
        // Not running: the caller sees a dead executor either way.
        None => Some(pid),
    }
}

/// Writes a checkpoint (Mesos's `slave::state::checkpoint`): appends a record, or replaces a
/// file atomically (write a temporary file, rename it over the old one).
///
/// With `durable` the file is fsync'd before the rename. Mesos's agent checkpoints its
/// per-task state (framework, executor and task infos, pids, sentinels) without syncing
/// (`checkpoint(path, t, sync = false)`): the page cache survives the agent's own crash,
/// and after a power loss the boot id changes and no executor is recovered anyway. An fsync
/// costs milliseconds on a disk, and a launch writes five such files, so only what outlives
/// a reboot is durable here: the agent's identity, its operations and its resources.
pub fn checkpoint(path: &Path, data: &[u8], append: bool, durable: bool) -> std::io::Result<()> {
    use std::io::Write;
    // The directory is made only when the file cannot be created without it: a task's
    // update records are appended six times into a directory that exists by then.
    let open = |file: &Path| {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).write(true);
        if append {
            options.append(true);
        } else {
            options.truncate(true);
        }
        match options.open(file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                options.open(file)
            }
            opened => opened,
        }
    };
    if append {
        return open(path)?.write_all(data);
    }
    let tmp = path.with_extension("tmp");
    {
        let mut f = open(&tmp)?;
        f.write_all(data)?;
        if durable {
            f.sync_all()?;
        }
    }
    std::fs::rename(tmp, path)
}

// ----- taking the checkpointed state up (Mesos's `Slave::recover`, `Slave::_recover`, `Slave::reregisterExecutor`) -----

impl Agent {
    /// Takes up the state a previous run of this agent checkpointed (see [`recovery`]).
    /// Returns the executors that were still running then, `(framework, executor,
    /// container, pid)`, for the runtime to watch (or to report dead at once).
    pub fn recover(
        &mut self,
        now: Time,
        state: State,
    ) -> Vec<(String, String, String, Option<u32>)> {
        let agent_id = state.agent_id.clone();
        self.operations.recover(state.operations);
        let garbage = state
            .garbage
            .into_iter()
            .map(|(p, t)| (p, Some(t)))
            .collect();
        self.id = Some(agent_id.clone());
        self.info.id = Some(v1::AgentId {
            value: agent_id.clone(),
        });
        let mut live = Vec::new();
        // Executors get twice the reregistration timeout: their resubscription backoff is
        // random up to that same value.
        let reregister_by = now.mono + self.config.executor_reregistration_timeout * 2;
        for fstate in state.frameworks {
            let Some(fid) = fstate.info.id.as_ref().map(|i| i.value.clone()) else {
                continue;
            };
            if fstate.executors.is_empty() {
                // Mesos's `recoverFramework`: nothing to recover, its directories go by
                // their mtimes.
                for (path, mtime) in fstate.dirs {
                    self.garbage_collect(now, path, vec![], Some(mtime));
                }
                continue;
            }
            let mut framework = Framework {
                checkpointed_info: prost::Message::encode_to_vec(&fstate.info),
                info: fstate.info,
                executors: BTreeMap::new(),
                completed_executors: Default::default(),
                terminating: false,
            };
            for estate in fstate.executors {
                let eid = estate.info.executor_id.value.clone();
                let ids = ExecutorKey::parse(&fid, &eid)
                    .and_then(|key| self.run_ids(&key, &estate.container_id));
                let Some(ids) = ids else {
                    // A checkpoint whose ids Mesos would refuse was not written by an agent.
                    tracing::warn!(framework_id = %fid, "skipping a recovered executor with invalid ids");
                    continue;
                };
                let command_executor = is_command_executor(&estate.info);
                let mut limits = isolator::Limits::of(&estate.info.resources);
                let mut executor = Executor {
                    command_executor,
                    container_id: estate.container_id.clone(),
                    sandbox: estate.sandbox.clone(),
                    state: if estate.terminated {
                        super::ExecutorState::Terminated
                    } else {
                        super::ExecutorState::Registering
                    },
                    conn: None,
                    pid: estate.pid,
                    queued: Vec::new(),
                    queued_groups: Vec::new(),
                    tasks: BTreeMap::new(),
                    completed: Vec::new(),
                    registration_deadline: reregister_by,
                    kill_deadline: None,
                    limits,
                    limitation: None,
                    recovered: !estate.terminated,
                    recovered_times: estate.terminated.then_some(estate.times),
                    ip_addresses: Vec::new(),
                    disk_usage: BTreeMap::new(),
                    info: estate.info,
                };
                for tstate in estate.tasks {
                    let tid = tstate.info.task_id.value.clone();
                    let task_limits = isolator::Limits::of(&tstate.info.resources);
                    limits.add(task_limits);
                    let mut task = self.new_task(&framework.info, &executor, &tstate.info);
                    let updates =
                        self.updates
                            .recover(&fid, &tid, tstate.records, tstate.updates_path);
                    for update in &updates {
                        task.state = update.status.state;
                        let mut kept = update.status.clone();
                        kept.data = None;
                        task.statuses.push(kept);
                    }
                    let terminal = v1::TaskState::try_from(task.state)
                        .is_ok_and(crate::common::protocol::is_terminal);
                    if terminal {
                        if !self.updates.has_pending(&fid, &tid) {
                            self.updates.remove(&fid, &tid);
                        }
                        executor.completed.push(task);
                    } else {
                        executor.tasks.insert(tid, task);
                    }
                }
                executor.limits = limits;
                if executor.state != super::ExecutorState::Terminated {
                    live.push((
                        fid.clone(),
                        eid.clone(),
                        executor.container_id.clone(),
                        executor.pid,
                    ));
                }
                let owner =
                    crate::security::authorizer::executor_user(&executor.info, &framework.info);
                self.emit(ids.attach(&self.config.work_dir, &executor.sandbox, owner));
                framework.executors.insert(eid, executor);
            }
            tracing::info!(framework_id = %fid, executors = framework.executors.len(), "recovered framework");
            self.frameworks.insert(fid.clone(), framework);
            self.gc_framework(now, &fid);
        }
        self.garbage_collect_recovered(now, garbage);
        live
    }

    /// A recovered executor subscribed again: tasks that stayed STAGING and that it does not
    /// know (not among its unacknowledged tasks) never reached it before the restart.
    pub(super) fn reconnected(
        &mut self,
        now: Time,
        key: &ExecutorKey,
        unacknowledged: &[v1::TaskInfo],
    ) {
        let (framework_id, executor_id) = (key.framework.as_str(), key.executor.as_str());
        let Some(executor) = self.executor(key) else {
            return;
        };
        let lost: Vec<v1::TaskInfo> = executor
            .tasks
            .values()
            .filter(|t| t.state == v1::TaskState::TaskStaging as i32)
            .filter(|t| !unacknowledged.iter().any(|u| u.task_id == t.task_id))
            .map(|t| v1::TaskInfo {
                name: t.name.clone(),
                task_id: t.task_id.clone(),
                ..Default::default()
            })
            .collect();
        let partition_aware = self.partition_aware(framework_id);
        let state = if partition_aware {
            v1::TaskState::TaskDropped
        } else {
            v1::TaskState::TaskLost
        };
        for task in lost {
            self.local_update(
                now,
                framework_id,
                executor_id,
                &task,
                state,
                v1::task_status::Reason::AgentRestarted,
                "Task launched during agent restart",
            );
        }
        tracing::info!(framework_id, executor_id, "recovered executor resubscribed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint makes its directories when they are missing, and only then; appends
    /// add to the file, a replacement replaces it whole.
    #[test]
    fn a_checkpoint_makes_missing_directories_appends_and_replaces() {
        let dir = std::env::temp_dir().join(format!("remesos-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let updates = dir.join("a/b/task.updates");
        checkpoint(&updates, b"one", true, false).unwrap();
        checkpoint(&updates, b"two", true, false).unwrap();
        assert_eq!(std::fs::read(&updates).unwrap(), b"onetwo");
        let info = dir.join("c/d/task.info");
        checkpoint(&info, b"a longer first version", false, false).unwrap();
        checkpoint(&info, b"second", false, true).unwrap();
        assert_eq!(std::fs::read(&info).unwrap(), b"second");
        assert!(
            !dir.join("c/d/task.tmp").exists(),
            "the temporary file was renamed"
        );
        // A path under a file is an error, not a panic, and writes nothing.
        let error = checkpoint(&info.join("x"), b"x", true, false).unwrap_err();
        assert_ne!(error.kind(), std::io::ErrorKind::NotFound, "{error}");
        assert_eq!(std::fs::read(&info).unwrap(), b"second");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A pid checkpointed before the process now holding it started is not the executor.
    #[test]
    fn a_reused_executor_pid_is_not_taken_for_the_executor() {
        let dir = std::env::temp_dir().join(format!("remesos-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("forked.pid");
        std::fs::write(&path, std::process::id().to_string()).unwrap();
        assert_eq!(recorded_pid(&path), Some(std::process::id()));
        // As if written an hour before this process started.
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        let started = super::super::isolator::started_at(std::process::id()).unwrap();
        file.set_modified(started - std::time::Duration::from_secs(3600))
            .unwrap();
        assert_eq!(recorded_pid(&path), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn frameworks_that_do_not_checkpoint_are_dropped_and_their_executors_killed() {
        // A live "executor" leading its own process group, as the launcher starts them.
        let mut child = {
            use std::os::unix::process::CommandExt;
            std::process::Command::new("sleep")
                .arg("60")
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let executor = |pid: Option<u32>| ExecutorState {
            info: v1::ExecutorInfo::default(),
            container_id: "c".into(),
            sandbox: PathBuf::new(),
            pid,
            terminated: false,
            tasks: vec![],
            times: Default::default(),
        };
        let framework = |id: &str, checkpoint: bool, pid: Option<u32>| FrameworkState {
            info: v1::FrameworkInfo {
                id: Some(v1::FrameworkId { value: id.into() }),
                checkpoint: Some(checkpoint),
                ..Default::default()
            },
            executors: vec![executor(pid)],
            dirs: vec![],
        };
        let mut state = State {
            frameworks: vec![
                framework("kept", true, None),
                framework("dropped", false, Some(child.id())),
            ],
            ..Default::default()
        };
        assert_eq!(drop_unrecoverable(&mut state), 1);
        assert_eq!(state.frameworks.len(), 1);
        assert_eq!(state.frameworks[0].info.id.as_ref().unwrap().value, "kept");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }
}
