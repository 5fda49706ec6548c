//! Nested containers and debugging access on the agent's v1 operator API (issue 16 item 3
//! and its faults from item 6), end to end: a real `remesos master` and `remesos agent`
//! (as root, with cgroups isolation), command tasks run by the real command executor, and
//! `remesos task exec|log|list` as a user runs them.
//!
//! Expected behaviour follows Mesos 1.11: src/slave/http.cpp (`launchNestedContainer`,
//! `_waitContainer`, `_killContainer`, `_removeContainer`,
//! `launchNestedContainerSession`, `attachContainerInput/Output`), src/slave/validation.cpp
//! (the 400 texts), src/slave/containerizer/mesos/io/switchboard.cpp (RecordIO of
//! `agent::ProcessIO`, TTY window sizes, one input connection at a time) and
//! docs/operator-http-api.md.
//!
//! Needs: root (the task runs as `nobody`, nested containers join cgroups), and for the
//! image test `/bin/busybox` (Debian's busybox-static, which tests/run.sh's `e2e_prepare`
//! installs; the image is a `docker save` directory built here, no registry). Run alone,
//! the suite fails (never skips) with a message naming what is missing.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

#[path = "support/images.rs"]
mod images;
mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use remesos_proto::v1;
use serde_json::{Value, json};
use support::{Daemon, TestFramework, command_task, free_port, temp_dir};
use v1::TaskState;

const WITHIN: Duration = Duration::from_secs(60);

fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the nested suite needs root (tasks run as 'nobody'; nested containers join cgroups)"
    );
}

struct Cluster {
    _master: Daemon,
    agent_daemon: Daemon,
    master: String,
    agent: String,
    dir: PathBuf,
}

async fn cluster(name: &str, extra: &[&str]) -> Cluster {
    require_root();
    let dir = temp_dir(&format!("nested-{name}"));
    let (master_daemon, master) = support::spawn_master(&dir).await;
    let port = free_port();
    // cgroups isolation unless the test names its own.
    let mut flags = Vec::from(extra);
    if !extra.iter().any(|f| f.starts_with("--isolation=")) {
        flags.push("--isolation=cgroups/cpu,cgroups/mem");
    }
    let agent_daemon = support::spawn_agent_logged(
        &master,
        port,
        &dir.join("agent"),
        &flags,
        Some(&dir.join("agent.log")),
    );
    let agent = format!("127.0.0.1:{port}");
    support::registered_agent_state(&agent).await;
    Cluster {
        _master: master_daemon,
        agent_daemon,
        master,
        agent,
        dir,
    }
}

/// A cluster whose agent enforces `acls` (Mesos's JSON ACLs, from a file).
async fn cluster_with_acls(name: &str, acls: Value) -> Cluster {
    require_root();
    let dir = temp_dir(&format!("nested-{name}-file"));
    let path = dir.join("acls.json");
    std::fs::write(&path, acls.to_string()).unwrap();
    let flag = format!("--acls={}", path.display());
    cluster(name, &[&flag]).await
}

/// A running `sleep <seconds>` command task as `nobody`: (framework, its executor's
/// container id, the executor's sandbox).
async fn running_task(
    c: &Cluster,
    task_id: &str,
    seconds: u32,
) -> (TestFramework, String, PathBuf) {
    let mut framework = TestFramework::subscribe_info(
        &c.master,
        v1::FrameworkInfo {
            user: "nobody".into(),
            name: "nested".into(),
            ..Default::default()
        },
    )
    .await;
    let offer = framework.next_offer().await;
    // A distinct duration per test: the tests find their task's process by it.
    let task = command_task(
        task_id,
        &offer,
        "cpus:0.1;mem:64",
        &format!("sleep {seconds}"),
    );
    framework.launch(&offer, vec![task]).await;
    loop {
        let status = framework.next_update(WITHIN).await;
        if status.state == TaskState::TaskRunning as i32 {
            break;
        }
        assert!(
            status.state == TaskState::TaskStarting as i32,
            "task did not start: {status:?}"
        );
    }
    let (container, sandbox) = executor_of(&c.agent, task_id).await;
    (framework, container, sandbox)
}

