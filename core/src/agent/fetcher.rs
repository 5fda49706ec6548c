//! The fetcher: puts a task's `CommandInfo.URI`s into its sandbox before the executor starts
//! (reference/mesos-contract.md §4.4, Mesos `docs/fetcher.md`, `src/launcher/fetcher.cpp`).
//!
//! Data flow, for each URI in order (Mesos fetches a task's URIs sequentially and stops at
//! the first failure, which fails the task):
//!
//! ```text
//! uri.value ──validate──► source ──┬─ local path / file:// ─► copy ─┐
//!                                  ├─ relative path ─► frameworks_home/… ─► copy ─┤
//!                                  └─ http(s):// ─► GET (redirects, stall + total timeout) ─┤
//!                                                                                       ▼
//!                                           <sandbox>/<output_file or basename of the URI>
//!                                                 │ executable? chmod 0755
//!                                                 │ else extract (default true) and an archive?
//!                                                 ▼   unpack into <sandbox>, confined to it
//! ```
//!
//! Who runs it (issue 11): the agent creates the sandbox, opens its `stdout`/`stderr`, hands
//! the sandbox to the task's user and then runs [`fetch`] in a child process, `remesos
//! fetcher` (request as JSON on stdin, see [`request_to_json`]), under the task's uid, gid and
//! supplementary groups — as Mesos runs `mesos-fetcher` as the task's user
//! (`src/slave/containerizer/fetcher.cpp`). So a `file:///etc/shadow` URI fails with the
//! user's own `Permission denied`. When the agent is not root or no user applies, the same
//! child runs as the agent's user. The child's log is the sandbox's `stderr`; its stdout
//! carries the error, if any, back to the agent.
//!
//! Differences from Mesos, on purpose:
//! - Everything written lands through [`beneath`]: `output_file` and archive entries are
//!   created relative to the sandbox's descriptor with `openat2(RESOLVE_BENEATH)`, never
//!   through a symlink that leads out, so the checks hold even when the fetch runs as root.
//! - Archives are unpacked with pure-Rust readers (`tar`, `flate2`, `bzip2`, `lzma-rs`, `zip`)
//!   instead of libarchive/`gunzip`, so a fresh machine needs no tools, and every entry is
//!   checked: an entry that is absolute, has a `..` component, is a symlink whose target is
//!   absolute or resolves outside the sandbox (directly, or through a chain of links), is a
//!   hard link to a name outside, or would be written through such a symlink fails the fetch
//!   (entries before it stay extracted). Device and FIFO entries are skipped; setuid, setgid
//!   and sticky bits are dropped.
//! - `output_file` may not contain `..` (Mesos only refuses absolute paths, and its own TODO
//!   says the subdirectory should be checked).
//! - A local source must be a regular file (Mesos's `cp` would read a FIFO or `/dev/zero`).
//! - `https://` goes through rustls (ring) instead of libcurl/OpenSSL. The trusted CAs are
//!   the system's, found as OpenSSL finds them (`SSL_CERT_FILE`, `SSL_CERT_DIR`, else the
//!   distribution's store such as `/etc/ssl/certs`), plus [`FetchOptions::ca_files`].
//! - `ftp://` and `ftps://` are refused with a clear error: no maintained FTP client is in
//!   the tree (Mesos uses libcurl for them).
//! - Every other scheme (`hdfs://`, `hftp://`, `s3://`, `s3n://`, …) goes to the Hadoop
//!   client as in Mesos: `hadoop fs -copyToLocal <uri> <dst>` with `<hadoop_home>/bin/hadoop`
//!   (`--hadoop_home`, else `$HADOOP_HOME`, else `hadoop` on the PATH), run by this process,
//!   so as the task's user. The client's configuration (`fs.default.name`) is left alone.
//!   It writes into a fresh scratch directory of the sandbox and the file is then copied
//!   into place through [`beneath`] like any other. A missing or failing client fails the
//!   fetch with its status and the tail of its output.
//! - `cache: true` goes through the agent's fetcher cache (fetcher_cache.rs): the agent
//!   decides per URI whether to download into a cache file, retrieve from one or bypass the
//!   cache ([`CacheAction`]); this process does the I/O and reports each stored file's size
//!   and SHA-256, or a cache file that no longer matches them ([`CacheReport`]).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use remesos_proto::v1::command_info::Uri;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::io::AsyncWriteExt;

use super::beneath;

/// How many redirects an HTTP download follows (libcurl, which Mesos uses, follows them too).
const MAX_REDIRECTS: usize = 10;

/// Settings of one fetch, from the agent's flags.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// `--frameworks_home`: the directory relative URIs are resolved against. `None` makes a
    /// relative URI an error, as in Mesos.
    pub frameworks_home: Option<PathBuf>,
    /// `--fetcher_stall_timeout` (Mesos default 1 minute): an HTTP download that receives no
    /// data for this long fails. Also bounds connecting and waiting for the response head.
    pub stall_timeout: Duration,
    /// An upper bound on the whole fetch (all URIs), `None` for no bound. Mesos has no such
    /// flag for the fetcher; the agent may set it from `--executor_registration_timeout`.
    pub total_timeout: Option<Duration>,
    /// PEM files of CA certificates trusted for `https://` URIs besides the system's store
    /// (which `SSL_CERT_FILE` / `SSL_CERT_DIR` select, as for OpenSSL). Empty by default.
    pub ca_files: Vec<PathBuf>,
    /// `--hadoop_home`: the Hadoop client for `hdfs://` and other Hadoop URIs is
    /// `<hadoop_home>/bin/hadoop`; without it `$HADOOP_HOME/bin/hadoop`, else `hadoop` on the
    /// PATH (Mesos passes the flag to its fetcher as `HADOOP_HOME`).
    pub hadoop_home: Option<PathBuf>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            frameworks_home: None,
            stall_timeout: Duration::from_secs(60),
            total_timeout: None,
            ca_files: Vec::new(),
            hadoop_home: None,
        }
    }
}

/// A failed fetch. Its `Display` is the message the task's `TASK_FAILED` carries, in Mesos's
/// words: `Failed to fetch '<uri>': <reason>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Failed to fetch '{uri}': {reason}")]
pub struct FetchError {
    /// The URI as the framework gave it.
    pub uri: String,
    /// Why, e.g. `Error downloading resource, received HTTP return code 404`.
    pub reason: String,
}

/// Why a fetch request could not be written or read (the agent and `remesos fetcher` log
/// it; the task fails with `Failed to start the fetcher: <this>` when the agent cannot
/// write it).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("'{}' is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("invalid fetch request: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error("{0}")]
    Missing(&'static str),
}

/// What the fetcher does with one URI and the agent's cache (Mesos
/// `FetcherInfo::Item::Action`; the agent decides, fetcher_cache.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheAction {
    /// Straight into the sandbox (`BYPASS_CACHE`).
    Bypass,
    /// Into the new cache file `file`, then from there into the sandbox
    /// (`DOWNLOAD_AND_CACHE`); its size and SHA-256 are reported back.
    Download { file: PathBuf },
    /// From the cache file `file` (`RETRIEVE_FROM_CACHE`), which must still hold `size` bytes
    /// with this SHA-256; otherwise the URI is fetched directly and the file reported corrupt.
    Retrieve {
        file: PathBuf,
        size: u64,
        sha256: String,
    },
}

