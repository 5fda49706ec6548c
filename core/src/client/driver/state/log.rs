//! `LogState`'s storage: the state kept as a sequence of operations in the replicated log
//! of [`crate::zk::log`], as Mesos's `LogStorage` (`src/state/log.cpp`) keeps it.
//!
//! ```text
//!  log position:  1            2          3            4           5
//!                 SNAPSHOT a   SNAPSHOT b DIFF a       EXPUNGE b   TRUNCATE (to 1: a's snapshot)
//!                 {a,u1,"x"}   {b,u2,"y"} {a,u3,splice}
//!  replayed:      a = patch(x, splice) at u3; b gone
//! ```
//!
//! Each log entry is a `mesos.internal.state.Operation` (`src/messages/state.proto`):
//! `SNAPSHOT {Entry}`, `DIFF {Entry whose value is a patch of the snapshot's value}` or
//! `EXPUNGE {name}`. The storage is [`Replay`], a synchronous state machine over those
//! operations, and a shell ([`LogStorage`]) that talks to the log:
//!
//! - every operation first makes sure this storage's log writer is elected and that every
//!   position up to the writer's ending has been replayed (Mesos's `start()`); electing a
//!   writer deposes any other (another `LogState` on the same znode, in this JVM or another);
//! - `get`/`names` answer from the replayed snapshots (Mesos's cache: a storage whose writer
//!   was deposed without knowing it answers what it last replayed; its next `set` or
//!   `expunge` fails, returns `false`, and the operation after that replays again);
//! - `set` compares the uuid with the replayed snapshot's, then appends a SNAPSHOT, or a
//!   DIFF while fewer than `diffsBetweenSnapshots` diffs follow the snapshot and the diff is
//!   smaller than the value; `expunge` appends an EXPUNGE. A writer deposed meanwhile makes
//!   the append fail: the answer is `false` (Mesos's "not atomic"), never a lost update.
//! - the log is truncated to the oldest position a snapshot still needs, before the next
//!   `set`/`expunge` (Mesos queues the same truncation behind the same mutex).
//!
//! Where this differs from Mesos: a DIFF's value is a prefix/suffix splice (see [`diff`]),
//! not Subversion's svndiff — no Apache reader ever sees this log (Apache's log lives in its
//! own replicas, this one in ZooKeeper). Every operation is bounded by twice the session
//! timeout plus a second ([`StateError::Unavailable`] when ZooKeeper cannot be reached), where
//! Mesos retries its election forever. `quorum` and the replica `path` are not used (the
//! ZooKeeper ensemble's quorum applies). Entries are limited by the log's
//! [`MAX_ENTRY`] (64 MiB) per serialized operation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use uuid::Uuid;

use super::{Entry, EntryWire, Result, StateError, Storage, StorageFuture};
use crate::zk::log::{Log, LogConfig, LogError, MAX_ENTRY, Writer};

/// `Operation.Type` (`src/messages/state.proto`).
const SNAPSHOT: i32 = 1;
const EXPUNGE: i32 = 2;
const DIFF: i32 = 3;

/// Positions replayed per read of the log (bounds the memory of one read).
const READ_BATCH: u64 = 1024;

/// `mesos.internal.state.Operation`; `optional` everywhere so that a missing `required`
/// field is seen.
#[derive(Clone, PartialEq, prost::Message)]
struct OperationWire {
    #[prost(int32, optional, tag = "1")]
    r#type: Option<i32>,
    #[prost(message, optional, tag = "2")]
    snapshot: Option<EntryHolder>,
    #[prost(message, optional, tag = "3")]
    expunge: Option<ExpungeWire>,
    #[prost(message, optional, tag = "4")]
    diff: Option<EntryHolder>,
}

/// `Operation.Snapshot` and `Operation.Diff`: `{required Entry entry = 1}`.
#[derive(Clone, PartialEq, prost::Message)]
struct EntryHolder {
    #[prost(message, optional, tag = "1")]
    entry: Option<EntryWire>,
}

/// `Operation.Expunge`: `{required string name = 1}`.
#[derive(Clone, PartialEq, prost::Message)]
struct ExpungeWire {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
}

