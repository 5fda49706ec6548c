//! Issue 14, "Tests and figures": one cluster with everything an operator turns on — every
//! `--authenticate_*` of the master and the agent, `--credentials`, the agent's
//! `--credential`, executor tokens (`--authenticate_http_executors --jwt_secret_key`), an
//! `--acls` file that keeps two principals apart, and TLS from `LIBPROCESS_SSL_*` with
//! certificates made at test time — and the real clients, one after the other, each running
//! tasks with the right credential and refused with a wrong or missing one:
//!
//! - `remesos execute --principal --secret` over TLS (and refused by a client that does not
//!   trust the cluster's CA: the TLS is real);
//! - pymesos 0.3.15 with `principal`/`secret`. pymesos cannot speak TLS: its event stream is
//!   a plain `socket.socket()` (pymesos/process.py `Connection`) and its calls a plain
//!   `http.client.HTTPConnection` (scheduler.py `_get_conn`); an `https://` master is split
//!   on `:` into three parts and fails, and no environment variable changes either. So the
//!   cluster runs with `LIBPROCESS_SSL_SUPPORT_DOWNGRADE=true` (libprocess's plain-and-TLS
//!   port for a migration) and pymesos reaches it in plain HTTP, still authenticated;
//! - a Java framework on Apache's 1.11.0 jar through our libmesos.so (the 4-argument
//!   `MesosSchedulerDriver(…, credential)`), over TLS;
//! - Spark 3.5 (`spark.mesos.principal`/`spark.mesos.secret`) through the same libmesos.so,
//!   over TLS: SparkPi's answer is checked.
//!
//! Then the ACLs between principals: alice (roles `*` and `alice`, tasks as any user) cannot
//! see bob's framework (roles `bob`, tasks as `nobody`) in the state endpoints or
//! GET_FRAMEWORKS, cannot kill its task or tear it down (operator API, `/teardown`, the
//! scheduler API), cannot take it over by resubscribing with its id; bob cannot register in
//! alice's role. An agent without its credential is refused; an executor's token acts only
//! for that executor.
//!
//! Needs root (bob's tasks run as `nobody`: the agent switches user), `curl`, a JDK, the
//! pymesos/pyspark venv (`bash tests/python/setup_venv.sh`), Spark's set-up (`bash
//! tests/spark/setup.sh`: `.venv-spark35` and `.cache/spark/remesos-sparkpi.jar`), Apache's
//! jar from Maven, and `cargo build --release -p remesos -p remesos-jni --lib --bins`;
//! tests/run.sh prepares all of it. Each missing piece fails the test, saying which.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start processes and read the clock by design"
)]

mod support;

#[path = "../../jni-driver/tests/support/mod.rs"]
mod jni_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::output_text as text;
use support::pki::Pki;
use support::{Daemon, free_port};

const ALICE: (&str, &str) = ("alice", "alice-secret");
const BOB: (&str, &str) = ("bob", "bob-secret");
/// The agents' credential (`--credential`), one of the master's `--credentials`.
const AGENT: (&str, &str) = ("agent", "agent-secret");
const JWT_KEY: &str = "the agent's executor key, at least 32 bytes";

/// Mesos's JSON ACLs (include/mesos/authorizer/acls.proto), permissive for what they do not
/// name: alice registers in `*` or `alice` and runs tasks as anyone (Spark, the Java
/// framework and pymesos run as root); bob registers in `bob` only and runs tasks as
/// `nobody`; each sees the frameworks, tasks and executors of its own users and tears down
/// only its own frameworks; nobody else does any of it.
fn acls() -> Value {
    let both = |key: &str, alice: Value, bob: Value| {
        json!([
            {"principals": {"values": ["alice"]}, key: alice},
            {"principals": {"values": ["bob"]}, key: bob},
            {"principals": {"type": "ANY"}, key: {"type": "NONE"}},
        ])
    };
    let users = |alice: &str, bob: &str| {
        json!([
            {"principals": {"values": ["alice"]}, "users": {"values": [alice]}},
            {"principals": {"values": ["bob"]}, "users": {"values": [bob]}},
            {"principals": {"type": "ANY"}, "users": {"type": "NONE"}},
        ])
    };
    json!({
        "permissive": true,
        "register_frameworks": both("roles", json!({"values": ["*", "alice"]}), json!({"values": ["bob"]})),
        "run_tasks": both("users", json!({"type": "ANY"}), json!({"values": ["nobody"]})),
        "view_frameworks": users("root", "nobody"),
        "view_tasks": users("root", "nobody"),
        "view_executors": users("root", "nobody"),
        "teardown_frameworks": both(
            "framework_principals",
            json!({"values": ["alice"]}),
            json!({"values": ["bob"]}),
        ),
    })
}

