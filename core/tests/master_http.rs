//! HTTP tests against a running master (in-process, real sockets) whose agents are
//! simulated over the real gRPC service, and whose frameworks use the v1 scheduler API
//! through `remesos::client::scheduler` (JSON and protobuf).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::time::Duration;

use prost::Message;
use serde_json::{Value, json};

mod support;

use remesos::client::scheduler::Subscription;
use remesos::client::{Format, HttpClient};
use remesos::common::version::MESOS_VERSION;
use remesos::master::{self, Config, Master};
use remesos::resources::Resources;
use remesos_proto::v1;
use v1::scheduler as sched;

/// Starts a master on an ephemeral loopback port; returns `host:port`.
async fn start_master() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        port: addr.port(),
        hostname: "127.0.0.1".to_string(),
        allocation_interval: Duration::from_millis(100),
        ..Config::default()
    };
    let handle = master::runtime::spawn(Master::new(
        config,
        "it-master".to_string(),
        master::runtime::now(),
    ));
    tokio::spawn(async move {
        axum::serve(listener, master::http::router(handle))
            .await
            .unwrap();
    });
    addr.to_string()
}

fn framework_info(name: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "tester".into(),
        name: name.into(),
        ..Default::default()
    }
}

async fn next_of(sub: &mut Subscription, ty: sched::event::Type) -> sched::Event {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), sub.next_event())
            .await
            .expect("event in time")
            .unwrap();
        if event.r#type == Some(ty as i32) {
            return event;
        }
    }
}

