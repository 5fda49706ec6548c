//! Performs one probe of a [`super::Checker`]: the I/O half of Mesos's `CheckerProcess`
//! (`commandCheck`, `httpCheck`, `tcpCheck` in `src/checks/checker_process.cpp`).
//!
//! - COMMAND: the check's command starts in a process group of its own (as the task's
//!   user, stdin from `/dev/null`, stdout and stderr to the executor's stderr). When the
//!   timeout passes the whole group is SIGKILLed and the process reaped before the probe
//!   fails, as Mesos's `os::killtree(pid, SIGKILL)` does; a probe dropped half-way (the
//!   executor is exiting) SIGKILLs its group too. No process of a check outlives it and
//!   none is left a zombie of the executor.
//! - HTTP: `GET` with redirects followed (at most [`MAX_REDIRECTS`]) and certificates not
//!   verified — curl's `-L -k`, which Mesos passes; the outcome is the final status code,
//!   a request that fails or times out fails the probe.
//! - TCP: a connection to the address; accepted or not is the outcome (Mesos's
//!   `mesos-tcp-connect` exit code); a timeout fails the probe.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::checker::{Outcome, Probe};
use crate::duration::format_duration;
use crate::executor::command::{LaunchSpec, Streams, describe_wait_status, spawn_with};

/// curl's default limit of redirects followed with `-L` (`--max-redirs`, 50).
pub const MAX_REDIRECTS: usize = 50;

/// Performs `probe`, giving up after `timeout` (`None`: never).
pub async fn run(probe: Probe, timeout: Option<Duration>) -> Outcome {
    match probe {
        Probe::Command(spec) => command(&spec, timeout).await,
        Probe::Http { url } => {
            let limit = |t| format!("HTTP request timed out after {}", format_duration(t));
            within(timeout, limit, http(&url)).await
        }
        Probe::Tcp { host, port } => {
            let Ok(port) = u16::try_from(port) else {
                return Outcome::Failed(format!("Invalid TCP port {port}"));
            };
            let limit = |t| format!("TCP connection timed out after {}", format_duration(t));
            within(timeout, limit, async move {
                match tokio::net::TcpStream::connect((host, port)).await {
                    Ok(_) => Outcome::Tcp { succeeded: true },
                    Err(e) => {
                        tracing::debug!(%host, port, error = %e, "TCP check connection failed");
                        Outcome::Tcp { succeeded: false }
                    }
                }
            })
            .await
        }
    }
}

/// `work`, or a failure worded by `message` once `timeout` passes.
async fn within(
    timeout: Option<Duration>,
    message: impl FnOnce(Duration) -> String,
    work: impl Future<Output = Outcome>,
) -> Outcome {
    match timeout {
        None => work.await,
        Some(t) => tokio::time::timeout(t, work)
            .await
            .unwrap_or_else(|_| Outcome::Failed(message(t))),
    }
}

