//! The registrar: the master's durable state (DESIGN.md §4) — admitted, unreachable and gone
//! agents, role weights and quota, and the maintenance schedule with each scheduled
//! machine's mode — recovered by every newly elected master.
//!
//! ```text
//!  Master (sync)  --Effect::Registry(op)-->  runtime  -->  registrar task
//!                                                          batches queued ops, applies them
//!                                                          to its image, writes them to the
//!                                                          store, then answers the waiters
//! ```
//!
//! Stores:
//! * `File` (default with `--work_dir`): `<work_dir>/registry/snapshot` plus an append-only
//!   `log` of length-prefixed, checksummed protobuf records. Each batch is appended and
//!   `fsync`ed before it is acknowledged; when the log outgrows the snapshot, the image is
//!   written to `snapshot.tmp`, `fsync`ed and renamed over `snapshot`, then the log is
//!   truncated. Recovery reads the snapshot and replays the log up to the first torn or
//!   corrupt record. Operations are idempotent (upserts, removals, replacements), so a crash
//!   between the rename and the truncation replays harmlessly.
//! * `Zk` (with `--zk`): one znode per agent, one for roles, one for maintenance, see
//!   [`crate::zk::store`].
//! * `Memory` (`--registry=in_memory`, or no `--work_dir`): nothing survives a restart.
//!
//! Acknowledgement: operator writes (weights, quota, maintenance, MARK_AGENT_GONE) are
//! answered after their operation is durable. Agent admissions are not held back: an admission lost in a crash only means
//! the agent reregisters as unknown, which the master accepts (Mesos ≥ 1.5 does the same).

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use prost::Message;
use tokio::sync::{mpsc, oneshot};

use remesos_proto::v1;

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

/// The file store's snapshot.
#[derive(Clone, PartialEq, prost::Message)]
struct Snapshot {
    #[prost(message, repeated, tag = "1")]
    agents: Vec<Operation>,
    #[prost(message, optional, tag = "2")]
    roles: Option<Roles>,
    #[prost(message, optional, tag = "3")]
    maintenance: Option<Maintenance>,
}

impl Registry {
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

/// Where the registry lives.
pub enum Store {
    Memory,
    File(FileStore),
    Zk(Box<crate::zk::store::ZkStore>),
}

impl Store {
    pub fn describe(&self) -> String {
        match self {
            Store::Memory => "in memory".to_string(),
            Store::File(f) => format!("file {}", f.dir.display()),
            Store::Zk(z) => format!("zookeeper {}", z.base()),
        }
    }

    pub async fn load(&mut self) -> Result<Registry, String> {
        match self {
            Store::Memory => Ok(Registry::default()),
            Store::File(f) => f.load(),
            Store::Zk(z) => z.load().await.map_err(|e| e.to_string()),
        }
    }

    /// Makes `ops` durable; `before` is the image before them.
    async fn store(&mut self, before: &Registry, ops: &[Operation]) -> Result<(), String> {
        match self {
            Store::Memory => Ok(()),
            Store::File(f) => f.append(before, ops),
            Store::Zk(z) => z.store(before, ops).await.map_err(|e| e.to_string()),
        }
    }
}

/// A waiter for an operation to become durable.
pub type Ack = oneshot::Sender<Result<(), String>>;

/// A handle to the registrar task.
#[derive(Clone)]
pub struct RegistrarHandle {
    tx: mpsc::UnboundedSender<(Operation, Option<Ack>)>,
}

impl RegistrarHandle {
    pub fn submit(&self, op: Operation, ack: Option<Ack>) {
        if let Err(mpsc::error::SendError((_, Some(ack)))) = self.tx.send((op, ack)) {
            let _ = ack.send(Err("the registrar has stopped".to_string()));
        }
    }
}

/// Starts the registrar over `store`, whose contents were loaded as `image`. A write is
/// retried for up to `store_timeout` (`--registry_store_timeout`) before it fails.
pub fn spawn(
    mut store: Store,
    mut image: Registry,
    store_timeout: std::time::Duration,
) -> RegistrarHandle {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Operation, Option<Ack>)>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < 4096 {
                match rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            let (ops, acks): (Vec<Operation>, Vec<Option<Ack>>) = batch.into_iter().unzip();
            // Retry through short outages (a ZooKeeper restart) for up to Mesos's
            // --registry_store_timeout; every store's writes are idempotent.
            let deadline = tokio::time::Instant::now() + store_timeout;
            let result = loop {
                match store.store(&image, &ops).await {
                    Ok(()) => break Ok(()),
                    Err(e) if tokio::time::Instant::now() < deadline => {
                        tracing::warn!(error = %e, "registry write failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    }
                    Err(e) => break Err(e),
                }
            };
            match &result {
                Ok(()) => {
                    for op in &ops {
                        image.apply(op);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, operations = ops.len(), "registry write failed")
                }
            }
            for ack in acks.into_iter().flatten() {
                let _ = ack.send(result.clone());
            }
        }
    });
    RegistrarHandle { tx }
}

