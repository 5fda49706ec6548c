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

/// The tracing target of the launch path's phase lines (bench/README.md "Where the serial
/// launch goes"): `REMESOS_LOG=launch_phase=debug` turns them on in the agent and, through
/// the environment the executors inherit, in the command executor.
pub const PHASE_TARGET: &str = "launch_phase";

/// `CLOCK_MONOTONIC` in microseconds: one clock for every process on the host, so that the
/// agent's, the executor's and a framework's phase lines can be put on one time line.
pub fn monotonic_us() -> u64 {
    // SAFETY: clock_gettime writes into the zeroed timespec we own.
    let now = unsafe {
        let mut now: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
        now
    };
    u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000
        + u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000
}

/// Whether phase lines are on (checked before building a line's id).
pub fn phases_on() -> bool {
    tracing::enabled!(target: PHASE_TARGET, tracing::Level::DEBUG)
}

/// Logs `phase` of the launch of `id` (a task id, which is the command executor's id) at
/// debug level as `<phase> <id> <monotonic µs>`. Called by the runtimes (the async shells),
/// never by a state machine; reads the clock only when the line is on.
pub fn phase(phase: &str, id: &str) {
    if phases_on() {
        phase_at(phase, id, monotonic_us());
    }
}

/// [`phase`] with a time read earlier (before logging was set up).
pub fn phase_at(phase: &str, id: &str, us: u64) {
    tracing::debug!(target: PHASE_TARGET, "{phase} {id} {us}");
}
