//! The agent's status update manager (reference/mesos-contract.md §8.2): one stream per
//! task; each update is checkpointed, then forwarded to the master; only the head of a
//! stream is in flight, retried with backoff until the framework's acknowledgement comes
//! back through the master, then the next update goes.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use remesos_proto::internal as wire;

use crate::common::backoff::Backoff;

/// Mesos's STATUS_UPDATE_RETRY_INTERVAL_MIN / _MAX (`src/slave/constants.hpp`).
pub const RETRY_MIN: Duration = Duration::from_secs(10);
pub const RETRY_MAX: Duration = Duration::from_secs(600);

/// What the manager asks the agent to do.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Append a record to the stream's `task.updates` checkpoint.
    Persist {
        path: PathBuf,
        record: wire::StatusUpdateRecord,
    },
    /// Send the update to the master.
    Forward(wire::StatusUpdate),
}

#[derive(Debug)]
struct Stream {
    /// Unacknowledged updates, oldest first; the front one is in flight.
    pending: VecDeque<wire::StatusUpdate>,
    /// Uuids seen on this stream, to ignore duplicates the executor resends.
    seen: Vec<Vec<u8>>,
    path: PathBuf,
    retry: Retry,
}

impl Stream {
    fn new(path: PathBuf) -> Stream {
        Stream {
            pending: VecDeque::new(),
            seen: Vec::new(),
            path,
            retry: Retry::new(),
        }
    }
}

/// The retry timer of a message in flight until it is acknowledged (a stream's head here,
/// an operation's status in operations.rs): RETRY_MIN doubling up to RETRY_MAX, no jitter
/// (Mesos's `TaskStatusUpdateManagerProcess::timeout`).
#[derive(Debug)]
pub(super) struct Retry {
    /// When the message was last sent; `None` until it is (then it is due at once).
    sent_at: Option<Instant>,
    interval: Duration,
    backoff: Backoff,
}

impl Retry {
    pub(super) fn new() -> Retry {
        Retry {
            sent_at: None,
            interval: RETRY_MIN,
            backoff: Backoff::deterministic(RETRY_MIN, RETRY_MAX),
        }
    }

    /// The message goes out now; it is due again after the next interval of the backoff.
    pub(super) fn sent(&mut self, now: Instant) {
        self.sent_at = Some(now);
        self.interval = self.backoff.next_delay();
    }

    /// The next message (or the same one, resent to a new master) starts over at RETRY_MIN.
    pub(super) fn restart(&mut self) {
        self.sent_at = None;
        self.backoff.reset();
        self.interval = RETRY_MIN;
    }

    pub(super) fn sent_at(&self) -> Option<Instant> {
        self.sent_at
    }

    /// When it is due again; `None` before it was first sent.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.sent_at.map(|at| at + self.interval)
    }

    /// Whether it should go out at `now`: never sent, or its interval elapsed.
    pub(super) fn due(&self, now: Instant) -> bool {
        self.sent_at
            .is_none_or(|at| now.duration_since(at) >= self.interval)
    }
}

/// Streams by (framework id, task id).
#[derive(Debug, Default)]
pub struct Manager {
    streams: HashMap<(String, String), Stream>,
    /// Whether the master is reachable; updates wait (persisted) while it is not.
    pub connected: bool,
    /// Round trips of acknowledged updates: from the (last) forwarding of a stream's head
    /// to the master until its acknowledgement came back (through the framework), by the
    /// `now`s the agent is given. Served on `/metrics`.
    pub round_trip: std::sync::Arc<crate::common::metrics::Histogram>,
}

impl Manager {
    /// Takes a new update. Returns the actions and whether it was new (false for a
    /// duplicate uuid, which is still acknowledged to the executor but not forwarded again).
    pub fn update(
        &mut self,
        now: Instant,
        update: wire::StatusUpdate,
        path: PathBuf,
    ) -> (Vec<Action>, bool) {
        let key = (
            update.framework_id.value.clone(),
            update.status.task_id.value.clone(),
        );
        let uuid = update.status.uuid.clone().unwrap_or_default();
        let stream = self
            .streams
            .entry(key)
            .or_insert_with(|| Stream::new(path.clone()));
        if !uuid.is_empty() && stream.seen.contains(&uuid) {
            return (vec![], false);
        }
        if !uuid.is_empty() {
            stream.seen.push(uuid);
        }
        let mut actions = vec![Action::Persist {
            path: stream.path.clone(),
            record: wire::StatusUpdateRecord {
                r#type: wire::status_update_record::Type::Update as i32,
                update: Some(update.clone()),
                uuid: None,
            },
        }];
        stream.pending.push_back(update);
        if stream.pending.len() == 1 && self.connected {
            stream.retry.restart();
            stream.retry.sent(now);
            actions.push(Action::Forward(stream.pending[0].clone()));
        }
        (actions, true)
    }

