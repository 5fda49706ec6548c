//! A client of the v1 executor API (`POST /api/v1/executor` on the agent,
//! reference/mesos-contract.md §3.3): SUBSCRIBE opens the RecordIO event stream; UPDATE,
//! MESSAGE and HEARTBEAT are separate POSTs (the executor API has no `Mesos-Stream-Id`).
//!
//! The agent is found through the Mesos executor environment (§4.1), parsed by
//! [`ExecutorEnv::from_env`] from variables passed in, never read here.
//!
//! Status updates are at-least-once (§8.2): [`Connection::update`] keeps every update until an
//! ACKNOWLEDGED event with its uuid arrives on the stream, and a (re)subscription carries the
//! ones still unacknowledged. [`Connection::resubscribe`] follows Mesos's executor library
//! (`src/executor/executor.cpp`): after a broken stream it reconnects only when the framework
//! checkpoints, waiting a random time up to `MESOS_SUBSCRIPTION_BACKOFF_MAX` between attempts
//! and giving up `MESOS_RECOVERY_TIMEOUT` after the stream broke.

use std::path::PathBuf;
use std::time::Duration;

use http_body_util::BodyExt;
use prost::Message;
use tokio::time::Instant;

use remesos_proto::recordio;
use remesos_proto::v1;
use v1::executor::{self as exec, call, event};

use super::{Error, Format, HttpClient, Result};
use crate::common::backoff::Backoff;
use crate::duration::parse_duration;

/// Largest event the client accepts (a LAUNCH carries one TaskInfo; 64 MiB is generous).
const MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// Mesos's `--executor_shutdown_grace_period` default (`src/slave/constants.hpp`), used
/// when `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` is absent, as Mesos's command executor does.
pub const DEFAULT_SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(5);

/// How long the first subscription is retried: the agent's default
/// `--executor_registration_timeout`, after which it destroys an executor that has not
/// subscribed anyway.
pub const INITIAL_SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest wait between first-subscription attempts (Mesos's command executor retries
/// SUBSCRIBE every second until subscribed).
const INITIAL_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Shortest wait between attempts, so a zero backoff never spins.
const MIN_BACKOFF: Duration = Duration::from_millis(10);

/// Bound on one SUBSCRIBE attempt (connect, answer, SUBSCRIBED event), so an agent that
/// accepts connections but never answers does not stall reconnection.
const SUBSCRIBE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on one UPDATE/MESSAGE/HEARTBEAT POST.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the executor environment was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("expecting '{0}' to be set in the environment")]
    Missing(&'static str),
    #[error("failed to parse value '{value}' of '{name}': {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// The Mesos executor environment (reference/mesos-contract.md §4.1) as an executor needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutorEnv {
    /// `MESOS_FRAMEWORK_ID`.
    pub framework_id: v1::FrameworkId,
    /// `MESOS_EXECUTOR_ID`.
    pub executor_id: v1::ExecutorId,
    /// `MESOS_SLAVE_ID`, when given.
    pub agent_id: Option<v1::AgentId>,
    /// `ip:port` of the agent: `MESOS_AGENT_ENDPOINT`, else the address in `MESOS_SLAVE_PID`.
    pub agent_endpoint: String,
    /// The API path on the agent: `/api/v1/executor`, or `/<id>/api/v1/executor` when the
    /// endpoint came from `MESOS_SLAVE_PID` (`slave(1)@ip:port`), as Mesos's library builds it.
    pub api_path: String,
    /// `MESOS_DIRECTORY`: the sandbox as the agent sees it.
    pub directory: Option<PathBuf>,
    /// `MESOS_SANDBOX`: the sandbox as the executor sees it.
    pub sandbox: Option<PathBuf>,
    /// `MESOS_CHECKPOINT == "1"`: the framework checkpoints, so the executor survives agent
    /// restarts by reconnecting.
    pub checkpoint: bool,
    /// `MESOS_RECOVERY_TIMEOUT`; required when `checkpoint`.
    pub recovery_timeout: Option<Duration>,
    /// `MESOS_SUBSCRIPTION_BACKOFF_MAX`; required when `checkpoint`.
    pub subscription_backoff_max: Option<Duration>,
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`, else [`DEFAULT_SHUTDOWN_GRACE_PERIOD`].
    pub shutdown_grace_period: Duration,
    /// `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, sent as `Authorization: Bearer <token>`.
    pub authentication_token: Option<String>,
}

