//! The operator API's container calls (agent/http.rs hands them here): validation with
//! Mesos's texts (src/slave/validation.cpp), the ACLs, then the container registry
//! (agent/nested.rs). Mesos: `Http::launchContainer`, `_waitContainer`, `_killContainer`,
//! `_removeContainer`, `launchNestedContainerSession`, `attachContainerInput`,
//! `attachContainerOutput` in src/slave/http.cpp.
//!
//! | call | ACL (object: the user) | answers |
//! |---|---|---|
//! | LAUNCH_NESTED_CONTAINER, LAUNCH_CONTAINER (parent) | `launch_nested_container` (the user it runs as) | 200; 202 if it exists; 400 (bad input, unknown or ended parent, launch failure) |
//! | LAUNCH_CONTAINER (no parent) | `launch_standalone_container` | as above |
//! | LAUNCH_NESTED_CONTAINER_SESSION | `launch_nested_container_session` | 200 + RecordIO `ProcessIO` until the process's output ends |
//! | WAIT_NESTED_CONTAINER, WAIT_CONTAINER | `wait_nested_container` / `wait_standalone_container` (the parent executor's user) | 200 when it ended (long-poll); 404 unknown |
//! | KILL_NESTED_CONTAINER, KILL_CONTAINER | `kill_nested_container` / `kill_standalone_container` | 200; 404 unknown or ended |
//! | REMOVE_NESTED_CONTAINER, REMOVE_CONTAINER | `remove_nested_container` / `remove_standalone_container` | 200 (also unknown); 500 still running |
//! | ATTACH_CONTAINER_OUTPUT | `attach_container_output` | 200 + RecordIO `ProcessIO`; 404 unknown; 400 ended; 500 no switchboard (a task of a group without a TTY) |
//! | ATTACH_CONTAINER_INPUT | `attach_container_input` | 200 once the input stream ends; 404; 409 a second input; 500 no switchboard |
//!
//! An executor's token (claims, no principal) is judged as Mesos's local authorizer judges
//! it when `--acls` is set (`getImplicitExecutorObjectApprover`): it may launch (also as a
//! session), wait, kill, remove and attach to the output of containers nested under its own
//! container (the token's `cid` is the container's root), and nothing else; without
//! `--acls` everything is allowed, as for every caller.
//!
//! Denied: 403 with nothing done. A session's process is killed when its client goes
//! away (`launchNestedContainerSession` destroys the container when the connection
//! closes); an attached output's client going away leaves the container running.

// Handlers return `Response` as their error, as api/mod.rs does: boxing it would only add
// noise at every call site.
#![allow(clippy::result_large_err)]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::mpsc;

use remesos_proto::v1;
use v1::agent::{ProcessIo, call::Type as CallType};

use super::nested::{self, Containers, Launched, NestedError, Parent};
use super::runtime::AgentHandle;
use crate::api::{self, Format};
use crate::security::authorizer::{Action, Authorizer, Object, Requester, Subject};
use crate::security::jwt::Claims;

/// `application/recordio`: the streaming media type of the agent's container calls.
pub const APPLICATION_RECORDIO: &str = "application/recordio";
/// The header naming the records' own media type in a RecordIO request or response.
const MESSAGE_ACCEPT: &str = "message-accept";
const MESSAGE_CONTENT_TYPE: &str = "message-content-type";
/// One ATTACH_CONTAINER_INPUT record at most this big (a STDIN chunk plus its envelope).
pub const MAX_INPUT_RECORD: usize = 1024 * 1024;
/// An input stream that sends nothing (not even a heartbeat) for this long is ended.
const INPUT_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Who asks, and what they may do.
pub struct Caller {
    pub authorizer: Arc<Authorizer>,
    pub who: Requester,
}

impl Caller {
    /// May the caller do `action` on `container`, which runs (or would run) as `user`?
    fn allowed(&self, action: Action, user: Option<&str>, container: &v1::ContainerId) -> bool {
        if let Subject::Executor(claims) = self.who.subject()
            && self.authorizer.is_enabled()
        {
            return executor_may(action, claims, container);
        }
        let object = match user {
            Some(u) => Object::Value(u),
            None => Object::Any,
        };
        self.authorizer
            .is_allowed(action, self.who.subject(), object)
    }
}

