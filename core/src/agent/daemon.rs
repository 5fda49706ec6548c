//! An agent daemon in this process: bind its port, recover its checkpointed state (Mesos's
//! `Slave::recover`, `src/slave/slave.cpp`), start the actor and its master session, serve
//! its HTTP API. `remesos agent` runs one (cli/agent.rs), `local` runs several.

use std::net::SocketAddr;

use super::{Agent, Config};

/// A running agent: its HTTP server and actor.
pub struct RunningAgent {
    pub handle: super::runtime::AgentHandle,
    pub address: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl RunningAgent {
    /// Kills the agent's executors and stops serving.
    pub async fn stop(self) {
        self.handle.shutdown(true).await;
        self.server.abort();
    }

    /// Stops as `remesos agent` does on SIGTERM: executors of frameworks that checkpoint
    /// keep running for the agent's next start to recover; the others are killed.
    pub async fn stop_for_restart(self) {
        self.handle.shutdown(false).await;
        self.server.abort();
    }
}

/// Binds, starts the actor and the master session, serves in the background.
pub async fn start(
    mut config: Config,
    bind: SocketAddr,
    master: impl Into<crate::zk::MasterDetector>,
) -> Result<RunningAgent, String> {
    let master = master.into();
    let shown = master
        .current()
        .unwrap_or_else(|| "(detecting)".to_string());
    let limits = crate::api::serve::process_limits();
    let tls = crate::security::tls::current()?;
    let listener = crate::api::serve::listen(bind)?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    config.port = address.port();
    tracing::info!(%address, master = %shown, work_dir = %config.work_dir.display(), "remesos agent starting");
    // Mesos's `slave/main.cpp`: executors go to `mesos_executors.slice` under systemd.
    config.systemd.slice_procs =
        super::systemd::from_flags(config.systemd.enable, &config.systemd.runtime_directory)
            .map_err(|e| e.to_string())?;
    // Mesos's `Fetcher::Fetcher`: the cache does not outlive the agent.
    config.fetcher_cache.reset().map_err(|e| e.to_string())?;
    let files = super::files::SharedFiles::default();
    if let Ok(mut attached) = files.write() {
        attached.attach_daemon_log("/slave/log");
    }
    let work_dir = config.work_dir.clone();
    let http_authn = std::sync::Arc::new(config.security.http.clone());
    let now = super::runtime::now();
    let mut state = Agent::new(config, now);
    // Reservations and persistent volumes outlive the agent's id (`meta/resources`).
    state.recover_resources(super::volumes::read_checkpoint(&work_dir)?);
    let recovered = match super::recovery::read(&work_dir)? {
        super::recovery::Outcome::Fresh => vec![],
        super::recovery::Outcome::Rebooted { old_agent_id } => {
            tracing::warn!(
                ?old_agent_id,
                "the machine rebooted since the last checkpoint: registering as a new agent"
            );
            vec![]
        }
        super::recovery::Outcome::Recovered(mut checkpoint) => {
            let killed = super::recovery::drop_unrecoverable(&mut checkpoint);
            if killed > 0 {
                tracing::info!(
                    killed,
                    "killed executors of frameworks that do not checkpoint"
                );
            }
            let agent_id = checkpoint.agent_id.clone();
            let live = state.recover(now, *checkpoint);
            tracing::info!(%agent_id, executors = live.len(), "recovered the agent's state");
            live
        }
    };
    // Other agents' directories (an old id, or all of them when this agent registers
    // anew) are garbage: touched and scheduled `--gc_delay` from now, as Mesos does.
    let old_agents = super::recovery::old_agent_dirs(&work_dir, state.id.as_deref());
    state.garbage_collect_recovered(now, old_agents.into_iter().map(|p| (p, None)).collect());
    super::recovery::write_boot_id(&work_dir)
        .map_err(|e| format!("failed to write {}/meta/boot_id: {e}", work_dir.display()))?;
    // Durable nested containers (agent/nested.rs) come back under their recovered
    // executors; the others are killed.
    let nested: Vec<_> = super::nested::read_checkpoints(&work_dir)
        .into_iter()
        .map(|c| {
            let parent = super::nested::find_parent(&state, &c.parent);
            (c, parent)
        })
        .collect();
    let authorizer = state.config.authorizer.clone();
    let handle = super::runtime::spawn(state, master, files.clone(), recovered);
    let containers = std::sync::Arc::new(super::nested::Containers::default());
    containers.recover(nested, handle.clone());
    let app = super::http::router(handle.clone(), files, http_authn, authorizer, containers);
    let server = tokio::spawn(async move {
        crate::api::serve::serve(listener, app, limits, tls, std::future::pending()).await;
    });
    Ok(RunningAgent {
        handle,
        address,
        server,
    })
}
