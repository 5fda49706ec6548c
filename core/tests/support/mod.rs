//! Shared pieces of the integration tests: a simulated agent speaking the real gRPC
//! service.

#![allow(dead_code)] // each test binary uses a different subset

pub mod zookeeper;

use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use remesos::resources::Resources;
use remesos_proto::internal as wire;
use remesos_proto::v1;
use wire::agent_message::Message as FromAgent;
use wire::master_message::Message as ToAgent;

/// A simulated agent: registers over gRPC, runs every task it is sent to completion
/// (RUNNING, then FINISHED) and counts acknowledgements.
pub struct SimAgent {
    pub id: String,
    pub acks: mpsc::UnboundedReceiver<Vec<u8>>,
}

pub async fn start_agent(master: &str, hostname: &str, resources: &str) -> SimAgent {
    let mut client =
        wire::agent_service_client::AgentServiceClient::connect(format!("http://{master}"))
            .await
            .unwrap();
    let (tx, rx) = mpsc::channel::<wire::AgentMessage>(64);
    let info = v1::AgentInfo {
        hostname: hostname.to_string(),
        resources: Resources::parse(resources, "*").unwrap().into_protos(),
        ..Default::default()
    };
    tx.send(wire::AgentMessage {
        message: Some(FromAgent::Register(wire::Register {
            agent_info: info,
            endpoint: Some("127.0.0.1:5051".to_string()),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let mut inbound = client
        .session(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let first = inbound.next().await.unwrap().unwrap();
    let Some(ToAgent::Registered(registered)) = first.message else {
        panic!("expected Registered, got {first:?}");
    };
    let id = registered.agent_id.value.clone();
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let agent_id = id.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = inbound.next().await {
            match message.message {
                Some(ToAgent::RunTask(run)) => {
                    for state in [v1::TaskState::TaskRunning, v1::TaskState::TaskFinished] {
                        let status = v1::TaskStatus {
                            task_id: run.task.task_id.clone(),
                            state: state as i32,
                            source: Some(v1::task_status::Source::Executor as i32),
                            agent_id: Some(v1::AgentId {
                                value: agent_id.clone(),
                            }),
                            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                            ..Default::default()
                        };
                        let update = wire::StatusUpdate {
                            framework_id: run.framework.id.clone().unwrap(),
                            status,
                            latest_state: None,
                        };
                        let _ = tx
                            .send(wire::AgentMessage {
                                message: Some(FromAgent::StatusUpdate(update)),
                            })
                            .await;
                    }
                }
                Some(ToAgent::Ping(_)) => {
                    let _ = tx
                        .send(wire::AgentMessage {
                            message: Some(FromAgent::Pong(wire::Pong {})),
                        })
                        .await;
                }
                Some(ToAgent::Acknowledgement(ack)) => {
                    let _ = ack_tx.send(ack.uuid);
                }
                _ => {}
            }
        }
    });
    SimAgent { id, acks: ack_rx }
}

/// Runs one of the Python frameworks in tests/python/ against `master` with `python`,
/// asserts that it succeeded, and returns its stdout.
pub async fn run_python_framework(
    python: &str,
    script: &str,
    master: &str,
    extra: &[&str],
) -> String {
    let path = format!("{}/../tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python)
        .arg(&path)
        .args(["--master", master])
        .args(extra)
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {python} {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
