//! The v1 operator API (`POST /api/v1`, reference §3.4) and the JSON endpoints of §6.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;

use remesos_proto::v1;
use v1::master::{self as op, call::Type as CallType, response::Type as RespType};

use crate::api;
use crate::master::Master;
use crate::master::runtime::{Command, MasterHandle, OPERATOR_STREAM_BUFFER};

fn gone() -> Response {
    api::error(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down")
}

fn response(ty: RespType) -> op::Response {
    op::Response {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

pub fn version_info() -> v1::VersionInfo {
    v1::VersionInfo {
        version: crate::master::MESOS_VERSION.to_string(),
        build_date: Some(String::new()),
        build_time: Some(0.0),
        build_user: Some("remesos".to_string()),
        git_sha: Some(format!("remesos-{}", env!("CARGO_PKG_VERSION"))),
        git_branch: None,
        git_tag: None,
    }
}

pub async fn api(
    State(master): State<MasterHandle>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (call, accept): (op::Call, _) = match api::read_call(&method, &headers, &body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(ty) = call.r#type.and_then(|t| CallType::try_from(t).ok()) else {
        return api::error(StatusCode::BAD_REQUEST, "Expecting 'type' to be present");
    };
    let read = |f: fn(&Master) -> op::Response| {
        let master = master.clone();
        async move {
            match master.read(f).await {
                Ok(r) => api::ok(accept, &r),
                Err(_) => gone(),
            }
        }
    };
    match ty {
        CallType::GetHealth => {
            let mut r = response(RespType::GetHealth);
            r.get_health = Some(op::response::GetHealth {
                healthy: master.is_serving(),
            });
            api::ok(accept, &r)
        }
        CallType::GetVersion => {
            let mut r = response(RespType::GetVersion);
            r.get_version = Some(op::response::GetVersion {
                version_info: version_info(),
            });
            api::ok(accept, &r)
        }
        CallType::GetFlags => {
            read(|m| {
                let mut r = response(RespType::GetFlags);
                let flags = m
                    .config
                    .flags
                    .iter()
                    .map(|(k, v)| v1::Flag {
                        name: k.clone(),
                        value: Some(v.clone()),
                    })
                    .collect();
                r.get_flags = Some(op::response::GetFlags { flags });
                r
            })
            .await
        }
        CallType::GetMetrics => {
            read(|m| {
                let mut r = response(RespType::GetMetrics);
                let metrics = m
                    .metrics()
                    .into_iter()
                    .map(|(name, value)| v1::Metric {
                        name,
                        value: Some(value),
                    })
                    .collect();
                r.get_metrics = Some(op::response::GetMetrics { metrics });
                r
            })
            .await
        }
        CallType::GetState => {
            read(|m| op::Response {
                get_state: Some(m.get_state()),
                ..response(RespType::GetState)
            })
            .await
        }
        CallType::GetAgents => {
            read(|m| op::Response {
                get_agents: Some(m.get_agents()),
                ..response(RespType::GetAgents)
            })
            .await
        }
        CallType::GetFrameworks => {
            read(|m| op::Response {
                get_frameworks: Some(m.get_frameworks()),
                ..response(RespType::GetFrameworks)
            })
            .await
        }
        CallType::GetExecutors => {
            read(|m| op::Response {
                get_executors: Some(m.get_executors()),
                ..response(RespType::GetExecutors)
            })
            .await
        }
        CallType::GetTasks => {
            read(|m| op::Response {
                get_tasks: Some(m.get_tasks()),
                ..response(RespType::GetTasks)
            })
            .await
        }
        CallType::GetRoles => {
            read(|m| op::Response {
                get_roles: Some(m.get_roles()),
                ..response(RespType::GetRoles)
            })
            .await
        }
        CallType::GetMaster => {
            read(|m| {
                let mut r = response(RespType::GetMaster);
                r.get_master = Some(op::response::GetMaster {
                    master_info: Some(m.info.clone()),
                    start_time: Some(m.start_time),
                    elected_time: Some(m.elected_time),
                });
                r
            })
            .await
        }
        CallType::Teardown => {
            let Some(teardown) = call.teardown else {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'teardown' to be present",
                );
            };
            let id = teardown.framework_id.value;
            match master
                .write(move |m, t| teardown_framework(m, t, &id))
                .await
            {
                Ok(Ok(())) => StatusCode::OK.into_response(),
                Ok(Err(e)) => api::error(StatusCode::BAD_REQUEST, e),
                Err(_) => gone(),
            }
        }
        CallType::GetWeights => {
            read(|m| {
                let mut r = response(RespType::GetWeights);
                r.get_weights = Some(op::response::GetWeights {
                    weight_infos: m.weight_infos(),
                });
                r
            })
            .await
        }
        CallType::UpdateWeights => {
            let infos = call
                .update_weights
                .map(|u| u.weight_infos)
                .unwrap_or_default();
            match master
                .write_durable(move |m, _| {
                    m.update_weights(&infos).map(|()| Some(m.persist_roles()))
                })
                .await
            {
                Ok(Ok(durable)) => persisted(durable).await,
                Ok(Err(e)) => api::error(StatusCode::BAD_REQUEST, e),
                Err(_) => gone(),
            }
        }
        CallType::GetQuota => {
            read(|m| {
                let mut r = response(RespType::GetQuota);
                r.get_quota = Some(op::response::GetQuota {
                    status: m.quota_status(),
                });
                r
            })
            .await
        }
        CallType::UpdateQuota => {
            let configs = call
                .update_quota
                .map(|u| u.quota_configs)
                .unwrap_or_default();
            match master
                .write_durable(move |m, _| {
                    m.update_quota(&configs).map(|()| Some(m.persist_roles()))
                })
                .await
            {
                Ok(Ok(durable)) => persisted(durable).await,
                Ok(Err(e)) => api::error(StatusCode::BAD_REQUEST, e),
                Err(_) => gone(),
            }
        }
        CallType::MarkAgentGone => {
            let Some(mark) = call.mark_agent_gone else {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'mark_agent_gone' to be present",
                );
            };
            let id = mark.agent_id.value;
            match master
                .write_durable(move |m, t| m.mark_agent_gone(t, &id))
                .await
            {
                Ok(Ok(durable)) => persisted(durable).await,
                Ok(Err(e)) => api::error(StatusCode::NOT_FOUND, e.to_string()),
                Err(_) => gone(),
            }
        }
        CallType::GetMaintenanceSchedule => {
            read(|m| {
                let mut r = response(RespType::GetMaintenanceSchedule);
                r.get_maintenance_schedule = Some(op::response::GetMaintenanceSchedule {
                    schedule: m.maintenance.schedule.clone(),
                });
                r
            })
            .await
        }
        CallType::GetMaintenanceStatus => {
            read(|m| {
                let mut r = response(RespType::GetMaintenanceStatus);
                r.get_maintenance_status = Some(op::response::GetMaintenanceStatus {
                    status: m.maintenance.status(),
                });
                r
            })
            .await
        }
        CallType::UpdateMaintenanceSchedule => {
            let Some(update) = call.update_maintenance_schedule else {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'update_maintenance_schedule' to be present",
                );
            };
            update_schedule(master, update.schedule).await
        }
        CallType::StartMaintenance => {
            let Some(start) = call.start_maintenance else {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'start_maintenance' to be present",
                );
            };
            machines_down(master, start.machines).await
        }
        CallType::StopMaintenance => {
            let Some(stop) = call.stop_maintenance else {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'stop_maintenance' to be present",
                );
            };
            machines_up(master, stop.machines).await
        }
        CallType::Subscribe => subscribe(master, accept).await,
        other => api::error(
            StatusCode::NOT_IMPLEMENTED,
            format!("Unsupported call type {}", other.as_str_name()),
        ),
    }
}

