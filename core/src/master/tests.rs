//! Scenario tests of the master's state machine: simulated frameworks and agents, no
//! sockets. Each test drives handlers with explicit time and inspects the effects, as a
//! Nomad-style harness does. Rules cite reference/mesos-contract.md sections.

use std::time::{Duration, Instant};

use prost::Message as _;
use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::scheduler::{self as sched, call::Type as CallType, event::Type as EventType};
use wire::master_message::Message as ToAgent;

use super::scheduler::CallOk;
use super::validation::CallError;
use super::{Config, ConnId, Effect, Master, ReplyId, Time, dump};
use crate::resources::Resources;

struct Harness {
    master: Master,
    start: Instant,
    elapsed: Duration,
    next_conn: ConnId,
    effects: Vec<Effect>,
    /// Whether `pump` answers registry writes as durable at once, as the runtime does
    /// without a registrar; tests of the admission races answer them themselves.
    answer_registry: bool,
    /// Admission writes answered by `pump`, with the session each held.
    held: std::collections::HashMap<ReplyId, ConnId>,
}

struct Fw {
    id: String,
    conn: ConnId,
    stream: String,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_config(Config::default())
    }

    fn with_config(config: Config) -> Harness {
        let start = Instant::now();
        let t = Time {
            mono: start,
            wall: 1_700_000_000.0,
        };
        Harness {
            master: Master::new(config, "MASTER".to_string(), t),
            start,
            elapsed: Duration::ZERO,
            next_conn: 1,
            effects: Vec::new(),
            answer_registry: true,
            held: Default::default(),
        }
    }

    fn now(&self) -> Time {
        Time {
            mono: self.start + self.elapsed,
            wall: 1_700_000_000.0 + self.elapsed.as_secs_f64(),
        }
    }

    fn conn(&mut self) -> ConnId {
        self.next_conn += 1;
        self.next_conn
    }

    /// Collects effects decided so far (kept for inspection until `clear`). Registry
    /// writes that wait for an answer are answered durable (unless `answer_registry` is
    /// off), and what that releases is collected too.
    fn pump(&mut self) {
        loop {
            let effects = self.master.drain_effects();
            let replies: Vec<ReplyId> = effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Registry {
                        reply: Some(reply), ..
                    } => Some(*reply),
                    _ => None,
                })
                .collect();
            self.effects.extend(effects);
            if !self.answer_registry || replies.is_empty() {
                return;
            }
            for reply in replies {
                if let Some(conn) = self.master.admissions.held_by(reply) {
                    self.held.insert(reply, conn);
                }
                self.master.registry_done(reply, Ok(()));
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.elapsed += d;
        let now = self.now();
        self.master.tick(now);
        self.pump();
    }

    fn allocate(&mut self) {
        let now = self.now();
        self.master.request_allocation();
        self.master.allocate_if_requested(now);
        self.pump();
    }

    fn events(&mut self, conn: ConnId) -> Vec<sched::Event> {
        let mut out = Vec::new();
        self.effects.retain(|e| match e {
            Effect::Framework { conn: c, event } if *c == conn => {
                out.push((**event).clone());
                false
            }
            _ => true,
        });
        out
    }

    fn agent_messages(&mut self, conn: ConnId) -> Vec<ToAgent> {
        let mut out = Vec::new();
        self.effects.retain(|e| match e {
            Effect::Agent { conn: c, message } if *c == conn => {
                let decoded = wire::MasterMessage::decode(message.bytes().clone())
                    .expect("the master encodes what it sends");
                out.extend(decoded.message);
                false
            }
            _ => true,
        });
        out
    }

    fn subscribe(&mut self, info: v1::FrameworkInfo) -> Fw {
        let conn = self.conn();
        let stream = self.subscribe_on(conn, info);
        let events = self.events(conn);
        let subscribed = events
            .iter()
            .find(|e| e.r#type == Some(EventType::Subscribed as i32))
            .expect("SUBSCRIBED");
        let id = subscribed
            .subscribed
            .as_ref()
            .unwrap()
            .framework_id
            .value
            .clone();
        Fw { id, conn, stream }
    }

    /// SUBSCRIBE on connection `conn`; its events are left for `events`. Returns the
    /// stream id.
    fn subscribe_on(&mut self, conn: ConnId, info: v1::FrameworkInfo) -> String {
        let call = subscribe_call(info);
        let now = self.now();
        let stream = self.master.subscribe(now, conn, call).expect("subscribe");
        self.pump();
        stream
    }

    fn call(&mut self, fw: &Fw, mut call: sched::Call) -> Result<CallOk, CallError> {
        call.framework_id = Some(v1::FrameworkId {
            value: fw.id.clone(),
        });
        let now = self.now();
        let r = self.master.call(now, Some(&fw.stream), call);
        self.pump();
        r
    }

    fn add_agent(&mut self, hostname: &str, resources: &str) -> (String, ConnId) {
        let conn = self.conn();
        let info = v1::AgentInfo {
            hostname: hostname.to_string(),
            resources: Resources::parse(resources, "*").unwrap().into_protos(),
            ..Default::default()
        };
        let register = wire::Register {
            agent_info: info,
            endpoint: Some(format!("10.0.0.{}:5051", conn)),
            ..Default::default()
        };
        let now = self.now();
        let id = self
            .master
            .register_agent(now, conn, register)
            .expect("register")
            .to_string();
        self.pump();
        let msgs = self.agent_messages(conn);
        assert!(
            matches!(msgs.first(), Some(ToAgent::Registered(_))),
            "{msgs:?}"
        );
        (id, conn)
    }

    fn offers(&mut self, fw: &Fw) -> Vec<v1::Offer> {
        self.events(fw.conn)
            .into_iter()
            .filter_map(|e| e.offers)
            .flat_map(|o| o.offers)
            .collect()
    }

    /// Launches one command task of `resources` (role `*`) on the framework's first offer.
    fn launch_on_first_offer(&mut self, fw: &Fw, task_id: &str, resources: &str) {
        let offer = self.offers(fw).remove(0);
        let task = command_task(task_id, &offer.agent_id, resources, "*");
        self.call(fw, launch(&offer, vec![task], None)).unwrap();
    }

    fn updates(&mut self, fw: &Fw) -> Vec<v1::TaskStatus> {
        self.events(fw.conn)
            .into_iter()
            .filter_map(|e| e.update)
            .map(|u| u.status)
            .collect()
    }

    fn status_update(
        &mut self,
        agent: &str,
        fw: &Fw,
        task: &str,
        state: v1::TaskState,
        uuid: Option<Vec<u8>>,
    ) {
        let update = wire::StatusUpdate {
            framework_id: v1::FrameworkId {
                value: fw.id.clone(),
            },
            status: v1::TaskStatus {
                task_id: v1::TaskId {
                    value: task.to_string(),
                },
                state: state as i32,
                source: Some(v1::task_status::Source::Executor as i32),
                uuid,
                ..Default::default()
            },
            latest_state: None,
        };
        let now = self.now();
        self.master.agent_status_update(now, agent, update);
        self.pump();
    }
}

