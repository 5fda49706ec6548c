//! The master: frameworks, agents, tasks and offers.
//!
//! Data flow (DESIGN.md §3):
//!
//! ```text
//!  HTTP (http/)          gRPC (service.rs)
//!  scheduler/operator    agent sessions
//!        \                 /
//!         v               v
//!       runtime.rs: one tokio task owns `Master`, takes `Command`s, performs `Effect`s
//!                 |
//!                 v
//!       Master (this module): synchronous handlers over the state; every decision pushes
//!       Effects (events to frameworks, messages to agents) and drives the pure allocator.
//! ```
//!
//! Durable state leaves as `Effect::Registry` operations for the registrar (`registrar.rs`,
//! over `crate::registry`); a write someone waits for carries a [`ReplyId`] that the runtime
//! answers with [`Master::registry_done`] (`admission.rs`, which also holds an agent's
//! session until its admission is durable):
//! admitted, unreachable and gone agents (`lifecycle.rs`, `recovery.rs`: MARK_AGENT_GONE,
//! registry GC), weights and quota (`roles.rs`), the maintenance schedule and machine modes
//! (`maintenance.rs`), agents' drain state and deactivation (`drain.rs`: DRAIN_AGENT,
//! DEACTIVATE_AGENT, REACTIVATE_AGENT, kept in each agent's registry record). A new leader
//! rebuilds all of it with [`Master::recover`]. Inverse offers for scheduled machines are
//! made after each allocation round and answered by frameworks (`inverse.rs`). Operations
//! of an ACCEPT with an `id` get UPDATE_OPERATION_STATUS feedback (`operation_status.rs`).
//! Dynamic reservations and persistent volumes (`operation.rs` inside ACCEPT,
//! `reservation.rs` for the operator's calls) are not registry state: they change the
//! agent's total and the allocator at once and leave as `CheckpointResources` for the agent,
//! which reports them back when it reregisters.
//!
//! Nothing here reads a clock or touches a socket: time comes in as [`Time`], output leaves
//! as [`Effect`]s, so tests drive the master without sockets (`tests` below, `harness.rs`).
//!
//! Ids are typed in the state (`crate::common::id`): the maps of frameworks, agents
//! (connected, unreachable, recovered, gone) and offers, and in [`Framework`] and
//! [`Agent`] the tasks, executors, offers, used resources and pending kills, are keyed by
//! `FrameworkId`, `AgentId`, `TaskId`, `ExecutorId` and `OfferId`, so an id in the state
//! has passed validation (`validation.rs`: [`validate_call`], `validate_task`,
//! `validate_reregistration`; `operator.rs`), registry recovery (`recovery.rs`) or was
//! made here (`new_framework_id`, `new_agent_id`, `new_offer_id`). Handlers take `&str`
//! where they only look an id up; where they file one, they take the typed key from the
//! validated input or from the state that already holds it (`Framework::take_task`,
//! `get_key_value`). Text that stays text: role names, the runtime's copy of a
//! subscription's framework id (it only looks it up) and the proto messages sent out.

// Mesos's deprecated fields (FrameworkInfo.role, Resource.role, ...) are still part of the
// wire contract that Spark's and Hadoop's drivers use.
#![allow(deprecated)]

mod admission;
mod agent;
pub mod drain;
pub mod dump;
pub mod dump_json;
pub mod flags;
mod framework;
pub mod http;
mod inverse;
pub mod leadership;
mod lifecycle;
pub mod maintenance;
pub mod metrics;
mod operation;
pub mod operation_status;
pub mod operator;
mod recovery;
pub mod registrar;
pub mod reservation;
mod roles;
pub mod runtime;
mod scheduler;
pub mod service;
pub mod state;
pub mod task;
pub mod task_map;
mod validation;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::scheduler as sched;

pub use agent::Agent;
pub use framework::Framework;
pub use lifecycle::{Backlog, Stream};
pub use roles::RoleConfig;
pub use scheduler::Subscribed;
// Call validation on its own, for the fuzz target of the scheduler API (crate::fuzzing).
pub(crate) use validation::validate_call;

use crate::allocator::{self, Allocator};
use crate::common::id::{AgentId, FrameworkId, IdPrefix, OfferId, TaskId};
use crate::common::version::MESOS_VERSION;
use crate::resources::Resources;

