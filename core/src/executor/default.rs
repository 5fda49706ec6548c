//! `remesos executor --default`: the default executor, which runs task groups (Mesos's
//! `mesos-default-executor`, reference/mesos-contract.md §4.3; `docs/app-framework-development-guide.md`
//! "default executor"). The agent starts it for an ExecutorInfo of type DEFAULT (ACCEPT's
//! LAUNCH_GROUP); it speaks the v1 executor API like the command executor.
//!
//! ```text
//! LAUNCH_GROUP ──► per task: TASK_STARTING ──► LAUNCH_CONTAINER <executor cid>.<uuid>
//!                  on the agent's /api/v1 ──► TASK_RUNNING ──► WAIT_CONTAINER
//! WAIT answers ──► TASK_FINISHED (0) | TASK_FAILED ("Command exited with status N")
//!   └─ failed ──► the other tasks of its group are killed (they end TASK_KILLED)
//! KILL of one task ──► its whole group is killed (KILL_CONTAINER: SIGTERM, SIGKILL
//!                      after the grace period)
//! every task terminal and every terminal update acknowledged ──► exit 0
//! ```
//!
//! Checks and health checks ([`super::checks`]) start with each task's command, as in
//! Mesos's default executor: their updates copy the task's last status with
//! `REASON_TASK_CHECK_STATUS_UPDATED` / `REASON_TASK_HEALTH_CHECK_STATUS_UPDATED`; they stop
//! when the task is killed or ends, and pause while the agent is unreachable (results are
//! not reported then; probing resumes at once on resubscription). A health check that fails
//! `consecutive_failures` times kills the task (and so its group); from then on every task
//! of this executor ends with `healthy: false` — Mesos's executor-wide flag (MESOS-8543).
//!
//! Each task runs in a container nested under the executor's (Mesos's default executor,
//! src/launcher/default_executor.cpp): the agent starts it (agent/nested.rs, a durable
//! container: it outlives an agent restart, its sandbox `containers/<uuid>` below the
//! executor's), the executor long-polls WAIT_CONTAINER for its end (again after the
//! agent comes back) and every update names the task's container in
//! `container_status.container_id`, so `task exec` finds it.
//!
//! Differences from Mesos: COMMAND checks run as processes of the executor (as the task's
//! user, in the task's sandbox, with its environment), not as check containers nested
//! under the task's; when the agent is gone for good the executor exits at
//! once and leaves its tasks' containers to the agent's next start, which kills them (their
//! parent is gone). A single LAUNCH is refused as Mesos does (the executor shuts down).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use remesos_proto::v1;
use v1::TaskState;
use v1::executor::{self as exec, event};

use super::checks::{self, Outcome, Request, Role, TaskChecks, Verdict};
use super::command::{
    Config, DEFAULT_KILL_GRACE_PERIOD, HEARTBEAT_INTERVAL, LaunchSpec, SHUTDOWN_MARGIN,
    TERMINAL_ACK_TIMEOUT, describe_wait_status, launch_spec,
};
use crate::client::Format;
use crate::client::containers::AgentContainers;
use crate::client::executor::{Connection, ExecutorEnv, event_type};
use crate::common::protocol::is_terminal;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Update(Box<v1::TaskStatus>),
    /// LAUNCH_CONTAINER `container_id` for the task, then report with
    /// [`DefaultExecutor::on_launched`] and wait for it.
    Launch {
        task_id: String,
        container_id: v1::ContainerId,
        command: Box<v1::CommandInfo>,
        container: Option<Box<v1::ContainerInfo>>,
        resources: Vec<v1::Resource>,
    },
    Signal {
        task_id: String,
        signal: i32,
    },
    Exit(u8),
    /// Perform this probe of `task_id`'s check, then report with
    /// [`DefaultExecutor::on_check_outcome`].
    Check {
        task_id: String,
        request: Request,
    },
}

#[derive(Debug)]
struct Run {
    info: v1::TaskInfo,
    group: usize,
    started: bool,
    terminated: bool,
    killed: bool,
    escalation_at: Option<Instant>,
    /// How the task's command is started (the base of its COMMAND checks).
    spec: Option<LaunchSpec>,
    /// Its check and health check, from the start of its command.
    checks: TaskChecks,
    /// Its last update: check and health updates copy it.
    last_status: Option<v1::TaskStatus>,
    /// The container it runs in, nested under the executor's.
    container: Option<v1::ContainerId>,
}

/// The default executor's state and decisions (synchronous, clock-free).
#[derive(Debug)]
pub struct DefaultExecutor {
    config: Config,
    framework_info: Option<v1::FrameworkInfo>,
    runs: BTreeMap<String, Run>,
    groups: Vec<Vec<String>>,
    /// Updates sent and not acknowledged: uuid, task id, terminal.
    pending: Vec<(Vec<u8>, String, bool)>,
    /// Tasks with at least one acknowledged update (not resent on SUBSCRIBE).
    acknowledged: std::collections::BTreeSet<String>,
    shutting_down: bool,
    agent_gone: bool,
    give_up_at: Option<Instant>,
    /// A health check killed a task: every terminal update from then on says
    /// `healthy: false` (Mesos's default executor's `unhealthy`).
    unhealthy: bool,
    /// The link to the agent is down: checks are paused.
    disconnected: bool,
    /// The executor's own container (SUBSCRIBED's `container_id`): its tasks' parent.
    container: Option<v1::ContainerId>,
}

