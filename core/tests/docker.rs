//! The docker containerizer against the real `dockerd` (issue 15, items 1, 2 and 5; Mesos's
//! docs/docker-containerizer.md): command tasks in a docker image, a service reachable on its
//! mapped host port, a custom executor in a container, an agent restart that reattaches a
//! running container and removes orphans, and the faults — an image that does not exist,
//! a missing host volume path, a port the task was not given, a container over its memory,
//! dockerd out of reach — each ending as Mesos ends it, with nothing left behind
//! (`docker ps -a --filter name=mesos-`).
//!
//! Needs: `dockerd` answering on /var/run/docker.sock (or `$REMESOS_DOCKER_SOCKET`) with a
//! bridge network for BRIDGE containers — tests/run.sh's `e2e_prepare` starts one — and
//! busybox (`/bin/busybox` from busybox-static) for the test image, which the suite builds
//! with `docker import` when it is missing. Without dockerd every test fails and says so.
//!
//! The tests share one dockerd and remove orphans on recovery, so they run one at a time
//! (a lock), each with its own master and agent.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

mod support;
use support::temp_dir;
#[path = "support/volumes.rs"]
mod volumes;

use std::path::{Path, PathBuf};
use std::time::Duration;

use remesos_proto::v1;
use support::{
    Daemon, TestFramework, free_port, offer_resources, spawn_agent_logged, spawn_master,
};
use v1::TaskState;

/// The image every test runs: busybox alone, built locally (no registry is reachable).
const IMAGE: &str = "remesos-test-busybox:latest";

/// One test at a time (see the module doc).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn socket() -> String {
    std::env::var("REMESOS_DOCKER_SOCKET").unwrap_or_else(|_| "/var/run/docker.sock".into())
}

