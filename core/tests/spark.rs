//! Spark on remesos, end to end, with real Spark from PyPI and a real JVM (issue 5).
//!
//! - Spark 3.5.3 (`pip install pyspark==3.5.3`), unmodified, through its built-in Mesos
//!   backend: `--master mesos://127.0.0.1:<port>` with `MESOS_NATIVE_JAVA_LIBRARY` naming our
//!   `libmesos.so` (jni-driver). Executors are Mesos command tasks on the agents. Also
//!   `--master mesos://zk://...` with masters elected through a real ZooKeeper
//!   (`support/zookeeper.rs`), including a leading master killed mid-job.
//! - Spark 4.0.0 (`pip install pyspark==4.0.0`, no Mesos code) through `spark-plugin/`:
//!   `--master spark-mesos://...` with spark-submit, `mesos://...` for a SparkContext built
//!   directly; and the same plugin jar on the newest Spark 4 release (`pyspark==4.3.0`).
//!
//! Each test starts its own small cluster (`remesos master` and `remesos agent` processes,
//! so agents can differ in attributes and addresses; a second is nothing next to a JVM) and
//! the tests run one at a time: one Spark application on the machine at once, JVMs at
//! 512 MiB. `tests/spark/setup.sh` (run by tests/run.sh before these tests) installs pyspark into
//! `.venv-spark35`/`.venv-spark4`/`.venv-spark4-newest`, builds the Spark tarball served as
//! `spark.executor.uri`, compiles the JVM SparkPi and builds the plugin.
//!
//! These tests need the JNI library: they fail, saying so, when `libmesos.so` is missing or
//! does not export the `MesosSchedulerDriver` natives (set `REMESOS_LIBMESOS` to use another
//! build than `target/release/libmesos.so`).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::pki::Pki;
use support::zookeeper::ZooKeeper;
#[path = "support/images.rs"]
mod images;

// ---------------------------------------------------------------------------------------
// Environment: pyspark installs, artifacts, libmesos.so

struct SparkEnv {
    root: PathBuf,
    home35: PathBuf,
    python35: PathBuf,
    home4: PathBuf,
    python4: PathBuf,
    /// The newest Spark 4 release (tests/spark/setup.sh says which).
    home4_newest: PathBuf,
    python4_newest: PathBuf,
    /// Directory with the Spark tarball and the JVM SparkPi jar (served over HTTP).
    cache: PathBuf,
    tarball: String,
    sparkpi_jar: PathBuf,
    plugin_jar: Option<PathBuf>,
    libmesos: PathBuf,
}

/// One Spark application on the machine at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn spark_env() -> &'static SparkEnv {
    static ENV: OnceLock<Result<SparkEnv, String>> = OnceLock::new();
    match ENV.get_or_init(prepare) {
        Ok(env) => env,
        Err(e) => panic!("{e}"),
    }
}

/// The JNI library these tests run Spark against: `REMESOS_LIBMESOS`, else the
/// `libmesos.so` cargo builds beside this test binary's profile directory.
fn libmesos() -> Result<PathBuf, String> {
    let path = match std::env::var_os("REMESOS_LIBMESOS") {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            // target/release/deps/spark-<hash> -> target/release/libmesos.so
            exe.parent()
                .and_then(Path::parent)
                .map(|d| d.join("libmesos.so"))
                .ok_or("cannot locate the target directory")?
        }
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "libmesos.so is missing ({}: {e}). Spark reaches remesos only through the JNI \
             library (issue 4): build it with `cargo build --release -p remesos-jni`, or set \
             REMESOS_LIBMESOS to a built libmesos.so",
            path.display()
        )
    })?;
    for symbol in [
        "Java_org_apache_mesos_MesosSchedulerDriver_initialize",
        "Java_org_apache_mesos_MesosSchedulerDriver_start",
        "Java_org_apache_mesos_MesosSchedulerDriver_join",
        "Java_org_apache_mesos_MesosSchedulerDriver_declineOffer",
    ] {
        if !contains(&bytes, symbol.as_bytes()) {
            return Err(format!(
                "{} is not usable by Spark: it does not export {symbol} (the JNI driver of \
                 issue 4 is not built into it yet)",
                path.display()
            ));
        }
    }
    Ok(path)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn prepare() -> Result<SparkEnv, String> {
    // Check the library first: without it nothing below can pass, and the setup is slow.
    let libmesos = libmesos()?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no repository root")?
        .to_path_buf();
    // Tests build nothing: tests/run.sh runs tests/spark/setup.sh before the end-to-end tier.
    let cache = root.join(".cache/spark");
    for made in [
        cache.join("remesos-sparkpi.jar"),
        cache.join("spark-3.5.3-bin-remesos.tgz"),
    ] {
        if !made.exists() {
            return Err(format!(
                "{} is missing: run `bash tests/spark/setup.sh` first (tests/run.sh does)",
                made.display()
            ));
        }
    }
    let home = |venv: &str| -> Result<(PathBuf, PathBuf), String> {
        let python = root.join(venv).join("bin/python");
        let out = Command::new(&python)
            .args([
                "-c",
                "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
            ])
            .output()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        let home = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if home.is_empty() {
            return Err(format!(
                "pyspark is not installed in {venv}: run `bash tests/spark/setup.sh` (tests/run.sh does)"
            ));
        }
        Ok((PathBuf::from(home), python))
    };
    let (home35, python35) = home(".venv-spark35")?;
    let (home4, python4) = home(".venv-spark4")?;
    let (home4_newest, python4_newest) = home(".venv-spark4-newest")?;
    let plugin_jar = std::fs::read_dir(root.join("spark-plugin/target"))
        .ok()
        .and_then(|dir| {
            dir.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.starts_with("remesos-spark-plugin-")
                    && name.ends_with(".jar")
                    && !name.contains("original")
            })
        });
    Ok(SparkEnv {
        sparkpi_jar: cache.join("remesos-sparkpi.jar"),
        tarball: "spark-3.5.3-bin-remesos.tgz".into(),
        cache,
        root,
        home35,
        python35,
        home4,
        python4,
        home4_newest,
        python4_newest,
        plugin_jar,
        libmesos,
    })
}

// ---------------------------------------------------------------------------------------
// A cluster of `remesos master` + `remesos agent` processes

struct AgentSpec {
    ip: &'static str,
    resources: &'static str,
    attributes: Option<&'static str>,
    /// More agent flags (the containerizers, image settings).
    flags: Vec<String>,
}

fn agent(ip: &'static str, resources: &'static str) -> AgentSpec {
    AgentSpec {
        ip,
        resources,
        attributes: None,
        flags: Vec::new(),
    }
}

struct Cluster {
    master: String,
    procs: Vec<Child>,
    work_dir: PathBuf,
    /// A TLS cluster's certificates (its daemons serve https only); `None`: plain HTTP.
    tls: Option<Pki>,
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_cluster(agents: &[AgentSpec]) -> Cluster {
    start_cluster_with(agents, |_| Vec::new())
}

/// [`start_cluster`] with master flags made from the cluster's work directory.
fn start_cluster_with(agents: &[AgentSpec], flags: impl FnOnce(&Path) -> Vec<String>) -> Cluster {
    start_cluster_on(agents, flags, None)
}

/// [`start_cluster_with`], over TLS with `tls`'s certificates when given: the master and
/// the agents get libprocess's variables (`LIBPROCESS_SSL_*`, the daemon certificate,
/// server certificates verified, no plain port); executors inherit the agents'.
fn start_cluster_on(
    agents: &[AgentSpec],
    flags: impl FnOnce(&Path) -> Vec<String>,
    tls: Option<Pki>,
) -> Cluster {
    let port = free_port("127.0.0.1");
    let work_dir = cluster_dir(port);
    let master = format!("127.0.0.1:{port}");
    let extra = flags(&work_dir);
    let env = tls.as_ref().map_or_else(Vec::new, |pki| {
        pki.env("daemon", &[("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true")])
    });
    let mut procs = vec![spawn_master_env(&work_dir, port, &extra, &env)];
    procs.extend(spawn_agents_env(&work_dir, &master, agents, &env));
    let cluster = Cluster {
        master,
        procs,
        work_dir,
        tls,
    };
    cluster.wait_agents(agents.len());
    cluster
}

/// Master flags that authenticate every framework (`--authenticate_frameworks` for the
/// drivers, `--authenticate_http_frameworks` for HTTP ones) against `credentials` (Mesos's
/// JSON), written into `dir`.
fn authenticating_frameworks(dir: &Path, credentials: &str) -> Vec<String> {
    let path = dir.join("credentials.json");
    std::fs::write(&path, credentials).unwrap();
    vec![
        "--authenticate_frameworks".into(),
        "--authenticate_http_frameworks".into(),
        "--http_framework_authenticators=basic".into(),
        format!("--credentials={}", path.display()),
    ]
}

fn cluster_dir(port: u16) -> PathBuf {
    let work_dir = std::env::temp_dir().join(format!("remesos-spark-{port}"));
    let _ = std::fs::remove_dir_all(&work_dir);
    std::fs::create_dir_all(&work_dir).unwrap();
    work_dir
}

fn log_file(work_dir: &Path, name: &str) -> std::fs::File {
    std::fs::File::create(work_dir.join(name)).unwrap()
}

/// REMESOS_BIN runs the tests against another build of the binary.
fn remesos_bin() -> String {
    std::env::var("REMESOS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_remesos").into())
}

fn spawn_master(work_dir: &Path, port: u16, extra: &[String]) -> Child {
    spawn_master_env(work_dir, port, extra, &[])
}

