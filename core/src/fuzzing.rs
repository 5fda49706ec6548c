//! Fuzz target bodies (issue 11): one `pub fn <target>(data: &[u8])` per network decoder.
//!
//! Each function decodes `data` exactly the way a daemon does on that path, then runs the
//! checks it runs before touching state, and asserts the properties the decoder promises
//! (a JSON-decoded message re-encodes and re-decodes to the same JSON; a parsed
//! `Resources` contains itself; a formatted byte size parses back). A panic here is a bug
//! reachable from the network.
//!
//! Two drivers call them:
//! - `fuzz/fuzz_targets/<target>.rs`, thin libFuzzer entry points (`cargo +nightly fuzz run
//!   <target>`, outside the workspace);
//! - `core/tests/fuzz_corpora.rs`, which replays every file of `fuzz/corpus/<target>/` and
//!   `fuzz/regressions/<target>/` through the same functions, so the ordinary
//!   `cargo test --release` catches a regression without nightly.
//!
//! [`TARGETS`] lists them by name; the replay test uses it to find each corpus.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use prost::{Message, Name};
use remesos_proto::internal as wire;
use remesos_proto::v1;

use crate::api::{self, APPLICATION_JSON, APPLICATION_PROTOBUF};
use crate::common::id::{AgentId, OfferId};
use crate::resources::Resources;

/// A target's body: any bytes in, a panic only on a bug.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/` file and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("scheduler_call", scheduler_call),
    ("executor_call", executor_call),
    ("operator_call", operator_call),
    ("agent_call", agent_call),
    ("json_dialect", json_dialect),
    ("recordio", recordio),
    ("resources", resources),
    ("flags", flags),
    ("agent_grpc", agent_grpc),
    ("master_harness", master_harness),
    ("archive", archive),
    ("files_path", files_path),
];

/// Decodes `body` as a v1 API call with both content types through [`api::read_call`], as
/// the HTTP handlers do; returns the calls that decoded.
fn read_both<M: Message + Name + Default>(body: &[u8]) -> Vec<M> {
    let body = Bytes::copy_from_slice(body);
    let mut calls = Vec::new();
    for media in [APPLICATION_JSON, APPLICATION_PROTOBUF] {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
        if let Ok((call, _)) = api::read_call::<M>(&Method::POST, &headers, &body) {
            calls.push(call);
        }
    }
    calls
}

/// The JSON dialect's promise for a message it accepted: the JSON it writes for it reads
/// back, and writes the same JSON again.
fn assert_json_round_trip<M: Message + Name + Default>(message: &M) {
    let first = remesos_proto::json::to_vec(message);
    let again: M = remesos_proto::json::from_slice(&first).unwrap_or_else(|e| {
        panic!(
            "{} JSON we wrote does not read back: {e}: {}",
            M::NAME,
            String::from_utf8_lossy(&first)
        )
    });
    let second = remesos_proto::json::to_vec(&again);
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "{} JSON changes on a round trip",
        M::NAME
    );
}

/// `POST /api/v1/scheduler`: decode, then Mesos's call validation (the master's first step).
pub fn scheduler_call(data: &[u8]) {
    for call in read_both::<v1::scheduler::Call>(data) {
        let _ = crate::master::validate_call(call.clone());
        // The master writes calls it accepted back out (operator events, logs): any message
        // that decoded must also encode.
        let _ = remesos_proto::json::to_vec(&call);
    }
}

/// `POST /api/v1/executor` on the agent.
pub fn executor_call(data: &[u8]) {
    for call in read_both::<v1::executor::Call>(data) {
        let _ = remesos_proto::json::to_vec(&call);
    }
}

/// `POST /api/v1` on the master (the operator API).
pub fn operator_call(data: &[u8]) {
    for call in read_both::<v1::master::Call>(data) {
        let _ = remesos_proto::json::to_vec(&call);
    }
}

/// `POST /api/v1` on the agent (the agent's operator API).
pub fn agent_call(data: &[u8]) {
    for call in read_both::<v1::agent::Call>(data) {
        let _ = remesos_proto::json::to_vec(&call);
    }
}

