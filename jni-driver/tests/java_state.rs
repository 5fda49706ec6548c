//! End to end: `org.apache.mesos.state` (ZooKeeperState, LevelDBState, LogState) of Apache's unmodified 1.11.0 jar (and of the
//! project's jar) through our libmesos.so under `-Xcheck:jni`, against a real ZooKeeper
//! (issue 20 items 1, 4, 5). `StateExercise` (java/examples) prints one line per
//! observation; each test reads them.
//!
//! Mesos facts checked: a store of a stale Variable yields null (`src/state/state.hpp`);
//! one znode per name holding the serialized Entry, at most 1 MB ("Serialized data is too
//! big (> 1 MB)"), a znode that is not an Entry fails with "Failed to deserialize Entry",
//! and with credentials the znodes are EVERYONE_READ_CREATOR_ALL (`src/state/zookeeper.cpp`).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;
// core's real-ZooKeeper harness, shared rather than copied; this test uses part of it.
#[allow(dead_code)]
#[path = "../../core/tests/support/zookeeper.rs"]
mod zookeeper;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

const TIMEOUT: Duration = Duration::from_secs(120);
const EXERCISE: &str = "org.remesos.examples.StateExercise";

/// Runs `StateExercise` with `args`; asserts it ended cleanly and `-Xcheck:jni` said nothing.
fn exercise(cp: &str, with_library: bool, args: &[&str]) -> JavaRun {
    let (_, library) = artifacts();
    let run = run_java(
        cp,
        EXERCISE,
        args,
        with_library.then_some(library.as_path()),
        TIMEOUT,
    );
    assert_eq!(run.code, Some(0), "{}", run.dump());
    check_no_jni_warnings(&run);
    assert!(run.has(&format!("DONE {}", args[0])), "{}", run.dump());
    run
}

/// The rest of the line starting with `key ` (the first such line).
fn value<'a>(run: &'a JavaRun, key: &str) -> &'a str {
    let prefix = format!("{key} ");
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no '{key}' line:\n{}", run.dump()))
}

