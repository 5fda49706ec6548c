//! Issue 14, "Tests and figures": a cluster with Mesos's authentication flags on, where real
//! clients nobody here wrote run tasks with the right credentials and are refused with wrong or
//! missing ones, each reporting it as it does against Mesos:
//!
//! - `remesos execute --principal --secret` (mesos-execute's flags): a non-zero exit;
//! - pymesos's `MesosSchedulerDriver(principal=, secret=)`: its I/O thread fails with
//!   "Failed with HTTP 401" and the script exits non-zero;
//! - a Java framework on Apache's 1.11.0 jar and the 1.4.3 shaded-protobuf jar Spark ships, through
//!   our libmesos.so, with the 4-argument `MesosSchedulerDriver(…, credential)`: the driver's
//!   `error("Master refused authentication")` and DRIVER_ABORTED;
//! - `curl -u` on the master's endpoints: 401 with Mesos's realm, 200 with the credential.
//!
//! Spark 3.5 with `spark.mesos.principal`/`spark.mesos.secret` runs in core/tests/spark.rs,
//! which holds the Spark fixture.
//!
//! The master runs with Mesos 1.11's flags as an operator sets them (docs/authentication.md):
//! `--authenticate_frameworks --authenticate_http_frameworks
//! --http_framework_authenticators=basic --authenticate_http_readonly
//! --authenticate_http_readwrite --authenticate_agents --credentials=<Mesos's JSON>`; the
//! agent with `--credential`, `--authenticate_http_readonly --authenticate_http_readwrite
//! --http_credentials` (remesos execute reads the task's output
//! from `/files` with its credential) and `--authenticate_http_executors --jwt_secret_key`
//! (every task's command executor presents its own token).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

#[path = "../../jni-driver/tests/support/mod.rs"]
mod jni_support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use support::output_text as text;
use support::{Daemon, free_port, spawn_agent, spawn_master_with};

/// Principals of the credentials file and their secrets.
const ALICE: (&str, &str) = ("alice", "alice-secret");
const BOB: (&str, &str) = ("bob", "bob-secret");
/// The agent's credential (`--credential`), also in the master's `--credentials`.
const AGENT: (&str, &str) = ("agent", "agent-secret");

/// Mesos's authentication flags, every framework and HTTP realm on.
fn authentication_flags(credentials: &Path) -> Vec<String> {
    vec![
        "--authenticate_frameworks".into(),
        "--authenticate_http_frameworks".into(),
        "--http_framework_authenticators=basic".into(),
        "--authenticate_http_readonly".into(),
        "--authenticate_http_readwrite".into(),
        "--authenticate_agents".into(),
        format!("--credentials={}", credentials.display()),
    ]
}

/// The agent's side: its credential, its HTTP realms over the same credentials file, and
/// executor tokens signed with a key of its own.
fn agent_flags(dir: &Path, credentials: &Path) -> Vec<String> {
    let credential = dir.join("agent-credential.json");
    std::fs::write(
        &credential,
        serde_json::json!({"principal": AGENT.0, "secret": AGENT.1}).to_string(),
    )
    .unwrap();
    let key = dir.join("jwt.key");
    std::fs::write(&key, "a key of at least 32 bytes for HS256 tokens").unwrap();
    vec![
        format!("--credential={}", credential.display()),
        "--authenticate_http_readonly".into(),
        "--authenticate_http_readwrite".into(),
        format!("--http_credentials={}", credentials.display()),
        "--authenticate_http_executors".into(),
        format!("--jwt_secret_key={}", key.display()),
    ]
}

/// A master with [`authentication_flags`] and one agent with [`agent_flags`], processes of
/// their own.
struct SecureCluster {
    master: String,
    work_dir: PathBuf,
    _daemons: Vec<Daemon>,
}

