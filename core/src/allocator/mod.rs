//! A pure hierarchical DRF allocator (Mesos `HierarchicalDRFAllocatorProcess`,
//! `src/master/allocator/mesos/hierarchical.cpp`; reference/mesos-contract.md §8.7, §8.8).
//!
//! The master owns one [`Allocator`] and calls it synchronously: events in (`add_framework`,
//! `add_agent`, `recover_resources`, `suppress`, `revive`, ...), [`Allocator::allocate`]`(now)`
//! out. No I/O, no clock, no randomness: time only enters as `now`.
//!
//! Frameworks and agents enter typed (`add_framework` takes a
//! [`FrameworkId`](crate::common::id::FrameworkId), `add_agent` an
//! [`AgentId`](crate::common::id::AgentId), both the master's validated keys) and
//! [`Allocation`]s name them with those ids; every other call only looks an id up, by
//! `&str`. Inside, a framework's id is also shared as an `Arc<str>` by the agents' books.
//!
//! One allocation round, as in Mesos:
//! 1. expired offer filters are dropped (a heap ordered by expiry, so only expired ones are
//!    touched);
//! 2. stage 1 — for each active agent, roles with unsatisfied quota guarantees, in role-sorter
//!    order, get unreserved scalars up to their guarantees (plus everything they may take
//!    alongside, within their limits and the global headroom);
//! 3. stage 2 — for each active agent, every role in weighted-DRF order and inside it every
//!    framework in DRF order: the first framework that accepts takes all of the agent's
//!    available resources allocatable to the role (coarse-grained offers), minus what quota
//!    limits and the headroom kept for other roles' guarantees chop off.
//!
//! A candidate (role, framework, agent) is skipped when: the framework cannot receive the
//! agent (GPU filtering), nothing allocatable is left, the offer would be below
//! `--min_allocatable_resources`, or an unexpired filter of that framework for that role and
//! agent holds refused resources that contain the offer (Mesos's `RefusedOfferFilter`).
//!
//! Agents keep their available resources in a compact form (see `compact.rs`: per-agent
//! resource shapes and fixed-point values); the round computes offers on it, and proto
//! `Resources` are built only for what is offered, reusing the previous build of an
//! unchanged offer.
//!
//! Sorters (see `sorter/drf.rs`) are incremental: an allocation re-keys only the client and
//! its ancestors. Within one agent, the order is the snapshot at the start of the agent, as
//! Mesos's per-agent `sort()`; the re-keys are applied when the agent is done.
//!
//! Differences from Mesos worth knowing: agents are visited in the order they were added
//! (Mesos shuffles them each round); a deactivated framework keeps its offer filters (Mesos
//! clears them); and resources handed to `recover_resources`/`update_allocation` must carry
//! `allocation_info` and be part of what the allocator believes is allocated, otherwise the
//! call is ignored with a warning (Mesos CHECK-fails).

mod compact;
pub(crate) mod sorter;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::id::{AgentId, FrameworkId};
use crate::resources::{
    Resource, Resources, is_ancestor_or_self, is_scalar_resource, scalar_millis,
};
use compact::{BuiltCache, Entry, Shapes};
// The rustc hasher for the integer-keyed sets: keys are internal ids, never
// attacker-chosen strings, so SipHash's DoS resistance buys nothing there, while it costs a
// noticeable share of a round (one insert per offer).
use rustc_hash::FxHashSet;
use sorter::drf::{DrfSorter, ShareContext};

/// Allocator flags (Mesos master flags of the same names).
#[derive(Clone, Debug)]
pub struct Options {
    /// --min_allocatable_resources: offer an agent to a role only if what is available covers
    /// at least one of these (each alternative is an AND of scalar quantities). Default
    /// `cpus:0.01|mem:32`. An empty list allows any non-empty offer.
    pub min_allocatable_resources: Vec<Resources>,
    /// --filter_gpu_resources (default true): only GPU_RESOURCES frameworks get agents with gpus.
    pub filter_gpu_resources: bool,
    /// --fair_sharing_excluded_resource_names
    pub fair_sharing_excluded_resource_names: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_allocatable_resources: vec![
                Resources::parse("cpus:0.01", "*").expect("valid default"),
                Resources::parse("mem:32", "*").expect("valid default"),
            ],
            filter_gpu_resources: true,
            fair_sharing_excluded_resource_names: Vec::new(),
        }
    }
}

/// The framework capabilities the allocator looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub multi_role: bool,
    pub gpu_resources: bool,
    pub reservation_refinement: bool,
    pub revocable_resources: bool,
    pub shared_resources: bool,
}

/// What the allocator needs to know of a framework.
#[derive(Clone, Debug, Default)]
pub struct FrameworkSpec {
    /// Subscribed roles.
    pub roles: BTreeSet<String>,
    /// Roles that get no offers until revived.
    pub suppressed_roles: BTreeSet<String>,
    pub capabilities: Capabilities,
}

/// What the allocator needs to know of an agent.
#[derive(Clone, Debug)]
pub struct AgentSpec {
    pub hostname: String,
    /// The agent's total resources (unallocated form).
    pub total: Resources,
}

/// Resources of one agent given to one framework, per role (with `allocation_info.role` set).
#[derive(Clone, Debug, PartialEq)]
pub struct Allocation {
    pub framework_id: FrameworkId,
    pub agent_id: AgentId,
    pub resources: BTreeMap<String, Resources>,
}

/// A role's quota: scalar quantities.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quota {
    pub guarantees: Resources,
    pub limits: Resources,
}

impl Quota {
    fn is_empty(&self) -> bool {
        self.guarantees.is_empty() && self.limits.is_empty()
    }
}

/// One role as `/master/roles` and `GET_ROLES` show it.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleInfo {
    pub name: String,
    pub weight: f64,
    /// Allocated plus offered resources of this exact role.
    pub allocated: Resources,
    /// Frameworks subscribed to the role, sorted.
    pub frameworks: Vec<String>,
    pub quota: Option<Quota>,
}

// ---------------------------------------------------------------------------------------

/// Scalar quantities by resource-name id, in thousandths: `[(name id, amount)]`.
type Quantities = Vec<(usize, i64)>;

/// Interned resource names: sorters and quota arithmetic work on dense ids.
#[derive(Default, Debug)]
struct Names {
    ids: HashMap<String, usize>,
    /// Id -> name; a short list is scanned faster than a string is hashed.
    list: Vec<String>,
}

impl Names {
    fn intern(&mut self, name: &str) -> usize {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = self.ids.len();
        self.ids.insert(name.to_string(), i);
        self.list.push(name.to_string());
        i
    }

    fn get(&self, name: &str) -> Option<usize> {
        if self.list.len() <= 16 {
            self.list.iter().position(|n| n == name)
        } else {
            self.ids.get(name).copied()
        }
    }

    fn intern_all(&mut self, r: &Resources) {
        for x in r.iter().filter(|x| is_scalar_resource(x)) {
            self.intern(&x.name);
        }
    }