impl DefaultExecutor {
    pub fn new(config: Config) -> DefaultExecutor {
        DefaultExecutor {
            config,
            framework_info: None,
            runs: BTreeMap::new(),
            groups: Vec::new(),
            pending: Vec::new(),
            acknowledged: Default::default(),
            shutting_down: false,
            agent_gone: false,
            give_up_at: None,
            unhealthy: false,
            disconnected: false,
            container: None,
        }
    }

    /// The container `task_id` runs in.
    pub fn container_of(&self, task_id: &str) -> Option<&v1::ContainerId> {
        self.runs.get(task_id).and_then(|r| r.container.as_ref())
    }

    pub fn unacknowledged_tasks(&self) -> Vec<v1::TaskInfo> {
        self.runs
            .iter()
            .filter(|(id, _)| !self.acknowledged.contains(*id))
            .map(|(_, r)| r.info.clone())
            .collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.runs
            .values()
            .filter_map(|r| r.escalation_at)
            .chain(self.runs.values().filter_map(|r| r.checks.next_deadline()))
            .chain(self.give_up_at)
            .min()
    }

    /// SUBSCRIBED (first or again): checks resume at once (Mesos's default executor).
    pub fn on_subscribed(&mut self, now: Instant, subscribed: &event::Subscribed) -> Vec<Effect> {
        self.framework_info = Some(subscribed.framework_info.clone());
        if subscribed.container_id.is_some() {
            self.container = subscribed.container_id.clone();
        }
        if std::mem::take(&mut self.disconnected) {
            for run in self.runs.values_mut() {
                if run.started && !run.killed && !run.terminated {
                    run.checks.resume(now);
                }
            }
        }
        Vec::new()
    }

    /// The link to the agent broke: checks pause until the next SUBSCRIBED.
    pub fn on_disconnected(&mut self) {
        self.disconnected = true;
        for run in self.runs.values_mut() {
            run.checks.pause();
        }
    }

    pub fn on_event(&mut self, now: Instant, event: exec::Event) -> Vec<Effect> {
        match (event_type(&event), event) {
            (
                Some(event::Type::Subscribed),
                exec::Event {
                    subscribed: Some(s),
                    ..
                },
            ) => self.on_subscribed(now, &s),
            (
                Some(event::Type::LaunchGroup),
                exec::Event {
                    launch_group: Some(g),
                    ..
                },
            ) => self.launch_group(now, g.task_group.tasks),
            (Some(event::Type::Launch), _) => {
                // Mesos's default executor: "LAUNCH event is not supported", then shuts down.
                tracing::error!("LAUNCH event is not supported by the default executor");
                self.shutdown(now)
            }
            (Some(event::Type::Kill), exec::Event { kill: Some(k), .. }) => {
                let grace = grace_period(k.kill_policy.as_ref());
                self.kill_group_of(now, &k.task_id.value, grace)
            }
            (
                Some(event::Type::Acknowledged),
                exec::Event {
                    acknowledged: Some(a),
                    ..
                },
            ) => self.on_acknowledged(&a.uuid),
            (Some(event::Type::Shutdown), _) => self.shutdown(now),
            _ => Vec::new(),
        }
    }