/// `docker -H unix://<socket> <args>`: its exit status and stdout.
fn docker(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{}", socket()))
        .args(args)
        .output()
        .expect("the docker CLI runs (install docker.io)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Fails loudly without dockerd; builds [`IMAGE`] when it is missing
/// (tests/docker/build-image.sh, which tests/run.sh also runs).
fn ensure_docker() {
    let (ok, out) = docker(&["version", "--format", "{{.Server.Version}}"]);
    assert!(
        ok,
        "these tests need dockerd on {} (tests/run.sh e2e_prepare starts it): {out}",
        socket()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/docker/build-image.sh");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .arg(socket())
        .status()
        .unwrap();
    assert!(status.success(), "{} failed", script.display());
}

/// The `mesos-*` containers dockerd has, running or not.
fn mesos_containers() -> Vec<String> {
    let (ok, out) = docker(&[
        "ps",
        "-a",
        "--filter",
        "name=mesos-",
        "--format",
        "{{.Names}}",
    ]);
    assert!(ok, "{out}");
    out.lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Waits until no `mesos-*` container is left (the agent removes them once their executor
/// exited, `--docker_remove_delay=0ns` here).
async fn assert_no_containers_leak() {
    for _ in 0..200 {
        if mesos_containers().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("docker containers leaked: {:?}", mesos_containers());
}

struct Cluster {
    dir: PathBuf,
    _master: Daemon,
    master: String,
    agent: Option<Daemon>,
    agent_port: u16,
    framework: TestFramework,
    /// The dockerd the agent uses.
    socket: String,
    /// The agent's flags beyond the docker containerizer's.
    agent_flags: Vec<String>,
}

impl Cluster {
    async fn start(name: &str, checkpoint: bool) -> Cluster {
        Cluster::start_on(name, checkpoint, socket()).await
    }

    /// [`Cluster::start`] with the agent on the dockerd of `socket`.
    async fn start_on(name: &str, checkpoint: bool, socket: String) -> Cluster {
        Cluster::start_with(name, checkpoint, socket, Vec::new()).await
    }

    /// [`Cluster::start_on`] with more agent flags.
    async fn start_with(
        name: &str,
        checkpoint: bool,
        socket: String,
        agent_flags: Vec<String>,
    ) -> Cluster {
        ensure_docker();
        assert!(
            mesos_containers().is_empty(),
            "mesos-* containers from elsewhere: {:?}",
            mesos_containers()
        );
        let dir = temp_dir(name);
        let (master_daemon, master) = spawn_master(&dir).await;
        let agent_port = free_port();
        let mut cluster = Cluster {
            dir,
            _master: master_daemon,
            master: master.clone(),
            agent: None,
            agent_port,
            framework: TestFramework::subscribe(&master, name, checkpoint).await,
            socket,
            agent_flags,
        };
        cluster.start_agent();
        cluster
    }

    fn start_agent(&mut self) {
        let mut flags = vec![
            "--containerizers=mesos,docker".to_string(),
            format!("--docker_socket={}", self.socket),
            "--docker_remove_delay=0ns".to_string(),
            "--executor_registration_timeout=30secs".to_string(),
        ];
        flags.extend(self.agent_flags.iter().cloned());
        self.agent = Some(spawn_agent_logged(
            &self.master,
            self.agent_port,
            &self.dir.join("agent"),
            &flags,
            Some(&self.dir.join(format!("agent-{}.log", free_port()))),
        ));
    }

    /// Launches `task` on the next offer and returns the offer's agent.
    async fn launch(&mut self, make: impl FnOnce(&v1::Offer) -> v1::TaskInfo) -> v1::AgentId {
        let offer = self.framework.next_offer().await;
        let task = make(&offer);
        self.framework.launch(&offer, vec![task]).await;
        offer.agent_id
    }

    /// Launches a command task in the test image with the default container settings.
    async fn launch_in_image(&mut self, id: &str, resources: &str, command: &str) -> v1::AgentId {
        self.launch(|o| docker_task(id, o, resources, command, docker_container(|_| {})))
            .await
    }

    /// Launches a task whose container cannot start: it ends TASK_FAILED with
    /// REASON_CONTAINER_LAUNCH_FAILED and nothing is started; returns its message.
    async fn launch_fails(
        &mut self,
        id: &str,
        resources: &str,
        container: v1::ContainerInfo,
    ) -> String {
        self.launch(|o| docker_task(id, o, resources, "true", container))
            .await;
        let updates = self.updates_until(TaskState::TaskFailed).await;
        assert_eq!(states(&updates), ["TASK_FAILED"], "{updates:?}");
        let last = updates.last().unwrap();
        assert_eq!(
            last.reason,
            Some(v1::task_status::Reason::ContainerLaunchFailed as i32)
        );
        assert!(mesos_containers().is_empty());
        last.message().to_string()
    }

    /// Updates until TASK_RUNNING, which must follow TASK_STARTING and nothing else.
    async fn until_running(&mut self) -> Vec<v1::TaskStatus> {
        let updates = self.updates_until(TaskState::TaskRunning).await;
        assert_eq!(
            states(&updates),
            ["TASK_STARTING", "TASK_RUNNING"],
            "{}",
            self.agent_log()
        );
        updates
    }

    /// Updates until a terminal one (or `until`), in order.
    async fn updates_until(&mut self, until: TaskState) -> Vec<v1::TaskStatus> {
        let mut seen = Vec::new();
        loop {
            let status = self.framework.next_update(Duration::from_secs(60)).await;
            let state = TaskState::try_from(status.state).unwrap();
            seen.push(status);
            if state == until || remesos::common::protocol::is_terminal(state) {
                return seen;
            }
        }
    }

    fn sandbox_of(&self, task_id: &str) -> PathBuf {
        // <work_dir>/slaves/<aid>/frameworks/<fid>/executors/<task id>/runs/latest
        let slaves = self.dir.join("agent").join("slaves");
        for agent in std::fs::read_dir(&slaves).unwrap().flatten() {
            for framework in std::fs::read_dir(agent.path().join("frameworks"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let run = framework
                    .path()
                    .join("executors")
                    .join(task_id)
                    .join("runs")
                    .join("latest");
                if run.exists() {
                    return run;
                }
            }
        }
        panic!("no sandbox for task {task_id}");
    }

    fn agent_log(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with("agent-") {
                text += &std::fs::read_to_string(entry.path()).unwrap_or_default();
            }
        }
        text
    }
}

impl Drop for Cluster {
    /// A failed test leaves no container for the next one (the agent is killed first).
    fn drop(&mut self) {
        self.agent.take();
        for name in mesos_containers() {
            let _ = docker(&["rm", "-f", &name]);
        }
    }
}

fn docker_container(
    configure: impl FnOnce(&mut v1::container_info::DockerInfo),
) -> v1::ContainerInfo {
    let mut docker = v1::container_info::DockerInfo {
        image: IMAGE.into(),
        ..Default::default()
    };
    configure(&mut docker);
    v1::ContainerInfo {
        r#type: v1::container_info::Type::Docker as i32,
        docker: Some(docker),
        ..Default::default()
    }
}

/// A read-only volume of `host` at `inside`.
fn ro_volume(host: &Path, inside: &str) -> v1::Volume {
    v1::Volume {
        mode: v1::volume::Mode::Ro as i32,
        container_path: inside.into(),
        host_path: Some(host.display().to_string()),
        ..Default::default()
    }
}

fn docker_task(
    id: &str,
    offer: &v1::Offer,
    resources: &str,
    command: &str,
    container: v1::ContainerInfo,
) -> v1::TaskInfo {
    v1::TaskInfo {
        container: Some(container),
        ..support::command_task(id, offer, resources, command)
    }
}

fn states(updates: &[v1::TaskStatus]) -> Vec<&'static str> {
    updates
        .iter()
        .map(|s| TaskState::try_from(s.state).map_or("?", |s| s.as_str_name()))
        .collect()
}

/// Mesos docs/docker-containerizer.md: a command task with a DOCKER ContainerInfo runs in
/// its image, with the sandbox mounted at MESOS_SANDBOX (`--sandbox_directory`), its
/// stdout in the sandbox, and TASK_RUNNING before TASK_FINISHED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_task_runs_in_its_docker_image_with_the_sandbox_mounted() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("command", false).await;
    // Only the image has no /usr, /etc or /work: the command proves where it ran.
    let command = "test ! -e /usr && test ! -e /work && echo in-image && \
                   echo \"$MESOS_SANDBOX\" > $MESOS_SANDBOX/written-inside";
    c.launch_in_image("t1", "cpus:0.2;mem:64", command).await;
    let updates = c.updates_until(TaskState::TaskFinished).await;
    assert_eq!(
        states(&updates),
        ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"],
        "{updates:?}\n{}",
        c.agent_log()
    );
    let sandbox = c.sandbox_of("t1");
    assert_eq!(
        std::fs::read_to_string(sandbox.join("written-inside"))
            .unwrap()
            .trim(),
        "/mnt/mesos/sandbox"
    );
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
    assert!(stdout.contains("in-image"), "stdout: {stdout}");
    assert_no_containers_leak().await;
}

/// A long-running service in a BRIDGE container with a port mapping answers on its host
/// port (a port of the offer's `ports`, as a framework picks it), reports its
/// container IP with TASK_RUNNING, and a kill ends it TASK_KILLED with its container
/// removed and nothing answering on the host port any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridged_service_is_reachable_on_its_mapped_host_port_and_killed_cleanly() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("service", false).await;
    let command = "mkdir -p /tmp/www && echo pong > /tmp/www/index.html && \
                   exec httpd -f -p 8080 -h /tmp/www";
    let mut host_port = 0;
    let agent_id = c
        .launch(|o| {
            // Any port of the offer's first range (not always its first: tests on one
            // machine run agents with the same ranges).
            let range = o
                .resources
                .iter()
                .filter(|r| r.name == "ports")
                .find_map(|r| r.ranges.as_ref()?.range.first().cloned())
                .expect("the offer has ports");
            let pick = u64::from(free_port()) % (range.end - range.begin + 1);
            host_port = u16::try_from(range.begin + pick).unwrap();
            let container = docker_container(|d| {
                d.network = Some(v1::container_info::docker_info::Network::Bridge as i32);
                d.port_mappings
                    .push(v1::container_info::docker_info::PortMapping {
                        host_port: u32::from(host_port),
                        container_port: 8080,
                        protocol: Some("tcp".into()),
                    });
            });
            docker_task(
                "web",
                o,
                &format!("cpus:0.2;mem:64;ports:[{host_port}-{host_port}]"),
                command,
                container,
            )
        })
        .await;
    let updates = c.updates_until(TaskState::TaskRunning).await;
    let running = updates.last().unwrap();
    assert_eq!(
        states(&updates),
        ["TASK_STARTING", "TASK_RUNNING"],
        "{}",
        c.agent_log()
    );
    let ip = running
        .container_status
        .as_ref()
        .and_then(|s| s.network_infos.first())
        .and_then(|n| n.ip_addresses.first())
        .and_then(|a| a.ip_address.clone())
        .expect("the container's IP in TASK_RUNNING");
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    // The service answers on the host port (the server may take a moment to listen).
    let http = remesos::client::HttpClient::default();
    let mut answer = None;
    for _ in 0..100 {
        if let Ok((200, body)) = http.get(&format!("http://127.0.0.1:{host_port}/")).await {
            answer = Some(String::from_utf8_lossy(&body).trim().to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer.as_deref(), Some("pong"));
    c.framework.kill("web", &agent_id).await;
    let updates = c.updates_until(TaskState::TaskKilled).await;
    assert_eq!(states(&updates).last(), Some(&"TASK_KILLED"), "{updates:?}");
    assert_no_containers_leak().await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", host_port)).is_err(),
        "port {host_port} still answers after the kill"
    );
}

/// A user-defined docker network, removed when dropped.
struct UserNetwork(String);

impl UserNetwork {
    fn create(name: &str) -> UserNetwork {
        let _ = docker(&["network", "rm", name]);
        let (ok, out) = docker(&["network", "create", "--driver", "bridge", name]);
        assert!(ok, "docker network create {name}: {out}");
        UserNetwork(name.to_string())
    }

    /// Whether `ip` is in the network's (first) subnet, as dockerd's IPAM gave it.
    fn holds(&self, ip: std::net::Ipv4Addr) -> bool {
        let (ok, out) = docker(&[
            "network",
            "inspect",
            &self.0,
            "--format",
            "{{(index .IPAM.Config 0).Subnet}}",
        ]);
        assert!(ok, "{out}");
        let (base, bits) = out.trim().split_once('/').expect("a CIDR subnet");
        let base: std::net::Ipv4Addr = base.parse().expect("an IPv4 subnet");
        let bits: u32 = bits.parse().expect("a prefix length");
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        u32::from(ip) & mask == u32::from(base) & mask
    }
}

impl Drop for UserNetwork {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.0]);
    }
}

/// `network: USER` (Mesos docs/docker-containerizer.md: one `NetworkInfo` naming a docker
/// network, `docker run --net <name>`): the task's container joins that network, not the
/// default bridge; TASK_RUNNING carries its address there, the one `docker inspect` shows
/// for that network; a kill removes the container. A network dockerd does not know fails
/// the task, saying which, and leaves no container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_on_a_user_network_reports_its_address_on_that_network() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("usernet", false).await;
    let net = UserNetwork::create(&format!("remesos-usernet-{}", std::process::id()));
    let on = |name: &str| {
        let mut container = docker_container(|d| {
            d.network = Some(v1::container_info::docker_info::Network::User as i32);
        });
        container.network_infos.push(v1::NetworkInfo {
            name: Some(name.to_string()),
            ..Default::default()
        });
        container
    };
    let agent_id = c
        .launch(|o| docker_task("on-net", o, "cpus:0.1;mem:64", "sleep 600", on(&net.0)))
        .await;
    let updates = c.until_running().await;
    let ip = updates
        .last()
        .and_then(|u| u.container_status.as_ref())
        .and_then(|s| s.network_infos.first())
        .and_then(|n| n.ip_addresses.first())
        .and_then(|a| a.ip_address.clone())
        .expect("the container's IP in TASK_RUNNING");
    let containers = mesos_containers();
    assert_eq!(containers.len(), 1, "{containers:?}");
    let (ok, inspected) = docker(&[
        "inspect",
        "--format",
        &format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
            net.0
        ),
        &containers[0],
    ]);
    assert!(ok, "the container is not on {}: {inspected}", net.0);
    assert_eq!(ip, inspected.trim());
    assert!(
        net.holds(ip.parse().expect("an IPv4 address")),
        "{ip} is not in {}'s subnet",
        net.0
    );
    c.framework.kill("on-net", &agent_id).await;
    let updates = c.updates_until(TaskState::TaskKilled).await;
    assert_eq!(states(&updates).last(), Some(&"TASK_KILLED"), "{updates:?}");
    assert_no_containers_leak().await;

    let missing = "remesos-no-such-network";
    c.launch(|o| docker_task("no-net", o, "cpus:0.1;mem:64", "true", on(missing)))
        .await;
    let updates = c.updates_until(TaskState::TaskFailed).await;
    let last = updates.last().unwrap();
    assert_eq!(last.state, TaskState::TaskFailed as i32, "{updates:?}");
    assert!(last.message().contains(missing), "{updates:?}");
    assert_no_containers_leak().await;
}

