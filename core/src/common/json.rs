//! The JSON models of tasks and attributes that the master's `/master/state` and the
//! agent's `/state` both serve, in the shapes of Mesos's `src/common/http.cpp`
//! (`model(const Task&)`, `model(const Attributes&)`), which both daemons' readonly
//! handlers call: one model, so the two endpoints cannot drift apart.

use serde_json::{Map, Value, json};

use remesos_proto::json as mjson;
use remesos_proto::v1;

use crate::resources::Resources;

/// Attributes as Mesos's model shows them: text as strings, scalars as numbers, ranges and
/// sets in their text form.
pub fn attributes_json(attributes: &[v1::Attribute]) -> Value {
    let mut o = Map::new();
    for a in attributes {
        let v = if let Some(t) = &a.text {
            json!(t.value)
        } else if let Some(s) = &a.scalar {
            json!(s.value)
        } else if let Some(r) = &a.ranges {
            let parts: Vec<String> = r
                .range
                .iter()
                .map(|r| format!("{}-{}", r.begin, r.end))
                .collect();
            json!(format!("[{}]", parts.join(", ")))
        } else if let Some(s) = &a.set {
            json!(format!("{{{}}}", s.item.join(", ")))
        } else {
            Value::Null
        };
        o.insert(a.name.clone(), v);
    }
    Value::Object(o)
}

/// A task as `/master/state` and the agent's `/state` show it.
pub fn task_json(t: &v1::Task) -> Value {
    let resources = Resources::from_protos(t.resources.clone()).unwrap_or_default();
    let role = resources.allocation_roles().into_iter().next();
    let mut o = Map::new();
    o.insert("id".into(), json!(t.task_id.value));
    o.insert("name".into(), json!(t.name));
    o.insert("framework_id".into(), json!(t.framework_id.value));
    o.insert(
        "executor_id".into(),
        json!(
            t.executor_id
                .as_ref()
                .map(|e| e.value.clone())
                .unwrap_or_default()
        ),
    );
    o.insert("slave_id".into(), json!(t.agent_id.value));
    o.insert(
        "state".into(),
        json!(
            v1::TaskState::try_from(t.state)
                .map(|s| s.as_str_name())
                .unwrap_or("TASK_STAGING")
        ),
    );
    o.insert("resources".into(), Value::Object(resources.to_json_map()));
    if let Some(role) = role {
        o.insert("role".into(), json!(role));
    }
    let statuses: Vec<Value> = t
        .statuses
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert(
                "state".into(),
                json!(
                    v1::TaskState::try_from(s.state)
                        .map(|s| s.as_str_name())
                        .unwrap_or("TASK_STAGING")
                ),
            );
            m.insert("timestamp".into(), json!(s.timestamp.unwrap_or(0.0)));
            if let Some(h) = s.healthy {
                m.insert("healthy".into(), json!(h));
            }
            if let Some(c) = &s.container_status {
                m.insert("container_status".into(), mjson::to_value(c));
            }
            Value::Object(m)
        })
        .collect();
    o.insert("statuses".into(), Value::Array(statuses));
    if let Some(labels) = &t.labels {
        o.insert("labels".into(), mjson::to_value(labels)["labels"].clone());
    }
    if let Some(d) = &t.discovery {
        o.insert("discovery".into(), mjson::to_value(d));
    }
    if let Some(c) = &t.container {
        o.insert("container".into(), mjson::to_value(c));
    }
    if let Some(u) = &t.user {
        o.insert("user".into(), json!(u));
    }
    Value::Object(o)
}
