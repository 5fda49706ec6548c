//! End to end: task checks and health checks (issue 16 items 2 and 6) through a real
//! `remesos master`, a real `remesos agent` and the real built-in executors, seen by a
//! framework on the v1 scheduler API. The checked services are real: `python3 -m
//! http.server` (needs `/usr/bin/python3`, Debian's `python3`) serving a directory the test
//! controls, so the test makes a service unhealthy by removing the file its check reads.
//!
//! Expected behaviour follows Mesos 1.11: `src/checks/health_checker.cpp` (an update on
//! the first success and on every failure past the grace period, the kill after
//! `consecutive_failures`), `src/checks/checker.cpp` (a check reports changes),
//! `src/launcher/executor.cpp` and `default_executor.cpp` (updates copy the last status;
//! the task killed by its health check ends TASK_KILLED with `healthy: false`),
//! `src/master/validation.cpp` (a bad definition is a TASK_ERROR).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use remesos_proto::v1;
use support::{Daemon, TestFramework, command_task, free_port, offer_resources};
use v1::TaskState;
use v1::task_status::Reason;

const PYTHON: &str = "/usr/bin/python3";

/// How long any one expected update may take (generous: the machine is shared).
const WITHIN: Duration = Duration::from_secs(60);

struct Cluster {
    _master: Daemon,
    _agent: Daemon,
    master: String,
    agent: String,
    dir: PathBuf,
}

async fn cluster(name: &str) -> Cluster {
    assert!(
        Path::new(PYTHON).exists(),
        "these tests need {PYTHON} (Debian's python3)"
    );
    let dir = std::env::temp_dir().join(format!(
        "remesos-checks-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (master_daemon, master) = support::spawn_master(&dir).await;
    let port = free_port();
    let agent = support::spawn_agent_logged(
        &master,
        port,
        &dir.join("agent"),
        &[] as &[&str],
        Some(&dir.join("agent.log")),
    );
    let address = format!("127.0.0.1:{port}");
    support::registered_agent_state(&address).await;
    Cluster {
        _master: master_daemon,
        _agent: agent,
        master,
        agent: address,
        dir,
    }
}

/// A directory served by `python3 -m http.server` on `port`, with an `ok` file in it.
fn site(dir: &Path) -> PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("ok"), "ok").unwrap();
    site
}

fn http_server(site: &Path, port: u16) -> String {
    format!(
        "exec {PYTHON} -m http.server {port} --bind 127.0.0.1 --directory {}",
        site.display()
    )
}

fn http_health(port: u16, path: &str) -> v1::HealthCheck {
    v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Http as i32),
        http: Some(v1::health_check::HttpCheckInfo {
            port: u32::from(port),
            path: Some(path.into()),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(1.0),
        timeout_seconds: Some(5.0),
        // Ignores the failures while the server starts, until its first success.
        grace_period_seconds: Some(120.0),
        consecutive_failures: Some(2),
        ..Default::default()
    }
}

/// What the framework saw of one update, for exact comparisons.
#[derive(Debug, PartialEq)]
struct Seen {
    task: String,
    state: TaskState,
    healthy: Option<bool>,
    reason: Option<Reason>,
}

fn seen(status: &v1::TaskStatus) -> Seen {
    Seen {
        task: status.task_id.value.clone(),
        state: TaskState::try_from(status.state).unwrap(),
        healthy: status.healthy,
        reason: status.reason.and_then(|r| Reason::try_from(r).ok()),
    }
}

fn expected(task: &str, state: TaskState, healthy: Option<bool>, reason: Option<Reason>) -> Seen {
    Seen {
        task: task.into(),
        state,
        healthy,
        reason,
    }
}

