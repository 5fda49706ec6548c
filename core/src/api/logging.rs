//! `/logging/toggle`: raise the log verbosity for a while (libprocess
//! `3rdparty/libprocess/src/logging.cpp`, `Logging::toggle`, process id `logging`).
//!
//! libprocess toggles glog's verbose level `v` (0 by default; libprocess logs at 1 to 3).
//! remesos logs through `tracing`, so a level maps to a filter: 0 is the filter the daemon
//! started with (`--logging_level`, `--quiet` or `REMESOS_LOG`), 1 and 2 are `debug`, 3 and
//! above `trace`. Mesos's answers:
//!
//! - no query: `200` with the current level and a newline;
//! - `level` without `duration` (or the reverse): `400 Expecting 'duration=value' in query.`
//!   (`'level=value'`);
//! - a level that is not a number, negative, or below the original: `400`;
//! - a duration stout cannot parse: `400`;
//! - otherwise `200`: the level holds for `duration`, then reverts to the original; a later
//!   toggle replaces the earlier one's deadline (`Logging::set_level`, `revert`).
//!
//! The level is process-wide, as glog's is: the master and the agent each have one.
//! [`level`] and [`set_level`] are what the operator calls GET_LOGGING_LEVEL and
//! SET_LOGGING_LEVEL of both daemons use (Mesos dispatches them to the same
//! `Logging::set_level`).
//!
//! # Authorization
//!
//! Mesos guards `/logging/toggle` with `get_endpoints` on its path (libprocess's
//! authorization callback, `createAuthorizationCallbacks` in src/common/authorization.cpp,
//! installed by the master's and the agent's main.cpp): every request, a read of the
//! level too, needs it, and is answered `403 Forbidden` before its query is looked at.
//! remesos also asks `set_log_level` (object ANY) of a request that would change the level
//! (one with `level` or `duration`): Mesos asks it only of SET_LOGGING_LEVEL, so an
//! operator who denies `set_log_level` but leaves `get_endpoints` permissive would still
//! let anyone change the level through this endpoint there; here the ACL means what it
//! says on both paths. Denied: `403`, the level unchanged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::security::authorizer::{Action, Authorizer, Object, Requester, Subject};

/// The level Mesos starts with (`Logging::original`, glog's `FLAGS_v`).
const ORIGINAL: u32 = 0;

/// Changes the process's log filter (a `tracing_subscriber` reload handle).
type Reload = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

struct Toggle {
    /// The filter the daemon started with: level 0.
    original: String,
    reload: Reload,
    /// The current level, and a counter that tells a revert timer whether a later toggle
    /// replaced it.
    state: Mutex<(u32, u64)>,
}

static TOGGLE: OnceLock<Toggle> = OnceLock::new();

/// Installs the reload handle of the process's subscriber (once, from `init_logging`).
pub(crate) fn install(original: String, reload: Reload) {
    let _ = TOGGLE.set(Toggle {
        original,
        reload,
        state: Mutex::new((ORIGINAL, 0)),
    });
}

/// The daemon's log file (`--log_dir`'s symlink of the `--logging_level` severity), set
/// once at start by `cli::init_logging`; none when the daemon logs to stderr only.
static DAEMON_LOG: OnceLock<PathBuf> = OnceLock::new();

/// Records the daemon's log file (once, from `init_logging`).
pub(crate) fn set_daemon_log(path: PathBuf) {
    let _ = DAEMON_LOG.set(path);
}

/// The daemon's log file, which Mesos attaches to `/files` as `/master/log` (master) and
/// `/slave/log` (agent) when `--log_dir` is given (`master/main.cpp`, `slave/main.cpp`).
pub fn daemon_log() -> Option<&'static Path> {
    DAEMON_LOG.get().map(PathBuf::as_path)
}

/// The filter for a verbose level.
fn filter(original: &str, level: u32) -> String {
    match level {
        0 => original.to_string(),
        1 | 2 => "debug".to_string(),
        _ => "trace".to_string(),
    }
}

/// A toggle request: `None` asks for the current level.
#[derive(Debug, PartialEq)]
struct Request {
    level: u32,
    duration: Duration,
}

/// `Logging::toggle`'s validation, with its texts.
fn parse(query: &HashMap<String, String>) -> Result<Option<Request>, String> {
    let (level, duration) = match (query.get("level"), query.get("duration")) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err("Expecting 'duration=value' in query.\n".into()),
        (None, Some(_)) => return Err("Expecting 'level=value' in query.\n".into()),
        (Some(l), Some(d)) => (l, d),
    };
    let level: i64 = level
        .trim()
        .parse()
        .map_err(|_| format!("Failed to convert '{level}' to number.\n"))?;
    if level < 0 {
        return Err(format!("Invalid level '{level}'.\n"));
    }
    if level < i64::from(ORIGINAL) {
        return Err(format!("'{level}' < original level.\n"));
    }
    let level = u32::try_from(level).map_err(|_| format!("Invalid level '{level}'.\n"))?;
    let duration = crate::duration::parse_duration(duration).map_err(|e| format!("{e}.\n"))?;
    Ok(Some(Request { level, duration }))
}

/// The path Mesos authorizes with `get_endpoints`.
pub const ENDPOINT: &str = "/logging/toggle";

/// The `/logging/toggle` route (canonical path, for `master::http::router_with` and the
/// agent's router), guarded by `authorizer` (module doc). The request's authenticated
/// principal, if any, is in its extensions (the daemon's authentication puts it there).
pub(crate) fn routes(authorizer: Arc<Authorizer>) -> Router {
    Router::new()
        .route(ENDPOINT, any(toggle))
        .with_state(authorizer)
}

