//! The async shell around [`Agent`]: one tokio task owns it; the master session (gRPC),
//! executor streams (HTTP) and executor processes talk to it through [`Command`]s. It
//! sleeps until the agent's next deadline ([`Agent::next_deadline`]) or the next command;
//! the master session's decisions are [`super::session::Session`]'s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use remesos_proto::internal as wire;
use remesos_proto::v1::executor as exec;

use super::session::{Action, Ended, Session};
use super::{Agent, CallError, ConnId, Effect, Launch, Time, launcher};

/// Events queued per executor stream; full: the stream is closed (the executor
/// resubscribes) — see [`Effect::Executor`] below.
pub const EXECUTOR_STREAM_BUFFER: usize = 4096;
/// Messages queued for the master's session; full: the message is dropped with a log
/// line (status updates are retried until acknowledged; a Pong missed is a ping missed).
const MASTER_BUFFER: usize = 16384;
/// Commands waiting for the agent actor. Overflow policy: senders wait for room
/// ([`AgentHandle::send`] is async): the master session stops reading its stream (HTTP/2
/// flow control pushes back to the master), executor HTTP calls hold their request,
/// launches and exit watchers wait. Nothing is dropped; the notice that an executor
/// stream ended, sent from `Drop`, goes through [`AgentHandle::notify`].
pub const AGENT_INBOX: usize = 4096;
/// How often containers with a cgroups memory limit are checked for OOM kills (the
/// kernel's events are read by polling; only with `--isolation` including cgroups/mem).
const OOM_CHECK_INTERVAL: Duration = Duration::from_millis(300);

pub type ReadFn = Box<dyn FnOnce(&Agent) + Send>;

pub enum Command {
    MasterConnected {
        messages: mpsc::Sender<wire::AgentMessage>,
    },
    MasterDisconnected,
    FromMaster(Box<wire::master_message::Message>),
    ExecutorSubscribe {
        call: exec::Call,
        events: mpsc::Sender<exec::Event>,
        reply: oneshot::Sender<Result<ConnId, CallError>>,
    },
    ExecutorCall {
        call: exec::Call,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    ExecutorStreamClosed {
        framework_id: String,
        executor_id: String,
        conn: ConnId,
    },
    ExecutorStarted {
        framework_id: String,
        executor_id: String,
        container_id: String,
        pid: u32,
    },
    ExecutorExited {
        framework_id: String,
        executor_id: String,
        container_id: String,
        status: Option<i32>,
        error: Option<String>,
    },
    Read(ReadFn),
    /// Agent shutdown: kills the executors (all of them, or only those of frameworks that
    /// do not checkpoint, which a restarted agent could not take up); replies when the
    /// signals are sent.
    Shutdown {
        all: bool,
        done: oneshot::Sender<()>,
    },
}

#[derive(Clone)]
pub struct AgentHandle {
    tx: mpsc::Sender<Command>,
    /// Becomes true when the agent terminates at the master's request.
    terminated: tokio::sync::watch::Receiver<bool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the agent is shutting down")]
pub struct Gone;

impl AgentHandle {
    /// Queues `command`, waiting while the inbox is full ([`AGENT_INBOX`]).
    pub async fn send(&self, command: Command) -> Result<(), Gone> {
        self.tx.send(command).await.map_err(|_| Gone)
    }

    /// Queues `command` from where nothing can wait (a `Drop`, a sync function): at once
    /// when the inbox has room, otherwise from a task that waits for it. Only for notices
    /// that happen once per executor stream or process, which bounds the waiting tasks.
    pub fn notify(&self, command: Command) {
        crate::common::queue::send_or_wait(&self.tx, command);
    }

    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Agent) -> T + Send + 'static,
    ) -> Result<T, Gone> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Read(Box::new(move |a| {
            let _ = tx.send(f(a));
        })))
        .await?;
        rx.await.map_err(|_| Gone)
    }

    /// Whether the actor is running and can answer (false once it ended, e.g. panicked).
    pub fn is_serving(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Resolves when the master has shut this agent down and its executors are gone.
    pub async fn terminated(&self) {
        let mut terminated = self.terminated.clone();
        let _ = terminated.wait_for(|t| *t).await;
    }

    /// Kills the executors the agent runs (`all`, or those a restarted agent could not
    /// recover) and waits until the signals are out.
    pub async fn shutdown(&self, all: bool) {
        let (tx, rx) = oneshot::channel();
        if self.send(Command::Shutdown { all, done: tx }).await.is_ok() {
            let _ = rx.await;
        }
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "the runtime reads the clock and hands it to the agent as `now`"
)]
pub fn now() -> Time {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    Time {
        mono: tokio::time::Instant::now().into_std(),
        wall,
    }
}

