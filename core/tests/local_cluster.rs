//! End to end with real processes: `remesos local` (a master and 2 agents) runs command
//! tasks under `remesos executor`; frameworks are the Python one written from Mesos's docs
//! and a Rust one on `remesos::client::scheduler` that also kills a task and reads a sandbox
//! through `/files`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
use support::pymesos_python;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use remesos::client::scheduler::Subscription;
use remesos::client::{Format, HttpClient};
use remesos_proto::v1;
use v1::scheduler as sched;

struct Cluster {
    child: Child,
    master: String,
    agents: Vec<String>,
    work_dir: std::path::PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGTERM lets `remesos local` kill its executors before it exits.
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_cluster(agents: u16) -> Cluster {
    let port = free_port();
    let first_agent = loop {
        let p = free_port();
        if (0..agents).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()) {
            break p;
        }
    };
    let work_dir = std::env::temp_dir().join(format!("remesos-local-{port}"));
    let child = Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args([
            "local",
            &format!("--num_agents={agents}"),
            &format!("--port={port}"),
        ])
        .arg(format!("--first_agent_port={first_agent}"))
        .arg(format!("--work_dir={}", work_dir.display()))
        .args([
            "--resources=cpus:2;mem:1024;ports:[31000-31100]",
            "--allocation_interval=100ms",
            "--quiet",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("start remesos local");
    let cluster = Cluster {
        child,
        master: format!("127.0.0.1:{port}"),
        agents: (0..agents)
            .map(|i| format!("127.0.0.1:{}", first_agent + i))
            .collect(),
        work_dir,
    };
    // Healthy once every agent has registered.
    let http = HttpClient::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, body)) = http
            .get(&format!("http://{}/metrics/snapshot", cluster.master))
            .await
        {
            let m: Value = serde_json::from_slice(&body).unwrap();
            if m["master/slaves_active"] == f64::from(agents) {
                return cluster;
            }
        }
        assert!(Instant::now() < deadline, "the cluster did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_docs_framework_runs_tasks_on_remesos_local() {
    let cluster = start_cluster(2).await;
    let stdout = support::run_python_framework(
        "python3",
        "docs_framework.py",
        &cluster.master,
        &["--tasks", "4", "--timeout", "60"],
    )
    .await;
    // Each task really ran: STARTING and RUNNING come from the command executor.
    assert_eq!(stdout.matches("TASK_STARTING").count(), 4, "{stdout}");
    assert_eq!(stdout.matches("TASK_FINISHED").count(), 4, "{stdout}");
    // Both agents took part (each advertises 2 cpus; tasks take 1).
    let (_, body) = HttpClient::default()
        .get(&format!("http://{}/master/state", cluster.master))
        .await
        .unwrap();
    let state: Value = serde_json::from_slice(&body).unwrap();
    let tasks = state["completed_frameworks"][0]["completed_tasks"]
        .as_array()
        .unwrap();
    let agents: std::collections::BTreeSet<&str> = tasks
        .iter()
        .map(|t| t["slave_id"].as_str().unwrap())
        .collect();
    assert_eq!(agents.len(), 2, "{tasks:?}");
}

async fn next_update(sub: &mut Subscription) -> v1::TaskStatus {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), sub.next_event())
            .await
            .expect("an event in time")
            .unwrap();
        if let Some(update) = event.update {
            let status = update.status;
            if let Some(ack) = remesos::client::scheduler::acknowledge_call(&status) {
                sub.call(ack).await.unwrap();
            }
            return status;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_tasks_report_exit_codes_honour_kills_and_leave_sandboxes() {
    let cluster = start_cluster(1).await;
    let info = v1::FrameworkInfo {
        user: String::new(),
        name: "rust-e2e".into(),
        ..Default::default()
    };
    let mut sub = Subscription::subscribe(
        &cluster.master,
        sched::call::Subscribe {
            framework_info: info,
            ..Default::default()
        },
        Format::Protobuf,
    )
    .await
    .unwrap();
    let offer = loop {
        let event = tokio::time::timeout(Duration::from_secs(30), sub.next_event())
            .await
            .unwrap()
            .unwrap();
        if let Some(offers) = event.offers {
            break offers.offers[0].clone();
        }
    };
    let tasks = vec![
        support::command_task(
            "ok",
            &offer,
            "cpus:0.5;mem:64",
            "echo out-of-the-sandbox; echo to-stderr >&2",
        ),
        support::command_task("fails", &offer, "cpus:0.5;mem:64", "exit 3"),
        support::command_task("sleeps", &offer, "cpus:0.5;mem:64", "sleep 600"),
    ];
    let accept = remesos::common::protocol::launch_call(&offer, tasks, None);
    sub.call(accept).await.unwrap();

    let mut terminal = std::collections::BTreeMap::new();
    let mut killed = false;
    while terminal.len() < 3 {
        let status = next_update(&mut sub).await;
        let id = status.task_id.value.clone();
        if id == "sleeps" && status.state == v1::TaskState::TaskRunning as i32 && !killed {
            killed = true;
            let kill = sched::Call {
                r#type: Some(sched::call::Type::Kill as i32),
                kill: Some(sched::call::Kill {
                    task_id: status.task_id.clone(),
                    agent_id: status.agent_id.clone(),
                    kill_policy: None,
                }),
                ..Default::default()
            };
            sub.call(kill).await.unwrap();
        }
        if remesos::common::protocol::is_terminal(v1::TaskState::try_from(status.state).unwrap()) {
            terminal.insert(id, status);
        }
    }
    assert_eq!(terminal["ok"].state, v1::TaskState::TaskFinished as i32);
    assert_eq!(terminal["fails"].state, v1::TaskState::TaskFailed as i32);
    assert_eq!(
        terminal["fails"].message.as_deref(),
        Some("Command exited with status 3")
    );
    assert_eq!(terminal["sleeps"].state, v1::TaskState::TaskKilled as i32);

    // The sandbox, through the agent's /files on the virtual latest-run path (reference §4.2).
    let agent = &cluster.agents[0];
    let path = format!(
        "/frameworks/{}/executors/ok/runs/latest",
        sub.framework_id.value
    );
    let http = HttpClient::default();
    let (status, body) = http
        .get(&format!(
            "http://{agent}/files/read?path={path}/stdout&offset=0"
        ))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let read: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(read["data"], "out-of-the-sandbox\n");
    let (_, body) = http
        .get(&format!(
            "http://{agent}/files/read?path={path}/stderr&offset=0"
        ))
        .await
        .unwrap();
    let read: Value = serde_json::from_slice(&body).unwrap();
    assert!(read["data"].as_str().unwrap().contains("to-stderr"));
    let (status, _) = http
        .get(&format!(
            "http://{agent}/files/read?path={path}/../../../../../../../../etc/passwd"
        ))
        .await
        .unwrap();
    assert_ne!(status, 200, "no request escapes a sandbox");

    // The agent's v1 operator API knows the same tasks.
    let response = http
        .post(
            &format!("http://{agent}/api/v1"),
            "application/json",
            "application/json",
            &[],
            br#"{"type":"GET_TASKS"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body = remesos::client::collect(response).await.unwrap();
    let tasks: Value = serde_json::from_slice(&body).unwrap();
    let completed: Vec<&str> = tasks["get_tasks"]["completed_tasks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["task_id"]["value"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        completed.contains(&"ok") && completed.contains(&"fails"),
        "{tasks}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymesos_runs_the_docs_scheduler_on_remesos_local() {
    let cluster = start_cluster(2).await;
    let stdout = support::run_python_framework(
        &pymesos_python(),
        "pymesos_scheduler.py",
        &cluster.master,
        &["--tasks", "4", "--timeout", "60"],
    )
    .await;
    assert_eq!(stdout.matches("TASK_FINISHED").count(), 4, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remesos_execute_streams_output_and_exits_with_the_task_code() {
    let cluster = start_cluster(1).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args([
            "execute",
            &format!("--master={}", cluster.master),
            "--name=exec-test",
        ])
        .args([
            "--command=echo from-the-task $GREETING; exit 7",
            "--resources=cpus:0.5;mem:64",
        ])
        .arg(r#"--env={"GREETING":"hello"}"#)
        .output()
        .await
        .expect("run remesos execute");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "{stdout}\n{stderr}");
    assert!(stdout.contains("from-the-task hello"), "{stdout}");
    for state in ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"] {
        assert!(stderr.contains(state), "{state} missing from:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pymesos_custom_executor_runs_several_tasks_and_exchanges_messages() {
    // A custom executor (pymesos's MesosExecutorDriver, the v1 executor API) started with
    // Mesos's executor environment; framework messages both ways.
    let cluster = start_cluster(1).await;
    let stdout = support::run_python_framework(
        &pymesos_python(),
        "pymesos_custom_executor.py",
        &cluster.master,
        &["--tasks", "3", "--timeout", "60"],
    )
    .await;
    assert_eq!(
        stdout.matches("message from echo-executor: hello").count(),
        3,
        "{stdout}"
    );
}

/// The agents `/master/slaves` lists, read over https with `user`'s credential.
fn registered_agents(ca: &str, user: &str, master: &str) -> Option<usize> {
    let body = support::curl_https(ca, user, master, "/master/slaves")?;
    let slaves: Value = serde_json::from_str(&body).ok()?;
    slaves["slaves"].as_array().map(Vec::len)
}

/// Waits (at most 30 s) until `done`; fails with `what` and `log` otherwise.
fn wait_until(what: &str, log: &std::path::Path, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `remesos local` as a secure cluster: Mesos's master authentication flags, the agents'
/// `--credential` (Mesos's agent flag: `mesos-local` reads both daemons' flags from one
/// environment), executor tokens, ACLs and TLS from `LIBPROCESS_SSL_*`. Its agent registers
/// with its credential over TLS; `remesos execute` with a principal, over TLS, runs a task
/// whose command executor authenticates to the agent with its token, and reads the task's
/// output from the agent's `/files` with its credential (the agents' `--http_credentials`
/// default to `--credentials`). The same cluster without `--credential` refuses its own
/// agent: before this change `remesos local` could give its agents no credential at all.
#[test]
fn a_secure_local_cluster_registers_its_agents_with_their_credential_over_tls() {
    let pki = support::pki::Pki::make("local");
    let ca = pki.path("ca.pem");
    let work_dir = std::env::temp_dir().join(format!("remesos-local-secure-{}", free_port()));
    std::fs::create_dir_all(&work_dir).unwrap();
    let file = |name: &str, text: &str| {
        let path = work_dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let credentials = file(
        "credentials.json",
        r#"{"credentials": [{"principal": "alice", "secret": "alice-secret"},
                            {"principal": "agent", "secret": "agent-secret"}]}"#,
    );
    let credential = file(
        "credential.json",
        r#"{"principal": "agent", "secret": "agent-secret"}"#,
    );
    let key = file("jwt.key", "a key of at least 32 bytes for HS256 tokens");
    // Nobody runs tasks as root; all else as Mesos's default (permissive).
    let acls = file(
        "acls.json",
        r#"{"run_tasks": [{"principals": {"type": "NONE"}, "users": {"values": ["root"]}}]}"#,
    );
    let start = |with_credential: bool, tag: &str| -> (Cluster, std::path::PathBuf) {
        let port = free_port();
        let first_agent = free_port();
        let log = work_dir.join(format!("{tag}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_remesos"));
        command
            .args(["local", "--num_agents=1", &format!("--port={port}")])
            .arg(format!("--first_agent_port={first_agent}"))
            .arg(format!("--work_dir={}", work_dir.join(tag).display()))
            .args([
                "--resources=cpus:2;mem:1024;ports:[31000-31100]",
                "--allocation_interval=100ms",
                "--authenticate_agents",
                "--authenticate_frameworks",
                "--authenticate_http_frameworks",
                "--http_framework_authenticators=basic",
                "--authenticate_http_readonly",
                "--authenticate_http_readwrite",
                "--authenticate_http_executors",
            ])
            .arg(format!("--credentials={credentials}"))
            .arg(format!("--jwt_secret_key={key}"))
            .arg(format!("--acls=file://{acls}"))
            .envs(pki.env("daemon", &[]))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if with_credential {
            command.arg(format!("--credential={credential}"));
        }
        let cluster = Cluster {
            child: command.spawn().expect("start remesos local"),
            master: format!("127.0.0.1:{port}"),
            agents: vec![format!("127.0.0.1:{first_agent}")],
            work_dir: work_dir.join(tag),
        };
        (cluster, log)
    };
    // Without `--credential` the master refuses its own agent, which says why and retries.
    let (refused, log) = start(false, "without-credential");
    wait_until(
        "the agent did not report the master's refusal",
        &log,
        || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("no credential presented")
        },
    );
    assert_eq!(
        registered_agents(&ca, "alice:alice-secret", &refused.master),
        Some(0)
    );
    drop(refused);

    let (cluster, log) = start(true, "with-credential");
    wait_until(
        "the agent did not register over TLS with its credential",
        &log,
        || registered_agents(&ca, "alice:alice-secret", &cluster.master) == Some(1),
    );
    // The master and the agent serve https only, behind their realms.
    assert_eq!(
        support::curl_https(&ca, "alice:wrong", &cluster.master, "/master/state"),
        None
    );
    assert!(support::curl_https(&ca, "alice:alice-secret", &cluster.agents[0], "/state").is_some());
    assert_eq!(
        support::curl_https(&ca, "alice:wrong", &cluster.agents[0], "/state"),
        None
    );

    let execute = |credential: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["execute", &format!("--master={}", cluster.master)])
            .args(["--name=local-secure", "--command=echo local-secure-task"])
            .args(["--resources=cpus:0.1;mem:32"])
            .args(credential)
            .envs(pki.env("client", &[]))
            .output()
            .expect("run remesos execute")
    };
    let text = support::output_text;
    // The ACLs reached the master: nobody runs tasks as root (TASK_ERROR, exit 1)...
    let as_root = execute(&["--principal=alice", "--secret=alice-secret", "--user=root"]);
    assert!(
        !as_root.status.success()
            && String::from_utf8_lossy(&as_root.stderr)
                .contains("Principal 'alice' no authorized to launch task"),
        "{}",
        text(&as_root)
    );
    // ... so alice's task runs as `nobody` (or, when the test is not root, as its user).
    let mut args = vec!["--principal=alice", "--secret=alice-secret"];
    if nix::unistd::Uid::effective().is_root() {
        args.push("--user=nobody");
    }
    let ok = execute(&args);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("local-secure-task"),
        "{}",
        text(&ok)
    );
    let refused = execute(&["--principal=alice", "--secret=wrong"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{}",
        text(&refused)
    );
    drop(cluster);
    let _ = std::fs::remove_dir_all(&work_dir);
}
