//! The agent: runs executors and their tasks for the master.
//!
//! Data flow (DESIGN.md §3, §5):
//!
//! ```text
//!  master (gRPC session, runtime.rs) ─┐        ┌─ executors (POST /api/v1/executor, http.rs)
//!                                     v        v
//!        Agent (this module): synchronous handlers over frameworks, executors, tasks;
//!        decisions leave as Effects; status updates go through status_update::Manager
//!                                     |
//!                                     v
//!        runtime.rs performs effects: messages to the master and executors, checkpoints,
//!        launches (fetcher.rs, launcher.rs: detached process groups), signals
//! ```
//!
//! - `fetcher`: CommandInfo.URI download and extraction into a sandbox.
//! - `files`: the `/files` endpoints over sandboxes, confined to them.
//! - `status_update`: per-task update streams, checkpointed, retried until acknowledged.
//! - `launcher`: detached executor processes; `paths`: Mesos's work_dir layout.

// Mesos's deprecated fields (ExecutorInfo.source, ...) are still part of the contract.
#![allow(deprecated)]

pub mod beneath;
pub mod daemon;
pub mod fetcher;
pub mod files;
pub mod flags;
pub mod http;
pub mod isolator;
pub mod launcher;
pub mod paths;
pub mod recovery;
pub mod runtime;
pub mod session;
pub mod status_update;

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
    /// `--frameworks_home`, `--fetcher_stall_timeout`.
    pub fetch: fetcher::FetchOptions,
    /// Effective flags as text, for `/flags` and GET_FLAGS.
    pub flags: Vec<(String, String)>,
}

