//! Inverse offers for maintenance (`inverse.rs`). Mesos: docs/maintenance.md "Inverse
//! offers", hierarchical.cpp `generateInverseOffers` / `updateInverseOffer` /
//! `updateUnavailability`, master.cpp `acceptInverseOffers` / `declineInverseOffers`, and
//! src/tests/master_maintenance_tests.cpp (`InverseOffers`, `InverseOffersFilters`).

use super::*;
use v1::allocator::inverse_offer_status::Status;

fn inverse_offers(h: &mut Harness, fw: &Fw) -> Vec<v1::InverseOffer> {
    h.events(fw.conn)
        .into_iter()
        .filter_map(|e| e.inverse_offers)
        .flat_map(|o| o.inverse_offers)
        .collect()
}

fn answer(h: &mut Harness, fw: &Fw, ids: Vec<v1::OfferId>, refuse: Option<f64>, accept: bool) {
    let filters = refuse.map(|s| v1::Filters {
        refuse_seconds: Some(s),
    });
    let call = if accept {
        sched::Call {
            r#type: Some(CallType::AcceptInverseOffers as i32),
            accept_inverse_offers: Some(sched::call::AcceptInverseOffers {
                inverse_offer_ids: ids,
                filters,
            }),
            ..Default::default()
        }
    } else {
        sched::Call {
            r#type: Some(CallType::DeclineInverseOffers as i32),
            decline_inverse_offers: Some(sched::call::DeclineInverseOffers {
                inverse_offer_ids: ids,
                filters,
            }),
            ..Default::default()
        }
    };
    h.call(fw, call).unwrap();
}

/// One agent running a task of `fw`, and a second framework with nothing there.
fn cluster(h: &mut Harness) -> (String, Fw, Fw) {
    let (agent, _) = h.add_agent("host1", "cpus:2;mem:1024");
    let fw = h.subscribe(framework("user"));
    h.allocate();
    h.launch_on_first_offer(&fw, "t1", "cpus:1;mem:128");
    let suppress = sched::Call {
        r#type: Some(CallType::Suppress as i32),
        ..Default::default()
    };
    h.call(&fw, suppress).unwrap();
    let idle = h.subscribe(framework("idle"));
    h.call(
        &idle,
        sched::Call {
            r#type: Some(CallType::Suppress as i32),
            ..Default::default()
        },
    )
    .unwrap();
    h.events(fw.conn);
    h.events(idle.conn);
    (agent, fw, idle)
}

fn schedule_agent(h: &mut Harness, agent: &str, start: i64) {
    let id = machine_of(h, agent);
    let now = h.now();
    h.master
        .update_maintenance_schedule(now, schedule(vec![window(vec![id], start, 3600)]))
        .unwrap();
    h.pump();
}

#[test]
fn frameworks_using_a_scheduled_agent_get_one_inverse_offer_until_they_answer() {
    // generateInverseOffers: only frameworks with something to lose on the agent, one
    // outstanding inverse offer per agent, whole-agent (no resources), with the window.
    let mut h = Harness::new();
    let (agent, fw, idle) = cluster(&mut h);
    schedule_agent(&mut h, &agent, 100);
    h.allocate();
    let offers = inverse_offers(&mut h, &fw);
    assert_eq!(offers.len(), 1, "{offers:?}");
    let io = &offers[0];
    assert_eq!(io.agent_id.as_ref().unwrap().value, agent);
    assert!(io.resources.is_empty());
    assert_eq!(io.unavailability.start.nanoseconds, 100_000_000_000);
    assert!(
        inverse_offers(&mut h, &idle).is_empty(),
        "nothing to lose there"
    );
    assert_eq!(
        h.master
            .get_frameworks()
            .frameworks
            .iter()
            .find(|f| f.framework_info.id.as_ref().unwrap().value == fw.id)
            .unwrap()
            .inverse_offers
            .len(),
        1
    );
    h.allocate();
    assert!(inverse_offers(&mut h, &fw).is_empty(), "still outstanding");

    // DECLINE with a filter: the status is recorded; no new inverse offer while filtered.
    answer(&mut h, &fw, vec![io.id.clone()], Some(30.0), false);
    let status = h.master.maintenance_status();
    let statuses = &status.draining_machines[0].statuses;
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].status, Status::Decline as i32);
    assert_eq!(statuses[0].framework_id.value, fw.id);
    h.advance(Duration::from_secs(10));
    h.allocate();
    assert!(inverse_offers(&mut h, &fw).is_empty(), "filtered for 30 s");
    h.advance(Duration::from_secs(21));
    h.allocate();
    let again = inverse_offers(&mut h, &fw);
    assert_eq!(again.len(), 1, "the filter expired");

    // ACCEPT without filters: the status changes, and the next round asks again.
    answer(&mut h, &fw, vec![again[0].id.clone()], None, true);
    let status = h.master.maintenance_status();
    assert_eq!(
        status.draining_machines[0].statuses[0].status,
        Status::Accept as i32
    );
    h.allocate();
    assert_eq!(inverse_offers(&mut h, &fw).len(), 1);
}

#[test]
fn answers_to_unknown_or_foreign_inverse_offers_change_nothing() {
    let mut h = Harness::new();
    let (agent, fw, idle) = cluster(&mut h);
    schedule_agent(&mut h, &agent, 100);
    h.allocate();
    let io = inverse_offers(&mut h, &fw).remove(0);
    answer(&mut h, &idle, vec![io.id.clone()], None, true);
    answer(
        &mut h,
        &fw,
        vec![v1::OfferId {
            value: "no-such-offer".into(),
        }],
        None,
        false,
    );
    assert!(
        h.master.maintenance_status().draining_machines[0]
            .statuses
            .is_empty()
    );
    assert_eq!(h.master.inverse.len(), 1, "still outstanding");
}

