//! Benchmark of the JNI scheduler driver with Apache's 1.11.0 jar on a 2-agent
//! `remesos local`, beside the Rust v1 scheduler client on the same cluster (issue 19 item 3):
//! the cost of one JNI call into the driver; launchTasks -> TASK_FINISHED round trips per
//! second over TASKS command tasks running `true`, launched as offers arrive; then SERIAL
//! more tasks one at a time, each from launchTasks to its TASK_FINISHED. The Java framework
//! (benches/java/DriverBench.java) and the Rust one here follow the same policy (tasks of
//! `cpus:0.1;mem:16` as they fit, `refuse_seconds=0`, every update acknowledged, the serial
//! tasks on offers held since the burst). They run one after the other, Rust first, each as
//! a new framework.
//!
//! `cargo bench -p remesos-jni --bench jni_driver [-- TASKS [SERIAL]]` (1,000 and 100).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use remesos::client::Format;
use remesos::client::scheduler::{Caller, Subscription, acknowledge_call};
use remesos_proto::v1;
use support::*;
use tokio::task::JoinSet;
use v1::scheduler as sched;

/// What one framework measured: the burst's tasks, its seconds and the one-at-a-time round
/// trips in ms; the CPU (user + sys, s) of the framework's process and of the cluster
/// (master, agents, executors) while it ran.
struct Measured {
    tasks: f64,
    seconds: f64,
    serial_ms: Vec<f64>,
    framework_cpu: f64,
    cluster_cpu: f64,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.tasks / self.seconds
    }

    fn print(&self, who: &str) {
        let mut ms = self.serial_ms.clone();
        ms.sort_by(f64::total_cmp);
        println!(
            "{who}: launchTasks -> TASK_FINISHED: {} tasks in {:.2} s = {:.1} round trips/s; \
             one at a time ({}): p50 {:.1} / p99 {:.1} / max {:.1} ms",
            self.tasks,
            self.seconds,
            self.rate(),
            ms.len(),
            percentile(&ms, 0.50),
            percentile(&ms, 0.99),
            ms.last().copied().unwrap_or(f64::NAN),
        );
        let tasks = self.tasks + self.serial_ms.len() as f64;
        println!(
            "{who}: CPU per task: framework process {:.2} ms, cluster {:.2} ms ({} tasks)",
            1e3 * self.framework_cpu / tasks,
            1e3 * self.cluster_cpu / tasks,
            tasks
        );
    }
}