/// Mesos's port mapping rule (`Docker::RunOptions::create`): a host port the task was not
/// given fails its launch, and nothing is started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_port_outside_the_tasks_resources_fails_the_launch() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("badport", false).await;
    let container = docker_container(|d| {
        d.network = Some(v1::container_info::docker_info::Network::Bridge as i32);
        d.port_mappings
            .push(v1::container_info::docker_info::PortMapping {
                host_port: 31099,
                container_port: 80,
                protocol: None,
            });
    });
    let message = c
        .launch_fails("p", "cpus:0.1;mem:32;ports:[31001-31001]", container)
        .await;
    assert!(
        message.contains("Port [31099] not included in resources"),
        "{message}"
    );
}

/// An image no registry has: TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, and a message
/// that names the image and what to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_does_not_exist_fails_the_task_saying_which() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("noimage", false).await;
    let container = docker_container(|d| d.image = "remesos-no-such-image:never".into());
    let message = c.launch_fails("ni", "cpus:0.1;mem:32", container).await;
    assert!(
        message.contains("Failed to pull image 'remesos-no-such-image:never'")
            && message.contains("check the image's name"),
        "{message}"
    );
}

/// A volume whose host path does not exist fails the launch (docker would create it on
/// the host as root): the message names the path and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_host_path_that_does_not_exist_fails_the_task() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("novolume", false).await;
    let missing = c.dir.join("not-there");
    let mut container = docker_container(|_| {});
    container.volumes.push(ro_volume(&missing, "/data"));
    let message = c.launch_fails("nv", "cpus:0.1;mem:32", container).await;
    assert!(
        message.contains(&format!("'{}'", missing.display())) && message.contains("does not exist"),
        "{message}"
    );
    assert!(!missing.exists(), "the missing host path was created");
}