/// 200 once a registry write is durable (at once when there was none to make); 503 when the
/// registrar failed (Mesos answers 503 when the registry cannot be written).
async fn persisted(durable: Option<crate::master::runtime::Durable>) -> Response {
    let Some(durable) = durable else {
        return StatusCode::OK.into_response();
    };
    match durable.await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => api::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Failed to update the registry: {e}"),
        ),
        Err(_) => gone(),
    }
}

async fn update_schedule(master: MasterHandle, schedule: v1::maintenance::Schedule) -> Response {
    match master
        .write_durable(move |m, t| m.update_maintenance_schedule(t, schedule).map(Some))
        .await
    {
        Ok(Ok(durable)) => persisted(durable).await,
        Ok(Err(e)) => api::error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(_) => gone(),
    }
}

async fn machines_down(master: MasterHandle, ids: Vec<v1::MachineId>) -> Response {
    match master
        .write_durable(move |m, t| m.start_maintenance(t, &ids).map(Some))
        .await
    {
        Ok(Ok(durable)) => persisted(durable).await,
        Ok(Err(e)) => api::error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(_) => gone(),
    }
}

async fn machines_up(master: MasterHandle, ids: Vec<v1::MachineId>) -> Response {
    match master
        .write_durable(move |m, _| m.stop_maintenance(&ids).map(Some))
        .await
    {
        Ok(Ok(durable)) => persisted(durable).await,
        Ok(Err(e)) => api::error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(_) => gone(),
    }
}

