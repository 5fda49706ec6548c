//! The async shell around [`Master`]: one tokio task owns it, takes [`Command`]s from HTTP
//! handlers and agent sessions, performs the [`Effect`]s, and sleeps until the master's
//! next deadline ([`Master::next_deadline`]) or the next command — there is no fixed tick.
//!
//! A panic in the actor is not contained: the process exits with status 70 and, with
//! `--zk`, a standby takes over (the policy and why: [`crate::supervisor`]). Until the exit
//! [`MasterHandle::is_serving`] is false, and `/health` and GET_HEALTH say so.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::scheduler as sched;

use super::lifecycle::AgentRefused;
use super::operator::{OperatorCommand, OperatorError, OperatorReply};
use super::scheduler::CallOk;
use super::service::EncodedMessage;
use super::validation::CallError;
use super::{ConnId, Effect, Master, ReplyId};
use crate::common::id::AgentId;
use crate::registry::RegistryError;
use crate::security::Principal;
use crate::supervisor::{OnPanic, exit_on_panic, supervise};

/// Events in flight per framework stream: the channel between the master actor and the
/// HTTP connection. When it is full, further events wait in the connection's backlog (see
/// [`FRAMEWORK_STREAM_BACKLOG`]) and move into the channel as the stream makes room.
pub const FRAMEWORK_STREAM_BUFFER: usize = 4096;
/// Events a framework stream may have waiting beyond its channel by default; the overflow
/// policy is the master's ([`Master::framework_stream_backed_up`]).
pub use super::FRAMEWORK_STREAM_BACKLOG;
/// Messages queued per agent session; full: the session is dropped (the agent reconnects).
pub const AGENT_STREAM_BUFFER: usize = 16384;
/// Events queued per operator event stream. Each is shared (`Arc`) by every subscriber,
/// so a thousand idle subscribers hold pointers to one copy, not a thousand copies. Full:
/// the subscriber is not reading and is dropped with a log line.
pub const OPERATOR_STREAM_BUFFER: usize = 4096;

/// Commands waiting for the master actor. Overflow policy: senders wait for room
/// ([`MasterHandle::send`] is async): HTTP handlers hold their request, and an agent
/// session stops reading its gRPC stream, which pushes back to the agent through HTTP/2
/// flow control. Nothing is dropped. The notices that a stream ended, sent from `Drop`
/// where nothing can wait, go through [`MasterHandle::notify`] (see there).
pub const MASTER_INBOX: usize = 8192;

/// While a framework stream has a backlog, how often the runtime moves it along (the
/// stream's channel gives no wake-up when its reader makes room; only while a backlog
/// exists does this timer run).
const BACKLOG_FLUSH: Duration = Duration::from_millis(50);

/// The least time between two runs of the master's timers: a zero-length period (e.g.
/// `--allocation_interval=0`) is due again at once and would otherwise keep the actor
/// spinning.
const MIN_TICK_GAP: Duration = Duration::from_millis(1);

type Reply<T> = oneshot::Sender<T>;

/// The tracing target of the queue-length lines ([`Runtime::log_queues`]).
const QUEUES_TARGET: &str = "master_queues";

/// Messages and events queued before a drained burst trims the heap
/// ([`Runtime::trim_after_burst`]): one trim per ~65k messages at most, so a steady stream
/// of updates costs one trim now and then, a quiet master none.
const TRIM_AFTER: u64 = 1 << 16;
/// How the process's global allocator, when it is not glibc's, returns its freed pages at
/// once: set by the binary that installs it ([`set_heap_collect`]; the `remesos` binary's
/// main.rs, mimalloc's `mi_collect(true)`). The library itself names no allocator, so the
/// command executor, libmesos.so and the Python module link none but glibc's.
static HEAP_COLLECT: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets [`trim_heap`]'s hook for the process's global allocator (the first call wins).
pub fn set_heap_collect(collect: fn()) {
    let _ = HEAP_COLLECT.set(collect);
}

