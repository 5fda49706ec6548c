//! The agent's HTTP surface: the v1 executor API (reference §3.3), `/state`, `/flags`,
//! `/health`, `/version`, `/metrics/snapshot`, a minimal `/api/v1`, each also under the
//! agent's libprocess id `/slave(1)`, and libprocess's `/logging/toggle` (api/logging.rs).
//!
//! Authorization (`--acls`), as Mesos's agent (src/slave/http.cpp):
//!
//! | endpoint or call | action (object) | when denied |
//! |---|---|---|
//! | GET_FLAGS, `/flags` | `view_flags` | 403 |
//! | `/metrics/snapshot`, `/files/debug`, `/logging/toggle` | `get_endpoints` (the path) | 403 |
//! | `/containers`, `/monitor/statistics` | `get_endpoints` (the path), then `view_containers` per container ([`authorize_containers_endpoint`]) | 403; containers left out |
//! | SET_LOGGING_LEVEL, a change through `/logging/toggle` | `set_log_level` | 403, the level unchanged |
//! | GET_CONTAINERS | `view_containers` (the executor's user, else the framework's) | container left out |
//! | GET_STATE, GET_TASKS, GET_EXECUTORS, GET_FRAMEWORKS, `/state` | `view_frameworks`, `view_tasks`, `view_executors` | left out |
//! | LIST_FILES, READ_FILE, `/files/*` | `access_sandboxes` (the sandbox's owner) | 403 |
//! | PRUNE_IMAGES | `prune_images` (ANY) | 403, nothing removed |

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures::Stream;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use remesos_proto::v1;
use v1::executor as exec;

use super::authn::{Caller, HttpAuthn, Realm};
use super::runtime::{AgentHandle, Command, EXECUTOR_STREAM_BUFFER};
use super::{Agent, CallError};
use crate::api;
use crate::common::json::{attributes_json, task_json};
use crate::common::version::MESOS_VERSION;
use crate::resources::Resources;
use crate::security::authorizer::{Action, Authorizer, Object, Requester, Subject, Viewer};

/// Who made the request: a principal, an executor's token, or nobody (authentication off).
type Who = Requester;

/// The agent's routes, each in the realm Mesos's agent puts it in (agent/authn.rs): the
/// executor API, the operator API (read-write), `/state`, `/flags`, `/metrics/snapshot` and
/// `/files/*` (read-only); `/health` and `/version` are open. `authorizer` guards `/files`
/// (the sandboxes' owners are in the registry); the other endpoints read it from the
/// agent's configuration.
pub fn router(
    agent: AgentHandle,
    files: super::files::SharedFiles,
    authn: std::sync::Arc<HttpAuthn>,
    authorizer: std::sync::Arc<Authorizer>,
    containers: std::sync::Arc<super::nested::Containers>,
) -> Router {
    let guard = |realm: Realm| {
        axum::middleware::from_fn_with_state((authn.clone(), realm), super::authn::guard)
    };
    let api_files = files.clone();
    let api_authorizer = authorizer.clone();
    // Nested and standalone containers (agent/nested.rs), shared by the operator calls.
    let operator = move |State(agent): State<AgentHandle>,
                         caller: Who,
                         method: Method,
                         headers: HeaderMap,
                         body: axum::body::Body| {
        let files = api_files.clone();
        let authorizer = api_authorizer.clone();
        let containers = containers.clone();
        async move {
            operator_api(
                agent,
                (files, containers),
                (authorizer, caller),
                method,
                headers,
                body,
            )
            .await
        }
    };
    let executor = Router::new()
        .route("/api/v1/executor", any(executor_api))
        .route_layer(guard(Realm::Executor));
    let readwrite = Router::new()
        .route("/api/v1", any(operator))
        .route_layer(guard(Realm::ReadWrite));
    let readonly = Router::new()
        .route("/state", any(state))
        .route("/state.json", any(state))
        .route("/flags", any(flags))
        .merge(super::monitor::routes())
        .route_layer(guard(Realm::ReadOnly));
    let routes = executor
        .merge(readwrite)
        .merge(readonly)
        .route("/health", any(health))
        .with_state(agent.clone());
    let http = std::sync::Arc::new(crate::common::metrics::HistogramVec::new(
        "endpoint",
        ENDPOINTS.iter().map(|e| e.to_string()),
    ));
    let scrape = http.clone();
    let top = Router::new()
        .route("/metrics/snapshot", any(metrics))
        .route(
            "/metrics",
            any(
                move |agent: State<AgentHandle>, caller: Who, headers: HeaderMap| {
                    prometheus(agent, caller, headers, scrape.clone())
                },
            ),
        )
        .route_layer(guard(Realm::ReadOnly))
        .route("/version", any(version))
        .with_state(agent);
    Router::new()
        .nest("/slave(1)", routes.clone())
        .merge(routes)
        .merge(top)
        .merge(api::logging::routes(authorizer.clone()).route_layer(guard(Realm::ReadWrite)))
        .merge(super::files::routes_with(files, authorizer).route_layer(guard(Realm::ReadOnly)))
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(api::refuse_oversized))
        .layer(axum::middleware::from_fn_with_state(http, timed))
}

/// The agent's route templates, the label values of its HTTP histogram (a path under
/// `/slave(1)` counts as the same path without it; anything else is `other`).
const ENDPOINTS: &[&str] = &[
    "/api/v1",
    "/api/v1/executor",
    "/containers",
    "/files/browse",
    "/files/browse.json",
    "/files/debug",
    "/files/debug.json",
    "/files/download",
    "/files/download.json",
    "/files/read",
    "/files/read.json",
    "/flags",
    "/health",
    "/logging/toggle",
    "/metrics",
    "/metrics/snapshot",
    "/monitor/statistics",
    "/monitor/statistics.json",
    "/state",
    "/state.json",
    "/version",
];

