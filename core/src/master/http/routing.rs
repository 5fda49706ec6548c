//! libprocess's HTTP routing on the master's port, and what a standby master serves.
//!
//! # Routing (Mesos `3rdparty/libprocess/src/process.cpp`)
//!
//! gRPC is told apart by its content type only (`application/grpc*`, the agents' sessions,
//! DESIGN.md §2); every other request is routed as libprocess routes it:
//!
//! 1. A path that does not start with `/` is `400 Request URL path must start with '/'`;
//!    a path containing `/..` is `404` (`ProcessManager::handle`).
//! 2. The first segment, percent-decoded, names the process (`master`, `metrics`,
//!    `version`, `files`, `logging`). Any other first segment, and `/` itself, is
//!    *delegated* to the master: `/state` is handled as `/master/state`, `/` as `/master`
//!    (`ProcessManager::handle`, the `delegate` branch).
//! 3. Inside the process, the endpoint name is the rest of the path without its leading
//!    and trailing `/` (`/master/state/` is `state`), and the longest registered prefix at
//!    `/` boundaries serves it: `/master/state/x` is `state`, `/api/v1/foo` is `api/v1`
//!    (`ProcessBase::consume`). A process's root endpoint (`/version`) matches only its
//!    own name: `/version/x` is 404.
//! 4. No endpoint: the master's web UI assets (`""`, `app`, `assets`, Mesos `master.cpp`
//!    `provide(...)`) are served from the binary (webui.rs; Mesos reads `--webui_dir`);
//!    anything else is `404 Not Found`.
//!
//! Beyond libprocess: `/agent/<agent id>/files/<browse|read|download>` (and their `.json`
//! aliases) is the master's proxy to that agent's `/files` (sandbox.rs), which the web UI
//! uses to browse sandboxes. It is matched before delegation, so no master endpoint or asset
//! path is shadowed by it (the master has no `agent` endpoint).
//!
//! # What a non-leading master serves
//!
//! The routes above exist on every master; each handler decides what a standby does.
//! Mesos's master handlers that start with `if (!master->elected()) return redirect(request)`
//! answer `307 Temporary Redirect` to the leader, `Location: //<leader host>:<port><path>?<query>`
//! (protocol-relative; `503 No leader elected` while nobody leads), all in
//! `src/master/http.cpp` `Master::Http::redirect`. The other processes are not the master's
//! and answer for the master they run in.
//!
//! | endpoint | standby | Mesos source |
//! |---|---|---|
//! | `/api/v1` (every operator call, GET_HEALTH included) | 307 | `http.cpp` `Master::Http::api` |
//! | `/api/v1/scheduler` | 307 | `http.cpp` `Master::Http::scheduler` |
//! | `/master/state`, `/state-summary`, `/frameworks`, `/slaves`, `/tasks`, `/roles`, `/weights`, `/teardown`, `/maintenance/schedule`, `/maintenance/status`, `/machine/down`, `/machine/up`, `/reserve`, `/unreserve`, `/create-volumes`, `/destroy-volumes` (and the legacy `state.json`, `tasks.json`, `roles.json`) | 307 | `http.cpp`, each handler's `elected()` check |
//! | `/master/health` | 200, served | `http.cpp` `Master::Http::health` (no check) |
//! | `/master/flags` | its own flags | `http.cpp` `Master::Http::flags` (no check) |
//! | `/master/redirect` | 307 to the leader's root; `/master/redirect/...` 404 | `http.cpp` `Master::Http::redirect` |
//! | `/metrics/snapshot` | its own metrics, `master/elected: 0` | libprocess `metrics.cpp` (process `metrics`); `src/master/metrics.cpp` `Metrics::Metrics`, `master.hpp` `_elected` |
//! | `/metrics` (remesos: Prometheus/OpenMetrics, `common::metrics`) | its own metrics, as `/metrics/snapshot`, without histograms | — |
//! | `/version` | served | `src/version/version.cpp` (process `version`) |
//! | `/files/*` | served (`/master/log` attached with `--log_dir`) | `src/files/files.cpp` (process `files`) |
//! | `/logging/toggle` | served | libprocess `logging.cpp` (process `logging`) |
//! | `/`, `/app`, `/assets` | served: the page follows `/master/redirect` to the leader (webui.rs) | `master.cpp` `provide(...)` |
//! | `/agent/<id>/files/*` (remesos's sandbox proxy) | 307 | only the leader knows the agents |
//! | anything else | 404 | `process.cpp` `ProcessBase::consume` |
//!
//! Where we differ: the redirect's `Location` keeps the path as the client sent it
//! (`/api/v1/scheduler` → `//leader/api/v1/scheduler`), while Mesos writes the delegated
//! path (`//leader/master/api/v1/scheduler`); the leader serves both. The query string is
//! passed on as sent (Mesos decodes and re-encodes it).
//!
//! While an elected master recovers its registry, the master's own endpoints answer
//! `503 Master has not finished recovery` (Mesos's `api` and `scheduler` do; its other
//! handlers would serve a still empty state, which we have no actor for yet) and the other
//! processes serve as on a standby, with `master/elected: 1` (Mesos's gauge is `elected()`).

