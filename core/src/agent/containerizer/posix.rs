//! The posix containerizer: Mesos's `mesos` containerizer without an image
//! (src/slave/containerizer/mesos/containerizer.cpp, `MesosContainerizerProcess::launch`,
//! `::destroy`, `::recover`; the posix launcher, src/slave/containerizer/mesos/launcher.cpp).
//!
//! Each executor runs on the host, detached from the agent in its own session and process
//! group (`launcher.rs`), in its sandbox, after the command's URIs are fetched into it by
//! `remesos fetcher` running as the task's user; the isolators of `--isolation`
//! (`isolator.rs`: cgroups, pid namespace) confine it. The executor's pid leads its
//! process group: signals go to the group, a kill also to every process of its cgroups.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use remesos_proto::v1;

use super::{ContainerEvent, Containerizer, Limitation, Recovered, Reporter};
use crate::agent::isolator::Limits;
use crate::agent::recovery::checkpoint;
use crate::agent::{Launch, launcher};

/// How often a recovered executor (not our child: no wait()) is checked for life.
const RECOVERED_POLL: Duration = Duration::from_millis(200);

/// The posix containerizer's state: the executors' pids by container id.
pub struct Posix {
    settings: LaunchSettings,
    report: Reporter,
    /// Executor processes by container id (their pid leads their process group).
    pids: HashMap<String, u32>,
}

impl Posix {
    pub fn new(settings: LaunchSettings, report: Reporter) -> Posix {
        Posix {
            settings,
            report,
            pids: HashMap::new(),
        }
    }

    /// The kernel OOM-killed a process of the container (cgroups memory isolation).
    fn memory_limitation(&self, container_id: &str) -> Option<Limitation> {
        let isolation = &self.settings.isolation;
        if !isolation.cgroups_mem || !isolation.oom_killed(container_id) {
            return None;
        }
        Some(Limitation {
            container_id: container_id.to_string(),
            reason: remesos_proto::v1::task_status::Reason::ContainerLimitationMemory,
            message: isolation.memory_limitation_message(container_id),
        })
    }
}

impl Containerizer for Posix {
    fn launch(&mut self, launch: Launch) {
        // The sandbox exists before the effects after this one (attaching it to /files) run.
        if let Err(e) = std::fs::create_dir_all(&launch.sandbox) {
            tracing::error!(sandbox = %launch.sandbox.display(), error = %e, "failed to create a sandbox");
        }
        tokio::spawn(launch_executor(
            self.report.clone(),
            launch,
            self.settings.clone(),
        ));
    }

    fn recover(&mut self, recovered: Vec<Recovered>) {
        let live: std::collections::BTreeSet<String> = recovered
            .iter()
            .filter(|r| r.pid.is_some_and(super::super::isolator::alive))
            .map(|r| r.container_id.clone())
            .collect();
        if let Some(xfs) = &self.settings.isolation.disk_xfs {
            // The projects of containers that ended while the agent was down go.
            xfs.recover(&live);
        }
        if let Some(provisioner) = &self.settings.provisioner {
            // Rootfses of containers that ended while the agent was down.
            provisioner.recover(&live);
        }
        for Recovered {
            framework_id,
            executor_id,
            container_id,
            pid,
            ..
        } in recovered
        {
            match pid.filter(|p| super::super::isolator::alive(*p)) {
                Some(pid) => {
                    tracing::info!(%framework_id, %executor_id, pid, "recovered a running executor");
                    self.pids.insert(container_id.clone(), pid);
                    tokio::spawn(watch_recovered(
                        self.report.clone(),
                        framework_id,
                        executor_id,
                        container_id,
                        pid,
                    ));
                }
                None => {
                    tracing::warn!(%framework_id, %executor_id, "executor exited while the agent was down");
                    (self.report)(ContainerEvent::Exited {
                        framework_id,
                        executor_id,
                        container_id,
                        status: None,
                        error: None,
                    });
                }
            }
        }
    }

    fn started(&mut self, container_id: &str, pid: u32) {
        self.pids.insert(container_id.to_string(), pid);
    }

