//! The master's HTTP surface: the v1 scheduler API (`scheduler.rs`), the v1 operator API
//! and the JSON endpoints tools read (`operator.rs`), on one port that also carries the
//! agents' gRPC service (DESIGN.md §2: one port for HTTP/1.1 and h2c).
//!
//! A request with an `application/grpc*` content type goes to the gRPC service; any other
//! is routed with libprocess's rules (`routing.rs`: delegation to the `master` process,
//! trailing `/` stripped, longest route prefix, 404 otherwise) to one endpoint, whose
//! handler is found under its canonical path (`/master/state`, `/metrics/snapshot`,
//! `/version`, `/files/browse`, ...). A master that does not lead serves some endpoints
//! itself and redirects the others (`routing.rs` has the table, `standby.rs` the answers).
//! The web UI's files are served at `/` by every master (`webui.rs`); the leader proxies the
//! UI's sandbox calls to agents (`sandbox.rs`).

mod authn;
mod operator;
mod routing;
mod sandbox;
mod scheduler;
mod standby;
pub mod webui;

pub use authn::{Authentication, DRIVER_HEADER};
pub use standby::Snapshot;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tower::ServiceExt;

use super::runtime::MasterHandle;
use routing::{Process, Standby, Target};

/// The leading master's router, without the processes that `cli` composes beside it (see
/// [`router_with`]).
pub fn router(master: MasterHandle) -> Router {
    router_with(master, Router::new(), Authentication::default())
}

/// The leading master's router. `processes` serves the endpoints of libprocess processes
/// that are not the master's, under their canonical paths (`/files/*` over an empty files
/// registry, `/logging/toggle`): `cli` builds it, as `files` lives with the agent and the
/// master may not depend on it (DESIGN.md §1). Every HTTP request is authenticated first, as
/// `authn` says (authn.rs).
pub fn router_with(master: MasterHandle, processes: Router, authn: Authentication) -> Router {
    let routes = Router::new()
        .route("/master/api/v1/scheduler", any(scheduler::scheduler))
        .route("/master/api/v1", any(operator::api))
        .route("/master/state", any(operator::state))
        .route("/master/state.json", any(operator::state))
        .route("/master/state-summary", any(operator::state_summary))
        .route("/master/frameworks", any(operator::frameworks))
        .route("/master/slaves", any(operator::slaves))
        .route("/master/tasks", any(operator::tasks))
        .route("/master/tasks.json", any(operator::tasks))
        .route("/master/roles", any(operator::roles))
        .route("/master/roles.json", any(operator::roles))
        .route("/master/weights", any(operator::weights))
        .route("/master/quota", any(operator::quota))
        .route("/master/flags", any(operator::flags))
        .route("/master/health", any(operator::health))
        .route("/master/redirect", any(operator::redirect))
        .route("/master/teardown", any(operator::teardown))
        .route(
            "/master/maintenance/schedule",
            any(operator::maintenance_schedule),
        )
        .route(
            "/master/maintenance/status",
            any(operator::maintenance_status),
        )
        .route("/master/machine/down", any(operator::machine_down))
        .route("/master/machine/up", any(operator::machine_up))
        .route("/master/reserve", any(operator::reserve))
        .route("/master/unreserve", any(operator::unreserve))
        .route("/master/create-volumes", any(operator::create_volumes))
        .route("/master/destroy-volumes", any(operator::destroy_volumes))
        .route("/metrics/snapshot", any(operator::metrics))
        .route("/metrics", any(operator::prometheus))
        .route("/version", any(operator::version))
        .route("/agent/{agent_id}/files/{endpoint}", any(sandbox::files))
        .with_state(master.clone())
        .merge(processes);
    let http = libprocess(routes);
    let master_for_timing = master.clone();
    let grpc = tonic::service::Routes::new(super::service::server(master, authn.agents.clone()))
        .into_axum_router();
    let authn = std::sync::Arc::new(authn);
    Router::new().fallback(move |mut request: Request| {
        let (http, grpc, authn) = (http.clone(), grpc.clone(), authn.clone());
        let master = master_for_timing.clone();
        async move {
            if is_grpc(&request) {
                if let Err(refused) = authn.authenticate(&mut request) {
                    return refused.into_response();
                }
                return match grpc.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
            }
            let started = tokio::time::Instant::now();
            let endpoint = endpoint_template(request.uri().path());
            let method = request.method().clone();
            let peer = crate::api::peer_of(&request);
            let mut principal = None;
            let response = match authn.authenticate(&mut request) {
                Err(refused) => refused.into_response(),
                Ok(()) => {
                    principal = request
                        .extensions()
                        .get::<crate::security::Principal>()
                        .cloned();
                    match http.oneshot(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                }
            };
            let took = started.elapsed();
            master.histograms().http.observe(&endpoint, took);
            crate::api::access_log(
                &method,
                &endpoint,
                response.status(),
                took,
                peer,
                principal.as_ref(),
            );
            response
        }
    })
}

/// The route template a request is counted under: its endpoint's canonical path
/// (`/state` and `/master/state/` are both `/master/state`), or `other`.
fn endpoint_template(path: &str) -> String {
    match routing::resolve(path) {
        Target::Endpoint { process, name, .. } => Target::canonical(process, name),
        Target::WebUi => "/".to_string(),
        _ => crate::common::metrics::HistogramVec::OTHER.to_string(),
    }
}

/// Every route template of the master's port: the canonical path of each endpoint of each
/// process, and `/` for the web UI (the label values of the HTTP histogram).
pub fn endpoint_templates() -> Vec<String> {
    Process::all()
        .map(|(process, name)| Target::canonical(process, name))
        .chain(["/".to_string()])
        .collect()
}

/// `routes` (canonical paths only) behind libprocess's routing, with the body limits of
/// the HTTP APIs.
fn libprocess(routes: Router) -> Router {
    let routes = routes
        .fallback(|| async { not_found() })
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::api::MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn(crate::api::refuse_oversized));
    Router::new().fallback(move |mut request: Request| {
        let routes = routes.clone();
        async move {
            match routing::resolve(request.uri().path()) {
                Target::Endpoint {
                    process: Process::Master,
                    name: "redirect",
                    path,
                } if routing::redirect_rule(&path) == Standby::NotFound => not_found(),
                Target::Endpoint {
                    process,
                    name,
                    path,
                } => {
                    request.extensions_mut().insert(DelegatedPath(path));
                    forward(routes, request, process, name).await
                }
                // Served under its own path (`/agent/{agent_id}/files/{endpoint}`).
                Target::AgentFiles { .. } => match routes.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
                other => unrouted(other, &request),
            }
        }
    })
}

