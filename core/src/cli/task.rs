//! `remesos task list|log|exec|attach`: the debugging commands of Mesos's CLI (`mesos task
//! exec`, `dcos task exec|log|attach`, src/python/cli_new/lib/cli/plugins/task/) against a
//! remesos or Mesos cluster.
//!
//! - `list`: the master's GET_TASKS (v1 operator API).
//! - `log [--follow] [--file=stdout|stderr]`: the task's sandbox file through the agent's
//!   `/files/read`; `--follow` polls the offset until the task is terminal.
//! - `exec [-i] [-t] <task> <command> [args...]`: LAUNCH_NESTED_CONTAINER_SESSION under the
//!   task's executor container; its `ProcessIO` records are copied to our stdout/stderr;
//!   with `-i` our stdin goes in through ATTACH_CONTAINER_INPUT (with heartbeats and, with
//!   `-t`, the terminal's window size); then WAIT_NESTED_CONTAINER gives the exit status,
//!   which becomes ours.
//! - `attach [-i] <task>`: ATTACH_CONTAINER_OUTPUT (and INPUT with `-i`) of a container
//!   that has an I/O switchboard here: a nested or standalone container launched through
//!   the agent's API (`--container=<id>`, child of the task's executor container).
//!
//! The task is found through the master's `/state` (its agent) and the agent's `/state`
//! (its executor's container id and sandbox).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::client::{Credential, HttpClient};

const USAGE: &str = "Usage: remesos task <command> [options]

Commands:
  list                                 the cluster's tasks (id, name, state, agent)
  log [--follow] [--file=stdout|stderr] <task>
                                       the task's stdout (or stderr); --follow keeps reading
  exec [-i] [-t] <task> <command> [args...]
                                       run a command in the task's container; -i sends our
                                       stdin, -t allocates a terminal; exits with its status
  attach [-i] --container=<id> <task>  attach to a nested container of the task's executor

Options:
  --master=host:port   the master (default: $MESOS_MASTER, else 127.0.0.1:5050)
  --principal=P --secret=S
                       HTTP Basic credentials for the master and the agent";

/// Parsed command line.
#[derive(Debug, Default)]
struct Args {
    master: Option<String>,
    principal: Option<String>,
    secret: Option<String>,
    follow: bool,
    file: Option<String>,
    interactive: bool,
    tty: bool,
    container: Option<String>,
    positional: Vec<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if !out.positional.is_empty() && out.positional.len() >= 2 {
            // After the task and the command, everything belongs to the command.
            out.positional.push(arg.clone());
            continue;
        }
        match arg.as_str() {
            "-i" | "--interactive" => out.interactive = true,
            "-t" | "--tty" => out.tty = true,
            "-it" | "-ti" => {
                out.interactive = true;
                out.tty = true;
            }
            "-f" | "--follow" => out.follow = true,
            "--" => out.positional.extend(iter.by_ref().cloned()),
            flag if flag.starts_with("--") => {
                let (name, value) = flag[2..]
                    .split_once('=')
                    .ok_or_else(|| format!("flag '{flag}' needs a value (--name=value)"))?;
                let value = Some(value.to_string());
                match name {
                    "master" => out.master = value,
                    "principal" => out.principal = value,
                    "secret" => out.secret = value,
                    "file" => out.file = value,
                    "container" => out.container = value,
                    _ => return Err(format!("unknown flag '--{name}'")),
                }
            }
            flag if flag.starts_with('-') && out.positional.is_empty() => {
                return Err(format!("unknown option '{flag}'"));
            }
            other => out.positional.push(other.to_string()),
        }
    }
    Ok(out)
}

pub fn main(args: &[String], env: &[(String, String)]) -> ExitCode {
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(1);
    };
    if matches!(command.as_str(), "help" | "--help" | "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let mut parsed = match parse(rest) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("remesos task: {e}\n\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    if parsed.master.is_none() {
        parsed.master = env
            .iter()
            .find(|(k, _)| k == "MESOS_MASTER")
            .map(|(_, v)| v.clone());
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    let runtime = match super::start_runtime(builder) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let cli = Cli::new(&parsed)?;
        match command.as_str() {
            "list" => cli.list().await.map(|()| 0),
            "log" => cli.log(&parsed).await.map(|()| 0),
            "exec" => cli.exec(&parsed).await,
            "attach" => cli.attach(&parsed).await,
            other => Err(format!("unknown task command '{other}'\n\n{USAGE}")),
        }
    });
    // The runtime may hold a blocking read of our stdin: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("remesos task: {e}");
            ExitCode::from(1)
        }
    }
}

