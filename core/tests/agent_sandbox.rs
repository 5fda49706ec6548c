//! The agent's sandbox plumbing: the fetcher (reference/mesos-contract.md §4.4, Mesos
//! `docs/fetcher.md`) and the `/files` endpoints (§4.2, §6, Mesos `src/files/files.cpp`).
#![allow(
    clippy::disallowed_methods,
    reason = "tests and benchmarks start processes and read the clock by design"
)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use proptest::prelude::*;
use remesos::agent::fetcher::{FetchOptions, fetch};
use remesos::agent::files::{self, Files};
use remesos::common::percent_encode;
use remesos_proto::v1::command_info::Uri;

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("remesos-sandbox-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path.canonicalize().unwrap())
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uri(value: &str) -> Uri {
    Uri {
        value: value.to_string(),
        ..Default::default()
    }
}

async fn run_fetch(uris: &[Uri], sandbox: &Path, options: &FetchOptions) -> Result<String, String> {
    let mut log = Vec::new();
    let items = remesos::agent::fetcher::FetchItem::bypassing(uris);
    let result = fetch(&items, sandbox, options, &mut log).await.result;
    let log = String::from_utf8(log).unwrap();
    match result {
        Ok(()) => Ok(log),
        Err(error) => Err(format!("{error}\n--- log ---\n{log}")),
    }
}

// ---------------------------------------------------------------------------------------
// Archives, built in the test with the same crates the fetcher reads them with.

/// A tar with `bin/run.sh` (0755), `conf/a.txt` and a directory entry.
fn tar_bytes() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, mode: u32, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, data).unwrap();
    };
    add("bin/run.sh", 0o755, b"#!/bin/sh\necho hi\n");
    add("conf/a.txt", 0o644, b"alpha");
    add("bin/suid", 0o4755, b"#!/bin/sh\n");
    builder.into_inner().unwrap()
}

/// A tar whose second entry is `../evil` (written raw: the builder refuses such names).
fn evil_tar_bytes(name: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(2);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, "ok.txt", &b"ok"[..])
        .unwrap();
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"evil"[..]).unwrap();
    builder.into_inner().unwrap()
}

/// A tar with a symlink `link -> <target>` then a file `link/passwd` written through it.
fn symlink_tar_bytes(target: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    header.set_mode(0o777);
    builder.append_link(&mut header, "link", target).unwrap();
    let mut header = tar::Header::new_old();
    let name = b"link/passwd";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"evil"[..]).unwrap();
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    lzma_rs::xz_compress(&mut std::io::Cursor::new(data), &mut out).unwrap();
    out
}

fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    writer.add_directory("dir/", options).unwrap();
    for (name, data) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn assert_tar_contents(sandbox: &Path) {
    assert_eq!(
        std::fs::read_to_string(sandbox.join("conf/a.txt")).unwrap(),
        "alpha"
    );
    let mode = std::fs::metadata(sandbox.join("bin/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    // setuid is dropped: the agent may extract as root.
    let mode = std::fs::metadata(sandbox.join("bin/suid"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755);
}

// ---------------------------------------------------------------------------------------
// Fetcher: local sources.

#[tokio::test]
async fn copies_local_paths_and_file_uris() {
    let source = TempDir::new();
    let sandbox = TempDir::new();
    std::fs::write(source.path().join("a.txt"), "A").unwrap();
    std::fs::write(source.path().join("b.txt"), "B").unwrap();
    let uris = [
        uri(source.path().join("a.txt").to_str().unwrap()),
        uri(&format!("file://{}", source.path().join("b.txt").display())),
    ];
    let log = run_fetch(&uris, sandbox.path(), &FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("a.txt")).unwrap(),
        "A"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("b.txt")).unwrap(),
        "B"
    );
    assert!(log.contains("Successfully fetched all URIs into"), "{log}");
}

#[tokio::test]
async fn relative_paths_use_frameworks_home() {
    let home = TempDir::new();
    let sandbox = TempDir::new();
    std::fs::create_dir(home.path().join("bin")).unwrap();
    std::fs::write(home.path().join("bin/tool"), "T").unwrap();
    let options = FetchOptions {
        frameworks_home: Some(home.path().to_path_buf()),
        ..Default::default()
    };
    run_fetch(&[uri("bin/tool")], sandbox.path(), &options)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("tool")).unwrap(),
        "T"
    );

    // Without --frameworks_home a relative URI fails the fetch (Mesos `uriToLocalPath`).
    let error = run_fetch(&[uri("bin/tool")], sandbox.path(), &FetchOptions::default())
        .await
        .unwrap_err();
    assert!(
        error.starts_with("Failed to fetch 'bin/tool': A relative path"),
        "{error}"
    );
}

#[tokio::test]
async fn output_file_may_name_a_subdirectory_but_not_leave_the_sandbox() {
    let source = TempDir::new();
    let sandbox = TempDir::new();
    std::fs::write(source.path().join("a.txt"), "A").unwrap();
    let mut u = uri(source.path().join("a.txt").to_str().unwrap());
    u.output_file = Some("conf/sub/renamed.txt".to_string());
    run_fetch(&[u.clone()], sandbox.path(), &FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("conf/sub/renamed.txt")).unwrap(),
        "A"
    );

    for bad in [
        "../outside.txt",
        "/tmp/outside.txt",
        "a/../../outside.txt",
        "",
    ] {
        u.output_file = Some(bad.to_string());
        let error = run_fetch(&[u.clone()], sandbox.path(), &FetchOptions::default())
            .await
            .unwrap_err();
        assert!(error.starts_with("Failed to fetch '"), "{bad}: {error}");
    }
    assert!(
        !sandbox
            .path()
            .parent()
            .unwrap()
            .join("outside.txt")
            .exists()
    );
}