/// A COMMAND health check of a docker task runs inside its container (`docker exec`, as
/// Mesos's docker executor wraps it): a check that only holds in the image (it has no
/// `/usr`; the agent's host has) makes the task healthy. Run on the host it would fail and,
/// with one allowed failure and no grace period, kill the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_health_check_runs_inside_the_tasks_container() {
    let _serial = SERIAL.lock().await;
    assert!(
        Path::new("/usr").is_dir(),
        "the host needs /usr for this test"
    );
    let mut c = Cluster::start("execcheck", false).await;
    let agent_id = c
        .launch(|o| {
            let mut task = docker_task(
                "hc",
                o,
                "cpus:0.1;mem:32",
                "exec sleep 120",
                docker_container(|_| {}),
            );
            task.health_check = Some(v1::HealthCheck {
                r#type: Some(v1::health_check::Type::Command as i32),
                command: Some(v1::CommandInfo {
                    value: Some("test ! -e /usr && test -x /bin/busybox".into()),
                    ..Default::default()
                }),
                delay_seconds: Some(0.0),
                interval_seconds: Some(1.0),
                timeout_seconds: Some(20.0),
                grace_period_seconds: Some(0.0),
                consecutive_failures: Some(1),
                ..Default::default()
            });
            task
        })
        .await;
    let mut seen = Vec::new();
    loop {
        let status = c.framework.next_update(Duration::from_secs(60)).await;
        let state = TaskState::try_from(status.state).unwrap();
        let healthy = status.healthy;
        seen.push(status);
        if healthy.is_some() || remesos::common::protocol::is_terminal(state) {
            break;
        }
    }
    let last = seen.last().unwrap();
    assert_eq!(
        (states(&seen).last().copied(), last.healthy),
        (Some("TASK_RUNNING"), Some(true)),
        "{seen:?}"
    );
    c.framework.kill("hc", &agent_id).await;
    let updates = c.updates_until(TaskState::TaskKilled).await;
    assert_eq!(states(&updates).last(), Some(&"TASK_KILLED"), "{updates:?}");
    assert_no_containers_leak().await;
}

