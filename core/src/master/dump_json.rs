//! The v0 JSON dumps, `/master/state` (and `/master/state.json`) and `/master/tasks`, taken
//! on the actor and written off it (issue 19: at 1,000,000 tasks building `/master/state`'s
//! `serde_json::Value` tree on the actor held it for 12-24 s and grew the master by ~3 GB).
//!
//! The actor takes a snapshot: the small parts (the header, the agents, each framework's
//! fields, offers and executors) as JSON values, the tasks as clones of their records (two
//! refcounts each, `task.rs`), already filtered for the viewer. The HTTP handler writes it on
//! a blocking thread through a [`Sink`], one task at a time (`task_json` of the decoded
//! record), so that at most a few chunks of the body are held whatever the number of tasks.
//! The bytes are those `serde_json` writes for the old `Value` tree: the task lists are
//! spliced into the objects at the places the tree had them (keys in the same order).

use serde_json::{Map, Value, json};

use remesos_proto::json as mjson;

use super::Master;
use super::dump::{Closed, Sink};
use super::framework::Framework;
use super::operator::TasksQuery;
use super::task::{TaskRecord, viewable};
use super::task_map::TaskList;
use crate::common::json::task_json;
use crate::resources::Resources;
use crate::security::authorizer::Viewer;

/// A v0 JSON dump taken on the actor and not yet written.
pub enum JsonDump {
    /// `/master/state`.
    State(StateJson),
    /// `/master/tasks`.
    Tasks(TasksJson),
}

impl std::fmt::Debug for JsonDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            JsonDump::State(_) => "/master/state",
            JsonDump::Tasks(_) => "/master/tasks",
        };
        f.debug_tuple("JsonDump").field(&kind).finish()
    }
}

impl JsonDump {
    /// Writes the dump's JSON to `out`.
    ///
    /// # Errors
    ///
    /// [`Closed`] when `out`'s reader went away.
    pub fn write(&self, out: &mut impl Sink) -> Result<(), Closed> {
        match self {
            JsonDump::State(state) => state.write(out),
            JsonDump::Tasks(tasks) => tasks.write(out),
        }
    }

    /// The dump as one `Value` (for callers inside the process; the HTTP handler writes it).
    pub fn into_value(self) -> Value {
        match self {
            JsonDump::State(state) => state.into_value(),
            JsonDump::Tasks(tasks) => tasks.into_value(),
        }
    }
}

/// Appends `v`'s compact JSON (what `Value::to_string` gives).
fn put(buf: &mut Vec<u8>, v: &Value) {
    // Writing a `Value` into a `Vec` cannot fail: its map keys are strings.
    let _ = serde_json::to_writer(buf, v);
}

/// Writes `object`'s members in order; a member whose value is null and for which `splice`
/// writes something (a task list, a framework list) is written by `splice` instead. Arrays
/// are written one element at a time (the agents of a large cluster).
fn write_object<S: Sink>(
    object: &Map<String, Value>,
    out: &mut S,
    mut splice: impl FnMut(&str, &mut S) -> Option<Result<(), Closed>>,
) -> Result<(), Closed> {
    out.buf().push(b'{');
    for (i, (key, value)) in object.iter().enumerate() {
        let buf = out.buf();
        if i > 0 {
            buf.push(b',');
        }
        put(buf, &Value::String(key.clone()));
        buf.push(b':');
        if value.is_null()
            && let Some(done) = splice(key, out)
        {
            done?;
            continue;
        }
        match value {
            Value::Array(items) => {
                out.buf().push(b'[');
                for (i, item) in items.iter().enumerate() {
                    let buf = out.buf();
                    if i > 0 {
                        buf.push(b',');
                    }
                    put(buf, item);
                    out.boundary()?;
                }
                out.buf().push(b']');
            }
            other => put(out.buf(), other),
        }
        out.boundary()?;
    }
    out.buf().push(b'}');
    Ok(())
}

/// Writes `[item, ...]` with `each` writing one item.
fn write_array<S: Sink, T>(
    items: &[T],
    out: &mut S,
    each: impl FnMut(&T, &mut S) -> Result<(), Closed>,
) -> Result<(), Closed> {
    write_list(items.iter(), out, each)
}

/// Writes `[item, ...]` of `items` with `each` writing one item.
fn write_list<'a, S: Sink, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    out: &mut S,
    mut each: impl FnMut(&T, &mut S) -> Result<(), Closed>,
) -> Result<(), Closed> {
    out.buf().push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.buf().push(b',');
        }
        each(item, out)?;
        out.boundary()?;
    }
    out.buf().push(b']');
    Ok(())
}

