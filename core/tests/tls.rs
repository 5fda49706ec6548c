//! End to end: TLS with libprocess's environment (security/tls.rs), on the real binaries,
//! with certificates made at test time (support/pki.rs): a CA, a certificate for the
//! daemons (`localhost` and `127.0.0.1`), one for clients, and a second CA nobody trusts.
//!
//! Mesos's docs/ssl.md: with `LIBPROCESS_SSL_ENABLED` every port speaks TLS and every
//! client connects with it; `LIBPROCESS_SSL_REQUIRE_CLIENT_CERT` makes it mutual and
//! implies server-certificate verification; `LIBPROCESS_SSL_SUPPORT_DOWNGRADE` serves
//! plain and TLS on one port.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::pki::Pki;
use support::{Daemon, free_port};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "remesos-tls-{tag}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spawn_master(env: &[(String, String)], work: &Path, flags: &[String]) -> (Daemon, String) {
    let port = free_port();
    let daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--work_dir={}", work.join("master").display()))
            .args(["--allocation_interval=100ms", "--quiet"])
            .args(flags)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .spawn()
            .expect("start remesos master"),
    );
    (daemon, format!("127.0.0.1:{port}"))
}

fn spawn_agent(
    env: &[(String, String)],
    master: &str,
    work: &Path,
    flags: &[String],
) -> (Daemon, String) {
    let port = free_port();
    let daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["agent", &format!("--master={master}"), "--ip=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--work_dir={}", work.join("agent").display()))
            .args([
                "--resources=cpus:4;mem:2048;ports:[31000-31100]",
                "--registration_backoff_factor=100ms",
                "--hostname=localhost",
            ])
            .args(flags)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .spawn()
            .expect("start remesos agent"),
    );
    (daemon, format!("127.0.0.1:{port}"))
}