/// Mesos's docker executor runs HTTP and TCP checks in the task's network namespace
/// (src/docker/executor.cpp gives the checker the container's pid and `namespaces =
/// {"net"}`): a BRIDGE task whose server listens only on the container's own 127.0.0.1 is
/// healthy by its HTTP health check and its TCP check succeeds — though nothing on the
/// host's 127.0.0.1 answers on that port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_tcp_checks_connect_inside_a_bridged_containers_network() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("netcheck", false).await;
    let port = free_port();
    let agent_id = c
        .launch(|o| {
            let mut task = docker_task(
                "web",
                o,
                "cpus:0.1;mem:32",
                &format!(
                    "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && \
                     exec httpd -f -p 127.0.0.1:{port} -h /tmp/www"
                ),
                docker_container(|d| {
                    d.network = Some(v1::container_info::docker_info::Network::Bridge as i32);
                }),
            );
            task.health_check = Some(v1::HealthCheck {
                r#type: Some(v1::health_check::Type::Http as i32),
                http: Some(v1::health_check::HttpCheckInfo {
                    port: u32::from(port),
                    path: Some("/index.html".into()),
                    ..Default::default()
                }),
                delay_seconds: Some(0.0),
                interval_seconds: Some(1.0),
                timeout_seconds: Some(5.0),
                grace_period_seconds: Some(120.0),
                consecutive_failures: Some(3),
                ..Default::default()
            });
            task.check = Some(v1::CheckInfo {
                r#type: Some(v1::check_info::Type::Tcp as i32),
                tcp: Some(v1::check_info::Tcp {
                    port: u32::from(port),
                }),
                delay_seconds: Some(0.0),
                interval_seconds: Some(1.0),
                ..Default::default()
            });
            task
        })
        .await;
    let (mut healthy, mut connected) = (false, false);
    let mut seen = Vec::new();
    while !(healthy && connected) {
        let status = c.framework.next_update(Duration::from_secs(60)).await;
        let state = TaskState::try_from(status.state).unwrap();
        assert!(
            !remesos::common::protocol::is_terminal(state),
            "{seen:?}\n{status:?}\n{}",
            c.agent_log()
        );
        healthy |= status.healthy == Some(true);
        connected |= status
            .check_status
            .as_ref()
            .and_then(|s| s.tcp.as_ref())
            .and_then(|t| t.succeeded)
            == Some(true);
        seen.push(status);
    }
    // From the host, the port is closed: the checks did not connect from here.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something on the host listens on {port}"
    );
    c.framework.kill("web", &agent_id).await;
    let updates = c.updates_until(TaskState::TaskKilled).await;
    assert_eq!(states(&updates).last(), Some(&"TASK_KILLED"), "{updates:?}");
    assert_no_containers_leak().await;
}

/// Mesos's `--host_path_volume_force_creation` (volume/host_path.cpp): a missing host path
/// under a listed directory is created as a directory and mounted; one outside every listed
/// directory still fails the launch, is not created, and the message names the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_paths_are_created_only_under_host_path_volume_force_creation() {
    let _serial = SERIAL.lock().await;
    let dir = temp_dir("docker-forcecreate");
    let allowed = dir.join("allowed");
    let mut c = Cluster::start_with(
        "forcecreate",
        false,
        socket(),
        vec![format!(
            "--host_path_volume_force_creation=/nonexistent-remesos:{}",
            allowed.display()
        )],
    )
    .await;
    let made = allowed.join("made/here");
    let mut container = docker_container(|_| {});
    container.volumes.push(v1::Volume {
        mode: v1::volume::Mode::Rw as i32,
        ..ro_volume(&made, "/data")
    });
    c.launch(|o| {
        docker_task(
            "fc",
            o,
            "cpus:0.1;mem:32",
            "echo made > /data/out",
            container,
        )
    })
    .await;
    let updates = c.updates_until(TaskState::TaskFinished).await;
    assert_eq!(
        states(&updates).last(),
        Some(&"TASK_FINISHED"),
        "{updates:?}"
    );
    assert_eq!(
        std::fs::read_to_string(made.join("out")).unwrap().trim(),
        "made"
    );
    // The finished task's container goes first (removed in the background).
    assert_no_containers_leak().await;
    let outside = dir.join("elsewhere/x");
    let mut container = docker_container(|_| {});
    container.volumes.push(ro_volume(&outside, "/data"));
    let message = c.launch_fails("fc2", "cpus:0.1;mem:32", container).await;
    assert!(
        message.contains(&format!("'{}'", outside.display()))
            && message.contains("not under a directory of --host_path_volume_force_creation"),
        "{message}"
    );
    assert!(
        !dir.join("elsewhere").exists(),
        "an unlisted host path was created"
    );
    assert_no_containers_leak().await;
}