fn spawn_master_env(
    work_dir: &Path,
    port: u16,
    extra: &[String],
    env: &[(String, String)],
) -> Child {
    let log = format!("master-{port}.log");
    Command::new(remesos_bin())
        .envs(env.iter().cloned())
        .args(["master", "--ip=127.0.0.1", "--hostname=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!(
            "--work_dir={}",
            work_dir.join(format!("master-{port}")).display()
        ))
        .args(["--allocation_interval=100ms", "--logging_level=WARNING"])
        .args(extra)
        .stdout(log_file(work_dir, &log))
        .stderr(log_file(work_dir, &log))
        .spawn()
        .expect("start remesos master")
}

/// `master` is what the agents get as `--master`: `host:port` or `zk://...`.
fn spawn_agents(work_dir: &Path, master: &str, agents: &[AgentSpec]) -> Vec<Child> {
    spawn_agents_env(work_dir, master, agents, &[])
}

fn spawn_agents_env(
    work_dir: &Path,
    master: &str,
    agents: &[AgentSpec],
    tls_env: &[(String, String)],
) -> Vec<Child> {
    let env = spark_env();
    let bin = remesos_bin();
    let mut procs = vec![];
    for (i, a) in agents.iter().enumerate() {
        let mut cmd = Command::new(&bin);
        cmd.arg("agent")
            .envs(tls_env.iter().cloned())
            .arg(format!("--master={master}"))
            .arg(format!("--ip={}", a.ip))
            .arg(format!("--hostname={}", a.ip))
            .arg(format!("--port={}", free_port(a.ip)))
            .arg(format!(
                "--work_dir={}",
                work_dir.join(format!("agent-{i}")).display()
            ))
            .arg(format!("--resources={}", a.resources))
            .arg(format!("--native_library={}", env.libmesos.display()))
            .arg("--logging_level=WARNING")
            .stdout(log_file(work_dir, &format!("agent-{i}.log")))
            .stderr(log_file(work_dir, &format!("agent-{i}.log")));
        if master.starts_with("zk://") {
            cmd.args([
                "--zk_session_timeout=2secs",
                "--registration_backoff_factor=100ms",
            ]);
        }
        if let Some(attrs) = a.attributes {
            cmd.arg(format!("--attributes={attrs}"));
        }
        cmd.args(&a.flags);
        procs.push(cmd.spawn().expect("start remesos agent"));
    }
    procs
}

/// A cluster whose masters are elected through ZooKeeper: `masters` processes with
/// `--zk=<zk_url>`, agents with `--master=<zk_url>`. `Cluster::master` is the elected leader;
/// `procs[..masters]` are the masters, in the order of the returned addresses.
fn start_zk_cluster(zk_url: &str, masters: usize, agents: &[AgentSpec]) -> (Cluster, Vec<String>) {
    let ports: Vec<u16> = (0..masters).map(|_| free_port("127.0.0.1")).collect();
    let work_dir = cluster_dir(ports[0]);
    let flags = [
        format!("--zk={zk_url}"),
        "--zk_session_timeout=2secs".to_string(),
        format!("--quorum={}", masters / 2 + 1),
    ];
    let mut procs: Vec<Child> = ports
        .iter()
        .map(|p| spawn_master(&work_dir, *p, &flags))
        .collect();
    procs.extend(spawn_agents(&work_dir, zk_url, agents));
    let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut cluster = Cluster {
        master: String::new(),
        procs,
        work_dir,
        tls: None,
    };
    cluster.master = cluster.wait_leader(&addresses, None, Duration::from_secs(30));
    cluster.wait_agents(agents.len());
    (cluster, addresses)
}

