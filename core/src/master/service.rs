//! The gRPC service agents register on: one bidirectional `Session` stream per agent
//! (proto/remesos/internal.proto). This is transport only; decisions happen in the actor.

use std::pin::Pin;

use futures::Stream;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use remesos_proto::internal as wire;
use wire::agent_service_server::{AgentService, AgentServiceServer};

use super::runtime::{AGENT_STREAM_BUFFER, Command, MasterHandle};

pub struct Service {
    master: MasterHandle,
}

pub fn server(master: MasterHandle) -> AgentServiceServer<Service> {
    AgentServiceServer::new(Service { master })
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