#[tokio::test]
async fn executable_is_chmodded_and_never_extracted() {
    let source = TempDir::new();
    let sandbox = TempDir::new();
    std::fs::write(source.path().join("tool.tar"), tar_bytes()).unwrap();
    let mut u = uri(source.path().join("tool.tar").to_str().unwrap());
    u.executable = Some(true);
    run_fetch(&[u], sandbox.path(), &FetchOptions::default())
        .await
        .unwrap();
    let mode = std::fs::metadata(sandbox.path().join("tool.tar"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert!(
        !sandbox.path().join("conf").exists(),
        "executable URIs are not extracted"
    );
}

#[tokio::test]
async fn missing_local_file_fails_with_the_uri_in_the_message() {
    let sandbox = TempDir::new();
    let error = run_fetch(
        &[uri("/nonexistent/x.bin")],
        sandbox.path(),
        &FetchOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        error.starts_with("Failed to fetch '/nonexistent/x.bin': Failed to copy"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------
// Fetcher: extraction (every format Mesos extracts, docs/fetcher.md).

#[tokio::test]
async fn extracts_every_archive_type() {
    let tar = tar_bytes();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a.tar", tar.clone()),
        ("a.tar.gz", gzip(&tar)),
        ("a.tgz", gzip(&tar)),
        ("a.tar.bz2", bzip2(&tar)),
        ("a.tbz2", bzip2(&tar)),
        ("a.tar.xz", xz(&tar)),
        ("a.txz", xz(&tar)),
    ];
    for (name, bytes) in cases {
        let source = TempDir::new();
        let sandbox = TempDir::new();
        std::fs::write(source.path().join(name), bytes).unwrap();
        run_fetch(
            &[uri(source.path().join(name).to_str().unwrap())],
            sandbox.path(),
            &FetchOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_tar_contents(sandbox.path());
        // Mesos leaves the archive itself in the sandbox too.
        assert!(sandbox.path().join(name).exists(), "{name}");
        // No temporary left behind.
        let hidden: Vec<_> = std::fs::read_dir(sandbox.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "{name}: {hidden:?}");
    }

    // zip
    let source = TempDir::new();
    let sandbox = TempDir::new();
    std::fs::write(
        source.path().join("a.zip"),
        zip_bytes(&[("dir/x.txt", b"zipped"), ("top.sh", b"#!/bin/sh\n")]),
    )
    .unwrap();
    run_fetch(
        &[uri(source.path().join("a.zip").to_str().unwrap())],
        sandbox.path(),
        &FetchOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("dir/x.txt")).unwrap(),
        "zipped"
    );
    let mode = std::fs::metadata(sandbox.path().join("top.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);

    // a bare .gz becomes the file without the suffix
    let source = TempDir::new();
    let sandbox = TempDir::new();
    std::fs::write(source.path().join("data.csv.gz"), gzip(b"1,2,3\n")).unwrap();
    run_fetch(
        &[uri(source.path().join("data.csv.gz").to_str().unwrap())],
        sandbox.path(),
        &FetchOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("data.csv")).unwrap(),
        "1,2,3\n"
    );
}

#[tokio::test]
async fn extract_false_keeps_the_archive_as_is() {
    let source = TempDir::new();
    let sandbox = TempDir::new();
    std::fs::write(source.path().join("a.tar"), tar_bytes()).unwrap();
    let mut u = uri(source.path().join("a.tar").to_str().unwrap());
    u.extract = Some(false);
    run_fetch(&[u], sandbox.path(), &FetchOptions::default())
        .await
        .unwrap();
    assert!(sandbox.path().join("a.tar").exists());
    assert!(!sandbox.path().join("conf").exists());
}

#[tokio::test]
async fn archive_entries_outside_the_sandbox_are_refused() {
    let outer = TempDir::new();
    let sandbox = outer.path().join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    let source = TempDir::new();

    // `../evil` in a tar, a tar.gz and a zip.
    std::fs::write(source.path().join("evil.tar"), evil_tar_bytes("../evil")).unwrap();
    std::fs::write(
        source.path().join("evil.tgz"),
        gzip(&evil_tar_bytes("sub/../../evil")),
    )
    .unwrap();
    std::fs::write(
        source.path().join("evil.zip"),
        zip_bytes(&[("../evil", b"evil")]),
    )
    .unwrap();
    for name in ["evil.tar", "evil.tgz", "evil.zip"] {
        let error = run_fetch(
            &[uri(source.path().join(name).to_str().unwrap())],
            &sandbox,
            &FetchOptions::default(),
        )
        .await
        .unwrap_err();
        assert!(
            error.contains("Failed to extract archive") && error.contains("outside the sandbox"),
            "{name}: {error}"
        );
        assert!(!outer.path().join("evil").exists(), "{name} escaped");
    }

    // An absolute entry.
    std::fs::write(
        source.path().join("abs.tar"),
        evil_tar_bytes(&format!("{}/abs-evil", outer.path().display())),
    )
    .unwrap();
    let error = run_fetch(
        &[uri(source.path().join("abs.tar").to_str().unwrap())],
        &sandbox,
        &FetchOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(error.contains("outside the sandbox"), "{error}");
    assert!(!outer.path().join("abs-evil").exists());

    // A symlink to a directory outside, then a file written through it.
    let target = outer.path().join("target");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(source.path().join("link.tar"), symlink_tar_bytes(&target)).unwrap();
    let error = run_fetch(
        &[uri(source.path().join("link.tar").to_str().unwrap())],
        &sandbox,
        &FetchOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(error.contains("Failed to extract archive"), "{error}");
    assert!(!target.join("passwd").exists(), "wrote through a symlink");
}

// ---------------------------------------------------------------------------------------
// Fetcher: HTTP.

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{address}")
}

fn http_fixture() -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/dl/hello.txt", get(|| async { "hello over http" }))
        .route(
            "/dl/app.tgz",
            get(|| async { axum::body::Bytes::from(gzip(&tar_bytes())) }),
        )
        .route(
            "/moved",
            get(|| async { axum::response::Redirect::temporary("/dl/hello.txt") }),
        )
        .route(
            "/stall/x",
            get(|| async {
                let first = futures::stream::once(async {
                    Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"partial"))
                });
                let body = futures::StreamExt::chain(first, futures::stream::pending());
                axum::body::Body::from_stream(body)
            }),
        )
        .route(
            "/silent/x",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
}

#[tokio::test]
async fn downloads_over_http() {
    let base = serve(http_fixture()).await;
    let sandbox = TempDir::new();
    let mut renamed = uri(&format!("{base}/moved"));
    renamed.output_file = Some("via-redirect.txt".to_string());
    run_fetch(
        &[
            uri(&format!("{base}/dl/hello.txt")),
            uri(&format!("{base}/dl/app.tgz")),
            renamed,
        ],
        sandbox.path(),
        &FetchOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("hello.txt")).unwrap(),
        "hello over http"
    );
    assert_tar_contents(sandbox.path());
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("via-redirect.txt")).unwrap(),
        "hello over http"
    );
}

#[tokio::test]
async fn http_404_fails_the_fetch_and_stops_there() {
    let base = serve(http_fixture()).await;
    let sandbox = TempDir::new();
    let missing = format!("{base}/dl/missing.bin");
    let error = run_fetch(
        &[uri(&missing), uri(&format!("{base}/dl/hello.txt"))],
        sandbox.path(),
        &FetchOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        error.starts_with(&format!(
            "Failed to fetch '{missing}': Error downloading resource, received HTTP return code 404"
        )),
        "{error}"
    );
    assert!(!sandbox.path().join("missing.bin").exists());
    assert!(
        !sandbox.path().join("hello.txt").exists(),
        "later URIs are not fetched"
    );
}

// ---------------------------------------------------------------------------------------
// Fetcher: HTTPS, against a TLS server in the test with a CA made up for it.

/// A CA made at test time, and a server certificate it signed for `localhost` and
/// `127.0.0.1`.
struct TestPki {
    /// The CA's certificate, PEM, in a file for `FetchOptions::ca_files`.
    ca_file: PathBuf,
    server: rustls::ServerConfig,
    _dir: TempDir,
}

fn test_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "remesos fetcher test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();

    let dir = TempDir::new();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    TestPki {
        ca_file,
        server,
        _dir: dir,
    }
}

