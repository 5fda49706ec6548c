//! Golden and property tests for `remesos_proto::json` (Mesos's JSON dialect, stout's
//! `protobuf.hpp` rules; reference/mesos-contract.md §3.1) and `remesos_proto::recordio`
//! (docs/recordio.md).
//!
//! Fixtures in tests/golden/ restate the JSON examples of Mesos's docs
//! (docs/scheduler-http-api.md, docs/executor-http-api.md, docs/operator-http-api.md). Where a
//! doc example contradicts the schema the fixture follows the schema, and the test says so.

#![allow(deprecated)] // FrameworkInfo.role is deprecated in Mesos and still tested

use proptest::prelude::*;
use prost::Message;
use remesos_proto::json::{self, Error, Limits};
use remesos_proto::{mesos, recordio, v1};
use serde_json::{Value, json};

fn golden(name: &str) -> Value {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// JSON equality where numbers compare by value (`15` == `15.0`), as Mesos's parser treats
/// them.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Sets `value` at the JSON pointer `at` (whose parent must exist), or removes the key when
/// `value` is `None`.
fn edit(doc: &mut Value, at: &str, value: Option<Value>) {
    let (parent, key) = at.rsplit_once('/').expect("pointer has a parent");
    let object = doc
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"));
    match value {
        Some(v) => {
            object.insert(key.to_owned(), v);
        }
        None => {
            object.remove(key);
        }
    }
}

/// Parses `fixture` as `M`, re-encodes it, and checks the output is the input plus exactly
/// `defaults` (unset fields with an explicit, non-deprecated `[default=...]`, which stout
/// emits) minus `dropped` (keys that are not fields, which stout ignores).
fn reencodes<M>(fixture: &str, defaults: &[(&str, Value)], dropped: &[&str]) -> M
where
    M: Message + prost::Name + Default + PartialEq + std::fmt::Debug,
{
    let input = golden(fixture);
    let msg: M = json::from_value(&input).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    let output = json::to_value(&msg);
    let mut expected = input;
    for (at, v) in defaults {
        edit(&mut expected, at, Some(v.clone()));
    }
    for at in dropped {
        edit(&mut expected, at, None);
    }
    assert!(
        same(&output, &expected),
        "{fixture} re-encoded differently\n  got:      {output}\n  expected: {expected}"
    );
    // The bytes form parses back to the same message.
    let again: M = json::from_slice(&json::to_vec(&msg)).expect("re-parse");
    assert_eq!(json::to_value(&again), output, "{fixture}: JSON round trip");
    msg
}

// ---------------------------------------------------------------------------------------
// Exact golden outputs (DESIGN.md §2: Filters, FrameworkInfo, MasterInfo, TaskStatus).

#[test]
fn filters_default_refuse_seconds_is_emitted() {
    // mesos.proto: `optional double refuse_seconds = 1 [default = 5.0]`; stout emits unset
    // fields that have an explicit default.
    let bytes = json::to_vec(&v1::Filters::default());
    assert_eq!(
        std::str::from_utf8(&bytes).unwrap(),
        r#"{"refuse_seconds":5.0}"#
    );
    let f = v1::Filters {
        refuse_seconds: Some(0.5),
    };
    assert_eq!(json::to_vec(&f), br#"{"refuse_seconds":0.5}"#);
    let parsed: v1::Filters = json::from_slice(b"{}").unwrap();
    assert_eq!(parsed.refuse_seconds, None);
    assert_eq!(parsed.refuse_seconds(), 5.0);
}

#[test]
fn framework_info_emits_defaults_but_not_deprecated_role() {
    // failover_timeout [default = 0] and checkpoint [default = false] are emitted when unset;
    // role [default = "*", deprecated = true] is not (stout skips deprecated defaults).
    let fi = v1::FrameworkInfo {
        user: "foo".into(),
        name: "Example HTTP Framework".into(),
        roles: vec!["test1".into()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    };
    assert_eq!(
        String::from_utf8(json::to_vec(&fi)).unwrap(),
        r#"{"user":"foo","name":"Example HTTP Framework","failover_timeout":0.0,"checkpoint":false,"roles":["test1"],"capabilities":[{"type":"MULTI_ROLE"}]}"#
    );
    // A deprecated field that is set is still written.
    let with_role = v1::FrameworkInfo {
        role: Some("web".into()),
        ..fi.clone()
    };
    assert_eq!(json::to_value(&with_role)["role"], "web");
}

#[test]
fn v0_framework_info_and_slave_info_use_v0_names() {
    // The v0 package keeps `slave_id`-era names: mesos.SlaveInfo has `id` and `checkpoint`,
    // port [default = 5051].
    let si = mesos::SlaveInfo {
        hostname: "agent1".into(),
        id: Some(mesos::SlaveId {
            value: "M-S1".into(),
        }),
        ..Default::default()
    };
    let v = json::to_value(&si);
    assert_eq!(v["port"], 5051);
    assert_eq!(v["id"], json!({"value": "M-S1"}));
    assert_eq!(v.get("checkpoint"), Some(&json!(false)));

    let status = mesos::TaskStatus {
        task_id: mesos::TaskId { value: "t".into() },
        state: mesos::TaskState::TaskLost as i32,
        slave_id: Some(mesos::SlaveId { value: "S1".into() }),
        source: Some(mesos::task_status::Source::Slave as i32),
        ..Default::default()
    };
    assert_eq!(
        json::to_value(&status),
        json!({"task_id":{"value":"t"},"state":"TASK_LOST","source":"SOURCE_SLAVE","slave_id":{"value":"S1"}})
    );
    let fi: mesos::FrameworkInfo =
        json::from_slice(br#"{"user":"u","name":"n","role":"r"}"#).unwrap();
    assert_eq!(fi.role.as_deref(), Some("r"));
}

#[test]
fn master_info_as_written_to_zookeeper() {
    // mesos-contract.md §5: ZooKeeper `json.info_*` nodes hold JSON::protobuf(MasterInfo); ip
    // is a uint32 in network byte order (127.0.0.1 -> 16777343), port [default = 5050].
    let mi = mesos::MasterInfo {
        id: "c1b4-5a9e".into(),
        ip: u32::from_le_bytes([127, 0, 0, 1]),
        pid: Some("master@127.0.0.1:5050".into()),
        hostname: Some("localhost".into()),
        version: Some("1.11.0".into()),
        address: Some(mesos::Address {
            hostname: Some("localhost".into()),
            ip: Some("127.0.0.1".into()),
            port: 5050,
        }),
        capabilities: vec![mesos::master_info::Capability {
            r#type: Some(mesos::master_info::capability::Type::AgentUpdate as i32),
        }],
        ..Default::default()
    };
    assert_eq!(
        String::from_utf8(json::to_vec(&mi)).unwrap(),
        r#"{"id":"c1b4-5a9e","ip":16777343,"port":5050,"pid":"master@127.0.0.1:5050","hostname":"localhost","version":"1.11.0","address":{"hostname":"localhost","ip":"127.0.0.1","port":5050},"capabilities":[{"type":"AGENT_UPDATE"}]}"#
    );
    // `port` is required even though it has a default: protobuf's IsInitialized (which
    // stout's parse checks) wants it set.
    let err = json::from_slice::<mesos::MasterInfo>(br#"{"id":"x","ip":16777343}"#).unwrap_err();
    assert_eq!(err.to_string(), "missing required field 'port'");
    let parsed: mesos::MasterInfo =
        json::from_slice(br#"{"id":"x","ip":"16777343","port":5050}"#).unwrap();
    assert_eq!(parsed.ip, 16_777_343);
    let err = json::from_slice::<mesos::MasterInfo>(br#"{"id":"x"}"#).unwrap_err();
    assert_eq!(err.to_string(), "missing required fields 'ip', 'port'");
}

#[test]
fn task_status_enum_names_base64_uuid_double_timestamp() {
    let status = v1::TaskStatus {
        task_id: v1::TaskId {
            value: "my-task".into(),
        },
        state: v1::TaskState::TaskRunning as i32,
        source: Some(v1::task_status::Source::Executor as i32),
        reason: Some(v1::task_status::Reason::TaskHealthCheckStatusUpdated as i32),
        agent_id: Some(v1::AgentId { value: "S1".into() }),
        timestamp: Some(1_466_810_317.5),
        uuid: Some(vec![0xde, 0xad, 0xbe, 0xef, 0x00]),
        healthy: Some(true),
        ..Default::default()
    };
    assert_eq!(
        String::from_utf8(json::to_vec(&status)).unwrap(),
        r#"{"task_id":{"value":"my-task"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","reason":"REASON_TASK_HEALTH_CHECK_STATUS_UPDATED","agent_id":{"value":"S1"},"timestamp":1466810317.5,"uuid":"3q2+7wA=","healthy":true}"#
    );
    let back: v1::TaskStatus = json::from_slice(&json::to_vec(&status)).unwrap();
    assert_eq!(back, status);
}

// ---------------------------------------------------------------------------------------
// Doc examples.

#[test]
fn scheduler_subscribe_call() {
    // docs/scheduler-http-api.md, SUBSCRIBE request.
    let call: v1::scheduler::Call = reencodes(
        "scheduler_subscribe.json",
        &[
            ("/subscribe/framework_info/failover_timeout", json!(0.0)),
            ("/subscribe/framework_info/checkpoint", json!(false)),
        ],
        &[],
    );
    assert_eq!(call.r#type(), v1::scheduler::call::Type::Subscribe);
    let sub = call.subscribe.unwrap();
    assert_eq!(sub.framework_info.user, "foo");
    assert_eq!(sub.framework_info.roles, ["test1", "test2"]);
    assert_eq!(sub.suppressed_roles, ["test2"]);
    let constraints = sub.offer_constraints.unwrap();
    let group = &constraints.role_constraints["test1"].groups[0];
    // `selector` is a oneof: the JSON key names the member that is set.
    use v1::scheduler::attribute_constraint::selector::Selector;
    assert_eq!(
        group.attribute_constraints[0].selector.selector,
        Some(Selector::AttributeName("foo".into()))
    );
}

#[test]
fn scheduler_subscribed_event() {
    // docs/scheduler-http-api.md, SUBSCRIBE response event.
    let event: v1::scheduler::Event = reencodes("scheduler_subscribed.json", &[], &[]);
    let subscribed = event.subscribed.unwrap();
    assert_eq!(subscribed.framework_id.value, "12220-3440-12532-2345");
    assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
}

#[test]
fn scheduler_accept_call() {
    // docs/scheduler-http-api.md, ACCEPT. The doc writes `"limits": {"cpus": "Infinity"}`,
    // but `limits` is `map<string, Value.Scalar>`: a message, which stout only fills from an
    // object. The fixture uses the schema's form; the doc's is rejected below.
    let call: v1::scheduler::Call = reencodes(
        "scheduler_accept.json",
        &[(
            "/accept/operations/0/launch/task_infos/0/executor/command/shell",
            json!(true),
        )],
        &[],
    );
    let accept = call.accept.unwrap();
    let task = &accept.operations[0].launch.as_ref().unwrap().task_infos[0];
    assert_eq!(task.resources[1].scalar.as_ref().unwrap().value, 128.0);
    assert_eq!(task.limits["cpus"].value, f64::INFINITY);
    assert_eq!(accept.filters.unwrap().refuse_seconds, Some(5.0));

    let mut doc_form = golden("scheduler_accept.json");
    edit(
        &mut doc_form,
        "/accept/operations/0/launch/task_infos/0/limits",
        Some(json!({"cpus": "Infinity", "mem": 512.0})),
    );
    let err = json::from_value::<v1::scheduler::Call>(&doc_form).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected a JSON object for field 'accept.operations[0].launch.task_infos[0].limits[cpus]', found a string"
    );
}

#[test]
fn scheduler_decline_call() {
    // docs/scheduler-http-api.md, DECLINE.
    let call: v1::scheduler::Call = reencodes("scheduler_decline.json", &[], &[]);
    assert_eq!(call.r#type(), v1::scheduler::call::Type::Decline);
    assert_eq!(call.decline.unwrap().offer_ids.len(), 2);
}

#[test]
fn scheduler_offers_event() {
    // docs/scheduler-http-api.md, OFFERS. The doc puts the array straight under "offers";
    // `Event.offers` is an `Offers` message whose repeated `offers` holds them, which is what
    // Mesos writes, so the fixture nests it.
    let event: v1::scheduler::Event = reencodes("scheduler_offers.json", &[], &[]);
    let offer = &event.offers.unwrap().offers[0];
    assert_eq!(offer.hostname, "agent.host");
    assert_eq!(offer.resources[0].r#type(), v1::value::Type::Scalar);
    assert_eq!(
        offer.attributes[0].text.as_ref().unwrap().value,
        "ubuntu16.04"
    );
}

#[test]
fn scheduler_update_event() {
    // docs/scheduler-http-api.md, UPDATE: "uuid and data are raw bytes encoded in Base64".
    // The example's "bytes" key is not a field; stout ignores unknown keys.
    let event: v1::scheduler::Event =
        reencodes("scheduler_update.json", &[], &["/update/status/bytes"]);
    let status = event.update.unwrap().status;
    assert_eq!(status.state(), v1::TaskState::TaskRunning);
    assert_eq!(status.source(), v1::task_status::Source::Executor);
    assert_eq!(status.uuid.unwrap().len(), 18);
}

#[test]
fn executor_subscribe_call() {
    // docs/executor-http-api.md, SUBSCRIBE request. The example's unacknowledged update
    // carries a "framework_id", which `Call.Update` does not have: ignored, like stout does.
    let call: v1::executor::Call = reencodes(
        "executor_subscribe.json",
        &[(
            "/subscribe/unacknowledged_tasks/0/command/shell",
            json!(true),
        )],
        &["/subscribe/unacknowledged_updates/0/framework_id"],
    );
    let sub = call.subscribe.unwrap();
    assert_eq!(
        sub.unacknowledged_tasks[0]
            .command
            .as_ref()
            .unwrap()
            .arguments,
        ["-l", "/tmp"]
    );
    let uuid = sub.unacknowledged_updates[0].status.uuid.clone().unwrap();
    assert_eq!(uuid, b"d40f3f3e-bbe3-44af-a230-4cb1eae72f67\n");
}

#[test]
fn executor_subscribed_event() {
    // docs/executor-http-api.md, SUBSCRIBED. The doc's agent_info says "host"; AgentInfo's
    // field is the required `hostname`, so the fixture uses it. Its "agent_id" is not a field
    // of `Event.Subscribed` (the id is inside agent_info) and is ignored.
    let event: v1::executor::Event = reencodes(
        "executor_subscribed.json",
        &[
            ("/subscribed/executor_info/command/shell", json!(true)),
            ("/subscribed/framework_info/failover_timeout", json!(0.0)),
            ("/subscribed/framework_info/checkpoint", json!(false)),
        ],
        &["/subscribed/agent_id"],
    );
    assert_eq!(event.subscribed.unwrap().agent_info.port(), 5051);

    let mut doc_form = golden("executor_subscribed.json");
    edit(
        &mut doc_form,
        "/subscribed/agent_info",
        Some(json!({"host": "agenthost", "port": 5051})),
    );
    let err = json::from_value::<v1::executor::Event>(&doc_form).unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing required field 'subscribed.agent_info.hostname'"
    );
}

#[test]
fn executor_update_call() {
    // docs/executor-http-api.md, UPDATE.
    let call: v1::executor::Call = reencodes("executor_update.json", &[], &[]);
    assert_eq!(
        call.update.unwrap().status.state(),
        v1::TaskState::TaskRunning
    );
}

#[test]
fn operator_responses() {
    // docs/operator-http-api.md, GET_HEALTH, GET_VERSION and GET_FLAGS responses.
    let health: v1::master::Response = reencodes("operator_get_health.json", &[], &[]);
    assert!(health.get_health.unwrap().healthy);
    let version: v1::master::Response = reencodes("operator_get_version.json", &[], &[]);
    let info = version.get_version.unwrap().version_info;
    assert_eq!(info.build_time, Some(1_466_810_317.0));
    let flags: v1::master::Response = reencodes("operator_get_flags.json", &[], &[]);
    assert_eq!(
        flags.get_flags.unwrap().flags[1].value.as_deref(),
        Some("15secs")
    );

    let call: v1::master::Call = json::from_slice(br#"{"type": "GET_HEALTH"}"#).unwrap();
    assert_eq!(call.r#type(), v1::master::call::Type::GetHealth);
    assert_eq!(json::to_vec(&call), br#"{"type":"GET_HEALTH"}"#);
}

// ---------------------------------------------------------------------------------------
// Input rules (stout's `protobuf::internal::Parser`).

#[test]
fn lenient_scalars_like_stout() {
    // Numbers and booleans may be strings; "Infinity" is a double; null is unset; unknown
    // keys are ignored; a single element stands for a one-element repeated field and nested
    // arrays flatten.
    let fi: v1::FrameworkInfo = json::from_slice(
        br#"{"user":"u","name":"n","failover_timeout":"3600","checkpoint":"true",
             "hostname":null,"no_such_field":{"deep":[1,2,3]},"roles":"a",
             "capabilities":[[{"type":"MULTI_ROLE"}],{"type":"GPU_RESOURCES"}]}"#,
    )
    .unwrap();
    assert_eq!(fi.failover_timeout, Some(3600.0));
    assert_eq!(fi.checkpoint, Some(true));
    assert_eq!(fi.hostname, None);
    assert_eq!(fi.roles, ["a"]);
    assert_eq!(fi.capabilities.len(), 2);

    let r: v1::Value = json::from_slice(
        br#"{"type":"RANGES","ranges":{"range":[{"begin":"31000","end":32000.0}]}}"#,
    )
    .unwrap();
    assert_eq!(r.ranges.unwrap().range[0].end, 32000);
}

#[test]
fn enums_by_name_only() {
    // A number for an enum is "Not expecting a JSON number" in stout.
    let err = json::from_slice::<v1::scheduler::Call>(br#"{"type":1}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected an enum value name for field 'type', found a number"
    );
    // An unknown name on an optional enum is dropped (proto2 semantics, stout line "discarded
    // if this is not a required enum field"); on a required one it is an error.
    let call: v1::scheduler::Call = json::from_slice(br#"{"type":"FOO"}"#).unwrap();
    assert_eq!(call.r#type, None);
    let err = json::from_slice::<v1::TaskStatus>(br#"{"task_id":{"value":"t"},"state":"FOO"}"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown enum value 'FOO' for field 'state'"
    );
}

#[test]
fn error_messages_name_the_field() {
    let cases: &[(&[u8], &str)] = &[
        (
            br#"[]"#,
            "expecting a JSON object for mesos.v1.scheduler.Call, found an array",
        ),
        (
            br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"n"}}}"#,
            "missing required field 'subscribe.framework_info.user'",
        ),
        (
            br#"{"subscribe":{"framework_info":{"user":5,"name":"n"}}}"#,
            "expected a string for field 'subscribe.framework_info.user', found a number",
        ),
        (
            br#"{"subscribe":{"framework_info":"x"}}"#,
            "expected a JSON object for field 'subscribe.framework_info', found a string",
        ),
        (
            br#"{"framework_id":[{"value":"x"}]}"#,
            "expected a JSON object for field 'framework_id', found an array",
        ),
        (
            br#"{"decline":{"filters":{"refuse_seconds":"soon"}}}"#,
            "invalid value for field 'decline.filters.refuse_seconds': failed to parse 'soon' as a JSON number: expected value at line 1 column 1",
        ),
        (
            br#"{"accept":{"offer_ids":[{"value":"o"},{"value":7}]}}"#,
            "expected a string for field 'accept.offer_ids[1].value', found a number",
        ),
    ];
    for (body, message) in cases {
        let err = json::from_slice::<v1::scheduler::Call>(body).unwrap_err();
        assert_eq!(
            &err.to_string(),
            message,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let err = json::from_slice::<v1::MasterInfo>(br#"{"id":"x","ip":-1}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value for field 'ip': -1 is out of range for uint32"
    );
    let err = json::from_slice::<v1::TaskStatus>(
        br#"{"task_id":{"value":"t"},"state":"TASK_LOST","uuid":"a*b"}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value for field 'uuid': failed to base64 decode bytes: invalid character '*'"
    );
    let syntax = json::from_slice::<v1::scheduler::Call>(b"{").unwrap_err();
    assert!(matches!(syntax, Error::Json(_)), "{syntax:?}");
}

#[test]
fn base64_decoding_is_lenient_like_stout() {
    // stout's base64::decode skips whitespace and does not require padding.
    for text in ["3q2+7wA=", "3q2+7wA", "3q2+\\n7wA=", " 3q2+ 7wA= "] {
        let body = format!(r#"{{"task_id":{{"value":"t"}},"state":"TASK_LOST","uuid":"{text}"}}"#);
        let s: v1::TaskStatus = json::from_slice(body.as_bytes()).unwrap();
        assert_eq!(s.uuid.unwrap(), [0xde, 0xad, 0xbe, 0xef, 0x00], "{text}");
    }
}

#[test]
fn maps_are_objects() {
    let fi: v1::FrameworkInfo = json::from_slice(
        br#"{"user":"u","name":"n","offer_filters":{"b":{"min_allocatable_resources":{}},"a":{}}}"#,
    )
    .unwrap();
    assert_eq!(fi.offer_filters.len(), 2);
    let v = json::to_value(&fi);
    // Keys are sorted for deterministic output.
    assert_eq!(
        v["offer_filters"],
        json!({"a":{},"b":{"min_allocatable_resources":{}}})
    );
    assert_eq!(
        v["offer_filters"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn non_finite_doubles_round_trip_as_strings() {
    for (f, text) in [
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
    ] {
        let s = v1::value::Scalar { value: f };
        assert_eq!(json::to_value(&s), json!({ "value": text }));
        assert_eq!(
            json::from_value::<v1::value::Scalar>(&json::to_value(&s)).unwrap(),
            s
        );
    }
    let nan = v1::value::Scalar { value: f64::NAN };
    let back: v1::value::Scalar = json::from_value(&json::to_value(&nan)).unwrap();
    assert!(back.value.is_nan());
}

#[test]
fn limits_bound_size_and_depth() {
    let limits = Limits {
        max_bytes: 64,
        max_depth: 4,
    };
    let big = format!(r#"{{"type":"SUBSCRIBE","x":"{}"}}"#, "a".repeat(100));
    assert!(matches!(
        json::from_slice_with_limits::<v1::scheduler::Call>(big.as_bytes(), &limits),
        Err(Error::TooLarge { limit: 64, .. })
    ));
    // Depth counts every object and array, including ones in unknown fields.
    let deep = br#"{"x":{"y":{"z":{"w":{}}}}}"#;
    assert!(matches!(
        json::from_slice_with_limits::<v1::scheduler::Call>(deep, &limits),
        Err(Error::TooDeep { limit: 4 })
    ));
    // from_value checks depth as it walks known fields.
    let v = json!({"subscribe":{"framework_info":{"labels":{"labels":[{"key":"k"}]}}}});
    assert!(matches!(
        json::from_value_with_limits::<v1::scheduler::Call>(&v, &limits),
        Err(Error::TooDeep { limit: 4 })
    ));

    // Far deeper than serde_json's own recursion limit: an error, never a stack overflow.
    let n = 100_000;
    let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(json::from_slice::<v1::scheduler::Call>(deep.as_bytes()).is_err());
    let deep = r#"{"subscribe":"#.repeat(n);
    assert!(json::from_slice::<v1::scheduler::Call>(deep.as_bytes()).is_err());
    let unlimited = Limits {
        max_bytes: usize::MAX,
        max_depth: usize::MAX,
    };
    let deep = format!("{}{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    assert!(matches!(
        json::from_slice_with_limits::<v1::scheduler::Call>(deep.as_bytes(), &unlimited),
        Err(Error::Json(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Property tests.

/// Arbitrary JSON, biased towards the shapes of real Mesos bodies (field names that exist,
/// enum names, nesting).
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("type".to_owned()),
        Just("value".to_owned()),
        Just("subscribe".to_owned()),
        Just("framework_info".to_owned()),
        Just("user".to_owned()),
        Just("name".to_owned()),
        Just("task_id".to_owned()),
        Just("state".to_owned()),
        Just("uuid".to_owned()),
        Just("resources".to_owned()),
        Just("scalar".to_owned()),
        Just("ranges".to_owned()),
        Just("range".to_owned()),
        Just("begin".to_owned()),
        Just("offer_filters".to_owned()),
        Just("labels".to_owned()),
        Just("port".to_owned()),
        Just("ip".to_owned()),
        Just("id".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("SUBSCRIBE".to_owned()),
            Just("TASK_RUNNING".to_owned()),
            Just("Infinity".to_owned()),
            Just("3q2+7wA=".to_owned()),
            Just("12".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn parse_all(bytes: &[u8]) {
    let _ = json::from_slice::<v1::scheduler::Call>(bytes);
    let _ = json::from_slice::<v1::scheduler::Event>(bytes);
    let _ = json::from_slice::<v1::TaskStatus>(bytes);
    let _ = json::from_slice::<v1::FrameworkInfo>(bytes);
    let _ = json::from_slice::<v1::Offer>(bytes);
    let _ = json::from_slice::<mesos::MasterInfo>(bytes);
    let _ = json::from_slice::<v1::master::Call>(bytes);
}

fn arb_id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9-]{0,12}"
}

fn arb_labels() -> impl Strategy<Value = Option<v1::Labels>> {
    proptest::option::of(
        prop::collection::vec(
            (arb_id(), proptest::option::of(".{0,8}"))
                .prop_map(|(key, value)| v1::Label { key, value }),
            0..3,
        )
        .prop_map(|labels| v1::Labels { labels }),
    )
}

fn arb_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("NaN never compares equal", |f| !f.is_nan()),
        (0u32..100_000).prop_map(|n| f64::from(n) / 8.0),
    ]
}

fn arb_enum(values: &'static [i32]) -> impl Strategy<Value = i32> {
    prop::sample::select(values)
}

fn arb_task_status() -> impl Strategy<Value = v1::TaskStatus> {
    (
        arb_id(),
        arb_enum(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
        proptest::option::of(".{0,16}"),
        proptest::option::of(arb_enum(&[0, 1, 2])),
        proptest::option::of(arb_enum(&[0, 1, 9, 16, 34])),
        proptest::option::of(prop::collection::vec(any::<u8>(), 0..24)),
        proptest::option::of(arb_double()),
        proptest::option::of(any::<bool>()),
        arb_labels(),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(
            |(task, state, message, source, reason, bytes, timestamp, healthy, labels, nanos)| {
                v1::TaskStatus {
                    task_id: v1::TaskId { value: task },
                    state,
                    message,
                    source,
                    reason,
                    data: bytes.clone(),
                    uuid: bytes,
                    timestamp,
                    healthy,
                    labels,
                    unreachable_time: nanos.map(|nanoseconds| v1::TimeInfo { nanoseconds }),
                    ..Default::default()
                }
            },
        )
}

fn arb_resource() -> impl Strategy<Value = v1::Resource> {
    (
        "[a-z]{1,6}",
        arb_double(),
        prop::collection::vec((any::<u64>(), any::<u64>()), 0..3),
        proptest::option::of(arb_id()),
    )
        .prop_map(|(name, scalar, ranges, role)| v1::Resource {
            name,
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value: scalar }),
            ranges: (!ranges.is_empty()).then(|| v1::value::Ranges {
                range: ranges
                    .into_iter()
                    .map(|(begin, end)| v1::value::Range { begin, end })
                    .collect(),
            }),
            allocation_info: role.map(|role| v1::resource::AllocationInfo { role: Some(role) }),
            ..Default::default()
        })
}

fn arb_offer() -> impl Strategy<Value = v1::Offer> {
    (
        arb_id(),
        arb_id(),
        ".{0,12}",
        prop::collection::vec(arb_resource(), 0..4),
        prop::collection::vec(arb_id(), 0..3),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(
            |(id, agent, hostname, resources, executors, start)| v1::Offer {
                id: v1::OfferId { value: id.clone() },
                framework_id: v1::FrameworkId { value: id },
                agent_id: v1::AgentId { value: agent },
                hostname,
                resources,
                executor_ids: executors
                    .into_iter()
                    .map(|value| v1::ExecutorId { value })
                    .collect(),
                unavailability: start.map(|nanoseconds| v1::Unavailability {
                    start: v1::TimeInfo { nanoseconds },
                    duration: None,
                }),
                ..Default::default()
            },
        )
}

fn arb_framework_info() -> impl Strategy<Value = v1::FrameworkInfo> {
    (
        ".{0,8}",
        ".{0,8}",
        proptest::option::of(arb_double()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(".{0,4}"),
        prop::collection::vec(arb_id(), 0..3),
        prop::collection::vec(arb_enum(&[0, 1, 2, 3, 4, 5, 6, 7, 8]), 0..3),
        arb_labels(),
        prop::collection::hash_map(arb_id(), proptest::option::of(arb_double()), 0..3),
    )
        .prop_map(
            |(user, name, failover, checkpoint, role, roles, caps, labels, filters)| {
                v1::FrameworkInfo {
                    user,
                    name,
                    failover_timeout: failover,
                    checkpoint,
                    role,
                    roles,
                    capabilities: caps
                        .into_iter()
                        .map(|t| v1::framework_info::Capability { r#type: Some(t) })
                        .collect(),
                    labels,
                    offer_filters: filters
                        .into_iter()
                        .map(|(role, quantity)| {
                            let min =
                                quantity.map(|q| v1::offer_filters::MinAllocatableResources {
                                    quantities: vec![v1::offer_filters::ResourceQuantities {
                                        quantities: [(
                                            "cpus".to_owned(),
                                            v1::value::Scalar { value: q },
                                        )]
                                        .into_iter()
                                        .collect(),
                                    }],
                                });
                            (
                                role,
                                v1::OfferFilters {
                                    min_allocatable_resources: min,
                                },
                            )
                        })
                        .collect(),
                    ..Default::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        parse_all(&serde_json::to_vec(&v).unwrap());
        let _ = json::from_value::<v1::scheduler::Call>(&v);
        let _ = json::from_value::<v1::executor::Call>(&v);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        parse_all(&bytes);
    }

    #[test]
    fn task_status_round_trips(msg in arb_task_status()) {
        let back: v1::TaskStatus = json::from_slice(&json::to_vec(&msg)).unwrap();
        prop_assert_eq!(back, msg);
    }

    #[test]
    fn offer_round_trips(msg in arb_offer()) {
        let back: v1::Offer = json::from_slice(&json::to_vec(&msg)).unwrap();
        prop_assert_eq!(back, msg);
    }

    #[test]
    fn framework_info_round_trips(msg in arb_framework_info()) {
        let back: v1::FrameworkInfo = json::from_slice(&json::to_vec(&msg)).unwrap();
        // Unset fields with defaults come back set to the default: the JSON cannot tell them
        // apart (stout behaves the same), so compare with the defaults filled in.
        let mut expected = msg.clone();
        expected.failover_timeout.get_or_insert(0.0);
        expected.checkpoint.get_or_insert(false);
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn recordio_chunking_is_meaningless(
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut stream = Vec::new();
        for r in &records {
            recordio::encode(r, &mut stream);
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut decoder = recordio::Decoder::new(64);
        let mut out = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([stream.len()]) {
            out.extend(decoder.feed(&stream[start..p]).unwrap());
            start = p;
        }
        prop_assert!(decoder.is_empty_buffer());
        let out: Vec<Vec<u8>> = out.into_iter().map(|b| b.to_vec()).collect();
        prop_assert_eq!(out, records);
    }

    #[test]
    fn recordio_random_bytes_never_panic(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..32), 0..8),
    ) {
        let mut decoder = recordio::Decoder::new(16);
        for c in &chunks {
            if decoder.feed(c).is_err() {
                prop_assert!(decoder.feed(b"1\nx").is_err());
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The one-pass transcoder (`json::to_vec`, `json::write_wire`) against the reflection path it
// replaced (`json::to_vec_reflect`, `json::wire_to_vec_reflect`), the oracle: identical bytes
// for every message, including bytes prost itself would never write.

/// Both paths on the same wire bytes: where the oracle decodes them, the transcoder writes the
/// same JSON; where it does not, the transcoder may refuse but must not panic, and a refusal
/// leaves the buffer as it was.
fn same_on_wire(full_name: &str, wire: &[u8]) -> bool {
    let mut out = b"prefix".to_vec();
    let new = json::write_wire(full_name, wire, &mut out);
    match json::wire_to_vec_reflect(full_name, wire) {
        Some(expected) => {
            assert!(
                new.is_ok(),
                "{full_name}: transcoder refused {wire:?}: {new:?}"
            );
            assert_eq!(
                String::from_utf8_lossy(&out[6..]),
                String::from_utf8_lossy(&expected),
                "{full_name}: {wire:?}"
            );
            true
        }
        None => {
            if new.is_err() {
                assert_eq!(out, b"prefix");
            }
            false
        }
    }
}

fn same_as_reflect<M: Message + prost::Name>(msg: &M) {
    assert_eq!(
        String::from_utf8(json::to_vec(msg)).unwrap(),
        String::from_utf8(json::to_vec_reflect(msg)).unwrap()
    );
    assert!(same_on_wire(&M::full_name(), &msg.encode_to_vec()));
}

/// Protobuf wire pieces for hand-made encodings.
fn key(number: u32, wire_type: u8) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_varint(u64::from(number << 3 | u32::from(wire_type)), &mut out);
    out
}

fn varint_field(number: u32, v: u64) -> Vec<u8> {
    let mut out = key(number, 0);
    prost::encoding::encode_varint(v, &mut out);
    out
}

fn ld_field(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = key(number, 2);
    prost::encoding::encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

fn double_field(number: u32, f: f64) -> Vec<u8> {
    let mut out = key(number, 1);
    out.extend_from_slice(&f.to_le_bytes());
    out
}

#[test]
fn transcoder_matches_reflection_on_hand_made_wire_bytes() {
    const STATUS: &str = "mesos.v1.TaskStatus";
    const RESOURCE: &str = "mesos.v1.Resource";
    let task_id = ld_field(1, &ld_field(1, b"t1"));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // Required fields unset: written with their type's default (first enum value, "").
        (STATUS, vec![]),
        // Unknown fields of every wire type, a group included, are skipped.
        (
            STATUS,
            [
                task_id.clone(),
                varint_field(900, 7),
                ld_field(901, b"xyz"),
                key(902, 5),
                vec![1, 2, 3, 4],
                key(903, 1),
                vec![0; 8],
                key(904, 3),
                varint_field(1, 5),
                key(904, 4),
                varint_field(2, 1),
            ]
            .concat(),
        ),
        // A singular scalar repeated: the last wins; a singular message repeated: they merge.
        (
            STATUS,
            [
                varint_field(2, 1),
                varint_field(2, 3),
                ld_field(1, &ld_field(1, b"a")),
                ld_field(
                    7,
                    &ld_field(1, &[ld_field(1, b"k"), ld_field(2, b"v")].concat()),
                ),
                ld_field(7, &ld_field(1, &ld_field(1, b"k2"))),
                ld_field(1, &ld_field(1, b"b")),
            ]
            .concat(),
        ),
        // An enum number its enum does not name is dropped (singular: the field disappears).
        (STATUS, [task_id.clone(), varint_field(2, 999)].concat()),
        // Non-finite and negative-zero doubles, bytes that need padding.
        (
            STATUS,
            [task_id.clone(), double_field(6, f64::NAN)].concat(),
        ),
        (
            STATUS,
            [task_id.clone(), double_field(6, f64::INFINITY)].concat(),
        ),
        (
            STATUS,
            [task_id.clone(), double_field(6, f64::NEG_INFINITY)].concat(),
        ),
        (STATUS, [task_id.clone(), double_field(6, -0.0)].concat()),
        (STATUS, [task_id.clone(), double_field(6, 1e300)].concat()),
        (
            STATUS,
            [task_id.clone(), ld_field(3, b"\x00\xff\x10")].concat(),
        ),
        // Strings that need escaping.
        (
            STATUS,
            [task_id.clone(), ld_field(4, b"a\"b\\c\n\x01/\x7f\xc3\xa9")].concat(),
        ),
        // Declaration order differs from number order (ReservationInfo: type = 4 first).
        (
            RESOURCE,
            [
                ld_field(1, b"cpus"),
                varint_field(2, 0),
                ld_field(
                    13,
                    &[ld_field(1, b"p"), varint_field(4, 2), ld_field(3, b"r")].concat(),
                ),
            ]
            .concat(),
        ),
    ];
    for (name, wire) in &cases {
        assert!(
            same_on_wire(name, wire),
            "oracle refused case {name} {wire:?}"
        );
    }
}

#[test]
fn transcoder_matches_reflection_on_maps_oneofs_and_packed_lists() {
    // FrameworkInfo.offer_filters: map<string, OfferFilters>; duplicate keys (the last wins),
    // an entry without a key, an entry without a value.
    let entry = |k: &[u8], v: &[u8]| ld_field(13, &[ld_field(1, k), ld_field(2, v)].concat());
    let min = ld_field(
        1,
        &ld_field(
            1,
            &ld_field(
                1,
                &[ld_field(1, b"cpus"), ld_field(2, &double_field(1, 2.5))].concat(),
            ),
        ),
    );
    let framework = [
        ld_field(1, b"user"),
        ld_field(2, b"name"),
        entry(b"b", &min),
        entry(b"a", b""),
        entry(b"b", b""),
        ld_field(13, &ld_field(2, &min)),
        ld_field(13, &ld_field(1, b"novalue")),
        // capabilities (repeated message) with an unknown enum number inside.
        ld_field(10, &varint_field(1, 999)),
        ld_field(10, &varint_field(1, 2)),
    ]
    .concat();
    assert!(same_on_wire("mesos.v1.FrameworkInfo", &framework));

    // A oneof: a later member clears the earlier one; the same member again merges.
    let selector = "mesos.v1.scheduler.AttributeConstraint.Selector";
    for wire in [
        [varint_field(1, 1), ld_field(2, b"rack")].concat(),
        [ld_field(2, b"rack"), varint_field(1, 1)].concat(),
        [
            ld_field(2, b"rack"),
            varint_field(1, 1),
            ld_field(2, b"zone"),
        ]
        .concat(),
        [varint_field(1, 1), ld_field(2, b"a"), ld_field(2, b"b")].concat(),
    ] {
        assert!(same_on_wire(selector, &wire));
    }

    // Every packable repeated field of the schemas, with packed and unpacked runs mixed,
    // an enum number no enum names and an empty packed run.
    let pool = json::pool();
    let mut checked = 0;
    for message in pool.all_messages() {
        for field in message.fields() {
            let scalar = !matches!(
                field.kind(),
                prost_reflect::Kind::String
                    | prost_reflect::Kind::Bytes
                    | prost_reflect::Kind::Message(_)
            );
            if !field.is_list() || !scalar {
                continue;
            }
            let n = field.number();
            let wire_type = match field.kind() {
                prost_reflect::Kind::Double | prost_reflect::Kind::Fixed64 => 1,
                prost_reflect::Kind::Float | prost_reflect::Kind::Fixed32 => 5,
                _ => 0,
            };
            let one = |v: u64| -> Vec<u8> {
                let mut out = key(n, wire_type);
                match wire_type {
                    1 => out.extend_from_slice(&v.to_le_bytes()),
                    5 => out.extend_from_slice(&(v as u32).to_le_bytes()),
                    _ => prost::encoding::encode_varint(v, &mut out),
                }
                out
            };
            let packed = |vs: &[u64]| -> Vec<u8> {
                let mut payload = Vec::new();
                for &v in vs {
                    match wire_type {
                        1 => payload.extend_from_slice(&v.to_le_bytes()),
                        5 => payload.extend_from_slice(&(v as u32).to_le_bytes()),
                        _ => prost::encoding::encode_varint(v, &mut payload),
                    }
                }
                ld_field(n, &payload)
            };
            let wire = [one(1), packed(&[0, 2, 999, u64::MAX]), packed(&[]), one(3)].concat();
            if same_on_wire(message.full_name(), &wire) {
                checked += 1;
            }
            // An empty packed run alone: the field is empty, so not written.
            same_on_wire(message.full_name(), &packed(&[]));
        }
    }
    assert!(checked > 0, "no packable repeated field decoded");
}

#[test]
fn transcoder_refuses_bad_bytes_and_leaves_the_buffer() {
    let mut out = b"x".to_vec();
    for wire in [
        vec![0x0a, 0x05, b'a'],                  // truncated length-delimited
        vec![0x0c],                              // an end-group with no group
        varint_field(2, u64::MAX)[..2].to_vec(), // truncated varint
        ld_field(1, &[0xff, 0xfe]),              // TaskID is a message: these bytes are not one
        [ld_field(1, &ld_field(1, b"t")), ld_field(4, b"\xff")].concat(), // message: not UTF-8
        varint_field(1, 1),                      // task_id with the wrong wire type
    ] {
        assert!(
            json::write_wire("mesos.v1.TaskStatus", &wire, &mut out).is_err(),
            "{wire:?}"
        );
        assert_eq!(out, b"x");
        assert!(!same_on_wire("mesos.v1.TaskStatus", &wire));
    }
    assert!(matches!(
        json::write_wire("no.such.Type", &[], &mut out),
        Err(json::TranscodeError::UnknownType(_))
    ));
}

#[test]
fn transcoder_falls_back_beyond_the_nesting_limit() {
    // Value.Set? No recursive Mesos message nests freely except through bytes; a deep chain of
    // unknown-field groups is the deepest thing the wire can hold: both paths refuse it.
    let mut wire = Vec::new();
    for _ in 0..200 {
        wire.extend(key(900, 3));
    }
    for _ in 0..200 {
        wire.extend(key(900, 4));
    }
    assert!(!same_on_wire("mesos.v1.TaskStatus", &wire));
}

/// Every message the golden fixtures hold, both ways.
#[test]
fn transcoder_matches_reflection_on_the_golden_fixtures() {
    let dir = format!("{}/tests/golden", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let body = std::fs::read(entry.unwrap().path()).unwrap();
        macro_rules! each {
            ($($t:ty),*) => {$(
                if let Ok(m) = json::from_slice::<$t>(&body) {
                    same_as_reflect(&m);
                    checked += 1;
                }
            )*};
        }
        each!(
            v1::scheduler::Call,
            v1::scheduler::Event,
            v1::executor::Call,
            v1::executor::Event,
            v1::master::Call,
            v1::master::Response,
            v1::master::Event,
            v1::agent::Call,
            v1::agent::Response,
            v1::FrameworkInfo,
            v1::TaskStatus,
            v1::TaskInfo,
            mesos::MasterInfo,
            mesos::FrameworkInfo,
            mesos::SlaveInfo
        );
    }
    assert!(checked > 10, "only {checked} fixtures parsed");
}

/// The fuzz corpora (fuzz/corpus/, issue 11): every input as wire bytes of the types its target
/// reads, and the JSON dialect's inputs parsed and written back.
#[test]
fn transcoder_matches_reflection_on_the_fuzz_corpora() {
    let root = format!("{}/../../fuzz/corpus", env!("CARGO_MANIFEST_DIR"));
    let targets: &[(&str, &[&str])] = &[
        (
            "scheduler_call",
            &["mesos.v1.scheduler.Call", "mesos.v1.scheduler.Event"],
        ),
        (
            "executor_call",
            &["mesos.v1.executor.Call", "mesos.v1.executor.Event"],
        ),
        (
            "operator_call",
            &["mesos.v1.master.Call", "mesos.v1.master.Response"],
        ),
        (
            "agent_call",
            &["mesos.v1.agent.Call", "mesos.v1.agent.Response"],
        ),
        (
            "agent_grpc",
            &[
                "remesos.internal.AgentMessage",
                "remesos.internal.MasterMessage",
            ],
        ),
        (
            "master_harness",
            &["mesos.v1.master.Response", "mesos.v1.TaskInfo"],
        ),
        ("resources", &["mesos.v1.Resource", "mesos.v1.Offer"]),
    ];
    let (mut files, mut decoded) = (0, 0);
    for (target, types) in targets {
        let Ok(dir) = std::fs::read_dir(format!("{root}/{target}")) else {
            panic!("no corpus at {root}/{target}");
        };
        for entry in dir {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            files += 1;
            for name in *types {
                // The whole input, and the input past a one-byte selector as some targets use.
                decoded += usize::from(same_on_wire(name, &data));
                if let Some((_, rest)) = data.split_first() {
                    decoded += usize::from(same_on_wire(name, rest));
                }
            }
        }
    }
    let mut parsed = 0;
    for entry in std::fs::read_dir(format!("{root}/json_dialect")).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        let Some((_, body)) = data.split_first() else {
            continue;
        };
        macro_rules! each {
            ($($t:ty),*) => {$(
                if let Ok(m) = json::from_slice::<$t>(body) {
                    same_as_reflect(&m);
                    parsed += 1;
                }
            )*};
        }
        each!(
            v1::scheduler::Call,
            v1::executor::Call,
            v1::master::Call,
            v1::agent::Call,
            v1::FrameworkInfo,
            v1::TaskInfo,
            v1::Resource,
            v1::MasterInfo
        );
    }
    eprintln!("corpora: {files} files, {decoded} wire decodes compared, {parsed} JSON parses");
    assert!(
        files > 1000 && decoded > 1000 && parsed > 100,
        "{files} {decoded} {parsed}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn transcoder_matches_reflection_on_messages(
        status in arb_task_status(),
        offer in arb_offer(),
        framework in arb_framework_info(),
    ) {
        same_as_reflect(&status);
        same_as_reflect(&offer);
        same_as_reflect(&framework);
    }

    /// Two encodings concatenated (a merge) with unknown fields between them.
    #[test]
    fn transcoder_matches_reflection_on_merged_encodings(
        a in arb_task_status(),
        b in arb_task_status(),
        c in arb_offer(),
        d in arb_offer(),
        number in 100u32..5000,
        junk in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let unknown = ld_field(number, &junk);
        let wire = [a.encode_to_vec(), unknown.clone(), b.encode_to_vec()].concat();
        prop_assert!(same_on_wire("mesos.v1.TaskStatus", &wire));
        let wire = [c.encode_to_vec(), unknown, d.encode_to_vec()].concat();
        prop_assert!(same_on_wire("mesos.v1.Offer", &wire));
    }

    #[test]
    fn transcoder_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        for name in ["mesos.v1.scheduler.Call", "mesos.v1.TaskStatus", "mesos.v1.FrameworkInfo",
                     "mesos.v1.master.Response", "mesos.v1.Resource"] {
            same_on_wire(name, &bytes);
        }
    }
}
