//! C1M-style scale harness (issue 19 item 1): one real master, thousands of simulated
//! agents, a few frameworks, launching until a million tasks run.
//!
//! `cargo bench -p remesos --bench scale -- [AGENTS] [FRAMEWORKS] [TASKS] [--delay_ms=D]
//! [--per_offer=K] [--failover] [--idle_frameworks=N] [--ui[=TABS]]` (defaults 5,000 agents, 10 frameworks, 1,000,000 tasks;
//! a small run: `-- 500 10 50000`); `-- --sizes` prints the inline sizes of the messages
//! the master queues and keeps.
//!
//! * The master is a separate `remesos master` process (HTTP + gRPC, `--registry=
//!   replicated_log` in a temporary work dir), so that its own CPU (user + sys from
//!   `/proc/<pid>/stat`) and RSS are measured apart from the simulation, which shares the
//!   cores with it.
//! * The agents live in this process, one gRPC session each on the real agent protocol
//!   (`AgentService.Session`): they register, answer pings, and answer every RunTask with
//!   TASK_STARTING then TASK_RUNNING after `--delay_ms` (default 10) and keep the task
//!   running. After a broken session they reregister with the tasks they run, as a real
//!   agent does after a master failover: the `Reregister` is sent from bytes each agent
//!   appends a task's record to as the task launches (`SimAgent::tasks_wire`), the bytes
//!   prost writes for the message built field by field (checked at every start,
//!   `check_reregister_bytes`), so that the harness's CPU after a failover is not spent
//!   building a million `Task`s the master could decode from the wire anyway.
//! * The frameworks use the real v1 scheduler API (protobuf over HTTP, the crate's
//!   `Subscription`): each accepts its offers with as many `cpus:1;mem:1` tasks as fit (at
//!   most `--per_offer` per offer if given) until its share of TASKS was launched, and
//!   acknowledges every update. Calls are sent concurrently (16 in flight per framework).
//!
//! Reported: launch throughput (first ACCEPT -> last TASK_RUNNING seen by a framework) and
//! ACCEPT -> TASK_RUNNING p50/p99; the master's CPU per launched task (the primary figure);
//! master RSS and CPU at 10 % / 50 % / 100 % of TASKS; the allocator's round time at
//! TASKS running (`/metrics/snapshot`); time, size and master peak RSS to serve
//! `/master/state`, GET_STATE and GET_TASKS, with the latency of a `/health` probe and
//! the allocation rounds run meanwhile; the idle cost per agent and per framework (with
//! `--idle_frameworks=N`, N frameworks subscribed with their role suppressed, before the
//! launching ones); with
//! `--failover`, a master restart (kill -9, same registry) until every agent reregistered
//! and every framework resubscribed.
//!
//! With `--ui` (issue 18's figures), once TASKS run the dumps are skipped and the web UI is
//! measured in headless Chromium (Debian's `chromium` and `chromium-driver`, driven as
//! core/tests/webui.rs drives them): the overview page and then the tasks page, each loaded
//! fresh, with the Performance API's `first-contentful-paint` and the page's own "full
//! data" mark (`<body data-loaded>`, set when a view was drawn from the first SUBSCRIBE
//! snapshot), both from navigation start; then TABS (default 10) browser sessions stay open
//! on the tasks page, and the master's CPU (user + sys, /proc) over 60 s and its RSS are
//! reported beside its CPU over the same time with no page open.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use remesos::client::scheduler::{Caller, Subscription};
use remesos::client::{Format, HttpClient};
use remesos::master::service::EncodedMessage;
use remesos::resources::Resources;
use remesos_proto::internal as wire;
use remesos_proto::v1;
use remesos_proto::v1::scheduler as sched;
use wire::agent_message::Message as FromAgent;
use wire::master_message::Message as ToAgent;

#[path = "../tests/support/browser.rs"]
mod browser;

/// Calls one framework keeps in flight at once (accepts, declines, acknowledgements).
const CALLS_IN_FLIGHT: usize = 16;

struct Config {
    agents: usize,
    frameworks: usize,
    tasks: usize,
    delay: Duration,
    per_offer: usize,
    failover: bool,
    /// Issue 19 item 4: this many suppressed frameworks measured idle (`--idle_frameworks=N`).
    idle_frameworks: usize,
    /// `--ui[=TABS]`: the web UI's figures with TABS sessions on the tasks page (0: off).
    ui_tabs: usize,
}

impl Config {
    fn parse() -> Config {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let positional: Vec<usize> = args
            .iter()
            .filter(|a| !a.starts_with("--"))
            .filter_map(|a| a.parse().ok())
            .collect();
        let flag = |name: &str| {
            args.iter()
                .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_string))
                .and_then(|v| v.parse::<u64>().ok())
        };
        Config {
            agents: positional.first().copied().unwrap_or(5_000),
            frameworks: positional.get(1).copied().unwrap_or(10),
            tasks: positional.get(2).copied().unwrap_or(1_000_000),
            delay: Duration::from_millis(flag("delay_ms").unwrap_or(10)),
            per_offer: flag("per_offer").unwrap_or(0) as usize,
            failover: args.iter().any(|a| a == "--failover"),
            idle_frameworks: args
                .iter()
                .find_map(|a| a.strip_prefix("--idle_frameworks="))
                .map_or(0, |n| n.parse().expect("--idle_frameworks=N")),
            ui_tabs: if args.iter().any(|a| a == "--ui") {
                10
            } else {
                flag("ui").unwrap_or(0) as usize
            },
        }
    }

    /// Task slots per agent: an even share of TASKS plus one spare, so that offers keep
    /// flowing (and allocation rounds keep running) once every task runs.
    fn slots(&self) -> usize {
        self.tasks.div_ceil(self.agents) + 1
    }
}

/// What the simulation shares with the main task.
#[derive(Default)]
struct Shared {
    registered: AtomicUsize,
    reregistered: AtomicUsize,
    subscribed: AtomicUsize,
    running: AtomicUsize,
    ended: AtomicUsize,
    go: AtomicBool,
    first_accept: Mutex<Option<Instant>>,
    last_running: Mutex<Option<Instant>>,
    /// ACCEPT sent -> TASK_RUNNING received, milliseconds.
    latency_ms: Mutex<Vec<f32>>,
    /// When framework 0 received offers (for gaps between allocation rounds).
    offers_at: Mutex<Vec<Instant>>,
}

