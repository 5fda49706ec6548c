//! A command task in an image: what the `filesystem/linux`, `docker/runtime` and
//! `volume/*` isolators and the linux launcher do for it in Mesos
//! (src/slave/containerizer/mesos/isolators/filesystem/linux.cpp, docker/runtime.cpp,
//! volume/host_path.cpp, volume/sandbox_path.cpp; src/slave/containerizer/mesos/launch.cpp).
//!
//! Mesos's `--rootfs` model: the command executor runs on the host filesystem, as root, in a
//! private mount namespace of its own, where the sandbox is bind-mounted at
//! `--sandbox_directory` inside the provisioned rootfs together with the container's
//! volumes; the executor then starts the task in a further mount namespace that mounts
//! `/proc`, `/sys` and `/dev` and `pivot_root`s into the rootfs (common/rootfs.rs).
//!
//! ```text
//! agent ── provision ──► rootfs (overlay, host mount namespace)
//!   │ prepare(): executor flags (--rootfs, --sandbox_directory, --working_directory,
//!   │            --user, --task_command, --task_environment) and the mount plan;
//!   │            every mount target made inside the rootfs without following a symlink
//!   ▼ spawn: setsid, cgroups, [pid namespace], unshare(NEWNS), private, bind mounts
//! remesos executor (host fs, root) ── task: unshare(NEWNS), /proc /sys /dev, pivot_root, su
//! ```
//!
//! Every mount made for the container lives in the executor's mount namespace and goes away
//! with it; only the rootfs's overlay mount is in the agent's, and the provisioner removes it
//! when the executor exits.
//!
//! The image's `User` is not applied, as in Mesos (docker/runtime.cpp logs "Container user
//! ... is not supported yet" and runs the task as its `CommandInfo.user`/framework user).

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use remesos_proto::v1;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::provisioner::{ImageSettings, Provisioned, validate_container_path};

/// A bind mount into the rootfs, made in the executor's mount namespace.
#[derive(Debug)]
pub struct Bind {
    /// An absolute host path the agent chose (the sandbox, a host_path volume).
    source: CString,
    /// Relative to `source`, resolved without leaving it (a sandbox_path volume).
    source_beneath: Option<CString>,
    /// Relative to the rootfs; made by [`prepare`], never through a symlink.
    target: CString,
    readonly: bool,
}

/// What the executor's process does between fork and exec.
#[derive(Debug)]
pub struct MountPlan {
    rootfs: CString,
    binds: Vec<Bind>,
    /// The executor's binary, bound read-only onto itself in the executor's namespace
    /// before it is exec'd: its `/proc/self/exe`, which the task inherits until its own
    /// exec (an image's `#!/proc/self/exe` would run it), then cannot be opened for writing
    /// (the runc/Mesos CVE-2019-5736/CVE-2019-0204 class). None on the host filesystem
    /// ([`read_only_volumes`]): the executor there is a host binary like any other.
    executor: Option<CString>,
}

/// The executor's extra flags and environment, and its mount plan.
#[derive(Debug)]
pub struct Prepared {
    pub flags: Vec<String>,
    /// Overrides of the executor's environment (`MESOS_SANDBOX` inside the container).
    pub environment: Vec<(String, String)>,
    pub mounts: MountPlan,
}

/// The image of a launch, if it has one (`ContainerInfo.mesos.image`).
pub fn image_of(container: Option<&v1::ContainerInfo>) -> Option<&v1::Image> {
    container?.mesos.as_ref()?.image.as_ref()
}

/// The container's sandbox on the host and the persistent volumes that appear in it.
pub struct SandboxMounts<'a> {
    pub sandbox: &'a Path,
    /// Bound at `<--sandbox_directory>/<container_path>` (volumes.rs).
    pub persistent_volumes: &'a [crate::agent::volumes::VolumeMount],
}

