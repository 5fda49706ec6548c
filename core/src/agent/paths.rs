//! Mesos's work_dir layout (reference/mesos-contract.md §4.2, `src/slave/paths.hpp`).
//!
//! Every component below `work_dir` is a validated id ([`crate::common::id`]): these
//! functions take nothing else, so no path here can be built from a string that came off
//! the network unchecked.

use std::path::{Path, PathBuf};

use crate::common::id::{AgentId, ContainerId, ExecutorId, FrameworkId, TaskId};

pub fn slave_dir(work_dir: &Path, agent_id: &AgentId) -> PathBuf {
    work_dir.join("slaves").join(agent_id)
}

pub fn executor_dir(
    work_dir: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
) -> PathBuf {
    slave_dir(work_dir, agent_id)
        .join("frameworks")
        .join(framework_id)
        .join("executors")
        .join(executor_id)
}

/// The sandbox of one executor run.
pub fn sandbox(
    work_dir: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
) -> PathBuf {
    executor_dir(work_dir, agent_id, framework_id, executor_id)
        .join("runs")
        .join(container_id)
}

pub fn meta_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("meta")
}

pub fn meta_slave_dir(work_dir: &Path, agent_id: &AgentId) -> PathBuf {
    meta_dir(work_dir).join("slaves").join(agent_id)
}

pub fn meta_framework_dir(
    work_dir: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
) -> PathBuf {
    meta_slave_dir(work_dir, agent_id)
        .join("frameworks")
        .join(framework_id)
}

pub fn meta_executor_dir(
    work_dir: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
) -> PathBuf {
    meta_framework_dir(work_dir, agent_id, framework_id)
        .join("executors")
        .join(executor_id)
}

pub fn meta_run_dir(
    work_dir: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
) -> PathBuf {
    meta_executor_dir(work_dir, agent_id, framework_id, executor_id)
        .join("runs")
        .join(container_id)
}

pub fn meta_task_dir(
    work_dir: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
    task_id: &TaskId,
) -> PathBuf {
    meta_run_dir(work_dir, agent_id, framework_id, executor_id, container_id)
        .join("tasks")
        .join(task_id)
}

/// The virtual `/files` path Mesos attaches for an executor's latest run.
pub fn virtual_latest(framework_id: &FrameworkId, executor_id: &ExecutorId) -> String {
    format!("/frameworks/{framework_id}/executors/{executor_id}/runs/latest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_mesos() {
        let s = sandbox(
            Path::new("/w"),
            &AgentId::new("S1").unwrap(),
            &FrameworkId::new("F1").unwrap(),
            &ExecutorId::new("E1").unwrap(),
            &ContainerId::new("C1").unwrap(),
        );
        assert_eq!(
            s,
            Path::new("/w/slaves/S1/frameworks/F1/executors/E1/runs/C1")
        );
    }
}
