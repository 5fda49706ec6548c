//! Pullers: where an image's manifest, config and layers come from (Mesos's
//! docker/registry_puller.cpp and docker/image_tar_puller.cpp).
//!
//! - A registry v2 server (`--docker_registry=http(s)://host[:port]`): the manifest (Docker
//!   schema 2 or OCI; a manifest list or index resolves to this machine's platform), the config
//!   blob and the layer blobs, each verified against its sha256 digest and bounded in size.
//!   A registry that answers 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`
//!   gets a token request to its realm, as Docker's and Mesos's clients do. Credentials
//!   come from `--docker_config` ([`Credentials`], Mesos's `getAuthHeaderBasic` in
//!   src/uri/fetchers/docker.cpp): the `auth` of the entry whose key names the registry's
//!   `host[:port]` goes as `Authorization: Basic` on every request to that registry and on
//!   its token request; without one both are anonymous. A refusal (401) fails the pull with
//!   a message that says whether credentials were sent. Credentials are never logged and
//!   never sent to another host (a redirect to blob storage goes without them). Every
//!   read that receives nothing for `--fetcher_stall_timeout` fails. A registry named in the
//!   image (`host:port/name`) is used over https (plain http on loopback). On Docker Hub, a name
//!   without `/` is looked up under `library/`, as Mesos does.
//! - A local directory (`--docker_registry=/abs/dir`) of `docker save` archives named
//!   `<repository>:<tag>.tar` in the legacy layout: `repositories` (repository → tag → top
//!   layer id), `<id>/json` (its `parent`, and the image `config` on the top layer) and
//!   `<id>/layer.tar`. The layers' digests are the sha256 of their `layer.tar`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncWriteExt;

use super::store::{ImageConfig, hex, valid_digest_hex};
use super::{ImageSettings, Reference, Source};
use crate::common::percent_encode;

/// The most a manifest or config blob may take.
const MAX_METADATA_BYTES: u64 = 4 << 20;
const MAX_REDIRECTS: usize = 10;

const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.index.v1+json";

/// One layer of an image, bottom first.
#[derive(Clone, Debug)]
pub struct Layer {
    pub digest_hex: String,
    /// The declared size of the blob (registry); checked while downloading.
    pub size: Option<u64>,
    /// Inside a local archive: the path of its `layer.tar`.
    tar_entry: Option<String>,
}

/// An image's layers and configuration.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub layers: Vec<Layer>,
    pub config: ImageConfig,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Registry credentials from `--docker_config`: registry `host[:port]` → the base64
/// `user:password` of its `auth`. Its `Debug` shows the registries only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials(Vec<(String, String)>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(registry, _)| registry))
            .finish()
    }
}

impl Credentials {
    /// From `--docker_config` in config.json form ([`super::super::docker::read_config`]).
    /// An `auth` that is not base64 stops the agent (it would be sent as a header); entries
    /// without `auth` (credential helpers, `credsStore`) are ignored, as Mesos does.
    pub fn from_config(
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Credentials, String> {
        let mut out = Vec::new();
        let auths = config.get("auths").and_then(|a| a.as_object());
        for (key, entry) in auths.into_iter().flatten() {
            let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) else {
                continue;
            };
            let registry = registry_of_key(key);
            if auth.is_empty()
                || auth.len() > 4096
                || !auth
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            {
                return Err(format!(
                    "--docker_config: the 'auth' of '{registry}' is not base64 'user:password'"
                ));
            }
            out.push((registry.to_string(), auth.to_string()));
        }
        Ok(Credentials(out))
    }

