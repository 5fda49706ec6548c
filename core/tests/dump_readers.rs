#![allow(
    clippy::disallowed_methods,
    reason = "tests drive real processes and wait on wall-clock time"
)]
//! Bad input against a real `remesos master` (issue 19, CONVENTIONS.md "an attack is a
//! test"): a slow reader of the streamed state dumps (`/master/state`, GET_STATE) must not
//! stall the master nor grow it with the dump's size, and its writer stops when the reader
//! goes away; the agents' gRPC session route (master/service.rs, hand-written) answers
//! malformed sessions with gRPC statuses and registers nothing.

mod support;

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;

use remesos::resources::Resources;
use remesos_proto::internal as wire;
use remesos_proto::v1;
use support::{Daemon, TestFramework, free_port};
use wire::agent_message::Message as FromAgent;
use wire::master_message::Message as ToAgent;

/// `remesos master` on a free port with its log (stderr) in `work_dir/master.log`, showing
/// the dump writers' debug lines.
async fn spawn_master_logged(work_dir: &std::path::Path) -> (Daemon, String, std::path::PathBuf) {
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let log = work_dir.join("master.log");
    let daemon = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--work_dir={}", work_dir.join("master").display()))
            .args(["--allocation_interval=100ms"])
            .env("REMESOS_LOG", "warn,remesos::master::http::operator=debug")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start remesos master"),
    );
    let http = remesos::client::HttpClient::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok((200, _)) = http.get(&format!("http://{master}/health")).await {
            return (daemon, master, log);
        }
        assert!(Instant::now() < deadline, "the master did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A simulated agent that answers each task it is sent with TASK_RUNNING and keeps it
/// running (the tasks stay in the master's books and its dumps), and answers pings.
async fn keep_running_agent(master: &str, resources: &str) -> String {
    let (agent_id, tx, mut inbound) =
        support::register_sim_agent(master, "big.example", resources, 1024).await;
    let id = agent_id.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = inbound.next().await {
            let reply = match message.message {
                Some(ToAgent::RunTask(run)) => FromAgent::StatusUpdate(wire::StatusUpdate {
                    framework_id: run.framework.id.clone().unwrap(),
                    status: v1::TaskStatus {
                        task_id: run.task.task_id.clone(),
                        state: v1::TaskState::TaskRunning as i32,
                        source: Some(v1::task_status::Source::Executor as i32),
                        agent_id: Some(v1::AgentId { value: id.clone() }),
                        uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                        ..Default::default()
                    },
                    latest_state: None,
                }),
                Some(ToAgent::Ping(_)) => FromAgent::Pong(wire::Pong {}),
                _ => continue,
            };
            let _ = tx
                .send(wire::AgentMessage {
                    message: Some(reply),
                })
                .await;
        }
    });
    agent_id
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Tasks of `label_bytes` of labels each, so that a few hundred make a dump of tens of MiB.
fn fat_task(id: &str, offer: &v1::Offer, label_bytes: usize) -> v1::TaskInfo {
    let mut task = support::command_task(id, offer, "cpus:0.01;mem:1", "sleep 1000");
    task.labels = Some(v1::Labels {
        labels: vec![v1::Label {
            key: "padding".into(),
            value: Some("x".repeat(label_bytes)),
        }],
    });
    task
}

/// Sends `request` on a raw connection, reads `keep` bytes of the answer, and returns the
/// connection still open (the reader that stopped reading).
async fn stalled_reader(master: &str, request: String, keep: usize) -> tokio::net::TcpStream {
    let mut socket = tokio::net::TcpStream::connect(master).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut got = vec![0; keep];
    socket.read_exact(&mut got).await.unwrap();
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got[..64])
    );
    socket
}

async fn body_len(master: &str, path: &str, post: Option<&str>) -> usize {
    match post {
        Some(body) => {
            let (status, body) = support::post_json(master, path, body).await;
            assert_eq!(status, 200);
            body.len()
        }
        None => {
            let (status, body) = remesos::client::HttpClient::default()
                .get(&format!("http://{master}{path}"))
                .await
                .unwrap();
            assert_eq!(status, 200);
            body.len()
        }
    }
}

const TASKS: usize = 1000;
const LABEL: usize = 40 * 1024;

