//! The decisions of one task's check and health check: when to probe, what an outcome
//! means, when to tell the framework, when to kill the task. Synchronous and clock-free:
//! time comes in as `now`, probes go out as [`Request`]s that the executor's shell hands
//! to [`super::runner`], and their [`Outcome`]s come back through
//! [`Checker::on_outcome`].
//!
//! Mesos's `CheckerProcess` (scheduling: `delay_seconds` before the first probe,
//! `interval_seconds` after each outcome, `timeout_seconds` with 0 meaning none),
//! `Checker::processCheckResult` (a check reports only changes) and
//! `HealthChecker::processCheckResult`, `failure` and `success` (the grace period, the
//! consecutive failures, the kill).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use remesos_proto::v1;
use tokio::time::Instant;

use crate::common::validation::{validate_check_info, validate_health_check};
use crate::executor::command::{LaunchSpec, argv, overlay_environment};

/// The longest delay, interval, timeout or grace period taken from a definition (ten
/// years): a larger one is as good as forever, and `Instant + Duration` must not overflow.
const MAX_SECONDS: f64 = 10.0 * 365.0 * 24.0 * 3600.0;

/// Which of a task's two checkers a probe belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `TaskInfo.check`.
    Check,
    /// `TaskInfo.health_check`.
    Health,
}

/// What one probe does.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    /// Run this command and report its exit code.
    Command(LaunchSpec),
    /// GET this URL (redirects followed, certificates not verified) and report the final
    /// status code.
    Http { url: String },
    /// Connect to `host:port` and report whether the connection was accepted. `port` is as
    /// the definition gave it; one above 65535 fails the probe.
    Tcp { host: IpAddr, port: u32 },
}

/// A probe the shell must perform now, then report with [`Checker::on_outcome`] (or
/// [`TaskChecks::on_outcome`]) under the same `role` and `attempt`.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub role: Role,
    /// Identifies this probe; an outcome of an older one (the checker was paused since)
    /// is ignored.
    pub attempt: u64,
    pub probe: Probe,
    /// Give up (and kill what the probe started) after this long; `None`: never.
    pub timeout: Option<Duration>,
}

/// What a probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The COMMAND probe's process exited with this code.
    Command { exit_code: i32 },
    /// The HTTP probe got this final status code.
    Http { status_code: u32 },
    /// The TCP probe's connection was (not) accepted.
    Tcp { succeeded: bool },
    /// The probe could not be performed: it timed out, its process could not start or was
    /// killed by a signal, the HTTP request failed. The text says which (for the log).
    Failed(String),
}

/// What the executor must tell the framework (and do) after an outcome.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Send an update with `healthy` (REASON_TASK_HEALTH_CHECK_STATUS_UPDATED); kill the
    /// task when `kill_task`.
    Health {
        healthy: bool,
        consecutive_failures: u32,
        kill_task: bool,
    },
    /// Send an update with this `check_status` (REASON_TASK_CHECK_STATUS_UPDATED).
    Check(v1::CheckStatusInfo),
}

#[derive(Debug)]
enum Mode {
    Check {
        /// The last status reported (at first the empty one): only a change is reported.
        previous: v1::CheckStatusInfo,
    },
    Health {
        /// `consecutive_failures`: this many failures in a row kill the task.
        limit: u32,
        /// `grace_period_seconds`: failures this soon after the start are ignored until
        /// the first success.
        grace: Duration,
        /// Failures in a row so far.
        failures: u32,
        /// No success yet.
        initializing: bool,
    },
}

/// One checker: a task's check or its health check.
#[derive(Debug)]
pub struct Checker {
    role: Role,
    /// "HTTP health check", "COMMAND check": for the log, as Mesos names them.
    name: String,
    probe: Probe,
    interval: Duration,
    timeout: Option<Duration>,
    /// When the checker was created (the task was started): the grace period's origin.
    started: Instant,
    /// When the next probe is due; `None` while one is in flight or the checker is paused.
    due: Option<Instant>,
    /// The attempt in flight.
    in_flight: Option<u64>,
    attempts: u64,
    paused: bool,
    mode: Mode,
}

