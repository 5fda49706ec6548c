//! The docker containerizer: Mesos's `docker` containerizer
//! (src/slave/containerizer/docker.cpp) for executors whose `ContainerInfo.type` is DOCKER,
//! driving the real `dockerd` through the `docker` CLI as Mesos's src/docker/docker.cpp does.
//!
//! Why the CLI and not the Engine API over the socket: the CLI is what Mesos runs (`--docker`
//! names it, `--docker_socket` becomes its `-H unix://…`), so every option below has the
//! meaning Mesos users know from `docker run`, credentials in `--docker_config` are read by
//! the CLI's own `--config` logic, and an attached `docker run` gives the container's
//! stdout/stderr and exit status as a plain child process — the same thing the posix
//! launcher already watches, checkpoints and recovers. An Engine API client would need a
//! new crate (or a hand-written one over hyper) for attach streams, pull progress and
//! registry auth, for no gain the tests could show. A `docker` call costs ~20 ms, so the
//! launch path's two questions (is the image here? does the container run yet?) are asked
//! on the socket instead (common/docker_api.rs, read-only): the actions stay the CLI's.
//!
//! ```text
//! launch ──► validate (run options, volumes' host paths, ports in the resources)
//!        ──► image present? (asked on the socket) else / force_pull_image ──► `docker pull`
//!        ──► command task:    `remesos executor --docker_run=[…]` on the host (Mesos's
//!                             mesos-docker-executor), which runs `docker run` attached
//!            custom executor: `docker run …` attached, as the executor's process
//!        (either through the posix launcher: sandbox, fetch, setsid, pid checkpoint)
//! kill   ──► SIGTERM to that process (an attached `docker run` proxies it to the
//!            container); SIGKILL also `docker kill mesos-<container id>`
//! exit   ──► `docker rm -f mesos-<container id>` after `--docker_remove_delay`
//! restart──► the executors' processes are watched again by pid (posix recovery); with
//!            `--docker_kill_orphans`, every other `mesos-*` container is removed
//! ```
//!
//! Containers are named `mesos-<container id>` (Mesos's `DOCKER_NAME_PREFIX`). The run
//! options follow `Docker::RunOptions::create` (src/docker/docker.cpp): cpu shares and memory
//! from the resources (`limits` raise them to quota and hard limit), volumes, the sandbox at
//! `--sandbox_directory` with MESOS_SANDBOX pointing at it, network HOST (the default) /
//! BRIDGE / NONE / USER, `port_mappings` checked against the task's ports, `parameters` as
//! `--key=value`, `privileged`. Beyond Mesos: an absolute volume host path must exist (docker
//! would create it, root-owned, on the host), relative paths may not climb out of the
//! sandbox, and the container runs as the task's user (`--user uid:gid`) when the agent
//! runs as root — Mesos runs it as the image's user. Environment values never appear on a
//! command line: `-e NAME` takes each from the `docker` process's environment.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use remesos_proto::v1;

use super::posix::{self, LaunchSettings, Posix};
use super::{ContainerEvent, Containerizer, Limitation, Recovered, Reporter};
use crate::agent::Launch;
use crate::agent::isolator::Limits;
use crate::common::docker_api::Engine;

/// Mesos's `DOCKER_NAME_PREFIX`.
pub const NAME_PREFIX: &str = "mesos-";
/// Mesos's `CPU_SHARES_PER_CPU` and `MIN_CPU_SHARES`.
const CPU_SHARES_PER_CPU: f64 = 1024.0;
const MIN_CPU_SHARES: u64 = 2;
/// Mesos's `CPU_CFS_PERIOD` (100 ms, in µs) and `MIN_CPU_CFS_QUOTA` (1 ms).
const CPU_CFS_PERIOD_US: f64 = 100_000.0;
const MIN_CPU_CFS_QUOTA_US: u64 = 1_000;
/// Mesos's `MIN_MEMORY` (32 MB).
const MIN_MEMORY_BYTES: u64 = 32 * 1024 * 1024;
/// How much of a failed `docker` call's stderr goes into a task's message.
const ERROR_TEXT_LIMIT: usize = 2048;
/// Variables of the executor's environment that stay out of a task's container: the
/// executor's token (the task is not the executor) and what only the host means.
const HOST_ONLY: &[&str] = &[
    "MESOS_EXECUTOR_AUTHENTICATION_TOKEN",
    "MESOS_NATIVE_JAVA_LIBRARY",
    "MESOS_NATIVE_LIBRARY",
    "LIBPROCESS_IP",
    "LIBPROCESS_PORT",
];

