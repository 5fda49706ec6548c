//! The mesos containerizer with images: launch latency to TASK_RUNNING with the image cached
//! (overlay backend), and a cold pull of a ~100 MB image from a loopback registry; with
//! `docker run -d` and `docker pull` of the same images as anchors when a `dockerd` answers.
//!
//! `cargo bench -p remesos --bench images [-- LAUNCHES]` (default 50), as root, with
//! `/bin/busybox` (busybox-static) and `/usr/bin/docker-registry` (docker-registry). One
//! `remesos master` and one `remesos agent` (`--isolation=filesystem/linux,docker/runtime`,
//! `--image_provisioner_backend=overlay`); one framework (the v1 scheduler client) launches
//! one `true` command task in the image per offer, one at a time, and times ACCEPT ->
//! TASK_RUNNING. The cold pull is one task in the 100 MB image on an empty store: ACCEPT ->
//! TASK_RUNNING includes the pull, the sha256 check and unpacking. A last line
//! `RESULT {json}` carries the figures.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

#[path = "../tests/support/images.rs"]
mod images;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use images::{Daemon, Registry, free_port};
use remesos::client::Format;
use remesos::client::scheduler::Subscription;
use remesos::resources::Resources;
use remesos_proto::v1;
use v1::scheduler as sched;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A layer of `bytes` incompressible bytes (xorshift), so the pull moves them all.
fn big_layer(bytes: usize) -> Vec<u8> {
    let mut data = vec![0u8; bytes];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for chunk in data.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    let mut b = tar::Builder::new(Vec::new());
    images::append_file(&mut b, "blob.bin", 0o644, &data);
    b.into_inner().unwrap()
}

