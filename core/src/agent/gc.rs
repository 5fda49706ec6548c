//! Removal of what is done: terminated executors whose updates are all acknowledged move
//! to the completed history, frameworks left without executors follow, and an agent the
//! master shut down terminates once nothing runs.
//!
//! Mirrors src/slave/slave.cpp `Slave::removeExecutor`, `Slave::removeFramework` and the
//! end of `Slave::shutdown` (the sandboxes' garbage collection, `Slave::garbageCollect`,
//! is not done: sandboxes stay until the work_dir is cleaned).

use super::{
    Agent, Effect, ExecutorState, MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK, MAX_COMPLETED_FRAMEWORKS,
};

impl Agent {
    /// Drops terminated executors whose updates are all delivered, and frameworks left empty.
    /// A terminating framework's terminated executors go at once: nobody will acknowledge
    /// their updates (Mesos's `removeExecutor` from `Slave::shutdownFramework`).
    pub(super) fn gc_framework(&mut self, framework_id: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let terminating = framework.terminating;
        let done: Vec<String> = framework
            .executors
            .iter()
            .filter(|(_, e)| e.state == ExecutorState::Terminated)
            .filter(|(_, e)| {
                terminating
                    || !e
                        .completed
                        .iter()
                        .any(|t| self.updates.has_pending(framework_id, &t.task_id.value))
            })
            .map(|(id, _)| id.clone())
            .collect();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        for id in done {
            if let Some(executor) = framework.executors.remove(&id) {
                if framework.completed_executors.len() >= MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK {
                    framework.completed_executors.pop_front();
                }
                framework.completed_executors.push_back(executor);
            }
        }
        if framework.executors.is_empty()
            && let Some(framework) = self.frameworks.remove(framework_id)
        {
            if framework.terminating {
                self.updates.cleanup(framework_id);
            }
            if self.completed_frameworks.len() >= MAX_COMPLETED_FRAMEWORKS {
                self.completed_frameworks.pop_front();
            }
            self.completed_frameworks.push_back(framework);
        }
        // The last executor gone from a terminating agent: it can exit now.
        self.terminate_when_idle();
    }

    /// Emits [`Effect::Terminate`] once a terminating agent runs no executor.
    pub(super) fn terminate_when_idle(&mut self) {
        if self.terminating
            && !self.terminate_emitted
            && self.frameworks.values().all(|f| f.executors.is_empty())
        {
            self.terminate_emitted = true;
            self.emit(Effect::Terminate);
        }
    }
}
