//! End to end: the `remesos master` binary, started as a user would, serves a framework
//! written in Python against Mesos's scheduler HTTP API docs (tests/python/docs_framework.py,
//! standard library only) with agents simulated over the real gRPC service.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use remesos::client::HttpClient;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_healthy(master: &str) {
    let http = HttpClient::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http.get(&format!("http://{master}/health")).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the master at {master} did not become healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_docs_framework_runs_against_the_master_binary() {
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let work_dir = std::env::temp_dir().join(format!("remesos-master-binary-{port}"));
    let _daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--work_dir={}", work_dir.display()))
            // Mesos flags also come from the environment (reference §7).
            .env("MESOS_ALLOCATION_INTERVAL", "100ms")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start remesos master"),
    );
    wait_healthy(&master).await;
    let _a = support::start_agent(&master, "host-a", "cpus:2;mem:1024").await;
    let _b = support::start_agent(&master, "host-b", "cpus:2;mem:1024").await;

    let stdout = support::run_python_framework(
        "python3",
        "docs_framework.py",
        &master,
        &["--tasks", "4", "--timeout", "60"],
    )
    .await;
    assert_eq!(stdout.matches("TASK_FINISHED").count(), 4, "{stdout}");

    // The framework tore itself down: it is a completed framework with its 4 tasks.
    let (_, body) = HttpClient::default()
        .get(&format!("http://{master}/master/state"))
        .await
        .unwrap();
    let state: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(state["frameworks"].as_array().unwrap().len(), 0);
    let completed = &state["completed_frameworks"][0];
    assert_eq!(completed["name"], "Example HTTP Framework");
    assert_eq!(completed["completed_tasks"].as_array().unwrap().len(), 4);
    assert_eq!(state["flags"]["allocation_interval"], "100ms");
    let _ = std::fs::remove_dir_all(work_dir);
}

/// Issue 12 item 4: a framework's first HEARTBEAT follows its SUBSCRIBED at once, as
/// Mesos's master starts each framework's heartbeater right after SUBSCRIBED without a
/// delay (`Framework::heartbeat`, src/master/framework.cpp; src/common/heartbeater.hpp).
/// Clients that read the RecordIO stream line by line deliver a record only once the next
/// one arrives; on a master with nothing to offer, remesos's first HEARTBEAT came with a
/// master-wide 15 s tick, so their SUBSCRIBED callback waited for it.
///
/// No clock is read: after SUBSCRIBED the framework makes a call that the master answers
/// at once with an event (explicit reconciliation of a task nobody knows: TASK_LOST,
/// reference §8.3). The HEARTBEAT must already be ahead of that answer in the stream; on a
/// master that sends the first one on its own tick, the answer comes first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_heartbeat_follows_subscribed_before_any_later_event() {
    use remesos::client::Format;
    use remesos::client::scheduler::Subscription;
    use remesos_proto::v1;
    use v1::scheduler::{self as sched, event::Type as EventType};

    let work_dir = std::env::temp_dir().join(format!("remesos-first-heartbeat-{}", free_port()));
    let (_daemon, master) = support::spawn_master(&work_dir).await;

    // No agents: nothing will be offered. JSON, as the line-reading libraries speak it.
    let mut sub = Subscription::subscribe(
        &master,
        sched::call::Subscribe {
            framework_info: v1::FrameworkInfo {
                user: "nobody".into(),
                name: "first-heartbeat".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        Format::Json,
    )
    .await
    .expect("SUBSCRIBED");
    let reconcile = sched::Call {
        r#type: Some(sched::call::Type::Reconcile as i32),
        reconcile: Some(sched::call::Reconcile {
            tasks: vec![sched::call::reconcile::Task {
                task_id: v1::TaskId {
                    value: "nobody-knows".into(),
                },
                agent_id: None,
            }],
        }),
        ..Default::default()
    };
    assert_eq!(sub.call(reconcile).await.unwrap(), 202);
    let mut types = Vec::new();
    for _ in 0..2 {
        let event = sub.next_event().await.expect("an event");
        types.push(EventType::try_from(event.r#type.unwrap_or_default()).unwrap());
    }
    assert_eq!(
        types,
        [EventType::Heartbeat, EventType::Update],
        "SUBSCRIBED, then HEARTBEAT, then the reconciliation's answer"
    );
    let _ = std::fs::remove_dir_all(work_dir);
}
