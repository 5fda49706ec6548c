//! The docker image store under `--docker_store_dir` (Mesos's docker/store.cpp and
//! metadata_manager.cpp): layers by digest, image records, and confined layer unpacking.
//!
//! ```text
//! <store>/layers/<sha256 hex>/rootfs   one unpacked layer, shared by every image using it
//! <store>/images/<sha256 of name>.json the layers (bottom first) and config of a pulled image
//! <store>/staging/<random>/            downloads and unpacking in progress (renamed into
//!                                      layers/ once complete, so a stored layer is whole)
//! ```
//!
//! Unpacking a layer never leaves its directory, whatever the tar says (the class of Mesos's
//! CVE-2019-0204, where an image could write onto the host): an entry with an absolute path
//! or a `..` component, and an entry whose parent directories go through a symlink (the
//! layer's own, pointing anywhere), fail the pull; every file is created relative to a
//! directory descriptor opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`. A
//! symlink entry itself may point anywhere: it is only followed inside the container, after
//! `pivot_root`. Device nodes and FIFOs are skipped. Docker's whiteouts become overlayfs's
//! (`.wh.<name>` → a 0/0 character device, `.wh..wh..opq` → `trusted.overlay.opaque=y` on
//! the directory), which the copy backend reads too.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::{ImageSettings, ProvisionError, Reference, puller};

/// The runtime configuration of an image (its `config` in Docker's image JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

