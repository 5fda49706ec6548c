//! The `remesos` binary's subcommands.

mod agent;
mod execute;
mod executor;
mod fetcher;
mod launch;
mod local;
mod logrotate;
mod master;
mod task;

use std::process::ExitCode;

use crate::security;

const USAGE: &str = "Usage: remesos <command> [--flag=value ...]

Commands:
  master     run a Mesos-compatible master (v1 scheduler and operator APIs on --port, default 5050)
  agent      run an agent that registers with --master and runs executors and tasks
  local      run a master and --num_agents agents in one process (127.0.0.1:5050, 5051, ...)
  execute    run one command task on a cluster and follow it (--master, --command, --resources)
  executor   the built-in command executor (started by the agent for command tasks)
  task       list tasks, read their logs, exec into and attach to them (`remesos task help`)
  help       show this message

Every flag can also be given as MESOS_<FLAG> in the environment; `remesos <command> --help`
lists a command's flags.";

/// Entry point of the `remesos` binary.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(1);
    };
    let env: Vec<(String, String)> = std::env::vars().collect();
    match command.as_str() {
        "master" => master::main(rest, &env),
        "agent" | "slave" => agent::main(rest, &env),
        "local" => local::main(rest, &env),
        "execute" => execute::main(rest, &env),
        "executor" => executor::main(rest, &env),
        "task" => task::main(rest, &env),
        // Started by the agent only, so not in the usage.
        "fetcher" => fetcher::main(rest),
        "logrotate-logger" => logrotate::main(rest),
        "launch" => launch::main(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        "--version" | "version" => {
            println!(
                "remesos {} (Mesos API {})",
                env!("CARGO_PKG_VERSION"),
                crate::common::version::MESOS_VERSION
            );
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("unknown command '{other}'\n\n{USAGE}");
            ExitCode::from(1)
        }
    }
}

/// Loads a command's flags from `args` over `env`: `--help` prints the usage, a bad flag prints
/// it with the error; either way the command ends with the returned code.
pub(crate) fn load_flags(
    flags: &crate::flags::Flags,
    args: &[String],
    env: &[(String, String)],
) -> Result<crate::flags::LoadedFlags, ExitCode> {
    let loaded = match flags.load(args, env.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}", flags.usage(Some(&e.to_string())));
            return Err(ExitCode::from(1));
        }
    };
    if loaded.help() {
        println!("{}", flags.usage(None));
        return Err(ExitCode::SUCCESS);
    }
    Ok(loaded)
}

/// Builds a command's runtime from `builder` (timers and I/O enabled); a failure is printed
/// and becomes exit code 1.
pub(crate) fn start_runtime(
    mut builder: tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.enable_all().build().map_err(|e| {
        eprintln!("failed to start the runtime: {e}");
        ExitCode::from(1)
    })
}

/// Runs a command's async body on a multi-threaded runtime; an error is printed and exits 1.
pub(crate) fn block_on(body: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match start_runtime(tokio::runtime::Builder::new_multi_thread()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(body) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

/// A daemon's start: refuses what [`security::refuse_unimplemented`] refuses (printed, exit code
/// 1), starts logging, and warns about unknown `MESOS_*` variables.
pub(crate) fn check_security(
    flags: &crate::flags::Flags,
    loaded: &crate::flags::LoadedFlags,
    daemons: &[security::Daemon],
    env: &[(String, String)],
) -> Result<(), std::process::ExitCode> {
    let pairs = || env.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    for daemon in daemons {
        if let Err(e) = security::refuse_unimplemented(loaded, *daemon, pairs()) {
            eprintln!("{e}");
            return Err(std::process::ExitCode::from(1));
        }
    }
    init_logging(
        loaded.get_str("logging_level").unwrap_or("INFO"),
        loaded.get_bool("quiet").unwrap_or(false),
    );
    security::warn_unknown_env(flags, pairs());
    Ok(())
}

/// Sets up logging from Mesos's `--logging_level` and `--quiet`.
pub(crate) fn init_logging(level: &str, quiet: bool) {
    let level = match level.to_ascii_uppercase().as_str() {
        "ERROR" => "error",
        "WARNING" => "warn",
        _ => "info",
    };
    // `REMESOS_LOG` (a `tracing` filter) wins when it parses.
    let original = std::env::var("REMESOS_LOG")
        .ok()
        .filter(|f| tracing_subscriber::EnvFilter::try_new(f).is_ok())
        .unwrap_or_else(|| if quiet { "error" } else { level }.to_string());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&original))
        .with_writer(std::io::stderr)
        // Colours only on a terminal: logs are mostly files (sandboxes, tests, services).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // `/logging/toggle` changes the filter for a while (logging.rs).
        .with_filter_reloading();
    let handle = builder.reload_handle();
    if builder.try_init().is_ok() {
        crate::api::logging::install(
            original,
            Box::new(move |filter| {
                let filter =
                    tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| e.to_string())?;
                handle.reload(filter).map_err(|e| e.to_string())
            }),
        );
    }
}