impl Caller {
    /// May the caller launch a container (a session when `session`) running `command_user`'s
    /// command (`None`: the command names no user), under a parent whose executor runs as
    /// `parent_user` (`None`: a standalone container)? Mesos's
    /// `LocalNestedContainerObjectApprover`: the `..._under_parent_with_user` ACLs on the
    /// parent's user and the `..._as_user` ACLs on the command's (`ANY` without one) must
    /// both allow. A standalone container is `launch_standalone_containers` on its user.
    fn allowed_launch(
        &self,
        session: bool,
        parent_user: Option<&str>,
        command_user: Option<&str>,
        container: &v1::ContainerId,
    ) -> bool {
        let action = action_for(session, parent_user.is_some());
        let Some(parent_user) = parent_user else {
            return self.allowed(action, command_user, container);
        };
        let under_parent = if session {
            Action::LaunchNestedContainerSessionUnderParentWithUser
        } else {
            Action::LaunchNestedContainerUnderParentWithUser
        };
        if let Subject::Executor(claims) = self.who.subject()
            && self.authorizer.is_enabled()
        {
            return executor_may(action, claims, container);
        }
        // Mesos's object of the parent: the executor's user, `ANY` when it has none.
        let parent_object = Some(parent_user).filter(|u| !u.is_empty());
        self.allowed(under_parent, parent_object, container)
            && self.allowed(action, command_user, container)
    }
}

/// Mesos's `LocalImplicitExecutorObjectApprover` (src/authorizer/local/authorizer.cpp): an
/// executor's token may do the default executor's container actions on containers whose
/// root is the token's `cid`; every other action is refused.
fn executor_may(action: Action, claims: &Claims, container: &v1::ContainerId) -> bool {
    const IMPLICIT: [Action; 6] = [
        Action::LaunchNestedContainer,
        Action::WaitNestedContainer,
        Action::KillNestedContainer,
        Action::LaunchNestedContainerSession,
        Action::RemoveNestedContainer,
        Action::AttachContainerOutput,
    ];
    let mut root = container;
    while let Some(parent) = root.parent.as_deref() {
        root = parent;
    }
    IMPLICIT.contains(&action) && claims.get("cid").is_some_and(|cid| *cid == root.value)
}

fn nested_error(e: NestedError) -> Response {
    let status = match &e {
        NestedError::BadRequest(_) => StatusCode::BAD_REQUEST,
        NestedError::NotFound(_) => StatusCode::NOT_FOUND,
        NestedError::Conflict(_) => StatusCode::CONFLICT,
        NestedError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    api::error(status, e.to_string())
}

fn bad(message: impl Into<String>) -> Response {
    api::error(StatusCode::BAD_REQUEST, message)
}

fn gone() -> Response {
    api::error(StatusCode::SERVICE_UNAVAILABLE, "Agent is shutting down")
}

/// Whether `call` is one of the container calls handled here.
pub fn handles(ty: CallType) -> bool {
    matches!(
        ty,
        CallType::LaunchNestedContainer
            | CallType::WaitNestedContainer
            | CallType::KillNestedContainer
            | CallType::RemoveNestedContainer
            | CallType::LaunchNestedContainerSession
            | CallType::AttachContainerOutput
            | CallType::AttachContainerInput
            | CallType::LaunchContainer
            | CallType::WaitContainer
            | CallType::KillContainer
            | CallType::RemoveContainer
    )
}

/// The records' media type of a streaming response: `Accept` must allow
/// `application/recordio`, and `Message-Accept` (JSON when absent) JSON or protobuf.
fn streaming_accept(headers: &HeaderMap) -> Result<Format, Response> {
    if !api::accepts(headers, APPLICATION_RECORDIO) || headers.get(header::ACCEPT).is_none() {
        return Err(api::error(
            StatusCode::NOT_ACCEPTABLE,
            format!("Expecting 'Accept' to allow '{APPLICATION_RECORDIO}'"),
        ));
    }
    let Some(message) = headers.get(MESSAGE_ACCEPT) else {
        return Ok(Format::Json);
    };
    let mut as_accept = HeaderMap::new();
    as_accept.insert(header::ACCEPT, message.clone());
    api::response_format(&as_accept).map_err(|_| {
        api::error(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "Expecting 'Message-Accept' to allow '{}' or '{}'",
                api::APPLICATION_JSON,
                api::APPLICATION_PROTOBUF
            ),
        )
    })
}

/// The record format of a RecordIO request body (`Message-Content-Type`).
pub fn streaming_content(headers: &HeaderMap) -> Result<Format, Response> {
    let Some(value) = headers.get(MESSAGE_CONTENT_TYPE) else {
        return Err(bad("Expecting 'Message-Content-Type' to be present"));
    };
    let mut as_content = HeaderMap::new();
    as_content.insert(header::CONTENT_TYPE, value.clone());
    api::request_format(&as_content)
}

