//! Hadoop 1.2.1 on remesos, end to end (issue 6), with real peers only: hadoop-core and
//! hadoop-examples 1.2.1 and Apache's mesos 1.11.0 jar from Maven Central, the JVM of the
//! machine (a JDK 17), the `remesos` binary (`remesos local`, a master and 2 agents) and the
//! project's `libmesos.so` (issue 4) under Apache's jar, chosen by `MESOS_NATIVE_JAVA_LIBRARY`.
//!
//! The Hadoop home is assembled exactly as README's "Hadoop 1.x on remesos" section tells an
//! operator (`hadoop-plugin/dist/assemble.sh`), the JobTracker runs with that section's
//! mapred-site.xml, and jobs are submitted with `bin/hadoop jar hadoop-examples-1.2.1.jar`.
//!
//! - `plugin_unit_tests_pass`: the plugin's own JUnit tests (`mvn package`).
//! - `wordcount_runs_on_tasktrackers_launched_by_remesos`: WordCount over generated input
//!   (several MB, several splits) checked against a count made here; a second job with 3
//!   reducers; `/master/state` shows the framework and its TaskTracker tasks; idle trackers are
//!   killed after the jobs; stopping the JobTracker tears the framework down.
//! - `job_survives_a_killed_tasktracker_executor`: SIGKILL to a TaskTracker's executor
//!   process mid-job; the job still completes with the right output.
//! - `the_old_plugins_tarball_layout_runs_a_job` (issue 12 item 5): `mapred.mesos.executor.uri`
//!   names `hadoop.tar.gz` holding `hadoop-1.2.1/`, the mesos/hadoop plugin's documented layout
//!   (it entered `<name up to the first dot>*`); a job runs to success. The old plugin's keys
//!   remesos ignores are logged at WARN by name; `mapred.mesos.framework.principal` reaches the
//!   master's FrameworkInfo.
//! - `failing_tasktracker_launches_back_off_and_fail_the_job` (issue 12 item 5): an executor URI
//!   the agent cannot fetch (`hdfs://`); the plugin stops at `mapred.mesos.tracker.failure.max`
//!   launches, the JobTracker log has a WARN with Mesos's reason, and the job ends FAILED with
//!   that reason as its diagnostic (printed by the job client).
//!
//! - `wordcount_runs_on_an_authenticated_tls_cluster` (issue 14): the same JobTracker against
//!   a cluster with every `--authenticate_*` flag, `--credentials`, executor tokens and TLS
//!   (`LIBPROCESS_SSL_*`, certificates made at test time, no plain port): it authenticates
//!   with `mapred.mesos.framework.principal` + `mapred.mesos.framework.secretfile`, its
//!   TaskTrackers' executors reach the agent over TLS with their tokens, and WordCount's
//!   counts are checked; a second JobTracker with a wrong secret is refused and says so.
//!
//! Without a usable `libmesos.so` the end-to-end tests fail with a message saying so.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use remesos::client::HttpClient;

mod support;
use support::java_home;
use support::pki::Pki;

/// The end-to-end tests each run a cluster, a JobTracker and several JVMs: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent")
        .to_path_buf()
}

fn scratch() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hadoop-e2e")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `remesos` binary: `REMESOS_BIN`, else the one built with this test.
fn remesos_bin() -> PathBuf {
    std::env::var_os("REMESOS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_remesos")))
}

/// The project's libmesos.so: `REMESOS_LIBMESOS`, else beside the `remesos` binary.
/// Fails the test, loudly, when it is missing or does not export the JNI natives.
fn libmesos() -> PathBuf {
    let path = std::env::var_os("REMESOS_LIBMESOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_BIN_EXE_remesos")).with_file_name("libmesos.so"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the Hadoop end-to-end test needs remesos's JNI library (issue 4) and it is not \
             usable: {}: {e}. Build it with `cargo build --release -p remesos-jni` or point \
             REMESOS_LIBMESOS at one",
            path.display()
        )
    });
    for symbol in [
        "Java_org_apache_mesos_MesosSchedulerDriver_initialize",
        "Java_org_apache_mesos_MesosSchedulerDriver_start",
        "Java_org_apache_mesos_MesosExecutorDriver_initialize",
        "JNI_OnLoad",
    ] {
        assert!(
            bytes.windows(symbol.len()).any(|w| w == symbol.as_bytes()),
            "{} is not a usable libmesos.so: it does not export {symbol} (issue 4 not done)",
            path.display()
        );
    }
    path
}

/// The Hadoop 1.2.1 home that tests/run.sh assembles before the end-to-end tier
/// (`hadoop-plugin/dist/assemble.sh`, which also builds the plugin and runs its unit tests):
/// `REMESOS_HADOOP_HOME`, else `.cache/hadoop/hadoop-1.2.1`. Tests build nothing; a missing
/// home fails the test with the command that makes it. Read-only here: each test writes its
/// configuration into its own `HADOOP_CONF_DIR`.
fn hadoop_home() -> PathBuf {
    let home = std::env::var_os("REMESOS_HADOOP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/hadoop/hadoop-1.2.1"));
    let plugin = std::fs::read_dir(home.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("hadoop-remesos-")
        });
    assert!(
        home.join("bin/hadoop").exists() && plugin,
        "no Hadoop 1.2.1 home with the plugin at {}: assemble it with \
         `bash hadoop-plugin/dist/assemble.sh {}` (tests/run.sh does)",
        home.display(),
        home.display()
    );
    home
}

