//! What the JNI tests share: the built artifacts (libmesos.so, `remesos`), Apache's jars
//! (1.11.0 from Maven Central, 1.4.3 shaded-protobuf from pyspark 3.5's sdist, installed in
//! the repository's .venv by tests/python/setup_venv.sh), javac/java, and `remesos local`.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Maven, pip and javac share caches: one at a time.
static TOOLS: Mutex<()> = Mutex::new(());

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// `target/<profile>` of the running test binary (`target/release/deps/<test>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .to_path_buf()
}

/// `(remesos, libmesos.so)` of this test binary's profile. Tests build nothing: tests/run.sh
/// builds both before the end-to-end tier (`cargo build --release -p remesos -p remesos-jni
/// --lib --bins`); a missing one fails the test with that command.
pub fn artifacts() -> (PathBuf, PathBuf) {
    let dir = target_dir();
    let built = |name: &str| {
        let path = dir.join(name);
        assert!(
            path.exists(),
            "{} is missing: build it first with `cargo build --release -p remesos -p \
             remesos-jni --lib --bins` (tests/run.sh does)",
            path.display()
        );
        path
    };
    (built("remesos"), built("libmesos.so"))
}

fn cache_dir() -> PathBuf {
    let dir = repo_root().join(".cache/jni");
    std::fs::create_dir_all(&dir).expect("create .cache/jni");
    dir
}

