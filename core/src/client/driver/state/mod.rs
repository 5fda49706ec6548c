//! `org.apache.mesos.state` behind libmesos.so: Mesos's `State` (`src/state/state.hpp`) over
//! a [`Storage`] (`src/state/storage.hpp`): versioned variables, stored by compare-and-swap.
//!
//! ```text
//!  AbstractState natives (jni-driver/src/state.rs)
//!     | fetch / store / expunge / names: each spawns one operation on the drivers' runtime
//!     v                                  and hands Java a `Pending` (cancel, is_done, get)
//!  State            fetch(name) -> Variable (a new one with a random uuid when none is stored)
//!     |             store(v)    -> Some(new Variable) | None when the stored uuid moved on
//!     v
//!  Storage          get / set(entry, expected uuid) / expunge(entry) / names
//!     ├─ zookeeper.rs  ZooKeeperState: one znode per name holding the serialized Entry
//!     ├─ local.rs      LevelDBState: an embedded redb file under the given directory
//!     ├─ log.rs        LogState: SNAPSHOT/DIFF/EXPUNGE operations in the replicated log
//!     └─ memory.rs     tests (and any in-process user)
//! ```
//!
//! `LogState` plugs in as one more [`Storage`]: `log.rs`, the state as snapshots and diffs
//! in the replicated log of `crate::zk::log`.
//!
//! An [`Entry`] is `mesos.internal.state.Entry {required string name = 1; required bytes
//! uuid = 2; required bytes value = 3}` (`src/messages/state.proto`), serialized exactly as
//! Mesos's C++ code does (all three fields present, even when empty), so a znode written by
//! Apache's libmesos is read here and back.

pub mod local;
pub mod log;
pub mod memory;
pub mod zookeeper;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use prost::Message;
use uuid::Uuid;

/// The largest serialized [`Entry`] Mesos's ZooKeeper storage writes ("Serialized data is
/// too big (> 1 MB)", `src/state/zookeeper.cpp`).
pub const MAX_ZOOKEEPER_ENTRY_BYTES: usize = 1024 * 1024;

/// Errors of the state operations; the message is what Java's `ExecutionException` carries.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Stored bytes that are not a `mesos.internal.state.Entry` (Mesos's words).
    #[error("Failed to deserialize Entry")]
    Deserialize,
    #[error("Serialized data is too big (> 1 MB)")]
    TooBig,
    /// A ZooKeeper request failed (`Failed to get '<path>' in ZooKeeper: <reason>`).
    #[error("Failed to {action} '{path}' in ZooKeeper: {reason}")]
    ZooKeeper {
        action: &'static str,
        path: String,
        reason: String,
    },
    /// No ZooKeeper session could be had within the session timeout.
    #[error("ZooKeeper at {servers} is unavailable: {reason}")]
    Unavailable { servers: String, reason: String },
    /// The embedded store failed (open, read, write).
    #[error("local state storage at {path}: {reason}")]
    Local { path: String, reason: String },
    /// The replicated log under `LogState` failed, or holds what is not an Operation.
    #[error("replicated log: {0}")]
    Log(String),
    /// The operation's task ended without an answer (the runtime shut down).
    #[error("state operation abandoned")]
    Abandoned,
}

pub type Result<T> = std::result::Result<T, StateError>;

/// A stored entry: a name, the uuid of this version and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub uuid: Uuid,
    pub value: Vec<u8>,
}

/// The wire form of `mesos.internal.state.Entry`; `optional` here so that a missing
/// `required` field is seen (prost does not check proto2's `required`).
#[derive(Clone, PartialEq, prost::Message)]
struct EntryWire {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "2")]
    uuid: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "3")]
    value: Option<Vec<u8>>,
}

impl Entry {
    /// The protobuf bytes Mesos stores (every field present).
    pub fn encode(&self) -> Vec<u8> {
        self.to_wire().encode_to_vec()
    }

    fn to_wire(&self) -> EntryWire {
        EntryWire {
            name: Some(self.name.clone()),
            uuid: Some(self.uuid.as_bytes().to_vec()),
            value: Some(self.value.clone()),
        }
    }

    /// Parses stored bytes; anything but a complete Entry with a 16-byte uuid is refused.
    pub fn decode(bytes: &[u8]) -> Result<Entry> {
        Entry::from_wire(EntryWire::decode(bytes).map_err(|_| StateError::Deserialize)?)
    }

    fn from_wire(wire: EntryWire) -> Result<Entry> {
        match wire {
            EntryWire {
                name: Some(name),
                uuid: Some(uuid),
                value: Some(value),
            } => Ok(Entry {
                name,
                uuid: Uuid::from_slice(&uuid).map_err(|_| StateError::Deserialize)?,
                value,
            }),
            _ => Err(StateError::Deserialize),
        }
    }
}

/// A versioned value (Mesos's `state::Variable`): immutable; [`Variable::mutate`] makes a
/// copy with a new value and the same uuid, which [`State::store`] swaps in only if the
/// stored entry still has that uuid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    entry: Entry,
}

impl Variable {
    pub fn name(&self) -> &str {
        &self.entry.name
    }

    pub fn value(&self) -> &[u8] {
        &self.entry.value
    }