fn write_task(t: &TaskRecord, out: &mut impl Sink) -> Result<(), Closed> {
    put(out.buf(), &task_json(&t.task()));
    Ok(())
}

fn tasks_value(tasks: &TaskList) -> Value {
    Value::Array(tasks.iter().map(|t| task_json(&t.task())).collect())
}

/// The members of a framework's JSON that hold its tasks, in the order `/master/state` shows
/// them; the snapshot's object has null in their places.
const TASK_LISTS: [&str; 3] = ["tasks", "unreachable_tasks", "completed_tasks"];

/// A framework as `/master/state` shows it: its members with the task lists left null, and
/// the task records those lists hold (already filtered for the viewer; completed newest
/// first).
pub struct FrameworkJson {
    object: Map<String, Value>,
    lists: [TaskList; 3],
}

impl FrameworkJson {
    fn list(&self, key: &str) -> Option<&TaskList> {
        let at = TASK_LISTS.iter().position(|k| *k == key)?;
        Some(&self.lists[at])
    }

    fn write(&self, out: &mut impl Sink) -> Result<(), Closed> {
        write_object(&self.object, out, |key, out| {
            let list = self.list(key)?;
            Some(write_list(list.iter(), out, |t, out| write_task(t, out)))
        })
    }

    /// The framework's JSON as one `Value`.
    pub fn into_value(self) -> Value {
        let FrameworkJson { mut object, lists } = self;
        for (key, list) in TASK_LISTS.iter().zip(lists) {
            object.insert((*key).to_string(), tasks_value(&list));
        }
        Value::Object(object)
    }
}

/// `/master/state` as a viewer may see it: its members with `frameworks` and
/// `completed_frameworks` left null, and those frameworks.
pub struct StateJson {
    object: Map<String, Value>,
    frameworks: Vec<FrameworkJson>,
    completed: Vec<FrameworkJson>,
}

impl StateJson {
    fn list(&self, key: &str) -> Option<&[FrameworkJson]> {
        match key {
            "frameworks" => Some(&self.frameworks),
            "completed_frameworks" => Some(&self.completed),
            _ => None,
        }
    }

    fn write(&self, out: &mut impl Sink) -> Result<(), Closed> {
        write_object(&self.object, out, |key, out| {
            let list = self.list(key)?;
            Some(write_array(list, out, |f, out| f.write(out)))
        })?;
        out.boundary()
    }

    /// The whole document as one `Value`.
    pub fn into_value(self) -> Value {
        let StateJson {
            mut object,
            frameworks,
            completed,
        } = self;
        let all = |list: Vec<FrameworkJson>| {
            Value::Array(list.into_iter().map(FrameworkJson::into_value).collect())
        };
        object.insert("frameworks".into(), all(frameworks));
        object.insert("completed_frameworks".into(), all(completed));
        Value::Object(object)
    }
}

/// `/master/tasks`: the tasks a viewer may see and the query; filtered, ordered and paged
/// off the actor.
pub struct TasksJson {
    tasks: TaskList,
    query: TasksQuery,
}

impl TasksJson {
    /// The page the query selects (Mesos orders by the task's latest status timestamp).
    fn page(&self) -> Vec<&TaskRecord> {
        let q = &self.query;
        let mut tasks: Vec<(f64, String, &TaskRecord)> = self
            .tasks
            .iter()
            .filter(|t| {
                q.framework_id
                    .as_deref()
                    .is_none_or(|f| f == t.framework_id().value)
            })
            .map(|t| {
                let ts = t.last_status().and_then(|s| s.timestamp).unwrap_or(0.0);
                (ts, t.task_id().value, t)
            })
            .filter(|(_, id, _)| q.task_id.as_deref().is_none_or(|want| want == id))
            .collect();
        tasks.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        if !q.ascending {
            tasks.reverse();
        }
        tasks
            .into_iter()
            .skip(q.offset)
            .take(q.limit)
            .map(|(_, _, t)| t)
            .collect()
    }

    fn write(&self, out: &mut impl Sink) -> Result<(), Closed> {
        out.buf().extend_from_slice(b"{\"tasks\":");
        write_array(&self.page(), out, |t, out| write_task(t, out))?;
        out.buf().push(b'}');
        out.boundary()
    }

    /// The page as one `Value`.
    pub fn into_value(self) -> Value {
        let page: Vec<Value> = self
            .page()
            .into_iter()
            .map(|t| task_json(&t.task()))
            .collect();
        json!({ "tasks": page })
    }
}

