//! `remesos executor`: the built-in command executor (DESIGN.md §5, reference/mesos-contract.md
//! §4.3), a process of its own that speaks the v1 executor API to the agent, so that command
//! tasks outlive an agent restart.
//!
//! It behaves as Mesos's `mesos-executor` (`src/launcher/executor.cpp`):
//!
//! ```text
//! SUBSCRIBE ──► SUBSCRIBED ──► LAUNCH ──► TASK_STARTING ──► spawn ──► TASK_RUNNING
//!                                                          │ (fails: TASK_FAILED)
//!   KILL / SHUTDOWN ──► [TASK_KILLING] SIGTERM to the task's process group
//!                       ──(grace period)──► SIGKILL
//!   reaped ──► TASK_FINISHED (exit 0) | TASK_KILLED (killed) | TASK_FAILED, "Command exited
//!              with status N" / "Command terminated with signal <strsignal>"
//!   ACKNOWLEDGED for the terminal update ──► exit 0   (none within 60s ──► exit 1)
//! ```
//!
//! - Kill grace period: the KILL's `kill_policy`, else the task's, else 3 seconds (Mesos's
//!   backwards-compatible default). SHUTDOWN kills with `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`
//!   less 2 seconds (Mesos leaves that margin so `TASK_KILLED` is sent before the agent
//!   destroys the container). A later kill can only shorten the escalation, never lengthen
//!   it — so a SHUTDOWN arriving during a long KILL grace period is bounded by the shutdown
//!   grace period.
//! - `TASK_KILLING` is sent only to frameworks with the `TASK_KILLING_STATE` capability.
//! - A second LAUNCH fails that task ("Attempted to run multiple tasks using a \"command\"
//!   executor"); LAUNCH_GROUP is not for the command executor: as Mesos does, it is logged
//!   and treated as SHUTDOWN.
//! - `TaskInfo.max_completion_time` kills the task with no grace period; it then ends
//!   `TASK_FAILED` with `REASON_MAX_COMPLETION_TIME_REACHED`.
//! - Losing the agent: a framework that checkpoints gets reconnection (see
//!   [`crate::client::executor::Connection::resubscribe`]); otherwise, or once recovery times
//!   out, the executor shuts down as on SHUTDOWN and exits 1 after the task is reaped.
//! - `--rootfs` (a command task in an image, agent/containerizer/linux.rs): the executor runs
//!   on the host as root and starts the task inside the rootfs (common/rootfs.rs), with
//!   `--working_directory` inside it and `--user` looked up in the image. (Command checks of
//!   such a task still run on the host, not in the task's mount namespace as in Mesos.)
//! - Checks and health checks ([`super::checks`]) start once the command is running; their
//!   updates copy the last status (`healthy`, `check_status` kept) with
//!   `REASON_TASK_CHECK_STATUS_UPDATED` / `REASON_TASK_HEALTH_CHECK_STATUS_UPDATED`; they
//!   stop when a kill starts or the command exits. A health check that fails
//!   `consecutive_failures` times kills the task as a KILL would (the task's kill policy,
//!   else 3 seconds); it ends `TASK_KILLED` with `healthy: false`. Every update of a task
//!   with a check carries a `check_status` (empty until a result is known), as in Mesos.
//! - Not supported: TTYs.
//!
//! The decisions live in [`CommandExecutor`], synchronous and clock-free (time comes in as
//! `now`); [`run`] is the async shell that talks to the agent, spawns and signals the
//! command, and keeps the timers.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use remesos_proto::v1;
use v1::executor::{self as exec, event};
use v1::{TaskState, task_status::Reason};

use super::checks::{self, Outcome, Request, Role, TaskChecks, Verdict};
use crate::client::executor::{Connection, ExecutorEnv, event_type};
use crate::client::{Error, Format};
use crate::common::protocol::is_terminal;

/// Mesos's default kill grace period when neither the KILL nor the task has a kill policy
/// (`src/launcher/executor.cpp`: "set to 3s for backwards compatibility").
pub const DEFAULT_KILL_GRACE_PERIOD: Duration = Duration::from_secs(3);

/// What SHUTDOWN takes off the shutdown grace period: libprocess's `MAX_REAP_INTERVAL` (1s)
/// plus one second, so TASK_KILLED goes out before the agent destroys the container.
pub const SHUTDOWN_MARGIN: Duration = Duration::from_secs(2);

/// How long to wait for the ACK of the terminal update before giving up and exiting 1
/// (Mesos's HTTP command executor fail-safe).
pub const TERMINAL_ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// Interval of HEARTBEAT calls (Mesos's executor library: `DEFAULT_HEARTBEAT_CALL_INTERVAL`).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// Environment variable that carries the executor's token; never passed on to the task.
const AUTHENTICATION_TOKEN: &str = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN";

