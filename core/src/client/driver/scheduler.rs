//! The scheduler driver: Apache's `MesosSchedulerDriver` semantics
//! (reference/mesos-contract.md §1.2, §1.3, §1.8) over the v1 scheduler API (§3.2).
//!
//! - [`SchedulerDriver`] is the handle the natives call; every method enqueues a
//!   [`Command`] and returns the driver's [`Status`] at once (`stop` waits for the actor,
//!   bounded, so TEARDOWN is out when it returns; `join` waits for the status).
//! - [`State`] decides (synchronously, no I/O): it turns events of the subscription and
//!   commands into [`Effect`]s — callbacks to deliver and calls to send.
//! - the actor (`run`) keeps the subscription: subscribes, reconnects with backoff, watches
//!   heartbeats, sends calls in order on one queue.
//! - the callback thread delivers [`Event`]s in order to a [`Scheduler`], sends the implicit
//!   acknowledgements, and aborts the driver when a callback fails.
//!
//! Abort (Apache's src/sched/sched.cpp, `SchedulerProcess::abort` and `stop`): Apache's
//! aborted driver stays connected and sends DeactivateFrameworkMessage (the master stops
//! offering and rescinds the framework's offers, no failover timer starts); a later
//! `stop(false)` still sends TEARDOWN while connected, `stop(true)` sends nothing. The v1
//! scheduler API has no DEACTIVATE, so an abort while subscribed keeps the subscription and
//! does what the framework itself can do to the same effect: DECLINE every offer it holds,
//! SUPPRESS all its roles, and decline any offer still in flight; nothing more is delivered
//! or acknowledged (`running` is false in Apache's process). `stop(false)` then tears the
//! framework down over that subscription; `stop(true)` closes it, leaving the framework to
//! its failover timeout.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use remesos_proto::v1;
use v1::scheduler as sched;

use crate::client::scheduler::acknowledge_call;

use super::{Status, StatusCell};
use crate::client::scheduler::{Caller, Subscription};
use crate::client::{Credential, Format, Identity};
use crate::common::backoff::Backoff;
use crate::zk::MasterDetector;

/// Mesos's `scheduler::REGISTRATION_RETRY_INTERVAL_MAX` (src/sched/constants.hpp).
const MAX_REGISTRATION_BACKOFF: Duration = Duration::from_secs(60);

/// Callbacks of Apache's `org.apache.mesos.Scheduler`, in the order the driver delivers them.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Registered {
        framework_id: v1::FrameworkId,
        master_info: v1::MasterInfo,
    },
    Reregistered(v1::MasterInfo),
    ResourceOffers(Vec<v1::Offer>),
    OfferRescinded(v1::OfferId),
    StatusUpdate(v1::TaskStatus),
    FrameworkMessage {
        executor_id: v1::ExecutorId,
        agent_id: v1::AgentId,
        data: Vec<u8>,
    },
    Disconnected,
    SlaveLost(v1::AgentId),
    ExecutorLost {
        executor_id: v1::ExecutorId,
        agent_id: v1::AgentId,
        status: i32,
    },
    Error(String),
}

/// What the framework implements (the JNI layer: calls into the Java `Scheduler`).
///
/// All methods run on the driver's callback thread, one at a time, in order.
pub trait Scheduler: Send + 'static {
    /// First thing on the callback thread (the JNI layer attaches it to the JVM).
    fn thread_started(&mut self) {}
    /// Last thing on the callback thread.
    fn thread_stopping(&mut self) {}
    /// Delivers one callback. `Err` means the callback failed (a Java exception): the
    /// driver aborts, as Apache's does.
    fn deliver(&mut self, event: Event) -> Result<(), String>;
}

/// How to reach the master (the `master` string of the Java constructor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterSpec {
    /// `host:port` (also given as `master@host:port`).
    Address(String),
    /// `local`: a master and agents inside this process.
    Local,
    /// `zk://...`: detection through ZooKeeper.
    ZooKeeper(String),
}

/// Parses a master string as Apache's driver accepts it (§1.8): `host:port`,
/// `master@host:port`, `zk://...`, `file:///path` (whose content is one of the others) and
/// `local`. `http://host:port` is accepted too.
pub fn parse_master(master: &str) -> Result<MasterSpec, String> {
    let master = master.trim();
    if master == "local" {
        return Ok(MasterSpec::Local);
    }
    if master.starts_with("zk://") {
        return Ok(MasterSpec::ZooKeeper(master.to_string()));
    }
    if let Some(path) = master.strip_prefix("file://") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("failed to read master file '{path}': {e}"))?;
        let inner = text.trim();
        if inner.starts_with("file://") {
            return Err(format!("master file '{path}' names another file"));
        }
        return parse_master(inner);
    }
    // Mesos's drivers take `host:port` or `master@host:port`; a URL's scheme is accepted
    // and ignored: the connection's scheme is libprocess's (`LIBPROCESS_SSL_ENABLED`).
    let address = master
        .strip_prefix("http://")
        .or_else(|| master.strip_prefix("https://"))
        .unwrap_or(master)
        .trim_end_matches('/');
    let address = address.split_once('@').map_or(address, |(_, addr)| addr);
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("failed to parse master '{master}': expected host:port"))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!(
            "failed to parse master '{master}': expected host:port"
        ));
    }
    Ok(MasterSpec::Address(address.to_string()))
}

/// Options of the in-process cluster the master string `local` starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalOptions {
    /// Number of agents (`MESOS_NUM_SLAVES`/`MESOS_NUM_AGENTS`, default 1).
    pub num_agents: u32,
    /// Directory holding the `remesos` binary the agents start as the command executor.
    /// Inside a JVM the process executable is `java`, so this must be given
    /// (`MESOS_LAUNCHER_DIR`, else the directory of libmesos.so).
    pub launcher_dir: Option<std::path::PathBuf>,
    /// libmesos.so for custom Java executors (`MESOS_NATIVE_JAVA_LIBRARY` in their env).
    pub native_library: Option<std::path::PathBuf>,
    /// Resources of each agent (`MESOS_RESOURCES`), else detected.
    pub resources: Option<String>,
}

