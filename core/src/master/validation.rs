//! Validation of what frameworks send (Mesos's `master/validation.cpp`): scheduler calls
//! ([`validate_call`], `validation::scheduler::call::validate`), TaskInfo, ExecutorInfo,
//! task groups and the resources they use. A call's errors are the HTTP answers of
//! reference §3.2; a task's are the messages frameworks see in TASK_ERROR updates.

use remesos_proto::internal as wire;
use remesos_proto::v1;
use v1::scheduler::{self as sched, call::Type as CallType};

use super::framework::Framework;
use crate::common::id::{AgentId, ExecutorId, FrameworkId, IdError, TaskId, validate_id};
use crate::common::validation::{CheckError, validate_check_info, validate_health_check};
use crate::resources::{ResourceFormat, Resources, convert_resource_format};

/// A rejected call: the HTTP status and Mesos's text.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotImplemented(String),
}

impl CallError {
    pub fn status(&self) -> u16 {
        match self {
            CallError::BadRequest(_) => 400,
            CallError::Forbidden(_) => 403,
            CallError::NotImplemented(_) => 501,
        }
    }
}

pub(super) fn bad(message: impl Into<String>) -> CallError {
    CallError::BadRequest(message.into())
}

/// A scheduler call that passed Mesos's call validation: each variant carries what its
/// handler needs, so no handler looks for a sub-message again.
#[derive(Debug)]
pub enum SchedulerCall {
    /// SUBSCRIBE (its FrameworkInfo is validated by the master, as Mesos's
    /// `validation::framework::validate` runs in `Master::subscribe`).
    /// Boxed: a FrameworkInfo is by far the largest sub-message.
    Subscribe(Box<sched::call::Subscribe>),
    /// Every other call, from the framework it names.
    Framework {
        framework_id: FrameworkId,
        call: FrameworkCall,
    },
}

/// A call of a subscribed framework (every type but SUBSCRIBE), with its sub-message.
///
/// The ids inside the sub-messages (tasks, agents and executors of KILL, SHUTDOWN,
/// ACKNOWLEDGE, MESSAGE and RECONCILE) stay as the framework sent them: Mesos does not
/// validate them here; the master only looks them up in its state (whose ids all entered
/// through validation), and reconciliation answers an unknown task with the id it was
/// asked about. Agents validate whatever reaches them.
#[derive(Debug)]
pub enum FrameworkCall {
    Teardown,
    Accept(sched::call::Accept),
    Decline(sched::call::Decline),
    /// REVIVE of these roles (all of the framework's when empty).
    Revive {
        roles: Vec<String>,
    },
    /// SUPPRESS of these roles (all of the framework's when empty).
    Suppress {
        roles: Vec<String>,
    },
    Kill(sched::call::Kill),
    Shutdown(sched::call::Shutdown),
    Acknowledge(sched::call::Acknowledge),
    Reconcile(sched::call::Reconcile),
    Message(sched::call::Message),
    Request,
    /// Boxed: a FrameworkInfo is by far the largest sub-message.
    UpdateFramework(Box<sched::call::UpdateFramework>),
    AcceptInverseOffers(sched::call::AcceptInverseOffers),
    DeclineInverseOffers(sched::call::DeclineInverseOffers),
    /// With a 16-byte uuid and an agent id.
    AcknowledgeOperationStatus(sched::call::AcknowledgeOperationStatus),
    ReconcileOperations(sched::call::ReconcileOperations),
    /// A type this master does not know: `501 Not Implemented`.
    Unknown,
}

