//! A newly elected master's recovery from the registry, and the registry writes the master
//! decides (reference/mesos-contract.md §8.5: after a failover, agents reregister; those
//! not back within `--agent_reregister_timeout` are marked unreachable), including the
//! periodic registry GC of unreachable and gone agents (`--registry_gc_interval`,
//! `--registry_max_agent_age`, `--registry_max_agent_count`, Mesos's `doRegistryGc`).

use std::collections::HashMap;

use super::{Master, ReplyId, Time, UnreachableAgent};
use crate::common::id::{AgentId, FrameworkId};
use crate::registry::{AgentRecord, Operation, Registry, Roles};
use remesos_proto::v1;

impl Master {
    /// Loads the recovered registry: admitted agents wait to reregister, unreachable and
    /// gone agents are remembered, weights and quota are applied.
    pub fn recover(&mut self, now: Time, registry: &Registry) {
        for (id, record) in &registry.agents {
            // The registry holds ids this master's predecessors validated; one that does
            // not pass now (a store written by hand) names no agent the master can hold.
            let id = match AgentId::new(id.as_str()) {
                Ok(id) => id,
                Err(error) => {
                    tracing::warn!(agent_id = %id.escape_default(), %error, "ignoring an agent with an invalid id in the registry");
                    continue;
                }
            };
            let info = record.info.clone().unwrap_or_default();
            if record.state != AgentRecord::GONE {
                self.drains.recover(&id, record);
            }
            match record.state {
                AgentRecord::ADMITTED => {
                    self.recovered_agents.insert(id, info);
                }
                AgentRecord::UNREACHABLE => {
                    self.unreachable_agents.insert(
                        id,
                        UnreachableAgent {
                            info,
                            since: record.since,
                        },
                    );
                }
                _ => {
                    self.gone_agents.insert(
                        id,
                        UnreachableAgent {
                            info,
                            since: record.since,
                        },
                    );
                }
            }
        }
        if !registry.roles.weights.is_empty()
            && let Err(e) = self.update_weights(&registry.roles.weights)
        {
            tracing::warn!(error = %e, "ignoring recovered weights");
        }
        if !registry.roles.quotas.is_empty()
            && let Err(e) = self.update_quota(&registry.roles.quotas)
        {
            tracing::warn!(error = %e, "ignoring recovered quota");
        }
        self.maintenance = super::maintenance::Machines::from_record(&registry.maintenance);
        if !self.recovered_agents.is_empty() {
            self.reregister_deadline = Some(now.mono + self.config.agent_reregister_timeout);
        }
        tracing::info!(
            recovered = self.recovered_agents.len(),
            unreachable = self.unreachable_agents.len(),
            gone = self.gone_agents.len(),
            maintenance_machines = self.maintenance.machines.len(),
            reregister_timeout = ?self.config.agent_reregister_timeout,
            "recovered the registry; waiting for agents to reregister"
        );
    }

    /// Recovered agents that did not come back in time become unreachable: persisted, and
    /// every connected framework hears the agent is lost. Their tasks are unknown to this
    /// master; reconciliation reports them UNREACHABLE (or LOST) from now on.
    pub(super) fn expire_reregistration(&mut self, now: Time) {
        let Some(deadline) = self.reregister_deadline else {
            return;
        };
        if now.mono < deadline {
            return;
        }
        self.reregister_deadline = None;
        let absent: Vec<(AgentId, v1::AgentInfo)> = self.recovered_agents.drain().collect();
        for (id, info) in absent {
            tracing::warn!(agent_id = %id, "agent did not reregister within --agent_reregister_timeout; marking it unreachable");
            self.counters.slave_unreachable_scheduled += 1;
            self.persist_agent(&id, &info, AgentRecord::UNREACHABLE, now.wall);
            self.unreachable_agents.insert(
                id.clone(),
                UnreachableAgent {
                    info,
                    since: now.wall,
                },
            );
            let connected: Vec<FrameworkId> = self
                .frameworks
                .iter()
                .filter(|(_, f)| f.connected())
                .map(|(fid, _)| fid.clone())
                .collect();
            for fid in connected {
                let event = v1::scheduler::Event {
                    r#type: Some(v1::scheduler::event::Type::Failure as i32),
                    failure: Some(v1::scheduler::event::Failure {
                        agent_id: Some(id.to_proto()),
                        executor_id: None,
                        status: None,
                    }),
                    ..Default::default()
                };
                self.send_to_framework(&fid, event);
            }
        }
    }

    /// Prunes unreachable and gone agents from the registry, each list on its own: the
    /// oldest beyond `--registry_max_agent_count`, and any older than
    /// `--registry_max_agent_age`. A pruned unreachable agent that comes back is admitted
    /// as a master admits an unknown agent; a pruned gone agent is forgotten (Mesos too).
    pub(super) fn registry_gc(&mut self, now: Time) {
        let max_age = self.config.registry_max_agent_age.as_secs_f64();
        let max_count = self.config.registry_max_agent_count;
        let prune = |agents: &HashMap<AgentId, UnreachableAgent>| -> Vec<AgentId> {
            let mut by_age: Vec<(&AgentId, f64)> =
                agents.iter().map(|(id, a)| (id, a.since)).collect();
            by_age.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
            let excess = by_age.len().saturating_sub(max_count);
            by_age
                .into_iter()
                .enumerate()
                .filter(|(i, (_, since))| *i < excess || now.wall - since > max_age)
                .map(|(_, (id, _))| id.clone())
                .collect()
        };
        let unreachable = prune(&self.unreachable_agents);
        let gone = prune(&self.gone_agents);
        if unreachable.is_empty() && gone.is_empty() {
            return;
        }
        tracing::info!(
            unreachable = unreachable.len(),
            gone = gone.len(),
            "pruning agents from the registry"
        );
        for id in &unreachable {
            self.unreachable_agents.remove(id);
            // Their unreachable tasks are forgotten with them (reconciliation answers
            // TASK_UNKNOWN from now on), as in Mesos's `_doRegistryGc`.
            for framework in self.frameworks.values_mut() {
                framework
                    .unreachable_tasks
                    .retain(|_, t| t.agent_id().value != *id);
            }
        }
        for id in &gone {
            self.gone_agents.remove(id);
        }
        for id in unreachable.iter().chain(&gone) {
            self.persist(Operation::remove_agent(id));
        }
    }

    /// Records an agent's state in the registry.
    pub(super) fn persist_agent(&mut self, id: &str, info: &v1::AgentInfo, state: u32, since: f64) {
        self.persist(Operation::agent(id, info, state, since));
    }

    /// Records the current weights and quota; the reply id answers when they are durable.
    pub fn persist_roles(&mut self) -> ReplyId {
        let roles = Roles {
            weights: self.weight_infos(),
            quotas: self.role_config.quotas.values().cloned().collect(),
        };
        self.persist_waited(Operation::roles(roles))
    }
}
