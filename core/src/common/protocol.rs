//! Predicates over Mesos's protocol types that master, agent, executors and drivers all
//! ask: is a task state terminal, does a framework declare a capability. Mesos keeps the
//! same pair in `src/common/protobuf_utils.cpp` (`isTerminalState`,
//! `frameworkHasCapability`), below both the master and the agent. Also the one constructor
//! of a v1 scheduler call that clients and tests all build alike ([`launch_call`]).

use remesos_proto::v1;

/// Whether `state` ends a task (reference/mesos-contract.md §8.1; Mesos's
/// `protobuf::isTerminalState`): no update follows a terminal one.
pub fn is_terminal(state: v1::TaskState) -> bool {
    use v1::TaskState as S;
    matches!(
        state,
        S::TaskFinished
            | S::TaskFailed
            | S::TaskKilled
            | S::TaskLost
            | S::TaskError
            | S::TaskDropped
            | S::TaskGone
            | S::TaskGoneByOperator
    )
}

/// Whether `info` declares `capability` (Mesos's `protobuf::frameworkHasCapability`).
/// Whether an operation in `state` gets no further status (Mesos's
/// `protobuf::isTerminalState` for operations): the master and the agent both ask.
pub fn is_terminal_operation(state: i32) -> bool {
    use v1::OperationState as S;
    matches!(
        S::try_from(state),
        Ok(S::OperationFinished
            | S::OperationFailed
            | S::OperationError
            | S::OperationDropped
            | S::OperationGoneByOperator)
    )
}

/// Whether an agent announced `capability` (its `AgentInfo.capabilities`).
pub fn agent_has_capability(
    capabilities: &[v1::agent_info::Capability],
    capability: v1::agent_info::capability::Type,
) -> bool {
    capabilities
        .iter()
        .any(|c| c.r#type == Some(capability as i32))
}

pub fn framework_has_capability(
    info: &v1::FrameworkInfo,
    capability: v1::framework_info::capability::Type,
) -> bool {
    info.capabilities
        .iter()
        .any(|c| c.r#type == Some(capability as i32))
}

/// ACCEPT of one offer with a single LAUNCH of `tasks` (Mesos's `launchTasks`), with
/// `filters` for what the offer leaves unused (`None`: the master's default 5 s refusal).
pub fn launch_call(
    offer: &v1::Offer,
    tasks: Vec<v1::TaskInfo>,
    filters: Option<v1::Filters>,
) -> v1::scheduler::Call {
    v1::scheduler::Call {
        r#type: Some(v1::scheduler::call::Type::Accept as i32),
        accept: Some(v1::scheduler::call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![v1::offer::Operation {
                r#type: Some(v1::offer::operation::Type::Launch as i32),
                launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            }],
            filters,
        }),
        ..Default::default()
    }
}

/// An ACCEPT of `offer` with one LAUNCH_GROUP of `tasks` under `executor`.
pub fn launch_group_call(
    offer: &v1::Offer,
    executor: v1::ExecutorInfo,
    tasks: Vec<v1::TaskInfo>,
    filters: Option<v1::Filters>,
) -> v1::scheduler::Call {
    let mut call = launch_call(offer, Vec::new(), filters);
    if let Some(accept) = call.accept.as_mut() {
        accept.operations = vec![v1::offer::Operation {
            r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
            launch_group: Some(v1::offer::operation::LaunchGroup {
                executor,
                task_group: v1::TaskGroupInfo { tasks },
            }),
            ..Default::default()
        }];
    }
    call
}

#[cfg(test)]
mod tests {
    use super::*;
    use v1::TaskState as S;
    use v1::framework_info::capability::Type as Cap;

    #[test]
    fn only_the_eight_final_states_are_terminal() {
        let terminal = [
            S::TaskFinished,
            S::TaskFailed,
            S::TaskKilled,
            S::TaskLost,
            S::TaskError,
            S::TaskDropped,
            S::TaskGone,
            S::TaskGoneByOperator,
        ];
        for s in terminal {
            assert!(is_terminal(s), "{s:?}");
        }
        for s in [
            S::TaskStaging,
            S::TaskStarting,
            S::TaskRunning,
            S::TaskKilling,
            S::TaskUnreachable,
            S::TaskUnknown,
        ] {
            assert!(!is_terminal(s), "{s:?}");
        }
    }

    #[test]
    fn a_capability_counts_only_when_declared() {
        let info = v1::FrameworkInfo {
            capabilities: vec![v1::framework_info::Capability {
                r#type: Some(Cap::MultiRole as i32),
            }],
            ..Default::default()
        };
        assert!(framework_has_capability(&info, Cap::MultiRole));
        assert!(!framework_has_capability(&info, Cap::PartitionAware));
    }
}