/// SIGKILLs a check's process group when dropped while armed: the probe was abandoned
/// (the executor is exiting) or timed out.
struct GroupGuard(Option<rustix::process::Pid>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(group) = self.0.take()
            && let Err(e) =
                rustix::process::kill_process_group(group, rustix::process::Signal::KILL)
        {
            // ESRCH: the group is already gone, which is what was wanted.
            tracing::debug!(pgid = group.as_raw_nonzero().get(), error = %e, "killpg");
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn command(spec: &LaunchSpec, timeout: Option<Duration>) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let mut child = match spawn_with(spec, Streams::Check) {
        Ok(child) => child,
        Err(e) => return Outcome::Failed(format!("Failed to create subprocess: {e}")),
    };
    // The child leads its own group (spawn_with), so its pid is the group's id. While it is
    // not reaped its pid cannot be reused, so signalling the group before reaping is safe.
    let mut guard = GroupGuard(
        child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .and_then(rustix::process::Pid::from_raw),
    );
    let status = match timeout {
        None => child.wait().await,
        Some(limit) => match tokio::time::timeout(limit, child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                guard.kill();
                // Reap it (SIGKILL cannot be ignored, so this returns).
                let _ = child.wait().await;
                return Outcome::Failed(format!(
                    "Command timed out after {}",
                    format_duration(limit)
                ));
            }
        },
    };
    // Reaped: the pid may be reused from here on, so the group is not signalled again.
    guard.0 = None;
    match status {
        Ok(status) => match status.code() {
            Some(exit_code) => Outcome::Command { exit_code },
            None => Outcome::Failed(format!(
                "Command {}",
                describe_wait_status(status.into_raw())
            )),
        },
        Err(e) => Outcome::Failed(format!("Failed to reap the command process: {e}")),
    }
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// An HTTP probe client (connections are not kept: a probe must see the server as a new
/// client would).
fn new_client() -> Result<HttpsClient, String> {
    let tls = crate::security::tls::unverified_client_config().map_err(|e| format!("TLS: {e}"))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector))
}

/// The one client of this process's HTTP probes made in its own network namespace.
fn client() -> Result<&'static HttpsClient, String> {
    static CLIENT: OnceLock<Result<HttpsClient, String>> = OnceLock::new();
    CLIENT
        .get_or_init(new_client)
        .as_ref()
        .map_err(Clone::clone)
}

async fn http(url: &str) -> Outcome {
    match client() {
        Ok(client) => http_with(client, url).await,
        Err(e) => Outcome::Failed(e),
    }
}

/// Performs an HTTP or TCP `probe` from inside the network namespace of the process `pid`
/// (a docker container's init, Mesos's docker executor passes its pid to the checker with
/// `namespaces = {"net"}`), so that `127.0.0.1` is the container's loopback. The probe runs
/// on a thread of its own that `setns`es into `/proc/<pid>/ns/net` and drives it on a
/// runtime of its own, with a client of its own; the thread ends with the probe, so no
/// other work of this process ever runs in the container's network. When the process
/// shares this process's network namespace (the host network), the probe runs as usual.
/// COMMAND probes are not for here (docker mode runs them with `docker exec`).
pub async fn run_in_network_of(pid: u32, probe: Probe, timeout: Option<Duration>) -> Outcome {
    use std::os::unix::fs::MetadataExt;
    let path = format!("/proc/{pid}/ns/net");
    let namespace = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) => {
            return Outcome::Failed(format!(
                "cannot open the container's network namespace '{path}': {e}"
            ));
        }
    };
    let same = match (namespace.metadata(), std::fs::metadata("/proc/self/ns/net")) {
        (Ok(theirs), Ok(ours)) => theirs.ino() == ours.ino() && theirs.dev() == ours.dev(),
        _ => false,
    };
    if same || matches!(probe, Probe::Command(_)) {
        return run(probe, timeout).await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("check-netns".into())
        .spawn(move || {
            let outcome = (|| {
                use std::os::fd::AsFd;
                rustix::thread::move_into_link_name_space(
                    namespace.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(|e| format!("cannot enter the container's network namespace: {e}"))?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(runtime.block_on(async move {
                    match probe {
                        Probe::Http { url } => match new_client() {
                            Ok(client) => {
                                let limit = |t| {
                                    format!("HTTP request timed out after {}", format_duration(t))
                                };
                                within(timeout, limit, http_with(&client, &url)).await
                            }
                            Err(e) => Outcome::Failed(e),
                        },
                        other => run(other, timeout).await,
                    }
                }))
            })()
            .unwrap_or_else(Outcome::Failed);
            let _ = tx.send(outcome);
        });
    if let Err(e) = spawned {
        return Outcome::Failed(format!("cannot start the probe's thread: {e}"));
    }
    rx.await
        .unwrap_or_else(|_| Outcome::Failed("the probe's thread ended without an outcome".into()))
}

async fn http_with(client: &HttpsClient, url: &str) -> Outcome {
    let mut uri: http::Uri = match url.parse() {
        Ok(uri) => uri,
        Err(e) => return Outcome::Failed(format!("Invalid URL '{url}': {e}")),
    };
    for _ in 0..=MAX_REDIRECTS {
        let request = hyper::Request::get(uri.clone())
            .header(http::header::ACCEPT, "*/*")
            .header(http::header::USER_AGENT, "remesos-check")
            .body(Empty::new());
        let request = match request {
            Ok(request) => request,
            Err(e) => return Outcome::Failed(format!("Invalid request to '{uri}': {e}")),
        };
        let response = match client.request(request).await {
            Ok(response) => response,
            Err(e) => {
                return Outcome::Failed(format!(
                    "HTTP request to '{uri}' failed: {}",
                    crate::common::error_chain(&e)
                ));
            }
        };
        let status = response.status();
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|l| l.to_str().ok());
        match location {
            Some(location) if status.is_redirection() => match resolve(&uri, location) {
                Some(next) => uri = next,
                None => {
                    return Outcome::Failed(format!("Invalid redirect to '{location}'"));
                }
            },
            _ => {
                return Outcome::Http {
                    status_code: u32::from(status.as_u16()),
                };
            }
        }
    }
    Outcome::Failed(format!("Maximum ({MAX_REDIRECTS}) redirects followed"))
}

