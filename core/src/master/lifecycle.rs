//! Agents coming and going, status updates, framework disconnection, failover and removal
//! (reference/mesos-contract.md §8).

use std::collections::HashMap;

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::master::event as op_event;
use v1::scheduler as sched;

use super::agent::Agent;
use super::framework::Framework;
use super::scheduler::operator_framework_event;
use super::task::TaskRecord;
use super::{ConnId, Effect, Master, ReplyId, Time, UnreachableAgent};
use crate::common::id::{AgentId, FrameworkId, OfferId, TaskId};
use crate::common::protocol::is_terminal;
use crate::common::version::MESOS_VERSION;
use crate::registry::{AgentRecord, Operation};
use crate::resources::Resources;
use crate::security::authorizer::{Action, Object, Principal};

/// Why an agent's registration was refused: the text, and what the agent is told. Mesos's
/// master answers a gone agent with a `ShutdownMessage` carrying the text (master.cpp
/// `reregisterSlave`, "Refusing re-registration of agent ... because it is already marked
/// gone"), and the agent then stops its executors and exits. Any other refusal leaves the
/// agent retrying, including one on a DOWN machine, which Mesos also shuts down but remesos
/// keeps waiting so that it registers once the machine is UP, and one the ACLs deny
/// (`register_agents`), which Mesos drops without an answer and its agent retries.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct AgentRefused(pub String, pub Refusal);

/// What a refused agent is told (the gRPC status of its session, master/service.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It may retry (`INVALID_ARGUMENT`).
    Retry,
    /// It is sent `Shutdown` and stops.
    Shutdown,
    /// The ACLs do not let its principal register (`PERMISSION_DENIED`); it retries with
    /// backoff, as after an authentication failure, until an operator changes the ACLs.
    Forbidden,
}

impl AgentRefused {
    /// A refusal the agent may retry after (it is not told to shut down).
    pub fn retry(message: impl Into<String>) -> AgentRefused {
        AgentRefused(message.into(), Refusal::Retry)
    }

    /// A refusal that is final: the agent is sent `Shutdown` with `message`.
    pub fn shutdown(message: impl Into<String>) -> AgentRefused {
        AgentRefused(message.into(), Refusal::Shutdown)
    }

    /// A refusal by the ACLs (`register_agents`).
    pub fn forbidden(message: impl Into<String>) -> AgentRefused {
        AgentRefused(message.into(), Refusal::Forbidden)
    }

    /// Whether the agent is told to shut down.
    pub fn shuts_down(&self) -> bool {
        self.1 == Refusal::Shutdown
    }
}

/// MARK_AGENT_GONE named an agent the master does not know (Mesos answers 404).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("Agent '{0}' not found")]
pub struct AgentNotFound(pub String);

/// Why a registered agent leaves the cluster.
#[derive(Clone, Copy, Debug)]
pub(super) enum Removal<'a> {
    /// It stopped answering pings (or unregistered): tasks UNREACHABLE or LOST.
    Unreachable,
    /// An operator removed it (MARK_AGENT_GONE, machine DOWN) with this message: tasks
    /// GONE_BY_OPERATOR or LOST.
    ByOperator(&'a str),
}

/// What an agent on a DOWN machine is told (Mesos's ShutdownMessage text).
const MACHINE_DOWN: &str = "Machine is `DOWN`";
/// What a gone agent is told when it tries to come back (Mesos's ShutdownMessage text).
const GONE: &str = "Agent has been marked gone";

/// The state of a framework stream that could not take an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backlog {
    /// Its channel is full and this many events already wait beyond it.
    Waiting(usize),
    /// Its reader is gone.
    Closed,
}

/// What the runtime does with a framework stream that could not take an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stream {
    /// Keep it: the event waits in its backlog.
    Keep,
    /// Drop it (the master has disconnected the framework).
    Drop,
}

impl Master {
    fn registered_reply(
        &self,
        agent_id: &str,
        reregistered: bool,
    ) -> wire::master_message::Message {
        let agent_id = v1::AgentId {
            value: agent_id.to_string(),
        };
        let ping = Some(self.config.agent_ping_timeout.as_secs_f64());
        if reregistered {
            wire::master_message::Message::Reregistered(wire::Reregistered {
                agent_id,
                master_info: Some(self.info.clone()),
                ping_interval_seconds: ping,
                tasks_to_kill: vec![],
            })
        } else {
            wire::master_message::Message::Registered(wire::Registered {
                agent_id,
                master_info: Some(self.info.clone()),
                ping_interval_seconds: ping,
            })
        }
    }

    /// `register_agents` (Mesos's `REGISTER_AGENT`, `Master::authorizeSlave` through
    /// `ActionObject::agentRegistration`, src/master/authorization.cpp): the subject is the
    /// principal the agent authenticated as on its session (`None` without
    /// `--authenticate_agents`, matched as `ANY`), the object is always `ANY`. Checked
    /// before anything else, so a denied agent changes nothing: no id, no registry write,
    /// nothing in the allocator. Mesos's text and log line.
    fn authorize_agent(
        &self,
        principal: Option<&Principal>,
        info: &v1::AgentInfo,
    ) -> Result<(), AgentRefused> {
        let authorizer = &self.config.authorizer;
        if authorizer.is_allowed(Action::RegisterAgent, principal, Object::Any) {
            return Ok(());
        }
        let resources = Resources::from_protos(info.resources.clone())
            .map(|r| r.to_string())
            .unwrap_or_default();
        let who = match principal {
            Some(p) => format!("with principal '{p}'"),
            None => "without a principal".to_string(),
        };
        let message =
            format!("Not authorized to register agent providing resources '{resources}' {who}");
        tracing::warn!(hostname = %info.hostname, "Refusing registration of agent: {message}");
        Err(AgentRefused::forbidden(message))
    }

