//! The `/files` endpoints: browse, read and download files inside attached directories
//! (reference/mesos-contract.md §4.2 and §6, Mesos `src/files/files.cpp`).
//!
//! The agent attaches each executor run directory three times (Mesos `slave.cpp`): under its
//! real path, under `.../runs/latest`, and under the virtual
//! `/frameworks/<fid>/executors/<eid>/runs/latest`. A request's `path` is resolved by the
//! longest attached prefix (at `/` boundaries); the rest is joined to that directory,
//! canonicalized, and must still be inside it — `..`, symlinks and absolute tricks that lead
//! out are refused with `400 '<path>' is inaccessible`, as Mesos does. Nothing outside an
//! attached directory is ever read: the open that follows the check resolves the path again
//! beneath the attached directory (`openat2(RESOLVE_BENEATH)`, [`super::beneath`]), so a task
//! that swaps a directory for a symlink between the check and the open gains nothing.
//!
//! Differences from Mesos (issue 11): read and download serve regular files only, opened with
//! `O_NONBLOCK` — a FIFO, socket or device answers `400 Cannot read '<path>': not a regular
//! file` at once instead of holding a thread until someone writes to it.
//!
//! Mesos behaviours kept on purpose:
//! - browse of a file (not a directory) answers `200 []`; entries are sorted by path and
//!   `stat`ed through symlinks (except here: a symlink whose target is outside the attached
//!   directory is shown as the link itself, so no metadata of outside files leaks);
//! - read answers `{"data": …, "offset": …}` with `data` holding the file's raw bytes as a
//!   JSON string: bytes that are not valid UTF-8 are written as they are (Mesos's JSON
//!   writer passes them through), so concatenating chunks gives back the file exactly;
//! - `offset` absent or `-1` answers the file size in `offset` and no data (the web UI's
//!   pailer asks this way first); length defaults to the rest of the file, capped at 16 pages;
//! - the legacy `*.json` aliases (removed in Mesos 1.7, still used by old tools) and `jsonp`.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

use super::beneath;
use crate::security::authorizer::{Action, Authorizer, Object, Subject};

/// Mesos caps one read at 16 pages (`files.cpp`).
pub fn max_read_length() -> u64 {
    let page = rustix::param::page_size() as u64;
    let page = if page > 0 { page } else { 4096 };
    page * 16
}

/// An error of a `/files` request, carrying Mesos's status and text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    /// 400, e.g. a path that escapes its attached directory, or reading a directory.
    #[error("{0}")]
    BadRequest(String),
    /// 404: nothing attached matches, or the file does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 500: the file exists but could not be read.
    #[error("{0}")]
    Internal(String),
    /// 403: the ACLs deny the principal this sandbox (`access_sandboxes`) or endpoint
    /// (`get_endpoints`); Mesos's `Forbidden()`, no body.
    #[error("")]
    Forbidden,
}

impl FilesError {
    pub fn status(&self) -> StatusCode {
        match self {
            FilesError::BadRequest(_) => StatusCode::BAD_REQUEST,
            FilesError::NotFound(_) => StatusCode::NOT_FOUND,
            FilesError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            FilesError::Forbidden => StatusCode::FORBIDDEN,
        }
    }
}

impl IntoResponse for FilesError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match self {
            FilesError::BadRequest(text)
            | FilesError::NotFound(text)
            | FilesError::Internal(text) => text,
            FilesError::Forbidden => String::new(),
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// One `ls -l`-like entry of a browse answer (Mesos `FileInfo` rendered by `model()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The virtual path: the browsed path joined with the entry's name.
    pub path: String,
    pub nlink: u64,
    pub size: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// `ls -l` text, e.g. `-rw-r--r--` or `drwxr-xr-x`.
    pub mode: String,
    /// The raw `st_mode` (the v1 operator API's `FileInfo.mode`).
    pub mode_bits: u32,
    /// The owner's user name, or the numeric id if it has no name.
    pub uid: String,
    /// The group's name, or the numeric id if it has no name.
    pub gid: String,
}