fn subscribe_call(info: v1::FrameworkInfo) -> sched::Call {
    sched::Call {
        r#type: Some(CallType::Subscribe as i32),
        subscribe: Some(sched::call::Subscribe {
            framework_info: info,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn framework(name: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "user".to_string(),
        name: name.to_string(),
        ..Default::default()
    }
}

fn capability(t: v1::framework_info::capability::Type) -> v1::framework_info::Capability {
    v1::framework_info::Capability {
        r#type: Some(t as i32),
    }
}

fn launch(offer: &v1::Offer, tasks: Vec<v1::TaskInfo>, refuse: Option<f64>) -> sched::Call {
    let filters = refuse.map(|s| v1::Filters {
        refuse_seconds: Some(s),
    });
    crate::common::protocol::launch_call(offer, tasks, filters)
}

fn command_task(id: &str, agent: &v1::AgentId, resources: &str, role: &str) -> v1::TaskInfo {
    let mut resources = Resources::parse(resources, "*").unwrap();
    resources.allocate(role);
    v1::TaskInfo {
        name: id.to_string(),
        task_id: v1::TaskId {
            value: id.to_string(),
        },
        agent_id: agent.clone(),
        resources: resources.into_protos(),
        command: Some(v1::CommandInfo {
            value: Some("true".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn decline(offer: &v1::Offer, refuse: Option<f64>) -> sched::Call {
    sched::Call {
        r#type: Some(CallType::Decline as i32),
        decline: Some(sched::call::Decline {
            offer_ids: vec![offer.id.clone()],
            filters: refuse.map(|s| v1::Filters {
                refuse_seconds: Some(s),
            }),
        }),
        ..Default::default()
    }
}

#[test]
fn framework_ids_are_master_id_and_a_four_digit_counter() {
    // Reference §2: FrameworkID = <masterId>-<4-digit zero-padded counter>.
    let mut h = Harness::new();
    let a = h.subscribe(framework("a"));
    let b = h.subscribe(framework("b"));
    assert_eq!(a.id, "MASTER-0000");
    assert_eq!(b.id, "MASTER-0001");
}

#[test]
fn subscribed_carries_heartbeat_interval_and_master_info() {
    let mut h = Harness::new();
    let conn = h.conn();
    h.subscribe_on(conn, framework("x"));
    let events = h.events(conn);
    // SUBSCRIBED comes first; the first HEARTBEAT follows it at once (issue 12 item 4).
    assert_eq!(events.len(), 2, "SUBSCRIBED, then HEARTBEAT");
    let s = events[0].subscribed.as_ref().unwrap();
    assert_eq!(s.heartbeat_interval_seconds, Some(15.0));
    let info = s.master_info.as_ref().unwrap();
    assert_eq!(
        info.ip,
        u32::from_le_bytes([127, 0, 0, 1]),
        "network byte order"
    );
    assert_eq!(info.port, 5050);
}

fn event_types(events: &[sched::Event]) -> Vec<EventType> {
    events
        .iter()
        .map(|e| EventType::try_from(e.r#type.unwrap_or_default()).unwrap_or(EventType::Unknown))
        .collect()
}

/// Issue 12 item 4: Mesos's master starts a framework's heartbeater right after sending
/// SUBSCRIBED ("Start the heartbeat after sending SUBSCRIBED event", `Master::_subscribe`,
/// src/master/master.cpp), and `Framework::heartbeat()` (src/master/framework.cpp) creates
/// it without a delay, so its first HEARTBEAT goes out at once (`ResponseHeartbeaterProcess::
/// initialize`, src/common/heartbeater.hpp). Line-by-line RecordIO readers deliver
/// SUBSCRIBED only when the next record arrives; on main it came with the global 15 s tick.
#[test]
fn first_heartbeat_follows_subscribed_at_once() {
    let mut h = Harness::new();
    let conn = h.conn();
    h.subscribe_on(conn, framework("x"));
    assert_eq!(
        event_types(&h.events(conn)),
        [EventType::Subscribed, EventType::Heartbeat],
        "no clock tick between them"
    );
}

/// Each framework's heartbeats keep their own beat from its subscription: the next one is
/// due `heartbeat_interval_seconds` after the first (`ResponseHeartbeaterProcess::heartbeat`
/// delays itself by the interval after each send, src/common/heartbeater.hpp), not on a
/// master-wide tick.
#[test]
fn heartbeats_follow_each_framework_subscription_time() {
    let mut h = Harness::new();
    let a = h.subscribe(framework("a"));
    h.advance(Duration::from_secs(5));
    let b = h.subscribe(framework("b"));
    h.events(a.conn);

    h.advance(Duration::from_secs(10)); // t = 15 s: a's beat, not b's
    assert_eq!(event_types(&h.events(a.conn)), [EventType::Heartbeat]);
    assert!(h.events(b.conn).is_empty(), "b subscribed at 5 s");

    h.advance(Duration::from_secs(5)); // t = 20 s: b's beat
    assert!(h.events(a.conn).is_empty());
    assert_eq!(event_types(&h.events(b.conn)), [EventType::Heartbeat]);

    h.advance(Duration::from_secs(10)); // t = 30 s: a's second
    assert_eq!(event_types(&h.events(a.conn)), [EventType::Heartbeat]);
    assert!(h.events(b.conn).is_empty());
}

/// A failed-over framework's new stream starts its own heartbeats: HEARTBEAT right after
/// its SUBSCRIBED (`Master::failoverFramework` calls `framework->heartbeat()` after
/// `_failoverFramework` sent SUBSCRIBED), the next an interval after the resubscription;
/// the old stream, closed with "Framework failed over", hears nothing more. A framework
/// that disconnected gets no heartbeats while it is away.
#[test]
fn failover_restarts_heartbeats_on_the_new_stream_only() {
    let mut h = Harness::new();
    let mut info = framework("fo");
    info.failover_timeout = Some(3600.0);
    let first = h.subscribe(info.clone());
    h.advance(Duration::from_secs(10));
    info.id = Some(v1::FrameworkId {
        value: first.id.clone(),
    });
    let conn = h.conn();
    h.subscribe_on(conn, info);
    assert_eq!(
        event_types(&h.events(conn)),
        [EventType::Subscribed, EventType::Heartbeat]
    );
    assert_eq!(event_types(&h.events(first.conn)), [EventType::Error]);

    h.advance(Duration::from_secs(5)); // t = 15 s: the old stream's beat, now gone
    assert!(h.events(first.conn).is_empty());
    assert!(
        h.events(conn).is_empty(),
        "due 15 s after the resubscription"
    );
    h.advance(Duration::from_secs(10)); // t = 25 s
    assert_eq!(event_types(&h.events(conn)), [EventType::Heartbeat]);

    let now = h.now();
    h.master.framework_disconnected(now, &first.id, conn);
    h.advance(Duration::from_secs(60));
    assert!(
        h.events(conn).is_empty(),
        "no heartbeats to a closed stream"
    );
    assert!(h.master.heartbeats.is_empty(), "its schedule ended with it");
}

/// Issue 11, defect 3: TaskInfo `limits` follow Mesos 1.11's `validateResourceLimits`
/// (master/validation.cpp) and its messages. remesos's agents do not advertise
/// TASK_RESOURCE_LIMITS (they do not enforce limits), so there any limit is a TASK_ERROR
/// and nothing reaches the agent; on main `cpus: 1e308` and `mem: -1` were launched.
#[test]
fn task_limits_need_a_capable_agent_and_follow_mesos_rules() {
    let mut h = Harness::new();
    let (_, agent_conn) = h.add_agent("host1", "cpus:4;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut task = command_task("t1", &offer.agent_id, "cpus:1;mem:128", "*");
    let limit = |v: f64| v1::value::Scalar { value: v };
    task.limits = [
        ("cpus".to_string(), limit(1e308)),
        ("mem".to_string(), limit(-1.0)),
    ]
    .into_iter()
    .collect();
    h.call(&fw, launch(&offer, vec![task], None)).unwrap();
    let updates = h.updates(&fw);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].state, v1::TaskState::TaskError as i32);
    assert_eq!(
        updates[0].message.as_deref(),
        Some("Agent is not capable of handling task resource limits")
    );
    assert!(
        !h.agent_messages(agent_conn)
            .iter()
            .any(|m| matches!(m, ToAgent::RunTask(_))),
        "nothing is launched"
    );

    // The rest of the rules, for an agent that would handle limits.
    use super::validation::validate_resource_limits;
    let requests = Resources::parse("cpus:1;mem:128", "*").unwrap();
    type Limits<'a> = &'a [(&'a str, f64)];
    let cases: Vec<(Limits, Result<(), &str>)> = vec![
        (&[("cpus", 1.0), ("mem", 128.0)], Ok(())),
        (&[("cpus", f64::INFINITY), ("mem", f64::INFINITY)], Ok(())),
        (&[("cpus", 1e308)], Ok(())),
        (
            &[("disk", 10.0)],
            Err("Only cpus and mem may be included in a task's resource limits"),
        ),
        (
            &[("cpus", 0.5)],
            Err("The cpu limit must be greater than or equal to the cpu request"),
        ),
        (
            &[("cpus", f64::NAN)],
            Err("The cpu limit must be greater than or equal to the cpu request"),
        ),
        (
            &[("mem", -1.0)],
            Err("The memory limit must be greater than or equal to the memory request"),
        ),
        (
            &[("mem", 64.0)],
            Err("The memory limit must be greater than or equal to the memory request"),
        ),
    ];
    for (limits, expected) in cases {
        let task = v1::TaskInfo {
            limits: limits
                .iter()
                .map(|(n, v)| (n.to_string(), limit(*v)))
                .collect(),
            ..Default::default()
        };
        assert_eq!(
            validate_resource_limits(&task, &requests, true).map_err(|e| e.to_string()),
            expected.map_err(str::to_string),
            "{limits:?}"
        );
    }
    let mem_only = Resources::parse("mem:128", "*").unwrap();
    let cpus_only = Resources::parse("cpus:1", "*").unwrap();
    let task = |name: &str| v1::TaskInfo {
        limits: [(name.to_string(), limit(2.0))].into_iter().collect(),
        ..Default::default()
    };
    assert_eq!(
        validate_resource_limits(&task("cpus"), &mem_only, true).map_err(|e| e.to_string()),
        Err("When a CPU limit is specified, a CPU request must also be specified".to_string())
    );
    assert_eq!(
        validate_resource_limits(&task("mem"), &cpus_only, true).map_err(|e| e.to_string()),
        Err(
            "When a memory limit is specified, a memory request must also be specified".to_string()
        )
    );
}

/// Mesos's `validateKillPolicy` and `validateMaxCompletionTime` (master/validation.cpp):
/// negative DurationInfos are a TASK_ERROR with Mesos's text; on main they were launched.
#[test]
fn negative_kill_grace_periods_and_completion_times_are_refused() {
    let mut h = Harness::new();
    let (_, agent_conn) = h.add_agent("host1", "cpus:4;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let negative = || {
        Some(v1::DurationInfo {
            nanoseconds: -1_000_000_000,
        })
    };
    let mut kill = command_task("kill", &offer.agent_id, "cpus:1;mem:128", "*");
    kill.kill_policy = Some(v1::KillPolicy {
        grace_period: negative(),
    });
    let mut completion = command_task("completion", &offer.agent_id, "cpus:1;mem:128", "*");
    completion.max_completion_time = negative();
    h.call(&fw, launch(&offer, vec![kill, completion], None))
        .unwrap();
    let messages: Vec<Option<String>> = h.updates(&fw).into_iter().map(|u| u.message).collect();
    assert_eq!(
        messages,
        vec![
            Some("Task's 'kill_policy.grace_period' must be non-negative".to_string()),
            Some("Task's `max_completion_time` must be non-negative".to_string()),
        ]
    );
    assert!(
        !h.agent_messages(agent_conn)
            .iter()
            .any(|m| matches!(m, ToAgent::RunTask(_)))
    );
}

/// Mesos's `validateCheck` and `validateHealthCheck` (master/validation.cpp, with
/// common/validation.cpp's texts): a task with a bad check definition ends TASK_ERROR
/// (REASON_TASK_INVALID) and nothing reaches the agent; in a task group, the whole group.
#[test]
fn tasks_with_invalid_checks_end_task_error_and_are_not_launched() {
    let mut h = Harness::new();
    let (_, agent_conn) = h.add_agent("host1", "cpus:4;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut relative = command_task("relative", &offer.agent_id, "cpus:1;mem:128", "*");
    relative.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Http as i32),
        http: Some(v1::health_check::HttpCheckInfo {
            port: 8080,
            path: Some("health".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let mut untyped = command_task("untyped", &offer.agent_id, "cpus:1;mem:128", "*");
    untyped.health_check = Some(v1::HealthCheck::default());
    let mut no_command = command_task("no-command", &offer.agent_id, "cpus:1;mem:128", "*");
    no_command.check = Some(v1::CheckInfo {
        r#type: Some(v1::check_info::Type::Command as i32),
        ..Default::default()
    });
    let mut negative = command_task("negative", &offer.agent_id, "cpus:1;mem:128", "*");
    negative.check = Some(v1::CheckInfo {
        r#type: Some(v1::check_info::Type::Tcp as i32),
        tcp: Some(v1::check_info::Tcp { port: 80 }),
        interval_seconds: Some(-1.0),
        ..Default::default()
    });
    h.call(
        &fw,
        launch(
            &offer,
            vec![relative, untyped, no_command, negative],
            Some(0.0),
        ),
    )
    .unwrap();
    let updates = h.updates(&fw);
    let seen: Vec<(i32, Option<i32>, Option<String>)> = updates
        .into_iter()
        .map(|u| (u.state, u.reason, u.message))
        .collect();
    let error = |message: &str| {
        (
            v1::TaskState::TaskError as i32,
            Some(v1::task_status::Reason::TaskInvalid as i32),
            Some(message.to_string()),
        )
    };
    assert_eq!(
        seen,
        vec![
            error(
                "Task uses invalid health check: The path 'health' of HTTP health check must \
                 start with '/'"
            ),
            error("Task uses invalid health check: HealthCheck must specify 'type'"),
            error("Task uses invalid check: Expecting 'command' to be set for COMMAND check"),
            error("Task uses invalid check: Expecting 'interval_seconds' to be non-negative"),
        ]
    );
    assert!(
        !h.agent_messages(agent_conn)
            .iter()
            .any(|m| matches!(m, ToAgent::RunTask(_)))
    );

    // A task group: one bad definition fails every task of the group.
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut bad = command_task("g-bad", &offer.agent_id, "cpus:1;mem:128", "*");
    bad.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Tcp as i32),
        tcp: Some(v1::health_check::TcpCheckInfo {
            port: 80,
            ..Default::default()
        }),
        timeout_seconds: Some(-5.0),
        ..Default::default()
    });
    let good = command_task("g-good", &offer.agent_id, "cpus:1;mem:128", "*");
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: "group-exec".into(),
        },
        ..Default::default()
    };
    let call = crate::common::protocol::launch_group_call(&offer, executor, vec![bad, good], None);
    h.call(&fw, call).unwrap();
    let messages: Vec<(String, Option<String>)> = h
        .updates(&fw)
        .into_iter()
        .map(|u| (u.task_id.value, u.message))
        .collect();
    let text = "Task uses invalid health check: Expecting 'timeout_seconds' to be non-negative";
    assert_eq!(
        messages,
        vec![
            ("g-bad".to_string(), Some(text.to_string())),
            ("g-good".to_string(), Some(text.to_string())),
        ]
    );
    assert!(
        !h.agent_messages(agent_conn)
            .iter()
            .any(|m| matches!(m, ToAgent::RunTaskGroup(_)))
    );
}

#[test]
fn offers_launch_and_status_updates_round_trip() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:4;mem:1024;ports:[31000-32000]");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offers = h.offers(&fw);
    assert_eq!(offers.len(), 1);
    let offer = &offers[0];
    assert_eq!(offer.hostname, "host1", "offers carry the agent's hostname");
    assert_eq!(offer.agent_id.value, agent_id);
    assert!(offer.id.value.starts_with("MASTER-O"));
    let offered = Resources::from_protos(offer.resources.clone()).unwrap();
    assert_eq!(offered.cpus(), 4.0);

    let task = command_task("t1", &offer.agent_id, "cpus:1;mem:128", "*");
    assert_eq!(
        h.call(&fw, launch(offer, vec![task], None)),
        Ok(CallOk::Accepted)
    );
    let msgs = h.agent_messages(agent_conn);
    let run = msgs
        .iter()
        .find_map(|m| {
            if let ToAgent::RunTask(r) = m {
                Some(r)
            } else {
                None
            }
        })
        .expect("RunTask");
    assert_eq!(run.task.task_id.value, "t1");
    assert_eq!(
        h.master.frameworks[&fw.id].tasks["t1"].state,
        v1::TaskState::TaskStaging as i32
    );

    let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
    h.status_update(
        &agent_id,
        &fw,
        "t1",
        v1::TaskState::TaskRunning,
        Some(uuid.clone()),
    );
    let updates = h.updates(&fw);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, v1::TaskState::TaskRunning as i32);
    assert_eq!(
        updates[0].agent_id.as_ref().unwrap().value,
        agent_id,
        "updates always carry agent_id"
    );

    // Acknowledgements are relayed to the agent (§8.2).
    let ack = sched::Call {
        r#type: Some(CallType::Acknowledge as i32),
        acknowledge: Some(sched::call::Acknowledge {
            agent_id: offer.agent_id.clone(),
            task_id: v1::TaskId { value: "t1".into() },
            uuid: uuid.clone(),
        }),
        ..Default::default()
    };
    assert_eq!(h.call(&fw, ack), Ok(CallOk::Accepted));
    let msgs = h.agent_messages(agent_conn);
    assert!(
        msgs.iter()
            .any(|m| matches!(m, ToAgent::Acknowledgement(a) if a.uuid == uuid))
    );

    // A terminal update releases the task's resources (§8.2).
    h.status_update(
        &agent_id,
        &fw,
        "t1",
        v1::TaskState::TaskFinished,
        Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
    );
    assert!(h.master.frameworks[&fw.id].tasks.is_empty());
    assert_eq!(h.master.frameworks[&fw.id].completed_tasks.len(), 1);
    assert!(h.master.agents[&agent_id].used.is_empty());
}

#[test]
fn unused_offer_resources_return_and_decline_filters_the_agent() {
    let mut h = Harness::new();
    h.add_agent("host1", "cpus:4;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    assert_eq!(
        h.call(&fw, decline(&offer, Some(10.0))),
        Ok(CallOk::Accepted)
    );
    h.allocate();
    assert!(h.offers(&fw).is_empty(), "filtered for 10 s");
    h.advance(Duration::from_secs(11));
    h.allocate();
    assert_eq!(h.offers(&fw).len(), 1, "the filter expired");
}

#[test]
fn revive_clears_filters() {
    // Reference §8.7.
    let mut h = Harness::new();
    h.add_agent("host1", "cpus:4;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.call(&fw, decline(&offer, Some(3600.0))).unwrap();
    h.allocate();
    assert!(h.offers(&fw).is_empty());
    let revive = sched::Call {
        r#type: Some(CallType::Revive as i32),
        ..Default::default()
    };
    assert_eq!(h.call(&fw, revive), Ok(CallOk::Accepted));
    h.allocate();
    assert_eq!(h.offers(&fw).len(), 1);
}

#[test]
fn invalid_tasks_end_task_error_and_resources_return() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let too_big = command_task("big", &offer.agent_id, "cpus:3;mem:128", "*");
    let mut both = command_task("both", &offer.agent_id, "cpus:1;mem:128", "*");
    both.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId { value: "e".into() },
        command: Some(v1::CommandInfo::default()),
        ..Default::default()
    });
    let ok = command_task("ok", &offer.agent_id, "cpus:1;mem:128", "*");
    let dup = command_task("ok", &offer.agent_id, "cpus:0.5;mem:128", "*");
    h.call(&fw, launch(&offer, vec![too_big, both, ok, dup], Some(0.0)))
        .unwrap();
    let updates = h.updates(&fw);
    let errors: Vec<(&str, &str)> = updates
        .iter()
        .map(|s| (s.task_id.value.as_str(), s.message.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    for s in &updates {
        assert_eq!(s.state, v1::TaskState::TaskError as i32);
        assert_eq!(s.reason, Some(v1::task_status::Reason::TaskInvalid as i32));
        assert!(s.uuid.is_none(), "master-generated updates carry no uuid");
    }
    assert!(errors[0].1.contains("more resources"), "{errors:?}");
    assert!(errors[1].1.contains("not both"), "{errors:?}");
    assert!(errors[2].1.contains("duplicate ID"), "{errors:?}");
    assert_eq!(
        h.agent_messages(agent_conn).len(),
        1,
        "only the valid task is sent to the agent"
    );
    // The unused cpus:1 went back without a filter (refuse_seconds 0) and is re-offered.
    h.allocate();
    let again = h.offers(&fw);
    assert_eq!(again.len(), 1);
    assert_eq!(
        Resources::from_protos(again[0].resources.clone())
            .unwrap()
            .cpus(),
        1.0
    );
    assert_eq!(h.master.agents[&agent_id].tasks.len(), 1);
}

#[test]
fn accept_with_an_invalid_offer_drops_its_tasks() {
    let mut h = Harness::new();
    h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let mut offer = h.offers(&fw).remove(0);
    offer.id.value = "MASTER-O999".to_string();
    let task = command_task("t", &offer.agent_id, "cpus:1;mem:128", "*");
    h.call(&fw, launch(&offer, vec![task], None)).unwrap();
    let updates = h.updates(&fw);
    assert_eq!(updates.len(), 1);
    // Not partition-aware: TASK_LOST with REASON_INVALID_OFFERS (reference §8.1).
    assert_eq!(updates[0].state, v1::TaskState::TaskLost as i32);
    assert_eq!(
        updates[0].reason,
        Some(v1::task_status::Reason::InvalidOffers as i32)
    );
}

#[test]
fn calls_need_the_subscription_stream_id() {
    // Reference §3.2.
    let mut h = Harness::new();
    let mut info = framework("f");
    info.failover_timeout = Some(60.0);
    let fw = h.subscribe(info);
    let revive = sched::Call {
        framework_id: Some(v1::FrameworkId {
            value: fw.id.clone(),
        }),
        r#type: Some(CallType::Revive as i32),
        ..Default::default()
    };
    let now = h.now();
    let missing = h.master.call(now, None, revive.clone());
    assert!(
        matches!(missing, Err(CallError::BadRequest(ref m)) if m.contains("Mesos-Stream-Id")),
        "{missing:?}"
    );
    let wrong = h.master.call(now, Some("nope"), revive.clone());
    assert!(
        matches!(wrong, Err(CallError::BadRequest(ref m)) if m.contains("didn't match")),
        "{wrong:?}"
    );
    let mut unknown = revive.clone();
    unknown.framework_id = Some(v1::FrameworkId {
        value: "nobody".into(),
    });
    assert_eq!(
        h.master.call(now, Some(&fw.stream), unknown),
        Err(CallError::BadRequest("Framework cannot be found".into()))
    );
    let no_type = sched::Call {
        framework_id: revive.framework_id.clone(),
        ..Default::default()
    };
    assert_eq!(
        h.master.call(now, Some(&fw.stream), no_type),
        Err(CallError::BadRequest(
            "Expecting 'type' to be present".into()
        ))
    );
    // Disconnected frameworks get 403.
    h.master.framework_disconnected(now, &fw.id, fw.conn);
    let r = h.master.call(now, Some(&fw.stream), revive);
    assert_eq!(
        r,
        Err(CallError::Forbidden("Framework is not subscribed".into()))
    );
}

/// Issue 11, defect 3: Mesos's `validateFailoverTimeout` (master/validation.cpp) refuses a
/// `failover_timeout` that stout's `Duration::create` cannot hold, with its text; nothing is
/// registered. On main, 1.5e19 was accepted and its disconnect panicked the master actor.
#[test]
fn a_failover_timeout_that_does_not_fit_a_duration_is_refused() {
    let mut h = Harness::new();
    for (timeout, text) in [
        (1.5e19, "1.5e+19"),
        (f64::INFINITY, "inf"),
        (-1e300, "-1e+300"),
        (f64::NAN, "nan"),
    ] {
        let mut info = framework("f");
        info.failover_timeout = Some(timeout);
        let conn = h.conn();
        let call = subscribe_call(info);
        let now = h.now();
        assert_eq!(
            h.master.subscribe(now, conn, call),
            Err(CallError::BadRequest(format!(
                "The framework failover_timeout ({text}) is invalid"
            )))
        );
        h.pump();
        assert!(h.events(conn).is_empty());
    }
    assert!(h.master.frameworks.is_empty());
}

/// The largest failover_timeout Mesos accepts (just under 2^63 ns, about 292 years) and a
/// negative one: the disconnect neither panics nor ends the framework early (the largest
/// is "never" if `Instant` cannot hold it); the negative one ends it at once, as Mesos's
/// zero-delay timer does.
#[test]
fn the_largest_valid_failover_timeout_does_not_overflow_its_deadline() {
    let mut h = Harness::new();
    let mut info = framework("long");
    info.failover_timeout = Some(9.2e9);
    let long = h.subscribe(info);
    let mut info = framework("negative");
    info.failover_timeout = Some(-5.0);
    let negative = h.subscribe(info);
    let now = h.now();
    h.master.framework_disconnected(now, &long.id, long.conn);
    h.master
        .framework_disconnected(now, &negative.id, negative.conn);
    h.advance(Duration::from_secs(365 * 24 * 3600));
    assert!(h.master.frameworks.contains_key(&long.id));
    assert!(!h.master.frameworks.contains_key(&negative.id));
}

#[test]
fn failover_timeout_keeps_tasks_then_removes_the_framework() {
    // Reference §8.4.
    let mut h = Harness::new();
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let mut info = framework("f");
    info.failover_timeout = Some(60.0);
    let fw = h.subscribe(info.clone());
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.call(
        &fw,
        launch(
            &offer,
            vec![command_task("t", &offer.agent_id, "cpus:1;mem:128", "*")],
            None,
        ),
    )
    .unwrap();
    h.agent_messages(agent_conn);
    let now = h.now();
    h.master.framework_disconnected(now, &fw.id, fw.conn);
    h.advance(Duration::from_secs(30));
    assert!(
        h.master.frameworks.contains_key(&fw.id),
        "within failover_timeout"
    );

    // Resubscribing with the id gets the framework (and its task) back.
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let back = h.subscribe(info);
    assert_eq!(back.id, fw.id);
    assert!(h.master.frameworks[&fw.id].tasks.contains_key("t"));
    assert!(h.master.frameworks[&fw.id].connected());

    // Disconnect again and let the timeout expire: the framework is shut down on its agent.
    let now = h.now();
    h.master.framework_disconnected(now, &back.id, back.conn);
    h.advance(Duration::from_secs(61));
    assert!(!h.master.frameworks.contains_key(&fw.id));
    assert_eq!(h.master.completed_frameworks.len(), 1);
    let msgs = h.agent_messages(agent_conn);
    assert!(
        msgs.iter()
            .any(|m| matches!(m, ToAgent::ShutdownFramework(s) if s.framework_id.value == fw.id))
    );
    assert!(h.master.agents[&agent_id].used.is_empty());
}

#[test]
fn teardown_removes_the_framework_and_closes_its_stream() {
    let mut h = Harness::new();
    let fw = h.subscribe(framework("f"));
    let teardown = sched::Call {
        r#type: Some(CallType::Teardown as i32),
        ..Default::default()
    };
    assert_eq!(h.call(&fw, teardown), Ok(CallOk::Accepted));
    assert!(h.master.frameworks.is_empty());
    assert!(
        h.effects
            .iter()
            .any(|e| matches!(e, Effect::CloseFramework { conn } if *conn == fw.conn))
    );
    // A removed framework cannot come back under its id.
    let mut info = framework("f");
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    let conn = h.conn();
    let call = sched::Call {
        r#type: Some(CallType::Subscribe as i32),
        subscribe: Some(sched::call::Subscribe {
            framework_info: info,
            ..Default::default()
        }),
        ..Default::default()
    };
    let now = h.now();
    h.master.subscribe(now, conn, call).unwrap();
    h.pump();
    let events = h.events(conn);
    assert_eq!(events[0].r#type, Some(EventType::Error as i32));
}

#[test]
fn an_unknown_framework_id_is_accepted_as_reregistration() {
    // After a master failover every framework comes back with its id (reference §8.4).
    let mut h = Harness::new();
    let mut info = framework("spark-driver");
    info.id = Some(v1::FrameworkId {
        value: "chosen-by-dispatcher-0001".into(),
    });
    let fw = h.subscribe(info);
    assert_eq!(fw.id, "chosen-by-dispatcher-0001");
}

#[test]
fn reconciliation_implicit_and_explicit() {
    // Reference §8.3.
    let mut h = Harness::new();
    let (agent_id, _) = h.add_agent("host1", "cpus:2;mem:1024");
    let mut info = framework("f");
    info.capabilities.push(capability(
        v1::framework_info::capability::Type::PartitionAware,
    ));
    let fw = h.subscribe(info);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.call(
        &fw,
        launch(
            &offer,
            vec![command_task("t", &offer.agent_id, "cpus:1;mem:128", "*")],
            None,
        ),
    )
    .unwrap();
    h.status_update(
        &agent_id,
        &fw,
        "t",
        v1::TaskState::TaskRunning,
        Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
    );
    h.updates(&fw);

    let implicit = sched::Call {
        r#type: Some(CallType::Reconcile as i32),
        reconcile: Some(sched::call::Reconcile { tasks: vec![] }),
        ..Default::default()
    };
    h.call(&fw, implicit).unwrap();
    let updates = h.updates(&fw);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, v1::TaskState::TaskRunning as i32);
    assert_eq!(
        updates[0].reason,
        Some(v1::task_status::Reason::Reconciliation as i32)
    );
    assert!(updates[0].uuid.is_none());

    let ask = |task: &str, agent: Option<&str>| sched::call::reconcile::Task {
        task_id: v1::TaskId { value: task.into() },
        agent_id: agent.map(|a| v1::AgentId { value: a.into() }),
    };
    let explicit = sched::Call {
        r#type: Some(CallType::Reconcile as i32),
        reconcile: Some(sched::call::Reconcile {
            tasks: vec![
                ask("t", Some(&agent_id)),
                ask("gone", Some(&agent_id)),
                ask("who", Some("nowhere")),
            ],
        }),
        ..Default::default()
    };
    h.call(&fw, explicit).unwrap();
    let states: Vec<i32> = h.updates(&fw).iter().map(|s| s.state).collect();
    use v1::TaskState as S;
    assert_eq!(
        states,
        vec![
            S::TaskRunning as i32,
            S::TaskGone as i32,
            S::TaskUnknown as i32
        ]
    );
}

#[test]
fn implicit_reconciliation_answers_ended_tasks_until_their_end_is_acknowledged() {
    // Mesos's master keeps a terminal task until its update is acknowledged: a framework
    // that failed over while its tasks ended learns of them by reconciling.
    let mut h = Harness::new();
    let (agent_id, _) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    h.launch_on_first_offer(&fw, "t", "cpus:1;mem:128");
    let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
    h.status_update(
        &agent_id,
        &fw,
        "t",
        v1::TaskState::TaskFinished,
        Some(uuid.clone()),
    );
    h.updates(&fw);
    let implicit = || sched::Call {
        r#type: Some(CallType::Reconcile as i32),
        reconcile: Some(sched::call::Reconcile { tasks: vec![] }),
        ..Default::default()
    };
    let acknowledge = |uuid: Vec<u8>| sched::Call {
        r#type: Some(CallType::Acknowledge as i32),
        acknowledge: Some(sched::call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent_id.clone(),
            },
            task_id: v1::TaskId { value: "t".into() },
            uuid,
        }),
        ..Default::default()
    };

    h.call(&fw, implicit()).unwrap();
    let updates = h.updates(&fw);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].state, v1::TaskState::TaskFinished as i32);
    assert_eq!(
        updates[0].reason,
        Some(v1::task_status::Reason::Reconciliation as i32)
    );

    // An acknowledgement of another update does not count.
    h.call(&fw, acknowledge(uuid::Uuid::new_v4().as_bytes().to_vec()))
        .unwrap();
    h.call(&fw, implicit()).unwrap();
    assert_eq!(h.updates(&fw).len(), 1);

    h.call(&fw, acknowledge(uuid)).unwrap();
    h.call(&fw, implicit()).unwrap();
    assert!(h.updates(&fw).is_empty());
}

#[test]
fn declined_resources_wait_for_the_next_batch_allocation() {
    // Mesos's `recoverResources` allocates nothing: a framework declining with
    // `refuse_seconds: 0` gets the resources back at the next batch, not at once.
    let mut h = Harness::new();
    h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.call(&fw, decline(&offer, Some(0.0))).unwrap();
    let now = h.now();
    h.master.allocate_if_requested(now);
    h.pump();
    assert!(
        h.offers(&fw).is_empty(),
        "re-offered at once after a decline"
    );
    h.advance(Config::default().allocation_interval);
    assert_eq!(h.offers(&fw).len(), 1, "re-offered at the next batch");
}

#[test]
fn agents_that_miss_pings_become_unreachable() {
    // Reference §8.5: ping timeout × max timeouts, then UNREACHABLE (partition-aware) or LOST.
    let config = Config {
        agent_ping_timeout: Duration::from_secs(1),
        max_agent_ping_timeouts: 2,
        ..Config::default()
    };
    let mut h = Harness::with_config(config);
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let mut pa = framework("pa");
    pa.capabilities.push(capability(
        v1::framework_info::capability::Type::PartitionAware,
    ));
    let fw_pa = h.subscribe(pa);
    h.allocate();
    let offer = h.offers(&fw_pa).remove(0);
    h.call(
        &fw_pa,
        launch(
            &offer,
            vec![command_task("t", &offer.agent_id, "cpus:1;mem:128", "*")],
            None,
        ),
    )
    .unwrap();
    let suppress = sched::Call {
        r#type: Some(CallType::Suppress as i32),
        ..Default::default()
    };
    h.call(&fw_pa, suppress).unwrap();
    let fw_old = h.subscribe(framework("old"));
    h.advance(Duration::from_millis(100));
    h.allocate();
    h.launch_on_first_offer(&fw_old, "t2", "cpus:1;mem:128");
    h.agent_messages(agent_conn);
    h.updates(&fw_pa);
    h.updates(&fw_old);

    // Pongs keep it alive.
    for _ in 0..4 {
        h.advance(Duration::from_secs(1));
        h.master.agent_pong(&agent_id);
    }
    assert!(h.master.agents.contains_key(&agent_id));
    for _ in 0..4 {
        h.advance(Duration::from_secs(1));
    }
    assert!(!h.master.agents.contains_key(&agent_id));
    assert!(h.master.unreachable_agents.contains_key(&agent_id));
    for (fw, expected) in [
        (&fw_pa, v1::TaskState::TaskUnreachable),
        (&fw_old, v1::TaskState::TaskLost),
    ] {
        let events = h.events(fw.conn);
        let states: Vec<i32> = events
            .iter()
            .filter_map(|e| e.update.as_ref())
            .map(|u| u.status.state)
            .collect();
        assert_eq!(states, vec![expected as i32], "{}", fw.id);
        // Every framework is told the agent is gone (FAILURE without executor_id).
        let failure = events
            .iter()
            .find_map(|e| e.failure.as_ref())
            .expect("FAILURE");
        assert_eq!(failure.agent_id.as_ref().unwrap().value, agent_id);
        assert!(failure.executor_id.is_none());
    }
}

/// Mesos's `Master::statusUpdate` (src/master/master.cpp) forwards an update to a connected
/// framework before it looks the task up: a task the master reported LOST while its agent
/// was unreachable, which then finished there, reaches the framework with its FINISHED
/// (counted invalid), so the framework acknowledges it and the agent stops resending.
#[test]
fn an_update_of_a_task_the_master_ended_is_still_forwarded() {
    let config = Config {
        agent_ping_timeout: Duration::from_secs(1),
        max_agent_ping_timeouts: 1,
        ..Config::default()
    };
    let mut h = Harness::with_config(config);
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("old"));
    h.allocate();
    h.launch_on_first_offer(&fw, "t", "cpus:1;mem:128");
    h.agent_messages(agent_conn);
    h.updates(&fw);
    for _ in 0..3 {
        h.advance(Duration::from_secs(1));
    }
    assert!(h.master.unreachable_agents.contains_key(&agent_id));
    assert_eq!(h.updates(&fw)[0].state, v1::TaskState::TaskLost as i32);

    let invalid = h.master.counters.invalid_status_updates;
    let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
    h.status_update(
        &agent_id,
        &fw,
        "t",
        v1::TaskState::TaskFinished,
        Some(uuid.clone()),
    );
    let updates = h.updates(&fw);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].state, v1::TaskState::TaskFinished as i32);
    assert_eq!(updates[0].uuid, Some(uuid));
    assert_eq!(h.master.counters.invalid_status_updates, invalid + 1);
    // The master's own answer stays the one it gave.
    assert!(!h.master.frameworks[&fw.id].tasks.contains_key("t"));
}

