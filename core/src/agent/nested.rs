//! Nested and standalone containers on the agent, with their I/O switchboard: what the
//! operator API's LAUNCH_NESTED_CONTAINER(_SESSION), WAIT/KILL/REMOVE_NESTED_CONTAINER, the
//! newer LAUNCH/WAIT/KILL/REMOVE_CONTAINER and ATTACH_CONTAINER_INPUT/OUTPUT act on
//! (agent/http.rs decodes and authorizes them; this module runs the processes).
//!
//! Mesos: `Http::launchNestedContainer` ... `Http::attachContainerInput` in
//! src/slave/http.cpp, the nested-container paths of src/slave/containerizer/mesos/
//! containerizer.cpp, and the I/O switchboard, src/slave/containerizer/mesos/io/
//! switchboard.cpp. Data flow:
//!
//! ```text
//!  LAUNCH_*  ─> Containers::launch: fork; in the child: setsid, join the parent's cgroups,
//!               setns(mnt) into the parent's task (an image task's rootfs), chdir, the
//!               user's credentials, the pty as controlling terminal; exec
//!  process stdout/stderr (pipes, or the pty master) ─> relay task ─> sandbox files
//!               (LAUNCH_NESTED_CONTAINER) + every attached output (bounded channels)
//!  ATTACH_CONTAINER_INPUT records ─> stdin writer task ─> the process's stdin / the pty
//!  child exit ─> Termination (raw wait status), which WAIT_* long-polls for
//! ```
//!
//! Two shapes of container:
//! - **Durable** (LAUNCH_CONTAINER with a parent and no TTY — what the default executor
//!   launches for each task of a group, default_executor.cpp): no switchboard. Its stdout
//!   and stderr go straight to its sandbox's files, stdin is `/dev/null`, and between fork
//!   and exec a reaper forks off (Mesos's `mesos-containerizer launch` with a runtime
//!   directory, src/slave/containerizer/mesos/launch.cpp): the reaper waits for the
//!   command and writes its raw wait status to the checkpoint. Checkpointed under
//!   `<work_dir>/meta/containers/<parent>/containers/<child>/{pid,status}` (Mesos's
//!   runtime directory layout), it outlives the agent: the restarted agent takes it up
//!   ([`recover`]), WAIT answers with the recorded status, KILL signals it.
//! - **Attachable** (LAUNCH_NESTED_CONTAINER, sessions, a TTY, standalone containers):
//!   the switchboard below runs inside the agent (Mesos forks `mesos-io-switchboard`), so
//!   the container does not outlive the agent: it gets SIGKILL when the agent's process
//!   ends (`PR_SET_PDEATHSIG`), a restart included.
//!
//! Either is killed when its parent's executor container ends (Mesos destroys nested
//! containers with their parent).
//!
//! Where this differs from Mesos, and why:
//! - Attachable containers die with the agent (above). Durable ones cannot be attached to
//!   (their output is in their sandbox's files): as in Mesos, where only a container with
//!   a TTY or a DEBUG one gets a switchboard (`IOSwitchboard::requiresServer`), ATTACH_*
//!   answer 500 "I/O switchboard server was disabled for this container". A task of a
//!   group with a TTY is attachable (it has one), and dies with the agent.
//! - Nesting under an executor's container, and one level further under a durable
//!   container (`task exec` into a task of a group); a standalone container
//!   (`<work_dir>/containers/<id>`) has no children. Deeper nesting is refused with 400.
//! - The process enters its parent's mount namespace (an image task's root filesystem) and
//!   cgroups, and with `namespaces/pid` its parent's pid namespace, as Mesos's isolator:
//!   a session (DEBUG) stays in it (its `ps` shows the task, the executor as pid 1); a
//!   LAUNCH_NESTED_CONTAINER gets a new one below it unless `linux_info.
//!   share_pid_namespace`. A durable container (a task of a group) enters its executor's
//!   and gets a new one below it, unless its `ContainerInfo` asks to share: its command is
//!   pid 1 there. A reaper outside the namespace is the container's pid for the agent,
//!   checkpointed for a durable one; the namespace is its one child's
//!   (`/proc/<child>/ns/pid`), which is how a restarted agent finds it again.
//! - `ContainerInfo` of a nested container may carry `tty_info`, or — a durable one, a task
//!   of a group, as Mesos 1.11's default executor launches them — its own image with its
//!   volumes ([`InImage`]: provisioned by the agent's provisioner, entered as a command
//!   task's image is); anything else is refused ("The provided ContainerInfo is not
//!   supported", Mesos's 400).

use std::collections::{BTreeMap, VecDeque};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use remesos_proto::v1;
use tokio::sync::{mpsc, watch};
use v1::agent::ProcessIo;
use v1::agent::process_io::{self, data::Type as DataType};

use super::launcher::{self, Credentials};

/// How many `ProcessIO` records an attached output (or a session) may have queued before
/// the relay waits for it; the process then blocks on its full pipe (backpressure, not
/// loss — Mesos's switchboard writes to its connections the same way).
pub const OUTPUT_BUFFER: usize = 64;
/// How many stdin records may wait for the process to read them.
const INPUT_BUFFER: usize = 16;
/// One read from the process's output: one DATA record at most this big.
const READ_CHUNK: usize = 16 * 1024;
/// Ended containers kept for WAIT after their processes are gone (until REMOVE); the
/// oldest ended one is forgotten beyond this, so the registry stays bounded.
const MAX_ENDED: usize = 1024;
/// Where the sandbox is mounted inside an image's root filesystem (containerizer/linux.rs).
const SANDBOX_IN_IMAGE: &str = "/mnt/mesos/sandbox";

/// Why a call on a nested or standalone container failed: Mesos's status and text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NestedError {
    /// 400 (Mesos's `BadRequest`: launch failures are taken as the user's input).
    #[error("{0}")]
    BadRequest(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409 (a second input connection).
    #[error("{0}")]
    Conflict(String),
    /// 500 (a failed future in Mesos).
    #[error("{0}")]
    Internal(String),
}

/// How a container ended, as Mesos's `ContainerTermination` (`status` is the raw wait
/// status, which `WEXITSTATUS`/`WTERMSIG` decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    pub status: i32,
    pub message: String,
}

impl Termination {
    /// The exit code a shell would report: the exit status, or 128 + the signal.
    pub fn exit_code(&self) -> i32 {
        let status = std::process::ExitStatus::from_raw(self.status);
        status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(1)
    }
}

/// The executor container a nested container goes under, read in the agent's actor.
#[derive(Debug, Clone)]
pub struct Parent {
    pub container_id: String,
    pub sandbox: PathBuf,
    pub pid: Option<u32>,
    pub executor: v1::ExecutorInfo,
    pub framework: v1::FrameworkInfo,
    /// The persistent volumes of the executor and its live tasks: what a `SANDBOX_PATH`
    /// volume of type `PARENT` names when its path is one's container path (Mesos's default
    /// executor gives each task of a group its volumes that way). A volume that cannot be
    /// placed is left out (its task failed at launch already).
    pub volumes: Vec<super::volumes::VolumeMount>,
}

impl Parent {
    /// The user the executor runs as (its command's, else the framework's): the user a
    /// nested container runs as when its command names none, and the ACLs' object.
    pub fn user(&self) -> &str {
        crate::security::authorizer::executor_user(&self.executor, &self.framework)
    }
}