/// One URI of a fetch and what to do with the cache for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchItem {
    pub uri: Uri,
    pub action: CacheAction,
}

impl FetchItem {
    /// URIs fetched without the cache.
    pub fn bypassing(uris: &[Uri]) -> Vec<FetchItem> {
        uris.iter()
            .map(|uri| FetchItem {
                uri: uri.clone(),
                action: CacheAction::Bypass,
            })
            .collect()
    }
}

/// What the fetcher tells the agent about the cache file of item `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheReport {
    /// Downloaded into the cache: the file's size and SHA-256 (lowercase hex).
    Stored {
        index: usize,
        size: u64,
        sha256: String,
    },
    /// The cached file no longer matched its size or digest; the URI was fetched directly.
    Corrupt { index: usize },
}

impl CacheReport {
    pub fn index(&self) -> usize {
        match self {
            CacheReport::Stored { index, .. } | CacheReport::Corrupt { index } => *index,
        }
    }
}

/// The result of a fetch with what it learnt about cache files (reported even when a later
/// URI failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    pub reports: Vec<CacheReport>,
    pub result: Result<(), FetchError>,
}

/// The request the agent writes to `remesos fetcher`'s stdin: the URIs (their `CommandInfo.URI`
/// fields and cache actions), the sandbox and the fetch options, as one JSON object.
pub fn request_to_json(
    items: &[FetchItem],
    sandbox: &Path,
    options: &FetchOptions,
) -> Result<Vec<u8>, RequestError> {
    let text = |path: &Path| {
        path.to_str()
            .map(str::to_string)
            .ok_or_else(|| RequestError::NotUtf8(path.to_path_buf()))
    };
    let uris = items
        .iter()
        .map(|FetchItem { uri, action }| {
            let mut value = serde_json::json!({
                "value": uri.value,
                "executable": uri.executable,
                "extract": uri.extract,
                "cache": uri.cache,
                "output_file": uri.output_file,
            });
            match action {
                CacheAction::Bypass => {}
                CacheAction::Download { file } => {
                    value["action"] = "download".into();
                    value["cache_file"] = text(file)?.into();
                }
                CacheAction::Retrieve { file, size, sha256 } => {
                    value["action"] = "retrieve".into();
                    value["cache_file"] = text(file)?.into();
                    value["size"] = (*size).into();
                    value["sha256"] = sha256.clone().into();
                }
            }
            Ok(value)
        })
        .collect::<Result<Vec<_>, RequestError>>()?;
    let request = serde_json::json!({
        "sandbox": text(sandbox)?,
        "uris": uris,
        "frameworks_home": options.frameworks_home.as_deref().map(text).transpose()?,
        "stall_timeout_ms": options.stall_timeout.as_millis() as u64,
        "total_timeout_ms": options.total_timeout.map(|t| t.as_millis() as u64),
        "ca_files": options.ca_files.iter().map(|f| text(f)).collect::<Result<Vec<_>, _>>()?,
        "hadoop_home": options.hadoop_home.as_deref().map(text).transpose()?,
    });
    Ok(request.to_string().into_bytes())
}

/// Reads a request written by [`request_to_json`]: the items, the sandbox and the options.
pub fn request_from_json(
    bytes: &[u8],
) -> Result<(Vec<FetchItem>, PathBuf, FetchOptions), RequestError> {
    use RequestError::Missing;
    let request: serde_json::Value = serde_json::from_slice(bytes)?;
    let string = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let sandbox = string(&request["sandbox"]).ok_or(Missing("the fetch request has no sandbox"))?;
    let uris = request["uris"]
        .as_array()
        .ok_or(Missing("the fetch request has no URIs"))?
        .iter()
        .map(|u| {
            let uri = Uri {
                value: string(&u["value"]).ok_or(Missing("a URI has no value"))?,
                executable: u["executable"].as_bool(),
                extract: u["extract"].as_bool(),
                cache: u["cache"].as_bool(),
                output_file: string(&u["output_file"]),
            };
            let file = || {
                string(&u["cache_file"])
                    .map(PathBuf::from)
                    .ok_or(Missing("a cached URI has no cache file"))
            };
            let action = match u["action"].as_str() {
                None => CacheAction::Bypass,
                Some("download") => CacheAction::Download { file: file()? },
                Some("retrieve") => CacheAction::Retrieve {
                    file: file()?,
                    size: u["size"]
                        .as_u64()
                        .ok_or(Missing("a cached URI has no size"))?,
                    sha256: string(&u["sha256"]).ok_or(Missing("a cached URI has no digest"))?,
                },
                Some(_) => return Err(Missing("a URI has an unknown cache action")),
            };
            Ok(FetchItem { uri, action })
        })
        .collect::<Result<Vec<_>, RequestError>>()?;
    let options = FetchOptions {
        frameworks_home: string(&request["frameworks_home"]).map(PathBuf::from),
        stall_timeout: Duration::from_millis(
            request["stall_timeout_ms"].as_u64().unwrap_or(60_000),
        ),
        total_timeout: request["total_timeout_ms"]
            .as_u64()
            .map(Duration::from_millis),
        ca_files: request["ca_files"]
            .as_array()
            .map(|files| files.iter().filter_map(string).map(PathBuf::from).collect())
            .unwrap_or_default(),
        hadoop_home: string(&request["hadoop_home"]).map(PathBuf::from),
    };
    Ok((uris, PathBuf::from(sandbox), options))
}

/// The fetcher's answer on its stdout: the error, if any, and the cache reports.
pub fn answer_to_json(outcome: &FetchOutcome) -> String {
    let reports: Vec<serde_json::Value> = outcome
        .reports
        .iter()
        .map(|report| match report {
            CacheReport::Stored {
                index,
                size,
                sha256,
            } => serde_json::json!({"index": index, "size": size, "sha256": sha256}),
            CacheReport::Corrupt { index } => serde_json::json!({"index": index, "corrupt": true}),
        })
        .collect();
    serde_json::json!({
        "error": outcome.result.as_ref().err().map(|e| serde_json::json!({"uri": e.uri, "reason": e.reason})),
        "cache": reports,
    })
    .to_string()
}

/// Reads [`answer_to_json`]'s answer; `None` if it is not one (the fetcher died first).
pub fn answer_from_json(text: &str) -> Option<FetchOutcome> {
    let answer: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    let reports = answer["cache"]
        .as_array()?
        .iter()
        .filter_map(|r| {
            let index = usize::try_from(r["index"].as_u64()?).ok()?;
            if r["corrupt"].as_bool() == Some(true) {
                return Some(CacheReport::Corrupt { index });
            }
            Some(CacheReport::Stored {
                index,
                size: r["size"].as_u64()?,
                sha256: r["sha256"].as_str()?.to_string(),
            })
        })
        .collect();
    let result = match &answer["error"] {
        serde_json::Value::Null => Ok(()),
        error => Err(FetchError {
            uri: error["uri"].as_str()?.to_string(),
            reason: error["reason"].as_str()?.to_string(),
        }),
    };
    Some(FetchOutcome { reports, result })
}