/// The instant of a handler call (monotonic) and the wall clock (seconds since the epoch).
#[derive(Clone, Copy, Debug)]
pub struct Time {
    pub mono: Instant,
    pub wall: f64,
}

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
    /// Append a record to a checkpoint file, or write a whole file.
    Persist {
        path: PathBuf,
        data: Vec<u8>,
        append: bool,
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
    /// Make a sandbox browsable through `/files` under these paths.
    Attach {
        sandbox: PathBuf,
        paths: Vec<String>,
    },
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

/// The validated ids of one executor run: what its directories are named after.
struct RunIds {
    agent: AgentId,
    framework: FrameworkId,
    executor: ExecutorId,
    container: ContainerId,
}

/// Checks the ids of a launch from the master (framework, executor, tasks) by Mesos's
/// rules before any of them is stored or becomes a directory. The master validates them
/// too; the agent does not take that on trust, since anything that can talk to it as its
/// master could send them.
fn validate_launch_ids<'a>(
    framework_id: &str,
    executor_id: &str,
    task_ids: impl IntoIterator<Item = &'a str>,
) -> Result<(), String> {
    FrameworkId::new(framework_id).map_err(|e| format!("invalid framework id: {e}"))?;
    ExecutorId::new(executor_id).map_err(|e| format!("invalid executor id: {e}"))?;
    for task_id in task_ids {
        TaskId::new(task_id).map_err(|e| format!("invalid task id: {e}"))?;
    }
    Ok(())
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
    pub counters: Counters,
    pub start_time: f64,
    /// The master asked this agent to shut down (it was marked gone, or its machine went
    /// DOWN): once its executors are gone, it terminates.
    pub terminating: bool,
    terminate_emitted: bool,
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
            counters: Counters::default(),
            start_time: now.wall,
            terminating: false,
            terminate_emitted: false,
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
    fn run_ids(&self, framework_id: &str, executor_id: &str, container_id: &str) -> Option<RunIds> {
        let ids = (|| {
            Ok::<_, IdError>(RunIds {
                agent: AgentId::new(self.id.clone().unwrap_or_default())?,
                framework: FrameworkId::new(framework_id)?,
                executor: ExecutorId::new(executor_id)?,
                container: ContainerId::new(container_id)?,
            })
        })();
        match ids {
            Ok(ids) => Some(ids),
            Err(error) => {
                tracing::error!(framework_id, executor_id, container_id, %error, "invalid id; nothing written");
                None
            }
        }
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
                    });
                }
                Action::Forward(update) => {
                    self.emit(Effect::Master(Box::new(ToMaster::StatusUpdate(update))))
                }
            }
        }
    }

    // ----- master session -----

    /// The first message of a session: Register, or Reregister with what runs here.
    pub fn hello(&self) -> ToMaster {
        let endpoint = Some(self.endpoint());
        let version = Some(crate::common::version::MESOS_VERSION.to_string());
        let Some(id) = &self.id else {
            return ToMaster::Register(wire::Register {
                agent_info: self.info.clone(),
                version,
                capabilities: vec![],
                endpoint,
                boot_id: recovery::boot_id(),
            });
        };
        let mut info = self.info.clone();
        info.id = Some(v1::AgentId { value: id.clone() });
        let mut reregister = wire::Reregister {
            agent_info: info,
            version,
            endpoint,
            ..Default::default()
        };
        for framework in self.frameworks.values() {
            reregister.frameworks.push(framework.info.clone());
            let fid = framework.info.id.as_ref().map(|i| i.value.as_str());
            for executor in framework.executors.values() {
                // Ended tasks whose updates are not yet acknowledged are reported too (as
                // Mesos's agent does), so that a new master reconciles them with their
                // terminal state instead of LOST while the update is resent.
                reregister.tasks.extend(
                    executor
                        .completed
                        .iter()
                        .filter(|t| {
                            fid.is_some_and(|f| self.updates.has_pending(f, &t.task_id.value))
                        })
                        .cloned(),
                );
                if executor.state == ExecutorState::Terminated {
                    continue;
                }
                if !executor.command_executor {
                    reregister.executors.push(executor.info.clone());
                }
                reregister.tasks.extend(executor.tasks.values().cloned());
                for task in executor
                    .queued
                    .iter()
                    .chain(executor.queued_groups.iter().flat_map(|g| g.tasks.iter()))
                {
                    reregister
                        .tasks
                        .push(self.new_task(&framework.info, executor, task));
                }
            }
        }
        ToMaster::Reregister(reregister)
    }

    /// The master (re)registered us.
    pub fn registered(&mut self, now: Time, agent_id: String, master: Option<v1::MasterInfo>) {
        use prost::Message;
        let valid_id = match AgentId::new(agent_id.as_str()) {
            Ok(id) => id,
            Err(error) => {
                // The id names directories under work_dir: a master that hands out a bad one
                // is not followed.
                tracing::error!(%error, "the master assigned an invalid agent id; ignored");
                return;
            }
        };
        let first = self.id.is_none();
        self.id = Some(agent_id.clone());
        self.info.id = Some(v1::AgentId {
            value: agent_id.clone(),
        });
        self.master = master;
        self.updates.connected = true;
        if first {
            let path = paths::meta_slave_dir(&self.config.work_dir, &valid_id).join("slave.info");
            self.emit(Effect::Persist {
                path,
                data: self.info.encode_to_vec(),
                append: false,
            });
            for path in [
                self.config.work_dir.join("slaves").join("latest"),
                paths::meta_dir(&self.config.work_dir)
                    .join("slaves")
                    .join("latest"),
            ] {
                self.emit(Effect::Link {
                    path,
                    target: agent_id.clone(),
                });
            }
        }
        tracing::info!(%agent_id, "registered with the master");
        let actions = self.updates.resend_all(now.mono);
        self.perform(actions);
    }

    pub fn master_disconnected(&mut self) {
        self.updates.connected = false;
    }

    pub fn from_master(&mut self, now: Time, message: wire::master_message::Message) {
        use wire::master_message::Message as M;
        match message {
            M::Registered(r) => self.registered(now, r.agent_id.value, r.master_info),
            M::Reregistered(r) => self.registered(now, r.agent_id.value, r.master_info),
            M::Ping(_) => self.emit(Effect::Master(Box::new(ToMaster::Pong(wire::Pong {})))),
            M::RunTask(run) => self.run_task(now, run),
            M::RunTaskGroup(group) => self.run_task_group(now, group),
            M::KillTask(kill) => self.kill_task(now, kill),
            M::Acknowledgement(ack) => self.acknowledge(now, ack),
            M::FrameworkToExecutor(m) => self.framework_message(m),
            M::ShutdownExecutor(s) => {
                self.shutdown_executor(now, &s.framework_id.value, &s.executor_id.value)
            }
            M::ShutdownFramework(s) => self.shutdown_framework(now, &s.framework_id.value),
            M::UpdateFramework(u) => {
                if let Some(id) = u.framework_info.id.as_ref().map(|i| i.value.clone())
                    && let Some(f) = self.frameworks.get_mut(&id)
                {
                    f.info = u.framework_info;
                }
            }
            M::CheckpointResources(c) => self.checkpoint_resources(c.resources),
            M::Shutdown(s) => {
                // The agent was marked gone or its machine went DOWN: like Mesos's agent,
                // it stops every executor, then terminates (the master refuses it now).
                tracing::warn!(message = ?s.message, "the master asked this agent to shut down; shutting down every framework");
                self.terminating = true;
                let ids: Vec<String> = self.frameworks.keys().cloned().collect();
                for id in ids {
                    self.shutdown_framework(now, &id);
                }
                self.terminate_when_idle();
            }
        }
    }

    fn checkpoint_resources(&mut self, resources: Vec<v1::Resource>) {
        use prost::Message;
        let mut data = Vec::new();
        for r in &resources {
            remesos_proto::recordio::encode(&r.encode_to_vec(), &mut data);
        }
        let path = paths::meta_dir(&self.config.work_dir)
            .join("resources")
            .join("resources.info");
        self.emit(Effect::Persist {
            path,
            data,
            append: false,
        });
        // The total is the static resources with the checkpointed ones applied by the master.
        let mut total = self.config.resources.unreserved();
        let checkpointed = Resources::from_valid_protos(resources);
        total -= &checkpointed.unallocated();
        total += &checkpointed;
        total += &self.config.resources.reserved();
        self.info.resources = total.into_protos();
    }

    // ----- tasks -----

    fn new_task(
        &self,
        framework: &v1::FrameworkInfo,
        executor: &Executor,
        info: &v1::TaskInfo,
    ) -> v1::Task {
        v1::Task {
            name: info.name.clone(),
            task_id: info.task_id.clone(),
            framework_id: framework.id.clone().unwrap_or_default(),
            executor_id: (!executor.command_executor).then(|| executor.info.executor_id.clone()),
            agent_id: v1::AgentId {
                value: self.agent_id(),
            },
            state: v1::TaskState::TaskStaging as i32,
            resources: info.resources.clone(),
            labels: info.labels.clone(),
            discovery: info.discovery.clone(),
            container: info.container.clone(),
            health_check: info.health_check.clone(),
            kill_policy: info.kill_policy,
            user: info
                .command
                .as_ref()
                .and_then(|c| c.user.clone())
                .or_else(|| Some(framework.user.clone())),
            ..Default::default()
        }
    }

    /// The ExecutorInfo Mesos generates for a command task (reference §4.3): the executor
    /// id is the task id, the command is `remesos executor`.
    fn command_executor_info(&self, framework_id: &str, task: &v1::TaskInfo) -> v1::ExecutorInfo {
        let binary = self.config.launcher_dir.join("remesos");
        let mut resources = Resources::parse(COMMAND_EXECUTOR_RESOURCES, "*").unwrap_or_default();
        if let Some(role) = task
            .resources
            .first()
            .and_then(|r| r.allocation_info.as_ref())
            .and_then(|a| a.role.clone())
        {
            resources.allocate(&role);
        }
        v1::ExecutorInfo {
            r#type: Some(v1::executor_info::Type::Default as i32),
            executor_id: v1::ExecutorId {
                value: task.task_id.value.clone(),
            },
            framework_id: Some(v1::FrameworkId {
                value: framework_id.to_string(),
            }),
            command: Some(v1::CommandInfo {
                shell: Some(false),
                value: Some(binary.display().to_string()),
                arguments: vec!["remesos".to_string(), "executor".to_string()],
                // The task's URIs are fetched into the executor's sandbox (Mesos
                // `Slave::getExecutorInfo` merges them into the executor's command).
                uris: task
                    .command
                    .as_ref()
                    .map(|c| c.uris.clone())
                    .unwrap_or_default(),
                ..Default::default()
            }),
            name: Some(format!("Command Executor (Task: {})", task.task_id.value)),
            source: Some(task.task_id.value.clone()),
            resources: resources.into_protos(),
            ..Default::default()
        }
    }

    pub fn run_task(&mut self, now: Time, run: wire::RunTask) {
        let Some(framework_id) = run.framework.id.as_ref().map(|i| i.value.clone()) else {
            return;
        };
        let task = run.task;
        let (executor_info, command) = match run.executor {
            Some(e) => (e, false),
            None => (self.command_executor_info(&framework_id, &task), true),
        };
        if let Err(error) = validate_launch_ids(
            &framework_id,
            &executor_info.executor_id.value,
            [task.task_id.value.as_str()],
        ) {
            tracing::warn!(%error, "dropping a task launch with invalid ids");
            return;
        }
        if self.framework_terminating(&framework_id) {
            // Mesos's `Slave::run`: no update, a terminating framework cannot acknowledge.
            tracing::warn!(%framework_id, task_id = %task.task_id.value, "ignoring a task of a terminating framework");
            return;
        }
        if let Some(error) = unsupported_container(&task, &executor_info) {
            self.local_update(
                now,
                &framework_id,
                &executor_info.executor_id.value,
                &task,
                v1::TaskState::TaskFailed,
                v1::task_status::Reason::ContainerLaunchFailed,
                &error,
            );
            return;
        }
        self.admit_framework(&framework_id, &run.framework);
        let eid = executor_info.executor_id.value.clone();
        let state = self.frameworks[&framework_id]
            .executors
            .get(&eid)
            .map(|e| e.state);
        match state {
            Some(ExecutorState::Terminating | ExecutorState::Terminated) => {
                self.local_update(
                    now,
                    &framework_id,
                    &eid,
                    &task,
                    v1::TaskState::TaskLost,
                    v1::task_status::Reason::ExecutorTerminated,
                    "Executor is terminating",
                );
                return;
            }
            None => self.launch_executor(now, &framework_id, executor_info, command, &task),
            _ => self.grow_container(&framework_id, &eid, &task.resources),
        }
        self.checkpoint_task(&framework_id, &eid, &task);
        let framework = &self.frameworks[&framework_id];
        let executor = &framework.executors[&eid];
        if let (ExecutorState::Running, Some(conn)) = (executor.state, executor.conn) {
            let record = self.new_task(&framework.info, executor, &task);
            self.executor_mut(&framework_id, &eid)
                .tasks
                .insert(task.task_id.value.clone(), record);
            self.send_executor(conn, launch_event(task));
        } else {
            self.executor_mut(&framework_id, &eid).queued.push(task);
        }
    }

    /// Records (or refreshes) the FrameworkInfo of a framework launching on this agent.
    fn admit_framework(&mut self, framework_id: &str, info: &v1::FrameworkInfo) {
        self.frameworks
            .entry(framework_id.to_string())
            .or_insert_with(|| Framework {
                completed_executors: Default::default(),
                info: info.clone(),
                executors: BTreeMap::new(),
                terminating: false,
            })
            .info = info.clone();
    }

    /// An executor that was just launched or found running (the caller checked it exists).
    fn executor_mut(&mut self, framework_id: &str, executor_id: &str) -> &mut Executor {
        self.frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
            .expect("launched")
    }

    /// ACCEPT's LAUNCH_GROUP: the group goes to its executor as one LAUNCH_GROUP event. An
    /// executor of type DEFAULT without a command is `remesos executor --default`, the
    /// built-in default executor (Mesos's `mesos-default-executor`).
    fn run_task_group(&mut self, now: Time, group: wire::RunTaskGroup) {
        let Some(framework_id) = group.framework.id.as_ref().map(|i| i.value.clone()) else {
            return;
        };
        let mut executor_info = group.executor;
        let tasks = group.task_group.tasks;
        let Some(first) = tasks.first().cloned() else {
            return;
        };
        if executor_info.command.is_none() {
            executor_info.command = Some(v1::CommandInfo {
                shell: Some(false),
                value: Some(
                    self.config
                        .launcher_dir
                        .join("remesos")
                        .display()
                        .to_string(),
                ),
                arguments: vec!["remesos".into(), "executor".into(), "--default".into()],
                ..Default::default()
            });
        }
        if executor_info.framework_id.is_none() {
            executor_info.framework_id = Some(v1::FrameworkId {
                value: framework_id.clone(),
            });
        }
        let eid = executor_info.executor_id.value.clone();
        if let Err(error) = validate_launch_ids(
            &framework_id,
            &eid,
            tasks.iter().map(|t| t.task_id.value.as_str()),
        ) {
            tracing::warn!(%error, "dropping a task group launch with invalid ids");
            return;
        }
        if self.framework_terminating(&framework_id) {
            // Mesos's `Slave::run`: no update, a terminating framework cannot acknowledge.
            tracing::warn!(%framework_id, "ignoring a task group of a terminating framework");
            return;
        }
        if let Some(error) = tasks
            .iter()
            .find_map(|t| unsupported_container(t, &executor_info))
        {
            for task in &tasks {
                self.local_update(
                    now,
                    &framework_id,
                    &eid,
                    task,
                    v1::TaskState::TaskFailed,
                    v1::task_status::Reason::ContainerLaunchFailed,
                    &error,
                );
            }
            return;
        }
        self.admit_framework(&framework_id, &group.framework);
        let state = self.frameworks[&framework_id]
            .executors
            .get(&eid)
            .map(|e| e.state);
        match state {
            Some(ExecutorState::Terminating | ExecutorState::Terminated) => {
                for task in &tasks {
                    self.local_update(
                        now,
                        &framework_id,
                        &eid,
                        task,
                        v1::TaskState::TaskLost,
                        v1::task_status::Reason::ExecutorTerminated,
                        "Executor is terminating",
                    );
                }
                return;
            }
            None => {
                // The container's limits cover the whole group.
                let mut sized = first.clone();
                sized.resources = tasks.iter().flat_map(|t| t.resources.clone()).collect();
                self.launch_executor(now, &framework_id, executor_info, false, &sized);
            }
            _ => {
                let resources: Vec<v1::Resource> =
                    tasks.iter().flat_map(|t| t.resources.clone()).collect();
                self.grow_container(&framework_id, &eid, &resources);
            }
        }
        for task in &tasks {
            self.checkpoint_task(&framework_id, &eid, task);
        }
        let framework = &self.frameworks[&framework_id];
        let executor = &framework.executors[&eid];
        let records: Vec<(String, v1::Task)> = tasks
            .iter()
            .map(|t| {
                (
                    t.task_id.value.clone(),
                    self.new_task(&framework.info, executor, t),
                )
            })
            .collect();
        let executor = self.executor_mut(&framework_id, &eid);
        let task_group = v1::TaskGroupInfo { tasks };
        if let (ExecutorState::Running, Some(conn)) = (executor.state, executor.conn) {
            executor.tasks.extend(records);
            self.send_executor(conn, launch_group_event(task_group));
        } else {
            executor.queued_groups.push(task_group);
        }
    }

    fn launch_executor(
        &mut self,
        now: Time,
        framework_id: &str,
        info: v1::ExecutorInfo,
        command_executor: bool,
        first_task: &v1::TaskInfo,
    ) {
        use prost::Message;
        let eid = info.executor_id.value.clone();
        let container = ContainerId::random();
        let container_id = container.to_string();
        let Some(ids) = self.run_ids(framework_id, &eid, &container_id) else {
            return;
        };
        let sandbox = paths::sandbox(
            &self.config.work_dir,
            &ids.agent,
            &ids.framework,
            &ids.executor,
            &ids.container,
        );
        let framework = &self.frameworks[framework_id].info;
        let user = info
            .command
            .as_ref()
            .and_then(|c| c.user.clone())
            .or_else(|| Some(framework.user.clone()).filter(|u| !u.is_empty()));
        let checkpoint = framework.checkpoint.unwrap_or(false);
        let environment = self.executor_environment(framework_id, &info, &sandbox, checkpoint);
        let command = info.command.clone().unwrap_or_default();
        let wd = self.config.work_dir.clone();
        let wd = &wd;
        let meta = paths::meta_framework_dir(wd, &ids.agent, &ids.framework);
        self.emit(Effect::Persist {
            path: meta.join("framework.info"),
            data: framework.encode_to_vec(),
            append: false,
        });
        let meta_exec = paths::meta_executor_dir(wd, &ids.agent, &ids.framework, &ids.executor);
        self.emit(Effect::Persist {
            path: meta_exec.join("executor.info"),
            data: info.encode_to_vec(),
            append: false,
        });
        let meta_run = paths::meta_run_dir(
            wd,
            &ids.agent,
            &ids.framework,
            &ids.executor,
            &ids.container,
        );
        self.emit(Effect::Link {
            path: meta_exec.join("runs").join("latest"),
            target: container_id.clone(),
        });
        let mut limits = isolator::Limits::of(&info.resources);
        let task_limits = isolator::Limits::of(&first_task.resources);
        limits.cpus += task_limits.cpus;
        limits.mem_bytes += task_limits.mem_bytes;
        let executor_dir = paths::executor_dir(wd, &ids.agent, &ids.framework, &ids.executor);
        self.emit(Effect::Launch(Box::new(Launch {
            framework_id: framework_id.to_string(),
            executor_id: eid.clone(),
            container_id: container_id.clone(),
            sandbox: sandbox.clone(),
            command,
            environment,
            user,
            limits,
            pid_file: meta_run.join("pids").join("forked.pid"),
        })));
        self.emit(Effect::Attach {
            sandbox: sandbox.clone(),
            paths: vec![
                sandbox.display().to_string(),
                executor_dir
                    .join("runs")
                    .join("latest")
                    .display()
                    .to_string(),
                paths::virtual_latest(&ids.framework, &ids.executor),
            ],
        });
        tracing::info!(framework_id, executor_id = %eid, %container_id, "launching executor");
        let executor = Executor {
            info,
            container_id,
            sandbox,
            command_executor,
            state: ExecutorState::Registering,
            conn: None,
            pid: None,
            queued: Vec::new(),
            queued_groups: Vec::new(),
            tasks: BTreeMap::new(),
            completed: Vec::new(),
            registration_deadline: now.mono + self.config.executor_registration_timeout,
            kill_deadline: None,
            limits,
            limitation: None,
            recovered: false,
        };
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            f.executors.insert(eid, executor);
        }
    }

    /// A task joins a running executor: its container's limits grow by the task's share
    /// (Mesos updates the container's resources the same way).
    fn grow_container(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        resources: &[v1::Resource],
    ) {
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        let more = isolator::Limits::of(resources);
        executor.limits.cpus += more.cpus;
        executor.limits.mem_bytes += more.mem_bytes;
        let effect = Effect::Resize {
            container_id: executor.container_id.clone(),
            limits: executor.limits,
        };
        self.emit(effect);
    }

    fn checkpoint_task(&mut self, framework_id: &str, executor_id: &str, task: &v1::TaskInfo) {
        use prost::Message;
        let Some(executor) = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
        else {
            return;
        };
        let Some(ids) = self.run_ids(framework_id, executor_id, &executor.container_id) else {
            return;
        };
        let Ok(task_id) = TaskId::new(task.task_id.value.as_str()) else {
            tracing::error!(
                framework_id,
                executor_id,
                "invalid task id; not checkpointed"
            );
            return;
        };
        let path = paths::meta_task_dir(
            &self.config.work_dir,
            &ids.agent,
            &ids.framework,
            &ids.executor,
            &ids.container,
            &task_id,
        )
        .join("task.info");
        self.emit(Effect::Persist {
            path,
            data: task.encode_to_vec(),
            append: false,
        });
    }

    /// The Mesos executor environment (reference §4.1).
    fn executor_environment(
        &self,
        framework_id: &str,
        info: &v1::ExecutorInfo,
        sandbox: &std::path::Path,
        checkpoint: bool,
    ) -> Vec<(String, String)> {
        use crate::duration::format_duration;
        let mut env: Vec<(String, String)> = Vec::new();
        if let Some(vars) = &self.config.executor_environment {
            env.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Ok(ip) = std::env::var("LIBPROCESS_IP") {
            env.push(("LIBPROCESS_IP".into(), ip));
        }
        env.push(("LIBPROCESS_PORT".into(), "0".into()));
        if let Some(lib) = self.config.native_library.as_ref().filter(|l| l.exists()) {
            env.push((
                "MESOS_NATIVE_JAVA_LIBRARY".into(),
                lib.display().to_string(),
            ));
            env.push(("MESOS_NATIVE_LIBRARY".into(), lib.display().to_string()));
        }
        let grace = info
            .shutdown_grace_period
            .as_ref()
            .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
            .unwrap_or(self.config.executor_shutdown_grace_period);
        let sandbox = sandbox.display().to_string();
        env.extend([
            ("MESOS_FRAMEWORK_ID".into(), framework_id.to_string()),
            ("MESOS_EXECUTOR_ID".into(), info.executor_id.value.clone()),
            ("MESOS_DIRECTORY".into(), sandbox.clone()),
            ("MESOS_SANDBOX".into(), sandbox),
            ("MESOS_SLAVE_ID".into(), self.agent_id()),
            ("MESOS_SLAVE_PID".into(), self.pid()),
            ("MESOS_AGENT_ENDPOINT".into(), self.endpoint()),
            (
                "MESOS_CHECKPOINT".into(),
                if checkpoint { "1" } else { "0" }.into(),
            ),
            ("MESOS_HTTP_COMMAND_EXECUTOR".into(), "1".into()),
            (
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".into(),
                format_duration(grace),
            ),
        ]);
        if checkpoint {
            env.push((
                "MESOS_RECOVERY_TIMEOUT".into(),
                format_duration(self.config.recovery_timeout),
            ));
            env.push((
                "MESOS_SUBSCRIPTION_BACKOFF_MAX".into(),
                format_duration(self.config.executor_reregistration_timeout),
            ));
        }
        // The command's own variables win, as the executor's CommandInfo.environment does.
        if let Some(vars) = info.command.as_ref().and_then(|c| c.environment.as_ref()) {
            for var in &vars.variables {
                if let Some(value) = &var.value {
                    env.push((var.name.clone(), value.clone()));
                }
            }
        }
        env
    }

    /// A status update the agent generates itself (no executor involved).
    #[allow(clippy::too_many_arguments)]
    fn local_update(
        &mut self,
        now: Time,
        framework_id: &str,
        executor_id: &str,
        task: &v1::TaskInfo,
        state: v1::TaskState,
        reason: v1::task_status::Reason,
        message: &str,
    ) {
        let status = v1::TaskStatus {
            task_id: task.task_id.clone(),
            state: state as i32,
            message: Some(message.to_string()),
            source: Some(v1::task_status::Source::Agent as i32),
            reason: Some(reason as i32),
            agent_id: Some(v1::AgentId {
                value: self.agent_id(),
            }),
            executor_id: Some(v1::ExecutorId {
                value: executor_id.to_string(),
            }),
            timestamp: Some(now.wall),
            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
            ..Default::default()
        };
        self.handle_update(now, framework_id, executor_id, status);
    }

    /// Every status update, from an executor or the agent, goes through here.
    fn handle_update(
        &mut self,
        now: Time,
        framework_id: &str,
        executor_id: &str,
        mut status: v1::TaskStatus,
    ) -> bool {
        let Ok(state) = v1::TaskState::try_from(status.state) else {
            self.counters.invalid_status_updates += 1;
            return false;
        };
        status.agent_id = Some(v1::AgentId {
            value: self.agent_id(),
        });
        let tid = status.task_id.value.clone();
        let Ok(task_id) = TaskId::new(tid.as_str()) else {
            // Entry validation (executor API, the master's launches) makes this unreachable;
            // the id would name the update's checkpoint directory.
            tracing::error!(
                framework_id,
                executor_id,
                "status update with an invalid task id dropped"
            );
            self.counters.invalid_status_updates += 1;
            return false;
        };
        if self.framework_terminating(framework_id) {
            // Mesos's `Slave::statusUpdate`: "We don't send update when a framework is
            // terminating because it cannot send acknowledgements."
            tracing::warn!(
                framework_id,
                task_id = %tid,
                "ignoring a status update for a terminating framework"
            );
            self.counters.invalid_status_updates += 1;
            return false;
        }
        if let Some(uuid) = &status.uuid
            && self.updates.seen(framework_id, &tid, uuid)
        {
            // A resent update (the executor never saw our ACKNOWLEDGED): already handled.
            return false;
        }
        let mut latest = state;
        let mut path = PathBuf::new();
        let container_id = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .map(|e| e.container_id.clone());
        let ids = container_id.and_then(|c| self.run_ids(framework_id, executor_id, &c));
        if let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        {
            if !executor.command_executor {
                status.executor_id = Some(v1::ExecutorId {
                    value: executor_id.to_string(),
                });
            } else {
                status.executor_id = None;
            }
            if let Some(ids) = &ids {
                path = paths::meta_task_dir(
                    &self.config.work_dir,
                    &ids.agent,
                    &ids.framework,
                    &ids.executor,
                    &ids.container,
                    &task_id,
                )
                .join("task.updates");
            }
            if let Some(task) = executor.tasks.get_mut(&tid) {
                task.state = status.state;
                let mut kept = status.clone();
                kept.data = None;
                task.statuses.push(kept);
                latest = state;
                if crate::common::protocol::is_terminal(state) {
                    let task = executor.tasks.remove(&tid).expect("present");
                    executor.completed.push(task);
                    self.count_terminal(state);
                }
            } else if crate::common::protocol::is_terminal(state) {
                self.count_terminal(state);
            }
        }
        self.counters.valid_status_updates += 1;
        let update = wire::StatusUpdate {
            framework_id: v1::FrameworkId {
                value: framework_id.to_string(),
            },
            status,
            latest_state: Some(latest as i32),
        };
        let (actions, new) = self.updates.update(now.mono, update, path);
        self.perform(actions);
        new
    }

    fn count_terminal(&mut self, state: v1::TaskState) {
        use v1::TaskState as S;
        match state {
            S::TaskFinished => self.counters.tasks_finished += 1,
            S::TaskFailed => self.counters.tasks_failed += 1,
            S::TaskKilled => self.counters.tasks_killed += 1,
            S::TaskLost | S::TaskDropped | S::TaskGone => self.counters.tasks_lost += 1,
            _ => {}
        }
    }

    fn acknowledge(&mut self, now: Time, ack: wire::StatusUpdateAcknowledgement) {
        let fid = ack.framework_id.value.clone();
        let tid = ack.task_id.value.clone();
        let (actions, empty) = self.updates.acknowledge(now.mono, &fid, &tid, &ack.uuid);
        self.perform(actions);
        if empty {
            let terminal = self.frameworks.get(&fid).is_some_and(|f| {
                f.executors
                    .values()
                    .any(|e| e.completed.iter().any(|t| t.task_id.value == tid))
            });
            if terminal {
                self.updates.remove(&fid, &tid);
            }
        }
        self.gc_framework(&fid);
    }

    pub fn kill_task(&mut self, now: Time, kill: wire::KillTask) {
        let fid = kill.framework_id.value.clone();
        let tid = kill.task_id.value.clone();
        let found = self.frameworks.get(&fid).and_then(|f| {
            f.executors.iter().find_map(|(eid, e)| {
                if e.queued.iter().any(|t| t.task_id.value == tid) {
                    Some((eid.clone(), true))
                } else if e.tasks.contains_key(&tid)
                    || e.queued_groups
                        .iter()
                        .any(|g| g.tasks.iter().any(|t| t.task_id.value == tid))
                {
                    Some((eid.clone(), false))
                } else {
                    None
                }
            })
        });
        match found {
            Some((eid, true)) => {
                // Not yet handed to the executor: killed here.
                let executor = self
                    .frameworks
                    .get_mut(&fid)
                    .and_then(|f| f.executors.get_mut(&eid))
                    .expect("found");
                let position = executor
                    .queued
                    .iter()
                    .position(|t| t.task_id.value == tid)
                    .expect("found");
                let task = executor.queued.remove(position);
                let idle = executor.queued.is_empty()
                    && executor.queued_groups.is_empty()
                    && executor.tasks.is_empty();
                self.local_update(
                    now,
                    &fid,
                    &eid,
                    &task,
                    v1::TaskState::TaskKilled,
                    v1::task_status::Reason::TaskKilledDuringLaunch,
                    "Killed before delivery to the executor",
                );
                if idle {
                    self.shutdown_executor(now, &fid, &eid);
                }
            }
            Some((eid, false)) => {
                let executor = &self.frameworks[&fid].executors[&eid];
                let task_policy = executor.tasks.get(&tid).and_then(|t| t.kill_policy);
                match executor.conn {
                    Some(conn) => {
                        let event = exec::Event {
                            r#type: Some(exec::event::Type::Kill as i32),
                            kill: Some(exec::event::Kill {
                                task_id: kill.task_id,
                                kill_policy: kill.kill_policy.or(task_policy),
                            }),
                            ..Default::default()
                        };
                        self.send_executor(conn, event);
                    }
                    None => self.shutdown_executor(now, &fid, &eid),
                }
            }
            None => {
                // Mesos answers a kill of a task it does not know with TASK_LOST
                // (TASK_DROPPED for partition-aware frameworks), so the framework stops waiting.
                let partition_aware = self.partition_aware(&fid);
                let state = if partition_aware {
                    v1::TaskState::TaskDropped
                } else {
                    v1::TaskState::TaskLost
                };
                let status = v1::TaskStatus {
                    task_id: kill.task_id,
                    state: state as i32,
                    message: Some("Cannot find the task on this agent".into()),
                    source: Some(v1::task_status::Source::Agent as i32),
                    reason: Some(v1::task_status::Reason::TaskUnknown as i32),
                    timestamp: Some(now.wall),
                    uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                    ..Default::default()
                };
                self.handle_update(now, &fid, "", status);
            }
        }
    }

    fn framework_message(&mut self, message: wire::FrameworkToExecutor) {
        let conn = self
            .frameworks
            .get(&message.framework_id.value)
            .and_then(|f| f.executors.get(&message.executor_id.value))
            .and_then(|e| e.conn);
        let Some(conn) = conn else {
            self.counters.invalid_framework_messages += 1;
            return;
        };
        self.counters.valid_framework_messages += 1;
        let event = exec::Event {
            r#type: Some(exec::event::Type::Message as i32),
            message: Some(exec::event::Message { data: message.data }),
            ..Default::default()
        };
        self.send_executor(conn, event);
    }

    /// SHUTDOWN to the executor; it is killed if still alive after the grace period.
    pub fn shutdown_executor(&mut self, now: Time, framework_id: &str, executor_id: &str) {
        let grace = self.config.executor_shutdown_grace_period;
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        if executor.state == ExecutorState::Terminated {
            return;
        }
        let grace = executor
            .info
            .shutdown_grace_period
            .as_ref()
            .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
            .unwrap_or(grace);
        executor.state = ExecutorState::Terminating;
        executor.kill_deadline = Some(now.mono + grace);
        let mut queued = std::mem::take(&mut executor.queued);
        queued.extend(
            std::mem::take(&mut executor.queued_groups)
                .into_iter()
                .flat_map(|g| g.tasks),
        );
        let conn = executor.conn;
        match conn {
            Some(conn) => {
                let event = exec::Event {
                    r#type: Some(exec::event::Type::Shutdown as i32),
                    ..Default::default()
                };
                self.send_executor(conn, event);
            }
            None => {
                let container_id = executor.container_id.clone();
                self.emit(Effect::Signal {
                    container_id,
                    kill: false,
                });
            }
        }
        for task in queued {
            self.local_update(
                now,
                framework_id,
                executor_id,
                &task,
                v1::TaskState::TaskKilled,
                v1::task_status::Reason::ExecutorTerminated,
                "Executor shut down before the task was delivered",
            );
        }
    }

    /// The master's ShutdownFramework (a teardown, or a non-partition-aware framework whose
    /// tasks it reported LOST while this agent was away): Mesos's `Slave::shutdownFramework`.
    /// The framework turns TERMINATING, its executors are shut down, and it is removed —
    /// unacknowledged update streams included — once none is left, so the agent stops
    /// resending updates nobody will acknowledge.
    fn shutdown_framework(&mut self, now: Time, framework_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        framework.terminating = true;
        let executors: Vec<String> = framework.executors.keys().cloned().collect();
        for eid in executors {
            self.shutdown_executor(now, framework_id, &eid);
        }
        self.gc_framework(framework_id);
    }

    fn framework_terminating(&self, framework_id: &str) -> bool {
        self.frameworks
            .get(framework_id)
            .is_some_and(|f| f.terminating)
    }

    // ----- executor API -----

    pub fn executor_subscribe(
        &mut self,
        now: Time,
        conn: ConnId,
        call: exec::Call,
    ) -> Result<(), CallError> {
        let fid = call.framework_id.value.clone();
        let eid = call.executor_id.value.clone();
        let Some(framework) = self.frameworks.get(&fid) else {
            return Err(CallError::BadRequest("Framework cannot be found".into()));
        };
        let Some(executor) = framework.executors.get(&eid) else {
            return Err(CallError::BadRequest("Executor cannot be found".into()));
        };
        if matches!(executor.state, ExecutorState::Terminated) {
            return Err(CallError::BadRequest("Executor is terminated".into()));
        }
        let subscribe = call.subscribe.unwrap_or_default();
        let framework_info = framework.info.clone();
        let mut agent_info = self.info.clone();
        agent_info.id = Some(v1::AgentId {
            value: self.agent_id(),
        });
        let old = self
            .frameworks
            .get_mut(&fid)
            .and_then(|f| f.executors.get_mut(&eid))
            .and_then(|e| e.conn.replace(conn));
        if let Some(old) = old {
            self.emit(Effect::CloseExecutor { conn: old });
        }
        let executor = self
            .frameworks
            .get_mut(&fid)
            .and_then(|f| f.executors.get_mut(&eid))
            .expect("checked");
        if executor.state == ExecutorState::Registering {
            executor.state = ExecutorState::Running;
        }
        let subscribed = exec::Event {
            r#type: Some(exec::event::Type::Subscribed as i32),
            subscribed: Some(exec::event::Subscribed {
                executor_info: executor.info.clone(),
                framework_info: framework_info.clone(),
                agent_info,
                container_id: Some(v1::ContainerId {
                    value: executor.container_id.clone(),
                    parent: None,
                }),
            }),
            ..Default::default()
        };
        tracing::info!(framework_id = %fid, executor_id = %eid, "executor subscribed");
        let recovered = std::mem::take(&mut executor.recovered);
        self.send_executor(conn, subscribed);
        if recovered {
            self.reconnected(now, &fid, &eid, &subscribe.unacknowledged_tasks);
        }
        // Updates the executor resent because it never saw them acknowledged (§8.2), checked
        // as an UPDATE call is: a SUBSCRIBE must not carry what an UPDATE may not.
        for update in subscribe.unacknowledged_updates {
            let valid = self
                .frameworks
                .get(&fid)
                .and_then(|f| f.executors.get(&eid))
                .map(|e| validate_executor_status(&fid, &eid, e, &update.status));
            match valid {
                Some(Ok(())) => self.executor_status(now, &fid, &eid, update.status),
                Some(Err(error)) => {
                    tracing::warn!(framework_id = %fid, executor_id = %eid, %error, "dropping an unacknowledged update resent on SUBSCRIBE");
                }
                None => {}
            }
        }
        let executor = self
            .frameworks
            .get_mut(&fid)
            .and_then(|f| f.executors.get_mut(&eid))
            .expect("checked");
        let queued = std::mem::take(&mut executor.queued);
        let queued_groups = std::mem::take(&mut executor.queued_groups);
        for group in queued_groups {
            let records: Vec<(String, v1::Task)> = {
                let executor = &self.frameworks[&fid].executors[&eid];
                group
                    .tasks
                    .iter()
                    .map(|t| {
                        (
                            t.task_id.value.clone(),
                            self.new_task(&framework_info, executor, t),
                        )
                    })
                    .collect()
            };
            if let Some(executor) = self
                .frameworks
                .get_mut(&fid)
                .and_then(|f| f.executors.get_mut(&eid))
            {
                executor.tasks.extend(records);
            }
            self.send_executor(conn, launch_group_event(group));
        }
        for task in queued {
            let record = {
                let executor = &self.frameworks[&fid].executors[&eid];
                self.new_task(&framework_info, executor, &task)
            };
            if let Some(executor) = self
                .frameworks
                .get_mut(&fid)
                .and_then(|f| f.executors.get_mut(&eid))
            {
                executor.tasks.insert(task.task_id.value.clone(), record);
            }
            self.send_executor(conn, launch_event(task));
        }
        Ok(())
    }

    fn executor_status(
        &mut self,
        now: Time,
        framework_id: &str,
        executor_id: &str,
        mut status: v1::TaskStatus,
    ) {
        if let Some(executor) = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
        {
            fill_container_status(executor, self.config.ip, &mut status);
        }
        let uuid = status.uuid.clone().unwrap_or_default();
        let task_id = status.task_id.clone();
        self.handle_update(now, framework_id, executor_id, status);
        // The update is checkpointed: the executor may forget it (ACKNOWLEDGED).
        let conn = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .and_then(|e| e.conn);
        if let Some(conn) = conn {
            let event = exec::Event {
                r#type: Some(exec::event::Type::Acknowledged as i32),
                acknowledged: Some(exec::event::Acknowledged { task_id, uuid }),
                ..Default::default()
            };
            self.send_executor(conn, event);
        }
    }

    /// UPDATE, MESSAGE and HEARTBEAT from a subscribed executor.
    pub fn executor_call(&mut self, now: Time, call: exec::Call) -> Result<(), CallError> {
        use exec::call::Type;
        let fid = call.framework_id.value.clone();
        let eid = call.executor_id.value.clone();
        let Some(framework) = self.frameworks.get(&fid) else {
            return Err(CallError::BadRequest("Framework cannot be found".into()));
        };
        let Some(executor) = framework.executors.get(&eid) else {
            return Err(CallError::BadRequest("Executor cannot be found".into()));
        };
        let ty = call
            .r#type
            .and_then(|t| Type::try_from(t).ok())
            .unwrap_or(Type::Unknown);
        if ty != Type::Heartbeat && executor.conn.is_none() {
            return Err(CallError::Forbidden("Executor is not subscribed".into()));
        }
        match ty {
            Type::Update => {
                let Some(update) = call.update else {
                    return Err(CallError::BadRequest(
                        "Expecting 'update' to be present".into(),
                    ));
                };
                let mut status = update.status;
                validate_executor_status(&fid, &eid, executor, &status)?;
                // A task that ends because its container reached a limit ends as the
                // limitation says (Mesos reports the container's termination reason), not
                // as the executor saw it (e.g. "Command terminated with signal Killed").
                if let Some((reason, message)) = &executor.limitation
                    && v1::TaskState::try_from(status.state).is_ok_and(|s| {
                        crate::common::protocol::is_terminal(s) && s != v1::TaskState::TaskFinished
                    })
                {
                    status.state = v1::TaskState::TaskFailed as i32;
                    status.reason = Some(*reason as i32);
                    status.source = Some(v1::task_status::Source::Agent as i32);
                    status.message = Some(message.clone());
                }
                self.executor_status(now, &fid, &eid, status);
            }
            Type::Message => {
                let Some(message) = call.message else {
                    return Err(CallError::BadRequest(
                        "Expecting 'message' to be present".into(),
                    ));
                };
                self.emit(Effect::Master(Box::new(ToMaster::ExecutorToFramework(
                    wire::ExecutorToFramework {
                        framework_id: call.framework_id,
                        executor_id: call.executor_id,
                        data: message.data,
                    },
                ))));
            }
            Type::Heartbeat => {}
            Type::Subscribe => {
                return Err(CallError::BadRequest(
                    "SUBSCRIBE opens its own stream".into(),
                ));
            }
            Type::Unknown => {
                return Err(CallError::BadRequest(
                    "Expecting 'type' to be present".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn executor_disconnected(&mut self, framework_id: &str, executor_id: &str, conn: ConnId) {
        if let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
            && executor.conn == Some(conn)
        {
            executor.conn = None;
        }
    }

    // ----- recovery -----

    /// Takes up the state a previous run of this agent checkpointed (see [`recovery`]).
    /// Returns the executors that were still running then, `(framework, executor,
    /// container, pid)`, for the runtime to watch (or to report dead at once).
    pub fn recover(
        &mut self,
        now: Time,
        state: recovery::State,
    ) -> Vec<(String, String, String, Option<u32>)> {
        let agent_id = state.agent_id.clone();
        self.id = Some(agent_id.clone());
        self.info.id = Some(v1::AgentId {
            value: agent_id.clone(),
        });
        let mut live = Vec::new();
        // Executors get twice the reregistration timeout: their resubscription backoff is
        // random up to that same value.
        let reregister_by = now.mono + self.config.executor_reregistration_timeout * 2;
        for fstate in state.frameworks {
            let Some(fid) = fstate.info.id.as_ref().map(|i| i.value.clone()) else {
                continue;
            };
            let mut framework = Framework {
                info: fstate.info,
                executors: BTreeMap::new(),
                completed_executors: Default::default(),
                terminating: false,
            };
            for estate in fstate.executors {
                let eid = estate.info.executor_id.value.clone();
                let Some(ids) = self.run_ids(&fid, &eid, &estate.container_id) else {
                    // A checkpoint whose ids Mesos would refuse was not written by an agent.
                    tracing::warn!(framework_id = %fid, "skipping a recovered executor with invalid ids");
                    continue;
                };
                let command_executor = recovery::is_command_executor(&estate.info);
                let mut limits = isolator::Limits::of(&estate.info.resources);
                let mut executor = Executor {
                    command_executor,
                    container_id: estate.container_id.clone(),
                    sandbox: estate.sandbox.clone(),
                    state: if estate.terminated {
                        ExecutorState::Terminated
                    } else {
                        ExecutorState::Registering
                    },
                    conn: None,
                    pid: estate.pid,
                    queued: Vec::new(),
                    queued_groups: Vec::new(),
                    tasks: BTreeMap::new(),
                    completed: Vec::new(),
                    registration_deadline: reregister_by,
                    kill_deadline: None,
                    limits,
                    limitation: None,
                    recovered: !estate.terminated,
                    info: estate.info,
                };
                for tstate in estate.tasks {
                    let tid = tstate.info.task_id.value.clone();
                    let task_limits = isolator::Limits::of(&tstate.info.resources);
                    limits.cpus += task_limits.cpus;
                    limits.mem_bytes += task_limits.mem_bytes;
                    let mut task = self.new_task(&framework.info, &executor, &tstate.info);
                    let updates =
                        self.updates
                            .recover(&fid, &tid, tstate.records, tstate.updates_path);
                    for update in &updates {
                        task.state = update.status.state;
                        let mut kept = update.status.clone();
                        kept.data = None;
                        task.statuses.push(kept);
                    }
                    let terminal = v1::TaskState::try_from(task.state)
                        .is_ok_and(crate::common::protocol::is_terminal);
                    if terminal {
                        if !self.updates.has_pending(&fid, &tid) {
                            self.updates.remove(&fid, &tid);
                        }
                        executor.completed.push(task);
                    } else {
                        executor.tasks.insert(tid, task);
                    }
                }
                executor.limits = limits;
                if executor.state != ExecutorState::Terminated {
                    live.push((
                        fid.clone(),
                        eid.clone(),
                        executor.container_id.clone(),
                        executor.pid,
                    ));
                }
                let executor_dir = paths::executor_dir(
                    &self.config.work_dir,
                    &ids.agent,
                    &ids.framework,
                    &ids.executor,
                );
                self.emit(Effect::Attach {
                    sandbox: executor.sandbox.clone(),
                    paths: vec![
                        executor.sandbox.display().to_string(),
                        executor_dir
                            .join("runs")
                            .join("latest")
                            .display()
                            .to_string(),
                        paths::virtual_latest(&ids.framework, &ids.executor),
                    ],
                });
                framework.executors.insert(eid, executor);
            }
            tracing::info!(framework_id = %fid, executors = framework.executors.len(), "recovered framework");
            self.frameworks.insert(fid.clone(), framework);
            self.gc_framework(&fid);
        }
        live
    }

    /// Whether the framework (known here) is PARTITION_AWARE.
    fn partition_aware(&self, framework_id: &str) -> bool {
        self.frameworks.get(framework_id).is_some_and(|f| {
            crate::common::protocol::framework_has_capability(
                &f.info,
                v1::framework_info::capability::Type::PartitionAware,
            )
        })
    }

    /// A recovered executor subscribed again: tasks that stayed STAGING and that it does not
    /// know (not among its unacknowledged tasks) never reached it before the restart.
    fn reconnected(
        &mut self,
        now: Time,
        framework_id: &str,
        executor_id: &str,
        unacknowledged: &[v1::TaskInfo],
    ) {
        let Some(executor) = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
        else {
            return;
        };
        let lost: Vec<v1::TaskInfo> = executor
            .tasks
            .values()
            .filter(|t| t.state == v1::TaskState::TaskStaging as i32)
            .filter(|t| !unacknowledged.iter().any(|u| u.task_id == t.task_id))
            .map(|t| v1::TaskInfo {
                name: t.name.clone(),
                task_id: t.task_id.clone(),
                ..Default::default()
            })
            .collect();
        let partition_aware = self.partition_aware(framework_id);
        let state = if partition_aware {
            v1::TaskState::TaskDropped
        } else {
            v1::TaskState::TaskLost
        };
        for task in lost {
            self.local_update(
                now,
                framework_id,
                executor_id,
                &task,
                state,
                v1::task_status::Reason::AgentRestarted,
                "Task launched during agent restart",
            );
        }
        tracing::info!(framework_id, executor_id, "recovered executor resubscribed");
    }

    // ----- processes -----

    /// The isolator found the container over a limit: its processes are killed now and its
    /// unfinished tasks end `TASK_FAILED` with `reason` (reference §4; Mesos
    /// `MesosContainerizerProcess::limited`).
    pub fn container_limited(
        &mut self,
        container_id: &str,
        reason: v1::task_status::Reason,
        message: String,
    ) {
        let Some(executor) = self
            .frameworks
            .values_mut()
            .flat_map(|f| f.executors.values_mut())
            .find(|e| e.container_id == container_id && e.state != ExecutorState::Terminated)
        else {
            return;
        };
        if executor.limitation.is_some() {
            return;
        }
        tracing::warn!(
            container_id,
            ?reason,
            "container reached a limit; destroying it"
        );
        executor.limitation = Some((reason, message));
        executor.state = ExecutorState::Terminating;
        self.emit(Effect::Destroy {
            container_id: container_id.to_string(),
        });
    }

    /// The live executors' containers with their pids and limits (for usage and limits).
    pub fn live_containers(&self) -> Vec<(String, String, String, Option<u32>, isolator::Limits)> {
        self.frameworks
            .iter()
            .flat_map(|(fid, f)| f.executors.iter().map(move |(eid, e)| (fid, eid, e)))
            .filter(|(_, _, e)| e.state != ExecutorState::Terminated)
            .map(|(fid, eid, e)| {
                (
                    fid.clone(),
                    eid.clone(),
                    e.container_id.clone(),
                    e.pid,
                    e.limits,
                )
            })
            .collect()
    }

    pub fn executor_started(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        pid: u32,
    ) {
        if let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
            && executor.container_id == container_id
        {
            executor.pid = Some(pid);
        }
    }

    /// The executor's process ended (or never started: `error`): its unfinished tasks fail,
    /// the master learns it exited, and the framework gets FAILURE.
    pub fn executor_exited(
        &mut self,
        now: Time,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        status: Option<i32>,
        error: Option<String>,
    ) {
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        if executor.container_id != container_id || executor.state == ExecutorState::Terminated {
            return;
        }
        let was_terminating = executor.state == ExecutorState::Terminating;
        let limitation = executor.limitation.clone();
        executor.state = ExecutorState::Terminated;
        let conn = executor.conn.take();
        let mut queued = std::mem::take(&mut executor.queued);
        queued.extend(
            std::mem::take(&mut executor.queued_groups)
                .into_iter()
                .flat_map(|g| g.tasks),
        );
        let running: Vec<v1::TaskInfo> = executor
            .tasks
            .values()
            .map(|t| v1::TaskInfo {
                name: t.name.clone(),
                task_id: t.task_id.clone(),
                ..Default::default()
            })
            .collect();
        let command_executor = executor.command_executor;
        if let Some(conn) = conn {
            self.emit(Effect::CloseExecutor { conn });
        }
        self.counters.executors_terminated += 1;
        if error.is_some() {
            self.counters.container_launch_errors += 1;
        }
        let (state, reason, message) = match &error {
            None if limitation.is_some() => {
                let (reason, message) = limitation.expect("checked");
                (v1::TaskState::TaskFailed, reason, message)
            }
            Some(e) => (
                v1::TaskState::TaskFailed,
                v1::task_status::Reason::ContainerLaunchFailed,
                e.clone(),
            ),
            None if was_terminating => (
                v1::TaskState::TaskKilled,
                v1::task_status::Reason::ExecutorTerminated,
                "Executor terminated".to_string(),
            ),
            None => (
                v1::TaskState::TaskFailed,
                v1::task_status::Reason::ExecutorTerminated,
                format!(
                    "Executor terminated{}",
                    status
                        .map(|s| format!(" with status {s}"))
                        .unwrap_or_default()
                ),
            ),
        };
        for task in queued.iter().chain(running.iter()) {
            self.local_update(
                now,
                framework_id,
                executor_id,
                task,
                state,
                reason,
                &message,
            );
        }
        tracing::info!(
            framework_id,
            executor_id,
            ?status,
            ?error,
            "executor exited"
        );
        // A terminated run is not reconnected to after an agent restart.
        if let Some(ids) = self.run_ids(framework_id, executor_id, container_id) {
            let sentinel = paths::meta_run_dir(
                &self.config.work_dir,
                &ids.agent,
                &ids.framework,
                &ids.executor,
                &ids.container,
            )
            .join("executor.sentinel");
            self.emit(Effect::Persist {
                path: sentinel,
                data: Vec::new(),
                append: false,
            });
        }
        if !command_executor {
            self.emit(Effect::Master(Box::new(ToMaster::ExitedExecutor(
                wire::ExitedExecutor {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_string(),
                    },
                    executor_id: v1::ExecutorId {
                        value: executor_id.to_string(),
                    },
                    status,
                },
            ))));
        }
        self.gc_framework(framework_id);
    }

    /// Drops terminated executors whose updates are all delivered, and frameworks left empty.
    /// A terminating framework's terminated executors go at once: nobody will acknowledge
    /// their updates (Mesos's `removeExecutor` from `Slave::shutdownFramework`).
    fn gc_framework(&mut self, framework_id: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let terminating = framework.terminating;
        let done: Vec<String> = framework
            .executors
            .iter()
            .filter(|(_, e)| e.state == ExecutorState::Terminated)
            .filter(|(_, e)| {
                terminating
                    || !e
                        .completed
                        .iter()
                        .any(|t| self.updates.has_pending(framework_id, &t.task_id.value))
            })
            .map(|(id, _)| id.clone())
            .collect();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        for id in done {
            if let Some(executor) = framework.executors.remove(&id) {
                if framework.completed_executors.len() >= MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK {
                    framework.completed_executors.pop_front();
                }
                framework.completed_executors.push_back(executor);
            }
        }
        if framework.executors.is_empty()
            && let Some(framework) = self.frameworks.remove(framework_id)
        {
            if framework.terminating {
                self.updates.cleanup(framework_id);
            }
            if self.completed_frameworks.len() >= MAX_COMPLETED_FRAMEWORKS {
                self.completed_frameworks.pop_front();
            }
            self.completed_frameworks.push_back(framework);
        }
    }

    /// Periodic work: executor registration and shutdown deadlines, update retries.
    /// Emits [`Effect::Terminate`] once a terminating agent runs no executor.
    fn terminate_when_idle(&mut self) {
        if self.terminating
            && !self.terminate_emitted
            && self.frameworks.values().all(|f| f.executors.is_empty())
        {
            self.terminate_emitted = true;
            self.emit(Effect::Terminate);
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
        executors.chain(self.updates.next_deadline()).min()
    }

    pub fn tick(&mut self, now: Time) {
        self.terminate_when_idle();
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
            if let Some(executor) = self
                .frameworks
                .get_mut(&fid)
                .and_then(|f| f.executors.get_mut(&eid))
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
    }

    /// The live executors' containers to kill when the agent stops: all of them, or only
    /// those of frameworks that do not checkpoint — a restarted agent takes up the others
    /// (reference §8.6: Mesos leaves them running).
    pub fn containers(&self, all: bool) -> Vec<String> {
        self.frameworks
            .values()
            .filter(|f| all || !f.info.checkpoint.unwrap_or(false))
            .flat_map(|f| f.executors.values())
            .filter(|e| e.state != ExecutorState::Terminated)
            .map(|e| e.container_id.clone())
            .collect()
    }
}

/// The checks an executor's status update passes before the agent takes it: Mesos's
/// (`validateExecutorCall`, src/common/validation.cpp: a UUID, not TASK_STAGING, source
/// SOURCE_EXECUTOR, the executor id matching the call's) and, beyond Mesos, a valid task id
/// that names one of this executor's own tasks. Mesos only warns about an update for an
/// unknown task or another executor's task; remesos refuses it (403), because any host that
/// can reach the agent could otherwise end or fake the state of any task on it (the
/// complete guard, a per-executor token, comes with authentication).
fn validate_executor_status(
    framework_id: &str,
    executor_id: &str,
    executor: &Executor,
    status: &v1::TaskStatus,
) -> Result<(), CallError> {
    let uuid_ok = status
        .uuid
        .as_deref()
        .is_some_and(|u| uuid::Uuid::from_slice(u).is_ok());
    if !uuid_ok {
        return Err(CallError::BadRequest(
            "'TaskStatus.uuid' must be a valid UUID".into(),
        ));
    }
    if status.state == v1::TaskState::TaskStaging as i32 {
        return Err(CallError::BadRequest(
            "An executor may not send TASK_STAGING".into(),
        ));
    }
    if status
        .source
        .is_some_and(|s| s != v1::task_status::Source::Executor as i32)
    {
        return Err(CallError::BadRequest(
            "'TaskStatus.source' must be SOURCE_EXECUTOR".into(),
        ));
    }
    if let Some(id) = &status.executor_id
        && id.value != executor_id
    {
        return Err(CallError::BadRequest(format!(
            "ExecutorID in Call: {executor_id} does not match ExecutorID in TaskStatus: {}",
            id.value.escape_debug()
        )));
    }
    let task_id = &status.task_id.value;
    if let Err(e) = TaskId::new(task_id.as_str()) {
        return Err(CallError::BadRequest(format!(
            "'TaskStatus.task_id' is invalid: {e}"
        )));
    }
    let owned = executor.tasks.contains_key(task_id)
        || executor
            .completed
            .iter()
            .any(|t| &t.task_id.value == task_id);
    if !owned {
        return Err(CallError::Forbidden(format!(
            "Task {task_id} is not a task of executor {executor_id} of framework {framework_id}"
        )));
    }
    Ok(())
}

/// What the containerizer reports of an executor's container (Mesos's
/// `MesosContainerizerProcess::status`, src/slave/containerizer/mesos/containerizer.cpp):
/// its id (top-level: no parent; remesos runs no nested containers) and, from the
/// launcher, the executor's pid. No network isolator runs here, so no `network_infos`.
pub fn container_status(executor: &Executor) -> v1::ContainerStatus {
    v1::ContainerStatus {
        container_id: Some(v1::ContainerId {
            value: executor.container_id.clone(),
            parent: None,
        }),
        executor_pid: executor.pid,
        ..Default::default()
    }
}

/// Fills `status.container_status` of an update an executor sent, as Mesos's agent does
/// before forwarding it (`Slave::statusUpdate`, `Slave::_statusUpdate`, src/slave/slave.cpp):
/// the container's status merged in and, when the container has no network of its own
/// (no `network_infos`), one NetworkInfo with the agent's own IP (`self().address.ip`:
/// here the advertised `--ip`/`--advertise_ip`), so that clients find the task's container
/// (`task exec`, `attach`) and its address.
///
/// Left alone: updates of an executor whose container is gone (`status()` of an unknown
/// container fails, and Mesos then forwards the update without it), and updates whose
/// `container_status.container_id` names another container than the executor's (Mesos
/// asks the containerizer for that container; remesos runs no nested containers, so it is
/// unknown, and the update goes on as the executor sent it). Updates the agent generates
/// itself (`local_update`: tasks never delivered, dropped or lost by the agent, or failed
/// with their exited executor) never come here: Mesos sends those without a container
/// status either.
fn fill_container_status(executor: &Executor, agent_ip: Ipv4Addr, status: &mut v1::TaskStatus) {
    if executor.state == ExecutorState::Terminated {
        return;
    }
    let named = status
        .container_status
        .as_ref()
        .and_then(|c| c.container_id.as_ref());
    if named.is_some_and(|id| id.value != executor.container_id || id.parent.is_some()) {
        return;
    }
    let known = container_status(executor);
    let filled = status.container_status.get_or_insert_with(Default::default);
    // Protobuf's MergeFrom: set fields of the containerizer's status win.
    filled.container_id = known.container_id;
    if known.executor_pid.is_some() {
        filled.executor_pid = known.executor_pid;
    }
    if filled.network_infos.is_empty() {
        // IPv4 is IPAddress.protocol's default, left unset as Mesos leaves it.
        filled.network_infos.push(v1::NetworkInfo {
            ip_addresses: vec![v1::network_info::IpAddress {
                protocol: None,
                ip_address: Some(agent_ip.to_string()),
            }],
            ..Default::default()
        });
    }
}

fn launch_group_event(task_group: v1::TaskGroupInfo) -> exec::Event {
    exec::Event {
        r#type: Some(exec::event::Type::LaunchGroup as i32),
        launch_group: Some(exec::event::LaunchGroup { task_group }),
        ..Default::default()
    }
}

fn launch_event(task: v1::TaskInfo) -> exec::Event {
    exec::Event {
        r#type: Some(exec::event::Type::Launch as i32),
        launch: Some(exec::event::Launch { task }),
        ..Default::default()
    }
}

/// DOCKER containers and images need a container engine, which these machines lack: such
/// tasks fail at once with a clear message (a MESOS container without an image, as Spark
/// sends, runs as a plain command).
fn unsupported_container(task: &v1::TaskInfo, executor: &v1::ExecutorInfo) -> Option<String> {
    for container in task.container.iter().chain(executor.container.iter()) {
        if container.r#type == v1::container_info::Type::Docker as i32 || container.docker.is_some()
        {
            return Some(
                "Docker containers are not supported by this agent (no container engine)".into(),
            );
        }
        if container.mesos.as_ref().is_some_and(|m| m.image.is_some()) {
            return Some("Container images are not supported by this agent yet".into());
        }
    }
    None
}