/// Whether the request body is a RecordIO stream (ATTACH_CONTAINER_INPUT).
pub fn is_streaming_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(APPLICATION_RECORDIO))
}

/// A streaming `200 OK` of `ProcessIO` records, framed by RecordIO.
fn process_io_stream<S>(format: Format, records: S) -> Response
where
    S: Stream<Item = ProcessIo> + Send + 'static,
{
    use tokio_stream::StreamExt;
    let body = records.map(move |record| {
        let encoded = format.encode(&record);
        let mut framed = Vec::with_capacity(encoded.len() + 12);
        remesos_proto::recordio::encode(&encoded, &mut framed);
        Ok::<_, std::convert::Infallible>(Bytes::from(framed))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(APPLICATION_RECORDIO),
    );
    headers.insert(
        MESSAGE_CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    response
}

/// An output stream; a session's kills its container when the client goes away before
/// the container's output has ended. A process closes its stdout and stderr a moment
/// before it exits: killing it then would turn its exit status into SIGKILL.
struct Output {
    rx: mpsc::Receiver<ProcessIo>,
    /// Set for a session (Mesos destroys a session's container with its connection).
    session: Option<Arc<nested::Container>>,
}

impl Stream for Output {
    type Item = ProcessIo;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ProcessIo>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(container) = self.session.take()
            && !container.output_ended()
            && container.kill(libc::SIGKILL)
        {
            tracing::info!(container = %nested::key(&container.id), "the session's connection closed: killed its container");
        }
    }
}

/// The container id a call names, validated (400 with Mesos's text otherwise), and
/// whether it must have a parent.
fn container_id<'a>(
    field: &str,
    id: Option<&'a v1::ContainerId>,
    parent_required: bool,
) -> Result<&'a v1::ContainerId, Response> {
    let Some(id) = id else {
        return Err(bad(format!("Expecting '{field}' to be present")));
    };
    if let Err(e) = nested::validate_id(id) {
        return Err(bad(format!("'{field}.container_id' is invalid: {e}")));
    }
    if parent_required && id.parent.is_none() {
        return Err(bad(format!(
            "Expecting '{field}.container_id.parent' to be present"
        )));
    }
    Ok(id)
}

