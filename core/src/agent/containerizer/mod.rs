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
//! Implementations: [`posix::Posix`], Mesos's `mesos` containerizer (detached process
//! groups, `launcher.rs`; cgroups and pid namespaces, `isolator.rs`; the fetcher in the
//! sandbox), and [`docker::Docker`], Mesos's `docker` containerizer
//! (src/slave/containerizer/docker.cpp) driving the real `dockerd`.
//!
//! `--containerizers=mesos,docker` (Mesos's default `mesos`) names the ones the agent runs,
//! in order; [`Composing`] chooses between them per executor as Mesos's
//! `ComposingContainerizer` (src/slave/containerizer/composing.cpp) does: each launch goes
//! to the first whose [`Containerizer::supports`] accepts it (a DOCKER `ContainerInfo` to
//! the docker containerizer, everything else to the mesos one), every later call for that
//! container id to the same one, and after an agent restart each recovered executor to the
//! first that [`Containerizer::recovers`] it (decided by the checkpointed `ExecutorInfo.
//! container`, which Mesos copies from a command task's `TaskInfo.container` so that the
//! right containerizer takes it up).

pub mod docker;
pub mod host_path;
pub mod linux;
pub mod posix;
pub mod provisioner;

use std::collections::HashMap;
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
    /// The container's own IP addresses (a docker container off the host network).
    Network {
        framework_id: String,
        executor_id: String,
        container_id: String,
        ip_addresses: Vec<String>,
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
#[derive(Clone, Debug, PartialEq)]
pub struct Recovered {
    pub framework_id: String,
    pub executor_id: String,
    pub container_id: String,
    /// The checkpointed pid of the executor, if it was written.
    pub pid: Option<u32>,
    /// The checkpointed `ExecutorInfo.container`: which containerizer takes it up.
    pub container: Option<v1::ContainerInfo>,
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
    /// see the module doc). By default: anything but a DOCKER container, as Mesos's
    /// `mesos` containerizer answers.
    fn supports(&self, launch: &Launch) -> bool {
        !is_docker(launch.container.as_ref())
    }

    /// Whether this containerizer takes up `recovered` after an agent restart (the same
    /// choice as [`Containerizer::supports`], made on the checkpointed container).
    fn recovers(&self, recovered: &Recovered) -> bool {
        !is_docker(recovered.container.as_ref())
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

/// Whether `container` asks for the docker containerizer (`ContainerInfo.type = DOCKER`).
pub fn is_docker(container: Option<&v1::ContainerInfo>) -> bool {
    container.is_some_and(|c| c.r#type == v1::container_info::Type::Docker as i32)
}

/// One entry of `--containerizers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Mesos's `mesos` containerizer: processes on the host (posix.rs).
    Mesos,
    /// Mesos's `docker` containerizer (docker.rs).
    Docker,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mesos => "mesos",
            Kind::Docker => "docker",
        }
    }
}

/// `--containerizers`: a comma-separated list of `mesos` and `docker`, in the order they
/// are asked (Mesos's `Containerizer::create` refuses an unknown or repeated name, and so
/// does this: the agent does not start).
pub fn parse_kinds(text: &str) -> Result<Vec<Kind>, String> {
    let mut kinds = Vec::new();
    for name in text.split(',').map(str::trim) {
        let kind = match name {
            "mesos" => Kind::Mesos,
            "docker" => Kind::Docker,
            other => {
                return Err(format!(
                    "unknown containerizer '{}' in --containerizers: expected mesos or docker",
                    other.escape_debug()
                ));
            }
        };
        if kinds.contains(&kind) {
            return Err(format!(
                "containerizer '{name}' is listed twice in --containerizers"
            ));
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

/// Mesos's `ComposingContainerizer`: the containerizers of `--containerizers`, in order,
/// behind one [`Containerizer`] (see the module doc).
pub struct Composing {
    members: Vec<(Kind, Box<dyn Containerizer>)>,
    /// Which member runs each container (an index into `members`), from its launch or
    /// recovery until its exit.
    owner: HashMap<String, usize>,
    /// Reports a launch no member supports.
    report: Reporter,
}

impl Composing {
    pub fn new(members: Vec<(Kind, Box<dyn Containerizer>)>, report: Reporter) -> Composing {
        Composing {
            members,
            owner: HashMap::new(),
            report,
        }
    }

    fn member(&mut self, container_id: &str) -> Option<&mut Box<dyn Containerizer>> {
        let index = *self.owner.get(container_id)?;
        self.members.get_mut(index).map(|(_, c)| c)
    }
}

impl Containerizer for Composing {
    fn supports(&self, launch: &Launch) -> bool {
        self.members.iter().any(|(_, c)| c.supports(launch))
    }

    fn recovers(&self, recovered: &Recovered) -> bool {
        self.members.iter().any(|(_, c)| c.recovers(recovered))
    }

    fn launch(&mut self, launch: Launch) {
        match self.members.iter().position(|(_, c)| c.supports(&launch)) {
            Some(index) => {
                self.owner.insert(launch.container_id.clone(), index);
                self.members[index].1.launch(launch);
            }
            None => {
                // The agent refuses such launches before they get here (master_link.rs);
                // this keeps the contract (one Exited) if one slips through.
                let enabled: Vec<&str> = self.members.iter().map(|(k, _)| k.name()).collect();
                (self.report)(ContainerEvent::Exited {
                    framework_id: launch.framework_id,
                    executor_id: launch.executor_id,
                    container_id: launch.container_id,
                    status: None,
                    error: Some(format!(
                        "No containerizer supports this container (--containerizers={})",
                        enabled.join(",")
                    )),
                });
            }
        }
    }

    fn recover(&mut self, recovered: Vec<Recovered>) {
        let mut shares: Vec<Vec<Recovered>> = self.members.iter().map(|_| Vec::new()).collect();
        for r in recovered {
            match self.members.iter().position(|(_, c)| c.recovers(&r)) {
                Some(index) => {
                    self.owner.insert(r.container_id.clone(), index);
                    shares[index].push(r);
                }
                None => {
                    // Mesos: a container no containerizer recovers is an orphan; its
                    // executor is reported gone so that its tasks fail.
                    tracing::warn!(container_id = %r.container_id, "no enabled containerizer recovers this container");
                    (self.report)(ContainerEvent::Exited {
                        framework_id: r.framework_id,
                        executor_id: r.executor_id,
                        container_id: r.container_id,
                        status: None,
                        error: None,
                    });
                }
            }
        }
        // Every member is asked, also with nothing to recover (the docker containerizer
        // then removes its orphans).
        for ((_, member), share) in self.members.iter_mut().zip(shares) {
            member.recover(share);
        }
    }

    fn started(&mut self, container_id: &str, pid: u32) {
        if let Some(member) = self.member(container_id) {
            member.started(container_id, pid);
        }
    }

    fn exited(&mut self, container_id: &str) -> Option<Limitation> {
        let limitation = self.member(container_id)?.exited(container_id);
        self.owner.remove(container_id);
        limitation
    }

    fn signal(&mut self, container_id: &str, kill: bool) {
        if let Some(member) = self.member(container_id) {
            member.signal(container_id, kill);
        }
    }

    fn destroy(&mut self, container_id: &str) {
        if let Some(member) = self.member(container_id) {
            member.destroy(container_id);
        }
    }

    fn update(&mut self, container_id: &str, limits: Limits) {
        if let Some(member) = self.member(container_id) {
            member.update(container_id, limits);
        }
    }

    fn limitations(&mut self, container_id: Option<&str>) -> Vec<Limitation> {
        match container_id {
            Some(id) => self
                .member(id)
                .map(|m| m.limitations(Some(id)))
                .unwrap_or_default(),
            None => self
                .members
                .iter_mut()
                .flat_map(|(_, m)| m.limitations(None))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn containerizers_flag_takes_mesos_and_docker_and_refuses_anything_else() {
        assert_eq!(parse_kinds("mesos"), Ok(vec![Kind::Mesos]));
        assert_eq!(
            parse_kinds("mesos, docker"),
            Ok(vec![Kind::Mesos, Kind::Docker])
        );
        assert_eq!(parse_kinds("docker"), Ok(vec![Kind::Docker]));
        for bad in ["", "rkt", "mesos,kvm", "mesos,mesos"] {
            assert!(parse_kinds(bad).is_err(), "{bad:?} was accepted");
        }
    }

    /// A member that records what it was asked.
    struct Probe {
        docker: bool,
        calls: Arc<Mutex<Vec<String>>>,
    }

    impl Containerizer for Probe {
        fn supports(&self, launch: &Launch) -> bool {
            is_docker(launch.container.as_ref()) == self.docker
        }
        fn recovers(&self, recovered: &Recovered) -> bool {
            is_docker(recovered.container.as_ref()) == self.docker
        }
        fn launch(&mut self, launch: Launch) {
            self.log(format!("launch {}", launch.container_id));
        }
        fn recover(&mut self, recovered: Vec<Recovered>) {
            let ids: Vec<String> = recovered.into_iter().map(|r| r.container_id).collect();
            self.log(format!("recover [{}]", ids.join(",")));
        }
        fn started(&mut self, _: &str, _: u32) {}
        fn exited(&mut self, container_id: &str) -> Option<Limitation> {
            self.log(format!("exited {container_id}"));
            None
        }
        fn signal(&mut self, container_id: &str, kill: bool) {
            self.log(format!("signal {container_id} {kill}"));
        }
        fn destroy(&mut self, container_id: &str) {
            self.log(format!("destroy {container_id}"));
        }
        fn update(&mut self, _: &str, _: Limits) {}
        fn limitations(&mut self, _: Option<&str>) -> Vec<Limitation> {
            Vec::new()
        }
    }

    impl Probe {
        fn log(&self, line: String) {
            let who = if self.docker { "docker" } else { "mesos" };
            self.calls.lock().unwrap().push(format!("{who}: {line}"));
        }
    }

    fn launch(container_id: &str, docker: bool) -> Launch {
        Launch {
            framework_id: "f".into(),
            executor_id: container_id.into(),
            container_id: container_id.into(),
            sandbox: "/tmp/none".into(),
            command: Default::default(),
            environment: vec![],
            user: None,
            limits: Default::default(),
            pid_file: "/tmp/none/pid".into(),
            container: docker.then(|| v1::ContainerInfo {
                r#type: v1::container_info::Type::Docker as i32,
                ..Default::default()
            }),
            task: None,
            task_command: None,
            resources: vec![],
            volumes: Ok(vec![]),
        }
    }

    type Log<T> = Arc<Mutex<Vec<T>>>;

    fn composing(kinds: &[Kind]) -> (Composing, Log<String>, Log<ContainerEvent>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let events = Arc::new(Mutex::new(Vec::new()));
        let members = kinds
            .iter()
            .map(|k| {
                let probe: Box<dyn Containerizer> = Box::new(Probe {
                    docker: *k == Kind::Docker,
                    calls: calls.clone(),
                });
                (*k, probe)
            })
            .collect();
        let sink = events.clone();
        let report: Reporter = Arc::new(move |e| sink.lock().unwrap().push(e));
        (Composing::new(members, report), calls, events)
    }

    #[test]
    fn docker_containers_go_to_the_docker_containerizer_and_stay_there() {
        let (mut c, calls, _) = composing(&[Kind::Mesos, Kind::Docker]);
        c.launch(launch("plain", false));
        c.launch(launch("boxed", true));
        c.signal("boxed", false);
        c.signal("plain", true);
        c.destroy("boxed");
        c.exited("boxed");
        // Forgotten once exited: a late call reaches no one.
        c.signal("boxed", true);
        assert_eq!(
            *calls.lock().unwrap(),
            [
                "mesos: launch plain",
                "docker: launch boxed",
                "docker: signal boxed false",
                "mesos: signal plain true",
                "docker: destroy boxed",
                "docker: exited boxed",
            ]
        );
    }

    #[test]
    fn a_docker_container_without_the_docker_containerizer_fails_to_launch() {
        let (mut c, calls, events) = composing(&[Kind::Mesos]);
        c.launch(launch("boxed", true));
        assert!(calls.lock().unwrap().is_empty());
        let events = events.lock().unwrap();
        assert!(
            matches!(&events[..], [ContainerEvent::Exited { error: Some(e), .. }] if e.contains("--containerizers=mesos")),
            "{events:?}"
        );
    }

    #[test]
    fn recovery_asks_every_containerizer_for_its_own_containers() {
        let (mut c, calls, _) = composing(&[Kind::Mesos, Kind::Docker]);
        let recovered = |id: &str, docker: bool| {
            let l = launch(id, docker);
            Recovered {
                framework_id: l.framework_id,
                executor_id: l.executor_id,
                container_id: l.container_id,
                pid: Some(1),
                container: l.container,
            }
        };
        c.recover(vec![
            recovered("a", false),
            recovered("b", true),
            recovered("c", false),
        ]);
        c.signal("b", true);
        assert_eq!(
            *calls.lock().unwrap(),
            [
                "mesos: recover [a,c]",
                "docker: recover [b]",
                "docker: signal b true"
            ]
        );
    }
}
