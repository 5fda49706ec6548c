//! The replicated log behind `org.apache.mesos.Log`, kept in ZooKeeper.
//!
//! Mesos's log (`src/log/`) is a Multi-Paxos log over its own replicas. remesos does not
//! run a consensus protocol of its own: ZooKeeper already is a replicated, totally ordered
//! store, so the log is a set of znodes whose every change is one ZooKeeper transaction.
//! The contract kept is Mesos's `Log` (`include/mesos/log/log.hpp`):
//!
//! - positions are totally ordered `u64`s; `append` returns the entry's position;
//! - one writer at a time: electing a writer (`Writer::start`) deposes the previous one,
//!   whose next `append`/`truncate` fails (Java: `Log.WriterFailedException`) and who stays
//!   failed; a deposed writer can never append;
//! - `truncate(to)` drops the entries before `to`; like Mesos it takes a position of its
//!   own (readers skip it, as they skip Mesos's TRUNCATE and NOP actions);
//! - readers: `read(from, to)` (inclusive, only appended entries), `beginning`, `ending`,
//!   `catchup` (a ZooKeeper `sync`, then the ending).
//!
//! # Znodes
//!
//! ```text
//! <znode>/meta                      epoch, next, beginning, swept: four u64 (big-endian)
//! <znode>/entries/<pos, 20 digits>  head: 0x00 + data (inline), or
//!                                   0x01 + epoch u64 + length u64 + chunk count u32 (BE)
//! <znode>/chunks/<pos>/<epoch>-<i>  the chunks of an entry larger than INLINE_MAX
//! ```
//!
//! # Fencing
//!
//! The writer's token is the version of `meta`. Election is a compare-and-set of `meta`
//! that increments `epoch`; every append is one `multi()`: `setData(meta, next+1,
//! expected_version=token)` + `create(entries/<next>)`. Another writer's election changes
//! the version, so the deposed writer's transaction fails as a whole and nothing of it is
//! visible. A `BadVersion` is checked against `meta.epoch`: if the epoch is still ours, an
//! earlier request of ours whose answer was lost (a call that timed out) did apply, and the
//! writer adopts the new version and goes on; otherwise it is deposed. After a connection
//! loss the writer reads `meta` and the entry before sending anything again: if this very
//! transaction applied, the operation is done (resending would append the data twice).
//! Before a large entry's chunks are written, `meta` is read at the writer's version, so
//! chunks are only ever overwritten where no entry took the position. Because
//! `next` moves in the same transaction as the entry is created, every position below
//! `next` is final: it holds an entry, or is a hole (a truncate's own position) forever.
//!
//! Chunks of a large entry are written before its head. A writer deposed in between leaves
//! chunks that no head names (its epoch is in their names); they are deleted when the
//! position is swept by a truncation.
//!
//! # Limits and guarantees
//!
//! - Throughput: one ZooKeeper write quorum round per append (and one per 512 KiB chunk);
//!   appends of one writer are serialized, as Mesos's coordinator serializes writes. See
//!   bench/README.md for figures on a 3-node loopback ensemble.
//! - Entries up to [`MAX_ENTRY`] (64 MiB); up to [`INLINE_MAX`] in one transaction, beyond
//!   in [`CHUNK`]-sized znodes (ZooKeeper's default `jute.maxbuffer` is 1 MiB per request).
//!   ZooKeeper keeps all data in memory: the log is for metadata-sized state (Aurora's
//!   store), not bulk data. Truncate regularly.
//! - Durability is ZooKeeper's: an acknowledged append is on a quorum's disks.
//! - `quorum` and the local replica `path` of Mesos's constructor are not used: the
//!   ensemble's quorum applies.
//! - A read of a large range holds all its entries in memory, as Mesos's does.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use zookeeper_client as zkc;

/// An entry up to this size goes inline in the append's transaction.
pub const INLINE_MAX: usize = 512 * 1024;
/// The size of each chunk of a larger entry.
pub const CHUNK: usize = 512 * 1024;
/// The largest entry accepted.
pub const MAX_ENTRY: usize = 64 * 1024 * 1024;
/// ZooKeeper requests in flight at once for one read or sweep.
const PIPELINE: usize = 128;