async fn executor_of(agent: &str, task_id: &str) -> (String, PathBuf) {
    let http = remesos::client::HttpClient::default();
    let (_, body) = http.get(&format!("http://{agent}/state")).await.unwrap();
    let state: Value = serde_json::from_slice(&body).unwrap();
    for f in state["frameworks"].as_array().unwrap() {
        for e in f["executors"].as_array().unwrap() {
            if e["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["id"] == json!(task_id))
            {
                return (
                    e["container"].as_str().unwrap().to_string(),
                    PathBuf::from(e["directory"].as_str().unwrap()),
                );
            }
        }
    }
    panic!("no executor runs {task_id}: {state}");
}

/// `remesos task <args>` against the cluster: (exit code, stdout, stderr).
fn remesos_task(master: &str, args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .arg("task")
        .args(args)
        .env("MESOS_MASTER", master)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn nested_id(parent: &str, child: &str) -> Value {
    json!({"value": child, "parent": {"value": parent}})
}

async fn call(agent: &str, body: Value) -> (u16, String) {
    support::post_json(agent, "/api/v1", &body.to_string()).await
}

/// A streaming call (LAUNCH_NESTED_CONTAINER_SESSION, ATTACH_CONTAINER_OUTPUT): the status
/// and the response, its body still streaming.
async fn stream_call(agent: &str, body: Value) -> hyper::Response<hyper::body::Incoming> {
    remesos::client::HttpClient::default()
        .post(
            &format!("http://{agent}/api/v1"),
            "application/json",
            "application/recordio",
            &[("Message-Accept", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
        .unwrap()
}

/// Reads `ProcessIO` records until the stream ends: (stdout, stderr).
async fn read_output(response: hyper::Response<hyper::body::Incoming>) -> (String, String) {
    use http_body_util::BodyExt;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/recordio",
        "Mesos's streaming media type"
    );
    assert_eq!(
        response.headers()["message-content-type"],
        "application/json"
    );
    let mut body = response.into_body();
    let mut decoder = remesos_proto::recordio::Decoder::new(1 << 20);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while let Some(frame) = tokio::time::timeout(WITHIN, body.frame())
        .await
        .expect("output in time")
    {
        let frame = frame.unwrap();
        let Some(data) = frame.data_ref() else {
            continue;
        };
        for record in decoder.feed(data).unwrap() {
            let v: Value = serde_json::from_slice(&record).unwrap();
            assert_eq!(v["type"], "DATA", "{v}");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v["data"]["data"].as_str().unwrap())
                .unwrap();
            match v["data"]["type"].as_str().unwrap() {
                "STDOUT" => out.extend(bytes),
                "STDERR" => err.extend(bytes),
                other => panic!("unexpected data type {other}"),
            }
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn wait_call(parent: &str, child: &str) -> Value {
    json!({"type": "WAIT_NESTED_CONTAINER",
           "wait_nested_container": {"container_id": nested_id(parent, child)}})
}

/// Processes whose command line (arguments joined by spaces) is exactly `command`; a
/// process between fork and exec still shows its parent's, so it is not counted yet.
fn processes_with(command: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.trim_end() == command {
            pids.push(pid);
        }
    }
    pids
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WITHIN;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn cgroup_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("cpu") || l.contains("memory") || l.starts_with("0::"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------

/// `remesos task exec` (LAUNCH_NESTED_CONTAINER_SESSION + WAIT_NESTED_CONTAINER): the
/// command's stdout and stderr come back apart, it runs as the task's user, in the
/// executor's sandbox and in the task's cgroups, and its exit status becomes the CLI's.
/// `task list` shows the task and `task log` its sandbox's output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_in_the_tasks_cgroups_as_its_user_and_returns_its_exit_status() {
    let c = cluster("exec", &[]).await;
    let (_framework, container, sandbox) = running_task(&c, "sleeper", 10001).await;
    let master = c.master.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        remesos_task(
            &master,
            &[
                "exec",
                "sleeper",
                "sh",
                "-c",
                "echo to-stdout; echo to-stderr >&2; id -un; pwd; cat /proc/self/cgroup; exit 7",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(
        code, 7,
        "exit status of the command\nstdout:{out}\nstderr:{err}"
    );
    assert!(
        out.contains("to-stdout") && !out.contains("to-stderr"),
        "{out}"
    );
    assert!(err.contains("to-stderr"), "{err}");
    assert!(out.contains("\nnobody\n"), "runs as the task's user: {out}");
    assert!(
        out.contains(&format!("\n{}\n", sandbox.display())),
        "works in the executor's sandbox {}: {out}",
        sandbox.display()
    );
    // The same cgroups as the task's own process (the executor's container).
    let task_pid = processes_with("sleep 10001")[0];
    for line in cgroup_of(task_pid)
        .lines()
        .filter(|l| l.contains(&container))
    {
        assert!(out.contains(line), "not in the task's cgroup {line}: {out}");
    }
    assert!(
        cgroup_of(task_pid).contains(&container),
        "the task itself is in its container's cgroup"
    );

    // A command that closes its output a while before it exits: the session's stream
    // ends first, and the exit status is still the command's own (the session's process
    // is not killed when its output ends, only when its client leaves).
    let master = c.master.clone();
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        remesos_task(
            &master,
            &[
                "exec",
                "sleeper",
                "sh",
                "-c",
                "exec >&- 2>&-; sleep 1; exit 3",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 3, "{err}");

    let master = c.master.clone();
    let (code, list, _) = tokio::task::spawn_blocking(move || remesos_task(&master, &["list"]))
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(
        list.contains("sleeper") && list.contains("TASK_RUNNING"),
        "{list}"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(sandbox.join("stdout"))
        .unwrap()
        .write_all(b"a line for task log\n")
        .unwrap();
    let master = c.master.clone();
    let (code, log, err) =
        tokio::task::spawn_blocking(move || remesos_task(&master, &["log", "sleeper"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(log.contains("a line for task log"), "{log}");

    // An exec into a task that does not exist fails with a message.
    let master = c.master.clone();
    let (code, _, err) =
        tokio::task::spawn_blocking(move || remesos_task(&master, &["exec", "nope", "true"]))
            .await
            .unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("no task 'nope'"), "{err}");
}

/// TTYInfo: the session's process has a terminal as stdin/stdout with the window size
/// asked for; the terminal's output comes as STDOUT records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_a_tty_gets_a_terminal_of_the_requested_size() {
    let c = cluster("tty", &[]).await;
    let (_framework, container, _) = running_task(&c, "tty-task", 10002).await;
    let launch = json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION",
    "launch_nested_container_session": {
        "container_id": nested_id(&container, "tty-session"),
        "command": {"value": "test -t 0 && test -t 1 && echo is-a-tty; stty size"},
        "container": {"type": "MESOS", "tty_info": {"window_size": {"rows": 33, "columns": 101}}}
    }});
    let (out, err) = read_output(stream_call(&c.agent, launch).await).await;
    assert!(out.contains("is-a-tty"), "{out}");
    assert!(out.contains("33 101"), "window size applied: {out}");
    assert!(err.is_empty(), "a terminal's output is all STDOUT: {err}");
    let (status, body) = call(&c.agent, wait_call(&container, "tty-session")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["wait_nested_container"]["exit_status"],
        0
    );
}

/// LAUNCH_NESTED_CONTAINER + KILL_NESTED_CONTAINER + WAIT_NESTED_CONTAINER +
/// REMOVE_NESTED_CONTAINER: the container's sandbox is `containers/<id>` under its
/// parent's (with its stdout), a kill's signal shows in the wait status, a second kill
/// is Mesos's 404, removing a running container fails and an ended one's sandbox goes.
/// The newer LAUNCH_CONTAINER/WAIT_CONTAINER names work the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nested_container_reports_its_signal_and_is_removed_with_its_sandbox() {
    let c = cluster("kill", &[]).await;
    let (_framework, container, sandbox) = running_task(&c, "parent", 10003).await;
    let launch = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": nested_id(&container, "worker"),
        "command": {"value": "echo started; exec sleep 1000"}}});
    let (status, body) = call(&c.agent, launch.clone()).await;
    assert_eq!(status, 200, "{body}");
    // The same id again: Mesos's ALREADY_LAUNCHED, 202.
    assert_eq!(call(&c.agent, launch).await.0, 202);
    let own = sandbox.join("containers/worker");
    eventually("the nested container's stdout in its sandbox", || {
        std::fs::read_to_string(own.join("stdout")).is_ok_and(|s| s.contains("started"))
    })
    .await;
    let remove = json!({"type": "REMOVE_NESTED_CONTAINER",
        "remove_nested_container": {"container_id": nested_id(&container, "worker")}});
    let (status, body) = call(&c.agent, remove.clone()).await;
    assert_eq!(status, 500, "a running container cannot be removed: {body}");
    assert!(own.exists());

    // WAIT long-polls: it answers only once the kill ended the process.
    let agent = c.agent.clone();
    let parent = container.clone();
    let wait = tokio::spawn(async move { call(&agent, wait_call(&parent, "worker")).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !wait.is_finished(),
        "WAIT answered before the container ended"
    );
    let kill = json!({"type": "KILL_NESTED_CONTAINER", "kill_nested_container": {
        "container_id": nested_id(&container, "worker"), "signal": 15}});
    assert_eq!(call(&c.agent, kill.clone()).await.0, 200);
    let (status, body) = wait.await.unwrap();
    assert_eq!(status, 200, "{body}");
    let waited: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(waited["type"], "WAIT_NESTED_CONTAINER");
    // The raw wait status of a process ended by SIGTERM is 15.
    assert_eq!(
        waited["wait_nested_container"]["exit_status"], 15,
        "{waited}"
    );
    let (status, body) = call(&c.agent, kill).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("cannot be found (or is already killed)"),
        "{body}"
    );

    assert_eq!(call(&c.agent, remove.clone()).await.0, 200);
    assert!(!own.exists(), "the nested sandbox is removed");
    assert_eq!(call(&c.agent, wait_call(&container, "worker")).await.0, 404);
    // Removing what is gone is still OK (Mesos's `remove`).
    assert_eq!(call(&c.agent, remove).await.0, 200);

    // The newer names, here for a nested container.
    let launch = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": nested_id(&container, "short"), "command": {"value": "exit 3"}}});
    assert_eq!(call(&c.agent, launch).await.0, 200);
    let wait = json!({"type": "WAIT_CONTAINER", "wait_container": {
        "container_id": nested_id(&container, "short")}});
    let (status, body) = call(&c.agent, wait).await;
    assert_eq!(status, 200, "{body}");
    let waited: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(waited["wait_container"]["exit_status"], 3 << 8, "{waited}");
}

/// ATTACH_CONTAINER_OUTPUT and ATTACH_CONTAINER_INPUT on a nested container: what goes
/// in as STDIN records (a streaming RecordIO request body) comes back out; a second input
/// connection is refused (409); an empty STDIN record closes stdin so `cat` ends; the
/// output's client going away leaves the container running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_input_reaches_a_nested_container_and_its_output_comes_back() {
    let c = cluster("attach", &[]).await;
    let (_framework, container, _) = running_task(&c, "attach-task", 10004).await;
    let launch = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": nested_id(&container, "cat"), "command": {"value": "cat"}}});
    assert_eq!(call(&c.agent, launch).await.0, 200);
    let attach = json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {
        "container_id": nested_id(&container, "cat")}});
    // A first output client that goes away at once: the container keeps running.
    drop(stream_call(&c.agent, attach.clone()).await);
    let output = tokio::spawn(read_output(stream_call(&c.agent, attach).await));

    let first =
        input_record(json!({"type": "CONTAINER_ID", "container_id": nested_id(&container, "cat")}));
    let data = |s: &str| {
        input_record(
            json!({"type": "PROCESS_IO", "process_io": {"type": "DATA", "data": {
            "type": "STDIN", "data": base64::engine::general_purpose::STANDARD.encode(s)}}}),
        )
    };
    let heartbeat = input_record(
        json!({"type": "PROCESS_IO", "process_io": {"type": "CONTROL",
        "control": {"type": "HEARTBEAT", "heartbeat": {"interval": {"nanoseconds": 1000000000}}}}}),
    );
    // A held-open input connection (no end yet) and a second one while it lasts.
    let mut held = raw_stream(&c.agent);
    held.chunk(&first);
    held.chunk(&heartbeat);
    held.chunk(&data("hello nested\n"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut second = raw_stream(&c.agent);
    second.chunk(&first);
    let (status, body) = second.finish();
    assert_eq!(status, 409, "{body}");
    held.chunk(&data(""));
    let (status, body) = held.finish();
    assert_eq!(status, 200, "{body}");
    let (out, _) = output.await.unwrap();
    assert_eq!(out, "hello nested\n");
    let (status, body) = call(&c.agent, wait_call(&container, "cat")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["wait_nested_container"]["exit_status"],
        0
    );
}

fn input_record(attach: Value) -> Vec<u8> {
    let call = json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": attach});
    let mut framed = Vec::new();
    remesos_proto::recordio::encode(call.to_string().as_bytes(), &mut framed);
    framed
}

/// An HTTP/1.1 POST to `/api/v1` with a chunked RecordIO body written by hand (so a test
/// can hold it open, truncate it, or break it off).
struct RawStream(std::net::TcpStream);

fn raw_stream(agent: &str) -> RawStream {
    let mut s = std::net::TcpStream::connect(agent).unwrap();
    s.set_read_timeout(Some(WITHIN)).unwrap();
    write!(
        s,
        "POST /api/v1 HTTP/1.1\r\nHost: {agent}\r\nContent-Type: application/recordio\r\n\
         Message-Content-Type: application/json\r\nAccept: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    RawStream(s)
}

impl RawStream {
    fn chunk(&mut self, data: &[u8]) {
        write!(self.0, "{:x}\r\n", data.len()).unwrap();
        self.0.write_all(data).unwrap();
        self.0.write_all(b"\r\n").unwrap();
    }

    /// Ends the body and reads the answer: (status, body).
    fn finish(mut self) -> (u16, String) {
        let _ = self.0.write_all(b"0\r\n\r\n");
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&answer);
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head.lines().find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        });
                        if length.is_some_and(|l| body.len() >= l) {
                            break;
                        }
                    }
                }
            }
        }
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

