//! What a contending master answers itself before it leads (the table in `routing.rs`):
//! `/metrics/snapshot` with its own metrics, `/version`, `/master/health`, `/master/flags`,
//! and the processes `cli` composes (`/files/*`, `/logging/toggle`).
//!
//! Mesos registers the master's metrics when the master is constructed, elected or not
//! (`src/master/master.cpp` `Master::Master` creates `Metrics`, `src/master/metrics.cpp`
//! adds them), so a standby's snapshot has the leader's keys: its gauges read an empty
//! master (0), `master/elected` is `elected()` (0 while standing by, 1 from election on)
//! and `master/uptime_secs` counts from the process's start. Here the keys and values come from an empty [`Master`] built from the same
//! configuration; the flags are the ones it started with (`Master::Http::flags` has no
//! `elected()` check).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::operator::{Caller, principal};
use crate::master::{Config, Master};
use crate::security::authorizer::{Action, Object};

/// A standby's own answers, taken once from an empty master of its configuration.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The metrics of an empty master (`master/elected` and `master/uptime_secs` are set
    /// per request).
    metrics: BTreeMap<String, f64>,
    /// `{"flags": {...}}`, as `/master/flags` renders them.
    flags: Value,
    /// When this master started (seconds since the epoch), for `master/uptime_secs`.
    start_time: f64,
    /// The master's ACLs: a standby authorizes `/flags` (`view_flags`) and
    /// `/metrics/snapshot` (`get_endpoints`) as the leader does.
    authorizer: Arc<crate::security::authorizer::Authorizer>,
}

impl Snapshot {
    /// The answers of a master started with `config` and `id`.
    pub fn new(config: &Config, id: &str) -> Snapshot {
        let now = crate::master::runtime::now();
        let empty = Master::new(config.clone(), id.to_string(), now);
        Snapshot {
            metrics: empty.metrics(),
            flags: json!({ "flags": empty.flags_json() }),
            start_time: now.wall,
            authorizer: config.authorizer.clone(),
        }
    }

    /// The metrics as `/metrics/snapshot` renders them, `now` being the wall clock.
    fn metrics_json(&self, elected: bool, now: f64) -> Value {
        let mut metrics = self.metrics.clone();
        metrics.insert("master/elected".into(), if elected { 1.0 } else { 0.0 });
        metrics.insert(
            "master/uptime_secs".into(),
            (now - self.start_time).max(0.0),
        );
        Value::Object(metrics.into_iter().map(|(k, v)| (k, json!(v))).collect())
    }
}

/// The router of a master's own answers while it does not lead (`elected`: while it
/// recovers), under canonical paths.
pub fn routes(snapshot: Arc<Snapshot>, elected: bool, processes: Router) -> Router {
    Router::new()
        .route(
            "/metrics/snapshot",
            any(
                move |state: State<Arc<Snapshot>>, caller: Caller, method: Method| {
                    metrics(state, caller, method, elected)
                },
            ),
        )
        .route(
            "/metrics",
            any(
                move |state: State<Arc<Snapshot>>,
                      caller: Caller,
                      method: Method,
                      headers: axum::http::HeaderMap| {
                    prometheus(state, caller, method, headers, elected)
                },
            ),
        )
        .route("/master/flags", any(flags))
        .route("/master/health", any(|| async { StatusCode::OK }))
        .route("/version", any(super::operator::version))
        .with_state(snapshot)
        .merge(processes)
}

async fn metrics(
    State(snapshot): State<Arc<Snapshot>>,
    caller: Caller,
    method: Method,
    elected: bool,
) -> Response {
    if let Some(r) = super::operator::get_only(&method) {
        return r;
    }
    let object = Object::Value("/metrics/snapshot");
    if !snapshot
        .authorizer
        .is_allowed(Action::GetEndpoint, principal(&caller), object)
    {
        return StatusCode::FORBIDDEN.into_response();
    }
    let now = crate::master::runtime::now().wall;
    crate::api::json_ok(&snapshot.metrics_json(elected, now))
}

/// `/metrics` of a master that does not lead: its own Mesos metrics, as `/metrics/snapshot`
/// (a standby has no histograms: it allocates, writes and serves nothing of the master's).
async fn prometheus(
    State(snapshot): State<Arc<Snapshot>>,
    caller: Caller,
    method: Method,
    headers: axum::http::HeaderMap,
    elected: bool,
) -> Response {
    if let Some(r) = super::operator::get_only(&method) {
        return r;
    }
    let object = Object::Value("/metrics/snapshot");
    if !snapshot
        .authorizer
        .is_allowed(Action::GetEndpoint, principal(&caller), object)
    {
        return StatusCode::FORBIDDEN.into_response();
    }
    let now = crate::master::runtime::now().wall;
    let Value::Object(metrics) = snapshot.metrics_json(elected, now) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = crate::common::metrics::Format::negotiate(accept);
    let mut e = crate::common::metrics::Exposition::new(format);
    e.mesos(
        metrics
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_f64()?))),
    );
    super::operator::exposition(format, e.finish())
}

async fn flags(State(snapshot): State<Arc<Snapshot>>, caller: Caller, method: Method) -> Response {
    if let Some(r) = super::operator::get_only(&method) {
        return r;
    }
    if !snapshot
        .authorizer
        .is_allowed(Action::ViewFlags, principal(&caller), Object::Any)
    {
        return StatusCode::FORBIDDEN.into_response();
    }
    crate::api::json_ok(&snapshot.flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `src/master/metrics.cpp` and `master.hpp` `_elected`: a standby reports
    /// `master/elected` 0 beside the same keys as the leader, its gauges at 0 (an empty
    /// master), and its own uptime.
    #[test]
    fn a_standby_reports_not_elected_with_the_leaders_metric_names() {
        let snapshot = Snapshot::new(&Config::default(), "standby");
        let leader = Master::new(
            Config::default(),
            "leader".into(),
            crate::master::runtime::now(),
        )
        .metrics();
        let m = snapshot.metrics_json(false, snapshot.start_time + 5.0);
        assert_eq!(m["master/elected"], 0.0);
        assert_eq!(m["master/uptime_secs"], 5.0);
        assert_eq!(m["master/slaves_active"], 0.0);
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        assert_eq!(keys, leader.keys().collect::<Vec<_>>());
        // Elected and recovering: 1 (`_elected` reads `elected()`).
        assert_eq!(snapshot.metrics_json(true, 0.0)["master/elected"], 1.0);
    }
}