struct Runtime {
    agent: Agent,
    handle: AgentHandle,
    master: Option<mpsc::Sender<wire::AgentMessage>>,
    executors: HashMap<ConnId, mpsc::Sender<exec::Event>>,
    /// Executor processes by container id (their pid leads their process group).
    pids: HashMap<String, u32>,
    files: super::files::SharedFiles,
    next_conn: ConnId,
    terminated: tokio::sync::watch::Sender<bool>,
}
/// How often a recovered executor (not our child: no wait()) is checked for life.
const RECOVERED_POLL: Duration = Duration::from_millis(200);

/// Starts the agent actor and its master session; `master` is a fixed address or a
/// detector (`zk://`), asked for the leader before every (re)connection. `recovered` are
/// the executors [`Agent::recover`] found running before a restart: watched by pid from now on.
pub fn spawn(
    agent: Agent,
    master: impl Into<crate::zk::MasterDetector>,
    files: super::files::SharedFiles,
    recovered: Vec<(String, String, String, Option<u32>)>,
) -> AgentHandle {
    let master = master.into();
    let (tx, rx) = mpsc::channel(AGENT_INBOX);
    let (terminated, terminated_rx) = tokio::sync::watch::channel(false);
    let handle = AgentHandle {
        tx,
        terminated: terminated_rx,
    };
    let backoff_factor = agent.config.registration_backoff_factor;
    let mut runtime = Runtime {
        agent,
        handle: handle.clone(),
        master: None,
        executors: HashMap::new(),
        pids: HashMap::new(),
        files,
        next_conn: 1,
        terminated,
    };
    for (framework_id, executor_id, container_id, pid) in recovered {
        match pid.filter(|p| super::isolator::alive(*p)) {
            Some(pid) => {
                tracing::info!(%framework_id, %executor_id, pid, "recovered a running executor");
                runtime.pids.insert(container_id.clone(), pid);
                tokio::spawn(watch_recovered(
                    handle.clone(),
                    framework_id,
                    executor_id,
                    container_id,
                    pid,
                ));
            }
            None => {
                tracing::warn!(%framework_id, %executor_id, "executor exited while the agent was down");
                handle.notify(Command::ExecutorExited {
                    framework_id,
                    executor_id,
                    container_id,
                    status: None,
                    error: None,
                });
            }
        }
    }
    // A panic in the actor exits the process (crate::supervisor): a restarted agent
    // recovers its executors; one left running would answer nothing yet look healthy.
    crate::supervisor::supervise(
        tokio::spawn(runtime.run(rx)),
        crate::supervisor::exit_on_panic("agent"),
    );
    tokio::spawn(master_session(handle.clone(), master, backoff_factor));
    handle
}

/// The master session's shell: connects to the leader the detector names, registers,
/// relays messages, and carries out what [`Session`] decides about backoff, expiry and a
/// change of leader.
async fn master_session(
    handle: AgentHandle,
    detector: crate::zk::MasterDetector,
    backoff_factor: Duration,
) {
    let mut session = Session::new(backoff_factor);
    // The master of the last session: a different leader ends a backoff wait.
    let mut last: Option<String> = None;
    loop {
        while !session.may_connect(instant()) {
            let deadline = session.next_deadline().map(tokio::time::Instant::from_std);
            tokio::select! {
                () = sleep_until(deadline) => {
                    session.deadline_passed(instant(), fraction());
                }
                // Mesos's agent reregisters as soon as it detects a new leader.
                _ = changed_from(&detector, last.as_deref()) => session.master_changed(),
            }
        }
        let master = detector.leader().await;
        let actions = run_session(&handle, &detector, &master, &mut session).await;
        for action in actions {
            match action {
                Action::Disconnect { why } => {
                    tracing::warn!(%master, error = %why, "master session ended");
                    if handle.send(Command::MasterDisconnected).await.is_err() {
                        return;
                    }
                }
            }
        }
        last = Some(master);
    }
}