/// How often connected frameworks receive HEARTBEAT events (Mesos's DEFAULT_HEARTBEAT_INTERVAL).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// Events a framework stream may have waiting beyond its channel — the back-pressure that
/// lets one RECONCILE answer tens of thousands of tasks (implicit reconciliation of 50,000
/// tasks fits). Overflow policy: a stream whose backlog is full is not being read; the
/// master drops it with a log line (the framework reconnects and reconciles; DESIGN.md §3).
pub const FRAMEWORK_STREAM_BACKLOG: usize = 1 << 17;

/// Mesos caps `Filters.refuse_seconds` at one year (reference §3.2).
pub const MAX_REFUSE: Duration = Duration::from_secs(365 * 24 * 3600);
/// Mesos's default `Filters.refuse_seconds`.
pub const DEFAULT_REFUSE: Duration = Duration::from_secs(5);

/// Identifies one connection (a framework's subscription stream or an agent's session) so
/// that effects reach the connection that was current when they were decided.
pub type ConnId = u64;

/// Names a registry write whose outcome someone waits for: the master hands it out with
/// [`Effect::Registry`], the runtime answers it with [`Master::registry_done`].
pub type ReplyId = u64;

pub use crate::common::time::Time;

/// What the master decided to send; the runtime performs these in order.
#[derive(Debug)]
pub enum Effect {
    /// An event on a framework's subscription stream.
    Framework {
        conn: ConnId,
        event: Box<sched::Event>,
    },
    /// End a framework's subscription stream (after teardown, failover or an ERROR).
    CloseFramework { conn: ConnId },
    /// A message on an agent's session, encoded when it is decided: a decoded
    /// `MasterMessage` is ~7.5 KB inline (RunTask holds FrameworkInfo, TaskInfo and
    /// ExecutorInfo by value), and boxing one for every RunTask and acknowledgement cost a
    /// 7.5 KB allocation and copy each (service.rs, [`service::EncodedMessage`]).
    Agent {
        conn: ConnId,
        message: service::EncodedMessage,
    },
    /// End an agent's session.
    CloseAgent { conn: ConnId },
    /// An event for the operator API's SUBSCRIBE streams.
    Operator(Box<v1::master::Event>),
    /// A change to the durable registry. With `reply`, the runtime reports the outcome with
    /// [`Master::registry_done`] (an operator waits for it, or an agent's session is held
    /// until its admission is durable, `admission.rs`).
    Registry {
        op: Box<crate::registry::Operation>,
        reply: Option<ReplyId>,
    },
}

/// Master configuration, from `remesos master` flags (see `flags.rs` for names and defaults).
#[derive(Clone, Debug)]
pub struct Config {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub hostname: String,
    pub cluster: Option<String>,
    pub allocation_interval: Duration,
    pub offer_timeout: Option<Duration>,
    /// `--roles`: when set, frameworks may only use these roles (and `*`).
    pub roles: Option<BTreeSet<String>>,
    pub weights: Vec<(String, f64)>,
    pub agent_ping_timeout: Duration,
    pub max_agent_ping_timeouts: u32,
    pub max_completed_frameworks: usize,
    pub max_completed_tasks_per_framework: usize,
    pub max_unreachable_tasks_per_framework: usize,
    /// `--max_operator_event_stream_subscribers`: operator SUBSCRIBE streams kept open at
    /// once; a new one beyond it closes the oldest (Mesos's `Master::subscribe`).
    pub max_operator_event_stream_subscribers: usize,
    pub heartbeat_interval: Duration,
    /// Events a framework stream may have waiting beyond its channel before the master
    /// drops it as not being read ([`Master::framework_stream_backed_up`]).
    pub framework_stream_backlog: usize,
    /// `--agent_reregister_timeout`: after a failover, how long recovered agents have to
    /// reregister before they are marked unreachable (reference §8.5).
    pub agent_reregister_timeout: Duration,
    /// `--registry_gc_interval`: how often unreachable and gone agents are pruned from the
    /// registry.
    pub registry_gc_interval: Duration,
    /// `--registry_max_agent_age`: unreachable or gone agents older than this are pruned.
    pub registry_max_agent_age: Duration,
    /// `--registry_max_agent_count`: at most this many unreachable (and, separately, gone)
    /// agents are kept; the oldest go first.
    pub registry_max_agent_count: usize,
    /// Effective flags as text, for `/flags` and GET_FLAGS.
    pub flags: Vec<(String, String)>,
    pub allocator: allocator::Options,
    /// TLS without downgrade (`LIBPROCESS_SSL_ENABLED`, security/tls.rs): the agents'
    /// URLs in offers are `https` (master.cpp's "TODO: Set https if only https is
    /// supported"), else `http` as Mesos sets them.
    pub https_only: bool,
    /// The local authorizer (`--acls`); allows everything without ACLs. Shared, never
    /// changed after start.
    pub authorizer: std::sync::Arc<crate::security::authorizer::Authorizer>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ip: Ipv4Addr::LOCALHOST,
            port: 5050,
            hostname: "localhost".to_string(),
            cluster: None,
            allocation_interval: Duration::from_secs(1),
            offer_timeout: None,
            roles: None,
            weights: vec![],
            agent_ping_timeout: Duration::from_secs(15),
            max_agent_ping_timeouts: 5,
            max_completed_frameworks: 50,
            max_completed_tasks_per_framework: 1000,
            max_unreachable_tasks_per_framework: 1000,
            max_operator_event_stream_subscribers: 1000,
            heartbeat_interval: HEARTBEAT_INTERVAL,
            framework_stream_backlog: FRAMEWORK_STREAM_BACKLOG,
            agent_reregister_timeout: Duration::from_secs(600),
            registry_gc_interval: Duration::from_secs(15 * 60),
            registry_max_agent_age: Duration::from_secs(14 * 24 * 3600),
            registry_max_agent_count: 102_400,
            flags: vec![],
            allocator: allocator::Options::default(),
            https_only: false,
            authorizer: Default::default(),
        }
    }
}