/// A TCP listener whose connections are TLS-terminated, for `axum::serve`. A connection
/// whose handshake fails (the client refused the certificate) is dropped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, address)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `router` over HTTPS on 127.0.0.1; returns the port.
async fn serve_tls(router: axum::Router, server: rustls::ServerConfig) -> u16 {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    tokio::spawn(async move {
        axum::serve(TlsListener { tcp, acceptor }, router)
            .await
            .unwrap();
    });
    port
}

#[tokio::test]
async fn downloads_over_https_and_follows_redirects_both_ways() {
    use axum::response::Redirect;
    use axum::routing::get;
    let pki = test_pki();
    let http_base = serve(http_fixture()).await;
    let to_http = format!("{http_base}/dl/hello.txt");
    let https_router = http_fixture().route(
        "/to-http",
        get(move || async move { Redirect::temporary(&to_http) }),
    );
    let port = serve_tls(https_router, pki.server.clone()).await;
    let to_https = format!("https://localhost:{port}/dl/hello.txt");
    let http_base = serve(axum::Router::new().route(
        "/to-https",
        get(move || async move { Redirect::temporary(&to_https) }),
    ))
    .await;

    let sandbox = TempDir::new();
    let options = FetchOptions {
        ca_files: vec![pki.ca_file.clone()],
        ..Default::default()
    };
    let named = |value: String, output: &str| Uri {
        output_file: Some(output.to_string()),
        ..uri(&value)
    };
    let log = run_fetch(
        &[
            // By IP (no SNI; the certificate's IP address is checked) and by name (SNI).
            uri(&format!("https://127.0.0.1:{port}/dl/hello.txt")),
            uri(&format!("https://localhost:{port}/dl/app.tgz")),
            named(format!("https://localhost:{port}/moved"), "relative.txt"),
            named(format!("https://localhost:{port}/to-http"), "to-http.txt"),
            named(format!("{http_base}/to-https"), "to-https.txt"),
        ],
        sandbox.path(),
        &options,
    )
    .await
    .unwrap();
    for file in ["hello.txt", "relative.txt", "to-http.txt", "to-https.txt"] {
        assert_eq!(
            std::fs::read_to_string(sandbox.path().join(file)).unwrap(),
            "hello over http",
            "{file}\n{log}"
        );
    }
    assert_tar_contents(sandbox.path());
    assert!(
        log.contains(&format!(
            "Following redirect to 'https://localhost:{port}/dl/hello.txt'"
        )),
        "{log}"
    );
}

#[tokio::test]
async fn untrusted_certificates_fail_the_fetch_clearly() {
    let pki = test_pki();
    let port = serve_tls(http_fixture(), pki.server.clone()).await;
    let sandbox = TempDir::new();
    let url = format!("https://localhost:{port}/dl/hello.txt");

    // The test CA is in no trusted store.
    let error = run_fetch(&[uri(&url)], sandbox.path(), &FetchOptions::default())
        .await
        .unwrap_err();
    assert!(
        error.starts_with(&format!(
            "Failed to fetch '{url}': Error downloading resource"
        )),
        "{error}"
    );
    assert!(error.contains("invalid peer certificate"), "{error}");
    assert!(!sandbox.path().join("hello.txt").exists());

    // Trusted CA, but the certificate does not name the host asked for.
    let options = FetchOptions {
        ca_files: vec![pki.ca_file.clone()],
        ..Default::default()
    };
    let error = run_fetch(
        &[uri(&format!("https://127.0.0.2:{port}/dl/hello.txt"))],
        sandbox.path(),
        &options,
    )
    .await;
    // 127.0.0.2 reaches the server only where the whole of 127/8 is local (Linux).
    if let Err(error) = error {
        assert!(
            error.contains("invalid peer certificate") || error.contains("onnect"),
            "{error}"
        );
    } else {
        panic!("a certificate for another host was accepted");
    }

    // A CA file that is not there.
    let options = FetchOptions {
        ca_files: vec![sandbox.path().join("no-such-ca.pem")],
        ..Default::default()
    };
    let error = run_fetch(&[uri(&url)], sandbox.path(), &options)
        .await
        .unwrap_err();
    assert!(
        error.contains("unable to read CA certificates from"),
        "{error}"
    );
}

#[tokio::test]
async fn https_connection_refused_fails_the_fetch() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sandbox = TempDir::new();
    let error = run_fetch(
        &[uri(&format!("https://127.0.0.1:{port}/x"))],
        sandbox.path(),
        &FetchOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(error.contains("Connection refused"), "{error}");
}

