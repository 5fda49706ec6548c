//! `remesos master`: Mesos's master flags (reference/mesos-contract.md §7).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use crate::flags::{Flag, Flags, LoadedFlags};
use crate::master::{self, Config, Master};
use crate::resources::Resources;

pub fn flags() -> Flags {
    let mut flags = Flags::new("remesos master")
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
            Flag::u64(
                "max_operator_event_stream_subscribers",
                "Maximum number of simultaneous subscribers to the master's operator event \
                 stream; beyond it the oldest connections are closed",
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
        .flag(Flag::string(
            "zk",
            "ZooKeeper URL for leader election and the registry: zk://[user:pass@]host:port,.../path (or file:///path holding it)",
        ))
        .flag(Flag::u32(
            "quorum",
            "Accepted for compatibility with Mesos command lines; the ZooKeeper ensemble's own quorum replicates the registry, so it is ignored",
        ))
        .flag(
            Flag::duration(
                "zk_session_timeout",
                "ZooKeeper session timeout (a leader whose session expires exits)",
            )
            .default(crate::zk::DEFAULT_SESSION_TIMEOUT),
        )
        .flag(
            Flag::string(
                "registry",
                "Registry persistence: replicated_log (durable: ZooKeeper with --zk, else --work_dir) or in_memory",
            )
            .default("replicated_log"),
        )
        .flag(
            Flag::duration(
                "agent_reregister_timeout",
                "After a failover, how long agents have to reregister before they are marked unreachable",
            )
            .alias("slave_reregister_timeout")
            .default(Duration::from_secs(600)),
        )
        .flag(
            Flag::duration(
                "registry_fetch_timeout",
                "How long a newly elected master may take to read the registry before it gives up",
            )
            .default(DEFAULT_REGISTRY_FETCH_TIMEOUT),
        )
        .flag(
            Flag::duration(
                "registry_store_timeout",
                "How long a registry write is retried before it fails",
            )
            .default(DEFAULT_REGISTRY_STORE_TIMEOUT),
        )
        .flag(
            Flag::duration(
                "registry_gc_interval",
                "How often unreachable and gone agents are pruned from the registry",
            )
            .default(Duration::from_secs(15 * 60)),
        )
        .flag(
            Flag::duration(
                "registry_max_agent_age",
                "Unreachable or gone agents older than this are pruned from the registry",
            )
            .default(Duration::from_secs(14 * 24 * 3600)),
        )
        .flag(
            Flag::u64(
                "registry_max_agent_count",
                "At most this many unreachable (and as many gone) agents are kept in the registry",
            )
            .default(102_400u64),
        )
        .flag(Flag::string("logging_level", "Log level: INFO, WARNING or ERROR").default("INFO"))
        .flag(Flag::bool("quiet", "Log errors only").default(false))
        .flag(Flag::path(
            "log_dir",
            "Accepted for compatibility; remesos logs to stderr",
        ));
    // Mesos's security flags: accepted only with values that leave them off.
    super::security::declare(&mut flags, super::security::Daemon::Master);
    flags
}

/// Mesos's `--registry_fetch_timeout` default.
const DEFAULT_REGISTRY_FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Mesos's `--registry_store_timeout` default.
const DEFAULT_REGISTRY_STORE_TIMEOUT: Duration = Duration::from_secs(20);

pub fn main(args: &[String], env: &[(String, String)]) -> ExitCode {
    let flags = flags();
    let loaded = match super::load_flags(&flags, args, env) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Err(code) =
        super::security::check(&flags, &loaded, &[super::security::Daemon::Master], env)
    {
        return code;
    }
    super::block_on(async move {
        let (config, bind) = config(&loaded)?;
        if let Some(dir) = loaded.get_str("work_dir") {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("failed to create --work_dir '{dir}': {e}"))?;
        }
        let durability = durability(&loaded)?;
        run_with(config, bind, durability).await
    })
}

