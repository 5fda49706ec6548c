//! The master's HTTP surface: the v1 scheduler API (`scheduler.rs`), the v1 operator API
//! and the JSON endpoints tools read (`operator.rs`), on one axum router that also carries
//! the agents' gRPC service (DESIGN.md §2: one port for HTTP/1.1 and h2c).

mod operator;
mod scheduler;

pub use operator::version_info;

use axum::Router;
use axum::routing::any;

use super::runtime::MasterHandle;

/// Every master route, each also under the `/master` prefix (the master's libprocess id).
pub fn router(master: MasterHandle) -> Router {
    let routes = Router::new()
        .route("/api/v1/scheduler", any(scheduler::scheduler))
        .route("/api/v1", any(operator::api))
        .route("/state", any(operator::state))
        .route("/state.json", any(operator::state))
        .route("/state-summary", any(operator::state_summary))
        .route("/frameworks", any(operator::frameworks))
        .route("/slaves", any(operator::slaves))
        .route("/tasks", any(operator::tasks))
        .route("/tasks.json", any(operator::tasks))
        .route("/roles", any(operator::roles))
        .route("/roles.json", any(operator::roles))
        .route("/weights", any(operator::weights))
        .route("/flags", any(operator::flags))
        .route("/health", any(operator::health))
        .route("/redirect", any(operator::redirect))
        .route("/teardown", any(operator::teardown))
        .route("/maintenance/schedule", any(operator::maintenance_schedule))
        .route("/maintenance/status", any(operator::maintenance_status))
        .route("/machine/down", any(operator::machine_down))
        .route("/machine/up", any(operator::machine_up))
        .with_state(master.clone());
    let top = Router::new()
        .route("/metrics/snapshot", any(operator::metrics))
        .route("/version", any(operator::version))
        .with_state(master.clone());
    let grpc = tonic::service::Routes::new(super::service::server(master)).into_axum_router();
    Router::new()
        .nest("/master", routes.clone())
        .merge(routes)
        .merge(top)
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::api::MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn(crate::api::refuse_oversized))
        .merge(grpc)
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
/// answers for a non-leading master (reference §3.1): `307 Temporary Redirect` to the
/// leader with a protocol-relative `Location`, `503` while no leader is elected, and
/// `/health` and `/version` answered locally. Agents' gRPC sessions get `503` from a
/// standby (they re-detect the leader) and wait while the master recovers (see
/// [`Role::Recovering`]).
pub fn contender_router(role: tokio::sync::watch::Receiver<Role>) -> Router {
    Router::new().fallback(move |request: axum::extract::Request| {
        let mut role = role.clone();
        async move {
            use tower::ServiceExt;
            loop {
                let current = role.borrow_and_update().clone();
                match current {
                    Role::Leading(router) => {
                        return match router.oneshot(request).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        };
                    }
                    Role::Standby(leader) => return standby(leader.as_deref(), &request),
                    Role::Recovering if is_grpc(&request) => {
                        if role.changed().await.is_err() {
                            return unavailable("the master is shutting down");
                        }
                    }
                    Role::Recovering => {
                        return unavailable("Master has not finished recovery");
                    }
                }
            }
        }
    })
}

fn is_grpc(request: &axum::extract::Request) -> bool {
    request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

fn unavailable(message: &str) -> axum::response::Response {
    crate::api::error(axum::http::StatusCode::SERVICE_UNAVAILABLE, message)
}

fn standby(
    leader: Option<&remesos_proto::v1::MasterInfo>,
    request: &axum::extract::Request,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let path = request.uri().path();
    let local = path.strip_prefix("/master").unwrap_or(path);
    if local == "/health" {
        return StatusCode::OK.into_response();
    }
    let Some(leader) = leader.filter(|_| !is_grpc(request)) else {
        return unavailable("No leader elected");
    };
    let host = leader
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| std::net::Ipv4Addr::from(leader.ip.to_le_bytes()).to_string());
    // `/redirect` goes to the leader's root; anything else to the same path there.
    let mut location = format!("//{host}:{}", leader.port);
    if local != "/redirect" {
        location.push_str(path);
        if let Some(q) = request.uri().query() {
            location.push('?');
            location.push_str(q);
        }
    }
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}