impl ImageConfig {
    /// From an image config JSON (`{"config": {...}}` or the inner object).
    pub fn from_json(value: &serde_json::Value) -> ImageConfig {
        let config = value
            .get("config")
            .or_else(|| value.get("container_config"))
            .unwrap_or(value);
        let strings = |key: &str| -> Vec<String> {
            config
                .get(key)
                .and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let string = |key: &str| {
            config
                .get(key)
                .and_then(serde_json::Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        ImageConfig {
            entrypoint: strings("Entrypoint"),
            cmd: strings("Cmd"),
            env: strings("Env"),
            working_dir: string("WorkingDir"),
            user: string("User"),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Entrypoint": self.entrypoint,
            "Cmd": self.cmd,
            "Env": self.env,
            "WorkingDir": self.working_dir.clone().unwrap_or_default(),
            "User": self.user.clone().unwrap_or_default(),
        })
    }
}

/// A pulled image: its layers' digests (hex, bottom first) and its configuration.
#[derive(Clone, Debug)]
pub struct Pulled {
    pub layers: Vec<String>,
    pub config: ImageConfig,
}

/// The store. Clones share the locks that coalesce pulls.
#[derive(Clone)]
pub struct Store {
    settings: Arc<ImageSettings>,
    /// One lock per image name and per layer digest being pulled: a second pull of either
    /// waits for the first and then finds it stored. Held briefly (std mutex: no await
    /// inside); entries are few (one per name or layer ever pulled by this agent run).
    locks: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Store {
    pub fn new(settings: Arc<ImageSettings>) -> Store {
        Store {
            settings,
            locks: Arc::default(),
        }
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(key.to_string()).or_default().clone()
    }

    pub fn layer_dir(&self, digest: &str) -> PathBuf {
        self.settings.store_dir.join("layers").join(digest)
    }

    pub fn layer_rootfs(&self, digest: &str) -> PathBuf {
        self.layer_dir(digest).join("rootfs")
    }

    fn image_record(&self, reference: &Reference) -> PathBuf {
        let key =
            hex(ring::digest::digest(&ring::digest::SHA256, reference.key().as_bytes()).as_ref());
        self.settings
            .store_dir
            .join("images")
            .join(format!("{key}.json"))
    }

    /// The image, from the store when `cached` and stored, else pulled.
    pub async fn get(&self, reference: &Reference, cached: bool) -> Result<Pulled, ProvisionError> {
        let lock = self.lock_for(&format!("image {}", reference.key()));
        let _held = lock.lock().await;
        let record = self.image_record(reference);
        if cached && let Some(pulled) = self.read_record(&record) {
            return Ok(pulled);
        }
        let image = reference.key();
        let fail = |reason: String| ProvisionError::Pull {
            image: image.clone(),
            reason,
        };
        let source = puller::Puller::new(&self.settings, reference).map_err(&fail)?;
        let manifest = source.manifest().await.map_err(&fail)?;
        let mut total = 0u64;
        for layer in &manifest.layers {
            total = total.saturating_add(layer.size.unwrap_or(0));
            if total > self.settings.max_image_bytes {
                return Err(fail(format!(
                    "the image's layers exceed {} bytes",
                    self.settings.max_image_bytes
                )));
            }
        }
        let mut digests = Vec::new();
        for layer in &manifest.layers {
            self.fetch_layer(&source, layer).await.map_err(&fail)?;
            digests.push(layer.digest_hex.clone());
        }
        let pulled = Pulled {
            layers: digests,
            config: manifest.config,
        };
        let json = serde_json::json!({
            "layers": pulled.layers,
            "config": pulled.config.to_json(),
        });
        let staging = self.settings.store_dir.join("staging").join(random_name());
        if std::fs::write(&staging, json.to_string()).is_ok() {
            let _ = std::fs::rename(&staging, &record);
        }
        Ok(pulled)
    }

    fn read_record(&self, record: &Path) -> Option<Pulled> {
        let text = std::fs::read_to_string(record).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        let layers: Vec<String> = value
            .get("layers")?
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        // A record whose layer was collected is stale: pull again.
        if layers
            .iter()
            .any(|d| !valid_digest_hex(d) || !self.layer_rootfs(d).is_dir())
        {
            return None;
        }
        Some(Pulled {
            layers,
            config: ImageConfig::from_json(value.get("config")?),
        })
    }

    /// Downloads, verifies and unpacks one layer unless it is stored already.
    async fn fetch_layer(
        &self,
        source: &puller::Puller,
        layer: &puller::Layer,
    ) -> Result<(), String> {
        if !valid_digest_hex(&layer.digest_hex) {
            return Err(format!("malformed layer digest '{}'", layer.digest_hex));
        }
        let lock = self.lock_for(&format!("layer {}", layer.digest_hex));
        let _held = lock.lock().await;
        let dir = self.layer_dir(&layer.digest_hex);
        if dir.join("rootfs").is_dir() {
            return Ok(());
        }
        let staging = self.settings.store_dir.join("staging").join(random_name());
        std::fs::create_dir_all(staging.join("rootfs"))
            .map_err(|e| format!("Failed to create '{}': {e}", staging.display()))?;
        let result = async {
            let blob = staging.join("blob");
            source
                .blob(layer, &blob, self.settings.max_image_bytes)
                .await?;
            let max = self.settings.max_image_bytes;
            let rootfs = staging.join("rootfs");
            let digest = layer.digest_hex.clone();
            tokio::task::spawn_blocking(move || unpack_blob(&blob, &rootfs, max))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("layer sha256:{digest}: {e}"))?;
            let _ = std::fs::remove_file(staging.join("blob"));
            std::fs::rename(&staging, &dir)
                .map_err(|e| format!("Failed to store layer '{}': {e}", dir.display()))
        }
        .await;
        if result.is_err() {
            let staging = staging.clone();
            let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(staging)).await;
        }
        result
    }

    /// Removes the layers not in `used` nor in an image named in `excluded`, and the image
    /// records that named them. Returns the number of layers removed.
    pub fn prune(&self, used: &BTreeSet<String>, excluded: &[String]) -> usize {
        let mut keep = used.clone();
        let images = self.settings.store_dir.join("images");
        for name in excluded {
            if let Ok(reference) = Reference::parse(name)
                && let Some(pulled) = self.read_record(&self.image_record(&reference))
            {
                keep.extend(pulled.layers);
            }
        }
        let mut removed = BTreeSet::new();
        let layers = self.settings.store_dir.join("layers");
        for entry in std::fs::read_dir(&layers).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if valid_digest_hex(&name) && !keep.contains(&name) {
                // Renamed first, so a half-removed layer is never taken for a stored one.
                let doomed = self.settings.store_dir.join("staging").join(random_name());
                if std::fs::rename(entry.path(), &doomed).is_ok() {
                    let _ = std::fs::remove_dir_all(&doomed);
                    removed.insert(name);
                }
            }
        }
        for entry in std::fs::read_dir(&images).into_iter().flatten().flatten() {
            let stale = std::fs::read_to_string(entry.path())
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v.get("layers").cloned())
                .and_then(|l| l.as_array().cloned())
                .is_none_or(|l| {
                    l.iter()
                        .any(|d| d.as_str().is_none_or(|d| removed.contains(d)))
                });
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        removed.len()
    }
}

/// Less than `headroom` of the store's disk is free.
pub fn disk_short(dir: &Path, headroom: f64) -> bool {
    match rustix::fs::statvfs(dir) {
        Ok(s) if s.f_blocks > 0 => (s.f_bavail as f64 / s.f_blocks as f64) < headroom,
        _ => false,
    }
}

pub fn valid_digest_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Unpacks a layer blob (tar, gzip-compressed or not) into `rootfs`.
fn unpack_blob(blob: &Path, rootfs: &Path, max_bytes: u64) -> Result<(), String> {
    let mut file = std::fs::File::open(blob).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(|e| e.to_string())?;
    let file = std::fs::File::open(blob).map_err(|e| e.to_string())?;
    let root = super::super::super::beneath::open_dir(rootfs).map_err(|e| e.to_string())?;
    let reader: Box<dyn Read> = if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(io::BufReader::new(file)))
    } else if n >= 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        return Err("zstd-compressed layers are not supported".into());
    } else {
        Box::new(io::BufReader::new(file))
    };
    unpack_layer(reader, root.as_fd(), max_bytes)
}