impl LocalOptions {
    /// Reads the options Apache's `local` mode reads from the environment.
    pub fn from_env(vars: &[(String, String)]) -> LocalOptions {
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        LocalOptions {
            num_agents: get("MESOS_NUM_AGENTS")
                .or_else(|| get("MESOS_NUM_SLAVES"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
            launcher_dir: get("MESOS_LAUNCHER_DIR").map(Into::into),
            native_library: None,
            resources: get("MESOS_RESOURCES"),
        }
    }
}

/// What the driver is constructed with (the fields of the Java `MesosSchedulerDriver`).
#[derive(Debug, Clone)]
pub struct Config {
    pub framework: v1::FrameworkInfo,
    pub master: String,
    pub implicit_acknowledgements: bool,
    pub suppressed_roles: Vec<String>,
    /// The `Credential` of the 4- and 5-argument constructors: sent as HTTP Basic on every
    /// request (with the driver marker, crate::client::credential); its principal fills an
    /// empty `FrameworkInfo.principal`, as Apache's driver does.
    pub credential: Option<Credential>,
    /// `MESOS_REGISTRATION_BACKOFF_FACTOR` (default 2secs).
    pub backoff_factor: Duration,
    pub local: LocalOptions,
}

impl Config {
    pub fn new(framework: v1::FrameworkInfo, master: impl Into<String>) -> Config {
        Config {
            framework,
            master: master.into(),
            implicit_acknowledgements: true,
            suppressed_roles: Vec::new(),
            credential: None,
            backoff_factor: Duration::from_secs(2),
            local: LocalOptions {
                num_agents: 1,
                ..Default::default()
            },
        }
    }

    /// Reads the driver's environment flags (`MESOS_REGISTRATION_BACKOFF_FACTOR`, the
    /// `local` options).
    pub fn with_env(mut self, vars: &[(String, String)]) -> Config {
        if let Some((_, v)) = vars
            .iter()
            .find(|(k, _)| k == "MESOS_REGISTRATION_BACKOFF_FACTOR")
            && let Ok(d) = crate::duration::parse_duration(v)
        {
            self.backoff_factor = d;
        }
        let native_library = self.local.native_library.take();
        let launcher_dir = self.local.launcher_dir.take();
        self.local = LocalOptions::from_env(vars);
        self.local.native_library = native_library;
        self.local.launcher_dir = self.local.launcher_dir.take().or(launcher_dir);
        self
    }
}

/// A request from a native to the actor.
#[derive(Debug)]
pub enum Command {
    /// A call to send when connected (dropped, as Apache's driver drops it, when not).
    Call(sched::Call),
    /// ACCEPT carrying LAUNCH operations: when not connected each task gets a local
    /// TASK_LOST (TASK_DROPPED for PARTITION_AWARE frameworks).
    Accept(sched::Call),
    Stop {
        failover: bool,
        /// Answered when the actor is done (a std channel: the waiting thread is a Java
        /// thread, outside the runtime).
        done: std::sync::mpsc::Sender<()>,
    },
    Abort,
    /// The Java object is gone (finalize): leave without TEARDOWN.
    Shutdown,
}

/// What [`State`] asks the shell to do.
// Effects live for one step in a short Vec; boxing the events too would only add
// allocations on the status-update path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Deliver(Event),
    Send(Box<sched::Call>),
    /// The driver aborts (a master ERROR).
    Abort,
}

/// The driver's decisions, without I/O: which callbacks an event of the subscription
/// becomes, what a command does while connected or not.
#[derive(Debug, Clone)]
pub struct State {
    /// FrameworkInfo as subscribed; `id` set once registered.
    pub framework: v1::FrameworkInfo,
    /// Whether `registered` was delivered (later subscriptions are reregistrations).
    pub registered: bool,
    pub connected: bool,
    /// The driver was aborted (Apache's `running == false`): nothing is delivered or sent
    /// on the framework's behalf any more, except declines of offers and TEARDOWN.
    pub aborted: bool,
    /// Offers received on this subscription and not yet accepted, declined or rescinded:
    /// what an abort declines. Bounded by the master's outstanding offers to this framework
    /// (it rescinds what it takes back); emptied when the subscription ends (the master
    /// rescinds a disconnected framework's offers).
    pub offers: BTreeSet<String>,
    /// The roles suppressed now, as Apache's driver keeps them (`suppressedRoles`): set by
    /// the constructor, SUPPRESS, REVIVE and UPDATE_FRAMEWORK, and sent with every
    /// (re)subscription.
    pub suppressed_roles: BTreeSet<String>,
}

impl State {
    pub fn new(framework: v1::FrameworkInfo) -> State {
        State {
            framework,
            registered: false,
            connected: false,
            aborted: false,
            offers: BTreeSet::new(),
            suppressed_roles: BTreeSet::new(),
        }
    }

    /// What SUPPRESS, REVIVE and UPDATE_FRAMEWORK do to the suppressed roles (sched.cpp
    /// `suppressOffers`, `reviveOffers`, `updateFramework`), and the user and hostname an
    /// update leaves empty filled in as at construction (`updateFramework` fills them; a
    /// master refuses a changed user).
    fn track(&mut self, call: &mut sched::Call) {
        if let Some(revive) = &call.revive {
            if revive.roles.is_empty() {
                self.suppressed_roles.clear();
            } else {
                for role in &revive.roles {
                    self.suppressed_roles.remove(role);
                }
            }
        }
        if let Some(suppress) = &call.suppress {
            if suppress.roles.is_empty() {
                self.suppressed_roles = self.framework.roles.iter().cloned().collect();
            } else {
                self.suppressed_roles.extend(suppress.roles.iter().cloned());
            }
        }
        if let Some(update) = &mut call.update_framework {
            let info = &mut update.framework_info;
            if info.user.is_empty() {
                info.user = self.framework.user.clone();
            }
            if info.hostname.as_deref().unwrap_or("").is_empty() {
                info.hostname = self.framework.hostname.clone();
            }
            self.suppressed_roles = update.suppressed_roles.iter().cloned().collect();
        }
    }

    fn partition_aware(&self) -> bool {
        crate::common::protocol::framework_has_capability(
            &self.framework,
            v1::framework_info::capability::Type::PartitionAware,
        )
    }

    /// A subscription succeeded.
    pub fn on_subscribed(&mut self, subscribed: &Subscription) -> Vec<Effect> {
        self.connected = true;
        self.offers.clear();
        self.framework.id = Some(subscribed.framework_id.clone());
        let master_info = subscribed.master_info.clone().unwrap_or_default();
        if self.registered {
            vec![Effect::Deliver(Event::Reregistered(master_info))]
        } else {
            self.registered = true;
            vec![Effect::Deliver(Event::Registered {
                framework_id: subscribed.framework_id.clone(),
                master_info,
            })]
        }
    }

    /// The subscription broke.
    pub fn on_disconnected(&mut self) -> Vec<Effect> {
        if !self.connected {
            return Vec::new();
        }
        self.connected = false;
        self.offers.clear();
        if self.aborted {
            return Vec::new();
        }
        vec![Effect::Deliver(Event::Disconnected)]
    }

    /// The driver aborts (a callback failed, or `abort()`). While subscribed: decline every
    /// offer held and suppress all roles, which is what Apache's DeactivateFrameworkMessage
    /// achieves (sched.cpp `SchedulerProcess::abort`; master.cpp `deactivate` rescinds the
    /// offers and the allocator stops offering).
    pub fn on_abort(&mut self) -> Vec<Effect> {
        if self.aborted {
            return Vec::new();
        }
        self.aborted = true;
        if !self.connected {
            return Vec::new();
        }
        let mut effects = Vec::new();
        let held = std::mem::take(&mut self.offers);
        if !held.is_empty() {
            effects.push(Effect::Send(Box::new(decline_call(
                held.into_iter()
                    .map(|value| v1::OfferId { value })
                    .collect(),
            ))));
        }
        effects.push(Effect::Send(Box::new(sched::Call {
            r#type: Some(sched::call::Type::Suppress as i32),
            // No roles: all of the framework's roles (scheduler.proto `Call.Suppress`).
            suppress: Some(sched::call::Suppress { roles: Vec::new() }),
            ..Default::default()
        })));
        effects
    }

