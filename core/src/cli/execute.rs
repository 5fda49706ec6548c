//! `remesos execute`: launches one command task and follows it to the end, like Mesos's
//! `mesos-execute`, friendlier: progress while waiting for an offer, every state change,
//! the task's stdout and stderr streamed from its sandbox, and the task's exit code as ours.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use remesos_proto::v1;
use v1::scheduler as sched;

use crate::client::scheduler::Subscription;
use crate::client::{Format, HttpClient};
use crate::flags::{Flag, Flags, LoadedFlags};
use crate::resources::Resources;

pub fn flags() -> Flags {
    Flags::new("remesos execute")
        .flag(Flag::string(
            "master",
            "The master: host:port, master@host:port, zk://host:port,.../path or file:///path",
        ))
        .flag(
            Flag::string("name", "Name of the task (and of the framework)")
                .default("remesos-execute"),
        )
        .flag(Flag::string("command", "Shell command to run"))
        .flag(Flag::string("resources", "Resources of the task").default("cpus:1;mem:128"))
        .flag(Flag::string(
            "env",
            "JSON object of environment variables for the command",
        ))
        .flag(Flag::string("role", "Role to run the task in").default("*"))
        .flag(Flag::string(
            "user",
            "User to run the task as (default: the current user)",
        ))
        .flag(Flag::bool("quiet", "Only the task's output and exit code").default(false))
}

pub fn main(args: &[String], env: &[(String, String)]) -> ExitCode {
    let loaded = match super::load_flags(&flags(), args, env) {
        Ok(l) => l,
        Err(code) => return code,
    };
    // The task's exit code becomes ours, so this cannot use `block_on`'s Result<()>.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    let runtime = match super::start_runtime(builder) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(run(&loaded)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("remesos execute: {e}");
            ExitCode::from(1)
        }
    }
}

/// The task's exit code from the command executor's message ("Command exited with status N"),
/// 0 for FINISHED, 128+signal for a signal, 1 otherwise.
pub fn exit_code(status: &v1::TaskStatus) -> u8 {
    if status.state == v1::TaskState::TaskFinished as i32 {
        return 0;
    }
    let message = status.message.as_deref().unwrap_or("");
    if let Some(n) = message
        .strip_prefix("Command exited with status ")
        .and_then(|n| n.trim().parse::<u8>().ok())
    {
        return n;
    }
    if status.state == v1::TaskState::TaskKilled as i32 {
        return 137;
    }
    1
}

struct Follower {
    http: HttpClient,
    url: String,
    offsets: [i64; 2],
}

impl Follower {
    /// Copies what is new in the sandbox's stdout and stderr to ours.
    async fn poll(&mut self) {
        for (i, name) in ["stdout", "stderr"].iter().enumerate() {
            loop {
                let url = format!(
                    "{}/{name}&offset={}&length=65536",
                    self.url, self.offsets[i]
                );
                let Ok((200, body)) = self.http.get(&url).await else {
                    break;
                };
                let Ok(v) = serde_json::from_slice::<Value>(&body) else {
                    break;
                };
                let data = v["data"].as_str().unwrap_or("");
                if data.is_empty() {
                    break;
                }
                self.offsets[i] += data.len() as i64;
                if i == 0 {
                    let _ = std::io::stdout().write_all(data.as_bytes());
                } else {
                    let _ = std::io::stderr().write_all(data.as_bytes());
                }
            }
        }
    }
}

