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
//! Before the cluster starts it measures the machine's **floor**: how many processes a
//! second `posix_spawn` can start and reap here (two in flight, one per core), for
//! `/bin/true`, `/bin/sh -c true` and the `remesos` binary itself (`remesos --version`: what
//! exec'ing the large binary costs), with the CPU each costs (user + sys, getrusage of the
//! children and of this process), and `remesos-executor --version` when the lean executor
//! sits beside the cluster's binary (the agents then start it instead of `remesos executor`;
//! `REMESOS_BIN=<path>` runs another build's `remesos`, for A/B runs under one bench binary).
//! Each task execs the executor (`remesos-executor` or `remesos executor`) and
//! `/bin/sh -c true` (dash runs `true` as a builtin, so the command is no third exec), so
//! the floor in tasks/s is 1 / (the executor's cost + the shell's cost) per core, times the
//! two cores; the table prints it beside the measured rate.
//!
//! The CPU per task is user + sys of the `remesos local` process and its reaped children
//! (master, agents, executors and their shells: `/proc/<pid>/stat` utime + stime + cutime +
//! cstime) over the launching window, divided by the tasks; printed also split into the
//! cluster's own (utime + stime: master and agents) and its reaped children's (cutime +
//! cstime: executors and shells), with the children's minor page faults per task (a count,
//! which a loaded machine does not inflate as it does CPU time).
//!
//! `--serial N` then launches N more tasks one at a time (the next only after the previous
//! one is FINISHED) and reports ACCEPT -> TASK_RUNNING p50/p99: the launch path's latency
//! without queueing.
//!
//! `--phases` (with `--serial N`) turns on the launch path's phase lines
//! (`REMESOS_LOG=error,launch_phase=debug`: the agent's in the cluster's stderr, each
//! executor's in its sandbox's `stderr`, all `CLOCK_MONOTONIC` µs) and prints, for the
//! one-at-a-time tasks, each phase's p50 offset from the framework's ACCEPT and the p50 step
//! from the phase before: where the serial ACCEPT -> TASK_RUNNING goes.
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

/// Five consecutive free ports in 20000-32767 (the master's, then four agents'), starting
/// from one derived from this process's id.
fn cluster_ports() -> (u16, u16) {
    let start = 20_000 + (std::process::id() % 2_500) as u16 * 5;
    (0..2_500u16)
        .map(|i| 20_000 + (start - 20_000 + i * 5) % 12_500)
        .find(|p| (*p..p + 5).all(|q| std::net::TcpListener::bind(("127.0.0.1", q)).is_ok()))
        .map(|p| (p, p + 1))
        .expect("five free ports below the ephemeral range")
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

/// What one kind of process costs to start and reap: processes a second with two in flight
/// (one per core) and the CPU (user + sys) each costs, its parent's share included.
struct SpawnCost {
    per_s: f64,
    cpu_us: f64,
}

/// User + sys of `who` (RUSAGE_SELF or RUSAGE_CHILDREN) in microseconds.
fn rusage_us(who: i32) -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// Starts `argv` `n` times with `posix_spawn` (stdout and stderr to /dev/null), two in
/// flight, and reaps each. Runs before the cluster starts: `waitpid(-1)` reaps only these.
fn spawn_cost(argv: &[&str], n: usize) -> SpawnCost {
    use std::ffi::CString;
    let args: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
    let mut argp: Vec<*mut libc::c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argp.push(std::ptr::null_mut());
    let path_env = CString::new(format!(
        "PATH={}",
        std::env::var("PATH").unwrap_or_default()
    ))
    .unwrap();
    let envp = [path_env.as_ptr().cast_mut(), std::ptr::null_mut()];
    let null = c"/dev/null";
    // SAFETY: the file actions are initialised before use and destroyed after; every
    // pointer handed to posix_spawn (path, argv, envp) outlives the calls; waitpid writes
    // into a local.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        libc::posix_spawn_file_actions_init(&mut actions);
        for fd in [1, 2] {
            libc::posix_spawn_file_actions_addopen(
                &mut actions,
                fd,
                null.as_ptr(),
                libc::O_WRONLY,
                0,
            );
        }
        let cpu = rusage_us(libc::RUSAGE_CHILDREN) + rusage_us(libc::RUSAGE_SELF);
        let start = Instant::now();
        let (mut started, mut reaped) = (0, 0);
        while reaped < n {
            while started < n && started - reaped < 2 {
                let mut pid = 0;
                let rc = libc::posix_spawn(
                    &mut pid,
                    args[0].as_ptr(),
                    &actions,
                    std::ptr::null(),
                    argp.as_ptr(),
                    envp.as_ptr(),
                );
                assert_eq!(rc, 0, "posix_spawn {argv:?}");
                started += 1;
            }
            let mut status = 0;
            assert!(libc::waitpid(-1, &mut status, 0) > 0, "waitpid");
            assert_eq!(status, 0, "{argv:?} exited {status}");
            reaped += 1;
        }
        let wall = start.elapsed().as_secs_f64();
        let cpu = rusage_us(libc::RUSAGE_CHILDREN) + rusage_us(libc::RUSAGE_SELF) - cpu;
        libc::posix_spawn_file_actions_destroy(&mut actions);
        SpawnCost {
            per_s: n as f64 / wall,
            cpu_us: cpu / n as f64,
        }
    }
}