/// A jar from Maven Central (`group:artifact:version`), cached in .cache/compat/jars (shared
/// with core/proto's compatibility test).
pub fn maven_jar(coords: &str) -> PathBuf {
    let _guard = TOOLS.lock().unwrap_or_else(|e| e.into_inner());
    let parts: Vec<&str> = coords.split(':').collect();
    let [_, artifact, version] = parts.as_slice() else {
        panic!("bad coordinates {coords}");
    };
    let dir = repo_root().join(".cache/compat/jars");
    std::fs::create_dir_all(&dir).expect("create .cache/compat/jars");
    let path = dir.join(format!("{artifact}-{version}.jar"));
    if path.exists() {
        return path;
    }
    let output = Command::new("mvn")
        .args(["-q", "-B", "dependency:copy"])
        .arg(format!("-Dartifact={coords}"))
        .arg(format!("-DoutputDirectory={}", dir.display()))
        .output()
        .expect("run mvn (Maven is required: apt-get install maven)");
    assert!(
        output.status.success() && path.exists(),
        "mvn could not fetch {coords}:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    path
}

/// Apache's `mesos-1.4.3-shaded-protobuf.jar` as pyspark 3.5 ships it (not on Maven Central);
/// installs the venv (tests/python/setup_venv.sh) when it is missing.
pub fn pyspark_mesos_jar() -> PathBuf {
    let _guard = TOOLS.lock().unwrap_or_else(|e| e.into_inner());
    let find = || -> Option<PathBuf> {
        let lib = repo_root().join(".venv/lib");
        for entry in std::fs::read_dir(lib).ok()? {
            let jar = entry
                .ok()?
                .path()
                .join("site-packages/pyspark/jars/mesos-1.4.3-shaded-protobuf.jar");
            if jar.exists() {
                return Some(jar);
            }
        }
        None
    };
    if let Some(jar) = find() {
        return jar;
    }
    let status = Command::new("bash")
        .arg(repo_root().join("tests/python/setup_venv.sh"))
        .status()
        .expect("run tests/python/setup_venv.sh");
    assert!(status.success(), "tests/python/setup_venv.sh failed");
    find().expect("pyspark's jars/mesos-1.4.3-shaded-protobuf.jar after setup_venv.sh")
}

/// The class path for the Java side: Apache's 1.11.0 jar (+ protobuf-java 3.5.0), the
/// 1.4.3 shaded jar, or the project's jar.
pub fn classpath(kind: &str) -> Vec<PathBuf> {
    match kind {
        "apache-1.11.0" => vec![
            maven_jar("org.apache.mesos:mesos:1.11.0"),
            maven_jar("com.google.protobuf:protobuf-java:3.5.0"),
        ],
        "apache-1.4.3-shaded" => vec![pyspark_mesos_jar()],
        "remesos-shaded" => vec![project_jar(true)],
        "remesos" => vec![
            project_jar(false),
            maven_jar("com.google.protobuf:protobuf-java:3.5.1"),
        ],
        other => panic!("unknown jar {other}"),
    }
}

/// The project's jar (java/, built by Maven with the current libmesos.so inside), plain or
/// `shaded-protobuf`, built by tests/run.sh; refused when libmesos.so or a Java source is
/// newer than the jar.
pub fn project_jar(shaded: bool) -> PathBuf {
    let (_, library) = artifacts();
    let _guard = TOOLS.lock().unwrap_or_else(|e| e.into_inner());
    let java = repo_root().join("java");
    let version = "1.11.0-remesos.1";
    let plain = java.join(format!("target/remesos-mesos-{version}.jar"));
    let shaded_jar = java.join(format!(
        "target/remesos-mesos-{version}-shaded-protobuf.jar"
    ));
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let newest_input = walk(&java.join("src"))
        .into_iter()
        .chain([library.clone(), java.join("pom.xml")])
        .filter_map(|p| modified(&p))
        .max();
    let fresh = [&plain, &shaded_jar]
        .iter()
        .all(|jar| matches!((modified(jar), newest_input), (Some(j), Some(i)) if j >= i));
    assert!(
        fresh,
        "java/'s jars are missing or older than java/src or libmesos.so: build them with \
         `mvn -q -B -f java/pom.xml -Dremesos.native.dir={} package -DskipTests` \
         (tests/run.sh does)",
        library.parent().expect("library dir").display()
    );
    if shaded { shaded_jar } else { plain }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Compiles java/examples against `classpath` into .cache/jni/<name>/classes (once per test
/// run) and returns the class path to run them with.
pub fn compile_examples(name: &str, classpath: &[PathBuf]) -> String {
    static COMPILED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, cp)) = compiled.iter().find(|(n, _)| n == name) {
        return cp.clone();
    }
    let _guard = TOOLS.lock().unwrap_or_else(|e| e.into_inner());
    let out = cache_dir().join(name).join("classes");
    let sources_dir = repo_root().join("java/examples/src/main/java/org/remesos/examples");
    let sources: Vec<PathBuf> = std::fs::read_dir(&sources_dir)
        .expect("java/examples sources")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "java"))
        // The exercises of the state, Log and v1 classes use 1.11.0's API (Log.Reader's
        // `catchup`, say): the 1.4.3 jar Spark ships runs the drivers' examples only.
        .filter(|p| {
            !name.contains("1.4.3")
                || !p.file_stem().is_some_and(|stem| {
                    ["LogExercise", "StateExercise", "V1Exercise"]
                        .iter()
                        .any(|e| stem == *e)
                })
        })
        .collect();
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("create classes dir");
    let cp = std::env::join_paths(classpath).expect("class path");
    let output = Command::new("javac")
        .args(["-nowarn", "-d"])
        .arg(&out)
        .arg("-cp")
        .arg(&cp)
        .args(&sources)
        .output()
        .expect("run javac (a JDK is required)");
    assert!(
        output.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut all = vec![out];
    all.extend(classpath.iter().cloned());
    let cp = std::env::join_paths(all)
        .expect("class path")
        .into_string()
        .expect("utf-8 class path");
    compiled.push((name.to_string(), cp.clone()));
    cp
}

/// `remesos local` with `agents` agents on free ports; killed (with its executors) on drop.
pub struct Cluster {
    child: Child,
    /// Set once the child was killed and reaped: its pid may belong to someone else now.
    reaped: bool,
    pub master: String,
    pub work_dir: PathBuf,
}

