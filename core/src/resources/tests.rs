use remesos_proto::mesos::v1::resource::{RevocableInfo, reservation_info};

use super::*;
use proptest::prelude::*;

fn r(text: &str) -> Resources {
    Resources::parse(text, "*").unwrap()
}

#[test]
fn parse_and_print_the_agent_flag_form() {
    let res = r("cpus:2;mem:1024;ports:[31000-32000];disk(role):100;gpus:0");
    // `gpus:0` is empty and vanishes, as in Mesos.
    assert_eq!(res.len(), 4);
    assert_eq!(res.cpus(), 2.0);
    assert_eq!(res.mem(), 1024.0);
    assert_eq!(res.disk(), 100.0);
    assert_eq!(res.gpus(), 0.0);
    assert_eq!(
        res.ports().unwrap().range,
        vec![Range {
            begin: 31000,
            end: 32000
        }]
    );
    assert_eq!(
        res.to_string(),
        "cpus:2; mem:1024; ports:[31000-32000]; disk(reservations: [(STATIC,role)]):100"
    );
    assert_eq!(
        res.to_text(),
        "cpus:2;mem:1024;ports:[31000-32000];disk(role):100"
    );
    assert_eq!(Resources::new().to_string(), "{}");
}

#[test]
fn parse_merges_and_handles_spaces_sets_and_default_role() {
    let res = r("cpus:1; cpus:0.5; zones:{a,b}; ports:[1-2, 3-5, 10-11]");
    assert_eq!(res.cpus(), 1.5);
    assert_eq!(res.set("zones").unwrap().item, vec!["a", "b"]);
    assert_eq!(
        res.to_string(),
        "cpus:1.5; zones:{a, b}; ports:[1-5, 10-11]"
    );

    let reserved = Resources::parse("cpus:2;mem(*):10", "prod").unwrap();
    assert_eq!(reserved.reserved_to("prod").cpus(), 2.0);
    assert_eq!(reserved.unreserved().mem(), 10.0);
}

#[test]
fn parse_errors_name_the_offending_text() {
    let cases = [
        ("cpus", "missing or extra ':' in 'cpus'"),
        ("cpus:1:2", "missing or extra ':'"),
        ("cpus(role:1", "mismatched parentheses in 'cpus(role:1'"),
        ("cpus:-1", "negative values not supported"),
        ("cpus:abc", "value 'abc'"),
        ("ports:[1-2", "mismatched brackets"),
        ("ports:[1-2-3]", "ranges"),
        ("ports:[a-b]", "expecting non-negative integers in 'a'"),
        ("cpus(a//b):1", "invalid role 'a//b'"),
        ("cpus(-a):1", "starts with a dash"),
        ("zones:{a,a}", "duplicated elements"),
        (" :1", "empty resource name"),
        (":1", "missing or extra ':' in ':1'"),
    ];
    for (text, want) in cases {
        let err = Resources::parse(text, "*").unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
        assert_eq!(
            err,
            err.to_lowercase().replace("static", "STATIC"),
            "lowercase: {err}"
        );
    }
    assert!(Resources::parse("cpus:1", "a//b").is_err());
}

#[test]
fn parse_json_array_form() {
    let json = r#"[
      {"name":"cpus","type":"SCALAR","scalar":{"value":2}},
      {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}},
      {"name":"disk","type":"SCALAR","scalar":{"value":10},"role":"web",
       "reservation":{"principal":"ops"}},
      {"name":"mem","type":"SCALAR","scalar":{"value":64},
       "reservations":[{"type":"STATIC","role":"a"},{"type":"DYNAMIC","role":"a/b","principal":"p"}]},
      {"name":"zones","type":"SET","set":{"item":["x"]}}
    ]"#;
    let res = Resources::parse(json, "*").unwrap();
    assert_eq!(res.cpus(), 2.0);
    assert_eq!(res.reserved_to("web").disk(), 10.0);
    let disk = res.reserved_to("web");
    let reservation = &disk.as_slice()[0].reservations[0];
    assert_eq!(
        reservation.r#type,
        Some(reservation_info::Type::Dynamic as i32)
    );
    assert_eq!(reservation.principal.as_deref(), Some("ops"));
    assert_eq!(res.reserved_to("a/b").mem(), 64.0);
    // JSON round trip.
    assert_eq!(Resources::from_json(&res.to_json(), "*").unwrap(), res);
    // Default role applies to resources without one.
    let dflt = Resources::parse(
        r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]"#,
        "r",
    )
    .unwrap();
    assert_eq!(dflt.reserved_to("r").cpus(), 1.0);
    assert!(
        Resources::parse(r#"[{"type":"SCALAR"}]"#, "*")
            .unwrap_err()
            .to_string()
            .contains("name")
    );
}

