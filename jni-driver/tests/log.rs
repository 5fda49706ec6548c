//! `org.apache.mesos.Log` from Apache's unmodified 1.11.0 jar, through our libmesos.so
//! (`MESOS_NATIVE_JAVA_LIBRARY`) under `-Xcheck:jni`, on a real 3-node ZooKeeper ensemble
//! on loopback (issue 20 items 2, 4, 5). `LogExercise` (java/examples) prints one line per
//! fact; the log's design is in core/src/zk/log.rs.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
// core's ZooKeeper server support (its jars from Maven Central) and a 3-node ensemble on it;
// not in `support` (core's tests include that module next to their own ZooKeeper support).
#[path = "support/ensemble.rs"]
mod ensemble;
#[path = "../../core/tests/support/zookeeper.rs"]
#[allow(dead_code, reason = "the log tests use part of it")]
mod zookeeper;

use std::time::Duration;

use ensemble::Ensemble;
use support::*;

const TIMEOUT: Duration = Duration::from_secs(180);

fn exercise(cp: &str, args: &[&str]) -> JavaRun {
    let (_, library) = artifacts();
    let run = run_java(
        cp,
        "org.remesos.examples.LogExercise",
        args,
        Some(&library),
        TIMEOUT,
    );
    for stream in [&run.stdout, &run.stderr] {
        assert!(
            !stream.contains("WARNING in native method") && !stream.contains("FATAL ERROR"),
            "-Xcheck:jni:\n{}",
            run.dump()
        );
    }
    run
}

/// `ACK Position <n> <data>` / `ENTRY Position <n> <data>` lines as (position, data).
fn positions(run: &JavaRun, prefix: &str) -> Vec<(u64, String)> {
    run.lines(prefix)
        .iter()
        .filter_map(|l| {
            let mut parts = l.split_whitespace().skip(2);
            let position = parts.next()?.parse().ok()?;
            Some((position, parts.next()?.to_string()))
        })
        .collect()
}

/// Append, read, ending, catchup, truncate, a 3 MB entry, bad ranges, finalized objects.
fn basics(cp: &str, servers: &str, znode: &str) {
    let run = exercise(cp, &["basic", servers, znode]);
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    for line in [
        "EMPTY Position 0 Position 0",
        "ORDERED true",
        "ENDING_IS_LAST true",
        "CATCHUP_IS_LAST true",
        "IDENTITY true",
        "READ alpha",
        "READ beta",
        "READ gamma",
        "BIG true",
        "TRUNCATE_AFTER_END true",
        "BEGINNING_IS_B true",
        "AFTER_TRUNCATE beta,gamma,big,",
        // src/log/replica.cpp's messages.
        "TRUNCATED Bad read range (truncated position)",
        "PAST_END Bad read range (past end of log)",
        "REVERSED Bad read range (to < from)",
        "NULL_APPEND NullPointerException",
        "FINALIZED_WRITER IllegalStateException",
        "FINALIZED_READER IllegalStateException",
        "FINALIZED_READER_TWICE IllegalStateException",
        "READER_OUTLIVES_LOG true",
        "FINALIZED_LOG IllegalStateException",
        "FINALIZED_LOG_WRITER IllegalStateException",
        "PIDS UnsupportedOperationException",
        "DONE",
    ] {
        assert!(run.has(line), "missing '{line}':\n{dump}");
    }
}

