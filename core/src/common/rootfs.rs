//! The command executor's `--rootfs`: starting the task inside its container image, as
//! Mesos's command executor does through `mesos-containerizer launch`
//! (src/launcher/executor.cpp `launchTaskSubprocess`, src/slave/containerizer/mesos/launch.cpp,
//! src/linux/fs.cpp `chroot::enter`).
//!
//! Between fork and exec, in the task's process:
//!
//! ```text
//! unshare(CLONE_NEWNS); make / private (the executor's mounts stay as they are)
//! bind the rootfs onto itself (pivot_root needs a mount point)
//! /proc  proc                       nosuid,nodev,noexec
//! /sys   sysfs                      ro,nosuid,nodev,noexec
//! /dev   tmpfs mode=755             nosuid,noexec, with null zero full random urandom tty
//!        bound from the host, pts (devpts newinstance), shm (tmpfs), ptmx fd stdin stdout stderr
//! chdir(rootfs); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir(working directory)
//! setgroups, setgid, setuid (the user from the image's /etc/passwd)
//! ```
//!
//! Every mount point is opened below the rootfs with `RESOLVE_NO_SYMLINKS` and mounted on
//! through its `/proc/self/fd/N`, so an image whose `/proc` or `/dev` is a symlink to a host
//! path fails the launch instead of mounting over the host.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags};

/// What entering the rootfs needs, prepared before the fork.
#[derive(Debug, Clone)]
pub struct Rootfs {
    root: CString,
    working_directory: CString,
}

/// Devices bound from the host into the container's `/dev` (Mesos's default set).
const DEVICES: [(&CStr, &CStr); 6] = [
    (c"null", c"/dev/null"),
    (c"zero", c"/dev/zero"),
    (c"full", c"/dev/full"),
    (c"random", c"/dev/random"),
    (c"urandom", c"/dev/urandom"),
    (c"tty", c"/dev/tty"),
];

impl Rootfs {
    pub fn new(root: &Path, working_directory: &Path) -> Result<Rootfs, String> {
        if !rustix::process::geteuid().is_root() {
            return Err("The command executor requires root with rootfs".into());
        }
        let cstring = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| format!("'{}' has a NUL byte", p.display()))
        };
        if !working_directory.is_absolute() {
            return Err(format!(
                "the working directory '{}' must be absolute",
                working_directory.display()
            ));
        }
        Ok(Rootfs {
            root: cstring(root)?,
            working_directory: cstring(working_directory)?,
        })
    }

    /// Enters the rootfs (see the module doc).
    ///
    /// # Safety
    /// Only in a freshly forked single-threaded child, between fork and exec: it unshares
    /// the mount namespace and makes only async-signal-safe system calls.
    pub unsafe fn enter(&self) -> std::io::Result<()> {
        // SAFETY: single-threaded child (the caller's contract).
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)? };
        rustix::mount::mount_change(
            c"/",
            MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
        )?;
        rustix::mount::mount_bind_recursive(self.root.as_c_str(), self.root.as_c_str())?;
        let root = rustix::fs::open(
            self.root.as_c_str(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let proc_dir = mount_point(root.as_fd(), c"proc", 0o555)?;
        mount_on(
            c"proc",
            proc_dir.as_fd(),
            c"proc",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            c"",
        )?;
        let sys_dir = mount_point(root.as_fd(), c"sys", 0o555)?;
        mount_on(
            c"sysfs",
            sys_dir.as_fd(),
            c"sysfs",
            MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            c"",
        )?;
        let dev_dir = mount_point(root.as_fd(), c"dev", 0o755)?;
        mount_on(
            c"tmpfs",
            dev_dir.as_fd(),
            c"tmpfs",
            MountFlags::NOSUID | MountFlags::NOEXEC,
            c"mode=755,size=65536k",
        )?;
        // The tmpfs now covers the image's /dev: open it again through the new mount.
        let dev = open_below(root.as_fd(), c"dev", OFlags::DIRECTORY)?;
        for (name, host) in DEVICES {
            let created = rustix::fs::openat(
                &dev,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o666),
            );
            let Ok(created) = created else { continue };
            drop(created);
            let (Ok(source), Ok(target)) = (
                rustix::fs::open(host, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()),
                open_below(dev.as_fd(), name, OFlags::empty()),
            ) else {
                continue;
            };
            let from = crate::common::fdpath::FdPath::new(source.as_fd());
            let to = crate::common::fdpath::FdPath::new(target.as_fd());
            // A device the host lacks (no tty without a terminal) is left out.
            let _ = rustix::mount::mount_bind(from.as_cstr(), to.as_cstr());
        }
        if let Ok(pts) = mount_point(dev.as_fd(), c"pts", 0o755) {
            let _ = mount_on(
                c"devpts",
                pts.as_fd(),
                c"devpts",
                MountFlags::NOSUID | MountFlags::NOEXEC,
                c"newinstance,ptmxmode=0666,mode=0620",
            );
            let _ = rustix::fs::symlinkat(c"pts/ptmx", &dev, c"ptmx");
        }
        if let Ok(shm) = mount_point(dev.as_fd(), c"shm", 0o1777) {
            let _ = mount_on(
                c"tmpfs",
                shm.as_fd(),
                c"tmpfs",
                MountFlags::NOSUID | MountFlags::NODEV,
                c"mode=1777,size=65536k",
            );
        }
        for (name, target) in [
            (c"fd", c"/proc/self/fd"),
            (c"stdin", c"/proc/self/fd/0"),
            (c"stdout", c"/proc/self/fd/1"),
            (c"stderr", c"/proc/self/fd/2"),
        ] {
            let _ = rustix::fs::symlinkat(target, &dev, name);
        }
        rustix::process::fchdir(&root)?;
        rustix::process::pivot_root(c".", c".")?;
        rustix::mount::unmount(c".", rustix::mount::UnmountFlags::DETACH)?;
        rustix::process::chdir(c"/")?;
        rustix::process::chdir(self.working_directory.as_c_str())?;
        Ok(())
    }
}

