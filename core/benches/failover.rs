//! Master failover with 1,000 simulated agents and 10,000 tasks (issue 7 §6).
//!
//! `cargo bench -p remesos --bench failover` (optionally `-- <agents> <tasks_per_agent>
//! <session timeouts in s...>`). Starts a real ZooKeeper (tests/support/zookeeper.rs) and
//! two `remesos master --zk` processes; the simulated agents live in this process, one gRPC
//! session each, and share ONE master detector (one ZooKeeper session: ZooKeeper's
//! default `maxClientCnxns` is 60 per client address, so a detector per agent would be
//! refused beyond that). Each agent first *reregisters* with 10 RUNNING tasks of one
//! framework, as agents do after a failover, so the first leader knows 10,000 tasks and has
//! written 1,000 agents to the ZooKeeper registry; a scheduler subscribes. Then the leader
//! is killed with SIGKILL and the clock starts:
//!
//! * detection: kill -> the detector sees the standby's znode lead (bounded by the dead
//!   leader's session timeout: its ephemeral znode lives until the session expires);
//! * recovery: new leader detected -> every agent got Reregistered from it -> the scheduler
//!   got SUBSCRIBED from it (the new leader first recovers the registry from ZooKeeper).

#[path = "../tests/support/zookeeper.rs"]
mod zookeeper;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use remesos::client::Format;
use remesos::client::scheduler::Subscription;
use remesos::resources::Resources;
use remesos::zk::MasterDetector;
use remesos_proto::internal as wire;
use remesos_proto::v1;
use wire::agent_message::Message as FromAgent;
use wire::master_message::Message as ToAgent;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const FRAMEWORK: &str = "bench-framework";

