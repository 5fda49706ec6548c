//! An agent as the master sees it.

use std::collections::{HashMap, HashSet};

use remesos_proto::v1;

use super::ConnId;
use crate::common::id::{AgentId, ExecutorId, FrameworkId, OfferId, TaskId};
use crate::resources::Resources;

#[derive(Debug)]
pub struct Agent {
    pub id: AgentId,
    /// With `id` set and `resources` = the agent's total (including checkpointed reservations).
    pub info: v1::AgentInfo,
    /// `ip:port` of the agent's HTTP server (executor API, /files, /state).
    pub endpoint: String,
    pub version: String,
    pub capabilities: Vec<v1::agent_info::Capability>,
    /// The gRPC session the master talks to the agent on; `None` while disconnected.
    pub conn: Option<ConnId>,
    /// Inactive agents get no offers (disconnected, or deactivated by the operator).
    pub active: bool,
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    pub total: Resources,
    /// Resources used by tasks and executors, by framework id.
    pub used: HashMap<FrameworkId, Resources>,
    /// Resources in outstanding offers.
    pub offered: Resources,
    /// (framework id, task id) of the non-terminal tasks on this agent.
    pub tasks: HashSet<(FrameworkId, TaskId)>,
    /// Frameworks with executors here, by framework id then executor id.
    pub executors: HashMap<FrameworkId, HashSet<ExecutorId>>,
    /// Outstanding offer ids on this agent.
    pub offers: HashSet<OfferId>,
    /// Pings sent since the last pong.
    pub missed_pongs: u32,
    /// Kills asked for while the agent was disconnected, by (framework id, task id), with
    /// their kill policy: sent when it reregisters with the task still running (Mesos's
    /// `Slave::killedTasks`, master.cpp). Without them a KILL during an agent restart was
    /// lost and the task ran to its end (found by the soak).
    pub pending_kills: HashMap<(FrameworkId, TaskId), Option<v1::KillPolicy>>,
}

impl Agent {
    /// `slave(1)@ip:port`, the pid Mesos shows for an agent (and Hadoop's plugin parses).
    pub fn pid(&self) -> String {
        format!("slave(1)@{}", self.endpoint)
    }

    pub fn hostname(&self) -> &str {
        &self.info.hostname
    }

    pub fn used_total(&self) -> Resources {
        let mut sum = Resources::default();
        for r in self.used.values() {
            sum += r;
        }
        sum
    }

    pub fn add_used(&mut self, framework_id: &FrameworkId, resources: &Resources) {
        // The id is cloned only for a framework new on the agent (a reregistration adds
        // every task's resources, most to a framework already there).
        match self.used.get_mut(framework_id) {
            Some(used) => *used += resources,
            None => {
                self.used.insert(framework_id.clone(), resources.clone());
            }
        }
    }

    pub fn remove_used(&mut self, framework_id: &str, resources: &Resources) {
        if let Some(used) = self.used.get_mut(framework_id) {
            *used -= resources;
            if used.is_empty() {
                self.used.remove(framework_id);
            }
        }
    }

    /// The agent's URL as Mesos puts it in offers: `http://<ip>:<port>/slave(1)`
    /// (`https` when every agent serves TLS only, [`super::Config::https_only`]).
    pub fn url(&self, https_only: bool) -> v1::Url {
        let (ip, port) = self
            .endpoint
            .rsplit_once(':')
            .map(|(ip, port)| (ip.to_string(), port.parse::<i32>().unwrap_or(5051)))
            .unwrap_or_else(|| (self.endpoint.clone(), 5051));
        v1::Url {
            scheme: if https_only { "https" } else { "http" }.to_string(),
            address: v1::Address {
                hostname: Some(self.info.hostname.clone()),
                ip: Some(ip),
                port,
            },
            path: Some("/slave(1)".to_string()),
            query: vec![],
            fragment: None,
        }
    }
}