/// One operation of the log, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    Snapshot(Entry),
    /// The entry's value is a [`diff`] against the snapshot's value; its uuid the result's.
    Diff(Entry),
    Expunge(String),
}

impl Operation {
    pub fn encode(&self) -> Vec<u8> {
        let holder = |entry: &Entry| {
            Some(EntryHolder {
                entry: Some(entry.to_wire()),
            })
        };
        let wire = match self {
            Operation::Snapshot(entry) => OperationWire {
                r#type: Some(SNAPSHOT),
                snapshot: holder(entry),
                ..Default::default()
            },
            Operation::Diff(entry) => OperationWire {
                r#type: Some(DIFF),
                diff: holder(entry),
                ..Default::default()
            },
            Operation::Expunge(name) => OperationWire {
                r#type: Some(EXPUNGE),
                expunge: Some(ExpungeWire {
                    name: Some(name.clone()),
                }),
                ..Default::default()
            },
        };
        wire.encode_to_vec()
    }

    /// Mesos's "Failed to deserialize Operation" for anything but a complete operation.
    pub fn decode(bytes: &[u8]) -> Result<Operation> {
        let bad = || StateError::Log("Failed to deserialize Operation".to_string());
        let wire = OperationWire::decode(bytes).map_err(|_| bad())?;
        let entry = |holder: Option<EntryHolder>| {
            holder
                .and_then(|h| h.entry)
                .ok_or_else(bad)
                .and_then(|w| Entry::from_wire(w).map_err(|_| bad()))
        };
        match wire.r#type {
            Some(SNAPSHOT) => Ok(Operation::Snapshot(entry(wire.snapshot)?)),
            Some(DIFF) => Ok(Operation::Diff(entry(wire.diff)?)),
            Some(EXPUNGE) => match wire.expunge.and_then(|e| e.name) {
                Some(name) => Ok(Operation::Expunge(name)),
                None => Err(bad()),
            },
            Some(other) => Err(StateError::Log(format!("Unknown operation: {other}"))),
            None => Err(bad()),
        }
    }
}

/// A DIFF's value: the new value as the old one with its middle replaced — a varint
/// prefix length, a varint suffix length (both kept from the old value), then the bytes in
/// between. It shrinks the typical update of a large value (a few fields changed) to the
/// changed span.
pub fn diff(old: &[u8], new: &[u8]) -> Vec<u8> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let limit = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(limit)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = Vec::with_capacity(new.len() - prefix - suffix + 20);
    prost::encoding::encode_varint(prefix as u64, &mut out);
    prost::encoding::encode_varint(suffix as u64, &mut out);
    out.extend_from_slice(&new[prefix..new.len() - suffix]);
    out
}

/// Applies a [`diff`] to `old`; an error when it does not fit (a diff of another value).
pub fn patch(old: &[u8], diff: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut rest = diff;
    let mut varint = || {
        prost::encoding::decode_varint(&mut rest)
            .ok()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| "malformed diff".to_string())
    };
    let prefix = varint()?;
    let suffix = varint()?;
    if prefix
        .checked_add(suffix)
        .is_none_or(|kept| kept > old.len())
    {
        return Err(format!(
            "the diff keeps {prefix}+{suffix} bytes of a {}-byte value",
            old.len()
        ));
    }
    let mut out = Vec::with_capacity(prefix + rest.len() + suffix);
    out.extend_from_slice(&old[..prefix]);
    out.extend_from_slice(rest);
    out.extend_from_slice(&old[old.len() - suffix..]);
    Ok(out)
}

/// A variable as replayed: where its snapshot is, and how many diffs follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    /// The position of the SNAPSHOT (not of the later DIFFs): truncation keeps it.
    position: u64,
    entry: Entry,
    diffs: usize,
}

/// What a `set` appends, decided by [`Replay::plan_set`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub operation: Operation,
    /// Diffs after the snapshot once appended (0: the operation is a snapshot).
    diffs: usize,
}

/// The storage's replayed view of the log (Mesos's `snapshots`, `index`, `truncated`):
/// synchronous, no I/O.
#[derive(Debug, Default)]
pub struct Replay {
    snapshots: BTreeMap<String, Snapshot>,
    /// The last position replayed or written.
    index: Option<u64>,
    /// The position the log is known to be truncated to.
    truncated: Option<u64>,
}

