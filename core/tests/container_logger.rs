//! `--container_logger=org_apache_mesos_LogrotateContainerLogger` on a real agent
//! (agent/container_logger.rs, Mesos's `LogrotateContainerLogger`): a task printing far more
//! than `--logrotate_max_stdout_size` leaves a bounded `stdout` and numbered rotated files,
//! the live `stdout` is still what `/files` reads, the companion loggers end with the task,
//! and bad settings stop the agent. Needs nothing but the `remesos` binary.
#![allow(clippy::disallowed_methods, reason = "tests start processes by design")]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use remesos_proto::v1;
use support::{
    TestFramework, command_task, free_port, operator_call, run_to_exit, spawn_agent, spawn_master,
    temp_dir,
};
use v1::TaskState;

/// The sandbox of executor `id` (the latest run) under the agent's `work_dir`.
fn sandbox(work_dir: &Path, id: &str) -> PathBuf {
    let mut dirs = vec![work_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.ends_with(format!("executors/{id}/runs/latest")) {
                return path;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) && !path.ends_with("meta") {
                dirs.push(path);
            }
        }
    }
    panic!("no sandbox for {id} under {}", work_dir.display())
}

/// Companion loggers still running for files in `sandbox` (their command lines name them).
fn loggers(sandbox: &Path) -> Vec<String> {
    let real = std::fs::canonicalize(sandbox).unwrap_or(sandbox.to_path_buf());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("logrotate-logger")
            && (cmdline.contains(sandbox.to_str().unwrap())
                || cmdline.contains(real.to_str().unwrap()))
        {
            found.push(cmdline);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatty_task_leaves_bounded_rotated_stdout_and_files_reads_the_live_one() {
    let dir = temp_dir("container-logger");
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let work_dir = dir.join("agent");
    let _agent = spawn_agent(
        &master,
        port,
        &work_dir,
        &[
            "--container_logger=org_apache_mesos_LogrotateContainerLogger",
            "--logrotate_max_stdout_size=8KB",
            "--logrotate_stdout_options=rotate 3",
        ],
    );
    support::registered_agent_state(&agent).await;
    let mut framework = TestFramework::subscribe(&master, "container-logger", false).await;
    let offer = framework.next_offer().await;
    // About 100 KB of stdout (2000 lines of 50 bytes), a marker line last, then it stays up.
    let chatty = command_task(
        "chatty",
        &offer,
        "cpus:0.2;mem:64",
        "i=0; while [ $i -lt 2000 ]; do \
           printf 'line %05d .....................................\\n' $i; i=$((i+1)); \
         done; echo the-last-line; echo to-stderr >&2; sleep 600",
    );
    framework.launch(&offer, vec![chatty]).await;
    loop {
        let status = framework.next_update(Duration::from_secs(60)).await;
        if status.state == TaskState::TaskRunning as i32 {
            break;
        }
        assert!(
            !TaskState::try_from(status.state).is_ok_and(remesos::common::protocol::is_terminal),
            "{status:?}"
        );
    }
    let sandbox = sandbox(&work_dir, "chatty");
    // Wait for the output to be written through the logger (a pipe read may cut a line,
    // so the marker may straddle the live file and the last rotated one).
    let written = || {
        ["stdout.1", "stdout"]
            .iter()
            .map(|name| std::fs::read_to_string(sandbox.join(name)).unwrap_or_default())
            .collect::<String>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !written().contains("the-last-line") {
        assert!(
            std::time::Instant::now() < deadline,
            "the marker never reached stdout"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for name in ["stdout", "stdout.1", "stdout.2", "stdout.3"] {
        let len = std::fs::metadata(sandbox.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .len();
        assert!(len > 0 && len <= 8192, "{name} has {len} bytes");
    }
    assert!(
        !sandbox.join("stdout.4").exists(),
        "rotate 3 keeps three rotated files"
    );
    let oldest = std::fs::read_to_string(sandbox.join("stdout.3")).unwrap();
    assert!(oldest.contains("....."), "{oldest}");
    // stderr has its own logger (default 10 MB: not rotated) and the agent's lines before.
    let stderr = std::fs::read_to_string(sandbox.join("stderr")).unwrap();
    assert!(stderr.contains("to-stderr"), "{stderr}");
    assert!(!sandbox.join("stderr.1").exists());

    // /files reads the live stdout, with the newest output, while the task runs.
    let fid = framework.sub.framework_id.value.clone();
    let path = format!("/frameworks/{fid}/executors/chatty/runs/latest/stdout");
    let (status, body) = operator_call(
        &agent,
        &format!(r#"{{"type":"READ_FILE","read_file":{{"path":"{path}","offset":0}}}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let data = base64::engine::general_purpose::STANDARD
        .decode(body["read_file"]["data"].as_str().unwrap_or(""))
        .unwrap();
    // The task is idle now: what /files serves is the live file as it is on disk.
    assert_eq!(data, std::fs::read(sandbox.join("stdout")).unwrap());
    assert!(
        data.ends_with(b"the-last-line\n"),
        "{}",
        String::from_utf8_lossy(&data)
    );
    assert_eq!(loggers(&sandbox).len(), 2, "one logger per stream");

    // The loggers end when the task's processes are gone (EOF on their pipes).
    framework.kill("chatty", &offer.agent_id).await;
    loop {
        let status = framework.next_update(Duration::from_secs(60)).await;
        if status.state == TaskState::TaskKilled as i32 {
            break;
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !loggers(&sandbox).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "loggers outlived the task: {:?}",
            loggers(&sandbox)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn bad_container_logger_settings_stop_the_agent() {
    let dir = temp_dir("container-logger-flags");
    let work_dir = format!("--work_dir={}", dir.display());
    for (flags, expected) in [
        (
            vec!["--container_logger=org_apache_mesos_Other"],
            "Unknown --container_logger 'org_apache_mesos_Other'",
        ),
        (
            vec![
                "--container_logger=org_apache_mesos_LogrotateContainerLogger",
                "--logrotate_max_stdout_size=100B",
            ],
            "--logrotate_max_stdout_size must be at least one memory page",
        ),
        (
            vec![
                "--container_logger=org_apache_mesos_LogrotateContainerLogger",
                "--logrotate_path=/nonexistent/logrotate",
            ],
            "--logrotate_path '/nonexistent/logrotate' is not an executable file",
        ),
        (
            vec!["--fetcher_cache_dir=relative"],
            "--fetcher_cache_dir must be an absolute path",
        ),
    ] {
        let mut args = vec!["agent", "--master=127.0.0.1:1", work_dir.as_str()];
        args.extend(flags.iter().copied());
        let (status, stderr) = run_to_exit(&args, &[]);
        assert!(!status.success(), "{flags:?} started");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
}
