//! Scenario tests in the style of Mesos's `HierarchicalAllocatorTest` and property tests.

use super::*;
use proptest::prelude::*;

fn res(text: &str) -> Resources {
    Resources::parse(text, "*").unwrap()
}

fn alloc_res(text: &str, role: &str) -> Resources {
    res(text).allocated_to(role)
}

fn fw(roles: &[&str]) -> FrameworkSpec {
    FrameworkSpec {
        roles: roles.iter().map(|r| r.to_string()).collect(),
        capabilities: Capabilities {
            multi_role: roles.len() > 1,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn agent(total: &str) -> AgentSpec {
    AgentSpec {
        hostname: "host".into(),
        total: res(total),
    }
}

fn none<K>() -> HashMap<K, Resources> {
    HashMap::new()
}

/// A framework id as the master would pass it (validated).
fn fid(id: &str) -> FrameworkId {
    FrameworkId::new(id).unwrap()
}

/// An agent id as the master would pass it (validated).
fn aid(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

/// (framework, agent, role, resources text) of each allocation, sorted.
fn summary(allocs: &[Allocation]) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = allocs
        .iter()
        .flat_map(|a| {
            a.resources.iter().map(|(role, r)| {
                (
                    a.framework_id.to_string(),
                    a.agent_id.to_string(),
                    role.clone(),
                    r.unallocated().to_text(),
                )
            })
        })
        .collect();
    v.sort();
    v
}

fn one(f: &str, a: &str, role: &str, text: &str) -> (String, String, String, String) {
    (f.into(), a.into(), role.into(), res(text).to_text())
}

fn no_min() -> Options {
    Options {
        min_allocatable_resources: vec![],
        ..Options::default()
    }
}

// Mesos HierarchicalAllocatorTest.UnreservedDRF (reference/mesos-contract.md §8.8): each
// agent goes whole to the role with the lowest dominant share, then inside the role to the
// framework with the lowest share.
#[test]
fn unreserved_drf() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.add_framework(&fid("f1"), fw(&["r1"]), &none(), true);
    al.add_agent(&aid("a1"), agent("cpus:2;mem:1024"), &none());
    // Total cpus:2 mem:1024. r1 is alone: it gets a1.
    assert_eq!(
        summary(&al.allocate(t0)),
        vec![one("f1", "a1", "r1", "cpus:2;mem:1024")]
    );

    al.add_framework(&fid("f2"), fw(&["r2"]), &none(), true);
    al.add_agent(&aid("a2"), agent("cpus:1;mem:512"), &none());
    // Total cpus:3 mem:1536. r1 share = max(2/3, 1024/1536) = 0.67, r2 = 0: r2 gets a2.
    assert_eq!(
        summary(&al.allocate(t0)),
        vec![one("f2", "a2", "r2", "cpus:1;mem:512")]
    );

    al.add_framework(&fid("f3"), fw(&["r1"]), &none(), true);
    al.add_agent(&aid("a3"), agent("cpus:3;mem:2048"), &none());
    // Total cpus:6 mem:3584. r1 = max(2/6, 1024/3584) = 0.33, r2 = max(1/6, 512/3584) = 0.17:
    // r2 is lowest; its only framework f2 takes a3.
    assert_eq!(
        summary(&al.allocate(t0)),
        vec![one("f2", "a3", "r2", "cpus:3;mem:2048")]
    );

    al.add_framework(&fid("f4"), fw(&["r2"]), &none(), true);
    al.add_agent(&aid("a4"), agent("cpus:4;mem:4096"), &none());
    // Total cpus:10 mem:7680. r1 = max(2/10, 1024/7680) = 0.2, r2 = max(4/10, 2560/7680) = 0.4:
    // r1 gets a4; inside r1, f3 (share 0) is below f1 (0.2).
    assert_eq!(
        summary(&al.allocate(t0)),
        vec![one("f3", "a4", "r1", "cpus:4;mem:4096")]
    );
    // Nothing is left.
    assert!(al.allocate(t0).is_empty());
}

// Mesos HierarchicalAllocatorTest.ReservedDRF: reserved resources go only to their role,
// and they count in that role's share.
#[test]
fn reserved_drf() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.add_agent(
        &aid("a1"),
        agent("cpus:2;mem:1024;cpus(r1):1;mem(r1):200"),
        &none(),
    );
    al.add_framework(&fid("f1"), fw(&["r1"]), &none(), true);
    al.add_framework(&fid("f2"), fw(&["r2"]), &none(), true);
    // r1 and r2 both at share 0; the tie breaks on the role name: r1 takes everything it
    // may (unreserved + its reservation).
    assert_eq!(
        summary(&al.allocate(t0)),
        vec![one(
            "f1",
            "a1",
            "r1",
            "cpus:2;mem:1024;cpus(r1):1;mem(r1):200"
        )]
    );
    al.add_agent(&aid("a2"), agent("cpus(r1):4;mem:100"), &none());
    // r2 (share 0) comes first but may only take the unreserved mem; r1 then takes its cpus.
    assert_eq!(
        summary(&al.allocate(t0)),
        vec![
            one("f1", "a2", "r1", "cpus(r1):4"),
            one("f2", "a2", "r2", "mem:100")
        ]
    );
}

// Weighted DRF: shares are divided by the role weight (mesos-contract §8.8).
#[test]
fn weights_scale_shares() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.update_weights(&[("heavy".into(), 3.0)]);
    al.add_framework(&fid("f1"), fw(&["heavy"]), &none(), true);
    al.add_framework(&fid("f2"), fw(&["light"]), &none(), true);
    for i in 0..4 {
        al.add_agent(&aid(&format!("a{i}")), agent("cpus:1;mem:100"), &none());
    }
    // Agents visited in order. a0: tie at 0 -> heavy (name). heavy = 0.25/3 = 0.083.
    // a1: light (0) -> light = 0.25. a2: heavy (0.083) -> 0.167. a3: heavy (0.167 < 0.25).
    let s = summary(&al.allocate(t0));
    let heavy = s.iter().filter(|x| x.2 == "heavy").count();
    assert_eq!(heavy, 3, "{s:?}");
    let roles = al.roles();
    assert_eq!(
        roles.iter().find(|r| r.name == "heavy").unwrap().weight,
        3.0
    );
    assert_eq!(
        roles
            .iter()
            .find(|r| r.name == "heavy")
            .unwrap()
            .allocated
            .cpus(),
        3.0
    );
}