/// Fetches `items`, in order, into `sandbox` (which must exist), through the cache as each
/// item's [`CacheAction`] says.
///
/// Every step is written to `log` as one line of text; the agent passes the sandbox's
/// `stderr` file, where Mesos's fetcher output lands too. `log` is a blocking
/// [`std::io::Write`] because it is written a few short lines at a time; errors writing it
/// are ignored (a full disk shows up in the fetch itself).
pub async fn fetch<W: Write + Send>(
    items: &[FetchItem],
    sandbox: &Path,
    options: &FetchOptions,
    log: &mut W,
) -> FetchOutcome {
    let deadline = options
        .total_timeout
        .map(|timeout| tokio::time::Instant::now() + timeout);
    let mut reports = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let uri = &item.uri;
        logln(log, format_args!("Fetching URI '{}'", uri.value));
        let one = fetch_one(item, index, sandbox, options, log, &mut reports);
        let result = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, one).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "Timed out after {:?} fetching all URIs",
                    options.total_timeout.unwrap_or_default()
                )),
            },
            None => one.await,
        };
        match result {
            Ok(fetched) => logln(
                log,
                format_args!("Fetched '{}' to '{}'", uri.value, fetched.display()),
            ),
            Err(reason) => {
                let error = FetchError {
                    uri: uri.value.clone(),
                    reason,
                };
                logln(log, format_args!("{error}"));
                return FetchOutcome {
                    reports,
                    result: Err(error),
                };
            }
        }
    }
    logln(
        log,
        format_args!("Successfully fetched all URIs into '{}'", sandbox.display()),
    );
    FetchOutcome {
        reports,
        result: Ok(()),
    }
}

fn logln<W: Write>(log: &mut W, line: std::fmt::Arguments<'_>) {
    // Ignored on purpose: see `fetch`.
    let _ = writeln!(log, "{line}");
    let _ = log.flush();
}

/// Where a URI's bytes come from.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    Local(PathBuf),
    Http(String),
    /// Any other scheme (`hdfs://`, `hftp://`, `s3://`, `s3n://`, …): the Hadoop client.
    Hadoop(String),
}

/// Fetches one URI; returns the file it produced, or the sandbox if it was extracted. What
/// it learns about the item's cache file is pushed to `reports`.
async fn fetch_one<W: Write + Send>(
    item: &FetchItem,
    index: usize,
    sandbox: &Path,
    options: &FetchOptions,
    log: &mut W,
    reports: &mut Vec<CacheReport>,
) -> Result<PathBuf, String> {
    let uri = &item.uri;
    // Mesos trims leading whitespace only.
    let value = uri.value.trim_start();
    let basename = uri_basename(value)?;
    let output = match &uri.output_file {
        Some(output_file) => validate_output_file(output_file)?,
        None => PathBuf::from(&basename),
    };
    let destination = sandbox.join(&output);
    // Everything below happens relative to this descriptor: the output file and its parent
    // directories are resolved beneath it, so a symlink planted by an archive fetched earlier
    // (say `lnk -> /etc`) cannot carry `output_file: lnk/x` out of the sandbox.
    let root = beneath::open_dir(sandbox)
        .map_err(|e| format!("Failed to open the sandbox '{}': {e}", sandbox.display()))?;
    let create = || {
        beneath::create_file_beneath(root.as_fd(), &output, 0o644).map_err(|e| {
            if beneath::is_escape(&e) {
                "URI output file must be within the sandbox directory".to_string()
            } else {
                format!("Failed to create '{}': {e}", destination.display())
            }
        })
    };
    let remove_output = || {
        let _ = beneath::remove_beneath(root.as_fd(), &output);
    };

    let mut from_cache = None;
    match &item.action {
        CacheAction::Retrieve { file, size, sha256 } => {
            logln(log, format_args!("Fetching URI '{value}' from cache"));
            match copy_verified(file, *size, sha256, create()?).await {
                Ok(copied) => from_cache = Some(copied),
                Err(problem) => {
                    remove_output();
                    logln(
                        log,
                        format_args!(
                            "The cache file '{}' is not usable ({problem}); fetching '{value}' \
                             directly into the sandbox directory instead",
                            file.display()
                        ),
                    );
                    reports.push(CacheReport::Corrupt { index });
                }
            }
        }
        CacheAction::Download { file } => {
            logln(
                log,
                format_args!("Downloading into cache: '{value}' to '{}'", file.display()),
            );
            let create_cache = || {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(file)
                    .map_err(|e| format!("Failed to create cache file '{}': {e}", file.display()))
            };
            let source = source_of(value, options.frameworks_home.as_deref(), log)?;
            let cached = match obtain(source, file, &basename, create_cache, options, log).await {
                Ok(cached) => cached,
                Err(error) => {
                    let _ = std::fs::remove_file(file);
                    return Err(error);
                }
            };
            let (size, sha256) = digest_file(cached).await?;
            logln(
                log,
                format_args!("Stored {size} bytes in the cache (sha256 {sha256})"),
            );
            reports.push(CacheReport::Stored {
                index,
                size,
                sha256: sha256.clone(),
            });
            let copied = copy_verified(file, size, &sha256, create()?)
                .await
                .inspect_err(|_| remove_output())
                .map_err(|e| format!("Failed to copy from the cache: {e}"))?;
            from_cache = Some(copied);
        }
        CacheAction::Bypass => {
            if uri.cache() {
                logln(
                    log,
                    format_args!("Not using the fetcher cache for '{value}'"),
                );
            }
        }
    }
    let file = match from_cache {
        Some(file) => file,
        None => {
            logln(
                log,
                format_args!("Fetching '{value}' directly into the sandbox directory"),
            );
            let source = source_of(value, options.frameworks_home.as_deref(), log)?;
            match obtain(source, &destination, &basename, create, options, log).await {
                Ok(file) => file,
                Err(error) => {
                    // Leave no half-written file behind for the executor to trip over.
                    remove_output();
                    return Err(error);
                }
            }
        }
    };
    finish_one(uri, value, file, &output, &destination, sandbox, log).await
}

/// The bytes of `source` into the file `create` makes (named `destination` in the log).
async fn obtain<W: Write + Send>(
    source: Source,
    destination: &Path,
    basename: &str,
    create: impl FnOnce() -> Result<std::fs::File, String>,
    options: &FetchOptions,
    log: &mut W,
) -> Result<std::fs::File, String> {
    match source {
        Source::Local(path) => copy_local(&path, destination, create, log).await,
        Source::Http(url) => download_http(&url, destination, create, options, log).await,
        Source::Hadoop(uri) => {
            download_hadoop(&uri, destination, basename, create, options, log).await
        }
    }
}

