//! Operator reservations and persistent volumes with real processes (issue 17 items 3 and
//! 6; Mesos's `docs/reservation.md`, `docs/persistent-volume.md`, reference §3.4): a
//! `remesos master` and a `remesos agent`, a framework on the v1 scheduler API with role
//! `r`, and the operator's v1 calls and v0 endpoints.
//!
//! RESERVE (v1) rescinds the framework's offer and reserves; CREATE_VOLUMES (v0 form)
//! makes `<work_dir>/volumes/roles/r/<id>`; a task writes to the volume, a second reads it
//! back after the first ended, a third uses it read-only (`mode: RO`, at its own container
//! path) and can read but not write; the agent is killed with `kill -9` and restarted and a third
//! task reads it again; DESTROY is refused while a task uses the volume and removes the
//! directory once none does; UNRESERVE returns the resources to `*`. Each bad input (what
//! is not free, another role's reservation, a colliding persistence id, an unknown agent,
//! a path-like persistence id) gets Mesos's status and changes nothing.
//!
//! Needs only the `remesos` binary (`cargo build --release -p remesos --bin remesos`).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
#[path = "support/volumes.rs"]
mod volume_support;
use volume_support::{decline, volume_in};

use std::path::Path;
use std::time::{Duration, Instant};

use remesos::common::percent_encode;
use remesos_proto::v1;
use serde_json::{Value, json};
use support::{Daemon, TestFramework, free_port, post_json, raw_request, spawn_master};
use v1::TaskState;

const AGENT_RESOURCES: &str = "--resources=cpus:4;mem:1024;disk:1024";

