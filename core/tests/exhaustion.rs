//! End to end: what a client on the network cannot exhaust in a real `remesos master`
//! (issue 11, defect 4 b–d). Each test starts the binary as a user would and attacks it
//! over plain TCP: unread or surplus operator event streams, a RECONCILE larger than a
//! stream's buffer, slowloris connections, and more connections than the process has
//! file descriptors.
//!
//! The timeouts below only keep a failing run from hanging; they assert no speed.

mod support;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use remesos_proto::v1;
use v1::scheduler as sched;

/// How long a failing run may hang before the test gives up (not a speed target).
const GIVE_UP: Duration = Duration::from_secs(90);

/// A `remesos master` whose stderr (its log) goes to a file the test reads.
struct Master {
    child: Child,
    address: String,
    log: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Master {
    /// Starts the master with `flags`; `nofile` sets its RLIMIT_NOFILE (soft and hard)
    /// before exec, as `prlimit --nofile=N:N` would.
    async fn start(flags: &[&str], nofile: Option<u64>) -> Master {
        let port = support::free_port();
        let dir =
            std::env::temp_dir().join(format!("remesos-exhaustion-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let address = format!("127.0.0.1:{port}");
        let log = dir.join("master.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_remesos"));
        command
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--work_dir={}", dir.join("work").display()))
            .args(flags)
            .env("REMESOS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(n) = nofile {
            // SAFETY: the closure runs in the forked child before exec and only calls
            // setrlimit(2), which is async-signal-safe.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = command.spawn().expect("start remesos master");
        let master = Master {
            child,
            address,
            log,
            dir,
        };
        let deadline = std::time::Instant::now() + GIVE_UP;
        while health(&master.address).await != Some(200) {
            assert!(
                std::time::Instant::now() < deadline,
                "the master did not start: {}",
                master.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        master
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Waits (at most [`GIVE_UP`]) until the log holds `needle`; returns the log.
    async fn await_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + GIVE_UP;
        loop {
            let text = self.log_text();
            if text.contains(needle) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the master never logged {needle:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `GET /health` on a fresh connection: its status, or `None` if it failed.
async fn health(address: &str) -> Option<u16> {
    let http = remesos::client::HttpClient::default();
    match tokio::time::timeout(GIVE_UP, http.get(&format!("http://{address}/health"))).await {
        Ok(Ok((status, _))) => Some(status),
        _ => None,
    }
}

/// Opens an operator event stream (`POST /api/v1 {"type":"SUBSCRIBE"}`) and reads until
/// its SUBSCRIBED event; the rest of the stream is left unread.
/// The client's receive buffer is tiny, so the kernel holds little of what is not read.
async fn operator_subscribe(address: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address.parse().unwrap()).await.unwrap();
    let body = r#"{"type":"SUBSCRIBE"}"#;
    let request = format!(
        "POST /api/v1 HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"SUBSCRIBED\"") {
        let n = tokio::time::timeout(GIVE_UP, stream.read(&mut buf))
            .await
            .expect("no SUBSCRIBED event")
            .unwrap();
        assert!(
            n > 0,
            "closed before SUBSCRIBED: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    stream
}

/// Reads `stream` until its chunked response body ends (the terminating chunk) or the
/// connection closes; panics if neither happens within [`GIVE_UP`].
async fn read_until_response_ends(stream: &mut TcpStream) {
    let mut tail = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = match tokio::time::timeout(GIVE_UP, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) => return, // reset: closed
            Err(_) => panic!("the stream was never closed"),
        };
        if n == 0 {
            return;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.windows(5).any(|w| w == b"0\r\n\r\n") {
            return;
        }
        let keep = tail.len().saturating_sub(8);
        tail.drain(..keep);
    }
}

/// Mesos's `--max_operator_event_stream_subscribers`: "If new connections bring the total
/// number of subscribers over this value, older connections will be closed by the master"
/// (docs/configuration/master.md; `Master::subscribe` logs which one).
#[tokio::test]
async fn operator_subscribers_beyond_the_maximum_close_the_oldest() {
    let master = Master::start(&["--max_operator_event_stream_subscribers=2"], None).await;
    let mut first = operator_subscribe(&master.address).await;
    let _second = operator_subscribe(&master.address).await;
    let _third = operator_subscribe(&master.address).await;
    // The third subscriber brought the total over 2: the first one's stream ends.
    read_until_response_ends(&mut first).await;
    master
        .await_log(
            "Reached the maximum number of operator event stream subscribers (2) so the \
             oldest connection",
        )
        .await;
    // Mesos's gauge (src/master/metrics.cpp) counts the streams kept.
    let http = remesos::client::HttpClient::default();
    let (_, body) = http
        .get(&format!("http://{}/metrics/snapshot", master.address))
        .await
        .unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(metrics["master/operator_event_stream_subscribers"], 2.0);
}

/// Issue 11: 200 operator streams that never read took the master from 47 MB to 1 GB:
/// every event was copied into every subscriber's buffer. Events are shared now, and a
/// subscriber whose buffer is full is dropped with a log line.
#[tokio::test]
async fn operator_subscribers_that_do_not_read_are_dropped_and_memory_stays_bounded() {
    let master = Master::start(&[], None).await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(operator_subscribe(&master.address).await);
    }
    let before = master.rss_kib();
    // FRAMEWORK_ADDED and FRAMEWORK_REMOVED events carrying an 8 KiB label each: more
    // events than a stream's buffer (OPERATOR_STREAM_BUFFER) and the kernel's hold.
    let label = "x".repeat(8 * 1024);
    for i in 0..3000 {
        let info = v1::FrameworkInfo {
            user: String::new(),
            name: format!("noise-{i}"),
            labels: Some(v1::Labels {
                labels: vec![v1::Label {
                    key: "padding".to_string(),
                    value: Some(label.clone()),
                }],
            }),
            ..Default::default()
        };
        let sub = remesos::client::scheduler::Subscription::subscribe(
            &master.address,
            sched::call::Subscribe {
                framework_info: info,
                ..Default::default()
            },
            remesos::client::Format::Protobuf,
        )
        .await
        .unwrap();
        sub.call(sched::Call {
            r#type: Some(sched::call::Type::Teardown as i32),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    master
        .await_log("dropping an operator event stream that is not being read")
        .await;
    let after = master.rss_kib();
    // Copied into each of 50 buffers the events would need gigabytes; shared, they need
    // one copy of at most a buffer's worth, plus bounded per-connection buffers.
    assert!(
        after < before + 512 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(health(&master.address).await, Some(200));
}

/// Issue 11: an explicit RECONCILE of more than 4,096 tasks delivered 4,096 answers and
/// dropped the framework's stream. Mesos answers every task named (reference §8.3; an
/// unknown task of a framework that is not partition-aware is TASK_LOST), so the answers
/// wait for room in the stream instead of overflowing it.
#[tokio::test]
async fn reconcile_of_ten_thousand_tasks_answers_every_one() {
    let master = Master::start(&[], None).await;
    let mut sub = remesos::client::scheduler::Subscription::subscribe(
        &master.address,
        sched::call::Subscribe {
            framework_info: v1::FrameworkInfo {
                user: String::new(),
                name: "reconciler".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        remesos::client::Format::Protobuf,
    )
    .await
    .unwrap();
    const TASKS: usize = 10_000;
    let tasks = (0..TASKS)
        .map(|i| sched::call::reconcile::Task {
            task_id: v1::TaskId {
                value: format!("task-{i}"),
            },
            agent_id: None,
        })
        .collect();
    sub.call(sched::Call {
        r#type: Some(sched::call::Type::Reconcile as i32),
        reconcile: Some(sched::call::Reconcile { tasks }),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut answered = std::collections::HashSet::new();
    while answered.len() < TASKS {
        let event = tokio::time::timeout(GIVE_UP, sub.next_event())
            .await
            .expect("the answers stopped")
            .expect("the stream was dropped");
        let Some(update) = event.update else { continue };
        assert_eq!(update.status.state, v1::TaskState::TaskLost as i32);
        assert_eq!(
            update.status.reason,
            Some(v1::task_status::Reason::Reconciliation as i32)
        );
        answered.insert(update.status.task_id.value);
    }
    assert_eq!(answered.len(), TASKS);
    assert!(
        !master.log_text().contains("dropping a framework stream"),
        "{}",
        master.log_text()
    );
}

/// Slowloris: a connection that never finishes its request head is closed by the server
/// after the header timeout (api/serve.rs), so such connections cannot pile up.
#[tokio::test]
async fn connections_that_never_finish_a_request_head_are_closed() {
    let master = Master::start(&[], None).await;
    let mut slow = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(&master.address).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: slow\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    for stream in &mut slow {
        let mut buf = [0u8; 1024];
        // Anything but a timeout: EOF, a reset, or hyper's 408 before it closes.
        let read = tokio::time::timeout(GIVE_UP, stream.read(&mut buf)).await;
        assert!(read.is_ok(), "a slowloris connection was never closed");
    }
    assert_eq!(health(&master.address).await, Some(200));
}

/// Issue 11: at the default 1,024 descriptors, 2,000 SUBSCRIBEs made `/health` time out.
/// Here the master's hard limit is 256 (so raising the soft limit cannot help) and 400
/// clients hold operator streams or try to; `/health` still answers.
#[tokio::test]
async fn health_answers_while_connections_exhaust_the_descriptor_limit() {
    let master = Master::start(&[], Some(256)).await;
    let mut held = Vec::new();
    for _ in 0..400 {
        let Ok(mut stream) = TcpStream::connect(&master.address).await else {
            continue;
        };
        let body = r#"{"type":"SUBSCRIBE"}"#;
        let request = format!(
            "POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(request.as_bytes()).await;
        held.push(stream);
    }
    // The master has used up what it may serve: the log says so, or it would have
    // stopped accepting; either way /health must answer.
    for _ in 0..20 {
        assert_eq!(
            health(&master.address).await,
            Some(200),
            "{}",
            master.log_text()
        );
    }
    assert!(
        master
            .log_text()
            .contains("raised the soft limit on open files")
            || master.log_text().contains("already the hard limit"),
        "{}",
        master.log_text()
    );
}