    /// Scalar quantities of `r`; every name must already be interned.
    fn quantities(&self, r: &Resources) -> Quantities {
        self.quantities_where(r, |_| true)
    }

    /// Scalar quantities of the entries of `r` for which `pred` holds.
    fn quantities_where(&self, r: &Resources, pred: impl Fn(&Resource) -> bool) -> Quantities {
        let mut q: Quantities = Vec::with_capacity(r.len());
        for x in r.iter().filter(|x| is_scalar_resource(x) && pred(x)) {
            let Some(id) = self.get(&x.name) else {
                debug_assert!(false, "resource name {} not interned", x.name);
                continue;
            };
            match q.iter_mut().find(|(i, _)| *i == id) {
                Some((_, v)) => *v = v.saturating_add(scalar_millis(x)),
                None => q.push((id, scalar_millis(x))),
            }
        }
        q
    }
}

/// Adds (`sign` 1) or subtracts (-1) `q` into `v`, saturating: an agent may announce
/// absurd scalars (found by fuzzing: cpus near 1e34 next to a normal agent overflowed the
/// totals), and a saturated total is wrong but bounded, never a panic or a wrap to negative.
fn add_q(v: &mut Vec<i64>, q: &[(usize, i64)], sign: i64) {
    for &(i, amount) in q {
        if v.len() <= i {
            v.resize(i + 1, 0);
        }
        v[i] = v[i].saturating_add(sign.saturating_mul(amount));
    }
}

fn get_q(v: &[i64], i: usize) -> i64 {
    v.get(i).copied().unwrap_or(0)
}

fn is_unreserved_nonrevocable_scalar(r: &Resource) -> bool {
    is_scalar_resource(r) && r.reservations.is_empty() && r.revocable.is_none()
}

/// A per-name bound vector: `limit - consumed` for limited names, unbounded otherwise.
fn limits_minus(
    limits: &Quantities,
    consumed: &[i64],
    extra: &Quantities,
    len: usize,
) -> Vec<Option<i64>> {
    let mut t = vec![None; len];
    for &(i, l) in limits {
        let e = extra.iter().find(|(j, _)| *j == i).map_or(0, |(_, v)| *v);
        t[i] = Some((l - get_q(consumed, i) - e).max(0));
    }
    t
}

/// A quantity bound vector (absent names bound to zero).
fn quantities_bound(q: &[i64], len: usize) -> Vec<Option<i64>> {
    (0..len).map(|i| Some(get_q(q, i).max(0))).collect()
}

#[derive(Debug)]
struct QuotaEntry {
    quota: Quota,
    guarantees: Quantities,
    limits: Quantities,
}

/// A refused-offer filter: resources contained in `refused` are not offered to the
/// framework (for that role, on that agent) before `expires`.
#[derive(Debug)]
struct OfferFilter {
    framework: u32,
    role: u32,
    /// The refused resources as entries of the agent's shapes: tens of thousands of filters
    /// stay small, and checking one compares ids and numbers.
    refused: Vec<Entry>,
    /// `Agent::available_version` when `refused` was all the agent had available (the
    /// usual decline of a whole offer); while it is current, the filter covers any offer.
    whole_at: Option<u64>,
    expires: Instant,
}

impl OfferFilter {
    /// Whether the refused resources contain `offer` (Mesos `RefusedOfferFilter`; whole
    /// resources such as volumes must be equal).
    fn covers(&self, shapes: &Shapes, offer: &[Entry]) -> bool {
        let covers_one = |e: &Entry, t: &Entry| {
            e.shape == t.shape
                && e.value.contains(&t.value)
                && (!shapes[t.shape].exact || t.value.contains(&e.value))
        };
        offer.iter().enumerate().all(|(i, t)| {
            // Same position first: both usually come from this agent in one order.
            self.refused.get(i).is_some_and(|e| covers_one(e, t))
                || self.refused.iter().any(|e| covers_one(e, t))
        })
    }
}

#[derive(Debug)]
struct Framework {
    /// The id as the master gave it; `id` is the same text, shared by the agents' books.
    key: FrameworkId,
    id: Arc<str>,
    spec: FrameworkSpec,
    active: bool,
    /// Roles under which the framework is tracked in sorters: subscribed roles plus roles
    /// it still holds allocations in.
    tracked_roles: BTreeSet<u32>,
    /// Agents that may hold offer filters of this framework (a superset).
    filtered_agents: FxHashSet<u32>,
    /// Agents where the framework holds resources.
    agents: FxHashSet<u32>,
}

#[derive(Debug)]
struct Agent {
    id: AgentId,
    hostname: String,
    active: bool,
    total: Resources,
    /// Shapes of the resources seen on this agent; `available` and `filters` refer to them.
    shapes: Shapes,
    /// `total` minus everything allocated or offered, unallocated, compact (see
    /// `compact.rs`): the round reads it without touching proto resources.
    available: Vec<Entry>,
    /// Bumped on every change of `available`: a filter that refused exactly what was
    /// available remembers it and covers any offer of the agent in O(1) while it is
    /// unchanged (every offer is part of `available`).
    available_version: u64,
    /// Framework id -> allocated or offered resources (allocation_info set), except the
    /// offers in `offers`.
    allocated: HashMap<Arc<str>, Resources>,
    /// Offers of the rounds not recovered yet, as made: (framework id, one role's
    /// resources). Kept apart so that making an offer is an append and recovering a
    /// declined one is a pointer comparison, not `Resources` arithmetic on kilobyte-sized
    /// entries. Merged into `allocated` ([`Agent::settle`]) before anything else reads or
    /// changes a framework's allocation.
    offers: Vec<(Arc<str>, Resources)>,
    has_gpu: bool,
    /// Offer filters installed on this agent (by any framework), few per agent: scanned.
    filters: Vec<OfferFilter>,
}

impl Agent {
    /// Merges the outstanding offers of `framework` (all frameworks when `None`) into
    /// `allocated`.
    fn settle(&mut self, framework: Option<&str>) {
        let Agent {
            offers, allocated, ..
        } = self;
        offers.retain(|(f, res)| {
            if framework.is_some_and(|x| x != &**f) {
                return true;
            }
            match allocated.get_mut(f) {
                Some(held) => *held += res,
                None => {
                    allocated.insert(f.clone(), res.clone());
                }
            }
            false
        });
    }

    /// Whether `framework` holds or was offered anything here.
    fn holds(&self, framework: &str) -> bool {
        self.allocated.contains_key(framework) || self.offers.iter().any(|(f, _)| &**f == framework)
    }
}

#[derive(Debug)]
struct Role {
    name: Arc<str>,
    /// Frameworks tracked under this role (framework sorter clients).
    frameworks: BTreeSet<u32>,
    /// Framework-level DRF sorter (flat; clients are framework ids).
    sorter: DrfSorter,
    /// Unreserved non-revocable scalars allocated to this exact role (quota consumption).
    unreserved_allocated: Vec<i64>,
}

