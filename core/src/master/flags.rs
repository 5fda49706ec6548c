//! The master's flags (reference/mesos-contract.md §7), as Mesos declares them in
//! `src/master/flags.cpp`, and the [`Config`] they make. `remesos master` loads them from its
//! command line and environment (cli/master.rs); `local` loads them for its embedded master.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use super::Config;
use super::http::Authentication;
use crate::flags::{Flag, Flags, LoadedFlags};
use crate::resources::Resources;

/// The flags of `remesos master`.
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
        );
    for flag in crate::api::log_dir::flags("master") {
        flags.add(flag);
    }
    for flag in authentication_flags() {
        flags.add(flag);
    }
    flags.add(
        Flag::bool(
            "authenticate_agents",
            "If true, only agents that present a credential of --credentials may register \
             (the agent's --credential, sent as HTTP Basic on its gRPC session)",
        )
        .alias("authenticate_slaves")
        .default(false),
    );
    // Mesos's other security flags: accepted only with values that leave them off.
    crate::security::declare(&mut flags, crate::security::Daemon::Master);
    flags
}

/// Mesos 1.11's master authentication flags (src/master/flags.cpp), with its names, aliases
/// and defaults; [`authentication`] checks them.
pub fn authentication_flags() -> Vec<Flag> {
    vec![
        Flag::bool(
            "authenticate_frameworks",
            "If true, only authenticated scheduler drivers may register (they present HTTP \
             Basic from --credentials and send the Remesos-Scheduler-Driver header)",
        )
        .alias("authenticate")
        .default(false),
        Flag::bool(
            "authenticate_http_readonly",
            "If true, HTTP endpoints that read state need credentials \
             (realm mesos-master-readonly)",
        )
        .default(false),
        Flag::bool(
            "authenticate_http_readwrite",
            "If true, HTTP endpoints that change state and the v1 operator API need \
             credentials (realm mesos-master-readwrite)",
        )
        .default(false),
        Flag::bool(
            "authenticate_http_frameworks",
            "If true, v1 HTTP frameworks need credentials (realm mesos-master-scheduler); \
             requires --http_framework_authenticators",
        )
        .default(false),
        Flag::path(
            "credentials",
            "Path (or file:// URL) of a JSON file of credentials: \
             {\"credentials\": [{\"principal\": \"sherman\", \"secret\": \"kitesurf\"}]}",
        ),
        Flag::string(
            "authenticators",
            "Authenticator for scheduler drivers: crammd5 (accepted for compatibility; our \
             drivers present HTTP Basic over --credentials)",
        )
        .default("crammd5"),
        Flag::string(
            "http_authenticators",
            "HTTP authenticators for the operator endpoints: only basic",
        )
        .default(crate::security::authn::BASIC_HTTP_AUTHENTICATOR),
        Flag::string(
            "http_framework_authenticators",
            "HTTP authenticators for v1 HTTP frameworks: only basic; required by \
             --authenticate_http_frameworks",
        ),
    ]
}

