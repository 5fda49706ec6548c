//! The local authorizer end to end (issue 14 item 3): a real `remesos master` and `remesos
//! agent` started with `--acls` from a file (Mesos's JSON ACLs) and, on the master, HTTP
//! authentication (`--credentials`, `--authenticate_http_readonly`,
//! `--authenticate_http_readwrite`). Two principals, alice and bob, each with a framework:
//! alice can neither see nor tear down bob's framework; nobody may run a task as root
//! (TASK_ERROR, REASON_TASK_UNAUTHORIZED, from the master); `/flags` is for ops only; bob's
//! sandbox on the agent is closed to a request the ACLs do not allow.
//!
//! The frameworks declare their principal in `FrameworkInfo.principal` (scheduler calls are
//! authorized as that principal, as in Mesos; framework authentication is authn's test).
//! The agent's endpoints are not authenticated here (the agent's authentication is another
//! part), so its requests carry no principal and are matched as `ANY`, as in Mesos.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::time::Duration;

use remesos::common::percent_encode;
use remesos_proto::v1;
use serde_json::{Value, json};
use support::{Daemon, TestFramework, command_task, free_port, raw_request, spawn_agent};

const ALICE: &str = "Basic YWxpY2U6YS1zZWNyZXQ="; // alice:a-secret
const BOB: &str = "Basic Ym9iOmItc2VjcmV0"; // bob:b-secret
const OPS: &str = "Basic b3BzOm8tc2VjcmV0"; // ops:o-secret

/// The user bob's tasks run as: the test's own user, or `nobody` when the test runs as
/// root (the ACLs let nobody run tasks as root).
fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::current())
        .ok()
        .flatten()
        .map(|user| user.name)
        .filter(|name| name != "root")
        .unwrap_or_else(|| "nobody".into())
}