/// Counters behind `/metrics/snapshot` that are not derived from the state.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub slave_registrations: u64,
    pub slave_reregistrations: u64,
    pub slave_removals: u64,
    pub slave_unreachable_scheduled: u64,
    /// A gauge the runtime keeps: operator SUBSCRIBE streams open (Mesos's
    /// `master/operator_event_stream_subscribers`, src/master/metrics.cpp).
    pub operator_event_stream_subscribers: u64,
    pub valid_status_updates: u64,
    pub invalid_status_updates: u64,
    pub valid_status_update_acknowledgements: u64,
    pub invalid_status_update_acknowledgements: u64,
    pub valid_framework_to_executor_messages: u64,
    pub invalid_framework_to_executor_messages: u64,
    pub valid_executor_to_framework_messages: u64,
    pub invalid_executor_to_framework_messages: u64,
    pub dropped_messages: u64,
    pub messages_decline_offers: u64,
    pub messages_launch_tasks: u64,
    pub messages_kill_task: u64,
    pub messages_reconcile_tasks: u64,
    pub messages_revive_offers: u64,
    pub messages_suppress_offers: u64,
    pub tasks_finished: u64,
    pub tasks_failed: u64,
    pub tasks_killed: u64,
    pub tasks_lost: u64,
    pub tasks_error: u64,
    pub tasks_dropped: u64,
    pub tasks_gone: u64,
    pub allocation_runs: u64,
    pub allocation_run_ms_last: f64,
}

/// An outstanding offer.
#[derive(Debug)]
pub struct Offer {
    pub offer: v1::Offer,
    /// The offered resources in post-refinement form with `allocation_info` set; what the
    /// framework may use and what goes back to the allocator.
    pub resources: Resources,
    pub role: String,
    pub created: Instant,
}

/// A framework that was removed, kept for `/master/state`'s `completed_frameworks`.
#[derive(Debug)]
pub struct CompletedFramework {
    pub framework: Framework,
}

/// An agent that stopped answering pings, kept so that its tasks reconcile as UNREACHABLE.
#[derive(Clone, Debug)]
pub struct UnreachableAgent {
    pub info: v1::AgentInfo,
    pub since: f64,
}

