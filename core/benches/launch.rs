//! Task launch throughput through a real cluster: `remesos local` with 4 agents of 64 cpus,
//! one framework (the v1 scheduler client, protobuf) launching short command tasks (`true`)
//! under `remesos executor` as fast as offers allow.
//!
//! Reports tasks/s from the first ACCEPT to the last TASK_FINISHED, the offer -> TASK_RUNNING
//! latency (p50/p99), and the peak RSS of the `remesos local` process (master and agents
//! share it). `cargo bench -p remesos --bench launch [-- TASKS] [--secure]` (default 10,000).
//!
//! Before launching it measures an allocator-free request: `REQUESTS` (2,000) sequential GETs
//! of `/master/state-summary` on one kept-alive connection (p50/p99/mean).
//!
//! `--secure` turns on Mesos's authentication (`--authenticate_frameworks`,
//! `--authenticate_http_frameworks`, `--authenticate_http_readonly`,
//! `--authenticate_http_readwrite`, a `--credentials` file) and the framework and the requests
//! present a credential; TLS comes from the `LIBPROCESS_SSL_*` environment, which the cluster
//! inherits, as does this client (`remesos::client::scheme`). bench/security.sh runs
//! both and reports the ratio. A last line `RESULT {json}` carries the figures.
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

/// Sequential GETs of an allocator-free endpoint: (p50, p99, mean) in microseconds.
async fn request_latency(
    http: &remesos::client::HttpClient,
    url: &str,
    headers: &[(&str, &str)],
    requests: usize,
) -> (f64, f64, f64) {
    let mut micros = Vec::with_capacity(requests);
    for _ in 0..requests {
        let start = Instant::now();
        let (status, _) = http.get_with(url, headers).await.expect("request");
        assert_eq!(status, 200, "{url}");
        micros.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let mean = micros.iter().sum::<f64>() / micros.len().max(1) as f64;
    micros.sort_by(f64::total_cmp);
    (percentile(&micros, 0.5), percentile(&micros, 0.99), mean)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let secure = args.iter().any(|a| a == "--secure");
    let requests: usize = std::env::var("REQUESTS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2_000);
    let scheme = remesos::client::scheme();
    let tls = scheme == "https";
    let port = free_port();
    let first_agent = free_port();
    let work_dir = std::env::temp_dir().join(format!("remesos-launch-bench-{port}"));
    std::fs::create_dir_all(&work_dir).unwrap();
    let credential = remesos::client::Credential::new("bench", "bench-secret").unwrap();
    let mut authentication = Vec::new();
    if secure {
        let credentials = work_dir.join("credentials.json");
        std::fs::write(
            &credentials,
            r#"{"credentials":[{"principal":"bench","secret":"bench-secret"}]}"#,
        )
        .unwrap();
        authentication = vec![
            "--authenticate_frameworks".to_string(),
            "--authenticate_http_frameworks".into(),
            "--http_framework_authenticators=basic".into(),
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
            format!("--credentials={}", credentials.display()),
        ];
    }
    let identity = remesos::client::Identity::framework(secure.then(|| credential.clone()));
    let authorization = secure.then(|| credential.authorization());
    let mut cluster = Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args([
            "local",
            "--num_agents=4",
            &format!("--port={port}"),
            &format!("--first_agent_port={first_agent}"),
        ])
        .arg(format!("--work_dir={}", work_dir.display()))
        .args(["--resources=cpus:64;mem:65536;disk:65536", "--quiet"])
        .args(&authentication)
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
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|a| ("Authorization", a.as_str()))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, body)) = http
                .get_with(&format!("{scheme}://{master}/metrics/snapshot"), &headers)
                .await
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
        let summary = format!("{scheme}://{master}/master/state-summary");
        let requests = request_latency(&http, &summary, &headers, requests).await;
        let mut sub = Subscription::subscribe_as(
            &master,
            sched::call::Subscribe {
                framework_info: info,
                ..Default::default()
            },
            Format::Protobuf,
            &identity,
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
        (elapsed, running_latency, requests)
    });
    let (elapsed, latency, (request_p50, request_p99, request_mean)) = result;
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
    println!("| GET /master/state-summary | p50 µs | p99 µs | mean µs |");
    println!("|---:|---:|---:|---:|");
    println!("| {requests} | {request_p50:.0} | {request_p99:.0} | {request_mean:.0} |");
    println!(
        "RESULT {}",
        serde_json::json!({
            "secure": secure,
            "tls": tls,
            "tasks": total,
            "tasks_per_s": total as f64 / elapsed.as_secs_f64(),
            "running_p50_ms": percentile(&latency, 0.5),
            "requests": requests,
            "request_p50_us": request_p50,
            "request_p99_us": request_p99,
            "request_mean_us": request_mean,
        })
    );
}