    /// A new agent registers on session `conn`, without an authenticated principal.
    pub fn register_agent(
        &mut self,
        now: Time,
        conn: ConnId,
        register: wire::Register,
    ) -> Result<AgentId, AgentRefused> {
        self.register_agent_as(now, conn, register, None)
    }

    /// A new agent registers on session `conn` as `principal` (the one its session
    /// authenticated, `None` without `--authenticate_agents`); refused when the ACLs deny
    /// it `register_agents`.
    pub fn register_agent_as(
        &mut self,
        now: Time,
        conn: ConnId,
        register: wire::Register,
        principal: Option<&Principal>,
    ) -> Result<AgentId, AgentRefused> {
        self.authorize_agent(principal, &register.agent_info)?;
        let mut info = register.agent_info;
        if info.hostname.is_empty() {
            return Err(AgentRefused::retry(
                "'AgentInfo.hostname' must not be empty".to_string(),
            ));
        }
        let endpoint = register
            .endpoint
            .unwrap_or_else(|| format!("{}:{}", info.hostname, info.port.unwrap_or(5051)));
        if self.on_down_machine(&info.hostname, &endpoint) {
            tracing::info!(hostname = %info.hostname, %endpoint, "refusing an agent on a DOWN machine");
            return Err(AgentRefused::retry(MACHINE_DOWN));
        }
        let total = Resources::from_protos(std::mem::take(&mut info.resources))
            .map_err(|e| AgentRefused::retry(format!("invalid agent resources: {e}")))?;
        let id = self.new_agent_id();
        info.id = Some(id.to_proto());
        info.resources = total.clone().into_protos();
        let agent = Agent {
            id: id.clone(),
            info,
            endpoint,
            version: register
                .version
                .unwrap_or_else(|| MESOS_VERSION.to_string()),
            capabilities: register.capabilities,
            conn: Some(conn),
            active: true,
            registered_time: now.wall,
            reregistered_time: None,
            total,
            used: HashMap::new(),
            offered: Resources::default(),
            tasks: Default::default(),
            executors: HashMap::new(),
            offers: Default::default(),
            missed_pongs: 0,
            pending_kills: HashMap::new(),
        };
        self.persist_admission(&id, &agent.info, conn);
        self.admit_agent(agent, &HashMap::new());
        self.counters.slave_registrations += 1;
        tracing::info!(agent_id = %id, "agent registered");
        let reply = self.registered_reply(&id, false);
        self.emit_agent(conn, reply);
        Ok(id)
    }

    fn admit_agent(&mut self, agent: Agent, used: &HashMap<FrameworkId, Resources>) {
        let spec = crate::allocator::AgentSpec {
            hostname: agent.info.hostname.clone(),
            total: agent.total.clone(),
        };
        self.allocator.add_agent(&agent.id, spec, used);
        let id = agent.id.clone();
        self.agents.insert(id.clone(), agent);
        self.emit_operator(|m| v1::master::Event {
            r#type: Some(op_event::Type::AgentAdded as i32),
            agent_added: Some(op_event::AgentAdded {
                agent: super::state::agent_proto(&m.agents[&id], &m.drains),
            }),
            ..Default::default()
        });
        self.request_allocation();
    }

    /// An agent with an id reregisters (without an authenticated principal): after its own
    /// restart, a broken session, a master failover, or a partition that made it
    /// unreachable.
    pub fn reregister_agent(
        &mut self,
        now: Time,
        conn: ConnId,
        reregister: wire::Reregister,
    ) -> Result<AgentId, AgentRefused> {
        self.reregister_agent_as(now, conn, reregister, None)
    }

    /// [`Master::reregister_agent`] as `principal`: Mesos authorizes a reregistration
    /// exactly as a registration (`Master::reregisterSlave`), so a denied agent is refused
    /// and nothing of what it reports (its tasks, executors, frameworks) enters the state.
    pub fn reregister_agent_as(
        &mut self,
        now: Time,
        conn: ConnId,
        reregister: wire::Reregister,
        principal: Option<&Principal>,
    ) -> Result<AgentId, AgentRefused> {
        self.authorize_agent(principal, &reregister.agent_info)?;
        let ids = super::validation::validate_reregistration(&reregister)
            .map_err(|e| AgentRefused::retry(e.to_string()))?;
        let mut info = reregister.agent_info;
        let Some(id) = ids.agent else {
            return Err(AgentRefused::retry(
                "'AgentInfo.id' must be set to reregister".to_string(),
            ));
        };
        if self.gone_agents.contains_key(&id) {
            tracing::warn!(agent_id = %id, "refusing reregistration of an agent that is already marked gone");
            return Err(AgentRefused::shutdown(GONE));
        }
        let endpoint = reregister
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("{}:{}", info.hostname, info.port.unwrap_or(5051)));
        if self.on_down_machine(&info.hostname, &endpoint) {
            tracing::info!(agent_id = %id, %endpoint, "refusing to reregister an agent on a DOWN machine");
            return Err(AgentRefused::retry(MACHINE_DOWN));
        }
        let total = Resources::from_protos(std::mem::take(&mut info.resources))
            .map_err(|e| AgentRefused::retry(format!("invalid agent resources: {e}")))?;
        info.resources = total.clone().into_protos();
        self.counters.slave_reregistrations += 1;
        let recovered = self.recovered_agents.remove(&id);
        if recovered.is_some() && self.recovered_agents.is_empty() {
            tracing::info!("every recovered agent has reregistered");
        }
        let reply = self.registered_reply(&id, true);

