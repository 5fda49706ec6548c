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

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use remesos_proto::internal as wire;
use wire::agent_service_server::{AgentService, AgentServiceServer};

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

pub struct Service {
    master: MasterHandle,
    /// `--authenticate_agents`: the credentials agents must present; `None`: agents do not
    /// authenticate.
    agents: Option<Arc<Credentials>>,
}

pub fn server(
    master: MasterHandle,
    agents: Option<Arc<Credentials>>,
) -> AgentServiceServer<Service> {
    AgentServiceServer::new(Service { master, agents })
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024)
}

type SessionStream = Pin<Box<dyn Stream<Item = Result<wire::MasterMessage, Status>> + Send>>;

#[tonic::async_trait]
impl AgentService for Service {
    type SessionStream = SessionStream;

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
                let outbound = tokio_stream::once(Ok(shutdown));
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
        let outbound =
            ReceiverStream::new(rx).map(|message: Box<wire::MasterMessage>| Ok(*message));
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
