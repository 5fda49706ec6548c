//! The agent's monitoring endpoints, which monitoring agents scrape: `/monitor/statistics`
//! and `/containers`, in Mesos's shapes (src/slave/http.cpp `Http::statistics`,
//! `Http::_statistics`, `Http::containers`, `Http::__containers`; the usage behind them is
//! the isolator's, agent/isolator.rs, as Mesos's `ResourceMonitor` asks its containerizer).
//!
//! - `/monitor/statistics`: a JSON array of `{executor_id, executor_name, framework_id,
//!   source, statistics}` (`statistics` is a `ResourceStatistics`), one per live executor.
//! - `/containers`: a JSON array of `{container_id, executor_id, executor_name,
//!   framework_id, source, status, statistics}` (`status` is a `ContainerStatus`),
//!   narrowed by the query `container_id`, or `framework_id`, or `framework_id` and
//!   `executor_id` (anything else is Mesos's 400).
//!
//! Both are in the read-only realm (agent/authn.rs). Authorization, as Mesos's: ACLs on,
//! anything but GET is 405; `get_endpoints` on the path, else 403; then `view_containers`
//! per container (the executor's user, else its framework's), a container not allowed is
//! left out. Mesos filters `/containers` so; remesos filters `/monitor/statistics` the
//! same way (Mesos shows every executor there to whoever may GET the endpoint), so the
//! two never disagree on who sees which container. The usage is read off the agent's
//! actor (/proc and cgroup files, in a blocking thread).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use remesos_proto::v1;

use super::runtime::AgentHandle;
use super::{Agent, ExecutorState, isolator};
use crate::api;
use crate::security::authorizer::{Authorizer, Requester, Subject, Viewer};

/// The routes, for the agent's router to put in the read-only realm.
pub fn routes() -> Router<AgentHandle> {
    Router::new()
        .route("/monitor/statistics", any(statistics))
        .route("/monitor/statistics.json", any(statistics))
        .route("/containers", any(containers))
}

/// One live executor's container, as read inside the agent's actor.
struct Entry {
    framework_id: String,
    executor_id: String,
    executor_name: String,
    source: String,
    container_id: String,
    status: v1::ContainerStatus,
    pid: Option<u32>,
    limits: isolator::Limits,
    /// `disk/du`'s paths with their last measured use (disk_du.rs).
    disk: Vec<(super::disk_du::WatchedPath, Option<u64>)>,
}

impl Entry {
    /// Mesos's `PosixDiskIsolatorProcess::usage`: the sandbox's quota and use as
    /// `disk_limit_bytes`/`disk_used_bytes`, each persistent volume in `disk_statistics`.
    fn add_disk(&self, stats: &mut v1::ResourceStatistics) {
        for (watched, used) in &self.disk {
            if watched.persistence.is_none() {
                stats.disk_limit_bytes = Some(watched.quota_bytes);
                stats.disk_used_bytes = *used;
            } else {
                stats.disk_statistics.push(v1::DiskStatistics {
                    persistence: watched.persistence.clone(),
                    limit_bytes: Some(watched.quota_bytes),
                    used_bytes: *used,
                    ..Default::default()
                });
            }
        }
    }
}

/// `get_endpoints` on `endpoint`, then the viewer that filters containers by
/// `view_containers` (the acl part's check, agent/http.rs).
fn authorize<'a>(
    authorizer: &'a Authorizer,
    subject: Subject<'a>,
    endpoint: &str,
) -> Option<Viewer<'a>> {
    super::http::authorize_containers_endpoint(authorizer, subject, endpoint).ok()
}

/// Which containers `/containers` was asked for.
#[derive(Default)]
struct Select {
    container_id: Option<String>,
    framework_id: Option<String>,
    executor_id: Option<String>,
}

impl Select {
    /// Mesos's rule: `container_id` alone, `framework_id` alone, or `framework_id` with
    /// `executor_id`.
    fn parse(query: &HashMap<String, String>) -> Result<Select, Box<Response>> {
        let select = Select {
            container_id: query.get("container_id").cloned(),
            framework_id: query.get("framework_id").cloned(),
            executor_id: query.get("executor_id").cloned(),
        };
        let bad = (select.container_id.is_some()
            && (select.executor_id.is_some() || select.framework_id.is_some()))
            || (select.container_id.is_none()
                && select.executor_id.is_some()
                && select.framework_id.is_none());
        if bad {
            return Err(Box::new(api::error(
                StatusCode::BAD_REQUEST,
                "Supported query parameters are container_id only, framework_id only, or \
                 executor_id and framework_id only",
            )));
        }
        Ok(select)
    }

    fn accepts(&self, framework_id: &str, executor_id: &str, container_id: &str) -> bool {
        let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        is(&self.container_id, container_id)
            && is(&self.framework_id, framework_id)
            && is(&self.executor_id, executor_id)
    }
}

