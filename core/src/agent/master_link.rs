//! The agent's side of its master session: what the master tells it and what it answers.
//!
//! Owns (re)registration (`hello`, `registered`), the master's messages (`from_master`:
//! launches of tasks and task groups, kills, framework messages, shutdowns of executors,
//! frameworks and the agent itself, checkpointed resources) and the checks a launch passes
//! before anything is stored. The session itself (gRPC, backoff) is `runtime.rs`.
//!
//! Mirrors src/slave/slave.cpp: `Slave::registered`, `Slave::reregistered`,
//! `Slave::doReliableRegistration` (the message it builds), `Slave::run`,
//! `Slave::runTaskGroup`, `Slave::killTask`, `Slave::schedulerMessage`,
//! `Slave::updateFramework`, `Slave::checkpointResourcesMessage`, `Slave::shutdownExecutor`,
//! `Slave::shutdownFramework`, `Slave::shutdown`, `Slave::ping`.

use std::collections::BTreeMap;
use std::time::Duration;

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::executor as exec;
use wire::agent_message::Message as ToMaster;

use super::executor_api::{launch_event, launch_group_event};
use super::{
    Agent, Effect, Executor, ExecutorKey, ExecutorState, Framework, Time, paths, recovery,
};
use crate::common::id::{AgentId, ExecutorId, FrameworkId, TaskId};

impl Agent {
    /// The first message of a session: Register, or Reregister with what runs here.
    pub fn hello(&self) -> ToMaster {
        let endpoint = Some(self.endpoint());
        let version = Some(crate::common::version::MESOS_VERSION.to_string());
        let Some(id) = &self.id else {
            return ToMaster::Register(wire::Register {
                agent_info: self.info.clone(),
                version,
                capabilities: capabilities(),
                endpoint,
                boot_id: recovery::boot_id(),
            });
        };
        let mut info = self.info.clone();
        info.id = Some(v1::AgentId { value: id.clone() });
        let mut reregister = wire::Reregister {
            agent_info: info,
            version,
            endpoint,
            capabilities: capabilities(),
            checkpointed_resources: self.checkpointed_resources(),
            operations: self.operations.reported(),
            ..Default::default()
        };
        for framework in self.frameworks.values() {
            reregister.frameworks.push(framework.info.clone());
            let fid = framework.info.id.as_ref().map(|i| i.value.as_str());
            for executor in framework.executors.values() {
                // Ended tasks whose updates are not yet acknowledged are reported too (as
                // Mesos's agent does), so that a new master reconciles them with their
                // terminal state instead of LOST while the update is resent.
                reregister.tasks.extend(
                    executor
                        .completed
                        .iter()
                        .filter(|t| {
                            fid.is_some_and(|f| self.updates.has_pending(f, &t.task_id.value))
                        })
                        .cloned(),
                );
                if executor.state == ExecutorState::Terminated {
                    continue;
                }
                if !executor.command_executor {
                    reregister.executors.push(executor.info.clone());
                }
                reregister.tasks.extend(executor.tasks.values().cloned());
                for task in executor
                    .queued
                    .iter()
                    .chain(executor.queued_groups.iter().flat_map(|g| g.tasks.iter()))
                {
                    reregister
                        .tasks
                        .push(self.new_task(&framework.info, executor, task));
                }
            }
        }
        ToMaster::Reregister(reregister)
    }