    /// One event of the stream.
    pub fn on_event(&mut self, event: sched::Event) -> Vec<Effect> {
        use sched::event::Type;
        let Some(kind) = event.r#type.and_then(|t| Type::try_from(t).ok()) else {
            return Vec::new();
        };
        if self.aborted {
            return match kind {
                // Offers that crossed the SUPPRESS go back at once.
                Type::Offers => {
                    let ids: Vec<v1::OfferId> = event
                        .offers
                        .map(|o| o.offers.into_iter().map(|o| o.id).collect())
                        .unwrap_or_default();
                    if ids.is_empty() {
                        Vec::new()
                    } else {
                        vec![Effect::Send(Box::new(decline_call(ids)))]
                    }
                }
                // The master is done with this subscription (e.g. another scheduler failed
                // over to the framework): leave it, without a TEARDOWN later. Apache's
                // aborted driver ignores the error message ("the driver is not running").
                Type::Error => vec![Effect::Abort],
                _ => Vec::new(),
            };
        }
        match kind {
            Type::Offers => {
                let offers = event.offers.map(|o| o.offers).unwrap_or_default();
                if offers.is_empty() {
                    Vec::new()
                } else {
                    self.offers
                        .extend(offers.iter().map(|o| o.id.value.clone()));
                    vec![Effect::Deliver(Event::ResourceOffers(offers))]
                }
            }
            Type::Rescind => event
                .rescind
                .map(|r| {
                    self.offers.remove(&r.offer_id.value);
                    vec![Effect::Deliver(Event::OfferRescinded(r.offer_id))]
                })
                .unwrap_or_default(),
            Type::Update => event
                .update
                .map(|u| vec![Effect::Deliver(Event::StatusUpdate(u.status))])
                .unwrap_or_default(),
            Type::Message => event
                .message
                .map(|m| {
                    vec![Effect::Deliver(Event::FrameworkMessage {
                        executor_id: m.executor_id,
                        agent_id: m.agent_id,
                        data: m.data,
                    })]
                })
                .unwrap_or_default(),
            Type::Failure => match event.failure {
                Some(sched::event::Failure {
                    agent_id: Some(agent_id),
                    executor_id: Some(executor_id),
                    status,
                }) => vec![Effect::Deliver(Event::ExecutorLost {
                    executor_id,
                    agent_id,
                    status: status.unwrap_or(-1),
                })],
                Some(sched::event::Failure {
                    agent_id: Some(agent_id),
                    executor_id: None,
                    ..
                }) => vec![Effect::Deliver(Event::SlaveLost(agent_id))],
                _ => Vec::new(),
            },
            // Apache's driver aborts, then calls `error` (sched.cpp `error`).
            Type::Error => {
                self.aborted = true;
                vec![
                    Effect::Abort,
                    Effect::Deliver(Event::Error(
                        event.error.map(|e| e.message).unwrap_or_default(),
                    )),
                ]
            }
            // SUBSCRIBED on an open stream, heartbeats, inverse offers and operation
            // updates have no v0 callback.
            _ => Vec::new(),
        }
    }

    /// A call from a native.
    pub fn on_call(&mut self, mut call: sched::Call, launches: bool) -> Vec<Effect> {
        // Apache's driver methods return at once unless DRIVER_RUNNING.
        if self.aborted {
            return Vec::new();
        }
        self.track(&mut call);
        // Offers answered are no longer held.
        for answered in [
            call.accept.as_ref().map(|a| &a.offer_ids),
            call.decline.as_ref().map(|d| &d.offer_ids),
        ]
        .into_iter()
        .flatten()
        {
            for id in answered {
                self.offers.remove(&id.value);
            }
        }
        // UPDATE_FRAMEWORK also changes what later resubscriptions carry.
        if let Some(update) = &call.update_framework {
            let id = self.framework.id.clone();
            self.framework = update.framework_info.clone();
            if self.framework.id.is_none() {
                self.framework.id = id;
            }
        }
        if self.connected {
            return vec![Effect::Send(Box::new(call))];
        }
        if !launches {
            tracing::warn!("dropping a call: the driver is not connected to a master");
            return Vec::new();
        }
        // §1.8: launching while disconnected yields a local TASK_LOST (TASK_DROPPED when
        // PARTITION_AWARE) per task, from the master, "Master disconnected".
        let state = if self.partition_aware() {
            v1::TaskState::TaskDropped
        } else {
            v1::TaskState::TaskLost
        };
        #[allow(
            clippy::disallowed_methods,
            reason = "the driver stamps the TASK_LOST it makes up with the wall clock, as Mesos's does"
        )]
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        launched_tasks(&call)
            .into_iter()
            .map(|task| {
                Effect::Deliver(Event::StatusUpdate(v1::TaskStatus {
                    task_id: task.task_id.clone(),
                    state: state as i32,
                    message: Some("Master disconnected".into()),
                    source: Some(v1::task_status::Source::Master as i32),
                    reason: Some(v1::task_status::Reason::MasterDisconnected as i32),
                    agent_id: Some(task.agent_id.clone()),
                    timestamp: Some(now),
                    ..Default::default()
                }))
            })
            .collect()
    }
}

/// DECLINE of `offer_ids` with the default filters.
fn decline_call(offer_ids: Vec<v1::OfferId>) -> sched::Call {
    sched::Call {
        r#type: Some(sched::call::Type::Decline as i32),
        decline: Some(sched::call::Decline {
            offer_ids,
            filters: None,
        }),
        ..Default::default()
    }
}

/// The tasks of an ACCEPT's LAUNCH and LAUNCH_GROUP operations.
fn launched_tasks(call: &sched::Call) -> Vec<&v1::TaskInfo> {
    let Some(accept) = &call.accept else {
        return Vec::new();
    };
    let mut tasks = Vec::new();
    for op in &accept.operations {
        if let Some(launch) = &op.launch {
            tasks.extend(launch.task_infos.iter());
        }
        if let Some(group) = &op.launch_group {
            tasks.extend(group.task_group.tasks.iter());
        }
    }
    tasks
}

/// State shared by the handle, the actor and the callback thread.
struct Shared {
    cell: StatusCell,
    implicit_acknowledgements: bool,
}

/// What `start` needs and takes.
struct Unstarted {
    config: Config,
    commands: mpsc::UnboundedReceiver<Command>,
    scheduler: Box<dyn Scheduler>,
}

/// The handle behind a Java `MesosSchedulerDriver` (`__driver`).
pub struct SchedulerDriver {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    unstarted: Mutex<Option<Unstarted>>,
}

/// How long `stop` waits for the actor to send TEARDOWN (or flush) and leave.
const STOP_WAIT: Duration = Duration::from_secs(5);

impl SchedulerDriver {
    /// A driver that has not started; empty `user` and `hostname` are filled in (§1.8).
    pub fn new(mut config: Config, scheduler: Box<dyn Scheduler>) -> SchedulerDriver {
        if config.framework.user.is_empty() {
            config.framework.user = super::current_user();
        }
        if config
            .framework
            .hostname
            .as_deref()
            .unwrap_or("")
            .is_empty()
        {
            config.framework.hostname = Some(super::hostname());
        }
        if config
            .framework
            .principal
            .as_deref()
            .unwrap_or("")
            .is_empty()
            && let Some(c) = &config.credential
        {
            config.framework.principal = Some(c.principal().to_string());
        }
        // Unbounded, for the reason given at `ExecutorDriver::new`: the framework's calls
        // through the Java API must not block (a callback calling the driver would wait on
        // itself), and Apache's driver queues them without bound as well.
        let (tx, rx) = mpsc::unbounded_channel();
        SchedulerDriver {
            shared: Arc::new(Shared {
                cell: StatusCell::new(),
                implicit_acknowledgements: config.implicit_acknowledgements,
            }),
            commands: tx,
            unstarted: Mutex::new(Some(Unstarted {
                config,
                commands: rx,
                scheduler,
            })),
        }
    }

    pub fn status(&self) -> Status {
        self.shared.cell.status()
    }

    pub fn implicit_acknowledgements(&self) -> bool {
        self.shared.implicit_acknowledgements
    }

