//! Benchmark of `org.apache.mesos.Log` (Apache's 1.11.0 jar, our libmesos.so) on a 3-node
//! ZooKeeper ensemble on loopback: appends/s and MB/s of one writer at 1 KB and 100 KB
//! entries (`LogExercise bench`: 10 warm-up appends, then `count` appends one after the
//! other, each waiting for its acknowledgement). Prints the load average with each figure:
//! the ensemble, the JVM and the writer share the machine. `cargo bench -p remesos-jni
//! --bench log`; results in bench/README.md.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

#[path = "../tests/support/mod.rs"]
mod support;
// core's ZooKeeper server support (its jars from Maven Central) and a 3-node ensemble on it;
// not in `support` (core's tests include that module next to their own ZooKeeper support).
#[path = "../tests/support/ensemble.rs"]
mod ensemble;
#[path = "../../core/tests/support/zookeeper.rs"]
#[allow(dead_code, reason = "the log tests use only its classpath()")]
mod zookeeper;

use std::time::Duration;

use ensemble::Ensemble;
use support::*;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a short version.
    let full = std::env::args().any(|a| a == "--bench");
    let runs: &[(usize, usize)] = if full {
        &[(1024, 2000), (100 * 1024, 300)]
    } else {
        &[(1024, 20), (100 * 1024, 5)]
    };
    let (_, library) = artifacts();
    let cp = compile_examples("apache-1.11.0", &classpath("apache-1.11.0"));
    let zk = Ensemble::start();
    let servers = zk.servers();
    for (i, (size, count)) in runs.iter().enumerate() {
        let znode = format!("/remesos/log-bench-{i}");
        let run = run_java_checked(
            &cp,
            "org.remesos.examples.LogExercise",
            &[
                "bench",
                &servers,
                &znode,
                &size.to_string(),
                &count.to_string(),
            ],
            Some(&library),
            Duration::from_secs(900),
            false,
            &[],
        );
        let dump = run.dump();
        assert_eq!(run.code, Some(0), "{dump}");
        let line = run.lines("BENCH ")[0].to_string();
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "{line} loadavg={}",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(",")
        );
    }
}