#[tokio::test]
async fn stalled_download_times_out() {
    let base = serve(http_fixture()).await;
    let sandbox = TempDir::new();
    let options = FetchOptions {
        stall_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let error = run_fetch(&[uri(&format!("{base}/stall/x"))], sandbox.path(), &options)
        .await
        .unwrap_err();
    assert!(error.contains("no data received"), "{error}");
    assert!(!sandbox.path().join("x").exists(), "partial file removed");
}

#[tokio::test]
async fn total_timeout_bounds_the_whole_fetch() {
    let base = serve(http_fixture()).await;
    let sandbox = TempDir::new();
    let options = FetchOptions {
        stall_timeout: Duration::from_secs(3600),
        total_timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let error = run_fetch(
        &[uri(&format!("{base}/silent/x"))],
        sandbox.path(),
        &options,
    )
    .await
    .unwrap_err();
    assert!(error.contains("Timed out"), "{error}");
}

// ---------------------------------------------------------------------------------------
// /files

struct Sandboxed {
    _outer: TempDir,
    sandbox: PathBuf,
    base: String,
    files: files::SharedFiles,
}

const VIRTUAL: &str = "/frameworks/f1/executors/e1/runs/latest";

/// An attached sandbox with `stdout`, `dir/inner.txt`, a symlink to `/etc`, a symlink to a
/// sibling secret outside, and an internal symlink; served over HTTP.
async fn sandboxed() -> Sandboxed {
    let outer = TempDir::new();
    let sandbox = outer.path().join("runs/c1");
    std::fs::create_dir_all(sandbox.join("dir")).unwrap();
    std::fs::write(sandbox.join("stdout"), "0123456789").unwrap();
    std::fs::write(sandbox.join("dir/inner.txt"), "inner").unwrap();
    std::fs::write(outer.path().join("runs/secret"), "secret").unwrap();
    std::fs::write(outer.path().join("runs/c1-sibling"), "sibling").unwrap();
    std::os::unix::fs::symlink("/etc", sandbox.join("etc")).unwrap();
    std::os::unix::fs::symlink("../secret", sandbox.join("secret")).unwrap();
    std::os::unix::fs::symlink("dir/inner.txt", sandbox.join("inner-link")).unwrap();
    std::os::unix::fs::symlink("c1", outer.path().join("runs/latest")).unwrap();

    let mut registry = Files::new();
    registry
        .attach(sandbox.to_str().unwrap(), &sandbox)
        .unwrap();
    registry
        .attach(
            outer.path().join("runs/latest").to_str().unwrap(),
            &outer.path().join("runs/latest"),
        )
        .unwrap();
    registry.attach(VIRTUAL, &sandbox).unwrap();
    let files = Arc::new(RwLock::new(registry));
    let base = serve(files::routes(files.clone())).await;
    Sandboxed {
        _outer: outer,
        sandbox,
        base,
        files,
    }
}

async fn get(url: &str) -> (u16, http::HeaderMap, Bytes) {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = client.get(url.parse().unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

async fn get_json(s: &Sandboxed, endpoint: &str, query: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = get(&format!("{}/files/{endpoint}?{query}", s.base)).await;
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[tokio::test]
async fn browse_lists_like_ls() {
    let s = sandboxed().await;
    let (status, listing) =
        get_json(&s, "browse", &format!("path={}", percent_encode(VIRTUAL))).await;
    assert_eq!(status, 200);
    let listing = listing.as_array().unwrap();
    let paths: Vec<&str> = listing
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            format!("{VIRTUAL}/dir"),
            format!("{VIRTUAL}/etc"),
            format!("{VIRTUAL}/inner-link"),
            format!("{VIRTUAL}/secret"),
            format!("{VIRTUAL}/stdout"),
        ]
    );
    let stdout = &listing[4];
    assert_eq!(stdout["size"], 10);
    assert_eq!(stdout["nlink"], 1);
    assert!(
        stdout["mode"].as_str().unwrap().starts_with("-rw"),
        "{stdout}"
    );
    assert!(stdout["mtime"].as_i64().unwrap() > 1_500_000_000);
    assert!(stdout["uid"].is_string() && stdout["gid"].is_string());
    // Keys in Mesos's order.
    let keys: Vec<&String> = stdout.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["gid", "mode", "mtime", "nlink", "path", "size", "uid"]
    );
    assert!(listing[0]["mode"].as_str().unwrap().starts_with('d'));
    // Symlinks inside are followed; ones leading outside show as links, not their targets.
    assert!(listing[2]["mode"].as_str().unwrap().starts_with('-'));
    assert!(listing[1]["mode"].as_str().unwrap().starts_with('l'));
    assert!(listing[3]["mode"].as_str().unwrap().starts_with('l'));

    // The same directory under its real path and under runs/latest; the legacy alias.
    let real = s.sandbox.to_str().unwrap().to_string();
    let (status, listing) = get_json(
        &s,
        "browse.json",
        &format!("path={}", percent_encode(&real)),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listing.as_array().unwrap().len(), 5);
    let latest = s.sandbox.parent().unwrap().join("latest/dir");
    let (status, listing) = get_json(
        &s,
        "browse",
        &format!("path={}", percent_encode(latest.to_str().unwrap())),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listing[0]["size"], 5);

    // Mesos answers a file with an empty listing, a missing path with 404, no path with 400.
    let (status, listing) = get_json(
        &s,
        "browse",
        &format!("path={}", percent_encode(&format!("{VIRTUAL}/stdout"))),
    )
    .await;
    assert_eq!((status, listing), (200, serde_json::json!([])));
    let (status, _) = get_json(
        &s,
        "browse",
        &format!("path={}", percent_encode(&format!("{VIRTUAL}/nope"))),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get_json(&s, "browse", "path=%2Fnot-attached").await;
    assert_eq!(status, 404);
    let (status, _) = get_json(&s, "browse", "").await;
    assert_eq!(status, 400);

    // Detached: gone.
    s.files.write().unwrap().detach(VIRTUAL);
    let (status, _) = get_json(&s, "browse", &format!("path={}", percent_encode(VIRTUAL))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn read_honours_offset_and_length() {
    let s = sandboxed().await;
    let path = percent_encode(&format!("{VIRTUAL}/stdout"));
    let s = &s;
    let path = &path;
    let read =
        |query: String| async move { get_json(s, "read", &format!("path={path}&{query}")).await };

    assert_eq!(
        read("offset=0".into()).await,
        (200, serde_json::json!({"data": "0123456789", "offset": 0}))
    );
    assert_eq!(
        read("offset=3&length=4".into()).await,
        (200, serde_json::json!({"data": "3456", "offset": 3}))
    );
    // -1 (or no offset) asks for the size.
    assert_eq!(
        read("offset=-1".into()).await,
        (200, serde_json::json!({"data": "", "offset": 10}))
    );
    assert_eq!(
        read(String::new()).await,
        (200, serde_json::json!({"data": "", "offset": 10}))
    );
    // length=-1 means "to the end".
    assert_eq!(
        read("offset=8&length=-1".into()).await,
        (200, serde_json::json!({"data": "89", "offset": 8}))
    );
    // At or past the end: no data, the requested offset.
    assert_eq!(
        read("offset=20".into()).await,
        (200, serde_json::json!({"data": "", "offset": 20}))
    );
    // Bad parameters.
    assert_eq!(read("offset=abc".into()).await.0, 400);
    assert_eq!(read("offset=-2".into()).await.0, 400);
    assert_eq!(read("offset=0&length=-5".into()).await.0, 400);
    // A directory, a missing file.
    let (status, _) = get_json(
        s,
        "read",
        &format!(
            "path={}&offset=0",
            percent_encode(&format!("{VIRTUAL}/dir"))
        ),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = get_json(
        s,
        "read",
        &format!(
            "path={}&offset=0",
            percent_encode(&format!("{VIRTUAL}/none"))
        ),
    )
    .await;
    assert_eq!(status, 404);
    // Through an internal symlink; the legacy alias; jsonp.
    let (status, json) = get_json(
        s,
        "read.json",
        &format!(
            "path={}&offset=0",
            percent_encode(&format!("{VIRTUAL}/inner-link"))
        ),
    )
    .await;
    assert_eq!(
        (status, json),
        (200, serde_json::json!({"data": "inner", "offset": 0}))
    );
    let (_, headers, body) = get(&format!(
        "{}/files/read?path={path}&offset=0&length=2&jsonp=cb",
        s.base
    ))
    .await;
    assert_eq!(&body[..], br#"cb({"data":"01","offset":0});"#);
    assert_eq!(headers["content-type"], "text/javascript");
}

#[tokio::test]
async fn read_is_capped_at_sixteen_pages_and_passes_bytes_through() {
    let s = sandboxed().await;
    let big = vec![b'x'; 200_000];
    std::fs::write(s.sandbox.join("big"), &big).unwrap();
    let (status, json) = get_json(
        &s,
        "read",
        &format!(
            "path={}&offset=0",
            percent_encode(&format!("{VIRTUAL}/big"))
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        json["data"].as_str().unwrap().len() as u64,
        files::max_read_length()
    );

    // Non-UTF-8 bytes come back raw in the JSON string, as Mesos writes them.
    std::fs::write(s.sandbox.join("bin"), b"a\xff\"b").unwrap();
    let (_, _, body) = get(&format!(
        "{}/files/read?path={}&offset=0",
        s.base,
        percent_encode(&format!("{VIRTUAL}/bin"))
    ))
    .await;
    assert_eq!(&body[..], b"{\"data\":\"a\xff\\\"b\",\"offset\":0}");
}

#[tokio::test]
async fn download_sends_the_file_as_an_attachment() {
    let s = sandboxed().await;
    std::fs::write(s.sandbox.join("notes.txt"), "some notes").unwrap();
    let (status, headers, body) = get(&format!(
        "{}/files/download?path={}",
        s.base,
        percent_encode(&format!("{VIRTUAL}/notes.txt"))
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"some notes");
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=notes.txt"
    );

    let (status, headers, body) = get(&format!(
        "{}/files/download.json?path={}",
        s.base,
        percent_encode(&format!("{VIRTUAL}/stdout"))
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"0123456789");
    assert_eq!(headers["content-type"], "application/octet-stream");

    let (status, _, _) = get(&format!(
        "{}/files/download?path={}",
        s.base,
        percent_encode(&format!("{VIRTUAL}/dir"))
    ))
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = get(&format!(
        "{}/files/download?path={}",
        s.base,
        percent_encode(&format!("{VIRTUAL}/none"))
    ))
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn nothing_outside_an_attached_directory_is_served() {
    let s = sandboxed().await;
    let attempts = [
        format!("{VIRTUAL}/../../../../../../etc/passwd"),
        format!("{VIRTUAL}/dir/../../secret"),
        format!("{VIRTUAL}/etc/passwd"),
        format!("{VIRTUAL}/secret"),
        format!("{VIRTUAL}//etc/passwd"),
        format!("{}/../secret", s.sandbox.display()),
        format!("{}/../c1-sibling", s.sandbox.display()),
        "/etc/passwd".to_string(),
        format!("{VIRTUAL}/%2e%2e/%2e%2e/secret"),
    ];
    for attempt in &attempts {
        for endpoint in ["read", "download", "browse"] {
            let url = format!(
                "{}/files/{endpoint}?path={}&offset=0",
                s.base,
                percent_encode(attempt)
            );
            let (status, _, body) = get(&url).await;
            assert!(
                status == 400 || status == 404,
                "{endpoint} {attempt}: {status} {:?}",
                String::from_utf8_lossy(&body)
            );
            assert!(
                !String::from_utf8_lossy(&body).contains("root:"),
                "{endpoint} {attempt}"
            );
            assert!(
                !String::from_utf8_lossy(&body).contains("secret\""),
                "{endpoint} {attempt}"
            );
        }
    }
    // Raw (not percent-encoded) `..` in the query, and an encoded NUL.
    for query in [
        format!("path={VIRTUAL}/../../secret&offset=0"),
        format!("path={}%00/etc/passwd&offset=0", percent_encode(VIRTUAL)),
    ] {
        let (status, _, body) = get(&format!("{}/files/read?{query}", s.base)).await;
        assert!(status == 400 || status == 404, "{query}: {status} {body:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the path string, resolution lands inside the attached directory or nowhere.
    #[test]
    fn resolution_never_leaves_the_root(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("..".to_string()),
                Just(".".to_string()),
                Just("".to_string()),
                Just("etc".to_string()),
                Just("dir".to_string()),
                Just("up".to_string()),
                Just("abs".to_string()),
                Just("passwd".to_string()),
                Just("file://".to_string()),
                "[a-z./%\\\\]{0,6}",
            ],
            0..8,
        ),
        lead in prop_oneof![Just(VIRTUAL.to_string()), Just("".to_string()), Just("/".to_string())],
    ) {
        let (root, files) = property_fixture();
        let path = format!("{lead}/{}", parts.join("/"));
        if let Ok(Some(resolved)) = files.resolve(&path) {
            let canonical = resolved.canonicalize().unwrap();
            prop_assert!(canonical.starts_with(root.path()), "{path} -> {}", canonical.display());
        }
    }
}

/// One sandbox for all property cases (`proptest` runs them in one thread): symlinks `etc`
/// to `/etc`, `up` to `..`, `abs` to `/`, and a directory `dir`.
fn property_fixture() -> (&'static TempDir, &'static Files) {
    use std::sync::OnceLock;
    static FIXTURE: OnceLock<(TempDir, Files)> = OnceLock::new();
    let (dir, files) = FIXTURE.get_or_init(|| {
        let dir = TempDir::new();
        std::fs::create_dir(dir.path().join("dir")).unwrap();
        std::fs::write(dir.path().join("dir/passwd"), "fake").unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("..", dir.path().join("up")).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("abs")).unwrap();
        let mut files = Files::new();
        files.attach(VIRTUAL, dir.path()).unwrap();
        (dir, files)
    });
    (dir, files)
}

// ---------------------------------------------------------------------------------------
// Issue 11: a task's archives and URIs cannot reach outside its sandbox, whoever fetches.
// These run `fetch` in-process as the test's user (root here, with no user to switch to), so
// they exercise the checks that hold even when the fetcher runs as root.

/// A tar with `symlinks` `(name, target)`, then `files` (4 bytes each), then hard links
/// `hard` `(name, target)`. Names are written raw (no validation).
fn links_tar(symlinks: &[(&str, &str)], hard: &[(&str, &str)], files: &[&str]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let raw = |kind: tar::EntryType, name: &str, link: &str, size: u64| {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_size(size);
        header.set_mode(0o777);
        header.set_entry_type(kind);
        header.set_cksum();
        header
    };
    for (name, target) in symlinks {
        let header = raw(tar::EntryType::Symlink, name, target, 0);
        builder.append(&header, std::io::empty()).unwrap();
    }
    for name in files {
        let header = raw(tar::EntryType::Regular, name, "", 4);
        builder.append(&header, &b"evil"[..]).unwrap();
    }
    for (name, target) in hard {
        let header = raw(tar::EntryType::Link, name, target, 0);
        builder.append(&header, std::io::empty()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Every symlink below `dir` whose target, followed to the end, is outside `dir`.
fn links_leading_out(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                if let Ok(target) = path.canonicalize()
                    && !target.starts_with(dir)
                {
                    out.push(path);
                }
            } else if kind.is_dir() {
                pending.push(path);
            }
        }
    }
    out
}

async fn fetch_archive(name: &str, bytes: Vec<u8>, sandbox: &Path) -> Result<String, String> {
    let source = TempDir::new();
    let path = source.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    run_fetch(
        &[uri(path.to_str().unwrap())],
        sandbox,
        &FetchOptions::default(),
    )
    .await
}

#[tokio::test]
async fn archive_symlinks_that_resolve_outside_are_refused_absolute_relative_or_chained() {
    let outer = TempDir::new();
    std::fs::write(outer.path().join("secret"), "secret").unwrap();
    let secret = outer.path().join("secret");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // An absolute target, the `stdout -> <root-owned file>` of issue 11.
        (
            "abs.tar",
            links_tar(&[("stdout", secret.to_str().unwrap())], &[], &[]),
        ),
        // Climbing out with `..`.
        ("rel.tar", links_tar(&[("a/b", "../../secret")], &[], &[])),
        // A chain: `a/up -> ..` is the sandbox itself, but `a/up2 -> up/..` is its parent.
        (
            "chain.tar",
            links_tar(&[("a/up", ".."), ("a/up2", "up/..")], &[], &[]),
        ),
        // A link made before the link it goes through: `l -> d/..` then `d -> .`.
        (
            "late.tar",
            links_tar(&[("l", "d/.."), ("d", ".")], &[], &[]),
        ),
        // The same in a zip.
        ("abs.zip", {
            let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default();
            writer
                .add_symlink("stdout", secret.to_str().unwrap(), options)
                .unwrap();
            writer.finish().unwrap().into_inner()
        }),
        ("chain.zip", {
            let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default();
            writer.add_symlink("a/up", "..", options).unwrap();
            writer.add_symlink("a/up2", "up/..", options).unwrap();
            writer.finish().unwrap().into_inner()
        }),
    ];
    for (name, bytes) in cases {
        let sandbox = outer.path().join(format!("sandbox-{name}"));
        std::fs::create_dir(&sandbox).unwrap();
        let error = fetch_archive(name, bytes, &sandbox).await.unwrap_err();
        assert!(error.contains("outside the sandbox"), "{name}: {error}");
        assert_eq!(links_leading_out(&sandbox), Vec::<PathBuf>::new(), "{name}");
    }
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "secret");
}

#[tokio::test]
async fn archive_symlinks_inside_the_sandbox_still_extract() {
    let sandbox = TempDir::new();
    let tar = links_tar(
        &[
            ("lib/libx.so", "libx.so.1"),
            ("bin/up", ".."),
            ("top", "lib"),
        ],
        &[("bin/copy", "data")],
        &["data", "lib/libx.so.1"],
    );
    fetch_archive("ok.tar", tar, sandbox.path()).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("top/libx.so")).unwrap(),
        "evil"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("bin/copy")).unwrap(),
        "evil"
    );
}

#[tokio::test]
async fn tar_hard_links_cannot_reach_outside_through_a_symlink() {
    let outer = TempDir::new();
    std::fs::create_dir(outer.path().join("private")).unwrap();
    std::fs::write(outer.path().join("private/key"), "key").unwrap();
    let sandbox = outer.path().join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    let private = outer.path().join("private");
    let tar = links_tar(&[("d", private.to_str().unwrap())], &[("h", "d/key")], &[]);
    let error = fetch_archive("hard.tar", tar, &sandbox).await.unwrap_err();
    assert!(error.contains("outside the sandbox"), "{error}");
    assert!(!sandbox.join("h").exists(), "a hard link to a file outside");
    assert_eq!(links_leading_out(&sandbox), Vec::<PathBuf>::new());
    // A hard link whose target is named with `..` or absolutely.
    for target in ["../private/key", private.join("key").to_str().unwrap()] {
        let tar = links_tar(&[], &[("h", target)], &[]);
        let error = fetch_archive("hard.tar", tar, &sandbox).await.unwrap_err();
        assert!(error.contains("outside the sandbox"), "{target}: {error}");
        assert!(!sandbox.join("h").exists());
    }
}

#[tokio::test]
async fn output_file_never_follows_a_symlink_out_of_the_sandbox() {
    let outer = TempDir::new();
    let outside = outer.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let sandbox = outer.path().join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    // Planted by whoever owns the sandbox (the task's user, or an earlier fetch).
    std::os::unix::fs::symlink(&outside, sandbox.join("lnk")).unwrap();
    std::os::unix::fs::symlink(outside.join("f"), sandbox.join("f")).unwrap();
    let source = TempDir::new();
    std::fs::write(source.path().join("x"), "x").unwrap();
    let mut u = uri(source.path().join("x").to_str().unwrap());
    u.output_file = Some("lnk/x".into());
    let error = run_fetch(&[u.clone()], &sandbox, &FetchOptions::default())
        .await
        .unwrap_err();
    assert!(error.contains("within the sandbox"), "{error}");
    // A symlink as the output file itself is replaced, not written through.
    u.output_file = Some("f".into());
    run_fetch(&[u], &sandbox, &FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(std::fs::read_to_string(sandbox.join("f")).unwrap(), "x");
}

#[tokio::test]
async fn local_sources_must_be_regular_files() {
    let source = TempDir::new();
    let sandbox = TempDir::new();
    let fifo = source.path().join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    for path in [fifo.to_str().unwrap(), "/dev/zero"] {
        let error = tokio::time::timeout(
            Duration::from_secs(30),
            run_fetch(&[uri(path)], sandbox.path(), &FetchOptions::default()),
        )
        .await
        .expect("the fetch answers instead of blocking")
        .unwrap_err();
        assert!(error.contains("not a regular file"), "{path}: {error}");
    }
}

// ---------------------------------------------------------------------------------------
// Issue 11: /files serves regular files only and never blocks on a FIFO.

#[tokio::test]
async fn a_fifo_in_the_sandbox_is_refused_at_once_by_every_route() {
    let s = sandboxed().await;
    let fifo = s.sandbox.join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let path = percent_encode(&format!("{VIRTUAL}/pipe"));
    for endpoint in ["read", "download"] {
        let url = format!("{}/files/{endpoint}?path={path}&offset=0", s.base);
        let (status, _, body) = tokio::time::timeout(Duration::from_secs(30), get(&url))
            .await
            .expect("an answer, not a blocked thread");
        assert_eq!(status, 400, "{endpoint}: {body:?}");
        assert!(
            String::from_utf8_lossy(&body).contains("not a regular file"),
            "{endpoint}: {body:?}"
        );
    }
    // Browsing lists it (as `ls` would) without opening it.
    let (status, listing) =
        get_json(&s, "browse", &format!("path={}", percent_encode(VIRTUAL))).await;
    assert_eq!(status, 200);
    assert!(
        listing
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["mode"].as_str().is_some_and(|m| m.starts_with('p'))),
        "{listing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_never_lists_a_directory_swapped_for_a_symlink() {
    let s = sandboxed().await;
    // The task swaps `d` between a directory and a symlink to /etc as fast as it can.
    let (d, parked) = (s.sandbox.join("d"), s.sandbox.join("d-real"));
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("mine"), "mine").unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (d, parked, stop) = (d.clone(), parked.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::rename(&d, &parked);
                let _ = std::os::unix::fs::symlink("/etc", &d);
                let _ = std::fs::remove_file(&d);
                let _ = std::fs::rename(&parked, &d);
            }
        })
    };
    let path = format!("{VIRTUAL}/d");
    for _ in 0..3000 {
        let files = s.files.clone();
        let path = path.clone();
        let listing = files::with_files(files, move |f| f.browse(&path)).await;
        if let Ok(listing) = listing {
            for entry in &listing {
                assert!(
                    entry.path.ends_with("/mine"),
                    "listed something outside: {}",
                    entry.path
                );
            }
        }
        let files = s.files.clone();
        let path = format!("{VIRTUAL}/d/passwd");
        let read = files::with_files(files, move |f| f.read(&path, 0, None)).await;
        if let Ok((_, data)) = read {
            panic!("read outside: {}", String::from_utf8_lossy(&data));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
}

// ---------------------------------------------------------------------------------------
// Issue 11 end to end: a real master and a real agent running as root, a framework whose
// user is `nobody`. The fetch runs as `nobody`; nothing it fetches reaches outside.

mod support;

use remesos_proto::v1;
use support::{TestFramework, command_task, free_port, spawn_agent, spawn_master};

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A cluster of one master and one agent (root), and a framework subscribed as `nobody`.
struct Cluster {
    dir: TempDir,
    agent: String,
    framework: TestFramework,
    _daemons: (support::Daemon, support::Daemon),
}

async fn cluster_as_nobody(name: &str) -> Cluster {
    cluster_as_nobody_with(name, &[]).await
}

async fn cluster_as_nobody_with(name: &str, agent_flags: &[&str]) -> Cluster {
    let dir = TempDir::new();
    let (master_daemon, master) = spawn_master(dir.path()).await;
    let port = free_port();
    let agent = format!("127.0.0.1:{port}");
    let agent_daemon = spawn_agent(&master, port, &dir.path().join("agent"), agent_flags);
    support::registered_agent_state(&agent).await;
    let info = v1::FrameworkInfo {
        user: "nobody".into(),
        name: name.into(),
        ..Default::default()
    };
    let sub = remesos::client::scheduler::Subscription::subscribe(
        &master,
        v1::scheduler::call::Subscribe {
            framework_info: info,
            ..Default::default()
        },
        remesos::client::Format::Protobuf,
    )
    .await
    .unwrap();
    Cluster {
        dir,
        agent,
        framework: TestFramework { sub },
        _daemons: (master_daemon, agent_daemon),
    }
}

impl Cluster {
    /// Launches one command task with `uris` and returns its terminal status.
    async fn run(&mut self, id: &str, command: &str, uris: Vec<Uri>) -> v1::TaskStatus {
        let offer = self.framework.next_offer().await;
        let mut task = command_task(id, &offer, "cpus:0.1;mem:32", command);
        task.command.as_mut().unwrap().uris = uris;
        self.framework.launch(&offer, vec![task]).await;
        loop {
            let status = self.framework.next_update(Duration::from_secs(60)).await;
            if status.task_id.value == id
                && v1::TaskState::try_from(status.state)
                    .is_ok_and(remesos::common::protocol::is_terminal)
            {
                return status;
            }
        }
    }

    /// The task's sandbox (its latest run).
    fn sandbox(&self, id: &str) -> PathBuf {
        let fid = &self.framework.sub.framework_id.value;
        let slaves = self.dir.path().join("agent/slaves");
        let agent_dir = std::fs::read_dir(&slaves)
            .unwrap()
            .flatten()
            .find(|e| e.file_type().unwrap().is_dir())
            .unwrap()
            .path();
        agent_dir
            .join(format!("frameworks/{fid}/executors/{id}/runs/latest"))
            .canonicalize()
            .unwrap()
    }
}

/// A file only root may read or write, outside any sandbox.
fn root_only_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "root-only\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A world-readable copy of `bytes` for the fetcher (running as `nobody`) to read.
fn public_file(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path.to_str().unwrap().to_string()
}

/// `--switch_user` (Mesos's agent flag, default true; src/slave/slave.cpp
/// `Framework::launchExecutor`): an agent running as root starts a task whose
/// `CommandInfo.user` is `nobody` as `nobody`, its sandbox chowned to it; with
/// `--switch_user=false` the same task runs as the agent's own user (root) and the sandbox
/// stays the agent's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_user_decides_whether_a_task_runs_as_its_user_or_as_the_agents() {
    if !running_as_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    assert_ne!(nobody, 0);
    for (flags, uid) in [
        (&[][..], nobody),
        (&["--switch_user=true"][..], nobody),
        (&["--switch_user=false"][..], 0),
    ] {
        let mut cluster = cluster_as_nobody_with("switch-user", flags).await;
        let offer = cluster.framework.next_offer().await;
        let mut task = command_task("whoami", &offer, "cpus:0.1;mem:32", "id -u");
        task.command.as_mut().unwrap().user = Some("nobody".into());
        cluster.framework.launch(&offer, vec![task]).await;
        let status = loop {
            let status = cluster.framework.next_update(Duration::from_secs(60)).await;
            if v1::TaskState::try_from(status.state)
                .is_ok_and(remesos::common::protocol::is_terminal)
            {
                break status;
            }
        };
        assert_eq!(
            status.state,
            v1::TaskState::TaskFinished as i32,
            "{flags:?}: {status:?}"
        );
        let sandbox = cluster.sandbox("whoami");
        let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
        assert!(
            stdout.lines().any(|l| l.trim() == uid.to_string()),
            "{flags:?}: the task ran as uid {uid}: {stdout}"
        );
        assert_eq!(
            std::fs::metadata(&sandbox).unwrap().uid(),
            uid,
            "{flags:?}: the sandbox's owner"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fetcher_runs_as_the_tasks_user_and_cannot_read_root_files() {
    if !running_as_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let mut cluster = cluster_as_nobody("fetch-as-user").await;
    let secret = root_only_file(cluster.dir.path(), "shadow");
    let status = cluster
        .run(
            "shadow",
            "true",
            vec![uri(&format!("file://{}", secret.display()))],
        )
        .await;
    assert_eq!(status.state, v1::TaskState::TaskFailed as i32, "{status:?}");
    let message = status.message.unwrap_or_default();
    assert!(
        message.starts_with("Failed to fetch 'file://") && message.contains("Permission denied"),
        "{message}"
    );
    let sandbox = cluster.sandbox("shadow");
    assert!(
        !sandbox.join("shadow").exists(),
        "a root-only file was fetched"
    );

    // What the user may read is fetched, and belongs to the user.
    let public = public_file(cluster.dir.path(), "public.txt", b"public\n");
    let status = cluster
        .run("public", "cat public.txt", vec![uri(&public)])
        .await;
    assert_eq!(
        status.state,
        v1::TaskState::TaskFinished as i32,
        "{status:?}"
    );
    let sandbox = cluster.sandbox("public");
    let owner = |p: &Path| std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(p).unwrap());
    assert_eq!(owner(&sandbox.join("public.txt")), 65534);
    assert_eq!(owner(&sandbox.join("stdout")), 65534);
    assert_eq!(
        std::fs::read_to_string(sandbox.join("stdout")).unwrap(),
        "public\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_cannot_turn_stdout_into_a_symlink_to_a_root_file() {
    if !running_as_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let mut cluster = cluster_as_nobody("stdout-symlink").await;
    let target = root_only_file(cluster.dir.path(), "target");
    let tar = links_tar(&[("stdout", target.to_str().unwrap())], &[], &[]);
    let zip = {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        writer
            .add_symlink("stdout", target.to_str().unwrap(), options)
            .unwrap();
        writer.finish().unwrap().into_inner()
    };
    for (id, name, bytes) in [("tar", "out.tar", tar), ("zip", "out.zip", zip)] {
        let archive = public_file(cluster.dir.path(), name, &bytes);
        let status = cluster.run(id, "echo pwned", vec![uri(&archive)]).await;
        assert_eq!(status.state, v1::TaskState::TaskFailed as i32, "{status:?}");
        assert!(
            status
                .message
                .as_deref()
                .unwrap_or("")
                .contains("outside the sandbox"),
            "{status:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "root-only\n",
            "the agent wrote the task's output through a symlink"
        );
        assert_eq!(
            links_leading_out(&cluster.sandbox(id)),
            Vec::<PathBuf>::new()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlinked_directory_and_an_output_file_cannot_write_outside() {
    if !running_as_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let mut cluster = cluster_as_nobody("output-file").await;
    let outside = cluster.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    // World-writable, so only the fetcher's own checks (not permissions) keep it clean.
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o777)).unwrap();
    let tar = links_tar(&[("lnk", outside.to_str().unwrap())], &[], &[]);
    let archive = public_file(cluster.dir.path(), "lnk.tar", &tar);
    let payload = public_file(cluster.dir.path(), "payload", b"payload");
    let mut second = uri(&payload);
    second.output_file = Some("lnk/x".into());
    let status = cluster
        .run("lnk", "true", vec![uri(&archive), second])
        .await;
    assert_eq!(status.state, v1::TaskState::TaskFailed as i32, "{status:?}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(
        links_leading_out(&cluster.sandbox("lnk")),
        Vec::<PathBuf>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_fifo_a_task_made_answers_at_once_and_launches_go_on() {
    if !running_as_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let mut cluster = cluster_as_nobody("fifo").await;
    let offer = cluster.framework.next_offer().await;
    let task = command_task(
        "fifo",
        &offer,
        "cpus:0.1;mem:32",
        "mkfifo pipe && exec sleep 600",
    );
    cluster.framework.launch(&offer, vec![task]).await;
    loop {
        let status = cluster.framework.next_update(Duration::from_secs(60)).await;
        assert!(
            status.state == v1::TaskState::TaskRunning as i32
                || status.state == v1::TaskState::TaskStarting as i32,
            "{status:?}"
        );
        if status.state == v1::TaskState::TaskRunning as i32 {
            break;
        }
    }
    let sandbox = cluster.sandbox("fifo");
    while !sandbox.join("pipe").exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // More reads than the agent has blocking threads (512): on a server that opened the
    // FIFO, each would hold one forever.
    let fid = cluster.framework.sub.framework_id.value.clone();
    let pipe = format!("/frameworks/{fid}/executors/fifo/runs/latest/pipe");
    let reads = (0..600).map(|i| {
        let agent = cluster.agent.clone();
        let pipe = pipe.clone();
        async move {
            if i % 2 == 0 {
                let url = format!(
                    "http://{agent}/files/read?path={}&offset=0",
                    percent_encode(&pipe)
                );
                let (status, _, body) = get(&url).await;
                (status, String::from_utf8_lossy(&body).into_owned())
            } else {
                let (status, body) = support::operator_call(
                    &agent,
                    &format!(
                        r#"{{"type":"READ_FILE","read_file":{{"path":"{pipe}","offset":0}}}}"#
                    ),
                )
                .await;
                (status, body.to_string())
            }
        }
    });
    let answers = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(reads))
        .await
        .expect("every read answers instead of blocking on the FIFO");
    for (status, body) in answers {
        assert_eq!(status, 400, "{body}");
    }
    // A launch still goes through.
    let public = public_file(cluster.dir.path(), "after.txt", b"after\n");
    let status = cluster
        .run("after", "cat after.txt", vec![uri(&public)])
        .await;
    assert_eq!(
        status.state,
        v1::TaskState::TaskFinished as i32,
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_routes_never_serve_what_a_task_links_to_outside() {
    if !running_as_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let mut cluster = cluster_as_nobody("links").await;
    let secret = root_only_file(cluster.dir.path(), "secret");
    let offer = cluster.framework.next_offer().await;
    let task = command_task(
        "links",
        &offer,
        "cpus:0.1;mem:32",
        &format!(
            "ln -s / root && ln -s {} secret && mkdir d && ln -s ../../../../../../../.. d/up \
             && echo ready > mine && exec sleep 600",
            secret.display()
        ),
    );
    cluster.framework.launch(&offer, vec![task]).await;
    let sandbox = loop {
        let status = cluster.framework.next_update(Duration::from_secs(60)).await;
        if status.state == v1::TaskState::TaskRunning as i32 {
            break cluster.sandbox("links");
        }
    };
    while !sandbox.join("mine").exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fid = cluster.framework.sub.framework_id.value.clone();
    let run = format!("/frameworks/{fid}/executors/links/runs/latest");
    let real = sandbox.display().to_string();
    let attempts = [
        format!("{run}/secret"),
        format!("{run}/root/etc/passwd"),
        format!("{run}/d/up/etc/passwd"),
        format!("{run}/../../../../../../../../etc/passwd"),
        format!("{real}/secret"),
        format!("{real}/../../../../../../../../etc/passwd"),
        format!("{real}/root"),
        format!("{run}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ];
    let agent = &cluster.agent;
    for attempt in &attempts {
        for endpoint in ["read", "download", "browse"] {
            let url = format!(
                "http://{agent}/files/{endpoint}?path={}&offset=0",
                percent_encode(attempt)
            );
            let (status, _, body) = get(&url).await;
            let body = String::from_utf8_lossy(&body);
            assert!(
                status == 400 || status == 404,
                "{endpoint} {attempt}: {status} {body}"
            );
            assert!(
                !body.contains("root-only") && !body.contains("root:"),
                "{body}"
            );
        }
        for call in [
            format!(r#"{{"type":"READ_FILE","read_file":{{"path":"{attempt}","offset":0}}}}"#),
            format!(r#"{{"type":"LIST_FILES","list_files":{{"path":"{attempt}"}}}}"#),
        ] {
            let (status, body) = support::operator_call(agent, &call).await;
            assert!(status == 400 || status == 404, "{call}: {status} {body}");
        }
    }
    // The sandbox itself lists the links as links, with nothing about their targets.
    let (status, body) = support::operator_call(
        agent,
        &format!(r#"{{"type":"LIST_FILES","list_files":{{"path":"{run}"}}}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for info in body["list_files"]["file_infos"].as_array().unwrap() {
        let path = info["path"].as_str().unwrap();
        if path.ends_with("/secret") || path.ends_with("/root") {
            assert_eq!(
                info["mode"].as_u64().unwrap() & 0o170000,
                0o120000,
                "{info}"
            );
        }
    }
}