    /// The `auth` for a registry at `authority` (`host[:port]`): the entry whose key names
    /// it, or for Docker Hub (docker.io and its subdomains) any key naming a Docker Hub
    /// host. Mesos matches "contains docker.io"; a host such as `docker.io.example.net`
    /// gets no Docker Hub credentials here.
    fn for_registry(&self, authority: &str) -> Option<&str> {
        fn docker_hub(authority: &str) -> bool {
            let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
            host == "docker.io" || host.ends_with(".docker.io")
        }
        self.0
            .iter()
            .find(|(key, _)| key == authority || (docker_hub(authority) && docker_hub(key)))
            .map(|(_, auth)| auth.as_str())
    }
}

/// A config key (`https://index.docker.io/v1/`, `localhost:5000`) → its `host[:port]`, as
/// Mesos's `spec::parseAuthUrl`.
fn registry_of_key(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

pub enum Puller {
    Registry {
        client: Box<HttpClient>,
        base: hyper::Uri,
        repository: String,
        reference: String,
        pinned: Option<String>,
        stall: Duration,
        /// A bearer token once the registry asked for one.
        token: std::sync::Mutex<Option<String>>,
        /// The registry's `auth` from `--docker_config` (base64 `user:password`).
        basic: Option<String>,
    },
    Local {
        archive: PathBuf,
        repository: String,
        tag: String,
    },
}

impl Puller {
    pub fn new(settings: &ImageSettings, reference: &Reference) -> Result<Puller, String> {
        match &settings.source {
            Source::Local(dir) => {
                if reference.registry.is_some() || reference.digest.is_some() {
                    return Err(
                        "a local --docker_registry holds images by name and tag only".into(),
                    );
                }
                // The reference was validated: plain lowercase components, no `..`.
                let archive = dir.join(format!("{}:{}.tar", reference.repository, reference.tag));
                if !archive.is_file() {
                    return Err(format!(
                        "Failed to find archive for image '{}:{}' at '{}'",
                        reference.repository,
                        reference.tag,
                        archive.display()
                    ));
                }
                Ok(Puller::Local {
                    archive,
                    repository: reference.repository.clone(),
                    tag: reference.tag.clone(),
                })
            }
            Source::Registry(default) => {
                let base: hyper::Uri = match &reference.registry {
                    Some(host) if default.authority().map(|a| a.as_str()) != Some(host) => {
                        // A registry named in the image is spoken to over https, except on
                        // loopback, which Docker too treats as an insecure registry.
                        let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
                        let scheme = if name == "localhost" || name.starts_with("127.") {
                            "http"
                        } else {
                            "https"
                        };
                        format!("{scheme}://{host}")
                            .parse()
                            .map_err(|e| format!("invalid registry '{host}': {e}"))?
                    }
                    _ => default.clone(),
                };
                let mut repository = reference.repository.clone();
                if base.host().is_some_and(|h| h.contains("docker.io")) && !repository.contains('/')
                {
                    repository = format!("library/{repository}");
                }
                let tls = crate::agent::fetcher::tls_config(&[], &mut std::io::sink())?;
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .build();
                Ok(Puller::Registry {
                    client: Box::new(Client::builder(TokioExecutor::new()).build(connector)),
                    repository,
                    reference: reference
                        .digest
                        .clone()
                        .unwrap_or_else(|| reference.tag.clone()),
                    pinned: reference.digest.clone(),
                    stall: settings.stall_timeout,
                    token: std::sync::Mutex::new(None),
                    basic: base
                        .authority()
                        .and_then(|a| settings.credentials.for_registry(a.as_str()))
                        .map(str::to_string),
                    base,
                })
            }
        }
    }

    /// The image's layers and configuration.
    pub async fn manifest(&self) -> Result<Manifest, String> {
        match self {
            Puller::Local {
                archive,
                repository,
                tag,
            } => {
                let (archive, repository, tag) = (archive.clone(), repository.clone(), tag.clone());
                tokio::task::spawn_blocking(move || local_manifest(&archive, &repository, &tag))
                    .await
                    .map_err(|e| e.to_string())?
            }
            Puller::Registry {
                repository,
                reference,
                pinned,
                ..
            } => {
                let path = format!("/v2/{repository}/manifests/{reference}");
                let (mut body, mut kind) = self.get_small(&path, MANIFEST_TYPES).await?;
                if let Some(pinned) = pinned {
                    verify(&body, pinned)?;
                }
                let mut value: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| format!("malformed manifest: {e}"))?;
                if value.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) {
                    return Err("schema 1 manifests are not supported; push the image with a current docker or skopeo".into());
                }
                if kind.contains("list")
                    || kind.contains("index")
                    || value.get("manifests").is_some()
                {
                    let digest = pick_platform(&value)?;
                    let path = format!("/v2/{repository}/manifests/{digest}");
                    (body, kind) = self.get_small(&path, MANIFEST_TYPES).await?;
                    verify(&body, &digest)?;
                    value = serde_json::from_slice(&body)
                        .map_err(|e| format!("malformed manifest: {e}"))?;
                }
                let _ = kind;
                let config_digest = value
                    .get("config")
                    .and_then(|c| c.get("digest"))
                    .and_then(|d| d.as_str())
                    .ok_or("the manifest has no config")?
                    .to_string();
                let config_hex = digest_hex(&config_digest)?;
                let (config, _) = self
                    .get_small(&format!("/v2/{repository}/blobs/{config_digest}"), "*/*")
                    .await?;
                verify(&config, &config_digest)?;
                let config: serde_json::Value = serde_json::from_slice(&config)
                    .map_err(|e| format!("malformed image config sha256:{config_hex}: {e}"))?;
                let mut layers = Vec::new();
                for layer in value
                    .get("layers")
                    .and_then(|l| l.as_array())
                    .ok_or("the manifest has no layers")?
                {
                    let media = layer
                        .get("mediaType")
                        .and_then(|m| m.as_str())
                        .unwrap_or("");
                    if media.contains("foreign") || layer.get("urls").is_some() {
                        return Err(format!("foreign layers are not supported ({media})"));
                    }
                    let digest = layer
                        .get("digest")
                        .and_then(|d| d.as_str())
                        .ok_or("a layer has no digest")?;
                    layers.push(Layer {
                        digest_hex: digest_hex(digest)?,
                        size: layer.get("size").and_then(|s| s.as_u64()),
                        tar_entry: None,
                    });
                }
                Ok(Manifest {
                    layers,
                    config: ImageConfig::from_json(&config),
                })
            }
        }
    }

    /// Writes the layer's blob to `destination`, verifying its digest and its size (the
    /// declared one, and `max`).
    pub async fn blob(&self, layer: &Layer, destination: &Path, max: u64) -> Result<(), String> {
        let max = layer.size.map_or(max, |s| s.min(max));
        match self {
            Puller::Local { archive, .. } => {
                let archive = archive.clone();
                let entry = layer
                    .tar_entry
                    .clone()
                    .ok_or("a local layer without a path")?;
                let destination = destination.to_path_buf();
                let expected = layer.digest_hex.clone();
                tokio::task::spawn_blocking(move || {
                    let digest = copy_entry(&archive, &entry, Some(&destination), max)?;
                    if digest != expected {
                        return Err(format!(
                            "layer '{entry}' changed while it was pulled (sha256 mismatch)"
                        ));
                    }
                    Ok(())
                })
                .await
                .map_err(|e| e.to_string())?
            }
            Puller::Registry {
                repository, stall, ..
            } => {
                let digest = format!("sha256:{}", layer.digest_hex);
                let response = self
                    .send(&format!("/v2/{repository}/blobs/{digest}"), "*/*")
                    .await?;
                let mut file = tokio::fs::File::create(destination)
                    .await
                    .map_err(|e| format!("Failed to create '{}': {e}", destination.display()))?;
                let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
                let mut body = response.into_body();
                let mut received = 0u64;
                loop {
                    let frame = tokio::time::timeout(*stall, body.frame())
                        .await
                        .map_err(|_| format!("the registry sent nothing for {stall:?}"))?;
                    let Some(frame) = frame else { break };
                    let frame = frame.map_err(|e| {
                        format!("reading layer {digest}: {}", crate::common::error_chain(&e))
                    })?;
                    if let Ok(data) = frame.into_data() {
                        received += data.len() as u64;
                        if received > max {
                            return Err(format!("layer {digest} is larger than {max} bytes"));
                        }
                        hasher.update(&data);
                        file.write_all(&data).await.map_err(|e| {
                            format!("Failed to write '{}': {e}", destination.display())
                        })?;
                    }
                }
                file.flush().await.map_err(|e| e.to_string())?;
                let actual = hex(hasher.finish().as_ref());
                if actual != layer.digest_hex {
                    return Err(format!(
                        "layer {digest} is corrupt: its content has digest sha256:{actual}"
                    ));
                }
                Ok(())
            }
        }
    }

    /// GETs a small document (manifest, config): its body and content type.
    async fn get_small(&self, path: &str, accept: &str) -> Result<(Vec<u8>, String), String> {
        let Puller::Registry { stall, .. } = self else {
            return Err("not a registry".into());
        };
        let response = self.send(path, accept).await?;
        let kind = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body = response.into_body();
        let mut data = Vec::new();
        loop {
            let frame = tokio::time::timeout(*stall, body.frame())
                .await
                .map_err(|_| format!("the registry sent nothing for {stall:?}"))?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| crate::common::error_chain(&e))?;
            if let Ok(chunk) = frame.into_data() {
                if data.len() as u64 + chunk.len() as u64 > MAX_METADATA_BYTES {
                    return Err(format!(
                        "'{path}' is larger than {MAX_METADATA_BYTES} bytes"
                    ));
                }
                data.extend_from_slice(&chunk);
            }
        }
        Ok((data, kind))
    }

    /// GETs `path` from the registry, with a bearer token when it asks for one, following
    /// redirects; anything but 200 is an error that names the status.
    async fn send(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        let Puller::Registry {
            client,
            base,
            stall,
            token,
            basic,
            ..
        } = self
        else {
            return Err("not a registry".into());
        };
        let origin: hyper::Uri = format!("{base}{path}")
            .parse()
            .map_err(|e| format!("invalid registry path '{path}': {e}"))?;
        let mut current = origin.clone();
        let mut redirects = 0;
        let mut authenticated = false;
        loop {
            let mut request = hyper::Request::get(current.clone())
                .header(hyper::header::USER_AGENT, "remesos-provisioner")
                .header(hyper::header::ACCEPT, accept);
            let same_host = current.authority() == origin.authority();
            let bearer = token.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if same_host && let Some(token) = bearer {
                request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
            } else if same_host && let Some(basic) = basic {
                request = request.header(hyper::header::AUTHORIZATION, format!("Basic {basic}"));
            }
            let request = request.body(Empty::new()).map_err(|e| e.to_string())?;
            let response = tokio::time::timeout(*stall, client.request(request))
                .await
                .map_err(|_| {
                    format!("the registry {base} did not answer within {stall:?} (--fetcher_stall_timeout)")
                })?
                .map_err(|e| {
                    format!("the registry {base} cannot be reached: {}", crate::common::error_chain(&e))
                })?;
            let status = response.status();
            if status == hyper::StatusCode::UNAUTHORIZED && same_host && !authenticated {
                let challenge = response
                    .headers()
                    .get(hyper::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let Some(challenge) =
                    challenge.filter(|c| c.to_ascii_lowercase().starts_with("bearer"))
                else {
                    return Err(if basic.is_some() {
                        format!(
                            "the registry {base} refused the credentials --docker_config holds for it (401 Unauthorized on '{path}')"
                        )
                    } else {
                        format!(
                            "the registry {base} refused '{path}' (401 Unauthorized): it needs credentials; put them in --docker_config"
                        )
                    });
                };
                let fresh = self.fetch_token(&challenge).await?;
                *token.lock().unwrap_or_else(|p| p.into_inner()) = Some(fresh);
                authenticated = true;
                continue;
            }
            if status.is_redirection() {
                let Some(location) = response
                    .headers()
                    .get(hyper::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                else {
                    return Err(format!(
                        "the registry redirected '{path}' without a Location"
                    ));
                };
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(format!("more than {MAX_REDIRECTS} redirects for '{path}'"));
                }
                current = crate::agent::fetcher::redirect_target(&current, location)?;
                continue;
            }
            if status == hyper::StatusCode::NOT_FOUND {
                return Err(format!(
                    "the registry {base} has no '{path}' (404 Not Found): check the image name and tag"
                ));
            }
            if status != hyper::StatusCode::OK {
                return Err(format!(
                    "the registry {base} refused '{path}' with HTTP {}",
                    status.as_u16()
                ));
            }
            return Ok(response);
        }
    }

    /// Asks the challenge's realm for a pull token, with the registry's credentials when
    /// `--docker_config` has them (anonymously otherwise).
    async fn fetch_token(&self, challenge: &str) -> Result<String, String> {
        let Puller::Registry {
            client,
            stall,
            basic,
            ..
        } = self
        else {
            return Err("not a registry".into());
        };
        let params = parse_challenge(challenge);
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or("the registry's bearer challenge has no realm")?;
        let mut query = Vec::new();
        for key in ["service", "scope"] {
            if let Some((_, v)) = params.iter().find(|(k, _)| k == key) {
                query.push(format!("{key}={}", percent_encode(v)));
            }
        }
        let url = if query.is_empty() {
            realm.clone()
        } else {
            format!("{realm}?{}", query.join("&"))
        };
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("invalid token realm '{realm}': {e}"))?;
        let mut request =
            hyper::Request::get(uri).header(hyper::header::USER_AGENT, "remesos-provisioner");
        if let Some(basic) = basic {
            request = request.header(hyper::header::AUTHORIZATION, format!("Basic {basic}"));
        }
        let request = request.body(Empty::new()).map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(*stall, client.request(request))
            .await
            .map_err(|_| format!("the token service {realm} did not answer within {stall:?}"))?
            .map_err(|e| {
                format!(
                    "the token service {realm}: {}",
                    crate::common::error_chain(&e)
                )
            })?;
        if response.status() != hyper::StatusCode::OK {
            let status = response.status().as_u16();
            return Err(if basic.is_some() {
                format!(
                    "the token service {realm} refused the credentials --docker_config holds for this registry (HTTP {status})"
                )
            } else {
                format!(
                    "the token service {realm} refused an anonymous token (HTTP {status}); private images need credentials in --docker_config"
                )
            });
        }
        let body = tokio::time::timeout(*stall, response.into_body().collect())
            .await
            .map_err(|_| "the token service stalled".to_string())?
            .map_err(|e| e.to_string())?
            .to_bytes();
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("malformed token answer: {e}"))?;
        value
            .get("token")
            .or_else(|| value.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| "the token service answered without a token".to_string())
    }
}

