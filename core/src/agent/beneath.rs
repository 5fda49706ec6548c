//! Opening and creating files inside a sandbox without ever leaving it.
//!
//! A sandbox belongs to its task's user, who may plant symlinks, hard links and FIFOs in
//! it; the agent (often root), the fetcher and `/files` must never be led outside by them
//! (issue 11). Everything here works relative to an open directory, the *root*:
//!
//! - [`open_beneath`] resolves a relative path with `openat2(RESOLVE_BENEATH |
//!   RESOLVE_NO_MAGICLINKS)` (Linux 5.6): symlinks and `..` are followed only while they stay
//!   below the root; anything that would leave it fails with `EXDEV`, race-free. On a kernel
//!   without `openat2` it walks the path one component at a time with `O_NOFOLLOW`, which
//!   refuses every symlink and `..` (stricter, never looser).
//! - [`create_file_beneath`], [`symlink_beneath`], [`hard_link_beneath`] and
//!   [`mkdir_all_beneath`] create entries through directory descriptors obtained that way and
//!   never write through an existing symlink (`O_CREAT | O_EXCL`, `mkdirat`, `symlinkat`,
//!   `linkat` without `AT_SYMLINK_FOLLOW`).
//! - [`open_log`] opens the sandbox's `stdout` / `stderr` for appending with `O_NOFOLLOW |
//!   O_NONBLOCK` and accepts only a regular file with a single link.
//!
//! Mesos relies on running its fetcher as the task's user (`src/launcher/fetcher.cpp`) and on
//! `realpath` checks in `src/files/files.cpp`; these helpers give the same guarantees to code
//! that runs as root, and close the window between a check and the open.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// The `open(2)` flags of this module's callers as rustix's type (every bit kept).
fn oflags(flags: libc::c_int) -> OFlags {
    OFlags::from_bits_retain(flags as u32)
}

/// A path that would lead outside the root (the inner error of [`escape_error`]).
#[derive(Debug, thiserror::Error)]
#[error("'{0}' would resolve outside the sandbox")]
pub struct Escape(pub PathBuf);

/// The error for a path that would lead outside the root.
pub fn escape_error(path: &Path) -> io::Error {
    io::Error::other(Escape(path.to_path_buf()))
}

/// True when `error` means "this path leads outside the root": [`escape_error`], `EXDEV` from
/// `openat2`, or the `ELOOP` of the `O_NOFOLLOW` walk and of magic links.
pub fn is_escape(error: &io::Error) -> bool {
    let code = error.raw_os_error();
    code == Some(Errno::XDEV.raw_os_error())
        || code == Some(Errno::LOOP.raw_os_error())
        || error.get_ref().is_some_and(|inner| inner.is::<Escape>())
}

/// Opens a directory the agent itself named (a sandbox, a work directory).
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The relative path's components, which must all be plain names (`.` is skipped): an
/// absolute path or a `..` is refused here, before any system call.
pub fn plain_components(relative: &Path) -> io::Result<Vec<&OsStr>> {
    let mut names = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(name) => names.push(name),
            Component::CurDir => {}
            _ => return Err(escape_error(relative)),
        }
    }
    Ok(names)
}

