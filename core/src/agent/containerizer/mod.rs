//! The containerizer seam: how the agent's runtime launches, watches, signals, resizes and
//! recovers executors' containers, whatever runs them.
//!
//! Mirrors Mesos's `Containerizer` (src/slave/containerizer/containerizer.hpp): `launch`,
//! `wait` (here: [`ContainerEvent::Exited`], reported once per container), `destroy`,
//! `kill` ([`Containerizer::signal`]), `update`, `recover`, and the isolators' limitations
//! (`MesosContainerizerProcess::limited`). The agent's state machine decides (`Effect::
//! Launch`, `Signal`, `Resize`, `Destroy` in `executors.rs`); `runtime.rs` hands those
//! effects to a containerizer and feeds what it reports back to the agent as commands.
//!
//! Today one implementation, [`posix::Posix`]: Mesos's `mesos` containerizer without an
//! image — detached process groups (`launcher.rs`), cgroups and pid namespaces
//! (`isolator.rs`), the fetcher in the sandbox. The containers issue adds `mesos` with
//! images and `docker`, chosen per executor as Mesos's `ComposingContainerizer` does: the
//! runtime keeps one containerizer per `--containerizers` entry, gives each launch to the
//! first whose [`Containerizer::supports`] accepts it, and sends every later call for that
//! container id to the same one.

pub mod linux;
pub mod posix;
pub mod provisioner;

use std::sync::Arc;

use remesos_proto::v1;

use super::Launch;
use super::isolator::Limits;

/// What happens to a container, reported by its containerizer from any task or thread.
#[derive(Clone, Debug, PartialEq)]
pub enum ContainerEvent {
    /// The executor's process runs (its pid is checkpointed by now).
    Started {
        framework_id: String,
        executor_id: String,
        container_id: String,
        pid: u32,
    },
    /// The executor ended with `status` (a raw wait status; `None` when unknown, e.g. a
    /// recovered executor that is not the agent's child), or its container could not be
    /// launched (`error`: the text its tasks fail with).
    Exited {
        framework_id: String,
        executor_id: String,
        container_id: String,
        status: Option<i32>,
        error: Option<String>,
    },
}

/// Where a containerizer reports [`ContainerEvent`]s (the runtime turns them into commands
/// to the agent's actor).
pub type Reporter = Arc<dyn Fn(ContainerEvent) + Send + Sync>;

/// An executor that ran before the agent restarted (Mesos's `ExecutorRunState`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub framework_id: String,
    pub executor_id: String,
    pub container_id: String,
    /// The checkpointed pid of the executor, if it was written.
    pub pid: Option<u32>,
}

/// A limit a container reached: its executor is destroyed and its unfinished tasks end
/// `TASK_FAILED` with `reason` and `message` (Mesos's `ContainerLimitation`).
#[derive(Clone, Debug, PartialEq)]
pub struct Limitation {
    pub container_id: String,
    pub reason: v1::task_status::Reason,
    pub message: String,
}

/// Runs executors' containers for the agent. Called only from the agent's runtime actor,
/// in the order the agent's effects come; nothing here blocks for long (slow work —
/// fetching, waiting for a process — goes to tasks that report through the [`Reporter`]).
pub trait Containerizer: Send {
    /// Whether this containerizer can run `launch`'s container (the per-executor choice;
    /// see the module doc).
    fn supports(&self, launch: &Launch) -> bool {
        let _ = launch;
        true
    }

    /// Prepares the sandbox and starts the executor in a new container. Reports
    /// [`ContainerEvent::Started`] once it runs, then exactly one
    /// [`ContainerEvent::Exited`] (at once, with `error`, when it cannot start). The sandbox
    /// exists when this returns.
    fn launch(&mut self, launch: Launch);

    /// Takes up the containers of executors that ran before an agent restart: each still
    /// alive is watched from now on (one [`ContainerEvent::Exited`] when it ends); each
    /// already gone is reported exited at once.
    fn recover(&mut self, recovered: Vec<Recovered>);

    /// The agent learned the executor's pid ([`ContainerEvent::Started`] reached it).
    fn started(&mut self, container_id: &str, pid: u32);

    /// The agent learned the executor exited: the container's resources are released.
    /// Returns the limitation that ended it, if any (an executor the kernel OOM-killed
    /// shows only here), for the agent to apply before it handles the exit.
    fn exited(&mut self, container_id: &str) -> Option<Limitation>;

    /// SIGTERM (or SIGKILL when `kill`) to the executor and what it started (Mesos's
    /// `kill(containerId, signal)`).
    fn signal(&mut self, container_id: &str, kill: bool);

    /// Kills every process of the container now (a limitation, an agent shutdown).
    fn destroy(&mut self, container_id: &str);

    /// The container's limits changed (a task joined its executor).
    fn update(&mut self, container_id: &str, limits: Limits);

    /// Containers over a limit now: `container_id`'s only, or every running one's.
    fn limitations(&mut self, container_id: Option<&str>) -> Vec<Limitation>;
}