// Quota guarantee: stage 1 serves a role below its guarantee first even when DRF would
// not, and keeps headroom so others cannot take what it is still owed.
#[test]
fn quota_guarantee_is_served_first() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.add_framework(&fid("fq"), fw(&["quota"]), &none(), true);
    al.add_framework(&fid("fo"), fw(&["other"]), &none(), true);
    // fq already holds cpus:1 on a0, so DRF alone would favour "other".
    al.add_agent(
        &aid("a0"),
        agent("cpus:1;mem:10"),
        &HashMap::from([(fid("fq"), alloc_res("cpus:1;mem:10", "quota"))]),
    );
    al.add_framework(
        &fid("fq"),
        fw(&["quota"]),
        &HashMap::from([(aid("a0"), alloc_res("cpus:1;mem:10", "quota"))]),
        true,
    );
    al.update_quota(
        "quota",
        Quota {
            guarantees: res("cpus:3"),
            limits: Resources::new(),
        },
    );
    al.add_agent(&aid("a1"), agent("cpus:2;mem:10"), &none());
    al.add_agent(&aid("a2"), agent("cpus:2;mem:10"), &none());
    let s = summary(&al.allocate(t0));
    // quota is owed cpus:2 more: stage 1 gives a1 (cpus:2 = the whole remaining guarantee)
    // to fq. Stage 2: "other" gets a2.
    assert_eq!(
        s,
        vec![
            one("fo", "a2", "other", "cpus:2;mem:10"),
            one("fq", "a1", "quota", "cpus:2;mem:10")
        ]
    );
}