pub struct Master {
    pub config: Config,
    pub info: v1::MasterInfo,
    pub start_time: f64,
    pub elected_time: f64,
    pub frameworks: HashMap<FrameworkId, Framework>,
    pub completed_frameworks: VecDeque<Framework>,
    pub agents: HashMap<AgentId, Agent>,
    pub unreachable_agents: HashMap<AgentId, UnreachableAgent>,
    /// Agents the registry lists as admitted that have not reregistered with this master
    /// since it recovered (reference §8.3: their unknown tasks get no reconciliation reply).
    pub recovered_agents: HashMap<AgentId, v1::AgentInfo>,
    /// Agents marked gone (never allowed back), with the time.
    pub gone_agents: HashMap<AgentId, UnreachableAgent>,
    /// The maintenance schedule and the modes of scheduled machines (`maintenance.rs`).
    pub maintenance: maintenance::Machines,
    /// Drained, draining and deactivated agents (`drain.rs`).
    pub drains: drain::Drains,
    /// Outstanding inverse offers and the frameworks' answers (`inverse.rs`).
    pub inverse: inverse::InverseOffers,
    /// Operations with an id and their statuses (`operation_status.rs`).
    pub operations: operation_status::Operations,
    /// When recovered agents that did not reregister are marked unreachable.
    reregister_deadline: Option<Instant>,
    pub offers: HashMap<OfferId, Offer>,
    pub allocator: Allocator,
    pub role_config: RoleConfig,
    pub counters: Counters,
    /// The histograms Mesos lacks (`metrics.rs`), shared with the runtime and `/metrics`.
    pub histograms: std::sync::Arc<metrics::Histograms>,
    /// When each task in STAGING was launched, for the launch → TASK_RUNNING histogram:
    /// an entry leaves at the task's first TASK_RUNNING or when the task is released, so
    /// it holds at most the master's live tasks.
    launched: HashMap<(FrameworkId, TaskId), Instant>,
    /// Whether any operator SUBSCRIBE stream is open (set by the runtime). Operator events
    /// are only built then, keeping task launches and updates free of that work otherwise.
    pub operator_subscribed: bool,
    /// What the ids this master makes start with: its own id ([`IdPrefix`]).
    id_prefix: IdPrefix,
    next_framework_id: u64,
    next_agent_id: u64,
    next_offer_id: u64,
    /// Set by events that may make offers possible; the runtime then allocates once for a
    /// whole batch of commands, as Mesos batches event-triggered allocations.
    allocation_requested: bool,
    next_allocation: Instant,
    /// Each subscription's next HEARTBEAT, by due time and connection, with the framework's
    /// id: Mesos gives every framework its own heartbeater when it subscribes
    /// (`Framework::heartbeat`, src/master/framework.cpp), which sends the first HEARTBEAT
    /// at once and then one every interval. An entry whose framework is no longer
    /// connected on that connection is dropped when it comes due (disconnects, failovers
    /// and removals need no bookkeeping here); so at most one entry per subscription made
    /// in the last interval outlives its stream.
    heartbeats: BTreeMap<(Instant, ConnId), FrameworkId>,
    next_ping: Instant,
    next_registry_gc: Instant,
    /// Failover deadlines of disconnected frameworks, soonest first, for
    /// [`Master::next_deadline`]: an entry is only a wake-up; when it comes due
    /// `expire_failover_timeouts` looks at the frameworks themselves, so entries of
    /// frameworks that reconnected or were removed need no bookkeeping (each lives at most
    /// one failover timeout).
    failover_deadlines: BTreeSet<(Instant, FrameworkId)>,
    /// With `--offer_timeout`: when each offer made expires, soonest first, for
    /// [`Master::next_deadline`]; as above, only a wake-up (at most one entry per offer
    /// made in the last offer timeout).
    offer_deadlines: BinaryHeap<Reverse<Instant>>,
    /// Registry writes in flight that hold an agent's session (`admission.rs`).
    admissions: admission::Admissions,
    outbox: Vec<Effect>,
}

