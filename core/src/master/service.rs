//! The gRPC service agents register on: one bidirectional `Session` stream per agent
//! (proto/remesos/internal.proto). This is transport only; decisions happen in the actor.
//!
//! With `--authenticate_agents`, a session opens only with a valid agent credential: the
//! agent sends its `--credential` as `authorization: Basic base64(principal:secret)` in the
//! session request's metadata (agent/authn.rs), checked against `--credentials` in constant
//! time before the first message is read. Mesos's master drops the registration of an
//! agent that has not authenticated ("Refusing registration of agent at ... because it is
//! not authenticated", `Master::registerSlave`, src/master/master.cpp) and the agent retries
//! with backoff; here the session is answered `UNAUTHENTICATED` and the agent's session
//! backs off the same way (agent/session.rs).
//!
//! The principal so authenticated (or none, without `--authenticate_agents`) goes with the
//! first message into the master, which asks the authorizer (`register_agents`,
//! `Master::register_agent_as`): a denied agent's session is answered `PERMISSION_DENIED`
//! with Mesos's text ("Not authorized to register agent providing resources ..."), the agent
//! logs it and retries with backoff, and nothing of it enters the registry or the state.
//!
//! What the master sends an agent waits in the session's queue already encoded
//! ([`EncodedMessage`]): a decoded `MasterMessage` is ~7.5 KB inline (a RunTask holds
//! FrameworkInfo, TaskInfo and ExecutorInfo by value) plus its strings and resources, its
//! encoding a few hundred bytes. In a one-round burst tens of thousands of RunTasks wait at
//! once (bench/README.md "Where a burst's memory goes"). The session is therefore served by
//! [`SessionServer`], the generated service's route with a codec that writes the encoded
//! bytes as they are: the same bytes on the wire, the agent's side unchanged.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use futures::Stream;
use futures::future::BoxFuture;
use prost::Message;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use remesos_proto::internal as wire;

use super::lifecycle::Refusal;
use super::runtime::{AGENT_STREAM_BUFFER, Command, MasterHandle};
use crate::security::authn::{Credentials, Principal, parse_basic};

/// The principal of a session request's `authorization` metadata, if it holds a credential
/// of `credentials`; else the `UNAUTHENTICATED` status (the reason is logged, never a
/// secret).
fn authenticate_agent(
    credentials: &Credentials,
    metadata: &tonic::metadata::MetadataMap,
) -> Result<Principal, Status> {
    let refuse = |why: &str| {
        tracing::warn!(
            reason = why,
            "Refusing registration of an agent because it is not authenticated"
        );
        Status::unauthenticated(format!(
            "agent is not authenticated ({why}); the master requires agent authentication \
             (--authenticate_agents): give the agent --credential"
        ))
    };
    let mut values = metadata.get_all("authorization").iter();
    let Some(value) = values.next() else {
        return Err(refuse("no credential presented"));
    };
    if values.next().is_some() {
        return Err(refuse("more than one credential presented"));
    }
    let basic = parse_basic(value.as_bytes()).map_err(|e| refuse(&e.to_string()))?;
    if !credentials.verify(&basic.principal, basic.secret.as_bytes()) {
        return Err(refuse("invalid credential"));
    }
    Ok(basic.principal)
}

/// A `MasterMessage` in its protobuf encoding, as an agent session's queue holds it
/// (see the module doc). As a [`prost::Message`] it only encodes: it writes its bytes as
/// they are, so a stream of them is a stream of `MasterMessage`s on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncodedMessage(Bytes);

impl EncodedMessage {
    pub fn new(message: &wire::MasterMessage) -> Self {
        EncodedMessage(Bytes::from(message.encode_to_vec()))
    }

    /// Bytes that already are a message's encoding, sent as they are (the scale bench's
    /// simulated agents send their kept `AgentMessage` encodings with it).
    pub fn from_bytes(bytes: Bytes) -> Self {
        EncodedMessage(bytes)
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }
}

impl prost::Message for EncodedMessage {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    /// Never decoded by the master (the codec decodes `AgentMessage`s); skips the field.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0 = Bytes::new();
    }
}

pub struct Service {
    master: MasterHandle,
    /// `--authenticate_agents`: the credentials agents must present; `None`: agents do not
    /// authenticate.
    agents: Option<Arc<Credentials>>,
}

/// Messages a session's encoding may hold (the agent decodes up to the same).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

pub fn server(master: MasterHandle, agents: Option<Arc<Credentials>>) -> SessionServer {
    SessionServer(Arc::new(Service { master, agents }))
}

/// `remesos.internal.AgentService` as the generated server serves it, its one method
/// `Session` answering with [`EncodedMessage`]s (decoding `AgentMessage`s as before).
#[derive(Clone)]
pub struct SessionServer(Arc<Service>);

