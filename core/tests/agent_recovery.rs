//! Agent recovery with real processes (reference/mesos-contract.md §8.6, Mesos
//! `docs/agent-recovery.md`; issue 7 fault test 5(b)): `kill -9` of a `remesos agent`
//! running tasks of a checkpointing framework, then a restart on the same work_dir — the
//! executors keep running, reconnect, resend what the agent missed, and every task ends
//! exactly once.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
use support::temp_dir;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use remesos_proto::v1;
use support::{Daemon, TestFramework, command_task, free_port, spawn_agent, spawn_master};
use v1::TaskState;

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s.rsplit_once(')')?.1.split_whitespace().next()?.to_string();
            Some(state != "Z")
        })
        .unwrap_or(false)
}

fn state_name(state: i32) -> &'static str {
    TaskState::try_from(state).map_or("?", |s| s.as_str_name())
}

fn terminal(state: i32) -> bool {
    TaskState::try_from(state).is_ok_and(remesos::common::protocol::is_terminal)
}

/// Launches 2 short tasks (they end while the agent is down) and 2 long ones (they write a
/// tick file until killed), `kill -9`s the agent, restarts it, and counts every task's
/// terminal state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_agent_keeps_tasks_running_and_reporting() {
    let dir = temp_dir("recovery");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent_addr = format!("127.0.0.1:{port}");
    let work_dir = dir.join("agent");
    let mut agent = spawn_agent(&master, port, &work_dir, &[]);
    let agent_id = support::registered_agent_state(&agent_addr).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut framework = TestFramework::subscribe(&master, "recovery", true).await;
    let offer = framework.next_offer().await;
    let ids = ["short-1", "short-2", "long-1", "long-2"];
    let tasks = ids
        .iter()
        .map(|id| {
            let command = if id.starts_with("short") {
                "sleep 3"
            } else {
                "while true; do echo tick >> ticks; sleep 0.2; done"
            };
            command_task(id, &offer, "cpus:0.2;mem:32", command)
        })
        .collect();
    framework.launch(&offer, tasks).await;

    let mut states: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    let running = |states: &BTreeMap<String, Vec<i32>>| {
        ids.iter().all(|id| {
            states
                .get(*id)
                .is_some_and(|s| s.contains(&(TaskState::TaskRunning as i32)))
        })
    };
    while !running(&states) {
        let status = framework.next_update(Duration::from_secs(30)).await;
        states
            .entry(status.task_id.value.clone())
            .or_default()
            .push(status.state);
    }
    // Each executor's pid checkpoint (`forked.pid`) is on disk once the agent has
    // written it; a task's RUNNING may come first.
    wait_until("four executor pid checkpoints", || {
        support::executor_pids(&work_dir).len() == 4
    })
    .await;
    let pids = support::executor_pids(&work_dir);
    assert_eq!(pids.len(), 4, "{pids:?}");

    // kill -9: no chance to clean up. The executors are not the agent's to take along.
    agent.kill9();
    // Each executor has seen its agent go (it logs the broken link to its sandbox's stderr)
    // and is still alive.
    for eid in pids.keys() {
        let stderr = sandbox(&work_dir, &agent_id, &framework, eid).join("stderr");
        wait_until(&format!("executor {eid} notices the agent is gone"), || {
            std::fs::read_to_string(&stderr)
                .is_ok_and(|t| t.contains("disconnected from the agent"))
        })
        .await;
    }
    for (eid, pid) in &pids {
        assert!(
            alive(*pid),
            "executor {eid} (pid {pid}) died with the agent"
        );
    }
    // The short tasks finish while the agent is away (their commands leave the executor's
    // session): their executors keep the terminal updates and resend them when they
    // resubscribe.
    for id in ["short-1", "short-2"] {
        let pid = pids[id];
        wait_until(&format!("{id}'s command ends"), || {
            remesos::agent::isolator::session_members(pid)
                .iter()
                .all(|p| *p == pid)
        })
        .await;
    }
    let ticks_before: BTreeMap<&str, usize> = ["long-1", "long-2"]
        .iter()
        .map(|id| (*id, ticks(&work_dir, &agent_id, &framework, id)))
        .collect();

    let mut agent = spawn_agent(&master, port, &work_dir, &[]);
    let state = support::registered_agent_state(&agent_addr).await;
    assert_eq!(
        state["id"],
        agent_id.as_str(),
        "the same agent after a restart"
    );

    let finished = |states: &BTreeMap<String, Vec<i32>>, ids: &[&str]| {
        ids.iter().all(|id| {
            states
                .get(*id)
                .is_some_and(|s| s.iter().any(|x| terminal(*x)))
        })
    };
    while !finished(&states, &["short-1", "short-2"]) {
        let status = framework.next_update(Duration::from_secs(30)).await;
        states
            .entry(status.task_id.value.clone())
            .or_default()
            .push(status.state);
    }
    // The long tasks kept running across the restart.
    for (id, before) in &ticks_before {
        wait_until(&format!("{id} ticks again"), || {
            ticks(&work_dir, &agent_id, &framework, id) > *before
        })
        .await;
        let after = ticks(&work_dir, &agent_id, &framework, id);
        assert!(
            after > *before,
            "{id} stopped ticking ({before} -> {after})"
        );
    }
    // ... and the restarted agent still reaches their executors: KILL goes through.
    let agent_id_proto = v1::AgentId {
        value: agent_id.clone(),
    };
    for id in ["long-1", "long-2"] {
        framework.kill(id, &agent_id_proto).await;
    }
    while !finished(&states, &ids) {
        let status = framework.next_update(Duration::from_secs(30)).await;
        states
            .entry(status.task_id.value.clone())
            .or_default()
            .push(status.state);
    }
    // Nothing more arrives: no task ends twice.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), framework.sub.next_event()).await {
            Ok(Ok(event)) => {
                if let Some(update) = event.update {
                    states
                        .entry(update.status.task_id.value.clone())
                        .or_default()
                        .push(update.status.state);
                }
            }
            Ok(Err(e)) => panic!("the subscription broke: {e}"),
            Err(_) => {}
        }
    }
    let summary: BTreeMap<&String, Vec<&str>> = states
        .iter()
        .map(|(id, s)| (id, s.iter().map(|x| state_name(*x)).collect()))
        .collect();
    for id in ids {
        let ends: Vec<i32> = states[id]
            .iter()
            .copied()
            .filter(|s| terminal(*s))
            .collect();
        let expected = if id.starts_with("short") {
            TaskState::TaskFinished
        } else {
            TaskState::TaskKilled
        };
        assert_eq!(
            ends,
            vec![expected as i32],
            "{id}: exactly one terminal state; all updates: {summary:?}"
        );
    }
    // The executors are gone once their tasks ended.
    let deadline = Instant::now() + Duration::from_secs(15);
    while pids.values().any(|p| alive(*p)) {
        assert!(Instant::now() < deadline, "executors outlived their tasks");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agent.kill9();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The latest run directory of a command task's executor (named after the task).
fn sandbox(work_dir: &Path, agent_id: &str, framework: &TestFramework, task: &str) -> PathBuf {
    work_dir
        .join("slaves")
        .join(agent_id)
        .join("frameworks")
        .join(&framework.sub.framework_id.value)
        .join("executors")
        .join(task)
        .join("runs/latest")
}

/// Polls `condition` until it holds; fails the test after 30 s, naming what it waited for.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ticks(work_dir: &Path, agent_id: &str, framework: &TestFramework, task: &str) -> usize {
    let path = sandbox(work_dir, agent_id, framework, task).join("ticks");
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Mesos: a changed boot id means the machine rebooted — the old state is discarded and the
/// agent registers as a new agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_boot_id_registers_a_new_agent() {
    let dir = temp_dir("reboot");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let work_dir = dir.join("agent");
    let mut agent = spawn_agent(&master, port, &work_dir, &[]);
    let first = support::registered_agent_state(&addr).await["id"].clone();
    agent.kill9();

    // Same boot: same agent.
    let mut agent = spawn_agent(&master, port, &work_dir, &[]);
    let again = support::registered_agent_state(&addr).await["id"].clone();
    assert_eq!(first, again);
    agent.kill9();

    std::fs::write(
        work_dir.join("meta/boot_id"),
        "00000000-0000-0000-0000-000000000000",
    )
    .unwrap();
    let mut agent = spawn_agent(&master, port, &work_dir, &[]);
    let rebooted = support::registered_agent_state(&addr).await["id"].clone();
    assert_ne!(first, rebooted, "a reboot yields a new agent id");
    agent.kill9();
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM leaves the executors of a checkpointing framework running (Mesos leaves them
/// for the next agent to recover); `--recover=cleanup` kills them and exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_leaves_executors_and_recover_cleanup_kills_them() {
    let dir = temp_dir("cleanup");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let work_dir = dir.join("agent");
    let mut agent = spawn_agent(&master, port, &work_dir, &[]);
    let state = support::registered_agent_state(&addr).await;
    let mut framework = TestFramework::subscribe(&master, "cleanup", true).await;
    let offer = framework.next_offer().await;
    let task = command_task("sleeper", &offer, "cpus:0.2;mem:32", "sleep 600");
    framework.launch(&offer, vec![task]).await;
    loop {
        let status = framework.next_update(Duration::from_secs(30)).await;
        if status.state == TaskState::TaskRunning as i32 {
            break;
        }
    }
    let pids = support::executor_pids(&work_dir);
    let pid = pids["sleeper"];
    let status = agent.terminate().expect("the agent exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    let agent_id = state["id"].as_str().unwrap();
    let stderr = sandbox(&work_dir, agent_id, &framework, "sleeper").join("stderr");
    wait_until("the executor notices the agent is gone", || {
        std::fs::read_to_string(&stderr).is_ok_and(|t| t.contains("disconnected from the agent"))
    })
    .await;
    assert!(
        alive(pid),
        "a checkpointing framework's executor survives SIGTERM"
    );

    let mut cleanup = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["agent", &format!("--master={master}"), "--ip=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--work_dir={}", work_dir.display()))
            .arg("--recover=cleanup")
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(status) = cleanup.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "--recover=cleanup did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(code.success(), "{code:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    // The executor and its task (in a process group of its own, same session) are gone.
    while alive(pid) || !remesos::agent::isolator::session_members(pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "--recover=cleanup left the executor or its task"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