/// The most entries one layer may have.
const MAX_ENTRIES: u64 = 1_000_000;

/// Unpacks a layer tar below `root` (see the module doc for the rules).
pub fn unpack_layer(reader: impl Read, root: BorrowedFd<'_>, max_bytes: u64) -> Result<(), String> {
    let mut archive = tar::Archive::new(reader.take(max_bytes.saturating_add(1 << 20)));
    let mut unpacked = 0u64;
    let mut count = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("corrupt tar archive: {e}"))?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let raw = entry
            .path()
            .map_err(|e| format!("corrupt entry name: {e}"))?
            .into_owned();
        let components = plain_entry(&raw)?;
        let Some((&name, parents)) = components.split_last() else {
            continue; // `./`
        };
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().ok().and_then(|u| u32::try_from(u).ok());
        let gid = header.gid().ok().and_then(|g| u32::try_from(g).ok());
        let size = header.size().unwrap_or(0);
        unpacked = unpacked.saturating_add(size);
        if unpacked > max_bytes {
            return Err(format!("unpacks to more than {max_bytes} bytes"));
        }
        let parent = open_parent(root, parents, &raw)?;
        let parent = parent.as_fd();
        let fail = |what: &str, e: Errno| format!("entry '{}': {what}: {e}", raw.display());
        let name_bytes = name.as_bytes();
        if let Some(hidden) = name_bytes.strip_prefix(b".wh.") {
            if hidden == b".wh..opq" {
                rustix::fs::fsetxattr(
                    parent,
                    "trusted.overlay.opaque",
                    b"y",
                    rustix::fs::XattrFlags::empty(),
                )
                .map_err(|e| fail("marking the directory opaque", e))?;
            } else {
                let hidden = OsStr::from_bytes(hidden);
                remove_entry(parent, hidden);
                rustix::fs::mknodat(
                    parent,
                    hidden,
                    rustix::fs::FileType::CharacterDevice,
                    Mode::empty(),
                    0,
                )
                .map_err(|e| fail("creating a whiteout", e))?;
            }
            continue;
        }
        if kind.is_dir() {
            match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
                Ok(()) => {}
                Err(Errno::EXIST) => {}
                Err(e) => return Err(fail("mkdir", e)),
            }
            let dir = rustix::fs::openat2(
                parent,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
            )
            .map_err(|e| fail("opening the directory", e))?;
            set_owner_mode(&dir, uid, gid, mode);
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            remove_entry(parent, name);
            let file = rustix::fs::openat(
                parent,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|e| fail("creating the file", e))?;
            let mut file = std::fs::File::from(file);
            io::copy(&mut entry, &mut file)
                .map_err(|e| format!("entry '{}': {e}", raw.display()))?;
            set_owner_mode(&OwnedFd::from(file), uid, gid, mode);
        } else if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(|e| format!("entry '{}': {e}", raw.display()))?
                .ok_or_else(|| format!("symlink '{}' has no target", raw.display()))?;
            remove_entry(parent, name);
            rustix::fs::symlinkat(target.as_ref(), parent, name)
                .map_err(|e| fail("creating the symlink", e))?;
            if let (Some(uid), Some(gid)) = (uid, gid) {
                let _ = rustix::fs::chownat(
                    parent,
                    name,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                );
            }
        } else if kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(|e| format!("entry '{}': {e}", raw.display()))?
                .ok_or_else(|| format!("hard link '{}' has no target", raw.display()))?
                .into_owned();
            let target_components = plain_entry(&target)?;
            let Some((target_name, target_parents)) = target_components.split_last() else {
                return Err(format!("hard link '{}' has an empty target", raw.display()));
            };
            let target_parent = open_parent(root, target_parents, &target)?;
            remove_entry(parent, name);
            rustix::fs::linkat(
                target_parent.as_fd(),
                *target_name,
                parent,
                name,
                rustix::fs::AtFlags::empty(),
            )
            .map_err(|e| fail("creating the hard link", e))?;
        } else if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_character_special()
            || kind.is_block_special()
            || kind.is_fifo()
        {
            // Metadata the reader applies itself; no device node or FIFO from an image.
        } else {
            return Err(format!(
                "entry '{}' has an unsupported type {:?}",
                raw.display(),
                kind
            ));
        }
    }
    Ok(())
}

/// The entry's path as plain components: `./` prefixes dropped; an absolute path or a
/// `..` component is refused.
fn plain_entry(path: &Path) -> Result<Vec<&OsStr>, String> {
    let mut out = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "entry '{}' has an absolute path: the layer would write outside its directory",
                    path.display()
                ));
            }
            Component::ParentDir => {
                return Err(format!(
                    "entry '{}' has a '..' component: the layer would write outside its directory",
                    path.display()
                ));
            }
        }
    }
    Ok(out)
}