#[test]
fn log_on_a_three_node_ensemble_with_apaches_jar() {
    let cp = compile_examples("apache-1.11.0", &classpath("apache-1.11.0"));
    let zk = Ensemble::start();
    let servers = zk.servers();

    basics(&cp, &servers, "/remesos/log-basic");

    // Writer failover to a second JVM: the first gets WriterFailedException (and stays
    // failed), the reader sees one order, no acknowledged append is lost.
    let znode = "/remesos/log-failover";
    let marker = std::env::temp_dir().join(format!("remesos-log-marker-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let first = {
        let cp = cp.clone();
        let servers = servers.clone();
        let marker = marker.display().to_string();
        std::thread::spawn(move || exercise(&cp, &["writer", &servers, znode, "w1", &marker]))
    };
    let wait = std::time::Instant::now() + Duration::from_secs(120);
    while !marker.exists() && std::time::Instant::now() < wait && !first.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        marker.exists(),
        "the first writer never acknowledged 5 appends"
    );
    let second = exercise(&cp, &["takeover", &servers, znode, "w2", "5"]);
    let first = first.join().expect("first writer thread");
    let _ = std::fs::remove_file(&marker);
    let dumps = format!("first:\n{}\nsecond:\n{}", first.dump(), second.dump());
    assert_eq!(first.code, Some(0), "{dumps}");
    assert_eq!(second.code, Some(0), "{dumps}");
    assert_eq!(first.lines("WRITER_FAILED ").len(), 1, "{dumps}");
    assert!(first.has("STILL_FAILED"), "{dumps}");
    let log = positions(&second, "ENTRY ");
    // One total order: positions strictly increase.
    assert!(log.windows(2).all(|w| w[0].0 < w[1].0), "{dumps}");
    // Every acknowledged append of either writer is in the log, at its position.
    for (position, data) in positions(&first, "ACK ")
        .into_iter()
        .chain(positions(&second, "ACK "))
    {
        assert!(
            log.contains(&(position, data.clone())),
            "acknowledged {data} at {position} is missing:\n{dumps}"
        );
    }
    // The fence: nothing of the first writer follows the second's first entry.
    let takeover = log
        .iter()
        .position(|(_, d)| d.starts_with("w2-"))
        .expect("the second writer's entries");
    assert!(
        log[takeover..].iter().all(|(_, d)| d.starts_with("w2-")),
        "{dumps}"
    );
    assert_eq!(log.len() - takeover, 5, "{dumps}");
}

#[test]
fn log_basics_with_the_project_jar() {
    let cp = compile_examples("remesos", &classpath("remesos"));
    let zk = Ensemble::start();
    basics(&cp, &zk.servers(), "/remesos/log-project-jar");
}

#[test]
fn zookeeper_unavailable_ends_every_call_within_its_timeout() {
    let cp = compile_examples("apache-1.11.0", &classpath("apache-1.11.0"));
    // A port nobody listens on.
    let servers = format!("127.0.0.1:{}", free_port());
    let started = std::time::Instant::now();
    let run = exercise(&cp, &["unavailable", &servers, "/remesos/log-down"]);
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    for line in [
        "WRITER_CONSTRUCTED",
        "APPEND TimeoutException",
        "READ TimeoutException",
        "CATCHUP TimeoutException",
        // ending() declares no exception: bounded by the 10 s session timeout.
        "ENDING RuntimeException",
        "DONE",
    ] {
        assert!(run.has(line), "missing '{line}':\n{dump}");
    }
    // 2 x 1 s election + 2 s + 1 s + 1 s + 10 s, plus the JVM.
    assert!(started.elapsed() < Duration::from_secs(60), "{dump}");
}

/// One JVM's writer across a ZooKeeper restart (same data directory): the appends after
/// ZooKeeper comes back succeed (a timed-out one is retried), and every acknowledged entry,
/// before and after, is in the log at its position, in one order.
#[test]
fn the_log_keeps_every_acknowledged_entry_across_a_zookeeper_restart() {
    let cp = compile_examples("apache-1.11.0", &classpath("apache-1.11.0"));
    let mut zk = zookeeper::ZooKeeper::start();
    let servers = zk.servers();
    let dir = std::env::temp_dir().join(format!("remesos-log-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("marker dir");
    let (marker, go) = (dir.join("marker"), dir.join("go"));
    let writer = {
        let cp = cp.clone();
        let servers = servers.clone();
        let (marker, go) = (marker.display().to_string(), go.display().to_string());
        std::thread::spawn(move || {
            exercise(
                &cp,
                &["restart", &servers, "/remesos/log-restart", &marker, &go],
            )
        })
    };
    let wait = std::time::Instant::now() + Duration::from_secs(120);
    while !marker.exists() && std::time::Instant::now() < wait && !writer.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(marker.exists(), "the writer never acknowledged 5 appends");
    zk.restart();
    std::fs::write(&go, "go").expect("go");
    let run = writer.join().expect("writer thread");
    let _ = std::fs::remove_dir_all(&dir);
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    let acks = positions(&run, "ACK ");
    assert_eq!(acks.len(), 10, "{dump}");
    let log = positions(&run, "ENTRY ");
    assert!(log.windows(2).all(|w| w[0].0 < w[1].0), "{dump}");
    for ack in &acks {
        assert!(
            log.contains(ack),
            "acknowledged {ack:?} is missing:\n{dump}"
        );
    }
}
