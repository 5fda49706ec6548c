//! Task checks and health checks in the built-in executors: `TaskInfo.check` and
//! `TaskInfo.health_check` as Mesos 1.11 runs them (`src/checks/checker_process.cpp`,
//! `checker.cpp`, `health_checker.cpp`; the executors' side in `src/launcher/executor.cpp`
//! and `default_executor.cpp`).
//!
//! ```text
//!  task started ──(delay_seconds)──► probe ──► outcome ──(interval_seconds)──► probe ──► …
//!                                      │ COMMAND: the check's command as the task's user,
//!                                      │   in its sandbox, with its environment; exit code
//!                                      │ HTTP:    GET <scheme>://127.0.0.1:<port><path>,
//!                                      │   redirects followed, certificates not verified;
//!                                      │   status code
//!                                      │ TCP:     connect to 127.0.0.1:<port>; succeeded
//!                                      └ timeout_seconds (0: none) ──► a failed probe
//!  check:  the CheckStatusInfo (empty when the probe failed) ──► an update when it changed
//!          (REASON_TASK_CHECK_STATUS_UPDATED, `check_status`)
//!  health: healthy = exit 0 | status 200–399 | connected; the first success, the first
//!          success after failures and every failure past the grace period ──► an update
//!          (REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, `healthy`); `consecutive_failures`
//!          failures in a row ──► the task is killed (its terminal update has healthy=false)
//! ```
//!
//! - [`checker`]: the decisions — when to probe, what an outcome means, when to tell the
//!   framework, when to kill — synchronous and clock-free (time comes in as `now`).
//! - [`runner`]: performs one probe: starts and reaps the COMMAND process (killing its
//!   whole process group on timeout, so nothing is left behind), speaks HTTP, connects TCP.
//!
//! The probe's interval runs from the end of the previous probe, as in Mesos (a slow probe
//! never overlaps the next one). A failed probe (timed out, could not start, the HTTP
//! request failed) is a failure for a health check and an empty `CheckStatusInfo` for a
//! check, as Mesos's `processCheckResult` does.
//!
//! Differences from Mesos:
//! - HTTP and TCP probes are made by the executor itself (hyper, tokio) rather than by
//!   `curl` and `mesos-tcp-connect` child processes; the outcome is the same (the final
//!   status code after redirects; whether the connection was accepted). For a docker task
//!   they are made from the container's network namespace, as Mesos's docker executor has
//!   them made ([`runner::run_in_network_of`]: a thread of the probe's own enters
//!   `/proc/<container pid>/ns/net`), so `127.0.0.1` is the container's.
//! - A COMMAND check runs as the task's user with the task's environment (the check's own
//!   `environment` over it) in the task's working directory; the check's
//!   `CommandInfo.user` is ignored (Mesos runs it as the executor, which Mesos starts as
//!   the task's user). For a task of a task group it runs the same way: remesos's default
//!   executor runs group tasks as processes, not nested containers, so the check shares
//!   the task's (and executor's) namespaces — once nested containers land it should run
//!   inside the task's container, as Mesos's `LAUNCH_NESTED_CONTAINER_SESSION` does.
//! - `HealthCheck.HTTPCheckInfo.statuses` is ignored, as by Mesos's own executors (it is for
//!   custom executors); 200–399 is healthy.

pub mod checker;
pub mod runner;

pub use checker::{Checker, Outcome, Probe, Request, Role, TaskChecks, Verdict};