struct Master {
    child: std::process::Child,
    address: String,
    log: std::path::PathBuf,
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_master(zk: &str, session: u64, dir: &std::path::Path) -> Master {
    let port = free_port();
    let log_path = dir.join(format!("master-{port}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args([
            "master",
            "--ip=127.0.0.1",
            "--hostname=127.0.0.1",
            &format!("--port={port}"),
            &format!("--zk={zk}"),
            &format!("--zk_session_timeout={session}secs"),
            "--agent_reregister_timeout=10mins",
            // INFO: the new leader's log gives the recovery timeline (printed after a run).
            "--logging_level=INFO",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start remesos master");
    Master {
        child,
        address: format!("127.0.0.1:{port}"),
        log: log_path,
    }
}

fn framework_info() -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "bench".into(),
        name: "failover-bench".into(),
        id: Some(v1::FrameworkId {
            value: FRAMEWORK.into(),
        }),
        checkpoint: Some(true),
        failover_timeout: Some(3600.0),
        ..Default::default()
    }
}

fn reregister(i: usize, tasks: usize) -> wire::Reregister {
    let agent_id = v1::AgentId {
        value: format!("bench-agent-{i}"),
    };
    let mut resources = Resources::parse("cpus:1;mem:64", "*").unwrap();
    resources.allocate("*");
    let task_resources = resources.into_protos();
    let tasks = (0..tasks)
        .map(|t| v1::Task {
            name: format!("t{t}"),
            task_id: v1::TaskId {
                value: format!("task-{i}-{t}"),
            },
            framework_id: v1::FrameworkId {
                value: FRAMEWORK.into(),
            },
            agent_id: agent_id.clone(),
            state: v1::TaskState::TaskRunning as i32,
            resources: task_resources.clone(),
            ..Default::default()
        })
        .collect();
    wire::Reregister {
        agent_info: v1::AgentInfo {
            hostname: format!("sim-{i}"),
            id: Some(agent_id),
            resources: Resources::parse("cpus:16;mem:4096", "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        },
        version: Some(remesos::common::version::MESOS_VERSION.into()),
        endpoint: Some(format!("127.0.0.1:{}", 20000 + i)),
        tasks,
        frameworks: vec![framework_info()],
        ..Default::default()
    }
}

/// One simulated agent: (re)registers with whichever master leads, answers pings, and
/// counts the masters it was reregistered by (`by` = that master's id). After a broken
/// session it retries as the real agent does (agent/runtime.rs): at once when the detector
/// names a new leader, otherwise after a backoff — never in a tight loop against a dead
/// master, which would only measure this process's own connection storm.
async fn sim_agent(
    i: usize,
    tasks: usize,
    detector: MasterDetector,
    reregistered: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<Instant>>>>,
) {
    let mut attempt = 0u32;
    loop {
        let master = detector.leader().await;
        session(i, tasks, &master, &reregistered).await;
        // A spread of 50 ms..1.6 s, doubling, as a stand-in for the agent's random backoff.
        let backoff = Duration::from_millis((50 + (i % 50) as u64) << attempt.min(4));
        attempt += 1;
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = detector.changed_from(&master) => attempt = 0,
        }
    }
}

async fn session(
    i: usize,
    tasks: usize,
    master: &str,
    reregistered: &std::sync::Mutex<std::collections::HashMap<String, Vec<Instant>>>,
) {
    let Ok(mut client) =
        wire::agent_service_client::AgentServiceClient::connect(format!("http://{master}")).await
    else {
        return;
    };
    let (tx, rx) = mpsc::channel::<wire::AgentMessage>(16);
    let _ = tx
        .send(wire::AgentMessage {
            message: Some(FromAgent::Reregister(reregister(i, tasks))),
        })
        .await;
    let Ok(response) = client.session(ReceiverStream::new(rx)).await else {
        return;
    };
    let mut inbound = response.into_inner();
    while let Some(Ok(message)) = inbound.next().await {
        match message.message {
            Some(ToAgent::Reregistered(r)) => {
                let by = r.master_info.map(|m| m.id).unwrap_or_default();
                reregistered
                    .lock()
                    .unwrap()
                    .entry(by)
                    .or_default()
                    .push(Instant::now());
            }
            Some(ToAgent::Ping(_)) => {
                let _ = tx
                    .send(wire::AgentMessage {
                        message: Some(FromAgent::Pong(wire::Pong {})),
                    })
                    .await;
            }
            _ => {}
        }
    }
}

struct Result {
    session: u64,
    detection: Duration,
    agents_back: Duration,
    framework_back: Duration,
}

async fn run(agents: usize, tasks: usize, session: u64) -> Result {
    let zk = zookeeper::ZooKeeper::start();
    let dir = std::env::temp_dir().join(format!("remesos-failover-bench-{}", zk.port));
    std::fs::create_dir_all(&dir).unwrap();
    let url = zk.url("/mesos");
    let first = start_master(&url, session, &dir);
    // The first master leads (the second contends after it).
    let detector = MasterDetector::parse_with_timeout(&url, Duration::from_secs(session)).unwrap();
    let leader = detector
        .leader_within(Duration::from_secs(60))
        .await
        .expect("a leader");
    assert_eq!(leader, first.address);
    let second = start_master(&url, session, &dir);
    let first_id = leader_id(&detector);

    let counts = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    for i in 0..agents {
        tokio::spawn(sim_agent(i, tasks, detector.clone(), counts.clone()));
    }
    let started = Instant::now();
    while counts.lock().unwrap().get(&first_id).map_or(0, Vec::len) < agents {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "agents did not register"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "  {agents} agents with {} tasks reregistered with the first leader in {:?}",
        agents * tasks,
        started.elapsed()
    );
    // The scheduler, following the leader.
    let subscribed_by = Arc::new(std::sync::Mutex::new(Vec::<(String, Instant)>::new()));
    {
        let detector = detector.clone();
        let subscribed_by = subscribed_by.clone();
        tokio::spawn(async move {
            loop {
                let call = v1::scheduler::call::Subscribe {
                    framework_info: framework_info(),
                    ..Default::default()
                };
                let Ok(mut sub) =
                    Subscription::subscribe_detected(&detector, call, Format::Protobuf).await
                else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let by = sub
                    .master_info
                    .as_ref()
                    .map(|m| m.id.clone())
                    .unwrap_or_default();
                subscribed_by.lock().unwrap().push((by, Instant::now()));
                while sub.next_event().await.is_ok() {}
            }
        });
    }
    while subscribed_by.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the registry writes of the admissions settle.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let perf = std::env::var("FAILOVER_PERF").ok().map(|out| {
        std::process::Command::new("perf")
            .args(["record", "-F", "1000", "-g", "-a", "-o", &out])
            .args(["--", "sleep", "5"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    });
    let mut first = first;
    let killed = Instant::now();
    let _ = first.child.kill();
    let _ = first.child.wait();
    while detector.current().as_deref() != Some(second.address.as_str()) {
        assert!(
            killed.elapsed() < Duration::from_secs(session * 3 + 30),
            "no new leader"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let detection = killed.elapsed();
    let new_id = leader_id(&detector);
    while counts.lock().unwrap().get(&new_id).map_or(0, Vec::len) < agents {
        assert!(
            killed.elapsed() < Duration::from_secs(300),
            "agents did not reregister"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let agents_back = killed.elapsed() - detection;
    {
        // When the agents got Reregistered, from the detected leader change.
        let mut at: Vec<Duration> = counts.lock().unwrap()[&new_id]
            .iter()
            .map(|t| t.duration_since(killed).saturating_sub(detection))
            .collect();
        at.sort();
        let pct = |p: usize| at[(at.len() - 1) * p / 100].as_secs_f64();
        eprintln!(
            "  agents reregistered: first +{:.3} s, median +{:.3} s, p90 +{:.3} s, last +{:.3} s",
            pct(0),
            pct(50),
            pct(90),
            pct(100)
        );
    }
    let framework_back = loop {
        if let Some((_, at)) = subscribed_by
            .lock()
            .unwrap()
            .iter()
            .find(|(by, _)| *by == new_id)
        {
            break at.duration_since(killed).saturating_sub(detection);
        }
        assert!(
            killed.elapsed() < Duration::from_secs(300),
            "the framework did not resubscribe"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    print_timeline(&second.log);
    if let Some(mut perf) = perf {
        let _ = perf.wait();
    }
    drop(second);
    drop(zk);
    let _ = std::fs::remove_dir_all(&dir);
    Result {
        session,
        detection,
        agents_back,
        framework_back,
    }
}

/// The new leader's own view of its recovery, from its log: when it learned it was elected,
/// when it had read the registry, when the last recovered agent was back.
fn print_timeline(log: &std::path::Path) {
    const MILESTONES: [&str; 3] = [
        "elected leading master",
        "registry recovered",
        "every recovered agent has reregistered",
    ];
    let text = std::fs::read_to_string(log).unwrap_or_default();
    for line in text.lines() {
        if MILESTONES.iter().any(|m| line.contains(m)) {
            eprintln!("  new leader: {}", line.trim());
        }
    }
}

/// The leading master's id, as its znode's MasterInfo says.
fn leader_id(detector: &MasterDetector) -> String {
    detector
        .subscribe()
        .and_then(|rx| rx.borrow().as_ref().map(|i| i.id.clone()))
        .expect("a leader")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let agents: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let tasks: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let mut sessions: Vec<u64> = args.iter().skip(2).filter_map(|a| a.parse().ok()).collect();
    if sessions.is_empty() {
        sessions = vec![10, 2];
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("master failover: {agents} agents x {tasks} tasks, one shared ZooKeeper detector");
    println!(
        "| session timeout | detection (kill -> new leader) | agents reregistered | framework resubscribed | total |"
    );
    println!("|---|---|---|---|---|");
    for session in sessions {
        let r = runtime.block_on(run(agents, tasks, session));
        println!(
            "| {} s | {:.2} s | +{:.3} s | +{:.3} s | {:.2} s |",
            r.session,
            r.detection.as_secs_f64(),
            r.agents_back.as_secs_f64(),
            r.framework_back.as_secs_f64(),
            (r.detection + r.agents_back.max(r.framework_back)).as_secs_f64()
        );
    }
}