// Quota limit: a role never exceeds its limit; agents are chopped (mesos-contract §8.8).
#[test]
fn quota_limit_chops_offers() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.update_quota(
        "capped",
        Quota {
            guarantees: Resources::new(),
            limits: res("cpus:3"),
        },
    );
    al.add_framework(&fid("f1"), fw(&["capped"]), &none(), true);
    al.add_agent(&aid("a1"), agent("cpus:2;mem:100"), &none());
    al.add_agent(&aid("a2"), agent("cpus:2;mem:100"), &none());
    let s = summary(&al.allocate(t0));
    assert_eq!(
        s,
        vec![
            one("f1", "a1", "capped", "cpus:2;mem:100"),
            one("f1", "a2", "capped", "cpus:1;mem:100")
        ]
    );
    assert_eq!(al.available("a2").unwrap(), res("cpus:1"));
    assert!(al.allocate(t0).is_empty());
}

// Filters: a declined agent is not offered again to that framework until the filter
// expires, then it is (mesos-contract §8.7); other frameworks are not affected.
#[test]
fn filters_expire() {
    let t0 = Instant::now();
    let mut al = Allocator::new(Options::default());
    al.add_framework(&fid("f1"), fw(&["r"]), &none(), true);
    al.add_agent(&aid("a1"), agent("cpus:1;mem:512"), &none());
    let offer = al.allocate(t0);
    assert_eq!(
        summary(&offer),
        vec![one("f1", "a1", "r", "cpus:1;mem:512")]
    );
    let offered = offer[0].resources["r"].clone();
    al.recover_resources(t0, "f1", "a1", &offered, Some(Duration::from_secs(5)));
    assert!(al.allocate(t0 + Duration::from_secs(1)).is_empty());
    assert!(al.allocate(t0 + Duration::from_millis(4999)).is_empty());
    // More than was refused is not filtered (RefusedOfferFilter: refused ⊇ offered).
    al.update_agent_total("a1", res("cpus:2;mem:512"));
    assert_eq!(
        summary(&al.allocate(t0 + Duration::from_secs(2))),
        vec![one("f1", "a1", "r", "cpus:2;mem:512")]
    );
    let offered = al.allocated("f1", "a1");
    al.recover_resources(
        t0 + Duration::from_secs(2),
        "f1",
        "a1",
        &offered,
        Some(Duration::from_secs(5)),
    );
    assert!(al.allocate(t0 + Duration::from_secs(6)).is_empty());
    assert_eq!(summary(&al.allocate(t0 + Duration::from_secs(7))).len(), 1);
}

#[test]
fn zero_refuse_installs_no_filter() {
    let t0 = Instant::now();
    let mut al = Allocator::new(Options::default());
    al.add_framework(&fid("f1"), fw(&["r"]), &none(), true);
    al.add_agent(&aid("a1"), agent("cpus:1;mem:512"), &none());
    let offered = al.allocate(t0)[0].resources["r"].clone();
    al.recover_resources(t0, "f1", "a1", &offered, Some(Duration::ZERO));
    assert_eq!(al.allocate(t0).len(), 1);
}

// REVIVE clears the framework's filters and unsuppresses (mesos-contract §8.7).
#[test]
fn revive_clears_filters_and_suppress_stops_offers() {
    let t0 = Instant::now();
    let mut al = Allocator::new(Options::default());
    al.add_framework(&fid("f1"), fw(&["r"]), &none(), true);
    al.add_agent(&aid("a1"), agent("cpus:1;mem:512"), &none());
    let offered = al.allocate(t0)[0].resources["r"].clone();
    al.recover_resources(t0, "f1", "a1", &offered, Some(Duration::from_secs(3600)));
    assert!(al.allocate(t0).is_empty());
    al.revive("f1", &[]);
    let offered = al.allocate(t0)[0].resources["r"].clone();
    al.recover_resources(t0, "f1", "a1", &offered, None);
    al.suppress("f1", &["r".to_string()]);
    assert!(al.allocate(t0).is_empty());
    al.revive("f1", &["r".to_string()]);
    assert_eq!(al.allocate(t0).len(), 1);
}