/// See the module doc.
pub struct Allocator {
    options: Options,
    /// `--min_allocatable_resources` as `[(name id, thousandths)]` alternatives.
    min_allocatable: Vec<Quantities>,
    names: Names,
    /// By name id: excluded from fair sharing.
    excluded: Vec<bool>,
    /// By name id: sum of all agents' totals (thousandths).
    totals: Vec<i64>,
    agents: Vec<Option<Agent>>,
    agent_index: HashMap<AgentId, u32>,
    frameworks: Vec<Option<Box<Framework>>>,
    framework_index: HashMap<FrameworkId, u32>,
    roles: Vec<Role>,
    role_index: HashMap<String, u32>,
    /// Role-level hierarchical DRF sorter (clients: roles with frameworks).
    role_sorter: DrfSorter,
    weights: BTreeMap<String, f64>,
    quotas: BTreeMap<String, QuotaEntry>,
    /// Reserved scalar quantities on agent totals, by reservation role.
    reserved: HashMap<String, Vec<i64>>,
    /// (expiry, agent) of installed filters, soonest first.
    filter_expiry: BinaryHeap<Reverse<(Instant, u32)>>,
    /// Framework id -> agents holding resources of a framework not added yet.
    pending_used: HashMap<FrameworkId, Vec<u32>>,
    /// Offered resources shared between agents with equal content (bounded).
    built: BuiltCache,
}

struct Round {
    /// Quota role -> consumed quota (reservations + unreserved allocation of its subtree).
    consumed: HashMap<String, Vec<i64>>,
    required_headroom: Vec<i64>,
    available_headroom: Vec<i64>,
    out: Vec<Allocation>,
    out_index: HashMap<(u32, u32), usize>,
    /// Allocations made on the agent being visited (reused from agent to agent).
    made: Vec<Made>,
    /// Quantities of `made`.
    made_quantities: Quantities,
}

impl Round {
    fn headroom_needed(&self) -> bool {
        self.required_headroom.iter().any(|&v| v > 0)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    QuotaGuarantees,
    FairShare,
}

/// One allocation made while visiting an agent, applied to the sorters afterwards. Its
/// quantities are ranges of [`Round::made_quantities`]: no allocation per offer.
struct Made {
    role: u32,
    framework: u32,
    quantities: std::ops::Range<usize>,
    unreserved: std::ops::Range<usize>,
}

impl Allocator {
    pub fn new(options: Options) -> Self {
        let mut names = Names::default();
        let min_allocatable = options
            .min_allocatable_resources
            .iter()
            .map(|alt| {
                names.intern_all(alt);
                names.quantities(alt)
            })
            .collect();
        let mut a = Allocator {
            options,
            min_allocatable,
            names,
            excluded: Vec::new(),
            totals: Vec::new(),
            agents: Vec::new(),
            agent_index: HashMap::new(),
            frameworks: Vec::new(),
            framework_index: HashMap::new(),
            roles: Vec::new(),
            role_index: HashMap::new(),
            role_sorter: DrfSorter::new(true),
            weights: BTreeMap::new(),
            quotas: BTreeMap::new(),
            reserved: HashMap::new(),
            filter_expiry: BinaryHeap::new(),
            pending_used: HashMap::new(),
            built: BuiltCache::default(),
        };
        if let Some(n) = a.names.list.len().checked_sub(1) {
            a.grow_names(n);
        }
        for name in a.options.fair_sharing_excluded_resource_names.clone() {
            let i = a.names.intern(&name);
            a.grow_names(i);
            a.excluded[i] = true;
        }
        a
    }

    fn grow_names(&mut self, i: usize) {
        if self.excluded.len() <= i {
            self.excluded.resize(i + 1, false);
        }
        if self.totals.len() <= i {
            self.totals.resize(i + 1, 0);
        }
    }

    fn intern_all(&mut self, r: &Resources) {
        self.names.intern_all(r);
        let n = self.names.ids.len();
        if n > 0 {
            self.grow_names(n - 1);
        }
    }

    fn role_idx(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.role_index.get(name) {
            return i;
        }
        let i = self.roles.len() as u32;
        self.roles.push(Role {
            name: Arc::from(name),
            frameworks: BTreeSet::new(),
            sorter: DrfSorter::new(false),
            unreserved_allocated: Vec::new(),
        });
        self.role_index.insert(name.to_string(), i);
        i
    }

    /// Marks every share stale (cluster totals changed).
    fn totals_changed(&mut self) {
        self.role_sorter.mark_dirty();
        for role in &mut self.roles {
            role.sorter.mark_dirty();
        }
    }

    fn refresh_sorters(&mut self) {
        let ctx = ShareContext {
            totals: &self.totals,
            excluded: &self.excluded,
        };
        self.role_sorter.refresh(ctx);
        for role in &mut self.roles {
            role.sorter.refresh(ctx);
        }
    }

    // ---- frameworks ---------------------------------------------------------------------

    fn track_under_role(&mut self, f: u32, r: u32) {
        let fw = self.frameworks[f as usize]
            .as_deref_mut()
            .expect("framework");
        if !fw.tracked_roles.insert(r) {
            return;
        }
        let ctx = ShareContext {
            totals: &self.totals,
            excluded: &self.excluded,
        };
        let role = &mut self.roles[r as usize];
        role.frameworks.insert(f);
        role.sorter.add_client(&fw.id, f);
        if role.frameworks.len() == 1 {
            self.role_sorter.add_client(&role.name, r);
            self.role_sorter.activate(&role.name, ctx);
        }
    }

    fn untrack_under_role(&mut self, f: u32, r: u32) {
        let fw = self.frameworks[f as usize]
            .as_deref_mut()
            .expect("framework");
        if !fw.tracked_roles.remove(&r) {
            return;
        }
        let ctx = ShareContext {
            totals: &self.totals,
            excluded: &self.excluded,
        };
        let role = &mut self.roles[r as usize];
        role.sorter.remove_client(&fw.id, ctx);
        role.frameworks.remove(&f);
        if role.frameworks.is_empty() {
            self.role_sorter.remove_client(&role.name, ctx);
        }
    }

    /// Puts the framework in or out of the role's sorter iteration: in iff it is active,
    /// subscribed to the role and not suppressed there.
    fn refresh_activity(&mut self, f: u32, r: u32) {
        let fw = self.frameworks[f as usize].as_deref().expect("framework");
        let role = &mut self.roles[r as usize];
        let ctx = ShareContext {
            totals: &self.totals,
            excluded: &self.excluded,
        };
        let eligible = fw.active
            && fw.spec.roles.contains(&*role.name)
            && !fw.spec.suppressed_roles.contains(&*role.name);
        if eligible {
            role.sorter.activate(&fw.id, ctx);
        } else {
            role.sorter.deactivate(&fw.id, ctx);
        }
    }

    fn refresh_all_activity(&mut self, f: u32) {
        let roles: Vec<u32> = self.frameworks[f as usize]
            .as_deref()
            .expect("framework")
            .tracked_roles
            .iter()
            .copied()
            .collect();
        for r in roles {
            self.refresh_activity(f, r);
        }
    }

