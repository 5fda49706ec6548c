//! The daemons' own logs (issue 18, the "daemon logs" part of item 1, and item 5) against
//! real `remesos master` and `remesos agent` processes:
//!
//! - `--log_dir`: glog's file names (`mesos-master.INFO` -> `mesos-master.<host>.<user>.log.
//!   INFO.<yyyymmdd>-<hhmmss>.<pid>`, `mesos-slave.*` for the agent; Mesos
//!   `src/logging/logging.cpp`, glog `LogFileObject::CreateLogfile`) with the daemon's lines;
//! - the file attached to `/files` as `/master/log` and `/slave/log` (Mesos's
//!   `master/main.cpp`, `slave/main.cpp`), read with offset and length, downloaded, guarded
//!   by `access_mesos_logs` (403, nothing served), 404 without `--log_dir`, Mesos's errors for
//!   a path that leaves the file and a negative offset (`src/files/files.cpp`);
//! - `--log_format=json`: one JSON object a line;
//! - the access log at debug level: method, endpoint, status, peer, and never the query.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use remesos::client::HttpClient;
use serde_json::Value;
use support::{Daemon, free_port, spawn_agent, spawn_master_env, spawn_master_with, temp_dir};

/// What glog names the files after: the machine and the user.
fn host_and_user() -> (String, String) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "invalid-user".into());
    (host, user)
}

/// The file `<dir>/<link>` points at, checked to be glog's name for `program`, `severity`
/// and `pid`; returns its name.
fn glog_file(dir: &Path, program: &str, severity: &str, pid: u32) -> String {
    let link = dir.join(format!("{program}.{severity}"));
    let target = std::fs::read_link(&link)
        .unwrap_or_else(|e| panic!("{} is not a symlink: {e}", link.display()));
    let name = target.to_str().unwrap().to_string();
    let (host, user) = host_and_user();
    let prefix = format!("{program}.{host}.{user}.log.{severity}.");
    let suffix = format!(".{pid}");
    assert!(
        name.starts_with(&prefix) && name.ends_with(&suffix),
        "{name} is not {prefix}<date>-<time>{suffix}"
    );
    let stamp = &name[prefix.len()..name.len() - suffix.len()];
    assert_eq!(stamp.len(), 15, "{stamp}");
    assert!(
        stamp
            .char_indices()
            .all(|(i, c)| if i == 8 { c == '-' } else { c.is_ascii_digit() }),
        "{stamp} is not yyyymmdd-hhmmss"
    );
    assert!(dir.join(&name).is_file());
    name
}

