//! Agent draining and deactivation against real daemons (issue 17 items 1 and 6): the v1
//! operator calls DRAIN_AGENT, DEACTIVATE_AGENT and REACTIVATE_AGENT with Mesos 1.11's
//! semantics (include/mesos/v1/master/master.proto, docs/maintenance.md "Draining",
//! src/master/http.cpp `_drainAgent`), their state in the registry surviving two master
//! failovers through a real ZooKeeper and an agent restart, and the refusals Mesos gives.
//!
//! Needs: the release `remesos` binary, and a JDK with Maven for ZooKeeper's jars
//! (`support::zookeeper`; tests/run.sh installs both). Run alone with
//! `cargo test --release -p remesos --test drain`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

mod support;
use support::pymesos_python;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use remesos::client::scheduler::Subscription;
use remesos::client::{Format, HttpClient};
use remesos::zk::MasterDetector;
use remesos_proto::v1;
use support::zookeeper::ZooKeeper;
use support::{Daemon, free_port, operator_call};
use v1::scheduler as sched;

const ZK_SESSION: &str = "--zk_session_timeout=2secs";

fn start_master(dir: &Path, port: u16, zk: &str) -> Daemon {
    let log = std::fs::File::create(dir.join(format!("master-{port}.log"))).unwrap();
    Daemon(
        Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", "--hostname=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!(
                "--work_dir={}",
                dir.join(format!("master-{port}")).display()
            ))
            .arg(format!("--zk={zk}"))
            .args([ZK_SESSION, "--allocation_interval=100ms"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start remesos master"),
    )
}

fn start_agent(dir: &Path, port: u16, zk: &str) -> Daemon {
    let log = dir.join(format!("agent-{port}.log"));
    support::spawn_agent_logged(
        zk,
        port,
        &dir.join("agent"),
        &[ZK_SESSION, "--switch_user=false"],
        Some(&log),
    )
}

async fn leader(zk: &str, not: Option<&str>) -> String {
    let detector = MasterDetector::parse_with_timeout(zk, Duration::from_secs(2)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(l) = detector.current().filter(|l| Some(l.as_str()) != not) {
            // The leader answers once it has recovered the registry.
            if let Ok((200, _)) = HttpClient::default()
                .get(&format!("http://{l}/health"))
                .await
            {
                return l;
            }
        }
        assert!(Instant::now() < deadline, "no new leader was elected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GET_AGENTS's only agent on `master`, once `ok` holds for it.
async fn agent_where(master: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = operator_call(master, r#"{"type":"GET_AGENTS"}"#).await;
        if status == 200
            && let Some(agent) = body["get_agents"]["agents"].get(0)
            && ok(agent)
        {
            return agent.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} on {master}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metric(master: &str, name: &str) -> f64 {
    let (_, body) = HttpClient::default()
        .get(&format!("http://{master}/metrics/snapshot"))
        .await
        .unwrap();
    let m: Value = serde_json::from_slice(&body).unwrap();
    m[name].as_f64().unwrap()
}

fn call(ty: &str, field: &str, body: Value) -> String {
    json!({"type": ty, field: body}).to_string()
}

async fn subscribe(zk: &str, id: Option<v1::FrameworkId>) -> Subscription {
    let info = v1::FrameworkInfo {
        user: String::new(),
        name: "drained".into(),
        id,
        checkpoint: Some(true),
        failover_timeout: Some(3600.0),
        ..Default::default()
    };
    let subscribe = sched::call::Subscribe {
        framework_info: info,
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Subscription::subscribe(zk, subscribe.clone(), Format::Protobuf).await {
            Ok(s) => return s,
            Err(e) => assert!(Instant::now() < deadline, "subscribe: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The next update of `task`, not acknowledged.
async fn next_update(sub: &mut Subscription, task: &str, timeout: Duration) -> v1::TaskStatus {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, sub.next_event())
            .await
            .unwrap_or_else(|_| panic!("no update of {task} within {timeout:?}"))
            .unwrap();
        if let Some(update) = event.update
            && update.status.task_id.value == task
        {
            return update.status;
        }
    }
}

async fn acknowledge(sub: &Subscription, status: &v1::TaskStatus) {
    if let Some(ack) = remesos::client::scheduler::acknowledge_call(status) {
        sub.call(ack).await.unwrap();
    }
}

fn scratch() -> PathBuf {
    support::temp_dir("drain")
}

/// docs/maintenance.md "Draining": a drained agent's tasks are killed with the kill policy
/// capped at `max_grace_period`, their updates say REASON_AGENT_DRAINING, the agent goes
/// DRAINING → DRAINED once the last terminal update is acknowledged and stays deactivated
/// (no offers) through an agent restart and two leader changes until REACTIVATE_AGENT.
///
/// How it can fail: the task ignores SIGTERM and has a 120 s kill policy, so without the
/// cap its kill takes 120 s and the 60 s wait for TASK_KILLED fails; without the registry
/// record the third leader shows the agent active; without the reapplication on
/// reregistration `master/slaves_active` returns to 1 before REACTIVATE_AGENT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_agent_stays_drained_through_failovers_and_an_agent_restart() {
    let zk = ZooKeeper::start();
    let url = zk.url("/mesos");
    let dir = scratch();
    let ports = [free_port(), free_port()];
    let mut masters: Vec<Option<Daemon>> = ports
        .iter()
        .map(|p| Some(start_master(&dir, *p, &url)))
        .collect();
    let first = leader(&url, None).await;
    let agent_port = free_port();
    let mut agent = start_agent(&dir, agent_port, &url);
    let registered = agent_where(&first, "the agent", |a| a["active"] == true).await;
    let agent_id = registered["agent_info"]["id"]["value"]
        .as_str()
        .unwrap()
        .to_string();

    // Bad input on a real daemon: Mesos's answers, nothing changed.
    let drain = |id: &str, grace: Value| {
        call(
            "DRAIN_AGENT",
            "drain_agent",
            json!({"agent_id": {"value": id}, "max_grace_period": grace}),
        )
    };
    let (s, body) = support::post_json(
        &first,
        "/api/v1",
        &drain("unknown-S9", json!({"seconds": 1})),
    )
    .await;
    assert_eq!((s, body.as_str()), (400, "Unknown agent"));
    let (s, body) =
        support::post_json(&first, "/api/v1", &drain(&agent_id, json!({"seconds": -1}))).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = support::post_json(&first, "/api/v1", r#"{"type":"DRAIN_AGENT"}"#).await;
    assert_eq!(
        (s, body.as_str()),
        (400, "Expecting 'drain_agent' to be present")
    );
    let reactivate = call(
        "REACTIVATE_AGENT",
        "reactivate_agent",
        json!({"agent_id": {"value": agent_id}}),
    );
    let (s, body) = support::post_json(&first, "/api/v1", &reactivate).await;
    assert_eq!((s, body.as_str()), (400, "Agent is not deactivated"));
    assert_eq!(metric(&first, "master/slaves_active").await, 1.0);

    // A task that ignores SIGTERM, with a long kill policy.
    let mut sub = subscribe(&url, None).await;
    let framework_id = sub.framework_id.clone();
    let offer = loop {
        let event = tokio::time::timeout(Duration::from_secs(30), sub.next_event())
            .await
            .expect("an offer")
            .unwrap();
        if let Some(offers) = event.offers {
            break offers.offers[0].clone();
        }
    };
    let mut task = support::command_task(
        "stubborn",
        &offer,
        "cpus:0.1;mem:32",
        "trap '' TERM; sleep 600",
    );
    task.kill_policy = Some(v1::KillPolicy {
        grace_period: Some(v1::DurationInfo {
            nanoseconds: 120_000_000_000,
        }),
    });
    sub.call(remesos::common::protocol::launch_call(
        &offer,
        vec![task],
        None,
    ))
    .await
    .unwrap();
    loop {
        let status = next_update(&mut sub, "stubborn", Duration::from_secs(30)).await;
        acknowledge(&sub, &status).await;
        if status.state == v1::TaskState::TaskRunning as i32 {
            break;
        }
        assert!(
            status.state == v1::TaskState::TaskStarting as i32
                || status.state == v1::TaskState::TaskStaging as i32,
            "{status:?}"
        );
    }

    // DEACTIVATE_AGENT: no offers from the agent, and a new leader knows it.
    let deactivate = call(
        "DEACTIVATE_AGENT",
        "deactivate_agent",
        json!({"agent_id": {"value": agent_id}}),
    );
    let (s, body) = support::post_json(&first, "/api/v1", &deactivate).await;
    assert_eq!(s, 200, "{body}");
    let agent_json = agent_where(&first, "deactivation", |a| a["deactivated"] == true).await;
    assert_eq!(agent_json["active"], false);
    assert_eq!(metric(&first, "master/slaves_active").await, 0.0);

    let index = ports
        .iter()
        .position(|p| first.ends_with(&format!(":{p}")))
        .unwrap();
    masters[index].take();
    let second = leader(&url, Some(&first)).await;
    // The agent reregisters with its task: still deactivated.
    let agent_json = agent_where(&second, "the reregistered agent", |a| a["pid"].is_string()).await;
    assert_eq!(agent_json["deactivated"], true, "{agent_json}");
    assert_eq!(agent_json["active"], false, "{agent_json}");
    drop(sub);
    let mut sub = subscribe(&url, Some(framework_id.clone())).await;

    // DRAIN_AGENT with a 1 s cap: the task is killed within it, the update says why.
    let (s, body) =
        support::post_json(&second, "/api/v1", &drain(&agent_id, json!({"seconds": 1}))).await;
    assert_eq!(s, 200, "{body}");
    let killed = loop {
        let status = next_update(&mut sub, "stubborn", Duration::from_secs(60)).await;
        if status.state == v1::TaskState::TaskKilled as i32 {
            break status;
        }
        acknowledge(&sub, &status).await;
    };
    assert_eq!(
        killed.reason,
        Some(v1::task_status::Reason::AgentDraining as i32),
        "{killed:?}"
    );
    // Unacknowledged, the agent is still DRAINING, and REACTIVATE_AGENT is refused.
    let agent_json = agent_where(&second, "DRAINING", |a| {
        a["drain_info"]["state"].is_string()
    })
    .await;
    assert_eq!(
        agent_json["drain_info"]["state"], "DRAINING",
        "{agent_json}"
    );
    assert_eq!(
        agent_json["drain_info"]["config"]["max_grace_period"]["nanoseconds"],
        1_000_000_000i64
    );
    let (s, body) = support::post_json(&second, "/api/v1", &reactivate).await;
    assert_eq!(
        (s, body.as_str()),
        (400, "Agent is still in the DRAINING state")
    );
    acknowledge(&sub, &killed).await;
    agent_where(&second, "DRAINED", |a| {
        a["drain_info"]["state"] == "DRAINED"
    })
    .await;
    let (_, body) = HttpClient::default()
        .get(&format!("http://{second}/master/slaves"))
        .await
        .unwrap();
    let slaves: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(slaves["slaves"][0]["deactivated"], true, "{slaves}");
    assert_eq!(
        slaves["slaves"][0]["drain_info"]["state"], "DRAINED",
        "{slaves}"
    );
    drop(sub);

    // The agent restarts: it reregisters still DRAINED and deactivated.
    let before = agent_where(&second, "the agent", |_| true).await["reregistered_time"].clone();
    agent.kill9();
    let mut agent = start_agent(&dir, agent_port, &url);
    let agent_json = agent_where(&second, "the restarted agent", |a| {
        a["reregistered_time"] != before
    })
    .await;
    assert_eq!(agent_json["deactivated"], true, "{agent_json}");
    assert_eq!(agent_json["drain_info"]["state"], "DRAINED", "{agent_json}");
    assert_eq!(metric(&second, "master/slaves_active").await, 0.0);

    // Another leader change (the first master back as the standby): still DRAINED.
    masters[index] = Some(start_master(&dir, ports[index], &url));
    let other = 1 - index;
    let standby = format!("127.0.0.1:{}", ports[index]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(
        HttpClient::default()
            .get(&format!("http://{standby}/master/health"))
            .await,
        Ok((200, _))
    ) {
        assert!(Instant::now() < deadline, "the standby did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    masters[other].take();
    let third = leader(&url, Some(&second)).await;
    let agent_json = agent_where(&third, "the agent on the third leader", |a| {
        a["pid"].is_string()
    })
    .await;
    assert_eq!(agent_json["deactivated"], true, "{agent_json}");
    assert_eq!(agent_json["drain_info"]["state"], "DRAINED", "{agent_json}");
    assert_eq!(metric(&third, "master/slaves_active").await, 0.0);

    // REACTIVATE_AGENT: offers again.
    let (s, body) = support::post_json(&third, "/api/v1", &reactivate).await;
    assert_eq!(s, 200, "{body}");
    let agent_json = agent_where(&third, "reactivation", |a| a["active"] == true).await;
    assert_eq!(agent_json["deactivated"], false, "{agent_json}");
    assert!(agent_json.get("drain_info").is_none(), "{agent_json}");
    let mut sub = subscribe(&url, Some(framework_id)).await;
    let offered = loop {
        let event = tokio::time::timeout(Duration::from_secs(30), sub.next_event())
            .await
            .expect("an offer after reactivation")
            .unwrap();
        if let Some(offers) = event.offers {
            break offers.offers[0].agent_id.value.clone();
        }
    };
    assert_eq!(offered, agent_id);
    agent.terminate();
    drop(masters);
}

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// The script's next stdout line that starts with `prefix` (earlier ones are skipped).
async fn expect_line(lines: &mut Lines, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = tokio::time::timeout(left, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no '{prefix}' line within 60 s"))
            .unwrap()
            .unwrap_or_else(|| panic!("the script ended before '{prefix}'"));
        if line.starts_with(prefix) {
            return line;
        }
    }
}

/// GET_MAINTENANCE_STATUS's answers about the only draining machine, once `want` is there.
async fn maintenance_statuses(master: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = operator_call(master, r#"{"type":"GET_MAINTENANCE_STATUS"}"#).await;
        let statuses =
            &body["get_maintenance_status"]["status"]["draining_machines"][0]["statuses"];
        if statuses[0]["status"] == want {
            return statuses.clone();
        }
        assert!(Instant::now() < deadline, "no {want} status: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// docs/maintenance.md "Inverse offers", with pymesos (its `inverseOffers` and
/// `inverseOfferRescinded` callbacks, `declineInverseOffer` and `acceptInverseOffers`): a
/// framework with a task on a scheduled machine is asked for it, its DECLINE (with a 1 s
/// filter) and ACCEPT show in GET_MAINTENANCE_STATUS, and taking the machine out of the
/// schedule rescinds the inverse offer it holds.
///
/// How it can fail: without inverse offers the script never prints DECLINED; a status not
/// recorded leaves GET_MAINTENANCE_STATUS empty; without the rescind the script never
/// kills its task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymesos_answers_inverse_offers_and_the_maintenance_status_records_it() {
    use tokio::io::AsyncBufReadExt;
    let python = pymesos_python();
    let dir = scratch();
    let (_master, master) = support::spawn_master(&dir).await;
    // Registers as hostname `localhost` at 127.0.0.1.
    let _agent = support::spawn_agent(
        &master,
        free_port(),
        &dir.join("agent"),
        &["--switch_user=false"],
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/python/pymesos_inverse_offers.py"
    );
    let mut child = tokio::process::Command::new(&python)
        .arg(script)
        .args(["--master", &master])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    expect_line(&mut lines, "RUNNING").await;

    let machine = json!({"hostname": "localhost", "ip": "127.0.0.1"});
    let schedule = json!({"windows": [{
        "machine_ids": [machine],
        "unavailability": {"start": {"nanoseconds": 4_000_000_000_000_000_000i64},
                           "duration": {"nanoseconds": 3_600_000_000_000i64}}}]});
    let (s, body) = support::post_json(
        &master,
        "/master/maintenance/schedule",
        &schedule.to_string(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    expect_line(&mut lines, "DECLINED").await;
    let statuses = maintenance_statuses(&master, "DECLINE").await;
    assert!(
        statuses[0]["framework_id"]["value"].is_string(),
        "{statuses}"
    );
    expect_line(&mut lines, "ACCEPTED").await;
    maintenance_statuses(&master, "ACCEPT").await;
    let held = expect_line(&mut lines, "HELD").await;
    let held = held.trim_start_matches("HELD ").to_string();
    let (_, frameworks) = operator_call(&master, r#"{"type":"GET_FRAMEWORKS"}"#).await;
    assert_eq!(
        frameworks["get_frameworks"]["frameworks"][0]["inverse_offers"][0]["id"]["value"],
        held.as_str(),
        "{frameworks}"
    );

    // The machine leaves the schedule: the held inverse offer is rescinded.
    let (s, body) =
        support::post_json(&master, "/master/maintenance/schedule", r#"{"windows":[]}"#).await;
    assert_eq!(s, 200, "{body}");
    let rescinded = expect_line(&mut lines, "RESCINDED").await;
    assert_eq!(rescinded, format!("RESCINDED {held}"));
    expect_line(&mut lines, "DONE").await;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the script exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
}