#[test]
fn fixed_point_scalars() {
    let mut a = r("cpus:0.1");
    a += &r("cpus:0.2");
    assert_eq!(a, r("cpus:0.3"));
    assert_eq!(a.cpus(), 0.3);
    for _ in 0..1000 {
        a += &r("cpus:0.001");
        a -= &r("cpus:0.001");
    }
    assert_eq!(a.cpus(), 0.3);
    // Subtracting more than is there drops the entry, as Mesos does.
    assert!((r("cpus:1") - r("cpus:2")).is_empty());
    assert_eq!(r("cpus:1.0004").cpus(), 1.0);
}

#[test]
fn ranges_and_sets_arithmetic() {
    let a = r("ports:[1-10];zones:{a,b,c}");
    let b = r("ports:[3-4];zones:{b}");
    let d = &a - &b;
    assert_eq!(d, r("ports:[1-2,5-10];zones:{a,c}"));
    assert!(a.contains(&b));
    assert!(!b.contains(&a));
    assert_eq!(&d + &b, a);
}

#[test]
fn reservations_do_not_merge_with_unreserved() {
    let res = r("cpus:1;cpus(a):2;cpus(a/b):3");
    assert_eq!(res.len(), 3);
    assert_eq!(res.cpus(), 6.0);
    assert_eq!(res.unreserved().cpus(), 1.0);
    assert_eq!(res.reserved().cpus(), 5.0);
    // Hierarchical allocatability (reference/mesos-contract.md §8.8): a/b/c may use
    // resources reserved to a and a/b, a/b may not use a/b/c's.
    assert_eq!(res.allocatable_to("a/b/c").cpus(), 6.0);
    assert_eq!(res.allocatable_to("a").cpus(), 3.0);
    assert_eq!(res.allocatable_to("x").cpus(), 1.0);
    assert!(!r("cpus(a):1").contains(&r("cpus:1")));
}

#[test]
fn allocation_info() {
    let mut res = r("cpus:1;mem:10");
    res.allocate("web");
    assert_eq!(
        res.allocation_roles().into_iter().collect::<Vec<_>>(),
        vec!["web"]
    );
    assert_eq!(
        res.to_string(),
        "cpus(allocated: web):1; mem(allocated: web):10"
    );
    assert!(!res.contains(&r("cpus:1")));
    let mut mixed = res.clone();
    mixed += &r("cpus:2").allocated_to("db");
    assert_eq!(mixed.allocations().len(), 2);
    mixed.unallocate();
    assert_eq!(mixed, r("cpus:3;mem:10"));
    assert_eq!(mixed.len(), 2);
}

#[test]
fn pre_and_post_refinement_formats() {
    let res = Resources::parse(
        r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},
            {"name":"mem","type":"SCALAR","scalar":{"value":2},"role":"r"},
            {"name":"disk","type":"SCALAR","scalar":{"value":3},"role":"r","reservation":{"principal":"p"}}]"#,
        "*",
    )
    .unwrap();
    let pre = res
        .to_protos_in(ResourceFormat::PreReservationRefinement)
        .unwrap();
    assert_eq!(pre[0].role.as_deref(), Some("*"));
    assert!(pre.iter().all(|x| x.reservations.is_empty()));
    assert_eq!(pre[1].role.as_deref(), Some("r"));
    assert!(pre[1].reservation.is_none());
    assert_eq!(
        pre[2].reservation.as_ref().unwrap().principal.as_deref(),
        Some("p")
    );
    assert_eq!(Resources::from_protos(pre).unwrap(), res);
    let endpoint = res.to_protos_in(ResourceFormat::Endpoint).unwrap();
    assert_eq!(endpoint[1].reservations.len(), 1);
    assert_eq!(endpoint[1].role.as_deref(), Some("r"));
    assert_eq!(Resources::from_protos(endpoint).unwrap(), res);
    // Refined reservations have no pre-refinement form.
    let refined = Resources::parse(
        r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1},
             "reservations":[{"type":"STATIC","role":"a"},{"type":"DYNAMIC","role":"a/b"}]}]"#,
        "*",
    )
    .unwrap();
    assert!(matches!(
        refined.to_protos_in(ResourceFormat::PreReservationRefinement),
        Err(Error::RefinedReservation(_))
    ));
}

