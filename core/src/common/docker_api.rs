//! dockerd's Engine API, read side only: whether an image is present, a container's state
//! and addresses, and the wait for a container's `start` event — plain HTTP/1.0 requests
//! over the daemon's unix socket (`--docker_socket`).
//!
//! The docker containerizer acts through the `docker` CLI, as Mesos's src/docker/docker.cpp
//! does (agent/containerizer/docker.rs says why). Its questions are asked here instead:
//! each CLI call is a Go process start (~20 ms, more on a loaded machine), and the launch
//! path asked two of them — `docker image inspect` before the executor starts (Mesos's
//! `Docker::pull` asks the same) and `docker inspect` every 25 ms until the container ran
//! (Mesos's docker executor polls `Docker::inspect` too). A request on the socket costs
//! about a millisecond, and the `start` event arrives when the container starts, so the
//! launch pays for neither (bench/README.md, docker containerizer launch latency).
//!
//! HTTP/1.0 keeps the client trivial: dockerd (Go's net/http) answers a 1.0 request
//! without chunked encoding and closes the connection at the end, and its event stream is
//! one JSON object per line. Answers are bounded ([`BODY_LIMIT`]); a malformed answer is an
//! error, never a panic. The API is the daemon's own version (no `/v1.xx` prefix), using
//! only fields every version since 1.24 has.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The most of an answer that is read (an inspect is a few KiB).
pub const BODY_LIMIT: u64 = 4 << 20;
/// The longest event line that is read.
const EVENT_LINE_LIMIT: u64 = 64 << 10;

/// What a query can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach dockerd at '{socket}': {source}")]
    Unreachable {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("dockerd answered {code}: {message}")]
    Status { code: u16, message: String },
    #[error("dockerd's answer is malformed: {0}")]
    Malformed(String),
}

/// A container's state as the launch path needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerState {
    /// `State.Running`.
    pub running: bool,
    /// `State.OOMKilled`: the kernel killed it for its memory limit.
    pub oom_killed: bool,
    /// The addresses of its networks (`NetworkSettings.Networks.*.IPAddress`), the empty
    /// ones (host network) left out.
    pub ip_addresses: Vec<String>,
    /// `State.Pid`: the container's init process on the host, while it runs.
    pub pid: Option<u32>,
}

/// The Engine API on one socket.
#[derive(Clone, Debug)]
pub struct Engine {
    socket: PathBuf,
}

