//! `remesos local`: a master and N agents in one process ([`crate::local`]); this file only
//! loads the flags, prints where the cluster serves and stops it on Ctrl-C or SIGTERM.

use std::process::ExitCode;

use crate::flags::LoadedFlags;
use crate::local::{flags, start};

pub fn main(args: &[String], env: &[(String, String)]) -> ExitCode {
    use crate::security::Daemon;
    let flags = flags();
    let loaded = match super::load_flags(&flags, args, env) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Err(code) = super::check_security(&flags, &loaded, &[Daemon::Master, Daemon::Agent], env)
    {
        return code;
    }
    super::block_on(run(loaded))
}

async fn run(loaded: LoadedFlags) -> Result<(), String> {
    let cluster = start(loaded).await?;
    let num = cluster.agents.len();
    let scheme = crate::client::scheme();
    println!(
        "remesos local: master at {scheme}://{} with {num} agent(s)",
        cluster.master
    );
    for a in &cluster.agents {
        println!("  agent at {scheme}://{}", a.address);
    }
    println!(
        "Point a framework at {0} (e.g. --master={0}); Ctrl-C stops the cluster.",
        cluster.master
    );
    super::master::shutdown_signal().await;
    cluster.stop().await;
    Ok(())
}
