//! The async shell around [`Master`]: one tokio task owns it, takes [`Command`]s from HTTP
//! handlers and agent sessions, performs the [`Effect`]s and drives the periodic tick.
//!
//! A panic in the actor is not contained: the process exits with status 70 and, with
//! `--zk`, a standby takes over (the policy and why: [`crate::supervisor`]). Until the exit
//! [`MasterHandle::is_serving`] is false, and `/health` and GET_HEALTH say so.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::scheduler as sched;

use super::lifecycle::AgentRefused;
use super::scheduler::{CallError, CallOk};
use super::{ConnId, Effect, Master, Time};
use crate::supervisor::{OnPanic, exit_on_panic, supervise};

/// Events queued per framework stream before the master gives up on a slow reader and
/// drops the connection (the framework reconnects and reconciles; DESIGN.md §3).
pub const FRAMEWORK_STREAM_BUFFER: usize = 4096;
/// Likewise for agent sessions and operator event streams.
pub const AGENT_STREAM_BUFFER: usize = 16384;
pub const OPERATOR_STREAM_BUFFER: usize = 4096;

/// How often the runtime ticks the master (heartbeats, pings, timeouts, batch allocation).
const TICK: Duration = Duration::from_millis(50);

type Reply<T> = oneshot::Sender<T>;

/// A read-only view computed inside the actor (operator endpoints).
pub type ReadFn = Box<dyn FnOnce(&Master) + Send>;
/// An operator action performed inside the actor.
pub type WriteFn = Box<dyn FnOnce(&mut Master, Time) + Send>;

pub enum Command {
    Subscribe {
        call: sched::Call,
        events: mpsc::Sender<sched::Event>,
        reply: Reply<Result<(ConnId, String, String), CallError>>,
    },
    Call {
        call: sched::Call,
        stream_id: Option<String>,
        reply: Reply<Result<CallOk, CallError>>,
    },
    FrameworkStreamClosed {
        conn: ConnId,
    },
    AgentSession {
        first: wire::agent_message::Message,
        messages: mpsc::Sender<wire::MasterMessage>,
        reply: Reply<Result<(ConnId, String), AgentRefused>>,
    },
    AgentMessage {
        conn: ConnId,
        agent_id: String,
        message: wire::agent_message::Message,
    },
    AgentSessionClosed {
        conn: ConnId,
        agent_id: String,
    },
    OperatorSubscribe {
        events: mpsc::Sender<v1::master::Event>,
        reply: Reply<v1::master::response::GetState>,
    },
    Read(ReadFn),
    Write(WriteFn),
    /// The runtime's own: a held agent session's admission is durable (or failed).
    AdmissionDone {
        conn: ConnId,
        result: Result<(), String>,
    },
}

/// A handle to the master actor, cloned into every HTTP handler and agent session.
#[derive(Clone)]
pub struct MasterHandle {
    tx: mpsc::UnboundedSender<Command>,
}

#[derive(Debug, thiserror::Error)]
#[error("the master is shutting down")]
pub struct Gone;

impl MasterHandle {
    /// Whether the actor is running and can answer (false once it ended, e.g. panicked).
    pub fn is_serving(&self) -> bool {
        !self.tx.is_closed()
    }

    pub fn send(&self, command: Command) -> Result<(), Gone> {
        self.tx.send(command).map_err(|_| Gone)
    }

    /// Runs `f` over the master's state inside the actor and returns its result.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Master) -> T + Send + 'static,
    ) -> Result<T, Gone> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Read(Box::new(move |m| {
            let _ = tx.send(f(m));
        })))?;
        rx.await.map_err(|_| Gone)
    }

    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Master, Time) -> T + Send + 'static,
    ) -> Result<T, Gone> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Write(Box::new(move |m, t| {
            let _ = tx.send(f(m, t));
        })))?;
        rx.await.map_err(|_| Gone)
    }
}

pub fn now() -> Time {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    Time {
        mono: tokio::time::Instant::now().into_std(),
        wall,
    }
}

enum Conn {
    Framework {
        framework_id: String,
        events: mpsc::Sender<sched::Event>,
    },
    Agent {
        messages: mpsc::Sender<wire::MasterMessage>,
        /// While its admission is being written: what the master sent it meanwhile.
        held: Option<Vec<wire::MasterMessage>>,
        /// The master ended the session while it was held: end it once the held
        /// messages are out (a Shutdown must still reach the agent).
        close_when_released: bool,
    },
}

struct Runtime {
    master: Master,
    conns: HashMap<ConnId, Conn>,
    operator_streams: Vec<mpsc::Sender<v1::master::Event>>,
    next_conn: ConnId,
    /// Where registry operations go; `None` keeps nothing (tests, `remesos local`).
    registrar: Option<super::registrar::RegistrarHandle>,
    /// For the runtime's own commands (weak: the actor still ends with its last handle).
    own: mpsc::WeakUnboundedSender<Command>,
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
    let (tx, rx) = mpsc::unbounded_channel();
    let runtime = Runtime {
        master,
        conns: HashMap::new(),
        operator_streams: Vec::new(),
        next_conn: 1,
        registrar,
        own: tx.downgrade(),
    };
    supervise(tokio::spawn(runtime.run(rx)), on_panic);
    MasterHandle { tx }
}

