//! The agent: runs executors and their tasks for the master.
//!
//! Data flow (DESIGN.md §3, §5):
//!
//! ```text
//!  master (gRPC session, runtime.rs) ─┐        ┌─ executors (POST /api/v1/executor, http.rs)
//!                                     v        v
//!        Agent: synchronous handlers over frameworks, executors, tasks, split by concern:
//!          master_link.rs   registration, launches, kills, shutdowns from the master
//!          executor_api.rs  SUBSCRIBE / UPDATE / MESSAGE from executors
//!          executors.rs     launching executors into containers, their start, limits, exit
//!          updates.rs       every status update -> status_update::Manager (streams, retries)
//!          operations.rs    operations applied with an `id`: their statuses, retried until acknowledged
//!          recovery.rs      taking up checkpointed state after a restart
//!          gc/              completed executors and frameworks; termination when idle;
//!                           their directories' garbage collection (schedule, disk usage)
//!        decisions leave as Effects
//!                                     |
//!                                     v
//!        runtime.rs performs effects: messages to the master and executors, checkpoints,
//!        launches (fetcher.rs, launcher.rs: detached process groups), signals
//! ```
//!
//! This file keeps the types (frameworks, executors, effects), the agent's core (its
//! outbox, ids, the periodic `tick`) and the executor index. Mesos keeps the same state in
//! `Slave`, `Framework` and `Executor` (src/slave/slave.hpp).
//!
//! - `container_logger`: where executors' stdout/stderr go (`--container_logger`, log
//!   rotation).
//! - `fetcher`: CommandInfo.URI download and extraction into a sandbox.
//! - `fetcher_cache`: which URIs are downloaded once and copied from the cache (Mesos's
//!   fetcher cache).
//! - `executor_peers`: which peers may call the executor API (this host, its containers).
//! - `files`: the `/files` endpoints over sandboxes, confined to them.
//! - `monitor`: `/monitor/statistics` and `/containers`, the containers' usage.
//! - `disk_du`: the `disk/du` isolator: containers' disk use per path, quotas enforced.
//! - `disk_xfs`: the `disk/xfs` isolator: each sandbox an XFS project with a project quota.
//! - `nested` and `http_nested`: nested and standalone containers (LAUNCH_NESTED_CONTAINER,
//!   sessions, attach) — their processes, and the operator calls that drive them.
//! - `systemd`: executors moved out of the agent's unit (`--systemd_enable_support`).
//! - `status_update`: per-task update streams, checkpointed, retried until acknowledged.
//! - `launcher`: detached executor processes; `paths`: Mesos's work_dir layout.
//! - `volumes`: checkpointed resources (reservations, persistent volumes) and the volumes'
//!   directories, linked into sandboxes.

// Mesos's deprecated fields (ExecutorInfo.source, ...) are still part of the contract.
#![allow(deprecated)]

pub mod authn;
pub mod beneath;
pub mod container_logger;
pub mod containerizer;
pub mod daemon;
pub mod disk_du;
pub mod disk_xfs;
mod executor_api;
mod executor_peers;
mod executors;
pub mod fetcher;
pub mod fetcher_cache;
pub mod files;
pub mod flags;
mod gc;
pub mod http;
mod http_nested;
pub mod isolator;
pub mod launcher;
mod master_link;
pub mod monitor;
pub mod nested;
pub mod operations;
pub mod paths;
pub mod recovery;
pub mod runtime;
pub mod session;
pub mod status_update;
pub mod systemd;
mod updates;
pub mod volumes;

pub use executors::container_status;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::executor as exec;
use wire::agent_message::Message as ToMaster;

use crate::common::id::{AgentId, ContainerId, ExecutorId, FrameworkId, IdError, TaskId};
use crate::resources::Resources;
use status_update::{Action, Manager};

/// Identifies one executor subscription stream.
pub type ConnId = u64;

/// The command executor's own binary (Mesos's `mesos-executor`; `src/bin/remesos-executor.rs`).
pub const LEAN_EXECUTOR: &str = "remesos-executor";

/// Mesos's DEFAULT_EXECUTOR_CPUS / DEFAULT_EXECUTOR_MEM for the command executor.
pub const COMMAND_EXECUTOR_RESOURCES: &str = "cpus:0.1;mem:32";