/// The live executor container `container_id` names, if any.
pub fn find_parent(a: &super::Agent, container_id: &str) -> Option<Parent> {
    a.frameworks.values().find_map(|f| {
        f.executors
            .values()
            .find(|e| is_live_executor(e, container_id))
            .map(|e| Parent {
                container_id: e.container_id.clone(),
                sandbox: e.sandbox.clone(),
                pid: e.pid,
                executor: e.info.clone(),
                framework: f.info.clone(),
                volumes: parent_volumes(&a.config.work_dir, e),
            })
    })
}

/// The persistent volumes among an executor's and its live tasks' resources.
fn parent_volumes(work_dir: &Path, e: &super::Executor) -> Vec<super::volumes::VolumeMount> {
    let resources: Vec<v1::Resource> = e
        .info
        .resources
        .iter()
        .chain(e.tasks.values().flat_map(|t| t.resources.iter()))
        .cloned()
        .collect();
    super::volumes::VolumeMount::of(work_dir, &resources).unwrap_or_default()
}

/// Whether `container_id` is the container of a live executor (what [`find_parent`]
/// finds, without copying it: the orphan check asks this every second per container).
fn parent_alive(a: &super::Agent, container_id: &str) -> bool {
    a.frameworks.values().any(|f| {
        f.executors
            .values()
            .any(|e| is_live_executor(e, container_id))
    })
}

fn is_live_executor(e: &super::Executor, container_id: &str) -> bool {
    e.container_id == container_id && e.state != super::ExecutorState::Terminated
}

/// `parent.child` (Mesos's `stringify(ContainerID)`), the registry's key.
pub fn key(id: &v1::ContainerId) -> String {
    match &id.parent {
        Some(parent) => format!("{}.{}", key(parent), id.value),
        None => id.value.clone(),
    }
}

/// Validates a container id and its parents by Mesos's rules; the error is Mesos's text
/// after `'<field>' is invalid: `.
pub fn validate_id(id: &v1::ContainerId) -> Result<(), String> {
    let mut parents = Vec::new();
    let mut p = id.parent.as_deref();
    while let Some(parent) = p {
        parents.push(parent.value.as_str());
        p = parent.parent.as_deref();
        if parents.len() > 32 {
            return Err("too deeply nested".into());
        }
    }
    crate::common::id::validate_container_id(&id.value, &parents).map_err(|e| e.to_string())
}

/// What a launch needs, decided by the HTTP layer (ids validated, ACLs passed).
pub struct Spec {
    pub id: v1::ContainerId,
    pub command: v1::CommandInfo,
    /// Whom to run as (resolved against the user database only when the agent is root).
    pub user: Option<String>,
    /// The parent executor container (None: standalone).
    pub parent: Option<Parent>,
    /// The agent's work_dir (standalone sandboxes live under it).
    pub work_dir: PathBuf,
    /// A session (Mesos's DEBUG class): it works in its parent's sandbox and writes no
    /// sandbox files.
    pub session: bool,
    pub tty: Option<v1::TtyInfo>,
    /// `ContainerInfo.linux_info.share_pid_namespace`: a (non-session) container in a
    /// parent's pid namespace stays in it instead of getting a new one below it.
    pub share_pid_namespace: bool,
    /// The parent's cgroups (open `cgroup.procs` files), empty without cgroups isolation.
    pub cgroups: Vec<std::fs::File>,
    /// A durable container (see the module doc): no switchboard, checkpointed here.
    pub durable: Option<PathBuf>,
    /// Its own image (a task of a group in an image): entered instead of the parent's mount
    /// namespace.
    pub image: Option<Arc<InImage>>,
}

/// A container in its own image, prepared before the fork: the child binds the sandbox
/// (and volumes) into the provisioned rootfs in a private mount namespace, then mounts
/// `/proc`, `/sys`, `/dev` and `pivot_root`s into it (common/rootfs.rs), as a command
/// task in an image does (containerizer/linux.rs). The rootfs is destroyed when the
/// container ends.
#[derive(Debug)]
pub struct InImage {
    pub plan: super::containerizer::linux::NestedImage,
    pub rootfs: crate::common::rootfs::Rootfs,
    /// `--sandbox_directory`: the sandbox's mount point, `MESOS_SANDBOX` inside.
    pub sandbox_directory: PathBuf,
    /// Who provisioned the rootfs, and under which name.
    pub provisioner: super::containerizer::provisioner::Provisioner,
    pub provisioned_as: String,
}

impl InImage {
    /// Unmounts and removes the provisioned rootfs (off the async threads).
    pub fn destroy(self: &Arc<Self>) {
        let image = self.clone();
        tokio::task::spawn_blocking(move || image.provisioner.destroy(&image.provisioned_as));
    }
}

/// A record to the process's stdin.
enum Input {
    Data(Bytes),
    /// An empty DATA record: close stdin (switchboard.cpp).
    Eof,
    WindowSize(u16, u16),
}

/// What the relay shares with attached connections; held only briefly (a short std
/// mutex, never across an `.await`).
#[derive(Default)]
struct Io {
    outputs: Vec<mpsc::Sender<ProcessIo>>,
    /// Output streams still open (stdout, stderr, or the pty): 0 ends every attached output.
    open_streams: usize,
    stdin: Option<mpsc::Sender<Input>>,
    input_attached: bool,
}

/// One nested or standalone container.
pub struct Container {
    pub id: v1::ContainerId,
    /// The user it runs as ("" for the agent's own) and its parent: the ACLs' object.
    pub user: String,
    pub parent: Option<Parent>,
    /// Its own sandbox (removed with it); `None` for a session, which uses its parent's.
    pub sandbox: Option<PathBuf>,
    pub pid: u32,
    pub tty: bool,
    /// Its checkpoint directory when it is durable (see the module doc).
    pub durable: Option<PathBuf>,
    /// Its own image, whose rootfs goes when it ends.
    image: Option<Arc<InImage>>,
    termination: watch::Receiver<Option<Termination>>,
    io: Mutex<Io>,
}

impl Container {
    pub fn termination(&self) -> Option<Termination> {
        self.termination.borrow().clone()
    }

    /// Waits until the container's process has ended.
    pub async fn wait(&self) -> Termination {
        let mut rx = self.termination.clone();
        loop {
            if let Some(t) = rx.borrow_and_update().clone() {
                return t;
            }
            if rx.changed().await.is_err() {
                return Termination {
                    status: libc::SIGKILL,
                    message: "the container's monitor ended".into(),
                };
            }
        }
    }

    /// Sends `signal` to the container's processes (its session's process group); false
    /// when it has already ended (Mesos's "cannot be found (or is already killed)").
    pub fn kill(&self, signal: i32) -> bool {
        if self.termination().is_some() {
            return false;
        }
        let (Some(pid), Some(sig)) = (
            i32::try_from(self.pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw),
            signal_from(signal),
        ) else {
            return false;
        };
        let _ = rustix::process::kill_process_group(pid, sig);
        true
    }

    /// Whether the process has closed all of its output (stdout and stderr, or its pty):
    /// it is ending, or runs on without output.
    pub fn output_ended(&self) -> bool {
        lock(&self.io).open_streams == 0
    }

    /// A new attached output: every `ProcessIO` record from now on, until the process's
    /// output ends. `None` once it has ended.
    pub fn attach_output(&self) -> Option<mpsc::Receiver<ProcessIo>> {
        let mut io = lock(&self.io);
        if io.open_streams == 0 {
            return None;
        }
        let (tx, rx) = mpsc::channel(OUTPUT_BUFFER);
        io.outputs.push(tx);
        Some(rx)
    }

