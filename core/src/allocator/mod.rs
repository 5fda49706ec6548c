//! Interim allocator with the final API, so the master builds while the hierarchical DRF
//! allocator is written on branch `alloc` (which replaces this file). It offers each free
//! agent to the first unfiltered framework and honours filters, suppress and revive.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::resources::Resources;

#[derive(Clone, Debug)]
pub struct Options {
    pub min_allocatable_resources: Vec<Resources>,
    pub filter_gpu_resources: bool,
    pub fair_sharing_excluded_resource_names: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options { min_allocatable_resources: vec![], filter_gpu_resources: true, fair_sharing_excluded_resource_names: vec![] }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    pub multi_role: bool,
    pub gpu_resources: bool,
    pub reservation_refinement: bool,
    pub revocable_resources: bool,
    pub shared_resources: bool,
}

#[derive(Clone, Debug, Default)]
pub struct FrameworkSpec {
    pub roles: BTreeSet<String>,
    pub suppressed_roles: BTreeSet<String>,
    pub capabilities: Capabilities,
}

#[derive(Clone, Debug)]
pub struct AgentSpec {
    pub hostname: String,
    pub total: Resources,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Allocation {
    pub framework_id: String,
    pub agent_id: String,
    pub resources: BTreeMap<String, Resources>,
}

#[derive(Clone, Debug, Default)]
pub struct Quota {
    pub guarantees: Resources,
    pub limits: Resources,
}

#[derive(Clone, Debug)]
pub struct RoleInfo {
    pub name: String,
    pub weight: f64,
    pub allocated: Resources,
    pub frameworks: Vec<String>,
    pub quota: Option<Quota>,
}

struct Framework {
    spec: FrameworkSpec,
    active: bool,
    filters: HashMap<String, Instant>,
}

struct Agent {
    total: Resources,
    allocated: Resources,
    active: bool,
}

#[derive(Default)]
pub struct Allocator {
    frameworks: BTreeMap<String, Framework>,
    agents: BTreeMap<String, Agent>,
}

impl Allocator {
    pub fn new(_options: Options) -> Self {
        Allocator::default()
    }
    pub fn add_framework(&mut self, id: &str, spec: FrameworkSpec, _used: &HashMap<String, Resources>, active: bool) {
        self.frameworks.insert(id.to_string(), Framework { spec, active, filters: HashMap::new() });
    }
    pub fn update_framework(&mut self, id: &str, spec: FrameworkSpec) {
        if let Some(f) = self.frameworks.get_mut(id) {
            f.spec = spec;
        }
    }
    pub fn remove_framework(&mut self, id: &str) {
        self.frameworks.remove(id);
    }
    pub fn activate_framework(&mut self, id: &str) {
        if let Some(f) = self.frameworks.get_mut(id) {
            f.active = true;
        }
    }
    pub fn deactivate_framework(&mut self, id: &str) {
        if let Some(f) = self.frameworks.get_mut(id) {
            f.active = false;
        }
    }
    pub fn add_agent(&mut self, id: &str, spec: AgentSpec, used: &HashMap<String, Resources>) {
        let mut allocated = Resources::default();
        for r in used.values() {
            allocated += r;
        }
        allocated.unallocate();
        self.agents.insert(id.to_string(), Agent { total: spec.total, allocated, active: true });
    }
    pub fn update_agent_total(&mut self, id: &str, total: Resources) {
        if let Some(a) = self.agents.get_mut(id) {
            a.total = total;
        }
    }
    pub fn remove_agent(&mut self, id: &str) {
        self.agents.remove(id);
    }
    pub fn activate_agent(&mut self, id: &str) {
        if let Some(a) = self.agents.get_mut(id) {
            a.active = true;
        }
    }
    pub fn deactivate_agent(&mut self, id: &str) {
        if let Some(a) = self.agents.get_mut(id) {
            a.active = false;
        }
    }
    pub fn recover_resources(&mut self, now: Instant, framework_id: &str, agent_id: &str, resources: &Resources, refuse: Option<Duration>) {
        if let Some(a) = self.agents.get_mut(agent_id) {
            a.allocated -= &resources.unallocated();
        }
        if let (Some(f), Some(d)) = (self.frameworks.get_mut(framework_id), refuse) {
            f.filters.insert(agent_id.to_string(), now + d);
        }
    }
    pub fn update_allocation(&mut self, _framework_id: &str, agent_id: &str, from: &Resources, to: &Resources) {
        if let Some(a) = self.agents.get_mut(agent_id) {
            a.allocated -= &from.unallocated();
            a.allocated += &to.unallocated();
        }
    }
    pub fn suppress(&mut self, framework_id: &str, roles: &[String]) {
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            let all: Vec<String> = if roles.is_empty() { f.spec.roles.iter().cloned().collect() } else { roles.to_vec() };
            f.spec.suppressed_roles.extend(all);
        }
    }
    pub fn revive(&mut self, framework_id: &str, roles: &[String]) {
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            if roles.is_empty() {
                f.spec.suppressed_roles.clear();
            } else {
                for r in roles {
                    f.spec.suppressed_roles.remove(r);
                }
            }
            f.filters.clear();
        }
    }
    pub fn update_weights(&mut self, _weights: &[(String, f64)]) {}
    pub fn update_quota(&mut self, _role: &str, _quota: Quota) {}
    pub fn allocate(&mut self, now: Instant) -> Vec<Allocation> {
        let mut out = Vec::new();
        for (agent_id, agent) in self.agents.iter_mut().filter(|(_, a)| a.active) {
            let free = &agent.total - &agent.allocated;
            if free.cpus() < 0.01 && free.mem() < 32.0 {
                continue;
            }
            for (fid, f) in self.frameworks.iter_mut().filter(|(_, f)| f.active) {
                if f.filters.get(agent_id).is_some_and(|until| *until > now) {
                    continue;
                }
                let Some(role) = f.spec.roles.iter().find(|r| !f.spec.suppressed_roles.contains(*r)) else {
                    continue;
                };
                let mut offered = free.allocatable_to(role);
                if offered.is_empty() {
                    continue;
                }
                agent.allocated += &offered;
                offered.allocate(role);
                out.push(Allocation {
                    framework_id: fid.clone(),
                    agent_id: agent_id.clone(),
                    resources: BTreeMap::from([(role.clone(), offered)]),
                });
                break;
            }
        }
        out
    }
    pub fn roles(&self) -> Vec<RoleInfo> {
        Vec::new()
    }
}
