//! Mesos JSON of a big operator response, two ways (issue 19, step 1): the one-pass transcoder
//! behind `json::to_vec` against the reflection path it replaced (`json::to_vec_reflect`:
//! encode, decode into a prost-reflect `DynamicMessage`, build a `serde_json::Value`,
//! serialise). The message is a `GET_STATE` response shaped like the scale bench's: `N` running
//! tasks (default 100,000) of 10 frameworks on 5,000 agents, each with its resources, one
//! status with labels and a uuid.
//!
//! Run: `cargo bench -p remesos-proto --bench json [-- <tasks> [<repeats>]]`. Prints the best
//! and median time and CPU of each path over the repeats (default 5), the output size, and the
//! speed-up; checks both outputs are identical.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::time::{Duration, Instant};

use remesos_proto::json;
use remesos_proto::v1::{self, master};

fn scalar(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.to_owned(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        allocation_info: Some(v1::resource::AllocationInfo {
            role: Some("*".to_owned()),
        }),
        ..Default::default()
    }
}

fn task(i: usize) -> v1::Task {
    let framework_id = v1::FrameworkId {
        value: format!("fw-{:04}-0000", i % 10),
    };
    let agent_id = v1::AgentId {
        value: format!("a1b2c3d4-0000-0000-0000-000000000000-S{}", i % 5000),
    };
    let task_id = v1::TaskId {
        value: format!("task-{i}"),
    };
    let status = v1::TaskStatus {
        task_id: task_id.clone(),
        state: v1::TaskState::TaskRunning as i32,
        source: Some(v1::task_status::Source::Executor as i32),
        agent_id: Some(agent_id.clone()),
        timestamp: Some(1_765_000_000.123_456 + i as f64),
        uuid: Some((0..16).map(|b| (b * 7 + i) as u8).collect()),
        container_status: Some(v1::ContainerStatus {
            network_infos: vec![v1::NetworkInfo {
                ip_addresses: vec![v1::network_info::IpAddress {
                    ip_address: Some(format!("10.0.{}.{}", (i / 250) % 250, i % 250)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    v1::Task {
        name: format!("sleeper {i}"),
        task_id,
        framework_id,
        executor_id: None,
        agent_id,
        state: v1::TaskState::TaskRunning as i32,
        resources: vec![scalar("cpus", 0.01), scalar("mem", 1.0)],
        statuses: vec![status],
        status_update_state: Some(v1::TaskState::TaskRunning as i32),
        status_update_uuid: Some(vec![7; 16]),
        labels: Some(v1::Labels {
            labels: vec![v1::Label {
                key: "bench".to_owned(),
                value: Some("scale".to_owned()),
            }],
        }),
        ..Default::default()
    }
}

fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 (1-based, counting pid and comm): 11 and 12 here.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn measure(repeats: usize, f: impl Fn() -> Vec<u8>) -> (Vec<u8>, Vec<(Duration, Duration)>) {
    let mut out = Vec::new();
    let mut times = Vec::new();
    for _ in 0..repeats {
        let (c0, t0) = (cpu(), Instant::now());
        out = f();
        times.push((t0.elapsed(), cpu().saturating_sub(c0)));
    }
    times.sort();
    (out, times)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let tasks: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let repeats: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let response = master::Response {
        r#type: Some(master::response::Type::GetState as i32),
        get_state: Some(master::response::GetState {
            get_tasks: Some(master::response::GetTasks {
                tasks: (0..tasks).map(task).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (new, new_times) = measure(repeats, || json::to_vec(&response));
    let (old, old_times) = measure(repeats, || json::to_vec_reflect(&response));
    assert!(
        new == old,
        "the transcoder's output differs from the reflection path's"
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "GET_STATE JSON, {tasks} tasks, {} MB, {repeats} repeats; load average {}",
        new.len() / 1_000_000,
        load.trim()
    );
    for (name, times) in [("reflection", &old_times), ("transcoder", &new_times)] {
        let (best, best_cpu) = times[0];
        let (median, median_cpu) = times[times.len() / 2];
        println!(
            "  {name:<10} best {:>7.1} ms (cpu {:>5} ms)  median {:>7.1} ms (cpu {:>5} ms)",
            best.as_secs_f64() * 1e3,
            best_cpu.as_millis(),
            median.as_secs_f64() * 1e3,
            median_cpu.as_millis()
        );
    }
    println!(
        "  speed-up (median wall): {:.1}x",
        old_times[old_times.len() / 2].0.as_secs_f64()
            / new_times[new_times.len() / 2].0.as_secs_f64()
    );
}
