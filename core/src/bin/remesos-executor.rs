//! `remesos-executor`: the command executor as a binary of its own (Mesos's
//! `mesos-executor`), the same as `remesos executor` (cli/executor.rs), with the same flags.
fn main() -> std::process::ExitCode {
    remesos::cli::executor_main()
}