/// The docker containerizer's flags (Mesos's names and defaults, src/slave/flags.cpp).
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--docker`: the docker CLI (default `docker`, found in PATH).
    pub docker: PathBuf,
    /// `--docker_socket` (default `/var/run/docker.sock`).
    pub socket: PathBuf,
    /// The directory holding the `config.json` written from `--docker_config` (mode 0700,
    /// the file 0600), given to `docker pull` as `--config`; never logged.
    pub config_dir: Option<PathBuf>,
    /// `--sandbox_directory`: where the sandbox is mounted in the container (default
    /// `/mnt/mesos/sandbox`).
    pub sandbox_directory: String,
    /// `--docker_kill_orphans` (default true): remove unknown `mesos-*` containers on
    /// recovery. Set it to false when several agents share one dockerd.
    pub kill_orphans: bool,
    /// `--docker_remove_delay` (default 6 hours): how long an exited container is kept.
    pub remove_delay: Duration,
    /// `--cgroups_enable_cfs`: cpus become a `--cpu-quota` too.
    pub cfs: bool,
    /// `--host_path_volume_force_creation`: where missing volume host paths are created.
    pub host_path_creation: super::host_path::ForceCreation,
}

impl Settings {
    /// The CLI with its daemon: `docker -H unix://<socket>`.
    fn command(&self) -> tokio::process::Command {
        #[allow(
            clippy::disallowed_methods,
            reason = "the docker containerizer runs the docker CLI, as Mesos does"
        )]
        let mut cmd = tokio::process::Command::new(&self.docker);
        cmd.arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// The CLI's global arguments, for processes started by others (the posix launcher,
    /// the docker executor).
    pub fn global_args(&self) -> Vec<String> {
        vec!["-H".into(), format!("unix://{}", self.socket.display())]
    }

    /// Checks at agent start that the daemon answers (Mesos's agent does not start without
    /// it: `Docker::create` with validation); returns the server's version.
    pub fn validate(&self) -> Result<String, String> {
        #[allow(
            clippy::disallowed_methods,
            reason = "the agent checks at start that dockerd answers, as Mesos does"
        )]
        let out = std::process::Command::new(&self.docker)
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(["version", "--format", "{{.Server.Version}}"])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| {
                format!(
                    "failed to run the docker CLI '{}' (--docker): {e}",
                    self.docker.display()
                )
            })?;
        if !out.status.success() {
            return Err(format!(
                "the docker containerizer cannot reach dockerd at '{}' (--docker_socket): {}",
                self.socket.display(),
                clip(&String::from_utf8_lossy(&out.stderr))
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// `--docker_config`: a path (or `file://` URL) of a docker config file, or its JSON text,
/// in either of docker's formats (`config.json` with `auths`, or the old `.dockercfg`
/// mapping registries to credentials), as Mesos's `docker::spec::parseAuthConfig` reads it;
/// returned in the `config.json` form. Errors name no part of the text: it holds credentials.
pub fn read_config(value: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let text = if value.trim_start().starts_with('{') {
        value.to_string()
    } else {
        let path = value.strip_prefix("file://").unwrap_or(value);
        std::fs::read_to_string(path)
            .map_err(|e| format!("failed to read --docker_config '{path}': {e}"))?
    };
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|_| "--docker_config is not a JSON object".to_string())?;
    let serde_json::Value::Object(map) = json else {
        return Err("--docker_config is not a JSON object".into());
    };
    if map.contains_key("auths") || map.contains_key("credsStore") {
        if map.get("auths").is_some_and(|a| !a.is_object()) {
            return Err("--docker_config: 'auths' is not a JSON object".into());
        }
        return Ok(map);
    }
    let mut config = serde_json::Map::new();
    config.insert("auths".into(), serde_json::Value::Object(map));
    Ok(config)
}

/// Writes `--docker_config` ([`read_config`]) as `config.json` under `dir` for the CLI.
pub fn write_config(value: &str, dir: &Path) -> Result<PathBuf, String> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let config = serde_json::Value::Object(read_config(value)?);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("failed to create '{}': {e}", dir.display()))?;
    let file = dir.join("config.json");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .map_err(|e| format!("failed to write '{}': {e}", file.display()))?;
    out.write_all(config.to_string().as_bytes())
        .map_err(|e| format!("failed to write '{}': {e}", file.display()))?;
    Ok(dir.to_path_buf())
}

/// The container's name: `mesos-<container id>`.
pub fn container_name(container_id: &str) -> String {
    format!("{NAME_PREFIX}{container_id}")
}

/// What one `docker run` needs beyond the `ContainerInfo`.
pub struct RunSpec<'a> {
    pub container_id: &'a str,
    pub container: &'a v1::ContainerInfo,
    /// The command run in the container (the task's, or the custom executor's).
    pub command: &'a v1::CommandInfo,
    /// The names of the variables the container gets from the `docker` process's
    /// environment.
    pub env_names: Vec<String>,
    pub sandbox: &'a Path,
    pub mapped_directory: &'a str,
    /// The resources the container is sized by and whose ports it may map.
    pub resources: &'a [v1::Resource],
    /// `TaskInfo.limits`: `cpus` and `mem` above the request (infinite: no limit).
    pub limits: Option<&'a HashMap<String, v1::value::Scalar>>,
    /// `uid:gid` to run as.
    pub user: Option<(u32, u32)>,
    pub cfs: bool,
    /// Where a missing absolute volume host path may be created.
    pub host_path_creation: &'a super::host_path::ForceCreation,
    /// The persistent volumes among the resources: each bound at its container path under
    /// the mapped sandbox (Mesos's docker containerizer mounts them into the sandbox).
    pub persistent_volumes: &'a [crate::agent::volumes::VolumeMount],
}