    fn launch_group(&mut self, now: Instant, tasks: Vec<v1::TaskInfo>) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.shutting_down {
            for task in &tasks {
                effects.push(self.update(
                    &task.task_id,
                    TaskState::TaskKilled,
                    Some("The executor is shutting down".into()),
                ));
            }
            return effects;
        }
        let group = self.groups.len();
        let mut members = Vec::new();
        for task in tasks {
            let id = task.task_id.value.clone();
            if self.runs.contains_key(&id) {
                continue;
            }
            tracing::info!(task_id = %id, group, "launching task of a group");
            members.push(id.clone());
            // default_executor.cpp: a random UUID under the executor's container.
            let container = self.container.clone().map(|parent| v1::ContainerId {
                value: uuid::Uuid::new_v4().to_string(),
                parent: Some(Box::new(parent)),
            });
            let spec = match (launch_spec(&self.config, &image_argv(&task)), &container) {
                (Ok(spec), Some(c)) => Ok(in_container(spec, &c.value)),
                (Ok(_), None) => Err("the agent did not name the executor's container".into()),
                (Err(e), _) => Err(e),
            };
            self.runs.insert(
                id.clone(),
                Run {
                    info: task.clone(),
                    group,
                    started: false,
                    terminated: false,
                    killed: false,
                    escalation_at: None,
                    spec: spec.as_ref().ok().cloned(),
                    checks: TaskChecks::default(),
                    last_status: None,
                    container: container.clone(),
                },
            );
            effects.push(self.update(&task.task_id, TaskState::TaskStarting, None));
            match (spec, container) {
                (Ok(spec), Some(container_id)) => effects.push(Effect::Launch {
                    task_id: id,
                    container_id,
                    command: Box::new(task_command(&spec, &task)),
                    container: task_container(&task).map(Box::new),
                    resources: task.resources.clone(),
                }),
                (Ok(_), None) => {}
                (Err(message), _) => effects.extend(self.on_launched(now, &id, Err(message))),
            }
        }
        self.groups.push(members);
        effects
    }

    pub fn on_launched(
        &mut self,
        now: Instant,
        task_id: &str,
        result: Result<u32, String>,
    ) -> Vec<Effect> {
        let Some(run) = self.runs.get_mut(task_id) else {
            return Vec::new();
        };
        let id = run.info.task_id.clone();
        match result {
            Ok(_) => {
                run.started = true;
                if let Some(spec) = &run.spec {
                    run.checks = TaskChecks::new(now, &run.info, spec);
                }
                let mut effects = vec![self.update(&id, TaskState::TaskRunning, None)];
                // A kill that came while the group was starting applies now.
                if self.runs[task_id].killed || self.shutting_down {
                    self.runs.get_mut(task_id).expect("present").killed = false;
                    effects.extend(self.kill_one(now, task_id, DEFAULT_KILL_GRACE_PERIOD));
                }
                effects
            }
            Err(reason) => {
                run.terminated = true;
                let mut failed = self.update(
                    &id,
                    TaskState::TaskFailed,
                    Some(format!("Failed to launch the command: {reason}")),
                );
                // The task's container never ran (Mesos's containerizer failing a launch).
                let launch_failed = Some(v1::task_status::Reason::ContainerLaunchFailed as i32);
                if let Effect::Update(status) = &mut failed {
                    status.reason = launch_failed;
                }
                if let Some(last) = self
                    .runs
                    .get_mut(task_id)
                    .and_then(|r| r.last_status.as_mut())
                {
                    last.reason = launch_failed;
                }
                let mut effects = vec![failed];
                effects.extend(self.kill_group_of(now, task_id, None));
                effects.extend(self.maybe_exit(now));
                effects
            }
        }
    }

    /// Kills every live task of `task_id`'s group.
    fn kill_group_of(
        &mut self,
        now: Instant,
        task_id: &str,
        grace: Option<Duration>,
    ) -> Vec<Effect> {
        let Some(group) = self.runs.get(task_id).map(|r| r.group) else {
            tracing::warn!(task_id, "ignoring a kill for an unknown task");
            return Vec::new();
        };
        let members = self.groups.get(group).cloned().unwrap_or_default();
        let mut effects = Vec::new();
        for member in members {
            let grace = grace
                .or_else(|| grace_period(self.runs[&member].info.kill_policy.as_ref()))
                .unwrap_or(DEFAULT_KILL_GRACE_PERIOD);
            effects.extend(self.kill_one(now, &member, grace));
        }
        effects
    }

    fn kill_one(&mut self, now: Instant, task_id: &str, grace: Duration) -> Vec<Effect> {
        let killing_state = self.framework_has_killing_state();
        let Some(run) = self.runs.get_mut(task_id) else {
            return Vec::new();
        };
        if run.terminated || run.killed {
            return Vec::new();
        }
        run.killed = true;
        // No check or health update once a kill began (Mesos pauses both checkers).
        run.checks.pause();
        if !run.started {
            // Killed once it is started (see on_launched).
            return Vec::new();
        }
        run.escalation_at = Some(now + grace);
        let id = run.info.task_id.clone();
        let mut effects = Vec::new();
        if killing_state {
            effects.push(self.update(&id, TaskState::TaskKilling, None));
        }
        effects.push(Effect::Signal {
            task_id: task_id.to_string(),
            signal: libc::SIGTERM,
        });
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

    fn shutdown(&mut self, now: Instant) -> Vec<Effect> {
        self.shutting_down = true;
        let grace = self
            .config
            .shutdown_grace_period
            .saturating_sub(SHUTDOWN_MARGIN);
        let ids: Vec<String> = self.runs.keys().cloned().collect();
        let mut effects = Vec::new();
        for id in ids {
            effects.extend(self.kill_one(now, &id, grace));
        }
        effects.extend(self.maybe_exit(now));
        effects
    }

    /// A task's process was reaped.
    pub fn on_exited(&mut self, now: Instant, task_id: &str, wait_status: i32) -> Vec<Effect> {
        let Some(run) = self.runs.get_mut(task_id) else {
            return Vec::new();
        };
        run.terminated = true;
        run.escalation_at = None;
        run.checks.pause();
        let killed = run.killed;
        let id = run.info.task_id.clone();
        let state = if killed {
            TaskState::TaskKilled
        } else if libc::WIFEXITED(wait_status) && libc::WEXITSTATUS(wait_status) == 0 {
            TaskState::TaskFinished
        } else {
            TaskState::TaskFailed
        };
        let message = format!("Command {}", describe_wait_status(wait_status));
        tracing::info!(task_id, %message, "task terminated");
        let mut update = self.update(&id, state, Some(message));
        if self.unhealthy
            && let Effect::Update(status) = &mut update
        {
            status.healthy = Some(false);
        }
        let mut effects = vec![update];
        if state == TaskState::TaskFailed {
            // Mesos's default executor kills the rest of a group when one of its tasks fails.
            effects.extend(self.kill_group_of(now, task_id, None));
        }
        effects.extend(self.maybe_exit(now));
        effects
    }

    /// WAIT_CONTAINER could not tell how `task_id`'s container ended (the agent
    /// does not know it, or answered without a status): the task failed, unless it was
    /// being killed (default_executor.cpp `waited`).
    pub fn on_wait_failed(&mut self, now: Instant, task_id: &str, reason: &str) -> Vec<Effect> {
        let Some(run) = self.runs.get_mut(task_id) else {
            return Vec::new();
        };
        if run.terminated {
            return Vec::new();
        }
        run.terminated = true;
        run.escalation_at = None;
        run.checks.pause();
        let state = if run.killed {
            TaskState::TaskKilled
        } else {
            TaskState::TaskFailed
        };
        let id = run.info.task_id.clone();
        tracing::warn!(task_id, reason, "the task's container ended unseen");
        let mut effects = vec![self.update(&id, state, Some(reason.to_string()))];
        if state == TaskState::TaskFailed {
            effects.extend(self.kill_group_of(now, task_id, None));
        }
        effects.extend(self.maybe_exit(now));
        effects
    }

    fn on_acknowledged(&mut self, uuid: &[u8]) -> Vec<Effect> {
        let Some(index) = self.pending.iter().position(|(u, _, _)| u == uuid) else {
            return Vec::new();
        };
        let (_, task_id, _) = self.pending.remove(index);
        self.acknowledged.insert(task_id);
        self.exit_if_done()
    }

    fn all_terminated(&self) -> bool {
        !self.runs.is_empty() && self.runs.values().all(|r| r.terminated)
    }

    /// Once every task ended: wait for the terminal updates' ACKs (bounded), then exit.
    fn maybe_exit(&mut self, now: Instant) -> Vec<Effect> {
        if self.shutting_down && self.runs.is_empty() {
            return vec![Effect::Exit(0)];
        }
        if !self.all_terminated() {
            return Vec::new();
        }
        if self.agent_gone {
            return vec![Effect::Exit(1)];
        }
        if self.give_up_at.is_none() {
            self.give_up_at = Some(now + TERMINAL_ACK_TIMEOUT);
        }
        self.exit_if_done()
    }

    fn exit_if_done(&self) -> Vec<Effect> {
        if self.all_terminated() && !self.pending.iter().any(|(_, _, terminal)| *terminal) {
            tracing::info!("every task ended and was acknowledged; exiting");
            return vec![Effect::Exit(0)];
        }
        Vec::new()
    }

    pub fn on_tick(&mut self, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (id, run) in &mut self.runs {
            if run.escalation_at.is_some_and(|at| at <= now) {
                run.escalation_at = None;
                if !run.terminated {
                    effects.push(Effect::Signal {
                        task_id: id.clone(),
                        signal: libc::SIGKILL,
                    });
                }
            }
        }
        if self.give_up_at.is_some_and(|at| at <= now) {
            tracing::error!("terminal status updates were not acknowledged in time");
            effects.push(Effect::Exit(1));
        }
        for (id, run) in &mut self.runs {
            for request in run.checks.on_tick(now) {
                effects.push(Effect::Check {
                    task_id: id.clone(),
                    request,
                });
            }
        }
        effects
    }

    /// The outcome of a probe of `task_id`'s check (`role`, `attempt` as in its request).
    pub fn on_check_outcome(
        &mut self,
        now: Instant,
        task_id: &str,
        role: Role,
        attempt: u64,
        outcome: Outcome,
    ) -> Vec<Effect> {
        let disconnected = self.disconnected;
        let Some(run) = self.runs.get_mut(task_id) else {
            return Vec::new();
        };
        let verdict = run.checks.on_outcome(now, role, attempt, outcome);
        // Mesos's `taskCheckUpdated` / `taskHealthUpdated`: nothing for a task being killed
        // or gone, nor while the agent is unreachable.
        let Some(verdict) = verdict.filter(|_| !run.killed && !run.terminated && !disconnected)
        else {
            return Vec::new();
        };
        let Some(mut status) = run.last_status.clone() else {
            return Vec::new();
        };
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        status.uuid = Some(uuid.clone());
        status.timestamp = None;
        let mut kill = false;
        match verdict {
            Verdict::Check(check_status) => {
                tracing::info!(task_id, ?check_status, "check status changed");
                status.reason = Some(v1::task_status::Reason::TaskCheckStatusUpdated as i32);
                status.check_status = Some(check_status);
            }
            Verdict::Health {
                healthy, kill_task, ..
            } => {
                tracing::info!(task_id, healthy, "task health changed");
                status.reason = Some(v1::task_status::Reason::TaskHealthCheckStatusUpdated as i32);
                status.healthy = Some(healthy);
                kill = kill_task;
            }
        }
        run.last_status = Some(status.clone());
        self.pending.push((uuid, task_id.to_string(), false));
        let mut effects = vec![Effect::Update(Box::new(status))];
        if kill {
            tracing::warn!(
                task_id,
                "killing the task: its health check failed too many times"
            );
            self.unhealthy = true;
            effects.extend(self.kill_group_of(now, task_id, None));
        }
        effects
    }

    /// The agent is gone for good (the recovery timeout passed): nothing can be killed
    /// or reported any more. The tasks' containers are the agent's: its next start kills
    /// them, as their parent is gone (agent/nested.rs).
    pub fn on_agent_gone(&mut self, _now: Instant) -> Vec<Effect> {
        self.agent_gone = true;
        vec![Effect::Exit(1)]
    }

    fn update(
        &mut self,
        task_id: &v1::TaskId,
        state: TaskState,
        message: Option<String>,
    ) -> Effect {
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        self.pending
            .push((uuid.clone(), task_id.value.clone(), is_terminal(state)));
        let run = self.runs.get_mut(&task_id.value);
        // Every update of a task with a check carries a check status, empty until a result
        // is known (Mesos's `createTaskStatus`).
        let check_status = run
            .as_ref()
            .and_then(|r| checks::checker::initial_check_status(&r.info));
        // default_executor.cpp `createTaskStatus`: the task's container.
        let container_status =
            run.as_ref()
                .and_then(|r| r.container.clone())
                .map(|id| v1::ContainerStatus {
                    container_id: Some(id),
                    ..Default::default()
                });
        let status = v1::TaskStatus {
            task_id: task_id.clone(),
            state: state as i32,
            message,
            source: Some(v1::task_status::Source::Executor as i32),
            executor_id: Some(self.config.executor_id.clone()),
            uuid: Some(uuid),
            check_status,
            container_status,
            ..Default::default()
        };
        if let Some(run) = run {
            run.last_status = Some(status.clone());
        }
        Effect::Update(Box::new(status))
    }
}