/// Handles a decoded (non-streaming-body) container call.
pub async fn handle(
    agent: AgentHandle,
    containers: Arc<Containers>,
    caller: Caller,
    call: v1::agent::Call,
    headers: &HeaderMap,
) -> Response {
    let Some(ty) = call.r#type.and_then(|t| CallType::try_from(t).ok()) else {
        return bad("Expecting 'type' to be present");
    };
    match ty {
        CallType::LaunchNestedContainer | CallType::LaunchContainer => {
            let nested = ty == CallType::LaunchNestedContainer;
            let (field, parts) = if nested {
                let l = call.launch_nested_container;
                (
                    "launch_nested_container",
                    l.map(|l| (l.container_id, l.command, l.container)),
                )
            } else {
                let l = call.launch_container;
                (
                    "launch_container",
                    l.map(|l| (l.container_id, l.command, l.container)),
                )
            };
            let Some((id, command, container)) = parts else {
                return bad(format!("Expecting '{field}' to be present"));
            };
            let id = match container_id(field, Some(&id), nested) {
                Ok(id) => id.clone(),
                Err(r) => return r,
            };
            if let Err(r) = api::response_format(headers) {
                return r;
            }
            // LAUNCH_CONTAINER under an executor (the default executor's call for each
            // task) starts a durable container; see agent/nested.rs.
            let call = if nested {
                LaunchCall::Nested
            } else {
                LaunchCall::Container
            };
            launch(agent, containers, caller, id, (command, container), call).await
        }
        CallType::LaunchNestedContainerSession => {
            let Some(l) = call.launch_nested_container_session else {
                return bad("Expecting 'launch_nested_container_session' to be present");
            };
            let id = match container_id(
                "launch_nested_container_session",
                Some(&l.container_id),
                true,
            ) {
                Ok(id) => id.clone(),
                Err(r) => return r,
            };
            let format = match streaming_accept(headers) {
                Ok(f) => f,
                Err(r) => return r,
            };
            launch(
                agent,
                containers,
                caller,
                id,
                (l.command, l.container),
                LaunchCall::Session(format),
            )
            .await
        }
        CallType::WaitNestedContainer | CallType::WaitContainer => {
            let nested = ty == CallType::WaitNestedContainer;
            let (field, id) = if nested {
                (
                    "wait_nested_container",
                    call.wait_nested_container.as_ref().map(|w| &w.container_id),
                )
            } else {
                (
                    "wait_container",
                    call.wait_container.as_ref().map(|w| &w.container_id),
                )
            };
            let id = match container_id(field, id, nested) {
                Ok(id) => id.clone(),
                Err(r) => return r,
            };
            let accept = match api::response_format(headers) {
                Ok(f) => f,
                Err(r) => return r,
            };
            let action = if id.parent.is_some() {
                Action::WaitNestedContainer
            } else {
                Action::WaitStandaloneContainer
            };
            let container = match authorized(&containers, &caller, action, &id) {
                Ok(c) => c,
                Err(r) => return r,
            };
            let termination = container.wait().await;
            let mut r = v1::agent::Response::default();
            if nested {
                r.r#type = Some(v1::agent::response::Type::WaitNestedContainer as i32);
                r.wait_nested_container = Some(v1::agent::response::WaitNestedContainer {
                    exit_status: Some(termination.status),
                    message: Some(termination.message),
                    ..Default::default()
                });
            } else {
                r.r#type = Some(v1::agent::response::Type::WaitContainer as i32);
                r.wait_container = Some(v1::agent::response::WaitContainer {
                    exit_status: Some(termination.status),
                    message: Some(termination.message),
                    ..Default::default()
                });
            }
            api::ok(accept, &r)
        }
        CallType::KillNestedContainer | CallType::KillContainer => {
            let nested = ty == CallType::KillNestedContainer;
            let (field, id, signal) = if nested {
                let k = call.kill_nested_container.as_ref();
                (
                    "kill_nested_container",
                    k.map(|k| &k.container_id),
                    k.and_then(|k| k.signal),
                )
            } else {
                let k = call.kill_container.as_ref();
                (
                    "kill_container",
                    k.map(|k| &k.container_id),
                    k.and_then(|k| k.signal),
                )
            };
            let id = match container_id(field, id, nested) {
                Ok(id) => id.clone(),
                Err(r) => return r,
            };
            // SIGKILL unless a signal is given (`Http::killNestedContainer`).
            let signal = signal.unwrap_or(libc::SIGKILL);
            if !(1..=64).contains(&signal) {
                return bad(format!("'{field}.signal' is invalid: {signal}"));
            }
            let action = if id.parent.is_some() {
                Action::KillNestedContainer
            } else {
                Action::KillStandaloneContainer
            };
            let container = match authorized(&containers, &caller, action, &id) {
                Ok(c) => c,
                Err(r) => return r,
            };
            if container.kill(signal) {
                StatusCode::OK.into_response()
            } else {
                not_found_killed(&id)
            }
        }
        CallType::RemoveNestedContainer | CallType::RemoveContainer => {
            let nested = ty == CallType::RemoveNestedContainer;
            let (field, id) = if nested {
                (
                    "remove_nested_container",
                    call.remove_nested_container
                        .as_ref()
                        .map(|r| &r.container_id),
                )
            } else {
                (
                    "remove_container",
                    call.remove_container.as_ref().map(|r| &r.container_id),
                )
            };
            let id = match container_id(field, id, nested) {
                Ok(id) => id.clone(),
                Err(r) => return r,
            };
            let action = if id.parent.is_some() {
                Action::RemoveNestedContainer
            } else {
                Action::RemoveStandaloneContainer
            };
            match authorized(&containers, &caller, action, &id) {
                Ok(_) => {}
                // Mesos's `remove` of an unknown container succeeds.
                Err(r) if r.status() == StatusCode::NOT_FOUND => {
                    return StatusCode::OK.into_response();
                }
                Err(r) => return r,
            }
            match containers.remove(&id) {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => nested_error(e),
            }
        }
        CallType::AttachContainerOutput => {
            let id = call
                .attach_container_output
                .as_ref()
                .map(|a| &a.container_id);
            let id = match container_id("attach_container_output", id, false) {
                Ok(id) => id.clone(),
                Err(r) => return r,
            };
            let format = match streaming_accept(headers) {
                Ok(f) => f,
                Err(r) => return r,
            };
            let container =
                match authorized(&containers, &caller, Action::AttachContainerOutput, &id) {
                    Ok(c) => c,
                    Err(r) => return r,
                };
            match container.attach_output() {
                Some(rx) => process_io_stream(format, Output { rx, session: None }),
                None if container.durable.is_some() => without_switchboard(),
                None => bad(format!(
                    "Container {} has terminated: its output has ended",
                    nested::key(&id)
                )),
            }
        }
        CallType::AttachContainerInput => bad(format!(
            "Expecting 'Content-Type' of {APPLICATION_RECORDIO} for ATTACH_CONTAINER_INPUT"
        )),
        _ => api::error(
            StatusCode::NOT_IMPLEMENTED,
            format!("Unsupported call type {}", ty.as_str_name()),
        ),
    }
}

