//! Scenario tests of the agent's state machine: no sockets, no processes; effects are
//! inspected as the runtime would perform them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::executor as exec;
use wire::agent_message::Message as ToMaster;
use wire::master_message::Message as FromMaster;

use super::{Agent, Config, ConnId, Effect, Time};
use crate::resources::Resources;

fn config() -> Config {
    Config {
        work_dir: PathBuf::from("/work"),
        hostname: "host1".into(),
        ip: std::net::Ipv4Addr::new(10, 0, 0, 1),
        port: 5051,
        resources: Resources::parse("cpus:4;mem:1024", "*").unwrap(),
        attributes: vec![],
        launcher_dir: PathBuf::from("/opt/remesos"),
        lean_executor: false,
        executor_registration_timeout: Duration::from_secs(60),
        executor_shutdown_grace_period: Duration::from_secs(5),
        executor_reregistration_timeout: Duration::from_secs(2),
        recovery_timeout: Duration::from_secs(900),
        registration_backoff_factor: Duration::from_secs(1),
        native_library: None,
        executor_environment: None,
        isolation: Default::default(),
        fetch: Default::default(),
        fetcher_cache: Default::default(),
        container_logger: None,
        systemd: Default::default(),
        images: None,
        flags: vec![],
        security: Default::default(),
        authorizer: Default::default(),
        containerizers: vec![super::containerizer::Kind::Mesos],
        docker: None,
        gc: Default::default(),
        switch_user: true,
    }
}