#[test]
fn deactivated_framework_and_agent_get_nothing() {
    let t0 = Instant::now();
    let mut al = Allocator::new(Options::default());
    al.add_framework(&fid("f1"), fw(&["r"]), &none(), false);
    al.add_agent(&aid("a1"), agent("cpus:1;mem:512"), &none());
    assert!(al.allocate(t0).is_empty());
    al.activate_framework("f1");
    al.deactivate_agent("a1");
    assert!(al.allocate(t0).is_empty());
    al.activate_agent("a1");
    let offered = al.allocate(t0)[0].resources["r"].clone();
    // Filters survive deactivation (this allocator's contract with the master).
    al.recover_resources(t0, "f1", "a1", &offered, Some(Duration::from_secs(10)));
    al.deactivate_framework("f1");
    al.activate_framework("f1");
    assert!(al.allocate(t0).is_empty());
    assert_eq!(al.allocate(t0 + Duration::from_secs(10)).len(), 1);
}

// A MULTI_ROLE framework is offered per role; reservations go to the right role.
#[test]
fn multi_role_framework() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.add_framework(&fid("f"), fw(&["a", "b"]), &none(), true);
    al.add_agent(&aid("x"), agent("cpus(b):2;cpus:1;mem:10"), &none());
    let out = al.allocate(t0);
    assert_eq!(out.len(), 1, "one Allocation carrying both roles");
    // Roles a and b tie at 0; a goes first and takes the unreserved part, b its reservation.
    assert_eq!(
        summary(&out),
        vec![
            one("f", "x", "a", "cpus:1;mem:10"),
            one("f", "x", "b", "cpus(b):2")
        ]
    );
    assert_eq!(
        out[0].resources["b"]
            .allocation_roles()
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["b"]
    );
}

// Resources reserved to a role are offered to its descendants, not to its parent or to
// siblings (docs/reservation.md, mesos-contract §8.8).
#[test]
fn hierarchical_reservations() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.add_framework(&fid("parent"), fw(&["eng"]), &none(), true);
    al.add_framework(&fid("child"), fw(&["eng/ml"]), &none(), true);
    al.add_framework(&fid("other"), fw(&["ops"]), &none(), true);
    al.add_agent(&aid("x"), agent("cpus(eng/ml):4"), &none());
    al.add_agent(&aid("y"), agent("cpus(eng):4"), &none());
    let s = summary(&al.allocate(t0));
    // x: only eng/ml may use it. y: eng and eng/ml may; eng (0) sorts before eng/ml inside
    // the eng subtree.
    assert_eq!(
        s,
        vec![
            one("child", "x", "eng/ml", "cpus(eng/ml):4"),
            one("parent", "y", "eng", "cpus(eng):4")
        ]
    );
}

#[test]
fn gpu_agents_only_for_gpu_frameworks() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.add_framework(&fid("plain"), fw(&["r"]), &none(), true);
    al.add_agent(&aid("g"), agent("cpus:1;gpus:1"), &none());
    assert!(al.allocate(t0).is_empty());
    let mut spec = fw(&["r"]);
    spec.capabilities.gpu_resources = true;
    al.add_framework(&fid("gpu"), spec, &none(), true);
    assert_eq!(
        summary(&al.allocate(t0)),
        vec![one("gpu", "g", "r", "cpus:1;gpus:1")]
    );
}

