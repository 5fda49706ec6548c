//! Offer operations of an ACCEPT: LAUNCH, LAUNCH_GROUP, RESERVE, UNRESERVE, CREATE, DESTROY.
//!
//! Each operation consumes or transforms part of `available` (the accepted offers'
//! resources); invalid tasks end TASK_ERROR, invalid resource operations are dropped with a
//! warning, as Mesos does for operations without an id. Resource operations with an id go
//! through `operation_status.rs` (OPERATION_ERROR or the agent's status).

use std::collections::HashSet;

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::offer::operation::Type as OpType;

use super::reservation::{self, pop_reservation, strip_volume};
use super::validation::{self, ResourcesError, TaskError, ValidTask};
use super::{Master, Time};
use crate::common::id::IdError;
use crate::resources::Resources;
use crate::security::authorizer::{Action, Object, executor_user, task_info_user};

impl Master {
    pub(super) fn apply_operation(
        &mut self,
        now: Time,
        framework_id: &str,
        agent_id: &str,
        available: &mut Resources,
        operation: v1::offer::Operation,
    ) {
        let ty = operation
            .r#type
            .and_then(|t| OpType::try_from(t).ok())
            .unwrap_or(OpType::Unknown);
        // Feedback is for resource operations only (Mesos's `Master::accept`).
        if operation.id.is_some() && matches!(ty, OpType::Launch | OpType::LaunchGroup) {
            self.launch_with_id(now, framework_id, agent_id, operation);
            return;
        }
        match ty {
            OpType::Reserve | OpType::Unreserve | OpType::Create | OpType::Destroy
                if operation.id.is_some() =>
            {
                self.apply_with_feedback(framework_id, agent_id, available, operation);
            }
            OpType::Launch => {
                let tasks = operation.launch.map(|l| l.task_infos).unwrap_or_default();
                self.launch(now, framework_id, agent_id, available, tasks);
            }
            OpType::LaunchGroup => {
                if let Some(group) = operation.launch_group {
                    self.launch_group(now, framework_id, agent_id, available, group);
                }
            }
            OpType::Reserve | OpType::Unreserve | OpType::Create | OpType::Destroy => {
                if let Err(error) =
                    self.apply_resource_operation(framework_id, agent_id, available, ty, operation)
                {
                    tracing::warn!(framework_id, agent_id, operation = ty.as_str_name(), %error, "dropping invalid operation");
                }
            }
            other if operation.id.is_some() => {
                let message = format!("Unsupported operation {}", other.as_str_name());
                self.operation_error(framework_id, &operation, &message);
            }
            other => {
                tracing::warn!(
                    framework_id,
                    operation = other.as_str_name(),
                    "dropping unsupported operation"
                );
            }
        }
    }

    /// A LAUNCH or LAUNCH_GROUP with an `id`: its tasks end TASK_ERROR, as Mesos's.
    fn launch_with_id(
        &mut self,
        now: Time,
        framework_id: &str,
        agent_id: &str,
        operation: v1::offer::Operation,
    ) {
        use v1::task_status::Reason;
        let (tasks, reason, message) = match operation.launch_group {
            Some(group) => (
                group.task_group.tasks,
                Reason::TaskGroupInvalid,
                "The `id` field cannot be set on LAUNCH_GROUP operations",
            ),
            None => (
                operation.launch.map(|l| l.task_infos).unwrap_or_default(),
                Reason::TaskInvalid,
                "The `id` field cannot be set on LAUNCH operations",
            ),
        };
        for task in tasks {
            self.task_refused(now, framework_id, &task.task_id, agent_id, reason, message);
        }
    }

    /// The role of the offered resources: every offer is for exactly one role.
    fn offered_role(available: &Resources) -> String {
        available
            .allocation_roles()
            .into_iter()
            .next()
            .unwrap_or_else(|| "*".to_string())
    }