async fn get(url: &str) -> (u16, String) {
    let (status, body) = HttpClient::default().get(url).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Waits until `file` contains `needle` (the daemon writes its lines as they come).
async fn wait_for_line(file: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never had {needle:?}:\n{text}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The master's `--log_dir`: glog's names, the file served as `/master/log` through
/// `/files/read` (offset and length as Mesos's pailer asks), `/files/download` and
/// `/files/browse`; a path below the file and a negative offset get Mesos's answers; the
/// access log names the request at debug level without its query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_log_dir_is_named_as_glog_and_served_as_master_log() {
    let dir = temp_dir("daemon-logs-master");
    let log_dir = dir.join("logs");
    let (daemon, master) = spawn_master_env(
        &dir,
        &[format!("--log_dir={}", log_dir.display())],
        // The access log is at debug level; the rest of the master stays at INFO.
        &[("REMESOS_LOG".into(), "info,remesos::access=debug".into())],
    )
    .await;
    let name = glog_file(&log_dir, "mesos-master", "INFO", daemon.0.id());
    let file = log_dir.join(&name);
    let text = wait_for_line(&file, "remesos master").await;
    assert!(
        text.starts_with("Log file created at: "),
        "glog's header first:\n{text}"
    );
    assert!(text.contains(" INFO "), "{text}");

    // offset -1 (the pailer's first question): the size, no data.
    let (status, body) = get(&format!(
        "http://{master}/files/read?path=/master/log&offset=-1"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let size: Value = serde_json::from_str(&body).unwrap();
    assert!(size["offset"].as_u64().unwrap() >= text.len() as u64);
    assert_eq!(size["data"], "");
    // offset and length: exactly those bytes of the file.
    let (status, body) = get(&format!(
        "http://{master}/files/read?path=/master/log&offset=4&length=16"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let read: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(read["offset"], 4);
    assert_eq!(read["data"], &text[4..20]);
    // Download: the whole file, under its real name.
    let (status, body) = HttpClient::default()
        .get(&format!("http://{master}/files/download?path=/master/log"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(body.starts_with(text.as_bytes()));
    // Browse of an attached file: Mesos lists nothing.
    let (status, body) = get(&format!("http://{master}/files/browse?path=/master/log")).await;
    assert_eq!((status, body.as_str()), (200, "[]"));

    // A path below the file: an attached file takes no suffix (files.cpp `resolve`), 404,
    // nothing served.
    let (status, body) = get(&format!(
        "http://{master}/files/read?path=/master/log/../..&offset=0"
    ))
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("Log file created"), "{body}");
    // A negative offset other than -1: 400 with Mesos's text.
    let (status, body) = get(&format!(
        "http://{master}/files/read?path=/master/log&offset=-2"
    ))
    .await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Negative offset provided: -2.\n")
    );

    // The access log: one debug line per request, with the peer and no query string.
    let (status, _) = get(&format!(
        "http://{master}/files/read?path=/master/log&offset=0&length=1&token=hunter2"
    ))
    .await;
    assert_eq!(status, 200);
    let text = wait_for_line(&file, "endpoint=\"/files/read\"").await;
    let line = text
        .lines()
        .find(|l| l.contains("remesos::access") && l.contains("endpoint=\"/files/read\""))
        .unwrap();
    assert!(line.contains("DEBUG"), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains("peer=127.0.0.1:"), "{line}");
    assert!(line.contains("duration_ms="), "{line}");
    assert!(
        !text.contains("hunter2"),
        "a query reached the log:\n{text}"
    );
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `access_mesos_logs` denies: 403 with nothing served, on every `/files` endpoint of the
/// master and the agent, through the master's proxy and through READ_FILE; and
/// `--log_format=json` writes one JSON object a line with the event's fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_mesos_logs_denies_and_json_lines_parse() {
    let dir = temp_dir("daemon-logs-acl");
    let log_dir = dir.join("logs");
    let acls = dir.join("acls.json");
    std::fs::write(
        &acls,
        r#"{"access_mesos_logs": [{"principals": {"type": "ANY"}, "logs": {"type": "NONE"}}]}"#,
    )
    .unwrap();
    let (daemon, master) = spawn_master_with(
        &dir,
        &[
            format!("--log_dir={}", log_dir.display()),
            format!("--acls=file://{}", acls.display()),
            "--log_format=json".into(),
        ],
    )
    .await;
    for endpoint in ["read", "download", "browse"] {
        let (status, body) = get(&format!(
            "http://{master}/files/{endpoint}?path=/master/log&offset=0"
        ))
        .await;
        assert_eq!((status, body.as_str()), (403, ""), "/files/{endpoint}");
    }
    // The agent's `/slave/log` under the same ACLs: refused on the agent's `/files`, through
    // the master's proxy (the agent decides) and through the v1 READ_FILE call.
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let agent_daemon: Daemon = spawn_agent(
        &master,
        port,
        &dir.join("agent"),
        &[
            &format!("--log_dir={}", dir.join("agent-logs").display()),
            &format!("--acls=file://{}", acls.display()),
            "--quiet",
        ],
    );
    let agent_id = support::registered_agent_state(&agent).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for endpoint in ["read", "download", "browse"] {
        for url in [
            format!("http://{agent}/files/{endpoint}?path=/slave/log&offset=0"),
            format!("http://{master}/agent/{agent_id}/files/{endpoint}?path=/slave/log&offset=0"),
        ] {
            let (status, body) = get(&url).await;
            assert_eq!((status, body.as_str()), (403, ""), "{url}");
        }
    }
    let (status, body) = support::post_json(
        &agent,
        "/api/v1",
        r#"{"type": "READ_FILE", "read_file": {"path": "/slave/log", "offset": 0}}"#,
    )
    .await;
    assert_eq!(status, 403, "READ_FILE of /slave/log: {body}");
    drop(agent_daemon);

    let name = glog_file(&log_dir, "mesos-master", "INFO", daemon.0.id());
    let text = wait_for_line(&log_dir.join(name), "remesos master").await;
    let mut lines = text.lines();
    // glog's header, then the events.
    assert!(lines.next().unwrap().starts_with("Log file created at: "));
    let events: Vec<Value> = lines
        .skip_while(|l| !l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!events.is_empty(), "{text}");
    for event in &events {
        assert!(event["timestamp"].is_string(), "{event}");
        assert!(event["level"].is_string(), "{event}");
        assert!(event["target"].is_string(), "{event}");
        assert!(event["message"].is_string(), "{event}");
    }
    // The structured fields sit beside the message (`address` of the start line).
    let start = events
        .iter()
        .find(|e| e["message"].as_str().unwrap().contains("remesos master"))
        .unwrap();
    assert!(
        start.as_object().unwrap().len() > 4,
        "no structured fields: {start}"
    );
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The agent's `--log_dir` is `mesos-slave.*` and its `/slave/log`, read on the agent and
/// through the master's proxy; a master without `--log_dir` answers 404 for `/master/log`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_log_is_slave_log_and_no_log_dir_is_404() {
    let dir = temp_dir("daemon-logs-agent");
    let (_master_daemon, master) = spawn_master_with(&dir, &[]).await;
    let (status, body) = get(&format!(
        "http://{master}/files/read?path=/master/log&offset=0"
    ))
    .await;
    assert_eq!((status, body.as_str()), (404, ""));

    let log_dir = dir.join("agent-logs");
    let port = free_port();
    let agent_daemon: Daemon = spawn_agent(
        &master,
        port,
        &dir.join("agent"),
        &[&format!("--log_dir={}", log_dir.display()), "--quiet"],
    );
    let agent = format!("127.0.0.1:{port}");
    let state = support::registered_agent_state(&agent).await;
    let agent_id = state["id"].as_str().unwrap().to_string();
    let name = glog_file(&log_dir, "mesos-slave", "INFO", agent_daemon.0.id());
    let text = wait_for_line(&log_dir.join(name), "remesos agent starting").await;

    let (status, body) = get(&format!(
        "http://{agent}/files/read?path=/slave/log&offset=0&length=20"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let read: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(read["data"], &text[..20]);
    // The web UI reads it through the master (master/http/sandbox.rs).
    let (status, body) = get(&format!(
        "http://{master}/agent/{agent_id}/files/read?path=/slave/log&offset=0&length=20"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), read);
    drop(agent_daemon);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `--log_format` that is neither text nor json stops the daemon with the reason; a
/// `--log_dir` that cannot be created too.
#[test]
fn bad_log_flags_stop_the_daemon() {
    let dir = temp_dir("daemon-logs-bad");
    let (status, stderr) = support::run_to_exit(
        &[
            "master",
            "--ip=127.0.0.1",
            &format!("--port={}", free_port()),
            &format!("--work_dir={}", dir.display()),
            "--log_format=xml",
        ],
        &[],
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("log_format"), "{stderr}");
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let (status, stderr) = support::run_to_exit(
        &[
            "master",
            "--ip=127.0.0.1",
            &format!("--port={}", free_port()),
            &format!("--work_dir={}", dir.display()),
            &format!("--log_dir={}/logs", blocker.display()),
        ],
        &[],
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--log_dir"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
