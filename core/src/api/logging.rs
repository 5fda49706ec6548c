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

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;

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

/// The `/logging/toggle` route (canonical path, for `master::http::router_with`).
pub(crate) fn routes() -> Router {
    Router::new().route("/logging/toggle", any(toggle))
}

async fn toggle(Query(query): Query<HashMap<String, String>>) -> Response {
    let request = match parse(&query) {
        Ok(request) => request,
        Err(text) => return crate::api::error(StatusCode::BAD_REQUEST, text),
    };
    let Some(toggle) = TOGGLE.get() else {
        // Logging was set up by someone else (a test harness): nothing to toggle.
        return match request {
            None => format!("{ORIGINAL}\n").into_response(),
            Some(_) => crate::api::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Logging is not configured by this process",
            ),
        };
    };
    let Some(Request { level, duration }) = request else {
        let (level, _) = *toggle.state.lock().unwrap_or_else(|e| e.into_inner());
        return format!("{level}\n").into_response();
    };
    let generation = {
        // A short lock around plain data; never held across an await.
        let mut state = toggle.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = (toggle.reload)(&filter(&toggle.original, level)) {
            return crate::api::error(StatusCode::INTERNAL_SERVER_ERROR, e);
        }
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
    StatusCode::OK.into_response()
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

    #[test]
    fn levels_map_to_filters_and_zero_is_the_starting_filter() {
        assert_eq!(filter("warn", 0), "warn");
        assert_eq!(filter("warn", 1), "debug");
        assert_eq!(filter("warn", 3), "trace");
    }
}