impl ExecutorEnv {
    /// Parses the executor environment from `vars` (normally `std::env::vars()`).
    ///
    /// Like Mesos's executor library, `MESOS_RECOVERY_TIMEOUT` and
    /// `MESOS_SUBSCRIPTION_BACKOFF_MAX` are required only when `MESOS_CHECKPOINT=1`.
    pub fn from_env<K, V>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> std::result::Result<Self, EnvError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let vars: std::collections::HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        let get = |name: &str| vars.get(name).map(String::as_str);
        let required = |name: &'static str| get(name).ok_or(EnvError::Missing(name));
        let duration = |name: &'static str| -> std::result::Result<Option<Duration>, EnvError> {
            get(name)
                .map(|value| {
                    parse_duration(value).map_err(|e| EnvError::Invalid {
                        name,
                        value: value.to_string(),
                        reason: e.to_string(),
                    })
                })
                .transpose()
        };

        let framework_id = v1::FrameworkId {
            value: required("MESOS_FRAMEWORK_ID")?.to_string(),
        };
        let executor_id = v1::ExecutorId {
            value: required("MESOS_EXECUTOR_ID")?.to_string(),
        };
        let (agent_endpoint, api_path) = match (get("MESOS_AGENT_ENDPOINT"), get("MESOS_SLAVE_PID"))
        {
            (Some(endpoint), _) => {
                check_endpoint("MESOS_AGENT_ENDPOINT", endpoint)?;
                (endpoint.to_string(), "/api/v1/executor".to_string())
            }
            (None, Some(pid)) => {
                let (id, endpoint) = parse_pid(pid)?;
                (endpoint, format!("/{id}/api/v1/executor"))
            }
            (None, None) => return Err(EnvError::Missing("MESOS_AGENT_ENDPOINT")),
        };
        let checkpoint = get("MESOS_CHECKPOINT") == Some("1");
        let recovery_timeout = duration("MESOS_RECOVERY_TIMEOUT")?;
        let subscription_backoff_max = duration("MESOS_SUBSCRIPTION_BACKOFF_MAX")?;
        if checkpoint && recovery_timeout.is_none() {
            return Err(EnvError::Missing("MESOS_RECOVERY_TIMEOUT"));
        }
        if checkpoint && subscription_backoff_max.is_none() {
            return Err(EnvError::Missing("MESOS_SUBSCRIPTION_BACKOFF_MAX"));
        }
        Ok(ExecutorEnv {
            framework_id,
            executor_id,
            agent_id: get("MESOS_SLAVE_ID").map(|v| v1::AgentId {
                value: v.to_string(),
            }),
            agent_endpoint,
            api_path,
            directory: get("MESOS_DIRECTORY").map(PathBuf::from),
            sandbox: get("MESOS_SANDBOX").map(PathBuf::from),
            checkpoint,
            recovery_timeout,
            subscription_backoff_max,
            shutdown_grace_period: duration("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD")?
                .unwrap_or(DEFAULT_SHUTDOWN_GRACE_PERIOD),
            authentication_token: get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN").map(str::to_string),
        })
    }

    /// `http://<agent>/<path>` (`https` with TLS, [`super::scheme`]): where calls go.
    pub fn url(&self) -> String {
        format!(
            "{}://{}{}",
            super::scheme(),
            self.agent_endpoint,
            self.api_path
        )
    }

    /// The sandbox the executor works in: `MESOS_SANDBOX`, else `MESOS_DIRECTORY`.
    pub fn sandbox_dir(&self) -> Option<&std::path::Path> {
        self.sandbox.as_deref().or(self.directory.as_deref())
    }
}

fn check_endpoint(name: &'static str, endpoint: &str) -> std::result::Result<(), EnvError> {
    let invalid = |reason: &str| EnvError::Invalid {
        name,
        value: endpoint.to_string(),
        reason: reason.to_string(),
    };
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| invalid("expected 'ip:port'"))?;
    if host.is_empty() {
        return Err(invalid("expected 'ip:port'"));
    }
    port.parse::<u16>().map_err(|_| invalid("invalid port"))?;
    Ok(())
}

/// Splits a libprocess pid `id@ip:port` into its id and address.
fn parse_pid(pid: &str) -> std::result::Result<(String, String), EnvError> {
    const NAME: &str = "MESOS_SLAVE_PID";
    let (id, endpoint) = pid.split_once('@').ok_or_else(|| EnvError::Invalid {
        name: NAME,
        value: pid.to_string(),
        reason: "expected 'id@ip:port'".to_string(),
    })?;
    if id.is_empty() || id.contains('/') {
        return Err(EnvError::Invalid {
            name: NAME,
            value: pid.to_string(),
            reason: "invalid process id".to_string(),
        });
    }
    check_endpoint(NAME, endpoint).map_err(|_| EnvError::Invalid {
        name: NAME,
        value: pid.to_string(),
        reason: "expected 'id@ip:port'".to_string(),
    })?;
    Ok((id.to_string(), endpoint.to_string()))
}