impl Cluster {
    /// The `remesos local` process's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: kill(2) on our own child's pid, not yet reaped; SIGTERM lets it kill
            // its executors.
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

impl Cluster {
    /// SIGKILL: the master and agents vanish without killing their executors (which run in
    /// sessions of their own).
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// GET `http://<address><path>` (a tiny HTTP/1.0 client: the tests need only JSON bodies).
pub fn http_get(address: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

pub fn start_cluster(remesos: &Path, agents: u16) -> Cluster {
    start_cluster_on(remesos, agents, free_port())
}

/// [`start_cluster`] with the master on `port`.
pub fn start_cluster_on(remesos: &Path, agents: u16, port: u16) -> Cluster {
    start_cluster_with(remesos, agents, port, &[])
}

/// [`start_cluster_on`] with more flags for `remesos local` (authentication, say).
pub fn start_cluster_with(remesos: &Path, agents: u16, port: u16, flags: &[String]) -> Cluster {
    let work_dir = std::env::temp_dir().join(format!(
        "remesos-jni-{port}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let child = Command::new(remesos)
        .args([
            "local",
            &format!("--num_agents={agents}"),
            &format!("--port={port}"),
            "--first_agent_port=0",
        ])
        .arg(format!("--work_dir={}", work_dir.display()))
        .args([
            "--resources=cpus:2;mem:2048;disk:1024;ports:[31000-31100]",
            "--allocation_interval=100ms",
            "--quiet",
        ])
        .args(flags)
        .stdout(Stdio::null())
        .spawn()
        .expect("start remesos local");
    let cluster = Cluster {
        child,
        reaped: false,
        master: format!("127.0.0.1:{port}"),
        work_dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, body)) = http_get(&cluster.master, "/metrics/snapshot") {
            let metrics: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if metrics["master/slaves_active"] == f64::from(agents) {
                return cluster;
            }
        }
        assert!(Instant::now() < deadline, "the cluster did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The output of one Java run.
pub struct JavaRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl JavaRun {
    pub fn lines(&self, prefix: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    pub fn has(&self, line: &str) -> bool {
        self.stdout.lines().any(|l| l.trim() == line)
    }

    pub fn dump(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `java -Xcheck:jni -cp <cp> <class> <args>` with `MESOS_NATIVE_JAVA_LIBRARY` set
/// (when given), killing it after `timeout`.
pub fn run_java(
    cp: &str,
    class: &str,
    args: &[&str],
    library: Option<&Path>,
    timeout: Duration,
) -> JavaRun {
    run_java_checked(cp, class, args, library, timeout, true, &[])
}

/// [`run_java`], with `-Xcheck:jni` only when `check_jni` (benchmarks run without it) and
/// `env` added to the JVM's environment (`LIBPROCESS_SSL_*`, which libmesos.so reads as
/// Mesos's does).
pub fn run_java_checked(
    cp: &str,
    class: &str,
    args: &[&str],
    library: Option<&Path>,
    timeout: Duration,
    check_jni: bool,
    env: &[(String, String)],
) -> JavaRun {
    let mut java = Command::new("java");
    java.envs(env.iter().map(|(k, v)| (k, v)));
    if check_jni {
        java.arg("-Xcheck:jni");
    }
    java.args(["-cp", cp, class])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    java.env_remove("MESOS_NATIVE_JAVA_LIBRARY")
        .env_remove("MESOS_NATIVE_LIBRARY");
    if let Some(library) = library {
        java.env("MESOS_NATIVE_JAVA_LIBRARY", library);
    }
    let mut child = java.spawn().expect("run java (a JDK is required)");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + timeout;
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    JavaRun {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `-Xcheck:jni` reported nothing (no warning, no fatal error) in `run`.
pub fn check_no_jni_warnings(run: &JavaRun) {
    for stream in [&run.stdout, &run.stderr] {
        assert!(
            !stream.contains("FATAL ERROR in native method"),
            "-Xcheck:jni failed:\n{}",
            run.dump()
        );
        assert!(
            !stream.contains("WARNING in native method"),
            "-Xcheck:jni warned:\n{}",
            run.dump()
        );
    }
}
