//! The fetcher cache: which `CommandInfo.URI`s with `cache: true` are downloaded once and
//! then copied from a local file, Mesos's `FetcherProcess::Cache`
//! (`src/slave/containerizer/fetcher.cpp`, `docs/fetcher-cache-internals.md`).
//!
//! The agent owns the cache's bookkeeping (this module); the files are written and read by
//! the `remesos fetcher` child, which runs as the task's user (fetcher.rs). For each fetch
//! the agent decides, per URI, one of Mesos's three actions ([`CacheAction`]):
//! - `Bypass`: straight into the sandbox (no `cache`, the cache disabled, the URI larger than
//!   the cache or of unknown size, its download by another task failed);
//! - `Download`: into a new cache file, then from there into the sandbox; the entry is
//!   *pending* until that fetch ends, and any other fetch of the same key waits for it
//!   (concurrent fetches of one URI are coalesced: one download);
//! - `Retrieve`: from the cache file of a completed entry.
//!
//! As in Mesos:
//! - Entries are keyed by `user@uri` (the URI alone without a user), files live in
//!   `<--fetcher_cache_dir>/<user>/c<serial>-<basename>`; the user's directory belongs to
//!   the user.
//! - Space is reserved before the download from the URI's size (`stat`, HTTP `HEAD`'s
//!   `Content-Length`, `hadoop fs -du`); what is missing is freed by evicting unreferenced
//!   entries, least recently used first. A URI that cannot fit (or whose size is unknown)
//!   bypasses the cache. After the download the reservation is adjusted down to the real
//!   size; a file larger than reserved is not kept.
//! - A failed fetch fails (and removes) the entries it was downloading; waiters bypass.
//! - The whole directory is deleted when the agent starts: the cache does not survive a
//!   restart (`Fetcher::Fetcher`).
//! - Metrics `containerizer/fetcher/{task_fetches_succeeded,task_fetches_failed,
//!   cache_size_total_bytes,cache_size_used_bytes}`.
//!
//! Beyond Mesos (which only checks that the file exists, see its TODO in `Cache::validate`):
//! an entry records the size and SHA-256 of its file when stored. The agent checks the size
//! before handing an entry out (a missing or truncated file drops the entry and downloads
//! again); the fetcher checks the digest while copying, and on a mismatch fetches the URI
//! directly and reports the entry corrupt, which drops it. The next fetch downloads it anew.
//!
//! Time: least-recently-used order is a counter bumped on each use, not a clock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use remesos_proto::v1::command_info::Uri;
use tokio::sync::watch;

use super::fetcher::{CacheAction, CacheReport, FetchItem};

/// Mesos's `--fetcher_cache_size` default: 2 GB.
pub const DEFAULT_CACHE_SIZE: u64 = 2 * 1024 * 1024 * 1024;
/// Mesos's `--fetcher_cache_dir` default.
pub const DEFAULT_CACHE_DIR: &str = "/tmp/mesos/fetch";
/// The prefix of cache file names (Mesos `CACHE_FILE_NAME_PREFIX`).
const FILE_PREFIX: &str = "c";
/// The serial number in cache file names (Mesos's `filenameSerial`).
static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The state of an entry's download, watched by the fetches waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Ready,
    Failed,
}

#[derive(Debug)]
struct Entry {
    /// The user's cache directory.
    directory: PathBuf,
    filename: String,
    /// Claimed space: the expected size while pending, the real size once stored.
    size: u64,
    /// The file's SHA-256 once stored.
    sha256: Option<String>,
    status: watch::Sender<Status>,
    /// Fetches using the entry (downloading, waiting for or copying it): never evicted.
    references: usize,
    /// The use counter at the last use (LRU order).
    last_used: u64,
}

impl Entry {
    fn path(&self) -> PathBuf {
        self.directory.join(&self.filename)
    }
}

