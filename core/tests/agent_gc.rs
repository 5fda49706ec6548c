//! Sandbox and metadata garbage collection with real daemons (issue 16 item 1; Mesos's
//! src/slave/gc.cpp, `Slave::garbageCollect`, `Slave::_checkDiskUsage`,
//! docs/configuration/agent.md `--gc_delay`, `--gc_disk_headroom`, `--disk_watch_interval`).
//!
//! Needs root: the first test mounts a tmpfs of a few MB as the agent's work_dir (and
//! unmounts it at the end). It fails, naming what it needs, when not run as root.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
use support::temp_dir;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use remesos_proto::v1;
use support::{Daemon, TestFramework, command_task, free_port, spawn_agent, spawn_master};
use v1::TaskState;

/// A tmpfs of `size` mounted at a fresh directory; unmounted (lazily) when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Tmpfs {
        assert!(
            // SAFETY: geteuid(2) has no preconditions.
            unsafe { libc::geteuid() } == 0,
            "agent_gc.rs needs root: it mounts a {size} tmpfs as the agent's work_dir"
        );
        std::fs::create_dir_all(&at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount -t tmpfs failed at {}",
            at.display()
        );
        Tmpfs(at)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Launches `tasks` on `offer`, declining what is left for no time (offers come back at
/// the next allocation).
async fn launch(fw: &mut TestFramework, offer: &v1::Offer, tasks: Vec<v1::TaskInfo>) {
    let filters = v1::Filters {
        refuse_seconds: Some(0.0),
    };
    let accept = remesos::common::protocol::launch_call(offer, tasks, Some(filters));
    fw.sub.call(accept).await.unwrap();
}

/// The next update (acknowledged), which must be for `task`; returns its state. Offers
/// that come meanwhile are declined (an offer left unanswered is not made again), and
/// the wait is bounded as a whole (heartbeats keep the stream busy).
async fn state_of(fw: &mut TestFramework, task: &str) -> TaskState {
    use v1::scheduler as sched;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let event = tokio::time::timeout_at(deadline, fw.sub.next_event())
            .await
            .unwrap_or_else(|_| panic!("no update of {task} in time"))
            .unwrap();
        for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
            let decline = sched::Call {
                r#type: Some(sched::call::Type::Decline as i32),
                decline: Some(sched::call::Decline {
                    offer_ids: vec![offer.id.clone()],
                    filters: Some(v1::Filters {
                        refuse_seconds: Some(0.0),
                    }),
                }),
                ..Default::default()
            };
            fw.sub.call(decline).await.unwrap();
        }
        if let Some(update) = event.update {
            let status = update.status;
            if let Some(ack) = remesos::client::scheduler::acknowledge_call(&status) {
                fw.sub.call(ack).await.unwrap();
            }
            assert_eq!(status.task_id.value, task, "unexpected update {status:?}");
            return TaskState::try_from(status.state).unwrap();
        }
    }
}

/// Runs `command` as task `id` until it ends; its terminal state.
async fn run_to_end(fw: &mut TestFramework, id: &str, command: &str) -> TaskState {
    let offer = fw.next_offer().await;
    launch(
        fw,
        &offer,
        vec![command_task(id, &offer, "cpus:0.1;mem:32", command)],
    )
    .await;
    loop {
        let state = state_of(fw, id).await;
        if remesos::common::protocol::is_terminal(state) {
            return state;
        }
    }
}

/// The agent's `/metrics/snapshot`; `null` while it does not answer (restarting).
async fn metrics(agent: &str) -> serde_json::Value {
    let http = remesos::client::HttpClient::default();
    match http.get(&format!("http://{agent}/metrics/snapshot")).await {
        Ok((200, body)) => serde_json::from_slice(&body).unwrap(),
        _ => serde_json::Value::Null,
    }
}

