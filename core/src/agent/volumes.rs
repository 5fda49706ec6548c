//! The agent's checkpointed resources and persistent volumes.
//!
//! Owns what the master's `CheckpointResources` turns into on this agent (Mesos's
//! `Slave::checkpointResourcesMessage`, `Slave::checkpointResources` and
//! `Slave::syncCheckpointedResources`, src/slave/slave.cpp; paths as src/slave/paths.cpp
//! `getPersistentVolumePath`), and how a volume reaches a sandbox (Mesos's `filesystem/posix`
//! isolator, src/slave/containerizer/mesos/isolators/filesystem/posix.cpp).
//!
//! Data flow:
//! 1. the master sends the agent's dynamic reservations and persistent volumes
//!    (`CheckpointResources`); [`Agent::checkpoint_resources`] validates every volume's role
//!    and persistence id into a directory `<work_dir>/volumes/roles/<role>/<id>` (a `/` of a
//!    hierarchical role becomes a space, as Mesos does), changes the total the agent
//!    reports, and emits one [`Effect::CheckpointResources`];
//! 2. the runtime performs it with [`Checkpoint::perform`]: `meta/resources/resources.target`
//!    is written and synced first, then the new volumes' directories are created and the
//!    destroyed ones removed, then the target is renamed to `resources.info` — so a crash in
//!    between is finished at the next start ([`read_checkpoint`] prefers the target);
//! 3. at start the daemon reads the checkpoint back ([`read_checkpoint`]) and
//!    [`Agent::recover_resources`] applies it to the total, which (re)registration reports
//!    (`AgentInfo.resources` and `Reregister.checkpointed_resources`), so a restarted agent
//!    and a failed-over master agree;
//! 4. a launch whose resources hold a volume gets a [`VolumeMount`] (validated host path,
//!    relative container path, mode); the containerizer gives the volume to the sandbox's
//!    owner and, for a task on the host filesystem, links `<sandbox>/<container_path>` to
//!    it ([`VolumeMount::link`], Mesos's `filesystem/posix`); for a task in an image or a
//!    docker container, which cannot follow a host symlink, it makes
//!    `<sandbox>/<container_path>` a directory ([`VolumeMount::mount_point`]) onto which the
//!    volume is bind-mounted — in the executor's mount namespace (containerizer/linux.rs,
//!    Mesos's `filesystem/linux`) or by docker (`-v`, containerizer/docker.rs) — read-only
//!    when the volume's mode is `RO`. No mount is made in the agent's mount namespace, so
//!    none can be left behind there.
//!
//! A volume outlives its tasks and the agent's restarts; only a DESTROY (the next
//! checkpoint without it) removes its directory. The master refuses to destroy a volume a
//! task uses ("Persistent volumes in use").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use remesos_proto::v1;

use super::{Agent, Effect, paths};
use crate::common::id::validate_id;
use crate::common::validation::{ContainerPathError, validate_volume_container_path};
use crate::resources::{Resources, reservation_role, validate_role};

/// Why a volume cannot be given a directory or a place in a sandbox.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VolumeError {
    #[error("persistent volume {0} is not reserved")]
    Unreserved(String),
    #[error("invalid role of persistent volume {id}: {reason}")]
    Role { id: String, reason: String },
    #[error("invalid persistence id '{id}': {reason}")]
    Id { id: String, reason: String },
    #[error(transparent)]
    ContainerPath(#[from] ContainerPathError),
}

/// The persistence id of a volume resource, if it is one.
fn persistence_id(r: &v1::Resource) -> Option<&str> {
    r.disk
        .as_ref()
        .and_then(|d| d.persistence.as_ref())
        .map(|p| p.id.as_str())
}