impl Drop for SecureCluster {
    fn drop(&mut self) {
        self._daemons.clear();
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

impl SecureCluster {
    async fn start(name: &str) -> SecureCluster {
        let work_dir =
            std::env::temp_dir().join(format!("remesos-security-{name}-{}", free_port()));
        std::fs::create_dir_all(&work_dir).unwrap();
        let credentials = work_dir.join("credentials.json");
        // Mesos's JSON credentials file (include/mesos/mesos.proto `Credentials`).
        std::fs::write(
            &credentials,
            serde_json::json!({"credentials": [
                {"principal": ALICE.0, "secret": ALICE.1},
                {"principal": BOB.0, "secret": BOB.1},
                {"principal": AGENT.0, "secret": AGENT.1},
            ]})
            .to_string(),
        )
        .unwrap();
        let (master_daemon, master) =
            spawn_master_with(&work_dir, &authentication_flags(&credentials)).await;
        let agent_extra = agent_flags(&work_dir, &credentials);
        let agent_extra: Vec<&str> = agent_extra.iter().map(String::as_str).collect();
        let agent = spawn_agent(&master, free_port(), &work_dir.join("agent"), &agent_extra);
        let cluster = SecureCluster {
            master,
            work_dir,
            _daemons: vec![agent, master_daemon],
        };
        cluster.wait_for_agent().await;
        cluster
    }

    /// Waits until the agent is registered, reading `/master/state` as alice.
    async fn wait_for_agent(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = curl(&self.master, "/master/state", Some(ALICE)).await;
            if status == 200 {
                let state: serde_json::Value = serde_json::from_str(&body).unwrap();
                if state["slaves"].as_array().is_some_and(|a| !a.is_empty()) {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no agent registered (last /master/state: {status} {body})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The frameworks of `/master/state` (active and completed), read as alice.
    async fn frameworks(&self) -> Vec<serde_json::Value> {
        let (status, body) = curl(&self.master, "/master/state", Some(ALICE)).await;
        assert_eq!(status, 200, "{body}");
        let state: serde_json::Value = serde_json::from_str(&body).unwrap();
        ["frameworks", "completed_frameworks"]
            .iter()
            .flat_map(|k| state[k].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

/// `curl -s [-u principal:secret] http://<master><path>`: the status and the body. With
/// `-D`, the headers come first in stdout; they are split off here.
async fn curl(master: &str, path: &str, user: Option<(&str, &str)>) -> (u16, String) {
    let (status, _, body) = curl_with_headers(master, path, user).await;
    (status, body)
}

async fn curl_with_headers(
    master: &str,
    path: &str,
    user: Option<(&str, &str)>,
) -> (u16, String, String) {
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args(["-s", "-D", "-", "--max-time", "10"]);
    if let Some((p, s)) = user {
        cmd.args(["-u", &format!("{p}:{s}")]);
    }
    let output = cmd
        .arg(format!("http://{master}{path}"))
        .output()
        .await
        .expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// `remesos execute` running `echo secure` with `credential` flags, at most 60 s.
async fn execute(master: &str, credential: &[String]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args(["execute", &format!("--master={master}")])
        .args(["--name=secure-execute", "--command=echo secure", "--quiet"])
        .args(["--resources=cpus:0.1;mem:32"])
        .args(credential)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("remesos execute ended within 60 s")
        .expect("run remesos execute")
}

/// Our drivers mark their requests with the header the master reads to apply
/// `--authenticate_frameworks` to them (master/http/authn.rs): the two constants are one.
#[test]
fn the_drivers_marker_is_the_header_the_master_reads() {
    assert_eq!(
        remesos::client::credential::DRIVER_MARKER.0,
        remesos::master::http::DRIVER_HEADER
    );
}

/// mesos-execute's `--principal`/`--secret` (src/cli/execute.cpp): with alice's credential the
/// task runs and its output comes back; a wrong secret, an unknown principal or no credential
/// is refused (401) and execute exits non-zero without launching anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remesos_execute_runs_with_its_credential_and_is_refused_without_it() {
    let cluster = SecureCluster::start("execute").await;
    let ok = execute(
        &cluster.master,
        &[
            format!("--principal={}", ALICE.0),
            format!("--secret={}", ALICE.1),
        ],
    )
    .await;
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("secure"),
        "{}",
        text(&ok)
    );

    // The secret from a file, as every string flag (`file://`).
    let secret = cluster.work_dir.join("bob.secret");
    std::fs::write(&secret, BOB.1).unwrap();
    let from_file = execute(
        &cluster.master,
        &[
            format!("--principal={}", BOB.0),
            format!("--secret=file://{}", secret.display()),
        ],
    )
    .await;
    assert!(from_file.status.success(), "{}", text(&from_file));

    for refused in [
        vec![
            format!("--principal={}", ALICE.0),
            "--secret=wrong".to_string(),
        ],
        vec!["--principal=mallory".to_string(), "--secret=x".to_string()],
        // A principal alone names the framework but authenticates nothing.
        vec![format!("--principal={}", ALICE.0)],
        vec![],
    ] {
        let out = execute(&cluster.master, &refused).await;
        assert!(!out.status.success(), "{refused:?} ran:\n{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("401"),
            "{refused:?}:\n{}",
            text(&out)
        );
    }
    // Only the two authenticated runs registered a framework, each under its principal.
    let mut principals: Vec<String> = cluster
        .frameworks()
        .await
        .iter()
        .filter(|f| f["name"] == "secure-execute")
        .map(|f| f["principal"].as_str().unwrap_or("").to_string())
        .collect();
    principals.sort();
    assert_eq!(principals, ["alice", "bob"]);
}

/// pymesos (PyPI 0.3.15) sends `principal`/`secret` as HTTP Basic on SUBSCRIBE and calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymesos_runs_with_principal_and_secret_and_is_refused_with_a_wrong_secret() {
    let python = std::env::var("REMESOS_PYTHON")
        .unwrap_or_else(|_| format!("{}/../.venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    let cluster = SecureCluster::start("pymesos").await;
    let out = support::run_python_framework(
        &python,
        "pymesos_scheduler.py",
        &cluster.master,
        &["--tasks", "2", "--principal", ALICE.0, "--secret", ALICE.1],
    )
    .await;
    assert_eq!(out.matches("TASK_FINISHED").count(), 2, "{out}");

    for extra in [&["--principal", ALICE.0, "--secret", "wrong"][..], &[][..]] {
        let script = format!(
            "{}/../tests/python/pymesos_scheduler.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let refused = tokio::process::Command::new(&python)
            .arg(&script)
            .args([
                "--master",
                &cluster.master,
                "--tasks",
                "1",
                "--timeout",
                "20",
            ])
            .args(extra)
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        assert!(
            !refused.status.success(),
            "{extra:?} ran:\n{}",
            text(&refused)
        );
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("Failed with HTTP 401"),
            "{extra:?}:\n{}",
            text(&refused)
        );
    }
}

/// Python's `mesos.native` (python/): `MesosSchedulerDriver(…, credential)` registers with the
/// right secret; a wrong one reaches the scheduler's `error("Master refused authentication")`
/// and `run()` ends DRIVER_ABORTED, as the JNI driver does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_mesos_native_registers_with_its_credential_and_is_refused_with_a_wrong_one() {
    let python = std::env::var("REMESOS_PYTHON")
        .unwrap_or_else(|_| format!("{}/../.venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    let script = format!(
        "{}/../tests/python/mesos_native_checks.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let cluster = SecureCluster::start("py-native").await;
    let run = |secret: &'static str| {
        tokio::process::Command::new(&python)
            .args([&script, "credential", &cluster.master, ALICE.0, secret])
            .kill_on_drop(true)
            .output()
    };
    let accepted = tokio::time::timeout(Duration::from_secs(60), run(ALICE.1))
        .await
        .expect("the framework with its credential did not finish")
        .unwrap();
    assert!(
        accepted.status.success() && text(&accepted).contains("Registered with framework ID"),
        "{}",
        text(&accepted)
    );
    let refused = tokio::time::timeout(Duration::from_secs(60), run("wrong"))
        .await
        .expect("the framework with a wrong secret did not finish")
        .unwrap();
    let out = text(&refused);
    assert!(
        !refused.status.success()
            && out.contains("error: Master refused authentication")
            && out.contains("run() returned DRIVER_ABORTED")
            && !out.contains("Registered"),
        "{out}"
    );
}

/// `curl -u`: the read-only endpoints answer 401 with `WWW-Authenticate: Basic
/// realm="mesos-master-readonly"` without a valid credential, the read-write ones (the v1
/// operator API) the same with `mesos-master-readwrite` (Mesos's realms, src/common/http.cpp);
/// `/health` is never authenticated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_u_reads_the_masters_endpoints_only_with_a_valid_credential() {
    let cluster = SecureCluster::start("curl").await;
    let master = cluster.master.as_str();
    for path in [
        "/master/state",
        "/master/state-summary",
        "/metrics/snapshot",
        "/master/flags",
    ] {
        let (status, _) = curl(master, path, Some(BOB)).await;
        assert_eq!(status, 200, "{path} as bob");
        for user in [None, Some((BOB.0, "wrong")), Some(("mallory", BOB.1))] {
            let (status, head, _) = curl_with_headers(master, path, user).await;
            assert_eq!(status, 401, "{path} as {user:?}: {head}");
            assert!(
                head.to_ascii_lowercase()
                    .contains("www-authenticate: basic realm=\"mesos-master-readonly\""),
                "{path}: {head}"
            );
        }
    }
    let (status, _) = curl(master, "/health", None).await;
    assert_eq!(status, 200);
    // The flags show the credentials file's path, never its secrets.
    let (_, flags) = curl(master, "/master/flags", Some(ALICE)).await;
    assert!(flags.contains("credentials.json"), "{flags}");
    assert!(
        !flags.contains(ALICE.1) && !flags.contains(BOB.1),
        "{flags}"
    );

    // The v1 operator API is in the read-write realm.
    let health = |user: Option<(&str, &str)>| {
        let mut cmd = std::process::Command::new("curl");
        cmd.args([
            "-s",
            "-D",
            "-",
            "--max-time",
            "10",
            "-H",
            "Content-Type: application/json",
        ]);
        if let Some((p, s)) = user {
            cmd.args(["-u", &format!("{p}:{s}")]);
        }
        let out = cmd
            .args(["-d", r#"{"type":"GET_HEALTH"}"#])
            .arg(format!("http://{master}/api/v1"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        health(Some(ALICE)).starts_with("HTTP/1.1 200"),
        "{}",
        health(Some(ALICE))
    );
    let refused = health(None);
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(
        refused
            .to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"mesos-master-readwrite\""),
        "{refused}"
    );
}

/// A Java framework compiled against Apache's jars (java/examples CommandScheduler) through our
/// libmesos.so: with the 4-argument constructor's `Credential` it runs its tasks and the
/// driver fills `FrameworkInfo.principal` from it; with a wrong secret or none, Apache's
/// driver's `error("Master refused authentication")` and DRIVER_ABORTED.
fn java_framework_authenticates(jar: &str, cluster: &SecureCluster) {
    let (_, library) = jni_support::artifacts();
    let cp = jni_support::compile_examples(jar, &jni_support::classpath(jar));
    let run = |credential: &[&str]| {
        let mut args = vec![cluster.master.as_str(), "2", "echo java-secure"];
        args.extend_from_slice(credential);
        jni_support::run_java(
            &cp,
            "org.remesos.examples.CommandScheduler",
            &args,
            Some(library.as_path()),
            Duration::from_secs(120),
        )
    };
    let ok = run(&[ALICE.0, ALICE.1]);
    assert_eq!(ok.code, Some(0), "{}", ok.dump());
    assert!(
        ok.has("driver ended: DRIVER_STOPPED, finished 2/2"),
        "{}",
        ok.dump()
    );

    for credential in [&[ALICE.0, "wrong"][..], &[][..]] {
        let refused = run(credential);
        assert_eq!(refused.code, Some(1), "{credential:?}: {}", refused.dump());
        assert!(
            refused.has("error: Master refused authentication"),
            "{}",
            refused.dump()
        );
        assert!(
            refused.has("driver ended: DRIVER_ABORTED, finished 0/2"),
            "{}",
            refused.dump()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_java_framework_on_apaches_jars_authenticates_with_its_credential() {
    let cluster = SecureCluster::start("java").await;
    for jar in ["apache-1.11.0", "apache-1.4.3-shaded"] {
        tokio::task::block_in_place(|| java_framework_authenticates(jar, &cluster));
    }
    let frameworks = cluster.frameworks().await;
    let java: Vec<_> = frameworks
        .iter()
        .filter(|f| f["name"] == "remesos CommandScheduler (Java)")
        .collect();
    assert_eq!(java.len(), 2, "{frameworks:?}");
    for f in java {
        assert_eq!(f["principal"], "alice", "{f}");
    }
}