/// Mesos's JSON dialect on its own (`remesos_proto::json`), for the message types that
/// arrive as JSON: the first byte picks the type, the rest is the body. Accepted messages
/// must round-trip.
pub fn json_dialect(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    fn check<M: Message + Name + Default>(body: &[u8]) {
        if let Ok(message) = remesos_proto::json::from_slice::<M>(body) {
            assert_json_round_trip(&message);
        }
    }
    match selector % 8 {
        0 => check::<v1::scheduler::Call>(body),
        1 => check::<v1::executor::Call>(body),
        2 => check::<v1::master::Call>(body),
        3 => check::<v1::agent::Call>(body),
        4 => check::<v1::FrameworkInfo>(body),
        5 => check::<v1::TaskInfo>(body),
        6 => check::<v1::Resource>(body),
        _ => check::<v1::MasterInfo>(body),
    }
}

/// RecordIO (`remesos_proto::recordio`), as the clients read event streams: the first byte
/// picks the chunk size, the rest is fed in chunks of that size. The records must not
/// depend on the chunking, and every record is at most the limit.
pub fn recordio(data: &[u8]) {
    use remesos_proto::recordio::Decoder;
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    const MAX: usize = 4096;
    let whole = Decoder::new(MAX).feed(stream);
    let mut decoder = Decoder::new(MAX);
    let mut records = Vec::new();
    let mut failed = false;
    for piece in stream.chunks(usize::from(chunk).max(1)) {
        match decoder.feed(piece) {
            Ok(r) => records.extend(r),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(records.iter().all(|r| r.len() <= MAX));
    match whole {
        Ok(all) => {
            assert!(
                !failed,
                "chunked decoding failed where whole decoding did not"
            );
            assert_eq!(all, records, "records depend on the chunking");
        }
        Err(_) => assert!(
            failed,
            "chunked decoding succeeded where whole decoding failed"
        ),
    }
}

/// `--resources` text and JSON (`Resources::parse`, which also takes a JSON array) and the
/// JSON objects agents and frameworks send (`Resources::from_json`), then the arithmetic
/// the allocator does with them. The first line is the default role.
pub fn resources(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (role, text) = text.split_once('\n').unwrap_or(("*", &text));
    let parsed = Resources::parse(text, role);
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = Resources::from_json(&json, "*");
    }
    let Ok(r) = parsed else { return };
    assert!(r.contains(&r), "resources do not contain themselves: {r:?}");
    let mut sum = r.clone();
    sum += &r;
    assert!(sum.contains(&r), "r + r does not contain r: {r:?}");
    let mut difference = sum.clone();
    for resource in r.iter() {
        difference.subtract_resource(resource);
    }
    let _ = difference.to_text();
    let _ = r.to_text();
    let _ = r.to_json();
    let _ = r.scalar_quantities();
    let _ = r.ports();
    let _ = r.reservations();
    let mut allocated = r.clone();
    allocated.allocate(role);
    let _ = allocated.allocations();
    allocated.unallocate();
}

/// Command-line flags and `MESOS_*` environment (`flags::Flags::load` with the master's and
/// the agent's flags), and stout durations and byte sizes. Tokens are separated by NUL; a
/// token `MESOS_NAME=value` goes to the environment, any other to the arguments.
pub fn flags(data: &[u8]) {
    use crate::duration::{format_bytes, format_duration, parse_bytes, parse_duration};
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let tokens: Vec<&str> = text.split('\0').collect();
    let mut args = Vec::new();
    let mut env = Vec::new();
    for token in &tokens {
        match token.split_once('=') {
            Some((key, value)) if key.starts_with("MESOS_") => env.push((key, value)),
            _ => args.push(*token),
        }
        if let Ok(d) = parse_duration(token) {
            let text = format_duration(d);
            assert!(
                parse_duration(&text).is_ok(),
                "formatted duration {text:?} of {token:?} does not parse"
            );
        }
        if let Ok(b) = parse_bytes(token) {
            let text = format_bytes(b);
            assert_eq!(parse_bytes(&text).ok(), Some(b), "{text:?} of {token:?}");
        }
    }
    // The tables are built once: building them costs more than most inputs' parsing.
    static MASTER: std::sync::OnceLock<crate::flags::Flags> = std::sync::OnceLock::new();
    static AGENT: std::sync::OnceLock<crate::flags::Flags> = std::sync::OnceLock::new();
    let flags = if selector % 2 == 0 {
        MASTER.get_or_init(crate::master::flags::flags)
    } else {
        AGENT.get_or_init(crate::agent::flags::flags)
    };
    if let Ok(loaded) = flags.load(&args, env.iter().copied()) {
        let _ = loaded.effective();
        let _ = loaded.to_string();
        // The typed getters assert the flag's kind (a programming error, not input), so
        // read each value through its own kind.
        for (name, _) in loaded.effective() {
            let _ = loaded.get(&name).map(|v| v.to_string());
            let _ = loaded.source(&name);
        }
    }
}

/// The agent <-> master gRPC messages (proto/remesos/internal.proto) as prost decodes them
/// off the wire, then the master's first check of a session's first message.
pub fn agent_grpc(data: &[u8]) {
    if let Ok(message) = wire::AgentMessage::decode(data) {
        let _ = remesos_proto::json::to_vec(&message);
    }
    if let Ok(message) = wire::MasterMessage::decode(data) {
        let _ = remesos_proto::json::to_vec(&message);
    }
}

/// A cursor over fuzz input for the stateful targets.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// A chunk whose length takes two bytes (protobuf messages with resources exceed 255).
    fn long_chunk(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(u16::from_le_bytes([self.byte()?, self.byte().unwrap_or(0)]));
        let len = len.min(self.0.len());
        let (chunk, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(chunk)
    }
}

/// The synchronous master driven without sockets (as in master/tests.rs) by a script of
/// scheduler calls, agent registrations and agent messages, with time advancing. Each step
/// is one opcode byte then its operands; messages are protobuf, as on the wire.
pub fn master_harness(data: &[u8]) {
    use crate::master::{Config, ConnId, Effect, Master, Time};
    use v1::scheduler::event::Type as EventType;

    #[allow(
        clippy::disallowed_methods,
        reason = "a fixed origin for the harness's simulated clock"
    )]
    let start = Instant::now();
    let mut elapsed = Duration::ZERO;
    let time = |elapsed: Duration| Time {
        mono: start + elapsed,
        wall: 1_700_000_000.0 + elapsed.as_secs_f64(),
    };
    let mut master = Master::new(Config::default(), "MASTER".to_string(), time(elapsed));
    let mut next_conn: ConnId = 1;
    // Subscriptions: (conn, stream id, framework id once SUBSCRIBED was seen).
    let mut frameworks: Vec<(ConnId, String, Option<String>)> = Vec::new();
    // Agent sessions: (conn, agent id).
    let mut agents: Vec<(ConnId, AgentId)> = Vec::new();
    let mut input = Input(data);

    let absorb = |master: &mut Master, frameworks: &mut Vec<(ConnId, String, Option<String>)>| {
        for effect in master.drain_effects() {
            if let Effect::Framework { conn, event } = effect
                && event.r#type == Some(EventType::Subscribed as i32)
                && let Some(subscribed) = &event.subscribed
                && let Some(f) = frameworks.iter_mut().find(|f| f.0 == conn)
            {
                f.2 = Some(subscribed.framework_id.value.clone());
            }
        }
    };

    for _ in 0..64 {
        let Some(op) = input.byte() else { break };
        let now = time(elapsed);
        match op % 10 {
            // SUBSCRIBE on a new connection.
            0 => {
                let Some(body) = input.long_chunk() else {
                    break;
                };
                let Ok(call) = v1::scheduler::Call::decode(body) else {
                    continue;
                };
                next_conn += 1;
                if let Ok(stream) = master.subscribe(now, next_conn, call) {
                    frameworks.push((next_conn, stream, None));
                }
            }
            // Any other call on a subscription; its framework and offer ids are filled in
            // from the master's state so that the fuzzer reaches past id checks.
            1 => {
                let which = usize::from(input.byte().unwrap_or(0));
                let Some(body) = input.long_chunk() else {
                    break;
                };
                let Ok(mut call) = v1::scheduler::Call::decode(body) else {
                    continue;
                };
                let stream = match frameworks.get(which % frameworks.len().max(1)) {
                    Some((_, stream, id)) => {
                        if call.framework_id.is_none()
                            && let Some(id) = id
                        {
                            call.framework_id = Some(v1::FrameworkId { value: id.clone() });
                        }
                        Some(stream.clone())
                    }
                    None => None,
                };
                let mut offers: Vec<&OfferId> = master.offers.keys().collect();
                offers.sort();
                let offer_ids: Vec<v1::OfferId> =
                    offers.into_iter().map(|value| value.to_proto()).collect();
                if let Some(accept) = &mut call.accept
                    && accept.offer_ids.is_empty()
                {
                    accept.offer_ids = offer_ids.clone();
                }
                if let Some(decline) = &mut call.decline
                    && decline.offer_ids.is_empty()
                {
                    decline.offer_ids = offer_ids;
                }
                let _ = master.call(now, stream.as_deref(), call);
            }
            // A new agent session: Register or Reregister first.
            2 | 3 => {
                let Some(body) = input.long_chunk() else {
                    break;
                };
                next_conn += 1;
                let result = if op % 10 == 2 {
                    wire::Register::decode(body)
                        .ok()
                        .map(|r| master.register_agent(now, next_conn, r))
                } else {
                    wire::Reregister::decode(body)
                        .ok()
                        .map(|r| master.reregister_agent(now, next_conn, r))
                };
                if let Some(Ok(agent_id)) = result {
                    agents.push((next_conn, agent_id));
                }
            }
            // A message on an agent's session (runtime.rs's dispatch).
            4 => {
                let which = usize::from(input.byte().unwrap_or(0));
                let Some(body) = input.long_chunk() else {
                    break;
                };
                let Some((conn, agent_id)) = agents.get(which % agents.len().max(1)).cloned()
                else {
                    continue;
                };
                let Ok(wire::AgentMessage {
                    message: Some(message),
                }) = wire::AgentMessage::decode(body)
                else {
                    continue;
                };
                if master.agents.get(&agent_id).and_then(|a| a.conn) != Some(conn) {
                    continue;
                }
                use wire::agent_message::Message as M;
                match message {
                    M::Pong(_) => master.agent_pong(&agent_id),
                    M::StatusUpdate(u) => master.agent_status_update(now, &agent_id, u),
                    M::UpdateOperationStatus(u) => master.agent_operation_status(now, &agent_id, u),
                    M::ExecutorToFramework(m) => master.agent_executor_message(&agent_id, m),
                    M::ExitedExecutor(e) => master.agent_executor_exited(now, &agent_id, e),
                    M::Unregister(_) => master.mark_unreachable(now, &agent_id),
                    M::Register(_) | M::Reregister(_) => {}
                }
            }
            // Time passes (up to about 18 hours per step).
            5 => {
                let seconds =
                    u16::from_le_bytes([input.byte().unwrap_or(0), input.byte().unwrap_or(0)]);
                elapsed += Duration::from_secs(u64::from(seconds));
                master.tick(time(elapsed));
            }
            6 => {
                master.request_allocation();
                master.allocate_if_requested(now);
            }
            // A framework's stream closes.
            7 => {
                let which = usize::from(input.byte().unwrap_or(0));
                if let Some((conn, _, Some(id))) =
                    frameworks.get(which % frameworks.len().max(1)).cloned()
                {
                    master.framework_disconnected(now, &id, conn);
                }
            }
            // An agent's session closes.
            8 => {
                let which = usize::from(input.byte().unwrap_or(0));
                if let Some((conn, id)) = agents.get(which % agents.len().max(1)).cloned() {
                    master.agent_disconnected(now, &id, conn);
                }
            }
            // The operator reads the state.
            _ => {
                let _ = master.get_state();
            }
        }
        absorb(&mut master, &mut frameworks);
    }
}