/// The `remesos` binary the cluster runs: `REMESOS_BIN` (an A/B of two builds under one
/// bench binary), else the one cargo built beside this bench.
fn cluster_binary() -> std::path::PathBuf {
    std::env::var_os("REMESOS_BIN")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_remesos").into())
}

/// The lean command executor beside the cluster's binary, which the agents then start
/// (their `--launcher_dir` defaults to that directory); `None`: `remesos executor`.
fn lean_executor() -> Option<std::path::PathBuf> {
    let lean = cluster_binary().with_file_name("remesos-executor");
    lean.is_file().then_some(lean)
}

/// The machine's floor: the processes' costs and the tasks/s they allow.
struct Floor {
    true_: SpawnCost,
    shell: SpawnCost,
    remesos: SpawnCost,
    /// `remesos-executor --version`, when the agents start it instead of `remesos executor`.
    lean: Option<SpawnCost>,
}

impl Floor {
    fn measure(n: usize) -> Floor {
        let binary = cluster_binary();
        let binary = binary.to_str().expect("a UTF-8 binary path");
        let lean = lean_executor();
        Floor {
            true_: spawn_cost(&["/bin/true"], n),
            shell: spawn_cost(&["/bin/sh", "-c", "true"], n),
            remesos: spawn_cost(&[binary, "--version"], n),
            lean: lean
                .map(|lean| spawn_cost(&[lean.to_str().expect("a UTF-8 path"), "--version"], n)),
        }
    }

    /// Tasks/s if a task cost nothing but exec'ing its executor (the binary the agents
    /// start) and its shell.
    fn tasks_per_s(&self) -> f64 {
        let executor = self.lean.as_ref().unwrap_or(&self.remesos);
        1.0 / (1.0 / executor.per_s + 1.0 / self.shell.per_s)
    }

    /// The issue's simple form: `/bin/true` spawns a second over three execs per task.
    fn naive_tasks_per_s(&self) -> f64 {
        self.true_.per_s / 3.0
    }

    fn print(&self) {
        println!("| floor: posix_spawn + waitpid, 2 in flight | processes/s | CPU µs each |");
        println!("|---|---:|---:|");
        for (name, cost) in [
            ("/bin/true", Some(&self.true_)),
            ("/bin/sh -c true", Some(&self.shell)),
            ("remesos --version", Some(&self.remesos)),
            ("remesos-executor --version", self.lean.as_ref()),
        ] {
            if let Some(cost) = cost {
                println!("| {name} | {:.0} | {:.0} |", cost.per_s, cost.cpu_us);
            }
        }
    }
}

/// A process's counters from `/proc/<pid>/stat`: its own CPU (user + sys of all its
/// threads: here the master and the agents), its reaped children's (the executors and
/// their shells), in seconds, and its reaped children's minor page faults.
#[derive(Clone, Copy, Default)]
struct Counters {
    own_s: f64,
    children_s: f64,
    children_faults: f64,
}

impl Counters {
    fn of(pid: u32) -> Counters {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or_default()
        };
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        // After the command's ')': cminflt 8 (field 11), utime, stime, cutime, cstime 11-14
        // (fields 14-17).
        Counters {
            own_s: (field(11) + field(12)) / ticks,
            children_s: (field(13) + field(14)) / ticks,
            children_faults: field(8),
        }
    }

    fn since(self, before: Counters) -> Counters {
        Counters {
            own_s: self.own_s - before.own_s,
            children_s: self.children_s - before.children_s,
            children_faults: self.children_faults - before.children_faults,
        }
    }

    fn total_s(self) -> f64 {
        self.own_s + self.children_s
    }
}

/// `CLOCK_MONOTONIC` in µs: the clock of the cluster's phase lines.
fn monotonic_us() -> u64 {
    remesos::common::time::monotonic_us()
}

