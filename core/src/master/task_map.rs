//! A framework's tasks in shards shared copy-on-write with the state dumps (issue 19).
//!
//! A state dump must show one point in time of the master's books, and at 1,000,000 tasks
//! cloning every record on the actor held it 0.36-0.87 s per dump (every allocation round
//! and message waited that long). A [`TaskMap`] keeps a framework's tasks in [`SHARDS`]
//! hash maps, each behind an [`Arc`]: a dump's snapshot ([`TaskMap::snapshot`]) clones the
//! shards' pointers (`SHARDS` refcounts per map, whatever the number of tasks), and the
//! first change to a shard while a snapshot holds it copies that shard alone
//! ([`Arc::make_mut`]: 1/`SHARDS` of the framework's records, each a few refcounts, see
//! `task.rs`). The snapshot is therefore exactly the state of the turn that took it, and a
//! change after it is not seen by it (nor counted twice).
//!
//! The shard of a task is a fixed hash of its id (`DefaultHasher::new()`'s keys are
//! constant), so a task stays in one shard; iteration goes shard by shard.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};
use std::sync::Arc;

use super::task::TaskRecord;
use crate::common::id::TaskId;

/// The number of shards of a framework's map (a change during a dump copies at most one).
pub const SHARDS: usize = 64;

type Shard = HashMap<TaskId, TaskRecord>;

/// A framework's tasks by id (see the module docs). Empty maps hold no shards.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskMap {
    /// Empty, or [`SHARDS`] shards; a task is in the shard of [`shard_of`] its id.
    shards: Vec<Arc<Shard>>,
    /// The number of tasks in all shards.
    len: usize,
}

fn shard_of<Q: Hash + ?Sized>(key: &Q) -> usize {
    (BuildHasherDefault::<DefaultHasher>::default().hash_one(key) % SHARDS as u64) as usize
}

impl TaskMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> Option<&Shard> {
        self.shards.get(shard_of(key)).map(|s| &**s)
    }

    /// The shard of `key` to change, copied first if a snapshot holds it.
    fn shard_mut<Q: Hash + ?Sized>(&mut self, key: &Q) -> Option<&mut Shard> {
        self.shards.get_mut(shard_of(key)).map(Arc::make_mut)
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&TaskRecord>
    where
        TaskId: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // An empty map (most frameworks' unreachable tasks) answers without hashing.
        if self.len == 0 {
            return None;
        }
        self.shard(key)?.get(key)
    }

    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&TaskId, &TaskRecord)>
    where
        TaskId: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key)?.get_key_value(key)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        TaskId: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// The task to change (its shard copied first if a snapshot holds it; a missing task
    /// copies nothing).
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut TaskRecord>
    where
        TaskId: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.contains_key(key) {
            return None;
        }
        self.shard_mut(key)?.get_mut(key)
    }

    /// Inserts `task` under `id`; returns the task it replaced.
    pub fn insert(&mut self, id: TaskId, task: TaskRecord) -> Option<TaskRecord> {
        if self.shards.is_empty() {
            self.shards = (0..SHARDS).map(|_| Arc::default()).collect();
        }
        let replaced = self.shard_mut(&id)?.insert(id, task);
        if replaced.is_none() {
            self.len += 1;
        }
        replaced
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<TaskRecord>
    where
        TaskId: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key).map(|(_, task)| task)
    }

    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(TaskId, TaskRecord)>
    where
        TaskId: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.contains_key(key) {
            return None;
        }
        let removed = self.shard_mut(key)?.remove_entry(key);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Keeps the tasks `keep` says to keep; copies only the shards it removes from. `keep`
    /// is asked twice about the tasks of such a shard, so it is an `Fn` (no side effects).
    pub fn retain(&mut self, keep: impl Fn(&TaskId, &TaskRecord) -> bool) {
        for shard in &mut self.shards {
            if shard.iter().all(|(id, t)| keep(id, t)) {
                continue;
            }
            let shard = Arc::make_mut(shard);
            let before = shard.len();
            shard.retain(|id, t| keep(id, t));
            self.len -= before - shard.len();
        }
    }

    pub fn clear(&mut self) {
        self.shards.clear();
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&TaskId, &TaskRecord)> {
        self.shards.iter().flat_map(|s| s.iter())
    }

    pub fn keys(&self) -> impl Iterator<Item = &TaskId> {
        self.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl Iterator<Item = &TaskRecord> {
        self.iter().map(|(_, t)| t)
    }

    /// The tasks as they are now, shared with the map until it changes (see the module
    /// docs): [`SHARDS`] refcounts.
    pub fn snapshot(&self) -> TaskMapSnapshot {
        TaskMapSnapshot(self.shards.clone())
    }
}

