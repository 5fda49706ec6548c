//! The executors' lifecycle as the agent decides it: launching one into a new container
//! (its ExecutorInfo, sandbox, environment and checkpoints), growing its container when a
//! task joins, its start, a limitation its container reaches, and its exit.
//!
//! Decisions only: the effects go to the runtime, which hands them to the containerizer
//! (`containerizer/`). Mirrors src/slave/slave.cpp: `Slave::getExecutorInfo`,
//! `Slave::launchExecutor`, `Framework::addExecutor`, `executorEnvironment`,
//! `Slave::executorLaunched`, `Slave::executorTerminated`,
//! `Slave::sendExitedExecutorMessage`; and `MesosContainerizerProcess::limited` and
//! `::status` (src/slave/containerizer/mesos/containerizer.cpp).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use remesos_proto::internal as wire;
use remesos_proto::v1;
use wire::agent_message::Message as ToMaster;

use super::{
    Agent, COMMAND_EXECUTOR_RESOURCES, Effect, Executor, ExecutorKey, ExecutorState, Launch, Time,
    isolator, paths,
};
use crate::common::id::{ContainerId, TaskId};
use crate::resources::Resources;

impl Agent {
    /// The ExecutorInfo Mesos generates for a command task (reference §4.3): the executor
    /// id is the task id, the command is `remesos-executor` (Mesos's `mesos-executor`) when
    /// the launcher directory holds it, else `remesos executor`.
    pub(super) fn command_executor_info(
        &self,
        framework_id: &str,
        task: &v1::TaskInfo,
    ) -> v1::ExecutorInfo {
        let (binary, arguments) = if self.config.lean_executor {
            (
                self.config.launcher_dir.join(super::LEAN_EXECUTOR),
                vec![super::LEAN_EXECUTOR.to_string()],
            )
        } else {
            (
                self.config.launcher_dir.join("remesos"),
                vec!["remesos".to_string(), "executor".to_string()],
            )
        };
        let mut resources = Resources::parse(COMMAND_EXECUTOR_RESOURCES, "*").unwrap_or_default();
        if let Some(role) = task
            .resources
            .first()
            .and_then(|r| r.allocation_info.as_ref())
            .and_then(|a| a.role.clone())
        {
            resources.allocate(&role);
        }
        v1::ExecutorInfo {
            r#type: Some(v1::executor_info::Type::Default as i32),
            executor_id: v1::ExecutorId {
                value: task.task_id.value.clone(),
            },
            framework_id: Some(v1::FrameworkId {
                value: framework_id.to_string(),
            }),
            command: Some(v1::CommandInfo {
                shell: Some(false),
                value: Some(binary.display().to_string()),
                arguments,
                // The task's URIs are fetched into the executor's sandbox (Mesos
                // `Slave::getExecutorInfo` merges them into the executor's command).
                uris: task
                    .command
                    .as_ref()
                    .map(|c| c.uris.clone())
                    .unwrap_or_default(),
                // The task's user runs the executor and owns the sandbox (Mesos copies it
                // the same way).
                user: task.command.as_ref().and_then(|c| c.user.clone()),
                ..Default::default()
            }),
            // Checkpointed with the executor, so that the containerizer that launched the
            // task takes it up after a restart (Mesos `Slave::getExecutorInfo`).
            container: task.container.clone(),
            name: Some(format!("Command Executor (Task: {})", task.task_id.value)),
            source: Some(task.task_id.value.clone()),
            resources: resources.into_protos(),
            ..Default::default()
        }
    }

