//! Holding an agent's session until its admission is durable, and the reply ids of registry
//! writes.
//!
//! Mesos answers a registering agent only once the registrar has admitted it
//! (`Master::_registerSlave` / `Master::__reregisterSlave` run on the future of
//! `registrar->apply(AdmitSlave)`, src/master/master.cpp). Here the master decides the same
//! without waiting: [`Master::persist_admission`] emits the write with a [`ReplyId`] and
//! holds what the master then sends on the agent's session — its Registered or
//! Reregistered reply first — until the runtime reports the write's outcome through
//! [`Master::registry_done`]:
//!
//! ```text
//!   persist_admission(conn) ──> Effect::Registry { op, reply: Some(r) }; conn held
//!   while held: Effect::Agent for conn are kept (at most MAX_HELD), CloseAgent is noted
//!   registry_done(r, Ok)   ──> the kept messages go out in order, then CloseAgent if noted
//!   registry_done(r, Err)  ──> the kept messages are dropped and the session closed
//!                              (the agent retries; a later attempt may be durable)
//!   the session closed     ──> nothing is kept for it; the outcome changes nothing
//! ```
//!
//! Operator writes get a [`ReplyId`] too (`Master::persist_waited`); the runtime keeps their
//! waiters and answers them when it reports the outcome here. Writes nobody waits for
//! carry no id.

use std::collections::HashMap;

use super::{ConnId, Effect, Master, ReplyId};
use crate::registry::{AgentRecord, Operation, RegistryError};

/// Messages kept for one held session; more and the session is dropped (the agent
/// reconnects). The session's own buffer, so that what is released fits it.
pub const MAX_HELD: usize = super::runtime::AGENT_STREAM_BUFFER;

/// Sessions held until their admission is durable.
#[derive(Debug, Default)]
pub(super) struct Admissions {
    /// The next reply id to hand out.
    next_reply: ReplyId,
    /// Admission writes in flight: reply id → the session they hold.
    pending: HashMap<ReplyId, ConnId>,
    /// Held sessions: what the master sent them meanwhile.
    held: HashMap<ConnId, Held>,
}

#[derive(Debug, Default)]
struct Held {
    /// Messages for the session, oldest first; at most [`MAX_HELD`]. Encoded as they came
    /// and as they leave again (`Effect::Agent`).
    messages: Vec<super::service::EncodedMessage>,
    /// The master ended the session while it was held: end it once the messages are out
    /// (a Shutdown must still reach the agent).
    close: bool,
}

impl Admissions {
    fn reply_id(&mut self) -> ReplyId {
        self.next_reply += 1;
        self.next_reply
    }

    /// Whether `conn` is held (tests narrate with it).
    #[cfg(test)]
    pub(super) fn holds(&self, conn: ConnId) -> bool {
        self.held.contains_key(&conn)
    }

    /// The session the admission write `reply` holds, if it is still pending.
    #[cfg(test)]
    pub(super) fn held_by(&self, reply: ReplyId) -> Option<ConnId> {
        self.pending.get(&reply).copied()
    }

    /// Keeps `effect` if it is for a held session; gives it back otherwise. On overflow the
    /// session stops being held and is closed (the returned effect).
    pub(super) fn hold(&mut self, effect: Effect) -> Option<Effect> {
        if self.held.is_empty() {
            return Some(effect);
        }
        match effect {
            Effect::Agent { conn, message } => {
                let Some(held) = self.held.get_mut(&conn) else {
                    return Some(Effect::Agent { conn, message });
                };
                if held.messages.len() < MAX_HELD {
                    held.messages.push(message);
                    return None;
                }
                tracing::warn!(conn, "too much held for an agent awaiting admission");
                self.held.remove(&conn);
                Some(Effect::CloseAgent { conn })
            }
            Effect::CloseAgent { conn } => match self.held.get_mut(&conn) {
                Some(held) => {
                    held.close = true;
                    None
                }
                None => Some(Effect::CloseAgent { conn }),
            },
            other => Some(other),
        }
    }
}

impl Master {
    /// Emits a registry write nobody waits for.
    pub(super) fn persist(&mut self, mut op: Operation) {
        self.drains.decorate(&mut op);
        self.emit(Effect::Registry {
            op: Box::new(op),
            reply: None,
        });
    }

    /// Emits a registry write and returns its reply id, which the runtime answers with
    /// [`Master::registry_done`] once the write is durable or failed.
    pub(super) fn persist_waited(&mut self, mut op: Operation) -> ReplyId {
        self.drains.decorate(&mut op);
        let reply = self.admissions.reply_id();
        self.emit(Effect::Registry {
            op: Box::new(op),
            reply: Some(reply),
        });
        reply
    }

    /// Records an agent as admitted; what the master sends on `conn` (the agent's session,
    /// its Registered or Reregistered reply first) waits until that is durable.
    pub(super) fn persist_admission(
        &mut self,
        id: &str,
        info: &remesos_proto::v1::AgentInfo,
        conn: ConnId,
    ) {
        let reply = self.persist_waited(Operation::agent(id, info, AgentRecord::ADMITTED, 0.0));
        self.admissions.pending.insert(reply, conn);
        self.admissions.held.entry(conn).or_default();
    }

    /// The runtime's report that the registry write `reply` is durable (`Ok`) or failed.
    /// A held session is released or closed; other writes' waiters are the runtime's.
    pub fn registry_done(&mut self, reply: ReplyId, result: Result<(), RegistryError>) {
        let Some(conn) = self.admissions.pending.remove(&reply) else {
            return;
        };
        let Some(held) = self.admissions.held.remove(&conn) else {
            return; // the session closed, or overflowed, meanwhile
        };
        if let Err(e) = result {
            // The agent retries; a later attempt may be durable.
            tracing::error!(conn, error = %e, "failed to admit an agent durably; closing its session");
            self.emit(Effect::CloseAgent { conn });
            return;
        }
        for message in held.messages {
            self.emit(Effect::Agent { conn, message });
        }
        if held.close {
            self.emit(Effect::CloseAgent { conn });
        }
    }

    /// The agent session `conn` closed: nothing more is held for it.
    pub(super) fn forget_held_session(&mut self, conn: ConnId) {
        self.admissions.held.remove(&conn);
    }
}
