/// mimalloc instead of glibc's malloc (issue 19): a launch burst's decoded ACCEPTs and
/// queued messages spent a third of the master's CPU in glibc's large-bin path
/// (`_int_malloc`, `unlink_chunk`, `malloc_consolidate`); bench/README.md "Scale" has the
/// A/B figures. The command executor (`remesos-executor`) keeps glibc's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    remesos::master::runtime::set_heap_collect(collect_heap);
    remesos::cli::main()
}

/// Returns mimalloc's freed pages to the system now rather than after its purge delay (the
/// master's `trim_heap`, after a drained burst or a big dump).
fn collect_heap() {
    unsafe extern "C" {
        /// mimalloc's `void mi_collect(bool force)`, linked through the `mimalloc` crate.
        fn mi_collect(force: bool);
    }
    // SAFETY: mi_collect takes no pointers from us; it collects the calling thread's heap
    // and purges the arenas under mimalloc's own locks, safe from any thread at any time
    // (and a no-op on a thread with no mimalloc heap).
    unsafe { mi_collect(true) }
}