impl Replay {
    /// The first position to read when the writer is elected, given the log's beginning;
    /// replays from scratch when the log was truncated past what was replayed (another
    /// storage truncated it: it knew every snapshot that matters).
    pub fn resume_from(&mut self, beginning: u64) -> u64 {
        match self.index {
            Some(index) if index + 1 >= beginning => index + 1,
            _ => {
                *self = Replay {
                    truncated: Some(beginning),
                    ..Replay::default()
                };
                beginning
            }
        }
    }

    /// Applies the log entry at `position` (Mesos's `apply`); positions already replayed
    /// are skipped.
    pub fn apply(&mut self, position: u64, data: &[u8]) -> Result<()> {
        if self.index.is_some_and(|index| position <= index) {
            return Ok(());
        }
        match Operation::decode(data)? {
            Operation::Snapshot(entry) => {
                self.snapshots.insert(
                    entry.name.clone(),
                    Snapshot {
                        position,
                        entry,
                        diffs: 0,
                    },
                );
            }
            Operation::Diff(entry) => {
                let Some(snapshot) = self.snapshots.get_mut(&entry.name) else {
                    return Err(StateError::Log(format!(
                        "Failed to apply the diff: no snapshot of '{}'",
                        entry.name
                    )));
                };
                let value = patch(&snapshot.entry.value, &entry.value)
                    .map_err(|e| StateError::Log(format!("Failed to apply the diff: {e}")))?;
                snapshot.entry = Entry { value, ..entry };
                snapshot.diffs += 1;
            }
            Operation::Expunge(name) => {
                self.snapshots.remove(&name);
            }
        }
        self.index = Some(position);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<Entry> {
        self.snapshots.get(name).map(|s| s.entry.clone())
    }

    pub fn names(&self) -> Vec<String> {
        self.snapshots.keys().cloned().collect()
    }

    /// What storing `entry` over the version `expected` appends; `None` when the replayed
    /// uuid is another (the compare-and-swap lost). A DIFF while the snapshot has fewer
    /// than `diffs_between_snapshots` diffs and the diff is smaller than the value.
    pub fn plan_set(
        &self,
        entry: &Entry,
        expected: Uuid,
        diffs_between_snapshots: usize,
    ) -> Option<Planned> {
        let snapshot = self.snapshots.get(&entry.name);
        if snapshot.is_some_and(|s| s.entry.uuid != expected) {
            return None;
        }
        if let Some(snapshot) = snapshot
            && snapshot.diffs < diffs_between_snapshots
        {
            let value = diff(&snapshot.entry.value, &entry.value);
            if value.len() < entry.value.len() {
                return Some(Planned {
                    operation: Operation::Diff(Entry {
                        value,
                        ..entry.clone()
                    }),
                    diffs: snapshot.diffs + 1,
                });
            }
        }
        Some(Planned {
            operation: Operation::Snapshot(entry.clone()),
            diffs: 0,
        })
    }

    /// `planned` for `entry` was appended at `position`.
    pub fn stored(&mut self, entry: &Entry, planned: &Planned, position: u64) {
        let snapshot_position = match (planned.diffs, self.snapshots.get(&entry.name)) {
            (0, _) | (_, None) => position,
            (_, Some(snapshot)) => snapshot.position,
        };
        debug_assert!(planned.diffs == 0 || self.snapshots.contains_key(&entry.name));
        self.snapshots.insert(
            entry.name.clone(),
            Snapshot {
                position: snapshot_position,
                entry: entry.clone(),
                diffs: planned.diffs,
            },
        );
        self.index = self.index.max(Some(position));
    }

    /// Whether `entry` may be expunged: stored, with its uuid.
    pub fn may_expunge(&self, entry: &Entry) -> bool {
        self.snapshots
            .get(&entry.name)
            .is_some_and(|s| s.entry.uuid == entry.uuid)
    }

    /// The EXPUNGE of `name` was appended at `position`.
    pub fn expunged(&mut self, name: &str, position: u64) {
        self.snapshots.remove(name);
        self.index = self.index.max(Some(position));
    }

    /// The position to truncate the log to (the oldest snapshot still needed), when it is
    /// past the known truncation; `None` when there is nothing to do (or nothing stored).
    pub fn truncation(&self) -> Option<u64> {
        let minimum = self.snapshots.values().map(|s| s.position).min()?;
        (Some(minimum) > self.truncated).then_some(minimum)
    }

    /// The truncation to `minimum` took `position`.
    pub fn truncated(&mut self, minimum: u64, position: u64) {
        self.truncated = self.truncated.max(Some(minimum));
        self.index = self.index.max(Some(position));
    }
}

/// The replay and, while it is elected and caught up, the writer.
struct Inner {
    replay: Replay,
    /// `Some` only while elected and replayed up to its ending; taken out across an
    /// append, so an operation cut short (a timeout) leaves `None` and the next one elects
    /// and replays again.
    writer: Option<Writer>,
}

pub struct LogStorage {
    log: Arc<Log>,
    diffs_between_snapshots: usize,
    /// The bound of each operation.
    timeout: Duration,
    /// A tokio mutex: operations are serialized (as Mesos's storage process serializes
    /// them) and hold it across their log round trips on purpose.
    inner: tokio::sync::Mutex<Inner>,
}

impl LogStorage {
    /// No I/O until the first operation.
    pub fn new(config: LogConfig, diffs_between_snapshots: usize) -> LogStorage {
        let timeout = config.session_timeout * 2 + Duration::from_secs(1);
        LogStorage {
            log: Log::new(config),
            diffs_between_snapshots,
            timeout,
            inner: tokio::sync::Mutex::new(Inner {
                replay: Replay::default(),
                writer: None,
            }),
        }
    }