/// Opens `name` directly below `dir`, refusing a symlink.
fn open_below(dir: BorrowedFd<'_>, name: &CStr, extra: OFlags) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::openat2(
        dir,
        name,
        OFlags::PATH | OFlags::CLOEXEC | extra,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )?)
}

/// The directory `name` below `dir` (made when missing), never through a symlink.
fn mount_point(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> std::io::Result<OwnedFd> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    open_below(dir, name, OFlags::DIRECTORY)
}

fn mount_on(
    source: &CStr,
    target: BorrowedFd<'_>,
    kind: &CStr,
    flags: MountFlags,
    data: &CStr,
) -> std::io::Result<()> {
    let path = crate::common::fdpath::FdPath::new(target);
    rustix::mount::mount(source, path.as_cstr(), kind, flags, data)?;
    Ok(())
}

/// The uid, gid and groups of `user` as the image knows it (its `/etc/passwd` and
/// `/etc/group`, read inside the rootfs), as `mesos-containerizer launch` switches user after
/// `chroot`. A numeric user not in the image is used as uid and gid.
pub fn lookup_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), String> {
    let read = |path: &CStr| -> Option<String> {
        let root = rustix::fs::open(
            rootfs,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let fd = rustix::fs::openat2(
            &root,
            path,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()?;
        let mut text = String::new();
        use std::io::Read;
        std::fs::File::from(fd)
            .take(4 << 20)
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    };
    let passwd = read(c"etc/passwd").unwrap_or_default();
    let found = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 4 && fields[0] == user).then(|| {
            Some((
                fields[2].parse::<u32>().ok()?,
                fields[3].parse::<u32>().ok()?,
            ))
        })?
    });
    let (uid, gid) = match found {
        Some(ids) => ids,
        None => match user.parse::<u32>() {
            Ok(uid) => (uid, uid),
            Err(_) => {
                return Err(format!(
                    "Failed to find user '{user}' in the image's /etc/passwd"
                ));
            }
        },
    };
    let mut groups = vec![gid];
    for line in read(c"etc/group").unwrap_or_default().lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() >= 4
            && fields[3].split(',').any(|m| m == user)
            && let Ok(g) = fields[2].parse::<u32>()
            && !groups.contains(&g)
        {
            groups.push(g);
        }
    }
    Ok((uid, gid, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_looked_up_in_the_image_not_on_the_host() {
        let dir = std::env::temp_dir().join(format!(
            "remesos-rootfs-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nappuser:x:4242:4343::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "extra:x:5000:appuser\n").unwrap();
        assert_eq!(
            lookup_user(&dir, "appuser").unwrap(),
            (4242, 4343, vec![4343, 5000])
        );
        assert_eq!(lookup_user(&dir, "1234").unwrap(), (1234, 1234, vec![1234]));
        assert!(
            lookup_user(&dir, "ghost")
                .unwrap_err()
                .contains("image's /etc/passwd")
        );
        // An /etc/passwd that is a symlink to the host's is read inside the image.
        std::fs::remove_file(dir.join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("etc/passwd")).unwrap();
        assert!(lookup_user(&dir, "root").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