impl Runtime {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                }
                _ = tick.tick() => {
                    self.master.tick(now());
                    self.perform();
                }
            }
        }
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
                events,
                reply,
            } => {
                let conn = self.new_conn();
                self.conns.insert(
                    conn,
                    Conn::Framework {
                        framework_id: String::new(),
                        events,
                    },
                );
                match self.master.subscribe(t, conn, call) {
                    Ok(stream_id) => {
                        let framework_id = self
                            .master
                            .frameworks
                            .iter()
                            .find(|(_, f)| f.connection.as_ref().is_some_and(|c| c.conn == conn))
                            .map(|(id, _)| id.clone())
                            .unwrap_or_default();
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
                stream_id,
                reply,
            } => {
                let _ = reply.send(self.master.call(t, stream_id.as_deref(), call));
            }
            Command::FrameworkStreamClosed { conn } => {
                if let Some(Conn::Framework { framework_id, .. }) = self.conns.remove(&conn) {
                    self.master.framework_disconnected(t, &framework_id, conn);
                }
            }
            Command::AgentSession {
                first,
                messages,
                reply,
            } => {
                let conn = self.new_conn();
                self.conns.insert(
                    conn,
                    Conn::Agent {
                        messages,
                        held: None,
                        close_when_released: false,
                    },
                );
                let result = match first {
                    wire::agent_message::Message::Register(r) => {
                        self.master.register_agent(t, conn, r)
                    }
                    wire::agent_message::Message::Reregister(r) => {
                        self.master.reregister_agent(t, conn, r)
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
            Command::OperatorSubscribe { events, reply } => {
                self.operator_streams.push(events);
                self.master.operator_subscribed = true;
                let _ = reply.send(self.master.get_state());
            }
            Command::Read(f) => f(&self.master),
            Command::Write(f) => f(&mut self.master, t),
            Command::AdmissionDone { conn, result } => {
                let Some(Conn::Agent {
                    messages,
                    held,
                    close_when_released,
                }) = self.conns.get_mut(&conn)
                else {
                    return;
                };
                let held = held.take().unwrap_or_default();
                let close = *close_when_released;
                if let Err(e) = result {
                    // The agent retries; a later attempt may be durable.
                    tracing::error!(conn, error = %e, "failed to admit an agent durably; closing its session");
                    self.conns.remove(&conn);
                    return;
                }
                for message in held {
                    if messages.try_send(message).is_err() {
                        tracing::warn!(conn, "dropping an agent session that is not being read");
                        self.conns.remove(&conn);
                        return;
                    }
                }
                if close {
                    self.conns.remove(&conn);
                }
            }
        }
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
                let Some(Conn::Framework {
                    framework_id,
                    events,
                }) = self.conns.get(&conn)
                else {
                    return;
                };
                if events.try_send(*event).is_err() {
                    // Full or closed: drop the subscription; the framework reconnects.
                    let framework_id = framework_id.clone();
                    tracing::warn!(%framework_id, "dropping a framework stream that is not being read");
                    self.conns.remove(&conn);
                    self.master
                        .framework_disconnected(now(), &framework_id, conn);
                }
            }
            Effect::CloseFramework { conn } => {
                self.conns.remove(&conn);
            }
            Effect::Agent { conn, message } => {
                let Some(Conn::Agent { messages, held, .. }) = self.conns.get_mut(&conn) else {
                    return;
                };
                if let Some(held) = held {
                    if held.len() < AGENT_STREAM_BUFFER {
                        held.push(*message);
                        return;
                    }
                    tracing::warn!(conn, "too much held for an agent awaiting admission");
                    self.conns.remove(&conn);
                    return;
                }
                if messages.try_send(*message).is_err() {
                    tracing::warn!(conn, "dropping an agent session that is not being read");
                    self.conns.remove(&conn);
                }
            }
            Effect::CloseAgent { conn } => {
                if let Some(Conn::Agent {
                    held: Some(_),
                    close_when_released,
                    ..
                }) = self.conns.get_mut(&conn)
                {
                    *close_when_released = true;
                    return;
                }
                self.conns.remove(&conn);
            }
            Effect::Operator(event) => {
                self.operator_streams
                    .retain(|s| s.try_send((*event).clone()).is_ok());
                self.master.operator_subscribed = !self.operator_streams.is_empty();
            }
            Effect::Registry { op, ack, hold } => {
                let Some(registrar) = &self.registrar else {
                    if let Some(ack) = ack {
                        let _ = ack.send(Ok(()));
                    }
                    return;
                };
                let Some(conn) = hold else {
                    registrar.submit(*op, ack);
                    return;
                };
                // One operation per held session: the admission rides on it.
                let (durable, done) = oneshot::channel();
                registrar.submit(*op, Some(durable));
                if let Some(Conn::Agent { held, .. }) = self.conns.get_mut(&conn) {
                    held.get_or_insert_with(Vec::new);
                }
                let own = self.own.clone();
                tokio::spawn(async move {
                    let result = done
                        .await
                        .unwrap_or_else(|_| Err("the registrar has stopped".to_string()));
                    if let Some(own) = own.upgrade() {
                        let _ = own.send(Command::AdmissionDone { conn, result });
                    }
                });
            }
        }
    }
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
        assert_eq!(handle.read(|m| m.frameworks.len()).await.ok(), Some(0));
        let r = handle
            .write(|_, _| -> () { panic!("induced by the test") })
            .await;
        assert!(r.is_err(), "the panicking write has no answer");
        assert_eq!(rx.await.unwrap(), "induced by the test");
        assert!(!handle.is_serving());
        assert!(handle.read(|m| m.frameworks.len()).await.is_err());
        assert_eq!(health(&router).await, (503, Some(false)));
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
}
