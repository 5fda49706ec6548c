//! Mesos's work_dir layout (reference/mesos-contract.md §4.2, `src/slave/paths.hpp`).

use std::path::{Path, PathBuf};

pub fn slave_dir(work_dir: &Path, agent_id: &str) -> PathBuf {
    work_dir.join("slaves").join(agent_id)
}

pub fn executor_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
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
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> PathBuf {
    executor_dir(work_dir, agent_id, framework_id, executor_id)
        .join("runs")
        .join(container_id)
}

pub fn meta_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("meta")
}

pub fn meta_slave_dir(work_dir: &Path, agent_id: &str) -> PathBuf {
    meta_dir(work_dir).join("slaves").join(agent_id)
}

pub fn meta_framework_dir(work_dir: &Path, agent_id: &str, framework_id: &str) -> PathBuf {
    meta_slave_dir(work_dir, agent_id)
        .join("frameworks")
        .join(framework_id)
}

pub fn meta_executor_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
) -> PathBuf {
    meta_framework_dir(work_dir, agent_id, framework_id)
        .join("executors")
        .join(executor_id)
}

pub fn meta_run_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> PathBuf {
    meta_executor_dir(work_dir, agent_id, framework_id, executor_id)
        .join("runs")
        .join(container_id)
}

pub fn meta_task_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
    task_id: &str,
) -> PathBuf {
    meta_run_dir(work_dir, agent_id, framework_id, executor_id, container_id)
        .join("tasks")
        .join(task_id)
}

/// The virtual `/files` path Mesos attaches for an executor's latest run.
pub fn virtual_latest(framework_id: &str, executor_id: &str) -> String {
    format!("/frameworks/{framework_id}/executors/{executor_id}/runs/latest")
}