/// What looking a key up found.
#[derive(Debug)]
enum Lookup {
    /// A stored file; the entry is referenced.
    Hit {
        file: PathBuf,
        size: u64,
        sha256: String,
    },
    /// Another fetch is downloading it; the entry is referenced.
    Wait(watch::Receiver<Status>),
    /// A new pending entry, referenced, to be downloaded to `file` once space is reserved.
    Create { file: PathBuf },
}

/// The cache's bookkeeping, without I/O: files to delete are returned to the caller.
#[derive(Debug)]
struct State {
    capacity: u64,
    entries: HashMap<String, Entry>,
    /// Claimed bytes (Mesos's `tally`).
    used: u64,
    uses: u64,
}

impl State {
    fn new(capacity: u64) -> State {
        State {
            capacity,
            entries: HashMap::new(),
            used: 0,
            uses: 0,
        }
    }

    /// Looks `key` up, referencing what it finds or creating a pending entry for it.
    fn lookup(&mut self, key: &str, directory: &Path, basename: &str) -> Lookup {
        self.uses += 1;
        let uses = self.uses;
        if let Some(entry) = self.entries.get_mut(key) {
            entry.references += 1;
            entry.last_used = uses;
            return match *entry.status.borrow() {
                Status::Ready => Lookup::Hit {
                    file: entry.path(),
                    size: entry.size,
                    sha256: entry.sha256.clone().unwrap_or_default(),
                },
                _ => Lookup::Wait(entry.status.subscribe()),
            };
        }
        // One counter for the whole process: the agents of `remesos local` share the default
        // directory, and their file names must not collide.
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let filename = format!("{FILE_PREFIX}{serial}-{basename}");
        let entry = Entry {
            directory: directory.to_path_buf(),
            filename,
            size: 0,
            sha256: None,
            status: watch::channel(Status::Pending).0,
            references: 1,
            last_used: uses,
        };
        let file = entry.path();
        self.entries.insert(key.to_string(), entry);
        Lookup::Create { file }
    }

    /// The entry of `key` if its file is `file` (a removed and re-created entry has another).
    fn entry_mut(&mut self, key: &str, file: &Path) -> Option<&mut Entry> {
        self.entries.get_mut(key).filter(|e| e.path() == file)
    }

    /// Claims `size` bytes for the pending entry `key`, evicting unreferenced entries, least
    /// recently used first, when the space is short (Mesos `Cache::reserve`). Returns the
    /// evicted files; on error nothing was evicted.
    fn reserve(&mut self, key: &str, size: u64) -> Result<Vec<PathBuf>, String> {
        let available = self.capacity.saturating_sub(self.used);
        let mut victims = Vec::new();
        if size > available {
            let missing = size - available;
            let mut candidates: Vec<(&String, &Entry)> = self
                .entries
                .iter()
                .filter(|(k, e)| {
                    k.as_str() != key && e.references == 0 && *e.status.borrow() == Status::Ready
                })
                .collect();
            candidates.sort_by_key(|(_, e)| e.last_used);
            let mut freed = 0;
            for (k, e) in candidates {
                if freed >= missing {
                    break;
                }
                freed += e.size;
                victims.push(k.clone());
            }
            if freed < missing {
                return Err(format!(
                    "Failed to reserve space in the cache: Could not free up enough fetcher \
                     cache space ({size} bytes wanted, {available} of {} free)",
                    self.capacity
                ));
            }
        }
        let files = victims
            .iter()
            .filter_map(|victim| self.remove(victim))
            .collect();
        if let Some(entry) = self.entries.get_mut(key) {
            entry.size = size;
            self.used += size;
        }
        Ok(files)
    }

    /// Removes `key`, fails it if it was pending and releases its space; returns its file.
    fn remove(&mut self, key: &str) -> Option<PathBuf> {
        let entry = self.entries.remove(key)?;
        self.used = self.used.saturating_sub(entry.size);
        if *entry.status.borrow() == Status::Pending {
            entry.status.send_replace(Status::Failed);
        }
        Some(entry.path())
    }