/// `<work_dir>/volumes/roles/<role>/<persistence id>` of a persistent volume, from its role
/// and id validated first (Mesos `CHECK`s both before it builds the path).
pub fn volume_path(work_dir: &Path, volume: &v1::Resource) -> Result<PathBuf, VolumeError> {
    let id = persistence_id(volume).unwrap_or_default();
    validate_id(id).map_err(|e| VolumeError::Id {
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    let role = reservation_role(volume).ok_or_else(|| VolumeError::Unreserved(id.to_string()))?;
    validate_role(role).map_err(|e| VolumeError::Role {
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    // A role has no spaces (roles::validate), so the space stands for `/` unambiguously
    // and the role is one path component.
    Ok(work_dir
        .join("volumes")
        .join("roles")
        .join(role.replace('/', " "))
        .join(id))
}

/// The directories of the persistent volumes among `resources`, by path.
fn volume_dirs(work_dir: &Path, resources: &[v1::Resource]) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for r in resources.iter().filter(|r| persistence_id(r).is_some()) {
        match volume_path(work_dir, r) {
            Ok(path) => {
                out.insert(path, persistence_id(r).unwrap_or_default().to_string());
            }
            Err(error) => tracing::error!(%error, "ignoring a persistent volume"),
        }
    }
    out
}

fn target_path(work_dir: &Path) -> PathBuf {
    paths::meta_dir(work_dir)
        .join("resources")
        .join("resources.target")
}

fn info_path(work_dir: &Path) -> PathBuf {
    paths::meta_dir(work_dir)
        .join("resources")
        .join("resources.info")
}

/// One checkpoint of the agent's resources, for the runtime to perform in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// `meta/resources/resources.target`: written and synced first.
    pub target: PathBuf,
    /// `meta/resources/resources.info`: the target is renamed to it last.
    pub info: PathBuf,
    /// The resources, RecordIO-framed `Resource`s as Mesos writes them.
    pub data: Vec<u8>,
    /// Volume directories to create (new volumes).
    pub create: Vec<PathBuf>,
    /// Volume directories to remove (destroyed volumes).
    pub remove: Vec<PathBuf>,
}

impl Checkpoint {
    /// The checkpoint from the resources `before` to `after` (`data`: `after` encoded):
    /// the directories of the volumes only `after` has are created, of those only
    /// `before` has removed.
    fn new(
        work_dir: &Path,
        before: &[v1::Resource],
        after: &[v1::Resource],
        data: Vec<u8>,
    ) -> Checkpoint {
        let before = volume_dirs(work_dir, before);
        let after = volume_dirs(work_dir, after);
        let only = |a: &BTreeMap<PathBuf, String>, b: &BTreeMap<PathBuf, String>| {
            a.keys().filter(|p| !b.contains_key(*p)).cloned().collect()
        };
        Checkpoint {
            target: target_path(work_dir),
            info: info_path(work_dir),
            data,
            create: only(&after, &before),
            remove: only(&before, &after),
        }
    }

    /// Writes the target, syncs the volumes' directories, makes the target current.
    pub fn perform(&self) -> std::io::Result<()> {
        super::recovery::checkpoint(&self.target, &self.data, false, true)?;
        for dir in &self.create {
            if !dir.exists() {
                std::fs::create_dir_all(dir)?;
            }
            tracing::info!(path = %dir.display(), "created a persistent volume");
        }
        for dir in &self.remove {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => tracing::info!(path = %dir.display(), "deleted a persistent volume"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(path = %dir.display(), "failed to find a persistent volume to delete")
                }
                Err(e) => return Err(e),
            }
        }
        std::fs::rename(&self.target, &self.info)
    }
}

fn encode(resources: &[v1::Resource]) -> Vec<u8> {
    use prost::Message;
    let mut data = Vec::new();
    for r in resources {
        remesos_proto::recordio::encode(&r.encode_to_vec(), &mut data);
    }
    data
}

/// Reads the checkpointed resources (`resources.target` when a checkpoint was cut short,
/// else `resources.info`; none when neither exists). A target is finished here: its
/// volumes' directories are created, then it becomes `resources.info`.
pub fn read_checkpoint(work_dir: &Path) -> Result<Vec<v1::Resource>, String> {
    let target = target_path(work_dir);
    let info = info_path(work_dir);
    let finish = target.exists();
    let path = if finish { &target } else { &info };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(format!("failed to read {}: {e}", path.display())),
    };
    let out = decode(&bytes).map_err(|e| format!("failed to read {}: {e}", path.display()))?;
    if finish {
        let old = if info.exists() {
            std::fs::read(&info)
                .ok()
                .and_then(|b| decode(&b).ok())
                .unwrap_or_default()
        } else {
            vec![]
        };
        Checkpoint::new(work_dir, &old, &out, bytes)
            .perform()
            .map_err(|e| format!("failed to finish the resources checkpoint: {e}"))?;
    }
    Ok(out)
}

/// RecordIO-framed `Resource`s (the checkpoint's format).
fn decode(bytes: &[u8]) -> Result<Vec<v1::Resource>, String> {
    use prost::Message;
    let records = remesos_proto::recordio::Decoder::new(bytes.len().max(1))
        .feed(bytes)
        .map_err(|e| e.to_string())?;
    records
        .iter()
        .map(|r| v1::Resource::decode(r.as_ref()).map_err(|e| e.to_string()))
        .collect()
}

