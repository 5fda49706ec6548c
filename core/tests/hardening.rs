//! Issue 11 ("nothing on the network can crash, fool or escalate through remesos"), end to
//! end against the real `remesos` binary: an agent marked gone exits when it comes back
//! (defect 6), a framework's out-of-range `failover_timeout` is a 400 and the master keeps
//! serving (defect 3), and security settings remesos does not implement stop the daemon
//! instead of failing open (defect 5).

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::{Daemon, free_port, post_json, registered_agent_state, spawn_agent, spawn_master};

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "hardening-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits (at most `within`) for `daemon` to exit; its status.
fn exit_status(daemon: &mut Daemon, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = daemon.0.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Defect 6. Mesos's master answers the reregistration of a gone agent with a
/// `ShutdownMessage` ("Agent has been marked gone", master.cpp `reregisterSlave`); the agent
/// then shuts down and its process exits with `EXIT_SUCCESS` (slave/main.cpp), forgetting
/// its id. Marked gone while it was down, the agent used to retry forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_marked_gone_while_down_exits_when_it_comes_back() {
    let dir = scratch("gone");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent_dir = dir.join("agent");
    let mut agent = spawn_agent(&master, port, &agent_dir, &[]);
    let state = registered_agent_state(&format!("127.0.0.1:{port}")).await;
    let agent_id = state["id"].as_str().unwrap().to_string();
    agent.kill9();

    let gone = format!(
        r#"{{"type":"MARK_AGENT_GONE","mark_agent_gone":{{"agent_id":{{"value":"{agent_id}"}}}}}}"#
    );
    let (status, body) = post_json(&master, "/api/v1", &gone).await;
    assert_eq!(status, 200, "{body}");

    // It restarts, recovers its id and tries to reregister.
    let latest = agent_dir.join("meta/slaves/latest");
    assert!(std::fs::symlink_metadata(&latest).is_ok(), "{latest:?}");
    let mut agent = spawn_agent(&master, port, &agent_dir, &[]);
    let status = exit_status(&mut agent, Duration::from_secs(60))
        .expect("the gone agent kept running (retrying to reregister)");
    assert!(status.success(), "{status:?}");
    assert!(
        std::fs::symlink_metadata(&latest).is_err(),
        "{latest:?} remains: the next start would try the gone id again"
    );
}

/// Defect 3. Mesos's `validateFailoverTimeout` (master/validation.cpp): a failover_timeout
/// stout's `Duration::create` cannot hold is refused with "The framework failover_timeout
/// (<value>) is invalid". On main 1.5e19 was accepted and closing the stream panicked the
/// master actor: `/health` still said 200 while every other endpoint answered 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_range_failover_timeout_is_a_400_and_the_master_keeps_serving() {
    let dir = scratch("failover");
    let (_master, master) = spawn_master(&dir).await;
    let subscribe = |timeout: &str| {
        format!(
            r#"{{"type":"SUBSCRIBE","subscribe":{{"framework_info":{{"user":"u","name":"big","failover_timeout":{timeout}}}}}}}"#
        )
    };
    // Bounded: on main this opened a subscription stream that never ends.
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(20),
        post_json(&master, "/api/v1/scheduler", &subscribe("1.5e19")),
    )
    .await
    .expect("a 400 answer, not a subscription stream");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body, "The framework failover_timeout (1.5e+19) is invalid");

    // The largest valid one (about 292 years) subscribes; its stream then closes.
    let http = remesos::client::HttpClient::default();
    let response = http
        .post(
            &format!("http://{master}/api/v1/scheduler"),
            "application/json",
            "application/json",
            &[],
            subscribe("9.2e9").into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    drop(response);

    // The master saw the disconnect, keeps the framework for its failover timeout, and
    // serves every endpoint.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = http
            .get(&format!("http://{master}/master/frameworks"))
            .await
            .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let state: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let frameworks = state["frameworks"].as_array().unwrap();
        assert_eq!(frameworks.len(), 1, "{state}");
        if frameworks[0]["connected"] == false {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the disconnect was not seen: {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) = http.get(&format!("http://{master}/health")).await.unwrap();
    assert_eq!(status, 200);
    let (status, _) = http
        .get(&format!("http://{master}/master/state"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, health) = support::operator_call(&master, r#"{"type":"GET_HEALTH"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(health["get_health"]["healthy"], true, "{health}");
}
