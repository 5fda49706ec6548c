//! `remesos master`: Mesos's master flags (reference/mesos-contract.md §7).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use crate::flags::{Flag, Flags, LoadedFlags};
use crate::master::{self, Config, Master};
use crate::resources::Resources;

pub fn flags() -> Flags {
    Flags::new("remesos master")
        .flag(Flag::string(
            "ip",
            "IP address to listen on (default: all interfaces)",
        ))
        .flag(Flag::u16("port", "Port to listen on").default(5050u16))
        .flag(Flag::string(
            "advertise_ip",
            "IP address advertised to reach this master",
        ))
        .flag(Flag::u16(
            "advertise_port",
            "Port advertised to reach this master",
        ))
        .flag(Flag::string(
            "hostname",
            "Hostname the master advertises (default: the system hostname)",
        ))
        .flag(Flag::bool("hostname_lookup", "Whether to look up the hostname").default(true))
        .flag(Flag::path(
            "work_dir",
            "Directory for the master's durable state",
        ))
        .flag(Flag::string(
            "cluster",
            "Human readable name for the cluster, shown in the state",
        ))
        .flag(
            Flag::duration("allocation_interval", "Period between batch allocations")
                .default(Duration::from_secs(1)),
        )
        .flag(Flag::duration(
            "offer_timeout",
            "Duration after which an outstanding offer is rescinded",
        ))
        .flag(Flag::string(
            "roles",
            "Comma-separated list of allowed roles (deprecated whitelist)",
        ))
        .flag(Flag::string(
            "weights",
            "Comma-separated role=weight pairs, e.g. 'a=2,b=1'",
        ))
        .flag(
            Flag::duration(
                "agent_ping_timeout",
                "How long to wait for an agent to answer a ping",
            )
            .alias("slave_ping_timeout")
            .default(Duration::from_secs(15)),
        )
        .flag(
            Flag::u32(
                "max_agent_ping_timeouts",
                "Missed pings after which an agent is unreachable",
            )
            .alias("max_slave_ping_timeouts")
            .default(5u32),
        )
        .flag(
            Flag::u64(
                "max_completed_frameworks",
                "Completed frameworks kept in memory",
            )
            .default(50u64),
        )
        .flag(
            Flag::u64(
                "max_completed_tasks_per_framework",
                "Completed tasks kept per framework",
            )
            .default(1000u64),
        )
        .flag(
            Flag::u64(
                "max_unreachable_tasks_per_framework",
                "Unreachable tasks kept per framework",
            )
            .default(1000u64),
        )
        .flag(
            Flag::string(
                "min_allocatable_resources",
                "Minimum resources worth offering ('|' separates alternatives)",
            )
            .default("cpus:0.01|mem:32"),
        )
        .flag(
            Flag::bool(
                "filter_gpu_resources",
                "Offer GPU agents only to GPU_RESOURCES frameworks",
            )
            .default(true),
        )
        .flag(Flag::string(
            "fair_sharing_excluded_resource_names",
            "Resources excluded from DRF (e.g. gpus)",
        ))
        .flag(Flag::string("logging_level", "Log level: INFO, WARNING or ERROR").default("INFO"))
        .flag(Flag::bool("quiet", "Log errors only").default(false))
        .flag(Flag::path(
            "log_dir",
            "Accepted for compatibility; remesos logs to stderr",
        ))
}

pub fn main(args: &[String], env: &[(String, String)]) -> ExitCode {
    let loaded = match super::load_flags(&flags(), args, env) {
        Ok(l) => l,
        Err(code) => return code,
    };
    super::init_logging(
        loaded.get_str("logging_level").unwrap_or("INFO"),
        loaded.get_bool("quiet").unwrap_or(false),
    );
    super::block_on(async move {
        let (config, bind) = config(&loaded)?;
        if let Some(dir) = loaded.get_str("work_dir") {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("failed to create --work_dir '{dir}': {e}"))?;
        }
        run(config, bind).await
    })
}

/// Builds the master's configuration and the address to bind from loaded flags.
pub fn config(loaded: &LoadedFlags) -> Result<(Config, SocketAddr), String> {
    let (bind_ip, hostname, ip) = super::address_flags(loaded)?;
    let port = loaded.get_u16("port").unwrap_or(5050);
    let roles = loaded.get_str("roles").map(|r| {
        r.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
    });
    if let Some(roles) = &roles {
        for role in roles {
            crate::resources::validate_role(role)
                .map_err(|e| format!("invalid role '{role}' in --roles: {e}"))?;
        }
    }
    let mut weights = Vec::new();
    if let Some(text) = loaded.get_str("weights") {
        for pair in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (role, weight) = pair.split_once('=').ok_or_else(|| {
                format!("invalid weight '{pair}' in --weights: expected role=weight")
            })?;
            let weight: f64 = weight
                .parse()
                .ok()
                .filter(|w: &f64| w.is_finite() && *w > 0.0)
                .ok_or_else(|| {
                    format!("invalid weight '{pair}' in --weights: expected a positive number")
                })?;
            weights.push((role.to_string(), weight));
        }
    }
    let mut allocator = crate::allocator::Options::default();
    if let Some(text) = loaded.get_str("min_allocatable_resources") {
        let mut alternatives = Vec::new();
        for alt in text.split('|') {
            let r = Resources::parse(alt, "*")
                .map_err(|e| format!("failed to parse flag 'min_allocatable_resources': {e}"))?;
            alternatives.push(r);
        }
        allocator.min_allocatable_resources = alternatives;
    }
    allocator.filter_gpu_resources = loaded.get_bool("filter_gpu_resources").unwrap_or(true);
    if let Some(names) = loaded.get_str("fair_sharing_excluded_resource_names") {
        allocator.fair_sharing_excluded_resource_names = names
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    let advertise_port = loaded.get_u16("advertise_port").unwrap_or(port);
    let config = Config {
        ip,
        port: advertise_port,
        hostname,
        cluster: loaded.get_str("cluster").map(str::to_string),
        allocation_interval: loaded
            .get_duration("allocation_interval")
            .unwrap_or(Duration::from_secs(1)),
        offer_timeout: loaded.get_duration("offer_timeout"),
        roles,
        weights,
        agent_ping_timeout: loaded
            .get_duration("agent_ping_timeout")
            .unwrap_or(Duration::from_secs(15)),
        max_agent_ping_timeouts: loaded.get_u32("max_agent_ping_timeouts").unwrap_or(5),
        max_completed_frameworks: loaded.get_u64("max_completed_frameworks").unwrap_or(50) as usize,
        max_completed_tasks_per_framework: loaded
            .get_u64("max_completed_tasks_per_framework")
            .unwrap_or(1000) as usize,
        max_unreachable_tasks_per_framework: loaded
            .get_u64("max_unreachable_tasks_per_framework")
            .unwrap_or(1000) as usize,
        heartbeat_interval: master::HEARTBEAT_INTERVAL,
        flags: loaded.effective(),
        allocator,
    };
    Ok((config, SocketAddr::from((bind_ip, port))))
}

/// Binds, starts the actor and serves until Ctrl-C or SIGTERM.
pub async fn run(config: Config, bind: SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("failed to bind {bind}: {e}"))?;
    let id = uuid::Uuid::new_v4().to_string();
    tracing::info!(master_id = %id, %bind, hostname = %config.hostname, "remesos master starting");
    let handle = master::runtime::spawn(Master::new(config, id, master::runtime::now()));
    let app = master::http::router(handle);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