    /// Starts the actor and the callback thread (only from NOT_STARTED).
    pub fn start(&self) -> Status {
        let unstarted = self
            .unstarted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(unstarted) = unstarted else {
            return self.status();
        };
        if self
            .shared
            .cell
            .transition(&[Status::NotStarted], Status::Running)
            != Status::NotStarted
        {
            return self.status();
        }
        // Unbounded (a known gap, DESIGN.md §3): callbacks the JVM has not run yet. It grows
        // while the scheduler's callbacks are slower than the master's events, as Apache's
        // driver's libprocess queue does; a bound would have to push back onto the
        // subscription (whose backlog the master bounds: it drops the stream and the
        // driver resubscribes).
        let (deliveries_tx, deliveries_rx) = std::sync::mpsc::channel::<Event>();
        let shared = self.shared.clone();
        let commands = self.commands.clone();
        let mut scheduler = unstarted.scheduler;
        let spawned = std::thread::Builder::new()
            .name("mesos-scheduler-callbacks".into())
            .spawn(move || {
                shared.cell.set_callback_thread();
                scheduler.thread_started();
                callback_loop(&mut *scheduler, &deliveries_rx, &shared, &commands);
                scheduler.thread_stopping();
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the callback thread");
            self.shared
                .cell
                .transition(&[Status::Running], Status::Aborted);
            return Status::Aborted;
        }
        let actor = Actor {
            shared: self.shared.clone(),
            state: State {
                suppressed_roles: unstarted.config.suppressed_roles.iter().cloned().collect(),
                ..State::new(unstarted.config.framework.clone())
            },
            backoff: Backoff::new(
                unstarted.config.backoff_factor.saturating_mul(2),
                MAX_REGISTRATION_BACKOFF,
            )
            .with_floor(Duration::from_millis(50)),
            config: unstarted.config,
            commands: unstarted.commands,
            deliveries: deliveries_tx,
        };
        super::runtime().spawn(actor.run());
        Status::Running
    }

    /// Stops the driver; without `failover` the framework is torn down (TEARDOWN), with it
    /// the framework stays for its `failover_timeout`. Waits (bounded) for the actor.
    pub fn stop(&self, failover: bool) -> Status {
        let before = self
            .shared
            .cell
            .transition(&[Status::Running, Status::Aborted], Status::Stopped);
        if before != Status::Running && before != Status::Aborted {
            return before;
        }
        let (done, wait) = std::sync::mpsc::channel();
        if self.commands.send(Command::Stop { failover, done }).is_ok() {
            // Blocks this Java thread on the actor only (never on the callback thread), so
            // it is safe from inside a callback too.
            let _ = wait.recv_timeout(STOP_WAIT);
        }
        if before == Status::Aborted {
            Status::Aborted
        } else {
            Status::Stopped
        }
    }

    /// Aborts: no more callbacks; the connection is closed (the framework stays registered
    /// until `stop(false)` or its failover timeout).
    pub fn abort(&self) -> Status {
        let before = self
            .shared
            .cell
            .transition(&[Status::Running], Status::Aborted);
        if before != Status::Running {
            return before;
        }
        let _ = self.commands.send(Command::Abort);
        Status::Aborted
    }

    /// Waits until the driver is stopped or aborted.
    pub fn join(&self) -> Status {
        self.shared.cell.join()
    }

    /// Enqueues a call (only while RUNNING).
    pub fn call(&self, call: sched::Call) -> Status {
        self.enqueue(Command::Call(call))
    }

    /// Enqueues an ACCEPT (only while RUNNING).
    pub fn accept(
        &self,
        offer_ids: Vec<v1::OfferId>,
        operations: Vec<v1::offer::Operation>,
        filters: Option<v1::Filters>,
    ) -> Status {
        let call = sched::Call {
            r#type: Some(sched::call::Type::Accept as i32),
            accept: Some(sched::call::Accept {
                offer_ids,
                operations,
                filters,
            }),
            ..Default::default()
        };
        self.enqueue(Command::Accept(call))
    }

    /// `launchTasks`: ACCEPT with one LAUNCH; with no tasks it declines the offers.
    pub fn launch_tasks(
        &self,
        offer_ids: Vec<v1::OfferId>,
        tasks: Vec<v1::TaskInfo>,
        filters: Option<v1::Filters>,
    ) -> Status {
        let operations = if tasks.is_empty() {
            Vec::new()
        } else {
            vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Launch as i32),
                launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            }]
        };
        self.accept(offer_ids, operations, filters)
    }

    /// `acknowledgeStatusUpdate`: a driver that is not running answers its status; a
    /// running one only with explicit acknowledgements (Apache aborts the process
    /// otherwise; we return an error the JNI layer turns into an exception).
    pub fn acknowledge(&self, status: &v1::TaskStatus) -> Result<Status, String> {
        let current = self.status();
        if current != Status::Running {
            return Ok(current);
        }
        if self.shared.implicit_acknowledgements {
            return Err(
                "Cannot call acknowledgeStatusUpdate: Implicit acknowledgements are enabled".into(),
            );
        }
        match acknowledge_call(status) {
            Some(call) => Ok(self.call(call)),
            // No uuid (a master-generated update) or no agent: nothing to acknowledge.
            None => Ok(current),
        }
    }

    fn enqueue(&self, command: Command) -> Status {
        let status = self.status();
        if status != Status::Running {
            return status;
        }
        let _ = self.commands.send(command);
        status
    }
}

impl Drop for SchedulerDriver {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
    }
}

/// The callback thread: delivers in order while RUNNING (`error` also after an abort),
/// acknowledges implicitly after `statusUpdate` returns, aborts when a callback fails.
fn callback_loop(
    scheduler: &mut dyn Scheduler,
    deliveries: &std::sync::mpsc::Receiver<Event>,
    shared: &Shared,
    commands: &mpsc::UnboundedSender<Command>,
) {
    while let Ok(event) = deliveries.recv() {
        let is_error = matches!(event, Event::Error(_));
        if shared.cell.status() != Status::Running && !is_error {
            continue;
        }
        let ack = match &event {
            Event::StatusUpdate(status) if shared.implicit_acknowledgements => {
                acknowledge_call(status)
            }
            _ => None,
        };
        let delivered = scheduler.deliver(event);
        if is_error {
            shared.cell.error_delivered();
        }
        match delivered {
            Ok(()) => {
                if let Some(call) = ack
                    && shared.cell.status() == Status::Running
                {
                    let _ = commands.send(Command::Call(call));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "a scheduler callback failed; aborting the driver");
                if shared.cell.transition(&[Status::Running], Status::Aborted) == Status::Running {
                    let _ = commands.send(Command::Abort);
                }
            }
        }
    }
}

/// A message to the per-connection sender task.
enum Outgoing {
    Call(Box<sched::Call>),
    /// Answered once every call queued before it went out.
    Flush(oneshot::Sender<()>),
}

/// Sends calls in order on one connection.
fn spawn_sender(caller: Caller) -> mpsc::UnboundedSender<Outgoing> {
    // Unbounded: fed only by the driver's actor, from the framework's calls (see
    // `SchedulerDriver::new`); it holds the calls the master has not answered yet.
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Outgoing::Call(call) => {
                    let kind = call.r#type;
                    match tokio::time::timeout(Duration::from_secs(30), caller.call(*call)).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::warn!(?kind, error = %e, "call failed"),
                        Err(_) => tracing::warn!(?kind, "call timed out"),
                    }
                }
                Outgoing::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    });
    tx
}

/// How a phase of the actor ended.
enum Next {
    Connected(Box<Subscription>),
    Disconnected,
    Exit,
}