/// Waits (at most 60 s) until `agent`'s metrics satisfy `ok`; the last snapshot.
async fn metrics_until(
    agent: &str,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = metrics(agent).await;
        if ok(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "never {what}: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (at most 60 s) until `agent` lists `executor` among its completed executors.
async fn executor_removed(agent: &str, executor: &str) {
    let http = remesos::client::HttpClient::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, body)) = http.get(&format!("http://{agent}/state")).await {
            let state: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let done = state["frameworks"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|f| f["completed_executors"].as_array().into_iter().flatten())
                .any(|e| e["id"] == executor);
            if done {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{executor} was never removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `<work_dir>/slaves/<agent>/frameworks/<framework>/executors/<task>`: a command task's
/// executor directory (its executor id is its task id), holding its runs.
fn executor_dir(
    work_dir: &Path,
    agent: &v1::AgentId,
    framework: &v1::FrameworkId,
    task: &str,
) -> PathBuf {
    work_dir
        .join("slaves")
        .join(&agent.value)
        .join("frameworks")
        .join(&framework.value)
        .join("executors")
        .join(task)
}

fn meta_executor_dir(
    work_dir: &Path,
    agent: &v1::AgentId,
    framework: &v1::FrameworkId,
    task: &str,
) -> PathBuf {
    executor_dir(&work_dir.join("meta"), agent, framework, task)
}

/// Issue 16's test: sandboxes fill a small filesystem, the oldest go first, the running
/// task's sandbox stays. 16 tasks of 1 MB each finish one after another on an 8 MB work_dir:
/// without garbage collection the ninth would fail with ENOSPC. `--gc_disk_headroom=0.5`
/// with `--gc_delay=30secs`: a finished sandbox at least `30s * (0.5 - usage)` old goes at
/// each check (every 100 ms), all of them once half the disk is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_filling_a_small_disk_go_oldest_first_while_a_running_tasks_stays() {
    let dir = temp_dir("gc-fill");
    let work_dir = Tmpfs::mount(dir.join("work"), "8m");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let _agent = spawn_agent(
        &master,
        port,
        &work_dir.0,
        &[
            "--gc_delay=30secs",
            "--gc_disk_headroom=0.5",
            "--disk_watch_interval=100ms",
        ],
    );
    let agent = format!("127.0.0.1:{port}");
    let mut fw = TestFramework::subscribe(&master, "gc-fill", true).await;
    let fid = fw.sub.framework_id.clone();

    let offer = fw.next_offer().await;
    let aid = offer.agent_id.clone();
    let keeper = command_task(
        "keeper",
        &offer,
        "cpus:0.1;mem:32",
        "dd if=/dev/zero of=keep bs=64k count=16 2>/dev/null && sleep 600",
    );
    launch(&mut fw, &offer, vec![keeper]).await;
    while state_of(&mut fw, "keeper").await != TaskState::TaskRunning {}
    let keep = executor_dir(&work_dir.0, &aid, &fid, "keeper").join("runs/latest/keep");

    let mut finished: Vec<String> = Vec::new();
    for i in 0..16 {
        let id = format!("fill-{i:02}");
        let state = run_to_end(
            &mut fw,
            &id,
            "dd if=/dev/zero of=blob bs=64k count=16 2>/dev/null",
        )
        .await;
        assert_eq!(state, TaskState::TaskFinished, "{id}: the disk filled up");
        // Its executor may outlive the update by a little; directories are scheduled when
        // the agent removes the executor. Waiting for that keeps their removal order the
        // order of the tasks.
        executor_removed(&agent, &id).await;
        // The agent looks at the disk every 100 ms (`--disk_watch_interval`), as Mesos's
        // does: a task ends here in ~10 ms, so without a pause several would fill the
        // 8 MB between two looks and the next one would find the disk full. The pause
        // gives the agent a few looks per task, so the disk never holds more than one
        // blob above the headroom.
        tokio::time::sleep(Duration::from_millis(400)).await;
        finished.push(id);
        // Oldest first: once a sandbox is gone, every older one is. Looked at newest
        // first: the agent takes a batch out in its order, oldest first, so a newer one
        // seen gone implies that the older ones were gone already.
        let mut newer_gone = false;
        for task in finished.iter().rev() {
            let exists = executor_dir(&work_dir.0, &aid, &fid, task).exists();
            assert!(
                !(newer_gone && exists),
                "{task}'s sandbox is still there though a newer one is gone"
            );
            newer_gone |= !exists;
        }
        assert!(keep.exists(), "the running task's sandbox was removed");
    }
    let m = metrics(&agent).await;
    assert!(
        m["gc/path_removals_succeeded"].as_f64().unwrap() > 0.0,
        "nothing was collected: {m}"
    );
    assert!(
        !executor_dir(&work_dir.0, &aid, &fid, "fill-00").exists(),
        "the oldest sandbox outlived the filling"
    );
    assert!(
        !meta_executor_dir(&work_dir.0, &aid, &fid, "fill-00").exists(),
        "its checkpoints went with it"
    );
    assert!(keep.exists());
    assert!(meta_executor_dir(&work_dir.0, &aid, &fid, "keeper").exists());
    fw.kill("keeper", &aid).await;
    assert_eq!(state_of(&mut fw, "keeper").await, TaskState::TaskKilled);
}

/// Issue 16 item 6, "a GC run while a framework reregisters": a framework whose last
/// executor ended here has its directories scheduled (`--gc_delay=1secs`); it fails over,
/// resubscribes with its id and launches again around the moment they come due — before,
/// during or after. The new task writes into its sandbox, waits, and reads it back: it
/// finishes only if nothing of its framework's directory was deleted under it (Mesos's
/// `Slave::run` unschedules the framework's directories; here a removal already under way
/// has moved the old tree out of the layout first, gc/sweep.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framework_that_comes_back_while_its_directories_are_collected_runs_intact() {
    let dir = temp_dir("gc-reregister");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let work_dir = dir.join("agent");
    let _agent = spawn_agent(
        &master,
        port,
        &work_dir,
        &["--gc_delay=1secs", "--disk_watch_interval=1mins"],
    );
    let agent = format!("127.0.0.1:{port}");
    let mut info = v1::FrameworkInfo {
        user: String::new(),
        name: "gc-reregister".into(),
        checkpoint: Some(true),
        failover_timeout: Some(600.0),
        ..Default::default()
    };
    let mut fw = TestFramework::subscribe_info(&master, info.clone()).await;
    info.id = Some(fw.sub.framework_id.clone());
    for i in 0..6 {
        let state = run_to_end(&mut fw, &format!("before-{i}"), "true").await;
        assert_eq!(state, TaskState::TaskFinished);
        // The framework fails over: a new subscription with its id (the master tells the
        // agent its new info), after a delay that puts its next launch before, at and
        // after the moment its directories come due.
        drop(fw);
        tokio::time::sleep(Duration::from_millis(200 * i)).await;
        fw = TestFramework::subscribe_info(&master, info.clone()).await;
        let state = run_to_end(
            &mut fw,
            &format!("after-{i}"),
            "echo data > f && sleep 1.5 && grep -q data f && test -f stdout",
        )
        .await;
        assert_eq!(
            state,
            TaskState::TaskFinished,
            "round {i}: the task's sandbox was deleted under it"
        );
    }
    metrics_until(&agent, "collected anything", |m| {
        m["gc/path_removals_succeeded"].as_f64().unwrap_or(0.0) > 0.0
    })
    .await;
}

/// Sets `path`'s mtime `ago` into the past (as if it were scheduled that long ago).
fn backdate(path: &Path, ago: Duration) {
    let dir = std::fs::File::open(path).unwrap();
    dir.set_modified(SystemTime::now() - ago).unwrap();
}

/// Mesos's `Slave::recover` / `Framework::recoverExecutor`: the schedule is recomputed
/// from the checkpointed state and the directories' mtimes, so an agent restart neither
/// forgets nor postpones it. Two finished executors, `--gc_delay=1hrs`; while the agent is
/// down, one's directories are made two hours old: after the restart they go at once, the
/// other's stay scheduled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_restart_keeps_the_schedule() {
    let dir = temp_dir("gc-restart");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let work_dir = dir.join("agent");
    let flags = ["--gc_delay=1hrs", "--disk_watch_interval=1mins"];
    let mut agent_daemon: Daemon = spawn_agent(&master, port, &work_dir, &flags);
    let agent = format!("127.0.0.1:{port}");
    let mut fw = TestFramework::subscribe(&master, "gc-restart", true).await;
    let fid = fw.sub.framework_id.clone();
    assert_eq!(
        run_to_end(&mut fw, "old", "true").await,
        TaskState::TaskFinished
    );
    assert_eq!(
        run_to_end(&mut fw, "new", "true").await,
        TaskState::TaskFinished
    );
    // Each executor's run (work and meta/) and executor directories, and the framework's.
    metrics_until(&agent, "10 paths pending", |m| {
        m["gc/path_removals_pending"].as_f64() == Some(10.0)
    })
    .await;
    let state = support::registered_agent_state(&agent).await;
    let aid = v1::AgentId {
        value: state["id"].as_str().unwrap().to_string(),
    };
    assert!(agent_daemon.terminate().is_some(), "the agent did not stop");

    let old = executor_dir(&work_dir, &aid, &fid, "old");
    let meta_old = meta_executor_dir(&work_dir, &aid, &fid, "old");
    let two_hours = Duration::from_secs(7200);
    for base in [&old, &meta_old] {
        backdate(base, two_hours);
        for run in std::fs::read_dir(base.join("runs")).unwrap().flatten() {
            if !run.file_type().unwrap().is_symlink() {
                backdate(&run.path(), two_hours);
            }
        }
    }

    let _agent_daemon = spawn_agent(&master, port, &work_dir, &flags);
    // Pending: 10 before the restart, 6 once the old executor's 4 paths are gone. (Whether
    // its run directories count as removed or as already gone with their executor's
    // directory depends on which of them is older, as in Mesos.)
    let m = metrics_until(&agent, "the old executor's 4 paths collected", |m| {
        m["gc/path_removals_pending"].as_f64() == Some(6.0)
            && m["gc/path_removals_succeeded"].as_f64() >= Some(2.0)
    })
    .await;
    assert_eq!(m["gc/path_removals_failed"].as_f64(), Some(0.0));
    assert!(!old.exists() && !meta_old.exists());
    let new = executor_dir(&work_dir, &aid, &fid, "new");
    assert!(
        new.join("runs/latest/stdout").exists(),
        "the newer sandbox stays, latest intact"
    );
    assert!(
        meta_executor_dir(&work_dir, &aid, &fid, "new")
            .join("runs/latest")
            .exists()
    );
}