/// The monotonic clock the session is driven by (tokio's, so paused in tests).
fn instant() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// A uniformly random fraction in `[0, 1)` for the backoff.
fn fraction() -> f64 {
    rand::rng().random::<f64>()
}

/// Sleeps until `deadline`; never wakes without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves when the detector names a leader other than `master`; never without one.
async fn changed_from(detector: &crate::zk::MasterDetector, master: Option<&str>) {
    match master {
        Some(master) => {
            detector.changed_from(master).await;
        }
        None => std::future::pending().await,
    }
}

/// Reports when an executor started by an earlier run of the agent exits.
async fn watch_recovered(
    handle: AgentHandle,
    framework_id: String,
    executor_id: String,
    container_id: String,
    pid: u32,
) {
    while super::isolator::alive(pid) {
        tokio::time::sleep(RECOVERED_POLL).await;
    }
    let _ = handle
        .send(Command::ExecutorExited {
            framework_id,
            executor_id,
            container_id,
            status: None,
            error: None,
        })
        .await;
}

/// One session with `master`, until it ends: returns what [`Session`] decided then.
async fn run_session(
    handle: &AgentHandle,
    detector: &crate::zk::MasterDetector,
    master: &str,
    session: &mut Session,
) -> Vec<Action> {
    // A new leader ends the session with the old one at once.
    let connected = tokio::select! {
        r = connect(handle, master) => r,
        _ = detector.changed_from(master) => {
            return session.ended(instant(), Ended::MasterChanged, fraction());
        }
    };
    let mut inbound = match connected {
        Ok((inbound, reregister)) => {
            session.connected(master, reregister);
            inbound
        }
        Err(e) => return session.ended(instant(), Ended::Failed(e), fraction()),
    };
    loop {
        let deadline = session.next_deadline().map(tokio::time::Instant::from_std);
        let how = tokio::select! {
            message = inbound.next() => match message {
                None => Ended::Closed,
                Some(Err(e)) => Ended::Failed(e.message().to_string()),
                Some(Ok(wire::MasterMessage { message: None })) => continue,
                Some(Ok(wire::MasterMessage { message: Some(m) })) => {
                    use wire::master_message::Message as M;
                    match &m {
                        M::Registered(r) => session.registered(instant(), r.ping_interval_seconds),
                        M::Reregistered(r) => {
                            session.registered(instant(), r.ping_interval_seconds)
                        }
                        M::Ping(_) => session.pinged(instant()),
                        _ => {}
                    }
                    match handle.send(Command::FromMaster(Box::new(m))).await {
                        Ok(()) => continue,
                        Err(e) => Ended::Failed(e.to_string()),
                    }
                }
            },
            _ = detector.changed_from(master) => Ended::MasterChanged,
            () = sleep_until(deadline) => {
                let actions = session.deadline_passed(instant(), fraction());
                if actions.is_empty() {
                    continue;
                }
                return actions;
            }
        };
        return session.ended(instant(), how, fraction());
    }
}

/// Connects to `master` and opens the session with Register or Reregister: the inbound
/// stream, and whether it reregisters.
async fn connect(
    handle: &AgentHandle,
    master: &str,
) -> Result<(tonic::Streaming<wire::MasterMessage>, bool), String> {
    let endpoint = format!("http://{master}");
    let mut client = wire::agent_service_client::AgentServiceClient::connect(endpoint)
        .await
        .map_err(|e| e.to_string())?
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024);
    let hello = handle
        .read(|a| a.hello())
        .await
        .map_err(|e| e.to_string())?;
    let reregister = matches!(hello, wire::agent_message::Message::Reregister(_));
    let (tx, rx) = mpsc::channel(MASTER_BUFFER);
    tx.send(wire::AgentMessage {
        message: Some(hello),
    })
    .await
    .map_err(|e| e.to_string())?;
    let inbound = client
        .session(ReceiverStream::new(rx))
        .await
        .map_err(|e| e.message().to_string())?
        .into_inner();
    handle
        .send(Command::MasterConnected { messages: tx })
        .await
        .map_err(|e| e.to_string())?;
    Ok((inbound, reregister))
}