impl FileInfo {
    fn from_metadata(path: String, metadata: &Metadata) -> FileInfo {
        FileInfo {
            path,
            nlink: metadata.nlink(),
            size: metadata.size(),
            mtime: metadata.mtime(),
            mode: mode_text(metadata.mode()),
            mode_bits: metadata.mode(),
            uid: user_name(metadata.uid()),
            gid: group_name(metadata.gid()),
        }
    }

    /// The JSON Mesos returns; keys in Mesos's (sorted) order.
    /// The v1 operator API's `FileInfo` (LIST_FILES).
    pub fn to_proto(&self) -> remesos_proto::v1::FileInfo {
        remesos_proto::v1::FileInfo {
            path: self.path.clone(),
            nlink: Some(i32::try_from(self.nlink).unwrap_or(i32::MAX)),
            size: Some(self.size),
            mtime: Some(remesos_proto::v1::TimeInfo {
                nanoseconds: self.mtime.saturating_mul(1_000_000_000),
            }),
            mode: Some(self.mode_bits),
            uid: Some(self.uid.clone()),
            gid: Some(self.gid.clone()),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "gid": self.gid,
            "mode": self.mode,
            "mtime": self.mtime,
            "nlink": self.nlink,
            "path": self.path,
            "size": self.size,
            "uid": self.uid,
        })
    }
}

/// The registry of attached paths. The agent owns one behind `Arc<RwLock<Files>>`: attach
/// and detach are rare (executor launch and removal) and every request only reads it for a
/// few syscalls on a blocking thread, never across an `.await`, so a lock is simpler than a
/// task with a mailbox and costs nothing measurable.
#[derive(Debug, Default, Clone)]
pub struct Files {
    /// Virtual path (no trailing `/`, no `//`) → canonical real path, checked to exist and be
    /// readable when attached.
    paths: BTreeMap<String, PathBuf>,
    /// Virtual path → the ACL that guards it (Mesos attaches each sandbox and the daemon's
    /// log with an authorization callback, src/slave/slave.cpp `attachTaskVolumeDirectory` /
    /// `Framework::launchExecutor`, master/main.cpp and slave/main.cpp `authorizeLogAccess`).
    /// Paths without a guard need no authorization.
    guards: BTreeMap<String, Guard>,
}

/// What reading an attached path takes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Guard {
    /// `access_sandboxes` on the user the sandbox belongs to (the executor's user, else its
    /// framework's).
    Sandbox(String),
    /// `access_mesos_logs` (object ANY): the daemon's own log, `/master/log`, `/slave/log`.
    MesosLog,
}

impl Files {
    pub fn new() -> Files {
        Files::default()
    }

    /// Makes `real_path` (a directory or a file) visible as `virtual_path`, replacing what
    /// was attached there. Fails if `real_path` does not exist or cannot be read.
    pub fn attach(&mut self, virtual_path: &str, real_path: &Path) -> Result<(), String> {
        let canonical = real_path
            .canonicalize()
            .map_err(|e| format!("Failed to get realpath of '{}': {e}", real_path.display()))?;
        if !readable(&canonical) {
            return Err(format!(
                "Failed to access '{}': Access denied",
                real_path.display()
            ));
        }
        self.paths.insert(normalize(virtual_path), canonical);
        Ok(())
    }

    /// [`Files::attach`] of a sandbox that belongs to `user`: reading it takes
    /// `access_sandboxes` on that user.
    pub fn attach_owned(
        &mut self,
        virtual_path: &str,
        real_path: &Path,
        user: &str,
    ) -> Result<(), String> {
        self.attach(virtual_path, real_path)?;
        self.guards
            .insert(normalize(virtual_path), Guard::Sandbox(user.to_string()));
        Ok(())
    }

