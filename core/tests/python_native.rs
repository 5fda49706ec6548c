//! Issue 21: Mesos's Python API (`mesos.interface` + `mesos.native`) on Python 3, over the
//! remesos drivers (python/, a PyO3 extension). The example framework and its custom
//! executor (tests/python/mesos_native_framework.py, mesos_native_executor.py, Mesos's
//! test_framework.py/test_executor.py in shape) run unmodified but for imports against
//! `local`, a real master and agent, and three masters under ZooKeeper whose leader is
//! killed mid-run; mesos_native_checks.py covers failover, a raising callback and bad input.
//!
//! The wheels are built and installed by tests/run.sh (e2e_prepare, tests/python/
//! setup_venv.sh) into `.venv` (Python 3.11) and `.venv312` (Python 3.12).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use remesos::zk::MasterDetector;
use support::zookeeper::ZooKeeper;
use support::{Daemon, free_port, spawn_agent_env, spawn_master, temp_dir};

/// The Pythons with the wheels installed: `.venv` (3.11) always; `.venv312` (3.12) when
/// `REMESOS_PYTHON312` names it (tests/run.sh sets it).
fn pythons() -> Vec<PathBuf> {
    let mut pythons = vec![PathBuf::from(support::pymesos_python())];
    if let Ok(p) = std::env::var("REMESOS_PYTHON312") {
        pythons.push(PathBuf::from(p));
    }
    for python in &pythons {
        let ok = Command::new(python)
            .args(["-c", "import mesos.native, mesos.interface.mesos_pb2"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "{} has no mesos.native: run tests/python/setup_venv.sh (tests/run.sh does)",
            python.display()
        );
    }
    pythons
}

fn script(name: &str) -> String {
    format!("{}/../tests/python/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `PATH` with the venv's `python3` first (the executor's command is `python3 ...`; agents
/// pass their `PATH` on) and the `remesos` binary next (`local` finds it there).
fn path_for(python: &Path) -> String {
    let venv_bin = python.parent().unwrap().display().to_string();
    let remesos_dir = Path::new(env!("CARGO_BIN_EXE_remesos"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    format!(
        "{venv_bin}:{remesos_dir}:{}",
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A Python process whose stdout and stderr are collected as they come.
struct Script {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Script {
    fn spawn(python: &Path, args: &[&str]) -> Script {
        let mut child = Command::new(python)
            .args(args)
            .env("PATH", path_for(python))
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {} {args:?}: {e}", python.display()));
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut out = output.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        Script { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output holds `text`.
    async fn wait_for(&mut self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.output().contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exited ({status}) before '{text}':\n{}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "no '{text}' within {timeout:?}:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the exit (killing it after `timeout`); returns success and the output.
    async fn finish(mut self, timeout: Duration) -> (bool, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The reader threads end with the pipes.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return (status.success(), self.output());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("still running after {timeout:?}:\n{}", self.output());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs a script to its end and asserts that it succeeded; returns its output.
async fn run_ok(python: &Path, args: &[&str], timeout: Duration) -> String {
    let (ok, output) = Script::spawn(python, args).finish(timeout).await;
    assert!(ok, "{} {args:?} failed:\n{output}", python.display());
    output
}

/// A master and an agent whose `PATH` starts with `python`'s venv.
async fn cluster(name: &str, python: &Path) -> (Daemon, Daemon, String) {
    cluster_in(&temp_dir(name), python).await
}

/// [`cluster`] in `dir` (the agent's work directory is `dir/agent`).
async fn cluster_in(dir: &Path, python: &Path) -> (Daemon, Daemon, String) {
    let (master_daemon, master) = spawn_master(dir).await;
    let agent = spawn_agent_env(
        &master,
        free_port(),
        &dir.join("agent"),
        &["--switch_user=false"],
        Some(&dir.join("agent.log")),
        &[("PATH".to_string(), path_for(python))],
    );
    (master_daemon, agent, master)
}

fn assert_example_completed(output: &str, tasks: usize) {
    for task in 0..tasks {
        assert!(
            output.contains(&format!("Task {task} is in state TASK_FINISHED")),
            "task {task} did not finish:\n{output}"
        );
    }
    assert!(
        output.contains("All tasks done, and all messages received, exiting")
            && output.contains("Driver ended with DRIVER_STOPPED"),
        "{output}"
    );
}

/// The example framework against `local` (a master and an agent inside the Python process),
/// on every Python.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_framework_runs_against_local() {
    for python in pythons() {
        let output = run_ok(
            &python,
            &[&script("mesos_native_framework.py"), "local", "3"],
            Duration::from_secs(120),
        )
        .await;
        assert_example_completed(&output, 3);
        eprintln!("{}: local ok", python.display());
    }
}

/// The example framework against a real master and agent (host:port), on every Python, and
/// through a `file://` master string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_framework_runs_against_a_master_and_an_agent() {
    for python in pythons() {
        let (_master, _agent, master) = cluster("py-native", &python).await;
        let output = run_ok(
            &python,
            &[&script("mesos_native_framework.py"), &master, "5"],
            Duration::from_secs(120),
        )
        .await;
        assert_example_completed(&output, 5);

        let file = temp_dir("py-native-master-file").join("master");
        std::fs::write(&file, format!("{master}\n")).unwrap();
        let output = run_ok(
            &python,
            &[
                &script("mesos_native_framework.py"),
                &format!("file://{}", file.display()),
                "2",
            ],
            Duration::from_secs(120),
        )
        .await;
        assert_example_completed(&output, 2);
    }
}

/// Three masters under ZooKeeper; the framework detects the leader through `zk://`; the
/// leader is killed (SIGKILL) while tasks run: the driver resubscribes with the new leader
/// (`reregistered`), reconciles, and every task finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_framework_survives_killing_the_leading_master() {
    let python = pythons().remove(0);
    let zk = ZooKeeper::start();
    let url = zk.url("/mesos");
    let dir = temp_dir("py-native-ha");
    let flags = [
        format!("--zk={url}"),
        "--quorum=2".to_string(),
        "--zk_session_timeout=2secs".to_string(),
        "--agent_reregister_timeout=30secs".to_string(),
        "--allocation_interval=100ms".to_string(),
    ];
    let mut masters: Vec<(String, Daemon)> = (0..3)
        .map(|i| {
            let port = free_port();
            let child = Command::new(env!("CARGO_BIN_EXE_remesos"))
                .args(["master", "--ip=127.0.0.1", "--hostname=127.0.0.1"])
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--work_dir={}",
                    dir.join(format!("master-{i}")).display()
                ))
                .args(&flags)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join(format!("master-{i}.log"))).unwrap())
                .spawn()
                .expect("start remesos master");
            (format!("127.0.0.1:{port}"), Daemon(child))
        })
        .collect();
    let _agent = spawn_agent_env(
        &url,
        free_port(),
        &dir.join("agent"),
        &["--switch_user=false", "--zk_session_timeout=2secs"],
        Some(&dir.join("agent.log")),
        &[("PATH".to_string(), path_for(&python))],
    );
    let detector = MasterDetector::parse_with_timeout(&url, Duration::from_secs(2)).unwrap();

    // 4 tasks of 6 s each: the leader dies while they run.
    let mut framework = Script::spawn(
        &python,
        &[&script("mesos_native_framework.py"), &url, "4", "6"],
    );
    framework
        .wait_for("is in state TASK_RUNNING", Duration::from_secs(60))
        .await;
    let leader = detector.current().expect("a leading master");
    let killed = masters
        .iter_mut()
        .find(|(addr, _)| *addr == leader)
        .unwrap_or_else(|| panic!("the leader {leader} is one of ours"));
    killed.1.kill9();
    eprintln!("killed the leading master {leader}");

    let (ok, output) = framework.finish(Duration::from_secs(120)).await;
    assert!(ok, "the framework failed after the failover:\n{output}");
    assert!(
        output.contains("Reregistered with master"),
        "the driver resubscribed with the new leader:\n{output}"
    );
    assert!(
        output.contains("Reconciled task "),
        "the new leader answered the reconciliation:\n{output}"
    );
    assert_example_completed(&output, 4);
    let new_leader = detector.current().expect("a new leader");
    assert_ne!(new_leader, leader);
}

/// `stop(failover=True)` keeps the framework; a new driver given its id (keyword
/// arguments this time) registers as the same framework.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_driver_takes_over_after_stop_with_failover() {
    let python = pythons().remove(0);
    let (_master, _agent, master) = cluster("py-native-failover", &python).await;
    let output = run_ok(
        &python,
        &[&script("mesos_native_checks.py"), "failover", &master],
        Duration::from_secs(90),
    )
    .await;
    assert!(
        output.contains("stop(failover=True) returned DRIVER_STOPPED")
            && output.contains("failed over: first "),
        "{output}"
    );
}

/// A callback that raises: its traceback is printed and the driver aborts (run() returns
/// DRIVER_ABORTED), and no further callback runs — the original extension's behaviour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raising_callback_aborts_the_driver() {
    let python = pythons().remove(0);
    let (_master, _agent, master) = cluster("py-native-raise", &python).await;
    let output = run_ok(
        &python,
        &[&script("mesos_native_checks.py"), "raising", &master],
        Duration::from_secs(90),
    )
    .await;
    assert!(
        output.contains("Failed to call scheduler's resourceOffers")
            && output.contains("RuntimeError: raised in resourceOffers on purpose")
            && output.contains("run() returned DRIVER_ABORTED"),
        "{output}"
    );
}

/// An executor that sends TASK_STAGING ends as under Mesos (whose agent shuts such an
/// executor down): its `shutdown` callback runs, the scheduler never sees TASK_STAGING and
/// gets the task's end when the executor has gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executor_sending_task_staging_is_shut_down() {
    let python = pythons().remove(0);
    let dir = temp_dir("py-native-staging");
    let (_master, _agent, master) = cluster_in(&dir, &python).await;
    let output = run_ok(
        &python,
        &[&script("mesos_native_checks.py"), "staging", &master],
        Duration::from_secs(90),
    )
    .await;
    assert!(!output.contains("TASK_STAGING"), "{output}");
    let stdout = executor_stdout(&dir.join("agent"), "staging");
    assert!(
        stdout.contains("sendStatusUpdate(TASK_STAGING) returned DRIVER_RUNNING")
            && stdout.contains("shutdown called after TASK_STAGING")
            && stdout.contains("executor driver ended with DRIVER_STOPPED"),
        "{stdout}\n{output}"
    );
}

/// The stdout of executor `executor_id`'s latest run under an agent's work directory.
fn executor_stdout(work_dir: &Path, executor_id: &str) -> String {
    let slaves = std::fs::read_dir(work_dir.join("slaves")).unwrap();
    for agent in slaves.flatten() {
        for framework in std::fs::read_dir(agent.path().join("frameworks"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let stdout = framework
                .path()
                .join("executors")
                .join(executor_id)
                .join("runs/latest/stdout");
            if let Ok(text) = std::fs::read_to_string(stdout) {
                return text;
            }
        }
    }
    panic!(
        "no sandbox of executor {executor_id} under {}",
        work_dir.display()
    )
}

/// Users who already have PyPI's `mesos.interface` 1.7.2 (protobuf 3, the 1.7 schema) keep
/// it: our `mesos.native` takes its `mesos_pb2` objects (only bytes cross) and builds the
/// callbacks' messages from it. `REMESOS_PYTHON_MESOS172` names that venv's Python.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_framework_runs_with_pypis_mesos_interface_1_7_2() {
    let python = PathBuf::from(std::env::var("REMESOS_PYTHON_MESOS172").expect(
        "REMESOS_PYTHON_MESOS172: run tests/python/install_mesos_native.sh (tests/run.sh does)",
    ));
    let probe = Command::new(&python)
        .args([
            "-c",
            "import google.protobuf, mesos.native; from mesos.interface import mesos_pb2; print(google.protobuf.__version__, hasattr(mesos_pb2.TaskInfo(), 'limits'))",
        ])
        .output()
        .unwrap();
    let probe = String::from_utf8_lossy(&probe.stdout).into_owned();
    assert!(
        probe.starts_with("3.") && probe.trim_end().ends_with("False"),
        "not PyPI's 1.7.2 on protobuf 3: {probe}"
    );
    let (_master, _agent, master) = cluster("py-native-172", &python).await;
    let output = run_ok(
        &python,
        &[&script("mesos_native_framework.py"), &master, "3"],
        Duration::from_secs(120),
    )
    .await;
    assert_example_completed(&output, 3);
    run_ok(
        &python,
        &[&script("mesos_native_checks.py"), "bad-input"],
        Duration::from_secs(60),
    )
    .await;
}

/// Bad input (non-protobuf objects, wrong message types, wrong argument types, incomplete
/// messages) raises a Python exception; the interpreter lives on and the driver is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_raises_python_exceptions() {
    for python in pythons() {
        let output = run_ok(
            &python,
            &[&script("mesos_native_checks.py"), "bad-input"],
            Duration::from_secs(60),
        )
        .await;
        assert!(
            output.contains("launchTasks(object()) raised TypeError")
                && output.contains("framework=dict raised TypeError")
                && output.contains("bad input: every call raised and the interpreter is alive"),
            "{output}"
        );
    }
}