/// A process killed (with its process group, where it leads one) when dropped.
struct Proc {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn terminate(&mut self, grace: Duration) {
        // Never signal a pid already reaped: it may belong to someone else by now.
        if self.exited() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid; no memory involved.
        unsafe {
            libc::kill(self.pid(), libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(60);
        format!(
            "--- last lines of {} ({}):\n{}",
            self.name,
            self.log.display(),
            lines[from..].join("\n")
        )
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate(Duration::from_secs(10));
    }
}

struct Setup {
    work: PathBuf,
    home: PathBuf,
    conf: PathBuf,
    java_home: PathBuf,
    master: String,
    jt_port: u16,
    view: MasterView,
    // Fields drop in declaration order: the JobTracker before the cluster, the cluster
    // before its certificates.
    jobtracker: Option<Proc>,
    cluster: Proc,
    secure: Option<Secure>,
}

/// What a secure cluster adds (issue 14): certificates, the master's `--credentials`, the
/// agents' `--credential`, the executors' token key, and the JobTracker's secret file.
struct Secure {
    pki: Pki,
    dir: PathBuf,
}

/// The framework's credential, one of the master's `--credentials`.
const HADOOP: (&str, &str) = ("hadoop", "hadoop-secret");

impl Secure {
    fn new(work: &Path) -> Secure {
        let dir = work.join("secure");
        std::fs::create_dir_all(&dir).unwrap();
        let secure = Secure {
            pki: Pki::make("hadoop"),
            dir,
        };
        secure.file(
            "credentials.json",
            &format!(
                r#"{{"credentials": [{{"principal": "{}", "secret": "{}"}},
                                     {{"principal": "agent", "secret": "agent-secret"}}]}}"#,
                HADOOP.0, HADOOP.1
            ),
        );
        secure.file(
            "credential.json",
            r#"{"principal": "agent", "secret": "agent-secret"}"#,
        );
        secure.file("jwt.key", "the agents' executor key, at least 32 bytes");
        // As an operator writes it: the secret and a trailing line break (the plugin drops it).
        secure.file("hadoop.secret", &format!("{}\n", HADOOP.1));
        secure.file("wrong.secret", "not-the-secret\n");
        secure
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        write(&path, text);
        path.display().to_string()
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// `remesos local`'s flags: every authentication Mesos has, executor tokens, and the
    /// executors' TLS settings handed over the way Mesos's docs/ssl.md tells operators to
    /// (`--executor_environment_variables`; a Mesos agent gives executors no variable of
    /// its own environment, src/slave/slave.cpp `executorEnvironment`).
    fn cluster_flags(&self, lib: &Path) -> Vec<String> {
        let mut executor_env: BTreeMap<String, String> = self
            .pki
            .env("client", &[("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true")])
            .into_iter()
            .collect();
        executor_env.insert(
            "MESOS_NATIVE_JAVA_LIBRARY".into(),
            lib.display().to_string(),
        );
        vec![
            "--authenticate_frameworks".into(),
            "--authenticate_agents".into(),
            "--authenticate_http_frameworks".into(),
            "--http_framework_authenticators=basic".into(),
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
            "--authenticate_http_executors".into(),
            format!("--credentials={}", self.path("credentials.json")),
            format!("--credential={}", self.path("credential.json")),
            format!("--jwt_secret_key={}", self.path("jwt.key")),
            format!(
                "--executor_environment_variables={}",
                serde_json::to_string(&executor_env).unwrap()
            ),
        ]
    }

    /// The daemons' TLS: https only (no downgrade), server certificates verified.
    fn daemon_env(&self) -> Vec<(String, String)> {
        self.pki
            .env("daemon", &[("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true")])
    }

    /// The JobTracker's TLS, read by libmesos.so inside its JVM.
    fn client_env(&self) -> Vec<(String, String)> {
        self.pki
            .env("client", &[("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true")])
    }

    /// The JobTracker's configuration keys for a principal whose secret is in `secret_file`.
    fn framework_conf(&self, secret_file: &str) -> Vec<(&'static str, String)> {
        vec![
            ("mapred.mesos.framework.principal", HADOOP.0.into()),
            ("mapred.mesos.framework.secretfile", self.path(secret_file)),
        ]
    }
}

/// How the test reads the master: plain HTTP, or (secure) `curl` over https with the CA and
/// the framework's credential (`--authenticate_http_readonly`).
#[derive(Clone)]
struct MasterView {
    http: HttpClient,
    master: String,
    tls: Option<(String, String)>,
}

impl MasterView {
    async fn get(&self, path: &str) -> Option<Value> {
        match &self.tls {
            None => match self
                .http
                .get(&format!("http://{}{path}", self.master))
                .await
            {
                Ok((200, body)) => serde_json::from_slice(&body).ok(),
                _ => None,
            },
            Some((ca, user)) => support::curl_https(ca, user, &self.master, path)
                .and_then(|body| serde_json::from_str(&body).ok()),
        }
    }

    async fn state(&self) -> Value {
        self.get("/master/state").await.unwrap_or(Value::Null)
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn site(props: &[(&str, String)]) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<configuration>\n");
    for (k, v) in props {
        s.push_str(&format!(
            "  <property><name>{k}</name><value>{v}</value></property>\n"
        ));
    }
    s.push_str("</configuration>\n");
    s
}

impl Setup {
    /// `remesos local` with 2 agents (each on its own loopback address, so TaskTrackers on
    /// different agents never compete for a port) and a JobTracker whose scheduler is
    /// MesosScheduler; returns once the JobTracker's framework is registered.
    async fn start(name: &str, extra: &[(&str, String)]) -> Setup {
        Setup::start_on(name, extra, false).await
    }

