//! `remesos master`: loads the master's flags (master/flags.rs) from the command line and
//! the environment, then serves: standalone, or contending for leadership with `--zk`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use crate::flags::LoadedFlags;
use crate::master::flags::{
    DEFAULT_REGISTRY_FETCH_TIMEOUT, DEFAULT_REGISTRY_STORE_TIMEOUT, config, flags, positive,
};
use crate::master::leadership::{Action, Leadership};
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
        let authn = crate::master::flags::authentication(&loaded)?;
        run_with(config, bind, durability, authn).await
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
/// master does, so that it never leads beside a newer leader. The decisions are
/// [`Leadership`]'s (master/leadership.rs); this function only carries out its actions.
pub async fn run_with(
    config: Config,
    bind: SocketAddr,
    durability: Durability,
    authn: master::http::Authentication,
) -> Result<(), String> {
    use crate::registry::{FileStore, MemoryStore, RegistryStore, ZkStore};
    let limits = crate::api::serve::process_limits();
    let tls = crate::security::tls::current()?;
    let listener = crate::api::serve::listen(bind)?;
    let id = uuid::Uuid::new_v4().to_string();
    tracing::info!(master_id = %id, %bind, hostname = %config.hostname, "remesos master starting");
    let authorizer = config.authorizer.clone();
    let Some(url) = durability.zk.clone() else {
        // The daemon chooses the registry's store (Mesos's master does the same with
        // --registry and --work_dir).
        let store: Box<dyn RegistryStore> = match (&durability.work_dir, durability.in_memory) {
            (Some(dir), false) => Box::new(FileStore::open(dir).map_err(|e| e.to_string())?),
            _ => Box::new(MemoryStore::default()),
        };
        // Mesos's standalone contender: elected at once, nothing to lose.
        let mut cycle = Leadership::new(durability.fetch_timeout, store.describe());
        let actions = cycle.elected(instant());
        debug_assert_eq!(actions, vec![Action::StartRecovery]);
        let recovery = lead(config, id, store, durability.store_timeout);
        let handle = match recover(&mut cycle, recovery, None, None).await {
            Ok(handle) => handle,
            Err(exit) => return exit,
        };
        let app = master::http::router_with(
            handle,
            crate::local::master_processes(authorizer.clone()),
            authn,
        );
        crate::api::serve::serve(listener, app, limits, tls, shutdown_signal()).await;
        return Ok(());
    };

    let (role_tx, role_rx) = tokio::sync::watch::channel(master::http::Role::Standby(None));
    let app = master::http::contender_router(
        role_rx,
        master::http::Snapshot::new(&config, &id),
        crate::local::master_processes(authorizer.clone()),
        authn,
    );
    let mut server = tokio::spawn(async move {
        crate::api::serve::serve(listener, app, limits, tls, shutdown_signal()).await;
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
    let mut election = candidacy.leadership.clone();
    // The registry in ZooKeeper; a standby keeps a copy of it warm (registry/zk.rs).
    let mut zk_store =
        (!durability.in_memory).then(|| ZkStore::new(candidacy.client.clone(), &url));
    let describe = match &zk_store {
        Some(store) => store.describe(),
        None => MemoryStore::default().describe(),
    };
    let mut cycle = Leadership::new(durability.fetch_timeout, describe);
    let mut warming = Box::pin(async {
        match zk_store.as_mut() {
            Some(store) => store.keep_warm().await,
            None => std::future::pending().await,
        }
    });
    // Standby until elected.
    let mut actions = cycle.observed(instant(), election.borrow_and_update().clone());
    loop {
        match perform_standby(&role_tx, actions) {
            Some(Standby::Exit(exit)) => return exit,
            Some(Standby::Recover) => break,
            None => {}
        }
        actions = tokio::select! {
            changed = election.changed() => match changed {
                Ok(()) => cycle.observed(instant(), election.borrow_and_update().clone()),
                Err(_) => cycle.election_ended(),
            },
            done = &mut server => cycle.stopped(done.map_err(|e| e.to_string())),
            () = warming.as_mut() => vec![],
        };
    }
    drop(warming);
    tracing::info!(member = %candidacy.member, "elected leading master");
    role_tx.send_replace(master::http::Role::Recovering);
    let store: Box<dyn RegistryStore> = match zk_store {
        Some(store) => Box::new(store),
        None => Box::new(MemoryStore::default()),
    };
    let recovery = lead(config, id, store, durability.store_timeout);
    let handle = match recover(&mut cycle, recovery, Some(&mut election), Some(&mut server)).await {
        Ok(handle) => handle,
        Err(exit) => return exit,
    };
    // The contender's router authenticates every request before this one sees it.
    role_tx.send_replace(master::http::Role::Leading(master::http::router_with(
        handle,
        crate::local::master_processes(authorizer.clone()),
        master::http::Authentication::default(),
    )));
    loop {
        let actions = tokio::select! {
            changed = election.changed() => match changed {
                Ok(()) => cycle.observed(instant(), election.borrow_and_update().clone()),
                Err(_) => cycle.election_ended(),
            },
            done = &mut server => cycle.stopped(done.map_err(|e| e.to_string())),
        };
        for action in actions {
            match action {
                Action::Exit(exit) => return exit,
                other => tracing::debug!(action = ?other, "nothing to do while leading"),
            }
        }
    }
}

/// The monotonic clock the leadership cycle is driven by (tokio's, so paused in tests).
fn instant() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// What the standby loop does next.
enum Standby {
    Recover,
    Exit(Result<(), String>),
}

/// Carries out a standby's actions: serving redirects, or leaving the standby loop.
fn perform_standby(
    role_tx: &tokio::sync::watch::Sender<master::http::Role>,
    actions: Vec<Action>,
) -> Option<Standby> {
    let mut next = None;
    for action in actions {
        match action {
            Action::ServeStandby(leader) => {
                if let Some(l) = &leader {
                    tracing::info!(leader = %crate::zk::master_address(l), "standing by");
                }
                role_tx.send_replace(master::http::Role::Standby(leader));
            }
            Action::StartRecovery => next = Some(Standby::Recover),
            Action::Exit(exit) => return Some(Standby::Exit(exit)),
            Action::StartLeading => {}
        }
    }
    next
}

/// Runs `recovery` until [`Leadership`] decides: `Ok` with the master to serve, or `Err`
/// with how the process exits. An elected master also watches its `election` and its
/// `server` meanwhile (a standalone master has neither).
async fn recover(
    cycle: &mut Leadership,
    recovery: impl std::future::Future<Output = Result<master::runtime::MasterHandle, String>>,
    mut election: Option<&mut tokio::sync::watch::Receiver<crate::zk::election::Leadership>>,
    mut server: Option<&mut tokio::task::JoinHandle<()>>,
) -> Result<master::runtime::MasterHandle, Result<(), String>> {
    let mut recovery = std::pin::pin!(recovery);
    let mut handle = None;
    loop {
        let deadline = cycle.next_deadline().map(tokio::time::Instant::from_std);
        let actions = tokio::select! {
            result = &mut recovery, if handle.is_none() => {
                let result = result.map(|h| handle = Some(h));
                cycle.recovered(result)
            }
            () = sleep_until(deadline) => cycle.deadline_passed(instant()),
            changed = changed(&mut election) => match changed {
                Some(outcome) => cycle.observed(instant(), outcome),
                None => cycle.election_ended(),
            },
            done = ended(&mut server) => cycle.stopped(done),
        };
        for action in actions {
            match action {
                Action::StartLeading => {
                    return handle
                        .take()
                        .ok_or_else(|| Err("recovered without a master to serve".to_string()));
                }
                Action::Exit(exit) => return Err(exit),
                Action::ServeStandby(_) | Action::StartRecovery => {}
            }
        }
    }
}

/// Sleeps until `deadline`; never wakes without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next election outcome (`None`: the election ended); pending without an election.
async fn changed(
    election: &mut Option<&mut tokio::sync::watch::Receiver<crate::zk::election::Leadership>>,
) -> Option<crate::zk::election::Leadership> {
    match election {
        Some(e) => match e.changed().await {
            Ok(()) => Some(e.borrow_and_update().clone()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

/// How the server ended; pending without one.
async fn ended(server: &mut Option<&mut tokio::task::JoinHandle<()>>) -> Result<(), String> {
    match server {
        Some(s) => (&mut **s).await.map_err(|e| e.to_string()),
        None => std::future::pending().await,
    }
}

/// Recovers the registry from `store` and starts the leading master over it. How long it
/// may take is [`Leadership`]'s deadline (`--registry_fetch_timeout`), not this function's.
async fn lead(
    config: Config,
    id: String,
    mut store: Box<dyn crate::registry::RegistryStore>,
    store_timeout: Duration,
) -> Result<master::runtime::MasterHandle, String> {
    #[allow(
        clippy::disallowed_methods,
        reason = "the CLI times the recovery for its log line"
    )]
    let started = std::time::Instant::now();
    let registry = store
        .load()
        .await
        .map_err(|e| format!("failed to recover the registry ({}): {e}", store.describe()))?;
    let now = master::runtime::now();
    let mut m = Master::new(config, id, now);
    m.recover(now, &registry);
    tracing::info!(store = %store.describe(), took = ?started.elapsed(), "registry recovered");
    let registrar = master::registrar::spawn(store, registry, store_timeout);
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
