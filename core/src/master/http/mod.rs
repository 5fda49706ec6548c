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