/// RunTask of command task `task` of framework F (user nobody).
fn command_task(task: &str) -> wire::RunTask {
    wire::RunTask {
        framework: v1::FrameworkInfo {
            user: "nobody".into(),
            name: "f".into(),
            id: Some(v1::FrameworkId { value: "F".into() }),
            ..Default::default()
        },
        task: v1::TaskInfo {
            name: task.into(),
            task_id: v1::TaskId { value: task.into() },
            agent_id: v1::AgentId { value: "S1".into() },
            command: Some(v1::CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        executor: None,
        allocation_info: vec![],
    }
}

struct H {
    agent: Agent,
    start: Instant,
    elapsed: Duration,
    effects: Vec<Effect>,
}

impl H {
    fn new() -> H {
        H::with_config(config())
    }
    fn with_config(config: Config) -> H {
        let start = Instant::now();
        let mut agent = Agent::new(
            config,
            Time {
                mono: start,
                wall: 1e9,
            },
        );
        agent.registered(
            Time {
                mono: start,
                wall: 1e9,
            },
            "S1".into(),
            None,
        );
        let mut h = H {
            agent,
            start,
            elapsed: Duration::ZERO,
            effects: vec![],
        };
        h.pump();
        h.effects.clear();
        h
    }
    fn now(&self) -> Time {
        Time {
            mono: self.start + self.elapsed,
            wall: 1e9 + self.elapsed.as_secs_f64(),
        }
    }
    fn pump(&mut self) {
        let e = self.agent.drain_effects();
        self.effects.extend(e);
    }
    fn take<T>(&mut self, f: impl Fn(&Effect) -> Option<T>) -> Vec<T> {
        let mut out = Vec::new();
        self.effects.retain(|e| match f(e) {
            Some(t) => {
                out.push(t);
                false
            }
            None => true,
        });
        out
    }
    fn master_messages(&mut self) -> Vec<ToMaster> {
        self.take(|e| {
            if let Effect::Master(m) = e {
                Some((**m).clone())
            } else {
                None
            }
        })
    }
    fn executor_events(&mut self, conn: ConnId) -> Vec<exec::Event> {
        self.take(|e| match e {
            Effect::Executor { conn: c, event } if *c == conn => Some((**event).clone()),
            _ => None,
        })
    }
    fn run(&mut self, task: &str) {
        self.run_task(command_task(task));
    }
    fn run_task(&mut self, run: wire::RunTask) {
        let now = self.now();
        self.agent.from_master(now, FromMaster::RunTask(run));
        self.pump();
    }
    fn subscribe(&mut self, executor: &str, conn: ConnId) {
        let now = self.now();
        let call = exec::Call {
            executor_id: v1::ExecutorId {
                value: executor.into(),
            },
            framework_id: v1::FrameworkId { value: "F".into() },
            r#type: Some(exec::call::Type::Subscribe as i32),
            subscribe: Some(Default::default()),
            ..Default::default()
        };
        self.agent.executor_subscribe(now, conn, call).unwrap();
        self.pump();
    }
    fn kill(&mut self, task: &str) {
        let now = self.now();
        self.agent.kill_task(
            now,
            wire::KillTask {
                framework_id: v1::FrameworkId { value: "F".into() },
                task_id: v1::TaskId { value: task.into() },
                kill_policy: None,
            },
        );
        self.pump();
    }
    fn update(&mut self, executor: &str, task: &str, state: v1::TaskState) -> Vec<u8> {
        let (result, uuid) = self.send_update(executor, task, state);
        result.unwrap();
        uuid
    }
}

#[test]
fn framework_info_is_checkpointed_again_only_when_it_changed() {
    let framework_info_writes = |h: &mut H| {
        h.take(|e| match e {
            Effect::Persist { path, data, .. } if path.ends_with("frameworks/F/framework.info") => {
                Some(data.clone())
            }
            _ => None,
        })
    };
    let mut h = H::new();
    h.run("t1");
    assert_eq!(
        framework_info_writes(&mut h).len(),
        1,
        "the first executor writes it"
    );
    h.run("t2");
    assert!(
        framework_info_writes(&mut h).is_empty(),
        "the same info is not written again"
    );
    // The framework's info changed (Mesos's RunTask carries the current FrameworkInfo).
    let mut run = command_task("t3");
    run.framework.name = "renamed".into();
    h.run_task(run);
    let written = framework_info_writes(&mut h);
    assert_eq!(written.len(), 1, "a changed info is written");
    let info: v1::FrameworkInfo = prost::Message::decode(written[0].as_slice()).unwrap();
    assert_eq!(info.name, "renamed");
}

#[test]
fn a_command_task_runs_under_the_lean_executor_when_the_launcher_dir_holds_it() {
    // Mesos's `mesos-executor`: `remesos-executor` from `--launcher_dir`, found at start.
    let mut h = H::with_config(Config {
        lean_executor: true,
        ..config()
    });
    h.run("t1");
    let launched: Vec<v1::CommandInfo> = h.take(|e| match e {
        Effect::Launch(launch) => Some(launch.command.clone()),
        _ => None,
    });
    let info = h.agent.frameworks["F"].executors["t1"].info.clone();
    let command = info.command.clone().unwrap_or_default();
    assert_eq!(launched, vec![command.clone()], "launched as checkpointed");
    assert_eq!(
        command.value.as_deref(),
        Some("/opt/remesos/remesos-executor")
    );
    assert_eq!(command.arguments, vec!["remesos-executor"]);
    // Recovery takes it (and the older `remesos executor`) for the command executor.
    assert!(super::recovery::is_command_executor(&info));
    let mut custom = info.clone();
    custom.command.as_mut().unwrap().arguments = vec!["my-executor".into()];
    assert!(!super::recovery::is_command_executor(&custom));
}

#[test]
fn a_command_task_runs_under_the_command_executor_with_mesos_environment() {
    // Reference §4.1 and §4.3.
    let mut h = H::new();
    h.run("t1");
    let launch = h.take(|e| {
        if let Effect::Launch(l) = e {
            Some(l.clone())
        } else {
            None
        }
    });
    assert_eq!(launch.len(), 1);
    let launch = &launch[0];
    assert_eq!(
        launch.executor_id, "t1",
        "the command executor's id is the task id"
    );
    assert_eq!(
        launch.command.value.as_deref(),
        Some("/opt/remesos/remesos")
    );
    assert_eq!(launch.command.arguments, vec!["remesos", "executor"]);
    let env: std::collections::HashMap<_, _> = launch.environment.iter().cloned().collect();
    assert_eq!(env["MESOS_FRAMEWORK_ID"], "F");
    assert_eq!(env["MESOS_EXECUTOR_ID"], "t1");
    assert_eq!(env["MESOS_SLAVE_ID"], "S1");
    assert_eq!(env["MESOS_SLAVE_PID"], "slave(1)@10.0.0.1:5051");
    assert_eq!(env["MESOS_AGENT_ENDPOINT"], "10.0.0.1:5051");
    assert_eq!(env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"], "5secs");
    assert_eq!(env["MESOS_DIRECTORY"], env["MESOS_SANDBOX"]);
    let sandbox = PathBuf::from(&env["MESOS_DIRECTORY"]);
    assert!(
        sandbox.starts_with("/work/slaves/S1/frameworks/F/executors/t1/runs/"),
        "{sandbox:?}"
    );
    // Checkpoints land under meta/ (reference §4.2).
    let persisted = h.take(|e| {
        if let Effect::Persist { path, .. } = e {
            Some(path.clone())
        } else {
            None
        }
    });
    assert!(
        persisted
            .iter()
            .any(|p| p.ends_with("frameworks/F/framework.info"))
    );
    assert!(
        persisted
            .iter()
            .any(|p| p.ends_with("executors/t1/executor.info"))
    );
    assert!(persisted.iter().any(|p| p.ends_with("tasks/t1/task.info")));
}

#[test]
fn tasks_wait_for_the_executor_then_updates_flow_until_acknowledged() {
    // Reference §8.2.
    let mut h = H::new();
    h.run("t1");
    h.effects.clear();
    h.subscribe("t1", 7);
    let events = h.executor_events(7);
    let types: Vec<i32> = events.iter().filter_map(|e| e.r#type).collect();
    assert_eq!(
        types,
        vec![
            exec::event::Type::Subscribed as i32,
            exec::event::Type::Launch as i32
        ]
    );

    let running = h.update("t1", "t1", v1::TaskState::TaskRunning);
    let acks: Vec<_> = h
        .executor_events(7)
        .into_iter()
        .filter_map(|e| e.acknowledged)
        .collect();
    assert_eq!(
        acks[0].uuid, running,
        "the executor may forget the update once it is checkpointed"
    );
    let forwarded = h.master_messages();
    assert!(
        matches!(&forwarded[..], [ToMaster::StatusUpdate(u)] if u.status.uuid.as_deref() == Some(&running[..]))
    );

    let finished = h.update("t1", "t1", v1::TaskState::TaskFinished);
    assert!(
        h.master_messages().is_empty(),
        "FINISHED waits until RUNNING is acknowledged"
    );
    let now = h.now();
    h.agent.from_master(
        now,
        FromMaster::Acknowledgement(wire::StatusUpdateAcknowledgement {
            framework_id: v1::FrameworkId { value: "F".into() },
            task_id: v1::TaskId { value: "t1".into() },
            uuid: running,
        }),
    );
    h.pump();
    let forwarded = h.master_messages();
    match &forwarded[..] {
        [ToMaster::StatusUpdate(u)] => {
            assert_eq!(u.status.uuid.as_deref(), Some(&finished[..]));
            assert_eq!(u.latest_state, Some(v1::TaskState::TaskFinished as i32));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_executor_that_exits_fails_its_unfinished_tasks() {
    let mut h = H::new();
    h.run("t1");
    let container = h.agent.frameworks["F"].executors["t1"].container_id.clone();
    h.effects.clear();
    let now = h.now();
    h.agent
        .executor_exited(now, "F", "t1", &container, Some(256), None);
    h.pump();
    let updates = h.master_messages();
    match &updates[..] {
        [ToMaster::StatusUpdate(u)] => {
            assert_eq!(u.status.state, v1::TaskState::TaskFailed as i32);
            assert_eq!(
                u.status.reason,
                Some(v1::task_status::Reason::ExecutorTerminated as i32)
            );
            assert_eq!(u.status.source, Some(v1::task_status::Source::Agent as i32));
        }
        other => panic!("{other:?}"),
    }
}

/// Mesos's `Slave::shutdownFramework` and `Slave::statusUpdate` (src/slave/slave.cpp): a
/// framework the master shut down here turns TERMINATING; updates of its tasks are ignored
/// ("it cannot send acknowledgements"), and once no executor is left it is removed with its
/// unacknowledged streams (`TaskStatusUpdateManager::cleanup`), so nothing is resent. The
/// soak found the agent resending such a FINISHED for minutes.
#[test]
fn a_framework_shut_down_here_stops_its_updates_and_their_retries() {
    let mut h = H::new();
    h.run("t1");
    h.run("t2");
    h.subscribe("t1", 7);
    h.subscribe("t2", 8);
    h.update("t1", "t1", v1::TaskState::TaskRunning);
    h.update("t1", "t1", v1::TaskState::TaskFinished);
    let container = h.agent.frameworks["F"].executors["t1"].container_id.clone();
    let now = h.now();
    h.agent
        .executor_exited(now, "F", "t1", &container, Some(0), None);
    h.pump();
    h.effects.clear();
    assert!(
        h.agent.updates.has_pending("F", "t1"),
        "RUNNING is unacknowledged"
    );

    let now = h.now();
    h.agent.from_master(
        now,
        FromMaster::ShutdownFramework(wire::ShutdownFramework {
            framework_id: v1::FrameworkId { value: "F".into() },
        }),
    );
    h.pump();
    assert!(h.agent.frameworks["F"].terminating);
    assert!(!h.agent.frameworks["F"].executors.contains_key("t1"));
    let invalid = h.agent.counters.invalid_status_updates;
    h.update("t2", "t2", v1::TaskState::TaskRunning);
    assert!(h.master_messages().is_empty(), "nothing forwarded");
    assert_eq!(h.agent.counters.invalid_status_updates, invalid + 1);

    let container = h.agent.frameworks["F"].executors["t2"].container_id.clone();
    let now = h.now();
    h.agent
        .executor_exited(now, "F", "t2", &container, Some(0), None);
    h.pump();
    assert!(!h.agent.frameworks.contains_key("F"));
    assert_eq!(h.agent.updates.pending_count(), 0);
    h.elapsed += Duration::from_secs(3600);
    let now = h.now();
    h.agent.tick(now);
    h.pump();
    assert!(h.master_messages().is_empty(), "nothing resent");
}

#[test]
fn executors_that_never_subscribe_are_killed() {
    let mut h = H::new();
    h.run("t1");
    h.effects.clear();
    h.elapsed = Duration::from_secs(61);
    let now = h.now();
    h.agent.tick(now);
    h.pump();
    let kills = h.take(|e| {
        if let Effect::Signal { kill, .. } = e {
            Some(*kill)
        } else {
            None
        }
    });
    assert_eq!(kills, vec![true]);
}

#[test]
fn killing_a_queued_task_ends_it_killed() {
    let mut h = H::new();
    h.run("t1");
    h.effects.clear();
    let now = h.now();
    h.agent.kill_task(
        now,
        wire::KillTask {
            framework_id: v1::FrameworkId { value: "F".into() },
            task_id: v1::TaskId { value: "t1".into() },
            kill_policy: None,
        },
    );
    h.pump();
    let states: Vec<i32> = h
        .master_messages()
        .into_iter()
        .filter_map(|m| {
            if let ToMaster::StatusUpdate(u) = m {
                Some(u.status.state)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(states, vec![v1::TaskState::TaskKilled as i32]);
}

#[test]
fn executor_calls_are_validated() {
    // Reference §3.3.
    let mut h = H::new();
    let now = h.now();
    let call = |fid: &str, eid: &str| exec::Call {
        executor_id: v1::ExecutorId { value: eid.into() },
        framework_id: v1::FrameworkId { value: fid.into() },
        r#type: Some(exec::call::Type::Subscribe as i32),
        ..Default::default()
    };
    assert_eq!(
        h.agent.executor_subscribe(now, 1, call("nope", "e")),
        Err(super::CallError::BadRequest(
            "Framework cannot be found".into()
        ))
    );
    h.run("t1");
    assert_eq!(
        h.agent.executor_subscribe(now, 1, call("F", "nope")),
        Err(super::CallError::BadRequest(
            "Executor cannot be found".into()
        ))
    );
    let mut update = call("F", "t1");
    update.r#type = Some(exec::call::Type::Update as i32);
    assert!(
        matches!(
            h.agent.executor_call(now, update),
            Err(super::CallError::Forbidden(_))
        ),
        "not subscribed"
    );
}

impl H {
    /// An UPDATE call as an executor (or someone pretending to be one) sends it.
    fn try_update(
        &mut self,
        executor: &str,
        task: &str,
        state: v1::TaskState,
    ) -> Result<(), super::CallError> {
        self.send_update(executor, task, state).0
    }

    /// Sends an UPDATE with a fresh uuid; returns the agent's answer and the uuid.
    fn send_update(
        &mut self,
        executor: &str,
        task: &str,
        state: v1::TaskState,
    ) -> (Result<(), super::CallError>, Vec<u8>) {
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        let status = v1::TaskStatus {
            task_id: v1::TaskId { value: task.into() },
            state: state as i32,
            source: Some(v1::task_status::Source::Executor as i32),
            uuid: Some(uuid.clone()),
            ..Default::default()
        };
        (self.send_status(executor, status), uuid)
    }

    /// An UPDATE call from `executor` carrying `status` as it is.
    fn send_status(
        &mut self,
        executor: &str,
        status: v1::TaskStatus,
    ) -> Result<(), super::CallError> {
        let now = self.now();
        let call = exec::Call {
            executor_id: v1::ExecutorId {
                value: executor.into(),
            },
            framework_id: v1::FrameworkId { value: "F".into() },
            r#type: Some(exec::call::Type::Update as i32),
            update: Some(exec::call::Update { status }),
            ..Default::default()
        };
        let result = self.agent.executor_call(now, call);
        self.pump();
        result
    }

    fn persisted_paths(&mut self) -> Vec<PathBuf> {
        self.take(|e| match e {
            Effect::Persist { path, .. } => Some(path.clone()),
            _ => None,
        })
    }
}

/// Issue 11, defect 1: a task id from an UPDATE was joined into the checkpoint path
/// unvalidated, so `../../..` or `/etc` made the agent (root) write `task.updates` there.
#[test]
fn an_update_with_a_path_as_task_id_is_refused_and_writes_nothing() {
    let mut h = H::new();
    h.run("t1");
    h.subscribe("t1", 7);
    h.effects.clear();
    for bad in [
        "../../../../tmp/owned",
        "/tmp/owned",
        "..",
        ".",
        "",
        "a\\b",
        "a\nb",
    ] {
        let result = h.try_update("t1", bad, v1::TaskState::TaskFinished);
        assert!(
            matches!(&result, Err(super::CallError::BadRequest(m)) if m.starts_with("'TaskStatus.task_id' is invalid")),
            "{bad:?}: {result:?}"
        );
    }
    assert!(h.persisted_paths().is_empty(), "nothing checkpointed");
    assert!(h.master_messages().is_empty(), "nothing forwarded");
    assert_eq!(h.agent.counters.valid_status_updates, 0);
}

/// Beyond Mesos (which only warns): an executor may report on its own tasks only.
#[test]
fn an_executor_cannot_update_another_executors_task_or_an_unknown_one() {
    let mut h = H::new();
    h.run("t1");
    h.run("t2");
    h.subscribe("t1", 7);
    h.subscribe("t2", 8);
    h.effects.clear();
    let foreign = h.try_update("t1", "t2", v1::TaskState::TaskFinished);
    assert_eq!(
        foreign,
        Err(super::CallError::Forbidden(
            "Task t2 is not a task of executor t1 of framework F".into()
        ))
    );
    let unknown = h.try_update("t1", "never-launched", v1::TaskState::TaskRunning);
    assert!(matches!(unknown, Err(super::CallError::Forbidden(_))));
    assert!(h.master_messages().is_empty());
    assert!(h.persisted_paths().is_empty());
    // The executor's own task still goes through.
    h.try_update("t2", "t2", v1::TaskState::TaskRunning)
        .unwrap();
    assert_eq!(h.master_messages().len(), 1);
}

/// Mesos's validateExecutorCall: the status's executor id must be the caller's.
#[test]
fn an_update_naming_another_executor_is_refused() {
    let mut h = H::new();
    h.run("t1");
    h.subscribe("t1", 7);
    let now = h.now();
    let call = exec::Call {
        executor_id: v1::ExecutorId { value: "t1".into() },
        framework_id: v1::FrameworkId { value: "F".into() },
        r#type: Some(exec::call::Type::Update as i32),
        update: Some(exec::call::Update {
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: "t1".into() },
                executor_id: Some(v1::ExecutorId {
                    value: "other".into(),
                }),
                state: v1::TaskState::TaskRunning as i32,
                uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    assert_eq!(
        h.agent.executor_call(now, call),
        Err(super::CallError::BadRequest(
            "ExecutorID in Call: t1 does not match ExecutorID in TaskStatus: other".into()
        ))
    );
}

/// A SUBSCRIBE carries resent updates; they pass the same checks as UPDATE calls.
#[test]
fn updates_resent_on_subscribe_are_checked_like_update_calls() {
    let mut h = H::new();
    h.run("t1");
    h.run("t2");
    h.effects.clear();
    let now = h.now();
    let resent = |task: &str| exec::call::Update {
        status: v1::TaskStatus {
            task_id: v1::TaskId { value: task.into() },
            state: v1::TaskState::TaskFinished as i32,
            source: Some(v1::task_status::Source::Executor as i32),
            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
            ..Default::default()
        },
    };
    let call = exec::Call {
        executor_id: v1::ExecutorId { value: "t1".into() },
        framework_id: v1::FrameworkId { value: "F".into() },
        r#type: Some(exec::call::Type::Subscribe as i32),
        subscribe: Some(exec::call::Subscribe {
            unacknowledged_tasks: vec![],
            unacknowledged_updates: vec![resent("t2"), resent("../../../../tmp/x")],
        }),
        ..Default::default()
    };
    h.agent.executor_subscribe(now, 7, call).unwrap();
    h.pump();
    assert!(h.master_messages().is_empty(), "no update for t2 or a path");
    assert!(
        h.persisted_paths()
            .iter()
            .all(|p| !p.to_string_lossy().contains("tasks/t2")
                && !p.to_string_lossy().contains("..")),
    );
}

/// Ids from the master become directories too: the agent checks them itself.
#[test]
fn a_launch_with_invalid_ids_is_dropped() {
    let mut h = H::new();
    h.run("../../../../tmp/evil");
    assert!(h.agent.frameworks.is_empty(), "nothing admitted");
    assert!(
        !h.effects
            .iter()
            .any(|e| matches!(e, Effect::Launch(_) | Effect::Persist { .. })),
        "nothing launched or written: {:?}",
        h.effects
    );
}

fn docker_run_task() -> wire::RunTask {
    wire::RunTask {
        framework: v1::FrameworkInfo {
            user: "u".into(),
            name: "f".into(),
            id: Some(v1::FrameworkId { value: "F".into() }),
            ..Default::default()
        },
        task: v1::TaskInfo {
            name: "d".into(),
            task_id: v1::TaskId { value: "d".into() },
            agent_id: v1::AgentId { value: "S1".into() },
            command: Some(v1::CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            }),
            container: Some(v1::ContainerInfo {
                r#type: v1::container_info::Type::Docker as i32,
                ..Default::default()
            }),
            ..Default::default()
        },
        executor: None,
        allocation_info: vec![],
    }
}

/// Mesos's composing containerizer answers "not supported" for a DOCKER container when the
/// docker containerizer is not enabled: the task fails at once, saying which flag to set.
#[test]
fn docker_containers_without_the_docker_containerizer_fail_saying_which_flag() {
    let mut h = H::new();
    let now = h.now();
    h.agent
        .from_master(now, FromMaster::RunTask(docker_run_task()));
    h.pump();
    assert!(
        h.take(|e| if let Effect::Launch(l) = e {
            Some(l.clone())
        } else {
            None
        })
        .is_empty()
    );
    let messages: Vec<String> = h
        .master_messages()
        .into_iter()
        .filter_map(|m| {
            if let ToMaster::StatusUpdate(u) = m {
                u.status.message
            } else {
                None
            }
        })
        .collect();
    assert!(
        messages[0].contains("--containerizers=mesos,docker"),
        "{messages:?}"
    );
}

/// Mesos `Slave::getExecutorInfo`: a command task's ContainerInfo is copied into its
/// executor's (checkpointed, so the same containerizer recovers it), and the launch carries
/// the container and the task for the docker containerizer.
#[test]
fn a_docker_command_task_launches_with_its_container_checkpointed_in_the_executor() {
    let mut config = config();
    config.containerizers = vec![
        super::containerizer::Kind::Mesos,
        super::containerizer::Kind::Docker,
    ];
    let mut h = H::with_config(config);
    let now = h.now();
    let mut run = docker_run_task();
    run.task.container.as_mut().unwrap().docker = Some(v1::container_info::DockerInfo {
        image: "busybox".into(),
        ..Default::default()
    });
    h.agent.from_master(now, FromMaster::RunTask(run.clone()));
    h.pump();
    let launches = h.take(|e| {
        if let Effect::Launch(l) = e {
            Some(l.clone())
        } else {
            None
        }
    });
    assert_eq!(launches.len(), 1, "{:?}", h.effects);
    assert_eq!(launches[0].container, run.task.container);
    assert_eq!(
        launches[0].task.as_ref().map(|t| &t.task_id),
        Some(&run.task.task_id)
    );
    let key = super::ExecutorKey::parse("F", "d").unwrap();
    assert_eq!(
        h.agent.executor(&key).unwrap().info.container,
        run.task.container
    );
}

fn custom_executor(mem: f64) -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        executor_id: v1::ExecutorId { value: "E".into() },
        framework_id: Some(v1::FrameworkId { value: "F".into() }),
        command: Some(v1::CommandInfo {
            value: Some("./my-executor".into()),
            ..Default::default()
        }),
        resources: Resources::parse(&format!("cpus:0.5;mem:{mem}"), "*")
            .unwrap()
            .into_protos(),
        ..Default::default()
    }
}

fn task_of(id: &str, resources: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId { value: "S1".into() },
        resources: Resources::parse(resources, "*").unwrap().into_protos(),
        ..Default::default()
    }
}

fn framework_info(checkpoint: bool) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "nobody".into(),
        name: "f".into(),
        id: Some(v1::FrameworkId { value: "F".into() }),
        checkpoint: Some(checkpoint),
        ..Default::default()
    }
}

#[test]
fn a_task_joining_a_running_executor_grows_its_container() {
    let mut h = H::new();
    for (id, mem) in [("a", 64), ("b", 128)] {
        let now = h.now();
        let run = wire::RunTask {
            framework: framework_info(false),
            task: task_of(id, &format!("cpus:1;mem:{mem}")),
            executor: Some(custom_executor(32.0)),
            allocation_info: vec![],
        };
        h.agent.from_master(now, FromMaster::RunTask(run));
        h.pump();
    }
    let launch = h.take(|e| match e {
        Effect::Launch(l) => Some(l.limits),
        _ => None,
    });
    assert_eq!(
        launch,
        vec![super::isolator::Limits {
            cpus: 1.5,
            mem_bytes: 96 << 20,
            disk_bytes: 0
        }]
    );
    let resize = h.take(|e| match e {
        Effect::Resize { limits, .. } => Some(*limits),
        _ => None,
    });
    assert_eq!(
        resize,
        vec![super::isolator::Limits {
            cpus: 2.5,
            mem_bytes: 224 << 20,
            disk_bytes: 0
        }]
    );
}

/// Reference §8.6: a restarted agent reregisters with what it recovered, resends the
/// updates never acknowledged, and tasks that stayed STAGING and that the resubscribing
/// executor does not know end TASK_LOST with REASON_AGENT_RESTARTED.
#[test]
fn recovered_state_is_reregistered_and_updates_resent() {
    use super::recovery;
    let start = Instant::now();
    let t = Time {
        mono: start,
        wall: 1e9,
    };
    let record = |state: v1::TaskState, uuid: u8| wire::StatusUpdateRecord {
        r#type: wire::status_update_record::Type::Update as i32,
        update: Some(wire::StatusUpdate {
            framework_id: v1::FrameworkId { value: "F".into() },
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: "t1".into() },
                state: state as i32,
                uuid: Some(vec![uuid; 16]),
                ..Default::default()
            },
            latest_state: None,
        }),
        uuid: None,
    };
    let ack = |uuid: u8| wire::StatusUpdateRecord {
        r#type: wire::status_update_record::Type::Ack as i32,
        update: None,
        uuid: Some(vec![uuid; 16]),
    };
    let state = recovery::State {
        agent_info: v1::AgentInfo::default(),
        agent_id: "S7".into(),
        frameworks: vec![recovery::FrameworkState {
            info: framework_info(true),
            executors: vec![recovery::ExecutorState {
                info: custom_executor(32.0),
                container_id: "C".into(),
                sandbox: PathBuf::from("/work/sandbox"),
                pid: Some(4242),
                terminated: false,
                tasks: vec![
                    recovery::TaskState {
                        info: task_of("t1", "cpus:1;mem:64"),
                        records: vec![
                            record(v1::TaskState::TaskRunning, 1),
                            ack(1),
                            record(v1::TaskState::TaskFinished, 2),
                        ],
                        updates_path: PathBuf::from("/work/t1.updates"),
                    },
                    recovery::TaskState {
                        info: task_of("t2", "cpus:1;mem:64"),
                        records: vec![],
                        updates_path: PathBuf::from("/work/t2.updates"),
                    },
                ],
                times: Default::default(),
            }],
            dirs: vec![],
        }],
        garbage: vec![],
        operations: Default::default(),
    };
    let mut agent = Agent::new(config(), t);
    let live = agent.recover(t, state);
    assert_eq!(live, vec![("F".into(), "E".into(), "C".into(), Some(4242))]);
    let ToMaster::Reregister(reregister) = agent.hello() else {
        panic!("a recovered agent reregisters");
    };
    assert_eq!(reregister.agent_info.id.unwrap().value, "S7");
    let mut reported: Vec<(String, i32)> = reregister
        .tasks
        .iter()
        .map(|t| (t.task_id.value.clone(), t.state))
        .collect();
    reported.sort();
    assert_eq!(
        reported,
        vec![
            ("t1".into(), v1::TaskState::TaskFinished as i32),
            ("t2".into(), v1::TaskState::TaskStaging as i32)
        ]
    );
    agent.drain_effects();
    agent.registered(t, "S7".into(), None);
    let resent: Vec<(String, Vec<u8>)> = agent
        .drain_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Master(m) => match *m {
                ToMaster::StatusUpdate(u) => {
                    Some((u.status.task_id.value, u.status.uuid.unwrap_or_default()))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(resent, vec![("t1".to_string(), vec![2u8; 16])]);

    // The executor comes back knowing nothing of t2.
    let call = exec::Call {
        executor_id: v1::ExecutorId { value: "E".into() },
        framework_id: v1::FrameworkId { value: "F".into() },
        r#type: Some(exec::call::Type::Subscribe as i32),
        subscribe: Some(Default::default()),
        ..Default::default()
    };
    agent.executor_subscribe(t, 1, call).unwrap();
    let lost: Vec<v1::TaskStatus> = agent
        .drain_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Master(m) => match *m {
                ToMaster::StatusUpdate(u) => Some(u.status),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].task_id.value, "t2");
    assert_eq!(lost[0].state, v1::TaskState::TaskLost as i32);
    assert_eq!(
        lost[0].reason,
        Some(v1::task_status::Reason::AgentRestarted as i32)
    );
}

/// The status updates the agent forwarded to the master, in order.
fn forwarded_statuses(messages: Vec<ToMaster>) -> Vec<v1::TaskStatus> {
    messages
        .into_iter()
        .filter_map(|m| match m {
            ToMaster::StatusUpdate(u) => Some(u.status),
            _ => None,
        })
        .collect()
}

/// Issue 12 item 3: Mesos's agent fills `TaskStatus.container_status` of the updates of a
/// task that reached its executor (`Slave::statusUpdate` asks the containerizer for the
/// executor's container, `Slave::_statusUpdate` merges its status and, with no
/// `network_infos`, adds one with the agent's IP; src/slave/slave.cpp). The containerizer's
/// status carries the container id and the executor's pid
/// (`MesosContainerizerProcess::status`, `SubprocessLauncherProcess::status`).
#[test]
fn executor_updates_carry_the_container_id_and_the_agent_ip() {
    let mut h = H::new();
    h.run("t1");
    let container = h.agent.frameworks["F"].executors["t1"].container_id.clone();
    h.agent.executor_started("F", "t1", &container, 4242);
    h.subscribe("t1", 7);
    h.effects.clear();
    h.update("t1", "t1", v1::TaskState::TaskRunning);
    let statuses = forwarded_statuses(h.master_messages());
    let [status] = &statuses[..] else {
        panic!("{statuses:?}")
    };
    let expected = v1::ContainerStatus {
        container_id: Some(v1::ContainerId {
            value: container.clone(),
            parent: None,
        }),
        network_infos: vec![v1::NetworkInfo {
            ip_addresses: vec![v1::network_info::IpAddress {
                protocol: None,
                ip_address: Some("10.0.0.1".into()),
            }],
            ..Default::default()
        }],
        cgroup_info: None,
        executor_pid: Some(4242),
    };
    assert_eq!(status.container_status.as_ref(), Some(&expected));
    // The agent's own record (its /state, GET_TASKS) keeps what it forwarded.
    let task = &h.agent.frameworks["F"].executors["t1"].tasks["t1"];
    assert_eq!(
        task.statuses
            .last()
            .and_then(|s| s.container_status.as_ref()),
        Some(&expected)
    );
}

/// Mesos's docker containerizer `status()` reports the container's own IP (a BRIDGE or USER
/// network, from dockerd's `NetworkSettings`): a custom executor's updates carry it instead
/// of the agent's IP; an IP the executor put in itself is kept.
#[test]
fn a_containers_own_ip_replaces_the_agent_ip_in_executor_updates() {
    let mut h = H::new();
    h.run("t1");
    let container = h.agent.frameworks["F"].executors["t1"].container_id.clone();
    h.agent.executor_started("F", "t1", &container, 4242);
    h.agent
        .executor_network("F", "t1", "other-container", vec!["192.0.2.9".into()]);
    h.agent
        .executor_network("F", "t1", &container, vec!["172.17.0.5".into()]);
    h.subscribe("t1", 7);
    h.effects.clear();
    h.update("t1", "t1", v1::TaskState::TaskRunning);
    let statuses = forwarded_statuses(h.master_messages());
    let ips: Vec<_> = statuses[0].container_status.as_ref().unwrap().network_infos[0]
        .ip_addresses
        .iter()
        .map(|a| a.ip_address.clone().unwrap())
        .collect();
    assert_eq!(ips, ["172.17.0.5"]);
}

/// Updates the agent makes up itself carry no container status: for a task the executor
/// never got, or after its container is gone (`Slave::statusUpdate`: queued tasks and
/// agent-sourced DROPPED/LOST skip the containerizer; `status()` of a destroyed container
/// fails and the update goes on without one; an unknown task's executor is unknown).
#[test]
fn agent_generated_updates_carry_no_container_status() {
    let mut h = H::new();
    // Killed while queued (the executor has not subscribed).
    h.run("queued");
    h.effects.clear();
    h.kill("queued");
    // A kill of a task the agent does not know.
    h.kill("unknown");
    let statuses = forwarded_statuses(h.master_messages());
    let states: Vec<i32> = statuses.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [
            v1::TaskState::TaskKilled as i32,
            v1::TaskState::TaskLost as i32
        ]
    );
    for status in &statuses {
        assert_eq!(status.container_status, None, "{status:?}");
    }
    // Failed with its exited executor, after it ran.
    h.run("t1");
    let container = h.agent.frameworks["F"].executors["t1"].container_id.clone();
    h.subscribe("t1", 7);
    h.update("t1", "t1", v1::TaskState::TaskRunning);
    let running = forwarded_statuses(h.master_messages());
    assert!(!running.is_empty());
    assert!(running.iter().all(|s| s.container_status.is_some()));
    let now = h.now();
    h.agent
        .executor_exited(now, "F", "t1", &container, Some(256), None);
    h.pump();
    // The FAILED update waits for RUNNING's acknowledgement; take it from the stream.
    let failed = h.agent.frameworks["F"]
        .completed_executors
        .iter()
        .chain(h.agent.frameworks["F"].executors.values())
        .flat_map(|e| e.completed.iter())
        .find(|t| t.task_id.value == "t1")
        .and_then(|t| t.statuses.last().cloned())
        .expect("t1 ended");
    assert_eq!(failed.state, v1::TaskState::TaskFailed as i32);
    assert_eq!(failed.container_status, None);
}

/// An executor that names a container nested right under its own (Mesos's default executor
/// names a task's nested container) keeps that container id, and the task's networks are
/// its executor's (a nested container joins its parent's network, as Mesos's containerizer
/// reports it): here the agent's IP. An executor that reports its own container's networks
/// keeps them: the agent IP only fills an empty `network_infos`.
#[test]
fn an_executors_own_container_status_is_kept() {
    let mut h = H::new();
    h.run("t1");
    let container = h.agent.frameworks["F"].executors["t1"].container_id.clone();
    h.subscribe("t1", 7);
    h.effects.clear();
    let nested = v1::ContainerStatus {
        container_id: Some(v1::ContainerId {
            value: "nested".into(),
            parent: Some(Box::new(v1::ContainerId {
                value: container.clone(),
                parent: None,
            })),
        }),
        ..Default::default()
    };
    let own_network = v1::ContainerStatus {
        network_infos: vec![v1::NetworkInfo {
            ip_addresses: vec![v1::network_info::IpAddress {
                protocol: None,
                ip_address: Some("192.168.7.7".into()),
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    for (state, sent) in [
        (v1::TaskState::TaskStarting, nested.clone()),
        (v1::TaskState::TaskRunning, own_network.clone()),
    ] {
        let status = v1::TaskStatus {
            task_id: v1::TaskId { value: "t1".into() },
            state: state as i32,
            source: Some(v1::task_status::Source::Executor as i32),
            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
            container_status: Some(sent),
            ..Default::default()
        };
        h.send_status("t1", status).unwrap();
    }
    let task = &h.agent.frameworks["F"].executors["t1"].tasks["t1"];
    let kept: Vec<_> = task
        .statuses
        .iter()
        .map(|s| s.container_status.clone())
        .collect();
    let mut own_network_filled = own_network;
    own_network_filled.container_id = Some(v1::ContainerId {
        value: container,
        parent: None,
    });
    let mut nested_filled = nested;
    nested_filled.network_infos = vec![v1::NetworkInfo {
        ip_addresses: vec![v1::network_info::IpAddress {
            protocol: None,
            ip_address: Some("10.0.0.1".into()),
        }],
        ..Default::default()
    }];
    assert_eq!(kept, [Some(nested_filled), Some(own_network_filled)]);
}

/// DESIGN.md §3, "daemons sleep until their next deadline": a launched executor's
/// registration timeout is the agent's next deadline; once it subscribed, the retry of its
/// unacknowledged update is (Mesos's STATUS_UPDATE_RETRY_INTERVAL_MIN, reference §8.2).
#[test]
fn the_next_deadline_is_the_registration_timeout_then_the_update_retry() {
    let mut h = H::new();
    assert_eq!(h.agent.next_deadline(), None, "nothing timed yet");
    h.run("t1");
    assert_eq!(
        h.agent.next_deadline(),
        Some(h.start + Duration::from_secs(60))
    );
    h.subscribe("t1", 7);
    assert_eq!(h.agent.next_deadline(), None);
    h.elapsed = Duration::from_secs(3);
    h.update("t1", "t1", v1::TaskState::TaskRunning);
    assert_eq!(
        h.agent.next_deadline(),
        Some(h.start + Duration::from_secs(3) + super::status_update::RETRY_MIN)
    );
    h.agent.master_disconnected();
    assert_eq!(h.agent.next_deadline(), None, "resent on reregistration");
}

#[test]
fn the_executor_index_finds_an_executor_by_its_framework_and_its_own_id_only() {
    let mut h = H::new();
    h.run("t1");
    let key = super::ExecutorKey::new("F", "t1").unwrap();
    let executor = h.agent.executor(&key).expect("indexed at launch");
    assert_eq!(executor.info.executor_id.value, "t1");
    let (framework, _) = h.agent.framework_executor(&key).unwrap();
    assert_eq!(framework.info.name, "f");
    // The same executor id under another framework names nothing.
    let other = super::ExecutorKey::new("G", "t1").unwrap();
    assert!(h.agent.executor(&other).is_none());
    let container_id = executor.container_id.clone();
    assert_eq!(
        h.agent
            .executor_of_container(&container_id)
            .map(|e| e.info.executor_id.value.clone()),
        Some("t1".to_string())
    );
}

#[test]
fn an_executor_key_is_only_made_of_valid_ids() {
    // Mesos's id rules (src/common/validation.cpp `validateID`): such a string never names
    // a stored executor, so it never reaches a lookup.
    assert!(super::ExecutorKey::parse("F", "t1").is_some());
    assert!(super::ExecutorKey::parse("../F", "t1").is_none());
    assert!(super::ExecutorKey::parse("F", "a/b").is_none());
    assert!(super::ExecutorKey::parse("", "t1").is_none());
}

#[test]
fn a_call_with_an_invalid_executor_id_is_answered_as_an_unknown_executor() {
    let mut h = H::new();
    h.run("t1");
    let call = exec::Call {
        executor_id: v1::ExecutorId {
            value: "../t1".into(),
        },
        framework_id: v1::FrameworkId { value: "F".into() },
        r#type: Some(exec::call::Type::Heartbeat as i32),
        ..Default::default()
    };
    let now = h.now();
    assert_eq!(
        h.agent.executor_call(now, call),
        Err(super::CallError::BadRequest(
            "Executor cannot be found".into()
        ))
    );
}

/// Mesos's executor token (`Slave::generateSecret` with `JWTSecretGenerator`): with a
/// `--jwt_secret_key`, each executor's environment holds an HS256 JWT over its framework,
/// executor and container ids; and `verifyExecutorClaims` (src/slave/http.cpp): a call is
/// taken only from the token of the executor it names, in its current container, else 403
/// with Mesos's text. A Basic principal (no claims) cannot act as an executor.
#[test]
fn an_executor_is_given_a_token_for_its_own_ids_and_only_that_token_acts_for_it() {
    use super::authn::Caller;
    use crate::security::jwt::{self, JwtKey};
    let key = JwtKey::new(b"the agent's key: thirty-two bytes").unwrap();
    let mut h = H::new();
    h.agent.config.security.jwt_key = Some(key.clone());
    h.run("t1");
    h.run("t2");
    let launches = h.take(|e| match e {
        Effect::Launch(l) => Some((**l).clone()),
        _ => None,
    });
    assert_eq!(launches.len(), 2);
    let token_of = |l: &super::Launch| {
        l.environment
            .iter()
            .rev()
            .find(|(k, _)| k == "MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
            .map(|(_, v)| v.clone())
            .expect("a token in the executor's environment")
    };
    let claims = |l: &super::Launch| jwt::verify(&key, &token_of(l), i64::MAX).unwrap();
    for l in &launches {
        let want: jwt::Claims = [
            ("fid", l.framework_id.as_str()),
            ("eid", l.executor_id.as_str()),
            ("cid", l.container_id.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(claims(l), want);
    }
    let call = |eid: &str| exec::Call {
        executor_id: v1::ExecutorId { value: eid.into() },
        framework_id: v1::FrameworkId { value: "F".into() },
        r#type: Some(exec::call::Type::Subscribe as i32),
        ..Default::default()
    };
    let t1 = Caller::Token(claims(&launches[0]));
    let t2 = Caller::Token(claims(&launches[1]));
    assert_eq!(
        h.agent.verify_executor_caller(&call("t1"), Some(&t1)),
        Ok(())
    );
    assert_eq!(
        h.agent.verify_executor_caller(&call("t2"), Some(&t2)),
        Ok(())
    );
    // Executors do not authenticate: no caller, no check.
    assert_eq!(h.agent.verify_executor_caller(&call("t2"), None), Ok(()));
    // t1's token for t2's ids.
    let Err(super::CallError::Forbidden(m)) =
        h.agent.verify_executor_caller(&call("t2"), Some(&t1))
    else {
        panic!("another executor's token was taken");
    };
    assert!(
        m.starts_with("Authenticated principal '{\"claims\":{")
            && m.ends_with(
                "does not contain an 'eid' claim with the executor ID t2, which is set in the call"
            ),
        "{m}"
    );
    // The right ids in another container (an earlier run of the executor).
    let mut stale = claims(&launches[0]);
    stale.insert("cid".into(), "an-old-container".into());
    let Err(super::CallError::Forbidden(m)) = h
        .agent
        .verify_executor_caller(&call("t1"), Some(&Caller::Token(stale)))
    else {
        panic!("a token of another container was taken");
    };
    assert!(
        m.ends_with("does not contain a 'cid' claim with the correct active ContainerID"),
        "{m}"
    );
    // An operator's Basic principal.
    let ops = Caller::Principal(crate::security::Principal::new("ops").unwrap());
    assert_eq!(
        h.agent.verify_executor_caller(&call("t1"), Some(&ops)),
        Err(super::CallError::Forbidden(
            "Authenticated principal 'ops' does not contain an 'fid' claim with the framework \
             ID F, which is set in the call"
                .into()
        ))
    );
    // Unknown executors are still 400s, before any claim is looked at.
    assert_eq!(
        h.agent.verify_executor_caller(&call("nope"), Some(&t1)),
        Err(super::CallError::BadRequest(
            "Executor cannot be found".into()
        ))
    );
}

/// Without `--jwt_secret_key` executors get no token (Mesos has no secret generator then).
#[test]
fn without_a_key_executors_get_no_token() {
    let mut h = H::new();
    h.run("t1");
    let envs = h.take(|e| match e {
        Effect::Launch(l) => Some(l.environment.clone()),
        _ => None,
    });
    assert_eq!(envs.len(), 1);
    assert!(
        !envs[0]
            .iter()
            .any(|(k, _)| k == "MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
    );
}

// ----- garbage collection of sandboxes and checkpoints (gc/) -----

impl H {
    /// `task`'s command executor exits without updates; its TASK_FAILED is acknowledged:
    /// the executor is removed (and, with it, its framework).
    fn finish_executor(&mut self, task: &str) {
        self.run(task);
        let container = self.agent.frameworks["F"].executors[task]
            .container_id
            .clone();
        let now = self.now();
        self.agent
            .executor_exited(now, "F", task, &container, Some(0), None);
        self.pump();
        for message in self.master_messages() {
            if let ToMaster::StatusUpdate(u) = message {
                let now = self.now();
                self.agent.from_master(
                    now,
                    FromMaster::Acknowledgement(wire::StatusUpdateAcknowledgement {
                        framework_id: v1::FrameworkId { value: "F".into() },
                        task_id: u.status.task_id.clone(),
                        uuid: u.status.uuid.clone().unwrap_or_default(),
                    }),
                );
                self.pump();
            }
        }
    }

    fn tick(&mut self) {
        let now = self.now();
        self.agent.tick(now);
        self.pump();
    }

    fn removed(&mut self) -> Vec<PathBuf> {
        self.take(|e| match e {
            Effect::Remove(r) => Some(r.iter().map(|r| r.path.clone()).collect::<Vec<_>>()),
            _ => None,
        })
        .concat()
    }

    fn touched(&mut self) -> Vec<PathBuf> {
        self.take(|e| match e {
            Effect::Touch { path } => Some(path.clone()),
            _ => None,
        })
    }
}

const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// Mesos's `Slave::removeExecutor` and `Slave::removeFramework` (src/slave/slave.cpp): the
/// run's sandbox and `meta/` run directory, the executor's work and `meta/` directories,
/// then the framework's, each touched and removed `--gc_delay` later.
#[test]
fn a_removed_executor_and_framework_are_collected_after_gc_delay() {
    let mut h = H::new();
    h.finish_executor("t1");
    assert!(h.agent.frameworks.is_empty(), "the framework is completed");
    let e = "/work/slaves/S1/frameworks/F/executors/t1";
    let run = h.agent.completed_frameworks[0].completed_executors[0]
        .sandbox
        .clone();
    let container = run.file_name().unwrap().to_str().unwrap().to_string();
    let meta_e = "/work/meta/slaves/S1/frameworks/F/executors/t1";
    let expected: Vec<PathBuf> = [
        run.display().to_string(),
        format!("{meta_e}/runs/{container}"),
        e.to_string(),
        meta_e.to_string(),
        "/work/slaves/S1/frameworks/F".into(),
        "/work/meta/slaves/S1/frameworks/F".into(),
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(
        h.touched(),
        expected,
        "touched: a restart recomputes from mtimes"
    );
    assert_eq!(h.agent.gc.pending(), 6);

    h.elapsed = WEEK - Duration::from_secs(1);
    h.tick();
    assert!(h.removed().is_empty(), "not before gc_delay");
    h.elapsed = WEEK;
    h.tick();
    assert_eq!(
        h.removed(),
        expected,
        "runs before their executor, oldest first"
    );
    assert_eq!(h.agent.gc.pending(), 6, "pending until the runtime reports");
    h.agent.gc_removed(
        expected
            .iter()
            .map(|p| (p.clone(), super::gc::collector::Outcome::Removed))
            .collect(),
    );
    let metrics: std::collections::HashMap<_, _> =
        super::http::metrics_map(&h.agent).into_iter().collect();
    assert_eq!(metrics["gc/path_removals_succeeded"], 6.0);
    assert_eq!(metrics["gc/path_removals_failed"], 0.0);
    assert_eq!(metrics["gc/path_removals_pending"], 0.0);
}

/// Mesos's `Slave::run`: a task for a framework (or executor) whose directories are
/// scheduled takes them off the schedule; the old run stays scheduled (it is dead).
#[test]
fn a_framework_that_comes_back_keeps_its_directories() {
    let mut h = H::new();
    h.finish_executor("t1");
    let old_run = h.agent.completed_frameworks[0].completed_executors[0]
        .sandbox
        .clone();
    h.effects.clear();
    // A task of the same framework, on a new executor: the framework stays.
    h.run("t2");
    h.elapsed = WEEK;
    h.tick();
    let removed = h.removed();
    assert!(removed.contains(&old_run));
    assert!(removed.contains(&PathBuf::from("/work/slaves/S1/frameworks/F/executors/t1")));
    assert!(
        !removed.iter().any(|p| p.ends_with("frameworks/F")),
        "{removed:?}"
    );
}

#[test]
fn an_executor_launched_again_under_its_id_keeps_its_directories() {
    let mut h = H::new();
    h.finish_executor("t1");
    h.effects.clear();
    // The same executor id again (a command task with the same task id).
    h.run("t1");
    h.elapsed = WEEK;
    h.tick();
    let removed = h.removed();
    assert_eq!(
        removed.len(),
        2,
        "only the old run's two directories: {removed:?}"
    );
    assert!(
        removed
            .iter()
            .all(|p| p.parent().unwrap().ends_with("runs"))
    );
}

/// Mesos's `Slave::_checkDiskUsage`: `prune(gc_delay - age)` with
/// `age = gc_delay * max(0, 1 - headroom - usage)`.
#[test]
fn a_filling_disk_removes_directories_at_least_the_allowed_age_old() {
    let mut h = H::new();
    h.finish_executor("t1");
    h.elapsed = Duration::from_secs(3 * 24 * 3600);
    h.finish_executor("t2");
    h.effects.clear();
    // Four days later: t1's directories are 4 days old, t2's 1 day.
    h.elapsed = Duration::from_secs(4 * 24 * 3600);
    let now = h.now();
    // 50% used, 10% headroom: max age 0.4 weeks (2.8 days): only t1's go.
    h.agent.check_disk_usage(now, Ok(0.5));
    h.pump();
    let removed = h.removed();
    assert_eq!(removed.len(), 4, "{removed:?}");
    assert!(removed.iter().all(|p| p.to_str().unwrap().contains("/t1")));
    // 95% used: every directory goes, the youngest too.
    h.agent.check_disk_usage(now, Ok(0.95));
    h.pump();
    assert_eq!(h.removed().len(), 6, "t2's four and the framework's two");
    // A failed measurement changes nothing.
    h.agent.check_disk_usage(now, Err("statvfs failed".into()));
    h.pump();
    assert!(h.removed().is_empty());
}

#[test]
fn the_allowed_age_is_mesos_formula() {
    let gc = super::gc::GcConfig::default();
    assert_eq!(gc.max_allowed_age(0.0), WEEK.mul_f64(0.9));
    assert_eq!(gc.max_allowed_age(0.5), WEEK.mul_f64(0.4));
    assert_eq!(gc.max_allowed_age(0.9), Duration::ZERO);
    assert_eq!(gc.max_allowed_age(1.0), Duration::ZERO);
}

/// A live executor's directories are never scheduled: pruning everything leaves them.
#[test]
fn nothing_of_a_live_executor_is_ever_removed() {
    let mut h = H::new();
    h.run("live");
    h.subscribe("live", 3);
    h.finish_executor("done");
    h.effects.clear();
    let now = h.now();
    h.agent.check_disk_usage(now, Ok(1.0));
    h.pump();
    let removed = h.removed();
    assert_eq!(removed.len(), 4, "{removed:?}");
    assert!(
        !removed
            .iter()
            .any(|p| p.to_str().unwrap().contains("/live") || p.ends_with("frameworks/F"))
    );
}

/// Mesos's `Framework::recoverExecutor`: a run that ended before the restart is scheduled
/// by its directories' mtimes, not from the restart.
#[test]
fn a_run_that_ended_before_a_restart_keeps_its_removal_time() {
    let t = Time {
        mono: Instant::now(),
        wall: 1e9,
    };
    let day = 24.0 * 3600.0;
    let times = super::gc::RunTimes {
        run: Some(1e9 - 6.0 * day),
        meta_run: Some(1e9 - 6.0 * day),
        executor: Some(1e9 - 6.0 * day),
        meta_executor: Some(1e9 - 6.0 * day),
    };
    let state = super::recovery::State {
        agent_info: v1::AgentInfo::default(),
        agent_id: "S7".into(),
        frameworks: vec![super::recovery::FrameworkState {
            info: framework_info(true),
            executors: vec![super::recovery::ExecutorState {
                info: custom_executor(32.0),
                container_id: "C".into(),
                sandbox: PathBuf::from("/work/slaves/S7/frameworks/F/executors/E/runs/C"),
                pid: None,
                terminated: true,
                tasks: vec![],
                times,
            }],
            dirs: vec![],
        }],
        garbage: vec![(PathBuf::from("/work/old-run"), 1e9 - 2.0 * day)],
        operations: Default::default(),
    };
    let mut agent = Agent::new(config(), t);
    agent.recover(t, state);
    let touched: Vec<_> = agent
        .drain_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Touch { path } => Some(path),
            _ => None,
        })
        .collect();
    assert_eq!(
        touched,
        [
            PathBuf::from("/work/slaves/S7/frameworks/F"),
            PathBuf::from("/work/meta/slaves/S7/frameworks/F")
        ],
        "only the framework, removed now, counts from now (as Mesos's removeFramework)"
    );
    // Six days old: due one day after the restart; the old run five days after.
    let at = |d: f64| t.mono + Duration::from_secs_f64(d * day);
    assert_eq!(agent.gc.count_due(at(0.99)), 0);
    assert_eq!(agent.gc.count_due(at(1.0)), 4);
    assert_eq!(agent.gc.count_due(at(5.0)), 5);
    assert_eq!(agent.gc.count_due(at(7.0)), 7);
}