    /// Adds (`sign = 1`) or removes (`-1`) allocated resources (allocation_info set) of a
    /// framework in the sorters and quota accounting.
    fn track_allocation(&mut self, f: u32, resources: &Resources, sign: i64) {
        self.intern_all(resources);
        for (role_name, res) in resources.allocations() {
            let r = self.role_idx(&role_name);
            if sign > 0 {
                self.track_under_role(f, r);
                self.refresh_activity(f, r);
            }
            if !self.frameworks[f as usize]
                .as_deref()
                .expect("framework")
                .tracked_roles
                .contains(&r)
            {
                continue;
            }
            let q = self.names.quantities(&res);
            let uq = self
                .names
                .quantities_where(&res, is_unreserved_nonrevocable_scalar);
            self.apply_made(r, f, &q, &uq, sign);
        }
    }

    fn apply_made(
        &mut self,
        r: u32,
        f: u32,
        quantities: &[(usize, i64)],
        unreserved: &[(usize, i64)],
        sign: i64,
    ) {
        let ctx = ShareContext {
            totals: &self.totals,
            excluded: &self.excluded,
        };
        let role = &mut self.roles[r as usize];
        let fw = self.frameworks[f as usize].as_deref().expect("framework");
        debug_assert!(fw.tracked_roles.contains(&r));
        self.role_sorter
            .update_client_allocation(r, quantities, sign, ctx);
        role.sorter
            .update_client_allocation(f, quantities, sign, ctx);
        add_q(&mut role.unreserved_allocated, unreserved, sign);
    }

    /// Stops tracking the framework under roles it neither subscribes to nor holds
    /// resources in.
    fn prune_roles(&mut self, f: u32) {
        let fw = self.frameworks[f as usize].as_deref().expect("framework");
        if fw
            .tracked_roles
            .iter()
            .all(|&r| fw.spec.roles.contains(&*self.roles[r as usize].name))
        {
            return; // Nothing tracked beyond the subscribed roles: the common case.
        }
        let mut held: BTreeSet<String> = BTreeSet::new();
        for &a in &fw.agents {
            let Some(ag) = self.agents[a as usize].as_ref() else {
                continue;
            };
            if let Some(res) = ag.allocated.get(&*fw.id) {
                held.extend(res.allocation_roles());
            }
            for (_, res) in ag.offers.iter().filter(|(f, _)| *f == fw.id) {
                held.extend(res.allocation_roles());
            }
        }
        let stale: Vec<u32> = fw
            .tracked_roles
            .iter()
            .copied()
            .filter(|&r| {
                let name = &*self.roles[r as usize].name;
                !fw.spec.roles.contains(name) && !held.contains(name)
            })
            .collect();
        for r in stale {
            self.untrack_under_role(f, r);
        }
    }

    /// Adds a framework. `used`: resources (allocation_info set) it already holds, by agent;
    /// those on agents that were added with them in their `used` are not counted twice.
    pub fn add_framework(
        &mut self,
        id: &FrameworkId,
        spec: FrameworkSpec,
        used: &HashMap<AgentId, Resources>,
        active: bool,
    ) {
        if self.framework_index.contains_key(id) {
            tracing::warn!(framework_id = %id, "framework added twice; replacing it");
            self.remove_framework(id);
        }
        let f = self.frameworks.len() as u32;
        let fid: Arc<str> = Arc::from(id.as_str());
        self.frameworks.push(Some(Box::new(Framework {
            key: id.clone(),
            id: fid.clone(),
            spec: spec.clone(),
            active,
            tracked_roles: BTreeSet::new(),
            filtered_agents: FxHashSet::default(),
            agents: FxHashSet::default(),
        })));
        self.framework_index.insert(id.clone(), f);
        for role in &spec.roles {
            let r = self.role_idx(role);
            self.track_under_role(f, r);
        }
        self.refresh_all_activity(f);

        // Resources the agents already reported for this framework.
        let mut agents: Vec<u32> = self.pending_used.remove(id.as_str()).unwrap_or_default();
        // Resources only the framework reports (the agent was added without them).
        for (agent_id, res) in used {
            let Some(&a) = self.agent_index.get(agent_id) else {
                continue;
            };
            let agent = self.agents[a as usize].as_mut().expect("agent");
            agent.settle(Some(id));
            let known = agent
                .allocated
                .get(id.as_str())
                .cloned()
                .unwrap_or_default();
            let extra = res - &known;
            if !extra.is_empty() {
                let used = agent.shapes.entries(&extra, &mut self.names);
                compact::subtract_all(&mut agent.available, &agent.shapes, &used);
                agent.available_version += 1;
                *agent.allocated.entry(fid.clone()).or_default() += extra;
            }
            agents.push(a);
        }
        agents.sort_unstable();
        agents.dedup();
        for a in agents {
            let Some(res) = self.agents[a as usize]
                .as_ref()
                .and_then(|ag| ag.allocated.get(id.as_str()))
                .cloned()
            else {
                continue;
            };
            self.frameworks[f as usize]
                .as_deref_mut()
                .expect("framework")
                .agents
                .insert(a);
            self.track_allocation(f, &res, 1);
        }
    }

    /// Changes roles, suppressed roles and capabilities. Filters of roles the framework
    /// leaves are dropped.
    pub fn update_framework(&mut self, id: &str, spec: FrameworkSpec) {
        let Some(&f) = self.framework_index.get(id) else {
            tracing::warn!(framework_id = %id, "update of unknown framework");
            return;
        };
        let fw = self.frameworks[f as usize]
            .as_deref_mut()
            .expect("framework");
        let old = std::mem::replace(&mut fw.spec, spec.clone());
        let left: Vec<String> = old.roles.difference(&spec.roles).cloned().collect();
        for role in &left {
            if let Some(&r) = self.role_index.get(role) {
                self.clear_filters(f, Some(r));
            }
        }
        for role in &spec.roles {
            let r = self.role_idx(role);
            self.track_under_role(f, r);
        }
        self.refresh_all_activity(f);
        self.prune_roles(f);
    }

    /// Removes a framework; everything it held returns to the agents.
    pub fn remove_framework(&mut self, id: &str) {
        let Some(f) = self.framework_index.remove(id) else {
            return;
        };
        let agents: Vec<u32> = self.frameworks[f as usize]
            .as_deref()
            .expect("framework")
            .agents
            .iter()
            .copied()
            .collect();
        for a in agents {
            let agent = self.agents[a as usize].as_mut().expect("agent");
            agent.settle(Some(id));
            if let Some(res) = agent.allocated.remove(id) {
                let freed = agent.shapes.entries(&res, &mut self.names);
                compact::add_all(&mut agent.available, &agent.shapes, freed);
                agent.available_version += 1;
                self.track_allocation(f, &res, -1);
            }
        }
        let roles: Vec<u32> = self.frameworks[f as usize]
            .as_deref()
            .expect("framework")
            .tracked_roles
            .iter()
            .copied()
            .collect();
        for r in roles {
            self.untrack_under_role(f, r);
        }
        self.clear_filters(f, None);
        self.frameworks[f as usize] = None;
    }