/// The template `path` is counted under.
fn endpoint_template(path: &str) -> &'static str {
    let path = path.strip_prefix("/slave(1)").unwrap_or(path);
    let path = path.trim_end_matches('/');
    ENDPOINTS
        .iter()
        .find(|e| **e == path)
        .copied()
        .unwrap_or(crate::common::metrics::HistogramVec::OTHER)
}

/// Middleware: times each request to its response head into the HTTP histogram and
/// writes its access log line (`api::access_log`).
async fn timed(
    State(http): State<std::sync::Arc<crate::common::metrics::HistogramVec>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = tokio::time::Instant::now();
    let endpoint = endpoint_template(request.uri().path());
    let method = request.method().clone();
    let peer = api::peer_of(&request);
    let slot = api::AccessPrincipal::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    let took = started.elapsed();
    http.observe(endpoint, took);
    api::access_log(
        &method,
        endpoint,
        response.status(),
        took,
        peer,
        slot.0.get(),
    );
    response
}

/// `/metrics`: `/metrics/snapshot`'s metrics (same realm, same ACL: `get_endpoints` on
/// `/metrics/snapshot`) in the Prometheus text format or OpenMetrics as `Accept` asks
/// (`common::metrics`), then the agent's histograms.
async fn prometheus(
    State(agent): State<AgentHandle>,
    caller: Who,
    headers: HeaderMap,
    http: std::sync::Arc<crate::common::metrics::HistogramVec>,
) -> Response {
    use crate::common::metrics::{Exposition, Format};
    let read = move |a: &Agent| {
        let endpoint = Object::Value("/metrics/snapshot");
        a.config
            .authorizer
            .is_allowed(Action::GetEndpoint, caller.subject(), endpoint)
            .then(|| (metrics_map(a), a.updates.round_trip.clone()))
    };
    let (metrics, round_trip) = match agent.read(read).await {
        Ok(Some(m)) => m,
        Ok(None) => return StatusCode::FORBIDDEN.into_response(),
        Err(_) => return gone(),
    };
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    let mut e = Exposition::new(format);
    e.mesos(metrics.iter().map(|(k, v)| (k.as_str(), *v)));
    e.histogram(
        "remesos_slave_status_update_round_trip_seconds",
        "From forwarding a status update to the master to its acknowledgement",
        &round_trip,
    );
    e.histogram_vec(
        "remesos_http_request_duration_seconds",
        "Time to the response head of HTTP requests, by endpoint",
        &http,
    );
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, format.content_type())],
        e.finish(),
    )
        .into_response()
}

fn gone() -> Response {
    api::error(StatusCode::SERVICE_UNAVAILABLE, "Agent is shutting down")
}

fn call_error(e: CallError) -> Response {
    match e {
        CallError::BadRequest(m) => api::error(StatusCode::BAD_REQUEST, m),
        CallError::Forbidden(m) => api::error(StatusCode::FORBIDDEN, m),
    }
}

/// Whether `ip` is one of this host's own addresses (loopback included): binding to an
/// address succeeds only for a local one.
fn is_local_address(ip: std::net::IpAddr) -> bool {
    let ip = super::executor_peers::unmapped(ip);
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// Executors run on this host or in its containers, so an executor call from any other
/// address is forged: refused with 403 before it is decoded (executor_peers.rs). Beyond
/// Mesos, which accepts executor calls from anywhere unless executors authenticate
/// (`--authenticate_http_executors`); a process on the agent's own host is only stopped by
/// that per-executor token, which comes with authentication.
async fn refuse_remote_executor(
    agent: &AgentHandle,
    extensions: &axum::http::Extensions,
) -> Option<Response> {
    use super::executor_peers::{Decision, PENDING_NETWORK_WAIT, decide};
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let ip = peer.map(|p| p.ip());
    let mut peers = agent.container_peers();
    // The borrow ends here: a watch's read guard must not be held across the wait.
    let first = decide(ip, is_local_address, &peers.borrow_and_update());
    let decision = match first {
        Decision::Wait => {
            // A bridged container whose IP dockerd has not yet told: wait for it, bounded.
            let settled = tokio::time::timeout(
                PENDING_NETWORK_WAIT,
                peers.wait_for(|p| decide(ip, is_local_address, p) != Decision::Wait),
            )
            .await;
            match settled {
                Ok(Ok(p)) => decide(ip, is_local_address, &p),
                _ => Decision::Refuse,
            }
        }
        decided => decided,
    };
    match (decision, peer) {
        (Decision::Accept, _) => None,
        (_, Some(peer)) => {
            tracing::warn!(%peer, "refusing an executor call from neither this host nor its containers");
            Some(api::error(
                StatusCode::FORBIDDEN,
                "Executor calls are accepted from this host and its containers only",
            ))
        }
        (_, None) => {
            tracing::error!("the executor API is served without peer addresses; refusing");
            Some(api::error(
                StatusCode::FORBIDDEN,
                "Executor calls are accepted from this host and its containers only",
            ))
        }
    }
}

async fn executor_api(
    State(agent): State<AgentHandle>,
    method: Method,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse_remote_executor(&agent, &extensions).await {
        return refused;
    }
    let (call, accept): (exec::Call, _) = match api::read_call(&method, &headers, &body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    // Set by the realm's guard only when executors authenticate.
    let caller = match (
        extensions.get::<crate::security::jwt::Claims>(),
        extensions.get::<crate::security::Principal>(),
    ) {
        (Some(claims), _) => Some(Caller::Token(claims.clone())),
        (None, Some(principal)) => Some(Caller::Principal(principal.clone())),
        (None, None) => None,
    };
    if call.r#type == Some(exec::call::Type::Subscribe as i32) {
        let (tx, rx) = mpsc::channel(EXECUTOR_STREAM_BUFFER);
        let (reply_tx, reply_rx) = oneshot::channel();
        let framework_id = call.framework_id.value.clone();
        let executor_id = call.executor_id.value.clone();
        if agent
            .send(Command::ExecutorSubscribe {
                call,
                caller,
                events: tx,
                reply: reply_tx,
            })
            .await
            .is_err()
        {
            return gone();
        }
        return match reply_rx.await {
            Ok(Ok(conn)) => {
                let stream = ExecutorStream {
                    rx,
                    agent,
                    framework_id,
                    executor_id,
                    conn,
                };
                api::recordio_stream(accept, stream)
            }
            Ok(Err(e)) => call_error(e),
            Err(_) => gone(),
        };
    }
    let (reply_tx, reply_rx) = oneshot::channel();
    if agent
        .send(Command::ExecutorCall {
            call,
            caller,
            reply: reply_tx,
        })
        .await
        .is_err()
    {
        return gone();
    }
    match reply_rx.await {
        Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(e)) => call_error(e),
        Err(_) => gone(),
    }
}

