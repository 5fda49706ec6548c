//! A master and N agents in one process — the cluster a new user starts with
//! (`remesos local`, cli/local.rs), what the test suite points frameworks at, and what the
//! scheduler driver runs for the master string `local` (a cluster inside the framework's
//! process, [`start_with_args`]). Mesos's `src/local/local.cpp` (`local::launch`, with the
//! flags of `src/local/flags.cpp`) does the same for its `local` master.
//!
//! The cluster is built from the daemons' own flag tables (master/flags.rs, agent/flags.rs)
//! so that every master flag applies to the embedded master and an agent gets exactly what
//! `remesos agent` would give it. This module sits beside master and agent and uses both;
//! the CLI and the driver use it.

use std::net::{Ipv4Addr, SocketAddr};

use crate::agent::{self, daemon::RunningAgent};
use crate::flags::{Flag, Flags, LoadedFlags};
use crate::master;
use crate::security::{self, Daemon};

/// The flags of `remesos local` (and of the driver's `local` cluster).
pub fn flags() -> Flags {
    let mut flags = Flags::new("remesos local")
        .flag(Flag::u32("num_agents", "Number of agents").alias("num_slaves").default(1u32))
        .flag(Flag::path("work_dir", "Directory for the agents' sandboxes (agent i uses <work_dir>/agent-i)").default("/tmp/remesos-local"))
        .flag(Flag::string("resources", "Resources of each agent (default: detected, as `remesos agent` does)"))
        .flag(Flag::string("attributes", "Attributes of each agent"))
        .flag(Flag::u16("first_agent_port", "Port of the first agent; agent i listens on first_agent_port + i").default(5051u16))
        .flag(Flag::bool(
            "agent_loopback_ips",
            "Give agent i its own loopback address 127.0.0.(i+2), all on port 5051, so per-host services run once per agent",
        ).default(false));
    // Every master flag applies to the embedded master.
    for name in [
        "ip",
        "port",
        "hostname",
        "cluster",
        "allocation_interval",
        "offer_timeout",
        "roles",
        "weights",
        "agent_ping_timeout",
        "max_agent_ping_timeouts",
        "max_completed_frameworks",
        "max_completed_tasks_per_framework",
        "max_operator_event_stream_subscribers",
        "min_allocatable_resources",
        "authenticate_agents",
        "logging_level",
        "quiet",
        "log_dir",
        "logbufsecs",
        "log_format",
    ] {
        if let Some(flag) = master::flags::flags().get(name) {
            flags.add(flag.clone());
        }
    }
    // Where the agents find `remesos` (for `remesos executor`) and libmesos.so: needed when
    // the process running the cluster is not `remesos` (the JNI driver's `local` inside a JVM).
    for name in AGENT_PASS_THROUGH {
        if let Some(flag) = agent::flags::flags().get(name)
            && flags.get(name).is_none()
        {
            flags.add(flag.clone());
        }
    }
    // The master's authentication applies to the embedded master.
    for flag in master::flags::authentication_flags() {
        flags.add(flag);
    }
    // The agents' own authentication flags, under the agent's names (Mesos's `mesos-local`
    // loads both daemons' flags from one `MESOS_*` environment, so `MESOS_CREDENTIAL` is
    // the agents' credential there too). The names the master shares
    // (`--authenticate_http_readonly`, `--authenticate_http_readwrite`) are the master's
    // flags above and apply to both daemons.
    for name in AGENT_SECURITY {
        if let Some(flag) = agent::flags::flags().get(name)
            && flags.get(name).is_none()
        {
            flags.add(flag.clone());
        }
    }
    // The master's and the agents' other security flags: accepted only with values that
    // leave them off (security/).
    security::declare(&mut flags, Daemon::Master);
    security::declare(&mut flags, Daemon::Agent);
    flags
}

/// Agent flags `remesos local` hands to each of its agents when given.
const AGENT_PASS_THROUGH: &[&str] = &[
    "resources",
    "attributes",
    "logging_level",
    "quiet",
    "launcher_dir",
    "native_library",
    // What Mesos's documentation (docs/ssl.md) tells operators to hand executors their
    // LIBPROCESS_SSL_* with: the executors of a secure `remesos local` need it as those of a
    // Mesos agent do.
    "executor_environment_variables",
];

/// Agent security flags `remesos local` hands to each of its agents when given: the
/// credential each agent registers with (`--authenticate_agents`), the HTTP realms the
/// agents share with the master, executor tokens, and the ACLs (the agents' `/files` and
/// container endpoints are authorized too). `--http_credentials` defaults to the master's
/// `--credentials` (see [`agent_args`]).
const AGENT_SECURITY: &[&str] = &[
    "credential",
    "http_credentials",
    "authenticate_http_readonly",
    "authenticate_http_readwrite",
    "authenticate_http_executors",
    "jwt_secret_key",
    "acls",
];

/// A master and its agents running in this process.
pub struct LocalCluster {
    /// `ip:port` of the master.
    pub master: String,
    pub agents: Vec<RunningAgent>,
    master_server: tokio::task::JoinHandle<()>,
}

impl LocalCluster {
    /// Kills the agents' executors and stops serving.
    pub async fn stop(self) {
        for a in self.agents {
            a.stop().await;
        }
        self.master_server.abort();
    }
}

/// Starts a local cluster from `remesos local` flags (`args` like `--num_agents=2`).
pub async fn start_with_args(args: &[String]) -> Result<LocalCluster, String> {
    let loaded = flags()
        .load(args, std::iter::empty::<(String, String)>())
        .map_err(|e| e.to_string())?;
    start(loaded).await
}