/// User + sys seconds of this process (`RUSAGE_SELF`) or of its reaped children
/// (`RUSAGE_CHILDREN`).
fn rusage_cpu(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes only into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// User + sys seconds of process `pid` and of its reaped children (`/proc/<pid>/stat`).
fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    // utime, stime, cutime, cstime: fields 14-17, i.e. 11-14 after the command's ')'.
    (11..=14)
        .filter_map(|i| fields.get(i)?.parse::<f64>().ok())
        .sum::<f64>()
        / ticks
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it with no flag: then a
    // short run keeps the suite quick.
    let bench = std::env::args().any(|a| a == "--bench");
    let mut numbers = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<usize>().ok());
    let tasks = numbers.next().unwrap_or(if bench { 1000 } else { 50 });
    let serial = numbers.next().unwrap_or(if bench { 100 } else { 5 });
    let (remesos, library) = artifacts();
    let jar = classpath("apache-1.11.0");
    let cp = compile_bench(&jar);
    let cluster = start_cluster(&remesos, 2);
    println!("load average before: {}", load_average());

    let (cluster_before, self_before) = (process_cpu(cluster.pid()), rusage_cpu(libc::RUSAGE_SELF));
    let mut rust = rust_framework(&cluster.master, tasks, serial);
    rust.framework_cpu = rusage_cpu(libc::RUSAGE_SELF) - self_before;
    rust.cluster_cpu = process_cpu(cluster.pid()) - cluster_before;
    println!("load average after the Rust client: {}", load_average());

    // The JVM's CPU: what this process's reaped children used while it ran (the cluster is
    // a child too, but reaped only at the end). It includes the JVM's start and the JNI
    // call loop (400,000 calls, ~1 µs each), which the Rust client has no counterpart of.
    let (cluster_before, children_before) = (
        process_cpu(cluster.pid()),
        rusage_cpu(libc::RUSAGE_CHILDREN),
    );
    let run = run_java_checked(
        &cp,
        "DriverBench",
        &[&cluster.master, &tasks.to_string(), &serial.to_string()],
        Some(&library),
        Duration::from_secs(1800),
        false,
        &[],
    );
    let java_cpu = rusage_cpu(libc::RUSAGE_CHILDREN) - children_before;
    let java_cluster_cpu = process_cpu(cluster.pid()) - cluster_before;
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    println!("load average after the Java framework: {}", load_average());
    let call = run.lines("JNI_CALL_NS ")[0]
        .trim_start_matches("JNI_CALL_NS ")
        .parse::<f64>()
        .expect("ns");
    let numbers = |prefix: &str| -> Vec<f64> {
        run.lines(prefix)[0]
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().expect("number"))
            .collect()
    };
    let trips = numbers("ROUND_TRIPS ");
    let java = Measured {
        tasks: trips[0],
        seconds: trips[1],
        serial_ms: if serial == 0 {
            Vec::new()
        } else {
            numbers("SERIAL_MS ")
        },
        framework_cpu: java_cpu,
        cluster_cpu: java_cluster_cpu,
    };
    println!("one JNI call into the driver (declineOffer(null, null)): {call:.0} ns");
    rust.print("Rust v1 client");
    java.print("Java (JNI) driver");
    let median = |m: &Measured| {
        let mut ms = m.serial_ms.clone();
        ms.sort_by(f64::total_cmp);
        percentile(&ms, 0.5)
    };
    println!(
        "Java / Rust: one-at-a-time round trip p50 {:.2}x; burst throughput {:.0} %",
        median(&java) / median(&rust),
        100.0 * java.rate() / rust.rate()
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `true` command task of `cpus:0.1;mem:16` on the offer's agent, allocated to the
/// offer's role (as DriverBench.java's `trueTask`).
fn true_task(id: String, offer: &v1::Offer) -> v1::TaskInfo {
    let allocation_info = offer.allocation_info.clone();
    let scalar = |name: &str, value: f64| v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        allocation_info: allocation_info.clone(),
        ..Default::default()
    };
    v1::TaskInfo {
        name: id.clone(),
        task_id: v1::TaskId { value: id },
        agent_id: offer.agent_id.clone(),
        resources: vec![scalar("cpus", 0.1), scalar("mem", 16.0)],
        command: Some(v1::CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn amount(offer: &v1::Offer, name: &str) -> f64 {
    offer
        .resources
        .iter()
        .filter(|r| r.name == name)
        .filter_map(|r| r.scalar.as_ref())
        .map(|s| s.value)
        .sum()
}

/// Sends `call` without waiting for its answer, as the Java driver's natives enqueue and
/// return; `calls` holds it until it is answered.
fn send(calls: &mut JoinSet<()>, caller: &Caller, call: sched::Call) {
    let caller = caller.clone();
    calls.spawn(async move {
        if let Err(e) = caller.call(call).await {
            panic!("call failed: {e}");
        }
    });
}

fn launch(calls: &mut JoinSet<()>, caller: &Caller, offer: &v1::Offer, tasks: Vec<v1::TaskInfo>) {
    let call = remesos::common::protocol::launch_call(
        offer,
        tasks,
        Some(v1::Filters {
            refuse_seconds: Some(0.0),
        }),
    );
    send(calls, caller, call);
}

/// The one-at-a-time phase: offers held since the burst, the task in flight and when it
/// was launched, and the round trips measured so far (ms).
#[derive(Default)]
struct Serial {
    held: Vec<v1::Offer>,
    current: Option<(String, Instant)>,
    ms: Vec<f64>,
}

impl Serial {
    /// Launches the next task, `s<n>`, on a held offer (or, with none held, when the next
    /// offer comes); nothing while one is in flight.
    fn launch_next(&mut self, calls: &mut JoinSet<()>, caller: &Caller) {
        if self.current.is_some() {
            return;
        }
        let Some(offer) = self.held.pop() else { return };
        let id = format!("s{}", self.ms.len());
        self.current = Some((id.clone(), Instant::now()));
        launch(calls, caller, &offer, vec![true_task(id, &offer)]);
    }

    /// Whether `task_id` was the task in flight; if so its round trip is recorded.
    fn finished(&mut self, task_id: &str) -> bool {
        match self.current.take_if(|(id, _)| id == task_id) {
            Some((_, at)) => {
                self.ms.push(at.elapsed().as_secs_f64() * 1e3);
                true
            }
            None => false,
        }
    }
}

/// The Rust v1 client (protobuf) running DriverBench.java's three phases.
fn rust_framework(master: &str, total: usize, serial: usize) -> Measured {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let subscribe = sched::call::Subscribe {
            // The user Apache's driver fills in for DriverBench.java's empty one, so that
            // both frameworks' tasks run as the same user.
            framework_info: v1::FrameworkInfo {
                user: remesos::client::driver::current_user(),
                name: "DriverBench (Rust)".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut sub = Subscription::subscribe(master, subscribe, Format::Protobuf)
            .await
            .expect("subscribe");
        let caller = sub.caller();
        let mut calls = JoinSet::new();
        let (mut launched, mut finished) = (0usize, 0usize);
        let mut first_launch = None;
        let mut burst = None;
        let mut one_at_a_time = Serial::default();
        while one_at_a_time.ms.len() < serial || burst.is_none() {
            let event = tokio::time::timeout(Duration::from_secs(120), sub.next_event())
                .await
                .expect("progress")
                .expect("event");
            while let Some(answered) = calls.try_join_next() {
                answered.expect("call");
            }
            if let Some(offers) = event.offers {
                for offer in offers.offers {
                    if launched == total {
                        one_at_a_time.held.push(offer);
                        continue;
                    }
                    let (mut cpus, mut mem) = (amount(&offer, "cpus"), amount(&offer, "mem"));
                    let mut tasks = Vec::new();
                    while launched < total && cpus >= 0.1 && mem >= 16.0 {
                        tasks.push(true_task(format!("t{launched}"), &offer));
                        launched += 1;
                        cpus -= 0.1;
                        mem -= 16.0;
                    }
                    if !tasks.is_empty() {
                        first_launch.get_or_insert_with(Instant::now);
                    }
                    launch(&mut calls, &caller, &offer, tasks);
                }
                if burst.is_some() {
                    one_at_a_time.launch_next(&mut calls, &caller);
                }
            }
            let Some(update) = event.update else { continue };
            let status = update.status;
            let state = v1::TaskState::try_from(status.state).expect("state");
            if let Some(ack) = acknowledge_call(&status) {
                send(&mut calls, &caller, ack);
            }
            match state {
                v1::TaskState::TaskStarting | v1::TaskState::TaskRunning => {}
                v1::TaskState::TaskFinished => {
                    if one_at_a_time.finished(&status.task_id.value) {
                        one_at_a_time.launch_next(&mut calls, &caller);
                        continue;
                    }
                    finished += 1;
                    if finished == total {
                        burst = first_launch.map(|t: Instant| t.elapsed());
                        one_at_a_time.launch_next(&mut calls, &caller);
                    }
                }
                other => panic!(
                    "task {} ended {other:?}: {:?}",
                    status.task_id.value, status.message
                ),
            }
        }
        // Every call answered (the last acknowledgements), then TEARDOWN ends the framework
        // (its held offers go back).
        while let Some(answered) = calls.join_next().await {
            answered.expect("call");
        }
        let _ = caller
            .call(sched::Call {
                r#type: Some(sched::call::Type::Teardown as i32),
                ..Default::default()
            })
            .await;
        Measured {
            tasks: total as f64,
            seconds: burst.expect("burst ended").as_secs_f64(),
            serial_ms: one_at_a_time.ms,
            framework_cpu: 0.0,
            cluster_cpu: 0.0,
        }
    })
}

fn compile_bench(jar: &[std::path::PathBuf]) -> String {
    let out = std::env::temp_dir().join(format!("remesos-driver-bench-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("bench classes dir");
    let cp = std::env::join_paths(jar).expect("class path");
    let source = repo_root().join("jni-driver/benches/java/DriverBench.java");
    let status = std::process::Command::new("javac")
        .args(["-nowarn", "-d"])
        .arg(&out)
        .arg("-cp")
        .arg(&cp)
        .arg(&source)
        .status()
        .expect("javac");
    assert!(status.success(), "javac DriverBench failed");
    let mut all = vec![out];
    all.extend(jar.iter().cloned());
    std::env::join_paths(all)
        .expect("class path")
        .into_string()
        .expect("utf-8")
}
