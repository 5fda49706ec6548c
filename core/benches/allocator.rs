//! Allocator benchmark shaped like Mesos's `HierarchicalAllocator_BENCHMARK_Test.DeclineOffers`
//! (src/tests/hierarchical_allocator_tests.cpp; reference/mesos-contract.md §9, anchors §1b).
//!
//! Per configuration (agents × frameworks):
//! - every framework subscribes to role `*`;
//! - every agent has `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`, of which
//!   `cpus:16;mem:2014;disk:1024` plus 16 single ports are already used by framework
//!   `i % frameworks` (Mesos: "16 tasks; each is allocated 1 cpu and a random port");
//! - 10 rounds; the timed unit is one `allocate()` over all agents; after each round every
//!   framework declines everything it was offered with the default 5 s filter (filters
//!   accumulate), and simulated time advances by the 1 s allocation interval.
//!
//! With `--reserved` (issue 17's figure), a tenth of the agents also carry dynamic
//! reservations and a persistent volume: agent `i` with `i % 10 == 0` holds
//! `cpus:4;mem:512;disk:512` reserved (DYNAMIC, principal `ops`) for role `r<(i / 10) % 10>`
//! plus a 512 MB persistent volume in the same reservation, out of the same 24 cpus and 4 GB
//! of disk; every framework subscribes to `*` and to `r<i % 10>`, so each round sorts eleven
//! roles and offers reserved resources and volumes only to their role's frameworks.
//!
//! Each configuration runs in a child process so that its peak RSS (VmHWM) is its own.
//!
//! Run: `cargo bench -p remesos --bench allocator [-- [--reserved] 10000x1000 1000x1 ...]`
//! (or `ALLOC_BENCH=10000x1000,1000x1`). Without a selection the whole grid runs.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use remesos::allocator::{AgentSpec, Allocator, Capabilities, FrameworkSpec, Options};
use remesos::common::id::{AgentId, FrameworkId};
use remesos::resources::Resources;
use remesos_proto::v1;

const AGENTS: [usize; 3] = [1_000, 10_000, 50_000];
const FRAMEWORKS: [usize; 4] = [1, 100, 1_000, 6_000];
const ROUNDS: usize = 10;
const ALLOCATION_INTERVAL: Duration = Duration::from_secs(1);
const REFUSE: Duration = Duration::from_secs(5);