/// A libprocess process served on the master's port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    Master,
    Metrics,
    Version,
    Files,
    Logging,
}

impl Process {
    const ALL: [Process; 5] = [
        Process::Master,
        Process::Metrics,
        Process::Version,
        Process::Files,
        Process::Logging,
    ];

    /// The libprocess id: the first path segment.
    pub fn id(self) -> &'static str {
        match self {
            Process::Master => "master",
            Process::Metrics => "metrics",
            Process::Version => "version",
            Process::Files => "files",
            Process::Logging => "logging",
        }
    }

    /// The endpoint names the process routes (`route("/<name>", ...)` without the `/`).
    fn endpoints(self) -> &'static [&'static str] {
        match self {
            // `master.cpp` `Master::initialize`; the `*.json` aliases were removed in Mesos
            // 1.7 and are still served for old tools (reference §6).
            Process::Master => &[
                "api/v1",
                "api/v1/scheduler",
                "state",
                "state.json",
                "state-summary",
                "frameworks",
                "slaves",
                "tasks",
                "tasks.json",
                "roles",
                "roles.json",
                "weights",
                "quota",
                "flags",
                "health",
                "redirect",
                "teardown",
                "maintenance/schedule",
                "maintenance/status",
                "machine/down",
                "machine/up",
                "reserve",
                "unreserve",
                "create-volumes",
                "destroy-volumes",
            ],
            // `""` is remesos's `/metrics` (Prometheus), beside libprocess's snapshot.
            Process::Metrics => &["", "snapshot"],
            Process::Version => &[""],
            Process::Files => &FILES_ENDPOINTS,
            Process::Logging => &["toggle"],
        }
    }

    /// Every endpoint of every process.
    pub fn all() -> impl Iterator<Item = (Process, &'static str)> {
        Process::ALL
            .into_iter()
            .flat_map(|p| p.endpoints().iter().map(move |name| (p, *name)))
    }

    fn from_id(id: &str) -> Option<Process> {
        Process::ALL.into_iter().find(|p| p.id() == id)
    }
}

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An endpoint of `process`.
    Endpoint {
        process: Process,
        /// The endpoint's name as routed (`""` for a process's root).
        name: &'static str,
        /// The path after delegation (`/state/` → `/master/state/`): what the handler sees
        /// in Mesos (`/master/redirect/x` is told from `/master/redirect` by it).
        path: String,
    },
    /// The master's web UI assets (webui.rs).
    WebUi,
    /// The master's proxy to an agent's `/files` (sandbox.rs); the agent id is checked by
    /// the handler, the endpoint is one of [`AGENT_FILES_ENDPOINTS`].
    AgentFiles { endpoint: &'static str },
    /// The path does not start with `/`: `400`.
    BadPath,
    /// Nothing serves the path: `404`.
    NotFound,
}