/// Starts the master and the agents and returns once they serve (agents register in the
/// background). `--port=0` picks a free port.
pub async fn start(loaded: LoadedFlags) -> Result<LocalCluster, String> {
    // The embedded master: master flags with `remesos local`'s defaults (127.0.0.1:5050).
    let mut master_args = vec![];
    for (name, value) in loaded.effective() {
        if master::flags::flags().get(&name).is_some() && name != "help" && loaded.is_given(&name) {
            master_args.push(format!("--{name}={value}"));
        }
    }
    if !loaded.is_given("ip") {
        master_args.push("--ip=127.0.0.1".into());
    }
    if !loaded.is_given("hostname") {
        master_args.push("--hostname=127.0.0.1".into());
    }
    let master_loaded = master::flags::flags()
        .load(&master_args, std::iter::empty::<(String, String)>())
        .map_err(|e| e.to_string())?;
    let (mut master_config, master_bind) = master::flags::config(&master_loaded)?;
    let authn = master::flags::authentication(&master_loaded)?;
    let limits = crate::api::serve::process_limits();
    let tls = crate::security::tls::current()?;
    let listener = crate::api::serve::listen(master_bind)?;
    let master_port = listener.local_addr().map_err(|e| e.to_string())?.port();
    master_config.port = master_port;
    let master_address = format!("{}:{}", master_config.ip, master_port);
    let id = uuid::Uuid::new_v4().to_string();
    let processes = master_processes(master_config.authorizer.clone());
    let handle = master::runtime::spawn(master::Master::new(
        master_config,
        id,
        master::runtime::now(),
    ));
    let app = master::http::router_with(handle, processes, authn);
    let master_server = tokio::spawn(async move {
        crate::api::serve::serve(listener, app, limits, tls, std::future::pending()).await;
    });

    let num = loaded.get_u32("num_agents").unwrap_or(1);
    let work_dir =
        std::path::PathBuf::from(loaded.get_str("work_dir").unwrap_or("/tmp/remesos-local"));
    let loopback = loaded.get_bool("agent_loopback_ips").unwrap_or(false);
    let first_port = loaded.get_u16("first_agent_port").unwrap_or(5051);
    let mut agents = Vec::new();
    for i in 0..num {
        let (ip, port) = if loopback {
            let last = u8::try_from(i + 2)
                .map_err(|_| "too many agents for distinct loopback addresses")?;
            (Ipv4Addr::new(127, 0, 0, last), first_port)
        } else {
            // Port 0: every agent gets a free port of its own.
            let port = if first_port == 0 {
                0
            } else {
                u16::try_from(u32::from(first_port) + i).map_err(|_| "too many agents")?
            };
            (Ipv4Addr::LOCALHOST, port)
        };
        let mut args = vec![
            format!("--master={master_address}"),
            format!("--ip={ip}"),
            format!("--port={port}"),
            format!("--hostname={ip}"),
            format!(
                "--work_dir={}",
                work_dir.join(format!("agent-{i}")).display()
            ),
        ];
        args.extend(agent_args(&loaded));
        let agent_loaded = agent::flags::flags()
            .load(&args, std::iter::empty::<(String, String)>())
            .map_err(|e| e.to_string())?;
        let (config, bind) = agent::flags::config(&agent_loaded)?;
        let bind = SocketAddr::from((ip, bind.port()));
        agents.push(agent::daemon::start(config, bind, master_address.clone()).await?);
    }
    Ok(LocalCluster {
        master: master_address,
        agents,
        master_server,
    })
}

/// The flags every agent of the cluster gets from `remesos local`'s own: those of
/// [`AGENT_PASS_THROUGH`] and [`AGENT_SECURITY`] that were given, and the master's
/// `--credentials` as the agents' `--http_credentials` unless that is given: one
/// credentials file serves the whole cluster, so `--authenticate_http_readonly` (which
/// guards the agents' endpoints too) or `--authenticate_http_executors` (whose default
/// authenticators are `basic,jwt`) do not need a second file.
fn agent_args(loaded: &LoadedFlags) -> Vec<String> {
    let mut args = vec![];
    for (name, value) in loaded.effective() {
        let passed =
            AGENT_PASS_THROUGH.contains(&name.as_str()) || AGENT_SECURITY.contains(&name.as_str());
        if passed && loaded.is_given(&name) {
            args.push(format!("--{name}={value}"));
        }
    }
    if !loaded.is_given("http_credentials")
        && let Some(credentials) = loaded.get_str("credentials").filter(|c| !c.is_empty())
    {
        args.push(format!("--http_credentials={credentials}"));
    }
    args
}

/// The endpoints of the libprocess processes a master runs beside its own (see
/// `master::http::router_with`): `/files/*` over a registry holding the master's log as
/// `/master/log` when there is one (`--log_dir`, guarded by `access_mesos_logs`, as Mesos's
/// `master/main.cpp` attaches it; 404 otherwise), and `/logging/toggle`, both guarded by the master's `authorizer` as Mesos guards them
/// (`get_endpoints` on `/files/debug` and `/logging/toggle`, `set_log_level` for a change
/// of level). Here rather than in master/ because `/files` is still the agent's module
/// (`agent::files`; Mesos keeps it apart, in `src/files/`), and the master does not import
/// the agent; `remesos master` uses it too.
pub fn master_processes(
    authorizer: std::sync::Arc<crate::security::authorizer::Authorizer>,
) -> axum::Router {
    let mut files = agent::files::Files::new();
    files.attach_daemon_log("/master/log");
    agent::files::routes_with(
        std::sync::Arc::new(std::sync::RwLock::new(files)),
        authorizer.clone(),
    )
    .merge(crate::api::logging::routes(authorizer))
}
