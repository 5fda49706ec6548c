//! Issue 14, master authentication, end to end against the real `remesos master`: every
//! endpoint class answers `401` with Mesos's realm without credentials or with wrong ones,
//! and serves with `curl -u`-style Basic credentials; a framework cannot be taken over by
//! another principal; bad input changes nothing; a flag combination the master cannot
//! honour stops it (master/http/authn.rs, master/flags.rs, security/authn.rs).
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::BodyExt;
use support::{Daemon, free_port, raw_request, run_to_exit};

const CREDENTIALS: &str = r#"{"credentials": [
    {"principal": "alice", "secret": "alice-s3cret"},
    {"principal": "bob", "secret": "bob-s3cret"}
]}"#;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "authn-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn basic(principal: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{principal}:{secret}"))
    )
}

/// A master with every `--authenticate_*` flag of its HTTP side on.
async fn secured_master(dir: &std::path::Path) -> (Daemon, String) {
    let credentials = dir.join("credentials.json");
    std::fs::write(&credentials, CREDENTIALS).unwrap();
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let daemon = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--work_dir={}", dir.join("master").display()))
            .arg(format!("--credentials=file://{}", credentials.display()))
            .args([
                "--authenticate_frameworks",
                "--authenticate_http_frameworks",
                "--http_framework_authenticators=basic",
                "--authenticate_http_readonly",
                "--authenticate_http_readwrite",
                "--quiet",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start remesos master"),
    );
    // `/health` is in no realm: it answers without credentials.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok((200, _)) = remesos::client::HttpClient::default()
            .get(&format!("http://{master}/health"))
            .await
        {
            return (daemon, master);
        }
        assert!(Instant::now() < deadline, "the master did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get(master: &str, path: &str, auth: Option<&str>) -> (u16, hyper::HeaderMap, String) {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    raw_request("GET", &format!("http://{master}{path}"), &headers, vec![]).await
}

async fn post(
    master: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, hyper::HeaderMap, String) {
    let mut all = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ];
    all.extend_from_slice(headers);
    raw_request(
        "POST",
        &format!("http://{master}{path}"),
        &all,
        body.as_bytes().to_vec(),
    )
    .await
}

fn challenge(headers: &hyper::HeaderMap) -> &str {
    headers
        .get("WWW-Authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `master.cpp` routes each endpoint in a realm; libprocess answers `401` with
/// `WWW-Authenticate: Basic realm="<realm>"` when the credentials are missing or wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_endpoint_answers_401_with_its_realm_and_serves_with_credentials() {
    let dir = scratch("realms");
    let (_master, master) = secured_master(&dir).await;
    let alice = basic("alice", "alice-s3cret");
    let wrong = basic("alice", "bob-s3cret");
    let readonly = "Basic realm=\"mesos-master-readonly\"";
    let readwrite = "Basic realm=\"mesos-master-readwrite\"";
    for (path, realm) in [
        ("/master/state", readonly),
        ("/state.json", readonly),
        ("/master/state-summary", readonly),
        ("/master/frameworks", readonly),
        ("/master/slaves", readonly),
        ("/master/tasks", readonly),
        ("/master/roles", readonly),
        ("/master/flags", readonly),
        ("/master/maintenance/status", readonly),
        ("/metrics/snapshot", readonly),
        ("/files/debug", readonly),
        ("/master/maintenance/schedule", readwrite),
        ("/master/weights", readwrite),
        ("/logging/toggle", readwrite),
    ] {
        let (status, headers, body) = get(&master, path, None).await;
        assert_eq!(
            (status, challenge(&headers)),
            (401, realm),
            "{path}: {body}"
        );
        let (status, headers, _) = get(&master, path, Some(&wrong)).await;
        assert_eq!(
            (status, challenge(&headers)),
            (401, realm),
            "{path}, wrong secret"
        );
        let (status, _, body) = get(&master, path, Some(&alice)).await;
        assert_ne!(status, 401, "{path} with credentials: {body}");
    }
    // In no realm.
    for path in ["/version", "/health", "/master/health"] {
        let (status, _, body) = get(&master, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // The v1 operator API is in the readwrite realm, every call.
    let health = r#"{"type":"GET_HEALTH"}"#;
    let (status, headers, _) = post(&master, "/api/v1", &[], health).await;
    assert_eq!((status, challenge(&headers)), (401, readwrite));
    let (status, _, body) = post(&master, "/api/v1", &[("Authorization", &alice)], health).await;
    assert_eq!(status, 200, "{body}");
    // The scheduler API, for drivers and HTTP frameworks alike here (both flags on).
    let subscribe =
        r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"x"}}}"#;
    for headers in [vec![], vec![("Remesos-Scheduler-Driver", "1")]] {
        let (status, h, _) = post(&master, "/api/v1/scheduler", &headers, subscribe).await;
        assert_eq!(
            (status, challenge(&h)),
            (401, "Basic realm=\"mesos-master-scheduler\""),
            "{headers:?}"
        );
    }
    // `/master/flags` shows the credentials' path, never the secrets.
    let (status, _, flags) = get(&master, "/master/flags", Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(flags.contains("credentials.json"), "{flags}");
    assert!(!flags.contains("s3cret"), "{flags}");
}

/// Issue 14 item 6: malformed `Authorization` headers are `401` and change nothing; the
/// master keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_authorization_headers_are_401_and_change_nothing() {
    let dir = scratch("malformed");
    let (_master, master) = secured_master(&dir).await;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let oversized = format!("Basic {}", "A".repeat(16 * 1024));
    let bad = [
        "Bearer abc.def.ghi".to_string(),
        "Basic".to_string(),
        "Basic !!!".to_string(),
        format!("Basic {}", b64(b"alice")),
        format!("Basic {}", b64(b":alice-s3cret")),
        format!("Basic {}", b64(b"mallory:alice-s3cret")),
        format!("Basic {}", b64(b"alice\x01:alice-s3cret")),
        format!("Basic {}", b64(b"\xff\xfe:x")),
        format!("Digest {}", b64(b"alice:alice-s3cret")),
        oversized,
    ];
    let teardown = r#"{"type":"TEARDOWN","teardown":{"framework_id":{"value":"x"}}}"#;
    for value in &bad {
        let (status, headers, _) = post(
            &master,
            "/api/v1",
            &[("Authorization", value.as_str())],
            teardown,
        )
        .await;
        assert_eq!(status, 401, "{value:.40}");
        assert_eq!(
            challenge(&headers),
            "Basic realm=\"mesos-master-readwrite\""
        );
    }
    let (status, _, _) = get(&master, "/health", None).await;
    assert_eq!(status, 200);
    let (_, _, state) = get(&master, "/master/state", Some(&basic("bob", "bob-s3cret"))).await;
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["frameworks"].as_array().map(Vec::len), Some(0));
}

