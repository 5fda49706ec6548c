//! The leadership cycle of a master: standby → elected → recovering → leading, and how it
//! ends. A synchronous state machine: the election's outcomes, the end of recovery, the
//! recovery deadline and the end of serving come in; [`Action`]s come out, and the async
//! shell in `cli/master.rs` only carries them out (serve redirects, read the registry,
//! serve the master, exit).
//!
//! It follows Mesos's master (src/master/master.cpp):
//!
//! ```text
//!             Elected                 recovered(Ok)
//!   Standby ───────────► Recovering ───────────────► Leading
//!     │  Standby(leader)     │ recovered(Err), deadline   │
//!     │  → ServeStandby      │ → Exit(failed recovery)    │
//!     │                      │                            │
//!     └── Lost / election ended ──► Exit(error) ◄─────────┘  Lost / election ended
//!   any state ── stopped (Ctrl-C, SIGTERM, the server ended) ──► Exit(how it ended)
//! ```
//!
//! - `Master::detected`: elected, the master recovers (`Master::recover`); a recovery that
//!   fails exits the process ("Recovery failed"). The registrar bounds the read of the
//!   registry by `--registry_fetch_timeout` (src/master/registrar.cpp, `Registrar::recover`);
//!   here that bound is the state machine's own deadline.
//! - `Master::lostCandidacy`, `Master::detected`: a master that loses its candidacy or its
//!   leadership while elected exits ("Lost candidacy as a leader... committing suicide!"),
//!   so that it never leads beside a newer leader. Recovering counts as elected: Mesos
//!   sets the leader before recovery starts, and so a loss while recovering exits too.
//! - A standby whose ZooKeeper session ends exits as well: its candidacy is gone, and a
//!   supervisor restarting it is what makes it contend again.
//! - Re-elected while elected (a ZooKeeper blip): nothing changes, as in Mesos.
//!
//! Once [`Leadership::stopped`] or an exit was decided the machine is `Stopped` and takes
//! no further input: an election that arrives while shutting down starts nothing.

use std::time::{Duration, Instant};

use remesos_proto::v1;

use crate::zk::election::Leadership as Outcome;

/// Where the cycle is.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Serving redirects to the leader (or 503 while nobody leads).
    Standby,
    /// Elected; reading the registry, which must be done by `deadline`.
    Recovering { deadline: Instant },
    /// Serving as the leading master.
    Leading,
    /// Exiting or shut down: no input changes anything any more.
    Stopped,
}

/// What the shell does.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Serve as a standby that knows this leader (`None`: nobody leads yet).
    ServeStandby(Option<Box<v1::MasterInfo>>),
    /// Elected: answer `503 Master has not finished recovery` and read the registry;
    /// report the outcome with [`Leadership::recovered`].
    StartRecovery,
    /// Recovered: serve the master built by the recovery.
    StartLeading,
    /// End the process: `Ok` for a requested shutdown, `Err` (exit status 1) otherwise.
    Exit(Result<(), String>),
}

/// The leadership state machine; see the module docs.
#[derive(Debug)]
pub struct Leadership {
    state: State,
    /// `--registry_fetch_timeout`: how long recovery may take.
    fetch_timeout: Duration,
    /// The registry store, as logs and errors name it (`Store::describe`).
    store: String,
}

