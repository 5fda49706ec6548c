//! A 3-node ZooKeeper ensemble on loopback (real servers, `QuorumPeerMain`), for the
//! replicated log's tests and benchmark. Each server has its own data directory and
//! ports; all are killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Ensemble {
    pub client_ports: Vec<u16>,
    dir: PathBuf,
    children: Vec<Option<Child>>,
}

impl Ensemble {
    /// Starts three servers and waits until each serves as leader or follower.
    pub fn start() -> Ensemble {
        let lib = super::zookeeper::classpath();
        let dir = std::env::temp_dir().join(format!(
            "remesos-zk-ensemble-{}-{}",
            std::process::id(),
            super::free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let client_ports: Vec<u16> = (0..3).map(|_| super::free_port()).collect();
        let peers: Vec<(u16, u16)> = (0..3)
            .map(|_| (super::free_port(), super::free_port()))
            .collect();
        let servers: String = peers
            .iter()
            .enumerate()
            .map(|(i, (quorum, election))| {
                format!("server.{}=127.0.0.1:{quorum}:{election}\n", i + 1)
            })
            .collect();
        let mut children = Vec::new();
        for (i, port) in client_ports.iter().enumerate() {
            let node = dir.join(format!("zk{}", i + 1));
            std::fs::create_dir_all(node.join("data")).expect("create zk data dir");
            std::fs::write(node.join("data/myid"), format!("{}\n", i + 1)).expect("myid");
            // tickTime 100 ms: sessions from 200 ms; no per-address connection cap.
            std::fs::write(
                node.join("zoo.cfg"),
                format!(
                    "tickTime=100\ninitLimit=100\nsyncLimit=50\ndataDir={}\nclientPort={port}\n\
                     clientPortAddress=127.0.0.1\nminSessionTimeout=200\nmaxSessionTimeout=60000\n\
                     maxClientCnxns=0\nadmin.enableServer=false\n\
                     4lw.commands.whitelist=ruok,stat\n{servers}",
                    node.join("data").display()
                ),
            )
            .expect("zoo.cfg");
            let log = std::fs::File::create(node.join("server.log")).expect("server.log");
            let child = Command::new("java")
                .args([
                    "-Xmx256m",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                    "-cp",
                    &format!("{}/*", lib.display()),
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                ])
                .arg(node.join("zoo.cfg"))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start java (a JDK is required)");
            children.push(Some(child));
        }
        let ensemble = Ensemble {
            client_ports,
            dir,
            children,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if ensemble.client_ports.iter().all(|p| serving(*p)) {
                return ensemble;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "the ZooKeeper ensemble did not form in 120 s ({})",
            ensemble.dir.display()
        );
    }

    /// `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`
    pub fn servers(&self) -> String {
        self.client_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `stat` shows `Mode: leader|follower` once the server is part of a quorum.
fn serving(port: u16) -> bool {
    let answer = super::zookeeper::stat(port);
    answer.contains("Mode: leader") || answer.contains("Mode: follower")
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