/// Opens `relative` below `root` with `flags` (and `mode` when creating), never resolving
/// outside `root`. An empty path opens `root` itself again.
pub fn open_beneath(
    root: BorrowedFd<'_>,
    relative: &Path,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    if relative.is_absolute() {
        return Err(escape_error(relative));
    }
    // O_TMPFILE includes O_DIRECTORY's bit: test it whole.
    let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
    let mode = if creates {
        Mode::from_raw_mode(mode)
    } else {
        Mode::empty()
    };
    // openat2 answers EAGAIN when a concurrent rename might have let `..` escape; retry.
    for _ in 0..16 {
        match rustix::fs::openat2(
            root,
            relative,
            oflags(flags) | OFlags::CLOEXEC,
            mode,
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => return Ok(fd),
            Err(Errno::AGAIN | Errno::INTR) => continue,
            Err(Errno::NOSYS) => {
                return open_nofollow_walk(root, relative, flags, mode.as_raw_mode());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Errno::AGAIN.into())
}

/// The fallback of [`open_beneath`]: one component at a time, none of them a symlink.
fn open_nofollow_walk(
    root: BorrowedFd<'_>,
    relative: &Path,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let names = plain_components(relative)?;
    let Some((last, parents)) = names.split_last() else {
        return openat(root, OsStr::new("."), flags, mode);
    };
    let mut current: Option<OwnedFd> = None;
    for name in parents {
        let dir = current.as_ref().map_or(root, |fd| fd.as_fd());
        let next = openat(
            dir,
            name,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )?;
        current = Some(next);
    }
    let dir = current.as_ref().map_or(root, |fd| fd.as_fd());
    openat(dir, last, flags | libc::O_NOFOLLOW, mode)
}

/// `openat(2)` of one name in `dir`.
fn openat(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        oflags(flags) | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?)
}

const DIRECTORY: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY;

/// Creates the directory `relative` below `root` and every missing parent (mode 0755 before
/// the umask); returns it open. Existing directories (and symlinks to directories that stay
/// below `root`) are used as they are.
pub fn mkdir_all_beneath(root: BorrowedFd<'_>, relative: &Path) -> io::Result<OwnedFd> {
    let names = plain_components(relative)?;
    let mut current = open_beneath(root, Path::new("."), DIRECTORY, 0)?;
    let mut so_far = PathBuf::new();
    for name in names {
        so_far.push(name);
        current = match open_beneath(root, &so_far, DIRECTORY, 0) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => {
                match rustix::fs::mkdirat(&current, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                open_beneath(root, &so_far, DIRECTORY, 0)?
            }
            Err(e) => return Err(e),
        };
    }
    Ok(current)
}

/// Splits `relative` into its parent (opened, created if missing) and its last name.
fn parent_and_name<'a>(
    root: BorrowedFd<'_>,
    relative: &'a Path,
) -> io::Result<(OwnedFd, &'a OsStr)> {
    let names = plain_components(relative)?;
    let Some(last) = names.last().copied() else {
        return Err(escape_error(relative));
    };
    let parent: PathBuf = names[..names.len() - 1].iter().collect();
    Ok((mkdir_all_beneath(root, &parent)?, last))
}

/// Removes `name` from `dir` unless it is a directory (an error then) or absent.
fn remove_non_directory(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    // The last name is not followed.
    let stat = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("'{}' is already a directory", Path::new(name).display()),
        ));
    }
    // unlinkat(2) never follows the last name.
    rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
    Ok(())
}

/// Creates `relative` below `root` as a new, empty regular file open for writing (and
/// reading), with `mode` before the umask. Whatever was there (a file, a symlink, a FIFO) is
/// replaced, never written through; a directory there is an error.
pub fn create_file_beneath(
    root: BorrowedFd<'_>,
    relative: &Path,
    mode: libc::mode_t,
) -> io::Result<File> {
    let (parent, name) = parent_and_name(root, relative)?;
    let parent = parent.as_fd();
    remove_non_directory(parent, name)?;
    let fd = openat(
        parent,
        name,
        libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        mode,
    )?;
    Ok(File::from(fd))
}

/// Removes the file `relative` below `root` (for a download that failed half-way).
pub fn remove_beneath(root: BorrowedFd<'_>, relative: &Path) -> io::Result<()> {
    let names = plain_components(relative)?;
    let Some((last, parents)) = names.split_last() else {
        return Err(escape_error(relative));
    };
    let parent: PathBuf = parents.iter().collect();
    let dir = open_beneath(root, &parent, DIRECTORY, 0)?;
    // unlinkat never follows the last name.
    rustix::fs::unlinkat(&dir, *last, AtFlags::empty())?;
    Ok(())
}

