//! `/metrics/snapshot` and GET_METRICS: Mesos's metric names (reference §6) over the state.

use std::collections::BTreeMap;

use remesos_proto::v1;

use super::Master;
use crate::resources::Resources;

impl Master {
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
        let mut counts: BTreeMap<i32, f64> = BTreeMap::new();
        for f in self.frameworks.values() {
            for t in f.tasks.values() {
                *counts.entry(t.state).or_default() += 1.0;
            }
            *counts.entry(S::TaskUnreachable as i32).or_default() +=
                f.unreachable_tasks.len() as f64;
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
