//! Every `native` method of Apache's `MesosSchedulerDriver`, `MesosExecutorDriver`,
//! `MesosNativeLibrary` and (1.11.0) `org.apache.mesos.state` — as the real jars declare them (1.11.0 from Maven Central, 1.4.3
//! shaded-protobuf from pyspark 3.5) — has an exported symbol in libmesos.so that the JVM
//! will bind (reference/mesos-contract.md §1.1 mangling: the short name, or the long name
//! with the mangled argument signature; overloaded natives need the long name).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use support::*;

const CLASSES: &[&str] = &[
    "org.apache.mesos.MesosSchedulerDriver",
    "org.apache.mesos.MesosExecutorDriver",
    "org.apache.mesos.MesosNativeLibrary",
];

/// `org.apache.mesos.state` (issue 20): the state, its named futures, the variable and the
/// ZooKeeper, LevelDB and log states.
const STATE_CLASSES: &[&str] = &[
    "org.apache.mesos.state.AbstractState",
    "org.apache.mesos.state.AbstractState$FetchFuture",
    "org.apache.mesos.state.AbstractState$StoreFuture",
    "org.apache.mesos.state.AbstractState$ExpungeFuture",
    "org.apache.mesos.state.AbstractState$NamesFuture",
    "org.apache.mesos.state.Variable",
    "org.apache.mesos.state.ZooKeeperState",
    "org.apache.mesos.state.LevelDBState",
    "org.apache.mesos.state.LogState",
];

/// JNI's escaping of a name or signature part.
fn mangle(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '/' | '.' => out.push('_'),
            '_' => out.push_str("_1"),
            ';' => out.push_str("_2"),
            '[' => out.push_str("_3"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            c => out.push_str(&format!("_0{:04x}", c as u32)),
        }
    }
    out
}

/// `(method name, JVM descriptor)` of the natives of `class` in `jar`, from `javap -p -s`.
fn natives(jar: &Path, class: &str) -> Vec<(String, String)> {
    let output = Command::new("javap")
        .args(["-p", "-s", "-cp"])
        .arg(jar)
        .arg(class)
        .output()
        .expect("run javap (a JDK is required)");
    assert!(
        output.status.success(),
        "javap {class}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.contains(" native ") {
            continue;
        }
        let name = line
            .split('(')
            .next()
            .and_then(|head| head.split_whitespace().last())
            .expect("method name")
            .to_string();
        let descriptor = lines
            .get(i + 1)
            .and_then(|l| l.trim().strip_prefix("descriptor: "))
            .expect("descriptor line")
            .to_string();
        found.push((name, descriptor));
    }
    found
}

fn exported(library: &Path) -> BTreeSet<String> {
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(library)
        .output()
        .expect("run nm (binutils)");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect()
}

/// The replicated log and the v1 scheduler library (issue 20 items 2 and 3).
const LOG_AND_V1_CLASSES: &[&str] = &[
    "org.apache.mesos.Log",
    "org.apache.mesos.Log$Reader",
    "org.apache.mesos.Log$Writer",
    "org.apache.mesos.v1.scheduler.V1Mesos",
    "org.apache.mesos.v1.scheduler.V0Mesos",
];

fn check_jar(jar: &Path, classes: &[&str]) -> usize {
    let (_, library) = artifacts();
    let symbols = exported(&library);
    assert!(symbols.contains("JNI_OnLoad"));
    let mut checked = 0;
    for class in classes {
        let natives = natives(jar, class);
        assert!(
            !natives.is_empty(),
            "{class} in {} has no natives",
            jar.display()
        );
        for (name, descriptor) in &natives {
            let short = format!("Java_{}_{}", mangle(class), mangle(name));
            let args = descriptor
                .trim_start_matches('(')
                .split(')')
                .next()
                .unwrap_or("");
            let long = format!("{short}__{}", mangle(args));
            let overloaded = natives.iter().filter(|(n, _)| n == name).count() > 1;
            let bound = if overloaded {
                symbols.contains(&long)
            } else {
                symbols.contains(&short) || symbols.contains(&long)
            };
            assert!(
                bound,
                "{class}.{name}{descriptor} of {}: neither {short} nor {long} is exported",
                jar.display()
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_native_of_apaches_1_11_0_jar_is_exported() {
    let jar = maven_jar("org.apache.mesos:mesos:1.11.0");
    // 21 scheduler natives + 8 executor natives + _version.
    assert_eq!(check_jar(&jar, CLASSES), 30);
    // AbstractState: finalize + 4 operations x 7 (__op, cancel, is_cancelled, is_done, get,
    // get_timeout, finalize); 4 named futures x 6; Variable 3; ZooKeeperState 2; LevelDBState 1;
    // LogState 2 (initialize, finalize).
    assert_eq!(check_jar(&jar, STATE_CLASSES), 29 + 24 + 3 + 2 + 1 + 2);
}

#[test]
fn every_native_of_log_and_v1_mesos_in_apaches_1_11_0_jar_is_exported() {
    let jar = maven_jar("org.apache.mesos:mesos:1.11.0");
    // Log: 3 initialize + finalize; Reader: 6; Writer: 4; V1Mesos: 4; V0Mesos: 3.
    assert_eq!(check_jar(&jar, LOG_AND_V1_CLASSES), 21);
}

#[test]
fn every_native_of_the_1_4_3_shaded_jar_pyspark_ships_is_exported() {
    let jar = pyspark_mesos_jar();
    assert!(check_jar(&jar, CLASSES) >= 25);
}

#[test]
fn mangling_matches_the_jni_specification() {
    assert_eq!(
        mangle("org.apache.mesos.MesosNativeLibrary"),
        "org_apache_mesos_MesosNativeLibrary"
    );
    assert_eq!(mangle("_version"), "_1version");
    assert_eq!(
        mangle("Lorg/apache/mesos/Protos$OfferID;Ljava/util/Collection;"),
        "Lorg_apache_mesos_Protos_00024OfferID_2Ljava_util_Collection_2"
    );
    assert_eq!(mangle("[B"), "_3B");
    assert_eq!(mangle("__fetch_get_timeout"), "_1_1fetch_1get_1timeout");
    assert_eq!(
        mangle("org.apache.mesos.state.AbstractState$FetchFuture"),
        "org_apache_mesos_state_AbstractState_00024FetchFuture"
    );
}