/// Volumes are mounted read-only unless the volume asks for RW, and the container runs as
/// the task's user (`--user`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_volumes_stay_read_only_and_the_task_runs_as_its_user() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("volumes", false).await;
    let shared = c.dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("in"), "from-host\n").unwrap();
    let mut container = docker_container(|_| {});
    container.volumes.push(ro_volume(&shared, "/ro"));
    let command =
        "cat /ro/in && if echo x > /ro/out; then echo WROTE; else echo refused; fi; id -u";
    c.launch(|o| {
        let mut task = docker_task("vol", o, "cpus:0.1;mem:32", command, container);
        task.command.as_mut().unwrap().user = Some("nobody".into());
        task
    })
    .await;
    let updates = c.updates_until(TaskState::TaskFinished).await;
    assert_eq!(
        states(&updates).last(),
        Some(&"TASK_FINISHED"),
        "{updates:?}"
    );
    let stdout = std::fs::read_to_string(c.sandbox_of("vol").join("stdout")).unwrap();
    assert!(
        stdout.contains("from-host") && stdout.contains("refused"),
        "{stdout}"
    );
    assert!(!shared.join("out").exists());
    let nobody = String::from_utf8(
        std::process::Command::new("id")
            .args(["-u", "nobody"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        stdout.lines().any(|l| l.trim() == nobody.trim()),
        "{stdout}"
    );
    assert_no_containers_leak().await;
}

/// Mesos's docker containerizer with a persistent volume (issue 17): the volume is bound at
/// `$MESOS_SANDBOX/<container_path>` in the container (`-v`), never mounted in the agent's
/// namespace. A task writes into it; a second, after the first ended and its container was
/// removed, reads it back; a volume whose container path climbs out of the sandbox fails
/// the launch with its message and starts no container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_volume_is_bound_into_docker_tasks_and_outlives_them() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start_with(
        "docker-volume",
        false,
        socket(),
        vec!["--resources=cpus:4;mem:1024;disk:1024".into()],
    )
    .await;
    let agent_id =
        support::registered_agent_state(&format!("127.0.0.1:{}", c.agent_port)).await["id"]
            .as_str()
            .unwrap()
            .to_string();
    let work = c.dir.join("agent").canonicalize().unwrap();
    c.framework = volumes::subscribe(&c.master, "docker-volume").await;
    volumes::reserve_and_create(
        &c.master,
        &agent_id,
        &work,
        96.0,
        &[
            volumes::volume(64.0, "vol-d", "data", "RW"),
            volumes::volume(32.0, "vol-up", "up", "RW"),
        ],
    )
    .await;
    // `volume`, at `at` instead of its own container path if given.
    let run =
        async |c: &mut Cluster, id: &str, (volume, at): (&str, Option<&str>), command: &str| {
            let (offer, mut resource) = volumes::offer_with(&mut c.framework, volume).await;
            if let Some(path) = at {
                resource = volumes::used_at(resource, path);
            }
            let mut task = docker_task(
                id,
                &offer,
                "cpus:0.1;mem:32",
                command,
                docker_container(|_| {}),
            );
            task.resources.push(resource);
            c.framework.launch(&offer, vec![task]).await;
            c.updates_until(TaskState::TaskFinished).await
        };
    let writer = run(
        &mut c,
        "writer",
        ("vol-d", None),
        "echo persisted > $MESOS_SANDBOX/data/file && grep -q \" $MESOS_SANDBOX/data \" /proc/self/mountinfo && echo mounted",
    )
    .await;
    assert_eq!(
        states(&writer).last(),
        Some(&"TASK_FINISHED"),
        "{writer:?}\n{}",
        c.agent_log()
    );
    let stdout = std::fs::read_to_string(c.sandbox_of("writer").join("stdout")).unwrap();
    assert!(stdout.contains("mounted"), "{stdout}");
    let volume_dir = work.join("volumes/roles/r/vol-d");
    assert_eq!(
        std::fs::read_to_string(volume_dir.join("file")).unwrap(),
        "persisted\n"
    );
    assert_no_containers_leak().await;
    let reader = run(
        &mut c,
        "reader",
        ("vol-d", None),
        "cat $MESOS_SANDBOX/data/file",
    )
    .await;
    assert_eq!(states(&reader).last(), Some(&"TASK_FINISHED"), "{reader:?}");
    let stdout = std::fs::read_to_string(c.sandbox_of("reader").join("stdout")).unwrap();
    assert!(stdout.contains("persisted"), "{stdout}");
    // On the host the sandbox holds only the (empty) mount point.
    let mount_point = c.sandbox_of("reader").join("data");
    assert!(std::fs::symlink_metadata(&mount_point).unwrap().is_dir());
    assert!(!mount_point.join("file").exists());

    // Bad input: a container path that climbs out of the sandbox.
    let failed = run(&mut c, "climbs", ("vol-up", Some("a/../../up")), "true").await;
    assert_eq!(states(&failed), ["TASK_FAILED"], "{failed:?}");
    assert!(
        failed[0].message().contains("must stay inside the sandbox"),
        "{failed:?}"
    );
    assert!(!work.join("up").exists());
    assert_no_containers_leak().await;
    assert!(volumes::mounts_of(&work.join("volumes")).is_empty());
}

/// A container over its memory limit is killed by the kernel: TASK_FAILED with
/// REASON_CONTAINER_LIMITATION_MEMORY and a message that says to give it more memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_over_its_memory_fails_with_the_memory_limitation() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("oom", false).await;
    // 32 MB (Mesos's minimum) and a shell variable that doubles until it cannot.
    let command = "x=a; while :; do x=\"$x$x\"; done";
    c.launch_in_image("oom", "cpus:0.1;mem:32", command).await;
    let updates = c.updates_until(TaskState::TaskFailed).await;
    let last = updates.last().unwrap();
    assert_eq!(states(&updates).last(), Some(&"TASK_FAILED"), "{updates:?}");
    assert_eq!(
        last.reason,
        Some(v1::task_status::Reason::ContainerLimitationMemory as i32),
        "{last:?}"
    );
    assert!(
        last.message().contains("give the task more mem"),
        "{:?}",
        last.message
    );
    assert_no_containers_leak().await;
}

/// Mesos's agent does not start when its docker containerizer cannot reach dockerd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_dockerd_does_not_answer_refuses_to_start() {
    let dir = temp_dir("nodockerd");
    let (status, stderr) = support::run_to_exit(
        &[
            "agent".to_string(),
            "--master=127.0.0.1:1".into(),
            format!("--work_dir={}", dir.display()),
            "--containerizers=mesos,docker".into(),
            format!("--docker_socket={}", dir.join("no.sock").display()),
        ],
        &[],
    );
    assert!(!status.success());
    assert!(
        stderr.contains("cannot reach dockerd") && stderr.contains("no.sock"),
        "{stderr}"
    );
    let (status, stderr) = support::run_to_exit(
        &[
            "agent".to_string(),
            "--master=127.0.0.1:1".into(),
            format!("--work_dir={}", dir.display()),
            "--containerizers=mesos,rkt".into(),
        ],
        &[],
    );
    assert!(!status.success());
    assert!(stderr.contains("unknown containerizer 'rkt'"), "{stderr}");
}