        if let Some(agent) = self.agents.get_mut(&id) {
            // A known agent on a new session: the old one is gone.
            let old = agent.conn.replace(conn);
            agent.missed_pongs = 0;
            agent.reregistered_time = Some(now.wall);
            if let Some(endpoint) = reregister.endpoint {
                agent.endpoint = endpoint;
            }
            if !agent.active && !self.drains.is_deactivated(&id) {
                agent.active = true;
                self.allocator.activate_agent(&id);
            }
            if let Some(old) = old.filter(|o| *o != conn) {
                self.emit(Effect::CloseAgent { conn: old });
            }
            self.reconcile_known_agent(now, &id, &reregister.tasks);
            self.operations_reregistered(&id, &reregister.operations);
            tracing::info!(agent_id = %id, "agent reregistered");
            self.emit_agent(conn, reply);
            // Mesos's `___reregisterSlave` for agents without resource providers: the
            // master's view of the agent's reservations and volumes is sent back, so that
            // a CheckpointResources lost while the agent was away is not lost for good.
            let checkpointed = self.agents[&id]
                .total
                .filter(super::reservation::needs_checkpoint);
            self.send_to_agent(
                &id,
                wire::master_message::Message::CheckpointResources(wire::CheckpointResources {
                    resources: checkpointed.into_protos(),
                }),
            );
            self.send_pending_kills(&id, conn, &reregister.tasks);
            self.drain_reregistered(now, &id);
            self.request_allocation();
            return Ok(id);
        }

