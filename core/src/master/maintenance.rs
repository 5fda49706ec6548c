//! Maintenance primitives (Mesos's `docs/maintenance.md`): a schedule of windows, each a set
//! of machines and the time they will be unavailable, and each scheduled machine's mode.
//!
//! ```text
//!   UP --UPDATE_MAINTENANCE_SCHEDULE--> DRAINING --START_MAINTENANCE--> DOWN
//!    ^        (machine leaves the schedule: back to UP)                   |
//!    +-------------------------STOP_MAINTENANCE---------------------------+
//! ```
//!
//! * A machine is a [`v1::MachineId`]: hostname (case-insensitive) and IP. An agent belongs
//!   to the machine whose hostname *and* IP are its own (AgentInfo.hostname and the IP of
//!   its endpoint), so a schedule entry without an IP matches no agent — as in Mesos.
//! * DRAINING: offers for the machine's agents carry `Offer.unavailability`; outstanding
//!   offers are rescinded when a machine's unavailability changes so that frameworks see it.
//! * DOWN: the machine's agents are told to shut down and removed (their tasks end
//!   TASK_GONE_BY_OPERATOR, or TASK_LOST for frameworks that are not partition-aware), and
//!   agents on it are refused when they (re)register. A DOWN machine must stay in the
//!   schedule; only STOP_MAINTENANCE brings it back UP (and out of the schedule).
//! * The schedule and modes are one registry record (`registry::Maintenance`), written
//!   before the operator is answered and recovered by a new leader; its encoding is capped
//!   at [`MAX_MAINTENANCE_BYTES`] (one ZooKeeper znode).
//!
//! Not implemented: inverse offers. Frameworks learn about maintenance only through
//! `Offer.unavailability`; GET_MAINTENANCE_STATUS lists draining machines without inverse
//! offer statuses, and ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS are no-ops.

use std::collections::{BTreeMap, HashSet};

use prost::Message;
use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::machine_info::Mode;
use v1::maintenance::{ClusterStatus, Schedule};

use super::agent::Agent;
use super::lifecycle::Removal;
use super::{Master, ReplyId, Time};
use crate::common::id::{AgentId, OfferId};
use crate::registry::{MAX_MAINTENANCE_BYTES, Maintenance, Operation};

/// A machine as Mesos compares them: lower-cased hostname and IP, each possibly absent.
pub type MachineKey = (Option<String>, Option<String>);

pub fn machine_key(id: &v1::MachineId) -> MachineKey {
    (
        id.hostname.as_ref().map(|h| h.to_lowercase()),
        id.ip.clone(),
    )
}

/// The machine of an agent with `hostname` whose HTTP endpoint is `endpoint` (`ip:port`).
pub fn agent_machine(hostname: &str, endpoint: &str) -> MachineKey {
    let ip = endpoint
        .rsplit_once(':')
        .map(|(ip, _)| ip)
        .unwrap_or(endpoint);
    (Some(hostname.to_lowercase()), Some(ip.to_string()))
}

/// The master's view of maintenance.
#[derive(Clone, Debug, Default)]
pub struct Machines {
    /// The schedule as the operator last set it (minus machines brought back UP).
    pub schedule: Schedule,
    /// Every machine in the schedule: DRAINING or DOWN, with its window's unavailability.
    pub machines: BTreeMap<MachineKey, v1::MachineInfo>,
}

impl Machines {
    pub fn from_record(record: &Maintenance) -> Machines {
        Machines {
            schedule: record.schedule.clone().unwrap_or_default(),
            machines: record
                .machines
                .iter()
                .map(|m| (machine_key(&m.id), m.clone()))
                .collect(),
        }
    }

    pub fn to_record(&self) -> Maintenance {
        Maintenance {
            schedule: Some(self.schedule.clone()),
            machines: self.machines.values().cloned().collect(),
        }
    }

    pub fn mode(&self, key: &MachineKey) -> Option<Mode> {
        self.machines
            .get(key)
            .and_then(|m| m.mode)
            .and_then(|m| Mode::try_from(m).ok())
    }

    /// What offers for `agent` say about its machine's planned unavailability.
    pub fn unavailability(&self, agent: &Agent) -> Option<v1::Unavailability> {
        if self.machines.is_empty() {
            return None; // the common case: no per-offer key to build
        }
        self.machines
            .get(&agent_machine(agent.hostname(), &agent.endpoint))
            .and_then(|m| m.unavailability)
    }

    /// The scheduled machine `agent` belongs to, if any (DRAIN_AGENT refuses such agents).
    pub fn scheduled_machine(&self, agent: &Agent) -> Option<v1::MachineId> {
        if self.machines.is_empty() {
            return None;
        }
        self.machines
            .get(&agent_machine(agent.hostname(), &agent.endpoint))
            .map(|m| m.id.clone())
    }