    /// [`Setup::start`] on a secure cluster when `secure` ([`Secure`]); the JobTracker then
    /// authenticates as [`HADOOP`].
    async fn start_on(name: &str, extra: &[(&str, String)], secure: bool) -> Setup {
        let lib = libmesos();
        let java_home = java_home();
        let home = hadoop_home();
        let work = scratch().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();
        let secure = secure.then(|| Secure::new(&work));

        let port = free_port();
        let agent_port = free_port();
        let cluster_log = work.join("remesos.log");
        let child = Command::new(remesos_bin())
            .args(["local", "--num_agents=2", "--agent_loopback_ips"])
            .arg(format!("--port={port}"))
            .arg(format!("--first_agent_port={agent_port}"))
            .arg(format!("--work_dir={}", work.join("mesos").display()))
            .args([
                "--resources=cpus:4;mem:4096;disk:8192;ports:[31000-31999]",
                "--allocation_interval=100ms",
            ])
            .args(secure.iter().flat_map(|s| s.cluster_flags(&lib)))
            .envs(secure.iter().flat_map(Secure::daemon_env))
            .env("JAVA_HOME", &java_home)
            // Executors inherit it (the agent's own default is libmesos.so beside remesos).
            .env("MESOS_NATIVE_JAVA_LIBRARY", &lib)
            .stdout(Stdio::from(std::fs::File::create(&cluster_log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::create(work.join("remesos.err")).unwrap(),
            ))
            .spawn()
            .expect("start remesos local");
        let cluster = Proc {
            child,
            name: "remesos local",
            log: cluster_log,
        };
        let master = format!("127.0.0.1:{port}");
        let view = MasterView {
            http: HttpClient::default(),
            master: master.clone(),
            tls: secure
                .as_ref()
                .map(|s| (s.pki.path("ca.pem"), format!("{}:{}", HADOOP.0, HADOOP.1))),
        };
        wait_for(&view, Duration::from_secs(30), "2 active agents", |s| {
            s["activated_slaves"].as_f64() == Some(2.0)
        })
        .await;

        let jt_port = free_port();
        let conf = work.join("conf");
        let mut jt_extra = extra.to_vec();
        if let Some(secure) = &secure {
            jt_extra.extend(secure.framework_conf("hadoop.secret"));
        }
        let mut jobtracker = JobTracker {
            work: &work,
            home: &home,
            java_home: &java_home,
            lib: &lib,
            master: &master,
            secure: secure.as_ref(),
        }
        .spawn(&conf, jt_port, "jobtracker.log", &jt_extra);

        let prefix = format!("Hadoop: (RPC port: {jt_port}");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let state = view.state().await;
            if framework(&state, &prefix).is_some() {
                break;
            }
            assert!(
                !jobtracker.exited(),
                "the JobTracker exited before registering with remesos\n{}",
                jobtracker.log_tail()
            );
            assert!(
                Instant::now() < deadline,
                "no framework '{prefix}...' registered within 90 s\n{}",
                jobtracker.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Setup {
            work,
            home,
            conf,
            java_home,
            master,
            jt_port,
            view,
            jobtracker: Some(jobtracker),
            cluster,
            secure,
        }
    }

    fn framework_prefix(&self) -> String {
        format!("Hadoop: (RPC port: {}", self.jt_port)
    }

    async fn state(&self) -> Value {
        self.view.state().await
    }

    /// One value of the master's `/metrics/snapshot` (0 while it cannot be read).
    async fn metric(&self, name: &str) -> f64 {
        self.view
            .get("/metrics/snapshot")
            .await
            .and_then(|m| m[name].as_f64())
            .unwrap_or(0.0)
    }

    /// `bin/hadoop jar hadoop-examples-1.2.1.jar <args>` as a child process.
    fn submit(&self, args: &[&str], log: &str) -> Proc {
        let log = self.work.join(log);
        let child = Command::new(self.home.join("bin/hadoop"))
            .arg("jar")
            .arg(self.home.join("lib/hadoop-examples-1.2.1.jar"))
            .args(args)
            // Relative paths a job makes (the grep example's grep-temp-*) stay in the test's dir.
            .current_dir(&self.work)
            .env("JAVA_HOME", &self.java_home)
            .env("HADOOP_CONF_DIR", &self.conf)
            .env("HADOOP_LOG_DIR", self.work.join("client-logs"))
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::create(&log).unwrap().try_clone().unwrap(),
            ))
            .spawn()
            .expect("submit a job");
        Proc {
            child,
            name: "job client",
            log,
        }
    }