    /// The pending entry `key` was stored with `size` bytes and `sha256`: it becomes ready if
    /// it fits what was reserved (Mesos `Cache::adjust`), else it is removed.
    fn stored(&mut self, key: &str, file: &Path, size: u64, sha256: String) -> Option<PathBuf> {
        let entry = self.entry_mut(key, file)?;
        if size > entry.size {
            tracing::warn!(
                key,
                reserved = entry.size,
                size,
                "URI download result is larger than expected: not kept in the fetcher cache"
            );
            return self.remove(key);
        }
        let released = entry.size - size;
        entry.size = size;
        entry.sha256 = Some(sha256);
        entry.status.send_replace(Status::Ready);
        self.used -= released;
        None
    }

    fn unreference(&mut self, key: &str, file: &Path) {
        if let Some(entry) = self.entry_mut(key, file) {
            entry.references = entry.references.saturating_sub(1);
        }
    }
}

/// One URI's use of the cache during a fetch: its key and file, to settle in
/// [`FetcherCache::finish`].
#[derive(Debug, Clone)]
struct Use {
    key: String,
    file: PathBuf,
    downloading: bool,
}

/// The actions decided for one fetch, with the entries they hold.
#[derive(Debug)]
pub struct Plan {
    pub items: Vec<FetchItem>,
    uses: Vec<Option<Use>>,
}

impl Plan {
    /// Every URI fetched directly, holding no entry.
    pub fn bypassing(uris: &[Uri]) -> Plan {
        Plan {
            items: FetchItem::bypassing(uris),
            uses: vec![None; uris.len()],
        }
    }
}

/// The agent's fetcher cache (`--fetcher_cache_dir`, `--fetcher_cache_size`) and the
/// fetcher's metrics.
#[derive(Debug)]
pub struct FetcherCache {
    directory: PathBuf,
    state: Mutex<State>,
    succeeded: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
}

/// A broken cache setting: the agent stops with it.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("--fetcher_cache_dir must be an absolute path other than '/', not '{0}'")]
    BadDirectory(String),
    #[error("--fetcher_cache_dir '{path}': {reason}")]
    Unsafe { path: String, reason: String },
    #[error("Could not delete fetcher cache directory '{path}': {error}")]
    Clear { path: String, error: std::io::Error },
}

impl Default for FetcherCache {
    fn default() -> Self {
        FetcherCache::new(PathBuf::from(DEFAULT_CACHE_DIR), DEFAULT_CACHE_SIZE)
    }
}

