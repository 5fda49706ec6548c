//! Replays the fuzz corpora as ordinary tests (issue 11): every file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the same function
//! the libFuzzer target calls (`remesos::fuzzing`), so `cargo test --release` catches a
//! decoder that panics again on an input the fuzzer once found, without nightly.
//!
//! `write_seed_corpora` (ignored) wrote the initial seeds: real calls from the golden JSON
//! of core/proto/tests and the API docs, both encodings, real archives and flags. The
//! committed corpora are those seeds grown by fuzzing and minimized with `cargo fuzz cmin`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use remesos::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files_of(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

/// Runs every corpus and regression input of `name`; fails naming each input that panics.
fn replay(name: &str) {
    let target = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    let corpus = files_of(&fuzz_dir().join("corpus").join(name));
    assert!(!corpus.is_empty(), "fuzz/corpus/{name} is empty");
    let regressions = files_of(&fuzz_dir().join("regressions").join(name));
    let mut failures = Vec::new();
    for file in corpus.iter().chain(&regressions) {
        let data = std::fs::read(file).expect("read a corpus file");
        if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
            failures.push(file.display().to_string());
        }
    }
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*

        #[test]
        fn every_target_is_replayed() {
            let replayed = [$(stringify!($name)),*];
            for (name, _) in TARGETS {
                assert!(replayed.contains(name), "target {name} has no replay test");
            }
        }
    };
}

replay_tests!(
    scheduler_call,
    executor_call,
    operator_call,
    agent_call,
    json_dialect,
    recordio,
    resources,
    flags,
    agent_grpc,
    master_harness,
    archive,
    files_path,
);

mod seeds {
    use std::io::Write;
    use std::path::Path;

    use prost::{Message, Name};
    use remesos_proto::internal as wire;
    use remesos_proto::v1;

    fn golden(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/tests/golden");
        std::fs::read(path.join(name)).expect("golden file")
    }

    fn write(target: &str, name: &str, data: &[u8]) {
        let dir = super::fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        std::fs::write(dir.join(format!("seed-{name}")), data).expect("write seed");
    }

    /// JSON as given and as protobuf (through the dialect), for a call target.
    fn call<M: Message + Name + Default>(target: &str, name: &str, json: &[u8]) {
        write(target, &format!("{name}.json"), json);
        let message: M = remesos_proto::json::from_slice(json)
            .unwrap_or_else(|e| panic!("seed {name} is not a {}: {e}", M::NAME));
        write(target, &format!("{name}.pb"), &message.encode_to_vec());
    }

    fn pb<M: Message + Name + Default>(json: &str) -> Vec<u8> {
        remesos_proto::json::from_slice::<M>(json.as_bytes())
            .unwrap_or_else(|e| panic!("not a {}: {e}: {json}", M::NAME))
            .encode_to_vec()
    }

