//! The agent's flags (reference/mesos-contract.md §7), as Mesos declares them in
//! `src/slave/flags.cpp`, and the [`Config`] they make: attributes, resources (detected when
//! not given, as `src/slave/containerizer/containerizer.cpp` does), work_dir, executors'
//! environment. `remesos agent` loads them from its command line and environment
//! (cli/agent.rs); `local` loads them for each of its agents.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use remesos_proto::v1;

use super::Config;
use crate::flags::{Flag, Flags, LoadedFlags};
use crate::resources::Resources;

/// The flags of `remesos agent`.
pub fn flags() -> Flags {
    let mut flags = Flags::new("remesos agent")
        .flag(Flag::string("master", "The master: host:port, master@host:port, zk://host:port,.../path or file:///path"))
        .flag(Flag::duration("zk_session_timeout", "ZooKeeper session timeout of the master detector").default(crate::zk::DEFAULT_SESSION_TIMEOUT))
        .flag(Flag::string("ip", "IP address to listen on (default: all interfaces)"))
        .flag(Flag::u16("port", "Port to listen on").default(5051u16))
        .flag(Flag::string("advertise_ip", "IP address advertised to the master and executors"))
        .flag(Flag::string("hostname", "Hostname the agent advertises (default: the system hostname)"))
        .flag(Flag::bool("hostname_lookup", "Whether to look up the hostname").default(true))
        .flag(Flag::path("work_dir", "Directory for sandboxes and checkpoints"))
        .flag(Flag::string("resources", "Total consumable resources, e.g. 'cpus:4;mem:4096;ports:[31000-32000]'"))
        .flag(Flag::string("default_role", "Role of resources without one").default("*"))
        .flag(Flag::string("attributes", "Attributes of the machine, e.g. 'rack:r1;os:debian'"))
        .flag(Flag::string(
            "isolation",
            "Isolators: posix/cpu, posix/mem, cgroups/cpu, cgroups/mem, namespaces/pid, disk/du, disk/xfs",
        ).default("posix/cpu,posix/mem"))
        .flag(Flag::string("cgroups_root", "Name of the cgroup holding the containers' cgroups").default("mesos"))
        .flag(Flag::bool("cgroups_enable_cfs", "Hard-limit CPU with a CFS quota (cgroups/cpu)").default(false))
        .flag(
            Flag::duration(
                "container_disk_watch_interval",
                "How often each container's disk use is measured (disk/du)",
            )
            .default(super::disk_du::DEFAULT_WATCH_INTERVAL),
        )
        .flag(
            Flag::bool(
                "enforce_container_disk_quota",
                "Destroy a container whose disk use exceeds its disk resources (disk/du)",
            )
            .default(false),
        )
        .flag(
            Flag::string(
                "xfs_project_range",
                "The ranges of XFS project IDs to use for tracking directory quotas (disk/xfs)",
            )
            .default(super::disk_xfs::DEFAULT_PROJECT_RANGE),
        )
        .flag(
            Flag::bool(
                "xfs_kill_containers",
                "Whether the disk/xfs isolator should detect and terminate containers that exceed their allocated disk quota",
            )
            .default(false),
        )
        .flag(
            Flag::bytes("xfs_quota_headroom", "The size of hard XFS quota headroom (disk/xfs with --xfs_kill_containers)")
                .default(crate::flags::FlagValue::Bytes(super::disk_xfs::DEFAULT_QUOTA_HEADROOM)),
        )
        .flag(Flag::path("frameworks_home", "Directory relative fetcher URIs are resolved against"))
        .flag(
            Flag::duration("fetcher_stall_timeout", "A download receiving nothing this long fails")
                .default(Duration::from_secs(60)),
        )
        .flag(
            Flag::bytes(
                "fetcher_cache_size",
                "Size of the fetcher cache (URIs with `cache: true`); least recently used files are evicted beyond it, 0 disables it",
            )
            .default(crate::flags::FlagValue::Bytes(super::fetcher_cache::DEFAULT_CACHE_SIZE)),
        )
        .flag(
            Flag::path(
                "fetcher_cache_dir",
                "Directory of the fetcher cache, one subdirectory per user; deleted when the agent starts",
            )
            .default(super::fetcher_cache::DEFAULT_CACHE_DIR),
        )
        .flag(Flag::path(
            "hadoop_home",
            "Hadoop installation whose bin/hadoop fetches hdfs:// and other Hadoop URIs (default: $HADOOP_HOME, else hadoop on the PATH)",
        ))
        .flag(Flag::string(
            "container_logger",
            "Where executors' stdout/stderr go: none for the sandbox's files (default), org_apache_mesos_LogrotateContainerLogger to rotate them by size",
        ))
        .flag(
            Flag::bytes("logrotate_max_stdout_size", "Logrotate logger: maximum size of a stdout file before it is rotated (module parameter max_stdout_size)")
                .default(crate::flags::FlagValue::Bytes(super::container_logger::DEFAULT_MAX_SIZE)),
        )
        .flag(
            Flag::bytes("logrotate_max_stderr_size", "Logrotate logger: maximum size of a stderr file before it is rotated (module parameter max_stderr_size)")
                .default(crate::flags::FlagValue::Bytes(super::container_logger::DEFAULT_MAX_SIZE)),
        )
        .flag(Flag::string("logrotate_stdout_options", "Logrotate logger: logrotate configuration options for stdout, e.g. 'rotate 5' (module parameter logrotate_stdout_options)"))
        .flag(Flag::string("logrotate_stderr_options", "Logrotate logger: logrotate configuration options for stderr (module parameter logrotate_stderr_options)"))
        .flag(Flag::path("logrotate_path", "Logrotate logger: the logrotate binary (module parameter logrotate_path; default: logrotate on the PATH)"))
        .flag(
            Flag::string("logrotate_environment_variable_prefix", "Logrotate logger: prefix of the executor environment variables overriding the sizes and options (module parameter environment_variable_prefix)")
                .default(super::container_logger::DEFAULT_ENV_PREFIX),
        )
        .flag(
            Flag::bool("systemd_enable_support", "Move executors out of the agent's systemd unit into mesos_executors.slice, so restarting the agent's service does not kill them (ignored without systemd as init)")
                .default(true),
        )
        .flag(
            Flag::path("systemd_runtime_directory", "The systemd runtime directory the executor slice's unit is written to")
                .default(super::systemd::DEFAULT_RUNTIME_DIRECTORY),
        )
        .flag(Flag::path("launcher_dir", "Directory holding the `remesos` binary and `remesos-executor`, the command executor, when built (default: this binary's directory)"))
        .flag(Flag::path(
            "native_library",
            "libmesos.so given to executors as MESOS_NATIVE_JAVA_LIBRARY (default: libmesos.so beside this binary)",
        ))
        .flag(Flag::string("executor_environment_variables", "JSON object of the executors' environment"))
        .flag(
            Flag::duration("executor_registration_timeout", "Time for an executor to subscribe")
                .default(Duration::from_secs(60)),
        )
        .flag(
            Flag::duration("executor_shutdown_grace_period", "Time an executor gets to shut down")
                .default(Duration::from_secs(5)),
        )
        .flag(
            Flag::duration("executor_reregistration_timeout", "Time for executors to resubscribe after recovery")
                .default(Duration::from_secs(2)),
        )
        .flag(Flag::duration("recovery_timeout", "Time executors wait for a restarting agent").default(Duration::from_secs(900)))
        .flag(
            Flag::duration("registration_backoff_factor", "Backoff factor for (re)registering with the master")
                .default(Duration::from_secs(1)),
        )
        .flag(Flag::string("recover", "reconnect or cleanup").default("reconnect"))
        .flag(
            Flag::duration(
                "gc_delay",
                "Maximum time to wait before removing a terminated executor's or a completed \
                 framework's directories (sandboxes and checkpoints); shorter as the disk fills",
            )
            .default(super::gc::DEFAULT_GC_DELAY),
        )
        .flag(
            Flag::f64(
                "gc_disk_headroom",
                "Disk share kept free: directories at least \
                 `gc_delay * max(0.0, 1.0 - gc_disk_headroom - disk usage)` old are removed \
                 every --disk_watch_interval; between 0.0 and 1.0",
            )
            .default(super::gc::DEFAULT_GC_DISK_HEADROOM)
            .validator(super::gc::validate_headroom),
        )
        .flag(
            Flag::duration(
                "disk_watch_interval",
                "How often the work_dir's disk usage is checked (drives the early removal \
                 of sandboxes)",
            )
            .default(super::gc::DEFAULT_DISK_WATCH_INTERVAL),
        )
        .flag(Flag::bool("switch_user", "Run tasks as their user when running as root").default(true));
    for flag in crate::api::log_dir::flags("slave") {
        flags.add(flag);
    }
    for flag in containerizer_flags() {
        flags.add(flag);
    }
    for flag in image_flags() {
        flags.add(flag);
    }
    for flag in authentication_flags() {
        flags.add(flag);
    }
    // Mesos's other security flags: accepted only with values that leave them off.
    crate::security::declare(&mut flags, crate::security::Daemon::Agent);
    flags
}

