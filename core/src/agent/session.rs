//! The agent's session with the leading master, as a synchronous state machine: which
//! master to talk to, when to (re)connect, when a session is over. The async shell
//! (`runtime.rs`, `master_session`) connects, relays messages and sleeps; it reports what
//! happened here and does what [`Session`] answers.
//!
//! It follows Mesos's agent (src/slave/slave.cpp):
//!
//! ```text
//!                connected           Registered / Reregistered
//!  Disconnected ───────────► Registering ─────────────────────► Registered
//!     ▲  ▲  (backoff wait)        │                                │ Ping: expiry moves on
//!     │  └──── ended / failed ────┴──── ended / no Ping in time ───┤
//!     └─────────────────── a new leader detected (no wait) ────────┘
//! ```
//!
//! - `Slave::detected`: a new leading master ends the session with the old one at once,
//!   and the agent registers with the new one without waiting out a backoff.
//! - `Slave::doReliableRegistration`: after a failed attempt the agent waits a random time
//!   in `[0, b·2^n]` (`b`: `--registration_backoff_factor`), capped at one minute
//!   (`REGISTER_RETRY_INTERVAL_MAX`); a session that ended cleanly starts the count over.
//! - Register or Reregister: an agent that has an id (registered before, or recovered it
//!   after a restart) reregisters with what runs on it (`Agent::hello`).
//! - `Slave::ping` / `Slave::pingTimeout`: each Ping moves the session's expiry on by the
//!   master's ping timeout; with no Ping by then the agent gives the master up and
//!   detects again. The master announces its ping interval in (Re)Registered; the timeout
//!   is that interval times Mesos's default `--max_agent_ping_timeouts` (5), Mesos's
//!   `DEFAULT_MASTER_PING_TIMEOUT`, which is what Mesos's agent uses before it hears a
//!   total from the master.
//!
//! Time comes in as `now`; the backoff's randomness is the shared [`Backoff`]'s seeded RNG
//! (tests give the session one without jitter, [`Session::with_backoff`]).

use std::time::{Duration, Instant};

use crate::common::backoff::Backoff;

/// Mesos caps the agent's registration backoff at one minute (`REGISTER_RETRY_INTERVAL_MAX`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The shortest backoff wait, so that a zero `--registration_backoff_factor` does not make a
/// failing master a busy loop.
const MIN_BACKOFF: Duration = Duration::from_millis(10);

/// Mesos's default `--max_agent_ping_timeouts`: how many ping intervals without a Ping
/// make the master lost (`DEFAULT_MAX_AGENT_PING_TIMEOUTS`, src/master/constants.hpp).
pub const PINGS_BEFORE_EXPIRY: u32 = 5;

/// The longest ping interval taken from a master: it comes from the network.
const MAX_PING_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Where the session is.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// No session; the next attempt may start at `retry_at` (`None`: at once).
    Disconnected { retry_at: Option<Instant> },
    /// Connected to `master` and Register (or Reregister) sent; no answer yet.
    Registering { master: String, reregister: bool },
    /// The master answered; without a Ping by `expires` it is given up.
    Registered {
        master: String,
        expires: Option<Instant>,
    },
}

/// How a session ended, as the shell saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// The master closed the stream.
    Closed,
    /// Connecting failed or the stream broke.
    Failed(String),
    /// The detector reports another leading master.
    MasterChanged,
}

/// What the shell does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Drop the session (if any) and tell the agent it is disconnected (its status updates
    /// wait); `why` is for the log.
    Disconnect { why: String },
}

/// The agent's session state machine; see the module docs.
#[derive(Debug)]
pub struct Session {
    state: State,
    backoff: Backoff,
    /// The master's ping timeout, once a master announced its ping interval.
    ping_timeout: Option<Duration>,
}

impl Session {
    /// Mesos's registration backoff: each wait random in `[0, factor·2^attempt]`, the bound
    /// at most [`MAX_BACKOFF`], no wait under [`MIN_BACKOFF`].
    pub fn new(backoff_factor: Duration) -> Session {
        Session::with_backoff(Backoff::new(backoff_factor, MAX_BACKOFF).with_floor(MIN_BACKOFF))
    }