/// CPU seconds (user + sys) and memory of a process, from /proc.
#[derive(Clone, Copy, Default)]
struct ProcSample {
    cpu_s: f64,
    rss_mib: f64,
    hwm_mib: f64,
}

fn sample(pid: u32) -> ProcSample {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis start at field 3 (state); utime and
    // stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_s = (fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0)) as f64 / ticks;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    ProcSample {
        cpu_s,
        rss_mib: kib("VmRSS:") / 1024.0,
        hwm_mib: kib("VmHWM:") / 1024.0,
    }
}

/// Resets the peak RSS (VmHWM) of our own child to its current RSS (proc(5) clear_refs).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn pct(sorted: &[f32], p: f64) -> f32 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

struct MasterProcess {
    child: std::process::Child,
    args: Vec<String>,
    log: std::path::PathBuf,
}

impl MasterProcess {
    fn start(port: u16, dir: &std::path::Path) -> MasterProcess {
        let args = vec![
            "master".to_string(),
            "--ip=127.0.0.1".into(),
            "--hostname=127.0.0.1".into(),
            format!("--port={port}"),
            format!("--work_dir={}", dir.display()),
            "--registry=replicated_log".into(),
            "--agent_reregister_timeout=10mins".into(),
            "--logging_level=WARNING".into(),
        ];
        let log = dir.join("master.log");
        let child = Self::spawn(&args, &log);
        MasterProcess { child, args, log }
    }

    fn spawn(args: &[String], log: &std::path::Path) -> std::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(args)
            // The line saying how long the actor took each state dump (master/runtime.rs).
            .env("REMESOS_LOG", "warn,dump_hold=debug")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start remesos master")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// kill -9 and start again on the same port and registry.
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(&self.args, &self.log);
    }
}

impl Drop for MasterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Simulated agents

/// An `AgentMessage` in its protobuf encoding, as a simulated agent sends it: the master's
/// pass-through [`EncodedMessage`] (as a [`prost::Message`] it writes its bytes as they
/// are). A reregistration is sent from bytes the agent kept up to date while its tasks
/// launched (`SimAgent::tasks_wire`), not from a message built (and a million `Task`s
/// allocated) after the failover.
type Outbound = EncodedMessage;

/// `message` as an [`Outbound`].
fn outbound(message: FromAgent) -> Outbound {
    let message = wire::AgentMessage {
        message: Some(message),
    };
    EncodedMessage::from_bytes(message.encode_to_vec().into())
}

/// Writes a length-delimited field's key and length.
fn field_head(tag: u32, len: usize, buf: &mut Vec<u8>) {
    prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, buf);
    prost::encoding::encode_varint(len as u64, buf);
}

struct SimAgent {
    index: usize,
    master: String,
    info: v1::AgentInfo,
    /// The tasks it runs as `Reregister.tasks` (field 6) records, each appended when the
    /// task launched: exactly the bytes prost writes for those fields.
    tasks_wire: Vec<u8>,
    frameworks: HashMap<String, v1::FrameworkInfo>,
    /// `Task.resources` (field 7 records) of every task it runs (all alike).
    resources_wire: Vec<u8>,
    delay: Duration,
    updates: u64,
}

impl SimAgent {
    fn new(
        index: usize,
        master: String,
        info: v1::AgentInfo,
        task_resources: &[v1::Resource],
        delay: Duration,
    ) -> Self {
        let mut resources_wire = Vec::new();
        for r in task_resources {
            prost::encoding::message::encode(7, r, &mut resources_wire);
        }
        SimAgent {
            index,
            master,
            info,
            tasks_wire: Vec::new(),
            frameworks: HashMap::new(),
            resources_wire,
            delay,
            updates: 0,
        }
    }

    /// A running task as the agent reports it, without its resources (field 7, the last
    /// field it sets: [`SimAgent::push_task`] appends them already encoded).
    fn task_head(&self, framework: &str, task_id: &str) -> v1::Task {
        v1::Task {
            name: task_id.to_string(),
            task_id: v1::TaskId {
                value: task_id.to_string(),
            },
            framework_id: v1::FrameworkId {
                value: framework.to_string(),
            },
            agent_id: self.info.id.clone().unwrap_or_default(),
            state: v1::TaskState::TaskRunning as i32,
            ..Default::default()
        }
    }

    /// Records a launched task in [`SimAgent::tasks_wire`].
    fn push_task(&mut self, framework: &str, task_id: &str) {
        let head = self.task_head(framework, task_id);
        let len = head.encoded_len() + self.resources_wire.len();
        field_head(6, len, &mut self.tasks_wire);
        head.encode_raw(&mut self.tasks_wire);
        self.tasks_wire.extend_from_slice(&self.resources_wire);
    }

    /// The session's first message: Register, or (with an id) Reregister with every task it
    /// runs, written from [`SimAgent::tasks_wire`] in prost's field order (1, 2, 4, then the
    /// tasks, then the frameworks, 7): the bytes prost writes for the whole message
    /// (`check_reregister_bytes`).
    fn hello(&self) -> Outbound {
        let version = Some(remesos::common::version::MESOS_VERSION.to_string());
        let endpoint = Some(format!("127.0.0.1:{}", 1 + self.index % 60_000));
        if self.info.id.is_none() {
            return outbound(FromAgent::Register(wire::Register {
                agent_info: self.info.clone(),
                version,
                endpoint,
                ..Default::default()
            }));
        }
        let head = wire::Reregister {
            agent_info: self.info.clone(),
            version,
            endpoint,
            ..Default::default()
        };
        // The frameworks (field 7) are written one by one: a second `Reregister` would
        // write its required `agent_info` again.
        let frameworks: Vec<&v1::FrameworkInfo> = self.frameworks.values().collect();
        let tail: usize = frameworks
            .iter()
            .map(|f| prost::encoding::message::encoded_len(7, *f))
            .sum();
        let len = head.encoded_len() + self.tasks_wire.len() + tail;
        let mut buf = Vec::with_capacity(len + 16);
        field_head(2, len, &mut buf);
        head.encode_raw(&mut buf);
        buf.extend_from_slice(&self.tasks_wire);
        for f in frameworks {
            prost::encoding::message::encode(7, f, &mut buf);
        }
        EncodedMessage::from_bytes(buf.into())
    }