    /// Makes the framework eligible for offers again.
    pub fn activate_framework(&mut self, id: &str) {
        let Some(&f) = self.framework_index.get(id) else {
            return;
        };
        self.frameworks[f as usize]
            .as_deref_mut()
            .expect("framework")
            .active = true;
        self.refresh_all_activity(f);
    }

    /// No offers while inactive; its filters and allocations are kept.
    pub fn deactivate_framework(&mut self, id: &str) {
        let Some(&f) = self.framework_index.get(id) else {
            return;
        };
        self.frameworks[f as usize]
            .as_deref_mut()
            .expect("framework")
            .active = false;
        self.refresh_all_activity(f);
    }

    // ---- agents -----------------------------------------------------------------------

    fn account_reserved(&mut self, total: &Resources, sign: i64) {
        for (role, res) in total.reservations() {
            let q = self.names.quantities(&res);
            add_q(self.reserved.entry(role).or_default(), &q, sign);
        }
    }

    fn account_total(&mut self, total: &Resources, sign: i64) {
        self.intern_all(total);
        let q = self.names.quantities(total);
        add_q(&mut self.totals, &q, sign);
        self.account_reserved(total, sign);
        self.totals_changed();
    }

    /// Adds an agent. `used`: resources (allocation_info set) frameworks already hold on it.
    pub fn add_agent(
        &mut self,
        id: &AgentId,
        spec: AgentSpec,
        used: &HashMap<FrameworkId, Resources>,
    ) {
        if self.agent_index.contains_key(id) {
            tracing::warn!(agent_id = %id, "agent added twice; replacing it");
            self.remove_agent(id);
        }
        let a = self.agents.len() as u32;
        self.account_total(&spec.total, 1);
        // The total's entries become the shapes (shared, not copied).
        let mut shapes = Shapes::default();
        let mut available = shapes.entries(&spec.total, &mut self.names);
        let mut allocated: HashMap<Arc<str>, Resources> = HashMap::new();
        for (fw, res) in used {
            self.intern_all(res);
            let used = shapes.entries(res, &mut self.names);
            compact::subtract_all(&mut available, &shapes, &used);
            allocated.insert(Arc::from(fw.as_str()), res.clone());
        }
        self.agents.push(Some(Agent {
            id: id.clone(),
            hostname: spec.hostname,
            active: true,
            has_gpu: spec.total.gpus() > 0.0,
            total: spec.total,
            shapes,
            available,
            available_version: 0,
            allocated,
            offers: Vec::new(),
            filters: Vec::new(),
        }));
        self.agent_index.insert(id.clone(), a);
        for (fw, res) in used {
            match self.framework_index.get(fw) {
                Some(&f) => {
                    self.frameworks[f as usize]
                        .as_deref_mut()
                        .expect("framework")
                        .agents
                        .insert(a);
                    self.track_allocation(f, res, 1);
                }
                None => self.pending_used.entry(fw.clone()).or_default().push(a),
            }
        }
    }

    /// Replaces an agent's total (e.g. oversubscription, resource provider changes).
    pub fn update_agent_total(&mut self, id: &str, total: Resources) {
        let Some(&a) = self.agent_index.get(id) else {
            return;
        };
        let old = self.agents[a as usize]
            .as_ref()
            .expect("agent")
            .total
            .clone();
        self.account_total(&old, -1);
        self.account_total(&total, 1);
        let agent = self.agents[a as usize].as_mut().expect("agent");
        agent.settle(None);
        let mut available = total.clone();
        for res in agent.allocated.values() {
            available -= &res.unallocated();
        }
        agent.has_gpu = total.gpus() > 0.0;
        agent.available = agent.shapes.entries(&available, &mut self.names);
        agent.available_version += 1;
        agent.total = total;
    }

    /// Removes an agent with everything allocated on it.
    pub fn remove_agent(&mut self, id: &str) {
        let Some(a) = self.agent_index.remove(id) else {
            return;
        };
        let mut agent = self.agents[a as usize].take().expect("agent");
        agent.settle(None);
        for (fw, res) in &agent.allocated {
            if let Some(&f) = self.framework_index.get(&**fw) {
                self.track_allocation(f, res, -1);
                self.frameworks[f as usize]
                    .as_deref_mut()
                    .expect("framework")
                    .agents
                    .remove(&a);
            } else if let Some(list) = self.pending_used.get_mut(&**fw) {
                list.retain(|&x| x != a);
            }
        }
        self.account_total(&agent.total, -1);
    }

    /// Offers of this agent resume.
    pub fn activate_agent(&mut self, id: &str) {
        if let Some(&a) = self.agent_index.get(id) {
            self.agents[a as usize].as_mut().expect("agent").active = true;
        }
    }

    /// No offers of this agent until activated (its allocations are kept).
    pub fn deactivate_agent(&mut self, id: &str) {
        if let Some(&a) = self.agent_index.get(id) {
            self.agents[a as usize].as_mut().expect("agent").active = false;
        }
    }

    // ---- resources --------------------------------------------------------------------

    /// Resources the framework returns (declined offer, unused part of an accept, finished
    /// task, rescinded offer). `refuse`: Some(d) with d > 0 installs an offer filter for this
    /// framework, agent and each role of `resources` until `now + d`.
    pub fn recover_resources(
        &mut self,
        now: Instant,
        framework_id: &str,
        agent_id: &str,
        resources: &Resources,
        refuse: Option<Duration>,
    ) {
        if resources.is_empty() {
            return;
        }
        let f = self.framework_index.get(framework_id).copied();
        if let Some(&a) = self.agent_index.get(agent_id) {
            let agent = self.agents[a as usize].as_mut().expect("agent");
            // A declined offer comes back as it was made: drop it without arithmetic.
            let same = |res: &Resources| {
                res.len() == resources.len()
                    && res
                        .as_slice()
                        .iter()
                        .zip(resources.as_slice())
                        .all(|(x, y)| Arc::ptr_eq(x, y))
            };
            if let Some(i) = agent
                .offers
                .iter()
                .position(|(fw, res)| &**fw == framework_id && same(res))
            {
                agent.offers.swap_remove(i);
            } else {
                agent.settle(Some(framework_id));
                let Some(held) = agent.allocated.get_mut(framework_id) else {
                    tracing::warn!(%framework_id, %agent_id, %resources, "recovered resources are not allocated");
                    return;
                };
                if !held.contains(resources) {
                    tracing::warn!(%framework_id, %agent_id, %resources, held = %held, "recovered resources are not allocated");
                    return;
                }
                *held -= resources;
                if held.is_empty() {
                    agent.allocated.remove(framework_id);
                }
            }
            if !agent.holds(framework_id)
                && let Some(f) = f
            {
                self.frameworks[f as usize]
                    .as_deref_mut()
                    .expect("framework")
                    .agents
                    .remove(&a);
            }
            let freed = agent.shapes.entries(resources, &mut self.names);
            compact::add_all(&mut agent.available, &agent.shapes, freed);
            agent.available_version += 1;
            if let Some(f) = f {
                self.track_allocation(f, resources, -1);
                self.prune_roles(f);
                if let Some(d) = refuse.filter(|d| !d.is_zero()) {
                    let expires = now + d;
                    for (role, res) in resources.allocations() {
                        let r = self.role_idx(&role);
                        let fw = self.frameworks[f as usize]
                            .as_deref_mut()
                            .expect("framework");
                        fw.filtered_agents.insert(a);
                        let agent = self.agents[a as usize].as_mut().expect("agent");
                        let refused = agent.shapes.entries(&res, &mut self.names);
                        let whole_at =
                            (refused == agent.available).then_some(agent.available_version);
                        agent.filters.push(OfferFilter {
                            framework: f,
                            role: r,
                            refused,
                            whole_at,
                            expires,
                        });
                        self.filter_expiry.push(Reverse((expires, a)));
                    }
                }
            }
        }
    }