impl Leadership {
    /// A master that starts standing by (with `--zk`, before the first election outcome).
    pub fn new(fetch_timeout: Duration, store: impl Into<String>) -> Leadership {
        Leadership {
            state: State::Standby,
            fetch_timeout,
            store: store.into(),
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// When [`Leadership::deadline_passed`] must be called next, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Recovering { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// A standalone master is elected at start (Mesos's `StandaloneMasterContender`).
    pub fn elected(&mut self, now: Instant) -> Vec<Action> {
        match self.state {
            State::Standby => {
                self.state = State::Recovering {
                    deadline: now + self.fetch_timeout,
                };
                vec![Action::StartRecovery]
            }
            // Re-elected while elected, or too late: nothing to do.
            State::Recovering { .. } | State::Leading | State::Stopped => vec![],
        }
    }

    /// An outcome of the ZooKeeper election.
    pub fn observed(&mut self, now: Instant, outcome: Outcome) -> Vec<Action> {
        match outcome {
            Outcome::Elected => self.elected(now),
            Outcome::Standby(leader) => match self.state {
                State::Standby => vec![Action::ServeStandby(leader)],
                // The election reports the loss of this master's own znode as `Lost`; a
                // new leader seen while elected follows it and is handled there.
                State::Recovering { .. } | State::Leading | State::Stopped => vec![],
            },
            Outcome::Lost(why) => self.lost(why),
        }
    }

    /// The election stopped reporting (its task ended): as good as a lost session.
    pub fn election_ended(&mut self) -> Vec<Action> {
        self.lost("the election ended".to_string())
    }

    fn lost(&mut self, why: String) -> Vec<Action> {
        let exit = match self.state {
            State::Standby => format!("lost the ZooKeeper session while standing by: {why}"),
            State::Recovering { .. } | State::Leading => {
                tracing::error!(%why, "lost leadership; exiting");
                format!("lost leadership: {why}")
            }
            State::Stopped => return vec![],
        };
        self.exit(Err(exit))
    }

    /// Recovery ended: with the master built (`Ok`) or with why it failed.
    pub fn recovered(&mut self, result: Result<(), String>) -> Vec<Action> {
        if !matches!(self.state, State::Recovering { .. }) {
            return vec![];
        }
        match result {
            Ok(()) => {
                self.state = State::Leading;
                vec![Action::StartLeading]
            }
            Err(e) => self.exit(Err(e)),
        }
    }

    /// Time passed: a recovery still running at its deadline fails.
    pub fn deadline_passed(&mut self, now: Instant) -> Vec<Action> {
        match self.state {
            State::Recovering { deadline } if now >= deadline => {
                let why = format!(
                    "failed to recover the registry ({}): not read within --registry_fetch_timeout ({:?})",
                    self.store, self.fetch_timeout
                );
                self.exit(Err(why))
            }
            _ => vec![],
        }
    }

    /// The daemon stopped serving (a shutdown signal, or the server ended with `result`).
    pub fn stopped(&mut self, result: Result<(), String>) -> Vec<Action> {
        if self.state == State::Stopped {
            return vec![];
        }
        self.exit(result)
    }

    fn exit(&mut self, result: Result<(), String>) -> Vec<Action> {
        self.state = State::Stopped;
        vec![Action::Exit(result)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FETCH: Duration = Duration::from_secs(60);

    fn leader() -> Option<Box<v1::MasterInfo>> {
        Some(Box::new(v1::MasterInfo {
            id: "other".into(),
            ..Default::default()
        }))
    }

    fn is_error_exit(actions: &[Action], text: &str) -> bool {
        matches!(actions, [Action::Exit(Err(e))] if e.contains(text))
    }

    /// Mesos's `Master::detected`: a standby follows the leader it is told about, and
    /// election starts recovery, then leading once the registry is read.
    #[test]
    fn a_standby_follows_the_leader_then_recovers_and_leads_once_elected() {
        let t0 = Instant::now();
        let mut l = Leadership::new(FETCH, "zk");
        assert_eq!(
            l.observed(t0, Outcome::Standby(leader())),
            vec![Action::ServeStandby(leader())]
        );
        assert_eq!(l.next_deadline(), None);
        assert_eq!(
            l.observed(t0, Outcome::Elected),
            vec![Action::StartRecovery]
        );
        assert_eq!(l.next_deadline(), Some(t0 + FETCH));
        // A ZooKeeper blip that re-elects this master changes nothing.
        assert_eq!(l.observed(t0, Outcome::Elected), vec![]);
        assert_eq!(l.recovered(Ok(())), vec![Action::StartLeading]);
        assert_eq!(l.state(), &State::Leading);
        assert_eq!(l.next_deadline(), None);
    }

    /// `Master::lostCandidacy`: elected counts from the election on, so losing the
    /// ZooKeeper session while the registry is still being read exits, and the recovery
    /// that finishes afterwards starts nothing.
    #[test]
    fn leadership_lost_while_recovering_exits_and_the_late_recovery_is_ignored() {
        let t0 = Instant::now();
        let mut l = Leadership::new(FETCH, "zk");
        l.observed(t0, Outcome::Elected);
        let actions = l.observed(t0, Outcome::Lost("session expired".into()));
        assert!(
            is_error_exit(&actions, "lost leadership: session expired"),
            "{actions:?}"
        );
        assert_eq!(l.recovered(Ok(())), vec![]);
        assert_eq!(l.state(), &State::Stopped);
    }

    /// "Lost candidacy as a leader... committing suicide!": a leading master that loses its
    /// session, or whose election ends, exits with an error rather than lead beside a
    /// newer leader.
    #[test]
    fn leadership_lost_while_leading_exits_with_an_error() {
        let t0 = Instant::now();
        let losses: [fn(&mut Leadership) -> Vec<Action>; 2] = [
            |l| l.observed(Instant::now(), Outcome::Lost("znode gone".into())),
            |l| l.election_ended(),
        ];
        for lose in losses {
            let mut l = Leadership::new(FETCH, "zk");
            l.observed(t0, Outcome::Elected);
            l.recovered(Ok(()));
            let actions = lose(&mut l);
            assert!(is_error_exit(&actions, "lost leadership: "), "{actions:?}");
            // Nothing after the exit.
            assert_eq!(l.observed(t0, Outcome::Lost("again".into())), vec![]);
        }
    }

    /// A standby whose session ends exits too (its candidacy is gone).
    #[test]
    fn a_standby_that_loses_its_session_exits() {
        let mut l = Leadership::new(FETCH, "zk");
        let actions = l.observed(Instant::now(), Outcome::Lost("expired".into()));
        assert!(
            is_error_exit(
                &actions,
                "lost the ZooKeeper session while standing by: expired"
            ),
            "{actions:?}"
        );
    }

    /// A shutdown (Ctrl-C, SIGTERM) that comes first wins: an election that arrives while
    /// shutting down starts no recovery.
    #[test]
    fn an_election_while_shutting_down_starts_nothing() {
        let t0 = Instant::now();
        let mut l = Leadership::new(FETCH, "zk");
        assert_eq!(l.stopped(Ok(())), vec![Action::Exit(Ok(()))]);
        assert_eq!(l.observed(t0, Outcome::Elected), vec![]);
        assert_eq!(l.elected(t0), vec![]);
        assert_eq!(l.next_deadline(), None);
        assert_eq!(l.stopped(Ok(())), vec![]);
    }

    /// `Master::detected`: "Recovery failed" exits; so does a registry not read within
    /// `--registry_fetch_timeout` (the deadline passes before recovery reports).
    #[test]
    fn a_failed_or_overdue_recovery_exits() {
        let t0 = Instant::now();
        let mut l = Leadership::new(FETCH, "zk");
        l.elected(t0);
        let actions = l.recovered(Err("failed to recover the registry (zk): boom".into()));
        assert!(is_error_exit(&actions, "boom"), "{actions:?}");

        let mut l = Leadership::new(FETCH, "ZooKeeper zk://h/p");
        l.elected(t0);
        assert_eq!(
            l.deadline_passed(t0 + FETCH - Duration::from_millis(1)),
            vec![]
        );
        let actions = l.deadline_passed(t0 + FETCH);
        assert!(
            is_error_exit(
                &actions,
                "failed to recover the registry (ZooKeeper zk://h/p): not read within --registry_fetch_timeout (60s)"
            ),
            "{actions:?}"
        );
        assert_eq!(l.recovered(Ok(())), vec![]);
    }
}
