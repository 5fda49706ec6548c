//! A headless Chromium under chromedriver, driven over the W3C WebDriver protocol
//! (chromedriver's JSON over HTTP): the web UI's tests (core/tests/webui.rs) and the UI
//! figures of the scale bench (core/benches/scale.rs, `--ui`) share it. Self-contained (no
//! `super::`), so that a bench can include it with `#[path]`.
//!
//! Needs Debian's `chromium` and `chromium-driver`. The browser runs as root with
//! `--no-sandbox`.

#![allow(dead_code)] // each user needs a different subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use remesos::client::HttpClient;

/// A headless Chromium under chromedriver, one WebDriver session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    /// Starts chromedriver and a session with a fresh profile; `width` x `height` window.
    pub async fn start(name: &str) -> Browser {
        let chromedriver = which(&["chromedriver", "chromium-driver"]).expect(
            "chromedriver not found: apt-get install -y chromium chromium-driver (tests/run.sh does)",
        );
        let chromium = which(&["chromium", "chromium-browser", "google-chrome"])
            .expect("chromium not found: apt-get install -y chromium chromium-driver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while status_of(&format!("{base}/status"), &[]).await != Some(200) {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // A fresh profile, named after the test and chromedriver's port.
        let profile = std::env::temp_dir().join(format!("remesos-chromium-{name}-{port}"));
        let _ = std::fs::remove_dir_all(&profile);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display())],
            }
        }}});
        let (status, body) = request("POST", &format!("{base}/session"), caps.to_string()).await;
        assert_eq!(status, 200, "new WebDriver session: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let session = v["value"]["sessionId"].as_str().unwrap().to_string();
        Browser {
            driver,
            base,
            session,
        }
    }

    /// One WebDriver command; `body` `Null` sends none (GET).
    pub async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let (status, text) = request(method, &url, body).await;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(status, 200, "WebDriver {method} {path}: {text}");
        v["value"].clone()
    }

    pub async fn go(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url })).await;
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub async fn js(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// Waits until `script` returns something other than null, false, 0 or "" (at most
    /// 30 s: a deadline for a condition, not a speed check), and returns it.
    pub async fn wait(&self, what: &str, script: &str) -> Value {
        self.wait_at_most(what, script, Duration::from_secs(30))
            .await
    }

    /// [`Browser::wait`] with its deadline given.
    pub async fn wait_at_most(&self, what: &str, script: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.js(script).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let page = self
                    .js("return document.body ? document.body.innerText : ''")
                    .await;
                panic!("waited in vain for {what}; the page shows:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The text of the element `selector` matches, once there is one.
    pub async fn text(&self, selector: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent : null",
            json!(selector)
        );
        self.wait(selector, &script)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    /// A PNG of the window; written to docs/screenshots/<name>.png with
    /// `REMESOS_UI_SCREENSHOTS=1`.
    pub async fn screenshot(&self, name: &str) {
        let data = self.command("GET", "/screenshot", Value::Null).await;
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            data.as_str().unwrap(),
        )
        .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        if std::env::var_os("REMESOS_UI_SCREENSHOTS").is_some() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
    }
}

impl Drop for Browser {
    /// Ends the session (chromedriver then closes Chromium), then stops chromedriver.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let address = self.base.trim_start_matches("http://").to_string();
        if let Ok(mut s) = std::net::TcpStream::connect(&address) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver request (`GET` sends no body, anything else sends `body` as JSON): the
/// status and the body as text; status 0 when chromedriver did not answer.
async fn request(method: &str, url: &str, body: impl Into<Vec<u8>>) -> (u16, String) {
    let http = HttpClient::default();
    let answer = if method == "GET" {
        http.get(url).await
    } else {
        assert_eq!(
            method, "POST",
            "the WebDriver commands used here are GET and POST"
        );
        match http
            .post(
                url,
                "application/json",
                "application/json",
                &[],
                body.into(),
            )
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                remesos::client::collect(response)
                    .await
                    .map(|body| (status, body))
            }
            Err(e) => Err(e),
        }
    };
    match answer {
        Ok((status, body)) => (status, String::from_utf8_lossy(&body).into_owned()),
        Err(e) => (0, e.to_string()),
    }
}

/// The status of `GET url`, `None` while nothing listens.
pub async fn status_of(url: &str, headers: &[(&str, &str)]) -> Option<u16> {
    let http = remesos::client::HttpClient::default();
    http.get_with(url, headers)
        .await
        .ok()
        .map(|(status, _)| status)
}

pub fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}
