//! The provisioner: turns a container's `Image` into a root filesystem for the mesos
//! containerizer (issue 15 item 3), as Mesos's `Provisioner` does
//! (src/slave/containerizer/mesos/provisioner/provisioner.cpp, docker/store.cpp,
//! docker/registry_puller.cpp, docker/image_tar_puller.cpp, backends/overlay.cpp and copy.cpp).
//!
//! ```text
//! Image{DOCKER, name} ──reference──► store (--docker_store_dir)
//!    │                                 │ cached image?  images/<ref>.json ─┐
//!    │                                 └ pull: puller.rs ─ registry v2 (http/https, token auth)
//!    │                                              └──── local dir: <name>:<tag>.tar (docker save)
//!    │                                   each layer: bounded download, sha256 verified,
//!    │                                   unpacked confined (store.rs) ─► layers/<sha256>/rootfs
//!    ▼
//! backend.rs (--image_provisioner_backend): overlay (layers as lowerdirs) or copy
//!    ─► <work_dir>/provisioner/containers/<container id>/backends/<backend>/rootfses/rootfs
//! ```
//!
//! - Layers are stored once, by the sha256 of their blob, and shared by every container and
//!   image that uses them; pulls of one image, and of one layer, are coalesced (one download,
//!   the others wait for it and find it stored).
//! - A container's rootfs is destroyed when its executor exits ([`Provisioner::destroy`]:
//!   the overlay unmounted, its directories removed); after an agent restart
//!   [`Provisioner::recover`] destroys those of containers that are gone.
//! - Image GC ([`Provisioner::gc`], Mesos's docker/store.cpp `prune`): every layer that no
//!   provisioned container and no excluded image uses is removed, and the images that lost
//!   a layer are forgotten (pulled again when next asked for) — so a layer shared with a
//!   running container's image stays. It
//!   runs every `image_disk_watch_interval` when the store's disk has less free space than
//!   `--image_gc_config`'s `image_disk_headroom` (Mesos's automatic image GC), and on the
//!   operator's `PRUNE_IMAGES` call (agent/http.rs), whose `excluded_images` add to the
//!   flag's. A GC waits for provisioning in progress and holds new provisioning back while
//!   it runs, so a layer just pulled for a container is never taken from under it.
//! - Only `Image.type = DOCKER`: `APPC` fails the launch with Mesos's "Unsupported container
//!   image type" (no appc store here).

mod backend;
mod puller;
mod store;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use remesos_proto::v1;

pub use backend::Backend;
pub use puller::Credentials;
pub use store::ImageConfig;

/// Why an image could not be provisioned: the text the container's tasks fail with.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("Unsupported container image type: {0} (this agent provisions DOCKER images only)")]
    UnsupportedType(String),
    #[error(
        "Unsupported container image type: DOCKER (the agent was started without --image_providers=docker)"
    )]
    NoProvider,
    #[error("invalid docker image reference '{name}': {reason}")]
    InvalidReference { name: String, reason: String },
    #[error("Failed to pull image '{image}': {reason}")]
    Pull { image: String, reason: String },
    #[error("Failed to provision the rootfs of container {container_id}: {reason}")]
    Backend {
        container_id: String,
        reason: String,
    },
}

/// Where images come from (`--docker_registry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A registry v2 server: `http(s)://host[:port]`.
    Registry(hyper::Uri),
    /// A directory of `docker save` archives, `<name>:<tag>.tar`.
    Local(PathBuf),
}

/// `--image_gc_config` (Mesos's `ImageGcConfig` in src/slave/flags.proto).
#[derive(Clone, Debug, PartialEq)]
pub struct GcConfig {
    /// The share of the store's disk kept free: GC runs when less is free.
    pub image_disk_headroom: f64,
    /// How often the disk is checked.
    pub image_disk_watch_interval: Duration,
    /// Images whose layers GC never removes (`name[:tag]`).
    pub excluded_images: Vec<String>,
}

