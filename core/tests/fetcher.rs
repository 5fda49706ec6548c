//! The fetcher cache on a real `remesos agent` (agent/fetcher_cache.rs, Mesos's
//! `FetcherProcess::Cache`): URIs with `cache: true` served by a test HTTP server that
//! counts the requests it gets. Two tasks fetching one URI at once cause one download; a
//! full cache evicts the least recently used file; a URI larger than the cache is fetched
//! directly; a cached file altered or truncated behind the agent's back is detected and
//! downloaded again. Needs nothing but the `remesos` binary (runs as any user).
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and servers by design"
)]

mod support;
use support::java_home;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use remesos_proto::v1;
use support::{TestFramework, command_task, free_port, spawn_agent, spawn_master, temp_dir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use v1::TaskState;

/// GET requests per path.
type Counts = Arc<Mutex<BTreeMap<String, usize>>>;

/// An HTTP/1.0 server on loopback answering GET and HEAD for `files` (path → body), with a
/// `Content-Length`, counting GETs per path.
async fn serve(files: BTreeMap<String, Vec<u8>>) -> (String, Counts) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let counts: Counts = Arc::default();
    let files = Arc::new(files);
    let served = counts.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let files = files.clone();
            let counts = served.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head);
                let mut words = head.split_whitespace();
                let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let Some(body) = files.get(path) else {
                    let _ = stream
                        .write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                };
                let header = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(header.as_bytes()).await;
                if method == "GET" {
                    *counts.lock().unwrap().entry(path.to_string()).or_default() += 1;
                    let _ = stream.write_all(body).await;
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    (address, counts)
}

fn gets(counts: &Counts, path: &str) -> usize {
    counts.lock().unwrap().get(path).copied().unwrap_or(0)
}

/// The files in the cache directory (any user's), by the name the URI was saved under
/// (`c<serial>-<name>` → `<name>`), with their paths.
fn cached(cache: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![cache.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Some((_, name)) = entry.file_name().to_string_lossy().split_once('-') {
                found.insert(name.to_string(), path);
            }
        }
    }
    found
}

/// A command task fetching one URI and checking what it got with `check`.
struct Task {
    id: String,
    uri: String,
    cache: bool,
    extract: bool,
    check: String,
}

/// Runs `tasks` in one offer and waits for all to end; their last statuses by id.
async fn run_tasks(
    framework: &mut TestFramework,
    tasks: &[Task],
) -> BTreeMap<String, v1::TaskStatus> {
    let offer = framework.next_offer().await;
    let infos = tasks
        .iter()
        .map(|t| {
            let mut task = command_task(&t.id, &offer, "cpus:0.1;mem:32", &t.check);
            task.command.as_mut().unwrap().uris = vec![v1::command_info::Uri {
                value: t.uri.clone(),
                cache: Some(t.cache),
                extract: Some(t.extract),
                ..Default::default()
            }];
            task
        })
        .collect();
    let filters = v1::Filters {
        refuse_seconds: Some(0.0),
    };
    let accept = remesos::common::protocol::launch_call(&offer, infos, Some(filters));
    framework.sub.call(accept).await.unwrap();
    let mut ends = BTreeMap::new();
    while ends.len() < tasks.len() {
        let status = framework.next_update(Duration::from_secs(120)).await;
        if TaskState::try_from(status.state).is_ok_and(remesos::common::protocol::is_terminal) {
            ends.insert(status.task_id.value.clone(), status);
        }
    }
    ends
}

struct Cluster {
    framework: TestFramework,
    server: String,
    counts: Counts,
    agent: String,
    _daemons: Vec<support::Daemon>,
}

impl Cluster {
    /// Runs one task per `(id, file)`, all in one offer: each fetches `http://server/<file>`
    /// with `cache: true` and checks the content it got. Waits for all to finish.
    async fn run(&mut self, tasks: &[(&str, &str)], contents: &BTreeMap<String, Vec<u8>>) {
        let tasks: Vec<Task> = tasks
            .iter()
            .map(|(id, file)| {
                let body = &contents[&format!("/{file}")];
                // The first bytes name the file; the task checks them and the size.
                let check = format!(
                    "test \"$(head -c 8 {file})\" = '{}' && test \"$(wc -c < {file})\" -eq {}",
                    String::from_utf8_lossy(&body[..8]),
                    body.len()
                );
                Task {
                    id: id.to_string(),
                    uri: format!("http://{}/{file}", self.server),
                    cache: true,
                    extract: false,
                    check,
                }
            })
            .collect();
        for (id, status) in run_tasks(&mut self.framework, &tasks).await {
            assert_eq!(
                status.state,
                TaskState::TaskFinished as i32,
                "{id}: {status:?}"
            );
        }
    }