impl Runtime {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        // Only with cgroups memory limits: the kernel's OOM kills are found by polling.
        let mut oom_check = self
            .agent
            .config
            .isolation
            .cgroups_mem
            .then(|| tokio::time::interval(OOM_CHECK_INTERVAL));
        if let Some(interval) = &mut oom_check {
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        self.perform();
        loop {
            let deadline = self
                .agent
                .next_deadline()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                command = rx.recv() => {
                    let Some(command) = command else { break };
                    self.handle(command);
                    self.perform();
                }
                () = sleep_until(deadline) => {}
                _ = tick(&mut oom_check) => self.check_limits(),
            }
            // The timers that are due run now. A command can also make work due at once
            // (a terminating agent whose last executor ended), so the agent looks after
            // every wake; what is not due yet it leaves alone.
            self.agent.tick(now());
            self.perform();
        }
    }

    fn handle(&mut self, command: Command) {
        let t = now();
        match command {
            Command::MasterConnected { messages } => self.master = Some(messages),
            Command::MasterDisconnected => {
                self.master = None;
                self.agent.master_disconnected();
            }
            Command::FromMaster(m) => self.agent.from_master(t, *m),
            Command::ExecutorSubscribe {
                call,
                events,
                reply,
            } => {
                let conn = self.next_conn;
                self.next_conn += 1;
                self.executors.insert(conn, events);
                match self.agent.executor_subscribe(t, conn, call) {
                    Ok(()) => {
                        let _ = reply.send(Ok(conn));
                    }
                    Err(e) => {
                        self.executors.remove(&conn);
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::ExecutorCall { call, reply } => {
                // A terminal update may be the first sign of an OOM kill: look before the
                // agent takes it, so the task ends with the limitation.
                let terminal = call.update.as_ref().is_some_and(|u| {
                    remesos_proto::v1::TaskState::try_from(u.status.state)
                        .is_ok_and(crate::common::protocol::is_terminal)
                });
                if terminal && self.agent.config.isolation.cgroups_mem {
                    let container = self
                        .agent
                        .frameworks
                        .get(&call.framework_id.value)
                        .and_then(|f| f.executors.get(&call.executor_id.value))
                        .map(|e| e.container_id.clone());
                    if let Some(container_id) = container {
                        self.check_memory(&container_id);
                    }
                }
                let _ = reply.send(self.agent.executor_call(t, call));
            }
            Command::ExecutorStreamClosed {
                framework_id,
                executor_id,
                conn,
            } => {
                self.executors.remove(&conn);
                self.agent
                    .executor_disconnected(&framework_id, &executor_id, conn);
            }
            Command::ExecutorStarted {
                framework_id,
                executor_id,
                container_id,
                pid,
            } => {
                self.pids.insert(container_id.clone(), pid);
                self.agent
                    .executor_started(&framework_id, &executor_id, &container_id, pid);
            }
            Command::ExecutorExited {
                framework_id,
                executor_id,
                container_id,
                status,
                error,
            } => {
                self.pids.remove(&container_id);
                if self.agent.config.isolation.cgroups_mem {
                    // An OOM kill of the executor itself shows only here.
                    self.check_memory(&container_id);
                }
                if self.agent.config.isolation.uses_cgroups() {
                    let isolation = self.agent.config.isolation.clone();
                    let id = container_id.clone();
                    tokio::task::spawn_blocking(move || isolation.destroy(&id));
                }
                self.agent.executor_exited(
                    t,
                    &framework_id,
                    &executor_id,
                    &container_id,
                    status,
                    error,
                );
            }
            Command::Read(f) => f(&self.agent),
            Command::Shutdown { all, done } => {
                for container_id in self.agent.containers(all) {
                    if let Some(pid) = self.pids.get(&container_id) {
                        launcher::signal_group(*pid, true);
                    }
                    self.agent.config.isolation.kill_all(&container_id);
                }
                let _ = done.send(());
            }
        }
    }

    /// Containers over a cgroups limit become limitations (see [`Agent::container_limited`]).
    fn check_limits(&mut self) {
        if !self.agent.config.isolation.cgroups_mem {
            return;
        }
        let containers: Vec<String> = self.pids.keys().cloned().collect();
        for container_id in containers {
            self.check_memory(&container_id);
        }
    }

    fn check_memory(&mut self, container_id: &str) {
        let isolation = &self.agent.config.isolation;
        if isolation.oom_killed(container_id) {
            let message = isolation.memory_limitation_message(container_id);
            self.agent.container_limited(
                container_id,
                remesos_proto::v1::task_status::Reason::ContainerLimitationMemory,
                message,
            );
        }
    }

    fn perform(&mut self) {
        loop {
            let effects = self.agent.drain_effects();
            if effects.is_empty() {
                return;
            }
            for effect in effects {
                self.perform_one(effect);
            }
        }
    }

    fn perform_one(&mut self, effect: Effect) {
        match effect {
            Effect::Master(message) => {
                if let Some(master) = &self.master
                    && master
                        .try_send(wire::AgentMessage {
                            message: Some(*message),
                        })
                        .is_err()
                {
                    tracing::warn!(
                        "master session is backed up; dropping a message (updates are retried)"
                    );
                }
            }
            Effect::Executor { conn, event } => {
                if let Some(events) = self.executors.get(&conn)
                    && events.try_send(*event).is_err()
                {
                    tracing::warn!(conn, "executor stream is not being read; closing it");
                    self.executors.remove(&conn);
                }
            }
            Effect::CloseExecutor { conn } => {
                self.executors.remove(&conn);
            }
            Effect::Launch(launch) => {
                // The sandbox exists before the effects after this one (attaching it to
                // /files) run.
                if let Err(e) = std::fs::create_dir_all(&launch.sandbox) {
                    tracing::error!(sandbox = %launch.sandbox.display(), error = %e, "failed to create a sandbox");
                }
                let handle = self.handle.clone();
                let settings = LaunchSettings {
                    clear_env: self.agent.config.executor_environment.is_some(),
                    fetch: self.agent.config.fetch.clone(),
                    isolation: self.agent.config.isolation.clone(),
                    launcher_dir: self.agent.config.launcher_dir.clone(),
                };
                tokio::spawn(launch_executor(handle, *launch, settings));
            }
            Effect::Signal { container_id, kill } => {
                if let Some(pid) = self.pids.get(&container_id) {
                    launcher::signal_group(*pid, kill);
                }
                if kill {
                    self.agent.config.isolation.kill_all(&container_id);
                }
            }
            Effect::Resize {
                container_id,
                limits,
            } => {
                let isolation = &self.agent.config.isolation;
                if isolation.hierarchy.is_some()
                    && let Err(e) = isolation.update(&container_id, limits)
                {
                    tracing::warn!(%container_id, error = %e, "failed to resize a container");
                }
            }
            Effect::Destroy { container_id } => {
                if let Some(pid) = self.pids.get(&container_id) {
                    launcher::signal_group(*pid, true);
                }
                self.agent.config.isolation.kill_all(&container_id);
            }
            Effect::Persist { path, data, append } => {
                if let Err(e) = persist(&path, &data, append) {
                    tracing::error!(path = %path.display(), error = %e, "checkpoint failed");
                }
            }
            Effect::Terminate => {
                let latest = super::paths::meta_dir(&self.agent.config.work_dir)
                    .join("slaves")
                    .join("latest");
                if let Err(e) = std::fs::remove_file(&latest)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %latest.display(), error = %e, "failed to remove");
                }
                self.terminated.send_replace(true);
            }
            Effect::Link { path, target } => {
                if let Some(parent) = path.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let _ = std::fs::remove_file(&path);
                if let Err(e) = std::os::unix::fs::symlink(&target, &path) {
                    tracing::warn!(path = %path.display(), error = %e, "failed to link");
                }
            }
            Effect::Attach { sandbox, paths } => {
                // The lock is held only for these inserts; request handlers take it briefly
                // in spawn_blocking (see files.rs).
                if let Ok(mut files) = self.files.write() {
                    for path in paths {
                        if let Err(e) = files.attach(&path, &sandbox) {
                            tracing::warn!(%path, error = %e, "failed to attach a sandbox to /files");
                        }
                    }
                }
            }
        }
    }
}