/// Where the master keeps its registry and how it is elected.
#[derive(Clone, Debug)]
pub struct Durability {
    /// `--zk`: contend for leadership and keep the registry in ZooKeeper.
    pub zk: Option<crate::zk::ZkUrl>,
    pub zk_session_timeout: Duration,
    /// `--registry=in_memory`.
    pub in_memory: bool,
    pub work_dir: Option<std::path::PathBuf>,
    /// `--registry_fetch_timeout`: bounds the recovery read of a newly elected master.
    pub fetch_timeout: Duration,
    /// `--registry_store_timeout`: how long the registrar retries a write.
    pub store_timeout: Duration,
}

impl Default for Durability {
    fn default() -> Self {
        Durability {
            zk: None,
            zk_session_timeout: crate::zk::DEFAULT_SESSION_TIMEOUT,
            in_memory: false,
            work_dir: None,
            fetch_timeout: DEFAULT_REGISTRY_FETCH_TIMEOUT,
            store_timeout: DEFAULT_REGISTRY_STORE_TIMEOUT,
        }
    }
}

fn durability(loaded: &LoadedFlags) -> Result<Durability, String> {
    let zk = match loaded.get_str("zk") {
        Some(text) => {
            let text = match text.trim().strip_prefix("file://") {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| format!("failed to read --zk file '{path}': {e}"))?,
                None => text.to_string(),
            };
            Some(crate::zk::ZkUrl::parse(text.trim()).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let in_memory = match loaded.get_str("registry").unwrap_or("replicated_log") {
        "replicated_log" => false,
        "in_memory" => true,
        other => {
            return Err(format!(
                "invalid --registry '{other}': expected replicated_log or in_memory"
            ));
        }
    };
    if let Some(quorum) = loaded.get_u32("quorum") {
        if quorum == 0 {
            return Err("--quorum must be positive".to_string());
        }
        tracing::warn!(
            quorum,
            "--quorum is ignored: the registry is replicated by the ZooKeeper ensemble's own quorum"
        );
    }
    Ok(Durability {
        zk,
        zk_session_timeout: loaded
            .get_duration("zk_session_timeout")
            .unwrap_or(crate::zk::DEFAULT_SESSION_TIMEOUT),
        in_memory,
        work_dir: loaded.get_str("work_dir").map(std::path::PathBuf::from),
        fetch_timeout: positive(
            loaded,
            "registry_fetch_timeout",
            DEFAULT_REGISTRY_FETCH_TIMEOUT,
        )?,
        store_timeout: positive(
            loaded,
            "registry_store_timeout",
            DEFAULT_REGISTRY_STORE_TIMEOUT,
        )?,
    })
}

/// A duration flag that must be greater than zero.
fn positive(loaded: &LoadedFlags, name: &str, default: Duration) -> Result<Duration, String> {
    let d = loaded.get_duration(name).unwrap_or(default);
    if d.is_zero() {
        return Err(format!("invalid value for '--{name}': must be positive"));
    }
    Ok(d)
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
        max_operator_event_stream_subscribers: loaded
            .get_u64("max_operator_event_stream_subscribers")
            .unwrap_or(1000)
            .try_into()
            .unwrap_or(usize::MAX),
        heartbeat_interval: master::HEARTBEAT_INTERVAL,
        agent_reregister_timeout: loaded
            .get_duration("agent_reregister_timeout")
            .unwrap_or(Duration::from_secs(600)),
        registry_gc_interval: positive(
            loaded,
            "registry_gc_interval",
            Duration::from_secs(15 * 60),
        )?,
        registry_max_agent_age: loaded
            .get_duration("registry_max_agent_age")
            .unwrap_or(Duration::from_secs(14 * 24 * 3600)),
        registry_max_agent_count: loaded
            .get_u64("registry_max_agent_count")
            .unwrap_or(102_400)
            .try_into()
            .unwrap_or(usize::MAX),
        flags: loaded.effective(),
        allocator,
    };
    Ok((config, SocketAddr::from((bind_ip, port))))
}

/// Binds and serves until Ctrl-C or SIGTERM. Standalone, the master recovers its registry
/// and leads at once; with `--zk` it serves redirects until it is elected, then recovers
/// and leads until its ZooKeeper session ends — then it exits with an error, as Mesos's
/// master does, so that it never leads beside a newer leader.
pub async fn run_with(
    config: Config,
    bind: SocketAddr,
    durability: Durability,
) -> Result<(), String> {
    use crate::registry::{FileStore, MemoryStore, RegistryStore, ZkStore};
    let limits = super::serve::process_limits();
    let listener = super::listen(bind)?;
    let id = uuid::Uuid::new_v4().to_string();
    tracing::info!(master_id = %id, %bind, hostname = %config.hostname, "remesos master starting");
    let Some(url) = durability.zk.clone() else {
        // The daemon chooses the registry's store (Mesos's master does the same with
        // --registry and --work_dir).
        let store: Box<dyn RegistryStore> = match (&durability.work_dir, durability.in_memory) {
            (Some(dir), false) => Box::new(FileStore::open(dir).map_err(|e| e.to_string())?),
            _ => Box::new(MemoryStore::default()),
        };
        let handle = lead(config, id, store, &durability).await?;
        let app = master::http::router_with(handle, processes());
        super::serve::serve(listener, app, limits, shutdown_signal()).await;
        return Ok(());
    };

    let (role_tx, role_rx) = tokio::sync::watch::channel(master::http::Role::Standby(None));
    let app = master::http::contender_router(
        role_rx,
        master::http::Snapshot::new(&config, &id),
        processes(),
    );
    let mut server = tokio::spawn(async move {
        super::serve::serve(listener, app, limits, shutdown_signal()).await;
    });
    let info = master::master_info(&config, &id);
    let candidacy = crate::zk::election::contend(&url, durability.zk_session_timeout, &info)
        .await
        .map_err(|e| {
            format!(
                "failed to join the election at {}: {e}",
                crate::zk::redact(&url.servers)
            )
        })?;
    let mut leadership = candidacy.leadership.clone();
    // The registry in ZooKeeper; a standby keeps a copy of it warm (registry/zk.rs).
    let mut zk_store =
        (!durability.in_memory).then(|| ZkStore::new(candidacy.client.clone(), &url));
    let mut warming = Box::pin(async {
        match zk_store.as_mut() {
            Some(store) => store.keep_warm().await,
            None => std::future::pending().await,
        }
    });
    // Standby until elected.
    loop {
        let current = leadership.borrow_and_update().clone();
        match current {
            crate::zk::election::Leadership::Elected => break,
            crate::zk::election::Leadership::Lost(why) => {
                return Err(format!(
                    "lost the ZooKeeper session while standing by: {why}"
                ));
            }
            crate::zk::election::Leadership::Standby(leader) => {
                if let Some(l) = &leader {
                    tracing::info!(leader = %crate::zk::master_address(l), "standing by");
                }
                role_tx.send_replace(master::http::Role::Standby(leader));
            }
        }
        tokio::select! {
            changed = leadership.changed() => {
                if changed.is_err() {
                    return Err("the election ended".to_string());
                }
            }
            done = &mut server => {
                return done.map_err(|e| e.to_string());
            }
            () = warming.as_mut() => {}
        }
    }
    drop(warming);
    tracing::info!(member = %candidacy.member, "elected leading master");
    role_tx.send_replace(master::http::Role::Recovering);
    let store: Box<dyn RegistryStore> = match zk_store {
        Some(store) => Box::new(store),
        None => Box::new(MemoryStore::default()),
    };
    let handle = lead(config, id, store, &durability).await?;
    role_tx.send_replace(master::http::Role::Leading(master::http::router_with(
        handle,
        processes(),
    )));
    loop {
        tokio::select! {
            changed = leadership.changed() => {
                let lost = match &*leadership.borrow_and_update() {
                    crate::zk::election::Leadership::Lost(why) => Some(why.clone()),
                    _ => None,
                };
                if changed.is_err() || lost.is_some() {
                    let why = lost.unwrap_or_else(|| "the election ended".to_string());
                    tracing::error!(%why, "lost leadership; exiting");
                    return Err(format!("lost leadership: {why}"));
                }
            }
            done = &mut server => {
                return done.map_err(|e| e.to_string());
            }
        }
    }
}

/// The endpoints of the libprocess processes a master runs beside its own (see
/// `master::http::router_with`): `/files/*` over a registry with nothing attached (remesos
/// logs to stderr, so there is no `/master/log` to attach as Mesos does with `--log_dir`),
/// and `/logging/toggle`.
pub(crate) fn processes() -> axum::Router {
    let files = crate::agent::files::Files::new();
    crate::agent::files::routes(std::sync::Arc::new(std::sync::RwLock::new(files)))
        .merge(super::logging::routes())
}

/// Recovers the registry from `store` and starts the leading master over it.
async fn lead(
    config: Config,
    id: String,
    mut store: Box<dyn crate::registry::RegistryStore>,
    durability: &Durability,
) -> Result<master::runtime::MasterHandle, String> {
    let started = std::time::Instant::now();
    let registry = match tokio::time::timeout(durability.fetch_timeout, store.load()).await {
        Ok(loaded) => loaded
            .map_err(|e| format!("failed to recover the registry ({}): {e}", store.describe()))?,
        Err(_) => {
            return Err(format!(
                "failed to recover the registry ({}): not read within --registry_fetch_timeout ({:?})",
                store.describe(),
                durability.fetch_timeout
            ));
        }
    };
    let now = master::runtime::now();
    let mut m = Master::new(config, id, now);
    m.recover(now, &registry);
    tracing::info!(store = %store.describe(), took = ?started.elapsed(), "registry recovered");
    let registrar = master::registrar::spawn(store, registry, durability.store_timeout);
    Ok(master::runtime::spawn_with_registrar(m, Some(registrar)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Mesos's registry flags (docs/configuration/master.md), from the command line or
    /// MESOS_<FLAG>, with Mesos's defaults.
    #[test]
    fn registry_flags_come_from_arguments_and_the_environment() {
        let args = [
            "--hostname=h",
            "--ip=127.0.0.1",
            "--registry_gc_interval=1mins",
            "--registry_max_agent_age=3days",
            "--registry_fetch_timeout=5secs",
        ];
        let env = [
            ("MESOS_REGISTRY_MAX_AGENT_COUNT", "7"),
            ("MESOS_REGISTRY_STORE_TIMEOUT", "2secs"),
        ];
        let loaded = flags().load(&args, env).unwrap();
        let (c, _) = config(&loaded).unwrap();
        assert_eq!(c.registry_gc_interval, Duration::from_secs(60));
        assert_eq!(c.registry_max_agent_age, Duration::from_secs(3 * 86400));
        assert_eq!(c.registry_max_agent_count, 7);
        let d = durability(&loaded).unwrap();
        assert_eq!(d.fetch_timeout, Duration::from_secs(5));
        assert_eq!(d.store_timeout, Duration::from_secs(2));

        let defaults = flags().load(&["--hostname=h"], env_none()).unwrap();
        let (c, _) = config(&defaults).unwrap();
        assert_eq!(c.registry_gc_interval, Duration::from_secs(15 * 60));
        assert_eq!(c.registry_max_agent_age, Duration::from_secs(14 * 86400));
        assert_eq!(c.registry_max_agent_count, 102_400);
        let d = durability(&defaults).unwrap();
        assert_eq!(d.fetch_timeout, Duration::from_secs(60));
        assert_eq!(d.store_timeout, Duration::from_secs(20));

        let zero = flags()
            .load(&["--registry_store_timeout=0secs"], env_none())
            .unwrap();
        assert!(
            durability(&zero)
                .unwrap_err()
                .contains("registry_store_timeout")
        );
    }

    fn env_none() -> [(&'static str, &'static str); 0] {
        []
    }
}