/// The embedded, crash-safe store under `<work_dir>/registry`.
pub struct FileStore {
    dir: PathBuf,
    log: Option<std::fs::File>,
    log_bytes: u64,
    snapshot_bytes: u64,
}

/// The log is compacted into the snapshot when it grows past this and past the snapshot.
const MIN_COMPACTION_BYTES: u64 = 4 * 1024 * 1024;

impl FileStore {
    pub fn open(work_dir: &Path) -> Result<FileStore, String> {
        let dir = work_dir.join("registry");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
        Ok(FileStore {
            dir,
            log: None,
            log_bytes: 0,
            snapshot_bytes: 0,
        })
    }

    fn load(&mut self) -> Result<Registry, String> {
        let mut image = Registry::default();
        let snapshot_path = self.dir.join("snapshot");
        match std::fs::read(&snapshot_path) {
            Ok(bytes) => {
                let body = unframe(&bytes)
                    .ok_or_else(|| format!("{} is corrupt", snapshot_path.display()))?;
                let snapshot = Snapshot::decode(body)
                    .map_err(|e| format!("{} is corrupt: {e}", snapshot_path.display()))?;
                for op in &snapshot.agents {
                    image.apply(op);
                }
                if let Some(roles) = snapshot.roles {
                    image.roles = roles;
                }
                if let Some(maintenance) = snapshot.maintenance {
                    image.maintenance = maintenance;
                }
                self.snapshot_bytes = bytes.len() as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("failed to read {}: {e}", snapshot_path.display())),
        }
        let log_path = self.dir.join("log");
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&log_path)
            .map_err(|e| format!("failed to open {}: {e}", log_path.display()))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes)
            .map_err(|e| format!("failed to read {}: {e}", log_path.display()))?;
        let mut offset = 0usize;
        let mut replayed = 0usize;
        while let Some((body, next)) = next_record(&bytes, offset) {
            let Ok(op) = Operation::decode(body) else {
                break;
            };
            image.apply(&op);
            replayed += 1;
            offset = next;
        }
        if offset < bytes.len() {
            tracing::warn!(
                valid = offset,
                total = bytes.len(),
                "registry log ends with a torn record; truncating it"
            );
            log.set_len(offset as u64).map_err(|e| e.to_string())?;
            log.sync_all().map_err(|e| e.to_string())?;
        }
        log.seek(std::io::SeekFrom::End(0))
            .map_err(|e| e.to_string())?;
        self.log = Some(log);
        self.log_bytes = offset as u64;
        tracing::info!(agents = image.agents.len(), replayed, dir = %self.dir.display(), "recovered the registry");
        Ok(image)
    }

    fn append(&mut self, before: &Registry, ops: &[Operation]) -> Result<(), String> {
        let Some(log) = self.log.as_mut() else {
            return Err("the registry was not loaded".to_string());
        };
        let mut buf = Vec::new();
        for op in ops {
            frame_into(&op.encode_to_vec(), &mut buf);
        }
        log.write_all(&buf).map_err(|e| e.to_string())?;
        log.sync_data().map_err(|e| e.to_string())?;
        self.log_bytes += buf.len() as u64;
        if self.log_bytes > MIN_COMPACTION_BYTES.max(self.snapshot_bytes) {
            let mut image = before.clone();
            for op in ops {
                image.apply(op);
            }
            self.compact(&image)?;
        }
        Ok(())
    }

    fn compact(&mut self, image: &Registry) -> Result<(), String> {
        let snapshot = Snapshot {
            agents: image
                .agents
                .iter()
                .map(|(id, record)| Operation {
                    agent_id: id.clone(),
                    agent: Some(record.clone()),
                    ..Default::default()
                })
                .collect(),
            roles: Some(image.roles.clone()),
            maintenance: Some(image.maintenance.clone()),
        };
        let mut framed = Vec::new();
        frame_into(&snapshot.encode_to_vec(), &mut framed);
        let tmp = self.dir.join("snapshot.tmp");
        {
            let mut f = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
            f.write_all(&framed).map_err(|e| e.to_string())?;
            f.sync_all().map_err(|e| e.to_string())?;
        }
        std::fs::rename(&tmp, self.dir.join("snapshot")).map_err(|e| e.to_string())?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        if let Some(log) = self.log.as_mut() {
            log.set_len(0).map_err(|e| e.to_string())?;
            log.seek(std::io::SeekFrom::Start(0))
                .map_err(|e| e.to_string())?;
            log.sync_all().map_err(|e| e.to_string())?;
        }
        self.snapshot_bytes = framed.len() as u64;
        self.log_bytes = 0;
        Ok(())
    }
}

/// A record: u32 length, u64 FNV-1a checksum of the body (both little-endian), the body.
fn frame_into(body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&fnv1a(body).to_le_bytes());
    out.extend_from_slice(body);
}