impl Master {
    /// `/master/state` as `v` may see it, taken but not written.
    pub fn state_json_dump_for(&self, v: Viewer<'_>) -> StateJson {
        let mut o = self.summary_header();
        o.insert("git_sha".into(), json!(env!("CARGO_PKG_VERSION")));
        o.insert("build_date".into(), json!(""));
        o.insert("build_time".into(), json!(0.0));
        o.insert("build_user".into(), json!("remesos"));
        o.insert("start_time".into(), json!(self.start_time));
        o.insert("elected_time".into(), json!(self.elected_time));
        o.insert("id".into(), json!(self.info.id));
        o.insert("pid".into(), json!(self.pid()));
        o.insert(
            "capabilities".into(),
            json!(["AGENT_UPDATE", "AGENT_DRAINING"]),
        );
        let active = self.agents.values().filter(|a| a.active).count();
        o.insert("activated_slaves".into(), json!(active));
        o.insert(
            "deactivated_slaves".into(),
            json!(self.agents.len() - active),
        );
        o.insert(
            "unreachable_slaves".into(),
            json!(self.unreachable_agents.len()),
        );
        o.insert("leader".into(), json!(self.pid()));
        o.insert("leader_info".into(), mjson::to_value(&self.info));
        if v.flags() {
            o.insert("flags".into(), self.flags_json());
        }
        o.insert(
            "slaves".into(),
            Value::Array(self.sorted_agents().map(|a| self.agent_json(a)).collect()),
        );
        o.insert("recovered_slaves".into(), json!([]));
        o.insert("frameworks".into(), Value::Null);
        o.insert("completed_frameworks".into(), Value::Null);
        o.insert("orphan_tasks".into(), json!([]));
        o.insert("unregistered_frameworks".into(), json!([]));
        StateJson {
            object: o,
            frameworks: self
                .sorted_frameworks()
                .filter(|f| v.framework(&f.info))
                .map(|f| self.framework_json_dump_for(f, v))
                .collect(),
            completed: self
                .completed_frameworks
                .iter()
                .filter(|f| v.framework(&f.info))
                .map(|f| self.framework_json_dump_for(f, v))
                .collect(),
        }
    }

    /// A framework's JSON with the tasks and executors `v` may see, taken but not written.
    pub fn framework_json_dump_for(&self, f: &Framework, v: Viewer<'_>) -> FrameworkJson {
        let seen = |t: &&TaskRecord| viewable(&v, t, &f.info);
        let mut o = self.framework_json_head(f);
        for key in TASK_LISTS {
            o.insert(key.into(), Value::Null);
        }
        let mut lists: [TaskList; 3] = Default::default();
        if v.sees_everything() {
            // Shared with the books copy-on-write (`task_map.rs`): no record is copied.
            lists[0].push_map(&f.tasks);
            lists[1].push_map(&f.unreachable_tasks);
            lists[2].push_completed(&f.completed_tasks, true);
        } else {
            lists[0].extend(f.tasks.values().filter(seen));
            lists[1].extend(f.unreachable_tasks.values().filter(seen));
            lists[2].extend(f.completed_tasks.iter().rev().filter(seen));
        }
        o.insert(
            "offers".into(),
            Value::Array(
                f.offers
                    .iter()
                    .filter_map(|id| self.offers.get(id))
                    .map(|o| super::state::offer_json(&o.offer, &o.resources))
                    .collect(),
            ),
        );
        let mut executors = Vec::new();
        for (agent_id, on_agent) in &f.executors {
            for e in on_agent.values().filter(|e| v.executor(e, &f.info)) {
                let mut v = mjson::to_value(e);
                if let Value::Object(m) = &mut v {
                    m.insert("slave_id".into(), json!(agent_id.as_str()));
                    let r = Resources::from_protos(e.resources.clone()).unwrap_or_default();
                    m.insert("resources".into(), Value::Object(r.to_json_map()));
                }
                executors.push(v);
            }
        }
        o.insert("executors".into(), Value::Array(executors));
        FrameworkJson { object: o, lists }
    }

    /// `/master/tasks` as `v` may see it: every task `v` may see (GET_TASKS's lists, shared
    /// copy-on-write when nothing is filtered), with the query to apply off the actor.
    pub fn tasks_json_dump_for(&self, query: TasksQuery, v: Viewer<'_>) -> TasksJson {
        let lists = self.tasks_ref_for(v);
        let mut tasks = lists.tasks;
        tasks.append(lists.unreachable);
        tasks.append(lists.completed);
        TasksJson { tasks, query }
    }
}