    fn exited(&mut self, container_id: &str) -> Option<Limitation> {
        self.pids.remove(container_id);
        if let Some(provisioner) = self.settings.provisioner.clone() {
            let id = container_id.to_string();
            tokio::task::spawn_blocking(move || provisioner.destroy(&id));
        }
        if let Some(xfs) = &self.settings.isolation.disk_xfs {
            xfs.cleanup(container_id);
        }
        // An OOM kill of the executor itself shows only here.
        let limitation = self.memory_limitation(container_id);
        if self.settings.isolation.uses_cgroups() {
            let isolation = self.settings.isolation.clone();
            let id = container_id.to_string();
            tokio::task::spawn_blocking(move || isolation.destroy(&id));
        }
        limitation
    }

    fn signal(&mut self, container_id: &str, kill: bool) {
        if let Some(pid) = self.pids.get(container_id) {
            launcher::signal_group(*pid, kill);
        }
        if kill {
            self.settings.isolation.kill_all(container_id);
        }
    }

    fn destroy(&mut self, container_id: &str) {
        self.signal(container_id, true);
    }

    fn update(&mut self, container_id: &str, limits: Limits) {
        let isolation = &self.settings.isolation;
        if isolation.hierarchy.is_some()
            && let Err(e) = isolation.update(container_id, limits)
        {
            tracing::warn!(%container_id, error = %e, "failed to resize a container");
        }
        if let Some(xfs) = &isolation.disk_xfs
            && let Err(e) = xfs.update(container_id, limits.disk_bytes)
        {
            tracing::warn!(%container_id, error = %e, "failed to update a disk quota");
        }
    }

    fn limitations(&mut self, container_id: Option<&str>) -> Vec<Limitation> {
        let mut limited = Vec::new();
        // disk/xfs with --xfs_kill_containers: containers over their soft limit.
        if container_id.is_none()
            && let Some(xfs) = &self.settings.isolation.disk_xfs
        {
            limited.extend(xfs.exceeded().into_iter().map(|e| Limitation {
                container_id: e.container_id,
                reason: remesos_proto::v1::task_status::Reason::ContainerLimitationDisk,
                message: e.message,
            }));
        }
        if !self.settings.isolation.cgroups_mem {
            return limited;
        }
        match container_id {
            Some(id) => limited.extend(self.memory_limitation(id)),
            None => limited.extend(self.pids.keys().filter_map(|id| self.memory_limitation(id))),
        }
        limited
    }
}

/// Reports when an executor started by an earlier run of the agent exits.
async fn watch_recovered(
    report: Reporter,
    framework_id: String,
    executor_id: String,
    container_id: String,
    pid: u32,
) {
    while super::super::isolator::alive(pid) {
        tokio::time::sleep(RECOVERED_POLL).await;
    }
    report(ContainerEvent::Exited {
        framework_id,
        executor_id,
        container_id,
        status: None,
        error: None,
    });
}

/// The agent's settings a launch needs.
#[derive(Clone, Debug)]
pub struct LaunchSettings {
    /// `--executor_environment_variables` is set: executors get only those (and PATH).
    pub clear_env: bool,
    pub fetch: super::super::fetcher::FetchOptions,
    pub fetcher_cache: std::sync::Arc<super::super::fetcher_cache::FetcherCache>,
    /// `--container_logger`: `Some` rotates executors' stdout/stderr (container_logger.rs).
    pub container_logger: super::super::container_logger::ContainerLogger,
    /// `mesos_executors.slice`'s `cgroup.procs` under systemd (systemd.rs): executors and
    /// their loggers are moved there, out of the agent's unit.
    pub systemd_slice: Option<PathBuf>,
    pub isolation: super::super::isolator::Isolation,
    /// Where `remesos` lives: the fetcher runs as `remesos fetcher`.
    pub launcher_dir: PathBuf,
    /// The executor's process runs as the agent's user even when the task has one (the
    /// sandbox and the fetch are still the task's user's): the docker containerizer's
    /// executor talks to dockerd, which only the agent's user may (docker.rs).
    pub executor_as_agent: bool,
    /// `--switch_user`: whether a task's own user is applied at all (the executor's user in
    /// `Launch::user` is already decided by it; the docker containerizer reads the task's).
    pub switch_user: bool,
    /// Container images (`--image_providers`); `None` refuses them.
    pub provisioner: Option<super::provisioner::Provisioner>,
}

