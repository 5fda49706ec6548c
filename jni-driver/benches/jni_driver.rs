//! Benchmark of the JNI scheduler driver with Apache's 1.11.0 jar on a 2-agent
//! `remesos local`: the cost of one JNI call into the driver, and launchTasks ->
//! TASK_FINISHED round trips per second over 1,000 command tasks running `true`
//! (benches/java/DriverBench.java says how each is measured). `cargo bench -p remesos-jni`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use support::*;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it with no flag: then a
    // short run keeps the suite quick.
    let tasks = if std::env::args().any(|a| a == "--bench") {
        1000
    } else {
        50
    };
    let (remesos, library) = artifacts();
    let jar = classpath("apache-1.11.0");
    let cp = compile_bench(&jar);
    let cluster = start_cluster(&remesos, 2);
    let run = run_java_checked(
        &cp,
        "DriverBench",
        &[&cluster.master, &tasks.to_string()],
        Some(&library),
        Duration::from_secs(900),
        false,
        &[],
    );
    let dump = run.dump();
    assert_eq!(run.code, Some(0), "{dump}");
    let call = run.lines("JNI_CALL_NS ")[0]
        .trim_start_matches("JNI_CALL_NS ")
        .parse::<f64>()
        .expect("ns");
    let trips: Vec<f64> = run.lines("ROUND_TRIPS ")[0]
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().expect("number"))
        .collect();
    println!("one JNI call into the driver (declineOffer(null, null)): {call:.0} ns");
    println!(
        "launchTasks -> TASK_FINISHED: {} tasks in {:.2} s = {:.1} round trips/s",
        trips[0], trips[1], trips[2]
    );
}

fn compile_bench(jar: &[std::path::PathBuf]) -> String {
    let out = std::env::temp_dir().join(format!("remesos-driver-bench-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("bench classes dir");
    let cp = std::env::join_paths(jar).expect("class path");
    let source = repo_root().join("jni-driver/benches/java/DriverBench.java");
    let status = std::process::Command::new("javac")
        .args(["-nowarn", "-d"])
        .arg(&out)
        .arg("-cp")
        .arg(&cp)
        .arg(&source)
        .status()
        .expect("javac");
    assert!(status.success(), "javac DriverBench failed");
    let mut all = vec![out];
    all.extend(jar.iter().cloned());
    std::env::join_paths(all)
        .expect("class path")
        .into_string()
        .expect("utf-8")
}
