//! `remesos agent`: loads the agent's flags (agent/flags.rs) from the command line and the
//! environment, runs one agent (agent/daemon.rs) until SIGTERM or the master shuts it down.

use std::process::ExitCode;

use crate::agent;
use crate::agent::daemon::start;
use crate::agent::flags::{config, flags};

pub fn main(args: &[String], env: &[(String, String)]) -> ExitCode {
    let flags = flags();
    let loaded = match super::load_flags(&flags, args, env) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Err(code) =
        super::check_security(&flags, &loaded, &[crate::security::Daemon::Agent], env)
    {
        return code;
    }
    super::block_on(async move {
        let (config, bind) = config(&loaded)?;
        let master = crate::zk::MasterDetector::parse_with_timeout(
            loaded
                .get_str("master")
                .ok_or("flag 'master' is required")?,
            loaded
                .get_duration("zk_session_timeout")
                .unwrap_or(crate::zk::DEFAULT_SESSION_TIMEOUT),
        )?;
        if loaded.get_str("recover") == Some("cleanup") {
            // Mesos: "kill any old live executors and exit".
            let killed = agent::recovery::cleanup(&config.work_dir)?;
            tracing::info!(killed, "--recover=cleanup: killed the old executors");
            return Ok(());
        }
        let running = start(config, bind, master).await?;
        tokio::select! {
            () = super::master::shutdown_signal() => {
                // Executors of checkpointing frameworks keep running for the next start to
                // recover.
                running.stop_for_restart().await;
            }
            () = running.handle.terminated() => {
                tracing::warn!("the master shut this agent down; exiting");
                running.stop().await;
            }
        }
        Ok(())
    })
}
