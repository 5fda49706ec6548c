//! Operation feedback in the master (`operation_status.rs`). Mesos: src/master/master.cpp
//! (`accept`, `drop`, `_apply`, `updateOperationStatus`, `acknowledgeOperationStatus`,
//! `reconcileOperations`, `sendBulkOperationFeedback`) and
//! src/tests/operation_reconciliation_tests.cpp, src/tests/master_tests.cpp
//! (`OperationUpdatesUponAgentGone` and neighbours).

use super::*;
use v1::OperationState as S;

fn feedback_capability() -> v1::agent_info::Capability {
    v1::agent_info::Capability {
        r#type: Some(v1::agent_info::capability::Type::AgentOperationFeedback as i32),
    }
}

/// An agent that announces AGENT_OPERATION_FEEDBACK, as remesos's agent does.
fn add_feedback_agent(h: &mut Harness, hostname: &str) -> (String, ConnId) {
    let conn = h.conn();
    let register = wire::Register {
        agent_info: v1::AgentInfo {
            hostname: hostname.to_string(),
            resources: Resources::parse("cpus:4;mem:1024", "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        },
        endpoint: Some(format!("10.0.0.{conn}:5051")),
        capabilities: vec![feedback_capability()],
        ..Default::default()
    };
    let now = h.now();
    let id = h
        .master
        .register_agent(now, conn, register)
        .expect("register")
        .to_string();
    h.pump();
    h.agent_messages(conn);
    (id, conn)
}

fn reserver(h: &mut Harness) -> Fw {
    let mut info = framework("reserver");
    info.role = Some("r".to_string());
    info.principal = Some("ops".to_string());
    h.subscribe(info)
}

/// `cpus` of the offer's role `r` with a dynamic reservation to `r` by `ops`.
fn reservation(cpus: f64) -> Vec<v1::Resource> {
    let mut resources = Resources::parse(&format!("cpus:{cpus}"), "*")
        .unwrap()
        .into_protos();
    for r in &mut resources {
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
    resources
}

fn op_id(id: &str) -> Option<v1::OperationId> {
    Some(v1::OperationId { value: id.into() })
}

fn accept(offer: &v1::OfferId, operation: v1::offer::Operation) -> sched::Call {
    sched::Call {
        r#type: Some(CallType::Accept as i32),
        accept: Some(sched::call::Accept {
            offer_ids: vec![offer.clone()],
            operations: vec![operation],
            filters: Some(v1::Filters {
                refuse_seconds: Some(0.0),
            }),
        }),
        ..Default::default()
    }
}

fn reserve(id: Option<&str>, resources: Vec<v1::Resource>) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Reserve as i32),
        id: id.and_then(op_id),
        reserve: Some(v1::offer::operation::Reserve {
            resources,
            source: vec![],
        }),
        ..Default::default()
    }
}

fn unreserve(id: &str, resources: Vec<v1::Resource>) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Unreserve as i32),
        id: op_id(id),
        unreserve: Some(v1::offer::operation::Unreserve { resources }),
        ..Default::default()
    }
}