/// The live event stream of one subscription.
struct Stream {
    body: hyper::body::Incoming,
    decoder: recordio::Decoder,
    pending: std::collections::VecDeque<bytes::Bytes>,
}

/// A connection to the agent's executor API: the subscription's event stream, the calls,
/// and the status updates not yet acknowledged.
pub struct Connection {
    client: HttpClient,
    url: String,
    format: Format,
    framework_id: v1::FrameworkId,
    executor_id: v1::ExecutorId,
    authorization: Option<String>,
    checkpoint: bool,
    backoff_max: Option<Duration>,
    recovery_timeout: Option<Duration>,
    /// The current subscription's stream; `None` before the first SUBSCRIBED and after the
    /// stream broke.
    stream: Option<Stream>,
    /// Whether a subscription ever succeeded (reconnection rules differ before and after).
    ever_subscribed: bool,
    /// When the current run of failed (re)subscription attempts began: the recovery timeout
    /// counts from here. Kept across cancelled [`Connection::resubscribe`] futures.
    broken_since: Option<Instant>,
    /// Updates sent but not acknowledged, oldest first, keyed by their uuid. A `Vec`: an
    /// executor has a handful in flight at most.
    unacknowledged: Vec<call::Update>,
}

impl Connection {
    /// A connection to the agent named by `env`; nothing is sent until [`Connection::subscribe`].
    pub fn new(env: &ExecutorEnv, format: Format) -> Connection {
        Connection {
            client: HttpClient::default(),
            url: env.url(),
            format,
            framework_id: env.framework_id.clone(),
            executor_id: env.executor_id.clone(),
            authorization: env
                .authentication_token
                .as_ref()
                .map(|t| format!("Bearer {t}")),
            checkpoint: env.checkpoint,
            backoff_max: env.subscription_backoff_max,
            recovery_timeout: env.recovery_timeout,
            stream: None,
            ever_subscribed: false,
            broken_since: None,
            unacknowledged: Vec::new(),
        }
    }

    /// Whether the event stream is open.
    pub fn is_subscribed(&self) -> bool {
        self.stream.is_some()
    }

    /// The updates sent and not yet acknowledged, oldest first.
    pub fn unacknowledged_updates(&self) -> &[call::Update] {
        &self.unacknowledged
    }

    fn call(&self, r#type: call::Type) -> exec::Call {
        exec::Call {
            executor_id: self.executor_id.clone(),
            framework_id: self.framework_id.clone(),
            r#type: Some(r#type as i32),
            ..Default::default()
        }
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        match &self.authorization {
            Some(value) => vec![("Authorization", value.as_str())],
            None => Vec::new(),
        }
    }

