//! A custom executor written in Rust on `remesos::client::executor`, run by a real `remesos
//! agent` (reference/mesos-contract.md §3.3, §4.1): several tasks under one executor, the
//! Mesos executor environment, framework messages both ways, KILL, and the FAILURE event the
//! framework gets when the executor exits.
//!
//! The executor is this test binary itself: the agent starts it as
//! `custom_executor --ignored --exact executor_process`, and that entry point (ignored in a
//! normal run, where it does nothing) speaks the v1 executor API.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

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

/// A master and one agent, `remesos` processes, in a fresh work dir.
struct Cluster {
    dir: std::path::PathBuf,
    _master: support::Daemon,
    master: String,
    _agent: support::Daemon,
    agent: String,
    agent_id: v1::AgentId,
}

async fn cluster(name: &str) -> Cluster {
    let dir = std::env::temp_dir().join(format!("remesos-{name}-{}", free_port()));
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
    Cluster {
        dir,
        _master,
        master,
        _agent,
        agent,
        agent_id,
    }
}

/// An executor `id` the agent starts as `program` (this test binary: `executor_process`),
/// with resources of `offer`.
fn executor_info(id: &str, program: &str, offer: &v1::Offer) -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        executor_id: v1::ExecutorId { value: id.into() },
        command: Some(v1::CommandInfo {
            shell: Some(false),
            value: Some(program.into()),
            arguments: [
                program,
                "--ignored",
                "--exact",
                "executor_process",
                "--nocapture",
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        }),
        resources: support::offer_resources(offer, "cpus:0.1;mem:32"),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_executor_runs_tasks_exchanges_messages_and_its_exit_is_reported() {
    let cluster = cluster("custom-executor").await;
    let (master, agent, agent_id) = (
        cluster.master.as_str(),
        cluster.agent.as_str(),
        &cluster.agent_id,
    );
    let mut framework = TestFramework::subscribe(master, "rust-executor", false).await;
    let offer = framework.next_offer().await;
    let exe = std::env::current_exe().unwrap().display().to_string();
    let executor = executor_info("rust-exec", &exe, &offer);
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

    framework.kill("t2", agent_id).await;
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
    let _ = std::fs::remove_dir_all(&cluster.dir);
}

/// Opens the master's operator event stream (`POST /api/v1 {"type":"SUBSCRIBE"}`, JSON).
async fn operator_events(master: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(master).await.unwrap();
    let body = r#"{"type":"SUBSCRIBE"}"#;
    let request = format!(
        "POST /api/v1 HTTP/1.1\r\nHost: {master}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Reads `stream` until its text contains every one of `wanted`; panics if it ends first
/// (or nothing comes for a minute: a hang guard, not a timing assertion).
async fn read_until_all(stream: &mut tokio::net::TcpStream, wanted: &[&str]) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if wanted.iter().all(|w| text.contains(w)) {
            return text;
        }
        let n = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{wanted:?} never came on the operator stream: {text}"))
            .unwrap();
        assert!(n > 0, "the operator stream ended: {text}");
        seen.extend_from_slice(&buf[..n]);
    }
}

/// Issue 12 item 3: the updates of a task that reached its executor carry the executor's
/// container in `TaskStatus.container_status`, as Mesos's agent fills it
/// (`Slave::statusUpdate` / `Slave::_statusUpdate`, src/slave/slave.cpp): the container
/// id the agent's `/state` shows for that executor, and, the container having no network
/// of its own, the agent's IP in `network_infos[].ip_addresses[]`. The master keeps and
/// shows it as Mesos does: the framework's UPDATE, `/master/tasks` and `/master/state`
/// (`json(JSON::ObjectWriter*, const TaskStatus&)`, src/common/http.cpp), GET_TASKS and
/// the operator stream's TASK_UPDATED. An update the agent generates for a task whose
/// executor never started carries none (Mesos: the container is unknown). Both a command
/// task (the agent's command executor) and a custom executor's task are checked, and the
/// agent's GET_CONTAINERS shows the same containers' status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_statuses_carry_the_executors_container_and_the_agent_ip() {
    let cluster = cluster("container-status").await;
    let (master, agent, agent_id) = (
        cluster.master.as_str(),
        cluster.agent.as_str(),
        &cluster.agent_id,
    );
    let mut operator = operator_events(master).await;
    let mut framework = TestFramework::subscribe(master, "container-status", false).await;
    let offer = framework.next_offer().await;
    let exe = std::env::current_exe().unwrap().display().to_string();
    let executor = |id: &str, program: &str| executor_info(id, program, &offer);
    let command = support::command_task("cmd", &offer, "cpus:0.1;mem:32", "sleep 600");
    let mut custom = support::command_task("custom", &offer, "cpus:0.1;mem:32", "unused");
    custom.command = None;
    custom.executor = Some(executor("custom-exec", &exe));
    let mut broken = support::command_task("broken", &offer, "cpus:0.1;mem:32", "unused");
    broken.command = None;
    broken.executor = Some(executor(
        "broken-exec",
        "/nonexistent/remesos-container-status-executor",
    ));
    framework
        .launch(&offer, vec![command, custom, broken])
        .await;

    // Every update until both tasks run and the broken one ended.
    let mut updates: Vec<v1::TaskStatus> = Vec::new();
    let running = |updates: &[v1::TaskStatus], id: &str| {
        updates
            .iter()
            .any(|s| s.task_id.value == id && s.state == TaskState::TaskRunning as i32)
    };
    while !(running(&updates, "cmd")
        && running(&updates, "custom")
        && updates.iter().any(|s| s.task_id.value == "broken"))
    {
        updates.push(framework.next_update(Duration::from_secs(60)).await);
    }

    // The agent's containers, by executor id.
    let state = support::registered_agent_state(agent).await;
    let container_of = |executor_id: &str| -> String {
        state["frameworks"][0]["executors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == executor_id)
            .unwrap_or_else(|| panic!("executor {executor_id} in {state}"))["container"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let containers = [
        ("cmd", container_of("cmd")),
        ("custom", container_of("custom-exec")),
    ];
    for (task, container) in &containers {
        let from_executor: Vec<&v1::TaskStatus> = updates
            .iter()
            .filter(|s| &s.task_id.value == task)
            .collect();
        assert!(!from_executor.is_empty());
        for status in from_executor {
            let c = status
                .container_status
                .as_ref()
                .unwrap_or_else(|| panic!("no container_status in {status:?}"));
            assert_eq!(
                c.container_id
                    .as_ref()
                    .map(|id| (id.value.as_str(), &id.parent)),
                Some((container.as_str(), &None)),
                "{status:?}"
            );
            let ips: Vec<&str> = c
                .network_infos
                .iter()
                .flat_map(|n| &n.ip_addresses)
                .filter_map(|a| a.ip_address.as_deref())
                .collect();
            assert_eq!(ips, ["127.0.0.1"], "the agent's --ip: {status:?}");
        }
    }
    let broken_status = updates
        .iter()
        .find(|s| s.task_id.value == "broken")
        .unwrap();
    assert_eq!(
        broken_status.source,
        Some(v1::task_status::Source::Agent as i32),
        "{broken_status:?}"
    );
    assert_eq!(broken_status.container_status, None, "{broken_status:?}");

    // The master shows it: /master/tasks and /master/state (Mesos's JSON of TaskStatus).
    let http = remesos::client::HttpClient::default();
    let (_, body) = http
        .get(&format!("http://{master}/master/tasks"))
        .await
        .unwrap();
    let tasks: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let (_, body) = http
        .get(&format!("http://{master}/master/state"))
        .await
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let (status, get_tasks) = support::operator_call(master, r#"{"type":"GET_TASKS"}"#).await;
    assert_eq!(status, 200, "{get_tasks}");
    for (task, container) in &containers {
        let expected = serde_json::json!({
            "container_id": {"value": container},
            "network_infos": [{"ip_addresses": [{"protocol": "IPv4", "ip_address": "127.0.0.1"}]}],
        });
        let last_status_json = |tasks: &serde_json::Value| -> serde_json::Value {
            let task = tasks
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["id"] == *task || t["task_id"]["value"] == *task)
                .unwrap_or_else(|| panic!("{task} in {tasks}"));
            let mut c =
                task["statuses"].as_array().unwrap().last().unwrap()["container_status"].clone();
            // The executor's pid is the agent's to know; its presence is enough here.
            assert!(c["executor_pid"].as_u64().is_some_and(|p| p > 0), "{c}");
            c.as_object_mut().unwrap().remove("executor_pid");
            c
        };
        assert_eq!(last_status_json(&tasks["tasks"]), expected, "/master/tasks");
        assert_eq!(
            last_status_json(&state["frameworks"][0]["tasks"]),
            expected,
            "/master/state"
        );
        assert_eq!(
            last_status_json(&get_tasks["get_tasks"]["tasks"]),
            expected,
            "GET_TASKS"
        );
    }
    // The agent's GET_CONTAINERS reports each container's status as its containerizer
    // does (Mesos's `getContainers` asks `containerizer->status`): id and executor pid.
    let (status, containers_json) =
        support::operator_call(agent, r#"{"type":"GET_CONTAINERS"}"#).await;
    assert_eq!(status, 200, "{containers_json}");
    for (_, container) in &containers {
        let listed = containers_json["get_containers"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["container_id"]["value"] == *container)
            .unwrap_or_else(|| panic!("{container} in {containers_json}"));
        assert_eq!(
            listed["container_status"]["container_id"]["value"], *container,
            "{listed}"
        );
        assert!(
            listed["container_status"]["executor_pid"]
                .as_u64()
                .is_some_and(|p| p > 0),
            "{listed}"
        );
    }
    // And TASK_UPDATED on the operator stream carries the containers' ids.
    let text = read_until_all(
        &mut operator,
        &[
            "TASK_UPDATED",
            containers[0].1.as_str(),
            containers[1].1.as_str(),
        ],
    )
    .await;
    assert!(text.contains("\"ip_address\":\"127.0.0.1\""), "{text}");

    // Done: the tasks end, the custom executor exits.
    for task in ["cmd", "custom"] {
        framework.kill(task, agent_id).await;
    }
    let mut killed = 0;
    while killed < 2 {
        let status = framework.next_update(Duration::from_secs(60)).await;
        if status.state == TaskState::TaskKilled as i32 {
            killed += 1;
        }
    }
    let exit = sched::Call {
        r#type: Some(sched::call::Type::Message as i32),
        message: Some(sched::call::Message {
            agent_id: agent_id.clone(),
            executor_id: v1::ExecutorId {
                value: "custom-exec".into(),
            },
            data: b"exit".to_vec(),
        }),
        ..Default::default()
    };
    framework.sub.call(exit).await.unwrap();
    let _ = std::fs::remove_dir_all(&cluster.dir);
}
