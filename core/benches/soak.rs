//! A soak with faults (issue 11): a real `remesos master` and real `remesos agent`s, one
//! checkpointing framework on the v1 scheduler client launching short command tasks at a
//! steady rate, while a fault injector on a seeded RNG `kill -9`s agents (restarted after a
//! pause on the same work dir and port, `--recover=reconnect`) and closes the framework's
//! subscription (resubscribed with the same FrameworkID within its failover timeout, then
//! reconciled, explicitly or implicitly).
//!
//! The invariant it checks: **every launched task reaches a terminal state the framework
//! saw** (an update it acknowledged, or a reconciliation answer). At the end launches stop,
//! the soak waits (bounded) for every task to reach one, reconciling every few seconds,
//! reconciles once more, prints what it counted and exits non-zero, listing the missing
//! tasks, if any launched task never reached a terminal state the framework saw.
//!
//! `cargo bench -p remesos --bench soak` (or `bench/soak.sh`). Environment:
//! `SOAK_SECS` (launch phase, default 120), `SOAK_RATE` (tasks/s, default 5), `SOAK_AGENTS`
//! (default 3), `SOAK_SEED` (default: from the clock; always printed, a run is repeated
//! with the same seed — fault kinds and intervals, not the machine's timing),
//! `SOAK_DRAIN_SECS` (default 180), `SOAK_FAULT_SECS` (interval between faults, `min..max`,
//! default `4..12`), `SOAK_OUTAGE_SECS` (agent down time, default `1..8`; the master marks
//! an agent unreachable after ~3 s: `--agent_ping_timeout=1secs
//! --max_agent_ping_timeouts=3`, so the longer outages turn tasks LOST), `SOAK_KEEP=1`
//! (keep the work dir and logs; they are always kept on failure).
//!
//! Task mix: 45 % `sleep 0.NN`, 15 % `sleep 2..8` (so that outages catch running tasks),
//! 15 % `true`, 10 % `exit 1`, 15 % `sleep 20` that the framework KILLs 0.5–3 s after
//! launching it. A KILL reaches the task only if its agent is connected: Mesos's master
//! remembers a KILL for a disconnected agent and sends it again when the agent
//! reregisters, remesos's drops it (see core/benches/README.md), so the soak KILLs again
//! only while draining, and counts the KILLed tasks that FINISHED instead.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use remesos::client::Format;
use remesos::client::scheduler::{Caller, Subscription, acknowledge_call};
use remesos::resources::Resources;
use remesos_proto::v1;
use v1::TaskState;
use v1::scheduler as sched;

/// What each task asks for; an agent of `cpus:4;mem:2048` holds 40.
const TASK_RESOURCES: &str = "cpus:0.1;mem:32";
const AGENT_RESOURCES: &str = "cpus:4;mem:2048;disk:1024";
/// How often the drain phase reconciles and re-sends KILLs.
const DRAIN_RECONCILE: Duration = Duration::from_secs(5);
/// Tasks per call of the final explicit reconciliation.
const FINAL_BATCH: usize = 250;
/// Bound on any one call to the master (a stuck call must not stall the soak).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