    /// SUBSCRIBEs and waits for SUBSCRIBED. `unacknowledged_updates` are added to those this
    /// connection already holds (an executor that restarted may hand in what it checkpointed);
    /// all of them go in the call, with `unacknowledged_tasks` (tasks launched whose updates
    /// were never acknowledged).
    pub async fn subscribe(
        &mut self,
        unacknowledged_tasks: Vec<v1::TaskInfo>,
        unacknowledged_updates: Vec<call::Update>,
    ) -> Result<event::Subscribed> {
        for update in unacknowledged_updates {
            let uuid = update.status.uuid.clone();
            if uuid.is_none() || !self.unacknowledged.iter().any(|u| u.status.uuid == uuid) {
                self.unacknowledged.push(update);
            }
        }
        self.stream = None;
        let mut call = self.call(call::Type::Subscribe);
        call.subscribe = Some(call::Subscribe {
            unacknowledged_tasks,
            unacknowledged_updates: self.unacknowledged.clone(),
        });
        let response = self
            .client
            .post(
                &self.url,
                self.format.media_type(),
                self.format.media_type(),
                &self.headers(),
                self.format.encode(&call),
            )
            .await?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = super::collect(response).await?;
            return Err(Error::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        // The stream becomes the connection's only once SUBSCRIBED is read, so a cancelled
        // subscribe leaves no half-open subscription behind.
        let mut stream = Stream {
            body: response.into_body(),
            decoder: recordio::Decoder::new(MAX_EVENT_BYTES),
            pending: Default::default(),
        };
        let first = read_event(&mut stream, self.format).await?;
        match (event_type(&first), first.subscribed, first.error) {
            (Some(event::Type::Subscribed), Some(subscribed), _) => {
                self.stream = Some(stream);
                self.ever_subscribed = true;
                self.broken_since = None;
                Ok(subscribed)
            }
            (_, _, Some(e)) => Err(Error::Status {
                status: 200,
                body: e.message,
            }),
            _ => Err(Error::Decode("the first event was not SUBSCRIBED".into())),
        }
    }

    /// (Re)subscribes with the unacknowledged updates this connection holds, retrying:
    ///
    /// - before the first successful subscription: a random wait of up to a second (or
    ///   `MESOS_SUBSCRIPTION_BACKOFF_MAX` when smaller) between attempts, for up to
    ///   [`INITIAL_SUBSCRIBE_TIMEOUT`];
    /// - after the stream broke: only when the framework checkpoints — otherwise it fails at
    ///   once and the executor is expected to shut down, as with Mesos's library; a random
    ///   wait up to `MESOS_SUBSCRIPTION_BACKOFF_MAX` between attempts, until
    ///   `MESOS_RECOVERY_TIMEOUT` has passed since the stream broke.
    ///
    /// Cancel-safe: the time the connection broke is kept, so a dropped future and a new call
    /// continue the same recovery period.
    pub async fn resubscribe(
        &mut self,
        unacknowledged_tasks: Vec<v1::TaskInfo>,
    ) -> Result<event::Subscribed> {
        let (backoff_max, give_up_after) = if !self.ever_subscribed {
            let backoff = self
                .backoff_max
                .map_or(INITIAL_BACKOFF_MAX, |b| b.min(INITIAL_BACKOFF_MAX));
            (backoff, INITIAL_SUBSCRIBE_TIMEOUT)
        } else if self.checkpoint {
            (
                self.backoff_max.unwrap_or(INITIAL_BACKOFF_MAX),
                self.recovery_timeout.unwrap_or(INITIAL_SUBSCRIBE_TIMEOUT),
            )
        } else {
            return Err(Error::Http(
                "disconnected from the agent and the framework does not checkpoint".into(),
            ));
        };
        // Without growth: each wait is uniform in [0, backoff_max], at least MIN_BACKOFF.
        let mut backoff = Backoff::new(backoff_max, backoff_max).with_floor(MIN_BACKOFF);
        let since = *self.broken_since.get_or_insert_with(Instant::now);
        let deadline = since + give_up_after;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Http(format!(
                    "could not subscribe with the agent at {} within {}",
                    self.url,
                    crate::duration::format_duration(give_up_after)
                )));
            }
            let attempt = SUBSCRIBE_ATTEMPT_TIMEOUT.min(deadline - now);
            match tokio::time::timeout(
                attempt,
                self.subscribe(unacknowledged_tasks.clone(), Vec::new()),
            )
            .await
            {
                Ok(Ok(subscribed)) => return Ok(subscribed),
                Ok(Err(e)) => tracing::debug!(url = %self.url, error = %e, "subscribe failed"),
                Err(_) => tracing::debug!(url = %self.url, "subscribe timed out"),
            }
            self.stream = None;
            let wait = backoff.next_delay();
            tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// The next event on the stream (heartbeats included). An ACKNOWLEDGED event also
    /// releases the update it names. On a broken or ended stream the subscription is dropped
    /// (see [`Connection::resubscribe`]). Cancel-safe: no event is lost if the future is
    /// dropped.
    pub async fn next_event(&mut self) -> Result<exec::Event> {
        let result = match self.stream.as_mut() {
            Some(stream) => read_event(stream, self.format).await,
            None => Err(Error::StreamEnded),
        };
        match &result {
            Ok(event) => {
                if let (Some(event::Type::Acknowledged), Some(ack)) =
                    (event_type(event), event.acknowledged.as_ref())
                {
                    self.unacknowledged
                        .retain(|u| u.status.uuid.as_deref() != Some(ack.uuid.as_slice()));
                }
            }
            Err(_) => {
                self.stream = None;
                if self.ever_subscribed {
                    self.broken_since.get_or_insert_with(Instant::now);
                }
            }
        }
        result
    }

