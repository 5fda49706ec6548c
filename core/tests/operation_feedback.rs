//! Operation feedback against real daemons (issue 17 item 4): a framework on the v1
//! scheduler API (JSON) reserves with operation ids and gets UPDATE_OPERATION_STATUS
//! events as Mesos 1.11 sends them for an agent's default resources
//! (include/mesos/v1/scheduler/scheduler.proto, docs/reservation.md "Operation feedback",
//! src/master/master.cpp `updateOperationStatus`, `reconcileOperations`,
//! src/slave/slave.cpp `applyOperation`):
//! - OPERATION_FINISHED with the operation's id, a status uuid and the agent's id;
//! - unacknowledged, it comes again (same uuid) after the agent is killed -9 and
//!   restarted; acknowledged, the agent forgets it (its checkpoint empties);
//! - after a master failover (the master restarted on its registry), RECONCILE_OPERATIONS
//!   answers OPERATION_RECOVERING while the agent has not reregistered, then the latest
//!   status the reregistered agent reported, and OPERATION_UNKNOWN for an acknowledged one;
//! - an invalid operation with an id ends OPERATION_ERROR.
//!
//! Needs: the release `remesos` binary (`cargo build --release -p remesos --bin remesos`).
//! Run alone with `cargo test --release -p remesos --test operation_feedback`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use remesos::client::Format;
use remesos::client::scheduler::Subscription;
use remesos::resources::Resources;
use remesos_proto::v1;
use support::{Daemon, free_port, spawn_agent};
use v1::OperationState as S;
use v1::scheduler as sched;

const WAIT: Duration = Duration::from_secs(60);

/// `remesos master` on `port` with its registry under `work_dir` (a restart on the same
/// port and directory is a failover to a new leader that recovers the registry).
async fn master_on(port: u16, work_dir: &Path) -> Daemon {
    let daemon = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--work_dir={}", work_dir.display()))
            .args(["--allocation_interval=100ms", "--quiet"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start remesos master"),
    );
    let http = remesos::client::HttpClient::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(
        http.get(&format!("http://127.0.0.1:{port}/health")).await,
        Ok((200, _))
    ) {
        assert!(Instant::now() < deadline, "the master did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon
}

async fn subscribe(master: &str, id: Option<v1::FrameworkId>) -> Subscription {
    let info = v1::FrameworkInfo {
        user: String::new(),
        name: "reserver".into(),
        id,
        roles: vec!["r".into()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        failover_timeout: Some(3600.0),
        ..Default::default()
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let subscribe = sched::call::Subscribe {
            framework_info: info.clone(),
            ..Default::default()
        };
        match Subscription::subscribe(master, subscribe, Format::Json).await {
            Ok(sub) => return sub,
            Err(e) => {
                assert!(Instant::now() < deadline, "could not subscribe: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn next_offer(sub: &mut Subscription) -> v1::Offer {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, sub.next_event())
            .await
            .expect("an offer in time")
            .unwrap();
        if let Some(offers) = event.offers {
            return offers.offers[0].clone();
        }
    }
}

/// The next UPDATE_OPERATION_STATUS (not acknowledged). Offers that come first are
/// declined (refused for no time): a framework that sat on them would get no other offer
/// of their agent, and the next `next_offer` would wait for nothing.
async fn next_operation_status(sub: &mut Subscription) -> v1::OperationStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, sub.next_event())
            .await
            .expect("an operation status in time")
            .unwrap();
        if let Some(update) = event.update_operation_status {
            return update.status;
        }
        if let Some(offers) = event.offers {
            let decline = sched::Call {
                r#type: Some(sched::call::Type::Decline as i32),
                decline: Some(sched::call::Decline {
                    offer_ids: offers.offers.into_iter().map(|o| o.id).collect(),
                    filters: Some(v1::Filters {
                        refuse_seconds: Some(0.0),
                    }),
                }),
                ..Default::default()
            };
            sub.call(decline).await.unwrap();
        }
    }
}

/// `cpus` of the offer, dynamically reserved to `r`.
fn reservation(offer: &v1::Offer, cpus: f64) -> Vec<v1::Resource> {
    let mut r = Resources::parse(&format!("cpus:{cpus}"), "*").unwrap();
    r.allocate("r");
    let mut protos = r.into_protos();
    for p in &mut protos {
        p.reservations.push(v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
            role: Some("r".into()),
            principal: None,
            labels: None,
        });
    }
    let _ = offer;
    protos
}

fn accept(offer: &v1::Offer, operation: v1::offer::Operation) -> sched::Call {
    sched::Call {
        r#type: Some(sched::call::Type::Accept as i32),
        accept: Some(sched::call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![operation],
            filters: Some(v1::Filters {
                refuse_seconds: Some(0.0),
            }),
        }),
        ..Default::default()
    }
}

fn reserve(id: &str, resources: Vec<v1::Resource>) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::Reserve as i32),
        id: Some(v1::OperationId { value: id.into() }),
        reserve: Some(v1::offer::operation::Reserve {
            resources,
            source: vec![],
        }),
        ..Default::default()
    }
}

fn acknowledge(status: &v1::OperationStatus) -> sched::Call {
    sched::Call {
        r#type: Some(sched::call::Type::AcknowledgeOperationStatus as i32),
        acknowledge_operation_status: Some(sched::call::AcknowledgeOperationStatus {
            agent_id: status.agent_id.clone(),
            resource_provider_id: None,
            uuid: status.uuid.clone().expect("a reliable status").value,
            operation_id: status.operation_id.clone().unwrap(),
        }),
        ..Default::default()
    }
}