#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// The writer was deposed by a newer one, or never elected (Java: WriterFailedException).
    #[error("{0}")]
    WriterFailed(String),
    /// A read or position query failed (Java: OperationFailedException).
    #[error("{0}")]
    OperationFailed(String),
    #[error("entry of {size} bytes is larger than the log's limit of {MAX_ENTRY} bytes")]
    TooLarge { size: usize },
    #[error("zookeeper: {0}")]
    Zk(#[from] zkc::Error),
}

pub type Result<T> = std::result::Result<T, LogError>;

/// Where the log lives and how to reach it (Mesos's `Log(quorum, path, servers, timeout,
/// znode, auth)`).
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// `host1:port1,host2:port2`
    pub servers: String,
    /// Absolute znode path, no trailing `/`.
    pub znode: String,
    pub session_timeout: Duration,
    /// ZooKeeper authentication (`scheme`, `credentials`), e.g. `digest`, `user:pass`.
    pub auth: Option<(String, Vec<u8>)>,
}

impl LogConfig {
    /// Validates the znode path as ZooKeeper would refuse it anyway, but before any I/O.
    pub fn new(
        servers: &str,
        znode: &str,
        session_timeout: Duration,
        auth: Option<(String, Vec<u8>)>,
    ) -> Result<LogConfig> {
        let bad = |why: &str| LogError::OperationFailed(format!("invalid znode '{znode}': {why}"));
        if servers.trim().is_empty() {
            return Err(LogError::OperationFailed(
                "no ZooKeeper servers".to_string(),
            ));
        }
        if !znode.starts_with('/') {
            return Err(bad("must be absolute"));
        }
        let znode = znode.trim_end_matches('/');
        if znode.is_empty() {
            return Err(bad("must not be '/'"));
        }
        if znode
            .split('/')
            .skip(1)
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(bad("empty, '.' or '..' segment"));
        }
        if session_timeout.is_zero() {
            return Err(LogError::OperationFailed(
                "the session timeout must be positive".to_string(),
            ));
        }
        Ok(LogConfig {
            servers: servers.trim().to_string(),
            znode: znode.to_string(),
            session_timeout,
            auth,
        })
    }
}

/// The content of `<znode>/meta`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Meta {
    /// Incremented by each election; the current writer's.
    epoch: u64,
    /// The position the next append or truncate takes.
    next: u64,
    /// The first position not truncated.
    beginning: u64,
    /// Entries below this are deleted; between `swept` and `beginning` they may remain.
    swept: u64,
}

impl Meta {
    const INITIAL: Meta = Meta {
        epoch: 0,
        next: 1,
        beginning: 0,
        swept: 0,
    };

    fn decode(data: &[u8]) -> Result<Meta> {
        let bad = |why: String| LogError::OperationFailed(format!("malformed log metadata: {why}"));
        if data.len() != 32 {
            return Err(bad(format!("{} bytes, expected 32", data.len())));
        }
        let field = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&data[i * 8..i * 8 + 8]);
            u64::from_be_bytes(b)
        };
        let meta = Meta {
            epoch: field(0),
            next: field(1),
            beginning: field(2),
            swept: field(3),
        };
        if meta.next == 0 || meta.beginning > meta.next || meta.swept > meta.beginning {
            return Err(bad(format!("inconsistent {meta:?}")));
        }
        Ok(meta)
    }

    fn encode(&self) -> Vec<u8> {
        [self.epoch, self.next, self.beginning, self.swept]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect()
    }

    /// The last position taken (0 for an empty log), Mesos's `ending()`.
    fn ending(&self) -> u64 {
        self.next - 1
    }
}

/// An appended entry as a reader returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub position: u64,
    pub data: Vec<u8>,
}

/// What `entries/<pos>` holds.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    Inline(Vec<u8>),
    Chunked {
        epoch: u64,
        length: u64,
        chunks: u32,
    },
}