/// Bad input gets Mesos's answer and changes nothing: ids that fail validation, a missing
/// or unknown parent, unknown containers for WAIT/KILL/ATTACH (404), a truncated or
/// oversized input stream (400, the container keeps running), an unacceptable `Accept`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_container_calls_get_mesos_errors_and_change_nothing() {
    let c = cluster("bad", &[]).await;
    let (_framework, container, sandbox) = running_task(&c, "bad-task", 10005).await;
    let cases = [
        (
            json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
                "container_id": {"value": "orphan"}, "command": {"value": "true"}}}),
            400,
            "Expecting 'launch_nested_container.container_id.parent' to be present",
        ),
        (
            json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
                "container_id": nested_id(&container, "../escape"), "command": {"value": "true"}}}),
            400,
            "'launch_nested_container.container_id' is invalid",
        ),
        (
            json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
                "container_id": nested_id("no-such-parent", "x"), "command": {"value": "true"}}}),
            400,
            "Parent container no-such-parent does not exist",
        ),
        (
            json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
                "container_id": nested_id(&container, "noimage"), "command": {"value": "true"},
                "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": "busybox"}}}}}}),
            400,
            "The provided ContainerInfo is not supported",
        ),
        (
            // An image only for a task of a group: LAUNCH_CONTAINER without a TTY.
            json!({"type": "LAUNCH_CONTAINER", "launch_container": {
                "container_id": nested_id(&container, "ttyimage"), "command": {"value": "true"},
                "container": {"type": "MESOS", "tty_info": {},
                    "mesos": {"image": {"type": "DOCKER", "docker": {"name": "busybox"}}}}}}),
            400,
            "only a task's container right under its executor (LAUNCH_CONTAINER, no TTY) may have an image",
        ),
        (wait_call(&container, "unknown"), 404, "cannot be found"),
        (
            json!({"type": "KILL_NESTED_CONTAINER", "kill_nested_container": {
                "container_id": nested_id(&container, "unknown")}}),
            404,
            "cannot be found",
        ),
        (
            json!({"type": "KILL_NESTED_CONTAINER", "kill_nested_container": {
                "container_id": nested_id(&container, "unknown"), "signal": 1000}}),
            400,
            "signal",
        ),
        (
            json!({"type": "WAIT_NESTED_CONTAINER", "wait_nested_container": {}}),
            400,
            "",
        ),
    ];
    for (body, status, text) in cases {
        let (got, answer) = call(&c.agent, body.clone()).await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert!(answer.contains(text), "{body} -> {answer}");
    }
    assert!(
        !sandbox.join("containers").exists()
            || std::fs::read_dir(sandbox.join("containers"))
                .unwrap()
                .count()
                == 0,
        "no refused launch made a sandbox"
    );
    assert!(!sandbox.parent().unwrap().join("escape").exists());
    // A streaming call that does not accept RecordIO: 406.
    let (status, body) = call(
        &c.agent,
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {
            "container_id": nested_id(&container, "unknown")}}),
    )
    .await;
    assert_eq!(status, 406, "{body}");
    let unknown = stream_call(
        &c.agent,
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {
            "container_id": nested_id(&container, "unknown")}}),
    )
    .await;
    assert_eq!(unknown.status(), 404);

    // Input streams that break: truncated inside a record, a record over the limit, a
    // first record that is not CONTAINER_ID. Each is a 400 and the container lives on.
    let launch = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": nested_id(&container, "reader"), "command": {"value": "exec cat"}}});
    assert_eq!(call(&c.agent, launch).await.0, 200);
    let first = input_record(
        json!({"type": "CONTAINER_ID", "container_id": nested_id(&container, "reader")}),
    );
    let mut truncated = raw_stream(&c.agent);
    truncated.chunk(&first);
    truncated.chunk(b"500\n{\"type\":");
    let (status, body) = truncated.finish();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("ended inside a record"), "{body}");
    let mut oversized = raw_stream(&c.agent);
    oversized.chunk(&first);
    oversized.chunk(b"99999999999\n");
    let (status, body) = oversized.finish();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("exceeds the limit"), "{body}");
    let mut wrong = raw_stream(&c.agent);
    wrong.chunk(&input_record(json!({"type": "PROCESS_IO"})));
    let (status, body) = wrong.finish();
    assert_eq!(status, 400, "{body}");
    // A client that breaks off mid-record: nothing to answer, the container is unharmed.
    let mut broken = raw_stream(&c.agent);
    broken.chunk(&first);
    broken.chunk(b"40\n{");
    drop(broken);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kill = json!({"type": "KILL_NESTED_CONTAINER", "kill_nested_container": {
        "container_id": nested_id(&container, "reader")}});
    assert_eq!(
        call(&c.agent, kill).await.0,
        200,
        "the reader was still running"
    );
    let (status, body) = call(&c.agent, wait_call(&container, "reader")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["wait_nested_container"]["exit_status"],
        libc::SIGKILL
    );
}