/// Mesos's `validation::scheduler::call::validate`: the sub-message matching `type` must be
/// present, and every call but SUBSCRIBE names its framework.
///
/// A framework id that Mesos's `validateID` refuses names no framework (every framework
/// entered through that validation: SUBSCRIBE, agents' reregistrations), so it gets the
/// answer the master gives an unknown framework, after the checks above — the same answer,
/// in the same order, as when the master looked the id up.
pub fn validate_call(call: sched::Call) -> Result<SchedulerCall, CallError> {
    let Some(raw) = call.r#type else {
        return Err(bad("Expecting 'type' to be present"));
    };
    let ty = CallType::try_from(raw).unwrap_or(CallType::Unknown);
    if ty == CallType::Subscribe {
        let Some(subscribe) = call.subscribe else {
            return Err(bad("Expecting 'subscribe' to be present"));
        };
        if let (Some(id), Some(info_id)) = (&call.framework_id, &subscribe.framework_info.id)
            && id != info_id
        {
            return Err(bad(
                "'framework_id' differs from 'subscribe.framework_info.id'",
            ));
        }
        return Ok(SchedulerCall::Subscribe(Box::new(subscribe)));
    }
    let Some(framework_id) = call.framework_id else {
        return Err(bad("Expecting 'framework_id' to be present"));
    };
    fn present<T>(what: &str, message: Option<T>) -> Result<T, CallError> {
        message.ok_or_else(|| bad(format!("Expecting '{what}' to be present")))
    }
    use FrameworkCall as F;
    let typed = match ty {
        CallType::Teardown => F::Teardown,
        CallType::Accept => F::Accept(present("accept", call.accept)?),
        CallType::Decline => F::Decline(present("decline", call.decline)?),
        CallType::Revive => F::Revive {
            roles: call.revive.map(|r| r.roles).unwrap_or_default(),
        },
        CallType::Suppress => F::Suppress {
            roles: call.suppress.map(|r| r.roles).unwrap_or_default(),
        },
        CallType::Kill => F::Kill(present("kill", call.kill)?),
        CallType::Shutdown => F::Shutdown(present("shutdown", call.shutdown)?),
        CallType::Acknowledge => F::Acknowledge(present("acknowledge", call.acknowledge)?),
        CallType::Reconcile => F::Reconcile(present("reconcile", call.reconcile)?),
        CallType::Message => F::Message(present("message", call.message)?),
        CallType::Request => {
            present("request", call.request)?;
            F::Request
        }
        CallType::UpdateFramework => F::UpdateFramework(Box::new(present(
            "update_framework",
            call.update_framework,
        )?)),
        CallType::AcceptInverseOffers => F::AcceptInverseOffers(present(
            "accept_inverse_offers",
            call.accept_inverse_offers,
        )?),
        CallType::DeclineInverseOffers => F::DeclineInverseOffers(present(
            "decline_inverse_offers",
            call.decline_inverse_offers,
        )?),
        CallType::AcknowledgeOperationStatus => {
            let ack = present(
                "acknowledge_operation_status",
                call.acknowledge_operation_status,
            )?;
            // Mesos's `id::UUID::fromBytes` text; an agent id is required while there are
            // no external resource providers.
            if uuid::Uuid::from_slice(&ack.uuid).is_err() {
                return Err(bad("Not a valid UUID"));
            }
            if ack.agent_id.is_none() {
                return Err(bad("Expecting 'agent_id' to be present"));
            }
            F::AcknowledgeOperationStatus(ack)
        }
        CallType::ReconcileOperations => {
            F::ReconcileOperations(present("reconcile_operations", call.reconcile_operations)?)
        }
        // (SUBSCRIBE returned above.)
        CallType::Unknown | CallType::Subscribe => F::Unknown,
    };
    let framework_id =
        FrameworkId::new(framework_id.value).map_err(|_| bad("Framework cannot be found"))?;
    Ok(SchedulerCall::Framework {
        framework_id,
        call: typed,
    })
}

/// Why resources a framework sent cannot be used ([`incoming_resources`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ResourcesError {
    #[error("Resources must have 'allocation_info' set for MULTI_ROLE frameworks")]
    MissingAllocationInfo,
    /// Converting or reading them failed; the resources module's text.
    #[error("{0}")]
    Invalid(String),
}

