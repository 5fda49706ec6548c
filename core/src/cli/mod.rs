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

/// Entry point of the `remesos-executor` binary: `remesos executor` alone, so that it links
/// nothing of the master or the agent (the agent starts it once per command task).
pub fn executor_main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--version"] {
        println!(
            "remesos-executor {} (Mesos API {})",
            env!("CARGO_PKG_VERSION"),
            crate::common::version::MESOS_VERSION
        );
        return ExitCode::SUCCESS;
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    executor::main(&args, &env)
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
/// 1), starts logging (`--log_dir` files too), and warns about unknown `MESOS_*` variables.
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
    // The names of Mesos's binaries, which glog names the log files after.
    let program = match daemons {
        [security::Daemon::Master] => "mesos-master",
        [security::Daemon::Agent] => "mesos-slave",
        _ => "mesos-local",
    };
    let logging = Logging {
        level: loaded.get_str("logging_level").unwrap_or("INFO"),
        quiet: loaded.get_bool("quiet").unwrap_or(false),
        log_dir: loaded
            .get_str("log_dir")
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from),
        format: loaded.get_str("log_format").unwrap_or("text"),
        program,
    };
    if let Err(e) = init_daemon_logging(&logging) {
        eprintln!("{e}");
        return Err(std::process::ExitCode::from(1));
    }
    security::warn_unknown_env(flags, pairs());
    Ok(())
}

/// How a daemon logs: Mesos's logging flags (`src/logging/flags.cpp`) and `--log_format`.
pub(crate) struct Logging<'a> {
    /// `--logging_level`: INFO, WARNING or ERROR (anything else is INFO, as in Mesos).
    pub level: &'a str,
    /// `--quiet`: nothing on stderr when there are log files; errors only otherwise
    /// (Mesos's `stderrthreshold` / `minloglevel` in `logging::initialize`).
    pub quiet: bool,
    /// `--log_dir`: glog-named files there (api/log_dir.rs), besides stderr.
    pub log_dir: Option<std::path::PathBuf>,
    /// `--log_format`: `text` or `json` (one JSON object a line), on stderr and in the files.
    pub format: &'a str,
    /// The program the files are named after (`mesos-master`, `mesos-slave`, ...).
    pub program: &'a str,
}

/// Sets up stderr logging from Mesos's `--logging_level` and `--quiet` (the executors).
pub(crate) fn init_logging(level: &str, quiet: bool) {
    let _ = init_daemon_logging(&Logging {
        level,
        quiet,
        log_dir: None,
        format: "text",
        program: "",
    });
}

/// Sets up logging: a process-wide filter (`--logging_level`, `REMESOS_LOG`, changed for a
/// while by `/logging/toggle`), stderr, and with `--log_dir` the log files, which become
/// the daemon's `/master/log` or `/slave/log`. Errors are a bad `--log_format` or a log
/// directory that cannot be written; the daemon does not start.
pub(crate) fn init_daemon_logging(logging: &Logging<'_>) -> Result<(), String> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let json = match logging.format {
        "text" => false,
        "json" => true,
        other => {
            return Err(format!(
                "Failed to load flag 'log_format': expected 'text' or 'json', got '{other}'"
            ));
        }
    };
    let level = match logging.level.to_ascii_uppercase().as_str() {
        "ERROR" => "error",
        "WARNING" => "warn",
        _ => "info",
    };
    // Mesos: `--quiet` without log files keeps errors (minloglevel ERROR); with log files
    // the files keep `--logging_level` and stderr gets nothing (stderrthreshold FATAL).
    let stderr_off = logging.quiet && logging.log_dir.is_some();
    let starting = if logging.quiet && !stderr_off {
        "error"
    } else {
        level
    };
    // `REMESOS_LOG` (a `tracing` filter) wins when it parses.
    let original = std::env::var("REMESOS_LOG")
        .ok()
        .filter(|f| tracing_subscriber::EnvFilter::try_new(f).is_ok())
        .unwrap_or_else(|| starting.to_string());
    let files = match &logging.log_dir {
        Some(dir) => {
            let naming = crate::api::log_dir::Naming::current(
                logging.program,
                crate::common::time::now().wall,
            );
            let minimum = crate::api::log_dir::Severity::from_logging_level(logging.level);
            Some(crate::api::log_dir::LogFiles::create(dir, naming, minimum)?)
        }
        None => None,
    };
    let primary = files.as_ref().map(|f| f.primary());
    // `/logging/toggle` changes the process-wide filter for a while (logging.rs).
    let (filter, handle) =
        tracing_subscriber::reload::Layer::new(tracing_subscriber::EnvFilter::new(&original));
    // Colours only on a terminal: logs are mostly files (sandboxes, tests, services).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr = (!stderr_off).then(|| formatted(json, ansi, std::io::stderr));
    let file = files.map(|files| formatted(json, false, files));
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init();
    if installed.is_ok() {
        if let Some(primary) = primary {
            crate::api::logging::set_daemon_log(primary);
        }
        crate::api::logging::install(
            original,
            Box::new(move |filter| {
                let filter =
                    tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| e.to_string())?;
                handle.reload(filter).map_err(|e| e.to_string())
            }),
        );
    }
    Ok(())
}

/// A formatting layer writing to `writer`: tracing's text, or with `json` one JSON object a
/// line whose event fields (`message` and the structured ones) sit beside `timestamp`,
/// `level` and `target`.
fn formatted<S, W>(
    json: bool,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync + 'static>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer;
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    if json {
        layer.json().flatten_event(true).boxed()
    } else {
        layer.with_ansi(ansi).boxed()
    }
}