    async fn metric(&self, name: &str) -> f64 {
        let http = remesos::client::HttpClient::default();
        let (_, body) = http
            .get(&format!("http://{}/metrics/snapshot", self.agent))
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        json[name]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name} in {json}"))
    }
}

fn body(name: &str, size: usize) -> Vec<u8> {
    let mut body = format!("{name:<8}").into_bytes();
    body.resize(size, b'x');
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_uris_download_once_evict_lru_bypass_when_too_big_and_refetch_when_corrupt() {
    let dir = temp_dir("fetcher-cache");
    let cache = dir.join("cache");
    let contents: BTreeMap<String, Vec<u8>> = [
        ("/a.bin", body("aaaa", 100)),
        ("/b.bin", body("bbbb", 100)),
        ("/c.bin", body("cccc", 100)),
        ("/d.bin", body("dddd", 100)),
        ("/big.bin", body("bigbig", 1000)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (server, counts) = serve(contents.clone()).await;
    let (master_daemon, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    // Stale content from "before the restart": the agent deletes it at start, as Mesos.
    std::fs::create_dir_all(cache.join("someone")).unwrap();
    std::fs::write(cache.join("someone/c9-stale"), b"old").unwrap();
    let agent_daemon = spawn_agent(
        &master,
        port,
        &dir.join("agent"),
        &[
            "--fetcher_cache_size=300B",
            &format!("--fetcher_cache_dir={}", cache.display()),
        ],
    );
    support::registered_agent_state(&agent).await;
    assert!(
        !cache.join("someone").exists(),
        "the cache directory is cleared at start"
    );
    let framework = TestFramework::subscribe(&master, "fetcher-cache", false).await;
    let mut cluster = Cluster {
        framework,
        server,
        counts,
        agent,
        _daemons: vec![master_daemon, agent_daemon],
    };

    // Two tasks fetching one URI at the same time: one download, both get the file.
    cluster
        .run(&[("a1", "a.bin"), ("a2", "a.bin")], &contents)
        .await;
    assert_eq!(
        gets(&cluster.counts, "/a.bin"),
        1,
        "one download for two tasks"
    );
    assert_eq!(
        cluster
            .metric("containerizer/fetcher/task_fetches_succeeded")
            .await,
        2.0
    );

    // Fill the cache (300 bytes: a, b, c), then use `a` again: `b` is least recently used.
    // One after the other: the order of use decides the eviction order below.
    cluster.run(&[("b1", "b.bin")], &contents).await;
    cluster.run(&[("c1", "c.bin")], &contents).await;
    cluster.run(&[("a3", "a.bin")], &contents).await;
    assert_eq!(gets(&cluster.counts, "/a.bin"), 1, "a cache hit");
    assert_eq!(
        cluster
            .metric("containerizer/fetcher/cache_size_used_bytes")
            .await,
        300.0
    );
    // `d` needs room: `b` goes, `a` and `c` stay.
    cluster.run(&[("d1", "d.bin")], &contents).await;
    let files: Vec<String> = cached(&cache).into_keys().collect();
    assert_eq!(files, ["a.bin", "c.bin", "d.bin"], "b is evicted first");
    cluster.run(&[("c2", "c.bin")], &contents).await;
    assert_eq!(gets(&cluster.counts, "/c.bin"), 1);

    // Larger than the whole cache: fetched directly each time, nothing evicted for it.
    cluster.run(&[("big1", "big.bin")], &contents).await;
    cluster.run(&[("big2", "big.bin")], &contents).await;
    assert_eq!(gets(&cluster.counts, "/big.bin"), 2);
    let files: Vec<String> = cached(&cache).into_keys().collect();
    assert_eq!(files, ["a.bin", "c.bin", "d.bin"]);

    // Altered behind the agent's back (same size, other bytes): the fetcher's digest check
    // catches it, the task still gets the real file, the entry is dropped.
    let a = cached(&cache)["a.bin"].clone();
    std::fs::write(&a, body("evil", 100)).unwrap();
    cluster.run(&[("a4", "a.bin")], &contents).await;
    assert_eq!(
        gets(&cluster.counts, "/a.bin"),
        2,
        "a corrupt file is fetched again"
    );
    assert!(!a.exists(), "the corrupt cache file is removed");
    // Downloaded into the cache anew on the next use, then truncated: the agent's size
    // check drops it before the fetch and downloads again.
    cluster.run(&[("a5", "a.bin")], &contents).await;
    assert_eq!(gets(&cluster.counts, "/a.bin"), 3);
    let a = cached(&cache)["a.bin"].clone();
    std::fs::write(&a, b"aaaa").unwrap();
    cluster.run(&[("a6", "a.bin")], &contents).await;
    assert_eq!(
        gets(&cluster.counts, "/a.bin"),
        4,
        "a truncated file is fetched again"
    );
    let again = cached(&cache)["a.bin"].clone();
    assert_ne!(again, a, "a new cache file");
    assert_eq!(std::fs::read(&again).unwrap(), contents["/a.bin"]);
    // The cache's accounting matches what is on disk.
    let on_disk: u64 = cached(&cache)
        .values()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(
        cluster
            .metric("containerizer/fetcher/cache_size_used_bytes")
            .await,
        on_disk as f64
    );
    assert_eq!(
        cluster
            .metric("containerizer/fetcher/task_fetches_failed")
            .await,
        0.0
    );
}

// ----- hdfs:// through the Hadoop client (--hadoop_home) -----

/// A Java process (NameNode, DataNode), SIGKILLed when dropped.
struct Jvm(std::process::Child);

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Hadoop home for the test: the repository's `hadoop-plugin/dist/bin/hadoop` and the jars
/// of the home tests/run.sh assembles (`REMESOS_HADOOP_HOME`, else
/// `.cache/hadoop/hadoop-1.2.1`; `bash hadoop-plugin/dist/assemble.sh <dir>` makes one).
fn hadoop_home(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let assembled = std::env::var_os("REMESOS_HADOOP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join(".cache/hadoop/hadoop-1.2.1"));
    assert!(
        assembled.join("lib/hadoop-core-1.2.1.jar").exists(),
        "this test needs Hadoop 1.2.1's jars at {}/lib: assemble them with \
         `bash hadoop-plugin/dist/assemble.sh {}` (tests/run.sh does) or set REMESOS_HADOOP_HOME",
        assembled.display(),
        assembled.display()
    );
    let home = dir.join("hadoop");
    std::fs::create_dir_all(home.join("bin")).unwrap();
    std::fs::create_dir_all(home.join("conf")).unwrap();
    std::fs::copy(
        repo.join("hadoop-plugin/dist/bin/hadoop"),
        home.join("bin/hadoop"),
    )
    .unwrap();
    std::os::unix::fs::symlink(assembled.join("lib"), home.join("lib")).unwrap();
    home
}

/// `bin/hadoop <args>` with the test's configuration; panics with its output on failure.
fn hadoop(home: &Path, env: &[(&str, PathBuf)], args: &[&str]) -> String {
    let out = std::process::Command::new(home.join("bin/hadoop"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "hadoop {args:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdfs_uris_are_fetched_with_the_hadoop_client_of_hadoop_home() {
    let dir = temp_dir("fetcher-hdfs");
    let java = java_home();
    let home = hadoop_home(&dir);
    // A single-node HDFS (NameNode + DataNode) on loopback ports, with its own configuration.
    let conf = dir.join("hdfs-conf");
    std::fs::create_dir_all(&conf).unwrap();
    let namenode = format!("hdfs://127.0.0.1:{}", free_port());
    let property = |name: &str, value: &str| {
        format!("<property><name>{name}</name><value>{value}</value></property>\n")
    };
    let site = |properties: String| {
        format!("<?xml version=\"1.0\"?>\n<configuration>\n{properties}</configuration>\n")
    };
    std::fs::write(
        conf.join("core-site.xml"),
        site(
            property("fs.default.name", &namenode)
                + &property("hadoop.tmp.dir", dir.join("hdfs-tmp").to_str().unwrap()),
        ),
    )
    .unwrap();
    let address = |_| format!("127.0.0.1:{}", free_port());
    std::fs::write(
        conf.join("hdfs-site.xml"),
        site(
            property("dfs.name.dir", dir.join("hdfs/name").to_str().unwrap())
                + &property("dfs.data.dir", dir.join("hdfs/data").to_str().unwrap())
                + &property("dfs.replication", "1")
                + &property("dfs.http.address", &address(()))
                + &property("dfs.datanode.address", &address(()))
                + &property("dfs.datanode.http.address", &address(()))
                + &property("dfs.datanode.ipc.address", &address(())),
        ),
    )
    .unwrap();
    let env = [
        ("JAVA_HOME", java.clone()),
        ("HADOOP_CONF_DIR", conf.clone()),
        ("HADOOP_LOG_DIR", dir.join("hdfs-logs")),
        ("HADOOP_HEAPSIZE", PathBuf::from("256")),
    ];
    hadoop(&home, &env, &["namenode", "-format"]);
    let daemon = |role: &str| {
        Jvm(std::process::Command::new(home.join("bin/hadoop"))
            .arg(role)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(dir.join(format!("{role}.log"))).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap())
    };
    let _namenode = daemon("namenode");
    let _datanode = daemon("datanode");

    // Files in HDFS: a plain file and a tarball. `-put` is retried until the DataNode has
    // registered (the NameNode refuses writes until then).
    let payload = dir.join("p.txt");
    std::fs::write(&payload, "hello-from-hdfs\n").unwrap();
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("inside.txt"), "inside\n").unwrap();
    let tarball = dir.join("bundle.tar.gz");
    let tar = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir)
        .arg("bundle")
        .status()
        .unwrap();
    assert!(tar.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        // Several sources need their directory (Hadoop 1's `-put` does not make it).
        let _ = std::process::Command::new(home.join("bin/hadoop"))
            .args(["fs", "-mkdir", &format!("{namenode}/data")])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .output();
        let put = std::process::Command::new(home.join("bin/hadoop"))
            .args(["fs", "-put"])
            .arg(&payload)
            .arg(&tarball)
            .arg(format!("{namenode}/data/"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        if put.status.success() {
            break;
        }
        let _ = std::process::Command::new(home.join("bin/hadoop"))
            .args(["fs", "-rmr", &format!("{namenode}/data")])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output();
        assert!(
            std::time::Instant::now() < deadline,
            "HDFS did not take the files: {}\n{}",
            String::from_utf8_lossy(&put.stderr),
            std::fs::read_to_string(dir.join("namenode.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The agent knows the client only through --hadoop_home; its environment has JAVA_HOME
    // (the client is a JVM) and no Hadoop configuration: the URIs name their NameNode.
    let (_master, master) = spawn_master(&dir).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let cache = dir.join("cache");
    let _agent = support::spawn_agent_env(
        &master,
        port,
        &dir.join("agent"),
        &[
            format!("--hadoop_home={}", home.display()),
            format!("--fetcher_cache_dir={}", cache.display()),
        ],
        None,
        &[("JAVA_HOME".to_string(), java.display().to_string())],
    );
    support::registered_agent_state(&agent).await;
    let mut framework = TestFramework::subscribe(&master, "fetcher-hdfs", false).await;
    let tasks = [
        Task {
            id: "plain".into(),
            uri: format!("{namenode}/data/p.txt"),
            cache: true,
            extract: false,
            check: "test \"$(cat p.txt)\" = hello-from-hdfs".into(),
        },
        Task {
            id: "tarball".into(),
            uri: format!("{namenode}/data/bundle.tar.gz"),
            cache: false,
            extract: true,
            check: "test \"$(cat bundle/inside.txt)\" = inside && ! ls -a | grep -q '^.hadoop-'"
                .into(),
        },
        Task {
            id: "missing".into(),
            uri: format!("{namenode}/data/missing.txt"),
            cache: false,
            extract: false,
            check: "true".into(),
        },
    ];
    let ends = run_tasks(&mut framework, &tasks).await;
    for id in ["plain", "tarball"] {
        assert_eq!(
            ends[id].state,
            TaskState::TaskFinished as i32,
            "{id}: {:?}",
            ends[id]
        );
    }
    let missing = &ends["missing"];
    assert_eq!(missing.state, TaskState::TaskFailed as i32, "{missing:?}");
    let message = missing.message.clone().unwrap_or_default();
    assert!(
        message.starts_with(&format!("Failed to fetch '{namenode}/data/missing.txt'"))
            && message.contains("HDFS copyToLocal failed"),
        "{message}"
    );
    // The cached one went through `hadoop fs -du` and is in the cache with its size.
    let files = cached(&cache);
    assert_eq!(
        std::fs::read(&files["p.txt"]).unwrap(),
        b"hello-from-hdfs\n",
        "{files:?}"
    );
    let http = remesos::client::HttpClient::default();
    let (_, body) = http
        .get(&format!("http://{agent}/metrics/snapshot"))
        .await
        .unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(metrics["containerizer/fetcher/cache_size_used_bytes"], 16.0);
}