    /// The framework acknowledged `uuid`. Returns the actions and whether the stream is now
    /// empty (the task's updates are all delivered).
    pub fn acknowledge(
        &mut self,
        now: Instant,
        framework_id: &str,
        task_id: &str,
        uuid: &[u8],
    ) -> (Vec<Action>, bool) {
        let key = (framework_id.to_string(), task_id.to_string());
        let Some(stream) = self.streams.get_mut(&key) else {
            return (vec![], false);
        };
        let head_matches = stream
            .pending
            .front()
            .and_then(|u| u.status.uuid.as_deref())
            == Some(uuid);
        if !head_matches {
            // Mesos ignores acknowledgements of anything but the head (a duplicate ack).
            return (vec![], false);
        }
        stream.pending.pop_front();
        if let Some(sent) = stream.retry.sent_at() {
            self.round_trip.observe(now.saturating_duration_since(sent));
        }
        let mut actions = vec![Action::Persist {
            path: stream.path.clone(),
            record: wire::StatusUpdateRecord {
                r#type: wire::status_update_record::Type::Ack as i32,
                update: None,
                uuid: Some(uuid.to_vec()),
            },
        }];
        stream.retry.restart();
        if let Some(next) = stream.pending.front().cloned()
            && self.connected
        {
            stream.retry.sent(now);
            actions.push(Action::Forward(next));
        }
        let empty = stream.pending.is_empty();
        (actions, empty)
    }

    /// Forgets a finished stream (its task is terminal and every update acknowledged).
    pub fn remove(&mut self, framework_id: &str, task_id: &str) {
        self.streams
            .remove(&(framework_id.to_string(), task_id.to_string()));
    }

    /// Forgets every stream of a framework the master shut down here (Mesos's
    /// `TaskStatusUpdateManager::cleanup`): its updates are never acknowledged.
    pub fn cleanup(&mut self, framework_id: &str) {
        self.streams.retain(|(f, _), _| f != framework_id);
    }

