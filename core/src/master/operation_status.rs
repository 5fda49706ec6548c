//! Operation feedback: RESERVE, UNRESERVE, CREATE and DESTROY of an ACCEPT that carry an
//! `id` get UPDATE_OPERATION_STATUS events, as Mesos 1.11 sends them for an agent's
//! default resources.
//!
//! Data flow:
//!
//! ```text
//!  ACCEPT (operation with id) ── invalid ──> OPERATION_ERROR (no agent, no uuid), nothing changed
//!        │ valid: applied here (operation.rs), CheckpointResources + ApplyOperation to the agent
//!        v
//!  agent (agent/operations.rs): OPERATION_FINISHED, checkpointed, retried until acknowledged
//!        │ UpdateOperationStatus
//!        v
//!  here: recorded on the operation, forwarded to the framework (or acknowledged here when
//!        the framework is completed)
//!  ACKNOWLEDGE_OPERATION_STATUS ──> AcknowledgeOperationStatus to the agent; a terminal
//!        acknowledged status removes the operation
//!  RECONCILE_OPERATIONS ──> the latest status of known operations (without uuid), else
//!        OPERATION_RECOVERING / _UNREACHABLE / _GONE_BY_OPERATOR / _UNKNOWN by the agent's state
//! ```
//!
//! An agent's reregistration reports the operations it still holds (a new leader learns them
//! there); an agent marked unreachable or gone sends OPERATION_UNREACHABLE or
//! OPERATION_GONE_BY_OPERATOR for its operations and takes them out of the master.
//! OPERATION_PENDING is never sent: Mesos keeps it as the master's latest status only.
//! OPERATION_DROPPED is not sent: Mesos sends it for resource providers' stale resource
//! versions, which remesos has none of.
//!
//! Follows src/master/master.cpp `Master::drop(Framework*, const Offer::Operation&, ...)`,
//! `Master::accept` (the `id` checks), `Master::_apply`, `Master::updateOperationStatus`,
//! `Master::acknowledgeOperationStatus`, `Master::reconcileOperations`,
//! `Master::sendBulkOperationFeedback`; src/master/validation.cpp for the calls.

use std::collections::HashMap;

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::OperationState as S;
use v1::scheduler as sched;

use super::{Master, Time};
use crate::common::id::{AgentId, FrameworkId};
use crate::common::protocol::{agent_has_capability, is_terminal_operation};

/// One operation with an id, as the master knows it.
#[derive(Clone, Debug)]
pub struct Record {
    pub framework_id: FrameworkId,
    pub agent_id: AgentId,
    pub info: v1::offer::Operation,
    /// The statuses received from the agent, oldest first (Mesos's `Operation.statuses`).
    pub statuses: Vec<v1::OperationStatus>,
    /// OPERATION_PENDING until the agent reports (Mesos's `Operation.latest_status`).
    pub latest: v1::OperationStatus,
    /// The operation's uuid, 16 bytes.
    pub uuid: Vec<u8>,
}

impl Record {
    /// The status reconciliation answers with: the last one received, else the latest
    /// known, never with a uuid (it is not sent reliably).
    fn reconciled(&self) -> v1::OperationStatus {
        let mut status = self
            .statuses
            .last()
            .cloned()
            .unwrap_or_else(|| self.latest.clone());
        status.uuid = None;
        status
    }
}

/// The master's operations with ids, by operation uuid, with an index by framework and
/// operation id. Invariant: `by_id` maps exactly the records of `by_uuid`.
#[derive(Debug, Default)]
pub struct Operations {
    by_uuid: HashMap<Vec<u8>, Record>,
    by_id: HashMap<(FrameworkId, String), Vec<u8>>,
}

impl Operations {
    pub fn insert(&mut self, record: Record) {
        let key = (
            record.framework_id.clone(),
            record.info.id.clone().map(|i| i.value).unwrap_or_default(),
        );
        // An id used again names the new operation (Mesos's `operationUUIDs.put`).
        if let Some(old) = self.by_id.insert(key, record.uuid.clone()) {
            self.by_uuid.remove(&old);
        }
        self.by_uuid.insert(record.uuid.clone(), record);
    }

    pub fn remove(&mut self, uuid: &[u8]) -> Option<Record> {
        let record = self.by_uuid.remove(uuid)?;
        let key = (
            record.framework_id.clone(),
            record.info.id.clone().map(|i| i.value).unwrap_or_default(),
        );
        if self.by_id.get(&key).is_some_and(|u| u.as_slice() == uuid) {
            self.by_id.remove(&key);
        }
        Some(record)
    }

    pub fn get(&self, framework_id: &FrameworkId, operation_id: &str) -> Option<&Record> {
        let uuid = self
            .by_id
            .get(&(framework_id.clone(), operation_id.to_string()))?;
        self.by_uuid.get(uuid)
    }