/// A definition's seconds as a duration: negative or NaN as zero (validation refuses
/// both before a checker is built), at most [`MAX_SECONDS`].
fn seconds(value: f64) -> Duration {
    let value = if value.is_nan() { 0.0 } else { value };
    Duration::from_secs_f64(value.clamp(0.0, MAX_SECONDS))
}

/// 0 means no timeout (Mesos's `CheckerProcess`).
fn timeout(value: f64) -> Option<Duration> {
    Some(seconds(value)).filter(|d| !d.is_zero())
}

/// The empty `CheckStatusInfo` of a check of `kind`: its type and an empty result, what
/// Mesos's executors put in every update of a checked task before a result is known
/// (`createTaskStatus`) and what a failed probe reports.
fn empty_status(kind: v1::check_info::Type) -> v1::CheckStatusInfo {
    use v1::check_info::Type;
    use v1::check_status_info as status;
    let mut info = v1::CheckStatusInfo {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    match kind {
        Type::Command => info.command = Some(status::Command::default()),
        Type::Http => info.http = Some(status::Http::default()),
        Type::Tcp => info.tcp = Some(status::Tcp::default()),
        Type::Unknown => {}
    }
    info
}

/// The `check_status` every update of `task` carries until a check result is known: the
/// empty status of its check's type; `None` when the task has no (valid) check.
pub fn initial_check_status(task: &v1::TaskInfo) -> Option<v1::CheckStatusInfo> {
    let check = task.check.as_ref()?;
    let kind = check
        .r#type
        .and_then(|t| v1::check_info::Type::try_from(t).ok())
        .filter(|t| *t != v1::check_info::Type::Unknown)?;
    Some(empty_status(kind))
}

/// How to run a COMMAND check's `command` for the task started with `task`: as the task's
/// user, in its working directory, with its environment and the check's over it — and in
/// the task's image when it has one (`--rootfs`: the same filesystem, sandbox and volumes
/// the task sees, entered as the task was, common/rootfs.rs), as Mesos runs a check in
/// the task's mount namespace. A docker task's check is rewritten into `docker exec` by the
/// docker executor (executor/docker.rs).
fn command_spec(task: &LaunchSpec, command: &v1::CommandInfo) -> Result<Probe, String> {
    let (program, arg0, args) =
        argv(command).map_err(|what| format!("{what} of the check is not specified"))?;
    let mut env: BTreeMap<String, String> = task.env.iter().cloned().collect();
    if let Some(environment) = &command.environment {
        overlay_environment(&mut env, environment);
    }
    Ok(Probe::Command(LaunchSpec {
        program,
        arg0,
        args,
        env: env.into_iter().collect(),
        cwd: task.cwd.clone(),
        user: task.user.clone(),
        rootfs: task.rootfs.clone(),
    }))
}

fn loopback(ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }
}

/// `scheme://127.0.0.1:port/path` (`[::1]` for IPv6), as Mesos's `check::Http` builds it.
fn http_url(scheme: &str, ipv6: bool, port: u32, path: Option<&str>) -> String {
    let host = if ipv6 { "[::1]" } else { "127.0.0.1" };
    format!("{scheme}://{host}:{port}{}", path.unwrap_or(""))
}