    pub(super) fn launch_executor(
        &mut self,
        now: Time,
        key: &ExecutorKey,
        info: v1::ExecutorInfo,
        command_executor: bool,
        first_task: &v1::TaskInfo,
    ) {
        use prost::Message;
        let framework_id = key.framework.as_str();
        let eid = key.executor.to_string();
        let container = ContainerId::random();
        let container_id = container.to_string();
        let Some(ids) = self.run_ids(key, &container_id) else {
            return;
        };
        // An executor launched again under its old id: its directories stay.
        self.unschedule_executor(key);
        let sandbox = paths::sandbox(
            &self.config.work_dir,
            &ids.agent,
            &ids.framework,
            &ids.executor,
            &ids.container,
        );
        let Some(framework) = self.frameworks.get(framework_id).map(|f| &f.info) else {
            return;
        };
        let user = super::launcher::run_as(
            self.config.switch_user,
            info.command.as_ref().and_then(|c| c.user.as_deref()),
            Some(&framework.user),
        );
        // The object of `access_sandboxes` for this sandbox.
        let owner = crate::security::authorizer::executor_user(&info, framework).to_string();
        let checkpoint = framework.checkpoint.unwrap_or(false);
        let environment =
            self.executor_environment(framework_id, &info, &container_id, &sandbox, checkpoint);
        let command = info.command.clone().unwrap_or_default();
        let wd = self.config.work_dir.clone();
        let wd = &wd;
        let meta = paths::meta_framework_dir(wd, &ids.agent, &ids.framework);
        let framework_info = framework.encode_to_vec();
        let changed = match self.frameworks.get_mut(framework_id) {
            Some(f) if f.checkpointed_info != framework_info => {
                f.checkpointed_info.clone_from(&framework_info);
                true
            }
            _ => false,
        };
        if changed {
            self.emit(Effect::Persist {
                path: meta.join("framework.info"),
                data: framework_info,
                append: false,
                durable: false,
            });
        }
        let meta_exec = paths::meta_executor_dir(wd, &ids.agent, &ids.framework, &ids.executor);
        self.emit(Effect::Persist {
            path: meta_exec.join("executor.info"),
            data: info.encode_to_vec(),
            append: false,
            durable: false,
        });
        let meta_run = paths::meta_run_dir(
            wd,
            &ids.agent,
            &ids.framework,
            &ids.executor,
            &ids.container,
        );
        self.emit(Effect::Link {
            path: meta_exec.join("runs").join("latest"),
            target: container_id.clone(),
        });
        let resources: Vec<v1::Resource> = info
            .resources
            .iter()
            .chain(first_task.resources.iter())
            .cloned()
            .collect();
        let volumes = super::volumes::VolumeMount::of(wd, &resources).map_err(|e| e.to_string());
        let mut limits = isolator::Limits::of(&info.resources);
        let task_limits = isolator::Limits::of(&first_task.resources);
        limits.add(task_limits);
        self.emit(Effect::Launch(Box::new(Launch {
            framework_id: framework_id.to_string(),
            executor_id: eid.clone(),
            container_id: container_id.clone(),
            sandbox: sandbox.clone(),
            command,
            environment,
            user,
            limits,
            pid_file: meta_run.join("pids").join("forked.pid"),
            container: if command_executor {
                first_task.container.clone()
            } else {
                info.container.clone()
            },
            task_command: command_executor
                .then(|| first_task.command.clone())
                .flatten(),
            task: command_executor.then(|| first_task.clone()),
            resources,
            volumes,
        })));
        self.emit(ids.attach(wd, &sandbox, &owner));
        tracing::info!(framework_id, executor_id = %eid, %container_id, "launching executor");
        let executor = Executor {
            info,
            container_id,
            sandbox,
            command_executor,
            state: ExecutorState::Registering,
            conn: None,
            pid: None,
            queued: Vec::new(),
            queued_groups: Vec::new(),
            tasks: BTreeMap::new(),
            completed: Vec::new(),
            registration_deadline: now.mono + self.config.executor_registration_timeout,
            kill_deadline: None,
            limits,
            limitation: None,
            recovered: false,
            recovered_times: None,
            ip_addresses: Vec::new(),
            disk_usage: BTreeMap::new(),
        };
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            f.executors.insert(eid, executor);
        }
    }

    /// A task joins a running executor: its container's limits grow by the task's share
    /// (Mesos updates the container's resources the same way).
    pub(super) fn grow_container(&mut self, key: &ExecutorKey, resources: &[v1::Resource]) {
        let Some(executor) = self.executor_mut(key) else {
            return;
        };
        let more = isolator::Limits::of(resources);
        executor.limits.add(more);
        let effect = Effect::Resize {
            container_id: executor.container_id.clone(),
            limits: executor.limits,
        };
        self.emit(effect);
    }

    pub(super) fn checkpoint_task(&mut self, key: &ExecutorKey, task: &v1::TaskInfo) {
        use prost::Message;
        let Some(executor) = self.executor(key) else {
            return;
        };
        let Some(ids) = self.run_ids(key, &executor.container_id) else {
            return;
        };
        let Ok(task_id) = TaskId::new(task.task_id.value.as_str()) else {
            tracing::error!(
                framework_id = %key.framework,
                executor_id = %key.executor,
                "invalid task id; not checkpointed"
            );
            return;
        };
        let path = ids
            .meta_task_dir(&self.config.work_dir, &task_id)
            .join("task.info");
        self.emit(Effect::Persist {
            path,
            data: task.encode_to_vec(),
            append: false,
            durable: false,
        });
    }

    /// The Mesos executor environment (reference §4.1), with the executor's token when the
    /// agent has a `--jwt_secret_key` ([`executor_token`]).
    pub(super) fn executor_environment(
        &self,
        framework_id: &str,
        info: &v1::ExecutorInfo,
        container_id: &str,
        sandbox: &std::path::Path,
        checkpoint: bool,
    ) -> Vec<(String, String)> {
        use crate::duration::format_duration;
        let mut env: Vec<(String, String)> = Vec::new();
        if let Some(vars) = &self.config.executor_environment {
            env.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Ok(ip) = std::env::var("LIBPROCESS_IP") {
            env.push(("LIBPROCESS_IP".into(), ip));
        }
        env.push(("LIBPROCESS_PORT".into(), "0".into()));
        // Mesos's containerizer launches executors with the agent's whole environment, so
        // an executor speaks TLS to its agent as the agent does: keep libprocess's TLS
        // settings even where the environment is cleared (security/tls.rs).
        env.extend(
            crate::security::tls::utf8_env()
                .filter(|(k, _)| k.starts_with(crate::security::tls::PREFIX)),
        );
        if let Some(lib) = self.config.native_library.as_ref().filter(|l| l.exists()) {
            env.push((
                "MESOS_NATIVE_JAVA_LIBRARY".into(),
                lib.display().to_string(),
            ));
            env.push(("MESOS_NATIVE_LIBRARY".into(), lib.display().to_string()));
        }
        let grace = info
            .shutdown_grace_period
            .as_ref()
            .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
            .unwrap_or(self.config.executor_shutdown_grace_period);
        let sandbox = sandbox.display().to_string();
        env.extend([
            ("MESOS_FRAMEWORK_ID".into(), framework_id.to_string()),
            ("MESOS_EXECUTOR_ID".into(), info.executor_id.value.clone()),
            ("MESOS_DIRECTORY".into(), sandbox.clone()),
            ("MESOS_SANDBOX".into(), sandbox),
            ("MESOS_SLAVE_ID".into(), self.agent_id()),
            ("MESOS_SLAVE_PID".into(), self.pid()),
            ("MESOS_AGENT_ENDPOINT".into(), self.endpoint()),
            (
                "MESOS_CHECKPOINT".into(),
                if checkpoint { "1" } else { "0" }.into(),
            ),
            ("MESOS_HTTP_COMMAND_EXECUTOR".into(), "1".into()),
            (
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".into(),
                format_duration(grace),
            ),
        ]);
        if checkpoint {
            env.push((
                "MESOS_RECOVERY_TIMEOUT".into(),
                format_duration(self.config.recovery_timeout),
            ));
            env.push((
                "MESOS_SUBSCRIPTION_BACKOFF_MAX".into(),
                format_duration(self.config.executor_reregistration_timeout),
            ));
        }
        // The command's own variables win, as the executor's CommandInfo.environment does.
        if let Some(vars) = info.command.as_ref().and_then(|c| c.environment.as_ref()) {
            for var in &vars.variables {
                if let Some(value) = &var.value {
                    env.push((var.name.clone(), value.clone()));
                }
            }
        }
        // Last, so that no variable of the framework's replaces it.
        if let Some(key) = &self.config.security.jwt_key {
            env.push((
                "MESOS_EXECUTOR_AUTHENTICATION_TOKEN".into(),
                executor_token(key, framework_id, &info.executor_id.value, container_id),
            ));
        }
        env
    }

    /// The isolator found the container over a limit: its processes are killed now and its
    /// unfinished tasks end `TASK_FAILED` with `reason` (reference §4; Mesos
    /// `MesosContainerizerProcess::limited`).
    pub fn container_limited(
        &mut self,
        container_id: &str,
        reason: v1::task_status::Reason,
        message: String,
    ) {
        let Some(executor) = self.executor_of_container(container_id) else {
            return;
        };
        if executor.limitation.is_some() {
            return;
        }
        tracing::warn!(
            container_id,
            ?reason,
            "container reached a limit; destroying it"
        );
        executor.limitation = Some((reason, message));
        executor.state = ExecutorState::Terminating;
        self.emit(Effect::Destroy {
            container_id: container_id.to_string(),
        });
    }

    /// The paths `disk/du` measures now: each live container's sandbox and persistent
    /// volumes with their quotas (disk_du.rs). Docker containers are left out, as Mesos's
    /// docker containerizer has no disk isolator.
    pub fn disk_watch(&self) -> Vec<super::disk_du::WatchedPath> {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .filter(|e| e.state != ExecutorState::Terminated && e.limitation.is_none())
            .flat_map(|e| e.disk_paths(&self.config.work_dir))
            .collect()
    }

    /// What `disk/du` measured: kept for the container's statistics; a path over its quota
    /// limits the container when `--enforce_container_disk_quota` is set (Mesos's
    /// `PosixDiskIsolatorProcess::_collect`).
    pub fn container_disk_usage(&mut self, measured: Vec<(super::disk_du::WatchedPath, u64)>) {
        let enforce = self
            .config
            .isolation
            .disk_du
            .is_some_and(|d| d.enforce_quota);
        for (watched, used) in measured {
            let Some(executor) = self.executor_of_container(&watched.container_id) else {
                continue;
            };
            executor.disk_usage.insert(watched.path.clone(), used);
            if enforce && !watched.mount && used > watched.quota_bytes {
                self.container_limited(
                    &watched.container_id,
                    v1::task_status::Reason::ContainerLimitationDisk,
                    super::disk_du::exceeded_message(used, watched.quota_bytes),
                );
            }
        }
    }

    /// The live executors' containers with their pids and limits (for usage and limits).
    pub fn live_containers(&self) -> Vec<(String, String, String, Option<u32>, isolator::Limits)> {
        self.frameworks
            .iter()
            .flat_map(|(fid, f)| f.executors.iter().map(move |(eid, e)| (fid, eid, e)))
            .filter(|(_, _, e)| e.state != ExecutorState::Terminated)
            .map(|(fid, eid, e)| {
                (
                    fid.clone(),
                    eid.clone(),
                    e.container_id.clone(),
                    e.pid,
                    e.limits,
                )
            })
            .collect()
    }

    pub fn executor_started(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        pid: u32,
    ) {
        if let Some(executor) =
            ExecutorKey::parse(framework_id, executor_id).and_then(|key| self.executor_mut(&key))
            && executor.container_id == container_id
        {
            executor.pid = Some(pid);
        }
    }

    /// The containerizer learned the container's own IP addresses (Mesos's
    /// `ContainerStatus.network_infos` from the containerizer's `status()`).
    pub fn executor_network(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        ip_addresses: Vec<String>,
    ) {
        if let Some(executor) =
            ExecutorKey::parse(framework_id, executor_id).and_then(|key| self.executor_mut(&key))
            && executor.container_id == container_id
        {
            executor.ip_addresses = ip_addresses;
        }
    }

    /// The executor's process ended (or never started: `error`): its unfinished tasks fail,
    /// the master learns it exited, and the framework gets FAILURE.
    pub fn executor_exited(
        &mut self,
        now: Time,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        status: Option<i32>,
        error: Option<String>,
    ) {
        let Some(key) = ExecutorKey::parse(framework_id, executor_id) else {
            return;
        };
        let Some(executor) = self.executor_mut(&key) else {
            return;
        };
        if executor.container_id != container_id || executor.state == ExecutorState::Terminated {
            return;
        }
        let was_terminating = executor.state == ExecutorState::Terminating;
        let limitation = executor.limitation.clone();
        executor.state = ExecutorState::Terminated;
        let conn = executor.conn.take();
        let mut queued = std::mem::take(&mut executor.queued);
        queued.extend(
            std::mem::take(&mut executor.queued_groups)
                .into_iter()
                .flat_map(|g| g.tasks),
        );
        let running: Vec<v1::TaskInfo> = executor
            .tasks
            .values()
            .map(|t| v1::TaskInfo {
                name: t.name.clone(),
                task_id: t.task_id.clone(),
                ..Default::default()
            })
            .collect();
        let command_executor = executor.command_executor;
        if let Some(conn) = conn {
            self.emit(Effect::CloseExecutor { conn });
        }
        self.counters.executors_terminated += 1;
        if error.is_some() {
            self.counters.container_launch_errors += 1;
        }
        let (state, reason, message) = match &error {
            None if limitation.is_some() => {
                let (reason, message) = limitation.expect("checked");
                (v1::TaskState::TaskFailed, reason, message)
            }
            Some(e) => (
                v1::TaskState::TaskFailed,
                v1::task_status::Reason::ContainerLaunchFailed,
                e.clone(),
            ),
            None if was_terminating => (
                v1::TaskState::TaskKilled,
                v1::task_status::Reason::ExecutorTerminated,
                "Executor terminated".to_string(),
            ),
            None => (
                v1::TaskState::TaskFailed,
                v1::task_status::Reason::ExecutorTerminated,
                format!(
                    "Executor terminated{}",
                    status
                        .map(|s| format!(" with status {s}"))
                        .unwrap_or_default()
                ),
            ),
        };
        for task in queued.iter().chain(running.iter()) {
            self.local_update(
                now,
                framework_id,
                executor_id,
                task,
                state,
                reason,
                &message,
            );
        }
        tracing::info!(
            framework_id,
            executor_id,
            ?status,
            ?error,
            "executor exited"
        );
        // A terminated run is not reconnected to after an agent restart.
        if let Some(ids) = self.run_ids(&key, container_id) {
            let sentinel = paths::meta_run_dir(
                &self.config.work_dir,
                &ids.agent,
                &ids.framework,
                &ids.executor,
                &ids.container,
            )
            .join("executor.sentinel");
            self.emit(Effect::Persist {
                path: sentinel,
                data: Vec::new(),
                append: false,
                durable: false,
            });
        }
        if !command_executor {
            self.emit(Effect::Master(Box::new(ToMaster::ExitedExecutor(
                wire::ExitedExecutor {
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_string(),
                    },
                    executor_id: v1::ExecutorId {
                        value: executor_id.to_string(),
                    },
                    status,
                },
            ))));
        }
        self.gc_framework(now, framework_id);
    }

    /// The live executors' containers to kill when the agent stops: all of them, or only
    /// those of frameworks that do not checkpoint — a restarted agent takes up the others
    /// (reference §8.6: Mesos leaves them running).
    pub fn containers(&self, all: bool) -> Vec<String> {
        self.frameworks
            .values()
            .filter(|f| all || !f.info.checkpoint.unwrap_or(false))
            .flat_map(|f| f.executors.values())
            .filter(|e| e.state != ExecutorState::Terminated)
            .map(|e| e.container_id.clone())
            .collect()
    }
}