/// What the command executor is started with.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub framework_id: v1::FrameworkId,
    pub executor_id: v1::ExecutorId,
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`: the time SHUTDOWN allows.
    pub shutdown_grace_period: Duration,
    /// The task's working directory: `--working_directory`, else the sandbox.
    pub working_directory: Option<PathBuf>,
    /// `--user`: runs the task as this user (the agent passes it for a task in an image
    /// under `--switch_user`; `CommandInfo.user` is the agent's, applied to the executor).
    pub user: Option<String>,
    /// `--task_command`: replaces the task's `CommandInfo`.
    pub task_command: Option<v1::CommandInfo>,
    /// `--task_environment`: variables added over the executor's own environment, below
    /// `CommandInfo.environment`.
    pub task_environment: Option<v1::Environment>,
    /// The executor's own environment, the base of the task's.
    pub environment: Vec<(String, String)>,
    /// Docker mode: the task runs in this container (`super::docker`).
    pub docker: Option<super::docker::DockerRun>,
    /// `--rootfs`: the task runs inside this root filesystem (common/rootfs.rs), its
    /// working directory a path inside it.
    pub rootfs: Option<PathBuf>,
}

/// How to start the task's command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec {
    /// The program: `/bin/sh` for the shell form, `CommandInfo.value` for the argv form
    /// (looked up in the task's `PATH` when it has no `/`).
    pub program: String,
    /// `argv[0]`.
    pub arg0: String,
    /// `argv[1..]`.
    pub args: Vec<String>,
    /// The complete environment of the command.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// Run as this user (when the executor runs as root).
    pub user: Option<String>,
    /// Enter this root filesystem first (`--rootfs`).
    pub rootfs: Option<PathBuf>,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send this status update (its `uuid` is set; timestamp and source are the client's).
    Update(Box<v1::TaskStatus>),
    /// Start the command, then report with [`CommandExecutor::on_launched`].
    Launch(LaunchSpec),
    /// Send this signal to the task's process group.
    Signal(i32),
    /// Exit the executor with this status.
    Exit(u8),
    /// Perform this probe of a check, then report with
    /// [`CommandExecutor::on_check_outcome`].
    Check(Request),
}

/// The command executor's state and decisions.
#[derive(Debug)]
pub struct CommandExecutor {
    config: Config,
    framework_info: Option<v1::FrameworkInfo>,
    /// The one task, from its LAUNCH on.
    task: Option<v1::TaskInfo>,
    /// The command was started (a process exists or existed).
    started: bool,
    /// The command has been reaped, or could not be started: the terminal update is out.
    terminated: bool,
    /// A kill is under way (SIGTERM sent).
    killed: bool,
    killed_by_max_completion_time: bool,
    /// When the SIGTERM went out; a later kill measures its grace period from here.
    kill_started: Option<Instant>,
    /// When to send SIGKILL; `None` when no escalation is pending.
    escalation_at: Option<Instant>,
    /// When `max_completion_time` expires.
    completion_at: Option<Instant>,
    /// When to stop waiting for the terminal update's ACK.
    give_up_at: Option<Instant>,
    /// Some update of the task was acknowledged (then the task is not resent on subscribe).
    acknowledged_any: bool,
    /// Updates sent and not acknowledged: uuid and whether the state is terminal.
    pending: Vec<(Vec<u8>, bool)>,
    /// The agent is unreachable for good: exit once the task is reaped.
    agent_gone: bool,
    /// The task's container was killed for its memory limit (docker mode): the message
    /// its TASK_FAILED carries.
    memory_limited: Option<String>,
    /// How the command was started (the base of COMMAND checks).
    spec: Option<LaunchSpec>,
    /// The task's check and health check, from the start of the command.
    checks: TaskChecks,
    /// The last update sent: check and health updates copy it.
    last_status: Option<v1::TaskStatus>,
    /// The kill under way was asked by the health check (the terminal update then says
    /// `healthy: false`).
    killed_by_health_check: bool,
}

impl CommandExecutor {
    pub fn new(config: Config) -> CommandExecutor {
        CommandExecutor {
            config,
            framework_info: None,
            task: None,
            started: false,
            terminated: false,
            killed: false,
            killed_by_max_completion_time: false,
            kill_started: None,
            escalation_at: None,
            completion_at: None,
            give_up_at: None,
            acknowledged_any: false,
            pending: Vec::new(),
            agent_gone: false,
            memory_limited: None,
            spec: None,
            checks: TaskChecks::default(),
            last_status: None,
            killed_by_health_check: false,
        }
    }

    /// Tasks to name in SUBSCRIBE: the task, until one of its updates was acknowledged.
    pub fn unacknowledged_tasks(&self) -> Vec<v1::TaskInfo> {
        match &self.task {
            Some(task) if !self.acknowledged_any => vec![task.clone()],
            _ => Vec::new(),
        }
    }

    /// The earliest timer; call [`CommandExecutor::on_tick`] when it passes.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.escalation_at,
            self.completion_at,
            self.give_up_at,
            self.checks.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// SUBSCRIBED, on the first subscription and on every resubscription.
    pub fn on_subscribed(&mut self, subscribed: &event::Subscribed) -> Vec<Effect> {
        tracing::info!(
            agent = %subscribed.agent_info.hostname,
            "subscribed executor"
        );
        self.framework_info = Some(subscribed.framework_info.clone());
        Vec::new()
    }

    /// An event from the agent.
    pub fn on_event(&mut self, now: Instant, event: exec::Event) -> Vec<Effect> {
        let kind = event_type(&event);
        tracing::debug!(event = ?kind, "received event");
        match (kind, event) {
            (
                Some(event::Type::Subscribed),
                exec::Event {
                    subscribed: Some(s),
                    ..
                },
            ) => self.on_subscribed(&s),
            (
                Some(event::Type::Launch),
                exec::Event {
                    launch: Some(l), ..
                },
            ) => self.launch(now, l.task),
            (Some(event::Type::LaunchGroup), _) => {
                // Mesos's command executor: "LAUNCH_GROUP event is not supported"; it shuts
                // down, as a task group only ever goes to a group-capable default executor.
                tracing::error!("LAUNCH_GROUP event is not supported; shutting down");
                self.shutdown(now)
            }
            (Some(event::Type::Kill), exec::Event { kill: Some(k), .. }) => self.on_kill(now, k),
            (
                Some(event::Type::Acknowledged),
                exec::Event {
                    acknowledged: Some(a),
                    ..
                },
            ) => self.on_acknowledged(&a.uuid),
            (Some(event::Type::Shutdown), _) => self.shutdown(now),
            (Some(event::Type::Error), event) => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                tracing::error!(%message, "error event");
                Vec::new()
            }
            (Some(event::Type::Message | event::Type::Heartbeat), _) => Vec::new(),
            (kind, _) => {
                tracing::warn!(event = ?kind, "ignoring an unknown or malformed event");
                Vec::new()
            }
        }
    }

    fn launch(&mut self, now: Instant, task: v1::TaskInfo) -> Vec<Effect> {
        if self.task.is_some() {
            return vec![self.update(
                now,
                &task.task_id,
                TaskState::TaskFailed,
                None,
                Some("Attempted to run multiple tasks using a \"command\" executor".into()),
            )];
        }
        let task_id = task.task_id.clone();
        tracing::info!(task_id = %task_id.value, "launching task");
        self.task = Some(task.clone());
        let mut effects = vec![self.update(now, &task_id, TaskState::TaskStarting, None, None)];
        match launch_spec(&self.config, &task) {
            Ok(spec) => {
                self.spec = Some(spec.clone());
                effects.push(Effect::Launch(spec));
            }
            Err(message) => effects.extend(self.fail_to_start(now, message)),
        }
        effects
    }

    /// The shell started the command (`Ok`) or could not (`Err` with the reason).
    pub fn on_launched(&mut self, now: Instant, result: Result<u32, String>) -> Vec<Effect> {
        let Some(task) = &self.task else {
            return Vec::new();
        };
        let task_id = task.task_id.clone();
        match result {
            Ok(pid) => {
                tracing::info!(task_id = %task_id.value, pid, "started the command");
                self.started = true;
                if let Some(limit) = task.max_completion_time.as_ref() {
                    let limit = Duration::from_nanos(limit.nanoseconds.max(0) as u64);
                    if !limit.is_zero() {
                        self.completion_at = Some(now + limit);
                    }
                }
                if let Some(spec) = &self.spec {
                    self.checks = TaskChecks::new(now, task, spec);
                }
                vec![self.update(now, &task_id, TaskState::TaskRunning, None, None)]
            }
            Err(reason) => {
                self.fail_to_start(now, format!("Failed to launch the command: {reason}"))
            }
        }
    }

    fn fail_to_start(&mut self, now: Instant, message: String) -> Vec<Effect> {
        let Some(task) = &self.task else {
            return Vec::new();
        };
        let task_id = task.task_id.clone();
        tracing::error!(task_id = %task_id.value, %message, "task failed to start");
        self.terminated = true;
        self.terminal(now, &task_id, TaskState::TaskFailed, None, message)
    }

    fn on_kill(&mut self, now: Instant, kill: event::Kill) -> Vec<Effect> {
        let Some(task) = &self.task else {
            // Mesos's command executor aborts here (MESOS-8297: a KILL overtaking its LAUNCH);
            // exiting has the same effect without a core dump: the agent reports the task.
            tracing::error!(
                task_id = %kill.task_id.value,
                "terminating because a kill arrived before the task was launched"
            );
            return vec![Effect::Exit(1)];
        };
        if task.task_id != kill.task_id {
            tracing::warn!(task_id = %kill.task_id.value, "ignoring a kill for an unknown task");
            return Vec::new();
        }
        let grace = grace_period(kill.kill_policy.as_ref())
            .or_else(|| grace_period(task.kill_policy.as_ref()))
            .unwrap_or(DEFAULT_KILL_GRACE_PERIOD);
        self.kill(now, grace)
    }

    fn shutdown(&mut self, now: Instant) -> Vec<Effect> {
        tracing::info!("shutting down");
        if self.task.is_none() {
            return vec![Effect::Exit(0)];
        }
        let grace = self
            .config
            .shutdown_grace_period
            .saturating_sub(SHUTDOWN_MARGIN);
        self.kill(now, grace)
    }

    /// Starts (or shortens) the kill of the task with `grace` before SIGKILL.
    fn kill(&mut self, now: Instant, grace: Duration) -> Vec<Effect> {
        if self.terminated || !self.started {
            // Not started: the launch failed (its TASK_FAILED is out) or is being reported.
            return Vec::new();
        }
        if self.killed {
            // The escalation can only be brought forward: a retried or longer kill is a no-op.
            let (Some(started), Some(at)) = (self.kill_started, self.escalation_at) else {
                return Vec::new();
            };
            let wanted = started + grace;
            if wanted < at {
                tracing::info!(?grace, "rescheduling escalation to SIGKILL");
                self.escalation_at = Some(wanted.max(now));
            }
            return Vec::new();
        }
        let Some(task) = &self.task else {
            return Vec::new();
        };
        let task_id = task.task_id.clone();
        let mut effects = Vec::new();
        if !self.killed_by_max_completion_time && self.framework_has_killing_state() {
            effects.push(self.update(now, &task_id, TaskState::TaskKilling, None, None));
        }
        // Mesos pauses both checkers when a kill begins: no check or health update after
        // TASK_KILLING.
        self.checks.pause();
        tracing::info!(task_id = %task_id.value, ?grace, "sending SIGTERM to the task's process group");
        effects.push(Effect::Signal(libc::SIGTERM));
        self.killed = true;
        self.kill_started = Some(now);
        self.escalation_at = Some(now + grace);
        effects
    }

    fn framework_has_killing_state(&self) -> bool {
        self.framework_info.as_ref().is_some_and(|f| {
            crate::common::protocol::framework_has_capability(
                f,
                v1::framework_info::capability::Type::TaskKillingState,
            )
        })
    }

    fn on_acknowledged(&mut self, uuid: &[u8]) -> Vec<Effect> {
        let Some(index) = self.pending.iter().position(|(u, _)| u == uuid) else {
            tracing::warn!("received an acknowledgement for an unknown status update");
            return Vec::new();
        };
        let (_, terminal) = self.pending.remove(index);
        self.acknowledged_any = true;
        if terminal {
            tracing::info!("the terminal status update was acknowledged; exiting");
            return vec![Effect::Exit(0)];
        }
        Vec::new()
    }

    /// The task's container reached its memory limit (docker mode: `State.OOMKilled`);
    /// its exit, reported next, ends it `TASK_FAILED` with
    /// `REASON_CONTAINER_LIMITATION_MEMORY` and `message`.
    pub fn on_memory_limited(&mut self, message: String) {
        self.memory_limited = Some(message);
    }

    /// The command exited; `wait_status` is the raw status from `waitpid`.
    pub fn on_exited(&mut self, now: Instant, wait_status: i32) -> Vec<Effect> {
        let Some(task) = &self.task else {
            return Vec::new();
        };
        let task_id = task.task_id.clone();
        self.terminated = true;
        self.escalation_at = None;
        self.completion_at = None;
        self.checks.pause();
        if let Some(message) = self.memory_limited.take() {
            tracing::info!(task_id = %task_id.value, %message, "task terminated");
            return self.terminal(
                now,
                &task_id,
                TaskState::TaskFailed,
                Some(Reason::ContainerLimitationMemory),
                message,
            );
        }
        let (state, reason) = if self.killed_by_max_completion_time {
            (
                TaskState::TaskFailed,
                Some(Reason::MaxCompletionTimeReached),
            )
        } else if self.killed {
            (TaskState::TaskKilled, None)
        } else if libc::WIFEXITED(wait_status) && libc::WEXITSTATUS(wait_status) == 0 {
            (TaskState::TaskFinished, None)
        } else {
            (TaskState::TaskFailed, None)
        };
        let message = format!("Command {}", describe_wait_status(wait_status));
        tracing::info!(task_id = %task_id.value, %message, "task terminated");
        self.terminal(now, &task_id, state, reason, message)
    }

    fn terminal(
        &mut self,
        now: Instant,
        task_id: &v1::TaskId,
        state: TaskState,
        reason: Option<Reason>,
        message: String,
    ) -> Vec<Effect> {
        let mut update = self.update(now, task_id, state, reason, Some(message));
        if self.killed
            && self.killed_by_health_check
            && let Effect::Update(status) = &mut update
        {
            // Mesos: "Indicate that a kill occurred due to a failing health check".
            status.healthy = Some(false);
            self.last_status = Some((**status).clone());
        }
        let mut effects = vec![update];
        if self.agent_gone {
            effects.push(Effect::Exit(1));
        } else {
            self.give_up_at = Some(now + TERMINAL_ACK_TIMEOUT);
        }
        effects
    }

    /// Timers: SIGKILL escalation, max completion time, the terminal ACK fail-safe.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.escalation_at.is_some_and(|at| at <= now) {
            self.escalation_at = None;
            if !self.terminated {
                tracing::info!("the task did not terminate in its grace period; sending SIGKILL");
                effects.push(Effect::Signal(libc::SIGKILL));
            }
        }
        if self.completion_at.is_some_and(|at| at <= now) {
            self.completion_at = None;
            if !self.terminated && !self.killed {
                tracing::info!("the task exceeded its maximum completion time; killing it");
                self.killed_by_max_completion_time = true;
                effects.extend(self.kill(now, Duration::ZERO));
            }
        }
        if self.give_up_at.is_some_and(|at| at <= now) {
            self.give_up_at = None;
            tracing::error!("did not receive an ACK for the terminal status update from the agent");
            effects.push(Effect::Exit(1));
        }
        effects.extend(self.checks.on_tick(now).into_iter().map(Effect::Check));
        effects
    }

    /// The outcome of a check's probe (`role`, `attempt` as in its [`Request`]).
    pub fn on_check_outcome(
        &mut self,
        now: Instant,
        role: Role,
        attempt: u64,
        outcome: Outcome,
    ) -> Vec<Effect> {
        let verdict = self.checks.on_outcome(now, role, attempt, outcome);
        // Mesos's `taskCheckUpdated` / `taskHealthUpdated`: nothing once a kill began or
        // the task ended (a probe scheduled before may still report).
        let (Some(verdict), false, false) = (verdict, self.killed, self.terminated) else {
            return Vec::new();
        };
        let mut effects = Vec::new();
        match verdict {
            Verdict::Check(status) => {
                tracing::info!(?status, "check status changed");
                effects.extend(self.follow_up(Reason::TaskCheckStatusUpdated, |s| {
                    s.check_status = Some(status)
                }));
            }
            Verdict::Health {
                healthy, kill_task, ..
            } => {
                tracing::info!(healthy, "task health changed");
                effects.extend(self.follow_up(Reason::TaskHealthCheckStatusUpdated, |s| {
                    s.healthy = Some(healthy)
                }));
                if kill_task {
                    tracing::warn!("killing the task: its health check failed too many times");
                    self.killed_by_health_check = true;
                    let grace = self
                        .task
                        .as_ref()
                        .and_then(|t| grace_period(t.kill_policy.as_ref()))
                        .unwrap_or(DEFAULT_KILL_GRACE_PERIOD);
                    effects.extend(self.kill(now, grace));
                }
            }
        }
        effects
    }

    /// An update that copies the last one (its state, `healthy`, `check_status`...) with a
    /// new uuid, `reason` and `change` applied: Mesos's `createTaskStatus(lastTaskStatus, ...)`.
    fn follow_up(
        &mut self,
        reason: Reason,
        change: impl FnOnce(&mut v1::TaskStatus),
    ) -> Option<Effect> {
        let mut status = self.last_status.clone()?;
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        status.uuid = Some(uuid.clone());
        status.reason = Some(reason as i32);
        status.timestamp = None;
        change(&mut status);
        self.pending.push((uuid, false));
        self.last_status = Some(status.clone());
        Some(Effect::Update(Box::new(status)))
    }

    /// The agent cannot be reached any more (no checkpointing, or the recovery timeout
    /// passed): shut down as on SHUTDOWN and exit 1 once the task is reaped.
    pub fn on_agent_gone(&mut self, now: Instant) -> Vec<Effect> {
        self.agent_gone = true;
        if !self.started || self.terminated {
            return vec![Effect::Exit(1)];
        }
        self.shutdown(now)
    }

    fn update(
        &mut self,
        _now: Instant,
        task_id: &v1::TaskId,
        state: TaskState,
        reason: Option<Reason>,
        message: Option<String>,
    ) -> Effect {
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        self.pending.push((uuid.clone(), is_terminal(state)));
        // Every update of a task with a check carries a check status, empty until a result
        // is known (Mesos's `createTaskStatus`).
        let check_status = self
            .task
            .as_ref()
            .filter(|t| t.task_id == *task_id)
            .and_then(checks::checker::initial_check_status);
        let status = v1::TaskStatus {
            task_id: task_id.clone(),
            state: state as i32,
            message,
            reason: reason.map(|r| r as i32),
            source: Some(v1::task_status::Source::Executor as i32),
            executor_id: Some(self.config.executor_id.clone()),
            uuid: Some(uuid),
            check_status,
            ..Default::default()
        };
        if self.task.as_ref().is_some_and(|t| t.task_id == *task_id) {
            self.last_status = Some(status.clone());
        }
        Effect::Update(Box::new(status))
    }
}

fn grace_period(policy: Option<&v1::KillPolicy>) -> Option<Duration> {
    policy
        .and_then(|p| p.grace_period.as_ref())
        .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
}

/// How to run `task`'s command under `config`, or why it cannot be run.
pub fn launch_spec(config: &Config, task: &v1::TaskInfo) -> Result<LaunchSpec, String> {
    let command = config
        .task_command
        .as_ref()
        .or(task.command.as_ref())
        .ok_or_else(|| format!("Expecting task '{}' to have a command", task.task_id.value))?;
    let (program, arg0, args) = argv(command)
        .map_err(|what| format!("{what} of task '{}' is not specified", task.task_id.value))?;

    // Priority, lowest first, as in Mesos: the executor's environment, `--task_environment`,
    // `CommandInfo.environment`.
    let mut env: BTreeMap<String, String> = config
        .environment
        .iter()
        .filter(|(k, _)| k != AUTHENTICATION_TOKEN)
        .cloned()
        .collect();
    let overlays = config
        .task_environment
        .iter()
        .chain(command.environment.iter());
    for environment in overlays {
        overlay_environment(&mut env, environment);
    }
    if let Some(role) = task
        .resources
        .first()
        .and_then(|r| r.allocation_info.as_ref())
        .and_then(|a| a.role.clone())
    {
        env.insert("MESOS_ALLOCATION_ROLE".to_string(), role);
    }

    Ok(LaunchSpec {
        program,
        arg0,
        args,
        env: env.into_iter().collect(),
        cwd: config.working_directory.clone(),
        rootfs: config.rootfs.clone(),
        // Only `--user` (the agent's, for a task in an image): `CommandInfo.user` was the
        // agent's to apply when it started this executor (or not, `--switch_user=false`),
        // as Mesos's command executor (src/launcher/executor.cpp) leaves it alone.
        user: config.user.clone().filter(|u| !u.is_empty()),
    })
}

/// `(program, argv[0], argv[1..])` of `command`: `/bin/sh -c <value>` for the shell form;
/// for the argv form `value` is the program and `arguments` the whole argv, `arguments[0]`
/// included (mesos.proto CommandInfo). `Err` names what is missing ("Shell command",
/// "Executable").
pub(crate) fn argv(
    command: &v1::CommandInfo,
) -> Result<(String, String, Vec<String>), &'static str> {
    let value = command.value.clone().unwrap_or_default();
    if command.shell.unwrap_or(true) {
        if value.is_empty() {
            return Err("Shell command");
        }
        Ok((
            "/bin/sh".to_string(),
            "sh".to_string(),
            vec!["-c".to_string(), value],
        ))
    } else {
        if value.is_empty() {
            return Err("Executable");
        }
        let mut argv = command.arguments.clone().into_iter();
        let arg0 = argv.next().unwrap_or_else(|| value.clone());
        Ok((value, arg0, argv.collect()))
    }
}

/// Sets `environment`'s variables over `env`. Secrets are not resolved here and are
/// skipped, as Mesos skips unresolved ones.
pub(crate) fn overlay_environment(
    env: &mut BTreeMap<String, String>,
    environment: &v1::Environment,
) {
    for variable in &environment.variables {
        use v1::environment::variable::Type;
        if variable.r#type == Some(Type::Secret as i32) {
            continue;
        }
        env.insert(
            variable.name.clone(),
            variable.value.clone().unwrap_or_default(),
        );
    }
}

/// Mesos's `WSTRINGIFY`: "exited with status N", "terminated with signal <strsignal>".
pub fn describe_wait_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        let mut text = format!(
            "terminated with signal {}",
            signal_description(libc::WTERMSIG(status))
        );
        if libc::WCOREDUMP(status) {
            text.push_str(" (core dumped)");
        }
        text
    } else if libc::WIFSTOPPED(status) {
        format!(
            "stopped on signal {}",
            signal_description(libc::WSTOPSIG(status))
        )
    } else {
        format!("wait status {status}")
    }
}

/// `strsignal(3)`: "Terminated", "Killed", ...
fn signal_description(signal: i32) -> String {
    // SAFETY: strsignal returns a pointer to a NUL-terminated string (static, or a
    // thread-local buffer for unknown signals) that we copy before any other libc call.
    let text = unsafe { libc::strsignal(signal) };
    if text.is_null() {
        return format!("signal {signal}");
    }
    // SAFETY: non-null and NUL-terminated, as above.
    unsafe { std::ffi::CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// What the link to the agent produced.
pub(crate) enum Link {
    Subscribed(Box<event::Subscribed>),
    Event(Box<exec::Event>),
    Broken(Error),
    GaveUp(Error),
}

/// One step on the link: the next event when subscribed, else a (re)subscription.
pub(crate) async fn link_step(
    connection: &mut Connection,
    unacknowledged_tasks: Vec<v1::TaskInfo>,
) -> Link {
    if connection.is_subscribed() {
        match connection.next_event().await {
            Ok(event) => Link::Event(Box::new(event)),
            Err(e) => Link::Broken(e),
        }
    } else {
        match connection.resubscribe(unacknowledged_tasks).await {
            Ok(subscribed) => Link::Subscribed(Box::new(subscribed)),
            Err(e) => Link::GaveUp(e),
        }
    }
}

async fn wait_child(child: &mut Option<tokio::process::Child>) -> std::io::Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    match child {
        Some(child) => child.wait().await.map(|s| s.into_raw()),
        None => std::future::pending().await,
    }
}

pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs the command executor until it should exit; returns the exit status.
pub async fn run(env: ExecutorEnv, config: Config, format: Format) -> u8 {
    // The launch path's phase lines (common::time::phase) name the executor (its task's id).
    let traced = crate::common::time::phases_on().then(|| env.executor_id.value.clone());
    let phase = |name: &str| {
        if let Some(id) = &traced {
            crate::common::time::phase(name, id);
        }
    };
    phase("executor_subscribing");
    let mut connection = Connection::new(&env, format);
    let docker = config.docker.clone();
    // Docker mode: the container's status, sent with TASK_RUNNING.
    let mut container_status: Option<v1::ContainerStatus> = None;
    let mut executor = CommandExecutor::new(config);
    let mut child: Option<tokio::process::Child> = None;
    // The task's process group (its pid, as it leads its own group).
    let mut process_group: Option<i32> = None;
    let mut gone = false;
    let mut effects: VecDeque<Effect> = VecDeque::new();
    // The command, when it was started while its TASK_STARTING was in flight (below).
    let mut started_early: Option<Result<tokio::process::Child, String>> = None;
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The probes in flight: at most one per checker. Dropped with this function, which
    // aborts them (a COMMAND probe then SIGKILLs its process group).
    let mut probes: tokio::task::JoinSet<(Role, u64, Outcome)> = tokio::task::JoinSet::new();

    loop {
        while let Some(effect) = effects.pop_front() {
            match effect {
                Effect::Update(mut status) => {
                    let state = TaskState::try_from(status.state).ok();
                    if state == Some(TaskState::TaskRunning) && container_status.is_some() {
                        status.container_status = container_status.clone();
                    }
                    let name = state.map_or("UNKNOWN", |s| s.as_str_name());
                    if traced.is_some() {
                        phase(&format!("executor_{name}_sending"));
                    }
                    // As Mesos's command executor, which forwards TASK_STARTING and forks
                    // the command without waiting for the agent's answer: the command
                    // starts while STARTING is in flight. Updates still go one at a time,
                    // in order: RUNNING only after the agent took STARTING.
                    let spawn_now = match (&docker, state, effects.front()) {
                        (None, Some(TaskState::TaskStarting), Some(Effect::Launch(spec))) => {
                            Some(spec)
                        }
                        _ => None,
                    };
                    let sent = match spawn_now {
                        Some(spec) => {
                            let (sent, spawned) = tokio::join!(connection.update(*status), async {
                                let spawned = spawn(spec);
                                phase("executor_command_spawned");
                                spawned
                            });
                            started_early = Some(spawned);
                            sent
                        }
                        None => connection.update(*status).await,
                    };
                    if let Err(e) = sent {
                        // Kept by the connection; it goes out again with the next SUBSCRIBE.
                        tracing::warn!(?state, error = %e, "status update not delivered yet");
                    }
                    if traced.is_some() {
                        phase(&format!("executor_{name}_accepted"));
                    }
                }
                Effect::Launch(spec) => {
                    let spawned = match (started_early.take(), &docker) {
                        (Some(spawned), _) => spawned,
                        (None, Some(docker)) => docker.spawn(&spec),
                        (None, None) => spawn(&spec),
                    };
                    phase("executor_command_spawned");
                    let mut result = spawned.map(|c| {
                        let pid = c.id().unwrap_or(0);
                        process_group = i32::try_from(pid).ok().filter(|p| *p > 0);
                        child = Some(c);
                        pid
                    });
                    // Docker mode: TASK_RUNNING once the container runs, with its address;
                    // a `docker run` that ended first (reaped there) failed the launch.
                    if let (Some(docker), Some(c)) = (&docker, child.as_mut()) {
                        match docker.wait_running(c).await {
                            super::docker::Started::Running(status) => container_status = status,
                            super::docker::Started::Exited(why) => {
                                child = None;
                                process_group = None;
                                result = Err(why);
                            }
                        }
                    }
                    effects.extend(executor.on_launched(Instant::now(), result));
                }
                Effect::Signal(signal) => {
                    if let Some(docker) = &docker {
                        docker.signal(signal).await;
                    } else if let Some(pgid) = process_group {
                        let result = match (
                            rustix::process::Pid::from_raw(pgid),
                            rustix::process::Signal::from_named_raw(signal),
                        ) {
                            (Some(group), Some(sig)) => {
                                rustix::process::kill_process_group(group, sig)
                                    .map_err(std::io::Error::from)
                            }
                            _ => Err(std::io::Error::from(std::io::ErrorKind::InvalidInput)),
                        };
                        if let Err(e) = result {
                            tracing::warn!(pgid, signal, error = %e, "killpg failed");
                        }
                    }
                }
                Effect::Exit(code) => return code,
                Effect::Check(request) => {
                    // Docker mode: a COMMAND check runs in the task's container; HTTP and
                    // TCP checks connect from its network namespace.
                    let (probe, netns) = match (&docker, request.probe) {
                        (Some(docker), checks::checker::Probe::Command(spec)) => (
                            checks::checker::Probe::Command(docker.exec_spec(spec)),
                            None,
                        ),
                        (Some(docker), probe) => (probe, Some(docker.clone())),
                        (None, probe) => (probe, None),
                    };
                    probes.spawn(async move {
                        let outcome = match netns {
                            Some(docker) => match docker.pid().await {
                                Some(pid) => {
                                    checks::runner::run_in_network_of(pid, probe, request.timeout)
                                        .await
                                }
                                None => Outcome::Failed(format!(
                                    "the container {} is not running",
                                    docker.container
                                )),
                            },
                            None => checks::runner::run(probe, request.timeout).await,
                        };
                        (request.role, request.attempt, outcome)
                    });
                }
            }
        }

        let deadline = executor.next_deadline();
        let unacknowledged_tasks = executor.unacknowledged_tasks();
        tokio::select! {
            link = link_step(&mut connection, unacknowledged_tasks), if !gone => match link {
                Link::Subscribed(subscribed) => {
                    phase("executor_subscribed");
                    effects.extend(executor.on_subscribed(&subscribed));
                }
                Link::Event(event) => {
                    if event_type(&event) == Some(event::Type::Launch) {
                        phase("executor_launch_received");
                    }
                    effects.extend(executor.on_event(Instant::now(), *event))
                }
                Link::Broken(e) => tracing::warn!(error = %e, "disconnected from the agent"),
                Link::GaveUp(e) => {
                    tracing::error!(error = %e, "the agent is gone; shutting down");
                    gone = true;
                    effects.extend(executor.on_agent_gone(Instant::now()));
                }
            },
            status = wait_child(&mut child) => {
                child = None;
                if let Some(docker) = &docker
                    && docker.oom_killed().await
                {
                    executor.on_memory_limited(super::docker::memory_limit_message(&docker.container));
                }
                match status {
                    Ok(status) => effects.extend(executor.on_exited(Instant::now(), status)),
                    Err(e) => {
                        // Mesos: "Failed to get exit status for Command"; reported as a
                        // failure through the same path with a wait status that is neither
                        // exited nor signalled.
                        tracing::error!(error = %e, "failed to get the exit status");
                        effects.extend(executor.on_exited(Instant::now(), -1));
                    }
                }
            },
            _ = sleep_until(deadline) => effects.extend(executor.on_tick(Instant::now())),
            Some(done) = probes.join_next(), if !probes.is_empty() => match done {
                Ok((role, attempt, outcome)) => effects.extend(
                    executor.on_check_outcome(Instant::now(), role, attempt, outcome),
                ),
                Err(e) => tracing::error!(error = %e, "a check's probe panicked"),
            },
            _ = heartbeat.tick(), if connection.is_subscribed() => {
                if let Err(e) = connection.heartbeat().await {
                    tracing::debug!(error = %e, "heartbeat failed");
                }
            }
        }
    }
}

/// Where a started process's standard streams go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Streams {
    /// The executor's stdin, stdout and stderr (a task: the sandbox's files).
    Inherit,
    /// `/dev/null` in, stdout and stderr to the executor's stderr (Mesos's COMMAND checks,
    /// `src/checks/checker_process.cpp`), so a check's output never mixes with the task's.
    Check,
}

/// Starts the command in its own process group, with the executor's stdin, stdout and stderr.
pub(crate) fn spawn(spec: &LaunchSpec) -> Result<tokio::process::Child, String> {
    spawn_with(spec, Streams::Inherit)
}

/// Starts the command in its own process group (so the whole of it can be signalled), as
/// `spec.user` when the executor runs as root, with `streams`.
pub(crate) fn spawn_with(
    spec: &LaunchSpec,
    streams: Streams,
) -> Result<tokio::process::Child, String> {
    use std::os::fd::AsFd;
    use std::process::Stdio;
    #[allow(
        clippy::disallowed_methods,
        reason = "the executors start their tasks and their COMMAND checks"
    )]
    let mut command = tokio::process::Command::new(&spec.program);
    let (stdin, stdout) = match streams {
        Streams::Inherit => (Stdio::inherit(), Stdio::inherit()),
        Streams::Check => {
            let stderr = std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| format!("failed to duplicate stderr: {e}"))?;
            (Stdio::null(), Stdio::from(stderr))
        }
    };
    command
        .arg0(&spec.arg0)
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .kill_on_drop(false);
    if let Some(rootfs) = &spec.rootfs {
        return spawn_in_rootfs(command, spec, rootfs);
    }
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let root = rustix::process::geteuid().is_root();
    if let Some(user) = spec.user.as_deref().filter(|_| root) {
        let (uid, gid, groups) = lookup_user(user)?;
        // SAFETY: the closure runs in the child between fork and exec and only makes
        // async-signal-safe calls (setgroups, setgid, setuid) on data prepared before the fork.
        unsafe {
            command.pre_exec(move || {
                if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    command.spawn().map_err(|e| {
        format!(
            "'{}': {e}",
            if spec.program == "/bin/sh" {
                spec.args.last().map_or("", String::as_str)
            } else {
                spec.program.as_str()
            }
        )
    })
}

/// Starts the task inside `rootfs` (common/rootfs.rs) as its user from the image.
fn spawn_in_rootfs(
    mut command: tokio::process::Command,
    spec: &LaunchSpec,
    rootfs: &std::path::Path,
) -> Result<tokio::process::Child, String> {
    let working_directory = spec.cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
    let enter = crate::common::rootfs::Rootfs::new(rootfs, &working_directory)?;
    let user = match spec.user.as_deref() {
        Some(user) => Some(crate::common::rootfs::lookup_user(rootfs, user)?),
        None => None,
    };
    if let Some((uid, gid, _)) = &user {
        // As Mesos's command executor does with a rootfs: the task's user owns the sandbox
        // (this executor's working directory, not recursively), which it sees at
        // --sandbox_directory.
        std::os::unix::fs::chown(".", Some(*uid), Some(*gid))
            .map_err(|e| format!("Failed to chown the sandbox to the task's user: {e}"))?;
    }
    // SAFETY: the closure runs in the child between fork and exec; `enter` makes only
    // async-signal-safe system calls on data prepared here, and so do setgroups, setgid and
    // setuid (the ids were looked up before the fork).
    unsafe {
        command.pre_exec(move || {
            enter.enter()?;
            if let Some((uid, gid, groups)) = &user {
                let groups: &[libc::gid_t] = groups;
                if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                    || libc::setgid(*gid) != 0
                    || libc::setuid(*uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command.spawn().map_err(|e| {
        format!(
            "'{}' in the container: {e}",
            if spec.program == "/bin/sh" {
                spec.args.last().map_or("", String::as_str)
            } else {
                spec.program.as_str()
            }
        )
    })
}

/// The uid, primary gid and groups of `user` (looked up before forking: NSS is not
/// async-signal-safe).
fn lookup_user(user: &str) -> Result<(libc::uid_t, libc::gid_t, Vec<libc::gid_t>), String> {
    let name = std::ffi::CString::new(user).map_err(|_| format!("invalid user '{user}'"))?;
    let mut buffer = vec![0u8; 16 * 1024];
    // SAFETY: zeroed passwd is a valid out-parameter for getpwnam_r.
    let mut passwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; the buffer outlives the use of `passwd`.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut passwd,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(format!("failed to find user '{user}'"));
    }
    let (uid, gid) = (passwd.pw_uid, passwd.pw_gid);
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut count = groups.len() as libc::c_int;
        // SAFETY: `groups` holds `count` entries; getgrouplist writes at most that many.
        let rc = unsafe {
            libc::getgrouplist(
                name.as_ptr(),
                gid as _,
                groups.as_mut_ptr().cast(),
                &mut count,
            )
        };
        if rc >= 0 {
            groups.truncate(count.max(0) as usize);
            break;
        }
        if groups.len() >= 65536 {
            return Err(format!("failed to get the groups of user '{user}'"));
        }
        let grown = (count.max(0) as usize).max(groups.len() * 2);
        groups.resize(grown, 0);
    }
    Ok((uid, gid, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, command: v1::CommandInfo) -> v1::TaskInfo {
        v1::TaskInfo {
            name: id.into(),
            task_id: v1::TaskId { value: id.into() },
            command: Some(command),
            ..Default::default()
        }
    }

    fn shell(value: &str) -> v1::CommandInfo {
        v1::CommandInfo {
            value: Some(value.into()),
            ..Default::default()
        }
    }

    fn config() -> Config {
        Config {
            executor_id: v1::ExecutorId { value: "e".into() },
            shutdown_grace_period: Duration::from_secs(5),
            environment: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("FOO".into(), "executor".into()),
                (AUTHENTICATION_TOKEN.into(), "secret".into()),
            ],
            working_directory: Some("/sandbox".into()),
            ..Default::default()
        }
    }

    fn launch_event(task: v1::TaskInfo) -> exec::Event {
        exec::Event {
            r#type: Some(event::Type::Launch as i32),
            launch: Some(event::Launch { task }),
            ..Default::default()
        }
    }

    fn kill_event(id: &str, grace: Option<Duration>) -> exec::Event {
        exec::Event {
            r#type: Some(event::Type::Kill as i32),
            kill: Some(event::Kill {
                task_id: v1::TaskId { value: id.into() },
                kill_policy: grace.map(|g| v1::KillPolicy {
                    grace_period: Some(v1::DurationInfo {
                        nanoseconds: g.as_nanos() as i64,
                    }),
                }),
            }),
            ..Default::default()
        }
    }

    fn ack_event(uuid: Vec<u8>) -> exec::Event {
        exec::Event {
            r#type: Some(event::Type::Acknowledged as i32),
            acknowledged: Some(event::Acknowledged {
                task_id: v1::TaskId { value: "t".into() },
                uuid,
            }),
            ..Default::default()
        }
    }

    fn states(effects: &[Effect]) -> Vec<(TaskState, Option<String>)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Update(s) => {
                    Some((TaskState::try_from(s.state).unwrap(), s.message.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn uuid_of(effects: &[Effect], state: TaskState) -> Vec<u8> {
        effects
            .iter()
            .find_map(|e| match e {
                Effect::Update(s) if s.state == state as i32 => s.uuid.clone(),
                _ => None,
            })
            .unwrap()
    }

    /// A started task: STARTING and RUNNING sent.
    fn started(now: Instant, task: v1::TaskInfo) -> CommandExecutor {
        let mut executor = CommandExecutor::new(config());
        let effects = executor.on_event(now, launch_event(task));
        assert!(matches!(effects.last(), Some(Effect::Launch(_))));
        let effects = executor.on_launched(now, Ok(42));
        assert_eq!(states(&effects), vec![(TaskState::TaskRunning, None)]);
        executor
    }

    #[test]
    fn shell_form_runs_sh_c_with_the_environment_layered() {
        let mut command = shell("echo hi > out");
        command.environment = Some(v1::Environment {
            variables: vec![
                v1::environment::Variable {
                    name: "FOO".into(),
                    value: Some("task".into()),
                    ..Default::default()
                },
                v1::environment::Variable {
                    name: "SECRET".into(),
                    r#type: Some(v1::environment::variable::Type::Secret as i32),
                    ..Default::default()
                },
            ],
        });
        let spec = launch_spec(&config(), &task("t", command)).unwrap();
        assert_eq!(spec.program, "/bin/sh");
        assert_eq!(spec.arg0, "sh");
        assert_eq!(spec.args, vec!["-c", "echo hi > out"]);
        assert_eq!(spec.cwd, Some(PathBuf::from("/sandbox")));
        // CommandInfo.environment overrides the executor's; the token and unresolved secrets
        // never reach the task.
        assert_eq!(
            spec.env,
            vec![
                ("FOO".to_string(), "task".to_string()),
                ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ]
        );
    }

    #[test]
    fn argv_form_uses_value_as_program_and_arguments_as_argv() {
        let command = v1::CommandInfo {
            shell: Some(false),
            value: Some("/bin/echo".into()),
            arguments: vec!["echo".into(), "a".into(), "b c".into()],
            user: Some("nobody".into()),
            ..Default::default()
        };
        let spec = launch_spec(&config(), &task("t", command)).unwrap();
        assert_eq!(spec.program, "/bin/echo");
        assert_eq!(spec.arg0, "echo");
        assert_eq!(spec.args, vec!["a", "b c"]);
        assert_eq!(
            spec.user, None,
            "CommandInfo.user is the agent's to apply (--switch_user), not the executor's"
        );
        // --user (a task in an image) is.
        let mut cfg = config();
        cfg.user = Some("daemon".into());
        let spec = launch_spec(
            &cfg,
            &task(
                "t",
                v1::CommandInfo {
                    shell: Some(false),
                    value: Some("/bin/true".into()),
                    ..Default::default()
                },
            ),
        )
        .unwrap();
        assert_eq!(spec.arg0, "/bin/true");
        assert_eq!(spec.user.as_deref(), Some("daemon"));
    }

    #[test]
    fn a_task_without_command_fails_after_starting() {
        let mut executor = CommandExecutor::new(config());
        let mut t = task("t", shell(""));
        t.command = None;
        let effects = executor.on_event(Instant::now(), launch_event(t));
        assert_eq!(
            states(&effects),
            vec![
                (TaskState::TaskStarting, None),
                (
                    TaskState::TaskFailed,
                    Some("Expecting task 't' to have a command".into())
                ),
            ]
        );
    }

    #[test]
    fn exit_statuses_become_mesos_messages() {
        // src/common/status_utils.hpp WSTRINGIFY.
        assert_eq!(describe_wait_status(3 << 8), "exited with status 3");
        assert_eq!(
            describe_wait_status(libc::SIGKILL),
            "terminated with signal Killed"
        );
        assert_eq!(
            describe_wait_status(libc::SIGTERM),
            "terminated with signal Terminated"
        );
    }

    #[test]
    fn exit_zero_finishes_and_the_ack_ends_the_executor() {
        let now = Instant::now();
        let mut executor = started(now, task("t", shell("true")));
        let effects = executor.on_exited(now, 0);
        assert_eq!(
            states(&effects),
            vec![(
                TaskState::TaskFinished,
                Some("Command exited with status 0".into())
            )]
        );
        let uuid = uuid_of(&effects, TaskState::TaskFinished);
        assert_eq!(executor.next_deadline(), Some(now + TERMINAL_ACK_TIMEOUT));
        // An unknown ack changes nothing; the terminal one exits 0.
        assert!(executor.on_event(now, ack_event(vec![1; 16])).is_empty());
        assert_eq!(
            executor.on_event(now, ack_event(uuid)),
            vec![Effect::Exit(0)]
        );
    }

    #[test]
    fn nonzero_exit_fails_and_a_missing_ack_exits_one_after_sixty_seconds() {
        let now = Instant::now();
        let mut executor = started(now, task("t", shell("exit 3")));
        let effects = executor.on_exited(now, 3 << 8);
        assert_eq!(
            states(&effects),
            vec![(
                TaskState::TaskFailed,
                Some("Command exited with status 3".into())
            )]
        );
        assert!(executor.on_tick(now + Duration::from_secs(59)).is_empty());
        assert_eq!(
            executor.on_tick(now + TERMINAL_ACK_TIMEOUT),
            vec![Effect::Exit(1)]
        );
    }

    #[test]
    fn kill_uses_the_kill_policy_then_escalates_and_ends_killed() {
        let now = Instant::now();
        let mut t = task("t", shell("sleep 60"));
        t.kill_policy = Some(v1::KillPolicy {
            grace_period: Some(v1::DurationInfo {
                nanoseconds: 10_000_000_000,
            }),
        });
        let mut executor = started(now, t);
        // The KILL's own policy overrides the task's.
        let effects = executor.on_event(now, kill_event("t", Some(Duration::from_secs(4))));
        assert_eq!(effects, vec![Effect::Signal(libc::SIGTERM)]);
        assert_eq!(executor.next_deadline(), Some(now + Duration::from_secs(4)));
        // A retried or longer kill does not extend the grace period.
        assert!(
            executor
                .on_event(now, kill_event("t", Some(Duration::from_secs(30))))
                .is_empty()
        );
        assert_eq!(executor.next_deadline(), Some(now + Duration::from_secs(4)));
        assert!(executor.on_tick(now + Duration::from_secs(3)).is_empty());
        assert_eq!(
            executor.on_tick(now + Duration::from_secs(4)),
            vec![Effect::Signal(libc::SIGKILL)]
        );
        let effects = executor.on_exited(now + Duration::from_secs(4), libc::SIGKILL);
        assert_eq!(
            states(&effects),
            vec![(
                TaskState::TaskKilled,
                Some("Command terminated with signal Killed".into())
            )]
        );
    }

    #[test]
    fn kill_defaults_to_three_seconds_and_shutdown_shortens_it() {
        let now = Instant::now();
        let mut executor = started(now, task("t", shell("sleep 60")));
        executor.on_event(now, kill_event("t", None));
        assert_eq!(
            executor.next_deadline(),
            Some(now + DEFAULT_KILL_GRACE_PERIOD)
        );

        // SHUTDOWN: 5secs - 2secs = 3secs, not shorter than the kill's; a 3secs grace period
        // cut to 1s by a shorter one arriving later.
        let mut cfg = config();
        cfg.shutdown_grace_period = Duration::from_secs(3);
        let mut executor = CommandExecutor::new(cfg);
        executor.on_event(now, launch_event(task("t", shell("sleep 60"))));
        executor.on_launched(now, Ok(1));
        executor.on_event(now, kill_event("t", Some(Duration::from_secs(20))));
        let later = now + Duration::from_millis(500);
        let shutdown = exec::Event {
            r#type: Some(event::Type::Shutdown as i32),
            ..Default::default()
        };
        assert!(executor.on_event(later, shutdown).is_empty());
        assert_eq!(executor.next_deadline(), Some(now + Duration::from_secs(1)));
    }

    #[test]
    fn task_killing_only_for_frameworks_that_ask() {
        let now = Instant::now();
        let mut executor = CommandExecutor::new(config());
        let subscribed = event::Subscribed {
            framework_info: v1::FrameworkInfo {
                capabilities: vec![v1::framework_info::Capability {
                    r#type: Some(v1::framework_info::capability::Type::TaskKillingState as i32),
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        executor.on_subscribed(&subscribed);
        executor.on_event(now, launch_event(task("t", shell("sleep 60"))));
        executor.on_launched(now, Ok(1));
        let effects = executor.on_event(now, kill_event("t", None));
        assert_eq!(states(&effects), vec![(TaskState::TaskKilling, None)]);
        assert_eq!(effects.last(), Some(&Effect::Signal(libc::SIGTERM)));
    }

    #[test]
    fn second_launch_fails_that_task_and_launch_group_shuts_down() {
        let now = Instant::now();
        let mut executor = started(now, task("t", shell("sleep 60")));
        let effects = executor.on_event(now, launch_event(task("u", shell("true"))));
        match &effects[..] {
            [Effect::Update(s)] => {
                assert_eq!(s.task_id.value, "u");
                assert_eq!(s.state, TaskState::TaskFailed as i32);
                assert_eq!(
                    s.message.as_deref(),
                    Some("Attempted to run multiple tasks using a \"command\" executor")
                );
            }
            other => panic!("{other:?}"),
        }
        let group = exec::Event {
            r#type: Some(event::Type::LaunchGroup as i32),
            ..Default::default()
        };
        assert_eq!(
            executor.on_event(now, group.clone()),
            vec![Effect::Signal(libc::SIGTERM)]
        );
        // Before any LAUNCH, LAUNCH_GROUP (like SHUTDOWN) simply ends the executor.
        let mut idle = CommandExecutor::new(config());
        assert_eq!(idle.on_event(now, group), vec![Effect::Exit(0)]);
    }

    #[test]
    fn failed_spawn_reports_task_failed() {
        let now = Instant::now();
        let mut executor = CommandExecutor::new(config());
        executor.on_event(now, launch_event(task("t", shell("x"))));
        let effects = executor.on_launched(now, Err("'/no/such': No such file".into()));
        assert_eq!(
            states(&effects),
            vec![(
                TaskState::TaskFailed,
                Some("Failed to launch the command: '/no/such': No such file".into())
            )]
        );
    }

    #[test]
    fn max_completion_time_fails_the_task() {
        let now = Instant::now();
        let mut t = task("t", shell("sleep 60"));
        t.max_completion_time = Some(v1::DurationInfo {
            nanoseconds: 2_000_000_000,
        });
        let mut executor = started(now, t);
        let at = now + Duration::from_secs(2);
        assert_eq!(executor.next_deadline(), Some(at));
        assert_eq!(executor.on_tick(at), vec![Effect::Signal(libc::SIGTERM)]);
        assert_eq!(executor.on_tick(at), vec![Effect::Signal(libc::SIGKILL)]);
        let effects = executor.on_exited(at, libc::SIGKILL);
        match &effects[..] {
            [Effect::Update(s), ..] => {
                assert_eq!(s.state, TaskState::TaskFailed as i32);
                assert_eq!(s.reason, Some(Reason::MaxCompletionTimeReached as i32));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unacknowledged_task_is_resent_until_an_update_is_acknowledged() {
        let now = Instant::now();
        let mut executor = CommandExecutor::new(config());
        let effects = executor.on_event(now, launch_event(task("t", shell("sleep 1"))));
        assert_eq!(executor.unacknowledged_tasks().len(), 1);
        executor.on_event(now, ack_event(uuid_of(&effects, TaskState::TaskStarting)));
        assert!(executor.unacknowledged_tasks().is_empty());
    }

    fn checked_task() -> v1::TaskInfo {
        let mut t = task("t", shell("serve"));
        t.health_check = Some(v1::HealthCheck {
            r#type: Some(v1::health_check::Type::Tcp as i32),
            tcp: Some(v1::health_check::TcpCheckInfo {
                port: 8080,
                ..Default::default()
            }),
            delay_seconds: Some(0.0),
            grace_period_seconds: Some(0.0),
            consecutive_failures: Some(2),
            ..Default::default()
        });
        t.check = Some(v1::CheckInfo {
            r#type: Some(v1::check_info::Type::Command as i32),
            command: Some(v1::check_info::Command {
                command: shell("cat state"),
            }),
            delay_seconds: Some(0.0),
            ..Default::default()
        });
        t.kill_policy = Some(v1::KillPolicy {
            grace_period: Some(v1::DurationInfo {
                nanoseconds: 7_000_000_000,
            }),
        });
        t
    }

    fn requests(effects: &[Effect]) -> Vec<Request> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Check(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn only_update(effects: &[Effect]) -> v1::TaskStatus {
        match effects {
            [Effect::Update(s)] => (**s).clone(),
            other => panic!("{other:?}"),
        }
    }

    /// src/launcher/executor.cpp `taskCheckUpdated` and `taskHealthUpdated`: each update
    /// copies the last one, so a health update keeps the check status and the other way
    /// round; every update of a checked task carries a check status.
    #[test]
    fn check_and_health_updates_copy_the_last_status() {
        let now = Instant::now();
        let mut executor = CommandExecutor::new(config());
        let effects = executor.on_event(now, launch_event(checked_task()));
        let starting = match &effects[0] {
            Effect::Update(s) => s.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            starting.check_status,
            Some(v1::CheckStatusInfo {
                r#type: Some(v1::check_info::Type::Command as i32),
                command: Some(Default::default()),
                ..Default::default()
            })
        );
        executor.on_launched(now, Ok(7));
        let probes = requests(&executor.on_tick(now));
        assert_eq!(probes.len(), 2, "the check and the health check are due");
        let (check, health) = (&probes[0], &probes[1]);
        assert_eq!(check.role, Role::Check);
        let status = only_update(&executor.on_check_outcome(
            now,
            Role::Check,
            check.attempt,
            Outcome::Command { exit_code: 1 },
        ));
        assert_eq!(status.state, TaskState::TaskRunning as i32);
        assert_eq!(status.reason, Some(Reason::TaskCheckStatusUpdated as i32));
        assert_eq!(
            status.check_status.as_ref().unwrap().command,
            Some(v1::check_status_info::Command { exit_code: Some(1) })
        );
        let status = only_update(&executor.on_check_outcome(
            now,
            Role::Health,
            health.attempt,
            Outcome::Tcp { succeeded: true },
        ));
        assert_eq!(status.healthy, Some(true));
        assert_eq!(
            status.reason,
            Some(Reason::TaskHealthCheckStatusUpdated as i32)
        );
        assert_eq!(
            status.check_status.as_ref().unwrap().command,
            Some(v1::check_status_info::Command { exit_code: Some(1) }),
            "the health update keeps the last check status"
        );
        assert_ne!(status.uuid, starting.uuid);
    }

    /// executor.cpp: the health checker's `kill_task` kills the task with its kill policy;
    /// no check update follows the kill; the terminal update is TASK_KILLED with
    /// `healthy: false`.
    #[test]
    fn consecutive_health_failures_kill_the_task_which_ends_killed_and_unhealthy() {
        let now = Instant::now();
        let mut executor = started(now, checked_task());
        let mut at = now;
        let mut fail = |executor: &mut CommandExecutor| {
            let probes = requests(&executor.on_tick(at));
            let health = probes.iter().find(|r| r.role == Role::Health).unwrap();
            let effects = executor.on_check_outcome(
                at,
                Role::Health,
                health.attempt,
                Outcome::Tcp { succeeded: false },
            );
            at += Duration::from_secs(10);
            effects
        };
        let first = fail(&mut executor);
        assert_eq!(only_update(&first).healthy, Some(false));
        let second = fail(&mut executor);
        match &second[..] {
            [Effect::Update(s), Effect::Signal(libc::SIGTERM)] => {
                assert_eq!(s.healthy, Some(false));
                assert_eq!(s.state, TaskState::TaskRunning as i32);
            }
            other => panic!("{other:?}"),
        }
        // The task's kill policy: 7 seconds to SIGKILL; the checkers are paused.
        let killed_at = at - Duration::from_secs(10);
        assert_eq!(
            executor.next_deadline(),
            Some(killed_at + Duration::from_secs(7))
        );
        assert!(requests(&executor.on_tick(killed_at)).is_empty());
        let effects = executor.on_exited(killed_at, libc::SIGTERM);
        let terminal = match &effects[..] {
            [Effect::Update(s)] => s.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(terminal.state, TaskState::TaskKilled as i32);
        assert_eq!(terminal.healthy, Some(false));
        assert_eq!(terminal.reason, None);
        assert_eq!(
            terminal.message.as_deref(),
            Some("Command terminated with signal Terminated")
        );
    }

    /// A task that exits on its own stops its checks: a probe that was in flight reports
    /// nothing after the terminal update.
    #[test]
    fn no_check_update_after_the_task_ended() {
        let now = Instant::now();
        let mut executor = started(now, checked_task());
        let probes = requests(&executor.on_tick(now));
        executor.on_exited(now, 0);
        for probe in probes {
            assert!(
                executor
                    .on_check_outcome(now, probe.role, probe.attempt, Outcome::Failed("x".into()))
                    .is_empty()
            );
        }
        assert!(requests(&executor.on_tick(now + Duration::from_secs(60))).is_empty());
    }

    #[test]
    fn agent_gone_kills_the_task_and_exits_one_once_reaped() {
        let now = Instant::now();
        let mut executor = started(now, task("t", shell("sleep 60")));
        assert_eq!(
            executor.on_agent_gone(now),
            vec![Effect::Signal(libc::SIGTERM)]
        );
        let effects = executor.on_exited(now, libc::SIGTERM);
        assert_eq!(effects.last(), Some(&Effect::Exit(1)));
    }
}