/// An executor's event stream; dropping it (the executor hung up) tells the agent.
struct ExecutorStream {
    rx: mpsc::Receiver<exec::Event>,
    agent: AgentHandle,
    framework_id: String,
    executor_id: String,
    conn: u64,
}

impl Stream for ExecutorStream {
    type Item = exec::Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<exec::Event>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for ExecutorStream {
    fn drop(&mut self) {
        self.agent.notify(Command::ExecutorStreamClosed {
            framework_id: std::mem::take(&mut self.framework_id),
            executor_id: std::mem::take(&mut self.executor_id),
            conn: self.conn,
        });
    }
}

async fn operator_api(
    agent: AgentHandle,
    (files, containers): (
        super::files::SharedFiles,
        std::sync::Arc<super::nested::Containers>,
    ),
    (authorizer, who): (std::sync::Arc<Authorizer>, Requester),
    method: Method,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    use super::http_nested as containers_api;
    use v1::agent::{call::Type as CallType, response::Type as RespType};
    if method != Method::POST {
        return api::method_not_allowed(&method);
    }
    // ATTACH_CONTAINER_INPUT streams its body (RecordIO); every other call is read whole,
    // bounded by `MAX_BODY_BYTES`.
    if containers_api::is_streaming_request(&headers) {
        let caller = containers_api::Caller { authorizer, who };
        return containers_api::attach_input(containers, caller, headers, body).await;
    }
    let body = match axum::body::to_bytes(body, api::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return api::error(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large"),
    };
    let format = match api::request_format(&headers) {
        Ok(f) => f,
        Err(r) => return r,
    };
    // Decoded once. The container calls choose their own answer's format (a session answers
    // RecordIO), so `Accept` is read only for the others.
    let decoded = match api::decode::<v1::agent::Call>(format, &body) {
        Ok(call)
            if call
                .r#type
                .and_then(|t| CallType::try_from(t).ok())
                .is_some_and(containers_api::handles) =>
        {
            let caller = containers_api::Caller { authorizer, who };
            return containers_api::handle(agent, containers, caller, call, &headers).await;
        }
        other => other,
    };
    let accept = match api::response_format(&headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let call = match decoded {
        Ok(c) => c,
        Err(r) => return r,
    };
    let response = |ty: RespType| v1::agent::Response {
        r#type: Some(ty as i32),
        ..Default::default()
    };
    match call.r#type.and_then(|t| CallType::try_from(t).ok()) {
        Some(CallType::GetHealth) => {
            let mut r = response(RespType::GetHealth);
            r.get_health = Some(v1::agent::response::GetHealth {
                healthy: agent.is_serving(),
            });
            api::ok(accept, &r)
        }
        Some(CallType::GetVersion) => {
            let mut r = response(RespType::GetVersion);
            r.get_version = Some(v1::agent::response::GetVersion {
                version_info: crate::common::version::version_info(),
            });
            api::ok(accept, &r)
        }
        Some(CallType::GetFlags) if !authorizer.viewer(who.subject()).flags() => {
            StatusCode::FORBIDDEN.into_response()
        }
        Some(CallType::GetFlags) => match agent.read(|a| a.config.flags.clone()).await {
            Ok(flags) => {
                let mut r = response(RespType::GetFlags);
                let flags = flags
                    .into_iter()
                    .map(|(name, value)| v1::Flag {
                        name,
                        value: Some(value),
                    })
                    .collect();
                r.get_flags = Some(v1::agent::response::GetFlags { flags });
                api::ok(accept, &r)
            }
            Err(_) => gone(),
        },
        Some(CallType::GetMetrics) => match agent.read(metrics_map).await {
            Ok(m) => {
                let mut r = response(RespType::GetMetrics);
                let metrics = m
                    .into_iter()
                    .map(|(name, value)| v1::Metric {
                        name,
                        value: Some(value),
                    })
                    .collect();
                r.get_metrics = Some(v1::agent::response::GetMetrics { metrics });
                api::ok(accept, &r)
            }
            Err(_) => gone(),
        },
        Some(CallType::GetState) => {
            read_response(&agent, accept, move |a| {
                let mut r = response(RespType::GetState);
                let v = a.config.authorizer.viewer(who.subject());
                r.get_state = Some(v1::agent::response::GetState {
                    get_tasks: Some(get_tasks(a, v)),
                    get_executors: Some(get_executors(a, v)),
                    get_frameworks: Some(get_frameworks(a, v)),
                });
                r
            })
            .await
        }
        Some(CallType::GetTasks) => {
            read_response(&agent, accept, move |a| {
                let mut r = response(RespType::GetTasks);
                r.get_tasks = Some(get_tasks(a, a.config.authorizer.viewer(who.subject())));
                r
            })
            .await
        }
        Some(CallType::GetExecutors) => {
            read_response(&agent, accept, move |a| {
                let mut r = response(RespType::GetExecutors);
                r.get_executors = Some(get_executors(a, a.config.authorizer.viewer(who.subject())));
                r
            })
            .await
        }
        Some(CallType::GetFrameworks) => {
            read_response(&agent, accept, move |a| {
                let mut r = response(RespType::GetFrameworks);
                r.get_frameworks =
                    Some(get_frameworks(a, a.config.authorizer.viewer(who.subject())));
                r
            })
            .await
        }
        Some(CallType::GetAgent) => {
            read_response(&agent, accept, move |a| {
                let mut r = response(RespType::GetAgent);
                let mut info = a.info.clone();
                info.id = a.id.clone().map(|value| v1::AgentId { value });
                r.get_agent = Some(v1::agent::response::GetAgent {
                    agent_info: Some(info),
                    drain_config: None,
                    estimated_drain_start_time: None,
                });
                r
            })
            .await
        }
        Some(CallType::GetContainers) => {
            // `view_containers` per container (Mesos's `Http::getContainers`); the
            // authorizer is the agent's, read with its state.
            let asked = call.get_containers.unwrap_or_default();
            let (show_nested, show_standalone) = (
                asked.show_nested.unwrap_or(false),
                asked.show_standalone.unwrap_or(false),
            );
            let registry = containers.clone();
            let snapshot = move |a: &Agent| {
                let viewer = a.config.authorizer.viewer(who.subject());
                let mut listed = containers_snapshot(a, viewer);
                listed.extend(nested_snapshot(
                    a,
                    (viewer, who.subject()),
                    &registry,
                    show_nested,
                    show_standalone,
                ));
                listed
            };
            let Ok(containers) = agent.read(snapshot).await else {
                return gone();
            };
            // Usage comes from /proc and cgroup files: read off the agent's actor.
            let containers = tokio::task::spawn_blocking(move || with_usage(containers)).await;
            let Ok(containers) = containers else {
                return api::error(StatusCode::INTERNAL_SERVER_ERROR, "Failed to collect usage");
            };
            let mut r = response(RespType::GetContainers);
            r.get_containers = Some(v1::agent::response::GetContainers { containers });
            api::ok(accept, &r)
        }
        Some(CallType::ListFiles) => {
            let Some(list) = call.list_files else {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'list_files' to be present",
                );
            };
            let path = list.path;
            let result = super::files::with_files(files, move |f| {
                if !f.may_access(&authorizer, who.subject(), &path) {
                    return Err(super::files::FilesError::Forbidden);
                }
                f.browse(&path)
            });
            match result.await {
                Ok(listing) => {
                    let mut r = response(RespType::ListFiles);
                    r.list_files = Some(v1::agent::response::ListFiles {
                        file_infos: listing.iter().map(|i| i.to_proto()).collect(),
                    });
                    api::ok(accept, &r)
                }
                Err(e) => files_error(e),
            }
        }
        Some(CallType::ReadFile) => {
            let Some(read) = call.read_file else {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'read_file' to be present",
                );
            };
            let path = read.path;
            let offset = i64::try_from(read.offset).unwrap_or(i64::MAX);
            let length = read.length;
            let result = super::files::with_files(files, move |f| {
                if !f.may_access(&authorizer, who.subject(), &path) {
                    return Err(super::files::FilesError::Forbidden);
                }
                // READ_FILE answers the file's size, and data from `offset`.
                let (size, _) = f.read(&path, -1, None)?;
                let (_, data) = f.read(&path, offset, length)?;
                Ok((size, data))
            })
            .await;
            match result {
                Ok((size, data)) => {
                    let mut r = response(RespType::ReadFile);
                    r.read_file = Some(v1::agent::response::ReadFile { size, data });
                    api::ok(accept, &r)
                }
                Err(e) => files_error(e),
            }
        }
        // Mesos's `Http::getLoggingLevel` asks no ACL.
        Some(CallType::GetLoggingLevel) => {
            let mut r = response(RespType::GetLoggingLevel);
            r.get_logging_level = Some(v1::agent::response::GetLoggingLevel {
                level: api::logging::level(),
            });
            api::ok(accept, &r)
        }
        // `Http::setLoggingLevel`: `set_log_level`, 403 with the level unchanged.
        Some(CallType::SetLoggingLevel) => {
            let Some(set) = call.set_logging_level else {
                return api::error(
                    StatusCode::BAD_REQUEST,
                    "Expecting 'set_logging_level' to be present",
                );
            };
            if !authorizer.is_allowed(Action::SetLogLevel, who.subject(), Object::Any) {
                return StatusCode::FORBIDDEN.into_response();
            }
            let duration = api::logging::nanoseconds(set.duration.nanoseconds);
            match api::logging::set_level(set.level, duration) {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => api::error(StatusCode::SERVICE_UNAVAILABLE, e),
            }
        }
        Some(CallType::PruneImages) => {
            prune_images(
                &agent,
                &authorizer,
                &who,
                call.prune_images.unwrap_or_default(),
            )
            .await
        }
        Some(other) => api::error(
            StatusCode::NOT_IMPLEMENTED,
            format!("Unsupported call type {}", other.as_str_name()),
        ),
        None => api::error(StatusCode::BAD_REQUEST, "Expecting 'type' to be present"),
    }
}