/// The arguments of `docker run` (from `run` on, before them the CLI's globals), as
/// Mesos's `Docker::RunOptions::create` builds them; an error is the task's message.
pub fn run_args(spec: &RunSpec<'_>) -> Result<Vec<String>, String> {
    let docker = spec
        .container
        .docker
        .as_ref()
        .ok_or("A DOCKER container needs ContainerInfo.docker with an image")?;
    if docker.image.trim().is_empty() {
        return Err("ContainerInfo.docker.image is empty: name the image to run".into());
    }
    let name = container_name(spec.container_id);
    let mut args: Vec<String> = vec!["run".into(), "--name".into(), name.clone()];
    if docker.privileged.unwrap_or(false) {
        args.push("--privileged".into());
    }
    let requests = Limits::of(spec.resources);
    let limit = |key: &str| spec.limits.and_then(|l| l.get(key)).map(|s| s.value);
    if requests.cpus > 0.0 {
        let shares = ((CPU_SHARES_PER_CPU * requests.cpus) as u64).max(MIN_CPU_SHARES);
        args.extend(["--cpu-shares".into(), shares.to_string()]);
    }
    let quota = match limit("cpus") {
        Some(l) if l.is_finite() => Some(l),
        Some(_) => None,
        None => (spec.cfs && requests.cpus > 0.0).then_some(requests.cpus),
    };
    if let Some(cpus) = quota {
        let quota = ((CPU_CFS_PERIOD_US * cpus) as u64).max(MIN_CPU_CFS_QUOTA_US);
        args.extend(["--cpu-quota".into(), quota.to_string()]);
    }
    match limit("mem") {
        Some(l) if l.is_finite() => {
            let hard = ((l.max(0.0) * 1024.0 * 1024.0) as u64).max(MIN_MEMORY_BYTES);
            args.extend(["--memory".into(), hard.to_string()]);
            if requests.mem_bytes > 0 {
                let soft = requests.mem_bytes.max(MIN_MEMORY_BYTES).min(hard);
                args.extend(["--memory-reservation".into(), soft.to_string()]);
            }
        }
        // An infinite limit: no hard limit, the request as the reservation.
        Some(_) if requests.mem_bytes > 0 => {
            let soft = requests.mem_bytes.max(MIN_MEMORY_BYTES);
            args.extend(["--memory-reservation".into(), soft.to_string()]);
        }
        None if requests.mem_bytes > 0 => {
            let mem = requests.mem_bytes.max(MIN_MEMORY_BYTES);
            args.extend(["--memory".into(), mem.to_string()]);
        }
        _ => {}
    }
    for env in &spec.env_names {
        args.extend(["-e".into(), env.clone()]);
    }
    args.extend([
        "-e".into(),
        format!("MESOS_SANDBOX={}", spec.mapped_directory),
        "-e".into(),
        format!("MESOS_DIRECTORY={}", spec.mapped_directory),
        "-e".into(),
        format!("MESOS_CONTAINER_NAME={name}"),
    ]);
    for volume in &spec.container.volumes {
        args.extend([
            "-v".into(),
            volume_arg(
                volume,
                spec.sandbox,
                spec.mapped_directory,
                spec.host_path_creation,
            )?,
        ]);
    }
    args.extend([
        "-v".into(),
        format!("{}:{}:rw", spec.sandbox.display(), spec.mapped_directory),
    ]);
    // After the sandbox: docker mounts by destination depth, so a volume lands on the
    // sandbox's mount (on the directory `VolumeMount::mount_point` made there).
    for volume in spec.persistent_volumes {
        let host = volume.host.display().to_string();
        let target = format!(
            "{}/{}",
            spec.mapped_directory,
            volume.container_path.display()
        );
        if host.contains(':') || target.contains(':') || climbs(&volume.container_path) {
            return Err(format!(
                "invalid persistent volume '{host}' at '{}'",
                volume.container_path.display()
            ));
        }
        let mode = if volume.readonly { "ro" } else { "rw" };
        args.extend(["-v".into(), format!("{host}:{target}:{mode}")]);
    }
    use v1::container_info::docker_info::Network;
    let network = match docker.network.and_then(|n| Network::try_from(n).ok()) {
        None | Some(Network::Host) => "host".to_string(),
        Some(Network::Bridge) => "bridge".to_string(),
        Some(Network::None) => "none".to_string(),
        Some(Network::User) => {
            let [info] = spec.container.network_infos.as_slice() else {
                return Err(if spec.container.network_infos.is_empty() {
                    "No network info found in container info".into()
                } else {
                    "Only a single network can be defined in Docker run".into()
                });
            };
            let name = info
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .ok_or("No network name found in network info")?;
            if name.starts_with('-') || name.contains(char::is_whitespace) {
                return Err(format!("invalid network name '{}'", name.escape_debug()));
            }
            name
        }
    };
    args.extend(["--net".into(), network.clone()]);
    if let Some(hostname) = &spec.container.hostname {
        if network == "host" {
            return Err("Unable to set hostname with host network mode".into());
        }
        args.extend(["--hostname".into(), hostname.clone()]);
    }
    if !docker.port_mappings.is_empty() {
        if network == "host" || network == "none" {
            return Err(
                "Port mappings are only supported for bridge and user-defined networks".into(),
            );
        }
        let ports = crate::resources::Resources::from_valid_protos(spec.resources.to_vec())
            .ports()
            .ok_or("Port mappings require port resources")?;
        for mapping in &docker.port_mappings {
            let port = u64::from(mapping.host_port);
            if !ports.range.iter().any(|r| r.begin <= port && port <= r.end) {
                return Err(format!(
                    "Port [{}] not included in resources",
                    mapping.host_port
                ));
            }
            let protocol = mapping.protocol.as_deref().unwrap_or("tcp");
            if !matches!(protocol, "tcp" | "udp" | "sctp") {
                return Err(format!(
                    "unsupported port mapping protocol '{}'",
                    protocol.escape_debug()
                ));
            }
            args.extend([
                "-p".into(),
                format!(
                    "{}:{}/{protocol}",
                    mapping.host_port, mapping.container_port
                ),
            ]);
        }
    }
    if let Some((uid, gid)) = spec.user {
        args.extend(["--user".into(), format!("{uid}:{gid}")]);
    }
    for parameter in &docker.parameters {
        // One `--key=value` argument each: a key cannot smuggle in another option.
        if parameter.key.is_empty()
            || !parameter
                .key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "invalid docker parameter '{}'",
                parameter.key.escape_debug()
            ));
        }
        args.push(format!("--{}={}", parameter.key, parameter.value));
    }
    let command = spec.command;
    let shell = command.shell.unwrap_or(true);
    if shell {
        args.extend(["--entrypoint".into(), "/bin/sh".into()]);
    }
    // `--` ends docker's options: an image name cannot become one.
    if docker.image.starts_with('-') {
        return Err(format!(
            "invalid image name '{}'",
            docker.image.escape_debug()
        ));
    }
    args.push(docker.image.clone());
    if shell {
        let value = command
            .value
            .clone()
            .ok_or("Shell specified but no command value provided")?;
        args.extend(["-c".into(), value]);
    } else {
        args.extend(command.value.iter().cloned());
        args.extend(command.arguments.iter().cloned());
    }
    Ok(args)
}