/// The whole framework life cycle over HTTP, once per encoding.
async fn launch_and_finish(format: Format) {
    let master = start_master().await;
    let mut agent =
        support::start_agent(&master, "agent-host", "cpus:4;mem:2048;ports:[31000-32000]").await;
    let subscribe = sched::call::Subscribe {
        framework_info: framework_info("it"),
        ..Default::default()
    };
    let mut sub = Subscription::subscribe(&master, subscribe, format)
        .await
        .unwrap();
    assert!(sub.framework_id.value.starts_with("it-master-"));

    let offers = next_of(&mut sub, sched::event::Type::Offers)
        .await
        .offers
        .unwrap()
        .offers;
    let offer = &offers[0];
    assert_eq!(offer.hostname, "agent-host");
    assert_eq!(offer.agent_id.value, agent.id);

    let mut resources = Resources::parse("cpus:1;mem:128", "*").unwrap();
    resources.allocate("*");
    let task = v1::TaskInfo {
        name: "hello".into(),
        task_id: v1::TaskId {
            value: "task-1".into(),
        },
        agent_id: offer.agent_id.clone(),
        resources: resources.into_protos(),
        command: Some(v1::CommandInfo {
            value: Some("echo hello".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let accept = remesos::common::protocol::launch_call(offer, vec![task], None);
    assert_eq!(sub.call(accept).await.unwrap(), 202);

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let update = next_of(&mut sub, sched::event::Type::Update)
            .await
            .update
            .unwrap();
        let status = update.status;
        seen.push(status.state);
        let ack = sched::Call {
            r#type: Some(sched::call::Type::Acknowledge as i32),
            acknowledge: Some(sched::call::Acknowledge {
                agent_id: status.agent_id.clone().unwrap(),
                task_id: status.task_id.clone(),
                uuid: status.uuid.clone().unwrap(),
            }),
            ..Default::default()
        };
        assert_eq!(sub.call(ack).await.unwrap(), 202);
    }
    assert_eq!(
        seen,
        vec![
            v1::TaskState::TaskRunning as i32,
            v1::TaskState::TaskFinished as i32
        ]
    );
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(5), agent.acks.recv())
            .await
            .unwrap()
            .unwrap();
    }

    // The operator surface shows the framework and its completed task.
    let http = HttpClient::default();
    let (status, body) = http
        .get(&format!("http://{master}/master/state"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let state: Value = serde_json::from_slice(&body).unwrap();
    let fw = &state["frameworks"][0];
    assert_eq!(fw["name"], "it");
    assert_eq!(fw["completed_tasks"][0]["state"], "TASK_FINISHED");
    assert_eq!(state["slaves"][0]["pid"], "slave(1)@127.0.0.1:5051");
    assert_eq!(state["slaves"][0]["hostname"], "agent-host");

    // TEARDOWN ends the subscription stream.
    let teardown = sched::Call {
        r#type: Some(sched::call::Type::Teardown as i32),
        ..Default::default()
    };
    assert_eq!(sub.call(teardown).await.unwrap(), 202);
    loop {
        match tokio::time::timeout(Duration::from_secs(5), sub.next_event()).await {
            Ok(Ok(_)) => continue, // events sent before the stream closed
            Ok(Err(_)) => break,   // the stream ended
            Err(_) => panic!("the subscription stream stayed open after TEARDOWN"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_life_cycle_json() {
    launch_and_finish(Format::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_life_cycle_protobuf() {
    launch_and_finish(Format::Protobuf).await;
}

/// A raw POST through hyper, for requests the typed client would never send.
async fn post_raw(
    master: &str,
    path: &str,
    content_type: Option<&str>,
    accept: &str,
    extra: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    let mut headers = vec![("Accept", accept)];
    if let Some(ct) = content_type {
        headers.push(("Content-Type", ct));
    }
    headers.extend_from_slice(extra);
    let url = format!("http://{master}{path}");
    let (status, _, body) = support::raw_request("POST", &url, &headers, body).await;
    (status, body)
}

/// Announces a body over the limit, sends a little of it, and reads the status line.
async fn oversized_post(master: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(master).await.unwrap();
    let length = remesos::api::MAX_BODY_BYTES + 1;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {master}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b' '; 1024]).await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = stream.read(&mut buf).await.unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

async fn framework_count(master: &str) -> usize {
    let (_, body) = HttpClient::default()
        .get(&format!("http://{master}/master/state"))
        .await
        .unwrap();
    let state: Value = serde_json::from_slice(&body).unwrap();
    state["frameworks"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_mesos_status_codes_and_change_nothing() {
    // Reference §3.1 and §3.2.
    let master = start_master().await;
    let path = "/api/v1/scheduler";
    let subscribe =
        json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}})
            .to_string()
            .into_bytes();
    let json_ct = Some("application/json");

    let (s, _) = HttpClient::default()
        .get(&format!("http://{master}{path}"))
        .await
        .unwrap();
    assert_eq!(s, 405);
    let (s, body) = post_raw(
        &master,
        path,
        None,
        "application/json",
        &[],
        subscribe.clone(),
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (400, "Expecting 'Content-Type' to be present")
    );
    let (s, _) = post_raw(
        &master,
        path,
        Some("text/plain"),
        "application/json",
        &[],
        subscribe.clone(),
    )
    .await;
    assert_eq!(s, 415);
    let (s, _) = post_raw(&master, path, json_ct, "text/html", &[], subscribe.clone()).await;
    assert_eq!(s, 406);
    let (s, body) = post_raw(
        &master,
        path,
        json_ct,
        "application/json",
        &[],
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    let (s, _) = post_raw(
        &master,
        path,
        Some("application/x-protobuf"),
        "application/json",
        &[],
        vec![0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(s, 400);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let (s, _) = post_raw(&master, path, json_ct, "application/json", &[], deep).await;
    assert_eq!(
        s, 400,
        "deeply nested JSON is rejected, not a stack overflow"
    );
    // An oversized body is refused from its Content-Length, before it is read.
    assert_eq!(oversized_post(&master, path).await, 413);
    let (s, body) = post_raw(
        &master,
        path,
        json_ct,
        "application/json",
        &[("Mesos-Stream-Id", "x")],
        subscribe.clone(),
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (
            400,
            "Subscribe calls should not include the 'Mesos-Stream-Id' header"
        )
    );
    let missing_user = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "n"}}})
        .to_string()
        .into_bytes();
    let (s, body) = post_raw(
        &master,
        path,
        json_ct,
        "application/json",
        &[],
        missing_user,
    )
    .await;
    assert_eq!(s, 400);
    assert!(body.contains("user"), "{body}");
    let bad_role = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n", "role": "a//b"}}})
        .to_string()
        .into_bytes();
    let (s, _) = post_raw(&master, path, json_ct, "application/json", &[], bad_role).await;
    assert_eq!(s, 400);
    let unknown = json!({"type": "REVIVE", "framework_id": {"value": "nope"}})
        .to_string()
        .into_bytes();
    let (s, body) = post_raw(
        &master,
        path,
        json_ct,
        "application/json",
        &[("Mesos-Stream-Id", "x")],
        unknown,
    )
    .await;
    assert_eq!((s, body.as_str()), (400, "Framework cannot be found"));
    assert_eq!(
        framework_count(&master).await,
        0,
        "rejected calls change nothing"
    );

    // The operator API checks the same way.
    let (s, _) = post_raw(
        &master,
        "/api/v1",
        Some("text/plain"),
        "application/json",
        &[],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(s, 415);
    let (s, _) = post_raw(
        &master,
        "/api/v1",
        json_ct,
        "application/json",
        &[],
        b"{\"type\": 7".to_vec(),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_api_and_endpoints() {
    let master = start_master().await;
    let _agent = support::start_agent(&master, "op-host", "cpus:2;mem:1024").await;
    let json_ct = Some("application/json");
    let (s, body) = post_raw(
        &master,
        "/api/v1",
        json_ct,
        "application/json",
        &[],
        br#"{"type":"GET_HEALTH"}"#.to_vec(),
    )
    .await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})
    );

    // GET_AGENTS in protobuf, answered in protobuf.
    let call = v1::master::Call {
        r#type: Some(v1::master::call::Type::GetAgents as i32),
        ..Default::default()
    };
    let client = HttpClient::default();
    let response = client
        .post(
            &format!("http://{master}/api/v1"),
            "application/x-protobuf",
            "application/x-protobuf",
            &[],
            call.encode_to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body = remesos::client::collect(response).await.unwrap();
    let r = v1::master::Response::decode(body).unwrap();
    assert_eq!(r.r#type, Some(v1::master::response::Type::GetAgents as i32));
    assert_eq!(
        r.get_agents.unwrap().agents[0].agent_info.hostname,
        "op-host"
    );

    let (s, body) = client
        .get(&format!("http://{master}/metrics/snapshot"))
        .await
        .unwrap();
    assert_eq!(s, 200);
    let metrics: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(metrics["master/elected"], 1.0);
    assert_eq!(metrics["master/slaves_active"], 1.0);
    assert_eq!(metrics["master/cpus_total"], 2.0);
    for path in [
        "/health",
        "/master/health",
        "/version",
        "/state",
        "/master/state-summary",
        "/master/roles",
        "/master/flags",
        "/master/tasks",
        "/master/frameworks",
        "/master/slaves",
    ] {
        let (s, _) = client.get(&format!("http://{master}{path}")).await.unwrap();
        assert_eq!(s, 200, "{path}");
    }
    // `/master/redirect` points at the leader, protocol-relative (reference §6).
    let raw = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let request = hyper::Request::get(format!("http://{master}/master/redirect"))
        .body(Default::default())
        .unwrap();
    let response = raw.request(request).await.unwrap();
    assert_eq!(response.status().as_u16(), 307);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("//127.0.0.1:{}", master.rsplit(':').next().unwrap())
    );
}

async fn operator_json(master: &str, call: Value) -> (u16, String) {
    post_raw(
        master,
        "/api/v1",
        Some("application/json"),
        "application/json",
        &[],
        call.to_string().into_bytes(),
    )
    .await
}

async fn agent_count(master: &str) -> usize {
    let (_, body) = HttpClient::default()
        .get(&format!("http://{master}/master/slaves"))
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["slaves"].as_array().unwrap().len()
}

/// docs/maintenance.md and docs/operator-http-api.md: the v0 maintenance endpoints and the
/// v1 maintenance calls see one schedule; MARK_AGENT_GONE answers 200 (also when repeated)
/// and 404 for an unknown agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_endpoints_and_mark_agent_gone() {
    let master = start_master().await;
    let _agent = support::start_agent(&master, "mhost", "cpus:2;mem:1024").await;
    let client = HttpClient::default();
    // The simulated agent announces 127.0.0.1:5051; a machine matches hostname and IP.
    let machine = json!({"hostname": "mhost", "ip": "127.0.0.1"});
    let schedule = json!({"windows": [{
        "machine_ids": [machine],
        "unavailability": {"start": {"nanoseconds": 1_000_000_000i64}, "duration": {"nanoseconds": 3_600_000_000_000i64}}
    }]});
    let (s, body) = post_raw(
        &master,
        "/master/maintenance/schedule",
        Some("application/json"),
        "application/json",
        &[],
        schedule.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = client
        .get(&format!("http://{master}/master/maintenance/schedule"))
        .await
        .unwrap();
    assert_eq!(s, 200);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), schedule);
    let (_, body) = client
        .get(&format!("http://{master}/master/maintenance/status"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"draining_machines": [{"id": machine}]})
    );

    // Only DOWN machines come up; an invalid body is a 400 and changes nothing.
    let ids = json!([machine]).to_string().into_bytes();
    let (s, body) = post_raw(&master, "/master/machine/up", None, "*/*", &[], ids.clone()).await;
    assert_eq!(s, 400);
    assert!(body.contains("is not in DOWN mode"), "{body}");
    let (s, _) = post_raw(
        &master,
        "/master/machine/down",
        None,
        "*/*",
        &[],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(agent_count(&master).await, 1);
    let (s, body) = post_raw(&master, "/master/machine/down", None, "*/*", &[], ids).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        agent_count(&master).await,
        0,
        "the DOWN machine's agent is removed"
    );

    let (s, body) = operator_json(&master, json!({"type": "GET_MAINTENANCE_STATUS"})).await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"type": "GET_MAINTENANCE_STATUS",
               "get_maintenance_status": {"status": {"down_machines": [machine]}}})
    );
    // A DOWN machine cannot leave the schedule.
    let (s, body) = operator_json(
        &master,
        json!({"type": "UPDATE_MAINTENANCE_SCHEDULE",
               "update_maintenance_schedule": {"schedule": {}}}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        body.contains("cannot be removed from the schedule"),
        "{body}"
    );
    let (s, _) = operator_json(
        &master,
        json!({"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [machine]}}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = operator_json(&master, json!({"type": "GET_MAINTENANCE_SCHEDULE"})).await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"type": "GET_MAINTENANCE_SCHEDULE", "get_maintenance_schedule": {"schedule": {}}})
    );

    // MARK_AGENT_GONE.
    let agent = support::start_agent(&master, "other", "cpus:1;mem:512").await;
    let gone =
        json!({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent.id}}});
    let (s, body) = operator_json(&master, gone.clone()).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(agent_count(&master).await, 0);
    let (s, _) = operator_json(&master, gone).await;
    assert_eq!(s, 200, "already gone is not an error");
    let (s, body) = operator_json(
        &master,
        json!({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": "nope"}}}),
    )
    .await;
    assert_eq!((s, body.as_str()), (404, "Agent 'nope' not found"));
}

/// Issue 12 item 2: libprocess's routing rules (3rdparty/libprocess/src/process.cpp,
/// `ProcessManager::handle` and `ProcessBase::consume`) on the master's port. A trailing
/// `/` is stripped, the longest route prefix serves, nothing matching is `404`, `/` is the
/// web UI (issue 18; master/http/webui.rs) and `/agent/<id>/files/*` the sandbox proxy
/// (master/http/sandbox.rs), which refuses bad ids, unknown agents and other methods; gRPC
/// is chosen by content type only, so an agent's session still works and an
/// `application/grpc` request to any path gets a gRPC answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_routed_with_libprocess_rules_and_grpc_by_content_type() {
    use support::raw_request;
    let master = start_master().await;
    // An agent registers over the gRPC service on the same port.
    let _agent = support::start_agent(&master, "route-host", "cpus:1;mem:256").await;
    let get = |path: &'static str| {
        let url = format!("http://{master}{path}");
        async move { raw_request("GET", &url, &[], Vec::new()).await }
    };
    let json = |headers: &hyper::HeaderMap, body: &str, path: &str| -> Value {
        assert_eq!(headers["content-type"], "application/json", "{path}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body:?}"))
    };

    // Trailing slashes: ".../path/" is ".../path".
    for path in ["/master/frameworks/", "/frameworks/"] {
        let (s, h, body) = get(path).await;
        assert_eq!(s, 200, "{path}");
        assert!(json(&h, &body, path)["frameworks"].is_array(), "{path}");
    }
    for path in [
        "/master/state/",
        "/state//",
        "/master/state/x",
        "/master/state/x/y",
    ] {
        let (s, h, body) = get(path).await;
        assert_eq!(s, 200, "{path}");
        let state = json(&h, &body, path);
        assert_eq!(state["slaves"][0]["hostname"], "route-host", "{path}");
    }
    let (s, h, body) = get("/version/").await;
    assert_eq!(s, 200);
    assert_eq!(json(&h, &body, "/version/")["version"], MESOS_VERSION);
    // The longest prefix: /api/v1/<anything> is the operator API.
    let (s, _, body) = raw_request(
        "POST",
        &format!("http://{master}/api/v1/"),
        &[("Content-Type", "application/json")],
        br#"{"type":"GET_HEALTH"}"#.to_vec(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["get_health"]["healthy"],
        true
    );

    // Nothing matches: 404, and no gRPC answer.
    for path in [
        "/no/such/path",
        "/version/x",
        "/master/statex",
        "/metrics/x",
        "/master/metrics/snapshot",
        "/master/redirect/x",
        "/master/../version",
    ] {
        let (s, h, body) = get(path).await;
        assert_eq!(s, 404, "{path}");
        assert!(h.get("grpc-status").is_none(), "{path}");
        assert!(body.is_empty(), "{path}: {body:?}");
    }
    // `/`: the web UI's page, script and style, each with the page's policy.
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/master/", "text/html; charset=utf-8"),
        ("/app/app.js", "text/javascript; charset=utf-8"),
        ("/assets/css/remesos.css", "text/css; charset=utf-8"),
    ] {
        let (s, h, body) = get(path).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(h["content-type"], content_type, "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("default-src 'none'"),
            "{path}"
        );
        assert!(!body.is_empty(), "{path}");
    }
    let (s, _, body) = get("/app/no-such.js").await;
    assert_eq!((s, body.as_str()), (404, ""));

    // The sandbox proxy: bad input is refused before any agent is contacted.
    let state: Value = {
        let (_, h, body) = get("/master/state").await;
        json(&h, &body, "/master/state")
    };
    let agent = state["slaves"][0]["id"].as_str().unwrap().to_string();
    let proxy = |path: String, method: &'static str| {
        let url = format!("http://{master}{path}");
        async move { raw_request(method, &url, &[], Vec::new()).await }
    };
    // `..` as the id (percent-encoded past the router's `/..` check): Mesos's validateID.
    let (s, _, body) = proxy("/agent/%2E%2E/files/read?path=/".into(), "GET").await;
    assert_eq!(
        (s, body.as_str()),
        (400, "Invalid agent ID: '..' is disallowed")
    );
    let (s, _, body) = proxy("/agent/nobody-S9/files/read?path=/".into(), "GET").await;
    assert_eq!(
        (s, body.as_str()),
        (404, "No agent with ID 'nobody-S9' is registered")
    );
    // `debug` lists an agent's attached directories: not proxied.
    let (s, _, _) = proxy(format!("/agent/{agent}/files/debug"), "GET").await;
    assert_eq!(s, 404);
    let (s, h, _) = proxy(format!("/agent/{agent}/files/read?path=/"), "POST").await;
    assert_eq!(s, 405);
    assert_eq!(h["allow"], "GET");

    // gRPC by content type: any path, answered by the gRPC service.
    for content_type in ["application/grpc", "application/grpc+proto"] {
        let (s, h, _) = raw_request(
            "POST",
            &format!("http://{master}/no/such/path"),
            &[("Content-Type", content_type)],
            Vec::new(),
        )
        .await;
        assert_eq!(s, 200, "{content_type}");
        assert_eq!(h["grpc-status"], "12", "{content_type}");
    }
    // The agent's session is still served: the master counts it.
    let (_, h, body) = get("/metrics/snapshot").await;
    assert_eq!(
        json(&h, &body, "/metrics/snapshot")["master/slaves_active"],
        1.0
    );
}
