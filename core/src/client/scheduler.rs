//! A client of the v1 scheduler API (`/api/v1/scheduler`, reference/mesos-contract.md §3.2):
//! SUBSCRIBE opens the event stream; every other call is a separate POST carrying the
//! stream's `Mesos-Stream-Id`.

use http_body_util::BodyExt;
use prost::Message;

use remesos_proto::recordio;
use remesos_proto::v1;
use v1::scheduler as sched;

use super::{Error, Format, HttpClient, Result};

/// Largest event the client accepts (offers for thousands of agents fit easily).
const MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// ACKNOWLEDGE for an update, when it carries a uuid and an agent.
pub fn acknowledge_call(status: &v1::TaskStatus) -> Option<sched::Call> {
    let uuid = status.uuid.clone().filter(|u| !u.is_empty())?;
    let agent_id = status.agent_id.clone()?;
    Some(sched::Call {
        r#type: Some(sched::call::Type::Acknowledge as i32),
        acknowledge: Some(sched::call::Acknowledge {
            agent_id,
            task_id: status.task_id.clone(),
            uuid,
        }),
        ..Default::default()
    })
}

/// One subscription: the event stream plus what calls need to be accepted.
pub struct Subscription {
    client: HttpClient,
    url: String,
    format: Format,
    pub stream_id: String,
    pub framework_id: v1::FrameworkId,
    pub master_info: Option<v1::MasterInfo>,
    pub heartbeat_interval_seconds: f64,
    body: hyper::body::Incoming,
    decoder: recordio::Decoder,
    pending: std::collections::VecDeque<bytes::Bytes>,
}

impl Subscription {
    /// SUBSCRIBEs at `master` (`host:port`, or `zk://...` to detect the leader) and waits
    /// for SUBSCRIBED. A non-leading master's `307` is followed to the leader.
    pub async fn subscribe(
        master: &str,
        subscribe: sched::call::Subscribe,
        format: Format,
    ) -> Result<Subscription> {
        if master.trim().starts_with("zk://") {
            let detector = crate::zk::MasterDetector::parse(master).map_err(Error::Http)?;
            return Self::subscribe_detected(&detector, subscribe, format).await;
        }
        let client = HttpClient::default();
        let mut url = format!("{}://{master}/api/v1/scheduler", super::scheme());
        let framework_id = subscribe.framework_info.id.clone();
        let call = sched::Call {
            framework_id,
            r#type: Some(sched::call::Type::Subscribe as i32),
            subscribe: Some(subscribe),
            ..Default::default()
        };
        let mut redirects = 0;
        let response = loop {
            let response = client
                .post(
                    &url,
                    format.media_type(),
                    format.media_type(),
                    &[],
                    format.encode(&call),
                )
                .await?;
            if response.status().as_u16() != 307 || redirects >= 3 {
                break response;
            }
            // Reference §3.1: `Location: //<leader>:<port><path>`.
            let Some(location) = response
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                break response;
            };
            url = if location.starts_with("//") {
                format!("{}:{location}", super::scheme())
            } else {
                location.to_string()
            };
            redirects += 1;
        };
        let status = response.status().as_u16();
        if status != 200 {
            let body = super::collect(response).await?;
            return Err(Error::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        let stream_id = response
            .headers()
            .get("Mesos-Stream-Id")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Decode("no Mesos-Stream-Id header".into()))?
            .to_string();
        let mut subscription = Subscription {
            client,
            url,
            format,
            stream_id,
            framework_id: v1::FrameworkId::default(),
            master_info: None,
            heartbeat_interval_seconds: 15.0,
            body: response.into_body(),
            decoder: recordio::Decoder::new(MAX_EVENT_BYTES),
            pending: Default::default(),
        };
        let first = subscription.next_event().await?;
        match (
            first
                .r#type
                .and_then(|t| sched::event::Type::try_from(t).ok()),
            first.subscribed,
            first.error,
        ) {
            (Some(sched::event::Type::Subscribed), Some(s), _) => {
                subscription.framework_id = s.framework_id;
                subscription.master_info = s.master_info;
                // Range-checked here, where it is decoded: callers turn it into a Duration,
                // which panics on an infinite or absurd value (Mesos's default is 15 s).
                subscription.heartbeat_interval_seconds = s
                    .heartbeat_interval_seconds
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map_or(15.0, |s| s.clamp(1.0, 86_400.0));
                Ok(subscription)
            }
            (_, _, Some(e)) => Err(Error::Status {
                status: 200,
                body: e.message,
            }),
            _ => Err(Error::Decode("the first event was not SUBSCRIBED".into())),
        }
    }

    /// SUBSCRIBEs at the leader `detector` finds (waiting up to a minute for one).
    pub async fn subscribe_detected(
        detector: &crate::zk::MasterDetector,
        subscribe: sched::call::Subscribe,
        format: Format,
    ) -> Result<Subscription> {
        let master = detector
            .leader_within(std::time::Duration::from_secs(60))
            .await
            .ok_or_else(|| Error::Http("no leading master was detected".to_string()))?;
        Box::pin(Self::subscribe(&master, subscribe, format)).await
    }

    /// The next event on the stream (heartbeats included).
    pub async fn next_event(&mut self) -> Result<sched::Event> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                return self.decode(&record);
            }
            let Some(frame) = self.body.frame().await else {
                return Err(Error::StreamEnded);
            };
            let frame = frame.map_err(|e| Error::Http(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                let records = self
                    .decoder
                    .feed(&data)
                    .map_err(|e| Error::Decode(e.to_string()))?;
                self.pending.extend(records);
            }
        }
    }

    fn decode(&self, record: &[u8]) -> Result<sched::Event> {
        match self.format {
            Format::Protobuf => {
                sched::Event::decode(record).map_err(|e| Error::Decode(e.to_string()))
            }
            Format::Json => {
                remesos_proto::json::from_slice(record).map_err(|e| Error::Decode(e.to_string()))
            }
        }
    }

    /// Sends a call on this subscription; returns the HTTP status (202 or 200).
    pub async fn call(&self, call: sched::Call) -> Result<u16> {
        self.caller().call(call).await
    }

    /// What sends calls on this subscription, detached from the event stream so that calls
    /// and events can proceed concurrently.
    pub fn caller(&self) -> Caller {
        Caller {
            client: self.client.clone(),
            url: self.url.clone(),
            format: self.format,
            stream_id: self.stream_id.clone(),
            framework_id: self.framework_id.clone(),
        }
    }
}

/// Sends calls on a subscription (see [`Subscription::caller`]).
#[derive(Clone)]
pub struct Caller {
    client: HttpClient,
    url: String,
    format: Format,
    stream_id: String,
    framework_id: v1::FrameworkId,
}

impl Caller {
    /// Sends a call with the subscription's framework id and stream id; returns the HTTP
    /// status (202 or 200).
    pub async fn call(&self, mut call: sched::Call) -> Result<u16> {
        call.framework_id = Some(self.framework_id.clone());
        let response = self
            .client
            .post(
                &self.url,
                self.format.media_type(),
                self.format.media_type(),
                &[("Mesos-Stream-Id", self.stream_id.as_str())],
                self.format.encode(&call),
            )
            .await?;
        let status = response.status().as_u16();
        let body = super::collect(response).await?;
        if status == 200 || status == 202 {
            Ok(status)
        } else {
            Err(Error::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        }
    }
}