    /// Sends a status update. Fills in `uuid` (a fresh UUID v4, unless the caller set one),
    /// `timestamp` (now, unless set), `source = SOURCE_EXECUTOR` and `executor_id`, and keeps
    /// the update as unacknowledged — even when the POST fails, so it goes out again with the
    /// next subscription. Returns the uuid. Without a subscription only the keeping happens
    /// and the result is `Err(StreamEnded)`.
    pub async fn update(&mut self, mut status: v1::TaskStatus) -> Result<Vec<u8>> {
        let uuid = status
            .uuid
            .get_or_insert_with(|| uuid::Uuid::new_v4().as_bytes().to_vec())
            .clone();
        if status.timestamp.is_none() {
            status.timestamp = Some(wall_clock_seconds());
        }
        status.source = Some(v1::task_status::Source::Executor as i32);
        status.executor_id = Some(self.executor_id.clone());
        let update = call::Update { status };
        if !self
            .unacknowledged
            .iter()
            .any(|u| u.status.uuid.as_deref() == Some(uuid.as_slice()))
        {
            self.unacknowledged.push(update.clone());
        }
        if self.stream.is_none() {
            return Err(Error::StreamEnded);
        }
        let mut call = self.call(call::Type::Update);
        call.update = Some(update);
        self.send(call).await?;
        Ok(uuid)
    }

    /// Sends a framework message (MESSAGE).
    pub async fn message(&self, data: Vec<u8>) -> Result<()> {
        let mut call = self.call(call::Type::Message);
        call.message = Some(call::Message { data });
        self.send(call).await
    }

    /// Sends HEARTBEAT (Mesos's library sends one every 30 minutes to keep the connection
    /// through proxies).
    pub async fn heartbeat(&self) -> Result<()> {
        self.send(self.call(call::Type::Heartbeat)).await
    }

    async fn send(&self, call: exec::Call) -> Result<()> {
        let headers = self.headers();
        let post = self.client.post(
            &self.url,
            self.format.media_type(),
            self.format.media_type(),
            &headers,
            self.format.encode(&call),
        );
        let response = tokio::time::timeout(CALL_TIMEOUT, post)
            .await
            .map_err(|_| Error::Http(format!("no answer from {} within 30secs", self.url)))??;
        let status = response.status().as_u16();
        let body = super::collect(response).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(Error::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        }
    }
}

/// The type of an event, when known.
pub fn event_type(event: &exec::Event) -> Option<event::Type> {
    event.r#type.and_then(|t| event::Type::try_from(t).ok())
}