    /// The version this variable was fetched or stored as.
    pub fn uuid(&self) -> Uuid {
        self.entry.uuid
    }

    pub fn mutate(&self, value: Vec<u8>) -> Variable {
        Variable {
            entry: Entry {
                value,
                ..self.entry.clone()
            },
        }
    }
}

/// A future of a storage operation, borrowing the storage.
pub type StorageFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Mesos's `state::Storage`: where entries live. Operations on one storage may run
/// concurrently; each is atomic on its own.
pub trait Storage: Send + Sync {
    /// The entry stored under `name`, or `None`.
    fn get<'a>(&'a self, name: &'a str) -> StorageFuture<'a, Option<Entry>>;

    /// Stores `entry` under `entry.name` if the stored entry's uuid is `expected`, or if
    /// nothing is stored under that name (Mesos creates without comparing). `Ok(false)`
    /// when the stored uuid differs or a concurrent writer got there first.
    fn set<'a>(&'a self, entry: &'a Entry, expected: Uuid) -> StorageFuture<'a, bool>;

    /// Removes the entry named `entry.name` if its stored uuid is `entry.uuid`; `Ok(false)`
    /// when nothing is stored or the uuid differs.
    fn expunge<'a>(&'a self, entry: &'a Entry) -> StorageFuture<'a, bool>;

    /// The names of the stored entries, in the storage's order.
    fn names(&self) -> StorageFuture<'_, Vec<String>>;
}

/// Mesos's `state::State`: variables over a [`Storage`].
#[derive(Clone)]
pub struct State {
    storage: Arc<dyn Storage>,
}

impl State {
    pub fn new(storage: Arc<dyn Storage>) -> State {
        State { storage }
    }

    /// The stored variable, or a new one (random uuid, empty value) when none is stored.
    pub async fn fetch(&self, name: &str) -> Result<Variable> {
        let entry = match self.storage.get(name).await? {
            Some(entry) => entry,
            None => Entry {
                name: name.to_string(),
                uuid: Uuid::new_v4(),
                value: Vec::new(),
            },
        };
        Ok(Variable { entry })
    }

    /// Swaps in `variable`'s value under a new uuid if the stored uuid is still the
    /// variable's; `None` when it moved on (another writer stored or expunged it first).
    pub async fn store(&self, variable: &Variable) -> Result<Option<Variable>> {
        // Mesos swaps even when the value did not change: the uuid always moves on.
        let entry = Entry {
            name: variable.entry.name.clone(),
            uuid: Uuid::new_v4(),
            value: variable.entry.value.clone(),
        };
        let stored = self.storage.set(&entry, variable.entry.uuid).await?;
        Ok(stored.then_some(Variable { entry }))
    }

    /// Removes the variable if the stored uuid is still its own.
    pub async fn expunge(&self, variable: &Variable) -> Result<bool> {
        self.storage.expunge(&variable.entry).await
    }

    pub async fn names(&self) -> Result<Vec<String>> {
        self.storage.names().await
    }
}

/// What a finished [`Pending`] holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    Ready(T),
    Failed(String),
    /// Cancelled before it finished (Java's `CancellationException`).
    Discarded,
}

/// One state operation running on the drivers' runtime, waited on from Java threads (the
/// blocking `Future.get` of Apache's `AbstractState`). A `std::sync::Mutex` + `Condvar`:
/// waiters are JVM threads outside the runtime, and the lock is held only to read or fill
/// the slot.
pub struct Pending<T> {
    slot: Mutex<Option<Outcome<T>>>,
    done: Condvar,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl<T: Clone + Send + 'static> Pending<T> {
    /// Starts `operation` on the drivers' runtime.
    pub fn spawn(operation: impl Future<Output = Result<T>> + Send + 'static) -> Arc<Pending<T>> {
        let pending = Arc::new(Pending {
            slot: Mutex::new(None),
            done: Condvar::new(),
            task: Mutex::new(None),
        });
        let filler = pending.clone();
        let handle = super::runtime().spawn(async move {
            let outcome = match operation.await {
                Ok(value) => Outcome::Ready(value),
                Err(e) => Outcome::Failed(e.to_string()),
            };
            filler.finish(outcome);
        });
        *pending.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle.abort_handle());
        pending
    }

    fn finish(&self, outcome: Outcome<T>) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(outcome);
            self.done.notify_all();
        }
    }

    /// Discards the operation if it has not finished (Mesos's `Future::discard`); an
    /// operation already sent to the storage may still take effect there.
    pub fn cancel(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        self.finish(Outcome::Discarded);
    }

    pub fn is_done(&self) -> bool {
        self.slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Blocks until the operation finishes.
    pub fn wait(&self) -> Outcome<T> {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let slot = self
            .done
            .wait_while(slot, |s| s.is_none())
            .unwrap_or_else(|e| e.into_inner());
        slot.clone()
            .unwrap_or_else(|| Outcome::Failed(StateError::Abandoned.to_string()))
    }

    /// Blocks at most `timeout`; `None` when the operation is still running then.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Outcome<T>> {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let (slot, _) = self
            .done
            .wait_timeout_while(slot, timeout, |s| s.is_none())
            .unwrap_or_else(|e| e.into_inner());
        slot.clone()
    }
}

#[cfg(test)]
mod tests;