#[derive(Clone, Debug)]
pub struct Config {
    pub work_dir: PathBuf,
    pub hostname: String,
    /// The address executors and the master use to reach this agent.
    pub ip: Ipv4Addr,
    pub port: u16,
    pub resources: Resources,
    pub attributes: Vec<v1::Attribute>,
    /// Where `remesos` (the command executor) lives.
    pub launcher_dir: PathBuf,
    /// Whether `launcher_dir` holds [`LEAN_EXECUTOR`] (found at start): command tasks then
    /// run under it, else under `remesos executor`.
    pub lean_executor: bool,
    pub executor_registration_timeout: Duration,
    pub executor_shutdown_grace_period: Duration,
    pub executor_reregistration_timeout: Duration,
    pub recovery_timeout: Duration,
    pub registration_backoff_factor: Duration,
    /// `MESOS_NATIVE_JAVA_LIBRARY` / `MESOS_NATIVE_LIBRARY` for executors, when it exists.
    pub native_library: Option<PathBuf>,
    /// `--executor_environment_variables`: when set, executors get these instead of the
    /// agent's own environment.
    pub executor_environment: Option<BTreeMap<String, String>>,
    /// `--isolation`, with the cgroup hierarchy found at start.
    pub isolation: isolator::Isolation,
    /// `--frameworks_home`, `--fetcher_stall_timeout`, `--hadoop_home`.
    pub fetch: fetcher::FetchOptions,
    /// `--fetcher_cache_dir`, `--fetcher_cache_size`: the fetcher cache and its metrics.
    pub fetcher_cache: std::sync::Arc<fetcher_cache::FetcherCache>,
    /// `--container_logger` and the logrotate logger's `--logrotate_*` flags.
    pub container_logger: container_logger::ContainerLogger,
    /// `--systemd_enable_support`, `--systemd_runtime_directory`, and the executor slice's
    /// `cgroup.procs` once the daemon has set it up (systemd.rs).
    pub systemd: SystemdConfig,
    /// Container image support (`--image_providers` and the flags around it); `None`:
    /// images are refused at launch.
    pub images: Option<containerizer::provisioner::ImageSettings>,
    /// Effective flags as text, for `/flags` and GET_FLAGS.
    pub flags: Vec<(String, String)>,
    /// Who may call the agent's endpoints, the key executors' tokens are signed with, the
    /// credential presented to the master (agent/authn.rs).
    pub security: authn::Settings,
    /// The local authorizer (`--acls`); allows everything without ACLs.
    pub authorizer: std::sync::Arc<crate::security::authorizer::Authorizer>,
    /// `--containerizers`, in order (containerizer/mod.rs).
    pub containerizers: Vec<containerizer::Kind>,
    /// The docker containerizer's settings (`--docker`, `--docker_socket`, ...), when
    /// `--containerizers` names it.
    pub docker: Option<containerizer::docker::Settings>,
    /// `--gc_delay`, `--gc_disk_headroom`, `--disk_watch_interval`.
    pub gc: gc::GcConfig,
    /// `--switch_user` (default true): executors, tasks and nested containers run as their
    /// user when the agent is root; false: as the agent's own user ([`launcher::run_as`]).
    pub switch_user: bool,
}

/// The agent's systemd settings (systemd.rs).
#[derive(Clone, Debug, Default)]
pub struct SystemdConfig {
    pub enable: bool,
    pub runtime_directory: PathBuf,
    /// Set at daemon start: where executors are moved (`mesos_executors.slice`).
    pub slice_procs: Option<PathBuf>,
}

pub use crate::common::time::Time;