impl<Q> std::ops::Index<&Q> for TaskMap
where
    TaskId: Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
    type Output = TaskRecord;

    /// # Panics
    ///
    /// When `key` is not in the map (as `HashMap`'s index does).
    fn index(&self, key: &Q) -> &TaskRecord {
        self.get(key).expect("a task in the map")
    }
}

impl<'a> IntoIterator for &'a TaskMap {
    type Item = (&'a TaskId, &'a TaskRecord);
    type IntoIter = Box<dyn Iterator<Item = Self::Item> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl FromIterator<(TaskId, TaskRecord)> for TaskMap {
    fn from_iter<I: IntoIterator<Item = (TaskId, TaskRecord)>>(iter: I) -> Self {
        let mut map = TaskMap::new();
        for (id, task) in iter {
            map.insert(id, task);
        }
        map
    }
}

/// A [`TaskMap`] as it was when [`TaskMap::snapshot`] took it.
#[derive(Clone, Debug, Default)]
pub struct TaskMapSnapshot(Vec<Arc<Shard>>);

impl TaskMapSnapshot {
    /// The tasks, in the map's order at the time of the snapshot.
    pub fn values(&self) -> impl Iterator<Item = &TaskRecord> {
        self.0.iter().flat_map(|s| s.values())
    }
}

/// The tasks of a dump's list: parts shared with the master's books (taken in one actor
/// turn, so one point in time) or records copied for a viewer who may not see them all.
#[derive(Clone, Debug, Default)]
pub struct TaskList(Vec<Part>);

#[derive(Clone, Debug)]
enum Part {
    /// A framework's running or unreachable tasks.
    Map(TaskMapSnapshot),
    /// A framework's completed tasks, oldest first; `newest_first` reverses them.
    Completed {
        tasks: Arc<VecDeque<TaskRecord>>,
        newest_first: bool,
    },
    /// Records filtered for a viewer.
    Records(Vec<TaskRecord>),
}

impl TaskList {
    /// All of `map`'s tasks.
    pub fn push_map(&mut self, map: &TaskMap) {
        if !map.is_empty() {
            self.0.push(Part::Map(map.snapshot()));
        }
    }

    /// All of `completed`'s tasks (a framework's, oldest first), in that order or newest
    /// first.
    pub fn push_completed(&mut self, completed: &Arc<VecDeque<TaskRecord>>, newest_first: bool) {
        if !completed.is_empty() {
            self.0.push(Part::Completed {
                tasks: Arc::clone(completed),
                newest_first,
            });
        }
    }

    /// Copies of `tasks`.
    pub fn extend<'a>(&mut self, tasks: impl Iterator<Item = &'a TaskRecord>) {
        if let Some(Part::Records(last)) = self.0.last_mut() {
            last.extend(tasks.cloned());
            return;
        }
        let records: Vec<TaskRecord> = tasks.cloned().collect();
        if !records.is_empty() {
            self.0.push(Part::Records(records));
        }
    }

    /// Appends `other`'s parts.
    pub fn append(&mut self, other: TaskList) {
        self.0.extend(other.0);
    }

