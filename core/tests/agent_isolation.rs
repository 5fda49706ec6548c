//! A real `remesos agent` under a real `remesos master`: the fetcher on the launch path
//! (reference/mesos-contract.md §4.4), the v1 operator API's LIST_FILES/READ_FILE and
//! GET_CONTAINERS usage (§3.4), isolation (DESIGN.md §5): cgroups memory and cpu limits,
//! the memory limitation (`REASON_CONTAINER_LIMITATION_MEMORY`), a pid namespace; and task
//! groups (LAUNCH_GROUP) under the built-in default executor.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
use support::temp_dir;

use std::time::Duration;

use base64::Engine;
use remesos_proto::v1;
use serde_json::Value;
use support::{TestFramework, command_task, free_port, operator_call, spawn_agent, spawn_master};
use v1::TaskState;

/// GET `http://{agent}{path}`: the status and the body as JSON (as a JSON string when it is
/// not JSON).
async fn get_json(agent: &str, path: impl AsRef<str>) -> (u16, Value) {
    let url = format!("http://{agent}{}", path.as_ref());
    let (status, _, body) = support::raw_request("GET", &url, &[], vec![]).await;
    let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, json)
}

async fn read_file(agent: &str, path: &str) -> String {
    let (status, body) = operator_call(
        agent,
        &format!(r#"{{"type":"READ_FILE","read_file":{{"path":"{path}","offset":0}}}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "READ_FILE");
    let data = body["read_file"]["data"].as_str().unwrap_or("");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_uris_files_api_and_usage_on_a_real_agent() {
    let dir = temp_dir("agent-fetch");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let _agent = spawn_agent(&master, port, &dir.join("agent"), &[]);
    support::registered_agent_state(&agent).await;
    let payload = dir.join("payload.txt");
    std::fs::write(&payload, "fetched-payload\n").unwrap();

    let mut framework = TestFramework::subscribe(&master, "fetch", false).await;
    let fid = framework.sub.framework_id.value.clone();
    let offer = framework.next_offer().await;
    let uri = |value: &str| v1::command_info::Uri {
        value: value.into(),
        ..Default::default()
    };
    let mut ok = command_task("fetch-ok", &offer, "cpus:0.2;mem:32", "cat payload.txt");
    ok.command.as_mut().unwrap().uris = vec![uri(payload.to_str().unwrap())];
    let mut bad = command_task("fetch-bad", &offer, "cpus:0.2;mem:32", "true");
    bad.command.as_mut().unwrap().uris = vec![uri("/nonexistent/x.bin")];
    let sleeper = command_task("sleeper", &offer, "cpus:0.2;mem:32", "sleep 600");
    framework.launch(&offer, vec![ok, bad, sleeper]).await;

    let mut sleeper_running = false;
    let ends = {
        let mut ends = std::collections::BTreeMap::new();
        while ends.len() < 2 || !sleeper_running {
            let status = framework.next_update(Duration::from_secs(60)).await;
            let id = status.task_id.value.clone();
            if id == "sleeper" && status.state == TaskState::TaskRunning as i32 {
                sleeper_running = true;
            }
            if TaskState::try_from(status.state).is_ok_and(remesos::common::protocol::is_terminal) {
                ends.insert(id, status);
            }
        }
        ends
    };
    assert_eq!(
        ends["fetch-ok"].state,
        TaskState::TaskFinished as i32,
        "{:?}",
        ends["fetch-ok"]
    );
    let failed = &ends["fetch-bad"];
    assert_eq!(failed.state, TaskState::TaskFailed as i32);
    assert!(
        failed
            .message
            .as_deref()
            .unwrap_or("")
            .starts_with("Failed to fetch '/nonexistent/x.bin'"),
        "{failed:?}"
    );

    // READ_FILE and LIST_FILES on the virtual latest-run path (reference §4.2).
    let run = format!("/frameworks/{fid}/executors/fetch-ok/runs/latest");
    assert_eq!(
        read_file(&agent, &format!("{run}/stdout")).await,
        "fetched-payload\n"
    );
    let (status, body) = operator_call(
        &agent,
        &format!(r#"{{"type":"LIST_FILES","list_files":{{"path":"{run}"}}}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["list_files"]["file_infos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for name in ["payload.txt", "stdout", "stderr"] {
        assert!(
            names.contains(&format!("{run}/{name}").as_str()),
            "{names:?}"
        );
    }
    // The fetcher's log lands in the sandbox's stderr, as Mesos's does.
    let stderr = read_file(
        &agent,
        &format!("/frameworks/{fid}/executors/fetch-bad/runs/latest/stderr"),
    )
    .await;
    assert!(
        stderr.contains("Fetching URI '/nonexistent/x.bin'"),
        "{stderr}"
    );
    let (status, _) = operator_call(
        &agent,
        r#"{"type":"READ_FILE","read_file":{"path":"/frameworks/nope/stdout","offset":0}}"#,
    )
    .await;
    assert_eq!(status, 404);

    // GET_CONTAINERS accounts the running executor's usage (posix isolation).
    let (status, body) = operator_call(&agent, r#"{"type":"GET_CONTAINERS"}"#).await;
    assert_eq!(status, 200, "{body}");
    let containers = body["get_containers"]["containers"].as_array().unwrap();
    let sleeper = containers
        .iter()
        .find(|c| c["executor_id"]["value"] == "sleeper")
        .expect("the sleeper's container");
    let stats = &sleeper["resource_statistics"];
    assert!(stats["processes"].as_u64().unwrap() >= 2, "{stats}");
    assert!(stats["mem_rss_bytes"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["mem_limit_bytes"], (64u64 << 20), "{stats}");
    let container_id = sleeper["container_id"]["value"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same executor on the monitoring endpoints, in Mesos's shapes (agent/monitor.rs).
    for path in ["/monitor/statistics", "/monitor/statistics.json"] {
        let (status, body) = get_json(&agent, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let entry = body
            .as_array()
            .unwrap_or_else(|| panic!("{path}: not an array: {body}"))
            .iter()
            .find(|e| e["executor_id"] == "sleeper")
            .unwrap_or_else(|| panic!("{path}: no sleeper: {body}"));
        assert_eq!(entry["framework_id"], fid.as_str(), "{entry}");
        assert!(
            entry["statistics"]["timestamp"].as_f64().is_some(),
            "{entry}"
        );
        assert_eq!(
            entry["statistics"]["mem_limit_bytes"],
            (64u64 << 20),
            "{entry}"
        );
    }
    let (status, body) = get_json(&agent, format!("/containers?container_id={container_id}")).await;
    assert_eq!(status, 200, "{body}");
    let only = body.as_array().unwrap();
    assert_eq!(only.len(), 1, "{body}");
    assert_eq!(only[0]["container_id"], container_id.as_str(), "{body}");
    assert_eq!(only[0]["executor_id"], "sleeper", "{body}");
    assert!(
        only[0]["statistics"]["processes"].as_u64().unwrap() >= 2,
        "{body}"
    );
    let (status, body) = get_json(
        &agent,
        format!("/containers?framework_id={fid}&executor_id=sleeper"),
    )
    .await;
    assert_eq!(
        (status, body.as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );
    let (status, body) = get_json(&agent, "/containers?framework_id=no-such-framework").await;
    assert_eq!(
        (status, body.as_array().map(Vec::len)),
        (200, Some(0)),
        "{body}"
    );
    // An executor id without its framework is Mesos's 400.
    let (status, body) = get_json(&agent, "/containers?executor_id=sleeper").await;
    assert_eq!(status, 400, "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Where this machine lets us create cgroups (v1 memory hierarchy or the v2 root), or why
/// not.
fn cgroups_writable() -> Result<(), String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").map_err(|e| e.to_string())?;
    let hierarchy = remesos::agent::isolator::detect(&mounts, "remesos-probe")
        .ok_or("no cgroup hierarchy with the memory controller")?;
    let probe = match hierarchy {
        remesos::agent::isolator::Hierarchy::V1 { memory, .. } => {
            memory.ok_or("no v1 memory hierarchy")?
        }
        remesos::agent::isolator::Hierarchy::V2 { root } => root,
    };
    std::fs::create_dir(&probe).map_err(|e| format!("cannot create {}: {e}", probe.display()))?;
    let _ = std::fs::remove_dir(&probe);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cgroups_limits_memory_limitation_and_a_pid_namespace() {
    if let Err(why) = cgroups_writable() {
        eprintln!("skipping the cgroups test: {why}");
        return;
    }
    let dir = temp_dir("agent-cgroups");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let root = format!("remesos-test-{port}");
    let mut agent_daemon = spawn_agent(
        &master,
        port,
        &dir.join("agent"),
        &[
            "--isolation=cgroups/cpu,cgroups/mem,namespaces/pid",
            &format!("--cgroups_root={root}"),
        ],
    );
    support::registered_agent_state(&agent).await;
    let mut framework = TestFramework::subscribe(&master, "cgroups", false).await;
    let fid = framework.sub.framework_id.value.clone();
    let offer = framework.next_offer().await;
    let tasks = vec![
        // Buffers 500 MB in one line: far over 64 MB + the executor's 32 MB.
        command_task(
            "hog",
            &offer,
            "cpus:0.2;mem:64",
            "head -c 500000000 /dev/zero | tail",
        ),
        command_task(
            "pidns",
            &offer,
            "cpus:0.2;mem:64",
            "echo pid=$$; echo procs=$(ls /proc | grep -c '^[0-9]')",
        ),
        command_task("limited", &offer, "cpus:0.5;mem:64", "sleep 600"),
    ];
    framework.launch(&offer, tasks).await;

    let mut limited_checked = false;
    let mut ends = std::collections::BTreeMap::new();
    while ends.len() < 3 {
        let status = framework.next_update(Duration::from_secs(60)).await;
        let id = status.task_id.value.clone();
        if id == "limited" && status.state == TaskState::TaskRunning as i32 && !limited_checked {
            limited_checked = true;
            // The container's cgroups carry its limits: executor (0.1 cpus, 32 MB) + task.
            let (_, body) = operator_call(&agent, r#"{"type":"GET_CONTAINERS"}"#).await;
            let containers = body["get_containers"]["containers"].as_array().unwrap();
            let container: &Value = containers
                .iter()
                .find(|c| c["executor_id"]["value"] == "limited")
                .unwrap();
            let cid = container["container_id"]["value"].as_str().unwrap();
            let stats = &container["resource_statistics"];
            assert_eq!(stats["mem_limit_bytes"], (96u64 << 20), "{stats}");
            assert!(stats["mem_total_bytes"].as_u64().unwrap() > 0, "{stats}");
            let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
            match remesos::agent::isolator::detect(&mounts, &root).unwrap() {
                remesos::agent::isolator::Hierarchy::V1 { cpu, memory, .. } => {
                    let memory = memory.unwrap().join(cid);
                    let limit =
                        std::fs::read_to_string(memory.join("memory.limit_in_bytes")).unwrap();
                    assert_eq!(limit.trim(), (96u64 << 20).to_string());
                    let shares =
                        std::fs::read_to_string(cpu.unwrap().join(cid).join("cpu.shares")).unwrap();
                    assert_eq!(shares.trim(), "614");
                }
                remesos::agent::isolator::Hierarchy::V2 { root } => {
                    let max = std::fs::read_to_string(root.join(cid).join("memory.max")).unwrap();
                    assert_eq!(max.trim(), (96u64 << 20).to_string());
                }
            }
            framework
                .kill("limited", status.agent_id.as_ref().unwrap())
                .await;
        }
        if TaskState::try_from(status.state).is_ok_and(remesos::common::protocol::is_terminal) {
            ends.insert(id, status);
        }
    }
    assert!(limited_checked);
    let hog = &ends["hog"];
    assert_eq!(hog.state, TaskState::TaskFailed as i32, "{hog:?}");
    assert_eq!(
        hog.reason,
        Some(v1::task_status::Reason::ContainerLimitationMemory as i32),
        "{hog:?}"
    );
    assert_eq!(
        hog.source,
        Some(v1::task_status::Source::Agent as i32),
        "{hog:?}"
    );
    assert!(
        hog.message
            .as_deref()
            .unwrap_or("")
            .starts_with("Memory limit exceeded: Requested: 96MB Maximum Used: "),
        "{hog:?}"
    );
    assert_eq!(ends["pidns"].state, TaskState::TaskFinished as i32);
    assert_eq!(ends["limited"].state, TaskState::TaskKilled as i32);

    // In its own pid namespace the executor is pid 1 and the task one of very few.
    let stdout = read_file(
        &agent,
        &format!("/frameworks/{fid}/executors/pidns/runs/latest/stdout"),
    )
    .await;
    let value = |key: &str| -> u32 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {stdout:?}"))
    };
    assert!(value("pid=") < 10, "{stdout}");
    assert!(value("procs=") < 10, "{stdout}");
    // The agent removes each container's cgroups when its executor ends; the root goes here.
    tokio::time::sleep(Duration::from_millis(500)).await;
    agent_daemon.kill9();
    for line in std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() > 2 && fields[2].starts_with("cgroup") {
            let _ = std::fs::remove_dir(std::path::Path::new(fields[1]).join(&root));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// ACCEPT's LAUNCH_GROUP with an ExecutorInfo of type DEFAULT runs under `remesos executor
/// --default`; as Mesos's default executor does, a task that fails takes its group down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_group_runs_under_the_default_executor() {
    let dir = temp_dir("agent-group");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let _agent = spawn_agent(&master, port, &dir.join("agent"), &[]);
    support::registered_agent_state(&agent).await;
    let mut framework = TestFramework::subscribe(&master, "groups", false).await;
    let fid = framework.sub.framework_id.value.clone();
    let offer = framework.next_offer().await;
    let role = offer
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.clone())
        .unwrap_or_else(|| "*".into());
    let mut executor_resources =
        remesos::resources::Resources::parse("cpus:0.1;mem:32", "*").unwrap();
    executor_resources.allocate(&role);
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: "group-executor".into(),
        },
        framework_id: Some(framework.sub.framework_id.clone()),
        resources: executor_resources.into_protos(),
        ..Default::default()
    };
    let tasks = vec![
        command_task("g-ok", &offer, "cpus:0.1;mem:32", "echo from-the-group"),
        command_task("g-fail", &offer, "cpus:0.1;mem:32", "sleep 1; exit 3"),
        command_task("g-long", &offer, "cpus:0.1;mem:32", "sleep 600"),
    ];
    let accept = v1::scheduler::Call {
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
    };
    framework.sub.call(accept).await.unwrap();
    let mut ends = std::collections::BTreeMap::new();
    let mut seen = Vec::new();
    while ends.len() < 3 {
        let status = framework.next_update(Duration::from_secs(60)).await;
        seen.push((status.task_id.value.clone(), status.state));
        assert_eq!(
            status.executor_id.as_ref().map(|e| e.value.as_str()),
            Some("group-executor")
        );
        if TaskState::try_from(status.state).is_ok_and(remesos::common::protocol::is_terminal) {
            ends.insert(status.task_id.value.clone(), status);
        }
    }
    assert_eq!(
        ends["g-ok"].state,
        TaskState::TaskFinished as i32,
        "{seen:?}"
    );
    assert_eq!(
        ends["g-fail"].state,
        TaskState::TaskFailed as i32,
        "{seen:?}"
    );
    assert_eq!(
        ends["g-fail"].message.as_deref(),
        Some("Command exited with status 3")
    );
    assert_eq!(
        ends["g-long"].state,
        TaskState::TaskKilled as i32,
        "{seen:?}"
    );
    // Each task of the group ran in a container of its own nested under the executor's
    // (default_executor.cpp), which its updates name; its output is in that container's
    // sandbox, `containers/<id>` below the executor's.
    let named = |task: &str| {
        let id = ends[task]
            .container_status
            .as_ref()
            .and_then(|c| c.container_id.clone())
            .unwrap_or_else(|| panic!("{task}'s update names no container: {seen:?}"));
        assert!(id.parent.is_some(), "{task}: {id:?}");
        id.value
    };
    let child = named("g-ok");
    assert_ne!(child, named("g-fail"));
    let stdout = read_file(
        &agent,
        &format!(
            "/frameworks/{fid}/executors/group-executor/runs/latest/containers/{child}/stdout"
        ),
    )
    .await;
    assert!(stdout.contains("from-the-group"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--isolation=disk/du` (Mesos's posix disk isolator): a task writing past its `disk` is
/// measured; with `--enforce_container_disk_quota` it fails with
/// `REASON_CONTAINER_LIMITATION_DISK` and Mesos's message while a task within its quota runs
/// on; without it the use shows in `/monitor/statistics` and nothing is killed. The flag
/// without the isolator is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_du_measures_sandboxes_and_enforces_the_quota_when_asked() {
    let dir = temp_dir("disk-du");
    let (_master, master) = spawn_master(&dir).await;
    let resources = "--resources=cpus:4;mem:2048;disk:1000";
    let writer = "dd if=/dev/zero of=big bs=1048576 count=3 2>/dev/null && sleep 600";

    // Enforced: the writer over its 1 MB fails, the small task stays.
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let _enforced = spawn_agent(
        &master,
        port,
        &dir.join("enforced"),
        &[
            resources,
            "--isolation=posix/cpu,posix/mem,disk/du",
            "--enforce_container_disk_quota",
            "--container_disk_watch_interval=100ms",
        ],
    );
    support::registered_agent_state(&agent).await;
    let mut framework = TestFramework::subscribe(&master, "disk-du", false).await;
    let offer = framework.next_offer().await;
    let over = command_task("over", &offer, "cpus:0.2;mem:32;disk:1", writer);
    let within = command_task("within", &offer, "cpus:0.2;mem:32;disk:10", writer);
    framework.launch(&offer, vec![over, within]).await;
    let failed = loop {
        let status = framework.next_update(Duration::from_secs(60)).await;
        if status.task_id.value == "over" && status.state == TaskState::TaskFailed as i32 {
            break status;
        }
        // Anything else (either task) is STARTING or RUNNING.
        assert!(
            status.state == TaskState::TaskStarting as i32
                || status.state == TaskState::TaskRunning as i32,
            "{status:?}"
        );
    };
    support::assert_disk_limitation(&failed, ") exceeds quota (1MB)");
    // The small task is measured (its 3 MB under 10 MB) and keeps running.
    let within = wait_for_disk_used(&agent, "within", 3 << 20).await;
    assert_eq!(within["statistics"]["disk_limit_bytes"], 10 << 20);
    let (_, state) = get_json(&agent, "/state").await;
    let running: Vec<&str> = state["frameworks"][0]["executors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["tasks"].as_array().unwrap())
        .filter(|t| t["state"] == "TASK_RUNNING")
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(running, vec!["within"], "{state}");

    // Not enforced: the same writer over its quota is only reported (a cluster of its own).
    let (_master, master) = spawn_master(&dir.join("second")).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let _reported = spawn_agent(
        &master,
        port,
        &dir.join("reported"),
        &[
            resources,
            "--isolation=disk/du",
            "--container_disk_watch_interval=100ms",
        ],
    );
    support::registered_agent_state(&agent).await;
    let mut framework = TestFramework::subscribe(&master, "disk-du-report", false).await;
    let offer = framework.next_offer().await;
    let over = command_task("over-reported", &offer, "cpus:0.2;mem:32;disk:1", writer);
    framework.launch(&offer, vec![over]).await;
    let entry = wait_for_disk_used(&agent, "over-reported", 3 << 20).await;
    assert_eq!(entry["statistics"]["disk_limit_bytes"], 1 << 20);
    let (_, state) = get_json(&agent, "/state").await;
    assert_eq!(
        state["frameworks"][0]["executors"][0]["tasks"][0]["state"], "TASK_RUNNING",
        "{state}"
    );

    // The flag without the isolator: the agent refuses to start.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args([
            "agent",
            &format!("--master={master}"),
            &format!("--work_dir={}", dir.join("refused").display()),
            "--enforce_container_disk_quota",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--enforce_container_disk_quota needs the disk/du or disk/xfs isolator"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--container_disk_watch_interval` must be a positive duration: zero, a negative value
/// and garbage are refused at agent start with a message naming the flag (a zero interval
/// would measure in a busy loop), and the agent writes nothing to its work dir.
#[test]
fn a_disk_watch_interval_that_is_not_positive_is_refused_at_start() {
    let dir = temp_dir("disk-watch-interval");
    let start = |value: &str, work_dir: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args([
                "agent",
                "--master=127.0.0.1:1",
                &format!("--work_dir={}", work_dir.display()),
                "--isolation=disk/du",
                &format!("--container_disk_watch_interval={value}"),
            ])
            .output()
            .unwrap()
    };
    for (i, value) in ["0secs", "0ns", "-5secs", "garbage", ""].iter().enumerate() {
        let work_dir = dir.join(i.to_string());
        let out = start(value, &work_dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value:?} accepted: {stderr}");
        assert!(
            stderr.contains("container_disk_watch_interval"),
            "{value:?}: {stderr}"
        );
        if i == 0 {
            assert!(
                stderr.contains("invalid --container_disk_watch_interval: must be more than 0secs"),
                "{stderr}"
            );
        }
        assert!(!work_dir.join("meta").exists(), "{value:?}");
    }
}

/// `/monitor/statistics`' entry of executor `executor_id` once its `disk_used_bytes` is at
/// least `bytes`.
async fn wait_for_disk_used(agent: &str, executor_id: &str, bytes: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, stats) = get_json(agent, "/monitor/statistics").await;
        let entry = stats
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["executor_id"] == executor_id)
            .cloned();
        if let Some(entry) = entry
            && entry["statistics"]["disk_used_bytes"].as_u64().unwrap_or(0) >= bytes
        {
            return entry;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{executor_id}'s disk use never reached {bytes}: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