    /// GET_MAINTENANCE_STATUS and `/maintenance/status`.
    pub fn status(&self) -> ClusterStatus {
        let mut status = ClusterStatus::default();
        for machine in self.machines.values() {
            match machine.mode.and_then(|m| Mode::try_from(m).ok()) {
                Some(Mode::Draining) => status.draining_machines.push(
                    v1::maintenance::cluster_status::DrainingMachine {
                        id: machine.id.clone(),
                        statuses: vec![],
                    },
                ),
                Some(Mode::Down) => status.down_machines.push(machine.id.clone()),
                _ => {}
            }
        }
        status
    }
}

/// Why a maintenance request is refused: Mesos's texts (`src/master/maintenance.cpp`,
/// `maintenance::validation`), answered as the body of a 400.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MaintenanceError {
    #[error("Both 'hostname' and 'ip' for a machine are empty")]
    EmptyMachine,
    #[error("Failed to parse IP address '{0}'")]
    BadIp(String),
    #[error("List of machines is empty")]
    NoMachines,
    #[error("List of machines in the maintenance window is empty")]
    EmptyWindow,
    #[error("Unavailability 'duration' is negative")]
    NegativeDuration,
    #[error("{} appears more than once in the schedule", quoted(.0))]
    Duplicate(v1::MachineId),
    #[error("{} is deactivated and cannot be removed from the schedule", quoted(.0))]
    DownMachineRemoved(v1::MachineId),
    #[error(
        "The maintenance schedule is too large: it takes {size} bytes in the registry, \
         which keeps at most {MAX_MAINTENANCE_BYTES}"
    )]
    TooLarge { size: usize },
    #[error("{} is not part of a maintenance schedule", quoted(.0))]
    NotScheduled(v1::MachineId),
    /// The machine is not in `mode` (`DRAINING`, `DOWN`), so it cannot be `action`
    /// (`brought down`, `brought up`).
    #[error("{} is not in {mode} mode and cannot be {action}", quoted(.id))]
    WrongMode {
        id: v1::MachineId,
        mode: &'static str,
        action: &'static str,
    },
}

/// `Machine '{"hostname":"h","ip":"10.0.0.1"}'`, as Mesos names a machine in its errors.
fn quoted(id: &v1::MachineId) -> String {
    format!("Machine '{}'", remesos_proto::json::to_value(id))
}

/// Mesos's `maintenance::validation::machine`.
fn validate_machine(id: &v1::MachineId) -> Result<(), MaintenanceError> {
    let hostname = id.hostname.as_deref().unwrap_or_default();
    let ip = id.ip.as_deref().unwrap_or_default();
    if hostname.is_empty() && ip.is_empty() {
        return Err(MaintenanceError::EmptyMachine);
    }
    if !ip.is_empty() && ip.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(MaintenanceError::BadIp(ip.to_string()));
    }
    Ok(())
}

/// Mesos's `maintenance::validation::machines` (START/STOP_MAINTENANCE, machine/down, up).
fn validate_machines(ids: &[v1::MachineId]) -> Result<(), MaintenanceError> {
    if ids.is_empty() {
        return Err(MaintenanceError::NoMachines);
    }
    let mut seen = HashSet::new();
    for id in ids {
        validate_machine(id)?;
        if !seen.insert(machine_key(id)) {
            return Err(MaintenanceError::Duplicate(id.clone()));
        }
    }
    Ok(())
}

/// Mesos's `maintenance::validation::schedule`: every window has machines and a
/// non-negative duration, machines are valid and appear once, and no DOWN machine leaves
/// the schedule (only STOP_MAINTENANCE brings a machine back UP).
fn validate_schedule(
    schedule: &Schedule,
    machines: &BTreeMap<MachineKey, v1::MachineInfo>,
) -> Result<(), MaintenanceError> {
    let mut updated = HashSet::new();
    for window in &schedule.windows {
        if window.machine_ids.is_empty() {
            return Err(MaintenanceError::EmptyWindow);
        }
        if window
            .unavailability
            .duration
            .as_ref()
            .is_some_and(|d| d.nanoseconds < 0)
        {
            return Err(MaintenanceError::NegativeDuration);
        }
        for id in &window.machine_ids {
            validate_machine(id)?;
            if !updated.insert(machine_key(id)) {
                return Err(MaintenanceError::Duplicate(id.clone()));
            }
        }
    }
    for (key, machine) in machines {
        if machine.mode == Some(Mode::Down as i32) && !updated.contains(key) {
            return Err(MaintenanceError::DownMachineRemoved(machine.id.clone()));
        }
    }
    Ok(())
}

