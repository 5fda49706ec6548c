//! Provisioner backends: a container's rootfs from its image's stored layers (Mesos's
//! provisioner/backends/overlay.cpp and copy.cpp).
//!
//! ```text
//! <work_dir>/provisioner/containers/<container id>/
//!   layers                                the layer digests it uses (image GC reads them)
//!   backends/overlay/rootfses/rootfs      overlay mount: lowerdir = the layers, top first
//!   backends/overlay/scratch/{upperdir,workdir}
//!   backends/copy/rootfses/rootfs         the layers copied in order, whiteouts applied
//! ```
//!
//! `--image_provisioner_backend` has no default, as in Mesos: the first supported of
//! overlay and copy (aufs and bind are not offered).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

/// `--image_provisioner_backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Overlay,
    Copy,
}

impl Backend {
    pub fn parse(name: &str) -> Result<Backend, String> {
        match name {
            "overlay" => Ok(Backend::Overlay),
            "copy" => Ok(Backend::Copy),
            "aufs" | "bind" => Err(format!(
                "--image_provisioner_backend={name} is not supported by remesos (overlay or copy)"
            )),
            other => Err(format!("Unknown --image_provisioner_backend '{other}'")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Overlay => "overlay",
            Backend::Copy => "copy",
        }
    }

    pub fn supported(self) -> bool {
        match self {
            Backend::Overlay => std::fs::read_to_string("/proc/filesystems").is_ok_and(|f| {
                f.lines()
                    .any(|l| l.split_whitespace().last() == Some("overlay"))
            }),
            Backend::Copy => true,
        }
    }

    /// Mesos's order: the first supported.
    pub fn first_supported() -> Backend {
        if Backend::Overlay.supported() {
            Backend::Overlay
        } else {
            Backend::Copy
        }
    }
}

/// The mount options of one overlay mount must fit in a page.
const MAX_OVERLAY_OPTIONS: usize = 4000;

/// Builds the container's rootfs under `dir`; returns its path.
pub fn provision(
    backend: Backend,
    dir: &Path,
    layers: &[PathBuf],
    digests: &[String],
) -> Result<PathBuf, String> {
    let io =
        |what: &str, path: &Path, e: std::io::Error| format!("{what} '{}': {e}", path.display());
    std::fs::create_dir_all(dir).map_err(|e| io("Failed to create", dir, e))?;
    std::fs::write(dir.join("layers"), digests.join("\n"))
        .map_err(|e| io("Failed to write", &dir.join("layers"), e))?;
    let base = dir.join("backends").join(backend.name());
    let rootfs = base.join("rootfses").join("rootfs");
    std::fs::create_dir_all(&rootfs).map_err(|e| io("Failed to create", &rootfs, e))?;
    match backend {
        Backend::Overlay => {
            let upper = base.join("scratch").join("upperdir");
            let work = base.join("scratch").join("workdir");
            for d in [&upper, &work] {
                std::fs::create_dir_all(d).map_err(|e| io("Failed to create", d, e))?;
            }
            let mut lower = Vec::new();
            for layer in layers.iter().rev() {
                let text = layer.to_string_lossy();
                if text.contains([':', ',']) {
                    return Err(format!(
                        "layer path '{text}' has a ':' or ',' that overlayfs cannot take"
                    ));
                }
                lower.push(text.into_owned());
            }
            let options = format!(
                "lowerdir={},upperdir={},workdir={}",
                lower.join(":"),
                upper.display(),
                work.display()
            );
            if options.len() > MAX_OVERLAY_OPTIONS {
                return Err(format!(
                    "the image has too many layers ({}) for one overlay mount; use --image_provisioner_backend=copy",
                    layers.len()
                ));
            }
            let data = std::ffi::CString::new(options).map_err(|e| e.to_string())?;
            rustix::mount::mount(
                "overlay",
                &rootfs,
                "overlay",
                MountFlags::empty(),
                data.as_c_str(),
            )
            .map_err(|e| {
                format!(
                    "Failed to mount the overlay rootfs '{}': {e}",
                    rootfs.display()
                )
            })?;
        }
        Backend::Copy => {
            for layer in layers {
                copy_layer(layer, &rootfs)
                    .map_err(|e| format!("Failed to copy layer '{}': {e}", layer.display()))?;
            }
        }
    }
    Ok(rootfs)
}

/// Copies one layer over `target`, applying its whiteouts (overlayfs's format, see store.rs).
fn copy_layer(source: &Path, target: &Path) -> std::io::Result<()> {
    if is_opaque(source) {
        for entry in std::fs::read_dir(target)? {
            remove_any(&entry?.path())?;
        }
    }
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let from = entry.path();
        let to = target.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&from)?;
        let kind = meta.file_type();
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() && meta.rdev() == 0 {
            remove_any(&to)?;
            continue;
        }
        let existing = std::fs::symlink_metadata(&to).ok();
        if kind.is_dir() {
            if !existing.as_ref().is_some_and(|m| m.file_type().is_dir()) {
                remove_any(&to)?;
                std::fs::create_dir(&to)?;
            }
            copy_layer(&from, &to)?;
        } else {
            remove_any(&to)?;
            if kind.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
            } else if kind.is_file() {
                std::fs::copy(&from, &to)?;
            } else {
                continue;
            }
        }
        std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()))?;
        if !kind.is_symlink() {
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}

fn is_opaque(dir: &Path) -> bool {
    let mut value = [0u8; 4];
    matches!(rustix::fs::lgetxattr(dir, "trusted.overlay.opaque", &mut value), Ok(1) if value[0] == b'y')
}

/// Removes a file, symlink or whole directory (never following a symlink); nothing there
/// is fine.
fn remove_any(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The mount points at or below `dir` in this mount namespace, deepest first.
pub fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mountinfo)
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 <= bytes.len()
            && let Ok(v) = u8::from_str_radix(&field[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts everything below `dir` and removes it. Nothing is removed while a mount
/// remains (removing through a mount would reach what it shows).
pub fn destroy(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        return Ok(());
    }
    for mount in mounts_below(dir) {
        if let Err(e) = rustix::mount::unmount(&mount, UnmountFlags::DETACH) {
            return Err(format!("Failed to unmount '{}': {e}", mount.display()));
        }
    }
    if let Some(left) = mounts_below(dir).first() {
        return Err(format!("'{}' is still mounted", left.display()));
    }
    std::fs::remove_dir_all(dir).map_err(|e| format!("Failed to remove '{}': {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_follow_mesos_and_refuse_what_is_not_offered() {
        assert_eq!(Backend::parse("overlay").unwrap(), Backend::Overlay);
        assert_eq!(Backend::parse("copy").unwrap(), Backend::Copy);
        assert!(
            Backend::parse("aufs")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(Backend::parse("zfs").is_err());
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }
}