/// An anonymous scratch file in `root` (`O_TMPFILE`, or a name unlinked at once where the
/// filesystem lacks it), open for reading and writing; gone when closed.
pub fn scratch_file(root: BorrowedFd<'_>) -> io::Result<File> {
    match open_beneath(root, Path::new("."), libc::O_TMPFILE | libc::O_RDWR, 0o600) {
        Ok(fd) => return Ok(File::from(fd)),
        Err(e)
            if e.raw_os_error() != Some(Errno::OPNOTSUPP.raw_os_error())
                && e.raw_os_error() != Some(Errno::ISDIR.raw_os_error()) =>
        {
            return Err(e);
        }
        Err(_) => {}
    }
    let name = PathBuf::from(format!(".remesos-scratch-{}", uuid::Uuid::new_v4()));
    let file = create_file_beneath(root, &name, 0o600)?;
    remove_beneath(root, &name)?;
    Ok(file)
}

/// A symlink target that, read from the link's directory, leaves `root` lexically: an
/// absolute target, or more `..` than there are directories above the link.
fn target_leaves(link: &[&OsStr], target: &Path) -> bool {
    if target.is_absolute() {
        return true;
    }
    // The link's parent depth below the root.
    let mut depth = link.len().saturating_sub(1) as isize;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return true,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// Creates the symlink `relative -> target` below `root`, replacing a non-directory there.
/// A target that is absolute or climbs out with `..` is refused; so is a link that, through
/// the links already there, resolves outside `root` (a dangling link is allowed: anything
/// opened through it later is resolved beneath `root` again).
pub fn symlink_beneath(root: BorrowedFd<'_>, relative: &Path, target: &Path) -> io::Result<()> {
    let names = plain_components(relative)?;
    if target.as_os_str().is_empty() || target_leaves(&names, target) {
        return Err(escape_error(relative));
    }
    let (parent, name) = parent_and_name(root, relative)?;
    let parent = parent.as_fd();
    remove_non_directory(parent, name)?;
    rustix::fs::symlinkat(target, parent, name)?;
    if resolves_outside(root, relative) {
        // Removes the link just made; the escape is the error to report.
        let _ = rustix::fs::unlinkat(parent, name, AtFlags::empty());
        return Err(escape_error(relative));
    }
    Ok(())
}

/// True when following `relative` (through every symlink on the way) leaves `root`.
pub fn resolves_outside(root: BorrowedFd<'_>, relative: &Path) -> bool {
    match open_beneath(root, relative, libc::O_PATH, 0) {
        Ok(_) => false,
        Err(e) => e.raw_os_error() == Some(Errno::XDEV.raw_os_error()),
    }
}

/// Creates `relative` below `root` as a hard link to `target`, another path below `root`
/// (as tar's hard-link entries name it). The target itself is not followed if it is a symlink.
pub fn hard_link_beneath(root: BorrowedFd<'_>, relative: &Path, target: &Path) -> io::Result<()> {
    let target_names = plain_components(target)?;
    let Some((target_name, target_parents)) = target_names.split_last() else {
        return Err(escape_error(target));
    };
    let target_parent: PathBuf = target_parents.iter().collect();
    let target_dir = open_beneath(root, &target_parent, DIRECTORY, 0)?;
    let (parent, name) = parent_and_name(root, relative)?;
    let parent = parent.as_fd();
    remove_non_directory(parent, name)?;
    // No AT_SYMLINK_FOLLOW: a symlink target is linked, not followed.
    rustix::fs::linkat(&target_dir, *target_name, parent, name, AtFlags::empty())?;
    Ok(())
}

/// Opens (creating it if missing) the sandbox's log file `name` (`stdout`, `stderr`) for
/// appending. Refused, with nothing written: a symlink (`O_NOFOLLOW`), a FIFO or device (the
/// open does not block: `O_NONBLOCK`), anything but a regular file, and a file with more than
/// one link (a hard link to a file elsewhere).
pub fn open_log(sandbox: BorrowedFd<'_>, name: &str) -> io::Result<File> {
    let fd = openat(
        sandbox,
        OsStr::new(name),
        libc::O_WRONLY
            | libc::O_APPEND
            | libc::O_CREAT
            | libc::O_NOFOLLOW
            | libc::O_NONBLOCK
            | libc::O_NOCTTY,
        0o644,
    )
    .map_err(|e| io::Error::new(e.kind(), format!("cannot open the sandbox's {name}: {e}")))?;
    let file = File::from(fd);
    let metadata = file.metadata()?;
    if !metadata.file_type().is_file() || std::os::unix::fs::MetadataExt::nlink(&metadata) != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the sandbox's {name} is not a regular file with a single link"),
        ));
    }
    // Back to blocking writes (a no-op for regular files, but the executor inherits it).
    if let Ok(flags) = rustix::fs::fcntl_getfl(&file) {
        let _ = rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK);
    }
    Ok(file)
}