/// An attach to a container without an I/O switchboard: a durable one (agent/nested.rs),
/// which Mesos launches without one too (`IOSwitchboard::requiresServer`: only a
/// container with a TTY or a DEBUG one has a server). Mesos's `_connect` fails, the
/// handler answers 500 with the failure's text; the Mesos CLI's `task attach` matches
/// that exact text ("Unable to attach to a task launched without a TTY").
fn without_switchboard() -> Response {
    api::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "I/O switchboard server was disabled for this container".to_string(),
    )
}

fn not_found(id: &v1::ContainerId) -> Response {
    api::error(
        StatusCode::NOT_FOUND,
        format!("Container {} cannot be found", nested::key(id)),
    )
}

fn not_found_killed(id: &v1::ContainerId) -> Response {
    api::error(
        StatusCode::NOT_FOUND,
        format!(
            "Container '{}' cannot be found (or is already killed)",
            nested::key(id)
        ),
    )
}

/// The container `id` names, if `caller` may act on it: the ACL's object is the user its
/// parent's executor runs as (Mesos's approvers get the executor's and framework's info),
/// the container's own for a standalone one. Unknown: the ACL on ANY, then 404.
fn authorized(
    containers: &Containers,
    caller: &Caller,
    action: Action,
    id: &v1::ContainerId,
) -> Result<Arc<nested::Container>, Response> {
    let Some(container) = containers.get(id) else {
        if !caller.allowed(action, None, id) {
            return Err(StatusCode::FORBIDDEN.into_response());
        }
        return Err(not_found(id));
    };
    let user = match &container.parent {
        Some(p) => p.user().to_string(),
        None => container.user.clone(),
    };
    if !caller.allowed(action, Some(&user), id) {
        return Err(StatusCode::FORBIDDEN.into_response());
    }
    Ok(container)
}

/// Which launch call it is.
enum LaunchCall {
    Nested,
    /// LAUNCH_CONTAINER: durable when right under an executor without a TTY.
    Container,
    /// A session, its output streamed in this format.
    Session(Format),
}