    /// Runs `operation` with the inner state, within the storage's bound.
    async fn bounded<T>(&self, operation: impl AsyncFnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        let run = async {
            let mut inner = self.inner.lock().await;
            operation(&mut inner).await
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(StateError::Unavailable {
                servers: self.log.config().servers.clone(),
                reason: format!("no answer from the log within {:?}", self.timeout),
            }),
        }
    }

    /// Mesos's `start()`: elects a writer (deposing any other) and replays every position
    /// up to its ending.
    async fn start(&self, inner: &mut Inner) -> Result<()> {
        if inner.writer.is_some() {
            return Ok(());
        }
        let writer = Writer::new(self.log.clone());
        let ending = writer.start().await.map_err(log_error)?;
        let beginning = self.log.beginning().await.map_err(log_error)?;
        let mut from = inner.replay.resume_from(beginning);
        while from <= ending {
            let to = ending.min(from + READ_BATCH - 1);
            for entry in self.log.read(from, to).await.map_err(log_error)? {
                inner.replay.apply(entry.position, &entry.data)?;
            }
            from = to + 1;
        }
        inner.writer = Some(writer);
        Ok(())
    }

    /// Appends `operation` with the elected writer: `Ok(None)` when the writer was deposed
    /// (the storage replays again on its next operation).
    async fn append(&self, inner: &mut Inner, operation: &Operation) -> Result<Option<u64>> {
        let data = operation.encode();
        if data.len() > MAX_ENTRY {
            return Err(log_error(LogError::TooLarge { size: data.len() }));
        }
        let Some(writer) = inner.writer.take() else {
            return Err(StateError::Log("the log writer is not elected".to_string()));
        };
        match writer.append(&data).await {
            Ok(position) => {
                inner.writer = Some(writer);
                Ok(Some(position))
            }
            Err(LogError::WriterFailed(reason)) => {
                tracing::debug!(%reason, "log storage writer was deposed");
                Ok(None)
            }
            // The append's outcome is unknown: replay before deciding anything again.
            Err(e) => Err(log_error(e)),
        }
    }