/// Why a task's resource limits are refused (Mesos 1.11's `validateResourceLimits` and
/// the task group check), in Mesos's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error("Agent is not capable of handling task resource limits")]
    AgentNotCapable,
    #[error("Only cpus and mem may be included in a task's resource limits")]
    NotCpusOrMem,
    #[error("When a CPU limit is specified, a CPU request must also be specified")]
    CpuLimitWithoutRequest,
    #[error("The cpu limit must be greater than or equal to the cpu request")]
    CpuLimitBelowRequest,
    #[error("When a memory limit is specified, a memory request must also be specified")]
    MemLimitWithoutRequest,
    #[error("The memory limit must be greater than or equal to the memory request")]
    MemLimitBelowRequest,
    #[error(
        "Resource limits may only be set for tasks within a task group when the \
         'share_cgroups' field is set to 'false'."
    )]
    GroupTaskSharesCgroups,
}

/// Why a task of a LAUNCH or LAUNCH_GROUP ends TASK_ERROR with REASON_TASK_INVALID: Mesos's
/// `validation::task::validate` and `validation::task::group::validate`, with their texts.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TaskError {
    /// `what` ("Task", "Executor") has an id `validateID` refuses.
    #[error("{what} has an invalid ID: {error}")]
    InvalidId { what: &'static str, error: IdError },
    #[error("Task has duplicate ID: {0}")]
    DuplicateId(String),
    #[error("Task uses invalid agent: {actual} while agent {expected} is expected")]
    WrongAgent { actual: String, expected: String },
    #[error("Task's 'kill_policy.grace_period' must be non-negative")]
    NegativeGracePeriod,
    #[error("Task's `max_completion_time` must be non-negative")]
    NegativeMaxCompletionTime,
    #[error("Task uses invalid check: {0}")]
    InvalidCheck(CheckError),
    #[error("Task uses invalid health check: {0}")]
    InvalidHealthCheck(CheckError),
    #[error("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")]
    CommandXorExecutor,
    #[error("Task uses invalid resources: {0}")]
    TaskResources(ResourcesError),
    #[error("Task uses no resources")]
    NoResources,
    #[error(transparent)]
    Limits(#[from] LimitsError),
    #[error("ExecutorInfo has an invalid FrameworkID (Actual: {actual} vs Expected: {expected})")]
    ExecutorFramework { actual: String, expected: String },
    #[error("'ExecutorInfo.type' must not be 'DEFAULT' for a task; use LAUNCH_GROUP")]
    DefaultExecutorForTask,
    #[error("'ExecutorInfo.command' must be set for 'CUSTOM' executors")]
    CustomExecutorWithoutCommand,
    #[error("Executor uses invalid resources: {0}")]
    ExecutorResources(ResourcesError),
    #[error("ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID: {0}")]
    IncompatibleExecutor(String),
    #[error("'ExecutorInfo.type' must be 'DEFAULT'")]
    GroupExecutorNotDefault,
    #[error("Task '{0}' should not have 'ExecutorInfo' set")]
    GroupTaskWithExecutor(String),
    #[error("Task uses more resources {needed} than available {available}")]
    MoreThanAvailable { needed: String, available: String },
    #[error("Task group uses more resources {needed} than available {available}")]
    GroupMoreThanAvailable { needed: String, available: String },
}

fn invalid_id(what: &'static str) -> impl Fn(IdError) -> TaskError {
    move |error| TaskError::InvalidId { what, error }
}

/// Why an agent's reregistration is refused: an id in it that `validateID` refuses
/// ([`validate_reregistration`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReregistrationError {
    #[error("{0}")]
    Agent(IdError),
    #[error("Framework has an invalid FrameworkID: {0}")]
    Framework(IdError),
    #[error("{0}")]
    Executor(IdError),
    #[error("Executor has an invalid FrameworkID: {0}")]
    ExecutorFramework(IdError),
    #[error("Task has an invalid TaskID: {0}")]
    Task(IdError),
    #[error("Task has an invalid FrameworkID: {0}")]
    TaskFramework(IdError),
    #[error("Task has an invalid ExecutorID: {0}")]
    TaskExecutor(IdError),
}