    /// Takes the container's input: one connection at a time (switchboard.cpp answers a
    /// second one with 409 Conflict). The guard gives it back when dropped.
    pub fn attach_input(self: &Arc<Self>) -> Result<InputGuard, NestedError> {
        let mut io = lock(&self.io);
        if io.input_attached {
            return Err(NestedError::Conflict(
                "Multiple input connections are not allowed".into(),
            ));
        }
        let Some(stdin) = io.stdin.clone() else {
            return Err(NestedError::BadRequest(format!(
                "Container {} has no input (it has ended, or its input was closed)",
                key(&self.id)
            )));
        };
        io.input_attached = true;
        Ok(InputGuard {
            container: self.clone(),
            stdin,
        })
    }
}

/// An attached input connection ([`Container::attach_input`]).
pub struct InputGuard {
    container: Arc<Container>,
    stdin: mpsc::Sender<Input>,
}

impl InputGuard {
    /// Applies one `ProcessIO` record from the connection: STDIN data (empty: end of
    /// input), a TTY window size, or a heartbeat. Errors are Mesos's 400 texts.
    pub async fn apply(&self, record: ProcessIo) -> Result<(), NestedError> {
        use process_io::control::Type as ControlType;
        use v1::agent::process_io::Type as IoType;
        match record.r#type.and_then(|t| IoType::try_from(t).ok()) {
            Some(IoType::Data) => {
                let Some(data) = record.data else {
                    return Err(bad("Expecting 'data' to be present"));
                };
                if data.r#type != Some(DataType::Stdin as i32) {
                    return Err(bad("Expecting 'data.type' to be 'STDIN'"));
                }
                let bytes = data.data.unwrap_or_default();
                let input = if bytes.is_empty() {
                    Input::Eof
                } else {
                    Input::Data(Bytes::from(bytes))
                };
                // The writer is gone once the process ended: the input goes nowhere.
                let _ = self.stdin.send(input).await;
                Ok(())
            }
            Some(IoType::Control) => {
                let Some(control) = record.control else {
                    return Err(bad("Expecting 'control' to be present"));
                };
                match control.r#type.and_then(|t| ControlType::try_from(t).ok()) {
                    Some(ControlType::TtyInfo) => {
                        let size = control.tty_info.and_then(|t| t.window_size);
                        let Some(size) = size else {
                            return Err(bad("Expecting 'tty_info.window_size' to be present"));
                        };
                        if !self.container.tty {
                            return Err(bad("The container has no TTY"));
                        }
                        let (rows, columns) = window(&size);
                        let _ = self.stdin.send(Input::WindowSize(rows, columns)).await;
                        Ok(())
                    }
                    Some(ControlType::Heartbeat) => Ok(()),
                    _ => Err(bad("Expecting 'control.type' to be present")),
                }
            }
            _ => Err(bad("Expecting 'type' to be present")),
        }
    }
}

impl Drop for InputGuard {
    fn drop(&mut self) {
        lock(&self.container.io).input_attached = false;
    }
}