/// A session whose client disappears mid-stream: its process is killed (Mesos destroys
/// the session's container with its connection), and the agent holds no more descriptors
/// than before; the parent's task is untouched. When the task's executor ends, a nested
/// container under it is killed too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_client_goes_away_is_killed_and_leaks_nothing() {
    let c = cluster("leak", &[]).await;
    let (mut framework, container, _) = running_task(&c, "leak-task", 10006).await;
    let agent_pid = c.agent_daemon.0.id();
    // Warm the agent's connection handling up before counting.
    let _ = call(&c.agent, wait_call(&container, "none")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fds_before = open_fds(agent_pid);
    for round in 0..3 {
        let marker = format!("sleep 99{round}7");
        assert!(processes_with(&marker).is_empty());
        let launch = json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": nested_id(&container, &format!("gone-{round}")),
                "command": {"value": format!("echo up; exec {marker}")}}});
        let response = stream_call(&c.agent, launch).await;
        assert_eq!(response.status(), 200);
        {
            use http_body_util::BodyExt;
            let mut body = response.into_body();
            // The first output arrives and the process runs; then the client goes away.
            let _ = tokio::time::timeout(WITHIN, body.frame()).await.unwrap();
            eventually("the session's process runs", || {
                processes_with(&marker).len() == 1
            })
            .await;
        }
        eventually("the session's process is killed", || {
            processes_with(&marker).is_empty()
        })
        .await;
        let (status, body) = call(&c.agent, wait_call(&container, &format!("gone-{round}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["wait_nested_container"]["exit_status"],
            libc::SIGKILL
        );
    }
    eventually(
        "the agent's descriptors are back to where they were",
        || open_fds(agent_pid) <= fds_before,
    )
    .await;
    assert_eq!(
        processes_with("sleep 10006").len(),
        1,
        "the task is untouched"
    );

    // A nested container ends with its parent.
    let launch = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": nested_id(&container, "orphaned"), "command": {"value": "exec sleep 8888"}}});
    assert_eq!(call(&c.agent, launch).await.0, 200);
    eventually("the nested container runs", || {
        processes_with("sleep 8888").len() == 1
    })
    .await;
    let state = support::registered_agent_state(&c.agent).await;
    let agent_id = v1::AgentId {
        value: state["id"].as_str().unwrap().to_string(),
    };
    framework.kill("leak-task", &agent_id).await;
    eventually("the nested container dies with its parent", || {
        processes_with("sleep 8888").is_empty()
    })
    .await;
    let _ = &c.dir;
}