/// Converts resources as a framework sent them into the master's canonical form:
/// post-refinement reservations, and `allocation_info` set for frameworks that are not
/// MULTI_ROLE (Mesos injects it from the offer's role).
pub fn incoming_resources(
    framework: &Framework,
    role: &str,
    mut resources: Vec<v1::Resource>,
) -> Result<Resources, ResourcesError> {
    let invalid = |e: &dyn std::fmt::Display| ResourcesError::Invalid(e.to_string());
    if !framework.reservation_refinement() {
        for r in &mut resources {
            convert_resource_format(r, ResourceFormat::PostReservationRefinement)
                .map_err(|e| invalid(&e))?;
        }
    }
    if !framework.multi_role() {
        for r in &mut resources {
            if r.allocation_info.is_none() {
                r.allocation_info = Some(v1::resource::AllocationInfo {
                    role: Some(role.to_string()),
                });
            }
        }
    } else if resources.iter().any(|r| r.allocation_info.is_none()) {
        return Err(ResourcesError::MissingAllocationInfo);
    }
    Resources::from_protos(resources).map_err(|e| invalid(&e))
}

/// The outcome of validating one task of a LAUNCH.
pub struct ValidTask {
    /// The task's id, validated.
    pub task_id: TaskId,
    pub task: v1::TaskInfo,
    /// The task's resources in canonical form.
    pub resources: Resources,
    /// The task's custom executor, with `framework_id` filled in.
    pub executor: Option<v1::ExecutorInfo>,
    /// The id of `executor`, validated; set with it.
    pub executor_id: Option<ExecutorId>,
    /// The executor's resources when this task starts it (not yet running on the agent).
    pub executor_resources: Resources,
}

/// Mesos 1.11's `validateResourceLimits` (master/validation.cpp), with its messages: limits
/// need an agent with the TASK_RESOURCE_LIMITS capability (remesos's agents do not
/// advertise it: they do not enforce `TaskInfo.limits`), may name only `cpus` and `mem`,
/// each with a request of its kind, and may not be below the request; an infinite memory
/// limit means "unlimited". One deliberate difference: a NaN limit, which Mesos's
/// comparisons let through, is refused as below the request.
pub fn validate_resource_limits(
    task: &v1::TaskInfo,
    resources: &Resources,
    agent_capable: bool,
) -> Result<(), LimitsError> {
    let limits = &task.limits;
    if limits.is_empty() {
        return Ok(());
    }
    if !agent_capable {
        return Err(LimitsError::AgentNotCapable);
    }
    if limits.keys().any(|name| name != "cpus" && name != "mem") {
        return Err(LimitsError::NotCpusOrMem);
    }
    let has = |name: &str| resources.iter().any(|r| r.name == name);
    if let Some(limit) = limits.get("cpus") {
        if !has("cpus") {
            return Err(LimitsError::CpuLimitWithoutRequest);
        }
        if limit.value.is_nan() || limit.value < resources.cpus() {
            return Err(LimitsError::CpuLimitBelowRequest);
        }
    }
    if let Some(limit) = limits.get("mem") {
        if !has("mem") {
            return Err(LimitsError::MemLimitWithoutRequest);
        }
        if limit.value.is_nan() || (!limit.value.is_infinite() && limit.value < resources.mem()) {
            return Err(LimitsError::MemLimitBelowRequest);
        }
    }
    Ok(())
}

/// Mesos 1.11's check on a task of a task group: limits only with `share_cgroups: false`.
pub fn validate_group_task_limits(task: &v1::TaskInfo) -> Result<(), LimitsError> {
    let own_cgroups = task
        .container
        .as_ref()
        .and_then(|c| c.linux_info.as_ref())
        .is_some_and(|l| l.share_cgroups == Some(false));
    if !task.limits.is_empty() && !own_cgroups {
        return Err(LimitsError::GroupTaskSharesCgroups);
    }
    Ok(())
}

/// Whether an agent advertises the TASK_RESOURCE_LIMITS capability.
pub fn handles_task_limits(capabilities: &[v1::agent_info::Capability]) -> bool {
    crate::common::protocol::agent_has_capability(
        capabilities,
        v1::agent_info::capability::Type::TaskResourceLimits,
    )
}