impl Master {
    pub fn new(config: Config, id: String, now: Time) -> Master {
        let info = master_info(&config, &id);
        let mut allocator = Allocator::new(config.allocator.clone());
        let mut role_config = RoleConfig::default();
        if !config.weights.is_empty() {
            allocator.update_weights(&config.weights);
            role_config.weights.extend(config.weights.iter().cloned());
        }
        Master {
            next_allocation: now.mono + config.allocation_interval,
            next_ping: now.mono + config.agent_ping_timeout,
            next_registry_gc: now.mono + config.registry_gc_interval,
            config,
            info,
            start_time: now.wall,
            elected_time: now.wall,
            frameworks: HashMap::new(),
            completed_frameworks: VecDeque::new(),
            agents: HashMap::new(),
            unreachable_agents: HashMap::new(),
            recovered_agents: HashMap::new(),
            gone_agents: HashMap::new(),
            maintenance: maintenance::Machines::default(),
            drains: drain::Drains::default(),
            inverse: inverse::InverseOffers::default(),
            operations: Default::default(),
            reregister_deadline: None,
            offers: HashMap::new(),
            allocator,
            role_config,
            counters: Counters::default(),
            histograms: Default::default(),
            launched: HashMap::new(),
            operator_subscribed: false,
            id_prefix: IdPrefix::new(&id),
            next_framework_id: 0,
            next_agent_id: 0,
            next_offer_id: 0,
            allocation_requested: false,
            heartbeats: BTreeMap::new(),
            failover_deadlines: BTreeSet::new(),
            offer_deadlines: BinaryHeap::new(),
            admissions: admission::Admissions::default(),
            outbox: Vec::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// `master@ip:port`
    pub fn pid(&self) -> String {
        format!("master@{}:{}", self.config.ip, self.config.port)
    }

    /// Takes the effects decided so far.
    pub fn drain_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.outbox)
    }

    /// Queues `effect`, unless it is for an agent session held until its admission is
    /// durable (`admission.rs` keeps it until then).
    fn emit(&mut self, effect: Effect) {
        if let Some(effect) = self.admissions.hold(effect) {
            self.outbox.push(effect);
        }
    }