/// Reads updates (acknowledging them) into `log` until one satisfies `until`; returns it.
async fn wait_for(
    fw: &mut TestFramework,
    log: &mut Vec<v1::TaskStatus>,
    what: &str,
    mut until: impl FnMut(&v1::TaskStatus) -> bool,
) -> v1::TaskStatus {
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(
            !left.is_zero(),
            "no update {what} within {WITHIN:?}; saw {:?}",
            log.iter().map(seen).collect::<Vec<_>>()
        );
        let status = fw.next_update(left).await;
        log.push(status.clone());
        if until(&status) {
            return status;
        }
    }
}

fn terminal(status: &v1::TaskStatus) -> bool {
    remesos::common::protocol::is_terminal(TaskState::try_from(status.state).unwrap())
}

/// The HTTP service goes healthy, the test removes the file its health check reads, two
/// failures in a row (its `consecutive_failures`) follow and the executor kills the task:
/// exactly Mesos's sequence of updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_service_goes_healthy_then_unhealthy_and_is_killed() {
    let c = cluster("http").await;
    let mut fw = TestFramework::subscribe(&c.master, "checks-http", false).await;
    let offer = fw.next_offer().await;
    let site = site(&c.dir);
    let port = free_port();
    let mut task = command_task("web", &offer, "cpus:0.1;mem:64", &http_server(&site, port));
    task.health_check = Some(http_health(port, "/ok"));
    fw.launch(&offer, vec![task]).await;

    let mut log = Vec::new();
    wait_for(&mut fw, &mut log, "healthy", |s| s.healthy == Some(true)).await;
    std::fs::remove_file(site.join("ok")).unwrap();
    wait_for(&mut fw, &mut log, "terminal", terminal).await;

    let health = Some(Reason::TaskHealthCheckStatusUpdated);
    assert_eq!(
        log.iter().map(seen).collect::<Vec<_>>(),
        vec![
            expected("web", TaskState::TaskStarting, None, None),
            expected("web", TaskState::TaskRunning, None, None),
            expected("web", TaskState::TaskRunning, Some(true), health),
            expected("web", TaskState::TaskRunning, Some(false), health),
            expected("web", TaskState::TaskRunning, Some(false), health),
            expected("web", TaskState::TaskKilled, Some(false), None),
        ]
    );
    assert_eq!(
        log.last().unwrap().message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
}

/// A TCP health check and a COMMAND check on one task: the check reports its exit code
/// when it changes and each update keeps the other's field; the terminal update of a task
/// killed by its framework carries an empty check status and no health.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_health_and_command_check_updates_keep_each_other() {
    let c = cluster("tcp").await;
    let mut fw = TestFramework::subscribe(&c.master, "checks-tcp", false).await;
    let offer = fw.next_offer().await;
    let site = site(&c.dir);
    let port = free_port();
    let mut task = command_task("svc", &offer, "cpus:0.1;mem:64", &http_server(&site, port));
    task.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Tcp as i32),
        tcp: Some(v1::health_check::TcpCheckInfo {
            port: u32::from(port),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(1.0),
        grace_period_seconds: Some(120.0),
        ..Default::default()
    });
    task.check = Some(v1::CheckInfo {
        r#type: Some(v1::check_info::Type::Command as i32),
        command: Some(v1::check_info::Command {
            command: v1::CommandInfo {
                // The task's environment and sandbox: MESOS_SANDBOX is set, `site` is not
                // relative to it, the variable comes from the check's own environment.
                value: Some("test -n \"$MESOS_SANDBOX\" && test -f \"$SITE/ok\"".into()),
                environment: Some(v1::Environment {
                    variables: vec![v1::environment::Variable {
                        name: "SITE".into(),
                        value: Some(site.display().to_string()),
                        ..Default::default()
                    }],
                }),
                ..Default::default()
            },
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.5),
        ..Default::default()
    });
    fw.launch(&offer, vec![task]).await;

    let exit_code = |s: &v1::TaskStatus| {
        s.check_status
            .as_ref()
            .and_then(|c| c.command.as_ref())
            .and_then(|c| c.exit_code)
    };
    let mut log = Vec::new();
    let starting = wait_for(&mut fw, &mut log, "starting", |_| true).await;
    assert_eq!(
        starting.check_status,
        Some(v1::CheckStatusInfo {
            r#type: Some(v1::check_info::Type::Command as i32),
            command: Some(Default::default()),
            ..Default::default()
        }),
        "every update of a checked task carries a check status"
    );
    // Both first results, in either order.
    wait_for(&mut fw, &mut log, "healthy and checked", |s| {
        s.healthy == Some(true) && exit_code(s) == Some(0)
    })
    .await;
    std::fs::remove_file(site.join("ok")).unwrap();
    let changed = wait_for(&mut fw, &mut log, "check exit 1", |s| {
        exit_code(s) == Some(1)
    })
    .await;
    assert_eq!(changed.reason, Some(Reason::TaskCheckStatusUpdated as i32));
    assert_eq!(changed.state, TaskState::TaskRunning as i32);
    assert_eq!(
        changed.healthy,
        Some(true),
        "the check update keeps the health"
    );

    fw.kill("svc", &offer.agent_id).await;
    let killed = wait_for(&mut fw, &mut log, "terminal", terminal).await;
    assert_eq!(killed.state, TaskState::TaskKilled as i32);
    assert_eq!(killed.healthy, None);
    assert_eq!(exit_code(&killed), None);
    assert!(killed.check_status.is_some());
    // Only changes were reported: one update per value of the check.
    let check_updates: Vec<Option<i32>> = log
        .iter()
        .filter(|s| s.reason == Some(Reason::TaskCheckStatusUpdated as i32))
        .map(exit_code)
        .collect();
    assert_eq!(check_updates, vec![Some(0), Some(1)]);
}