impl Master {
    /// UPDATE_MAINTENANCE_SCHEDULE and `POST /maintenance/schedule`: replaces the schedule.
    /// New machines start DRAINING, machines that leave it go back UP, DOWN machines stay
    /// DOWN. The reply id answers when the change is durable.
    pub fn update_maintenance_schedule(
        &mut self,
        now: Time,
        schedule: Schedule,
    ) -> Result<ReplyId, MaintenanceError> {
        validate_schedule(&schedule, &self.maintenance.machines)?;
        let mut machines = BTreeMap::new();
        for window in &schedule.windows {
            for id in &window.machine_ids {
                let key = machine_key(id);
                let mode = match self.maintenance.mode(&key) {
                    Some(Mode::Down) => Mode::Down,
                    _ => Mode::Draining,
                };
                let info = v1::MachineInfo {
                    id: id.clone(),
                    mode: Some(mode as i32),
                    unavailability: Some(window.unavailability),
                };
                machines.insert(key, info);
            }
        }
        let next = Machines { schedule, machines };
        let size = next.to_record().encoded_len();
        if size > MAX_MAINTENANCE_BYTES {
            return Err(MaintenanceError::TooLarge { size });
        }
        // Outstanding offers of agents whose machine's unavailability changes are rescinded,
        // so that the next offers carry the new unavailability.
        let stale: Vec<OfferId> = self
            .agents
            .values()
            .filter(|a| !a.offers.is_empty())
            .filter(|a| self.maintenance.unavailability(a) != next.unavailability(a))
            .flat_map(|a| a.offers.iter().cloned())
            .collect();
        self.maintenance = next;
        for offer_id in stale {
            self.rescind_offer(now, &offer_id);
        }
        tracing::info!(
            machines = self.maintenance.machines.len(),
            "updated the maintenance schedule"
        );
        Ok(self.persist_maintenance())
    }

    /// The machines `ids`, each valid, scheduled and in mode `want` (Mesos's refusals:
    /// "... is not part of a maintenance schedule", "... is not in <MODE> mode and cannot
    /// be <action>").
    fn scheduled_in(
        &self,
        ids: &[v1::MachineId],
        want: Mode,
        mode_name: &'static str,
        action: &'static str,
    ) -> Result<HashSet<MachineKey>, MaintenanceError> {
        validate_machines(ids)?;
        for id in ids {
            match self.maintenance.mode(&machine_key(id)) {
                None => {
                    return Err(MaintenanceError::NotScheduled(id.clone()));
                }
                Some(mode) if mode == want => {}
                Some(_) => {
                    return Err(MaintenanceError::WrongMode {
                        id: id.clone(),
                        mode: mode_name,
                        action,
                    });
                }
            }
        }
        Ok(ids.iter().map(machine_key).collect())
    }

    /// START_MAINTENANCE and `POST /machine/down`: DRAINING machines go DOWN; their agents
    /// are shut down and removed.
    pub fn start_maintenance(
        &mut self,
        now: Time,
        ids: &[v1::MachineId],
    ) -> Result<ReplyId, MaintenanceError> {
        let keys = self.scheduled_in(ids, Mode::Draining, "DRAINING", "brought down")?;
        for key in &keys {
            if let Some(machine) = self.maintenance.machines.get_mut(key) {
                machine.mode = Some(Mode::Down as i32);
            }
        }
        let durable = self.persist_maintenance();
        let mut doomed: Vec<AgentId> = self
            .agents
            .values()
            .filter(|a| keys.contains(&agent_machine(a.hostname(), &a.endpoint)))
            .map(|a| a.id.clone())
            .collect();
        doomed.sort();
        const MESSAGE: &str = "Operator initiated 'Machine DOWN'";
        for agent_id in doomed {
            tracing::info!(%agent_id, "shutting down an agent on a machine going DOWN");
            self.send_to_agent(
                &agent_id,
                wire::master_message::Message::Shutdown(wire::Shutdown {
                    message: Some(MESSAGE.to_string()),
                }),
            );
            if self
                .remove_agent(now, &agent_id, Removal::ByOperator(MESSAGE))
                .is_some()
            {
                // Mesos removes the agent from the registry: it may come back as a new
                // agent once the machine is UP.
                self.drains.forget(&agent_id);
                self.persist(Operation::remove_agent(&agent_id));
            }
        }
        Ok(durable)
    }

    /// STOP_MAINTENANCE and `POST /machine/up`: DOWN machines go UP and leave the schedule.
    pub fn stop_maintenance(&mut self, ids: &[v1::MachineId]) -> Result<ReplyId, MaintenanceError> {
        let keys = self.scheduled_in(ids, Mode::Down, "DOWN", "brought up")?;
        self.maintenance.machines.retain(|k, _| !keys.contains(k));
        for window in &mut self.maintenance.schedule.windows {
            window
                .machine_ids
                .retain(|id| !keys.contains(&machine_key(id)));
        }
        self.maintenance
            .schedule
            .windows
            .retain(|w| !w.machine_ids.is_empty());
        Ok(self.persist_maintenance())
    }

    /// Whether an agent with `hostname` at `endpoint` sits on a DOWN machine.
    pub(super) fn on_down_machine(&self, hostname: &str, endpoint: &str) -> bool {
        !self.maintenance.machines.is_empty()
            && self.maintenance.mode(&agent_machine(hostname, endpoint)) == Some(Mode::Down)
    }

    fn persist_maintenance(&mut self) -> ReplyId {
        self.persist_waited(Operation::maintenance(self.maintenance.to_record()))
    }
}
