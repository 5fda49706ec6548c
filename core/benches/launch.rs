//! Task launch throughput through a real cluster: `remesos local` with 4 agents of 64 cpus,
//! one framework (the v1 scheduler client, protobuf) launching short command tasks (`true`)
//! under `remesos executor` as fast as offers allow.
//!
//! Reports tasks/s from the first ACCEPT to the last TASK_FINISHED, the offer -> TASK_RUNNING
//! latency (p50/p99), and the peak RSS of the `remesos local` process (master and agents
//! share it). `cargo bench -p remesos --bench launch [-- TASKS]` (default 10,000).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use remesos::client::Format;
use remesos::client::scheduler::Subscription;
use remesos::resources::Resources;
use remesos_proto::v1;
use v1::scheduler as sched;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let port = free_port();
    let first_agent = free_port();
    let work_dir = std::env::temp_dir().join(format!("remesos-launch-bench-{port}"));
    let mut cluster = Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args([
            "local",
            "--num_agents=4",
            &format!("--port={port}"),
            &format!("--first_agent_port={first_agent}"),
        ])
        .arg(format!("--work_dir={}", work_dir.display()))
        .args(["--resources=cpus:64;mem:65536;disk:65536", "--quiet"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start remesos local");
    let pid = cluster.id();
    let master = format!("127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async move {
        // Ready once the four agents have registered.
        let http = remesos::client::HttpClient::default();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, body)) = http.get(&format!("http://{master}/metrics/snapshot")).await
                && serde_json::from_slice::<serde_json::Value>(&body)
                    .is_ok_and(|m| m["master/slaves_active"] == 4.0)
            {
                break;
            }
            assert!(Instant::now() < deadline, "the cluster did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let info = v1::FrameworkInfo {
            user: String::new(),
            name: "launch-bench".into(),
            ..Default::default()
        };
        let mut sub = Subscription::subscribe(
            &master,
            sched::call::Subscribe {
                framework_info: info,
                ..Default::default()
            },
            Format::Protobuf,
        )
        .await
        .expect("subscribe");
        let mut launched = 0usize;
        let mut finished = 0usize;
        let mut offered_at: HashMap<String, Instant> = HashMap::new();
        let mut running_latency = Vec::new();
        let mut first_accept = None;
        let mut task_resources = Resources::parse("cpus:1;mem:32", "*").unwrap();
        task_resources.allocate("*");
        while finished < total {
            let event = tokio::time::timeout(Duration::from_secs(60), sub.next_event())
                .await
                .expect("progress")
                .expect("event");
            if let Some(offers) = event.offers {
                for offer in offers.offers {
                    let now = Instant::now();
                    let available = Resources::from_protos(offer.resources.clone()).unwrap();
                    let fit = (available.cpus() as usize)
                        .min((available.mem() / 32.0) as usize)
                        .min(total - launched);
                    let tasks: Vec<v1::TaskInfo> = (0..fit)
                        .map(|i| {
                            let id = format!("t{}", launched + i);
                            offered_at.insert(id.clone(), now);
                            v1::TaskInfo {
                                name: id.clone(),
                                task_id: v1::TaskId { value: id },
                                agent_id: offer.agent_id.clone(),
                                resources: task_resources.clone().into_protos(),
                                command: Some(v1::CommandInfo {
                                    value: Some("true".into()),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            }
                        })
                        .collect();
                    launched += tasks.len();
                    first_accept.get_or_insert(now);
                    let call = remesos::common::protocol::launch_call(
                        &offer,
                        tasks,
                        Some(v1::Filters {
                            refuse_seconds: Some(0.0),
                        }),
                    );
                    sub.call(call).await.expect("accept");
                }
            }
            if let Some(update) = event.update {
                let status = update.status;
                if status.state == v1::TaskState::TaskRunning as i32
                    && let Some(at) = offered_at.get(&status.task_id.value)
                {
                    running_latency.push(at.elapsed().as_secs_f64() * 1000.0);
                }
                if status.state == v1::TaskState::TaskFinished as i32 {
                    finished += 1;
                } else if remesos::common::protocol::is_terminal(
                    v1::TaskState::try_from(status.state).unwrap(),
                ) {
                    panic!(
                        "task {} ended {:?}: {:?}",
                        status.task_id.value, status.state, status.message
                    );
                }
                if let (Some(agent_id), Some(uuid)) = (status.agent_id.clone(), status.uuid.clone())
                {
                    let ack = sched::Call {
                        r#type: Some(sched::call::Type::Acknowledge as i32),
                        acknowledge: Some(sched::call::Acknowledge {
                            agent_id,
                            task_id: status.task_id,
                            uuid,
                        }),
                        ..Default::default()
                    };
                    sub.call(ack).await.expect("ack");
                }
            }
        }
        let elapsed = first_accept.map(|t| t.elapsed()).unwrap_or_default();
        running_latency.sort_by(f64::total_cmp);
        (elapsed, running_latency)
    });
    let (elapsed, latency) = result;
    let hwm = vm_hwm_kb(pid);
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = cluster.wait();
    let _ = std::fs::remove_dir_all(&work_dir);
    println!(
        "| tasks | wall s | tasks/s | offer->RUNNING p50 ms | p99 ms | peak RSS master+4 agents MiB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {total} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} |",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(&latency, 0.5),
        percentile(&latency, 0.99),
        hwm as f64 / 1024.0
    );
}
