//! Agent draining and deactivation: DRAIN_AGENT, DEACTIVATE_AGENT and REACTIVATE_AGENT of
//! the v1 operator API, with Mesos 1.11's semantics (src/master/http.cpp `_drainAgent`,
//! `_deactivateAgent`, `_reactivateAgent`; src/master/master.cpp `deactivate`,
//! `checkAndTransitionDrainingAgent`; src/slave/slave.cpp `drain` for the kills;
//! include/mesos/v1/mesos.proto `DrainConfig`, `DrainInfo`).
//!
//! ```text
//!   DEACTIVATE_AGENT ----------------------> deactivated --REACTIVATE_AGENT--> active
//!   DRAIN_AGENT --> DRAINING (deactivated) --no task left, every terminal update
//!                                             acknowledged--> DRAINED --REACTIVATE--> active
//!                                                      '--mark_gone--> gone (MARK_AGENT_GONE)
//! ```
//!
//! * Both are durable: the agent's registry record carries `drain_info` and `deactivated`
//!   (Mesos's `Registry.Slave`), for admitted and unreachable agents alike. Every write of
//!   an agent's record goes through [`Master::persist`] / [`Master::persist_waited`], which
//!   copy the agent's drain state into it ([`Drains::decorate`]), so a reregistration or an
//!   unreachable mark never drops it. A new leader recovers it (`recovery.rs`) and an agent
//!   that reregisters (after its own restart or a master failover) is deactivated again
//!   and, if draining, told again to kill what it still runs.
//! * A deactivated agent gets no offers: the allocator is told, outstanding offers are
//!   rescinded.
//! * Draining kills every task on the agent with its kill policy capped at
//!   `max_grace_period` (the task's own policy when it is shorter or no cap is given).
//!   Mesos sends the agent a `DrainSlaveMessage` and the agent issues the kills and
//!   rewrites their updates; here the master issues the kills (the agent already honours
//!   `KillTask.kill_policy`) and rewrites the updates of a draining agent as it forwards
//!   them: TASK_KILLING / TASK_KILLED get `REASON_AGENT_DRAINING`, and with `mark_gone`
//!   become TASK_GONE_BY_OPERATOR for partition-aware frameworks. The agent needs no drain
//!   support of its own, so Mesos's `AGENT_DRAINING` capability check is not made.
//! * DRAINING becomes DRAINED once the agent has no task and every terminal update it sent
//!   while draining is acknowledged (Mesos keeps a task in `Slave::tasks` until then); with
//!   `mark_gone` the agent is marked gone instead.
//!
//! Refusals are Mesos's: an agent that is not registered, recovered or unreachable is an
//! "Unknown agent" (400); draining an agent whose machine is in the maintenance schedule,
//! reactivating one that is not deactivated or still DRAINING, are 400s; nothing changes.
//! A second DRAIN_AGENT replaces the config and restarts DRAINING, as in Mesos. Stricter
//! than Mesos: a negative `max_grace_period` is refused (400) instead of reaching the
//! executors.

use std::collections::{HashMap, HashSet};

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::DrainState;

use super::operator::OperatorError;
use super::{Master, ReplyId, Time};
use crate::common::id::{AgentId, FrameworkId, TaskId};
use crate::registry::{AgentRecord, Operation};

/// The master's drain and deactivation state (Mesos's `Master::slaves.draining` and
/// `slaves.deactivated`), keyed by agents the master knows (registered, recovered or
/// unreachable).
#[derive(Debug, Default)]
pub struct Drains {
    /// Agents being drained or drained, with the operator's config.
    pub draining: HashMap<AgentId, v1::DrainInfo>,
    /// Agents that get no offers until REACTIVATE_AGENT (every draining agent is here too).
    pub deactivated: HashSet<AgentId>,
    /// When draining started on this master (wall seconds): GET_AGENTS's
    /// `estimated_drain_start_time`.
    started: HashMap<AgentId, f64>,
    /// Terminal updates a draining agent sent that the framework has not acknowledged
    /// yet, by agent, task and update uuid: DRAINED waits for them. Bounded by the tasks
    /// the agent ran; emptied on acknowledgement, reactivation and removal.
    unacked: HashMap<AgentId, HashMap<(FrameworkId, TaskId), Vec<u8>>>,
}

impl Drains {
    /// Copies `op`'s agent's drain state into its record (a gone agent keeps none).
    pub(super) fn decorate(&self, op: &mut Operation) {
        let Some(record) = op.agent.as_mut() else {
            return;
        };
        if record.state == AgentRecord::GONE {
            record.drain_info = None;
            record.deactivated = false;
            return;
        }
        record.drain_info = self.draining.get(op.agent_id.as_str()).cloned();
        record.deactivated = self.deactivated.contains(op.agent_id.as_str());
    }