/// Returns the free pages of the heap to the system: the global allocator's through the
/// hook of [`set_heap_collect`] (mimalloc's purges every arena's freed pages at once instead
/// of after its purge delay) and glibc's (`malloc_trim(0)`, what C code and builds without
/// another allocator, e.g. the tests, allocate from). Called after a drained burst
/// ([`Runtime::trim_after_burst`]) and after a big dump (http/operator.rs): each GET_STATE
/// at 100,000 tasks once grew the master by ~0.5 GiB that glibc kept (issue 19).
pub fn trim_heap() {
    if let Some(collect) = HEAP_COLLECT.get() {
        collect();
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it takes no
    // pointers from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A burst counts as drained when at most this many messages and events are still queued.
const TRIM_QUEUED: usize = 1024;

/// An operator command's answer as the runtime hands it to HTTP: the master's reply, or,
/// for a command that wrote the registry, what hears whether the write became durable.
#[derive(Debug)]
pub enum Operated {
    Reply(OperatorReply),
    Durable(Durable),
}

/// Hears whether a registry write became durable.
pub type Waiter = oneshot::Sender<Result<(), RegistryError>>;
/// What an operator endpoint awaits: the outcome of its registry write.
pub type Durable = oneshot::Receiver<Result<(), RegistryError>>;

pub enum Command {
    /// A scheduler's SUBSCRIBE; `principal` is the request's authenticated principal (`None`
    /// when its realm was not protected, master/http/authn.rs).
    Subscribe {
        call: sched::Call,
        principal: Option<Principal>,
        /// Boxed as the master emits them: a queued event is a pointer, not 1 KB inline.
        events: mpsc::Sender<Box<sched::Event>>,
        reply: Reply<Result<(ConnId, String, String), CallError>>,
    },
    /// A scheduler's other calls, from `principal` (as for `Subscribe`).
    Call {
        call: sched::Call,
        principal: Option<Principal>,
        stream_id: Option<String>,
        reply: Reply<Result<CallOk, CallError>>,
    },
    FrameworkStreamClosed {
        conn: ConnId,
    },
    /// An agent's session opens with its first message, as `principal` (the one its
    /// session authenticated; `None` without `--authenticate_agents`).
    AgentSession {
        first: wire::agent_message::Message,
        principal: Option<Principal>,
        /// Encoded: a decoded `MasterMessage` is ~7.5 KB inline plus its parts; its
        /// encoding a few hundred bytes (service.rs).
        messages: mpsc::Sender<EncodedMessage>,
        reply: Reply<Result<(ConnId, AgentId), AgentRefused>>,
    },
    AgentMessage {
        conn: ConnId,
        agent_id: AgentId,
        message: wire::agent_message::Message,
    },
    AgentSessionClosed {
        conn: ConnId,
        agent_id: AgentId,
    },
    /// An operator SUBSCRIBE from `principal` (the request's; `None` when authentication
    /// is off): its state and events are filtered to what the ACLs let it see.
    OperatorSubscribe {
        principal: Option<Principal>,
        events: mpsc::Sender<Arc<v1::master::Event>>,
        /// The SUBSCRIBED event, taken from the state, to be encoded off the actor
        /// (`dump.rs`).
        reply: Reply<super::dump::Dump>,
    },
    /// An operator's command (the v1 operator API, the JSON endpoints), for the request's
    /// authenticated principal (`None` when authentication is off).
    Operator {
        command: OperatorCommand,
        /// The request's authenticated principal (`None` when its realm was not protected).
        principal: Option<Principal>,
        reply: Reply<Result<Operated, OperatorError>>,
    },
    /// Panics inside the actor, `reply` unanswered: the tests' way to exercise the panic
    /// policy (no network input reaches it).
    #[cfg(test)]
    Panic {
        why: &'static str,
        reply: Reply<()>,
    },
    /// The runtime's own: the registry write `reply` is durable (or failed).
    RegistryDone {
        reply: ReplyId,
        result: Result<(), RegistryError>,
    },
}

/// A handle to the master actor, cloned into every HTTP handler and agent session.
#[derive(Clone)]
pub struct MasterHandle {
    tx: mpsc::Sender<Command>,
    /// The master's histograms, read by `/metrics` without asking the actor.
    histograms: Arc<super::metrics::Histograms>,
}

#[derive(Debug, thiserror::Error)]
#[error("the master is shutting down")]
pub struct Gone;

impl MasterHandle {
    /// The master's histograms (observed lock-free by the actor, read by `/metrics`).
    pub fn histograms(&self) -> &super::metrics::Histograms {
        &self.histograms
    }

    /// Whether the actor is running and can answer (false once it ended, e.g. panicked).
    pub fn is_serving(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Queues `command`, waiting while the inbox is full ([`MASTER_INBOX`]).
    pub async fn send(&self, command: Command) -> Result<(), Gone> {
        self.tx.send(command).await.map_err(|_| Gone)
    }

    /// Queues `command` from where nothing can wait (a `Drop`): at once when the inbox has
    /// room, otherwise from a task that waits for it. Only for the notices that end a
    /// connection (one per connection, so the waiting tasks are bounded by the connections
    /// the daemon accepts); losing one would leave a framework or agent connected forever.
    pub fn notify(&self, command: Command) {
        crate::common::queue::send_or_wait(&self.tx, command);
    }

    /// Has the master perform an operator's command and returns its answer.
    pub async fn operator(
        &self,
        command: OperatorCommand,
    ) -> Result<Result<Operated, OperatorError>, Gone> {
        self.operator_as(command, None).await
    }

    /// [`MasterHandle::operator`] for a request authenticated as `principal`: the ACLs
    /// decide what it may do and see.
    pub async fn operator_as(
        &self,
        command: OperatorCommand,
        principal: Option<Principal>,
    ) -> Result<Result<Operated, OperatorError>, Gone> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Operator {
            command,
            principal,
            reply,
        })
        .await?;
        answer.await.map_err(|_| Gone)
    }
}

pub use crate::common::time::now;

enum Conn {
    Framework {
        framework_id: String,
        events: mpsc::Sender<Box<sched::Event>>,
        /// Events waiting for room in `events`, oldest first; at most
        /// [`FRAMEWORK_STREAM_BACKLOG`]. While it is not empty every new event joins it, so
        /// the order of the stream is kept.
        backlog: VecDeque<Box<sched::Event>>,
        /// The master ended the subscription: close it once the backlog is delivered.
        close_when_drained: bool,
    },
    Agent {
        messages: mpsc::Sender<EncodedMessage>,
    },
}

impl Conn {
    /// What waits for this connection: (in its channel, in its backlog).
    fn queued(&self) -> (usize, usize) {
        match self {
            Conn::Agent { messages } => (messages.max_capacity() - messages.capacity(), 0),
            Conn::Framework {
                events, backlog, ..
            } => (events.max_capacity() - events.capacity(), backlog.len()),
        }
    }
}

/// One operator SUBSCRIBE stream.
struct OperatorStream {
    /// Its stream id, as Mesos logs it.
    id: String,
    /// Who subscribed: what the stream carries is filtered for it.
    principal: Option<Principal>,
    events: mpsc::Sender<Arc<v1::master::Event>>,
}

struct Runtime {
    master: Master,
    conns: HashMap<ConnId, Conn>,
    /// Operator event streams, oldest first (at most
    /// `--max_operator_event_stream_subscribers`).
    operator_streams: VecDeque<OperatorStream>,
    /// Framework connections with a non-empty backlog, flushed after each batch of commands
    /// and on each tick.
    backlogged: HashSet<ConnId>,
    next_conn: ConnId,
    /// Where registry operations go; `None` keeps nothing and reports every write durable
    /// at once (tests, `remesos local`).
    registrar: Option<super::registrar::RegistrarHandle>,
    /// Operator requests waiting for their registry write, by the write's reply id.
    waiters: HashMap<ReplyId, Waiter>,
    /// For the runtime's own commands (weak: the actor still ends with its last handle).
    own: mpsc::WeakSender<Command>,
    /// When the master's timers last ran (see [`MIN_TICK_GAP`]).
    last_tick: tokio::time::Instant,
    /// Messages to agents and events to frameworks queued since the heap was last
    /// trimmed ([`Runtime::trim_after_burst`]).
    sent_since_trim: u64,
}

/// Starts the actor; returns its handle. The actor ends when every handle is dropped; if
/// it panics, the process exits ([`exit_on_panic`]).
pub fn spawn(master: Master) -> MasterHandle {
    spawn_with_registrar(master, None)
}

/// Like [`spawn`], writing the master's registry operations through `registrar`.
pub fn spawn_with_registrar(
    master: Master,
    registrar: Option<super::registrar::RegistrarHandle>,
) -> MasterHandle {
    spawn_supervised(master, registrar, exit_on_panic("master"))
}

/// Like [`spawn_with_registrar`], with `on_panic` as the panic policy (tests observe it).
pub fn spawn_supervised(
    master: Master,
    registrar: Option<super::registrar::RegistrarHandle>,
    on_panic: OnPanic,
) -> MasterHandle {
    let (tx, rx) = mpsc::channel(MASTER_INBOX);
    let histograms = master.histograms.clone();
    let runtime = Runtime {
        master,
        conns: HashMap::new(),
        operator_streams: VecDeque::new(),
        backlogged: HashSet::new(),
        next_conn: 1,
        registrar,
        waiters: HashMap::new(),
        own: tx.downgrade(),
        last_tick: tokio::time::Instant::now(),
        sent_since_trim: 0,
    };
    supervise(tokio::spawn(runtime.run(rx)), on_panic);
    MasterHandle { tx, histograms }
}

impl Runtime {
    /// A framework stream could not take an event: the master decides whether it is kept
    /// (the event waits in its backlog) or dropped, which this carries out. True if kept.
    fn backed_up(&mut self, conn: ConnId, framework_id: &str, backlog: super::Backlog) -> bool {
        match self
            .master
            .framework_stream_backed_up(now(), framework_id, conn, backlog)
        {
            super::Stream::Keep => true,
            super::Stream::Drop => {
                self.conns.remove(&conn);
                self.backlogged.remove(&conn);
                false
            }
        }
    }

    /// Moves backlogged framework events into their streams as far as the streams have
    /// room; performs what the master does about streams found closed.
    fn flush_backlogs(&mut self) {
        if self.backlogged.is_empty() {
            return;
        }
        let conns: Vec<ConnId> = self.backlogged.iter().copied().collect();
        let mut closed = Vec::new();
        for conn in conns {
            let Some(Conn::Framework {
                framework_id,
                events,
                backlog,
                close_when_drained,
            }) = self.conns.get_mut(&conn)
            else {
                self.backlogged.remove(&conn);
                continue;
            };
            while let Some(event) = backlog.pop_front() {
                match events.try_send(event) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(event)) => {
                        backlog.push_front(event);
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        closed.push((conn, framework_id.clone()));
                        break;
                    }
                }
            }
            if backlog.is_empty() {
                self.backlogged.remove(&conn);
                if *close_when_drained {
                    self.conns.remove(&conn);
                }
            }
        }
        for (conn, framework_id) in closed {
            self.backed_up(conn, &framework_id, super::Backlog::Closed);
        }
        self.perform();
    }

    /// When the actor wakes without a command: the master's next deadline, or sooner
    /// while a framework stream has a backlog to move along.
    fn wake_at(&self) -> tokio::time::Instant {
        let mut at = tokio::time::Instant::from_std(self.master.next_deadline())
            .max(self.last_tick + MIN_TICK_GAP);
        if !self.backlogged.is_empty() {
            at = at.min(tokio::time::Instant::now() + BACKLOG_FLUSH);
        }
        at
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            tokio::select! {
                command = rx.recv() => {
                    let Some(command) = command else { break };
                    self.handle(command);
                    // Drain what else is queued so that one allocation serves the batch.
                    let mut budget = 1024;
                    while budget > 0 {
                        match rx.try_recv() {
                            Ok(command) => self.handle(command),
                            Err(_) => break,
                        }
                        budget -= 1;
                    }
                    self.master.allocate_if_requested(now());
                    self.perform();
                    self.flush_backlogs();
                }
                () = tokio::time::sleep_until(self.wake_at()) => self.flush_backlogs(),
            }
            // Whatever woke the actor, the timers that are due run now: a master busy with
            // commands keeps its heartbeats and timeouts.
            let t = now();
            if t.mono >= self.master.next_deadline()
                && tokio::time::Instant::from_std(t.mono) >= self.last_tick + MIN_TICK_GAP
            {
                self.last_tick = tokio::time::Instant::from_std(t.mono);
                self.master.tick(t);
                self.perform();
                self.flush_backlogs();
                self.log_queues();
                let inbox_empty = rx.is_empty();
                self.trim_after_burst(inbox_empty);
            }
        }
    }

    /// Gives the heap's free pages back to the system once a burst has drained: after at
    /// least [`TRIM_AFTER`] messages and events were queued, at the first tick that finds
    /// the inbox empty and every agent and framework queue (nearly) empty. Why: glibc keeps
    /// what a burst's transient messages took (its arenas are trimmed only at their top);
    /// measured at 200,000 tasks (bench/README.md "Where a burst's memory goes") the
    /// master's RSS stayed 1,324 MiB after the burst with 741 MB in use, and `malloc_trim`
    /// brought it to 901 MiB. It runs on a blocking thread, not on the actor (it walks
    /// every arena: 10s of ms on a GB heap).
    fn trim_after_burst(&mut self, inbox_empty: bool) {
        if self.sent_since_trim < TRIM_AFTER || !inbox_empty {
            return;
        }
        let queued: usize = self
            .conns
            .values()
            .map(|conn| {
                let (channel, backlog) = conn.queued();
                channel + backlog
            })
            .sum();
        if queued > TRIM_QUEUED {
            return;
        }
        tracing::debug!(
            target: QUEUES_TARGET,
            sent = self.sent_since_trim,
            queued,
            "trimming the heap after a burst"
        );
        self.sent_since_trim = 0;
        tokio::task::spawn_blocking(trim_heap);
    }

    /// With `REMESOS_LOG=master_queues=debug`, one line per tick with what waits in the
    /// master's queues (bench/README.md "Where a burst's memory goes"): messages queued
    /// to agents, events queued to frameworks (channel and backlog), the inbox.
    fn log_queues(&self) {
        if !tracing::enabled!(target: QUEUES_TARGET, tracing::Level::DEBUG) {
            return;
        }
        let (mut agent_msgs, mut fw_chan, mut fw_backlog, mut fw_backlog_cap) = (0, 0, 0, 0);
        for conn in self.conns.values() {
            let (channel, waiting) = conn.queued();
            match conn {
                Conn::Agent { .. } => agent_msgs += channel,
                Conn::Framework { backlog, .. } => {
                    fw_chan += channel;
                    fw_backlog += waiting;
                    fw_backlog_cap += backlog.capacity();
                }
            }
        }
        let inbox = self
            .own
            .upgrade()
            .map_or(0, |tx| tx.max_capacity() - tx.capacity());
        tracing::debug!(
            target: QUEUES_TARGET,
            agent_msgs,
            fw_chan,
            fw_backlog,
            fw_backlog_cap,
            inbox,
            "queues"
        );
    }

    fn new_conn(&mut self) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        id
    }

    fn handle(&mut self, command: Command) {
        let t = now();
        match command {
            Command::Subscribe {
                call,
                principal,
                events,
                reply,
            } => {
                let conn = self.new_conn();
                self.conns.insert(
                    conn,
                    Conn::Framework {
                        framework_id: String::new(),
                        events,
                        backlog: VecDeque::new(),
                        close_when_drained: false,
                    },
                );
                match self.master.subscribe_as(t, conn, call, principal) {
                    Ok(super::Subscribed {
                        stream_id,
                        framework_id,
                    }) => {
                        let framework_id = framework_id.unwrap_or_default();
                        if let Some(Conn::Framework {
                            framework_id: slot, ..
                        }) = self.conns.get_mut(&conn)
                        {
                            *slot = framework_id.clone();
                        }
                        let _ = reply.send(Ok((conn, stream_id, framework_id)));
                    }
                    Err(e) => {
                        self.conns.remove(&conn);
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::Call {
                call,
                principal,
                stream_id,
                reply,
            } => {
                let _ = reply.send(
                    self.master
                        .call_as(t, stream_id.as_deref(), call, principal),
                );
            }
            Command::FrameworkStreamClosed { conn } => {
                if let Some(Conn::Framework { framework_id, .. }) = self.conns.remove(&conn) {
                    self.master.framework_disconnected(t, &framework_id, conn);
                }
            }
            Command::AgentSession {
                first,
                principal,
                messages,
                reply,
            } => {
                let conn = self.new_conn();
                self.conns.insert(conn, Conn::Agent { messages });
                let principal = principal.as_ref();
                let result = match first {
                    wire::agent_message::Message::Register(r) => {
                        self.master.register_agent_as(t, conn, r, principal)
                    }
                    wire::agent_message::Message::Reregister(r) => {
                        self.master.reregister_agent_as(t, conn, r, principal)
                    }
                    _ => Err(AgentRefused::retry(
                        "expected Register or Reregister first".to_string(),
                    )),
                };
                match result {
                    Ok(agent_id) => {
                        let _ = reply.send(Ok((conn, agent_id)));
                    }
                    Err(e) => {
                        self.conns.remove(&conn);
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::AgentMessage {
                conn,
                agent_id,
                message,
            } => {
                if self.master.agents.get(&agent_id).and_then(|a| a.conn) != Some(conn) {
                    return; // a stale session
                }
                use wire::agent_message::Message as M;
                match message {
                    M::Pong(_) => self.master.agent_pong(&agent_id),
                    M::StatusUpdate(u) => self.master.agent_status_update(t, &agent_id, u),
                    M::UpdateOperationStatus(u) => {
                        self.master.agent_operation_status(t, &agent_id, u)
                    }
                    M::ExecutorToFramework(m) => self.master.agent_executor_message(&agent_id, m),
                    M::ExitedExecutor(e) => self.master.agent_executor_exited(t, &agent_id, e),
                    M::Unregister(_) => self.master.mark_unreachable(t, &agent_id),
                    M::Register(_) | M::Reregister(_) => {
                        tracing::warn!(%agent_id, "ignoring a second registration on one session");
                    }
                }
            }
            Command::AgentSessionClosed { conn, agent_id } => {
                self.conns.remove(&conn);
                self.master.agent_disconnected(t, &agent_id, conn);
            }
            Command::OperatorSubscribe {
                principal,
                events,
                reply,
            } => {
                let id = uuid::Uuid::new_v4().to_string();
                tracing::info!("Added subscriber {id} to the list of active subscribers");
                // Mesos's `Master::subscribe`: the newest subscriber evicts the oldest.
                let max = self
                    .master
                    .config
                    .max_operator_event_stream_subscribers
                    .max(1);
                while self.operator_streams.len() >= max {
                    let Some(oldest) = self.operator_streams.pop_front() else {
                        break;
                    };
                    tracing::info!(
                        "Reached the maximum number of operator event stream subscribers \
                         ({max}) so the oldest connection ({}) will be closed",
                        oldest.id
                    );
                }
                let authorizer = self.master.config.authorizer.clone();
                let taking = tokio::time::Instant::now();
                let state = self.master.subscribed_dump_for(
                    authorizer.viewer(principal.as_ref()),
                    super::HEARTBEAT_INTERVAL.as_secs_f64(),
                );
                held("SUBSCRIBED", taking);
                self.operator_streams.push_back(OperatorStream {
                    id,
                    principal,
                    events,
                });
                self.master.operator_subscribed = true;
                self.master.counters.operator_event_stream_subscribers =
                    self.operator_streams.len() as u64;
                let _ = reply.send(state);
            }
            Command::Operator {
                command,
                principal,
                reply,
            } => {
                let dump = dump_name(&command);
                let taking = tokio::time::Instant::now();
                let answer = self.master.operator_as(t, command, principal.as_ref());
                if let Some(dump) = dump {
                    held(dump, taking);
                }
                let answer = match answer {
                    Ok(OperatorReply::Persisting(id)) => {
                        // The request waits for the write's outcome (`registry_done`).
                        let (waiter, durable) = oneshot::channel();
                        self.waiters.insert(id, waiter);
                        Ok(Operated::Durable(durable))
                    }
                    Ok(other) => Ok(Operated::Reply(other)),
                    Err(e) => Err(e),
                };
                let _ = reply.send(answer);
            }
            #[cfg(test)]
            Command::Panic { why, reply: _reply } => panic!("{why}"),
            Command::RegistryDone { reply, result } => self.registry_done(reply, result),
        }
    }

    /// Reports a registry write's outcome to the master (which releases or closes a held
    /// agent session) and to the operator request waiting for it, if any.
    fn registry_done(&mut self, reply: ReplyId, result: Result<(), RegistryError>) {
        if let Some(waiter) = self.waiters.remove(&reply) {
            let _ = waiter.send(result.clone());
        }
        self.master.registry_done(reply, result);
    }

    fn perform(&mut self) {
        loop {
            let effects = self.master.drain_effects();
            if effects.is_empty() {
                return;
            }
            for effect in effects {
                self.perform_one(effect);
            }
        }
    }

    fn perform_one(&mut self, effect: Effect) {
        match effect {
            Effect::Framework { conn, event } => {
                self.sent_since_trim += 1;
                let Some(Conn::Framework {
                    framework_id,
                    events,
                    backlog,
                    ..
                }) = self.conns.get_mut(&conn)
                else {
                    return;
                };
                let event = if backlog.is_empty() {
                    match events.try_send(event) {
                        Ok(()) => return,
                        Err(mpsc::error::TrySendError::Full(event)) => event,
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            let framework_id = framework_id.clone();
                            self.backed_up(conn, &framework_id, super::Backlog::Closed);
                            return;
                        }
                    }
                } else {
                    event
                };
                let waiting = super::Backlog::Waiting(backlog.len());
                let framework_id = framework_id.clone();
                if !self.backed_up(conn, &framework_id, waiting) {
                    return;
                }
                if let Some(Conn::Framework { backlog, .. }) = self.conns.get_mut(&conn) {
                    backlog.push_back(event);
                    self.backlogged.insert(conn);
                }
            }
            Effect::CloseFramework { conn } => {
                if let Some(Conn::Framework {
                    backlog,
                    close_when_drained,
                    ..
                }) = self.conns.get_mut(&conn)
                    && !backlog.is_empty()
                {
                    *close_when_drained = true;
                    return;
                }
                self.conns.remove(&conn);
            }
            Effect::Agent { conn, message } => {
                let Some(Conn::Agent { messages }) = self.conns.get_mut(&conn) else {
                    return;
                };
                self.sent_since_trim += 1;
                if messages.try_send(message).is_err() {
                    tracing::warn!(conn, "dropping an agent session that is not being read");
                    self.conns.remove(&conn);
                }
            }
            Effect::CloseAgent { conn } => {
                self.conns.remove(&conn);
            }
            Effect::Operator(event) => {
                let event: Arc<v1::master::Event> = Arc::from(event);
                let authorizer = self.master.config.authorizer.clone();
                let master = &self.master;
                self.operator_streams.retain(|s| {
                    let viewer = authorizer.viewer(s.principal.as_ref());
                    if !master.operator_event_visible(&event, viewer) {
                        return true;
                    }
                    match s.events.try_send(event.clone()) {
                        Ok(()) => true,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            tracing::warn!(
                                subscriber = %s.id,
                                "dropping an operator event stream that is not being read"
                            );
                            false
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            tracing::info!(
                                "Removed subscriber {} from the list of active subscribers",
                                s.id
                            );
                            false
                        }
                    }
                });
                self.master.operator_subscribed = !self.operator_streams.is_empty();
                self.master.counters.operator_event_stream_subscribers =
                    self.operator_streams.len() as u64;
            }
            Effect::Registry { op, reply } => {
                let Some(registrar) = &self.registrar else {
                    if let Some(reply) = reply {
                        self.registry_done(reply, Ok(()));
                    }
                    return;
                };
                // Every operation is timed (the registry write histogram), whether or not
                // the master waits for its outcome.
                let own = self.own.clone();
                let histograms = self.master.histograms.clone();
                let submitted = tokio::time::Instant::now();
                let done: super::registrar::Done = Box::new(move |result| {
                    histograms.registry_written(submitted.elapsed(), result.is_ok());
                    if let (Some(reply), Some(own)) = (reply, own.upgrade()) {
                        crate::common::queue::send_or_wait(
                            &own,
                            Command::RegistryDone { reply, result },
                        );
                    }
                });
                registrar.submit(*op, Some(done));
            }
        }
    }
}

/// The `tracing` target of the line that says how long the actor was busy taking a state
/// dump (issue 19: a dump must not stall allocation rounds): `REMESOS_LOG=dump_hold=debug`.
pub const DUMP_HOLD_TARGET: &str = "dump_hold";

/// The state dumps among the operator commands, by the name the hold line gives them.
fn dump_name(command: &OperatorCommand) -> Option<&'static str> {
    match command {
        OperatorCommand::GetState => Some("GET_STATE"),
        OperatorCommand::GetTasks => Some("GET_TASKS"),
        OperatorCommand::StateJson => Some("/master/state"),
        OperatorCommand::TasksJson(_) => Some("/master/tasks"),
        _ => None,
    }
}

/// Logs how long the actor took the dump `name` (from `taking` until now): the time no other
/// message (an allocation round, a status update) could be handled.
fn held(name: &'static str, taking: tokio::time::Instant) {
    tracing::debug!(
        target: DUMP_HOLD_TARGET,
        dump = name,
        held_us = taking.elapsed().as_micros() as u64,
        "state dump taken on the master's actor"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN.md §3 and issue 11, defect 3: a panic in the master actor (induced here
    /// through `write`, a seam no network input reaches) runs the panic policy, and the
    /// handle, which `/health` and GET_HEALTH consult, stops reporting the master as
    /// serving. On main the process stayed up, reporting healthy, answering 503 forever.
    #[tokio::test]
    async fn a_panic_in_the_master_actor_runs_the_policy_and_stops_reporting_healthy() {
        let (tx, rx) = oneshot::channel();
        let master = Master::new(super::super::Config::default(), "M".to_string(), now());
        let handle = spawn_supervised(
            master,
            None,
            Box::new(move |why| {
                let _ = tx.send(why);
            }),
        );
        let router = crate::master::http::router(handle.clone());
        assert!(handle.is_serving());
        assert_eq!(health(&router).await, (200, Some(true)));
        assert_eq!(frameworks(&handle).await.ok(), Some(0));
        let r = panic_in_actor(&handle, "induced by the test").await;
        assert!(r.is_err(), "the panicking write has no answer");
        assert_eq!(rx.await.unwrap(), "induced by the test");
        assert!(!handle.is_serving());
        assert!(frameworks(&handle).await.is_err());
        assert_eq!(health(&router).await, (503, Some(false)));
    }

    /// How many frameworks the master has (GET_FRAMEWORKS through the actor).
    async fn frameworks(handle: &MasterHandle) -> Result<usize, Gone> {
        match handle.operator(OperatorCommand::GetFrameworks).await? {
            Ok(Operated::Reply(OperatorReply::Response(r))) => {
                Ok(r.get_frameworks.map_or(0, |f| f.frameworks.len()))
            }
            other => panic!("GET_FRAMEWORKS answered {other:?}"),
        }
    }

    /// Sends the actor a command that panics in it; its answer (which never comes).
    async fn panic_in_actor(handle: &MasterHandle, why: &'static str) -> Result<(), Gone> {
        let (reply, answer) = oneshot::channel();
        handle.send(Command::Panic { why, reply }).await?;
        answer.await.map_err(|_| Gone)
    }

    /// `/health`'s status and GET_HEALTH's `healthy`, through the master's router.
    async fn health(router: &axum::Router) -> (u16, Option<bool>) {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;
        let response = router
            .clone()
            .oneshot(Request::get("/health").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let request = Request::post("/api/v1")
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(Body::from(r#"{"type":"GET_HEALTH"}"#))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        (status, json["get_health"]["healthy"].as_bool())
    }

    use crate::resources::Resources;

    const FRAMEWORK: &str = "old-master-0001";
    const AGENT: &str = "old-master-S0";

    /// An agent that reregisters (as after a master failover) with `tasks` RUNNING tasks of
    /// one framework, each using `mem:1`.
    fn reregister_with_tasks(count: usize) -> wire::Reregister {
        let mut used = Resources::parse("mem:1", "*").unwrap();
        used.allocate("*");
        let used = used.into_protos();
        let tasks = (0..count)
            .map(|i| v1::Task {
                name: format!("t{i}"),
                task_id: v1::TaskId {
                    value: format!("t{i}"),
                },
                framework_id: v1::FrameworkId {
                    value: FRAMEWORK.into(),
                },
                agent_id: v1::AgentId {
                    value: AGENT.into(),
                },
                state: v1::TaskState::TaskRunning as i32,
                resources: used.clone(),
                ..Default::default()
            })
            .collect();
        wire::Reregister {
            agent_info: v1::AgentInfo {
                hostname: "host0".into(),
                id: Some(v1::AgentId {
                    value: AGENT.into(),
                }),
                resources: Resources::parse(&format!("cpus:4;mem:{}", count + 1024), "*")
                    .unwrap()
                    .into_protos(),
                ..Default::default()
            },
            tasks,
            frameworks: vec![framework_info()],
            ..Default::default()
        }
    }

    fn framework_info() -> v1::FrameworkInfo {
        v1::FrameworkInfo {
            user: String::new(),
            name: "big".into(),
            id: Some(v1::FrameworkId {
                value: FRAMEWORK.into(),
            }),
            ..Default::default()
        }
    }

    /// SUBSCRIBEs `info` through the runtime's command queue: the event stream and the
    /// stream id and framework id the master answered.
    async fn subscribe(
        handle: &MasterHandle,
        info: v1::FrameworkInfo,
    ) -> (mpsc::Receiver<Box<sched::Event>>, String, String) {
        let (events, rx) = mpsc::channel(FRAMEWORK_STREAM_BUFFER);
        let (reply, subscribed) = oneshot::channel();
        handle
            .send(Command::Subscribe {
                principal: None,
                call: sched::Call {
                    r#type: Some(sched::call::Type::Subscribe as i32),
                    subscribe: Some(sched::call::Subscribe {
                        framework_info: info,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                events,
                reply,
            })
            .await
            .unwrap();
        let (_conn, stream_id, framework_id) = subscribed.await.unwrap().unwrap();
        (rx, stream_id, framework_id)
    }

    /// Issue 11: implicit reconciliation of a framework with 50,000 tasks answered 4,096
    /// of them and dropped the stream. Reference §8.3: implicit reconciliation sends the
    /// latest state of every task the master knows; the answers wait in the stream's
    /// backlog (`FRAMEWORK_STREAM_BACKLOG`) while the framework reads.
    #[tokio::test]
    async fn implicit_reconciliation_of_fifty_thousand_tasks_answers_every_one() {
        const TASKS: usize = 50_000;
        let handle = spawn(Master::new(
            super::super::Config::default(),
            "master-id".to_string(),
            now(),
        ));
        let (agent_tx, _agent_rx) = mpsc::channel(AGENT_STREAM_BUFFER);
        let (reply, registered) = oneshot::channel();
        handle
            .send(Command::AgentSession {
                first: wire::agent_message::Message::Reregister(reregister_with_tasks(TASKS)),
                principal: None,
                messages: agent_tx,
                reply,
            })
            .await
            .unwrap();
        assert_eq!(registered.await.unwrap().unwrap().1, AGENT);

        let (mut rx, stream_id, framework_id) = subscribe(&handle, framework_info()).await;
        assert_eq!(framework_id, FRAMEWORK);

        let (reply, answered) = oneshot::channel();
        handle
            .send(Command::Call {
                principal: None,
                call: sched::Call {
                    framework_id: Some(v1::FrameworkId {
                        value: FRAMEWORK.into(),
                    }),
                    r#type: Some(sched::call::Type::Reconcile as i32),
                    reconcile: Some(sched::call::Reconcile { tasks: vec![] }),
                    ..Default::default()
                },
                stream_id: Some(stream_id),
                reply,
            })
            .await
            .unwrap();
        assert!(answered.await.unwrap().is_ok());

        let mut reconciled = HashSet::new();
        while reconciled.len() < TASKS {
            let event = rx.recv().await.expect("the stream was dropped");
            let Some(update) = event.update else { continue };
            if update.status.reason == Some(v1::task_status::Reason::Reconciliation as i32) {
                assert_eq!(update.status.state, v1::TaskState::TaskRunning as i32);
                reconciled.insert(update.status.task_id.value);
            }
        }
        assert_eq!(reconciled.len(), TASKS);
    }

    /// Whether the framework `id` has a subscription (GET_FRAMEWORKS lists it as connected).
    async fn connected(handle: &MasterHandle, id: &str) -> bool {
        match handle.operator(OperatorCommand::GetFrameworks).await {
            Ok(Ok(Operated::Reply(OperatorReply::Response(r)))) => {
                r.get_frameworks.is_some_and(|f| {
                    f.frameworks.iter().any(|f| {
                        f.framework_info.id.as_ref().is_some_and(|i| i.value == id) && f.connected
                    })
                })
            }
            other => panic!("GET_FRAMEWORKS answered {other:?}"),
        }
    }

    /// The overflow policy written at `FRAMEWORK_STREAM_BACKLOG`: a stream that is not read
    /// while its backlog is full is dropped, and the framework is disconnected.
    #[tokio::test]
    async fn a_framework_stream_whose_backlog_is_full_is_dropped() {
        let tasks = FRAMEWORK_STREAM_BUFFER + FRAMEWORK_STREAM_BACKLOG + 1;
        let handle = spawn(Master::new(
            super::super::Config::default(),
            "master-id".to_string(),
            now(),
        ));
        let mut info = framework_info();
        info.id = None;
        let (mut rx, stream_id, framework_id) = subscribe(&handle, info).await;
        // More unknown tasks than the channel and the backlog hold, all answered at once.
        let unknown = (0..tasks)
            .map(|i| sched::call::reconcile::Task {
                task_id: v1::TaskId {
                    value: format!("u{i}"),
                },
                agent_id: None,
            })
            .collect();
        let (reply, answered) = oneshot::channel();
        handle
            .send(Command::Call {
                principal: None,
                call: sched::Call {
                    framework_id: Some(v1::FrameworkId {
                        value: framework_id.clone(),
                    }),
                    r#type: Some(sched::call::Type::Reconcile as i32),
                    reconcile: Some(sched::call::Reconcile { tasks: unknown }),
                    ..Default::default()
                },
                stream_id: Some(stream_id),
                reply,
            })
            .await
            .unwrap();
        assert!(answered.await.unwrap().is_ok());
        // The stream ends (after what fitted in the channel) and the master treats the
        // framework as disconnected (without a failover timeout, that removes it).
        let mut received = 0;
        while rx.recv().await.is_some() {
            received += 1;
        }
        assert!(received <= FRAMEWORK_STREAM_BUFFER + 1);
        let connected = connected(&handle, &framework_id).await;
        assert!(!connected);
    }
}