/// The next tick of `interval`; never without one.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Writes a checkpoint: appends a record, or replaces a file atomically (write, fsync, rename).
fn persist(path: &Path, data: &[u8], append: bool) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if append {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.write_all(data)?;
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// The agent's settings a launch needs.
struct LaunchSettings {
    clear_env: bool,
    fetch: super::fetcher::FetchOptions,
    isolation: super::isolator::Isolation,
    /// Where `remesos` lives: the fetcher runs as `remesos fetcher`.
    launcher_dir: PathBuf,
}

/// Prepares the sandbox (directories, `latest` link, fetched URIs) and starts the executor;
/// reports its pid and, later, how it ended.
async fn launch_executor(handle: AgentHandle, launch: Launch, settings: LaunchSettings) {
    let exited = |status: Option<i32>, error: Option<String>| Command::ExecutorExited {
        framework_id: launch.framework_id.clone(),
        executor_id: launch.executor_id.clone(),
        container_id: launch.container_id.clone(),
        status,
        error,
    };
    let child = match prepare_and_spawn(&launch, &settings).await {
        Ok(child) => child,
        Err(error) => {
            let _ = append_stderr(&launch.sandbox, &format!("{error}\n"));
            let _ = handle.send(exited(None, Some(error))).await;
            return;
        }
    };
    let mut child = child;
    if let Some(pid) = child.id() {
        // Checkpointed so that a restarted agent finds the executor (recovery.rs).
        if let Err(e) = persist(&launch.pid_file, pid.to_string().as_bytes(), false) {
            tracing::error!(path = %launch.pid_file.display(), error = %e, "failed to checkpoint the executor's pid");
        }
        let _ = handle
            .send(Command::ExecutorStarted {
                framework_id: launch.framework_id.clone(),
                executor_id: launch.executor_id.clone(),
                container_id: launch.container_id.clone(),
                pid,
            })
            .await;
    }
    let status = match child.wait().await {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            Some(s.into_raw())
        }
        Err(_) => None,
    };
    let _ = handle.send(exited(status, None)).await;
}

