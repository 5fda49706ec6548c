//! The command executor in docker mode: Mesos's `mesos-docker-executor`
//! (src/docker/executor.cpp). The docker containerizer (agent/containerizer/docker.rs)
//! starts `remesos executor --docker_run=[…]` on the host with the `docker run` arguments it
//! built and checked; the executor's state machine ([`super::command::CommandExecutor`]) is
//! the command executor's, and only what it does to the task's process differs:
//!
//! ```text
//! Launch  ──► `docker -H … run …` attached (the container's stdout/stderr are the
//!             executor's: the sandbox's files); the container's `start` event from
//!             dockerd's event stream, then one inspect for its addresses (both on the
//!             socket, common/docker_api.rs: no CLI process, no polling)
//!             ──► TASK_RUNNING with the container's IP in container_status.network_infos
//! Signal  ──► `docker kill --signal=TERM|KILL mesos-<container id>`
//! reaped  ──► `docker run`'s exit status is the container's; `State.OOMKilled` makes it
//!             TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY
//! COMMAND check ──► `docker exec mesos-<container id> <command>` (Mesos's docker executor)
//! HTTP/TCP check ──► from the container's network namespace: `/proc/<State.Pid>/ns/net`,
//!             entered by a thread of the probe's own (checks/runner.rs), so `127.0.0.1`
//!             and the check's port are the container's, on BRIDGE and USER networks alike
//! ```
//!
//! Values of the container's environment reach it through the `docker` process's own
//! environment (`-e NAME` in the arguments), never through a command line.

use std::path::PathBuf;
use std::time::Duration;

use remesos_proto::v1;

use super::command::LaunchSpec;
use crate::common::docker_api::Engine;

/// How often the container's state is asked for when dockerd's event stream cannot be
/// read.
const INSPECT_INTERVAL: Duration = Duration::from_millis(25);
/// How long the executor waits for the container to run before it reports TASK_RUNNING
/// without its network (the `docker run` goes on; its exit is reported as usual).
const INSPECT_PATIENCE: Duration = Duration::from_secs(30);

/// How a `docker run` began.
#[derive(Debug)]
pub enum Started {
    /// The container runs; its status for TASK_RUNNING (its addresses), if known.
    Running(Option<v1::ContainerStatus>),
    /// `docker run` ended before the container ran (an image or network dockerd refused):
    /// why, for TASK_FAILED. Mesos's docker executor then sends no TASK_RUNNING either.
    Exited(String),
}

/// The last error line of the sandbox's `stderr` (the executor's working directory), where a
/// `docker run` that never started its container wrote why (`docker: Error response from
/// daemon: …`): at most [`ERROR_LINE_BYTES`] of it, read from the file's end only.
fn last_error_line() -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open("stderr").ok()?;
    let length = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(
        length.saturating_sub(ERROR_LINE_BYTES as u64),
    ))
    .ok()?;
    let mut tail = Vec::with_capacity(ERROR_LINE_BYTES);
    file.take(ERROR_LINE_BYTES as u64)
        .read_to_end(&mut tail)
        .ok()?;
    let text = String::from_utf8_lossy(&tail);
    // The docker CLI ends with a hint ("Run 'docker run --help' for more information")
    // after the daemon's error.
    let hint = |l: &str| l.starts_with("Run '") && l.contains("--help");
    let line = text
        .lines()
        .map(str::trim)
        .rev()
        .find(|l| !l.is_empty() && !hint(l))?;
    Some(line.chars().filter(|c| !c.is_control()).collect())
}

/// The most of `stderr`'s end [`last_error_line`] reads.
const ERROR_LINE_BYTES: usize = 512;

/// `--docker`, `--docker_socket`, `--container` and `--docker_run` of `remesos executor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerRun {
    /// The docker CLI.
    pub docker: PathBuf,
    /// dockerd's socket.
    pub socket: PathBuf,
    /// The container's name (`mesos-<container id>`).
    pub container: String,
    /// `docker run`'s arguments, from `run` on.
    pub run: Vec<String>,
}

impl DockerRun {
    /// Checks what the agent passed: a `run` with the container's name.
    pub fn new(
        docker: PathBuf,
        socket: PathBuf,
        container: String,
        run: Vec<String>,
    ) -> Result<DockerRun, String> {
        if run.first().map(String::as_str) != Some("run") {
            return Err("--docker_run must start with 'run'".into());
        }
        if !container.starts_with("mesos-") || !run.contains(&container) {
            return Err(format!(
                "--container '{}' is not the container --docker_run names",
                container.escape_debug()
            ));
        }
        Ok(DockerRun {
            docker,
            socket,
            container,
            run,
        })
    }

