//! The big state dumps (GET_STATE, GET_TASKS, the operator SUBSCRIBE's SUBSCRIBED) written as
//! protobuf wire bytes straight from references to the master's tasks (issue 19).
//!
//! Building a `GetState` clones every `Task` (its statuses, resources, labels) into a message
//! that lives only to be encoded: at 100,000 tasks that was half of a dump's cost and
//! ~0.5 GiB of short-lived heap, all of it inside the master's actor. Here the actor encodes
//! each task from its reference (prost encodes borrowed messages) into one buffer and lets
//! go; the JSON, when asked for, is transcoded from those bytes off the actor
//! (`remesos_proto::json::write_wire`), giving byte-for-byte what `json::to_vec` of the
//! cloned message gave (the test below compares both on a state with tasks in every list).
//!
//! The smaller parts of GET_STATE (executors, frameworks with their offers, agents) are still
//! built as messages: they scale with agents and frameworks, not with tasks.
//!
//! Wire layout (mesos/v1/master/master.proto): `Response { type = 1; get_state = 9;
//! get_tasks = 13 }`, `GetState { get_tasks = 1; get_executors = 2; get_frameworks = 3;
//! get_agents = 4 }`, `GetTasks { tasks = 2; completed_tasks = 3; unreachable_tasks = 5 }`,
//! `Event { type = 1; subscribed = 2 }`, `Event.Subscribed { get_state = 1;
//! heartbeat_interval_seconds = 2 }`. Fields are written in number order, as prost does.

use bytes::Bytes;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, message};

use remesos_proto::v1;
use v1::master::{self as op, response as resp};

use super::Master;
use super::task::{TaskRecord, viewable};
use crate::security::authorizer::Viewer;

/// A v1 operator message already encoded as protobuf: `full_name` says which, for the JSON
/// transcoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The message's full protobuf name, e.g. `mesos.v1.master.Response`.
    pub full_name: &'static str,
    /// Its protobuf encoding.
    pub wire: Bytes,
}

impl Encoded {
    /// The message's Mesos JSON (the bytes `json::to_vec` gives for the decoded message).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.wire.len() * 2);
        if let Err(e) = remesos_proto::json::write_wire(self.full_name, &self.wire, &mut out) {
            // The bytes were written by prost from the master's own messages; a failure is a
            // bug (nesting beyond prost's limit cannot come from these schemas).
            tracing::error!(error = %e, message = self.full_name, "state dump does not transcode");
        }
        out
    }
}

/// The tasks of a GET_TASKS as `v` may see them, as clones of their records (two refcounts
/// each: see `task.rs`): the one place that decides which tasks a viewer sees
/// (`get_tasks_for` decodes these).
pub(super) struct Tasks {
    pub(super) tasks: Vec<TaskRecord>,
    pub(super) completed: Vec<TaskRecord>,
    pub(super) unreachable: Vec<TaskRecord>,
}

impl Tasks {
    fn body_len(&self) -> usize {
        let len = |tag: u32, list: &[TaskRecord]| -> usize {
            list.iter().map(|t| t.field_len(tag)).sum()
        };
        len(2, &self.tasks) + len(3, &self.completed) + len(5, &self.unreachable)
    }

    fn encode_body(&self, buf: &mut Vec<u8>) {
        for (tag, list) in [
            (2, &self.tasks),
            (3, &self.completed),
            (5, &self.unreachable),
        ] {
            for t in list.iter() {
                t.encode_field(tag, buf);
            }
        }
    }
}

/// A length-delimited field's key and length.
fn delimited(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn delimited_len(tag: u32, len: usize) -> usize {
    prost::encoding::key_len(tag) + encoded_len_varint(len as u64) + len
}

/// GET_STATE's body: the tasks' records, the rest as messages.
struct State {
    tasks: Tasks,
    executors: resp::GetExecutors,
    frameworks: resp::GetFrameworks,
    agents: resp::GetAgents,
}

impl State {
    /// The body's length and the tasks' (one pass over every task).
    fn body_len(&self) -> (usize, usize) {
        let tasks_len = self.tasks.body_len();
        let len = delimited_len(1, tasks_len)
            + message::encoded_len(2, &self.executors)
            + message::encoded_len(3, &self.frameworks)
            + message::encoded_len(4, &self.agents);
        (len, tasks_len)
    }

    fn encode_body(&self, tasks_len: usize, buf: &mut Vec<u8>) {
        delimited(1, tasks_len, buf);
        self.tasks.encode_body(buf);
        message::encode(2, &self.executors, buf);
        message::encode(3, &self.frameworks, buf);
        message::encode(4, &self.agents, buf);
    }
}

/// A state dump taken on the actor and not yet encoded: the records of its tasks (cheap
/// clones) and its smaller parts as messages. [`Dump::encode`] writes it, off the actor
/// (the HTTP handler does it on a blocking thread), byte for byte what encoding on the
/// actor wrote.
pub struct Dump(DumpKind);

enum DumpKind {
    /// A `Response` of type GET_STATE.
    State(State),
    /// A `Response` of type GET_TASKS.
    Tasks(Tasks),
    /// An `Event` of type SUBSCRIBED with its heartbeat interval.
    Subscribed(State, f64),
}

impl std::fmt::Debug for Dump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.0 {
            DumpKind::State(_) => "GET_STATE",
            DumpKind::Tasks(_) => "GET_TASKS",
            DumpKind::Subscribed(..) => "SUBSCRIBED",
        };
        f.debug_tuple("Dump").field(&kind).finish()
    }
}