/// Mesos's `validation::task::validate` for one TaskInfo of a LAUNCH on `agent_id`
/// (`limits_capable`: whether that agent handles task resource limits).
pub fn validate_task(
    framework: &Framework,
    role: &str,
    agent_id: &str,
    limits_capable: bool,
    running_executor: Option<&v1::ExecutorInfo>,
    launched_ids: &std::collections::HashSet<TaskId>,
    mut task: v1::TaskInfo,
) -> Result<ValidTask, TaskError> {
    let task_id = TaskId::new(task.task_id.value.as_str()).map_err(invalid_id("Task"))?;
    if framework.tasks.contains_key(task_id.as_str()) || launched_ids.contains(task_id.as_str()) {
        return Err(TaskError::DuplicateId(task_id.to_string()));
    }
    if task.agent_id.value != agent_id {
        return Err(TaskError::WrongAgent {
            actual: task.agent_id.value.clone(),
            expected: agent_id.to_string(),
        });
    }
    // Mesos's validateKillPolicy and validateMaxCompletionTime: negative DurationInfos
    // would otherwise reach the agent's and the executor's deadlines.
    if task
        .kill_policy
        .as_ref()
        .and_then(|k| k.grace_period.as_ref())
        .is_some_and(|d| d.nanoseconds < 0)
    {
        return Err(TaskError::NegativeGracePeriod);
    }
    if task
        .max_completion_time
        .as_ref()
        .is_some_and(|d| d.nanoseconds < 0)
    {
        return Err(TaskError::NegativeMaxCompletionTime);
    }
    // Mesos's validateCheck and validateHealthCheck, in that order, before the resources.
    if let Some(check) = &task.check {
        validate_check_info(check).map_err(TaskError::InvalidCheck)?;
    }
    if let Some(check) = &task.health_check {
        validate_health_check(check).map_err(TaskError::InvalidHealthCheck)?;
    }
    if task.executor.is_some() == task.command.is_some() {
        return Err(TaskError::CommandXorExecutor);
    }
    let resources = incoming_resources(framework, role, std::mem::take(&mut task.resources))
        .map_err(TaskError::TaskResources)?;
    task.resources = resources.clone().into_protos();
    if resources.is_empty() {
        return Err(TaskError::NoResources);
    }
    validate_resource_limits(&task, &resources, limits_capable)?;
    let mut executor = None;
    let mut executor_id = None;
    let mut executor_resources = Resources::default();
    if let Some(mut info) = task.executor.take() {
        let id =
            ExecutorId::new(info.executor_id.value.as_str()).map_err(invalid_id("Executor"))?;
        match &info.framework_id {
            Some(id) if id.value != framework.id => {
                return Err(TaskError::ExecutorFramework {
                    actual: id.value.clone(),
                    expected: framework.id.to_string(),
                });
            }
            Some(_) => {}
            None => info.framework_id = Some(framework.id.to_proto()),
        }
        if info.r#type == Some(v1::executor_info::Type::Default as i32) {
            return Err(TaskError::DefaultExecutorForTask);
        }
        if info.r#type == Some(v1::executor_info::Type::Custom as i32) && info.command.is_none() {
            return Err(TaskError::CustomExecutorWithoutCommand);
        }
        let resources = incoming_resources(framework, role, std::mem::take(&mut info.resources))
            .map_err(TaskError::ExecutorResources)?;
        info.resources = resources.clone().into_protos();
        match running_executor {
            Some(running) => {
                if !executors_compatible(running, &info) {
                    return Err(TaskError::IncompatibleExecutor(
                        info.executor_id.value.clone(),
                    ));
                }
            }
            None => executor_resources = resources,
        }
        task.executor = Some(info.clone());
        executor = Some(info);
        executor_id = Some(id);
    }
    Ok(ValidTask {
        task_id,
        task,
        resources,
        executor,
        executor_id,
        executor_resources,
    })
}