impl Target {
    /// The path of the endpoint in the master's own router: `/<process>/<name>`, or
    /// `/<process>` for a root endpoint.
    pub fn canonical(process: Process, name: &str) -> String {
        if name.is_empty() {
            format!("/{}", process.id())
        } else {
            format!("/{}/{name}", process.id())
        }
    }
}

/// The `files` process's endpoints (`src/files/files.cpp`), on the master and the agents.
const FILES_ENDPOINTS: [&str; 8] = [
    "browse",
    "browse.json",
    "read",
    "read.json",
    "download",
    "download.json",
    "debug",
    "debug.json",
];

/// The agent's `/files` endpoints the master proxies; `debug`, which lists the agent's
/// attached directories, is not among them.
pub const AGENT_FILES_ENDPOINTS: &[&str] = FILES_ENDPOINTS.split_at(6).0;

/// Routes `path` with libprocess's rules (see the module doc).
pub fn resolve(path: &str) -> Target {
    if !path.starts_with('/') {
        return Target::BadPath;
    }
    if path.contains("/..") {
        return Target::NotFound;
    }
    if let Some(rest) = path.strip_prefix("/agent/") {
        // `<agent id>/files/<endpoint>`, exactly: anything else under `/agent/` is 404.
        let mut parts = rest.split('/');
        return match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(id), Some("files"), Some(endpoint), None) if !id.is_empty() => {
                match AGENT_FILES_ENDPOINTS.iter().find(|e| **e == endpoint) {
                    Some(endpoint) => Target::AgentFiles { endpoint },
                    None => Target::NotFound,
                }
            }
            _ => Target::NotFound,
        };
    }
    let first = path.split('/').find(|s| !s.is_empty());
    let (process, path) = match first.and_then(|t| Process::from_id(&percent_decode(t)?)) {
        Some(process) => (process, path.to_string()),
        None if first.is_none() => (Process::Master, "/master".to_string()),
        None => (Process::Master, format!("/master{path}")),
    };
    // `ProcessBase::consume`: drop "/<first segment as sent>", then the slashes around.
    let first = path.split('/').find(|s| !s.is_empty()).unwrap_or_default();
    let rest = path
        .strip_prefix(&format!("/{first}"))
        .unwrap_or(&path)
        .trim_start_matches('/')
        .trim_end_matches('/');
    let mut name = rest;
    loop {
        if let Some(endpoint) = process.endpoints().iter().find(|e| **e == name) {
            return Target::Endpoint {
                process,
                name: endpoint,
                path,
            };
        }
        match name.rfind('/') {
            Some(index) => name = name[..index].trim_end_matches('/'),
            None => break,
        }
    }
    // Assets are looked up by the second segment (`/master/app/x.js` is `app`).
    let asset = path.split('/').filter(|s| !s.is_empty()).nth(1);
    if process == Process::Master && matches!(asset, None | Some("app") | Some("assets")) {
        return Target::WebUi;
    }
    Target::NotFound
}

