//! The operator's reservations and persistent volumes (`reservation.rs`). Mesos:
//! src/master/http.cpp (`_reserve`, `_unreserve`, `_createVolumes`, `_destroyVolumes`,
//! `growVolume`, `shrinkVolume`, `_operation`), src/master/validation.cpp and
//! src/tests/reservation_endpoints_tests.cpp, persistent_volume_endpoints_tests.cpp.

use std::sync::Arc;

use super::*;
use crate::master::operator::{OperatorCommand, OperatorError, OperatorReply};
use crate::master::reservation::AgentOperation;
use crate::security::acls;
use crate::security::authorizer::{Authorizer, Principal};

use v1::resource::reservation_info::Type as ResType;

/// An agent that advertises what remesos agents do (hierarchical roles, refinement,
/// resizable volumes).
fn capable_agent(h: &mut Harness, resources: &str) -> (String, ConnId) {
    use v1::agent_info::capability::Type;
    let conn = h.conn();
    let register = wire::Register {
        agent_info: v1::AgentInfo {
            hostname: "host1".to_string(),
            resources: Resources::parse(resources, "*").unwrap().into_protos(),
            ..Default::default()
        },
        endpoint: Some(format!("10.0.0.{conn}:5051")),
        capabilities: [
            Type::MultiRole,
            Type::HierarchicalRole,
            Type::ReservationRefinement,
            Type::ResizeVolume,
        ]
        .into_iter()
        .map(|t| v1::agent_info::Capability {
            r#type: Some(t as i32),
        })
        .collect(),
        ..Default::default()
    };
    let now = h.now();
    let id = h
        .master
        .register_agent(now, conn, register)
        .unwrap()
        .to_string();
    h.pump();
    h.agent_messages(conn);
    (id, conn)
}

/// `text` (e.g. `cpus:2`) dynamically reserved for each role of `roles`, outermost first.
fn reserved(text: &str, roles: &[&str], principal: Option<&str>) -> Vec<v1::Resource> {
    let mut out = Resources::parse(text, "*").unwrap().into_protos();
    for r in &mut out {
        for role in roles {
            r.reservations.push(v1::resource::ReservationInfo {
                r#type: Some(ResType::Dynamic as i32),
                role: Some(role.to_string()),
                principal: principal.map(str::to_string),
                labels: None,
            });
        }
    }
    out
}

