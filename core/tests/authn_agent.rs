//! Agent authentication with the real binaries (issue 14, items 2 and 6): the agent's
//! endpoints answer 401 with Mesos's realms (`mesos-agent-readonly`,
//! `mesos-agent-readwrite`) and serve with credentials; with `--authenticate_http_executors`
//! executors run with the token the agent gives them (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`)
//! and the executor API takes a call only with the token of the executor it names (another
//! executor's token, a forged one, `alg: none`, none at all are refused); recovered
//! executors keep working; an agent without (or with a wrong) `--credential` is refused by a
//! master with `--authenticate_agents` and registers once given the right one.
//!
//! Mesos's sources for each rule: src/slave/slave.cpp (`route(...)` realms,
//! `Slave::generateSecret`), src/slave/http.cpp (`Http::executor`, `verifyExecutorClaims`),
//! 3rdparty/libprocess/src/jwt_authenticator.cpp, src/master/master.cpp
//! (`Master::registerSlave`).
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

mod support;
use support::temp_dir;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use remesos_proto::v1;
use support::{
    Daemon, TestFramework, command_task, environ, executor_pids, free_port, message_call,
    raw_request, spawn_agent_logged, spawn_master,
};
use v1::TaskState;

const KEY: &str = "an agent's executor key, 32+ bytes long";
const CREDENTIALS: &str = r#"{"credentials": [{"principal": "ops", "secret": "s3cret-ops"}]}"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn basic(principal: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{principal}:{secret}"))
    )
}

fn b64url(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// GET (or POST with a body) through hyper: status, headers, body.
async fn get(url: &str, authorization: Option<&str>) -> (u16, hyper::HeaderMap, String) {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    raw_request("GET", url, &headers, vec![]).await
}

async fn post(
    url: &str,
    authorization: Option<&str>,
    body: &str,
) -> (u16, hyper::HeaderMap, String) {
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ];
    if let Some(a) = authorization {
        headers.push(("Authorization", a));
    }
    raw_request("POST", url, &headers, body.as_bytes().to_vec()).await
}

fn challenge(headers: &hyper::HeaderMap) -> String {
    headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Waits until something listens on `addr`.
async fn listening(addr: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The agent's `/state` (read with `authorization`) once it has registered.
async fn registered(agent: &str, authorization: Option<&str>) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        listening(agent).await;
        if let (200, _, body) = get(&format!("http://{agent}/state"), authorization).await {
            let state: serde_json::Value = serde_json::from_str(&body).unwrap();
            if state["id"].as_str().is_some_and(|id| !id.is_empty()) {
                return state;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not register"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Mesos's agent realms (src/slave/slave.cpp `route(...)`; libprocess puts
/// `/metrics/snapshot` in the read-only realm, the files process `/files/*`): without
/// credentials each answers 401 with `Basic realm="<realm>"`; with the wrong secret too;
/// with a principal of `--http_credentials` they serve. `/health` and `/version` stay open.
/// `/flags` shows the credentials file's path, never its content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_endpoints_answer_401_with_their_realm_and_serve_with_credentials() {
    let dir = temp_dir("authn-agent-http");
    let (_master, master) = spawn_master(&dir).await;
    let credentials = write(&dir, "credentials.json", CREDENTIALS);
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let _agent = spawn_agent_logged(
        &master,
        port,
        &dir.join("agent"),
        &[
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
            format!("--http_credentials=file://{credentials}"),
        ],
        None,
    );
    let ops = basic("ops", "s3cret-ops");
    registered(&agent, Some(&ops)).await;

    let readonly = r#"Basic realm="mesos-agent-readonly""#;
    for path in [
        "/state",
        "/state.json",
        "/slave(1)/state",
        "/flags",
        "/metrics/snapshot",
        "/files/debug",
        "/files/browse?path=/tmp",
    ] {
        let url = format!("http://{agent}{path}");
        let (status, headers, _) = get(&url, None).await;
        assert_eq!(
            (status, challenge(&headers).as_str()),
            (401, readonly),
            "{path}"
        );
        let (status, headers, _) = get(&url, Some(&basic("ops", "wrong"))).await;
        assert_eq!(
            (status, challenge(&headers).as_str()),
            (401, readonly),
            "{path}"
        );
        let (status, _, _) = get(&url, Some(&basic("nobody", "s3cret-ops"))).await;
        assert_eq!(status, 401, "{path}");
        let (status, _, _) = get(&url, Some("Basic !!!")).await;
        assert_eq!(status, 401, "{path}");
        let (status, _, _) = get(&url, Some(&ops)).await;
        assert_ne!(status, 401, "{path}");
    }
    let api = format!("http://{agent}/api/v1");
    let health = r#"{"type": "GET_HEALTH"}"#;
    let (status, headers, _) = post(&api, None, health).await;
    assert_eq!(
        (status, challenge(&headers).as_str()),
        (401, r#"Basic realm="mesos-agent-readwrite""#)
    );
    let (status, _, body) = post(&api, Some(&ops), health).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"healthy\":true"), "{body}");
    for open in ["/health", "/version"] {
        let (status, _, _) = get(&format!("http://{agent}{open}"), None).await;
        assert_eq!(status, 200, "{open}");
    }
    let (status, _, flags) = get(&format!("http://{agent}/flags"), Some(&ops)).await;
    assert_eq!(status, 200);
    assert!(flags.contains(&credentials), "{flags}");
    assert!(!flags.contains("s3cret-ops"), "{flags}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The default executor's LAUNCH_GROUP of `tasks` on `offer`.
fn launch_group(
    framework_id: &v1::FrameworkId,
    offer: &v1::Offer,
    executor_id: &str,
    tasks: Vec<v1::TaskInfo>,
) -> v1::scheduler::Call {
    let role = offer
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.clone())
        .unwrap_or_else(|| "*".into());
    let mut resources = remesos::resources::Resources::parse("cpus:0.1;mem:32", "*").unwrap();
    resources.allocate(&role);
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: executor_id.into(),
        },
        framework_id: Some(framework_id.clone()),
        resources: resources.into_protos(),
        ..Default::default()
    };
    v1::scheduler::Call {
        r#type: Some(v1::scheduler::call::Type::Accept as i32),
        accept: Some(v1::scheduler::call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
                launch_group: Some(v1::offer::operation::LaunchGroup {
                    executor,
                    task_group: v1::TaskGroupInfo { tasks },
                }),
                ..Default::default()
            }],
            filters: None,
        }),
        ..Default::default()
    }
}

