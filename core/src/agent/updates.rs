//! Status updates as the agent handles them: every update, from an executor or generated
//! by the agent itself, goes through [`Agent::handle_update`] into the update streams of
//! `status_update.rs` (checkpointed, forwarded, retried until acknowledged); the master's
//! acknowledgements come back through [`Agent::acknowledge`].
//!
//! Mirrors src/slave/slave.cpp `Slave::statusUpdate`, `Slave::_statusUpdate`,
//! `Slave::forward`, `Slave::statusUpdateAcknowledgement`,
//! `Slave::sendExecutorTerminatedStatusUpdate` (updates the agent makes itself).

use remesos_proto::internal as wire;
use remesos_proto::v1;

use super::{Agent, ExecutorKey, Time};
use crate::common::id::TaskId;

impl Agent {
    /// A status update the agent generates itself (no executor involved).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn local_update(
        &mut self,
        now: Time,
        framework_id: &str,
        executor_id: &str,
        task: &v1::TaskInfo,
        state: v1::TaskState,
        reason: v1::task_status::Reason,
        message: &str,
    ) {
        let status = v1::TaskStatus {
            task_id: task.task_id.clone(),
            state: state as i32,
            message: Some(message.to_string()),
            source: Some(v1::task_status::Source::Agent as i32),
            reason: Some(reason as i32),
            agent_id: Some(v1::AgentId {
                value: self.agent_id(),
            }),
            executor_id: Some(v1::ExecutorId {
                value: executor_id.to_string(),
            }),
            timestamp: Some(now.wall),
            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
            ..Default::default()
        };
        self.handle_update(now, framework_id, executor_id, status);
    }

    /// Every status update, from an executor or the agent, goes through here.
    pub(super) fn handle_update(
        &mut self,
        now: Time,
        framework_id: &str,
        executor_id: &str,
        mut status: v1::TaskStatus,
    ) -> bool {
        let Ok(state) = v1::TaskState::try_from(status.state) else {
            self.counters.invalid_status_updates += 1;
            return false;
        };
        status.agent_id = Some(v1::AgentId {
            value: self.agent_id(),
        });
        let tid = status.task_id.value.clone();
        let Ok(task_id) = TaskId::new(tid.as_str()) else {
            // Entry validation (executor API, the master's launches) makes this unreachable;
            // the id would name the update's checkpoint directory.
            tracing::error!(
                framework_id,
                executor_id,
                "status update with an invalid task id dropped"
            );
            self.counters.invalid_status_updates += 1;
            return false;
        };
        if self.framework_terminating(framework_id) {
            // Mesos's `Slave::statusUpdate`: "We don't send update when a framework is
            // terminating because it cannot send acknowledgements."
            tracing::warn!(
                framework_id,
                task_id = %tid,
                "ignoring a status update for a terminating framework"
            );
            self.counters.invalid_status_updates += 1;
            return false;
        }
        if let Some(uuid) = &status.uuid
            && self.updates.seen(framework_id, &tid, uuid)
        {
            // A resent update (the executor never saw our ACKNOWLEDGED): already handled.
            return false;
        }
        // An update of a task no executor here knows (a kill of an unknown task) has no key.
        let key = ExecutorKey::parse(framework_id, executor_id);
        let path = key
            .as_ref()
            .and_then(|key| {
                let container_id = self.executor(key)?.container_id.clone();
                self.run_ids(key, &container_id)
            })
            .map(|ids| {
                ids.meta_task_dir(&self.config.work_dir, &task_id)
                    .join("task.updates")
            })
            .unwrap_or_default();
        let mut terminal = false;
        if let Some(executor) = key.as_ref().and_then(|key| self.executor_mut(key)) {
            if !executor.command_executor {
                status.executor_id = Some(v1::ExecutorId {
                    value: executor_id.to_string(),
                });
            } else {
                status.executor_id = None;
            }
            terminal = crate::common::protocol::is_terminal(state);
            if let Some(task) = executor.tasks.get_mut(&tid) {
                task.state = status.state;
                let mut kept = status.clone();
                kept.data = None;
                task.statuses.push(kept);
                if terminal && let Some(task) = executor.tasks.remove(&tid) {
                    executor.completed.push(task);
                }
            }
        }
        if terminal {
            self.count_terminal(state);
        }
        self.counters.valid_status_updates += 1;
        let update = wire::StatusUpdate {
            framework_id: v1::FrameworkId {
                value: framework_id.to_string(),
            },
            status,
            latest_state: Some(state as i32),
        };
        let (actions, new) = self.updates.update(now.mono, update, path);
        self.perform(actions);
        new
    }

    pub(super) fn count_terminal(&mut self, state: v1::TaskState) {
        use v1::TaskState as S;
        match state {
            S::TaskFinished => self.counters.tasks_finished += 1,
            S::TaskFailed => self.counters.tasks_failed += 1,
            S::TaskKilled => self.counters.tasks_killed += 1,
            S::TaskLost | S::TaskDropped | S::TaskGone => self.counters.tasks_lost += 1,
            _ => {}
        }
    }

    pub(super) fn acknowledge(&mut self, now: Time, ack: wire::StatusUpdateAcknowledgement) {
        let fid = ack.framework_id.value.clone();
        let tid = ack.task_id.value.clone();
        let (actions, empty) = self.updates.acknowledge(now.mono, &fid, &tid, &ack.uuid);
        self.perform(actions);
        if empty {
            let terminal = self.frameworks.get(&fid).is_some_and(|f| {
                f.executors
                    .values()
                    .any(|e| e.completed.iter().any(|t| t.task_id.value == tid))
            });
            if terminal {
                self.updates.remove(&fid, &tid);
            }
        }
        self.gc_framework(now, &fid);
    }
}