struct Actor {
    shared: Arc<Shared>,
    config: Config,
    state: State,
    /// Subscription retries (reference §1.8, Mesos's `doReliableRegistration`): the first
    /// retry's cap is twice the backoff factor, doubling up to a minute, at least 50 ms.
    backoff: Backoff,
    commands: mpsc::UnboundedReceiver<Command>,
    deliveries: std::sync::mpsc::Sender<Event>,
}

impl Actor {
    async fn run(mut self) {
        let mut local = None;
        let master = match parse_master(&self.config.master) {
            Ok(MasterSpec::Address(a)) => Ok(MasterDetector::Fixed(a)),
            Ok(MasterSpec::Local) => match self.start_local().await {
                Ok(cluster) => {
                    let address = cluster.master.clone();
                    local = Some(cluster);
                    Ok(MasterDetector::Fixed(address))
                }
                Err(e) => Err(format!("failed to start the local cluster: {e}")),
            },
            // One detector (one ZooKeeper session) for the driver's life: every
            // (re)subscription goes to the leader it names.
            Ok(MasterSpec::ZooKeeper(zk)) => MasterDetector::parse(&zk),
            Err(e) => Err(e),
        };
        match master {
            Ok(master) => self.serve(&master).await,
            Err(e) => {
                tracing::error!(error = %e, "cannot reach a master");
                self.apply(vec![Effect::Abort, Effect::Deliver(Event::Error(e))], None);
                self.aborted(None).await;
            }
        }
        if let Some(cluster) = local {
            cluster.stop().await;
        }
    }

    async fn start_local(&self) -> Result<crate::local::LocalCluster, String> {
        let options = &self.config.local;
        let work_dir =
            std::env::temp_dir().join(format!("remesos-local-{}", uuid::Uuid::new_v4().simple()));
        let mut args = vec![
            format!("--num_agents={}", options.num_agents.max(1)),
            "--port=0".to_string(),
            "--first_agent_port=0".to_string(),
            format!("--work_dir={}", work_dir.display()),
            "--quiet".to_string(),
        ];
        if let Some(dir) = &options.launcher_dir {
            args.push(format!("--launcher_dir={}", dir.display()));
        }
        if let Some(lib) = &options.native_library {
            args.push(format!("--native_library={}", lib.display()));
        }
        if let Some(r) = &options.resources {
            args.push(format!("--resources={r}"));
        }
        crate::local::start_with_args(&args).await
    }

    /// Subscribes, serves, reconnects until stopped.
    async fn serve(&mut self, master: &MasterDetector) {
        let mut attempt = 0u32;
        loop {
            match self.connect(master, &mut attempt).await {
                Next::Connected(sub) => {
                    attempt = 0;
                    match self.connected(*sub, master).await {
                        Next::Exit => return,
                        _ => continue,
                    }
                }
                Next::Disconnected => continue,
                Next::Exit => return,
            }
        }
    }

    /// Delivers callbacks and reports whether the driver is to abort.
    fn apply(&mut self, effects: Vec<Effect>, sender: Option<&mpsc::UnboundedSender<Outgoing>>) {
        for effect in effects {
            match effect {
                Effect::Deliver(event) => {
                    let is_error = matches!(event, Event::Error(_));
                    if is_error {
                        self.shared.cell.error_queued();
                    }
                    if self.deliveries.send(event).is_err() && is_error {
                        self.shared.cell.error_delivered();
                    }
                }
                Effect::Send(call) => {
                    if let Some(sender) = sender {
                        let _ = sender.send(Outgoing::Call(call));
                    }
                }
                Effect::Abort => {
                    self.shared
                        .cell
                        .transition(&[Status::Running], Status::Aborted);
                }
            }
        }
    }

    fn subscribe_call(&self) -> sched::call::Subscribe {
        sched::call::Subscribe {
            framework_info: self.state.framework.clone(),
            suppressed_roles: self.state.suppressed_roles.iter().cloned().collect(),
            offer_constraints: None,
        }
    }

    /// What every request to the master presents: the driver marker and the credential.
    fn identity(&self) -> Identity {
        Identity::driver(self.config.credential.clone())
    }

