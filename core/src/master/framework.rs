//! A framework as the master sees it: its FrameworkInfo, its connection, its tasks and offers.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use remesos_proto::v1;
use v1::framework_info::capability::Type as Capability;

use super::ConnId;
use super::task::TaskRecord;
use super::task_map::TaskMap;
use crate::allocator;
use crate::common::id::{AgentId, ExecutorId, FrameworkId, OfferId, TaskId};
use crate::common::protocol::framework_has_capability as has_capability;
use crate::security::Principal;

/// The subscription stream a framework is attached to.
#[derive(Clone, Debug)]
pub struct Connection {
    pub conn: ConnId,
    /// The `Mesos-Stream-Id` every call on this subscription must carry.
    pub stream_id: String,
}

#[derive(Debug)]
pub struct Framework {
    pub id: FrameworkId,
    /// As subscribed or last updated; `id` is always set.
    pub info: v1::FrameworkInfo,
    /// `None` while disconnected (failover) or for frameworks recovered from reregistering agents.
    pub connection: Option<Connection>,
    /// Inactive frameworks receive no offers (disconnected, or deactivated by the operator).
    pub active: bool,
    /// Known only from an agent's reregistration after a master failover; not yet resubscribed.
    pub recovered: bool,
    pub suppressed_roles: BTreeSet<String>,
    pub registered_time: Option<f64>,
    pub reregistered_time: Option<f64>,
    pub unregistered_time: Option<f64>,
    /// Non-terminal tasks by task id.
    pub tasks: TaskMap,
    /// Most recent terminal tasks, oldest first, capped by `--max_completed_tasks_per_framework`.
    ///
    /// Shared copy-on-write with the state dumps' snapshots (`task_map.rs`).
    pub completed_tasks: Arc<VecDeque<TaskRecord>>,
    /// Completed tasks whose terminal update the framework has not acknowledged yet. Mesos's
    /// master keeps such a task in the framework's tasks until the acknowledgement, so an
    /// implicit reconciliation still answers it (a framework that failed over while its
    /// tasks ended learns of them at once); here it stays in `completed_tasks`, listed here
    /// by id, and leaves this set with the acknowledgement or when it is evicted.
    pub unacknowledged_ends: HashSet<TaskId>,
    /// Tasks on unreachable agents (partition-aware bookkeeping), by task id.
    pub unreachable_tasks: TaskMap,
    /// Outstanding offer ids.
    pub offers: HashSet<OfferId>,
    /// Executors the framework runs, by agent id then executor id.
    pub executors: HashMap<AgentId, HashMap<ExecutorId, v1::ExecutorInfo>>,
    /// When a disconnected framework is removed (`failover_timeout` after it disconnected).
    pub failover_deadline: Option<Instant>,
    /// The principal the framework last subscribed as, when its subscription was
    /// authenticated (master/http/authn.rs); then equal to `info.principal`. Every later call
    /// and resubscription must come from it (`Master::call_as`, `Master::subscribe_as`).
    pub principal: Option<Principal>,
}

impl Framework {
    pub fn new(id: FrameworkId, info: v1::FrameworkInfo, now_secs: f64) -> Self {
        Framework {
            id,
            info,
            connection: None,
            active: true,
            recovered: false,
            suppressed_roles: BTreeSet::new(),
            registered_time: Some(now_secs),
            reregistered_time: None,
            unregistered_time: None,
            tasks: TaskMap::new(),
            completed_tasks: Arc::default(),
            unacknowledged_ends: HashSet::new(),
            unreachable_tasks: TaskMap::new(),
            offers: HashSet::new(),
            executors: HashMap::new(),
            failover_deadline: None,
            principal: None,
        }
    }

    pub fn has_capability(&self, capability: Capability) -> bool {
        has_capability(&self.info, capability)
    }

    pub fn partition_aware(&self) -> bool {
        self.has_capability(Capability::PartitionAware)
    }

    pub fn multi_role(&self) -> bool {
        self.has_capability(Capability::MultiRole)
    }

