//! Sandbox GC at scale (issue 16 item 1's figure): time for an agent to reclaim 10,000
//! terminated sandboxes, and the agent's CPU while doing it.
//!
//! Method: a real master and agent (the `remesos` binary). A checkpointing framework runs one
//! command task to TASK_FINISHED, so the agent's work_dir holds a real checkpoint (agent,
//! framework and executor infos, the run's `meta/` directory and sandbox). The agent is
//! stopped, and the executor gets `N` (default 10,000) more runs beside its latest one: each a
//! sandbox with `stdout`/`stderr` (1 KiB each) and a `meta/` run directory copied from the real
//! run, all last modified 8 days ago. Mesos keeps only an executor's latest run and garbage
//! collects the others; with the default `--gc_delay` (1 week) they are all due. The agent is
//! started again and polled (`/metrics/snapshot`, every 50 ms) until `gc/path_removals_succeeded`
//! counts all `2N` directories. Reported: wall time from the agent's start to the last
//! removal; the agent's CPU time (user + system, /proc/<pid>/stat) over that interval; that
//! as a share of one core; the load average at the start.
//!
//! `cargo bench -p remesos --bench gc [-- N]`. A last line `RESULT {json}` carries the
//! figures.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use remesos::client::Format;
use remesos::client::scheduler::Subscription;
use remesos::resources::Resources;
use remesos_proto::v1;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// User + system CPU seconds of `pid` (its threads included).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15; after the command's ')' they are 12th and 13th.
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / hz
}