/// Builds the executor's flags and mount plan for a command task in `provisioned`.
pub fn prepare(
    mounts: SandboxMounts<'_>,
    container: &v1::ContainerInfo,
    task_command: &v1::CommandInfo,
    user: Option<&str>,
    provisioned: &Provisioned,
    settings: &ImageSettings,
    executor: &Path,
) -> Result<Prepared, String> {
    let SandboxMounts {
        sandbox,
        persistent_volumes: persistent,
    } = mounts;
    let rootfs = &provisioned.rootfs;
    let config = &provisioned.config;
    let sandbox_directory = &settings.sandbox_directory;
    let binds = container_binds(rootfs, sandbox, persistent, container, settings, None)?;
    warn_image_user(config);
    let mut flags = vec![
        format!("--rootfs={}", rootfs.display()),
        format!("--sandbox_directory={}", sandbox_directory.display()),
        format!(
            "--working_directory={}",
            working_directory(config, settings).display()
        ),
    ];
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        flags.push(format!("--user={user}"));
    }
    if let Some(command) = launch_command(task_command, config)? {
        let json = remesos_proto::json::to_value(&command);
        flags.push(format!("--task_command={json}"));
    }
    let environment = launch_environment(&config.env);
    if !environment.variables.is_empty() {
        let json = remesos_proto::json::to_value(&environment);
        flags.push(format!("--task_environment={json}"));
    }
    Ok(Prepared {
        flags,
        environment: vec![(
            "MESOS_SANDBOX".to_string(),
            sandbox_directory.display().to_string(),
        )],
        mounts: MountPlan {
            rootfs: cstring(rootfs.as_os_str().as_bytes())?,
            binds,
            executor: Some(cstring(executor.as_os_str().as_bytes())?),
        },
    })
}

/// The binds into `rootfs` every container in an image gets: its sandbox at
/// `--sandbox_directory`, the host's network files, then its volumes.
fn container_binds(
    rootfs: &Path,
    sandbox: &Path,
    persistent: &[crate::agent::volumes::VolumeMount],
    container: &v1::ContainerInfo,
    settings: &ImageSettings,
    parent: Option<&ParentSandbox<'_>>,
) -> Result<Vec<Bind>, String> {
    let sandbox_directory = &settings.sandbox_directory;
    let mut binds = vec![mount_target(
        rootfs,
        sandbox_directory,
        sandbox,
        None,
        false,
        true,
    )?];
    binds.extend(network_file_binds(rootfs, Path::new("/etc")));
    // Volumes, shallowest first so that a volume inside another lands on top of it (and on
    // top of the network files: a volume at /etc/hosts wins, as in Mesos, whose volumes are
    // mounted after the network/cni isolator's files).
    // Persistent volumes (Mesos's `filesystem/linux`) are binds like the others; their
    // mount points are in the sandbox (volumes.rs `VolumeMount::mount_point`), reached
    // through the sandbox's bind when they are mounted.
    let mut volumes = Vec::new();
    for volume in persistent {
        volumes.push(persistent_volume_bind(sandbox_directory, volume)?);
    }
    for volume in &container.volumes {
        if let Some(parent) = parent
            && let Some(persistent) = parent.persistent_volume(volume)?
        {
            persistent.mount_point(sandbox, parent.owner)?;
            volumes.push(persistent_volume_bind(sandbox_directory, &persistent)?);
            continue;
        }
        volumes.push(volume_bind(
            rootfs,
            sandbox,
            sandbox_directory,
            volume,
            &settings.host_path_creation,
        )?);
    }
    // Stable: among binds of one depth, the order above.
    volumes.sort_by_key(|b| b.depth());
    binds.extend(volumes);
    Ok(binds)
}

/// Where the task starts: the image's `WorkingDir`, else the sandbox's mount point.
fn working_directory(
    config: &super::provisioner::ImageConfig,
    settings: &ImageSettings,
) -> PathBuf {
    config
        .working_dir
        .as_ref()
        .map_or_else(|| settings.sandbox_directory.clone(), PathBuf::from)
}