struct Config {
    secs: f64,
    rate: f64,
    agents: usize,
    seed: u64,
    drain: Duration,
    fault: (f64, f64),
    outage: (f64, f64),
    keep: bool,
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_range(name: &str, default: (f64, f64)) -> (f64, f64) {
    std::env::var(name)
        .ok()
        .and_then(|v| {
            let (a, b) = v.split_once("..")?;
            let (a, b): (f64, f64) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b && a >= 0.0).then_some((a, b))
        })
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> Config {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Config {
            secs: env_f64("SOAK_SECS", 120.0),
            rate: env_f64("SOAK_RATE", 5.0),
            agents: (env_f64("SOAK_AGENTS", 3.0) as usize).max(1),
            seed: std::env::var("SOAK_SEED")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(clock.as_nanos() as u64),
            drain: Duration::from_secs_f64(env_f64("SOAK_DRAIN_SECS", 180.0)),
            fault: env_range("SOAK_FAULT_SECS", (4.0, 12.0)),
            outage: env_range("SOAK_OUTAGE_SECS", (1.0, 8.0)),
            keep: std::env::var("SOAK_KEEP").is_ok_and(|v| v == "1"),
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open a log file")
}

/// A daemon process: `kill -9`ed (and reaped) when dropped.
struct Daemon(Option<Child>);

impl Daemon {
    fn kill9(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn is_up(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn spawn_master(port: u16, dir: &Path) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args(["master", "--ip=127.0.0.1", "--hostname=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--work_dir={}", dir.join("master").display()))
        .args([
            "--allocation_interval=100ms",
            // An agent down for more than ~3 s becomes unreachable (its tasks LOST), so the
            // longer outages exercise removal and reregistration of an unreachable agent.
            "--agent_ping_timeout=1secs",
            "--max_agent_ping_timeouts=3",
            // The final reconciliation must still know every completed task.
            "--max_completed_tasks_per_framework=1000000",
        ])
        .stdout(Stdio::null())
        .stderr(log_file(&dir.join("master.log")))
        .spawn()
        .expect("start remesos master");
    Daemon(Some(child))
}

/// One agent: its port and work dir stay the same across restarts.
struct Agent {
    port: u16,
    work_dir: PathBuf,
    log: PathBuf,
    daemon: Daemon,
    restart_at: Option<Instant>,
}

impl Agent {
    fn start(&mut self, master: &str) {
        let child = Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["agent", &format!("--master={master}"), "--ip=127.0.0.1"])
            .arg(format!("--port={}", self.port))
            .arg(format!("--work_dir={}", self.work_dir.display()))
            .arg(format!("--resources={AGENT_RESOURCES}"))
            .args([
                "--registration_backoff_factor=100ms",
                "--hostname=localhost",
                "--recover=reconnect",
            ])
            .stdout(Stdio::null())
            .stderr(log_file(&self.log))
            .spawn()
            .expect("start remesos agent");
        self.daemon = Daemon(Some(child));
        self.restart_at = None;
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Sleep,
    Long,
    True,
    Fail,
    Kill,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sleep => "sleep 0.NN",
            Kind::Long => "sleep 2..8",
            Kind::True => "true",
            Kind::Fail => "exit 1",
            Kind::Kill => "sleep 20 + KILL",
        }
    }

    /// The terminal state the task should end in if no fault takes it.
    fn expected(self) -> TaskState {
        match self {
            Kind::Sleep | Kind::Long | Kind::True => TaskState::TaskFinished,
            Kind::Fail => TaskState::TaskFailed,
            Kind::Kill => TaskState::TaskKilled,
        }
    }
}

/// The states that say "a fault took the task" rather than "the task ran its course".
fn lost_like(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::TaskLost
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator
            | TaskState::TaskDropped
            | TaskState::TaskError
    )
}

fn state_name(state: TaskState) -> &'static str {
    state.as_str_name()
}

fn reason_name(reason: Option<i32>) -> &'static str {
    reason
        .and_then(|r| v1::task_status::Reason::try_from(r).ok())
        .map_or("-", |r| r.as_str_name())
}

/// The first terminal state the framework saw for a task.
struct Terminal {
    state: TaskState,
    reason: Option<i32>,
    message: String,
    /// From a reconciliation answer rather than an update from the agent's executor.
    by_reconciliation: bool,
    /// Since the ACCEPT was sent.
    after: Duration,
}

struct Task {
    kind: Kind,
    agent_id: v1::AgentId,
    launched: Instant,
    /// When the framework KILLs it (Kind::Kill), and how many KILLs it sent.
    kill_at: Option<Instant>,
    kills_sent: u32,
    last: Option<TaskState>,
    terminal: Option<Terminal>,
    /// Updates seen after the terminal one: state, from reconciliation, and a description
    /// (source, reason, message) for the report.
    after_terminal: Vec<(TaskState, bool, String)>,
}

enum Input {
    Event(u64, Box<sched::Event>),
    Closed(u64, String),
}

#[derive(Default)]
struct Counts {
    agent_kills: u32,
    agent_restarts: u32,
    disconnects: u32,
    unplanned_disconnects: u32,
    subscribe_failures: u32,
    explicit_reconciles: u32,
    implicit_reconciles: u32,
    accepts_refused: u32,
    call_errors: u32,
    acks: u32,
    updates: u32,
    unknown_task_updates: u32,
    offers: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Run,
    Drain,
    Final,
}

struct Soak {
    cfg: Config,
    rng: StdRng,
    start: Instant,
    master: String,
    framework_id: Option<v1::FrameworkId>,
    /// The current subscription's generation; events of older ones are ignored.
    generation: u64,
    caller: Option<Caller>,
    reader: Option<tokio::task::JoinHandle<()>>,
    resubscribe_at: Option<Instant>,
    /// Alternates explicit and implicit reconciliation after a resubscription.
    next_reconcile_explicit: bool,
    inputs: mpsc::Sender<Input>,
    agents: Vec<Agent>,
    tasks: BTreeMap<String, Task>,
    next_task: u64,
    allowance: f64,
    refilled: Instant,
    counts: Counts,
    phase: Phase,
    /// The master's answers to the final reconciliation, by task.
    final_view: HashMap<String, TaskState>,
    /// The tasks that were terminal when the final reconciliation was sent: only their
    /// answers must agree (a task still running may end while the answer is on its way).
    settled: HashSet<String>,
}