/// Two ExecutorInfos for the same executor id must describe the same executor; the master
/// fills in `framework_id`, so that field is compared after normalisation.
fn executors_compatible(running: &v1::ExecutorInfo, new: &v1::ExecutorInfo) -> bool {
    let mut a = running.clone();
    let mut b = new.clone();
    a.framework_id = None;
    b.framework_id = None;
    let ra = Resources::from_protos(std::mem::take(&mut a.resources)).ok();
    let rb = Resources::from_protos(std::mem::take(&mut b.resources)).ok();
    a == b && ra == rb
}

/// Mesos's `validation::task::group::validate` on the executor of a LAUNCH_GROUP.
pub fn validate_group_executor(
    framework: &Framework,
    executor: &v1::ExecutorInfo,
) -> Result<ExecutorId, TaskError> {
    let id =
        ExecutorId::new(executor.executor_id.value.as_str()).map_err(invalid_id("Executor"))?;
    if executor.r#type != Some(v1::executor_info::Type::Default as i32) {
        return Err(TaskError::GroupExecutorNotDefault);
    }
    if let Some(framework_id) = &executor.framework_id
        && framework_id.value != framework.id
    {
        return Err(TaskError::ExecutorFramework {
            actual: framework_id.value.clone(),
            expected: framework.id.to_string(),
        });
    }
    Ok(id)
}

/// The ids of a reregistration, typed by [`validate_reregistration`]: each list runs
/// parallel to the message's own (`frameworks`, `executors`, `tasks`), so the master takes
/// an id into its state only from here.
#[derive(Debug)]
pub struct ReregistrationIds {
    pub agent: Option<AgentId>,
    /// `FrameworkInfo.id` of each framework (`None` when unset).
    pub frameworks: Vec<Option<FrameworkId>>,
    /// Each executor's id and its framework's (`None` when unset).
    pub executors: Vec<(ExecutorId, Option<FrameworkId>)>,
    /// Each task's framework and id.
    pub tasks: Vec<(FrameworkId, TaskId)>,
}

/// Mesos's `master::validation::master::message::reregisterSlave` (src/master/validation.cpp),
/// for its ids: the agent's, every framework's, executor's and task's, checked by
/// `common::validation::validateID` before the master takes any of them into its state (an
/// agent's session is not authenticated yet: whatever can reach the master can send this).
pub fn validate_reregistration(
    reregister: &wire::Reregister,
) -> Result<ReregistrationIds, ReregistrationError> {
    use ReregistrationError as E;
    fn framework_id(id: Option<&v1::FrameworkId>) -> Result<Option<FrameworkId>, IdError> {
        id.map(|id| FrameworkId::new(id.value.as_str())).transpose()
    }
    let agent = reregister
        .agent_info
        .id
        .as_ref()
        .map(|id| AgentId::new(id.value.as_str()))
        .transpose()
        .map_err(E::Agent)?;
    let frameworks = reregister
        .frameworks
        .iter()
        .map(|f| framework_id(f.id.as_ref()).map_err(E::Framework))
        .collect::<Result<_, _>>()?;
    let executors = reregister
        .executors
        .iter()
        .map(|executor| {
            let id = ExecutorId::new(executor.executor_id.value.as_str()).map_err(E::Executor)?;
            let framework =
                framework_id(executor.framework_id.as_ref()).map_err(E::ExecutorFramework)?;
            Ok((id, framework))
        })
        .collect::<Result<_, _>>()?;
    let tasks = reregister
        .tasks
        .iter()
        .map(|task| {
            let id = TaskId::new(task.task_id.value.as_str()).map_err(E::Task)?;
            let framework =
                FrameworkId::new(task.framework_id.value.as_str()).map_err(E::TaskFramework)?;
            if let Some(id) = &task.executor_id {
                validate_id(&id.value).map_err(E::TaskExecutor)?;
            }
            Ok((framework, id))
        })
        .collect::<Result<_, _>>()?;
    Ok(ReregistrationIds {
        agent,
        frameworks,
        executors,
        tasks,
    })
}