/// One `-v` argument: `host:container:ro|rw`. A relative host path is in the sandbox (and
/// may not climb out of it); an absolute one must exist (docker would create it on the
/// host as root) or be created under `--host_path_volume_force_creation`; a relative
/// container path is under the mapped sandbox.
fn volume_arg(
    volume: &v1::Volume,
    sandbox: &Path,
    mapped: &str,
    host_path_creation: &super::host_path::ForceCreation,
) -> Result<String, String> {
    let container_path = Path::new(&volume.container_path);
    if volume.container_path.is_empty() || climbs(container_path) {
        return Err(format!(
            "invalid volume container_path '{}'",
            volume.container_path.escape_debug()
        ));
    }
    let target = if container_path.is_absolute() {
        volume.container_path.clone()
    } else {
        format!("{mapped}/{}", volume.container_path)
    };
    let Some(host) = &volume.host_path else {
        return Err(if volume.source.is_some() {
            "Only host_path volumes are supported by the docker containerizer here \
             (docker volume drivers are not)"
                .into()
        } else {
            "Host path or volume source is required".into()
        });
    };
    let host_path = Path::new(host);
    if host.is_empty() || climbs(host_path) || host.contains(':') || target.contains(':') {
        return Err(format!(
            "invalid volume host_path '{}'",
            host.escape_debug()
        ));
    }
    let source = if host_path.is_absolute() {
        host_path_creation.ensure(host_path, || {
            format!(
                "The host path '{host}' of volume '{}' does not exist on the agent: create \
                 it there, fix the volume's host_path, or list a directory above it in \
                 --host_path_volume_force_creation",
                volume.container_path
            )
        })?;
        host_path.to_path_buf()
    } else if !container_path.is_absolute() {
        return Err(format!(
            "Both host_path '{host}' and container_path '{}' of a volume are relative",
            volume.container_path
        ));
    } else {
        sandbox.join(host_path)
    };
    let mode = match v1::volume::Mode::try_from(volume.mode) {
        Ok(v1::volume::Mode::Ro) => "ro",
        Ok(v1::volume::Mode::Rw) => "rw",
        Err(_) => return Err("Unsupported volume mode".into()),
    };
    Ok(format!("{}:{target}:{mode}", source.display()))
}

/// Whether a path has a `..` component.
fn climbs(path: &Path) -> bool {
    path.components().any(|c| matches!(c, Component::ParentDir))
}

/// The first `limit` bytes of a `docker` call's output, trimmed, for a message.
fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(ERROR_TEXT_LIMIT) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// The docker containerizer: executors' processes through the posix launcher, their
/// containers by name.
pub struct Docker {
    settings: Arc<Settings>,
    /// Launches the executor's process (the docker executor, or `docker run` for a custom
    /// executor) and watches it; its settings run that process as the agent's user.
    posix: Posix,
    launch_settings: LaunchSettings,
    report: Reporter,
    /// The containers this containerizer runs (launched or recovered, not yet exited).
    containers: HashSet<String>,
}

impl Docker {
    pub fn new(
        settings: Settings,
        mut launch_settings: LaunchSettings,
        report: Reporter,
    ) -> Docker {
        // dockerd enforces the limits; the executor's process needs the agent's rights to
        // reach the socket (Mesos runs mesos-docker-executor as the agent's user too).
        launch_settings.isolation = Default::default();
        launch_settings.executor_as_agent = true;
        Docker {
            settings: Arc::new(settings),
            posix: Posix::new(launch_settings.clone(), report.clone()),
            launch_settings,
            report,
            containers: HashSet::new(),
        }
    }

    /// `docker kill` (SIGKILL) or `docker rm -f` of a container, in the background.
    fn docker_now(&self, container_id: &str, remove: bool) {
        let mut cmd = self.settings.command();
        let name = container_name(container_id);
        if remove {
            cmd.args(["rm", "-f", "-v", &name]);
        } else {
            cmd.args(["kill", &name]);
        }
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        tokio::spawn(async move {
            let _ = cmd.status().await;
        });
    }
}

impl Containerizer for Docker {
    fn supports(&self, launch: &Launch) -> bool {
        super::is_docker(launch.container.as_ref())
    }

    fn recovers(&self, recovered: &Recovered) -> bool {
        super::is_docker(recovered.container.as_ref())
    }

    fn launch(&mut self, launch: Launch) {
        if let Err(e) = std::fs::create_dir_all(&launch.sandbox) {
            tracing::error!(sandbox = %launch.sandbox.display(), error = %e, "failed to create a sandbox");
        }
        self.containers.insert(launch.container_id.clone());
        tokio::spawn(launch_container(
            self.settings.clone(),
            self.launch_settings.clone(),
            self.report.clone(),
            launch,
        ));
    }