    /// When the next head is due for a retry (none while disconnected: everything is
    /// resent on reregistration). A head not yet sent is due at once; only a command
    /// makes one, and the runtime retries after every command.
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.connected {
            return None;
        }
        self.streams
            .values()
            .filter(|stream| !stream.pending.is_empty())
            .filter_map(|stream| stream.retry.deadline())
            .min()
    }

    /// Heads whose retry interval elapsed, re-sent with a doubled interval.
    pub fn retry(&mut self, now: Instant) -> Vec<Action> {
        if !self.connected {
            return vec![];
        }
        let mut out = Vec::new();
        for stream in self.streams.values_mut() {
            let Some(head) = stream.pending.front() else {
                continue;
            };
            if stream.retry.due(now) {
                let head = head.clone();
                stream.retry.sent(now);
                out.push(Action::Forward(head));
            }
        }
        out
    }

    /// After (re)registering with a master, every head goes out again.
    pub fn resend_all(&mut self, now: Instant) -> Vec<Action> {
        for stream in self.streams.values_mut() {
            stream.retry.restart();
        }
        self.retry(now)
    }

    /// Whether the stream of the task already took an update with this uuid.
    pub fn seen(&self, framework_id: &str, task_id: &str, uuid: &[u8]) -> bool {
        !uuid.is_empty()
            && self
                .streams
                .get(&(framework_id.to_string(), task_id.to_string()))
                .is_some_and(|s| s.seen.iter().any(|u| u == uuid))
    }

    /// Rebuilds a stream from its checkpoint (`task.updates` records, in order) after an
    /// agent restart: updates not acknowledged are pending again and go out once the agent
    /// is registered. Returns the updates of the stream, oldest first.
    pub fn recover(
        &mut self,
        framework_id: &str,
        task_id: &str,
        records: Vec<wire::StatusUpdateRecord>,
        path: PathBuf,
    ) -> Vec<wire::StatusUpdate> {
        let mut stream = Stream::new(path);
        let mut all = Vec::new();
        for record in records {
            match (record.r#type(), record.update, record.uuid) {
                (wire::status_update_record::Type::Update, Some(update), _) => {
                    let uuid = update.status.uuid.clone().unwrap_or_default();
                    if !uuid.is_empty() {
                        if stream.seen.contains(&uuid) {
                            continue;
                        }
                        stream.seen.push(uuid);
                    }
                    all.push(update.clone());
                    stream.pending.push_back(update);
                }
                (wire::status_update_record::Type::Ack, _, Some(uuid))
                    if stream
                        .pending
                        .front()
                        .and_then(|u| u.status.uuid.as_deref())
                        == Some(uuid.as_slice()) =>
                {
                    stream.pending.pop_front();
                }
                _ => {}
            }
        }
        self.streams
            .insert((framework_id.to_string(), task_id.to_string()), stream);
        all
    }

    pub fn has_pending(&self, framework_id: &str, task_id: &str) -> bool {
        self.streams
            .get(&(framework_id.to_string(), task_id.to_string()))
            .is_some_and(|s| !s.pending.is_empty())
    }

    pub fn pending_count(&self) -> usize {
        self.streams.values().map(|s| s.pending.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use remesos_proto::v1;

    fn update(task: &str, state: v1::TaskState, uuid: u8) -> wire::StatusUpdate {
        wire::StatusUpdate {
            framework_id: v1::FrameworkId { value: "f".into() },
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: task.into() },
                state: state as i32,
                uuid: Some(vec![uuid; 16]),
                ..Default::default()
            },
            latest_state: None,
        }
    }

    fn forwarded(actions: &[Action]) -> Vec<u8> {
        actions
            .iter()
            .filter_map(|a| {
                if let Action::Forward(u) = a {
                    Some(u.status.uuid.as_ref().unwrap()[0])
                } else {
                    None
                }
            })
            .collect()
    }

    /// `/metrics`'s round trip: from the head's forwarding to its acknowledgement; an
    /// acknowledgement of anything but the head records nothing.
    #[test]
    fn an_acknowledgement_records_the_round_trip_since_the_head_was_sent() {
        let now = Instant::now();
        let mut m = Manager {
            connected: true,
            ..Default::default()
        };
        m.update(now, update("t", v1::TaskState::TaskRunning, 1), "p".into());
        m.acknowledge(now, "f", "t", &[9; 16]);
        assert_eq!(m.round_trip.count(), 0);
        let later = now + Duration::from_millis(30);
        m.acknowledge(later, "f", "t", &[1; 16]);
        assert_eq!(m.round_trip.count(), 1);
        let mut e = crate::common::metrics::Exposition::new(crate::common::metrics::Format::Text);
        e.histogram("rtt_seconds", "rtt", &m.round_trip);
        let text = e.finish();
        assert!(
            text.contains("rtt_seconds_bucket{le=\"0.025\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("rtt_seconds_bucket{le=\"0.05\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn only_the_head_is_in_flight_until_acknowledged() {
        // Reference §8.2.
        let now = Instant::now();
        let mut m = Manager {
            connected: true,
            ..Default::default()
        };
        let (a, new) = m.update(now, update("t", v1::TaskState::TaskRunning, 1), "p".into());
        assert!(new);
        assert_eq!(forwarded(&a), vec![1]);
        let (a, _) = m.update(now, update("t", v1::TaskState::TaskFinished, 2), "p".into());
        assert_eq!(forwarded(&a), Vec::<u8>::new(), "waits behind the head");
        let (a, _) = m.acknowledge(now, "f", "t", &[9; 16]);
        assert!(a.is_empty(), "an ack of anything but the head is ignored");
        let (a, empty) = m.acknowledge(now, "f", "t", &[1; 16]);
        assert_eq!(forwarded(&a), vec![2]);
        assert!(!empty);
        let (_, empty) = m.acknowledge(now, "f", "t", &[2; 16]);
        assert!(empty);
    }

    #[test]
    fn duplicates_are_not_forwarded_and_heads_are_retried_with_backoff() {
        let now = Instant::now();
        let mut m = Manager {
            connected: true,
            ..Default::default()
        };
        m.update(now, update("t", v1::TaskState::TaskRunning, 1), "p".into());
        let (a, new) = m.update(now, update("t", v1::TaskState::TaskRunning, 1), "p".into());
        assert!(!new && a.is_empty());
        assert!(m.retry(now + Duration::from_secs(5)).is_empty());
        assert_eq!(forwarded(&m.retry(now + RETRY_MIN)), vec![1]);
        assert!(
            m.retry(now + RETRY_MIN + Duration::from_secs(15))
                .is_empty(),
            "interval doubled to 20 s"
        );
        assert_eq!(forwarded(&m.retry(now + RETRY_MIN * 3)), vec![1]);
    }

    #[test]
    fn updates_wait_while_the_master_is_away() {
        let now = Instant::now();
        let mut m = Manager::default();
        let (a, _) = m.update(now, update("t", v1::TaskState::TaskRunning, 1), "p".into());
        assert!(forwarded(&a).is_empty());
        assert!(matches!(a[0], Action::Persist { .. }), "persisted even so");
        m.connected = true;
        assert_eq!(forwarded(&m.resend_all(now)), vec![1]);
    }
}