fn operation_statuses(h: &mut Harness, fw: &Fw) -> Vec<v1::OperationStatus> {
    h.events(fw.conn)
        .into_iter()
        .filter(|e| e.r#type == Some(EventType::UpdateOperationStatus as i32))
        .filter_map(|e| e.update_operation_status.map(|u| u.status))
        .collect()
}

fn reconcile(
    h: &mut Harness,
    fw: &Fw,
    wanted: &[(&str, Option<&str>)],
) -> Vec<v1::OperationStatus> {
    let call = sched::Call {
        r#type: Some(CallType::ReconcileOperations as i32),
        reconcile_operations: Some(sched::call::ReconcileOperations {
            operations: wanted
                .iter()
                .map(|(id, agent)| sched::call::reconcile_operations::Operation {
                    operation_id: v1::OperationId {
                        value: id.to_string(),
                    },
                    agent_id: agent.map(|a| v1::AgentId { value: a.into() }),
                    resource_provider_id: None,
                })
                .collect(),
        }),
        ..Default::default()
    };
    h.call(fw, call).unwrap();
    operation_statuses(h, fw)
}

fn acknowledge(
    h: &mut Harness,
    fw: &Fw,
    agent: Option<&str>,
    id: &str,
    uuid: Vec<u8>,
) -> Result<CallOk, CallError> {
    let call = sched::Call {
        r#type: Some(CallType::AcknowledgeOperationStatus as i32),
        acknowledge_operation_status: Some(sched::call::AcknowledgeOperationStatus {
            agent_id: agent.map(|a| v1::AgentId { value: a.into() }),
            resource_provider_id: None,
            uuid,
            operation_id: v1::OperationId { value: id.into() },
        }),
        ..Default::default()
    };
    h.call(fw, call)
}

/// The agent's answer to an ApplyOperation (agent/operations.rs): OPERATION_FINISHED with
/// a status uuid.
fn finished(h: &mut Harness, agent: &str, apply: &wire::ApplyOperation, status_uuid: [u8; 16]) {
    let now = h.now();
    let status = v1::OperationStatus {
        operation_id: apply.operation_info.id.clone(),
        state: S::OperationFinished as i32,
        uuid: Some(v1::Uuid {
            value: status_uuid.to_vec(),
        }),
        agent_id: Some(v1::AgentId {
            value: agent.into(),
        }),
        ..Default::default()
    };
    h.master.agent_operation_status(
        now,
        agent,
        wire::UpdateOperationStatus {
            framework_id: apply.framework_id.clone(),
            status: status.clone(),
            latest_status: Some(status),
            operation_uuid: apply.operation_uuid.clone(),
            agent_id: None,
        },
    );
    h.pump();
}

fn applied(messages: Vec<ToAgent>) -> wire::ApplyOperation {
    let mut checkpointed = false;
    for m in messages {
        match m {
            ToAgent::CheckpointResources(_) => checkpointed = true,
            ToAgent::ApplyOperation(apply) => {
                assert!(checkpointed, "the resources are checkpointed first");
                return apply;
            }
            _ => {}
        }
    }
    panic!("no ApplyOperation");
}

/// A RESERVE with an id on an agent with AGENT_OPERATION_FEEDBACK, through its whole
/// life: applied and sent to the agent (no OPERATION_PENDING to the framework), the
/// agent's OPERATION_FINISHED forwarded with its uuid and agent id, reconciled while
/// unacknowledged, forgotten once the framework acknowledged the terminal status.
#[test]
fn an_operation_with_an_id_is_applied_forwarded_and_forgotten_once_acknowledged() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = add_feedback_agent(&mut h, "host1");
    let fw = reserver(&mut h);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.call(
        &fw,
        accept(&offer.id, reserve(Some("op-1"), reservation(2.0))),
    )
    .unwrap();
    assert_eq!(
        h.master.agents[&agent_id].total.reserved_to("r").cpus(),
        2.0
    );
    assert!(
        operation_statuses(&mut h, &fw).is_empty(),
        "OPERATION_PENDING is not sent for default resources"
    );
    let apply = applied(h.agent_messages(agent_conn));
    assert_eq!(apply.framework_id.as_ref().unwrap().value, fw.id);
    assert_eq!(apply.operation_uuid.value.len(), 16);

    finished(&mut h, &agent_id, &apply, [7; 16]);
    let statuses = operation_statuses(&mut h, &fw);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    let status = &statuses[0];
    assert_eq!(status.state, S::OperationFinished as i32);
    assert_eq!(status.operation_id.as_ref().unwrap().value, "op-1");
    assert_eq!(status.agent_id.as_ref().unwrap().value, agent_id);
    assert_eq!(status.uuid.as_ref().unwrap().value, vec![7; 16]);

    // Implicit reconciliation: the latest status, without its uuid.
    let reconciled = reconcile(&mut h, &fw, &[]);
    assert_eq!(reconciled.len(), 1);
    assert_eq!(reconciled[0].state, S::OperationFinished as i32);
    assert!(reconciled[0].uuid.is_none());

    // An acknowledgement of a status the operation never had is ignored.
    acknowledge(&mut h, &fw, Some(&agent_id), "op-1", vec![8; 16]).unwrap();
    assert!(h.agent_messages(agent_conn).is_empty());
    assert_eq!(h.master.operations.len(), 1);

    acknowledge(&mut h, &fw, Some(&agent_id), "op-1", vec![7; 16]).unwrap();
    let ack = h
        .agent_messages(agent_conn)
        .into_iter()
        .find_map(|m| match m {
            ToAgent::AcknowledgeOperationStatus(a) => Some(a),
            _ => None,
        })
        .expect("the acknowledgement goes to the agent");
    assert_eq!(ack.status_uuid.value, vec![7; 16]);
    assert_eq!(ack.operation_uuid, apply.operation_uuid);
    assert!(h.master.operations.is_empty());

    let reconciled = reconcile(&mut h, &fw, &[("op-1", Some(agent_id.as_str()))]);
    assert_eq!(reconciled[0].state, S::OperationUnknown as i32);
    assert_eq!(
        reconciled[0].message.as_deref(),
        Some("Reconciliation: Operation is unknown")
    );
}