impl Checker {
    /// A checker for `definition`, started at `now` for the task launched as `task`;
    /// `Err` with Mesos's message when the definition is invalid.
    pub fn health(
        now: Instant,
        definition: &v1::HealthCheck,
        task: &LaunchSpec,
    ) -> Result<Checker, String> {
        use v1::health_check::Type;
        validate_health_check(definition).map_err(|e| e.to_string())?;
        let ipv6 =
            |protocol: Option<i32>| protocol == Some(v1::network_info::Protocol::IPv6 as i32);
        let kind = definition
            .r#type
            .and_then(|t| Type::try_from(t).ok())
            .unwrap_or(Type::Unknown);
        let probe = match (kind, &definition.command, &definition.http, &definition.tcp) {
            (Type::Command, Some(command), _, _) => command_spec(task, command)?,
            (Type::Http, _, Some(http), _) => Probe::Http {
                url: http_url(
                    http.scheme.as_deref().unwrap_or("http"),
                    ipv6(http.protocol),
                    http.port,
                    http.path.as_deref(),
                ),
            },
            (Type::Tcp, _, _, Some(tcp)) => Probe::Tcp {
                host: loopback(ipv6(tcp.protocol)),
                port: tcp.port,
            },
            // Validation refuses every other combination.
            _ => return Err("'UNKNOWN' is not a valid health check type".into()),
        };
        Ok(Checker::new(
            now,
            Role::Health,
            format!("{} health check", kind.as_str_name()),
            probe,
            definition.delay_seconds(),
            definition.interval_seconds(),
            definition.timeout_seconds(),
            Mode::Health {
                limit: definition.consecutive_failures(),
                grace: seconds(definition.grace_period_seconds()),
                failures: 0,
                initializing: true,
            },
        ))
    }