    pub fn by_uuid(&self, uuid: &[u8]) -> Option<&Record> {
        self.by_uuid.get(uuid)
    }

    fn by_uuid_mut(&mut self, uuid: &[u8]) -> Option<&mut Record> {
        self.by_uuid.get_mut(uuid)
    }

    /// The operations of a framework.
    pub fn of_framework<'a>(
        &'a self,
        framework_id: &'a str,
    ) -> impl Iterator<Item = &'a Record> + 'a {
        self.by_uuid
            .values()
            .filter(move |r| r.framework_id.as_str() == framework_id)
    }

    /// Takes out the operations on an agent.
    pub fn remove_agent(&mut self, agent_id: &str) -> Vec<Record> {
        let uuids: Vec<Vec<u8>> = self
            .by_uuid
            .values()
            .filter(|r| r.agent_id.as_str() == agent_id)
            .map(|r| r.uuid.clone())
            .collect();
        uuids.iter().filter_map(|u| self.remove(u)).collect()
    }

    pub fn len(&self) -> usize {
        self.by_uuid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_uuid.is_empty()
    }
}

/// Mesos's `protobuf::createOperationStatus` without converted resources.
fn status(
    state: S,
    operation_id: Option<v1::OperationId>,
    message: Option<&str>,
    agent_id: Option<&str>,
) -> v1::OperationStatus {
    v1::OperationStatus {
        operation_id,
        state: state as i32,
        message: message.map(str::to_string),
        converted_resources: vec![],
        uuid: None,
        agent_id: agent_id.map(|a| v1::AgentId {
            value: a.to_string(),
        }),
        resource_provider_id: None,
    }
}

fn update_event(status: v1::OperationStatus) -> sched::Event {
    sched::Event {
        r#type: Some(sched::event::Type::UpdateOperationStatus as i32),
        update_operation_status: Some(sched::event::UpdateOperationStatus { status }),
        ..Default::default()
    }
}

impl Master {
    /// Mesos's `Master::drop` for an operation: OPERATION_ERROR with `message` when the
    /// operation has an id (no agent id, no uuid: not sent reliably); logged either way.
    pub(super) fn operation_error(
        &mut self,
        framework_id: &str,
        operation: &v1::offer::Operation,
        message: &str,
    ) {
        let ty = operation.r#type().as_str_name();
        tracing::warn!(framework_id, operation = ty, message, "dropping operation");
        let Some(id) = operation.id.clone() else {
            return;
        };
        let event = update_event(status(S::OperationError, Some(id), Some(message), None));
        self.send_to_framework(framework_id, event);
    }

    /// An ACCEPT whose offers are invalid: every operation but LAUNCH and LAUNCH_GROUP ends
    /// OPERATION_ERROR (Mesos's `Master::accept`).
    pub(super) fn drop_operations_of_invalid_offers(
        &mut self,
        framework_id: &str,
        operations: &[v1::offer::Operation],
        error: &str,
    ) {
        use v1::offer::operation::Type as T;
        for operation in operations {
            if matches!(operation.r#type(), T::Launch | T::LaunchGroup) {
                continue;
            }
            let message = format!("Operation attempted with invalid offers: {error}");
            self.operation_error(framework_id, operation, &message);
        }
    }

    /// A resource operation with an id (Mesos's `Master::accept` checks and `_apply` on an
    /// agent with AGENT_OPERATION_FEEDBACK): applied as one without an id, then recorded
    /// OPERATION_PENDING and sent to the agent, which answers with its status. Invalid
    /// ones end OPERATION_ERROR and change nothing.
    pub(super) fn apply_with_feedback(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        available: &mut crate::resources::Resources,
        operation: v1::offer::Operation,
    ) {
        let Some(id) = operation.id.clone() else {
            return;
        };
        let capable = self.agents.get(agent_id).is_some_and(|a| {
            agent_has_capability(
                &a.capabilities,
                v1::agent_info::capability::Type::AgentOperationFeedback,
            )
        });
        if !capable {
            let message = format!(
                "Operation on agent default resources requested feedback, but agent {agent_id} \
                 does not have the required AGENT_OPERATION_FEEDBACK and RESOURCE_PROVIDER \
                 capabilities"
            );
            self.operation_error(framework_id, &operation, &message);
            return;
        }
        let ty = operation.r#type();
        if let Err(error) =
            self.apply_resource_operation(framework_id, agent_id, available, ty, operation.clone())
        {
            self.operation_error(framework_id, &operation, &error.to_string());
            return;
        }
        let keys = self
            .frameworks
            .get_key_value(framework_id)
            .map(|(k, _)| k.clone())
            .zip(self.agents.get_key_value(agent_id).map(|(k, _)| k.clone()));
        let Some((framework_key, agent_key)) = keys else {
            return;
        };
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        tracing::info!(framework_id, agent_id, operation_id = %id.value, operation = ty.as_str_name(), "sending operation to the agent");
        self.operations.insert(Record {
            framework_id: framework_key.clone(),
            agent_id: agent_key,
            info: operation.clone(),
            statuses: vec![],
            latest: status(S::OperationPending, Some(id), None, Some(agent_id)),
            uuid: uuid.clone(),
        });
        self.send_to_agent(
            agent_id,
            wire::master_message::Message::ApplyOperation(wire::ApplyOperation {
                framework_id: Some(framework_key.to_proto()),
                operation_info: operation,
                operation_uuid: v1::Uuid { value: uuid },
            }),
        );
    }

