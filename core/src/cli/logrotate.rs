//! `remesos logrotate-logger` (not listed in the usage): the companion process of the
//! logrotate container logger, Mesos's `mesos-logrotate-logger`
//! (`src/slave/container_loggers/lib_logrotate.cpp`, `logrotate.cpp`). The agent starts one
//! per stream of an executor, as the task's user in its own session, with the stream's pipe
//! on stdin; it appends to `--log_filename` and rotates it by size
//! ([`crate::agent::container_logger::Rotator`]) until EOF.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::agent::container_logger::{self, Rotation, Rotator};
use crate::flags::{Flag, FlagValue, Flags};

fn flags() -> Flags {
    Flags::new("remesos logrotate-logger")
        .flag(
            Flag::bytes("max_size", "Maximum size, in bytes, of a single log file")
                .default(FlagValue::Bytes(container_logger::DEFAULT_MAX_SIZE)),
        )
        .flag(Flag::string(
            "logrotate_options",
            "Options for the logrotate configuration (logrotate runs only with options)",
        ))
        .flag(Flag::path(
            "log_filename",
            "Absolute path to the leading log file",
        ))
        .flag(Flag::path(
            "logrotate_path",
            "The logrotate to use instead of the PATH's",
        ))
}

pub fn main(args: &[String]) -> ExitCode {
    // Not MESOS_* from the environment: the flags come from the agent's command line only.
    let loaded = match super::load_flags(&flags(), args, &[]) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let Some(path) = loaded.get_str("log_filename").map(PathBuf::from) else {
        eprintln!("Missing required option --log_filename");
        return ExitCode::from(1);
    };
    if !path.is_absolute() {
        eprintln!("Expected --log_filename to be an absolute path");
        return ExitCode::from(1);
    }
    let max_size = loaded
        .get_bytes("max_size")
        .unwrap_or(container_logger::DEFAULT_MAX_SIZE);
    if max_size < container_logger::page_size() {
        eprintln!(
            "Expected --max_size of at least {} bytes",
            container_logger::page_size()
        );
        return ExitCode::from(1);
    }
    let rotation = Rotation {
        max_size,
        options: loaded.get_str("logrotate_options").map(str::to_string),
    };
    let logrotate = loaded.get_str("logrotate_path").map(PathBuf::from);
    let mut rotator = match Rotator::open(&path, rotation, logrotate.as_deref()) {
        Ok(rotator) => rotator,
        Err(e) => {
            eprintln!("Failed to open '{}': {e}", path.display());
            return ExitCode::from(1);
        }
    };
    match container_logger::pump(&mut std::io::stdin().lock(), &mut rotator) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Failed to log to '{}': {e}", path.display());
            ExitCode::from(1)
        }
    }
}