impl Soak {
    fn say(&self, message: impl AsRef<str>) {
        eprintln!(
            "[{:7.1}s] {}",
            self.start.elapsed().as_secs_f64(),
            message.as_ref()
        );
    }

    fn uniform(&mut self, (lo, hi): (f64, f64)) -> Duration {
        Duration::from_secs_f64(if hi > lo {
            self.rng.random_range(lo..hi)
        } else {
            lo
        })
    }

    fn framework_info(&self) -> v1::FrameworkInfo {
        v1::FrameworkInfo {
            user: String::new(),
            name: "soak".into(),
            id: self.framework_id.clone(),
            checkpoint: Some(true),
            failover_timeout: Some(3600.0),
            ..Default::default()
        }
    }

    /// SUBSCRIBEs (with the FrameworkID once there is one); a reader task forwards the
    /// events to the main loop, tagged with the subscription's generation.
    async fn subscribe(&mut self) -> bool {
        let call = sched::call::Subscribe {
            framework_info: self.framework_info(),
            ..Default::default()
        };
        let subscribed = tokio::time::timeout(
            CALL_TIMEOUT,
            Subscription::subscribe(&self.master, call, Format::Protobuf),
        )
        .await;
        let mut sub = match subscribed {
            Ok(Ok(sub)) => sub,
            Ok(Err(e)) => {
                self.counts.subscribe_failures += 1;
                self.say(format!("subscribe failed: {e}"));
                return false;
            }
            Err(_) => {
                self.counts.subscribe_failures += 1;
                self.say("subscribe timed out");
                return false;
            }
        };
        if let Some(id) = &self.framework_id {
            assert_eq!(
                id, &sub.framework_id,
                "the master gave a failed-over framework a new id"
            );
        }
        self.framework_id = Some(sub.framework_id.clone());
        self.generation += 1;
        self.caller = Some(sub.caller());
        let generation = self.generation;
        let inputs = self.inputs.clone();
        self.reader = Some(tokio::spawn(async move {
            loop {
                match sub.next_event().await {
                    Ok(event) => {
                        if inputs
                            .send(Input::Event(generation, Box::new(event)))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = inputs.send(Input::Closed(generation, e.to_string())).await;
                        return;
                    }
                }
            }
        }));
        self.resubscribe_at = None;
        true
    }

    /// Closes the subscription (the connection drops with the reader task).
    fn disconnect(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
        self.caller = None;
        self.generation += 1;
    }

    async fn call(&mut self, call: sched::Call) -> Option<u16> {
        let caller = self.caller.clone()?;
        match tokio::time::timeout(CALL_TIMEOUT, caller.call(call)).await {
            Ok(Ok(status)) => Some(status),
            Ok(Err(e)) => {
                self.counts.call_errors += 1;
                self.say(format!("call failed: {e}"));
                None
            }
            Err(_) => {
                self.counts.call_errors += 1;
                self.say("call timed out");
                None
            }
        }
    }

    /// Reconciles the framework's non-terminal tasks explicitly, or implicitly. (With no
    /// non-terminal task, an explicit reconciliation would be an implicit one: skipped.)
    async fn reconcile(&mut self, explicit: bool) {
        if !explicit {
            return self.reconcile_ids(&[]).await;
        }
        let open: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.terminal.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        if !open.is_empty() {
            self.reconcile_ids(&open).await;
        }
    }

    /// Reconciles these tasks explicitly (none: implicitly).
    async fn reconcile_ids(&mut self, ids: &[String]) {
        let tasks = ids
            .iter()
            .filter_map(|id| {
                Some(sched::call::reconcile::Task {
                    task_id: v1::TaskId { value: id.clone() },
                    agent_id: Some(self.tasks.get(id)?.agent_id.clone()),
                })
            })
            .collect::<Vec<_>>();
        if tasks.is_empty() {
            self.counts.implicit_reconciles += 1;
        } else {
            self.counts.explicit_reconciles += 1;
        }
        let call = sched::Call {
            r#type: Some(sched::call::Type::Reconcile as i32),
            reconcile: Some(sched::call::Reconcile { tasks }),
            ..Default::default()
        };
        self.call(call).await;
    }