impl FetcherCache {
    pub fn new(directory: PathBuf, capacity: u64) -> FetcherCache {
        FetcherCache {
            directory,
            state: Mutex::new(State::new(capacity)),
            succeeded: Default::default(),
            failed: Default::default(),
        }
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// Checks the directory setting (absolute, not `/`).
    pub fn validate_directory(path: &Path) -> Result<(), CacheError> {
        if !path.is_absolute() || path.parent().is_none() {
            return Err(CacheError::BadDirectory(path.display().to_string()));
        }
        Ok(())
    }

    /// At agent start: deletes the cache directory and what is in it, as Mesos does (the
    /// cache does not survive a restart), and makes it again, refusing a directory another
    /// user could swap: it and every ancestor must belong to root or to the agent's user
    /// and be writable by others only with the sticky bit (as `/tmp`).
    pub fn reset(&self) -> Result<(), CacheError> {
        let path = &self.directory;
        Self::validate_directory(path)?;
        let shown = || path.display().to_string();
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
                return Err(CacheError::Unsafe {
                    path: shown(),
                    reason: "exists and is not a directory".into(),
                });
            }
            Ok(_) => remove_all(path).map_err(|error| CacheError::Clear {
                path: shown(),
                error,
            })?,
            Err(_) => {}
        }
        std::fs::create_dir_all(path).map_err(|e| CacheError::Unsafe {
            path: shown(),
            reason: format!("cannot be created: {e}"),
        })?;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let mut at = Some(path.as_path());
        while let Some(dir) = at {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::symlink_metadata(dir).map_err(|e| CacheError::Unsafe {
                path: shown(),
                reason: format!("'{}': {e}", dir.display()),
            })?;
            let unsafe_dir = meta.file_type().is_symlink()
                || (meta.uid() != 0 && meta.uid() != me)
                || (meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0);
            if unsafe_dir {
                return Err(CacheError::Unsafe {
                    path: shown(),
                    reason: format!(
                        "'{}' is a symlink, belongs to another user or is writable by others \
                         without the sticky bit",
                        dir.display()
                    ),
                });
            }
            at = dir.parent();
        }
        Ok(())
    }

    /// The cache directory of `user` (Mesos: `<dir>/<user>`, the directory itself without a
    /// user). A name that is not a plain file name is refused.
    pub fn user_directory(&self, user: Option<&str>) -> Result<PathBuf, String> {
        match user {
            None => Ok(self.directory.clone()),
            Some(name)
                if !name.is_empty()
                    && name != "."
                    && name != ".."
                    && !name.contains(['/', '\0']) =>
            {
                Ok(self.directory.join(name))
            }
            Some(name) => Err(format!("invalid user name for the fetcher cache: {name:?}")),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides how each of `uris` is fetched (see the module doc), waiting for downloads of
    /// the same keys by other fetches. `size_of` finds a URI's size before a download is
    /// reserved; `basename` is the name the URI is saved under.
    pub async fn plan<S, F>(
        &self,
        user: Option<&str>,
        directory: &Path,
        uris: &[Uri],
        basename: impl Fn(&Uri) -> Option<String>,
        size_of: S,
    ) -> Plan
    where
        S: Fn(Uri) -> F,
        F: std::future::Future<Output = Result<u64, String>>,
    {
        let mut plan = Plan {
            items: Vec::new(),
            uses: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for uri in uris {
            let bypass = |plan: &mut Plan| {
                plan.items.push(FetchItem {
                    uri: uri.clone(),
                    action: CacheAction::Bypass,
                });
                plan.uses.push(None);
            };
            let key = match user {
                Some(user) => format!("{user}@{}", uri.value),
                None => uri.value.clone(),
            };
            // A URI given twice in one command is fetched directly the second time: waiting
            // for this fetch's own download would never end.
            let Some(name) = basename(uri).filter(|_| uri.cache() && seen.insert(key.clone()))
            else {
                bypass(&mut plan);
                continue;
            };
            let (action, used) = self.action_for(&key, directory, &name, uri, &size_of).await;
            plan.items.push(FetchItem {
                uri: uri.clone(),
                action,
            });
            plan.uses.push(used);
        }
        plan
    }

    async fn action_for<S, F>(
        &self,
        key: &str,
        directory: &Path,
        name: &str,
        uri: &Uri,
        size_of: &S,
    ) -> (CacheAction, Option<Use>)
    where
        S: Fn(Uri) -> F,
        F: std::future::Future<Output = Result<u64, String>>,
    {
        let revert = |error: &str| {
            tracing::warn!(uri = %uri.value, "Reverting to fetching directly into the sandbox for '{}', due to failure to fetch through the cache, with error: {error}", uri.value);
            (CacheAction::Bypass, None)
        };
        // At most twice: a stale entry found on the first look is dropped and made anew.
        for _ in 0..2 {
            let lookup = self.lock().lookup(key, directory, name);
            match lookup {
                Lookup::Hit { file, size, sha256 } => {
                    if let Some(action) = self.validated(key, &file, size, sha256) {
                        let used = Use {
                            key: key.to_string(),
                            file,
                            downloading: false,
                        };
                        return (action, Some(used));
                    }
                }
                Lookup::Wait(mut status) => {
                    let _ = status.wait_for(|s| *s != Status::Pending).await;
                    let ready = {
                        let mut state = self.lock();
                        state.entries.get_mut(key).and_then(|e| {
                            (*e.status.borrow() == Status::Ready)
                                .then(|| (e.path(), e.size, e.sha256.clone().unwrap_or_default()))
                        })
                    };
                    match ready {
                        Some((file, size, sha256)) => {
                            return (
                                CacheAction::Retrieve {
                                    file: file.clone(),
                                    size,
                                    sha256,
                                },
                                Some(Use {
                                    key: key.to_string(),
                                    file,
                                    downloading: false,
                                }),
                            );
                        }
                        None => return revert("the download by another fetch failed"),
                    }
                }
                Lookup::Create { file } => {
                    let size = size_of(uri.clone()).await;
                    let reserved = {
                        let mut state = self.lock();
                        match size {
                            Ok(0) => Err("the URI's size is 0".to_string()),
                            Ok(size) => state.reserve(key, size),
                            Err(e) => Err(format!(
                                "Could not determine size of cache file for '{key}' with error: {e}"
                            )),
                        }
                        .inspect_err(|_| {
                            state.remove(key);
                        })
                    };
                    return match reserved {
                        Ok(evicted) => {
                            remove_files(&evicted);
                            (
                                CacheAction::Download { file: file.clone() },
                                Some(Use {
                                    key: key.to_string(),
                                    file,
                                    downloading: true,
                                }),
                            )
                        }
                        Err(error) => revert(&error),
                    };
                }
            }
        }
        revert("the cache entry was invalid twice")
    }

    /// A ready entry's file checked against its recorded size (Mesos `Cache::validate` checks
    /// that it exists). A stale entry is removed and `None` returned.
    fn validated(&self, key: &str, file: &Path, size: u64, sha256: String) -> Option<CacheAction> {
        let problem = match std::fs::symlink_metadata(file) {
            Ok(meta) if meta.is_file() && meta.len() == size => None,
            Ok(meta) if meta.is_file() => Some(format!(
                "Cache file '{}' has {} bytes, {size} expected",
                file.display(),
                meta.len()
            )),
            Ok(_) => Some(format!(
                "Cache file '{}' is not a regular file",
                file.display()
            )),
            Err(_) => Some(format!("Cache file does not exist: {}", file.display())),
        };
        let Some(problem) = problem else {
            return Some(CacheAction::Retrieve {
                file: file.to_path_buf(),
                size,
                sha256,
            });
        };
        tracing::warn!(
            key,
            "Validation failed: '{problem}'. Removing cache entry..."
        );
        let removed = {
            let mut state = self.lock();
            state.unreference(key, file);
            if state.entry_mut(key, file).is_some() {
                state.remove(key)
            } else {
                None
            }
        };
        remove_files(removed.as_slice());
        None
    }

    /// Settles a fetch made with `plan`: entries it downloaded become ready (or are removed
    /// when it failed), entries it found corrupt are removed, and all are released. Counts
    /// the fetch in the metrics.
    pub fn finish(&self, plan: &Plan, reports: &[CacheReport], succeeded: bool) {
        let counter = if succeeded {
            &self.succeeded
        } else {
            &self.failed
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut removed = Vec::new();
        {
            let mut state = self.lock();
            for (index, used) in plan.uses.iter().enumerate() {
                let Some(used) = used else { continue };
                state.unreference(&used.key, &used.file);
                let report = reports.iter().find(|r| r.index() == index);
                let stale = match report {
                    Some(CacheReport::Corrupt { .. }) => true,
                    Some(CacheReport::Stored { size, sha256, .. })
                        if used.downloading && succeeded =>
                    {
                        removed.extend(state.stored(&used.key, &used.file, *size, sha256.clone()));
                        false
                    }
                    _ => used.downloading,
                };
                if stale && state.entry_mut(&used.key, &used.file).is_some() {
                    removed.extend(state.remove(&used.key));
                }
            }
        }
        remove_files(&removed);
    }

    /// Mesos's fetcher metrics, named as in `FetcherProcess::Metrics`.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        use std::sync::atomic::Ordering::Relaxed;
        let state = self.lock();
        vec![
            (
                "containerizer/fetcher/task_fetches_succeeded".into(),
                self.succeeded.load(Relaxed) as f64,
            ),
            (
                "containerizer/fetcher/task_fetches_failed".into(),
                self.failed.load(Relaxed) as f64,
            ),
            (
                "containerizer/fetcher/cache_size_total_bytes".into(),
                state.capacity as f64,
            ),
            (
                "containerizer/fetcher/cache_size_used_bytes".into(),
                state.used as f64,
            ),
        ]
    }
}

/// Deletes `path` and what is in it (never following a symlink). Another agent on the host
/// sharing the default directory may be deleting it at the same moment: what vanishes
/// under us is not an error.
fn remove_all(path: &Path) -> std::io::Result<()> {
    let mut last = None;
    for _ in 0..5 {
        match std::fs::remove_dir_all(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(path).is_err() {
                    return Ok(());
                }
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the directory keeps changing")))
}

/// Deletes cache files (never through a symlink: `unlink` removes the link itself).
fn remove_files(files: &[PathBuf]) {
    for file in files {
        match std::fs::remove_file(file) {
            Ok(()) => tracing::debug!(file = %file.display(), "removed a fetcher cache file"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "Could not delete fetcher cache file")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(state: &mut State, key: &str, size: u64) -> PathBuf {
        let Lookup::Create { file } = state.lookup(key, Path::new("/c"), key) else {
            panic!("{key} exists");
        };
        state.reserve(key, size).unwrap();
        assert_eq!(state.stored(key, &file, size, "d".into()), None);
        state.unreference(key, &file);
        file
    }

    #[test]
    fn eviction_takes_the_least_recently_used_unreferenced_entries_first() {
        let mut state = State::new(300);
        let a = ready(&mut state, "a", 100);
        let b = ready(&mut state, "b", 100);
        let _c = ready(&mut state, "c", 100);
        // `a` is used again: `b` is now the least recently used.
        let Lookup::Hit { file, .. } = state.lookup("a", Path::new("/c"), "a") else {
            panic!()
        };
        state.unreference("a", &file);
        assert!(matches!(
            state.lookup("d", Path::new("/c"), "d"),
            Lookup::Create { .. }
        ));
        assert_eq!(state.reserve("d", 100).unwrap(), vec![b]);
        assert!(state.entries.contains_key("a"));
        // Next: `c`, then `a`.
        assert!(matches!(
            state.lookup("e", Path::new("/c"), "e"),
            Lookup::Create { .. }
        ));
        let evicted = state.reserve("e", 150).unwrap();
        assert_eq!(evicted.len(), 2);
        assert!(evicted.contains(&a));
        assert_eq!(state.used, 250);
    }

    #[test]
    fn a_uri_larger_than_the_cache_is_not_reserved_and_nothing_is_evicted() {
        let mut state = State::new(300);
        ready(&mut state, "a", 200);
        assert!(matches!(
            state.lookup("big", Path::new("/c"), "big"),
            Lookup::Create { .. }
        ));
        assert!(state.reserve("big", 301).is_err());
        assert!(state.entries.contains_key("a"));
        assert_eq!(state.used, 200);
    }

    #[test]
    fn referenced_and_pending_entries_are_never_evicted() {
        let mut state = State::new(200);
        let a = ready(&mut state, "a", 100);
        // `a` in use by a fetch; `p` pending (its download referenced).
        assert!(matches!(
            state.lookup("a", Path::new("/c"), "a"),
            Lookup::Hit { .. }
        ));
        assert!(matches!(
            state.lookup("p", Path::new("/c"), "p"),
            Lookup::Create { .. }
        ));
        state.reserve("p", 100).unwrap();
        assert!(matches!(
            state.lookup("q", Path::new("/c"), "q"),
            Lookup::Create { .. }
        ));
        assert!(
            state.reserve("q", 50).is_err(),
            "the cache is full of entries in use"
        );
        state.unreference("a", &a);
        assert_eq!(state.reserve("q", 50).unwrap(), vec![a]);
    }

    #[test]
    fn a_second_fetch_of_a_pending_uri_waits_and_sees_it_ready() {
        let mut state = State::new(1000);
        let Lookup::Create { file } = state.lookup("u@x", Path::new("/c/u"), "x") else {
            panic!()
        };
        state.reserve("u@x", 10).unwrap();
        let Lookup::Wait(status) = state.lookup("u@x", Path::new("/c/u"), "x") else {
            panic!("a pending entry must be waited for")
        };
        assert_eq!(*status.borrow(), Status::Pending);
        assert_eq!(state.stored("u@x", &file, 8, "d".into()), None);
        assert_eq!(*status.borrow(), Status::Ready);
        // The reservation is adjusted down to the real size.
        assert_eq!(state.used, 8);
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            file.parent() == Some(Path::new("/c/u"))
                && name.starts_with('c')
                && name.ends_with("-x"),
            "{file:?}"
        );
    }

    #[test]
    fn a_download_larger_than_reserved_is_not_kept_and_waiters_see_it_fail() {
        let mut state = State::new(1000);
        let Lookup::Create { file } = state.lookup("k", Path::new("/c"), "x") else {
            panic!()
        };
        state.reserve("k", 10).unwrap();
        let Lookup::Wait(status) = state.lookup("k", Path::new("/c"), "x") else {
            panic!()
        };
        assert_eq!(state.stored("k", &file, 11, "d".into()), Some(file));
        assert_eq!(*status.borrow(), Status::Failed);
        assert_eq!(state.used, 0);
        assert!(state.entries.is_empty());
    }

    #[test]
    fn user_directories_are_plain_names() {
        let cache = FetcherCache::new("/tmp/c".into(), 1);
        assert_eq!(
            cache.user_directory(Some("alice")).unwrap(),
            Path::new("/tmp/c/alice")
        );
        assert_eq!(cache.user_directory(None).unwrap(), Path::new("/tmp/c"));
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(cache.user_directory(Some(bad)).is_err(), "{bad}");
        }
        assert!(FetcherCache::validate_directory(Path::new("/")).is_err());
        assert!(FetcherCache::validate_directory(Path::new("rel")).is_err());
    }

    fn uri(value: &str) -> Uri {
        Uri {
            value: value.into(),
            cache: Some(true),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_missing_or_truncated_cache_file_is_downloaded_again() {
        let dir = std::env::temp_dir().join(format!("fetcher-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cache = FetcherCache::new(dir.clone(), 1000);
        let size = |_uri: Uri| async { Ok::<u64, String>(5) };
        let name = |_: &Uri| Some("f".to_string());
        let plan = cache
            .plan(None, &dir, &[uri("http://h/f")], name, size)
            .await;
        let CacheAction::Download { file } = plan.items[0].action.clone() else {
            panic!("{plan:?}")
        };
        std::fs::write(&file, b"hello").unwrap();
        let ok = vec![CacheReport::Stored {
            index: 0,
            size: 5,
            sha256: "d".into(),
        }];
        cache.finish(&plan, &ok, true);
        let again = cache
            .plan(None, &dir, &[uri("http://h/f")], name, size)
            .await;
        assert!(matches!(
            again.items[0].action,
            CacheAction::Retrieve { .. }
        ));
        cache.finish(&again, &[], true);
        // Truncated behind the agent's back: the entry goes, a new download is planned.
        std::fs::write(&file, b"he").unwrap();
        let third = cache
            .plan(None, &dir, &[uri("http://h/f")], name, size)
            .await;
        let CacheAction::Download { file: new } = third.items[0].action.clone() else {
            panic!("{third:?}")
        };
        assert_ne!(new, file);
        assert!(!file.exists());
        // A corrupt report from the fetcher drops the entry too.
        std::fs::write(&new, b"hello").unwrap();
        cache.finish(&third, &ok, true);
        let fourth = cache
            .plan(None, &dir, &[uri("http://h/f")], name, size)
            .await;
        cache.finish(&fourth, &[CacheReport::Corrupt { index: 0 }], true);
        assert!(!new.exists());
        assert!(cache.lock().entries.is_empty());
        let metrics = cache.metrics();
        assert_eq!(metrics[0].1, 4.0);
        assert_eq!(metrics[3].1, 0.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