/// Prepares the sandbox (directories, `latest` link, fetched URIs) and starts the executor;
/// reports its pid and, later, how it ended.
pub(super) async fn launch_executor(report: Reporter, launch: Launch, settings: LaunchSettings) {
    let exited = |status: Option<i32>, error: Option<String>| ContainerEvent::Exited {
        framework_id: launch.framework_id.clone(),
        executor_id: launch.executor_id.clone(),
        container_id: launch.container_id.clone(),
        status,
        error,
    };
    let traced = crate::common::time::phases_on();
    if traced {
        crate::common::time::phase("agent_launch_start", &launch.executor_id);
    }
    let child = match prepare_and_spawn(&launch, &settings).await {
        Ok(child) => child,
        Err(error) => {
            if let Some(provisioner) = settings.provisioner.clone() {
                let id = launch.container_id.clone();
                let _ = tokio::task::spawn_blocking(move || provisioner.destroy(&id)).await;
            }
            let _ = append_stderr(&launch.sandbox, &format!("{error}\n"));
            report(exited(None, Some(error)));
            return;
        }
    };
    let mut child = child;
    if traced {
        crate::common::time::phase("agent_spawned", &launch.executor_id);
    }
    if let Some(pid) = child.id() {
        // Checkpointed so that a restarted agent finds the executor (recovery.rs).
        if let Err(e) = checkpoint(&launch.pid_file, pid.to_string().as_bytes(), false, false) {
            tracing::error!(path = %launch.pid_file.display(), error = %e, "failed to checkpoint the executor's pid");
        }
        report(ContainerEvent::Started {
            framework_id: launch.framework_id.clone(),
            executor_id: launch.executor_id.clone(),
            container_id: launch.container_id.clone(),
            pid,
        });
    }
    let status = match child.wait().await {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            Some(s.into_raw())
        }
        Err(_) => None,
    };
    report(exited(status, None));
}