    fn recover(&mut self, recovered: Vec<Recovered>) {
        let known: HashSet<String> = recovered.iter().map(|r| r.container_id.clone()).collect();
        for r in &recovered {
            let ids = (
                r.framework_id.clone(),
                r.executor_id.clone(),
                r.container_id.clone(),
            );
            tokio::spawn(report_network(
                self.settings.clone(),
                self.report.clone(),
                ids,
                false,
            ));
        }
        self.containers.extend(known.iter().cloned());
        self.posix.recover(recovered);
        if self.settings.kill_orphans {
            tokio::spawn(remove_orphans(self.settings.clone(), known));
        }
    }

    fn started(&mut self, container_id: &str, pid: u32) {
        self.posix.started(container_id, pid);
    }

    fn exited(&mut self, container_id: &str) -> Option<Limitation> {
        self.posix.exited(container_id);
        if self.containers.remove(container_id) {
            // The executor is gone: its container stops now (an executor killed before it
            // stopped its task leaves it running) and is removed after the delay.
            let name = container_name(container_id);
            let mut kill = self.settings.command();
            kill.args(["kill", &name]);
            let mut rm = self.settings.command();
            rm.args(["rm", "-f", "-v", &name]);
            for cmd in [&mut kill, &mut rm] {
                cmd.stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null());
            }
            let delay = self.settings.remove_delay;
            tokio::spawn(async move {
                let _ = kill.status().await;
                tokio::time::sleep(delay).await;
                let _ = rm.status().await;
            });
        }
        // An OOM kill is reported by the docker executor with the task's update (it reads
        // `State.OOMKilled`); nothing more is known here.
        None
    }

    fn signal(&mut self, container_id: &str, kill: bool) {
        self.posix.signal(container_id, kill);
        if kill {
            self.docker_now(container_id, false);
        }
    }

    fn destroy(&mut self, container_id: &str) {
        self.posix.destroy(container_id);
        self.docker_now(container_id, true);
    }

    fn update(&mut self, container_id: &str, limits: Limits) {
        let mut cmd = self.settings.command();
        let mut args = vec!["update".to_string()];
        if limits.cpus > 0.0 {
            let shares = ((CPU_SHARES_PER_CPU * limits.cpus) as u64).max(MIN_CPU_SHARES);
            args.extend(["--cpu-shares".into(), shares.to_string()]);
        }
        if limits.mem_bytes > 0 {
            let mem = limits.mem_bytes.max(MIN_MEMORY_BYTES);
            args.extend([
                "--memory".into(),
                mem.to_string(),
                "--memory-swap".into(),
                "-1".into(),
            ]);
        }
        args.push(container_name(container_id));
        cmd.args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let id = container_id.to_string();
        tokio::spawn(async move {
            if !cmd.status().await.is_ok_and(|s| s.success()) {
                tracing::warn!(container_id = %id, "failed to resize a docker container");
            }
        });
    }

    fn limitations(&mut self, _container_id: Option<&str>) -> Vec<Limitation> {
        Vec::new()
    }
}

/// Validates, pulls the image if it must, and starts the executor's process; reports
/// Exited with the error (the tasks' TASK_FAILED message) when it cannot.
async fn launch_container(
    settings: Arc<Settings>,
    launch_settings: LaunchSettings,
    report: Reporter,
    launch: Launch,
) {
    match prepare(&settings, &launch_settings, &launch).await {
        Ok(command) => {
            // A custom executor's updates carry its container's IP (the docker executor
            // of a command task puts it in its own updates).
            let custom = launch.task.is_none().then(|| {
                (
                    launch.framework_id.clone(),
                    launch.executor_id.clone(),
                    launch.container_id.clone(),
                )
            });
            // Asked for while the executor runs (it waits for the container's start):
            // `launch_executor` returns only when the executor has exited.
            if let Some(ids) = custom {
                tokio::spawn(report_network(settings, report.clone(), ids, true));
            }
            let mut launch = launch;
            launch.command = command;
            posix::launch_executor(report, launch, launch_settings).await;
        }
        Err(error) => {
            let error = format!("Failed to launch container: {error}");
            let _ =
                crate::agent::beneath::append_log(&launch.sandbox, "stderr", &format!("{error}\n"));
            report(ContainerEvent::Exited {
                framework_id: launch.framework_id,
                executor_id: launch.executor_id,
                container_id: launch.container_id,
                status: None,
                error: Some(error),
            });
        }
    }
}

/// How long a custom executor's container may take to start before its IP is given up on
/// (its updates then carry the agent's IP, as for the host network).
const NETWORK_START_TIMEOUT: Duration = Duration::from_secs(120);

/// Reports the container's own IP addresses, asked of dockerd once it runs (`wait_start`)
/// — Mesos's docker containerizer `status()` with the container's `NetworkSettings`. A
/// container on the host network has none, and nothing is reported.
async fn report_network(
    settings: Arc<Settings>,
    report: Reporter,
    (framework_id, executor_id, container_id): (String, String, String),
    wait_start: bool,
) {
    let engine = Engine::new(&settings.socket);
    let name = container_name(&container_id);
    if wait_start
        && !matches!(
            tokio::time::timeout(NETWORK_START_TIMEOUT, engine.wait_start(&name)).await,
            Ok(Ok(()))
        )
    {
        return;
    }
    match engine.container(&name).await {
        Ok(Some(state)) if !state.ip_addresses.is_empty() => report(ContainerEvent::Network {
            framework_id,
            executor_id,
            container_id,
            ip_addresses: state.ip_addresses,
        }),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(%container_id, error = %e, "cannot ask dockerd for the container's IP")
        }
    }
}