/// Mesos's `Master::drop`: an invalid operation with an id ends OPERATION_ERROR, without
/// agent id or uuid, and nothing changes.
#[test]
fn an_invalid_operation_with_an_id_ends_operation_error_and_changes_nothing() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = add_feedback_agent(&mut h, "host1");
    let fw = reserver(&mut h);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let before = h.master.agents[&agent_id].total.clone();
    // UNRESERVE of resources that carry no reservation.
    let mut plain = Resources::parse("cpus:1", "*").unwrap().into_protos();
    plain[0].allocation_info = Some(v1::resource::AllocationInfo {
        role: Some("r".into()),
    });
    h.call(&fw, accept(&offer.id, unreserve("op-bad", plain)))
        .unwrap();
    let statuses = operation_statuses(&mut h, &fw);
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, S::OperationError as i32);
    assert_eq!(statuses[0].operation_id.as_ref().unwrap().value, "op-bad");
    assert_eq!(
        statuses[0].message.as_deref(),
        Some("cannot unreserve unreserved resources")
    );
    assert!(statuses[0].agent_id.is_none() && statuses[0].uuid.is_none());
    assert_eq!(h.master.agents[&agent_id].total, before);
    assert!(h.agent_messages(agent_conn).is_empty());
    assert!(h.master.operations.is_empty());
}

/// Mesos's `Master::accept`: feedback on default resources needs the agent's
/// AGENT_OPERATION_FEEDBACK capability; without it the operation is dropped.
#[test]
fn an_operation_with_an_id_on_an_agent_without_feedback_ends_operation_error() {
    let mut h = Harness::new();
    let (agent_id, _) = h.add_agent("old", "cpus:4;mem:1024");
    let fw = reserver(&mut h);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.call(
        &fw,
        accept(&offer.id, reserve(Some("op-1"), reservation(1.0))),
    )
    .unwrap();
    let statuses = operation_statuses(&mut h, &fw);
    assert_eq!(statuses[0].state, S::OperationError as i32);
    assert_eq!(
        statuses[0].message.as_deref().unwrap(),
        format!(
            "Operation on agent default resources requested feedback, but agent {agent_id} \
             does not have the required AGENT_OPERATION_FEEDBACK and RESOURCE_PROVIDER \
             capabilities"
        )
    );
    assert_eq!(
        h.master.agents[&agent_id].total.reserved_to("r").cpus(),
        0.0
    );
}

/// Mesos's `Master::accept`: with invalid offers, every operation with an id but launches
/// ends OPERATION_ERROR.
#[test]
fn operations_on_invalid_offers_end_operation_error() {
    let mut h = Harness::new();
    add_feedback_agent(&mut h, "host1");
    let fw = reserver(&mut h);
    let gone = v1::OfferId {
        value: "no-such-offer".into(),
    };
    h.call(&fw, accept(&gone, reserve(Some("op-1"), reservation(1.0))))
        .unwrap();
    let statuses = operation_statuses(&mut h, &fw);
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, S::OperationError as i32);
    assert!(
        statuses[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("Operation attempted with invalid offers: "),
        "{statuses:?}"
    );
}

/// Operations without an id get no feedback at all (Mesos's operations without `id`).
#[test]
fn an_operation_without_an_id_gets_no_feedback() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = add_feedback_agent(&mut h, "host1");
    let fw = reserver(&mut h);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.call(&fw, accept(&offer.id, reserve(None, reservation(1.0))))
        .unwrap();
    assert_eq!(
        h.master.agents[&agent_id].total.reserved_to("r").cpus(),
        1.0
    );
    assert!(
        !h.agent_messages(agent_conn)
            .iter()
            .any(|m| matches!(m, ToAgent::ApplyOperation(_)))
    );
    assert!(operation_statuses(&mut h, &fw).is_empty());
}

/// Mesos's `Master::accept`: LAUNCH and LAUNCH_GROUP take no id.
#[test]
fn a_launch_with_an_id_ends_its_tasks_task_error() {
    let mut h = Harness::new();
    add_feedback_agent(&mut h, "host1");
    let fw = h.subscribe(framework("launcher"));
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let task = command_task("t1", &offer.agent_id, "cpus:1;mem:32", "*");
    let mut call = launch(&offer, vec![task], None);
    call.accept.as_mut().unwrap().operations[0].id = op_id("op-launch");
    h.call(&fw, call).unwrap();
    let updates = h.updates(&fw);
    assert_eq!(updates[0].state, v1::TaskState::TaskError as i32);
    assert_eq!(
        updates[0].message.as_deref(),
        Some("The `id` field cannot be set on LAUNCH operations")
    );
}

