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
//! The actor only *takes* a [`Dump`] (clones of the task records); the HTTP handler writes it
//! on a blocking thread through a [`Sink`]: [`Chunked`] hands the body to the connection in
//! chunks of [`CHUNK`] bytes through a bounded channel, so the body is never whole in memory
//! (protobuf, and JSON transcoded one task at a time). The runtime logs how long the actor
//! took each dump (`REMESOS_LOG=dump_hold=debug`).
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
use super::task_map::TaskList;
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
        transcode(self.full_name, &self.wire, &mut out);
        out
    }
}

/// The tasks of a GET_TASKS as `v` may see them: for a viewer who sees everything the
/// frameworks' maps shared copy-on-write (`task_map.rs`: a few refcounts per framework,
/// whatever the number of tasks), else clones of the records it may see; either way the
/// state of the actor's turn that took them. The one place that decides which tasks a
/// viewer sees (`get_tasks_for` decodes these).
pub(super) struct Tasks {
    pub(super) tasks: TaskList,
    pub(super) completed: TaskList,
    pub(super) unreachable: TaskList,
}

impl Tasks {
    fn body_len(&self) -> usize {
        let len =
            |tag: u32, list: &TaskList| -> usize { list.iter().map(|t| t.field_len(tag)).sum() };
        len(2, &self.tasks) + len(3, &self.completed) + len(5, &self.unreachable)
    }

    /// The lists with their field numbers and JSON names, in number order.
    fn lists(&self) -> [(u32, &'static str, &TaskList); 3] {
        [
            (2, "tasks", &self.tasks),
            (3, "completed_tasks", &self.completed),
            (5, "unreachable_tasks", &self.unreachable),
        ]
    }

    fn write_body(&self, out: &mut impl Sink) -> Result<(), Closed> {
        for (tag, _, list) in self.lists() {
            for t in list.iter() {
                t.encode_field(tag, out.buf());
                out.boundary()?;
            }
        }
        Ok(())
    }

    /// `GetTasks`'s JSON, one task transcoded at a time.
    fn write_json(&self, out: &mut impl Sink) -> Result<(), Closed> {
        out.buf().push(b'{');
        let mut wire = Vec::new();
        let mut first = true;
        // The transcoder writes fields in the order master.proto declares them.
        let [tasks, completed, unreachable] = self.lists();
        for (_, name, list) in [tasks, unreachable, completed] {
            if list.is_empty() {
                continue;
            }
            let buf = out.buf();
            if !std::mem::take(&mut first) {
                buf.push(b',');
            }
            buf.extend_from_slice(format!("\"{name}\":[").as_bytes());
            for (i, t) in list.iter().enumerate() {
                if i > 0 {
                    out.buf().push(b',');
                }
                wire.clear();
                t.encode(&mut wire);
                transcode("mesos.v1.Task", &wire, out.buf());
                out.boundary()?;
            }
            out.buf().push(b']');
        }
        out.buf().push(b'}');
        Ok(())
    }
}

/// Appends the Mesos JSON of `wire`, an encoding of `full_name` the master wrote itself.
fn transcode(full_name: &str, wire: &[u8], out: &mut Vec<u8>) {
    if let Err(e) = remesos_proto::json::write_wire(full_name, wire, out) {
        // The bytes were written by prost from the master's own messages; a failure is a
        // bug (nesting beyond prost's limit cannot come from these schemas).
        tracing::error!(error = %e, message = full_name, "state dump does not transcode");
    }
}

/// The size a streamed dump's buffer reaches before it is handed on as one chunk.
pub const CHUNK: usize = 1 << 20;

/// The dump's reader went away (the client closed the connection): stop writing.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the reader of the state dump went away")]
pub struct Closed;

/// Where a dump is written: a buffer, and the points between records where what was written
/// may be handed on ([`Chunked`]) so that the whole body is never held at once.
pub trait Sink {
    /// The buffer to append to.
    fn buf(&mut self) -> &mut Vec<u8>;
    /// Called between records.
    ///
    /// # Errors
    ///
    /// [`Closed`] when the reader went away.
    fn boundary(&mut self) -> Result<(), Closed>;
}

/// A whole body in memory.
impl Sink for Vec<u8> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self
    }

    fn boundary(&mut self) -> Result<(), Closed> {
        Ok(())
    }
}