fn spawn_agent(master: &str, port: u16, work_dir: &Path) -> Daemon {
    Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["agent", &format!("--master={master}"), "--ip=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--work_dir={}", work_dir.display()))
            .args([
                AGENT_RESOURCES,
                "--registration_backoff_factor=100ms",
                "--hostname=localhost",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start remesos agent"),
    )
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `text` as a JSON array of `Resource`s reserved (dynamically) for `r`.
fn reserved(cpus: f64, mem: f64, disk: f64, role: &str) -> Value {
    let one = |name: &str, value: f64| {
        json!({"name": name, "type": "SCALAR", "scalar": {"value": value},
               "reservations": [{"type": "DYNAMIC", "role": role}]})
    };
    let mut out = vec![];
    for (name, value) in [("cpus", cpus), ("mem", mem), ("disk", disk)] {
        if value > 0.0 {
            out.push(one(name, value));
        }
    }
    Value::Array(out)
}

/// A persistent volume of `mb` MB for `r`, mounted at `data`.
fn volume(mb: f64, id: &str) -> Value {
    json!({"name": "disk", "type": "SCALAR", "scalar": {"value": mb},
           "reservations": [{"type": "DYNAMIC", "role": "r"}],
           "disk": {"persistence": {"id": id}, "volume": {"container_path": "data", "mode": "RW"}}})
}

/// A v1 operator call (JSON); the status and the body as text.
async fn operator_call(master: &str, body: &str) -> (u16, String) {
    post_json(master, "/api/v1", body).await
}

/// POSTs a v0 endpoint's form; the status and body.
async fn v0(master: &str, endpoint: &str, fields: &[(&str, String)]) -> (u16, String) {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let (status, _, text) = raw_request(
        "POST",
        &format!("http://{master}/master/{endpoint}"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.into_bytes(),
    )
    .await;
    (status, text)
}

/// The agent as `/master/slaves` shows it.
async fn agent_json(master: &str) -> Value {
    let http = remesos::client::HttpClient::default();
    let (_, body) = http
        .get(&format!("http://{master}/master/slaves"))
        .await
        .unwrap();
    let slaves: Value = serde_json::from_slice(&body).unwrap();
    slaves["slaves"][0].clone()
}

/// What an operator sees of the agent's resources: unchanged across a refused call.
async fn resources_view(master: &str) -> (Value, Value) {
    let a = agent_json(master).await;
    (
        a["reserved_resources_full"].clone(),
        a["unreserved_resources"].clone(),
    )
}

/// The size in MB of the persistent volume `id` as `/master/slaves` shows it.
async fn volume_size(master: &str, id: &str) -> Option<f64> {
    let agent = agent_json(master).await;
    agent["reserved_resources_full"]["r"]
        .as_array()?
        .iter()
        .find(|r| r["disk"]["persistence"]["id"] == id)
        .and_then(|r| r["scalar"]["value"].as_f64())
}

/// Launches a command task using the volume `vol-1` on the first offer that holds it and
/// waits for its terminal state (or RUNNING when `until_running`), all within 120 s.
///
/// One loop over the framework's events: an offer made before an agent restart may be
/// rescinded, or a launch may race the agent's reregistration; such a launch ends
/// TASK_LOST, as in Mesos, and the next offer holding the volume is used (at most five
/// launches). A missing volume would end the task TASK_FAILED, never LOST.
async fn run_with_volume(
    framework: &mut TestFramework,
    task_id: &str,
    command: &str,
    until_running: bool,
) -> (i32, v1::AgentId) {
    run_with_volume_as(framework, task_id, command, until_running, None).await
}

/// [`run_with_volume`] with the volume used at its own `(container_path, mode)` (Mesos
/// ignores `DiskInfo.volume` when it matches a task's resources against the offer).
async fn run_with_volume_as(
    framework: &mut TestFramework,
    task_id: &str,
    command: &str,
    until_running: bool,
    used_as: Option<(&str, v1::volume::Mode)>,
) -> (i32, v1::AgentId) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut launched: Option<v1::AgentId> = None;
    let mut launches = 0;
    loop {
        let event = tokio::time::timeout_at(deadline, framework.sub.next_event())
            .await
            .unwrap_or_else(|_| panic!("{task_id}: no end within 120 s"))
            .unwrap();
        for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
            match volume_in(&offer, "vol-1").filter(|_| launched.is_none()) {
                Some(mut volume) => {
                    if let Some((path, mode)) = used_as
                        && let Some(v) = volume.disk.as_mut().and_then(|d| d.volume.as_mut())
                    {
                        v.container_path = path.into();
                        v.mode = mode as i32;
                    }
                    assert!(launches < 5, "{task_id} was lost five times");
                    launches += 1;
                    let mut task =
                        support::command_task(task_id, &offer, "cpus:0.1;mem:32", command);
                    task.resources.push(volume);
                    framework.launch(&offer, vec![task]).await;
                    launched = Some(offer.agent_id.clone());
                }
                None => decline(framework, &offer).await,
            }
        }
        let Some(update) = event.update else {
            continue;
        };
        let status = update.status;
        if let Some(ack) = remesos::client::scheduler::acknowledge_call(&status) {
            framework.sub.call(ack).await.unwrap();
        }
        if status.task_id.value != task_id {
            continue;
        }
        if status.state == TaskState::TaskLost as i32 {
            eprintln!("{task_id} lost ({:?}); trying again", status.message);
            launched = None;
            continue;
        }
        let terminal =
            TaskState::try_from(status.state).is_ok_and(remesos::common::protocol::is_terminal);
        if terminal || (until_running && status.state == TaskState::TaskRunning as i32) {
            let agent_id = status
                .agent_id
                .clone()
                .or(launched)
                .expect("the agent of a launched task");
            return (status.state, agent_id);
        }
    }
}