/// Reads the next event of `stream`. Cancel-safe: records are buffered in `stream`.
async fn read_event(stream: &mut Stream, format: Format) -> Result<exec::Event> {
    loop {
        if let Some(record) = stream.pending.pop_front() {
            return decode(format, &record);
        }
        let Some(frame) = stream.body.frame().await else {
            return Err(Error::StreamEnded);
        };
        let frame = frame.map_err(|e| Error::Http(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            let records = stream
                .decoder
                .feed(&data)
                .map_err(|e| Error::Decode(e.to_string()))?;
            stream.pending.extend(records);
        }
    }
}

fn decode(format: Format, record: &[u8]) -> Result<exec::Event> {
    match format {
        Format::Protobuf => exec::Event::decode(record).map_err(|e| Error::Decode(e.to_string())),
        Format::Json => {
            remesos_proto::json::from_slice(record).map_err(|e| Error::Decode(e.to_string()))
        }
    }
}

/// Seconds since the Unix epoch, as `TaskStatus.timestamp` carries them.
#[allow(
    clippy::disallowed_methods,
    reason = "the executor library stamps updates it sends"
)]
fn wall_clock_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("MESOS_FRAMEWORK_ID", "fw-1"),
            ("MESOS_EXECUTOR_ID", "task-1"),
            ("MESOS_AGENT_ENDPOINT", "10.0.0.1:5051"),
            ("MESOS_SLAVE_PID", "slave(1)@10.0.0.2:5052"),
            (
                "MESOS_DIRECTORY",
                "/var/lib/mesos/slaves/a/frameworks/f/executors/e/runs/c",
            ),
            ("MESOS_SANDBOX", "/mnt/mesos/sandbox"),
            ("MESOS_SLAVE_ID", "agent-1"),
        ]
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut vars = base();
        for (k, v) in extra {
            vars.retain(|(name, _)| name != k);
            vars.push((k, v));
        }
        vars
    }

    fn without(name: &str) -> Vec<(&'static str, &'static str)> {
        base().into_iter().filter(|(k, _)| *k != name).collect()
    }

    #[test]
    fn parses_the_mesos_executor_environment() {
        let env = ExecutorEnv::from_env(with(&[("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "7secs")]))
            .unwrap();
        assert_eq!(env.framework_id.value, "fw-1");
        assert_eq!(env.executor_id.value, "task-1");
        assert_eq!(env.agent_id.as_ref().unwrap().value, "agent-1");
        // MESOS_AGENT_ENDPOINT wins over MESOS_SLAVE_PID.
        assert_eq!(env.url(), "http://10.0.0.1:5051/api/v1/executor");
        assert_eq!(
            env.sandbox_dir(),
            Some(std::path::Path::new("/mnt/mesos/sandbox"))
        );
        assert!(!env.checkpoint);
        assert_eq!(env.shutdown_grace_period, Duration::from_secs(7));
        assert_eq!(env.recovery_timeout, None);
    }

    #[test]
    fn slave_pid_gives_the_prefixed_path() {
        // reference/mesos-contract.md §3.1: `/slave(1)/api/v1/executor` ≡ `/api/v1/executor`.
        let env = ExecutorEnv::from_env(without("MESOS_AGENT_ENDPOINT")).unwrap();
        assert_eq!(env.url(), "http://10.0.0.2:5052/slave(1)/api/v1/executor");
        let err = ExecutorEnv::from_env(
            with(&[("MESOS_SLAVE_PID", "10.0.0.2:5052")])
                .into_iter()
                .filter(|(k, _)| *k != "MESOS_AGENT_ENDPOINT"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("MESOS_SLAVE_PID"), "{err}");
    }

    #[test]
    fn sandbox_falls_back_to_directory_and_grace_to_five_seconds() {
        let env = ExecutorEnv::from_env(without("MESOS_SANDBOX")).unwrap();
        assert_eq!(
            env.sandbox_dir(),
            Some(std::path::Path::new(
                "/var/lib/mesos/slaves/a/frameworks/f/executors/e/runs/c"
            ))
        );
        assert_eq!(env.shutdown_grace_period, Duration::from_secs(5));
    }

    #[test]
    fn missing_required_variables_are_named() {
        for name in ["MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID"] {
            assert_eq!(
                ExecutorEnv::from_env(without(name)).unwrap_err(),
                EnvError::Missing(name)
            );
        }
        let no_agent: Vec<_> = base()
            .into_iter()
            .filter(|(k, _)| *k != "MESOS_AGENT_ENDPOINT" && *k != "MESOS_SLAVE_PID")
            .collect();
        assert_eq!(
            ExecutorEnv::from_env(no_agent).unwrap_err().to_string(),
            "expecting 'MESOS_AGENT_ENDPOINT' to be set in the environment"
        );
    }

    #[test]
    fn checkpointing_requires_recovery_settings() {
        // As Mesos's executor library (src/executor/executor.cpp): both are required with
        // MESOS_CHECKPOINT=1 and parsed as stout durations.
        assert_eq!(
            ExecutorEnv::from_env(with(&[("MESOS_CHECKPOINT", "1")])).unwrap_err(),
            EnvError::Missing("MESOS_RECOVERY_TIMEOUT")
        );
        assert_eq!(
            ExecutorEnv::from_env(with(&[
                ("MESOS_CHECKPOINT", "1"),
                ("MESOS_RECOVERY_TIMEOUT", "15mins")
            ]))
            .unwrap_err(),
            EnvError::Missing("MESOS_SUBSCRIPTION_BACKOFF_MAX")
        );
        let env = ExecutorEnv::from_env(with(&[
            ("MESOS_CHECKPOINT", "1"),
            ("MESOS_RECOVERY_TIMEOUT", "15mins"),
            ("MESOS_SUBSCRIPTION_BACKOFF_MAX", "2secs"),
        ]))
        .unwrap();
        assert!(env.checkpoint);
        assert_eq!(env.recovery_timeout, Some(Duration::from_secs(900)));
        assert_eq!(env.subscription_backoff_max, Some(Duration::from_secs(2)));
    }

    #[test]
    fn bad_durations_and_endpoints_are_rejected() {
        let err = ExecutorEnv::from_env(with(&[("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5s")]))
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "failed to parse value '5s' of 'MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD'"
            ),
            "{err}"
        );
        let err = ExecutorEnv::from_env(with(&[("MESOS_AGENT_ENDPOINT", "10.0.0.1")])).unwrap_err();
        assert!(err.to_string().contains("MESOS_AGENT_ENDPOINT"), "{err}");
    }
}
