//! A task as the master keeps it: its protobuf encoding, not a prost `v1::Task` (issue 19).
//!
//! prost keeps every optional sub-message of a message inline, so a `v1::Task` is 1,368 bytes
//! before its heap parts and each of its `Resource`s 1,232 (`cargo bench -p remesos --bench
//! scale -- --sizes`): a running task with three resources and two statuses cost the master
//! ~7.4 KiB, 7.5 GB at a million tasks. The master reads most of a task only when it shows
//! it (state dumps, reconciliation, the operator's events), and changes only its state, its
//! statuses and the latest status update's state and uuid. So a [`TaskRecord`] holds:
//!
//! - the fields that never change after launch as prost wrote them (`fixed`: name, the ids,
//!   the resources, labels, discovery, container, user, health check, kill policy, limits),
//!   in one refcounted [`Bytes`];
//! - the statuses as their encoded field-8 records (`statuses`, another [`Bytes`]), a status
//!   update appends one (the master never edits a kept status);
//! - `state`, `status_update_state` and `status_update_uuid` as plain fields.
//!
//! [`TaskRecord::encode`] writes exactly the bytes `prost::Message::encode` gives for the
//! `v1::Task` (fields in number order: 1-5, 6, 7, 8, 9, 10, 11-17), so the state dumps copy
//! records instead of encoding messages, and a snapshot of every task is a clone of two
//! `Bytes` handles per task. The rare paths that want a message decode one
//! ([`TaskRecord::task`]); the ids and resources decode from their own part of `fixed`.

use bytes::Bytes;
use prost::Message;
use prost::encoding::{WireType, decode_key, decode_varint, encoded_len_varint, message};

use remesos_proto::v1;

use crate::security::authorizer::Viewer;

/// A task in the master's books (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRecord {
    /// Fields 1-5, then 7, then 11 and up, each as prost encoded it.
    fixed: Bytes,
    /// Where fields 1-5 end in `fixed` (and the resources begin).
    head_end: u32,
    /// Where the resources (field 7) end in `fixed` (and fields 11 and up begin).
    resources_end: u32,
    /// `Task.state` (a `v1::TaskState`).
    pub state: i32,
    /// `Task.statuses`, each as its encoded field-8 record, oldest first.
    statuses: Bytes,
    pub status_update_state: Option<i32>,
    /// `Task.status_update_uuid` (a `Bytes`: a snapshot of the task copies no uuid).
    pub status_update_uuid: Option<Bytes>,
}

/// The top-level fields of an encoded message: (field number, the field's bytes with key).
fn fields(mut wire: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    std::iter::from_fn(move || {
        if wire.is_empty() {
            return None;
        }
        let start = wire;
        let (tag, wire_type) = decode_key(&mut wire).ok()?;
        let body = match wire_type {
            WireType::Varint => {
                decode_varint(&mut wire).ok()?;
                0
            }
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => decode_varint(&mut wire).ok()? as usize,
            // The master's own encodings hold no groups.
            WireType::StartGroup | WireType::EndGroup => return None,
        };
        let body = body.min(wire.len());
        wire = &wire[body..];
        let len = start.len() - wire.len();
        Some((tag, &start[..len]))
    })
}

impl TaskRecord {
    /// The record of `task`.
    pub fn new(mut task: v1::Task) -> Self {
        let state = task.state;
        let status_update_state = task.status_update_state.take();
        let status_update_uuid = task.status_update_uuid.take().map(Bytes::from);
        let statuses = std::mem::take(&mut task.statuses);
        let wire = task.encode_to_vec();
        let mut fixed = Vec::with_capacity(wire.len());
        for (tag, field) in fields(&wire) {
            if tag <= 5 {
                fixed.extend_from_slice(field);
            }
        }
        let head_end = fixed.len();
        for (tag, field) in fields(&wire) {
            if tag == 7 {
                fixed.extend_from_slice(field);
            }
        }
        let resources_end = fixed.len();
        for (tag, field) in fields(&wire) {
            if tag >= 11 {
                fixed.extend_from_slice(field);
            }
        }
        let mut encoded =
            Vec::with_capacity(statuses.iter().map(|s| message::encoded_len(8, s)).sum());
        for s in &statuses {
            message::encode(8, s, &mut encoded);
        }
        TaskRecord {
            fixed: Bytes::from(fixed),
            head_end: head_end as u32,
            resources_end: resources_end as u32,
            state,
            statuses: Bytes::from(encoded),
            status_update_state,
            status_update_uuid,
        }
    }