/// The ACLs of the container calls (Mesos's `launch_nested_container_session`,
/// `kill_nested_container`, ...): a denied call is 403 and changes nothing, while the
/// calls the ACLs allow go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_deny_container_calls_with_403_and_nothing_changes() {
    let c = cluster_with_acls(
        "acls",
        json!({
            "permissive": true,
            "launch_nested_container_sessions_as_user": [
                {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
            "kill_nested_containers": [
                {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
            "attach_containers_output": [
                {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
            "launch_nested_containers_as_user": [
                {"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}},
                {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}]
        }),
    )
    .await;
    let (_framework, container, sandbox) = running_task(&c, "acl-task", 10007).await;
    let session = json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION",
        "launch_nested_container_session": {
            "container_id": nested_id(&container, "denied-session"),
            "command": {"value": "exec sleep 7777"}}});
    assert_eq!(stream_call(&c.agent, session).await.status(), 403);
    // As the task's user (nobody): allowed; as root: denied.
    let as_root = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": nested_id(&container, "as-root"),
        "command": {"value": "exec sleep 7777", "user": "root"}}});
    assert_eq!(call(&c.agent, as_root).await.0, 403);
    assert!(!sandbox.join("containers/as-root").exists());
    // Mesos's object is the command's own user (not the parent's it would inherit): a
    // command without one is `ANY`, which the NONE entry matches and denies.
    let no_user = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": nested_id(&container, "no-user"), "command": {"value": "exec sleep 7777"}}});
    assert_eq!(call(&c.agent, no_user).await.0, 403);
    assert!(!sandbox.join("containers/no-user").exists());
    let allowed = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": nested_id(&container, "allowed"),
        "command": {"value": "exec sleep 7777", "user": "nobody"}}});
    assert_eq!(call(&c.agent, allowed).await.0, 200);
    let kill = json!({"type": "KILL_NESTED_CONTAINER", "kill_nested_container": {
        "container_id": nested_id(&container, "allowed")}});
    assert_eq!(call(&c.agent, kill).await.0, 403);
    let attach = json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {
        "container_id": nested_id(&container, "allowed")}});
    assert_eq!(stream_call(&c.agent, attach).await.status(), 403);
    // Only the allowed launch ran (its process may still be between fork and exec).
    eventually("the allowed container's process", || {
        processes_with("sleep 7777").len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        processes_with("sleep 7777").len(),
        1,
        "only the allowed launch ran, and still runs"
    );
    // Its switchboard is the agent: a nested container does not outlive it.
    let mut c = c;
    c.agent_daemon.kill9();
    eventually("the nested container dies with the agent", || {
        processes_with("sleep 7777").is_empty()
    })
    .await;
    let _ = Path::new(&c.dir);
}

/// The parent's side of a launch (Mesos's `launch_nested_containers_under_parent_with_user`
/// and `launch_nested_container_sessions_under_parent_with_user`, object the user the
/// parent's executor runs as; `LocalNestedContainerObjectApprover` in
/// src/authorizer/local/authorizer.cpp): both it and the `..._as_user` ACLs must allow. A
/// denied launch is 403 with nothing started and no sandbox made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_on_the_parents_user_decide_nested_launches_too() {
    let c = cluster_with_acls(
        "parent-acls",
        json!({
            "permissive": true,
            // Sessions only under executors running as root: the task runs as nobody.
            "launch_nested_container_sessions_under_parent_with_user": [
                {"principals": {"type": "ANY"}, "users": {"values": ["root"]}},
                {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
            // Containers under nobody's executors, as nobody only.
            "launch_nested_containers_under_parent_with_user": [
                {"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}},
                {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
            "launch_nested_containers_as_user": [
                {"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}},
                {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}]
        }),
    )
    .await;
    let (_framework, container, sandbox) = running_task(&c, "parent-acl-task", 10008).await;
    // The session's own user is allowed (no ..._as_user ACL for sessions: permissive); its
    // parent's is not.
    let session = json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION",
        "launch_nested_container_session": {
            "container_id": nested_id(&container, "session"),
            "command": {"value": "exec sleep 8888", "user": "nobody"}}});
    assert_eq!(stream_call(&c.agent, session).await.status(), 403);
    let master = c.master.clone();
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        remesos_task(&master, &["exec", "parent-acl-task", "true"])
    })
    .await
    .unwrap();
    assert_ne!(code, 0, "task exec is a session: denied");
    assert!(err.contains("403"), "{err}");
    // Both sides allow: launched.
    let allowed = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": nested_id(&container, "allowed"),
        "command": {"value": "exec sleep 8888", "user": "nobody"}}});
    assert_eq!(call(&c.agent, allowed).await.0, 200);
    // The parent allows, the command's user does not.
    let as_root = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": nested_id(&container, "as-root"),
        "command": {"value": "exec sleep 8888", "user": "root"}}});
    assert_eq!(call(&c.agent, as_root).await.0, 403);
    assert!(!sandbox.join("containers/as-root").exists());
    assert!(sandbox.join("containers/allowed").exists());
    eventually("the allowed container's process", || {
        processes_with("sleep 8888").len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        processes_with("sleep 8888").len(),
        1,
        "only the allowed launch ran"
    );
}

/// `namespaces/pid`: a task's executor is pid 1 of its own pid namespace, and a nested
/// container enters it (Mesos's namespaces/pid isolator, `prepare` in
/// src/slave/containerizer/mesos/isolators/namespaces/pid.cpp): `task exec` (a DEBUG
/// session) sees the task's processes through `/proc`, the executor as pid 1; a
/// LAUNCH_NESTED_CONTAINER gets a new pid namespace below it (its shell is pid 1) unless
/// `linux_info.share_pid_namespace`, with which it sees the task too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_containers_enter_the_tasks_pid_namespace() {
    let c = cluster(
        "pidns",
        &["--isolation=cgroups/cpu,cgroups/mem,namespaces/pid"],
    )
    .await;
    let (_framework, container, sandbox) = running_task(&c, "pid-task", 10009).await;
    // What /proc shows: `<pid> <cmdline>` per process, and this shell's own pid.
    let list = r#"for p in /proc/[0-9]*; do echo "${p#/proc/} $(tr '\0' ' ' < $p/cmdline)"; done; echo "self=$$""#;
    let master = c.master.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        remesos_task(&master, &["exec", "pid-task", "sh", "-c", list])
    })
    .await
    .unwrap();
    assert_eq!(
        code, 0,
        "{out}
{err}"
    );
    let line_of = |out: &str, pid: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(pid))
            .map(str::to_string)
    };
    assert!(
        line_of(&out, "1").is_some_and(|l| l.contains("executor")),
        "the executor is pid 1 of what the session sees: {out}"
    );
    assert!(
        out.lines().any(|l| l.trim_end().ends_with("sleep 10009")),
        "the session sees the task: {out}"
    );
    assert!(
        !out.lines().any(|l| l.contains("remesos agent")),
        "the agent is outside the task's namespace: {out}"
    );
    // The same from the host: the session's /proc is not the host's.
    assert!(!processes_with("sleep 10009").is_empty());

    // LAUNCH_NESTED_CONTAINER: its own pid namespace below the task's, or the task's own
    // with share_pid_namespace.
    for (name, share) in [("own", false), ("shared", true)] {
        let launch = json!({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
            "container_id": nested_id(&container, name),
            "command": {"value": list},
            "container": {"type": "MESOS", "linux_info": {"share_pid_namespace": share}}}});
        let (status, body) = call(&c.agent, launch).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = call(&c.agent, wait_call(&container, name)).await;
        assert_eq!(status, 200, "{body}");
        let waited: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            waited["wait_nested_container"]["exit_status"], 0,
            "{waited}"
        );
        let out =
            std::fs::read_to_string(sandbox.join("containers").join(name).join("stdout")).unwrap();
        let sees_task = out.lines().any(|l| l.trim_end().ends_with("sleep 10009"));
        if share {
            assert!(sees_task, "shared: sees the task: {out}");
            assert!(
                line_of(&out, "1").is_some_and(|l| l.contains("executor")),
                "{out}"
            );
        } else {
            assert!(!sees_task, "own namespace: the task is not in it: {out}");
            assert!(
                out.lines().any(|l| l == "self=1"),
                "its shell is pid 1: {out}"
            );
        }
    }
}