    /// Truncates the log to the oldest position a snapshot needs; other failures only leave
    /// the log longer (the next mutation tries again), as in Mesos. `false` when the writer
    /// turned out deposed: the mutation answers `false`, as Mesos's append would fail then.
    async fn truncate(&self, inner: &mut Inner) -> bool {
        let (Some(minimum), Some(writer)) = (inner.replay.truncation(), inner.writer.as_ref())
        else {
            return true;
        };
        match writer.truncate(minimum).await {
            Ok(position) => inner.replay.truncated(minimum, position),
            Err(LogError::WriterFailed(_)) => {
                inner.writer = None;
                return false;
            }
            Err(e) => tracing::debug!(error = %e, "log storage truncation failed"),
        }
        true
    }
}

fn log_error(e: LogError) -> StateError {
    StateError::Log(e.to_string())
}

impl Storage for LogStorage {
    fn get<'a>(&'a self, name: &'a str) -> StorageFuture<'a, Option<Entry>> {
        Box::pin(self.bounded(async move |inner: &mut Inner| {
            self.start(inner).await?;
            Ok(inner.replay.get(name))
        }))
    }

    fn set<'a>(&'a self, entry: &'a Entry, expected: Uuid) -> StorageFuture<'a, bool> {
        Box::pin(self.bounded(async move |inner: &mut Inner| {
            self.start(inner).await?;
            if !self.truncate(inner).await {
                return Ok(false);
            }
            let Some(planned) =
                inner
                    .replay
                    .plan_set(entry, expected, self.diffs_between_snapshots)
            else {
                return Ok(false);
            };
            match self.append(inner, &planned.operation).await? {
                Some(position) => {
                    inner.replay.stored(entry, &planned, position);
                    Ok(true)
                }
                None => Ok(false),
            }
        }))
    }

    fn expunge<'a>(&'a self, entry: &'a Entry) -> StorageFuture<'a, bool> {
        Box::pin(self.bounded(async move |inner: &mut Inner| {
            self.start(inner).await?;
            if !self.truncate(inner).await {
                return Ok(false);
            }
            if !inner.replay.may_expunge(entry) {
                return Ok(false);
            }
            match self
                .append(inner, &Operation::Expunge(entry.name.clone()))
                .await?
            {
                Some(position) => {
                    inner.replay.expunged(&entry.name, position);
                    Ok(true)
                }
                None => Ok(false),
            }
        }))
    }