    /// Takes a recovered registry record's drain state.
    pub(super) fn recover(&mut self, id: &AgentId, record: &AgentRecord) {
        if let Some(info) = &record.drain_info {
            self.draining.insert(id.clone(), *info);
        }
        if record.deactivated || record.drain_info.is_some() {
            self.deactivated.insert(id.clone());
        }
    }

    /// Forgets an agent (marked gone, or removed from the registry).
    pub(super) fn forget(&mut self, id: &str) {
        self.draining.remove(id);
        self.deactivated.remove(id);
        self.started.remove(id);
        self.unacked.remove(id);
    }

    pub fn is_deactivated(&self, id: &str) -> bool {
        self.deactivated.contains(id)
    }

    /// The agent's drain config while it is DRAINING.
    fn draining_config(&self, id: &str) -> Option<&v1::DrainConfig> {
        self.draining
            .get(id)
            .filter(|i| i.state == DrainState::Draining as i32)
            .map(|i| &i.config)
    }

    /// GET_AGENTS's `drain_info` and `estimated_drain_start_time` of an agent.
    pub fn info(&self, id: &str) -> (Option<v1::DrainInfo>, Option<f64>) {
        (
            self.draining.get(id).cloned(),
            self.started.get(id).copied(),
        )
    }
}

/// The kill policy a draining agent's task is killed with (slave.cpp's
/// `calculateKillPolicy`): `max` when the task has no grace period or a longer one; `None`
/// (the task's own policy, or the executor's default) otherwise or without a cap.
pub fn capped_kill_policy(
    max: Option<&v1::DurationInfo>,
    task: Option<&v1::KillPolicy>,
) -> Option<v1::KillPolicy> {
    let max = max?;
    let cap = v1::KillPolicy {
        grace_period: Some(*max),
    };
    match task.and_then(|p| p.grace_period) {
        Some(own) if own.nanoseconds <= max.nanoseconds => None,
        _ => Some(cap),
    }
}

/// DRAIN_AGENT's `max_grace_period` (a `google.protobuf.Duration`: `seconds`, `nanos`) as
/// the `DurationInfo` of a `DrainConfig`; refused when negative or too large for
/// nanoseconds.
pub fn grace_period(seconds: i64, nanos: i32) -> Result<v1::DurationInfo, OperatorError> {
    if seconds < 0 || nanos < 0 {
        return Err(OperatorError::Invalid(
            "'max_grace_period' must be non-negative".to_string(),
        ));
    }
    seconds
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(i64::from(nanos)))
        .map(|nanoseconds| v1::DurationInfo { nanoseconds })
        .ok_or_else(|| OperatorError::Invalid("'max_grace_period' is too large".to_string()))
}

fn unknown_agent() -> OperatorError {
    OperatorError::Invalid("Unknown agent".to_string())
}

impl Master {
    /// The registry record the master holds for a known agent: registered or recovered
    /// (admitted) or unreachable; `None` for any other id.
    fn known_agent_record(&self, id: &str) -> Option<(AgentId, Operation)> {
        if let Some(a) = self.agents.get(id) {
            let op = Operation::agent(id, &a.info, AgentRecord::ADMITTED, 0.0);
            return Some((a.id.clone(), op));
        }
        if let Some((key, info)) = self.recovered_agents.get_key_value(id) {
            let op = Operation::agent(id, info, AgentRecord::ADMITTED, 0.0);
            return Some((key.clone(), op));
        }
        if let Some((key, u)) = self.unreachable_agents.get_key_value(id) {
            let op = Operation::agent(id, &u.info, AgentRecord::UNREACHABLE, u.since);
            return Some((key.clone(), op));
        }
        None
    }

    /// DRAIN_AGENT (Mesos's `Master::Http::drainAgent`/`_drainAgent`). Answers once the
    /// DRAINING state is durable.
    pub fn drain_agent(
        &mut self,
        now: Time,
        agent_id: &str,
        max_grace_period: Option<v1::DurationInfo>,
        mark_gone: bool,
    ) -> Result<ReplyId, OperatorError> {
        if let Some(agent) = self.agents.get(agent_id)
            && let Some(machine) = self.maintenance.scheduled_machine(agent)
        {
            return Err(OperatorError::Invalid(format!(
                "Agent {agent_id} is part of a maintenance schedule under Machine {}",
                remesos_proto::json::to_value(&machine)
            )));
        }
        let (id, op) = self
            .known_agent_record(agent_id)
            .ok_or_else(unknown_agent)?;
        let config = v1::DrainConfig {
            max_grace_period,
            mark_gone: Some(mark_gone),
        };
        tracing::info!(
            agent_id,
            ?config,
            "transitioning agent to the DRAINING state"
        );
        self.drains.draining.insert(
            id.clone(),
            v1::DrainInfo {
                state: DrainState::Draining as i32,
                config,
            },
        );
        self.drains.deactivated.insert(id.clone());
        let reply = self.persist_waited(op);
        if self.agents.contains_key(agent_id) {
            self.drains.started.insert(id.clone(), now.wall);
            self.deactivate(now, agent_id);
            self.kill_for_drain(agent_id);
            self.check_drained(now, agent_id);
        }
        Ok(reply)
    }