    fn status(&mut self, framework: &str, task_id: &str, state: v1::TaskState) -> Outbound {
        self.updates += 1;
        let mut uuid = [0u8; 16];
        uuid[..8].copy_from_slice(&(self.index as u64).to_be_bytes());
        uuid[8..].copy_from_slice(&self.updates.to_be_bytes());
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        outbound(FromAgent::StatusUpdate(wire::StatusUpdate {
            framework_id: v1::FrameworkId {
                value: framework.to_string(),
            },
            status: v1::TaskStatus {
                task_id: v1::TaskId {
                    value: task_id.to_string(),
                },
                state: state as i32,
                source: Some(v1::task_status::Source::Executor as i32),
                agent_id: self.info.id.clone(),
                timestamp: Some(timestamp),
                uuid: Some(uuid.to_vec()),
                ..Default::default()
            },
            latest_state: Some(state as i32),
        }))
    }

    /// Sessions with the master, forever: reconnects after a broken one.
    async fn run(mut self, shared: Arc<Shared>) {
        loop {
            self.session(&shared).await;
            let jitter = (self.index % 100) as u64 * 5;
            tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
        }
    }

    async fn session(&mut self, shared: &Shared) {
        let Ok(endpoint) =
            tonic::transport::Endpoint::from_shared(format!("http://{}", self.master))
        else {
            return;
        };
        let Ok(channel) = endpoint.connect().await else {
            return;
        };
        // `AgentService.Session` as the generated client calls it, with a codec that sends
        // [`Outbound`] bytes as they are.
        let mut client = tonic::client::Grpc::new(channel);
        if client.ready().await.is_err() {
            return;
        }
        // The session's first message (Register or Reregister) is queued before it opens.
        let (tx, rx) = mpsc::channel::<Outbound>(1024);
        if tx.try_send(self.hello()).is_err() {
            return;
        }
        let codec = tonic_prost::ProstCodec::<Outbound, wire::MasterMessage>::default();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/remesos.internal.AgentService/Session",
        );
        let mut inbound = match client
            .streaming(tonic::Request::new(ReceiverStream::new(rx)), path, codec)
            .await
        {
            Ok(response) => response.into_inner(),
            Err(_) => return,
        };
        while let Some(Ok(message)) = inbound.next().await {
            match message.message {
                Some(ToAgent::Registered(r)) => {
                    self.info.id = Some(r.agent_id);
                    shared.registered.fetch_add(1, Ordering::Relaxed);
                }
                Some(ToAgent::Reregistered(_)) => {
                    shared.reregistered.fetch_add(1, Ordering::Relaxed);
                }
                Some(ToAgent::Ping(_)) => {
                    let _ = tx.try_send(outbound(FromAgent::Pong(wire::Pong {})));
                }
                Some(ToAgent::RunTask(run)) => {
                    let framework = run.framework.id.clone().unwrap_or_default().value;
                    let task_id = run.task.task_id.value;
                    self.frameworks
                        .entry(framework.clone())
                        .or_insert(run.framework);
                    let updates = [
                        self.status(&framework, &task_id, v1::TaskState::TaskStarting),
                        self.status(&framework, &task_id, v1::TaskState::TaskRunning),
                    ];
                    self.push_task(&framework, &task_id);
                    let tx = tx.clone();
                    let delay = self.delay;
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        for update in updates {
                            let _ = tx.send(update).await;
                        }
                    });
                }
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Frameworks

struct SimFramework {
    index: usize,
    master: String,
    quota: usize,
    per_offer: usize,
    launched: usize,
    accepted_at: Vec<Option<Instant>>,
    id: Option<v1::FrameworkId>,
    task_resources: Vec<v1::Resource>,
    calls: Arc<Semaphore>,
}

impl SimFramework {
    fn info(&self) -> v1::FrameworkInfo {
        v1::FrameworkInfo {
            user: "bench".into(),
            name: format!("scale-{}", self.index),
            id: self.id.clone(),
            checkpoint: Some(true),
            failover_timeout: Some(3600.0),
            ..Default::default()
        }
    }

    /// Sends `call` without holding up the event loop (at most CALLS_IN_FLIGHT at once).
    async fn send(&self, caller: &Caller, call: sched::Call) {
        let permit = self.calls.clone().acquire_owned().await.expect("open");
        let caller = caller.clone();
        tokio::spawn(async move {
            let _ = caller.call(call).await;
            drop(permit);
        });
    }

    async fn run(mut self, shared: Arc<Shared>) {
        loop {
            let subscribe = sched::call::Subscribe {
                framework_info: self.info(),
                ..Default::default()
            };
            let Ok(mut sub) =
                Subscription::subscribe(&self.master, subscribe, Format::Protobuf).await
            else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            self.id = Some(sub.framework_id.clone());
            shared.subscribed.fetch_add(1, Ordering::Relaxed);
            let caller = sub.caller();
            let mut revived = shared.go.load(Ordering::Relaxed);
            while let Ok(event) = sub.next_event().await {
                let go = shared.go.load(Ordering::Relaxed);
                if go && !revived {
                    revived = true;
                    let revive = sched::Call {
                        r#type: Some(sched::call::Type::Revive as i32),
                        ..Default::default()
                    };
                    self.send(&caller, revive).await;
                }
                if let Some(offers) = event.offers {
                    self.offers(&caller, offers.offers, go, &shared).await;
                }
                if let Some(update) = event.update {
                    self.update(&caller, update.status, &shared).await;
                }
            }
        }
    }

