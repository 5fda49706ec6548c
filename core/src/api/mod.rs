//! Plumbing shared by the v1 HTTP APIs of the master and the agent (reference/mesos-contract.md
//! §3.1): method and media-type checks, decoding of calls, encoding of responses and of
//! RecordIO event streams.

// Handlers return `Response` as their error: boxing it would only add noise at every call site.
#![allow(clippy::result_large_err)]

pub mod log_dir;
pub mod logging;
pub mod serve;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use prost::{Message, Name};
use tokio_stream::StreamExt;

pub const APPLICATION_JSON: &str = "application/json";
pub const APPLICATION_PROTOBUF: &str = "application/x-protobuf";

/// The access log: one line per HTTP request at debug level, target `remesos::access`
/// (`REMESOS_LOG=remesos::access=debug` or `/logging/toggle` shows it). It names the
/// method, the route template (`endpoint`: never the raw path, whose query may carry
/// anything), the status, the time to the response head, the peer's address and the
/// authenticated principal. Nothing else of the request is logged: no query, header,
/// credential, token or body.
pub fn access_log(
    method: &Method,
    endpoint: &str,
    status: StatusCode,
    took: std::time::Duration,
    peer: Option<std::net::SocketAddr>,
    principal: Option<&crate::security::Principal>,
) {
    tracing::debug!(
        target: "remesos::access",
        method = %method,
        endpoint,
        peer = peer.map(tracing::field::display),
        status = status.as_u16(),
        duration_ms = took.as_secs_f64() * 1000.0,
        principal = principal.map(|p| p.as_str()),
        "http request"
    );
}

/// Where a request's authentication, done inside the router (the agent's per-route
/// guards), leaves the principal for the access log written outside it: the timing
/// middleware puts an empty slot in the request's extensions, the guard fills it.
#[derive(Clone, Debug, Default)]
pub struct AccessPrincipal(pub std::sync::Arc<std::sync::OnceLock<crate::security::Principal>>);

/// The peer of a request, as the server recorded it (`api::serve`, axum's `ConnectInfo`).
pub fn peer_of<B>(request: &axum::http::Request<B>) -> Option<std::net::SocketAddr> {
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0)
}

/// Request bodies larger than this are refused with 413 before decoding.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Middleware: refuses a request whose `Content-Length` exceeds [`MAX_BODY_BYTES`] with 413
/// before reading its body (bodies without a length are capped while read, by
/// `DefaultBodyLimit`).
pub async fn refuse_oversized(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|l| l > MAX_BODY_BYTES as u64) {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large");
    }
    next.run(request).await
}

/// The two encodings of the v1 APIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Protobuf,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => APPLICATION_JSON,
            Format::Protobuf => APPLICATION_PROTOBUF,
        }
    }

    pub fn encode<M: Message + Name>(self, message: &M) -> Vec<u8> {
        match self {
            Format::Json => remesos_proto::json::to_vec(message),
            Format::Protobuf => message.encode_to_vec(),
        }
    }
}

/// An error response with a plain-text body, as Mesos sends them.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = (status, message.into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pub fn method_not_allowed(method: &Method) -> Response {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Expecting one of {{ 'POST' }}, but received '{method}'"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// The request's `Content-Type`: missing is 400, anything but JSON or protobuf is 415.
pub fn request_format(headers: &HeaderMap) -> Result<Format, Response> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present",
        ));
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        APPLICATION_JSON => Ok(Format::Json),
        APPLICATION_PROTOBUF => Ok(Format::Protobuf),
        _ => Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Expecting 'Content-Type' of {APPLICATION_JSON} or {APPLICATION_PROTOBUF}"),
        )),
    }
}

/// Whether the `Accept` header (with q-values) allows `media` ("type/subtype").
pub fn accepts(headers: &HeaderMap, media: &str) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let (want_type, _) = media.split_once('/').unwrap_or((media, ""));
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q_zero = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q == 0.0)
        });
        if q_zero {
            return false;
        }
        range == media || range == "*/*" || range == format!("{want_type}/*")
    })
}

/// The response encoding: JSON when acceptable, else protobuf, else 406.
pub fn response_format(headers: &HeaderMap) -> Result<Format, Response> {
    if accepts(headers, APPLICATION_JSON) {
        Ok(Format::Json)
    } else if accepts(headers, APPLICATION_PROTOBUF) {
        Ok(Format::Protobuf)
    } else {
        Err(error(
            StatusCode::NOT_ACCEPTABLE,
            format!("Expecting 'Accept' to allow '{APPLICATION_JSON}' or '{APPLICATION_PROTOBUF}'"),
        ))
    }
}

/// Decodes a call body; failures are 400 with Mesos's wording.
pub fn decode<M: Message + Name + Default>(format: Format, body: &Bytes) -> Result<M, Response> {
    if body.len() > MAX_BODY_BYTES {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body is too large",
        ));
    }
    let short = M::NAME;
    match format {
        Format::Protobuf => M::decode(body.as_ref()).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                format!("Failed to parse body into {short} protobuf: {e}"),
            )
        }),
        Format::Json => remesos_proto::json::from_slice::<M>(body).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                format!("Failed to convert JSON into {short} protobuf: {e}"),
            )
        }),
    }
}

/// The common prologue of every v1 API endpoint: POST only, a supported `Content-Type`, an
/// acceptable response encoding, a decodable body. Returns the call and the encoding to
/// answer in, or the error response Mesos gives.
pub fn read_call<M: Message + Name + Default>(
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(M, Format), Response> {
    if method != Method::POST {
        return Err(method_not_allowed(method));
    }
    let format = request_format(headers)?;
    let accept = response_format(headers)?;
    Ok((decode(format, body)?, accept))
}

/// A `200 OK` response carrying one message.
pub fn ok<M: Message + Name>(format: Format, message: &M) -> Response {
    let mut response = (StatusCode::OK, format.encode(message)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    response
}

/// A `200 OK` response carrying one message already encoded in `format`.
pub fn ok_bytes(format: Format, body: Bytes) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    response
}

/// A `200 OK` JSON response.
pub fn json_ok(value: &serde_json::Value) -> Response {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(APPLICATION_JSON),
    );
    response
}

/// A streaming `200 OK` whose body is the RecordIO framing of `events`.
pub fn recordio_stream<M, S>(format: Format, events: S) -> Response
where
    M: Message + Name + 'static,
    S: Stream<Item = M> + Send + 'static,
{
    recordio_response(format, None, events)
}

/// [`recordio_stream`] whose first record, `first`, is already encoded in `format` (the
/// operator SUBSCRIBED event, written from references to the master's state).
pub fn recordio_stream_after<M, S>(format: Format, first: Bytes, events: S) -> Response
where
    M: Message + Name + 'static,
    S: Stream<Item = M> + Send + 'static,
{
    recordio_response(format, Some(first), events)
}

fn recordio_response<M, S>(format: Format, first: Option<Bytes>, events: S) -> Response
where
    M: Message + Name + 'static,
    S: Stream<Item = M> + Send + 'static,
{
    let frame = |record: &[u8]| {
        let mut framed = Vec::with_capacity(record.len() + 12);
        remesos_proto::recordio::encode(record, &mut framed);
        Ok::<_, std::convert::Infallible>(Bytes::from(framed))
    };
    let first = futures::stream::iter(first.map(|record| frame(&record)));
    let body = first.chain(events.map(move |event| frame(&format.encode(&event))));
    let mut response = Response::new(Body::from_stream(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    response
}