    async fn kill(&mut self, task_id: &str) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        task.kills_sent += 1;
        let call = sched::Call {
            r#type: Some(sched::call::Type::Kill as i32),
            kill: Some(sched::call::Kill {
                task_id: v1::TaskId {
                    value: task_id.into(),
                },
                agent_id: Some(task.agent_id.clone()),
                kill_policy: None,
            }),
            ..Default::default()
        };
        self.call(call).await;
    }

    fn random_task(
        &mut self,
        offer: &v1::Offer,
        resources: &[v1::Resource],
    ) -> (String, Task, v1::TaskInfo) {
        let id = format!("soak-{:06}", self.next_task);
        self.next_task += 1;
        let roll: f64 = self.rng.random();
        let (kind, command) = if roll < 0.45 {
            let hundredths: u32 = self.rng.random_range(1..100);
            (Kind::Sleep, format!("sleep 0.{hundredths:02}"))
        } else if roll < 0.60 {
            let secs: u32 = self.rng.random_range(2..=8);
            (Kind::Long, format!("sleep {secs}"))
        } else if roll < 0.75 {
            (Kind::True, "true".to_string())
        } else if roll < 0.85 {
            (Kind::Fail, "exit 1".to_string())
        } else {
            (Kind::Kill, "sleep 20".to_string())
        };
        let now = Instant::now();
        let kill_at = (kind == Kind::Kill).then(|| now + self.uniform((0.5, 3.0)));
        let info = v1::TaskInfo {
            name: id.clone(),
            task_id: v1::TaskId { value: id.clone() },
            agent_id: offer.agent_id.clone(),
            resources: resources.to_vec(),
            command: Some(v1::CommandInfo {
                value: Some(command),
                ..Default::default()
            }),
            ..Default::default()
        };
        let task = Task {
            kind,
            agent_id: offer.agent_id.clone(),
            launched: now,
            kill_at,
            kills_sent: 0,
            last: None,
            terminal: None,
            after_terminal: Vec::new(),
        };
        (id, task, info)
    }

    /// Launches as many tasks as the steady rate allows into the offer; declines the rest.
    async fn on_offer(&mut self, offer: v1::Offer) {
        self.counts.offers += 1;
        let now = Instant::now();
        let cap = (self.cfg.rate * 2.0).max(1.0);
        self.allowance = (self.allowance
            + self.cfg.rate * now.duration_since(self.refilled).as_secs_f64())
        .min(cap);
        self.refilled = now;
        let available = Resources::from_protos(offer.resources.clone()).unwrap_or_default();
        let fit = (available.cpus() / 0.1 + 1e-6)
            .min(available.mem() / 32.0)
            .floor()
            .max(0.0) as usize;
        let n = if self.phase == Phase::Run {
            fit.min(self.allowance.floor() as usize)
        } else {
            0
        };
        if n == 0 {
            // Back soon while launching; for good while draining.
            let refuse = if self.phase == Phase::Run {
                0.2
            } else {
                3600.0
            };
            let call = sched::Call {
                r#type: Some(sched::call::Type::Decline as i32),
                decline: Some(sched::call::Decline {
                    offer_ids: vec![offer.id.clone()],
                    filters: Some(v1::Filters {
                        refuse_seconds: Some(refuse),
                    }),
                }),
                ..Default::default()
            };
            self.call(call).await;
            return;
        }
        self.allowance -= n as f64;
        let role = offer
            .allocation_info
            .as_ref()
            .and_then(|a| a.role.clone())
            .unwrap_or_else(|| "*".into());
        let mut resources = Resources::parse(TASK_RESOURCES, "*").unwrap();
        resources.allocate(&role);
        let resources = resources.into_protos();
        let mut infos = Vec::with_capacity(n);
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let (id, task, info) = self.random_task(&offer, &resources);
            self.tasks.insert(id.clone(), task);
            ids.push(id);
            infos.push(info);
        }
        let call = remesos::common::protocol::launch_call(
            &offer,
            infos,
            Some(v1::Filters {
                refuse_seconds: Some(0.0),
            }),
        );
        let caller = self.caller.clone();
        let result = match caller {
            Some(caller) => tokio::time::timeout(CALL_TIMEOUT, caller.call(call)).await,
            None => return,
        };
        match result {
            Ok(Ok(_)) => {}
            // The master refused the call: nothing was launched.
            Ok(Err(remesos::client::Error::Status { status, body })) => {
                self.counts.accepts_refused += 1;
                self.say(format!("ACCEPT refused ({status}): {body}"));
                for id in ids {
                    self.tasks.remove(&id);
                }
            }
            // Unknown whether the master got it: the tasks count as launched, and
            // reconciliation settles them.
            Ok(Err(e)) => {
                self.counts.call_errors += 1;
                self.say(format!("ACCEPT failed (tasks kept): {e}"));
            }
            Err(_) => {
                self.counts.call_errors += 1;
                self.say("ACCEPT timed out (tasks kept)");
            }
        }
    }

    async fn on_status(&mut self, status: v1::TaskStatus) {
        self.counts.updates += 1;
        let by_reconciliation =
            status.reason == Some(v1::task_status::Reason::Reconciliation as i32);
        let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskUnknown);
        if let Some(ack) = acknowledge_call(&status)
            && self.call(ack).await.is_some()
        {
            self.counts.acks += 1;
        }
        let id = status.task_id.value.clone();
        if self.phase == Phase::Final && by_reconciliation {
            self.final_view.insert(id.clone(), state);
        }
        let Some(task) = self.tasks.get_mut(&id) else {
            self.counts.unknown_task_updates += 1;
            return;
        };
        if task.terminal.is_some() {
            // The final reconciliation's answers are compared separately (`final_view`).
            if !(self.phase == Phase::Final && by_reconciliation) {
                let source = status
                    .source
                    .and_then(|s| v1::task_status::Source::try_from(s).ok())
                    .map_or("-", |s| s.as_str_name());
                let what = format!(
                    "{source} {} {:?}",
                    reason_name(status.reason),
                    status.message.as_deref().unwrap_or("")
                );
                task.after_terminal.push((state, by_reconciliation, what));
            }
            return;
        }
        task.last = Some(state);
        if remesos::common::protocol::is_terminal(state) {
            task.terminal = Some(Terminal {
                state,
                reason: status.reason,
                message: status.message.unwrap_or_default(),
                by_reconciliation,
                after: task.launched.elapsed(),
            });
        }
    }

    async fn on_input(&mut self, input: Input) {
        match input {
            Input::Event(generation, event) if generation == self.generation => {
                let event = *event;
                if let Some(offers) = event.offers {
                    for offer in offers.offers {
                        self.on_offer(offer).await;
                    }
                }
                if let Some(update) = event.update {
                    self.on_status(update.status).await;
                }
                if let Some(error) = event.error {
                    self.say(format!("ERROR event: {}", error.message));
                }
            }
            Input::Closed(generation, why) if generation == self.generation => {
                self.counts.unplanned_disconnects += 1;
                self.say(format!("subscription closed by the master: {why}"));
                self.disconnect();
                self.resubscribe_at = Some(Instant::now() + Duration::from_millis(500));
            }
            _ => {} // an older subscription's
        }
    }

    /// One fault, chosen by the seeded RNG.
    fn inject_fault(&mut self) {
        let up: Vec<usize> = (0..self.agents.len())
            .filter(|&i| self.agents[i].daemon.is_up())
            .collect();
        let kill_agent = self.rng.random_bool(0.5);
        if kill_agent && up.len() > 1 {
            let i = up[self.rng.random_range(0..up.len())];
            let outage = self.uniform(self.cfg.outage);
            self.agents[i].daemon.kill9();
            self.agents[i].restart_at = Some(Instant::now() + outage);
            self.counts.agent_kills += 1;
            self.say(format!(
                "fault: kill -9 agent {i} (port {}), back in {:.1} s",
                self.agents[i].port,
                outage.as_secs_f64()
            ));
        } else if self.caller.is_some() {
            let away = self.uniform((0.2, 3.0));
            self.disconnect();
            self.resubscribe_at = Some(Instant::now() + away);
            self.counts.disconnects += 1;
            self.say(format!(
                "fault: framework disconnects, resubscribes in {:.1} s",
                away.as_secs_f64()
            ));
        }
    }

    /// Timers: agent restarts, resubscription, KILLs due.
    async fn on_tick(&mut self) {
        let now = Instant::now();
        for i in 0..self.agents.len() {
            if self.agents[i].restart_at.is_some_and(|t| t <= now) {
                let master = self.master.clone();
                self.agents[i].start(&master);
                self.counts.agent_restarts += 1;
                self.say(format!("agent {i} restarted"));
            }
        }
        if self.resubscribe_at.is_some_and(|t| t <= now) {
            if self.subscribe().await {
                let explicit = self.next_reconcile_explicit;
                self.next_reconcile_explicit = !explicit;
                self.say(format!(
                    "resubscribed; {} reconciliation",
                    if explicit { "explicit" } else { "implicit" }
                ));
                self.reconcile(explicit).await;
            } else {
                self.resubscribe_at = Some(now + Duration::from_secs(1));
            }
        }
        if self.caller.is_some() {
            let due: Vec<String> = self
                .tasks
                .iter()
                .filter(|(_, t)| {
                    t.terminal.is_none() && t.kills_sent == 0 && t.kill_at.is_some_and(|k| k <= now)
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in due {
                self.kill(&id).await;
            }
        }
    }

    fn progress(&self) {
        let terminal = self.tasks.values().filter(|t| t.terminal.is_some()).count();
        let up = self.agents.iter().filter(|a| a.daemon.is_up()).count();
        self.say(format!(
            "progress: launched {}, terminal {terminal}, open {}, agents up {up}/{}, subscribed {}",
            self.tasks.len(),
            self.tasks.len() - terminal,
            self.agents.len(),
            self.caller.is_some()
        ));
    }

    fn all_terminal(&self) -> bool {
        self.tasks.values().all(|t| t.terminal.is_some())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn wait_for_agents(master: &str, n: usize) {
    let http = remesos::client::HttpClient::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, body)) = http.get(&format!("http://{master}/metrics/snapshot")).await
            && serde_json::from_slice::<serde_json::Value>(&body)
                .is_ok_and(|m| m["master/slaves_active"] == n as f64)
        {
            return;
        }
        assert!(Instant::now() < deadline, "the cluster did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn soak(cfg: Config, dir: PathBuf) -> bool {
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let mut master_daemon = spawn_master(port, &dir);
    let mut agents: Vec<Agent> = (0..cfg.agents)
        .map(|i| Agent {
            port: free_port(),
            work_dir: dir.join(format!("agent-{i}")),
            log: dir.join(format!("agent-{i}.log")),
            daemon: Daemon(None),
            restart_at: None,
        })
        .collect();
    for agent in &mut agents {
        agent.start(&master);
    }
    wait_for_agents(&master, cfg.agents).await;

    // Bounded: the reader waits (stops reading the stream) while the main loop is behind,
    // and the master drops a reader that stalls too long — which the soak then counts as
    // an unplanned disconnect and resubscribes from.
    let (tx, mut rx) = mpsc::channel(1024);
    let start = Instant::now();
    let mut s = Soak {
        rng: StdRng::seed_from_u64(cfg.seed),
        cfg,
        start,
        master,
        framework_id: None,
        generation: 0,
        caller: None,
        reader: None,
        resubscribe_at: None,
        next_reconcile_explicit: true,
        inputs: tx,
        agents,
        tasks: BTreeMap::new(),
        next_task: 0,
        allowance: 0.0,
        refilled: start,
        counts: Counts::default(),
        phase: Phase::Run,
        final_view: HashMap::new(),
        settled: HashSet::new(),
    };
    assert!(s.subscribe().await, "the first SUBSCRIBE failed");
    s.say(format!(
        "subscribed as {}; seed {}",
        s.framework_id.as_ref().map_or("", |f| f.value.as_str()),
        s.cfg.seed
    ));

    let run_end = start + Duration::from_secs_f64(s.cfg.secs);
    let mut next_fault = start + s.uniform(s.cfg.fault);
    let mut next_progress = start + Duration::from_secs(10);
    let mut drain_started = None::<Instant>;
    let mut next_drain_reconcile = run_end;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            Some(input) = rx.recv() => s.on_input(input).await,
            _ = tick.tick() => {
                let now = Instant::now();
                if s.phase == Phase::Run && now >= run_end {
                    s.phase = Phase::Drain;
                    drain_started = Some(now);
                    s.say(format!("launches stop; draining (at most {:?})", s.cfg.drain));
                    // Faults stop: the agents that are down come back now.
                    for agent in &mut s.agents {
                        if agent.restart_at.is_some() {
                            agent.restart_at = Some(now);
                        }
                    }
                    if s.resubscribe_at.is_some() {
                        s.resubscribe_at = Some(now);
                    }
                }
                if s.phase == Phase::Run && now >= next_fault {
                    s.inject_fault();
                    next_fault = now + s.uniform(s.cfg.fault);
                }
                s.on_tick().await;
                if now >= next_progress {
                    s.progress();
                    next_progress = now + Duration::from_secs(10);
                }
                if s.phase == Phase::Drain {
                    if s.all_terminal() {
                        break;
                    }
                    if drain_started.is_some_and(|d| now.duration_since(d) > s.cfg.drain) {
                        s.say("drain timed out");
                        break;
                    }
                    if now >= next_drain_reconcile && s.caller.is_some() {
                        next_drain_reconcile = now + DRAIN_RECONCILE;
                        s.reconcile(true).await;
                        // A KILL sent while the task's agent was down was dropped.
                        let again: Vec<String> = s
                            .tasks
                            .iter()
                            .filter(|(_, t)| t.terminal.is_none() && t.kills_sent > 0)
                            .map(|(id, _)| id.clone())
                            .collect();
                        for id in again {
                            s.kill(&id).await;
                        }
                    }
                }
            }
        }
    }
    let drain = drain_started.map(|d| d.elapsed()).unwrap_or_default();

    // The final reconciliation: every task, explicitly, and once implicitly; the master's
    // answers must agree with what the framework saw.
    s.phase = Phase::Final;
    s.settled = s
        .tasks
        .iter()
        .filter(|(_, t)| t.terminal.is_some())
        .map(|(id, _)| id.clone())
        .collect();
    if s.caller.is_none() {
        let _ = s.subscribe().await;
    }
    // In batches, reading the answers between them: thousands of answers at once back up
    // the event stream, and the master drops a subscriber that does not keep up (a slow
    // reader), which lost the last answers of a 600 s run.
    let ids: Vec<String> = s.tasks.keys().cloned().collect();
    let mut batches: Vec<&[String]> = ids.chunks(FINAL_BATCH).collect();
    batches.push(&[]); // and once implicitly
    for batch in batches {
        if s.caller.is_none() {
            let _ = s.subscribe().await;
        }
        s.reconcile_ids(batch).await;
        let bound = Instant::now() + Duration::from_secs(30);
        while let Ok(Some(input)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            s.on_input(input).await;
            if Instant::now() > bound {
                break;
            }
        }
    }
    let ok = report(&s, drain);

    // TEARDOWN kills whatever executors remain; then the daemons go.
    let teardown = sched::Call {
        r#type: Some(sched::call::Type::Teardown as i32),
        ..Default::default()
    };
    s.call(teardown).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.disconnect();
    for agent in &mut s.agents {
        agent.daemon.kill9();
    }
    master_daemon.kill9();
    ok
}