/// The target of a redirect from `base` to `location` (absolute, scheme-relative,
/// absolute-path or relative-path reference).
fn resolve(base: &http::Uri, location: &str) -> Option<http::Uri> {
    if let Ok(uri) = location.parse::<http::Uri>()
        && uri.scheme().is_some()
        && uri.authority().is_some()
    {
        return Some(uri);
    }
    let scheme = base.scheme_str()?;
    let authority = base.authority()?;
    let target = if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let directory = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let directory = if directory.is_empty() { "/" } else { directory };
        format!("{scheme}://{authority}{directory}{location}")
    };
    target.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn shell(script: &str, cwd: &std::path::Path) -> Probe {
        Probe::Command(LaunchSpec {
            program: "/bin/sh".into(),
            arg0: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("ANSWER".into(), "42".into()),
            ],
            cwd: Some(cwd.to_path_buf()),
            user: None,
            rootfs: None,
        })
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "remesos-check-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn a_command_reports_its_exit_code_with_the_task_environment_and_sandbox() {
        let dir = scratch("exit");
        std::fs::write(dir.join("marker"), "").unwrap();
        let outcome = run(
            shell("test -f marker && exit $((ANSWER - 39))", &dir),
            Some(Duration::from_secs(30)),
        )
        .await;
        assert_eq!(outcome, Outcome::Command { exit_code: 3 });
        let _ = std::fs::remove_dir_all(dir);
    }

    fn pid_in(path: &std::path::Path) -> i32 {
        std::fs::read_to_string(path)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// The state letter of `/proc/<pid>/stat`, `None` once the process is gone.
    fn proc_state(pid: i32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = &stat[stat.rfind(')')? + 2..];
        after.chars().next()
    }

    /// A hanging command is SIGKILLed with its whole process group when the timeout
    /// passes; the probe fails with Mesos's text; the command is reaped (no zombie of
    /// ours) and the child it forked dies too.
    #[tokio::test]
    async fn a_hanging_command_times_out_and_its_process_group_is_killed_and_reaped() {
        let dir = scratch("hang");
        // The shell records its pid and its background child's, then waits forever.
        let script = "echo $$ > leader; sleep 600 & echo $! > child; wait";
        let outcome = run(shell(script, &dir), Some(Duration::from_millis(1500))).await;
        assert_eq!(
            outcome,
            Outcome::Failed("Command timed out after 1500ms".into())
        );
        let leader = pid_in(&dir.join("leader"));
        let child = pid_in(&dir.join("child"));
        // Reaped by us: no /proc entry at all (a zombie would still have one).
        assert_eq!(proc_state(leader), None, "the command was left a zombie");
        // The forked child got SIGKILL too: gone, or a zombie of init awaiting its reaper,
        // never running (nor stopped) any more.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Some(state) = proc_state(child) {
            assert!(
                state == 'Z' || std::time::Instant::now() < deadline,
                "the command's child is still {state}"
            );
            if state == 'Z' {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_command_that_cannot_start_fails_the_probe() {
        let dir = scratch("missing");
        let probe = Probe::Command(LaunchSpec {
            program: "/no/such/binary".into(),
            arg0: "x".into(),
            args: vec![],
            env: vec![],
            cwd: Some(dir.clone()),
            user: None,
            rootfs: None,
        });
        let outcome = run(probe, None).await;
        assert!(
            matches!(&outcome, Outcome::Failed(e) if e.starts_with("Failed to create subprocess")),
            "{outcome:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn tcp_reports_whether_the_port_accepts() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = u32::from(listener.local_addr().unwrap().port());
        let host = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let timeout = Some(Duration::from_secs(20));
        assert_eq!(
            run(Probe::Tcp { host, port }, timeout).await,
            Outcome::Tcp { succeeded: true }
        );
        drop(listener);
        assert_eq!(
            run(Probe::Tcp { host, port }, timeout).await,
            Outcome::Tcp { succeeded: false }
        );
        assert_eq!(
            run(Probe::Tcp { host, port: 70000 }, timeout).await,
            Outcome::Failed("Invalid TCP port 70000".into())
        );
    }

    /// A server answering each connection with the next of `answers` (raw HTTP/1.1).
    async fn serve(answers: Vec<String>) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for answer in answers {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        port
    }

    fn answer(status: &str, extra: &str) -> String {
        format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
    }

    /// curl `-L`: the outcome is the final status after redirects.
    #[tokio::test]
    async fn http_follows_redirects_and_reports_the_final_status() {
        let port = serve(vec![
            answer("302 Found", "Location: /elsewhere\r\n"),
            answer("301 Moved Permanently", "Location: next\r\n"),
            answer("503 Service Unavailable", ""),
        ])
        .await;
        let outcome = run(
            Probe::Http {
                url: format!("http://127.0.0.1:{port}/health"),
            },
            Some(Duration::from_secs(20)),
        )
        .await;
        assert_eq!(outcome, Outcome::Http { status_code: 503 });
    }

    #[tokio::test]
    async fn http_to_a_closed_port_fails_the_probe() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let outcome = run(
            Probe::Http {
                url: format!("http://127.0.0.1:{port}/"),
            },
            Some(Duration::from_secs(20)),
        )
        .await;
        assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    }

    /// A server that accepts and never answers: the probe fails at its timeout.
    #[tokio::test]
    async fn http_to_a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let outcome = run(
            Probe::Http {
                url: format!("http://127.0.0.1:{port}/"),
            },
            Some(Duration::from_millis(500)),
        )
        .await;
        assert_eq!(
            outcome,
            Outcome::Failed("HTTP request timed out after 500ms".into())
        );
        drop(listener);
    }

    #[test]
    fn redirects_resolve_like_a_browser() {
        let base: http::Uri = "http://127.0.0.1:80/a/b?x=1".parse().unwrap();
        let resolved = |l| resolve(&base, l).map(|u| u.to_string());
        assert_eq!(resolved("/c").as_deref(), Some("http://127.0.0.1:80/c"));
        assert_eq!(resolved("c").as_deref(), Some("http://127.0.0.1:80/a/c"));
        assert_eq!(
            resolved("https://example.com/x").as_deref(),
            Some("https://example.com/x")
        );
        assert_eq!(resolved("//h:1/y").as_deref(), Some("http://h:1/y"));
    }
}