    /// [`Files::attach`] of the daemon's log file (`--log_dir`): reading it takes
    /// `access_mesos_logs`, as Mesos's `authorizeLogAccess`.
    pub fn attach_mesos_log(&mut self, virtual_path: &str, real_path: &Path) -> Result<(), String> {
        self.attach(virtual_path, real_path)?;
        self.guards.insert(normalize(virtual_path), Guard::MesosLog);
        Ok(())
    }

    /// Attaches the daemon's log file (`--log_dir`), if there is one, as `virtual_path`
    /// (`/master/log`, `/slave/log`). Mesos logs and goes on when the file cannot be
    /// attached (`master/main.cpp`: "Master log file cannot be found"); so does this.
    pub fn attach_daemon_log(&mut self, virtual_path: &str) {
        let Some(log) = crate::api::logging::daemon_log() else {
            return;
        };
        if let Err(e) = self.attach_mesos_log(virtual_path, log) {
            tracing::error!(path = %log.display(), error = %e, "failed to attach the log file to {virtual_path}");
        }
    }

    /// Removes the attachment `virtual_path`, if any.
    pub fn detach(&mut self, virtual_path: &str) {
        self.paths.remove(&normalize(virtual_path));
        self.guards.remove(&normalize(virtual_path));
    }

    /// The guard of the attachment that governs `path` (Mesos's `FilesProcess::authorize`:
    /// the path itself, then each parent), if it has one.
    fn guard(&self, path: &str) -> Option<&Guard> {
        let path = normalize(path.strip_prefix("file://").unwrap_or(path));
        let mut prefix = path.as_str();
        loop {
            if let Some(guard) = self.guards.get(prefix) {
                return Some(guard);
            }
            match prefix.rfind('/') {
                Some(0) if prefix.len() > 1 => prefix = "/",
                Some(index) if index > 0 => prefix = &prefix[..index],
                _ => return None,
            }
        }
    }

    /// The owner of the sandbox that governs `path`, if it is in one.
    pub fn owner(&self, path: &str) -> Option<&str> {
        match self.guard(path)? {
            Guard::Sandbox(user) => Some(user),
            Guard::MesosLog => None,
        }
    }