/// Where a task runs: its agent's address, its executor's container and sandbox.
#[derive(Debug, Clone)]
struct Placement {
    agent: String,
    /// The task's container (`ContainerID` JSON): its executor's, or for a task of a group
    /// the container nested under it that its updates name.
    container_id: Value,
    directory: String,
    state: String,
}

struct Cli {
    http: HttpClient,
    master: String,
    authorization: Option<String>,
}

impl Cli {
    fn new(args: &Args) -> Result<Cli, String> {
        let master = args
            .master
            .clone()
            .unwrap_or_else(|| "127.0.0.1:5050".to_string());
        let master = master
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_start_matches("master@")
            .trim_end_matches('/')
            .to_string();
        let authorization = match (&args.principal, &args.secret) {
            (Some(p), Some(s)) => Some(
                Credential::new(p, s)
                    .map_err(|e| e.to_string())?
                    .authorization(),
            ),
            (None, None) => None,
            _ => return Err("--principal and --secret go together".into()),
        };
        Ok(Cli {
            http: HttpClient::default(),
            master,
            authorization,
        })
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("{}://{host}{path}", crate::client::scheme())
    }

    fn auth_headers(&self) -> Vec<(&str, &str)> {
        match &self.authorization {
            Some(a) => vec![("Authorization", a.as_str())],
            None => vec![],
        }
    }

