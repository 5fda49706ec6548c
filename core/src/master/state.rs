//! The master's state as the operator surface shows it: v1 operator API protobufs
//! (GET_STATE, GET_FRAMEWORKS, ...) and the JSON of `/master/state` and friends, in the
//! shapes Mesos's `readonly_handler.cpp` produces so existing dashboards and CLIs read them.
//!
//! Each view is filtered for the principal asking (a [`Viewer`], Mesos's `ObjectApprovers`
//! in src/master/http.cpp and readonly_handler.cpp): frameworks by `view_frameworks` (on
//! the framework's user), their tasks by `view_tasks`, executors by `view_executors`,
//! roles and weights by `view_roles`, `flags` by `view_flags`. Without `--acls` the
//! viewer sees everything; the unfiltered forms (`get_state()`, ...) are that viewer.

use serde_json::{Map, Value, json};

use remesos_proto::json as mjson;
use remesos_proto::v1;
use v1::master::response as resp;

use super::Master;
use super::agent::Agent;
use super::framework::Framework;
use super::task::{TaskRecord, viewable};
use super::task_map::TaskList;
use crate::common::json::attributes_json;
use crate::common::version::MESOS_VERSION;
use crate::resources::Resources;
use crate::security::authorizer::Viewer;

fn time_info(secs: f64) -> v1::TimeInfo {
    v1::TimeInfo {
        nanoseconds: (secs * 1e9) as i64,
    }
}

pub fn framework_proto(f: &Framework) -> resp::get_frameworks::Framework {
    resp::get_frameworks::Framework {
        framework_info: f.info.clone(),
        active: f.active,
        connected: f.connected(),
        recovered: f.recovered,
        registered_time: f.registered_time.map(time_info),
        reregistered_time: f.reregistered_time.map(time_info),
        unregistered_time: f.unregistered_time.map(time_info),
        offers: vec![],
        inverse_offers: vec![],
        allocated_resources: vec![],
        offered_resources: vec![],
        offer_constraints: None,
    }
}

/// GET_AGENTS's view of an agent; `deactivated`, `drain_info` and
/// `estimated_drain_start_time` come from the master's drain state (`drain.rs`).
pub fn agent_proto(a: &Agent, drains: &super::drain::Drains) -> resp::get_agents::Agent {
    let (drain_info, started) = drains.info(a.id.as_str());
    resp::get_agents::Agent {
        agent_info: a.info.clone(),
        active: a.active,
        deactivated: Some(drains.is_deactivated(a.id.as_str())),
        version: a.version.clone(),
        pid: Some(a.pid()),
        registered_time: Some(time_info(a.registered_time)),
        reregistered_time: a.reregistered_time.map(time_info),
        total_resources: a.total.clone().into_protos(),
        allocated_resources: a.used_total().into_protos(),
        offered_resources: a.offered.clone().into_protos(),
        capabilities: a.capabilities.clone(),
        resource_providers: vec![],
        drain_info,
        estimated_drain_start_time: started.map(time_info),
    }
}

impl Master {
    pub fn get_frameworks(&self) -> resp::GetFrameworks {
        self.get_frameworks_for(Viewer::everything())
    }

    /// GET_FRAMEWORKS as `v` may see it.
    pub fn get_frameworks_for(&self, v: Viewer<'_>) -> resp::GetFrameworks {
        let mut frameworks: Vec<resp::get_frameworks::Framework> = self
            .frameworks
            .values()
            .filter(|f| v.framework(&f.info))
            .map(|f| {
                let mut p = framework_proto(f);
                p.offers = f
                    .offers
                    .iter()
                    .filter_map(|id| self.offers.get(id))
                    .map(|o| o.offer.clone())
                    .collect();
                p.inverse_offers = self.inverse.of_framework(&f.id);
                p.allocated_resources = self.framework_used(f).into_protos();
                p.offered_resources = self.framework_offered(f).into_protos();
                p
            })
            .collect();
        frameworks.sort_by(|a, b| {
            a.framework_info
                .id
                .as_ref()
                .map(|i| &i.value)
                .cmp(&b.framework_info.id.as_ref().map(|i| &i.value))
        });
        resp::GetFrameworks {
            frameworks,
            completed_frameworks: self
                .completed_frameworks
                .iter()
                .filter(|f| v.framework(&f.info))
                .map(framework_proto)
                .collect(),
            recovered_frameworks: vec![],
        }
    }