/// A persistent volume to put in a sandbox: the volume's directory and where it appears.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeMount {
    /// `<work_dir>/volumes/roles/<role>/<id>` (validated).
    pub host: PathBuf,
    /// Relative to the sandbox, without `..` (validated).
    pub container_path: PathBuf,
    /// The volume's mode is `RO` (a bind mount is then read-only; the posix symlink cannot
    /// be, as in Mesos's `filesystem/posix`).
    pub readonly: bool,
}

impl VolumeMount {
    /// The volumes among a container's `resources`, each with its validated paths.
    pub fn of(
        work_dir: &Path,
        resources: &[v1::Resource],
    ) -> Result<Vec<VolumeMount>, VolumeError> {
        let mut out = Vec::new();
        for r in resources.iter().filter(|r| persistence_id(r).is_some()) {
            let host = volume_path(work_dir, r)?;
            let id = persistence_id(r).unwrap_or_default();
            let container = r
                .disk
                .as_ref()
                .and_then(|d| d.volume.as_ref())
                .map_or("", |v| v.container_path.as_str());
            validate_volume_container_path(id, container)?;
            let path = Path::new(container);
            let readonly = r
                .disk
                .as_ref()
                .and_then(|d| d.volume.as_ref())
                .is_some_and(|v| v.mode == v1::volume::Mode::Ro as i32);
            out.push(VolumeMount {
                host,
                container_path: path.to_path_buf(),
                readonly,
            });
        }
        Ok(out)
    }

    /// Links `<sandbox>/<container_path>` to the volume and hands the volume's directory to
    /// `owner` (uid, gid: the sandbox's), as Mesos's `filesystem/posix` does. Parent
    /// directories inside the sandbox are created as `owner` would own them.
    pub fn link(&self, sandbox: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
        self.hand_over(owner)?;
        let link = sandbox.join(&self.container_path);
        if let Some(parent) = link.parent()
            && parent != sandbox
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("Failed to create {}: {e}", parent.display()))?;
            if let Some((uid, gid)) = owner {
                let _ = std::os::unix::fs::chown(parent, Some(uid), Some(gid));
            }
        }
        match std::fs::read_link(&link) {
            Ok(existing) if existing == self.host => return Ok(()),
            Ok(_) => {
                std::fs::remove_file(&link)
                    .map_err(|e| format!("Failed to replace {}: {e}", link.display()))?;
            }
            Err(_) if link.exists() => {
                return Err(format!(
                    "The container path '{}' of a persistent volume already exists in the sandbox",
                    self.container_path.display()
                ));
            }
            Err(_) => {}
        }
        std::os::unix::fs::symlink(&self.host, &link).map_err(|e| {
            format!(
                "Failed to symlink the persistent volume from '{}' to '{}': {e}",
                self.host.display(),
                link.display()
            )
        })
    }
}

impl VolumeMount {
    /// The volume exists and goes to `owner` (uid, gid), as the sandbox does.
    fn hand_over(&self, owner: Option<(u32, u32)>) -> Result<(), String> {
        if !self.host.is_dir() {
            return Err(format!(
                "persistent volume {} does not exist",
                self.host.display()
            ));
        }
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&self.host, Some(uid), Some(gid)).map_err(|e| {
                format!(
                    "Failed to change the ownership of the persistent volume at '{}': {e}",
                    self.host.display()
                )
            })?;
        }
        Ok(())
    }

    /// Hands the volume to `owner` and makes `<sandbox>/<container_path>` a directory for
    /// the volume's bind mount (Mesos's `filesystem/linux` makes the mount point in the
    /// sandbox too). Every component is made or opened without following a symlink and
    /// without leaving the sandbox (what the fetcher unpacked there is the framework's);
    /// directories it creates go to `owner`.
    pub fn mount_point(&self, sandbox: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
        use std::os::fd::AsFd;
        self.hand_over(owner)?;
        let fail = |e: &dyn std::fmt::Display| {
            format!(
                "Failed to create the mount point '{}' of a persistent volume in the sandbox: {e}",
                self.container_path.display()
            )
        };
        let dir = super::beneath::open_dir(sandbox).map_err(|e| fail(&e))?;
        super::containerizer::linux::make_dirs_owned(dir.as_fd(), &self.container_path, owner)
            .map_err(|e| fail(&e))?;
        Ok(())
    }
}