/// remesos's own command executor as a custom executor in the test image, on `network`:
/// the binary mounted read-only with the host's C library into the busybox image; its task
/// (the executor's `--task_command`) checks it runs in the image and prints `task-in-image`.
fn in_docker_executor(
    o: &v1::Offer,
    network: Option<v1::container_info::docker_info::Network>,
) -> v1::TaskInfo {
    let binary = Path::new(env!("CARGO_BIN_EXE_remesos"));
    let mut container = docker_container(|d| d.network = network.map(|n| n as i32));
    let ro = ro_volume;
    container.volumes = vec![
        ro(binary.parent().unwrap(), "/opt/remesos"),
        ro(
            &std::fs::canonicalize("/lib/x86_64-linux-gnu").unwrap(),
            "/lib/x86_64-linux-gnu",
        ),
        ro(&std::fs::canonicalize("/lib64").unwrap(), "/lib64"),
    ];
    let executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId { value: "in-docker".into() },
        framework_id: Some(o.framework_id.clone()),
        // Docker's convention (Mesos `Docker::RunOptions::create`): the value, then
        // the arguments.
        command: Some(v1::CommandInfo {
            shell: Some(false),
            value: Some(format!("/opt/remesos/{}", binary.file_name().unwrap().to_string_lossy())),
            // A task of a custom executor has no command of its own (Mesos refuses
            // both): the command executor takes it from --task_command.
            arguments: vec![
                "executor".into(),
                r#"--task_command={"shell": true, "value": "test ! -e /usr && echo task-in-image"}"#.into(),
            ],
            ..Default::default()
        }),
        resources: offer_resources(o, "cpus:0.1;mem:64"),
        container: Some(container),
        ..Default::default()
    };
    let mut task = docker_task("ce", o, "cpus:0.1;mem:32", "true", docker_container(|_| {}));
    task.container = None;
    task.command = None;
    task.executor = Some(executor);
    task
}

impl Cluster {
    /// Waits for the custom executor's task to finish and its output to reach the sandbox;
    /// returns the updates.
    async fn custom_executor_finishes(&mut self) -> Vec<v1::TaskStatus> {
        let updates = self.updates_until(TaskState::TaskFinished).await;
        assert_eq!(
            states(&updates).last(),
            Some(&"TASK_FINISHED"),
            "{updates:?}\n{}",
            self.agent_log()
        );
        // The executor reports TASK_FINISHED over HTTP while its task's output still travels
        // container → dockerd → the attached `docker run` → the sandbox file: wait for it.
        let path = self.sandbox_of("in-docker").join("stdout");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let stdout = loop {
            let stdout = std::fs::read_to_string(&path).unwrap_or_default();
            if stdout.contains("task-in-image") || std::time::Instant::now() > deadline {
                break stdout;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(stdout.contains("task-in-image"), "{stdout}");
        updates
    }
}

/// Mesos docs/docker-containerizer.md: a custom executor whose `ExecutorInfo.container` is
/// DOCKER runs in its image — on the host network here, so it reaches the agent on
/// loopback — and runs its task in that container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_executor_runs_in_its_docker_container() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("custom", false).await;
    c.launch(|o| in_docker_executor(o, None)).await;
    c.custom_executor_finishes().await;
}

/// The bridge's gateway: the host's address on dockerd's default `bridge` network (on
/// tests/run.sh's dockerd, `remesos-br0`'s 172.31.254.1).
fn bridge_gateway() -> String {
    let (ok, out) = docker(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{(index .IPAM.Config 0).Gateway}}",
    ]);
    let gateway = out.trim().to_string();
    assert!(
        ok && gateway.parse::<std::net::Ipv4Addr>().is_ok(),
        "dockerd's bridge network has no gateway address: {out}"
    );
    gateway
}

/// A custom executor in a BRIDGE container (Mesos docs/docker-containerizer.md) reaches the
/// agent: the agent binds the bridge's gateway address (`--ip`), which is what it tells
/// executors (MESOS_AGENT_ENDPOINT, as Mesos gives its advertised `--ip`/`--advertise_ip`)
/// and which a bridged container can route to (loopback it cannot). The executor's calls
/// come from the container's own IP — not this host's — and are accepted because that IP
/// is a live container's (executor_peers.rs). The task finishes and its updates carry the
/// container's IP in `container_status.network_infos`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_executor_on_a_bridge_network_reaches_the_agent() {
    let _serial = SERIAL.lock().await;
    let gateway = bridge_gateway();
    let mut c = Cluster::start_with(
        "custom-bridge",
        false,
        socket(),
        vec![format!("--ip={gateway}")],
    )
    .await;
    c.launch(|o| in_docker_executor(o, Some(v1::container_info::docker_info::Network::Bridge)))
        .await;
    let updates = c.custom_executor_finishes().await;
    let (ok, inspected) = docker(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.IPAddress}}",
        &mesos_containers().first().cloned().unwrap_or_default(),
    ]);
    // The container may be gone already (--docker_remove_delay=0ns): then only the
    // updates' own address is checked against the bridge's subnet.
    let container_ip = ok.then(|| inspected.trim().to_string());
    for update in &updates {
        let ip = update
            .container_status
            .as_ref()
            .and_then(|s| s.network_infos.first())
            .and_then(|n| n.ip_addresses.first())
            .and_then(|a| a.ip_address.clone())
            .unwrap_or_else(|| panic!("no container IP in {update:?}"));
        assert_ne!(
            ip, gateway,
            "the agent's address, not the container's: {update:?}"
        );
        let ip: std::net::Ipv4Addr = ip.parse().unwrap();
        let gw: std::net::Ipv4Addr = gateway.parse().unwrap();
        assert_eq!(
            ip.octets()[..2],
            gw.octets()[..2],
            "{ip} is not on the bridge"
        );
        if let Some(container_ip) = container_ip.as_deref().filter(|i| !i.is_empty()) {
            assert_eq!(ip.to_string(), container_ip);
        }
    }
    assert!(
        !c.agent_log().contains("refusing an executor call"),
        "{}",
        c.agent_log()
    );
    assert_no_containers_leak().await;
}