#[test]
fn old_frameworks_see_pre_refinement_resources() {
    // Frameworks without RESERVATION_REFINEMENT (Spark's and Hadoop's 1.4-era jars) see
    // `role` set on offered resources and may send them back that way.
    let mut h = Harness::new();
    h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("old"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    assert!(
        offer
            .resources
            .iter()
            .all(|r| r.role.as_deref() == Some("*") && r.reservations.is_empty())
    );
    // Send the task's resources back in the old form, without allocation_info.
    let mut task = command_task("t", &offer.agent_id, "cpus:1;mem:128", "*");
    for r in &mut task.resources {
        r.allocation_info = None;
        r.role = Some("*".to_string());
    }
    h.call(&fw, launch(&offer, vec![task], None)).unwrap();
    assert!(h.updates(&fw).is_empty(), "no TASK_ERROR");
    assert!(h.master.frameworks[&fw.id].tasks.contains_key("t"));

    let mut info = framework("new");
    info.capabilities.push(capability(
        v1::framework_info::capability::Type::ReservationRefinement,
    ));
    let fw2 = h.subscribe(info);
    h.allocate();
    let offers = h.offers(&fw2);
    assert!(
        offers
            .iter()
            .flat_map(|o| o.resources.iter())
            .all(|r| r.role.is_none())
    );
}

#[test]
fn executor_exit_and_messages_reach_the_framework() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut task = command_task("t", &offer.agent_id, "cpus:1;mem:128", "*");
    task.command = None;
    let mut exec_resources = Resources::parse("cpus:0.5;mem:64", "*").unwrap();
    exec_resources.allocate("*");
    task.executor = Some(v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "exec".into(),
        },
        command: Some(v1::CommandInfo {
            value: Some("./executor".into()),
            ..Default::default()
        }),
        resources: exec_resources.into_protos(),
        ..Default::default()
    });
    h.call(&fw, launch(&offer, vec![task], None)).unwrap();
    assert!(h.updates(&fw).is_empty());
    let used = h.master.agents[&agent_id].used_total();
    assert_eq!(used.cpus(), 1.5, "task plus executor resources are charged");

    // Scheduler MESSAGE -> agent; executor message -> framework MESSAGE event.
    let message = sched::Call {
        r#type: Some(CallType::Message as i32),
        message: Some(sched::call::Message {
            agent_id: offer.agent_id.clone(),
            executor_id: v1::ExecutorId {
                value: "exec".into(),
            },
            data: b"ping".to_vec(),
        }),
        ..Default::default()
    };
    h.call(&fw, message).unwrap();
    assert!(
        h.agent_messages(agent_conn)
            .iter()
            .any(|m| matches!(m, ToAgent::FrameworkToExecutor(f) if f.data == b"ping"))
    );
    h.master.agent_executor_message(
        &agent_id,
        wire::ExecutorToFramework {
            framework_id: v1::FrameworkId {
                value: fw.id.clone(),
            },
            executor_id: v1::ExecutorId {
                value: "exec".into(),
            },
            data: b"pong".to_vec(),
        },
    );
    h.pump();
    let events = h.events(fw.conn);
    assert_eq!(events[0].message.as_ref().unwrap().data, b"pong");

    let now = h.now();
    h.master.agent_executor_exited(
        now,
        &agent_id,
        wire::ExitedExecutor {
            framework_id: v1::FrameworkId {
                value: fw.id.clone(),
            },
            executor_id: v1::ExecutorId {
                value: "exec".into(),
            },
            status: Some(256),
        },
    );
    h.pump();
    let events = h.events(fw.conn);
    let failure = events
        .iter()
        .find_map(|e| e.failure.as_ref())
        .expect("FAILURE");
    assert_eq!(failure.executor_id.as_ref().unwrap().value, "exec");
    assert_eq!(failure.status, Some(256));
}

#[test]
fn refuse_seconds_follows_mesos_rules() {
    use super::scheduler::refuse_duration;
    let interval = Duration::from_secs(1);
    let f = |s: f64| {
        Some(v1::Filters {
            refuse_seconds: Some(s),
        })
    };
    assert_eq!(
        refuse_duration(None, interval),
        Some(Duration::from_secs(5)),
        "default 5 s"
    );
    assert_eq!(refuse_duration(f(0.0).as_ref(), interval), None);
    assert_eq!(
        refuse_duration(f(0.2).as_ref(), interval),
        Some(interval),
        "at least the allocation interval"
    );
    assert_eq!(
        refuse_duration(f(-3.0).as_ref(), interval),
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        refuse_duration(f(1e12).as_ref(), interval),
        Some(super::MAX_REFUSE),
        "capped at a year"
    );
}