/// Opens (creating as needed) the directory `parents` below `root`, never through a symlink.
fn open_parent(root: BorrowedFd<'_>, parents: &[&OsStr], raw: &Path) -> Result<OwnedFd, String> {
    let mut dir = rustix::io::dup(root).map_err(|e| e.to_string())?;
    for component in parents {
        match rustix::fs::mkdirat(&dir, *component, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(format!("entry '{}': mkdir: {e}", raw.display())),
        }
        dir = rustix::fs::openat2(
            &dir,
            *component,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
        )
        .map_err(|e| match e {
            Errno::LOOP | Errno::XDEV | Errno::NOTDIR => format!(
                "entry '{}' goes through a symlink: the layer would write outside its directory",
                raw.display()
            ),
            e => format!("entry '{}': {e}", raw.display()),
        })?;
    }
    Ok(dir)
}

/// Removes a non-directory entry (a later entry of the same name replaces it).
fn remove_entry(parent: BorrowedFd<'_>, name: &OsStr) {
    let _ = rustix::fs::unlinkat(parent, name, rustix::fs::AtFlags::empty());
}

fn set_owner_mode(fd: &OwnedFd, uid: Option<u32>, gid: Option<u32>, mode: u32) {
    if let (Some(uid), Some(gid)) = (uid, gid) {
        let _ = rustix::fs::fchown(
            fd,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        );
    }
    // After the chown, which clears setuid/setgid.
    let _ = rustix::fs::fchmod(fd, Mode::from_raw_mode(mode));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn file(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // Written raw so that `..` and absolute names reach the unpacker as an attacker
        // would write them (`append_data` refuses them).
        let name = header.as_old_mut();
        name.name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }

    fn symlink(builder: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_entry_type(tar::EntryType::Symlink);
        builder.append_link(&mut header, path, target).unwrap();
    }

    fn unpack(data: &[u8]) -> (tempdir::Dir, Result<(), String>) {
        let dir = tempdir::Dir::new();
        let root = crate::agent::beneath::open_dir(&dir.0).unwrap();
        let result = unpack_layer(data, root.as_fd(), 1 << 20);
        (dir, result)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let path = std::env::temp_dir().join(format!(
                    "remesos-layer-test-{}",
                    uuid::Uuid::new_v4().simple()
                ));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn layer_entries_with_dotdot_or_absolute_paths_are_refused() {
        for name in ["../escaped", "a/../../escaped", "/etc/escaped"] {
            let data = tar_with(|b| file(b, name, b"x"));
            let (_dir, result) = unpack(&data);
            let error = result.unwrap_err();
            assert!(error.contains("outside its directory"), "{name}: {error}");
        }
    }

    #[test]
    fn a_layer_cannot_write_through_its_own_symlink() {
        let outside = tempdir::Dir::new();
        let target = outside.0.to_string_lossy().into_owned();
        let data = tar_with(|b| {
            symlink(b, "evil", &target);
            file(b, "evil/planted", b"x");
        });
        let (_dir, result) = unpack(&data);
        assert!(result.unwrap_err().contains("goes through a symlink"));
        assert!(!outside.0.join("planted").exists());
    }

    #[test]
    fn absolute_symlinks_are_kept_for_the_container_and_files_unpack() {
        let data = tar_with(|b| {
            file(b, "./bin/busybox", b"elf");
            symlink(b, "bin/sh", "/bin/busybox");
        });
        let (dir, result) = unpack(&data);
        result.unwrap();
        assert_eq!(
            std::fs::read_link(dir.0.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert_eq!(std::fs::read(dir.0.join("bin/busybox")).unwrap(), b"elf");
    }

    #[test]
    fn a_layer_larger_than_the_bound_is_refused() {
        let data = tar_with(|b| file(b, "big", &vec![0u8; 4096]));
        let dir = tempdir::Dir::new();
        let root = crate::agent::beneath::open_dir(&dir.0).unwrap();
        let error = unpack_layer(&data[..], root.as_fd(), 1024).unwrap_err();
        assert!(error.contains("more than 1024 bytes"), "{error}");
    }

    #[test]
    fn image_config_reads_docker_field_names() {
        let config = ImageConfig::from_json(&serde_json::json!({
            "config": {"Entrypoint": ["/bin/sh"], "Cmd": ["-c", "true"], "Env": ["A=1"],
                       "WorkingDir": "", "User": "nobody"}
        }));
        assert_eq!(config.entrypoint, vec!["/bin/sh"]);
        assert_eq!(config.working_dir, None);
        assert_eq!(config.user.as_deref(), Some("nobody"));
    }
}