/// The master's HTTP authentication from its flags, the credentials file read. A
/// combination that cannot be honoured is an error (the daemon stops; DESIGN.md §8), with
/// Mesos's text where Mesos stops too (`Master::initialize`, `initializeHttpAuthenticators`):
///
/// - `--authenticators` other than `crammd5` (Mesos: modules), or several;
/// - `--http_authenticators` / `--http_framework_authenticators` other than `basic`;
/// - `--authenticate_http_frameworks` without `--http_framework_authenticators`;
/// - any `--authenticate_*` without `--credentials`, or with a file that holds none. Mesos
///   stops for the HTTP realms ("No credentials provided for the default 'basic' HTTP
///   authenticator"); for `--authenticate_frameworks` it stops when the CRAM-MD5
///   authenticator fails to initialize. Either way no client could authenticate, so
///   stopping says so at once.
pub fn authentication(loaded: &LoadedFlags) -> Result<Authentication, String> {
    use crate::security::authn::{BASIC_HTTP_AUTHENTICATOR, Credentials};
    let on = |name: &str| loaded.get_bool(name).unwrap_or(false);
    let (frameworks, readonly, readwrite, http_frameworks) = (
        on("authenticate_frameworks"),
        on("authenticate_http_readonly"),
        on("authenticate_http_readwrite"),
        on("authenticate_http_frameworks"),
    );
    let names = |value: &str| -> Vec<String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let authenticators = names(loaded.get_str("authenticators").unwrap_or("crammd5"));
    match authenticators.as_slice() {
        [] => return Err("No authenticator specified".to_string()),
        [one] if one == "crammd5" => {}
        [one] => {
            return Err(format!(
                "Authenticator '{one}' not found. Check the spelling (compare to 'crammd5'); \
                 remesos loads no authenticator modules"
            ));
        }
        _ => return Err("Multiple authenticators not supported".to_string()),
    }
    let http = loaded
        .get_str("http_authenticators")
        .unwrap_or(BASIC_HTTP_AUTHENTICATOR);
    let only_basic = |flag: &str, value: &str| -> Result<(), String> {
        let list = names(value);
        if list.is_empty() {
            return Err(format!("No HTTP authenticators specified in --{flag}"));
        }
        match list.iter().find(|n| *n != BASIC_HTTP_AUTHENTICATOR) {
            Some(other) => Err(format!(
                "Failed to create HTTP authenticator module '{other}' (--{flag}): remesos \
                 has only the 'basic' HTTP authenticator and loads no modules"
            )),
            None => Ok(()),
        }
    };
    only_basic("http_authenticators", http)?;
    match loaded.get_str("http_framework_authenticators") {
        Some(value) => only_basic("http_framework_authenticators", value)?,
        None if http_frameworks => {
            return Err(
                "Missing `--http_framework_authenticators` flag. This must be used \
                        in conjunction with `--authenticate_http_frameworks`"
                    .to_string(),
            );
        }
        None => {}
    }
    let credentials = match loaded.get_str("credentials").filter(|v| !v.is_empty()) {
        Some(path) => Some(std::sync::Arc::new(
            Credentials::read(path).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let agents = on("authenticate_agents");
    let wanted: Vec<&str> = [
        ("authenticate_agents", agents),
        ("authenticate_frameworks", frameworks),
        ("authenticate_http_readonly", readonly),
        ("authenticate_http_readwrite", readwrite),
        ("authenticate_http_frameworks", http_frameworks),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| name)
    .collect();
    if let Some(first) = wanted.first()
        && credentials.as_ref().is_none_or(|c| c.is_empty())
    {
        return Err(format!(
            "--{first} is set but {}; refusing to start: no client could authenticate \
             (set --credentials to a JSON credentials file)",
            if credentials.is_none() {
                "--credentials is not"
            } else {
                "the --credentials file holds no credentials"
            }
        ));
    }
    let authentication = Authentication::new(
        credentials.clone(),
        readonly,
        readwrite,
        frameworks,
        http_frameworks,
    );
    // Checked above: `--authenticate_agents` comes with credentials.
    Ok(match credentials {
        Some(credentials) if agents => authentication.with_agents(credentials),
        _ => authentication,
    })
}

/// Mesos's `--registry_fetch_timeout` default.
pub const DEFAULT_REGISTRY_FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Mesos's `--registry_store_timeout` default.
pub const DEFAULT_REGISTRY_STORE_TIMEOUT: Duration = Duration::from_secs(20);

/// A duration flag that must be greater than zero.
pub fn positive(loaded: &LoadedFlags, name: &str, default: Duration) -> Result<Duration, String> {
    let d = loaded.get_duration(name).unwrap_or(default);
    if d.is_zero() {
        return Err(format!("invalid value for '--{name}': must be positive"));
    }
    Ok(d)
}

/// Builds the master's configuration and the address to bind from loaded flags.
pub fn config(loaded: &LoadedFlags) -> Result<(Config, SocketAddr), String> {
    let (bind_ip, hostname, ip) = crate::common::address::address_flags(loaded)?;
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
        heartbeat_interval: super::HEARTBEAT_INTERVAL,
        framework_stream_backlog: super::FRAMEWORK_STREAM_BACKLOG,
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
        // LIBPROCESS_SSL_* is the cluster's: with TLS on and no downgrade, every agent
        // serves https only.
        https_only: crate::security::tls::current()?
            .is_some_and(|tls| !tls.config.support_downgrade),
        authorizer: std::sync::Arc::new(crate::security::authorizer::from_flags(
            loaded,
            crate::security::Daemon::Master,
        )?),
    };
    Ok((config, SocketAddr::from((bind_ip, port))))
}