    /// The master (re)registered us.
    pub fn registered(&mut self, now: Time, agent_id: String, master: Option<v1::MasterInfo>) {
        use prost::Message;
        let valid_id = match AgentId::new(agent_id.as_str()) {
            Ok(id) => id,
            Err(error) => {
                // The id names directories under work_dir: a master that hands out a bad one
                // is not followed.
                tracing::error!(%error, "the master assigned an invalid agent id; ignored");
                return;
            }
        };
        let first = self.id.is_none();
        self.id = Some(agent_id.clone());
        self.info.id = Some(v1::AgentId {
            value: agent_id.clone(),
        });
        self.master = master;
        self.updates.connected = true;
        if first {
            let path = paths::meta_slave_dir(&self.config.work_dir, &valid_id).join("slave.info");
            self.emit(Effect::Persist {
                path,
                data: self.info.encode_to_vec(),
                append: false,
                durable: true,
            });
            for path in [
                self.config.work_dir.join("slaves").join("latest"),
                paths::meta_dir(&self.config.work_dir)
                    .join("slaves")
                    .join("latest"),
            ] {
                self.emit(Effect::Link {
                    path,
                    target: agent_id.clone(),
                });
            }
        }
        tracing::info!(%agent_id, "registered with the master");
        let actions = self.updates.resend_all(now.mono);
        self.perform(actions);
        self.operations.connected = true;
        let actions = self.operations.resend_all(now.mono);
        self.perform_operations(actions);
    }

    pub fn master_disconnected(&mut self) {
        self.updates.connected = false;
        self.operations.connected = false;
    }

    pub fn from_master(&mut self, now: Time, message: wire::master_message::Message) {
        use wire::master_message::Message as M;
        match message {
            M::Registered(r) => self.registered(now, r.agent_id.value, r.master_info),
            M::Reregistered(r) => self.registered(now, r.agent_id.value, r.master_info),
            M::Ping(_) => self.emit(Effect::Master(Box::new(ToMaster::Pong(wire::Pong {})))),
            M::RunTask(run) => self.run_task(now, run),
            M::RunTaskGroup(group) => self.run_task_group(now, group),
            M::KillTask(kill) => self.kill_task(now, kill),
            M::Acknowledgement(ack) => self.acknowledge(now, ack),
            M::FrameworkToExecutor(m) => self.framework_message(m),
            M::ShutdownExecutor(s) => {
                self.shutdown_executor(now, &s.framework_id.value, &s.executor_id.value)
            }
            M::ShutdownFramework(s) => self.shutdown_framework(now, &s.framework_id.value),
            M::UpdateFramework(u) => {
                if let Some(id) = u.framework_info.id.as_ref().map(|i| i.value.clone())
                    && let Some(f) = self.frameworks.get_mut(&id)
                {
                    f.info = u.framework_info;
                }
            }
            M::CheckpointResources(c) => self.checkpoint_resources(c.resources),
            M::ApplyOperation(apply) => self.apply_operation(now, apply),
            M::AcknowledgeOperationStatus(ack) => self.acknowledge_operation(now, ack),
            M::Shutdown(s) => {
                // The agent was marked gone or its machine went DOWN: like Mesos's agent,
                // it stops every executor, then terminates (the master refuses it now).
                tracing::warn!(message = ?s.message, "the master asked this agent to shut down; shutting down every framework");
                self.terminating = true;
                let ids: Vec<String> = self.frameworks.keys().cloned().collect();
                for id in ids {
                    self.shutdown_framework(now, &id);
                }
                self.terminate_when_idle();
            }
        }
    }