/// The flags as `/flags`, `/state` and GET_FLAGS show them: `--docker_config` given as
/// JSON text holds credentials and is shown as `<redacted>` (a path is shown as given).
fn shown_flags(loaded: &LoadedFlags) -> Vec<(String, String)> {
    let mut flags = loaded.effective();
    for (name, value) in &mut flags {
        if name == "docker_config" && value.trim_start().starts_with('{') {
            *value = "<redacted>".into();
        }
    }
    flags
}

/// The containerizers' flags (Mesos's names and defaults, src/slave/flags.cpp):
/// `--containerizers` and the docker containerizer's.
pub fn containerizer_flags() -> Vec<Flag> {
    vec![
        Flag::string(
            "containerizers",
            "Comma-separated containerizers, asked in order for each executor: mesos \
             (processes on the host) and docker (DOCKER containers through dockerd)",
        )
        .default("mesos"),
        Flag::string("docker", "The docker CLI the docker containerizer runs").default("docker"),
        Flag::path("docker_socket", "The socket of dockerd").default("/var/run/docker.sock"),
        Flag::string(
            "docker_config",
            "Docker registry credentials for pulls by both containerizers (docker pull, \
             and the mesos containerizer's registry puller): the path (or file:// URL) of a \
             docker config file (config.json or .dockercfg format), or its JSON text",
        ),
        Flag::bool(
            "docker_kill_orphans",
            "Remove mesos-* docker containers this agent does not know on recovery (set \
             false when several agents share one dockerd)",
        )
        .default(true),
        Flag::duration(
            "docker_remove_delay",
            "How long an exited docker container is kept before it is removed",
        )
        .default(Duration::from_secs(6 * 3600)),
        Flag::string(
            "host_path_volume_force_creation",
            "Colon-separated absolute directories under which a missing host_path volume \
             source is created (as a directory) instead of failing the launch; both \
             containerizers",
        )
        .validator(super::containerizer::host_path::ForceCreation::validate_flag),
        Flag::string(
            "docker_mesos_image",
            "Not supported: the agent does not run in a docker container",
        ),
    ]
}