/// `Bearer realm="…",service="…",scope="…"` → its parameters.
fn parse_challenge(challenge: &str) -> Vec<(String, String)> {
    let rest = challenge.split_once(' ').map_or("", |(_, r)| r);
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        let key: String = chars
            .by_ref()
            .skip_while(|c| *c == ',' || c.is_whitespace())
            .take_while(|c| *c != '=')
            .collect();
        if key.is_empty() {
            break;
        }
        let value: String = if chars.peek() == Some(&'"') {
            chars.next();
            chars.by_ref().take_while(|c| *c != '"').collect()
        } else {
            chars.by_ref().take_while(|c| *c != ',').collect()
        };
        out.push((key.trim().to_ascii_lowercase(), value));
    }
    out
}

/// `sha256:<hex>` → `<hex>`, refusing anything else.
fn digest_hex(digest: &str) -> Result<String, String> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| valid_digest_hex(h))
        .map(str::to_string)
        .ok_or_else(|| format!("unsupported or malformed digest '{digest}'"))
}

fn verify(body: &[u8], digest: &str) -> Result<(), String> {
    let expected = digest_hex(digest)?;
    let actual = hex(ring::digest::digest(&ring::digest::SHA256, body).as_ref());
    if actual != expected {
        return Err(format!(
            "{digest} is corrupt: its content has digest sha256:{actual}"
        ));
    }
    Ok(())
}