/// A client that reads a streamed dump and stops (socket open) holds up neither `/health`,
/// nor a framework's calls, nor allocation, nor the agent's messages; the master holds a
/// few chunks per reader, not the dump (its tasks are shared with the books); when the
/// reader goes away its writer stops ("state dump not sent whole").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_reading_a_dump_stalls_nothing_and_grows_nothing() {
    let dir = support::temp_dir("dump-readers");
    let (daemon, master, log) = spawn_master_logged(&dir).await;
    let pid = daemon.0.id();
    keep_running_agent(&master, "cpus:1000;mem:1000000").await;
    let mut framework = TestFramework::subscribe(&master, "fat", false).await;
    let no_refusal = v1::Filters {
        refuse_seconds: Some(0.0),
    };
    let mut launched = 0;
    while launched < TASKS {
        let offer = framework.next_offer().await;
        let tasks: Vec<_> = (launched..launched + 100)
            .map(|i| fat_task(&format!("fat-{i}"), &offer, LABEL))
            .collect();
        launched += tasks.len();
        let accept = remesos::common::protocol::launch_call(&offer, tasks, Some(no_refusal));
        framework.sub.call(accept).await.unwrap();
    }
    eprintln!("launched {launched} tasks");
    // Their TASK_RUNNING updates (some were read, unacknowledged, while waiting for offers).
    let http = remesos::client::HttpClient::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = http
            .get(&format!("http://{master}/metrics/snapshot"))
            .await
            .unwrap();
        let metrics: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if metrics["master/tasks_running"].as_f64() == Some(TASKS as f64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            metrics["master/tasks_running"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let state_len = body_len(&master, "/master/state", None).await;
    let get_state_len = body_len(&master, "/api/v1", Some(r#"{"type":"GET_STATE"}"#)).await;
    assert!(
        state_len > TASKS * LABEL && get_state_len > TASKS * LABEL,
        "{state_len} / {get_state_len}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(pid);

    let get = "GET /master/state HTTP/1.1\r\nHost: m\r\n\r\n".to_string();
    let body = r#"{"type":"GET_STATE"}"#;
    let post = format!(
        "POST /api/v1 HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut readers = Vec::new();
    for _ in 0..2 {
        readers.push(stalled_reader(&master, get.clone(), 4096).await);
        readers.push(stalled_reader(&master, post.clone(), 4096).await);
    }

    eprintln!("dumps of {state_len} / {get_state_len} bytes; four readers stopped");
    // While four readers have stopped: /health answers, a framework's call is answered,
    // an offer comes (allocation), a task launches and its TASK_RUNNING arrives (agent).
    for _ in 0..5 {
        let asked = Instant::now();
        let health = tokio::time::timeout(
            Duration::from_secs(5),
            http.get(&format!("http://{master}/health")),
        )
        .await
        .expect("/health answers while dumps are stalled");
        assert_eq!(health.unwrap().0, 200);
        assert!(asked.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let offer = framework.next_offer().await;
    let accept = remesos::common::protocol::launch_call(
        &offer,
        vec![fat_task("during-the-stall", &offer, 10)],
        Some(no_refusal),
    );
    framework.sub.call(accept).await.unwrap();
    let status = loop {
        let status = framework.next_update(Duration::from_secs(10)).await;
        if status.task_id.value == "during-the-stall" {
            break status;
        }
    };
    assert_eq!(status.state, v1::TaskState::TaskRunning as i32);

    // Four stalled dumps of ~40 MiB each (~160 MiB of body not yet read): the master holds
    // a few chunks per writer (the channel's 2 MiB, the one being written, hyper's buffer
    // and the writer thread's heap: mimalloc keeps pages per thread, ~10 MiB measured),
    // not the dump: at most 16 MiB per reader, well under the 40 MiB a held body would be.
    let during = rss_kib(pid);
    eprintln!("master RSS {before} KiB before, {during} KiB with the readers stopped");
    let grown = during.saturating_sub(before) as usize * 1024;
    assert!(
        grown < readers.len() * 16 * 1024 * 1024,
        "the master grew by {grown} bytes for four stalled dumps of {state_len} / \
         {get_state_len} bytes"
    );

    // The readers go away: every writer stops.
    drop(readers);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        let stopped = text.matches("state dump not sent whole").count();
        if stopped >= 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{stopped} of 4 writers stopped:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And a whole dump is still served: the 1,000 fat tasks again (and the one launched
    // since; an outstanding offer may come or go, hence the slack).
    let after = body_len(&master, "/master/state", None).await;
    assert!(
        after + 64 * 1024 > state_len,
        "{after} bytes after, {state_len} before"
    );
}

/// The gRPC status of a request on the agents' session route (`grpc-status` from the
/// headers of a trailers-only answer, else from the trailers).
async fn grpc_status(master: &str, path: &str, body: Vec<u8>) -> (i32, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{master}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("an answer in time")
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    let collected = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
        .await
        .expect("the answer ends in time")
        .unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let field = |name: &str| {
        headers
            .get(name)
            .or_else(|| trailers.get(name))
            .map(|v| v.to_str().unwrap_or_default().to_string())
    };
    let code = field("grpc-status")
        .expect("a grpc-status")
        .parse()
        .unwrap();
    (
        code,
        // `grpc-message` is percent-encoded (gRPC over HTTP/2, "Responses").
        remesos::common::metrics::percent_decode(&field("grpc-message").unwrap_or_default()),
    )
}

/// One gRPC frame: uncompressed, `len` as its declared length, then `message`.
fn frame(len: u32, message: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
    out
}

const SESSION: &str = "/remesos.internal.AgentService/Session";

/// tonic's codes (grpc/status.proto).
const INVALID_ARGUMENT: i32 = 3;
const OUT_OF_RANGE: i32 = 11;
const UNIMPLEMENTED: i32 = 12;
const INTERNAL: i32 = 13;

/// Malformed agent sessions: each gets its gRPC status, and the master registers no agent
/// and keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_agent_sessions_get_grpc_statuses_and_register_nothing() {
    use prost::Message;
    let dir = support::temp_dir("grpc-route");
    let (_daemon, master) = support::spawn_master(&dir).await;

    // An unknown method of the service (the hand-written route's answer), and of no
    // service (tonic's router's, with no message).
    let (code, message) = grpc_status(
        &master,
        "/remesos.internal.AgentService/Nope",
        frame(0, &[]),
    )
    .await;
    assert_eq!((code, message.as_str()), (UNIMPLEMENTED, "unknown method"));
    let (code, _) = grpc_status(&master, "/grpc.health.v1.Health/Check", frame(0, &[])).await;
    assert_eq!(code, UNIMPLEMENTED);

    // A frame that declares more than the 64 MiB the route decodes (only the prefix sent:
    // the master must refuse on the length, not buffer it).
    let (code, message) =
        grpc_status(&master, SESSION, frame(64 * 1024 * 1024 + 1, &[0; 16])).await;
    assert_eq!(code, OUT_OF_RANGE, "{message}");

    // A frame that is not an AgentMessage: field 1 (Register) holding bytes that are no
    // message.
    let garbage = [0x0a, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff];
    let (code, message) =
        grpc_status(&master, SESSION, frame(garbage.len() as u32, &garbage)).await;
    assert_eq!(code, INTERNAL, "{message}");

    // A first message with no message in it.
    let empty = wire::AgentMessage { message: None }.encode_to_vec();
    let (code, message) = grpc_status(&master, SESSION, frame(empty.len() as u32, &empty)).await;
    assert_eq!(
        (code, message.as_str()),
        (INVALID_ARGUMENT, "empty first message")
    );

    // A reregistration with a forged agent id (a path, not an id): refused. (A well-formed
    // id the master does not know is admitted on reregistration, as Mesos's master admits
    // an agent it has no record of after a failover.)
    let forged = wire::AgentMessage {
        message: Some(FromAgent::Reregister(wire::Reregister {
            agent_info: v1::AgentInfo {
                hostname: "forged.example".into(),
                id: Some(v1::AgentId {
                    value: "../../etc".into(),
                }),
                resources: Resources::parse("cpus:1;mem:64", "*")
                    .unwrap()
                    .into_protos(),
                ..Default::default()
            },
            endpoint: Some("127.0.0.1:5051".into()),
            ..Default::default()
        })),
    }
    .encode_to_vec();
    let (code, message) = grpc_status(&master, SESSION, frame(forged.len() as u32, &forged)).await;
    assert_eq!(code, INVALID_ARGUMENT, "{message}");

    // Nothing registered; the master still serves and a real agent still registers.
    let (status, slaves) = support::operator_call(&master, r#"{"type":"GET_AGENTS"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(
        slaves["get_agents"]["agents"],
        serde_json::Value::Null,
        "{slaves}"
    );
    let agent = support::start_agent(&master, "real.example", "cpus:1;mem:64").await;
    let (_, slaves) = support::operator_call(&master, r#"{"type":"GET_AGENTS"}"#).await;
    let agents = slaves["get_agents"]["agents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(agents.len(), 1, "{slaves}");
    assert_eq!(agents[0]["agent_info"]["id"]["value"], agent.id.as_str());
}