/// Reads updates until every task of `want` reached its state.
async fn until_states(framework: &mut TestFramework, want: &[(&str, TaskState)]) {
    let mut reached: BTreeMap<String, i32> = BTreeMap::new();
    while want
        .iter()
        .any(|(t, s)| reached.get(*t) != Some(&(*s as i32)))
    {
        let status = framework.next_update(Duration::from_secs(60)).await;
        assert!(
            !matches!(
                TaskState::try_from(status.state),
                Ok(TaskState::TaskFailed | TaskState::TaskError | TaskState::TaskLost)
            ),
            "{status:?}"
        );
        reached.insert(status.task_id.value.clone(), status.state);
    }
}

/// `--authenticate_http_executors` with `--jwt_secret_key`: a command task (the command
/// executor) and a task group (the default executor) run, each executor with the token the
/// agent put in its environment; the executor API refuses another executor's token (403,
/// Mesos's `verifyExecutorClaims`), a token signed with another key or `alg: none` (401
/// `invalid_token`), and a call without one (401, both challenges of `basic,jwt`). After an
/// agent restart the recovered executors resubscribe with the same tokens and their tasks
/// can still be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executors_run_with_their_own_tokens_and_no_other_token_acts_for_them() {
    let dir = temp_dir("authn-agent-executors");
    let (_master, master) = spawn_master(&dir).await;
    let key = write(&dir, "jwt.key", KEY);
    let credentials = write(&dir, "credentials.json", CREDENTIALS);
    // ACLs that decide nothing (every principal gets `permissive`): only a token is refused.
    let acls = write(&dir, "acls.json", r#"{"permissive": true}"#);
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let work_dir = dir.join("agent");
    let flags = vec![
        "--authenticate_http_executors".to_string(),
        "--authenticate_http_readonly".to_string(),
        format!("--jwt_secret_key={key}"),
        format!("--http_credentials={credentials}"),
        format!("--acls={acls}"),
    ];
    let ops = basic("ops", "s3cret-ops");
    let mut agent_daemon = spawn_agent_logged(&master, port, &work_dir, &flags, None);
    registered(&agent, Some(&ops)).await;

    let mut framework = TestFramework::subscribe(&master, "tokens", true).await;
    let fid = framework.sub.framework_id.clone();
    let offer = framework.next_offer().await;
    framework
        .launch(
            &offer,
            vec![command_task("cmd", &offer, "cpus:0.1;mem:32", "sleep 600")],
        )
        .await;
    until_states(&mut framework, &[("cmd", TaskState::TaskRunning)]).await;
    let offer = framework.next_offer().await;
    let group = launch_group(
        &fid,
        &offer,
        "group-executor",
        vec![command_task("g1", &offer, "cpus:0.1;mem:32", "sleep 600")],
    );
    framework.sub.call(group).await.unwrap();
    until_states(&mut framework, &[("g1", TaskState::TaskRunning)]).await;

    // Each executor's token, read from its environment.
    let pids = executor_pids(&work_dir);
    let env_of = |eid: &str| environ(pids[eid]);
    let (cmd_env, group_env) = (env_of("cmd"), env_of("group-executor"));
    let token = |env: &BTreeMap<String, String>| {
        env.get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
            .cloned()
            .expect("the executor has a token")
    };
    let (cmd_token, group_token) = (token(&cmd_env), token(&group_env));
    assert_ne!(cmd_token, group_token);
    // The tasks do not inherit the token (Mesos's command executor removes it from the
    // task's environment; a task of a group runs in a nested container the agent starts).
    let cmd_pid = pids["cmd"];
    let children = std::fs::read_to_string(format!("/proc/{cmd_pid}/task/{cmd_pid}/children"))
        .unwrap_or_default();
    assert!(!children.trim().is_empty(), "cmd runs its task");
    let tasks: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|pid: &i32| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c == b"sleep\x00600\x00" || c.ends_with(b"-c\0sleep 600\0"))
        })
        .filter(|pid| environ(*pid).contains_key("MESOS_SANDBOX"))
        .collect();
    assert!(tasks.len() >= 2, "both tasks run: {tasks:?}");
    for task in tasks {
        assert!(
            !environ(task).contains_key("MESOS_EXECUTOR_AUTHENTICATION_TOKEN"),
            "task process {task} got an executor's token"
        );
    }
    // The claims are the executor's ids (Mesos: fid, eid, cid; no expiry).
    let payload = cmd_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["fid"], fid.value.as_str());
    assert_eq!(claims["eid"], "cmd");
    assert!(claims["cid"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(claims.get("exp").is_none());

    // A token also opens the agent's read-only realm (`basic,jwt`, as Mesos built with SSL),
    // but it is no principal: Mesos's local authorizer gives a subject with claims and no
    // value a rejecting approver for every action but the nested-container ones
    // (src/authorizer/local/authorizer.cpp `getApprover`), where ops gets `permissive`.
    let bearer = format!("Bearer {cmd_token}");
    for path in ["/metrics/snapshot", "/flags", "/containers"] {
        let url = format!("http://{agent}{path}");
        assert_eq!(get(&url, Some(&ops)).await.0, 200, "{path}");
        assert_eq!(get(&url, Some(&bearer)).await.0, 403, "{path}");
    }
    let frameworks = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["frameworks"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let state = format!("http://{agent}/state");
    let (status, _, body) = get(&state, Some(&ops)).await;
    assert_eq!((status, frameworks(&body)), (200, 1), "{body}");
    let (status, _, body) = get(&state, Some(&bearer)).await;
    assert_eq!((status, frameworks(&body)), (200, 0), "{body}");

    let executor_api = format!("http://{agent}/api/v1/executor");
    let to_group = message_call(&fid.value, "group-executor");
    // The command executor's token for the default executor's ids: 403.
    let (status, _, body) = post(
        &executor_api,
        Some(&format!("Bearer {cmd_token}")),
        &to_group,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("does not contain an 'eid' claim with the executor ID group-executor"),
        "{body}"
    );
    // No token: 401 with the challenges of both authenticators (`basic,jwt`).
    let (status, headers, _) = post(&executor_api, None, &to_group).await;
    assert_eq!(
        (status, challenge(&headers).as_str()),
        (
            401,
            r#"Basic realm="mesos-agent-executor",Bearer realm="mesos-agent-executor""#
        )
    );
    // The default executor's own claims, unsigned (`alg: none`) or signed with another key.
    let group_payload = group_token.split('.').nth(1).unwrap();
    let none = format!(
        "Bearer {}.{group_payload}.",
        b64url(r#"{"alg":"none","typ":"JWT"}"#)
    );
    let (status, headers, _) = post(&executor_api, Some(&none), &to_group).await;
    assert_eq!(status, 401);
    assert!(challenge(&headers).contains(r#"error="invalid_token""#));
    let other =
        remesos::security::jwt::JwtKey::new(b"not the agent's key, also 32+ bytes").unwrap();
    let claims: remesos::security::jwt::Claims =
        serde_json::from_slice::<BTreeMap<String, String>>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(group_payload)
                .unwrap(),
        )
        .unwrap();
    let forged = format!("Bearer {}", remesos::security::jwt::create(&other, &claims));
    let (status, headers, _) = post(&executor_api, Some(&forged), &to_group).await;
    assert_eq!(status, 401);
    assert!(
        challenge(&headers).contains("Token signature does not match"),
        "{}",
        challenge(&headers)
    );
    // An operator's Basic credential passes the realm but is no executor: 403.
    let (status, _, body) = post(&executor_api, Some(&basic("ops", "s3cret-ops")), &to_group).await;
    assert_eq!(status, 403, "{body}");
    // The default executor's own token: taken.
    let (status, _, body) = post(
        &executor_api,
        Some(&format!("Bearer {group_token}")),
        &to_group,
    )
    .await;
    assert_eq!(status, 202, "{body}");

    // Agent restart: the executors of this checkpointing framework keep running and
    // resubscribe with the tokens they were given; kills reach them through the agent.
    assert!(agent_daemon.terminate().is_some(), "the agent stopped");
    drop(agent_daemon);
    let log = dir.join("agent-restarted.log");
    let _agent_daemon = spawn_agent_logged(&master, port, &work_dir, &flags, Some(&log));
    registered(&agent, Some(&ops)).await;
    // Both executors resubscribed, authenticated by their tokens, before anything is killed.
    let text = wait_for_log_count(&log, "executor subscribed", 2).await;
    assert!(
        !text.contains("refused an unauthenticated request"),
        "{text}"
    );
    let (status, _, body) = post(
        &executor_api,
        Some(&format!("Bearer {group_token}")),
        &to_group,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let agent_id = offer.agent_id.clone();
    framework.kill("cmd", &agent_id).await;
    framework.kill("g1", &agent_id).await;
    until_states(
        &mut framework,
        &[
            ("cmd", TaskState::TaskKilled),
            ("g1", TaskState::TaskKilled),
        ],
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads `log` until it contains `needle` (the agent logged the master's refusal).
async fn wait_for_log(log: &Path, needle: &str) -> String {
    wait_for_log_count(log, needle, 1).await
}

/// Reads `log` until it contains `needle` `count` times.
async fn wait_for_log_count(log: &Path, needle: &str, count: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.matches(needle).count() >= count {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "'{needle}' not in the agent's log:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many agents the master has registered (`/master/slaves`).
async fn registered_agents(master: &str, authorization: Option<&str>) -> usize {
    let (status, _, body) = get(&format!("http://{master}/master/slaves"), authorization).await;
    assert_eq!(status, 200, "{body}");
    let slaves: serde_json::Value = serde_json::from_str(&body).unwrap();
    slaves["slaves"].as_array().map_or(0, Vec::len)
}

/// Mesos's master with `--authenticate_agents` refuses the registration of an agent that did
/// not authenticate (`Master::registerSlave`), and the agent keeps retrying with backoff:
/// without `--credential`, or with a wrong secret, the agent's session is refused and it is
/// not registered; with the right credential it registers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_with_authenticate_agents_registers_only_agents_with_a_valid_credential() {
    let dir = temp_dir("authn-agent-credential");
    let credentials = write(
        &dir,
        "credentials.json",
        r#"{"credentials": [{"principal": "agent", "secret": "agent-secret"}]}"#,
    );
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let _master = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--work_dir={}", dir.join("master").display()))
            .arg("--authenticate_agents")
            .arg(format!("--credentials={credentials}"))
            .args(["--allocation_interval=100ms", "--quiet"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start remesos master"),
    );
    listening(&master).await;

    // No credential: refused, retried.
    let agent_port = free_port();
    let log = dir.join("agent-none.log");
    let mut agent = spawn_agent_logged(
        &master,
        agent_port,
        &dir.join("agent"),
        &[] as &[&str],
        Some(&log),
    );
    wait_for_log(&log, "no credential presented").await;
    assert_eq!(registered_agents(&master, None).await, 0);
    agent.kill9();

    // A wrong secret: refused.
    let wrong = write(
        &dir,
        "wrong.json",
        r#"{"principal": "agent", "secret": "guess"}"#,
    );
    let log = dir.join("agent-wrong.log");
    let mut agent = spawn_agent_logged(
        &master,
        agent_port,
        &dir.join("agent"),
        &[format!("--credential={wrong}")],
        Some(&log),
    );
    let text = wait_for_log(&log, "invalid credential").await;
    assert!(
        !text.contains("guess"),
        "the secret is never logged:\n{text}"
    );
    assert_eq!(registered_agents(&master, None).await, 0);
    agent.kill9();

    // The right credential: registered.
    let right = write(
        &dir,
        "right.json",
        r#"{"principal": "agent", "secret": "agent-secret"}"#,
    );
    let _agent = spawn_agent_logged(
        &master,
        agent_port,
        &dir.join("agent"),
        &[format!("--credential=file://{right}")],
        None,
    );
    registered(&format!("127.0.0.1:{agent_port}"), None).await;
    assert_eq!(registered_agents(&master, None).await, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