    /// A checker for the general check `definition` (see [`Checker::health`]).
    pub fn check(
        now: Instant,
        definition: &v1::CheckInfo,
        task: &LaunchSpec,
    ) -> Result<Checker, String> {
        use v1::check_info::Type;
        validate_check_info(definition).map_err(|e| e.to_string())?;
        let kind = definition
            .r#type
            .and_then(|t| Type::try_from(t).ok())
            .unwrap_or(Type::Unknown);
        let probe = match (kind, &definition.command, &definition.http, &definition.tcp) {
            (Type::Command, Some(command), _, _) => command_spec(task, &command.command)?,
            (Type::Http, _, Some(http), _) => Probe::Http {
                url: http_url("http", false, http.port, http.path.as_deref()),
            },
            (Type::Tcp, _, _, Some(tcp)) => Probe::Tcp {
                host: loopback(false),
                port: tcp.port,
            },
            _ => return Err("'UNKNOWN' is not a valid check type".into()),
        };
        Ok(Checker::new(
            now,
            Role::Check,
            format!("{} check", kind.as_str_name()),
            probe,
            definition.delay_seconds(),
            definition.interval_seconds(),
            definition.timeout_seconds(),
            Mode::Check {
                previous: empty_status(kind),
            },
        ))
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one private constructor of two public ones"
    )]
    fn new(
        now: Instant,
        role: Role,
        name: String,
        probe: Probe,
        delay: f64,
        interval: f64,
        timeout_seconds: f64,
        mode: Mode,
    ) -> Checker {
        Checker {
            role,
            name,
            probe,
            interval: seconds(interval),
            timeout: timeout(timeout_seconds),
            started: now,
            due: Some(now + seconds(delay)),
            in_flight: None,
            attempts: 0,
            paused: false,
            mode,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the next probe is due: `None` while one is in flight or the checker is paused.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.paused || self.in_flight.is_some() {
            return None;
        }
        self.due
    }

    /// The probe to perform now, if one is due.
    pub fn on_tick(&mut self, now: Instant) -> Option<Request> {
        let due = self.next_deadline()?;
        if due > now {
            return None;
        }
        self.attempts += 1;
        self.in_flight = Some(self.attempts);
        self.due = None;
        Some(Request {
            role: self.role,
            attempt: self.attempts,
            probe: self.probe.clone(),
            timeout: self.timeout,
        })
    }

    /// The outcome of probe `attempt`, at `now`: schedules the next probe and says what
    /// to tell the framework, if anything. An outcome of a probe that is no longer awaited
    /// (the checker was paused meanwhile) changes nothing.
    pub fn on_outcome(&mut self, now: Instant, attempt: u64, outcome: Outcome) -> Option<Verdict> {
        if self.paused || self.in_flight != Some(attempt) {
            tracing::debug!(name = %self.name, attempt, "ignoring the outcome of a stale probe");
            return None;
        }
        self.in_flight = None;
        self.due = Some(now + self.interval);
        match &mut self.mode {
            Mode::Check { previous } => {
                let status = match outcome {
                    Outcome::Command { exit_code } => v1::CheckStatusInfo {
                        r#type: previous.r#type,
                        command: Some(v1::check_status_info::Command {
                            exit_code: Some(exit_code),
                        }),
                        ..Default::default()
                    },
                    Outcome::Http { status_code } => v1::CheckStatusInfo {
                        r#type: previous.r#type,
                        http: Some(v1::check_status_info::Http {
                            status_code: Some(status_code),
                        }),
                        ..Default::default()
                    },
                    Outcome::Tcp { succeeded } => v1::CheckStatusInfo {
                        r#type: previous.r#type,
                        tcp: Some(v1::check_status_info::Tcp {
                            succeeded: Some(succeeded),
                        }),
                        ..Default::default()
                    },
                    Outcome::Failed(error) => {
                        tracing::warn!(name = %self.name, %error, "check failed");
                        let kind = previous
                            .r#type
                            .and_then(|t| v1::check_info::Type::try_from(t).ok())
                            .unwrap_or(v1::check_info::Type::Unknown);
                        empty_status(kind)
                    }
                };
                if status == *previous {
                    return None;
                }
                *previous = status;
                Some(Verdict::Check(status))
            }
            Mode::Health {
                limit,
                grace,
                failures,
                initializing,
            } => {
                let failure = match outcome {
                    Outcome::Command { exit_code: 0 } => None,
                    Outcome::Command { exit_code } => {
                        Some(format!("Command exited with status {exit_code}"))
                    }
                    Outcome::Http { status_code } if (200..400).contains(&status_code) => None,
                    Outcome::Http { status_code } => {
                        Some(format!("Unexpected HTTP response code: {status_code}"))
                    }
                    Outcome::Tcp { succeeded: true } => None,
                    Outcome::Tcp { succeeded: false } => Some("TCP connection failed".into()),
                    Outcome::Failed(error) => Some(error),
                };
                let Some(error) = failure else {
                    // The first success, and the first after failures, are reported.
                    let report = *initializing || *failures > 0;
                    *initializing = false;
                    *failures = 0;
                    return report.then_some(Verdict::Health {
                        healthy: true,
                        consecutive_failures: 0,
                        kill_task: false,
                    });
                };
                tracing::warn!(name = %self.name, %error, "health check failed");
                if *initializing && !grace.is_zero() && now.duration_since(self.started) <= *grace {
                    tracing::info!(name = %self.name, "ignoring the failure: still in the grace period");
                    return None;
                }
                *failures += 1;
                let kill_task = *failures >= *limit;
                tracing::warn!(
                    name = %self.name,
                    failures = *failures,
                    kill_task,
                    "health check failed consecutively"
                );
                Some(Verdict::Health {
                    healthy: false,
                    consecutive_failures: *failures,
                    kill_task,
                })
            }
        }
    }

    /// Stops probing (the task is being killed or has ended, or the executor lost the
    /// agent); an outcome of the probe in flight will be ignored.
    pub fn pause(&mut self) {
        self.paused = true;
        self.in_flight = None;
        self.due = None;
    }

    /// Probes again, at once (Mesos's `CheckerProcess::resume`).
    pub fn resume(&mut self, now: Instant) {
        if self.paused {
            self.paused = false;
            self.due = Some(now);
        }
    }
}

/// A task's checkers: its check and its health check, either or both absent.
#[derive(Debug, Default)]
pub struct TaskChecks {
    check: Option<Checker>,
    health: Option<Checker>,
}

impl TaskChecks {
    /// The checkers of `task`, started at `now` for the task launched as `spec`. A
    /// definition that is invalid is logged and not checked, as Mesos's executors do when
    /// `Checker::create` fails (the master refuses such tasks before they get here).
    pub fn new(now: Instant, task: &v1::TaskInfo, spec: &LaunchSpec) -> TaskChecks {
        let task_id = &task.task_id.value;
        let check = task
            .check
            .as_ref()
            .and_then(|c| match Checker::check(now, c, spec) {
                Ok(checker) => Some(checker),
                Err(error) => {
                    tracing::error!(task_id, %error, "failed to create checker");
                    None
                }
            });
        let health = task
            .health_check
            .as_ref()
            .and_then(|c| match Checker::health(now, c, spec) {
                Ok(checker) => Some(checker),
                Err(error) => {
                    tracing::error!(task_id, %error, "failed to create health checker");
                    None
                }
            });
        TaskChecks { check, health }
    }