/// The containerizers of `--containerizers` and, with `docker` among them, the docker
/// containerizer's settings — checked against the running dockerd, as Mesos's agent does
/// at start (a setting that cannot be honoured stops the agent).
fn containerizers(
    loaded: &LoadedFlags,
    work_dir: &std::path::Path,
    cfs: bool,
) -> Result<
    (
        Vec<super::containerizer::Kind>,
        Option<super::containerizer::docker::Settings>,
    ),
    String,
> {
    use super::containerizer::{Kind, docker};
    let kinds =
        super::containerizer::parse_kinds(loaded.get_str("containerizers").unwrap_or("mesos"))?;
    if loaded.get_str("docker_mesos_image").is_some() {
        return Err("--docker_mesos_image is not supported: run the agent on the host".into());
    }
    if !kinds.contains(&Kind::Docker) {
        return Ok((kinds, None));
    }
    let sandbox_directory = loaded
        .get_str("sandbox_directory")
        .unwrap_or("/mnt/mesos/sandbox")
        .to_string();
    if !sandbox_directory.starts_with('/')
        || sandbox_directory.contains(':')
        || std::path::Path::new(&sandbox_directory)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "invalid --sandbox_directory '{sandbox_directory}': expected an absolute path"
        ));
    }
    let config_dir = match loaded.get_str("docker_config") {
        Some(value) => Some(docker::write_config(value, &work_dir.join("docker"))?),
        None => None,
    };
    let settings = docker::Settings {
        docker: PathBuf::from(loaded.get_str("docker").unwrap_or("docker")),
        socket: PathBuf::from(
            loaded
                .get_str("docker_socket")
                .unwrap_or("/var/run/docker.sock"),
        ),
        config_dir,
        sandbox_directory,
        kill_orphans: loaded.get_bool("docker_kill_orphans").unwrap_or(true),
        remove_delay: loaded
            .get_duration("docker_remove_delay")
            .unwrap_or(Duration::from_secs(6 * 3600)),
        cfs,
        host_path_creation: loaded
            .get_str("host_path_volume_force_creation")
            .map(super::containerizer::host_path::ForceCreation::parse)
            .transpose()?
            .unwrap_or_default(),
    };
    let version = settings.validate()?;
    tracing::info!(%version, socket = %settings.socket.display(), "docker containerizer");
    Ok((kinds, Some(settings)))
}