        // Unknown here (master failover) or back from unreachable: rebuild from its report.
        let was_unreachable = self.unreachable_agents.remove(&id).is_some();
        for (framework_info, fid) in reregister.frameworks.iter().zip(ids.frameworks) {
            let Some(fid) = fid else {
                continue;
            };
            if !self.frameworks.contains_key(&fid)
                && !self.completed_frameworks.iter().any(|f| f.id == fid)
            {
                let mut framework = Framework::new(fid.clone(), framework_info.clone(), now.wall);
                framework.recovered = true;
                framework.active = false;
                framework.registered_time = None;
                self.allocator.add_framework(
                    &fid,
                    framework.allocator_spec(),
                    &HashMap::new(),
                    false,
                );
                self.frameworks.insert(fid, framework);
            }
        }
        let mut agent = Agent {
            id: id.clone(),
            info,
            endpoint,
            version: reregister
                .version
                .unwrap_or_else(|| MESOS_VERSION.to_string()),
            capabilities: reregister.capabilities,
            conn: Some(conn),
            active: true,
            registered_time: now.wall,
            reregistered_time: Some(now.wall),
            total,
            used: HashMap::new(),
            offered: Resources::default(),
            tasks: Default::default(),
            executors: HashMap::new(),
            offers: Default::default(),
            missed_pongs: 0,
            pending_kills: HashMap::new(),
        };
        let mut shutdown_frameworks = Vec::new();
        for (executor, (executor_id, fid)) in reregister.executors.iter().zip(ids.executors) {
            let Some(fid) = fid else {
                continue;
            };
            let Some(framework) = self.frameworks.get_mut(&fid) else {
                shutdown_frameworks.push(fid);
                continue;
            };
            agent
                .executors
                .entry(fid.clone())
                .or_default()
                .insert(executor_id.clone());
            framework.add_executor(&id, executor_id, executor.clone());
            if let Ok(r) = Resources::from_protos(executor.resources.clone()) {
                agent.add_used(&fid, &r);
            }
        }
        // The reported tasks are moved into the records, not cloned: at a failover every
        // agent reports all its tasks at once (a million at scale).
        let reported_tasks = reregister.tasks.len();
        // The last task's resources as reported and parsed: an agent's tasks mostly ask for
        // the same resources, which are then parsed once rather than per task.
        let mut parsed: Option<(Vec<v1::Resource>, Resources)> = None;
        for (task, (fid, task_id)) in reregister.tasks.into_iter().zip(ids.tasks) {
            let state = v1::TaskState::try_from(task.state).unwrap_or(v1::TaskState::TaskStaging);
            let Some(framework) = self.frameworks.get_mut(&fid) else {
                if !shutdown_frameworks.contains(&fid) {
                    shutdown_frameworks.push(fid);
                }
                continue;
            };
            if is_terminal(state) {
                // Ended but not yet acknowledged: the agent resends the update; until then
                // reconciliation reports the terminal state rather than LOST.
                if !framework
                    .completed_tasks
                    .iter()
                    .any(|t| t.task_id() == task.task_id)
                {
                    let cap = self.config.max_completed_tasks_per_framework;
                    framework.add_unacknowledged_end(task_id, task.into(), cap);
                }
                continue;
            }
            if was_unreachable && !framework.partition_aware() {
                // Its tasks were reported LOST; Mesos shuts such frameworks down on the agent.
                if !shutdown_frameworks.contains(&fid) {
                    shutdown_frameworks.push(fid);
                }
                continue;
            }
            framework.unreachable_tasks.remove(task_id.as_str());
            agent.tasks.insert((fid.clone(), task_id.clone()));
            match &parsed {
                Some((protos, r)) if *protos == task.resources => agent.add_used(&fid, r),
                _ => {
                    if let Ok(r) = Resources::from_protos(task.resources.iter().cloned()) {
                        agent.add_used(&fid, &r);
                        parsed = Some((task.resources.clone(), r));
                    }
                }
            }
            framework.tasks.insert(task_id, task.into());
        }
        let used = agent.used.clone();
        // An agent the registry already lists as admitted, unchanged (the common case after
        // a failover: every agent at once), needs no write; an unknown, changed or
        // formerly unreachable one is answered once its admission is durable.
        if recovered.as_ref() != Some(&agent.info) {
            self.persist_admission(&id, &agent.info, conn);
        }
        self.admit_agent(agent, &used);
        self.operations_reregistered(&id, &reregister.operations);
        for fid in shutdown_frameworks {
            self.send_to_agent(
                &id,
                wire::master_message::Message::ShutdownFramework(wire::ShutdownFramework {
                    framework_id: fid.to_proto(),
                }),
            );
        }
        tracing::info!(
            agent_id = %id,
            was_unreachable,
            frameworks = reregister.frameworks.len(),
            executors = reregister.executors.len(),
            tasks = reported_tasks,
            "agent reregistered (recovered)"
        );
        self.emit_agent(conn, reply);
        self.drain_reregistered(now, &id);
        Ok(id)
    }

    /// Tasks the master launched on a known agent that the agent does not report were lost
    /// on the way (e.g. the RunTask never arrived).
    fn reconcile_known_agent(&mut self, now: Time, agent_id: &str, reported: &[v1::Task]) {
        let reported: std::collections::HashSet<(&str, &str)> = reported
            .iter()
            .map(|t| (t.framework_id.value.as_str(), t.task_id.value.as_str()))
            .collect();
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let missing: Vec<(FrameworkId, TaskId)> = agent
            .tasks
            .iter()
            .filter(|(f, t)| !reported.contains(&(f.as_str(), t.as_str())))
            .filter(|(f, t)| {
                self.frameworks
                    .get(f)
                    .and_then(|fw| fw.tasks.get(t))
                    .is_some_and(|task| task.state == v1::TaskState::TaskStaging as i32)
            })
            .cloned()
            .collect();
        for (fid, tid) in missing {
            let state = self.lost_state(&fid, v1::TaskState::TaskDropped);
            self.end_task(
                now,
                &fid,
                &tid,
                state,
                v1::task_status::Reason::Reconciliation,
                "Task is unknown to the agent",
                true,
            );
        }
    }

    /// The kills a framework asked for while the agent was away, for the tasks it reports
    /// still running.
    fn send_pending_kills(&mut self, agent_id: &str, conn: ConnId, reported: &[v1::Task]) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        let pending = std::mem::take(&mut agent.pending_kills);
        for ((framework_id, task_id), kill_policy) in pending {
            let alive = reported
                .iter()
                .any(|t| t.framework_id.value == framework_id && t.task_id.value == task_id);
            if !alive {
                continue;
            }
            tracing::info!(%agent_id, %framework_id, %task_id, "sending a kill asked for while the agent was disconnected");
            self.emit_agent(
                conn,
                wire::master_message::Message::KillTask(wire::KillTask {
                    framework_id: framework_id.to_proto(),
                    task_id: task_id.to_proto(),
                    kill_policy,
                }),
            );
        }
    }

    pub fn agent_pong(&mut self, agent_id: &str) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.missed_pongs = 0;
        }
    }

    /// The agent's session closed. The agent is deactivated (no offers) until it returns or
    /// the ping timeout marks it unreachable; tasks of frameworks that do not checkpoint die
    /// with the agent process, so they are LOST now (reference §8.5).
    pub fn agent_disconnected(&mut self, now: Time, agent_id: &str, conn: ConnId) {
        self.forget_held_session(conn);
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        if agent.conn != Some(conn) {
            return; // an older session of an agent that has already reconnected
        }
        agent.conn = None;
        if agent.active {
            agent.active = false;
            self.allocator.deactivate_agent(agent_id);
        }
        tracing::warn!(agent_id, "agent disconnected");
        let offers: Vec<OfferId> = self.agents[agent_id].offers.iter().cloned().collect();
        for offer_id in offers {
            self.rescind_offer(now, &offer_id);
        }
        let doomed: Vec<(FrameworkId, TaskId)> = self.agents[agent_id]
            .tasks
            .iter()
            .filter(|(f, _)| {
                !self
                    .frameworks
                    .get(f)
                    .is_some_and(|fw| fw.info.checkpoint.unwrap_or(false))
            })
            .cloned()
            .collect();
        for (fid, tid) in doomed {
            let state = self.lost_state(&fid, v1::TaskState::TaskGone);
            self.end_task(
                now,
                &fid,
                &tid,
                state,
                v1::task_status::Reason::AgentDisconnected,
                "Agent disconnected",
                true,
            );
        }
    }

    pub(super) fn ping_agents(&mut self, now: Time) {
        let max = self.config.max_agent_ping_timeouts;
        let mut unreachable = Vec::new();
        let mut pings = Vec::new();
        for agent in self.agents.values_mut() {
            if agent.missed_pongs >= max {
                unreachable.push(agent.id.clone());
                continue;
            }
            agent.missed_pongs += 1;
            if let Some(conn) = agent.conn {
                pings.push(conn);
            }
        }
        for conn in pings {
            let message = wire::master_message::Message::Ping(wire::Ping {
                connected: Some(true),
            });
            self.emit_agent(conn, message);
        }
        for id in unreachable {
            self.mark_unreachable(now, &id);
        }
    }

    /// The agent missed `--max_agent_ping_timeouts` pings: its tasks become UNREACHABLE for
    /// partition-aware frameworks and LOST for the others, and every framework is told the
    /// agent is gone (reference §8.5).
    pub fn mark_unreachable(&mut self, now: Time, agent_id: &str) {
        tracing::warn!(agent_id, "marking agent unreachable");
        self.counters.slave_unreachable_scheduled += 1;
        let Some(agent) = self.remove_agent(now, agent_id, Removal::Unreachable) else {
            return;
        };
        self.persist_agent(agent_id, &agent.info, AgentRecord::UNREACHABLE, now.wall);
        self.unreachable_agents.insert(
            agent.id,
            UnreachableAgent {
                info: agent.info,
                since: now.wall,
            },
        );
    }

    /// MARK_AGENT_GONE (Mesos's `Master::Http::_markAgentGone` and `Master::markGone`): the
    /// agent is recorded gone in the registry and may never come back. A connected agent is
    /// told to shut down and removed; tasks on it, or still unreachable on it, end
    /// TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not partition-aware).
    /// An agent that is already gone is not an error (`Ok(None)`); an unknown one is.
    pub fn mark_agent_gone(
        &mut self,
        now: Time,
        agent_id: &str,
    ) -> Result<Option<ReplyId>, AgentNotFound> {
        const MESSAGE: &str = GONE;
        if self.gone_agents.contains_key(agent_id) {
            tracing::warn!(agent_id, "not marking agent gone: it already is");
            return Ok(None);
        }
        // The id is taken from the state that knew the agent, so the gone list holds only
        // ids that entered through validation.
        let known = if self.agents.contains_key(agent_id) {
            self.send_to_agent(
                agent_id,
                wire::master_message::Message::Shutdown(wire::Shutdown {
                    message: Some(MESSAGE.to_string()),
                }),
            );
            self.remove_agent(now, agent_id, Removal::ByOperator(MESSAGE))
                .map(|a| (a.id, a.info))
        } else if let Some(entry) = self.recovered_agents.remove_entry(agent_id) {
            // No task metadata to report on (Mesos does the same, MESOS-9739).
            Some(entry)
        } else if let Some((id, unreachable)) = self.unreachable_agents.remove_entry(agent_id) {
            self.end_unreachable_tasks(now, agent_id, MESSAGE);
            Some((id, unreachable.info))
        } else {
            None
        };
        let Some((id, info)) = known else {
            return Err(AgentNotFound(agent_id.to_string()));
        };
        tracing::info!(agent_id, "marked agent gone");
        self.drains.forget(agent_id);
        self.gone_agents.insert(
            id,
            UnreachableAgent {
                info: info.clone(),
                since: now.wall,
            },
        );
        Ok(Some(self.persist_waited(Operation::agent(
            agent_id,
            &info,
            AgentRecord::GONE,
            now.wall,
        ))))
    }

    /// Ends the tasks of an unreachable agent that was marked gone.
    fn end_unreachable_tasks(&mut self, now: Time, agent_id: &str, message: &str) {
        let mut ended = Vec::new();
        for (fid, framework) in &mut self.frameworks {
            let ids: Vec<TaskId> = framework
                .unreachable_tasks
                .iter()
                .filter(|(_, t)| t.agent_id().value == agent_id)
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                if let Some(task) = framework.unreachable_tasks.remove(&id) {
                    ended.push((fid.clone(), task));
                }
            }
        }
        for (fid, task) in ended {
            let (state, reason) = self.removed_by_operator(&fid);
            let status = self.record_end(now, &fid, task, state, reason, message);
            self.send_status(&fid, status);
        }
    }

    /// The state and reason of a task whose agent an operator removed (Mesos's
    /// `__removeSlave` without an unreachable time).
    fn removed_by_operator(&self, framework_id: &str) -> (v1::TaskState, v1::task_status::Reason) {
        match self.lost_state(framework_id, v1::TaskState::TaskGoneByOperator) {
            v1::TaskState::TaskLost => (
                v1::TaskState::TaskLost,
                v1::task_status::Reason::AgentRemoved,
            ),
            state => (state, v1::task_status::Reason::AgentRemovedByOperator),
        }
    }

    /// Takes a registered agent out of the cluster: offers rescinded, tasks ended as `how`
    /// says, the allocator and the session let go, every framework told the agent is lost
    /// (FAILURE) and operator subscribers told it was removed. The caller records why in
    /// the registry.
    pub(super) fn remove_agent(
        &mut self,
        now: Time,
        agent_id: &str,
        how: Removal<'_>,
    ) -> Option<Agent> {
        self.agents.get(agent_id)?;
        self.operations_of_removed_agent(agent_id, !matches!(how, Removal::Unreachable));
        self.rescind_inverse_offers_of_agent(agent_id, true);
        let agent = &self.agents[agent_id];
        self.counters.slave_removals += 1;
        let offers: Vec<OfferId> = agent.offers.iter().cloned().collect();
        for offer_id in offers {
            self.rescind_offer(now, &offer_id);
        }
        let mut tasks: Vec<(FrameworkId, TaskId)> =
            self.agents[agent_id].tasks.iter().cloned().collect();
        tasks.sort();
        for (fid, tid) in tasks {
            match how {
                Removal::Unreachable => {
                    let message = format!("Agent {agent_id} is unreachable");
                    let partition_aware = self
                        .frameworks
                        .get(&fid)
                        .is_some_and(|f| f.partition_aware());
                    if partition_aware {
                        self.task_unreachable(now, &fid, &tid, &message);
                    } else {
                        self.end_task(
                            now,
                            &fid,
                            &tid,
                            v1::TaskState::TaskLost,
                            v1::task_status::Reason::AgentRemoved,
                            &message,
                            true,
                        );
                    }
                }
                Removal::ByOperator(message) => {
                    let (state, reason) = self.removed_by_operator(&fid);
                    self.end_task(now, &fid, &tid, state, reason, message, true);
                }
            }
        }
        let agent = self.agents.remove(agent_id)?;
        self.allocator.remove_agent(agent_id);
        for framework in self.frameworks.values_mut() {
            framework.executors.remove(agent_id);
        }
        if let Some(conn) = agent.conn {
            self.emit(Effect::CloseAgent { conn });
        }
        let connected: Vec<FrameworkId> = self
            .frameworks
            .iter()
            .filter(|(_, f)| f.connected())
            .map(|(id, _)| id.clone())
            .collect();
        for fid in connected {
            let event = sched::Event {
                r#type: Some(sched::event::Type::Failure as i32),
                failure: Some(sched::event::Failure {
                    agent_id: Some(v1::AgentId {
                        value: agent_id.to_string(),
                    }),
                    executor_id: None,
                    status: None,
                }),
                ..Default::default()
            };
            self.send_to_framework(&fid, event);
        }
        self.emit_operator(|_| v1::master::Event {
            r#type: Some(op_event::Type::AgentRemoved as i32),
            agent_removed: Some(op_event::AgentRemoved {
                agent_id: v1::AgentId {
                    value: agent_id.to_string(),
                },
            }),
            ..Default::default()
        });
        self.request_allocation();
        Some(agent)
    }

    fn task_unreachable(&mut self, now: Time, framework_id: &str, task_id: &str, message: &str) {
        let Some((key, mut task)) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.take_task(task_id))
        else {
            return;
        };
        self.release_task(now, &key, &task);
        let mut status = super::master_status(
            now,
            &task.task_id(),
            Some(&task.agent_id()),
            v1::TaskState::TaskUnreachable,
            v1::task_status::Reason::AgentRemoved,
            message,
        );
        status.unreachable_time = Some(v1::TimeInfo {
            nanoseconds: (now.wall * 1e9) as i64,
        });
        task.state = v1::TaskState::TaskUnreachable as i32;
        task.push_status(&status);
        let cap = self.config.max_unreachable_tasks_per_framework;
        if let Some(framework) = self.frameworks.get_mut(framework_id)
            && framework.unreachable_tasks.len() < cap
        {
            framework.unreachable_tasks.insert(key.1, task);
        }
        let event = super::update_event(status);
        self.send_to_framework(framework_id, event);
    }

    /// Gives a task's resources back: off the agent's books and to the allocator.
    fn release_task(&mut self, now: Time, key: &(FrameworkId, TaskId), task: &TaskRecord) {
        self.launched.remove(key);
        let fid = key.0.as_str();
        let aid = &task.agent_id().value;
        let Ok(resources) = Resources::from_protos(task.resources()) else {
            return;
        };
        if let Some(agent) = self.agents.get_mut(aid.as_str()) {
            agent.remove_used(fid, &resources);
            agent.tasks.remove(key);
            self.allocator
                .recover_resources(now.mono, fid, aid, &resources, None);
            self.request_allocation();
        }
    }

    /// Ends a task in the master's books with a master-generated terminal state, telling the
    /// framework when `notify`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn end_task(
        &mut self,
        now: Time,
        framework_id: &str,
        task_id: &str,
        state: v1::TaskState,
        reason: v1::task_status::Reason,
        message: &str,
        notify: bool,
    ) {
        let Some((key, task)) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.take_task(task_id))
        else {
            return;
        };
        self.release_task(now, &key, &task);
        let status = self.record_end(now, framework_id, task, state, reason, message);
        if notify {
            let event = super::update_event(status);
            self.send_to_framework(framework_id, event);
        }
    }

    /// Files `task` as completed in `state` with a master-generated status; returns it.
    fn record_end(
        &mut self,
        now: Time,
        framework_id: &str,
        mut task: TaskRecord,
        state: v1::TaskState,
        reason: v1::task_status::Reason,
        message: &str,
    ) -> v1::TaskStatus {
        let status = super::master_status(
            now,
            &task.task_id(),
            Some(&task.agent_id()),
            state,
            reason,
            message,
        );
        task.state = state as i32;
        task.push_status(&status);
        self.count_terminal(state);
        self.complete_task(framework_id, task);
        status
    }

    fn complete_task(&mut self, framework_id: &str, task: TaskRecord) {
        let cap = self.config.max_completed_tasks_per_framework;
        self.emit_operator(|_| v1::master::Event {
            r#type: Some(op_event::Type::TaskUpdated as i32),
            task_updated: Some(op_event::TaskUpdated {
                framework_id: task.framework_id(),
                status: task.last_status().unwrap_or_default(),
                state: task.state,
            }),
            ..Default::default()
        });
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.add_completed_task(task, cap);
        }
    }

    /// A status update from an agent: update the task, forward to the framework (which
    /// acknowledges through the master), release resources when the task is done.
    pub fn agent_status_update(&mut self, now: Time, agent_id: &str, update: wire::StatusUpdate) {
        let fid = update.framework_id.value.clone();
        let mut status = update.status;
        let Ok(state) = v1::TaskState::try_from(status.state) else {
            self.counters.invalid_status_updates += 1;
            return;
        };
        if !self.frameworks.contains_key(&fid) {
            self.counters.invalid_status_updates += 1;
            if self.completed_frameworks.iter().any(|f| f.id == fid) {
                self.send_to_agent(
                    agent_id,
                    wire::master_message::Message::ShutdownFramework(wire::ShutdownFramework {
                        framework_id: update.framework_id,
                    }),
                );
            }
            return;
        }
        if status.agent_id.is_none() {
            status.agent_id = Some(v1::AgentId {
                value: agent_id.to_string(),
            });
        }
        let mut latest = update
            .latest_state
            .and_then(|s| v1::TaskState::try_from(s).ok())
            .unwrap_or(state);
        self.drain_status_update(agent_id, &fid, &mut status, &mut latest);
        let tid = status.task_id.value.clone();
        // Mesos's `Master::statusUpdate` forwards to a connected framework before it looks
        // the task up, so an update of a task the master no longer knows (one it reported
        // LOST while the agent was away, then ended there) still reaches the framework, is
        // acknowledged, and the agent stops resending it; it counts as invalid.
        let framework = self.frameworks.get_mut(&fid).expect("checked above");
        let connected = framework.connected();
        // A resent terminal update of a task whose end is not yet acknowledged is known
        // (Mesos keeps such a task until the acknowledgement).
        let known = framework.tasks.contains_key(&tid)
            || framework.unacknowledged_ends.contains(tid.as_str());
        if connected && known {
            self.counters.valid_status_updates += 1;
        } else {
            self.counters.invalid_status_updates += 1;
        }
        if !known {
            tracing::warn!(framework_id = %fid, task_id = %tid, "status update for a task the master does not know");
        }
        if status.state == v1::TaskState::TaskRunning as i32
            && let Some((key, _)) = framework.tasks.get_key_value(&tid)
            && let Some(launched) = self.launched.remove(&(framework.id.clone(), key.clone()))
        {
            self.histograms
                .launch_to_running
                .observe(now.mono.saturating_duration_since(launched));
        }
        let framework = self.frameworks.get_mut(&fid).expect("checked above");
        if let Some(task) = framework.tasks.get_mut(&tid) {
            task.state = latest as i32;
            task.status_update_state = Some(status.state);
            task.status_update_uuid = status.uuid.clone().map(bytes::Bytes::from);
            if status.data.is_some() {
                let mut kept = status.clone();
                kept.data = None; // Mesos drops status data from the master's copy
                task.push_status(&kept);
            } else {
                task.push_status(&status);
            }
            self.emit_operator(|_| v1::master::Event {
                r#type: Some(op_event::Type::TaskUpdated as i32),
                task_updated: Some(op_event::TaskUpdated {
                    framework_id: update.framework_id.clone(),
                    status: status.clone(),
                    state: latest as i32,
                }),
                ..Default::default()
            });
            if is_terminal(latest) {
                let (key, task) = self
                    .frameworks
                    .get_mut(&fid)
                    .and_then(|f| f.take_task(&tid))
                    .expect("present");
                self.release_task(now, &key, &task);
                self.count_terminal(latest);
                let cap = self.config.max_completed_tasks_per_framework;
                if let Some(framework) = self.frameworks.get_mut(&fid) {
                    // Reliable updates carry a uuid and wait for an acknowledgement.
                    if status.uuid.is_some() {
                        framework.add_unacknowledged_end(key.1, task, cap);
                    } else {
                        framework.add_completed_task(task, cap);
                    }
                }
            }
        } else if framework.unacknowledged_ends.contains(tid.as_str())
            && let Some(at) = framework
                .completed_tasks
                .iter()
                .rposition(|t| t.task_id().value == tid)
        {
            // A resent terminal update: its acknowledgement is the one that counts. The
            // deque is copied only if a dump holds it and the task is found.
            let task = &mut std::sync::Arc::make_mut(&mut framework.completed_tasks)[at];
            task.status_update_state = Some(status.state);
            task.status_update_uuid = status.uuid.clone().map(bytes::Bytes::from);
        }
        let event = super::update_event(status);
        self.send_to_framework(&fid, event);
        self.check_drained(now, agent_id);
    }

    pub fn agent_executor_message(&mut self, agent_id: &str, message: wire::ExecutorToFramework) {
        let fid = message.framework_id.value.clone();
        if !self.frameworks.get(&fid).is_some_and(|f| f.connected()) {
            self.counters.invalid_executor_to_framework_messages += 1;
            return;
        }
        self.counters.valid_executor_to_framework_messages += 1;
        let event = sched::Event {
            r#type: Some(sched::event::Type::Message as i32),
            message: Some(sched::event::Message {
                agent_id: v1::AgentId {
                    value: agent_id.to_string(),
                },
                executor_id: message.executor_id,
                data: message.data,
            }),
            ..Default::default()
        };
        self.send_to_framework(&fid, event);
    }

    /// An executor ended: its resources return, and the framework gets FAILURE.
    pub fn agent_executor_exited(
        &mut self,
        now: Time,
        agent_id: &str,
        exited: wire::ExitedExecutor,
    ) {
        let fid = exited.framework_id.value.clone();
        let eid = exited.executor_id.value.clone();
        let removed = self
            .frameworks
            .get_mut(&fid)
            .and_then(|f| f.remove_executor(agent_id, &eid));
        if let Some(agent) = self.agents.get_mut(agent_id)
            && let Some(ids) = agent.executors.get_mut(&fid)
        {
            ids.remove(&eid);
            if ids.is_empty() {
                agent.executors.remove(&fid);
            }
        }
        if let Some(executor) = removed
            && let Ok(resources) = Resources::from_protos(executor.resources)
        {
            if let Some(agent) = self.agents.get_mut(agent_id) {
                agent.remove_used(&fid, &resources);
            }
            self.allocator
                .recover_resources(now.mono, &fid, agent_id, &resources, None);
            self.request_allocation();
        }
        let event = sched::Event {
            r#type: Some(sched::event::Type::Failure as i32),
            failure: Some(sched::event::Failure {
                agent_id: Some(v1::AgentId {
                    value: agent_id.to_string(),
                }),
                executor_id: Some(exited.executor_id),
                status: exited.status,
            }),
            ..Default::default()
        };
        self.send_to_framework(&fid, event);
    }

    /// A framework's event stream could not take an event, and `backlog` events already
    /// wait for it: [`Stream::Keep`] it (the event joins the backlog) or, once the backlog
    /// is at `Config::framework_stream_backlog`, [`Stream::Drop`] it — a stream that far
    /// behind is not being read, so the master treats the framework as disconnected (it
    /// reconnects and reconciles; DESIGN.md §3, as Mesos closes a subscriber's
    /// connection it cannot write to). A closed stream ends the same way.
    pub fn framework_stream_backed_up(
        &mut self,
        now: Time,
        framework_id: &str,
        conn: ConnId,
        backlog: Backlog,
    ) -> Stream {
        let why = match backlog {
            Backlog::Waiting(n) if n < self.config.framework_stream_backlog => {
                return Stream::Keep;
            }
            Backlog::Waiting(_) => "not being read",
            Backlog::Closed => "closed",
        };
        tracing::warn!(%framework_id, why, "dropping a framework stream that is not being read");
        self.framework_disconnected(now, framework_id, conn);
        Stream::Drop
    }

    /// The subscription stream of `conn` closed.
    pub fn framework_disconnected(&mut self, now: Time, framework_id: &str, conn: ConnId) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        if framework.connection.as_ref().map(|c| c.conn) != Some(conn) {
            return; // an old stream of a framework that already failed over
        }
        framework.connection = None;
        framework.active = false;
        framework.unregistered_time = Some(now.wall);
        self.drop_inverse_offers_of_framework(framework_id, false);
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        // SUBSCRIBE validated the timeout (`Duration::create`), so it is at most i64::MAX
        // nanoseconds; a negative one ends the framework now, as Mesos's zero-delay timer.
        let timeout = framework.info.failover_timeout.unwrap_or(0.0);
        let timeout = std::time::Duration::try_from_secs_f64(timeout.max(0.0))
            .unwrap_or(crate::duration::MAX_DURATION)
            .min(crate::duration::MAX_DURATION);
        // Still checked: a deadline past what `Instant` can hold is no deadline (never).
        framework.failover_deadline = now.mono.checked_add(timeout);
        let deadline = framework.failover_deadline;
        let offers: Vec<OfferId> = framework.offers.iter().cloned().collect();
        if let Some(at) = deadline {
            self.failover_deadlines.insert((at, framework.id.clone()));
        }
        tracing::info!(framework_id, failover_timeout = ?timeout, "framework disconnected");
        self.allocator.deactivate_framework(framework_id);
        for offer_id in offers {
            if let Some(offer) = self.take_offer(&offer_id) {
                let agent_id = offer.offer.agent_id.value.clone();
                self.allocator.recover_resources(
                    now.mono,
                    framework_id,
                    &agent_id,
                    &offer.resources,
                    None,
                );
            }
        }
        self.request_allocation();
        if timeout.is_zero() {
            self.remove_framework(now, framework_id);
        }
    }

    pub(super) fn expire_failover_timeouts(&mut self, now: Time) {
        let expired: Vec<FrameworkId> = self
            .frameworks
            .iter()
            .filter(|(_, f)| {
                f.connection.is_none() && f.failover_deadline.is_some_and(|d| now.mono >= d)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::info!(framework_id = %id, "framework failover timeout expired");
            self.remove_framework(now, &id);
        }
    }

    /// TEARDOWN, failover timeout or operator teardown: shut down its executors and tasks,
    /// return its resources and keep it among the completed frameworks.
    pub fn remove_framework(&mut self, now: Time, framework_id: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let offers: Vec<OfferId> = framework.offers.iter().cloned().collect();
        for offer_id in offers {
            self.take_offer(&offer_id);
        }
        let mut agents: std::collections::BTreeSet<String> = self.frameworks[framework_id]
            .tasks
            .values()
            .map(|t| t.agent_id().value)
            .collect();
        agents.extend(
            self.frameworks[framework_id]
                .executors
                .keys()
                .map(|a| a.to_string()),
        );
        for agent_id in &agents {
            self.send_to_agent(
                agent_id,
                wire::master_message::Message::ShutdownFramework(wire::ShutdownFramework {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_string(),
                    },
                }),
            );
        }
        let task_ids: Vec<TaskId> = self.frameworks[framework_id]
            .tasks
            .keys()
            .cloned()
            .collect();
        for tid in task_ids {
            self.end_task(
                now,
                framework_id,
                &tid,
                v1::TaskState::TaskKilled,
                v1::task_status::Reason::FrameworkRemoved,
                "Framework removed",
                false,
            );
        }
        for agent in self.agents.values_mut() {
            agent.used.remove(framework_id);
            agent.executors.remove(framework_id);
        }
        self.allocator.remove_framework(framework_id);
        self.drop_inverse_offers_of_framework(framework_id, true);
        let Some(mut framework) = self.frameworks.remove(framework_id) else {
            return;
        };
        if let Some(connection) = framework.connection.take() {
            self.emit(Effect::CloseFramework {
                conn: connection.conn,
            });
        }
        framework.active = false;
        framework.unregistered_time = Some(now.wall);
        framework.executors.clear();
        framework.unreachable_tasks.clear();
        self.emit_operator(|_| {
            operator_framework_event(op_event::Type::FrameworkRemoved, &framework)
        });
        if self.config.max_completed_frameworks > 0 {
            while self.completed_frameworks.len() >= self.config.max_completed_frameworks {
                self.completed_frameworks.pop_front();
            }
            self.completed_frameworks.push_back(framework);
        }
        self.check_all_drained(now);
        self.request_allocation();
    }
}
