//! Exponential backoff with Mesos's "full jitter": the one retry policy of the tree.
//!
//! Mesos retries the same way in the agent's registration (`Slave::doReliableRegistration`,
//! src/slave/slave.cpp), the scheduler driver's (`SchedulerProcess::doReliableRegistration`,
//! src/sched/sched.cpp), the executor library's resubscription
//! (`MESOS_SUBSCRIPTION_BACKOFF_MAX`, src/executor/executor.cpp) and, without the random
//! part, the status update manager's retries (`STATUS_UPDATE_RETRY_INTERVAL_MIN/MAX`,
//! src/slave/constants.hpp): a *cap* starts at an initial value and doubles after every
//! attempt up to a maximum; each wait is drawn uniformly from `[0, cap]` (`maxBackoff *
//! os::random() / RAND_MAX`), or is the cap itself when there is no jitter.
//!
//! [`Backoff`] is that sequence. Its random numbers come from a small RNG that is seeded
//! once: [`Backoff::new`] seeds it from the thread's entropy-seeded generator, and
//! [`Backoff::with_seed`] makes the sequence reproducible for tests. A backoff without
//! jitter carries no RNG at all.
//!
//! There is no clock here: the caller sleeps (or compares with its own `now`) for the
//! delay it is given.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A randomized exponential backoff: `initial`, doubling per attempt, at most `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The cap of the first delay after [`Backoff::reset`].
    initial: Duration,
    /// The cap never grows beyond this.
    max: Duration,
    /// No delay is shorter than this (applied after the random draw), so that a zero
    /// factor cannot turn a retry loop into a busy loop.
    floor: Duration,
    /// The cap of the next delay: `min(initial·2^attempts, max)`.
    cap: Duration,
    /// Delays handed out since the last reset.
    attempts: u32,
    /// `None`: no jitter, each delay is the cap itself.
    rng: Option<SmallRng>,
}

impl Backoff {
    /// Full jitter (each delay uniform in `[0, cap]`), the RNG seeded from entropy once.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff::build(initial, max, Some(SmallRng::from_rng(&mut rand::rng())))
    }

    /// Full jitter with a fixed seed: the same seed gives the same delays.
    pub fn with_seed(initial: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff::build(initial, max, Some(SmallRng::seed_from_u64(seed)))
    }

    /// No jitter: the delays are `initial`, `2·initial`, `4·initial`, ... up to `max`.
    pub fn deterministic(initial: Duration, max: Duration) -> Backoff {
        Backoff::build(initial, max, None)
    }

    fn build(initial: Duration, max: Duration, rng: Option<SmallRng>) -> Backoff {
        Backoff {
            initial,
            max,
            floor: Duration::ZERO,
            cap: initial.min(max),
            attempts: 0,
            rng,
        }
    }

    /// Sets the shortest delay ever returned.
    pub fn with_floor(mut self, floor: Duration) -> Backoff {
        self.floor = floor;
        self
    }

    /// The delay before the next attempt; the cap then doubles (up to the maximum).
    pub fn next_delay(&mut self) -> Duration {
        self.next_delay_within(Duration::MAX)
    }

    /// As [`Backoff::next_delay`], with this attempt's cap also bounded by `limit` (the
    /// scheduler driver bounds it by a tenth of the framework's failover timeout).
    pub fn next_delay_within(&mut self, limit: Duration) -> Duration {
        let cap = self.cap.min(limit);
        let delay = match &mut self.rng {
            Some(rng) => cap.mul_f64(rng.random::<f64>()),
            None => cap,
        };
        self.cap = self.cap.saturating_mul(2).min(self.max);
        self.attempts = self.attempts.saturating_add(1);
        delay.max(self.floor)
    }

    /// Starts over at the initial cap (after a success, or when a new peer appears).
    pub fn reset(&mut self) {
        self.cap = self.initial.min(self.max);
        self.attempts = 0;
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn deterministic_backoff_doubles_up_to_the_maximum() {
        // STATUS_UPDATE_RETRY_INTERVAL_MIN/MAX: 10 s, 20 s, ... capped at 10 min.
        let mut b = Backoff::deterministic(Duration::from_secs(10), Duration::from_secs(600));
        let delays: Vec<u64> = (0..8).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(b.attempts(), 8);
    }

    #[test]
    fn reset_starts_over_at_the_initial_cap() {
        let mut b = Backoff::deterministic(10 * MS, Duration::from_secs(1));
        b.next_delay();
        b.next_delay();
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.next_delay(), 10 * MS);
    }

    #[test]
    fn jittered_delays_stay_within_the_doubling_cap() {
        // Mesos's agent: a delay uniform in [0, factor·2^n], the cap at most a minute.
        let factor = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        let mut b = Backoff::with_seed(factor, max, 7);
        let mut cap = factor;
        for _ in 0..20 {
            let delay = b.next_delay();
            assert!(delay <= cap, "{delay:?} > {cap:?}");
            cap = (cap * 2).min(max);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays_and_another_seed_others() {
        let run = |seed| {
            let mut b = Backoff::with_seed(Duration::from_secs(1), Duration::from_secs(60), seed);
            (0..10).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn jitter_spreads_delays_over_the_whole_range() {
        // Full jitter, not "cap plus a little": both halves of [0, cap] are drawn.
        let mut b = Backoff::with_seed(Duration::from_secs(1), Duration::from_secs(1), 1);
        let delays: Vec<Duration> = (0..200).map(|_| b.next_delay()).collect();
        assert!(delays.iter().any(|d| *d < Duration::from_millis(250)));
        assert!(delays.iter().any(|d| *d > Duration::from_millis(750)));
    }

    #[test]
    fn the_floor_bounds_delays_from_below_even_with_a_zero_factor() {
        let mut b =
            Backoff::with_seed(Duration::ZERO, Duration::from_secs(60), 3).with_floor(50 * MS);
        for _ in 0..10 {
            assert_eq!(b.next_delay(), 50 * MS);
        }
    }

    #[test]
    fn a_limit_bounds_one_attempt_without_stopping_the_doubling() {
        // The scheduler driver: at most failover_timeout / 10 per attempt.
        let mut b = Backoff::deterministic(Duration::from_secs(4), Duration::from_secs(60));
        assert_eq!(
            b.next_delay_within(Duration::from_secs(3)),
            Duration::from_secs(3)
        );
        assert_eq!(b.next_delay(), Duration::from_secs(8));
    }

    #[test]
    fn equal_initial_and_maximum_give_a_constant_cap() {
        // The executor library: initial = max = MESOS_SUBSCRIPTION_BACKOFF_MAX, no growth.
        let mut b = Backoff::deterministic(Duration::from_secs(2), Duration::from_secs(2));
        assert_eq!(b.next_delay(), Duration::from_secs(2));
        assert_eq!(b.next_delay(), Duration::from_secs(2));
    }

    #[test]
    fn the_maximum_bounds_even_the_first_cap() {
        // Mesos bounds maxBackoff by the maximum before drawing the first delay.
        let mut b = Backoff::deterministic(Duration::from_secs(90), Duration::from_secs(60));
        assert_eq!(b.next_delay(), Duration::from_secs(60));
    }
}