    /// Not connected: subscribes with backoff while answering commands.
    async fn connect(&mut self, detector: &MasterDetector, attempt: &mut u32) -> Next {
        loop {
            let delay = if *attempt == 0 {
                self.backoff.reset();
                Duration::ZERO
            } else {
                // §1.8: a random delay in [0, b·2^n], at most a minute (and at most
                // failover_timeout/10 when one is set).
                let limit = self
                    .state
                    .framework
                    .failover_timeout
                    .filter(|f| *f > 0.0)
                    .map_or(Duration::MAX, |ft| {
                        Duration::from_secs_f64((ft / 10.0).min(60.0))
                    });
                self.backoff.next_delay_within(limit)
            };
            let subscribe = self.subscribe_call();
            let identity = self.identity();
            // Waiting for a leader to be detected counts against the attempt's deadline.
            let attempt_future = async {
                tokio::time::sleep(delay).await;
                tokio::time::timeout(Duration::from_secs(30), async {
                    let master = detector.leader().await;
                    Subscription::subscribe_as(&master, subscribe, Format::Protobuf, &identity)
                        .await
                })
                .await
            };
            let master = detector
                .current()
                .unwrap_or_else(|| "(no leader detected)".into());
            let master = master.as_str();
            tokio::pin!(attempt_future);
            // Apache's driver registers as soon as a new leader is detected (`detected` →
            // `doReliableRegistration`), whatever the backoff of the attempts on the old one.
            let new_leader = detector.changed_from(master);
            tokio::pin!(new_leader);
            loop {
                tokio::select! {
                    () = &mut new_leader => {
                        tracing::info!(old = %master, new = ?detector.current(), "a new leader was detected; subscribing now");
                        *attempt = 0;
                        break;
                    }
                    result = &mut attempt_future => {
                        *attempt = attempt.saturating_add(1);
                        match result {
                            Ok(Ok(sub)) => {
                                let effects = self.state.on_subscribed(&sub);
                                self.apply(effects, None);
                                return Next::Connected(Box::new(sub));
                            }
                            Ok(Err(crate::client::Error::Status { status, body }))
                                if status != 503 && status != 307 =>
                            {
                                // The master refused the framework: Apache's driver gets
                                // an error from the master and aborts.
                                let message = refusal_message(status, body);
                                self.apply(
                                    vec![Effect::Abort, Effect::Deliver(Event::Error(message))],
                                    None,
                                );
                                return self.aborted(detector.current()).await;
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%master, error = %e, "subscribe failed; retrying");
                            }
                            Err(_) => tracing::debug!(%master, "subscribe timed out; retrying"),
                        }
                        break;
                    }
                    command = self.commands.recv() => {
                        let Some(command) = command else { return Next::Exit };
                        match command {
                            Command::Call(call) => {
                                let effects = self.state.on_call(call, false);
                                self.apply(effects, None);
                            }
                            Command::Accept(call) => {
                                let effects = self.state.on_call(call, true);
                                self.apply(effects, None);
                            }
                            Command::Stop { failover, done } => {
                                if !failover && let Some(master) = detector.current() {
                                    self.teardown_fresh(&master).await;
                                }
                                let _ = done.send(());
                                return Next::Exit;
                            }
                            Command::Abort => {
                                self.state.on_abort();
                                return self.aborted(detector.current()).await;
                            }
                            Command::Shutdown => return Next::Exit,
                        }
                    }
                }
            }
        }
    }

    /// Connected: events in, calls out, until the stream breaks or the driver stops.
    async fn connected(&mut self, mut sub: Subscription, detector: &MasterDetector) -> Next {
        let sender = spawn_sender(sub.caller());
        // With ZooKeeper, a newly elected leader ends this subscription (§1.8: the driver
        // treats a leader change as a disconnection and subscribes to the new leader).
        let leader = detector.current().unwrap_or_default();
        let leader_changed = detector.changed_from(&leader);
        tokio::pin!(leader_changed);
        // Reference §3.2: clients reconnect after ~5 missed heartbeats.
        let silence = Duration::from_secs_f64(sub.heartbeat_interval_seconds.max(1.0) * 5.0);
        loop {
            tokio::select! {
                event = tokio::time::timeout(silence, sub.next_event()) => {
                    match event {
                        Ok(Ok(event)) => {
                            let effects = self.state.on_event(event);
                            let aborts = effects.contains(&Effect::Abort);
                            self.apply(effects, Some(&sender));
                            if aborts {
                                drop(sub);
                                self.state.connected = false;
                                self.state.offers.clear();
                                return self.aborted(None).await;
                            }
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "disconnected from the master");
                            return self.disconnected(detector).await;
                        }
                        Err(_) => {
                            tracing::warn!("no heartbeat from the master; reconnecting");
                            return self.disconnected(detector).await;
                        }
                    }
                }
                () = &mut leader_changed => {
                    tracing::warn!(old = %leader, new = ?detector.current(), "a new master was elected; resubscribing");
                    return self.disconnected(detector).await;
                }
                command = self.commands.recv() => {
                    let Some(command) = command else { return Next::Exit };
                    match command {
                        Command::Call(call) => {
                            let effects = self.state.on_call(call, false);
                            self.apply(effects, Some(&sender));
                        }
                        Command::Accept(call) => {
                            let effects = self.state.on_call(call, true);
                            self.apply(effects, Some(&sender));
                        }
                        Command::Stop { failover, done } => {
                            if !failover {
                                let teardown = sched::Call {
                                    r#type: Some(sched::call::Type::Teardown as i32),
                                    ..Default::default()
                                };
                                let _ = sender.send(Outgoing::Call(Box::new(teardown)));
                            }
                            flush(&sender).await;
                            let _ = done.send(());
                            return Next::Exit;
                        }
                        // Stay subscribed (see the module doc): decline, suppress, and
                        // wait here for stop(false) to tear the framework down.
                        Command::Abort => {
                            let effects = self.state.on_abort();
                            self.apply(effects, Some(&sender));
                        }
                        Command::Shutdown => return Next::Exit,
                    }
                }
            }
        }
    }

    /// The subscription broke: reconnect, unless aborted (Apache's aborted driver ignores
    /// new masters, sched.cpp `detected`); then a later `stop(false)` resubscribes to tear
    /// the framework down, as a `stop(false)` while disconnected does.
    async fn disconnected(&mut self, detector: &MasterDetector) -> Next {
        let effects = self.state.on_disconnected();
        self.apply(effects, None);
        if self.state.aborted {
            return self.aborted(detector.current()).await;
        }
        Next::Disconnected
    }

    /// Aborted and not subscribed: nothing is delivered; a later `stop(false)` tears the
    /// framework down through `master` when given (None: the master ended the subscription
    /// with an error, so the framework is gone or belongs to another scheduler).
    async fn aborted(&mut self, master: Option<String>) -> Next {
        while let Some(command) = self.commands.recv().await {
            match command {
                Command::Stop { failover, done } => {
                    if !failover && let Some(master) = master {
                        self.teardown_fresh(&master).await;
                    }
                    let _ = done.send(());
                    return Next::Exit;
                }
                Command::Shutdown => return Next::Exit,
                _ => {}
            }
        }
        Next::Exit
    }

    /// TEARDOWN without a live subscription: resubscribes as the framework (when it was
    /// ever registered) and tears it down.
    async fn teardown_fresh(&mut self, master: &str) {
        if self.state.framework.id.is_none() {
            return;
        }
        let subscribe = self.subscribe_call();
        let identity = self.identity();
        let attempt = async {
            let sub =
                Subscription::subscribe_as(master, subscribe, Format::Protobuf, &identity).await?;
            sub.call(sched::Call {
                r#type: Some(sched::call::Type::Teardown as i32),
                ..Default::default()
            })
            .await
        };
        if let Err(e) = tokio::time::timeout(STOP_WAIT, attempt)
            .await
            .unwrap_or_else(|_| Err(crate::client::Error::Http("timed out".into())))
        {
            tracing::warn!(error = %e, "could not tear the framework down");
        }
    }
}

/// The `error` callback's text when the master refuses a SUBSCRIBE with `status`: a 401 is
/// Apache's driver's own words when the master refuses its authentication (src/sched/sched.cpp,
/// `_authenticate`); anything else is the master's reason.
fn refusal_message(status: u16, body: String) -> String {
    if status == 401 {
        "Master refused authentication".to_string()
    } else if body.is_empty() {
        format!("subscription refused ({status})")
    } else {
        body
    }
}