    pub fn with_backoff(backoff: Backoff) -> Session {
        Session {
            state: State::Disconnected { retry_at: None },
            backoff,
            ping_timeout: None,
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The master of the current session, if any.
    pub fn master(&self) -> Option<&str> {
        match &self.state {
            State::Registering { master, .. } | State::Registered { master, .. } => Some(master),
            State::Disconnected { .. } => None,
        }
    }

    /// When the shell must call [`Session::deadline_passed`]: the end of a backoff wait or
    /// a registered session's expiry.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Disconnected { retry_at } => *retry_at,
            State::Registering { .. } => None,
            State::Registered { expires, .. } => *expires,
        }
    }

    /// Whether a connection attempt may start now (no backoff wait is running).
    pub fn may_connect(&self, now: Instant) -> bool {
        match &self.state {
            State::Disconnected { retry_at } => retry_at.is_none_or(|at| now >= at),
            State::Registering { .. } | State::Registered { .. } => false,
        }
    }

    /// The shell connected to `master` and sent Register (`reregister == false`) or
    /// Reregister.
    pub fn connected(&mut self, master: &str, reregister: bool) {
        self.state = State::Registering {
            master: master.to_string(),
            reregister,
        };
    }

    /// The master answered Registered or Reregistered, announcing its ping interval.
    pub fn registered(&mut self, now: Instant, ping_interval_seconds: Option<f64>) {
        let Some(master) = self.master().map(str::to_string) else {
            return; // an answer on a session already given up
        };
        self.ping_timeout = ping_interval_seconds
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero())
            .map(|d| d.min(MAX_PING_INTERVAL) * PINGS_BEFORE_EXPIRY);
        self.state = State::Registered {
            master,
            expires: self.ping_timeout.map(|t| now + t),
        };
    }

    /// A Ping from the master: the session lives on.
    pub fn pinged(&mut self, now: Instant) {
        if let State::Registered { expires, .. } = &mut self.state {
            *expires = self.ping_timeout.map(|t| now + t);
        }
    }

    /// The session ended; a failure (or a close) waits a backoff before the next attempt.
    pub fn ended(&mut self, now: Instant, how: Ended) -> Vec<Action> {
        let why = match &how {
            Ended::Closed => "the master closed the session".to_string(),
            Ended::Failed(e) => e.clone(),
            Ended::MasterChanged => "a new leading master was detected".to_string(),
        };
        let retry_at = match how {
            // Mesos's agent registers with a new leader as soon as it detects it.
            Ended::MasterChanged => {
                self.backoff.reset();
                None
            }
            Ended::Closed => {
                self.backoff.reset();
                Some(now + self.backoff.next_delay())
            }
            Ended::Failed(_) => Some(now + self.backoff.next_delay()),
        };
        self.state = State::Disconnected { retry_at };
        vec![Action::Disconnect { why }]
    }

    /// The detector reports another leading master while no session runs: stop waiting.
    pub fn master_changed(&mut self) {
        if let State::Disconnected { retry_at } = &mut self.state {
            self.backoff.reset();
            *retry_at = None;
        }
    }

    /// Time passed: a registered session without a Ping in time expires (the shell then
    /// drops it and detects again).
    pub fn deadline_passed(&mut self, now: Instant) -> Vec<Action> {
        match &self.state {
            State::Registered {
                expires: Some(at), ..
            } if now >= *at => {
                let timeout = self.ping_timeout.unwrap_or_default();
                self.ended(
                    now,
                    Ended::Failed(format!("no ping from the master within {timeout:?}")),
                )
            }
            State::Disconnected { retry_at: Some(at) } if now >= *at => {
                self.state = State::Disconnected { retry_at: None };
                vec![]
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTOR: Duration = Duration::from_secs(1);

    /// A session whose backoff has no jitter: each wait is the bound itself.
    fn session() -> Session {
        Session::with_backoff(Backoff::deterministic(FACTOR, MAX_BACKOFF))
    }

    fn registered_session(t0: Instant) -> Session {
        let mut s = session();
        assert!(s.may_connect(t0));
        s.connected("m1:5050", false);
        s.registered(t0, Some(15.0));
        s
    }

    /// `Slave::ping` / `Slave::pingTimeout`: each Ping moves the expiry on by the ping
    /// timeout (interval × 5, Mesos's default); without one the session expires and the
    /// agent backs off before it connects again.
    #[test]
    fn a_session_without_pings_expires_after_five_ping_intervals() {
        let t0 = Instant::now();
        let mut s = registered_session(t0);
        let timeout = Duration::from_secs(75);
        assert_eq!(s.next_deadline(), Some(t0 + timeout));
        let t1 = t0 + Duration::from_secs(60);
        s.pinged(t1);
        assert_eq!(s.next_deadline(), Some(t1 + timeout));
        // The old expiry passes: nothing happens.
        assert_eq!(s.deadline_passed(t0 + timeout), vec![]);
        assert_eq!(s.master(), Some("m1:5050"));
        // No ping by the new one: the session is over.
        let actions = s.deadline_passed(t1 + timeout);
        assert!(
            matches!(&actions[..], [Action::Disconnect { why }] if why.contains("no ping")),
            "{actions:?}"
        );
        assert!(!s.may_connect(t1 + timeout));
        // The first backoff is bounded by the factor (without jitter: the factor itself).
        assert_eq!(s.next_deadline(), Some(t1 + timeout + FACTOR));
        s.deadline_passed(t1 + timeout + FACTOR);
        assert!(s.may_connect(t1 + timeout + FACTOR));
    }

    /// A master that announces no (or a nonsensical) ping interval sets no expiry.
    #[test]
    fn without_a_ping_interval_a_session_does_not_expire() {
        let t0 = Instant::now();
        for interval in [None, Some(0.0), Some(-1.0), Some(f64::NAN)] {
            let mut s = session();
            s.connected("m", true);
            s.registered(t0, interval);
            assert_eq!(s.next_deadline(), None, "{interval:?}");
        }
    }

    /// `Slave::detected`: a new leader ends the session at once and the agent connects
    /// to it without a backoff wait, even in the middle of one.
    #[test]
    fn a_master_change_reconnects_at_once() {
        let t0 = Instant::now();
        let mut s = registered_session(t0);
        let actions = s.ended(t0, Ended::MasterChanged);
        assert!(matches!(&actions[..], [Action::Disconnect { .. }]));
        assert!(s.may_connect(t0));
        assert_eq!(s.next_deadline(), None);

        // A failure starts a backoff; a new leader seen meanwhile cuts it short.
        s.connected("m2:5050", true);
        s.ended(t0, Ended::Failed("refused".into()));
        assert!(!s.may_connect(t0));
        s.master_changed();
        assert!(s.may_connect(t0));
    }

    /// `Slave::doReliableRegistration`: failed attempts double the bound of the random
    /// wait up to a minute; a session that ended cleanly starts over.
    #[test]
    fn failed_attempts_back_off_exponentially_up_to_a_minute() {
        let t0 = Instant::now();
        let mut s = session();
        let mut waits = Vec::new();
        for _ in 0..9 {
            s.connected("m", false);
            s.ended(t0, Ended::Failed("refused".into()));
            waits.push(s.next_deadline().unwrap() - t0);
        }
        let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        s.connected("m", true);
        s.registered(t0, Some(1.0));
        s.ended(t0, Ended::Closed);
        assert_eq!(s.next_deadline(), Some(t0 + FACTOR));
    }

    /// An answer that arrives after the session was given up changes nothing.
    #[test]
    fn a_late_registration_answer_is_ignored() {
        let t0 = Instant::now();
        let mut s = session();
        s.connected("m", true);
        assert_eq!(
            s.state(),
            &State::Registering {
                master: "m".into(),
                reregister: true
            }
        );
        s.ended(t0, Ended::Failed("broken".into()));
        s.registered(t0, Some(15.0));
        assert!(matches!(s.state(), State::Disconnected { .. }));
    }
}