impl Dump {
    /// The dump's protobuf encoding.
    pub fn encode(&self) -> Encoded {
        match &self.0 {
            DumpKind::State(state) => {
                let (len, tasks_len) = state.body_len();
                let mut buf = Vec::with_capacity(11 + delimited_len(9, len));
                prost::encoding::int32::encode(1, &(resp::Type::GetState as i32), &mut buf);
                delimited(9, len, &mut buf);
                state.encode_body(tasks_len, &mut buf);
                Encoded {
                    full_name: "mesos.v1.master.Response",
                    wire: Bytes::from(buf),
                }
            }
            DumpKind::Tasks(tasks) => {
                let len = tasks.body_len();
                let mut buf = Vec::with_capacity(11 + delimited_len(13, len));
                prost::encoding::int32::encode(1, &(resp::Type::GetTasks as i32), &mut buf);
                delimited(13, len, &mut buf);
                tasks.encode_body(&mut buf);
                Encoded {
                    full_name: "mesos.v1.master.Response",
                    wire: Bytes::from(buf),
                }
            }
            DumpKind::Subscribed(state, heartbeat_interval_seconds) => {
                let (state_len, tasks_len) = state.body_len();
                let subscribed_len = delimited_len(1, state_len)
                    + prost::encoding::double::encoded_len(2, heartbeat_interval_seconds);
                let mut buf = Vec::with_capacity(11 + delimited_len(2, subscribed_len));
                prost::encoding::int32::encode(1, &(op::event::Type::Subscribed as i32), &mut buf);
                delimited(2, subscribed_len, &mut buf);
                delimited(1, state_len, &mut buf);
                state.encode_body(tasks_len, &mut buf);
                prost::encoding::double::encode(2, heartbeat_interval_seconds, &mut buf);
                Encoded {
                    full_name: "mesos.v1.master.Event",
                    wire: Bytes::from(buf),
                }
            }
        }
    }
}

impl Master {
    /// GET_TASKS's tasks as `v` may see them: tasks of frameworks it may view, each by
    /// `view_tasks`.
    pub(super) fn tasks_ref_for(&self, v: Viewer<'_>) -> Tasks {
        let mut out = Tasks {
            tasks: Vec::new(),
            completed: Vec::new(),
            unreachable: Vec::new(),
        };
        for f in self.frameworks.values().filter(|f| v.framework(&f.info)) {
            let seen = |t: &&TaskRecord| viewable(&v, t, &f.info);
            out.tasks.extend(f.tasks.values().filter(seen).cloned());
            out.completed
                .extend(f.completed_tasks.iter().filter(seen).cloned());
            out.unreachable
                .extend(f.unreachable_tasks.values().filter(seen).cloned());
        }
        for f in self
            .completed_frameworks
            .iter()
            .filter(|f| v.framework(&f.info))
        {
            out.completed.extend(
                f.completed_tasks
                    .iter()
                    .filter(|t| viewable(&v, t, &f.info))
                    .cloned(),
            );
        }
        out
    }

    fn state_ref_for(&self, v: Viewer<'_>) -> State {
        State {
            tasks: self.tasks_ref_for(v),
            executors: self.get_executors_for(v),
            frameworks: self.get_frameworks_for(v),
            agents: self.get_agents(),
        }
    }

    /// The GET_STATE response as `v` may see it, taken but not encoded.
    pub fn get_state_dump_for(&self, v: Viewer<'_>) -> Dump {
        Dump(DumpKind::State(self.state_ref_for(v)))
    }

    /// The GET_TASKS response as `v` may see it, taken but not encoded.
    pub fn get_tasks_dump_for(&self, v: Viewer<'_>) -> Dump {
        Dump(DumpKind::Tasks(self.tasks_ref_for(v)))
    }

    /// The operator SUBSCRIBE's first event, SUBSCRIBED with the state as `v` may see it,
    /// taken but not encoded.
    pub fn subscribed_dump_for(&self, v: Viewer<'_>, heartbeat_interval_seconds: f64) -> Dump {
        Dump(DumpKind::Subscribed(
            self.state_ref_for(v),
            heartbeat_interval_seconds,
        ))
    }

    /// The GET_STATE response as `v` may see it, encoded without decoding a task.
    pub fn get_state_response_for(&self, v: Viewer<'_>) -> Encoded {
        self.get_state_dump_for(v).encode()
    }

    /// The GET_TASKS response as `v` may see it, encoded without decoding a task.
    pub fn get_tasks_response_for(&self, v: Viewer<'_>) -> Encoded {
        self.get_tasks_dump_for(v).encode()
    }

    /// The operator SUBSCRIBE's first event, encoded without decoding a task.
    pub fn subscribed_event_for(&self, v: Viewer<'_>, heartbeat_interval_seconds: f64) -> Encoded {
        self.subscribed_dump_for(v, heartbeat_interval_seconds)
            .encode()
    }
}