    /// Whether `subject` may read `path`: `access_sandboxes` on a sandbox's owner,
    /// `access_mesos_logs` for the daemon's log.
    pub fn may_access<'s>(
        &self,
        authorizer: &Authorizer,
        subject: impl Into<Subject<'s>>,
        path: &str,
    ) -> bool {
        match self.guard(path) {
            Some(Guard::Sandbox(user)) => {
                authorizer.is_allowed(Action::AccessSandbox, subject, Object::Value(user))
            }
            Some(Guard::MesosLog) => {
                authorizer.is_allowed(Action::AccessMesosLog, subject, Object::Any)
            }
            None => true,
        }
    }

    /// The attachments, virtual → real (`/files/debug`).
    pub fn attached(&self) -> &BTreeMap<String, PathBuf> {
        &self.paths
    }

    /// Resolves a virtual path to a real one inside an attached path (Mesos
    /// `FilesProcess::resolve`). `Ok(None)` is 404; `Err` is 400 (the path leads outside).
    pub fn resolve(&self, path: &str) -> Result<Option<PathBuf>, FilesError> {
        let path = path.strip_prefix("file://").unwrap_or(path);
        if path.contains('\0') {
            return Err(FilesError::BadRequest(
                "The path contains a NUL byte.\n".to_string(),
            ));
        }
        let path = normalize(path);
        // Longest attached prefix first: the whole path, then each parent at a `/`.
        let mut prefix = path.as_str();
        loop {
            if let Some(root) = self.paths.get(prefix) {
                let suffix = path[prefix.len()..].trim_start_matches('/');
                return resolve_below(root, suffix, &path);
            }
            match prefix.rfind('/') {
                Some(0) if prefix.len() > 1 => prefix = "/",
                Some(index) if index > 0 => prefix = &prefix[..index],
                _ => return Ok(None),
            }
        }
    }

    /// `/files/browse`: the entries of a directory, sorted by path.
    ///
    /// The directory is opened beneath its attached root ([`beneath::open_beneath`]) and
    /// listed through that descriptor, and each entry is `stat`ed by resolving it beneath the
    /// root again: a symlink that leads outside (to `/`, to `/etc/shadow`) is shown as the link
    /// itself, and a directory swapped for a symlink after `resolve` is never listed.
    pub fn browse(&self, path: &str) -> Result<Vec<FileInfo>, FilesError> {
        let resolved = self
            .resolve(path)?
            .ok_or_else(|| FilesError::NotFound(String::new()))?;
        let Some(root) = self.root_of(path) else {
            return Ok(Vec::new());
        };
        // Mesos lists nothing for a file or an unreadable directory.
        let Ok(root_fd) = beneath::open_dir(&root) else {
            return Ok(Vec::new());
        };
        let Ok(relative) = resolved.strip_prefix(&root) else {
            return Ok(Vec::new());
        };
        let dir = match beneath::open_beneath(
            root_fd.as_fd(),
            relative,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NONBLOCK,
            0,
        ) {
            Ok(dir) => dir,
            Err(e) if beneath::is_escape(&e) => return Err(inaccessible(path)),
            Err(_) => return Ok(Vec::new()),
        };
        let listed = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        let Ok(entries) = std::fs::read_dir(&listed) else {
            return Ok(Vec::new());
        };
        let mut listing = BTreeMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            // Follow symlinks as Mesos's `stat` does, unless the target is outside.
            let metadata = match beneath::open_beneath(
                root_fd.as_fd(),
                &relative.join(&name),
                libc::O_PATH,
                0,
            ) {
                Ok(fd) => File::from(fd).metadata(),
                Err(_) => std::fs::symlink_metadata(listed.join(&name)),
            };
            let Ok(metadata) = metadata else { continue };
            let shown = name.to_string_lossy().into_owned();
            let virtual_path = format!("{}/{shown}", path.trim_end_matches('/'));
            listing.insert(name, FileInfo::from_metadata(virtual_path, &metadata));
        }
        Ok(listing.into_values().collect())
    }

    /// `/files/read`: up to `length` bytes at `offset`, capped at [`max_read_length`].
    /// Returns the `offset` to answer and the data, with Mesos's rules: `offset == -1` (or
    /// absent) answers the size and no data; an offset at or past the end answers no data.
    pub fn read(
        &self,
        path: &str,
        offset: i64,
        length: Option<u64>,
    ) -> Result<(u64, Vec<u8>), FilesError> {
        let (mut file, _) = self.open_file(path, "read")?;
        let internal = |e: std::io::Error| FilesError::Internal(format!("Failed to read: {e}.\n"));
        let size = file.seek(SeekFrom::End(0)).map_err(internal)?;
        let (start, length) = match offset {
            -1 => (0, Some(0)),
            offset => (offset as u64, length),
        };
        let answered_offset = if offset == -1 { size } else { start };
        if start >= size {
            return Ok((answered_offset, Vec::new()));
        }
        let length = length.unwrap_or(size - start).min(max_read_length());
        if length == 0 {
            return Ok((answered_offset, Vec::new()));
        }
        file.seek(SeekFrom::Start(start)).map_err(internal)?;
        let mut data = Vec::with_capacity(length as usize);
        file.take(length).read_to_end(&mut data).map_err(internal)?;
        Ok((answered_offset, data))
    }

    /// `/files/download`: the open file and its real path (for the name and content type).
    pub fn download(&self, path: &str) -> Result<(File, PathBuf), FilesError> {
        self.open_file(path, "download")
    }

    /// Resolves and opens a regular file. The open resolves the path again beneath the
    /// attached root with `openat2(RESOLVE_BENEATH)`, so a symlink swapped in after `resolve`
    /// cannot redirect it; it does not block (`O_NONBLOCK`: a FIFO a task made answers at
    /// once) and anything but a regular file is refused before a byte is read.
    fn open_file(&self, path: &str, verb: &str) -> Result<(File, PathBuf), FilesError> {
        let resolved = self
            .resolve(path)?
            .ok_or_else(|| FilesError::NotFound(String::new()))?;
        let root = self
            .root_of(path)
            .ok_or_else(|| FilesError::NotFound(String::new()))?;
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
        let opened = if resolved == root && !root.is_dir() {
            // An attached file, named by the agent: opened as itself.
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(flags | libc::O_NOFOLLOW)
                .open(&root)
                .map(std::os::fd::OwnedFd::from)
        } else {
            let relative = resolved
                .strip_prefix(&root)
                .map_err(|_| inaccessible(path))?;
            beneath::open_dir(&root)
                .and_then(|dir| beneath::open_beneath(dir.as_fd(), relative, flags, 0))
        };
        let file = File::from(opened.map_err(|e| {
            if beneath::is_escape(&e) {
                inaccessible(path)
            } else if e.kind() == std::io::ErrorKind::NotFound {
                FilesError::NotFound(String::new())
            } else {
                FilesError::Internal(format!("Failed to open file at '{path}': {e}.\n"))
            }
        })?);
        let metadata = file.metadata().map_err(|e| {
            FilesError::Internal(format!("Failed to open file at '{path}': {e}.\n"))
        })?;
        if metadata.is_dir() {
            return Err(FilesError::BadRequest(format!(
                "Cannot {verb} a directory.\n"
            )));
        }
        if !metadata.is_file() {
            return Err(FilesError::BadRequest(format!(
                "Cannot {verb} '{path}': not a regular file.\n"
            )));
        }
        Ok((file, resolved))
    }

    /// The real root of the attachment `path` falls under.
    fn root_of(&self, path: &str) -> Option<PathBuf> {
        let path = normalize(path.strip_prefix("file://").unwrap_or(path));
        let mut prefix = path.as_str();
        loop {
            if let Some(root) = self.paths.get(prefix) {
                return Some(root.clone());
            }
            match prefix.rfind('/') {
                Some(0) if prefix.len() > 1 => prefix = "/",
                Some(index) if index > 0 => prefix = &prefix[..index],
                _ => return None,
            }
        }
    }
}