    /// An operation status from an agent (Mesos's `Master::updateOperationStatus`).
    pub fn agent_operation_status(
        &mut self,
        _now: Time,
        agent_id: &str,
        mut update: wire::UpdateOperationStatus,
    ) {
        let valid = update.operation_uuid.value.len() == 16
            && S::try_from(update.status.state).is_ok()
            && update
                .status
                .uuid
                .as_ref()
                .is_none_or(|u| u.value.len() == 16);
        if !valid {
            tracing::warn!(agent_id, "ignoring a malformed operation status update");
            return;
        }
        let uuid = update.operation_uuid.value.clone();
        let known = self
            .operations
            .by_uuid(&uuid)
            .is_some_and(|r| r.agent_id.as_str() == agent_id);
        if !known {
            // A duplicate of a status already acknowledged (the operation is gone here),
            // or an operation this master never heard of: nothing to record.
            tracing::warn!(agent_id, "ignoring a status update of an unknown operation");
            return;
        }
        let Some(record) = self.operations.by_uuid_mut(&uuid) else {
            return;
        };
        update.status.operation_id = record.info.id.clone();
        update.status.agent_id = Some(record.agent_id.to_proto());
        record.statuses.push(update.status.clone());
        record.latest = update.status.clone();
        let framework_id = record.framework_id.clone();
        let terminal = is_terminal_operation(update.status.state);
        let reliable = update.status.uuid.is_some();
        let completed = self
            .completed_frameworks
            .iter()
            .any(|f| f.id == framework_id);
        if !completed {
            tracing::info!(%framework_id, agent_id, "forwarding an operation status update");
            self.send_to_framework(framework_id.as_str(), update_event(update.status.clone()));
            if terminal && !reliable {
                self.operations.remove(&uuid);
            }
            return;
        }
        // Nobody will acknowledge: the master does (its framework is gone).
        if let Some(status_uuid) = update.status.uuid.clone() {
            self.send_to_agent(
                agent_id,
                wire::master_message::Message::AcknowledgeOperationStatus(
                    wire::AcknowledgeOperationStatus {
                        status_uuid,
                        operation_uuid: v1::Uuid {
                            value: uuid.clone(),
                        },
                    },
                ),
            );
        }
        if terminal {
            self.operations.remove(&uuid);
        }
    }

    /// ACKNOWLEDGE_OPERATION_STATUS (validated: a 16-byte uuid and an agent id).
    pub(super) fn acknowledge_operation_status(
        &mut self,
        framework_id: &str,
        ack: sched::call::AcknowledgeOperationStatus,
    ) {
        let operation_id = ack.operation_id.value;
        let agent_id = ack.agent_id.map(|a| a.value).unwrap_or_default();
        let connected = self.agents.get(&agent_id).is_some_and(|a| a.conn.is_some());
        if !connected {
            tracing::warn!(framework_id, %operation_id, %agent_id, "cannot send an operation status acknowledgement: the agent is not registered or disconnected");
            return;
        }
        let Some(key) = self
            .frameworks
            .get_key_value(framework_id)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        let Some(record) = self.operations.get(&key, &operation_id) else {
            tracing::warn!(framework_id, %operation_id, "cannot send an operation status acknowledgement: the operation is unknown");
            return;
        };
        let acknowledged = record.statuses.iter().find(|s| {
            s.uuid
                .as_ref()
                .is_some_and(|u| u.value.as_slice() == ack.uuid.as_slice())
        });
        let Some(acknowledged) = acknowledged else {
            tracing::warn!(framework_id, %operation_id, "ignoring an acknowledgement of an unknown operation status");
            return;
        };
        let terminal = is_terminal_operation(acknowledged.state);
        let uuid = record.uuid.clone();
        if record.agent_id.as_str() != agent_id {
            tracing::warn!(framework_id, %operation_id, %agent_id, "ignoring an operation status acknowledgement for another agent");
            return;
        }
        if terminal {
            self.operations.remove(&uuid);
        }
        self.send_to_agent(
            &agent_id,
            wire::master_message::Message::AcknowledgeOperationStatus(
                wire::AcknowledgeOperationStatus {
                    status_uuid: v1::Uuid { value: ack.uuid },
                    operation_uuid: v1::Uuid { value: uuid },
                },
            ),
        );
    }