/// The task's launch spec moved into its container's sandbox, `containers/<child>` below
/// the executor's (where the agent puts it): the base of its COMMAND checks.
fn in_container(mut spec: LaunchSpec, child: &str) -> LaunchSpec {
    if let Some(cwd) = &spec.cwd {
        let sandbox = cwd.join("containers").join(child);
        spec.env.retain(|(k, _)| k != "MESOS_SANDBOX");
        spec.env
            .push(("MESOS_SANDBOX".into(), sandbox.display().to_string()));
        spec.cwd = Some(sandbox);
    }
    spec
}

/// The CommandInfo of the task's container: its argv, environment and user as the command
/// executor would have run them. The variables the agent sets for the container itself
/// (its sandbox, its id) are left to the agent.
fn nested_command(spec: &LaunchSpec) -> v1::CommandInfo {
    const THE_AGENTS: [&str; 3] = ["MESOS_SANDBOX", "MESOS_DIRECTORY", "MESOS_CONTAINER_ID"];
    let variables = spec
        .env
        .iter()
        .filter(|(k, _)| !THE_AGENTS.contains(&k.as_str()))
        .map(|(name, value)| v1::environment::Variable {
            name: name.clone(),
            r#type: Some(v1::environment::variable::Type::Value as i32),
            value: Some(value.clone()),
            ..Default::default()
        })
        .collect();
    v1::CommandInfo {
        shell: Some(false),
        value: Some(spec.program.clone()),
        arguments: std::iter::once(spec.arg0.clone())
            .chain(spec.args.iter().cloned())
            .collect(),
        environment: Some(v1::Environment { variables }),
        user: spec.user.clone(),
        ..Default::default()
    }
}