/// A persistent volume of `mb` MB reserved for `role`.
fn volume(mb: &str, role: &str, id: &str) -> v1::Resource {
    let mut r = reserved(&format!("disk:{mb}"), &[role], None).remove(0);
    r.disk = Some(v1::resource::DiskInfo {
        persistence: Some(v1::resource::disk_info::Persistence {
            id: id.to_string(),
            principal: None,
        }),
        volume: Some(v1::Volume {
            container_path: "data".to_string(),
            mode: v1::volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    });
    r
}

fn operate(
    h: &mut Harness,
    op: AgentOperation,
    principal: Option<&Principal>,
) -> Result<(), OperatorError> {
    let now = h.now();
    let r = h.master.operator_as(
        now,
        OperatorCommand::ResourceOperation(Box::new(op)),
        principal,
    );
    h.pump();
    match r? {
        OperatorReply::Accepted => Ok(()),
        other => panic!("unexpected reply {other:?}"),
    }
}

fn checkpoints(h: &mut Harness, conn: ConnId) -> Vec<Resources> {
    h.agent_messages(conn)
        .into_iter()
        .filter_map(|m| match m {
            ToAgent::CheckpointResources(c) => Some(Resources::from_protos(c.resources).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_operator_reservation_changes_the_agents_total_the_allocator_and_its_checkpoint() {
    let mut h = Harness::new();
    let (agent, conn) = capable_agent(&mut h, "cpus:4;mem:1024;disk:1024");
    let op = AgentOperation::reserve(
        agent.clone(),
        vec![],
        reserved("cpus:2;mem:512", &["r"], None),
    );
    operate(&mut h, op, None).unwrap();
    let total = &h.master.agents[agent.as_str()].total;
    assert_eq!(total.reserved_to("r").cpus(), 2.0);
    assert_eq!(total.unreserved().cpus(), 2.0);
    let available = h.master.allocator.available(&agent).unwrap();
    assert_eq!(
        available.reserved_to("r").mem(),
        512.0,
        "the allocator sees it at once"
    );
    let sent = checkpoints(&mut h, conn);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].reserved_to("r").cpus(), 2.0);
    assert_eq!(
        sent[0].unreserved().cpus(),
        0.0,
        "only dynamic reservations are checkpointed"
    );
    let state = h.master.agent_json(&h.master.agents[agent.as_str()]);
    assert_eq!(state["reserved_resources"]["r"]["cpus"], 2.0);
}

#[test]
fn reserving_offered_resources_rescinds_the_offer_first() {
    // Mesos's `_operation`: outstanding offers of the agent are rescinded until what the
    // operation consumes is covered.
    let mut h = Harness::new();
    let (agent, _) = capable_agent(&mut h, "cpus:4;mem:1024");
    let fw = h.subscribe(framework("holder"));
    h.allocate();
    assert_eq!(h.offers(&fw).len(), 1);
    let op = AgentOperation::reserve(agent.clone(), vec![], reserved("cpus:1", &["r"], None));
    operate(&mut h, op, None).unwrap();
    let events = h.events(fw.conn);
    assert!(events.iter().any(|e| e.rescind.is_some()), "{events:?}");
    assert!(h.master.offers.is_empty());
    assert_eq!(
        h.master.agents[agent.as_str()]
            .total
            .reserved_to("r")
            .cpus(),
        1.0
    );
}

#[test]
fn reserving_what_a_task_uses_is_a_conflict_and_changes_nothing() {
    let mut h = Harness::new();
    let (agent, conn) = capable_agent(&mut h, "cpus:2;mem:1024");
    let fw = h.subscribe(framework("user"));
    h.allocate();
    h.launch_on_first_offer(&fw, "t1", "cpus:2;mem:128");
    h.agent_messages(conn);
    let before = h.master.agents[agent.as_str()].total.clone();
    let op = AgentOperation::reserve(agent.clone(), vec![], reserved("cpus:1", &["r"], None));
    let err = operate(&mut h, op, None).unwrap_err();
    assert_eq!(err.status(), 409, "{err}");
    assert!(err.to_string().contains("does not contain"), "{err}");
    assert!(h.master.agents[agent.as_str()].total == before);
    assert!(
        checkpoints(&mut h, conn).is_empty(),
        "nothing sent to the agent"
    );
}

#[test]
fn unreserving_another_roles_reservation_is_a_conflict() {
    let mut h = Harness::new();
    let (agent, conn) = capable_agent(&mut h, "cpus:4;mem:1024");
    operate(
        &mut h,
        AgentOperation::reserve(agent.clone(), vec![], reserved("cpus:2", &["a"], None)),
        None,
    )
    .unwrap();
    checkpoints(&mut h, conn);
    let before = h.master.agents[agent.as_str()].total.clone();
    let err = operate(
        &mut h,
        AgentOperation::unreserve(agent.clone(), reserved("cpus:1", &["b"], None)),
        None,
    )
    .unwrap_err();
    assert_eq!(err.status(), 409, "{err}");
    assert!(h.master.agents[agent.as_str()].total == before);
    assert!(checkpoints(&mut h, conn).is_empty());
    // Its own role's unreserve works and returns the cpus to `*`.
    operate(
        &mut h,
        AgentOperation::unreserve(agent.clone(), reserved("cpus:2", &["a"], None)),
        None,
    )
    .unwrap();
    assert_eq!(
        h.master.agents[agent.as_str()].total.unreserved().cpus(),
        4.0
    );
}

#[test]
fn static_or_unreserved_resources_cannot_be_reserved_or_unreserved_by_an_operator() {
    let mut h = Harness::new();
    let (agent, _) = capable_agent(&mut h, "cpus:4;mem:1024");
    let plain = Resources::parse("cpus:1", "*").unwrap().into_protos();
    let err = operate(
        &mut h,
        AgentOperation::reserve(agent.clone(), vec![], plain.clone()),
        None,
    )
    .unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string().contains("is not dynamically reserved"),
        "{err}"
    );
    let err = operate(
        &mut h,
        AgentOperation::unreserve(agent.clone(), plain),
        None,
    )
    .unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string().starts_with("Invalid UNRESERVE operation"),
        "{err}"
    );
}

#[test]
fn an_unknown_agent_is_a_bad_request() {
    let mut h = Harness::new();
    capable_agent(&mut h, "cpus:4;mem:1024");
    for id in ["no-such-agent", "../x", ""] {
        let op = AgentOperation::reserve(id.to_string(), vec![], reserved("cpus:1", &["r"], None));
        let err = operate(&mut h, op, None).unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(err.to_string(), "No agent found with specified ID");
    }
}

#[test]
fn volumes_are_created_from_reservations_unique_per_role_and_not_destroyed_in_use() {
    let mut h = Harness::new();
    let (agent, conn) = capable_agent(&mut h, "cpus:4;mem:1024;disk:1024");
    operate(
        &mut h,
        AgentOperation::reserve(
            agent.clone(),
            vec![],
            reserved("disk:512;cpus:1;mem:256", &["r"], None),
        ),
        None,
    )
    .unwrap();
    // From unreserved disk: refused (Mesos's `validateDiskInfo`).
    let mut unreserved = volume("64", "r", "v0");
    unreserved.reservations.clear();
    let err = operate(
        &mut h,
        AgentOperation::create(agent.clone(), vec![unreserved]),
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot be created from unreserved resources"),
        "{err}"
    );
    // A persistence id that would be a path: refused.
    let err = operate(
        &mut h,
        AgentOperation::create(agent.clone(), vec![volume("64", "r", "..")]),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("Invalid persistence ID"), "{err}");
    operate(
        &mut h,
        AgentOperation::create(agent.clone(), vec![volume("256", "r", "db")]),
        None,
    )
    .unwrap();
    assert_eq!(
        h.master.agents[agent.as_str()]
            .total
            .persistent_volumes()
            .disk(),
        256.0
    );
    let sent = checkpoints(&mut h, conn);
    assert_eq!(sent.last().unwrap().persistent_volumes().disk(), 256.0);
    // The same id again for the same role: 400, nothing changed.
    let before = h.master.agents[agent.as_str()].total.clone();
    let err = operate(
        &mut h,
        AgentOperation::create(agent.clone(), vec![volume("64", "r", "db")]),
        None,
    )
    .unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string()
            .ends_with("Persistence ID 'db' is not unique"),
        "{err}"
    );
    assert!(h.master.agents[agent.as_str()].total == before);

    // A task of role `r` uses the volume: DESTROY is refused while it runs.
    let mut info = framework("stateful");
    info.role = Some("r".to_string());
    let fw = h.subscribe(info);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut task = command_task("t1", &offer.agent_id, "cpus:0.5;mem:64", "r");
    let mut v = volume("256", "r", "db");
    v.allocation_info = Some(v1::resource::AllocationInfo {
        role: Some("r".into()),
    });
    task.resources.push(v);
    h.call(&fw, launch(&offer, vec![task], Some(0.0))).unwrap();
    let updates = h.updates(&fw);
    assert!(
        updates
            .iter()
            .all(|u| u.state != v1::TaskState::TaskError as i32),
        "{updates:?}"
    );
    let err = operate(
        &mut h,
        AgentOperation::destroy(agent.clone(), vec![volume("256", "r", "db")]),
        None,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid DESTROY operation: Persistent volumes in use"
    );
    assert!(h.master.agents[agent.as_str()].total == before);
    // An unknown volume: not found.
    let err = operate(
        &mut h,
        AgentOperation::destroy(agent.clone(), vec![volume("256", "r", "nope")]),
        None,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid DESTROY operation: Persistent volumes not found"
    );
}

#[test]
fn a_volume_grows_from_and_shrinks_into_its_reservation() {
    let mut h = Harness::new();
    let (agent, _) = capable_agent(&mut h, "cpus:4;mem:1024;disk:1024");
    operate(
        &mut h,
        AgentOperation::reserve(agent.clone(), vec![], reserved("disk:512", &["r"], None)),
        None,
    )
    .unwrap();
    operate(
        &mut h,
        AgentOperation::create(agent.clone(), vec![volume("100", "r", "db")]),
        None,
    )
    .unwrap();
    let addition = reserved("disk:50", &["r"], None).remove(0);
    operate(
        &mut h,
        AgentOperation::grow(agent.clone(), volume("100", "r", "db"), addition),
        None,
    )
    .unwrap();
    let total = h.master.agents[agent.as_str()].total.clone();
    assert_eq!(total.persistent_volumes().disk(), 150.0);
    assert_eq!(total.reserved_to("r").disk(), 512.0);
    operate(
        &mut h,
        AgentOperation::shrink(
            agent.clone(),
            volume("150", "r", "db"),
            v1::value::Scalar { value: 120.0 },
        ),
        None,
    )
    .unwrap();
    assert_eq!(
        h.master.agents[agent.as_str()]
            .total
            .persistent_volumes()
            .disk(),
        30.0
    );
    let err = operate(
        &mut h,
        AgentOperation::shrink(
            agent.clone(),
            volume("30", "r", "db"),
            v1::value::Scalar { value: 30.0 },
        ),
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("must be smaller than the size"),
        "{err}"
    );
}

#[test]
fn a_refined_reservation_is_pushed_on_its_parent_and_unreserve_pops_one_level() {
    // RESERVATION_REFINEMENT: `eng` then `eng/a` on top; UNRESERVE of the refined
    // resources gives them back to `eng`, not to `*`.
    let mut h = Harness::new();
    let (agent, _) = capable_agent(&mut h, "cpus:4;mem:1024");
    operate(
        &mut h,
        AgentOperation::reserve(agent.clone(), vec![], reserved("cpus:2", &["eng"], None)),
        None,
    )
    .unwrap();
    operate(
        &mut h,
        AgentOperation::reserve(
            agent.clone(),
            vec![],
            reserved("cpus:1", &["eng", "eng/a"], None),
        ),
        None,
    )
    .unwrap();
    let total = h.master.agents[agent.as_str()].total.clone();
    assert_eq!(total.reserved_to("eng/a").cpus(), 1.0);
    assert_eq!(total.reserved_to("eng").cpus(), 1.0);
    // A refinement that is not a child role is invalid.
    let err = operate(
        &mut h,
        AgentOperation::reserve(
            agent.clone(),
            vec![],
            reserved("cpus:1", &["eng", "ops"], None),
        ),
        None,
    )
    .unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    operate(
        &mut h,
        AgentOperation::unreserve(agent.clone(), reserved("cpus:1", &["eng", "eng/a"], None)),
        None,
    )
    .unwrap();
    let total = h.master.agents[agent.as_str()].total.clone();
    assert_eq!(total.reserved_to("eng").cpus(), 2.0);
    assert_eq!(total.reserved_to("eng/a").cpus(), 0.0);
    assert_eq!(total.unreserved().cpus(), 2.0);
}

#[test]
fn reservations_and_volumes_need_their_acls_and_a_refusal_changes_nothing() {
    // Mesos's RESERVE_RESOURCES (role), UNRESERVE_RESOURCES (reserver principal),
    // CREATE_VOLUME (role), DESTROY_VOLUME (creator principal).
    let acls = acls::parse(
        serde_json::json!({
            "reserve_resources": [{"principals": {"values": ["ops"]}, "roles": {"values": ["r"]}},
                                  {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}],
            "unreserve_resources": [{"principals": {"values": ["ops"]}, "reserver_principals": {"values": ["ops"]}},
                                    {"principals": {"type": "ANY"}, "reserver_principals": {"type": "NONE"}}],
            "create_volumes": [{"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let mut h = Harness::with_config(Config {
        authorizer: Arc::new(Authorizer::new(&acls)),
        ..Config::default()
    });
    let (agent, conn) = capable_agent(&mut h, "cpus:4;mem:1024;disk:1024");
    let ops = Principal::new("ops").unwrap();
    let eve = Principal::new("eve").unwrap();
    let before = h.master.agents[agent.as_str()].total.clone();
    let err = operate(
        &mut h,
        AgentOperation::reserve(
            agent.clone(),
            vec![],
            reserved("cpus:1", &["r"], Some("eve")),
        ),
        Some(&eve),
    )
    .unwrap_err();
    assert_eq!(err, OperatorError::Forbidden);
    // A principal must reserve in its own name (400 before the ACLs).
    let err = operate(
        &mut h,
        AgentOperation::reserve(
            agent.clone(),
            vec![],
            reserved("cpus:1", &["r"], Some("eve")),
        ),
        Some(&ops),
    )
    .unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    assert!(h.master.agents[agent.as_str()].total == before);
    assert!(checkpoints(&mut h, conn).is_empty());
    operate(
        &mut h,
        AgentOperation::reserve(
            agent.clone(),
            vec![],
            reserved("disk:100;cpus:1", &["r"], Some("ops")),
        ),
        Some(&ops),
    )
    .unwrap();
    let mut v = volume("50", "r", "db");
    v.reservations[0].principal = Some("ops".into());
    if let Some(p) = v.disk.as_mut().and_then(|d| d.persistence.as_mut()) {
        p.principal = Some("ops".into());
    }
    let err = operate(
        &mut h,
        AgentOperation::create(agent.clone(), vec![v]),
        Some(&ops),
    )
    .unwrap_err();
    assert_eq!(err, OperatorError::Forbidden);
    let err = operate(
        &mut h,
        AgentOperation::unreserve(agent.clone(), reserved("cpus:1", &["r"], Some("ops"))),
        Some(&eve),
    )
    .unwrap_err();
    assert_eq!(err, OperatorError::Forbidden);
    operate(
        &mut h,
        AgentOperation::unreserve(agent.clone(), reserved("cpus:1", &["r"], Some("ops"))),
        Some(&ops),
    )
    .unwrap();
}

#[test]
fn a_reregistering_agent_is_sent_the_masters_reservations() {
    // Mesos's `___reregisterSlave` for agents without resource providers.
    let mut h = Harness::new();
    let (agent, _) = capable_agent(&mut h, "cpus:4;mem:1024");
    operate(
        &mut h,
        AgentOperation::reserve(agent.clone(), vec![], reserved("cpus:2", &["r"], None)),
        None,
    )
    .unwrap();
    let conn = h.conn();
    let now = h.now();
    h.master
        .reregister_agent(now, conn, reregister(&agent, "host1", "10.0.0.9:5051"))
        .unwrap();
    h.pump();
    let sent = checkpoints(&mut h, conn);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].reserved_to("r").cpus(), 2.0);
}

#[test]
fn a_new_leader_learns_an_agents_reservations_from_its_reregistration() {
    // Reservations are not in the registry: after a failover the agent's report
    // (`AgentInfo.resources` with its checkpointed reservations) is the truth.
    let mut h = Harness::new();
    let conn = h.conn();
    let mut message = reregister("agent-1", "host1", "10.0.0.9:5051");
    let mut total = Resources::parse("cpus:2;mem:1024", "*").unwrap();
    total += &Resources::from_protos(reserved("cpus:2", &["r"], None)).unwrap();
    message.agent_info.resources = total.into_protos();
    message.checkpointed_resources = reserved("cpus:2", &["r"], None);
    let now = h.now();
    let id = h.master.reregister_agent(now, conn, message).unwrap();
    h.pump();
    let agent = &h.master.agents[&id];
    assert_eq!(agent.total.reserved_to("r").cpus(), 2.0);
    assert_eq!(
        h.master
            .allocator
            .available(id.as_str())
            .unwrap()
            .reserved_to("r")
            .cpus(),
        2.0
    );
}

/// A harness with an agent of which 512 MB of disk is reserved for `r` (checkpoint sent).
fn agent_with_reserved_disk() -> (Harness, String, ConnId) {
    let mut h = Harness::new();
    let (agent, conn) = capable_agent(&mut h, "cpus:4;mem:1024;disk:1024");
    operate(
        &mut h,
        AgentOperation::reserve(agent.clone(), vec![], reserved("disk:512", &["r"], None)),
        None,
    )
    .unwrap();
    (h, agent, conn)
}

/// `volume` with its `container_path` and `mode` set to `path` and `mode`.
fn volume_at(mb: &str, id: &str, path: &str, mode: v1::volume::Mode) -> v1::Resource {
    let mut v = volume(mb, "r", id);
    if let Some(volume) = v.disk.as_mut().and_then(|d| d.volume.as_mut()) {
        volume.container_path = path.to_string();
        volume.mode = mode as i32;
    }
    v
}

/// A volume whose `container_path` would leave the sandbox of the tasks that use it is
/// refused at CREATE (400, nothing changed, no checkpoint): the agent's launch-time rule
/// (common/validation.rs `validate_volume_container_path`), checked by the master first.
/// A read-only volume is refused as Mesos's `validatePersistentVolume` refuses it.
#[test]
fn create_refuses_volumes_whose_container_path_leaves_the_sandbox() {
    let (mut h, agent, conn) = agent_with_reserved_disk();
    checkpoints(&mut h, conn);
    let before = h.master.agents[agent.as_str()].total.clone();
    for (path, mode, message) in [
        (
            "/etc",
            v1::volume::Mode::Rw,
            "Invalid persistent volume 'v': Absolute container path '/etc' is not supported",
        ),
        (
            "../x",
            v1::volume::Mode::Rw,
            "Invalid persistent volume 'v': container path '../x' must stay inside the sandbox",
        ),
        (
            "a/./b",
            v1::volume::Mode::Rw,
            "container path 'a/./b' must stay inside the sandbox",
        ),
        (
            "",
            v1::volume::Mode::Rw,
            "Invalid persistent volume 'v': persistent volume 'v' has no container path",
        ),
        (
            "data",
            v1::volume::Mode::Ro,
            "Not a persistent volume: Read-only persistent volume not supported",
        ),
    ] {
        let err = operate(
            &mut h,
            AgentOperation::create(agent.clone(), vec![volume_at("64", "v", path, mode)]),
            None,
        )
        .unwrap_err();
        assert_eq!(err.status(), 400, "{path:?}: {err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("Invalid CREATE operation on agent {agent}")),
            "{text}"
        );
        assert!(text.ends_with(message), "{path:?}: {text}");
        assert!(h.master.agents[agent.as_str()].total == before, "{path:?}");
        assert!(checkpoints(&mut h, conn).is_empty(), "{path:?}");
    }
    // A nested relative path is fine.
    operate(
        &mut h,
        AgentOperation::create(
            agent.clone(),
            vec![volume_at("64", "v", "data/db", v1::volume::Mode::Rw)],
        ),
        None,
    )
    .unwrap();
    assert_eq!(
        h.master.agents[agent.as_str()]
            .total
            .persistent_volumes()
            .disk(),
        64.0
    );
}

/// The same rule for a framework's CREATE in ACCEPT: the operation is dropped and the
/// reservation it came with stays.
#[test]
fn a_frameworks_create_with_an_escaping_container_path_creates_nothing() {
    let (mut h, agent, _conn) = agent_with_reserved_disk();
    let mut info = framework("stateful");
    info.role = Some("r".to_string());
    let fw = h.subscribe(info);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut bad = volume_at("64", "v", "../../etc", v1::volume::Mode::Rw);
    bad.allocation_info = Some(v1::resource::AllocationInfo {
        role: Some("r".into()),
    });
    let accept = sched::Call {
        r#type: Some(CallType::Accept as i32),
        accept: Some(sched::call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Create as i32),
                create: Some(v1::offer::operation::Create { volumes: vec![bad] }),
                ..Default::default()
            }],
            filters: None,
        }),
        ..Default::default()
    };
    let _ = h.call(&fw, accept);
    let total = &h.master.agents[agent.as_str()].total;
    assert_eq!(total.persistent_volumes().disk(), 0.0, "{total}");
    assert_eq!(total.reserved_to("r").disk(), 512.0, "{total}");
}