    /// DEACTIVATE_AGENT (Mesos's `Master::Http::_deactivateAgent`).
    pub fn deactivate_agent(
        &mut self,
        now: Time,
        agent_id: &str,
    ) -> Result<ReplyId, OperatorError> {
        let (id, op) = self
            .known_agent_record(agent_id)
            .ok_or_else(unknown_agent)?;
        self.drains.deactivated.insert(id);
        let reply = self.persist_waited(op);
        if self.agents.contains_key(agent_id) {
            self.deactivate(now, agent_id);
        }
        Ok(reply)
    }

    /// REACTIVATE_AGENT (Mesos's `Master::Http::_reactivateAgent`): refused unless the
    /// agent is deactivated and not DRAINING.
    pub fn reactivate_agent(&mut self, agent_id: &str) -> Result<ReplyId, OperatorError> {
        if !self.drains.deactivated.contains(agent_id) {
            return Err(OperatorError::Invalid(
                "Agent is not deactivated".to_string(),
            ));
        }
        if self.drains.draining_config(agent_id).is_some() {
            return Err(OperatorError::Invalid(
                "Agent is still in the DRAINING state".to_string(),
            ));
        }
        let (_, op) = self
            .known_agent_record(agent_id)
            .ok_or_else(unknown_agent)?;
        self.drains.forget(agent_id);
        let reply = self.persist_waited(op);
        if let Some(agent) = self.agents.get_mut(agent_id)
            && agent.conn.is_some()
            && !agent.active
        {
            tracing::info!(agent_id, "reactivating agent");
            agent.active = true;
            self.allocator.activate_agent(agent_id);
            self.request_allocation();
        }
        Ok(reply)
    }