/// A body handed on in chunks of about [`CHUNK`] bytes: `send` takes each and says whether
/// the reader is still there (the HTTP handler's bounded channel: `send` blocks while it is
/// full, so at most a few chunks are buffered whatever the dump's size).
pub struct Chunked<F: FnMut(Bytes) -> bool> {
    buf: Vec<u8>,
    send: F,
    written: usize,
    chunk: usize,
}

impl<F: FnMut(Bytes) -> bool> Chunked<F> {
    /// Chunks of [`CHUNK`] bytes.
    pub fn new(send: F) -> Self {
        Self::with_chunk(CHUNK, send)
    }

    /// Chunks of `chunk` bytes (tests write small dumps in many chunks).
    pub fn with_chunk(chunk: usize, send: F) -> Self {
        Chunked {
            buf: Vec::with_capacity(chunk),
            send,
            written: 0,
            chunk,
        }
    }

    /// Hands on what is left.
    ///
    /// # Errors
    ///
    /// [`Closed`] when the reader went away.
    pub fn finish(&mut self) -> Result<(), Closed> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.hand_on()
    }

    /// The bytes handed on so far.
    pub fn written(&self) -> usize {
        self.written
    }

    fn hand_on(&mut self) -> Result<(), Closed> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        self.written += chunk.len();
        if (self.send)(Bytes::from(chunk)) {
            Ok(())
        } else {
            Err(Closed)
        }
    }
}

impl<F: FnMut(Bytes) -> bool> Sink for Chunked<F> {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn boundary(&mut self) -> Result<(), Closed> {
        if self.buf.len() < self.chunk {
            return Ok(());
        }
        self.hand_on()
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

    fn write_body(&self, tasks_len: usize, out: &mut impl Sink) -> Result<(), Closed> {
        delimited(1, tasks_len, out.buf());
        self.tasks.write_body(out)?;
        let buf = out.buf();
        message::encode(2, &self.executors, buf);
        message::encode(3, &self.frameworks, buf);
        message::encode(4, &self.agents, buf);
        Ok(())
    }

