//! The registry: the master's durable state (DESIGN.md §4) — admitted, unreachable and gone
//! agents, role weights and quota, and the maintenance schedule with each scheduled
//! machine's mode — recovered by every newly elected master.
//!
//! This module owns the records, the [`Operation`]s that change them, the [`Registry`]
//! image they build, and the [`RegistryStore`] seam the stores implement. It follows
//! Mesos's split: `src/master/registry.proto` and `src/master/registry_operations.cpp` (the
//! records and operations) over `include/mesos/state/storage.hpp` (the `Storage` interface,
//! with LevelDB, ZooKeeper and in-memory implementations that the daemon chooses). The
//! batching writer, Mesos's `src/master/registrar.cpp`, is `master::registrar`.
//!
//! ```text
//!  master::registrar (batching task)  --load / store(before, ops)-->  dyn RegistryStore
//!                                                                      |- file.rs   FileStore   (--work_dir)
//!                                                                      |- memory.rs MemoryStore (--registry=in_memory)
//!                                                                      '- zk.rs     ZkStore     (--zk)
//! ```
//!
//! Stores:
//! * [`FileStore`] (default with `--work_dir`): a snapshot plus an append-only log of
//!   checksummed records under `<work_dir>/registry` (format in [`file`]).
//! * [`ZkStore`] (with `--zk`): one znode per agent, one for roles, one for maintenance
//!   (layout in [`zk`]).
//! * [`MemoryStore`] (`--registry=in_memory`, or no `--work_dir`): nothing survives a
//!   restart.
//!
//! Nothing here imports the master: the master imports the registry (the dependency rule of
//! DESIGN.md §1).

pub mod file;
pub mod memory;
pub mod zk;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use remesos_proto::v1;

pub use file::FileStore;
pub use memory::MemoryStore;
pub use zk::ZkStore;

/// An agent's durable record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AgentRecord {
    #[prost(message, optional, tag = "1")]
    pub info: Option<v1::AgentInfo>,
    /// One of [`AgentRecord::ADMITTED`], [`AgentRecord::UNREACHABLE`], [`AgentRecord::GONE`].
    #[prost(uint32, tag = "2")]
    pub state: u32,
    /// Seconds since the epoch when it became unreachable or gone.
    #[prost(double, tag = "3")]
    pub since: f64,
    /// DRAIN_AGENT's state and config (Mesos's `Registry.Slave.drain_info`, kept for
    /// admitted and unreachable agents alike); absent when the agent is not draining.
    #[prost(message, optional, tag = "4")]
    pub drain_info: Option<v1::DrainInfo>,
    /// DEACTIVATE_AGENT (or DRAIN_AGENT) was asked and not undone by REACTIVATE_AGENT
    /// (Mesos's `Registry.Slave.deactivated`): the agent gets no offers.
    #[prost(bool, tag = "5")]
    pub deactivated: bool,
}

impl AgentRecord {
    pub const ADMITTED: u32 = 0;
    pub const UNREACHABLE: u32 = 1;
    pub const GONE: u32 = 2;
}

/// Operator-set role configuration.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Roles {
    #[prost(message, repeated, tag = "1")]
    pub weights: Vec<v1::WeightInfo>,
    #[prost(message, repeated, tag = "2")]
    pub quotas: Vec<v1::quota::QuotaConfig>,
}

/// The maintenance schedule and the mode of every machine in it (Mesos's `Registry.schedules`
/// and `Registry.machines`). Replaced as a whole by each maintenance operation; its encoding
/// is kept under [`MAX_MAINTENANCE_BYTES`] so that it fits one znode.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Maintenance {
    #[prost(message, optional, tag = "1")]
    pub schedule: Option<v1::maintenance::Schedule>,
    /// Machines in the schedule: DRAINING or DOWN (UP machines are not kept).
    #[prost(message, repeated, tag = "2")]
    pub machines: Vec<v1::MachineInfo>,
}

/// The largest encoded [`Maintenance`] the registry accepts: ZooKeeper refuses a znode over
/// about 1 MB (`jute.maxbuffer`), and the file store keeps the same limit so that a
/// schedule never works on one store and fails on the other. About 8,000 machines with
/// hostname and IP fit.
pub const MAX_MAINTENANCE_BYTES: usize = 512 * 1024;

/// One change to the registry (also the file store's log record).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub agent_id: String,
    /// With `agent_id`: the agent's new record; absent: the agent is removed.
    #[prost(message, optional, tag = "2")]
    pub agent: Option<AgentRecord>,
    /// Replaces the role configuration.
    #[prost(message, optional, tag = "3")]
    pub roles: Option<Roles>,
    /// Replaces the maintenance schedule and machine modes.
    #[prost(message, optional, tag = "4")]
    pub maintenance: Option<Maintenance>,
}

impl Operation {
    pub fn agent(agent_id: &str, info: &v1::AgentInfo, state: u32, since: f64) -> Operation {
        Operation {
            agent_id: agent_id.to_string(),
            agent: Some(AgentRecord {
                info: Some(info.clone()),
                state,
                since,
                drain_info: None,
                deactivated: false,
            }),
            ..Default::default()
        }
    }