async fn prepare_and_spawn(
    launch: &Launch,
    settings: &LaunchSettings,
) -> Result<tokio::process::Child, String> {
    let sandbox = &launch.sandbox;
    let command = &launch.command;
    std::fs::create_dir_all(sandbox)
        .map_err(|e| format!("Failed to create sandbox {}: {e}", sandbox.display()))?;
    if let Some(runs) = sandbox.parent() {
        let latest = runs.join("latest");
        let _ = std::fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(&launch.container_id, &latest);
    }
    let creds = launcher::credentials(launch.user.as_deref())?;
    // The sandbox's logs exist before anything the task's user controls runs in it, and
    // the sandbox and its logs go to that user before the fetch (Mesos chowns the sandbox
    // before fetching too): the fetcher then writes only as the user.
    let stderr = {
        use std::os::fd::AsFd;
        let dir = super::beneath::open_dir(sandbox)
            .map_err(|e| format!("Failed to open sandbox {}: {e}", sandbox.display()))?;
        let stdout = super::beneath::open_log(dir.as_fd(), "stdout")
            .map_err(|e| format!("Failed to prepare the sandbox: {e}"))?;
        let stderr = super::beneath::open_log(dir.as_fd(), "stderr")
            .map_err(|e| format!("Failed to prepare the sandbox: {e}"))?;
        if let Some(creds) = &creds {
            let chown = |file: &std::fs::File| {
                std::os::unix::fs::fchown(file, Some(creds.uid), Some(creds.gid))
            };
            chown(&std::fs::File::from(dir))
                .and_then(|()| chown(&stdout))
                .and_then(|()| chown(&stderr))
                .map_err(|e| format!("Failed to chown the sandbox: {e}"))?;
        }
        stderr
    };
    if !command.uris.is_empty() {
        fetch_into(sandbox, &command.uris, settings, creds.as_ref(), stderr).await?;
    }
    let cmd = launcher::command(command)?;
    let confinement = launcher::Confinement {
        cgroup_procs: settings
            .isolation
            .create(&launch.container_id, launch.limits)?,
        pid_namespace: settings.isolation.pid_namespace,
    };
    launcher::spawn(
        cmd,
        sandbox,
        &launch.environment,
        settings.clear_env,
        creds,
        &confinement,
    )
    .map_err(|e| {
        format!(
            "Failed to launch the executor {:?}: {e}",
            command.value.clone().unwrap_or_default()
        )
    })
}