/// What the containerizer reports of an executor's container (Mesos's
/// `MesosContainerizerProcess::status`, src/slave/containerizer/mesos/containerizer.cpp):
/// its id (top-level: no parent), from the launcher the executor's pid, and the
/// container's own IP addresses when it has some (a docker container off the host network,
/// as Mesos's docker containerizer reports them); none on the host network.
pub fn container_status(executor: &Executor) -> v1::ContainerStatus {
    let network_infos = if executor.ip_addresses.is_empty() {
        Vec::new()
    } else {
        vec![v1::NetworkInfo {
            ip_addresses: executor
                .ip_addresses
                .iter()
                .map(|ip| v1::network_info::IpAddress {
                    protocol: ip
                        .contains(':')
                        .then_some(v1::network_info::Protocol::IPv6 as i32),
                    ip_address: Some(ip.clone()),
                })
                .collect(),
            ..Default::default()
        }]
    };
    v1::ContainerStatus {
        container_id: Some(v1::ContainerId {
            value: executor.container_id.clone(),
            parent: None,
        }),
        executor_pid: executor.pid,
        network_infos,
        ..Default::default()
    }
}

/// The executor's token: an HS256 JWT over the claims `fid`, `eid` and `cid` (its
/// framework, executor and container ids), without expiry, as Mesos's agent makes it
/// (`Slave::generateSecret`, src/slave/slave.cpp, with `JWTSecretGenerator`). It is derived
/// from the agent's key and the ids alone, so nothing about it is checkpointed: an executor
/// recovered after an agent restart keeps a valid token as long as the key is the same.
pub fn executor_token(
    key: &crate::security::jwt::JwtKey,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> String {
    let claims = [
        ("fid", framework_id),
        ("eid", executor_id),
        ("cid", container_id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    crate::security::jwt::create(key, &claims)
}

impl Executor {
    /// The paths `disk/du` watches in this executor's container (none for a docker one).
    pub fn disk_paths(&self, work_dir: &Path) -> Vec<super::disk_du::WatchedPath> {
        if super::containerizer::is_docker(self.info.container.as_ref()) {
            return Vec::new();
        }
        let resources: Vec<v1::Resource> = self
            .info
            .resources
            .iter()
            .chain(self.tasks.values().flat_map(|t| t.resources.iter()))
            .chain(self.queued.iter().flat_map(|t| t.resources.iter()))
            .chain(
                self.queued_groups
                    .iter()
                    .flat_map(|g| g.tasks.iter().flat_map(|t| t.resources.iter())),
            )
            .cloned()
            .collect();
        super::disk_du::watched_paths(&self.container_id, &self.sandbox, work_dir, &resources)
    }
}