/// Mesos docs/agent-recovery.md with the docker containerizer: `kill -9` of the agent
/// leaves the container running; the restarted agent takes it up again (the task stays
/// RUNNING and can still be killed) and, with `--docker_kill_orphans` (the default),
/// removes a `mesos-*` container it does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_reattaches_its_container_and_removes_orphans() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start("recover", true).await;
    let agent_id = c
        .launch_in_image("long", "cpus:0.1;mem:32", "exec sleep 1000")
        .await;
    c.until_running().await;
    let [ours] = mesos_containers().try_into().expect("one container");
    c.agent.take().unwrap().kill9();
    let (ok, out) = docker(&[
        "create",
        "--name",
        "mesos-orphan-of-no-agent",
        IMAGE,
        "true",
    ]);
    assert!(ok, "{out}");
    c.start_agent();
    for _ in 0..400 {
        if mesos_containers() == std::slice::from_ref(&ours) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        mesos_containers(),
        std::slice::from_ref(&ours),
        "{}",
        c.agent_log()
    );
    let (_, running) = docker(&["inspect", "--format", "{{.State.Running}}", &ours]);
    assert_eq!(running.trim(), "true");
    // The recovered executor still runs its task: the kill reaches the container.
    c.framework.kill("long", &agent_id).await;
    let updates = c.updates_until(TaskState::TaskKilled).await;
    assert_eq!(
        states(&updates).last(),
        Some(&"TASK_KILLED"),
        "{updates:?}\n{}",
        c.agent_log()
    );
    assert_no_containers_leak().await;
}

/// A dockerd of the test's own (the shared one must stay up for the other tests).
struct PrivateDockerd {
    dir: PathBuf,
    daemon: Option<std::process::Child>,
}

impl PrivateDockerd {
    fn start() -> PrivateDockerd {
        // Short: the daemon's sockets live under it (108 bytes at most).
        let dir = PathBuf::from(format!("/tmp/rmd-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let daemon = std::process::Command::new("dockerd")
            .args(["--iptables=false", "--ip-masq=false", "--bridge=none"])
            .arg(format!("--data-root={}", dir.join("data").display()))
            .arg(format!("--exec-root={}", dir.join("x").display()))
            .arg(format!("--pidfile={}", dir.join("pid").display()))
            .arg(format!("--host=unix://{}", dir.join("d.sock").display()))
            .stdout(std::fs::File::create(dir.join("log")).unwrap())
            .stderr(std::process::Stdio::from(
                std::fs::File::options()
                    .append(true)
                    .open(dir.join("log"))
                    .unwrap(),
            ))
            .spawn()
            .expect("dockerd (Debian's docker.io) starts");
        let mut d = PrivateDockerd {
            dir,
            daemon: Some(daemon),
        };
        for _ in 0..300 {
            let ok = std::process::Command::new("docker")
                .arg("-H")
                .arg(format!("unix://{}", d.socket()))
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                let script =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/docker/build-image.sh");
                let built = std::process::Command::new("bash")
                    .arg(script)
                    .arg(d.socket())
                    .status()
                    .unwrap();
                assert!(built.success());
                return d;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        d.stop();
        panic!("the private dockerd did not start");
    }

    fn socket(&self) -> String {
        self.dir.join("d.sock").display().to_string()
    }

    /// SIGTERM (dockerd stops its containers and its containerd), then waits.
    fn stop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(daemon.id() as i32, libc::SIGTERM);
            }
            for _ in 0..400 {
                if matches!(daemon.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::process::Command::new("rm")
            .arg("-rf")
            .arg(&self.dir)
            .status();
    }
}

/// dockerd going away under a running task: the task ends TASK_FAILED (its container went
/// with the daemon), the agent stays healthy, and no executor is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dockerd_stopped_mid_task_fails_the_task_and_the_agent_stays_up() {
    let _serial = SERIAL.lock().await;
    let mut dockerd = PrivateDockerd::start();
    let mut c = Cluster::start_on("nodaemon", false, dockerd.socket()).await;
    c.launch_in_image("mid", "cpus:0.1;mem:32", "exec sleep 600")
        .await;
    let updates = c.updates_until(TaskState::TaskRunning).await;
    assert_eq!(
        states(&updates).last(),
        Some(&"TASK_RUNNING"),
        "{}",
        c.agent_log()
    );
    dockerd.stop();
    let updates = c.updates_until(TaskState::TaskFailed).await;
    let last = updates.last().unwrap();
    assert_eq!(states(&updates).last(), Some(&"TASK_FAILED"), "{updates:?}");
    assert!(!last.message().is_empty());
    let http = remesos::client::HttpClient::default();
    let (status, _) = http
        .get(&format!("http://127.0.0.1:{}/health", c.agent_port))
        .await
        .unwrap();
    assert_eq!(status, 200);
}