async fn prepare_and_spawn(
    launch: &Launch,
    settings: &LaunchSettings,
) -> Result<launcher::Child, String> {
    let sandbox = &launch.sandbox;
    let command = &launch.command;
    std::fs::create_dir_all(sandbox)
        .map_err(|e| format!("Failed to create sandbox {}: {e}", sandbox.display()))?;
    // disk/xfs: the sandbox's project before anything is written into it (new files
    // inherit it), and its quota.
    if let Some(xfs) = &settings.isolation.disk_xfs {
        xfs.prepare(&launch.container_id, sandbox, launch.limits.disk_bytes)
            .map_err(|e| e.to_string())?;
    }
    if let Some(runs) = sandbox.parent() {
        let latest = runs.join("latest");
        let _ = std::fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(&launch.container_id, &latest);
    }
    let creds = launcher::credentials(launch.user.as_deref()).map_err(|e| e.to_string())?;
    // The sandbox's logs exist before anything the task's user controls runs in it, and
    // the sandbox and its logs go to that user before the fetch (Mesos chowns the sandbox
    // before fetching too): the fetcher then writes only as the user.
    let stderr = {
        use std::os::fd::AsFd;
        let dir = super::super::beneath::open_dir(sandbox)
            .map_err(|e| format!("Failed to open sandbox {}: {e}", sandbox.display()))?;
        let stdout = super::super::beneath::open_log(dir.as_fd(), "stdout")
            .map_err(|e| format!("Failed to prepare the sandbox: {e}"))?;
        let stderr = super::super::beneath::open_log(dir.as_fd(), "stderr")
            .map_err(|e| format!("Failed to prepare the sandbox: {e}"))?;
        if let Some(creds) = &creds {
            let chown = |file: &std::fs::File| {
                std::os::unix::fs::fchown(file, Some(creds.uid), Some(creds.gid))
            };
            chown(&std::fs::File::from(dir))
                .and_then(|()| chown(&stdout))
                .and_then(|()| chown(&stderr))
                .map_err(|e| format!("Failed to chown the sandbox: {e}"))?;
        }
        stderr
    };
    // Each persistent volume is handed to the sandbox's owner before the executor starts
    // and linked into the sandbox (Mesos's `filesystem/posix`), or, for a container with
    // its own root filesystem (an image, docker), given a mount point there for the bind
    // mount made inside the container (volumes.rs).
    let volumes = launch
        .volumes
        .as_ref()
        .map_err(|e| format!("Failed to prepare persistent volumes: {e}"))?;
    let owner = match &creds {
        Some(c) => Some((c.uid, c.gid)),
        None => {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(sandbox).ok().map(|m| (m.uid(), m.gid()))
        }
    };
    let own_rootfs = super::linux::image_of(launch.container.as_ref()).is_some()
        || super::is_docker(launch.container.as_ref());
    // On the host filesystem a read-only volume is bound read-only in the executor's mount
    // namespace when the agent may mount (root); otherwise it is a symlink, writable as
    // in Mesos's `filesystem/posix`.
    let may_mount = rustix::process::geteuid().is_root();
    let mut mounts = None;
    for volume in volumes {
        if own_rootfs || (volume.readonly && may_mount) {
            volume.mount_point(sandbox, owner)?;
        } else {
            if volume.readonly {
                tracing::warn!(container_path = %volume.container_path.display(), "the agent cannot mount (not root): a read-only persistent volume is linked writable, as by Mesos's filesystem/posix");
            }
            volume.link(sandbox, owner)?;
        }
    }
    if !own_rootfs && may_mount {
        mounts = super::linux::read_only_volumes(sandbox, volumes)?.map(std::sync::Arc::new);
    }
    if !command.uris.is_empty() {
        fetch_into(
            sandbox,
            &command.uris,
            settings,
            launch.user.as_deref(),
            creds.as_ref(),
            stderr,
        )
        .await?;
    }
    let mut command = command.clone();
    let mut environment = launch.environment.clone();
    let mut creds = creds;
    if let Some(image) = super::linux::image_of(launch.container.as_ref()) {
        // A command task: Mesos's `--rootfs` model (containerizer/linux.rs): the command
        // executor runs as root on the host filesystem and starts the task inside the
        // provisioned rootfs as its user. A custom executor: it runs inside the rootfs
        // itself, entered by `remesos launch` (cli/launch.rs, Mesos's `mesos-containerizer
        // launch`), which becomes the executor.
        let provisioner = settings
            .provisioner
            .as_ref()
            .ok_or_else(|| super::provisioner::ProvisionError::NoProvider.to_string())?;
        let helper = settings.launcher_dir.join("remesos");
        let (inner, bound) = match &launch.task_command {
            Some(task_command) => (
                task_command.clone(),
                PathBuf::from(command.value.as_deref().unwrap_or_default()),
            ),
            None => (command.clone(), helper.clone()),
        };
        let provisioned = provisioner
            .provision(&launch.container_id, image)
            .await
            .map_err(|e| e.to_string())?;
        let container = launch.container.clone().unwrap_or_default();
        let prepared = super::linux::prepare(
            super::linux::SandboxMounts {
                sandbox,
                persistent_volumes: volumes,
            },
            &container,
            &inner,
            launch.user.as_deref(),
            &provisioned,
            provisioner.settings(),
            &bound,
        )?;
        if launch.task_command.is_some() {
            command.arguments.extend(prepared.flags);
        } else {
            let helper_text = helper.display().to_string();
            let mut arguments = vec![helper_text.clone(), "launch".to_string()];
            arguments.extend(prepared.flags);
            arguments.push(format!(
                "--command={}",
                remesos_proto::json::to_value(&command)
            ));
            command = v1::CommandInfo {
                shell: Some(false),
                value: Some(helper_text),
                arguments,
                ..Default::default()
            };
        }
        environment.retain(|(k, _)| !prepared.environment.iter().any(|(o, _)| o == k));
        environment.extend(prepared.environment);
        creds = None;
        mounts = Some(std::sync::Arc::new(prepared.mounts));
    }
    let argv = launcher::Argv::of(&command).map_err(|e| e.to_string())?;
    let mut cgroup_procs = Vec::new();
    if let Some(slice) = &settings.systemd_slice {
        // First: under cgroups v2 the isolators' cgroup, written after, is where it ends.
        cgroup_procs.push(super::super::systemd::open_procs(slice).map_err(|e| {
            format!(
                "Failed to assign the executor to its systemd executor slice '{}': {e}",
                slice.display()
            )
        })?);
    }
    cgroup_procs.extend(
        settings
            .isolation
            .create(&launch.container_id, launch.limits)?,
    );
    let confinement = launcher::Confinement {
        cgroup_procs,
        pid_namespace: settings.isolation.pid_namespace,
        mounts,
    };
    let logger = match &settings.container_logger {
        None => None,
        Some(logrotate) => Some(launcher::Logger {
            settings: logrotate.for_container(&environment)?,
            binary: settings.launcher_dir.join("remesos"),
            slice: settings.systemd_slice.clone(),
        }),
    };
    launcher::spawn(
        &argv,
        sandbox,
        &environment,
        settings.clear_env,
        creds.filter(|_| !settings.executor_as_agent),
        &confinement,
        logger.as_ref(),
    )
    .map_err(|e| {
        format!(
            "Failed to launch the executor {:?}: {e}",
            command.value.clone().unwrap_or_default()
        )
    })
}

