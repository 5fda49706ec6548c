//! Container images built by hand for the image tests and benchmarks (core/tests/
//! mesos_images.rs, core/benches/images.rs): a rootfs from Debian's `busybox-static`, layers
//! as tars, pushed to a registry v2 (Debian's `docker-registry`, tests/run.sh's when
//! `REMESOS_REGISTRY` names it, else one started here) or written as a `docker save` archive.
//! Included with `#[path]` (not a module of `support`, which every test compiles).
#![allow(dead_code, reason = "each includer uses a part")]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const BUSYBOX: &str = "/bin/busybox";
pub const REGISTRY: &str = "/usr/bin/docker-registry";

/// A MESOS container with the docker image `name` (`ContainerInfo.mesos.image`).
pub fn docker_container(name: &str) -> remesos_proto::v1::ContainerInfo {
    use remesos_proto::v1;
    v1::ContainerInfo {
        r#type: v1::container_info::Type::Mesos as i32,
        mesos: Some(v1::container_info::MesosInfo {
            image: Some(v1::Image {
                r#type: v1::image::Type::Docker as i32,
                docker: Some(v1::image::Docker {
                    name: name.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

/// A child process killed and reaped when dropped.
pub struct Daemon(pub std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn append_file(builder: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, path, data).unwrap();
}

pub fn append_dir(builder: &mut tar::Builder<Vec<u8>>, path: &str) {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(0o755);
    header.set_entry_type(tar::EntryType::Directory);
    builder.append_data(&mut header, path, &[][..]).unwrap();
}

pub fn append_symlink(builder: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(0o777);
    header.set_entry_type(tar::EntryType::Symlink);
    builder.append_link(&mut header, path, target).unwrap();
}

/// A raw entry whose name the tar crate's builder would refuse (`..`, absolute).
pub fn append_raw(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

/// The base layer: busybox and its applets, /etc/passwd with root, nobody and appuser.
pub fn busybox_layer() -> Vec<u8> {
    let busybox = std::fs::read(BUSYBOX).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for dir in ["bin", "etc", "tmp", "work", "mnt", "proc", "sys", "dev"] {
        append_dir(&mut b, dir);
    }
    append_file(&mut b, "bin/busybox", 0o755, &busybox);
    for applet in [
        "sh", "cat", "echo", "id", "ls", "sleep", "env", "pwd", "grep", "test", "wc", "touch",
    ] {
        append_symlink(&mut b, &format!("bin/{applet}"), "/bin/busybox");
    }
    append_file(
        &mut b,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\nappuser:x:4242:4242::/:/bin/sh\n",
    );
    append_file(&mut b, "etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n");
    append_file(
        &mut b,
        "etc/removed",
        0o644,
        b"the top layer deletes this\n",
    );
    b.into_inner().unwrap()
}

/// The top layer: a file, and a whiteout of the base layer's /etc/removed.
pub fn app_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    append_dir(&mut b, "data");
    append_file(&mut b, "data/hello", 0o644, b"hello from the image\n");
    append_dir(&mut b, "etc");
    append_file(&mut b, "etc/.wh.removed", 0o644, b"");
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn image_config() -> serde_json::Value {
    serde_json::json!({
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo from-image-cmd; pwd; echo image-var=$IMAGE_VAR"],
        "Env": ["PATH=/bin", "IMAGE_VAR=from-image-env"],
        "WorkingDir": "/work",
        "User": "appuser",
    })
}

// ---------------------------------------------------------------------------------------
// A registry v2 on loopback, and a minimal HTTP/1.1 client to push to it.

pub struct Registry {
    _daemon: Option<Daemon>,
    pub addr: String,
    pub storage: PathBuf,
    /// Prefixes this test's repositories (a shared registry serves several tests).
    prefix: String,
    /// `Authorization` sent with pushes (a registry with `auth: htpasswd`).
    auth: Option<String>,
}

/// The account of [`Registry::start_with_htpasswd`]: user, password, and the password's
/// bcrypt hash (cost 4, made once with python3's `crypt.crypt(password,
/// crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))`; `htpasswd -nbB -C 4` makes an
/// equivalent one) — a constant, so the test needs neither apache2-utils nor a bcrypt module.
pub const REGISTRY_USER: &str = "remesos";
pub const REGISTRY_PASSWORD: &str = "pw-5c1d9e0b7a";
const REGISTRY_PASSWORD_BCRYPT: &str =
    "$2b$04$18KJpPiPQW.kNtLsL5W8iOK9SGTC9UPY1Dx7TTy66ggqZfuK5pdle";

impl Registry {
    /// tests/run.sh's registry (`REMESOS_REGISTRY`, `REMESOS_REGISTRY_STORAGE`), else one
    /// started here and stopped when dropped.
    pub async fn start(dir: &Path) -> Registry {
        Self::start_inner(dir, None).await
    }

    /// A registry of its own (own port and storage) that answers only [`REGISTRY_USER`]
    /// with [`REGISTRY_PASSWORD`] (`auth: htpasswd`, HTTP Basic); pushes authenticate.
    pub async fn start_with_htpasswd(dir: &Path) -> Registry {
        let htpasswd = dir.join("htpasswd");
        std::fs::write(
            &htpasswd,
            format!("{REGISTRY_USER}:{REGISTRY_PASSWORD_BCRYPT}\n"),
        )
        .unwrap();
        Self::start_inner(dir, Some(&htpasswd)).await
    }

    async fn start_inner(dir: &Path, htpasswd: Option<&Path>) -> Registry {
        let prefix = format!("t{}", free_port());
        let auth = htpasswd.map(|_| {
            format!(
                "Basic {}",
                base64(format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}").as_bytes())
            )
        });
        if let (None, Ok(addr), Ok(storage)) = (
            htpasswd,
            std::env::var("REMESOS_REGISTRY"),
            std::env::var("REMESOS_REGISTRY_STORAGE"),
        ) {
            assert_eq!(
                http(&addr, "GET", "/v2/", &[], b"").0,
                200,
                "REMESOS_REGISTRY={addr} does not answer"
            );
            return Registry {
                _daemon: None,
                addr,
                storage: storage.into(),
                prefix,
                auth: None,
            };
        }
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let storage = dir.join("registry-storage");
        std::fs::create_dir_all(&storage).unwrap();
        let config = dir.join("registry.yml");
        let auth_section = htpasswd.map_or(String::new(), |path| {
            format!(
                "auth:\n  htpasswd:\n    realm: remesos-test\n    path: {}\n",
                path.display()
            )
        });
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth_section}",
                storage.display()
            ),
        )
        .unwrap();
        let daemon = Daemon(
            std::process::Command::new(REGISTRY)
                .arg("serve")
                .arg(&config)
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
                .spawn()
                .expect("start docker-registry"),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            // 401 is a registry with auth that answers.
            if matches!(http(&addr, "GET", "/v2/", &[], b"").0, 200 | 401) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the registry did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Registry {
            _daemon: Some(daemon),
            addr,
            storage,
            prefix,
            auth,
        }
    }

    /// The push's headers: `extra`, and `Authorization` when the registry wants it.
    fn headers<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut headers = extra.to_vec();
        if let Some(auth) = &self.auth {
            headers.push(("Authorization", auth));
        }
        headers
    }

    /// The repository name `name` is pushed under (and pulled as).
    pub fn name(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    pub fn push_blob(&self, name: &str, data: &[u8]) -> String {
        let name = self.name(name);
        let digest = format!("sha256:{}", sha256_hex(data));
        let (status, headers, _) = http(
            &self.addr,
            "POST",
            &format!("/v2/{name}/blobs/uploads/"),
            &self.headers(&[]),
            b"",
        );
        assert_eq!(status, 202, "start upload");
        let location = header(&headers, "location").expect("upload location");
        let path = location
            .strip_prefix(&format!("http://{}", self.addr))
            .unwrap_or(&location)
            .to_string();
        let separator = if path.contains('?') { '&' } else { '?' };
        let (status, _, body) = http(
            &self.addr,
            "PUT",
            &format!("{path}{separator}digest={digest}"),
            &self.headers(&[("Content-Type", "application/octet-stream")]),
            data,
        );
        assert_eq!(
            status,
            201,
            "upload blob: {}",
            String::from_utf8_lossy(&body)
        );
        digest
    }

    /// Pushes an image of `layers` (uncompressed tars, bottom first, sent gzipped).
    pub fn push_image(&self, name: &str, tag: &str, layers: &[Vec<u8>], config: serde_json::Value) {
        let mut descriptors = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in layers {
            let compressed = gzip(layer);
            let digest = self.push_blob(name, &compressed);
            diff_ids.push(format!("sha256:{}", sha256_hex(layer)));
            descriptors.push(serde_json::json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": compressed.len(),
                "digest": digest,
            }));
        }
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        })
        .to_string();
        let config_digest = self.push_blob(name, config.as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": config.len(),
                "digest": config_digest,
            },
            "layers": descriptors,
        })
        .to_string();
        let (status, _, body) = http(
            &self.addr,
            "PUT",
            &format!("/v2/{}/manifests/{tag}", self.name(name)),
            &self.headers(&[(
                "Content-Type",
                "application/vnd.docker.distribution.manifest.v2+json",
            )]),
            manifest.as_bytes(),
        );
        assert_eq!(
            status,
            201,
            "push manifest: {}",
            String::from_utf8_lossy(&body)
        );
    }

    /// Replaces a stored blob's bytes (the registry serves them as they are).
    pub fn corrupt_blob(&self, digest: &str) {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let data = self
            .storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data");
        let mut bytes = std::fs::read(&data).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&data, bytes).unwrap();
    }
}