/// The executor's command for the posix launcher: the docker executor for a command task,
/// `docker run` for a custom executor.
async fn prepare(
    settings: &Settings,
    launch_settings: &LaunchSettings,
    launch: &Launch,
) -> Result<v1::CommandInfo, String> {
    let container = launch
        .container
        .as_ref()
        .ok_or("the executor has no ContainerInfo")?;
    // The task's own user first (the command executor's ExecutorInfo carries only the
    // framework's), as Mesos's `Slave::getExecutorInfo` copies it.
    // Nobody without `--switch_user` (Mesos's agent then gives the containerizer no user).
    let user = launch
        .task
        .as_ref()
        .and_then(|t| t.command.as_ref())
        .and_then(|c| c.user.clone())
        .or_else(|| launch.user.clone())
        .filter(|_| launch_settings.switch_user);
    let user = crate::agent::launcher::credentials(user.as_deref())
        .map_err(|e| e.to_string())?
        .map(|c| (c.uid, c.gid));
    let (command, env_names, limits) = match &launch.task {
        Some(task) => {
            let command = task.command.clone().unwrap_or_default();
            (command, task_env_names(launch, task), Some(&task.limits))
        }
        None => (
            launch.command.clone(),
            launch
                .environment
                .iter()
                .map(|(k, _)| k.clone())
                .filter(|k| k != "MESOS_SANDBOX" && k != "MESOS_DIRECTORY")
                .collect::<Vec<_>>(),
            None,
        ),
    };
    let spec = RunSpec {
        container_id: &launch.container_id,
        container,
        command: &command,
        env_names,
        sandbox: &launch.sandbox,
        mapped_directory: &settings.sandbox_directory,
        resources: &launch.resources,
        limits,
        user,
        cfs: settings.cfs,
        host_path_creation: &settings.host_path_creation,
        persistent_volumes: launch
            .volumes
            .as_ref()
            .map_err(|e| format!("Failed to prepare persistent volumes: {e}"))?,
    };
    let run = run_args(&spec)?;
    let image = container
        .docker
        .as_ref()
        .map(|d| (d.image.clone(), d.force_pull_image.unwrap_or(false)))
        .unwrap_or_default();
    pull(settings, &image.0, image.1).await?;
    let mut args = settings.global_args();
    match &launch.task {
        Some(_) => {
            // Mesos's mesos-docker-executor: the command executor in docker mode.
            let binary = launch_settings.launcher_dir.join("remesos");
            let json = serde_json::to_string(&run).map_err(|e| e.to_string())?;
            Ok(v1::CommandInfo {
                shell: Some(false),
                value: Some(binary.display().to_string()),
                arguments: vec![
                    "remesos".into(),
                    "executor".into(),
                    format!("--docker={}", settings.docker.display()),
                    format!("--docker_socket={}", settings.socket.display()),
                    format!("--container={}", container_name(&launch.container_id)),
                    format!("--sandbox_directory={}", settings.sandbox_directory),
                    format!("--docker_run={json}"),
                ],
                uris: launch.command.uris.clone(),
                ..Default::default()
            })
        }
        None => {
            // A custom executor: `docker run` attached is its process; its environment
            // (the executor's) reaches the container through `-e NAME`, with MESOS_DIRECTORY
            // and MESOS_SANDBOX pointing at the mapped sandbox.
            args.extend(run);
            Ok(v1::CommandInfo {
                shell: Some(false),
                value: Some(settings.docker.display().to_string()),
                arguments: std::iter::once("docker".to_string()).chain(args).collect(),
                uris: launch.command.uris.clone(),
                ..Default::default()
            })
        }
    }
}

/// The variables a command task's container gets: the executor's environment less what
/// only the host means, and the task's own (the docker executor sets their values).
fn task_env_names(launch: &Launch, task: &v1::TaskInfo) -> Vec<String> {
    let mut names: BTreeMap<String, ()> = launch
        .environment
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| !HOST_ONLY.contains(&k.as_str()) && !k.starts_with("LIBPROCESS_SSL"))
        .filter(|k| k != "MESOS_SANDBOX" && k != "MESOS_DIRECTORY")
        .map(|k| (k, ()))
        .collect();
    if let Some(env) = task.command.as_ref().and_then(|c| c.environment.as_ref()) {
        for var in &env.variables {
            if var.name != "MESOS_SANDBOX" {
                names.insert(var.name.clone(), ());
            }
        }
    }
    names.into_keys().collect()
}

/// Mesos's `Docker::pull`: with `force`, always `docker pull`; otherwise only when the
/// image is not in the daemon (asked on the socket, common/docker_api.rs: what `docker
/// inspect` answers, without a process on the launch path).
async fn pull(settings: &Settings, image: &str, force: bool) -> Result<(), String> {
    if !force {
        match Engine::new(&settings.socket).image_exists(image).await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => {
                return Err(format!(
                    "docker cannot inspect image '{image}' (is dockerd at '{}' running?): {}",
                    settings.socket.display(),
                    clip(&e.to_string())
                ));
            }
        }
    }
    let mut cmd = settings.command();
    if let Some(dir) = &settings.config_dir {
        cmd.arg("--config").arg(dir);
    }
    cmd.args(["pull", "--quiet", "--", image])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    tracing::info!(%image, force, "pulling a docker image");
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("failed to run '{}': {e}", settings.docker.display()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "Failed to pull image '{image}': {}; check the image's name and tag, that its \
         registry is reachable, and the credentials in --docker_config",
        clip(&String::from_utf8_lossy(&out.stderr))
    ))
}

