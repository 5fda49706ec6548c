//! 10,000 concurrent framework event streams on one `remesos master` (issue 11, defect 4).
//!
//! `cargo bench -p remesos --bench streams` (optionally `-- <frameworks> <in flight>`).
//! Starts the release `remesos master` binary; this process opens one TCP connection per
//! framework and sends a JSON `SUBSCRIBE` (`POST /api/v1/scheduler`, as pymesos does), at
//! most `<in flight>` (default 200) subscriptions outstanding at a time, and keeps every
//! stream open and read. Reports:
//!
//! * the time until every framework read its SUBSCRIBED event;
//! * the master's RSS before and after (VmRSS, VmHWM from /proc/<pid>/status), and per stream;
//! * `/health` answering while all streams are open, and the master's own count of
//!   connected frameworks (`master/frameworks_connected` in /metrics/snapshot);
//! * that no stream was closed after one heartbeat interval (15 s) with all of them open.
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Subscribes framework `i` and reads its stream until SUBSCRIBED; returns the stream.
async fn subscribe(address: &str, i: usize) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(address).await?;
    let body = format!(
        r#"{{"type":"SUBSCRIBE","subscribe":{{"framework_info":{{"user":"bench","name":"stream-{i}"}}}}}}"#
    );
    let request = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"SUBSCRIBED\"") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::other(format!(
                "closed before SUBSCRIBED: {}",
                String::from_utf8_lossy(&seen)
            )));
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(stream)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let frameworks: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let in_flight: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);

    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("remesos-streams-bench-{}", std::process::id()));
    let mut master = std::process::Command::new(env!("CARGO_BIN_EXE_remesos"))
        .args(["master", "--ip=127.0.0.1", &format!("--port={port}")])
        .arg(format!("--work_dir={}", dir.display()))
        .arg("--quiet")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start remesos master");
    let pid = master.id();
    let http = remesos::client::HttpClient::default();
    while !matches!(
        http.get(&format!("http://{address}/health")).await,
        Ok((200, _))
    ) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_before = status_kib(pid, "VmRSS:");

    let started = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..frameworks {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let address = address.clone();
        let failed = failed.clone();
        tasks.spawn(async move {
            let stream = subscribe(&address, i).await;
            drop(permit);
            match stream {
                Ok(stream) => Some(stream),
                Err(e) => {
                    if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("framework {i}: {e}");
                    }
                    None
                }
            }
        });
    }
    let mut streams = Vec::with_capacity(frameworks);
    while let Some(done) = tasks.join_next().await {
        if let Some(stream) = done.unwrap() {
            streams.push(stream);
        }
    }
    let subscribe_all = started.elapsed();
    let rss_after = status_kib(pid, "VmRSS:");
    let hwm = status_kib(pid, "VmHWM:");

    let health_started = Instant::now();
    let health = http.get(&format!("http://{address}/health")).await;
    let health_took = health_started.elapsed();
    let connected = match http
        .get(&format!("http://{address}/metrics/snapshot"))
        .await
    {
        Ok((200, body)) => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["master/frameworks_connected"].as_f64())
            .unwrap_or(-1.0),
        _ => -1.0,
    };

    // Read every stream for one heartbeat interval: each must stay open (a HEARTBEAT
    // arrives, nothing ends).
    let held = streams.len();
    let closed = Arc::new(AtomicUsize::new(0));
    let mut readers = tokio::task::JoinSet::new();
    for mut stream in streams {
        let closed = closed.clone();
        readers.spawn(async move {
            let mut buf = [0u8; 1024];
            let deadline = tokio::time::Instant::now() + Duration::from_secs(16);
            loop {
                match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                    Err(_) => return stream,
                    Ok(Ok(0)) | Ok(Err(_)) => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        return stream;
                    }
                    Ok(Ok(_)) => {}
                }
            }
        });
    }
    let mut kept = Vec::new();
    while let Some(stream) = readers.join_next().await {
        kept.push(stream.unwrap());
    }
    let rss_steady = status_kib(pid, "VmRSS:");

    println!("frameworks requested            {frameworks} ({in_flight} subscriptions in flight)");
    println!("streams open (SUBSCRIBED read)  {held}");
    println!(
        "subscriptions failed            {}",
        failed.load(Ordering::Relaxed)
    );
    println!(
        "time to subscribe all           {:.2} s",
        subscribe_all.as_secs_f64()
    );
    println!(
        "subscriptions per second        {:.0}",
        held as f64 / subscribe_all.as_secs_f64()
    );
    println!(
        "master RSS before               {:.1} MiB",
        rss_before as f64 / 1024.0
    );
    println!(
        "master RSS with all streams     {:.1} MiB",
        rss_after as f64 / 1024.0
    );
    println!(
        "master RSS after a heartbeat    {:.1} MiB",
        rss_steady as f64 / 1024.0
    );
    println!(
        "master peak RSS (VmHWM)         {:.1} MiB",
        hwm as f64 / 1024.0
    );
    println!(
        "RSS per stream                  {:.1} KiB",
        (rss_after.saturating_sub(rss_before)) as f64 / held.max(1) as f64
    );
    println!(
        "/health with all streams open   {:?} in {:.1} ms",
        health.map(|(s, _)| s).ok(),
        health_took.as_secs_f64() * 1000.0
    );
    println!("master/frameworks_connected     {connected}");
    println!(
        "streams closed within 16 s      {}",
        closed.load(Ordering::Relaxed)
    );
    drop(kept);
    let _ = master.kill();
    let _ = master.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