/// The mesos containerizer's image flags (src/slave/flags.cpp); containerizer/provisioner
/// reads them ([`super::containerizer::provisioner::ImageSettings::from_flags`]).
pub fn image_flags() -> Vec<Flag> {
    vec![
        Flag::string("image_providers", "Container image providers: docker (appc is not supported)"),
        Flag::string(
            "docker_registry",
            "Registry v2 URL (http or https) or absolute directory of `docker save` archives the mesos containerizer pulls images from",
        )
        .default("https://registry-1.docker.io"),
        Flag::path("docker_store_dir", "Directory the docker provisioner stores image layers in")
            .default("/tmp/mesos/store/docker"),
        Flag::string(
            "image_provisioner_backend",
            "How rootfses are made from images: overlay or copy (default: the first supported)",
        ),
        Flag::string(
            "image_gc_config",
            "JSON (or a file holding it) of automatic image GC: image_disk_headroom, image_disk_watch_interval, excluded_images",
        ),
        Flag::string("launcher", "The mesos containerizer's launcher: linux or posix").default("linux"),
        Flag::path(
            "sandbox_directory",
            "Where the sandbox is mounted inside a container with an image",
        )
        .default("/mnt/mesos/sandbox"),
    ]
}

/// Mesos 1.11's agent authentication flags (src/slave/flags.cpp), with its names, aliases
/// and defaults; agent/authn.rs reads them ([`super::authn::Settings::from_flags`]).
/// `/flags` shows the paths, never what the files hold.
pub fn authentication_flags() -> Vec<Flag> {
    vec![
        Flag::path(
            "credential",
            "Path (or file:// URL) of a JSON file with the credential this agent presents to \
             the master: {\"principal\": \"agent\", \"secret\": \"...\"}",
        ),
        Flag::string(
            "authenticatee",
            "How the agent authenticates with the master: crammd5 (accepted for \
             compatibility; the credential travels as HTTP Basic on the gRPC session)",
        )
        .default("crammd5"),
        Flag::bool(
            "authenticate_http_readonly",
            "If true, read-only endpoints (/state, /flags, /metrics/snapshot, /files/*) \
             need credentials (realm mesos-agent-readonly)",
        )
        .default(false),
        Flag::bool(
            "authenticate_http_readwrite",
            "If true, the operator API /api/v1 needs credentials (realm \
             mesos-agent-readwrite)",
        )
        .default(false),
        Flag::bool(
            "authenticate_http_executors",
            "If true, the executor API needs the executor's own token (realm \
             mesos-agent-executor); requires --jwt_secret_key",
        )
        .default(false),
        Flag::path(
            "http_credentials",
            "Path (or file:// URL) of a JSON file of credentials for the agent's HTTP \
             endpoints: {\"credentials\": [{\"principal\": \"yoda\", \"secret\": \"...\"}]}",
        ),
        Flag::string(
            "http_authenticators",
            "HTTP authenticators: basic and/or jwt (default basic, or basic,jwt with \
             --authenticate_http_executors)",
        ),
        Flag::path(
            "jwt_secret_key",
            "Path of a file holding the key executor tokens (HS256 JWTs) are signed with",
        )
        .alias("executor_secret_key"),
    ]
}

