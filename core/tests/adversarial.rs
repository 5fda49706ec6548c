//! The attacks of issue 11, run as an attacker on the network would: plain HTTP to a real
//! master's and a real agent's ports, no credentials. Each asserts the documented error,
//! that nothing changed (no task state faked, nothing written outside the work dirs), and
//! that both daemons are healthy afterwards.
//!
//! What is attacked here: forged executor calls (ids that are paths, other executors'
//! tasks, unknown tasks, calls from another host), path traversal in every id the
//! scheduler API takes, oversized and deeply nested bodies. The fetcher's and `/files`'s
//! attacks live in `agent_sandbox.rs`, the exhaustion ones (streams that never read,
//! slowloris) in `master_binary.rs`, both against real daemons too.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use remesos_proto::v1;
use serde_json::json;
use support::{
    Daemon, TestFramework, command_task, free_port, post_json, spawn_agent, spawn_master,
};

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "remesos-adversarial-{tag}-{}",
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A master and an agent (as root, like a production agent), a framework with one
/// long-running command task, and the ids an attacker reads off the agent's `/state`.
struct Cluster {
    _master: Daemon,
    master: String,
    _agent: Daemon,
    agent: String,
    framework: TestFramework,
    framework_id: String,
    executor_id: String,
    agent_id: v1::AgentId,
    _work: TempDir,
}

impl Cluster {
    async fn start(tag: &str) -> Cluster {
        let work = TempDir::new(tag);
        let (master_daemon, master) = spawn_master(work.path()).await;
        let port = free_port();
        let agent_daemon = spawn_agent(&master, port, &work.path().join("agent"), &[]);
        let agent = format!("127.0.0.1:{port}");
        support::registered_agent_state(&agent).await;
        let mut framework = TestFramework::subscribe(&master, tag, true).await;
        let offer = framework.next_offer().await;
        let task = command_task("victim", &offer, "cpus:0.1;mem:32", "sleep 600");
        framework.launch(&offer, vec![task]).await;
        running(&mut framework, "victim").await;
        let state = support::registered_agent_state(&agent).await;
        let fw = &state["frameworks"][0];
        Cluster {
            _master: master_daemon,
            master,
            _agent: agent_daemon,
            agent,
            framework_id: fw["id"].as_str().unwrap().to_string(),
            executor_id: fw["executors"][0]["id"].as_str().unwrap().to_string(),
            agent_id: offer.agent_id.clone(),
            framework,
            _work: work,
        }
    }

    /// A forged executor UPDATE for `task_id` in the name of the live executor.
    async fn forged_update(&self, task_id: &str, state: &str) -> (u16, String) {
        let call = json!({
            "type": "UPDATE",
            "framework_id": {"value": self.framework_id},
            "executor_id": {"value": self.executor_id},
            "update": {"status": {
                "task_id": {"value": task_id},
                "state": state,
                "source": "SOURCE_EXECUTOR",
                "uuid": base64_uuid(),
            }},
        });
        post_json(&self.agent, "/api/v1/executor", &call.to_string()).await
    }

    /// Both daemons answer `/health` with 200 and the master still serves its state.
    async fn assert_healthy(&self) {
        for daemon in [&self.master, &self.agent] {
            let http = remesos::client::HttpClient::default();
            let (status, _) = http
                .get(&format!("http://{daemon}/health"))
                .await
                .expect("health answers");
            assert_eq!(status, 200, "{daemon} is healthy");
        }
        let (status, _) = support::operator_call(&self.master, r#"{"type":"GET_STATE"}"#).await;
        assert_eq!(status, 200, "the master still serves GET_STATE");
    }

    /// No status update reaches the framework for a while: nothing was faked.
    async fn assert_no_update(&mut self) {
        let quiet = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                let event = self.framework.sub.next_event().await.unwrap();
                if let Some(update) = event.update {
                    return update.status;
                }
            }
        })
        .await;
        assert!(
            quiet.is_err(),
            "the framework saw a forged update: {quiet:?}"
        );
    }
}

/// Reads updates until `task` is TASK_RUNNING (after TASK_STARTING).
async fn running(framework: &mut TestFramework, task: &str) {
    loop {
        let update = framework.next_update(Duration::from_secs(60)).await;
        assert_eq!(update.task_id.value, task, "{update:?}");
        match v1::TaskState::try_from(update.state) {
            Ok(v1::TaskState::TaskRunning) => return,
            Ok(v1::TaskState::TaskStarting) => continue,
            other => panic!("{task}: {other:?} {update:?}"),
        }
    }
}

fn base64_uuid() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes())
}

/// Issue 11, defect 1: `status.task_id` = an absolute path or `../../..` made the agent,
/// as root, create `<that path>/task.updates` holding the caller's bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_executor_updates_with_paths_as_task_ids_write_nothing() {
    let mut cluster = Cluster::start("paths").await;
    let target = TempDir::new("target");
    let absolute = target.path().join("owned");
    let relative = format!("../../../../../../../../../..{}", absolute.display());
    for task_id in [
        absolute.display().to_string(),
        relative,
        "..".into(),
        ".".into(),
    ] {
        let (status, body) = cluster.forged_update(&task_id, "TASK_FINISHED").await;
        assert_eq!(status, 400, "{task_id}: {body}");
        assert!(body.contains("'TaskStatus.task_id' is invalid"), "{body}");
    }
    assert!(
        !absolute.exists(),
        "nothing was written outside the work dir: {}",
        absolute.display()
    );
    cluster.assert_no_update().await;
    cluster.assert_healthy().await;
}