/// Chmods or extracts a fetched file, as the URI asks.
async fn finish_one<W: Write + Send>(
    uri: &Uri,
    value: &str,
    file: std::fs::File,
    output: &Path,
    destination: &Path,
    sandbox: &Path,
    log: &mut W,
) -> Result<PathBuf, String> {
    if uri.executable() {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(|e| {
                format!(
                    "Failed to chmod executable '{}': {e}",
                    destination.display()
                )
            })?;
        return Ok(destination.to_path_buf());
    }
    if uri.extract() {
        let Some(kind) = ArchiveKind::of(destination) else {
            logln(
                log,
                format_args!(
                    "Copying instead of extracting resource from URI with 'extract' flag, \
                     because it does not seem to be an archive: {value}"
                ),
            );
            return Ok(destination.to_path_buf());
        };
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let into = sandbox.to_path_buf();
        // Extracted from the descriptor written above, not reopened by name.
        let mut archive = file;
        tokio::task::spawn_blocking(move || {
            use std::io::Seek;
            archive.seek(io::SeekFrom::Start(0))?;
            extract_file(kind, archive, &name, &into)
        })
        .await
        .map_err(|e| format!("extraction task failed: {e}"))?
        .map_err(|e| {
            format!(
                "Failed to extract archive '{}' to '{}': {e}",
                destination.display(),
                sandbox.display()
            )
        })?;
        logln(
            log,
            format_args!(
                "Extracted '{}' into '{}'",
                destination.display(),
                sandbox.display()
            ),
        );
        return Ok(sandbox.to_path_buf());
    }
    Ok(destination.to_path_buf())
}

/// Size and SHA-256 (lowercase hex) of everything in `file`, read from its start.
async fn digest_file(mut file: std::fs::File) -> Result<(u64, String), String> {
    tokio::task::spawn_blocking(move || {
        use std::io::Seek;
        file.seek(io::SeekFrom::Start(0))?;
        copy_hashing(&mut file, &mut io::sink())
    })
    .await
    .map_err(|e| format!("digest task failed: {e}"))?
    .map_err(|e| format!("Failed to read the cache file: {e}"))
}

/// Copies all of `from` to `to`, returning the byte count and SHA-256 of what was copied.
fn copy_hashing(from: &mut impl Read, to: &mut impl Write) -> io::Result<(u64, String)> {
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        to.write_all(&buffer[..n])?;
        total += n as u64;
    }
    to.flush()?;
    let digest = hasher.finish();
    let hex = digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok((total, hex))
}

/// Copies the cache file `cache_file` into `to`, checking that it still has `size` bytes
/// with SHA-256 `sha256` (removed, truncated or altered behind the agent's back otherwise).
/// Returns `to`, written.
async fn copy_verified(
    cache_file: &Path,
    size: u64,
    sha256: &str,
    mut to: std::fs::File,
) -> Result<std::fs::File, String> {
    let path = cache_file.to_path_buf();
    let expected = sha256.to_string();
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::OpenOptionsExt;
        let mut from = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| format!("cannot open it: {e}"))?;
        let meta = from.metadata().map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("it is not a regular file".to_string());
        }
        if meta.len() != size {
            return Err(format!("it has {} bytes, {size} expected", meta.len()));
        }
        let (copied, digest) =
            copy_hashing(&mut from, &mut to).map_err(|e| format!("copying it failed: {e}"))?;
        if copied != size || digest != expected {
            return Err(format!(
                "its content changed: {copied} bytes with sha256 {digest}, {size} bytes with \
                 sha256 {expected} expected"
            ));
        }
        Ok(to)
    })
    .await
    .map_err(|e| format!("copy task failed: {e}"))?
}

/// The size of what `uri` would fetch, for reserving cache space (Mesos `fetchSize`): a
/// local file's size, an HTTP `Content-Length` (a `HEAD` request; 0 or none is an error),
/// `hadoop fs -du` for Hadoop URIs.
pub async fn content_size(uri: &str, options: &FetchOptions) -> Result<u64, String> {
    let mut log = io::sink();
    match source_of(
        uri.trim_start(),
        options.frameworks_home.as_deref(),
        &mut log,
    )? {
        Source::Local(path) => std::fs::metadata(&path).map(|m| m.len()).map_err(|e| {
            format!(
                "Could not determine file size for: '{}', error: {e}",
                path.display()
            )
        }),
        Source::Http(url) => {
            let response =
                request_following_redirects(&url, hyper::Method::HEAD, options, &mut log).await?;
            if response.status() != hyper::StatusCode::OK {
                return Err(format!(
                    "HEAD '{url}' answered {}",
                    response.status().as_u16()
                ));
            }
            let length = response
                .headers()
                .get(hyper::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("No Content-Length in the answer to HEAD '{url}'"))?;
            if length == 0 {
                return Err(format!("URI reported content-length 0: {url}"));
            }
            Ok(length)
        }
        Source::Hadoop(uri) => hadoop_du(&uri, options).await,
    }
}

/// The name a cached copy of `uri` is saved under (after Mesos's `c<serial>-`), if it has one.
pub fn cache_basename(uri: &Uri) -> Option<String> {
    uri_basename(uri.value.trim_start()).ok()
}

/// The file name a URI is saved under, as Mesos's `Fetcher::basename`: the text after the
/// last `/` (query strings included, as in Mesos).
fn uri_basename(uri: &str) -> Result<String, String> {
    if uri.contains(['\\', '\'', '\0']) {
        return Err("Illegal characters in URI".to_string());
    }
    let name = match uri.find("://") {
        Some(index) if index > 1 => {
            let path = &uri[index + 3..];
            match path.find('/') {
                Some(slash) if path.len() > slash + 1 => {
                    path.rsplit('/').next().unwrap_or_default().to_string()
                }
                _ => return Err(format!("Malformed URI (missing path): {uri}")),
            }
        }
        _ => Path::new(uri)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("Malformed URI (no file name): {uri}"));
    }
    Ok(name)
}

/// Checks `output_file` (Mesos `Fetcher::validateOutputFile`) and returns it as a relative
/// path that stays inside the sandbox.
fn validate_output_file(output_file: &str) -> Result<PathBuf, String> {
    if output_file.is_empty() {
        return Err("URI output file path is empty".to_string());
    }
    if output_file.contains('\0') {
        return Err("Illegal characters in URI output file".to_string());
    }
    let path = Path::new(output_file);
    if output_file.ends_with('/') || !confined(path) || path.file_name().is_none() {
        return Err("URI output file must be within the sandbox directory".to_string());
    }
    Ok(path.to_path_buf())
}

