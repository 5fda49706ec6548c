//! High availability with real processes and a real ZooKeeper (issue 7, DESIGN.md §4):
//! leader election and detection, master failover under load, an agent partitioned from
//! the master, a ZooKeeper restart under load, and the registry surviving a restart.
//! Every workload counts the tasks it launched against the terminal states it received:
//! none may be missing, none may end twice.
//!
//! Timeouts are far below Mesos's defaults (session 2s, ping 300ms, reregistration 30s) so
//! that the suite stays short; the flags that set them are the ones operators use.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
use support::pymesos_python;
#[path = "support/volumes.rs"]
mod volumes;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use remesos::client::scheduler::Subscription;
use remesos::client::{Format, HttpClient};
use remesos::zk::MasterDetector;
use remesos_proto::v1;
use support::zookeeper::ZooKeeper;
use support::{free_port, post_json};
use v1::scheduler as sched;

/// A `remesos` process; killed (agents: terminated, so they stop their executors) on drop.
struct Proc {
    child: Option<Child>,
    log: PathBuf,
    graceful: bool,
}

impl Proc {
    fn spawn(args: &[String], log: PathBuf, graceful: bool) -> Proc {
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start remesos");
        Proc {
            child: Some(child),
            log,
            graceful,
        }
    }

    /// kill -9
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (SIGSTOP/SIGCONT: a process that stalls, as in a long GC pause).
    fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(child.id() as i32, signal);
            }
        }
    }

    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
            None => true,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if self.graceful {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "remesos-ha-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start_master(dir: &std::path::Path, port: u16, extra: &[String]) -> Proc {
    let work_dir = dir.join(format!("master-{port}"));
    let mut args: Vec<String> = vec![
        "master".into(),
        "--ip=127.0.0.1".into(),
        "--hostname=127.0.0.1".into(),
        format!("--port={port}"),
        format!("--work_dir={}", work_dir.display()),
        "--allocation_interval=100ms".into(),
    ];
    if !extra
        .iter()
        .any(|f| f.starts_with("--agent_reregister_timeout"))
    {
        args.push("--agent_reregister_timeout=30secs".into());
    }
    args.extend(extra.iter().cloned());
    Proc::spawn(&args, dir.join(format!("master-{port}.log")), false)
}

fn start_agent(dir: &std::path::Path, port: u16, master: &str, extra: &[String]) -> Proc {
    let work_dir = dir.join(format!("agent-{port}"));
    let mut args: Vec<String> = vec![
        "agent".into(),
        "--ip=127.0.0.1".into(),
        "--hostname=127.0.0.1".into(),
        format!("--port={port}"),
        format!("--master={master}"),
        format!("--work_dir={}", work_dir.display()),
        "--resources=cpus:2;mem:2048;disk:1024;ports:[31000-31100]".into(),
        "--registration_backoff_factor=100ms".into(),
        "--switch_user=false".into(),
    ];
    args.extend(extra.iter().cloned());
    Proc::spawn(&args, dir.join(format!("agent-{port}.log")), true)
}

async fn metrics(master: &str) -> Option<Value> {
    match HttpClient::default()
        .get(&format!("http://{master}/metrics/snapshot"))
        .await
    {
        Ok((200, body)) => serde_json::from_slice(&body).ok(),
        _ => None,
    }
}

