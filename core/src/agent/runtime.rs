//! The async shell around [`Agent`]: one tokio task owns it; the master session (gRPC),
//! executor streams (HTTP) and executor processes talk to it through [`Command`]s. It
//! sleeps until the agent's next deadline ([`Agent::next_deadline`]) or the next command;
//! the master session's decisions are [`super::session::Session`]'s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use remesos_proto::internal as wire;
use remesos_proto::v1::executor as exec;

use super::containerizer::{self, ContainerEvent, Containerizer};
use super::session::{Action, Ended, Session};
use super::{Agent, CallError, ConnId, Effect, ExecutorKey};

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
        /// Who authenticated the call, when executors authenticate.
        caller: Option<super::authn::Caller>,
        events: mpsc::Sender<exec::Event>,
        reply: oneshot::Sender<Result<ConnId, CallError>>,
    },
    ExecutorCall {
        call: exec::Call,
        caller: Option<super::authn::Caller>,
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
    /// The container's own IP addresses ([`ContainerEvent::Network`]).
    ExecutorNetwork {
        framework_id: String,
        executor_id: String,
        container_id: String,
        ip_addresses: Vec<String>,
    },
    Read(ReadFn),
    /// The work_dir's filesystem usage (0..1), measured every `--disk_watch_interval`.
    DiskUsage(Result<f64, String>),
    /// Containers' disk use (`disk/du`), measured every `--container_disk_watch_interval`.
    ContainersDisk(Vec<(super::disk_du::WatchedPath, u64)>),
    /// How the removals of an [`Effect::Remove`] ended.
    GcRemoved(Vec<(PathBuf, super::gc::collector::Outcome)>),
    /// Agent shutdown: kills the executors (all of them, or only those of frameworks that
    /// do not checkpoint, which a restarted agent could not take up); replies when the
    /// signals are sent.
    Shutdown {
        all: bool,
        done: oneshot::Sender<()>,
    },
    /// The mesos containerizer's image provisioner (`None` without `--image_providers`),
    /// for PRUNE_IMAGES: the caller prunes off the actor.
    Provisioner(oneshot::Sender<Option<containerizer::provisioner::Provisioner>>),
}

#[derive(Clone)]
pub struct AgentHandle {
    tx: mpsc::Sender<Command>,
    /// Becomes true when the agent terminates at the master's request.
    terminated: tokio::sync::watch::Receiver<bool>,
    /// The live executor containers' own addresses (executor_peers.rs), published by the
    /// actor after each command.
    container_peers: tokio::sync::watch::Receiver<super::executor_peers::ContainerPeers>,
}

#[derive(Debug, thiserror::Error)]
#[error("the agent is shutting down")]
pub struct Gone;