    pub fn get_agents(&self) -> resp::GetAgents {
        let mut agents: Vec<resp::get_agents::Agent> = self
            .agents
            .values()
            .map(|a| agent_proto(a, &self.drains))
            .collect();
        agents.sort_by(|a, b| a.pid.cmp(&b.pid));
        resp::GetAgents {
            agents,
            recovered_agents: vec![],
        }
    }

    pub fn get_tasks(&self) -> resp::GetTasks {
        self.get_tasks_for(Viewer::everything())
    }

    /// GET_TASKS as `v` may see it (`tasks_ref_for`'s tasks, cloned).
    pub fn get_tasks_for(&self, v: Viewer<'_>) -> resp::GetTasks {
        let seen = self.tasks_ref_for(v);
        let owned = |list: TaskList| list.iter().map(TaskRecord::task).collect();
        resp::GetTasks {
            tasks: owned(seen.tasks),
            completed_tasks: owned(seen.completed),
            unreachable_tasks: owned(seen.unreachable),
            ..Default::default()
        }
    }

    pub fn get_executors(&self) -> resp::GetExecutors {
        self.get_executors_for(Viewer::everything())
    }

    /// GET_EXECUTORS as `v` may see it.
    pub fn get_executors_for(&self, v: Viewer<'_>) -> resp::GetExecutors {
        let mut out = resp::GetExecutors::default();
        for f in self.frameworks.values().filter(|f| v.framework(&f.info)) {
            for (agent_id, executors) in &f.executors {
                for e in executors.values().filter(|e| v.executor(e, &f.info)) {
                    out.executors.push(resp::get_executors::Executor {
                        executor_info: e.clone(),
                        agent_id: agent_id.to_proto(),
                    });
                }
            }
        }
        out
    }

    pub fn get_state(&self) -> resp::GetState {
        self.get_state_for(Viewer::everything())
    }

    /// GET_STATE as `v` may see it.
    pub fn get_state_for(&self, v: Viewer<'_>) -> resp::GetState {
        resp::GetState {
            get_tasks: Some(self.get_tasks_for(v)),
            get_executors: Some(self.get_executors_for(v)),
            get_frameworks: Some(self.get_frameworks_for(v)),
            get_agents: Some(self.get_agents()),
        }
    }

    /// GET_ROLES as `v` may see it (`view_roles`).
    pub fn get_roles_for(&self, v: Viewer<'_>) -> resp::GetRoles {
        let roles = self
            .allocator
            .roles()
            .into_iter()
            .filter(|r| v.role(&r.name))
            .map(|r| v1::Role {
                name: r.name.clone(),
                weight: r.weight,
                frameworks: r
                    .frameworks
                    .iter()
                    .map(|f| v1::FrameworkId { value: f.clone() })
                    .collect(),
                resources: r.allocated.clone().into_protos(),
            })
            .collect();
        resp::GetRoles { roles }
    }

    fn framework_used(&self, f: &Framework) -> Resources {
        let mut sum = Resources::default();
        for agent in self.agents.values() {
            if let Some(r) = agent.used.get(&f.id) {
                sum += r;
            }
        }
        sum
    }

    fn framework_offered(&self, f: &Framework) -> Resources {
        let mut sum = Resources::default();
        for id in &f.offers {
            if let Some(o) = self.offers.get(id) {
                sum += &o.resources;
            }
        }
        sum
    }

    // ----- the JSON of /master/state (Mesos's v0 "model" functions) -----

    pub fn state_json(&self) -> Value {
        self.state_json_for(Viewer::everything())
    }

    /// `/master/state` as `v` may see it, as one `Value` (the HTTP handler writes the
    /// snapshot off the actor instead: `dump_json.rs`).
    pub fn state_json_for(&self, v: Viewer<'_>) -> Value {
        self.state_json_dump_for(v).into_value()
    }