    /// The task as a message (decoded: for the rare paths).
    pub fn task(&self) -> v1::Task {
        let mut buf = Vec::with_capacity(self.encoded_len());
        self.encode(&mut buf);
        v1::Task::decode(buf.as_slice()).unwrap_or_default()
    }

    /// The task with only field `tag` of its head (1-5) decoded: the id accessors run in
    /// the master's loops over a framework's tasks (acknowledgements, agent removal), so
    /// each decodes its own id, not the name and the other ids beside it.
    fn head_field(&self, tag: u32) -> v1::Task {
        fields(&self.fixed[..self.head_end as usize])
            .find(|(t, _)| *t == tag)
            .and_then(|(_, field)| v1::Task::decode(field).ok())
            .unwrap_or_default()
    }

    pub fn task_id(&self) -> v1::TaskId {
        self.head_field(2).task_id
    }

    pub fn framework_id(&self) -> v1::FrameworkId {
        self.head_field(3).framework_id
    }

    pub fn executor_id(&self) -> Option<v1::ExecutorId> {
        self.head_field(4).executor_id
    }

    pub fn agent_id(&self) -> v1::AgentId {
        self.head_field(5).agent_id
    }

    /// `Task.resources`.
    pub fn resources(&self) -> Vec<v1::Resource> {
        let part = &self.fixed[self.head_end as usize..self.resources_end as usize];
        v1::Task::decode(part).unwrap_or_default().resources
    }

    /// `Task.user`.
    pub fn user(&self) -> Option<String> {
        let part = &self.fixed[self.resources_end as usize..];
        let user = fields(part).find(|(tag, _)| *tag == 14)?.1;
        v1::Task::decode(user).ok()?.user
    }

    /// `Task.statuses`.
    pub fn statuses(&self) -> Vec<v1::TaskStatus> {
        v1::Task::decode(&self.statuses[..])
            .unwrap_or_default()
            .statuses
    }

    /// The latest of `Task.statuses`.
    pub fn last_status(&self) -> Option<v1::TaskStatus> {
        let last = fields(&self.statuses).last()?.1;
        v1::Task::decode(last).ok()?.statuses.pop()
    }

    /// Appends `status` to the task's statuses.
    pub fn push_status(&mut self, status: &v1::TaskStatus) {
        let mut statuses =
            Vec::with_capacity(self.statuses.len() + message::encoded_len(8, status));
        statuses.extend_from_slice(&self.statuses);
        message::encode(8, status, &mut statuses);
        self.statuses = Bytes::from(statuses);
    }

    /// The length of [`TaskRecord::encode`]'s bytes.
    pub fn encoded_len(&self) -> usize {
        use prost::encoding::{bytes as pbytes, int32};
        self.fixed.len()
            + self.statuses.len()
            + int32::encoded_len(6, &self.state)
            + self
                .status_update_state
                .as_ref()
                .map_or(0, |s| int32::encoded_len(9, s))
            + self
                .status_update_uuid
                .as_ref()
                .map_or(0, |u| pbytes::encoded_len(10, u))
    }

    /// Writes the task's protobuf encoding: the bytes prost writes for [`TaskRecord::task`].
    pub fn encode(&self, buf: &mut Vec<u8>) {
        use prost::encoding::{bytes as pbytes, int32};
        let (head, rest) = self.fixed.split_at(self.head_end as usize);
        let (resources, tail) = rest.split_at((self.resources_end - self.head_end) as usize);
        buf.extend_from_slice(head);
        int32::encode(6, &self.state, buf);
        buf.extend_from_slice(resources);
        buf.extend_from_slice(&self.statuses);
        if let Some(s) = &self.status_update_state {
            int32::encode(9, s, buf);
        }
        if let Some(u) = &self.status_update_uuid {
            pbytes::encode(10, u, buf);
        }
        buf.extend_from_slice(tail);
    }

    /// The task as a length-delimited field `tag` of an enclosing message.
    pub fn encode_field(&self, tag: u32, buf: &mut Vec<u8>) {
        prost::encoding::encode_key(tag, WireType::LengthDelimited, buf);
        prost::encoding::encode_varint(self.encoded_len() as u64, buf);
        self.encode(buf);
    }