/// A process the runtime should start for an executor.
#[derive(Clone, Debug)]
pub struct Launch {
    pub framework_id: String,
    pub executor_id: String,
    pub container_id: String,
    pub sandbox: PathBuf,
    pub command: v1::CommandInfo,
    pub environment: Vec<(String, String)>,
    pub user: Option<String>,
    /// The container's cpus and mem (executor plus its first tasks), for cgroups.
    pub limits: isolator::Limits,
    /// Where the executor's pid is checkpointed (`<meta run dir>/pids/forked.pid`).
    pub pid_file: PathBuf,
    /// The container to run in: the task's for a command task, else the executor's (an
    /// image here is provisioned by the mesos containerizer).
    pub container: Option<v1::ContainerInfo>,
    /// A command task's own command (set only for the command executor): what
    /// `docker/runtime` merges with the image's Entrypoint and Cmd.
    pub task_command: Option<v1::CommandInfo>,
    /// The task of a command executor (the docker containerizer runs it in its image).
    pub task: Option<v1::TaskInfo>,
    /// The executor's and its first tasks' resources (ports for docker port mappings).
    pub resources: Vec<v1::Resource>,
    /// The persistent volumes among `resources`, to appear in the sandbox (`volumes.rs`);
    /// an error (a volume that cannot be placed) fails the launch with its text.
    pub volumes: Result<Vec<volumes::VolumeMount>, String>,
}

#[derive(Debug)]
pub enum Effect {
    /// A message on the master session (boxed: by far the largest variant).
    Master(Box<ToMaster>),
    Executor {
        conn: ConnId,
        event: Box<exec::Event>,
    },
    CloseExecutor {
        conn: ConnId,
    },
    /// Create the sandbox, fetch, start the executor process.
    Launch(Box<Launch>),
    /// SIGTERM (or SIGKILL when `kill`) to the executor's process group.
    Signal {
        container_id: String,
        kill: bool,
    },
    /// Kill every process of the container at once (a limitation was reached).
    Destroy {
        container_id: String,
    },
    /// The container's limits changed (a task joined its executor).
    Resize {
        container_id: String,
        limits: isolator::Limits,
    },
    /// Append a record to a checkpoint file, or write a whole file (fsync'd when `durable`:
    /// see [`recovery::checkpoint`]).
    Persist {
        path: PathBuf,
        data: Vec<u8>,
        append: bool,
        durable: bool,
    },
    /// The master shut this agent down and its executors are gone: forget the agent's id
    /// (`meta/slaves/latest`, so that a restart registers a new agent) and stop, as
    /// Mesos's agent does.
    Terminate,
    /// Point the symlink `path` at `target` (e.g. `slaves/latest`).
    Link {
        path: PathBuf,
        target: String,
    },
    /// Make a sandbox browsable through `/files` under these paths; reading it takes
    /// `access_sandboxes` on `user` (the executor's user, else its framework's).
    Attach {
        sandbox: PathBuf,
        paths: Vec<String>,
        user: String,
    },
    /// Set a directory's modification time to now: its garbage collection counts from it,
    /// also after a restart (Mesos's `os::utime` before `garbageCollect`).
    Touch {
        path: PathBuf,
    },
    /// Checkpoint the agent's resources and create or remove volume directories
    /// (`volumes.rs`), in that order.
    CheckpointResources(Box<volumes::Checkpoint>),
    /// Detach these directories' `/files` names and remove them (gc/sweep.rs); the runtime
    /// reports how each ended to [`Agent::gc_removed`].
    Remove(Vec<gc::collector::Removal>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorState {
    /// Launched; waiting for its SUBSCRIBE.
    Registering,
    Running,
    /// Asked to shut down; killed when the grace period ends.
    Terminating,
    Terminated,
}

impl ExecutorState {
    pub fn name(self) -> &'static str {
        match self {
            ExecutorState::Registering => "REGISTERING",
            ExecutorState::Running => "RUNNING",
            ExecutorState::Terminating => "TERMINATING",
            ExecutorState::Terminated => "TERMINATED",
        }
    }
}

#[derive(Debug)]
pub struct Executor {
    pub info: v1::ExecutorInfo,
    pub container_id: String,
    pub sandbox: PathBuf,
    /// Generated by the agent for a command task (`remesos executor`).
    pub command_executor: bool,
    pub state: ExecutorState,
    pub conn: Option<ConnId>,
    pub pid: Option<u32>,
    /// Tasks waiting for the executor to subscribe.
    pub queued: Vec<v1::TaskInfo>,
    /// Task groups waiting for the executor to subscribe (sent as LAUNCH_GROUP).
    pub queued_groups: Vec<v1::TaskGroupInfo>,
    /// Tasks handed to the executor that are not terminal, by id.
    pub tasks: BTreeMap<String, v1::Task>,
    pub completed: Vec<v1::Task>,
    pub registration_deadline: Instant,
    pub kill_deadline: Option<Instant>,
    /// The container's cpus and mem (for limits and usage).
    pub limits: isolator::Limits,
    /// A limit the container reached (e.g. memory): the reason and message its unfinished
    /// tasks end with.
    pub limitation: Option<(v1::task_status::Reason, String)>,
    /// Recovered after an agent restart and not yet resubscribed.
    pub recovered: bool,
    /// A run that had ended before an agent restart: its directories' mtimes, which its
    /// garbage collection counts from (gc/).
    pub recovered_times: Option<gc::RunTimes>,
    /// The container's own IP addresses, as its containerizer reports them (a docker
    /// container on a BRIDGE or USER network: dockerd's answer); its status's
    /// `network_infos`. Empty on the host network, where updates carry the agent's IP.
    pub ip_addresses: Vec<String>,
    /// The container's last measured disk use per watched path (`disk/du`, disk_du.rs).
    pub disk_usage: BTreeMap<PathBuf, u64>,
}

#[derive(Debug)]
pub struct Framework {
    pub info: v1::FrameworkInfo,
    pub executors: BTreeMap<String, Executor>,
    /// Terminated executors whose updates are all delivered, newest last, capped at
    /// [`MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK`] (shown by `/state` and GET_TASKS).
    pub completed_executors: std::collections::VecDeque<Executor>,
    /// The master shut this framework down here (Mesos's `Framework::TERMINATING`): its
    /// executors are being shut down, new status updates are ignored (it cannot acknowledge
    /// them), and it is removed with its update streams once no executor is left.
    pub terminating: bool,
    /// `framework.info` as last written (or recovered), encoded: an executor's launch
    /// rewrites the file only when the info changed since (the same bytes again would only
    /// cost a write, a rename over the old file and ext4's flush of it, per task).
    pub checkpointed_info: Vec<u8>,
}

/// Mesos's `--max_completed_executors_per_framework` default.
pub const MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK: usize = 150;
/// Mesos's agent keeps this many completed frameworks (MAX_COMPLETED_FRAMEWORKS).
pub const MAX_COMPLETED_FRAMEWORKS: usize = 50;

/// Counters behind `/metrics/snapshot`.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub tasks_finished: u64,
    pub tasks_failed: u64,
    pub tasks_killed: u64,
    pub tasks_lost: u64,
    pub executors_terminated: u64,
    pub valid_status_updates: u64,
    pub invalid_status_updates: u64,
    pub valid_framework_messages: u64,
    pub invalid_framework_messages: u64,
    pub container_launch_errors: u64,
}