/// True if `path` is relative and has no `..`: joined to a directory, it stays below it
/// (symlinks aside, which the callers check where it matters).
fn confined(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Classifies a URI (Mesos `Fetcher::uriToLocalPath` and `isNetUri`).
fn source_of<W: Write>(
    uri: &str,
    frameworks_home: Option<&Path>,
    log: &mut W,
) -> Result<Source, String> {
    let file_uri = uri.starts_with("file://");
    if !file_uri && let Some(index) = uri.find("://") {
        let scheme = &uri[..index];
        return match scheme {
            "http" | "https" => Ok(Source::Http(uri.to_string())),
            "ftp" | "ftps" => Err(format!("Fetching '{scheme}' URIs is not supported")),
            // As Mesos: every other scheme goes to the Hadoop client, which knows `hdfs`,
            // `hftp`, `s3`, `s3n` and whatever else its configuration adds.
            _ => Ok(Source::Hadoop(uri.to_string())),
        };
    }
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    let path = if file_uri {
        path.strip_prefix("localhost").unwrap_or(path)
    } else {
        path
    };
    let path = Path::new(path);
    if path.is_absolute() {
        return Ok(Source::Local(path.to_path_buf()));
    }
    if file_uri {
        return Err("File URI only supports absolute paths".to_string());
    }
    match frameworks_home.filter(|home| !home.as_os_str().is_empty()) {
        None => Err(
            "A relative path was passed for the resource but the Mesos framework \
                     home was not specified. Please either provide this config option or \
                     avoid using a relative path"
                .to_string(),
        ),
        Some(home) => {
            let joined = home.join(path);
            logln(
                log,
                format_args!(
                    "Prepended Mesos frameworks home to relative path, making it: '{}'",
                    joined.display()
                ),
            );
            Ok(Source::Local(joined))
        }
    }
}

/// Copies the local file `source` into a new file made by `create`. Only a regular file is
/// copied: a FIFO or a device (`/dev/zero`) would block the fetch or fill the disk.
async fn copy_local<W: Write>(
    source: &Path,
    destination: &Path,
    create: impl FnOnce() -> Result<std::fs::File, String>,
    log: &mut W,
) -> Result<std::fs::File, String> {
    logln(
        log,
        format_args!(
            "Copying resource from '{}' to '{}'",
            source.display(),
            destination.display()
        ),
    );
    let failed = |e: &dyn std::fmt::Display| {
        format!(
            "Failed to copy '{}' to '{}': {e}",
            source.display(),
            destination.display()
        )
    };
    let opened = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(source)
            .map_err(|e| failed(&e))?
    };
    let metadata = opened.metadata().map_err(|e| failed(&e))?;
    if metadata.is_dir() {
        return Err(failed(&"the source is a directory"));
    }
    if !metadata.is_file() {
        return Err(failed(&"the source is not a regular file"));
    }
    let file = create()?;
    let mut reader = tokio::fs::File::from_std(opened);
    let mut writer = tokio::fs::File::from_std(file);
    tokio::io::copy(&mut reader, &mut writer)
        .await
        .map_err(|e| failed(&e))?;
    writer.flush().await.map_err(|e| failed(&e))?;
    Ok(writer.into_std().await)
}