/// A nested container in an image (a task of a group under the default executor, Mesos
/// 1.11's `LAUNCH_CONTAINER` with `ContainerInfo.mesos.image`): the agent forks it, so the
/// mount plan and the rootfs entry of a command task happen in one child, one after the
/// other (nested.rs), with the agent's own binary as the `/proc/self/exe` made read-only.
#[derive(Debug)]
pub struct NestedImage {
    pub mounts: MountPlan,
    /// Where the task starts inside the image.
    pub working_directory: PathBuf,
    /// The image's `Env`, which the command's own environment overrides.
    pub environment: v1::Environment,
    /// The command merged with the image's Entrypoint/Cmd, when it changes.
    pub command: Option<v1::CommandInfo>,
}

/// The executor a nested container goes under, as its `PARENT` sandbox_path volumes see it.
pub struct ParentSandbox<'a> {
    /// The persistent volumes of the executor and its tasks (nested.rs `Parent::volumes`).
    pub volumes: &'a [crate::agent::volumes::VolumeMount],
    /// Who owns the nested container's sandbox (uid, gid), and so the mount points made
    /// there and the volumes, as for a single task.
    pub owner: Option<(u32, u32)>,
}

impl ParentSandbox<'_> {
    /// A `SANDBOX_PATH` volume of type `PARENT` whose path is the container path of one of
    /// the parent's persistent volumes: how Mesos's default executor gives a task of a
    /// group its persistent volumes (default_executor.cpp, `launchGroup`). The volume's
    /// directory is bound itself (the parent's sandbox holds only a symlink to it, which a
    /// bind beneath the sandbox would refuse), read-only when either mode says so.
    /// `Ok(None)` for any other volume.
    fn persistent_volume(
        &self,
        volume: &v1::Volume,
    ) -> Result<Option<crate::agent::volumes::VolumeMount>, String> {
        use v1::volume::source::{Type, sandbox_path};
        let Some(path) = volume
            .source
            .as_ref()
            .filter(|s| s.r#type == Some(Type::SandboxPath as i32))
            .and_then(|s| s.sandbox_path.as_ref())
            .filter(|p| p.r#type == Some(sandbox_path::Type::Parent as i32))
            .map(|p| Path::new(&p.path))
        else {
            return Ok(None);
        };
        let Some(found) = self.volumes.iter().find(|v| v.container_path == path) else {
            return Ok(None);
        };
        let container_path = Path::new(&volume.container_path);
        if container_path.is_absolute()
            || container_path
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(format!(
                "Failed to mount volume '{}': the container path of a persistent volume must be relative, without '..'",
                volume.container_path
            ));
        }
        Ok(Some(crate::agent::volumes::VolumeMount {
            host: found.host.clone(),
            container_path: container_path.to_path_buf(),
            readonly: found.readonly || volume.mode != v1::volume::Mode::Rw as i32,
        }))
    }
}

/// Builds a nested container's plan for `provisioned`: as [`prepare`], without executor.
pub fn prepare_nested(
    sandbox: &Path,
    parent: &ParentSandbox<'_>,
    container: &v1::ContainerInfo,
    command: &v1::CommandInfo,
    provisioned: &Provisioned,
    settings: &ImageSettings,
    agent_binary: &Path,
) -> Result<NestedImage, String> {
    let rootfs = &provisioned.rootfs;
    let config = &provisioned.config;
    // Its persistent volumes come as `PARENT` sandbox_path volumes (ParentSandbox).
    let binds = container_binds(rootfs, sandbox, &[], container, settings, Some(parent))?;
    warn_image_user(config);
    Ok(NestedImage {
        mounts: MountPlan {
            rootfs: cstring(rootfs.as_os_str().as_bytes())?,
            binds,
            executor: Some(cstring(agent_binary.as_os_str().as_bytes())?),
        },
        working_directory: working_directory(config, settings),
        environment: launch_environment(&config.env),
        command: launch_command(command, config)?,
    })
}

/// Mesos 1.11 ignores the image's `User` with this warning (docker/runtime.cpp `prepare`:
/// "Container user '...' is not supported yet"); the task runs as its own user.
fn warn_image_user(config: &super::provisioner::ImageConfig) {
    if let Some(image_user) = config.user.as_deref().filter(|u| !u.is_empty()) {
        tracing::warn!(%image_user, "Container user '{image_user}' is not supported yet: the task runs as its own user");
    }
}

