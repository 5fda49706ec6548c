//! `remesos master`: loads the master's flags (master/flags.rs) from the command line and
//! the environment, then serves: standalone, or contending for leadership with `--zk`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use crate::flags::LoadedFlags;
use crate::master::flags::{
    DEFAULT_REGISTRY_FETCH_TIMEOUT, DEFAULT_REGISTRY_STORE_TIMEOUT, config, flags, positive,
};
use crate::master::{self, Config, Master};

pub fn main(args: &[String], env: &[(String, String)]) -> ExitCode {
    let flags = flags();
    let loaded = match super::load_flags(&flags, args, env) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Err(code) =
        super::check_security(&flags, &loaded, &[crate::security::Daemon::Master], env)
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

/// Binds and serves until Ctrl-C or SIGTERM. Standalone, the master recovers its registry
/// and leads at once; with `--zk` it serves redirects until it is elected, then recovers
/// and leads until its ZooKeeper session ends — then it exits with an error, as Mesos's
/// master does, so that it never leads beside a newer leader.
pub async fn run_with(
    config: Config,
    bind: SocketAddr,
    durability: Durability,
) -> Result<(), String> {
    use master::registrar::{FileStore, Store};
    let limits = crate::api::serve::process_limits();
    let listener = crate::api::serve::listen(bind)?;
    let id = uuid::Uuid::new_v4().to_string();
    tracing::info!(master_id = %id, %bind, hostname = %config.hostname, "remesos master starting");
    let Some(url) = durability.zk.clone() else {
        let store = match (&durability.work_dir, durability.in_memory) {
            (Some(dir), false) => Store::File(FileStore::open(dir)?),
            _ => Store::Memory,
        };
        let handle = lead(config, id, store, &durability).await?;
        let app = master::http::router_with(handle, crate::local::master_processes());
        crate::api::serve::serve(listener, app, limits, shutdown_signal()).await;
        return Ok(());
    };

    let (role_tx, role_rx) = tokio::sync::watch::channel(master::http::Role::Standby(None));
    let app = master::http::contender_router(
        role_rx,
        master::http::Snapshot::new(&config, &id),
        crate::local::master_processes(),
    );
    let mut server = tokio::spawn(async move {
        crate::api::serve::serve(listener, app, limits, shutdown_signal()).await;
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
    // The registry in ZooKeeper; a standby keeps a copy of it warm (zk/store.rs).
    let mut zk_store = (!durability.in_memory)
        .then(|| crate::zk::store::ZkStore::new(candidacy.client.clone(), &url));
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
    let store = match zk_store {
        Some(store) => Store::Zk(Box::new(store)),
        None => Store::Memory,
    };
    let handle = lead(config, id, store, &durability).await?;
    role_tx.send_replace(master::http::Role::Leading(master::http::router_with(
        handle,
        crate::local::master_processes(),
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

/// Recovers the registry from `store` and starts the leading master over it.
async fn lead(
    config: Config,
    id: String,
    mut store: master::registrar::Store,
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
    let registrar = match store {
        master::registrar::Store::Memory => None,
        store => Some(master::registrar::spawn(
            store,
            registry,
            durability.store_timeout,
        )),
    };
    Ok(master::runtime::spawn_with_registrar(m, registrar))
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