    fn each(&mut self) -> impl Iterator<Item = &mut Checker> {
        self.check.iter_mut().chain(self.health.iter_mut())
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.check
            .iter()
            .chain(self.health.iter())
            .filter_map(Checker::next_deadline)
            .min()
    }

    /// The probes due at `now`.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Request> {
        self.each().filter_map(|c| c.on_tick(now)).collect()
    }

    /// See [`Checker::on_outcome`].
    pub fn on_outcome(
        &mut self,
        now: Instant,
        role: Role,
        attempt: u64,
        outcome: Outcome,
    ) -> Option<Verdict> {
        let checker = match role {
            Role::Check => self.check.as_mut(),
            Role::Health => self.health.as_mut(),
        }?;
        checker.on_outcome(now, attempt, outcome)
    }

    pub fn pause(&mut self) {
        self.each().for_each(Checker::pause);
    }

    pub fn resume(&mut self, now: Instant) {
        self.each().for_each(|c| c.resume(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LaunchSpec {
        LaunchSpec {
            program: "/bin/sh".into(),
            arg0: "sh".into(),
            args: vec!["-c".into(), "serve".into()],
            env: vec![
                ("HOME".into(), "/home/task".into()),
                ("PORT".into(), "31000".into()),
            ],
            cwd: Some("/sandbox".into()),
            user: Some("nobody".into()),
            rootfs: None,
        }
    }

    fn health(kind: v1::health_check::Type) -> v1::HealthCheck {
        use v1::health_check::{HttpCheckInfo, TcpCheckInfo, Type};
        v1::HealthCheck {
            r#type: Some(kind as i32),
            command: (kind == Type::Command).then(|| v1::CommandInfo {
                value: Some("test -f ok".into()),
                ..Default::default()
            }),
            http: (kind == Type::Http).then(|| HttpCheckInfo {
                port: 8080,
                path: Some("/health".into()),
                ..Default::default()
            }),
            tcp: (kind == Type::Tcp).then(|| TcpCheckInfo {
                port: 9090,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Probes the checker once at `at` and feeds it `outcome`.
    fn probe(checker: &mut Checker, at: Instant, outcome: Outcome) -> Option<Verdict> {
        let request = checker.on_tick(at).expect("a probe is due");
        checker.on_outcome(at, request.attempt, outcome)
    }

    fn unhealthy(failures: u32, kill_task: bool) -> Option<Verdict> {
        Some(Verdict::Health {
            healthy: false,
            consecutive_failures: failures,
            kill_task,
        })
    }

    const HEALTHY: Option<Verdict> = Some(Verdict::Health {
        healthy: true,
        consecutive_failures: 0,
        kill_task: false,
    });

    /// mesos.proto: delay 15s, interval 10s, timeout 20s, 3 consecutive failures, a grace
    /// period of 10s.
    #[test]
    fn defaults_are_mesos_delay_interval_timeout_failures_and_grace() {
        let now = Instant::now();
        let mut checker =
            Checker::health(now, &health(v1::health_check::Type::Tcp), &spec()).unwrap();
        assert_eq!(checker.next_deadline(), Some(now + Duration::from_secs(15)));
        assert!(checker.on_tick(now + Duration::from_secs(14)).is_none());
        let at = now + Duration::from_secs(15);
        let request = checker.on_tick(at).unwrap();
        assert_eq!(request.timeout, Some(Duration::from_secs(20)));
        assert_eq!(
            request.probe,
            Probe::Tcp {
                host: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: 9090
            }
        );
        // In flight: nothing else is due until the outcome, and the interval counts from it.
        assert_eq!(checker.next_deadline(), None);
        let done = at + Duration::from_secs(3);
        assert_eq!(
            checker.on_outcome(done, request.attempt, Outcome::Tcp { succeeded: true }),
            HEALTHY
        );
        assert_eq!(
            checker.next_deadline(),
            Some(done + Duration::from_secs(10))
        );
        match checker.mode {
            Mode::Health { limit, grace, .. } => {
                assert_eq!((limit, grace), (3, Duration::from_secs(10)));
            }
            Mode::Check { .. } => unreachable!(),
        }
    }

    /// health_checker.cpp `failure`: while no probe has succeeded yet, failures within the
    /// grace period are ignored; after the first success they always count.
    #[test]
    fn failures_in_the_grace_period_are_ignored_until_the_first_success() {
        let now = Instant::now();
        let mut definition = health(v1::health_check::Type::Http);
        definition.delay_seconds = Some(0.0);
        definition.interval_seconds = Some(1.0);
        definition.grace_period_seconds = Some(5.0);
        let mut checker = Checker::health(now, &definition, &spec()).unwrap();
        let refused = || Outcome::Failed("connection refused".into());
        for s in 0..=5 {
            let at = now + Duration::from_secs(s);
            assert_eq!(probe(&mut checker, at, refused()), None, "at {s}s");
        }
        // Past the grace period, a failure counts.
        assert_eq!(
            probe(&mut checker, now + Duration::from_secs(6), refused()),
            unhealthy(1, false)
        );

        // With a success inside the grace period, the next failure counts at once.
        let mut checker = Checker::health(now, &definition, &spec()).unwrap();
        assert_eq!(
            probe(&mut checker, now, Outcome::Http { status_code: 200 }),
            HEALTHY
        );
        assert_eq!(
            probe(&mut checker, now + Duration::from_secs(1), refused()),
            unhealthy(1, false)
        );
    }

    /// health_checker.cpp: every failure is reported with its count; the one that reaches
    /// `consecutive_failures` asks for the kill; a success resets the count and is
    /// reported only as the first or the first after failures.
    #[test]
    fn consecutive_failures_kill_and_a_success_resets_the_count() {
        let now = Instant::now();
        let mut definition = health(v1::health_check::Type::Command);
        definition.delay_seconds = Some(0.0);
        definition.grace_period_seconds = Some(0.0);
        definition.consecutive_failures = Some(2);
        let mut checker = Checker::health(now, &definition, &spec()).unwrap();
        let mut at = now;
        let mut step = |outcome| {
            let verdict = probe(&mut checker, at, outcome);
            at += Duration::from_secs(10);
            verdict
        };
        let ok = Outcome::Command { exit_code: 0 };
        let bad = Outcome::Command { exit_code: 1 };
        assert_eq!(step(ok.clone()), HEALTHY);
        assert_eq!(step(ok.clone()), None, "no change, no update");
        assert_eq!(step(bad.clone()), unhealthy(1, false));
        assert_eq!(
            step(ok.clone()),
            HEALTHY,
            "the first success after a failure"
        );
        assert_eq!(step(bad.clone()), unhealthy(1, false));
        assert_eq!(step(bad.clone()), unhealthy(2, true));
    }

    /// HTTP: 200–399 is healthy, anything else (and no answer) is not.
    #[test]
    fn http_statuses_from_200_to_399_are_healthy() {
        let now = Instant::now();
        let mut definition = health(v1::health_check::Type::Http);
        definition.grace_period_seconds = Some(0.0);
        definition.consecutive_failures = Some(100);
        let mut checker = Checker::health(now, &definition, &spec()).unwrap();
        let mut at = now + Duration::from_secs(15);
        for (code, healthy) in [
            (200, true),
            (399, true),
            (400, false),
            (302, true),
            (199, false),
            (503, false),
        ] {
            let verdict = probe(&mut checker, at, Outcome::Http { status_code: code });
            let reported = match verdict {
                Some(Verdict::Health { healthy, .. }) => healthy,
                None => true, // a success after a success is not reported
                other => panic!("{other:?}"),
            };
            assert_eq!(reported, healthy, "status {code}");
            at += Duration::from_secs(10);
        }
    }

    /// A timed-out probe is a failure of a health check and an empty result of a check
    /// (checker_process.cpp: a timeout fails the probe's future).
    #[test]
    fn a_timeout_fails_a_health_check_and_empties_a_check() {
        let now = Instant::now();
        let mut definition = health(v1::health_check::Type::Command);
        definition.grace_period_seconds = Some(0.0);
        definition.consecutive_failures = Some(1);
        definition.timeout_seconds = Some(2.0);
        let mut checker = Checker::health(now, &definition, &spec()).unwrap();
        let at = now + Duration::from_secs(15);
        let request = checker.on_tick(at).unwrap();
        assert_eq!(request.timeout, Some(Duration::from_secs(2)));
        let timed_out = Outcome::Failed("Command timed out after 2secs".into());
        assert_eq!(
            checker.on_outcome(at, request.attempt, timed_out.clone()),
            unhealthy(1, true)
        );

        let check = v1::CheckInfo {
            r#type: Some(v1::check_info::Type::Command as i32),
            command: Some(v1::check_info::Command {
                command: v1::CommandInfo {
                    value: Some("exit 3".into()),
                    ..Default::default()
                },
            }),
            delay_seconds: Some(0.0),
            timeout_seconds: Some(0.0),
            ..Default::default()
        };
        let mut checker = Checker::check(now, &check, &spec()).unwrap();
        let request = checker.on_tick(now).unwrap();
        assert_eq!(request.timeout, None, "0 means no timeout");
        assert_eq!(
            checker.on_outcome(now, request.attempt, Outcome::Command { exit_code: 3 }),
            Some(Verdict::Check(v1::CheckStatusInfo {
                r#type: Some(v1::check_info::Type::Command as i32),
                command: Some(v1::check_status_info::Command { exit_code: Some(3) }),
                ..Default::default()
            }))
        );
        let later = now + Duration::from_secs(10);
        let request = checker.on_tick(later).unwrap();
        assert_eq!(
            checker.on_outcome(later, request.attempt, timed_out),
            Some(Verdict::Check(empty_status(v1::check_info::Type::Command)))
        );
    }

    /// checker.cpp `processCheckResult`: only a changed status is reported, the first
    /// result included (compared with the empty status).
    #[test]
    fn a_check_reports_only_changes() {
        let now = Instant::now();
        let check = v1::CheckInfo {
            r#type: Some(v1::check_info::Type::Tcp as i32),
            tcp: Some(v1::check_info::Tcp { port: 5000 }),
            ..Default::default()
        };
        let mut checker = Checker::check(now, &check, &spec()).unwrap();
        let tcp = |succeeded| {
            Some(Verdict::Check(v1::CheckStatusInfo {
                r#type: Some(v1::check_info::Type::Tcp as i32),
                tcp: Some(v1::check_status_info::Tcp {
                    succeeded: Some(succeeded),
                }),
                ..Default::default()
            }))
        };
        let mut at = now + Duration::from_secs(15);
        let mut step = |outcome| {
            let verdict = probe(&mut checker, at, outcome);
            at += Duration::from_secs(10);
            verdict
        };
        // A failed probe first: the empty status, as before: nothing to report.
        assert_eq!(step(Outcome::Failed("timed out".into())), None);
        assert_eq!(step(Outcome::Tcp { succeeded: false }), tcp(false));
        assert_eq!(step(Outcome::Tcp { succeeded: false }), None);
        assert_eq!(step(Outcome::Tcp { succeeded: true }), tcp(true));
        assert_eq!(step(Outcome::Tcp { succeeded: true }), None);
    }

    /// A paused checker probes nothing and ignores the outcome in flight; resuming probes
    /// at once (checker_process.cpp `pause`, `resume`).
    #[test]
    fn pause_ignores_the_probe_in_flight_and_resume_probes_at_once() {
        let now = Instant::now();
        let mut checker =
            Checker::health(now, &health(v1::health_check::Type::Tcp), &spec()).unwrap();
        let at = now + Duration::from_secs(15);
        let request = checker.on_tick(at).unwrap();
        checker.pause();
        assert_eq!(checker.next_deadline(), None);
        assert_eq!(
            checker.on_outcome(at, request.attempt, Outcome::Tcp { succeeded: true }),
            None
        );
        let later = at + Duration::from_secs(100);
        checker.resume(later);
        assert_eq!(checker.next_deadline(), Some(later));
        let again = checker.on_tick(later).unwrap();
        assert_ne!(again.attempt, request.attempt);
        // The stale attempt still changes nothing.
        assert_eq!(
            checker.on_outcome(later, request.attempt, Outcome::Tcp { succeeded: true }),
            None
        );
        assert_eq!(
            checker.on_outcome(later, again.attempt, Outcome::Tcp { succeeded: true }),
            HEALTHY
        );
    }

    /// The probes are built from the definition the way Mesos's `check::Http`,
    /// `check::Tcp` and `commandCheck` are: the loopback address of the protocol, the
    /// scheme, the path; a command as the task's user in its sandbox with its environment,
    /// the check's own variables over it and its `user` ignored.
    #[test]
    fn probes_target_the_loopback_and_commands_run_as_the_task() {
        let now = Instant::now();
        let mut definition = health(v1::health_check::Type::Http);
        let http = definition.http.as_mut().unwrap();
        http.scheme = Some("https".into());
        http.protocol = Some(v1::network_info::Protocol::IPv6 as i32);
        let mut checker = Checker::health(now, &definition, &spec()).unwrap();
        assert_eq!(checker.name(), "HTTP health check");
        assert_eq!(
            checker
                .on_tick(now + Duration::from_secs(15))
                .unwrap()
                .probe,
            Probe::Http {
                url: "https://[::1]:8080/health".into()
            }
        );

        let check = v1::CheckInfo {
            r#type: Some(v1::check_info::Type::Http as i32),
            http: Some(v1::check_info::Http {
                port: 80,
                path: None,
            }),
            delay_seconds: Some(0.0),
            ..Default::default()
        };
        let mut checker = Checker::check(now, &check, &spec()).unwrap();
        assert_eq!(
            checker.on_tick(now).unwrap().probe,
            Probe::Http {
                url: "http://127.0.0.1:80".into()
            }
        );

        let mut definition = health(v1::health_check::Type::Command);
        let command = definition.command.as_mut().unwrap();
        command.user = Some("root".into());
        command.environment = Some(v1::Environment {
            variables: vec![v1::environment::Variable {
                name: "PORT".into(),
                value: Some("8080".into()),
                ..Default::default()
            }],
        });
        let mut checker = Checker::health(now, &definition, &spec()).unwrap();
        let Probe::Command(command) = checker
            .on_tick(now + Duration::from_secs(15))
            .unwrap()
            .probe
        else {
            panic!("a command probe");
        };
        assert_eq!(command.args, vec!["-c", "test -f ok"]);
        assert_eq!(command.user.as_deref(), Some("nobody"));
        assert_eq!(command.cwd, Some("/sandbox".into()));
        assert_eq!(
            command.env,
            vec![
                ("HOME".to_string(), "/home/task".to_string()),
                ("PORT".to_string(), "8080".to_string())
            ]
        );
    }

    /// An invalid definition is not checked (Mesos's executors log and go on); the master
    /// refuses such tasks before they reach an executor.
    #[test]
    fn an_invalid_definition_builds_no_checker() {
        let now = Instant::now();
        let task = v1::TaskInfo {
            health_check: Some(v1::HealthCheck {
                r#type: Some(v1::health_check::Type::Http as i32),
                ..Default::default()
            }),
            check: Some(v1::CheckInfo {
                r#type: Some(v1::check_info::Type::Tcp as i32),
                tcp: Some(v1::check_info::Tcp { port: 1 }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let checks = TaskChecks::new(now, &task, &spec());
        assert!(checks.health.is_none());
        assert!(checks.check.is_some());
        assert_eq!(
            initial_check_status(&task),
            Some(empty_status(v1::check_info::Type::Tcp))
        );
    }
}