struct Report {
    setup: Duration,
    rounds: Vec<(Duration, usize)>,
    peak_rss_kb: u64,
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The reserved part of agent `i` under `--reserved` (module doc): scalars and a
/// persistent volume, all dynamically reserved for `role`.
fn reserved_part(role: &str, i: usize) -> Resources {
    let reservations = serde_json::json!([{"type": "DYNAMIC", "role": role, "principal": "ops"}]);
    let scalar = |name: &str, value: f64| {
        serde_json::json!({"name": name, "type": "SCALAR", "scalar": {"value": value},
                           "reservations": reservations})
    };
    let mut volume = scalar("disk", 512.0);
    volume["disk"] = serde_json::json!({
        "persistence": {"id": format!("vol-{i}"), "principal": "ops"},
        "volume": {"container_path": "data", "mode": "RW"}});
    let protos = [
        scalar("cpus", 4.0),
        scalar("mem", 512.0),
        scalar("disk", 512.0),
        volume,
    ]
    .iter()
    .map(|v| remesos_proto::json::from_value::<v1::Resource>(v).expect("a valid resource"))
    .collect::<Vec<_>>();
    Resources::from_protos(protos).expect("valid resources")
}

fn run(agents: usize, frameworks: usize, reserved: bool) -> Report {
    let setup_start = Instant::now();
    let mut allocator = Allocator::new(Options::default());
    let framework_ids: Vec<FrameworkId> = (0..frameworks)
        .map(|i| FrameworkId::new(format!("framework-{i:05}")).expect("a valid id"))
        .collect();
    for (i, id) in framework_ids.iter().enumerate() {
        let mut roles: std::collections::BTreeSet<String> = ["*".to_string()].into();
        if reserved {
            roles.insert(format!("r{}", i % 10));
        }
        let spec = FrameworkSpec {
            roles,
            capabilities: Capabilities {
                multi_role: true,
                ..Default::default()
            },
            ..Default::default()
        };
        allocator.add_framework(id, spec, &HashMap::new(), true);
    }
    let total = Resources::parse("cpus:24;mem:4096;disk:4096;ports:[31000-32000]", "*").unwrap();
    let ports: Vec<String> = (0..16)
        .map(|k| format!("{0}-{0}", 31000 + 60 * k))
        .collect();
    let used = Resources::parse(
        &format!("cpus:16;mem:2014;disk:1024;ports:[{}]", ports.join(",")),
        "*",
    )
    .unwrap()
    .allocated_to("*");
    let unreserved_part =
        Resources::parse("cpus:20;mem:3584;disk:3072;ports:[31000-32000]", "*").unwrap();
    for i in 0..agents {
        let total = if reserved && i % 10 == 0 {
            let mut protos = unreserved_part.clone().into_protos();
            protos.extend(reserved_part(&format!("r{}", (i / 10) % 10), i).into_protos());
            Resources::from_protos(protos).expect("valid resources")
        } else {
            total.clone()
        };
        let spec = AgentSpec {
            hostname: format!("agent-{i}"),
            total,
        };
        let used = HashMap::from([(framework_ids[i % frameworks].clone(), used.clone())]);
        let id = AgentId::new(format!("agent-{i:06}")).expect("a valid id");
        allocator.add_agent(&id, spec, &used);
    }
    let setup = setup_start.elapsed();

    let mut now = Instant::now();
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        now += ALLOCATION_INTERVAL;
        let start = Instant::now();
        let offers = allocator.allocate(now);
        let elapsed = start.elapsed();
        rounds.push((elapsed, offers.len()));
        // Every framework declines everything with the default filter.
        for offer in offers {
            for resources in offer.resources.values() {
                allocator.recover_resources(
                    now,
                    &offer.framework_id,
                    &offer.agent_id,
                    resources,
                    Some(REFUSE),
                );
            }
        }
    }
    Report {
        setup,
        rounds,
        peak_rss_kb: peak_rss_kb(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn parse_config(s: &str) -> Option<(usize, usize)> {
    let (a, f) = s.split_once('x')?;
    Some((
        a.replace('_', "").parse().ok()?,
        f.replace('_', "").parse().ok()?,
    ))
}

fn main() {
    // Child mode: run one configuration and print one machine-readable line.
    if let Ok(config) = std::env::var("ALLOC_BENCH_CHILD") {
        let (agents, frameworks) = parse_config(&config).expect("config");
        let reserved = std::env::var_os("ALLOC_BENCH_RESERVED").is_some();
        let report = run(agents, frameworks, reserved);
        let times: Vec<String> = report
            .rounds
            .iter()
            .map(|(d, n)| format!("{}:{}", d.as_nanos(), n))
            .collect();
        println!(
            "RESULT {} {} {}",
            report.setup.as_nanos(),
            report.peak_rss_kb,
            times.join(",")
        );
        return;
    }

    let mut selected: Vec<(usize, usize)> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .filter_map(|a| parse_config(&a))
        .collect();
    if let Ok(list) = std::env::var("ALLOC_BENCH") {
        selected.extend(list.split(',').filter_map(parse_config));
    }
    if selected.is_empty() {
        selected = AGENTS
            .iter()
            .flat_map(|&a| FRAMEWORKS.iter().map(move |&f| (a, f)))
            .collect();
    }

    println!(
        "DeclineOffers-shaped allocator benchmark: {ROUNDS} rounds, 5 s filters, 1 s between rounds"
    );
    println!(
        "{:>7} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "agents",
        "fws",
        "setup ms",
        "offers0",
        "offers9",
        "mean ms",
        "min ms",
        "max ms",
        "peak MiB"
    );
    let reserved = std::env::args().any(|a| a == "--reserved");
    if reserved {
        println!("a tenth of the agents carry dynamic reservations and a persistent volume");
    }
    let exe = std::env::current_exe().expect("current exe");
    for (agents, frameworks) in selected {
        let mut child = Command::new(&exe);
        child.env("ALLOC_BENCH_CHILD", format!("{agents}x{frameworks}"));
        if reserved {
            child.env("ALLOC_BENCH_RESERVED", "1");
        }
        let output = child.output().expect("run child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT ")) else {
            eprintln!(
                "{agents}x{frameworks} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            continue;
        };
        let parts: Vec<&str> = line.split_whitespace().collect();
        let setup = Duration::from_nanos(parts[1].parse().unwrap());
        let rss_kb: u64 = parts[2].parse().unwrap();
        let rounds: Vec<(Duration, usize)> = parts[3]
            .split(',')
            .map(|x| {
                let (d, n) = x.split_once(':').unwrap();
                (Duration::from_nanos(d.parse().unwrap()), n.parse().unwrap())
            })
            .collect();
        let total: Duration = rounds.iter().map(|r| r.0).sum();
        let mean = total / rounds.len() as u32;
        let min = rounds.iter().map(|r| r.0).min().unwrap();
        let max = rounds.iter().map(|r| r.0).max().unwrap();
        println!(
            "{:>7} {:>6} {:>9.1} {:>8} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>9.1}",
            agents,
            frameworks,
            ms(setup),
            rounds[0].1,
            rounds[rounds.len() - 1].1,
            ms(mean),
            ms(min),
            ms(max),
            rss_kb as f64 / 1024.0
        );
    }
}