/// Mesos's attribute text: `name:value;...`, values are scalars, ranges `[a-b]`, sets `{a,b}`
/// or text.
pub fn parse_attributes(text: &str) -> Result<Vec<v1::Attribute>, String> {
    let mut out = Vec::new();
    for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, value) = item
            .split_once(':')
            .ok_or_else(|| format!("invalid attribute '{item}': expected name:value"))?;
        let mut attribute = v1::Attribute {
            name: name.trim().to_string(),
            ..Default::default()
        };
        let value = value.trim();
        if let Ok(number) = value.parse::<f64>() {
            attribute.r#type = v1::value::Type::Scalar as i32;
            attribute.scalar = Some(v1::value::Scalar { value: number });
        } else if value.starts_with('[') {
            let r = Resources::parse(&format!("{name}:{value}"), "*")
                .map_err(|e| format!("invalid attribute '{item}': {e}"))?;
            attribute.r#type = v1::value::Type::Ranges as i32;
            attribute.ranges = r.ranges(name.trim());
        } else if value.starts_with('{') {
            let items = value.trim_matches(|c| c == '{' || c == '}');
            attribute.r#type = v1::value::Type::Set as i32;
            attribute.set = Some(v1::value::Set {
                item: items.split(',').map(|s| s.trim().to_string()).collect(),
            });
        } else {
            attribute.r#type = v1::value::Type::Text as i32;
            attribute.text = Some(v1::value::Text {
                value: value.to_string(),
            });
        }
        out.push(attribute);
    }
    Ok(out)
}

/// Detects resources as Mesos does when `--resources` is absent: every core, memory minus
/// 1 GB (half if under 2 GB), the work_dir's disk minus 5 GB (half if under 10 GB), ports
/// `[31000-32000]`.
pub fn detect_resources(work_dir: &std::path::Path) -> String {
    detect_missing(work_dir, &BTreeSet::new())
}

/// The names `--resources` gives, in its text form (`name(role){...}:value;...`) or JSON
/// form (`[{"name": ...}]`): Mesos's `Containerizer::resources` detects only cpus, mem,
/// disk and ports that are not named (even `cpus:0` counts as named).
fn named_resources(text: &str, json: Option<&serde_json::Value>) -> BTreeSet<String> {
    match json {
        Some(json) => json
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("name")?.as_str().map(str::to_string))
            .collect(),
        None => text
            .split(';')
            .filter_map(|item| {
                let name = item.split([':', '(', '{']).next()?.trim();
                (!name.is_empty()).then(|| name.to_string())
            })
            .collect(),
    }
}

/// [`detect_resources`] for the names among cpus, mem, disk and ports not in `named` (an
/// empty text when all four are named).
fn detect_missing(work_dir: &std::path::Path, named: &BTreeSet<String>) -> String {
    let wanted = |name: &str| !named.contains(name);
    let mut out = Vec::new();
    if wanted("cpus") {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        out.push(format!("cpus:{cpus}"));
    }
    if wanted("mem") {
        out.push(format!("mem:{}", detect_mem_mb()));
    }
    if wanted("disk") {
        out.push(format!("disk:{}", detect_disk_mb(work_dir)));
    }
    if wanted("ports") {
        out.push("ports:[31000-32000]".to_string());
    }
    out.join(";")
}

fn detect_mem_mb() -> u64 {
    let mem_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(1024);
    if mem_mb < 2048 {
        mem_mb / 2
    } else {
        mem_mb - 1024
    }
}

fn detect_disk_mb(work_dir: &std::path::Path) -> u64 {
    let disk_mb = disk_mb(work_dir).unwrap_or(10 * 1024);
    if disk_mb < 10 * 1024 {
        disk_mb / 2
    } else {
        disk_mb - 5 * 1024
    }
}

