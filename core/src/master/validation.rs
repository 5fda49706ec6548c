//! Validation of what frameworks send (Mesos's `master/validation.cpp`): TaskInfo,
//! ExecutorInfo, task groups and the resources they use. Errors are the messages frameworks
//! see in TASK_ERROR updates.

use remesos_proto::internal as wire;
use remesos_proto::v1;

use super::framework::Framework;
use super::scheduler::validate_id;
use crate::resources::{ResourceFormat, Resources, convert_resource_format};

/// Converts resources as a framework sent them into the master's canonical form:
/// post-refinement reservations, and `allocation_info` set for frameworks that are not
/// MULTI_ROLE (Mesos injects it from the offer's role).
pub fn incoming_resources(
    framework: &Framework,
    role: &str,
    mut resources: Vec<v1::Resource>,
) -> Result<Resources, String> {
    if !framework.reservation_refinement() {
        for r in &mut resources {
            convert_resource_format(r, ResourceFormat::PostReservationRefinement)
                .map_err(|e| e.to_string())?;
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
        return Err(
            "Resources must have 'allocation_info' set for MULTI_ROLE frameworks".to_string(),
        );
    }
    Resources::from_protos(resources).map_err(|e| e.to_string())
}

/// The outcome of validating one task of a LAUNCH.
pub struct ValidTask {
    pub task: v1::TaskInfo,
    /// The task's resources in canonical form.
    pub resources: Resources,
    /// The task's custom executor, with `framework_id` filled in.
    pub executor: Option<v1::ExecutorInfo>,
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
) -> Result<(), String> {
    let limits = &task.limits;
    if limits.is_empty() {
        return Ok(());
    }
    if !agent_capable {
        return Err("Agent is not capable of handling task resource limits".to_string());
    }
    if limits.keys().any(|name| name != "cpus" && name != "mem") {
        return Err("Only cpus and mem may be included in a task's resource limits".to_string());
    }
    let has = |name: &str| resources.iter().any(|r| r.name == name);
    if let Some(limit) = limits.get("cpus") {
        if !has("cpus") {
            return Err(
                "When a CPU limit is specified, a CPU request must also be specified".to_string(),
            );
        }
        if limit.value.is_nan() || limit.value < resources.cpus() {
            return Err(
                "The cpu limit must be greater than or equal to the cpu request".to_string(),
            );
        }
    }
    if let Some(limit) = limits.get("mem") {
        if !has("mem") {
            return Err(
                "When a memory limit is specified, a memory request must also be specified"
                    .to_string(),
            );
        }
        if limit.value.is_nan() || (!limit.value.is_infinite() && limit.value < resources.mem()) {
            return Err(
                "The memory limit must be greater than or equal to the memory request".to_string(),
            );
        }
    }
    Ok(())
}

/// Mesos 1.11's check on a task of a task group: limits only with `share_cgroups: false`.
pub fn validate_group_task_limits(task: &v1::TaskInfo) -> Result<(), String> {
    let own_cgroups = task
        .container
        .as_ref()
        .and_then(|c| c.linux_info.as_ref())
        .is_some_and(|l| l.share_cgroups == Some(false));
    if !task.limits.is_empty() && !own_cgroups {
        return Err(
            "Resource limits may only be set for tasks within a task group when the \
                    'share_cgroups' field is set to 'false'."
                .to_string(),
        );
    }
    Ok(())
}

/// Whether an agent advertises the TASK_RESOURCE_LIMITS capability.
pub fn handles_task_limits(capabilities: &[v1::agent_info::Capability]) -> bool {
    capabilities
        .iter()
        .any(|c| c.r#type == Some(v1::agent_info::capability::Type::TaskResourceLimits as i32))
}

/// Mesos's `validation::task::validate` for one TaskInfo of a LAUNCH on `agent_id`
/// (`limits_capable`: whether that agent handles task resource limits).
pub fn validate_task(
    framework: &Framework,
    role: &str,
    agent_id: &str,
    limits_capable: bool,
    running_executor: Option<&v1::ExecutorInfo>,
    launched_ids: &std::collections::HashSet<String>,
    mut task: v1::TaskInfo,
) -> Result<ValidTask, String> {
    validate_id("Task", &task.task_id.value).map_err(|e| e.to_string())?;
    if framework.tasks.contains_key(&task.task_id.value)
        || launched_ids.contains(&task.task_id.value)
    {
        return Err(format!("Task has duplicate ID: {}", task.task_id.value));
    }
    if task.agent_id.value != agent_id {
        return Err(format!(
            "Task uses invalid agent: {} while agent {} is expected",
            task.agent_id.value, agent_id
        ));
    }
    // Mesos's validateKillPolicy and validateMaxCompletionTime: negative DurationInfos
    // would otherwise reach the agent's and the executor's deadlines.
    if task
        .kill_policy
        .as_ref()
        .and_then(|k| k.grace_period.as_ref())
        .is_some_and(|d| d.nanoseconds < 0)
    {
        return Err("Task's 'kill_policy.grace_period' must be non-negative".to_string());
    }
    if task
        .max_completion_time
        .as_ref()
        .is_some_and(|d| d.nanoseconds < 0)
    {
        return Err("Task's `max_completion_time` must be non-negative".to_string());
    }
    if task.executor.is_some() == task.command.is_some() {
        return Err(
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
                .to_string(),
        );
    }
    let resources = incoming_resources(framework, role, std::mem::take(&mut task.resources))
        .map_err(|e| format!("Task uses invalid resources: {e}"))?;
    task.resources = resources.clone().into_protos();
    if resources.is_empty() {
        return Err("Task uses no resources".to_string());
    }
    validate_resource_limits(&task, &resources, limits_capable)?;
    let mut executor = None;
    let mut executor_resources = Resources::default();
    if let Some(mut info) = task.executor.take() {
        validate_id("Executor", &info.executor_id.value).map_err(|e| e.to_string())?;
        match &info.framework_id {
            Some(id) if id.value != framework.id => {
                return Err(format!(
                    "ExecutorInfo has an invalid FrameworkID (Actual: {} vs Expected: {})",
                    id.value, framework.id
                ));
            }
            Some(_) => {}
            None => {
                info.framework_id = Some(v1::FrameworkId {
                    value: framework.id.clone(),
                })
            }
        }
        if info.r#type == Some(v1::executor_info::Type::Default as i32) {
            return Err(
                "'ExecutorInfo.type' must not be 'DEFAULT' for a task; use LAUNCH_GROUP"
                    .to_string(),
            );
        }
        if info.r#type == Some(v1::executor_info::Type::Custom as i32) && info.command.is_none() {
            return Err("'ExecutorInfo.command' must be set for 'CUSTOM' executors".to_string());
        }
        let resources = incoming_resources(framework, role, std::mem::take(&mut info.resources))
            .map_err(|e| format!("Executor uses invalid resources: {e}"))?;
        info.resources = resources.clone().into_protos();
        match running_executor {
            Some(running) => {
                if !executors_compatible(running, &info) {
                    return Err(format!(
                        "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID: {}",
                        info.executor_id.value
                    ));
                }
            }
            None => executor_resources = resources,
        }
        task.executor = Some(info.clone());
        executor = Some(info);
    }
    Ok(ValidTask {
        task,
        resources,
        executor,
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
) -> Result<(), String> {
    validate_id("Executor", &executor.executor_id.value).map_err(|e| e.to_string())?;
    if executor.r#type != Some(v1::executor_info::Type::Default as i32) {
        return Err("'ExecutorInfo.type' must be 'DEFAULT'".to_string());
    }
    if let Some(id) = &executor.framework_id
        && id.value != framework.id
    {
        return Err(format!(
            "ExecutorInfo has an invalid FrameworkID (Actual: {} vs Expected: {})",
            id.value, framework.id
        ));
    }
    Ok(())
}

/// Mesos's `master::validation::master::message::reregisterSlave` (src/master/validation.cpp),
/// for its ids: the agent's, every framework's, executor's and task's, checked by
/// `common::validation::validateID` before the master takes any of them into its state (an
/// agent's session is not authenticated yet: whatever can reach the master can send this).
pub fn validate_reregistration(reregister: &wire::Reregister) -> Result<(), String> {
    use crate::common::id::validate_id;
    if let Some(id) = &reregister.agent_info.id {
        validate_id(&id.value).map_err(|e| e.to_string())?;
    }
    for framework in &reregister.frameworks {
        if let Some(id) = &framework.id {
            validate_id(&id.value)
                .map_err(|e| format!("Framework has an invalid FrameworkID: {e}"))?;
        }
    }
    for executor in &reregister.executors {
        validate_id(&executor.executor_id.value).map_err(|e| e.to_string())?;
        if let Some(id) = &executor.framework_id {
            validate_id(&id.value)
                .map_err(|e| format!("Executor has an invalid FrameworkID: {e}"))?;
        }
    }
    for task in &reregister.tasks {
        validate_id(&task.task_id.value).map_err(|e| format!("Task has an invalid TaskID: {e}"))?;
        validate_id(&task.framework_id.value)
            .map_err(|e| format!("Task has an invalid FrameworkID: {e}"))?;
        if let Some(id) = &task.executor_id {
            validate_id(&id.value).map_err(|e| format!("Task has an invalid ExecutorID: {e}"))?;
        }
    }
    Ok(())
}
