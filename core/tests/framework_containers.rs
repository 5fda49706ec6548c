//! Frameworks as their users write them launch both of Mesos's container types (issue 15,
//! item 4): a Java framework on Apache's mesos 1.11.0 jar through our libmesos.so
//! (java/examples ContainerScheduler) and a pymesos framework (tests/python/
//! pymesos_containers.py) each launch a command task in a DOCKER container (the agent's
//! docker containerizer, Mesos's docs/docker-containerizer.md) and one in a MESOS container
//! with a docker image (the mesos containerizer, docs/container-image.md), on one agent
//! with `--containerizers=docker,mesos`. Each sees both TASK_FINISHED, and each task's
//! output is in its sandbox, written from inside its image.
//!
//! Needs: `dockerd` on /var/run/docker.sock (or `$REMESOS_DOCKER_SOCKET`) — tests/run.sh's
//! e2e_prepare starts one and builds `remesos-test-busybox:latest`
//! (tests/docker/build-image.sh, which this test also runs when the image is missing);
//! Debian's `docker-registry` (tests/run.sh's `$REMESOS_REGISTRY`, else one started here)
//! for the mesos containerizer's image; busybox-static; a JDK, Maven's copy of Apache's jar
//! and the pymesos venv (tests/python/setup_venv.sh); the built libmesos.so. Without any of
//! them the test fails saying which.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

mod support;
use support::pymesos_python;

#[path = "support/images.rs"]
mod images;
#[path = "../../jni-driver/tests/support/mod.rs"]
mod jni_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{spawn_agent_logged, spawn_master, temp_dir};

/// The docker containerizer's image (tests/docker/build-image.sh).
const DOCKER_IMAGE: &str = "remesos-test-busybox:latest";

fn socket() -> String {
    std::env::var("REMESOS_DOCKER_SOCKET").unwrap_or_else(|_| "/var/run/docker.sock".into())
}

/// `docker -H unix://<socket> <args>`: its exit status and output.
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
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `stdout` of the latest run of every executor named `task` under the agent's work
/// directory (one per framework that launched it).
fn sandbox_stdouts(work: &Path, task: &str) -> Vec<String> {
    let mut found = vec![];
    for agent in std::fs::read_dir(work.join("slaves"))
        .into_iter()
        .flatten()
        .flatten()
    {
        // `slaves/latest` links to the current agent's directory.
        if agent.file_name() == "latest" {
            continue;
        }
        for framework in std::fs::read_dir(agent.path().join("frameworks"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let stdout: PathBuf = framework
                .path()
                .join("executors")
                .join(task)
                .join("runs/latest/stdout");
            if let Ok(text) = std::fs::read_to_string(&stdout) {
                found.push(text);
            }
        }
    }
    found
}

/// Each client's two tasks end TASK_FINISHED; each wrote its line from inside its image
/// (neither image has /usr, the host has), into the sandbox's stdout. Afterwards no docker
/// container and no mount of the agent's is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jni_driver_and_pymesos_launch_docker_and_mesos_image_containers() {
    let (ok, out) = docker(&["version", "--format", "{{.Server.Version}}"]);
    assert!(
        ok,
        "this test needs dockerd on {} (tests/run.sh e2e_prepare starts it): {out}",
        socket()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/docker/build-image.sh");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .arg(socket())
        .status()
        .unwrap();
    assert!(status.success(), "{} failed", script.display());
    assert!(
        mesos_containers().is_empty(),
        "mesos-* containers from elsewhere: {:?}",
        mesos_containers()
    );
    let python = pymesos_python();

    let dir = temp_dir("framework-containers");
    let registry = images::Registry::start(&dir).await;
    registry.push_image(
        "busybox",
        "1",
        &[images::busybox_layer()],
        serde_json::json!({ "Env": ["PATH=/bin"] }),
    );
    let mesos_image = format!("{}:1", registry.name("busybox"));
    let (_master, master) = spawn_master(&dir).await;
    let work = dir.join("agent");
    let port = support::free_port();
    let flags = [
        "--containerizers=docker,mesos".to_string(),
        format!("--docker_socket={}", socket()),
        "--docker_remove_delay=0ns".to_string(),
        "--image_providers=docker".to_string(),
        format!("--docker_registry=http://{}", registry.addr),
        format!("--docker_store_dir={}", dir.join("store").display()),
        "--isolation=filesystem/linux,docker/runtime".to_string(),
        "--launcher=linux".to_string(),
    ];
    let _agent = spawn_agent_logged(&master, port, &work, &flags, Some(&dir.join("agent.log")));
    support::registered_agent_state(&format!("127.0.0.1:{port}")).await;
    let agent_log = || std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default();

    // The Java framework on Apache's jar, through libmesos.so.
    let java = tokio::task::block_in_place(|| {
        let (_, library) = jni_support::artifacts();
        let jar = "apache-1.11.0";
        let cp = jni_support::compile_examples(jar, &jni_support::classpath(jar));
        jni_support::run_java(
            &cp,
            "org.remesos.examples.ContainerScheduler",
            &[
                &master,
                DOCKER_IMAGE,
                &mesos_image,
                "test ! -e /usr && echo from-java-in-image",
            ],
            Some(library.as_path()),
            Duration::from_secs(120),
        )
    });
    assert_eq!(java.code, Some(0), "{}\n{}", java.dump(), agent_log());
    for task in ["docker", "mesos"] {
        for state in ["TASK_RUNNING", "TASK_FINISHED"] {
            let update = format!("{task} {state}");
            assert!(!java.lines(&update).is_empty(), "{}", java.dump());
        }
    }
    assert!(
        java.has("driver ended: DRIVER_STOPPED, finished 2/2"),
        "{}",
        java.dump()
    );

    // pymesos, on the v1 scheduler API.
    let out = support::run_python_framework(
        &python,
        "pymesos_containers.py",
        &master,
        &[
            "--docker-image",
            DOCKER_IMAGE,
            "--mesos-image",
            &mesos_image,
            "--command",
            "test ! -e /usr && echo from-pymesos-in-image",
        ],
    )
    .await;
    for task in ["docker", "mesos"] {
        let update = format!("{task} TASK_FINISHED");
        assert!(out.lines().any(|l| l.starts_with(&update)), "{out}");
    }

    // Each task's output, in its sandbox: one per client and container type.
    for task in ["docker", "mesos"] {
        let stdouts = sandbox_stdouts(&work, task);
        assert_eq!(stdouts.len(), 2, "{task}: {stdouts:?}");
        for client in ["from-java-in-image", "from-pymesos-in-image"] {
            let by = stdouts.iter().filter(|s| s.contains(client)).count();
            assert_eq!(by, 1, "{task}, {client}: {stdouts:?}");
        }
    }

    // Nothing left: no container, no mount under the test's directory.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let place = dir.display().to_string();
    loop {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let left: Vec<&str> = mounts.lines().filter(|l| l.contains(&place)).collect();
        let containers = mesos_containers();
        if left.is_empty() && containers.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: mounts {left:#?}, containers {containers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
