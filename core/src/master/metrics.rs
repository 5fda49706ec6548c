//! `/metrics/snapshot` and GET_METRICS: Mesos's metric names (reference §6) over the state;
//! and the master's [`Histograms`], which Mesos lacks, served beside them on `/metrics`
//! (`common::metrics` writes the exposition).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use remesos_proto::v1;

use super::Master;
use crate::common::metrics::{Exposition, Histogram, HistogramVec};
use crate::common::percent_encode;
use crate::resources::Resources;

/// What the master measures that Mesos does not: latency histograms (seconds) and the
/// registry's failed writes. Shared (`Arc`) by the master, its runtime and its HTTP
/// handlers; every field is atomic, so observing takes no lock and the master's loop never
/// waits for a scrape.
#[derive(Debug)]
pub struct Histograms {
    /// One allocation round (`Master::allocate_if_requested`): the allocator's run and the
    /// offers made from it.
    pub allocation_round: Histogram,
    /// From an offer's creation to the ACCEPT that uses it (by the master's `now`s).
    pub offer_accept: Histogram,
    /// From the ACCEPT that launched a task to the first TASK_RUNNING the master hears of.
    pub launch_to_running: Histogram,
    /// From a registry operation's submission to its outcome (queueing, batching, the
    /// store's write and its retries), measured by the runtime.
    pub registry_write: Histogram,
    /// Registry operations whose write failed.
    pub registry_write_failures: AtomicU64,
    /// Time to the response head of HTTP requests, by endpoint (route templates: the
    /// canonical paths of `http::routing`; anything else is `other`). gRPC is left out:
    /// the agents' sessions are streams that last as long as the agents.
    pub http: HistogramVec,
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            allocation_round: Histogram::latency(),
            offer_accept: Histogram::latency(),
            launch_to_running: Histogram::latency(),
            registry_write: Histogram::latency(),
            registry_write_failures: AtomicU64::new(0),
            http: HistogramVec::new("endpoint", super::http::endpoint_templates()),
        }
    }
}

impl Histograms {
    /// Writes the histograms and counters after Mesos's metrics.
    pub fn expose(&self, e: &mut Exposition) {
        e.histogram(
            "remesos_master_allocation_round_seconds",
            "Duration of one allocation round",
            &self.allocation_round,
        );
        e.histogram(
            "remesos_master_offer_accept_seconds",
            "From an offer's creation to the ACCEPT that uses it",
            &self.offer_accept,
        );
        e.histogram(
            "remesos_master_task_launch_to_running_seconds",
            "From the ACCEPT that launched a task to its first TASK_RUNNING at the master",
            &self.launch_to_running,
        );
        e.histogram(
            "remesos_master_registry_write_seconds",
            "From a registry operation's submission to its outcome",
            &self.registry_write,
        );
        e.counter(
            "remesos_master_registry_write_failures",
            "Registry operations whose write failed",
            self.registry_write_failures.load(Relaxed) as f64,
        );
        e.histogram_vec(
            "remesos_http_request_duration_seconds",
            "Time to the response head of HTTP requests, by endpoint",
            &self.http,
        );
    }

    /// A registry operation's outcome after `took`.
    pub fn registry_written(&self, took: Duration, ok: bool) {
        self.registry_write.observe(took);
        if !ok {
            self.registry_write_failures.fetch_add(1, Relaxed);
        }
    }
}

impl Master {
    /// The gauges `/metrics` adds to Mesos's (their keys are their Prometheus names):
    /// `remesos_master_oldest_offer_age_seconds`, how long the oldest outstanding offer
    /// has been waiting for an answer (0 with none), which the alert on offers outstanding
    /// too long reads (deploy/prometheus/alerts.yml).
    pub fn prometheus_gauges(&self, now: crate::common::time::Time) -> Vec<(String, f64)> {
        let oldest = self
            .offers
            .values()
            .map(|o| now.mono.saturating_duration_since(o.created))
            .max()
            .unwrap_or_default();
        vec![(
            "remesos_master_oldest_offer_age_seconds".into(),
            oldest.as_secs_f64(),
        )]
    }

    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: f64| {
            m.insert(k.to_string(), v);
        };
        put("master/elected", 1.0);
        put(
            "master/uptime_secs",
            (crate::master::runtime::now().wall - self.start_time).max(0.0),
        );

        let mut total = Resources::default();
        let mut used = Resources::default();
        for a in self.agents.values() {
            total += &a.total;
            used += &a.used_total();
            used += &a.offered;
        }
        for name in ["cpus", "mem", "disk", "gpus"] {
            let t = total.scalar(name);
            let u = used.scalar(name);
            put(&format!("master/{name}_total"), t);
            put(&format!("master/{name}_used"), u);
            put(
                &format!("master/{name}_percent"),
                if t > 0.0 { u / t } else { 0.0 },
            );
        }

        let active_agents = self.agents.values().filter(|a| a.active).count() as f64;
        let connected_agents = self.agents.values().filter(|a| a.conn.is_some()).count() as f64;
        put("master/slaves_active", active_agents);
        put(
            "master/slaves_inactive",
            self.agents.len() as f64 - active_agents,
        );
        put("master/slaves_connected", connected_agents);
        put(
            "master/slaves_disconnected",
            self.agents.len() as f64 - connected_agents,
        );
        put(
            "master/slaves_unreachable",
            self.unreachable_agents.len() as f64,
        );