/// Every `launch_phase` line (`<phase> <id> <µs>`) in `text`.
fn phase_lines(text: &str, out: &mut Vec<(String, String, u64)>) {
    for line in text.lines() {
        let Some((_, rest)) = line.split_once("launch_phase: ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        if let (Some(phase), Some(id), Some(Ok(us))) =
            (words.next(), words.next(), words.next().map(str::parse))
        {
            out.push((phase.to_string(), id.to_string(), us));
        }
    }
}

/// The phase lines of the cluster's stderr and of every sandbox's `stderr` under `dir`.
fn collect_phases(dir: &std::path::Path, out: &mut Vec<(String, String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_phases(&path, out);
        } else if kind.is_file()
            && path
                .file_name()
                .is_some_and(|n| n == "stderr" || n == "cluster.stderr")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            phase_lines(&text, out);
        }
    }
}

/// The phase table of the one-at-a-time tasks: each phase (first occurrence per task) as an
/// offset from that task's ACCEPT, p50 over the tasks, in the order of those p50s, with the
/// p50 of the step from the phase before it.
fn print_phases(serial: &[(String, u64, u64)], lines: &[(String, String, u64)]) {
    let mut offsets: HashMap<String, Vec<f64>> = HashMap::new();
    let mut steps: HashMap<(String, String), Vec<f64>> = HashMap::new();
    for (id, accept, seen) in serial {
        let mut mine: Vec<(String, u64)> = vec![("framework_accept_sent".into(), *accept)];
        for (phase, line_id, us) in lines {
            if line_id == id && !mine.iter().any(|(p, _)| p == phase) {
                mine.push((phase.clone(), *us));
            }
        }
        mine.push(("framework_running_received".into(), *seen));
        mine.sort_by_key(|(_, us)| *us);
        for pair in mine.windows(2) {
            steps
                .entry((pair[0].0.clone(), pair[1].0.clone()))
                .or_default()
                .push((pair[1].1 as f64 - pair[0].1 as f64) / 1000.0);
        }
        for (phase, us) in mine {
            offsets
                .entry(phase)
                .or_default()
                .push((us as f64 - *accept as f64) / 1000.0);
        }
    }
    let mut rows: Vec<(String, f64, usize)> = offsets
        .into_iter()
        .map(|(phase, mut v)| {
            v.sort_by(f64::total_cmp);
            (phase, percentile(&v, 0.5), v.len())
        })
        .collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!(
        "| phase (one at a time) | tasks | p50 ms since ACCEPT | p50 / mean ms since the phase before |"
    );
    println!("|---|---:|---:|---:|");
    let mut before: Option<String> = None;
    for (phase, p50, n) in &rows {
        let step = before
            .as_ref()
            .and_then(|b| steps.get(&(b.clone(), phase.clone())))
            .map(|v| {
                let mut v = v.clone();
                v.sort_by(f64::total_cmp);
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                format!("{:.2} / {mean:.2} ({} tasks)", percentile(&v, 0.5), v.len())
            })
            .unwrap_or_default();
        println!("| {phase} | {n} | {p50:.2} | {step} |");
        before = Some(phase.clone());
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `true` command task of `resources` on the offer's agent.
fn true_task(id: String, agent_id: &v1::AgentId, resources: &Resources) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.clone(),
        task_id: v1::TaskId { value: id },
        agent_id: agent_id.clone(),
        resources: resources.clone().into_protos(),
        command: Some(v1::CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Acknowledges `status` (when it carries a uuid) and returns its task id and state; a
/// terminal state other than FINISHED ends the bench.
async fn acknowledge(sub: &mut Subscription, status: v1::TaskStatus) -> (String, v1::TaskState) {
    let state = v1::TaskState::try_from(status.state).unwrap();
    if remesos::common::protocol::is_terminal(state) && state != v1::TaskState::TaskFinished {
        panic!(
            "task {} ended {state:?}: {:?}",
            status.task_id.value, status.message
        );
    }
    let task_id = status.task_id.value.clone();
    if let (Some(agent_id), Some(uuid)) = (status.agent_id, status.uuid) {
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
    (task_id, state)
}

/// What the launching phase measured.
struct Measured {
    elapsed: Duration,
    latency: Vec<f64>,
    requests: (f64, f64, f64),
    /// User + sys of the cluster and its reaped children over the launching window, s.
    cpu: Counters,
    load: String,
    serial: Vec<f64>,
    /// One-at-a-time tasks: id, ACCEPT sent and TASK_RUNNING received (monotonic µs).
    serial_times: Vec<(String, u64, u64)>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serial: usize = args
        .iter()
        .position(|a| a == "--serial")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(0);
    let total: usize = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || args[i - 1] != "--serial")
        .find_map(|(_, a)| a.parse().ok())
        .unwrap_or(10_000);
    let secure = args.iter().any(|a| a == "--secure");
    let phases = args.iter().any(|a| a == "--phases");
    let floor_spawns: usize = std::env::var("FLOOR_SPAWNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2_000);
    let load_before = load_average();
    let floor = Floor::measure(floor_spawns);
    if args.iter().any(|a| a == "--floor") {
        floor.print();
        println!(
            "floor: {:.0} tasks/s (executor + shell), {:.0} (/bin/true / 3); load {load_before}",
            floor.tasks_per_s(),
            floor.naive_tasks_per_s()
        );
        return;
    }
    let requests: usize = std::env::var("REQUESTS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2_000);
    let scheme = remesos::client::scheme();
    let tls = scheme == "https";
    // The master's port and the four agents' after it: below the kernel's ephemeral range
    // (32768-60999), where other processes' outgoing connections (a scale bench beside this
    // one opens thousands) cannot take them between this check and the cluster's bind.
    let (port, first_agent) = cluster_ports();
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
    let mut cluster = Command::new(cluster_binary());
    // cargo runs benches with its LD_LIBRARY_PATH (the toolchain's and the target's
    // directories), which every executor and shell would inherit and search on each exec
    // (~0.3 ms of CPU per exec here); no deployment has it, and the floor's spawns do not.
    cluster.env_remove("LD_LIBRARY_PATH");
    if phases {
        cluster
            .env("REMESOS_LOG", "error,launch_phase=debug")
            .stderr(std::fs::File::create(work_dir.join("cluster.stderr")).unwrap());
    }
    let mut cluster = cluster
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
        let cpu_before = Counters::of(pid);
        let mut held: Vec<v1::Offer> = Vec::new();
        while finished < total {
            let event = tokio::time::timeout(Duration::from_secs(60), sub.next_event())
                .await
                .expect("progress")
                .expect("event");
            if let Some(offers) = event.offers {
                for offer in offers.offers {
                    if launched == total {
                        // Kept for the one-at-a-time launches.
                        held.push(offer);
                        continue;
                    }
                    let now = Instant::now();
                    let available = Resources::from_protos(offer.resources.clone()).unwrap();
                    let fit = (available.cpus() as usize)
                        .min((available.mem() / 32.0) as usize)
                        .min(total - launched);
                    let tasks: Vec<v1::TaskInfo> = (0..fit)
                        .map(|i| {
                            let id = format!("t{}", launched + i);
                            offered_at.insert(id.clone(), now);
                            true_task(id, &offer.agent_id, &task_resources)
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
                let (task_id, state) = acknowledge(&mut sub, update.status).await;
                if state == v1::TaskState::TaskRunning
                    && let Some(at) = offered_at.get(&task_id)
                {
                    running_latency.push(at.elapsed().as_secs_f64() * 1000.0);
                }
                if state == v1::TaskState::TaskFinished {
                    finished += 1;
                }
            }
        }
        let elapsed = first_accept.map(|t| t.elapsed()).unwrap_or_default();
        // The last executors exit once their FINISHED is acknowledged; the agent reaps them
        // (their CPU and their shells' then count in the cluster's cutime + cstime).
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let cpu = Counters::of(pid).since(cpu_before);
        let load = load_average();
        // One at a time: ACCEPT of one task -> its TASK_RUNNING, the next after FINISHED.
        let mut serial_latency = Vec::new();
        let mut serial_times = Vec::new();
        let mut accept_us = 0;
        let mut current: Option<(String, Instant)> = None;
        let mut serial_done = 0usize;
        while serial_done < serial {
            if current.is_none()
                && let Some(offer) = held.pop()
            {
                let id = format!("s{serial_done}");
                let task = true_task(id.clone(), &offer.agent_id, &task_resources);
                let call = remesos::common::protocol::launch_call(
                    &offer,
                    vec![task],
                    Some(v1::Filters {
                        refuse_seconds: Some(0.0),
                    }),
                );
                current = Some((id, Instant::now()));
                accept_us = monotonic_us();
                sub.call(call).await.expect("accept");
                continue;
            }
            let event = tokio::time::timeout(Duration::from_secs(60), sub.next_event())
                .await
                .expect("progress")
                .expect("event");
            if let Some(offers) = event.offers {
                held.extend(offers.offers);
            }
            if let Some(update) = event.update {
                let seen_us = monotonic_us();
                let (task_id, state) = acknowledge(&mut sub, update.status).await;
                let Some((id, at)) = &current else { continue };
                if *id != task_id {
                    continue;
                }
                if state == v1::TaskState::TaskRunning {
                    serial_latency.push(at.elapsed().as_secs_f64() * 1000.0);
                    serial_times.push((id.clone(), accept_us, seen_us));
                }
                if state == v1::TaskState::TaskFinished {
                    serial_done += 1;
                    current = None;
                }
            }
        }
        serial_latency.sort_by(f64::total_cmp);
        running_latency.sort_by(f64::total_cmp);
        Measured {
            elapsed,
            latency: running_latency,
            requests,
            cpu,
            load,
            serial: serial_latency,
            serial_times,
        }
    });
    let Measured {
        elapsed,
        latency,
        requests: (request_p50, request_p99, request_mean),
        cpu,
        load,
        serial: serial_latency,
        serial_times,
    } = result;
    let hwm = vm_hwm_kb(pid);
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = cluster.wait();
    let mut lines = Vec::new();
    if phases {
        collect_phases(&work_dir, &mut lines);
        if let Ok(raw) = std::env::var("PHASES_RAW") {
            let text: String = lines
                .iter()
                .map(|(phase, id, us)| format!("{phase} {id} {us}\n"))
                .chain(serial_times.iter().map(|(id, a, r)| {
                    format!("framework_accept_sent {id} {a}\nframework_running_received {id} {r}\n")
                }))
                .collect();
            std::fs::write(raw, text).unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(&work_dir);
    let rate = total as f64 / elapsed.as_secs_f64();
    let cpu_per_task_us = cpu.total_s() * 1e6 / total as f64;
    floor.print();
    println!(
        "| tasks | wall s | tasks/s | floor tasks/s (executor + shell) | % of floor | floor (/bin/true / 3) | CPU µs/task | offer->RUNNING p50 ms | p99 ms | peak RSS master+4 agents MiB | load before / after |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    println!(
        "| {total} | {:.1} | {rate:.0} | {:.0} | {:.0} % | {:.0} | {cpu_per_task_us:.0} | {:.1} | {:.1} | {:.1} | {load_before} / {load} |",
        elapsed.as_secs_f64(),
        floor.tasks_per_s(),
        100.0 * rate / floor.tasks_per_s(),
        floor.naive_tasks_per_s(),
        percentile(&latency, 0.5),
        percentile(&latency, 0.99),
        hwm as f64 / 1024.0
    );
    println!(
        "| CPU µs/task: master + agents | executors + shells | minor faults/task: executors + shells |"
    );
    println!("|---:|---:|---:|");
    println!(
        "| {:.0} | {:.0} | {:.0} |",
        cpu.own_s * 1e6 / total as f64,
        cpu.children_s * 1e6 / total as f64,
        cpu.children_faults / total as f64
    );
    if serial > 0 {
        println!("| one at a time | ACCEPT->RUNNING p50 ms | p99 ms | max ms |");
        println!("|---:|---:|---:|---:|");
        println!(
            "| {serial} | {:.1} | {:.1} | {:.1} |",
            percentile(&serial_latency, 0.5),
            percentile(&serial_latency, 0.99),
            serial_latency.last().copied().unwrap_or_default()
        );
    }
    if phases {
        print_phases(&serial_times, &lines);
    }
    println!("| GET /master/state-summary | p50 µs | p99 µs | mean µs |");
    println!("|---:|---:|---:|---:|");
    println!("| {requests} | {request_p50:.0} | {request_p99:.0} | {request_mean:.0} |");
    println!(
        "RESULT {}",
        serde_json::json!({
            "secure": secure,
            "tls": tls,
            "tasks": total,
            "tasks_per_s": rate,
            "floor_tasks_per_s": floor.tasks_per_s(),
            "lean_executor": floor.lean.is_some(),
            "cpu_us_per_task": cpu_per_task_us,
            "cluster_cpu_us_per_task": cpu.own_s * 1e6 / total as f64,
            "executor_cpu_us_per_task": cpu.children_s * 1e6 / total as f64,
            "executor_faults_per_task": cpu.children_faults / total as f64,
            "running_p50_ms": percentile(&latency, 0.5),
            "serial": serial,
            "serial_running_p50_ms": percentile(&serial_latency, 0.5),
            "serial_running_p99_ms": percentile(&serial_latency, 0.99),
            "requests": requests,
            "request_p50_us": request_p50,
            "request_p99_us": request_p99,
            "request_mean_us": request_mean,
        })
    );
}