/// The agent's image settings (`--image_providers`, `--docker_registry`,
/// `--docker_store_dir`, `--image_provisioner_backend`, `--sandbox_directory`).
#[derive(Clone, Debug)]
pub struct ImageSettings {
    pub source: Source,
    pub store_dir: PathBuf,
    pub backend: Backend,
    /// `<work_dir>/provisioner`: the containers' rootfses.
    pub provisioner_dir: PathBuf,
    /// Where the sandbox appears inside the container (`--sandbox_directory`).
    pub sandbox_directory: PathBuf,
    /// A registry read receiving nothing this long fails (`--fetcher_stall_timeout`).
    pub stall_timeout: Duration,
    /// Registry credentials (`--docker_config`, shared with the docker containerizer).
    pub credentials: Credentials,
    /// The most one image's layers may take, compressed and unpacked each.
    pub max_image_bytes: u64,
    pub gc: Option<GcConfig>,
    /// `--host_path_volume_force_creation`: where missing host_path volume sources are
    /// created.
    pub host_path_creation: super::host_path::ForceCreation,
}

/// The largest image by default: 16 GiB compressed, and as much unpacked.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 16 << 30;

impl ImageSettings {
    /// The settings from the agent's flags, or `None` when `--image_providers` is not set
    /// (then images are refused at launch). A setting that cannot be honoured is an error
    /// that stops the agent, with Mesos's texts where Mesos has one.
    pub fn from_flags(
        loaded: &crate::flags::LoadedFlags,
        work_dir: &Path,
        isolation: &str,
    ) -> Result<Option<ImageSettings>, String> {
        let Some(providers) = loaded.get_str("image_providers") else {
            return Ok(None);
        };
        for provider in providers.split(',').map(str::trim) {
            match provider.to_ascii_lowercase().as_str() {
                "docker" => {}
                "appc" => {
                    return Err(
                        "--image_providers: 'appc' is not supported by remesos (docker only)"
                            .into(),
                    );
                }
                other => return Err(format!("Unknown or unsupported image provider '{other}'")),
            }
        }
        let isolators: Vec<&str> = isolation.split(',').map(str::trim).collect();
        if !isolators.contains(&"filesystem/linux") {
            return Err(
                "The 'filesystem/linux' isolator must be enabled for container image support"
                    .into(),
            );
        }
        if !isolators.contains(&"docker/runtime") {
            return Err(
                "The 'docker/runtime' isolator must be enabled for docker image support".into(),
            );
        }
        if loaded.get_str("launcher").unwrap_or("linux") != "linux" {
            return Err("The 'linux' launcher must be used for container image support".into());
        }
        if !rustix::process::geteuid().is_root() {
            return Err("container image support needs the agent to run as root".into());
        }
        let registry = loaded
            .get_str("docker_registry")
            .unwrap_or("https://registry-1.docker.io");
        let source = parse_source(registry)?;
        let store_dir = PathBuf::from(
            loaded
                .get_str("docker_store_dir")
                .unwrap_or("/tmp/mesos/store/docker"),
        );
        if !store_dir.is_absolute() {
            return Err(format!(
                "--docker_store_dir must be absolute: '{}'",
                store_dir.display()
            ));
        }
        let provisioner_dir = work_dir.join("provisioner");
        let backend = match loaded.get_str("image_provisioner_backend") {
            Some(name) => {
                let backend = Backend::parse(name)?;
                if !backend.supported() {
                    return Err(format!(
                        "--image_provisioner_backend={name}: not supported on this host"
                    ));
                }
                backend
            }
            None => Backend::first_supported(),
        };
        let sandbox_directory = PathBuf::from(
            loaded
                .get_str("sandbox_directory")
                .unwrap_or("/mnt/mesos/sandbox"),
        );
        validate_container_path(&sandbox_directory)
            .map_err(|e| format!("--sandbox_directory: {e}"))?;
        let gc = loaded
            .get_str("image_gc_config")
            .map(parse_gc_config)
            .transpose()?;
        let settings = ImageSettings {
            source,
            store_dir,
            backend,
            provisioner_dir,
            sandbox_directory,
            stall_timeout: loaded
                .get_duration("fetcher_stall_timeout")
                .unwrap_or(Duration::from_secs(60)),
            credentials: match loaded.get_str("docker_config") {
                Some(value) => Credentials::from_config(&super::docker::read_config(value)?)?,
                None => Credentials::default(),
            },
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            gc,
            host_path_creation: loaded
                .get_str("host_path_volume_force_creation")
                .map(super::host_path::ForceCreation::parse)
                .transpose()?
                .unwrap_or_default(),
        };
        for dir in [
            settings.store_dir.join("layers"),
            settings.store_dir.join("images"),
            settings.store_dir.join("staging"),
            settings.provisioner_dir.join("containers"),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("Failed to create '{}': {e}", dir.display()))?;
        }
        Ok(Some(settings))
    }
}