impl AgentHandle {
    /// The mesos containerizer's image provisioner, if images are enabled.
    pub async fn provisioner(
        &self,
    ) -> Result<Option<containerizer::provisioner::Provisioner>, Gone> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Provisioner(tx)).await?;
        rx.await.map_err(|_| Gone)
    }

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

    /// The executor containers' addresses, as last published (never waits on the actor).
    pub fn container_peers(
        &self,
    ) -> tokio::sync::watch::Receiver<super::executor_peers::ContainerPeers> {
        self.container_peers.clone()
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

pub use crate::common::time::now;

struct Runtime {
    agent: Agent,
    master: Option<mpsc::Sender<wire::AgentMessage>>,
    executors: HashMap<ConnId, mpsc::Sender<exec::Event>>,
    /// Runs the executors' containers (the agent's `Launch`, `Signal`, `Resize`, `Destroy`).
    containerizer: Box<dyn Containerizer>,
    /// The mesos containerizer's provisioner (shared with it; clones share its locks).
    provisioner: Option<containerizer::provisioner::Provisioner>,
    files: super::files::SharedFiles,
    next_conn: ConnId,
    terminated: tokio::sync::watch::Sender<bool>,
    /// Where the executor containers' addresses are published for the executor API.
    container_peers: tokio::sync::watch::Sender<super::executor_peers::ContainerPeers>,
    /// Takes removed directories out of the work_dir's layout (gc/sweep.rs).
    sweeper: super::gc::sweep::Sweeper,
    /// This actor's own inbox: where deletions and disk usage, done off the actor, report.
    inbox: AgentHandle,
    /// A `disk/du` round is being measured (one at a time: a slow disk skips ticks).
    measuring_containers: bool,
    /// The task whose launch-path command is being handled, while phase lines are on
    /// ([`traced`]): each effect performed for it is a phase line too.
    traced: Option<String>,
}

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
    let (container_peers, container_peers_rx) =
        tokio::sync::watch::channel(agent.container_peers());
    let handle = AgentHandle {
        tx,
        terminated: terminated_rx,
        container_peers: container_peers_rx,
    };
    let backoff_factor = agent.config.registration_backoff_factor;
    let provisioner = agent.config.images.clone().map(|images| {
        let provisioner = containerizer::provisioner::Provisioner::new(images);
        provisioner.spawn_gc();
        provisioner
    });
    let mut containerizer = containerizer(&agent, handle.clone(), provisioner.clone());
    let recovered = recovered
        .into_iter()
        .map(|(framework_id, executor_id, container_id, pid)| {
            // The checkpointed ExecutorInfo's container decides who takes it up.
            let container = ExecutorKey::parse(&framework_id, &executor_id)
                .and_then(|key| agent.executor(&key))
                .and_then(|e| e.info.container.clone());
            containerizer::Recovered {
                framework_id,
                executor_id,
                container_id,
                pid,
                container,
            }
        })
        .collect();
    containerizer.recover(recovered);
    // What a crash left half-deleted goes first (off the actor; deletions run one at a
    // time, gc/sweep.rs).
    let work_dir = agent.config.work_dir.clone();
    let sweeper = super::gc::sweep::Sweeper::new(&work_dir);
    let mine = sweeper.trash().to_path_buf();
    tokio::task::spawn_blocking(move || super::gc::sweep::empty_trash(&work_dir, &mine));
    let runtime = Runtime {
        sweeper,
        inbox: handle.clone(),
        agent,
        master: None,
        executors: HashMap::new(),
        containerizer,
        provisioner,
        files,
        next_conn: 1,
        terminated,
        container_peers,
        measuring_containers: false,
        traced: None,
    };
    // A panic in the actor exits the process (crate::supervisor): a restarted agent
    // recovers its executors; one left running would answer nothing yet look healthy.
    crate::supervisor::supervise(
        tokio::spawn(runtime.run(rx)),
        crate::supervisor::exit_on_panic("agent"),
    );
    tokio::spawn(master_session(handle.clone(), master, backoff_factor));
    handle
}

/// The containerizers of `--containerizers` behind Mesos's composing one, with the agent's
/// settings, reporting to the agent's actor.
fn containerizer(
    agent: &Agent,
    handle: AgentHandle,
    provisioner: Option<containerizer::provisioner::Provisioner>,
) -> Box<dyn Containerizer> {
    let settings = containerizer::posix::LaunchSettings {
        clear_env: agent.config.executor_environment.is_some(),
        fetch: agent.config.fetch.clone(),
        fetcher_cache: agent.config.fetcher_cache.clone(),
        container_logger: agent.config.container_logger.clone(),
        systemd_slice: agent.config.systemd.slice_procs.clone(),
        isolation: agent.config.isolation.clone(),
        launcher_dir: agent.config.launcher_dir.clone(),
        executor_as_agent: false,
        switch_user: agent.config.switch_user,
        provisioner,
    };
    let report: containerizer::Reporter = std::sync::Arc::new(move |event| {
        handle.notify(match event {
            ContainerEvent::Started {
                framework_id,
                executor_id,
                container_id,
                pid,
            } => Command::ExecutorStarted {
                framework_id,
                executor_id,
                container_id,
                pid,
            },
            ContainerEvent::Network {
                framework_id,
                executor_id,
                container_id,
                ip_addresses,
            } => Command::ExecutorNetwork {
                framework_id,
                executor_id,
                container_id,
                ip_addresses,
            },
            ContainerEvent::Exited {
                framework_id,
                executor_id,
                container_id,
                status,
                error,
            } => Command::ExecutorExited {
                framework_id,
                executor_id,
                container_id,
                status,
                error,
            },
        });
    });
    let mut members: Vec<(containerizer::Kind, Box<dyn Containerizer>)> = Vec::new();
    for kind in &agent.config.containerizers {
        let member: Box<dyn Containerizer> = match kind {
            containerizer::Kind::Mesos => Box::new(containerizer::posix::Posix::new(
                settings.clone(),
                report.clone(),
            )),
            containerizer::Kind::Docker => match &agent.config.docker {
                Some(docker) => Box::new(containerizer::docker::Docker::new(
                    docker.clone(),
                    settings.clone(),
                    report.clone(),
                )),
                // flags.rs always sets it with `docker` in --containerizers.
                None => continue,
            },
        };
        members.push((*kind, member));
    }
    Box::new(containerizer::Composing::new(members, report))
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
                    session.deadline_passed(instant());
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
            return session.ended(instant(), Ended::MasterChanged);
        }
    };
    let mut inbound = match connected {
        Ok((inbound, reregister)) => {
            session.connected(master, reregister);
            inbound
        }
        Err(e) => return session.ended(instant(), Ended::Failed(e)),
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
                let actions = session.deadline_passed(instant());
                if actions.is_empty() {
                    continue;
                }
                return actions;
            }
        };
        return session.ended(instant(), how);
    }
}