    pub fn run_task(&mut self, now: Time, run: wire::RunTask) {
        let Some(framework_id) = run.framework.id.as_ref().map(|i| i.value.clone()) else {
            return;
        };
        let task = run.task;
        let (executor_info, command) = match run.executor {
            Some(e) => (e, false),
            None => (self.command_executor_info(&framework_id, &task), true),
        };
        let key = match validate_launch_ids(
            &framework_id,
            &executor_info.executor_id.value,
            [task.task_id.value.as_str()],
        ) {
            Ok(key) => key,
            Err(error) => {
                tracing::warn!(%error, "dropping a task launch with invalid ids");
                return;
            }
        };
        if self.framework_terminating(&framework_id) {
            // Mesos's `Slave::run`: no update, a terminating framework cannot acknowledge.
            tracing::warn!(%framework_id, task_id = %task.task_id.value, "ignoring a task of a terminating framework");
            return;
        }
        if let Some(error) =
            unsupported_container(&self.config.containerizers, &task, &executor_info)
        {
            self.local_update(
                now,
                &framework_id,
                &executor_info.executor_id.value,
                &task,
                v1::TaskState::TaskFailed,
                v1::task_status::Reason::ContainerLaunchFailed,
                &error,
            );
            return;
        }
        self.admit_framework(&framework_id, &run.framework);
        let eid = executor_info.executor_id.value.clone();
        match self.executor(&key).map(|e| e.state) {
            Some(ExecutorState::Terminating | ExecutorState::Terminated) => {
                self.local_update(
                    now,
                    &framework_id,
                    &eid,
                    &task,
                    v1::TaskState::TaskLost,
                    v1::task_status::Reason::ExecutorTerminated,
                    "Executor is terminating",
                );
                return;
            }
            None => self.launch_executor(now, &key, executor_info, command, &task),
            _ => self.grow_container(&key, &task.resources),
        }
        self.checkpoint_task(&key, &task);
        // None only when the launch wrote nothing (an id it refused, logged there).
        let Some((framework, executor)) = self.framework_executor(&key) else {
            return;
        };
        let running = match (executor.state, executor.conn) {
            (ExecutorState::Running, Some(conn)) => {
                Some((conn, self.new_task(&framework.info, executor, &task)))
            }
            _ => None,
        };
        let Some(executor) = self.executor_mut(&key) else {
            return;
        };
        match running {
            Some((conn, record)) => {
                executor.tasks.insert(task.task_id.value.clone(), record);
                self.send_executor(conn, launch_event(task));
            }
            None => executor.queued.push(task),
        }
    }

    /// Records (or refreshes) the FrameworkInfo of a framework launching on this agent.
    pub(super) fn admit_framework(&mut self, framework_id: &str, info: &v1::FrameworkInfo) {
        // A framework new here (again): its old directories are no longer garbage
        // (Mesos's `Slave::run` unschedules them).
        if !self.frameworks.contains_key(framework_id) {
            self.unschedule_framework(framework_id);
        }
        self.frameworks
            .entry(framework_id.to_string())
            .or_insert_with(|| Framework {
                completed_executors: Default::default(),
                info: info.clone(),
                executors: BTreeMap::new(),
                terminating: false,
                checkpointed_info: Vec::new(),
            })
            .info = info.clone();
    }

    /// ACCEPT's LAUNCH_GROUP: the group goes to its executor as one LAUNCH_GROUP event. An
    /// executor of type DEFAULT without a command is `remesos executor --default`, the
    /// built-in default executor (Mesos's `mesos-default-executor`).
    pub(super) fn run_task_group(&mut self, now: Time, group: wire::RunTaskGroup) {
        let Some(framework_id) = group.framework.id.as_ref().map(|i| i.value.clone()) else {
            return;
        };
        let mut executor_info = group.executor;
        let tasks = group.task_group.tasks;
        let Some(first) = tasks.first().cloned() else {
            return;
        };
        if executor_info.command.is_none() {
            executor_info.command = Some(v1::CommandInfo {
                shell: Some(false),
                value: Some(
                    self.config
                        .launcher_dir
                        .join("remesos")
                        .display()
                        .to_string(),
                ),
                arguments: vec!["remesos".into(), "executor".into(), "--default".into()],
                ..Default::default()
            });
        }
        if executor_info.framework_id.is_none() {
            executor_info.framework_id = Some(v1::FrameworkId {
                value: framework_id.clone(),
            });
        }
        let eid = executor_info.executor_id.value.clone();
        let key = match validate_launch_ids(
            &framework_id,
            &eid,
            tasks.iter().map(|t| t.task_id.value.as_str()),
        ) {
            Ok(key) => key,
            Err(error) => {
                tracing::warn!(%error, "dropping a task group launch with invalid ids");
                return;
            }
        };
        if self.framework_terminating(&framework_id) {
            // Mesos's `Slave::run`: no update, a terminating framework cannot acknowledge.
            tracing::warn!(%framework_id, "ignoring a task group of a terminating framework");
            return;
        }
        if let Some(error) = tasks
            .iter()
            .find_map(|t| unsupported_container(&self.config.containerizers, t, &executor_info))
        {
            for task in &tasks {
                self.local_update(
                    now,
                    &framework_id,
                    &eid,
                    task,
                    v1::TaskState::TaskFailed,
                    v1::task_status::Reason::ContainerLaunchFailed,
                    &error,
                );
            }
            return;
        }
        self.admit_framework(&framework_id, &group.framework);
        match self.executor(&key).map(|e| e.state) {
            Some(ExecutorState::Terminating | ExecutorState::Terminated) => {
                for task in &tasks {
                    self.local_update(
                        now,
                        &framework_id,
                        &eid,
                        task,
                        v1::TaskState::TaskLost,
                        v1::task_status::Reason::ExecutorTerminated,
                        "Executor is terminating",
                    );
                }
                return;
            }
            None => {
                // The container's limits cover the whole group.
                let mut sized = first.clone();
                sized.resources = tasks.iter().flat_map(|t| t.resources.clone()).collect();
                self.launch_executor(now, &key, executor_info, false, &sized);
            }
            _ => {
                let resources: Vec<v1::Resource> =
                    tasks.iter().flat_map(|t| t.resources.clone()).collect();
                self.grow_container(&key, &resources);
            }
        }
        for task in &tasks {
            self.checkpoint_task(&key, task);
        }
        // None only when the launch wrote nothing (an id it refused, logged there).
        let Some((framework, executor)) = self.framework_executor(&key) else {
            return;
        };
        let records: Vec<(String, v1::Task)> = tasks
            .iter()
            .map(|t| {
                (
                    t.task_id.value.clone(),
                    self.new_task(&framework.info, executor, t),
                )
            })
            .collect();
        let Some(executor) = self.executor_mut(&key) else {
            return;
        };
        let task_group = v1::TaskGroupInfo { tasks };
        if let (ExecutorState::Running, Some(conn)) = (executor.state, executor.conn) {
            executor.tasks.extend(records);
            self.send_executor(conn, launch_group_event(task_group));
        } else {
            executor.queued_groups.push(task_group);
        }
    }

