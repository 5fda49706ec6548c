//! The v1 operator API (`POST /api/v1`, reference §3.4) and the JSON endpoints of §6.
//!
//! HTTP only: each request is decoded (and its ids validated) into an
//! [`OperatorCommand`], which the master performs inside its actor
//! ([`crate::master::Master::operator`], Mesos's `Master::Http` in src/master/http.cpp);
//! the [`OperatorReply`] becomes the response. GET_HEALTH, GET_VERSION, GET_LOGGING_LEVEL
//! and SUBSCRIBE are answered here and by the runtime; SET_LOGGING_LEVEL is authorized by
//! the master and performed here (the level is the process's).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;

use remesos_proto::v1;
use v1::master::{self as op, call::Type as CallType, response::Type as RespType};

use crate::api;
use crate::common::version::version_info;
use crate::master::dump::{self, Dump};
use crate::master::operator::{OperatorCommand, OperatorError, OperatorReply, TasksQuery};
use crate::master::reservation::AgentOperation;
use crate::master::runtime::{
    Command, Durable, MasterHandle, OPERATOR_STREAM_BUFFER, Operated, trim_heap,
};
use crate::security::authorizer::Principal;

/// The request's authenticated principal: authentication puts it in the request's
/// extensions; absent when authentication is off (the ACLs then see `ANY`).
pub(super) type Caller = Option<axum::Extension<Principal>>;

/// The principal of a [`Caller`].
pub(super) fn principal(caller: &Caller) -> Option<&Principal> {
    caller.as_ref().map(|p| &p.0)
}