        let active = self.frameworks.values().filter(|f| f.active).count() as f64;
        let connected = self.frameworks.values().filter(|f| f.connected()).count() as f64;
        put("master/frameworks_active", active);
        put(
            "master/frameworks_inactive",
            self.frameworks.len() as f64 - active,
        );
        put("master/frameworks_connected", connected);
        put(
            "master/frameworks_disconnected",
            self.frameworks.len() as f64 - connected,
        );
        put("master/outstanding_offers", self.offers.len() as f64);

        use v1::TaskState as S;
        // One pass over the tasks: each framework's counts by state (its unreachable tasks
        // included) give its own gauges (`src/master/metrics.cpp` `FrameworkMetrics`:
        // `subscribed` and one per active task state, under the framework's URL-encoded name
        // and its id) and add up to the master's.
        let mut counts: BTreeMap<i32, f64> = BTreeMap::new();
        for f in self.frameworks.values() {
            let mut own: BTreeMap<i32, f64> = BTreeMap::new();
            for t in f.tasks.values() {
                *own.entry(t.state).or_default() += 1.0;
            }
            *own.entry(S::TaskUnreachable as i32).or_default() += f.unreachable_tasks.len() as f64;
            let prefix = format!(
                "master/frameworks/{}/{}",
                percent_encode(&f.info.name),
                f.id
            );
            put(
                &format!("{prefix}/subscribed"),
                if f.connected() { 1.0 } else { 0.0 },
            );
            for state in ACTIVE_STATES {
                let name = state.as_str_name().to_ascii_lowercase();
                put(
                    &format!("{prefix}/tasks/active/{name}"),
                    own.get(&(state as i32)).copied().unwrap_or(0.0),
                );
            }
            for (state, n) in own {
                *counts.entry(state).or_default() += n;
            }
        }
        let count = |s: S| counts.get(&(s as i32)).copied().unwrap_or(0.0);
        put("master/tasks_staging", count(S::TaskStaging));
        put("master/tasks_starting", count(S::TaskStarting));
        put("master/tasks_running", count(S::TaskRunning));
        put("master/tasks_killing", count(S::TaskKilling));
        put("master/tasks_unreachable", count(S::TaskUnreachable));
        let c = &self.counters;
        put("master/tasks_finished", c.tasks_finished as f64);
        put("master/tasks_failed", c.tasks_failed as f64);
        put("master/tasks_killed", c.tasks_killed as f64);
        put("master/tasks_lost", c.tasks_lost as f64);
        put("master/tasks_error", c.tasks_error as f64);
        put("master/tasks_dropped", c.tasks_dropped as f64);
        put("master/tasks_gone", c.tasks_gone as f64);
        put("master/slave_registrations", c.slave_registrations as f64);
        put(
            "master/slave_reregistrations",
            c.slave_reregistrations as f64,
        );
        put("master/slave_removals", c.slave_removals as f64);
        put(
            "master/slave_unreachable_scheduled",
            c.slave_unreachable_scheduled as f64,
        );
        put(
            "master/operator_event_stream_subscribers",
            c.operator_event_stream_subscribers as f64,
        );
        put("master/valid_status_updates", c.valid_status_updates as f64);
        put(
            "master/invalid_status_updates",
            c.invalid_status_updates as f64,
        );
        put(
            "master/valid_status_update_acknowledgements",
            c.valid_status_update_acknowledgements as f64,
        );
        put(
            "master/invalid_status_update_acknowledgements",
            c.invalid_status_update_acknowledgements as f64,
        );
        put(
            "master/valid_framework_to_executor_messages",
            c.valid_framework_to_executor_messages as f64,
        );
        put(
            "master/invalid_framework_to_executor_messages",
            c.invalid_framework_to_executor_messages as f64,
        );
        put(
            "master/valid_executor_to_framework_messages",
            c.valid_executor_to_framework_messages as f64,
        );
        put(
            "master/invalid_executor_to_framework_messages",
            c.invalid_executor_to_framework_messages as f64,
        );
        put("master/dropped_messages", c.dropped_messages as f64);
        put(
            "master/messages_decline_offers",
            c.messages_decline_offers as f64,
        );
        put(
            "master/messages_launch_tasks",
            c.messages_launch_tasks as f64,
        );
        put("master/messages_kill_task", c.messages_kill_task as f64);
        put(
            "master/messages_reconcile_tasks",
            c.messages_reconcile_tasks as f64,
        );
        put(
            "master/messages_revive_offers",
            c.messages_revive_offers as f64,
        );
        put(
            "master/messages_suppress_offers",
            c.messages_suppress_offers as f64,
        );
        put("allocator/mesos/allocation_runs", c.allocation_runs as f64);
        put(
            "allocator/mesos/allocation_run_ms",
            c.allocation_run_ms_last,
        );
        m
    }
}

/// The task states Mesos's `FrameworkMetrics` keeps a `tasks/active/<state>` gauge for.
const ACTIVE_STATES: [v1::TaskState; 5] = [
    v1::TaskState::TaskStaging,
    v1::TaskState::TaskStarting,
    v1::TaskState::TaskRunning,
    v1::TaskState::TaskKilling,
    v1::TaskState::TaskUnreachable,
];