/// Why an executor API call was refused: the HTTP status and Mesos's text.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
}

/// Where an executor is found: its framework's id and its own, both validated by Mesos's
/// rules. The key of the executor index ([`Agent::executor`]): ids from the master, an
/// executor or a checkpoint become a key once, where they enter, and no executor is ever
/// stored under an id that would not make one — so a string that fails to become a key
/// names no executor here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutorKey {
    pub framework: FrameworkId,
    pub executor: ExecutorId,
}

impl ExecutorKey {
    pub fn new(framework_id: &str, executor_id: &str) -> Result<ExecutorKey, IdError> {
        Ok(ExecutorKey {
            framework: FrameworkId::new(framework_id)?,
            executor: ExecutorId::new(executor_id)?,
        })
    }

    /// The key of ids taken from the wire or from a caller that holds strings; `None` when
    /// either is invalid (then there is no such executor).
    pub fn parse(framework_id: &str, executor_id: &str) -> Option<ExecutorKey> {
        ExecutorKey::new(framework_id, executor_id).ok()
    }
}

/// The validated ids of one executor run: what its directories are named after.
struct RunIds {
    agent: AgentId,
    framework: FrameworkId,
    executor: ExecutorId,
    container: ContainerId,
}

impl RunIds {
    /// `meta/.../runs/<container>/tasks/<task>`: where a task's info and updates live.
    fn meta_task_dir(&self, work_dir: &std::path::Path, task: &TaskId) -> PathBuf {
        paths::meta_task_dir(
            work_dir,
            &self.agent,
            &self.framework,
            &self.executor,
            &self.container,
            task,
        )
    }