impl Head {
    fn encode(&self) -> Vec<u8> {
        match self {
            Head::Inline(data) => {
                let mut out = Vec::with_capacity(data.len() + 1);
                out.push(0);
                out.extend_from_slice(data);
                out
            }
            Head::Chunked {
                epoch,
                length,
                chunks,
            } => {
                let mut out = vec![1];
                out.extend_from_slice(&epoch.to_be_bytes());
                out.extend_from_slice(&length.to_be_bytes());
                out.extend_from_slice(&chunks.to_be_bytes());
                out
            }
        }
    }

    fn decode(position: u64, mut data: Vec<u8>) -> Result<Head> {
        let bad =
            || LogError::OperationFailed(format!("malformed log entry at position {position}"));
        match data.first() {
            Some(0) => {
                data.remove(0);
                Ok(Head::Inline(data))
            }
            Some(1) if data.len() == 21 => {
                let u64_at = |i: usize| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&data[i..i + 8]);
                    u64::from_be_bytes(b)
                };
                let mut c = [0u8; 4];
                c.copy_from_slice(&data[17..21]);
                let head = Head::Chunked {
                    epoch: u64_at(1),
                    length: u64_at(9),
                    chunks: u32::from_be_bytes(c),
                };
                match head {
                    Head::Chunked { length, chunks, .. }
                        if length as usize <= MAX_ENTRY
                            && chunks as u64 == length.div_ceil(CHUNK as u64) =>
                    {
                        Ok(head)
                    }
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }
}

/// The answer to one `getData`.
type Fetched = std::result::Result<(Vec<u8>, zkc::Stat), zkc::Error>;

fn entry_path(root: &str, position: u64) -> String {
    format!("{root}/entries/{position:020}")
}

fn chunk_dir(root: &str, position: u64) -> String {
    format!("{root}/chunks/{position:020}")
}

fn chunk_path(root: &str, position: u64, epoch: u64, index: u32) -> String {
    format!("{}/{epoch:020}-{index:06}", chunk_dir(root, position))
}

/// A log: one ZooKeeper session (opened on first use, reopened after it expires) shared by
/// its readers and writers.
pub struct Log {
    config: LogConfig,
    /// The session, once connected; `None` until then or after it ended. Locked only to
    /// connect (held across the connect so that concurrent callers share one session).
    client: tokio::sync::Mutex<Option<zkc::Client>>,
}

impl Log {
    pub fn new(config: LogConfig) -> Arc<Log> {
        Arc::new(Log {
            config,
            client: tokio::sync::Mutex::new(None),
        })
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    fn meta_path(&self) -> String {
        format!("{}/meta", self.config.znode)
    }

    fn acls(&self) -> zkc::Acls<'static> {
        super::acls(self.config.auth.is_some())
    }