/// Joins `suffix` to the attached `root` and checks the canonical result stays inside.
fn resolve_below(
    root: &Path,
    suffix: &str,
    virtual_path: &str,
) -> Result<Option<PathBuf>, FilesError> {
    if !root.is_dir() {
        // An attached file: a suffix assumes it is a directory; Mesos answers 404.
        return Ok(if suffix.is_empty() {
            Some(root.to_path_buf())
        } else {
            None
        });
    }
    let mut joined = root.to_path_buf();
    for component in suffix.split('/').filter(|c| !c.is_empty() && *c != ".") {
        // `..` stays literal; canonicalize below resolves it and the check catches escapes.
        joined.push(component);
    }
    match joined.canonicalize() {
        Ok(canonical) if canonical.starts_with(root) => Ok(Some(canonical)),
        Ok(_) => Err(inaccessible(virtual_path)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(FilesError::BadRequest(format!(
            "Failed to determine canonical path of '{virtual_path}': {e}.\n"
        ))),
    }
}

fn inaccessible(path: &str) -> FilesError {
    FilesError::BadRequest(format!("'{path}' is inaccessible.\n"))
}

/// A virtual path as stored and matched: no repeated `/`, no trailing `/` (but `/` stays).
fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    while out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

fn readable(path: &Path) -> bool {
    rustix::fs::access(path, rustix::fs::Access::READ_OK).is_ok()
}

/// `ls -l` text of a `st_mode` (Mesos `model(FileInfo)`).
pub fn mode_text(mode: u32) -> String {
    let kind = match mode & 0o170000 {
        0o040000 => 'd',
        0o020000 => 'c',
        0o060000 => 'b',
        0o010000 => 'p',
        0o120000 => 'l',
        0o140000 => 's',
        _ => '-',
    };
    let mut text = String::with_capacity(10);
    text.push(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        text.push(if bits & 4 != 0 { 'r' } else { '-' });
        text.push(if bits & 2 != 0 { 'w' } else { '-' });
        text.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    text
}

fn user_name(uid: u32) -> String {
    let mut buffer = vec![0 as libc::c_char; 4096];
    // SAFETY: an all-zero `passwd` is a valid value of this plain C struct.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buffer.len()` is its true size;
    // `getpwuid_r` writes only into `entry`, `buffer` and `result`.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if rc == 0 && !result.is_null() && !entry.pw_name.is_null() {
        // SAFETY: on success `pw_name` points to a NUL-terminated string inside `buffer`.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
        return name.to_string_lossy().into_owned();
    }
    uid.to_string()
}

fn group_name(gid: u32) -> String {
    let mut buffer = vec![0 as libc::c_char; 4096];
    // SAFETY: an all-zero `group` is a valid value of this plain C struct.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `user_name`.
    let rc = unsafe {
        libc::getgrgid_r(
            gid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if rc == 0 && !result.is_null() && !entry.gr_name.is_null() {
        // SAFETY: on success `gr_name` points to a NUL-terminated string inside `buffer`.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.gr_name) };
        return name.to_string_lossy().into_owned();
    }
    gid.to_string()
}

/// `{"data": <raw bytes as a JSON string>, "offset": N}`, as Mesos writes it: `"`, `\` and
/// control characters escaped, every other byte (including non-UTF-8) passed through.
pub fn read_json(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 32);
    out.extend_from_slice(b"{\"data\":\"");
    for &byte in data {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x00..=0x1f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
    out.extend_from_slice(b"\",\"offset\":");
    out.extend_from_slice(offset.to_string().as_bytes());
    out.push(b'}');
    out
}

/// The content type libprocess picks by extension (`mime.cpp`, a subset), else octet-stream.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    match extension {
        "txt" | "ksh" | "pl" | "bat" | "h" | "c" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" => "application/x-javascript",
        "xml" => "text/xml",
        "py" => "text/x-python",
        "sh" => "application/x-sh",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "gif" => "image/gif",
        "jpg" | "jpeg" | "jpe" => "image/jpeg",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        "gtar" => "application/x-gtar",
        "tsv" => "text/tab-separated-values",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

/// The shared registry the routes read.
pub type SharedFiles = Arc<RwLock<Files>>;

/// What the `/files` routes read: the registry and the ACLs that guard it.
#[derive(Clone)]
pub struct FilesState {
    files: SharedFiles,
    authorizer: Arc<Authorizer>,
}

/// Who made the request: a principal, an executor's token, or nobody (authentication off).
type Caller = crate::security::authorizer::Requester;

/// The `/files/*` routes (and their legacy `*.json` aliases) over `files`, open to all.
pub fn routes(files: SharedFiles) -> Router {
    routes_with(files, Arc::default())
}

/// The `/files/*` routes over `files`, guarded by `authorizer`: a sandbox needs
/// `access_sandboxes` on its owner, `/files/debug` `get_endpoints` (403 otherwise).
pub fn routes_with(files: SharedFiles, authorizer: Arc<Authorizer>) -> Router {
    let state = FilesState { files, authorizer };
    Router::new()
        .route("/files/browse", get(browse))
        .route("/files/browse.json", get(browse))
        .route("/files/read", get(read))
        .route("/files/read.json", get(read))
        .route("/files/download", get(download))
        .route("/files/download.json", get(download))
        .route("/files/debug", get(debug))
        .route("/files/debug.json", get(debug))
        .with_state(state)
}

/// Runs `work` for `caller` on `path`: 403 unless it may access the sandbox there.
async fn with_access<T: Send + 'static>(
    state: FilesState,
    caller: Caller,
    path: String,
    work: impl FnOnce(&Files, &str) -> Result<T, FilesError> + Send + 'static,
) -> Result<T, FilesError> {
    let authorizer = state.authorizer.clone();
    with_files(state.files, move |files| {
        if !files.may_access(&authorizer, caller.subject(), &path) {
            return Err(FilesError::Forbidden);
        }
        work(files, &path)
    })
    .await
}

type Params = Query<HashMap<String, String>>;

fn required_path(params: &HashMap<String, String>) -> Result<String, FilesError> {
    match params.get("path") {
        Some(path) if !path.is_empty() => Ok(path.clone()),
        _ => Err(FilesError::BadRequest(
            "Expecting 'path=value' in query.\n".to_string(),
        )),
    }
}

/// Runs `work` with a read lock on a blocking thread: resolution and reads are syscalls.
pub async fn with_files<T: Send + 'static>(
    files: SharedFiles,
    work: impl FnOnce(&Files) -> Result<T, FilesError> + Send + 'static,
) -> Result<T, FilesError> {
    tokio::task::spawn_blocking(move || {
        let files = files
            .read()
            .map_err(|_| FilesError::Internal("the files registry is poisoned\n".into()))?;
        work(&files)
    })
    .await
    .map_err(|e| FilesError::Internal(format!("{e}\n")))?
}

/// A JSON answer, wrapped as `callback(…);` when `jsonp` is given (libprocess `OK(json, jsonp)`).
fn json_response(body: Vec<u8>, jsonp: Option<&String>) -> Response {
    match jsonp {
        Some(callback) => {
            let mut wrapped = Vec::with_capacity(body.len() + callback.len() + 3);
            wrapped.extend_from_slice(callback.as_bytes());
            wrapped.push(b'(');
            wrapped.extend_from_slice(&body);
            wrapped.extend_from_slice(b");");
            ([(header::CONTENT_TYPE, "text/javascript")], wrapped).into_response()
        }
        None => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
    }
}

async fn browse(
    State(state): State<FilesState>,
    caller: Caller,
    Query(params): Params,
) -> Response {
    let result = async {
        let path = required_path(&params)?;
        with_access(state, caller, path, |files, path| files.browse(path)).await
    }
    .await;
    match result {
        Ok(listing) => {
            let json = serde_json::Value::Array(listing.iter().map(FileInfo::to_json).collect());
            json_response(json.to_string().into_bytes(), params.get("jsonp"))
        }
        Err(error) => error.into_response(),
    }
}

/// Parses `offset`/`length` as Mesos does: integers, `-1` allowed, below that refused.
fn parse_number(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, FilesError> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    let value: i64 = text
        .trim()
        .parse()
        .map_err(|e| FilesError::BadRequest(format!("Failed to parse {name}: {e}.\n")))?;
    if value < -1 {
        return Err(FilesError::BadRequest(format!(
            "Negative {name} provided: {value}.\n"
        )));
    }
    Ok(Some(value))
}

async fn read(State(state): State<FilesState>, caller: Caller, Query(params): Params) -> Response {
    let result = async {
        let path = required_path(&params)?;
        let offset = parse_number(&params, "offset")?.unwrap_or(-1);
        let length = parse_number(&params, "length")?
            .filter(|&l| l >= 0)
            .map(|l| l as u64);
        with_access(state, caller, path, move |files, path| {
            files.read(path, offset, length)
        })
        .await
    }
    .await;
    match result {
        Ok((offset, data)) => json_response(read_json(offset, &data), params.get("jsonp")),
        Err(error) => error.into_response(),
    }
}

async fn download(
    State(state): State<FilesState>,
    caller: Caller,
    Query(params): Params,
) -> Response {
    let result = async {
        let path = required_path(&params)?;
        with_access(state, caller, path, |files, path| files.download(path)).await
    }
    .await;
    let (file, real) = match result {
        Ok(opened) => opened,
        Err(error) => return error.into_response(),
    };
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().replace(['"', '\r', '\n'], "_"))
        .unwrap_or_default();
    let length = file.metadata().map(|m| m.len()).ok();
    let file = tokio::fs::File::from_std(file);
    let chunks = futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buffer)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type(&real)),
    );
    if let Ok(value) = header::HeaderValue::from_str(&format!("attachment; filename={name}")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, length.into());
    }
    response
}