/// `--resources` JSON is Mesos's `Resource` in full (`Resources::fromJSON`, which parses with
/// stout's reflection-based `protobuf::parse`): a resource provider's disk keeps its
/// `provider_id` and `disk.source`, which the agent reports to the master.
#[test]
fn resources_json_keeps_provider_id_and_disk_source() {
    let json = r#"[
      {"name":"disk","type":"SCALAR","scalar":{"value":2048},
       "provider_id":{"value":"rp-1"},
       "disk":{"source":{"type":"MOUNT","mount":{"root":"/mnt/disk0"},"id":"vol-7",
                         "profile":"fast","vendor":"org.example"}}}
    ]"#;
    let res = Resources::parse(json, "*").unwrap();
    assert_eq!(res.disk(), 2048.0);
    let r = &res.as_slice()[0];
    assert_eq!(
        r.provider_id.as_ref().map(|p| p.value.as_str()),
        Some("rp-1")
    );
    let source = r
        .disk
        .as_ref()
        .and_then(|d| d.source.as_ref())
        .expect("disk.source kept");
    assert_eq!(source.r#type, disk_info::source::Type::Mount as i32);
    assert_eq!(
        source.mount.as_ref().and_then(|m| m.root.as_deref()),
        Some("/mnt/disk0")
    );
    assert_eq!(source.id.as_deref(), Some("vol-7"));
    assert_eq!(source.profile.as_deref(), Some("fast"));
    assert_eq!(source.vendor.as_deref(), Some("org.example"));
    // And back out: the JSON form carries them too.
    assert_eq!(Resources::from_json(&res.to_json(), "*").unwrap(), res);
    assert_eq!(res.to_json()[0]["provider_id"]["value"], "rp-1");
    assert_eq!(
        res.to_json()[0]["disk"]["source"]["mount"]["root"],
        "/mnt/disk0"
    );
}