/// `/master/maintenance/schedule`: GET returns the schedule as JSON; POST replaces it with
/// the `mesos.maintenance.Schedule` JSON in the body (`docs/maintenance.md`).
pub async fn maintenance_schedule(
    State(master): State<MasterHandle>,
    method: Method,
    body: Bytes,
) -> Response {
    if method == Method::POST {
        let schedule = serde_json::from_slice::<Value>(&body)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                if !v.is_object() {
                    return Err("Expecting a JSON object".to_string());
                }
                remesos_proto::json::from_value::<v1::maintenance::Schedule>(&v)
                    .map_err(|e| e.to_string())
            });
        return match schedule {
            Ok(schedule) => update_schedule(master, schedule).await,
            Err(e) => api::error(StatusCode::BAD_REQUEST, e),
        };
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = api::error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Expecting one of {{ 'GET', 'POST' }}, but received '{method}'"),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return r;
    }
    read_json(master, method, |m| {
        remesos_proto::json::to_value(&m.maintenance.schedule)
    })
    .await
}

/// `/master/maintenance/status`: the DRAINING and DOWN machines.
pub async fn maintenance_status(State(master): State<MasterHandle>, method: Method) -> Response {
    read_json(master, method, |m| {
        remesos_proto::json::to_value(&m.maintenance.status())
    })
    .await
}

/// The body of `/master/machine/down` and `/master/machine/up`: a JSON array of MachineIDs.
fn machine_ids(body: &[u8]) -> Result<Vec<v1::MachineId>, String> {
    serde_json::from_slice::<Vec<Value>>(body)
        .map_err(|e| e.to_string())
        .and_then(|items| {
            items
                .iter()
                .map(|v| {
                    remesos_proto::json::from_value::<v1::MachineId>(v).map_err(|e| e.to_string())
                })
                .collect()
        })
}

/// `POST /master/machine/down`: DRAINING machines go DOWN.
pub async fn machine_down(
    State(master): State<MasterHandle>,
    method: Method,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return api::method_not_allowed(&method);
    }
    match machine_ids(&body) {
        Ok(ids) => machines_down(master, ids).await,
        Err(e) => api::error(StatusCode::BAD_REQUEST, e),
    }
}

/// `POST /master/machine/up`: DOWN machines go UP and leave the schedule.
pub async fn machine_up(
    State(master): State<MasterHandle>,
    method: Method,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return api::method_not_allowed(&method);
    }
    match machine_ids(&body) {
        Ok(ids) => machines_up(master, ids).await,
        Err(e) => api::error(StatusCode::BAD_REQUEST, e),
    }
}

fn teardown_framework(m: &mut Master, t: crate::master::Time, id: &str) -> Result<(), String> {
    if !m.frameworks.contains_key(id) {
        return Err(format!("No framework found with specified ID '{id}'"));
    }
    m.remove_framework(t, id);
    Ok(())
}