fn bad(message: &str) -> NestedError {
    NestedError::BadRequest(message.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn signal_from(signal: i32) -> Option<rustix::process::Signal> {
    if !(1..=64).contains(&signal) {
        return None;
    }
    // SAFETY: a signal number in the kernel's range 1..=64; the kernel refuses any it
    // does not know with EINVAL.
    Some(unsafe { rustix::process::Signal::from_raw_unchecked(signal) })
}

/// `TTYInfo.WindowSize` as (rows, columns), clamped to the terminal's 16-bit fields.
fn window(size: &v1::tty_info::WindowSize) -> (u16, u16) {
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    (clamp(size.rows), clamp(size.columns))
}

/// The registry of nested and standalone containers, shared by the HTTP handlers.
#[derive(Default)]
pub struct Containers {
    inner: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    by_key: BTreeMap<String, Arc<Container>>,
    /// Keys of ended containers, oldest first (bounded by [`MAX_ENDED`]).
    ended: VecDeque<String>,
}

/// What [`Containers::launch`] did.
pub enum Launched {
    /// Started (Mesos's 200); a session's output comes with it, attached before the
    /// process could write anything.
    Started(Arc<Container>, Option<mpsc::Receiver<ProcessIo>>),
    /// A container of this id exists (Mesos's `ALREADY_LAUNCHED`: 202).
    Exists,
}

impl Containers {
    pub fn get(&self, id: &v1::ContainerId) -> Option<Arc<Container>> {
        lock(&self.inner).by_key.get(&key(id)).cloned()
    }

    /// The containers still running, nested and standalone (GET_CONTAINERS' `show_nested`
    /// and `show_standalone`).
    pub fn live(&self) -> Vec<Arc<Container>> {
        lock(&self.inner)
            .by_key
            .values()
            .filter(|c| c.termination().is_none())
            .cloned()
            .collect()
    }

    /// The nested containers under `parent_container_id` (for GET_CONTAINERS with
    /// `show_nested`).
    pub fn children_of(&self, parent_container_id: &str) -> Vec<Arc<Container>> {
        lock(&self.inner)
            .by_key
            .values()
            .filter(|c| c.id.parent.as_ref().map(|p| p.value.as_str()) == Some(parent_container_id))
            .cloned()
            .collect()
    }

    /// Starts a container (see the module doc). `agent` is asked every second whether
    /// the parent's executor container still lives; when it is gone the container is killed.
    pub fn launch(
        self: &Arc<Self>,
        spec: Spec,
        agent: super::runtime::AgentHandle,
    ) -> Result<Launched, NestedError> {
        let k = key(&spec.id);
        {
            let registry = lock(&self.inner);
            if registry.by_key.contains_key(&k) {
                return Ok(Launched::Exists);
            }
        }
        let mut started = start(&spec)?;
        let session_output = if spec.session {
            let (tx, rx) = mpsc::channel(OUTPUT_BUFFER);
            started.first_output = Some(tx);
            Some(rx)
        } else {
            None
        };
        let container = Arc::new(Container {
            id: spec.id.clone(),
            user: spec.user.clone().unwrap_or_default(),
            parent: spec.parent.clone(),
            sandbox: started.sandbox.clone(),
            pid: started.pid,
            tty: spec.tty.is_some(),
            durable: spec.durable.clone(),
            image: spec.image.clone(),
            termination: started.termination_rx,
            io: Mutex::new(Io {
                outputs: started.first_output.into_iter().collect(),
                open_streams: started.streams,
                stdin: Some(started.stdin),
                input_attached: false,
            }),
        });
        {
            let mut registry = lock(&self.inner);
            if registry.by_key.contains_key(&k) {
                // Raced with a launch of the same id: this one goes.
                container.kill(libc::SIGKILL);
                return Ok(Launched::Exists);
            }
            registry.by_key.insert(k.clone(), container.clone());
        }
        if let Some(dir) = &spec.durable {
            // Written once the process runs: the restarted agent finds it by this.
            let pid = format!("{}", started.pid);
            if let Err(e) =
                super::recovery::checkpoint(&dir.join("pid"), pid.as_bytes(), false, false)
            {
                tracing::warn!(container = %k, error = %e, "failed to checkpoint the nested container's pid");
            }
        }
        for (kind, reader) in started.readers {
            tokio::spawn(relay(container.clone(), kind, reader, started.logs.clone()));
        }
        tokio::spawn(monitor(
            self.clone(),
            container.clone(),
            started.child,
            started.termination_tx,
            agent,
        ));
        tracing::info!(container = %k, pid = started.pid, "launched a nested container");
        Ok(Launched::Started(container, session_output))
    }

    /// REMOVE_(NESTED_)CONTAINER: forgets an ended container and removes its sandbox.
    /// Unknown: nothing to do (Mesos's `remove` answers OK). Still running: an error.
    pub fn remove(&self, id: &v1::ContainerId) -> Result<(), NestedError> {
        let k = key(id);
        let container = {
            let mut registry = lock(&self.inner);
            let Some(container) = registry.by_key.get(&k).cloned() else {
                return Ok(());
            };
            if container.termination().is_none() {
                return Err(NestedError::Internal(format!(
                    "Nested container {k} has not terminated yet"
                )));
            }
            registry.by_key.remove(&k);
            registry.ended.retain(|e| e != &k);
            container
        };
        if let Some(dir) = &container.durable {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(sandbox) = &container.sandbox {
            remove_sandbox(container.parent.as_ref(), sandbox, &container.id)
                .map_err(|e| NestedError::Internal(format!("Failed to remove sandbox: {e}")))?;
        }
        Ok(())
    }

    /// Takes up the durable containers a previous run of the agent started: those whose
    /// parent executor was recovered (`parents`, in the order of `checkpointed`) come back,
    /// WAIT and KILL work on them; the others are killed and forgotten, as Mesos's
    /// containerizer destroys orphaned nested containers on recovery.
    pub fn recover(
        self: &Arc<Self>,
        checkpointed: Vec<(Checkpointed, Option<Parent>)>,
        agent: super::runtime::AgentHandle,
    ) {
        for (c, parent) in checkpointed {
            let Some(parent) = parent else {
                if let Some(pid) = c.pid.filter(|p| super::isolator::alive(*p)) {
                    tracing::info!(pid, container = %format!("{}.{}", c.parent, c.child), "killing a nested container whose parent is gone");
                    super::launcher::signal_group(pid, true);
                }
                let _ = std::fs::remove_dir_all(&c.dir);
                let containers = c.dir.parent().map(Path::to_path_buf);
                if let Some(parent_dir) = containers.as_deref().and_then(Path::parent) {
                    // Gone once its last child is: remove_dir refuses a non-empty one.
                    let _ = std::fs::remove_dir(parent_dir.join("containers"));
                    let _ = std::fs::remove_dir(parent_dir);
                }
                continue;
            };
            let id = v1::ContainerId {
                value: c.child.clone(),
                parent: Some(Box::new(v1::ContainerId {
                    value: c.parent.clone(),
                    parent: None,
                })),
            };
            let (termination_tx, termination_rx) = watch::channel(None);
            let container = Arc::new(Container {
                id,
                user: String::new(),
                sandbox: Some(parent.sandbox.join("containers").join(&c.child)),
                parent: Some(parent),
                pid: c.pid.unwrap_or(0),
                tty: false,
                durable: Some(c.dir),
                // After a restart its rootfs goes with its parent's (the provisioner's `destroy`).
                image: None,
                termination: termination_rx,
                io: Mutex::new(Io::default()),
            });
            let k = key(&container.id);
            tracing::info!(container = %k, pid = container.pid, "recovered a nested container");
            lock(&self.inner).by_key.insert(k, container.clone());
            tokio::spawn(monitor_recovered(
                self.clone(),
                container,
                termination_tx,
                agent.clone(),
            ));
        }
    }

    fn ended(&self, k: &str) {
        let mut registry = lock(&self.inner);
        registry.ended.push_back(k.to_string());
        while registry.ended.len() > MAX_ENDED {
            if let Some(old) = registry.ended.pop_front() {
                registry.by_key.remove(&old);
            }
        }
    }
}

/// `<work_dir>/meta/containers/<parent>/containers/<child>`: where a durable container is
/// checkpointed (both ids validated by the caller).
pub fn checkpoint_dir(work_dir: &Path, parent: &str, child: &str) -> PathBuf {
    work_dir
        .join("meta")
        .join("containers")
        .join(parent)
        .join("containers")
        .join(child)
}

/// A durable container an earlier run of the agent checkpointed.
#[derive(Debug)]
pub struct Checkpointed {
    pub parent: String,
    pub child: String,
    pub dir: PathBuf,
    /// Its reaper, if it was recorded and still is that process.
    pub pid: Option<u32>,
}

/// Reads the checkpointed durable containers (names that are not valid container ids are
/// left alone: nothing here builds a path from them).
pub fn read_checkpoints(work_dir: &Path) -> Vec<Checkpointed> {
    let root = work_dir.join("meta").join("containers");
    let names = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for parent in names(&root) {
        if crate::common::id::validate_container_id(&parent, &[]).is_err() {
            continue;
        }
        for child in names(&root.join(&parent).join("containers")) {
            if crate::common::id::validate_container_id(&child, &[&parent]).is_err() {
                continue;
            }
            let dir = checkpoint_dir(work_dir, &parent, &child);
            let pid = super::recovery::recorded_pid(&dir.join("pid"));
            out.push(Checkpointed {
                parent: parent.clone(),
                child,
                dir,
                pid,
            });
        }
    }
    out
}

/// Removes `containers/<id>` below the parent's sandbox (or the standalone sandbox),
/// never following a symlink the task may have planted.
fn remove_sandbox(
    parent: Option<&Parent>,
    sandbox: &Path,
    id: &v1::ContainerId,
) -> std::io::Result<()> {
    let root = match parent {
        Some(p) => p.sandbox.join("containers"),
        None => sandbox.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let dir = super::beneath::open_dir(&root)?;
    let name = std::ffi::OsStr::new(&id.value);
    remove_tree_at(dir.as_fd(), name)
}

/// `rm -r` of `name` in `dir` through directory descriptors (no symlink followed).
fn remove_tree_at(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> std::io::Result<()> {
    use rustix::fs::{AtFlags, Mode, OFlags};
    let sub = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(rustix::io::Errno::NOTDIR) | Err(rustix::io::Errno::LOOP) => {
            rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let mut entries = Vec::new();
    for entry in rustix::fs::Dir::read_from(&sub)? {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n == b"." || n == b".." {
            continue;
        }
        entries.push((
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(n).to_os_string(),
            entry.file_type() == rustix::fs::FileType::Directory,
        ));
    }
    for (entry, is_dir) in entries {
        if is_dir {
            remove_tree_at(sub.as_fd(), &entry)?;
        } else {
            rustix::fs::unlinkat(&sub, &entry, AtFlags::empty())?;
        }
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

/// What [`start`] hands to the registry.
struct Started {
    pid: u32,
    child: tokio::process::Child,
    sandbox: Option<PathBuf>,
    readers: Vec<(DataType, Reader)>,
    streams: usize,
    logs: Option<Arc<Logs>>,
    stdin: mpsc::Sender<Input>,
    first_output: Option<mpsc::Sender<ProcessIo>>,
    termination_tx: watch::Sender<Option<Termination>>,
    termination_rx: watch::Receiver<Option<Termination>>,
}

/// The sandbox's stdout and stderr of a LAUNCH_NESTED_CONTAINER container.
struct Logs {
    stdout: Mutex<std::fs::File>,
    stderr: Mutex<std::fs::File>,
}

enum Reader {
    Pipe(Box<dyn tokio::io::AsyncRead + Send + Unpin>),
    Pty(Arc<tokio::io::unix::AsyncFd<OwnedFd>>),
}

/// Forks and execs the container's process (see the module doc).
fn start(spec: &Spec) -> Result<Started, NestedError> {
    let launch_failed = |e: &dyn std::fmt::Display| {
        NestedError::BadRequest(format!("Failed to launch container {}: {e}", key(&spec.id)))
    };
    let creds: Option<Credentials> =
        launcher::credentials(spec.user.as_deref()).map_err(|e| launch_failed(&e))?;
    // The task process whose mount namespace (an image's rootfs) the container enters;
    // none for a container with its own image.
    let mount_ns = match spec.parent.as_ref().and_then(|p| p.pid) {
        Some(pid) if spec.image.is_none() => {
            task_mount_namespace(pid).map_err(|e| launch_failed(&e))?
        }
        _ => None,
    };
    // The parent's pid namespace (`namespaces/pid`), which every nested container enters.
    let pid_ns = match spec.parent.as_ref().and_then(|p| p.pid) {
        Some(pid) => parent_pid_namespace(pid).map_err(|e| launch_failed(&e))?,
        None => None,
    };
    // Mesos's namespaces/pid isolator: a DEBUG container (a session) stays in its parent's
    // pid namespace; any other, a durable one (a task of a group) included, gets a new one
    // below it unless it asks to share.
    let own_pid_ns = pid_ns.is_some() && !spec.session && !spec.share_pid_namespace;
    // A durable container in a pid namespace of its own: its reaper forks off before the
    // namespaces are entered (it stays outside them, in the agent's), and the new mount
    // namespace with the new `/proc` is made here, not the parent's entered.
    let durable_own_pid_ns = own_pid_ns && spec.durable.is_some();
    // The working directory: a session works in its parent's sandbox; a nested container
    // in `containers/<id>` below it; a standalone one in `<work_dir>/containers/<id>`.
    let (host_dir, own_sandbox): (PathBuf, Option<PathBuf>) = match (&spec.parent, spec.session) {
        (Some(p), true) => (p.sandbox.clone(), None),
        (Some(p), false) => {
            let dir = p.sandbox.join("containers").join(&spec.id.value);
            (dir.clone(), Some(dir))
        }
        (None, _) => {
            let dir = spec.work_dir.join("containers").join(&spec.id.value);
            (dir.clone(), Some(dir))
        }
    };
    let dir_fd = if own_sandbox.is_some() {
        let (root, relative) = match &spec.parent {
            Some(p) => (
                p.sandbox.clone(),
                PathBuf::from("containers").join(&spec.id.value),
            ),
            None => {
                std::fs::create_dir_all(spec.work_dir.join("containers"))
                    .map_err(|e| launch_failed(&format!("Failed to create sandbox: {e}")))?;
                (
                    spec.work_dir.join("containers"),
                    PathBuf::from(&spec.id.value),
                )
            }
        };
        let root = super::beneath::open_dir(&root).map_err(|e| launch_failed(&e))?;
        let fd = super::beneath::mkdir_all_beneath(root.as_fd(), &relative)
            .map_err(|e| launch_failed(&format!("Failed to create sandbox: {e}")))?;
        if let Some(c) = &creds {
            rustix::fs::fchown(
                &fd,
                Some(rustix::fs::Uid::from_raw(c.uid)),
                Some(rustix::fs::Gid::from_raw(c.gid)),
            )
            .map_err(|e| launch_failed(&format!("Failed to chown sandbox: {e}")))?;
        }
        fd
    } else {
        super::beneath::open_dir(&host_dir).map_err(|e| launch_failed(&e))?
    };
    let logs = if own_sandbox.is_some() && spec.durable.is_none() {
        let stdout =
            super::beneath::open_log(dir_fd.as_fd(), "stdout").map_err(|e| launch_failed(&e))?;
        let stderr =
            super::beneath::open_log(dir_fd.as_fd(), "stderr").map_err(|e| launch_failed(&e))?;
        Some(Arc::new(Logs {
            stdout: Mutex::new(stdout),
            stderr: Mutex::new(stderr),
        }))
    } else {
        None
    };
    // Inside an image the sandbox is at its mount point; the path is only used after
    // setns, where the host path would not resolve.
    let inside_dir = mount_ns.as_ref().map(|_| {
        let mut d = PathBuf::from(SANDBOX_IN_IMAGE);
        if own_sandbox.is_some() {
            d = d.join("containers").join(&spec.id.value);
        }
        d
    });
    let sandbox_env = match &spec.image {
        Some(image) => image.sandbox_directory.clone(),
        None => inside_dir.clone().unwrap_or_else(|| host_dir.clone()),
    };
    // In the parent's own mount namespace (its `/proc`) the host's paths still resolve.
    let inside_dir = inside_dir.or_else(|| pid_ns.as_ref().map(|_| host_dir.clone()));
    let inside_c = match &inside_dir {
        Some(d) => Some(
            std::ffi::CString::new(d.as_os_str().as_encoded_bytes())
                .map_err(|e| launch_failed(&e))?,
        ),
        None => None,
    };

    // In an image: the command merged with its Entrypoint/Cmd, its Env under the command's.
    let command = spec
        .image
        .as_ref()
        .and_then(|i| i.plan.command.as_ref())
        .unwrap_or(&spec.command);
    let mut cmd = launcher::command(command).map_err(|e| launch_failed(&e))?;
    cmd.env_clear();
    cmd.env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    for var in spec
        .image
        .iter()
        .flat_map(|i| &i.plan.environment.variables)
    {
        if let Some(value) = &var.value {
            cmd.env(&var.name, value);
        }
    }
    cmd.env("MESOS_SANDBOX", &sandbox_env);
    cmd.env("MESOS_CONTAINER_ID", &spec.id.value);
    if let Some(env) = &spec.command.environment {
        for var in &env.variables {
            if let Some(value) = &var.value {
                cmd.env(&var.name, value);
            }
        }
    }
    let mut pty_master = None;
    let mut pty_slave = None;
    // A durable container: output straight to its sandbox's files, and the file its
    // reaper writes the wait status to.
    let mut status_file = None;
    if let Some(checkpoint) = &spec.durable {
        let out =
            super::beneath::open_log(dir_fd.as_fd(), "stdout").map_err(|e| launch_failed(&e))?;
        let err =
            super::beneath::open_log(dir_fd.as_fd(), "stderr").map_err(|e| launch_failed(&e))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        std::fs::create_dir_all(checkpoint)
            .map_err(|e| launch_failed(&format!("Failed to checkpoint: {e}")))?;
        let file = std::fs::File::create(checkpoint.join("status"))
            .map_err(|e| launch_failed(&format!("Failed to checkpoint: {e}")))?;
        status_file = Some(file);
    } else if let Some(tty) = &spec.tty {
        let (master, slave) =
            open_pty().map_err(|e| launch_failed(&format!("Failed to open a pty: {e}")))?;
        if let Some(size) = &tty.window_size {
            let (rows, columns) = window(size);
            let _ = set_window(master.as_fd(), rows, columns);
        }
        let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| launch_failed(&e));
        cmd.stdin(Stdio::from(dup(&slave)?));
        cmd.stdout(Stdio::from(dup(&slave)?));
        cmd.stderr(Stdio::from(dup(&slave)?));
        pty_master = Some(master);
        pty_slave = Some(slave);
    } else {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    let cgroup_fds = super::isolator::raw_fds(&spec.cgroups);
    // The image task's mount namespace wins over the parent's own (which an image task's
    // process is below).
    let ns_fd = mount_ns
        .as_ref()
        .or(pid_ns
            .as_ref()
            .filter(|_| !durable_own_pid_ns)
            .map(|(_, mnt)| mnt))
        .map(|f| f.as_raw_fd());
    let pid_ns_fd = pid_ns.as_ref().map(|(pid, _)| pid.as_raw_fd());
    let dir_raw = dir_fd.as_raw_fd();
    let tty = spec.tty.is_some();
    let durable = status_file.as_ref().map(|f| f.as_raw_fd());
    let image = spec.image.clone();
    let agent_pid = rustix::process::getpid();
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe
    // system calls (setsid, write, setns, chdir/fchdir, ioctl, setgroups/setgid/setuid, and
    // the reaper's fork/close_range/waitpid/fsync/_exit) on
    // data prepared before the fork; the descriptors it borrows stay open in the parent
    // until spawn returns.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            rustix::process::setsid()?;
            for fd in &cgroup_fds {
                // Sound (see above): the child's copy of a descriptor the parent holds.
                rustix::io::write(BorrowedFd::borrow_raw(*fd), b"0")?;
            }
            if let Some(pid_ns) = pid_ns_fd {
                if durable.is_none() {
                    // The reaper left behind (outside the namespace) is the agent's child:
                    // it dies with the agent, and checks it was not orphaned already. A
                    // durable container's outlives the agent.
                    rustix::process::set_parent_process_death_signal(Some(
                        rustix::process::Signal::KILL,
                    ))?;
                    if rustix::process::getppid() != Some(agent_pid) {
                        return Err(std::io::Error::other("the agent exited"));
                    }
                }
                rustix::thread::move_into_link_name_space(
                    BorrowedFd::borrow_raw(pid_ns),
                    Some(rustix::thread::LinkNameSpaceType::ProcessID),
                )?;
            }
            if let Some(status_fd) = durable {
                // Sound: the freshly forked child (see above); the status file stays open
                // in the parent until spawn returns. The reaper stays here, outside the
                // namespaces; what goes on is in the parent's pid namespace (if entered).
                become_reaper(status_fd)?;
                if durable_own_pid_ns {
                    // Sound: as above. pid 1 of a new pid namespace with its own `/proc`.
                    launcher::enter_pid_namespace()?;
                }
            }
            match (ns_fd, &inside_c, &image) {
                (_, _, Some(image)) => {
                    // Sound: the freshly forked single-threaded child (see above), on data
                    // prepared before the fork.
                    image.plan.mounts.enter()?;
                    image.rootfs.enter()?;
                }
                (Some(ns), Some(dir), None) => {
                    rustix::thread::move_into_link_name_space(
                        BorrowedFd::borrow_raw(ns),
                        Some(rustix::thread::LinkNameSpaceType::Mount),
                    )?;
                    rustix::process::chdir(dir.as_c_str())?;
                }
                _ => rustix::process::fchdir(BorrowedFd::borrow_raw(dir_raw))?,
            }
            if pid_ns_fd.is_some() && durable.is_none() {
                // Sound: the freshly forked child (see above). Entering a pid namespace
                // applies to children only; a new one can only be made from inside it.
                launcher::fork_behind_reaper()?;
                if own_pid_ns {
                    launcher::enter_pid_namespace()?;
                }
            }
            if durable.is_some() {
                if let Some(c) = &creds {
                    launcher::drop_privileges(c)?;
                }
                return Ok(());
            }
            if tty {
                rustix::process::ioctl_tiocsctty(BorrowedFd::borrow_raw(0))?;
            }
            if let Some(c) = &creds {
                launcher::drop_privileges(c)?;
            }
            // The container dies with the agent (its switchboard is the agent): set after
            // the credentials change, which clears it, and checked against the race
            // with the agent's exit before the call.
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // Below a reaper outside the pid namespace the parent shows as pid 0 (`None`);
            // once orphaned, as the namespace's init.
            let expected = if pid_ns_fd.is_some() {
                None
            } else {
                Some(agent_pid)
            };
            if rustix::process::getppid() != expected {
                return Err(std::io::Error::other("the agent exited"));
            }
            Ok(())
        });
    }
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(false);
    let mut child = cmd.spawn().map_err(|e| launch_failed(&e))?;
    drop(status_file);
    // Only the child keeps the terminal's slave side: its end is the output's end.
    drop(pty_slave);
    drop(dir_fd);
    drop(mount_ns);
    let pid = child.id().unwrap_or(0);
    let (stdin_tx, stdin_rx) = mpsc::channel(INPUT_BUFFER);
    let mut readers = Vec::new();
    match pty_master {
        Some(master) => {
            let _ = rustix::fs::fcntl_setfl(
                &master,
                rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::RDWR,
            );
            let master =
                Arc::new(tokio::io::unix::AsyncFd::new(master).map_err(|e| launch_failed(&e))?);
            tokio::spawn(write_pty(master.clone(), stdin_rx));
            readers.push((DataType::Stdout, Reader::Pty(master)));
        }
        None => {
            if let Some(stdin) = child.stdin.take() {
                tokio::spawn(write_pipe(stdin, stdin_rx));
            }
            if let Some(out) = child.stdout.take() {
                readers.push((DataType::Stdout, Reader::Pipe(Box::new(out))));
            }
            if let Some(err) = child.stderr.take() {
                readers.push((DataType::Stderr, Reader::Pipe(Box::new(err))));
            }
        }
    }
    let (termination_tx, termination_rx) = watch::channel(None);
    Ok(Started {
        pid,
        child,
        sandbox: own_sandbox,
        streams: readers.len(),
        readers,
        logs,
        stdin: stdin_tx,
        first_output: None,
        termination_tx,
        termination_rx,
    })
}

/// Splits the launch in two, as Mesos's `mesos-containerizer launch` does when it has a
/// runtime directory: the child goes on to exec the command; this process stays behind as
/// its reaper (the container's pid, its process group's leader), waits for it, writes its
/// raw wait status in decimal to `status_fd`, and ends as the command ended. So the exit
/// status survives the agent: whoever reaps the reaper (the agent, or init once the agent
/// is gone) does not matter.
///
/// # Safety
/// Only between fork and exec (`status_fd` open, the other descriptors the child's).
unsafe fn become_reaper(status_fd: i32) -> std::io::Result<()> {
    // SAFETY: fork in a single-threaded freshly forked child; both sides only make
    // async-signal-safe calls afterwards.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if child == 0 {
        return Ok(());
    }
    // Every descriptor but stdio and the status file closes (among them the pipe std reads
    // exec errors from: spawn() would otherwise wait for the reaper to exit).
    let fd = u32::try_from(status_fd).unwrap_or(3);
    // SAFETY: close_range closes descriptors only; this process uses none of them again.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, fd.saturating_sub(1), 0u32);
        libc::syscall(libc::SYS_close_range, fd + 1, u32::MAX, 0u32);
    }
    // A SIGTERM (or a hangup) to the process group is for the command: the reaper waits
    // for it to act. SIGKILL still ends the reaper.
    // SAFETY: installs SIG_IGN, no handler code; async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    let child = rustix::process::Pid::from_raw(child);
    let status = loop {
        match rustix::process::waitpid(child, rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => break status,
            Ok(None) | Err(rustix::io::Errno::INTR) => continue,
            // SAFETY: _exit ends the reaper at once without running anything else.
            Err(_) => unsafe { libc::_exit(127) },
        }
    };
    let raw = status.as_raw();
    // The decimal digits of the status without allocating (after fork, in a process that
    // had threads, only async-signal-safe work is allowed).
    let mut digits = [0u8; 12];
    let mut n = raw.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || at == 1 {
            break;
        }
    }
    if raw < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    // SAFETY: a descriptor this process owns; write and fsync are async-signal-safe.
    unsafe {
        let _ = rustix::io::write(BorrowedFd::borrow_raw(status_fd), &digits[at..]);
        let _ = rustix::fs::fsync(BorrowedFd::borrow_raw(status_fd));
    }
    if let Some(code) = status.exit_status() {
        // SAFETY: as above.
        unsafe { libc::_exit(code) };
    }
    let signal = status.terminating_signal().unwrap_or(libc::SIGKILL);
    // SAFETY: restores the default action, so the signal below ends the reaper as it ended
    // the command (a core dump aside).
    unsafe { libc::signal(signal, libc::SIG_DFL) };
    if let Some(sig) = signal_from(signal) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), sig);
    }
    // SAFETY: as above.
    unsafe { libc::_exit(128 + signal) }
}