fn disk_mb(path: &std::path::Path) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_blocks.saturating_mul(s.f_frsize) / (1024 * 1024))
}

/// `--resources` with what it does not name detected (Mesos's `Containerizer::resources`:
/// an agent given `--resources=cpus:4;mem:2048` still offers its detected disk and ports).
fn resources_flag(
    given: Option<&str>,
    default_role: &str,
    work_dir: &std::path::Path,
) -> Result<Resources, String> {
    let given = given.unwrap_or("");
    let invalid = |e: &dyn std::fmt::Display| format!("failed to parse flag 'resources': {e}");
    let (parsed, named) = if given.trim_start().starts_with('[') {
        let json: serde_json::Value = serde_json::from_str(given).map_err(|e| invalid(&e))?;
        let named = named_resources(given, Some(&json));
        (Resources::from_json(&json, default_role), named)
    } else {
        (
            Resources::parse(given, default_role),
            named_resources(given, None),
        )
    };
    let mut resources = parsed.map_err(|e| invalid(&e))?;
    let detected = detect_missing(work_dir, &named);
    if !detected.is_empty() {
        resources += &Resources::parse(&detected, default_role).map_err(|e| invalid(&e))?;
    }
    Ok(resources)
}

/// Builds the agent's configuration and bind address from loaded flags.
pub fn config(loaded: &LoadedFlags) -> Result<(Config, SocketAddr), String> {
    let work_dir = PathBuf::from(
        loaded
            .get_str("work_dir")
            .ok_or("flag 'work_dir' is required")?,
    );
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| format!("failed to create --work_dir '{}': {e}", work_dir.display()))?;
    let work_dir = work_dir
        .canonicalize()
        .map_err(|e| format!("failed to resolve --work_dir: {e}"))?;
    let (bind_ip, hostname, ip) = crate::common::address::address_flags(loaded)?;
    let port = loaded.get_u16("port").unwrap_or(5051);
    let default_role = loaded.get_str("default_role").unwrap_or("*");
    let resources = resources_flag(loaded.get_str("resources"), default_role, &work_dir)?;
    let attributes = parse_attributes(loaded.get_str("attributes").unwrap_or(""))?;
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()));
    let launcher_dir = loaded
        .get_str("launcher_dir")
        .map(PathBuf::from)
        .or_else(|| here.clone())
        .ok_or("cannot find the launcher directory; set --launcher_dir")?;
    let native_library = loaded
        .get_str("native_library")
        .map(PathBuf::from)
        .or_else(|| here.map(|d| d.join("libmesos.so")));
    let executor_environment = match loaded.get_str("executor_environment_variables") {
        Some(text) => {
            let map: BTreeMap<String, String> = serde_json::from_str(text).map_err(|e| {
                format!("failed to parse flag 'executor_environment_variables': {e}")
            })?;
            Some(map)
        }
        None => None,
    };
    let mut isolation = super::isolator::Isolation::parse(
        loaded.get_str("isolation").unwrap_or("posix/cpu,posix/mem"),
    )?;
    isolation.enable_cfs = loaded.get_bool("cgroups_enable_cfs").unwrap_or(false);
    let enforce_disk_quota = loaded
        .get_bool("enforce_container_disk_quota")
        .unwrap_or(false);
    let container_disk_watch = loaded
        .get_duration("container_disk_watch_interval")
        .unwrap_or(super::disk_du::DEFAULT_WATCH_INTERVAL);
    if (isolation.disk_du.is_some() || isolation.wants_disk_xfs) && container_disk_watch.is_zero() {
        return Err("invalid --container_disk_watch_interval: must be more than 0secs".into());
    }
    match &mut isolation.disk_du {
        Some(disk_du) => {
            disk_du.enforce_quota = enforce_disk_quota;
            disk_du.watch_interval = container_disk_watch;
        }
        // Nothing here could enforce it: refused rather than ignored.
        None if enforce_disk_quota && !isolation.wants_disk_xfs => {
            return Err(
                "--enforce_container_disk_quota needs the disk/du or disk/xfs isolator (--isolation)"
                    .into(),
            );
        }
        None => {}
    }
    if isolation.wants_disk_xfs {
        // Mesos's XfsDiskIsolatorProcess::create: the agent does not start without it.
        let xfs = super::disk_xfs::XfsDisk::create(
            &work_dir,
            loaded
                .get_str("xfs_project_range")
                .unwrap_or(super::disk_xfs::DEFAULT_PROJECT_RANGE),
            super::disk_xfs::QuotaPolicy::of(
                enforce_disk_quota,
                loaded.get_bool("xfs_kill_containers").unwrap_or(false),
            ),
            loaded
                .get_bytes("xfs_quota_headroom")
                .unwrap_or(super::disk_xfs::DEFAULT_QUOTA_HEADROOM),
            container_disk_watch,
        )
        .map_err(|e| format!("Failed to create isolator 'disk/xfs': {e}"))?;
        isolation.disk_xfs = Some(std::sync::Arc::new(xfs));
    }
    isolation.prepare(loaded.get_str("cgroups_root").unwrap_or("mesos"))?;
    if let Some(hierarchy) = &isolation.hierarchy {
        tracing::info!(?hierarchy, "cgroups isolation");
    }
    let (containerizers, docker) = containerizers(loaded, &work_dir, isolation.enable_cfs)?;
    let fetch = super::fetcher::FetchOptions {
        frameworks_home: loaded.get_str("frameworks_home").map(PathBuf::from),
        stall_timeout: loaded
            .get_duration("fetcher_stall_timeout")
            .unwrap_or(Duration::from_secs(60)),
        total_timeout: None,
        ca_files: Vec::new(),
        hadoop_home: loaded.get_str("hadoop_home").map(PathBuf::from),
    };
    let rotation = |stream: &str| super::container_logger::Rotation {
        max_size: loaded
            .get_bytes(&format!("logrotate_max_{stream}_size"))
            .unwrap_or(super::container_logger::DEFAULT_MAX_SIZE),
        options: loaded
            .get_str(&format!("logrotate_{stream}_options"))
            .map(str::to_string),
    };
    let container_logger = super::container_logger::LogrotateSettings::from_flags(
        loaded.get_str("container_logger"),
        rotation("stdout"),
        rotation("stderr"),
        loaded.get_str("logrotate_path").map(PathBuf::from),
        loaded
            .get_str("logrotate_environment_variable_prefix")
            .unwrap_or(super::container_logger::DEFAULT_ENV_PREFIX)
            .to_string(),
    )
    .map_err(|e| e.to_string())?;
    let fetcher_cache_dir = PathBuf::from(
        loaded
            .get_str("fetcher_cache_dir")
            .unwrap_or(super::fetcher_cache::DEFAULT_CACHE_DIR),
    );
    super::fetcher_cache::FetcherCache::validate_directory(&fetcher_cache_dir)
        .map_err(|e| e.to_string())?;
    let fetcher_cache = std::sync::Arc::new(super::fetcher_cache::FetcherCache::new(
        fetcher_cache_dir,
        loaded
            .get_bytes("fetcher_cache_size")
            .unwrap_or(super::fetcher_cache::DEFAULT_CACHE_SIZE),
    ));
    let images = super::containerizer::provisioner::ImageSettings::from_flags(
        loaded,
        &work_dir,
        loaded.get_str("isolation").unwrap_or("posix/cpu,posix/mem"),
    )?;
    match loaded.get_str("launcher").unwrap_or("linux") {
        "linux" | "posix" => {}
        other => {
            return Err(format!(
                "Unknown --launcher '{other}': expected linux or posix"
            ));
        }
    }
    match loaded.get_str("recover").unwrap_or("reconnect") {
        "reconnect" | "cleanup" => {}
        other => {
            return Err(format!(
                "invalid --recover '{other}': expected reconnect or cleanup"
            ));
        }
    }
    let gc = super::gc::GcConfig {
        delay: loaded
            .get_duration("gc_delay")
            .unwrap_or(super::gc::DEFAULT_GC_DELAY),
        disk_headroom: loaded
            .get_f64("gc_disk_headroom")
            .unwrap_or(super::gc::DEFAULT_GC_DISK_HEADROOM),
        disk_watch_interval: loaded
            .get_duration("disk_watch_interval")
            .unwrap_or(super::gc::DEFAULT_DISK_WATCH_INTERVAL),
    };
    if gc.disk_watch_interval.is_zero() {
        return Err("invalid --disk_watch_interval: must be more than 0secs".to_string());
    }
    let config = Config {
        gc,
        switch_user: loaded.get_bool("switch_user").unwrap_or(true),
        work_dir,
        hostname,
        ip,
        port,
        resources,
        attributes,
        lean_executor: launcher_dir.join(super::LEAN_EXECUTOR).is_file(),
        launcher_dir,
        executor_registration_timeout: loaded
            .get_duration("executor_registration_timeout")
            .unwrap_or(Duration::from_secs(60)),
        executor_shutdown_grace_period: loaded
            .get_duration("executor_shutdown_grace_period")
            .unwrap_or(Duration::from_secs(5)),
        executor_reregistration_timeout: loaded
            .get_duration("executor_reregistration_timeout")
            .unwrap_or(Duration::from_secs(2)),
        recovery_timeout: loaded
            .get_duration("recovery_timeout")
            .unwrap_or(Duration::from_secs(900)),
        registration_backoff_factor: loaded
            .get_duration("registration_backoff_factor")
            .unwrap_or(Duration::from_secs(1)),
        native_library,
        executor_environment,
        isolation,
        fetch,
        fetcher_cache,
        container_logger,
        systemd: super::SystemdConfig {
            enable: loaded.get_bool("systemd_enable_support").unwrap_or(true),
            runtime_directory: PathBuf::from(
                loaded
                    .get_str("systemd_runtime_directory")
                    .unwrap_or(super::systemd::DEFAULT_RUNTIME_DIRECTORY),
            ),
            slice_procs: None,
        },
        images,
        flags: shown_flags(loaded),
        security: super::authn::Settings::from_flags(loaded)?,
        authorizer: std::sync::Arc::new(crate::security::authorizer::from_flags(
            loaded,
            crate::security::Daemon::Agent,
        )?),
        containerizers,
        docker,
    };
    Ok((config, SocketAddr::from((bind_ip, port))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by "RESERVE answers 409 `{} does not contain disk:96`" on test agents started
    /// with `--resources=cpus:4;mem:2048;ports:[...]`: the agent had no disk at all (and a
    /// framework held every offer, so nothing was rescinded). Mesos detects each of cpus,
    /// mem, disk and ports that `--resources` does not name (`Containerizer::resources`).
    #[test]
    fn resources_the_flag_does_not_name_are_detected() {
        let dir = std::env::temp_dir();
        let given = resources_flag(Some("cpus:4;mem:2048;ports:[31000-31100]"), "*", &dir).unwrap();
        assert_eq!(given.cpus(), 4.0);
        assert_eq!(given.mem(), 2048.0);
        assert_eq!(given.disk(), detect_disk_mb(&dir) as f64);
        assert!(given.disk() > 0.0, "{given}");
        assert_eq!(
            given.to_string().matches("ports").count(),
            1,
            "the given ports only: {given}"
        );
        // Named with a role, or as zero, is named: nothing is detected for it.
        let named = resources_flag(Some("cpus(r):1;mem:0;disk:10;ports:[1-2]"), "*", &dir).unwrap();
        assert_eq!(named.cpus(), 1.0);
        assert_eq!(named.mem(), 0.0);
        assert_eq!(named.disk(), 10.0);
        let json = r#"[{"name":"disk","type":"SCALAR","scalar":{"value":7}}]"#;
        let from_json = resources_flag(Some(json), "*", &dir).unwrap();
        assert_eq!(from_json.disk(), 7.0);
        assert!(from_json.cpus() >= 1.0, "{from_json}");
        // Absent: everything detected, as before.
        let all = resources_flag(None, "*", &dir).unwrap();
        assert_eq!(all.disk(), detect_disk_mb(&dir) as f64);
        // Bad input is still refused.
        assert!(resources_flag(Some("cpus:x"), "*", &dir).is_err());
        assert!(resources_flag(Some("[{"), "*", &dir).is_err());
    }
}