impl Engine {
    pub fn new(socket: impl Into<PathBuf>) -> Engine {
        Engine {
            socket: socket.into(),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn unreachable(&self, source: std::io::Error) -> EngineError {
        EngineError::Unreachable {
            socket: self.socket.clone(),
            source,
        }
    }

    /// Sends `GET <target>` and returns the status and the connection positioned at the
    /// body.
    async fn open(
        &self,
        target: &str,
    ) -> Result<(u16, BufReader<tokio::net::UnixStream>), EngineError> {
        let unreachable = |source| self.unreachable(source);
        let mut stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(unreachable)?;
        stream
            .write_all(format!("GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n").as_bytes())
            .await
            .map_err(unreachable)?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let mut status: Option<u16> = None;
        let mut head_bytes = 0usize;
        loop {
            line.clear();
            let n = (&mut reader)
                .take(EVENT_LINE_LIMIT)
                .read_line(&mut line)
                .await
                .map_err(unreachable)?;
            head_bytes += n;
            if n == 0 || head_bytes > EVENT_LINE_LIMIT as usize {
                return Err(EngineError::Malformed("the answer's head is cut".into()));
            }
            let text = line.trim_end();
            match status {
                None => {
                    // "HTTP/1.0 200 OK"
                    let code = text
                        .strip_prefix("HTTP/1.")
                        .and_then(|rest| rest.split_whitespace().nth(1))
                        .and_then(|code| code.parse().ok())
                        .ok_or_else(|| {
                            EngineError::Malformed(format!("status line '{}'", text.escape_debug()))
                        })?;
                    status = Some(code);
                }
                Some(_) if text.is_empty() => break,
                Some(_) => {
                    if let Some((name, value)) = text.split_once(':')
                        && name.eq_ignore_ascii_case("transfer-encoding")
                        && value.trim().eq_ignore_ascii_case("chunked")
                    {
                        return Err(EngineError::Malformed(
                            "a chunked answer to an HTTP/1.0 request".into(),
                        ));
                    }
                }
            }
        }
        Ok((status.unwrap_or_default(), reader))
    }

    /// `GET <target>`: the status and the whole (bounded) body.
    async fn get(&self, target: &str) -> Result<(u16, Vec<u8>), EngineError> {
        let (code, reader) = self.open(target).await?;
        let mut body = Vec::new();
        reader
            .take(BODY_LIMIT)
            .read_to_end(&mut body)
            .await
            .map_err(|source| self.unreachable(source))?;
        Ok((code, body))
    }

    /// Whether the image is present in the daemon (`GET /images/<name>/json`: 200 or 404);
    /// what `docker image inspect` answers, without a process.
    pub async fn image_exists(&self, image: &str) -> Result<bool, EngineError> {
        match self.get(&format!("/images/{}/json", encode(image))).await? {
            (200, _) => Ok(true),
            (404, _) => Ok(false),
            (code, body) => Err(status_error(code, &body)),
        }
    }

    /// The container's state (`GET /containers/<name>/json`); `None` when there is no
    /// such container.
    pub async fn container(&self, name: &str) -> Result<Option<ContainerState>, EngineError> {
        let body = match self
            .get(&format!("/containers/{}/json", encode(name)))
            .await?
        {
            (200, body) => body,
            (404, _) => return Ok(None),
            (code, body) => return Err(status_error(code, &body)),
        };
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| EngineError::Malformed(format!("container inspect: {e}")))?;
        let state = &json["State"];
        let ip_addresses = json["NetworkSettings"]["Networks"]
            .as_object()
            .map(|networks| {
                networks
                    .values()
                    .filter_map(|n| n["IPAddress"].as_str())
                    .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(ContainerState {
            running: state["Running"].as_bool().unwrap_or(false),
            oom_killed: state["OOMKilled"].as_bool().unwrap_or(false),
            ip_addresses,
            pid: state["Pid"]
                .as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0),
        }))
    }

    /// Waits for the container's `start` event (`GET /events` filtered to it). The stream
    /// replays the daemon's recent events (`since=1`), so a start that happened before the
    /// request is seen too; it returns `Ok(())` at the start and an error when the stream
    /// ends or fails first. Callers race it against the container's end.
    pub async fn wait_start(&self, name: &str) -> Result<(), EngineError> {
        let filters = serde_json::json!({
            "type": ["container"],
            "container": [name],
            "event": ["start"],
        });
        let target = format!("/events?since=1&filters={}", encode(&filters.to_string()));
        let (code, mut reader) = self.open(&target).await?;
        if code != 200 {
            let mut body = Vec::new();
            let _ = (&mut reader).take(BODY_LIMIT).read_to_end(&mut body).await;
            return Err(status_error(code, &body));
        }
        let mut line = String::new();
        loop {
            line.clear();
            let n = (&mut reader)
                .take(EVENT_LINE_LIMIT)
                .read_line(&mut line)
                .await
                .map_err(|source| self.unreachable(source))?;
            if n == 0 {
                return Err(EngineError::Malformed("the event stream ended".into()));
            }
            let Ok(event) = serde_json::from_str::<serde_json::Value>(line.trim()) else {
                continue;
            };
            // The stream is filtered to this container's starts; the check guards against a
            // daemon that ignores a filter.
            let action = event["Action"].as_str().or(event["status"].as_str());
            if action == Some("start") {
                return Ok(());
            }
        }
    }
}

/// An error status with dockerd's `message`.
fn status_error(code: u16, body: &[u8]) -> EngineError {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    EngineError::Status { code, message }
}

/// Percent-encodes all but RFC 3986's unreserved characters and the separators image
/// references use (`/`, `:`, `@`): a name cannot add a query or another path.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/:@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_add_a_query_or_leave_their_path_segment_unencoded() {
        assert_eq!(
            encode("reg:5000/a/b:1@sha256:ab"),
            "reg:5000/a/b:1@sha256:ab"
        );
        assert_eq!(encode("x?all=1#y z"), "x%3Fall%3D1%23y%20z");
        assert_eq!(encode("{\"a\":[1]}"), "%7B%22a%22:%5B1%5D%7D");
    }

    /// A one-shot server on a unix socket answering `answer` to the first request.
    async fn serve(answer: &'static str) -> (Engine, tokio::task::JoinHandle<String>) {
        let dir = std::env::temp_dir().join(format!(
            "remesos-engine-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let handle = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            reader.read_line(&mut request).await.unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).await.unwrap() > 2 {
                line.clear();
            }
            reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
            let _ = std::fs::remove_dir_all(&dir);
            request
        });
        (Engine::new(path), handle)
    }

    #[tokio::test]
    async fn an_inspect_gives_running_oom_and_the_non_empty_addresses() {
        let (engine, server) = serve(
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n\
             {\"State\":{\"Running\":true,\"OOMKilled\":false},\"NetworkSettings\":\
             {\"Networks\":{\"bridge\":{\"IPAddress\":\"172.17.0.2\"},\"host\":{\"IPAddress\":\"\"}}}}",
        )
        .await;
        let state = engine.container("mesos-c1").await.unwrap().unwrap();
        assert_eq!(
            state,
            ContainerState {
                running: true,
                oom_killed: false,
                ip_addresses: vec!["172.17.0.2".into()],
                pid: None,
            }
        );
        assert_eq!(
            server.await.unwrap(),
            "GET /containers/mesos-c1/json HTTP/1.0\r\n"
        );
    }

    #[tokio::test]
    async fn a_missing_image_is_false_and_another_status_an_error_with_dockerds_message() {
        let (engine, _server) = serve("HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"no\"}").await;
        assert!(!engine.image_exists("i:1").await.unwrap());
        let (engine, _server) =
            serve("HTTP/1.0 500 Internal\r\n\r\n{\"message\":\"disk full\"}").await;
        let e = engine.image_exists("i:1").await.unwrap_err().to_string();
        assert_eq!(e, "dockerd answered 500: disk full");
    }

    #[tokio::test]
    async fn garbage_and_chunked_answers_are_errors_not_panics() {
        for answer in [
            "SSH-2.0-x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}\r\n",
            "HTTP/1.0 200 OK\r\n\r\nnot json",
            "",
        ] {
            let (engine, _server) = serve(answer).await;
            assert!(engine.container("c").await.is_err(), "{answer:?}");
        }
    }

    #[tokio::test]
    async fn the_start_event_ends_the_wait_and_an_ended_stream_is_an_error() {
        let (engine, server) = serve(
            "HTTP/1.0 200 OK\r\n\r\n{\"Type\":\"container\",\"Action\":\"create\",\"id\":\"x\"}\n\
             {\"Type\":\"container\",\"Action\":\"start\",\"id\":\"x\",\"Actor\":{\"Attributes\":{\"name\":\"mesos-c\"}}}\n",
        )
        .await;
        engine.wait_start("mesos-c").await.unwrap();
        let request = server.await.unwrap();
        assert!(
            request.starts_with("GET /events?since=1&filters=%7B"),
            "{request}"
        );
        let (engine, _server) = serve("HTTP/1.0 200 OK\r\n\r\n").await;
        assert!(engine.wait_start("mesos-c").await.is_err());
    }
}