    fn launch(
        &mut self,
        now: Time,
        framework_id: &str,
        agent_id: &str,
        available: &mut Resources,
        tasks: Vec<v1::TaskInfo>,
    ) {
        let role = Self::offered_role(available);
        let mut launched = HashSet::new();
        for task in tasks {
            let task_id = task.task_id.clone();
            if let Some(denied) = self.run_task_denied(framework_id, &task, None) {
                // Mesos's text, its typo included (master.cpp `Master::_accept`).
                let principal = &self.frameworks[framework_id].info.principal;
                let message = format!(
                    "Principal '{}' no authorized to {denied}",
                    principal.as_deref().unwrap_or_default()
                );
                let reason = v1::task_status::Reason::TaskUnauthorized;
                self.task_refused(now, framework_id, &task_id, agent_id, reason, &message);
                continue;
            }
            let result = {
                let framework = &self.frameworks[framework_id];
                let running = task.executor.as_ref().and_then(|e| {
                    framework
                        .executors
                        .get(agent_id)
                        .and_then(|m| m.get(&e.executor_id.value))
                });
                let capable = self
                    .agents
                    .get(agent_id)
                    .is_some_and(|a| validation::handles_task_limits(&a.capabilities));
                validation::validate_task(
                    framework, &role, agent_id, capable, running, &launched, task,
                )
            };
            let valid = match result {
                Ok(valid) => valid,
                Err(error) => {
                    self.task_error(now, framework_id, &task_id, agent_id, &error);
                    continue;
                }
            };
            let mut needed = valid.resources.clone();
            needed += &valid.executor_resources;
            if !available.contains(&needed) {
                let error = TaskError::MoreThanAvailable {
                    needed: needed.to_string(),
                    available: available.to_string(),
                };
                self.task_error(now, framework_id, &task_id, agent_id, &error);
                continue;
            }
            *available -= &needed;
            launched.insert(valid.task_id.clone());
            self.start_task(now, framework_id, agent_id, valid, needed);
        }
    }