/// Mesos's allocator (`recoverResources`): refuse_seconds above 365 days, infinity
/// included, is 365 days; NaN (what `Duration::create` cannot hold) is the default 5 s.
#[test]
fn refuse_seconds_infinity_is_a_year_and_nan_the_default() {
    use super::scheduler::refuse_duration;
    let interval = Duration::from_secs(1);
    let f = |s: f64| v1::Filters {
        refuse_seconds: Some(s),
    };
    assert_eq!(
        refuse_duration(Some(&f(f64::INFINITY)), interval),
        Some(super::MAX_REFUSE)
    );
    assert_eq!(
        refuse_duration(Some(&f(f64::NAN)), interval),
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        refuse_duration(Some(&f(f64::NEG_INFINITY)), interval),
        Some(Duration::from_secs(5))
    );
}

#[test]
fn weights_and_quota_are_validated_all_or_nothing() {
    // docs/weights.md, docs/quota.md (reference §8.8).
    let mut h = Harness::new();
    let w = |role: &str, weight: f64| v1::WeightInfo {
        weight,
        role: Some(role.to_string()),
    };
    assert!(
        h.master
            .update_weights(&[w("a", 2.0), w("b", 0.0)])
            .is_err()
    );
    assert!(h.master.weight_infos().is_empty(), "nothing applied");
    assert!(h.master.update_weights(&[w("a//b", 2.0)]).is_err());
    h.master
        .update_weights(&[w("a", 2.0), w("b", 1.0)])
        .unwrap();
    assert_eq!(
        h.master.weight_infos(),
        vec![w("a", 2.0)],
        "default weights are not listed"
    );

    let scalar = |v: f64| v1::value::Scalar { value: v };
    let config = |role: &str, guarantee: f64, limit: f64| v1::quota::QuotaConfig {
        role: role.to_string(),
        guarantees: [("cpus".to_string(), scalar(guarantee))]
            .into_iter()
            .collect(),
        limits: [("cpus".to_string(), scalar(limit))].into_iter().collect(),
    };
    let bad = h
        .master
        .update_quota(&[config("q", 1.0, 2.0), config("r", 3.0, 2.0)]);
    assert!(bad.unwrap_err().contains("greater than limit"));
    assert!(
        h.master.quota_status().configs.is_empty(),
        "nothing applied"
    );
    assert!(h.master.update_quota(&[config("*", 1.0, 2.0)]).is_err());
    h.master.update_quota(&[config("q", 1.0, 2.0)]).unwrap();
    assert_eq!(h.master.quota_status().configs.len(), 1);
}

#[test]
fn a_quota_limit_caps_what_a_role_is_offered() {
    // Reference §8.8: quota limits chop an agent's offer.
    let mut h = Harness::new();
    h.add_agent("host1", "cpus:8;mem:4096");
    let scalar = |v: f64| v1::value::Scalar { value: v };
    h.master
        .update_quota(&[v1::quota::QuotaConfig {
            role: "q".to_string(),
            guarantees: Default::default(),
            limits: [("cpus".to_string(), scalar(2.0))].into_iter().collect(),
        }])
        .unwrap();
    let mut info = framework("limited");
    info.role = Some("q".to_string());
    let fw = h.subscribe(info);
    h.allocate();
    let offers = h.offers(&fw);
    let total: f64 = offers
        .iter()
        .map(|o| Resources::from_protos(o.resources.clone()).unwrap().cpus())
        .sum();
    assert_eq!(total, 2.0, "{offers:?}");
}

#[test]
fn reserve_and_unreserve_through_accept() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:4;mem:1024");
    let mut info = framework("reserver");
    info.role = Some("r".to_string());
    info.principal = Some("ops".to_string());
    info.capabilities.push(capability(
        v1::framework_info::capability::Type::ReservationRefinement,
    ));
    let fw = h.subscribe(info);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut to_reserve = Resources::parse("cpus:2", "*").unwrap().into_protos();
    for r in &mut to_reserve {
        r.allocation_info = Some(v1::resource::AllocationInfo {
            role: Some("r".into()),
        });
        r.reservations.push(v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
            role: Some("r".into()),
            principal: Some("ops".into()),
            labels: None,
        });
    }
    let reserve = sched::Call {
        r#type: Some(CallType::Accept as i32),
        accept: Some(sched::call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Reserve as i32),
                reserve: Some(v1::offer::operation::Reserve {
                    resources: to_reserve.clone(),
                    source: vec![],
                }),
                ..Default::default()
            }],
            filters: Some(v1::Filters {
                refuse_seconds: Some(0.0),
            }),
        }),
        ..Default::default()
    };
    h.call(&fw, reserve).unwrap();
    let total = &h.master.agents[&agent_id].total;
    assert_eq!(
        total.reserved_to("r").cpus(),
        2.0,
        "the agent's total now holds the reservation"
    );
    assert_eq!(total.unreserved().cpus(), 2.0);
    let checkpoint = h
        .agent_messages(agent_conn)
        .into_iter()
        .find_map(|m| {
            if let ToAgent::CheckpointResources(c) = m {
                Some(c)
            } else {
                None
            }
        })
        .expect("the agent is told to checkpoint");
    assert_eq!(
        Resources::from_protos(checkpoint.resources).unwrap().cpus(),
        2.0
    );

    // The reserved cpus come back in the next offer, still reserved to `r`.
    h.allocate();
    let offers = h.offers(&fw);
    let offered = Resources::from_protos(offers.iter().flat_map(|o| o.resources.clone())).unwrap();
    assert_eq!(offered.reserved_to("r").cpus(), 2.0);
}

#[test]
fn launch_group_runs_all_tasks_under_one_default_executor() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:4;mem:1024");
    let fw = h.subscribe(framework("grouper"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut exec_resources = Resources::parse("cpus:0.1;mem:32", "*").unwrap();
    exec_resources.allocate("*");
    let executor = v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId {
            value: "group-exec".into(),
        },
        resources: exec_resources.into_protos(),
        ..Default::default()
    };
    let tasks = vec![
        command_task("g1", &offer.agent_id, "cpus:1;mem:128", "*"),
        command_task("g2", &offer.agent_id, "cpus:1;mem:128", "*"),
    ];
    let call = crate::common::protocol::launch_group_call(&offer, executor, tasks, None);
    h.call(&fw, call).unwrap();
    assert!(h.updates(&fw).is_empty(), "no TASK_ERROR");
    let group = h
        .agent_messages(agent_conn)
        .into_iter()
        .find_map(|m| {
            if let ToAgent::RunTaskGroup(g) = m {
                Some(g)
            } else {
                None
            }
        })
        .expect("RunTaskGroup");
    assert_eq!(group.task_group.tasks.len(), 2);
    assert_eq!(h.master.agents[&agent_id].used_total().cpus(), 2.1);
    let tasks = &h.master.frameworks[&fw.id].tasks;
    assert!(
        tasks
            .values()
            .all(|t| t.executor_id().as_ref().unwrap().value == "group-exec")
    );
}

#[test]
fn agents_reregister_after_a_master_failover_with_their_tasks() {
    // Reference §8.5: after a master failover agents reregister with their tasks; the master
    // rebuilds frameworks it has not seen yet as `recovered`, and they take them back on
    // resubscription.
    let mut h = Harness::new();
    let conn = h.conn();
    let framework_info = v1::FrameworkInfo {
        id: Some(v1::FrameworkId {
            value: "old-master-0007".into(),
        }),
        ..framework("survivor")
    };
    let mut used = Resources::parse("cpus:1;mem:128", "*").unwrap();
    used.allocate("*");
    let task = v1::Task {
        name: "t".into(),
        task_id: v1::TaskId { value: "t".into() },
        framework_id: v1::FrameworkId {
            value: "old-master-0007".into(),
        },
        agent_id: v1::AgentId {
            value: "old-master-S3".into(),
        },
        state: v1::TaskState::TaskRunning as i32,
        resources: used.into_protos(),
        ..Default::default()
    };
    let reregister = wire::Reregister {
        agent_info: v1::AgentInfo {
            hostname: "host1".into(),
            id: Some(v1::AgentId {
                value: "old-master-S3".into(),
            }),
            resources: Resources::parse("cpus:4;mem:1024", "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        },
        tasks: vec![task],
        frameworks: vec![framework_info.clone()],
        ..Default::default()
    };
    let now = h.now();
    let id = h.master.reregister_agent(now, conn, reregister).unwrap();
    h.pump();
    assert_eq!(id, "old-master-S3", "the agent keeps its id");
    assert!(matches!(
        h.agent_messages(conn).first(),
        Some(ToAgent::Reregistered(_))
    ));
    let recovered = &h.master.frameworks["old-master-0007"];
    assert!(recovered.recovered && !recovered.connected());
    assert_eq!(h.master.agents[&id].used_total().cpus(), 1.0);

    let fw = h.subscribe(framework_info);
    assert_eq!(fw.id, "old-master-0007");
    assert!(!h.master.frameworks[&fw.id].recovered);
    assert!(h.master.frameworks[&fw.id].tasks.contains_key("t"));
    h.allocate();
    let offered: f64 = h
        .offers(&fw)
        .iter()
        .map(|o| Resources::from_protos(o.resources.clone()).unwrap().cpus())
        .sum();
    assert_eq!(offered, 3.0, "the running task's cpus stay allocated");
}

#[test]
fn offers_are_rescinded_after_offer_timeout_and_heartbeats_flow() {
    let config = Config {
        offer_timeout: Some(Duration::from_secs(2)),
        ..Config::default()
    };
    let mut h = Harness::with_config(config);
    h.add_agent("host1", "cpus:4;mem:1024");
    let fw = h.subscribe(framework("slow"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.advance(Duration::from_secs(3));
    let events = h.events(fw.conn);
    let rescind = events
        .iter()
        .find_map(|e| e.rescind.as_ref())
        .expect("RESCIND");
    assert_eq!(rescind.offer_id, offer.id);
    assert!(h.master.offers.values().all(|o| o.offer.id != offer.id));
    h.advance(Duration::from_secs(15));
    let events = h.events(fw.conn);
    assert!(
        events
            .iter()
            .any(|e| e.r#type == Some(EventType::Heartbeat as i32)),
        "HEARTBEAT every 15 s"
    );
}

#[test]
fn agents_with_invalid_resources_are_refused() {
    let mut h = Harness::new();
    let mut info = v1::AgentInfo {
        hostname: "h".into(),
        ..Default::default()
    };
    info.resources = vec![v1::Resource {
        name: "cpus".into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value: -4.0 }),
        ..Default::default()
    }];
    let now = h.now();
    let refused = h.master.register_agent(
        now,
        1,
        wire::Register {
            agent_info: info,
            ..Default::default()
        },
    );
    assert!(refused.is_err());
    assert!(h.master.agents.is_empty());
}

mod properties {
    //! Nothing reachable from the network panics or changes state on a rejected call.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn garbage_calls_never_panic_or_change_state(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            use prost::Message;
            let mut h = Harness::new();
            h.add_agent("host1", "cpus:4;mem:1024");
            let fw = h.subscribe(framework("f"));
            let frameworks_before = h.master.frameworks.len();
            if let Ok(mut call) = sched::Call::decode(bytes.as_slice()) {
                // Whatever decodes, from a framework that is not subscribed on this stream.
                call.framework_id = Some(v1::FrameworkId { value: fw.id.clone() });
                let now = h.now();
                let rejected = h.master.call(now, Some("not-the-stream"), call).is_err();
                prop_assert!(rejected);
                prop_assert_eq!(h.master.frameworks.len(), frameworks_before);
                prop_assert!(h.master.drain_effects().is_empty());
            }
            if let Ok(json) = std::str::from_utf8(&bytes) {
                let _ = remesos_proto::json::from_slice::<sched::Call>(json.as_bytes());
            }
        }

        #[test]
        fn decoded_calls_on_the_right_stream_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            use prost::Message;
            let mut h = Harness::new();
            h.add_agent("host1", "cpus:4;mem:1024");
            let fw = h.subscribe(framework("f"));
            h.allocate();
            if let Ok(call) = sched::Call::decode(bytes.as_slice())
                && call.r#type != Some(CallType::Teardown as i32) {
                    let _ = h.call(&fw, call);
                }
        }
    }
}

#[test]
fn an_accept_spanning_two_agents_is_refused_and_each_offer_returns_to_its_agent() {
    // Offer validation: aggregated offers must belong to one agent (reference §8.7).
    let mut h = Harness::new();
    let (a1, _) = h.add_agent("host1", "cpus:2;mem:1024");
    let (a2, _) = h.add_agent("host2", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offers = h.offers(&fw);
    assert_eq!(offers.len(), 2);
    let task = command_task("t", &offers[0].agent_id, "cpus:1;mem:128", "*");
    let mut call = launch(&offers[0], vec![task], None);
    call.accept
        .as_mut()
        .unwrap()
        .offer_ids
        .push(offers[1].id.clone());
    h.call(&fw, call).unwrap();
    let updates = h.updates(&fw);
    assert_eq!(
        updates[0].reason,
        Some(v1::task_status::Reason::InvalidOffers as i32)
    );
    h.allocate();
    let again = h.offers(&fw);
    let mut per_agent: Vec<(String, f64)> = again
        .iter()
        .map(|o| {
            (
                o.agent_id.value.clone(),
                Resources::from_protos(o.resources.clone()).unwrap().cpus(),
            )
        })
        .collect();
    per_agent.sort_by(|x, y| x.0.cmp(&y.0));
    let mut expected = vec![(a1, 2.0), (a2, 2.0)];
    expected.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        per_agent, expected,
        "each agent gets its own resources back"
    );
}

#[test]
fn operator_events_are_built_only_while_someone_subscribed() {
    let mut h = Harness::new();
    h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.master.operator_subscribed = true;
    let task = command_task("t", &offer.agent_id, "cpus:1;mem:128", "*");
    h.call(&fw, launch(&offer, vec![task], Some(0.0))).unwrap();
    let added: Vec<String> = h
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Operator(ev) => ev.task_added.as_ref().map(|t| t.task.task_id.value.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(added, vec!["t".to_string()]);
    h.effects.clear();
    h.master.operator_subscribed = false;
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let task = command_task("t2", &offer.agent_id, "cpus:1;mem:128", "*");
    h.call(&fw, launch(&offer, vec![task], None)).unwrap();
    assert!(!h.effects.iter().any(|e| matches!(e, Effect::Operator(_))));
}

/// The master's state holds only ids that passed Mesos's `validateID` (common::id): a
/// registry entry whose agent id does not (a store edited by hand) is not recovered, and
/// the valid entries beside it are.
#[test]
fn recovery_skips_a_registry_agent_whose_id_is_invalid() {
    use crate::registry::{AgentRecord, Operation, Registry};
    let mut h = Harness::new();
    let mut registry = Registry::default();
    let info = v1::AgentInfo {
        hostname: "h1".into(),
        ..Default::default()
    };
    for (id, state) in [
        ("../../etc", AgentRecord::ADMITTED),
        ("a\nb", AgentRecord::UNREACHABLE),
        ("", AgentRecord::GONE),
        ("old-S1", AgentRecord::ADMITTED),
    ] {
        registry.apply(&Operation::agent(id, &info, state, 0.0));
    }
    let now = h.now();
    h.master.recover(now, &registry);
    let recovered: Vec<&str> = h
        .master
        .recovered_agents
        .keys()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(recovered, ["old-S1"]);
    assert!(h.master.unreachable_agents.is_empty());
    assert!(h.master.gone_agents.is_empty());
}

/// Reference §8.5 and §8.3: a new leader recovers the registry; explicit reconciliation of
/// tasks on a recovered agent that has not reregistered gets no answer; agents that do not
/// return within --agent_reregister_timeout become unreachable (persisted), and then their
/// tasks reconcile as LOST for a framework that is not partition-aware.
#[test]
fn recovered_agents_that_do_not_reregister_become_unreachable() {
    use crate::registry::{AgentRecord, Operation, Registry};
    let config = Config {
        agent_reregister_timeout: Duration::from_secs(30),
        ..Config::default()
    };
    let mut h = Harness::with_config(config);
    let mut registry = Registry::default();
    let info = |host: &str| v1::AgentInfo {
        hostname: host.into(),
        ..Default::default()
    };
    for op in [
        Operation::agent("old-S1", &info("h1"), AgentRecord::ADMITTED, 0.0),
        Operation::agent("old-S2", &info("h2"), AgentRecord::ADMITTED, 0.0),
        Operation::agent("old-S3", &info("h3"), AgentRecord::UNREACHABLE, 5.0),
    ] {
        registry.apply(&op);
    }
    let now = h.now();
    h.master.recover(now, &registry);
    assert_eq!(h.master.recovered_agents.len(), 2);
    assert!(h.master.unreachable_agents.contains_key("old-S3"));

    let fw = h.subscribe(framework("f"));
    let reconcile = |agent: &str| sched::Call {
        r#type: Some(CallType::Reconcile as i32),
        reconcile: Some(sched::call::Reconcile {
            tasks: vec![sched::call::reconcile::Task {
                task_id: v1::TaskId { value: "t1".into() },
                agent_id: Some(v1::AgentId {
                    value: agent.into(),
                }),
            }],
        }),
        ..Default::default()
    };
    h.call(&fw, reconcile("old-S1")).unwrap();
    assert!(
        h.updates(&fw).is_empty(),
        "no answer while old-S1 may return"
    );

    h.advance(Duration::from_secs(31));
    assert!(h.master.recovered_agents.is_empty());
    assert!(h.master.unreachable_agents.contains_key("old-S1"));
    let persisted: Vec<&Operation> = h
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Registry { op, .. } => Some(&**op),
            _ => None,
        })
        .collect();
    assert_eq!(persisted.len(), 2, "{persisted:?}");
    assert!(
        persisted
            .iter()
            .all(|op| op.agent.as_ref().unwrap().state == AgentRecord::UNREACHABLE)
    );
    h.call(&fw, reconcile("old-S1")).unwrap();
    let updates = h.updates(&fw);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, v1::TaskState::TaskLost as i32);
}

