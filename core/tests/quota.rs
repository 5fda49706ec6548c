//! Quota and weights end to end against real daemons (issue 17 item 5), as Mesos 1.11
//! serves them (docs/quota.md, docs/weights.md, src/master/quota_handler.cpp,
//! src/master/readonly_handler.cpp `roles`, src/master/allocator/mesos/hierarchical.cpp):
//! - UPDATE_QUOTA through the v1 operator API reaches the allocator: with one agent of 4
//!   cpus, a framework of role `a` with a 3-cpu guarantee and limit is offered 3 cpus and
//!   the framework of role `b` the 1 that is left;
//! - `/master/roles` shows each role's quota (guarantee, limit, consumed), allocated,
//!   offered and reserved resources, and weight;
//! - the quota and weights survive a master failover (the master restarted on its
//!   registry): GET_QUOTA, GET_WEIGHTS, `/master/quota` and the offers after it;
//! - the deprecated SET_QUOTA / REMOVE_QUOTA and the v0 `/master/quota` (POST, DELETE)
//!   with Mesos's refusals: a role that already has quota, a role without quota, bad JSON.
//!
//! Needs: the release `remesos` binary (`cargo build --release -p remesos --bin remesos`).
//! Run alone with `cargo test --release -p remesos --test quota`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use remesos::client::Format;
use remesos::client::scheduler::Subscription;
use remesos::resources::Resources;
use remesos_proto::v1;
use support::{Daemon, free_port, operator_call, post_json, raw_request, spawn_agent};
use v1::scheduler as sched;

const WAIT: Duration = Duration::from_secs(60);

async fn master_on(port: u16, work_dir: &Path) -> Daemon {
    let daemon = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--work_dir={}", work_dir.display()))
            .args(["--allocation_interval=100ms", "--quiet"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start remesos master"),
    );
    let http = remesos::client::HttpClient::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(
        http.get(&format!("http://127.0.0.1:{port}/health")).await,
        Ok((200, _))
    ) {
        assert!(Instant::now() < deadline, "the master did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon
}

async fn subscribe(master: &str, role: &str) -> Subscription {
    let info = v1::FrameworkInfo {
        user: String::new(),
        name: format!("fw-{role}"),
        roles: vec![role.into()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    };
    let subscribe = sched::call::Subscribe {
        framework_info: info,
        ..Default::default()
    };
    Subscription::subscribe(master, subscribe, Format::Protobuf)
        .await
        .unwrap()
}

async fn next_offer(sub: &mut Subscription) -> v1::Offer {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, sub.next_event())
            .await
            .expect("an offer in time")
            .unwrap();
        if let Some(offers) = event.offers {
            return offers.offers[0].clone();
        }
    }
}

fn cpus(offer: &v1::Offer) -> f64 {
    Resources::from_protos(offer.resources.clone())
        .unwrap()
        .cpus()
}

async fn get_json(addr: &str, path: &str) -> Value {
    let http = remesos::client::HttpClient::default();
    let (status, body) = http.get(&format!("http://{addr}{path}")).await.unwrap();
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn role<'a>(roles: &'a Value, name: &str) -> &'a Value {
    roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("role {name} in {roles}"))
}

/// The ACCEPT of `offer` launching one `sleep` task of 1 cpu (the rest declined).
fn launch_one_cpu(offer: &v1::Offer) -> sched::Call {
    let task = support::command_task("quota-task", offer, "cpus:1;mem:32", "sleep 300");
    remesos::common::protocol::launch_call(
        offer,
        vec![task],
        Some(v1::Filters {
            refuse_seconds: Some(0.0),
        }),
    )
}