/// The cluster: a master and one agent, processes of their own, with their PKI and files.
struct SecureCluster {
    pki: Pki,
    dir: PathBuf,
    master: String,
    agent: String,
    agent_work_dir: PathBuf,
    daemons: Vec<Daemon>,
}

impl Drop for SecureCluster {
    fn drop(&mut self) {
        // The agent first (SIGTERM: it kills its executors), then the master.
        for daemon in self.daemons.iter_mut().rev() {
            daemon.terminate();
        }
        self.daemons.clear();
        if std::thread::panicking() {
            eprintln!("the cluster's files are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl SecureCluster {
    /// The daemons' environment: TLS with their certificate, server certificates verified
    /// (the agent's gRPC link to the master, the executors' link to the agent), plain
    /// clients served on the same port for pymesos.
    fn daemon_env(pki: &Pki) -> Vec<(String, String)> {
        pki.env(
            "daemon",
            &[
                ("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true"),
                ("LIBPROCESS_SSL_SUPPORT_DOWNGRADE", "true"),
            ],
        )
    }

    /// A client's environment: TLS, verifying the daemons against the cluster's CA.
    fn client_env(&self) -> Vec<(String, String)> {
        self.pki
            .env("client", &[("LIBPROCESS_SSL_VERIFY_SERVER_CERT", "true")])
    }

    fn file(dir: &Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    async fn start() -> SecureCluster {
        let dir = std::env::temp_dir().join(format!("remesos-secure-cluster-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki::make("secure-cluster");
        let entries = [ALICE, BOB, AGENT].map(|(p, s)| json!({"principal": p, "secret": s}));
        let credentials = Self::file(
            &dir,
            "credentials.json",
            &json!({ "credentials": entries }).to_string(),
        );
        let acls = Self::file(&dir, "acls.json", &acls().to_string());
        let env = Self::daemon_env(&pki);
        let master_flags = vec![
            "--authenticate_frameworks".to_string(),
            "--authenticate_http_frameworks".into(),
            "--http_framework_authenticators=basic".into(),
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
            "--authenticate_agents".into(),
            format!("--credentials={credentials}"),
            format!("--acls=file://{acls}"),
        ];
        // Plain `/health` answers thanks to the downgrade; it is never authenticated.
        let (master_daemon, master) = support::spawn_master_env(&dir, &master_flags, &env).await;
        let mut cluster = SecureCluster {
            pki,
            master,
            agent: String::new(),
            agent_work_dir: dir.join("agent"),
            dir,
            daemons: vec![master_daemon],
        };
        let port = free_port();
        let flags = cluster.agent_flags(Some(AGENT));
        let agent = support::spawn_agent_env(
            &cluster.master,
            port,
            &cluster.agent_work_dir,
            &flags,
            Some(&cluster.dir.join("agent.log")),
            &env,
        );
        cluster.daemons.push(agent);
        cluster.agent = format!("127.0.0.1:{port}");
        cluster.wait_for(
            "the agent did not register over TLS with its credential",
            |c| c.registered_agents() == Some(1),
        );
        cluster
    }

    /// The agent's security flags, with `credential` as its `--credential` when given.
    fn agent_flags(&self, credential: Option<(&str, &str)>) -> Vec<String> {
        let mut flags = vec![
            "--authenticate_http_readonly".to_string(),
            "--authenticate_http_readwrite".into(),
            format!(
                "--http_credentials={}",
                self.dir.join("credentials.json").display()
            ),
            "--authenticate_http_executors".into(),
            format!(
                "--jwt_secret_key={}",
                Self::file(&self.dir, "jwt.key", JWT_KEY)
            ),
            format!("--acls=file://{}", self.dir.join("acls.json").display()),
        ];
        if let Some((principal, secret)) = credential {
            let path = Self::file(
                &self.dir,
                &format!("credential-{principal}.json"),
                &json!({"principal": principal, "secret": secret}).to_string(),
            );
            flags.push(format!("--credential={path}"));
        }
        flags
    }

    /// Waits (at most 60 s) until `check` holds.
    fn wait_for(&self, what: &str, mut check: impl FnMut(&SecureCluster) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "{what}\n--- agent log\n{}",
                std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// curl over https to `addr`, trusting the cluster's CA.
    fn curl(&self, addr: &str, request: &Request) -> Reply {
        let ca = self.pki.path("ca.pem");
        request.run(&format!("https://{addr}"), &["--cacert", &ca])
    }

    fn registered_agents(&self) -> Option<usize> {
        let reply = self.curl(&self.master, &Request::get("/master/slaves").user(ALICE));
        let slaves: Value = serde_json::from_str(&reply.body).ok()?;
        slaves["slaves"].as_array().map(Vec::len)
    }

    /// The frameworks `user` sees in `/master/state` (active ones), by id.
    fn visible_frameworks(&self, user: (&str, &str)) -> Vec<String> {
        let reply = self.curl(&self.master, &Request::get("/master/state").user(user));
        assert_eq!(reply.status, 200, "{reply:?}");
        let state: Value = serde_json::from_str(&reply.body).unwrap();
        ids(&state["frameworks"])
    }

    /// `remesos execute` over TLS with `args`, at most 90 s.
    fn execute(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_remesos"));
        cmd.args(["execute", &format!("--master={}", self.master)])
            .args(["--resources=cpus:0.1;mem:32"])
            .args(args)
            .envs(self.client_env());
        run(cmd, Duration::from_secs(90))
    }
}

/// The `id`s of a JSON array of frameworks, sorted.
fn ids(frameworks: &Value) -> Vec<String> {
    let mut ids: Vec<String> = frameworks
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

/// One curl request: method, path, credential, headers, body.
#[derive(Default)]
struct Request {
    path: String,
    user: Option<(String, String)>,
    headers: Vec<String>,
    body: Option<String>,
    /// curl's `--max-time` (a streaming SUBSCRIBE is cut there).
    max_time: u32,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    body: String,
}

impl Request {
    fn get(path: &str) -> Request {
        Request {
            path: path.into(),
            max_time: 10,
            ..Default::default()
        }
    }

    /// A JSON POST.
    fn post(path: &str, body: Value) -> Request {
        Request {
            body: Some(body.to_string()),
            headers: vec!["Content-Type: application/json".into()],
            ..Request::get(path)
        }
    }

    fn user(mut self, (principal, secret): (&str, &str)) -> Request {
        self.user = Some((principal.into(), secret.into()));
        self
    }

    fn header(mut self, header: String) -> Request {
        self.headers.push(header);
        self
    }

    fn run(&self, base: &str, tls: &[&str]) -> Reply {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-N", "-w", "\n%{http_code}"])
            .args(["--max-time", &self.max_time.to_string()])
            .args(tls);
        if let Some((p, s)) = &self.user {
            cmd.args(["-u", &format!("{p}:{s}")]);
        }
        for h in &self.headers {
            cmd.args(["-H", h]);
        }
        if let Some(body) = &self.body {
            cmd.args(["-d", body]);
        }
        let out = cmd
            .arg(format!("{base}{}", self.path))
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        Reply {
            status: status.trim().parse().unwrap_or(0),
            body: body.to_string(),
        }
    }
}

/// Runs `cmd` to its end, killing it after `timeout` (the test then fails on its output).
fn run(mut cmd: Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default().into_bytes(),
        stderr: err.join().unwrap_or_default().into_bytes(),
    }
}

fn assert_refused_with(output: &Output, needle: &str, what: &str) {
    assert!(!output.status.success(), "{what} ran:\n{}", text(output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(needle),
        "{what}: no '{needle}' in:\n{}",
        text(output)
    );
}

// ---------------------------------------------------------------------------------------
// The clients

/// `remesos execute` (mesos-execute's `--principal`/`--secret`) over TLS.
fn remesos_execute(cluster: &SecureCluster) {
    let ok = cluster.execute(&[
        "--name=secure-execute",
        "--command=echo secure-execute-task",
        &format!("--principal={}", ALICE.0),
        &format!("--secret={}", ALICE.1),
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("secure-execute-task"),
        "{}",
        text(&ok)
    );
    let name = "--name=secure-execute-refused";
    let wrong = cluster.execute(&[name, "--command=true", "--principal=alice", "--secret=x"]);
    assert_refused_with(&wrong, "401", "a wrong secret");
    let none = cluster.execute(&[name, "--command=true"]);
    assert_refused_with(&none, "401", "no credential");
    // A client that trusts another CA refuses the master: the connection is TLS.
    let mut untrusting = Command::new(env!("CARGO_BIN_EXE_remesos"));
    untrusting
        .args(["execute", &format!("--master={}", cluster.master)])
        .args([name, "--command=true", "--principal=alice", "--secret=x"])
        .envs(cluster.client_env())
        .env("LIBPROCESS_SSL_CA_FILE", cluster.pki.path("rogue-ca.pem"));
    let out = run(untrusting, Duration::from_secs(60));
    assert_refused_with(&out, "certificate", "a client trusting another CA");
}

/// pymesos (PyPI 0.3.15): plain HTTP on the downgrading port, HTTP Basic on every request.
fn pymesos(cluster: &SecureCluster) {
    let python = std::env::var("REMESOS_PYTHON")
        .unwrap_or_else(|_| format!("{}/../.venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    assert!(
        Path::new(&python).exists(),
        "{python} is missing: run `bash tests/python/setup_venv.sh` (tests/run.sh does)"
    );
    let script = format!(
        "{}/../tests/python/pymesos_scheduler.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let pymesos = |credential: &[&str]| {
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .args([
                "--master",
                &cluster.master,
                "--tasks",
                "2",
                "--timeout",
                "60",
            ])
            .args(credential);
        run(cmd, Duration::from_secs(90))
    };
    let ok = pymesos(&["--principal", ALICE.0, "--secret", ALICE.1]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout)
            .matches("TASK_FINISHED")
            .count(),
        2,
        "{}",
        text(&ok)
    );
    for credential in [&["--principal", ALICE.0, "--secret", "wrong"][..], &[][..]] {
        let refused = pymesos(credential);
        assert_refused_with(&refused, "Failed with HTTP 401", &format!("{credential:?}"));
    }
}

/// A Java framework on Apache's 1.11.0 jar through our libmesos.so, over TLS: with the
/// 4-argument constructor's `Credential` it runs its tasks; with a wrong secret or none Apache's
/// driver reports `error("Master refused authentication")` and DRIVER_ABORTED.
fn java_on_apaches_jar(cluster: &SecureCluster) {
    let (_, library) = jni_support::artifacts();
    let jar = "apache-1.11.0";
    let cp = jni_support::compile_examples(jar, &jni_support::classpath(jar));
    let env = cluster.client_env();
    let run = |credential: &[&str]| {
        let mut args = vec![cluster.master.as_str(), "2", "echo java-secure"];
        args.extend_from_slice(credential);
        jni_support::run_java_checked(
            &cp,
            "org.remesos.examples.CommandScheduler",
            &args,
            Some(library.as_path()),
            Duration::from_secs(120),
            true,
            &env,
        )
    };
    let ok = run(&[ALICE.0, ALICE.1]);
    assert!(
        ok.code == Some(0) && ok.has("driver ended: DRIVER_STOPPED, finished 2/2"),
        "{}",
        ok.dump()
    );
    // A wrong secret, and no credential (the 3-argument constructor).
    for credential in [&[ALICE.0, "wrong"][..], &[][..]] {
        let refused = run(credential);
        assert!(
            refused.has("error: Master refused authentication")
                && refused.has("driver ended: DRIVER_ABORTED, finished 0/2"),
            "{credential:?}: {}",
            refused.dump()
        );
    }
}

/// Spark 3.5's SparkPi (`--master mesos://…`, `spark.mesos.principal`/`spark.mesos.secret`)
/// through our libmesos.so over TLS: the driver's JVM inherits `LIBPROCESS_SSL_*`; the
/// executors are command tasks whose executor speaks TLS to the agent. A wrong secret fails
/// the SparkContext with the driver's `Master refused authentication`.
fn spark35(cluster: &SecureCluster) {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let python = root.join(".venv-spark35/bin/python");
    let jar = root.join(".cache/spark/remesos-sparkpi.jar");
    let home = Command::new(&python)
        .args([
            "-c",
            "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        ])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|h| !h.is_empty() && jar.exists())
        .unwrap_or_else(|| {
            panic!(
                "Spark 3.5 is not set up ({} with pyspark, {}): run `bash tests/spark/setup.sh` \
                 (tests/run.sh does)",
                python.display(),
                jar.display()
            )
        });
    let (_, library) = jni_support::artifacts();
    let submit = |secret: &str| -> Output {
        let mut cmd = Command::new(Path::new(&home).join("bin/spark-submit"));
        for (k, _) in std::env::vars() {
            if k.starts_with("SPARK_") || k.starts_with("PYSPARK_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("SPARK_HOME", &home)
            .env("MESOS_NATIVE_JAVA_LIBRARY", &library)
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .envs(cluster.client_env())
            .current_dir(&cluster.dir)
            .args(["--master", &format!("mesos://{}", cluster.master)]);
        for conf in [
            format!("spark.mesos.executor.home={home}"),
            "spark.driver.host=127.0.0.1".into(),
            "spark.driver.memory=512m".into(),
            "spark.executor.memory=512m".into(),
            "spark.ui.enabled=false".into(),
            "spark.cores.max=2".into(),
            "spark.executor.cores=1".into(),
            format!("spark.mesos.principal={}", ALICE.0),
            format!("spark.mesos.secret={secret}"),
        ] {
            cmd.args(["--conf", &conf]);
        }
        cmd.args(["--class", "RemesosSparkPi"]).arg(&jar).arg("10");
        run(cmd, Duration::from_secs(240))
    };
    let ok = submit(ALICE.1);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    let pi: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Pi is roughly "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    assert!(
        ok.status.success() && (pi - std::f64::consts::PI).abs() < 0.01,
        "{}",
        text(&ok)
    );
    let refused = submit("wrong");
    assert_refused_with(
        &refused,
        "Master refused authentication",
        "Spark with a wrong secret",
    );
}

// ---------------------------------------------------------------------------------------
// Principals kept apart; agents and executors authenticated

/// bob's framework (`remesos execute --role=bob --user=nobody`, a long task), seen and
/// touched by alice: nothing of it is hers.
fn principals_are_kept_apart(cluster: &SecureCluster) {
    // bob may not register in alice's role.
    let out = cluster.execute(&[
        "--name=bob-in-alices-role",
        "--command=true",
        "--role=alice",
        "--user=nobody",
        "--principal=bob",
        &format!("--secret={}", BOB.1),
    ]);
    assert_refused_with(
        &out,
        "Not authorized to register framework",
        "bob in role alice",
    );

    let (mut bob_execute, bob_fw, bob_task) =
        sleeper(cluster, BOB, &["--role=bob", "--user=nobody"]);

    // Seeing: the state endpoints and GET_FRAMEWORKS show bob's framework to bob only.
    assert!(cluster.visible_frameworks(BOB).contains(&bob_fw));
    assert!(!cluster.visible_frameworks(ALICE).contains(&bob_fw));
    for path in ["/master/frameworks", "/master/tasks"] {
        let reply = cluster.curl(&cluster.master, &Request::get(path).user(ALICE));
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        assert!(!reply.body.contains(&bob_fw), "{path}: {}", reply.body);
        assert!(!reply.body.contains(&bob_task), "{path}: {}", reply.body);
    }
    // `/master/state-summary` lists only the frameworks alice may view. (As in Mesos, each
    // agent's `framework_ids` and task counts there are not filtered:
    // src/master/readonly_handler.cpp writes them for every registered framework.)
    let summary = cluster.curl(
        &cluster.master,
        &Request::get("/master/state-summary").user(ALICE),
    );
    let summary: Value = serde_json::from_str(&summary.body).unwrap();
    assert!(!ids(&summary["frameworks"]).contains(&bob_fw), "{summary}");
    let get_frameworks = |user| {
        let reply = cluster.curl(
            &cluster.master,
            &Request::post("/api/v1", json!({"type": "GET_FRAMEWORKS"})).user(user),
        );
        assert_eq!(reply.status, 200, "{reply:?}");
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        let mut ids: Vec<String> = body["get_frameworks"]["frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                f["framework_info"]["id"]["value"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(get_frameworks(BOB), vec![bob_fw.clone()]);
    assert!(!get_frameworks(ALICE).contains(&bob_fw));

    // Tearing down: the operator API and /master/teardown answer 403.
    let teardown = json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": bob_fw}}});
    let reply = cluster.curl(
        &cluster.master,
        &Request::post("/api/v1", teardown.clone()).user(ALICE),
    );
    assert_eq!(reply.status, 403, "{reply:?}");
    let form = Request {
        body: Some(format!("frameworkId={bob_fw}")),
        ..Request::get("/master/teardown")
    }
    .user(ALICE);
    assert_eq!(cluster.curl(&cluster.master, &form).status, 403);
    // Killing or tearing down through the scheduler API as alice: bob's framework is not
    // hers (`Authenticated principal 'alice' does not match principal 'bob'`).
    for call in [
        json!({"type": "KILL", "framework_id": {"value": bob_fw},
               "kill": {"task_id": {"value": bob_task}}}),
        json!({"type": "TEARDOWN", "framework_id": {"value": bob_fw}}),
    ] {
        let reply = cluster.curl(
            &cluster.master,
            &Request::post("/api/v1/scheduler", call)
                .user(ALICE)
                .header("Mesos-Stream-Id: guessed".into()),
        );
        assert_eq!(reply.status, 400, "{reply:?}");
        assert!(
            reply
                .body
                .contains("Authenticated principal 'alice' does not match principal 'bob'"),
            "{reply:?}"
        );
    }
    // Taking it over: a SUBSCRIBE with bob's framework id is refused with an ERROR event.
    let takeover = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "id": {"value": bob_fw}, "user": "nobody", "name": "takeover", "principal": "alice",
        "roles": ["*"], "capabilities": [{"type": "MULTI_ROLE"}]}}});
    let reply = cluster.curl(
        &cluster.master,
        &Request {
            max_time: 5,
            ..Request::post("/api/v1/scheduler", takeover).user(ALICE)
        },
    );
    assert!(
        reply
            .body
            .contains("Changing framework's principal is not allowed"),
        "{reply:?}"
    );
    // bob's task still runs, under bob's framework.
    assert_eq!(running_task(cluster, BOB), Some((bob_fw.clone(), bob_task)));

    executors_act_only_with_their_own_token(cluster, &bob_fw);

    // bob tears down his own framework: allowed, and his task ends.
    let reply = cluster.curl(
        &cluster.master,
        &Request::post("/api/v1", teardown).user(BOB),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(!cluster.visible_frameworks(BOB).contains(&bob_fw));
    cluster.wait_for("bob's task outlived his framework", |c| {
        running_task(c, BOB).is_none()
    });
    bob_execute.kill9();
}

/// A long task (`sleep 300`) run by `remesos execute` as `user` with `args`, in the
/// background (killed when the returned daemon is dropped): its framework id and task id,
/// once `user` sees it running.
fn sleeper(cluster: &SecureCluster, user: (&str, &str), args: &[&str]) -> (Daemon, String, String) {
    let log = std::fs::File::create(cluster.dir.join(format!("{}-execute.log", user.0))).unwrap();
    let execute = Daemon(
        Command::new(env!("CARGO_BIN_EXE_remesos"))
            .args(["execute", &format!("--master={}", cluster.master)])
            .args([&format!("--name={}-sleeper", user.0), "--command=sleep 300"])
            .args(["--resources=cpus:0.1;mem:32"])
            .args(args)
            .args([
                format!("--principal={}", user.0),
                format!("--secret={}", user.1),
            ])
            .envs(cluster.client_env())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run remesos execute"),
    );
    cluster.wait_for("the sleeper's task did not start", |c| {
        running_task(c, user).is_some()
    });
    let (framework_id, task_id) = running_task(cluster, user).unwrap();
    (execute, framework_id, task_id)
}

/// The framework id and task id of the first running task `user` sees in `/master/tasks`.
fn running_task(cluster: &SecureCluster, user: (&str, &str)) -> Option<(String, String)> {
    let reply = cluster.curl(&cluster.master, &Request::get("/master/tasks").user(user));
    let tasks: Value = serde_json::from_str(&reply.body).ok()?;
    let task = tasks["tasks"]
        .as_array()?
        .iter()
        .find(|t| t["state"] == "TASK_RUNNING")?
        .clone();
    Some((
        task["framework_id"].as_str()?.to_string(),
        task["id"].as_str()?.to_string(),
    ))
}

/// The live executor of `framework_id` among those the agent checkpointed (earlier
/// clients' executors have ended): its id and environment.
fn executor_of(cluster: &SecureCluster, framework_id: &str) -> (String, BTreeMap<String, String>) {
    support::executor_pids(&cluster.agent_work_dir)
        .into_iter()
        .filter(|(_, pid)| Path::new(&format!("/proc/{pid}")).exists())
        .map(|(eid, pid)| (eid, support::environ(pid)))
        .find(|(_, env)| env.get("MESOS_FRAMEWORK_ID").map(String::as_str) == Some(framework_id))
        .expect("the framework's executor is checkpointed and running")
}

/// The token the agent gave bob's command executor (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`)
/// acts for that executor only: naming alice's executor it gets 403 (Mesos's
/// `verifyExecutorClaims`); a token with the same claims signed with another key, 401; its
/// own call, 202.
fn executors_act_only_with_their_own_token(cluster: &SecureCluster, bob_fw: &str) {
    let (_alice_execute, alice_fw, _) = sleeper(cluster, ALICE, &[]);
    let (alice_eid, _) = executor_of(cluster, &alice_fw);
    let (bob_eid, env) = executor_of(cluster, bob_fw);
    let token = env
        .get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
        .expect("the executor has a token");
    let call = |token: &str, fid: &str, eid: &str| {
        cluster.curl(
            &cluster.agent,
            &Request::post(
                "/api/v1/executor",
                serde_json::from_str(&support::message_call(fid, eid)).unwrap(),
            )
            .header(format!("Authorization: Bearer {token}")),
        )
    };
    let other = call(token, &alice_fw, &alice_eid);
    assert_eq!(other.status, 403, "{other:?}");
    let payload = token.split('.').nth(1).unwrap();
    let claims: remesos::security::jwt::Claims = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    let other_key =
        remesos::security::jwt::JwtKey::new(b"not the agent's key, 32 bytes or more").unwrap();
    let forged = remesos::security::jwt::create(&other_key, &claims);
    // (Over curl's HTTP/2 this 401 was lost to a stream reset until api/serve.rs drained
    // the unread body; tls.rs repeats it 50 times.)
    let forged = call(&forged, bob_fw, &bob_eid);
    assert_eq!(forged.status, 401, "{forged:?}");
    let own = call(token, bob_fw, &bob_eid);
    assert_eq!(own.status, 202, "{own:?}");
    // alice tears her framework down (her own: allowed).
    let teardown = json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": alice_fw}}});
    let reply = cluster.curl(
        &cluster.master,
        &Request::post("/api/v1", teardown).user(ALICE),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// An agent that does not present its credential is refused by the master, says why, and
/// is not registered.
fn an_agent_without_its_credential_is_refused(cluster: &SecureCluster) {
    let log = cluster.dir.join("agent-without-credential.log");
    let flags = cluster.agent_flags(None);
    let _agent = support::spawn_agent_env(
        &cluster.master,
        free_port(),
        &cluster.dir.join("agent-without-credential"),
        &flags,
        Some(&log),
        &SecureCluster::daemon_env(&cluster.pki),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("no credential presented")
    {
        assert!(
            Instant::now() < deadline,
            "the agent did not report the master's refusal:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(cluster.registered_agents(), Some(1));
}

/// The whole of issue 14's secure cluster, its clients one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_runs_with_its_credential_on_a_cluster_with_authentication_acls_and_tls() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test needs root: bob's tasks run as `nobody` (the agent switches user)"
    );
    let cluster = SecureCluster::start().await;
    tokio::task::block_in_place(|| {
        an_agent_without_its_credential_is_refused(&cluster);
        remesos_execute(&cluster);
        pymesos(&cluster);
        java_on_apaches_jar(&cluster);
        spark35(&cluster);
        principals_are_kept_apart(&cluster);
    });
}
