//! Operation feedback on the agent's default resources: the operations the master applied
//! here with an `id`, their statuses, checkpointed and retried until the framework
//! acknowledges them through the master.
//!
//! Data flow: the master sends CheckpointResources (the operation's result) and then, on the
//! same session, ApplyOperation; [`Agent::apply_operation`] records the operation with an
//! OPERATION_FINISHED status (the resources are applied by then), checkpoints
//! `meta/slaves/<agent id>/operations.state` and forwards the status as
//! UpdateOperationStatus. [`Operations`] keeps the unacknowledged statuses: only the oldest
//! of an operation is in flight, resent with backoff (10 s doubling to 10 min, as task
//! status updates), resent at once after every (re)registration, and reported to a new
//! master in Reregister.operations. The master's AcknowledgeOperationStatus removes the
//! status; an acknowledged terminal status removes the operation. After a restart,
//! `recovery.rs` reads the checkpoint back and the statuses go out again.
//!
//! Mirrors src/slave/slave.cpp `Slave::applyOperation`, `Slave::updateOperation`,
//! `Slave::operationStatusAcknowledgement` and src/status_update_manager's
//! `OperationStatusUpdateManager` (one stream per operation, retried until acknowledged).
//! Differences: the checkpoint is one snapshot per agent rather than a stream file per
//! operation, and ReconcileOperationsMessage (only used for resource providers) is not sent.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use remesos_proto::internal as wire;
use remesos_proto::v1;
use wire::agent_message::Message as ToMaster;

use super::status_update::Retry;
use super::{Agent, Effect, Time, paths};
use crate::common::id::AgentId;

/// The checkpoint's file name under `meta/slaves/<agent id>/`.
pub const CHECKPOINT: &str = "operations.state";

/// What [`Operations`] asks the agent to do.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Rewrite the checkpoint with this snapshot.
    Checkpoint(wire::OperationCheckpoint),
    /// Send this status to the master.
    Forward(Box<wire::UpdateOperationStatus>),
}

#[derive(Debug)]
struct Pending {
    operation: v1::Operation,
    /// Statuses not yet acknowledged, oldest first; the front one is in flight.
    unacknowledged: VecDeque<wire::UpdateOperationStatus>,
    retry: Retry,
}

impl Pending {
    fn new(operation: v1::Operation) -> Pending {
        Pending {
            operation,
            unacknowledged: VecDeque::new(),
            retry: Retry::new(),
        }
    }
}

/// The agent's operations by operation uuid. A state machine: time comes in as `now`, the
/// status uuid of a new status is given by the caller.
#[derive(Debug, Default)]
pub struct Operations {
    operations: BTreeMap<Vec<u8>, Pending>,
    /// Whether the master is reachable; statuses wait (checkpointed) while it is not.
    pub connected: bool,
}

impl Operations {
    /// Applies an operation of the master's (its resources are already checkpointed): the
    /// operation is recorded with OPERATION_FINISHED, whose uuid is `status_uuid`. A uuid
    /// already known, or one that is not 16 bytes, is ignored.
    pub fn apply(
        &mut self,
        now: Instant,
        agent_id: &str,
        apply: wire::ApplyOperation,
        status_uuid: [u8; 16],
    ) -> Vec<Action> {
        let uuid = apply.operation_uuid.value.clone();
        if uuid.len() != 16 || self.operations.contains_key(&uuid) {
            tracing::warn!(
                operation_uuid = ?uuid,
                "ignoring an operation with an invalid or known uuid"
            );
            return vec![];
        }
        let agent = v1::AgentId {
            value: agent_id.to_string(),
        };
        let status = v1::OperationStatus {
            operation_id: apply.operation_info.id.clone(),
            state: v1::OperationState::OperationFinished as i32,
            message: None,
            converted_resources: vec![],
            uuid: Some(v1::Uuid {
                value: status_uuid.to_vec(),
            }),
            agent_id: Some(agent.clone()),
            resource_provider_id: None,
        };
        let operation = v1::Operation {
            framework_id: apply.framework_id.clone(),
            agent_id: Some(agent.clone()),
            info: apply.operation_info,
            latest_status: status.clone(),
            statuses: vec![status.clone()],
            uuid: apply.operation_uuid.clone(),
        };
        let update = wire::UpdateOperationStatus {
            framework_id: apply.framework_id,
            status: status.clone(),
            latest_status: Some(status),
            operation_uuid: apply.operation_uuid,
            agent_id: Some(agent),
        };
        let mut pending = Pending::new(operation);
        pending.unacknowledged.push_back(update.clone());
        let mut actions = Vec::new();
        if self.connected {
            pending.retry.sent(now);
            actions.push(Action::Forward(Box::new(update)));
        }
        self.operations.insert(uuid, pending);
        actions.insert(0, Action::Checkpoint(self.checkpoint()));
        actions
    }