    async fn offers(&mut self, caller: &Caller, offers: Vec<v1::Offer>, go: bool, shared: &Shared) {
        if self.index == 0 && self.launched >= self.quota {
            shared.offers_at.lock().unwrap().push(Instant::now());
        }
        let mut declined = Vec::new();
        for offer in offers {
            let available = Resources::from_protos(offer.resources.clone()).unwrap_or_default();
            let mut fit =
                (available.cpus().min(available.mem()) as usize).min(self.quota - self.launched);
            if self.per_offer > 0 {
                fit = fit.min(self.per_offer);
            }
            if !go || fit == 0 {
                declined.push(offer.id);
                continue;
            }
            let now = Instant::now();
            let tasks = (self.launched..self.launched + fit)
                .map(|n| {
                    self.accepted_at[n] = Some(now);
                    let id = format!("f{}-{n}", self.index);
                    v1::TaskInfo {
                        name: id.clone(),
                        task_id: v1::TaskId { value: id },
                        agent_id: offer.agent_id.clone(),
                        resources: self.task_resources.clone(),
                        command: Some(v1::CommandInfo {
                            value: Some("sleep 1000000".into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }
                })
                .collect();
            self.launched += fit;
            shared.first_accept.lock().unwrap().get_or_insert(now);
            let call = remesos::common::protocol::launch_call(
                &offer,
                tasks,
                Some(v1::Filters {
                    refuse_seconds: Some(0.0),
                }),
            );
            self.send(caller, call).await;
        }
        if !declined.is_empty() {
            // Before the start: out of the way for good (REVIVE clears it); after: one
            // second, so the spare slots come back and allocation rounds keep running.
            let refuse = if go { 1.0 } else { 3600.0 };
            let decline = sched::Call {
                r#type: Some(sched::call::Type::Decline as i32),
                decline: Some(sched::call::Decline {
                    offer_ids: declined,
                    filters: Some(v1::Filters {
                        refuse_seconds: Some(refuse),
                    }),
                }),
                ..Default::default()
            };
            self.send(caller, decline).await;
        }
    }

    async fn update(&mut self, caller: &Caller, status: v1::TaskStatus, shared: &Shared) {
        let state = v1::TaskState::try_from(status.state).unwrap_or(v1::TaskState::TaskLost);
        if state == v1::TaskState::TaskRunning {
            let n = status
                .task_id
                .value
                .rsplit_once('-')
                .and_then(|(_, n)| n.parse::<usize>().ok());
            if let Some(at) = n.and_then(|n| self.accepted_at.get_mut(n)?.take()) {
                let now = Instant::now();
                shared
                    .latency_ms
                    .lock()
                    .unwrap()
                    .push((now - at).as_secs_f32() * 1000.0);
                shared.running.fetch_add(1, Ordering::Relaxed);
                *shared.last_running.lock().unwrap() = Some(now);
            }
        } else if remesos::common::protocol::is_terminal(state)
            && shared.ended.fetch_add(1, Ordering::Relaxed) < 5
        {
            eprintln!(
                "  task {} ended {state:?}: {:?}",
                status.task_id.value, status.message
            );
        }
        if let Some(ack) = remesos::client::scheduler::acknowledge_call(&status) {
            self.send(caller, ack).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Measurements

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

async fn snapshot(http: &HttpClient, master: &str) -> serde_json::Value {
    match http.get(&format!("http://{master}/metrics/snapshot")).await {
        Ok((200, body)) => serde_json::from_slice(&body).unwrap_or_default(),
        _ => serde_json::Value::Null,
    }
}

/// Whether `GET /health` on `addr` answers 200 within 200 ms, over a plain blocking
/// socket (HTTP/1.0), independent of this process's runtime.
fn health_answers(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(sock) = addr.parse::<std::net::SocketAddr>() else {
        return false;
    };
    let limit = Duration::from_millis(200);
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&sock, limit) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(limit));
    let _ = stream.set_write_timeout(Some(limit));
    let request = format!("GET /health HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.ends_with(b" 200")
}

/// One state dump: wall time, bytes, and the master's peak RSS growth while serving it; a
/// `/health` probe every 10 ms beside it gives the worst latency of a small request, and
/// framework 0's offers the longest gap between allocation rounds.
struct Dump {
    name: &'static str,
    seconds: f64,
    bytes: usize,
    peak_growth_mib: f64,
    probe_max_ms: f64,
    allocation_runs: f64,
    offer_gap_s: f64,
    /// How long the master's actor took the dump (its `dump_hold` log line), ms.
    hold_ms: f64,
}

/// The last `dump_hold` line of the master's log for `name`: the actor's hold, in ms.
fn actor_hold_ms(log: &std::path::Path, name: &str) -> f64 {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let dump = format!("dump=\"{name}\"");
    text.lines()
        .rev()
        .filter(|l| l.contains(&dump))
        .find_map(|l| {
            let at = l.find("held_us=")? + "held_us=".len();
            let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |us| us / 1000.0)
}

async fn dump(
    http: &HttpClient,
    master: &str,
    log: &std::path::Path,
    pid: u32,
    shared: &Shared,
    name: &'static str,
) -> Dump {
    let before = snapshot(http, master).await;
    reset_peak(pid);
    let base = sample(pid).rss_mib;
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let http = http.clone();
        let stop = stop.clone();
        let url = format!("http://{master}/health");
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let _ = http.get(&url).await;
                worst = worst.max(t.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            worst
        })
    };
    // The dump is read by curl, another process, so that this process's frameworks (whose
    // offers give the gap below) do not share a runtime with the 360 MB being received.
    let mut curl = tokio::process::Command::new("curl");
    curl.args(["-s", "-o", "/dev/null", "-w", "%{size_download}"]);
    match name {
        "/master/state" => {
            curl.arg(format!("http://{master}/master/state"));
        }
        _ => {
            let kind = if name == "GET_STATE" {
                v1::master::call::Type::GetState
            } else {
                v1::master::call::Type::GetTasks
            };
            let call = v1::master::Call {
                r#type: Some(kind as i32),
                ..Default::default()
            };
            let file =
                std::env::temp_dir().join(format!("remesos-scale-{}.call", std::process::id()));
            std::fs::write(&file, call.encode_to_vec()).unwrap();
            curl.args([
                "-X",
                "POST",
                "-H",
                "Content-Type: application/x-protobuf",
                "-H",
                "Accept: application/x-protobuf",
                "--data-binary",
            ])
            .arg(format!("@{}", file.display()))
            .arg(format!("http://{master}/api/v1"));
        }
    }
    let started = Instant::now();
    let bytes = match curl.output().await {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0),
        Err(e) => {
            eprintln!("curl: {e}");
            0
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let finished = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let probe_max = probe.await.unwrap_or_default();
    let after = snapshot(http, master).await;
    let runs = |m: &serde_json::Value| m["allocator/mesos/allocation_runs"].as_f64().unwrap_or(0.0);
    let offer_gap_s = {
        let at = shared.offers_at.lock().unwrap();
        let mut during: Vec<Instant> = at
            .iter()
            .copied()
            .filter(|t| *t >= started && *t <= finished)
            .collect();
        during.insert(0, started);
        during.push(finished);
        during
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .fold(0.0, f64::max)
    };
    Dump {
        name,
        seconds,
        bytes,
        peak_growth_mib: sample(pid).hwm_mib - base,
        probe_max_ms: probe_max.as_secs_f64() * 1000.0,
        allocation_runs: runs(&after) - runs(&before),
        offer_gap_s,
        hold_ms: actor_hold_ms(log, name),
    }
}

fn print_allocator(m: &serde_json::Value) {
    if let Some(map) = m.as_object() {
        for (k, v) in map {
            if k.starts_with("allocator/mesos/allocation_run") {
                println!("  {k} = {v}");
            }
        }
    }
}

async fn run(cfg: Config) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let dir = std::env::temp_dir().join(format!("remesos-scale-bench-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut master_process = MasterProcess::start(port, &dir);
    let master = format!("127.0.0.1:{port}");
    let http = HttpClient::default();
    let started = Instant::now();
    while !matches!(
        http.get(&format!("http://{master}/health")).await,
        Ok((200, _))
    ) {
        assert!(started.elapsed() < Duration::from_secs(30), "no master");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let shared = Arc::new(Shared::default());
    let pid = master_process.pid();
    let bare = sample(pid);
    println!(
        "scale: {} agents x {} slots, {} frameworks, {} tasks, status delay {:?}, per offer {}",
        cfg.agents,
        cfg.slots(),
        cfg.frameworks,
        cfg.tasks,
        cfg.delay,
        if cfg.per_offer == 0 {
            "all that fit".to_string()
        } else {
            cfg.per_offer.to_string()
        }
    );
    let mut task_resources = Resources::parse("cpus:1;mem:1", "*").unwrap();
    task_resources.allocate("*");
    let task_resources = task_resources.into_protos();
    let slots = cfg.slots();
    for index in 0..cfg.agents {
        let info = v1::AgentInfo {
            hostname: format!("sim-{index}"),
            resources: Resources::parse(&format!("cpus:{slots};mem:{slots}"), "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        };
        let agent = SimAgent::new(index, master.clone(), info, &task_resources, cfg.delay);
        tokio::spawn(agent.run(shared.clone()));
    }
    let took = wait_until("agents to register", Duration::from_secs(600), || {
        shared.registered.load(Ordering::Relaxed) >= cfg.agents
    })
    .await;
    println!(
        "  {} agents registered in {:.1} s",
        cfg.agents,
        took.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let with_agents = sample(pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let agents_idle = sample(pid);
    // Before the launching frameworks come (their offers keep the master busy).
    if cfg.idle_frameworks > 0 {
        idle_frameworks(&master, pid, cfg.idle_frameworks).await;
    }
    let quota = cfg.tasks / cfg.frameworks;
    let remainder = cfg.tasks % cfg.frameworks;
    for index in 0..cfg.frameworks {
        let quota = quota + usize::from(index < remainder);
        let framework = SimFramework {
            index,
            master: master.clone(),
            quota,
            per_offer: cfg.per_offer,
            launched: 0,
            accepted_at: vec![None; quota],
            id: None,
            task_resources: task_resources.clone(),
            calls: Arc::new(Semaphore::new(CALLS_IN_FLIGHT)),
        };
        tokio::spawn(framework.run(shared.clone()));
    }
    wait_until("frameworks to subscribe", Duration::from_secs(120), || {
        shared.subscribed.load(Ordering::Relaxed) >= cfg.frameworks
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let with_frameworks = sample(pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let all_idle = sample(pid);
    println!(
        "  idle master: bare {:.1} MiB; +{} agents {:.1} MiB ({:.1} KiB/agent), CPU {:.1} ms/s ({:.2} µs/s per agent); +{} frameworks {:.1} MiB, CPU {:.1} ms/s",
        bare.rss_mib,
        cfg.agents,
        with_agents.rss_mib,
        (with_agents.rss_mib - bare.rss_mib) * 1024.0 / cfg.agents as f64,
        (agents_idle.cpu_s - with_agents.cpu_s) * 100.0,
        (agents_idle.cpu_s - with_agents.cpu_s) * 1e5 / cfg.agents as f64,
        cfg.frameworks,
        with_frameworks.rss_mib,
        (all_idle.cpu_s - with_frameworks.cpu_s) * 100.0,
    );

    // Launch.
    let harness_before = sample(std::process::id());
    let launch_start = sample(pid);
    let wall_start = Instant::now();
    shared.go.store(true, Ordering::Relaxed);
    let milestones = [cfg.tasks / 10, cfg.tasks / 2, cfg.tasks];
    let mut reached = Vec::new();
    for milestone in milestones {
        let mut last = (Instant::now(), 0usize);
        loop {
            let running = shared.running.load(Ordering::Relaxed);
            if running >= milestone {
                break;
            }
            if last.0.elapsed() > Duration::from_secs(120) {
                assert!(running > last.1, "no progress at {running} running tasks");
                last = (Instant::now(), running);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let s = sample(pid);
        println!(
            "  {milestone} running at +{:.1} s: master RSS {:.1} MiB, CPU {:.1} s",
            wall_start.elapsed().as_secs_f64(),
            s.rss_mib,
            s.cpu_s - launch_start.cpu_s
        );
        reached.push((milestone, wall_start.elapsed(), s));
    }
    let launch_end = sample(pid);
    let harness_after = sample(std::process::id());
    let first = shared.first_accept.lock().unwrap().expect("an accept");
    let last = shared.last_running.lock().unwrap().expect("a RUNNING");
    let window = (last - first).as_secs_f64();
    let mut latency = std::mem::take(&mut *shared.latency_ms.lock().unwrap());
    latency.sort_by(f32::total_cmp);
    let master_cpu = launch_end.cpu_s - launch_start.cpu_s;
    // The agents' idle cost (pings) over the same time, to show what launching added (the
    // frameworks' idle window still holds their first offers' declines, so it is not used).
    let idle_rate = (agents_idle.cpu_s - with_agents.cpu_s) / 10.0;

    // Steady state: rounds over the spare slots with every task running.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let steady_before = sample(pid);
    let metrics_before = snapshot(&http, &master).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let metrics_after = snapshot(&http, &master).await;
    let steady_after = sample(pid);
    let runs = |m: &serde_json::Value| m["allocator/mesos/allocation_runs"].as_f64().unwrap_or(0.0);

    let mut dumps = Vec::new();
    let mut ui = None;
    if cfg.ui_tabs > 0 {
        let idle_cpu_per_s = (steady_after.cpu_s - steady_before.cpu_s) / 10.0;
        ui = Some(ui_figures(&master, pid, cfg.ui_tabs, idle_cpu_per_s).await);
    } else {
        for name in ["/master/state", "GET_STATE", "GET_TASKS"] {
            dumps.push(dump(&http, &master, &master_process.log, pid, &shared, name).await);
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    println!();
    println!("| figure | value |");
    println!("|---|---:|");
    println!(
        "| tasks running | {} |",
        shared.running.load(Ordering::Relaxed)
    );
    println!(
        "| launch throughput, first ACCEPT -> last TASK_RUNNING | {:.0} tasks/s ({:.1} s) |",
        cfg.tasks as f64 / window,
        window
    );
    println!(
        "| ACCEPT -> TASK_RUNNING p50 / p99 | {:.0} / {:.0} ms |",
        pct(&latency, 0.5),
        pct(&latency, 0.99)
    );
    println!(
        "| **master CPU per launched task** (user+sys, launch window) | **{:.1} µs** |",
        master_cpu * 1e6 / cfg.tasks as f64
    );
    println!(
        "| ... of which the agents' idle cost (pings) over the window | {:.1} µs |",
        idle_rate * window * 1e6 / cfg.tasks as f64
    );
    println!(
        "| harness CPU (agents + frameworks) per task | {:.1} µs |",
        (harness_after.cpu_s - harness_before.cpu_s) * 1e6 / cfg.tasks as f64
    );
    for (milestone, at, s) in &reached {
        println!(
            "| master at {milestone} running (+{:.1} s) | RSS {:.0} MiB, CPU {:.1} s since launch start |",
            at.as_secs_f64(),
            s.rss_mib,
            s.cpu_s - launch_start.cpu_s
        );
    }
    println!(
        "| steady state, {} running: master CPU | {:.1} ms/s ({:.0} allocation rounds in 10 s) |",
        cfg.tasks,
        (steady_after.cpu_s - steady_before.cpu_s) * 100.0,
        runs(&metrics_after) - runs(&metrics_before)
    );
    for d in &dumps {
        println!(
            "| {} at {} tasks | {:.2} s, {:.1} MiB, master peak RSS +{:.0} MiB; /health worst {:.0} ms; {} allocation rounds meanwhile, longest offer gap {:.2} s; actor held {:.1} ms |",
            d.name,
            cfg.tasks,
            d.seconds,
            d.bytes as f64 / 1048576.0,
            d.peak_growth_mib,
            d.probe_max_ms,
            d.allocation_runs,
            d.offer_gap_s,
            d.hold_ms
        );
    }
    if let Some(ui) = &ui {
        ui.print(cfg.tasks);
    }
    println!("allocator at {} running (/metrics/snapshot):", cfg.tasks);
    print_allocator(&metrics_after);

    if cfg.failover {
        let before = shared.reregistered.load(Ordering::Relaxed);
        let subscribed = shared.subscribed.load(Ordering::Relaxed);
        let killed = Instant::now();
        master_process.restart();
        let mut agents_back = None;
        let mut frameworks_back = None;
        // The timeline: when the new master answers `/health`, then every 500 ms how many
        // agents have reregistered and frameworks resubscribed (where the wait goes).
        let mut serving = None;
        let harness_before = sample(std::process::id()).cpu_s;
        let mut timeline = Vec::new();
        let mut next_sample = Duration::ZERO;
        while agents_back.is_none() || frameworks_back.is_none() {
            assert!(killed.elapsed() < Duration::from_secs(900), "no recovery");
            // Probed from a blocking thread: this process's runtime is busy with 5,000
            // reconnecting agents, and a probe it polls late would time the harness.
            let addr = master.clone();
            if serving.is_none()
                && tokio::task::spawn_blocking(move || health_answers(&addr))
                    .await
                    .unwrap_or(false)
            {
                serving = Some(killed.elapsed());
            }
            if killed.elapsed() >= next_sample {
                // With the CPU seconds the new master and this harness (the simulated
                // agents and frameworks) have used so far: which of them the wait is on.
                timeline.push(format!(
                    "{:.1}s {}/{} (master {:.1} s, harness {:.1} s CPU)",
                    killed.elapsed().as_secs_f64(),
                    shared.reregistered.load(Ordering::Relaxed) - before,
                    shared.subscribed.load(Ordering::Relaxed) - subscribed,
                    sample(master_process.pid()).cpu_s,
                    sample(std::process::id()).cpu_s - harness_before,
                ));
                next_sample += Duration::from_millis(500);
            }
            if shared.reregistered.load(Ordering::Relaxed) >= before + cfg.agents {
                agents_back.get_or_insert(killed.elapsed());
            }
            if shared.subscribed.load(Ordering::Relaxed) >= subscribed + cfg.frameworks {
                frameworks_back.get_or_insert(killed.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (agents_back, frameworks_back) = (agents_back.unwrap(), frameworks_back.unwrap());
        let s = sample(master_process.pid());
        println!(
            "  after the restart, agents reregistered / frameworks resubscribed:\n    {}",
            timeline.join("\n    ")
        );
        println!(
            "| master restart (kill -9, same registry) with {} tasks | serving `/health` +{:.2} s, agents reregistered +{:.2} s, frameworks resubscribed +{:.2} s; master RSS {:.0} MiB, CPU {:.1} s |",
            cfg.tasks,
            serving.unwrap_or_default().as_secs_f64(),
            agents_back.as_secs_f64(),
            frameworks_back.as_secs_f64(),
            s.rss_mib,
            s.cpu_s
        );
    }
    println!(
        "RESULT {}",
        serde_json::json!({
            "agents": cfg.agents,
            "frameworks": cfg.frameworks,
            "tasks": cfg.tasks,
            "tasks_per_s": cfg.tasks as f64 / window,
            "p50_ms": pct(&latency, 0.5),
            "p99_ms": pct(&latency, 0.99),
            "master_cpu_us_per_task": master_cpu * 1e6 / cfg.tasks as f64,
            "master_rss_mib": launch_end.rss_mib,
            "ui": ui.as_ref().map(UiFigures::json),
        })
    );
    drop(master_process);
    // `SCALE_KEEP_LOG=<file>` keeps the master's log (e.g. with `REMESOS_LOG=info`, which
    // the master inherits): its timestamps show where a restart's time goes.
    if let Ok(keep) = std::env::var("SCALE_KEEP_LOG") {
        let _ = std::fs::copy(dir.join("master.log"), keep);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 19 item 4, per idle framework: `count` more frameworks subscribe with their role
/// suppressed (so no offers: what remains is the subscription, its heartbeats every 15 s
/// and the framework's place in the allocator), and stay; the master's RSS and CPU per
/// second with them, against the 10 s before, per framework.
async fn idle_frameworks(master: &str, pid: u32, count: usize) {
    let before = sample(pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_before = sample(pid);
    let subscribed = Arc::new(AtomicUsize::new(0));
    for index in 0..count {
        let master = master.to_string();
        let subscribed = subscribed.clone();
        tokio::spawn(async move {
            let subscribe = sched::call::Subscribe {
                framework_info: v1::FrameworkInfo {
                    user: "bench".into(),
                    name: format!("idle-{index}"),
                    ..Default::default()
                },
                suppressed_roles: vec!["*".into()],
                ..Default::default()
            };
            let Ok(mut sub) = Subscription::subscribe(&master, subscribe, Format::Protobuf).await
            else {
                return;
            };
            subscribed.fetch_add(1, Ordering::Relaxed);
            // Heartbeats until the bench ends.
            while sub.next_event().await.is_ok() {}
        });
    }
    wait_until(
        "idle frameworks to subscribe",
        Duration::from_secs(300),
        || subscribed.load(Ordering::Relaxed) >= count,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let with = sample(pid);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let after = sample(pid);
    let cpu_before = (idle_before.cpu_s - before.cpu_s) / 10.0;
    let cpu_with = (after.cpu_s - with.cpu_s) / 30.0;
    println!(
        "  +{count} idle frameworks (role suppressed): RSS {:.1} -> {:.1} MiB ({:.1} KiB per framework); master CPU {:.1} -> {:.1} ms/s ({:.2} µs/s per framework)",
        idle_before.rss_mib,
        with.rss_mib,
        (with.rss_mib - idle_before.rss_mib) * 1024.0 / count as f64,
        cpu_before * 1e3,
        cpu_with * 1e3,
        (cpu_with - cpu_before) * 1e6 / count as f64,
    );
}

/// One page load in the browser, milliseconds from navigation start.
struct PageLoad {
    page: &'static str,
    first_contentful_paint_ms: f64,
    full_data_ms: f64,
    /// The first SUBSCRIBED record arrived and parsed (its JSON.parse included).
    snapshot_ms: f64,
    /// The SUBSCRIBE answer's headers came, and its first record (the snapshot) was all
    /// read, before decoding and parsing.
    headers_ms: f64,
    received_ms: f64,
    /// Table rows in the DOM once loaded.
    rows: u64,
}

struct UiFigures {
    loads: Vec<PageLoad>,
    /// The tabs' own full-data times while the others were already open (ms).
    tab_loads_ms: Vec<f64>,
    tabs: usize,
    /// Master CPU, seconds per second, with no page open (the steady state's 10 s) and
    /// with the tabs open (60 s).
    idle_cpu: f64,
    tabs_cpu: f64,
    rss_before_mib: f64,
    rss_tabs_mib: f64,
    /// 5 s after the tabs were closed.
    rss_closed_mib: f64,
    /// Tabs still live (event stream connected) at the end.
    live: usize,
}

impl UiFigures {
    fn print(&self, tasks: usize) {
        for l in &self.loads {
            println!(
                "| UI {} page at {tasks} tasks: first contentful paint / full data | {:.0} / **{:.0} ms** (snapshot parsed at {:.0} ms; {} rows in the DOM) |",
                l.page, l.first_contentful_paint_ms, l.full_data_ms, l.snapshot_ms, l.rows
            );
        }
        let mut sorted = self.tab_loads_ms.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "| UI tasks page, each of {} tabs opened one after another: full data | {} ms |",
            self.tabs,
            sorted
                .iter()
                .map(|v| format!("{v:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "| **master CPU with {} tabs open on the tasks page** (60 s) | **{:.2} % of one core** (no page open: {:.2} %); {} of {} tabs live at the end |",
            self.tabs,
            self.tabs_cpu * 100.0,
            self.idle_cpu * 100.0,
            self.live,
            self.tabs
        );
        println!(
            "| master RSS, no page open / {} tabs open / 5 s after they closed | {:.0} / {:.0} / {:.0} MiB |",
            self.tabs, self.rss_before_mib, self.rss_tabs_mib, self.rss_closed_mib
        );
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "loads": self.loads.iter().map(|l| serde_json::json!({
                "page": l.page,
                "fcp_ms": l.first_contentful_paint_ms,
                "full_data_ms": l.full_data_ms,
                "snapshot_ms": l.snapshot_ms,
                "headers_ms": l.headers_ms,
                "received_ms": l.received_ms,
                "rows": l.rows,
            })).collect::<Vec<_>>(),
            "tab_loads_ms": self.tab_loads_ms,
            "tabs": self.tabs,
            "master_cpu_pct_idle": self.idle_cpu * 100.0,
            "master_cpu_pct_tabs": self.tabs_cpu * 100.0,
            "master_rss_mib_tabs": self.rss_tabs_mib,
            "master_rss_mib_closed": self.rss_closed_mib,
            "live_tabs": self.live,
        })
    }
}

/// Loads `url` fresh (from `about:blank`) and waits for the page's full-data mark.
async fn load_page(b: &browser::Browser, page: &'static str, url: &str) -> PageLoad {
    b.go("about:blank").await;
    b.go(url).await;
    b.wait_at_most(
        "the page's data-loaded mark",
        "return document.body && document.body.dataset.loaded || null",
        Duration::from_secs(600),
    )
    .await;
    let v = b
        .js(
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; \
             return { fcp: p ? p.startTime : -1, loaded: Number(document.body.dataset.loaded), \
                      snapshot: Number(document.body.dataset.snapshot), \
                      headers: Number(document.body.dataset.headers), \
                      received: Number(document.body.dataset.received), \
                      rows: document.querySelectorAll('main tbody tr').length }",
        )
        .await;
    PageLoad {
        page,
        first_contentful_paint_ms: v["fcp"].as_f64().unwrap_or(-1.0),
        full_data_ms: v["loaded"].as_f64().unwrap_or(-1.0),
        snapshot_ms: v["snapshot"].as_f64().unwrap_or(-1.0),
        headers_ms: v["headers"].as_f64().unwrap_or(-1.0),
        received_ms: v["received"].as_f64().unwrap_or(-1.0),
        rows: v["rows"].as_u64().unwrap_or(0),
    }
}

/// The web UI's figures (issue 18): page loads, then `tabs` sessions on the tasks page.
async fn ui_figures(master: &str, pid: u32, tabs: usize, idle_cpu: f64) -> UiFigures {
    let rss_before_mib = sample(pid).rss_mib;
    let url = format!("http://{master}/");
    let first = browser::Browser::start("scale-ui-0").await;
    let mut loads = vec![load_page(&first, "overview", &url).await];
    let tasks_url = format!("{url}#/tasks");
    loads.push(load_page(&first, "tasks", &tasks_url).await);
    for l in &loads {
        println!(
            "  UI {}: first contentful paint {:.0} ms, SUBSCRIBE headers {:.0} ms, snapshot read {:.0} ms, parsed {:.0} ms, full data {:.0} ms, {} rows",
            l.page,
            l.first_contentful_paint_ms,
            l.headers_ms,
            l.received_ms,
            l.snapshot_ms,
            l.full_data_ms,
            l.rows
        );
    }
    let mut open = vec![first];
    let mut tab_loads_ms = vec![loads[1].full_data_ms];
    for i in 1..tabs {
        let b = browser::Browser::start(&format!("scale-ui-{i}")).await;
        let l = load_page(&b, "tasks", &tasks_url).await;
        println!("  tab {}: full data {:.0} ms", i + 1, l.full_data_ms);
        tab_loads_ms.push(l.full_data_ms);
        open.push(b);
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let before = sample(pid);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let after = sample(pid);
    let tabs_cpu = (after.cpu_s - before.cpu_s) / started.elapsed().as_secs_f64();
    let mut live = 0;
    for b in &open {
        let on = b
            .js("return document.getElementById('live').textContent === 'live'")
            .await;
        live += usize::from(on == serde_json::Value::Bool(true));
    }
    drop(open);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_closed_mib = sample(pid).rss_mib;
    UiFigures {
        loads,
        tab_loads_ms,
        tabs,
        idle_cpu,
        tabs_cpu,
        rss_before_mib,
        rss_tabs_mib: after.rss_mib,
        rss_closed_mib,
        live,
    }
}

/// The reregistration a simulated agent sends from its kept bytes ([`SimAgent::hello`]) is
/// the message a real agent sends: the same bytes as prost's encoding of the `Reregister`
/// built field by field (as this bench built it before session 17), and it decodes to that
/// message. Run at every start (a few tasks, microseconds); panics on a difference.
fn check_reregister_bytes() {
    let mut task_resources = Resources::parse("cpus:1;mem:1", "*").unwrap();
    task_resources.allocate("*");
    let task_resources = task_resources.into_protos();
    let info = v1::AgentInfo {
        hostname: "sim-7".into(),
        resources: Resources::parse("cpus:3;mem:3", "*").unwrap().into_protos(),
        id: Some(v1::AgentId {
            value: "a-S7".into(),
        }),
        ..Default::default()
    };
    let mut agent = SimAgent::new(
        7,
        "127.0.0.1:1".into(),
        info.clone(),
        &task_resources,
        Duration::ZERO,
    );
    let launched = [("f-1", "t-1"), ("f-2", "t-2"), ("f-1", "t-3")];
    for (framework, task_id) in launched {
        agent
            .frameworks
            .entry(framework.into())
            .or_insert(v1::FrameworkInfo {
                user: "u".into(),
                name: framework.into(),
                id: Some(v1::FrameworkId {
                    value: framework.into(),
                }),
                ..Default::default()
            });
        agent.push_task(framework, task_id);
    }
    let tasks = launched
        .iter()
        .map(|(framework, task_id)| v1::Task {
            name: task_id.to_string(),
            task_id: v1::TaskId {
                value: task_id.to_string(),
            },
            framework_id: v1::FrameworkId {
                value: framework.to_string(),
            },
            agent_id: info.id.clone().unwrap_or_default(),
            state: v1::TaskState::TaskRunning as i32,
            resources: task_resources.clone(),
            ..Default::default()
        })
        .collect();
    let built = wire::AgentMessage {
        message: Some(FromAgent::Reregister(wire::Reregister {
            agent_info: info,
            version: Some(remesos::common::version::MESOS_VERSION.to_string()),
            endpoint: Some("127.0.0.1:8".into()),
            tasks,
            frameworks: agent.frameworks.values().cloned().collect(),
            ..Default::default()
        })),
    };
    let sent = agent.hello().bytes().clone();
    assert_eq!(
        sent.as_ref(),
        built.encode_to_vec().as_slice(),
        "a simulated agent's reregistration bytes differ from prost's encoding of the message"
    );
    assert_eq!(
        wire::AgentMessage::decode(sent).expect("the reregistration bytes decode"),
        built
    );
}

fn main() {
    if std::env::args().any(|a| a == "--sizes") {
        // The inline sizes of the messages the master queues and keeps (bytes).
        use std::mem::size_of;
        println!(
            "MasterMessage {} AgentMessage {} scheduler Event {} Task {} TaskStatus {} Resource {} ExecutorInfo {} TaskInfo {}",
            size_of::<wire::MasterMessage>(),
            size_of::<wire::AgentMessage>(),
            size_of::<sched::Event>(),
            size_of::<v1::Task>(),
            size_of::<v1::TaskStatus>(),
            size_of::<v1::Resource>(),
            size_of::<v1::ExecutorInfo>(),
            size_of::<v1::TaskInfo>()
        );
        return;
    }
    check_reregister_bytes();
    let cfg = Config::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(cfg));
    runtime.shutdown_timeout(Duration::from_secs(1));
}