    pub fn kill_task(&mut self, now: Time, kill: wire::KillTask) {
        let fid = kill.framework_id.value.clone();
        let tid = kill.task_id.value.clone();
        let found = self.frameworks.get(&fid).and_then(|f| {
            f.executors.iter().find_map(|(eid, e)| {
                if e.queued.iter().any(|t| t.task_id.value == tid) {
                    Some((eid.clone(), true))
                } else if e.tasks.contains_key(&tid)
                    || e.queued_groups
                        .iter()
                        .any(|g| g.tasks.iter().any(|t| t.task_id.value == tid))
                {
                    Some((eid.clone(), false))
                } else {
                    None
                }
            })
        });
        match found {
            Some((eid, true)) => {
                // Not yet handed to the executor: killed here.
                let Some(executor) =
                    ExecutorKey::parse(&fid, &eid).and_then(|key| self.executor_mut(&key))
                else {
                    return;
                };
                let Some(position) = executor.queued.iter().position(|t| t.task_id.value == tid)
                else {
                    return;
                };
                let task = executor.queued.remove(position);
                let idle = executor.queued.is_empty()
                    && executor.queued_groups.is_empty()
                    && executor.tasks.is_empty();
                self.local_update(
                    now,
                    &fid,
                    &eid,
                    &task,
                    v1::TaskState::TaskKilled,
                    v1::task_status::Reason::TaskKilledDuringLaunch,
                    "Killed before delivery to the executor",
                );
                if idle {
                    self.shutdown_executor(now, &fid, &eid);
                }
            }
            Some((eid, false)) => {
                let Some(executor) =
                    ExecutorKey::parse(&fid, &eid).and_then(|key| self.executor(&key))
                else {
                    return;
                };
                let task_policy = executor.tasks.get(&tid).and_then(|t| t.kill_policy);
                match executor.conn {
                    Some(conn) => {
                        let event = exec::Event {
                            r#type: Some(exec::event::Type::Kill as i32),
                            kill: Some(exec::event::Kill {
                                task_id: kill.task_id,
                                kill_policy: kill.kill_policy.or(task_policy),
                            }),
                            ..Default::default()
                        };
                        self.send_executor(conn, event);
                    }
                    None => self.shutdown_executor(now, &fid, &eid),
                }
            }
            None => {
                // Mesos answers a kill of a task it does not know with TASK_LOST
                // (TASK_DROPPED for partition-aware frameworks), so the framework stops waiting.
                let partition_aware = self.partition_aware(&fid);
                let state = if partition_aware {
                    v1::TaskState::TaskDropped
                } else {
                    v1::TaskState::TaskLost
                };
                let status = v1::TaskStatus {
                    task_id: kill.task_id,
                    state: state as i32,
                    message: Some("Cannot find the task on this agent".into()),
                    source: Some(v1::task_status::Source::Agent as i32),
                    reason: Some(v1::task_status::Reason::TaskUnknown as i32),
                    timestamp: Some(now.wall),
                    uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
                    ..Default::default()
                };
                self.handle_update(now, &fid, "", status);
            }
        }
    }

