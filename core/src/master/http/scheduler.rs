//! `POST /api/v1/scheduler` (reference/mesos-contract.md §3.2).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::{mpsc, oneshot};

use remesos_proto::v1::scheduler as sched;

use crate::api::{self, Format};
use crate::master::runtime::{Command, FRAMEWORK_STREAM_BUFFER, MasterHandle};
use crate::master::scheduler::CallOk;
use crate::master::validation::CallError;
use crate::security::Principal;

const STREAM_ID: &str = "Mesos-Stream-Id";

pub async fn scheduler(
    State(master): State<MasterHandle>,
    principal: Option<Extension<Principal>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Put there by authentication (authn.rs) when the request's realm is protected.
    let principal = principal.map(|Extension(p)| p);
    let (call, accept): (sched::Call, _) = match api::read_call(&method, &headers, &body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let stream_id = headers
        .get(STREAM_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if call.r#type == Some(sched::call::Type::Subscribe as i32) {
        if stream_id.is_some() {
            return api::error(
                StatusCode::BAD_REQUEST,
                "Subscribe calls should not include the 'Mesos-Stream-Id' header",
            );
        }
        return subscribe(master, accept, call, principal).await;
    }
    let (tx, rx) = oneshot::channel();
    if master
        .send(Command::Call {
            call,
            principal,
            stream_id,
            reply: tx,
        })
        .await
        .is_err()
    {
        return unavailable();
    }
    match rx.await {
        Ok(Ok(CallOk::Accepted)) => StatusCode::ACCEPTED.into_response(),
        Ok(Ok(CallOk::Ok)) => StatusCode::OK.into_response(),
        Ok(Err(e)) => call_error(e),
        Err(_) => unavailable(),
    }
}

fn unavailable() -> Response {
    api::error(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down")
}

fn call_error(e: CallError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    api::error(status, e.to_string())
}

async fn subscribe(
    master: MasterHandle,
    format: Format,
    call: sched::Call,
    principal: Option<Principal>,
) -> Response {
    let (events_tx, events_rx) = mpsc::channel(FRAMEWORK_STREAM_BUFFER);
    let (tx, rx) = oneshot::channel();
    if master
        .send(Command::Subscribe {
            call,
            principal,
            events: events_tx,
            reply: tx,
        })
        .await
        .is_err()
    {
        return unavailable();
    }
    let (conn, stream_id, _framework_id) = match rx.await {
        Ok(Ok(ok)) => ok,
        Ok(Err(e)) => return call_error(e),
        Err(_) => return unavailable(),
    };
    let events = EventStream {
        rx: events_rx,
        master,
        conn,
    };
    let mut response = api::recordio_stream(format, events);
    if let Ok(v) = HeaderValue::from_str(&stream_id) {
        response.headers_mut().insert(STREAM_ID, v);
    }
    response
}

/// A framework's event stream; when the HTTP connection goes away (the body is dropped),
/// the master learns that the framework disconnected.
struct EventStream {
    rx: mpsc::Receiver<Box<sched::Event>>,
    master: MasterHandle,
    conn: u64,
}

impl Stream for EventStream {
    type Item = sched::Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<sched::Event>> {
        self.rx.poll_recv(cx).map(|event| event.map(|event| *event))
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.master
            .notify(Command::FrameworkStreamClosed { conn: self.conn });
    }
}