/// `Http::pruneImages` (Mesos's src/slave/http.cpp): the call's `excluded_images` and
/// `--image_gc_config`'s are kept, everything else no container uses is removed
/// (containerizer/provisioner); 200 with an empty body. An excluded image that is not a
/// valid docker name is a 400 and nothing is removed; without `--image_providers` there is
/// no store and nothing to remove (200, as Mesos's containerizer without a provisioner).
async fn prune_images(
    agent: &AgentHandle,
    authorizer: &Authorizer,
    who: &Who,
    call: v1::agent::call::PruneImages,
) -> Response {
    if !authorizer.is_allowed(Action::PruneImages, who.subject(), Object::Any) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let mut excluded = Vec::new();
    for image in &call.excluded_images {
        // Only docker images are stored here; others are ignored, as Mesos's docker store
        // ignores them.
        if image.r#type != v1::image::Type::Docker as i32 {
            continue;
        }
        let Some(docker) = &image.docker else {
            return api::error(
                StatusCode::BAD_REQUEST,
                "Expecting 'docker' to be present in a DOCKER image",
            );
        };
        if let Err(e) = super::containerizer::provisioner::Reference::parse(&docker.name) {
            return api::error(StatusCode::BAD_REQUEST, e.to_string());
        }
        excluded.push(docker.name.clone());
    }
    tracing::info!(excluded = excluded.len(), "processing PRUNE_IMAGES call");
    let provisioner = match agent.provisioner().await {
        Ok(Some(p)) => p,
        Ok(None) => return StatusCode::OK.into_response(),
        Err(_) => return gone(),
    };
    match tokio::task::spawn_blocking(move || provisioner.gc(true, &excluded)).await {
        Ok(removed) => {
            tracing::info!(removed, "PRUNE_IMAGES removed unused layers");
            StatusCode::OK.into_response()
        }
        Err(e) => api::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn files_error(e: super::files::FilesError) -> Response {
    let status = e.status();
    api::error(status, e.to_string().trim_end().to_string())
}

type ContainerSnapshot = (
    v1::agent::response::get_containers::Container,
    Option<u32>,
    super::isolator::Limits,
    super::isolator::Isolation,
);

/// The live containers `v` may see (`view_containers`), with what their usage needs (read
/// inside the agent's actor).
fn containers_snapshot(a: &Agent, v: Viewer<'_>) -> Vec<ContainerSnapshot> {
    a.frameworks
        .iter()
        .flat_map(|(fid, f)| f.executors.values().map(move |e| (fid, f, e)))
        .filter(|(_, _, e)| e.state != super::ExecutorState::Terminated)
        .filter(|(_, f, e)| v.container(&e.info, &f.info))
        .map(|(fid, _, e)| {
            (
                v1::agent::response::get_containers::Container {
                    framework_id: Some(v1::FrameworkId { value: fid.clone() }),
                    executor_id: Some(e.info.executor_id.clone()),
                    executor_name: e.info.name.clone(),
                    container_id: v1::ContainerId {
                        value: e.container_id.clone(),
                        parent: None,
                    },
                    container_status: Some(super::container_status(e)),
                    resource_statistics: None,
                },
                e.pid,
                e.limits,
                a.config.isolation.clone(),
            )
        })
        .collect()
}

/// GET_CONTAINERS' `show_nested` (containers nested under a visible executor's, named
/// `<parent>.<child>` by their `ContainerID`, with their executor's ids) and
/// `show_standalone` (standalone containers; `view_standalone_containers` is not one of
/// the local authorizer's actions here, so `view_containers` on their user decides),
/// as Mesos's `Http::_containers` lists them. Usage comes from their own process group.
fn nested_snapshot(
    a: &Agent,
    (v, subject): (Viewer<'_>, Subject<'_>),
    registry: &super::nested::Containers,
    show_nested: bool,
    show_standalone: bool,
) -> Vec<ContainerSnapshot> {
    if !show_nested && !show_standalone {
        return Vec::new();
    }
    registry
        .live()
        .into_iter()
        .filter(|c| match &c.parent {
            Some(p) => show_nested && v.container(&p.executor, &p.framework),
            None => {
                show_standalone
                    && a.config.authorizer.is_allowed(
                        Action::ViewContainer,
                        subject,
                        Object::Value(&c.user),
                    )
            }
        })
        .map(|c| {
            let parent = c.parent.as_ref();
            (
                v1::agent::response::get_containers::Container {
                    framework_id: parent.and_then(|p| p.executor.framework_id.clone()),
                    executor_id: parent.map(|p| p.executor.executor_id.clone()),
                    executor_name: parent.and_then(|p| p.executor.name.clone()),
                    container_id: c.id.clone(),
                    container_status: Some(v1::ContainerStatus {
                        container_id: Some(c.id.clone()),
                        executor_pid: Some(c.pid),
                        ..Default::default()
                    }),
                    resource_statistics: None,
                },
                Some(c.pid),
                super::isolator::Limits::default(),
                super::isolator::Isolation::default(),
            )
        })
        .collect()
}

/// Fills in each container's `resource_statistics` (posix: /proc over the executor's
/// session; cgroups: the container's cgroups).
fn with_usage(
    containers: Vec<ContainerSnapshot>,
) -> Vec<v1::agent::response::get_containers::Container> {
    let now = super::runtime::now().wall;
    containers
        .into_iter()
        .map(|(mut c, pid, limits, isolation)| {
            c.resource_statistics = Some(isolation.usage(&c.container_id.value, pid, limits, now));
            c
        })
        .collect()
}

/// Answers an operator call with a response computed inside the agent actor.
async fn read_response(
    agent: &AgentHandle,
    accept: api::Format,
    f: impl FnOnce(&Agent) -> v1::agent::Response + Send + 'static,
) -> Response {
    match agent.read(f).await {
        Ok(r) => api::ok(accept, &r),
        Err(_) => gone(),
    }
}

fn get_tasks(a: &Agent, v: Viewer<'_>) -> v1::agent::response::GetTasks {
    let mut out = v1::agent::response::GetTasks::default();
    let history = a.frameworks.values().chain(a.completed_frameworks.iter());
    for f in history.clone().filter(|f| v.framework(&f.info)) {
        for e in &f.completed_executors {
            let seen = |t: &&v1::Task| v.task(t, &f.info);
            out.completed_tasks
                .extend(e.completed.iter().filter(seen).cloned());
        }
    }
    for f in a.frameworks.values().filter(|f| v.framework(&f.info)) {
        let seen = |t: &&v1::Task| v.task(t, &f.info);
        for e in f.executors.values() {
            out.launched_tasks
                .extend(e.tasks.values().filter(seen).cloned());
            out.completed_tasks
                .extend(e.completed.iter().filter(seen).cloned());
            out.queued_tasks.extend(e.queued.iter().map(|t| v1::Task {
                name: t.name.clone(),
                task_id: t.task_id.clone(),
                framework_id: f.info.id.clone().unwrap_or_default(),
                agent_id: v1::AgentId {
                    value: a.id.clone().unwrap_or_default(),
                },
                state: v1::TaskState::TaskStaging as i32,
                resources: t.resources.clone(),
                ..Default::default()
            }));
        }
    }
    out
}

fn get_executors(a: &Agent, v: Viewer<'_>) -> v1::agent::response::GetExecutors {
    let mut out = v1::agent::response::GetExecutors::default();
    let history = a.frameworks.values().chain(a.completed_frameworks.iter());
    for f in history.filter(|f| v.framework(&f.info)) {
        for e in f
            .completed_executors
            .iter()
            .filter(|e| v.executor(&e.info, &f.info))
        {
            out.completed_executors
                .push(v1::agent::response::get_executors::Executor {
                    executor_info: e.info.clone(),
                });
        }
    }
    for f in a.frameworks.values().filter(|f| v.framework(&f.info)) {
        for e in f
            .executors
            .values()
            .filter(|e| v.executor(&e.info, &f.info))
        {
            let executor = v1::agent::response::get_executors::Executor {
                executor_info: e.info.clone(),
            };
            if e.state == super::ExecutorState::Terminated {
                out.completed_executors.push(executor);
            } else {
                out.executors.push(executor);
            }
        }
    }
    out
}

fn get_frameworks(a: &Agent, v: Viewer<'_>) -> v1::agent::response::GetFrameworks {
    v1::agent::response::GetFrameworks {
        frameworks: a
            .frameworks
            .values()
            .filter(|f| v.framework(&f.info))
            .map(|f| v1::agent::response::get_frameworks::Framework {
                framework_info: f.info.clone(),
            })
            .collect(),
        completed_frameworks: a
            .completed_frameworks
            .iter()
            .filter(|f| v.framework(&f.info))
            .map(|f| v1::agent::response::get_frameworks::Framework {
                framework_info: f.info.clone(),
            })
            .collect(),
    }
}

async fn state(State(agent): State<AgentHandle>, caller: Who) -> Response {
    let who = caller;
    let read = move |a: &Agent| state_json_for(a, a.config.authorizer.viewer(who.subject()));
    match agent.read(read).await {
        Ok(v) => api::json_ok(&v),
        Err(_) => gone(),
    }
}

/// `/flags`: `view_flags`, 403 otherwise (Mesos's `Slave::Http::flags`).
async fn flags(State(agent): State<AgentHandle>, caller: Who) -> Response {
    let who = caller;
    let read = move |a: &Agent| {
        a.config
            .authorizer
            .viewer(who.subject())
            .flags()
            .then(|| flags_json(a))
    };
    match agent.read(read).await {
        Ok(Some(v)) => api::json_ok(&json!({ "flags": v })),
        Ok(None) => StatusCode::FORBIDDEN.into_response(),
        Err(_) => gone(),
    }
}

/// 200 while the agent actor serves; 503 once it has ended (a panic, the process is about
/// to exit: crate::supervisor).
async fn health(State(agent): State<AgentHandle>) -> Response {
    if !agent.is_serving() {
        return gone();
    }
    StatusCode::OK.into_response()
}

async fn version() -> Response {
    api::json_ok(&remesos_proto::json::to_value(
        &crate::common::version::version_info(),
    ))
}

/// The check Mesos's agent makes for `/containers` and `/monitor/statistics`
/// (`Http::containers`, `Http::statistics` in src/slave/http.cpp): `get_endpoints` on
/// `endpoint` (the canonical path, one of `acls::AUTHORIZABLE_ENDPOINTS`), else the `403`
/// to answer at once; then the [`Viewer`] whose [`Viewer::container`] tells, per executor's
/// container, whether `subject` may see it (`view_containers`: the executor's command
/// user, else the framework's). Mesos filters `/containers` that way (`__containers`);
/// its `/monitor/statistics` lists every executor once the endpoint is allowed, which
/// lets a principal read the usage of containers it may not view: filter both.
///
/// ```ignore
/// let viewer = match authorize_containers_endpoint(&a.config.authorizer, who.subject(), "/containers") {
///     Ok(viewer) => viewer,
///     Err(forbidden) => return forbidden.into_response(),
/// };
/// ... .filter(|(f, e)| viewer.container(&e.info, &f.info))
/// ```
pub fn authorize_containers_endpoint<'a>(
    authorizer: &'a Authorizer,
    subject: impl Into<Subject<'a>>,
    endpoint: &str,
) -> Result<Viewer<'a>, Forbidden> {
    debug_assert!(crate::security::acls::AUTHORIZABLE_ENDPOINTS.contains(&endpoint));
    let subject = subject.into();
    if authorizer.is_allowed(Action::GetEndpoint, subject, Object::Value(endpoint)) {
        Ok(authorizer.viewer(subject))
    } else {
        Err(Forbidden)
    }
}