fn state_name(state: i32) -> &'static str {
    TaskState::try_from(state).map_or("?", |s| s.as_str_name())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_volume_outlives_its_tasks_and_an_agent_restart_until_destroyed() {
    let dir = support::temp_dir("volumes");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent_addr = format!("127.0.0.1:{port}");
    let work_dir = dir.join("agent");
    let mut agent = spawn_agent(&master, port, &work_dir);
    let agent_id = support::registered_agent_state(&agent_addr).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    #[allow(
        deprecated,
        reason = "a single-role framework, as most volume users are (FrameworkInfo.role)"
    )]
    let info = v1::FrameworkInfo {
        user: String::new(),
        name: "volumes".into(),
        role: Some("r".into()),
        checkpoint: Some(true),
        ..Default::default()
    };
    let mut framework = TestFramework::subscribe_info(&master, info).await;
    // The framework holds an offer of everything: the reservation rescinds it.
    framework.next_offer().await;

    // ---- RESERVE (v1 JSON) ----
    let reserve = json!({"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": agent_id}, "resources": reserved(1.0, 256.0, 512.0, "r")}});
    let (status, body) = operator_call(&master, &reserve.to_string()).await;
    assert_eq!(status, 202, "{body}");
    let slave = agent_json(&master).await;
    assert_eq!(slave["reserved_resources"]["r"]["disk"], 512.0, "{slave}");
    assert_eq!(slave["unreserved_resources"]["cpus"], 3.0, "{slave}");

    // ---- bad input: nothing changes ----
    let before = resources_view(&master).await;
    let too_much = json!({"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": agent_id}, "resources": reserved(100.0, 0.0, 0.0, "r")}});
    let (status, body) = operator_call(&master, &too_much.to_string()).await;
    assert_eq!(status, 409, "reserving what is not free: {body}");
    let others = json!({"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
        "agent_id": {"value": agent_id}, "resources": reserved(1.0, 0.0, 0.0, "other")}});
    let (status, body) = operator_call(&master, &others.to_string()).await;
    assert_eq!(status, 409, "unreserving what another role holds: {body}");
    let (status, body) = v0(
        &master,
        "reserve",
        &[
            ("slaveId", "no-such-agent".into()),
            ("resources", reserved(1.0, 0.0, 0.0, "r").to_string()),
        ],
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (400, "No agent found with specified ID")
    );
    let (status, body) = v0(
        &master,
        "create-volumes",
        &[
            ("slaveId", agent_id.clone()),
            ("volumes", json!([volume(64.0, "..")]).to_string()),
        ],
    )
    .await;
    assert_eq!(status, 400, "a persistence id that is a path: {body}");
    assert!(body.contains("Invalid persistence ID"), "{body}");
    // A container path that would leave the sandbox of the tasks using the volume: 400 at
    // CREATE (v0 form and v1 call), with the agent's launch-time message.
    for (path, message) in [
        ("/etc", "Absolute container path '/etc' is not supported"),
        ("../x", "container path '../x' must stay inside the sandbox"),
    ] {
        let mut bad = volume(64.0, "vol-bad");
        bad["disk"]["volume"]["container_path"] = json!(path);
        let (status, body) = v0(
            &master,
            "create-volumes",
            &[
                ("slaveId", agent_id.clone()),
                ("volumes", json!([bad]).to_string()),
            ],
        )
        .await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body.starts_with("Invalid CREATE operation on agent") && body.ends_with(message),
            "{path}: {body}"
        );
        let create = json!({"type": "CREATE_VOLUMES", "create_volumes": {
            "agent_id": {"value": agent_id}, "volumes": [bad]}});
        let (status, body) = operator_call(&master, &create.to_string()).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.ends_with(message), "{path}: {body}");
    }
    assert_eq!(
        resources_view(&master).await,
        before,
        "refusals changed nothing"
    );
    assert!(!work_dir.join("volumes/roles/r/..").join("x").exists());
    assert!(!work_dir.join("volumes/roles/r/vol-bad").exists());

    // ---- CREATE (v0 form) ----
    let (status, body) = v0(
        &master,
        "create-volumes",
        &[
            ("slaveId", agent_id.clone()),
            ("volumes", json!([volume(256.0, "vol-1")]).to_string()),
        ],
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let volume_dir = work_dir.join("volumes/roles/r/vol-1");
    wait_until("the agent creates the volume's directory", || {
        volume_dir.is_dir()
    })
    .await;
    assert!(work_dir.join("meta/resources/resources.info").is_file());
    let before = resources_view(&master).await;
    let (status, body) = v0(
        &master,
        "create-volumes",
        &[
            ("slaveId", agent_id.clone()),
            ("volumes", json!([volume(64.0, "vol-1")]).to_string()),
        ],
    )
    .await;
    assert_eq!(status, 400, "a colliding persistence id: {body}");
    assert!(
        body.ends_with("Persistence ID 'vol-1' is not unique"),
        "{body}"
    );
    assert_eq!(resources_view(&master).await, before);

    // ---- a task writes, a second reads after the first ended ----
    let (state, _) = run_with_volume(
        &mut framework,
        "writer",
        "echo persisted > data/file",
        false,
    )
    .await;
    assert_eq!(state_name(state), "TASK_FINISHED");
    assert_eq!(
        std::fs::read_to_string(volume_dir.join("file")).unwrap(),
        "persisted\n",
        "the task wrote into the volume's directory"
    );
    let (state, _) = run_with_volume(
        &mut framework,
        "reader",
        "grep -q persisted data/file",
        false,
    )
    .await;
    assert_eq!(
        state_name(state),
        "TASK_FINISHED",
        "the second task read it back"
    );

    // ---- a task using the volume read-only (at `ro`): reads, cannot write ----
    // As root the agent binds it read-only in the executor's mount namespace (Mesos's
    // `filesystem/linux` honours `mode: RO`; a symlink could not).
    let (state, _) = run_with_volume_as(
        &mut framework,
        "read-only",
        "grep -q persisted ro/file && test ! -L ro && ! touch ro/new && ! sh -c 'echo x >> ro/file'",
        false,
        Some(("ro", v1::volume::Mode::Ro)),
    )
    .await;
    assert_eq!(
        state_name(state),
        "TASK_FINISHED",
        "the read-only task read the file and could not write"
    );
    assert!(!volume_dir.join("new").exists(), "nothing was created");
    assert_eq!(
        std::fs::read_to_string(volume_dir.join("file")).unwrap(),
        "persisted\n",
        "nothing was appended"
    );

    // ---- kill -9 of the agent, restart: the volume is still there ----
    agent.kill9();
    let _agent = spawn_agent(&master, port, &work_dir);
    let state = support::registered_agent_state(&agent_addr).await;
    assert_eq!(state["id"], agent_id.as_str(), "the same agent reregisters");
    let (state, _) = run_with_volume(
        &mut framework,
        "reader-after-restart",
        "grep -q persisted data/file",
        false,
    )
    .await;
    assert_eq!(
        state_name(state),
        "TASK_FINISHED",
        "read again after the restart"
    );

    // ---- DESTROY while in use: refused; the directory stays ----
    let (state, agent_pid) = run_with_volume(&mut framework, "holder", "sleep 120", true).await;
    assert_eq!(state_name(state), "TASK_RUNNING");
    let destroy = json!({"type": "DESTROY_VOLUMES", "destroy_volumes": {
        "agent_id": {"value": agent_id}, "volumes": [volume(256.0, "vol-1")]}});
    let before = resources_view(&master).await;
    let (status, body) = operator_call(&master, &destroy.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body, "Invalid DESTROY operation: Persistent volumes in use");
    assert_eq!(resources_view(&master).await, before);
    assert!(volume_dir.join("file").is_file());
    framework.kill("holder", &agent_pid).await;
    loop {
        let status = framework.next_update(Duration::from_secs(60)).await;
        if status.task_id.value == "holder" && status.state == TaskState::TaskKilled as i32 {
            break;
        }
    }

    // ---- GROW and SHRINK (v1; Mesos 1.11's resize, `resize_volumes`) ----
    // The role holds 512 MB of reserved disk, 256 of it in vol-1.
    let grow = |mb: f64| {
        json!({"type": "GROW_VOLUME", "grow_volume": {
            "agent_id": {"value": agent_id}, "volume": volume(256.0, "vol-1"),
            "addition": {"name": "disk", "type": "SCALAR", "scalar": {"value": mb},
                         "reservations": [{"type": "DYNAMIC", "role": "r"}]}}})
        .to_string()
    };
    let shrink = |size: f64, mb: f64| {
        json!({"type": "SHRINK_VOLUME", "shrink_volume": {
            "agent_id": {"value": agent_id}, "volume": volume(size, "vol-1"),
            "subtract": {"value": mb}}})
        .to_string()
    };
    let before = resources_view(&master).await;
    let (status, body) = operator_call(&master, &grow(1024.0)).await;
    assert_eq!(
        status, 409,
        "growing by more than the role holds free: {body}"
    );
    let (status, body) = operator_call(&master, &shrink(256.0, 256.0)).await;
    assert_eq!(status, 400, "shrinking a volume to nothing: {body}");
    let (status, body) = operator_call(&master, &grow(0.0)).await;
    assert_eq!(status, 400, "growing by nothing: {body}");
    assert_eq!(
        resources_view(&master).await,
        before,
        "refused resizes changed nothing"
    );
    let (status, body) = operator_call(&master, &grow(128.0)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(volume_size(&master, "vol-1").await, Some(384.0));
    assert!(volume_dir.join("file").is_file(), "the data stays");
    let (status, body) = operator_call(&master, &shrink(384.0, 128.0)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(volume_size(&master, "vol-1").await, Some(256.0));
    assert_eq!(resources_view(&master).await, before, "back where it was");

    // ---- DESTROY, then UNRESERVE: back to `*` ----
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The master frees the task's resources once it hears TASK_KILLED.
        let (status, body) = operator_call(&master, &destroy.to_string()).await;
        if status == 202 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "DESTROY kept failing: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_until("the agent removes the volume's directory", || {
        !volume_dir.exists()
    })
    .await;
    let unreserve = json!({"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
        "agent_id": {"value": agent_id}, "resources": reserved(1.0, 256.0, 512.0, "r")}});
    let (status, body) = operator_call(&master, &unreserve.to_string()).await;
    assert_eq!(status, 202, "{body}");
    let slave = agent_json(&master).await;
    assert_eq!(slave["reserved_resources"], json!({}), "{slave}");
    assert_eq!(slave["unreserved_resources"]["cpus"], 4.0, "{slave}");
    assert_eq!(slave["unreserved_resources"]["disk"], 1024.0, "{slave}");
}