/// LAUNCH_NESTED_CONTAINER(_SESSION) and LAUNCH_CONTAINER.
async fn launch(
    agent: AgentHandle,
    containers: Arc<Containers>,
    caller: Caller,
    id: v1::ContainerId,
    (command, container): (Option<v1::CommandInfo>, Option<v1::ContainerInfo>),
    call: LaunchCall,
) -> Response {
    let stream_format = match call {
        LaunchCall::Session(format) => Some(format),
        _ => None,
    };
    let launch_container = matches!(call, LaunchCall::Container);
    let session = stream_format.is_some();
    // In an image, an argv command (`shell` false) may have no value: the image's
    // Entrypoint/Cmd complete it (docker/runtime, containerizer/linux.rs `launch_command`).
    let has_image = super::containerizer::linux::image_of(container.as_ref()).is_some();
    let Some(command) = command.filter(|c| {
        c.value.as_deref().is_some_and(|v| !v.is_empty()) || (has_image && c.shell == Some(false))
    }) else {
        return bad("Expecting 'command.value' to be present");
    };
    if command.uris.iter().any(|_| true) {
        return bad("The provided ContainerInfo is not supported: nested containers fetch no URIs");
    }
    // A nested container's ContainerInfo may ask for a TTY, or (a task of a group) its
    // own image with its volumes; nothing else.
    let image = super::containerizer::linux::image_of(container.as_ref()).cloned();
    let tty = match &container {
        None => None,
        Some(c) => {
            let plain = c.r#type == v1::container_info::Type::Mesos as i32
                && (image.is_some() || c.volumes.is_empty())
                && c.docker.is_none();
            if !plain {
                return bad("The provided ContainerInfo is not supported");
            }
            c.tty_info
        }
    };
    let depth = {
        let mut d = 0;
        let mut p = id.parent.as_deref();
        while let Some(parent) = p {
            d += 1;
            p = parent.parent.as_deref();
        }
        d
    };
    // One level further under a durable container (a task of a group): `task exec` into it.
    let nested_parent = match id.parent.as_deref() {
        Some(p) if depth == 2 => match containers.get(p) {
            Some(c) if c.durable.is_some() && c.termination().is_none() => Some(c),
            _ => {
                if !caller.allowed(action_for(session, true), None, &id) {
                    return StatusCode::FORBIDDEN.into_response();
                }
                return bad(format!(
                    "Parent container {} does not exist",
                    nested::key(p)
                ));
            }
        },
        _ => None,
    };
    if depth > 2 {
        return bad(
            "'launch_nested_container' is invalid: containers nested at the third level or greater are not supported",
        );
    }
    // Mesos 1.11's default executor launches each task of a group in its image; remesos
    // provisions images for exactly those: durable containers right under an executor.
    if image.is_some() && !(launch_container && depth == 1 && tty.is_none()) {
        return bad(
            "The provided ContainerInfo is not supported: only a task's container right under its executor (LAUNCH_CONTAINER, no TTY) may have an image",
        );
    }
    // The executor container at the root, its cgroups and the agent's work_dir, read in
    // the agent's actor.
    let root_id = {
        let mut root = &id;
        while let Some(parent) = root.parent.as_deref() {
            root = parent;
        }
        (depth > 0).then(|| root.value.clone())
    };
    let read = move |a: &super::Agent| {
        let parent = root_id.as_deref().map(|p| {
            let found = nested::find_parent(a, p);
            let cgroups = found
                .as_ref()
                .map(|f| a.config.isolation.join(&f.container_id))
                .unwrap_or(Ok(Vec::new()));
            (found, cgroups)
        });
        (parent, (a.config.work_dir.clone(), a.config.switch_user))
    };
    let Ok((parent, (work_dir, switch_user))) = agent.read(read).await else {
        return gone();
    };
    let (parent, cgroups): (Option<Parent>, Vec<std::fs::File>) = match parent {
        None => (None, Vec::new()),
        Some((None, _)) => {
            // Mesos's containerizer fails the launch: the handler answers 400.
            let p = id.parent.as_deref().map(nested::key).unwrap_or_default();
            if !caller.allowed(action_for(session, true), None, &id) {
                return StatusCode::FORBIDDEN.into_response();
            }
            return bad(format!("Parent container {p} does not exist"));
        }
        Some((Some(mut parent), cgroups)) => match cgroups {
            Ok(c) => {
                // Under a task's container: its sandbox and its process, the executor's
                // cgroups (a task's container shares them).
                if let Some(task) = &nested_parent {
                    if let Some(sandbox) = &task.sandbox {
                        parent.sandbox = sandbox.clone();
                    }
                    parent.pid = Some(task.pid);
                }
                (Some(parent), c)
            }
            Err(e) => return bad(format!("Failed to join the parent's cgroups: {e}")),
        },
    };
    // Authorized before anything else happens, on what Mesos's approver sees: the
    // command's own user and, under a parent, the user its executor runs as (not the
    // user it will end up with: the parent's user is inherited after authorization).
    let command_user = command.user.as_deref().filter(|u| !u.is_empty());
    let parent_user = parent.as_ref().map(|p| p.user());
    if !caller.allowed_launch(session, parent_user, command_user, &id) {
        return StatusCode::FORBIDDEN.into_response();
    }
    // Whom it runs as: with `--switch_user`, its command's user, else its parent
    // executor's (Mesos's containerizer inherits the parent's user); without, the agent's.
    let user = super::launcher::run_as(switch_user, command_user, parent_user);
    // Durable: LAUNCH_CONTAINER right under an executor, without a TTY (agent/nested.rs).
    let durable = (launch_container && depth == 1 && tty.is_none() && !session)
        .then(|| {
            id.parent
                .as_deref()
                .map(|p| nested::checkpoint_dir(&work_dir, &p.value, &id.value))
        })
        .flatten();
    let image = match (image, &parent) {
        (Some(_), _) if containers.get(&id).is_some() => {
            // Launched already: its rootfs is in use.
            return StatusCode::ACCEPTED.into_response();
        }
        (Some(image), Some(parent)) => {
            let container = container.clone().unwrap_or_default();
            match in_image(
                &agent,
                &id,
                parent,
                user.as_deref(),
                &container,
                &command,
                &image,
            )
            .await
            {
                Ok(image) => Some(Arc::new(image)),
                Err(message) => return bad(message),
            }
        }
        _ => None,
    };
    let spec = nested::Spec {
        id: id.clone(),
        command,
        user,
        parent,
        work_dir,
        session,
        tty,
        share_pid_namespace: container
            .as_ref()
            .and_then(|c| c.linux_info.as_ref())
            .and_then(|l| l.share_pid_namespace)
            .unwrap_or(false),
        cgroups,
        durable,
        image: image.clone(),
    };
    let launched = match containers.launch(spec, agent) {
        Ok(l) => l,
        Err(e) => {
            if let Some(image) = &image {
                image.destroy();
            }
            return nested_error(e);
        }
    };
    match (launched, stream_format) {
        (Launched::Exists, _) => StatusCode::ACCEPTED.into_response(),
        (Launched::Started(_, _), None) => StatusCode::OK.into_response(),
        (Launched::Started(container, Some(rx)), Some(format)) => process_io_stream(
            format,
            Output {
                rx,
                session: Some(container),
            },
        ),
        (Launched::Started(container, None), Some(_)) => {
            container.kill(libc::SIGKILL);
            api::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session has no output",
            )
        }
    }
}