/// `--docker_registry`: an http(s) URL, or an absolute local directory (Mesos also takes
/// `hdfs://`; there is no HDFS client here).
pub fn parse_source(text: &str) -> Result<Source, String> {
    if text.starts_with('/') {
        return Ok(Source::Local(PathBuf::from(text)));
    }
    let uri: hyper::Uri = text
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("--docker_registry '{text}': {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(Source::Registry(uri)),
        _ => Err(format!(
            "--docker_registry '{text}': expected an http(s) URL or an absolute directory"
        )),
    }
}

/// `--image_gc_config`: a JSON object, or the path of a file holding one.
pub fn parse_gc_config(text: &str) -> Result<GcConfig, String> {
    let json = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        std::fs::read_to_string(text).map_err(|e| format!("--image_gc_config '{text}': {e}"))?
    };
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| format!("--image_gc_config: {e}"))?;
    let headroom = value
        .get("image_disk_headroom")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.1);
    if !(0.0..=1.0).contains(&headroom) {
        return Err(format!(
            "--image_gc_config: image_disk_headroom {headroom} is not between 0 and 1"
        ));
    }
    let nanos = value
        .get("image_disk_watch_interval")
        .and_then(|v| v.get("nanoseconds"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(60_000_000_000);
    let excluded_images = value
        .get("excluded_images")
        .and_then(serde_json::Value::as_array)
        .map(|images| {
            images
                .iter()
                .filter_map(|i| {
                    i.get("docker")
                        .and_then(|d| d.get("name"))
                        .or(Some(i))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(GcConfig {
        image_disk_headroom: headroom,
        image_disk_watch_interval: Duration::from_nanos(nanos.max(1_000_000_000)),
        excluded_images,
    })
}

/// A path inside the container: absolute, plain components only.
pub fn validate_container_path(path: &Path) -> Result<(), String> {
    use std::path::Component;
    if !path.is_absolute() {
        return Err(format!("'{}' is not absolute", path.display()));
    }
    if path
        .components()
        .any(|c| !matches!(c, Component::RootDir | Component::Normal(_)))
    {
        return Err(format!("'{}' may not contain '..' or '.'", path.display()));
    }
    Ok(())
}

/// A parsed docker image reference: `[registry/]repository[:tag][@digest]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` when the name carries one (its first component has a `.` or `:`, or is
    /// `localhost`), as Docker and Mesos decide.
    pub registry: Option<String>,
    pub repository: String,
    pub tag: String,
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(name: &str) -> Result<Reference, ProvisionError> {
        let invalid = |reason: &str| ProvisionError::InvalidReference {
            name: name.chars().take(256).collect(),
            reason: reason.to_string(),
        };
        if name.is_empty() || name.len() > 255 {
            return Err(invalid("must have 1 to 255 characters"));
        }
        let (rest, digest) = match name.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| invalid("only sha256 digests are supported"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid("malformed sha256 digest"));
                }
                (rest, Some(digest.to_ascii_lowercase()))
            }
            None => (name, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                if !first
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
                    || !first.starts_with(|c: char| c.is_ascii_alphanumeric())
                    || first.contains("..")
                {
                    return Err(invalid("malformed registry host"));
                }
                (Some(first.to_string()), path)
            }
            _ => (None, rest),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (path, "latest"),
        };
        if tag.is_empty()
            || tag.len() > 128
            || !tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            || tag.starts_with(['.', '-'])
        {
            return Err(invalid("malformed tag"));
        }
        for component in repository.split('/') {
            let ok = !component.is_empty()
                && component
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && component
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric());
            if !ok {
                return Err(invalid(
                    "repository components are lowercase letters, digits and separators",
                ));
            }
        }
        Ok(Reference {
            registry,
            repository: repository.to_string(),
            tag: tag.to_string(),
            digest,
        })
    }

    /// `repository:tag` (with `@digest` when pinned): the name cached images are keyed by.
    pub fn key(&self) -> String {
        let mut key = format!("{}:{}", self.repository, self.tag);
        if let Some(registry) = &self.registry {
            key = format!("{registry}/{key}");
        }
        if let Some(digest) = &self.digest {
            key = format!("{key}@{digest}");
        }
        key
    }
}