/// The client configuration for `https://`: the system's CAs plus `ca_files`, rustls with
/// the `ring` provider (chosen here explicitly, so another crate enabling a second provider
/// cannot make the choice ambiguous). Server names are sent (SNI) and certificates verified
/// against the URI's host by rustls.
pub(crate) fn tls_config<W: Write>(
    ca_files: &[PathBuf],
    log: &mut W,
) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        logln(
            log,
            format_args!("Warning: loading the system's CA certificates: {error}"),
        );
    }
    roots.add_parsable_certificates(native.certs);
    for file in ca_files {
        let failed = |e: &dyn std::fmt::Display| {
            format!(
                "Error downloading resource: unable to read CA certificates from '{}': {e}",
                file.display()
            )
        };
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(file).map_err(|e| failed(&e))? {
            let cert = cert.map_err(|e| failed(&e))?;
            roots.add(cert).map_err(|e| failed(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(failed(&"no certificate in the file"));
        }
    }
    if roots.is_empty() {
        logln(
            log,
            format_args!("Warning: no trusted CA certificates found for https"),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("Error downloading resource: TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Sends `method` to `url` (HTTP or HTTPS), following redirects between them; the answer
/// that is not a redirect.
async fn request_following_redirects<W: Write>(
    url: &str,
    method: hyper::Method,
    options: &FetchOptions,
    log: &mut W,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    let stall_timeout = options.stall_timeout;
    let plain: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    // Built on the first `https://` request only: plain HTTP does not read the CA store.
    let mut tls: Option<Client<HttpsConnector<HttpConnector>, Empty<Bytes>>> = None;
    let stalled = || format!("Error downloading resource: no data received for {stall_timeout:?}");
    let mut current: hyper::Uri = url
        .parse()
        .map_err(|e| format!("Error downloading resource: invalid URL: {e}"))?;
    let mut redirects = 0;
    loop {
        let request = hyper::Request::builder()
            .method(method.clone())
            .uri(current.clone())
            .header(hyper::header::USER_AGENT, "remesos-fetcher")
            .body(Empty::new())
            .map_err(|e| format!("Error downloading resource: {e}"))?;
        let pending = if current.scheme() == Some(&hyper::http::uri::Scheme::HTTPS) {
            let client = match &tls {
                Some(client) => client,
                None => {
                    let connector = hyper_rustls::HttpsConnectorBuilder::new()
                        .with_tls_config(tls_config(&options.ca_files, log)?)
                        .https_only()
                        .enable_http1()
                        .build();
                    tls.insert(Client::builder(TokioExecutor::new()).build(connector))
                }
            };
            client.request(request)
        } else {
            plain.request(request)
        };
        let response = tokio::time::timeout(stall_timeout, pending)
            .await
            .map_err(|_| stalled())?
            .map_err(|e| {
                format!(
                    "Error downloading resource: {}",
                    crate::common::error_chain(&e)
                )
            })?;
        if !response.status().is_redirection() {
            return Ok(response);
        }
        let Some(location) = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|l| l.to_str().ok())
        else {
            return Ok(response);
        };
        redirects += 1;
        if redirects > MAX_REDIRECTS {
            return Err(format!(
                "Error downloading resource: more than {MAX_REDIRECTS} redirects"
            ));
        }
        current = redirect_target(&current, location)?;
        logln(log, format_args!("Following redirect to '{current}'"));
    }
}

/// Downloads `url` (HTTP or HTTPS) into `destination`, following redirects between them.
async fn download_http<W: Write>(
    url: &str,
    destination: &Path,
    create: impl FnOnce() -> Result<std::fs::File, String>,
    options: &FetchOptions,
    log: &mut W,
) -> Result<std::fs::File, String> {
    let stall_timeout = options.stall_timeout;
    logln(
        log,
        format_args!(
            "Downloading resource from '{url}' to '{}'",
            destination.display()
        ),
    );
    let stalled = || format!("Error downloading resource: no data received for {stall_timeout:?}");
    let response = request_following_redirects(url, hyper::Method::GET, options, log).await?;
    let status = response.status();
    if status != hyper::StatusCode::OK {
        return Err(format!(
            "Error downloading resource, received HTTP return code {}",
            status.as_u16()
        ));
    }

    let mut file = tokio::fs::File::from_std(create()?);
    let mut body = response.into_body();
    let mut received: u64 = 0;
    loop {
        let frame = tokio::time::timeout(stall_timeout, body.frame())
            .await
            .map_err(|_| stalled())?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| {
            format!(
                "Error downloading resource: {}",
                crate::common::error_chain(&e)
            )
        })?;
        if let Ok(data) = frame.into_data() {
            received += data.len() as u64;
            file.write_all(&data)
                .await
                .map_err(|e| format!("Failed to write '{}': {e}", destination.display()))?;
        }
    }
    file.flush()
        .await
        .map_err(|e| format!("Failed to write '{}': {e}", destination.display()))?;
    logln(log, format_args!("Downloaded {received} bytes"));
    Ok(file.into_std().await)
}

/// The Hadoop client (Mesos `HDFS::create`): `<hadoop_home>/bin/hadoop` for `--hadoop_home`,
/// else `$HADOOP_HOME/bin/hadoop`, else `hadoop` on the PATH.
fn hadoop_client(options: &FetchOptions) -> PathBuf {
    options
        .hadoop_home
        .clone()
        .filter(|home| !home.as_os_str().is_empty())
        .or_else(|| std::env::var_os("HADOOP_HOME").map(PathBuf::from))
        .filter(|home| !home.as_os_str().is_empty())
        .map(|home| home.join("bin").join("hadoop"))
        .unwrap_or_else(|| PathBuf::from("hadoop"))
}

/// How much of a failed `hadoop` command's output goes into the error (its tail: Java's
/// stack traces are long and the cause is at the end).
const HADOOP_OUTPUT_LIMIT: usize = 2048;

fn tail(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let text = text.trim();
    match text.char_indices().rev().nth(HADOOP_OUTPUT_LIMIT) {
        Some((at, _)) => format!("...{}", &text[at..]),
        None => text.to_string(),
    }
}

/// Runs `hadoop fs <args>` and returns its stdout; the error names the command's status and
/// output as Mesos's `HDFS` does. The child dies with the fetch (a timeout drops it).
async fn hadoop_fs(options: &FetchOptions, args: &[&std::ffi::OsStr]) -> Result<Vec<u8>, String> {
    let client = hadoop_client(options);
    #[allow(
        clippy::disallowed_methods,
        reason = "the Hadoop client is a process, as in Mesos's fetcher"
    )]
    let mut command = tokio::process::Command::new(&client);
    command
        .arg("fs")
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = command.output().await.map_err(|e| {
        format!(
            "Failed to create HDFS client: Failed to exec hadoop subprocess '{}': {e}",
            client.display()
        )
    })?;
    if !output.status.success() {
        return Err(format!(
            "Unexpected result from the subprocess: status='{}', stdout='{}', stderr='{}'",
            output.status,
            tail(&output.stdout),
            tail(&output.stderr)
        ));
    }
    Ok(output.stdout)
}

/// `hadoop fs -copyToLocal <uri> <scratch>/<basename>` (Mesos `downloadWithHadoopClient`),
/// then a copy into the file `create` makes. The client writes into a fresh directory of
/// the sandbox (its `.crc` files too), removed afterwards, so the output file is still made
/// only through [`beneath`].
async fn download_hadoop<W: Write>(
    uri: &str,
    destination: &Path,
    basename: &str,
    create: impl FnOnce() -> Result<std::fs::File, String>,
    options: &FetchOptions,
    log: &mut W,
) -> Result<std::fs::File, String> {
    logln(
        log,
        format_args!(
            "Downloading resource with Hadoop client from '{uri}' to '{}'",
            destination.display()
        ),
    );
    let sandbox = destination
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let scratch = tempfile_dir(&sandbox)
        .map_err(|e| format!("HDFS copyToLocal failed: cannot make a scratch directory: {e}"))?;
    let local = scratch.join(basename);
    let copied = hadoop_fs(
        options,
        &["-copyToLocal".as_ref(), uri.as_ref(), local.as_os_str()],
    )
    .await
    .map_err(|e| format!("HDFS copyToLocal failed: {e}"));
    let result = match copied {
        Ok(_) => copy_local(&local, destination, create, log).await,
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// A new private directory `.hadoop-<pid>-<n>` in `parent` (which the fetching user owns).
fn tempfile_dir(parent: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    for n in 0..100u32 {
        let dir = parent.join(format!(".hadoop-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free scratch directory name",
    ))
}

/// `hadoop fs -du <uri>`: the size in bytes (Mesos `HDFS::du`: the first line of two or
/// more fields whose first is a number, since the client may print warnings).
async fn hadoop_du(uri: &str, options: &FetchOptions) -> Result<u64, String> {
    let out = hadoop_fs(options, &["-du".as_ref(), uri.as_ref()])
        .await
        .map_err(|e| format!("Hadoop client could not determine size: {e}"))?;
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let size = fields.next()?.parse::<u64>().ok()?;
            fields.next().map(|_| size)
        })
        .next()
        .ok_or_else(|| {
            format!(
                "Hadoop client could not determine size: Unexpected output format: '{}'",
                tail(&out)
            )
        })
}

pub(crate) fn redirect_target(current: &hyper::Uri, location: &str) -> Result<hyper::Uri, String> {
    let target = if location.contains("://") {
        location.to_string()
    } else if location.starts_with('/') {
        format!(
            "{}://{}{location}",
            current.scheme_str().unwrap_or("http"),
            current.authority().map(|a| a.as_str()).unwrap_or_default()
        )
    } else {
        let path = current.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!(
            "{}://{}{dir}{location}",
            current.scheme_str().unwrap_or("http"),
            current.authority().map(|a| a.as_str()).unwrap_or_default()
        )
    };
    if !target.starts_with("http://") && !target.starts_with("https://") {
        return Err(format!(
            "Error downloading resource: redirected to '{target}', which is not HTTP or HTTPS"
        ));
    }
    target
        .parse()
        .map_err(|e| format!("Error downloading resource: bad redirect '{target}': {e}"))
}

/// The archive formats Mesos's fetcher extracts, chosen by file name as Mesos does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Tar,
    TarGz,
    TarBz2,
    TarXz,
    Zip,
    /// A single gzip-compressed file, unpacked to its name without `.gz`.
    Gz,
}

impl ArchiveKind {
    /// The kind of `path` by its suffix (case-sensitive, as in Mesos), if it is an archive.
    pub fn of(path: &Path) -> Option<ArchiveKind> {
        let name = path.file_name()?.to_str()?;
        let kinds = [
            (".tar", ArchiveKind::Tar),
            (".tgz", ArchiveKind::TarGz),
            (".tar.gz", ArchiveKind::TarGz),
            (".tbz2", ArchiveKind::TarBz2),
            (".tar.bz2", ArchiveKind::TarBz2),
            (".txz", ArchiveKind::TarXz),
            (".tar.xz", ArchiveKind::TarXz),
            (".zip", ArchiveKind::Zip),
            (".gz", ArchiveKind::Gz),
        ];
        kinds
            .into_iter()
            .find(|(suffix, _)| name.ends_with(suffix))
            .map(|(_, kind)| kind)
    }
}

/// Unpacks `archive` into the directory `into`, refusing any entry that would land outside it.
/// Blocking: run it on a blocking thread.
pub fn extract(kind: ArchiveKind, archive: &Path, into: &Path) -> io::Result<()> {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    extract_file(kind, std::fs::File::open(archive)?, &name, into)
}

/// [`extract`] from an open archive file; `name` is the archive's file name (a `.gz` file is
/// unpacked to it without the suffix).
///
/// Every entry is created through [`beneath`]: an absolute name, a `..` component, a symlink
/// whose target is absolute, climbs out with `..` or resolves outside through other links,
/// a hard link to a name outside, or a write through any symlink that leads outside fails the
/// extraction (entries before it stay). Devices and FIFOs are skipped. Permission bits are
/// kept (rwx only: never setuid, setgid or sticky), and so are modification times of files.
pub fn extract_file(
    kind: ArchiveKind,
    archive: std::fs::File,
    name: &str,
    into: &Path,
) -> io::Result<()> {
    let root = beneath::open_dir(into)?;
    let root = root.as_fd();
    let buffered = || archive.try_clone().map(io::BufReader::new);
    match kind {
        ArchiveKind::Tar => unpack_tar(buffered()?, root),
        ArchiveKind::TarGz => unpack_tar(flate2::read::MultiGzDecoder::new(buffered()?), root),
        ArchiveKind::TarBz2 => unpack_tar(bzip2::read::MultiBzDecoder::new(buffered()?), root),
        ArchiveKind::TarXz => {
            // lzma-rs decodes xz only into a writer, so the tar goes through an anonymous
            // scratch file in the sandbox (O_TMPFILE: no name an archive could pre-empt).
            let mut tar = beneath::scratch_file(root)?;
            lzma_rs::xz_decompress(&mut buffered()?, &mut tar)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            use std::io::Seek;
            tar.seek(io::SeekFrom::Start(0))?;
            unpack_tar(io::BufReader::new(tar), root)
        }
        ArchiveKind::Zip => unpack_zip(archive, root),
        ArchiveKind::Gz => {
            let name = name
                .strip_suffix(".gz")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid("the archive's name has nothing before '.gz'"))?;
            let mut file = beneath::create_file_beneath(root, Path::new(name), 0o644)
                .map_err(|e| entry_error(Path::new(name), e))?;
            io::copy(
                &mut flate2::read::MultiGzDecoder::new(buffered()?),
                &mut file,
            )?;
            Ok(())
        }
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn escapes(entry: &Path) -> io::Error {
    invalid(format!(
        "archive entry '{}' would be extracted outside the sandbox",
        entry.display()
    ))
}

/// An error creating `entry`: an escape gets the message the fetch log shows for it.
fn entry_error(entry: &Path, error: io::Error) -> io::Error {
    if beneath::is_escape(&error) {
        escapes(entry)
    } else {
        io::Error::new(
            error.kind(),
            format!("archive entry '{}': {error}", entry.display()),
        )
    }
}

/// The entry's name as a path below the root, or an escape error (absolute, `..`).
fn entry_path(path: &Path) -> io::Result<PathBuf> {
    let names = beneath::plain_components(path).map_err(|_| escapes(path))?;
    Ok(names.into_iter().collect())
}

/// Symlinks an archive made: checked again once the archive is done, since a later entry can
/// change where an earlier link leads (`l -> d/..` made before `d -> .`).
struct Links(Vec<PathBuf>);

impl Links {
    fn verify(self, root: BorrowedFd<'_>) -> io::Result<()> {
        for link in self.0 {
            if beneath::resolves_outside(root, &link) {
                let _ = beneath::remove_beneath(root, &link);
                return Err(escapes(&link));
            }
        }
        Ok(())
    }
}

fn set_mode(file: &std::fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))
}