impl Cluster {
    fn wait_agents(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(state) = self.try_state()
                && state["slaves"].as_array().map_or(0, Vec::len) == n
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not come up; logs in {}",
                self.work_dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The one master of `masters` (other than `not`) that answers /master/state itself: a
    /// standby answers 307 to the leader (or 503 while there is none), which `http_get`
    /// takes as an error. Exactly one may answer 200.
    fn wait_leader(&self, masters: &[String], not: Option<&str>, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let leading: Vec<&String> = masters
                .iter()
                .filter(|m| Some(m.as_str()) != not)
                .filter(|m| http_get(m, "/master/state").is_ok())
                .collect();
            assert!(leading.len() <= 1, "two leading masters: {leading:?}");
            if let Some(leader) = leading.first() {
                return leader.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no master was elected\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_state(&self) -> Option<Value> {
        let body = match &self.tls {
            None => http_get(&self.master, "/master/state").ok()?,
            Some(pki) => {
                let out = Command::new("curl")
                    .args(["-sS", "--fail", "--max-time", "10", "--cacert"])
                    .arg(pki.path("ca.pem"))
                    .arg(format!("https://{}/master/state", self.master))
                    .output()
                    .ok()?;
                out.status.success().then_some(out.stdout)?
            }
        };
        serde_json::from_slice(&body).ok()
    }

    fn state(&self) -> Value {
        self.try_state().expect("GET /master/state")
    }

    /// The framework named `name` (active or completed) in /master/state.
    fn framework(&self, name: &str) -> Option<(Value, bool)> {
        let state = self.state();
        for (key, active) in [("frameworks", true), ("completed_frameworks", false)] {
            if let Some(fw) = state[key]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["name"] == name)
            {
                return Some((fw.clone(), active));
            }
        }
        None
    }

    /// Processes whose working directory is inside this cluster's work dir: executors and
    /// the Spark JVMs they started. Used to find an executor to kill and, on drop, to make
    /// sure nothing this test started outlives it.
    fn sandbox_processes(&self) -> Vec<(i32, String, PathBuf)> {
        let mut found = vec![];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
                continue;
            };
            if cwd.starts_with(&self.work_dir) {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                let exe = std::fs::read_link(entry.path().join("exe")).unwrap_or_default();
                found.push((pid, cmdline, exe));
            }
        }
        found
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(&self.work_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let tail: String = text
                    .lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                out.push_str(&format!("--- {}\n{tail}\n", p.display()));
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Agents first (SIGTERM: they kill their executors), then the master.
        for child in self.procs.iter().rev() {
            // SAFETY: kill(2) on a child of this process.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for child in self.procs.iter_mut() {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Whatever this test's executors started and left behind (by pid, never by name).
        for (pid, _, _) in self.sandbox_processes() {
            // SAFETY: kill(2) on a process running in this test's sandboxes.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "cluster logs and sandboxes kept in {}",
                self.work_dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
    }
}

/// GET over plain HTTP/1.0 (the body ends at close; no chunking).
fn http_get(address: &str, path: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut response = vec![];
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(std::io::Error::other(head));
    }
    Ok(response[split + 4..].to_vec())
}

// ---------------------------------------------------------------------------------------
// Processes: a static file server, Spark drivers, daemons

/// `python3 -m http.server` over `dir`: how the tests serve the Spark tarball, jars and files.
struct FileServer {
    child: Child,
    url: String,
}

impl FileServer {
    fn start(dir: &Path) -> FileServer {
        let port = free_port("127.0.0.1");
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(Instant::now() < deadline, "the file server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        FileServer {
            child,
            url: format!("http://{address}"),
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JVM (or script starting one) in its own process group, output in files.
struct Proc {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Proc {
    fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Proc {
        std::fs::create_dir_all(dir).unwrap();
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.log"));
        let child = cmd
            .current_dir(dir)
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Proc {
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for exit; kills the process group after `timeout`.
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.kill();
        None
    }

    fn kill(&mut self) {
        // SAFETY: kill(2) on the process group this test created.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    /// The last lines of stderr, for assertion messages.
    fn tail(&self) -> String {
        let err = self.stderr();
        let lines: Vec<&str> = err.lines().collect();
        let from = lines.len().saturating_sub(60);
        format!(
            "stdout:\n{}\nstderr (last 60 lines of {}):\n{}",
            self.stdout(),
            self.stderr.display(),
            lines[from..].join("\n")
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            self.kill();
        }
    }
}

#[derive(Clone, Copy)]
enum Spark {
    V35,
    V4,
    /// The newest Spark 4 release on PyPI, running the plugin built against 4.0.
    V4Newest,
}

/// `spark-submit` of the chosen pyspark with the driver settings every test shares: the
/// driver on 127.0.0.1 (executors dial it), small JVMs, no UI.
/// spark-submit of Spark 3.5 to `master` with its executors from `spark.mesos.executor.home`
/// (the pip-installed Spark): what every Spark 3.5 client-mode test here starts with.
fn submit35(cluster: &Cluster, name: &str, master: &str, args: &[&str]) -> Proc {
    let executor_home = format!("spark.mesos.executor.home={}", spark_env().home35.display());
    let mut all = vec!["--master", master, "--conf", &executor_home];
    all.extend_from_slice(args);
    spark_submit(Spark::V35, cluster, name, &all)
}

/// SparkPi (the JVM one, 20 slices) on two one-core executors, the job held until both
/// registered (Spark's default ratio 0 starts with the first; a slow JVM start then ran it
/// alone, and "executors: 2" below would fail).
fn submit_sparkpi(cluster: &Cluster, name: &str, master: &str, conf: &[&str]) -> Proc {
    let jar = spark_env().sparkpi_jar.display().to_string();
    let mut args = vec![
        "--conf",
        "spark.cores.max=2",
        "--conf",
        "spark.executor.cores=1",
        "--conf",
        "spark.scheduler.minRegisteredResourcesRatio=1.0",
        "--conf",
        "spark.scheduler.maxRegisteredResourcesWaitingTime=180s",
    ];
    args.extend_from_slice(conf);
    args.extend_from_slice(&["--class", "RemesosSparkPi", &jar, "20"]);
    submit35(cluster, name, master, &args)
}

/// Waits for a `submit_sparkpi` job: it succeeds with pi to two decimals, computed on both
/// executors. Returns the framework as `/master/state` showed it while the job ran.
fn assert_sparkpi(cluster: &Cluster, driver: &mut Proc) -> Value {
    let running = watch_framework(cluster, driver, "RemesosSparkPi", Duration::from_secs(240));
    assert_succeeds(driver, cluster, Duration::from_secs(1), "SparkPi failed");
    let out = driver.stdout();
    let pi = pi_estimate(&out);
    assert!((pi - std::f64::consts::PI).abs() < 0.01, "{out}");
    assert!(out.contains("executors: 2"), "{out}");
    running
}

fn spark_submit(version: Spark, cluster: &Cluster, name: &str, args: &[&str]) -> Proc {
    let env = spark_env();
    let (home, python) = match version {
        Spark::V35 => (&env.home35, &env.python35),
        Spark::V4 => (&env.home4, &env.python4),
        Spark::V4Newest => (&env.home4_newest, &env.python4_newest),
    };
    let mut cmd = Command::new(home.join("bin/spark-submit"));
    spark_env_vars(&mut cmd, home, python);
    cmd.args([
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.driver.memory=512m",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.executor.memory=512m",
        "--conf",
        &format!("spark.pyspark.python={}", python.display()),
    ]);
    cmd.args(args);
    Proc::spawn(cmd, &cluster.work_dir.join("drivers"), name)
}

fn spark_env_vars(cmd: &mut Command, home: &Path, python: &Path) {
    for (k, _) in std::env::vars() {
        if k.starts_with("SPARK_") || k.starts_with("PYSPARK_") || k == "MASTER" {
            cmd.env_remove(k);
        }
    }
    cmd.env("SPARK_HOME", home)
        .env("PYSPARK_PYTHON", python)
        .env("PYSPARK_DRIVER_PYTHON", python)
        .env("MESOS_NATIVE_JAVA_LIBRARY", &spark_env().libmesos)
        .env("SPARK_LOCAL_IP", "127.0.0.1");
}

fn job(name: &str) -> String {
    spark_env()
        .root
        .join("tests/spark/jobs")
        .join(name)
        .display()
        .to_string()
}

/// The JSON after "RESULT " in a job's stdout.
fn result(driver: &Proc) -> Value {
    let out = driver.stdout();
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line\n{}", driver.tail()));
    serde_json::from_str(line).unwrap()
}

/// Polls /master/state while `driver` runs; returns the framework named `name` as last seen
/// while active, with the most tasks (the running executors).
/// Waits up to `within` for the driver to exit and asserts it succeeded (`what` failed
/// otherwise, with the driver's and the cluster's logs).
fn assert_succeeds(driver: &mut Proc, cluster: &Cluster, within: Duration, what: &str) {
    assert!(
        driver.wait(within).is_some_and(|s| s.success()),
        "{what}\n{}\n{}",
        driver.tail(),
        cluster.logs()
    );
}

fn watch_framework(cluster: &Cluster, driver: &mut Proc, name: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    let mut seen = Value::Null;
    let mut most = 0;
    loop {
        if let Some((fw, true)) = cluster.framework(name) {
            let n = fw["tasks"].as_array().map_or(0, Vec::len);
            if n >= most {
                most = n;
                seen = fw;
            }
        }
        if driver.try_wait().is_some() {
            return seen;
        }
        if Instant::now() > deadline {
            driver.kill();
            panic!(
                "{name} did not finish in {timeout:?}\n{}\n{}",
                driver.tail(),
                cluster.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// After the application: its framework is completed (torn down) and every task it had ended.
fn assert_torn_down(cluster: &Cluster, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some((fw, false)) = cluster.framework(name) {
            let tasks = fw["tasks"].as_array().cloned().unwrap_or_default();
            let completed = fw["completed_tasks"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if tasks.is_empty() {
                for t in &completed {
                    let state = t["state"].as_str().unwrap_or_default();
                    assert!(
                        ["TASK_FINISHED", "TASK_KILLED", "TASK_FAILED", "TASK_LOST"]
                            .contains(&state),
                        "{t}"
                    );
                }
                return fw;
            }
        }
        assert!(
            Instant::now() < deadline,
            "framework {name} was not torn down: {:?}",
            cluster.framework(name)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn agent_of(task: &Value) -> String {
    task["slave_id"].as_str().unwrap_or_default().to_string()
}

fn attributes_by_agent(cluster: &Cluster) -> BTreeMap<String, Value> {
    cluster.state()["slaves"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["attributes"].clone(),
            )
        })
        .collect()
}

/// What tests/spark/jobs/wordcount.py must answer, computed here independently.
fn expected_wordcount(lines: u64) -> Value {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..lines {
        for j in 0..(i % 7 + 3) {
            *counts
                .entry(format!("w{}", (i * 31 + j * 17) % 1000))
                .or_default() += 1;
        }
    }
    let total: u64 = counts.values().sum();
    let mut top: Vec<(&String, &u64)> = counts.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut by_len: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    for (w, c) in &counts {
        let e = by_len.entry(w.len()).or_default();
        e.0 += c;
        e.1 += 1;
    }
    serde_json::json!({
        "total": total,
        "distinct": counts.len(),
        "top": top.iter().take(3).map(|(w, c)| serde_json::json!([w, c])).collect::<Vec<_>>(),
        "by_length": by_len.iter().map(|(l, (t, n))| serde_json::json!([l, t, n])).collect::<Vec<_>>(),
    })
}

fn assert_wordcount(got: &Value, lines: u64) {
    let want = expected_wordcount(lines);
    for key in ["total", "distinct", "top", "by_length"] {
        assert_eq!(got[key], want[key], "{key}: got {got}");
    }
}

fn pi_estimate(stdout: &str) -> f64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Pi is roughly "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------------------------------
// Spark 3.5, coarse-grained (the default)

/// SparkPi (JVM) through spark-submit, executors from `spark.mesos.executor.home` (Spark
/// present on the agents: the pip install). Sizing and placement keys are honoured:
/// `spark.cores.max=2` with `spark.executor.cores=1` gives two executors, each of
/// `spark.executor.memory` 512 MiB + 384 MiB overhead, placed only on the agents that satisfy
/// `spark.mesos.constraints` (zone a or b, not c), under `spark.mesos.role`. The framework
/// shows in /master/state with its tasks and is torn down at the end.
#[test]
fn spark35_sparkpi_with_executor_home_role_and_constraints() {
    let _serial = serial();
    let cluster = start_cluster(&[
        AgentSpec {
            attributes: Some("zone:a"),
            ..agent("127.0.0.1", "cpus:1;mem:1536")
        },
        AgentSpec {
            attributes: Some("zone:b"),
            ..agent("127.0.0.1", "cpus:1;mem:1536")
        },
        AgentSpec {
            attributes: Some("zone:c"),
            ..agent("127.0.0.1", "cpus:1;mem:1536")
        },
    ]);
    let master = format!("mesos://{}", cluster.master);
    let mut driver = submit_sparkpi(
        &cluster,
        "sparkpi",
        &master,
        &[
            "--conf",
            "spark.mesos.role=spark-e2e",
            "--conf",
            "spark.mesos.constraints=zone:a,b",
        ],
    );
    let running = assert_sparkpi(&cluster, &mut driver);

    // While it ran: a framework under the role, two executor tasks on zones a and b.
    assert_eq!(running["role"], "spark-e2e", "{running}");
    let tasks = running["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 2, "{running}");
    let attrs = attributes_by_agent(&cluster);
    let zones: BTreeSet<String> = tasks
        .iter()
        .map(|t| {
            attrs[&agent_of(t)]["zone"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    assert_eq!(zones, BTreeSet::from(["a".into(), "b".into()]), "{tasks:?}");
    for t in &tasks {
        assert_eq!(t["resources"]["cpus"], 1.0, "{t}");
        assert_eq!(t["resources"]["mem"], 896.0, "512m + 384m overhead: {t}");
    }
    assert_torn_down(&cluster, "RemesosSparkPi");
}

/// Spark's `spark.mesos.principal` with `spark.mesos.secret.file` (or `spark.mesos.secret`):
/// MesosSchedulerUtils builds a `Credential` and uses the 4-argument `MesosSchedulerDriver`
/// (reference/spark.md §1.2), which our libmesos.so presents as HTTP Basic. Against a master
/// that authenticates frameworks (`--authenticate_frameworks --authenticate_http_frameworks`,
/// Mesos's JSON `--credentials`), SparkPi runs under its principal; with a wrong secret the
/// driver's `error("Master refused authentication")` fails the SparkContext.
#[test]
fn spark35_authenticates_with_spark_mesos_principal_and_secret() {
    let _serial = serial();
    let cluster = start_cluster_with(&[agent("127.0.0.1", "cpus:2;mem:2048")], |dir| {
        authenticating_frameworks(
            dir,
            r#"{"credentials":[{"principal":"spark-e2e","secret":"spark-secret"}]}"#,
        )
    });
    let secret_file = cluster.work_dir.join("spark.secret");
    std::fs::write(&secret_file, "spark-secret").unwrap();
    let master = format!("mesos://{}", cluster.master);
    let secret_conf = format!("spark.mesos.secret.file={}", secret_file.display());
    let mut driver = submit_sparkpi(
        &cluster,
        "sparkpi-authenticated",
        &master,
        &[
            "--conf",
            "spark.mesos.principal=spark-e2e",
            "--conf",
            &secret_conf,
        ],
    );
    let running = assert_sparkpi(&cluster, &mut driver);
    assert_eq!(running["principal"], "spark-e2e", "{running}");
    assert_torn_down(&cluster, "RemesosSparkPi");

    let mut refused = submit_sparkpi(
        &cluster,
        "sparkpi-refused",
        &master,
        &[
            "--conf",
            "spark.mesos.principal=spark-e2e",
            "--conf",
            "spark.mesos.secret=wrong",
        ],
    );
    assert_refused_authentication(&mut refused);

    // No credential at all (no `spark.mesos.principal`): Spark builds the 3-argument
    // driver, which subscribes without credentials; the master refuses it (401), the
    // driver's `error` callback fails the SparkContext at once instead of the application
    // waiting for offers forever, and no framework registered.
    let mut anonymous = submit_sparkpi(&cluster, "sparkpi-anonymous", &master, &[]);
    assert_refused_authentication(&mut anonymous);
    let state = cluster.state();
    let apps = |key: &str| {
        state[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["name"] == "RemesosSparkPi")
            .count()
    };
    // Only the authenticated run, now completed, ever registered.
    assert_eq!(
        (apps("frameworks"), apps("completed_frameworks")),
        (0, 1),
        "{state}"
    );
}

/// The application failed within 120 s, Spark having logged the driver's `error` callback
/// for a master that refused it.
fn assert_refused_authentication(driver: &mut Proc) {
    let status = driver.wait(Duration::from_secs(120));
    assert!(
        status.is_some_and(|s| !s.success()),
        "a refused application must fail\n{}",
        driver.tail()
    );
    assert!(
        driver
            .stderr()
            .contains("Mesos error: Master refused authentication"),
        "{}",
        driver.tail()
    );
}

/// PySpark word count (a shuffle) and a DataFrame aggregation, executors from
/// `spark.executor.uri`: a Spark tarball served over HTTP, fetched and extracted by the agent
/// into each sandbox, which Spark enters with `cd spark-3*`. `spark.mesos.uris` puts another
/// file in every sandbox, which the tasks read. Both agents run an executor.
#[test]
fn spark35_pyspark_wordcount_with_executor_uri_and_mesos_uris() {
    let _serial = serial();
    let env = spark_env();
    let cluster = start_cluster(&[
        agent("127.0.0.1", "cpus:1;mem:1536"),
        agent("127.0.0.1", "cpus:1;mem:1536"),
    ]);
    let served = cluster.work_dir.join("served");
    std::fs::create_dir_all(&served).unwrap();
    std::os::unix::fs::symlink(env.cache.join(&env.tarball), served.join(&env.tarball)).unwrap();
    std::fs::write(served.join("extra.txt"), "fetched by the remesos agent\n").unwrap();
    let files = FileServer::start(&served);

    let master = format!("mesos://{}", cluster.master);
    let uri = format!("spark.executor.uri={}/{}", files.url, env.tarball);
    let uris = format!("spark.mesos.uris={}/extra.txt", files.url);
    let script = job("wordcount.py");
    let mut driver = spark_submit(
        Spark::V35,
        &cluster,
        "wordcount",
        &[
            "--master",
            &master,
            "--conf",
            &uri,
            "--conf",
            &uris,
            "--conf",
            "spark.cores.max=2",
            "--conf",
            "spark.executor.cores=1",
            &script,
            "--lines",
            "2000",
            "--partitions",
            "4",
            "--extra-file",
            "extra.txt",
        ],
    );
    let running = watch_framework(
        &cluster,
        &mut driver,
        "remesos-wordcount",
        Duration::from_secs(300),
    );
    assert_succeeds(
        &mut driver,
        &cluster,
        Duration::from_secs(1),
        "word count failed",
    );
    let got = result(&driver);
    assert_wordcount(&got, 2000);
    assert_eq!(got["agents"].as_array().map(Vec::len), Some(2), "{got}");
    assert_eq!(
        got["extra"],
        serde_json::json!(["fetched by the remesos agent"]),
        "{got}"
    );
    // Each executor ran from the tarball the fetcher extracted into its sandbox.
    for sandbox in got["sandboxes"].as_array().unwrap() {
        let sandbox = Path::new(sandbox.as_str().unwrap());
        assert!(
            sandbox
                .join("spark-3.5.3-bin-remesos/bin/spark-class")
                .exists(),
            "{}",
            sandbox.display()
        );
        assert!(sandbox.join("extra.txt").exists(), "{}", sandbox.display());
    }
    let agents: BTreeSet<String> = running["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(agent_of)
        .collect();
    assert_eq!(agents.len(), 2, "{running}");
    let fw = assert_torn_down(&cluster, "remesos-wordcount");
    assert_eq!(
        fw["id"], got["app_id"],
        "the Spark app id is the framework id"
    );
}

/// `spark.mesos.executor.docker.image` on an agent without the docker containerizer
/// (`--containerizers=mesos`, the default): Spark sends a DOCKER ContainerInfo, which the
/// agent refuses at once with TASK_FAILED instead of leaving it staged; Spark
/// sees the failures and, after two per agent, excludes the agent ("is Spark installed on
/// it?"). Spark 3.5 then keeps waiting for resources, as it does on Apache Mesos without the
/// docker containerizer, so the test stops the driver once it has seen that.
#[test]
fn spark35_docker_image_is_refused_not_left_hanging() {
    let _serial = serial();
    let env = spark_env();
    let cluster = start_cluster(&[agent("127.0.0.1", "cpus:2;mem:2048")]);
    let master = format!("mesos://{}", cluster.master);
    let jar = env.sparkpi_jar.display().to_string();
    let mut driver = submit35(
        &cluster,
        "docker",
        &master,
        &[
            "--conf",
            "spark.mesos.executor.docker.image=apache/spark:3.5.3",
            "--conf",
            "spark.cores.max=1",
            "--class",
            "RemesosSparkPi",
            &jar,
            "2",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    let excluded = loop {
        let log = driver.stderr();
        if log.contains("due to too many failures") {
            break log;
        }
        assert!(
            driver.try_wait().is_none(),
            "the driver ended before Spark saw the refusals\n{}",
            driver.tail()
        );
        assert!(
            Instant::now() < deadline,
            "Spark never saw the docker tasks fail\n{}\n{}",
            driver.tail(),
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(excluded.contains("is now TASK_FAILED"), "{}", driver.tail());
    let (fw, _) = cluster.framework("RemesosSparkPi").expect("framework");
    let failed: Vec<Value> = fw["completed_tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(failed.len() >= 2, "{fw}");
    for t in &failed {
        assert_eq!(t["state"], "TASK_FAILED", "{t}");
        assert_eq!(t["container"]["type"], "DOCKER", "{t}");
    }
    driver.kill();
}

// ---------------------------------------------------------------------------------------
// Spark 3.5 executors in a docker image, on both of Mesos's containerizers (issue 15 item 4)

/// The image the executors run in: busybox, bash and the shared libraries the host's JDK
/// needs, nothing else (tests/docker/build-jvm-image.sh; tests/run.sh builds it once, the
/// tests build it when it is missing). The JDK and Spark come in as read-only volumes.
const JVM_IMAGE: &str = "remesos-test-jvm:latest";

/// Where `spark.mesos.executor.home` points inside the image (Spark's volume lands there).
const SPARK_IN_IMAGE: &str = "/opt/spark";

/// The dockerd these tests use: `REMESOS_DOCKER_SOCKET`, else /var/run/docker.sock (where
/// tests/run.sh's e2e_prepare starts one).
fn docker_socket() -> String {
    std::env::var("REMESOS_DOCKER_SOCKET").unwrap_or_else(|_| "/var/run/docker.sock".into())
}

/// `docker -H unix://<socket> <args>`: its exit status and output.
fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{}", docker_socket()))
        .args(args)
        .output()
        .expect("the docker CLI runs (install docker.io)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The host's JDK (`JAVA_HOME`, else the `java` on PATH, symlinks resolved) and the
/// directories outside it that it needs: Debian's JDK keeps `lib/jvm.cfg` and
/// `conf/security/*` as links into /etc/java-<N>-openjdk, so that directory is mounted too.
fn host_jdk() -> (PathBuf, Vec<PathBuf>) {
    let java_home = match std::env::var_os("JAVA_HOME") {
        Some(home) => PathBuf::from(home).canonicalize().unwrap(),
        None => {
            let java = std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths)
                .map(|d| d.join("java"))
                .find(|p| p.exists())
                .expect("a JDK: `java` on PATH or JAVA_HOME");
            let java = java.canonicalize().unwrap();
            java.parent().and_then(Path::parent).unwrap().to_path_buf()
        }
    };
    let mut outside = vec![];
    if let Ok(target) = std::fs::read_link(java_home.join("lib/jvm.cfg"))
        && target.is_absolute()
        && let Some(dir) = target.parent()
        && !dir.starts_with(&java_home)
    {
        outside.push(dir.to_path_buf());
    }
    (java_home, outside)
}

/// Makes sure dockerd answers and [`JVM_IMAGE`] exists; then pushes it into `registry`
/// under `name` (the mesos containerizer pulls from there; the docker containerizer's
/// `forcePullImage` too). Fails, saying what is missing, without dockerd.
fn prepare_jvm_image(registry: &str, name: &str) {
    let (ok, out) = docker(&["version", "--format", "{{.Server.Version}}"]);
    assert!(
        ok,
        "these tests need dockerd on {} (tests/run.sh e2e_prepare starts it; \
         REMESOS_DOCKER_SOCKET names another): {out}",
        docker_socket()
    );
    let script = spark_env().root.join("tests/docker/build-jvm-image.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(docker_socket())
        .status()
        .unwrap();
    assert!(status.success(), "{} failed", script.display());
    let remote = format!("{registry}/{name}");
    for args in [vec!["tag", JVM_IMAGE, &remote], vec!["push", &remote]] {
        let (ok, out) = docker(&args);
        assert!(ok, "docker {args:?}: {out}");
    }
}

/// The Spark properties that put the executors in `image` on `containerizer` with the host's
/// JDK and Spark mounted read-only (the README's recipe): `spark.mesos.executor.home` names
/// where Spark is inside the image, `spark.executorEnv.JAVA_HOME` where the JDK is.
fn executors_in_image(containerizer: &str, image: &str) -> Vec<String> {
    let (jdk, outside) = host_jdk();
    let mut volumes = vec![format!("{0}:{0}:ro", jdk.display())];
    volumes.extend(outside.iter().map(|d| format!("{0}:{0}:ro", d.display())));
    volumes.push(format!(
        "{}:{SPARK_IN_IMAGE}:ro",
        spark_env().home35.display()
    ));
    [
        format!("spark.mesos.containerizer={containerizer}"),
        format!("spark.mesos.executor.docker.image={image}"),
        "spark.mesos.executor.docker.forcePullImage=true".into(),
        format!("spark.mesos.executor.docker.volumes={}", volumes.join(",")),
        format!("spark.mesos.executor.home={SPARK_IN_IMAGE}"),
        format!("spark.executorEnv.JAVA_HOME={}", jdk.display()),
    ]
    .into_iter()
    .flat_map(|c| ["--conf".to_string(), c])
    .collect()
}

/// A registry v2 on loopback for the image: tests/run.sh's (`REMESOS_REGISTRY`), else
/// Debian's docker-registry started here (support/images.rs) and stopped with the test.
fn image_registry(dir: &Path) -> images::Registry {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(images::Registry::start(dir))
}

/// A scratch directory, a registry in it (see [`image_registry`]) and [`JVM_IMAGE`] pushed
/// there under the name returned. Spark must not exist on the host where it is mounted in
/// the image, or the tests could not tell where the executors ran.
fn registry_with_jvm_image() -> (PathBuf, images::Registry, String) {
    assert!(
        !Path::new(SPARK_IN_IMAGE).exists(),
        "{SPARK_IN_IMAGE} exists on the host"
    );
    let work =
        std::env::temp_dir().join(format!("remesos-spark-registry-{}", free_port("127.0.0.1")));
    std::fs::create_dir_all(&work).unwrap();
    let registry = image_registry(&work);
    let name = registry.name(JVM_IMAGE);
    prepare_jvm_image(&registry.addr, &name);
    (work, registry, name)
}

/// Asserts what Spark sent for each executor, read back from /master/state while the job
/// ran: the container type, the image, the volumes read-only with their host paths.
fn assert_executor_containers(running: &Value, kind: &str, image: &str) -> Vec<Value> {
    let tasks = running["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 2, "{running}");
    for t in &tasks {
        let container = &t["container"];
        assert_eq!(container["type"], kind, "{t}");
        let volumes = container["volumes"].as_array().cloned().unwrap_or_default();
        assert!(
            volumes.iter().any(|v| v["container_path"] == SPARK_IN_IMAGE
                && v["mode"] == "RO"
                && v["host_path"] == spark_env().home35.display().to_string()),
            "{container}"
        );
        match kind {
            "DOCKER" => {
                assert_eq!(container["docker"]["image"], image, "{container}");
                assert_eq!(container["docker"]["force_pull_image"], true, "{container}");
            }
            _ => {
                let spec = &container["mesos"]["image"];
                assert_eq!(spec["type"], "DOCKER", "{container}");
                assert_eq!(spec["docker"]["name"], image, "{container}");
                assert_eq!(spec["cached"], false, "forcePullImage: {container}");
            }
        }
    }
    tasks
}

/// `spark.mesos.containerizer=docker` (Spark's MesosSchedulerBackendUtil.buildContainerInfo):
/// each executor is a DOCKER container of `spark.mesos.executor.docker.image`, pulled again
/// from the loopback registry (`forcePullImage`), with `spark.mesos.executor.docker.volumes`
/// bind-mounted read-only and `spark.mesos.executor.docker.parameters` passed to
/// `docker run` (a label, seen on both containers while the job runs). Spark exists only
/// inside the containers at `spark.mesos.executor.home`, so the job's right answer shows the
/// executors ran there. Afterwards no container is left.
#[test]
fn spark35_sparkpi_in_a_docker_image_on_the_docker_containerizer() {
    let _serial = serial();
    let (work, registry, name) = registry_with_jvm_image();
    let image = format!("{}/{name}", registry.addr);
    let label = format!("remesos-spark-test={}", free_port("127.0.0.1"));
    let mut containers_seen = BTreeSet::new();
    {
        let cluster = start_cluster(&[AgentSpec {
            flags: vec![
                "--containerizers=docker,mesos".into(),
                format!("--docker_socket={}", docker_socket()),
                "--docker_remove_delay=0ns".into(),
            ],
            ..agent("127.0.0.1", "cpus:2;mem:2048")
        }]);
        let master = format!("mesos://{}", cluster.master);
        let mut conf = executors_in_image("docker", &image);
        conf.extend([
            "--conf".into(),
            format!("spark.mesos.executor.docker.parameters=label={label}"),
        ]);
        let conf: Vec<&str> = conf.iter().map(String::as_str).collect();
        let mut driver = submit_sparkpi(&cluster, "sparkpi-docker", &master, &conf);
        // While the job runs: the labelled containers dockerd runs for it.
        let deadline = Instant::now() + Duration::from_secs(240);
        while driver.try_wait().is_none() && Instant::now() < deadline {
            let (_, out) = docker(&[
                "ps",
                "--filter",
                &format!("label={label}"),
                "--format",
                "{{.Names}} {{.Image}}",
            ]);
            containers_seen.extend(out.lines().map(str::to_string));
            if containers_seen.len() >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let running = assert_sparkpi(&cluster, &mut driver);
        assert_executor_containers(&running, "DOCKER", &image);
        let params = running["tasks"][0]["container"]["docker"]["parameters"].clone();
        assert_eq!(params[0]["key"], "label", "{running}");
        assert_torn_down(&cluster, "RemesosSparkPi");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (ok, out) = docker(&[
                "ps",
                "-a",
                "--filter",
                &format!("label={label}"),
                "--format",
                "{{.Names}}",
            ]);
            assert!(ok, "{out}");
            if out.trim().is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "containers left behind: {out}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    assert_eq!(containers_seen.len(), 2, "{containers_seen:?}");
    for c in &containers_seen {
        assert!(c.starts_with("mesos-") && c.ends_with(&image), "{c}");
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// `spark.mesos.containerizer=mesos`: each executor is a MESOS container with
/// `mesos.image` of type DOCKER (`cached: false` from `forcePullImage`), which the agent
/// pulls from the loopback registry (`--image_providers=docker --docker_registry`) and
/// provisions; the command executor runs on the host and Spark's `spark-class` inside the
/// image, with the volumes bound read-only (filesystem/linux). Afterwards nothing of the
/// containers stays mounted.
#[test]
fn spark35_sparkpi_in_a_docker_image_on_the_mesos_containerizer() {
    let _serial = serial();
    let (work, registry, name) = registry_with_jvm_image();
    {
        let cluster = start_cluster(&[AgentSpec {
            flags: vec![
                "--containerizers=mesos".into(),
                "--image_providers=docker".into(),
                format!("--docker_registry=http://{}", registry.addr),
                format!("--docker_store_dir={}", work.join("store").display()),
                "--isolation=filesystem/linux,docker/runtime".into(),
                "--launcher=linux".into(),
            ],
            ..agent("127.0.0.1", "cpus:2;mem:2048")
        }]);
        let master = format!("mesos://{}", cluster.master);
        let conf = executors_in_image("mesos", &name);
        let conf: Vec<&str> = conf.iter().map(String::as_str).collect();
        let mut driver = submit_sparkpi(&cluster, "sparkpi-mesos", &master, &conf);
        let running = assert_sparkpi(&cluster, &mut driver);
        assert_executor_containers(&running, "MESOS", &name);
        assert_torn_down(&cluster, "RemesosSparkPi");
        // The overlay rootfs is in the agent's mount namespace (under its work or store
        // directory), the volumes and the sandbox in the executors'.
        let places = [
            cluster.work_dir.display().to_string(),
            work.display().to_string(),
        ];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            let left: Vec<&str> = mounts
                .lines()
                .filter(|l| places.iter().any(|p| l.contains(p.as_str())))
                .collect();
            if left.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "mounts left behind: {left:#?}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// A Spark executor's JVM killed (SIGKILL) mid-job: its task ends TASK_FAILED, Spark removes
/// the executor, revives offers, launches a replacement, reruns the lost tasks, and the job's
/// answer is complete and right.
#[test]
fn spark35_killed_executor_is_replaced_and_the_job_completes() {
    let _serial = serial();
    let cluster = start_cluster(&[
        agent("127.0.0.1", "cpus:2;mem:2560"),
        agent("127.0.0.1", "cpus:2;mem:2560"),
    ]);
    let master = format!("mesos://{}", cluster.master);
    let script = job("slow.py");
    let mut driver = submit35(
        &cluster,
        "slow",
        &master,
        &[
            "--conf",
            "spark.cores.max=2",
            "--conf",
            "spark.executor.cores=1",
            &script,
            "--tasks",
            "40",
            "--seconds",
            "1",
        ],
    );
    // Wait for both executors to run work, then kill one of the executor JVMs.
    let deadline = Instant::now() + Duration::from_secs(180);
    let victim = loop {
        // The executor JVMs themselves (not the `sh -c` and spark-class around them).
        let executors: Vec<(i32, String, PathBuf)> = cluster
            .sandbox_processes()
            .into_iter()
            .filter(|(_, cmd, exe)| {
                cmd.contains("org.apache.spark.executor.CoarseGrainedExecutorBackend")
                    && exe.file_name().is_some_and(|f| f == "java")
            })
            .collect();
        if executors.len() == 2 && driver.stderr().contains("Starting task") {
            std::thread::sleep(Duration::from_secs(3));
            break executors[0].clone();
        }
        assert!(
            driver.try_wait().is_none() && Instant::now() < deadline,
            "the executors did not start\n{}\n{}",
            driver.tail(),
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    // SAFETY: kill(2) on an executor JVM this test's cluster started.
    unsafe {
        libc::kill(victim.0, libc::SIGKILL);
    }
    assert_succeeds(
        &mut driver,
        &cluster,
        Duration::from_secs(240),
        "the job did not survive the kill",
    );
    let got = result(&driver);
    assert_eq!(got["count"], 40, "{got}");
    assert_eq!(got["sum"], (0..40).sum::<u64>(), "{got}");
    let fw = assert_torn_down(&cluster, "remesos-slow");
    let tasks = fw["completed_tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        tasks.iter().any(|t| t["state"] == "TASK_FAILED"),
        "the killed executor's task ended TASK_FAILED: {tasks:?}"
    );
    assert!(
        tasks.len() >= 3,
        "a replacement executor was launched: {tasks:?}"
    );
    let log = driver.stderr();
    assert!(log.contains("is now TASK_FAILED"), "{}", driver.tail());
}

/// Dynamic allocation with the external shuffle service. Agents get their own loopback
/// addresses (127.0.0.2, 127.0.0.3), so Spark sees two hosts. Spark 3.5's
/// MesosExternalShuffleService binds every address (it takes a port, no host), so one
/// service on the machine serves both "hosts" on the port the application names; the
/// driver registers with it on each host where an executor runs. Executors are added under
/// load, released when idle, and a second job reads the first job's shuffle output from the
/// service after the executors that wrote it are gone (its map stage is not rerun).
#[test]
fn spark35_dynamic_allocation_with_the_mesos_external_shuffle_service() {
    let _serial = serial();
    let env = spark_env();
    let cluster = start_cluster(&[
        agent("127.0.0.2", "cpus:1;mem:1536"),
        agent("127.0.0.3", "cpus:1;mem:1536"),
    ]);
    let shuffle_port = free_port("0.0.0.0");
    let mut service_cmd = Command::new(env.home35.join("bin/spark-class"));
    spark_env_vars(&mut service_cmd, &env.home35, &env.python35);
    service_cmd
        .env(
            "SPARK_SHUFFLE_OPTS",
            format!("-Dspark.shuffle.service.port={shuffle_port}"),
        )
        .env("SPARK_DAEMON_MEMORY", "256m")
        .arg("org.apache.spark.deploy.mesos.MesosExternalShuffleService");
    let service = Proc::spawn(service_cmd, &cluster.work_dir, "shuffle-service");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.2", shuffle_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the shuffle service did not start\n{}",
            service.tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let master = format!("mesos://{}", cluster.master);
    let port = format!("spark.shuffle.service.port={shuffle_port}");
    let script = job("dynalloc.py");
    let mut driver = submit35(
        &cluster,
        "dynalloc",
        &master,
        &[
            "--conf",
            "spark.executor.cores=1",
            "--conf",
            "spark.shuffle.service.enabled=true",
            "--conf",
            &port,
            "--conf",
            "spark.dynamicAllocation.enabled=true",
            "--conf",
            "spark.dynamicAllocation.minExecutors=0",
            "--conf",
            "spark.dynamicAllocation.initialExecutors=0",
            "--conf",
            "spark.dynamicAllocation.maxExecutors=2",
            "--conf",
            "spark.dynamicAllocation.schedulerBacklogTimeout=1s",
            "--conf",
            "spark.dynamicAllocation.executorIdleTimeout=5s",
            &script,
        ],
    );
    let status = driver.wait(Duration::from_secs(300));
    assert!(
        status.is_some_and(|s| s.success()),
        "dynamic allocation job failed\n{}\n{}\nshuffle service:\n{}",
        driver.tail(),
        cluster.logs(),
        service.tail()
    );
    let got = result(&driver);
    assert_eq!(got["at_start"], 0, "{got}");
    assert_eq!(
        got["peak_first_job"], 2,
        "executors added under load: {got}"
    );
    assert_eq!(got["after_idle"], 0, "idle executors released: {got}");
    assert_eq!(got["same_again"], true, "{got}");
    assert_eq!(
        got["map_computations"], 16,
        "the second job read the shuffle files through the service: {got}"
    );
    let fw = assert_torn_down(&cluster, "remesos-dynalloc");
    let tasks = fw["completed_tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        tasks.iter().filter(|t| t["state"] == "TASK_KILLED").count() >= 2,
        "idle executors were killed through Mesos: {tasks:?}"
    );
    let hosts: BTreeSet<String> = tasks.iter().map(agent_of).collect();
    assert_eq!(hosts.len(), 2, "{tasks:?}");
    let log = service.stderr();
    assert!(
        log.contains(got["app_id"].as_str().unwrap()),
        "the driver registered with the shuffle service:\n{}",
        service.tail()
    );
}

/// Cluster mode on a master that authenticates frameworks (`--authenticate_frameworks
/// --authenticate_http_frameworks`, Mesos's JSON `--credentials`): Spark 3.5's
/// MesosClusterDispatcher registers as a framework with its own `spark.mesos.principal` and
/// `spark.mesos.secret`; `spark-submit --deploy-mode cluster --master mesos://<dispatcher>`
/// posts the application to it over REST; the dispatcher runs the driver as a Mesos task
/// (the application jar fetched over HTTP into its sandbox); that driver registers its own
/// framework, runs executors, and the job completes.
///
/// The driver does not inherit the dispatcher's credential: Spark's MesosClusterScheduler
/// (`generateCmdOption`) gives the driver's spark-submit only the submission's `--conf`s and
/// the dispatcher's `spark.mesos.dispatcher.driverDefault.*` properties (both on the
/// driver task's command line). So the operator sets the drivers' principal there, and a
/// `spark.mesos.secret.file` that is readable on the agents rather than a secret in the
/// command line; the submitter needs no secret.
///
/// All of it over TLS: the master and the agents serve https only (`LIBPROCESS_SSL_*`,
/// certificates made at test time, no `LIBPROCESS_SSL_SUPPORT_DOWNGRADE`). The dispatcher's
/// libmesos.so reads the variables from the dispatcher's environment; the driver, a task
/// under a command executor, reads them from its executor's environment, which is the
/// agent's own here (remesos's executors inherit it; on Mesos, and on remesos with
/// `--executor_environment_variables`, the operator lists them in that flag, Mesos's
/// docs/ssl.md). So the registered application framework is the driver reaching the master
/// over TLS. Spark's own submission port (REST, 7077-style) stays plain: it is Spark's.
#[test]
fn spark35_cluster_mode_through_the_mesos_cluster_dispatcher() {
    let _serial = serial();
    let env = spark_env();
    let cluster = start_cluster_on(
        &[
            agent("127.0.0.1", "cpus:2;mem:2560"),
            agent("127.0.0.1", "cpus:2;mem:2560"),
        ],
        |dir| {
            authenticating_frameworks(
                dir,
                r#"{"credentials":[{"principal":"dispatcher","secret":"dispatcher-secret"},
                                   {"principal":"spark-driver","secret":"driver-secret"}]}"#,
            )
        },
        Some(Pki::make("spark-dispatcher")),
    );
    let pki = cluster.tls.as_ref().expect("a TLS cluster");
    let driver_secret = cluster.work_dir.join("driver.secret");
    std::fs::write(&driver_secret, "driver-secret").unwrap();
    let served = cluster.work_dir.join("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::copy(&env.sparkpi_jar, served.join("remesos-sparkpi.jar")).unwrap();
    let files = FileServer::start(&served);

    let dispatcher_port = free_port("127.0.0.1");
    let mut cmd = Command::new(env.home35.join("bin/spark-class"));
    spark_env_vars(&mut cmd, &env.home35, &env.python35);
    cmd.env("SPARK_DAEMON_MEMORY", "512m")
        .envs(pki.env("client", &[("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true")]))
        .args([
            "org.apache.spark.deploy.mesos.MesosClusterDispatcher",
            "--host",
            "127.0.0.1",
            "--port",
            &dispatcher_port.to_string(),
            "--webui-port",
            &free_port("127.0.0.1").to_string(),
            "--master",
            &format!("mesos://{}", cluster.master),
            "--conf",
            "spark.mesos.principal=dispatcher",
            "--conf",
            "spark.mesos.secret=dispatcher-secret",
            "--conf",
            "spark.mesos.dispatcher.driverDefault.spark.mesos.principal=spark-driver",
            "--conf",
            &format!(
                "spark.mesos.dispatcher.driverDefault.spark.mesos.secret.file={}",
                driver_secret.display()
            ),
        ]);
    let mut dispatcher = Proc::spawn(cmd, &cluster.work_dir, "dispatcher");
    let deadline = Instant::now() + Duration::from_secs(120);
    while cluster.framework("Spark Cluster").is_none() {
        assert!(
            dispatcher.try_wait().is_none() && Instant::now() < deadline,
            "the dispatcher did not register\n{}\n{}",
            dispatcher.tail(),
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // The master speaks TLS only: a plain request gets no answer.
    assert!(http_get(&cluster.master, "/master/state").is_err());
    // Spark 3.5.3's MesosClusterScheduler writes the driver command with `--driver-cores
    // 1.0` (Double.toString), and the same release's spark-submit rejects anything that is
    // not an integer ("Driver cores must be a positive number"), so the driver task would
    // fail on any Mesos. The drivers' Spark home is therefore the pip install seen through a
    // directory whose bin/spark-submit passes `--driver-cores 1` on; all else is Spark's.
    let driver_home = spark_home_with_integer_driver_cores(&cluster.work_dir, &env.home35);
    let executor_home = format!("spark.mesos.executor.home={}", driver_home.display());
    let native = format!(
        "spark.mesos.driverEnv.MESOS_NATIVE_JAVA_LIBRARY={}",
        env.libmesos.display()
    );
    let jar_url = format!("{}/remesos-sparkpi.jar", files.url);
    let dispatcher_url = format!("mesos://127.0.0.1:{dispatcher_port}");
    let mut cmd = Command::new(env.home35.join("bin/spark-submit"));
    spark_env_vars(&mut cmd, &env.home35, &env.python35);
    cmd.args([
        "--deploy-mode",
        "cluster",
        "--master",
        &dispatcher_url,
        // Cluster-mode submissions go through the REST client, off by default since 3.0.
        "--conf",
        "spark.master.rest.enabled=true",
        "--class",
        "RemesosSparkPi",
        "--driver-memory",
        "512m",
        "--conf",
        &executor_home,
        "--conf",
        &native,
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.executor.memory=512m",
        "--conf",
        "spark.cores.max=2",
        "--conf",
        "spark.executor.cores=1",
        "--conf",
        "spark.ui.enabled=false",
        &jar_url,
        "10",
    ]);
    let mut submit = Proc::spawn(cmd, &cluster.work_dir.join("drivers"), "submit");
    assert!(
        submit
            .wait(Duration::from_secs(120))
            .is_some_and(|s| s.success()),
        "submission failed\n{}",
        submit.tail()
    );
    // The driver task ends TASK_FINISHED under the dispatcher's framework, and the driver's
    // own framework (the application) ran executors.
    let deadline = Instant::now() + Duration::from_secs(300);
    let driver_task = loop {
        let (fw, _) = cluster.framework("Spark Cluster").expect("dispatcher");
        let done = fw["completed_tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["state"] != "TASK_RUNNING")
            .cloned();
        if let Some(t) = done {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "the driver task did not end\n{}\n{}",
            dispatcher.tail(),
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(driver_task["state"], "TASK_FINISHED", "{driver_task}");
    let (dispatcher_fw, _) = cluster.framework("Spark Cluster").expect("dispatcher");
    assert_eq!(dispatcher_fw["principal"], "dispatcher", "{dispatcher_fw}");
    let (app, _) = cluster
        .framework("RemesosSparkPi")
        .expect("the driver registered its own framework");
    assert_eq!(app["principal"], "spark-driver", "{app}");
    assert!(
        !app["completed_tasks"].as_array().unwrap().is_empty(),
        "{app}"
    );
    // The driver's stdout, in its sandbox.
    let out = find_file_containing(&cluster.work_dir, "stdout", "Pi is roughly")
        .unwrap_or_else(|| panic!("no driver output in the sandboxes\n{}", cluster.logs()));
    let pi = pi_estimate(&out);
    assert!((pi - std::f64::consts::PI).abs() < 0.01, "{out}");
    dispatcher.kill();
}

/// A Spark home made of symlinks to `home`, except bin/spark-submit, which turns a
/// `--driver-cores <n>.0` argument into `<n>` and runs the real one (see the cluster-mode test).
fn spark_home_with_integer_driver_cores(dir: &Path, home: &Path) -> PathBuf {
    let shim = dir.join("spark-home-shim");
    std::fs::create_dir_all(shim.join("bin")).unwrap();
    for entry in std::fs::read_dir(home).unwrap().flatten() {
        let name = entry.file_name();
        if name != "bin" {
            std::os::unix::fs::symlink(entry.path(), shim.join(&name)).unwrap();
        }
    }
    for entry in std::fs::read_dir(home.join("bin")).unwrap().flatten() {
        let name = entry.file_name();
        if name != "spark-submit" && name != "find_spark_home.py" {
            std::os::unix::fs::symlink(entry.path(), shim.join("bin").join(&name)).unwrap();
        }
    }
    let script = format!(
        "#!/bin/sh\nprev=\nfor a in \"$@\"; do\n  shift\n  \
         if [ \"$prev\" = --driver-cores ]; then a=${{a%.0}}; fi\n  \
         set -- \"$@\" \"$a\"\n  prev=$a\ndone\nexec '{}/bin/spark-submit' \"$@\"\n",
        home.display()
    );
    let path = shim.join("bin/spark-submit");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    shim
}

fn find_file_containing(dir: &Path, name: &str, needle: &str) -> Option<String> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        let meta = std::fs::symlink_metadata(&p).ok()?;
        if meta.is_dir() {
            if let Some(found) = find_file_containing(&p, name, needle) {
                return Some(found);
            }
        } else if p.file_name().is_some_and(|f| f == name) {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            if text.contains(needle) {
                return Some(text);
            }
        }
    }
    None
}

/// Fine-grained mode (`spark.mesos.coarse=false`, deprecated but still in 3.5): one Mesos task
/// per Spark task inside Spark's custom executor, MesosExecutorBackend, which talks to the
/// agent through MesosExecutorDriver — the executor half of our libmesos.so (given to
/// executors by the agent's `--native_library`).
#[test]
fn spark35_fine_grained_mode_runs_tasks_through_mesos_executor_driver() {
    let _serial = serial();
    let env = spark_env();
    let cluster = start_cluster(&[
        agent("127.0.0.1", "cpus:2;mem:2560"),
        agent("127.0.0.1", "cpus:2;mem:2560"),
    ]);
    let master = format!("mesos://{}", cluster.master);
    let jar = env.sparkpi_jar.display().to_string();
    let mut driver = submit35(
        &cluster,
        "finegrained",
        &master,
        &[
            "--conf",
            "spark.mesos.coarse=false",
            "--class",
            "RemesosSparkPi",
            &jar,
            "8",
        ],
    );
    let running = watch_framework(
        &cluster,
        &mut driver,
        "RemesosSparkPi",
        Duration::from_secs(240),
    );
    assert_succeeds(
        &mut driver,
        &cluster,
        Duration::from_secs(1),
        "fine-grained SparkPi failed",
    );
    let pi = pi_estimate(&driver.stdout());
    assert!(
        (pi - std::f64::consts::PI).abs() < 0.01,
        "{}",
        driver.stdout()
    );
    let fw = assert_torn_down(&cluster, "RemesosSparkPi");
    let tasks = fw["completed_tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // One Mesos task per Spark task (8 partitions), with Spark's executor as custom executor.
    assert!(tasks.len() >= 8, "{tasks:?}");
    assert!(
        tasks.iter().all(|t| t["executor_id"] != ""),
        "tasks ran in a custom executor: {tasks:?} (while running: {running})"
    );
}

// ---------------------------------------------------------------------------------------
// Spark 4.0 through spark-plugin/

fn plugin_jar() -> String {
    spark_env()
        .plugin_jar
        .as_ref()
        .expect("spark-plugin/target/remesos-spark-plugin-*.jar: tests/spark/setup.sh builds it")
        .display()
        .to_string()
}

/// Spark 4.0.0's spark-submit refuses `mesos://` ("Master must either be yarn or start with
/// spark, k8s, or local"); the plugin's `spark-mesos://` passes that check in client mode and
/// reaches the plugin's ExternalClusterManager. Word count + DataFrame on two agents.
#[test]
fn spark4_plugin_wordcount_with_spark_mesos_url() {
    plugin_wordcount_then_clean_stop(Spark::V4, "spark4-wordcount");
}

/// The plugin jar (built against Spark 4.0.0) on the newest Spark 4 release: the same job,
/// the same clean stop.
#[test]
fn spark4_newest_plugin_wordcount_and_clean_stop() {
    plugin_wordcount_then_clean_stop(Spark::V4Newest, "spark4-newest-wordcount");
}

/// Word count on two agents through `spark-mesos://`, then `SparkContext.stop()`, which
/// stops Spark's driver endpoint before the backend: the executors' TASK_FINISHED updates
/// that follow must not reach `removeExecutor` (Spark 3.5's
/// MesosCoarseGrainedSchedulerBackend.executorTerminated: "Do not call removeExecutor() after
/// this scheduler backend was stopped"), and no exception may leave a Mesos callback, which
/// aborts the driver (reference/mesos-contract.md §1.3) so that later updates are lost and
/// `stop()` waits out spark.mesos.coarse.shutdownTimeout while the executors are killed.
/// What shows a clean stop: no callback failed, the Mesos driver ended DRIVER_STOPPED, the
/// backend did not give up waiting, and every executor ended TASK_FINISHED by itself (none
/// KILLED by the framework's teardown). The shutdown timeout is raised so that a slow
/// machine cannot pass for the bug.
fn plugin_wordcount_then_clean_stop(version: Spark, name: &str) {
    let _serial = serial();
    let env = spark_env();
    let cluster = start_cluster(&[
        agent("127.0.0.1", "cpus:1;mem:1536"),
        agent("127.0.0.1", "cpus:1;mem:1536"),
    ]);
    let master = format!("spark-mesos://{}", cluster.master);
    let home = match version {
        Spark::V4Newest => &env.home4_newest,
        _ => &env.home4,
    };
    let executor_home = format!("spark.mesos.executor.home={}", home.display());
    let jar = plugin_jar();
    let script = job("wordcount.py");
    let mut driver = spark_submit(
        version,
        &cluster,
        name,
        &[
            "--master",
            &master,
            "--jars",
            &jar,
            "--conf",
            &executor_home,
            "--conf",
            "spark.cores.max=2",
            "--conf",
            "spark.executor.cores=1",
            "--conf",
            "spark.mesos.coarse.shutdownTimeout=120s",
            &script,
            "--lines",
            "2000",
            "--partitions",
            "4",
        ],
    );
    let running = watch_framework(
        &cluster,
        &mut driver,
        "remesos-wordcount",
        Duration::from_secs(300),
    );
    assert_succeeds(
        &mut driver,
        &cluster,
        Duration::from_secs(1),
        "Spark 4 word count failed",
    );
    let got = result(&driver);
    assert_wordcount(&got, 2000);
    assert_eq!(got["agents"].as_array().map(Vec::len), Some(2), "{got}");
    let tasks = running["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 2, "{running}");
    let fw = assert_torn_down(&cluster, "remesos-wordcount");
    assert_eq!(
        fw["id"], got["app_id"],
        "the Spark app id is the framework id"
    );

    let log = driver.stderr();
    for bad in [
        // Spark's answer to removeExecutor after its endpoint stopped.
        "Could not find CoarseGrainedScheduler",
        // The plugin's catch-all: nothing should need it here.
        "Mesos callback",
        // The plugin's runner thread: "Mesos scheduler driver ended with DRIVER_ABORTED".
        "DRIVER_ABORTED",
        // The backend's stop() gave up waiting for its executors.
        "still running after",
    ] {
        assert!(
            !log.contains(bad),
            "'{bad}' in the driver log\n{}",
            driver.tail()
        );
    }
    assert!(
        log.contains("Mesos scheduler driver ended with DRIVER_STOPPED"),
        "{}",
        driver.tail()
    );
    let ended: Vec<(String, String)> = fw["completed_tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_string(),
                t["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(ended.len(), 2, "{fw}");
    assert!(
        ended.iter().all(|(_, state)| state == "TASK_FINISHED"),
        "executors did not end by themselves: {ended:?}\n{}",
        driver.tail()
    );
}

/// A SparkContext built directly (not through spark-submit's master check) with `mesos://`
/// reaches the plugin too.
#[test]
fn spark4_plugin_mesos_url_for_a_sparkcontext_built_directly() {
    let _serial = serial();
    let env = spark_env();
    let cluster = start_cluster(&[agent("127.0.0.1", "cpus:2;mem:2560")]);
    let jar = plugin_jar();
    let mut cmd = Command::new(&env.python4);
    spark_env_vars(&mut cmd, &env.home4, &env.python4);
    cmd.env(
        "PYSPARK_SUBMIT_ARGS",
        format!(
            "--jars {jar} --driver-class-path {jar} --conf spark.mesos.executor.home={} \
             --conf spark.cores.max=1 \
             --conf spark.executor.memory=512m --conf spark.driver.memory=512m \
             --conf spark.driver.host=127.0.0.1 --conf spark.ui.enabled=false pyspark-shell",
            env.home4.display()
        ),
    )
    .arg(job("wordcount.py"))
    .args(["--lines", "1000", "--partitions", "2", "--master"])
    .arg(format!("mesos://{}", cluster.master));
    let mut driver = Proc::spawn(cmd, &cluster.work_dir.join("drivers"), "spark4-direct");
    assert_succeeds(
        &mut driver,
        &cluster,
        Duration::from_secs(300),
        "Spark 4 with mesos:// failed",
    );
    assert_wordcount(&result(&driver), 1000);
    assert_torn_down(&cluster, "remesos-wordcount");
}

// ---------------------------------------------------------------------------------------
// Spark 3.5 with `mesos://zk://`: masters elected through a real ZooKeeper

/// `--master mesos://zk://127.0.0.1:<port>/mesos`: Spark hands `zk://...` to
/// `MesosSchedulerDriver`, whose JNI driver finds the leader through ZooKeeper. Two masters
/// (one leads, one stands by), agents that also find the leader through ZooKeeper; SparkPi
/// runs two executors and the leader's /master/state lists the framework and its tasks.
#[test]
fn spark35_sparkpi_with_mesos_zk_master_url() {
    let _serial = serial();
    let zk = ZooKeeper::start();
    let zk_url = zk.url("/mesos");
    let (cluster, masters) = start_zk_cluster(
        &zk_url,
        2,
        &[
            agent("127.0.0.1", "cpus:1;mem:1536"),
            agent("127.0.0.1", "cpus:1;mem:1536"),
        ],
    );
    let standby = masters.iter().find(|m| **m != cluster.master).unwrap();
    assert!(
        http_get(standby, "/master/state").is_err(),
        "the standby {standby} answers /master/state itself"
    );
    let master = format!("mesos://{zk_url}");
    let mut driver = submit_sparkpi(&cluster, "sparkpi-zk", &master, &[]);
    let running = assert_sparkpi(&cluster, &mut driver);
    // The leader had the framework with both executors, one per agent.
    let tasks = running["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 2, "{running}");
    let agents: BTreeSet<String> = tasks.iter().map(agent_of).collect();
    assert_eq!(agents.len(), 2, "{tasks:?}");
    assert_torn_down(&cluster, "RemesosSparkPi");
}

/// kill -9 the leading master mid-job, a standby running. ZooKeeper elects the standby; the
/// agents reregister with it, carrying the running executors; the JNI driver under Spark
/// detects the new leader and resubscribes with the same framework id; the job completes
/// with the whole answer, and Spark's teardown at the end reaches the new leader.
///
/// Spark's default `spark.mesos.driver.failoverTimeout` (0) is kept on purpose: a master
/// starts a framework's failover timer only when the framework disconnects from that live
/// master. Here the master itself dies; the new leader learns of the framework from the
/// reregistering agents (inactive, no timer) and the driver resubscribes, so nothing is
/// torn down. The test checks the framework is active again on the new leader, with the
/// same id and executors, while the job still runs.
#[test]
fn spark35_job_survives_leading_master_failover_through_zookeeper() {
    let _serial = serial();
    let zk = ZooKeeper::start();
    let zk_url = zk.url("/mesos");
    let (mut cluster, masters) = start_zk_cluster(
        &zk_url,
        2,
        &[
            agent("127.0.0.1", "cpus:1;mem:1536"),
            agent("127.0.0.1", "cpus:1;mem:1536"),
        ],
    );
    let master = format!("mesos://{zk_url}");
    let script = job("slow.py");
    let tasks = 60;
    let mut driver = submit35(
        &cluster,
        "slow-zk",
        &master,
        &[
            "--conf",
            "spark.cores.max=2",
            "--conf",
            "spark.executor.cores=1",
            &script,
            "--tasks",
            &tasks.to_string(),
            "--seconds",
            "1",
        ],
    );
    // Both executors registered with the leader and running Spark tasks.
    let deadline = Instant::now() + Duration::from_secs(180);
    let before = loop {
        if let Some((fw, true)) = cluster.framework("remesos-slow")
            && fw["tasks"].as_array().map_or(0, Vec::len) == 2
            && driver.stderr().contains("Starting task")
        {
            break fw;
        }
        assert!(
            driver.try_wait().is_none() && Instant::now() < deadline,
            "the executors did not start\n{}\n{}",
            driver.tail(),
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let framework_id = before["id"].as_str().unwrap().to_string();
    let old = cluster.master.clone();
    let index = masters.iter().position(|m| *m == old).unwrap();
    cluster.procs[index].kill().unwrap();
    cluster.procs[index].wait().unwrap();
    let killed_at = Instant::now();
    cluster.master = cluster.wait_leader(&masters, Some(&old), Duration::from_secs(30));

    // While the job still runs: the same framework, resubscribed to the new leader, with
    // both executors (reported by the reregistered agents).
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        if let Some((fw, true)) = cluster.framework("remesos-slow")
            && fw["id"] == framework_id.as_str()
            && fw["active"] == true
            && fw["tasks"].as_array().map_or(0, Vec::len) == 2
        {
            break fw;
        }
        assert!(
            driver.try_wait().is_none() && Instant::now() < deadline,
            "the framework did not come back on the new leader {} before the job ended: \
             {:?}\n{}\n{}",
            cluster.master,
            cluster.framework("remesos-slow"),
            driver.tail(),
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "new leader {} (was {old}); framework {framework_id} back after {:?}",
        cluster.master,
        killed_at.elapsed()
    );
    let before_tasks: BTreeSet<String> = before["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].to_string())
        .collect();
    let after_tasks: BTreeSet<String> = after["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].to_string())
        .collect();
    assert_eq!(before_tasks, after_tasks, "the same executors: {after}");

    assert_succeeds(
        &mut driver,
        &cluster,
        Duration::from_secs(240),
        "the job did not survive the failover",
    );
    let got = result(&driver);
    assert_eq!(got["count"], tasks, "{got}");
    assert_eq!(got["sum"], (0..tasks).sum::<u64>(), "{got}");
    let fw = assert_torn_down(&cluster, "remesos-slow");
    assert_eq!(fw["id"], framework_id.as_str(), "{fw}");
}