/// The host's files that name and resolve hosts, in `/etc`. Mesos's `network/cni`
/// isolator, which Mesos enables by default on Linux, binds them read-only into the rootfs
/// of a container that has an image and joins the host network (cni.cpp, `isolate` and
/// `NetworkCniIsolatorSetup`) — every container here does: remesos has no CNI. Without them
/// the task sees the image's files, and the host's own name (which a JVM resolves at start,
/// `InetAddress.getLocalHost`) does not resolve.
const HOST_NETWORK_FILES: [&str; 3] = ["hosts", "hostname", "resolv.conf"];

/// Read-only binds of each of the host's network files (in `host_etc`, `/etc` but for
/// tests) onto `/etc/<file>` in `rootfs`; a file the host lacks is skipped, as in Mesos.
/// Where the image has a symlink (or a directory) on the way, as images whose
/// `/etc/resolv.conf` links into `/run` do, the file stays as the image has it, with a
/// warning: Mesos would follow the image's symlink on the host; remesos never makes a
/// mount point through one.
fn network_file_binds(rootfs: &Path, host_etc: &Path) -> Vec<Bind> {
    HOST_NETWORK_FILES
        .iter()
        .map(|name| (host_etc.join(name), Path::new("/etc").join(name)))
        .filter(|(source, _)| source.is_file())
        .filter_map(
            |(source, target)| match mount_target(rootfs, &target, &source, None, true, false) {
                Ok(bind) => Some(bind),
                Err(e) => {
                    tracing::warn!(file = %target.display(), error = %e, "the host's network file is not bound into the container's image");
                    None
                }
            },
        )
        .collect()
}

/// The image's `Env` as an `Environment` (Mesos's `getLaunchEnvironment`: entries without
/// `=` are skipped).
pub fn launch_environment(env: &[String]) -> v1::Environment {
    v1::Environment {
        variables: env
            .iter()
            .filter_map(|e| e.split_once('='))
            .map(|(name, value)| v1::environment::Variable {
                name: name.to_string(),
                value: Some(value.to_string()),
                ..Default::default()
            })
            .collect(),
    }
}

/// Mesos's `getLaunchCommand` (docker/runtime.cpp): the task's command merged with the
/// image's Entrypoint and Cmd; `None` when the task's command stands as it is.
pub fn launch_command(
    command: &v1::CommandInfo,
    config: &super::provisioner::ImageConfig,
) -> Result<Option<v1::CommandInfo>, String> {
    if command.shell.unwrap_or(true) {
        if command.value.is_none() {
            return Err("Failed to determine the launch command: Shell specified but no command value provided".into());
        }
        return Ok(None);
    }
    if command.value.is_some() {
        return Ok(None);
    }
    let mut merged = command.clone();
    let user_arguments = std::mem::take(&mut merged.arguments);
    if let Some(first) = config.entrypoint.first() {
        merged.value = Some(first.clone());
        merged.arguments = config.entrypoint.clone();
        merged.arguments.extend(user_arguments.iter().cloned());
        if user_arguments.is_empty() {
            merged.arguments.extend(config.cmd.iter().cloned());
        }
    } else if let Some(first) = config.cmd.first() {
        merged.value = Some(first.clone());
        merged.arguments = vec![first.clone()];
        merged.arguments.extend(user_arguments.iter().cloned());
        if user_arguments.is_empty() {
            merged.arguments.extend(config.cmd.iter().skip(1).cloned());
        }
    } else {
        return Err("Failed to determine the launch command: No executable is found".into());
    }
    Ok(Some(merged))
}

fn cstring(bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "a path with a NUL byte".to_string())
}