#[test]
fn min_allocatable_resources() {
    let t0 = Instant::now();
    let mut al = Allocator::new(Options::default()); // cpus:0.01 | mem:32
    al.add_framework(&fid("f"), fw(&["r"]), &none(), true);
    al.add_agent(&aid("tiny"), agent("mem:16;disk:10"), &none());
    assert!(al.allocate(t0).is_empty());
    al.add_agent(&aid("ok"), agent("mem:32"), &none());
    assert_eq!(
        summary(&al.allocate(t0)),
        vec![one("f", "ok", "r", "mem:32")]
    );
}

#[test]
fn removing_a_framework_returns_its_resources() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.add_framework(&fid("f1"), fw(&["r"]), &none(), true);
    al.add_agent(&aid("a"), agent("cpus:1"), &none());
    assert_eq!(al.allocate(t0).len(), 1);
    al.remove_framework("f1");
    assert_eq!(al.available("a").unwrap(), res("cpus:1"));
    al.add_framework(&fid("f2"), fw(&["r"]), &none(), true);
    assert_eq!(
        summary(&al.allocate(t0)),
        vec![one("f2", "a", "r", "cpus:1")]
    );
    assert_eq!(al.roles()[0].frameworks, vec!["f2".to_string()]);
}

#[test]
fn update_allocation_reserves_in_place() {
    let t0 = Instant::now();
    let mut al = Allocator::new(no_min());
    al.add_framework(&fid("f"), fw(&["r"]), &none(), true);
    al.add_agent(&aid("a"), agent("cpus:2"), &none());
    al.allocate(t0);
    let from = alloc_res("cpus:1", "r");
    let to = Resources::parse("cpus:1", "r").unwrap().allocated_to("r");
    al.update_allocation("f", "a", &from, &to);
    assert_eq!(al.allocated("f", "a"), &alloc_res("cpus:1", "r") + &to);
    al.recover_resources(t0, "f", "a", &al.allocated("f", "a"), None);
    assert_eq!(
        al.available("a").unwrap(),
        &res("cpus:1") + &Resources::parse("cpus:1", "r").unwrap()
    );
}

