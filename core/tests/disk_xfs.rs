//! `--isolation=disk/xfs` (Mesos 1.11's XFS disk isolator, agent/disk_xfs.rs) on a real
//! kernel XFS: a 300 MB loop file made with `mkfs.xfs` and mounted `-o loop,prjquota` in a
//! temporary directory (unmounted on drop, even when a test fails). Needs root, `mkfs.xfs`
//! (xfsprogs, tests/run.sh installs it), a kernel with XFS and, for the quota tests, with
//! XFS quota support; each test that cannot run says which of these is missing and returns.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
use support::temp_dir;

use std::path::{Path, PathBuf};
use std::time::Duration;

use remesos::agent::disk_xfs::sys;
use remesos_proto::v1;
use serde_json::Value;
use support::{TestFramework, command_task, free_port, spawn_agent, spawn_master};
use v1::TaskState;

/// An XFS filesystem on a loop file, mounted at `mnt`; unmounted and removed on drop.
struct XfsMount {
    dir: PathBuf,
    mnt: PathBuf,
}

impl XfsMount {
    /// A 300 MB XFS mounted with `options` (besides `loop`), or why it cannot be had here.
    fn new(name: &str, options: &str) -> Result<XfsMount, String> {
        if !rustix::process::geteuid().is_root() {
            return Err("not root (mounting a loop XFS needs root)".into());
        }
        let have_mkfs = std::process::Command::new("mkfs.xfs")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !have_mkfs {
            return Err("mkfs.xfs is not installed (Debian's xfsprogs)".into());
        }
        let dir = temp_dir(name);
        let mnt = dir.join("mnt");
        std::fs::create_dir_all(&mnt).map_err(|e| e.to_string())?;
        let img = dir.join("xfs.img");
        let run = |program: &str, args: &[&str]| -> Result<(), String> {
            let out = std::process::Command::new(program)
                .args(args)
                .output()
                .map_err(|e| format!("{program}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{program} {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        let img_s = img.to_str().unwrap();
        let made =
            run("truncate", &["-s", "300M", img_s]).and_then(|()| run("mkfs.xfs", &["-q", img_s]));
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        let mounted = run(
            "mount",
            &[
                "-o",
                &format!("loop,{options}"),
                img_s,
                mnt.to_str().unwrap(),
            ],
        );
        if let Err(e) = mounted {
            let _ = std::fs::remove_dir_all(&dir);
            let xfs_known = std::fs::read_to_string("/proc/filesystems")
                .is_ok_and(|f| f.lines().any(|l| l.trim_end().ends_with("xfs")));
            return Err(if !xfs_known {
                format!("the kernel has no XFS ({e})")
            } else if options.contains("quota") {
                format!("the kernel lacks XFS quota support ({e})")
            } else {
                e
            });
        }
        Ok(XfsMount { dir, mnt })
    }
}

impl Drop for XfsMount {
    fn drop(&mut self) {
        // Lazy: an executor left running in a sandbox keeps it busy; the loop device goes
        // with the last process.
        let _ = std::process::Command::new("umount")
            .args(["-l", self.mnt.to_str().unwrap()])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `remesos agent` that must refuse to start; its stderr.
fn refused(work_dir: &Path, flags: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args([
            "agent",
            "--master=127.0.0.1:1",
            &format!("--work_dir={}", work_dir.display()),
        ])
        .args(flags)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "started with {flags:?}: {stderr}");
    stderr
}

/// A bad `--xfs_project_range` is refused wherever the work_dir is (Mesos's messages); a
/// work_dir on a filesystem that is not XFS (tmpfs, ext4) and one on an XFS mounted
/// without project quotas are refused with Mesos's messages.
#[test]
fn a_bad_project_range_and_a_work_dir_without_xfs_project_quotas_are_refused() {
    let dir = temp_dir("xfs-refused");
    for (range, message) in [
        ("[0-10]", "XFS project ID range contains illegal 0 value"),
        (
            "5000",
            "Invalid XFS project resource type SCALAR, expecting RANGES",
        ),
        ("[a-b]", "Failed to parse XFS project range '[a-b]'"),
        ("[1-4294967296]", "Project ID 4294967296  is out of range"),
    ] {
        let stderr = refused(
            &dir.join("range"),
            &[
                "--isolation=disk/xfs",
                &format!("--xfs_project_range={range}"),
            ],
        );
        assert!(stderr.contains(message), "{range}: {stderr}");
    }
    // Not XFS: the temporary directory's filesystem and /dev/shm (tmpfs), where they are not.
    let shm = PathBuf::from("/dev/shm").join(format!("remesos-xfs-{}", free_port()));
    for work_dir in [dir.join("plain"), shm.clone()] {
        let Some(parent) = work_dir.parent().filter(|p| p.exists()) else {
            continue;
        };
        if sys::is_xfs(parent).unwrap_or(true) {
            eprintln!("{} is on XFS: not a refusal case here", parent.display());
            continue;
        }
        let stderr = refused(&work_dir, &["--isolation=disk/xfs"]);
        let canonical = work_dir.canonicalize().unwrap();
        assert!(
            stderr.contains(&format!(
                "'{}' is not an XFS filesystem",
                canonical.display()
            )),
            "{stderr}"
        );
        assert!(!work_dir.join("meta").exists());
    }
    let _ = std::fs::remove_dir_all(&shm);
    // XFS without project quotas.
    match XfsMount::new("xfs-noquota", "noquota") {
        Err(why) => eprintln!("skipping the XFS-without-quotas case: {why}"),
        Ok(xfs) => {
            let work_dir = xfs.mnt.join("agent");
            let stderr = refused(&work_dir, &["--isolation=disk/xfs"]);
            assert!(
                stderr.contains(&format!(
                    "XFS project quotas are not enabled on '{}'",
                    work_dir.display()
                )),
                "{stderr}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The project id assignment itself on a real XFS (quota support not needed): a tree's
/// directories and regular files get the id, a symlink is not followed out of it.
#[test]
fn project_ids_label_a_sandbox_tree_without_following_symlinks() {
    let xfs = match XfsMount::new("xfs-projid", "noquota") {
        Ok(xfs) => xfs,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let sandbox = xfs.mnt.join("sandbox");
    let outside = xfs.mnt.join("outside");
    std::fs::create_dir_all(sandbox.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(sandbox.join("sub/file"), b"x").unwrap();
    std::os::unix::fs::symlink(&outside, sandbox.join("link")).unwrap();
    assert_eq!(sys::project_id(&sandbox).unwrap(), None);
    sys::set_project_id_tree(&sandbox, 5000).unwrap();
    for d in [&sandbox, &sandbox.join("sub"), &sandbox.join("sub/deeper")] {
        assert_eq!(sys::project_id(d).unwrap(), Some(5000), "{}", d.display());
    }
    // New directories inherit it (PROJINHERIT).
    std::fs::create_dir(sandbox.join("new")).unwrap();
    assert_eq!(sys::project_id(&sandbox.join("new")).unwrap(), Some(5000));
    assert_eq!(sys::project_id(&outside).unwrap(), None);
    // The root itself is not followed when it is a symlink; id 0 is refused.
    assert!(sys::set_project_id_tree(&sandbox.join("link"), 5001).is_err());
    assert!(sys::set_project_id_tree(&sandbox, 0).is_err());
    assert_eq!(sys::project_id(&outside).unwrap(), None);
}

/// `/monitor/statistics`' entry of `executor_id` once `ok` holds for it.
async fn wait_for_stats(agent: &str, executor_id: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let url = format!("http://{agent}/monitor/statistics");
        let (_, _, body) = support::raw_request("GET", &url, &[], vec![]).await;
        let stats: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let entry = stats
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["executor_id"] == executor_id)
            .cloned();
        if let Some(entry) = entry
            && ok(&entry["statistics"])
        {
            return entry;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{executor_id}'s statistics: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The run directory of executor `executor_id` under `work_dir` (its `runs/latest`).
fn sandbox_of(work_dir: &Path, executor_id: &str) -> Option<PathBuf> {
    let dirs = |p: PathBuf| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    dirs(work_dir.join("slaves"))
        .into_iter()
        .flat_map(|a| dirs(a.join("frameworks")))
        .map(|f| f.join("executors").join(executor_id).join("runs/latest"))
        .find_map(|latest| latest.canonicalize().ok())
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const MB: u64 = 1 << 20;

/// Enforced quotas: a task with `disk:10` writing 20 MB gets "Disk quota exceeded" from
/// `dd`; a task within its limit runs and `/monitor/statistics` shows its limit and use;
/// the ended task's project is reclaimed (quota cleared) once its sandbox is collected; an
/// agent restart keeps the running task's project and quota. Then `--xfs_kill_containers`:
/// a task over its soft limit is destroyed with `REASON_CONTAINER_LIMITATION_DISK`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xfs_project_quotas_limit_report_survive_a_restart_and_kill_when_asked() {
    let xfs = match XfsMount::new("xfs-quota", "prjquota") {
        Ok(xfs) => xfs,
        Err(why) => {
            eprintln!("skipping the disk/xfs quota test: {why}");
            return;
        }
    };
    let device = sys::device_of(&xfs.mnt).unwrap();
    let dir = temp_dir("xfs-cluster");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let work_dir = xfs.mnt.join("enforced");
    let flags = [
        "--resources=cpus:4;mem:2048;disk:200",
        "--isolation=posix/cpu,posix/mem,disk/xfs",
        "--enforce_container_disk_quota",
        "--gc_delay=1secs",
        "--disk_watch_interval=1secs",
    ];
    let mut agent_daemon = spawn_agent(&master, port, &work_dir, &flags);
    support::registered_agent_state(&agent).await;
    let mut framework = TestFramework::subscribe(&master, "disk-xfs", true).await;
    let offer = framework.next_offer().await;
    let agent_id = offer.agent_id.clone();
    // EDQUOT from dd is the only way this task finishes.
    let over = command_task(
        "over",
        &offer,
        "cpus:0.2;mem:32;disk:10",
        "dd if=/dev/zero of=big bs=1048576 count=20 2>err; cat err; grep -q 'Disk quota exceeded' err",
    );
    let within = command_task(
        "within",
        &offer,
        "cpus:0.2;mem:32;disk:10",
        "dd if=/dev/zero of=data bs=1048576 count=5 && sleep 300",
    );
    framework.launch(&offer, vec![over, within]).await;
    let (mut over_done, mut within_running) = (None, false);
    while over_done.is_none() || !within_running {
        let status = framework.next_update(Duration::from_secs(60)).await;
        match (
            status.task_id.value.as_str(),
            TaskState::try_from(status.state),
        ) {
            ("within", Ok(TaskState::TaskRunning)) => within_running = true,
            (_, Ok(TaskState::TaskStarting | TaskState::TaskRunning)) => {}
            ("over", _) => over_done = Some(status),
            _ => panic!("{status:?}"),
        }
    }
    let over_done = over_done.unwrap();
    assert_eq!(
        over_done.state,
        TaskState::TaskFinished as i32,
        "dd was not refused: {over_done:?}"
    );
    // The running task: its limit and its use, from the project's quota record.
    let entry = wait_for_stats(&agent, "within", |s| {
        s["disk_used_bytes"].as_u64().unwrap_or(0) >= 5 * MB
    })
    .await;
    assert_eq!(entry["statistics"]["disk_limit_bytes"], 10 * MB, "{entry}");
    let within_sandbox = sandbox_of(&work_dir, "within").unwrap();
    let within_id = sys::project_id(&within_sandbox).unwrap().unwrap();
    assert!((5000..=10000).contains(&within_id), "{within_id}");
    let quota = sys::get_quota(&device, within_id).unwrap().unwrap();
    assert_eq!((quota.soft_limit, quota.hard_limit), (10 * MB, 10 * MB));

    // The ended task's project: reclaimed once its sandbox is collected (Mesos's
    // reclaimProjectIds), its quota record cleared.
    let over_sandbox = sandbox_of(&work_dir, "over").unwrap();
    let over_id = sys::project_id(&over_sandbox).unwrap().unwrap();
    assert_ne!(over_id, within_id);
    assert!(sys::get_quota(&device, over_id).unwrap().is_some());
    wait_until("the ended task's project is reclaimed", || {
        !over_sandbox.exists() && sys::get_quota(&device, over_id).unwrap().is_none()
    })
    .await;

    // An agent restart: the running task keeps its project and its quota.
    agent_daemon.kill9();
    let _agent_daemon = spawn_agent(&master, port, &work_dir, &flags);
    support::registered_agent_state(&agent).await;
    let entry = wait_for_stats(&agent, "within", |s| {
        s["disk_limit_bytes"].as_u64() == Some(10 * MB)
            && s["disk_used_bytes"].as_u64().unwrap_or(0) >= 5 * MB
    })
    .await;
    assert_eq!(
        entry["framework_id"],
        framework.sub.framework_id.value.as_str()
    );
    assert_eq!(sys::project_id(&within_sandbox).unwrap(), Some(within_id));
    let quota = sys::get_quota(&device, within_id).unwrap().unwrap();
    assert_eq!(quota.hard_limit, 10 * MB);
    framework.kill("within", &agent_id).await;

    // --xfs_kill_containers: the hard limit is 10MB above the soft one; over the soft limit
    // the container is destroyed (a cluster of its own, another range on the same disk).
    let (_master2, master) = spawn_master(&dir.join("second")).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let _killer = spawn_agent(
        &master,
        port,
        &xfs.mnt.join("kill"),
        &[
            "--resources=cpus:4;mem:2048;disk:200",
            "--isolation=disk/xfs",
            "--enforce_container_disk_quota",
            "--xfs_kill_containers",
            "--xfs_project_range=[6000-6100]",
            "--container_disk_watch_interval=200ms",
        ],
    );
    support::registered_agent_state(&agent).await;
    let mut framework = TestFramework::subscribe(&master, "disk-xfs-kill", false).await;
    let offer = framework.next_offer().await;
    let writer = command_task(
        "writer",
        &offer,
        "cpus:0.2;mem:32;disk:10",
        "dd if=/dev/zero of=big bs=1048576 count=15 && sleep 300",
    );
    framework.launch(&offer, vec![writer]).await;
    let failed = loop {
        let status = framework.next_update(Duration::from_secs(60)).await;
        if TaskState::try_from(status.state).is_ok_and(remesos::common::protocol::is_terminal) {
            break status;
        }
    };
    assert_eq!(failed.state, TaskState::TaskFailed as i32, "{failed:?}");
    support::assert_disk_limitation(&failed, ") exceeded quota (10MB)");
    let _ = std::fs::remove_dir_all(&dir);
}