    /// Frameworks built against Mesos before 1.5 (Spark's and Hadoop's jars) do not know
    /// `Resource.reservations`; they get and send the pre-refinement form.
    pub fn reservation_refinement(&self) -> bool {
        self.has_capability(Capability::ReservationRefinement)
    }

    /// The roles the framework is subscribed to: `roles` for MULTI_ROLE frameworks, otherwise
    /// the deprecated single `role` (default `*`).
    pub fn roles(&self) -> BTreeSet<String> {
        framework_roles(&self.info)
    }

    pub fn connected(&self) -> bool {
        self.connection.is_some()
    }

    pub fn allocator_spec(&self) -> allocator::FrameworkSpec {
        allocator_spec(&self.info, &self.suppressed_roles)
    }

    /// Records a terminal task, keeping at most `cap` of them.
    pub fn add_completed_task(&mut self, task: TaskRecord, cap: usize) {
        if cap == 0 {
            return;
        }
        let completed = Arc::make_mut(&mut self.completed_tasks);
        while completed.len() >= cap {
            if let Some(evicted) = completed.pop_front()
                && !self.unacknowledged_ends.is_empty()
            {
                self.unacknowledged_ends
                    .remove(evicted.task_id().value.as_str());
            }
        }
        completed.push_back(task);
    }

    /// Records a terminal task whose update awaits the framework's acknowledgement.
    pub fn add_unacknowledged_end(&mut self, task_id: TaskId, task: TaskRecord, cap: usize) {
        self.add_completed_task(task, cap);
        if cap > 0 {
            self.unacknowledged_ends.insert(task_id);
        }
    }

    /// The terminal tasks an implicit reconciliation still answers (see
    /// [`Framework::unacknowledged_ends`]).
    pub fn unacknowledged_completed(&self) -> impl Iterator<Item = &TaskRecord> {
        self.completed_tasks.iter().filter(|t| {
            !self.unacknowledged_ends.is_empty()
                && self
                    .unacknowledged_ends
                    .contains(t.task_id().value.as_str())
        })
    }

    /// Removes a non-terminal task; returns it with its key on an agent's books
    /// ([`Agent::tasks`](super::Agent::tasks)).
    pub fn take_task(&mut self, task_id: &str) -> Option<((FrameworkId, TaskId), TaskRecord)> {
        let (task_id, task) = self.tasks.remove_entry(task_id)?;
        Some(((self.id.clone(), task_id), task))
    }

    pub fn add_executor(
        &mut self,
        agent_id: &AgentId,
        executor_id: ExecutorId,
        executor: v1::ExecutorInfo,
    ) {
        self.executors
            .entry(agent_id.clone())
            .or_default()
            .insert(executor_id, executor);
    }

    pub fn remove_executor(
        &mut self,
        agent_id: &str,
        executor_id: &str,
    ) -> Option<v1::ExecutorInfo> {
        let on_agent = self.executors.get_mut(agent_id)?;
        let removed = on_agent.remove(executor_id);
        if on_agent.is_empty() {
            self.executors.remove(agent_id);
        }
        removed
    }
}

pub fn framework_roles(info: &v1::FrameworkInfo) -> BTreeSet<String> {
    if has_capability(info, Capability::MultiRole) {
        info.roles.iter().cloned().collect()
    } else {
        BTreeSet::from([info.role.clone().unwrap_or_else(|| "*".to_string())])
    }
}

pub fn allocator_spec(
    info: &v1::FrameworkInfo,
    suppressed: &BTreeSet<String>,
) -> allocator::FrameworkSpec {
    allocator::FrameworkSpec {
        roles: framework_roles(info),
        suppressed_roles: suppressed.clone(),
        capabilities: allocator::Capabilities {
            multi_role: has_capability(info, Capability::MultiRole),
            gpu_resources: has_capability(info, Capability::GpuResources),
            reservation_refinement: has_capability(info, Capability::ReservationRefinement),
            revocable_resources: has_capability(info, Capability::RevocableResources),
            shared_resources: has_capability(info, Capability::SharedResources),
        },
    }
}