/// The path a request was sent to, after delegation to its process (`/quota/r` →
/// `/master/quota/r`), for handlers that read more of it than the endpoint's name.
#[derive(Clone, Debug)]
pub struct DelegatedPath(pub String);

/// Hands `request` to `routes` under the endpoint's canonical path, query kept.
async fn forward(routes: Router, mut request: Request, process: Process, name: &str) -> Response {
    let mut target = Target::canonical(process, name);
    if let Some(query) = request.uri().query() {
        target.push('?');
        target.push_str(query);
    }
    let Ok(uri) = axum::http::Uri::try_from(target) else {
        return crate::api::error(StatusCode::BAD_REQUEST, "Malformed request URL");
    };
    *request.uri_mut() = uri;
    match routes.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The answer for a path no endpoint serves: the web UI's files, or an error.
fn unrouted(target: Target, request: &Request) -> Response {
    match target {
        Target::WebUi => webui::serve(request.method(), request.headers(), request.uri().path()),
        Target::BadPath => crate::api::error(
            StatusCode::BAD_REQUEST,
            "Request URL path must start with '/'",
        ),
        Target::Endpoint { .. } | Target::AgentFiles { .. } | Target::NotFound => not_found(),
    }
}

/// libprocess's `NotFound()`: a status, no body.
fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// What a master started with `--zk` serves, as the election goes.
#[derive(Clone)]
pub enum Role {
    /// Not leading: the leader's MasterInfo, or `None` while nobody leads.
    Standby(Option<Box<remesos_proto::v1::MasterInfo>>),
    /// Elected, recovering the registry: HTTP gets Mesos's `503 Master has not finished
    /// recovery`; agents' gRPC sessions wait and are served once it leads (every agent
    /// reregisters in that moment after a failover; retrying would only slow recovery).
    Recovering,
    /// Leading: every route of [`router`].
    Leading(Router),
}

/// The router of a contending master: the full master once it leads; before that, Mesos's
/// answers for a master that does not lead (`routing.rs`): the other processes' endpoints,
/// `/master/health` and `/master/flags` answered from `snapshot`; the master's other
/// endpoints `307 Temporary Redirect` to the leader with a protocol-relative `Location`,
/// `503` while no leader is elected, `503 Master has not finished recovery` while this one
/// recovers. Agents' gRPC sessions get `503` from a standby (they re-detect the leader) and
/// wait while the master recovers (see [`Role::Recovering`]). HTTP requests are
/// authenticated before any of this, as on the leader (authn.rs).
pub fn contender_router(
    role: tokio::sync::watch::Receiver<Role>,
    snapshot: Snapshot,
    processes: Router,
    authn: Authentication,
) -> Router {
    let snapshot = std::sync::Arc::new(snapshot);
    let standby = standby::routes(snapshot.clone(), false, processes.clone());
    let recovering = standby::routes(snapshot, true, processes);
    let authn = std::sync::Arc::new(authn);
    Router::new().fallback(move |mut request: Request| {
        let mut role = role.clone();
        let (standby, recovering, authn) = (standby.clone(), recovering.clone(), authn.clone());
        async move {
            if let Err(refused) = authn.authenticate(&mut request) {
                return refused.into_response();
            }
            loop {
                let current = role.borrow_and_update().clone();
                match current {
                    Role::Leading(router) => {
                        return match router.oneshot(request).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        };
                    }
                    Role::Standby(_) if is_grpc(&request) => {
                        return unavailable("No leader elected");
                    }
                    Role::Recovering if is_grpc(&request) => {
                        if role.changed().await.is_err() {
                            return unavailable("the master is shutting down");
                        }
                    }
                    Role::Standby(leader) => {
                        return not_leading(leader.as_deref(), standby, request).await;
                    }
                    Role::Recovering => return recovering_http(recovering, request).await,
                }
            }
        }
    })
}

fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

fn unavailable(message: &str) -> Response {
    crate::api::error(StatusCode::SERVICE_UNAVAILABLE, message)
}

/// A standby's HTTP answers (`routing.rs`'s table); `local` serves what it serves itself.
async fn not_leading(
    leader: Option<&remesos_proto::v1::MasterInfo>,
    local: Router,
    request: Request,
) -> Response {
    let to_root = match routing::resolve(request.uri().path()) {
        Target::Endpoint {
            process,
            name,
            path,
        } => match routing::standby(process, name, &path) {
            Standby::Serve => return forward(local, request, process, name).await,
            Standby::NotFound => return not_found(),
            Standby::RedirectToRoot => true,
            Standby::Redirect => false,
        },
        // Only the leader knows the agents.
        Target::AgentFiles { .. } => false,
        other => return unrouted(other, &request),
    };
    let Some(leader) = leader else {
        return unavailable("No leader elected");
    };
    let host = leader
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| std::net::Ipv4Addr::from(leader.ip.to_le_bytes()).to_string());
    // `/redirect` goes to the leader's root; anything else to the same path there.
    let mut location = format!("//{host}:{}", leader.port);
    if !to_root {
        location.push_str(request.uri().path());
        if let Some(q) = request.uri().query() {
            location.push('?');
            location.push_str(q);
        }
    }
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, v);
    }
    response
}

/// An elected master recovering its registry: the master's endpoints wait for it (503),
/// the other processes serve as on a standby.
async fn recovering_http(local: Router, request: Request) -> Response {
    match routing::resolve(request.uri().path()) {
        Target::Endpoint {
            process,
            name,
            path,
        } => match routing::standby(process, name, &path) {
            Standby::Serve => forward(local, request, process, name).await,
            _ => unavailable("Master has not finished recovery"),
        },
        Target::AgentFiles { .. } => unavailable("Master has not finished recovery"),
        other => unrouted(other, &request),
    }
}
