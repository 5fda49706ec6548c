//! End to end: the real `remesos executor` binary against a fake agent written here (just
//! enough of `POST /api/v1/executor`, reference/mesos-contract.md §3.3): SUBSCRIBE answers a
//! RecordIO stream with SUBSCRIBED then LAUNCH; UPDATE answers 202 and (unless told not to)
//! an ACKNOWLEDGED event on the stream. The executor is started as the agent starts it: in
//! the sandbox, with the Mesos executor environment (§4.1) and its stdout/stderr pointed at
//! the sandbox's files. Expected behaviour follows Mesos's `src/launcher/executor.cpp`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use remesos::api::{self, Format};
use remesos::client::executor::{Connection, ExecutorEnv};
use remesos_proto::v1;
use v1::TaskState;
use v1::executor::{self as exec, call, event};

// ---------------------------------------------------------------------------------------
// The fake agent.

#[derive(Default)]
struct AgentState {
    /// The task sent in LAUNCH after the first SUBSCRIBED.
    task: Option<v1::TaskInfo>,
    launched: bool,
    framework_info: v1::FrameworkInfo,
    /// The open subscription's stream.
    stream: Option<mpsc::UnboundedSender<exec::Event>>,
    /// Every SUBSCRIBE, in order.
    subscribes: Vec<call::Subscribe>,
    /// Every UPDATE's status, in order.
    updates: Vec<v1::TaskStatus>,
    /// Answer UPDATEs with ACKNOWLEDGED.
    acknowledge: bool,
    /// Close the stream, without acknowledging, when an update in this state arrives.
    break_on: Option<TaskState>,
    /// Send LAUNCH_GROUP instead of LAUNCH.
    launch_group: bool,
    /// Answer the TASK_STARTING update only after this long.
    hold_starting: Option<Duration>,
}

#[derive(Clone)]
struct FakeAgent {
    addr: SocketAddr,
    state: Arc<Mutex<AgentState>>,
}

