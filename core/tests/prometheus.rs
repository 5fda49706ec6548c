//! `/metrics` scraped by a real Prometheus server (issue 18 item 3): Debian's `prometheus`
//! (tests/run.sh installs it; run alone, this suite needs `prometheus` and `promtool` on
//! the PATH: `apt-get install prometheus`) scrapes a `remesos local` cluster's master and
//! agent on loopback every second. The test runs tasks, then asks Prometheus's HTTP API
//! (`/api/v1/query`) for the task counters and for histograms' `_count`, and checks them
//! against what the cluster did and what its `/metrics/snapshot` says. `promtool check
//! metrics` lints both daemons' text exposition.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use remesos::client::scheduler::Subscription;
use remesos::client::{Format, HttpClient};
use remesos::common::percent_encode;
use remesos_proto::v1;
use support::{Daemon, free_port, temp_dir};
use v1::scheduler as sched;

/// A tool this suite cannot run without: its absence fails the test with what to install.
fn require(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{tool}` is not on the PATH: this suite needs Debian's prometheus package \
         (`apt-get install prometheus`; tests/run.sh installs it)"
    );
}

/// `remesos local` with one agent, on free ports.
fn start_cluster(work_dir: &std::path::Path) -> (Daemon, String, String) {
    let port = free_port();
    let agent_port = loop {
        let p = free_port();
        if p != port {
            break p;
        }
    };
    let child = Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args(["local", "--num_agents=1", &format!("--port={port}")])
        .arg(format!("--first_agent_port={agent_port}"))
        .arg(format!("--work_dir={}", work_dir.display()))
        .args([
            "--resources=cpus:4;mem:1024",
            "--allocation_interval=100ms",
            "--quiet",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("start remesos local");
    (
        Daemon(child),
        format!("127.0.0.1:{port}"),
        format!("127.0.0.1:{agent_port}"),
    )
}

/// Waits for `what` to hold, polling every 200 ms for at most a minute (a bound on a
/// wait, not a timing assertion).
async fn wait_for<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn get(url: &str) -> Option<(u16, Vec<u8>)> {
    let (status, body) = HttpClient::default().get(url).await.ok()?;
    Some((status, body.to_vec()))
}

/// The value of `query` (an instant query with one series) in Prometheus, if it has one.
async fn query(prometheus: &str, query: &str) -> Option<f64> {
    let url = format!(
        "http://{prometheus}/api/v1/query?query={}",
        percent_encode(query)
    );
    let (status, body) = get(&url).await?;
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_slice(&body).ok()?;
    let result = v["data"]["result"].as_array()?;
    if result.len() != 1 {
        return None;
    }
    result[0]["value"][1].as_str()?.parse().ok()
}

async fn snapshot(daemon: &str) -> Value {
    let (status, body) = get(&format!("http://{daemon}/metrics/snapshot"))
        .await
        .expect("metrics/snapshot");
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// Acknowledges and returns the next status update.
async fn next_update(sub: &mut Subscription) -> v1::TaskStatus {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(60), sub.next_event())
            .await
            .expect("an event in time")
            .unwrap();
        if let Some(update) = event.update {
            let status = update.status;
            if let Some(ack) = remesos::client::scheduler::acknowledge_call(&status) {
                sub.call(ack).await.unwrap();
            }
            return status;
        }
    }
}

/// Runs `remesos local`, lets Prometheus scrape it, runs three short tasks and one long
/// one, and reads the counters and histograms back through Prometheus's query API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_task_counters_and_histograms_that_match_the_cluster() {
    require("prometheus");
    require("promtool");
    let dir = temp_dir("prometheus");
    let (_cluster, master, agent) = start_cluster(&dir.join("cluster"));
    wait_for("the agent to register", || async {
        get(&format!("http://{master}/metrics/snapshot"))
            .await
            .and_then(|(_, body)| serde_json::from_slice::<Value>(&body).ok())
            .is_some_and(|m| m["master/slaves_active"] == 1.0)
    })
    .await;

    // Prometheus, scraping both daemons every second.
    let prometheus = format!("127.0.0.1:{}", free_port());
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: remesos-master\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['{master}']\n\
             \x20 - job_name: remesos-agent\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['{agent}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let _prometheus = Daemon(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prometheus}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    wait_for("prometheus to be ready", || async {
        get(&format!("http://{prometheus}/-/ready"))
            .await
            .is_some_and(|(s, _)| s == 200)
    })
    .await;
    for job in ["remesos-master", "remesos-agent"] {
        wait_for(&format!("{job} to be up"), || async {
            query(&prometheus, &format!("up{{job=\"{job}\"}}")).await == Some(1.0)
        })
        .await;
    }

    // Three tasks that finish, one that keeps running.
    let mut sub = Subscription::subscribe(
        &master,
        sched::call::Subscribe {
            framework_info: v1::FrameworkInfo {
                user: String::new(),
                name: "prometheus-e2e".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        Format::Protobuf,
    )
    .await
    .unwrap();
    let offer = loop {
        let event = tokio::time::timeout(Duration::from_secs(60), sub.next_event())
            .await
            .expect("an offer in time")
            .unwrap();
        if let Some(offers) = event.offers {
            break offers.offers[0].clone();
        }
    };
    let tasks = vec![
        support::command_task("a", &offer, "cpus:0.5;mem:32", "true"),
        support::command_task("b", &offer, "cpus:0.5;mem:32", "true"),
        support::command_task("c", &offer, "cpus:0.5;mem:32", "true"),
        support::command_task("long", &offer, "cpus:0.5;mem:32", "sleep 600"),
    ];
    sub.call(remesos::common::protocol::launch_call(&offer, tasks, None))
        .await
        .unwrap();
    let mut finished = 0;
    let mut long_running = false;
    let mut updates = 0;
    while finished < 3 || !long_running {
        let status = next_update(&mut sub).await;
        updates += 1;
        match v1::TaskState::try_from(status.state) {
            Ok(v1::TaskState::TaskFinished) => finished += 1,
            Ok(v1::TaskState::TaskRunning) if status.task_id.value == "long" => long_running = true,
            Ok(v1::TaskState::TaskStarting | v1::TaskState::TaskRunning) => {}
            other => panic!("unexpected update {other:?}: {status:?}"),
        }
    }

    // The counters Prometheus holds are the cluster's.
    let checks: [(&str, f64); 5] = [
        ("mesos_master_tasks_finished_total", 3.0),
        ("mesos_master_tasks_running", 1.0),
        ("mesos_slave_tasks_finished_total", 3.0),
        ("mesos_slave_tasks_running", 1.0),
        // Every task reached TASK_RUNNING once: four observations.
        ("remesos_master_task_launch_to_running_seconds_count", 4.0),
    ];
    for (name, want) in checks {
        wait_for(&format!("{name} = {want}"), || async {
            query(&prometheus, name).await == Some(want)
        })
        .await;
    }
    let m = snapshot(&master).await;
    assert_eq!(m["master/tasks_finished"], 3.0);
    assert_eq!(m["master/tasks_running"], 1.0);
    let a = snapshot(&agent).await;
    assert_eq!(a["slave/tasks_finished"], 3.0);
    // Every update the framework acknowledged made one round trip through the agent.
    let updates = f64::from(updates);
    wait_for("the agent's round trips", || async {
        query(
            &prometheus,
            "remesos_slave_status_update_round_trip_seconds_count",
        )
        .await
            == Some(updates)
    })
    .await;
    // The offer was accepted once; the histogram's buckets reach its count at +Inf.
    wait_for("the offer → accept histogram", || async {
        query(&prometheus, "remesos_master_offer_accept_seconds_count").await == Some(1.0)
            && query(
                &prometheus,
                "remesos_master_offer_accept_seconds_bucket{le=\"+Inf\"}",
            )
            .await
                == Some(1.0)
    })
    .await;
    // Scrapes are HTTP requests of the endpoint `/metrics`, labelled by its template.
    wait_for("the HTTP histogram of /metrics", || async {
        query(
            &prometheus,
            "remesos_http_request_duration_seconds_count{job=\"remesos-master\",endpoint=\"/metrics\"}",
        )
        .await
        .is_some_and(|n| n >= 1.0)
    })
    .await;
    // A framework's labels as Mesos encodes them in its keys.
    wait_for("the framework's running task by label", || async {
        query(
            &prometheus,
            "mesos_master_framework_tasks_active{framework_name=\"prometheus-e2e\",state=\"task_running\"}",
        )
        .await
            == Some(1.0)
    })
    .await;

    // Both daemons' text format passes promtool's checks; OpenMetrics when asked.
    let mut exposed = std::collections::BTreeSet::new();
    for daemon in [&master, &agent] {
        let (status, body) = get(&format!("http://{daemon}/metrics")).await.unwrap();
        assert_eq!(status, 200);
        exposed.extend(sample_names(&String::from_utf8_lossy(&body)));
        let mut promtool = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        promtool.stdin.take().unwrap().write_all(&body).unwrap();
        let out = promtool.wait_with_output().unwrap();
        // promtool also fails on style lints; two of them are Mesos's own names, kept on
        // purpose (`mesos_master_cpus_total` is a gauge in Mesos; `..._allocation_run_ms`
        // is Mesos's unit). Any other complaint, and every parse error, fails the test.
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let unexpected: Vec<&str> = report
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| {
                !(l.contains("non-counter metrics should not have \"_total\" suffix")
                    || l.contains("abbreviated units"))
            })
            .collect();
        assert!(
            out.status.success() || (unexpected.is_empty() && !report.trim().is_empty()),
            "promtool check metrics on {daemon}: {report}"
        );
        let om = reqwest_openmetrics(daemon).await;
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(om.contains("# TYPE mesos_"), "{om}");
    }

    // The dashboard's and the alerts' queries parse in this Prometheus and name only
    // metrics the daemons serve.
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let dashboard: Value =
        serde_json::from_slice(&std::fs::read(deploy.join("grafana/remesos.json")).unwrap())
            .unwrap();
    let mut exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    assert!(exprs.len() > 10, "{exprs:?}");
    let rules = std::fs::read_to_string(deploy.join("prometheus/alerts.yml")).unwrap();
    exprs.push(rules);
    for expr in &exprs {
        for name in metric_names(expr) {
            assert!(
                exposed.contains(&name),
                "{name} (in {expr}) is not served on /metrics"
            );
        }
    }
    for expr in exprs.iter().take(exprs.len() - 1) {
        let url = format!(
            "http://{prometheus}/api/v1/query?query={}",
            percent_encode(expr)
        );
        let (status, body) = get(&url).await.unwrap();
        assert_eq!(status, 200, "{expr}: {}", String::from_utf8_lossy(&body));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The sample names of a text exposition.
fn sample_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect()
}

/// The `mesos_*` and `remesos_*` metric names in a query or rules file.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = (text[i..].starts_with("mesos_") || text[i..].starts_with("remesos_"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if starts {
            let end = text[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(text.len(), |n| i + n);
            names.push(text[i..end].to_string());
            i = end;
        } else {
            i += 1;
        }
    }
    names
}

/// `promtool check rules` and `promtool test rules` on deploy/prometheus: the alerting
/// rules load, and fire (and only fire) as their unit tests say — a rule whose threshold
/// or `for` is changed fails `alerts_test.yml`.
#[test]
fn the_alerting_rules_pass_promtool_check_and_their_unit_tests() {
    require("promtool");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus");
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["test", "rules", "alerts_test.yml"][..],
        &["check", "config", "prometheus.yml"][..],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `/metrics` as Prometheus asks for it (`Accept: application/openmetrics-text`).
async fn reqwest_openmetrics(daemon: &str) -> String {
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let (status, headers, body) = support::raw_request(
        "GET",
        &format!("http://{daemon}/metrics"),
        &[("Accept", accept)],
        vec![],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let content_type = headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    body
}