async fn debug(State(state): State<FilesState>, caller: Caller, Query(params): Params) -> Response {
    let endpoint = Object::Value("/files/debug");
    if !state
        .authorizer
        .is_allowed(Action::GetEndpoint, caller.subject(), endpoint)
    {
        return FilesError::Forbidden.into_response();
    }
    let object: serde_json::Map<String, serde_json::Value> = match state.files.read() {
        Ok(files) => files
            .attached()
            .iter()
            .map(|(k, v)| (k.clone(), v.display().to_string().into()))
            .collect(),
        Err(_) => {
            return FilesError::Internal("the files registry is poisoned\n".into()).into_response();
        }
    };
    json_response(
        serde_json::Value::Object(object).to_string().into_bytes(),
        params.get("jsonp"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_render_like_ls() {
        assert_eq!(mode_text(0o100644), "-rw-r--r--");
        assert_eq!(mode_text(0o040755), "drwxr-xr-x");
        assert_eq!(mode_text(0o120777), "lrwxrwxrwx");
    }

    #[test]
    fn read_json_escapes_like_mesos() {
        assert_eq!(
            read_json(3, b"a\"\\\n\x01\xff"),
            b"{\"data\":\"a\\\"\\\\\\n\\u0001\xff\",\"offset\":3}".to_vec()
        );
    }

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize("/a//b/"), "/a/b");
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize("a"), "a");
    }
}