    pub(super) fn framework_message(&mut self, message: wire::FrameworkToExecutor) {
        let conn = ExecutorKey::parse(&message.framework_id.value, &message.executor_id.value)
            .and_then(|key| self.executor(&key))
            .and_then(|e| e.conn);
        let Some(conn) = conn else {
            self.counters.invalid_framework_messages += 1;
            return;
        };
        self.counters.valid_framework_messages += 1;
        let event = exec::Event {
            r#type: Some(exec::event::Type::Message as i32),
            message: Some(exec::event::Message { data: message.data }),
            ..Default::default()
        };
        self.send_executor(conn, event);
    }

    /// SHUTDOWN to the executor; it is killed if still alive after the grace period.
    pub fn shutdown_executor(&mut self, now: Time, framework_id: &str, executor_id: &str) {
        let grace = self.config.executor_shutdown_grace_period;
        let Some(executor) =
            ExecutorKey::parse(framework_id, executor_id).and_then(|key| self.executor_mut(&key))
        else {
            return;
        };
        if executor.state == ExecutorState::Terminated {
            return;
        }
        let grace = executor
            .info
            .shutdown_grace_period
            .as_ref()
            .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
            .unwrap_or(grace);
        executor.state = ExecutorState::Terminating;
        executor.kill_deadline = Some(now.mono + grace);
        let mut queued = std::mem::take(&mut executor.queued);
        queued.extend(
            std::mem::take(&mut executor.queued_groups)
                .into_iter()
                .flat_map(|g| g.tasks),
        );
        let conn = executor.conn;
        match conn {
            Some(conn) => {
                let event = exec::Event {
                    r#type: Some(exec::event::Type::Shutdown as i32),
                    ..Default::default()
                };
                self.send_executor(conn, event);
            }
            None => {
                let container_id = executor.container_id.clone();
                self.emit(Effect::Signal {
                    container_id,
                    kill: false,
                });
            }
        }
        for task in queued {
            self.local_update(
                now,
                framework_id,
                executor_id,
                &task,
                v1::TaskState::TaskKilled,
                v1::task_status::Reason::ExecutorTerminated,
                "Executor shut down before the task was delivered",
            );
        }
    }

    /// The master's ShutdownFramework (a teardown, or a non-partition-aware framework whose
    /// tasks it reported LOST while this agent was away): Mesos's `Slave::shutdownFramework`.
    /// The framework turns TERMINATING, its executors are shut down, and it is removed —
    /// unacknowledged update streams included — once none is left, so the agent stops
    /// resending updates nobody will acknowledge.
    pub(super) fn shutdown_framework(&mut self, now: Time, framework_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        framework.terminating = true;
        let executors: Vec<String> = framework.executors.keys().cloned().collect();
        for eid in executors {
            self.shutdown_executor(now, framework_id, &eid);
        }
        self.gc_framework(now, framework_id);
    }

    pub(super) fn framework_terminating(&self, framework_id: &str) -> bool {
        self.frameworks
            .get(framework_id)
            .is_some_and(|f| f.terminating)
    }

