//! `org.apache.mesos.v1.scheduler.V1Mesos` and `V0Mesos` from Apache's unmodified 1.11.0
//! jar, through our libmesos.so under `-Xcheck:jni`, run command tasks to completion on a
//! real 2-agent `remesos local` (issue 20 item 3). `V1Exercise` (java/examples) subscribes
//! on `connected`, launches from offers, acknowledges every update and tears down.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
// core's real-ZooKeeper harness, shared rather than copied; this test uses part of it.
#[allow(dead_code)]
#[path = "../../core/tests/support/zookeeper.rs"]
mod zookeeper;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::*;

fn run_tasks(api: &str, jar: &str) {
    let (remesos, _) = artifacts();
    let cluster = start_cluster(&remesos, 2);
    run_tasks_on(&cluster, api, jar, &[]);
}

/// Master flags that make every framework authenticate with `ALICE`
/// (`--authenticate_frameworks`, the v1 HTTP realm with Basic), as core/tests/security.rs.
const ALICE: (&str, &str) = ("alice", "alice-secret");

fn authenticated_cluster() -> (Cluster, std::path::PathBuf) {
    let (remesos, _) = artifacts();
    let dir = std::env::temp_dir().join(format!("remesos-v1-creds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("credentials dir");
    let credentials = dir.join("credentials.json");
    std::fs::write(
        &credentials,
        serde_json::json!({"credentials": [{"principal": ALICE.0, "secret": ALICE.1}]}).to_string(),
    )
    .expect("write credentials");
    let flags = [
        "--authenticate_frameworks".to_string(),
        "--authenticate_http_frameworks".to_string(),
        "--http_framework_authenticators=basic".to_string(),
        format!("--credentials={}", credentials.display()),
    ];
    (start_cluster_with(&remesos, 1, free_port(), &flags), dir)
}

fn run_tasks_on(cluster: &Cluster, api: &str, jar: &str, extra: &[&str]) {
    run_tasks_via(&cluster.master, &cluster.master, api, jar, extra);
}

/// Runs the tasks with `master` as the Java side's master string (`host:port` or `zk://`);
/// `leader` is the master's `host:port`, where the test reads `/master/state`.
fn run_tasks_via(master: &str, leader: &str, api: &str, jar: &str, extra: &[&str]) {
    let (_, library) = artifacts();
    let cp = compile_examples(jar, &classpath(jar));
    let mut args = vec![master, api, "5"];
    args.extend_from_slice(extra);
    let run = run_java(
        &cp,
        "org.remesos.examples.V1Exercise",
        &args,
        Some(&library),
        Duration::from_secs(150),
    );
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    for stream in [&run.stdout, &run.stderr] {
        assert!(
            !stream.contains("WARNING in native method") && !stream.contains("FATAL ERROR"),
            "-Xcheck:jni:\n{dump}"
        );
    }
    assert!(run.has("CONNECTED"), "{dump}");
    assert_eq!(run.lines("SUBSCRIBED ").len(), 1, "{dump}");
    assert!(run.has("FINISHED 5"), "{dump}");
    assert!(run.has("FINALIZED_SEND IllegalStateException"), "{dump}");
    for n in 1..=5 {
        assert!(
            run.has(&format!("UPDATE task-{n} TASK_FINISHED")),
            "task-{n}:\n{dump}"
        );
    }
    // The framework was torn down: the master lists it as completed.
    let framework_id = run.lines("SUBSCRIBED ")[0]
        .trim_start_matches("SUBSCRIBED ")
        .to_string();
    let wait = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, state) = http_get(leader, "/master/state").expect("master state");
        let state: serde_json::Value = serde_json::from_str(&state).expect("state json");
        let completed = state["completed_frameworks"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["id"] == framework_id.as_str()));
        if completed {
            break;
        }
        assert!(
            std::time::Instant::now() < wait,
            "not torn down: {state}\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn v1_mesos_runs_tasks_to_completion() {
    run_tasks("v1", "apache-1.11.0");
}

#[test]
fn v0_mesos_runs_tasks_to_completion() {
    run_tasks("v0", "apache-1.11.0");
}

#[test]
fn v1_mesos_with_credentials_runs_tasks_and_wrong_ones_are_refused() {
    let (cluster, dir) = authenticated_cluster();
    run_tasks_on(&cluster, "v1", "apache-1.11.0", &[ALICE.0, ALICE.1]);
    // Wrong secret: the scheduler hears an ERROR event or a disconnection, never hangs, and
    // no framework is registered under it.
    let (_, library) = artifacts();
    let cp = compile_examples("apache-1.11.0", &classpath("apache-1.11.0"));
    let run = run_java(
        &cp,
        "org.remesos.examples.V1Exercise",
        &[&cluster.master, "v1", "0", ALICE.0, "wrong"],
        Some(&library),
        Duration::from_secs(90),
    );
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    assert!(run.has("REFUSED"), "{dump}");
    assert!(run.lines("SUBSCRIBED ").is_empty(), "{dump}");
    check_no_jni_warnings(&run);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn v1_mesos_with_the_project_jar() {
    run_tasks("v1", "remesos");
}

/// `remesos master` and `remesos agent` processes, killed on drop.
struct Daemons(Vec<Child>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// V1Mesos given `zk://host:port/path`: it detects the master elected under that znode
/// (Mesos's `json.info_` znodes) and runs its tasks there.
#[test]
fn v1_mesos_detects_the_master_through_zookeeper() {
    let (remesos, _) = artifacts();
    let zk = zookeeper::ZooKeeper::start();
    let url = zk.url("/mesos-v1");
    let dir = std::env::temp_dir().join(format!("remesos-v1-zk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    let port = free_port();
    let leader = format!("127.0.0.1:{port}");
    let master = Command::new(&remesos)
        .args([
            "master",
            "--ip=127.0.0.1",
            "--hostname=127.0.0.1",
            "--quorum=1",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--zk={url}"))
        .arg(format!("--work_dir={}", dir.join("master").display()))
        .arg("--allocation_interval=100ms")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("master.log")).expect("log"))
        .spawn()
        .expect("start remesos master");
    let agent = Command::new(&remesos)
        .args(["agent", "--ip=127.0.0.1", "--hostname=localhost"])
        .arg(format!("--master={url}"))
        .arg(format!("--port={}", free_port()))
        .arg(format!("--work_dir={}", dir.join("agent").display()))
        .args([
            "--resources=cpus:2;mem:2048;disk:1024;ports:[31000-31100]",
            "--switch_user=false",
            "--registration_backoff_factor=100ms",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("agent.log")).expect("log"))
        .spawn()
        .expect("start remesos agent");
    let daemons = Daemons(vec![master, agent]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((200, body)) = http_get(&leader, "/metrics/snapshot") {
            let metrics: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if metrics["master/elected"] == 1.0 && metrics["master/slaves_active"] == 1.0 {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the master was not elected with its agent: {}",
            std::fs::read_to_string(dir.join("master.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    run_tasks_via(&url, &leader, "v1", "apache-1.11.0", &[]);
    drop(daemons);
    let _ = std::fs::remove_dir_all(&dir);
}