    const SUBSCRIBE: &str = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"fuzz","roles":["*"],"capabilities":[{"type":"MULTI_ROLE"}],"failover_timeout":60}}}"#;
    const REGISTER: &str = r#"{"agent_info":{"hostname":"h1","port":5051,"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":4}},{"name":"mem","type":"SCALAR","scalar":{"value":4096}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}}],"attributes":[{"name":"rack","type":"TEXT","text":{"value":"r1"}}]},"version":"1.11.0","endpoint":"127.0.0.1:5051"}"#;
    const ACCEPT: &str = r#"{"type":"ACCEPT","accept":{"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t1"},"agent_id":{"value":"MASTER-S0"},"command":{"value":"sleep 1"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{"role":"*"}},{"name":"mem","type":"SCALAR","scalar":{"value":128},"allocation_info":{"role":"*"}}]}]}}],"filters":{"refuse_seconds":1}}}"#;
    const RUNNING: &str = r#"{"status_update":{"framework_id":{"value":"MASTER-0000"},"status":{"task_id":{"value":"t1"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","agent_id":{"value":"MASTER-S0"},"uuid":"AAECAwQFBgcICQoLDA0ODw=="}}}"#;

    /// One master-harness step: opcode, then a two-byte length and a protobuf body.
    fn step(script: &mut Vec<u8>, op: u8, which: Option<u8>, body: &[u8]) {
        script.push(op);
        if let Some(w) = which {
            script.push(w);
        }
        let len = u16::try_from(body.len()).expect("short seed");
        script.extend_from_slice(&len.to_le_bytes());
        script.extend_from_slice(body);
    }

    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o755);
            header.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..`; write the name raw as a hostile archive would.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *data).expect("tar entry");
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        header.set_path("link").expect("path");
        header.set_link_name("bin").expect("link");
        header.set_cksum();
        builder.append(&header, &[][..]).expect("symlink");
        builder.into_inner().expect("tar")
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    }

    fn bzip(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(data).expect("bzip2");
        e.finish().expect("bzip2")
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        lzma_rs::xz_compress(&mut &data[..], &mut out).expect("xz");
        out
    }

    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (path, data) in entries {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
            w.start_file(*path, options).expect("zip entry");
            w.write_all(data).expect("zip data");
        }
        w.finish().expect("zip").into_inner()
    }

    fn with(selector: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![selector];
        v.extend_from_slice(data);
        v
    }

    #[test]
    #[ignore = "writes the seed corpora into fuzz/corpus; run by hand"]
    fn write_seed_corpora() {
        use v1::scheduler::Call as SchedCall;
        for name in [
            "scheduler_subscribe",
            "scheduler_accept",
            "scheduler_decline",
        ] {
            call::<SchedCall>("scheduler_call", name, &golden(&format!("{name}.json")));
        }
        let fid = r#""framework_id":{"value":"f1"}"#;
        for (name, json) in [
            ("subscribe", SUBSCRIBE.to_string()),
            (
                "kill",
                format!(
                    r#"{{{fid},"type":"KILL","kill":{{"task_id":{{"value":"t"}},"kill_policy":{{"grace_period":{{"nanoseconds":5}}}}}}}}"#
                ),
            ),
            (
                "reconcile",
                format!(
                    r#"{{{fid},"type":"RECONCILE","reconcile":{{"tasks":[{{"task_id":{{"value":"t"}}}}]}}}}"#
                ),
            ),
            (
                "ack",
                format!(
                    r#"{{{fid},"type":"ACKNOWLEDGE","acknowledge":{{"agent_id":{{"value":"a"}},"task_id":{{"value":"t"}},"uuid":"AAECAwQFBgcICQoLDA0ODw=="}}}}"#
                ),
            ),
            (
                "revive",
                format!(r#"{{{fid},"type":"REVIVE","revive":{{"roles":["r"]}}}}"#),
            ),
            ("teardown", format!(r#"{{{fid},"type":"TEARDOWN"}}"#)),
            (
                "message",
                format!(
                    r#"{{{fid},"type":"MESSAGE","message":{{"agent_id":{{"value":"a"}},"executor_id":{{"value":"e"}},"data":"aGk="}}}}"#
                ),
            ),
        ] {
            call::<SchedCall>("scheduler_call", name, json.as_bytes());
        }
        call::<v1::executor::Call>(
            "executor_call",
            "subscribe",
            &golden("executor_subscribe.json"),
        );
        call::<v1::executor::Call>(
            "executor_call",
            "update",
            br#"{"executor_id":{"value":"e"},"framework_id":{"value":"f"},"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","uuid":"AAECAwQFBgcICQoLDA0ODw=="}}}"#,
        );
        for ty in [
            "GET_HEALTH",
            "GET_FLAGS",
            "GET_STATE",
            "GET_AGENTS",
            "GET_FRAMEWORKS",
            "SUBSCRIBE",
            "GET_MAINTENANCE_STATUS",
        ] {
            call::<v1::master::Call>(
                "operator_call",
                &ty.to_lowercase(),
                format!(r#"{{"type":"{ty}"}}"#).as_bytes(),
            );
        }
        call::<v1::master::Call>(
            "operator_call",
            "set_logging_level",
            br#"{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1,"duration":{"nanoseconds":60000000000}}}"#,
        );
        call::<v1::master::Call>(
            "operator_call",
            "reserve",
            br#"{"type":"RESERVE_RESOURCES","reserve_resources":{"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"r"}]}]}}"#,
        );
        for ty in [
            "GET_HEALTH",
            "GET_FLAGS",
            "GET_STATE",
            "GET_CONTAINERS",
            "GET_METRICS",
        ] {
            call::<v1::agent::Call>(
                "agent_call",
                &ty.to_lowercase(),
                format!(r#"{{"type":"{ty}"}}"#).as_bytes(),
            );
        }
        call::<v1::agent::Call>(
            "agent_call",
            "read_file",
            br#"{"type":"READ_FILE","read_file":{"path":"/sandbox/stdout","offset":0,"length":10}}"#,
        );
        for (i, name) in [
            "scheduler_subscribe.json",
            "executor_subscribe.json",
            "operator_get_flags.json",
            "operator_get_health.json",
            "scheduler_accept.json",
            "scheduler_decline.json",
            "scheduler_subscribe.json",
            "scheduler_update.json",
        ]
        .iter()
        .enumerate()
        {
            write(
                "json_dialect",
                &format!("{i}"),
                &with(i as u8, &golden(name)),
            );
        }
        write("json_dialect", "task", &with(5, br#"{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":"Infinity"}}],"data":"aGk"}"#));

        let mut stream = Vec::new();
        for record in [&b"{\"type\":\"HEARTBEAT\"}"[..], b"", b"abc"] {
            remesos_proto::recordio::encode(record, &mut stream);
        }
        write("recordio", "three", &with(3, &stream));
        write("recordio", "bad", &with(1, b"12\nabc\n\nx"));

        for (name, text) in [
            (
                "text",
                "cpus:2;mem:1024;disk:4096;ports:[31000-32000,40000-40010]",
            ),
            (
                "roles",
                "r1\ncpus(r1):2;mem(*):1024;gpus(r2):1;zones:{a,b,c}",
            ),
            (
                "json",
                r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":2}},{"name":"disk","type":"SCALAR","scalar":{"value":100},"role":"r","reservation":{"principal":"p"},"disk":{"persistence":{"id":"v1"},"volume":{"container_path":"data","mode":"RW"}}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":5}]}}]"#,
            ),
            (
                "reservations",
                r#"[{"name":"mem","type":"SCALAR","scalar":{"value":64},"reservations":[{"type":"STATIC","role":"a"},{"type":"DYNAMIC","role":"a/b","principal":"p"}]}]"#,
            ),
        ] {
            write("resources", name, text.as_bytes());
        }

        for (name, selector, tokens) in [
            (
                "master",
                0u8,
                vec![
                    "--port=5050",
                    "--hostname=h",
                    "--allocation_interval=1secs",
                    "--offer_timeout=1.5mins",
                    "--roles=a,b",
                    "--weights=a=2,b=1",
                    "--max_agent_ping_timeouts=3",
                    "--nohostname_lookup",
                ],
            ),
            (
                "agent",
                1,
                vec![
                    "--master=127.0.0.1:5050",
                    "--work_dir=/tmp/w",
                    "--resources=cpus:2;mem:512",
                    "--attributes=rack:r1",
                    "--executor_shutdown_grace_period=5secs",
                    "--gc_delay=1weeks",
                    "MESOS_DOCKER_STOP_TIMEOUT=0ns",
                    "--fetcher_cache_size=2GB",
                ],
            ),
            (
                "env",
                0,
                vec![
                    "MESOS_PORT=5051",
                    "MESOS_AGENT_PING_TIMEOUT=15secs",
                    "--help",
                    "--",
                    "extra",
                ],
            ),
            (
                "units",
                0,
                vec![
                    "10ns", "1.5us", "2ms", ".5secs", "3mins", "4hrs", "5days", "6weeks", "512mb",
                    "1TB", "7B",
                ],
            ),
        ] {
            write("flags", name, &with(selector, tokens.join("\0").as_bytes()));
        }

        for (name, json) in [("register", REGISTER), ("running", RUNNING)] {
            let message: &str = &if name == "register" {
                format!(r#"{{"register":{json}}}"#)
            } else {
                json.to_string()
            };
            write("agent_grpc", name, &pb::<wire::AgentMessage>(message));
        }
        write(
            "agent_grpc",
            "run_task",
            &pb::<wire::MasterMessage>(
                r#"{"kill_task":{"framework_id":{"value":"f"},"task_id":{"value":"t"}}}"#,
            ),
        );

        let mut script = Vec::new();
        step(&mut script, 0, None, &pb::<SchedCall>(SUBSCRIBE));
        step(&mut script, 2, None, &pb::<wire::Register>(REGISTER));
        script.push(6);
        step(&mut script, 1, Some(0), &pb::<SchedCall>(ACCEPT));
        step(&mut script, 4, Some(0), &pb::<wire::AgentMessage>(RUNNING));
        script.extend_from_slice(&[5, 10, 0, 9, 7, 0, 5, 100, 0, 8, 0, 5, 0, 2, 9]);
        write("master_harness", "launch", &script);
        let mut script = Vec::new();
        step(&mut script, 0, None, &pb::<SchedCall>(SUBSCRIBE));
        step(&mut script, 2, None, &pb::<wire::Register>(REGISTER));
        script.push(6);
        step(
            &mut script,
            1,
            Some(0),
            &pb::<SchedCall>(r#"{"type":"DECLINE","decline":{"filters":{"refuse_seconds":3600}}}"#),
        );
        step(
            &mut script,
            1,
            Some(0),
            &pb::<SchedCall>(r#"{"type":"SUPPRESS"}"#),
        );
        step(
            &mut script,
            1,
            Some(0),
            &pb::<SchedCall>(r#"{"type":"REVIVE"}"#),
        );
        script.push(6);
        step(
            &mut script,
            1,
            Some(0),
            &pb::<SchedCall>(r#"{"type":"TEARDOWN"}"#),
        );
        write("master_harness", "decline", &script);

        let files: &[(&str, &[u8])] = &[
            ("bin/run.sh", b"#!/bin/sh\necho hi\n"),
            ("README", b"hello\n"),
        ];
        let tarball = tar(files);
        write("archive", "tar", &with(0, &tarball));
        write("archive", "tgz", &with(1, &gzip(&tarball)));
        write("archive", "tbz2", &with(2, &bzip(&tarball)));
        write("archive", "txz", &with(3, &xz(&tarball)));
        write("archive", "zip", &with(4, &zip(files)));
        write("archive", "gz", &with(5, &gzip(b"plain file\n")));
        write(
            "archive",
            "escape-tar",
            &with(0, &tar(&[("../evil", b"x")])),
        );
        write(
            "archive",
            "escape-zip",
            &with(4, &zip(&[("../evil", b"x"), ("/abs", b"y")])),
        );

        for (i, path) in [
            "/sandbox/stdout",
            "/sandbox/../secret",
            "/sandbox/escape",
            "/sandbox/inside/file",
            "/sandbox/latest/file",
            "file:///sandbox//dir/./sub/..",
            "/stdout",
            "/sandbox/etc/passwd",
            "/sandbox/dir/../../sandbox/stdout",
        ]
        .iter()
        .enumerate()
        {
            write("files_path", &format!("{i}"), path.as_bytes());
        }
    }
}