/// Appends `text` to the sandbox's `name` through [`open_log`].
pub fn append_log(sandbox: &Path, name: &str, text: &str) -> io::Result<()> {
    use std::io::Write;
    let dir = open_dir(sandbox)?;
    let mut file = open_log(dir.as_fd(), name)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("remesos-beneath-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn symlink_targets_that_climb_out_are_refused_lexically() {
        let link = [OsStr::new("a"), OsStr::new("l")];
        assert!(target_leaves(&link, Path::new("/etc")));
        assert!(target_leaves(&link, Path::new("../..")));
        assert!(target_leaves(&link, Path::new("../../x")));
        assert!(!target_leaves(&link, Path::new("..")));
        assert!(!target_leaves(&link, Path::new("b/../../c")));
        assert!(target_leaves(&link, Path::new("b/../../../c")));
    }

    #[test]
    fn a_symlink_chain_that_leaves_the_root_is_refused() {
        let dir = temp();
        let root = open_dir(&dir).unwrap();
        let root = root.as_fd();
        // a/up -> .. is the root itself: allowed.
        symlink_beneath(root, Path::new("a/up"), Path::new("..")).unwrap();
        // a/up2 -> up/.. reads as `a` lexically but really is the root's parent.
        let error = symlink_beneath(root, Path::new("a/up2"), Path::new("up/..")).unwrap_err();
        assert!(is_escape(&error), "{error}");
        assert!(std::fs::symlink_metadata(dir.join("a/up2")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_are_never_created_through_a_symlink() {
        let dir = temp();
        let outside = temp();
        std::os::unix::fs::symlink(&outside, dir.join("out")).unwrap();
        std::os::unix::fs::symlink(outside.join("f"), dir.join("f")).unwrap();
        let root = open_dir(&dir).unwrap();
        let root = root.as_fd();
        let error = create_file_beneath(root, Path::new("out/x"), 0o644).unwrap_err();
        assert!(is_escape(&error), "{error}");
        // A symlink as the last name is replaced, not followed.
        create_file_beneath(root, Path::new("f"), 0o644).unwrap();
        assert!(!outside.join("f").exists());
        assert!(
            std::fs::symlink_metadata(dir.join("f"))
                .unwrap()
                .file_type()
                .is_file()
        );
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn logs_must_be_regular_files_with_one_link() {
        let dir = temp();
        let root = open_dir(&dir).unwrap();
        let root = root.as_fd();
        open_log(root, "stdout").unwrap();
        std::fs::remove_file(dir.join("stdout")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("stdout")).unwrap();
        assert!(open_log(root, "stdout").is_err());
        std::fs::write(dir.join("elsewhere"), "x").unwrap();
        std::fs::hard_link(dir.join("elsewhere"), dir.join("stderr")).unwrap();
        assert!(open_log(root, "stderr").is_err());
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert!(open_log(root, "fifo").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