    /// Operations (RESERVE/UNRESERVE/CREATE/DESTROY) applied to resources the framework holds
    /// on an agent: its allocation and the agent's total change from `from` to `to`.
    pub fn update_allocation(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        from: &Resources,
        to: &Resources,
    ) {
        let (Some(&a), Some(&f)) = (
            self.agent_index.get(agent_id),
            self.framework_index.get(framework_id),
        ) else {
            return;
        };
        let agent = self.agents[a as usize].as_mut().expect("agent");
        agent.settle(Some(framework_id));
        let Some(held) = agent.allocated.get_mut(framework_id) else {
            return;
        };
        if !held.contains(from) {
            tracing::warn!(%framework_id, %agent_id, %from, held = %held, "updated resources are not allocated");
            return;
        }
        *held -= from;
        *held += to;
        let new_total = &(&agent.total - &from.unallocated()) + &to.unallocated();
        let old_total = std::mem::replace(&mut agent.total, new_total.clone());
        self.account_total(&old_total, -1);
        self.account_total(&new_total, 1);
        self.track_allocation(f, from, -1);
        self.track_allocation(f, to, 1);
        self.prune_roles(f);
    }

    // ---- suppress / revive / weights / quota ------------------------------------------

    fn roles_or_all(&self, f: u32, roles: &[String]) -> Vec<String> {
        if roles.is_empty() {
            self.frameworks[f as usize]
                .as_deref()
                .expect("framework")
                .spec
                .roles
                .iter()
                .cloned()
                .collect()
        } else {
            roles.to_vec()
        }
    }

    /// Stops offers to the framework for `roles` (empty: all its roles).
    pub fn suppress(&mut self, framework_id: &str, roles: &[String]) {
        let Some(&f) = self.framework_index.get(framework_id) else {
            return;
        };
        for role in self.roles_or_all(f, roles) {
            let fw = self.frameworks[f as usize]
                .as_deref_mut()
                .expect("framework");
            fw.spec.suppressed_roles.insert(role.clone());
            if let Some(&r) = self.role_index.get(&role) {
                self.refresh_activity(f, r);
            }
        }
    }

    /// Resumes offers for `roles` (empty: all its roles) and clears the framework's filters
    /// for them (reference/mesos-contract.md §8.7).
    pub fn revive(&mut self, framework_id: &str, roles: &[String]) {
        let Some(&f) = self.framework_index.get(framework_id) else {
            return;
        };
        for role in self.roles_or_all(f, roles) {
            let fw = self.frameworks[f as usize]
                .as_deref_mut()
                .expect("framework");
            fw.spec.suppressed_roles.remove(&role);
            if let Some(&r) = self.role_index.get(&role) {
                self.clear_filters(f, Some(r));
                self.refresh_activity(f, r);
            }
        }
    }

    /// Sets role weights (default 1.0).
    pub fn update_weights(&mut self, weights: &[(String, f64)]) {
        for (role, weight) in weights {
            if *weight == 1.0 {
                self.weights.remove(role);
            } else {
                self.weights.insert(role.clone(), *weight);
            }
            self.role_sorter.set_weight(role, *weight);
        }
    }

    /// Sets a role's quota; an empty quota removes it.
    pub fn update_quota(&mut self, role: &str, quota: Quota) {
        if quota.is_empty() {
            self.quotas.remove(role);
            return;
        }
        self.intern_all(&quota.guarantees);
        self.intern_all(&quota.limits);
        let guarantees = self.names.quantities(&quota.guarantees.scalars());
        let limits = self.names.quantities(&quota.limits.scalars());
        self.quotas.insert(
            role.to_string(),
            QuotaEntry {
                quota,
                guarantees,
                limits,
            },
        );
    }

    // ---- introspection ----------------------------------------------------------------