/// Polls `master`'s metrics until `ok` holds.
async fn wait_metrics(master: &str, what: &str, timeout: Duration, ok: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(m) = metrics(master).await
            && ok(&m)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} on {master}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_health(master: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(
        HttpClient::default()
            .get(&format!("http://{master}/health"))
            .await,
        Ok((200, _))
    ) {
        assert!(Instant::now() < deadline, "{master} did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a workload saw: tasks launched, and every terminal state each task reported.
#[derive(Default, Debug)]
struct Tally {
    launched: BTreeSet<String>,
    running: BTreeSet<String>,
    terminal: BTreeMap<String, BTreeSet<i32>>,
    /// Non-terminal states other than STAGING/STARTING/RUNNING (UNREACHABLE, ...).
    other: BTreeMap<String, Vec<i32>>,
    subscriptions: u32,
    framework_id: Option<String>,
}

impl Tally {
    /// Every launched task ended exactly once, in a state `allowed` accepts.
    fn assert_complete(&self, allowed: &[v1::TaskState]) {
        let ended: BTreeSet<&String> = self.terminal.keys().collect();
        let launched: BTreeSet<&String> = self.launched.iter().collect();
        assert_eq!(
            ended, launched,
            "missing or unexpected terminal states: {self:#?}"
        );
        for (task, states) in &self.terminal {
            assert_eq!(states.len(), 1, "task {task} ended twice: {states:?}");
            let state = v1::TaskState::try_from(*states.iter().next().unwrap()).unwrap();
            assert!(
                allowed.contains(&state),
                "task {task} ended {state:?}: {self:#?}"
            );
        }
    }
}

#[derive(Clone)]
struct Workload {
    name: String,
    total: usize,
    command: String,
    partition_aware: bool,
}

/// Runs a framework that launches `total` tasks across master failovers: on any break of
/// its stream it re-detects the leader, resubscribes with its id and reconciles the tasks
/// it has not seen end. Returns when every launched task has ended.
async fn run_workload(master: MasterDetector, w: Workload, tally: Arc<Mutex<Tally>>) {
    use v1::framework_info::capability::Type as Cap;
    let mut capabilities = vec![];
    if w.partition_aware {
        capabilities.push(v1::framework_info::Capability {
            r#type: Some(Cap::PartitionAware as i32),
        });
    }
    let mut info = v1::FrameworkInfo {
        user: String::new(),
        name: w.name.clone(),
        checkpoint: Some(true),
        failover_timeout: Some(3600.0),
        capabilities,
        ..Default::default()
    };
    let mut next = 0usize;
    loop {
        let subscribe = sched::call::Subscribe {
            framework_info: info.clone(),
            ..Default::default()
        };
        let mut sub =
            match Subscription::subscribe_detected(&master, subscribe, Format::Protobuf).await {
                Ok(s) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
        info.id = Some(sub.framework_id.clone());
        let pending: Vec<sched::call::reconcile::Task> = {
            let mut t = tally.lock().unwrap();
            t.subscriptions += 1;
            t.framework_id = Some(sub.framework_id.value.clone());
            t.launched
                .iter()
                .filter(|id| !t.terminal.contains_key(*id))
                .map(|id| sched::call::reconcile::Task {
                    task_id: v1::TaskId { value: id.clone() },
                    agent_id: None,
                })
                .collect()
        };
        if !pending.is_empty() {
            let reconcile = sched::Call {
                r#type: Some(sched::call::Type::Reconcile as i32),
                reconcile: Some(sched::call::Reconcile { tasks: pending }),
                ..Default::default()
            };
            if sub.call(reconcile).await.is_err() {
                continue;
            }
        }
        loop {
            {
                let t = tally.lock().unwrap();
                if t.launched.len() == w.total
                    && t.launched.iter().all(|id| t.terminal.contains_key(id))
                {
                    return;
                }
            }
            let event = match tokio::time::timeout(Duration::from_secs(5), sub.next_event()).await {
                Ok(Ok(e)) => e,
                Ok(Err(_)) => break, // the stream ended: resubscribe
                Err(_) => {
                    // Quiet for a while: ask for the true state of what has not ended
                    // (reference §8.3), as a framework does after a failover.
                    let tasks: Vec<sched::call::reconcile::Task> = {
                        let t = tally.lock().unwrap();
                        t.launched
                            .iter()
                            .filter(|id| !t.terminal.contains_key(*id))
                            .map(|id| sched::call::reconcile::Task {
                                task_id: v1::TaskId { value: id.clone() },
                                agent_id: None,
                            })
                            .collect()
                    };
                    let reconcile = sched::Call {
                        r#type: Some(sched::call::Type::Reconcile as i32),
                        reconcile: Some(sched::call::Reconcile { tasks }),
                        ..Default::default()
                    };
                    if sub.call(reconcile).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            if let Some(offers) = event.offers {
                let mut broke = false;
                for offer in offers.offers {
                    let mut tasks = Vec::new();
                    while next < w.total && tasks.len() < 4 {
                        tasks.push(support::command_task(
                            &format!("{}-{next}", w.name),
                            &offer,
                            "cpus:0.1;mem:32",
                            &w.command,
                        ));
                        next += 1;
                    }
                    let ids: Vec<String> = tasks.iter().map(|t| t.task_id.value.clone()).collect();
                    let call = if tasks.is_empty() {
                        sched::Call {
                            r#type: Some(sched::call::Type::Decline as i32),
                            decline: Some(sched::call::Decline {
                                offer_ids: vec![offer.id.clone()],
                                filters: Some(v1::Filters {
                                    refuse_seconds: Some(1.0),
                                }),
                            }),
                            ..Default::default()
                        }
                    } else {
                        remesos::common::protocol::launch_call(&offer, tasks, None)
                    };
                    match sub.call(call).await {
                        Ok(_) => {
                            tally.lock().unwrap().launched.extend(ids);
                        }
                        Err(_) => {
                            // Not launched (the master is gone): launch them again later.
                            next -= ids.len();
                            broke = true;
                            break;
                        }
                    }
                }
                if broke {
                    break;
                }
            }
            if let Some(update) = event.update {
                let status = update.status;
                let id = status.task_id.value.clone();
                let state =
                    v1::TaskState::try_from(status.state).unwrap_or(v1::TaskState::TaskStaging);
                {
                    let mut t = tally.lock().unwrap();
                    if remesos::common::protocol::is_terminal(state) {
                        t.terminal
                            .entry(id.clone())
                            .or_default()
                            .insert(status.state);
                        t.running.remove(&id);
                    } else if state == v1::TaskState::TaskRunning {
                        t.running.insert(id.clone());
                    } else if !matches!(
                        state,
                        v1::TaskState::TaskStaging | v1::TaskState::TaskStarting
                    ) {
                        t.other.entry(id.clone()).or_default().push(status.state);
                        t.running.remove(&id);
                    }
                }
                if let Some(ack) = remesos::client::scheduler::acknowledge_call(&status)
                    && sub.call(ack).await.is_err()
                {
                    break;
                }
            }
        }
    }
}

async fn leader_of(zk_url: &str) -> String {
    let detector = MasterDetector::parse_with_timeout(zk_url, Duration::from_secs(2)).unwrap();
    detector
        .leader_within(Duration::from_secs(30))
        .await
        .expect("a leader is elected")
}

/// Reference §3.1: a non-leading master redirects the scheduler API to the leader with a
/// protocol-relative Location, and serves /master/redirect; pymesos finds the leader
/// through the znodes (reference §5).
async fn assert_standby_redirects(standby: &str, leader: &str) {
    let http = HttpClient::default();
    // The standby may learn of the leader a moment after the test's own detector does.
    let deadline = Instant::now() + Duration::from_secs(10);
    let response = loop {
        let response = http
            .post(
                &format!("http://{standby}/api/v1/scheduler"),
                "application/json",
                "application/json",
                &[],
                br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"","name":"x"}}}"#
                    .to_vec(),
            )
            .await
            .unwrap();
        if response.status().as_u16() != 503 || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(response.status().as_u16(), 307);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        format!("//{leader}/api/v1/scheduler")
    );
    let (status, _) = http
        .get(&format!("http://{standby}/master/redirect"))
        .await
        .unwrap();
    assert_eq!(status, 307);
    let (status, _) = http.get(&format!("http://{standby}/health")).await.unwrap();
    assert_eq!(status, 200);
}

/// Issue 12 item 1: with three masters under ZooKeeper, each answers `/metrics/snapshot`
/// itself and exactly one says `master/elected: 1`; the standbys serve their own
/// `/version`, `/health`, `/master/health`, `/master/flags`, `/files/*` and
/// `/logging/toggle`, and redirect
/// the operator API (GET_HEALTH included), the scheduler API and the master's other
/// endpoints to the leader (src/master/http.cpp: the `elected()` check of each handler,
/// `Master::Http::redirect`; the table in core/src/master/http/routing.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_masters_serve_their_own_metrics_and_redirect_the_masters_endpoints() {
    use support::raw_request;
    let zk = ZooKeeper::start();
    let dir = scratch("standby-endpoints");
    let url = zk.url("/mesos");
    let flags = vec![
        format!("--zk={url}"),
        "--zk_session_timeout=2secs".to_string(),
    ];
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let _masters: Vec<Proc> = ports
        .iter()
        .map(|p| start_master(&dir, *p, &flags))
        .collect();
    let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let leader = leader_of(&url).await;
    for m in &addresses {
        wait_health(m).await;
    }
    let standbys: Vec<&String> = addresses.iter().filter(|m| **m != leader).collect();
    assert_eq!(standbys.len(), 2);
    // Each standby learns of the leader a moment after the test's own detector does: until
    // then it answers 503 where it will redirect.
    for standby in &standbys {
        let deadline = Instant::now() + Duration::from_secs(10);
        while raw_request(
            "GET",
            &format!("http://{standby}/master/state"),
            &[],
            Vec::new(),
        )
        .await
        .0 != 307
        {
            assert!(
                Instant::now() < deadline,
                "{standby} did not learn the leader"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // The leader may take a moment to recover its registry and serve its metrics.
    wait_metrics(&leader, "the leader", Duration::from_secs(20), |m| {
        m["master/elected"] == 1.0
    })
    .await;

    // "Are you elected?", asked of each master: one yes.
    let mut elected = Vec::new();
    for m in &addresses {
        let snapshot = metrics(m)
            .await
            .unwrap_or_else(|| panic!("{m} has no metrics"));
        assert!(
            snapshot["master/uptime_secs"].is_number(),
            "{m}: {snapshot}"
        );
        assert_eq!(snapshot["master/slaves_active"], 0.0, "{m}");
        if snapshot["master/elected"] == 1.0 {
            elected.push(m.clone());
        } else {
            assert_eq!(snapshot["master/elected"], 0.0, "{m}: {snapshot}");
        }
    }
    assert_eq!(elected, vec![leader.clone()]);

    let leader_port = leader.rsplit(':').next().unwrap().to_string();
    for standby in standbys {
        let get = |path: &str| {
            let url = format!("http://{standby}{path}");
            async move { raw_request("GET", &url, &[], Vec::new()).await }
        };
        let standby_port = standby.rsplit(':').next().unwrap();
        // Served by the standby itself.
        let (s, _, body) = get("/version").await;
        assert_eq!(s, 200);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["version"],
            "1.11.0"
        );
        for path in ["/health", "/master/health"] {
            assert_eq!(get(path).await.0, 200, "{standby}{path}");
        }
        let (s, _, body) = get("/master/flags").await;
        assert_eq!(s, 200);
        let own: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(own["flags"]["port"], standby_port, "{body}");
        let (s, _, body) = get("/files/browse").await;
        assert_eq!(
            (s, body.as_str()),
            (400, "Expecting 'path=value' in query.\n")
        );
        let (s, _, _) = get("/files/browse?path=/master/log").await;
        assert_eq!(s, 404);
        let (s, _, body) = get("/logging/toggle").await;
        assert_eq!((s, body.as_str()), (200, "0\n"));
        let (s, _, body) = get("/logging/toggle?level=1").await;
        assert_eq!(
            (s, body.as_str()),
            (400, "Expecting 'duration=value' in query.\n")
        );
        // Redirected, the query kept, Location protocol-relative.
        let (s, h, _) = raw_request(
            "POST",
            &format!("http://{standby}/api/v1"),
            &[("Content-Type", "application/json")],
            br#"{"type":"GET_HEALTH"}"#.to_vec(),
        )
        .await;
        assert_eq!(s, 307, "GET_HEALTH on {standby}");
        assert_eq!(h["location"], format!("//{leader}/api/v1"));
        for (path, location) in [
            ("/master/state", format!("//{leader}/master/state")),
            (
                "/master/state?jsonp=cb",
                format!("//{leader}/master/state?jsonp=cb"),
            ),
            ("/state/", format!("//{leader}/state/")),
            ("/master/tasks", format!("//{leader}/master/tasks")),
            ("/redirect", format!("//127.0.0.1:{leader_port}")),
        ] {
            let (s, h, _) = get(path).await;
            assert_eq!(s, 307, "{standby}{path}");
            assert_eq!(h["location"], location, "{standby}{path}");
        }
        // Nothing matches: 404 on a standby too.
        assert_eq!(get("/no/such/path").await.0, 404);
        assert_eq!(get("/master/redirect/x").await.0, 404);
    }
}

/// Issue 7 §5(a): kill -9 the leading master of 3 under a steady workload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leading_master_loses_no_task() {
    let zk = ZooKeeper::start();
    let dir = scratch("failover");
    let url = zk.url("/mesos");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let flags = vec![
        format!("--zk={url}"),
        "--quorum=2".to_string(),
        "--zk_session_timeout=2secs".to_string(),
    ];
    let mut masters: BTreeMap<String, Proc> = ports
        .iter()
        .map(|p| (format!("127.0.0.1:{p}"), start_master(&dir, *p, &flags)))
        .collect();
    let leader = leader_of(&url).await;
    let standby = masters.keys().find(|m| **m != leader).unwrap().clone();
    wait_health(&standby).await;
    assert_standby_redirects(&standby, &leader).await;

    let agent_flags = vec!["--zk_session_timeout=2secs".to_string()];
    let _agents: Vec<Proc> = (0..3)
        .map(|_| start_agent(&dir, free_port(), &url, &agent_flags))
        .collect();
    wait_metrics(&leader, "3 agents", Duration::from_secs(30), |m| {
        m["master/slaves_active"] == 3.0
    })
    .await;

    let detector = MasterDetector::parse_with_timeout(&url, Duration::from_secs(2)).unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workload = Workload {
        name: "steady".into(),
        total: 60,
        command: "sleep 1".into(),
        partition_aware: false,
    };
    let run = tokio::spawn(run_workload(detector.clone(), workload, tally.clone()));
    // Kill the leader once a third of the tasks are launched and some run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while {
        let t = tally.lock().unwrap();
        t.launched.len() < 20 || t.running.is_empty()
    } {
        assert!(
            Instant::now() < deadline,
            "the workload did not start: {:?}",
            tally.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed_at = Instant::now();
    masters.get_mut(&leader).unwrap().kill9();

    // A new leader within seconds (bounded by the 2s session timeout).
    let new_leader = loop {
        if let Some(l) = detector.current().filter(|l| *l != leader) {
            break l;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(15),
            "no new leader was elected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elected_after = killed_at.elapsed();
    assert_ne!(new_leader, leader);
    // Every agent reregisters; the framework resubscribes.
    wait_metrics(
        &new_leader,
        "3 agents reregistered and the framework back",
        Duration::from_secs(30),
        |m| m["master/slaves_active"] == 3.0 && m["master/frameworks_active"] == 1.0,
    )
    .await;
    let recovered_after = killed_at.elapsed();
    eprintln!(
        "new leader after {elected_after:?}; agents and framework back after {recovered_after:?}"
    );

    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("the workload did not finish: {:#?}", tally.lock().unwrap()))
        .unwrap();
    {
        let t = tally.lock().unwrap();
        assert!(t.subscriptions >= 2, "the framework resubscribed: {t:#?}");
        t.assert_complete(&[v1::TaskState::TaskFinished]);
    }
    // The remaining standby still redirects, now to the new leader.
    let other = masters
        .keys()
        .find(|m| **m != leader && **m != new_leader)
        .unwrap()
        .clone();
    assert_standby_redirects(&other, &new_leader).await;
    drop(masters);
}

/// Issue 7 §5(d): restart ZooKeeper under load; the leader keeps its session (restored by
/// the restarted server within the 10s session timeout) and no task is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_zookeeper_under_load_loses_no_task() {
    let mut zk = ZooKeeper::start();
    let dir = scratch("zk-restart");
    let url = zk.url("/mesos");
    let flags = vec![
        format!("--zk={url}"),
        "--zk_session_timeout=10secs".to_string(),
    ];
    let ports: Vec<u16> = (0..2).map(|_| free_port()).collect();
    let mut masters: Vec<Proc> = ports
        .iter()
        .map(|p| start_master(&dir, *p, &flags))
        .collect();
    let leader = leader_of(&url).await;
    let _agents: Vec<Proc> = (0..2)
        .map(|_| {
            start_agent(
                &dir,
                free_port(),
                &url,
                &["--zk_session_timeout=10secs".to_string()],
            )
        })
        .collect();
    wait_metrics(&leader, "2 agents", Duration::from_secs(30), |m| {
        m["master/slaves_active"] == 2.0
    })
    .await;

    let detector = MasterDetector::parse_with_timeout(&url, Duration::from_secs(10)).unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workload = Workload {
        name: "zkrestart".into(),
        total: 40,
        command: "sleep 1".into(),
        partition_aware: true,
    };
    let run = tokio::spawn(run_workload(detector.clone(), workload, tally.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while tally.lock().unwrap().launched.len() < 12 {
        assert!(Instant::now() < deadline, "the workload did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    zk.kill();
    // The fault itself, not a wait: ZooKeeper stays down for 1.5 s.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    zk.restart();

    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("the workload did not finish: {:#?}", tally.lock().unwrap()))
        .unwrap();
    tally
        .lock()
        .unwrap()
        .assert_complete(&[v1::TaskState::TaskFinished]);
    // Sessions survive a restart within their timeout, so normally no master exits; one
    // whose session did expire exits by design (and the other takes over), which the
    // workload above tolerates.
    for m in masters.iter_mut() {
        if m.exited() {
            eprintln!("a master exited during the ZooKeeper restart:\n{}", m.log());
        }
    }
    // Still one leader, and the agents are all there.
    let now = leader_of(&url).await;
    wait_metrics(&now, "2 agents", Duration::from_secs(30), |m| {
        m["master/slaves_active"] == 2.0
    })
    .await;
}

/// A TCP proxy with a switch: while `cut`, bytes are held back in both directions (a
/// network partition: nothing arrives, nothing fails); `heal` drops every connection it
/// held so that both ends notice, then forwards again.
struct Partition {
    port: u16,
    cut: tokio::sync::watch::Sender<bool>,
    generation: tokio::sync::watch::Sender<u64>,
}

impl Partition {
    async fn start(target: String) -> Partition {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        let (generation, gen_rx) = tokio::sync::watch::channel(0u64);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if *cut_rx.borrow() {
                    drop(inbound); // refuse while cut
                    continue;
                }
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let mut gen_rx = gen_rx.clone();
                let started = *gen_rx.borrow_and_update();
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                let a = pipe(ri, wo, cut_rx.clone());
                let b = pipe(ro, wi, cut_rx.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = a => {}
                        _ = b => {}
                        _ = async { while gen_rx.changed().await.is_ok() && *gen_rx.borrow() == started {} } => {}
                    }
                });
            }
        });
        Partition {
            port,
            cut,
            generation,
        }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn heal(&self) {
        self.generation.send_modify(|g| *g += 1);
        self.cut.send_replace(false);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut cut: tokio::sync::watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while *cut.borrow_and_update() {
            if cut.changed().await.is_err() {
                return;
            }
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = cut.changed() => continue,
        };
        // Bytes read just before a cut are held until the heal (which drops them).
        while *cut.borrow_and_update() {
            if cut.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Issue 7 §5(c): an agent cut off from the master longer than the ping timeout: its tasks
/// go UNREACHABLE for a partition-aware framework and LOST for the other (reference §8.5);
/// when it returns, the partition-aware tasks are RUNNING again and reconcile so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_agent_is_unreachable_then_reconciles() {
    let dir = scratch("partition");
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let _master = start_master(
        &dir,
        port,
        &[
            "--agent_ping_timeout=300ms".to_string(),
            "--max_agent_ping_timeouts=3".to_string(),
        ],
    );
    wait_metrics(&master, "the master", Duration::from_secs(20), |_| true).await;
    let proxy = Partition::start(master.clone()).await;
    let _agent = start_agent(&dir, free_port(), &proxy.address(), &[]);
    wait_metrics(&master, "the agent", Duration::from_secs(30), |m| {
        m["master/slaves_active"] == 1.0
    })
    .await;

    let detector = MasterDetector::Fixed(master.clone());
    let mut runs = Vec::new();
    let mut tallies = Vec::new();
    for (name, aware) in [("aware", true), ("unaware", false)] {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let w = Workload {
            name: name.into(),
            total: 3,
            command: "sleep 600".into(),
            partition_aware: aware,
        };
        runs.push(tokio::spawn(run_workload(
            detector.clone(),
            w,
            tally.clone(),
        )));
        tallies.push(tally);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while tallies.iter().any(|t| t.lock().unwrap().running.len() < 3) {
        assert!(
            Instant::now() < deadline,
            "tasks did not start: {tallies:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    proxy.cut();
    wait_metrics(
        &master,
        "the agent unreachable",
        Duration::from_secs(20),
        |m| m["master/slaves_unreachable"] == 1.0,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = {
            let aware = tallies[0].lock().unwrap();
            let unaware = tallies[1].lock().unwrap();
            let unreachable = aware
                .other
                .values()
                .filter(|s| s.contains(&(v1::TaskState::TaskUnreachable as i32)))
                .count();
            assert!(aware.terminal.is_empty(), "{aware:#?}");
            assert!(Instant::now() < deadline, "{aware:#?} {unaware:#?}");
            unreachable == 3 && unaware.terminal.len() == 3
        };
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tallies[1]
        .lock()
        .unwrap()
        .assert_complete(&[v1::TaskState::TaskLost]);
    // The unaware framework is done: its workload returns.
    tokio::time::timeout(Duration::from_secs(10), runs.pop().unwrap())
        .await
        .unwrap()
        .unwrap();

    proxy.heal();
    wait_metrics(&master, "the agent back", Duration::from_secs(30), |m| {
        m["master/slaves_active"] == 1.0 && m["master/slaves_unreachable"] == 0.0
    })
    .await;
    // The partition-aware framework's tasks are known again and RUNNING.
    let aware_id = tallies[0].lock().unwrap().framework_id.clone().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = HttpClient::default()
            .get(&format!("http://{master}/master/tasks"))
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        let running = v["tasks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|t| {
                        t["framework_id"] == aware_id.as_str() && t["state"] == "TASK_RUNNING"
                    })
                    .count()
            })
            .unwrap_or(0);
        if running == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "aware tasks did not come back: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A late TASK_KILLED for the unaware framework's LOST tasks must not show up: an absence,
    // so a window of 2 s, not a condition to wait for.
    tokio::time::sleep(Duration::from_secs(2)).await;
    tallies[1]
        .lock()
        .unwrap()
        .assert_complete(&[v1::TaskState::TaskLost]);
    assert!(tallies[0].lock().unwrap().terminal.is_empty());
}

/// Issue 7 §2: weights, quota and admitted agents survive a master restart (the embedded
/// store under --work_dir); an agent that does not come back within
/// --agent_reregister_timeout is marked unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_survives_a_master_restart() {
    let dir = scratch("registry");
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let flags = vec!["--agent_reregister_timeout=2secs".to_string()];
    let mut m = start_master(&dir, port, &flags);
    wait_metrics(&master, "the master", Duration::from_secs(20), |_| true).await;
    let mut agent = start_agent(&dir, free_port(), &master, &[]);
    wait_metrics(&master, "the agent", Duration::from_secs(30), |m| {
        m["master/slaves_active"] == 1.0
    })
    .await;
    let http = HttpClient::default();
    for body in [
        r#"{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"analytics","weight":2.5}]}}"#,
        r#"{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"analytics","guarantees":{"cpus":{"value":1}}}]}}"#,
    ] {
        let r = http
            .post(
                &format!("http://{master}/api/v1"),
                "application/json",
                "application/json",
                &[],
                body.as_bytes().to_vec(),
            )
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{body}");
    }
    m.kill9();
    agent.kill9();
    let _m = start_master(&dir, port, &flags);
    wait_metrics(
        &master,
        "the restarted master",
        Duration::from_secs(20),
        |_| true,
    )
    .await;
    let (_, body) = http
        .get(&format!("http://{master}/master/weights"))
        .await
        .unwrap();
    let weights: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        weights,
        serde_json::json!([{"role": "analytics", "weight": 2.5}])
    );
    let r = http
        .post(
            &format!("http://{master}/api/v1"),
            "application/json",
            "application/json",
            &[],
            br#"{"type":"GET_QUOTA"}"#.to_vec(),
        )
        .await
        .unwrap();
    let quota: Value = serde_json::from_slice(&remesos::client::collect(r).await.unwrap()).unwrap();
    assert_eq!(
        quota["get_quota"]["status"]["configs"][0]["role"], "analytics",
        "{quota}"
    );
    // The agent (killed too) does not reregister: after 2s it is unreachable.
    wait_metrics(
        &master,
        "the absent agent unreachable",
        Duration::from_secs(20),
        |m| m["master/slaves_unreachable"] == 1.0,
    )
    .await;
}

/// Issue 7 §1: a leader that loses its ZooKeeper session steps down. The leader stalls
/// (SIGSTOP) past its 2 s session; the standby is elected and recovers from the registry it
/// read while standing by; when the old leader wakes up it finds its session expired and
/// exits with an error instead of leading beside the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_session_expires_exits_and_the_warm_standby_takes_over() {
    let zk = ZooKeeper::start();
    let dir = scratch("expiry");
    let url = zk.url("/mesos");
    let flags = vec![
        format!("--zk={url}"),
        "--zk_session_timeout=2secs".to_string(),
    ];
    let first_port = free_port();
    let mut first = start_master(&dir, first_port, &flags);
    let first_address = format!("127.0.0.1:{first_port}");
    assert_eq!(leader_of(&url).await, first_address);
    let second_port = free_port();
    let second = start_master(&dir, second_port, &flags);
    let second_address = format!("127.0.0.1:{second_port}");
    wait_health(&second_address).await;
    let agent_flags = vec!["--zk_session_timeout=2secs".to_string()];
    let _agent = start_agent(&dir, free_port(), &url, &agent_flags);
    // Registered = its admission is durable in the ZooKeeper registry.
    wait_metrics(&first_address, "the agent", Duration::from_secs(30), |m| {
        m["master/slaves_active"] == 1.0
    })
    .await;

    first.signal(libc::SIGSTOP);
    let deadline = Instant::now() + Duration::from_secs(30);
    while leader_of(&url).await != second_address {
        assert!(Instant::now() < deadline, "the standby was not elected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_metrics(
        &second_address,
        "the agent reregistered with the new leader",
        Duration::from_secs(30),
        |m| m["master/slaves_active"] == 1.0 && m["master/elected"] == 1.0,
    )
    .await;
    assert!(
        second
            .log()
            .contains("the registry read while standing by is current"),
        "the new leader did not use its warm copy of the registry:\n{}",
        second.log()
    );

    first.signal(libc::SIGCONT);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = first.exit_status() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the old leader kept running after its session expired:\n{}",
            first.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "{status:?}");
    assert!(first.log().contains("lost leadership"), "{}", first.log());
    assert_eq!(leader_of(&url).await, second_address);
}

/// Issue 7 §2 with ZooKeeper: a gone agent and a DOWN machine stay so under a new leader
/// (the registry's agent and maintenance znodes); the machine comes back UP there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_agents_and_maintenance_survive_a_leader_change() {
    let zk = ZooKeeper::start();
    let dir = scratch("maintenance");
    let url = zk.url("/mesos");
    let (ports, mut masters) = start_masters(&dir, &url, 2);
    let leader = leader_of(&url).await;
    let old_port = free_port();
    let mut old_agent = start_agent(&dir, old_port, &url, &[]);
    let old_id = the_agent_id(&leader).await;
    let gone = format!(
        r#"{{"type":"MARK_AGENT_GONE","mark_agent_gone":{{"agent_id":{{"value":"{old_id}"}}}}}}"#
    );
    assert_eq!(post_json(&leader, "/api/v1", &gone).await.0, 200);
    // Shut down by the master, the agent exits as Mesos's does, forgetting its id.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = old_agent.exit_status() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the gone agent did not exit:\n{}",
            old_agent.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}\n{}", old_agent.log());
    let latest = dir.join(format!("agent-{old_port}/meta/slaves/latest"));
    assert!(
        std::fs::symlink_metadata(&latest).is_err(),
        "{latest:?} remains"
    );
    // Agents here announce hostname 127.0.0.1 and IP 127.0.0.1.
    let machine = r#"{"hostname":"127.0.0.1","ip":"127.0.0.1"}"#;
    let schedule = format!(
        r#"{{"windows":[{{"machine_ids":[{machine}],"unavailability":{{"start":{{"nanoseconds":1}}}}}}]}}"#
    );
    let (s, body) = post_json(&leader, "/master/maintenance/schedule", &schedule).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = post_json(&leader, "/master/machine/down", &format!("[{machine}]")).await;
    assert_eq!(s, 200, "{body}");

    let next = kill_the_leader(&url, &leader, &ports, &mut masters).await;
    // Known as gone (an unknown agent would be a 404), and the machine is still DOWN.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, body) = post_json(&next, "/api/v1", &gone).await;
        if s == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "MARK_AGENT_GONE on the new leader: {s} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, body) = HttpClient::default()
        .get(&format!("http://{next}/master/maintenance/status"))
        .await
        .unwrap();
    let status: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        status,
        serde_json::json!({"down_machines": [{"hostname": "127.0.0.1", "ip": "127.0.0.1"}]})
    );
    // A new agent on the DOWN machine is refused (the leader logs each refusal), and so is
    // the gone one.
    let _new_agent = start_agent(&dir, free_port(), &url, &[]);
    let next_index = ports
        .iter()
        .position(|p| next.ends_with(&format!(":{p}")))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !masters[next_index]
        .log()
        .contains("refusing an agent on a DOWN machine")
    {
        assert!(
            Instant::now() < deadline,
            "the new leader never refused the agent on the DOWN machine"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metrics(&next).await.unwrap()["master/slaves_active"], 0.0);
    let (s, body) = post_json(&next, "/master/machine/up", &format!("[{machine}]")).await;
    assert_eq!(s, 200, "{body}");
    wait_metrics(&next, "the new agent", Duration::from_secs(60), |m| {
        m["master/slaves_active"] == 1.0
    })
    .await;
    // The gone agent never comes back: an absence, so a window of 2 s.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, body) = HttpClient::default()
        .get(&format!("http://{next}/master/slaves"))
        .await
        .unwrap();
    let slaves: Value = serde_json::from_slice(&body).unwrap();
    let ids: Vec<&str> = slaves["slaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_ne!(ids[0], old_id, "the gone agent never comes back");
}

/// Reference §5: clients that know only the ZooKeeper URL find the leader — pymesos reads
/// the `json.info_` znodes with kazoo, and `remesos execute --master=zk://...` uses the
/// shared detector — while a standby master is also running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymesos_and_execute_find_the_leader_through_zookeeper() {
    let zk = ZooKeeper::start();
    let dir = scratch("detect");
    let url = zk.url("/mesos");
    let flags = vec![
        format!("--zk={url}"),
        "--zk_session_timeout=2secs".to_string(),
    ];
    let _masters: Vec<Proc> = (0..2)
        .map(|_| start_master(&dir, free_port(), &flags))
        .collect();
    let leader = leader_of(&url).await;
    let _agent = start_agent(&dir, free_port(), &url, &[]);
    wait_metrics(&leader, "the agent", Duration::from_secs(30), |m| {
        m["master/slaves_active"] == 1.0
    })
    .await;
    let stdout = support::run_python_framework(
        &pymesos_python(),
        "pymesos_scheduler.py",
        &url,
        &["--tasks", "2", "--timeout", "60"],
    )
    .await;
    assert_eq!(stdout.matches("TASK_FINISHED").count(), 2, "{stdout}");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args([
            "execute",
            &format!("--master={url}"),
            "--name=zk-execute",
            "--command=exit 3",
            "--resources=cpus:0.5;mem:64",
        ])
        .output()
        .await
        .expect("run remesos execute");
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Reference §5: `zk://user:pass@...` authenticates with the `digest` scheme and the
/// masters' znodes get EVERYONE_READ + CREATOR_ALL: anyone can detect the leader, only the
/// creator's credentials can remove its candidacy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_credentials_protect_the_candidacy_znodes() {
    let zk = ZooKeeper::start();
    let dir = scratch("digest");
    let with_auth = format!("zk://bob:secret@{}/mesos-auth", zk.servers());
    let _master = start_master(
        &dir,
        free_port(),
        &[
            format!("--zk={with_auth}"),
            "--zk_session_timeout=2secs".to_string(),
        ],
    );
    let leader = leader_of(&with_auth).await;
    assert_eq!(leader_of(&zk.url("/mesos-auth")).await, leader);

    let anonymous = zookeeper_client::Client::connect(&zk.servers())
        .await
        .unwrap();
    let children = anonymous.list_children("/mesos-auth").await.unwrap();
    let member = children
        .iter()
        .find(|c| c.starts_with("json.info_"))
        .expect("a candidacy znode");
    let path = format!("/mesos-auth/{member}");
    let (acls, _) = anonymous.get_acl(&path).await.unwrap();
    assert!(
        acls.iter()
            .any(|a| a.scheme() == "digest" && a.id().starts_with("bob:")),
        "{acls:?}"
    );
    assert!(matches!(
        anonymous.set_data(&path, b"hijack", None).await,
        Err(zookeeper_client::Error::NoAuth)
    ));
}

/// `n` masters on ZooKeeper at `url`: their ports and processes.
fn start_masters(dir: &std::path::Path, url: &str, n: usize) -> (Vec<u16>, Vec<Proc>) {
    let flags = vec![format!("--zk={url}")];
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let masters = ports
        .iter()
        .map(|p| start_master(dir, *p, &flags))
        .collect();
    (ports, masters)
}

/// Kills the leading master (`kill -9`, one of `masters` on `ports`) and returns the next
/// leader once it answers its health check.
async fn kill_the_leader(url: &str, leader: &str, ports: &[u16], masters: &mut [Proc]) -> String {
    let index = ports
        .iter()
        .position(|p| leader.ends_with(&format!(":{p}")))
        .unwrap();
    masters[index].kill9();
    let next = loop {
        let l = leader_of(url).await;
        if l != leader {
            break l;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    wait_health(&next).await;
    next
}

/// The id of the one agent `leader` has, once it is active there.
async fn the_agent_id(leader: &str) -> String {
    wait_metrics(leader, "the agent", Duration::from_secs(30), |m| {
        m["master/slaves_active"] == 1.0
    })
    .await;
    let (_, body) = HttpClient::default()
        .get(&format!("http://{leader}/master/slaves"))
        .await
        .unwrap();
    let slaves: Value = serde_json::from_slice(&body).unwrap();
    slaves["slaves"][0]["id"].as_str().unwrap().to_string()
}

/// Issue 17: a reservation and a persistent volume made through the leading master survive
/// its death. The next leader learns them from the agent's reregistration (Mesos's
/// `checkpointed_resources`), offers the reserved disk with the volume to the role, and a
/// task there reads what a task wrote before the failover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_volume_survives_a_leader_change() {
    let zk = ZooKeeper::start();
    let dir = scratch("volume-failover");
    let url = zk.url("/mesos");
    let (ports, mut masters) = start_masters(&dir, &url, 2);
    let leader = leader_of(&url).await;
    let agent_port = free_port();
    let _agent = start_agent(&dir, agent_port, &url, &[]);
    let agent_id = the_agent_id(&leader).await;
    let work = dir
        .join(format!("agent-{agent_port}"))
        .canonicalize()
        .unwrap();
    volumes::reserve_and_create(
        &leader,
        &agent_id,
        &work,
        64.0,
        &[volumes::volume(64.0, "vol-ha", "data", "RW")],
    )
    .await;
    let run = async |master: &str, id: &str, command: &str| {
        let mut framework = volumes::subscribe(master, id).await;
        let (offer, volume) = volumes::offer_with(&mut framework, "vol-ha").await;
        let mut task = support::command_task(id, &offer, "cpus:0.1;mem:32", command);
        task.resources.push(volume);
        framework.launch(&offer, vec![task]).await;
        loop {
            let status = framework.next_update(Duration::from_secs(60)).await;
            let state = v1::TaskState::try_from(status.state).unwrap();
            if remesos::common::protocol::is_terminal(state) {
                return status;
            }
        }
    };
    let writer = run(&leader, "writer", "echo before-failover > data/file").await;
    assert_eq!(
        writer.state,
        v1::TaskState::TaskFinished as i32,
        "{writer:?}"
    );

    let next = kill_the_leader(&url, &leader, &ports, &mut masters).await;
    wait_metrics(
        &next,
        "the agent reregistered",
        Duration::from_secs(60),
        |m| m["master/slaves_active"] == 1.0,
    )
    .await;
    let (_, body) = HttpClient::default()
        .get(&format!("http://{next}/master/slaves"))
        .await
        .unwrap();
    let slaves: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        slaves["slaves"][0]["reserved_resources_full"]["r"][0]["disk"]["persistence"]["id"],
        "vol-ha",
        "{slaves}"
    );
    let reader = run(&next, "reader", "cat data/file").await;
    assert_eq!(
        reader.state,
        v1::TaskState::TaskFinished as i32,
        "{reader:?}"
    );
    let frameworks = work.join("slaves").join(&agent_id).join("frameworks");
    let stdout: String = std::fs::read_dir(&frameworks)
        .unwrap()
        .flatten()
        .filter_map(|f| {
            std::fs::read_to_string(f.path().join("executors/reader/runs/latest/stdout")).ok()
        })
        .collect();
    assert!(stdout.contains("before-failover"), "{stdout}");
}
