//! The embedded, crash-safe registry store under `<work_dir>/registry` (the default with
//! `--work_dir`; Mesos keeps its replicated log's LevelDB there, `src/state/leveldb.cpp`).
//!
//! ```text
//! <work_dir>/registry/snapshot   one frame: Snapshot (every agent, roles, maintenance)
//! <work_dir>/registry/log        frames, one per Operation, appended since the snapshot
//! ```
//!
//! Each batch is appended and `fsync`ed before it is acknowledged; when the log outgrows
//! the snapshot, the image is written to `snapshot.tmp`, `fsync`ed and renamed over
//! `snapshot`, then the log is truncated. Recovery reads the snapshot and replays the log
//! up to the first torn or corrupt frame, and cuts the log there. Operations are
//! idempotent (upserts, removals, replacements), so a crash between the rename and the
//! truncation replays harmlessly.
//!
//! # Frames
//!
//! A frame is a header and a protobuf body; integers are little-endian. Two headers exist,
//! told apart by the top bit of the first word, so one log may hold both:
//!
//! ```text
//! written (crc32c):  u32 len | 0x8000_0000   u32 CRC-32C(body)   body[len]     8-byte header
//! read only (fnv1a): u32 len (< 2^31)        u64 FNV-1a(body)    body[len]    12-byte header
//! ```
//!
//! The FNV-1a frames are what remesos wrote before it used CRC-32C (Castagnoli, as
//! LevelDB's log and ext4 do): a registry written then still loads, and what is appended
//! to it from now on is CRC-32C framed. A snapshot is rewritten in the new framing at the
//! next compaction.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use prost::Message;

use super::{
    Maintenance, Operation, Registry, RegistryError, RegistryStore, Result, Roles, StoreFuture,
    fnv1a,
};

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

/// The embedded, crash-safe store under `<work_dir>/registry`.
pub struct FileStore {
    dir: PathBuf,
    /// The log, open for appending once loaded.
    log: Option<std::fs::File>,
    /// Valid bytes in the log.
    log_bytes: u64,
    /// Bytes in the snapshot; the log is compacted when it grows past this.
    snapshot_bytes: u64,
}

/// The log is compacted into the snapshot when it grows past this and past the snapshot.
const MIN_COMPACTION_BYTES: u64 = 4 * 1024 * 1024;

impl FileStore {
    /// Creates `<work_dir>/registry` if needed; nothing is read until [`RegistryStore::load`].
    pub fn open(work_dir: &Path) -> Result<FileStore> {
        let dir = work_dir.join("registry");
        std::fs::create_dir_all(&dir).map_err(RegistryError::access("create", &dir))?;
        Ok(FileStore {
            dir,
            log: None,
            log_bytes: 0,
            snapshot_bytes: 0,
        })
    }

    fn load_now(&mut self) -> Result<Registry> {
        let mut image = Registry::default();
        let snapshot_path = self.dir.join("snapshot");
        match std::fs::read(&snapshot_path) {
            Ok(bytes) => {
                let body = unframe(&bytes).ok_or_else(|| RegistryError::TornSnapshot {
                    path: snapshot_path.clone(),
                })?;
                let snapshot = Snapshot::decode(body).map_err(|source| RegistryError::Corrupt {
                    path: snapshot_path.clone(),
                    source,
                })?;
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
            Err(e) => return Err(RegistryError::access("read", &snapshot_path)(e)),
        }
        let log_path = self.dir.join("log");
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&log_path)
            .map_err(RegistryError::access("open", &log_path))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes)
            .map_err(RegistryError::access("read", &log_path))?;
        let mut offset = 0usize;
        let mut replayed = 0usize;
        while let Some((body, next)) = next_frame(&bytes, offset) {
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
            log.set_len(offset as u64)?;
            log.sync_all()?;
        }
        log.seek(std::io::SeekFrom::End(0))?;
        self.log = Some(log);
        self.log_bytes = offset as u64;
        tracing::info!(agents = image.agents.len(), replayed, dir = %self.dir.display(), "recovered the registry");
        Ok(image)
    }

    fn append(&mut self, before: &Registry, ops: &[Operation]) -> Result<()> {
        let Some(log) = self.log.as_mut() else {
            return Err(RegistryError::NotLoaded);
        };
        let mut buf = Vec::new();
        for op in ops {
            frame_into(&op.encode_to_vec(), &mut buf)?;
        }
        log.write_all(&buf)?;
        log.sync_data()?;
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

    /// Writes `image` as the snapshot (write, fsync, rename) and empties the log.
    pub(crate) fn compact(&mut self, image: &Registry) -> Result<()> {
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
        frame_into(&snapshot.encode_to_vec(), &mut framed)?;
        let tmp = self.dir.join("snapshot.tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&framed)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join("snapshot"))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        if let Some(log) = self.log.as_mut() {
            log.set_len(0)?;
            log.seek(std::io::SeekFrom::Start(0))?;
            log.sync_all()?;
        }
        self.snapshot_bytes = framed.len() as u64;
        self.log_bytes = 0;
        Ok(())
    }
}

impl RegistryStore for FileStore {
    fn describe(&self) -> String {
        format!("file {}", self.dir.display())
    }

    fn load(&mut self) -> StoreFuture<'_, Registry> {
        Box::pin(std::future::ready(self.load_now()))
    }

    fn store<'a>(&'a mut self, before: &'a Registry, ops: &'a [Operation]) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(self.append(before, ops)))
    }
}

/// The top bit of a frame's first word: set, the frame is CRC-32C framed.
const CRC32C_FRAME: u32 = 0x8000_0000;

