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
//! - `ftp://`, `ftps://` and Hadoop-client schemes (`hdfs://`, `s3://`, …) are refused with a
//!   clear error: there is no FTP or Hadoop client here.
//! - `cache: true` is not implemented: the URI is fetched directly into the sandbox and a
//!   line in the log says so (Mesos's result is the same files, only slower).

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
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            frameworks_home: None,
            stall_timeout: Duration::from_secs(60),
            total_timeout: None,
            ca_files: Vec::new(),
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

/// The request the agent writes to `remesos fetcher`'s stdin: the URIs (their `CommandInfo.URI`
/// fields), the sandbox and the fetch options, as one JSON object.
pub fn request_to_json(
    uris: &[Uri],
    sandbox: &Path,
    options: &FetchOptions,
) -> Result<Vec<u8>, RequestError> {
    let text = |path: &Path| {
        path.to_str()
            .map(str::to_string)
            .ok_or_else(|| RequestError::NotUtf8(path.to_path_buf()))
    };
    let uris: Vec<serde_json::Value> = uris
        .iter()
        .map(|uri| {
            serde_json::json!({
                "value": uri.value,
                "executable": uri.executable,
                "extract": uri.extract,
                "cache": uri.cache,
                "output_file": uri.output_file,
            })
        })
        .collect();
    let request = serde_json::json!({
        "sandbox": text(sandbox)?,
        "uris": uris,
        "frameworks_home": options.frameworks_home.as_deref().map(text).transpose()?,
        "stall_timeout_ms": options.stall_timeout.as_millis() as u64,
        "total_timeout_ms": options.total_timeout.map(|t| t.as_millis() as u64),
        "ca_files": options.ca_files.iter().map(|f| text(f)).collect::<Result<Vec<_>, _>>()?,
    });
    Ok(request.to_string().into_bytes())
}

/// Reads a request written by [`request_to_json`]: the URIs, the sandbox and the options.
pub fn request_from_json(bytes: &[u8]) -> Result<(Vec<Uri>, PathBuf, FetchOptions), RequestError> {
    use RequestError::Missing;
    let request: serde_json::Value = serde_json::from_slice(bytes)?;
    let string = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let sandbox = string(&request["sandbox"]).ok_or(Missing("the fetch request has no sandbox"))?;
    let uris = request["uris"]
        .as_array()
        .ok_or(Missing("the fetch request has no URIs"))?
        .iter()
        .map(|u| {
            Ok(Uri {
                value: string(&u["value"]).ok_or(Missing("a URI has no value"))?,
                executable: u["executable"].as_bool(),
                extract: u["extract"].as_bool(),
                cache: u["cache"].as_bool(),
                output_file: string(&u["output_file"]),
            })
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
    };
    Ok((uris, PathBuf::from(sandbox), options))
}

/// Fetches `uris`, in order, into `sandbox` (which must exist).
///
/// Every step is written to `log` as one line of text; the agent passes the sandbox's
/// `stderr` file, where Mesos's fetcher output lands too. `log` is a blocking
/// [`std::io::Write`] because it is written a few short lines at a time; errors writing it
/// are ignored (a full disk shows up in the fetch itself).
pub async fn fetch<W: Write + Send>(
    uris: &[Uri],
    sandbox: &Path,
    options: &FetchOptions,
    log: &mut W,
) -> Result<(), FetchError> {
    let deadline = options
        .total_timeout
        .map(|timeout| tokio::time::Instant::now() + timeout);
    for uri in uris {
        logln(log, format_args!("Fetching URI '{}'", uri.value));
        let one = fetch_one(uri, sandbox, options, log);
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
                return Err(error);
            }
        }
    }
    logln(
        log,
        format_args!("Successfully fetched all URIs into '{}'", sandbox.display()),
    );
    Ok(())
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
}

/// Fetches one URI; returns the file it produced, or the sandbox if it was extracted.
async fn fetch_one<W: Write + Send>(
    uri: &Uri,
    sandbox: &Path,
    options: &FetchOptions,
    log: &mut W,
) -> Result<PathBuf, String> {
    // Mesos trims leading whitespace only.
    let value = uri.value.trim_start();
    let basename = uri_basename(value)?;
    if uri.cache() {
        logln(
            log,
            format_args!("The fetcher cache is not supported; fetching '{value}' directly"),
        );
    }
    logln(
        log,
        format_args!("Fetching '{value}' directly into the sandbox directory"),
    );

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

    let file = match source_of(value, options.frameworks_home.as_deref(), log)? {
        Source::Local(path) => copy_local(&path, &destination, create, log).await?,
        Source::Http(url) => {
            match download_http(&url, &destination, create, options, log).await {
                Ok(file) => file,
                Err(error) => {
                    // Leave no half-written file behind for the executor to trip over.
                    let _ = beneath::remove_beneath(root.as_fd(), &output);
                    return Err(error);
                }
            }
        }
    };

    if uri.executable() {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(|e| {
                format!(
                    "Failed to chmod executable '{}': {e}",
                    destination.display()
                )
            })?;
        return Ok(destination);
    }
    if uri.extract() {
        let Some(kind) = ArchiveKind::of(&destination) else {
            logln(
                log,
                format_args!(
                    "Copying instead of extracting resource from URI with 'extract' flag, \
                     because it does not seem to be an archive: {value}"
                ),
            );
            return Ok(destination);
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
    Ok(destination)
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
            _ => Err(format!(
                "Fetching '{scheme}' URIs is not supported: this agent has no Hadoop client"
            )),
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
    let plain: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    // Built on the first `https://` request only: plain HTTP does not read the CA store.
    let mut tls: Option<Client<HttpsConnector<HttpConnector>, Empty<Bytes>>> = None;
    let stalled = || format!("Error downloading resource: no data received for {stall_timeout:?}");
    let mut current: hyper::Uri = url
        .parse()
        .map_err(|e| format!("Error downloading resource: invalid URL: {e}"))?;
    let mut redirects = 0;
    let response = loop {
        let request = hyper::Request::get(current.clone())
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
            break response;
        }
        let Some(location) = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|l| l.to_str().ok())
        else {
            break response;
        };
        redirects += 1;
        if redirects > MAX_REDIRECTS {
            return Err(format!(
                "Error downloading resource: more than {MAX_REDIRECTS} redirects"
            ));
        }
        current = redirect_target(&current, location)?;
        logln(log, format_args!("Following redirect to '{current}'"));
    };
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
        assert!(source_of("hdfs://h/x", None, &mut log).is_err());
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