/// The manifest of this machine's platform in a manifest list or OCI index.
fn pick_platform(index: &serde_json::Value) -> Result<String, String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    index
        .get("manifests")
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .find(|m| {
            let p = m.get("platform");
            p.and_then(|p| p.get("os")).and_then(|o| o.as_str()) == Some("linux")
                && p.and_then(|p| p.get("architecture"))
                    .and_then(|a| a.as_str())
                    == Some(arch)
        })
        .and_then(|m| m.get("digest"))
        .and_then(|d| d.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("the image has no linux/{arch} manifest"))
}

/// Reads a legacy `docker save` archive's metadata and digests its layers.
fn local_manifest(archive: &Path, repository: &str, tag: &str) -> Result<Manifest, String> {
    let mut small = std::collections::HashMap::new();
    {
        let file = std::fs::File::open(archive)
            .map_err(|e| format!("Failed to open '{}': {e}", archive.display()))?;
        let mut tar = tar::Archive::new(std::io::BufReader::new(file));
        for entry in tar
            .entries()
            .map_err(|e| format!("'{}': {e}", archive.display()))?
        {
            let mut entry = entry.map_err(|e| format!("'{}': {e}", archive.display()))?;
            let path = entry
                .path()
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            if (path == "repositories" || path.ends_with("/json"))
                && entry.header().size().unwrap_or(u64::MAX) <= MAX_METADATA_BYTES
            {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
                small.insert(path, data);
            }
        }
    }
    let repositories: serde_json::Value =
        serde_json::from_slice(small.get("repositories").ok_or(
            "the archive has no 'repositories' file (legacy docker save layout expected)",
        )?)
        .map_err(|e| format!("malformed 'repositories': {e}"))?;
    let top = repositories
        .get(repository)
        .and_then(|r| r.get(tag))
        .and_then(|t| t.as_str())
        .ok_or_else(|| format!("the archive's 'repositories' has no {repository}:{tag}"))?
        .to_string();
    let mut chain = Vec::new();
    let mut id = Some(top);
    let mut config = None;
    while let Some(current) = id {
        if !valid_digest_hex(&current) || chain.len() > 256 {
            return Err(format!("malformed layer id '{current}'"));
        }
        let json: serde_json::Value = serde_json::from_slice(
            small
                .get(&format!("{current}/json"))
                .ok_or_else(|| format!("the archive has no '{current}/json'"))?,
        )
        .map_err(|e| format!("malformed '{current}/json': {e}"))?;
        if config.is_none() {
            config = Some(ImageConfig::from_json(&json));
        }
        id = json
            .get("parent")
            .and_then(|p| p.as_str())
            .map(str::to_string);
        chain.push(current);
    }
    chain.reverse();
    let mut layers = Vec::new();
    for id in chain {
        let entry = format!("{id}/layer.tar");
        let digest = copy_entry(archive, &entry, None, u64::MAX)?;
        layers.push(Layer {
            digest_hex: digest,
            size: None,
            tar_entry: Some(entry),
        });
    }
    Ok(Manifest {
        layers,
        config: config.unwrap_or_default(),
    })
}