/// A volume's bind mount: `host_path` or `source.host_path` (Mesos's `volume/host_path`),
/// `source.sandbox_path` of type SELF (`volume/sandbox_path`). Read-only unless the volume
/// says `RW`. A missing host path is created only as `--host_path_volume_force_creation`
/// allows (containerizer/host_path.rs).
fn volume_bind(
    rootfs: &Path,
    sandbox: &Path,
    sandbox_directory: &Path,
    volume: &v1::Volume,
    host_path_creation: &super::host_path::ForceCreation,
) -> Result<Bind, String> {
    use v1::volume::source::Type;
    let readonly = volume.mode != v1::volume::Mode::Rw as i32;
    let container_path = Path::new(&volume.container_path);
    // A relative container path is inside the sandbox, as in Mesos.
    let target = if container_path.is_absolute() {
        validate_container_path(container_path).map_err(|e| format!("volume {e}"))?;
        container_path.to_path_buf()
    } else {
        let joined = sandbox_directory.join(container_path);
        validate_container_path(&joined).map_err(|e| format!("volume {e}"))?;
        joined
    };
    let host_path = volume.host_path.clone().or_else(|| {
        let source = volume.source.as_ref()?;
        (source.r#type == Some(Type::HostPath as i32))
            .then(|| source.host_path.as_ref().map(|h| h.path.clone()))
            .flatten()
    });
    if let Some(host_path) = host_path {
        let path = PathBuf::from(&host_path);
        if !path.is_absolute() {
            return Err(format!(
                "Failed to mount volume '{}': host path '{host_path}' is not absolute",
                volume.container_path
            ));
        }
        host_path_creation.ensure(&path, || {
            format!(
                "Failed to mount volume '{}': host path '{host_path}' does not exist (create it on the agent first, or list a directory above it in --host_path_volume_force_creation)",
                volume.container_path
            )
        })?;
        return mount_target(rootfs, &target, &path, None, readonly, path.is_dir());
    }
    let Some(source) = &volume.source else {
        return Err(format!(
            "Failed to mount volume '{}': it has neither a host_path nor a source",
            volume.container_path
        ));
    };
    match source.r#type.and_then(|t| Type::try_from(t).ok()) {
        Some(Type::SandboxPath) => {
            let sandbox_path = source
                .sandbox_path
                .as_ref()
                .ok_or("a SANDBOX_PATH volume without sandbox_path")?;
            if sandbox_path.r#type == Some(v1::volume::source::sandbox_path::Type::Parent as i32) {
                return Err(format!(
                    "Failed to mount volume '{}': SANDBOX_PATH of type PARENT needs a nested container, which remesos does not run",
                    volume.container_path
                ));
            }
            let relative = Path::new(&sandbox_path.path);
            if relative.is_absolute()
                || relative
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_)))
            {
                return Err(format!(
                    "Failed to mount volume '{}': the sandbox path '{}' must be relative, without '..'",
                    volume.container_path, sandbox_path.path
                ));
            }
            // Made (as a directory) in the sandbox when missing, never through a symlink, and
            // owned as the sandbox is (the task's user), as Mesos's volume/sandbox_path does.
            let dir = super::super::beneath::open_dir(sandbox).map_err(|e| e.to_string())?;
            let owner = rustix::fs::fstat(&dir).map_err(|e| e.to_string())?;
            make_dirs_owned(dir.as_fd(), relative, Some((owner.st_uid, owner.st_gid))).map_err(
                |e| {
                    format!(
                        "Failed to create the sandbox path '{}': {e}",
                        sandbox_path.path
                    )
                },
            )?;
            mount_target(
                rootfs,
                &target,
                sandbox,
                Some(cstring(relative.as_os_str().as_bytes())?),
                readonly,
                true,
            )
        }
        other => Err(format!(
            "Failed to mount volume '{}': source type {:?} is not supported (host_path and sandbox_path are)",
            volume.container_path,
            other.map_or("UNKNOWN".to_string(), |t| t.as_str_name().to_string())
        )),
    }
}