/// A request the ACLs deny: Mesos's `Forbidden()`, `403` without a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forbidden;

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        StatusCode::FORBIDDEN.into_response()
    }
}

/// `/metrics/snapshot`: `get_endpoints` on the path, 403 otherwise.
async fn metrics(State(agent): State<AgentHandle>, caller: Who) -> Response {
    let who = caller;
    let read = move |a: &Agent| {
        let endpoint = Object::Value("/metrics/snapshot");
        a.config
            .authorizer
            .is_allowed(Action::GetEndpoint, who.subject(), endpoint)
            .then(|| metrics_map(a))
    };
    match agent.read(read).await {
        Ok(Some(m)) => api::json_ok(&Value::Object(
            m.into_iter().map(|(k, v)| (k, json!(v))).collect(),
        )),
        Ok(None) => StatusCode::FORBIDDEN.into_response(),
        Err(_) => gone(),
    }
}

fn flags_json(a: &Agent) -> Value {
    Value::Object(
        a.config
            .flags
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect(),
    )
}

/// Mesos's `slave/*` metric names (reference §6).
pub fn metrics_map(a: &Agent) -> Vec<(String, f64)> {
    let mut used = Resources::default();
    let mut running = 0.0;
    let mut registering = 0.0;
    let mut terminating = 0.0;
    let mut tasks_running = 0.0;
    let mut tasks_staging = 0.0;
    let mut tasks_starting = 0.0;
    for f in a.frameworks.values() {
        for e in f.executors.values() {
            match e.state {
                super::ExecutorState::Registering => registering += 1.0,
                super::ExecutorState::Running => running += 1.0,
                super::ExecutorState::Terminating => terminating += 1.0,
                super::ExecutorState::Terminated => {}
            }
            tasks_staging += e.queued.len() as f64;
            for t in e.tasks.values() {
                match v1::TaskState::try_from(t.state) {
                    Ok(v1::TaskState::TaskRunning) => tasks_running += 1.0,
                    Ok(v1::TaskState::TaskStarting) => tasks_starting += 1.0,
                    _ => tasks_staging += 1.0,
                }
                used += &Resources::from_valid_protos(t.resources.clone());
            }
        }
    }
    let total = Resources::from_valid_protos(a.info.resources.clone());
    let c = &a.counters;
    let mut m = vec![
        (
            "slave/registered".to_string(),
            if a.updates.connected { 1.0 } else { 0.0 },
        ),
        (
            "slave/uptime_secs".to_string(),
            (super::runtime::now().wall - a.start_time).max(0.0),
        ),
        ("slave/executors_registering".to_string(), registering),
        ("slave/executors_running".to_string(), running),
        ("slave/executors_terminating".to_string(), terminating),
        (
            "slave/executors_terminated".to_string(),
            c.executors_terminated as f64,
        ),
        ("slave/tasks_staging".to_string(), tasks_staging),
        ("slave/tasks_starting".to_string(), tasks_starting),
        ("slave/tasks_running".to_string(), tasks_running),
        ("slave/tasks_finished".to_string(), c.tasks_finished as f64),
        ("slave/tasks_failed".to_string(), c.tasks_failed as f64),
        ("slave/tasks_killed".to_string(), c.tasks_killed as f64),
        ("slave/tasks_lost".to_string(), c.tasks_lost as f64),
        (
            "slave/valid_status_updates".to_string(),
            c.valid_status_updates as f64,
        ),
        (
            "slave/invalid_status_updates".to_string(),
            c.invalid_status_updates as f64,
        ),
        (
            "slave/valid_framework_messages".to_string(),
            c.valid_framework_messages as f64,
        ),
        (
            "slave/invalid_framework_messages".to_string(),
            c.invalid_framework_messages as f64,
        ),
        (
            "slave/container_launch_errors".to_string(),
            c.container_launch_errors as f64,
        ),
    ];
    // Mesos's FetcherProcess::Metrics (src/slave/containerizer/fetcher.cpp).
    m.extend(a.config.fetcher_cache.metrics());
    // Mesos's GarbageCollectorProcess::Metrics (src/slave/gc.cpp).
    m.push((
        "gc/path_removals_succeeded".to_string(),
        a.gc.succeeded as f64,
    ));
    m.push(("gc/path_removals_failed".to_string(), a.gc.failed as f64));
    m.push((
        "gc/path_removals_pending".to_string(),
        a.gc.pending() as f64,
    ));
    for name in ["cpus", "mem", "disk", "gpus"] {
        let t = total.scalar(name);
        let u = used.unallocated().scalar(name);
        m.push((format!("slave/{name}_total"), t));
        m.push((format!("slave/{name}_used"), u));
        m.push((
            format!("slave/{name}_percent"),
            if t > 0.0 { u / t } else { 0.0 },
        ));
    }
    m
}