fn unpack_tar(reader: impl Read, root: BorrowedFd<'_>) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut links = Links(Vec::new());
    // Directory modes are applied last, so a read-only directory can still be filled.
    let mut directories = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let path = entry_path(&raw)?;
        if path.as_os_str().is_empty() {
            continue; // `./`
        }
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644);
        let mtime = header.mtime().ok();
        let directory = kind.is_dir() || entry.path_bytes().ends_with(b"/");
        if directory {
            beneath::mkdir_all_beneath(root, &path).map_err(|e| entry_error(&path, e))?;
            directories.push((path, mode));
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            let mut file = beneath::create_file_beneath(root, &path, 0o600)
                .map_err(|e| entry_error(&path, e))?;
            io::copy(&mut entry, &mut file)?;
            set_mode(&file, mode)?;
            if let Some(mtime) = mtime {
                let _ = file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(mtime));
            }
        } else if kind.is_symlink() {
            let target = entry
                .link_name()?
                .ok_or_else(|| invalid(format!("symlink '{}' has no target", raw.display())))?;
            beneath::symlink_beneath(root, &path, &target).map_err(|e| entry_error(&path, e))?;
            links.0.push(path);
        } else if kind.is_hard_link() {
            let target = entry
                .link_name()?
                .ok_or_else(|| invalid(format!("hard link '{}' has no target", raw.display())))?;
            let target = entry_path(&target)?;
            beneath::hard_link_beneath(root, &path, &target).map_err(|e| entry_error(&path, e))?;
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            // Skipped: no device or FIFO in a sandbox (a FIFO blocks whoever opens it).
        } else if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            // Metadata the reader applies to the entries it belongs to.
        } else {
            return Err(invalid(format!(
                "archive entry '{}' has an unsupported type {:?}",
                raw.display(),
                kind
            )));
        }
    }
    links.verify(root)?;
    for (path, mode) in directories.into_iter().rev() {
        let dir = beneath::open_beneath(root, &path, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| entry_error(&path, e))?;
        // Owner rwx kept so the task (and a later URI) can still use the directory.
        set_mode(&std::fs::File::from(dir), mode | 0o700)?;
    }
    Ok(())
}

/// The longest symlink target a zip entry may hold (Linux's PATH_MAX).
const MAX_LINK_TARGET: u64 = 4096;