    /// Mesos's `Master::deactivate(Slave*)`: no more offers for the agent.
    fn deactivate(&mut self, now: Time, agent_id: &str) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        tracing::info!(agent_id, "deactivating agent");
        if agent.active {
            agent.active = false;
            self.allocator.deactivate_agent(agent_id);
        }
        let offers: Vec<_> = agent.offers.iter().cloned().collect();
        for offer_id in offers {
            self.rescind_offer(now, &offer_id);
        }
        self.rescind_inverse_offers_of_agent(agent_id, false);
    }

    /// Kills every task on a DRAINING agent with its capped kill policy; kills for a
    /// disconnected agent wait for it to reregister (as a framework's kill would).
    fn kill_for_drain(&mut self, agent_id: &str) {
        let Some(config) = self.drains.draining_config(agent_id).cloned() else {
            return;
        };
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let mut tasks: Vec<(FrameworkId, TaskId)> = agent.tasks.iter().cloned().collect();
        tasks.sort();
        let conn = agent.conn;
        for (fid, tid) in tasks {
            let own = self
                .frameworks
                .get(&fid)
                .and_then(|f| f.tasks.get(&tid))
                .and_then(|t| t.task().kill_policy);
            let kill_policy = capped_kill_policy(config.max_grace_period.as_ref(), own.as_ref());
            match conn {
                Some(conn) => {
                    tracing::info!(agent_id, framework_id = %fid, task_id = %tid, "killing a task of a draining agent");
                    self.emit_agent(
                        conn,
                        wire::master_message::Message::KillTask(wire::KillTask {
                            framework_id: fid.to_proto(),
                            task_id: tid.to_proto(),
                            kill_policy,
                        }),
                    );
                }
                None => {
                    if let Some(agent) = self.agents.get_mut(agent_id) {
                        agent.pending_kills.insert((fid, tid), kill_policy);
                    }
                }
            }
        }
    }

    /// A deactivated agent reregistered: it stays deactivated, and a DRAINING one is told
    /// again to kill what it runs (Mesos resends the `DrainSlaveMessage`).
    pub(super) fn drain_reregistered(&mut self, now: Time, agent_id: &str) {
        if !self.drains.deactivated.contains(agent_id) {
            return;
        }
        self.deactivate(now, agent_id);
        if self.drains.draining_config(agent_id).is_some() {
            if let Some(agent) = self.agents.get(agent_id) {
                self.drains
                    .started
                    .entry(agent.id.clone())
                    .or_insert(now.wall);
            }
            self.kill_for_drain(agent_id);
            self.check_drained(now, agent_id);
        }
    }

    /// Rewrites a status update from a DRAINING agent as Mesos's draining agent does
    /// (slave.cpp `statusUpdate`), and remembers a terminal one until it is acknowledged.
    pub(super) fn drain_status_update(
        &mut self,
        agent_id: &str,
        framework_id: &str,
        status: &mut v1::TaskStatus,
        latest: &mut v1::TaskState,
    ) {
        use v1::TaskState as S;
        let Some(config) = self.drains.draining_config(agent_id) else {
            return;
        };
        let gone = config.mark_gone.unwrap_or(false)
            && self
                .frameworks
                .get(framework_id)
                .is_some_and(|f| f.partition_aware());
        let state = S::try_from(status.state).unwrap_or(S::TaskStaging);
        if matches!(state, S::TaskKilling | S::TaskKilled) {
            status.reason = Some(v1::task_status::Reason::AgentDraining as i32);
            if gone {
                status.state = S::TaskGoneByOperator as i32;
            }
        }
        if gone && *latest == S::TaskKilled {
            *latest = S::TaskGoneByOperator;
        }
        let terminal = crate::common::protocol::is_terminal(*latest);
        if !terminal {
            return;
        }
        let (Some(uuid), Some((aid, _))) = (
            status.uuid.clone(),
            self.agents
                .get_key_value(agent_id)
                .map(|(k, v)| (k.clone(), v)),
        ) else {
            return;
        };
        let (Ok(fid), Ok(tid)) = (
            FrameworkId::new(framework_id),
            TaskId::new(status.task_id.value.as_str()),
        ) else {
            return;
        };
        self.drains
            .unacked
            .entry(aid)
            .or_default()
            .insert((fid, tid), uuid);
    }

    /// A framework acknowledged an update from `agent_id`.
    pub(super) fn drain_acknowledged(
        &mut self,
        now: Time,
        agent_id: &str,
        framework_id: &str,
        task_id: &str,
        uuid: &[u8],
    ) {
        let Some(unacked) = self.drains.unacked.get_mut(agent_id) else {
            return;
        };
        let key = unacked
            .iter()
            .find(|((f, t), u)| f.as_str() == framework_id && t.as_str() == task_id && *u == uuid)
            .map(|(k, _)| k.clone());
        if let Some(key) = key {
            unacked.remove(&key);
            self.check_drained(now, agent_id);
        }
    }

    /// Checks every DRAINING agent (after a framework was removed: its tasks and
    /// unacknowledged updates no longer hold a drain).
    pub(super) fn check_all_drained(&mut self, now: Time) {
        let draining: Vec<AgentId> = self
            .drains
            .draining
            .iter()
            .filter(|(_, i)| i.state == DrainState::Draining as i32)
            .map(|(id, _)| id.clone())
            .collect();
        for id in draining {
            self.check_drained(now, &id);
        }
    }

    /// Mesos's `checkAndTransitionDrainingAgent`: a registered DRAINING agent with no task
    /// and no unacknowledged terminal update becomes DRAINED (durably), or is marked gone
    /// with `mark_gone`.
    pub(super) fn check_drained(&mut self, now: Time, agent_id: &str) {
        let Some(config) = self.drains.draining_config(agent_id).cloned() else {
            return;
        };
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        if !agent.tasks.is_empty() {
            return;
        }
        let frameworks = &self.frameworks;
        if let Some(unacked) = self.drains.unacked.get_mut(agent_id) {
            unacked.retain(|(f, _), _| frameworks.contains_key(f));
            if !unacked.is_empty() {
                return;
            }
        }
        if config.mark_gone.unwrap_or(false) {
            tracing::info!(agent_id, "marking agent in the DRAINED state as gone");
            // Answered by nobody: the operator's DRAIN_AGENT was answered already.
            let _ = self.mark_agent_gone(now, agent_id);
            return;
        }
        tracing::info!(agent_id, "transitioning agent to the DRAINED state");
        if let Some(info) = self.drains.draining.get_mut(agent_id) {
            info.state = DrainState::Drained as i32;
        }
        self.drains.unacked.remove(agent_id);
        if let Some((_, op)) = self.known_agent_record(agent_id) {
            self.persist(op);
        }
    }
}
