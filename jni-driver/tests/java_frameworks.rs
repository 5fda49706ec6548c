//! End to end: unmodified Java frameworks compiled against Apache's jars run on a 2-agent
//! `remesos local` through our libmesos.so, chosen by `MESOS_NATIVE_JAVA_LIBRARY`, under
//! `-Xcheck:jni` (reference/mesos-contract.md §1; issue 4 "Tests").
//!
//! `DriverExercise` (java/examples) launches command tasks, kills one, runs a custom
//! executor through `MesosExecutorDriver` (framework messages both ways), reconciles,
//! sends bad input (a duplicate task id, a task larger than the offer, an unknown offer,
//! a null collection) and ends with `stop(false)`. The failover scenario stops with
//! `stop(true)`, then a second JVM reregisters as the same framework and receives the
//! task's terminal update.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::time::Duration;

use support::*;

const TIMEOUT: Duration = Duration::from_secs(150);

/// `with_library`: set MESOS_NATIVE_JAVA_LIBRARY (Apache's jars need it; ours does not).
fn full_scenario(jar: &str, with_library: bool) {
    let (remesos, library) = artifacts();
    let cp = compile_examples(jar, &classpath(jar));
    let cluster = start_cluster(&remesos, 2);
    let run = run_java(
        &cp,
        "org.remesos.examples.DriverExercise",
        &[&cluster.master, "full", &cp],
        with_library.then_some(library.as_path()),
        TIMEOUT,
    );
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    check_no_jni_warnings(&run);
    // MesosNativeLibrary.version() went through _version(): JNI_OnLoad set `loaded`.
    assert!(run.has("VERSION 1.11.0"), "{dump}");
    let framework_id = run.lines("FRAMEWORK_ID ")[0]
        .trim_start_matches("FRAMEWORK_ID ")
        .to_string();
    assert!(run.has("LAUNCHED 6 DRIVER_RUNNING"), "{dump}");
    for line in [
        "NULL_DECLINE DRIVER_RUNNING",
        "NULL_RECONCILE DRIVER_RUNNING",
        "KILL DRIVER_RUNNING",
        "SEND DRIVER_RUNNING",
        "RECONCILE DRIVER_RUNNING",
        "MESSAGE echo-executor echo:hello",
        "MESSAGE echo-executor finished",
        "RECONCILED echo TASK_RUNNING",
        "STOP DRIVER_STOPPED",
        "DRIVER_ENDED DRIVER_STOPPED",
    ] {
        assert!(run.has(line), "missing '{line}':\n{dump}");
    }
    let status = |task: &str, state: &str| {
        run.lines(&format!("STATUS {task} {state} "))
            .first()
            .map(|l| l.to_string())
    };
    for (task, state) in [
        ("true-2", "TASK_FINISHED"),
        ("sleeper", "TASK_KILLED"),
        ("echo", "TASK_RUNNING"),
        ("echo", "TASK_FINISHED"),
        ("huge", "TASK_ERROR"),
        ("true-1", "TASK_FINISHED"),
        ("true-1", "TASK_ERROR"),
    ] {
        assert!(
            status(task, state).is_some(),
            "no {state} for {task}:\n{dump}"
        );
    }
    // Every update carries the agent (statusUpdate "always with slave_id").
    for line in run.lines("STATUS ") {
        assert!(
            !line.contains("slave= "),
            "update without an agent: {line}\n{dump}"
        );
    }
    // The executor's JVM (also under -Xcheck:jni) logged to its sandbox: it registered
    // through MesosExecutorDriver and its driver stopped cleanly on the agent's shutdown.
    let sandbox = find_executor_sandbox(&cluster.work_dir, &framework_id, "echo-executor")
        .unwrap_or_else(|| panic!("no sandbox of echo-executor:\n{dump}"));
    let wait = std::time::Instant::now() + Duration::from_secs(20);
    let (stdout, stderr) = loop {
        let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap_or_default();
        let stderr = std::fs::read_to_string(sandbox.join("stderr")).unwrap_or_default();
        if stdout.contains("executor driver ended") || std::time::Instant::now() > wait {
            break (stdout, stderr);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(stdout.contains("registered on "), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("executor driver ended: DRIVER_STOPPED"),
        "{stdout}\n{stderr}"
    );
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("WARNING in native method") && !text.contains("FATAL ERROR"),
            "-Xcheck:jni in the executor:\n{stdout}\n{stderr}"
        );
    }
    // stop(false) tore the framework down: the master lists it as completed.
    let (_, state) = http_get(&cluster.master, "/master/state").expect("master state");
    let state: serde_json::Value = serde_json::from_str(&state).expect("state json");
    let active: Vec<&str> = state["frameworks"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(!active.contains(&framework_id.as_str()), "{state}");
    let completed: Vec<&str> = state["completed_frameworks"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(completed.contains(&framework_id.as_str()), "{state}");
}

/// `<work_dir>/agent-*/slaves/*/frameworks/<fw>/executors/<executor>/runs/latest`.
fn find_executor_sandbox(
    work_dir: &std::path::Path,
    framework: &str,
    executor: &str,
) -> Option<std::path::PathBuf> {
    for agent in std::fs::read_dir(work_dir).ok()?.flatten() {
        let Ok(slaves) = std::fs::read_dir(agent.path().join("slaves")) else {
            continue;
        };
        for slave in slaves.flatten() {
            let run = slave
                .path()
                .join("frameworks")
                .join(framework)
                .join("executors")
                .join(executor)
                .join("runs/latest");
            if run.exists() {
                return Some(run);
            }
        }
    }
    None
}

fn failover_scenario(jar: &str) {
    let (remesos, library) = artifacts();
    let cp = compile_examples(jar, &classpath(jar));
    let cluster = start_cluster(&remesos, 2);
    let first = run_java(
        &cp,
        "org.remesos.examples.DriverExercise",
        &[&cluster.master, "failover-1"],
        Some(&library),
        TIMEOUT,
    );
    let dump = first.dump();
    assert_eq!(first.code, Some(0), "{dump}");
    check_no_jni_warnings(&first);
    assert!(first.has("FAILOVER_STOP DRIVER_STOPPED"), "{dump}");
    let framework_id = first.lines("FRAMEWORK_ID ")[0]
        .trim_start_matches("FRAMEWORK_ID ")
        .to_string();
    // stop(true) left the framework registered (for its failover timeout).
    let (_, state) = http_get(&cluster.master, "/master/state").expect("master state");
    let state: serde_json::Value = serde_json::from_str(&state).expect("state json");
    let active: Vec<&str> = state["frameworks"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(active.contains(&framework_id.as_str()), "{state}\n{dump}");

    let second = run_java(
        &cp,
        "org.remesos.examples.DriverExercise",
        &[&cluster.master, "failover-2", &framework_id],
        Some(&library),
        TIMEOUT,
    );
    let dump = second.dump();
    assert_eq!(second.code, Some(0), "{dump}");
    check_no_jni_warnings(&second);
    assert!(second.has(&format!("REGISTERED {framework_id}")), "{dump}");
    assert!(
        !second.lines("STATUS survivor TASK_FINISHED").is_empty(),
        "the task's update did not arrive after failover:\n{dump}"
    );
    assert!(second.has("DRIVER_ENDED DRIVER_STOPPED"), "{dump}");
}

#[test]
fn apache_1_11_0_jar_runs_tasks_executor_messages_and_reconciliation() {
    full_scenario("apache-1.11.0", true);
}

#[test]
fn apache_1_4_3_shaded_jar_runs_tasks_executor_messages_and_reconciliation() {
    full_scenario("apache-1.4.3-shaded", true);
}

#[test]
fn the_projects_shaded_jar_runs_the_same_without_mesos_native_java_library() {
    // The jar carries libmesos.so and loads it by itself.
    full_scenario("remesos-shaded", false);
}

#[test]
fn the_projects_plain_jar_with_master_local_runs_a_cluster_inside_the_jvm() {
    // reference §1.8 `local`: a master and an agent in the JVM; the agent finds `remesos`
    // next to libmesos.so (MESOS_LAUNCHER_DIR would say otherwise).
    let (_, library) = artifacts();
    let cp = compile_examples("remesos", &classpath("remesos"));
    let run = run_java(
        &cp,
        "org.remesos.examples.CommandScheduler",
        &["local", "3", "true"],
        Some(&library),
        TIMEOUT,
    );
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    check_no_jni_warnings(&run);
    assert!(
        run.has("driver ended: DRIVER_STOPPED, finished 3/3"),
        "{dump}"
    );
}

#[test]
fn apache_1_11_0_jar_fails_over_to_a_new_driver() {
    failover_scenario("apache-1.11.0");
}

#[test]
fn apache_1_4_3_shaded_jar_fails_over_to_a_new_driver() {
    failover_scenario("apache-1.4.3-shaded");
}

#[test]
fn disconnected_launches_are_lost_locally_and_a_throwing_callback_aborts() {
    // reference §1.8: launchTasks while not connected -> TASK_LOST from the master with
    // REASON_MASTER_DISCONNECTED; acknowledgeStatusUpdate with implicit acknowledgements is
    // refused; §1.3: an exception in a callback aborts the driver (join returns ABORTED).
    let (_, library) = artifacts();
    let cp = compile_examples("apache-1.11.0", &classpath("apache-1.11.0"));
    let nobody = format!("127.0.0.1:{}", free_port());
    let run = run_java(
        &cp,
        "org.remesos.examples.DriverExercise",
        &[&nobody, "offline"],
        Some(&library),
        TIMEOUT,
    );
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    check_no_jni_warnings(&run);
    for line in [
        "START DRIVER_RUNNING",
        "OFFLINE_LAUNCH DRIVER_RUNNING",
        "ACK_REFUSED IllegalStateException",
        "STATUS offline TASK_LOST source=SOURCE_MASTER reason=REASON_MASTER_DISCONNECTED message=Master disconnected",
        "JOINED DRIVER_ABORTED",
        "STOP_AFTER_ABORT DRIVER_ABORTED",
    ] {
        assert!(run.has(line), "missing '{line}':\n{dump}");
    }
    // The callback's exception was described on stderr, not swallowed.
    assert!(
        run.stderr
            .contains("thrown by the statusUpdate callback on purpose"),
        "{dump}"
    );
}

/// `DriverExercise <mode>` with Apache's 1.11.0 jar on a fresh 1-agent cluster.
fn exercise_on_one_agent(mode: &str) -> (Cluster, JavaRun) {
    let (remesos, library) = artifacts();
    let cp = compile_examples("apache-1.11.0", &classpath("apache-1.11.0"));
    let cluster = start_cluster(&remesos, 1);
    let run = run_java(
        &cp,
        "org.remesos.examples.DriverExercise",
        &[&cluster.master, mode],
        Some(&library),
        TIMEOUT,
    );
    (cluster, run)
}

/// Runs `DriverExercise <mode>` (a resourceOffers callback that throws, then `stop(...)`
/// after `join`) and returns the framework's id, the master's `/master/frameworks` (once
/// `settled` holds, or after 20 s) and the run's output.
fn abort_then_stop(
    mode: &str,
    settled: impl Fn(&serde_json::Value, &str) -> bool,
) -> (String, serde_json::Value, String) {
    let (cluster, run) = exercise_on_one_agent(mode);
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    check_no_jni_warnings(&run);
    for line in ["JOINED DRIVER_ABORTED", "STOP_AFTER_ABORT DRIVER_ABORTED"] {
        assert!(run.has(line), "missing '{line}':\n{dump}");
    }
    assert!(
        run.stderr
            .contains("thrown by the resourceOffers callback on purpose"),
        "{dump}"
    );
    let framework_id = run.lines("FRAMEWORK_ID ")[0]
        .trim_start_matches("FRAMEWORK_ID ")
        .to_string();
    // The master may notice the closed connection just after the JVM exits: wait (bounded)
    // for the state `settled` looks for; the caller asserts on the last one seen.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = http_get(&cluster.master, "/master/frameworks").expect("master frameworks");
        let frameworks: serde_json::Value = serde_json::from_str(&body).expect("frameworks json");
        if settled(&frameworks, &framework_id) || std::time::Instant::now() > deadline {
            return (framework_id, frameworks, dump);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ids(frameworks: &serde_json::Value, key: &str) -> Vec<String> {
    frameworks[key]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The framework `id` among the registered (not completed) ones.
fn registered<'a>(frameworks: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    frameworks["frameworks"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["id"] == id))
}

#[test]
fn stop_false_after_an_abort_tears_the_framework_down() {
    // Apache's sched.cpp: `SchedulerProcess::abort` keeps the process connected (it only
    // deactivates the framework), and a later `MesosSchedulerDriver::stop(false)` (allowed
    // from DRIVER_ABORTED, returning DRIVER_ABORTED) dispatches `SchedulerProcess::stop`,
    // which sends TEARDOWN while connected. The framework (failover_timeout 300s) must be
    // completed at once, not left registered and disconnected for five minutes.
    let (id, frameworks, dump) = abort_then_stop("abort-stop", |f, id| {
        ids(f, "completed_frameworks").iter().any(|c| c == id)
    });
    assert!(
        ids(&frameworks, "completed_frameworks").contains(&id),
        "framework {id} was not torn down: {frameworks}\n{dump}"
    );
    assert!(
        !ids(&frameworks, "frameworks").contains(&id),
        "{frameworks}\n{dump}"
    );

    // stop(true) after an abort (sched.cpp `stop(failover=true)`: no TEARDOWN): the framework
    // stays registered, disconnected, for its failover timeout.
    let (id, frameworks, dump) = abort_then_stop("abort-failover", |f, id| {
        registered(f, id).is_some_and(|f| f["connected"] == false)
    });
    let kept = registered(&frameworks, &id)
        .unwrap_or_else(|| panic!("framework {id} is gone: {frameworks}\n{dump}"));
    assert_eq!(kept["connected"], false, "{kept}\n{dump}");
    assert_eq!(kept["active"], false, "{kept}\n{dump}");
}

#[test]
fn the_driver_reconnects_after_the_master_restarts() {
    // reference §1.8: the driver reconnects with backoff; `disconnected`, then
    // `reregistered` (not `registered`) once a master answers again.
    use std::io::BufRead;
    let (remesos, library) = artifacts();
    let cp = compile_examples("apache-1.11.0", &classpath("apache-1.11.0"));
    let port = free_port();
    let cluster = start_cluster_on(&remesos, 1, port);
    let mut java = std::process::Command::new("java")
        .args([
            "-Xcheck:jni",
            "-cp",
            &cp,
            "org.remesos.examples.DriverExercise",
        ])
        .args([&cluster.master, "reconnect"])
        .env("MESOS_NATIVE_JAVA_LIBRARY", &library)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run java");
    let stdout = java.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |prefix: &str, seen: &mut Vec<String>| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                let hit = line.starts_with(prefix);
                seen.push(line);
                if hit {
                    return;
                }
            }
        }
        let _ = java.kill();
        panic!("no '{prefix}' line; saw:\n{}", seen.join("\n"));
    };
    wait_for("REGISTERED ", &mut seen);
    drop(cluster);
    let restarted = start_cluster_on(&remesos, 1, port);
    wait_for("DISCONNECTED", &mut seen);
    wait_for("REREGISTERED", &mut seen);
    wait_for("DRIVER_ENDED DRIVER_STOPPED", &mut seen);
    let status = java.wait().expect("java exit");
    assert!(status.success(), "{}", seen.join("\n"));
    drop(restarted);
}

#[test]
fn explicit_acknowledgements_release_each_next_update() {
    // reference §8.2: the agent sends a task's next update only once the previous one is
    // acknowledged, so TASK_FINISHED arriving proves the explicit ACKs went out.
    let (_cluster, run) = exercise_on_one_agent("explicit");
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    check_no_jni_warnings(&run);
    for line in [
        "ACK TASK_STARTING DRIVER_RUNNING",
        "ACK TASK_RUNNING DRIVER_RUNNING",
        "DRIVER_ENDED DRIVER_STOPPED",
    ] {
        assert!(run.has(line), "missing '{line}':\n{dump}");
    }
    assert!(
        !run.lines("STATUS survivor TASK_FINISHED").is_empty(),
        "{dump}"
    );
}

#[test]
fn a_java_executor_shuts_down_when_its_agent_is_lost() {
    // reference §1.4: without checkpointing, an executor whose agent goes away gets
    // `shutdown` and exits (here: EchoExecutor stops its driver, `run()` returns).
    use std::io::BufRead;
    let (remesos, library) = artifacts();
    let cp = compile_examples("apache-1.11.0", &classpath("apache-1.11.0"));
    let mut cluster = start_cluster(&remesos, 1);
    let mut java = std::process::Command::new("java")
        .args(["-cp", &cp, "org.remesos.examples.DriverExercise"])
        .args([&cluster.master, "executor", &cp])
        .env("MESOS_NATIVE_JAVA_LIBRARY", &library)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run java");
    let stdout = java.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let framework_id = loop {
        let line = rx
            .recv_timeout(Duration::from_millis(200))
            .unwrap_or_default();
        if !line.is_empty() {
            seen.push(line.clone());
        }
        if line.starts_with("STATUS echo TASK_RUNNING") {
            break seen
                .iter()
                .find_map(|l| l.strip_prefix("FRAMEWORK_ID "))
                .expect("framework id")
                .to_string();
        }
        if std::time::Instant::now() > deadline {
            let _ = java.kill();
            panic!("the executor did not run:\n{}", seen.join("\n"));
        }
    };
    let sandbox = find_executor_sandbox(&cluster.work_dir, &framework_id, "echo-executor")
        .expect("executor sandbox");
    let sandbox = sandbox.canonicalize().expect("resolve runs/latest");
    cluster.kill_hard();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let stdout = loop {
        let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap_or_default();
        if stdout.contains("executor driver ended") || std::time::Instant::now() > deadline {
            break stdout;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = java.kill();
    let _ = java.wait();
    assert!(
        stdout.contains("executor driver ended: DRIVER_STOPPED"),
        "the executor did not shut down after its agent was lost:\n{stdout}\n{}",
        std::fs::read_to_string(sandbox.join("stderr")).unwrap_or_default()
    );
}