fn unpack_zip(file: std::fs::File, root: BorrowedFd<'_>) -> io::Result<()> {
    let zip_error = |e: zip::result::ZipError| invalid(e.to_string());
    let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
    let mut links = Links(Vec::new());
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(zip_error)?;
        let raw = PathBuf::from(entry.name());
        let path = entry_path(&raw)?;
        if path.as_os_str().is_empty() {
            return Err(escapes(&raw));
        }
        if entry.is_dir() {
            beneath::mkdir_all_beneath(root, &path).map_err(|e| entry_error(&path, e))?;
            continue;
        }
        let mode = entry.unix_mode();
        if mode.is_some_and(|m| m & 0o170000 == 0o120000) {
            let mut target = Vec::new();
            (&mut entry)
                .take(MAX_LINK_TARGET + 1)
                .read_to_end(&mut target)?;
            if target.len() as u64 > MAX_LINK_TARGET || target.contains(&0) {
                return Err(invalid(format!(
                    "symlink '{}' has an invalid target",
                    raw.display()
                )));
            }
            use std::os::unix::ffi::OsStrExt;
            let target = Path::new(std::ffi::OsStr::from_bytes(&target));
            beneath::symlink_beneath(root, &path, target).map_err(|e| entry_error(&path, e))?;
            links.0.push(path);
            continue;
        }
        if mode.is_some_and(|m| m & 0o170000 != 0o100000 && m & 0o170000 != 0) {
            continue; // a device or FIFO: skipped, as for tar
        }
        let mut out =
            beneath::create_file_beneath(root, &path, 0o600).map_err(|e| entry_error(&path, e))?;
        io::copy(&mut entry, &mut out)?;
        set_mode(&out, mode.unwrap_or(0o644))?;
    }
    links.verify(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basename_follows_mesos() {
        assert_eq!(uri_basename("http://h/a/b.tgz").unwrap(), "b.tgz");
        assert_eq!(uri_basename("http://h/a?x=1").unwrap(), "a?x=1");
        assert_eq!(uri_basename("/tmp/x/y.sh").unwrap(), "y.sh");
        assert_eq!(uri_basename("file:///tmp/y").unwrap(), "y");
        assert!(uri_basename("http://host").is_err());
        assert!(uri_basename("http://host/").is_err());
        assert!(uri_basename("/tmp/it's").is_err());
    }

    #[test]
    fn output_file_must_stay_in_the_sandbox() {
        assert!(validate_output_file("a/b/c").is_ok());
        assert!(validate_output_file("").is_err());
        assert!(validate_output_file("/etc/passwd").is_err());
        assert!(validate_output_file("../x").is_err());
        assert!(validate_output_file("a/../../x").is_err());
        assert!(validate_output_file("a/").is_err());
    }

    #[test]
    fn sources() {
        let mut log = Vec::new();
        let home = Some(Path::new("/opt/fw"));
        assert_eq!(
            source_of("file:///a/b", None, &mut log),
            Ok(Source::Local("/a/b".into()))
        );
        assert_eq!(
            source_of("file://localhost/a/b", None, &mut log),
            Ok(Source::Local("/a/b".into()))
        );
        assert_eq!(
            source_of("bin/x", home, &mut log),
            Ok(Source::Local("/opt/fw/bin/x".into()))
        );
        assert!(source_of("bin/x", None, &mut log).is_err());
        assert!(source_of("file://rel/x", None, &mut log).is_err());
        assert_eq!(
            source_of("https://h/x", None, &mut log),
            Ok(Source::Http("https://h/x".into()))
        );
        assert!(source_of("ftp://h/x", None, &mut log).is_err());
        assert_eq!(
            source_of("hdfs://h:9000/x", None, &mut log),
            Ok(Source::Hadoop("hdfs://h:9000/x".into()))
        );
        assert_eq!(
            source_of("s3n://b/x", None, &mut log),
            Ok(Source::Hadoop("s3n://b/x".into()))
        );
    }

    #[tokio::test]
    async fn a_missing_hadoop_client_fails_the_fetch_with_its_reason() {
        let sandbox = std::env::temp_dir().join(format!("fetch-hadoop-{}", std::process::id()));
        std::fs::create_dir_all(&sandbox).unwrap();
        let options = FetchOptions {
            hadoop_home: Some("/nonexistent/hadoop".into()),
            ..Default::default()
        };
        let uri = Uri {
            value: "hdfs://127.0.0.1:1/a/file.txt".into(),
            ..Default::default()
        };
        let outcome = fetch(
            &FetchItem::bypassing(&[uri]),
            &sandbox,
            &options,
            &mut Vec::new(),
        )
        .await;
        let error = outcome.result.unwrap_err();
        assert!(
            error
                .reason
                .starts_with("HDFS copyToLocal failed: Failed to create HDFS client")
                && error.reason.contains("/nonexistent/hadoop/bin/hadoop"),
            "{error}"
        );
        // Nothing is left in the sandbox: no output file, no scratch directory.
        assert_eq!(std::fs::read_dir(&sandbox).unwrap().count(), 0);
        let size = content_size("hdfs://127.0.0.1:1/a/file.txt", &options).await;
        assert!(size.unwrap_err().contains("Failed to create HDFS client"));
        let _ = std::fs::remove_dir_all(&sandbox);
    }

    #[test]
    fn fetcher_answers_round_trip() {
        let outcome = FetchOutcome {
            reports: vec![
                CacheReport::Stored {
                    index: 0,
                    size: 5,
                    sha256: "ab".into(),
                },
                CacheReport::Corrupt { index: 2 },
            ],
            result: Err(FetchError {
                uri: "http://h/x".into(),
                reason: "r".into(),
            }),
        };
        assert_eq!(answer_from_json(&answer_to_json(&outcome)), Some(outcome));
        assert_eq!(answer_from_json("Failed to fetch 'x': y"), None);
        let item = FetchItem {
            uri: Uri {
                value: "http://h/x".into(),
                cache: Some(true),
                ..Default::default()
            },
            action: CacheAction::Retrieve {
                file: "/c/u/c1-x".into(),
                size: 3,
                sha256: "ff".into(),
            },
        };
        let json = request_to_json(
            std::slice::from_ref(&item),
            Path::new("/s"),
            &FetchOptions::default(),
        )
        .unwrap();
        let (items, sandbox, _) = request_from_json(&json).unwrap();
        assert_eq!((items, sandbox), (vec![item], PathBuf::from("/s")));
    }

    #[test]
    fn archive_kinds() {
        let kind = |n: &str| ArchiveKind::of(Path::new(n));
        assert_eq!(kind("a.tar.gz"), Some(ArchiveKind::TarGz));
        assert_eq!(kind("a.gz"), Some(ArchiveKind::Gz));
        assert_eq!(kind("a.txz"), Some(ArchiveKind::TarXz));
        assert_eq!(kind("a.zip"), Some(ArchiveKind::Zip));
        assert_eq!(kind("a.jar"), None);
        assert_eq!(kind("a.TAR"), None);
    }

    #[test]
    fn redirects_resolve() {
        let base: hyper::Uri = "http://h:1/a/b".parse().unwrap();
        assert_eq!(redirect_target(&base, "/c").unwrap(), "http://h:1/c");
        assert_eq!(redirect_target(&base, "c").unwrap(), "http://h:1/a/c");
        assert_eq!(
            redirect_target(&base, "https://x/y").unwrap(),
            "https://x/y"
        );
        let secure: hyper::Uri = "https://h/a/b".parse().unwrap();
        assert_eq!(redirect_target(&secure, "/c").unwrap(), "https://h/c");
        assert!(redirect_target(&base, "ftp://x/y").is_err());
    }
}