    /// `/files` names for the run's sandbox: its own path, its executor's `runs/latest`
    /// and Mesos's virtual `/frameworks/.../runs/latest`.
    fn attach(&self, work_dir: &std::path::Path, sandbox: &std::path::Path, user: &str) -> Effect {
        let executor_dir =
            paths::executor_dir(work_dir, &self.agent, &self.framework, &self.executor);
        Effect::Attach {
            user: user.to_string(),
            sandbox: sandbox.to_path_buf(),
            paths: vec![
                sandbox.display().to_string(),
                executor_dir
                    .join("runs")
                    .join("latest")
                    .display()
                    .to_string(),
                paths::virtual_latest(&self.framework, &self.executor),
            ],
        }
    }
}

pub struct Agent {
    pub config: Config,
    /// Set once the master registered us.
    pub id: Option<String>,
    pub info: v1::AgentInfo,
    pub master: Option<v1::MasterInfo>,
    pub frameworks: BTreeMap<String, Framework>,
    /// Frameworks with nothing left running here, newest last (bounded history).
    pub completed_frameworks: std::collections::VecDeque<Framework>,
    pub updates: Manager,
    /// Operations applied with an `id` whose statuses await acknowledgement (operations.rs).
    pub operations: operations::Operations,
    pub counters: Counters,
    pub start_time: f64,
    /// The master asked this agent to shut down (it was marked gone, or its machine went
    /// DOWN): once its executors are gone, it terminates.
    pub terminating: bool,
    terminate_emitted: bool,
    /// The directories scheduled for removal (gc/).
    pub gc: gc::collector::Collector,
    outbox: Vec<Effect>,
}

impl Agent {
    pub fn new(config: Config, now: Time) -> Agent {
        let info = v1::AgentInfo {
            hostname: config.hostname.clone(),
            port: Some(i32::from(config.port)),
            resources: config.resources.clone().into_protos(),
            attributes: config.attributes.clone(),
            id: None,
            domain: None,
        };
        Agent {
            config,
            id: None,
            info,
            master: None,
            frameworks: BTreeMap::new(),
            completed_frameworks: Default::default(),
            updates: Manager::default(),
            operations: Default::default(),
            counters: Counters::default(),
            start_time: now.wall,
            terminating: false,
            terminate_emitted: false,
            gc: Default::default(),
            outbox: Vec::new(),
        }
    }