/// Found on the image and docker test agents (issue 17): RESERVE of disk answered 409
/// "{} does not contain disk:96". Those agents were started as tests' agents are,
/// `--resources=cpus:4;mem:2048;ports:[...]` (support::spawn_agent), and had no disk at
/// all: only what `--resources` named. With a framework holding every offer nothing was
/// rescinded and nothing was left. Mesos detects the disk `--resources` does not name
/// (`Containerizer::resources`), so the reservation is made from it and the held offer is
/// rescinded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_given_resources_without_disk_still_offers_and_reserves_its_disk() {
    let dir = support::temp_dir("volumes-default-disk");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent_addr = format!("127.0.0.1:{port}");
    let _agent = support::spawn_agent(&master, port, &dir.join("agent"), &[]);
    let agent_id = support::registered_agent_state(&agent_addr).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let slave = agent_json(&master).await;
    assert!(
        slave["resources"]["disk"].as_f64().unwrap_or(0.0) >= 96.0,
        "the detected disk: {slave}"
    );
    assert_eq!(
        slave["resources"]["cpus"], 4.0,
        "what the flag names: {slave}"
    );

    let mut framework = volume_support::subscribe(&master, "holder").await;
    let offer = framework.next_offer().await;
    assert!(
        offer.resources.iter().any(|r| r.name == "disk"),
        "the framework is offered the disk: {offer:?}"
    );
    // The framework holds the offer of everything: the reservation rescinds it.
    let reserve = json!({"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": agent_id}, "resources": reserved(0.0, 0.0, 96.0, "r")}});
    let (status, body) = operator_call(&master, &reserve.to_string()).await;
    assert_eq!(status, 202, "{body}");
    let slave = agent_json(&master).await;
    assert_eq!(slave["reserved_resources"]["r"]["disk"], 96.0, "{slave}");
}