async fn flush(sender: &mpsc::UnboundedSender<Outgoing>) {
    let (tx, rx) = oneshot::channel();
    if sender.send(Outgoing::Flush(tx)).is_ok() {
        let _ = tokio::time::timeout(STOP_WAIT, rx).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_strings_as_apache_accepts_them() {
        // reference/mesos-contract.md §1.8.
        assert_eq!(
            parse_master("10.0.0.1:5050"),
            Ok(MasterSpec::Address("10.0.0.1:5050".into()))
        );
        assert_eq!(
            parse_master("master@10.0.0.1:5050"),
            Ok(MasterSpec::Address("10.0.0.1:5050".into()))
        );
        assert_eq!(parse_master("local"), Ok(MasterSpec::Local));
        assert_eq!(
            parse_master("zk://h1:2181,h2:2181/mesos"),
            Ok(MasterSpec::ZooKeeper("zk://h1:2181,h2:2181/mesos".into()))
        );
        assert!(parse_master("nonsense").is_err());
        assert!(parse_master("host:notaport").is_err());
        let file = std::env::temp_dir().join(format!("master-{}", uuid::Uuid::new_v4()));
        std::fs::write(&file, "master@127.0.0.1:5050\n").unwrap();
        assert_eq!(
            parse_master(&format!("file://{}", file.display())),
            Ok(MasterSpec::Address("127.0.0.1:5050".into()))
        );
        let _ = std::fs::remove_file(file);
    }

    /// Apache's driver fills an empty `FrameworkInfo.principal` from its credential and, when
    /// the master refuses its authentication, calls `error("Master refused authentication")`
    /// and aborts (src/sched/sched.cpp, `_authenticate`). Ours presents the credential as
    /// HTTP Basic with the driver marker (crate::client::credential).
    #[test]
    fn a_driver_presents_its_credential_and_aborts_when_the_master_refuses_it() {
        use crate::client::credential::DRIVER_MARKER;
        use crate::client::scheduler::tests::{FakeMaster, header};
        let master = super::super::runtime().block_on(FakeMaster::start(401));
        let mut config = Config::new(
            v1::FrameworkInfo {
                name: "f".into(),
                ..Default::default()
            },
            master.address.clone(),
        );
        config.credential = Some(Credential::new("alice", "wrong").unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let driver = SchedulerDriver::new(config, Box::new(Recorder(tx)));
        assert_eq!(driver.start(), Status::Running);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(60)),
            Ok(Event::Error("Master refused authentication".into()))
        );
        assert_eq!(driver.join(), Status::Aborted);
        let seen = master.seen();
        assert_eq!(seen.len(), 1, "a refused driver does not retry: {seen:?}");
        assert_eq!(
            header(&seen[0], "authorization"),
            Some("Basic YWxpY2U6d3Jvbmc=")
        );
        assert_eq!(header(&seen[0], DRIVER_MARKER.0), Some(DRIVER_MARKER.1));
        let subscribe = seen[0].call.as_ref().and_then(|c| c.subscribe.as_ref());
        assert_eq!(
            subscribe.and_then(|s| s.framework_info.principal.as_deref()),
            Some("alice")
        );
        driver.stop(false);
    }

    /// Apache's v0 `Scheduler` has no inverse offer callback: INVERSE_OFFERS and
    /// RESCIND_INVERSE_OFFER reach no callback and send nothing (the master's inverse
    /// offers for maintenance, master/inverse.rs).
    #[test]
    fn inverse_offers_reach_no_v0_callback() {
        use sched::event::Type;
        let mut state = State::new(v1::FrameworkInfo::default());
        let id = v1::OfferId { value: "io".into() };
        let offers = sched::Event {
            r#type: Some(Type::InverseOffers as i32),
            inverse_offers: Some(sched::event::InverseOffers {
                inverse_offers: vec![v1::InverseOffer {
                    id: id.clone(),
                    framework_id: v1::FrameworkId { value: "f".into() },
                    ..Default::default()
                }],
            }),
            ..Default::default()
        };
        assert!(state.on_event(offers).is_empty());
        let rescind = sched::Event {
            r#type: Some(Type::RescindInverseOffer as i32),
            rescind_inverse_offer: Some(sched::event::RescindInverseOffer {
                inverse_offer_id: id,
            }),
            ..Default::default()
        };
        assert!(state.on_event(rescind).is_empty());
    }

    #[test]
    fn refusals_read_as_apaches_driver_reports_them() {
        assert_eq!(
            refusal_message(401, "ignored".into()),
            "Master refused authentication"
        );
        assert_eq!(
            refusal_message(403, "Not authorized to use role 'r'".into()),
            "Not authorized to use role 'r'"
        );
        assert_eq!(
            refusal_message(400, String::new()),
            "subscription refused (400)"
        );
    }

    fn simple_call(kind: sched::call::Type) -> sched::Call {
        sched::Call {
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    fn launch_call(tasks: &[&str]) -> sched::Call {
        sched::Call {
            r#type: Some(sched::call::Type::Accept as i32),
            accept: Some(sched::call::Accept {
                offer_ids: vec![v1::OfferId { value: "o1".into() }],
                operations: vec![v1::offer::Operation {
                    r#type: Some(v1::offer::operation::Type::Launch as i32),
                    launch: Some(v1::offer::operation::Launch {
                        task_infos: tasks
                            .iter()
                            .map(|t| v1::TaskInfo {
                                name: t.to_string(),
                                task_id: v1::TaskId {
                                    value: t.to_string(),
                                },
                                agent_id: v1::AgentId { value: "a1".into() },
                                ..Default::default()
                            })
                            .collect(),
                    }),
                    ..Default::default()
                }],
                filters: None,
            }),
            ..Default::default()
        }
    }

    /// sched.cpp: SUPPRESS/REVIVE/UPDATE_FRAMEWORK change the roles later subscriptions
    /// carry; an update's empty user and hostname are filled from the subscribed ones.
    #[test]
    fn suppressed_roles_are_tracked_and_updates_keep_the_user() {
        let mut state = State::new(v1::FrameworkInfo {
            user: "alice".into(),
            hostname: Some("h".into()),
            roles: vec!["a".into(), "b".into()],
            ..Default::default()
        });
        state.connected = true;
        let roles = |state: &State| state.suppressed_roles.iter().cloned().collect::<Vec<_>>();
        let mut suppress = simple_call(sched::call::Type::Suppress);
        suppress.suppress = Some(sched::call::Suppress::default());
        state.on_call(suppress, false);
        assert_eq!(roles(&state), ["a", "b"]);
        let mut revive = simple_call(sched::call::Type::Revive);
        revive.revive = Some(sched::call::Revive {
            roles: vec!["a".into()],
        });
        state.on_call(revive, false);
        assert_eq!(roles(&state), ["b"]);
        let mut update = simple_call(sched::call::Type::UpdateFramework);
        update.update_framework = Some(sched::call::UpdateFramework {
            framework_info: v1::FrameworkInfo {
                name: "renamed".into(),
                roles: vec!["a".into(), "b".into()],
                ..Default::default()
            },
            suppressed_roles: vec!["a".into()],
            ..Default::default()
        });
        let effects = state.on_call(update, false);
        let [Effect::Send(sent)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        let info = &sent.update_framework.as_ref().unwrap().framework_info;
        assert_eq!(
            (info.user.as_str(), info.hostname.as_deref()),
            ("alice", Some("h"))
        );
        assert_eq!(roles(&state), ["a"]);
        assert_eq!(state.framework.name, "renamed");
        assert_eq!(state.framework.user, "alice");
    }

    #[test]
    fn launching_while_disconnected_loses_each_task_locally() {
        // §1.8: TASK_LOST, SOURCE_MASTER, REASON_MASTER_DISCONNECTED, "Master disconnected".
        let mut state = State::new(v1::FrameworkInfo::default());
        let effects = state.on_call(launch_call(&["t1", "t2"]), true);
        assert_eq!(effects.len(), 2);
        for (effect, id) in effects.iter().zip(["t1", "t2"]) {
            let Effect::Deliver(Event::StatusUpdate(s)) = effect else {
                panic!("{effect:?}")
            };
            assert_eq!(s.task_id.value, id);
            assert_eq!(s.state, v1::TaskState::TaskLost as i32);
            assert_eq!(s.source, Some(v1::task_status::Source::Master as i32));
            assert_eq!(
                s.reason,
                Some(v1::task_status::Reason::MasterDisconnected as i32)
            );
            assert_eq!(s.agent_id.as_ref().unwrap().value, "a1");
            assert!(s.uuid.is_none(), "nothing to acknowledge");
        }
        // PARTITION_AWARE frameworks get TASK_DROPPED.
        let mut state = State::new(v1::FrameworkInfo {
            capabilities: vec![v1::framework_info::Capability {
                r#type: Some(v1::framework_info::capability::Type::PartitionAware as i32),
            }],
            ..Default::default()
        });
        let effects = state.on_call(launch_call(&["t1"]), true);
        let Effect::Deliver(Event::StatusUpdate(s)) = &effects[0] else {
            panic!()
        };
        assert_eq!(s.state, v1::TaskState::TaskDropped as i32);
        // Other calls are dropped while disconnected; sent while connected.
        assert!(state.on_call(sched::Call::default(), false).is_empty());
        state.connected = true;
        assert_eq!(
            state.on_call(launch_call(&["t3"]), true),
            vec![Effect::Send(Box::new(launch_call(&["t3"])))]
        );
    }

    #[test]
    fn failures_become_slave_lost_or_executor_lost_and_errors_abort_first() {
        let mut state = State::new(v1::FrameworkInfo::default());
        let failure = |executor: Option<&str>| sched::Event {
            r#type: Some(sched::event::Type::Failure as i32),
            failure: Some(sched::event::Failure {
                agent_id: Some(v1::AgentId { value: "a1".into() }),
                executor_id: executor.map(|e| v1::ExecutorId { value: e.into() }),
                status: executor.map(|_| 9),
            }),
            ..Default::default()
        };
        assert_eq!(
            state.on_event(failure(None)),
            vec![Effect::Deliver(Event::SlaveLost(v1::AgentId {
                value: "a1".into()
            }))]
        );
        assert_eq!(
            state.on_event(failure(Some("e1"))),
            vec![Effect::Deliver(Event::ExecutorLost {
                executor_id: v1::ExecutorId { value: "e1".into() },
                agent_id: v1::AgentId { value: "a1".into() },
                status: 9,
            })]
        );
        let error = sched::Event {
            r#type: Some(sched::event::Type::Error as i32),
            error: Some(sched::event::Error {
                message: "Framework has been removed".into(),
            }),
            ..Default::default()
        };
        assert_eq!(
            state.on_event(error),
            vec![
                Effect::Abort,
                Effect::Deliver(Event::Error("Framework has been removed".into()))
            ]
        );
        let heartbeat = sched::Event {
            r#type: Some(sched::event::Type::Heartbeat as i32),
            ..Default::default()
        };
        assert!(state.on_event(heartbeat).is_empty());
    }

    fn offers_event(ids: &[&str]) -> sched::Event {
        sched::Event {
            r#type: Some(sched::event::Type::Offers as i32),
            offers: Some(sched::event::Offers {
                offers: ids
                    .iter()
                    .map(|id| v1::Offer {
                        id: v1::OfferId {
                            value: id.to_string(),
                        },
                        ..Default::default()
                    })
                    .collect(),
            }),
            ..Default::default()
        }
    }

    fn declined(effect: &Effect) -> Vec<String> {
        let Effect::Send(call) = effect else {
            panic!("{effect:?}")
        };
        assert_eq!(call.r#type, Some(sched::call::Type::Decline as i32));
        call.decline
            .as_ref()
            .map(|d| d.offer_ids.iter().map(|o| o.value.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn abort_while_subscribed_declines_the_offers_held_and_suppresses() {
        // src/sched/sched.cpp `SchedulerProcess::abort`: while connected the driver sends
        // DeactivateFrameworkMessage, on which the master rescinds the framework's offers and
        // stops offering (master.cpp `deactivate`). v1 has no such call: the driver declines
        // what it holds and suppresses all roles, and stays subscribed for a later TEARDOWN.
        let mut state = State::new(v1::FrameworkInfo::default());
        state.connected = true;
        assert_eq!(state.on_event(offers_event(&["o1", "o2", "o3"])).len(), 1);
        // Answered or rescinded offers are not held any more.
        state.on_call(
            decline_call(vec![v1::OfferId { value: "o1".into() }]),
            false,
        );
        state.on_event(sched::Event {
            r#type: Some(sched::event::Type::Rescind as i32),
            rescind: Some(sched::event::Rescind {
                offer_id: v1::OfferId { value: "o3".into() },
            }),
            ..Default::default()
        });
        let effects = state.on_abort();
        assert_eq!(effects.len(), 2, "{effects:?}");
        assert_eq!(declined(&effects[0]), vec!["o2".to_string()]);
        let Effect::Send(suppress) = &effects[1] else {
            panic!("{effects:?}")
        };
        assert_eq!(suppress.r#type, Some(sched::call::Type::Suppress as i32));
        assert_eq!(
            suppress.suppress,
            Some(sched::call::Suppress { roles: Vec::new() }),
            "no roles: all of them"
        );
        assert!(state.connected, "the subscription is kept for stop(false)");
        // A second abort sends nothing more.
        assert!(state.on_abort().is_empty());
    }

    #[test]
    fn an_aborted_driver_delivers_and_sends_nothing_but_declines_late_offers() {
        // sched.cpp: every handler returns at once when `!running` ("the driver is not
        // running"), and MesosSchedulerDriver's calls return unless DRIVER_RUNNING.
        let mut state = State::new(v1::FrameworkInfo::default());
        state.connected = true;
        state.on_abort();
        // An offer that crossed the SUPPRESS goes straight back.
        let effects = state.on_event(offers_event(&["late"]));
        assert_eq!(effects.len(), 1);
        assert_eq!(declined(&effects[0]), vec!["late".to_string()]);
        let update = sched::Event {
            r#type: Some(sched::event::Type::Update as i32),
            update: Some(sched::event::Update {
                status: v1::TaskStatus::default(),
            }),
            ..Default::default()
        };
        assert!(state.on_event(update).is_empty());
        assert!(state.on_call(launch_call(&["t1"]), true).is_empty());
        assert!(state.on_call(sched::Call::default(), false).is_empty());
        // An error from the master ends the subscription without a callback.
        let error = sched::Event {
            r#type: Some(sched::event::Type::Error as i32),
            error: Some(sched::event::Error {
                message: "Framework failed over".into(),
            }),
            ..Default::default()
        };
        assert_eq!(state.on_event(error), vec![Effect::Abort]);
        // Nor is `disconnected` delivered.
        assert!(state.on_disconnected().is_empty());
        assert!(!state.connected);
    }

    #[test]
    fn abort_while_disconnected_sends_nothing() {
        // sched.cpp `abort`: "Not sending a deactivate message as master is disconnected".
        let mut state = State::new(v1::FrameworkInfo::default());
        assert!(state.on_abort().is_empty());
        assert!(state.aborted);
    }

    #[test]
    fn acknowledgements_need_a_uuid_and_an_agent() {
        let mut status = v1::TaskStatus {
            task_id: v1::TaskId { value: "t".into() },
            state: v1::TaskState::TaskRunning as i32,
            ..Default::default()
        };
        assert!(acknowledge_call(&status).is_none());
        status.uuid = Some(vec![1, 2, 3]);
        assert!(acknowledge_call(&status).is_none());
        status.agent_id = Some(v1::AgentId { value: "a".into() });
        let call = acknowledge_call(&status).unwrap();
        assert_eq!(call.acknowledge.unwrap().uuid, vec![1, 2, 3]);
    }

    struct Recorder(std::sync::mpsc::Sender<Event>);
    impl Scheduler for Recorder {
        fn deliver(&mut self, event: Event) -> Result<(), String> {
            let _ = self.0.send(event);
            Ok(())
        }
    }

    #[test]
    fn status_machine_follows_apache() {
        let (tx, _rx) = std::sync::mpsc::channel();
        // An unreachable master: the driver keeps retrying while RUNNING.
        let driver = SchedulerDriver::new(
            Config::new(
                v1::FrameworkInfo {
                    name: "t".into(),
                    ..Default::default()
                },
                "127.0.0.1:1",
            ),
            Box::new(Recorder(tx)),
        );
        assert_eq!(driver.status(), Status::NotStarted);
        assert_eq!(driver.join(), Status::NotStarted);
        assert_eq!(driver.stop(false), Status::NotStarted);
        assert_eq!(driver.start(), Status::Running);
        assert_eq!(driver.start(), Status::Running);
        assert_eq!(driver.launch_tasks(vec![], vec![], None), Status::Running);
        assert!(driver.acknowledge(&v1::TaskStatus::default()).is_err());
        assert_eq!(driver.abort(), Status::Aborted);
        assert_eq!(driver.join(), Status::Aborted);
        assert_eq!(driver.abort(), Status::Aborted);
        // stop after abort: STOPPED, but it reports DRIVER_ABORTED.
        assert_eq!(driver.stop(true), Status::Aborted);
        assert_eq!(driver.status(), Status::Stopped);
        assert_eq!(driver.start(), Status::Stopped);
    }
}