/// What a container's rootfs is: where it is and the image's runtime configuration.
#[derive(Clone, Debug)]
pub struct Provisioned {
    pub rootfs: PathBuf,
    pub config: ImageConfig,
}

/// The provisioner: shared by the containerizer's launches (cheap to clone).
#[derive(Clone)]
pub struct Provisioner {
    settings: Arc<ImageSettings>,
    store: store::Store,
    /// Provisioning (pull + rootfs + the container's `layers` record) holds it shared; GC
    /// holds it exclusively. Shared by clones.
    gc_lock: Arc<tokio::sync::RwLock<()>>,
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioner")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Provisioner {
    pub fn new(settings: ImageSettings) -> Provisioner {
        let settings = Arc::new(settings);
        Provisioner {
            store: store::Store::new(settings.clone()),
            settings,
            gc_lock: Arc::default(),
        }
    }

    pub fn settings(&self) -> &ImageSettings {
        &self.settings
    }

    /// The directory of a container's provisioned state.
    fn container_dir(&self, container_id: &str) -> PathBuf {
        self.settings
            .provisioner_dir
            .join("containers")
            .join(container_id)
    }

    /// Pulls (or finds) `image` and builds `container_id`'s rootfs from it.
    pub async fn provision(
        &self,
        container_id: &str,
        image: &v1::Image,
    ) -> Result<Provisioned, ProvisionError> {
        let docker = match v1::image::Type::try_from(image.r#type) {
            Ok(v1::image::Type::Docker) => {
                image
                    .docker
                    .as_ref()
                    .ok_or_else(|| ProvisionError::InvalidReference {
                        name: String::new(),
                        reason: "Image.docker is not set".into(),
                    })?
            }
            Ok(v1::image::Type::Appc) => {
                return Err(ProvisionError::UnsupportedType("APPC".into()));
            }
            Err(_) => return Err(ProvisionError::UnsupportedType(image.r#type.to_string())),
        };
        let reference = Reference::parse(&docker.name)?;
        let _provisioning = self.gc_lock.read().await;
        let cached = image.cached.unwrap_or(true);
        let pulled = self.store.get(&reference, cached).await?;
        let dir = self.container_dir(container_id);
        let backend = self.settings.backend;
        let layers: Vec<PathBuf> = pulled
            .layers
            .iter()
            .map(|digest| self.store.layer_rootfs(digest))
            .collect();
        let digests = pulled.layers.clone();
        let id = container_id.to_string();
        let rootfs = tokio::task::spawn_blocking(move || {
            backend::provision(backend, &dir, &layers, &digests)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|reason| ProvisionError::Backend {
            container_id: id,
            reason,
        })?;
        Ok(Provisioned {
            rootfs,
            config: pulled.config,
        })
    }

    /// Unmounts and removes `container_id`'s rootfs (nothing when it has none), and those of
    /// its nested containers (`<container_id>.<child>`, agent/nested.rs), which end with it.
    pub fn destroy(&self, container_id: &str) {
        let mut ids = vec![container_id.to_string()];
        if !container_id.contains('.') {
            let prefix = format!("{container_id}.");
            let containers = self.settings.provisioner_dir.join("containers");
            ids.extend(
                std::fs::read_dir(&containers)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.starts_with(&prefix)),
            );
        }
        for id in ids {
            if let Err(e) = backend::destroy(&self.container_dir(&id)) {
                tracing::warn!(container_id = %id, error = %e, "failed to destroy a container's rootfs");
            }
        }
    }

    /// After an agent restart: destroys the rootfses of containers that are not `live`.
    pub fn recover(&self, live: &BTreeSet<String>) {
        let containers = self.settings.provisioner_dir.join("containers");
        let Ok(entries) = std::fs::read_dir(&containers) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // A nested container's (`<parent>.<child>`) lives while its parent does.
            let owner = name
                .split_once('.')
                .map_or(name.as_str(), |(parent, _)| parent);
            if !live.contains(owner) {
                tracing::info!(container_id = %name, "destroying the rootfs of a container that is gone");
                self.destroy(&name);
            }
        }
    }

    /// Removes stored images and the layers that no provisioned container and no excluded
    /// image (`--image_gc_config`'s and `excluded`) uses — when `force` (PRUNE_IMAGES), or
    /// when the store's disk has less free space than the headroom. Returns how many layers
    /// went. Blocking: call it off the async threads.
    pub fn gc(&self, force: bool, excluded: &[String]) -> usize {
        let mut all: Vec<String> = excluded.to_vec();
        match &self.settings.gc {
            Some(gc) => {
                if !force && !store::disk_short(&self.settings.store_dir, gc.image_disk_headroom) {
                    return 0;
                }
                all.extend(gc.excluded_images.iter().cloned());
            }
            None if !force => return 0,
            None => {}
        }
        let _exclusive = self.gc_lock.blocking_write();
        self.store.prune(&self.layers_in_use(), &all)
    }

    /// The layers the provisioned containers use (each container records its own).
    fn layers_in_use(&self) -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        let containers = self.settings.provisioner_dir.join("containers");
        for entry in std::fs::read_dir(containers)
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(text) = std::fs::read_to_string(entry.path().join("layers")) {
                used.extend(text.lines().map(str::to_string));
            }
        }
        used
    }

    /// Runs GC every `image_disk_watch_interval` (when `--image_gc_config` is set).
    pub fn spawn_gc(&self) {
        let Some(gc) = self.settings.gc.clone() else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(gc.image_disk_watch_interval).await;
                let this = this.clone();
                let removed = tokio::task::spawn_blocking(move || this.gc(false, &[]))
                    .await
                    .unwrap_or(0);
                if removed > 0 {
                    tracing::info!(removed, "image gc removed unused layers");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_as_docker_names_them() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(
            (r.registry, r.repository.as_str(), r.tag.as_str()),
            (None, "busybox", "latest")
        );
        let r = Reference::parse("localhost:5000/team/app:1.2").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!((r.repository.as_str(), r.tag.as_str()), ("team/app", "1.2"));
        let digest = format!("app@sha256:{}", "a".repeat(64));
        assert_eq!(
            Reference::parse(&digest).unwrap().digest.unwrap(),
            format!("sha256:{}", "a".repeat(64))
        );
    }

    #[test]
    fn references_that_could_name_a_path_are_refused() {
        for bad in [
            "../etc",
            "a/../b",
            "UPPER",
            "a:../../x",
            "a//b",
            "/abs",
            "a@md5:00",
            "",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn docker_registry_flag_is_a_url_or_an_absolute_directory() {
        assert_eq!(
            parse_source("/var/images").unwrap(),
            Source::Local("/var/images".into())
        );
        assert!(matches!(
            parse_source("http://127.0.0.1:5000/").unwrap(),
            Source::Registry(_)
        ));
        assert!(parse_source("relative/dir").is_err());
        assert!(parse_source("hdfs://nn:8020/images").is_err());
    }

    #[test]
    fn gc_config_reads_mesos_image_gc_config() {
        let gc = parse_gc_config(
            r#"{"image_disk_headroom":0.2,"image_disk_watch_interval":{"nanoseconds":5000000000},"excluded_images":[{"type":"DOCKER","docker":{"name":"busybox"}}]}"#,
        )
        .unwrap();
        assert_eq!(gc.image_disk_headroom, 0.2);
        assert_eq!(gc.image_disk_watch_interval, Duration::from_secs(5));
        assert_eq!(gc.excluded_images, vec!["busybox".to_string()]);
        assert!(parse_gc_config(r#"{"image_disk_headroom":2}"#).is_err());
    }
}