/// Prints the figures; true if every launched task reached a terminal state the framework
/// saw.
fn report(s: &Soak, drain: Duration) -> bool {
    let c = &s.counts;
    let launched = s.tasks.len();
    let terminal: Vec<(&String, &Task, &Terminal)> = s
        .tasks
        .iter()
        .filter_map(|(id, t)| t.terminal.as_ref().map(|term| (id, t, term)))
        .collect();
    let missing: Vec<(&String, &Task)> = s
        .tasks
        .iter()
        .filter(|(_, t)| t.terminal.is_none())
        .collect();
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<(Kind, &str), usize> = BTreeMap::new();
    let mut lost_reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let mut kill_missed = Vec::new();
    let mut lost = 0;
    let mut by_reconciliation = 0;
    let mut times: Vec<Duration> = Vec::new();
    for (id, t, term) in &terminal {
        let name = state_name(term.state);
        *by_state.entry(name).or_default() += 1;
        *by_kind.entry((t.kind, name)).or_default() += 1;
        times.push(term.after);
        if term.by_reconciliation {
            by_reconciliation += 1;
        }
        if lost_like(term.state) {
            lost += 1;
            *lost_reasons
                .entry(format!("{name} {}", reason_name(term.reason)))
                .or_default() += 1;
        } else if t.kind == Kind::Kill && term.state == TaskState::TaskFinished {
            // Its KILL never reached the agent (sent while the agent was down).
            kill_missed.push(format!("{id} (KILLs sent {})", t.kills_sent));
        } else if term.state != t.kind.expected() {
            unexpected.push(format!(
                "{id} ({}) {name} {}: {}",
                t.kind.name(),
                reason_name(term.reason),
                term.message
            ));
        }
    }
    times.sort();
    let slowest = terminal
        .iter()
        .max_by_key(|(_, _, term)| term.after)
        .map(|(id, _, term)| format!("{id} ({})", state_name(term.state)))
        .unwrap_or_default();
    let mut resurrected = Vec::new();
    let mut duplicates = 0;
    for (id, t, term) in &terminal {
        for (state, by_rec, what) in &t.after_terminal {
            if *state == term.state {
                duplicates += 1;
            } else {
                resurrected.push(format!(
                    "{id} ({}): {} then {}{} [{what}]",
                    t.kind.name(),
                    state_name(term.state),
                    state_name(*state),
                    if *by_rec { " (reconciliation)" } else { "" }
                ));
            }
        }
    }
    let mut disagree = Vec::new();
    for (id, t, term) in terminal.iter().filter(|(id, _, _)| s.settled.contains(*id)) {
        match s.final_view.get(*id) {
            Some(state) if *state == term.state => {}
            Some(state) => disagree.push(format!(
                "{id}: framework saw {}, master says {}",
                state_name(term.state),
                state_name(*state)
            )),
            None => disagree.push(format!("{id} ({}): no answer", t.kind.name())),
        }
    }

    let secs = s.cfg.secs;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nsoak: seed {}, {secs:.0} s of launches at {} tasks/s, {} agents, faults every {:?} s, outages {:?} s",
        s.cfg.seed, s.cfg.rate, s.cfg.agents, s.cfg.fault, s.cfg.outage
    );
    let _ = writeln!(
        out,
        "launched {launched} ({:.2}/s); terminal seen {}; MISSING {}; drain {:.1} s",
        launched as f64 / secs,
        terminal.len(),
        missing.len(),
        drain.as_secs_f64()
    );
    let _ = writeln!(out, "terminal states: {by_state:?}");
    let _ = writeln!(
        out,
        "lost to faults (LOST/GONE/DROPPED/ERROR): {lost} {lost_reasons:?}"
    );
    let _ = writeln!(
        out,
        "terminal state first seen through reconciliation: {by_reconciliation}"
    );
    for kind in [Kind::Sleep, Kind::Long, Kind::True, Kind::Fail, Kind::Kill] {
        let row: Vec<String> = by_kind
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, state), n)| format!("{state} {n}"))
            .collect();
        let _ = writeln!(out, "  {:16} {}", kind.name(), row.join(", "));
    }
    let _ = writeln!(
        out,
        "faults: {} agent kills ({} restarts), {} framework disconnects (+{} unplanned), {} subscribe failures",
        c.agent_kills,
        c.agent_restarts,
        c.disconnects,
        c.unplanned_disconnects,
        c.subscribe_failures
    );
    let _ = writeln!(
        out,
        "reconciliations: {} explicit, {} implicit; offers {}, updates {}, acks {}, call errors {}, accepts refused {}, updates for unknown tasks {}",
        c.explicit_reconciles,
        c.implicit_reconciles,
        c.offers,
        c.updates,
        c.acks,
        c.call_errors,
        c.accepts_refused,
        c.unknown_task_updates
    );
    let _ = writeln!(
        out,
        "time to terminal: p50 {:.2} s, p99 {:.2} s, max {:.2} s ({slowest})",
        percentile(&times, 0.5).as_secs_f64(),
        percentile(&times, 0.99).as_secs_f64(),
        times.last().copied().unwrap_or_default().as_secs_f64()
    );
    let _ = writeln!(
        out,
        "after a terminal state: {duplicates} duplicate updates, {} different states",
        resurrected.len()
    );
    for line in resurrected.iter().take(10) {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(
        out,
        "unexpected terminal states (not a fault's): {}",
        unexpected.len()
    );
    for line in unexpected.iter().take(10) {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(
        out,
        "KILLed but FINISHED (the KILL never reached the task): {} {:?}",
        kill_missed.len(),
        kill_missed.iter().take(10).collect::<Vec<_>>()
    );
    let _ = writeln!(
        out,
        "final reconciliation disagrees with the framework: {}",
        disagree.len()
    );
    for line in disagree.iter().take(10) {
        let _ = writeln!(out, "  {line}");
    }
    if !missing.is_empty() {
        let _ = writeln!(out, "MISSING (no terminal state seen):");
        for (id, t) in &missing {
            let _ = writeln!(
                out,
                "  {id} ({}) on agent {}, last seen {}, KILLs sent {}",
                t.kind.name(),
                t.agent_id.value,
                t.last.map_or("nothing", state_name),
                t.kills_sent
            );
        }
    }
    print!("{out}");
    missing.is_empty()
}

fn main() {
    let cfg = Config::from_env();
    let keep = cfg.keep;
    let dir = std::env::temp_dir().join(format!("remesos-soak-{}", free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!(
        "soak: seed {} (SOAK_SEED), work dir {}",
        cfg.seed,
        dir.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ok = runtime.block_on(soak(cfg, dir.clone()));
    drop(runtime);
    if ok && !keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("logs and work dirs kept in {}", dir.display());
    }
    if !ok {
        std::process::exit(1);
    }
}