impl Agent {
    /// The master's `CheckpointResources`: the agent's dynamic reservations and persistent
    /// volumes now (module doc, step 1).
    pub(super) fn checkpoint_resources(&mut self, resources: Vec<v1::Resource>) {
        let resources = match Resources::from_protos(resources) {
            Ok(r) => r.into_protos(),
            Err(error) => {
                tracing::error!(%error, "ignoring invalid checkpointed resources from the master");
                return;
            }
        };
        let checkpoint = Checkpoint::new(
            &self.config.work_dir,
            &self.checkpointed_resources(),
            &resources,
            encode(&resources),
        );
        self.emit(Effect::CheckpointResources(Box::new(checkpoint)));
        self.apply_checkpointed(resources);
    }

    /// Takes up the checkpointed resources read at start (module doc, step 3).
    pub fn recover_resources(&mut self, resources: Vec<v1::Resource>) {
        match Resources::from_protos(resources) {
            Ok(r) => self.apply_checkpointed(r.into_protos()),
            Err(error) => {
                tracing::error!(%error, "ignoring invalid checkpointed resources");
            }
        }
    }

    /// The total becomes the `--resources` with the checkpointed ones applied: what a
    /// reservation or a volume took from the unreserved resources is replaced by it.
    fn apply_checkpointed(&mut self, resources: Vec<v1::Resource>) {
        let checkpointed = Resources::from_valid_protos(resources);
        let mut total = self.config.resources.unreserved();
        let mut taken = Resources::new();
        for r in checkpointed.unallocated().iter() {
            let mut base = r.clone();
            base.reservations
                .retain(|x| x.r#type != Some(v1::resource::reservation_info::Type::Dynamic as i32));
            if let Some(disk) = &mut base.disk {
                if disk.source.is_some() {
                    disk.persistence = None;
                    disk.volume = None;
                } else {
                    base.disk = None;
                }
            }
            base.shared = None;
            taken.add_resource(base);
        }
        let mut total_reserved = self.config.resources.reserved();
        let statically_reserved = taken.reserved();
        total -= &taken.unreserved();
        total_reserved -= &statically_reserved;
        total += &total_reserved;
        total += &checkpointed.unallocated();
        self.info.resources = total.into_protos();
    }

    /// The dynamic reservations and persistent volumes of the agent's total now.
    pub fn checkpointed_resources(&self) -> Vec<v1::Resource> {
        self.info
            .resources
            .iter()
            .filter(|r| {
                persistence_id(r).is_some()
                    || r.reservations.iter().any(|x| {
                        x.r#type == Some(v1::resource::reservation_info::Type::Dynamic as i32)
                    })
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(role: &str, id: &str, container_path: &str) -> v1::Resource {
        let mut r = crate::resources::parse_resource("disk", "64", role).expect("disk");
        r.reservations = vec![v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
            role: Some(role.to_string()),
            ..Default::default()
        }];
        r.role = None;
        r.disk = Some(v1::resource::DiskInfo {
            persistence: Some(v1::resource::disk_info::Persistence {
                id: id.to_string(),
                principal: None,
            }),
            volume: Some(v1::Volume {
                container_path: container_path.to_string(),
                mode: v1::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        });
        r
    }

    #[test]
    fn a_hierarchical_role_is_one_directory_with_spaces_for_slashes() {
        let path = volume_path(Path::new("/w"), &volume("eng/data", "v1", "data")).unwrap();
        assert_eq!(path, Path::new("/w/volumes/roles/eng data/v1"));
    }

    #[test]
    fn persistence_ids_that_would_leave_the_volumes_directory_are_refused() {
        for id in ["..", ".", "a/b", ""] {
            assert!(
                volume_path(Path::new("/w"), &volume("r", id, "data")).is_err(),
                "{id:?}"
            );
        }
    }

    #[test]
    fn container_paths_stay_inside_the_sandbox() {
        let w = Path::new("/w");
        assert!(matches!(
            VolumeMount::of(w, &[volume("r", "v", "/etc")]),
            Err(VolumeError::ContainerPath(ContainerPathError::Absolute(_)))
        ));
        assert!(matches!(
            VolumeMount::of(w, &[volume("r", "v", "a/../../x")]),
            Err(VolumeError::ContainerPath(ContainerPathError::Escaping(_)))
        ));
        let ok = VolumeMount::of(w, &[volume("r", "v", "data/db")]).unwrap();
        assert_eq!(ok[0].container_path, Path::new("data/db"));
        assert_eq!(ok[0].host, Path::new("/w/volumes/roles/r/v"));
    }
}