/// Streams the archive's `entry` (into `destination` when given), returning its sha256.
fn copy_entry(
    archive: &Path,
    entry: &str,
    destination: Option<&Path>,
    max: u64,
) -> Result<String, String> {
    let file = std::fs::File::open(archive)
        .map_err(|e| format!("Failed to open '{}': {e}", archive.display()))?;
    let mut tar = tar::Archive::new(std::io::BufReader::new(file));
    for item in tar.entries().map_err(|e| e.to_string())? {
        let mut item = item.map_err(|e| e.to_string())?;
        let path = item
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if path != entry {
            continue;
        }
        if item.header().size().unwrap_or(u64::MAX) > max {
            return Err(format!("'{entry}' is larger than {max} bytes"));
        }
        let mut out = match destination {
            Some(d) => Some(
                std::fs::File::create(d)
                    .map_err(|e| format!("Failed to create '{}': {e}", d.display()))?,
            ),
            None => None,
        };
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = item.read(&mut buffer).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            if let Some(out) = &mut out {
                std::io::Write::write_all(out, &buffer[..n]).map_err(|e| e.to_string())?;
            }
        }
        return Ok(hex(hasher.finish().as_ref()));
    }
    Err(format!("the archive has no '{entry}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_parse() {
        let p = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(
            p[0],
            ("realm".into(), "https://auth.docker.io/token".into())
        );
        assert_eq!(
            p[2],
            ("scope".into(), "repository:library/busybox:pull".into())
        );
    }

    /// Mesos's `getAuthHeaderBasic`: the key names `host[:port]` (a scheme and path are
    /// dropped, as `spec::parseAuthUrl` does); any docker.io key serves Docker Hub.
    #[test]
    fn credentials_match_the_registry_by_host_and_port_and_never_show_the_secret() {
        let config = super::super::super::docker::read_config(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnB3"},
                "127.0.0.1:5000":{"auth":"dTpzZWNyZXQ="},"helper.io":{}}}"#,
        )
        .unwrap();
        let c = Credentials::from_config(&config).unwrap();
        assert_eq!(c.for_registry("127.0.0.1:5000"), Some("dTpzZWNyZXQ="));
        assert_eq!(c.for_registry("127.0.0.1:5001"), None);
        assert_eq!(c.for_registry("localhost:5000"), None);
        assert_eq!(c.for_registry("registry-1.docker.io"), Some("aHViOnB3"));
        assert_eq!(c.for_registry("docker.io.example.net"), None);
        assert_eq!(c.for_registry("helper.io"), None);
        let shown = format!("{c:?}");
        assert!(
            shown.contains("127.0.0.1:5000") && !shown.contains("dTpz"),
            "{shown}"
        );
        // The old .dockercfg form (no `auths`) is read the same way.
        let old = super::super::super::docker::read_config(r#"{"reg:1":{"auth":"eDp5"}}"#);
        assert_eq!(
            Credentials::from_config(&old.unwrap())
                .unwrap()
                .for_registry("reg:1"),
            Some("eDp5")
        );
    }

    #[test]
    fn an_auth_that_is_not_base64_stops_the_agent_without_echoing_it() {
        let config = super::super::super::docker::read_config(
            r#"{"auths":{"r:1":{"auth":"user:pass\r\nX-Injected: 1"}}}"#,
        )
        .unwrap();
        let e = Credentials::from_config(&config).unwrap_err();
        assert!(e.contains("r:1") && !e.contains("X-Injected"), "{e}");
    }

    #[test]
    fn digests_are_sha256_and_verified() {
        assert!(digest_hex("sha512:00").is_err());
        assert!(digest_hex("sha256:../../etc").is_err());
        let body = b"hello";
        let good = format!(
            "sha256:{}",
            hex(ring::digest::digest(&ring::digest::SHA256, body).as_ref())
        );
        verify(body, &good).unwrap();
        assert!(verify(b"other", &good).unwrap_err().contains("corrupt"));
    }
}