    /// The master acknowledged `status_uuid` of the operation `operation_uuid`: the status
    /// stops being retried, the next one (if any) goes out, and an operation whose
    /// acknowledged status is terminal is forgotten. Anything else is ignored.
    pub fn acknowledge(
        &mut self,
        now: Instant,
        ack: &wire::AcknowledgeOperationStatus,
    ) -> Vec<Action> {
        let Some(pending) = self.operations.get_mut(&ack.operation_uuid.value) else {
            tracing::warn!(
                "dropping an operation status acknowledgement: the operation is unknown"
            );
            return vec![];
        };
        let head = pending
            .unacknowledged
            .front()
            .and_then(|u| u.status.uuid.as_ref())
            .map(|u| u.value.as_slice());
        if head != Some(ack.status_uuid.value.as_slice()) {
            tracing::warn!("dropping an acknowledgement of an operation status not in flight");
            return vec![];
        }
        let Some(acknowledged) = pending.unacknowledged.pop_front() else {
            return vec![];
        };
        pending.retry.restart();
        let mut actions = Vec::new();
        if crate::common::protocol::is_terminal_operation(acknowledged.status.state)
            && pending.unacknowledged.is_empty()
        {
            self.operations.remove(&ack.operation_uuid.value);
        } else if self.connected
            && let Some(next) = pending.unacknowledged.front().cloned()
        {
            pending.retry.sent(now);
            actions.push(Action::Forward(Box::new(next)));
        }
        actions.insert(0, Action::Checkpoint(self.checkpoint()));
        actions
    }

    /// When the next status in flight is due again (none while disconnected).
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.connected {
            return None;
        }
        self.operations
            .values()
            .filter(|p| !p.unacknowledged.is_empty())
            .filter_map(|p| p.retry.deadline())
            .min()
    }

    /// Statuses whose retry interval elapsed (or that were never sent), sent again.
    pub fn retry(&mut self, now: Instant) -> Vec<Action> {
        if !self.connected {
            return vec![];
        }
        let mut out = Vec::new();
        for pending in self.operations.values_mut() {
            let Some(head) = pending.unacknowledged.front().cloned() else {
                continue;
            };
            if pending.retry.due(now) {
                pending.retry.sent(now);
                out.push(Action::Forward(Box::new(head)));
            }
        }
        out
    }

    /// After (re)registering with a master, every status in flight goes out again.
    pub fn resend_all(&mut self, now: Instant) -> Vec<Action> {
        for pending in self.operations.values_mut() {
            pending.retry.restart();
        }
        self.retry(now)
    }

    /// The operations for Reregister: a new master learns them from here.
    pub fn reported(&self) -> Vec<v1::Operation> {
        self.operations
            .values()
            .map(|p| p.operation.clone())
            .collect()
    }

    /// Takes up a checkpoint after a restart; the statuses go out once registered.
    pub fn recover(&mut self, checkpoint: wire::OperationCheckpoint) {
        for record in checkpoint.operations {
            let uuid = record.operation.uuid.value.clone();
            if uuid.len() != 16 {
                continue;
            }
            let mut pending = Pending::new(record.operation);
            pending.unacknowledged = record.unacknowledged.into();
            self.operations.insert(uuid, pending);
        }
    }

    pub fn len(&self) -> usize {
        self.operations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    fn checkpoint(&self) -> wire::OperationCheckpoint {
        wire::OperationCheckpoint {
            operations: self
                .operations
                .values()
                .map(|p| wire::PendingOperation {
                    operation: p.operation.clone(),
                    unacknowledged: p.unacknowledged.iter().cloned().collect(),
                })
                .collect(),
        }
    }
}