/// `/state` in the shape Mesos's agent serves (`src/slave/http.cpp`).
pub fn state_json(a: &Agent) -> Value {
    state_json_for(a, Viewer::everything())
}

/// `/state` as `v` may see it: frameworks by `view_frameworks`, their executors by
/// `view_executors` and tasks by `view_tasks`, `flags` by `view_flags`.
pub fn state_json_for(a: &Agent, v: Viewer<'_>) -> Value {
    let mut o = Map::new();
    o.insert("version".into(), json!(MESOS_VERSION));
    o.insert("build_user".into(), json!("remesos"));
    o.insert("start_time".into(), json!(a.start_time));
    o.insert("id".into(), json!(a.id.clone().unwrap_or_default()));
    o.insert("pid".into(), json!(a.pid()));
    o.insert("hostname".into(), json!(a.config.hostname));
    let total = Resources::from_valid_protos(a.info.resources.clone());
    o.insert("resources".into(), Value::Object(total.to_json_map()));
    o.insert("attributes".into(), attributes_json(&a.info.attributes));
    if let Some(m) = &a.master {
        o.insert(
            "master_hostname".into(),
            json!(m.hostname.clone().unwrap_or_default()),
        );
    }
    if v.flags() {
        o.insert("flags".into(), flags_json(a));
    }
    let frameworks: Vec<Value> = a
        .frameworks
        .values()
        .filter(|f| v.framework(&f.info))
        .map(|f| framework_json(f, v))
        .collect();
    o.insert("frameworks".into(), Value::Array(frameworks));
    let completed: Vec<Value> = a
        .completed_frameworks
        .iter()
        .filter(|f| v.framework(&f.info))
        .map(|f| framework_json(f, v))
        .collect();
    o.insert("completed_frameworks".into(), Value::Array(completed));
    Value::Object(o)
}