/// The first RecordIO record of a subscription stream, as JSON (the stream is left open).
async fn first_event(body: &mut hyper::body::Incoming) -> serde_json::Value {
    let mut buffer = Vec::new();
    let read = async {
        loop {
            if let Some(newline) = buffer.iter().position(|b| *b == b'\n') {
                let length: usize = std::str::from_utf8(&buffer[..newline])
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                if buffer.len() >= newline + 1 + length {
                    return serde_json::from_slice(&buffer[newline + 1..newline + 1 + length])
                        .unwrap();
                }
            }
            let frame = body.frame().await.expect("a record").unwrap();
            if let Ok(data) = frame.into_data() {
                buffer.extend_from_slice(&data);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("an event in time")
}

async fn subscribe(
    master: &str,
    auth: Option<&str>,
    info: serde_json::Value,
) -> hyper::Response<hyper::body::Incoming> {
    let mut call = serde_json::json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}});
    if let Some(id) = info.get("id") {
        call["framework_id"] = id.clone();
    }
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    remesos::client::HttpClient::default()
        .post(
            &format!("http://{master}/api/v1/scheduler"),
            "application/json",
            "application/json",
            &headers,
            call.to_string().into_bytes(),
        )
        .await
        .unwrap()
}

/// Issue 14: "today any client can take over another framework by its id". alice's
/// framework is resubscribed neither by bob (claiming alice: 400; claiming bob: ERROR
/// `Changing framework's principal is not allowed.`) nor without credentials (401); bob's
/// calls on it are refused; alice keeps her subscription throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_principal_cannot_take_over_a_framework() {
    let dir = scratch("takeover");
    let (_master, master) = secured_master(&dir).await;
    let alice = basic("alice", "alice-s3cret");
    let bob = basic("bob", "bob-s3cret");
    // alice subscribes without naming a principal: the master fills it in.
    let response = subscribe(
        &master,
        Some(&alice),
        serde_json::json!({"user": "u", "name": "alices"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let stream_id = response.headers()["Mesos-Stream-Id"]
        .to_str()
        .unwrap()
        .to_string();
    // alice's stream stays open to the end: closing it would remove her framework.
    let mut alice_stream = response.into_body();
    let event = first_event(&mut alice_stream).await;
    assert_eq!(event["type"], "SUBSCRIBED", "{event}");
    let id = event["subscribed"]["framework_id"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let named = |principal: Option<&str>| {
        let mut info = serde_json::json!({"user": "u", "name": "alices", "id": {"value": id}});
        if let Some(p) = principal {
            info["principal"] = p.into();
        }
        info
    };

    // bob, claiming alice's principal.
    let response = subscribe(&master, Some(&bob), named(Some("alice"))).await;
    assert_eq!(response.status(), 400);
    let body = remesos::client::collect(response).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&body),
        "Authenticated principal 'bob' does not match principal 'alice' set in `FrameworkInfo`"
    );
    // bob, as himself.
    let response = subscribe(&master, Some(&bob), named(None)).await;
    assert_eq!(response.status(), 200);
    let event = first_event(&mut response.into_body()).await;
    assert_eq!(event["type"], "ERROR", "{event}");
    assert_eq!(
        event["error"]["message"],
        "Changing framework's principal is not allowed."
    );
    // Nobody.
    let response = subscribe(&master, None, named(Some("alice"))).await;
    assert_eq!(response.status(), 401);
    // bob's TEARDOWN of alice's framework, with her stream id.
    let teardown = serde_json::json!({"type": "TEARDOWN", "framework_id": {"value": id}});
    let (status, _, body) = post(
        &master,
        "/api/v1/scheduler",
        &[("Authorization", &bob), ("Mesos-Stream-Id", &stream_id)],
        &teardown.to_string(),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // alice's framework is still hers and still subscribed on her stream.
    let (_, _, frameworks) = get(&master, "/master/frameworks", Some(&alice)).await;
    let frameworks: serde_json::Value = serde_json::from_str(&frameworks).unwrap();
    let framework = &frameworks["frameworks"][0];
    assert_eq!(framework["id"], id.as_str(), "{frameworks}");
    assert_eq!(framework["principal"], "alice");
    assert_eq!(framework["active"], true);
    let revive = serde_json::json!({"type": "REVIVE", "framework_id": {"value": id}});
    let (status, _, body) = post(
        &master,
        "/api/v1/scheduler",
        &[("Authorization", &alice), ("Mesos-Stream-Id", &stream_id)],
        &revive.to_string(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    drop(alice_stream);
}

/// DESIGN.md §8: a setting that cannot be honoured stops the daemon, with Mesos's text where
/// Mesos stops too; a secret never appears in the error.
#[test]
fn flag_combinations_the_master_cannot_honour_stop_it() {
    let dir = scratch("flags");
    let good = dir.join("good.json");
    std::fs::write(&good, CREDENTIALS).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"credentials": [{"secret": "t0p-s3cret"}]}"#).unwrap();
    let empty = dir.join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let creds = |p: &PathBuf| format!("--credentials={}", p.display());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--authenticate_http_readonly".into()],
            "--authenticate_http_readonly is set but --credentials is not",
        ),
        (
            vec!["--authenticate_frameworks".into()],
            "--authenticate_frameworks is set but --credentials is not",
        ),
        (
            vec!["--authenticate_http_readwrite".into(), creds(&empty)],
            "the --credentials file holds no credentials",
        ),
        (
            vec!["--authenticate_http_frameworks".into(), creds(&good)],
            "Missing `--http_framework_authenticators` flag. This must be used in \
             conjunction with `--authenticate_http_frameworks`",
        ),
        (
            vec!["--http_authenticators=jwt".into()],
            "Failed to create HTTP authenticator module 'jwt'",
        ),
        (
            vec![
                "--authenticate_http_frameworks".into(),
                "--http_framework_authenticators=com_acme_Auth".into(),
                creds(&good),
            ],
            "Failed to create HTTP authenticator module 'com_acme_Auth'",
        ),
        (
            vec!["--authenticators=com_acme_Cram".into()],
            "Authenticator 'com_acme_Cram' not found",
        ),
        (
            vec!["--authenticators=crammd5,other".into()],
            "Multiple authenticators not supported",
        ),
        (vec![creds(&bad)], "Failed to parse credentials"),
        (
            vec!["--credentials=/nonexistent/credentials.json".into()],
            "Failed to read credentials file '/nonexistent/credentials.json'",
        ),
    ];
    for (extra, expected) in cases {
        let mut args: Vec<String> = vec![
            "master".into(),
            "--ip=127.0.0.1".into(),
            format!("--port={}", free_port()),
            format!("--work_dir={}", dir.join("m").display()),
        ];
        args.extend(extra.iter().cloned());
        let (status, stderr) = run_to_exit(&args, &[]);
        assert_eq!(status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(!stderr.contains("s3cret"), "{extra:?}: {stderr}");
    }
}