impl tonic::server::NamedService for SessionServer {
    const NAME: &'static str = wire::agent_service_server::SERVICE_NAME;
}

const SESSION_PATH: &str = "/remesos.internal.AgentService/Session";

struct SessionMethod(Arc<Service>);

impl tonic::server::StreamingService<wire::AgentMessage> for SessionMethod {
    type Response = EncodedMessage;
    type ResponseStream = SessionStream;
    type Future = BoxFuture<'static, Result<Response<SessionStream>, Status>>;

    fn call(&mut self, request: Request<Streaming<wire::AgentMessage>>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move { service.session(request).await })
    }
}

impl<B> tower::Service<http::Request<B>> for SessionServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != SESSION_PATH {
            return Box::pin(async { Ok(Status::unimplemented("unknown method").into_http()) });
        }
        let service = self.0.clone();
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<EncodedMessage, wire::AgentMessage>::default();
            let mut grpc = tonic::server::Grpc::new(codec)
                .apply_max_message_size_config(Some(MAX_MESSAGE), Some(MAX_MESSAGE));
            Ok(grpc.streaming(SessionMethod(service), request).await)
        })
    }
}

type SessionStream = Pin<Box<dyn Stream<Item = Result<EncodedMessage, Status>> + Send>>;

impl Service {
    async fn session(
        &self,
        request: Request<Streaming<wire::AgentMessage>>,
    ) -> Result<Response<SessionStream>, Status> {
        let principal = match &self.agents {
            Some(credentials) => {
                let principal = authenticate_agent(credentials, request.metadata())?;
                tracing::info!(%principal, "agent authenticated");
                Some(principal)
            }
            None => None,
        };
        let mut inbound = request.into_inner();
        let first = match inbound.next().await {
            Some(Ok(wire::AgentMessage { message: Some(m) })) => m,
            Some(Ok(_)) => return Err(Status::invalid_argument("empty first message")),
            Some(Err(e)) => return Err(e),
            None => return Err(Status::cancelled("session closed before registering")),
        };
        let (tx, rx) = mpsc::channel(AGENT_STREAM_BUFFER);
        let (reply_tx, reply_rx) = oneshot::channel();
        self.master
            .send(Command::AgentSession {
                first,
                principal,
                messages: tx,
                reply: reply_tx,
            })
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let (conn, agent_id) = match reply_rx.await {
            Ok(Ok(ok)) => ok,
            Ok(Err(refused)) if refused.shuts_down() => {
                // As Mesos's master does, a gone agent (or one on a DOWN machine) is told to
                // shut down rather than refused: it stops its executors and exits instead
                // of retrying forever.
                let shutdown = wire::MasterMessage {
                    message: Some(wire::master_message::Message::Shutdown(wire::Shutdown {
                        message: Some(refused.0),
                    })),
                };
                let outbound = tokio_stream::once(Ok(EncodedMessage::new(&shutdown)));
                return Ok(Response::new(Box::pin(outbound)));
            }
            // `register_agents` denied it: a status the agent logs and retries after with
            // backoff, as after an authentication failure (Mesos drops the registration
            // without an answer; its agent retries the same way).
            Ok(Err(refused)) if refused.1 == Refusal::Forbidden => {
                return Err(Status::permission_denied(refused.0));
            }
            Ok(Err(refused)) => return Err(Status::invalid_argument(refused.0)),
            Err(_) => return Err(Status::unavailable("the master is shutting down")),
        };
        let master = self.master.clone();
        tokio::spawn(async move {
            while let Some(item) = inbound.next().await {
                match item {
                    Ok(wire::AgentMessage {
                        message: Some(message),
                    }) => {
                        let command = Command::AgentMessage {
                            conn,
                            agent_id: agent_id.clone(),
                            message,
                        };
                        // A full inbox stops this reader, which pushes back to the agent.
                        if master.send(command).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(%agent_id, error = %e, "agent session broke");
                        break;
                    }
                }
            }
            let _ = master
                .send(Command::AgentSessionClosed { conn, agent_id })
                .await;
        });
        let outbound = ReceiverStream::new(rx).map(Ok);
        Ok(Response::new(Box::pin(outbound)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn credentials() -> Credentials {
        Credentials::parse(r#"{"credentials": [{"principal": "agent", "secret": "s3cret"}]}"#)
            .unwrap()
    }

    fn metadata(values: &[&str]) -> tonic::metadata::MetadataMap {
        let mut m = tonic::metadata::MetadataMap::new();
        for v in values {
            m.append("authorization", v.parse().unwrap());
        }
        m
    }

    fn basic(pair: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// What an agent session's queue holds is written to the wire as the bytes prost writes
    /// for the `MasterMessage` itself: small and large messages, an empty one, and the
    /// agent decodes each back to the message the master decided to send.
    #[test]
    fn an_encoded_message_is_written_as_the_message_itself() {
        use wire::master_message::Message as M;
        let task = remesos_proto::v1::TaskInfo {
            name: "t".into(),
            task_id: remesos_proto::v1::TaskId { value: "t1".into() },
            agent_id: remesos_proto::v1::AgentId { value: "S0".into() },
            resources: crate::resources::Resources::parse("cpus:1;mem:1", "*")
                .unwrap()
                .into_protos(),
            ..Default::default()
        };
        let messages = [
            wire::MasterMessage::default(),
            wire::MasterMessage {
                message: Some(M::Ping(Default::default())),
            },
            wire::MasterMessage {
                message: Some(M::RunTask(wire::RunTask {
                    task,
                    ..Default::default()
                })),
            },
            wire::MasterMessage {
                message: Some(M::Shutdown(wire::Shutdown {
                    message: Some("bye".into()),
                })),
            },
        ];
        for message in messages {
            let encoded = EncodedMessage::new(&message);
            assert_eq!(encoded.encoded_len(), message.encoded_len());
            assert_eq!(encoded.encode_to_vec(), message.encode_to_vec());
            let mut framed = Vec::new();
            encoded.encode_length_delimited(&mut framed).unwrap();
            assert_eq!(framed, message.encode_length_delimited_to_vec());
            let decoded = wire::MasterMessage::decode(encoded.bytes().clone()).unwrap();
            assert_eq!(decoded, message);
        }
    }

    /// Bad input: a request for a method the service does not have is answered gRPC
    /// `UNIMPLEMENTED`, as the generated server answers it, and reaches no session.
    #[tokio::test]
    async fn an_unknown_method_is_unimplemented() {
        use tower::Service as _;
        let master = crate::master::runtime::spawn(crate::master::Master::new(
            crate::master::Config::default(),
            "M".to_string(),
            crate::master::runtime::now(),
        ));
        let mut server = server(master, None);
        let request = http::Request::post("/remesos.internal.AgentService/Other")
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::empty())
            .unwrap();
        let response = server.call(request).await.unwrap();
        assert_eq!(
            response.headers().get("grpc-status").map(|v| v.as_bytes()),
            Some(b"12".as_slice())
        );
    }

    /// `Master::registerSlave` (src/master/master.cpp): with `--authenticate_agents` an agent
    /// that did not authenticate is refused; here its session, before any message is read.
    #[test]
    fn only_an_agent_with_a_valid_credential_opens_a_session() {
        let c = credentials();
        let ok = authenticate_agent(&c, &metadata(&[&basic("agent:s3cret")])).unwrap();
        assert_eq!(ok.as_str(), "agent");
        for (values, why) in [
            (vec![], "no credential presented"),
            (vec![basic("agent:guess")], "invalid credential"),
            (vec![basic("other:s3cret")], "invalid credential"),
            (vec!["Bearer x".to_string()], "Authorization scheme"),
            (vec!["Basic !!".to_string()], "base64"),
            (
                vec![basic("agent:s3cret"), basic("agent:s3cret")],
                "more than one credential",
            ),
        ] {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let status = authenticate_agent(&c, &metadata(&refs)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
            assert!(status.message().contains(why), "{}", status.message());
            assert!(!status.message().contains("guess"));
        }
    }

    /// `--authenticate_agents` without `--credentials` would refuse every agent: the master
    /// stops instead (documented); with them, the service requires agents' credentials.
    #[test]
    fn authenticate_agents_needs_credentials() {
        let flags = crate::master::flags::flags();
        let load = |args: &[&str]| {
            let loaded = flags
                .load(args, std::iter::empty::<(&str, &str)>())
                .unwrap();
            crate::master::flags::authentication(&loaded)
        };
        let err = load(&["--authenticate_agents"]).unwrap_err();
        assert!(
            err.starts_with("--authenticate_agents is set but --credentials is not"),
            "{err}"
        );
        // Mesos's older name.
        assert!(load(&["--authenticate_slaves=true"]).is_err());
        let dir =
            std::env::temp_dir().join(format!("remesos-agent-creds-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("credentials.json");
        std::fs::write(
            &path,
            r#"{"credentials": [{"principal": "agent", "secret": "s"}]}"#,
        )
        .unwrap();
        let creds = format!("--credentials={}", path.display());
        assert!(
            load(&["--authenticate_agents", &creds])
                .unwrap()
                .agents
                .is_some()
        );
        assert!(load(&[&creds]).unwrap().agents.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
