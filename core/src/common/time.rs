//! The time a synchronous handler is given (DESIGN.md §3: time comes in as `now`).
//!
//! The state machines (master, agent, executors' cores) never read a clock; their async
//! shells read it once per handler call with [`now`] and pass the [`Time`] in, so a test
//! can hand them any instant.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The instant of a handler call: a monotonic clock for deadlines and the wall clock for
/// the timestamps Mesos reports (seconds since the epoch).
#[derive(Clone, Copy, Debug)]
pub struct Time {
    pub mono: Instant,
    pub wall: f64,
}

/// Reads both clocks: tokio's monotonic one (paused and advanced in tests) and the wall.
#[allow(
    clippy::disallowed_methods,
    reason = "the one clock read of the runtimes, which hand the time to their state machines"
)]
pub fn now() -> Time {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    Time {
        mono: tokio::time::Instant::now().into_std(),
        wall,
    }
}