/// A directory of this process under the system temp dir, created once per process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("remesos-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Removes `path` even when an archive left directories without write or search permission.
fn remove_all(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
        return;
    }
    fn open_up(path: &Path) {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.is_dir() {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
            if let Ok(entries) = std::fs::read_dir(path) {
                for entry in entries.flatten() {
                    open_up(&entry.path());
                }
            }
        }
    }
    open_up(path);
    let _ = std::fs::remove_dir_all(path);
}

/// The fetcher's archive extraction (`agent::fetcher::extract`) of arbitrary bytes: the
/// first byte picks the format. Nothing may appear outside the sandbox directory.
pub fn archive(data: &[u8]) {
    use crate::agent::fetcher::{ArchiveKind, extract};
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let (kind, name) = match selector % 6 {
        0 => (ArchiveKind::Tar, "a.tar"),
        1 => (ArchiveKind::TarGz, "a.tar.gz"),
        2 => (ArchiveKind::TarBz2, "a.tar.bz2"),
        3 => (ArchiveKind::TarXz, "a.tar.xz"),
        4 => (ArchiveKind::Zip, "a.zip"),
        _ => (ArchiveKind::Gz, "a.gz"),
    };
    // The directories are made once and only emptied when an input extracted something:
    // file-system calls, not decoding, bound this target's speed.
    static DIRS: std::sync::OnceLock<(PathBuf, PathBuf, PathBuf)> = std::sync::OnceLock::new();
    let (root, run, sandbox) = DIRS.get_or_init(|| {
        let root = scratch("archive");
        let run = root.join("run");
        remove_all(&run);
        let sandbox = run.join("sandbox");
        let _ = std::fs::create_dir_all(&sandbox);
        (root, run, sandbox)
    });
    let archive = run.join(name);
    if std::fs::write(&archive, bytes).is_err() {
        return;
    }
    let _ = extract(kind, &archive, sandbox);
    const ARCHIVES: [&str; 6] = [
        "a.tar",
        "a.tar.gz",
        "a.tar.bz2",
        "a.tar.xz",
        "a.zip",
        "a.gz",
    ];
    let mut outside: Vec<String> = std::fs::read_dir(run)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "sandbox" && !ARCHIVES.contains(&n.as_str()))
                .collect()
        })
        .unwrap_or_default();
    outside.sort();
    assert!(
        outside.is_empty(),
        "extraction created {outside:?} outside the sandbox"
    );
    let root_entries: Vec<String> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "run")
                .collect()
        })
        .unwrap_or_default();
    assert!(
        root_entries.is_empty(),
        "extraction created {root_entries:?} outside the sandbox"
    );
    let dirty = std::fs::read_dir(sandbox).map_or(true, |mut entries| entries.next().is_some());
    if dirty {
        remove_all(sandbox);
        let _ = std::fs::create_dir_all(sandbox);
    }
    // An entry named `.` may have changed the sandbox's own mode: reset it for the next input.
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(sandbox, std::fs::Permissions::from_mode(0o755));
}