/// How much of the fetcher's stdout (its error message) the agent reads.
const FETCHER_ANSWER_LIMIT: u64 = 64 * 1024;
/// How long past `--executor_registration_timeout` (the fetch's own bound) the agent waits
/// for a fetcher that does not end before killing it.
const FETCHER_GRACE: Duration = Duration::from_secs(10);

/// Fetches the command's URIs into the sandbox in a `remesos fetcher` child process running
/// as the task's user (`creds`) or, without one, as the agent's user; its log goes to the
/// sandbox's `stderr`, as Mesos's does (reference §4.4). The error is the task's TASK_FAILED
/// message. Without the `remesos` binary in `--launcher_dir` (an embedding that has none) and
/// with no user to switch to, the fetch runs in the agent's process instead.
async fn fetch_into(
    sandbox: &Path,
    uris: &[remesos_proto::v1::command_info::Uri],
    settings: &LaunchSettings,
    creds: Option<&launcher::Credentials>,
    mut stderr: std::fs::File,
) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let options = &settings.fetch;
    let binary = settings.launcher_dir.join("remesos");
    if !binary.is_file() {
        if let Some(creds) = creds {
            return Err(format!(
                "Failed to fetch as uid {}: the fetcher '{}' does not exist",
                creds.uid,
                binary.display()
            ));
        }
        return super::fetcher::fetch(uris, sandbox, options, &mut stderr)
            .await
            .map_err(|e| e.to_string());
    }
    let request = super::fetcher::request_to_json(uris, sandbox, options)
        .map_err(|e| format!("Failed to start the fetcher: {e}"))?;
    #[allow(
        clippy::disallowed_methods,
        reason = "the agent runs the fetcher as a process"
    )]
    let mut cmd = tokio::process::Command::new(&binary);
    cmd.arg("fetcher")
        .current_dir(sandbox)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true);
    if let Some(creds) = creds.cloned() {
        // SAFETY: the closure runs between fork and exec and only makes the async-signal-safe
        // calls of `drop_privileges` on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || launcher::drop_privileges(&creds));
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("Failed to start the fetcher '{}': {e}", binary.display()))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("Failed to start the fetcher: no pipes".to_string());
    };
    let run = async {
        // A fetcher that dies early closes its stdin: its exit status tells why.
        let _ = stdin.write_all(&request).await;
        drop(stdin);
        let mut answer = Vec::new();
        let _ = stdout
            .take(FETCHER_ANSWER_LIMIT)
            .read_to_end(&mut answer)
            .await;
        let status = child.wait().await;
        (answer, status)
    };
    let (answer, status) = match options.total_timeout {
        Some(total) => tokio::time::timeout(total + FETCHER_GRACE, run)
            .await
            .map_err(|_| format!("Failed to fetch: the fetcher did not end within {total:?}"))?,
        None => run.await,
    };
    let status = status.map_err(|e| format!("Failed to wait for the fetcher: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let answer = String::from_utf8_lossy(&answer).trim().to_string();
    Err(if answer.is_empty() {
        format!("Failed to fetch: the fetcher ended with {status}")
    } else {
        answer
    })
}

/// Appends to the sandbox's `stderr` without following a symlink or opening anything but a
/// regular file (the task's user owns the sandbox by now).
fn append_stderr(sandbox: &Path, text: &str) -> std::io::Result<()> {
    super::beneath::append_log(sandbox, "stderr", text)
}

/// The sandbox path of a container, for tests and tools.
pub fn sandbox_of(agent: &Agent, framework_id: &str, executor_id: &str) -> Option<PathBuf> {
    agent
        .frameworks
        .get(framework_id)?
        .executors
        .get(executor_id)
        .map(|e| e.sandbox.clone())
}