/// ZooKeeper's own CLI, for what the state API cannot do (write a znode that is not an Entry,
/// read ACLs); it needs commons-cli, which the server's jars leave out.
fn zk_cli(zk: &zookeeper::ZooKeeper, command: &[&str]) -> String {
    let lib = zookeeper::classpath();
    let cli = maven_jar("commons-cli:commons-cli:1.5.0");
    let output = Command::new("java")
        .args(["-cp", &format!("{}/*:{}", lib.display(), cli.display())])
        .arg("org.apache.zookeeper.ZooKeeperMain")
        .args(["-server", &zk.servers()])
        .args(command)
        .output()
        .expect("run ZooKeeperMain");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

fn zookeeper_scenarios(jar: &str, with_library: bool) {
    let cp = compile_examples(jar, &classpath(jar));
    let mut zk = zookeeper::ZooKeeper::start();
    let servers = zk.servers();

    // A znode that is not an Entry, where the state keeps its variables.
    zk_cli(&zk, &["create", "/ex", ""]);
    let created = zk_cli(&zk, &["create", "/ex/garbage", "not-an-entry"]);
    assert!(created.contains("Created /ex/garbage"), "{created}");

    let run = exercise(&cp, with_library, &["zk", &servers, "/ex"]);
    let dump = run.dump();
    for (key, expected) in [
        ("FETCH_NEW", "alpha 0 done=true cancelled=false"),
        ("STORED", "true one"),
        // Compare-and-swap: the stale variable's store yields null and changes nothing.
        ("STALE_STORE_NULL", "true"),
        ("VALUE", "alpha one"),
        ("NAMES", "alpha,beta,garbage"),
        ("EXPUNGE_STALE", "false"),
        ("EXPUNGE_CURRENT", "true"),
        ("NAMES_AFTER", "beta,garbage"),
        ("UNDER_LIMIT_STORED", "true"),
        ("UNDER_LIMIT_READ", "1024000"),
        (
            "OVER_LIMIT",
            "ExecutionException: Serialized data is too big (> 1 MB)",
        ),
        ("OVER_LIMIT_UNCHANGED", "1024000"),
        ("LONG_NAME_STORED", "true"),
        // Bad names fail their futures; nothing is written.
        ("NAMES_AFTER_BAD", "beta,big,garbage,LONG"),
        (
            "NOT_ENTRY",
            "ExecutionException: Failed to deserialize Entry",
        ),
        ("GET_ZERO_TIMEOUT", "none"),
        ("CANCEL", "false b b"),
    ] {
        assert_eq!(value(&run, key), expected, "{key}:\n{dump}");
    }
    for (key, exception) in [
        ("EMPTY_NAME", "ExecutionException"),
        (
            "SLASH_NAME",
            "ExecutionException: Failed to create '/ex/a/b'",
        ),
        ("NULL_NAME", "NullPointerException"),
        ("NULL_VARIABLE", "NullPointerException"),
        ("FINALIZED_VALUE", "IllegalStateException"),
        ("FINALIZED_MUTATE", "IllegalStateException"),
        ("FINALIZED_STORE", "IllegalStateException"),
        ("FINALIZED_FUTURE", "IllegalStateException"),
        ("FINALIZED_FUTURE_DONE", "IllegalStateException"),
        ("FINALIZED_STATE", "IllegalStateException"),
    ] {
        assert!(
            value(&run, key).starts_with(exception),
            "{key} should throw {exception}:\n{dump}"
        );
    }

    race_and_restart(&cp, with_library, &mut zk, "");

    // Digest credentials: the owner's znodes are readable by all, writable by the owner.
    let run = exercise(&cp, with_library, &["digest", &servers, "/dg"]);
    let dump = run.dump();
    assert_eq!(value(&run, "DIGEST_STORED"), "true", "{dump}");
    assert_eq!(value(&run, "DIGEST_OTHER_READ"), "mine", "{dump}");
    assert!(
        value(&run, "DIGEST_OTHER_STORE").starts_with("ExecutionException: Failed to set"),
        "{dump}"
    );
    assert_eq!(value(&run, "DIGEST_OWNER_STORE"), "true", "{dump}");
    let acl = zk_cli(&zk, &["getAcl", "/dg/guarded"]);
    assert!(
        acl.contains("'world,'anyone") && acl.contains("'digest,'alice:"),
        "Mesos's EVERYONE_READ_CREATOR_ALL:\n{acl}"
    );
}

/// `LogState` (Mesos's `src/state/log.cpp`): the state as SNAPSHOT/DIFF/EXPUNGE operations
/// in the replicated log, replayed by every new state; a stale store yields null; a state
/// whose writer another state deposed answers its next store with null (Mesos: "not
/// atomic") and replays before the one after.
fn log_state_scenarios(jar: &str, with_library: bool) {
    let cp = compile_examples(jar, &classpath(jar));
    let mut zk = zookeeper::ZooKeeper::start();
    let servers = zk.servers();

    let run = exercise(&cp, with_library, &["log", &servers, "/ls"]);
    let dump = run.dump();
    for (key, expected) in [
        ("LOG_FETCH_NEW", "alpha 0"),
        ("LOG_STORED", "true one"),
        ("LOG_STALE_STORE_NULL", "true"),
        ("LOG_VALUE", "alpha one"),
        ("LOG_NAMES", "alpha,beta"),
        ("LOG_EXPUNGE_STALE", "false"),
        ("LOG_EXPUNGE_CURRENT", "true"),
        ("LOG_NAMES_AFTER", "beta"),
        ("LOG_REPLAYED_BIG", "true 204800"),
        ("LOG_REPLAYED_NAMES", "beta,big"),
        ("LOG_DEPOSED_STORE_NULL", "true"),
        ("LOG_AFTER_REPLAY_STORE", "true"),
    ] {
        assert_eq!(value(&run, key), expected, "{key}:\n{dump}");
    }
    for (key, exception) in [
        ("LOG_NEGATIVE_DIFFS", "IllegalArgumentException"),
        ("LOG_BAD_ZNODE", "IllegalArgumentException"),
        ("LOG_NULL_SERVERS", "NullPointerException"),
        ("LOG_NULL_NAME", "NullPointerException"),
        ("LOG_FINALIZED_FETCH", "IllegalStateException"),
        ("LOG_FINALIZED_NAMES", "IllegalStateException"),
    ] {
        assert!(
            value(&run, key).starts_with(exception),
            "{key} should throw {exception}:\n{dump}"
        );
    }

    race_and_restart(&cp, with_library, &mut zk, "log-");
}

/// Five states (five sessions) store one fetched version at once: exactly one wins, and
/// the first state then reads the winner's value (a LogState that lost replays it). A
/// variable outlives the JVM, and ZooKeeper's restart. `prefix` picks the exercise's modes:
/// "" for ZooKeeperState, "log-" for LogState.
fn race_and_restart(cp: &str, with_library: bool, zk: &mut zookeeper::ZooKeeper, prefix: &str) {
    let servers = zk.servers();
    let (race, keep) = (format!("/{prefix}race"), format!("/{prefix}keep"));
    let mode = |m: &str| format!("{prefix}{m}");
    let run = exercise(
        cp,
        with_library,
        &[&mode("race"), &servers, &race, "counter", "5"],
    );
    assert_eq!(value(&run, "RACE_WINNERS"), "1 errors=0", "{}", run.dump());
    let winner = value(&run, "WINNER");
    assert_eq!(value(&run, "RACE_VALUE"), winner, "{}", run.dump());

    let run = exercise(
        cp,
        with_library,
        &[&mode("write"), &servers, &keep, "k", "v1"],
    );
    assert_eq!(value(&run, "WRITE"), "k true", "{}", run.dump());
    let run = exercise(cp, with_library, &[&mode("read"), &servers, &keep, "k"]);
    assert_eq!(value(&run, "READ"), "k v1", "{}", run.dump());
    zk.restart();
    let run = exercise(cp, with_library, &[&mode("read"), &servers, &keep, "k"]);
    assert_eq!(value(&run, "READ"), "k v1", "{}", run.dump());
    assert_eq!(value(&run, "NAMES"), "k", "{}", run.dump());
}

fn unavailable_zookeeper_fails_futures(jar: &str, with_library: bool) {
    unavailable_fails_futures(jar, with_library, "unavailable");
}

/// `mode` is `unavailable` (ZooKeeperState) or `log-unavailable` (LogState).
fn unavailable_fails_futures(jar: &str, with_library: bool, mode: &str) {
    let cp = compile_examples(jar, &classpath(jar));
    // Nothing listens there.
    let servers = format!("127.0.0.1:{}", free_port());
    let run = exercise(&cp, with_library, &[mode, &servers]);
    let dump = run.dump();
    assert!(
        value(&run, "UNAVAILABLE_TIMEOUT").starts_with("TimeoutException"),
        "{dump}"
    );
    assert!(
        value(&run, "UNAVAILABLE_GET").starts_with("ExecutionException"),
        "{dump}"
    );
    assert!(
        value(&run, "UNAVAILABLE_NAMES").starts_with("ExecutionException"),
        "{dump}"
    );
    let ms: u64 = value(&run, "UNAVAILABLE_MS").parse().expect("ms");
    assert!(ms < 30_000, "waited {ms} ms:\n{dump}");
}

fn leveldb_state_survives_the_jvm(jar: &str, with_library: bool) {
    let cp = compile_examples(jar, &classpath(jar));
    let dir = std::env::temp_dir().join(format!(
        "remesos-leveldb-state-{jar}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.to_str().expect("utf-8 path");
    let run = exercise(
        &cp,
        with_library,
        &["leveldb-write", path, "kept", "value-1"],
    );
    assert_eq!(value(&run, "WRITE"), "kept true", "{}", run.dump());
    assert_eq!(value(&run, "STALE"), "true", "{}", run.dump());
    let run = exercise(&cp, with_library, &["leveldb-read", path, "kept"]);
    let dump = run.dump();
    assert_eq!(value(&run, "READ"), "kept value-1", "{dump}");
    assert_eq!(value(&run, "NAMES"), "kept", "{dump}");
    assert_eq!(value(&run, "EXPUNGE"), "true", "{dump}");
    assert_eq!(value(&run, "NAMES_AFTER"), "", "{dump}");
    assert!(Path::new(path).join("state.redb").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn apache_1_11_0_jar_keeps_state_in_zookeeper() {
    zookeeper_scenarios("apache-1.11.0", true);
}

#[test]
fn apache_1_11_0_jar_state_fails_without_zookeeper_and_never_hangs() {
    unavailable_zookeeper_fails_futures("apache-1.11.0", true);
}

#[test]
fn apache_1_11_0_jar_keeps_state_in_the_log() {
    log_state_scenarios("apache-1.11.0", true);
}

#[test]
fn apache_1_11_0_jar_log_state_fails_without_zookeeper_and_never_hangs() {
    unavailable_fails_futures("apache-1.11.0", true, "log-unavailable");
}

#[test]
fn the_projects_jar_keeps_state_in_the_log() {
    log_state_scenarios("remesos", false);
}

#[test]
fn apache_1_11_0_jar_leveldb_state_survives_the_jvm() {
    leveldb_state_survives_the_jvm("apache-1.11.0", true);
}

#[test]
fn the_projects_jar_keeps_state_in_zookeeper() {
    zookeeper_scenarios("remesos", false);
}

#[test]
fn the_projects_jar_leveldb_state_survives_the_jvm() {
    leveldb_state_survives_the_jvm("remesos", false);
}
