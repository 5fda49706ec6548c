//! The mesos containerizer with container images (issue 15 item 3), end to end: a real
//! `remesos master` and `remesos agent` (as root) pulling from a real registry v2
//! (Debian's `docker-registry`, started here on loopback with a temporary storage
//! directory) and from a directory of `docker save` archives.
//!
//! The images are built here, without any outside registry: a rootfs from Debian's
//! `busybox-static` (`/bin/busybox`) in one layer, and a second layer with a file, a
//! whiteout and the image config (Entrypoint, Cmd, Env, WorkingDir, User).
//!
//! Needs: root, `/bin/busybox` (busybox-static), `/usr/bin/docker-registry`
//! (docker-registry), overlayfs. tests/run.sh's `e2e_prepare` installs the packages; run
//! alone, this suite fails (never skips) with a message naming what is missing.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

#[path = "support/images.rs"]
mod images;
mod support;
#[path = "support/volumes.rs"]
mod volumes;
use support::temp_dir;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use images::{
    BUSYBOX, REGISTRY, REGISTRY_PASSWORD, REGISTRY_USER, Registry, app_layer, append_file,
    append_raw, append_symlink, base64, busybox_layer, docker_save, gzip, image_config, sha256_hex,
};
use remesos_proto::v1;
use support::{Daemon, TestFramework, command_task, free_port, spawn_agent_logged, spawn_master};
use v1::TaskState;
use v1::task_status::Reason;