/// curl's exit code and body for `url` with `args` (`--cacert`, `--cert`, ...).
fn curl(url: &str, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// Waits (bounded) until `check` holds; panics with `what` otherwise.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plain HTTP request on a raw socket: the server's reply, empty when it closed the
/// connection without one. A TLS-only server may close (and reset) the connection before
/// the request is written: that too is no reply.
fn plain_request(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let written = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    if written.is_err() {
        return String::new();
    }
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

fn execute(env: &[(String, String)], master: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args(["execute", &format!("--master={master}"), "--name=tls-test"])
        .args([
            "--command=echo from-the-task over-tls; exit 7",
            "--resources=cpus:0.5;mem:64",
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run remesos execute")
}

/// Mutual TLS with server verification (`legacy` names, libprocess's default): the agent
/// registers over gRPC on TLS, `remesos execute` (a Rust scheduler client) runs a task
/// whose command executor talks TLS to its agent, and curl reads the master over https;
/// a plain client, a client without a certificate and a client that does not trust the
/// master's CA are all refused.
#[test]
fn mutual_tls_runs_a_task_and_refuses_plain_certless_and_untrusting_clients() {
    let pki = Pki::make("mtls");
    let work = TempDir::new("mtls-work");
    let daemon_env = pki.env("daemon", &[("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "true")]);
    let (_master, master) = spawn_master(&daemon_env, &work.0, &[]);
    let (cacert, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key"),
    );
    let with_cert = ["--cacert", &cacert, "--cert", &cert, "--key", &key];
    wait_for("the master did not serve https", || {
        curl(&format!("https://{master}/health"), &with_cert).0 == Some(0)
    });
    let (_agent, agent) = spawn_agent(&daemon_env, &master, &work.0, &[]);
    wait_for("the agent did not register over TLS", || {
        let (code, body) = curl(&format!("https://{master}/master/state"), &with_cert);
        code == Some(0)
            && serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|s| s["slaves"].as_array().map(|a| a.len()))
                == Some(1)
    });

    // A task through the scheduler API, the command executor's link and /files, all TLS.
    let client_env = pki.env("client", &[("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "true")]);
    let output = execute(&client_env, &master);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("from-the-task over-tls"),
        "{stdout}\n{stderr}"
    );

    // The agent's port is TLS too.
    let (code, body) = curl(&format!("https://{agent}/state"), &with_cert);
    assert_eq!(code, Some(0), "{body}");

    // Plain HTTP without LIBPROCESS_SSL_SUPPORT_DOWNGRADE: closed unanswered.
    assert_eq!(plain_request(&master, "/health"), "");
    assert_eq!(plain_request(&agent, "/health"), "");
    // No client certificate: the handshake fails.
    let (code, body) = curl(&format!("https://{master}/health"), &["--cacert", &cacert]);
    assert_ne!(code, Some(0), "{body}");
    // A client that trusts another CA refuses the master (LIBPROCESS_SSL_VERIFY_SERVER_CERT
    // is implied by REQUIRE_CLIENT_CERT).
    let mut untrusting = client_env.clone();
    untrusting.retain(|(k, _)| k != "LIBPROCESS_SSL_CA_FILE");
    untrusting.push(("LIBPROCESS_SSL_CA_FILE".into(), pki.path("rogue-ca.pem")));
    let output = execute(&untrusting, &master);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("failed to subscribe"), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
}

/// `LIBPROCESS_SSL_SUPPORT_DOWNGRADE`: one port serves a plain client and a TLS client
/// (the first byte decides, as libprocess peeks); without client certificates required,
/// curl needs only the CA.
#[test]
fn downgrade_serves_plain_and_tls_clients_on_one_port() {
    let pki = Pki::make("downgrade");
    let work = TempDir::new("downgrade-work");
    let env = pki.env("daemon", &[("LIBPROCESS_SSL_SUPPORT_DOWNGRADE", "true")]);
    let (_master, master) = spawn_master(&env, &work.0, &[]);
    let cacert = pki.path("ca.pem");
    wait_for("the master did not serve https", || {
        curl(&format!("https://{master}/health"), &["--cacert", &cacert]).0 == Some(0)
    });
    let reply = plain_request(&master, "/health");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let (code, body) = curl(&format!("http://{master}/health"), &[]);
    assert_eq!(code, Some(0), "{body}");
    // A daemon without the certificate's CA in curl's store is not trusted by curl.
    let (code, _) = curl(
        &format!("https://{master}/health"),
        &["--cacert", &pki.path("rogue-ca.pem")],
    );
    assert_ne!(code, Some(0));
}

/// openssl.cpp: TLS on without a certificate stops the daemon (never a plain port).
#[test]
fn a_daemon_with_tls_it_cannot_honour_stops() {
    let work = TempDir::new("refused");
    for (env, expected) in [
        (
            vec![("LIBPROCESS_SSL_ENABLED", "true")],
            "LIBPROCESS_SSL_KEY_FILE",
        ),
        (
            vec![
                ("LIBPROCESS_SSL_ENABLED", "true"),
                ("LIBPROCESS_SSL_ENABLE_TLS_V1_1", "true"),
            ],
            "LIBPROCESS_SSL_ENABLE_TLS_V1_1",
        ),
        (
            vec![
                ("LIBPROCESS_SSL_ENABLED", "true"),
                ("LIBPROCESS_SSL_CIPHERS", "RC4-SHA"),
            ],
            "'RC4-SHA'",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args([
                "master",
                "--ip=127.0.0.1",
                &format!("--port={}", free_port()),
            ])
            .arg(format!("--work_dir={}", work.0.display()))
            .envs(env.iter().copied())
            .output()
            .expect("run remesos master");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains(expected), "{expected} not in: {stderr}");
    }
}

/// An early refusal reaches the client: a POST whose 401 is decided from its headers
/// (a Bearer token signed with another key on the agent's executor API; a wrong password
/// on the master's operator API) is answered with the 401 and its challenge every time,
/// over TLS (where curl speaks HTTP/2) and plain HTTP/1.1. The server answers before
/// reading the JSON body; with the body dropped unread, h2 reset the stream and curl
/// reported "Stream error in the HTTP/2 framing layer" (exit 92) on the first request,
/// the "no reply" of secure_cluster.rs. Regression test for that (api/serve.rs drains).
#[test]
fn an_early_401_with_the_body_unread_reaches_the_client_over_tls_and_plain_http() {
    let pki = Pki::make("early-401");
    let work = TempDir::new("early-401-work");
    let env = pki.env("daemon", &[("LIBPROCESS_SSL_SUPPORT_DOWNGRADE", "true")]);
    let credentials = work.0.join("credentials.json");
    std::fs::write(
        &credentials,
        r#"{"credentials": [{"principal": "alice", "secret": "alice-secret"}]}"#,
    )
    .unwrap();
    let key = work.0.join("jwt.key");
    std::fs::write(&key, "the agent's key for executor tokens, 32 bytes+").unwrap();
    let master_flags = [
        "--authenticate_http_readwrite".to_string(),
        format!("--credentials={}", credentials.display()),
    ];
    let (_master, master) = spawn_master(&env, &work.0, &master_flags);
    let cacert = pki.path("ca.pem");
    wait_for("the master did not serve https", || {
        curl(&format!("https://{master}/health"), &["--cacert", &cacert]).0 == Some(0)
    });
    // Mesos's agent wants the basic authenticator's credentials beside the key.
    let agent_flags = [
        "--authenticate_http_executors".to_string(),
        format!("--jwt_secret_key={}", key.display()),
        format!("--http_credentials={}", credentials.display()),
    ];
    let (_agent, agent) = spawn_agent(&env, &master, &work.0, &agent_flags);
    wait_for("the agent did not serve https", || {
        curl(&format!("https://{agent}/health"), &["--cacert", &cacert]).0 == Some(0)
    });

    let claims: remesos::security::jwt::Claims = [
        ("fid", "a-framework"),
        ("eid", "an-executor"),
        ("cid", "a-container"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let other_key =
        remesos::security::jwt::JwtKey::new(b"not the agent's key, 32 bytes or more").unwrap();
    let forged = format!(
        "Authorization: Bearer {}",
        remesos::security::jwt::create(&other_key, &claims)
    );
    let executor_call = support::message_call("a-framework", "an-executor");
    let operator_call = r#"{"type": "GET_HEALTH"}"#;
    let cases = [
        (
            format!("https://{agent}/api/v1/executor"),
            vec!["--cacert", &cacert, "-H", &forged, "-d", &executor_call],
            r#"bearer realm="mesos-agent-executor""#,
        ),
        (
            format!("http://{agent}/api/v1/executor"),
            vec!["-H", &forged, "-d", &executor_call],
            r#"bearer realm="mesos-agent-executor""#,
        ),
        (
            format!("https://{master}/api/v1"),
            vec![
                "--cacert",
                &cacert,
                "-u",
                "alice:wrong",
                "-d",
                operator_call,
            ],
            r#"www-authenticate: basic realm="mesos-master-readwrite""#,
        ),
    ];
    for (url, args, challenge) in &cases {
        let mut args = args.clone();
        args.extend(["-i", "-H", "Content-Type: application/json"]);
        for attempt in 0..50 {
            let (code, reply) = curl(url, &args);
            assert_eq!(code, Some(0), "{url}, attempt {attempt}: {reply}");
            let reply = reply.to_lowercase();
            // curl takes HTTP/2 where TLS offers it (ALPN), HTTP/1.1 in plain.
            let status = reply.split("\r\n").next().unwrap_or_default();
            assert!(
                (status == "http/2 401 " || status == "http/1.1 401 unauthorized")
                    && reply.contains(challenge),
                "{url}, attempt {attempt}: {reply}"
            );
        }
    }
}