async fn subscribe(master: MasterHandle, format: api::Format) -> Response {
    let (tx, rx) = mpsc::channel(OPERATOR_STREAM_BUFFER);
    let (reply_tx, reply_rx) = oneshot::channel();
    if master
        .send(Command::OperatorSubscribe {
            events: tx,
            reply: reply_tx,
        })
        .is_err()
    {
        return gone();
    }
    let Ok(state) = reply_rx.await else {
        return gone();
    };
    let subscribed = op::Event {
        r#type: Some(op::event::Type::Subscribed as i32),
        subscribed: Some(op::event::Subscribed {
            get_state: Some(state),
            heartbeat_interval_seconds: Some(crate::master::HEARTBEAT_INTERVAL.as_secs_f64()),
        }),
        ..Default::default()
    };
    let events = OperatorEvents {
        rx,
        heartbeats: tokio::time::interval_at(
            tokio::time::Instant::now() + crate::master::HEARTBEAT_INTERVAL,
            crate::master::HEARTBEAT_INTERVAL,
        ),
        heartbeat: Arc::new(op::Event {
            r#type: Some(op::event::Type::Heartbeat as i32),
            ..Default::default()
        }),
    };
    let events = tokio_stream::once(Arc::new(subscribed)).chain(events);
    api::recordio_stream(format, events.map(Arc::unwrap_or_clone))
}

/// An operator event stream after SUBSCRIBED: the master's events merged with heartbeats.
/// It ends when the master drops its sender (the subscriber was evicted by
/// `--max_operator_event_stream_subscribers` or did not read), which closes the response.
struct OperatorEvents {
    rx: mpsc::Receiver<Arc<op::Event>>,
    heartbeats: tokio::time::Interval,
    heartbeat: Arc<op::Event>,
}

impl futures::Stream for OperatorEvents {
    type Item = Arc<op::Event>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        match self.rx.poll_recv(cx) {
            Poll::Ready(event) => return Poll::Ready(event),
            Poll::Pending => {}
        }
        match self.heartbeats.poll_tick(cx) {
            Poll::Ready(_) => Poll::Ready(Some(self.heartbeat.clone())),
            Poll::Pending => Poll::Pending,
        }
    }
}

pub(super) fn get_only(method: &Method) -> Option<Response> {
    (method != Method::GET && method != Method::HEAD).then(|| {
        let mut r = api::error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Expecting one of {{ 'GET' }}, but received '{method}'"),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        r
    })
}

async fn read_json(
    master: MasterHandle,
    method: Method,
    f: impl FnOnce(&Master) -> Value + Send + 'static,
) -> Response {
    if let Some(r) = get_only(&method) {
        return r;
    }
    match master.read(f).await {
        Ok(v) => api::json_ok(&v),
        Err(_) => gone(),
    }
}

pub async fn state(State(master): State<MasterHandle>, method: Method) -> Response {
    read_json(master, method, |m| m.state_json()).await
}

pub async fn state_summary(State(master): State<MasterHandle>, method: Method) -> Response {
    read_json(master, method, |m| m.state_summary_json()).await
}

pub async fn frameworks(
    State(master): State<MasterHandle>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let wanted = q.get("framework_id").cloned();
    read_json(master, method, move |m| {
        let keep = |id: &str| wanted.as_deref().is_none_or(|w| w == id);
        let active: Vec<Value> = m
            .frameworks
            .values()
            .filter(|f| keep(&f.id))
            .map(|f| m.framework_json(f, true))
            .collect();
        let completed: Vec<Value> = m
            .completed_frameworks
            .iter()
            .filter(|f| keep(&f.id))
            .map(|f| m.framework_json(f, true))
            .collect();
        json!({"frameworks": active, "completed_frameworks": completed, "unregistered_frameworks": []})
    })
    .await
}

pub async fn slaves(
    State(master): State<MasterHandle>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let wanted = q.get("slave_id").cloned();
    read_json(master, method, move |m| {
        let mut agents: Vec<&crate::master::Agent> = m
            .agents
            .values()
            .filter(|a| wanted.as_deref().is_none_or(|w| w == a.id))
            .collect();
        agents.sort_by(|a, b| a.id.cmp(&b.id));
        let agents: Vec<Value> = agents.into_iter().map(|a| m.agent_json(a)).collect();
        json!({"slaves": agents, "recovered_slaves": []})
    })
    .await
}