/// The live executors' containers `subject` may see; `None`: `endpoint` is forbidden.
fn snapshot(
    a: &Agent,
    subject: Subject<'_>,
    endpoint: &str,
    select: &Select,
) -> Option<Vec<Entry>> {
    let view = authorize(&a.config.authorizer, subject, endpoint)?;
    let disk_du = a.config.isolation.disk_du.is_some();
    let entries = a
        .frameworks
        .iter()
        .flat_map(|(fid, f)| f.executors.iter().map(move |(eid, e)| (fid, f, eid, e)))
        // Mesos: "No need to get statistics and status if we know that the executor has
        // already terminated."
        .filter(|(_, _, _, e)| e.state != ExecutorState::Terminated)
        .filter(|(fid, _, eid, e)| select.accepts(fid, eid, &e.container_id))
        .filter(|(_, f, _, e)| view.container(&e.info, &f.info))
        .map(|(fid, _, eid, e)| Entry {
            framework_id: fid.clone(),
            executor_id: eid.clone(),
            executor_name: e.info.name.clone().unwrap_or_default(),
            source: e.info.source.clone().unwrap_or_default(),
            container_id: e.container_id.clone(),
            status: super::container_status(e),
            pid: e.pid,
            limits: e.limits,
            disk: if disk_du {
                e.disk_paths(&a.config.work_dir)
                    .into_iter()
                    .map(|w| {
                        let used = e.disk_usage.get(&w.path).copied();
                        (w, used)
                    })
                    .collect()
            } else {
                Vec::new()
            },
        })
        .collect();
    Some(entries)
}

/// Reads the entries inside the agent's actor, then their usage off it.
async fn with_usage(
    agent: &AgentHandle,
    method: &Method,
    caller: Requester,
    endpoint: &'static str,
    select: Select,
) -> Result<Vec<(Entry, v1::ResourceStatistics)>, Response> {
    let read = agent
        .read(move |a| {
            // Mesos: with an authorizer, only GET.
            let get_only = a.config.authorizer.is_enabled();
            let entries = snapshot(a, caller.subject(), endpoint, &select);
            (get_only, entries, a.config.isolation.clone())
        })
        .await;
    let Ok((get_only, entries, isolation)) = read else {
        return Err(api::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Agent is shutting down",
        ));
    };
    if get_only && method != Method::GET {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET")],
            format!("Expecting 'GET', received '{method}'"),
        )
            .into_response());
    }
    let Some(entries) = entries else {
        return Err(StatusCode::FORBIDDEN.into_response());
    };
    let now = super::runtime::now().wall;
    tokio::task::spawn_blocking(move || {
        entries
            .into_iter()
            .map(|e| {
                let mut stats = isolation.usage(&e.container_id, e.pid, e.limits, now);
                e.add_disk(&mut stats);
                (e, stats)
            })
            .collect()
    })
    .await
    .map_err(|_| api::error(StatusCode::INTERNAL_SERVER_ERROR, "Failed to collect usage"))
}

/// `/monitor/statistics` (Mesos's `Http::_statistics`).
async fn statistics(
    State(agent): State<AgentHandle>,
    caller: Requester,
    method: Method,
) -> Response {
    let usage = with_usage(
        &agent,
        &method,
        caller,
        "/monitor/statistics",
        Select::default(),
    )
    .await;
    match usage {
        Ok(rows) => api::json_ok(&Value::Array(
            rows.into_iter()
                .map(|(e, stats)| {
                    json!({
                        "framework_id": e.framework_id,
                        "executor_id": e.executor_id,
                        "executor_name": e.executor_name,
                        "source": e.source,
                        "statistics": remesos_proto::json::to_value(&stats),
                    })
                })
                .collect(),
        )),
        Err(response) => response,
    }
}

/// `/containers` (Mesos's `Http::_containers` / `__containers`).
async fn containers(
    State(agent): State<AgentHandle>,
    caller: Requester,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let select = match Select::parse(&query) {
        Ok(select) => select,
        Err(response) => return *response,
    };
    match with_usage(&agent, &method, caller, "/containers", select).await {
        Ok(rows) => api::json_ok(&Value::Array(
            rows.into_iter()
                .map(|(e, stats)| {
                    json!({
                        "container_id": e.container_id,
                        "executor_id": e.executor_id,
                        "executor_name": e.executor_name,
                        "framework_id": e.framework_id,
                        "source": e.source,
                        "status": remesos_proto::json::to_value(&e.status),
                        "statistics": remesos_proto::json::to_value(&stats),
                    })
                })
                .collect(),
        )),
        Err(response) => response,
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

    /// Mesos's `Http::_containers`: container_id only, framework_id only, or framework_id
    /// with executor_id.
    #[test]
    fn containers_accepts_only_mesos_query_combinations() {
        for ok in [
            query(&[]),
            query(&[("container_id", "c")]),
            query(&[("framework_id", "f")]),
            query(&[("framework_id", "f"), ("executor_id", "e")]),
        ] {
            assert!(Select::parse(&ok).is_ok());
        }
        for bad in [
            query(&[("executor_id", "e")]),
            query(&[("container_id", "c"), ("framework_id", "f")]),
            query(&[("container_id", "c"), ("executor_id", "e")]),
        ] {
            let Err(response) = Select::parse(&bad) else {
                panic!("accepted");
            };
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        }
        let s = Select::parse(&query(&[("framework_id", "f"), ("executor_id", "e")])).unwrap();
        assert!(s.accepts("f", "e", "any"));
        assert!(!s.accepts("f", "other", "any"));
        assert!(!s.accepts("g", "e", "any"));
    }
}