    fn names(&self) -> StorageFuture<'_, Vec<String>> {
        Box::pin(self.bounded(async move |inner: &mut Inner| {
            self.start(inner).await?;
            Ok(inner.replay.names())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, value: &[u8]) -> Entry {
        Entry {
            name: name.to_string(),
            uuid: Uuid::new_v4(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn operations_round_trip_and_garbage_is_refused() {
        for op in [
            Operation::Snapshot(entry("a", b"x")),
            Operation::Diff(entry("a", b"")),
            Operation::Expunge("a".to_string()),
        ] {
            assert_eq!(Operation::decode(&op.encode()).unwrap(), op);
        }
        // Bad input: not a protobuf, no type, a type without its body, an unknown type.
        let err = |bytes: &[u8]| Operation::decode(bytes).unwrap_err().to_string();
        assert_eq!(
            err(b"\xff\xff"),
            "replicated log: Failed to deserialize Operation"
        );
        assert_eq!(err(b""), "replicated log: Failed to deserialize Operation");
        let no_body = OperationWire {
            r#type: Some(SNAPSHOT),
            ..Default::default()
        };
        assert!(Operation::decode(&no_body.encode_to_vec()).is_err());
        let unknown = OperationWire {
            r#type: Some(9),
            ..Default::default()
        };
        assert_eq!(
            err(&unknown.encode_to_vec()),
            "replicated log: Unknown operation: 9"
        );
    }

    #[test]
    fn diffs_patch_back_to_the_new_value_and_refuse_another_base() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"", b""),
            (b"", b"new"),
            (b"old", b""),
            (b"hello world", b"hello there world"),
            (b"aaaa", b"aa"),
            (b"same", b"same"),
        ];
        for (old, new) in cases {
            assert_eq!(
                patch(old, &diff(old, new)).unwrap(),
                new,
                "{old:?} -> {new:?}"
            );
        }
        let big_old = vec![7u8; 100_000];
        let mut big_new = big_old.clone();
        big_new[50_000] = 8;
        assert!(diff(&big_old, &big_new).len() < 10, "one changed byte");
        // A diff that keeps more than the base has is refused, as is garbage.
        assert!(patch(b"ab", &diff(b"abcdef", b"abXdef")).is_err());
        assert!(patch(b"ab", b"\xff").is_err());
    }

    #[test]
    fn replay_applies_snapshots_diffs_and_expunges_in_order() {
        let mut replay = Replay::default();
        let a1 = entry("a", b"hello world");
        let a2 = Entry {
            value: b"hello there world".to_vec(),
            ..entry("a", b"")
        };
        let b = entry("b", b"y");
        replay
            .apply(1, &Operation::Snapshot(a1.clone()).encode())
            .unwrap();
        replay
            .apply(2, &Operation::Snapshot(b.clone()).encode())
            .unwrap();
        let d = Operation::Diff(Entry {
            value: diff(&a1.value, &a2.value),
            ..a2.clone()
        });
        replay.apply(3, &d.encode()).unwrap();
        replay
            .apply(4, &Operation::Expunge("b".to_string()).encode())
            .unwrap();
        assert_eq!(replay.get("a"), Some(a2.clone()));
        assert_eq!(replay.names(), ["a"]);
        // Already replayed positions are skipped (a second read of the same range).
        replay
            .apply(2, &Operation::Snapshot(b.clone()).encode())
            .unwrap();
        assert_eq!(replay.names(), ["a"]);
        // The snapshot of `a` at 1 is what its diff needs: truncate to 1.
        assert_eq!(replay.truncation(), Some(1));
        // A diff without its snapshot, or garbage, fails the replay (Mesos: a Failure).
        let mut fresh = Replay::default();
        assert!(fresh.apply(1, &d.encode()).is_err());
        assert!(fresh.apply(1, b"garbage").is_err());
        assert_eq!(fresh.names(), Vec::<String>::new());
    }

    #[test]
    fn sets_compare_the_uuid_and_diff_only_between_snapshots() {
        let mut replay = Replay::default();
        let v1 = entry("a", &[1u8; 1000]);
        // Nothing stored: any expected uuid creates, with a snapshot.
        let planned = replay.plan_set(&v1, Uuid::new_v4(), 2).unwrap();
        assert!(matches!(planned.operation, Operation::Snapshot(_)));
        replay.stored(&v1, &planned, 5);
        // A stale uuid loses.
        assert_eq!(replay.plan_set(&v1, Uuid::new_v4(), 2), None);
        // Two diffs, then a snapshot again (diffsBetweenSnapshots = 2).
        let mut current = v1.clone();
        let mut kinds = Vec::new();
        for (i, position) in (6..9).enumerate() {
            let mut value = current.value.clone();
            value[i] = 9;
            let next = Entry {
                value,
                ..entry("a", b"")
            };
            let planned = replay.plan_set(&next, current.uuid, 2).unwrap();
            kinds.push(matches!(planned.operation, Operation::Diff(_)));
            replay.stored(&next, &planned, position);
            current = next;
        }
        assert_eq!(kinds, [true, true, false]);
        // The snapshot written at 8 is what truncation keeps.
        assert_eq!(replay.truncation(), Some(8));
        replay.truncated(8, 9);
        assert_eq!(replay.truncation(), None);
        // With 0 diffs between snapshots (Apache's default constructor) only snapshots.
        let next = Entry {
            value: vec![0; 1000],
            ..entry("a", b"")
        };
        let planned = replay.plan_set(&next, current.uuid, 0).unwrap();
        assert!(matches!(planned.operation, Operation::Snapshot(_)));
        // Expunge compares the uuid.
        assert!(!replay.may_expunge(&next));
        assert!(replay.may_expunge(&current));
        replay.expunged("a", 10);
        assert_eq!(replay.get("a"), None);
    }

    #[test]
    fn a_log_truncated_past_the_replay_is_replayed_from_its_beginning() {
        let mut replay = Replay::default();
        assert_eq!(replay.resume_from(0), 0);
        replay
            .apply(1, &Operation::Snapshot(entry("a", b"x")).encode())
            .unwrap();
        assert_eq!(replay.resume_from(1), 2);
        assert_eq!(replay.resume_from(2), 2);
        // Another storage truncated to 7: what was replayed is dropped, read from 7.
        assert_eq!(replay.resume_from(7), 7);
        assert_eq!(replay.names(), Vec::<String>::new());
    }
}