/// `/proc/<pid>/stat`: (state, parent pid), `None` once the process is gone.
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// The zombie children of `parent` (seen twice 200ms apart, so one caught between its
/// SIGKILL and its reaping does not count).
async fn lasting_zombies_of(parent: i32) -> Vec<i32> {
    let scan = || -> Vec<i32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| proc_stat(*pid) == Some(('Z', parent)))
            .collect()
    };
    let first = scan();
    if first.is_empty() {
        return first;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = scan();
    first.into_iter().filter(|p| second.contains(p)).collect()
}

fn pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// A COMMAND health check that hangs: each probe is killed at its timeout and counts as a
/// failure, so the task is killed after `consecutive_failures`; no check process is left
/// running nor a zombie of the executor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_command_health_check_times_out_and_leaves_no_process_behind() {
    let c = cluster("hang").await;
    let mut fw = TestFramework::subscribe(&c.master, "checks-hang", false).await;
    let offer = fw.next_offer().await;
    let dir = c.dir.display();
    let mut task = command_task(
        "hung",
        &offer,
        "cpus:0.1;mem:64",
        &format!("echo $PPID > {dir}/executor.pid; exec sleep 3600"),
    );
    task.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Command as i32),
        command: Some(v1::CommandInfo {
            // The check forks a child too: the whole process group must go.
            value: Some(format!(
                "echo $$ >> {dir}/checks; sleep 600 & exec sleep 600"
            )),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.5),
        timeout_seconds: Some(1.0),
        grace_period_seconds: Some(0.0),
        consecutive_failures: Some(3),
        ..Default::default()
    });
    fw.launch(&offer, vec![task]).await;

    let mut log = Vec::new();
    wait_for(&mut fw, &mut log, "unhealthy twice", |s| {
        s.healthy == Some(false) && s.state == TaskState::TaskRunning as i32
    })
    .await;
    wait_for(&mut fw, &mut log, "unhealthy twice", |s| {
        s.healthy == Some(false) && s.state == TaskState::TaskRunning as i32
    })
    .await;
    // The executor is alive (a third probe is under way): its timed-out probes were reaped.
    let executor: i32 = pids(&c.dir.join("executor.pid"))[0];
    assert!(proc_stat(executor).is_some(), "the executor is running");
    assert_eq!(lasting_zombies_of(executor).await, Vec::<i32>::new());

    let killed = wait_for(&mut fw, &mut log, "terminal", terminal).await;
    assert_eq!(killed.state, TaskState::TaskKilled as i32);
    assert_eq!(killed.healthy, Some(false));
    let health = Some(Reason::TaskHealthCheckStatusUpdated);
    assert_eq!(
        log.iter().skip(2).map(seen).collect::<Vec<_>>(),
        vec![
            expected("hung", TaskState::TaskRunning, Some(false), health),
            expected("hung", TaskState::TaskRunning, Some(false), health),
            expected("hung", TaskState::TaskRunning, Some(false), health),
            expected("hung", TaskState::TaskKilled, Some(false), None),
        ]
    );
    // Every check process (the shell exec'd into `sleep 600`) is gone or, reparented after
    // its SIGKILL, a zombie awaiting init: none is still running.
    let checks = pids(&c.dir.join("checks"));
    assert!(checks.len() >= 3, "{checks:?}");
    let deadline = std::time::Instant::now() + WITHIN;
    for pid in checks {
        while let Some((state, parent)) = proc_stat(pid) {
            if state == 'Z' && parent != executor {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "check process {pid} is still {state} (parent {parent})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A TCP health check pointing at a closed port fails at once (grace period 0): with
/// `consecutive_failures: 1` the first failure kills the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_check_on_a_closed_port_kills_the_task() {
    let c = cluster("closed").await;
    let mut fw = TestFramework::subscribe(&c.master, "checks-closed", false).await;
    let offer = fw.next_offer().await;
    let mut task = command_task("deaf", &offer, "cpus:0.1;mem:64", "exec sleep 3600");
    task.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Tcp as i32),
        tcp: Some(v1::health_check::TcpCheckInfo {
            port: u32::from(free_port()),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        grace_period_seconds: Some(0.0),
        consecutive_failures: Some(1),
        ..Default::default()
    });
    fw.launch(&offer, vec![task]).await;
    let mut log = Vec::new();
    wait_for(&mut fw, &mut log, "terminal", terminal).await;
    let health = Some(Reason::TaskHealthCheckStatusUpdated);
    assert_eq!(
        log.iter().map(seen).collect::<Vec<_>>(),
        vec![
            expected("deaf", TaskState::TaskStarting, None, None),
            expected("deaf", TaskState::TaskRunning, None, None),
            expected("deaf", TaskState::TaskRunning, Some(false), health),
            expected("deaf", TaskState::TaskKilled, Some(false), None),
        ]
    );
}

/// A task that exits while checked: its checks stop with it; the terminal update is the
/// task's own (FINISHED, with the empty check status). The task waits for its check's
/// marker and then 2 s more before it exits: a check outcome that comes after the task
/// ended is dropped (as Mesos's `taskCheckUpdated`), so without the wait the task could
/// see the marker and exit before the executor had the `touch`'s exit status (a race CI
/// hit under load, 2026-12-07).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checked_task_that_exits_ends_finished() {
    let c = cluster("exits").await;
    let mut fw = TestFramework::subscribe(&c.master, "checks-exits", false).await;
    let offer = fw.next_offer().await;
    let marker = c.dir.join("checked");
    let mut task = command_task(
        "brief",
        &offer,
        "cpus:0.1;mem:64",
        &format!(
            "while ! test -f {m}; do sleep 0.1; done; sleep 2; exit 0",
            m = marker.display()
        ),
    );
    task.check = Some(v1::CheckInfo {
        r#type: Some(v1::check_info::Type::Command as i32),
        command: Some(v1::check_info::Command {
            command: v1::CommandInfo {
                value: Some(format!("touch {}", marker.display())),
                ..Default::default()
            },
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.1),
        ..Default::default()
    });
    fw.launch(&offer, vec![task]).await;
    let mut log = Vec::new();
    let end = wait_for(&mut fw, &mut log, "terminal", terminal).await;
    assert_eq!(end.state, TaskState::TaskFinished as i32);
    assert_eq!(
        end.check_status.as_ref().and_then(|c| c.command),
        Some(Default::default())
    );
    assert!(
        log.iter().any(|s| s
            .check_status
            .as_ref()
            .and_then(|c| c.command.as_ref())
            .and_then(|c| c.exit_code)
            == Some(0)),
        "the check ran: {:?}",
        log.iter().map(seen).collect::<Vec<_>>()
    );
}

/// A task group (the default executor) with an HTTP-health-checked web task and a sidecar:
/// the web task's health check fails, it is killed and its group with it; both end
/// TASK_KILLED with `healthy: false`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_group_task_failing_its_health_check_is_killed_with_its_group() {
    let c = cluster("group").await;
    let mut fw = TestFramework::subscribe(&c.master, "checks-group", false).await;
    let offer = fw.next_offer().await;
    let site = site(&c.dir);
    let port = free_port();
    let mut web = command_task("web", &offer, "cpus:0.1;mem:64", &http_server(&site, port));
    let mut check = http_health(port, "/ok");
    check.consecutive_failures = Some(1);
    web.health_check = Some(check);
    let sidecar = command_task("sidecar", &offer, "cpus:0.1;mem:32", "exec sleep 3600");
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: "group".into(),
        },
        framework_id: Some(fw.sub.framework_id.clone()),
        resources: offer_resources(&offer, "cpus:0.1;mem:32"),
        ..Default::default()
    };
    let accept =
        remesos::common::protocol::launch_group_call(&offer, executor, vec![web, sidecar], None);
    fw.sub.call(accept).await.unwrap();

    let mut log = Vec::new();
    wait_for(&mut fw, &mut log, "healthy", |s| s.healthy == Some(true)).await;
    std::fs::remove_file(site.join("ok")).unwrap();
    let mut ended = 0;
    wait_for(&mut fw, &mut log, "both terminal", |s| {
        ended += usize::from(terminal(s));
        ended == 2
    })
    .await;
    let health = Some(Reason::TaskHealthCheckStatusUpdated);
    let of = |task: &str| {
        log.iter()
            .filter(|s| s.task_id.value == task)
            .map(seen)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("web"),
        vec![
            expected("web", TaskState::TaskStarting, None, None),
            expected("web", TaskState::TaskRunning, None, None),
            expected("web", TaskState::TaskRunning, Some(true), health),
            expected("web", TaskState::TaskRunning, Some(false), health),
            expected("web", TaskState::TaskKilled, Some(false), None),
        ]
    );
    assert_eq!(
        of("sidecar"),
        vec![
            expected("sidecar", TaskState::TaskStarting, None, None),
            expected("sidecar", TaskState::TaskRunning, None, None),
            expected("sidecar", TaskState::TaskKilled, Some(false), None),
        ]
    );
}

/// A bad definition through the real master: TASK_ERROR with Mesos's message, nothing
/// launched (the agent never sees the task).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_health_check_is_a_task_error() {
    let c = cluster("invalid").await;
    let mut fw = TestFramework::subscribe(&c.master, "checks-invalid", false).await;
    let offer = fw.next_offer().await;
    let mut task = command_task("bad", &offer, "cpus:0.1;mem:64", "exec sleep 3600");
    task.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Http as i32),
        http: Some(v1::health_check::HttpCheckInfo {
            port: 80,
            scheme: Some("gopher".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    fw.launch(&offer, vec![task]).await;
    let status = fw.next_update(WITHIN).await;
    assert_eq!(status.state, TaskState::TaskError as i32);
    assert_eq!(status.reason, Some(Reason::TaskInvalid as i32));
    assert_eq!(
        status.message.as_deref(),
        Some("Task uses invalid health check: Unsupported HTTP health check scheme: 'gopher'")
    );
    let state = support::registered_agent_state(&c.agent).await;
    assert_eq!(
        state["frameworks"].as_array().map(Vec::len),
        Some(0),
        "nothing reached the agent: {state}"
    );
}