/// `--docker_kill_orphans`: removes every `mesos-*` container that no recovered executor
/// owns (Mesos's `DockerContainerizerProcess::_recover`).
async fn remove_orphans(settings: Arc<Settings>, known: HashSet<String>) {
    let mut ps = settings.command();
    ps.args([
        "ps",
        "-a",
        "--filter",
        &format!("name=^/{NAME_PREFIX}"),
        "--format",
        "{{.Names}}",
    ])
    .stderr(std::process::Stdio::null());
    let Ok(out) = ps.output().await else {
        tracing::warn!("failed to list docker containers for orphans");
        return;
    };
    for name in String::from_utf8_lossy(&out.stdout).lines().map(str::trim) {
        let Some(id) = name.strip_prefix(NAME_PREFIX) else {
            continue;
        };
        if known.contains(id) {
            continue;
        }
        tracing::info!(container = name, "removing an orphaned docker container");
        let mut rm = settings.command();
        rm.args(["rm", "-f", "-v", name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let _ = rm.status().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker(image: &str) -> v1::ContainerInfo {
        v1::ContainerInfo {
            r#type: v1::container_info::Type::Docker as i32,
            docker: Some(v1::container_info::DockerInfo {
                image: image.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn resources(text: &str) -> Vec<v1::Resource> {
        crate::resources::Resources::parse(text, "*")
            .unwrap()
            .into_protos()
    }

    fn args(
        container: &v1::ContainerInfo,
        command: &v1::CommandInfo,
        res: &str,
    ) -> Result<Vec<String>, String> {
        let resources = resources(res);
        run_args(&RunSpec {
            container_id: "c1",
            container,
            command,
            env_names: vec!["MESOS_TASK_ID".into()],
            sandbox: Path::new("/sb"),
            mapped_directory: "/mnt/mesos/sandbox",
            resources: &resources,
            limits: None,
            user: Some((1000, 1000)),
            cfs: false,
            host_path_creation: &Default::default(),
            persistent_volumes: &[],
        })
    }

    fn shell(value: &str) -> v1::CommandInfo {
        v1::CommandInfo {
            value: Some(value.into()),
            ..Default::default()
        }
    }

    #[test]
    fn run_options_follow_mesos_run_options_create() {
        let a = args(&docker("busybox"), &shell("echo hi"), "cpus:0.5;mem:64").unwrap();
        assert_eq!(
            a.join(" "),
            "run --name mesos-c1 --cpu-shares 512 --memory 67108864 -e MESOS_TASK_ID \
             -e MESOS_SANDBOX=/mnt/mesos/sandbox -e MESOS_DIRECTORY=/mnt/mesos/sandbox \
             -e MESOS_CONTAINER_NAME=mesos-c1 \
             -v /sb:/mnt/mesos/sandbox:rw --net host --user 1000:1000 \
             --entrypoint /bin/sh busybox -c echo hi"
        );
    }

    #[test]
    fn memory_below_mesos_minimum_is_raised_to_32_mb_and_cpu_shares_to_2() {
        let a = args(&docker("i"), &shell("x"), "cpus:0.001;mem:4").unwrap();
        let text = a.join(" ");
        assert!(text.contains("--cpu-shares 2 "), "{text}");
        assert!(
            text.contains(&format!("--memory {MIN_MEMORY_BYTES} ")),
            "{text}"
        );
    }

    #[test]
    fn argv_commands_pass_value_then_arguments_without_a_shell() {
        let command = v1::CommandInfo {
            shell: Some(false),
            value: Some("/bin/echo".into()),
            arguments: vec!["a".into(), "b c".into()],
            ..Default::default()
        };
        let a = args(&docker("i"), &command, "cpus:1").unwrap();
        assert!(!a.contains(&"--entrypoint".to_string()));
        assert_eq!(&a[a.len() - 4..], ["i", "/bin/echo", "a", "b c"]);
    }

    #[test]
    fn port_mappings_need_a_bridge_and_host_ports_from_the_resources() {
        use v1::container_info::docker_info::{Network, PortMapping};
        let mut c = docker("i");
        let d = c.docker.as_mut().unwrap();
        d.port_mappings.push(PortMapping {
            host_port: 31001,
            container_port: 80,
            protocol: None,
        });
        // HOST (the default) refuses port mappings, as Mesos does.
        let e = args(&c, &shell("x"), "cpus:1;ports:[31000-31005]").unwrap_err();
        assert!(e.contains("bridge"), "{e}");
        c.docker.as_mut().unwrap().network = Some(Network::Bridge as i32);
        let a = args(&c, &shell("x"), "cpus:1;ports:[31000-31005]").unwrap();
        assert!(
            a.join(" ").contains("--net bridge -p 31001:80/tcp"),
            "{a:?}"
        );
        // A host port the task was not offered is refused.
        let e = args(&c, &shell("x"), "cpus:1;ports:[32000-32005]").unwrap_err();
        assert_eq!(e, "Port [31001] not included in resources");
        let e = args(&c, &shell("x"), "cpus:1").unwrap_err();
        assert_eq!(e, "Port mappings require port resources");
    }

    #[test]
    fn user_networks_take_the_one_network_name() {
        use v1::container_info::docker_info::Network;
        let mut c = docker("i");
        c.docker.as_mut().unwrap().network = Some(Network::User as i32);
        assert!(
            args(&c, &shell("x"), "cpus:1")
                .unwrap_err()
                .contains("No network info")
        );
        c.network_infos.push(v1::NetworkInfo {
            name: Some("mynet".into()),
            ..Default::default()
        });
        let a = args(&c, &shell("x"), "cpus:1").unwrap();
        assert!(a.join(" ").contains("--net mynet"));
        c.docker.as_mut().unwrap().network = Some(Network::None as i32);
        assert!(
            args(&c, &shell("x"), "cpus:1")
                .unwrap()
                .join(" ")
                .contains("--net none")
        );
    }

    #[test]
    fn volumes_are_read_only_unless_asked_and_host_paths_must_exist() {
        let mut c = docker("i");
        c.volumes.push(v1::Volume {
            mode: v1::volume::Mode::Ro as i32,
            container_path: "/data".into(),
            host_path: Some("/tmp".into()),
            ..Default::default()
        });
        c.volumes.push(v1::Volume {
            mode: v1::volume::Mode::Rw as i32,
            container_path: "/out".into(),
            host_path: Some("work".into()),
            ..Default::default()
        });
        let a = args(&c, &shell("x"), "cpus:1").unwrap().join(" ");
        assert!(a.contains("-v /tmp:/data:ro -v /sb/work:/out:rw"), "{a}");
        c.volumes[0].host_path = Some("/does/not/exist/here".into());
        let e = args(&c, &shell("x"), "cpus:1").unwrap_err();
        assert!(
            e.contains("'/does/not/exist/here'") && e.contains("does not exist"),
            "{e}"
        );
    }

    #[test]
    fn volume_paths_may_not_climb_out_or_smuggle_options() {
        for (host, container) in [
            ("../../etc", "/x"),
            ("/tmp", "../x"),
            ("/tmp:/etc", "/x"),
            ("a", "b"),
        ] {
            let mut c = docker("i");
            c.volumes.push(v1::Volume {
                mode: v1::volume::Mode::Rw as i32,
                container_path: container.into(),
                host_path: Some(host.into()),
                ..Default::default()
            });
            assert!(
                args(&c, &shell("x"), "cpus:1").is_err(),
                "{host} {container}"
            );
        }
        let mut c = docker("--privileged");
        assert!(args(&c, &shell("x"), "cpus:1").is_err());
        c = docker("i");
        c.docker.as_mut().unwrap().parameters.push(v1::Parameter {
            key: "x --privileged".into(),
            value: "1".into(),
        });
        assert!(args(&c, &shell("x"), "cpus:1").is_err());
    }

    #[test]
    fn parameters_privileged_and_limits_become_their_options() {
        let mut c = docker("i");
        let d = c.docker.as_mut().unwrap();
        d.privileged = Some(true);
        d.parameters.push(v1::Parameter {
            key: "label".into(),
            value: "a=b".into(),
        });
        let resources = resources("cpus:1;mem:64");
        let limits: HashMap<String, v1::value::Scalar> = [
            ("cpus".to_string(), v1::value::Scalar { value: 2.0 }),
            ("mem".to_string(), v1::value::Scalar { value: 128.0 }),
        ]
        .into();
        let a = run_args(&RunSpec {
            container_id: "c1",
            container: &c,
            command: &shell("x"),
            env_names: vec![],
            sandbox: Path::new("/sb"),
            mapped_directory: "/m",
            resources: &resources,
            limits: Some(&limits),
            user: None,
            cfs: false,
            host_path_creation: &Default::default(),
            persistent_volumes: &[],
        })
        .unwrap()
        .join(" ");
        assert!(a.contains("--privileged"), "{a}");
        assert!(a.contains("--label=a=b"), "{a}");
        assert!(a.contains("--cpu-shares 1024 --cpu-quota 200000"), "{a}");
        assert!(
            a.contains(&format!(
                "--memory {} --memory-reservation {}",
                128 << 20,
                64 << 20
            )),
            "{a}"
        );
    }

    /// Mesos's docker containerizer puts each persistent volume of the resources in the
    /// sandbox at its container path: here a bind under the mapped sandbox, `ro` for `RO`.
    #[test]
    fn persistent_volumes_are_bound_under_the_mapped_sandbox_with_their_mode() {
        use crate::agent::volumes::VolumeMount;
        let volumes = [
            VolumeMount {
                host: "/w/volumes/roles/r/v1".into(),
                container_path: "data".into(),
                readonly: false,
            },
            VolumeMount {
                host: "/w/volumes/roles/r/v2".into(),
                container_path: "conf/ro".into(),
                readonly: true,
            },
        ];
        let resources = resources("cpus:1;mem:64");
        let (container, command) = (docker("busybox"), shell("x"));
        let creation = super::super::host_path::ForceCreation::default();
        let spec = |volumes| RunSpec {
            container_id: "c1",
            container: &container,
            command: &command,
            env_names: vec![],
            sandbox: Path::new("/sb"),
            mapped_directory: "/mnt/mesos/sandbox",
            resources: &resources,
            limits: None,
            user: None,
            cfs: false,
            host_path_creation: &creation,
            persistent_volumes: volumes,
        };
        let a = run_args(&spec(&volumes)).unwrap().join(" ");
        assert!(
            a.contains("-v /sb:/mnt/mesos/sandbox:rw -v /w/volumes/roles/r/v1:/mnt/mesos/sandbox/data:rw -v /w/volumes/roles/r/v2:/mnt/mesos/sandbox/conf/ro:ro"),
            "{a}"
        );
        // A path that would smuggle another mount option is refused.
        let bad = [VolumeMount {
            host: "/w/volumes/roles/r/v1".into(),
            container_path: "a:/etc".into(),
            readonly: false,
        }];
        assert!(run_args(&spec(&bad)).is_err());
    }

    #[test]
    fn docker_config_accepts_both_formats_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("remesos-dcfg-{}", std::process::id()));
        let out = write_config(r#"{"reg:5000": {"auth": "eDp5", "email": ""}}"#, &dir).unwrap();
        let text = std::fs::read_to_string(out.join("config.json")).unwrap();
        assert!(
            text.contains(r#""auths""#) && text.contains("reg:5000"),
            "{text}"
        );
        let mode = std::fs::metadata(out.join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let e = write_config("{not json: secret}", &dir).unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
