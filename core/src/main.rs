/// mimalloc instead of glibc's malloc (issue 19): a launch burst's decoded ACCEPTs and
/// queued messages spent a third of the master's CPU in glibc's large-bin path
/// (`_int_malloc`, `unlink_chunk`, `malloc_consolidate`); bench/README.md "Scale" has the
/// A/B figures. The command executor (`remesos-executor`) keeps glibc's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    remesos::cli::main()
}