/// How much of the fetcher's stdout (its error message) the agent reads.
const FETCHER_ANSWER_LIMIT: u64 = 64 * 1024;
/// How long past `--executor_registration_timeout` (the fetch's own bound) the agent waits
/// for a fetcher that does not end before killing it.
const FETCHER_GRACE: Duration = Duration::from_secs(10);

/// Fetches the command's URIs into the sandbox in a `remesos fetcher` child process running
/// as the task's user (`creds`) or, without one, as the agent's user; its log goes to the
/// sandbox's `stderr`, as Mesos's does (reference §4.4). URIs with `cache: true` go through
/// the agent's fetcher cache (fetcher_cache.rs), keyed by `user`. The error is the task's
/// TASK_FAILED message. Without the `remesos` binary in `--launcher_dir` (an embedding that
/// has none) and with no user to switch to, the fetch runs in the agent's process instead.
async fn fetch_into(
    sandbox: &Path,
    uris: &[remesos_proto::v1::command_info::Uri],
    settings: &LaunchSettings,
    user: Option<&str>,
    creds: Option<&launcher::Credentials>,
    stderr: std::fs::File,
) -> Result<(), String> {
    use super::super::fetcher_cache::Plan;
    let cache = &settings.fetcher_cache;
    let plan = if uris.iter().any(|uri| uri.cache()) {
        match cache_directory(cache, user, creds) {
            Ok(directory) => {
                let options = &settings.fetch;
                cache
                    .plan(
                        user,
                        &directory,
                        uris,
                        super::super::fetcher::cache_basename,
                        |uri| async move {
                            super::super::fetcher::content_size(&uri.value, options).await
                        },
                    )
                    .await
            }
            Err(error) => {
                tracing::warn!(%error, "Reverting to fetching directly into the sandbox: the fetcher cache directory is unusable");
                Plan::bypassing(uris)
            }
        }
    } else {
        Plan::bypassing(uris)
    };
    let outcome = run_fetcher(sandbox, &plan.items, settings, creds, stderr).await;
    let (reports, result) = match outcome {
        Ok(outcome) => (outcome.reports, outcome.result.map_err(|e| e.to_string())),
        Err(error) => (Vec::new(), Err(error)),
    };
    cache.finish(&plan, &reports, result.is_ok());
    result
}