/// `remesos task exec` into a command task running in a container image (the mesos
/// containerizer's `--rootfs` model): the command enters the task's mount namespace, so it
/// sees the image's filesystem (its `/data/hello`, not the host's), works in the sandbox
/// at `/mnt/mesos/sandbox`, and the host's files are out of its sight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_into_an_image_task_sees_the_images_filesystem() {
    require_root();
    assert!(
        Path::new(images::BUSYBOX).exists(),
        "this test needs {}: apt-get install -y busybox-static (tests/run.sh e2e_prepare does)",
        images::BUSYBOX
    );
    let dir = temp_dir("nested-image-archives");
    let archives = dir.join("archives");
    std::fs::create_dir_all(&archives).unwrap();
    let archive = images::docker_save(
        "app",
        "1.0",
        &[images::busybox_layer(), images::app_layer()],
        images::image_config(),
    );
    std::fs::write(archives.join("app:1.0.tar"), archive).unwrap();
    let registry = format!("--docker_registry={}", archives.display());
    let store = format!("--docker_store_dir={}", dir.join("store").display());
    let c = cluster(
        "image",
        &[
            "--image_providers=docker",
            &registry,
            &store,
            "--launcher=linux",
            "--image_provisioner_backend=copy",
            "--isolation=filesystem/linux,docker/runtime",
        ],
    )
    .await;
    let mut framework = TestFramework::subscribe_info(
        &c.master,
        v1::FrameworkInfo {
            user: "nobody".into(),
            name: "nested-image".into(),
            ..Default::default()
        },
    )
    .await;
    let offer = framework.next_offer().await;
    let mut task = command_task("in-image", &offer, "cpus:0.1;mem:64", "sleep 10009");
    task.container = Some(images::docker_container("app:1.0"));
    framework.launch(&offer, vec![task]).await;
    loop {
        let status = framework.next_update(WITHIN).await;
        if status.state == TaskState::TaskRunning as i32 {
            break;
        }
        assert!(
            status.state == TaskState::TaskStarting as i32,
            "the image task did not start: {status:?}"
        );
    }
    let master = c.master.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        remesos_task(
            &master,
            &[
                "exec",
                "in-image",
                "sh",
                "-c",
                "cat /data/hello; pwd; echo sandbox=$MESOS_SANDBOX; id -u; \
                 test -e /usr/bin/docker-registry && echo host-visible || echo host-hidden",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "stdout:{out}\nstderr:{err}");
    for expected in [
        "hello from the image",
        "\n/mnt/mesos/sandbox\n",
        "sandbox=/mnt/mesos/sandbox",
        "\n65534\n",
        "host-hidden",
    ] {
        assert!(
            out.contains(expected),
            "missing '{expected}' in:\n{out}\n{err}"
        );
    }
}

/// ACCEPT's LAUNCH_GROUP of `tasks` with a DEFAULT executor `executor_id`.
fn launch_group(
    framework_id: &v1::FrameworkId,
    offer: &v1::Offer,
    executor_id: &str,
    tasks: Vec<v1::TaskInfo>,
) -> v1::scheduler::Call {
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: executor_id.into(),
        },
        framework_id: Some(framework_id.clone()),
        resources: support::offer_resources(offer, "cpus:0.1;mem:32"),
        ..Default::default()
    };
    v1::scheduler::Call {
        r#type: Some(v1::scheduler::call::Type::Accept as i32),
        accept: Some(v1::scheduler::call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
                launch_group: Some(v1::offer::operation::LaunchGroup {
                    executor,
                    task_group: v1::TaskGroupInfo { tasks },
                }),
                ..Default::default()
            }],
            filters: None,
        }),
        ..Default::default()
    }
}

/// Updates until `task` reaches `state` (none of the others may fail meanwhile); its
/// update.
async fn until_state(
    framework: &mut TestFramework,
    task: &str,
    state: TaskState,
) -> v1::TaskStatus {
    loop {
        let status = framework.next_update(WITHIN).await;
        if status.task_id.value == task && status.state == state as i32 {
            return status;
        }
        assert!(
            !matches!(
                TaskState::try_from(status.state),
                Ok(TaskState::TaskFailed | TaskState::TaskError | TaskState::TaskLost)
            ),
            "{status:?}"
        );
    }
}

/// The default executor runs each task of a group in a container nested under its own
/// (Mesos's default_executor.cpp: LAUNCH_CONTAINER, WAIT, KILL on the agent's API), whose
/// id its updates carry; `remesos task exec` enters that container (its sandbox
/// `containers/<id>`, its user). The containers are durable: a `kill -9` of the agent
/// leaves them running, the restarted agent takes them up, a task that then exits 0 ends
/// TASK_FINISHED (its status recorded by the container's reaper while no agent ran), and a
/// kill reaches a task across the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_groups_tasks_run_in_nested_containers_that_survive_an_agent_restart() {
    let mut c = cluster("group", &[]).await;
    let (mut framework, offer) = group_framework(&c.master, "groups", true).await;
    let tasks = vec![
        command_task(
            "g-wait",
            &offer,
            "cpus:0.1;mem:32",
            "echo waiting; while [ ! -e \"$MESOS_SANDBOX/go\" ]; do sleep 0.2; done; echo went",
        ),
        command_task("g-long", &offer, "cpus:0.1;mem:32", "sleep 10011"),
    ];
    let named = run_group(&mut framework, &offer, "nested-group", tasks).await;
    let (executor, sandbox) = executor_of(&c.agent, "g-long").await;
    for id in named.values() {
        assert_eq!(
            id.parent.as_ref().map(|p| p.value.as_str()),
            Some(executor.as_str()),
            "nested under the executor's container"
        );
    }
    let waiting = sandbox.join("containers").join(&named["g-wait"].value);
    eventually("g-wait's output in its own sandbox", || {
        std::fs::read_to_string(waiting.join("stdout")).is_ok_and(|o| o.contains("waiting"))
    })
    .await;
    // `task exec` into a task of the group: its container's sandbox, its user.
    let master = c.master.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        remesos_task(
            &master,
            &["exec", "g-long", "sh", "-c", "id -un; pwd; exit 4"],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 4, "stdout:{out}\nstderr:{err}");
    let long_sandbox = sandbox.join("containers").join(&named["g-long"].value);
    assert_eq!(out, format!("nobody\n{}\n", long_sandbox.display()));

    // kill -9 of the agent: the tasks' containers keep running.
    let sleeper = processes_with("sleep 10011");
    assert_eq!(sleeper.len(), 1, "{sleeper:?}");
    restart_agent(&mut c, "--isolation=cgroups/cpu,cgroups/mem").await;
    assert!(
        std::path::Path::new(&format!("/proc/{}", sleeper[0])).exists(),
        "a task of the group died with the agent"
    );
    // The restarted agent knows the containers: a second WAIT long-polls, a bogus one 404s.
    let (status, body) = call(
        &c.agent,
        json!({"type": "KILL_CONTAINER", "kill_container": {
            "container_id": nested_id(&executor, "not-a-task"), "signal": 15}}),
    )
    .await;
    assert_eq!(status, 404, "{body}");

    // g-wait finishes after the restart: exit status 0 recorded by its reaper.
    finish_then_kill(
        &mut framework,
        (&waiting.join("go"), "g-wait"),
        ("g-long", "sleep 10011"),
    )
    .await;
}