#[test]
fn validation() {
    let bad = |json: &str| Resources::parse(json, "*").unwrap_err().to_string();
    assert!(
        bad(r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]"#).contains("value <= 0")
    );
    assert!(
        bad(r#"[{"name":"cpus","type":"RANGES","scalar":{"value":1}}]"#).contains("invalid ranges")
    );
    assert!(
        bad(r#"[{"name":"p","type":"RANGES","ranges":{"range":[{"begin":1,"end":5},{"begin":3,"end":9}]}}]"#)
            .contains("overlapping")
    );
    assert!(
        bad(r#"[{"name":"c","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"a"},{"type":"DYNAMIC","role":"b"}]}]"#)
            .contains("not a refinement of 'a'")
    );
    assert!(
        bad(r#"[{"name":"c","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"a"},{"type":"STATIC","role":"a/b"}]}]"#)
            .contains("cannot be STATIC")
    );
    assert!(
        bad(r#"[{"name":"c","type":"SCALAR","scalar":{"value":1},"role":"*","reservation":{}}]"#)
            .contains("cannot be dynamically reserved")
    );
    assert!(
        bad(r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"shared":{}}]"#)
            .contains("cannot be shared")
    );
}

#[test]
fn persistent_volumes_are_matched_whole() {
    let vol = Resources::parse(
        r#"[{"name":"disk","type":"SCALAR","scalar":{"value":10},"role":"r","reservation":{},
             "disk":{"persistence":{"id":"v1"}}},
            {"name":"disk","type":"SCALAR","scalar":{"value":10},"role":"r","reservation":{},
             "disk":{"persistence":{"id":"v2"}}}]"#,
        "*",
    )
    .unwrap();
    assert_eq!(vol.len(), 2);
    assert_eq!(vol.persistent_volumes().disk(), 20.0);
    let one = vol.filter(|x| x.disk.as_ref().unwrap().persistence.as_ref().unwrap().id == "v1");
    assert!(vol.contains(&one));
    assert_eq!((&vol - &one).len(), 1);
}

#[test]
fn json_model_of_state_endpoint() {
    let m = r("cpus:2;mem:1024;ports:[31000-32000]").to_json_map();
    assert_eq!(
        serde_json::Value::Object(m).to_string(),
        r#"{"cpus":2.0,"gpus":0.0,"mem":1024.0,"disk":0.0,"ports":"[31000-32000]"}"#
    );
    let mut rev = r("cpus:1");
    let mut p = rev.clone().into_protos();
    p[0].revocable = Some(RevocableInfo {});
    rev += &Resources::from_protos(p).unwrap();
    let m = rev.to_json_map();
    assert_eq!(m["cpus"], serde_json::json!(1.0));
    assert_eq!(m["cpus_revocable"], serde_json::json!(1.0));
}

// ---- property tests ----------------------------------------------------------------

fn arb_resource() -> impl Strategy<Value = Resource> {
    let role = prop_oneof![Just("*"), Just("a"), Just("a/b"), Just("c")];
    let value = prop_oneof![
        (0u32..5, 0u32..100_000)
            .prop_map(|(n, v)| (format!("s{n}"), format!("{}", v as f64 / 1000.0))),
        prop::collection::vec((0u64..200, 0u64..20), 1..4).prop_map(|v| {
            let mut ranges: Vec<Range> = v
                .into_iter()
                .map(|(b, l)| Range {
                    begin: b,
                    end: b + l,
                })
                .collect();
            value::coalesce(&mut ranges);
            let parts: Vec<String> = ranges
                .iter()
                .map(|r| format!("{}-{}", r.begin, r.end))
                .collect();
            ("ports".to_string(), format!("[{}]", parts.join(",")))
        }),
        prop::collection::btree_set(0u8..6, 1..4).prop_map(|s| {
            let items: Vec<String> = s.iter().map(|i| format!("i{i}")).collect();
            ("zones".to_string(), format!("{{{}}}", items.join(",")))
        }),
    ];
    (value, role).prop_map(|((name, text), role)| parse_resource(&name, &text, role).unwrap())
}

fn arb_resources() -> impl Strategy<Value = Resources> {
    prop::collection::vec(arb_resource(), 0..8).prop_map(Resources::from_iter)
}

proptest! {
    #[test]
    fn scalar_add_then_subtract_is_identity(a in arb_resources(), b in arb_resources()) {
        let (a, b) = (a.scalars(), b.scalars());
        prop_assert_eq!(&(&a + &b) - &b, a);
    }

    #[test]
    fn add_then_subtract_is_identity(a in arb_resources(), b in arb_resources()) {
        // Ranges and sets are sets: `a + b - b == a` only holds when b is disjoint from a,
        // hence `b - a` (scalars are unaffected by the disjointness).
        let b = &b - &a;
        let sum = &a + &b;
        prop_assert!(sum.contains(&a));
        prop_assert!(sum.contains(&b));
        prop_assert_eq!(&sum - &b, a);
    }

    #[test]
    fn difference_is_contained(a in arb_resources(), b in arb_resources()) {
        prop_assert!(a.contains(&(&a - &b)));
        prop_assert!(a.contains(&a));
        prop_assert!((&a - &a).is_empty());
    }

    #[test]
    fn text_form_round_trips(a in arb_resources()) {
        prop_assert_eq!(Resources::parse(&a.to_text(), "*").unwrap(), a.clone());
        prop_assert_eq!(Resources::from_json(&a.to_json(), "*").unwrap(), a.clone());
        let pre = a.to_protos_in(ResourceFormat::PreReservationRefinement).unwrap();
        prop_assert_eq!(Resources::from_protos(pre).unwrap(), a);
    }

    #[test]
    fn entries_stay_normalized(a in arb_resources(), b in arb_resources()) {
        for x in [&a + &b, &a - &b] {
            for (i, e) in x.iter().enumerate() {
                prop_assert!(!is_empty_resource(e));
                for f in &x.as_slice()[i + 1..] {
                    prop_assert!(!addable(e, f), "{} and {} should have merged", display_resource(e), display_resource(f));
                }
            }
        }
    }
}

#[test]
fn from_normalized_shares_entries() {
    let a = r("cpus:2;mem:1024;ports:[1-5]").allocated_to("role");
    let b = Resources::from_normalized(a.as_slice().to_vec());
    assert_eq!(a, b);
    assert!(
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .all(|(x, y)| Arc::ptr_eq(x, y))
    );
    assert!(Resources::from_normalized(Vec::new()).is_empty());
}

fn coalesced(pairs: Vec<(u64, u64)>) -> Ranges {
    let mut range: Vec<Range> = pairs
        .into_iter()
        .map(|(b, len)| Range {
            begin: b,
            end: b + len,
        })
        .collect();
    value::coalesce(&mut range);
    Ranges { range }
}

proptest! {
    // The linear merge of `ranges_add` gives what sorting and coalescing gives.
    #[test]
    fn ranges_add_merges_like_coalesce(
        a in prop::collection::vec((0u64..200, 0u64..10), 0..12),
        b in prop::collection::vec((0u64..200, 0u64..10), 0..12),
    ) {
        let (a, b) = (coalesced(a), coalesced(b));
        let mut merged = a.clone();
        value::ranges_add(&mut merged, &b);
        let mut expected = a.range.clone();
        expected.extend_from_slice(&b.range);
        value::coalesce(&mut expected);
        prop_assert_eq!(merged.range, expected);
    }
}

/// Found by the `resources` fuzz target (fuzz/regressions/resources/): a scalar past
/// i64::MAX thousandths (an agent's `cpus:1e61`) overflowed the fixed-point sum, a panic in
/// debug builds and a wrap to negative cpus in release. Sums saturate instead.
#[test]
fn scalar_sums_saturate_instead_of_overflowing() {
    let huge = r("cpus:2222222222222222222222222222222222222222222222222222222222222");
    let mut sum = huge.clone();
    sum += &huge;
    assert!(sum.cpus() > 9.0e15, "{sum:?}");
    assert!(sum.contains(&huge));
    assert!(sum.scalar_quantities()["cpus"] > 9.0e15);
    let mut difference = sum.clone();
    difference -= &huge;
    assert!(difference.cpus() >= 0.0);
}

/// Mesos's `operator==(DiskInfo)` ignores `volume` (src/common/resources.cpp): a task may
/// use a persistent volume read-only or at another container path, and what it used comes
/// back as the volume it is.
#[test]
fn a_volumes_use_does_not_change_which_resource_it_is() {
    use remesos_proto::v1;
    let volume = |path: &str, mode: v1::volume::Mode, id: &str| {
        let mut r = Resources::parse("disk(r):64", "*")
            .unwrap()
            .into_protos()
            .remove(0);
        r.disk = Some(v1::resource::DiskInfo {
            persistence: Some(v1::resource::disk_info::Persistence {
                id: id.into(),
                principal: None,
            }),
            volume: Some(v1::Volume {
                container_path: path.into(),
                mode: mode as i32,
                ..Default::default()
            }),
            source: None,
        });
        Resources::from(r)
    };
    let created = volume("data", v1::volume::Mode::Rw, "v");
    let used = volume("ro", v1::volume::Mode::Ro, "v");
    assert!(created.contains(&used));
    assert!((created.clone() - used.clone()).is_empty());
    assert!(!created.contains(&volume("data", v1::volume::Mode::Rw, "w")));
    let mut both = created.clone();
    both += &volume("data", v1::volume::Mode::Rw, "w");
    assert_eq!((both - used).len(), 1);
}