/// Connects to `master` and opens the session with Register or Reregister: the inbound
/// stream, and whether it reregisters.
async fn connect(
    handle: &AgentHandle,
    master: &str,
) -> Result<(tonic::Streaming<wire::MasterMessage>, bool), String> {
    // TLS as this process's LIBPROCESS_SSL_* says (checked at start: the error is not
    // expected here).
    let tls = crate::security::tls::current()?;
    let scheme = crate::security::tls::Tls::scheme(tls.as_deref());
    let endpoint = tonic::transport::Endpoint::from_shared(format!("{scheme}://{master}"))
        .map_err(|e| e.to_string())?;
    let channel = match tls {
        Some(tls) => {
            endpoint
                .connect_with_connector(crate::security::tls::h2_connector(tls))
                .await
        }
        None => endpoint.connect().await,
    }
    .map_err(|e| crate::common::error_chain(&e))?;
    let mut client = wire::agent_service_client::AgentServiceClient::new(channel)
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024);
    let (hello, authorization) = handle
        .read(|a| {
            let credential = a.config.security.credential.as_ref().map(|c| c.basic());
            (a.hello(), credential)
        })
        .await
        .map_err(|e| e.to_string())?;
    let reregister = matches!(hello, wire::agent_message::Message::Reregister(_));
    let (tx, rx) = mpsc::channel(MASTER_BUFFER);
    tx.send(wire::AgentMessage {
        message: Some(hello),
    })
    .await
    .map_err(|e| e.to_string())?;
    // `--credential` as HTTP Basic in the session request's metadata (agent/authn.rs).
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    if let Some(basic) = authorization {
        let value = tonic::metadata::MetadataValue::try_from(basic.as_str())
            .map_err(|_| "the credential cannot be sent as a header".to_string())?;
        request.metadata_mut().insert("authorization", value);
    }
    let inbound = client
        .session(request)
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
        // Mesos's `checkDiskUsage`: first one interval after the start, then every interval.
        let watch = self.agent.config.gc.disk_watch_interval;
        let mut disk_watch = Some(tokio::time::interval_at(
            tokio::time::Instant::now() + watch,
            watch,
        ));
        if let Some(interval) = &mut disk_watch {
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        // disk/du: every --container_disk_watch_interval, the first one interval after start.
        // disk/xfs with --xfs_kill_containers: soft limits checked at the same interval.
        let xfs_watch = self
            .agent
            .config
            .isolation
            .disk_xfs
            .as_ref()
            .filter(|x| x.policy == super::disk_xfs::QuotaPolicy::EnforcingActive)
            .map(|x| x.watch_interval);
        let watch_interval = self
            .agent
            .config
            .isolation
            .disk_du
            .map(|d| d.watch_interval)
            .or(xfs_watch);
        let mut container_disk_watch = watch_interval.map(|watch_interval| {
            let mut interval = tokio::time::interval_at(
                tokio::time::Instant::now() + watch_interval,
                watch_interval,
            );
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        self.perform();
        loop {
            let deadline = self
                .agent
                .next_deadline()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                command = rx.recv() => {
                    let Some(command) = command else { break };
                    let traced = traced(&command);
                    if let Some((phase, id)) = &traced {
                        crate::common::time::phase(&format!("{phase}_received"), id);
                    }
                    self.traced = traced.as_ref().map(|(_, id)| id.clone());
                    self.handle(command);
                    self.perform();
                    self.traced = None;
                    if let Some((phase, id)) = &traced {
                        crate::common::time::phase(&format!("{phase}_done"), id);
                    }
                }
                () = sleep_until(deadline) => {}
                _ = tick(&mut oom_check) => self.check_limits(None),
                _ = tick(&mut disk_watch) => self.measure_disk(),
                _ = tick(&mut container_disk_watch) => {
                    self.measure_containers_disk();
                    if xfs_watch.is_some() {
                        self.check_limits(None);
                    }
                }
            }
            // The timers run once due, as the master's do: a command that makes work due at
            // once leaves a deadline in the past, which the next turn sleeps zero time for.
            let t = now();
            if deadline.is_some_and(|d| t.mono >= d.into_std()) {
                self.agent.tick(t);
                self.perform();
            }
            // One pass over the executors per turn; receivers wake only on a change.
            let peers = self.agent.container_peers();
            self.container_peers.send_if_modified(|old| {
                let changed = *old != peers;
                if changed {
                    *old = peers;
                }
                changed
            });
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
                caller,
                events,
                reply,
            } => {
                if let Err(e) = self.agent.verify_executor_caller(&call, caller.as_ref()) {
                    let _ = reply.send(Err(e));
                    return;
                }
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
            Command::ExecutorCall {
                call,
                caller,
                reply,
            } => {
                if let Err(e) = self.agent.verify_executor_caller(&call, caller.as_ref()) {
                    let _ = reply.send(Err(e));
                    return;
                }
                // A terminal update may be the first sign of an OOM kill: look before the
                // agent takes it, so the task ends with the limitation.
                let terminal = call.update.as_ref().is_some_and(|u| {
                    remesos_proto::v1::TaskState::try_from(u.status.state)
                        .is_ok_and(crate::common::protocol::is_terminal)
                });
                if terminal {
                    let container =
                        ExecutorKey::parse(&call.framework_id.value, &call.executor_id.value)
                            .and_then(|key| self.agent.executor(&key))
                            .map(|e| e.container_id.clone());
                    if let Some(container_id) = container {
                        self.check_limits(Some(&container_id));
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
                self.containerizer.started(&container_id, pid);
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
                if let Some(limitation) = self.containerizer.exited(&container_id) {
                    self.agent.container_limited(
                        &limitation.container_id,
                        limitation.reason,
                        limitation.message,
                    );
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
            Command::ExecutorNetwork {
                framework_id,
                executor_id,
                container_id,
                ip_addresses,
            } => self.agent.executor_network(
                &framework_id,
                &executor_id,
                &container_id,
                ip_addresses,
            ),
            Command::Provisioner(reply) => {
                let _ = reply.send(self.provisioner.clone());
            }
            Command::DiskUsage(usage) => self.agent.check_disk_usage(t, usage),
            Command::ContainersDisk(measured) => {
                self.measuring_containers = false;
                self.agent.container_disk_usage(measured);
            }
            Command::GcRemoved(results) => self.agent.gc_removed(results),
            Command::Shutdown { all, done } => {
                for container_id in self.agent.containers(all) {
                    self.containerizer.destroy(&container_id);
                }
                let _ = done.send(());
            }
        }
    }

    /// Measures the work_dir's filesystem off the actor; the usage comes back as
    /// [`Command::DiskUsage`].
    fn measure_disk(&self) {
        if let Some(xfs) = self.agent.config.isolation.disk_xfs.clone() {
            // disk/xfs: projects whose sandboxes were collected are reclaimed.
            tokio::task::spawn_blocking(move || xfs.reclaim());
        }
        let work_dir = self.agent.config.work_dir.clone();
        let inbox = self.inbox.clone();
        tokio::spawn(async move {
            let usage =
                tokio::task::spawn_blocking(move || super::gc::sweep::disk_usage(&work_dir))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
            let _ = inbox.send(Command::DiskUsage(usage)).await;
        });
    }

    /// `disk/du`: the watched paths' use, measured off the actor, comes back as
    /// [`Command::ContainersDisk`]. A path that cannot be read (its container just ended)
    /// is left out.
    fn measure_containers_disk(&mut self) {
        if self.measuring_containers || self.agent.config.isolation.disk_du.is_none() {
            return;
        }
        let watched = self.agent.disk_watch();
        if watched.is_empty() {
            return;
        }
        self.measuring_containers = true;
        let inbox = self.inbox.clone();
        tokio::spawn(async move {
            let measured = tokio::task::spawn_blocking(move || {
                watched
                    .into_iter()
                    .filter_map(|w| {
                        let used = super::disk_du::usage(&w.path, &w.excludes).ok()?;
                        Some((w, used))
                    })
                    .collect()
            })
            .await
            .unwrap_or_default();
            let _ = inbox.send(Command::ContainersDisk(measured)).await;
        });
    }

    /// Containers over a limit (`container_id`'s, or all) become limitations (see
    /// [`Agent::container_limited`]).
    fn check_limits(&mut self, container_id: Option<&str>) {
        for limitation in self.containerizer.limitations(container_id) {
            self.agent.container_limited(
                &limitation.container_id,
                limitation.reason,
                limitation.message,
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
        let traced = self
            .traced
            .as_ref()
            .map(|id| (id.clone(), effect_name(&effect)));
        self.perform_effect(effect);
        if let Some((id, name)) = traced {
            crate::common::time::phase(&format!("agent_effect_{name}"), &id);
        }
    }

    fn perform_effect(&mut self, effect: Effect) {
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
            Effect::Launch(launch) => self.containerizer.launch(*launch),
            Effect::Signal { container_id, kill } => self.containerizer.signal(&container_id, kill),
            Effect::Resize {
                container_id,
                limits,
            } => self.containerizer.update(&container_id, limits),
            Effect::Destroy { container_id } => self.containerizer.destroy(&container_id),
            Effect::CheckpointResources(checkpoint) => {
                if let Err(e) = checkpoint.perform() {
                    tracing::error!(path = %checkpoint.info.display(), error = %e, "failed to checkpoint resources or sync persistent volumes");
                }
            }
            Effect::Persist {
                path,
                data,
                append,
                durable,
            } => {
                if let Err(e) = super::recovery::checkpoint(&path, &data, append, durable) {
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
            Effect::Touch { path } => super::gc::sweep::touch(&path),
            Effect::Remove(removals) => {
                // Gone from /files first, then out of the layout (on the actor, in order
                // with launches), then deleted off the actor.
                if let Ok(mut files) = self.files.write() {
                    for path in removals.iter().flat_map(|r| r.detach.iter()) {
                        files.detach(path);
                    }
                }
                let batch = self.sweeper.take_out(&removals);
                let inbox = self.inbox.clone();
                tokio::spawn(async move {
                    let results =
                        tokio::task::spawn_blocking(move || super::gc::sweep::delete(batch)).await;
                    match results {
                        Ok(results) => {
                            let _ = inbox.send(Command::GcRemoved(results)).await;
                        }
                        Err(e) => tracing::error!(error = %e, "garbage collection failed"),
                    }
                });
            }
            Effect::Attach {
                sandbox,
                paths,
                user,
            } => {
                // The lock is held only for these inserts; request handlers take it briefly
                // in spawn_blocking (see files.rs).
                if let Ok(mut files) = self.files.write() {
                    for path in paths {
                        if let Err(e) = files.attach_owned(&path, &sandbox, &user) {
                            tracing::warn!(%path, error = %e, "failed to attach a sandbox to /files");
                        }
                    }
                }
            }
        }
    }
}

/// A name for an effect's phase line: its kind, and for a checkpoint the file's name.
fn effect_name(effect: &Effect) -> String {
    match effect {
        Effect::Master(_) => "to_master".into(),
        Effect::Executor { .. } => "to_executor".into(),
        Effect::Launch(_) => "launch".into(),
        Effect::Persist { path, .. } => format!(
            "persist_{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ),
        Effect::Link { .. } => "link".into(),
        Effect::Attach { .. } => "attach".into(),
        _ => "other".into(),
    }
}

/// The launch-path commands whose handling is traced when phase lines are on
/// (`common::time::phase`): a RunTask (by task id), an executor's SUBSCRIBE (by executor
/// id: a command executor's is its task's) and an executor's status update (by task id,
/// with its state).
fn traced(command: &Command) -> Option<(String, String)> {
    if !crate::common::time::phases_on() {
        return None;
    }
    match command {
        Command::FromMaster(m) => match m.as_ref() {
            wire::master_message::Message::RunTask(run) => {
                Some(("agent_run_task".into(), run.task.task_id.value.clone()))
            }
            _ => None,
        },
        Command::ExecutorSubscribe { call, .. } => {
            Some(("agent_subscribe".into(), call.executor_id.value.clone()))
        }
        Command::ExecutorCall { call, .. } => call.update.as_ref().map(|u| {
            let state = remesos_proto::v1::TaskState::try_from(u.status.state)
                .map_or("UNKNOWN", |s| s.as_str_name());
            (
                format!("agent_update_{state}"),
                u.status.task_id.value.clone(),
            )
        }),
        _ => None,
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

/// The sandbox path of a container, for tests and tools.
pub fn sandbox_of(agent: &Agent, framework_id: &str, executor_id: &str) -> Option<PathBuf> {
    let key = ExecutorKey::parse(framework_id, executor_id)?;
    agent.executor(&key).map(|e| e.sandbox.clone())
}