pub async fn tasks(
    State(master): State<MasterHandle>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100);
    let offset = q
        .get("offset")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let ascending = q.get("order").is_some_and(|o| o == "asc");
    let framework_id = q.get("framework_id").cloned();
    let task_id = q.get("task_id").cloned();
    read_json(master, method, move |m| {
        let mut tasks: Vec<&v1::Task> = m
            .all_tasks()
            .into_iter()
            .filter(|t| {
                framework_id
                    .as_deref()
                    .is_none_or(|f| f == t.framework_id.value)
            })
            .filter(|t| task_id.as_deref().is_none_or(|id| id == t.task_id.value))
            .collect();
        // Mesos orders by the task's latest status timestamp.
        let ts = |t: &v1::Task| t.statuses.last().and_then(|s| s.timestamp).unwrap_or(0.0);
        tasks.sort_by(|a, b| {
            ts(a)
                .total_cmp(&ts(b))
                .then_with(|| a.task_id.value.cmp(&b.task_id.value))
        });
        if !ascending {
            tasks.reverse();
        }
        let tasks: Vec<Value> = tasks
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(crate::master::state::task_json)
            .collect();
        json!({ "tasks": tasks })
    })
    .await
}

/// `/master/weights`: GET lists `[{"weight", "role"}]`; PUT takes the same array
/// (`docs/weights.md`).
pub async fn weights(State(master): State<MasterHandle>, method: Method, body: Bytes) -> Response {
    if method == Method::PUT {
        let infos: Vec<v1::WeightInfo> = match serde_json::from_slice::<Vec<Value>>(&body)
            .map_err(|e| e.to_string())
            .and_then(|items| {
                items
                    .iter()
                    .map(|v| {
                        remesos_proto::json::from_value::<v1::WeightInfo>(v)
                            .map_err(|e| e.to_string())
                    })
                    .collect()
            }) {
            Ok(infos) => infos,
            Err(e) => {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    format!("Failed to parse update weights request: {e}"),
                );
            }
        };
        return match master
            .write_durable(move |m, _| m.update_weights(&infos).map(|()| Some(m.persist_roles())))
            .await
        {
            Ok(Ok(durable)) => persisted(durable).await,
            Ok(Err(e)) => api::error(StatusCode::BAD_REQUEST, e),
            Err(_) => gone(),
        };
    }
    read_json(master, method, |m| {
        Value::Array(
            m.weight_infos()
                .iter()
                .map(remesos_proto::json::to_value)
                .collect(),
        )
    })
    .await
}

pub async fn roles(State(master): State<MasterHandle>, method: Method) -> Response {
    read_json(master, method, |m| m.roles_json()).await
}

pub async fn flags(State(master): State<MasterHandle>, method: Method) -> Response {
    read_json(master, method, |m| json!({ "flags": m.flags_json() })).await
}

pub async fn metrics(State(master): State<MasterHandle>, method: Method) -> Response {
    read_json(master, method, |m| {
        let map: serde_json::Map<String, Value> = m
            .metrics()
            .into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect();
        Value::Object(map)
    })
    .await
}

pub async fn version(method: Method) -> Response {
    if let Some(r) = get_only(&method) {
        return r;
    }
    api::json_ok(&remesos_proto::json::to_value(&version_info()))
}

/// `/health`: 200 while the master actor serves; 503 once it has ended (a panic; the
/// process is about to exit, see master/runtime.rs), so that a health check never passes a
/// master that answers everything else with 503.
pub async fn health(State(master): State<MasterHandle>, method: Method) -> Response {
    if let Some(r) = get_only(&method) {
        return r;
    }
    if !master.is_serving() {
        return gone();
    }
    StatusCode::OK.into_response()
}

/// `/master/redirect`: 307 to the leading master (this one, without ZooKeeper).
pub async fn redirect(State(master): State<MasterHandle>) -> Response {
    match master
        .read(|m| format!("//{}:{}", m.config.hostname, m.config.port))
        .await
    {
        Ok(location) => {
            let mut r = StatusCode::TEMPORARY_REDIRECT.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Err(_) => gone(),
    }
}

/// `POST /master/teardown` with form body `frameworkId=<id>`.
pub async fn teardown(State(master): State<MasterHandle>, method: Method, body: Bytes) -> Response {
    if method != Method::POST {
        return api::method_not_allowed(&method);
    }
    let form: HashMap<String, String> = url_form(&body);
    let Some(id) = form.get("frameworkId").cloned() else {
        return api::error(
            StatusCode::BAD_REQUEST,
            "Missing 'frameworkId' query parameter in the request body",
        );
    };
    match master
        .write(move |m, t| teardown_framework(m, t, &id))
        .await
    {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => api::error(StatusCode::BAD_REQUEST, e),
        Err(_) => gone(),
    }
}

fn url_form(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