/// `%XX` decoding of one path segment (libprocess `http::decode`); `None` when malformed.
fn percent_decode(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return Some(segment.to_string());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What a master that does not lead does with an endpoint (the module doc's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standby {
    /// Answered by this master.
    Serve,
    /// `307` to the leader (`503` with no leader).
    Redirect,
    /// `/master/redirect`: `307` to the leader's root.
    RedirectToRoot,
    /// `/master/redirect/...`: 404, so that redirects cannot loop.
    NotFound,
}

/// The standby rule for an endpoint of `process`, `path` being the delegated path.
pub fn standby(process: Process, name: &str, path: &str) -> Standby {
    match (process, name) {
        (Process::Master, "health" | "flags") => Standby::Serve,
        (Process::Master, "redirect") => redirect_rule(path),
        (Process::Master, _) => Standby::Redirect,
        _ => Standby::Serve,
    }
}

/// `Master::Http::redirect`'s loop guard, on the delegated path.
pub fn redirect_rule(path: &str) -> Standby {
    if path == "/master/redirect" {
        Standby::RedirectToRoot
    } else if path.starts_with("/master/redirect/") {
        Standby::NotFound
    } else {
        Standby::Redirect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(path: &str) -> Option<(Process, &'static str)> {
        match resolve(path) {
            Target::Endpoint { process, name, .. } => Some((process, name)),
            _ => None,
        }
    }

    /// `ProcessManager::handle`: a first segment that is no process is delegated to the
    /// master, so `/state` and `/master/state` are one endpoint.
    #[test]
    fn unknown_first_segments_are_delegated_to_the_master_process() {
        assert_eq!(endpoint("/state"), Some((Process::Master, "state")));
        assert_eq!(endpoint("/master/state"), Some((Process::Master, "state")));
        assert_eq!(
            resolve("/api/v1/scheduler"),
            Target::Endpoint {
                process: Process::Master,
                name: "api/v1/scheduler",
                path: "/master/api/v1/scheduler".into()
            }
        );
        assert_eq!(
            endpoint("/metrics/snapshot"),
            Some((Process::Metrics, "snapshot"))
        );
        assert_eq!(endpoint("/files/browse"), Some((Process::Files, "browse")));
        assert_eq!(
            endpoint("/logging/toggle"),
            Some((Process::Logging, "toggle"))
        );
        // A process id percent-encoded is still that process.
        assert_eq!(endpoint("/ver%73ion"), Some((Process::Version, "")));
    }

    /// `ProcessBase::consume`: ".../path/" is served by the ".../path" route.
    #[test]
    fn a_trailing_slash_is_stripped() {
        assert_eq!(
            endpoint("/master/frameworks/"),
            Some((Process::Master, "frameworks"))
        );
        assert_eq!(endpoint("/master/state/"), Some((Process::Master, "state")));
        assert_eq!(endpoint("/state//"), Some((Process::Master, "state")));
        assert_eq!(endpoint("/version/"), Some((Process::Version, "")));
        assert_eq!(endpoint("/version"), Some((Process::Version, "")));
        assert_eq!(
            resolve("/master/redirect/"),
            Target::Endpoint {
                process: Process::Master,
                name: "redirect",
                path: "/master/redirect/".into()
            }
        );
    }

    /// `ProcessBase::consume`: the longest registered prefix at `/` boundaries serves.
    #[test]
    fn the_longest_matching_route_prefix_serves() {
        assert_eq!(
            endpoint("/master/state/x"),
            Some((Process::Master, "state"))
        );
        assert_eq!(
            endpoint("/master/state/x/y/"),
            Some((Process::Master, "state"))
        );
        assert_eq!(endpoint("/api/v1/foo"), Some((Process::Master, "api/v1")));
        assert_eq!(
            endpoint("/master/api/v1/scheduler/x"),
            Some((Process::Master, "api/v1/scheduler"))
        );
        assert_eq!(
            endpoint("/maintenance/status/x"),
            Some((Process::Master, "maintenance/status"))
        );
        assert_eq!(
            endpoint("/metrics/snapshot/x"),
            Some((Process::Metrics, "snapshot"))
        );
        // Prefixes are whole segments.
        assert_eq!(resolve("/master/statex"), Target::NotFound);
        assert_eq!(resolve("/master/maintenance"), Target::NotFound);
        // A root endpoint matches its own name only.
        assert_eq!(resolve("/version/x"), Target::NotFound);
    }

    /// `ProcessBase::consume` answers 404 when no handler or asset matches;
    /// `ProcessManager::handle` refuses `/..` and paths that do not start with `/`.
    #[test]
    fn unknown_paths_are_not_found() {
        assert_eq!(resolve("/no/such/path"), Target::NotFound);
        // `/metrics` (remesos's Prometheus endpoint) is a root endpoint: nothing below it.
        assert_eq!(resolve("/metrics/x"), Target::NotFound);
        assert_eq!(endpoint("/metrics"), Some((Process::Metrics, "")));
        assert_eq!(resolve("/master/metrics/snapshot"), Target::NotFound);
        assert_eq!(resolve("/files"), Target::NotFound);
        assert_eq!(resolve("/master/../version"), Target::NotFound);
        assert_eq!(resolve("/ver%zzsion"), Target::NotFound);
        assert_eq!(resolve("*"), Target::BadPath);
    }

    /// remesos's sandbox proxy: `/agent/<id>/files/<endpoint>`, nothing else under `/agent`.
    #[test]
    fn agent_files_paths_are_the_sandbox_proxy_and_nothing_else_under_agent_is() {
        assert_eq!(
            resolve("/agent/a-S0/files/browse"),
            Target::AgentFiles { endpoint: "browse" }
        );
        assert_eq!(
            resolve("/agent/a-S0/files/read.json"),
            Target::AgentFiles {
                endpoint: "read.json"
            }
        );
        assert_eq!(resolve("/agent/a-S0/files/debug"), Target::NotFound);
        assert_eq!(resolve("/agent/a-S0/files/read/x"), Target::NotFound);
        assert_eq!(resolve("/agent//files/read"), Target::NotFound);
        assert_eq!(resolve("/agent/a-S0/state"), Target::NotFound);
        assert_eq!(resolve("/agent/../files/read"), Target::NotFound);
    }

    /// `master.cpp` provides `""`, `app` and `assets` from `--webui_dir`.
    #[test]
    fn the_root_and_the_ui_assets_are_the_web_ui() {
        assert_eq!(resolve("/"), Target::WebUi);
        assert_eq!(resolve("//"), Target::WebUi);
        assert_eq!(resolve("/master"), Target::WebUi);
        assert_eq!(resolve("/master/"), Target::WebUi);
        assert_eq!(resolve("/app/shared/x.js"), Target::WebUi);
        assert_eq!(resolve("/master/assets/css/x.css"), Target::WebUi);
    }

    /// `src/master/http.cpp`: the master's handlers redirect unless they are `health`,
    /// `flags` or `redirect`; the other processes serve for the master they run in.
    #[test]
    fn a_standby_serves_health_flags_and_other_processes_and_redirects_the_rest() {
        let rule = |path: &str| match resolve(path) {
            Target::Endpoint {
                process,
                name,
                path,
            } => standby(process, name, &path),
            other => panic!("{path}: {other:?}"),
        };
        for path in [
            "/metrics/snapshot",
            "/version",
            "/health",
            "/master/health",
            "/master/flags",
            "/flags/",
            "/files/browse",
            "/files/read.json",
            "/logging/toggle",
        ] {
            assert_eq!(rule(path), Standby::Serve, "{path}");
        }
        for path in [
            "/api/v1",
            "/master/api/v1",
            "/api/v1/scheduler",
            "/master/state",
            "/state/",
            "/master/frameworks",
            "/master/slaves",
            "/master/tasks",
            "/master/roles",
            "/master/weights",
            "/master/teardown",
            "/master/maintenance/schedule",
            "/master/machine/down",
        ] {
            assert_eq!(rule(path), Standby::Redirect, "{path}");
        }
        assert_eq!(rule("/redirect"), Standby::RedirectToRoot);
        assert_eq!(rule("/master/redirect"), Standby::RedirectToRoot);
        assert_eq!(rule("/master/redirect/"), Standby::NotFound);
        assert_eq!(rule("/redirect/x"), Standby::NotFound);
    }
}