/// `kill -9` of the agent, then the agent again on its work_dir with `isolation`.
async fn restart_agent(c: &mut Cluster, isolation: &str) {
    c.agent_daemon.kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let port: u16 = c.agent.rsplit_once(':').unwrap().1.parse().unwrap();
    c.agent_daemon = support::spawn_agent_logged(
        &c.master,
        port,
        &c.dir.join("agent"),
        &[isolation],
        Some(&c.dir.join("agent-2.log")),
    );
    support::registered_agent_state(&c.agent).await;
}

/// After an agent restart: the task `finish` exits 0 once its `go` file exists (a wait
/// across the restart: TASK_FINISHED with the status its reaper recorded), and a kill
/// reaches the task `kill` (TASK_KILLED, its `process` gone).
async fn finish_then_kill(
    framework: &mut TestFramework,
    (go, finish): (&Path, &str),
    (kill, process): (&str, &str),
) {
    std::fs::write(go, b"").unwrap();
    let finished = until_state(framework, finish, TaskState::TaskFinished).await;
    assert_eq!(
        finished.message.as_deref(),
        Some("Command exited with status 0"),
        "{finished:?}"
    );
    let agent_id = finished.agent_id.clone().unwrap();
    framework.kill(kill, &agent_id).await;
    until_state(framework, kill, TaskState::TaskKilled).await;
    eventually("the killed task's process is gone", || {
        processes_with(process).is_empty()
    })
    .await;
}

/// A framework of `nobody` (checkpointing or not) and its first offer.
async fn group_framework(master: &str, name: &str, checkpoint: bool) -> (TestFramework, v1::Offer) {
    let mut framework = TestFramework::subscribe_info(
        master,
        v1::FrameworkInfo {
            user: "nobody".into(),
            name: name.into(),
            checkpoint: Some(checkpoint),
            ..Default::default()
        },
    )
    .await;
    let offer = framework.next_offer().await;
    (framework, offer)
}

/// Launches `tasks` as a group under the DEFAULT executor `executor_id` and waits until
/// all run: the container id each one's TASK_RUNNING names.
async fn run_group(
    framework: &mut TestFramework,
    offer: &v1::Offer,
    executor_id: &str,
    tasks: Vec<v1::TaskInfo>,
) -> std::collections::BTreeMap<String, v1::ContainerId> {
    let count = tasks.len();
    let accept = launch_group(&framework.sub.framework_id, offer, executor_id, tasks);
    framework.sub.call(accept).await.unwrap();
    let mut named = std::collections::BTreeMap::new();
    while named.len() < count {
        let status = framework.next_update(WITHIN).await;
        assert!(
            matches!(
                TaskState::try_from(status.state),
                Ok(TaskState::TaskStarting | TaskState::TaskRunning)
            ),
            "{status:?}"
        );
        let id = status
            .container_status
            .as_ref()
            .and_then(|c| c.container_id.clone())
            .unwrap_or_else(|| panic!("the update names no container: {status:?}"));
        if status.state == TaskState::TaskRunning as i32 {
            named.insert(status.task_id.value.clone(), id);
        }
    }
    named
}

/// `<pid> <cmdline>` per process a shell's `/proc` shows, then `self=<its pid>`.
const LIST_PROCESSES: &str = r#"for p in /proc/[0-9]*; do echo "${p#/proc/} $(tr '\0' ' ' < $p/cmdline)"; done; echo "self=$$""#;

/// `remesos task exec <task> sh -c LIST_PROCESSES`: its output (the exec succeeded).
async fn exec_list_processes(master: &str, task: &str) -> String {
    let (master, task) = (master.to_string(), task.to_string());
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        remesos_task(&master, &["exec", &task, "sh", "-c", LIST_PROCESSES])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "stdout:{out}\nstderr:{err}");
    out
}

/// The line of `pid` in a [`LIST_PROCESSES`] output.
fn process_line(out: &str, pid: &str) -> Option<String> {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(pid))
        .map(str::to_string)
}