/// Reference §8.5: after a failover every agent reregisters at once. One the registry
/// already lists as admitted, unchanged, costs no registry write; a new agent's admission,
/// and a recovered agent whose AgentInfo changed, are written with the agent's session held
/// until they are durable (its Registered/Reregistered reply waits for the registrar).
#[test]
fn admissions_are_written_and_held_only_when_the_registry_lacks_them() {
    use crate::registry::{AgentRecord, Operation, Registry};
    let mut h = Harness::new();
    let info = |host: &str, cpus: &str| {
        let mut info = v1::AgentInfo {
            hostname: host.into(),
            id: Some(v1::AgentId {
                value: format!("old-{host}"),
            }),
            resources: Resources::parse(cpus, "*").unwrap().into_protos(),
            ..Default::default()
        };
        // As the master stores it (normalized through Resources).
        info.resources = Resources::from_protos(std::mem::take(&mut info.resources))
            .unwrap()
            .into_protos();
        info
    };
    let mut registry = Registry::default();
    for host in ["h1", "h2"] {
        registry.apply(&Operation::agent(
            &format!("old-{host}"),
            &info(host, "cpus:4;mem:1024"),
            AgentRecord::ADMITTED,
            0.0,
        ));
    }
    let now = h.now();
    h.master.recover(now, &registry);
    let writes = |h: &mut Harness| -> Vec<(String, Option<ConnId>)> {
        h.effects
            .drain(..)
            .filter_map(|e| match e {
                Effect::Registry { op, reply } => Some((
                    op.agent_id.clone(),
                    reply.and_then(|r| h.held.get(&r).copied()),
                )),
                _ => None,
            })
            .collect()
    };
    h.pump();
    writes(&mut h);

    let reregister = |host: &str, cpus: &str| wire::Reregister {
        agent_info: info(host, cpus),
        ..Default::default()
    };
    // Unchanged: no write, nothing held.
    let c1 = h.conn();
    let now = h.now();
    h.master
        .reregister_agent(now, c1, reregister("h1", "cpus:4;mem:1024"))
        .unwrap();
    h.pump();
    assert_eq!(writes(&mut h), vec![]);
    // Changed resources: written, the session held.
    let c2 = h.conn();
    let now = h.now();
    h.master
        .reregister_agent(now, c2, reregister("h2", "cpus:8;mem:1024"))
        .unwrap();
    h.pump();
    assert_eq!(writes(&mut h), vec![("old-h2".to_string(), Some(c2))]);
    // A new agent: written, held.
    let (id, conn) = h.add_agent("h3", "cpus:2;mem:512");
    assert_eq!(writes(&mut h), vec![(id, Some(conn))]);
}

// ---------------------------------------------------------------------------------------
// Admission vs. shutdown races (issue 13 item 2): the master holds an agent's session until
// its admission is durable (Mesos's `Master::_registerSlave` waits on the registrar) and
// decides what the held session gets when the outcome arrives. Each test encodes what the
// runtime did before the decision moved into the master.

/// Registers an agent with the registry left unanswered: its id, its session and the reply
/// id of its admission write.
fn register_unanswered(h: &mut Harness, hostname: &str) -> (String, ConnId, ReplyId) {
    h.answer_registry = false;
    let conn = h.conn();
    let register = wire::Register {
        agent_info: v1::AgentInfo {
            hostname: hostname.to_string(),
            resources: Resources::parse("cpus:2;mem:1024", "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        },
        endpoint: Some(format!("10.0.0.{conn}:5051")),
        ..Default::default()
    };
    let now = h.now();
    let id = h
        .master
        .register_agent(now, conn, register)
        .unwrap()
        .to_string();
    h.pump();
    let reply = h
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Registry {
                op,
                reply: Some(reply),
            } if op.agent_id == id => Some(*reply),
            _ => None,
        })
        .expect("the admission is written and waited for");
    (id, conn, reply)
}

/// What the agent's session got: its messages and whether it was closed, in order.
fn session(h: &mut Harness, conn: ConnId) -> (Vec<ToAgent>, bool) {
    let messages = h.agent_messages(conn);
    let closed = h
        .effects
        .iter()
        .any(|e| matches!(e, Effect::CloseAgent { conn: c } if *c == conn));
    h.effects
        .retain(|e| !matches!(e, Effect::CloseAgent { conn: c } if *c == conn));
    (messages, closed)
}

#[test]
fn an_agent_hears_registered_only_once_its_admission_is_durable() {
    let mut h = Harness::new();
    let (id, conn, reply) = register_unanswered(&mut h, "host1");
    assert!(h.master.admissions.holds(conn));
    assert_eq!(
        session(&mut h, conn),
        (vec![], false),
        "nothing before it is durable"
    );
    assert!(
        h.master.agents.contains_key(&id),
        "admitted in memory meanwhile"
    );

    h.master.registry_done(reply, Ok(()));
    h.pump();
    let (messages, closed) = session(&mut h, conn);
    assert!(
        matches!(messages.as_slice(), [ToAgent::Registered(_)]),
        "{messages:?}"
    );
    assert!(!closed);
    assert!(!h.master.admissions.holds(conn));
}

#[test]
fn a_failed_admission_closes_the_session_without_a_reply() {
    let mut h = Harness::new();
    let (_, conn, reply) = register_unanswered(&mut h, "host1");
    h.master
        .registry_done(reply, Err(crate::registry::RegistryError::Stopped));
    h.pump();
    assert_eq!(
        session(&mut h, conn),
        (vec![], true),
        "the agent retries on a new session"
    );
}

#[test]
fn a_session_that_closes_before_its_admission_is_durable_hears_nothing() {
    let mut h = Harness::new();
    let (id, conn, reply) = register_unanswered(&mut h, "host1");
    let now = h.now();
    h.master.agent_disconnected(now, &id, conn);
    h.pump();
    assert!(!h.master.admissions.holds(conn));
    h.master.registry_done(reply, Ok(()));
    h.pump();
    assert_eq!(session(&mut h, conn), (vec![], false));
}

#[test]
fn an_agent_shut_down_while_its_admission_is_pending_gets_the_shutdown_once_durable() {
    // Durable: the held reply, then the Shutdown, then the session ends.
    let mut h = Harness::new();
    let (id, conn, reply) = register_unanswered(&mut h, "host1");
    let now = h.now();
    assert!(h.master.mark_agent_gone(now, &id).unwrap().is_some());
    h.pump();
    assert_eq!(session(&mut h, conn), (vec![], false), "still held");
    h.master.registry_done(reply, Ok(()));
    h.pump();
    let (messages, closed) = session(&mut h, conn);
    assert!(
        matches!(
            messages.as_slice(),
            [ToAgent::Registered(_), ToAgent::Shutdown(_)]
        ),
        "{messages:?}"
    );
    assert!(closed);

    // Failed: the session ends and what was held is dropped.
    let mut h = Harness::new();
    let (id, conn, reply) = register_unanswered(&mut h, "host1");
    let now = h.now();
    h.master.mark_agent_gone(now, &id).unwrap();
    h.pump();
    h.master
        .registry_done(reply, Err(crate::registry::RegistryError::Stopped));
    h.pump();
    assert_eq!(session(&mut h, conn), (vec![], true));
}

// ---------------------------------------------------------------------------------------
// MARK_AGENT_GONE, maintenance and registry GC (Mesos's src/master/http.cpp
// `_markAgentGone`, docs/maintenance.md, `Master::doRegistryGc`).

/// A partition-aware framework and an old one, each with one running task on `agent`.
fn two_frameworks_with_a_task_each(h: &mut Harness) -> (Fw, Fw) {
    let mut pa = framework("pa");
    pa.capabilities.push(capability(
        v1::framework_info::capability::Type::PartitionAware,
    ));
    let fw_pa = h.subscribe(pa);
    h.allocate();
    let offer = h.offers(&fw_pa).remove(0);
    h.call(
        &fw_pa,
        launch(
            &offer,
            vec![command_task("t-pa", &offer.agent_id, "cpus:1;mem:128", "*")],
            None,
        ),
    )
    .unwrap();
    let suppress = sched::Call {
        r#type: Some(CallType::Suppress as i32),
        ..Default::default()
    };
    h.call(&fw_pa, suppress).unwrap();
    let fw_old = h.subscribe(framework("old"));
    h.advance(Duration::from_millis(100));
    h.allocate();
    let offer = h.offers(&fw_old).remove(0);
    h.call(
        &fw_old,
        launch(
            &offer,
            vec![command_task(
                "t-old",
                &offer.agent_id,
                "cpus:1;mem:128",
                "*",
            )],
            None,
        ),
    )
    .unwrap();
    h.updates(&fw_pa);
    h.updates(&fw_old);
    (fw_pa, fw_old)
}

fn registry_ops(h: &mut Harness) -> Vec<(crate::registry::Operation, bool)> {
    let mut out = Vec::new();
    h.effects.retain(|e| match e {
        Effect::Registry { op, reply } => {
            out.push(((**op).clone(), reply.is_some()));
            false
        }
        _ => true,
    });
    out
}

fn reregister(id: &str, hostname: &str, endpoint: &str) -> wire::Reregister {
    wire::Reregister {
        agent_info: v1::AgentInfo {
            hostname: hostname.into(),
            id: Some(v1::AgentId { value: id.into() }),
            resources: Resources::parse("cpus:2;mem:1024", "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        },
        endpoint: Some(endpoint.into()),
        ..Default::default()
    }
}

#[test]
fn mark_agent_gone_ends_tasks_shuts_the_agent_down_and_keeps_it_out() {
    // Mesos `Master::markGone` / `__removeSlave`: TASK_GONE_BY_OPERATOR with
    // REASON_AGENT_REMOVED_BY_OPERATOR for partition-aware frameworks, TASK_LOST with
    // REASON_AGENT_REMOVED for the others; the agent gets a ShutdownMessage.
    use crate::registry::AgentRecord;
    let mut h = Harness::new();
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let (fw_pa, fw_old) = two_frameworks_with_a_task_each(&mut h);
    h.agent_messages(agent_conn);
    registry_ops(&mut h);

    let now = h.now();
    let durable = h.master.mark_agent_gone(now, &agent_id).unwrap();
    assert!(durable.is_some(), "the caller waits for the registry write");
    h.pump();
    let ops = registry_ops(&mut h);
    assert_eq!(ops.len(), 1, "{ops:?}");
    let (op, acked) = &ops[0];
    assert!(acked, "the operator is answered once the write is durable");
    assert_eq!(op.agent_id, agent_id);
    assert_eq!(op.agent.as_ref().unwrap().state, AgentRecord::GONE);

    let msgs = h.agent_messages(agent_conn);
    assert!(
        msgs.iter().any(|m| matches!(m, ToAgent::Shutdown(s)
            if s.message.as_deref() == Some("Agent has been marked gone"))),
        "{msgs:?}"
    );
    assert!(
        h.effects
            .iter()
            .any(|e| matches!(e, Effect::CloseAgent { conn } if *conn == agent_conn))
    );
    for (fw, state, reason) in [
        (
            &fw_pa,
            v1::TaskState::TaskGoneByOperator,
            v1::task_status::Reason::AgentRemovedByOperator,
        ),
        (
            &fw_old,
            v1::TaskState::TaskLost,
            v1::task_status::Reason::AgentRemoved,
        ),
    ] {
        let updates = h.updates(fw);
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert_eq!(updates[0].state, state as i32);
        assert_eq!(updates[0].reason, Some(reason as i32));
    }
    assert!(!h.master.agents.contains_key(&agent_id));
    assert!(h.master.gone_agents.contains_key(&agent_id));

    // It may never come back.
    let conn = h.conn();
    let now = h.now();
    let refused = h
        .master
        .reregister_agent(now, conn, reregister(&agent_id, "host1", "10.0.0.9:5051"))
        .unwrap_err();
    assert!(refused.0.contains("marked gone"), "{refused}");

    // Marking it again is not an error and writes nothing; an unknown agent is.
    let now = h.now();
    assert!(h.master.mark_agent_gone(now, &agent_id).unwrap().is_none());
    h.pump();
    assert!(registry_ops(&mut h).is_empty());
    let err = h.master.mark_agent_gone(now, "nope").unwrap_err();
    assert_eq!(err.to_string(), "Agent 'nope' not found");
}

#[test]
fn marking_an_unreachable_or_recovered_agent_gone() {
    // Mesos `Master::markGone`: an unreachable agent's unreachable tasks end
    // TASK_GONE_BY_OPERATOR (partition-aware) or TASK_LOST; a recovered agent has no tasks
    // to report but is gone all the same.
    use crate::registry::{AgentRecord, Operation, Registry};
    let config = Config {
        agent_ping_timeout: Duration::from_secs(1),
        max_agent_ping_timeouts: 1,
        ..Config::default()
    };
    let mut h = Harness::with_config(config);
    let mut registry = Registry::default();
    registry.apply(&Operation::agent(
        "old-S1",
        &v1::AgentInfo {
            hostname: "h1".into(),
            ..Default::default()
        },
        AgentRecord::ADMITTED,
        0.0,
    ));
    let now = h.now();
    h.master.recover(now, &registry);
    let (agent_id, _) = h.add_agent("host1", "cpus:2;mem:1024");
    let (fw_pa, _fw_old) = two_frameworks_with_a_task_each(&mut h);
    for _ in 0..3 {
        h.advance(Duration::from_secs(1));
    }
    assert!(h.master.unreachable_agents.contains_key(&agent_id));
    let unreachable = h.updates(&fw_pa);
    assert_eq!(unreachable[0].state, v1::TaskState::TaskUnreachable as i32);

    let now = h.now();
    assert!(h.master.mark_agent_gone(now, &agent_id).unwrap().is_some());
    h.pump();
    let updates = h.updates(&fw_pa);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].state, v1::TaskState::TaskGoneByOperator as i32);
    assert!(!h.master.unreachable_agents.contains_key(&agent_id));
    assert!(h.master.frameworks[&fw_pa.id].unreachable_tasks.is_empty());

    assert!(h.master.mark_agent_gone(now, "old-S1").unwrap().is_some());
    assert!(h.master.recovered_agents.is_empty());
    assert!(h.master.gone_agents.contains_key("old-S1"));
}

