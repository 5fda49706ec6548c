//! A custom executor written in Rust on `remesos::client::executor`, run by a real `remesos
//! agent` (reference/mesos-contract.md §3.3, §4.1): several tasks under one executor, the
//! Mesos executor environment, framework messages both ways, KILL, and the FAILURE event the
//! framework gets when the executor exits.
//!
//! The executor is this test binary itself: the agent starts it as
//! `custom_executor --ignored --exact executor_process`, and that entry point (ignored in a
//! normal run, where it does nothing) speaks the v1 executor API.

mod support;

use std::time::Duration;

use remesos::client::Format;
use remesos::client::executor::{Connection, ExecutorEnv, event_type};
use remesos_proto::v1;
use support::{TestFramework, free_port, spawn_agent, spawn_master};
use v1::TaskState;
use v1::executor::event::Type as EventType;
use v1::scheduler as sched;

/// The executor's main, when the agent runs this binary as one (not a test of its own).
#[test]
#[ignore = "the entry point of the custom executor the agent starts"]
fn executor_process() {
    if std::env::var("MESOS_EXECUTOR_ID").is_err() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run_executor());
}

async fn run_executor() {
    let env = ExecutorEnv::from_env(std::env::vars()).expect("the Mesos executor environment");
    let mut connection = Connection::new(&env, Format::Json);
    connection.subscribe(vec![], vec![]).await.unwrap();
    // What the agent's environment told us, reported in each RUNNING update.
    let sandbox_ok = std::env::var("MESOS_SANDBOX")
        .is_ok_and(|s| std::env::current_dir().unwrap() == std::path::Path::new(&s));
    let endpoint = std::env::var("MESOS_AGENT_ENDPOINT").unwrap_or_default();
    let status = |task_id: &str, state: TaskState, message: String| v1::TaskStatus {
        task_id: v1::TaskId {
            value: task_id.into(),
        },
        state: state as i32,
        message: Some(message),
        ..Default::default()
    };
    loop {
        let event = connection.next_event().await.unwrap();
        match event_type(&event) {
            Some(EventType::Launch) => {
                let task = event.launch.unwrap().task;
                let message = format!("sandbox_ok={sandbox_ok} endpoint={endpoint}");
                connection
                    .update(status(&task.task_id.value, TaskState::TaskRunning, message))
                    .await
                    .unwrap();
            }
            Some(EventType::Message) => {
                let data = String::from_utf8(event.message.unwrap().data).unwrap();
                if let Some(task_id) = data.strip_prefix("finish:") {
                    connection
                        .update(status(task_id, TaskState::TaskFinished, "done".into()))
                        .await
                        .unwrap();
                    connection
                        .message(format!("finished:{task_id}").into_bytes())
                        .await
                        .unwrap();
                } else if data == "exit" {
                    std::process::exit(0);
                }
            }
            Some(EventType::Kill) => {
                let task_id = event.kill.unwrap().task_id.value;
                connection
                    .update(status(&task_id, TaskState::TaskKilled, "killed".into()))
                    .await
                    .unwrap();
            }
            Some(EventType::Shutdown) => std::process::exit(0),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_executor_runs_tasks_exchanges_messages_and_its_exit_is_reported() {
    let dir = std::env::temp_dir().join(format!("remesos-custom-executor-{}", free_port()));
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let _agent = spawn_agent(&master, port, &dir.join("agent"), &[]);
    let agent_id = v1::AgentId {
        value: support::registered_agent_state(&agent).await["id"]
            .as_str()
            .unwrap()
            .to_string(),
    };
    let mut framework = TestFramework::subscribe(&master, "rust-executor", false).await;
    let offer = framework.next_offer().await;
    let role = offer
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.clone())
        .unwrap_or_else(|| "*".into());
    let mut resources = remesos::resources::Resources::parse("cpus:0.1;mem:32", "*").unwrap();
    resources.allocate(&role);
    let exe = std::env::current_exe().unwrap().display().to_string();
    let executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "rust-exec".into(),
        },
        command: Some(v1::CommandInfo {
            shell: Some(false),
            value: Some(exe.clone()),
            arguments: [
                exe.as_str(),
                "--ignored",
                "--exact",
                "executor_process",
                "--nocapture",
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        }),
        resources: resources.into_protos(),
        ..Default::default()
    };
    let tasks = ["t1", "t2"]
        .map(|id| {
            let mut task = support::command_task(id, &offer, "cpus:0.1;mem:32", "unused");
            task.command = None;
            task.executor = Some(executor.clone());
            task
        })
        .to_vec();
    framework.launch(&offer, tasks).await;
    for _ in 0..2 {
        let status = framework.next_update(Duration::from_secs(60)).await;
        assert_eq!(status.state, TaskState::TaskRunning as i32, "{status:?}");
        assert_eq!(
            status.executor_id.as_ref().map(|e| e.value.as_str()),
            Some("rust-exec")
        );
        assert_eq!(
            status.message.as_deref(),
            Some(format!("sandbox_ok=true endpoint={agent}").as_str())
        );
    }

    // Scheduler -> executor -> scheduler.
    let message = |data: &str| sched::Call {
        r#type: Some(sched::call::Type::Message as i32),
        message: Some(sched::call::Message {
            agent_id: agent_id.clone(),
            executor_id: v1::ExecutorId {
                value: "rust-exec".into(),
            },
            data: data.as_bytes().to_vec(),
        }),
        ..Default::default()
    };
    framework.sub.call(message("finish:t1")).await.unwrap();
    let mut finished = false;
    let mut replied = false;
    while !(finished && replied) {
        let event = tokio::time::timeout(Duration::from_secs(30), framework.sub.next_event())
            .await
            .expect("an event in time")
            .unwrap();
        if let Some(m) = &event.message {
            assert_eq!(m.data, b"finished:t1");
            assert_eq!(m.executor_id.value, "rust-exec");
            replied = true;
        }
        if let Some(update) = &event.update {
            let status = &update.status;
            assert_eq!(status.task_id.value, "t1");
            assert_eq!(status.state, TaskState::TaskFinished as i32);
            let ack = sched::Call {
                r#type: Some(sched::call::Type::Acknowledge as i32),
                acknowledge: Some(sched::call::Acknowledge {
                    agent_id: agent_id.clone(),
                    task_id: status.task_id.clone(),
                    uuid: status.uuid.clone().unwrap(),
                }),
                ..Default::default()
            };
            framework.sub.call(ack).await.unwrap();
            finished = true;
        }
    }

    framework.kill("t2", &agent_id).await;
    let status = framework.next_update(Duration::from_secs(30)).await;
    assert_eq!(
        (status.task_id.value.as_str(), status.state),
        ("t2", TaskState::TaskKilled as i32)
    );

    // The executor exits: the framework hears of it (FAILURE, reference §3.2).
    framework.sub.call(message("exit")).await.unwrap();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), framework.sub.next_event())
            .await
            .expect("a FAILURE event in time")
            .unwrap();
        if let Some(failure) = event.failure {
            assert_eq!(
                failure.executor_id.map(|e| e.value).as_deref(),
                Some("rust-exec")
            );
            assert_eq!(failure.status, Some(0));
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