/// Beyond Mesos: an executor reports on its own tasks only; an update for a task that
/// never existed or belongs to another executor is refused (403) and reaches no framework.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_updates_for_unknown_or_foreign_tasks_are_refused() {
    let mut cluster = Cluster::start("foreign").await;
    let offer = cluster.framework.next_offer().await;
    let other = command_task("other", &offer, "cpus:0.1;mem:32", "sleep 600");
    cluster.framework.launch(&offer, vec![other]).await;
    running(&mut cluster.framework, "other").await;

    // The executor of `victim` speaks for `other`, and for a task nobody launched.
    for task_id in ["other", "never-launched"] {
        let (status, body) = cluster.forged_update(task_id, "TASK_FINISHED").await;
        assert_eq!(status, 403, "{task_id}: {body}");
        assert!(body.contains("is not a task of executor"), "{body}");
    }
    cluster.assert_no_update().await;

    // The master still has both tasks running.
    let (_, tasks) = support::operator_call(&cluster.master, r#"{"type":"GET_TASKS"}"#).await;
    let states: Vec<&str> = tasks["get_tasks"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["TASK_RUNNING", "TASK_RUNNING"], "{tasks}");
    cluster.assert_healthy().await;
}

/// Calls naming frameworks or executors by paths find nothing (Mesos's texts), and change
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_calls_with_traversal_in_ids_are_refused() {
    let mut cluster = Cluster::start("ids").await;
    for (fid, eid, expected) in [
        (
            "../../..",
            cluster.executor_id.clone(),
            "Framework cannot be found",
        ),
        (
            cluster.framework_id.as_str(),
            "../../../etc".to_string(),
            "Executor cannot be found",
        ),
        ("/", "/".to_string(), "Framework cannot be found"),
    ] {
        for ty in ["SUBSCRIBE", "UPDATE", "MESSAGE"] {
            let call = json!({
                "type": ty,
                "framework_id": {"value": fid},
                "executor_id": {"value": eid},
                "subscribe": {},
                "message": {"data": "aGk="},
                "update": {"status": {"task_id": {"value": "victim"}, "state": "TASK_FINISHED",
                                      "source": "SOURCE_EXECUTOR", "uuid": base64_uuid()}},
            });
            let (status, body) =
                post_json(&cluster.agent, "/api/v1/executor", &call.to_string()).await;
            assert_eq!((status, body.as_str()), (400, expected), "{ty} {fid} {eid}");
        }
    }
    cluster.assert_no_update().await;
    cluster.assert_healthy().await;
}