fn grace_period(policy: Option<&v1::KillPolicy>) -> Option<Duration> {
    policy
        .and_then(|p| p.grace_period.as_ref())
        .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
}

/// Runs the default executor until it should exit; returns the exit status.
pub async fn run(env: ExecutorEnv, config: Config, format: Format) -> u8 {
    use super::command::{Link, link_step, sleep_until};
    let mut connection = Connection::new(&env, format);
    let agent = std::sync::Arc::new(AgentContainers::new(&env));
    let mut executor = DefaultExecutor::new(config);
    // Unbounded, and cannot grow without bound: one message per task container this
    // executor launched, each sent once when its WAIT answers.
    let (exit_tx, mut exits) = mpsc::unbounded_channel::<(String, Result<i32, String>)>();
    let mut gone = false;
    let mut effects: VecDeque<Effect> = VecDeque::new();
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The probes in flight (at most one per checker); dropped with this function, which
    // aborts them (a COMMAND probe then SIGKILLs its process group).
    let mut probes: tokio::task::JoinSet<(String, Role, u64, Outcome)> =
        tokio::task::JoinSet::new();
    loop {
        while let Some(effect) = effects.pop_front() {
            match effect {
                Effect::Update(status) => {
                    if let Err(e) = connection.update(*status).await {
                        tracing::warn!(error = %e, "status update not delivered yet");
                    }
                }
                Effect::Launch {
                    task_id,
                    container_id,
                    command,
                    container,
                    resources,
                } => {
                    let launched = agent
                        .launch(&container_id, *command, container.map(|c| *c), resources)
                        .await;
                    let result = match launched {
                        Ok(()) => {
                            tokio::spawn(wait_container(
                                agent.clone(),
                                task_id.clone(),
                                container_id,
                                exit_tx.clone(),
                            ));
                            Ok(0)
                        }
                        Err(crate::client::Error::Status { body, .. }) => Err(body),
                        Err(e) => Err(e.to_string()),
                    };
                    effects.extend(executor.on_launched(Instant::now(), &task_id, result));
                }
                Effect::Signal { task_id, signal } => {
                    if let Some(id) = executor.container_of(&task_id) {
                        // A container that already ended is what was wanted; an agent
                        // that is away gets the SIGKILL again after the grace period.
                        if let Err(e) = agent.kill(id, signal).await {
                            tracing::warn!(task_id, signal, error = %e, "KILL_CONTAINER failed");
                        }
                    }
                }
                Effect::Exit(code) => return code,
                Effect::Check { task_id, request } => {
                    probes.spawn(async move {
                        let outcome = checks::runner::run(request.probe, request.timeout).await;
                        (task_id, request.role, request.attempt, outcome)
                    });
                }
            }
        }
        let deadline = executor.next_deadline();
        let unacknowledged = executor.unacknowledged_tasks();
        tokio::select! {
            link = link_step(&mut connection, unacknowledged), if !gone => match link {
                Link::Subscribed(subscribed) => {
                    effects.extend(executor.on_subscribed(Instant::now(), &subscribed));
                }
                Link::Event(event) => effects.extend(executor.on_event(Instant::now(), *event)),
                Link::Broken(e) => {
                    tracing::warn!(error = %e, "disconnected from the agent");
                    executor.on_disconnected();
                }
                Link::GaveUp(e) => {
                    tracing::error!(error = %e, "the agent is gone; shutting down");
                    gone = true;
                    effects.extend(executor.on_agent_gone(Instant::now()));
                }
            },
            Some((task_id, status)) = exits.recv() => match status {
                Ok(status) => effects.extend(executor.on_exited(Instant::now(), &task_id, status)),
                Err(reason) => {
                    effects.extend(executor.on_wait_failed(Instant::now(), &task_id, &reason));
                }
            },
            _ = sleep_until(deadline) => effects.extend(executor.on_tick(Instant::now())),
            Some(done) = probes.join_next(), if !probes.is_empty() => match done {
                Ok((task_id, role, attempt, outcome)) => effects.extend(
                    executor.on_check_outcome(Instant::now(), &task_id, role, attempt, outcome),
                ),
                Err(e) => tracing::error!(error = %e, "a check's probe panicked"),
            },
            _ = heartbeat.tick(), if connection.is_subscribed() => {
                let _ = connection.heartbeat().await;
            }
        }
    }
}