fn framework_json(f: &super::Framework, v: Viewer<'_>) -> Value {
    let fid = f
        .info
        .id
        .as_ref()
        .map(|i| i.value.clone())
        .unwrap_or_default();
    let executors: Vec<Value> = f
        .executors
        .values()
        .filter(|e| e.state != super::ExecutorState::Terminated)
        .filter(|e| v.executor(&e.info, &f.info))
        .map(|e| executor_json(&fid, e, |t| v.task(t, &f.info)))
        .collect();
    let completed: Vec<Value> = f
        .executors
        .values()
        .filter(|e| e.state == super::ExecutorState::Terminated)
        .chain(f.completed_executors.iter())
        .filter(|e| v.executor(&e.info, &f.info))
        .map(|e| executor_json(&fid, e, |t| v.task(t, &f.info)))
        .collect();
    json!({
        "id": fid,
        "name": f.info.name,
        "user": f.info.user,
        "failover_timeout": f.info.failover_timeout.unwrap_or(0.0),
        "checkpoint": f.info.checkpoint.unwrap_or(false),
        "hostname": f.info.hostname.clone().unwrap_or_default(),
        "executors": executors,
        "completed_executors": completed,
    })
}

fn executor_json(
    framework_id: &str,
    e: &super::Executor,
    seen: impl Fn(&v1::Task) -> bool,
) -> Value {
    let resources = Resources::from_valid_protos(e.info.resources.clone());
    json!({
        "id": e.info.executor_id.value,
        "name": e.info.name.clone().unwrap_or_default(),
        "source": e.info.source.clone().unwrap_or_default(),
        "framework_id": framework_id,
        "container": e.container_id,
        "directory": e.sandbox.display().to_string(),
        "state": e.state.name(),
        "resources": Value::Object(resources.to_json_map()),
        "tasks": e.tasks.values().filter(|t| seen(t)).map(task_json).collect::<Vec<_>>(),
        "queued_tasks": e.queued.iter().map(|t| json!({"id": t.task_id.value, "name": t.name})).collect::<Vec<_>>(),
        "completed_tasks": e.completed.iter().filter(|t| seen(t)).map(task_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_this_hosts_addresses_are_local() {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        assert!(super::is_local_address(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(super::is_local_address(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert!(super::is_local_address(
            "::ffff:127.0.0.1".parse::<IpAddr>().unwrap()
        ));
        // TEST-NET-3 (RFC 5737): never assigned to a host.
        assert!(!super::is_local_address("203.0.113.7".parse().unwrap()));
    }

    /// slave/http.cpp `containers`/`statistics` then `__containers`: `get_endpoints` on
    /// the path first (403), then `view_containers` per container on the executor's user,
    /// else the framework's.
    #[test]
    fn containers_endpoints_need_get_endpoints_then_filter_by_view_containers() {
        use super::{Forbidden, authorize_containers_endpoint};
        use crate::security::authorizer::{Authorizer, Principal};
        use remesos_proto::v1;
        let acls = crate::security::acls::parse(
            serde_json::json!({"permissive": false,
                "get_endpoints": [
                    {"principals": {"values": ["ops", "alice"]}, "paths": {"values": ["/containers"]}}
                ],
                "view_containers": [
                    {"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
                    {"principals": {"values": ["alice"]}, "users": {"values": ["alice"]}}
                ]
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let authorizer = Authorizer::new(&acls);
        let (ops, alice, bob) = (
            Principal::new("ops").unwrap(),
            Principal::new("alice").unwrap(),
            Principal::new("bob").unwrap(),
        );
        let framework = v1::FrameworkInfo {
            user: "alice".into(),
            ..Default::default()
        };
        let mut executor = v1::ExecutorInfo::default();
        for denied in [Some(&bob), None] {
            let refused = authorize_containers_endpoint(&authorizer, denied, "/containers");
            assert_eq!(refused.err(), Some(Forbidden));
        }
        let refused = authorize_containers_endpoint(&authorizer, Some(&ops), "/monitor/statistics");
        assert_eq!(refused.err(), Some(Forbidden));
        let ops_view =
            authorize_containers_endpoint(&authorizer, Some(&ops), "/containers").unwrap();
        let alice_view =
            authorize_containers_endpoint(&authorizer, Some(&alice), "/containers").unwrap();
        assert!(ops_view.container(&executor, &framework));
        assert!(alice_view.container(&executor, &framework));
        // The executor's own user wins over the framework's.
        executor.command = Some(v1::CommandInfo {
            user: Some("root".into()),
            ..Default::default()
        });
        assert!(ops_view.container(&executor, &framework));
        assert!(!alice_view.container(&executor, &framework));
    }
}