/// The scheduler API: every id a framework names is checked by Mesos's rules before it
/// reaches the master's state or an agent (TASK_ERROR for tasks, 400 for the framework).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_calls_with_paths_as_ids_are_refused() {
    let mut cluster = Cluster::start("sched").await;
    let offer = cluster.framework.next_offer().await;
    let mut tasks = Vec::new();
    for (i, id) in ["../../../tmp/x", "/etc", "..", "a\nb"]
        .into_iter()
        .enumerate()
    {
        let mut task = command_task(id, &offer, "cpus:0.01;mem:1", "true");
        task.name = format!("bad-{i}");
        tasks.push(task);
    }
    let mut with_executor = command_task("fine-task", &offer, "cpus:0.01;mem:1", "true");
    with_executor.command = None;
    with_executor.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "../../../../tmp/exec".into(),
        },
        command: Some(v1::CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    tasks.push(with_executor);
    let count = tasks.len();
    cluster.framework.launch(&offer, tasks).await;
    for _ in 0..count {
        let update = cluster.framework.next_update(Duration::from_secs(30)).await;
        assert_eq!(
            update.state,
            v1::TaskState::TaskError as i32,
            "{:?}: {:?}",
            update.task_id,
            update.message
        );
    }

    // A framework id that is a path, on SUBSCRIBE.
    let subscribe = json!({
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": {"user": "x", "name": "x", "id": {"value": "../../x"}}},
    });
    let (status, body) =
        post_json(&cluster.master, "/api/v1/scheduler", &subscribe.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid ID"), "{body}");

    // KILL naming a path and a foreign agent id changes nothing either.
    cluster
        .framework
        .kill("../../victim", &cluster.agent_id)
        .await;
    let (_, tasks) = support::operator_call(&cluster.master, r#"{"type":"GET_TASKS"}"#).await;
    let running = tasks["get_tasks"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .count();
    assert_eq!(running, 1, "{tasks}");
    cluster.assert_healthy().await;
}

/// Oversized and deeply nested bodies get an error, not a crash or a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_deeply_nested_bodies_are_refused() {
    let cluster = Cluster::start("bodies").await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        r#"{{"type":"SUBSCRIBE","subscribe":{}}}"#,
        "{\"a\":".repeat(50_000) + "1" + &"}".repeat(50_000)
    );
    let huge = format!(
        r#"{{"type":"GET_HEALTH","pad":"{}"}}"#,
        "x".repeat(17 * 1024 * 1024)
    );
    let targets = [
        (&cluster.master, "/api/v1"),
        (&cluster.master, "/api/v1/scheduler"),
        (&cluster.agent, "/api/v1"),
        (&cluster.agent, "/api/v1/executor"),
    ];
    for (daemon, path) in targets {
        for body in [&deep, &deep_object] {
            let (status, _) = post_json(daemon, path, body).await;
            assert!((400..500).contains(&status), "{daemon}{path}: {status}");
        }
        // Refused by its Content-Length before the body is read: 413, or the connection
        // closed while the client is still sending.
        let http = remesos::client::HttpClient::default();
        let url = format!("http://{daemon}{path}");
        let sent = http
            .post(
                &url,
                "application/json",
                "application/json",
                &[],
                huge.clone().into_bytes(),
            )
            .await;
        if let Ok(response) = sent {
            let status = response.status().as_u16();
            assert!(
                status == 413 || status == 307,
                "{daemon}{path} oversized: {status}"
            );
        }
    }
    cluster.assert_healthy().await;
}

/// Calls from another host (here: a network namespace with its own address, reaching the
/// agent over a veth pair) are refused before they are decoded: executors run on the
/// agent's own host. Needs root (`ip netns`), as the agent's isolation tests do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_calls_from_another_host_are_refused() {
    let work = TempDir::new("netns");
    let (_master, master) = spawn_master(work.path()).await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let netns = NetNs::create(tag);
    let port = free_port();
    // Listening on every address, so that the namespace can reach it.
    let mut agent = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["agent", &format!("--master={master}"), "--ip=0.0.0.0"])
            .args(["--advertise_ip=127.0.0.1", "--hostname=localhost"])
            .arg(format!("--port={port}"))
            .arg(format!(
                "--work_dir={}",
                work.path().join("agent").display()
            ))
            .args([
                "--resources=cpus:1;mem:256",
                "--registration_backoff_factor=100ms",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start remesos agent"),
    );
    let local = format!("127.0.0.1:{port}");
    support::registered_agent_state(&local).await;

    let call = r#"{"type":"SUBSCRIBE","framework_id":{"value":"F"},"executor_id":{"value":"E"},"subscribe":{}}"#;
    let remote = netns.curl_post(
        &format!("http://{}:{port}/api/v1/executor", netns.host_ip),
        call,
    );
    assert!(
        remote.starts_with("403")
            && remote.contains("accepted from this host and its containers only"),
        "from another host: {remote}"
    );
    // The same call from this host reaches the executor API (and finds nothing).
    let (status, body) = post_json(&local, "/api/v1/executor", call).await;
    assert_eq!((status, body.as_str()), (400, "Framework cannot be found"));
    assert!(agent.0.try_wait().unwrap().is_none(), "the agent runs on");
}

/// A network namespace joined to this one by a veth pair: the "other host".
struct NetNs {
    name: String,
    host_if: String,
    host_ip: String,
}

impl NetNs {
    fn create(tag: &str) -> NetNs {
        let name = format!("rmsadv{tag}");
        let host_if = format!("rh{tag}");
        let peer_if = format!("rp{tag}");
        // 10.x.y.0/30 from the tag, so parallel runs do not collide.
        let n = u32::from_str_radix(&tag[..4], 16).unwrap();
        let (a, b) = (n >> 8 & 0xff, n & 0xfc);
        let host_ip = format!("10.{}.{}.{}", 200 + (a % 50), b, 1);
        let peer_ip = format!("10.{}.{}.{}", 200 + (a % 50), b, 2);
        let netns = NetNs {
            name: name.clone(),
            host_if: host_if.clone(),
            host_ip: host_ip.clone(),
        };
        for args in [
            vec!["netns", "add", &name],
            vec![
                "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if,
            ],
            vec!["link", "set", &peer_if, "netns", &name],
            vec!["addr", "add", &format!("{host_ip}/30"), "dev", &host_if],
            vec!["link", "set", &host_if, "up"],
            vec![
                "-n",
                &name,
                "addr",
                "add",
                &format!("{peer_ip}/30"),
                "dev",
                &peer_if,
            ],
            vec!["-n", &name, "link", "set", &peer_if, "up"],
            vec!["-n", &name, "link", "set", "lo", "up"],
        ] {
            let status = std::process::Command::new("ip")
                .args(&args)
                .status()
                .unwrap();
            assert!(status.success(), "ip {args:?} (this test needs root)");
        }
        netns
    }

    /// `curl` from inside the namespace; returns "<status> <body>".
    fn curl_post(&self, url: &str, body: &str) -> String {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &self.name, "curl", "-s", "-m", "10"])
            .args(["-H", "Content-Type: application/json", "-d", body])
            .args(["-w", "\n%{http_code}", url])
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        format!("{code} {body}")
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