fn acls(me: &str) -> Value {
    json!({
        "permissive": true,
        "view_frameworks": [
            {"principals": {"values": ["alice"]}, "users": {"values": ["alice-user"]}},
            {"principals": {"values": ["bob", "ops"]}, "users": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}
        ],
        "teardown_frameworks": [
            {"principals": {"values": ["alice"]}, "framework_principals": {"values": ["alice"]}},
            {"principals": {"values": ["bob"]}, "framework_principals": {"values": ["bob"]}},
            {"principals": {"type": "ANY"}, "framework_principals": {"type": "NONE"}}
        ],
        "run_tasks": [
            {"principals": {"type": "NONE"}, "users": {"values": ["root"]}}
        ],
        "view_flags": [
            {"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}
        ],
        "access_sandboxes": [
            {"principals": {"values": ["bob"]}, "users": {"values": [me]}},
            {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}
        ]
    })
}

/// Removes the test's directory when dropped.
struct Cleanup(std::path::PathBuf);

impl Cleanup {
    /// A new temporary directory for one test.
    fn new(tag: &str) -> Cleanup {
        let root = std::env::temp_dir().join(format!("remesos-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root).unwrap();
        Cleanup(root)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn get(url: &str, auth: Option<&str>) -> (u16, String) {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    let (status, _, body) = raw_request("GET", url, &headers, vec![]).await;
    (status, body)
}

async fn post(url: &str, auth: &str, content_type: &str, body: &str) -> (u16, String) {
    let headers = [("Authorization", auth), ("Content-Type", content_type)];
    let (status, _, body) = raw_request("POST", url, &headers, body.as_bytes().to_vec()).await;
    (status, body)
}

/// The framework ids `auth` sees in `/master/state`.
async fn visible_frameworks(master: &str, auth: &str) -> Vec<String> {
    let (status, body) = get(&format!("http://{master}/master/state"), Some(auth)).await;
    assert_eq!(status, 200, "{body}");
    let state: Value = serde_json::from_str(&body).unwrap();
    let mut ids: Vec<String> = state["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn subscribe(
    master: &str,
    name: &str,
    principal: &str,
    user: &str,
) -> (TestFramework, String) {
    let info = v1::FrameworkInfo {
        user: user.into(),
        name: name.into(),
        principal: Some(principal.into()),
        ..Default::default()
    };
    let framework = TestFramework::subscribe_info(master, info).await;
    let id = framework.sub.framework_id.value.clone();
    (framework, id)
}

/// Launches the task `sleeper` (`sleep 60`) on `framework`'s next offer and waits until it
/// runs.
async fn run_sleeper(framework: &mut TestFramework) {
    let offer = framework.next_offer().await;
    let task = command_task("sleeper", &offer, "cpus:0.1;mem:32", "sleep 60");
    framework.launch(&offer, vec![task]).await;
    loop {
        let status = framework.next_update(Duration::from_secs(60)).await;
        if status.state == v1::TaskState::TaskRunning as i32 {
            return;
        }
        assert_eq!(
            status.state,
            v1::TaskState::TaskStarting as i32,
            "{status:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn acls_from_a_file_keep_principals_apart_end_to_end() {
    let dir = Cleanup::new("authz");
    let me = me();
    let acls_path = dir.path().join("acls.json");
    std::fs::write(&acls_path, acls(&me).to_string()).unwrap();
    let creds = dir.path().join("credentials.json");
    std::fs::write(
        &creds,
        json!({"credentials": [
            {"principal": "alice", "secret": "a-secret"},
            {"principal": "bob", "secret": "b-secret"},
            {"principal": "ops", "secret": "o-secret"}
        ]})
        .to_string(),
    )
    .unwrap();

    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let _master_daemon = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!(
                "--work_dir={}",
                dir.path().join("master").display()
            ))
            .arg(format!("--acls=file://{}", acls_path.display()))
            .arg(format!("--credentials=file://{}", creds.display()))
            .args([
                "--authenticate_http_readonly",
                "--authenticate_http_readwrite",
                "--allocation_interval=100ms",
                "--quiet",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start remesos master"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let http = remesos::client::HttpClient::default();
    while !matches!(
        http.get(&format!("http://{master}/health")).await,
        Ok((200, _))
    ) {
        assert!(
            std::time::Instant::now() < deadline,
            "the master did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let agent_port = free_port();
    let agent = format!("127.0.0.1:{agent_port}");
    let agent_dir = dir.path().join("agent");
    let _agent_daemon = spawn_agent(
        &master,
        agent_port,
        &agent_dir,
        &[&format!("--acls=file://{}", acls_path.display())],
    );
    let agent_state = support::registered_agent_state(&agent).await;
    let agent_id = agent_state["id"].as_str().unwrap().to_string();

    // Bob subscribes alone, so that the agent's only offer goes to him; alice comes once
    // his task runs.
    let (mut bob_fw, bob_id) = subscribe(&master, "bob", "bob", &me).await;

    // Nobody may run a task as root: the master answers TASK_ERROR and launches nothing.
    let offer = bob_fw.next_offer().await;
    let mut as_root = command_task("as-root", &offer, "cpus:0.1;mem:32", "true");
    as_root.command.as_mut().unwrap().user = Some("root".into());
    bob_fw.launch(&offer, vec![as_root]).await;
    let status = bob_fw.next_update(Duration::from_secs(30)).await;
    assert_eq!(status.state, v1::TaskState::TaskError as i32, "{status:?}");
    assert_eq!(
        status.reason,
        Some(v1::task_status::Reason::TaskUnauthorized as i32)
    );
    assert_eq!(
        status.message.as_deref(),
        Some(
            format!(
                "Principal 'bob' no authorized to launch task as-root of framework {bob_id} \
                 under user 'root'"
            )
            .as_str()
        )
    );
    // As the framework's user, the task runs.
    run_sleeper(&mut bob_fw).await;
    let (alice_fw, alice_id) = subscribe(&master, "alice", "alice", "alice-user").await;

    // Each principal sees the frameworks of the users its ACLs name.
    assert_eq!(
        visible_frameworks(&master, ALICE).await,
        vec![alice_id.clone()]
    );
    let mut both = vec![alice_id.clone(), bob_id.clone()];
    both.sort();
    assert_eq!(visible_frameworks(&master, BOB).await, both);
    let (status, body) = get(&format!("http://{master}/master/frameworks"), Some(ALICE)).await;
    assert_eq!(status, 200);
    assert!(!body.contains(&bob_id), "{body}");
    let (status, body) = get(&format!("http://{master}/master/tasks"), Some(ALICE)).await;
    assert_eq!(status, 200);
    assert!(!body.contains("sleeper"), "{body}");

    // Alice cannot tear down bob's framework (v1 TEARDOWN and /master/teardown): 403,
    // and it stays.
    let teardown = json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": bob_id}}});
    let (status, _) = call(&master, ALICE, teardown.clone()).await;
    assert_eq!(status, 403);
    let form = format!("frameworkId={bob_id}");
    let (status, _) = post(
        &format!("http://{master}/master/teardown"),
        ALICE,
        "application/x-www-form-urlencoded",
        &form,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(visible_frameworks(&master, BOB).await, both);

    // /flags: ops only.
    assert_eq!(
        get(&format!("http://{master}/master/flags"), Some(ALICE))
            .await
            .0,
        403
    );
    let (status, body) = get(&format!("http://{master}/master/flags"), Some(OPS)).await;
    assert_eq!(status, 200);
    assert!(body.contains("acls"), "{body}");
    assert!(!body.contains("b-secret"), "no secret in /flags: {body}");

    // The agent: bob's sandbox is closed to a request its ACLs do not name (here an
    // unauthenticated one); what needs no authorization still answers.
    let sandbox = format!("/frameworks/{bob_id}/executors/sleeper/runs/latest");
    let (status, body) = get(&format!("http://{agent}/files/browse?path={sandbox}"), None).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = get(
        &format!("http://{agent}/files/read?path={sandbox}/stdout&offset=0"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = get(&format!("http://{agent}/files/debug"), None).await;
    assert_eq!(status, 200);
    assert!(body.contains(&bob_id), "the sandbox is attached: {body}");
    assert_eq!(get(&format!("http://{agent}/flags"), None).await.0, 403);
    let (status, body) = get(&format!("http://{agent}/state"), None).await;
    assert_eq!(status, 200);
    assert!(!body.contains(&bob_id), "{body}");
    assert_eq!(agent_state["id"], agent_id);

    // Bob tears down his own framework.
    let (status, _) = call(&master, BOB, teardown.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(visible_frameworks(&master, ALICE).await, vec![alice_id]);
    drop(alice_fw.sub);
}

/// Waits until `log` contains `needle` (a daemon logged what the test looks for).
async fn wait_for_log(log: &std::path::Path, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "'{needle}' not in {}:\n{text}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The ids of the agents the master lists (`/master/slaves`, as ops).
async fn agent_ids(master: &str) -> Vec<String> {
    let (status, body) = get(&format!("http://{master}/master/slaves"), Some(OPS)).await;
    assert_eq!(status, 200, "{body}");
    let slaves: Value = serde_json::from_str(&body).unwrap();
    slaves["slaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// A v1 operator call (JSON) to `addr` as `auth`: the status and the decoded answer (or
/// `null` when there is no body).
async fn call(addr: &str, auth: &str, body: Value) -> (u16, Value) {
    let (status, text) = post(
        &format!("http://{addr}/api/v1"),
        auth,
        "application/json",
        &body.to_string(),
    )
    .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The process's verbose level as GET_LOGGING_LEVEL answers it.
async fn logging_level(addr: &str) -> u64 {
    let (status, answer) = call(addr, OPS, json!({"type": "GET_LOGGING_LEVEL"})).await;
    assert_eq!(status, 200, "{answer}");
    answer["get_logging_level"]["level"].as_u64().unwrap_or(0)
}

fn set_logging_level(level: u32, seconds: u64) -> Value {
    json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {
        "level": level, "duration": {"nanoseconds": seconds * 1_000_000_000}
    }})
}

/// Issue 14 item 3, "403 and nothing changed when denied", for the ACLs enforced last:
/// `register_agents`, `set_log_level`, `get_endpoints` and `view_containers`, against a real
/// master and agent with every HTTP realm and agent authentication on.
///
/// - `register_agents` (master.cpp `authorizeSlave`): an agent that authenticates as a
///   principal the ACLs do not let register is refused (it logs Mesos's text and retries)
///   and the master lists no agent; the allowed principal's agent registers.
/// - `/logging/toggle` (`get_endpoints` on its path, libprocess's authorization callback)
///   and SET_LOGGING_LEVEL (`set_log_level`, http.cpp `setLoggingLevel`) on both daemons:
///   403 for a denied principal, the level unchanged (alice may read the level through
///   the endpoint but not change it); ops changes it.
/// - `/metrics/snapshot`, `/metrics` and `/files/debug` (`get_endpoints`) on both daemons: 403
///   for bob.
/// - GET_CONTAINERS (slave/http.cpp `getContainers`, `view_containers`): ops sees bob's
///   container, alice (denied) sees none.
/// - The agent's `/containers` and `/monitor/statistics` (slave/http.cpp `Http::containers`,
///   `Http::statistics`: `get_endpoints` on the path, then `view_containers` per
///   container): 403 for bob (no endpoint), bob's container for ops, an empty list for
///   alice (the endpoint but not the container).
#[tokio::test(flavor = "multi_thread")]
async fn denied_agents_endpoints_log_levels_and_containers_change_nothing() {
    let dir = Cleanup::new("authz-more");
    let me = me();
    let acls_path = dir.path().join("acls.json");
    let acls = json!({
        "permissive": true,
        "register_agents": [
            {"principals": {"values": ["agent"]}, "agents": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "agents": {"type": "NONE"}}
        ],
        "set_log_level": [
            {"principals": {"values": ["ops"]}, "level": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "level": {"type": "NONE"}}
        ],
        "get_endpoints": [
            {"principals": {"values": ["ops"]}, "paths": {"type": "ANY"}},
            {"principals": {"values": ["alice"]},
             "paths": {"values": ["/logging/toggle", "/containers", "/monitor/statistics"]}},
            {"principals": {"type": "ANY"}, "paths": {"type": "NONE"}}
        ],
        "view_containers": [
            {"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}
        ],
        "reserve_resources": [
            {"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}
        ],
        "unreserve_resources": [
            {"principals": {"values": ["ops"]}, "reserver_principals": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "reserver_principals": {"type": "NONE"}}
        ],
        "create_volumes": [
            {"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}
        ],
        "destroy_volumes": [
            {"principals": {"values": ["ops"]}, "creator_principals": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "creator_principals": {"type": "NONE"}}
        ],
        "resize_volumes": [
            {"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}
        ],
        "update_quotas": [
            {"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}
        ],
        "prune_images": [
            {"principals": {"values": ["ops"]}, "images": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "images": {"type": "NONE"}}
        ]
    });
    std::fs::write(&acls_path, acls.to_string()).unwrap();
    let creds = dir.path().join("credentials.json");
    std::fs::write(
        &creds,
        json!({"credentials": [
            {"principal": "alice", "secret": "a-secret"},
            {"principal": "bob", "secret": "b-secret"},
            {"principal": "ops", "secret": "o-secret"},
            {"principal": "agent", "secret": "agent-secret"},
            {"principal": "rogue", "secret": "rogue-secret"}
        ]})
        .to_string(),
    )
    .unwrap();
    let credential = |name: &str, principal: &str, secret: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            json!({"principal": principal, "secret": secret}).to_string(),
        )
        .unwrap();
        format!("--credential=file://{}", path.display())
    };
    let acls_flag = format!("--acls=file://{}", acls_path.display());
    let (_master_daemon, master) = support::spawn_master_with(
        &dir.path().join("m"),
        &[
            acls_flag.clone(),
            format!("--credentials=file://{}", creds.display()),
            "--authenticate_agents".into(),
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
        ],
    )
    .await;

    // register_agents: rogue authenticates but may not register.
    let rogue_log = dir.path().join("rogue.log");
    let mut rogue = support::spawn_agent_logged(
        &master,
        free_port(),
        &dir.path().join("rogue"),
        &[credential("rogue.json", "rogue", "rogue-secret")],
        Some(&rogue_log),
    );
    let text = wait_for_log(
        &rogue_log,
        "Not authorized to register agent providing resources",
    )
    .await;
    assert!(text.contains("with principal 'rogue'"), "{text}");
    assert!(!text.contains("rogue-secret"), "no secret logged:\n{text}");
    assert_eq!(agent_ids(&master).await, Vec::<String>::new());
    rogue.kill9();

    let agent_port = free_port();
    let agent = format!("127.0.0.1:{agent_port}");
    let _agent_daemon = spawn_agent(
        &master,
        agent_port,
        &dir.path().join("agent"),
        &[
            &credential("agent.json", "agent", "agent-secret"),
            &acls_flag,
            &format!("--http_credentials=file://{}", creds.display()),
            "--authenticate_http_readonly",
            "--authenticate_http_readwrite",
            // disk for the volume tests at the end (a later flag overrides support's)
            "--resources=cpus:4;mem:2048;disk:256;ports:[31000-31100]",
        ],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while agent_ids(&master).await.len() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the allowed agent did not register"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for daemon in [&master, &agent] {
        // get_endpoints: bob may use none of the guarded endpoints.
        // `/metrics` (Prometheus) is guarded as `/metrics/snapshot`, whose data it serves.
        for path in [
            "/logging/toggle",
            "/metrics/snapshot",
            "/metrics",
            "/files/debug",
        ] {
            let (status, body) = get(&format!("http://{daemon}{path}"), Some(BOB)).await;
            assert_eq!(status, 403, "{daemon}{path}: {body}");
            let (status, body) = get(&format!("http://{daemon}{path}"), Some(OPS)).await;
            assert_eq!(status, 200, "{daemon}{path}: {body}");
        }
        // set_log_level: alice reads the level but cannot change it, by either path.
        let toggle = format!("http://{daemon}/logging/toggle");
        assert_eq!(get(&toggle, Some(ALICE)).await, (200, "0\n".to_string()));
        let change = format!("{toggle}?level=3&duration=1mins");
        assert_eq!(get(&change, Some(ALICE)).await.0, 403);
        assert_eq!(get(&change, Some(BOB)).await.0, 403);
        let (status, _) = call(daemon, ALICE, set_logging_level(3, 60)).await;
        assert_eq!(status, 403, "{daemon}");
        assert_eq!(logging_level(daemon).await, 0, "{daemon}: unchanged");
        // ops may: the change is seen, and undone (level 0 has no revert timer).
        let (status, _) = call(daemon, OPS, set_logging_level(1, 60)).await;
        assert_eq!(status, 200, "{daemon}");
        assert_eq!(logging_level(daemon).await, 1, "{daemon}");
        let reset = format!("{toggle}?level=0&duration=1secs");
        assert_eq!(get(&reset, Some(OPS)).await.0, 200);
        assert_eq!(get(&toggle, Some(OPS)).await, (200, "0\n".to_string()));
    }

    // view_containers: bob's running task's container is ops's to see, not alice's.
    let (mut bob_fw, _bob_id) = subscribe(&master, "bob", "bob", &me).await;
    run_sleeper(&mut bob_fw).await;
    let containers = |answer: &Value| {
        answer["get_containers"]["containers"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let get_containers = json!({"type": "GET_CONTAINERS", "get_containers": {}});
    let (status, answer) = call(&agent, OPS, get_containers.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(containers(&answer), 1, "{answer}");
    let (status, answer) = call(&agent, ALICE, get_containers).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(containers(&answer), 0, "{answer}");

    for path in ["/containers", "/monitor/statistics"] {
        let url = format!("http://{agent}{path}");
        let (status, body) = get(&url, Some(BOB)).await;
        assert_eq!((status, body.as_str()), (403, ""), "{path}");
        let listed = |body: &str| {
            serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v.as_array().map(Vec::len))
        };
        let (status, body) = get(&url, Some(OPS)).await;
        assert_eq!((status, listed(&body)), (200, Some(1)), "{path}: {body}");
        let (status, body) = get(&url, Some(ALICE)).await;
        assert_eq!((status, listed(&body)), (200, Some(0)), "{path}: {body}");
    }
    drop(bob_fw.sub);

    // Reservations, volumes, quota and image pruning: bob's well-formed requests are
    // refused with 403 and change nothing; the same requests from ops are carried out.
    let agent_id = agent_ids(&master).await.remove(0);
    let cpus = |principal: &str| {
        json!([{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5},
                "reservations": [{"type": "DYNAMIC", "role": "r", "principal": principal}]}])
    };
    let volume = |principal: &str| {
        json!([{"name": "disk", "type": "SCALAR", "scalar": {"value": 16},
                "reservations": [{"type": "DYNAMIC", "role": "r", "principal": "ops"}],
                "disk": {"persistence": {"id": "v1", "principal": principal},
                         "volume": {"container_path": "data", "mode": "RW"}}}])
    };
    let reserve = |resources: Value| {
        json!({"type": "RESERVE_RESOURCES", "reserve_resources": {
            "agent_id": {"value": agent_id}, "resources": resources}})
        .to_string()
    };
    let v0_form = |key: &str, resources: &Value| {
        format!(
            "slaveId={agent_id}&{key}={}",
            percent_encode(&resources.to_string())
        )
    };
    let unchanged = |before: &Value, after: &Value, what: &str| {
        assert_eq!(before, after, "{what} changed the master's view");
    };

    // RESERVE: v1 and v0.
    let before = reservations(&master).await;
    let (status, body) = post(
        &format!("http://{master}/api/v1"),
        BOB,
        "application/json",
        &reserve(cpus("bob")),
    )
    .await;
    assert_eq!(status, 403, "bob's RESERVE_RESOURCES: {body}");
    let form = "application/x-www-form-urlencoded";
    let reserve_url = format!("http://{master}/master/reserve");
    let (status, body) = post(&reserve_url, BOB, form, &v0_form("resources", &cpus("bob"))).await;
    assert_eq!(status, 403, "bob's /master/reserve: {body}");
    // The v0 endpoints are in the readwrite realm (master.cpp routes them with
    // READWRITE_HTTP_AUTHENTICATION_REALM): a wrong password is refused before anything.
    let wrong = "Basic Ym9iOndyb25n"; // bob:wrong
    for path in ["reserve", "unreserve", "create-volumes", "destroy-volumes"] {
        let url = format!("http://{master}/master/{path}");
        let (status, body) = post(&url, wrong, form, &v0_form("resources", &cpus("bob"))).await;
        assert_eq!(status, 401, "/master/{path} with a wrong password: {body}");
    }
    unchanged(&before, &reservations(&master).await, "bob's RESERVE");
    // ops may; its reservation (and the disk a volume needs) is what bob tries next.
    let (status, body) = post(&reserve_url, OPS, form, &v0_form("resources", &cpus("ops"))).await;
    assert_eq!(status, 202, "ops's /master/reserve: {body}");
    let disk = json!([{"name": "disk", "type": "SCALAR", "scalar": {"value": 16},
                       "reservations": [{"type": "DYNAMIC", "role": "r", "principal": "ops"}]}]);
    let (status, body) = post(&reserve_url, OPS, form, &v0_form("resources", &disk)).await;
    assert_eq!(status, 202, "ops's disk reservation: {body}");

    // UNRESERVE and CREATE_VOLUMES by bob: refused.
    let before = reservations(&master).await;
    assert_ne!(before, Value::Null, "ops's reservations are shown");
    let (status, body) = post(
        &format!("http://{master}/master/unreserve"),
        BOB,
        form,
        &v0_form("resources", &cpus("ops")),
    )
    .await;
    assert_eq!(status, 403, "bob's /master/unreserve: {body}");
    let create_url = format!("http://{master}/master/create-volumes");
    let (status, body) = post(&create_url, BOB, form, &v0_form("volumes", &volume("bob"))).await;
    assert_eq!(status, 403, "bob's /master/create-volumes: {body}");
    unchanged(
        &before,
        &reservations(&master).await,
        "bob's UNRESERVE/CREATE",
    );

    // DESTROY and GROW of ops's volume by bob: refused.
    let (status, body) = post(&create_url, OPS, form, &v0_form("volumes", &volume("ops"))).await;
    assert_eq!(status, 202, "ops's /master/create-volumes: {body}");
    let before = reservations(&master).await;
    let (status, body) = post(
        &format!("http://{master}/master/destroy-volumes"),
        BOB,
        form,
        &v0_form("volumes", &volume("ops")),
    )
    .await;
    assert_eq!(status, 403, "bob's /master/destroy-volumes: {body}");
    let grow = json!({"type": "GROW_VOLUME", "grow_volume": {
        "agent_id": {"value": agent_id}, "volume": volume("ops")[0],
        "addition": {"name": "disk", "type": "SCALAR", "scalar": {"value": 1},
                     "reservations": [{"type": "DYNAMIC", "role": "r", "principal": "ops"}]}}});
    let (status, body) = call(&master, BOB, grow).await;
    assert_eq!(status, 403, "bob's GROW_VOLUME: {body}");
    unchanged(&before, &reservations(&master).await, "bob's DESTROY/GROW");

    // Quota: UPDATE_QUOTA and the v0 endpoint by bob: refused, none set.
    let before = quota(&master).await;
    let update = json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "r", "guarantees": {"cpus": {"value": 1.0}}, "limits": {"cpus": {"value": 1.0}}}]}});
    let (status, body) = call(&master, BOB, update).await;
    assert_eq!(status, 403, "bob's UPDATE_QUOTA: {body}");
    let (status, body) = post(
        &format!("http://{master}/master/quota"),
        BOB,
        "application/json",
        &json!({"role": "r", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}}]})
            .to_string(),
    )
    .await;
    assert_eq!(status, 403, "bob's POST /master/quota: {body}");
    assert_eq!(
        quota(&master).await,
        before,
        "bob's quota requests changed the quota"
    );

    // PRUNE_IMAGES on the agent: bob is refused; ops's call is authorized (this agent has
    // no image store, so whatever it answers, it is not 403).
    let prune = json!({"type": "PRUNE_IMAGES", "prune_images": {}});
    let (status, body) = call(&agent, BOB, prune.clone()).await;
    assert_eq!(status, 403, "bob's PRUNE_IMAGES: {body}");
    let (status, body) = call(&agent, OPS, prune).await;
    assert_ne!(status, 403, "ops's PRUNE_IMAGES: {body}");
    // Both daemons still serve.
    for daemon in [&master, &agent] {
        assert_eq!(get(&format!("http://{daemon}/health"), None).await.0, 200);
    }
}

/// The quota status GET_QUOTA answers ops.
async fn quota(master: &str) -> Value {
    let (status, answer) = call(master, OPS, json!({"type": "GET_QUOTA"})).await;
    assert_eq!(status, 200, "{answer}");
    answer["get_quota"]["status"].clone()
}

/// The master's view of the (one) agent's reservations: `/master/slaves`
/// `reserved_resources_full`, read as ops.
async fn reservations(master: &str) -> Value {
    let (status, body) = get(&format!("http://{master}/master/slaves"), Some(OPS)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["slaves"][0]["reserved_resources_full"].clone()
}