#[test]
fn a_schedule_change_rescinds_inverse_offers_and_forgets_answers() {
    // updateUnavailability: a new window rescinds the old inverse offers and resets the
    // agent's statuses; a later round offers the new window.
    let mut h = Harness::new();
    let (agent, fw, _) = cluster(&mut h);
    schedule_agent(&mut h, &agent, 100);
    h.allocate();
    let first = inverse_offers(&mut h, &fw).remove(0);
    schedule_agent(&mut h, &agent, 200);
    let rescinded: Vec<String> = h
        .events(fw.conn)
        .into_iter()
        .filter_map(|e| e.rescind_inverse_offer)
        .map(|r| r.inverse_offer_id.value)
        .collect();
    assert_eq!(rescinded, vec![first.id.value.clone()]);
    h.allocate();
    let second = inverse_offers(&mut h, &fw).remove(0);
    assert_eq!(second.unavailability.start.nanoseconds, 200_000_000_000);
    answer(&mut h, &fw, vec![second.id], None, true);
    assert_eq!(
        h.master.maintenance_status().draining_machines[0]
            .statuses
            .len(),
        1
    );

    // Leaving the schedule: rescinded, and no more inverse offers.
    h.allocate();
    let third = inverse_offers(&mut h, &fw).remove(0);
    let now = h.now();
    h.master
        .update_maintenance_schedule(now, schedule(vec![]))
        .unwrap();
    h.pump();
    assert!(h.events(fw.conn).iter().any(|e| {
        e.rescind_inverse_offer
            .as_ref()
            .is_some_and(|r| r.inverse_offer_id == third.id)
    }));
    h.allocate();
    assert!(inverse_offers(&mut h, &fw).is_empty());
    assert!(h.master.inverse.is_empty());
}

#[test]
fn a_deactivated_agent_has_its_inverse_offers_rescinded() {
    let mut h = Harness::new();
    let (agent, fw, _) = cluster(&mut h);
    schedule_agent(&mut h, &agent, 100);
    h.allocate();
    let io = inverse_offers(&mut h, &fw).remove(0);
    let now = h.now();
    h.master.deactivate_agent(now, &agent).unwrap();
    h.pump();
    assert!(h.events(fw.conn).iter().any(|e| {
        e.rescind_inverse_offer
            .as_ref()
            .is_some_and(|r| r.inverse_offer_id == io.id)
    }));
    h.allocate();
    assert!(inverse_offers(&mut h, &fw).is_empty());
}

/// The (framework, agent) index of outstanding inverse offers stays exactly the offers
/// through every path that makes or removes one: creation, ACCEPT, DECLINE, a schedule
/// change (rescind), an agent's deactivation and removal, a framework's removal.
#[test]
fn the_inverse_offer_index_follows_every_create_answer_rescind_and_removal() {
    let mut h = Harness::new();
    let (agent, fw, _idle) = cluster(&mut h);
    let (agent2, _) = h.add_agent("host2", "cpus:2;mem:1024");
    let revive = sched::Call {
        r#type: Some(CallType::Revive as i32),
        ..Default::default()
    };
    h.call(&fw, revive).unwrap();
    h.allocate();
    let offer = h
        .offers(&fw)
        .into_iter()
        .find(|o| o.agent_id.value == agent2)
        .expect("an offer of host2");
    let task = command_task("t2", &offer.agent_id, "cpus:1;mem:128", "*");
    h.call(&fw, launch(&offer, vec![task], None)).unwrap();
    let ids = [machine_of(&h, &agent), machine_of(&h, &agent2)];
    let both = |start| schedule(vec![window(ids.to_vec(), start, 3600)]);
    let consistent = |h: &Harness, n: usize| {
        assert!(h.master.inverse.is_consistent());
        assert_eq!(h.master.inverse.len(), n);
    };
    let now = h.now();
    h.master
        .update_maintenance_schedule(now, both(100))
        .unwrap();
    h.pump();
    // Create: one per agent the framework uses.
    h.allocate();
    let offers = inverse_offers(&mut h, &fw);
    consistent(&h, 2);
    assert_eq!(offers.len(), 2, "{offers:?}");
    // ACCEPT one (no filter: asked again next round), DECLINE the other with a filter.
    answer(&mut h, &fw, vec![offers[0].id.clone()], None, true);
    consistent(&h, 1);
    answer(&mut h, &fw, vec![offers[1].id.clone()], Some(3600.0), false);
    consistent(&h, 0);
    h.allocate();
    consistent(&h, 1);
    // Rescind: the schedule changes (a new window start).
    let now = h.now();
    h.master
        .update_maintenance_schedule(now, both(200))
        .unwrap();
    h.pump();
    consistent(&h, 0);
    h.allocate();
    consistent(&h, 2);
    // An agent removed: its inverse offer goes.
    let now = h.now();
    h.master.mark_unreachable(now, &agent2);
    h.pump();
    consistent(&h, 1);
    // The framework removed: its inverse offers go.
    let now = h.now();
    h.master.remove_framework(now, &fw.id);
    h.pump();
    consistent(&h, 0);
}