/// How long WAIT_CONTAINER waits before it is asked again when the agent could not
/// be reached (it restarts, or is busy): default_executor.cpp retries the same way.
const WAIT_RETRY: Duration = Duration::from_secs(1);

/// Long-polls WAIT_CONTAINER for `container_id` until the agent tells how it ended,
/// across agent restarts; sends the raw wait status (or why it is unknown) once.
async fn wait_container(
    agent: std::sync::Arc<AgentContainers>,
    task_id: String,
    container_id: v1::ContainerId,
    done: mpsc::UnboundedSender<(String, Result<i32, String>)>,
) {
    let outcome = loop {
        match agent.wait(&container_id).await {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => break Err("The task's container ended without an exit status".into()),
            Err(crate::client::Error::Status { status: 404, body }) => {
                break Err(format!("The task's container is gone: {body}"));
            }
            Err(e) => {
                tracing::debug!(task_id, error = %e, "WAIT_CONTAINER failed; asking again");
                tokio::time::sleep(WAIT_RETRY).await;
            }
        }
    };
    let _ = done.send((task_id, outcome));
}

/// Whether `task` runs its image's Entrypoint/Cmd: in an image, argv form
/// (`CommandInfo.shell` false) without a value, which Mesos's docker/runtime isolator
/// completes from the image's config (the task's arguments replacing Cmd).
fn runs_image_entrypoint(task: &v1::TaskInfo) -> bool {
    let in_image = task
        .container
        .as_ref()
        .and_then(|c| c.mesos.as_ref())
        .is_some_and(|m| m.image.is_some());
    let command = task.command.as_ref();
    in_image
        && command
            .is_some_and(|c| c.shell == Some(false) && c.value.as_deref().is_none_or(str::is_empty))
}

/// The task as [`launch_spec`] reads it: a task that runs its image's Entrypoint/Cmd gets
/// a stand-in program there (the environment and user are what matter; the command sent
/// is [`task_command`]'s).
fn image_argv(task: &v1::TaskInfo) -> std::borrow::Cow<'_, v1::TaskInfo> {
    if !runs_image_entrypoint(task) {
        return std::borrow::Cow::Borrowed(task);
    }
    let mut task = task.clone();
    if let Some(command) = task.command.as_mut() {
        command.value = Some("(the image's entrypoint)".into());
    }
    std::borrow::Cow::Owned(task)
}

/// The command of the task's container: [`nested_command`]; for a task that runs its
/// image's Entrypoint/Cmd, without a value and with the task's own arguments, which the
/// agent merges with the image's config as Mesos's default executor leaves it to
/// docker/runtime (default_executor.cpp sends `task.command()`).
fn task_command(spec: &LaunchSpec, task: &v1::TaskInfo) -> v1::CommandInfo {
    let mut command = nested_command(spec);
    if runs_image_entrypoint(task) {
        command.value = None;
        command.arguments = task
            .command
            .as_ref()
            .map(|c| c.arguments.clone())
            .unwrap_or_default();
    }
    command
}

