//! DRAIN_AGENT, DEACTIVATE_AGENT and REACTIVATE_AGENT in the master (`drain.rs`). Mesos:
//! src/master/http.cpp (`_drainAgent`, `_deactivateAgent`, `_reactivateAgent`),
//! src/master/master.cpp (`checkAndTransitionDrainingAgent`), src/slave/slave.cpp (`drain`:
//! the capped kill policy, the rewritten updates) and src/tests/master_draining_tests.cpp.

use std::sync::Arc;

use super::*;
use crate::master::operator::{OperatorCommand, OperatorError, OperatorReply};
use crate::registry::{AgentRecord, Registry};
use crate::security::acls;
use crate::security::authorizer::{Authorizer, Principal};
use v1::DrainState;

fn secs(s: i64) -> v1::DurationInfo {
    v1::DurationInfo {
        nanoseconds: s * 1_000_000_000,
    }
}

fn drain(
    h: &mut Harness,
    agent: &str,
    max: Option<i64>,
    mark_gone: bool,
) -> Result<(), OperatorError> {
    let now = h.now();
    let r = h.master.drain_agent(now, agent, max.map(secs), mark_gone);
    h.pump();
    r.map(|_| ())
}

/// A framework (partition-aware when asked) with tasks `ids` on the agent's first offer:
/// `t-long` has a 30 s kill policy, `t-short` 1 s, others none. All RUNNING.
fn running_tasks(h: &mut Harness, agent: &str, partition_aware: bool, ids: &[&str]) -> Fw {
    let mut info = framework("fw");
    if partition_aware {
        info.capabilities.push(capability(
            v1::framework_info::capability::Type::PartitionAware,
        ));
    }
    let fw = h.subscribe(info);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let tasks = ids
        .iter()
        .map(|id| {
            let mut t = command_task(id, &offer.agent_id, "cpus:0.1;mem:16", "*");
            t.kill_policy = match *id {
                "t-long" => Some(v1::KillPolicy {
                    grace_period: Some(secs(30)),
                }),
                "t-short" => Some(v1::KillPolicy {
                    grace_period: Some(secs(1)),
                }),
                _ => None,
            };
            t
        })
        .collect();
    h.call(&fw, launch(&offer, tasks, None)).unwrap();
    for id in ids {
        h.status_update(
            agent,
            &fw,
            id,
            v1::TaskState::TaskRunning,
            Some(uuid(id, 0)),
        );
    }
    h.updates(&fw);
    fw
}

fn uuid(task: &str, n: u8) -> Vec<u8> {
    let mut u = [n; 16];
    for (i, b) in task.bytes().take(15).enumerate() {
        u[i + 1] = b;
    }
    u.to_vec()
}

fn ack(h: &mut Harness, fw: &Fw, agent: &str, task: &str, uuid: Vec<u8>) {
    let call = sched::Call {
        r#type: Some(CallType::Acknowledge as i32),
        acknowledge: Some(sched::call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent.into(),
            },
            task_id: v1::TaskId { value: task.into() },
            uuid,
        }),
        ..Default::default()
    };
    h.call(fw, call).unwrap();
}

fn drain_state(h: &Harness, agent: &str) -> Option<DrainState> {
    h.master
        .drains
        .draining
        .get(agent)
        .and_then(|i| DrainState::try_from(i.state).ok())
}