    async fn get_json(&self, host: &str, path: &str) -> Result<Value, String> {
        let url = self.url(host, path);
        let (status, body) = self
            .http
            .get_with(&url, &self.auth_headers())
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if status != 200 {
            return Err(format!(
                "{url}: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
    }

    /// A v1 operator call (JSON); the response body.
    async fn call(
        &self,
        host: &str,
        call: Value,
        accept: &str,
        extra: &[(&str, &str)],
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        let url = self.url(host, "/api/v1");
        let mut headers = self.auth_headers();
        headers.extend_from_slice(extra);
        self.http
            .post(
                &url,
                "application/json",
                accept,
                &headers,
                call.to_string().into_bytes(),
            )
            .await
            .map_err(|e| format!("{url}: {e}"))
    }

    async fn list(&self) -> Result<(), String> {
        let state = self.get_json(&self.master, "/master/state").await?;
        println!("{:<40} {:<24} {:<16} AGENT", "ID", "NAME", "STATE");
        for framework in state["frameworks"].as_array().into_iter().flatten() {
            for key in ["tasks", "completed_tasks"] {
                for t in framework[key].as_array().into_iter().flatten() {
                    println!(
                        "{:<40} {:<24} {:<16} {}",
                        t["id"].as_str().unwrap_or(""),
                        t["name"].as_str().unwrap_or(""),
                        t["state"].as_str().unwrap_or(""),
                        t["slave_id"].as_str().unwrap_or(""),
                    );
                }
            }
        }
        Ok(())
    }

    /// Finds `task` (its id) in the master's state, then its executor on the agent.
    async fn locate(&self, task: &str) -> Result<Placement, String> {
        let state = self.get_json(&self.master, "/master/state").await?;
        let mut found = None;
        for framework in state["frameworks"].as_array().into_iter().flatten() {
            for key in ["tasks", "completed_tasks"] {
                for t in framework[key].as_array().into_iter().flatten() {
                    if t["id"] == json!(task) {
                        found = Some(t.clone());
                    }
                }
            }
        }
        let Some(t) = found else {
            return Err(format!("no task '{task}' in the master's state"));
        };
        let agent_id = t["slave_id"].as_str().unwrap_or("");
        let agent = state["slaves"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == json!(agent_id))
            .ok_or_else(|| {
                format!("task '{task}': its agent {agent_id} is not in the master's state")
            })?;
        // `slave(1)@ip:port`
        let address = agent["pid"]
            .as_str()
            .and_then(|p| p.split_once('@'))
            .map(|(_, a)| a.to_string())
            .ok_or_else(|| format!("agent {agent_id} has no address"))?;
        let agent_state = self.get_json(&address, "/state").await?;
        for framework in agent_state["frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(
                agent_state["completed_frameworks"]
                    .as_array()
                    .into_iter()
                    .flatten(),
            )
        {
            for key in ["executors", "completed_executors"] {
                for e in framework[key].as_array().into_iter().flatten() {
                    let has = ["tasks", "completed_tasks", "queued_tasks"]
                        .iter()
                        .any(|k| {
                            e[*k]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|x| x["id"] == json!(task))
                        });
                    if has {
                        let executor = e["container"].as_str().unwrap_or("");
                        let mut container_id = json!({ "value": executor });
                        let mut directory = e["directory"].as_str().unwrap_or("").to_string();
                        // A task of a group runs in the container its updates name, nested
                        // under the executor's, in `containers/<id>` of its sandbox.
                        let nested = t["statuses"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|s| &s["container_status"]["container_id"])
                            .filter(|c| c["parent"]["value"] == json!(executor))
                            .filter_map(|c| c["value"].as_str())
                            .next_back();
                        if let Some(child) = nested {
                            container_id = json!({"value": child, "parent": {"value": executor}});
                            directory = format!("{directory}/containers/{child}");
                        }
                        return Ok(Placement {
                            agent: address.clone(),
                            container_id,
                            directory,
                            state: t["state"].as_str().unwrap_or("").to_string(),
                        });
                    }
                }
            }
        }
        Err(format!("task '{task}' is not on agent {address}"))
    }

    async fn log(&self, args: &Args) -> Result<(), String> {
        let [task] = args.positional.as_slice() else {
            return Err("usage: remesos task log [--follow] [--file=stdout|stderr] <task>".into());
        };
        let file = args.file.clone().unwrap_or_else(|| "stdout".into());
        if file != "stdout" && file != "stderr" {
            return Err("--file is stdout or stderr".into());
        }
        let mut placement = self.locate(task).await?;
        let path = format!("{}/{file}", placement.directory);
        let mut offset: u64 = 0;
        let mut out = std::io::stdout();
        loop {
            let query = format!(
                "/files/read?path={}&offset={offset}&length=65536",
                percent(&path)
            );
            let read = self.get_json(&placement.agent, &query).await?;
            let data = read["data"].as_str().unwrap_or("");
            if !data.is_empty() {
                // `/files/read` carries the bytes as a JSON string of code points < 256.
                let bytes: Vec<u8> = data.chars().map(|c| c as u32 as u8).collect();
                offset += bytes.len() as u64;
                let _ = out.write_all(&bytes);
                let _ = out.flush();
                continue;
            }
            if !args.follow || is_terminal(&placement.state) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Ok(p) = self.locate(task).await {
                placement.state = p.state;
            }
        }
    }

    async fn exec(&self, args: &Args) -> Result<i32, String> {
        let Some((task, command)) = args.positional.split_first() else {
            return Err("usage: remesos task exec [-i] [-t] <task> <command> [args...]".into());
        };
        let Some(program) = command.first() else {
            return Err("usage: remesos task exec [-i] [-t] <task> <command> [args...]".into());
        };
        let placement = self.locate(task).await?;
        if is_terminal(&placement.state) {
            return Err(format!("task '{task}' is {}", placement.state));
        }
        let id = format!("exec-{}", uuid::Uuid::new_v4());
        let container_id = json!({"value": id, "parent": placement.container_id});
        let mut launch = json!({
            "container_id": container_id,
            "command": {
                "shell": false,
                "value": program,
                "arguments": command,
                "environment": {"variables": [
                    {"name": "TERM", "type": "VALUE",
                     "value": std::env::var("TERM").unwrap_or_else(|_| "xterm".into())}
                ]}
            }
        });
        let terminal = args.tty.then(local_window).flatten();
        if args.tty {
            let mut tty = json!({});
            if let Some((rows, columns)) = terminal {
                tty["window_size"] = json!({"rows": rows, "columns": columns});
            }
            launch["container"] = json!({"type": "MESOS", "tty_info": tty});
        }
        let call = json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION",
                          "launch_nested_container_session": launch});
        let response = self.streaming(&placement.agent, call).await?;
        let raw = args.tty.then(RawMode::enter).flatten();
        if args.interactive {
            self.send_input(&placement.agent, container_id.clone(), args.tty);
        }
        let copied = copy_output(response).await;
        drop(raw);
        copied?;
        let wait = json!({"type": "WAIT_NESTED_CONTAINER",
                          "wait_nested_container": {"container_id": container_id}});
        let response = self
            .call(&placement.agent, wait, "application/json", &[])
            .await?;
        let status = response.status().as_u16();
        let body = crate::client::collect(response)
            .await
            .map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!(
                "WAIT_NESTED_CONTAINER: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        let value: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let raw_status = value["wait_nested_container"]["exit_status"]
            .as_i64()
            .unwrap_or(0) as i32;
        let status = std::os::unix::process::ExitStatusExt::from_raw(raw_status);
        let status: std::process::ExitStatus = status;
        Ok(status
            .code()
            .or_else(|| std::os::unix::process::ExitStatusExt::signal(&status).map(|s| 128 + s))
            .unwrap_or(1))
    }

    async fn attach(&self, args: &Args) -> Result<i32, String> {
        let [task] = args.positional.as_slice() else {
            return Err("usage: remesos task attach [-i] --container=<id> <task>".into());
        };
        let placement = self.locate(task).await?;
        let container_id = match &args.container {
            Some(child) => json!({"value": child, "parent": placement.container_id}),
            None => placement.container_id.clone(),
        };
        let call = json!({"type": "ATTACH_CONTAINER_OUTPUT",
                          "attach_container_output": {"container_id": container_id}});
        let response = self.streaming(&placement.agent, call).await?;
        if args.interactive {
            self.send_input(&placement.agent, container_id, args.tty);
        }
        copy_output(response).await?;
        Ok(0)
    }

    /// A call answered with a RecordIO stream of JSON `ProcessIO` records (anything but
    /// 200 is an error naming the call).
    async fn streaming(
        &self,
        agent: &str,
        call: Value,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        let name = call["type"].as_str().unwrap_or("call").to_string();
        let response = self
            .call(
                agent,
                call,
                "application/recordio",
                &[("Message-Accept", "application/json")],
            )
            .await?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = crate::client::collect(response).await.unwrap_or_default();
            return Err(format!(
                "{name}: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(response)
    }

    /// Sends our stdin to the container in the background ([`Cli::input`]).
    fn send_input(&self, agent: &str, container_id: Value, tty: bool) {
        let input = self.input(agent, container_id, tty);
        tokio::spawn(async move {
            if let Err(e) = input.await {
                tracing::debug!(error = %e, "the input stream ended");
            }
        });
    }

    /// ATTACH_CONTAINER_INPUT: our stdin as STDIN records (an empty one at its end), a
    /// heartbeat every 30 s, and the window size first when `tty`.
    fn input(
        &self,
        agent: &str,
        container_id: Value,
        tty: bool,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
        let url = self.url(agent, "/api/v1");
        let authorization = self.authorization.clone();
        async move {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
            let record = |call: Value| {
                let mut framed = Vec::new();
                remesos_proto::recordio::encode(call.to_string().as_bytes(), &mut framed);
                Bytes::from(framed)
            };
            let first = json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input":
                {"type": "CONTAINER_ID", "container_id": container_id}});
            let _ = tx.send(record(first)).await;
            if tty && let Some((rows, columns)) = local_window() {
                let size = json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input":
                    {"type": "PROCESS_IO", "process_io": {"type": "CONTROL", "control":
                        {"type": "TTY_INFO", "tty_info": {"window_size": {"rows": rows, "columns": columns}}}}}});
                let _ = tx.send(record(size)).await;
            }
            let stdin_tx = tx.clone();
            // Our stdin, read on a blocking thread.
            std::thread::spawn(move || {
                use std::io::Read;
                let mut stdin = std::io::stdin();
                let mut buffer = [0u8; 4096];
                loop {
                    let n = stdin.read(&mut buffer).unwrap_or(0);
                    let data = base64_encode(&buffer[..n]);
                    let call = json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input":
                        {"type": "PROCESS_IO", "process_io": {"type": "DATA", "data":
                            {"type": "STDIN", "data": data}}}});
                    if stdin_tx.blocking_send(record(call)).is_err() || n == 0 {
                        return;
                    }
                }
            });
            let heartbeat_tx = tx;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    let beat = json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input":
                        {"type": "PROCESS_IO", "process_io": {"type": "CONTROL", "control":
                            {"type": "HEARTBEAT", "heartbeat": {"interval": {"nanoseconds": 30_000_000_000u64}}}}}});
                    if heartbeat_tx.send(record(beat)).await.is_err() {
                        return;
                    }
                }
            });
            stream_post(&url, authorization.as_deref(), rx).await
        }
    }
}

fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_LOST"
            | "TASK_ERROR"
            | "TASK_DROPPED"
            | "TASK_GONE"
    )
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_./~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Copies a RecordIO stream of JSON `ProcessIO` records to our stdout and stderr.
async fn copy_output(response: hyper::Response<hyper::body::Incoming>) -> Result<(), String> {
    use base64::Engine;
    use http_body_util::BodyExt;
    let mut body = response.into_body();
    let mut decoder = remesos_proto::recordio::Decoder::new(16 * 1024 * 1024);
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the output stream failed: {e}"))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        for record in decoder.feed(data).map_err(|e| e.to_string())? {
            let v: Value = serde_json::from_slice(&record).map_err(|e| e.to_string())?;
            if v["type"] != json!("DATA") {
                continue;
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v["data"]["data"].as_str().unwrap_or(""))
                .map_err(|e| e.to_string())?;
            if v["data"]["type"] == json!("STDERR") {
                let _ = stderr.write_all(&bytes);
                let _ = stderr.flush();
            } else {
                let _ = stdout.write_all(&bytes);
                let _ = stdout.flush();
            }
        }
    }
    Ok(())
}

/// POSTs a streaming RecordIO body (one HTTP/1.1 connection of its own: the shared
/// client sends whole bodies only).
async fn stream_post(
    url: &str,
    authorization: Option<&str>,
    rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> Result<(), String> {
    use http_body_util::StreamBody;
    use hyper_util::rt::TokioIo;
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let host = uri.host().unwrap_or("127.0.0.1").to_string();
    let port = uri.port_u16().unwrap_or(5051);
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let frames = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(|b| Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(b)));
    let body = StreamBody::new(frames);
    let mut request = hyper::Request::post(uri.path())
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(hyper::header::CONTENT_TYPE, "application/recordio")
        .header("Message-Content-Type", "application/json")
        .header(hyper::header::ACCEPT, "application/json");
    if let Some(a) = authorization {
        request = request.header(hyper::header::AUTHORIZATION, a);
    }
    let request = request.body(body).map_err(|e| e.to_string())?;
    let response = match crate::security::tls::current()? {
        Some(tls) if uri.scheme_str() == Some("https") => {
            let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
            let name =
                rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| e.to_string())?;
            send_on(TokioIo::new(stream), request).await?
        }
        _ => send_on(TokioIo::new(tcp), request).await?,
    };
    if response.status() != 200 {
        return Err(format!("ATTACH_CONTAINER_INPUT: {}", response.status()));
    }
    Ok(())
}