    /// RECONCILE_OPERATIONS (Mesos's `Master::reconcileOperations`): implicit (no
    /// operations named) answers every known operation of the framework; explicit answers
    /// each named one by what is known of it and of its agent.
    pub(super) fn reconcile_operations(
        &mut self,
        framework_id: &str,
        reconcile: sched::call::ReconcileOperations,
    ) {
        let Some(key) = self
            .frameworks
            .get_key_value(framework_id)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        let mut statuses = Vec::new();
        if reconcile.operations.is_empty() {
            let mut known: Vec<&Record> = self.operations.of_framework(framework_id).collect();
            known.sort_by(|a, b| {
                a.info
                    .id
                    .as_ref()
                    .map(|i| &i.value)
                    .cmp(&b.info.id.as_ref().map(|i| &i.value))
            });
            statuses.extend(known.into_iter().map(Record::reconciled));
        }
        for wanted in reconcile.operations {
            let id = wanted.operation_id;
            let agent = wanted.agent_id.map(|a| a.value);
            let a = agent.as_deref();
            let status = if let Some(record) = self.operations.get(&key, &id.value) {
                record.reconciled()
            } else {
                let (state, message) = match a {
                    Some(a) if self.recovered_agents.contains_key(a) => (
                        S::OperationRecovering,
                        "Reconciliation: Agent is recovered but has not re-registered",
                    ),
                    Some(a) if self.agents.contains_key(a) => {
                        (S::OperationUnknown, "Reconciliation: Operation is unknown")
                    }
                    Some(a) if self.unreachable_agents.contains_key(a) => (
                        S::OperationUnreachable,
                        "Reconciliation: Agent is unreachable",
                    ),
                    Some(a) if self.gone_agents.contains_key(a) => (
                        S::OperationGoneByOperator,
                        "Reconciliation: Agent marked gone by operator",
                    ),
                    Some(_) => (
                        S::OperationUnknown,
                        "Reconciliation: Both operation and agent are unknown",
                    ),
                    None => (
                        S::OperationUnknown,
                        "Reconciliation: Operation is unknown and no 'agent_id' was provided",
                    ),
                };
                status(state, Some(id), Some(message), a)
            };
            statuses.push(status);
        }
        for status in statuses {
            self.send_to_framework(framework_id, update_event(status));
        }
    }

    /// An agent leaves (unreachable, or gone when `gone`): its operations' frameworks get
    /// OPERATION_UNREACHABLE or OPERATION_GONE_BY_OPERATOR, not reliably (Mesos's
    /// `sendBulkOperationFeedback`), and the master forgets the operations; reconciliation
    /// answers from the agent's state from then on.
    pub(super) fn operations_of_removed_agent(&mut self, agent_id: &str, gone: bool) {
        let (state, message) = if gone {
            (S::OperationGoneByOperator, "Agent has been marked gone")
        } else {
            (S::OperationUnreachable, "Agent was marked unreachable")
        };
        let mut removed = self.operations.remove_agent(agent_id);
        removed.sort_by(|a, b| {
            a.info
                .id
                .as_ref()
                .map(|i| &i.value)
                .cmp(&b.info.id.as_ref().map(|i| &i.value))
        });
        for record in removed {
            let event = update_event(status(
                state,
                record.info.id.clone(),
                Some(message),
                Some(agent_id),
            ));
            self.send_to_framework(record.framework_id.as_str(), event);
        }
    }

    /// The operations a reregistering agent still holds: the master takes up those it does
    /// not know (after a failover, or back from unreachable).
    pub(super) fn operations_reregistered(
        &mut self,
        agent_id: &AgentId,
        reported: &[v1::Operation],
    ) {
        for operation in reported {
            if operation.uuid.value.len() != 16
                || self.operations.by_uuid(&operation.uuid.value).is_some()
                || operation.info.id.is_none()
            {
                continue;
            }
            let Some(framework_id) = operation
                .framework_id
                .as_ref()
                .and_then(|f| FrameworkId::new(f.value.as_str()).ok())
            else {
                continue;
            };
            self.operations.insert(Record {
                framework_id,
                agent_id: agent_id.clone(),
                info: operation.info.clone(),
                statuses: operation.statuses.clone(),
                latest: operation.latest_status.clone(),
                uuid: operation.uuid.value.clone(),
            });
        }
    }
}
