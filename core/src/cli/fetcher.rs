//! `remesos fetcher` (not listed in the usage): the agent's fetcher process, Mesos's
//! `mesos-fetcher` (`src/launcher/fetcher.cpp`). The agent starts it in the sandbox as the
//! task's user, writes the request ([`crate::agent::fetcher::request_to_json`]) to its stdin
//! and points its stderr at the sandbox's `stderr`, where the fetch log goes. It answers on
//! stdout with one JSON object ([`crate::agent::fetcher::answer_to_json`]): the error (the
//! task's `TASK_FAILED` message), if any, and what it stored in or found corrupt in the
//! fetcher cache; it exits 1 on failure.

use std::io::{Read, Write};
use std::process::ExitCode;

/// The largest request read from stdin: URIs and paths, far below this.
const MAX_REQUEST: u64 = 16 * 1024 * 1024;

pub fn main(args: &[String]) -> ExitCode {
    if !args.is_empty() {
        eprintln!("remesos fetcher takes no arguments: it reads its request from stdin");
        return ExitCode::from(2);
    }
    let mut request = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_REQUEST).read_to_end(&mut request) {
        return fail(&format!("Failed to read the fetch request: {e}"));
    }
    let (items, sandbox, options) = match crate::agent::fetcher::request_from_json(&request) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    let runtime = match super::start_runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut log = std::io::stderr();
    let outcome = runtime.block_on(crate::agent::fetcher::fetch(
        &items, &sandbox, &options, &mut log,
    ));
    // Not waiting for blocking threads (a file open that never returns, say): the answer is
    // final and exit ends them.
    runtime.shutdown_background();
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "{}",
        crate::agent::fetcher::answer_to_json(&outcome)
    );
    let _ = stdout.flush();
    match outcome.result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

fn fail(message: &str) -> ExitCode {
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{message}");
    let _ = stdout.flush();
    ExitCode::from(1)
}