fn machine(hostname: &str, ip: &str) -> v1::MachineId {
    v1::MachineId {
        hostname: (!hostname.is_empty()).then(|| hostname.to_string()),
        ip: (!ip.is_empty()).then(|| ip.to_string()),
    }
}

fn window(
    machines: Vec<v1::MachineId>,
    start_secs: i64,
    duration_secs: i64,
) -> v1::maintenance::Window {
    v1::maintenance::Window {
        machine_ids: machines,
        unavailability: v1::Unavailability {
            start: v1::TimeInfo {
                nanoseconds: start_secs * 1_000_000_000,
            },
            duration: Some(v1::DurationInfo {
                nanoseconds: duration_secs * 1_000_000_000,
            }),
        },
    }
}

fn schedule(windows: Vec<v1::maintenance::Window>) -> v1::maintenance::Schedule {
    v1::maintenance::Schedule { windows }
}

/// The machine an agent registered by the harness runs on.
fn machine_of(h: &Harness, agent_id: &str) -> v1::MachineId {
    let agent = &h.master.agents[agent_id];
    let ip = agent.endpoint.rsplit_once(':').unwrap().0.to_string();
    machine(&agent.info.hostname, &ip)
}

#[test]
fn maintenance_requests_are_validated_as_mesos_does() {
    // docs/maintenance.md "The master checks that a maintenance schedule has the following
    // properties"; src/master/maintenance.cpp validation; src/master/http.cpp
    // `_startMaintenance` / `_stopMaintenance`.
    let mut h = Harness::new();
    let now = h.now();
    let a = machine("a", "10.0.0.1");
    let bad = [
        (
            schedule(vec![window(vec![], 0, 10)]),
            "List of machines in the maintenance window is empty",
        ),
        (
            schedule(vec![window(vec![machine("", "")], 0, 10)]),
            "Both 'hostname' and 'ip' for a machine are empty",
        ),
        (
            schedule(vec![window(vec![machine("a", "not-an-ip")], 0, 10)]),
            "not-an-ip",
        ),
        (
            schedule(vec![window(vec![a.clone()], 0, -1)]),
            "Unavailability 'duration' is negative",
        ),
        (
            // Hostnames are case-insensitive: "A" is "a".
            schedule(vec![
                window(vec![a.clone()], 0, 10),
                window(vec![machine("A", "10.0.0.1")], 5, 10),
            ]),
            "appears more than once in the schedule",
        ),
    ];
    for (s, expected) in bad {
        let err = h
            .master
            .update_maintenance_schedule(now, s)
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}");
    }
    assert!(
        h.master.maintenance.machines.is_empty(),
        "bad input changes nothing"
    );
    h.pump();
    assert!(registry_ops(&mut h).is_empty());

    // START and STOP only for scheduled machines, START from DRAINING, STOP from DOWN.
    let err = h
        .master
        .start_maintenance(now, std::slice::from_ref(&a))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        r#"Machine '{"hostname":"a","ip":"10.0.0.1"}' is not part of a maintenance schedule"#
    );
    assert_eq!(
        h.master
            .start_maintenance(now, &[])
            .unwrap_err()
            .to_string(),
        "List of machines is empty"
    );
    h.master
        .update_maintenance_schedule(now, schedule(vec![window(vec![a.clone()], 100, 10)]))
        .unwrap();
    let err = h
        .master
        .stop_maintenance(std::slice::from_ref(&a))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not in DOWN mode and cannot be brought up"),
        "{err}"
    );
    h.master
        .start_maintenance(now, std::slice::from_ref(&a))
        .unwrap();
    let err = h
        .master
        .start_maintenance(now, std::slice::from_ref(&a))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not in DRAINING mode and cannot be brought down"),
        "{err}"
    );
    // A DOWN machine must stay in the schedule.
    let err = h
        .master
        .update_maintenance_schedule(now, schedule(vec![]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is deactivated and cannot be removed from the schedule"),
        "{err}"
    );
    // A schedule too large for one registry record (one znode) is refused.
    let many: Vec<v1::MachineId> = (0..20_000)
        .map(|i| machine(&format!("host-{i:05}.example.com"), "10.1.2.3"))
        .collect();
    let err = h
        .master
        .update_maintenance_schedule(
            now,
            schedule(vec![window(vec![a.clone()], 100, 10), window(many, 0, 1)]),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("too large"), "{err}");
    assert_eq!(h.master.maintenance.machines.len(), 1);
}