/// `namespaces/pid` and a task group (Mesos 1.11's namespaces/pid isolator, `prepare` in
/// src/slave/containerizer/mesos/isolators/namespaces/pid.cpp: a nested container that is
/// not DEBUG enters its parent's pid namespace and clones a new one unless
/// `linux_info.share_pid_namespace`): a task of the group is pid 1 of its own namespace;
/// one whose ContainerInfo shares sees its executor as pid 1. Across a `kill -9` of the
/// agent the namespaces stay: the restarted agent finds them from the containers'
/// checkpointed pids, so a `task exec` after the restart enters the task's own namespace
/// (sees the task's shell as pid 1, not the other task), a wait still reports the exit
/// status (TASK_FINISHED) and a kill still reaches the task that shares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_groups_tasks_get_pid_namespaces_that_survive_an_agent_restart() {
    let isolation = "--isolation=cgroups/cpu,cgroups/mem,namespaces/pid";
    let mut c = cluster("group-pidns", &[isolation]).await;
    let (mut framework, offer) = group_framework(&c.master, "groups-pidns", true).await;
    let own = command_task(
        "ns-own",
        &offer,
        "cpus:0.1;mem:32",
        &format!(
            "{LIST_PROCESSES}; while [ ! -e \"$MESOS_SANDBOX/go\" ]; do sleep 0.2; done; echo went"
        ),
    );
    let mut shared = command_task(
        "ns-shared",
        &offer,
        "cpus:0.1;mem:32",
        &format!("{LIST_PROCESSES}; exec sleep 10041"),
    );
    shared.container = Some(v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        linux_info: Some(v1::LinuxInfo {
            share_pid_namespace: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    });
    let named = run_group(&mut framework, &offer, "pidns-group", vec![own, shared]).await;
    let (_, sandbox) = executor_of(&c.agent, "ns-own").await;
    let stdout_of = |task: &str| {
        let path = sandbox
            .join("containers")
            .join(&named[task].value)
            .join("stdout");
        move || std::fs::read_to_string(&path).unwrap_or_default()
    };
    let (own_out, shared_out) = (stdout_of("ns-own"), stdout_of("ns-shared"));
    eventually("both tasks listed their processes", || {
        own_out().contains("self=") && shared_out().contains("self=")
    })
    .await;
    let out = own_out();
    assert!(
        out.lines().any(|l| l == "self=1"),
        "its own namespace: its shell is pid 1: {out}"
    );
    assert!(
        !out.contains("sleep 10041") && !out.contains("executor"),
        "its own namespace shows neither the executor nor the other task: {out}"
    );
    let out = shared_out();
    assert!(
        !out.lines().any(|l| l == "self=1"),
        "shared: not pid 1: {out}"
    );
    assert!(
        process_line(&out, "1").is_some_and(|l| l.contains("executor")),
        "shared: the executor is pid 1 of what it sees: {out}"
    );
    assert!(
        out.contains("MESOS_SANDBOX/go"),
        "a namespace below the executor's shows in it: the other task's shell: {out}"
    );

    // kill -9 of the agent; the tasks keep running in their namespaces.
    eventually("ns-shared's shell execs its sleep", || {
        processes_with("sleep 10041").len() == 1
    })
    .await;
    let sleeper = processes_with("sleep 10041");
    let ns_before = std::fs::read_link(format!("/proc/{}/ns/pid", sleeper[0])).unwrap();
    restart_agent(&mut c, isolation).await;
    assert_eq!(
        std::fs::read_link(format!("/proc/{}/ns/pid", sleeper[0])).unwrap(),
        ns_before,
        "the task that shares is still in its executor's namespace"
    );

    // A session after the restart enters the task's own namespace.
    let out = exec_list_processes(&c.master, "ns-own").await;
    assert!(
        process_line(&out, "1").is_some_and(|l| l.contains("MESOS_SANDBOX/go")),
        "the session sees the task's shell as pid 1: {out}"
    );
    assert!(
        !out.contains("sleep 10041") && !out.contains("executor") && !out.contains("remesos agent"),
        "the session is in the task's own namespace: {out}"
    );
    // And into the task that shares: the executor's namespace, with the task in it.
    let out = exec_list_processes(&c.master, "ns-shared").await;
    assert!(
        process_line(&out, "1").is_some_and(|l| l.contains("executor"))
            && out.contains("sleep 10041"),
        "the session sees the executor as pid 1 and the task: {out}"
    );

    // The wait works across the restart (ns-own exits 0), and a kill reaches ns-shared.
    let go = sandbox
        .join("containers")
        .join(&named["ns-own"].value)
        .join("go");
    finish_then_kill(
        &mut framework,
        (&go, "ns-own"),
        ("ns-shared", "sleep 10041"),
    )
    .await;
}

/// ATTACH_CONTAINER_OUTPUT/INPUT on the tasks of a group (Mesos 1.11: only a container
/// with a TTY, or a DEBUG one, gets an I/O switchboard, `IOSwitchboard::requiresServer` in
/// src/slave/containerizer/mesos/io/switchboard.cpp; without one `_connect` fails with
/// "I/O switchboard server was disabled for this container", answered 500, the text the
/// Mesos CLI's `task attach` matches): a task launched without a TTY gets that 500 for
/// both calls and keeps running; a task with a TTY takes input and streams its output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_task_of_a_group_with_a_tty_can_be_attached_to() {
    let c = cluster("group-attach", &[]).await;
    let (mut framework, offer) = group_framework(&c.master, "groups-attach", false).await;
    let plain = command_task("a-plain", &offer, "cpus:0.1;mem:32", "sleep 10042");
    let mut tty = command_task(
        "a-tty",
        &offer,
        "cpus:0.1;mem:32",
        "echo ready; read line; echo \"got $line\"; sleep 10043",
    );
    tty.container = Some(v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        tty_info: Some(v1::TtyInfo {
            window_size: Some(v1::tty_info::WindowSize {
                rows: 24,
                columns: 80,
            }),
        }),
        ..Default::default()
    });
    let named = run_group(&mut framework, &offer, "attach-group", vec![plain, tty]).await;
    let id_json = |task: &str| {
        let id = &named[task];
        nested_id(&id.parent.as_ref().unwrap().value, &id.value)
    };

    // Without a TTY: Mesos's 500, for output and input alike; the task runs on.
    let disabled = "I/O switchboard server was disabled for this container";
    let attach_output = |task: &str| {
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {
            "container_id": id_json(task)}})
    };
    let response = stream_call(&c.agent, attach_output("a-plain")).await;
    assert_eq!(response.status(), 500);
    let body = remesos::client::collect(response).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&body), disabled);
    let mut input = raw_stream(&c.agent);
    input.chunk(&input_record(
        json!({"type": "CONTAINER_ID", "container_id": id_json("a-plain")}),
    ));
    let (status, body) = input.finish();
    assert_eq!((status, body.as_str()), (500, disabled));
    assert_eq!(processes_with("sleep 10042").len(), 1, "a-plain runs on");

    // With a TTY: attached output and input.
    let response = stream_call(&c.agent, attach_output("a-tty")).await;
    assert_eq!(response.status(), 200);
    let output = tokio::spawn(async move {
        use http_body_util::BodyExt;
        let mut body = response.into_body();
        let mut decoder = remesos_proto::recordio::Decoder::new(1 << 20);
        let mut out = Vec::new();
        while !String::from_utf8_lossy(&out).contains("got hello group") {
            let Some(frame) = tokio::time::timeout(WITHIN, body.frame())
                .await
                .expect("output in time")
            else {
                break;
            };
            let frame = frame.unwrap();
            let Some(data) = frame.data_ref() else {
                continue;
            };
            for record in decoder.feed(data).unwrap() {
                let v: Value = serde_json::from_slice(&record).unwrap();
                if v["type"] == "DATA" {
                    assert_eq!(v["data"]["type"], "STDOUT", "a TTY has one stream: {v}");
                    out.extend(
                        base64::engine::general_purpose::STANDARD
                            .decode(v["data"]["data"].as_str().unwrap())
                            .unwrap(),
                    );
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let mut input = raw_stream(&c.agent);
    input.chunk(&input_record(
        json!({"type": "CONTAINER_ID", "container_id": id_json("a-tty")}),
    ));
    input.chunk(&input_record(
        json!({"type": "PROCESS_IO", "process_io": {"type": "DATA", "data": {
            "type": "STDIN",
            "data": base64::engine::general_purpose::STANDARD.encode("hello group\n")}}}),
    ));
    let (status, body) = input.finish();
    assert_eq!(status, 200, "{body}");
    let out = output.await.unwrap();
    assert!(out.contains("got hello group"), "{out:?}");
    // a-plain outlives the agent (durable): ended here, not left behind.
    let agent_id = offer.agent_id.clone();
    framework.kill("a-plain", &agent_id).await;
    until_state(&mut framework, "a-plain", TaskState::TaskKilled).await;
}