    /// The session, connecting (and creating the log's znodes) when there is none. Callers
    /// bound it with their own timeout; a connect cut short leaves no session behind.
    async fn client(&self) -> Result<zkc::Client> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            if !matches!(
                client.state(),
                zkc::SessionState::Expired
                    | zkc::SessionState::Closed
                    | zkc::SessionState::AuthFailed
            ) {
                return Ok(client.clone());
            }
            *slot = None;
        }
        let mut connector =
            zkc::Client::connector().with_session_timeout(self.config.session_timeout);
        if let Some((scheme, credentials)) = &self.config.auth {
            connector = connector.with_auth(scheme, credentials);
        }
        let client = connector.connect(&self.config.servers).await?;
        let dir = zkc::CreateMode::Persistent.with_acls(self.acls());
        let root = &self.config.znode;
        client.mkdir(&format!("{root}/entries"), &dir).await?;
        client.mkdir(&format!("{root}/chunks"), &dir).await?;
        match client
            .create(&self.meta_path(), &Meta::INITIAL.encode(), &dir)
            .await
        {
            Ok(_) | Err(zkc::Error::NodeExists) => {}
            Err(e) => return Err(e.into()),
        }
        *slot = Some(client.clone());
        Ok(client)
    }

    async fn meta(&self, client: &zkc::Client) -> Result<(Meta, i32)> {
        let (data, stat) = client.get_data(&self.meta_path()).await?;
        Ok((Meta::decode(&data)?, stat.version))
    }

    /// Mesos's `Reader::beginning()`: the first position not truncated.
    pub async fn beginning(&self) -> Result<u64> {
        let client = self.client().await?;
        Ok(self.meta(&client).await?.0.beginning)
    }

    /// Mesos's `Reader::ending()`: the last position taken (0 for an empty log).
    pub async fn ending(&self) -> Result<u64> {
        let client = self.client().await?;
        Ok(self.meta(&client).await?.0.ending())
    }

    /// Mesos's `Reader::catchup()`: the ending as of now (after a `sync`, so it includes
    /// every append acknowledged to any writer before the call).
    pub async fn catchup(&self) -> Result<u64> {
        let client = self.client().await?;
        client.sync(&self.meta_path()).await?;
        Ok(self.meta(&client).await?.0.ending())
    }

    /// Mesos's `Reader::read(from, to)`: the appended entries in `[from, to]`, in order,
    /// with Mesos's errors for a bad range.
    pub async fn read(&self, from: u64, to: u64) -> Result<Vec<Entry>> {
        let client = self.client().await?;
        client.sync(&self.meta_path()).await?;
        let (meta, _) = self.meta(&client).await?;
        check_range(&meta, from, to)?;
        let root = self.config.znode.clone();
        let heads: Vec<(u64, Fetched)> = futures::stream::iter(from..=to)
            .map(|p| {
                let path = entry_path(&root, p);
                let client = client.clone();
                async move { (p, client.get_data(&path).await) }
            })
            .buffered(PIPELINE)
            .collect()
            .await;
        let mut entries = Vec::new();
        for (position, head) in heads {
            match head {
                // A position below `next` without an entry is a truncate's own position, or
                // was truncated while we read (checked below).
                Err(zkc::Error::NoNode) => continue,
                Err(e) => return Err(e.into()),
                Ok((data, _)) => {
                    let data = match Head::decode(position, data)? {
                        Head::Inline(data) => data,
                        Head::Chunked {
                            epoch,
                            length,
                            chunks,
                        } => {
                            self.read_chunks(&client, position, epoch, length, chunks)
                                .await?
                        }
                    };
                    entries.push(Entry { position, data });
                }
            }
        }
        // A truncation that raced with the read may have deleted some of the range.
        let (after, _) = self.meta(&client).await?;
        if from < after.beginning {
            return Err(LogError::OperationFailed(
                "Bad read range (truncated position)".to_string(),
            ));
        }
        Ok(entries)
    }

    async fn read_chunks(
        &self,
        client: &zkc::Client,
        position: u64,
        epoch: u64,
        length: u64,
        chunks: u32,
    ) -> Result<Vec<u8>> {
        let root = &self.config.znode;
        let parts: Vec<Fetched> = futures::stream::iter(0..chunks)
            .map(|i| client.get_data(&chunk_path(root, position, epoch, i)))
            .buffered(PIPELINE)
            .collect()
            .await;
        let mut data = Vec::with_capacity(length as usize);
        for part in parts {
            match part {
                Ok((bytes, _)) => data.extend_from_slice(&bytes),
                Err(zkc::Error::NoNode) => {
                    return Err(LogError::OperationFailed(format!(
                        "missing chunk of the entry at position {position}"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        if data.len() as u64 != length {
            return Err(LogError::OperationFailed(format!(
                "malformed log entry at position {position}: {} bytes of {length}",
                data.len()
            )));
        }
        Ok(data)
    }

    /// Deletes entries (and chunk directories) in `[from, to)`; absent ones are fine.
    async fn sweep(&self, client: &zkc::Client, from: u64, to: u64) -> Result<()> {
        let root = self.config.znode.clone();
        let results: Vec<Result<()>> = futures::stream::iter(from..to)
            .map(|p| {
                let client = client.clone();
                let root = root.clone();
                async move {
                    ignore_no_node(client.delete(&entry_path(&root, p), None).await)?;
                    let dir = chunk_dir(&root, p);
                    match client.list_children(&dir).await {
                        Ok(children) => {
                            for child in children {
                                ignore_no_node(
                                    client.delete(&format!("{dir}/{child}"), None).await,
                                )?;
                            }
                            ignore_no_node(client.delete(&dir, None).await)
                        }
                        Err(zkc::Error::NoNode) => Ok(()),
                        Err(e) => Err(e.into()),
                    }
                }
            })
            .buffer_unordered(PIPELINE)
            .collect()
            .await;
        results.into_iter().collect()
    }
}

fn ignore_no_node(result: std::result::Result<(), zkc::Error>) -> Result<()> {
    match result {
        Ok(()) | Err(zkc::Error::NoNode) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Mesos's replica checks of a read range (`src/log/replica.cpp`).
fn check_range(meta: &Meta, from: u64, to: u64) -> Result<()> {
    let reason = if to < from {
        "Bad read range (to < from)"
    } else if from < meta.beginning {
        "Bad read range (truncated position)"
    } else if meta.ending() < to {
        "Bad read range (past end of log)"
    } else {
        return Ok(());
    };
    Err(LogError::OperationFailed(reason.to_string()))
}

/// The writer's view of the log while it is elected.
#[derive(Debug)]
enum WriterState {
    /// Not elected yet (or the last election attempt failed).
    Idle,
    /// Elected: `meta` as we last wrote it, at znode version `version`.
    Elected { meta: Meta, version: i32 },
    /// Deposed by a newer writer: every operation fails from now on.
    Failed(String),
}

/// Mesos's `Log::Writer`: elected with `start`, then `append`/`truncate`.
pub struct Writer {
    log: Arc<Log>,
    /// The writer's operations are serialized (positions are taken in order, as Mesos's
    /// coordinator does); the lock is held across the ZooKeeper round trip on purpose.
    state: tokio::sync::Mutex<WriterState>,
}

enum Op<'a> {
    Append(&'a [u8]),
    Truncate(u64),
}

/// The writer's state after reading `meta` at `version`: still elected (at the newer
/// version, which an earlier request of ours made) while the epoch is `epoch`, else
/// deposed by a newer writer for good (the loop's next round returns the error).
fn adopt(epoch: u64, meta: Meta, version: i32) -> WriterState {
    if meta.epoch == epoch {
        return WriterState::Elected { meta, version };
    }
    WriterState::Failed(format!(
        "the writer (epoch {epoch}) was replaced by a newer writer (epoch {})",
        meta.epoch
    ))
}

impl Writer {
    pub fn new(log: Arc<Log>) -> Writer {
        Writer {
            log,
            state: tokio::sync::Mutex::new(WriterState::Idle),
        }
    }

    /// Elects this writer, deposing any other; returns the log's ending position. May be
    /// called again after a failed or cut-short attempt.
    pub async fn start(&self) -> Result<u64> {
        let mut state = self.state.lock().await;
        if let WriterState::Failed(reason) = &*state {
            return Err(LogError::WriterFailed(reason.clone()));
        }
        let client = self.log.client().await?;
        let (meta, version) = loop {
            let (mut meta, version) = self.log.meta(&client).await?;
            meta.epoch += 1;
            match client
                .set_data(&self.log.meta_path(), &meta.encode(), Some(version))
                .await
            {
                Ok(stat) => break (meta, stat.version),
                // Another writer's election raced with ours: read again and retry.
                Err(zkc::Error::BadVersion) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        *state = WriterState::Elected { meta, version };
        drop(state);
        // Leftovers of a truncation whose writer was deposed before it swept.
        if meta.swept < meta.beginning {
            self.finish_sweep().await?;
        }
        Ok(meta.ending())
    }

    /// Mesos's `Writer::append`: the entry's position.
    pub async fn append(&self, data: &[u8]) -> Result<u64> {
        if data.len() > MAX_ENTRY {
            return Err(LogError::TooLarge { size: data.len() });
        }
        self.write(Op::Append(data)).await
    }

    /// Mesos's `Writer::truncate(to)`: drops the entries before `to`; returns the position
    /// the truncation took.
    pub async fn truncate(&self, to: u64) -> Result<u64> {
        let position = self.write(Op::Truncate(to)).await?;
        self.finish_sweep().await?;
        Ok(position)
    }

    async fn write(&self, op: Op<'_>) -> Result<u64> {
        let mut state = self.state.lock().await;
        let client = self.log.client().await?;
        let root = self.log.config.znode.clone();
        loop {
            let (meta, version) = match &*state {
                WriterState::Idle => {
                    return Err(LogError::WriterFailed(
                        "the writer is not elected".to_string(),
                    ));
                }
                WriterState::Failed(reason) => return Err(LogError::WriterFailed(reason.clone())),
                WriterState::Elected { meta, version } => (*meta, *version),
            };
            let position = meta.next;
            let mut new = meta;
            new.next += 1;
            let head = match op {
                Op::Truncate(to) => {
                    new.beginning = new.beginning.max(to.min(position));
                    None
                }
                Op::Append(data) if data.len() <= INLINE_MAX => Some(Head::Inline(data.to_vec())),
                Op::Append(data) => {
                    // Chunks are named by position and epoch, not by call: before writing
                    // over chunks already at this position, make sure no entry took it.
                    // An earlier request of ours (a call that timed out) may have applied;
                    // this session's requests are answered in order, so the read sees it.
                    let (current, current_version) = self.log.meta(&client).await?;
                    if current_version != version {
                        *state = adopt(meta.epoch, current, current_version);
                        continue;
                    }
                    let dir = chunk_dir(&root, position);
                    let options = zkc::CreateMode::Persistent.with_acls(self.log.acls());
                    match client.create(&dir, &[], &options).await {
                        Ok(_) | Err(zkc::Error::NodeExists) => {}
                        Err(e) => return Err(e.into()),
                    }
                    let mut chunks = 0u32;
                    for (i, chunk) in data.chunks(CHUNK).enumerate() {
                        let path = chunk_path(&root, position, meta.epoch, i as u32);
                        match client.create(&path, chunk, &options).await {
                            Ok(_) => {}
                            // Our own earlier attempt at this position, which no entry
                            // names (`meta` was read above at our version).
                            Err(zkc::Error::NodeExists) => {
                                client.set_data(&path, chunk, None).await?;
                            }
                            Err(e) => return Err(e.into()),
                        }
                        chunks += 1;
                    }
                    Some(Head::Chunked {
                        epoch: meta.epoch,
                        length: data.len() as u64,
                        chunks,
                    })
                }
            };
            let mut multi = client.new_multi_writer();
            multi.add_set_data(&self.log.meta_path(), &new.encode(), Some(version))?;
            if let Some(head) = &head {
                let options = zkc::CreateMode::Persistent.with_acls(self.log.acls());
                multi.add_create(&entry_path(&root, position), &head.encode(), &options)?;
            }
            match multi.commit().await {
                Ok(results) => {
                    let Some(zkc::MultiWriteResult::SetData { stat }) = results.into_iter().next()
                    else {
                        return Err(LogError::OperationFailed(
                            "unexpected multi result".to_string(),
                        ));
                    };
                    *state = WriterState::Elected {
                        meta: new,
                        version: stat.version,
                    };
                    return Ok(position);
                }
                Err(zkc::MultiWriteError::OperationFailed {
                    index: 0,
                    source: zkc::Error::BadVersion,
                }) => {
                    // Deposed, or an earlier request of ours applied after we gave up on it.
                    let (now, version) = self.log.meta(&client).await?;
                    *state = adopt(meta.epoch, now, version);
                }
                Err(zkc::MultiWriteError::RequestFailed {
                    source: zkc::Error::ConnectionLoss,
                }) => {
                    // Unknown outcome. If this very transaction applied, `meta` is what we
                    // set and the entry holds our head: the operation is done (sending it
                    // again would write the data twice, at the next position too).
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let (now, now_version) = self.log.meta(&client).await?;
                    if now == new && now_version == version.wrapping_add(1) {
                        let ours = match &head {
                            None => true,
                            Some(head) => client
                                .get_data(&entry_path(&root, position))
                                .await
                                .is_ok_and(|(bytes, _)| bytes == head.encode()),
                        };
                        if ours {
                            *state = WriterState::Elected {
                                meta: now,
                                version: now_version,
                            };
                            return Ok(position);
                        }
                    }
                    *state = adopt(meta.epoch, now, now_version);
                }
                Err(e) => return Err(zkc::Error::from(e).into()),
            }
        }
    }

    /// Deletes what truncations left below `beginning`, then records it (fenced).
    async fn finish_sweep(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        let WriterState::Elected { meta, version } = &*state else {
            return Ok(());
        };
        let (meta, version) = (*meta, *version);
        if meta.swept >= meta.beginning {
            return Ok(());
        }
        let client = self.log.client().await?;
        self.log.sweep(&client, meta.swept, meta.beginning).await?;
        let mut new = meta;
        new.swept = meta.beginning;
        match client
            .set_data(&self.log.meta_path(), &new.encode(), Some(version))
            .await
        {
            Ok(stat) => {
                *state = WriterState::Elected {
                    meta: new,
                    version: stat.version,
                };
                Ok(())
            }
            // Deposed (the next write says so) or raced: the next writer sweeps again.
            Err(zkc::Error::BadVersion) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_round_trip_and_garbage_is_refused() {
        let inline = Head::Inline(b"abc".to_vec());
        assert_eq!(Head::decode(1, inline.encode()).unwrap(), inline);
        let chunked = Head::Chunked {
            epoch: 7,
            length: (CHUNK as u64) * 2 + 1,
            chunks: 3,
        };
        assert_eq!(Head::decode(2, chunked.encode()).unwrap(), chunked);
        // Bad input: empty, unknown kind, short header, inconsistent chunk count, too large.
        assert!(Head::decode(3, vec![]).is_err());
        assert!(Head::decode(3, vec![9, 1, 2]).is_err());
        assert!(Head::decode(3, vec![1, 0, 0]).is_err());
        let wrong = Head::Chunked {
            epoch: 1,
            length: 10,
            chunks: 2,
        };
        assert!(Head::decode(3, wrong.encode()).is_err());
        let huge = Head::Chunked {
            epoch: 1,
            length: MAX_ENTRY as u64 + 1,
            chunks: (MAX_ENTRY / CHUNK + 1) as u32,
        };
        assert!(Head::decode(3, huge.encode()).is_err());
    }

    #[test]
    fn read_ranges_are_checked_as_mesos_replicas_do() {
        // src/log/replica.cpp ReplicaProcess::read.
        let meta = Meta {
            epoch: 1,
            next: 11,
            beginning: 3,
            swept: 3,
        };
        assert!(check_range(&meta, 3, 10).is_ok());
        let err = |from, to| check_range(&meta, from, to).unwrap_err().to_string();
        assert_eq!(err(5, 4), "Bad read range (to < from)");
        assert_eq!(err(2, 4), "Bad read range (truncated position)");
        assert_eq!(err(3, 11), "Bad read range (past end of log)");
        // The empty log: beginning 0, ending 0.
        assert!(check_range(&Meta::INITIAL, 0, 0).is_ok());
        assert_eq!(Meta::INITIAL.ending(), 0);
    }

    #[test]
    fn metadata_is_validated() {
        let raw = |m: Meta| m.encode();
        assert!(Meta::decode(b"not metadata").is_err());
        let zero_next = Meta {
            next: 0,
            ..Meta::INITIAL
        };
        assert!(Meta::decode(&raw(zero_next)).is_err());
        let past = Meta {
            next: 3,
            beginning: 4,
            ..Meta::INITIAL
        };
        assert!(Meta::decode(&raw(past)).is_err());
        let meta = Meta::decode(&Meta::INITIAL.encode()).unwrap();
        assert_eq!(meta, Meta::INITIAL);
    }

    #[test]
    fn configs_refuse_bad_znodes() {
        let t = Duration::from_secs(10);
        assert!(LogConfig::new("h:1", "/log", t, None).is_ok());
        assert_eq!(
            LogConfig::new("h:1", "/a/b/", t, None).unwrap().znode,
            "/a/b"
        );
        for bad in ["log", "/", "/a//b", "/a/../b"] {
            assert!(LogConfig::new("h:1", bad, t, None).is_err(), "{bad}");
        }
        assert!(LogConfig::new("", "/log", t, None).is_err());
        assert!(LogConfig::new("h:1", "/log", Duration::ZERO, None).is_err());
    }
}