fn next_record(bytes: &[u8], offset: usize) -> Option<(&[u8], usize)> {
    let header = bytes.get(offset..offset + 12)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let sum = u64::from_le_bytes(header[4..12].try_into().ok()?);
    let body = bytes.get(offset + 12..offset + 12 + len)?;
    (fnv1a(body) == sum).then_some((body, offset + 12 + len))
}

fn unframe(bytes: &[u8]) -> Option<&[u8]> {
    let (body, end) = next_record(bytes, 0)?;
    (end == bytes.len()).then_some(body)
}

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(host: &str) -> v1::AgentInfo {
        v1::AgentInfo {
            hostname: host.to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn file_store_survives_reopen_torn_tail_and_compaction() {
        let dir = std::env::temp_dir().join(format!("remesos-registry-{}", uuid::Uuid::new_v4()));
        let mut store = FileStore::open(&dir).unwrap();
        let mut image = store.load().unwrap();
        assert_eq!(image, Registry::default());
        let ops = vec![
            Operation::agent("a1", &info("h1"), AgentRecord::ADMITTED, 0.0),
            Operation::agent("a2", &info("h2"), AgentRecord::ADMITTED, 0.0),
            Operation::roles(Roles {
                weights: vec![v1::WeightInfo {
                    weight: 2.0,
                    role: Some("r".into()),
                }],
                quotas: vec![],
            }),
            Operation::agent("a2", &info("h2"), AgentRecord::UNREACHABLE, 7.0),
        ];
        store.append(&image, &ops).unwrap();
        for op in &ops {
            image.apply(op);
        }
        drop(store);
        // A torn record at the tail (a crash mid-append) is dropped on recovery.
        {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(dir.join("registry/log"))
                .unwrap();
            f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        }
        let mut store = FileStore::open(&dir).unwrap();
        let recovered = store.load().unwrap();
        assert_eq!(recovered, image);
        assert_eq!(recovered.agents["a2"].state, AgentRecord::UNREACHABLE);
        // Compaction keeps the same image.
        store.compact(&recovered).unwrap();
        let remove = Operation::remove_agent("a1");
        store
            .append(&recovered, std::slice::from_ref(&remove))
            .unwrap();
        let mut expected = recovered.clone();
        expected.apply(&remove);
        drop(store);
        let mut store = FileStore::open(&dir).unwrap();
        assert_eq!(store.load().unwrap(), expected);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn maintenance(hosts: &[&str], mode: v1::machine_info::Mode) -> Maintenance {
        let ids: Vec<v1::MachineId> = hosts
            .iter()
            .map(|h| v1::MachineId {
                hostname: Some(h.to_string()),
                ip: Some("10.0.0.1".into()),
            })
            .collect();
        Maintenance {
            schedule: Some(v1::maintenance::Schedule {
                windows: vec![v1::maintenance::Window {
                    machine_ids: ids.clone(),
                    unavailability: v1::Unavailability {
                        start: v1::TimeInfo { nanoseconds: 42 },
                        duration: None,
                    },
                }],
            }),
            machines: ids
                .into_iter()
                .map(|id| v1::MachineInfo {
                    id,
                    mode: Some(mode as i32),
                    unavailability: None,
                })
                .collect(),
        }
    }

    /// Maintenance and GC removals written through the registrar task survive a restart,
    /// from the log and from a compacted snapshot.
    #[tokio::test]
    async fn maintenance_and_pruned_agents_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("remesos-registry-{}", uuid::Uuid::new_v4()));
        let mut store = FileStore::open(&dir).unwrap();
        let image = store.load().unwrap();
        let registrar = spawn(Store::File(store), image, std::time::Duration::from_secs(1));
        let down = maintenance(&["h1", "h2"], v1::machine_info::Mode::Down);
        let ops = [
            Operation::agent("gone", &info("h1"), AgentRecord::GONE, 3.0),
            Operation::agent("old", &info("h2"), AgentRecord::UNREACHABLE, 1.0),
            Operation::maintenance(maintenance(&["h1"], v1::machine_info::Mode::Draining)),
            Operation::maintenance(down.clone()),
            Operation::remove_agent("old"),
        ];
        let mut acks = Vec::new();
        for op in ops {
            let (tx, rx) = oneshot::channel();
            registrar.submit(op, Some(tx));
            acks.push(rx);
        }
        for ack in acks {
            ack.await.unwrap().unwrap();
        }
        drop(registrar);

        let mut store = FileStore::open(&dir).unwrap();
        let recovered = store.load().unwrap();
        assert_eq!(recovered.maintenance, down);
        assert_eq!(
            recovered.agents.keys().collect::<Vec<_>>(),
            vec!["gone"],
            "the pruned agent stays pruned"
        );
        assert_eq!(recovered.agents["gone"].state, AgentRecord::GONE);
        store.compact(&recovered).unwrap();
        drop(store);
        let mut store = FileStore::open(&dir).unwrap();
        assert_eq!(store.load().unwrap(), recovered);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
