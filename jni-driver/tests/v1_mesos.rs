//! `org.apache.mesos.v1.scheduler.V1Mesos` and `V0Mesos` from Apache's unmodified 1.11.0
//! jar, through our libmesos.so under `-Xcheck:jni`, run command tasks to completion on a
//! real 2-agent `remesos local` (issue 20 item 3). `V1Exercise` (java/examples) subscribes
//! on `connected`, launches from offers, acknowledges every update and tears down.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

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
    let (_, library) = artifacts();
    let cp = compile_examples(jar, &classpath(jar));
    let mut args = vec![cluster.master.as_str(), api, "5"];
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
        let (_, state) = http_get(&cluster.master, "/master/state").expect("master state");
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