    /// The tasks in order.
    pub fn iter(&self) -> impl Iterator<Item = &TaskRecord> {
        self.0
            .iter()
            .flat_map(|part| -> Box<dyn Iterator<Item = &TaskRecord>> {
                match part {
                    Part::Map(map) => Box::new(map.values()),
                    Part::Completed {
                        tasks,
                        newest_first: false,
                    } => Box::new(tasks.iter()),
                    Part::Completed {
                        tasks,
                        newest_first: true,
                    } => Box::new(tasks.iter().rev()),
                    Part::Records(records) => Box::new(records.iter()),
                }
            })
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use remesos_proto::v1;

    fn task(id: &str, state: v1::TaskState) -> (TaskId, TaskRecord) {
        let record = TaskRecord::new(v1::Task {
            name: id.into(),
            task_id: v1::TaskId { value: id.into() },
            state: state as i32,
            ..Default::default()
        });
        (TaskId::new(id).expect("a valid task id"), record)
    }

    fn ids(list: impl Iterator<Item = TaskRecord>) -> Vec<String> {
        let mut ids: Vec<String> = list.map(|t| t.task_id().value).collect();
        ids.sort();
        ids
    }

    /// A snapshot is the map at the turn it was taken: later inserts, removals and
    /// changes are not in it, and the map sees them.
    #[test]
    fn a_snapshot_is_the_map_when_it_was_taken() {
        let mut map: TaskMap = (0..200)
            .map(|i| task(&format!("t{i:03}"), v1::TaskState::TaskRunning))
            .collect();
        let before = map.snapshot();
        map.remove("t000");
        let (id, t) = task("t200", v1::TaskState::TaskStaging);
        map.insert(id, t);
        map.get_mut("t001").expect("t001").state = v1::TaskState::TaskFailed as i32;

        let seen = ids(before.values().cloned());
        assert_eq!(seen.len(), 200);
        assert_eq!(seen.first().map(String::as_str), Some("t000"));
        assert!(!seen.contains(&"t200".to_string()));
        let t001 = before.values().find(|t| t.task_id().value == "t001");
        assert_eq!(
            t001.map(|t| t.state),
            Some(v1::TaskState::TaskRunning as i32)
        );

        assert_eq!(map.len(), 200);
        assert!(!map.contains_key("t000") && map.contains_key("t200"));
        assert_eq!(
            map.get("t001").map(|t| t.state),
            Some(v1::TaskState::TaskFailed as i32)
        );
        assert_eq!(ids(map.values().cloned()).len(), 200);
    }

    /// Taking a snapshot copies no record; a change copies one shard, not the map.
    #[test]
    fn a_change_during_a_snapshot_copies_one_shard() {
        let mut map: TaskMap = (0..(SHARDS * 10))
            .map(|i| task(&format!("t{i}"), v1::TaskState::TaskRunning))
            .collect();
        let snapshot = map.snapshot();
        let shared = |map: &TaskMap| {
            map.shards
                .iter()
                .zip(&snapshot.0)
                .filter(|(a, b)| Arc::ptr_eq(a, b))
                .count()
        };
        assert_eq!(shared(&map), SHARDS);
        map.get_mut("t7").expect("t7").state = v1::TaskState::TaskKilled as i32;
        assert_eq!(shared(&map), SHARDS - 1);
        // A task that is not there copies nothing.
        assert!(map.get_mut("nope").is_none() && map.remove("nope").is_none());
        assert_eq!(shared(&map), SHARDS - 1);
    }

    #[test]
    fn a_list_keeps_the_order_of_its_parts() {
        let completed: Arc<VecDeque<TaskRecord>> = Arc::new(
            ["c1", "c2"]
                .iter()
                .map(|id| task(id, v1::TaskState::TaskFinished).1)
                .collect(),
        );
        let mut list = TaskList::default();
        assert!(list.is_empty());
        list.push_completed(&completed, true);
        list.extend([task("r1", v1::TaskState::TaskRunning).1].iter());
        let order: Vec<String> = list.iter().map(|t| t.task_id().value).collect();
        assert_eq!(order, ["c2", "c1", "r1"]);
    }
}