    /// Removes an agent from the registry (registry GC, an agent removed on a DOWN machine).
    pub fn remove_agent(agent_id: &str) -> Operation {
        Operation {
            agent_id: agent_id.to_string(),
            ..Default::default()
        }
    }

    pub fn roles(roles: Roles) -> Operation {
        Operation {
            roles: Some(roles),
            ..Default::default()
        }
    }

    pub fn maintenance(maintenance: Maintenance) -> Operation {
        Operation {
            maintenance: Some(maintenance),
            ..Default::default()
        }
    }
}

/// The registry's image: what a new leader recovers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Registry {
    pub agents: BTreeMap<String, AgentRecord>,
    pub roles: Roles,
    pub maintenance: Maintenance,
}

impl Registry {
    /// Applies one operation. Operations are upserts, removals and replacements, so
    /// applying one twice leaves the image as applying it once (stores rely on that when
    /// they replay or retry).
    pub fn apply(&mut self, op: &Operation) {
        if !op.agent_id.is_empty() {
            match &op.agent {
                Some(record) => {
                    self.agents.insert(op.agent_id.clone(), record.clone());
                }
                None => {
                    self.agents.remove(&op.agent_id);
                }
            }
        }
        if let Some(roles) = &op.roles {
            self.roles = roles.clone();
        }
        if let Some(maintenance) = &op.maintenance {
            self.maintenance = maintenance.clone();
        }
    }
}

/// Why the registry could not be read or written. `Clone`: one failed batch answers every
/// operation in it. The texts are what operators see (`Failed to update the registry: ...`
/// in a 503 body, the master's exit message when recovery fails).
#[derive(Clone, Debug, thiserror::Error)]
pub enum RegistryError {
    /// A file store write, sync or rename failed.
    #[error("{0}")]
    Io(Arc<std::io::Error>),
    /// A file store path could not be created, opened or read.
    #[error("failed to {action} {}: {source}", path.display())]
    Access {
        action: &'static str,
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    /// The file store's snapshot is not one whole, checksummed record.
    #[error("{} is corrupt", path.display())]
    TornSnapshot { path: PathBuf },
    /// A record the file store read back does not decode.
    #[error("{} is corrupt: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        source: prost::DecodeError,
    },
    /// A znode the ZooKeeper store read back does not decode.
    #[error("registry: {path} is corrupt: {source}")]
    CorruptZnode {
        path: String,
        source: prost::DecodeError,
    },
    /// The maintenance record does not fit one znode (the master refuses such schedules
    /// before they get here).
    #[error(
        "registry: the maintenance schedule takes {size} bytes; a znode holds at most {MAX_MAINTENANCE_BYTES}"
    )]
    TooLarge { size: usize },
    /// A record too large for a file store frame (2 GiB).
    #[error("a registry record of {size} bytes does not fit a frame")]
    RecordTooLarge { size: usize },
    /// ZooKeeper refused or the session failed.
    #[error("zookeeper: {0}")]
    Zk(#[from] zookeeper_client::Error),
    /// `store` before `load`.
    #[error("the registry was not loaded")]
    NotLoaded,
    /// The registrar task is gone (the master is shutting down).
    #[error("the registrar has stopped")]
    Stopped,
}

impl From<std::io::Error> for RegistryError {
    fn from(e: std::io::Error) -> Self {
        RegistryError::Io(Arc::new(e))
    }
}

impl RegistryError {
    fn access(action: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| RegistryError::Access {
            action,
            path,
            source: Arc::new(source),
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// What [`RegistryStore`]'s methods return: a boxed future, so that the daemon can choose
/// the store at run time (`Box<dyn RegistryStore>`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Where the registry lives (Mesos's `Storage`). Implemented by [`FileStore`],
/// [`MemoryStore`] and [`ZkStore`]; the registrar is its only caller, one call at a time.
///
/// Async because the ZooKeeper store is: its client is async, and blocking the master's
/// runtime on a ZooKeeper round trip (or moving every write to a blocking thread) costs more
/// than a boxed future per batch. The file store does its (short, `fsync`ed) I/O inside the
/// call and returns a ready future.
pub trait RegistryStore: Send {
    /// How the store is named in logs and errors: `file <dir>`, `zookeeper <path>`,
    /// `in memory`.
    fn describe(&self) -> String;

    /// Reads the registry. Called once, before the first [`RegistryStore::store`].
    fn load(&mut self) -> StoreFuture<'_, Registry>;

    /// Makes `ops` durable: applied in order over `before`, the image the previous load or
    /// store left. The registrar retries a failed call with the same arguments, so a store
    /// must tolerate a retry of a batch it wrote in part.
    fn store<'a>(&'a mut self, before: &'a Registry, ops: &'a [Operation]) -> StoreFuture<'a, ()>;
}

/// 64-bit FNV-1a: the ZooKeeper store's bucket of an agent (part of its znode layout) and
/// the checksum of the file store's first frame format (still read).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An AgentInfo with only a hostname, for the stores' and the registrar's tests.
#[cfg(test)]
pub(crate) fn test_agent_info(hostname: &str) -> v1::AgentInfo {
    v1::AgentInfo {
        hostname: hostname.to_string(),
        ..Default::default()
    }
}