/// The mount namespace of the executor's task when it differs from the executor's own
/// (a task in an image): the deepest process of the executor's session whose mount
/// namespace is not the executor's. `None` when the task shares the executor's.
fn task_mount_namespace(executor_pid: u32) -> Result<Option<OwnedFd>, String> {
    let ns_of = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    let Ok(executor) = i32::try_from(executor_pid) else {
        return Ok(None);
    };
    let Some(own) = ns_of(executor) else {
        return Err(format!("the parent's process {executor_pid} is gone"));
    };
    let depth = |mut pid: i32| {
        let mut d = 0;
        while pid != executor && pid > 1 && d < 64 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The ppid is the second field after the parenthesized command name.
            pid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            d += 1;
        }
        d
    };
    // Only a process in another root (an image's, after pivot_root): a mount namespace
    // made for a pid namespace's `/proc` (a durable container's own) keeps the host's
    // paths, and the sandbox is entered at its host path there.
    let root_of = |path: &str| {
        std::fs::metadata(path).ok().map(|m| {
            (
                std::os::unix::fs::MetadataExt::dev(&m),
                std::os::unix::fs::MetadataExt::ino(&m),
            )
        })
    };
    let host_root = root_of("/");
    let task = super::isolator::session_members(executor)
        .into_iter()
        .filter(|pid| *pid != executor && ns_of(*pid).is_some_and(|ns| ns != own))
        .filter(|pid| root_of(&format!("/proc/{pid}/root")) != host_root)
        .max_by_key(|pid| depth(*pid));
    let Some(task) = task else {
        return Ok(None);
    };
    let file = std::fs::File::open(format!("/proc/{task}/ns/mnt"))
        .map_err(|e| format!("Failed to open the task's mount namespace: {e}"))?;
    Ok(Some(OwnedFd::from(file)))
}