    pub(super) fn summary_header(&self) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("version".into(), json!(MESOS_VERSION));
        o.insert("hostname".into(), json!(self.config.hostname));
        if let Some(cluster) = &self.config.cluster {
            o.insert("cluster".into(), json!(cluster));
        }
        o
    }

    pub fn flags_json(&self) -> Value {
        let mut flags = Map::new();
        for (k, v) in &self.config.flags {
            flags.insert(k.clone(), json!(v));
        }
        Value::Object(flags)
    }

    pub(super) fn sorted_agents(&self) -> impl Iterator<Item = &Agent> {
        let mut agents: Vec<&Agent> = self.agents.values().collect();
        agents.sort_by(|a, b| a.id.cmp(&b.id));
        agents.into_iter()
    }

    pub(super) fn sorted_frameworks(&self) -> impl Iterator<Item = &Framework> {
        let mut frameworks: Vec<&Framework> = self.frameworks.values().collect();
        frameworks.sort_by(|a, b| a.id.cmp(&b.id));
        frameworks.into_iter()
    }

    pub fn agent_json(&self, a: &Agent) -> Value {
        let used = a.used_total();
        let mut reserved = Map::new();
        let mut reserved_full = Map::new();
        for (role, r) in a.total.reservations() {
            reserved.insert(role.clone(), Value::Object(r.to_json_map()));
            reserved_full.insert(role, resources_full(&r));
        }
        let unreserved = a.total.unreserved();
        let mut o = Map::new();
        o.insert("id".into(), json!(a.id.as_str()));
        o.insert("pid".into(), json!(a.pid()));
        o.insert("hostname".into(), json!(a.info.hostname));
        o.insert("port".into(), json!(a.info.port.unwrap_or(5051)));
        o.insert("registered_time".into(), json!(a.registered_time));
        if let Some(t) = a.reregistered_time {
            o.insert("reregistered_time".into(), json!(t));
        }
        o.insert("resources".into(), Value::Object(a.total.to_json_map()));
        o.insert("used_resources".into(), Value::Object(used.to_json_map()));
        o.insert(
            "offered_resources".into(),
            Value::Object(a.offered.to_json_map()),
        );
        o.insert("reserved_resources".into(), Value::Object(reserved));
        o.insert(
            "unreserved_resources".into(),
            Value::Object(unreserved.to_json_map()),
        );
        o.insert("attributes".into(), attributes_json(&a.info.attributes));
        o.insert("active".into(), json!(a.active));
        // Mesos's `SlaveWriter` (src/master/readonly_handler.cpp).
        let (drain_info, started) = self.drains.info(a.id.as_str());
        o.insert(
            "deactivated".into(),
            json!(self.drains.is_deactivated(a.id.as_str())),
        );
        if let Some(info) = &drain_info {
            o.insert("drain_info".into(), mjson::to_value(info));
        }
        if let Some(started) = started {
            o.insert("estimated_drain_start_time_seconds".into(), json!(started));
        }
        o.insert("version".into(), json!(a.version));
        o.insert(
            "capabilities".into(),
            Value::Array(
                a.capabilities
                    .iter()
                    .filter_map(|c| c.r#type)
                    .filter_map(|t| v1::agent_info::capability::Type::try_from(t).ok())
                    .map(|t| json!(t.as_str_name()))
                    .collect(),
            ),
        );
        o.insert(
            "reserved_resources_full".into(),
            Value::Object(reserved_full),
        );
        o.insert(
            "unreserved_resources_full".into(),
            resources_full(&unreserved),
        );
        o.insert("used_resources_full".into(), resources_full(&used));
        o.insert("offered_resources_full".into(), resources_full(&a.offered));
        if let Some(domain) = &a.info.domain {
            o.insert("domain".into(), mjson::to_value(domain));
        }
        Value::Object(o)
    }

    pub fn framework_json(&self, f: &Framework, with_tasks: bool) -> Value {
        self.framework_json_for(f, with_tasks, Viewer::everything())
    }

    /// A framework's JSON with the tasks and executors `v` may see.
    pub fn framework_json_for(&self, f: &Framework, with_tasks: bool, v: Viewer<'_>) -> Value {
        if with_tasks {
            self.framework_json_dump_for(f, v).into_value()
        } else {
            Value::Object(self.framework_json_head(f))
        }
    }

    /// A framework's JSON without its tasks, offers and executors.
    pub(super) fn framework_json_head(&self, f: &Framework) -> Map<String, Value> {
        let used = self.framework_used(f);
        let offered = self.framework_offered(f);
        let mut o = Map::new();
        o.insert("id".into(), json!(f.id.as_str()));
        o.insert("name".into(), json!(f.info.name));
        o.insert("used_resources".into(), Value::Object(used.to_json_map()));
        o.insert(
            "offered_resources".into(),
            Value::Object(offered.to_json_map()),
        );
        let mut all = used.clone();
        all += &offered;
        o.insert("resources".into(), Value::Object(all.to_json_map()));
        o.insert(
            "capabilities".into(),
            Value::Array(
                f.info
                    .capabilities
                    .iter()
                    .filter_map(|c| c.r#type)
                    .filter_map(|t| v1::framework_info::capability::Type::try_from(t).ok())
                    .map(|t| json!(t.as_str_name()))
                    .collect(),
            ),
        );
        o.insert(
            "hostname".into(),
            json!(f.info.hostname.clone().unwrap_or_default()),
        );
        o.insert(
            "webui_url".into(),
            json!(f.info.webui_url.clone().unwrap_or_default()),
        );
        o.insert("active".into(), json!(f.active));
        o.insert("connected".into(), json!(f.connected()));
        o.insert("recovered".into(), json!(f.recovered));
        o.insert("user".into(), json!(f.info.user));
        o.insert(
            "failover_timeout".into(),
            json!(f.info.failover_timeout.unwrap_or(0.0)),
        );
        o.insert(
            "checkpoint".into(),
            json!(f.info.checkpoint.unwrap_or(false)),
        );
        o.insert(
            "registered_time".into(),
            json!(f.registered_time.unwrap_or(0.0)),
        );
        o.insert(
            "unregistered_time".into(),
            json!(f.unregistered_time.unwrap_or(0.0)),
        );
        if let Some(t) = f.reregistered_time {
            o.insert("reregistered_time".into(), json!(t));
        }
        if let Some(p) = &f.info.principal {
            o.insert("principal".into(), json!(p));
        }
        if f.multi_role() {
            o.insert("roles".into(), json!(f.info.roles));
        } else {
            o.insert(
                "role".into(),
                json!(f.info.role.clone().unwrap_or_else(|| "*".to_string())),
            );
        }
        if let Some(labels) = &f.info.labels {
            o.insert("labels".into(), mjson::to_value(labels)["labels"].clone());
        }
        o.insert("offer_filters".into(), json!({}));
        o
    }

    /// `/master/state-summary`: agents and frameworks with task counts by state.
    pub fn state_summary_json(&self) -> Value {
        self.state_summary_json_for(Viewer::everything())
    }

    /// `/master/state-summary` as `v` may see it (frameworks by `view_frameworks`).
    pub fn state_summary_json_for(&self, v: Viewer<'_>) -> Value {
        let mut o = self.summary_header();
        let agents: Vec<Value> = self
            .sorted_agents()
            .map(|a| {
                let mut v = self.agent_json(a);
                let counts = task_counts(
                    a.tasks
                        .iter()
                        .filter_map(|(f, t)| self.frameworks.get(f)?.tasks.get(t)),
                );
                if let Value::Object(m) = &mut v {
                    m.extend(counts);
                    m.insert(
                        "framework_ids".into(),
                        json!(a.used.keys().map(|f| f.as_str()).collect::<Vec<_>>()),
                    );
                }
                v
            })
            .collect();
        let frameworks: Vec<Value> = self
            .sorted_frameworks()
            .filter(|f| v.framework(&f.info))
            .map(|f| {
                let mut v = self.framework_json(f, false);
                let counts = task_counts(f.tasks.values().chain(f.completed_tasks.iter()));
                if let Value::Object(m) = &mut v {
                    m.extend(counts);
                    let agents: std::collections::BTreeSet<String> =
                        f.tasks.values().map(|t| t.agent_id().value).collect();
                    m.insert("slave_ids".into(), json!(agents));
                }
                v
            })
            .collect();
        o.insert("slaves".into(), Value::Array(agents));
        o.insert("frameworks".into(), Value::Array(frameworks));
        Value::Object(o)
    }

    /// `/master/roles` as `v` may see it (`view_roles`).
    pub fn roles_json_for(&self, v: Viewer<'_>) -> Value {
        let roles: Vec<Value> = self
            .allocator
            .roles()
            .into_iter()
            .filter(|r| v.role(&r.name))
            .map(|r| {
                // Mesos's `ReadOnlyHandler::roles` (src/master/readonly_handler.cpp).
                let b = self.role_breakdown(&r.name);
                let mut resources = b.allocated.clone();
                for (name, v) in &b.offered {
                    *resources.entry(name.clone()).or_default() += v;
                }
                let quantities = |q: Option<&Resources>| {
                    super::roles::quantities_json(
                        &q.map(Resources::scalar_quantities).unwrap_or_default(),
                    )
                };
                json!({
                    "name": r.name,
                    "weight": r.weight,
                    "quota": {
                        "role": r.name,
                        "guarantee": quantities(r.quota.as_ref().map(|q| &q.guarantees)),
                        "limit": quantities(r.quota.as_ref().map(|q| &q.limits)),
                        "consumed": super::roles::quantities_json(&b.consumed),
                    },
                    "resources": super::roles::quantities_json(&resources),
                    "allocated": super::roles::quantities_json(&b.allocated),
                    "offered": super::roles::quantities_json(&b.offered),
                    "reserved": super::roles::quantities_json(&b.reserved),
                    "frameworks": r.frameworks,
                })
            })
            .collect();
        json!({ "roles": roles })
    }

    /// Whether an operator SUBSCRIBE stream whose subscriber is `v` gets `event` (Mesos's
    /// `Master::Subscribers::send`): task events by `view_frameworks` and `view_tasks`,
    /// framework events by `view_frameworks`; agent events and heartbeats go to everyone.
    /// A task whose framework the master no longer knows is withheld.
    pub fn operator_event_visible(&self, event: &v1::master::Event, v: Viewer<'_>) -> bool {
        if v.sees_everything() {
            return true;
        }
        let framework = |id: &str| {
            self.frameworks
                .get(id)
                .or_else(|| self.completed_frameworks.iter().find(|f| f.id == id))
        };
        if let Some(added) = &event.task_added {
            let task = &added.task;
            return framework(&task.framework_id.value)
                .is_some_and(|f| v.framework(&f.info) && v.task(task, &f.info));
        }
        if let Some(updated) = &event.task_updated {
            let Some(f) = framework(&updated.framework_id.value) else {
                return false;
            };
            let id = &updated.status.task_id;
            let task = f
                .tasks
                .get(&id.value)
                .or_else(|| f.unreachable_tasks.get(&id.value))
                .or_else(|| f.completed_tasks.iter().find(|t| &t.task_id() == id));
            let task = v1::Task {
                user: task.and_then(TaskRecord::user),
                ..Default::default()
            };
            return v.framework(&f.info) && v.task(&task, &f.info);
        }
        if let Some(added) = &event.framework_added {
            return v.framework(&added.framework.framework_info);
        }
        if let Some(updated) = &event.framework_updated {
            return v.framework(&updated.framework.framework_info);
        }
        if let Some(removed) = &event.framework_removed {
            return v.framework(&removed.framework_info);
        }
        true
    }

    /// All tasks of all frameworks (running, unreachable, completed), for `/master/tasks`.
    pub fn all_tasks(&self) -> Vec<&TaskRecord> {
        self.all_tasks_for(Viewer::everything())
    }

    /// The tasks of [`Master::all_tasks`] that `v` may see (`view_frameworks` on their
    /// framework, `view_tasks` on them).
    pub fn all_tasks_for(&self, v: Viewer<'_>) -> Vec<&TaskRecord> {
        let mut tasks: Vec<&TaskRecord> = Vec::new();
        for f in self.frameworks.values().filter(|f| v.framework(&f.info)) {
            let seen = |t: &&TaskRecord| viewable(&v, t, &f.info);
            tasks.extend(f.tasks.values().filter(seen));
            tasks.extend(f.unreachable_tasks.values().filter(seen));
            tasks.extend(f.completed_tasks.iter().filter(seen));
        }
        for f in self
            .completed_frameworks
            .iter()
            .filter(|f| v.framework(&f.info))
        {
            tasks.extend(
                f.completed_tasks
                    .iter()
                    .filter(|t| viewable(&v, t, &f.info)),
            );
        }
        tasks
    }
}

fn task_counts<'a>(tasks: impl Iterator<Item = &'a TaskRecord>) -> Map<String, Value> {
    use v1::TaskState as S;
    let names = [
        S::TaskStaging,
        S::TaskStarting,
        S::TaskRunning,
        S::TaskKilling,
        S::TaskFinished,
        S::TaskKilled,
        S::TaskFailed,
        S::TaskLost,
        S::TaskError,
        S::TaskUnreachable,
    ];
    let mut counts: Map<String, Value> = names
        .iter()
        .map(|s| (s.as_str_name().to_string(), json!(0)))
        .collect();
    for t in tasks {
        if let Ok(s) = S::try_from(t.state)
            && let Some(Value::Number(n)) = counts.get_mut(s.as_str_name())
        {
            *n = (n.as_u64().unwrap_or(0) + 1).into();
        }
    }
    counts
}

fn resources_full(r: &Resources) -> Value {
    Value::Array(r.iter().map(mjson::to_value).collect())
}

pub(super) fn offer_json(offer: &v1::Offer, resources: &Resources) -> Value {
    json!({
        "id": offer.id.value,
        "framework_id": offer.framework_id.value,
        "slave_id": offer.agent_id.value,
        "resources": Value::Object(resources.to_json_map()),
        "allocation_info": offer.allocation_info.as_ref().map(mjson::to_value).unwrap_or(json!({})),
    })
}