    fn launch_group(
        &mut self,
        now: Time,
        framework_id: &str,
        agent_id: &str,
        available: &mut Resources,
        group: v1::offer::operation::LaunchGroup,
    ) {
        let role = Self::offered_role(available);
        let v1::offer::operation::LaunchGroup {
            mut executor,
            task_group,
        } = group;
        let tasks = task_group.tasks;
        // Every task of the group must be authorized, as its executor's user when it names
        // none (Mesos gives the group's tasks the group's executor before authorizing).
        let denied = tasks
            .iter()
            .filter_map(|t| {
                let denied = self.run_task_denied(framework_id, t, Some(&executor))?;
                Some(format!(
                    "Task '{}' is not authorized to {denied}",
                    t.task_id.value
                ))
            })
            .next_back();
        if let Some(message) = denied {
            let reason = v1::task_status::Reason::TaskGroupUnauthorized;
            for task in &tasks {
                self.task_refused(now, framework_id, &task.task_id, agent_id, reason, &message);
            }
            return;
        }
        let framework = &self.frameworks[framework_id];
        let (executor_id, mut error) =
            match validation::validate_group_executor(framework, &executor) {
                Ok(id) => (Some(id), None),
                Err(e) => (None, Some(e)),
            };
        if executor.framework_id.is_none() {
            executor.framework_id = Some(v1::FrameworkId {
                value: framework_id.to_string(),
            });
        }
        let running = framework
            .executors
            .get(agent_id)
            .and_then(|m| m.get(&executor.executor_id.value))
            .cloned();
        let mut executor_resources = Resources::default();
        if error.is_none() && running.is_none() {
            match validation::incoming_resources(
                framework,
                &role,
                std::mem::take(&mut executor.resources),
            ) {
                Ok(r) => {
                    executor.resources = r.clone().into_protos();
                    executor_resources = r;
                }
                Err(e) => error = Some(TaskError::ExecutorResources(e)),
            }
        }
        let mut valid_tasks = Vec::new();
        let mut needed = executor_resources.clone();
        let mut launched = HashSet::new();
        if error.is_none() {
            for mut task in tasks.iter().cloned() {
                if task.executor.is_some() {
                    error = Some(TaskError::GroupTaskWithExecutor(task.task_id.value.clone()));
                    break;
                }
                // Validate as a command task; the group's executor runs it.
                if task.command.is_none() {
                    task.command = Some(v1::CommandInfo::default());
                }
                let capable = self
                    .agents
                    .get(agent_id)
                    .is_some_and(|a| validation::handles_task_limits(&a.capabilities));
                let result = validation::validate_task(
                    framework, &role, agent_id, capable, None, &launched, task,
                )
                .and_then(|valid| {
                    validation::validate_group_task_limits(&valid.task)?;
                    Ok(valid)
                });
                match result {
                    Ok(mut valid) => {
                        launched.insert(valid.task_id.clone());
                        needed += &valid.resources;
                        if tasks
                            .iter()
                            .any(|t| t.task_id == valid.task.task_id && t.command.is_none())
                        {
                            valid.task.command = None;
                        }
                        valid.executor = Some(executor.clone());
                        valid.executor_id = executor_id.clone();
                        valid_tasks.push(valid);
                    }
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
        if error.is_none() && !available.contains(&needed) {
            error = Some(TaskError::GroupMoreThanAvailable {
                needed: needed.to_string(),
                available: available.to_string(),
            });
        }
        if let Some(error) = error {
            for task in &tasks {
                self.task_error(now, framework_id, &task.task_id, agent_id, &error);
            }
            return;
        }
        *available -= &needed;
        let framework_info = self.frameworks[framework_id].info.clone();
        let mut group_tasks = Vec::new();
        for (i, valid) in valid_tasks.into_iter().enumerate() {
            let mut charged = valid.resources.clone();
            if i == 0 {
                charged += &executor_resources;
            }
            let mut info = valid.task.clone();
            info.executor = None;
            group_tasks.push(info);
            self.record_task(
                now,
                framework_id,
                agent_id,
                &valid,
                Some(&executor),
                charged,
            );
        }
        self.send_to_agent(
            agent_id,
            wire::master_message::Message::RunTaskGroup(wire::RunTaskGroup {
                framework: framework_info,
                executor,
                task_group: v1::TaskGroupInfo { tasks: group_tasks },
            }),
        );
    }

    fn task_error(
        &mut self,
        now: Time,
        framework_id: &str,
        task_id: &v1::TaskId,
        agent_id: &str,
        error: &TaskError,
    ) {
        tracing::warn!(framework_id, task_id = %task_id.value, %error, "invalid task");
        let reason = v1::task_status::Reason::TaskInvalid;
        self.task_refused(
            now,
            framework_id,
            task_id,
            agent_id,
            reason,
            &error.to_string(),
        );
    }

    /// `run_tasks` on the framework's principal (Mesos's RUN_TASK object: the task's
    /// command user, else its executor's — `group_executor`'s for a task group — else the
    /// framework's): `None` when allowed, else what was refused, in Mesos's words
    /// (`authorization.cpp` `operator<<(ActionObject)`).
    fn run_task_denied(
        &self,
        framework_id: &str,
        task: &v1::TaskInfo,
        group_executor: Option<&v1::ExecutorInfo>,
    ) -> Option<String> {
        let authorizer = &self.config.authorizer;
        if !authorizer.is_enabled() {
            return None;
        }
        let info = &self.frameworks.get(framework_id)?.info;
        let command_user = task.command.as_ref().and_then(|c| c.user.as_ref());
        let user = match (&task.executor, group_executor) {
            (None, Some(executor)) if command_user.is_none() => executor_user(executor, info),
            _ => task_info_user(task, info),
        };
        let subject = info.principal.as_deref();
        if authorizer.is_allowed_name(Action::RunTask, subject, Object::Value(user)) {
            return None;
        }
        Some(format!(
            "launch task {} of framework {framework_id} under user '{user}'",
            task.task_id.value
        ))
    }

    /// TASK_ERROR from the master for a task that is not launched.
    fn task_refused(
        &mut self,
        now: Time,
        framework_id: &str,
        task_id: &v1::TaskId,
        agent_id: &str,
        reason: v1::task_status::Reason,
        message: &str,
    ) {
        if reason != v1::task_status::Reason::TaskInvalid {
            tracing::warn!(framework_id, task_id = %task_id.value, message, "task refused");
        }
        self.count_terminal(v1::TaskState::TaskError);
        let agent = v1::AgentId {
            value: agent_id.to_string(),
        };
        let status = super::master_status(
            now,
            task_id,
            Some(&agent),
            v1::TaskState::TaskError,
            reason,
            message,
        );
        self.send_status(framework_id, status);
    }

    fn start_task(
        &mut self,
        now: Time,
        framework_id: &str,
        agent_id: &str,
        valid: ValidTask,
        charged: Resources,
    ) {
        let framework_info = self.frameworks[framework_id].info.clone();
        let role = Self::offered_role(&valid.resources);
        self.record_task(
            now,
            framework_id,
            agent_id,
            &valid,
            valid.executor.as_ref(),
            charged,
        );
        self.send_to_agent(
            agent_id,
            wire::master_message::Message::RunTask(wire::RunTask {
                framework: framework_info,
                task: valid.task,
                executor: valid.executor,
                allocation_info: vec![v1::resource::AllocationInfo { role: Some(role) }],
            }),
        );
    }

    /// Books a launched task in STAGING on the framework and the agent.
    fn record_task(
        &mut self,
        now: Time,
        framework_id: &str,
        agent_id: &str,
        valid: &ValidTask,
        executor: Option<&v1::ExecutorInfo>,
        charged: Resources,
    ) {
        let info = &valid.task;
        let task = v1::Task {
            name: info.name.clone(),
            task_id: info.task_id.clone(),
            framework_id: v1::FrameworkId {
                value: framework_id.to_string(),
            },
            executor_id: executor.map(|e| e.executor_id.clone()),
            agent_id: v1::AgentId {
                value: agent_id.to_string(),
            },
            state: v1::TaskState::TaskStaging as i32,
            resources: valid.resources.clone().into_protos(),
            statuses: vec![],
            status_update_state: None,
            status_update_uuid: None,
            labels: info.labels.clone(),
            discovery: info.discovery.clone(),
            container: info.container.clone(),
            health_check: info.health_check.clone(),
            kill_policy: info.kill_policy,
            user: info
                .command
                .as_ref()
                .and_then(|c| c.user.clone())
                .or_else(|| Some(self.frameworks[framework_id].info.user.clone())),
            limits: info.limits.clone(),
        };
        // The ids filed below are the validated task and executor ids and the keys of the
        // framework and the agent as the master holds them.
        let executor = executor.zip(valid.executor_id.as_ref());
        let agent_key = self
            .agents
            .get_key_value(agent_id)
            .map(|(id, _)| id.clone());
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let framework_key = framework.id.clone();
        if let Some(((info, executor_id), agent_key)) = executor.zip(agent_key.as_ref()) {
            framework.add_executor(agent_key, executor_id.clone(), info.clone());
        }
        framework.tasks.insert(valid.task_id.clone(), task.into());
        self.launched
            .insert((framework_key.clone(), valid.task_id.clone()), now.mono);
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.add_used(&framework_key, &charged);
            agent
                .tasks
                .insert((framework_key.clone(), valid.task_id.clone()));
            if let Some((_, executor_id)) = executor {
                agent
                    .executors
                    .entry(framework_key)
                    .or_default()
                    .insert(executor_id.clone());
            }
        }
        let task_id = &info.task_id.value;
        self.emit_operator(|m| v1::master::Event {
            r#type: Some(v1::master::event::Type::TaskAdded as i32),
            task_added: Some(v1::master::event::TaskAdded {
                task: m.frameworks[framework_id].tasks[task_id].task(),
            }),
            ..Default::default()
        });
    }

    /// RESERVE, UNRESERVE, CREATE and DESTROY transform offered resources in place; the
    /// agent's total changes with them and the agent checkpoints the result.
    pub(super) fn apply_resource_operation(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        available: &mut Resources,
        ty: OpType,
        operation: v1::offer::Operation,
    ) -> Result<(), OperationError> {
        let framework = &self.frameworks[framework_id];
        let role = Self::offered_role(available);
        let raw = match ty {
            OpType::Reserve => operation.reserve.map(|r| r.resources),
            OpType::Unreserve => operation.unreserve.map(|r| r.resources),
            OpType::Create => operation.create.map(|r| r.volumes),
            OpType::Destroy => operation.destroy.map(|r| r.volumes),
            _ => None,
        }
        .ok_or_else(|| OperationError::Missing(ty.as_str_name().to_lowercase()))?;
        let given = validation::incoming_resources(framework, &role, raw)?;
        let principal = framework.info.principal.clone();
        let (from, to) = match ty {
            OpType::Reserve => {
                for r in given.iter() {
                    let top = r.reservations.last().ok_or(OperationError::NoReservation)?;
                    if top.r#type != Some(v1::resource::reservation_info::Type::Dynamic as i32) {
                        return Err(OperationError::NotDynamic);
                    }
                    if top.principal.is_some() && top.principal != principal {
                        return Err(OperationError::PrincipalMismatch {
                            reservation: top.principal.clone(),
                            framework: principal,
                        });
                    }
                }
                (pop_reservation(&given), given)
            }
            OpType::Unreserve => {
                if given.iter().any(|r| r.reservations.is_empty()) {
                    return Err(OperationError::UnreserveUnreserved);
                }
                (given.clone(), pop_reservation(&given))
            }
            OpType::Create => {
                if given.iter().any(|r| {
                    r.disk
                        .as_ref()
                        .and_then(|d| d.persistence.as_ref())
                        .is_none()
                }) {
                    return Err(OperationError::NoPersistence("create"));
                }
                // A persistence id names the volume's directory on the agent
                // (`volumes/roles/<role>/<id>`): Mesos's master checks it as any id.
                for r in &given {
                    let id = r.disk.as_ref().and_then(|d| d.persistence.as_ref());
                    if let Some(p) = id {
                        crate::common::id::validate_id(&p.id)
                            .map_err(OperationError::InvalidPersistenceId)?;
                    }
                }
                reservation::validate_disk_info(&given).map_err(OperationError::Volume)?;
                reservation::validate_new_volumes(&given).map_err(OperationError::Volume)?;
                if let Some(agent) = self.agents.get(agent_id) {
                    let mut all = agent.total.filter(reservation::needs_checkpoint);
                    all += &given;
                    reservation::validate_unique_persistence_ids(&all)
                        .map_err(OperationError::Volume)?;
                }
                (given.iter().map(strip_volume).collect(), given)
            }
            _ => {
                if given.iter().any(|r| {
                    r.disk
                        .as_ref()
                        .and_then(|d| d.persistence.as_ref())
                        .is_none()
                }) {
                    return Err(OperationError::NoPersistence("destroy"));
                }
                // Mesos's `validate(Destroy)`: a volume a task or executor uses stays.
                let volumes = given.unallocated();
                let in_use = self.agents.get(agent_id).is_some_and(|agent| {
                    agent.used.values().any(|used| {
                        let used = used.unallocated();
                        volumes
                            .iter()
                            .any(|v| used.contains(&Resources::from(v.clone())))
                    })
                });
                if in_use {
                    return Err(OperationError::Volume("Persistent volumes in use".into()));
                }
                (given.clone(), given.iter().map(strip_volume).collect())
            }
        };
        if !available.contains(&from) {
            return Err(OperationError::NotAvailable {
                needed: from.to_string(),
                available: available.to_string(),
            });
        }
        *available -= &from;
        *available += &to;
        self.allocator
            .update_allocation(framework_id, agent_id, &from, &to);
        self.convert_agent_total(agent_id, &from, &to);
        Ok(())
    }
}

/// Why a RESERVE, UNRESERVE, CREATE or DESTROY is dropped (logged; Mesos drops operations
/// without an id the same way).
#[derive(Debug, thiserror::Error)]
pub(super) enum OperationError {
    /// The operation's message (`reserve`, `unreserve`, `create`, `destroy`) is missing.
    #[error("missing the '{0}' message")]
    Missing(String),
    #[error(transparent)]
    Resources(#[from] ResourcesError),
    #[error("resources to reserve carry no reservation")]
    NoReservation,
    #[error("only dynamic reservations can be made by frameworks")]
    NotDynamic,
    #[error(
        "reservation principal {reservation:?} does not match the framework's principal {framework:?}"
    )]
    PrincipalMismatch {
        reservation: Option<String>,
        framework: Option<String>,
    },
    #[error("cannot unreserve unreserved resources")]
    UnreserveUnreserved,
    /// Volumes to `create` or `destroy` without a persistence id.
    #[error("volumes to {0} must carry a persistence id")]
    NoPersistence(&'static str),
    #[error("Invalid persistence ID for persistent volume: {0}")]
    InvalidPersistenceId(IdError),
    /// Mesos's volume checks (`reservation.rs`): disk info, unique persistence ids, in use.
    #[error("{0}")]
    Volume(String),
    #[error("{needed} is not available in {available}")]
    NotAvailable { needed: String, available: String },
}