async fn run(loaded: &LoadedFlags) -> Result<u8, String> {
    let detector = crate::zk::MasterDetector::parse(
        loaded
            .get_str("master")
            .ok_or("flag 'master' is required")?,
    )?;
    let master = detector
        .leader_within(std::time::Duration::from_secs(60))
        .await
        .ok_or("no leading master was detected within 60 seconds")?;
    let command = loaded
        .get_str("command")
        .ok_or("flag 'command' is required")?
        .to_string();
    let name = loaded
        .get_str("name")
        .unwrap_or("remesos-execute")
        .to_string();
    let role = loaded.get_str("role").unwrap_or("*").to_string();
    let quiet = loaded.get_bool("quiet").unwrap_or(false);
    let wanted = Resources::parse(loaded.get_str("resources").unwrap_or("cpus:1;mem:128"), "*")
        .map_err(|e| e.to_string())?;
    let environment = match loaded.get_str("env") {
        Some(text) => {
            let map: std::collections::BTreeMap<String, String> =
                serde_json::from_str(text).map_err(|e| format!("failed to parse --env: {e}"))?;
            Some(v1::Environment {
                variables: map
                    .into_iter()
                    .map(|(name, value)| v1::environment::Variable {
                        name,
                        value: Some(value),
                        ..Default::default()
                    })
                    .collect(),
            })
        }
        None => None,
    };
    let user = loaded
        .get_str("user")
        .map(str::to_string)
        .unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "root".into()));
    let say = |text: String| {
        if !quiet {
            eprintln!("{text}");
        }
    };
    let info = v1::FrameworkInfo {
        user,
        name: name.clone(),
        roles: vec![role.clone()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    };
    let mut sub = Subscription::subscribe(
        &master,
        sched::call::Subscribe {
            framework_info: info,
            ..Default::default()
        },
        Format::Protobuf,
    )
    .await
    .map_err(|e| format!("failed to subscribe at {master}: {e}"))?;
    say(format!(
        "Subscribed as framework {}; waiting for an offer with {wanted}",
        sub.framework_id.value
    ));
    let task_id = format!("{name}-{}", &uuid::Uuid::new_v4().to_string()[..8]);
    let mut follower: Option<Follower> = None;
    let mut waited = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    loop {
        let event = tokio::select! {
            event = sub.next_event() => event.map_err(|e| e.to_string())?,
            _ = ticker.tick() => {
                if let Some(f) = follower.as_mut() { f.poll().await; }
                else {
                    waited += 1;
                    if waited.is_multiple_of(25) { say(format!("... still waiting for an offer ({}s)", waited / 5)); }
                }
                continue;
            }
        };
        if let Some(offers) = event.offers {
            for offer in offers.offers {
                let offered =
                    Resources::from_protos(offer.resources.clone()).map_err(|e| e.to_string())?;
                let mut needed = wanted.clone();
                needed.allocate(&role);
                let fits = follower.is_none() && offered.contains(&needed);
                if !fits {
                    let decline = sched::Call {
                        r#type: Some(sched::call::Type::Decline as i32),
                        decline: Some(sched::call::Decline {
                            offer_ids: vec![offer.id.clone()],
                            filters: None,
                        }),
                        ..Default::default()
                    };
                    sub.call(decline).await.map_err(|e| e.to_string())?;
                    continue;
                }
                let task = v1::TaskInfo {
                    name: name.clone(),
                    task_id: v1::TaskId {
                        value: task_id.clone(),
                    },
                    agent_id: offer.agent_id.clone(),
                    resources: needed.into_protos(),
                    command: Some(v1::CommandInfo {
                        value: Some(command.clone()),
                        environment: environment.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                let accept = crate::common::protocol::launch_call(&offer, vec![task], None);
                sub.call(accept).await.map_err(|e| e.to_string())?;
                say(format!(
                    "Launched task {task_id} on agent {} ({})",
                    offer.agent_id.value, offer.hostname
                ));
                let agent = offer
                    .url
                    .as_ref()
                    .map(|u| {
                        format!(
                            "{}:{}",
                            u.address
                                .ip
                                .clone()
                                .unwrap_or_else(|| offer.hostname.clone()),
                            u.address.port
                        )
                    })
                    .unwrap_or_else(|| format!("{}:5051", offer.hostname));
                let path = format!(
                    "/frameworks/{}/executors/{task_id}/runs/latest",
                    sub.framework_id.value
                );
                follower = Some(Follower {
                    http: HttpClient::default(),
                    url: format!(
                        "{}://{agent}/files/read?path={path}",
                        crate::client::scheme()
                    ),
                    offsets: [0, 0],
                });
            }
        }
        if let Some(update) = event.update {
            let status = update.status;
            if status.task_id.value != task_id {
                continue;
            }
            let state = v1::TaskState::try_from(status.state)
                .map(|s| s.as_str_name())
                .unwrap_or("UNKNOWN");
            say(format!(
                "Received status update {state} for task {task_id}{}",
                status
                    .message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
            if let Some(ack) = crate::client::scheduler::acknowledge_call(&status) {
                sub.call(ack).await.map_err(|e| e.to_string())?;
            }
            if crate::common::protocol::is_terminal(
                v1::TaskState::try_from(status.state).unwrap_or(v1::TaskState::TaskLost),
            ) {
                if let Some(f) = follower.as_mut() {
                    f.poll().await;
                }
                let teardown = sched::Call {
                    r#type: Some(sched::call::Type::Teardown as i32),
                    ..Default::default()
                };
                let _ = sub.call(teardown).await;
                return Ok(exit_code(&status));
            }
        }
    }
}