fn reconcile(ids: &[&str], agent: &v1::AgentId) -> sched::Call {
    sched::Call {
        r#type: Some(sched::call::Type::ReconcileOperations as i32),
        reconcile_operations: Some(sched::call::ReconcileOperations {
            operations: ids
                .iter()
                .map(|id| sched::call::reconcile_operations::Operation {
                    operation_id: v1::OperationId {
                        value: id.to_string(),
                    },
                    agent_id: Some(agent.clone()),
                    resource_provider_id: None,
                })
                .collect(),
        }),
        ..Default::default()
    }
}

/// The operations in the agent's checkpoint (`meta/slaves/<id>/operations.state`).
fn checkpointed(work_dir: &Path, agent: &v1::AgentId) -> usize {
    use prost::Message;
    let path = work_dir
        .join("meta/slaves")
        .join(&agent.value)
        .join("operations.state");
    let data = std::fs::read(path).unwrap_or_default();
    remesos_proto::internal::OperationCheckpoint::decode(data.as_slice())
        .unwrap()
        .operations
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_statuses_are_retried_until_acknowledged_across_restarts_and_failovers() {
    let dir = support::temp_dir("operation-feedback");
    let master_dir = dir.join("master");
    let agent_dir = dir.join("agent");
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let mut master_daemon = master_on(port, &master_dir).await;
    let agent_port = free_port();
    let mut agent = spawn_agent(&master, agent_port, &agent_dir, &[] as &[&str]);

    let mut sub = subscribe(&master, None).await;
    let framework_id = sub.framework_id.clone();

    // An invalid RESERVE with an id (more cpus than offered) ends OPERATION_ERROR.
    let offer = next_offer(&mut sub).await;
    sub.call(accept(
        &offer,
        reserve("too-much", reservation(&offer, 64.0)),
    ))
    .await
    .unwrap();
    let error = next_operation_status(&mut sub).await;
    assert_eq!(error.state, S::OperationError as i32, "{error:?}");
    assert_eq!(error.operation_id.as_ref().unwrap().value, "too-much");
    assert!(error.uuid.is_none() && error.agent_id.is_none());

    // op-1: FINISHED with a uuid and the agent's id.
    let offer = next_offer(&mut sub).await;
    sub.call(accept(&offer, reserve("op-1", reservation(&offer, 1.0))))
        .await
        .unwrap();
    let first = next_operation_status(&mut sub).await;
    assert_eq!(first.state, S::OperationFinished as i32, "{first:?}");
    assert_eq!(first.operation_id.as_ref().unwrap().value, "op-1");
    let agent_id = first.agent_id.clone().expect("the agent's id");
    assert_eq!(agent_id, offer.agent_id);
    assert_eq!(first.uuid.as_ref().unwrap().value.len(), 16);

    // Not acknowledged: the agent restarts (kill -9) and the same status comes again.
    agent.kill9();
    let mut agent = spawn_agent(&master, agent_port, &agent_dir, &[] as &[&str]);
    let again = next_operation_status(&mut sub).await;
    assert_eq!(again.operation_id, first.operation_id);
    assert_eq!(again.uuid, first.uuid, "the checkpointed status is resent");
    sub.call(acknowledge(&again)).await.unwrap();
    let deadline = Instant::now() + WAIT;
    while checkpointed(&agent_dir, &agent_id) != 0 {
        assert!(
            Instant::now() < deadline,
            "the agent kept an acknowledged operation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // op-2: FINISHED, left unacknowledged across a master failover.
    let offer = next_offer(&mut sub).await;
    sub.call(accept(&offer, reserve("op-2", reservation(&offer, 1.0))))
        .await
        .unwrap();
    let second = next_operation_status(&mut sub).await;
    assert_eq!(second.operation_id.as_ref().unwrap().value, "op-2");
    assert_eq!(checkpointed(&agent_dir, &agent_id), 1);

    // The agent stops, the master fails over (a new leader on the same registry) and the
    // framework resubscribes: the agent is recovered but not reregistered.
    agent.kill9();
    master_daemon.kill9();
    drop(sub);
    let _master_daemon = master_on(port, &master_dir).await;
    let mut sub = subscribe(&master, Some(framework_id.clone())).await;
    assert_eq!(sub.framework_id, framework_id);
    sub.call(reconcile(&["op-2"], &agent_id)).await.unwrap();
    let recovering = next_operation_status(&mut sub).await;
    assert_eq!(
        recovering.state,
        S::OperationRecovering as i32,
        "{recovering:?}"
    );

    // The agent comes back and reports op-2; its status is resent to the framework.
    let _agent = spawn_agent(&master, agent_port, &agent_dir, &[] as &[&str]);
    let resent = next_operation_status(&mut sub).await;
    assert_eq!(resent.operation_id.as_ref().unwrap().value, "op-2");
    assert_eq!(resent.uuid, second.uuid);
    sub.call(reconcile(&["op-2", "op-1"], &agent_id))
        .await
        .unwrap();
    let known = next_operation_status(&mut sub).await;
    assert_eq!(known.operation_id.as_ref().unwrap().value, "op-2");
    assert_eq!(known.state, S::OperationFinished as i32);
    assert!(known.uuid.is_none(), "reconciliation is not reliable");
    let forgotten = next_operation_status(&mut sub).await;
    assert_eq!(forgotten.operation_id.as_ref().unwrap().value, "op-1");
    assert_eq!(forgotten.state, S::OperationUnknown as i32);

    sub.call(acknowledge(&resent)).await.unwrap();
    let deadline = Instant::now() + WAIT;
    while checkpointed(&agent_dir, &agent_id) != 0 {
        assert!(Instant::now() < deadline, "op-2 was not acknowledged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