/// A persistent volume's bind onto `<sandbox_directory>/<container_path>`, read-only when
/// its mode is `RO`. The container path was validated relative and without `..`
/// (`VolumeMount::of`); it is checked again here because a mount is made from it.
fn persistent_volume_bind(
    sandbox_directory: &Path,
    volume: &crate::agent::volumes::VolumeMount,
) -> Result<Bind, String> {
    let target = sandbox_directory.join(&volume.container_path);
    if volume.container_path.is_absolute() {
        return Err(format!(
            "invalid container path '{}' of a persistent volume",
            volume.container_path.display()
        ));
    }
    validate_container_path(&target).map_err(|e| format!("persistent volume {e}"))?;
    let relative = target.strip_prefix("/").unwrap_or(&target);
    Ok(Bind {
        source: cstring(volume.host.as_os_str().as_bytes())?,
        source_beneath: None,
        target: cstring(relative.as_os_str().as_bytes())?,
        readonly: volume.readonly,
    })
}

/// A container on the host filesystem (no image) with read-only persistent volumes: each
/// is bound read-only onto its mount point `<sandbox>/<container_path>` in the executor's
/// own mount namespace (Mesos's `filesystem/linux` mounts a persistent volume read-only
/// when the task asks for `mode: RO`, with or without an image). The namespace dies with
/// the executor's last process, so no mount is left on the host and none needs recovering.
/// None when no volume is read-only: read-write volumes stay symlinks (`filesystem/posix`).
pub fn read_only_volumes(
    sandbox: &Path,
    volumes: &[crate::agent::volumes::VolumeMount],
) -> Result<Option<MountPlan>, String> {
    let binds = volumes
        .iter()
        .filter(|v| v.readonly)
        .map(|v| persistent_volume_bind(Path::new("/"), v))
        .collect::<Result<Vec<_>, _>>()?;
    if binds.is_empty() {
        return Ok(None);
    }
    Ok(Some(MountPlan {
        rootfs: cstring(sandbox.as_os_str().as_bytes())?,
        binds,
        executor: None,
    }))
}

impl Bind {
    /// How deep its target is in the rootfs: shallower binds are made first.
    fn depth(&self) -> usize {
        Path::new(std::ffi::OsStr::from_bytes(self.target.as_bytes()))
            .components()
            .count()
    }
}

