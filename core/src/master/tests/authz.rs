//! The local authorizer in the master (`--acls`; security/authorizer.rs): scheduler calls
//! authorized as the framework's principal, operator commands as the request's, and what
//! each principal sees. Mesos: src/master/master.cpp (`_subscribe`, `_accept`,
//! `updateFramework`), src/master/http.cpp and src/tests/master_authorization_tests.cpp.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::master::operator::{OperatorCommand, OperatorError, OperatorReply};
use crate::security::acls;
use crate::security::authorizer::{Authorizer, Principal};

fn with_acls(acls: serde_json::Value) -> Harness {
    let acls = acls::parse(acls.to_string().as_bytes()).unwrap();
    Harness::with_config(Config {
        authorizer: Arc::new(Authorizer::new(&acls)),
        ..Config::default()
    })
}

fn principal_framework(name: &str, principal: &str, user: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        principal: Some(principal.to_string()),
        user: user.to_string(),
        ..framework(name)
    }
}

/// master.cpp `_subscribe`: a framework whose principal may not register in its roles gets
/// an ERROR event and its stream closes; nothing of it is kept.
#[test]
fn a_subscribe_denied_by_register_frameworks_gets_an_error_and_adds_nothing() {
    let mut h = with_acls(json!({"permissive": false, "register_frameworks": [
        {"principals": {"values": ["alice"]}, "roles": {"values": ["*"]}}
    ]}));
    let conn = h.conn();
    let call = subscribe_call(principal_framework("b", "bob", "bob"));
    let now = h.now();
    let subscribed = h.master.subscribe_on(now, conn, call).unwrap();
    h.pump();
    assert_eq!(subscribed.framework_id, None);
    let events = h.events(conn);
    assert_eq!(event_types(&events), vec![EventType::Error]);
    assert_eq!(
        events[0].error.as_ref().unwrap().message,
        "Not authorized to register framework  with roles { * }"
    );
    assert!(
        h.effects
            .iter()
            .any(|e| matches!(e, Effect::CloseFramework { conn: c } if *c == conn))
    );
    assert!(h.master.frameworks.is_empty());
    // The allowed principal subscribes.
    let alice = h.subscribe(principal_framework("a", "alice", "alice"));
    assert!(h.master.frameworks.contains_key(&alice.id));
}

