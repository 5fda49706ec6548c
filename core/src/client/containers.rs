//! The agent operator API's container calls an executor makes for its tasks: the default
//! executor's LAUNCH_CONTAINER, WAIT and KILL (src/launcher/default_executor.cpp:
//! `_launchGroup`, `waitChild`, `kill`; it sends the deprecated *_NESTED_CONTAINER forms,
//! these are their successors, WAIT_CONTAINER and KILL_CONTAINER, same answers), on
//! `/api/v1` beside the executor API, with the executor's token (`Authorization: Bearer`)
//! when the agent gave it one. Protobuf both ways, as Mesos's default executor speaks.

use bytes::Bytes;
use prost::Message;
use remesos_proto::v1;
use v1::agent::call::Type as CallType;

use super::executor::ExecutorEnv;
use super::{Error, Format, HttpClient, Result};

/// A client of one agent's container calls.
pub struct AgentContainers {
    client: HttpClient,
    url: String,
    authorization: Option<String>,
}

impl AgentContainers {
    /// The agent `env` names: its executor API's path without `/executor`.
    pub fn new(env: &ExecutorEnv) -> AgentContainers {
        let api = env.api_path.strip_suffix("/executor").unwrap_or("/api/v1");
        AgentContainers {
            client: HttpClient::default(),
            url: format!("{}://{}{}", super::scheme(), env.agent_endpoint, api),
            authorization: env
                .authentication_token
                .as_ref()
                .map(|t| format!("Bearer {t}")),
        }
    }

    async fn call(&self, call: v1::agent::Call) -> Result<Bytes> {
        let format = Format::Protobuf;
        let headers: Vec<(&str, &str)> = self
            .authorization
            .as_deref()
            .map(|a| ("authorization", a))
            .into_iter()
            .collect();
        let response = self
            .client
            .post(
                &self.url,
                format.media_type(),
                format.media_type(),
                &headers,
                format.encode(&call),
            )
            .await?;
        let status = response.status().as_u16();
        let body = super::collect(response).await?;
        if !(200..300).contains(&status) {
            return Err(Error::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(body)
    }

    /// LAUNCH_CONTAINER of `id` (nested under the executor's container) running `command`;
    /// `container` as the task asked. 200 (launched) and 202 (it already exists) are Ok.
    pub async fn launch(
        &self,
        id: &v1::ContainerId,
        command: v1::CommandInfo,
        container: Option<v1::ContainerInfo>,
        resources: Vec<v1::Resource>,
    ) -> Result<()> {
        let call = v1::agent::Call {
            r#type: Some(CallType::LaunchContainer as i32),
            launch_container: Some(v1::agent::call::LaunchContainer {
                container_id: id.clone(),
                command: Some(command),
                resources,
                container,
                ..Default::default()
            }),
            ..Default::default()
        };
        self.call(call).await.map(|_| ())
    }

    /// WAIT_CONTAINER: waits until `id` ended and returns its raw wait status
    /// (`None` when the agent does not know it).
    pub async fn wait(&self, id: &v1::ContainerId) -> Result<Option<i32>> {
        let call = v1::agent::Call {
            r#type: Some(CallType::WaitContainer as i32),
            wait_container: Some(v1::agent::call::WaitContainer {
                container_id: id.clone(),
            }),
            ..Default::default()
        };
        let body = self.call(call).await?;
        let response =
            v1::agent::Response::decode(body.as_ref()).map_err(|e| Error::Decode(e.to_string()))?;
        Ok(response.wait_container.and_then(|w| w.exit_status))
    }

    /// KILL_CONTAINER with `signal`.
    pub async fn kill(&self, id: &v1::ContainerId, signal: i32) -> Result<()> {
        let call = v1::agent::Call {
            r#type: Some(CallType::KillContainer as i32),
            kill_container: Some(v1::agent::call::KillContainer {
                container_id: id.clone(),
                signal: Some(signal),
            }),
            ..Default::default()
        };
        self.call(call).await.map(|_| ())
    }
}