    fn command(&self) -> tokio::process::Command {
        #[allow(
            clippy::disallowed_methods,
            reason = "the docker executor runs the task through the docker CLI"
        )]
        let mut cmd = tokio::process::Command::new(&self.docker);
        cmd.arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .stdin(std::process::Stdio::null());
        cmd
    }

    fn engine(&self) -> Engine {
        Engine::new(&self.socket)
    }

    /// Starts `docker run` attached, in its own process group, with the task's
    /// environment (what the `-e NAME` arguments read).
    pub fn spawn(&self, spec: &LaunchSpec) -> Result<tokio::process::Child, String> {
        let mut cmd = self.command();
        cmd.args(&self.run)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .process_group(0)
            .stdout(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(false);
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        cmd.spawn()
            .map_err(|e| format!("'{}': {e}", self.docker.display()))
    }

    /// Waits until the container runs, or `child`, the `docker run`, ended first (reaped
    /// here: the container never ran). "Runs" is dockerd's `start` event; should the event
    /// stream fail, the container's state is asked for every [`INSPECT_INTERVAL`].
    pub async fn wait_running(&self, child: &mut tokio::process::Child) -> Started {
        let engine = self.engine();
        let started = async {
            if let Err(e) = engine.wait_start(&self.container).await {
                tracing::warn!(container = %self.container, error = %e, "dockerd's event stream failed; polling the container's state");
                loop {
                    if let Ok(Some(state)) = engine.container(&self.container).await
                        && state.running
                    {
                        return;
                    }
                    tokio::time::sleep(INSPECT_INTERVAL).await;
                }
            }
        };
        tokio::select! {
            () = started => {}
            status = child.wait() => {
                let how = match status {
                    Ok(status) => status.to_string(),
                    Err(e) => format!("was lost ({e})"),
                };
                return Started::Exited(format!(
                    "the container did not start: docker run {how}{}",
                    last_error_line()
                        .map(|line| format!(": {line}"))
                        .unwrap_or_default()
                ));
            }
            () = tokio::time::sleep(INSPECT_PATIENCE) => {
                tracing::warn!(container = %self.container, "the container did not run in time; reporting TASK_RUNNING without its network");
                return Started::Running(None);
            }
        }
        Started::Running(match engine.container(&self.container).await {
            Ok(Some(state)) => Some(container_status(
                state.ip_addresses.iter().map(String::as_str),
            )),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(container = %self.container, error = %e, "failed to inspect the running container");
                None
            }
        })
    }

    /// `docker kill --signal=…` of the container (Mesos's docker executor stops it the
    /// same way: SIGTERM, then SIGKILL when the grace period ends).
    pub async fn signal(&self, signal: i32) {
        let name = if signal == libc::SIGKILL {
            "KILL"
        } else {
            "TERM"
        };
        let mut kill = self.command();
        kill.args(["kill", &format!("--signal={name}"), "--", &self.container])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        match kill.status().await {
            Ok(s) if s.success() => {}
            other => {
                tracing::warn!(container = %self.container, signal = name, ?other, "docker kill failed")
            }
        }
    }

    /// A COMMAND check's process as `docker exec` in the container, as Mesos's docker
    /// executor wraps its checks (src/docker/executor.cpp): the check runs in the task's
    /// namespaces, filesystem and user (the container's `--user`); its command is the
    /// check's (`/bin/sh -c <value>` or the argv form). The container's environment is the
    /// task's; the check's own variables are not added.
    pub fn exec_spec(&self, check: LaunchSpec) -> LaunchSpec {
        let mut args = vec![
            "-H".to_string(),
            format!("unix://{}", self.socket.display()),
            "exec".to_string(),
            self.container.clone(),
            check.program,
        ];
        args.extend(check.args);
        LaunchSpec {
            program: self.docker.display().to_string(),
            arg0: "docker".into(),
            args,
            // The docker CLI's own environment: the executor's PATH and HOME, not the task's.
            env: ["PATH", "HOME"]
                .into_iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
                .collect(),
            cwd: None,
            user: None,
            rootfs: None,
        }
    }

    /// The container's init process on the host (`State.Pid`), while it runs: HTTP and TCP
    /// checks are made from its network namespace.
    pub async fn pid(&self) -> Option<u32> {
        match self.engine().container(&self.container).await {
            Ok(Some(state)) => state.pid,
            _ => None,
        }
    }

    /// Whether the kernel killed the container for its memory limit (`State.OOMKilled`).
    pub async fn oom_killed(&self) -> bool {
        matches!(self.engine().container(&self.container).await, Ok(Some(state)) if state.oom_killed)
    }
}

/// A container status with these IP addresses (Mesos's docker executor reports the
/// container's address in `network_infos`).
fn container_status<'a>(ips: impl Iterator<Item = &'a str>) -> v1::ContainerStatus {
    let addresses: Vec<v1::network_info::IpAddress> = ips
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        .map(|ip| v1::network_info::IpAddress {
            ip_address: Some(ip.to_string()),
            ..Default::default()
        })
        .collect();
    v1::ContainerStatus {
        network_infos: if addresses.is_empty() {
            Vec::new()
        } else {
            vec![v1::NetworkInfo {
                ip_addresses: addresses,
                ..Default::default()
            }]
        },
        ..Default::default()
    }
}

/// The message of a task its container's memory limit ended.
pub fn memory_limit_message(container: &str) -> String {
    format!(
        "Memory limit exceeded: the kernel killed container {container} for using more \
         memory than the task's 'mem' resource (or its 'mem' limit); give the task more mem"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_run_arguments_must_name_the_container() {
        let ok = DockerRun::new(
            "docker".into(),
            "/s".into(),
            "mesos-c1".into(),
            vec!["run".into(), "--name".into(), "mesos-c1".into(), "i".into()],
        );
        assert!(ok.is_ok());
        for (container, run) in [
            ("mesos-c1", vec!["ps"]),
            ("mesos-c2", vec!["run", "--name", "mesos-c1"]),
            ("other", vec!["run", "--name", "other"]),
        ] {
            let run = run.into_iter().map(String::from).collect();
            assert!(DockerRun::new("d".into(), "/s".into(), container.into(), run).is_err());
        }
    }

    #[test]
    fn the_containers_addresses_become_its_network_infos() {
        let status = container_status("172.17.0.2 garbage ".split_whitespace());
        assert_eq!(
            status.network_infos[0].ip_addresses[0]
                .ip_address
                .as_deref(),
            Some("172.17.0.2")
        );
        assert_eq!(status.network_infos[0].ip_addresses.len(), 1);
        assert!(
            container_status("".split_whitespace())
                .network_infos
                .is_empty()
        );
    }
}