#[cfg(test)]
mod authz_tests {
    use super::*;
    use crate::security::{acls, authorizer::Principal};

    /// Mesos attaches each sandbox with an `access_sandboxes` callback on its executor's
    /// user (`FilesProcess::authorize` walks up from the requested path).
    #[test]
    fn a_sandbox_is_readable_only_by_principals_allowed_its_user() {
        let dir = std::env::temp_dir().join(format!("remesos-files-authz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let mut files = Files::new();
        files.attach_owned("/sandboxes/a", &dir, "alice").unwrap();
        files.attach("/logs", &dir).unwrap();
        assert_eq!(files.owner("/sandboxes/a/sub/stdout"), Some("alice"));
        assert_eq!(files.owner("/sandboxes/a/"), Some("alice"));
        assert_eq!(files.owner("/logs/x"), None);
        let acls = acls::parse(
            br#"{"permissive": false, "access_sandboxes": [
                {"principals": {"values": ["alice"]}, "users": {"values": ["alice"]}}]}"#,
        )
        .unwrap();
        let authorizer = Authorizer::new(&acls);
        let (alice, bob) = (
            Principal::new("alice").unwrap(),
            Principal::new("bob").unwrap(),
        );
        assert!(files.may_access(&authorizer, Some(&alice), "/sandboxes/a/sub"));
        assert!(!files.may_access(&authorizer, Some(&bob), "/sandboxes/a/sub"));
        assert!(!files.may_access(&authorizer, None, "/sandboxes/a"));
        // Paths without an owner need no authorization, as in Mesos.
        assert!(files.may_access(&authorizer, Some(&bob), "/logs"));
        files.detach("/sandboxes/a");
        assert_eq!(files.owner("/sandboxes/a"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
