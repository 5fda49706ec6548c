//! A real Apache ZooKeeper server for the HA tests: the server's jars come from Maven
//! Central (`mvn dependency:copy-dependencies`, the first time, into cargo's target tmp
//! dir; tests/run.sh installs Maven and a JDK), and each test runs its own standalone
//! server on a free port with a short tick so that tests may use short session timeouts.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const VERSION: &str = "3.8.4";
/// Bumped when the fetched set of jars changes (the fetch is cached per revision).
const FETCH_REVISION: u32 = 3;

/// The directory holding ZooKeeper's jars, fetched once per target dir.
pub fn classpath() -> PathBuf {
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("zookeeper-{VERSION}-{FETCH_REVISION}"));
    let lib = home.join("lib");
    let done = home.join(".complete");
    if done.exists() {
        return lib;
    }
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("pom.xml"),
        format!(
            r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>remesos.tests</groupId><artifactId>zookeeper-server</artifactId><version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.zookeeper</groupId><artifactId>zookeeper</artifactId><version>{VERSION}</version>
      <exclusions>
        <exclusion><groupId>ch.qos.logback</groupId><artifactId>logback-classic</artifactId></exclusion>
        <exclusion><groupId>ch.qos.logback</groupId><artifactId>logback-core</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>org.xerial.snappy</groupId><artifactId>snappy-java</artifactId><version>1.1.10.5</version></dependency>
    <dependency><groupId>io.dropwizard.metrics</groupId><artifactId>metrics-core</artifactId><version>4.1.12.1</version></dependency>
  </dependencies>
</project>
"#
        ),
    )
    .unwrap();
    let status = Command::new("mvn")
        .current_dir(&home)
        .args([
            "-q",
            "-B",
            "dependency:copy-dependencies",
            "-DoutputDirectory=lib",
            "-DincludeScope=runtime",
        ])
        .status()
        .expect("run mvn (tests/run.sh installs maven) to fetch ZooKeeper from Maven Central");
    assert!(
        status.success(),
        "fetching ZooKeeper {VERSION} with mvn failed"
    );
    std::fs::write(&done, "").unwrap();
    lib
}

/// A standalone ZooKeeper server process; killed on drop.
pub struct ZooKeeper {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl ZooKeeper {
    /// Starts a server on a free port and waits until it serves.
    pub fn start() -> ZooKeeper {
        let port = super::free_port();
        let dir = std::env::temp_dir().join(format!("remesos-zk-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        // tickTime 100ms: sessions from 200ms (2 ticks) to 60s; no per-address connection
        // cap (the defaults are 2s ticks, 4s minimum sessions and 60 connections per IP).
        std::fs::write(
            dir.join("zoo.cfg"),
            format!(
                "tickTime=100\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 minSessionTimeout=200\nmaxSessionTimeout=60000\nmaxClientCnxns=0\n\
                 admin.enableServer=false\n4lw.commands.whitelist=ruok,stat\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let mut zk = ZooKeeper {
            port,
            dir,
            child: None,
        };
        zk.restart();
        zk
    }

    pub fn servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `zk://127.0.0.1:<port><path>`
    pub fn url(&self, path: &str) -> String {
        format!("zk://{}{path}", self.servers())
    }

    /// kill -9 the server (its data directory stays).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) on the same port and data, and waits until it serves.
    pub fn restart(&mut self) {
        self.kill();
        let lib = classpath();
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let child = Command::new("java")
            .args([
                "-Xmx256m",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp",
                &format!("{}/*", lib.display()),
                "org.apache.zookeeper.server.ZooKeeperServerMain",
            ])
            .arg(self.dir.join("zoo.cfg"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start java (tests/run.sh installs a JDK)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.serving() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "ZooKeeper did not start: {}",
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }

    /// `stat` shows the server's mode only once it serves requests (`ruok` answers earlier).
    fn serving(&self) -> bool {
        stat(self.port).contains("Mode:")
    }
}

/// The answer of the server on `port` to the `stat` four-letter command ("" if none).
pub fn stat(port: u16) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"stat").is_err() {
        return String::new();
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