fn gone() -> Response {
    api::error(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down")
}

fn response(ty: RespType) -> op::Response {
    op::Response {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

pub async fn api(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (call, accept): (op::Call, _) = match api::read_call(&method, &headers, &body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match api_call(call) {
        Ok(ApiCall::Health) => {
            let mut r = response(RespType::GetHealth);
            r.get_health = Some(op::response::GetHealth {
                healthy: master.is_serving(),
            });
            api::ok(accept, &r)
        }
        Ok(ApiCall::Version) => {
            let mut r = response(RespType::GetVersion);
            r.get_version = Some(op::response::GetVersion {
                version_info: version_info(),
            });
            api::ok(accept, &r)
        }
        Ok(ApiCall::Subscribe) => subscribe(master, principal(&caller).cloned(), accept).await,
        // Mesos's `getLoggingLevel` asks no ACL.
        Ok(ApiCall::LoggingLevel) => {
            let mut r = response(RespType::GetLoggingLevel);
            r.get_logging_level = Some(op::response::GetLoggingLevel {
                level: api::logging::level(),
            });
            api::ok(accept, &r)
        }
        Ok(ApiCall::Master(command @ OperatorCommand::SetLoggingLevel { level, duration })) => {
            // The master authorizes (`set_log_level`); only then is the level changed.
            let answered = answer(&master, &caller, command, accept).await;
            if answered.status() != StatusCode::OK {
                return answered;
            }
            match api::logging::set_level(level, duration) {
                Ok(()) => answered,
                Err(e) => api::error(StatusCode::SERVICE_UNAVAILABLE, e),
            }
        }
        Ok(ApiCall::Master(command)) => answer(&master, &caller, command, accept).await,
        Err(e) => status_error(e.status(), e),
    }
}

/// What a v1 operator call asks for: answered by the HTTP layer itself, or a command for
/// the master.
#[derive(Debug)]
enum ApiCall {
    Health,
    Version,
    Subscribe,
    LoggingLevel,
    Master(OperatorCommand),
}

/// Why a v1 operator call is refused before it reaches the master.
#[derive(Debug, PartialEq, thiserror::Error)]
enum ApiCallError {
    #[error("Expecting 'type' to be present")]
    NoType,
    /// The sub-message the call's type needs is missing.
    #[error("Expecting '{0}' to be present")]
    Missing(&'static str),
    #[error("Unsupported call type {0}")]
    Unsupported(&'static str),
    /// GROW_VOLUME or SHRINK_VOLUME without an agent (resource providers are not supported).
    #[error(
        "Expecting 'agent_id' to be present; only agent default resources are supported right now"
    )]
    AgentDefaultOnly,
    #[error(transparent)]
    Operator(#[from] OperatorError),
}

impl ApiCallError {
    fn status(&self) -> u16 {
        match self {
            ApiCallError::NoType | ApiCallError::Missing(_) | ApiCallError::AgentDefaultOnly => 400,
            ApiCallError::Unsupported(_) => 501,
            ApiCallError::Operator(e) => e.status(),
        }
    }
}

/// Mesos's `validation::master::call::validate` for the calls remesos serves: the type,
/// and the sub-message each type needs (UPDATE_WEIGHTS and UPDATE_QUOTA without theirs
/// change nothing); ids validated into their types.
fn api_call(call: op::Call) -> Result<ApiCall, ApiCallError> {
    use ApiCallError::Missing;
    use OperatorCommand as C;
    let Some(ty) = call.r#type.and_then(|t| CallType::try_from(t).ok()) else {
        return Err(ApiCallError::NoType);
    };
    let command = match ty {
        CallType::GetHealth => return Ok(ApiCall::Health),
        CallType::GetVersion => return Ok(ApiCall::Version),
        CallType::Subscribe => return Ok(ApiCall::Subscribe),
        CallType::GetLoggingLevel => return Ok(ApiCall::LoggingLevel),
        CallType::SetLoggingLevel => {
            let set = call.set_logging_level.ok_or(Missing("set_logging_level"))?;
            C::SetLoggingLevel {
                level: set.level,
                duration: api::logging::nanoseconds(set.duration.nanoseconds),
            }
        }
        CallType::GetFlags => C::GetFlags,
        CallType::GetMetrics => C::GetMetrics,
        CallType::GetState => C::GetState,
        CallType::GetAgents => C::GetAgents,
        CallType::GetFrameworks => C::GetFrameworks,
        CallType::GetExecutors => C::GetExecutors,
        CallType::GetTasks => C::GetTasks,
        CallType::GetRoles => C::GetRoles,
        CallType::GetMaster => C::GetMaster,
        CallType::GetWeights => C::GetWeights,
        CallType::GetQuota => C::GetQuota,
        CallType::GetMaintenanceSchedule => C::GetMaintenanceSchedule,
        CallType::GetMaintenanceStatus => C::GetMaintenanceStatus,
        CallType::Teardown => {
            let teardown = call.teardown.ok_or(Missing("teardown"))?;
            C::teardown(teardown.framework_id.value)?
        }
        CallType::UpdateWeights => C::UpdateWeights {
            weight_infos: call
                .update_weights
                .map(|u| u.weight_infos)
                .unwrap_or_default(),
        },
        CallType::UpdateQuota => C::UpdateQuota {
            quota_configs: call
                .update_quota
                .map(|u| u.quota_configs)
                .unwrap_or_default(),
        },
        CallType::SetQuota => C::SetQuota {
            request: call.set_quota.ok_or(Missing("set_quota"))?.quota_request,
        },
        CallType::RemoveQuota => C::RemoveQuota {
            role: call.remove_quota.ok_or(Missing("remove_quota"))?.role,
        },
        CallType::MarkAgentGone => {
            let mark = call.mark_agent_gone.ok_or(Missing("mark_agent_gone"))?;
            C::mark_agent_gone(mark.agent_id.value)?
        }
        CallType::DrainAgent => C::drain_agent(call.drain_agent.ok_or(Missing("drain_agent"))?)?,
        CallType::DeactivateAgent => {
            let call = call.deactivate_agent.ok_or(Missing("deactivate_agent"))?;
            C::deactivate_agent(call.agent_id.value)?
        }
        CallType::ReactivateAgent => {
            let call = call.reactivate_agent.ok_or(Missing("reactivate_agent"))?;
            C::reactivate_agent(call.agent_id.value)?
        }
        CallType::UpdateMaintenanceSchedule => C::UpdateMaintenanceSchedule {
            schedule: call
                .update_maintenance_schedule
                .ok_or(Missing("update_maintenance_schedule"))?
                .schedule,
        },
        CallType::StartMaintenance => C::StartMaintenance {
            machines: call
                .start_maintenance
                .ok_or(Missing("start_maintenance"))?
                .machines,
        },
        CallType::StopMaintenance => C::StopMaintenance {
            machines: call
                .stop_maintenance
                .ok_or(Missing("stop_maintenance"))?
                .machines,
        },
        CallType::ReserveResources => {
            let call = call.reserve_resources.ok_or(Missing("reserve_resources"))?;
            C::ResourceOperation(Box::new(AgentOperation::reserve(
                call.agent_id.value,
                call.source,
                call.resources,
            )))
        }
        CallType::UnreserveResources => {
            let call = call
                .unreserve_resources
                .ok_or(Missing("unreserve_resources"))?;
            C::ResourceOperation(Box::new(AgentOperation::unreserve(
                call.agent_id.value,
                call.resources,
            )))
        }
        CallType::CreateVolumes => {
            let call = call.create_volumes.ok_or(Missing("create_volumes"))?;
            C::ResourceOperation(Box::new(AgentOperation::create(
                call.agent_id.value,
                call.volumes,
            )))
        }
        CallType::DestroyVolumes => {
            let call = call.destroy_volumes.ok_or(Missing("destroy_volumes"))?;
            C::ResourceOperation(Box::new(AgentOperation::destroy(
                call.agent_id.value,
                call.volumes,
            )))
        }
        CallType::GrowVolume => {
            let call = call.grow_volume.ok_or(Missing("grow_volume"))?;
            let agent_id = call.agent_id.ok_or(ApiCallError::AgentDefaultOnly)?;
            C::ResourceOperation(Box::new(AgentOperation::grow(
                agent_id.value,
                call.volume,
                call.addition,
            )))
        }
        CallType::ShrinkVolume => {
            let call = call.shrink_volume.ok_or(Missing("shrink_volume"))?;
            let agent_id = call.agent_id.ok_or(ApiCallError::AgentDefaultOnly)?;
            C::ResourceOperation(Box::new(AgentOperation::shrink(
                agent_id.value,
                call.volume,
                call.subtract,
            )))
        }
        other => return Err(ApiCallError::Unsupported(other.as_str_name())),
    };
    Ok(ApiCall::Master(command))
}

/// Has the master perform `command` and answers with its reply (`format`: how a v1
/// response is encoded).
async fn answer(
    master: &MasterHandle,
    caller: &Caller,
    command: OperatorCommand,
    format: api::Format,
) -> Response {
    let reply = match master
        .operator_as(command, principal(caller).cloned())
        .await
    {
        Ok(Ok(Operated::Reply(reply))) => reply,
        Ok(Ok(Operated::Durable(durable))) => return persisted(durable).await,
        Ok(Err(e)) => return status_error(e.status(), e),
        Err(_) => return gone(),
    };
    match reply {
        OperatorReply::Response(r) => api::ok(format, &*r),
        OperatorReply::Encoded(e) => streamed(format.media_type(), move |out| match format {
            api::Format::Protobuf => e.write_protobuf(out),
            api::Format::Json => e.write_json(out),
        }),
        OperatorReply::JsonDump(d) => streamed(api::APPLICATION_JSON, move |out| d.write(out)),
        OperatorReply::Json(v) => api::json_ok(&v),
        OperatorReply::Done => StatusCode::OK.into_response(),
        OperatorReply::Accepted => StatusCode::ACCEPTED.into_response(),
        // Never reaches here: the runtime answers a registry write as `Operated::Durable`.
        // Should that change, the caller hears an error, never a 200 for an unsaved write.
        OperatorReply::Persisting(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        OperatorReply::Location(location) => {
            let mut r = StatusCode::TEMPORARY_REDIRECT.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
    }
}

fn status_error(status: u16, e: impl std::fmt::Display) -> Response {
    api::error(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        e.to_string(),
    )
}

/// 200 once a registry write is durable; 503 when the registrar failed (Mesos answers
/// 503 when the registry cannot be written).
async fn persisted(durable: Durable) -> Response {
    match durable.await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => api::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Failed to update the registry: {e}"),
        ),
        Err(_) => gone(),
    }
}

/// Why a JSON body of an operator endpoint does not decode.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Message(#[from] remesos_proto::json::Error),
    #[error("Expecting a JSON object")]
    NotAnObject,
}

/// A JSON array of `M`s (Mesos's JSON dialect).
fn json_array<M>(body: &[u8]) -> Result<Vec<M>, BodyError>
where
    M: prost::Message + prost::Name + Default,
{
    let items = serde_json::from_slice::<Vec<Value>>(body)?;
    Ok(items
        .iter()
        .map(remesos_proto::json::from_value::<M>)
        .collect::<Result<_, _>>()?)
}

/// `/master/maintenance/schedule`: GET returns the schedule as JSON; POST replaces it with
/// the `mesos.maintenance.Schedule` JSON in the body (`docs/maintenance.md`).
pub async fn maintenance_schedule(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    body: Bytes,
) -> Response {
    if method == Method::POST {
        let schedule = serde_json::from_slice::<Value>(&body)
            .map_err(BodyError::from)
            .and_then(|v| {
                if !v.is_object() {
                    return Err(BodyError::NotAnObject);
                }
                Ok(remesos_proto::json::from_value::<v1::maintenance::Schedule>(&v)?)
            });
        return match schedule {
            Ok(schedule) => {
                let command = OperatorCommand::UpdateMaintenanceSchedule { schedule };
                answer(&master, &caller, command, api::Format::Json).await
            }
            Err(e) => api::error(StatusCode::BAD_REQUEST, e.to_string()),
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
    read_json(
        master,
        caller,
        method,
        OperatorCommand::MaintenanceScheduleJson,
    )
    .await
}

/// `/master/maintenance/status`: the DRAINING and DOWN machines.
pub async fn maintenance_status(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
) -> Response {
    read_json(
        master,
        caller,
        method,
        OperatorCommand::MaintenanceStatusJson,
    )
    .await
}

/// `POST /master/machine/down`: DRAINING machines go DOWN.
pub async fn machine_down(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return api::method_not_allowed(&method);
    }
    match json_array::<v1::MachineId>(&body) {
        Ok(machines) => {
            let command = OperatorCommand::StartMaintenance { machines };
            answer(&master, &caller, command, api::Format::Json).await
        }
        Err(e) => api::error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// `POST /master/machine/up`: DOWN machines go UP and leave the schedule.
pub async fn machine_up(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return api::method_not_allowed(&method);
    }
    match json_array::<v1::MachineId>(&body) {
        Ok(machines) => {
            let command = OperatorCommand::StopMaintenance { machines };
            answer(&master, &caller, command, api::Format::Json).await
        }
        Err(e) => api::error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn subscribe(
    master: MasterHandle,
    principal: Option<Principal>,
    format: api::Format,
) -> Response {
    let (tx, rx) = mpsc::channel(OPERATOR_STREAM_BUFFER);
    let (reply_tx, reply_rx) = oneshot::channel();
    if master
        .send(Command::OperatorSubscribe {
            principal,
            events: tx,
            reply: reply_tx,
        })
        .await
        .is_err()
    {
        return gone();
    }
    let Ok(subscribed) = reply_rx.await else {
        return gone();
    };
    let subscribed = dump_body(format, subscribed).await;
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
    api::recordio_stream_after(format, subscribed, events.map(Arc::unwrap_or_clone))
}

/// Dumps at least this big (bytes) are followed by [`trim_heap`]: ~1,000 tasks.
const BIG_DUMP: usize = 1 << 20;

/// Chunks of a streamed dump ([`dump::CHUNK`] each) queued for the connection beyond the one
/// being written: with hyper's own buffer, a dump holds at most a few MiB of its body at
/// once whatever its size; the writer waits while the client reads slower.
const DUMP_CHUNKS_AHEAD: usize = 2;

/// A `200 OK` whose body `write` produces on a blocking thread, off the actor (which only
/// took the dump: `dump.rs`, `dump_json.rs`) and off the runtime's workers, in chunks handed
/// to the connection as they are written. A client that goes away stops the writing.
fn streamed<W>(content_type: &'static str, write: W) -> Response
where
    W: FnOnce(&mut dump::Chunked<Box<dyn FnMut(Bytes) -> bool + Send>>) -> Result<(), dump::Closed>
        + Send
        + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(DUMP_CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let send: Box<dyn FnMut(Bytes) -> bool + Send> =
            Box::new(move |chunk| tx.blocking_send(chunk).is_ok());
        let mut out = dump::Chunked::new(send);
        let written = write(&mut out).and_then(|()| out.finish());
        if let Err(e) = written {
            tracing::debug!("state dump not sent whole: {e}");
        }
        if out.written() >= BIG_DUMP {
            drop(out);
            trim_heap();
        }
    });
    let body = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|chunk| chunk.map(Ok::<Bytes, std::convert::Infallible>))
    });
    let mut response = (StatusCode::OK, axum::body::Body::from_stream(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The SUBSCRIBED event's body in the format asked for, encoded here, off the actor (the
/// actor only took the tasks' records), on a blocking thread.
async fn dump_body(format: api::Format, dump: Dump) -> Bytes {
    tokio::task::spawn_blocking(move || {
        let mut body = Vec::new();
        // Writing into a `Vec` never stops early.
        let _ = match format {
            api::Format::Protobuf => dump.write_protobuf(&mut body),
            api::Format::Json => dump.write_json(&mut body),
        };
        drop(dump);
        if body.len() >= BIG_DUMP {
            trim_heap();
        }
        Bytes::from(body)
    })
    .await
    .unwrap_or_default()
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

/// A JSON endpoint that only reads: GET (or HEAD) only.
async fn read_json(
    master: MasterHandle,
    caller: Caller,
    method: Method,
    command: OperatorCommand,
) -> Response {
    if let Some(r) = get_only(&method) {
        return r;
    }
    answer(&master, &caller, command, api::Format::Json).await
}

pub async fn state(State(master): State<MasterHandle>, caller: Caller, method: Method) -> Response {
    read_json(master, caller, method, OperatorCommand::StateJson).await
}

pub async fn state_summary(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
) -> Response {
    read_json(master, caller, method, OperatorCommand::StateSummaryJson).await
}

pub async fn frameworks(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let framework_id = q.get("framework_id").cloned();
    read_json(
        master,
        caller,
        method,
        OperatorCommand::FrameworksJson { framework_id },
    )
    .await
}

pub async fn slaves(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let slave_id = q.get("slave_id").cloned();
    read_json(
        master,
        caller,
        method,
        OperatorCommand::SlavesJson { slave_id },
    )
    .await
}

pub async fn tasks(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let defaults = TasksQuery::default();
    let query = TasksQuery {
        limit: q
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(defaults.limit),
        offset: q
            .get("offset")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(defaults.offset),
        ascending: q.get("order").is_some_and(|o| o == "asc"),
        framework_id: q.get("framework_id").cloned(),
        task_id: q.get("task_id").cloned(),
    };
    read_json(master, caller, method, OperatorCommand::TasksJson(query)).await
}

/// `/master/weights`: GET lists `[{"weight", "role"}]`; PUT takes the same array
/// (`docs/weights.md`).
pub async fn weights(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    body: Bytes,
) -> Response {
    if method == Method::PUT {
        return match json_array::<v1::WeightInfo>(&body) {
            Ok(weight_infos) => {
                let command = OperatorCommand::UpdateWeights { weight_infos };
                answer(&master, &caller, command, api::Format::Json).await
            }
            Err(e) => api::error(
                StatusCode::BAD_REQUEST,
                format!("Failed to parse update weights request: {e}"),
            ),
        };
    }
    read_json(master, caller, method, OperatorCommand::WeightsJson).await
}

/// `/master/quota` (Mesos's deprecated v0 quota endpoint, src/master/quota_handler.cpp):
/// GET answers the QuotaStatus, POST sets quota from a `QuotaRequest` JSON body, DELETE
/// `/master/quota/<role>` removes the role's quota.
pub async fn quota(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    path: Option<axum::Extension<super::DelegatedPath>>,
    body: Bytes,
) -> Response {
    if method == Method::DELETE {
        // Mesos's `strings::tokenize(path, "/", 3)`: the role is the rest after the
        // endpoint, slashes included.
        let path = path.map(|p| p.0.0).unwrap_or_default();
        let tokens: Vec<&str> = path.splitn(4, '/').skip(1).collect();
        let role = match tokens.as_slice() {
            [_, _, role] if !role.is_empty() => role.trim_end_matches('/').to_string(),
            _ => {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Failed to parse remove quota request for path '{path}': expected 3 \
                         tokens, found {} tokens",
                        tokens.iter().filter(|t| !t.is_empty()).count()
                    ),
                );
            }
        };
        let command = OperatorCommand::RemoveQuota { role };
        return answer(&master, &caller, command, api::Format::Json).await;
    }
    if method == Method::POST {
        let request = serde_json::from_slice::<Value>(&body)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                remesos_proto::json::from_value::<v1::quota::QuotaRequest>(&v)
                    .map_err(|e| e.to_string())
            });
        return match request {
            Ok(request) => {
                let command = OperatorCommand::SetQuota { request };
                answer(&master, &caller, command, api::Format::Json).await
            }
            Err(e) => api::error(
                StatusCode::BAD_REQUEST,
                format!(
                    "Failed to parse set quota request JSON '{}': {e}",
                    String::from_utf8_lossy(&body)
                ),
            ),
        };
    }
    read_json(master, caller, method, OperatorCommand::QuotaJson).await
}

pub async fn roles(State(master): State<MasterHandle>, caller: Caller, method: Method) -> Response {
    read_json(master, caller, method, OperatorCommand::RolesJson).await
}

pub async fn flags(State(master): State<MasterHandle>, caller: Caller, method: Method) -> Response {
    read_json(master, caller, method, OperatorCommand::FlagsJson).await
}

pub async fn metrics(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
) -> Response {
    read_json(master, caller, method, OperatorCommand::MetricsJson).await
}

/// `/metrics`: the metrics of `/metrics/snapshot` (the same ACL, `get_endpoints` on
/// `/metrics/snapshot`, and the same realm) in the Prometheus text format or OpenMetrics as
/// `Accept` asks (`common::metrics`), followed by the master's histograms.
pub async fn prometheus(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Some(r) = get_only(&method) {
        return r;
    }
    let metrics = match master
        .operator_as(OperatorCommand::PrometheusJson, principal(&caller).cloned())
        .await
    {
        Ok(Ok(Operated::Reply(OperatorReply::Json(Value::Object(m))))) => m,
        Ok(Ok(_)) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Ok(Err(e)) => return status_error(e.status(), e),
        Err(_) => return gone(),
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = crate::common::metrics::Format::negotiate(accept);
    let mut e = crate::common::metrics::Exposition::new(format);
    e.mesos(
        metrics
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_f64()?))),
    );
    master.histograms().expose(&mut e);
    exposition(format, e.finish())
}

/// A `/metrics` answer.
pub fn exposition(format: crate::common::metrics::Format, text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        text,
    )
        .into_response()
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
pub async fn redirect(State(master): State<MasterHandle>, caller: Caller) -> Response {
    answer(
        &master,
        &caller,
        OperatorCommand::LeaderLocation,
        api::Format::Json,
    )
    .await
}

/// `POST /master/teardown` with form body `frameworkId=<id>`.
pub async fn teardown(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    body: Bytes,
) -> Response {
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
    match OperatorCommand::teardown(id) {
        Ok(command) => answer(&master, &caller, command, api::Format::Json).await,
        Err(e) => status_error(e.status(), e),
    }
}

/// Which v0 resource endpoint: its resources' form key and the operation it makes.
#[derive(Clone, Copy)]
enum ResourceEndpoint {
    Reserve,
    Unreserve,
    CreateVolumes,
    DestroyVolumes,
}

/// `POST /master/reserve`, `/unreserve`, `/create-volumes`, `/destroy-volumes`: a form
/// body with `slaveId` and a JSON array of `Resource` (`resources`, or `volumes`; reserve
/// also takes `source`), as Mesos's src/master/http.cpp parses it.
async fn resource_endpoint(
    master: MasterHandle,
    caller: Caller,
    method: Method,
    body: Bytes,
    endpoint: ResourceEndpoint,
) -> Response {
    if method != Method::POST {
        return api::method_not_allowed(&method);
    }
    let form = url_form(&body);
    let Some(slave_id) = form.get("slaveId").cloned() else {
        return api::error(
            StatusCode::BAD_REQUEST,
            "Missing 'slaveId' query parameter in the request body",
        );
    };
    let list = |key: &str| -> Result<Vec<v1::Resource>, String> {
        let value = form
            .get(key)
            .ok_or_else(|| format!("Missing '{key}' query parameter in the request body"))?;
        json_array::<v1::Resource>(value.as_bytes()).map_err(|e| {
            format!("Error in parsing '{key}' query parameter in the request body: {e}")
        })
    };
    let operation = match endpoint {
        ResourceEndpoint::Reserve => list("resources").and_then(|resources| {
            let source = if form.contains_key("source") {
                list("source")?
            } else {
                Vec::new()
            };
            Ok(AgentOperation::reserve(slave_id, source, resources))
        }),
        ResourceEndpoint::Unreserve => {
            list("resources").map(|r| AgentOperation::unreserve(slave_id, r))
        }
        ResourceEndpoint::CreateVolumes => {
            list("volumes").map(|v| AgentOperation::create(slave_id, v))
        }
        ResourceEndpoint::DestroyVolumes => {
            list("volumes").map(|v| AgentOperation::destroy(slave_id, v))
        }
    };
    match operation {
        Ok(operation) => {
            let command = OperatorCommand::ResourceOperation(Box::new(operation));
            answer(&master, &caller, command, api::Format::Json).await
        }
        Err(e) => api::error(StatusCode::BAD_REQUEST, e),
    }
}

/// `POST /master/reserve` (form: `slaveId`, `resources`, optional `source`).
pub async fn reserve(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    body: Bytes,
) -> Response {
    resource_endpoint(master, caller, method, body, ResourceEndpoint::Reserve).await
}

/// `POST /master/unreserve` (form: `slaveId`, `resources`).
pub async fn unreserve(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    body: Bytes,
) -> Response {
    resource_endpoint(master, caller, method, body, ResourceEndpoint::Unreserve).await
}

/// `POST /master/create-volumes` (form: `slaveId`, `volumes`).
pub async fn create_volumes(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    body: Bytes,
) -> Response {
    resource_endpoint(
        master,
        caller,
        method,
        body,
        ResourceEndpoint::CreateVolumes,
    )
    .await
}

/// `POST /master/destroy-volumes` (form: `slaveId`, `volumes`).
pub async fn destroy_volumes(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    body: Bytes,
) -> Response {
    resource_endpoint(
        master,
        caller,
        method,
        body,
        ResourceEndpoint::DestroyVolumes,
    )
    .await
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