/// Appends `body` as one CRC-32C frame. Registry records are far below the 2 GiB a frame
/// holds (a maintenance record is capped at 512 KiB, an agent's at what its session admits).
fn frame_into(body: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let len = u32::try_from(body.len())
        .ok()
        .filter(|len| len & CRC32C_FRAME == 0)
        .ok_or(RegistryError::RecordTooLarge { size: body.len() })?;
    out.extend_from_slice(&(len | CRC32C_FRAME).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// The body of the frame at `offset` and the offset after it; `None` at the end, or where
/// the frame is torn or its checksum does not match.
fn next_frame(bytes: &[u8], offset: usize) -> Option<(&[u8], usize)> {
    let word = u32::from_le_bytes(bytes.get(offset..offset.checked_add(4)?)?.try_into().ok()?);
    if word & CRC32C_FRAME != 0 {
        let len = (word & !CRC32C_FRAME) as usize;
        let sum = u32::from_le_bytes(bytes.get(offset + 4..offset + 8)?.try_into().ok()?);
        let end = (offset + 8).checked_add(len)?;
        let body = bytes.get(offset + 8..end)?;
        (crc32c::crc32c(body) == sum).then_some((body, end))
    } else {
        let len = word as usize;
        let sum = u64::from_le_bytes(bytes.get(offset + 4..offset + 12)?.try_into().ok()?);
        let end = (offset + 12).checked_add(len)?;
        let body = bytes.get(offset + 12..end)?;
        (fnv1a(body) == sum).then_some((body, end))
    }
}

/// The body of `bytes` when it is exactly one valid frame.
fn unframe(bytes: &[u8]) -> Option<&[u8]> {
    let (body, end) = next_frame(bytes, 0)?;
    (end == bytes.len()).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::super::{AgentRecord, Roles, test_agent_info as info};
    use super::*;
    use remesos_proto::v1;

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("remesos-registry-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn file_store_survives_reopen_torn_tail_and_compaction() {
        let dir = scratch();
        let mut store = FileStore::open(&dir).unwrap();
        let mut image = store.load_now().unwrap();
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
        let recovered = store.load_now().unwrap();
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
        assert_eq!(store.load_now().unwrap(), expected);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A frame as remesos wrote them before CRC-32C: u32 length, u64 FNV-1a, body.
    fn fnv1a_frame(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&fnv1a(body).to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    /// Issue 13 item 6: a registry written with FNV-1a frames (a snapshot and a log) still
    /// loads; what is appended to it is CRC-32C framed, and the mixed log loads again,
    /// torn tail and all.
    #[test]
    fn a_registry_written_with_fnv1a_frames_loads_and_grows_with_crc32c_frames() {
        let dir = scratch();
        std::fs::create_dir_all(dir.join("registry")).unwrap();
        let snapshot = Snapshot {
            agents: vec![Operation::agent(
                "old-a1",
                &info("h1"),
                AgentRecord::ADMITTED,
                0.0,
            )],
            roles: Some(Roles::default()),
            maintenance: Some(Maintenance::default()),
        };
        std::fs::write(
            dir.join("registry/snapshot"),
            fnv1a_frame(&snapshot.encode_to_vec()),
        )
        .unwrap();
        let old_op = Operation::agent("old-a2", &info("h2"), AgentRecord::UNREACHABLE, 4.0);
        std::fs::write(
            dir.join("registry/log"),
            fnv1a_frame(&old_op.encode_to_vec()),
        )
        .unwrap();
        let old_len = std::fs::metadata(dir.join("registry/log")).unwrap().len() as usize;

        let mut store = FileStore::open(&dir).unwrap();
        let image = store.load_now().unwrap();
        assert_eq!(
            image.agents.keys().collect::<Vec<_>>(),
            vec!["old-a1", "old-a2"]
        );
        assert_eq!(image.agents["old-a2"].state, AgentRecord::UNREACHABLE);

        let new_op = Operation::agent("new-a3", &info("h3"), AgentRecord::GONE, 9.0);
        store.append(&image, std::slice::from_ref(&new_op)).unwrap();
        drop(store);

        // The new frame: the flagged length, then the body's CRC-32C.
        let log = std::fs::read(dir.join("registry/log")).unwrap();
        let body = new_op.encode_to_vec();
        let header = &log[old_len..old_len + 8];
        assert_eq!(
            u32::from_le_bytes(header[..4].try_into().unwrap()),
            body.len() as u32 | CRC32C_FRAME
        );
        assert_eq!(
            u32::from_le_bytes(header[4..].try_into().unwrap()),
            crc32c::crc32c(&body)
        );
        assert_eq!(&log[old_len + 8..], &body[..]);

        // A flipped bit in the new frame's body stops the replay there.
        let mut corrupt = log.clone();
        *corrupt.last_mut().unwrap() ^= 1;
        assert_eq!(next_frame(&corrupt, old_len), None);

        let mut store = FileStore::open(&dir).unwrap();
        let reloaded = store.load_now().unwrap();
        let mut expected = image.clone();
        expected.apply(&new_op);
        assert_eq!(reloaded, expected);
        // Compaction rewrites the snapshot with a CRC-32C frame.
        store.compact(&reloaded).unwrap();
        let snapshot = std::fs::read(dir.join("registry/snapshot")).unwrap();
        assert_ne!(snapshot[3] & 0x80, 0);
        drop(store);
        let mut store = FileStore::open(&dir).unwrap();
        assert_eq!(store.load_now().unwrap(), expected);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