/// Mesos's validation of ACKNOWLEDGE_OPERATION_STATUS: a 16-byte uuid and an agent id.
#[test]
fn acknowledgements_need_a_uuid_and_an_agent() {
    let mut h = Harness::new();
    let fw = reserver(&mut h);
    let e = acknowledge(&mut h, &fw, Some("a"), "op", vec![1, 2, 3]).unwrap_err();
    assert_eq!(e.to_string(), "Not a valid UUID");
    let e = acknowledge(&mut h, &fw, None, "op", vec![7; 16]).unwrap_err();
    assert_eq!(e.to_string(), "Expecting 'agent_id' to be present");
}

/// Mesos's `Master::reconcileOperations` cases (4) to (7), and
/// `sendBulkOperationFeedback` when an agent is marked unreachable.
#[test]
fn reconciliation_answers_unknown_operations_by_their_agents_state() {
    let mut h = Harness::new();
    let (agent_id, agent_conn) = add_feedback_agent(&mut h, "host1");
    let fw = reserver(&mut h);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    h.call(
        &fw,
        accept(&offer.id, reserve(Some("op-1"), reservation(1.0))),
    )
    .unwrap();
    applied(h.agent_messages(agent_conn));

    let now = h.now();
    h.master.mark_unreachable(now, &agent_id);
    h.pump();
    let statuses = operation_statuses(&mut h, &fw);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].state, S::OperationUnreachable as i32);
    assert_eq!(
        statuses[0].message.as_deref(),
        Some("Agent was marked unreachable")
    );
    assert!(h.master.operations.is_empty());

    let reconciled = reconcile(
        &mut h,
        &fw,
        &[
            ("op-1", Some(agent_id.as_str())),
            ("op-2", Some("nobody")),
            ("op-3", None),
        ],
    );
    let states: Vec<i32> = reconciled.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        vec![
            S::OperationUnreachable as i32,
            S::OperationUnknown as i32,
            S::OperationUnknown as i32
        ]
    );
    assert_eq!(
        reconciled[1].message.as_deref(),
        Some("Reconciliation: Both operation and agent are unknown")
    );

    let now = h.now();
    h.master.mark_agent_gone(now, &agent_id).unwrap();
    h.pump();
    let reconciled = reconcile(&mut h, &fw, &[("op-1", Some(agent_id.as_str()))]);
    assert_eq!(reconciled[0].state, S::OperationGoneByOperator as i32);
}

/// After a failover the new master learns an agent's unacknowledged operations from its
/// reregistration, and the agent's resent status reaches the framework.
#[test]
fn a_new_master_learns_operations_from_reregistering_agents() {
    let mut h = Harness::new();
    let fw = reserver(&mut h);
    let conn = h.conn();
    let status = v1::OperationStatus {
        operation_id: op_id("op-1"),
        state: S::OperationFinished as i32,
        uuid: Some(v1::Uuid { value: vec![7; 16] }),
        agent_id: Some(v1::AgentId {
            value: "MASTER-S9".into(),
        }),
        ..Default::default()
    };
    let reregister = wire::Reregister {
        agent_info: v1::AgentInfo {
            hostname: "host1".into(),
            id: Some(v1::AgentId {
                value: "MASTER-S9".into(),
            }),
            resources: Resources::parse("cpus:4;mem:1024", "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        },
        capabilities: vec![feedback_capability()],
        operations: vec![v1::Operation {
            framework_id: Some(v1::FrameworkId {
                value: fw.id.clone(),
            }),
            agent_id: Some(v1::AgentId {
                value: "MASTER-S9".into(),
            }),
            info: reserve(Some("op-1"), reservation(1.0)),
            latest_status: status.clone(),
            statuses: vec![status],
            uuid: v1::Uuid { value: vec![1; 16] },
        }],
        ..Default::default()
    };
    let now = h.now();
    h.master.reregister_agent(now, conn, reregister).unwrap();
    h.pump();
    let reconciled = reconcile(&mut h, &fw, &[("op-1", Some("MASTER-S9"))]);
    assert_eq!(reconciled[0].state, S::OperationFinished as i32);
    assert!(reconciled[0].uuid.is_none());
    // The agent's resent status is forwarded and can be acknowledged.
    let apply = wire::ApplyOperation {
        framework_id: Some(v1::FrameworkId {
            value: fw.id.clone(),
        }),
        operation_info: reserve(Some("op-1"), vec![]),
        operation_uuid: v1::Uuid { value: vec![1; 16] },
    };
    finished(&mut h, "MASTER-S9", &apply, [7; 16]);
    assert_eq!(operation_statuses(&mut h, &fw).len(), 1);
    h.agent_messages(conn);
    acknowledge(&mut h, &fw, Some("MASTER-S9"), "op-1", vec![7; 16]).unwrap();
    assert!(
        h.agent_messages(conn)
            .iter()
            .any(|m| matches!(m, ToAgent::AcknowledgeOperationStatus(_)))
    );
    assert!(h.master.operations.is_empty());
}