    /// `GetState`'s JSON: the tasks one at a time, the rest as messages.
    fn write_json(&self, out: &mut impl Sink) -> Result<(), Closed> {
        out.buf().extend_from_slice(b"{\"get_tasks\":");
        self.tasks.write_json(out)?;
        let buf = out.buf();
        buf.extend_from_slice(b",\"get_executors\":");
        remesos_proto::json::write(&self.executors, buf);
        buf.extend_from_slice(b",\"get_frameworks\":");
        remesos_proto::json::write(&self.frameworks, buf);
        buf.extend_from_slice(b",\"get_agents\":");
        remesos_proto::json::write(&self.agents, buf);
        buf.push(b'}');
        Ok(())
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
    /// The dump's protobuf encoding, whole.
    pub fn encode(&self) -> Encoded {
        let mut wire = Vec::with_capacity(self.encoded_len());
        // Writing into a `Vec` never stops early.
        let _ = self.write_protobuf(&mut wire);
        let full_name = match &self.0 {
            DumpKind::Subscribed(..) => "mesos.v1.master.Event",
            _ => "mesos.v1.master.Response",
        };
        Encoded {
            full_name,
            wire: Bytes::from(wire),
        }
    }

    /// The length of [`Dump::encode`]'s bytes.
    fn encoded_len(&self) -> usize {
        let response = |field: u32, len: usize, kind: i32| {
            prost::encoding::int32::encoded_len(1, &kind) + delimited_len(field, len)
        };
        match &self.0 {
            DumpKind::State(state) => response(9, state.body_len().0, resp::Type::GetState as i32),
            DumpKind::Tasks(tasks) => response(13, tasks.body_len(), resp::Type::GetTasks as i32),
            DumpKind::Subscribed(state, heartbeat) => response(
                2,
                Self::subscribed_len(state.body_len().0, *heartbeat),
                op::event::Type::Subscribed as i32,
            ),
        }
    }

    fn subscribed_len(state_len: usize, heartbeat_interval_seconds: f64) -> usize {
        delimited_len(1, state_len)
            + prost::encoding::double::encoded_len(2, &heartbeat_interval_seconds)
    }

    /// Writes the dump's protobuf encoding (the bytes of [`Dump::encode`]) to `out`, one
    /// task at a time.
    ///
    /// # Errors
    ///
    /// [`Closed`] when `out`'s reader went away.
    pub fn write_protobuf(&self, out: &mut impl Sink) -> Result<(), Closed> {
        use prost::encoding::{double, int32};
        match &self.0 {
            DumpKind::State(state) => {
                let (len, tasks_len) = state.body_len();
                int32::encode(1, &(resp::Type::GetState as i32), out.buf());
                delimited(9, len, out.buf());
                state.write_body(tasks_len, out)
            }
            DumpKind::Tasks(tasks) => {
                int32::encode(1, &(resp::Type::GetTasks as i32), out.buf());
                delimited(13, tasks.body_len(), out.buf());
                tasks.write_body(out)
            }
            DumpKind::Subscribed(state, heartbeat_interval_seconds) => {
                let (state_len, tasks_len) = state.body_len();
                let subscribed_len = Self::subscribed_len(state_len, *heartbeat_interval_seconds);
                int32::encode(1, &(op::event::Type::Subscribed as i32), out.buf());
                delimited(2, subscribed_len, out.buf());
                delimited(1, state_len, out.buf());
                state.write_body(tasks_len, out)?;
                double::encode(2, heartbeat_interval_seconds, out.buf());
                Ok(())
            }
        }
    }

    /// Writes the dump's Mesos JSON (the bytes of [`Encoded::to_json`] of
    /// [`Dump::encode`]) to `out`: GET_STATE and GET_TASKS one task at a time, SUBSCRIBED
    /// (one RecordIO record, which needs its length first) whole.
    ///
    /// # Errors
    ///
    /// [`Closed`] when `out`'s reader went away.
    pub fn write_json(&self, out: &mut impl Sink) -> Result<(), Closed> {
        match &self.0 {
            DumpKind::State(state) => {
                out.buf()
                    .extend_from_slice(b"{\"type\":\"GET_STATE\",\"get_state\":");
                state.write_json(out)?;
            }
            DumpKind::Tasks(tasks) => {
                out.buf()
                    .extend_from_slice(b"{\"type\":\"GET_TASKS\",\"get_tasks\":");
                tasks.write_json(out)?;
            }
            DumpKind::Subscribed(..) => {
                let json = self.encode().to_json();
                out.buf().extend_from_slice(&json);
                return out.boundary();
            }
        }
        out.buf().push(b'}');
        out.boundary()
    }
}

impl Master {
    /// GET_TASKS's tasks as `v` may see them: tasks of frameworks it may view, each by
    /// `view_tasks`.
    pub(super) fn tasks_ref_for(&self, v: Viewer<'_>) -> Tasks {
        let mut out = Tasks {
            tasks: TaskList::default(),
            completed: TaskList::default(),
            unreachable: TaskList::default(),
        };
        let everything = v.sees_everything();
        for f in self.frameworks.values().filter(|f| v.framework(&f.info)) {
            if everything {
                out.tasks.push_map(&f.tasks);
                out.completed.push_completed(&f.completed_tasks, false);
                out.unreachable.push_map(&f.unreachable_tasks);
                continue;
            }
            let seen = |t: &&TaskRecord| viewable(&v, t, &f.info);
            out.tasks.extend(f.tasks.values().filter(seen));
            out.completed.extend(f.completed_tasks.iter().filter(seen));
            out.unreachable
                .extend(f.unreachable_tasks.values().filter(seen));
        }
        for f in self
            .completed_frameworks
            .iter()
            .filter(|f| v.framework(&f.info))
        {
            if everything {
                out.completed.push_completed(&f.completed_tasks, false);
            } else {
                out.completed.extend(
                    f.completed_tasks
                        .iter()
                        .filter(|t| viewable(&v, t, &f.info)),
                );
            }
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