/// Reads `meta/slaves/<agent id>/operations.state`; a missing file is no operations, an
/// unreadable one is an error (the agent does not start on a corrupt checkpoint).
pub fn read_checkpoint(
    work_dir: &std::path::Path,
    agent_id: &AgentId,
) -> Result<wire::OperationCheckpoint, String> {
    use prost::Message;
    let path = paths::meta_slave_dir(work_dir, agent_id).join(CHECKPOINT);
    match std::fs::read(&path) {
        Ok(data) => wire::OperationCheckpoint::decode(data.as_slice())
            .map_err(|e| format!("failed to read {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(format!("failed to read {}: {e}", path.display())),
    }
}

impl Agent {
    /// ApplyOperation from the master (Mesos's `Slave::applyOperation` for the agent's
    /// default resources).
    pub(super) fn apply_operation(&mut self, now: Time, apply: wire::ApplyOperation) {
        let status_uuid = *uuid::Uuid::new_v4().as_bytes();
        let agent_id = self.agent_id();
        let actions = self
            .operations
            .apply(now.mono, &agent_id, apply, status_uuid);
        self.perform_operations(actions);
    }

    /// AcknowledgeOperationStatus from the master.
    pub(super) fn acknowledge_operation(
        &mut self,
        now: Time,
        ack: wire::AcknowledgeOperationStatus,
    ) {
        let actions = self.operations.acknowledge(now.mono, &ack);
        self.perform_operations(actions);
    }

    pub(super) fn perform_operations(&mut self, actions: Vec<Action>) {
        use prost::Message;
        for action in actions {
            match action {
                Action::Checkpoint(snapshot) => {
                    // The path is built from the agent's own id, validated when the master
                    // assigned it.
                    let Some(id) = self.id.as_deref().and_then(|i| AgentId::new(i).ok()) else {
                        tracing::error!("operation checkpoint without a valid agent id");
                        continue;
                    };
                    self.emit(Effect::Persist {
                        path: paths::meta_slave_dir(&self.config.work_dir, &id).join(CHECKPOINT),
                        data: snapshot.encode_to_vec(),
                        append: false,
                        durable: true,
                    });
                }
                Action::Forward(update) => self.emit(Effect::Master(Box::new(
                    ToMaster::UpdateOperationStatus(*update),
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::status_update::{RETRY_MAX, RETRY_MIN};

    fn apply(uuid: u8, id: &str) -> wire::ApplyOperation {
        wire::ApplyOperation {
            framework_id: Some(v1::FrameworkId { value: "f1".into() }),
            operation_info: v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Reserve as i32),
                id: Some(v1::OperationId { value: id.into() }),
                ..Default::default()
            },
            operation_uuid: v1::Uuid {
                value: vec![uuid; 16],
            },
        }
    }

    fn forwarded(actions: &[Action]) -> Vec<Vec<u8>> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Forward(u) => u.status.uuid.as_ref().map(|u| u.value.clone()),
                Action::Checkpoint(_) => None,
            })
            .collect()
    }

    fn ack(op: u8, status: u8) -> wire::AcknowledgeOperationStatus {
        wire::AcknowledgeOperationStatus {
            status_uuid: v1::Uuid {
                value: vec![status; 16],
            },
            operation_uuid: v1::Uuid {
                value: vec![op; 16],
            },
        }
    }

    /// Mesos's `Slave::applyOperation`: a speculative operation on default resources is
    /// answered OPERATION_FINISHED at once (no OPERATION_PENDING), checkpointed before it
    /// is sent.
    #[test]
    fn an_applied_operation_is_checkpointed_then_finished_with_its_id_and_agent() {
        let now = Instant::now();
        let mut ops = Operations {
            connected: true,
            ..Default::default()
        };
        let actions = ops.apply(now, "a1", apply(1, "op-1"), [9; 16]);
        assert!(matches!(&actions[0], Action::Checkpoint(c) if c.operations.len() == 1));
        let Action::Forward(update) = &actions[1] else {
            panic!("expected a forward: {actions:?}");
        };
        assert_eq!(
            update.status.state,
            v1::OperationState::OperationFinished as i32
        );
        assert_eq!(update.status.operation_id.as_ref().unwrap().value, "op-1");
        assert_eq!(update.status.agent_id.as_ref().unwrap().value, "a1");
        assert_eq!(update.operation_uuid.value, vec![1; 16]);
        assert_eq!(ops.reported().len(), 1);
    }

    #[test]
    fn unacknowledged_statuses_are_retried_with_backoff_and_stop_when_acknowledged() {
        let t0 = Instant::now();
        let mut ops = Operations {
            connected: true,
            ..Default::default()
        };
        ops.apply(t0, "a1", apply(1, "op-1"), [9; 16]);
        assert_eq!(ops.next_deadline(), Some(t0 + RETRY_MIN));
        assert!(ops.retry(t0 + RETRY_MIN / 2).is_empty());
        let t1 = t0 + RETRY_MIN;
        assert_eq!(forwarded(&ops.retry(t1)), vec![vec![9; 16]]);
        // The interval doubled.
        assert_eq!(ops.next_deadline(), Some(t1 + RETRY_MIN * 2));
        // A wrong status uuid changes nothing.
        assert!(ops.acknowledge(t1, &ack(1, 8)).is_empty());
        let actions = ops.acknowledge(t1, &ack(1, 9));
        assert!(matches!(&actions[..], [Action::Checkpoint(c)] if c.operations.is_empty()));
        assert!(ops.is_empty());
        assert_eq!(ops.next_deadline(), None);
    }

    #[test]
    fn statuses_wait_while_the_master_is_away_and_go_out_on_reregistration() {
        let t0 = Instant::now();
        let mut ops = Operations::default();
        let actions = ops.apply(t0, "a1", apply(1, "op-1"), [9; 16]);
        assert!(forwarded(&actions).is_empty(), "checkpointed, not sent");
        assert_eq!(ops.next_deadline(), None);
        assert!(ops.retry(t0 + RETRY_MAX).is_empty());
        ops.connected = true;
        assert_eq!(forwarded(&ops.resend_all(t0)), vec![vec![9; 16]]);
    }

    #[test]
    fn a_recovered_checkpoint_resends_what_was_not_acknowledged() {
        let t0 = Instant::now();
        let mut before = Operations {
            connected: true,
            ..Default::default()
        };
        let mut checkpoint = None;
        for action in before.apply(t0, "a1", apply(1, "op-1"), [9; 16]) {
            if let Action::Checkpoint(c) = action {
                checkpoint = Some(c);
            }
        }
        // The agent restarts before the acknowledgement.
        let mut after = Operations::default();
        after.recover(checkpoint.unwrap());
        assert_eq!(after.reported()[0].info.id.as_ref().unwrap().value, "op-1");
        after.connected = true;
        assert_eq!(forwarded(&after.resend_all(t0)), vec![vec![9; 16]]);
        assert!(!after.acknowledge(t0, &ack(1, 9)).is_empty());
        assert!(after.is_empty());
    }

    #[test]
    fn a_known_or_malformed_operation_uuid_is_ignored() {
        let t0 = Instant::now();
        let mut ops = Operations::default();
        assert!(!ops.apply(t0, "a1", apply(1, "op-1"), [9; 16]).is_empty());
        assert!(ops.apply(t0, "a1", apply(1, "op-2"), [8; 16]).is_empty());
        let mut short = apply(2, "op-3");
        short.operation_uuid.value = vec![1, 2, 3];
        assert!(ops.apply(t0, "a1", short, [7; 16]).is_empty());
        assert_eq!(ops.len(), 1);
    }
}
