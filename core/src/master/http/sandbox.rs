//! The master's proxy to an agent's `/files`: `/agent/<agent id>/files/<endpoint>?<query>`
//! is answered by `<agent>/files/<endpoint>?<query>` (`browse`, `read`, `download` and their
//! `.json` aliases, `src/files/files.cpp`). The web UI browses, reads, tails and downloads
//! sandboxes through it.
//!
//! Mesos's UI talks to each agent directly (`src/webui/app/controllers.js` builds
//! `//<agent host>:<port>/files/...` URLs and the agent answers with CORS/JSONP). We proxy
//! instead, so that:
//! - the page connects only to its own origin (its `Content-Security-Policy` says
//!   `connect-src 'self'`, webui.rs), and agents need no CORS or JSONP;
//! - the browser asks for credentials once, for the master, and not once per agent;
//! - agents on a network the browser cannot reach can still be browsed.
//!
//! The agent still decides who may read what: the request's `Authorization` header is
//! passed on unchanged (and nothing else of the browser's), so the agent authenticates the
//! user in its own realm and applies `access_sandboxes` to that principal, exactly as if
//! the browser had called it. The agent's answer (`401`, `403`, `404`, ...) comes back with its
//! status and body. The master authenticates the request first in its readonly realm
//! (authn.rs), so an anonymous caller learns nothing about agents. With the same
//! `--credentials` on master and agents (`remesos local`'s default for the agents'
//! `--http_credentials`) the one prompt serves both.
//!
//! What the proxy adds: the agent id is validated (`validateID`) and looked up among the
//! registered agents (`404` otherwise, nothing is contacted); only `GET`/`HEAD`; every answer
//! is marked `Content-Security-Policy: sandbox; default-src 'none'` and `nosniff`, and a
//! download is an attachment, so a file a task wrote (an `.html` page, say) is never run as
//! a page of the master's origin, where it could act with the operator's credentials. The
//! body is streamed, not buffered (a download can be large).

use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::Empty;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::operator::{Caller, principal};
use super::routing::AGENT_FILES_ENDPOINTS;
use crate::master::operator::{OperatorCommand, OperatorReply};
use crate::master::runtime::{MasterHandle, Operated};

/// How long the agent has to start answering (a `read` answers at once; `download` starts
/// at once and may then stream for as long as the file takes).
const AGENT_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The policy of every proxied answer (module doc).
const PROXIED_POLICY: &str = "sandbox; default-src 'none'";

type AgentClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// One client for every agent, over the process's TLS client configuration when
/// `LIBPROCESS_SSL_ENABLED` is on (the agents then serve only TLS).
static CLIENT: LazyLock<Result<(AgentClient, &'static str), String>> = LazyLock::new(|| {
    let tls = crate::security::tls::current()?;
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    http.enforce_http(false);
    let (config, scheme) = match &tls {
        Some(tls) => ((*tls.client).clone(), "https"),
        // Never `https` without TLS: this configuration trusts nothing.
        None => (crate::security::tls::no_trust_client_config(), "http"),
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok((
        Client::builder(TokioExecutor::new()).build(connector),
        scheme,
    ))
});

/// `GET /agent/<agent id>/files/<endpoint>?<query>` (module doc).
pub(super) async fn files(
    State(master): State<MasterHandle>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    Path((agent_id, endpoint)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = super::operator::get_only(&method) {
        return refused;
    }
    if let Err(e) = crate::common::id::validate_id(&agent_id) {
        return crate::api::error(StatusCode::BAD_REQUEST, format!("Invalid agent ID: {e}"));
    }
    let Some(endpoint) = AGENT_FILES_ENDPOINTS.iter().find(|e| **e == endpoint) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(address) = agent_address(&master, &caller, &agent_id).await else {
        return crate::api::error(
            StatusCode::NOT_FOUND,
            format!("No agent with ID '{agent_id}' is registered"),
        );
    };
    let (client, scheme) = match &*CLIENT {
        Ok(c) => c,
        Err(e) => return crate::api::error(StatusCode::SERVICE_UNAVAILABLE, e.clone()),
    };
    let mut url = format!("{scheme}://{address}/files/{endpoint}");
    if let Some(query) = uri.query() {
        url.push('?');
        url.push_str(query);
    }
    let mut request = hyper::Request::builder().method(method).uri(url);
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let Ok(request) = request.body(Empty::new()) else {
        return crate::api::error(StatusCode::BAD_REQUEST, "Malformed request URL");
    };
    let answer = match tokio::time::timeout(AGENT_ANSWER_TIMEOUT, client.request(request)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            tracing::debug!(%agent_id, error = %crate::common::error_chain(&e), "sandbox proxy: agent unreachable");
            return crate::api::error(
                StatusCode::BAD_GATEWAY,
                format!("Agent {agent_id} did not answer"),
            );
        }
        Err(_) => {
            return crate::api::error(
                StatusCode::GATEWAY_TIMEOUT,
                format!("Agent {agent_id} did not answer in time"),
            );
        }
    };
    let (parts, body) = answer.into_parts();
    let mut response = Response::new(Body::new(body));
    *response.status_mut() = parts.status;
    let out = response.headers_mut();
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_DISPOSITION,
        header::WWW_AUTHENTICATE,
    ] {
        if let Some(v) = parts.headers.get(&name) {
            out.insert(name, v.clone());
        }
    }
    if endpoint.starts_with("download") && parts.status.is_success() {
        out.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PROXIED_POLICY),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `host:port` of the registered agent `agent_id`, as the master knows it (the address in
/// its pid, `slave(1)@<ip>:<port>`).
async fn agent_address(master: &MasterHandle, caller: &Caller, agent_id: &str) -> Option<String> {
    let command = OperatorCommand::AgentEndpoint {
        agent_id: agent_id.to_string(),
    };
    match master
        .operator_as(command, principal(caller).cloned())
        .await
        .ok()?
        .ok()?
    {
        Operated::Reply(OperatorReply::Json(Value::String(address))) => Some(address),
        _ => None,
    }
}