#[test]
fn offers_from_a_draining_machine_carry_its_unavailability() {
    // docs/maintenance.md "Draining mode": offers for agents on DRAINING machines carry
    // `Offer.unavailability`; outstanding offers are rescinded so that they do.
    let mut h = Harness::new();
    let (agent_id, _) = h.add_agent("Host1", "cpus:2;mem:1024");
    let (other_id, _) = h.add_agent("host2", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.allocate();
    let offers = h.offers(&fw);
    assert_eq!(offers.len(), 2);
    assert!(offers.iter().all(|o| o.unavailability.is_none()));

    // Matching is by hostname (any case) and IP.
    let mut id = machine_of(&h, &agent_id);
    id.hostname = Some("HOST1".into());
    registry_ops(&mut h);
    let now = h.now();
    let durable = h
        .master
        .update_maintenance_schedule(now, schedule(vec![window(vec![id], 1000, 3600)]))
        .unwrap();
    let _ = durable;
    h.pump();
    let ops = registry_ops(&mut h);
    assert_eq!(ops.len(), 1);
    assert!(ops[0].1, "acknowledged");
    let record = ops[0].0.maintenance.as_ref().expect("a maintenance record");
    assert_eq!(record.machines.len(), 1);
    assert_eq!(
        record.machines[0].mode,
        Some(v1::machine_info::Mode::Draining as i32)
    );
    let events = h.events(fw.conn);
    let rescinded: Vec<&v1::OfferId> = events
        .iter()
        .filter_map(|e| e.rescind.as_ref().map(|r| &r.offer_id))
        .collect();
    let drained_offer = offers
        .iter()
        .find(|o| o.agent_id.value == agent_id)
        .unwrap();
    assert_eq!(
        rescinded,
        vec![&drained_offer.id],
        "only the draining agent's offer"
    );
    h.allocate();
    let offers = h.offers(&fw);
    let offer = offers
        .iter()
        .find(|o| o.agent_id.value == agent_id)
        .expect("a new offer");
    let unavailability = offer.unavailability.as_ref().expect("unavailability");
    assert_eq!(unavailability.start.nanoseconds, 1000 * 1_000_000_000);
    assert!(
        offers
            .iter()
            .filter(|o| o.agent_id.value == other_id)
            .all(|o| o.unavailability.is_none())
    );
    let status = h.master.maintenance_status();
    assert_eq!(status.draining_machines.len(), 1);
    assert!(status.down_machines.is_empty());
}

#[test]
fn a_down_machine_loses_its_agents_and_refuses_them_until_it_is_up() {
    // src/master/http.cpp `_startMaintenance`: agents on a machine going DOWN get a
    // ShutdownMessage and are removed (tasks GONE_BY_OPERATOR / LOST); master.cpp
    // refuses (re)registration from a DOWN machine; STOP_MAINTENANCE brings it UP and
    // out of the schedule.
    let mut h = Harness::new();
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let (fw_pa, fw_old) = two_frameworks_with_a_task_each(&mut h);
    let id = machine_of(&h, &agent_id);
    let endpoint = h.master.agents[&agent_id].endpoint.clone();
    let now = h.now();
    h.master
        .update_maintenance_schedule(now, schedule(vec![window(vec![id.clone()], 0, 60)]))
        .unwrap();
    h.pump();
    h.agent_messages(agent_conn);
    registry_ops(&mut h);

    h.master
        .start_maintenance(now, std::slice::from_ref(&id))
        .unwrap();
    h.pump();
    let msgs = h.agent_messages(agent_conn);
    assert!(
        msgs.iter().any(|m| matches!(m, ToAgent::Shutdown(_))),
        "{msgs:?}"
    );
    assert!(!h.master.agents.contains_key(&agent_id));
    assert_eq!(
        h.updates(&fw_pa)[0].state,
        v1::TaskState::TaskGoneByOperator as i32
    );
    assert_eq!(h.updates(&fw_old)[0].state, v1::TaskState::TaskLost as i32);
    let ops = registry_ops(&mut h);
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert_eq!(
        ops[0].0.maintenance.as_ref().unwrap().machines[0].mode,
        Some(v1::machine_info::Mode::Down as i32)
    );
    assert!(ops[0].1, "the operator waits for the mode change");
    assert_eq!(
        ops[1].0,
        crate::registry::Operation::remove_agent(&agent_id)
    );
    let status = h.master.maintenance_status();
    assert_eq!(status.down_machines, vec![id.clone()]);

    // Neither the old agent nor a new one on that machine gets in.
    let conn = h.conn();
    let err = h
        .master
        .reregister_agent(now, conn, reregister(&agent_id, "host1", &endpoint))
        .unwrap_err();
    assert_eq!(err.0, "Machine is `DOWN`");
    let register = wire::Register {
        agent_info: v1::AgentInfo {
            hostname: "HOST1".into(),
            resources: Resources::parse("cpus:1;mem:64", "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        },
        endpoint: Some(endpoint.clone()),
        ..Default::default()
    };
    let err = h
        .master
        .register_agent(now, conn, register.clone())
        .unwrap_err();
    assert_eq!(err.0, "Machine is `DOWN`");

    h.master.stop_maintenance(&[id]).unwrap();
    assert!(h.master.maintenance.machines.is_empty());
    assert!(h.master.maintenance.schedule.windows.is_empty());
    h.master.register_agent(now, conn, register).unwrap();
}

#[test]
fn registry_gc_prunes_the_oldest_and_the_too_old() {
    // Mesos `Master::doRegistryGc`: unreachable and gone agents, each list on its own,
    // keep at most --registry_max_agent_count entries (the oldest go) and none older than
    // --registry_max_agent_age.
    use crate::registry::{AgentRecord, Operation, Registry};
    let config = Config {
        registry_gc_interval: Duration::from_secs(60),
        registry_max_agent_age: Duration::from_secs(3600),
        registry_max_agent_count: 2,
        ..Config::default()
    };
    let mut h = Harness::with_config(config);
    let wall = h.now().wall;
    let info = v1::AgentInfo::default();
    let mut registry = Registry::default();
    for (id, state, age) in [
        ("u-ancient", AgentRecord::UNREACHABLE, 7200.0),
        ("u-1", AgentRecord::UNREACHABLE, 30.0),
        ("u-2", AgentRecord::UNREACHABLE, 20.0),
        ("u-3", AgentRecord::UNREACHABLE, 10.0),
        ("g-1", AgentRecord::GONE, 40.0),
        ("g-2", AgentRecord::GONE, 5.0),
    ] {
        registry.apply(&Operation::agent(id, &info, state, wall - age));
    }
    let now = h.now();
    h.master.recover(now, &registry);
    h.advance(Duration::from_secs(59));
    assert!(registry_ops(&mut h).is_empty(), "not before the interval");
    h.advance(Duration::from_secs(1));
    let mut pruned: Vec<String> = registry_ops(&mut h)
        .into_iter()
        .map(|(op, _)| {
            assert!(op.agent.is_none(), "a removal");
            op.agent_id
        })
        .collect();
    pruned.sort();
    assert_eq!(pruned, vec!["u-1", "u-ancient"]);
    let mut left: Vec<&str> = h
        .master
        .unreachable_agents
        .keys()
        .map(|a| a.as_str())
        .collect();
    left.sort();
    assert_eq!(left, vec!["u-2", "u-3"]);
    assert_eq!(h.master.gone_agents.len(), 2);

    // The next round has nothing to do until an entry ages out.
    h.advance(Duration::from_secs(60));
    assert!(registry_ops(&mut h).is_empty());
    h.advance(Duration::from_secs(3600));
    assert_eq!(registry_ops(&mut h).len(), 4);
    assert!(h.master.unreachable_agents.is_empty() && h.master.gone_agents.is_empty());
}

#[test]
fn a_new_leader_recovers_maintenance_and_gone_agents() {
    // docs/maintenance.md: "The schedule is stored in the replicated log"; a new leader
    // keeps DOWN machines DOWN and gone agents gone.
    use crate::registry::{AgentRecord, Operation, Registry};
    let mut first = Harness::new();
    let (agent_id, _) = first.add_agent("host1", "cpus:2;mem:1024");
    let endpoint = first.master.agents[&agent_id].endpoint.clone();
    let down = machine_of(&first, &agent_id);
    let draining = machine("host2", "10.9.9.9");
    let now = first.now();
    first
        .master
        .update_maintenance_schedule(
            now,
            schedule(vec![
                window(vec![down.clone()], 0, 60),
                window(vec![draining.clone()], 100, 60),
            ]),
        )
        .unwrap();
    first
        .master
        .start_maintenance(now, std::slice::from_ref(&down))
        .unwrap();
    first.master.mark_agent_gone(now, &agent_id).unwrap_err();
    first.pump();
    let mut registry = Registry::default();
    registry.apply(&Operation::agent(
        "gone-S1",
        &v1::AgentInfo::default(),
        AgentRecord::GONE,
        now.wall,
    ));
    for (op, _) in registry_ops(&mut first) {
        registry.apply(&op);
    }

    let mut h = Harness::new();
    let now = h.now();
    h.master.recover(now, &registry);
    assert_eq!(h.master.maintenance.schedule.windows.len(), 2);
    let status = h.master.maintenance_status();
    assert_eq!(status.down_machines, vec![down]);
    assert_eq!(status.draining_machines[0].id, draining);
    let conn = h.conn();
    let err = h
        .master
        .reregister_agent(now, conn, reregister(&agent_id, "host1", &endpoint))
        .unwrap_err();
    assert_eq!(err.0, "Machine is `DOWN`");
    let err = h
        .master
        .reregister_agent(now, conn, reregister("gone-S1", "h9", "10.3.3.3:5051"))
        .unwrap_err();
    assert!(err.0.contains("marked gone"));
}

/// Issue 11, defect 1: an agent's session is not authenticated, so the ids it reports when
/// reregistering are checked as Mesos's `reregisterSlave` validation does, before any of
/// them enters the master's state.
#[test]
fn a_reregistration_with_invalid_ids_is_refused_and_changes_nothing() {
    let mut h = Harness::new();
    let agent = |id: &str| v1::AgentInfo {
        hostname: "host1".into(),
        id: Some(v1::AgentId { value: id.into() }),
        resources: Resources::parse("cpus:4;mem:1024", "*")
            .unwrap()
            .into_protos(),
        ..Default::default()
    };
    let task = |tid: &str, fid: &str| v1::Task {
        name: "t".into(),
        task_id: v1::TaskId { value: tid.into() },
        framework_id: v1::FrameworkId { value: fid.into() },
        agent_id: v1::AgentId { value: "S3".into() },
        state: v1::TaskState::TaskRunning as i32,
        ..Default::default()
    };
    let cases = [
        wire::Reregister {
            agent_info: agent("../../etc"),
            ..Default::default()
        },
        wire::Reregister {
            agent_info: agent("S3"),
            tasks: vec![task("/etc/passwd", "F")],
            ..Default::default()
        },
        wire::Reregister {
            agent_info: agent("S3"),
            tasks: vec![task("t", "..")],
            ..Default::default()
        },
        wire::Reregister {
            agent_info: agent("S3"),
            frameworks: vec![v1::FrameworkInfo {
                id: Some(v1::FrameworkId {
                    value: "a\nb".into(),
                }),
                ..framework("evil")
            }],
            ..Default::default()
        },
    ];
    for reregister in cases {
        let conn = h.conn();
        let now = h.now();
        let refused = h.master.reregister_agent(now, conn, reregister);
        assert!(refused.is_err(), "{refused:?}");
        h.pump();
    }
    assert!(h.master.agents.is_empty());
    assert!(h.master.frameworks.is_empty());
}

/// A persistence id names a directory on the agent (`volumes/roles/<role>/<id>`): CREATE
/// checks it as Mesos's master does ("Invalid persistence ID for persistent volume").
#[test]
fn create_refuses_a_persistence_id_that_is_a_path() {
    let mut h = Harness::new();
    let (agent_id, _) = h.add_agent("host1", "cpus:4;mem:1024;disk:1000");
    let mut info = framework("volumes");
    info.role = Some("r".to_string());
    info.principal = Some("ops".to_string());
    info.capabilities.push(capability(
        v1::framework_info::capability::Type::ReservationRefinement,
    ));
    let fw = h.subscribe(info);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut disk = Resources::parse("disk:100", "*").unwrap().into_protos();
    for r in &mut disk {
        r.allocation_info = Some(v1::resource::AllocationInfo {
            role: Some("r".into()),
        });
        r.reservations.push(v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
            role: Some("r".into()),
            principal: Some("ops".into()),
            labels: None,
        });
    }
    let mut volume = disk.clone();
    for r in &mut volume {
        r.disk = Some(v1::resource::DiskInfo {
            persistence: Some(v1::resource::disk_info::Persistence {
                id: "../../../../etc".into(),
                principal: Some("ops".into()),
            }),
            volume: Some(v1::Volume {
                container_path: "data".into(),
                mode: v1::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        });
    }
    let accept = sched::Call {
        r#type: Some(CallType::Accept as i32),
        accept: Some(sched::call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![
                v1::offer::Operation {
                    r#type: Some(v1::offer::operation::Type::Reserve as i32),
                    reserve: Some(v1::offer::operation::Reserve {
                        resources: disk,
                        source: vec![],
                    }),
                    ..Default::default()
                },
                v1::offer::Operation {
                    r#type: Some(v1::offer::operation::Type::Create as i32),
                    create: Some(v1::offer::operation::Create { volumes: volume }),
                    ..Default::default()
                },
            ],
            filters: None,
        }),
        ..Default::default()
    };
    let _ = h.call(&fw, accept);
    let total = &h.master.agents[&agent_id].total;
    assert!(
        total.clone().into_protos().iter().all(|r| r
            .disk
            .as_ref()
            .and_then(|d| d.persistence.as_ref())
            .is_none()),
        "no volume was created: {total}"
    );
}

/// Found by the soak (bench/soak): a KILL while the task's agent was disconnected (an
/// agent restart) was dropped, and the task ran to its end. As Mesos's master keeps
/// `Slave::killedTasks`, the kill waits for the agent and is sent once it reregisters
/// with the task still running.
#[test]
fn a_kill_while_the_agent_is_away_is_sent_when_it_reregisters() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = h.add_agent("host1", "cpus:4;mem:1024");
    let mut info = framework("killer");
    info.checkpoint = Some(true); // its tasks survive the agent's restart
    let fw = h.subscribe(info);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let task = command_task("t1", &offer.agent_id, "cpus:1;mem:128", "*");
    h.call(&fw, launch(&offer, vec![task], None)).unwrap();
    h.status_update(&agent_id, &fw, "t1", v1::TaskState::TaskRunning, None);
    h.agent_messages(agent_conn);

    let now = h.now();
    h.master.agent_disconnected(now, &agent_id, agent_conn);
    h.pump();
    let kill = sched::Call {
        r#type: Some(CallType::Kill as i32),
        kill: Some(sched::call::Kill {
            task_id: v1::TaskId { value: "t1".into() },
            agent_id: Some(offer.agent_id.clone()),
            kill_policy: None,
        }),
        ..Default::default()
    };
    h.call(&fw, kill).unwrap();

    // The agent comes back (its restart) reporting t1 still running.
    let conn = h.conn();
    let info = h.master.agents[&agent_id].info.clone();
    let reregister = wire::Reregister {
        agent_info: info,
        tasks: vec![v1::Task {
            name: "t1".into(),
            task_id: v1::TaskId { value: "t1".into() },
            framework_id: v1::FrameworkId {
                value: fw.id.clone(),
            },
            agent_id: offer.agent_id.clone(),
            state: v1::TaskState::TaskRunning as i32,
            ..Default::default()
        }],
        ..Default::default()
    };
    let now = h.now();
    h.master.reregister_agent(now, conn, reregister).unwrap();
    h.pump();
    let messages = h.agent_messages(conn);
    assert!(
        matches!(messages.first(), Some(ToAgent::Reregistered(_))),
        "{messages:?}"
    );
    let kills: Vec<&str> = messages
        .iter()
        .filter_map(|m| match m {
            ToAgent::KillTask(k) => Some(k.task_id.value.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(kills, ["t1"], "the kill reaches the agent once it is back");
    assert!(h.master.agents[&agent_id].pending_kills.is_empty());
}

// The operator's commands, without HTTP (operator.rs; Mesos's `Master::Http`).

impl Harness {
    fn operator(
        &mut self,
        command: super::operator::OperatorCommand,
    ) -> Result<super::operator::OperatorReply, super::operator::OperatorError> {
        let now = self.now();
        let r = self.master.operator(now, command);
        self.pump();
        r
    }
}

/// Mesos's `Master::Http::teardown`: the framework is removed (its stream is closed); a
/// framework the master does not know is a 400 with Mesos's text, and so is an id that
/// `validateID` refuses — no framework can have it.
#[test]
fn operator_teardown_removes_the_framework_and_unknown_or_invalid_ids_are_not_found() {
    use super::operator::{OperatorCommand, OperatorError, OperatorReply};
    let mut h = Harness::new();
    let fw = h.subscribe(framework("a"));
    let command = OperatorCommand::teardown(fw.id.clone()).unwrap();
    assert!(matches!(h.operator(command), Ok(OperatorReply::Done)));
    assert!(!h.master.frameworks.contains_key(&fw.id));
    assert!(
        h.effects
            .iter()
            .any(|e| matches!(e, Effect::CloseFramework { conn } if *conn == fw.conn))
    );

    let again = h.operator(OperatorCommand::teardown(fw.id.clone()).unwrap());
    let e = again.unwrap_err();
    assert_eq!(
        (e.status(), e.to_string()),
        (
            400,
            format!("No framework found with specified ID '{}'", fw.id)
        )
    );
    let invalid = OperatorCommand::teardown("../../x".to_string()).unwrap_err();
    assert_eq!(invalid, OperatorError::UnknownFramework("../../x".into()));
    assert_eq!(
        invalid.to_string(),
        "No framework found with specified ID '../../x'"
    );
}

/// MARK_AGENT_GONE: a known agent is marked gone through the registry (the reply waits
/// for it); marking it again changes nothing; an unknown or invalid agent id is Mesos's
/// 404 `Agent '<id>' not found`.
#[test]
fn operator_mark_agent_gone_persists_once_and_unknown_or_invalid_ids_are_not_found() {
    use super::operator::{OperatorCommand, OperatorReply};
    let mut h = Harness::new();
    let (agent_id, _conn) = h.add_agent("host1", "cpus:1;mem:128");
    let command = OperatorCommand::mark_agent_gone(agent_id.clone()).unwrap();
    assert!(matches!(
        h.operator(command),
        Ok(OperatorReply::Persisting(_))
    ));
    assert!(h.master.gone_agents.contains_key(&agent_id));
    let command = OperatorCommand::mark_agent_gone(agent_id.clone()).unwrap();
    assert!(matches!(h.operator(command), Ok(OperatorReply::Done)));

    let unknown = OperatorCommand::mark_agent_gone("S9".into()).unwrap();
    let e = h.operator(unknown).unwrap_err();
    assert_eq!(
        (e.status(), e.to_string()),
        (404, "Agent 'S9' not found".into())
    );
    let e = OperatorCommand::mark_agent_gone("../../etc".into()).unwrap_err();
    assert_eq!(
        (e.status(), e.to_string()),
        (404, "Agent '../../etc' not found".into())
    );
}

/// UPDATE_WEIGHTS is persisted and read back by GET_WEIGHTS and `/master/weights`; an
/// invalid weight is a 400 and changes nothing (CONVENTIONS.md: bad input never changes
/// state).
#[test]
fn operator_weights_update_reads_back_and_invalid_weights_change_nothing() {
    use super::operator::{OperatorCommand, OperatorReply};
    let mut h = Harness::new();
    let info = |role: &str, weight: f64| v1::WeightInfo {
        weight,
        role: Some(role.to_string()),
    };
    let update = OperatorCommand::UpdateWeights {
        weight_infos: vec![info("a", 2.0)],
    };
    assert!(matches!(
        h.operator(update),
        Ok(OperatorReply::Persisting(_))
    ));
    let bad = OperatorCommand::UpdateWeights {
        weight_infos: vec![info("b", -1.0)],
    };
    assert_eq!(h.operator(bad).unwrap_err().status(), 400);
    match h.operator(OperatorCommand::GetWeights) {
        Ok(OperatorReply::Response(r)) => {
            assert_eq!(r.get_weights.unwrap().weight_infos, vec![info("a", 2.0)])
        }
        other => panic!("{other:?}"),
    }
    match h.operator(OperatorCommand::WeightsJson) {
        Ok(OperatorReply::Json(v)) => {
            assert_eq!(v, serde_json::json!([{"weight": 2.0, "role": "a"}]))
        }
        other => panic!("{other:?}"),
    }
}

/// Mesos's `validation::scheduler::call::validate` (validation.rs): the call's sub-message
/// comes out typed; a missing one is refused before the framework id is looked at; and a
/// framework id that `validateID` refuses is answered like an unknown framework (Mesos
/// looks the id up; no framework can have such an id).
#[test]
fn validate_call_types_the_call_and_an_invalid_framework_id_is_not_found() {
    use super::validation::{FrameworkCall, SchedulerCall, validate_call};
    let call = |id: &str, kill: Option<sched::call::Kill>| sched::Call {
        framework_id: Some(v1::FrameworkId { value: id.into() }),
        r#type: Some(CallType::Kill as i32),
        kill,
        ..Default::default()
    };
    let kill = sched::call::Kill {
        task_id: v1::TaskId { value: "t".into() },
        ..Default::default()
    };
    match validate_call(call("F1", Some(kill.clone()))) {
        Ok(SchedulerCall::Framework {
            framework_id,
            call: FrameworkCall::Kill(k),
        }) => {
            assert_eq!(framework_id.as_str(), "F1");
            assert_eq!(k, kill);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        validate_call(call("../../x", None)).unwrap_err(),
        CallError::BadRequest("Expecting 'kill' to be present".into())
    );
    for invalid in ["../../x", "", "a/b"] {
        assert_eq!(
            validate_call(call(invalid, Some(kill.clone()))).unwrap_err(),
            CallError::BadRequest("Framework cannot be found".into()),
            "{invalid:?}"
        );
    }
    // SUBSCRIBE carries its own sub-message; its FrameworkInfo is validated by the master.
    let subscribe = subscribe_call(framework("a"));
    assert!(matches!(
        validate_call(subscribe),
        Ok(SchedulerCall::Subscribe(s)) if s.framework_info.name == "a"
    ));
}

/// Through the master: a call naming a framework id that is a path is answered as an
/// unknown framework, and SUBSCRIBE on a call connection is refused first.
#[test]
fn calls_with_invalid_framework_ids_are_answered_as_unknown_frameworks() {
    let mut h = Harness::new();
    let fw = h.subscribe(framework("a"));
    let mut call = sched::Call {
        framework_id: Some(v1::FrameworkId {
            value: "../..".into(),
        }),
        r#type: Some(CallType::Revive as i32),
        ..Default::default()
    };
    let now = h.now();
    assert_eq!(
        h.master.call(now, Some(&fw.stream), call.clone()),
        Err(CallError::BadRequest("Framework cannot be found".into()))
    );
    call.r#type = Some(CallType::Subscribe as i32);
    call.subscribe = Some(sched::call::Subscribe {
        framework_info: framework("a"),
        ..Default::default()
    });
    call.framework_id = None;
    assert_eq!(
        h.master.call(now, Some(&fw.stream), call),
        Err(CallError::BadRequest(
            "SUBSCRIBE must be sent on its own connection".into()
        ))
    );
}

/// A config whose periodic duties (allocation, pings, registry GC, heartbeats) are an
/// hour apart, so that the deadline under test is the soonest.
fn quiet_config() -> Config {
    Config {
        allocation_interval: Duration::from_secs(3600),
        agent_ping_timeout: Duration::from_secs(3600),
        registry_gc_interval: Duration::from_secs(3600),
        heartbeat_interval: Duration::from_secs(3600),
        ..Config::default()
    }
}

/// DESIGN.md §3, "daemons sleep until their next deadline": a disconnected framework's
/// failover timeout is the master's next deadline, and the tick at exactly that instant
/// removes the framework (reference §8.4: failover_timeout).
#[test]
fn the_next_deadline_is_a_disconnected_framework_failover_timeout() {
    let mut h = Harness::with_config(quiet_config());
    assert_eq!(
        h.master.next_deadline(),
        h.start + Duration::from_secs(3600)
    );
    let mut info = framework("fo");
    info.failover_timeout = Some(5.0);
    let fw = h.subscribe(info);
    h.advance(Duration::from_secs(1));
    let now = h.now();
    h.master.framework_disconnected(now, &fw.id, fw.conn);
    let deadline = h.start + Duration::from_secs(6);
    assert_eq!(h.master.next_deadline(), deadline);
    h.advance(Duration::from_millis(4999));
    assert!(h.master.frameworks.contains_key(&fw.id), "not yet due");
    h.advance(Duration::from_millis(1));
    assert!(
        !h.master.frameworks.contains_key(&fw.id),
        "removed when due"
    );
    assert_eq!(h.master.completed_frameworks.len(), 1);
    assert_eq!(
        h.master.next_deadline(),
        h.start + Duration::from_secs(3600)
    );
}

/// With `--offer_timeout`, an outstanding offer's expiry is the master's next deadline,
/// and the tick at that instant rescinds it (reference §3.2: offer_timeout).
#[test]
fn the_next_deadline_is_an_outstanding_offer_timeout() {
    let mut h = Harness::with_config(Config {
        offer_timeout: Some(Duration::from_secs(30)),
        ..quiet_config()
    });
    h.add_agent("host", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("f"));
    h.advance(Duration::from_secs(2));
    h.allocate();
    assert_eq!(h.offers(&fw).len(), 1);
    assert_eq!(h.master.next_deadline(), h.start + Duration::from_secs(32));
    h.advance(Duration::from_secs(30));
    let rescinded = h
        .events(fw.conn)
        .iter()
        .filter(|e| e.r#type == Some(EventType::Rescind as i32))
        .count();
    assert_eq!(rescinded, 1);
    assert!(h.master.offers.is_empty() || h.master.next_deadline() > h.now().mono);
}

/// DESIGN.md §3 (a slow reader must not stall the master): the master keeps a framework
/// stream whose backlog has room and drops one whose backlog is full or whose reader is
/// gone, disconnecting the framework (without a failover timeout, that removes it).
#[test]
fn a_framework_stream_is_dropped_when_its_backlog_is_full_or_it_closed() {
    use super::{Backlog, Stream};
    let mut h = Harness::with_config(Config {
        framework_stream_backlog: 3,
        ..Config::default()
    });
    let mut info = framework("slow");
    info.failover_timeout = Some(3600.0);
    let fw = h.subscribe(info);
    let now = h.now();
    for waiting in 0..3 {
        assert_eq!(
            h.master
                .framework_stream_backed_up(now, &fw.id, fw.conn, Backlog::Waiting(waiting)),
            Stream::Keep
        );
    }
    assert!(h.master.frameworks[&fw.id].connected());
    assert_eq!(
        h.master
            .framework_stream_backed_up(now, &fw.id, fw.conn, Backlog::Waiting(3)),
        Stream::Drop
    );
    assert!(!h.master.frameworks[&fw.id].connected());

    let gone = h.subscribe(framework("gone"));
    let now = h.now();
    assert_eq!(
        h.master
            .framework_stream_backed_up(now, &gone.id, gone.conn, Backlog::Closed),
        Stream::Drop
    );
    assert!(!h.master.frameworks.contains_key(&gone.id));
}

/// The runtime learns from SUBSCRIBE which framework owns the new stream (no scan of the
/// frameworks); a removed framework's id gets a closed stream and no framework.
#[test]
fn subscribe_answers_the_framework_now_on_the_connection() {
    let mut h = Harness::new();
    let conn = h.conn();
    let now = h.now();
    let answer = h
        .master
        .subscribe_on(now, conn, subscribe_call(framework("a")))
        .unwrap();
    let id = answer.framework_id.clone().unwrap();
    assert_eq!(
        h.master.frameworks[&id].connection.as_ref().map(|c| c.conn),
        Some(conn)
    );
    h.master.remove_framework(now, &id);
    let mut info = framework("a");
    info.id = Some(v1::FrameworkId { value: id });
    let conn = h.conn();
    let answer = h
        .master
        .subscribe_on(now, conn, subscribe_call(info))
        .unwrap();
    assert_eq!(answer.framework_id, None);
}

/// master.cpp puts `http` in the offers' agent URL ("TODO(bmahler): Set https if only https
/// is supported"); with TLS and no downgrade (security/tls.rs) every agent serves https only.
#[test]
fn offers_name_the_agent_url_https_when_every_port_is_tls_only() {
    for (https_only, scheme) in [(false, "http"), (true, "https")] {
        let mut h = Harness::with_config(Config {
            https_only,
            ..Config::default()
        });
        h.add_agent("host1", "cpus:1;mem:128");
        let fw = h.subscribe(framework("f"));
        h.allocate();
        let offers = h.offers(&fw);
        let url = offers[0]
            .url
            .as_ref()
            .expect("an offer carries its agent's URL");
        assert_eq!(url.scheme, scheme);
    }
}

mod authz;
/// DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT (issue 17).
mod drain;
/// Inverse offers for maintenance (issue 17).
mod inverse;
/// Operation feedback: UPDATE_OPERATION_STATUS, ACKNOWLEDGE_OPERATION_STATUS,
/// RECONCILE_OPERATIONS (issue 17).
mod operation_status;
/// The principal rules of the scheduler API (issue 14).
mod principal;
/// Operator reservations and persistent volumes (issue 17).
mod reservation;

/// The big dumps written from references (`dump.rs`) are the bytes the cloned messages gave,
/// in protobuf and in Mesos JSON: GET_STATE, GET_TASKS and the operator SUBSCRIBED event, on a
/// state with tasks in every list (active, completed, unreachable), a completed framework
/// with its tasks, several agents and outstanding offers.
#[test]
fn state_dumps_from_references_equal_the_cloned_messages() {
    use prost::Message as _;
    use remesos_proto::json as mjson;
    use v1::master::{self as op, response::Type as RespType};

    let h = dump_fixture();
    let state = h.master.get_state();
    let v = crate::security::authorizer::Viewer::everything();
    let cloned = op::Response {
        r#type: Some(RespType::GetState as i32),
        get_state: Some(state.clone()),
        ..Default::default()
    };
    let encoded = h.master.get_state_response_for(v);
    assert_eq!(encoded.wire.as_ref(), cloned.encode_to_vec().as_slice());
    assert_eq!(encoded.to_json(), mjson::to_vec(&cloned));

    let cloned = op::Response {
        r#type: Some(RespType::GetTasks as i32),
        get_tasks: Some(h.master.get_tasks()),
        ..Default::default()
    };
    let encoded = h.master.get_tasks_response_for(v);
    assert_eq!(encoded.wire.as_ref(), cloned.encode_to_vec().as_slice());
    assert_eq!(encoded.to_json(), mjson::to_vec(&cloned));

    let cloned = op::Event {
        r#type: Some(op::event::Type::Subscribed as i32),
        subscribed: Some(op::event::Subscribed {
            get_state: Some(state),
            heartbeat_interval_seconds: Some(15.0),
        }),
        ..Default::default()
    };
    let encoded = h.master.subscribed_event_for(v, 15.0);
    assert_eq!(encoded.wire.as_ref(), cloned.encode_to_vec().as_slice());
    assert_eq!(encoded.to_json(), mjson::to_vec(&cloned));
}

/// A state with tasks in every list (running with statuses, completed: lost and killed,
/// unreachable), custom executors, a completed framework, reserved resources on the agents
/// and outstanding offers.
fn dump_fixture() -> Harness {
    let config = Config {
        agent_ping_timeout: Duration::from_secs(1),
        max_agent_ping_timeouts: 2,
        ..Config::default()
    };
    let mut h = Harness::with_config(config);
    let agents: Vec<_> = (1..=3)
        .map(|i| h.add_agent(&format!("host{i}"), "cpus:4;mem:1024;cpus(web):1"))
        .collect();
    let mut pa = framework("pa");
    pa.capabilities.push(capability(
        v1::framework_info::capability::Type::PartitionAware,
    ));
    let fw_pa = h.subscribe(pa);
    let fw_old = h.subscribe(framework("old"));
    let fw_gone = h.subscribe(framework("gone"));
    h.allocate();
    // Each framework launches one task on every agent it was offered.
    let mut pa_agents = Vec::new();
    for (fw, task) in [(&fw_pa, "t-pa"), (&fw_old, "t-old"), (&fw_gone, "t-gone")] {
        for offer in h.offers(fw) {
            if fw.id == fw_pa.id {
                pa_agents.push(offer.agent_id.value.clone());
            }
            let id = format!("{task}-{}", offer.agent_id.value);
            let mut t = command_task(&id, &offer.agent_id, "cpus:1;mem:128", "*");
            if fw.id == fw_old.id {
                // A custom executor: the frameworks' `executors` are not empty.
                let mut r = Resources::parse("cpus:0.1;mem:32", "*").unwrap();
                r.allocate("*");
                t.executor = Some(v1::ExecutorInfo {
                    executor_id: v1::ExecutorId {
                        value: format!("exec-{id}"),
                    },
                    command: t.command.take(),
                    resources: r.into_protos(),
                    ..Default::default()
                });
            }
            h.call(fw, launch(&offer, vec![t], None)).unwrap();
        }
    }
    for (_, conn) in &agents {
        h.agent_messages(*conn);
    }
    assert!(!pa_agents.is_empty());
    // `old`'s tasks run (statuses with a uuid and a timestamp).
    for (id, _) in &agents {
        let task = format!("t-old-{id}");
        h.status_update(
            id,
            &fw_old,
            &task,
            v1::TaskState::TaskRunning,
            Some(vec![7; 16]),
        );
    }
    // `gone` tears down: a completed framework with completed (killed) tasks.
    let teardown = sched::Call {
        r#type: Some(CallType::Teardown as i32),
        ..Default::default()
    };
    h.call(&fw_gone, teardown).unwrap();
    // pa's agents stop answering pings: pa's tasks become unreachable, the others' there
    // are lost (completed); the other agents answer and keep their tasks.
    for _ in 0..4 {
        h.advance(Duration::from_secs(1));
        for (id, _) in &agents {
            if !pa_agents.contains(id) {
                h.master.agent_pong(id);
            }
        }
    }
    assert!(
        pa_agents
            .iter()
            .all(|a| h.master.unreachable_agents.contains_key(a))
    );
    // New offers on the remaining agents stay outstanding, so GET_FRAMEWORKS lists offers.
    h.allocate();

    let state = h.master.get_state();
    let tasks = state.get_tasks.as_ref().unwrap();
    assert!(!tasks.completed_tasks.is_empty() && !tasks.unreachable_tasks.is_empty());
    assert!(
        !state
            .get_frameworks
            .as_ref()
            .unwrap()
            .completed_frameworks
            .is_empty()
    );
    assert!(!h.master.offers.is_empty());
    h
}

/// What a dump written through [`dump::Chunked`] hands on, in chunks of `chunk` bytes.
fn chunked(
    chunk: usize,
    write: impl FnOnce(
        &mut dump::Chunked<Box<dyn FnMut(bytes::Bytes) -> bool + Send>>,
    ) -> Result<(), dump::Closed>,
) -> (Vec<u8>, usize) {
    let chunks = std::sync::Arc::new(std::sync::Mutex::new(Vec::<bytes::Bytes>::new()));
    let to = chunks.clone();
    let send: Box<dyn FnMut(bytes::Bytes) -> bool + Send> = Box::new(move |b| {
        to.lock().unwrap().push(b);
        true
    });
    let mut out = dump::Chunked::with_chunk(chunk, send);
    write(&mut out).unwrap();
    out.finish().unwrap();
    let chunks = chunks.lock().unwrap();
    (chunks.concat(), chunks.len())
}

/// GET_STATE, GET_TASKS and SUBSCRIBED written in chunks (protobuf and JSON) are the bytes of
/// the whole encoding and of its JSON transcoding; a reader that goes away stops the writing.
#[test]
fn streamed_state_dumps_equal_the_whole_ones() {
    let h = dump_fixture();
    let v = crate::security::authorizer::Viewer::everything();
    let dumps = [
        h.master.get_state_dump_for(v),
        h.master.get_tasks_dump_for(v),
        h.master.subscribed_dump_for(v, 15.0),
    ];
    for d in &dumps {
        let whole = d.encode();
        let (wire, n) = chunked(64, |out| d.write_protobuf(out));
        assert_eq!(wire, whole.wire.as_ref(), "{d:?}");
        assert!(n > 1 || d.encode().wire.len() < 64, "{d:?} in chunks: {n}");
        let (json, _) = chunked(64, |out| d.write_json(out));
        assert_eq!(
            String::from_utf8(json).unwrap(),
            String::from_utf8(whole.to_json()).unwrap(),
            "{d:?}"
        );
    }
    // The reader goes away after the first chunk: the writer stops with `Closed`.
    let mut sent = 0;
    let mut out = dump::Chunked::with_chunk(64, |_| {
        sent += 1;
        false
    });
    assert_eq!(dumps[0].write_json(&mut out), Err(dump::Closed));
    drop(out);
    assert_eq!(sent, 1);
}

/// `/master/state` and `/master/tasks` written off the actor are the bytes the `Value` trees
/// built on the actor gave, for everyone and for a principal that sees part of the state.
#[test]
fn streamed_v0_dumps_equal_the_value_trees() {
    use crate::master::dump_json::JsonDump;
    use crate::master::operator::TasksQuery;
    use crate::security::authorizer::Viewer;

    let h = dump_fixture();
    let v = Viewer::everything();
    let old = h.master.state_json_for(v).to_string();
    assert!(
        old.contains("\"executors\":[{"),
        "the fixture has executors"
    );
    assert!(
        old.contains("\"reserved_resources\":{\"web\""),
        "and reservations"
    );
    assert!(old.contains("\"unreachable_tasks\":[{"), "{old}");
    assert!(old.contains("\"completed_frameworks\":[{"), "{old}");
    assert!(old.contains("TASK_RUNNING"), "{old}");
    let new = JsonDump::State(h.master.state_json_dump_for(v));
    let (bytes, n) = chunked(128, |out| new.write(out));
    assert!(n > 10, "in chunks: {n}");
    assert_eq!(String::from_utf8(bytes).unwrap(), old);
    assert_eq!(new.into_value().to_string(), old);

    let fw = h.master.frameworks.keys().next().unwrap().clone();
    let task = h.master.all_tasks()[1].task_id().value;
    let queries = [
        TasksQuery::default(),
        TasksQuery {
            ascending: true,
            ..Default::default()
        },
        TasksQuery {
            limit: 2,
            offset: 1,
            ..Default::default()
        },
        TasksQuery {
            limit: 0,
            ..Default::default()
        },
        TasksQuery {
            offset: 100,
            ..Default::default()
        },
        TasksQuery {
            framework_id: Some(fw.to_string()),
            ..Default::default()
        },
        TasksQuery {
            task_id: Some(task),
            ..Default::default()
        },
        TasksQuery {
            task_id: Some("no-such-task".into()),
            ..Default::default()
        },
    ];
    // Tasks on the page of each query (checked against the old `Value` tree at 68c92110).
    let all = h.master.all_tasks().len();
    let of_fw = h
        .master
        .all_tasks()
        .iter()
        .filter(|t| Some(t.framework_id().value) == queries[5].framework_id)
        .count();
    assert!(all >= 3 && of_fw > 0, "{all} {of_fw}");
    let pages = [all, all, 2, 0, 0, of_fw, 1, 0];
    for (q, want) in queries.into_iter().zip(pages) {
        let new = JsonDump::Tasks(h.master.tasks_json_dump_for(q.clone(), v));
        let (bytes, _) = chunked(128, |out| new.write(out));
        let value = new.into_value();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            value.to_string(),
            "{q:?}"
        );
        assert_eq!(value["tasks"].as_array().unwrap().len(), want, "{q:?}");
    }

    // A principal that may view one framework and none of the tasks of another user.
    let acls = serde_json::json!({"permissive": false,
        "view_frameworks": [{"principals": {"values": ["alice"]}, "users": {"type": "ANY"}}],
        "view_tasks": [{"principals": {"values": ["alice"]}, "users": {"values": ["nobody"]}}],
        "view_executors": [{"principals": {"values": ["alice"]}, "users": {"values": ["nobody"]}}]
    });
    let acls = crate::security::acls::parse(acls.to_string().as_bytes()).unwrap();
    let authorizer = crate::security::authorizer::Authorizer::new(&acls);
    let alice = crate::security::authorizer::Principal::new("alice").unwrap();
    let v = authorizer.viewer(Some(&alice));
    let old = h.master.state_json_for(v).to_string();
    let new = JsonDump::State(h.master.state_json_dump_for(v));
    let (bytes, _) = chunked(128, |out| new.write(out));
    let new = String::from_utf8(bytes).unwrap();
    assert_eq!(new, old);
    assert!(!new.contains("TASK_RUNNING"), "alice sees no task: {new}");
    let new = JsonDump::Tasks(h.master.tasks_json_dump_for(TasksQuery::default(), v));
    let (bytes, _) = chunked(128, |out| new.write(out));
    assert_eq!(String::from_utf8(bytes).unwrap(), "{\"tasks\":[]}");
}

#[test]
fn a_reregistering_agents_tasks_are_accounted_per_framework_whatever_their_resources() {
    // After a failover an agent reports all its tasks at once; the master parses a run of
    // tasks with the same resources once (lifecycle.rs), so tasks asking for different
    // resources, interleaved and of two frameworks, must still each count in full.
    let mut h = Harness::new();
    let conn = h.conn();
    let small = {
        let mut r = Resources::parse("cpus:1;mem:128", "*").unwrap();
        r.allocate("*");
        r.into_protos()
    };
    let big = {
        let mut r = Resources::parse("cpus:2;mem:256", "*").unwrap();
        r.allocate("*");
        r.into_protos()
    };
    let framework_info = |id: &str| v1::FrameworkInfo {
        id: Some(v1::FrameworkId { value: id.into() }),
        ..framework(id)
    };
    let task = |framework: &str, id: &str, resources: &Vec<v1::Resource>| v1::Task {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        framework_id: v1::FrameworkId {
            value: framework.into(),
        },
        agent_id: v1::AgentId {
            value: "old-S1".into(),
        },
        state: v1::TaskState::TaskRunning as i32,
        resources: resources.clone(),
        ..Default::default()
    };
    let reregister = wire::Reregister {
        agent_info: v1::AgentInfo {
            hostname: "host1".into(),
            id: Some(v1::AgentId {
                value: "old-S1".into(),
            }),
            resources: Resources::parse("cpus:16;mem:4096", "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        },
        tasks: vec![
            task("old-F1", "t1", &small),
            task("old-F1", "t2", &small),
            task("old-F1", "t3", &big),
            task("old-F2", "t4", &big),
            task("old-F1", "t5", &small),
            task("old-F2", "t6", &small),
        ],
        frameworks: vec![framework_info("old-F1"), framework_info("old-F2")],
        ..Default::default()
    };
    let now = h.now();
    let id = h.master.reregister_agent(now, conn, reregister).unwrap();
    h.pump();
    let agent = &h.master.agents[&id];
    assert_eq!(agent.tasks.len(), 6);
    assert_eq!(agent.used["old-F1"].cpus(), 5.0);
    assert_eq!(agent.used["old-F1"].mem(), 640.0);
    assert_eq!(agent.used["old-F2"].cpus(), 3.0);
    assert_eq!(agent.used["old-F2"].mem(), 384.0);
    assert_eq!(h.master.frameworks["old-F1"].tasks.len(), 4);
    assert_eq!(h.master.frameworks["old-F2"].tasks.len(), 2);
}