/// The pid namespace a parent's processes live in (`namespaces/pid`) and the mount
/// namespace with that namespace's `/proc`, when it is not the agent's own. `None`: the
/// parent shares the agent's.
///
/// `parent_pid` is the process the agent started and recorded (an executor's, or a
/// durable container's, checkpointed under `meta/`): a reaper outside the namespace whose
/// one child holds it. The executor's reaper made the namespace; a durable container's
/// reaper only entered its executor's, and its child made the container's own (or stayed
/// in the executor's). So the namespace is the one child's: after an agent restart too,
/// where the recovered pid is all the agent knows (`/proc/<child>/ns/*`).
fn parent_pid_namespace(parent_pid: u32) -> Result<Option<(OwnedFd, OwnedFd)>, String> {
    let holder = only_child(parent_pid).unwrap_or(parent_pid);
    let link = |path: &str| std::fs::read_link(path).ok();
    let own = link("/proc/self/ns/pid");
    let theirs = link(&format!("/proc/{holder}/ns/pid_for_children"));
    if theirs.is_none() {
        return Err(format!("the parent's process {parent_pid} is gone"));
    }
    if theirs == own {
        return Ok(None);
    }
    let open = |ns: &str| {
        std::fs::File::open(format!("/proc/{holder}/ns/{ns}"))
            .map(OwnedFd::from)
            .map_err(|e| format!("Failed to open the parent's {ns} namespace: {e}"))
    };
    Ok(Some((open("pid_for_children")?, open("mnt")?)))
}