fn require_tools() {
    assert!(
        rustix::process::geteuid().is_root(),
        "mesos_images needs root (mount namespaces, overlayfs, pivot_root)"
    );
    for (path, package) in [(BUSYBOX, "busybox-static"), (REGISTRY, "docker-registry")] {
        assert!(
            Path::new(path).exists(),
            "mesos_images needs {path}: apt-get install -y {package} (tests/run.sh e2e_prepare does)"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The cluster and its checks.

/// A directory of `docker save` archives holding `app:1.0` (for `--docker_registry`).
fn app_archives(dir: &Path) -> PathBuf {
    let archives = dir.join("archives");
    std::fs::create_dir_all(&archives).unwrap();
    let archive = docker_save(
        "app",
        "1.0",
        &[busybox_layer(), app_layer()],
        image_config(),
    );
    std::fs::write(archives.join("app:1.0.tar"), archive).unwrap();
    archives
}

fn image_task(id: &str, offer: &v1::Offer, command: Option<&str>, image: &str) -> v1::TaskInfo {
    let mut task = command_task(id, offer, "cpus:0.1;mem:32", command.unwrap_or(""));
    if command.is_none() {
        // argv form without a value: the image's Entrypoint and Cmd run.
        let c = task.command.as_mut().unwrap();
        c.shell = Some(false);
        c.value = None;
    }
    task.container = Some(images::docker_container(image));
    task
}

/// The terminal update of each of `ids`.
async fn terminal_updates(
    framework: &mut TestFramework,
    ids: &[&str],
) -> std::collections::BTreeMap<String, v1::TaskStatus> {
    let mut ends = std::collections::BTreeMap::new();
    while ends.len() < ids.len() {
        let status = framework.next_update(Duration::from_secs(120)).await;
        if TaskState::try_from(status.state).is_ok_and(remesos::common::protocol::is_terminal) {
            ends.insert(status.task_id.value.clone(), status);
        }
    }
    ends
}

fn sandbox_file(work_dir: &Path, status: &v1::TaskStatus, fid: &str, name: &str) -> String {
    let aid = &status.agent_id.as_ref().unwrap().value;
    let path = work_dir
        .join("slaves")
        .join(aid)
        .join("frameworks")
        .join(fid)
        .join("executors")
        .join(&status.task_id.value)
        .join("runs/latest")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The agent's tasks in TASK_RUNNING, from its `/state`.
fn running_tasks(state: &serde_json::Value) -> Vec<serde_json::Value> {
    state["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["executors"].as_array().cloned().unwrap_or_default())
        .flat_map(|e| e["tasks"].as_array().cloned().unwrap_or_default())
        .filter(|t| t["state"] == "TASK_RUNNING")
        .collect()
}

/// Whether any overlay rootfs of the agent's provisioner below `work` is mounted.
fn rootfs_mounted(work: &Path) -> bool {
    let provisioner = work.join("provisioner");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(provisioner.to_str().unwrap())
}

/// Updates until TASK_RUNNING; a TASK_FAILED before it fails the test with its message.
async fn until_running(framework: &mut TestFramework) {
    loop {
        let status = framework.next_update(Duration::from_secs(60)).await;
        assert!(
            status.state != TaskState::TaskFailed as i32,
            "{:?}",
            status.message
        );
        if status.state == TaskState::TaskRunning as i32 {
            return;
        }
    }
}

/// Waits (bounded) until nothing of the agent's containers is left: no mount under its
/// provisioner directory in this (the agent's) mount namespace, no container rootfs
/// directory, no staging leftovers.
async fn assert_no_leaks(work_dir: &Path, store: &Path) {
    let provisioner = work_dir.join("provisioner");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mounts: Vec<&str> = mountinfo
            .lines()
            .filter(|l| l.contains(provisioner.to_str().unwrap()))
            .collect();
        let containers: Vec<_> = std::fs::read_dir(provisioner.join("containers"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        let staging: Vec<_> = std::fs::read_dir(store.join("staging"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        if mounts.is_empty() && containers.is_empty() && staging.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "leaked: mounts {mounts:?}, container dirs {containers:?}, staging {staging:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn image_flags<'a>(store: &'a str, registry: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut flags = vec![
        "--image_providers=docker".to_string(),
        format!("--docker_registry={registry}"),
        format!("--docker_store_dir={store}"),
        "--launcher=linux".to_string(),
        "--fetcher_stall_timeout=3secs".to_string(),
    ];
    flags.extend(extra.iter().map(|s| s.to_string()));
    flags
}

async fn start_agent(master: &str, dir: &Path, flags: &[String]) -> (Daemon, String, PathBuf) {
    let port = free_port();
    let work = dir.join("agent");
    let daemon = spawn_agent_logged(master, port, &work, flags, Some(&dir.join("agent.log")));
    let addr = format!("127.0.0.1:{port}");
    support::registered_agent_state(&addr).await;
    (daemon, addr, work.canonicalize().unwrap())
}

/// A master (its daemon and address), and the flags of an image agent pulling `app:1.0`
/// from a `docker save` directory in a new test directory `name` (returned, with the
/// image store in it), plus `extra`.
async fn local_images(
    name: &str,
    extra: &[&str],
) -> (PathBuf, PathBuf, Daemon, String, Vec<String>) {
    require_tools();
    let dir = temp_dir(name);
    let archives = app_archives(&dir);
    let store = dir.join("store");
    let (daemon, master) = spawn_master(&dir).await;
    let mut all = vec!["--isolation=filesystem/linux,docker/runtime"];
    all.extend_from_slice(extra);
    let flags = image_flags(store.to_str().unwrap(), archives.to_str().unwrap(), &all);
    (dir, store, daemon, master, flags)
}

// ---------------------------------------------------------------------------------------

/// Mesos's docker/runtime isolator: a shell command runs as given with the image's Env;
/// argv without a value runs Entrypoint + Cmd in WorkingDir; the image's User is not
/// applied (the task's user is). filesystem/linux: the sandbox at MESOS_SANDBOX
/// (`--sandbox_directory`), whiteouts applied, host_path (read-only unless RW) and
/// sandbox_path volumes; namespaces/pid: the task sees the container's pid namespace only.
/// Layers are stored once for both tasks; nothing is left mounted afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_tasks_run_in_a_registry_image_with_its_runtime_volumes_and_pid_namespace() {
    require_tools();
    let dir = temp_dir("images-registry");
    let registry = Registry::start(&dir).await;
    registry.push_image(
        "app",
        "1.0",
        &[busybox_layer(), app_layer()],
        image_config(),
    );
    let store = dir.join("store");
    let (_master, master) = spawn_master(&dir).await;
    let flags = image_flags(
        store.to_str().unwrap(),
        &format!("http://{}", registry.addr),
        &[
            "--isolation=filesystem/linux,docker/runtime,namespaces/pid",
            "--image_provisioner_backend=overlay",
        ],
    );
    let (_agent, _addr, work) = start_agent(&master, &dir, &flags).await;
    let host_volume = dir.join("hostvol");
    std::fs::create_dir_all(&host_volume).unwrap();
    std::fs::write(host_volume.join("file"), "from-the-host\n").unwrap();

    // The framework's user (the sandbox's owner and sandbox_path volumes' too).
    let mut framework = TestFramework::subscribe_info(
        &master,
        v1::FrameworkInfo {
            user: "nobody".into(),
            name: "images".into(),
            ..Default::default()
        },
    )
    .await;
    let fid = framework.sub.framework_id.value.clone();
    let offer = framework.next_offer().await;
    let mut shell = image_task(
        "shell",
        &offer,
        Some(
            "echo image-var=$IMAGE_VAR; cat /data/hello; test -e /etc/removed || echo whiteout-applied; \
             echo uid=$(id -u); echo sandbox=$MESOS_SANDBOX; echo pid=$$; \
             echo procs=$(ls /proc | grep -c '^[0-9]'); cat /hostvol/file; \
             touch /hostvol/written 2>/dev/null || echo host-volume-read-only; \
             echo from-task > /sandboxvol/out; echo sandbox-file > $MESOS_SANDBOX/in-sandbox",
        ),
        &format!("{}:1.0", registry.name("app")),
    );
    let container = shell.container.as_mut().unwrap();
    container.volumes = vec![
        v1::Volume {
            mode: v1::volume::Mode::Ro as i32,
            container_path: "/hostvol".into(),
            host_path: Some(host_volume.display().to_string()),
            ..Default::default()
        },
        v1::Volume {
            mode: v1::volume::Mode::Rw as i32,
            container_path: "/sandboxvol".into(),
            source: Some(v1::volume::Source {
                r#type: Some(v1::volume::source::Type::SandboxPath as i32),
                sandbox_path: Some(v1::volume::source::SandboxPath {
                    r#type: Some(v1::volume::source::sandbox_path::Type::Self_ as i32),
                    path: "shared".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let entrypoint = image_task(
        "entrypoint",
        &offer,
        None,
        &format!("{}:1.0", registry.name("app")),
    );
    framework.launch(&offer, vec![shell, entrypoint]).await;
    let ends = terminal_updates(&mut framework, &["shell", "entrypoint"]).await;

    let shell = &ends["shell"];
    let out = sandbox_file(&work, shell, &fid, "stdout");
    let err = sandbox_file(&work, shell, &fid, "stderr");
    assert_eq!(
        shell.state,
        TaskState::TaskFinished as i32,
        "{:?}\n{out}\n{err}",
        shell.message
    );
    for expected in [
        "image-var=from-image-env",
        "hello from the image",
        "whiteout-applied",
        "uid=65534",
        "sandbox=/mnt/mesos/sandbox",
        "from-the-host",
        "host-volume-read-only",
    ] {
        assert!(
            out.contains(expected),
            "missing '{expected}' in:\n{out}\n{err}"
        );
    }
    // namespaces/pid: the executor is the namespace's init and the task one of a handful of
    // processes (the agent's and the host's are not visible).
    let pid: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("pid="))
        .unwrap()
        .parse()
        .unwrap();
    let procs: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("procs="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        pid < 10 && procs < 10,
        "pid={pid} procs={procs}: not a fresh pid namespace"
    );
    assert_eq!(
        sandbox_file(&work, shell, &fid, "shared/out"),
        "from-task\n"
    );
    assert_eq!(
        sandbox_file(&work, shell, &fid, "in-sandbox"),
        "sandbox-file\n"
    );
    assert!(!host_volume.join("written").exists());

    let entry = &ends["entrypoint"];
    let out = sandbox_file(&work, entry, &fid, "stdout");
    assert_eq!(
        entry.state,
        TaskState::TaskFinished as i32,
        "{:?}\n{out}",
        entry.message
    );
    assert!(out.contains("from-image-cmd"), "{out}");
    assert!(out.contains("\n/work\n"), "WorkingDir not applied:\n{out}");
    assert!(out.contains("image-var=from-image-env"), "{out}");

    // Both containers shared the image's two layers.
    assert_eq!(std::fs::read_dir(store.join("layers")).unwrap().count(), 2);
    assert_no_leaks(&work, &store).await;
}

/// The legacy `docker save` directory as `--docker_registry`, with the copy backend and
/// without a pid namespace; an image missing from it fails with Mesos's message. With
/// `--host_path_volume_force_creation` (Mesos's volume/host_path.cpp), a missing host path
/// under a listed directory is created and mounted, one elsewhere fails and is not created.
/// A COMMAND health check runs inside the task's image.
/// Mesos's `filesystem/linux` with a persistent volume (issue 17): the volume is
/// bind-mounted at `$MESOS_SANDBOX/<container_path>` inside the image's rootfs, in the
/// container's mount namespace only. A task writes into it; a second, after the first
/// ended, reads it back; a read-only use of the same volume cannot write; a volume whose
/// container path is absolute fails the task with Mesos's message; no mount of the volumes
/// is ever seen in the agent's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_volume_is_bound_into_image_tasks_and_outlives_them() {
    let (dir, store, _master, master, flags) =
        local_images("images-volume", &["--resources=cpus:4;mem:1024;disk:1024"]).await;
    let (_agent, addr, work) = start_agent(&master, &dir, &flags).await;
    let agent_id = support::registered_agent_state(&addr).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut framework = volumes::subscribe(&master, "images-volume").await;
    let fid = framework.sub.framework_id.value.clone();
    volumes::reserve_and_create(
        &master,
        &agent_id,
        &work,
        96.0,
        &[
            volumes::volume(64.0, "vol-img", "data", "RW"),
            volumes::volume(32.0, "vol-abs", "abs", "RW"),
        ],
    )
    .await;
    let volumes_dir = work.join("volumes");

    // `volume`, at `at` instead of its own container path if given.
    let run = async |framework: &mut TestFramework,
                     id: &str,
                     (volume, at): (&str, Option<&str>),
                     command: &str| {
        let (offer, mut resource) = volumes::offer_with(framework, volume).await;
        if let Some(path) = at {
            resource = volumes::used_at(resource, path);
        }
        let mut task = image_task(id, &offer, Some(command), "app:1.0");
        task.resources.push(resource);
        framework.launch(&offer, vec![task]).await;
        terminal_updates(framework, &[id]).await.remove(id).unwrap()
    };
    let writer = run(
        &mut framework,
        "writer",
        ("vol-img", None),
        "echo persisted > $MESOS_SANDBOX/data/file && grep -q \" $MESOS_SANDBOX/data \" /proc/self/mountinfo && echo mounted",
    )
    .await;
    assert_eq!(
        writer.state,
        TaskState::TaskFinished as i32,
        "{:?} {}",
        writer.message,
        sandbox_file(&work, &writer, &fid, "stderr")
    );
    assert!(sandbox_file(&work, &writer, &fid, "stdout").contains("mounted"));
    let host = work.join("volumes/roles/r/vol-img/file");
    assert_eq!(std::fs::read_to_string(&host).unwrap(), "persisted\n");
    let reader = run(
        &mut framework,
        "reader",
        ("vol-img", None),
        "cat $MESOS_SANDBOX/data/file",
    )
    .await;
    assert_eq!(
        reader.state,
        TaskState::TaskFinished as i32,
        "{:?}",
        reader.message
    );
    assert_eq!(sandbox_file(&work, &reader, &fid, "stdout"), "persisted\n");
    // On the host the sandbox holds only the mount point (a directory), not the data.
    let mount_point = work
        .join("slaves")
        .join(&agent_id)
        .join("frameworks")
        .join(&fid)
        .join("executors/reader/runs/latest/data");
    let meta = std::fs::symlink_metadata(&mount_point).unwrap();
    assert!(meta.is_dir(), "{}", mount_point.display());
    assert!(!mount_point.join("file").exists());

    // Bad input: a task using a volume at an absolute container path (the master refuses
    // one at CREATE; a task may give its own) is refused before any mount.
    let failed = run(
        &mut framework,
        "absolute",
        ("vol-abs", Some("/etc")),
        "true",
    )
    .await;
    assert_eq!(failed.state, TaskState::TaskFailed as i32);
    let message = failed.message.clone().unwrap_or_default();
    assert!(
        message.contains("Absolute container path '/etc' is not supported"),
        "{message}"
    );
    assert!(volumes::mounts_of(&volumes_dir).is_empty());
    assert_no_leaks(&work, &store).await;
    assert!(volumes::mounts_of(&volumes_dir).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_tasks_run_in_images_from_a_docker_save_directory_with_the_copy_backend() {
    let (dir, store, _master, master, flags) =
        local_images("images-local", &["--image_provisioner_backend=copy"]).await;
    let allowed = dir.join("allowed");
    let mut flags = flags;
    flags.push(format!(
        "--host_path_volume_force_creation={}",
        allowed.display()
    ));
    let (_agent, _addr, work) = start_agent(&master, &dir, &flags).await;
    let mut framework = TestFramework::subscribe(&master, "images-local", false).await;
    let fid = framework.sub.framework_id.value.clone();
    let offer = framework.next_offer().await;
    let ok = image_task(
        "local",
        &offer,
        Some(
            "cat /data/hello; test -e /etc/removed || echo whiteout-applied; echo image-var=$IMAGE_VAR",
        ),
        "app:1.0",
    );
    let missing = image_task("missing", &offer, Some("true"), "nothere:1.0");
    let host_volume = |task: &mut v1::TaskInfo, host: &Path| {
        task.container.as_mut().unwrap().volumes.push(v1::Volume {
            mode: v1::volume::Mode::Rw as i32,
            container_path: "/made".into(),
            host_path: Some(host.display().to_string()),
            ..Default::default()
        });
    };
    let made = allowed.join("made/here");
    let mut created = image_task("created", &offer, Some("echo made > /made/out"), "app:1.0");
    host_volume(&mut created, &made);
    let outside = dir.join("elsewhere/x");
    let mut unlisted = image_task("unlisted", &offer, Some("true"), "app:1.0");
    host_volume(&mut unlisted, &outside);
    // A COMMAND health check runs in the task's image: only there is `/usr` missing (the
    // host has one), so only there does it leave the file the task waits for. Run on the
    // host it would fail, and one failure without grace kills the task.
    let mut checked = image_task(
        "checked",
        &offer,
        Some("while test ! -e /mnt/mesos/sandbox/checked; do sleep 0.1; done; echo check-passed"),
        "app:1.0",
    );
    checked.health_check = Some(v1::HealthCheck {
        r#type: Some(v1::health_check::Type::Command as i32),
        command: Some(v1::CommandInfo {
            value: Some("test ! -e /usr && touch /mnt/mesos/sandbox/checked".into()),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.5),
        timeout_seconds: Some(20.0),
        grace_period_seconds: Some(0.0),
        consecutive_failures: Some(1),
        ..Default::default()
    });
    assert!(
        Path::new("/usr").is_dir(),
        "the host needs /usr for this test"
    );
    framework
        .launch(&offer, vec![ok, missing, created, unlisted, checked])
        .await;
    let ends = terminal_updates(
        &mut framework,
        &["local", "missing", "created", "unlisted", "checked"],
    )
    .await;
    assert_eq!(
        ends["checked"].state,
        TaskState::TaskFinished as i32,
        "{:?}",
        ends["checked"].message
    );
    assert_eq!(
        ends["created"].state,
        TaskState::TaskFinished as i32,
        "{:?}",
        ends["created"].message
    );
    assert_eq!(
        std::fs::read_to_string(made.join("out")).unwrap().trim(),
        "made"
    );
    let unlisted = &ends["unlisted"];
    assert_eq!(unlisted.state, TaskState::TaskFailed as i32);
    assert_eq!(unlisted.reason, Some(Reason::ContainerLaunchFailed as i32));
    assert!(
        unlisted
            .message()
            .contains(&format!("'{}'", outside.display()))
            && unlisted
                .message()
                .contains("not under a directory of --host_path_volume_force_creation"),
        "{:?}",
        unlisted.message
    );
    assert!(
        !dir.join("elsewhere").exists(),
        "an unlisted host path was created"
    );
    let local = &ends["local"];
    let out = sandbox_file(&work, local, &fid, "stdout");
    assert_eq!(
        local.state,
        TaskState::TaskFinished as i32,
        "{:?}\n{out}",
        local.message
    );
    for expected in [
        "hello from the image",
        "whiteout-applied",
        "image-var=from-image-env",
    ] {
        assert!(out.contains(expected), "missing '{expected}' in:\n{out}");
    }
    let missing = &ends["missing"];
    assert_eq!(missing.state, TaskState::TaskFailed as i32);
    assert_eq!(missing.reason, Some(Reason::ContainerLaunchFailed as i32));
    assert!(
        missing
            .message()
            .contains("Failed to find archive for image 'nothere:1.0'"),
        "{:?}",
        missing.message
    );
    assert_no_leaks(&work, &store).await;
}

/// Bad images and registries: each fails its task with REASON_CONTAINER_LAUNCH_FAILED and a
/// message that says what to fix, stores nothing, leaks nothing, and the agent still runs
/// tasks. An escaping layer never writes outside its directory (the CVE-2019-0204 class).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_images_and_registries_fail_the_task_and_leave_the_agent_healthy() {
    require_tools();
    let dir = temp_dir("images-bad");
    let registry = Registry::start(&dir).await;
    registry.push_image("good", "1", &[busybox_layer()], image_config());
    // A corrupt layer: its blob changed in the registry's storage after the push.
    let corrupt_layer = {
        let mut b = tar::Builder::new(Vec::new());
        append_file(&mut b, "corrupt", 0o644, b"soon corrupt");
        b.into_inner().unwrap()
    };
    registry.push_image(
        "corrupt",
        "1",
        std::slice::from_ref(&corrupt_layer),
        image_config(),
    );
    registry.corrupt_blob(&format!("sha256:{}", sha256_hex(&gzip(&corrupt_layer))));
    // Layers that try to leave their directory.
    let victim = dir.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    let dotdot = {
        let mut b = tar::Builder::new(Vec::new());
        append_raw(
            &mut b,
            "../../../../../../../../../../tmp/remesos-escaped",
            b"x",
        );
        b.into_inner().unwrap()
    };
    registry.push_image("dotdot", "1", &[dotdot], image_config());
    let symlink = {
        let mut b = tar::Builder::new(Vec::new());
        append_symlink(&mut b, "escape", victim.to_str().unwrap());
        append_file(&mut b, "escape/planted", 0o644, b"x");
        b.into_inner().unwrap()
    };
    registry.push_image("symlink", "1", &[symlink], image_config());
    // A registry that accepts connections and never answers, one that refuses.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refusing_addr = refusing.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in refusing.incoming().flatten() {
            let mut stream = stream;
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });

    let store = dir.join("store");
    let (_master, master) = spawn_master(&dir).await;
    let flags = image_flags(
        store.to_str().unwrap(),
        &format!("http://{}", registry.addr),
        &["--isolation=filesystem/linux,docker/runtime"],
    );
    let (_agent, agent, work) = start_agent(&master, &dir, &flags).await;
    let mut framework = TestFramework::subscribe(&master, "images-bad", false).await;
    let offer = framework.next_offer().await;
    let mut appc = image_task("appc", &offer, Some("true"), "unused");
    appc.container
        .as_mut()
        .unwrap()
        .mesos
        .as_mut()
        .unwrap()
        .image = Some(v1::Image {
        r#type: v1::image::Type::Appc as i32,
        appc: Some(v1::image::Appc {
            name: "example.com/app".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    let image = |name: &str| format!("{}:1", registry.name(name));
    let cases = [
        ("nonexistent", image("nosuchimage"), "404 Not Found"),
        ("corrupt", image("corrupt"), "is corrupt"),
        ("dotdot", image("dotdot"), "outside its directory"),
        ("symlink", image("symlink"), "goes through a symlink"),
        (
            "silent",
            format!("{silent_addr}/app:1"),
            "did not answer within",
        ),
        ("refusing", format!("{refusing_addr}/app:1"), "HTTP 403"),
        (
            "badname",
            "../etc:1".to_string(),
            "invalid docker image reference",
        ),
    ];
    let mut tasks: Vec<v1::TaskInfo> = cases
        .iter()
        .map(|(id, image, _)| image_task(id, &offer, Some("true"), image))
        .collect();
    tasks.push(appc);
    framework.launch(&offer, tasks).await;
    let mut ids: Vec<&str> = cases.iter().map(|(id, _, _)| *id).collect();
    ids.push("appc");
    let ends = terminal_updates(&mut framework, &ids).await;
    let appc_case = (
        "appc",
        String::new(),
        "Unsupported container image type: APPC",
    );
    for (id, _, expected) in cases.iter().chain([&appc_case]) {
        let status = &ends[*id];
        assert_eq!(
            status.state,
            TaskState::TaskFailed as i32,
            "{id}: {:?}",
            status.message
        );
        assert_eq!(
            status.reason,
            Some(Reason::ContainerLaunchFailed as i32),
            "{id}"
        );
        assert!(
            status.message().contains(expected),
            "{id}: {:?}",
            status.message
        );
    }
    drop(silent);
    assert!(!Path::new("/tmp/remesos-escaped").exists());
    assert!(!victim.join("planted").exists());
    // Nothing of the failed pulls was stored.
    assert_eq!(std::fs::read_dir(store.join("layers")).unwrap().count(), 0);
    assert_no_leaks(&work, &store).await;

    // The agent is healthy: it still runs an image task.
    let offer = framework.next_offer().await;
    framework
        .launch(
            &offer,
            vec![image_task(
                "after",
                &offer,
                Some("echo still-fine"),
                &image("good"),
            )],
        )
        .await;
    let ends = terminal_updates(&mut framework, &["after"]).await;
    assert_eq!(
        ends["after"].state,
        TaskState::TaskFinished as i32,
        "{:?}",
        ends["after"].message
    );
    let http = remesos::client::HttpClient::default();
    assert_eq!(
        http.get(&format!("http://{agent}/health")).await.unwrap().0,
        200
    );
    assert_no_leaks(&work, &store).await;
}

/// `--docker_config` credentials for the mesos containerizer's puller (Mesos's
/// `getAuthHeaderBasic`, src/uri/fetchers/docker.cpp: the entry whose key names the
/// registry's `host[:port]`, a scheme and path dropped): against a registry with
/// `auth: htpasswd`, the right credential pulls and the task runs; a wrong one, and none,
/// fail the task with REASON_CONTAINER_LAUNCH_FAILED and a message naming the registry's
/// refusal; nothing of the refused pulls is stored. The secret appears neither in the
/// agent's log nor in its `/flags`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_credentials_in_docker_config_pull_private_images_and_stay_secret() {
    require_tools();
    let dir = temp_dir("images-auth");
    let registry = Registry::start_with_htpasswd(&dir).await;
    registry.push_image("private", "1", &[busybox_layer()], image_config());
    let port = registry.addr.rsplit_once(':').unwrap().1.to_string();
    let right = base64(format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}").as_bytes());
    let wrong = base64(format!("{REGISTRY_USER}:not-the-password").as_bytes());
    // One registry under two names: 127.0.0.1 with the right credential, localhost (keyed
    // as a URL, as `docker login` writes Docker Hub's) with a wrong one.
    let docker_config = serde_json::json!({"auths": {
        format!("127.0.0.1:{port}"): {"auth": right},
        format!("http://localhost:{port}/v2/"): {"auth": wrong},
    }})
    .to_string();
    let (_master, master) = spawn_master(&dir).await;
    let registry_url = format!("http://{}", registry.addr);
    let isolation = "--isolation=filesystem/linux,docker/runtime";
    let with_config = dir.join("with-config");
    std::fs::create_dir_all(&with_config).unwrap();
    let store = with_config.join("store");
    let mut flags = image_flags(store.to_str().unwrap(), &registry_url, &[isolation]);
    flags.push(format!("--docker_config={docker_config}"));
    let (_agent, addr, work) = start_agent(&master, &with_config, &flags).await;
    let without = dir.join("without-config");
    std::fs::create_dir_all(&without).unwrap();
    let bare_store = without.join("store");
    let flags = image_flags(bare_store.to_str().unwrap(), &registry_url, &[isolation]);
    let (_bare_agent, bare_addr, _) = start_agent(&master, &without, &flags).await;
    let bare_id = support::registered_agent_state(&bare_addr).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut framework = TestFramework::subscribe(&master, "images-auth", false).await;
    let fid = framework.sub.framework_id.value.clone();
    // One event may carry both agents' offers.
    let (mut with_offer, mut bare_offer) = (None, None);
    while with_offer.is_none() || bare_offer.is_none() {
        let event = tokio::time::timeout(Duration::from_secs(30), framework.sub.next_event())
            .await
            .expect("offers in time")
            .unwrap();
        for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
            if offer.agent_id.value == bare_id {
                bare_offer = Some(offer);
            } else {
                with_offer = Some(offer);
            }
        }
    }
    let (with_offer, bare_offer) = (with_offer.unwrap(), bare_offer.unwrap());
    let name = registry.name("private");
    framework
        .launch(
            &with_offer,
            vec![
                image_task(
                    "right",
                    &with_offer,
                    Some("echo pulled-with-credentials"),
                    &format!("{name}:1"),
                ),
                image_task(
                    "wrong",
                    &with_offer,
                    Some("true"),
                    &format!("localhost:{port}/{name}:1"),
                ),
            ],
        )
        .await;
    framework
        .launch(
            &bare_offer,
            vec![image_task(
                "anonymous",
                &bare_offer,
                Some("true"),
                &format!("{name}:1"),
            )],
        )
        .await;
    let ends = terminal_updates(&mut framework, &["right", "wrong", "anonymous"]).await;
    let ok = &ends["right"];
    assert_eq!(ok.state, TaskState::TaskFinished as i32, "{:?}", ok.message);
    assert!(sandbox_file(&work, ok, &fid, "stdout").contains("pulled-with-credentials"));
    for (id, expected) in [
        (
            "wrong",
            "refused the credentials --docker_config holds for it (401 Unauthorized",
        ),
        (
            "anonymous",
            "(401 Unauthorized): it needs credentials; put them in --docker_config",
        ),
    ] {
        let status = &ends[id];
        assert_eq!(
            status.state,
            TaskState::TaskFailed as i32,
            "{id}: {status:?}"
        );
        assert_eq!(
            status.reason,
            Some(Reason::ContainerLaunchFailed as i32),
            "{id}"
        );
        assert!(
            status.message().contains(expected),
            "{id}: {:?}",
            status.message
        );
    }
    // The right pull stored its layer; the refused ones stored nothing.
    assert_eq!(std::fs::read_dir(store.join("layers")).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_dir(bare_store.join("layers"))
            .unwrap()
            .count(),
        0
    );

    // The secret is in no log line and not shown by /flags.
    let http = remesos::client::HttpClient::default();
    let (status, body) = http.get(&format!("http://{addr}/flags")).await.unwrap();
    assert_eq!(status, 200);
    let shown = String::from_utf8_lossy(&body).into_owned();
    assert!(shown.contains(r#""docker_config":"<redacted>""#), "{shown}");
    let log = std::fs::read_to_string(with_config.join("agent.log")).unwrap();
    assert!(!log.is_empty(), "the agent logged nothing");
    for secret in [REGISTRY_PASSWORD, &right, &wrong, "not-the-password"] {
        assert!(!log.contains(secret), "the agent's log holds '{secret}'");
        assert!(!shown.contains(secret), "/flags holds '{secret}'");
    }
    assert_no_leaks(&work, &store).await;
}

/// A one-file layer on top of the busybox base (the images of the GC test differ by it).
fn file_layer(name: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    append_file(&mut b, name, 0o644, name.as_bytes());
    b.into_inner().unwrap()
}

/// The layers directory's entries (sha256 of each layer's blob).
fn stored_layers(store: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(store.join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// PRUNE_IMAGES with `excluded` (docker names): the HTTP status.
async fn prune_images(agent: &str, excluded: &[&str]) -> (u16, serde_json::Value) {
    let excluded: Vec<serde_json::Value> = excluded
        .iter()
        .map(|name| serde_json::json!({"type": "DOCKER", "docker": {"name": name}}))
        .collect();
    support::operator_call(
        agent,
        &serde_json::json!({"type": "PRUNE_IMAGES", "prune_images": {"excluded_images": excluded}})
            .to_string(),
    )
    .await
}

/// Image GC (Mesos's docker/store.cpp `prune`, the agent's PRUNE_IMAGES call in
/// src/slave/http.cpp): two images share a base layer; once one loses its last container,
/// PRUNE_IMAGES removes that image's own layer and keeps the shared base, the running
/// image's layers and those of images excluded by `--image_gc_config` or by the call. A
/// pruned image is pulled again when next asked for. An excluded image that is not a docker
/// name is refused (400) and nothing is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_images_removes_what_no_container_uses_and_keeps_shared_and_excluded_layers() {
    require_tools();
    let dir = temp_dir("images-gc");
    let registry = Registry::start(&dir).await;
    let base = busybox_layer();
    for name in ["running", "done", "kept"] {
        registry.push_image(name, "1", &[base.clone(), file_layer(name)], image_config());
    }
    let digest = |layer: &[u8]| sha256_hex(&gzip(layer));
    let (base_d, running_d, done_d, kept_d) = (
        digest(&base),
        digest(&file_layer("running")),
        digest(&file_layer("done")),
        digest(&file_layer("kept")),
    );
    let image = |name: &str| format!("{}:1", registry.name(name));
    let store = dir.join("store");
    let (_master, master) = spawn_master(&dir).await;
    // Headroom 0: the periodic GC never finds the disk short; only PRUNE_IMAGES prunes.
    let gc_config = serde_json::json!({
        "image_disk_headroom": 0.0,
        "excluded_images": [{"type": "DOCKER", "docker": {"name": image("kept")}}],
    })
    .to_string();
    let flags = image_flags(
        store.to_str().unwrap(),
        &format!("http://{}", registry.addr),
        &[
            "--isolation=filesystem/linux,docker/runtime",
            &format!("--image_gc_config={gc_config}"),
        ],
    );
    let (_agent, agent, work) = start_agent(&master, &dir, &flags).await;
    let mut framework = TestFramework::subscribe(&master, "images-gc", false).await;
    let offer = framework.next_offer().await;
    framework
        .launch(
            &offer,
            vec![
                image_task(
                    "running",
                    &offer,
                    Some("cat /running; sleep 1000"),
                    &image("running"),
                ),
                image_task("done", &offer, Some("cat /done"), &image("done")),
                image_task("kept", &offer, Some("cat /kept"), &image("kept")),
            ],
        )
        .await;
    let mut states = std::collections::BTreeMap::new();
    while states.get("running") != Some(&(TaskState::TaskRunning as i32))
        || states.get("done") != Some(&(TaskState::TaskFinished as i32))
        || states.get("kept") != Some(&(TaskState::TaskFinished as i32))
    {
        let status = framework.next_update(Duration::from_secs(120)).await;
        assert!(status.state != TaskState::TaskFailed as i32, "{status:?}");
        states.insert(status.task_id.value.clone(), status.state);
    }
    let all = [&base_d, &running_d, &done_d, &kept_d];
    assert_eq!(
        stored_layers(&store),
        all.iter().map(|d| d.to_string()).collect()
    );
    // The finished containers' rootfses go; the running one's stays.
    let containers = work.join("provisioner/containers");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&containers).unwrap().count() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "rootfses not destroyed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Bad input changes nothing.
    let (status, _) = prune_images(&agent, &["../etc"]).await;
    assert_eq!(status, 400);
    assert_eq!(stored_layers(&store).len(), 4);

    let (status, _) = prune_images(&agent, &[]).await;
    assert_eq!(status, 200);
    let kept: std::collections::BTreeSet<String> = [&base_d, &running_d, &kept_d]
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        stored_layers(&store),
        kept,
        "only the unused image's own layer goes"
    );

    // The running task ends; excluded by the call, its image stays too.
    framework.kill("running", &offer.agent_id).await;
    loop {
        let status = framework.next_update(Duration::from_secs(60)).await;
        if status.task_id.value == "running" && status.state == TaskState::TaskKilled as i32 {
            break;
        }
    }
    assert_no_leaks(&work, &store).await;
    let (status, _) = prune_images(&agent, &[&image("running")]).await;
    assert_eq!(status, 200);
    assert_eq!(stored_layers(&store), kept);
    let (status, _) = prune_images(&agent, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        stored_layers(&store),
        [&base_d, &kept_d].iter().map(|d| d.to_string()).collect(),
        "the flag's excluded image keeps its layers, the shared base among them"
    );

    // A pruned image is pulled again.
    let offer = framework.next_offer().await;
    framework
        .launch(
            &offer,
            vec![image_task(
                "again",
                &offer,
                Some("cat /done"),
                &image("done"),
            )],
        )
        .await;
    let ends = terminal_updates(&mut framework, &["again"]).await;
    assert_eq!(
        ends["again"].state,
        TaskState::TaskFinished as i32,
        "{:?}",
        ends["again"].message
    );
    assert!(stored_layers(&store).contains(&done_d));
    assert_no_leaks(&work, &store).await;
}

/// The entry point of the custom executor that runs inside an image (the test binary,
/// bound read-only into the container with the host's C libraries): it reports what it
/// sees from inside, writes into its sandbox, and exits once its updates are acknowledged.
#[test]
#[ignore = "the entry point of the executor the agent starts in an image"]
fn executor_in_an_image_process() {
    if std::env::var("MESOS_EXECUTOR_ID").is_err() {
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use remesos::client::Format;
            use remesos::client::executor::{Connection, ExecutorEnv, event_type};
            use v1::executor::event::Type as EventType;
            let env = ExecutorEnv::from_env(std::env::vars()).unwrap();
            let mut connection = Connection::new(&env, Format::Json);
            connection.subscribe(vec![], vec![]).await.unwrap();
            let sandbox = std::env::var("MESOS_SANDBOX").unwrap_or_default();
            let seen = format!(
                "image-file={} image-passwd={} sandbox={sandbox} cwd={} image-var={} host-work-dir={}",
                std::fs::read_to_string("/data/hello").unwrap_or_default().trim(),
                std::fs::read_to_string("/etc/passwd").is_ok_and(|p| p.contains("appuser")),
                std::env::current_dir().unwrap().display(),
                std::env::var("IMAGE_VAR").unwrap_or_default(),
                Path::new(&std::env::var("MESOS_DIRECTORY").unwrap_or_default()).exists(),
            );
            std::fs::write(Path::new(&sandbox).join("from-executor"), &seen).unwrap();
            let mut acknowledged = 0;
            loop {
                let event = connection.next_event().await.unwrap();
                match event_type(&event) {
                    Some(EventType::Launch) => {
                        let task_id = event.launch.unwrap().task.task_id;
                        for state in [TaskState::TaskRunning, TaskState::TaskFinished] {
                            let status = v1::TaskStatus {
                                task_id: task_id.clone(),
                                state: state as i32,
                                message: Some(seen.clone()),
                                ..Default::default()
                            };
                            connection.update(status).await.unwrap();
                        }
                    }
                    Some(EventType::Acknowledged) => {
                        acknowledged += 1;
                        if acknowledged == 2 {
                            std::process::exit(0);
                        }
                    }
                    Some(EventType::Shutdown) => std::process::exit(0),
                    _ => {}
                }
            }
        });
}

/// A master and an agent with the image isolators pulling from the `docker save`
/// directory `archives`, and a framework `name` subscribed: the daemons (kept alive by
/// the caller), the agent's work_dir, its store and the framework.
async fn local_images_cluster(
    dir: &Path,
    archives: &Path,
    name: &str,
) -> ((Daemon, Daemon), PathBuf, PathBuf, TestFramework) {
    let store = dir.join("store");
    let (master_daemon, master) = spawn_master(dir).await;
    let flags = image_flags(
        store.to_str().unwrap(),
        archives.to_str().unwrap(),
        &["--isolation=filesystem/linux,docker/runtime"],
    );
    let (agent, _addr, work) = start_agent(&master, dir, &flags).await;
    let framework = TestFramework::subscribe(&master, name, false).await;
    ((master_daemon, agent), work, store, framework)
}

/// A custom executor whose `ExecutorInfo.container` has a DOCKER image runs inside the
/// provisioned rootfs itself (Mesos's mesos containerizer: `mesos-containerizer launch`
/// with the rootfs; here `remesos launch`), with the image's Env, the sandbox at
/// MESOS_SANDBOX and its volumes; the host's filesystem is not visible to it. Its updates
/// carry the container's status (Mesos's `Slave::_statusUpdate`: the container id, the
/// executor's pid, and the agent's IP for a container on the host network).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_executor_with_an_image_runs_inside_the_image() {
    require_tools();
    let dir = temp_dir("images-executor");
    let archives = app_archives(&dir);
    let (_daemons, work, store, mut framework) =
        local_images_cluster(&dir, &archives, "images-executor").await;
    let fid = framework.sub.framework_id.value.clone();
    let offer = framework.next_offer().await;
    // The executor is this test binary; the host's C libraries come in read-only (as
    // Spark's tests bring a JDK), the binary's directory too.
    let exe = std::env::current_exe().unwrap();
    let ro = |host: &str, inside: &str| v1::Volume {
        mode: v1::volume::Mode::Ro as i32,
        container_path: inside.into(),
        host_path: Some(host.into()),
        ..Default::default()
    };
    let mut container = images::docker_container("app:1.0");
    container.volumes = vec![
        ro("/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"),
        ro("/lib64", "/lib64"),
        ro(exe.parent().unwrap().to_str().unwrap(), "/exe"),
    ];
    let program = format!("/exe/{}", exe.file_name().unwrap().to_string_lossy());
    let executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "in-image".into(),
        },
        command: Some(v1::CommandInfo {
            shell: Some(false),
            value: Some(program.clone()),
            arguments: [
                program.as_str(),
                "--ignored",
                "--exact",
                "executor_in_an_image_process",
                "--nocapture",
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        }),
        container: Some(container),
        resources: support::offer_resources(&offer, "cpus:0.1;mem:64"),
        ..Default::default()
    };
    let mut task = command_task("t", &offer, "cpus:0.1;mem:32", "unused");
    task.command = None;
    task.executor = Some(executor);
    framework.launch(&offer, vec![task]).await;
    let running = framework.next_update(Duration::from_secs(120)).await;
    assert_eq!(
        running.state,
        TaskState::TaskRunning as i32,
        "{:?}",
        running.message
    );
    let seen = running.message().to_string();
    for expected in [
        "image-file=hello from the image",
        "image-passwd=true",
        "sandbox=/mnt/mesos/sandbox",
        // docker/runtime: the image's WorkingDir, for an executor as for a task.
        "cwd=/work",
        "image-var=from-image-env",
        "host-work-dir=false",
    ] {
        assert!(seen.contains(expected), "missing '{expected}' in: {seen}");
    }
    let status = running.container_status.as_ref().expect("container_status");
    assert!(status.executor_pid.is_some(), "{status:?}");
    assert!(status.container_id.is_some(), "{status:?}");
    assert_eq!(
        status.network_infos[0].ip_addresses[0]
            .ip_address
            .as_deref(),
        Some("127.0.0.1"),
        "{status:?}"
    );
    let finished = framework.next_update(Duration::from_secs(60)).await;
    assert_eq!(finished.state, TaskState::TaskFinished as i32);
    // What the executor wrote at MESOS_SANDBOX is in the sandbox on the host.
    let aid = &running.agent_id.as_ref().unwrap().value;
    let written = work
        .join("slaves")
        .join(aid)
        .join("frameworks")
        .join(&fid)
        .join("executors/in-image/runs/latest/from-executor");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), seen);
    // The executor exits; its rootfs goes.
    assert_no_leaks(&work, &store).await;
}

/// A restarted agent recovers a running image task (its executor kept running, its overlay
/// rootfs kept mounted) and, once it is killed, unmounts and removes its rootfs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_recovers_a_running_image_task_and_cleans_up_after_it() {
    require_tools();
    let dir = temp_dir("images-recover");
    let archives = app_archives(&dir);
    let store = dir.join("store");
    let (_master, master) = spawn_master(&dir).await;
    let flags = image_flags(
        store.to_str().unwrap(),
        archives.to_str().unwrap(),
        &[
            "--isolation=filesystem/linux,docker/runtime",
            "--image_provisioner_backend=overlay",
        ],
    );
    let (mut agent, _addr, work) = start_agent(&master, &dir, &flags).await;
    let mut framework = TestFramework::subscribe(&master, "images-recover", true).await;
    let offer = framework.next_offer().await;
    let agent_id = offer.agent_id.clone();
    framework
        .launch(
            &offer,
            vec![image_task("long", &offer, Some("sleep 600"), "app:1.0")],
        )
        .await;
    until_running(&mut framework).await;
    agent.kill9();
    // The overlay rootfs stays mounted in the agent's namespace while the task runs.
    assert!(rootfs_mounted(&work));
    let containers = work.join("provisioner/containers");
    assert_eq!(std::fs::read_dir(&containers).unwrap().count(), 1);

    let (_agent, addr, _) = start_agent(&master, &dir, &flags).await;
    // Still running after recovery: the rootfs is kept and the task answers a kill.
    let state = support::registered_agent_state(&addr).await;
    let running = running_tasks(&state);
    assert_eq!(running.len(), 1, "{state}");
    assert_eq!(std::fs::read_dir(&containers).unwrap().count(), 1);
    assert!(rootfs_mounted(&work));
    framework.kill("long", &agent_id).await;
    let ends = terminal_updates(&mut framework, &["long"]).await;
    assert_eq!(
        ends["long"].state,
        TaskState::TaskKilled as i32,
        "{:?}",
        ends["long"].message
    );
    assert_no_leaks(&work, &store).await;
}

/// Mesos refuses image support without the filesystem/linux isolator (and this agent
/// without docker/runtime, which applies the image's config): the agent does not start.
#[test]
fn image_support_requires_the_filesystem_linux_and_docker_runtime_isolators() {
    let dir = temp_dir("images-flags");
    let work = format!("--work_dir={}", dir.display());
    let cases: [(&[&str], &str); 4] = [
        (
            &["--isolation=posix/cpu,posix/mem"],
            "The 'filesystem/linux' isolator must be enabled for container image support",
        ),
        (
            &["--isolation=filesystem/linux"],
            "The 'docker/runtime' isolator must be enabled",
        ),
        (
            &[
                "--isolation=filesystem/linux,docker/runtime",
                "--launcher=posix",
            ],
            "The 'linux' launcher must be used for container image support",
        ),
        (
            &[
                "--isolation=filesystem/linux,docker/runtime",
                r#"--docker_config={"auths":{"reg:5000":{"auth":"user:secret-pw"}}}"#,
            ],
            "the 'auth' of 'reg:5000' is not base64",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec![
            "agent",
            "--master=127.0.0.1:1",
            &work,
            "--image_providers=docker",
        ];
        args.extend_from_slice(extra);
        let (status, stderr) = support::run_to_exit(&args, &[]);
        assert!(!status.success(), "{extra:?} started");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(!stderr.contains("secret-pw"), "{stderr}");
    }
}

/// The nested containers' files below a default executor's sandbox: `name` of each
/// `containers/<child>` of executor `executor`'s latest run, concatenated.
fn task_group_files(work_dir: &Path, fid: &str, executor: &str, name: &str) -> String {
    let mut text = String::new();
    let agents = std::fs::read_dir(work_dir.join("slaves"))
        .unwrap()
        .flatten();
    // `slaves/latest` links to the one agent's directory.
    for agent in agents.filter(|a| a.file_name() != "latest") {
        let containers = agent
            .path()
            .join("frameworks")
            .join(fid)
            .join("executors")
            .join(executor)
            .join("runs/latest/containers");
        for child in std::fs::read_dir(&containers)
            .into_iter()
            .flatten()
            .flatten()
        {
            text += &std::fs::read_to_string(child.path().join(name)).unwrap_or_default();
        }
    }
    text
}

/// Mesos 1.11's default executor launches each task of a group as a nested container with
/// its own image (docs/nested-container-and-task-group.md; the provisioner, filesystem/linux
/// and docker/runtime as for a single task): two tasks in two images each see their own
/// image's files — and not the other's, nor the host's `/usr` — with their sandbox at
/// MESOS_SANDBOX, and finish. A group task whose image does not exist ends TASK_FAILED with
/// REASON_CONTAINER_LAUNCH_FAILED and a message naming the image. Afterwards no rootfs is
/// mounted or left in the provisioner's directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_group_tasks_run_each_in_its_own_image() {
    require_tools();
    let dir = temp_dir("images-group");
    let archives = app_archives(&dir);
    let other = docker_save(
        "other",
        "2.0",
        &[busybox_layer(), file_layer("other-marker")],
        image_config(),
    );
    std::fs::write(archives.join("other:2.0.tar"), other).unwrap();
    let (_daemons, work, store, mut framework) =
        local_images_cluster(&dir, &archives, "images-group").await;
    let fid = framework.sub.framework_id.value.clone();
    let executor = |offer: &v1::Offer, id: &str| v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId { value: id.into() },
        framework_id: Some(offer.framework_id.clone()),
        resources: support::offer_resources(offer, "cpus:0.1;mem:32"),
        ..Default::default()
    };

    let offer = framework.next_offer().await;
    let in_app = image_task(
        "in-app",
        &offer,
        Some(
            "cat /data/hello && test ! -e /other-marker && test ! -e /usr && \
             echo app-sandbox=$MESOS_SANDBOX && echo app > $MESOS_SANDBOX/written",
        ),
        "app:1.0",
    );
    let in_other = image_task(
        "in-other",
        &offer,
        Some(
            "cat /other-marker && echo && test ! -e /data/hello && test ! -e /usr && \
             echo other-in-image",
        ),
        "other:2.0",
    );
    let accept = remesos::common::protocol::launch_group_call(
        &offer,
        executor(&offer, "group"),
        vec![in_app, in_other],
        None,
    );
    framework.sub.call(accept).await.unwrap();
    let ends = terminal_updates(&mut framework, &["in-app", "in-other"]).await;
    let stdout = task_group_files(&work, &fid, "group", "stdout");
    let stderr = task_group_files(&work, &fid, "group", "stderr");
    for (id, status) in &ends {
        assert_eq!(
            status.state,
            TaskState::TaskFinished as i32,
            "{id}: {status:?}\nstdout: {stdout}\nstderr: {stderr}\n{}",
            std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
        );
    }
    assert!(stdout.contains("hello from the image"), "{stdout}");
    assert!(
        stdout.contains("app-sandbox=/mnt/mesos/sandbox"),
        "{stdout}"
    );
    assert!(stdout.contains("other-marker\nother-in-image"), "{stdout}");
    // The sandbox bound at MESOS_SANDBOX is the task's own on the host.
    assert_eq!(task_group_files(&work, &fid, "group", "written"), "app\n");

    let offer = framework.next_offer().await;
    let missing = image_task("in-nothing", &offer, Some("true"), "nothere:1.0");
    let accept = remesos::common::protocol::launch_group_call(
        &offer,
        executor(&offer, "group-missing"),
        vec![missing],
        None,
    );
    framework.sub.call(accept).await.unwrap();
    let ends = terminal_updates(&mut framework, &["in-nothing"]).await;
    let failed = &ends["in-nothing"];
    assert_eq!(failed.state, TaskState::TaskFailed as i32, "{failed:?}");
    assert_eq!(failed.reason, Some(Reason::ContainerLaunchFailed as i32));
    assert!(failed.message().contains("nothere"), "{}", failed.message());

    assert_no_leaks(&work, &store).await;
}

/// A default executor `id` with a little of `offer` (shared by the task group tests).
fn default_executor(offer: &v1::Offer, id: &str) -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        r#type: Some(v1::executor_info::Type::Default as i32),
        executor_id: v1::ExecutorId { value: id.into() },
        framework_id: Some(offer.framework_id.clone()),
        resources: support::offer_resources(offer, "cpus:0.1;mem:32"),
        ..Default::default()
    }
}

/// A read-only view at `container_path` of the executor's sandbox path `path` (a
/// `SANDBOX_PATH` volume of type `PARENT`).
fn parent_volume_ro(container_path: &str, path: &str) -> v1::Volume {
    use v1::volume::source::{SandboxPath, Type, sandbox_path};
    v1::Volume {
        mode: v1::volume::Mode::Ro as i32,
        container_path: container_path.into(),
        source: Some(v1::volume::Source {
            r#type: Some(Type::SandboxPath as i32),
            sandbox_path: Some(SandboxPath {
                r#type: Some(sandbox_path::Type::Parent as i32),
                path: path.into(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A task group of one task in `app:1.0` with the persistent volume `volume` under its own
/// default executor `executor`; its terminal update, with the nested containers' stderr.
async fn group_task_with_volume(
    framework: &mut TestFramework,
    work: &Path,
    executor: &str,
    volume: &str,
    command: &str,
) -> (v1::TaskStatus, String) {
    let (offer, resource) = volumes::offer_with(framework, volume).await;
    let mut task = image_task(executor, &offer, Some(command), "app:1.0");
    task.resources.push(resource);
    if executor == "group-ro" {
        task.container
            .as_mut()
            .unwrap()
            .volumes
            .push(parent_volume_ro("ro-view", "data"));
    }
    let accept = remesos::common::protocol::launch_group_call(
        &offer,
        default_executor(&offer, executor),
        vec![task],
        None,
    );
    framework.sub.call(accept).await.unwrap();
    let mut ends = terminal_updates(framework, &[executor]).await;
    let fid = framework.sub.framework_id.value.clone();
    let stderr = task_group_files(work, &fid, executor, "stderr");
    (ends.remove(executor).unwrap(), stderr)
}

/// A task of a group in an image gets its persistent volumes bound at their container
/// path in its sandbox, as Mesos's default executor asks for them (a `SANDBOX_PATH`
/// volume of type `PARENT` per volume, default_executor.cpp `launchGroup`; bound by the
/// filesystem/linux isolator, docs/persistent-volume.md): what one group's task writes,
/// a later group's task reads back; a read-only view of it refuses writes; nothing of the
/// volumes stays mounted, nor any rootfs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_volumes_are_bound_into_task_group_tasks_in_images() {
    let (dir, store, _master, master, flags) = local_images(
        "images-group-volume",
        &["--resources=cpus:4;mem:1024;disk:1024"],
    )
    .await;
    let (_agent, addr, work) = start_agent(&master, &dir, &flags).await;
    let agent_id = support::registered_agent_state(&addr).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut framework = volumes::subscribe(&master, "images-group-volume").await;
    volumes::reserve_and_create(
        &master,
        &agent_id,
        &work,
        96.0,
        &[volumes::volume(64.0, "vol-group", "data", "RW")],
    )
    .await;
    let volumes_dir = work.join("volumes");

    let (writer, stderr) = group_task_with_volume(
        &mut framework,
        &work,
        "group-writer",
        "vol-group",
        "grep -q \" $MESOS_SANDBOX/data \" /proc/self/mountinfo && \
         echo persisted > $MESOS_SANDBOX/data/file",
    )
    .await;
    assert_eq!(
        writer.state,
        TaskState::TaskFinished as i32,
        "{:?} {stderr}",
        writer.message
    );
    assert_eq!(
        std::fs::read_to_string(work.join("volumes/roles/r/vol-group/file")).unwrap(),
        "persisted\n"
    );
    let (reader, stderr) = group_task_with_volume(
        &mut framework,
        &work,
        "group-reader",
        "vol-group",
        "test \"$(cat $MESOS_SANDBOX/data/file)\" = persisted",
    )
    .await;
    assert_eq!(
        reader.state,
        TaskState::TaskFinished as i32,
        "{:?} {stderr}",
        reader.message
    );
    // RO: Mesos refuses read-only volumes at CREATE; a task views its volume read-only
    // through a `PARENT` sandbox_path volume of mode RO naming it (here at `ro-view`):
    // readable, and a write fails inside the task (the volume stays unchanged).
    let (read_only, stderr) = group_task_with_volume(
        &mut framework,
        &work,
        "group-ro",
        "vol-group",
        "cat $MESOS_SANDBOX/ro-view/file && touch $MESOS_SANDBOX/ro-view/written",
    )
    .await;
    assert_eq!(
        read_only.state,
        TaskState::TaskFailed as i32,
        "{read_only:?} {stderr}"
    );
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    let fid = framework.sub.framework_id.value.clone();
    assert_eq!(
        task_group_files(&work, &fid, "group-ro", "stdout"),
        "persisted\n"
    );
    assert!(!work.join("volumes/roles/r/vol-group/written").exists());
    assert_no_leaks(&work, &store).await;
    assert!(volumes::mounts_of(&volumes_dir).is_empty());
}

/// A task of a group in an image whose command has no value (argv form) runs the image's
/// Entrypoint and Cmd in its WorkingDir with its Env, as Mesos's docker/runtime isolator
/// builds the launch command (docker/runtime.cpp `getLaunchCommand`; the default executor
/// sends the task's command as it is); the task's arguments replace Cmd. The image's User
/// is ignored with Mesos's warning (docker/runtime.cpp `prepare`). A shell command without
/// a value fails the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_group_tasks_without_a_command_value_run_the_images_entrypoint() {
    require_tools();
    let dir = temp_dir("images-group-entrypoint");
    let archives = app_archives(&dir);
    let (_daemons, work, store, mut framework) =
        local_images_cluster(&dir, &archives, "images-group-entrypoint").await;
    let fid = framework.sub.framework_id.value.clone();

    let offer = framework.next_offer().await;
    let image_cmd = image_task("image-cmd", &offer, None, "app:1.0");
    let mut with_args = image_task("with-args", &offer, None, "app:1.0");
    with_args.command.as_mut().unwrap().arguments =
        vec!["echo args-replace-cmd in $(pwd)".to_string()];
    // The image's User (appuser, uid 4242 in its /etc/passwd) is ignored, as in Mesos
    // 1.11: the task runs as its own user (the agent's, root, for this framework's "").
    let user = image_task(
        "image-user",
        &offer,
        Some("echo task-uid=$(id -u)"),
        "app:1.0",
    );
    let accept = remesos::common::protocol::launch_group_call(
        &offer,
        default_executor(&offer, "group-entrypoint"),
        vec![image_cmd, with_args, user],
        None,
    );
    framework.sub.call(accept).await.unwrap();
    let ends = terminal_updates(&mut framework, &["image-cmd", "with-args", "image-user"]).await;
    let stdout = task_group_files(&work, &fid, "group-entrypoint", "stdout");
    let stderr = task_group_files(&work, &fid, "group-entrypoint", "stderr");
    for (id, status) in &ends {
        assert_eq!(
            status.state,
            TaskState::TaskFinished as i32,
            "{id}: {status:?}\nstdout: {stdout}\nstderr: {stderr}"
        );
    }
    // Entrypoint ["/bin/sh", "-c"] + Cmd, in WorkingDir /work, with the image's Env.
    assert!(
        stdout.contains("from-image-cmd\n/work\nimage-var=from-image-env\n"),
        "{stdout}"
    );
    // Entrypoint + the task's arguments; Cmd is not run a second time.
    assert!(stdout.contains("args-replace-cmd in /work\n"), "{stdout}");
    assert_eq!(stdout.matches("from-image-cmd").count(), 1, "{stdout}");
    assert!(stdout.contains("task-uid=0\n"), "{stdout}");
    let log = std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default();
    assert!(
        log.contains("Container user 'appuser' is not supported yet"),
        "{log}"
    );

    // Bad input: a shell command without a value.
    let offer = framework.next_offer().await;
    let mut no_value = image_task("no-value", &offer, None, "app:1.0");
    no_value.command.as_mut().unwrap().shell = Some(true);
    let accept = remesos::common::protocol::launch_group_call(
        &offer,
        default_executor(&offer, "group-no-value"),
        vec![no_value],
        None,
    );
    framework.sub.call(accept).await.unwrap();
    let ends = terminal_updates(&mut framework, &["no-value"]).await;
    let failed = &ends["no-value"];
    assert_eq!(failed.state, TaskState::TaskFailed as i32, "{failed:?}");
    assert!(
        failed
            .message()
            .contains("Shell command of task 'no-value' is not specified"),
        "{}",
        failed.message()
    );
    assert_no_leaks(&work, &store).await;
}

/// A task of a group in an image survives its agent's restart, after SIGKILL and after
/// SIGTERM (Mesos leaves a checkpointing framework's executors running on either): its
/// rootfs stays mounted while it runs, the restarted agent reports it TASK_RUNNING, a kill
/// afterwards ends it TASK_KILLED, and then its rootfs and mounts go (its executor's exit
/// takes the nested container's rootfs with it, provisioner `destroy`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_group_task_in_an_image_survives_an_agent_restart() {
    require_tools();
    for sigkill in [true, false] {
        let name = if sigkill {
            "images-group-kill9"
        } else {
            "images-group-sigterm"
        };
        let dir = temp_dir(name);
        let archives = app_archives(&dir);
        let store = dir.join("store");
        let (_master, master) = spawn_master(&dir).await;
        let flags = image_flags(
            store.to_str().unwrap(),
            archives.to_str().unwrap(),
            &[
                "--isolation=filesystem/linux,docker/runtime",
                "--image_provisioner_backend=overlay",
            ],
        );
        let (mut agent, _addr, work) = start_agent(&master, &dir, &flags).await;
        let mut framework = TestFramework::subscribe(&master, name, true).await;
        let offer = framework.next_offer().await;
        let agent_id = offer.agent_id.clone();
        let task = image_task("long", &offer, Some("sleep 600"), "app:1.0");
        let accept = remesos::common::protocol::launch_group_call(
            &offer,
            default_executor(&offer, "group-long"),
            vec![task],
            None,
        );
        framework.sub.call(accept).await.unwrap();
        until_running(&mut framework).await;
        if sigkill {
            agent.kill9();
        } else {
            agent.terminate().expect("the agent exits on SIGTERM");
        }
        let containers = work.join("provisioner/containers");
        let rootfses = || {
            std::fs::read_dir(&containers)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        // The task's own rootfs (`<executor container>.<child>`), mounted while it runs.
        assert!(rootfs_mounted(&work), "{name}");
        assert_eq!(rootfses().len(), 1, "{name}: {:?}", rootfses());
        assert!(rootfses()[0].contains('.'), "{name}: {:?}", rootfses());

        let (_agent, addr, _) = start_agent(&master, &dir, &flags).await;
        let state = support::registered_agent_state(&addr).await;
        let running = running_tasks(&state);
        assert_eq!(running.len(), 1, "{name}: {state}");
        assert_eq!(rootfses().len(), 1, "{name}: {:?}", rootfses());
        assert!(rootfs_mounted(&work), "{name}");
        framework.kill("long", &agent_id).await;
        let ends = terminal_updates(&mut framework, &["long"]).await;
        assert_eq!(
            ends["long"].state,
            TaskState::TaskKilled as i32,
            "{name}: {:?}\n{}",
            ends["long"].message,
            std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
        );
        assert_no_leaks(&work, &store).await;
    }
}