/// The `/files` path resolver (`agent::files::Files::resolve`) over a sandbox with a
/// subdirectory, a file and symlinks inside and outside: whatever the path, the answer is
/// inside the attached directory or not found or refused.
pub fn files_path(data: &[u8]) {
    use crate::agent::files::Files;
    use std::sync::OnceLock;
    static FIXTURE: OnceLock<(Files, PathBuf)> = OnceLock::new();
    let (files, root) = FIXTURE.get_or_init(|| {
        let base = scratch("files");
        let sandbox = base.join("sandbox");
        let _ = std::fs::create_dir_all(sandbox.join("dir/sub"));
        let _ = std::fs::write(sandbox.join("stdout"), b"out\n");
        let _ = std::fs::write(sandbox.join("dir/file"), b"f\n");
        let _ = std::fs::write(base.join("secret"), b"s\n");
        let _ = std::os::unix::fs::symlink("../secret", sandbox.join("escape"));
        let _ = std::os::unix::fs::symlink("/etc", sandbox.join("etc"));
        let _ = std::os::unix::fs::symlink("dir", sandbox.join("inside"));
        let root = sandbox.canonicalize().unwrap_or(sandbox);
        let mut files = Files::new();
        let _ = files.attach("/sandbox", &root);
        let _ = files.attach("/sandbox/latest", &root.join("dir"));
        let _ = files.attach("/stdout", &root.join("stdout"));
        (files, root)
    });
    let path = String::from_utf8_lossy(data);
    if let Ok(Some(resolved)) = files.resolve(&path) {
        assert!(
            resolved.starts_with(root),
            "{path:?} resolved to {} outside {}",
            resolved.display(),
            root.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_takes_empty_and_junk_input() {
        for (name, target) in TARGETS {
            for input in [&b""[..], b"\0", b"\xff\xff\xff", b"{}", b"[]"] {
                eprintln!("{name}: {input:?}");
                target(input);
            }
        }
    }
}