/// The task's ContainerInfo as its container is launched with. A task in an image gets
/// each of its persistent volumes as a `SANDBOX_PATH` volume of type `PARENT` at the
/// volume's container path, as Mesos's default executor mounts a task's persistent volumes
/// (default_executor.cpp, `launchGroup`): the volume lives in the executor's sandbox. A
/// task on the host filesystem reaches them there already (the agent links them into the
/// executor's sandbox), and gets no volume the agent would refuse without an image.
fn task_container(task: &v1::TaskInfo) -> Option<v1::ContainerInfo> {
    use v1::volume::source::{SandboxPath, Type, sandbox_path};
    let mut container = task.container.clone()?;
    if container
        .mesos
        .as_ref()
        .and_then(|m| m.image.as_ref())
        .is_none()
    {
        return Some(container);
    }
    for volume in task
        .resources
        .iter()
        .filter(|r| r.disk.as_ref().is_some_and(|d| d.persistence.is_some()))
        .filter_map(|r| r.disk.as_ref()?.volume.as_ref())
    {
        container.volumes.push(v1::Volume {
            mode: volume.mode,
            container_path: volume.container_path.clone(),
            source: Some(v1::volume::Source {
                r#type: Some(Type::SandboxPath as i32),
                sandbox_path: Some(SandboxPath {
                    r#type: Some(sandbox_path::Type::Parent as i32),
                    path: volume.container_path.clone(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    Some(container)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, command: &str) -> v1::TaskInfo {
        v1::TaskInfo {
            name: id.into(),
            task_id: v1::TaskId { value: id.into() },
            command: Some(v1::CommandInfo {
                value: Some(command.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A default executor whose agent named its container `exec` (SUBSCRIBED).
    fn subscribed() -> DefaultExecutor {
        let mut e = DefaultExecutor::new(Config {
            working_directory: Some("/sandbox".into()),
            ..Config::default()
        });
        e.on_subscribed(
            Instant::now(),
            &event::Subscribed {
                container_id: Some(v1::ContainerId {
                    value: "exec".into(),
                    parent: None,
                }),
                ..Default::default()
            },
        );
        e
    }

    fn group_event(tasks: Vec<v1::TaskInfo>) -> exec::Event {
        exec::Event {
            r#type: Some(event::Type::LaunchGroup as i32),
            launch_group: Some(event::LaunchGroup {
                task_group: v1::TaskGroupInfo { tasks },
            }),
            ..Default::default()
        }
    }

    fn states(effects: &[Effect]) -> Vec<(String, TaskState)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Update(s) => Some((
                    s.task_id.value.clone(),
                    TaskState::try_from(s.state).unwrap(),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_failed_task_kills_the_rest_of_its_group_and_the_executor_exits_after_acks() {
        let now = Instant::now();
        let mut e = subscribed();
        let effects = e.on_event(
            now,
            group_event(vec![task("a", "exit 2"), task("b", "sleep 60")]),
        );
        assert_eq!(
            states(&effects),
            vec![
                ("a".into(), TaskState::TaskStarting),
                ("b".into(), TaskState::TaskStarting)
            ]
        );
        assert_eq!(
            effects
                .iter()
                .filter(|e| matches!(e, Effect::Launch { .. }))
                .count(),
            2
        );
        e.on_launched(now, "a", Ok(10));
        e.on_launched(now, "b", Ok(11));
        let effects = e.on_exited(now, "a", 2 << 8);
        assert_eq!(states(&effects), vec![("a".into(), TaskState::TaskFailed)]);
        assert!(effects.contains(&Effect::Signal {
            task_id: "b".into(),
            signal: libc::SIGTERM
        }));
        let effects = e.on_exited(now, "b", libc::SIGTERM);
        assert_eq!(states(&effects), vec![("b".into(), TaskState::TaskKilled)]);
        // Exit only once every terminal update is acknowledged.
        let uuids: Vec<Vec<u8>> = e.pending.iter().map(|(u, _, _)| u.clone()).collect();
        let mut exited = false;
        for uuid in uuids {
            let effects = e.on_event(
                now,
                exec::Event {
                    r#type: Some(event::Type::Acknowledged as i32),
                    acknowledged: Some(event::Acknowledged {
                        task_id: v1::TaskId::default(),
                        uuid,
                    }),
                    ..Default::default()
                },
            );
            exited = effects.contains(&Effect::Exit(0));
        }
        assert!(exited);
    }

    #[test]
    fn killing_one_task_kills_its_group_only() {
        let now = Instant::now();
        let mut e = subscribed();
        e.on_event(
            now,
            group_event(vec![task("a", "sleep 60"), task("b", "sleep 60")]),
        );
        e.on_event(now, group_event(vec![task("c", "sleep 60")]));
        for id in ["a", "b", "c"] {
            e.on_launched(now, id, Ok(1));
        }
        let effects = e.on_event(
            now,
            exec::Event {
                r#type: Some(event::Type::Kill as i32),
                kill: Some(event::Kill {
                    task_id: v1::TaskId { value: "a".into() },
                    kill_policy: None,
                }),
                ..Default::default()
            },
        );
        let signalled: Vec<&str> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Signal { task_id, .. } => Some(task_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(signalled, vec!["a", "b"]);
        let tick = e.on_tick(now + DEFAULT_KILL_GRACE_PERIOD);
        assert_eq!(tick.len(), 2, "SIGKILL after the grace period: {tick:?}");
    }

    /// default_executor.cpp `taskHealthUpdated`: a health check's `kill_task` kills the
    /// task — and with it its group — and the tasks end with `healthy: false`; health
    /// results are not reported while the agent is unreachable.
    #[test]
    fn a_failing_health_check_kills_the_group_and_its_tasks_end_unhealthy() {
        let now = Instant::now();
        let mut e = subscribed();
        let mut web = task("web", "serve");
        web.health_check = Some(v1::HealthCheck {
            r#type: Some(v1::health_check::Type::Http as i32),
            http: Some(v1::health_check::HttpCheckInfo {
                port: 8080,
                ..Default::default()
            }),
            delay_seconds: Some(0.0),
            grace_period_seconds: Some(0.0),
            consecutive_failures: Some(1),
            ..Default::default()
        });
        e.on_event(now, group_event(vec![web, task("sidecar", "sleep 60")]));
        e.on_launched(now, "web", Ok(1));
        e.on_launched(now, "sidecar", Ok(2));
        let probe = |effects: Vec<Effect>| {
            effects
                .into_iter()
                .find_map(|e| match e {
                    Effect::Check { task_id, request } => Some((task_id, request)),
                    _ => None,
                })
                .expect("a probe")
        };
        // Disconnected: the outcome in flight is dropped; the probe resumes on SUBSCRIBED.
        let (_, request) = probe(e.on_tick(now));
        e.on_disconnected();
        assert!(
            e.on_check_outcome(
                now,
                "web",
                Role::Health,
                request.attempt,
                Outcome::Tcp { succeeded: false }
            )
            .is_empty()
        );
        e.on_subscribed(now, &event::Subscribed::default());
        let (task_id, request) = probe(e.on_tick(now));
        assert_eq!(task_id, "web");
        let effects = e.on_check_outcome(
            now,
            "web",
            Role::Health,
            request.attempt,
            Outcome::Http { status_code: 500 },
        );
        match &effects[0] {
            Effect::Update(s) => {
                assert_eq!(s.healthy, Some(false));
                assert_eq!(
                    s.reason,
                    Some(v1::task_status::Reason::TaskHealthCheckStatusUpdated as i32)
                );
            }
            other => panic!("{other:?}"),
        }
        let signalled: Vec<&str> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Signal { task_id, .. } => Some(task_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(signalled, vec!["web", "sidecar"]);
        for id in ["web", "sidecar"] {
            match &e.on_exited(now, id, libc::SIGTERM)[0] {
                Effect::Update(s) => {
                    assert_eq!(s.state, TaskState::TaskKilled as i32);
                    assert_eq!(s.healthy, Some(false), "{id}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// default_executor.cpp `_launchGroup` and `createTaskStatus`: each task gets a
    /// container of its own nested under the executor's (LAUNCH_CONTAINER), its sandbox
    /// `containers/<id>` below the executor's, and every update names that container.
    #[test]
    fn each_task_runs_in_its_own_container_nested_under_the_executors() {
        let now = Instant::now();
        let mut e = subscribed();
        let effects = e.on_event(
            now,
            group_event(vec![task("a", "echo a"), task("b", "echo b")]),
        );
        let mut children = Vec::new();
        for effect in &effects {
            match effect {
                Effect::Launch {
                    task_id,
                    container_id,
                    command,
                    ..
                } => {
                    assert_eq!(container_id.parent.as_ref().unwrap().value, "exec");
                    assert_eq!(e.container_of(task_id), Some(container_id));
                    assert_eq!(command.value.as_deref(), Some("/bin/sh"));
                    assert_eq!(
                        command.arguments,
                        vec!["sh", "-c", &format!("echo {task_id}")]
                    );
                    children.push(container_id.value.clone());
                }
                Effect::Update(status) => {
                    let named = status.container_status.as_ref().unwrap();
                    assert_eq!(
                        named.container_id.as_ref(),
                        e.container_of(&status.task_id.value)
                    );
                }
                _ => {}
            }
        }
        assert_eq!(children.len(), 2);
        assert_ne!(children[0], children[1]);
        let spec = e.runs["a"].spec.as_ref().unwrap();
        assert_eq!(
            spec.cwd.as_deref(),
            Some(std::path::Path::new(&format!(
                "/sandbox/containers/{}",
                children[0]
            )))
        );
    }

    /// A container the agent cannot account for (WAIT answered 404) fails its task and so
    /// its group; one being killed ends killed.
    #[test]
    fn a_container_the_agent_lost_fails_its_task_and_its_group() {
        let now = Instant::now();
        let mut e = subscribed();
        e.on_event(
            now,
            group_event(vec![task("a", "sleep 60"), task("b", "sleep 60")]),
        );
        e.on_launched(now, "a", Ok(0));
        e.on_launched(now, "b", Ok(0));
        let effects = e.on_wait_failed(now, "a", "gone");
        assert_eq!(states(&effects), vec![("a".into(), TaskState::TaskFailed)]);
        assert!(effects.contains(&Effect::Signal {
            task_id: "b".into(),
            signal: libc::SIGTERM
        }));
        let effects = e.on_wait_failed(now, "b", "gone");
        assert_eq!(states(&effects), vec![("b".into(), TaskState::TaskKilled)]);
    }

    #[test]
    fn without_the_executors_container_the_tasks_fail() {
        let now = Instant::now();
        let mut e = DefaultExecutor::new(Config::default());
        let effects = e.on_event(now, group_event(vec![task("a", "true")]));
        assert_eq!(
            states(&effects),
            vec![
                ("a".into(), TaskState::TaskStarting),
                ("a".into(), TaskState::TaskFailed)
            ]
        );
    }

    #[test]
    fn a_single_launch_shuts_the_default_executor_down() {
        let now = Instant::now();
        let mut e = subscribed();
        let effects = e.on_event(
            now,
            exec::Event {
                r#type: Some(event::Type::Launch as i32),
                launch: Some(event::Launch {
                    task: task("x", "true"),
                }),
                ..Default::default()
            },
        );
        assert_eq!(effects, vec![Effect::Exit(0)]);
    }
}