/// The child of `pid` when it has exactly one (a reaper's: launcher.rs
/// `fork_behind_reaper`, [`become_reaper`]), from `/proc/<pid>/task/<pid>/children`.
fn only_child(pid: u32) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    let mut pids = children.split_whitespace().filter_map(|p| p.parse().ok());
    match (pids.next(), pids.next()) {
        (Some(child), None) => Some(child),
        _ => None,
    }
}

/// A new pseudo-terminal: (master, slave), both close-on-exec.
fn open_pty() -> std::io::Result<(OwnedFd, OwnedFd)> {
    use rustix::pty::OpenptFlags;
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    Ok((master, slave))
}

fn set_window(master: BorrowedFd<'_>, rows: u16, columns: u16) -> std::io::Result<()> {
    rustix::termios::tcsetwinsize(
        master,
        rustix::termios::Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )?;
    Ok(())
}

/// Writes stdin records into the process's pipe; an EOF record closes it.
async fn write_pipe(mut stdin: tokio::process::ChildStdin, mut rx: mpsc::Receiver<Input>) {
    use tokio::io::AsyncWriteExt;
    while let Some(input) = rx.recv().await {
        match input {
            Input::Data(data) => {
                if stdin.write_all(&data).await.is_err() {
                    return;
                }
            }
            Input::Eof => return,
            Input::WindowSize(..) => {}
        }
    }
}

/// Writes stdin records and window sizes to the pty's master side.
async fn write_pty(master: Arc<tokio::io::unix::AsyncFd<OwnedFd>>, mut rx: mpsc::Receiver<Input>) {
    while let Some(input) = rx.recv().await {
        match input {
            Input::Data(data) => {
                let mut rest: &[u8] = &data;
                while !rest.is_empty() {
                    let Ok(mut guard) = master.writable().await else {
                        return;
                    };
                    match guard.try_io(|fd| Ok(rustix::io::write(fd.get_ref(), rest)?)) {
                        Ok(Ok(n)) => rest = &rest[n..],
                        Ok(Err(_)) => return,
                        Err(_would_block) => continue,
                    }
                }
            }
            // End of transmission: the terminal's line discipline turns ^D into EOF.
            Input::Eof => {
                if let Ok(mut guard) = master.writable().await {
                    let _ = guard.try_io(|fd| Ok(rustix::io::write(fd.get_ref(), b"\x04")?));
                }
            }
            Input::WindowSize(rows, columns) => {
                let _ = set_window(master.get_ref().as_fd(), rows, columns);
            }
        }
    }
}