/// Mesos ignores `DiskInfo.volume` when it compares resources ("it describes how this
/// resource will be used", src/common/resources.cpp): a task may use a volume read-only and
/// at its own container path, and the master launches it.
#[test]
fn a_task_may_use_a_volume_read_only_at_its_own_path() {
    let (mut h, agent, conn) = agent_with_reserved_disk();
    operate(
        &mut h,
        AgentOperation::create(agent.clone(), vec![volume("256", "r", "db")]),
        None,
    )
    .unwrap();
    h.agent_messages(conn);
    let mut info = framework("stateful");
    info.role = Some("r".to_string());
    let fw = h.subscribe(info);
    h.allocate();
    let offer = h.offers(&fw).remove(0);
    let mut task = command_task("t1", &offer.agent_id, "cpus:0.5;mem:64", "r");
    let mut v = volume_at("256", "db", "ro", v1::volume::Mode::Ro);
    v.allocation_info = Some(v1::resource::AllocationInfo {
        role: Some("r".into()),
    });
    task.resources.push(v);
    h.call(&fw, launch(&offer, vec![task], Some(0.0))).unwrap();
    let updates = h.updates(&fw);
    assert!(updates.is_empty(), "{updates:?}");
    let sent = h.agent_messages(conn);
    assert!(
        sent.iter().any(|m| matches!(m, ToAgent::RunTask(_))),
        "{sent:?}"
    );
}