fn image_task(id: &str, offer: &v1::Offer, image: &str) -> v1::TaskInfo {
    let mut resources = Resources::parse("cpus:0.1;mem:32", "*").unwrap();
    resources.allocate("*");
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: offer.agent_id.clone(),
        resources: resources.into_protos(),
        command: Some(v1::CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        container: Some(v1::ContainerInfo {
            r#type: v1::container_info::Type::Mesos as i32,
            mesos: Some(v1::container_info::MesosInfo {
                image: Some(v1::Image {
                    r#type: v1::image::Type::Docker as i32,
                    docker: Some(v1::image::Docker {
                        name: image.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Launches one task in `image` on the next offer; seconds from ACCEPT to TASK_RUNNING
/// (and waits for its terminal update).
async fn launch_once(sub: &mut Subscription, id: &str, image: &str) -> f64 {
    let offer = loop {
        let event = tokio::time::timeout(Duration::from_secs(60), sub.next_event())
            .await
            .expect("an offer")
            .expect("event");
        if let Some(offers) = event.offers {
            break offers.offers[0].clone();
        }
    };
    let accept =
        remesos::common::protocol::launch_call(&offer, vec![image_task(id, &offer, image)], None);
    let start = Instant::now();
    sub.call(accept).await.expect("accept");
    let mut running = None;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(300), sub.next_event())
            .await
            .expect("an update")
            .expect("event");
        let Some(update) = event.update else { continue };
        let status = update.status;
        if let Some(ack) = remesos::client::scheduler::acknowledge_call(&status) {
            sub.call(ack).await.expect("ack");
        }
        let state = v1::TaskState::try_from(status.state).unwrap();
        if state == v1::TaskState::TaskRunning {
            running = Some(start.elapsed().as_secs_f64());
        }
        if remesos::common::protocol::is_terminal(state) {
            assert_eq!(
                state,
                v1::TaskState::TaskFinished,
                "{id}: {:?}",
                status.message
            );
            return running.expect("TASK_RUNNING before the end");
        }
    }
}

/// `docker <args>`'s wall time in seconds, or `None` when it fails.
fn docker(args: &[&str]) -> Option<f64> {
    let start = Instant::now();
    let ok = Command::new("docker")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| start.elapsed().as_secs_f64())
}

fn main() {
    let launches: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    assert!(
        rustix::process::geteuid().is_root(),
        "the images bench needs root"
    );
    let dir = std::env::temp_dir().join(format!("remesos-images-bench-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let work = dir.clone();
    runtime.block_on(async move {
        let dir = work;
        let registry = Registry::start(&dir).await;
        registry.push_image(
            "small",
            "1",
            &[images::busybox_layer(), images::app_layer()],
            images::image_config(),
        );
        let big_bytes = 100 << 20;
        registry.push_image(
            "big",
            "1",
            &[images::busybox_layer(), big_layer(big_bytes)],
            images::image_config(),
        );
        let small = format!("{}:1", registry.name("small"));
        let big = format!("{}:1", registry.name("big"));

        let master_port = free_port();
        let master = format!("127.0.0.1:{master_port}");
        let _master = Daemon(
            Command::new(env!("CARGO_BIN_EXE_remesos"))
                .args(["master", "--ip=127.0.0.1", &format!("--port={master_port}")])
                .arg(format!("--work_dir={}", dir.join("master").display()))
                .args(["--allocation_interval=100ms", "--quiet"])
                .stdout(Stdio::null())
                .spawn()
                .expect("start remesos master"),
        );
        let agent_port = free_port();
        let _agent = Daemon(
            Command::new(env!("CARGO_BIN_EXE_remesos"))
                .args(["agent", &format!("--master={master}"), "--ip=127.0.0.1"])
                .arg(format!("--port={agent_port}"))
                .arg(format!("--work_dir={}", dir.join("agent").display()))
                .args([
                    "--resources=cpus:4;mem:4096",
                    "--hostname=localhost",
                    "--quiet",
                    "--image_providers=docker",
                    "--isolation=filesystem/linux,docker/runtime",
                    "--image_provisioner_backend=overlay",
                ])
                .arg(format!("--docker_registry=http://{}", registry.addr))
                .arg(format!("--docker_store_dir={}", dir.join("store").display()))
                .stdout(Stdio::null())
                .spawn()
                .expect("start remesos agent"),
        );
        let mut sub = {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let info = v1::FrameworkInfo {
                    name: "images-bench".into(),
                    ..Default::default()
                };
                let call = sched::call::Subscribe {
                    framework_info: info,
                    ..Default::default()
                };
                if let Ok(sub) = Subscription::subscribe(&master, call, Format::Protobuf).await {
                    break sub;
                }
                assert!(Instant::now() < deadline, "the master did not start");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };

        // Cold pull of the ~100 MB image, then the small image warmed up once.
        let cold = launch_once(&mut sub, "cold", &big).await;
        launch_once(&mut sub, "warm-up", &small).await;
        let mut latencies = Vec::new();
        for i in 0..launches {
            latencies.push(launch_once(&mut sub, &format!("t{i}"), &small).await * 1e3);
        }
        latencies.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
        println!("remesos mesos containerizer (overlay), image cached: {launches} launches, ACCEPT -> TASK_RUNNING p50 {p50:.0} ms, p99 {p99:.0} ms");
        println!("remesos cold pull of a {} MiB image (ACCEPT -> TASK_RUNNING): {cold:.2} s", big_bytes >> 20);

        // Anchors: the same images through dockerd, when one answers (127.0.0.0/8 is an
        // insecure registry to dockerd by default).
        let mut anchor = serde_json::Value::Null;
        if docker(&["info"]).is_some() {
            let docker_small = format!("{}/{small}", registry.addr);
            let docker_big = format!("{}/{big}", registry.addr);
            let _ = docker(&["rmi", "-f", &docker_big]);
            let pull = docker(&["pull", &docker_big]);
            let _ = docker(&["pull", &docker_small]);
            let mut runs = Vec::new();
            for _ in 0..launches {
                let name = format!("remesos-bench-{}", free_port());
                if let Some(t) = docker(&["run", "-d", "--name", &name, "--entrypoint", "true", &docker_small]) {
                    runs.push(t * 1e3);
                }
                let _ = docker(&["rm", "-f", &name]);
            }
            runs.sort_by(f64::total_cmp);
            let (dp50, dp99) = (percentile(&runs, 0.5), percentile(&runs, 0.99));
            println!("docker run -d (same image): p50 {dp50:.0} ms, p99 {dp99:.0} ms; ratio remesos/docker p50 {:.2}", p50 / dp50.max(1e-9));
            println!("docker pull of the same {} MiB image: {:?} s", big_bytes >> 20, pull);
            let _ = docker(&["rmi", "-f", &docker_big, &docker_small]);
            anchor = serde_json::json!({"docker_run_p50_ms": dp50, "docker_run_p99_ms": dp99, "docker_pull_s": pull});
        } else {
            println!("no dockerd answers `docker info`: no docker anchors this run");
        }
        println!(
            "RESULT {}",
            serde_json::json!({"launches": launches, "p50_ms": p50, "p99_ms": p99, "cold_pull_s": cold, "docker": anchor})
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