/// Standard base64 with padding (for `Authorization: Basic` and docker config `auth`).
pub fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// One HTTP/1.1 request (`Connection: close`): status, headers, body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return (0, Vec::new(), Vec::new());
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = response.get(split + 4..).unwrap_or_default().to_vec();
    (status, headers, body)
}

/// A `docker save` archive in the legacy layout: `repositories`, `<id>/json`,
/// `<id>/layer.tar`.
pub fn docker_save(
    name: &str,
    tag: &str,
    layers: &[Vec<u8>],
    config: serde_json::Value,
) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut parent: Option<String> = None;
    let mut top = String::new();
    for (i, layer) in layers.iter().enumerate() {
        let id = sha256_hex(format!("{}{i}", sha256_hex(layer)).as_bytes());
        let mut json = serde_json::json!({"id": id});
        if let Some(parent) = &parent {
            json["parent"] = parent.clone().into();
        }
        if i == layers.len() - 1 {
            json["config"] = config.clone();
        }
        append_dir(&mut b, &id);
        append_file(
            &mut b,
            &format!("{id}/json"),
            0o644,
            json.to_string().as_bytes(),
        );
        append_file(&mut b, &format!("{id}/VERSION"), 0o644, b"1.0");
        append_file(&mut b, &format!("{id}/layer.tar"), 0o644, layer);
        parent = Some(id.clone());
        top = id;
    }
    let repositories = serde_json::json!({ name: { tag: top } }).to_string();
    append_file(&mut b, "repositories", 0o644, repositories.as_bytes());
    b.into_inner().unwrap()
}
