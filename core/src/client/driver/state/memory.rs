//! A [`Storage`] in this process's memory (Mesos's `InMemoryStorage`): for tests and for
//! in-process users; nothing survives the process.

use std::collections::BTreeMap;
use std::sync::Mutex;

use uuid::Uuid;

use super::{Entry, Storage, StorageFuture};

/// Entries by name. A short `std::sync::Mutex`: every operation is one map access and
/// never held across an await.
#[derive(Default)]
pub struct MemoryStorage {
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Entry>) -> T) -> T {
        f(&mut self.entries.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Storage for MemoryStorage {
    fn get<'a>(&'a self, name: &'a str) -> StorageFuture<'a, Option<Entry>> {
        let entry = self.with(|entries| entries.get(name).cloned());
        Box::pin(async move { Ok(entry) })
    }

    fn set<'a>(&'a self, entry: &'a Entry, expected: Uuid) -> StorageFuture<'a, bool> {
        let stored = self.with(|entries| match entries.get(&entry.name) {
            Some(current) if current.uuid != expected => false,
            _ => {
                entries.insert(entry.name.clone(), entry.clone());
                true
            }
        });
        Box::pin(async move { Ok(stored) })
    }

    fn expunge<'a>(&'a self, entry: &'a Entry) -> StorageFuture<'a, bool> {
        let removed = self.with(|entries| match entries.get(&entry.name) {
            Some(current) if current.uuid == entry.uuid => {
                entries.remove(&entry.name);
                true
            }
            _ => false,
        });
        Box::pin(async move { Ok(removed) })
    }

    fn names(&self) -> StorageFuture<'_, Vec<String>> {
        let names = self.with(|entries| entries.keys().cloned().collect());
        Box::pin(async move { Ok(names) })
    }
}