    /// Whether the framework (known here) is PARTITION_AWARE.
    pub(super) fn partition_aware(&self, framework_id: &str) -> bool {
        self.frameworks.get(framework_id).is_some_and(|f| {
            crate::common::protocol::framework_has_capability(
                &f.info,
                v1::framework_info::capability::Type::PartitionAware,
            )
        })
    }

    pub(super) fn new_task(
        &self,
        framework: &v1::FrameworkInfo,
        executor: &Executor,
        info: &v1::TaskInfo,
    ) -> v1::Task {
        v1::Task {
            name: info.name.clone(),
            task_id: info.task_id.clone(),
            framework_id: framework.id.clone().unwrap_or_default(),
            executor_id: (!executor.command_executor).then(|| executor.info.executor_id.clone()),
            agent_id: v1::AgentId {
                value: self.agent_id(),
            },
            state: v1::TaskState::TaskStaging as i32,
            resources: info.resources.clone(),
            labels: info.labels.clone(),
            discovery: info.discovery.clone(),
            container: info.container.clone(),
            health_check: info.health_check.clone(),
            kill_policy: info.kill_policy,
            user: info
                .command
                .as_ref()
                .and_then(|c| c.user.clone())
                .or_else(|| Some(framework.user.clone())),
            ..Default::default()
        }
    }
}

/// What this agent can do that a master asks about (Mesos's `AGENT_CAPABILITIES`, those
/// remesos has): roles with `/`, reservation refinement and resizable volumes, which the
/// master's reservation and volume operations check (master/reservation.rs), and
/// operation feedback on its default resources (operations.rs).
fn capabilities() -> Vec<v1::agent_info::Capability> {
    use v1::agent_info::capability::Type;
    [
        Type::MultiRole,
        Type::HierarchicalRole,
        Type::ReservationRefinement,
        Type::ResizeVolume,
        Type::AgentOperationFeedback,
    ]
    .into_iter()
    .map(|t| v1::agent_info::Capability {
        r#type: Some(t as i32),
    })
    .collect()
}

/// Checks the ids of a launch from the master (framework, executor, tasks) by Mesos's
/// rules before any of them is stored or becomes a directory. The master validates them
/// too; the agent does not take that on trust, since anything that can talk to it as its
/// master could send them.
pub(super) fn validate_launch_ids<'a>(
    framework_id: &str,
    executor_id: &str,
    task_ids: impl IntoIterator<Item = &'a str>,
) -> Result<ExecutorKey, String> {
    let framework =
        FrameworkId::new(framework_id).map_err(|e| format!("invalid framework id: {e}"))?;
    let executor = ExecutorId::new(executor_id).map_err(|e| format!("invalid executor id: {e}"))?;
    for task_id in task_ids {
        TaskId::new(task_id).map_err(|e| format!("invalid task id: {e}"))?;
    }
    Ok(ExecutorKey {
        framework,
        executor,
    })
}

/// A container this agent cannot run fails its task at once with a message that says what
/// to change: a DOCKER container needs the docker containerizer (`--containerizers` with
/// `docker`; Mesos's composing containerizer answers "not supported" the same way). MESOS
/// containers, with or without an image, go to the mesos containerizer (which fails the
/// launch when it cannot provision the image).
pub(super) fn unsupported_container(
    containerizers: &[super::containerizer::Kind],
    task: &v1::TaskInfo,
    executor: &v1::ExecutorInfo,
) -> Option<String> {
    use super::containerizer::Kind;
    for container in task.container.iter().chain(executor.container.iter()) {
        let docker = container.r#type == v1::container_info::Type::Docker as i32;
        if docker && !containerizers.contains(&Kind::Docker) {
            return Some(
                "Docker containers need the docker containerizer: start the agent with \
                 --containerizers=mesos,docker"
                    .into(),
            );
        }
        if docker && container.docker.is_none() {
            return Some("A DOCKER container needs ContainerInfo.docker with an image".into());
        }
        if !docker && container.docker.is_some() {
            return Some(
                "ContainerInfo.docker is set but the container's type is not DOCKER".into(),
            );
        }
    }
    None
}