/// Reads one output of the process until it ends; each chunk goes to the sandbox file (if
/// any) and to every attached output, which it waits for (backpressure).
async fn relay(container: Arc<Container>, kind: DataType, reader: Reader, logs: Option<Arc<Logs>>) {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; READ_CHUNK];
    let mut reader = reader;
    loop {
        let n = match &mut reader {
            Reader::Pipe(r) => r.read(&mut buffer).await.unwrap_or(0),
            Reader::Pty(master) => {
                let Ok(mut guard) = master.readable().await else {
                    break;
                };
                match guard.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut buffer[..])?)) {
                    Ok(Ok(n)) => n,
                    // EIO: every slave side is closed (the process and its children ended).
                    Ok(Err(_)) => 0,
                    Err(_would_block) => continue,
                }
            }
        };
        if n == 0 {
            break;
        }
        let chunk = &buffer[..n];
        if let Some(logs) = &logs {
            use std::io::Write;
            let file = match kind {
                DataType::Stderr => &logs.stderr,
                _ => &logs.stdout,
            };
            let _ = lock(file).write_all(chunk);
        }
        let record = ProcessIo {
            r#type: Some(v1::agent::process_io::Type::Data as i32),
            data: Some(process_io::Data {
                r#type: Some(kind as i32),
                data: Some(chunk.to_vec()),
            }),
            control: None,
        };
        let outputs = lock(&container.io).outputs.clone();
        let mut gone = Vec::new();
        for (i, out) in outputs.iter().enumerate() {
            if out.send(record.clone()).await.is_err() {
                gone.push(i);
            }
        }
        if !gone.is_empty() {
            lock(&container.io).outputs.retain(|o| !o.is_closed());
        }
    }
    let mut io = lock(&container.io);
    io.open_streams = io.open_streams.saturating_sub(1);
    if io.open_streams == 0 {
        // Every attached output ends with the process's output.
        io.outputs.clear();
    }
}

/// Reaps the process, records its termination, and kills it when its parent's executor
/// container has gone.
async fn monitor(
    registry: Arc<Containers>,
    container: Arc<Container>,
    mut child: tokio::process::Child,
    termination: watch::Sender<Option<Termination>>,
    agent: super::runtime::AgentHandle,
) {
    let parent = container.parent.as_ref().map(|p| p.container_id.clone());
    let mut check = tokio::time::interval(std::time::Duration::from_secs(1));
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = check.tick() => kill_if_orphaned(&agent, &container, parent.clone()).await,
        }
    };
    // A durable container's reaper recorded the command's own status; its exit mirrors it.
    let recorded = container.durable.as_deref().and_then(recorded_status);
    let (status, message) = match (recorded, status) {
        (Some(raw), _) => (raw, describe(std::process::ExitStatus::from_raw(raw))),
        (None, Ok(s)) => (s.into_raw(), describe(s)),
        (None, Err(e)) => (
            libc::SIGKILL,
            format!("Failed to reap the container's process: {e}"),
        ),
    };
    finish(&registry, &container, termination, status, message);
}

/// Kills `container` when its parent's executor container (`parent`) has ended.
async fn kill_if_orphaned(
    agent: &super::runtime::AgentHandle,
    container: &Container,
    parent: Option<String>,
) {
    let Some(parent) = parent else { return };
    let alive = agent.read(move |a| parent_alive(a, &parent)).await;
    if !matches!(alive, Ok(true)) {
        tracing::info!(container = %key(&container.id), "the parent container ended: killing its nested container");
        container.kill(libc::SIGKILL);
    }
}

/// [`monitor`] for a container an earlier run of the agent started: not this process's
/// child, so its end is seen through a pidfd and its status read from the checkpoint.
async fn monitor_recovered(
    registry: Arc<Containers>,
    container: Arc<Container>,
    termination: watch::Sender<Option<Termination>>,
    agent: super::runtime::AgentHandle,
) {
    let parent = container.parent.as_ref().map(|p| p.container_id.clone());
    let exited = process_exit(container.pid);
    tokio::pin!(exited);
    let mut check = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            () = &mut exited => break,
            _ = check.tick() => kill_if_orphaned(&agent, &container, parent.clone()).await,
        }
    }
    let (status, message) = match container.durable.as_deref().and_then(recorded_status) {
        Some(raw) => (raw, describe(std::process::ExitStatus::from_raw(raw))),
        None => (
            libc::SIGKILL,
            "The container ended while the agent was down, and its exit status was not recorded"
                .to_string(),
        ),
    };
    finish(&registry, &container, termination, status, message);
}

/// Resolves when process `pid` (not a child of this process) has ended: its pidfd turns
/// readable. At once when it is already gone.
async fn process_exit(pid: u32) {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) else {
        return;
    };
    let Ok(fd) = tokio::io::unix::AsyncFd::with_interest(fd, tokio::io::Interest::READABLE) else {
        // No reactor for it: fall back to looking now and then.
        while super::isolator::alive(pid) {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        return;
    };
    let _ = fd.readable().await;
}

/// The wait status a durable container's reaper recorded, if it did.
fn recorded_status(checkpoint: &Path) -> Option<i32> {
    std::fs::read_to_string(checkpoint.join("status"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Records how the container ended: its process group ends, its input closes, WAIT
/// answers.
fn finish(
    registry: &Containers,
    container: &Container,
    termination: watch::Sender<Option<Termination>>,
    status: i32,
    message: String,
) {
    // The process group may outlive its leader: end the rest, as a container's destroy.
    if let Some(pid) = i32::try_from(container.pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    {
        let mut io = lock(&container.io);
        io.stdin = None;
    }
    if let Some(image) = &container.image {
        image.destroy();
    }
    let _ = termination.send(Some(Termination { status, message }));
    tracing::info!(container = %key(&container.id), status, "nested container ended");
    registry.ended(&key(&container.id));
}

fn describe(status: std::process::ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("Command exited with status {code}"),
        (None, Some(signal)) => format!("Command terminated with signal {signal}"),
        _ => "Command ended".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: &str, parent: Option<&str>) -> v1::ContainerId {
        v1::ContainerId {
            value: value.into(),
            parent: parent.map(|p| {
                Box::new(v1::ContainerId {
                    value: p.into(),
                    parent: None,
                })
            }),
        }
    }

    #[test]
    fn container_keys_join_the_parent_chain_with_dots_as_mesos_stringifies_them() {
        assert_eq!(key(&id("child", Some("parent"))), "parent.child");
        assert_eq!(key(&id("alone", None)), "alone");
    }

    #[test]
    fn container_ids_with_dots_slashes_or_bad_parents_are_refused() {
        assert!(validate_id(&id("ok-1", Some("p"))).is_ok());
        assert!(validate_id(&id("a.b", Some("p"))).is_err());
        assert!(validate_id(&id("../x", Some("p"))).is_err());
        assert!(validate_id(&id("ok", Some("bad/parent"))).is_err());
        assert!(validate_id(&id("", Some("p"))).is_err());
    }

    #[test]
    fn exit_codes_decode_the_raw_wait_status() {
        let exited = Termination {
            status: 3 << 8,
            message: String::new(),
        };
        assert_eq!(exited.exit_code(), 3);
        let killed = Termination {
            status: libc::SIGKILL,
            message: String::new(),
        };
        assert_eq!(killed.exit_code(), 137);
    }

    #[test]
    fn only_real_signal_numbers_are_sent() {
        assert!(signal_from(0).is_none());
        assert!(signal_from(65).is_none());
        assert!(signal_from(-9).is_none());
        assert!(signal_from(15).is_some());
    }
}