fn kills(msgs: &[ToAgent]) -> Vec<(String, Option<i64>)> {
    let mut out: Vec<(String, Option<i64>)> = msgs
        .iter()
        .filter_map(|m| match m {
            ToAgent::KillTask(k) => Some((
                k.task_id.value.clone(),
                k.kill_policy
                    .and_then(|p| p.grace_period)
                    .map(|g| g.nanoseconds / 1_000_000_000),
            )),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

#[test]
fn draining_kills_with_the_grace_period_capped_and_drains_once_every_update_is_acknowledged() {
    // slave.cpp `calculateKillPolicy`: the cap replaces a longer or missing grace period
    // and leaves a shorter one alone. master.cpp `checkAndTransitionDrainingAgent`: DRAINED
    // only once no task is left and the terminal updates are acknowledged.
    let mut h = Harness::new();
    let (agent, conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = running_tasks(&mut h, &agent, false, &["t-long", "t-none", "t-short"]);
    h.agent_messages(conn);
    registry_ops(&mut h);

    drain(&mut h, &agent, Some(5), false).unwrap();
    let ops = registry_ops(&mut h);
    assert_eq!(ops.len(), 1, "{ops:?}");
    let record = ops[0].0.agent.clone().unwrap();
    assert!(
        ops[0].1,
        "the operator is answered once DRAINING is durable"
    );
    assert!(record.deactivated);
    assert_eq!(
        record.drain_info.unwrap().state,
        DrainState::Draining as i32
    );
    assert_eq!(
        kills(&h.agent_messages(conn)),
        vec![
            ("t-long".to_string(), Some(5)),
            ("t-none".to_string(), Some(5)),
            ("t-short".to_string(), None),
        ]
    );
    assert!(!h.master.agents[&agent].active);
    h.allocate();
    assert!(h.offers(&fw).is_empty(), "a draining agent gets no offers");

    // The agent's KILLING and KILLED updates carry REASON_AGENT_DRAINING.
    for id in ["t-long", "t-none", "t-short"] {
        h.status_update(
            &agent,
            &fw,
            id,
            v1::TaskState::TaskKilled,
            Some(uuid(id, 1)),
        );
    }
    let updates = h.updates(&fw);
    assert_eq!(updates.len(), 3);
    for u in &updates {
        assert_eq!(u.state, v1::TaskState::TaskKilled as i32);
        assert_eq!(
            u.reason,
            Some(v1::task_status::Reason::AgentDraining as i32)
        );
    }
    assert!(h.master.agents[&agent].tasks.is_empty());
    assert_eq!(
        drain_state(&h, &agent),
        Some(DrainState::Draining),
        "updates unacknowledged"
    );
    ack(&mut h, &fw, &agent, "t-long", uuid("t-long", 1));
    // An acknowledgement of an older update does not count.
    ack(&mut h, &fw, &agent, "t-none", uuid("t-none", 0));
    ack(&mut h, &fw, &agent, "t-short", uuid("t-short", 1));
    assert_eq!(drain_state(&h, &agent), Some(DrainState::Draining));
    registry_ops(&mut h);
    ack(&mut h, &fw, &agent, "t-none", uuid("t-none", 1));
    assert_eq!(drain_state(&h, &agent), Some(DrainState::Drained));
    let ops = registry_ops(&mut h);
    assert_eq!(ops.len(), 1, "{ops:?}");
    let record = ops[0].0.agent.clone().unwrap();
    assert_eq!(record.drain_info.unwrap().state, DrainState::Drained as i32);
    assert!(record.deactivated, "a DRAINED agent stays deactivated");

    // GET_AGENTS and /master/slaves show it.
    let agents = h.master.get_agents();
    assert_eq!(agents.agents[0].deactivated, Some(true));
    assert_eq!(
        agents.agents[0].drain_info.as_ref().map(|i| i.state),
        Some(DrainState::Drained as i32)
    );
    assert!(agents.agents[0].estimated_drain_start_time.is_some());
    let json = h.master.agent_json(&h.master.agents[&agent]);
    assert_eq!(json["deactivated"], true);
    assert_eq!(json["drain_info"]["state"], "DRAINED");
    assert_eq!(
        json["drain_info"]["config"]["max_grace_period"]["nanoseconds"],
        5_000_000_000i64
    );

    // REACTIVATE_AGENT brings offers back and clears the record.
    h.master.reactivate_agent(&agent).unwrap();
    h.pump();
    let ops = registry_ops(&mut h);
    let record = ops[0].0.agent.clone().unwrap();
    assert!(!record.deactivated && record.drain_info.is_none());
    h.allocate();
    assert_eq!(h.offers(&fw).len(), 1);
    assert_eq!(h.master.get_agents().agents[0].deactivated, Some(false));
}

#[test]
fn an_agent_without_tasks_is_drained_at_once_and_outstanding_offers_are_rescinded() {
    let mut h = Harness::new();
    let (agent, _) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("fw"));
    h.allocate();
    assert_eq!(h.offers(&fw).len(), 1);
    drain(&mut h, &agent, None, false).unwrap();
    let rescinds = h
        .events(fw.conn)
        .into_iter()
        .filter(|e| e.rescind.is_some())
        .count();
    assert_eq!(rescinds, 1, "the outstanding offer is rescinded");
    assert_eq!(drain_state(&h, &agent), Some(DrainState::Drained));
}

#[test]
fn drain_with_mark_gone_reports_gone_by_operator_and_marks_the_agent_gone() {
    // DrainConfig.mark_gone: killed tasks of partition-aware frameworks end
    // TASK_GONE_BY_OPERATOR; once drained the agent is gone for good.
    let mut h = Harness::new();
    let (agent, conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = running_tasks(&mut h, &agent, true, &["t-none"]);
    drain(&mut h, &agent, Some(0), true).unwrap();
    assert_eq!(
        kills(&h.agent_messages(conn)),
        vec![("t-none".to_string(), Some(0))]
    );
    h.status_update(
        &agent,
        &fw,
        "t-none",
        v1::TaskState::TaskKilled,
        Some(uuid("t-none", 1)),
    );
    let updates = h.updates(&fw);
    assert_eq!(updates[0].state, v1::TaskState::TaskGoneByOperator as i32);
    assert_eq!(
        updates[0].reason,
        Some(v1::task_status::Reason::AgentDraining as i32)
    );
    assert!(h.master.agents.contains_key(&agent));
    registry_ops(&mut h);
    ack(&mut h, &fw, &agent, "t-none", uuid("t-none", 1));
    assert!(!h.master.agents.contains_key(&agent));
    assert!(h.master.gone_agents.contains_key(&agent));
    let ops = registry_ops(&mut h);
    let record = ops[0].0.agent.clone().unwrap();
    assert_eq!(record.state, AgentRecord::GONE);
    assert!(record.drain_info.is_none());
    assert!(!h.master.drains.is_deactivated(&agent));
}

#[test]
fn bad_drain_requests_get_mesos_answers_and_change_nothing() {
    let mut h = Harness::new();
    let (agent, _) = h.add_agent("host1", "cpus:2;mem:1024");
    registry_ops(&mut h);
    let text = |r: Result<(), OperatorError>| r.unwrap_err().to_string();

    // Unknown agents: Mesos's BadRequest("Unknown agent").
    assert_eq!(text(drain(&mut h, "nope", None, false)), "Unknown agent");
    let now = h.now();
    let e = h.master.deactivate_agent(now, "nope").unwrap_err();
    assert_eq!((e.status(), e.to_string().as_str()), (400, "Unknown agent"));
    let e = OperatorCommand::drain_agent(v1::master::call::DrainAgent {
        agent_id: v1::AgentId {
            value: "../x".into(),
        },
        max_grace_period: None,
        mark_gone: None,
    })
    .unwrap_err();
    assert_eq!((e.status(), e.to_string().as_str()), (400, "Unknown agent"));
    // Stricter than Mesos: a negative grace period is refused.
    for (s, n) in [(-1, 0), (0, -1)] {
        let e = super::super::drain::grace_period(s, n).unwrap_err();
        assert_eq!(e.status(), 400, "{e}");
    }
    assert!(super::super::drain::grace_period(i64::MAX, 0).is_err());

    // REACTIVATE of an agent that is not deactivated, or still DRAINING.
    let e = h.master.reactivate_agent(&agent).unwrap_err();
    assert_eq!(e.to_string(), "Agent is not deactivated");
    let fw = running_tasks(&mut h, &agent, false, &["t-none"]);
    drain(&mut h, &agent, None, false).unwrap();
    registry_ops(&mut h);
    let e = h.master.reactivate_agent(&agent).unwrap_err();
    assert_eq!(
        (e.status(), e.to_string().as_str()),
        (400, "Agent is still in the DRAINING state")
    );
    h.pump();
    assert!(registry_ops(&mut h).is_empty(), "refusals write nothing");
    assert!(h.master.drains.is_deactivated(&agent));

    // A second DRAIN_AGENT replaces the config and stays DRAINING (Mesos overwrites).
    drain(&mut h, &agent, Some(7), false).unwrap();
    let info = &h.master.drains.draining[agent.as_str()];
    assert_eq!(info.config.max_grace_period, Some(secs(7)));
    assert_eq!(info.state, DrainState::Draining as i32);
    drop(fw);

    // An agent whose machine is in the maintenance schedule is refused.
    let (other, _) = h.add_agent("host2", "cpus:2;mem:1024");
    let id = machine_of(&h, &other);
    let now = h.now();
    h.master
        .update_maintenance_schedule(now, schedule(vec![window(vec![id], 0, 3600)]))
        .unwrap();
    h.pump();
    registry_ops(&mut h);
    let e = text(drain(&mut h, &other, None, false));
    assert!(
        e.contains("is part of a maintenance schedule under Machine"),
        "{e}"
    );
    assert!(!h.master.drains.is_deactivated(&other));
    assert!(registry_ops(&mut h).is_empty());
}

#[test]
fn deactivation_withholds_offers_until_reactivation() {
    let mut h = Harness::new();
    let (agent, _) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("fw"));
    let now = h.now();
    h.master.deactivate_agent(now, &agent).unwrap();
    h.pump();
    let ops = registry_ops(&mut h);
    assert!(
        ops.iter()
            .any(|(op, _)| op.agent.as_ref().is_some_and(|r| r.deactivated))
    );
    h.allocate();
    assert!(h.offers(&fw).is_empty());
    assert!(h.master.drains.draining.is_empty(), "not draining");
    h.master.reactivate_agent(&agent).unwrap();
    h.pump();
    h.allocate();
    assert_eq!(h.offers(&fw).len(), 1);
}

#[test]
fn drain_state_survives_a_failover_and_an_agent_reregistration() {
    // master.cpp `recover` reads `drain_info`/`deactivated` from the registry; a
    // reregistering agent is deactivated again and told again to drain.
    let mut h = Harness::new();
    let (agent, conn) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = running_tasks(&mut h, &agent, false, &["t-long"]);
    h.agent_messages(conn);
    let mut registry = Registry::default();
    for (op, _) in registry_ops(&mut h) {
        registry.apply(&op);
    }
    drain(&mut h, &agent, Some(3), false).unwrap();
    for (op, _) in registry_ops(&mut h) {
        registry.apply(&op);
    }
    assert!(registry.agents[&agent].deactivated);

    // The agent restarts (same master): still deactivated, killed again.
    let conn2 = h.conn();
    let now = h.now();
    let mut rereg = reregister(&agent, "host1", "10.0.0.2:5051");
    rereg.tasks = vec![h.master.frameworks[&fw.id].tasks["t-long"].task()];
    h.master
        .reregister_agent(now, conn2, rereg.clone())
        .unwrap();
    h.pump();
    assert!(!h.master.agents[&agent].active);
    assert_eq!(
        kills(&h.agent_messages(conn2)),
        vec![("t-long".to_string(), Some(3))]
    );

    // A new leader recovers the drain and applies it when the agent reregisters.
    let mut h2 = Harness::new();
    let now = h2.now();
    h2.master.recover(now, &registry);
    assert!(h2.master.drains.is_deactivated(&agent));
    let conn3 = h2.conn();
    rereg.frameworks = vec![v1::FrameworkInfo {
        id: Some(v1::FrameworkId {
            value: fw.id.clone(),
        }),
        ..framework("fw")
    }];
    h2.master.reregister_agent(now, conn3, rereg).unwrap();
    h2.pump();
    assert!(!h2.master.agents[&agent].active);
    let msgs = h2.agent_messages(conn3);
    assert_eq!(kills(&msgs), vec![("t-long".to_string(), Some(3))]);
    let fw2 = h2.subscribe(framework("other"));
    h2.allocate();
    assert!(
        h2.offers(&fw2).is_empty(),
        "no offers from a recovered draining agent"
    );
    assert_eq!(h2.master.get_agents().agents[0].deactivated, Some(true));
}

#[test]
fn drain_deactivate_and_reactivate_need_their_acls() {
    // Mesos's DRAIN_AGENT (with MARK_AGENT_GONE for mark_gone), DEACTIVATE_AGENT,
    // REACTIVATE_AGENT actions (include/mesos/authorizer/acls.proto).
    let acls = acls::parse(
        serde_json::json!({
            "drain_agents": [{"principals": {"values": ["ops"]}, "agents": {"type": "ANY"}},
                             {"principals": {"type": "ANY"}, "agents": {"type": "NONE"}}],
            "mark_agents_gone": [{"principals": {"type": "ANY"}, "agents": {"type": "NONE"}}],
            "deactivate_agents": [{"principals": {"values": ["ops"]}, "agents": {"type": "ANY"}},
                                  {"principals": {"type": "ANY"}, "agents": {"type": "NONE"}}],
            "reactivate_agents": [{"principals": {"type": "ANY"}, "agents": {"type": "NONE"}}]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let mut h = Harness::with_config(Config {
        authorizer: Arc::new(Authorizer::new(&acls)),
        ..Config::default()
    });
    let (agent, _) = h.add_agent("host1", "cpus:2;mem:1024");
    let id = crate::common::id::AgentId::new(agent.as_str()).unwrap();
    let ops = Principal::new("ops").unwrap();
    let eve = Principal::new("eve").unwrap();
    let run = |h: &mut Harness, c: OperatorCommand, p: &Principal| {
        let now = h.now();
        let r = h.master.operator_as(now, c, Some(p));
        h.pump();
        r
    };
    let drain_cmd = |mark_gone| OperatorCommand::DrainAgent {
        agent_id: id.clone(),
        max_grace_period: None,
        mark_gone,
    };
    registry_ops(&mut h);
    assert_eq!(
        run(&mut h, drain_cmd(false), &eve).unwrap_err(),
        OperatorError::Forbidden
    );
    assert_eq!(
        run(&mut h, drain_cmd(true), &ops).unwrap_err(),
        OperatorError::Forbidden
    );
    let deactivate = OperatorCommand::DeactivateAgent {
        agent_id: id.clone(),
    };
    assert_eq!(
        run(&mut h, deactivate, &eve).unwrap_err(),
        OperatorError::Forbidden
    );
    assert!(registry_ops(&mut h).is_empty());
    assert!(!h.master.drains.is_deactivated(&agent));
    let deactivate = OperatorCommand::DeactivateAgent {
        agent_id: id.clone(),
    };
    assert!(matches!(
        run(&mut h, deactivate, &ops),
        Ok(OperatorReply::Persisting(_))
    ));
    let reactivate = OperatorCommand::ReactivateAgent {
        agent_id: id.clone(),
    };
    assert_eq!(
        run(&mut h, reactivate, &ops).unwrap_err(),
        OperatorError::Forbidden
    );
    assert!(h.master.drains.is_deactivated(&agent));
    assert!(matches!(
        run(&mut h, drain_cmd(false), &ops),
        Ok(OperatorReply::Persisting(_))
    ));
}