    /// Sends `event` to the framework if it is connected; events for disconnected frameworks
    /// are dropped, as Mesos does (status updates are retried by the agent).
    fn send_to_framework(&mut self, framework_id: &str, event: sched::Event) {
        match self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.connection.as_ref())
        {
            Some(c) => {
                let conn = c.conn;
                self.emit_framework(conn, event);
            }
            None => self.counters.dropped_messages += 1,
        }
    }

    fn send_to_agent(&mut self, agent_id: &str, message: wire::master_message::Message) {
        match self.agents.get(agent_id).and_then(|a| a.conn) {
            Some(conn) => self.emit_agent(conn, message),
            None => self.counters.dropped_messages += 1,
        }
    }

    fn new_framework_id(&mut self) -> FrameworkId {
        loop {
            let id = FrameworkId::generated(&self.id_prefix, self.next_framework_id);
            self.next_framework_id += 1;
            if !self.frameworks.contains_key(&id)
                && !self.completed_frameworks.iter().any(|f| f.id == id)
            {
                return id;
            }
        }
    }

    fn new_agent_id(&mut self) -> AgentId {
        let id = AgentId::generated(&self.id_prefix, self.next_agent_id);
        self.next_agent_id += 1;
        id
    }

    fn new_offer_id(&mut self) -> OfferId {
        let id = OfferId::generated(&self.id_prefix, self.next_offer_id);
        self.next_offer_id += 1;
        id
    }

    pub fn request_allocation(&mut self) {
        self.allocation_requested = true;
    }

    /// Timed work: heartbeats, agent pings, failover and offer timeouts, registry GC, batch
    /// allocation. Each duty keeps its own deadline and runs only when it is due; the
    /// runtime calls this once [`Master::next_deadline`] has passed (calling it earlier
    /// does nothing that is not due).
    pub fn tick(&mut self, now: Time) {
        self.send_heartbeats(now);
        if now.mono >= self.next_ping {
            self.next_ping = now.mono + self.config.agent_ping_timeout;
            self.ping_agents(now);
        }
        if pop_due(&mut self.failover_deadlines, now.mono) {
            self.expire_failover_timeouts(now);
        }
        self.expire_reregistration(now);
        let mut offers_due = false;
        while self
            .offer_deadlines
            .peek()
            .is_some_and(|Reverse(at)| *at <= now.mono)
        {
            self.offer_deadlines.pop();
            offers_due = true;
        }
        if offers_due {
            self.expire_offers(now);
        }
        if now.mono >= self.next_registry_gc {
            self.next_registry_gc = now.mono + self.config.registry_gc_interval;
            self.registry_gc(now);
        }
        if now.mono >= self.next_allocation {
            self.next_allocation = now.mono + self.config.allocation_interval;
            self.allocation_requested = true;
        }
        self.allocate_if_requested(now);
    }

    /// The earliest instant at which [`Master::tick`] has something to do: the next
    /// heartbeat, agent ping round, framework failover or offer timeout, the end of the
    /// agents' reregistration window, registry GC or batch allocation. The runtime sleeps
    /// until then (or until a command comes); nothing here is polled. Work that a command
    /// makes due at once (an allocation it requested) the runtime does after the command.
    pub fn next_deadline(&self) -> Instant {
        let timers = [
            Some(self.next_ping),
            Some(self.next_registry_gc),
            Some(self.next_allocation),
            self.reregister_deadline,
            self.heartbeats.first_key_value().map(|((at, _), _)| *at),
            self.failover_deadlines.first().map(|(at, _)| *at),
            self.offer_deadlines.peek().map(|Reverse(at)| *at),
        ];
        timers
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.next_allocation)
    }

    /// Runs one allocation round if an event asked for one since the last.
    pub fn allocate_if_requested(&mut self, now: Time) {
        if !self.allocation_requested {
            return;
        }
        self.allocation_requested = false;
        #[allow(
            clippy::disallowed_methods,
            reason = "metrics only; decisions never read it"
        )]
        let started = std::time::Instant::now();
        let allocations = self.allocator.allocate(now.mono);
        self.counters.allocation_runs += 1;
        self.counters.allocation_run_ms_last = started.elapsed().as_secs_f64() * 1000.0;
        for allocation in allocations {
            self.make_offers(now, allocation);
        }
        self.generate_inverse_offers(now);
        self.histograms.allocation_round.observe(started.elapsed());
    }

    /// Starts a subscription's heartbeats, right after its SUBSCRIBED: the first HEARTBEAT
    /// goes out now, the next one interval later. Mesos's master calls
    /// `Framework::heartbeat()` after sending SUBSCRIBED, for a new framework and after a
    /// failover alike (`Master::_subscribe`, `Master::failoverFramework`), and its
    /// `ResponseHeartbeater` is created without a delay (src/common/heartbeater.hpp). The
    /// operator API's SUBSCRIBE stream is not started here: Mesos delays its first
    /// heartbeat by the interval (`Master::Subscribers::Subscriber`, master.hpp), and so
    /// does `http/operator.rs`.
    fn start_heartbeats(&mut self, now: Time, framework_id: &FrameworkId, conn: ConnId) {
        self.emit_framework(conn, heartbeat_event());
        self.heartbeats.insert(
            (now.mono + self.config.heartbeat_interval, conn),
            framework_id.clone(),
        );
    }

    /// Sends the heartbeats that are due and schedules each subscription's next one.
    fn send_heartbeats(&mut self, now: Time) {
        let interval = self.config.heartbeat_interval;
        let mut due = Vec::new();
        while let Some(entry) = self.heartbeats.first_entry() {
            if entry.key().0 > now.mono {
                break;
            }
            let key = *entry.key();
            due.push((key, entry.remove()));
        }
        for ((at, conn), framework_id) in due {
            let current = self
                .frameworks
                .get(&framework_id)
                .and_then(|f| f.connection.as_ref())
                .is_some_and(|c| c.conn == conn);
            if !current {
                continue; // the stream ended; its heartbeats end with it
            }
            self.emit_framework(conn, heartbeat_event());
            // Kept on the subscription's own beat; a master that fell behind by more than
            // an interval sends one heartbeat, not each one it missed.
            let next = at + interval;
            let next = if next > now.mono {
                next
            } else {
                now.mono + interval
            };
            self.heartbeats.insert((next, conn), framework_id);
        }
    }

    /// Turns one allocation into offers, one per role, as Mesos does.
    fn make_offers(&mut self, now: Time, allocation: allocator::Allocation) {
        let allocator::Allocation {
            framework_id,
            agent_id,
            resources,
        } = allocation;
        let Some(agent) = self.agents.get(&agent_id) else {
            return;
        };
        let hostname = agent.hostname().to_string();
        let url = agent.url(self.config.https_only);
        let attributes = agent.info.attributes.clone();
        let domain = agent.info.domain.clone();
        let unavailability = self.maintenance.unavailability(agent);
        let executor_ids: Vec<v1::ExecutorId> = agent
            .executors
            .get(&framework_id)
            .map(|ids| ids.iter().map(|id| id.to_proto()).collect())
            .unwrap_or_default();
        let Some(framework) = self.frameworks.get(&framework_id) else {
            return;
        };
        let refinement = framework.reservation_refinement();
        let mut events = Vec::new();
        for (role, offered) in resources {
            if offered.is_empty() {
                continue;
            }
            let offer_id = self.new_offer_id();
            let wire_resources = if refinement {
                offered.clone().into_protos()
            } else {
                // The allocator never offers refined reservations to such frameworks.
                offered
                    .to_protos_in(crate::resources::ResourceFormat::PreReservationRefinement)
                    .unwrap_or_else(|_| offered.clone().into_protos())
            };
            let offer = v1::Offer {
                id: offer_id.to_proto(),
                framework_id: framework_id.to_proto(),
                agent_id: agent_id.to_proto(),
                hostname: hostname.clone(),
                url: Some(url.clone()),
                domain: domain.clone(),
                resources: wire_resources,
                attributes: attributes.clone(),
                executor_ids: executor_ids.clone(),
                unavailability,
                allocation_info: Some(v1::resource::AllocationInfo {
                    role: Some(role.clone()),
                }),
            };
            events.push(offer.clone());
            if let Some(agent) = self.agents.get_mut(&agent_id) {
                agent.offered += &offered;
                agent.offers.insert(offer_id.clone());
            }
            if let Some(framework) = self.frameworks.get_mut(&framework_id) {
                framework.offers.insert(offer_id.clone());
            }
            if let Some(timeout) = self.config.offer_timeout
                && let Some(at) = now.mono.checked_add(timeout)
            {
                self.offer_deadlines.push(Reverse(at));
            }
            self.offers.insert(
                offer_id,
                Offer {
                    offer,
                    resources: offered,
                    role,
                    created: now.mono,
                },
            );
        }
        if !events.is_empty() {
            let event = sched::Event {
                r#type: Some(sched::event::Type::Offers as i32),
                offers: Some(sched::event::Offers { offers: events }),
                ..Default::default()
            };
            self.send_to_framework(&framework_id, event);
        }
    }

    /// Removes an offer from the books and returns it (its resources are not yet recovered).
    fn take_offer(&mut self, offer_id: &str) -> Option<Offer> {
        let offer = self.offers.remove(offer_id)?;
        if let Some(agent) = self.agents.get_mut(&offer.offer.agent_id.value) {
            agent.offered -= &offer.resources;
            agent.offers.remove(offer_id);
        }
        if let Some(framework) = self.frameworks.get_mut(&offer.offer.framework_id.value) {
            framework.offers.remove(offer_id);
        }
        Some(offer)
    }

    /// Withdraws an offer: the framework gets RESCIND and the resources return to the pool,
    /// offered again at the next batch allocation (as Mesos's `recoverResources`).
    fn rescind_offer(&mut self, now: Time, offer_id: &str) {
        self.withdraw_offer(now, offer_id, None);
    }

    /// Withdraws an offer (RESCIND to its framework, its resources back in the allocator,
    /// kept from that framework for `refuse` when given: Mesos's `rescindOffer(offer,
    /// filters)`); false when there is no such offer.
    fn withdraw_offer(&mut self, now: Time, offer_id: &str, refuse: Option<Duration>) -> bool {
        let Some(offer) = self.take_offer(offer_id) else {
            return false;
        };
        let framework_id = offer.offer.framework_id.value.clone();
        let agent_id = offer.offer.agent_id.value.clone();
        self.allocator.recover_resources(
            now.mono,
            &framework_id,
            &agent_id,
            &offer.resources,
            refuse,
        );
        let event = sched::Event {
            r#type: Some(sched::event::Type::Rescind as i32),
            rescind: Some(sched::event::Rescind {
                offer_id: offer.offer.id,
            }),
            ..Default::default()
        };
        self.send_to_framework(&framework_id, event);
        true
    }

    fn expire_offers(&mut self, now: Time) {
        let Some(timeout) = self.config.offer_timeout else {
            return;
        };
        let expired: Vec<OfferId> = self
            .offers
            .iter()
            .filter(|(_, o)| now.mono.duration_since(o.created) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::info!(offer_id = %id, "rescinding offer after --offer_timeout");
            self.rescind_offer(now, &id);
        }
    }

    /// Sends a status update to the framework (dropped when it is disconnected).
    fn send_status(&mut self, framework_id: &str, status: v1::TaskStatus) {
        self.send_to_framework(framework_id, update_event(status));
    }

    fn emit_framework(&mut self, conn: ConnId, event: sched::Event) {
        self.emit(Effect::Framework {
            conn,
            event: Box::new(event),
        });
    }

    /// Emits an operator event if anyone listens; `build` runs only then.
    fn emit_operator(&mut self, build: impl FnOnce(&Master) -> v1::master::Event) {
        if self.operator_subscribed {
            let event = build(self);
            self.emit(Effect::Operator(Box::new(event)));
        }
    }

    fn emit_agent(&mut self, conn: ConnId, message: wire::master_message::Message) {
        let message = service::EncodedMessage::new(&wire::MasterMessage {
            message: Some(message),
        });
        self.emit(Effect::Agent { conn, message });
    }

    /// What a framework is told about a task it lost: `partition_aware` (TASK_DROPPED,
    /// TASK_GONE, TASK_UNREACHABLE ...) for PARTITION_AWARE frameworks, TASK_LOST for the
    /// others (reference §8.1).
    fn lost_state(&self, framework_id: &str, partition_aware: v1::TaskState) -> v1::TaskState {
        let aware = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.partition_aware());
        if aware {
            partition_aware
        } else {
            v1::TaskState::TaskLost
        }
    }

    /// Counts a task reaching a terminal state, for `/metrics/snapshot`.
    fn count_terminal(&mut self, state: v1::TaskState) {
        use v1::TaskState as S;
        let c = &mut self.counters;
        match state {
            S::TaskFinished => c.tasks_finished += 1,
            S::TaskFailed => c.tasks_failed += 1,
            S::TaskKilled => c.tasks_killed += 1,
            S::TaskLost => c.tasks_lost += 1,
            S::TaskError => c.tasks_error += 1,
            S::TaskDropped => c.tasks_dropped += 1,
            S::TaskGone | S::TaskGoneByOperator => c.tasks_gone += 1,
            _ => {}
        }
    }
}