/// Makes `target` (absolute inside the container) in the rootfs — a directory, or an empty
/// file for a file source — and returns the bind of `source` onto it.
fn mount_target(
    rootfs: &Path,
    target: &Path,
    source: &Path,
    source_beneath: Option<CString>,
    readonly: bool,
    directory: bool,
) -> Result<Bind, String> {
    let relative = target.strip_prefix("/").unwrap_or(target);
    let root = super::super::beneath::open_dir(rootfs).map_err(|e| e.to_string())?;
    let fail = |e: Errno| {
        format!(
            "Failed to make the mount point '{}' in the image: {}",
            target.display(),
            if matches!(e, Errno::LOOP | Errno::XDEV | Errno::NOTDIR) {
                "a component is a symlink or not a directory in the image".to_string()
            } else {
                e.to_string()
            }
        )
    };
    if directory {
        make_dirs(root.as_fd(), relative).map_err(fail)?;
    } else {
        let (parent, name) = match (relative.parent(), relative.file_name()) {
            (Some(parent), Some(name)) => (parent, name),
            _ => return Err(format!("invalid mount point '{}'", target.display())),
        };
        let parent = make_dirs(root.as_fd(), parent).map_err(fail)?;
        match rustix::fs::openat(
            &parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        ) {
            Ok(_) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(Bind {
        source: cstring(source.as_os_str().as_bytes())?,
        source_beneath,
        target: cstring(relative.as_os_str().as_bytes())?,
        readonly,
    })
}

/// `mkdir -p` below `root`, never through a symlink; returns the last directory.
fn make_dirs(root: BorrowedFd<'_>, relative: &Path) -> Result<OwnedFd, Errno> {
    make_dirs_owned(root, relative, None)
}

/// [`make_dirs`], the directories it creates given to `owner` (uid, gid).
pub(crate) fn make_dirs_owned(
    root: BorrowedFd<'_>,
    relative: &Path,
    owner: Option<(u32, u32)>,
) -> Result<OwnedFd, Errno> {
    let mut dir = rustix::io::dup(root)?;
    for component in relative.components() {
        let Component::Normal(name) = component else {
            return Err(Errno::INVAL);
        };
        let created = match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => return Err(e),
        };
        dir = rustix::fs::openat2(
            &dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
        )?;
        if created && let Some((uid, gid)) = owner {
            rustix::fs::fchown(
                &dir,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )?;
        }
    }
    Ok(dir)
}

impl MountPlan {
    /// Between fork and exec of the executor: a private mount namespace with the sandbox and
    /// volumes bound into the rootfs.
    ///
    /// # Safety
    /// Only in a freshly forked single-threaded child: it unshares the mount namespace and
    /// makes only async-signal-safe system calls on data prepared before the fork.
    pub unsafe fn enter(&self) -> std::io::Result<()> {
        use rustix::mount::{MountFlags, MountPropagationFlags};
        // SAFETY: single-threaded child (the caller's contract).
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)? };
        rustix::mount::mount_change(
            c"/",
            MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
        )?;
        if let Some(executor) = &self.executor {
            rustix::mount::mount_bind(executor.as_c_str(), executor.as_c_str())?;
            rustix::mount::mount_remount(
                executor.as_c_str(),
                MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
                c"",
            )?;
        }
        let root = rustix::fs::open(
            self.rootfs.as_c_str(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let beneath =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        for bind in &self.binds {
            let base = rustix::fs::open(
                bind.source.as_c_str(),
                OFlags::PATH | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let source = match &bind.source_beneath {
                Some(relative) => rustix::fs::openat2(
                    &base,
                    relative.as_c_str(),
                    OFlags::PATH | OFlags::CLOEXEC,
                    Mode::empty(),
                    beneath,
                )?,
                None => base,
            };
            let target = rustix::fs::openat2(
                &root,
                bind.target.as_c_str(),
                OFlags::PATH | OFlags::CLOEXEC,
                Mode::empty(),
                beneath,
            )?;
            let from = crate::common::fdpath::FdPath::new(source.as_fd());
            let to = crate::common::fdpath::FdPath::new(target.as_fd());
            rustix::mount::mount_bind_recursive(from.as_cstr(), to.as_cstr())?;
            if bind.readonly {
                // Through the new mount (the old descriptor names what it covers).
                let mounted = rustix::fs::openat2(
                    &root,
                    bind.target.as_c_str(),
                    OFlags::PATH | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
                )?;
                let path = crate::common::fdpath::FdPath::new(mounted.as_fd());
                rustix::mount::mount_remount(
                    path.as_cstr(),
                    MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
                    c"",
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::containerizer::provisioner::ImageConfig;

    fn argv(value: Option<&str>, arguments: &[&str]) -> v1::CommandInfo {
        v1::CommandInfo {
            shell: Some(false),
            value: value.map(str::to_string),
            arguments: arguments.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn image(entrypoint: &[&str], cmd: &[&str]) -> ImageConfig {
        ImageConfig {
            entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    /// On the host filesystem only read-only persistent volumes get a bind (in the
    /// executor's own mount namespace, at their path relative to the sandbox).
    #[test]
    fn read_only_volumes_are_bound_in_the_sandbox_and_read_write_ones_are_not() {
        use crate::agent::volumes::VolumeMount;
        let rw = VolumeMount {
            host: "/w/volumes/roles/r/a".into(),
            container_path: "data".into(),
            readonly: false,
        };
        let ro = VolumeMount {
            host: "/w/volumes/roles/r/a".into(),
            container_path: "ro/db".into(),
            readonly: true,
        };
        let sandbox = Path::new("/w/sandbox");
        assert!(
            read_only_volumes(sandbox, std::slice::from_ref(&rw))
                .unwrap()
                .is_none()
        );
        let plan = read_only_volumes(sandbox, &[rw, ro]).unwrap().unwrap();
        assert_eq!(plan.rootfs.as_c_str(), c"/w/sandbox");
        assert!(plan.executor.is_none());
        assert_eq!(plan.binds.len(), 1);
        assert_eq!(plan.binds[0].target.as_c_str(), c"ro/db");
        assert_eq!(plan.binds[0].source.as_c_str(), c"/w/volumes/roles/r/a");
        assert!(plan.binds[0].readonly);
    }

    /// Mesos's table in docker/runtime.cpp `getLaunchCommand`, row by row.
    #[test]
    fn launch_command_follows_the_docker_runtime_table() {
        let shell = v1::CommandInfo {
            value: Some("echo hi".into()),
            ..Default::default()
        };
        assert_eq!(
            launch_command(&shell, &image(&["/e"], &["c"])).unwrap(),
            None
        );
        assert!(launch_command(&v1::CommandInfo::default(), &image(&[], &[])).is_err());
        assert_eq!(
            launch_command(&argv(Some("/v"), &[]), &image(&["/e"], &[])).unwrap(),
            None
        );
        assert!(launch_command(&argv(None, &[]), &image(&[], &[])).is_err());
        let entry_and_cmd = launch_command(&argv(None, &[]), &image(&["/e", "1"], &["c"]))
            .unwrap()
            .unwrap();
        assert_eq!(entry_and_cmd.value.as_deref(), Some("/e"));
        assert_eq!(entry_and_cmd.arguments, vec!["/e", "1", "c"]);
        let user_args = launch_command(&argv(None, &["x"]), &image(&["/e"], &["c"]))
            .unwrap()
            .unwrap();
        assert_eq!(user_args.arguments, vec!["/e", "x"]);
        let cmd_only = launch_command(&argv(None, &[]), &image(&[], &["/c", "a"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (cmd_only.value.as_deref(), cmd_only.arguments.clone()),
            (Some("/c"), vec!["/c".to_string(), "a".to_string()])
        );
    }

    #[test]
    fn image_env_entries_without_equals_are_skipped() {
        let env = launch_environment(&["A=1".into(), "BROKEN".into(), "B=x=y".into()]);
        let names: Vec<_> = env
            .variables
            .iter()
            .map(|v| (v.name.as_str(), v.value.as_deref()))
            .collect();
        assert_eq!(names, vec![("A", Some("1")), ("B", Some("x=y"))]);
    }

    /// Mesos's network/cni isolator for a container with an image on the host network: the
    /// host's network files are bound read-only at the same paths; an image whose file is a
    /// symlink keeps it (no mount point through a symlink), and a file the host lacks is
    /// skipped.
    #[test]
    fn host_network_files_are_bound_read_only_unless_the_image_links_them_away() {
        let dir = std::env::temp_dir().join(format!(
            "remesos-linux-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let host = dir.join("host");
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(host.join("hosts"), "127.0.0.1 localhost myhost\n").unwrap();
        std::fs::write(host.join("resolv.conf"), "nameserver 127.0.0.53\n").unwrap();
        std::os::unix::fs::symlink("/run/elsewhere", rootfs.join("etc/resolv.conf")).unwrap();
        // The host has no hostname file here.
        let binds = network_file_binds(&rootfs, &host);
        assert_eq!(binds.len(), 1, "{binds:?}");
        assert!(binds[0].readonly);
        assert_eq!(
            binds[0].source.to_str().unwrap(),
            host.join("hosts").to_str().unwrap()
        );
        assert_eq!(binds[0].target.to_str().unwrap(), "etc/hosts");
        // The mount point: an empty file at the same path inside the rootfs.
        assert_eq!(std::fs::read(rootfs.join("etc/hosts")).unwrap(), b"");
        assert!(!rootfs.join("etc/hostname").exists());
        assert_eq!(
            std::fs::read_link(rootfs.join("etc/resolv.conf")).unwrap(),
            Path::new("/run/elsewhere")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mount_points_are_never_made_through_an_image_symlink() {
        let dir = std::env::temp_dir().join(format!(
            "remesos-linux-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let outside = dir.join("outside");
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(&rootfs).unwrap();
        // The image's /mnt points at a host directory by absolute path.
        std::os::unix::fs::symlink(&outside, rootfs.join("mnt")).unwrap();
        let error = mount_target(
            &rootfs,
            Path::new("/mnt/mesos/sandbox"),
            Path::new("/tmp"),
            None,
            false,
            true,
        )
        .unwrap_err();
        assert!(error.contains("symlink"), "{error}");
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