fn agent(master: &str, port: u16, work_dir: &Path) -> Daemon {
    Daemon(
        Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["agent", &format!("--master={master}"), "--ip=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--work_dir={}", work_dir.display()))
            .args([
                "--resources=cpus:4;mem:2048",
                "--registration_backoff_factor=100ms",
                "--hostname=localhost",
                "--quiet",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start remesos agent"),
    )
}

async fn metrics(http: &remesos::client::HttpClient, agent: &str) -> Option<serde_json::Value> {
    let (status, body) = http
        .get(&format!("http://{agent}/metrics/snapshot"))
        .await
        .ok()?;
    (status == 200)
        .then(|| serde_json::from_slice(&body).ok())
        .flatten()
}

/// Runs one command task of a checkpointing framework to TASK_FINISHED.
async fn run_one_task(master: &str) {
    let mut sub = Subscription::subscribe(
        master,
        v1::scheduler::call::Subscribe {
            framework_info: v1::FrameworkInfo {
                user: String::new(),
                name: "gc-bench".into(),
                checkpoint: Some(true),
                ..Default::default()
            },
            ..Default::default()
        },
        Format::Protobuf,
    )
    .await
    .unwrap();
    let offer = loop {
        let event = sub.next_event().await.unwrap();
        if let Some(offers) = event.offers {
            break offers.offers[0].clone();
        }
    };
    let mut resources = Resources::parse("cpus:0.1;mem:32", "*").unwrap();
    resources.allocate(
        offer
            .allocation_info
            .as_ref()
            .and_then(|a| a.role.as_deref())
            .unwrap_or("*"),
    );
    let task = v1::TaskInfo {
        name: "gc".into(),
        task_id: v1::TaskId { value: "gc".into() },
        agent_id: offer.agent_id.clone(),
        resources: resources.into_protos(),
        command: Some(v1::CommandInfo {
            value: Some("echo done".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    sub.call(remesos::common::protocol::launch_call(
        &offer,
        vec![task],
        None,
    ))
    .await
    .unwrap();
    loop {
        let event = sub.next_event().await.unwrap();
        if let Some(update) = event.update {
            let status = update.status;
            if let Some(ack) = remesos::client::scheduler::acknowledge_call(&status) {
                sub.call(ack).await.unwrap();
            }
            if status.state == v1::TaskState::TaskFinished as i32 {
                return;
            }
            assert!(
                status.state != v1::TaskState::TaskFailed as i32
                    && status.state != v1::TaskState::TaskLost as i32,
                "{status:?}"
            );
        }
    }
}

/// The one executor's latest run: (sandbox, meta run directory).
fn latest_run(work_dir: &Path) -> (PathBuf, PathBuf) {
    let mut dirs = vec![work_dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.ends_with("executors/gc/runs") {
                found.push(path.join("latest"));
            } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(path);
            }
        }
    }
    let sandbox = found
        .iter()
        .find(|p| !p.to_string_lossy().contains("/meta/"))
        .expect("the task's sandbox");
    let meta = found
        .iter()
        .find(|p| p.to_string_lossy().contains("/meta/"))
        .expect("the task's meta run directory");
    (
        std::fs::canonicalize(sandbox).unwrap(),
        std::fs::canonicalize(meta).unwrap(),
    )
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn set_old(path: &Path, when: SystemTime) {
    let file = std::fs::File::open(path).unwrap();
    file.set_modified(when).unwrap();
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("remesos-gc-bench-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let work = dir.clone();
    runtime.block_on(async move {
        let dir = work;
        let http = remesos::client::HttpClient::default();
        let master_port = free_port();
        let master = format!("127.0.0.1:{master_port}");
        let _master = Daemon(
            Command::new(env!("CARGO_BIN_EXE_remesos"))
                .args(["master", "--ip=127.0.0.1", &format!("--port={master_port}")])
                .arg(format!("--work_dir={}", dir.join("master").display()))
                .args(["--allocation_interval=100ms", "--quiet"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start remesos master"),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(http.get(&format!("http://{master}/health")).await, Ok((200, _))) {
            assert!(Instant::now() < deadline, "the master did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let work_dir = dir.join("agent");
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let first = agent(&master, port, &work_dir);
        run_one_task(&master).await;
        // Let the executor end and the agent checkpoint it before stopping the agent.
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(first);

        let (sandbox, meta) = latest_run(&work_dir);
        let (runs, meta_runs) = (sandbox.parent().unwrap(), meta.parent().unwrap());
        let old = SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
        let made = Instant::now();
        let log = vec![b'x'; 1024];
        for i in 0..n {
            let id = format!("00000000-0000-4000-8000-{i:012}");
            let run = runs.join(&id);
            std::fs::create_dir_all(&run).unwrap();
            std::fs::write(run.join("stdout"), &log).unwrap();
            std::fs::write(run.join("stderr"), &log).unwrap();
            set_old(&run, old);
            let meta_run = meta_runs.join(&id);
            copy_tree(&meta, &meta_run);
            set_old(&meta_run, old);
        }
        eprintln!(
            "made {n} terminated runs ({} directories to collect) in {:.1} s",
            2 * n,
            made.elapsed().as_secs_f64()
        );

        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let started = Instant::now();
        let second = agent(&master, port, &work_dir);
        let pid = second.0.id();
        let target = (2 * n) as f64;
        let cpu;
        loop {
            if let Some(m) = metrics(&http, &address).await
                && m["gc/path_removals_succeeded"].as_f64().unwrap_or(0.0) >= target
            {
                cpu = cpu_seconds(pid);
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1800),
                "the agent did not reclaim the sandboxes in 30 minutes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let wall = started.elapsed().as_secs_f64();
        let left = std::fs::read_dir(runs).map(|d| d.count()).unwrap_or(0);
        println!(
            "sandboxes {n}, directories {}, wall {wall:.2} s, agent CPU {cpu:.2} s ({:.0}% of one core), runs left {left}, load at start {}",
            2 * n,
            100.0 * cpu / wall,
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
        println!(
            "RESULT {}",
            serde_json::json!({
                "sandboxes": n,
                "directories": 2 * n,
                "wall_s": wall,
                "agent_cpu_s": cpu,
                "runs_left": left,
                "load": load.trim(),
            })
        );
        drop(second);
    });
    let _ = std::fs::remove_dir_all(&dir);
}