// ---- properties ------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Event {
    Allocate(u64),
    Decline { nth: usize, secs: u64 },
    Launch { nth: usize },
    FinishAll { fw: usize },
    Suppress(usize),
    Revive(usize),
    Deactivate(usize),
    Activate(usize),
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (0u64..4).prop_map(Event::Allocate),
        3 => (0usize..8, 0u64..4).prop_map(|(nth, secs)| Event::Decline { nth, secs }),
        2 => (0usize..8).prop_map(|nth| Event::Launch { nth }),
        1 => (0usize..3).prop_map(|fw| Event::FinishAll { fw }),
        1 => (0usize..3).prop_map(Event::Suppress),
        1 => (0usize..3).prop_map(Event::Revive),
        1 => (0usize..3).prop_map(Event::Deactivate),
        1 => (0usize..3).prop_map(Event::Activate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    // Random event sequences: offers never exceed what is free, the same resource is never
    // outstanding twice, and a declined offer is not re-offered before its filter expires.
    #[test]
    fn never_offer_more_than_free_nor_twice(events in prop::collection::vec(arb_event(), 1..60)) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut al = Allocator::new(no_min());
        let fws = ["f0", "f1", "f2"];
        let roles = ["r0", "r1", "r0/x"];
        for (i, f) in fws.iter().enumerate() {
            al.add_framework(&fid(f), fw(&[roles[i]]), &none(), true);
        }
        let totals = ["cpus:4;mem:100;ports:[1-10]", "cpus:2;mem:50;cpus(r0):1", "cpus:1;mem:10;disk(r0/x):5"];
        for (i, t) in totals.iter().enumerate() {
            al.add_agent(&aid(&format!("a{i}")), agent(t), &none());
        }
        // Outstanding offers and launched tasks per (framework, agent).
        let mut offers: Vec<(String, String, Resources)> = Vec::new();
        let mut used: Vec<(String, String, Resources)> = Vec::new();
        // (framework, agent, refused, until)
        let mut filters: Vec<(String, String, Resources, Instant)> = Vec::new();
        for ev in events {
            match ev {
                Event::Allocate(dt) => {
                    now += Duration::from_secs(dt);
                    for a in al.allocate(now) {
                        let all: Resources = a.resources.values().fold(Resources::new(), |acc, r| acc + r);
                        for (f, ag, refused, until) in &filters {
                            if *f == a.framework_id && *ag == a.agent_id && *until > now {
                                prop_assert!(!refused.contains(&all.unallocated()), "filtered offer re-sent");
                            }
                        }
                        offers.push((a.framework_id.to_string(), a.agent_id.to_string(), all));
                    }
                }
                Event::Decline { nth, secs } if !offers.is_empty() => {
                    let (f, ag, r) = offers.remove(nth % offers.len());
                    let refuse = Duration::from_secs(secs);
                    al.recover_resources(now, &f, &ag, &r, Some(refuse));
                    if secs > 0 {
                        filters.push((f, ag, r.unallocated(), now + refuse));
                    }
                }
                Event::Launch { nth } if !offers.is_empty() => {
                    let o = offers.remove(nth % offers.len());
                    used.push(o);
                }
                Event::FinishAll { fw } => {
                    let f = fws[fw];
                    for (uf, ag, r) in used.iter().filter(|u| u.0 == f) {
                        al.recover_resources(now, uf, ag, r, None);
                    }
                    used.retain(|u| u.0 != f);
                }
                Event::Suppress(i) => al.suppress(fws[i], &[]),
                Event::Revive(i) => {
                    al.revive(fws[i], &[]);
                    filters.retain(|x| x.0 != fws[i]);
                }
                Event::Deactivate(i) => al.deactivate_framework(fws[i]),
                Event::Activate(i) => al.activate_framework(fws[i]),
                _ => {}
            }
            // Invariant: per agent, outstanding offers + used + available == total, disjoint.
            for (i, t) in totals.iter().enumerate() {
                let ag = format!("a{i}");
                let mut sum = al.available(&ag).unwrap();
                for (_, a, r) in offers.iter().chain(used.iter()) {
                    if *a == ag {
                        let r = r.unallocated();
                        prop_assert!(
                            (&sum + &r).scalars() == &sum.scalars() + &r.scalars(),
                            "scalar sum is not additive"
                        );
                        if let (Some(p), Some(q)) = (sum.ports(), r.ports()) {
                            let mut u = p.clone();
                            crate::resources::value::ranges_add(&mut u, &q);
                            let (lu, lp, lq) = (
                                crate::resources::value::ranges_len(&u),
                                crate::resources::value::ranges_len(&p),
                                crate::resources::value::ranges_len(&q),
                            );
                            prop_assert_eq!(lu, lp + lq, "ports offered twice on {}", ag);
                        }
                        sum += r;
                    }
                }
                prop_assert_eq!(sum, res(t));
            }
        }
    }
}

/// Found by fuzzing the master: an agent announcing cpus near 1e34 next to a normal one
/// overflowed the allocator's fixed-point totals (a panic with overflow checks, negative
/// totals without). Totals saturate instead; allocation goes on.
#[test]
fn absurd_agent_scalars_saturate_the_totals_instead_of_overflowing() {
    let mut a = Allocator::new(no_min());
    a.add_agent(
        &aid("huge"),
        agent("cpus:10000000000000000000000000000000000;mem:1024"),
        &none(),
    );
    a.add_agent(&aid("normal"), agent("cpus:4;mem:1024"), &none());
    a.add_framework(&fid("f"), fw(&["*"]), &none(), true);
    assert!(
        a.totals.iter().all(|&t| t >= 0),
        "totals saturate, never wrap negative: {:?}",
        a.totals
    );
    assert!(a.totals.contains(&i64::MAX), "{:?}", a.totals);
    let offers = a.allocate(std::time::Instant::now());
    assert!(!offers.is_empty());
}