/// Removes the entries of `deadlines` that are due at `now`; whether there were any.
fn pop_due(deadlines: &mut BTreeSet<(Instant, FrameworkId)>, now: Instant) -> bool {
    let mut due = false;
    while deadlines.first().is_some_and(|(at, _)| *at <= now) {
        deadlines.pop_first();
        due = true;
    }
    due
}

/// MasterInfo as Mesos fills it; `ip` is the IPv4 address in network byte order (MESOS-1201).
pub fn master_info(config: &Config, id: &str) -> v1::MasterInfo {
    use v1::master_info::capability::Type as Cap;
    let capabilities = [Cap::AgentUpdate, Cap::AgentDraining]
        .into_iter()
        .map(|t| v1::master_info::Capability {
            r#type: Some(t as i32),
        })
        .collect();
    v1::MasterInfo {
        id: id.to_string(),
        ip: u32::from_le_bytes(config.ip.octets()),
        port: u32::from(config.port),
        pid: Some(format!("master@{}:{}", config.ip, config.port)),
        hostname: Some(config.hostname.clone()),
        version: Some(MESOS_VERSION.to_string()),
        address: Some(v1::Address {
            hostname: Some(config.hostname.clone()),
            ip: Some(config.ip.to_string()),
            port: i32::from(config.port),
        }),
        domain: None,
        capabilities,
    }
}

/// A HEARTBEAT event.
fn heartbeat_event() -> sched::Event {
    sched::Event {
        r#type: Some(sched::event::Type::Heartbeat as i32),
        ..Default::default()
    }
}

/// An UPDATE event carrying `status`.
pub(crate) fn update_event(status: v1::TaskStatus) -> sched::Event {
    sched::Event {
        r#type: Some(sched::event::Type::Update as i32),
        update: Some(sched::event::Update { status }),
        ..Default::default()
    }
}

fn master_status(
    now: Time,
    task_id: &v1::TaskId,
    agent_id: Option<&v1::AgentId>,
    state: v1::TaskState,
    reason: v1::task_status::Reason,
    message: &str,
) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: task_id.clone(),
        state: state as i32,
        message: Some(message.to_string()),
        source: Some(v1::task_status::Source::Master as i32),
        reason: Some(reason as i32),
        agent_id: agent_id.cloned(),
        timestamp: Some(now.wall),
        ..Default::default()
    }
}