/// Provisions a nested container's image (named `<parent>.<child>` in the provisioner)
/// and prepares its mounts, with the provisioner the command tasks' images use.
/// Mesos's containerizer fails such a launch; here it is the LAUNCH_CONTAINER's 400, whose
/// text the default executor puts in the task's TASK_FAILED.
async fn in_image(
    agent: &AgentHandle,
    id: &v1::ContainerId,
    parent: &Parent,
    user: Option<&str>,
    container: &v1::ContainerInfo,
    command: &v1::CommandInfo,
    image: &v1::Image,
) -> Result<nested::InImage, String> {
    use super::containerizer::provisioner::ProvisionError;
    let key = nested::key(id);
    let failed = |e: &dyn std::fmt::Display| format!("Failed to launch container {key}: {e}");
    let provisioner = agent
        .provisioner()
        .await
        .map_err(|e| failed(&e))?
        .ok_or_else(|| failed(&ProvisionError::NoProvider))?;
    let provisioned = provisioner
        .provision(&key, image)
        .await
        .map_err(|e| failed(&e))?;
    let sandbox = parent.sandbox.join("containers").join(&id.value);
    let prepared = std::env::current_exe()
        .map_err(|e| format!("the agent's own binary: {e}"))
        .and_then(|agent_binary| {
            // The sandbox exists before the mount plan, which makes mount points in it
            // (nested.rs `start` finds it made and gives it to the task's user).
            let owner = super::launcher::credentials(user)
                .map_err(|e| e.to_string())?
                .map(|c| (c.uid, c.gid));
            let parent_dir =
                super::beneath::open_dir(&parent.sandbox).map_err(|e| e.to_string())?;
            super::beneath::mkdir_all_beneath(
                std::os::fd::AsFd::as_fd(&parent_dir),
                &std::path::Path::new("containers").join(&id.value),
            )
            .map_err(|e| format!("Failed to create sandbox: {e}"))?;
            let plan = super::containerizer::linux::prepare_nested(
                &sandbox,
                &super::containerizer::linux::ParentSandbox {
                    volumes: &parent.volumes,
                    owner,
                },
                container,
                command,
                &provisioned,
                provisioner.settings(),
                &agent_binary,
            )?;
            let rootfs =
                crate::common::rootfs::Rootfs::new(&provisioned.rootfs, &plan.working_directory)?;
            Ok((plan, rootfs))
        });
    match prepared {
        Ok((plan, rootfs)) => Ok(nested::InImage {
            plan,
            rootfs,
            sandbox_directory: provisioner.settings().sandbox_directory.clone(),
            provisioned_as: key,
            provisioner,
        }),
        Err(e) => {
            let dropped = provisioner.clone();
            let name = key.clone();
            let _ = tokio::task::spawn_blocking(move || dropped.destroy(&name)).await;
            Err(failed(&e))
        }
    }
}

fn action_for(session: bool, nested: bool) -> Action {
    match (session, nested) {
        (true, _) => Action::LaunchNestedContainerSession,
        (false, true) => Action::LaunchNestedContainer,
        (false, false) => Action::LaunchStandaloneContainer,
    }
}