/// The current verbose level (GET_LOGGING_LEVEL, `/logging/toggle` without a query).
pub fn level() -> u32 {
    match TOGGLE.get() {
        Some(toggle) => toggle.state.lock().unwrap_or_else(|e| e.into_inner()).0,
        None => ORIGINAL,
    }
}

/// libprocess `Logging::set_level`: `level` from now on, back to the original after
/// `duration` unless a later call replaced it (a level of 0 has no revert). Must run inside
/// a tokio runtime (the revert is a timer). Fails when this process did not set up its
/// logging (a test harness did): there is nothing to change.
pub fn set_level(level: u32, duration: Duration) -> Result<(), String> {
    let Some(toggle) = TOGGLE.get() else {
        return Err("Logging is not configured by this process".to_string());
    };
    let generation = {
        // A short lock around plain data; never held across an await.
        let mut state = toggle.state.lock().unwrap_or_else(|e| e.into_inner());
        (toggle.reload)(&filter(&toggle.original, level))?;
        state.0 = level;
        state.1 += 1;
        state.1
    };
    tracing::info!(level, ?duration, "log verbosity toggled");
    if level != ORIGINAL {
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            let mut state = toggle.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.1 == generation {
                let _ = (toggle.reload)(&toggle.original);
                state.0 = ORIGINAL;
            }
        });
    }
    Ok(())
}

/// A SET_LOGGING_LEVEL call's `DurationInfo.nanoseconds` as a duration: a negative one is
/// none (Mesos's `Nanoseconds(n)` then reverts at once).
pub fn nanoseconds(n: i64) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(0))
}

/// Whether `subject` may use `/logging/toggle` for `query` (module doc): `get_endpoints`
/// always, `set_log_level` as well when the query would change the level.
fn authorized<'s>(
    authorizer: &Authorizer,
    subject: impl Into<Subject<'s>>,
    query: &HashMap<String, String>,
) -> bool {
    let subject = subject.into();
    if !authorizer.is_allowed(Action::GetEndpoint, subject, Object::Value(ENDPOINT)) {
        return false;
    }
    let changes = query.contains_key("level") || query.contains_key("duration");
    !changes || authorizer.is_allowed(Action::SetLogLevel, subject, Object::Any)
}

async fn toggle(
    State(authorizer): State<Arc<Authorizer>>,
    caller: Requester,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&authorizer, caller.subject(), &query) {
        // Mesos's `Forbidden()`: no body.
        return StatusCode::FORBIDDEN.into_response();
    }
    let request = match parse(&query) {
        Ok(request) => request,
        Err(text) => return crate::api::error(StatusCode::BAD_REQUEST, text),
    };
    let Some(Request { level, duration }) = request else {
        return format!("{}\n", self::level()).into_response();
    };
    match set_level(level, duration) {
        Ok(()) => StatusCode::OK.into_response(),
        // Logging was set up by someone else (a test harness): nothing to toggle.
        Err(e) if TOGGLE.get().is_none() => crate::api::error(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(e) => crate::api::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// libprocess `Logging::toggle`: both parameters or none; a non-negative integer
    /// level; a stout duration.
    #[test]
    fn toggle_takes_a_level_and_a_duration_or_neither() {
        assert_eq!(parse(&query(&[])), Ok(None));
        assert_eq!(
            parse(&query(&[("level", "3"), ("duration", "15mins")])),
            Ok(Some(Request {
                level: 3,
                duration: Duration::from_secs(900)
            }))
        );
        assert_eq!(
            parse(&query(&[("level", "1")])),
            Err("Expecting 'duration=value' in query.\n".into())
        );
        assert_eq!(
            parse(&query(&[("duration", "1secs")])),
            Err("Expecting 'level=value' in query.\n".into())
        );
        assert_eq!(
            parse(&query(&[("level", "-1"), ("duration", "1secs")])),
            Err("Invalid level '-1'.\n".into())
        );
        assert!(parse(&query(&[("level", "x"), ("duration", "1secs")])).is_err());
        assert!(parse(&query(&[("level", "1"), ("duration", "5s")])).is_err());
    }

    /// `createAuthorizationCallbacks`: `/logging/toggle` needs `get_endpoints` on its
    /// path for any request; a change needs `set_log_level` too (module doc).
    #[test]
    fn toggling_needs_get_endpoints_and_a_change_needs_set_log_level() {
        let acls = crate::security::acls::parse(
            serde_json::json!({"permissive": false,
                "get_endpoints": [
                    {"principals": {"values": ["ops", "reader"]}, "paths": {"values": ["/logging/toggle"]}}
                ],
                "set_log_level": [
                    {"principals": {"values": ["ops"]}, "level": {"type": "ANY"}}
                ]
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let authorizer = Authorizer::new(&acls);
        let p = |n: &str| crate::security::Principal::new(n).unwrap();
        let read = query(&[]);
        let change = query(&[("level", "3"), ("duration", "1mins")]);
        let half = query(&[("level", "3")]);
        for q in [&read, &change, &half] {
            assert!(authorized(&authorizer, Some(&p("ops")), q));
            assert!(!authorized(&authorizer, Some(&p("other")), q));
            assert!(!authorized(&authorizer, None, q));
        }
        assert!(authorized(&authorizer, Some(&p("reader")), &read));
        assert!(!authorized(&authorizer, Some(&p("reader")), &change));
        assert!(!authorized(&authorizer, Some(&p("reader")), &half));
        // Without --acls everything is allowed.
        assert!(authorized(&Authorizer::default(), None, &change));
    }

    #[test]
    fn levels_map_to_filters_and_zero_is_the_starting_filter() {
        assert_eq!(filter("warn", 0), "warn");
        assert_eq!(filter("warn", 1), "debug");
        assert_eq!(filter("warn", 3), "trace");
    }
}