    /// Roles with frameworks, allocations, reservations, a weight or a quota.
    pub fn roles(&self) -> Vec<RoleInfo> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        names.extend(
            self.roles
                .iter()
                .filter(|r| !r.frameworks.is_empty())
                .map(|r| r.name.to_string()),
        );
        names.extend(self.weights.keys().cloned());
        names.extend(self.quotas.keys().cloned());
        names.extend(
            self.reserved
                .iter()
                .filter(|(_, q)| q.iter().any(|&v| v > 0))
                .map(|(k, _)| k.clone()),
        );
        let mut allocated: HashMap<String, Resources> = HashMap::new();
        for agent in self.agents.iter().flatten() {
            let offers = agent.offers.iter().map(|(_, res)| res);
            for res in agent.allocated.values().chain(offers) {
                for (role, r) in res.allocations() {
                    *allocated.entry(role).or_default() += r;
                }
            }
        }
        names
            .into_iter()
            .map(|name| {
                let mut frameworks: Vec<String> = self
                    .role_index
                    .get(&name)
                    .map(|&r| {
                        self.roles[r as usize]
                            .frameworks
                            .iter()
                            .filter_map(|&f| self.frameworks[f as usize].as_deref())
                            .filter(|fw| fw.spec.roles.contains(&name))
                            .map(|fw| fw.id.to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                frameworks.sort();
                RoleInfo {
                    weight: self.weights.get(&name).copied().unwrap_or(1.0),
                    allocated: allocated.remove(&name).unwrap_or_default(),
                    frameworks,
                    quota: self.quotas.get(&name).map(|q| q.quota.clone()),
                    name,
                }
            })
            .collect()
    }

    /// What is allocated or offered to `framework_id` on `agent_id`.
    pub fn allocated(&self, framework_id: &str, agent_id: &str) -> Resources {
        self.agent_index
            .get(agent_id)
            .and_then(|&a| self.agents[a as usize].as_ref())
            .map(|ag| {
                let mut res = ag.allocated.get(framework_id).cloned().unwrap_or_default();
                for (_, offered) in ag.offers.iter().filter(|(f, _)| &**f == framework_id) {
                    res += offered;
                }
                res
            })
            .unwrap_or_default()
    }

    /// An agent's unallocated resources.
    pub fn available(&self, agent_id: &str) -> Option<Resources> {
        let &a = self.agent_index.get(agent_id)?;
        let agent = self.agents[a as usize].as_ref()?;
        Some(agent.shapes.unallocated(&agent.available))
    }

    /// An agent's hostname.
    pub fn hostname(&self, agent_id: &str) -> Option<&str> {
        let &a = self.agent_index.get(agent_id)?;
        Some(&self.agents[a as usize].as_ref()?.hostname)
    }

    // ---- allocation -------------------------------------------------------------------

    fn expire_filters(&mut self, now: Instant) {
        while let Some(Reverse((expires, a))) = self.filter_expiry.peek().copied() {
            if expires > now {
                break;
            }
            self.filter_expiry.pop();
            if let Some(agent) = self.agents[a as usize].as_mut() {
                agent.filters.retain(|x| x.expires > now);
            }
        }
    }

    /// Drops the framework's filters (for one role, or all).
    fn clear_filters(&mut self, f: u32, role: Option<u32>) {
        let fw = self.frameworks[f as usize]
            .as_deref_mut()
            .expect("framework");
        let agents: Vec<u32> = if role.is_none() {
            fw.filtered_agents.drain().collect()
        } else {
            fw.filtered_agents.iter().copied().collect()
        };
        for a in agents {
            if let Some(agent) = self.agents[a as usize].as_mut() {
                agent
                    .filters
                    .retain(|x| x.framework != f || role.is_some_and(|r| x.role != r));
            }
        }
    }

    fn start_round(&self) -> Round {
        let mut consumed: HashMap<String, Vec<i64>> = HashMap::new();
        let mut required = Vec::new();
        let mut any_guarantee = false;
        for (qrole, entry) in &self.quotas {
            let mut c: Vec<i64> = Vec::new();
            for role in &self.roles {
                if is_ancestor_or_self(qrole, &role.name) {
                    add_q_dense(&mut c, &role.unreserved_allocated);
                }
            }
            for (role, q) in &self.reserved {
                if is_ancestor_or_self(qrole, role) {
                    add_q_dense(&mut c, q);
                }
            }
            if !qrole.contains('/') {
                for &(i, g) in &entry.guarantees {
                    any_guarantee = true;
                    let unsatisfied = (g - get_q(&c, i)).max(0);
                    add_q(&mut required, &[(i, unsatisfied)], 1);
                }
            }
            consumed.insert(qrole.clone(), c);
        }
        let mut available = Vec::new();
        if any_guarantee {
            for agent in self.agents.iter().flatten() {
                let q =
                    compact::quantities(&agent.available, &agent.shapes, |s| s.is_quota_scalar());
                add_q(&mut available, &q, 1);
            }
        }
        Round {
            consumed,
            required_headroom: required,
            available_headroom: available,
            out: Vec::with_capacity(self.agent_index.len()),
            out_index: HashMap::new(),
            made: Vec::new(),
            made_quantities: Vec::new(),
        }
    }

    /// One allocation round over all active agents at time `now`.
    pub fn allocate(&mut self, now: Instant) -> Vec<Allocation> {
        self.expire_filters(now);
        self.refresh_sorters();
        let mut round = self.start_round();
        let any_guarantees = self.quotas.values().any(|q| !q.guarantees.is_empty());
        for stage in [Stage::QuotaGuarantees, Stage::FairShare] {
            if stage == Stage::QuotaGuarantees && !any_guarantees {
                continue;
            }
            for a in 0..self.agents.len() as u32 {
                self.allocate_agent(stage, a, now, &mut round);
            }
        }
        round.out
    }

    /// Visits one agent: walks roles and frameworks in sorter order and hands out what the
    /// agent has available. Works on the agent's compact entries; proto resources are built
    /// only for what is actually offered.
    fn allocate_agent(&mut self, stage: Stage, a: u32, now: Instant, round: &mut Round) {
        let Allocator {
            options,
            min_allocatable,
            names,
            role_sorter,
            roles,
            frameworks,
            agents,
            quotas,
            built,
            ..
        } = self;
        let Some(agent) = agents[a as usize].as_mut() else {
            return;
        };
        if !agent.active || agent.available.is_empty() {
            return;
        }
        let n_names = names.list.len();
        round.made.clear();
        round.made_quantities.clear();
        let agent_first = round.out.len();
        for r in role_sorter.iter() {
            if agent.available.is_empty() {
                break;
            }
            let role = &roles[r as usize];
            let quota = quotas.get(&*role.name);
            let mut unsatisfied: Vec<i64> = Vec::new();
            if stage == Stage::QuotaGuarantees {
                let Some(q) = quota.filter(|q| !q.guarantees.is_empty()) else {
                    continue;
                };
                let consumed = round.consumed.get(&*role.name).map_or(&[][..], |c| &c[..]);
                for &(i, g) in &q.guarantees {
                    add_q(&mut unsatisfied, &[(i, (g - get_q(consumed, i)).max(0))], 1);
                }
                if unsatisfied.iter().all(|&v| v <= 0) {
                    continue;
                }
            }
            for f in role.sorter.iter() {
                if stage == Stage::QuotaGuarantees && unsatisfied.iter().all(|&v| v <= 0) {
                    break;
                }
                let fw = frameworks[f as usize]
                    .as_deref()
                    .expect("framework in sorter");
                let caps = fw.spec.capabilities;
                let shapes = &agent.shapes;

                // Available resources allocatable to the role, borrowed when nothing is reserved.
                let mut available: Cow<'_, [Entry]> =
                    if agent.available.iter().any(|e| shapes[e.shape].reserved) {
                        Cow::Owned(compact::filter(&agent.available, shapes, |s| {
                            s.is_allocatable_to(&role.name)
                        }))
                    } else {
                        Cow::Borrowed(&agent.available)
                    };
                if available.is_empty() {
                    break; // Nothing left for the role.
                }
                if !allocatable(min_allocatable, shapes, &available) {
                    continue;
                }
                if options.filter_gpu_resources && !caps.gpu_resources && agent.has_gpu {
                    continue;
                }
                let incapable = |s: &compact::Shape| {
                    (!caps.shared_resources && s.shared)
                        || (!caps.revocable_resources && s.revocable)
                        || (!caps.reservation_refinement && s.refined)
                };
                if available.iter().any(|e| incapable(&shapes[e.shape])) {
                    available = Cow::Owned(compact::filter(&available, shapes, |s| !incapable(s)));
                }

                let consumed = round.consumed.get(&*role.name).map_or(&[][..], |c| &c[..]);
                let limits = quota.map(|q| &q.limits).filter(|l| !l.is_empty());
                let headroom = round.headroom_needed();
                let mut guarantees_offered: Quantities = Vec::new();
                let to_offer: Cow<'_, [Entry]> = {
                    // Moved in here so that a borrowed `available` ends with this block.
                    let available = available;
                    match stage {
                        Stage::FairShare if limits.is_none() && !headroom => available,
                        Stage::FairShare => {
                            let mut offer =
                                compact::filter(&available, shapes, |s| !s.is_quota_scalar());
                            let mut additional =
                                compact::filter(&available, shapes, |s| s.is_quota_scalar());
                            if let Some(limits) = limits {
                                let mut t = limits_minus(limits, consumed, &Vec::new(), n_names);
                                additional = compact::shrink(&additional, shapes, &mut t);
                            }
                            if headroom {
                                let surplus =
                                    surplus(&round.available_headroom, &round.required_headroom);
                                additional = compact::shrink(
                                    &additional,
                                    shapes,
                                    &mut quantities_bound(&surplus, n_names),
                                );
                            }
                            compact::add_all(&mut offer, shapes, additional);
                            Cow::Owned(offer)
                        }
                        Stage::QuotaGuarantees => {
                            let quota_resources =
                                compact::filter(&available, shapes, |s| s.is_quota_scalar());
                            let guaranteed = compact::shrink(
                                &quota_resources,
                                shapes,
                                &mut quantities_bound(&unsatisfied, n_names),
                            );
                            if guaranteed.is_empty() {
                                continue;
                            }
                            guarantees_offered = compact::quantities(&guaranteed, shapes, |_| true);
                            let mut offer = compact::filter(&available, shapes, |s| {
                                s.is_reserved_to(&role.name) || s.name.is_none() || s.revocable
                            });
                            let mut additional = quota_resources;
                            compact::subtract_all(&mut additional, shapes, &guaranteed);
                            if let Some(limits) = limits {
                                let mut t =
                                    limits_minus(limits, consumed, &guarantees_offered, n_names);
                                additional = compact::shrink(&additional, shapes, &mut t);
                            }
                            if headroom {
                                let surplus =
                                    surplus(&round.available_headroom, &round.required_headroom);
                                additional = compact::shrink(
                                    &additional,
                                    shapes,
                                    &mut quantities_bound(&surplus, n_names),
                                );
                            }
                            compact::add_all(&mut offer, shapes, guaranteed);
                            compact::add_all(&mut offer, shapes, additional);
                            Cow::Owned(offer)
                        }
                    }
                };
                if to_offer.is_empty()
                    || !allocatable(min_allocatable, shapes, &to_offer)
                    || is_filtered(agent, f, r, &to_offer, now)
                {
                    continue;
                }

                // Allocate: take the whole available list when that is the offer.
                let owned = match to_offer {
                    Cow::Borrowed(_) => None,
                    Cow::Owned(o) => Some(o),
                };
                let offered = match owned {
                    None => std::mem::take(&mut agent.available),
                    Some(o) => {
                        compact::subtract_all(&mut agent.available, &agent.shapes, &o);
                        o
                    }
                };
                agent.available_version += 1;
                let q0 = round.made_quantities.len();
                compact::quantities_into(
                    &mut round.made_quantities,
                    &offered,
                    &agent.shapes,
                    |s| s.is_quota_scalar(),
                );
                let q1 = round.made_quantities.len();
                compact::quantities_into(
                    &mut round.made_quantities,
                    &offered,
                    &agent.shapes,
                    |_| true,
                );
                let (unreserved_range, quantities_range) =
                    (q0..q1, q1..round.made_quantities.len());
                let unreserved = &round.made_quantities[unreserved_range.clone()];
                let offered = agent.shapes.materialize(&offered, r, &role.name, built);
                agent.offers.push((fw.id.clone(), offered.clone()));

                // Quota bookkeeping for the rest of the round.
                if quota.is_some() || round.headroom_needed() {
                    for (qrole, c) in round.consumed.iter_mut() {
                        if is_ancestor_or_self(qrole, &role.name) {
                            add_q(c, unreserved, 1);
                        }
                    }
                    add_q(&mut round.available_headroom, unreserved, -1);
                    add_q(&mut round.required_headroom, &guarantees_offered, -1);
                    for x in round.required_headroom.iter_mut() {
                        *x = (*x).max(0);
                    }
                    add_q(&mut unsatisfied, unreserved, -1);
                }

                // One Allocation per (framework, agent): this agent's earlier allocations in
                // this stage are the last few entries; stage 2 also looks up stage 1's.
                let slot = match (agent_first..round.out.len())
                    .find(|&i| round.out[i].framework_id.as_str() == &*fw.id)
                    .or_else(|| round.out_index.get(&(f, a)).copied())
                {
                    Some(i) => i,
                    None => {
                        round.out.push(Allocation {
                            framework_id: fw.key.clone(),
                            agent_id: agent.id.clone(),
                            resources: BTreeMap::new(),
                        });
                        if stage == Stage::QuotaGuarantees {
                            round.out_index.insert((f, a), round.out.len() - 1);
                        }
                        round.out.len() - 1
                    }
                };
                match round.out[slot].resources.get_mut(&*role.name) {
                    Some(earlier) => *earlier += offered,
                    None => {
                        round.out[slot]
                            .resources
                            .insert(String::from(&*role.name), offered);
                    }
                }
                round.made.push(Made {
                    role: r,
                    framework: f,
                    quantities: quantities_range,
                    unreserved: unreserved_range,
                });

                if agent.available.is_empty() {
                    break;
                }
            }
        }
        for m in &round.made {
            self.frameworks[m.framework as usize]
                .as_deref_mut()
                .expect("framework")
                .agents
                .insert(a);
            let q = &round.made_quantities;
            self.apply_made(
                m.role,
                m.framework,
                &q[m.quantities.clone()],
                &q[m.unreserved.clone()],
                1,
            );
        }
    }
}

fn add_q_dense(v: &mut Vec<i64>, other: &[i64]) {
    if v.len() < other.len() {
        v.resize(other.len(), 0);
    }
    for (x, y) in v.iter_mut().zip(other) {
        *x += y;
    }
}

/// available headroom - required headroom, saturating at zero (Mesos ResourceQuantities).
fn surplus(available: &[i64], required: &[i64]) -> Vec<i64> {
    let n = available.len().max(required.len());
    (0..n)
        .map(|i| (get_q(available, i) - get_q(required, i)).max(0))
        .collect()
}

/// `--min_allocatable_resources`: the offer covers at least one alternative.
fn allocatable(min: &[Quantities], shapes: &Shapes, offer: &[Entry]) -> bool {
    if offer.is_empty() {
        return false;
    }
    min.is_empty()
        || min.iter().any(|alt| {
            alt.iter()
                .all(|&(name, v)| compact::scalar(offer, shapes, name) >= v)
        })
}

/// Whether an unexpired filter of framework `f` for `role` on the agent refused a superset
/// of `offer` (Mesos `RefusedOfferFilter`: refused resources contain the offer).
fn is_filtered(agent: &Agent, f: u32, role: u32, offer: &[Entry], now: Instant) -> bool {
    agent.filters.iter().any(|x| {
        x.framework == f
            && x.role == role
            && x.expires > now
            && (x.whole_at == Some(agent.available_version) || x.covers(&agent.shapes, offer))
    })
}
