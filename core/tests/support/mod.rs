//! Shared pieces of the integration tests: a simulated agent speaking the real gRPC
//! service.

#![allow(dead_code)] // each test binary uses a different subset

pub mod browser;
pub mod pki;
pub mod zookeeper;

use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use remesos::resources::Resources;
use remesos_proto::internal as wire;
use remesos_proto::v1;
use wire::agent_message::Message as FromAgent;
use wire::master_message::Message as ToAgent;

/// A simulated agent: registers over gRPC, runs every task it is sent to completion
/// (RUNNING, then FINISHED) and counts acknowledgements.
pub struct SimAgent {
    pub id: String,
    pub acks: mpsc::UnboundedReceiver<Vec<u8>>,
}

/// Registers a simulated agent over the real gRPC session: its id, the sender of its
/// messages (a channel of `buffer`) and the master's messages to it.
pub async fn register_sim_agent(
    master: &str,
    hostname: &str,
    resources: &str,
    buffer: usize,
) -> (
    String,
    mpsc::Sender<wire::AgentMessage>,
    tonic::Streaming<wire::MasterMessage>,
) {
    let mut client =
        wire::agent_service_client::AgentServiceClient::connect(format!("http://{master}"))
            .await
            .unwrap();
    let (tx, rx) = mpsc::channel::<wire::AgentMessage>(buffer);
    let info = v1::AgentInfo {
        hostname: hostname.to_string(),
        resources: Resources::parse(resources, "*").unwrap().into_protos(),
        ..Default::default()
    };
    tx.send(wire::AgentMessage {
        message: Some(FromAgent::Register(wire::Register {
            agent_info: info,
            endpoint: Some("127.0.0.1:5051".to_string()),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let mut inbound = client
        .session(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let first = inbound.next().await.unwrap().unwrap();
    let Some(ToAgent::Registered(registered)) = first.message else {
        panic!("expected Registered, got {first:?}");
    };
    (registered.agent_id.value, tx, inbound)
}

pub async fn start_agent(master: &str, hostname: &str, resources: &str) -> SimAgent {
    let (id, tx, mut inbound) = register_sim_agent(master, hostname, resources, 64).await;
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let agent_id = id.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = inbound.next().await {
            match message.message {
                Some(ToAgent::RunTask(run)) => {
                    for state in [v1::TaskState::TaskRunning, v1::TaskState::TaskFinished] {
                        let status = v1::TaskStatus {
                            task_id: run.task.task_id.clone(),
                            state: state as i32,
                            source: Some(v1::task_status::Source::Executor as i32),
                            agent_id: Some(v1::AgentId {
                                value: agent_id.clone(),
                            }),
                            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                            ..Default::default()
                        };
                        let update = wire::StatusUpdate {
                            framework_id: run.framework.id.clone().unwrap(),
                            status,
                            latest_state: None,
                        };
                        let _ = tx
                            .send(wire::AgentMessage {
                                message: Some(FromAgent::StatusUpdate(update)),
                            })
                            .await;
                    }
                }
                Some(ToAgent::Ping(_)) => {
                    let _ = tx
                        .send(wire::AgentMessage {
                            message: Some(FromAgent::Pong(wire::Pong {})),
                        })
                        .await;
                }
                Some(ToAgent::Acknowledgement(ack)) => {
                    let _ = ack_tx.send(ack.uuid);
                }
                _ => {}
            }
        }
    });
    SimAgent { id, acks: ack_rx }
}

/// Runs one of the Python frameworks in tests/python/ against `master` with `python`,
/// asserts that it succeeded, and returns its stdout.
pub async fn run_python_framework(
    python: &str,
    script: &str,
    master: &str,
    extra: &[&str],
) -> String {
    let path = format!("{}/../tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python)
        .arg(&path)
        .args(["--master", master])
        .args(extra)
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {python} {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

// ----- real daemons: `remesos master` and `remesos agent` processes -----

/// A daemon process, SIGKILLed when dropped.
pub struct Daemon(pub std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Daemon {
    /// `kill -9`, and reaps it.
    pub fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM, then waits for the process to exit (at most 10 s).
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

/// A free TCP port on 127.0.0.1 (bound and released).
/// A fresh, empty directory under the system's temp dir, named after `name` and a free port
/// (so parallel tests never share one). Left behind for inspection; tests remove what they
/// mount in it.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("remesos-{name}-{}", free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `remesos master` on a free loopback port; returns it and its address.
pub async fn spawn_master(work_dir: &std::path::Path) -> (Daemon, String) {
    spawn_master_with(work_dir, &[]).await
}

/// [`spawn_master`] with `extra` flags (waits on `/health`, which Mesos never authenticates).
pub async fn spawn_master_with(work_dir: &std::path::Path, extra: &[String]) -> (Daemon, String) {
    spawn_master_env(work_dir, extra, &[]).await
}

/// [`spawn_master_with`] with `env` added to the master's environment (`LIBPROCESS_SSL_*`:
/// the wait on plain `/health` then needs `LIBPROCESS_SSL_SUPPORT_DOWNGRADE`).
pub async fn spawn_master_env(
    work_dir: &std::path::Path,
    extra: &[String],
    env: &[(String, String)],
) -> (Daemon, String) {
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let daemon = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--work_dir={}", work_dir.join("master").display()))
            .args(["--allocation_interval=100ms", "--quiet"])
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start remesos master"),
    );
    let http = remesos::client::HttpClient::default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok((200, _)) = http.get(&format!("http://{master}/health")).await {
            return (daemon, master);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the master did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Starts `remesos agent` on `port` with `work_dir` and extra flags (not waiting).
pub fn spawn_agent(master: &str, port: u16, work_dir: &std::path::Path, extra: &[&str]) -> Daemon {
    spawn_agent_logged(master, port, work_dir, extra, None)
}

/// [`spawn_agent`], with the agent's stderr written to `log` when given.
pub fn spawn_agent_logged<S: AsRef<std::ffi::OsStr>>(
    master: &str,
    port: u16,
    work_dir: &std::path::Path,
    extra: &[S],
    log: Option<&std::path::Path>,
) -> Daemon {
    spawn_agent_env(master, port, work_dir, extra, log, &[])
}

/// [`spawn_agent_logged`] with `env` added to the agent's environment (`LIBPROCESS_SSL_*`).
pub fn spawn_agent_env<S: AsRef<std::ffi::OsStr>>(
    master: &str,
    port: u16,
    work_dir: &std::path::Path,
    extra: &[S],
    log: Option<&std::path::Path>,
    env: &[(String, String)],
) -> Daemon {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_remesos"));
    // Loopback unless the test binds elsewhere (a flag may be given once).
    let own_ip = extra.iter().any(|flag| {
        flag.as_ref()
            .to_str()
            .is_some_and(|f| f.starts_with("--ip="))
    });
    command.args(["agent", &format!("--master={master}")]);
    if !own_ip {
        command.arg("--ip=127.0.0.1");
    }
    command
        .arg(format!("--port={port}"))
        .arg(format!("--work_dir={}", work_dir.display()))
        .args([
            "--registration_backoff_factor=100ms",
            "--hostname=localhost",
        ]);
    // The default resources unless the test names its own (a flag may be given once).
    let own_resources = extra.iter().any(|flag| {
        flag.as_ref()
            .to_str()
            .is_some_and(|f| f.starts_with("--resources="))
    });
    if !own_resources {
        command.arg("--resources=cpus:4;mem:2048;ports:[31000-31100]");
    }
    command
        .args(extra)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null());
    if let Some(log) = log {
        command.stderr(std::fs::File::create(log).unwrap());
    }
    Daemon(command.spawn().expect("start remesos agent"))
}

/// Runs `remesos <args>` with `env` added; its exit status and stderr once it exits (it
/// is killed, and the test fails, if it is still running after 20 s).
pub fn run_to_exit<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
    args: &[S],
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let err = std::env::temp_dir().join(format!("remesos-stderr-{}", free_port()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "remesos {args:?} with {env:?} kept running:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let _ = std::fs::remove_file(&err);
    (status, stderr)
}

/// Every `forked.pid` checkpointed under `meta/`, by executor id.
pub fn executor_pids(work_dir: &std::path::Path) -> std::collections::BTreeMap<String, i32> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                walk(&path, out);
            } else if path.file_name().is_some_and(|n| n == "forked.pid") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&work_dir.join("meta"), &mut files);
    files
        .into_iter()
        .filter_map(|f| {
            // .../executors/<eid>/runs/<cid>/pids/forked.pid
            let eid = f
                .ancestors()
                .nth(4)?
                .file_name()?
                .to_string_lossy()
                .into_owned();
            let pid = std::fs::read_to_string(&f).ok()?.trim().parse().ok()?;
            Some((eid, pid))
        })
        .collect()
}

/// A process's environment, from `/proc/<pid>/environ` (the test runs as root or as the
/// executors' user).
pub fn environ(pid: i32) -> std::collections::BTreeMap<String, String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("read an executor's environ");
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// An executor MESSAGE call for `(fid, eid)`: accepted (202) only from that executor.
pub fn message_call(fid: &str, eid: &str) -> String {
    serde_json::json!({
        "type": "MESSAGE",
        "framework_id": {"value": fid},
        "executor_id": {"value": eid},
        "message": {"data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "hello")},
    })
    .to_string()
}

/// A finished process's exit code, stdout and stderr, for assertion messages.
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The agent's `/state` once it is registered (has an id).
pub async fn registered_agent_state(agent: &str) -> serde_json::Value {
    let http = remesos::client::HttpClient::default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok((200, body)) = http.get(&format!("http://{agent}/state")).await {
            let state: serde_json::Value = serde_json::from_slice(&body).unwrap();
            if state["id"].as_str().is_some_and(|id| !id.is_empty()) {
                return state;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not register"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A framework on the v1 scheduler API that acknowledges every update it reads.
pub struct TestFramework {
    pub sub: remesos::client::scheduler::Subscription,
}

impl TestFramework {
    pub async fn subscribe(master: &str, name: &str, checkpoint: bool) -> TestFramework {
        let info = v1::FrameworkInfo {
            user: String::new(),
            name: name.into(),
            checkpoint: Some(checkpoint),
            ..Default::default()
        };
        TestFramework::subscribe_info(master, info).await
    }

    /// Subscribes `info` over protobuf; panics when the master refuses.
    pub async fn subscribe_info(master: &str, info: v1::FrameworkInfo) -> TestFramework {
        let sub = remesos::client::scheduler::Subscription::subscribe(
            master,
            v1::scheduler::call::Subscribe {
                framework_info: info,
                ..Default::default()
            },
            remesos::client::Format::Protobuf,
        )
        .await
        .unwrap();
        TestFramework { sub }
    }

    pub async fn next_offer(&mut self) -> v1::Offer {
        loop {
            let event =
                tokio::time::timeout(std::time::Duration::from_secs(30), self.sub.next_event())
                    .await
                    .expect("an offer in time")
                    .unwrap();
            if let Some(offers) = event.offers {
                return offers.offers[0].clone();
            }
        }
    }

    pub async fn launch(&mut self, offer: &v1::Offer, tasks: Vec<v1::TaskInfo>) {
        let accept = remesos::common::protocol::launch_call(offer, tasks, None);
        self.sub.call(accept).await.unwrap();
    }

    /// The next status update (acknowledged), waiting at most `timeout`.
    pub async fn next_update(&mut self, timeout: std::time::Duration) -> v1::TaskStatus {
        loop {
            let event = tokio::time::timeout(timeout, self.sub.next_event())
                .await
                .expect("a status update in time")
                .unwrap();
            if let Some(update) = event.update {
                let status = update.status;
                if let Some(ack) = remesos::client::scheduler::acknowledge_call(&status) {
                    self.sub.call(ack).await.unwrap();
                }
                return status;
            }
        }
    }

    pub async fn kill(&mut self, task_id: &str, agent_id: &v1::AgentId) {
        use v1::scheduler as sched;
        let kill = sched::Call {
            r#type: Some(sched::call::Type::Kill as i32),
            kill: Some(sched::call::Kill {
                task_id: v1::TaskId {
                    value: task_id.into(),
                },
                agent_id: Some(agent_id.clone()),
                kill_policy: None,
            }),
            ..Default::default()
        };
        self.sub.call(kill).await.unwrap();
    }
}

/// `resources` (e.g. `cpus:0.1;mem:32`) allocated to the role of `offer`.
pub fn offer_resources(offer: &v1::Offer, resources: &str) -> Vec<v1::Resource> {
    let mut r = Resources::parse(resources, "*").unwrap();
    r.allocate(
        offer
            .allocation_info
            .as_ref()
            .and_then(|a| a.role.as_deref())
            .unwrap_or("*"),
    );
    r.into_protos()
}

/// `status` is the end of a container limited for its disk (`disk/du`, `disk/xfs`): the
/// reason, and Mesos's message `Disk usage (…) <ending>` (e.g. `exceeds quota (1MB)`).
pub fn assert_disk_limitation(status: &v1::TaskStatus, ending: &str) {
    assert_eq!(
        status.reason,
        Some(v1::task_status::Reason::ContainerLimitationDisk as i32),
        "{status:?}"
    );
    let message = status.message();
    assert!(
        message.starts_with("Disk usage (") && message.ends_with(ending),
        "{message}"
    );
}

/// A command task taking `resources` of `offer`.
pub fn command_task(id: &str, offer: &v1::Offer, resources: &str, command: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: offer.agent_id.clone(),
        resources: offer_resources(offer, resources),
        command: Some(v1::CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// POSTs JSON `body` to `http://{addr}{path}`; returns the status and the body as text.
pub async fn post_json(addr: &str, path: &str, body: &str) -> (u16, String) {
    let http = remesos::client::HttpClient::default();
    let response = http
        .post(
            &format!("http://{addr}{path}"),
            "application/json",
            "application/json",
            &[],
            body.as_bytes().to_vec(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = remesos::client::collect(response).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Posts a JSON v1 operator call to `http://{addr}/api/v1`; returns the status and body.
pub async fn operator_call(addr: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, body) = post_json(addr, "/api/v1", body).await;
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// A raw HTTP/1.1 request through hyper (no redirect is followed): the status, the headers
/// and the body as text.
pub async fn raw_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, hyper::HeaderMap, String) {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = client
        .request(request.body(Full::new(bytes::Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// `curl -sS --cacert <ca> -u <principal:secret> https://<addr><path>`: the body, or `None`
/// when curl failed (no answer, refused handshake, HTTP error).
pub fn curl_https(ca: &str, user: &str, addr: &str, path: &str) -> Option<String> {
    let output = std::process::Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "--max-time",
            "10",
            "--cacert",
            ca,
            "-u",
            user,
        ])
        .arg(format!("https://{addr}{path}"))
        .output()
        .expect("run curl");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The Python of the repository's venv with pymesos (`REMESOS_PYTHON`, else `.venv`).
pub fn pymesos_python() -> String {
    let python = std::env::var("REMESOS_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python").to_string()
    });
    assert!(
        std::path::Path::new(&python).exists(),
        "{python} is missing: run `bash tests/python/setup_venv.sh` (tests/run.sh does) to install pymesos"
    );
    python
}

/// A JDK Hadoop 1.2.1 runs on (8..23): `JAVA_HOME`, else the one of `java` on the PATH.
pub fn java_home() -> std::path::PathBuf {
    use std::path::{Path, PathBuf};
    let home = match std::env::var_os("JAVA_HOME") {
        Some(home) => PathBuf::from(home),
        None => {
            let out = std::process::Command::new("sh")
                .args(["-c", "readlink -f \"$(command -v java)\""])
                .output()
                .expect("find java");
            let java = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            java.parent()
                .and_then(Path::parent)
                .unwrap_or_else(|| panic!("this test needs a JDK 8..23: `java` is not on the PATH"))
                .to_path_buf()
        }
    };
    let out = std::process::Command::new(home.join("bin/java"))
        .arg("-version")
        .output()
        .unwrap_or_else(|e| panic!("run {}/bin/java: {e}", home.display()));
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let major: u32 = text
        .split('"')
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        (8..24).contains(&major),
        "Hadoop 1.2.1 needs a JDK 8..23 (JDK 24+ removed Subject.getSubject); {} is: {text}",
        home.display()
    );
    home
}