/// master.cpp `updateFramework`: 403 when the new roles are not allowed; nothing changes.
#[test]
fn an_update_framework_to_a_denied_role_is_forbidden() {
    use v1::framework_info::capability::Type as Cap;
    let mut h = with_acls(json!({"permissive": false, "register_frameworks": [
        {"principals": {"values": ["alice"]}, "roles": {"values": ["a"]}}
    ]}));
    let mut info = principal_framework("a", "alice", "alice");
    info.capabilities = vec![capability(Cap::MultiRole)];
    info.roles = vec!["a".into()];
    let fw = h.subscribe(info.clone());
    info.id = Some(v1::FrameworkId {
        value: fw.id.clone(),
    });
    info.roles = vec!["a".into(), "b".into()];
    let update = sched::Call {
        r#type: Some(CallType::UpdateFramework as i32),
        update_framework: Some(sched::call::UpdateFramework {
            framework_info: info,
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = h.call(&fw, update).unwrap_err();
    assert_eq!(
        err,
        CallError::Forbidden(format!(
            "Not authorized to register framework {} with roles {{ a, b }}",
            fw.id
        ))
    );
    assert_eq!(
        h.master.frameworks[&fw.id].info.roles,
        vec!["a".to_string()]
    );
}

/// master.cpp `_accept`: a task whose user the principal may not run as ends TASK_ERROR
/// with REASON_TASK_UNAUTHORIZED; nothing reaches the agent and the resources return.
#[test]
fn a_task_as_a_user_the_principal_may_not_run_as_ends_task_error_unauthorized() {
    let mut h = with_acls(json!({"run_tasks": [
        {"principals": {"values": ["alice"]}, "users": {"values": ["nobody"]}},
        {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}
    ]}));
    let (_, agent_conn) = h.add_agent("host1", "cpus:4;mem:1024");
    let fw = h.subscribe(principal_framework("a", "alice", "nobody"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut as_root = command_task("root-task", &offer.agent_id, "cpus:1;mem:128", "*");
    as_root.command.as_mut().unwrap().user = Some("root".into());
    assert_eq!(
        h.call(&fw, launch(&offer, vec![as_root], Some(0.0))),
        Ok(CallOk::Accepted)
    );
    let updates = h.updates(&fw);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state, v1::TaskState::TaskError as i32);
    assert_eq!(
        updates[0].reason,
        Some(v1::task_status::Reason::TaskUnauthorized as i32)
    );
    assert_eq!(
        updates[0].message.as_deref(),
        Some(
            format!(
                "Principal 'alice' no authorized to launch task root-task of framework {} \
                 under user 'root'",
                fw.id
            )
            .as_str()
        )
    );
    assert!(
        !h.agent_messages(agent_conn)
            .iter()
            .any(|m| matches!(m, ToAgent::RunTask(_))),
        "nothing launched"
    );
    assert!(h.master.frameworks[&fw.id].tasks.is_empty());
    assert_eq!(h.master.counters.tasks_error, 1);
    // The same task as the framework's user (no user of its own) runs.
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let task = command_task("t", &offer.agent_id, "cpus:1;mem:128", "*");
    h.call(&fw, launch(&offer, vec![task], None)).unwrap();
    assert!(
        h.agent_messages(agent_conn)
            .iter()
            .any(|m| matches!(m, ToAgent::RunTask(_)))
    );
}

/// http.cpp `_teardown`: `teardown_frameworks` on the framework's principal; 403 and the
/// framework stays.
#[test]
fn an_operator_teardown_denied_by_the_acls_is_forbidden_and_changes_nothing() {
    let mut h = with_acls(json!({"permissive": false,
        "register_frameworks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
        "teardown_frameworks": [
            {"principals": {"values": ["ops"]}, "framework_principals": {"values": ["alice"]}}
        ]
    }));
    let alice = h.subscribe(principal_framework("a", "alice", "alice"));
    let bob = h.subscribe(principal_framework("b", "bob", "bob"));
    let now = h.now();
    let ops = Principal::new("ops").unwrap();
    let teardown = |id: &str| OperatorCommand::teardown(id.to_string()).unwrap();
    for (who, id) in [(Some(&ops), &bob.id), (None, &alice.id)] {
        let err = h.master.operator_as(now, teardown(id), who).unwrap_err();
        assert_eq!(err, OperatorError::Forbidden);
        assert_eq!(err.status(), 403);
    }
    assert_eq!(h.master.frameworks.len(), 2);
    h.master
        .operator_as(now, teardown(&alice.id), Some(&ops))
        .unwrap();
    assert!(!h.master.frameworks.contains_key(&alice.id));
}

/// http.cpp `state`/`getFrameworks`/`flags`: each principal sees the frameworks, tasks and
/// flags its ACLs allow; GET_FLAGS is 403 for the others.
#[test]
fn state_is_filtered_per_principal_and_flags_are_forbidden() {
    let mut h = with_acls(json!({"permissive": false,
        "register_frameworks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
        "view_frameworks": [{"principals": {"values": ["alice"]}, "users": {"values": ["alice"]}}],
        "view_tasks": [{"principals": {"values": ["alice"]}, "users": {"values": ["alice"]}}],
        "view_flags": [{"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}}]
    }));
    let alice = h.subscribe(principal_framework("a", "alice", "alice"));
    let bob = h.subscribe(principal_framework("b", "bob", "bob"));
    let now = h.now();
    let who = Principal::new("alice").unwrap();
    let Ok(OperatorReply::JsonDump(state)) =
        h.master
            .operator_as(now, OperatorCommand::StateJson, Some(&who))
    else {
        panic!("state");
    };
    let state = state.into_value();
    let ids: Vec<&str> = state["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![alice.id.as_str()]);
    assert!(state.get("flags").is_none(), "no view_flags for alice");
    let Ok(OperatorReply::Response(frameworks)) =
        h.master
            .operator_as(now, OperatorCommand::GetFrameworks, None)
    else {
        panic!("GET_FRAMEWORKS");
    };
    assert!(frameworks.get_frameworks.unwrap().frameworks.is_empty());
    assert_eq!(
        h.master
            .operator_as(now, OperatorCommand::GetFlags, Some(&who))
            .unwrap_err(),
        OperatorError::Forbidden
    );
    let ops = Principal::new("ops").unwrap();
    assert!(
        h.master
            .operator_as(now, OperatorCommand::FlagsJson, Some(&ops))
            .is_ok()
    );
    // The operator event stream: bob's framework events are withheld from alice.
    let bob_added = v1::master::Event {
        framework_added: Some(v1::master::event::FrameworkAdded {
            framework: crate::master::state::framework_proto(&h.master.frameworks[&bob.id]),
        }),
        ..Default::default()
    };
    let authorizer = h.master.config.authorizer.clone();
    assert!(
        !h.master
            .operator_event_visible(&bob_added, authorizer.viewer(Some(&who)))
    );
}

/// Weights and quota: changes need `update_weights`/`update_quotas` for every role (403,
/// nothing changed); reads leave out the roles the principal may not view.
#[test]
fn weights_updates_need_every_role_and_reads_are_filtered() {
    let mut h = with_acls(json!({"permissive": false,
        "update_weights": [{"principals": {"values": ["ops"]}, "roles": {"values": ["a"]}}],
        "view_roles": [{"principals": {"values": ["ops"]}, "roles": {"values": ["a"]}}]
    }));
    let now = h.now();
    let ops = Principal::new("ops").unwrap();
    let weight = |role: &str| v1::WeightInfo {
        weight: 2.0,
        role: Some(role.into()),
    };
    let both = OperatorCommand::UpdateWeights {
        weight_infos: vec![weight("a"), weight("b")],
    };
    assert_eq!(
        h.master.operator_as(now, both, Some(&ops)).unwrap_err(),
        OperatorError::Forbidden
    );
    assert!(h.master.weight_infos().is_empty(), "nothing changed");
    let a = OperatorCommand::UpdateWeights {
        weight_infos: vec![weight("a")],
    };
    h.master.operator_as(now, a, Some(&ops)).unwrap();
    // An unrestricted update (no principal: matched as ANY, no ACL, not permissive) fails.
    let b = OperatorCommand::UpdateWeights {
        weight_infos: vec![weight("b")],
    };
    assert!(h.master.operator_as(now, b, None).is_err());
    let Ok(OperatorReply::Json(weights)) =
        h.master
            .operator_as(now, OperatorCommand::WeightsJson, Some(&ops))
    else {
        panic!("weights");
    };
    assert_eq!(weights, json!([{"weight": 2.0, "role": "a"}]));
    let Ok(OperatorReply::Json(none)) =
        h.master
            .operator_as(now, OperatorCommand::WeightsJson, None)
    else {
        panic!("weights");
    };
    assert_eq!(none, json!([]));
}

/// master.cpp `registerSlave`/`reregisterSlave` → `authorizeSlave` (`REGISTER_AGENT`,
/// subject the agent's principal, object ANY): a denied agent is refused before anything
/// changes (no id, no registry write, no allocator agent, nothing sent), both when it
/// registers and when it reregisters with tasks; an allowed principal registers.
#[test]
fn an_agent_denied_by_register_agents_is_refused_and_nothing_enters_the_registry() {
    let mut h = with_acls(json!({"permissive": false, "register_agents": [
        {"principals": {"values": ["agent"]}, "agents": {"type": "ANY"}}
    ]}));
    let info = |id: Option<&str>| v1::AgentInfo {
        hostname: "host1".into(),
        id: id.map(|value| v1::AgentId {
            value: value.into(),
        }),
        resources: Resources::parse("cpus:2;mem:512", "*")
            .unwrap()
            .into_protos(),
        ..Default::default()
    };
    let rogue = Principal::new("rogue").unwrap();
    for who in [None, Some(&rogue)] {
        let conn = h.conn();
        let now = h.now();
        let register = wire::Register {
            agent_info: info(None),
            ..Default::default()
        };
        let refused = h
            .master
            .register_agent_as(now, conn, register, who)
            .unwrap_err();
        assert_eq!(refused.1, crate::master::lifecycle::Refusal::Forbidden);
        let expected = match who {
            Some(_) => "with principal 'rogue'",
            None => "without a principal",
        };
        assert_eq!(
            refused.0,
            format!(
                "Not authorized to register agent providing resources 'cpus:2; mem:512' \
                 {expected}"
            )
        );
        let reregister = wire::Reregister {
            agent_info: info(Some("old-S1")),
            tasks: vec![v1::Task {
                name: "t".into(),
                task_id: v1::TaskId { value: "t".into() },
                framework_id: v1::FrameworkId { value: "f".into() },
                agent_id: v1::AgentId {
                    value: "old-S1".into(),
                },
                state: v1::TaskState::TaskRunning as i32,
                ..Default::default()
            }],
            frameworks: vec![framework("f")],
            ..Default::default()
        };
        let refused = h
            .master
            .reregister_agent_as(now, conn, reregister, who)
            .unwrap_err();
        assert_eq!(refused.1, crate::master::lifecycle::Refusal::Forbidden);
        h.pump();
        assert!(h.master.agents.is_empty());
        assert!(
            h.master.frameworks.is_empty(),
            "nothing it reported is kept"
        );
        assert!(registry_ops(&mut h).is_empty(), "nothing written");
        assert!(h.agent_messages(conn).is_empty(), "nothing sent");
    }
    let agent = Principal::new("agent").unwrap();
    let conn = h.conn();
    let now = h.now();
    let register = wire::Register {
        agent_info: info(None),
        ..Default::default()
    };
    let id = h
        .master
        .register_agent_as(now, conn, register, Some(&agent))
        .unwrap();
    h.pump();
    assert!(h.master.agents.contains_key(&id));
    assert_eq!(registry_ops(&mut h).len(), 1);
}