/// The fetcher cache directory of `user`, made if missing and given to the user (Mesos's
/// fetcher chowns it too): the fetcher writes cache files as the task's user.
fn cache_directory(
    cache: &super::super::fetcher_cache::FetcherCache,
    user: Option<&str>,
    creds: Option<&launcher::Credentials>,
) -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let directory = cache.user_directory(user)?;
    let shown = || directory.display().to_string();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(cache.directory())
        .map_err(|e| format!("cannot create '{}': {e}", cache.directory().display()))?;
    match std::fs::DirBuilder::new().mode(0o700).create(&directory) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create '{}': {e}", shown())),
    }
    let meta = std::fs::symlink_metadata(&directory).map_err(|e| format!("'{}': {e}", shown()))?;
    if !meta.is_dir() {
        return Err(format!("'{}' is not a directory", shown()));
    }
    if let Some(creds) = creds
        && directory != cache.directory()
    {
        std::os::unix::fs::lchown(&directory, Some(creds.uid), Some(creds.gid))
            .map_err(|e| format!("cannot chown '{}': {e}", shown()))?;
    }
    Ok(directory)
}

/// Runs `remesos fetcher` on `items` (see [`fetch_into`]); its outcome, or why it could not
/// be run or gave no answer.
async fn run_fetcher(
    sandbox: &Path,
    items: &[super::super::fetcher::FetchItem],
    settings: &LaunchSettings,
    creds: Option<&launcher::Credentials>,
    mut stderr: std::fs::File,
) -> Result<super::super::fetcher::FetchOutcome, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let options = &settings.fetch;
    let binary = settings.launcher_dir.join("remesos");
    if !binary.is_file() {
        if let Some(creds) = creds {
            return Err(format!(
                "Failed to fetch as uid {}: the fetcher '{}' does not exist",
                creds.uid,
                binary.display()
            ));
        }
        return Ok(super::super::fetcher::fetch(items, sandbox, options, &mut stderr).await);
    }
    let request = super::super::fetcher::request_to_json(items, sandbox, options)
        .map_err(|e| format!("Failed to start the fetcher: {e}"))?;
    #[allow(
        clippy::disallowed_methods,
        reason = "the fetcher runs as its own process, started by the containerizer"
    )]
    let mut cmd = tokio::process::Command::new(&binary);
    cmd.arg("fetcher")
        .current_dir(sandbox)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true);
    if let Some(creds) = creds.cloned() {
        // SAFETY: the closure runs between fork and exec and only makes the async-signal-safe
        // calls of `drop_privileges` on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || launcher::drop_privileges(&creds));
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("Failed to start the fetcher '{}': {e}", binary.display()))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("Failed to start the fetcher: no pipes".to_string());
    };
    let run = async {
        // A fetcher that dies early closes its stdin: its exit status tells why.
        let _ = stdin.write_all(&request).await;
        drop(stdin);
        let mut answer = Vec::new();
        let _ = stdout
            .take(FETCHER_ANSWER_LIMIT)
            .read_to_end(&mut answer)
            .await;
        let status = child.wait().await;
        (answer, status)
    };
    let (answer, status) = match options.total_timeout {
        Some(total) => tokio::time::timeout(total + FETCHER_GRACE, run)
            .await
            .map_err(|_| format!("Failed to fetch: the fetcher did not end within {total:?}"))?,
        None => run.await,
    };
    let status = status.map_err(|e| format!("Failed to wait for the fetcher: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    match super::super::fetcher::answer_from_json(&answer) {
        Some(outcome) if outcome.result.is_ok() == status.success() => Ok(outcome),
        _ if status.success() => Err(format!(
            "Failed to fetch: the fetcher ended without an answer: {}",
            answer.trim()
        )),
        // It could not even read its request: its error is plain text.
        _ if !answer.trim().is_empty() => Err(answer.trim().to_string()),
        _ => Err(format!("Failed to fetch: the fetcher ended with {status}")),
    }
}

/// Appends to the sandbox's `stderr` without following a symlink or opening anything but a
/// regular file (the task's user owns the sandbox by now).
fn append_stderr(sandbox: &Path, text: &str) -> std::io::Result<()> {
    super::super::beneath::append_log(sandbox, "stderr", text)
}