/// ATTACH_CONTAINER_INPUT: the request body is a RecordIO stream of `agent::Call`s, the
/// first naming the container (`CONTAINER_ID`), the rest `PROCESS_IO` records. Records are
/// bounded ([`MAX_INPUT_RECORD`]); a malformed or truncated stream ends the attach with
/// 400 and leaves the container running. Answers 200 once the stream ends.
pub async fn attach_input(
    containers: Arc<Containers>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = match streaming_content(&headers) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut stream = InputStream {
        body,
        decoder: remesos_proto::recordio::Decoder::new(MAX_INPUT_RECORD),
        pending: Default::default(),
        format,
    };
    let first = match stream.next().await {
        Ok(Some(call)) => call,
        Ok(None) => return bad("Expecting 'attach_container_input' to be present"),
        Err(r) => return r,
    };
    use v1::agent::call::attach_container_input::Type as InputType;
    if first.r#type != Some(CallType::AttachContainerInput as i32) {
        return bad("Expecting 'type' to be ATTACH_CONTAINER_INPUT");
    }
    let Some(attach) = first.attach_container_input else {
        return bad("Expecting 'attach_container_input' to be present");
    };
    if attach.r#type != Some(InputType::ContainerId as i32) {
        return bad("Expecting 'attach_container_input.type' to be CONTAINER_ID");
    }
    let id = match container_id(
        "attach_container_input",
        attach.container_id.as_ref(),
        false,
    ) {
        Ok(id) => id.clone(),
        Err(r) => return r,
    };
    let container = match authorized(&containers, &caller, Action::AttachContainerInput, &id) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if container.durable.is_some() {
        return without_switchboard();
    }
    let input = match container.attach_input() {
        Ok(i) => i,
        Err(e) => return nested_error(e),
    };
    loop {
        let call = match stream.next().await {
            Ok(Some(call)) => call,
            Ok(None) => return StatusCode::OK.into_response(),
            Err(r) => return r,
        };
        let record = call
            .attach_container_input
            .filter(|a| a.r#type == Some(InputType::ProcessIo as i32))
            .and_then(|a| a.process_io);
        let Some(record) = record else {
            return bad("Expecting 'attach_container_input.process_io' to be present");
        };
        if let Err(e) = input.apply(record).await {
            return nested_error(e);
        }
    }
}

/// The records of an ATTACH_CONTAINER_INPUT body.
struct InputStream {
    body: Body,
    decoder: remesos_proto::recordio::Decoder,
    pending: std::collections::VecDeque<Bytes>,
    format: Format,
}

impl InputStream {
    /// The next record; `Ok(None)` at the stream's clean end.
    async fn next(&mut self) -> Result<Option<v1::agent::Call>, Response> {
        use http_body_util::BodyExt;
        loop {
            if let Some(record) = self.pending.pop_front() {
                let call: v1::agent::Call = api::decode(self.format, &record)?;
                return Ok(Some(call));
            }
            let frame = match tokio::time::timeout(INPUT_IDLE_TIMEOUT, self.body.frame()).await {
                Err(_) => return Err(bad("The input stream was idle for too long")),
                Ok(None) => {
                    if self.decoder.is_empty_buffer() {
                        return Ok(None);
                    }
                    return Err(bad("The input stream ended inside a record"));
                }
                Ok(Some(Err(e))) => {
                    return Err(bad(format!("Failed to read the input stream: {e}")));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            if let Some(data) = frame.data_ref() {
                match self.decoder.feed(data) {
                    Ok(records) => self.pending.extend(records),
                    Err(e) => {
                        return Err(bad(format!("Failed to decode the input stream: {e}")));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(value: &str, parent: Option<v1::ContainerId>) -> v1::ContainerId {
        v1::ContainerId {
            value: value.to_string(),
            parent: parent.map(Box::new),
        }
    }

    #[test]
    fn an_executor_token_acts_only_on_containers_nested_under_its_own() {
        let claims: Claims = [("fid", "f"), ("eid", "e"), ("cid", "exec")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let own = container("debug", Some(container("exec", None)));
        let deeper = container("inner", Some(own.clone()));
        let other = container("debug", Some(container("someone-else", None)));
        for action in [
            Action::LaunchNestedContainer,
            Action::LaunchNestedContainerSession,
            Action::WaitNestedContainer,
            Action::KillNestedContainer,
            Action::RemoveNestedContainer,
            Action::AttachContainerOutput,
        ] {
            assert!(executor_may(action, &claims, &own), "{action:?}");
            assert!(executor_may(action, &claims, &deeper), "{action:?}");
            assert!(!executor_may(action, &claims, &other), "{action:?}");
        }
        // Mesos's implicit approver does not cover input or standalone containers.
        assert!(!executor_may(Action::AttachContainerInput, &claims, &own));
        assert!(!executor_may(
            Action::LaunchStandaloneContainer,
            &claims,
            &container("exec", None)
        ));
        let no_cid: Claims = [("fid".to_string(), "f".to_string())].into_iter().collect();
        assert!(!executor_may(Action::LaunchNestedContainer, &no_cid, &own));
    }
}
