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