impl FakeAgent {
    async fn start(task: v1::TaskInfo) -> FakeAgent {
        let state = Arc::new(Mutex::new(AgentState {
            task: Some(task),
            acknowledge: true,
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/api/v1/executor", post(executor_api))
            .route("/slave(1)/api/v1/executor", post(executor_api))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeAgent { addr, state }
    }

    fn with<R>(&self, f: impl FnOnce(&mut AgentState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// Sends an event on the open stream.
    fn send(&self, event: exec::Event) {
        self.with(|s| {
            s.stream
                .as_ref()
                .expect("a subscription")
                .send(event)
                .expect("the stream is open")
        });
    }

    fn states(&self) -> Vec<TaskState> {
        self.with(|s| {
            s.updates
                .iter()
                .map(|u| TaskState::try_from(u.state).unwrap())
                .collect()
        })
    }

    /// Waits until an update in `state` has arrived and returns it.
    async fn wait_for(&self, state: TaskState, within: Duration) -> v1::TaskStatus {
        let deadline = Instant::now() + within;
        loop {
            let found = self.with(|s| s.updates.iter().find(|u| u.state == state as i32).cloned());
            if let Some(status) = found {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no {state:?} update within {within:?}; got {:?}",
                self.states()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn executor_api(
    State(state): State<Arc<Mutex<AgentState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let format = match api::request_format(&headers) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let call: exec::Call = match api::decode(format, &body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    // A held TASK_STARTING is recorded at once and answered later.
    let hold = call
        .update
        .as_ref()
        .filter(|u| u.status.state == TaskState::TaskStarting as i32)
        .and_then(|u| {
            let mut agent = state.lock().unwrap();
            let hold = agent.hold_starting?;
            agent.updates.push(u.status.clone());
            Some(hold)
        });
    let held = hold.is_some();
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    let mut agent = state.lock().unwrap();
    match call.r#type.and_then(|t| call::Type::try_from(t).ok()) {
        Some(call::Type::Subscribe) => {
            let (tx, rx) = mpsc::unbounded_channel();
            agent
                .subscribes
                .push(call.subscribe.clone().unwrap_or_default());
            let subscribed = exec::Event {
                r#type: Some(event::Type::Subscribed as i32),
                subscribed: Some(event::Subscribed {
                    executor_info: v1::ExecutorInfo {
                        executor_id: call.executor_id.clone(),
                        ..Default::default()
                    },
                    framework_info: agent.framework_info.clone(),
                    agent_info: v1::AgentInfo {
                        hostname: "fake-agent".into(),
                        ..Default::default()
                    },
                    container_id: None,
                }),
                ..Default::default()
            };
            tx.send(subscribed).unwrap();
            // On a resubscription the agent acknowledges what it now holds (§8.2).
            if agent.subscribes.len() > 1 {
                for update in &call.subscribe.as_ref().unwrap().unacknowledged_updates {
                    tx.send(ack(&update.status)).unwrap();
                }
                agent.acknowledge = true;
            }
            if !agent.launched {
                agent.launched = true;
                let task = agent.task.clone().unwrap();
                let launch = if agent.launch_group {
                    exec::Event {
                        r#type: Some(event::Type::LaunchGroup as i32),
                        launch_group: Some(event::LaunchGroup {
                            task_group: v1::TaskGroupInfo { tasks: vec![task] },
                        }),
                        ..Default::default()
                    }
                } else {
                    exec::Event {
                        r#type: Some(event::Type::Launch as i32),
                        launch: Some(event::Launch { task }),
                        ..Default::default()
                    }
                };
                tx.send(launch).unwrap();
            }
            agent.stream = Some(tx);
            api::recordio_stream(format, UnboundedReceiverStream::new(rx))
        }
        Some(call::Type::Update) => {
            let status = call.update.unwrap().status;
            if !held {
                agent.updates.push(status.clone());
            }
            if agent.break_on.is_some_and(|s| s as i32 == status.state) {
                agent.break_on = None;
                agent.acknowledge = false;
                agent.stream = None; // closes the event stream
            } else if agent.acknowledge
                && let Some(stream) = &agent.stream
            {
                let _ = stream.send(ack(&status));
            }
            StatusCode::ACCEPTED.into_response()
        }
        Some(call::Type::Message | call::Type::Heartbeat) => StatusCode::ACCEPTED.into_response(),
        _ => api::error(StatusCode::NOT_IMPLEMENTED, "Unknown call"),
    }
}

fn ack(status: &v1::TaskStatus) -> exec::Event {
    exec::Event {
        r#type: Some(event::Type::Acknowledged as i32),
        acknowledged: Some(event::Acknowledged {
            task_id: status.task_id.clone(),
            uuid: status.uuid.clone().unwrap_or_default(),
        }),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// Tasks and the executor process.

fn task(id: &str, command: v1::CommandInfo) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: "agent-1".into(),
        },
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

fn kill(task_id: &str, grace: Option<Duration>) -> exec::Event {
    exec::Event {
        r#type: Some(event::Type::Kill as i32),
        kill: Some(event::Kill {
            task_id: v1::TaskId {
                value: task_id.into(),
            },
            kill_policy: grace.map(|g| v1::KillPolicy {
                grace_period: Some(v1::DurationInfo {
                    nanoseconds: g.as_nanos() as i64,
                }),
            }),
        }),
        ..Default::default()
    }
}

fn sandbox(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "remesos-command-executor-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Mesos executor environment for `agent`, as an agent sets it (§4.1).
fn mesos_env(agent: &FakeAgent, sandbox: &Path) -> Vec<(String, String)> {
    vec![
        ("MESOS_FRAMEWORK_ID".into(), "framework-1".into()),
        ("MESOS_EXECUTOR_ID".into(), "executor-1".into()),
        ("MESOS_SLAVE_ID".into(), "agent-1".into()),
        ("MESOS_AGENT_ENDPOINT".into(), agent.addr.to_string()),
        ("MESOS_SLAVE_PID".into(), format!("slave(1)@{}", agent.addr)),
        ("MESOS_DIRECTORY".into(), sandbox.display().to_string()),
        ("MESOS_SANDBOX".into(), sandbox.display().to_string()),
        ("MESOS_CHECKPOINT".into(), "0".into()),
        (
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".into(),
            "5secs".into(),
        ),
        ("MESOS_HTTP_COMMAND_EXECUTOR".into(), "1".into()),
    ]
}

/// Starts `remesos executor` in `sandbox` with `env`, stdout/stderr to the sandbox files.
fn start_executor(sandbox: &Path, env: &[(String, String)]) -> tokio::process::Child {
    start_executor_with(sandbox, env, &[])
}

fn start_executor_with(
    sandbox: &Path,
    env: &[(String, String)],
    flags: &[&str],
) -> tokio::process::Child {
    let stdout = std::fs::File::create(sandbox.join("stdout")).unwrap();
    let stderr = std::fs::File::create(sandbox.join("stderr")).unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .arg("executor")
        .arg("--launcher_dir=/usr/libexec/mesos")
        .args(flags)
        .current_dir(sandbox)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("start remesos executor")
}

/// Waits for the executor to exit and returns its exit code.
async fn exit_code(child: &mut tokio::process::Child, sandbox: &Path) -> i32 {
    match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
        Ok(status) => status.unwrap().code().unwrap_or(-1),
        Err(_) => panic!(
            "the executor did not exit; its stderr:\n{}",
            std::fs::read_to_string(sandbox.join("stderr")).unwrap_or_default()
        ),
    }
}

/// Whether any live (non-zombie) process is in process group `pgid` (PID 1 here may not
/// reap orphans, so a zombie is counted as gone).
fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        // SAFETY: killpg with signal 0 only checks for existence.
        return unsafe { libc::killpg(pgid, 0) } == 0;
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

async fn read_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Tests.

/// The updates of a task that ran and exited 0, in order.
const FINISHED_UPDATES: [TaskState; 3] = [
    TaskState::TaskStarting,
    TaskState::TaskRunning,
    TaskState::TaskFinished,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_into_a_file_finishes_with_the_file_in_the_sandbox() {
    let agent = FakeAgent::start(task("echo", shell("echo hi > out"))).await;
    let dir = sandbox("echo");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));

    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    assert_eq!(agent.states(), FINISHED_UPDATES);
    let finished = agent
        .wait_for(TaskState::TaskFinished, Duration::ZERO)
        .await;
    assert_eq!(
        finished.message.as_deref(),
        Some("Command exited with status 0")
    );
    assert_eq!(
        finished.source,
        Some(v1::task_status::Source::Executor as i32)
    );
    assert_eq!(finished.executor_id.unwrap().value, "executor-1");
    assert_eq!(finished.uuid.as_ref().map(Vec::len), Some(16));
    assert!(finished.timestamp.unwrap() > 1.0e9);
    assert_eq!(std::fs::read_to_string(dir.join("out")).unwrap(), "hi\n");
    // The first SUBSCRIBE of a new executor carries nothing unacknowledged.
    let subscribes = agent.with(|s| s.subscribes.clone());
    assert_eq!(subscribes.len(), 1);
    assert!(subscribes[0].unacknowledged_updates.is_empty());
    assert!(subscribes[0].unacknowledged_tasks.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_3_fails_with_mesos_message() {
    let agent = FakeAgent::start(task("exit3", shell("exit 3"))).await;
    let dir = sandbox("exit3");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));

    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    let failed = agent.wait_for(TaskState::TaskFailed, Duration::ZERO).await;
    assert_eq!(
        failed.message.as_deref(),
        Some("Command exited with status 3")
    );
    assert_eq!(
        agent.states(),
        vec![
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFailed
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sleep_ends_killed_within_the_grace_period_and_its_group_is_gone() {
    // A background child in the same group must go too.
    let agent = FakeAgent::start(task("sleep", shell("sleep 60 & echo $$ > pid; wait"))).await;
    agent.with(|s| {
        // TASK_KILLING goes to frameworks that ask for it.
        s.framework_info.capabilities = vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::TaskKillingState as i32),
        }];
    });
    let dir = sandbox("kill");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));
    agent
        .wait_for(TaskState::TaskRunning, Duration::from_secs(10))
        .await;
    let pgid = read_pid(&dir.join("pid")).await;
    assert!(group_alive(pgid));

    let grace = Duration::from_secs(10);
    let asked = Instant::now();
    agent.send(kill("sleep", Some(grace)));
    let killed = agent.wait_for(TaskState::TaskKilled, grace).await;
    assert!(asked.elapsed() < grace, "SIGTERM should end it at once");
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    assert_eq!(
        agent.states(),
        vec![
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskKilling,
            TaskState::TaskKilled
        ]
    );
    assert!(!group_alive(pgid), "process group {pgid} survived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_ignoring_sigterm_is_sigkilled_after_the_grace_period() {
    let command = "trap '' TERM; sleep 60 & echo $$ > pid; wait; wait";
    let agent = FakeAgent::start(task("stubborn", shell(command))).await;
    let dir = sandbox("stubborn");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));
    agent
        .wait_for(TaskState::TaskRunning, Duration::from_secs(10))
        .await;
    let pgid = read_pid(&dir.join("pid")).await;

    let grace = Duration::from_secs(1);
    let asked = Instant::now();
    agent.send(kill("stubborn", Some(grace)));
    let killed = agent
        .wait_for(TaskState::TaskKilled, Duration::from_secs(10))
        .await;
    let took = asked.elapsed();
    assert!(
        took >= grace,
        "SIGKILL came before the grace period: {took:?}"
    );
    assert!(took < grace + Duration::from_secs(3), "took {took:?}");
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Killed")
    );
    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    assert!(!group_alive(pgid), "process group {pgid} survived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argv_form_runs_value_with_arguments_and_stdout_goes_to_the_sandbox() {
    let command = v1::CommandInfo {
        shell: Some(false),
        value: Some("printf".into()),
        arguments: vec![
            "printf".into(),
            "%s|%s\n".into(),
            "a b".into(),
            "$HOME".into(),
        ],
        ..Default::default()
    };
    let agent = FakeAgent::start(task("argv", command)).await;
    let dir = sandbox("argv");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));

    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    agent
        .wait_for(TaskState::TaskFinished, Duration::ZERO)
        .await;
    // No shell: arguments arrive verbatim. The task inherits the executor's stdout.
    assert_eq!(
        std::fs::read_to_string(dir.join("stdout")).unwrap(),
        "a b|$HOME\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_environment_reaches_the_command() {
    let mut command =
        shell("echo \"$GREETING/$MESOS_EXECUTOR_ID/$MESOS_FRAMEWORK_ID\" > env_out; pwd > pwd_out");
    command.environment = Some(v1::Environment {
        variables: vec![v1::environment::Variable {
            name: "GREETING".into(),
            value: Some("hello world".into()),
            ..Default::default()
        }],
    });
    let agent = FakeAgent::start(task("env", command)).await;
    let dir = sandbox("env");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));

    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    agent
        .wait_for(TaskState::TaskFinished, Duration::ZERO)
        .await;
    assert_eq!(
        std::fs::read_to_string(dir.join("env_out")).unwrap(),
        "hello world/executor-1/framework-1\n"
    );
    // The command runs in the sandbox.
    assert_eq!(
        Path::new(std::fs::read_to_string(dir.join("pwd_out")).unwrap().trim())
            .canonicalize()
            .unwrap(),
        dir.canonicalize().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_binary_fails_the_task_with_a_clear_message() {
    let command = v1::CommandInfo {
        shell: Some(false),
        value: Some("/no/such/binary".into()),
        ..Default::default()
    };
    let agent = FakeAgent::start(task("missing", command)).await;
    let dir = sandbox("missing");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));

    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    assert_eq!(
        agent.states(),
        vec![TaskState::TaskStarting, TaskState::TaskFailed]
    );
    let failed = agent.wait_for(TaskState::TaskFailed, Duration::ZERO).await;
    let message = failed.message.unwrap();
    assert!(
        message.starts_with("Failed to launch the command: '/no/such/binary': "),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_group_shuts_the_command_executor_down() {
    // Mesos's command executor logs "LAUNCH_GROUP event is not supported" and shuts down.
    let agent = FakeAgent::start(task("group", shell("true"))).await;
    agent.with(|s| s.launch_group = true);
    let dir = sandbox("group");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));
    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    assert!(agent.states().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_updates_are_resent_on_resubscription() {
    // §8.2: the agent's stream breaks before RUNNING is acknowledged; a checkpointing
    // executor resubscribes (through MESOS_SLAVE_PID's `/slave(1)/api/v1/executor` here) and
    // SUBSCRIBE carries the task and both updates, with their original uuids.
    let agent = FakeAgent::start(task("flaky", shell("sleep 1"))).await;
    agent.with(|s| {
        s.acknowledge = false;
        s.break_on = Some(TaskState::TaskRunning);
    });
    let dir = sandbox("resubscribe");
    let mut env: Vec<(String, String)> = mesos_env(&agent, &dir)
        .into_iter()
        .filter(|(k, _)| k != "MESOS_AGENT_ENDPOINT" && k != "MESOS_CHECKPOINT")
        .collect();
    env.push(("MESOS_CHECKPOINT".into(), "1".into()));
    env.push(("MESOS_RECOVERY_TIMEOUT".into(), "10secs".into()));
    env.push(("MESOS_SUBSCRIPTION_BACKOFF_MAX".into(), "100ms".into()));
    let mut executor = start_executor(&dir, &env);

    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    let (subscribes, updates) = agent.with(|s| (s.subscribes.clone(), s.updates.clone()));
    assert_eq!(subscribes.len(), 2, "one resubscription");
    let resent: Vec<_> = subscribes[1]
        .unacknowledged_updates
        .iter()
        .map(|u| (u.status.state, u.status.uuid.clone()))
        .collect();
    let first_two: Vec<_> = updates[..2]
        .iter()
        .map(|u| (u.state, u.uuid.clone()))
        .collect();
    assert_eq!(resent, first_two);
    assert_eq!(subscribes[1].unacknowledged_tasks.len(), 1);
    assert_eq!(subscribes[1].unacknowledged_tasks[0].task_id.value, "flaky");
    assert_eq!(
        agent.states(),
        vec![
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_checkpointing_a_lost_agent_kills_the_task_and_the_executor_exits() {
    let agent = FakeAgent::start(task("orphan", shell("echo $$ > pid; exec sleep 60"))).await;
    let dir = sandbox("orphan");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));
    agent
        .wait_for(TaskState::TaskRunning, Duration::from_secs(10))
        .await;
    let pgid = read_pid(&dir.join("pid")).await;
    agent.with(|s| s.stream = None);
    assert_eq!(exit_code(&mut executor, &dir).await, 1);
    assert!(!group_alive(pgid), "process group {pgid} survived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_speaks_json_too() {
    // The library on its own, in JSON: SUBSCRIBED data, LAUNCH, UPDATE kept until acked.
    let agent = FakeAgent::start(task("json", shell("true"))).await;
    let dir = sandbox("json");
    let env = ExecutorEnv::from_env(mesos_env(&agent, &dir)).unwrap();
    let mut connection = Connection::new(&env, Format::Json);
    let subscribed = connection.subscribe(Vec::new(), Vec::new()).await.unwrap();
    assert_eq!(subscribed.agent_info.hostname, "fake-agent");
    assert_eq!(subscribed.executor_info.executor_id.value, "executor-1");
    let launch = connection.next_event().await.unwrap();
    assert_eq!(launch.launch.unwrap().task.task_id.value, "json");

    let uuid = connection
        .update(v1::TaskStatus {
            task_id: v1::TaskId {
                value: "json".into(),
            },
            state: TaskState::TaskRunning as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(uuid.len(), 16);
    assert_eq!(connection.unacknowledged_updates().len(), 1);
    let acked = connection.next_event().await.unwrap();
    assert_eq!(acked.acknowledged.unwrap().uuid, uuid);
    assert!(connection.unacknowledged_updates().is_empty());
    connection.message(b"hello".to_vec()).await.unwrap();
    connection.heartbeat().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_2xx_answers_carry_the_agent_text() {
    let dir = sandbox("status");
    let agent = FakeAgent::start(task("x", shell("true"))).await;
    let mut env = ExecutorEnv::from_env(mesos_env(&agent, &dir)).unwrap();
    env.api_path = "/api/v1/nowhere".into();
    let mut connection = Connection::new(&env, Format::Protobuf);
    match connection.subscribe(Vec::new(), Vec::new()).await {
        Err(remesos::client::Error::Status { status, .. }) => assert_eq!(status, 404),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_flag_is_switched_to_and_command_user_is_the_agents_to_apply() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    // SAFETY: getpwnam returns a pointer into static storage or null; read at once.
    let (uid, gid) = unsafe {
        let pw = libc::getpwnam(c"nobody".as_ptr());
        assert!(!pw.is_null());
        ((*pw).pw_uid, (*pw).pw_gid)
    };
    // `--user` (the agent passes it for a task in an image) is switched to.
    let agent = FakeAgent::start(task("user", shell("id -u; id -g"))).await;
    let dir = sandbox("user");
    let mut executor = start_executor_with(&dir, &mesos_env(&agent, &dir), &["--user=nobody"]);
    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    agent
        .wait_for(TaskState::TaskFinished, Duration::ZERO)
        .await;
    assert_eq!(
        std::fs::read_to_string(dir.join("stdout")).unwrap(),
        format!("{uid}\n{gid}\n")
    );

    // `CommandInfo.user` alone is not: the agent applied it (or, with
    // `--switch_user=false`, did not) when it started the executor, as Mesos's command
    // executor leaves it alone.
    let mut command = shell("id -u");
    command.user = Some("nobody".into());
    let agent = FakeAgent::start(task("cmduser", command)).await;
    let dir = sandbox("cmduser");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));
    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    agent
        .wait_for(TaskState::TaskFinished, Duration::ZERO)
        .await;
    assert_eq!(std::fs::read_to_string(dir.join("stdout")).unwrap(), "0\n");

    // An unknown user fails the task before anything runs.
    let agent = FakeAgent::start(task("nouser", shell("true"))).await;
    let dir = sandbox("nouser");
    let mut executor = start_executor_with(
        &dir,
        &mesos_env(&agent, &dir),
        &["--user=no-such-user-here"],
    );
    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    let failed = agent.wait_for(TaskState::TaskFailed, Duration::ZERO).await;
    assert_eq!(
        failed.message.as_deref(),
        Some("Failed to launch the command: failed to find user 'no-such-user-here'")
    );
}

/// As Mesos's command executor, which forwards TASK_STARTING and forks the command without
/// waiting for the agent's answer: the command runs while STARTING is unanswered, and
/// RUNNING is sent only once STARTING was answered (updates go one at a time, in order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_starts_while_starting_is_in_flight_and_running_waits_for_it() {
    let agent = FakeAgent::start(task("early", shell("touch started"))).await;
    agent.with(|s| s.hold_starting = Some(Duration::from_secs(3)));
    let dir = sandbox("early");
    let mut executor = start_executor(&dir, &mesos_env(&agent, &dir));

    agent
        .wait_for(TaskState::TaskStarting, Duration::from_secs(10))
        .await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while !dir.join("started").exists() {
        assert!(
            Instant::now() < deadline,
            "the command did not run while TASK_STARTING was unanswered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(agent.states(), vec![TaskState::TaskStarting]);
    assert_eq!(exit_code(&mut executor, &dir).await, 0);
    assert_eq!(agent.states(), FINISHED_UPDATES);
}