    /// The length of [`TaskRecord::encode_field`]'s bytes.
    pub fn field_len(&self, tag: u32) -> usize {
        let len = self.encoded_len();
        prost::encoding::key_len(tag) + encoded_len_varint(len as u64) + len
    }
}

/// `view_tasks` for a record (on the task's user, else the framework's); no decoding when
/// nothing is filtered.
pub fn viewable(v: &Viewer<'_>, task: &TaskRecord, framework: &v1::FrameworkInfo) -> bool {
    v.sees_everything()
        || v.task(
            &v1::Task {
                user: task.user(),
                ..Default::default()
            },
            framework,
        )
}

impl From<v1::Task> for TaskRecord {
    fn from(task: v1::Task) -> Self {
        TaskRecord::new(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(name: &str, value: f64) -> v1::Resource {
        v1::Resource {
            name: name.into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value }),
            ..Default::default()
        }
    }

    fn status(state: v1::TaskState, uuid: &[u8]) -> v1::TaskStatus {
        v1::TaskStatus {
            task_id: v1::TaskId { value: "t".into() },
            state: state as i32,
            uuid: Some(uuid.to_vec()),
            timestamp: Some(12.5),
            message: Some("m".into()),
            ..Default::default()
        }
    }

    fn full_task() -> v1::Task {
        v1::Task {
            name: "n".into(),
            task_id: v1::TaskId { value: "t".into() },
            framework_id: v1::FrameworkId { value: "f".into() },
            executor_id: Some(v1::ExecutorId { value: "e".into() }),
            agent_id: v1::AgentId { value: "a".into() },
            state: v1::TaskState::TaskRunning as i32,
            resources: vec![scalar("cpus", 0.5), scalar("mem", 32.0)],
            statuses: vec![
                status(v1::TaskState::TaskStarting, b"u1"),
                status(v1::TaskState::TaskRunning, b"u2"),
            ],
            status_update_state: Some(v1::TaskState::TaskRunning as i32),
            status_update_uuid: Some(b"u2".to_vec()),
            labels: Some(v1::Labels {
                labels: vec![v1::Label {
                    key: "k".into(),
                    value: Some("v".into()),
                }],
            }),
            user: Some("nobody".into()),
            kill_policy: Some(v1::KillPolicy::default()),
            ..Default::default()
        }
    }

    #[test]
    fn a_record_encodes_as_prost_encodes_its_task() {
        for task in [full_task(), v1::Task::default(), {
            let mut t = full_task();
            t.statuses.clear();
            t.executor_id = None;
            t.status_update_uuid = None;
            t.resources.clear();
            t
        }] {
            let record = TaskRecord::new(task.clone());
            let mut wire = Vec::new();
            record.encode(&mut wire);
            assert_eq!(wire, task.encode_to_vec());
            assert_eq!(record.encoded_len(), wire.len());
            assert_eq!(record.task(), task);
            assert_eq!(record.resources(), task.resources);
            assert_eq!(record.user(), task.user);
            assert_eq!(record.statuses(), task.statuses);
            assert_eq!(record.last_status(), task.statuses.last().cloned());
            assert_eq!(record.task_id(), task.task_id);
            assert_eq!(record.agent_id(), task.agent_id);
            assert_eq!(record.framework_id(), task.framework_id);
            assert_eq!(record.executor_id(), task.executor_id);
        }
    }

    #[test]
    fn a_pushed_status_is_the_last_of_the_decoded_task() {
        let mut task = full_task();
        let mut record = TaskRecord::new(task.clone());
        let lost = status(v1::TaskState::TaskLost, b"u3");
        record.push_status(&lost);
        record.state = v1::TaskState::TaskLost as i32;
        record.status_update_state = None;
        task.statuses.push(lost);
        task.state = v1::TaskState::TaskLost as i32;
        task.status_update_state = None;
        let mut wire = Vec::new();
        record.encode_field(3, &mut wire);
        assert_eq!(wire.len(), record.field_len(3));
        assert_eq!(record.task(), task);
        assert_eq!(
            &wire[wire.len() - task.encoded_len()..],
            task.encode_to_vec()
        );
    }
}