fn decline(offer: &v1::Offer) -> sched::Call {
    sched::Call {
        r#type: Some(sched::call::Type::Decline as i32),
        decline: Some(sched::call::Decline {
            offer_ids: vec![offer.id.clone()],
            filters: Some(v1::Filters {
                refuse_seconds: Some(0.0),
            }),
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_reaches_the_allocator_shows_consumption_and_survives_failover() {
    let dir = support::temp_dir("quota");
    let master_dir = dir.join("master");
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let mut master_daemon = master_on(port, &master_dir).await;

    // Quota for `a` (3 cpus guaranteed and at most 3) and a weight for `b`, before any
    // agent: the first allocation round sees them.
    let (status, body) = operator_call(
        &master,
        &json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
            {"role": "a", "guarantees": {"cpus": {"value": 3}}, "limits": {"cpus": {"value": 3}}}
        ]}})
        .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = operator_call(
        &master,
        &json!({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [
            {"role": "b", "weight": 2.5}
        ]}})
        .to_string(),
    )
    .await;
    assert_eq!(status, 200);

    let mut a = subscribe(&master, "a").await;
    let first_a = a.framework_id.clone();
    let mut b = subscribe(&master, "b").await;
    let agent_dir = dir.join("agent");
    let agent_port = free_port();
    let _agent = spawn_agent(&master, agent_port, &agent_dir, &[] as &[&str]);

    // The quota role is offered its guarantee first; the limit caps it; `b` gets the rest.
    let offer_a = next_offer(&mut a).await;
    let offer_b = next_offer(&mut b).await;
    assert_eq!(cpus(&offer_a), 3.0, "{offer_a:?}");
    assert_eq!(cpus(&offer_b), 1.0, "{offer_b:?}");

    // `a` runs a 1-cpu task: consumed 1 cpu of its quota; the offers to `b` show as offered.
    a.call(launch_one_cpu(&offer_a)).await.unwrap();
    let deadline = Instant::now() + WAIT;
    let roles = loop {
        let roles = get_json(&master, "/master/roles").await;
        if role(&roles, "a")["quota"]["consumed"]["cpus"] == json!(1.0) {
            break roles;
        }
        assert!(Instant::now() < deadline, "no consumption in {roles}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ra = role(&roles, "a");
    assert_eq!(ra["quota"]["role"], "a");
    assert_eq!(ra["quota"]["guarantee"], json!({"cpus": 3.0}));
    assert_eq!(ra["quota"]["limit"], json!({"cpus": 3.0}));
    assert_eq!(ra["allocated"]["cpus"], json!(1.0));
    assert_eq!(ra["weight"], json!(1.0));
    let rb = role(&roles, "b");
    assert_eq!(rb["weight"], json!(2.5));
    assert_eq!(rb["quota"]["guarantee"], json!({}));
    assert_eq!(rb["offered"]["cpus"], json!(1.0), "{rb}");
    assert_eq!(
        rb["quota"]["consumed"],
        json!({}),
        "offers are not consumption"
    );

    // Failover: a new leader on the same registry keeps quota and weights.
    b.call(decline(&offer_b)).await.unwrap();
    master_daemon.kill9();
    drop((a, b));
    let _master_daemon = master_on(port, &master_dir).await;
    let (status, quota) = operator_call(&master, r#"{"type": "GET_QUOTA"}"#).await;
    assert_eq!(status, 200);
    let configs = &quota["get_quota"]["status"]["configs"];
    assert_eq!(configs[0]["role"], "a", "{quota}");
    assert_eq!(configs[0]["guarantees"]["cpus"]["value"], json!(3.0));
    let (_, weights) = operator_call(&master, r#"{"type": "GET_WEIGHTS"}"#).await;
    assert_eq!(
        weights["get_weights"]["weight_infos"],
        json!([{"role": "b", "weight": 2.5}])
    );
    let v0 = get_json(&master, "/master/quota").await;
    assert_eq!(v0["configs"][0]["role"], "a", "{v0}");

    // The deprecated calls, with Mesos's refusals (nothing changes on a refusal).
    let (status, body) = post_json(
        &master,
        "/master/quota",
        r#"{"role": "a", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("Cannot set quota for role 'a' which already has quota"),
        "{body}"
    );
    let (status, body) = post_json(&master, "/master/quota", "{not json").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.starts_with("Failed to parse set quota request JSON"),
        "{body}"
    );
    let (status, _, body) = raw_request(
        "DELETE",
        &format!("http://{master}/master/quota/c"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Role 'c' has no quota set"), "{body}");
    let (status, _) = operator_call(
        &master,
        &json!({"type": "SET_QUOTA", "set_quota": {"quota_request": {
            "role": "c",
            "guarantee": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}]
        }}})
        .to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = raw_request(
        "DELETE",
        &format!("http://{master}/master/quota/c"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = operator_call(
        &master,
        r#"{"type": "REMOVE_QUOTA", "remove_quota": {"role": "c"}}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, quota) = operator_call(&master, r#"{"type": "GET_QUOTA"}"#).await;
    let roles: Vec<&Value> = quota["get_quota"]["status"]["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["role"])
        .collect();
    assert_eq!(roles, vec!["a"], "{quota}");

    // The agent reregisters with the running task and a new framework of `a` subscribes:
    // the limit still caps the role (3 cpus, 1 of them consumed by the task: 2 offered).
    let mut a = subscribe(&master, "a").await;
    let offer = next_offer(&mut a).await;
    assert_eq!(cpus(&offer), 2.0, "{offer:?}");

    // Clean up: the first framework is torn down, which kills its task.
    let (status, body) = operator_call(
        &master,
        &json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": first_a.value}}})
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + WAIT;
    while support::executor_pids(&agent_dir)
        .values()
        .any(|pid| alive(*pid))
    {
        assert!(Instant::now() < deadline, "the task was not killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether `pid` runs (a zombie does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_string();
            Some(state != "Z")
        })
        .unwrap_or(false)
}