    /// Waits for a submitted job; panics with the logs when it fails or takes too long.
    async fn wait_job(&self, job: &mut Proc, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = job.child.try_wait() {
                assert!(
                    status.success(),
                    "job failed ({status})\n{}\n{}",
                    job.log_tail(),
                    self.jobtracker.as_ref().unwrap().log_tail()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "job still running after {timeout:?}\n{}\n{}",
                job.log_tail(),
                self.jobtracker.as_ref().unwrap().log_tail()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// What starting a JobTracker needs: the cluster it schedules on and the Hadoop home.
struct JobTracker<'a> {
    work: &'a Path,
    home: &'a Path,
    java_home: &'a Path,
    lib: &'a Path,
    master: &'a str,
    secure: Option<&'a Secure>,
}

impl JobTracker<'_> {
    /// Writes the operator's configuration (README "Hadoop 1.x on remesos") into `conf`,
    /// with `extra` on top, and starts `bin/hadoop jobtracker` on `jt_port`, logging to
    /// `log` in the work directory.
    fn spawn(&self, conf: &Path, jt_port: u16, log: &str, extra: &[(&str, String)]) -> Proc {
        let (work, home, java_home, lib) = (self.work, self.home, self.java_home, self.lib);
        let master = self.master.to_string();
        write(
            &conf.join("core-site.xml"),
            &site(&[
                ("fs.default.name", "file:///".into()),
                (
                    "hadoop.tmp.dir",
                    // Per JobTracker: two JobTrackers never share a system directory.
                    work.join(format!("hadoop-tmp-{jt_port}"))
                        .display()
                        .to_string(),
                ),
            ]),
        );
        let mut props: Vec<(&str, String)> = vec![
            ("mapred.job.tracker", format!("127.0.0.1:{jt_port}")),
            (
                "mapred.jobtracker.taskScheduler",
                "org.apache.hadoop.mapred.MesosScheduler".into(),
            ),
            ("mapred.mesos.master", master.clone()),
            (
                "mapred.mesos.taskScheduler",
                "org.apache.hadoop.mapred.JobQueueTaskScheduler".into(),
            ),
            (
                "mapred.mesos.executor.directory",
                home.display().to_string(),
            ),
            ("mapred.mesos.slot.cpus", "1".into()),
            ("mapred.mesos.slot.mem", "512".into()),
            ("mapred.mesos.slot.disk", "256".into()),
            ("mapred.mesos.tasktracker.cpus", "1".into()),
            ("mapred.mesos.tasktracker.mem", "640".into()),
            ("mapred.mesos.tasktracker.disk", "256".into()),
            ("mapred.tasktracker.map.tasks.maximum", "2".into()),
            ("mapred.tasktracker.reduce.tasks.maximum", "1".into()),
            ("mapred.mesos.tracker.idle.interval", "1".into()),
            ("mapred.mesos.tracker.idle.checks", "3".into()),
            ("mapred.mesos.offer.refuse.seconds", "5".into()),
            ("mapred.job.tracker.http.address", "127.0.0.1:0".into()),
            ("mapred.tasktracker.expiry.interval", "60000".into()),
            // Exact attempt counts in the job's counters.
            ("mapred.map.tasks.speculative.execution", "false".into()),
            ("mapred.reduce.tasks.speculative.execution", "false".into()),
        ];
        // A key in `extra` replaces the default above; an empty value removes it (Hadoop's
        // Configuration skips an empty <value/>, so writing one would leave the default in force).
        props.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        props.extend(extra.iter().filter(|(_, v)| !v.is_empty()).cloned());
        write(&conf.join("mapred-site.xml"), &site(&props));

        let jt_log = work.join(log);
        let child = Command::new(home.join("bin/hadoop"))
            .arg("jobtracker")
            .env("JAVA_HOME", java_home)
            .env("HADOOP_CONF_DIR", conf)
            .env("HADOOP_LOG_DIR", work.join("jt-logs"))
            .env("MESOS_NATIVE_JAVA_LIBRARY", lib)
            .envs(self.secure.iter().flat_map(|s| s.client_env()))
            .stdout(Stdio::from(std::fs::File::create(&jt_log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::create(&jt_log).unwrap().try_clone().unwrap(),
            ))
            .spawn()
            .expect("start the JobTracker");
        Proc {
            child,
            name: "JobTracker",
            log: jt_log,
        }
    }
}

async fn wait_for(
    view: &MasterView,
    timeout: Duration,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let state = view.state().await;
        if ok(&state) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; /master/state: {state}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The active framework whose name starts with `prefix`.
fn framework<'a>(state: &'a Value, prefix: &str) -> Option<&'a Value> {
    state["frameworks"]
        .as_array()?
        .iter()
        .find(|f| f["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
}

/// TaskTracker tasks of the framework: (task id, state), running and completed.
fn tracker_tasks(framework: &Value) -> Vec<(String, String)> {
    let mut out = vec![];
    for key in ["tasks", "completed_tasks"] {
        for t in framework[key].as_array().into_iter().flatten() {
            let id = t["id"].as_str().unwrap_or_default();
            if id.starts_with("Task_Tracker_") {
                out.push((
                    id.to_string(),
                    t["state"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    out
}

/// Writes `files` files of about `bytes_each` bytes of words (a seeded LCG picks them from a
/// Zipf-ish vocabulary) and returns the count WordCount must produce, computed here.
fn generate_input(dir: &Path, files: usize, bytes_each: usize, seed: u64) -> BTreeMap<String, u64> {
    std::fs::create_dir_all(dir).unwrap();
    let vocabulary: Vec<String> = (0..20_000)
        .map(|i| match i % 4 {
            0 => format!("w{i}"),
            1 => format!("Word{i}"),
            2 => format!("x{i}-y"),
            _ => format!("ünï{i}"),
        })
        .collect();
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut counts = BTreeMap::new();
    for f in 0..files {
        let mut text = String::with_capacity(bytes_each + 64);
        while text.len() < bytes_each {
            let words = 1 + next() % 12;
            for k in 0..words {
                // Skewed: small indexes are much more frequent.
                let a = next() % vocabulary.len() as u64;
                let b = next() % vocabulary.len() as u64;
                let word = &vocabulary[a.min(b) as usize];
                if k > 0 {
                    text.push(if next() % 7 == 0 { '\t' } else { ' ' });
                }
                text.push_str(word);
                *counts.entry(word.clone()).or_insert(0) += 1;
            }
            text.push('\n');
        }
        std::fs::write(dir.join(format!("part-{f:02}.txt")), text).unwrap();
    }
    counts
}

/// WordCount's output: every `part-r-*` file of `dir`, merged.
fn read_output(dir: &Path) -> (BTreeMap<String, u64>, usize) {
    assert!(
        dir.join("_SUCCESS").exists(),
        "no _SUCCESS in {}",
        dir.display()
    );
    let mut counts = BTreeMap::new();
    let mut parts = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("part-r-") {
            continue;
        }
        parts += 1;
        for line in std::fs::read_to_string(e.path()).unwrap().lines() {
            let (word, n) = line
                .rsplit_once('\t')
                .unwrap_or_else(|| panic!("bad line {line:?}"));
            let previous = counts.insert(word.to_string(), n.parse::<u64>().unwrap());
            assert!(previous.is_none(), "{word} in two reducers' output");
        }
    }
    (counts, parts)
}

fn assert_counts(expected: &BTreeMap<String, u64>, got: &BTreeMap<String, u64>) {
    assert_eq!(expected.len(), got.len(), "distinct words");
    for (word, n) in expected {
        assert_eq!(got.get(word), Some(n), "count of {word}");
    }
}

/// The plugin's own JUnit tests run where tests/run.sh builds the plugin (`mvn package` in
/// `hadoop-plugin/dist/assemble.sh`, which fails the suite when they fail); this test checks
/// their Surefire reports: they ran, enough of them, and none failed.
#[test]
fn plugin_unit_tests_pass() {
    // Surefire's summary line per class: "Tests run: N, Failures: F, Errors: E, Skipped: S".
    let reports = repo_root().join("hadoop-plugin/target/surefire-reports");
    let count = |text: &str, key: &str| -> usize {
        text.split(key)
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0)
    };
    let (mut ran, mut broken) = (0, 0);
    let entries = std::fs::read_dir(&reports).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: build the plugin with its tests first (tests/run.sh runs \
             hadoop-plugin/dist/assemble.sh)",
            reports.display()
        )
    });
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".txt") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            ran += count(&text, "Tests run: ");
            broken += count(&text, "Failures: ") + count(&text, "Errors: ");
        }
    }
    assert!(ran >= 10, "only {ran} plugin tests ran");
    assert_eq!(broken, 0, "plugin tests failed: see {}", reports.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wordcount_runs_on_tasktrackers_launched_by_remesos() {
    let _serial = SERIAL.lock().await;
    let mut s = Setup::start("wordcount", &[]).await;
    let prefix = s.framework_prefix();

    // Nothing to do yet: no TaskTracker is launched for an idle JobTracker — once the
    // scheduler has been offered resources and declined them.
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.metric("master/messages_decline_offers").await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the idle JobTracker declined no offer"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let state = s.state().await;
    assert!(
        tracker_tasks(framework(&state, &prefix).unwrap()).is_empty(),
        "{state}"
    );

    // ~6 MB in 6 files: 6 splits (local files under the 32 MB local block size).
    let input = s.work.join("input");
    let expected = generate_input(&input, 6, 1 << 20, 42);
    let out1 = s.work.join("out-1");
    let mut job = s.submit(
        &["wordcount", input.to_str().unwrap(), out1.to_str().unwrap()],
        "job-1.log",
    );

    // While it runs, the master shows the framework with TaskTracker tasks RUNNING.
    let state = wait_for(
        &s.view,
        Duration::from_secs(120),
        "a RUNNING TaskTracker task",
        |st| {
            framework(st, &prefix).is_some_and(|f| {
                tracker_tasks(f)
                    .iter()
                    .any(|(_, state)| state == "TASK_RUNNING")
            })
        },
    )
    .await;
    let f = framework(&state, &prefix).unwrap();
    assert_eq!(f["active"], Value::Bool(true), "{f}");
    s.wait_job(&mut job, Duration::from_secs(300)).await;

    let (got, parts) = read_output(&out1);
    assert_eq!(parts, 1, "one reducer by default");
    assert_counts(&expected, &got);
    let job_log = std::fs::read_to_string(&job.log).unwrap();
    assert!(
        job_log.contains("Launched map tasks=6"),
        "6 splits expected:\n{job_log}"
    );

    // Second job, 3 reducers.
    let out2 = s.work.join("out-3-reducers");
    let mut job = s.submit(
        &[
            "wordcount",
            "-Dmapred.reduce.tasks=3",
            input.to_str().unwrap(),
            out2.to_str().unwrap(),
        ],
        "job-2.log",
    );
    s.wait_job(&mut job, Duration::from_secs(300)).await;
    let (got, parts) = read_output(&out2);
    assert_eq!(parts, 3);
    assert_counts(&expected, &got);

    // Every tracker launched was a Mesos task of this framework; after the jobs they go idle
    // and are killed (idle check every 1 s, 3 checks), their resources returned.
    // The executors exit too, so the framework holds nothing.
    let state = wait_for(
        &s.view,
        Duration::from_secs(90),
        "idle TaskTrackers killed and their executors gone",
        |st| {
            framework(st, &prefix).is_some_and(|f| {
                let tasks = tracker_tasks(f);
                !tasks.is_empty()
                    && tasks.iter().all(|(_, state)| {
                        !["TASK_RUNNING", "TASK_STAGING", "TASK_STARTING"].contains(&state.as_str())
                    })
                    && f["used_resources"]["cpus"].as_f64() == Some(0.0)
            })
        },
    )
    .await;
    let f = framework(&state, &prefix).unwrap();
    let tasks = tracker_tasks(f);
    assert!(
        tasks.iter().all(|(_, state)| state == "TASK_KILLED"),
        "trackers should end KILLED by the idle check: {tasks:?}"
    );
    let jt_log = std::fs::read_to_string(&s.jobtracker.as_ref().unwrap().log).unwrap();
    assert!(
        jt_log.contains("idle for 3 checks: killing it"),
        "{}",
        s.jobtracker.as_ref().unwrap().log_tail()
    );

    // The JobTracker stops: the framework is torn down.
    s.jobtracker
        .take()
        .unwrap()
        .terminate(Duration::from_secs(30));
    wait_for(
        &s.view,
        Duration::from_secs(30),
        "the framework torn down",
        |st| st.is_object() && framework(st, &prefix).is_none(),
    )
    .await;
    drop(s.cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_survives_a_killed_tasktracker_executor() {
    let _serial = SERIAL.lock().await;
    let s = Setup::start("failover", &[]).await;
    let prefix = s.framework_prefix();
    let input = s.work.join("input");
    let expected = generate_input(&input, 10, 1 << 20, 7);
    let out = s.work.join("out");
    let mut job = s.submit(
        &["wordcount", input.to_str().unwrap(), out.to_str().unwrap()],
        "job.log",
    );

    // Mid-job: once a task JVM (org.apache.hadoop.mapred.Child) runs under one of this
    // cluster's sandboxes, SIGKILL the TaskTracker executor JVM that started it.
    let sandboxes = s.work.join("mesos");
    let victim = while_job_runs(&mut job, "no task JVM started", || {
        executor_with_running_task(&sandboxes)
    })
    .await;
    // SAFETY: kill(2) on a JVM this test started (through remesos); no memory involved.
    unsafe {
        libc::kill(victim, libc::SIGKILL);
    }

    s.wait_job(&mut job, Duration::from_secs(400)).await;
    let (got, _) = read_output(&out);
    assert_counts(&expected, &got);

    // Mesos saw the tracker die (the job was not merely finished before the kill).
    let state = s.state().await;
    let tasks = tracker_tasks(framework(&state, &prefix).unwrap());
    assert!(
        tasks
            .iter()
            .any(|(_, st)| st == "TASK_FAILED" || st == "TASK_LOST"),
        "the killed tracker's task should have failed: {tasks:?}"
    );
    let jt_log = std::fs::read_to_string(&s.jobtracker.as_ref().unwrap().log).unwrap();
    assert!(
        jt_log.contains("Lost tracker"),
        "Hadoop should have been told the tracker is lost"
    );
}

/// Polls `find` every 200 ms until it finds something; fails with `what` when `job` ends
/// first or 180 s pass.
async fn while_job_runs<T>(job: &mut Proc, what: &str, mut find: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(found) = find() {
            return found;
        }
        assert!(
            !job.exited() && Instant::now() < deadline,
            "{what} while the job ran\n{}",
            job.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// pid of a MesosExecutor JVM under `sandboxes` that has a task JVM child, if any.
fn executor_with_running_task(sandboxes: &Path) -> Option<i32> {
    let mut executors = vec![];
    let mut children_parents = vec![];
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // The executor runs in the Hadoop home; its sandbox is in its environment.
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let sandbox = String::from_utf8_lossy(&environ)
            .split('\0')
            .find_map(|kv| kv.strip_prefix("MESOS_SANDBOX=").map(PathBuf::from));
        if cmdline.contains("org.apache.hadoop.mapred.MesosExecutor")
            && sandbox.is_some_and(|s| s.starts_with(sandboxes))
        {
            executors.push(pid);
        }
        if cmdline.contains("org.apache.hadoop.mapred.Child") {
            children_parents.push(parent_pids(pid));
        }
    }
    executors.into_iter().find(|e| {
        children_parents
            .iter()
            .any(|ancestors| ancestors.contains(e))
    })
}

fn parent_pids(mut pid: i32) -> Vec<i32> {
    let mut out = vec![];
    for _ in 0..8 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            break;
        };
        // "pid (comm) state ppid ...": comm may hold spaces; split after the last ')'.
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            break;
        };
        if ppid <= 1 {
            break;
        }
        out.push(ppid);
        pid = ppid;
    }
    out
}

/// `hadoop.tar.gz` whose top directory is `hadoop-1.2.1/`: the assembled home, packed the way
/// the old plugin's README told users to (`tar czf hadoop.tar.gz hadoop-1.2.1`). Once per binary.
fn old_layout_tarball() -> PathBuf {
    static TARBALL: OnceLock<PathBuf> = OnceLock::new();
    TARBALL
        .get_or_init(|| {
            let home = hadoop_home();
            let dir = scratch().join("old-layout");
            std::fs::create_dir_all(&dir).unwrap();
            let tarball = dir.join("hadoop.tar.gz");
            let out = Command::new("tar")
                .arg("czf")
                .arg(&tarball)
                .arg("-C")
                .arg(home.parent().unwrap())
                .arg(home.file_name().unwrap())
                .output()
                .expect("run tar");
            assert!(
                out.status.success(),
                "tar: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            tarball
        })
        .clone()
}

/// Waits for a submitted job to end and returns whether it succeeded. Fails at once when the
/// framework has more than `max_failed` FAILED TaskTracker tasks: a relaunch storm fills the
/// disk with sandboxes (the old-layout test on the tree before issue 12 item 5: 882 launches,
/// each extracting the tarball, 47 GB in 5 minutes).
async fn job_outcome(s: &Setup, job: &mut Proc, timeout: Duration, max_failed: usize) -> bool {
    let deadline = Instant::now() + timeout;
    let prefix = s.framework_prefix();
    loop {
        if let Ok(Some(status)) = job.child.try_wait() {
            return status.success();
        }
        let state = s.state().await;
        let failed = framework(&state, &prefix).map_or(0, |f| {
            tracker_tasks(f)
                .iter()
                .filter(|(_, st)| st == "TASK_FAILED")
                .count()
        });
        assert!(
            failed <= max_failed,
            "{failed} failed TaskTracker launches (at most {max_failed} expected)\n{}",
            s.jobtracker.as_ref().unwrap().log_tail()
        );
        assert!(
            Instant::now() < deadline,
            "job still running after {timeout:?}\n{}\n{}",
            job.log_tail(),
            s.jobtracker.as_ref().unwrap().log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Issue 12 item 5, from the old mesos/hadoop plugin (ResourcePolicy: the executor command
/// was `cd <URI file name up to its first dot>*`) and its README (`hadoop.tar.gz`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_plugins_tarball_layout_runs_a_job() {
    let _serial = SERIAL.lock().await;
    let tarball = old_layout_tarball();
    let s = Setup::start(
        "old-layout",
        &[
            // No executor directory (the other tests' default): the URI alone locates Hadoop.
            ("mapred.mesos.executor.directory", String::new()),
            (
                "mapred.mesos.executor.uri",
                format!("file://{}", tarball.display()),
            ),
            // Keys of the old plugin that remesos ignores: each logged by name.
            ("mapred.mesos.docker.image", "mesos/hadoop".into()),
            ("mapred.mesos.metrics.enabled", "false".into()),
            ("mapred.mesos.state.file", "/tmp/hadoop-mesos-state".into()),
            // roll_back branch: the principal goes to FrameworkInfo.
            ("mapred.mesos.framework.principal", "hadoop-e2e".into()),
        ],
    )
    .await;
    let prefix = s.framework_prefix();

    let input = s.work.join("input");
    let expected = generate_input(&input, 2, 64 << 10, 5);
    let out = s.work.join("out");
    let mut job = s.submit(
        &["wordcount", input.to_str().unwrap(), out.to_str().unwrap()],
        "job.log",
    );
    assert!(
        job_outcome(&s, &mut job, Duration::from_secs(300), 2).await,
        "the job failed\n{}\n{}",
        job.log_tail(),
        s.jobtracker.as_ref().unwrap().log_tail()
    );
    let (got, _) = read_output(&out);
    assert_counts(&expected, &got);

    // The TaskTracker ran from the fetched tarball's hadoop-1.2.1/ and nothing failed.
    let state = s.state().await;
    let f = framework(&state, &prefix).unwrap();
    assert_eq!(f["principal"], Value::from("hadoop-e2e"), "{f}");
    let mut stack = vec![s.work.join("mesos")];
    let mut extracted = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.ends_with("hadoop-1.2.1") && path.join("bin/hadoop").exists() {
                extracted += 1;
            } else if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            }
        }
    }
    assert!(extracted > 0, "no sandbox holds the fetched hadoop-1.2.1/");
    let tasks = tracker_tasks(f);
    assert!(!tasks.is_empty());
    assert!(
        tasks
            .iter()
            .all(|(_, st)| st != "TASK_FAILED" && st != "TASK_LOST"),
        "{tasks:?}"
    );
    let jt_log = std::fs::read_to_string(&s.jobtracker.as_ref().unwrap().log).unwrap();
    for key in [
        "mapred.mesos.docker.image",
        "mapred.mesos.metrics.enabled",
        "mapred.mesos.state.file",
    ] {
        assert!(
            jt_log.lines().any(|l| l.contains(" WARN ")
                && l.contains(&format!("{key} (a key of the old mesos/hadoop plugin)"))
                && l.ends_with("ignored")),
            "no WARN naming {key} as ignored\n{}",
            s.jobtracker.as_ref().unwrap().log_tail()
        );
    }
}

/// Issue 12 item 5: launches that keep failing (here an `hdfs://` URI the agent cannot
/// fetch; Mesos's fetcher fails the task, src/launcher/fetcher.cpp) back off and stop at the
/// cap, and the user is told where a Hadoop user looks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_tasktracker_launches_back_off_and_fail_the_job() {
    let _serial = SERIAL.lock().await;
    let s = Setup::start(
        "failing-launches",
        &[
            ("mapred.mesos.executor.directory", String::new()),
            (
                "mapred.mesos.executor.uri",
                "hdfs://namenode.invalid:9000/hadoop.tar.gz".into(),
            ),
            ("mapred.mesos.tracker.failure.backoff.seconds", "1".into()),
            (
                "mapred.mesos.tracker.failure.backoff.max.seconds",
                "2".into(),
            ),
            ("mapred.mesos.tracker.failure.max", "3".into()),
        ],
    )
    .await;
    let prefix = s.framework_prefix();
    // One small file in one split: the job's demand (setup + 1 map, 1 reduce) fits one
    // TaskTracker, so launches are one at a time and the cap is an exact count (the old API's
    // default of 2 map tasks would need two trackers launched side by side). `grep` submits
    // through JobClient.runJob, which prints a failed job's failure info.
    let input = s.work.join("input");
    generate_input(&input, 1, 4 << 10, 9);
    let out = s.work.join("out");
    let mut job = s.submit(
        &[
            "grep",
            "-Dmapred.map.tasks=1",
            input.to_str().unwrap(),
            out.to_str().unwrap(),
            "w1.*",
        ],
        "job.log",
    );
    let succeeded = job_outcome(&s, &mut job, Duration::from_secs(240), 3).await;
    let job_log = std::fs::read_to_string(&job.log).unwrap();
    let jt_log = std::fs::read_to_string(&s.jobtracker.as_ref().unwrap().log).unwrap();
    assert!(
        !succeeded,
        "the job cannot succeed without a TaskTracker\n{job_log}"
    );

    // The job failed with the reason as its diagnostic, printed by the job client.
    let failed = job_log
        .lines()
        .find(|l| l.contains("Job Failed:"))
        .unwrap_or_else(|| panic!("no 'Job Failed:' line\n{job_log}"));
    assert!(
        failed.contains("MesosScheduler: 3 consecutive TaskTracker launches failed"),
        "{failed}"
    );
    assert!(
        failed.contains("hdfs"),
        "the fetch failure is named: {failed}"
    );

    // The JobTracker log has a WARN per failure with Mesos's state and message.
    let warns: Vec<&str> = jt_log
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("failed to start: TASK_FAILED"))
        .collect();
    assert_eq!(
        warns.len(),
        3,
        "{}",
        s.jobtracker.as_ref().unwrap().log_tail()
    );
    assert!(
        !jt_log.contains("could not complete the failure"),
        "the job must reach FAILED without a cleanup task"
    );
    assert!(warns.iter().all(|l| l.contains("hdfs")), "{warns:?}");
    assert!(
        warns[2].contains("failing the waiting jobs [job_"),
        "{}",
        warns[2]
    );

    // Exactly the cap's worth of TaskTracker tasks, all FAILED; and no more afterwards (the
    // failed job left no demand): checked again after more than the longest backoff.
    let tasks_now = || async {
        let state = s.state().await;
        tracker_tasks(framework(&state, &prefix).unwrap())
    };
    let tasks = tasks_now().await;
    assert_eq!(tasks.len(), 3, "{tasks:?}");
    assert!(tasks.iter().all(|(_, st)| st == "TASK_FAILED"), "{tasks:?}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(tasks_now().await.len(), 3, "launches after the job failed");
}

/// The environment of a TaskTracker's executor (`MesosExecutor` JVM) running under
/// `sandboxes`, if one runs.
fn tasktracker_executor_env(sandboxes: &Path) -> Option<BTreeMap<String, String>> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmdline).contains("org.apache.hadoop.mapred.MesosExecutor") {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let env: BTreeMap<String, String> = String::from_utf8_lossy(&environ)
            .split('\0')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if env
            .get("MESOS_SANDBOX")
            .is_some_and(|s| Path::new(s).starts_with(sandboxes))
        {
            return Some(env);
        }
    }
    None
}

/// Issue 14 item 5: the Hadoop plugin authenticates as Mesos's did with the keys of
/// mesos/hadoop's `roll_back` branch (`mapred.mesos.framework.principal`,
/// `mapred.mesos.framework.secretfile`: `MesosScheduler.start` built the driver's
/// `Credential` from them) on a cluster with `--authenticate_frameworks`, `--credentials`,
/// the agents' `--credential`, executor tokens and TLS on every link (the daemons serve
/// https only: no `LIBPROCESS_SSL_SUPPORT_DOWNGRADE`). The TaskTrackers' executors get
/// libprocess's TLS settings from the agent's `--executor_environment_variables`, as
/// Mesos's docs/ssl.md tells operators (a Mesos agent passes executors none of its own
/// environment, src/slave/slave.cpp `executorEnvironment`), and their token in
/// `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`; the job's counts are checked. A JobTracker with a
/// wrong secret never registers: its driver calls `Scheduler.error("Master refused
/// authentication")` (src/sched/sched.cpp on a refused authentication), which the plugin
/// logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wordcount_runs_on_an_authenticated_tls_cluster() {
    let _serial = SERIAL.lock().await;
    let s = Setup::start_on("secure", &[], true).await;
    let secure = s.secure.as_ref().unwrap();
    let prefix = s.framework_prefix();
    let state = s.state().await;
    let f = framework(&state, &prefix).unwrap();
    assert_eq!(f["principal"], Value::from(HADOOP.0), "{f}");
    let jt_log = std::fs::read_to_string(&s.jobtracker.as_ref().unwrap().log).unwrap();
    assert!(
        jt_log.contains(&format!(
            "MesosScheduler: authenticating as principal '{}'",
            HADOOP.0
        )),
        "{}",
        s.jobtracker.as_ref().unwrap().log_tail()
    );

    let input = s.work.join("input");
    let expected = generate_input(&input, 2, 256 << 10, 13);
    let out = s.work.join("out");
    let mut job = s.submit(
        &["wordcount", input.to_str().unwrap(), out.to_str().unwrap()],
        "job.log",
    );
    // While it runs: a TaskTracker's executor has the operator's TLS settings and its token
    // (the agent accepts executors only over https and only with their token).
    let sandboxes = s.work.join("mesos");
    let env = while_job_runs(&mut job, "no TaskTracker executor ran", || {
        tasktracker_executor_env(&sandboxes)
    })
    .await;
    assert_eq!(
        env.get("LIBPROCESS_SSL_ENABLED").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        env.get("LIBPROCESS_SSL_CA_FILE"),
        Some(&secure.pki.path("ca.pem"))
    );
    assert!(env.contains_key("MESOS_EXECUTOR_AUTHENTICATION_TOKEN"));
    s.wait_job(&mut job, Duration::from_secs(300)).await;
    let (got, _) = read_output(&out);
    assert_counts(&expected, &got);
    let state = s.state().await;
    let tasks = tracker_tasks(framework(&state, &prefix).unwrap());
    assert!(!tasks.is_empty(), "{state}");
    assert!(
        tasks
            .iter()
            .all(|(_, st)| st != "TASK_FAILED" && st != "TASK_LOST"),
        "{tasks:?}"
    );

    // The same JobTracker with a wrong secret: refused, never registered.
    let lib = libmesos();
    let wrong_port = free_port();
    let mut wrong = JobTracker {
        work: &s.work,
        home: &s.home,
        java_home: &s.java_home,
        lib: &lib,
        master: &s.master,
        secure: Some(secure),
    }
    .spawn(
        &s.work.join("conf-wrong"),
        wrong_port,
        "jobtracker-wrong.log",
        &secure.framework_conf("wrong.secret"),
    );
    let refusal = "Mesos error: Master refused authentication";
    let deadline = Instant::now() + Duration::from_secs(90);
    while !std::fs::read_to_string(&wrong.log)
        .unwrap_or_default()
        .contains(refusal)
    {
        assert!(
            !wrong.exited() && Instant::now() < deadline,
            "the JobTracker with a wrong secret did not report the refusal\n{}",
            wrong.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let state = s.state().await;
    let wrong_prefix = format!("Hadoop: (RPC port: {wrong_port}");
    for key in ["frameworks", "completed_frameworks"] {
        assert!(
            state[key].as_array().into_iter().flatten().all(|f| {
                !f["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&wrong_prefix))
            }),
            "the refused JobTracker's framework is in {key}: {state}"
        );
    }
    assert!(framework(&state, &prefix).is_some(), "{state}");
    wrong.terminate(Duration::from_secs(30));
}