/// Sends `request` on a new HTTP/1.1 connection over `io`.
async fn send_on<I, B>(
    io: I,
    request: hyper::Request<B>,
) -> Result<hyper::Response<hyper::body::Incoming>, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

use tokio_stream::StreamExt as _;

/// Our terminal's size (rows, columns), when stdin is one.
fn local_window() -> Option<(u16, u16)> {
    let stdin = std::io::stdin();
    let size = rustix::termios::tcgetwinsize(&stdin).ok()?;
    Some((size.ws_row, size.ws_col))
}

/// Our terminal in raw mode for a `-t` session; restored when dropped.
struct RawMode(rustix::termios::Termios);

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exec_options_come_before_the_task_and_everything_after_the_command_is_its_own() {
        let a = parse(&args(&[
            "-it",
            "--master=m:5050",
            "task-1",
            "ls",
            "-l",
            "--x=y",
        ]))
        .unwrap();
        assert!(a.interactive && a.tty);
        assert_eq!(a.master.as_deref(), Some("m:5050"));
        assert_eq!(a.positional, args(&["task-1", "ls", "-l", "--x=y"]));
    }

    #[test]
    fn unknown_flags_are_refused() {
        assert!(parse(&args(&["--nope=1", "t"])).is_err());
        assert!(parse(&args(&["--master"])).is_err());
    }

    #[test]
    fn sandbox_paths_are_percent_encoded_for_files_read() {
        assert_eq!(percent("/a b/c&d"), "/a%20b/c%26d");
    }
}