    pub fn drain_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.outbox)
    }

    fn emit(&mut self, effect: Effect) {
        self.outbox.push(effect);
    }

    fn send_executor(&mut self, conn: ConnId, event: exec::Event) {
        self.emit(Effect::Executor {
            conn,
            event: Box::new(event),
        });
    }

    /// `ip:port`
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.config.ip, self.config.port)
    }

    /// `slave(1)@ip:port`, the pid executors derive the agent's URL from.
    pub fn pid(&self) -> String {
        format!("slave(1)@{}", self.endpoint())
    }

    /// The validated ids naming one executor run's directories. Every id the agent keeps
    /// was validated where it entered (the master's messages, the executor API, recovery),
    /// so an error here is a bug: it is logged and the caller skips the write rather than
    /// let an unchecked string reach a path.
    fn run_ids(&self, key: &ExecutorKey, container_id: &str) -> Option<RunIds> {
        let ids = (|| {
            Ok::<_, IdError>(RunIds {
                agent: AgentId::new(self.id.clone().unwrap_or_default())?,
                framework: key.framework.clone(),
                executor: key.executor.clone(),
                container: ContainerId::new(container_id)?,
            })
        })();
        match ids {
            Ok(ids) => Some(ids),
            Err(error) => {
                tracing::error!(framework_id = %key.framework, executor_id = %key.executor, container_id, %error, "invalid id; nothing written");
                None
            }
        }
    }

    // ----- the executor index (Mesos's `Slave::getExecutor`) -----

    /// The executor `key` names, if this agent runs it (or ran it and keeps it until its
    /// updates are acknowledged).
    pub fn executor(&self, key: &ExecutorKey) -> Option<&Executor> {
        self.frameworks
            .get(key.framework.as_str())?
            .executors
            .get(key.executor.as_str())
    }

    pub fn executor_mut(&mut self, key: &ExecutorKey) -> Option<&mut Executor> {
        self.frameworks
            .get_mut(key.framework.as_str())?
            .executors
            .get_mut(key.executor.as_str())
    }

    /// The executor with its framework.
    pub fn framework_executor(&self, key: &ExecutorKey) -> Option<(&Framework, &Executor)> {
        let framework = self.frameworks.get(key.framework.as_str())?;
        Some((framework, framework.executors.get(key.executor.as_str())?))
    }

    /// The executor whose container (not yet terminated) is `container_id` (Mesos's
    /// `Slave::getExecutor(const ContainerID&)`).
    pub fn executor_of_container(&mut self, container_id: &str) -> Option<&mut Executor> {
        self.frameworks
            .values_mut()
            .flat_map(|f| f.executors.values_mut())
            .find(|e| e.container_id == container_id && e.state != ExecutorState::Terminated)
    }

    fn agent_id(&self) -> String {
        self.id.clone().unwrap_or_default()
    }

    fn perform(&mut self, actions: Vec<Action>) {
        use prost::Message;
        for action in actions {
            match action {
                Action::Persist { path, record } => {
                    let mut data = Vec::new();
                    remesos_proto::recordio::encode(&record.encode_to_vec(), &mut data);
                    self.emit(Effect::Persist {
                        path,
                        data,
                        append: true,
                        durable: false,
                    });
                }
                Action::Forward(update) => {
                    self.emit(Effect::Master(Box::new(ToMaster::StatusUpdate(update))))
                }
            }
        }
    }

    /// The earliest instant at which [`Agent::tick`] has timed work: an executor's
    /// registration deadline or kill escalation, or a status update's retry. The runtime
    /// sleeps until then (or the next command) and ticks after every wake; work that a
    /// command makes due at once is done by that tick.
    pub fn next_deadline(&self) -> Option<Instant> {
        let executors = self
            .frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .filter_map(|executor| match executor.state {
                ExecutorState::Registering => Some(executor.registration_deadline),
                ExecutorState::Terminating => executor.kill_deadline,
                _ => None,
            });
        executors
            .chain(self.updates.next_deadline())
            .chain(self.operations.next_deadline())
            .chain(self.gc.next_deadline())
            .min()
    }

    /// Periodic work: executor registration and shutdown deadlines, update retries,
    /// directories due for removal.
    pub fn tick(&mut self, now: Time) {
        self.gc_due(now);
        let mut expired = Vec::new();
        let mut kills = Vec::new();
        for (fid, framework) in &mut self.frameworks {
            for (eid, executor) in &mut framework.executors {
                match executor.state {
                    ExecutorState::Registering if now.mono >= executor.registration_deadline => {
                        expired.push((fid.clone(), eid.clone()));
                    }
                    ExecutorState::Terminating
                        if executor.kill_deadline.is_some_and(|d| now.mono >= d) =>
                    {
                        executor.kill_deadline = None;
                        kills.push(executor.container_id.clone());
                    }
                    _ => {}
                }
            }
        }
        for container_id in kills {
            self.emit(Effect::Signal {
                container_id,
                kill: true,
            });
        }
        for (fid, eid) in expired {
            tracing::warn!(framework_id = %fid, executor_id = %eid, "executor did not subscribe in time");
            if let Some(executor) =
                ExecutorKey::parse(&fid, &eid).and_then(|key| self.executor_mut(&key))
            {
                executor.limitation = Some(if executor.recovered {
                    (
                        v1::task_status::Reason::ExecutorReregistrationTimeout,
                        "Executor did not reregister within the timeout after the agent restarted"
                            .to_string(),
                    )
                } else {
                    (
                        v1::task_status::Reason::ExecutorRegistrationTimeout,
                        "Executor did not register within the timeout".to_string(),
                    )
                });
                executor.state = ExecutorState::Terminating;
                executor.kill_deadline = None;
                let container_id = executor.container_id.clone();
                self.emit(Effect::Signal {
                    container_id,
                    kill: true,
                });
            }
        }
        let actions = self.updates.retry(now.mono);
        self.perform(actions);
        let actions = self.operations.retry(now.mono);
        self.perform_operations(actions);
    }
}
