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

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn c_name(name: &OsStr) -> io::Result<CString> {
    c_path(Path::new(name))
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
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
    matches!(error.raw_os_error(), Some(libc::EXDEV) | Some(libc::ELOOP))
        || error.get_ref().is_some_and(|inner| inner.is::<Escape>())
}

/// Opens a directory the agent itself named (a sandbox, a work directory).
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let path = c_path(path)?;
    // SAFETY: `path` is a valid NUL-terminated string; the returned descriptor is owned below.
    let fd = check(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
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

/// `struct open_how` of openat2(2) (libc's is non-exhaustive, so it cannot be built here).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
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
    let path = c_path(relative)?;
    // O_TMPFILE includes O_DIRECTORY's bit: test it whole.
    let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: if creates { u64::from(mode) } else { 0 },
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    // openat2 answers EAGAIN when a concurrent rename might have let `..` escape; retry.
    for _ in 0..16 {
        // SAFETY: `path` and `how` are valid for the call and `size_of::<OpenHow>()` is the
        // size of `how`; the returned descriptor is owned below.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: a descriptor just returned by openat2, owned by nobody else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
            Some(libc::ENOSYS) => return open_nofollow_walk(root, relative, flags, mode),
            _ => return Err(error),
        }
    }
    Err(io::Error::from_raw_os_error(libc::EAGAIN))
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
    let name = c_name(name)?;
    // SAFETY: `name` is a valid NUL-terminated string and `dir` an open descriptor; the
    // returned descriptor is owned below.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_CLOEXEC,
            libc::c_uint::from(mode),
        )
    })?;
    // SAFETY: a descriptor just returned by openat, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
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
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let c = c_name(name)?;
                // SAFETY: `c` is a valid NUL-terminated string and `current` an open directory.
                let rc = unsafe { libc::mkdirat(current.as_raw_fd(), c.as_ptr(), 0o755) };
                if rc < 0 {
                    let error = io::Error::last_os_error();
                    if error.raw_os_error() != Some(libc::EEXIST) {
                        return Err(error);
                    }
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
    let c = c_name(name)?;
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is valid, `stat` is writable, `dir` is open; the last name is not followed.
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut stat,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc < 0 {
        let error = io::Error::last_os_error();
        return if error.raw_os_error() == Some(libc::ENOENT) {
            Ok(())
        } else {
            Err(error)
        };
    }
    if stat.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("'{}' is already a directory", Path::new(name).display()),
        ));
    }
    // SAFETY: as above; unlinkat(2) never follows the last name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) })?;
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
    let c = c_name(last)?;
    // SAFETY: `c` is valid and `dir` an open directory; unlinkat never follows `c`.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) })?;
    Ok(())
}

/// An anonymous scratch file in `root` (`O_TMPFILE`, or a name unlinked at once where the
/// filesystem lacks it), open for reading and writing; gone when closed.
pub fn scratch_file(root: BorrowedFd<'_>) -> io::Result<File> {
    match open_beneath(root, Path::new("."), libc::O_TMPFILE | libc::O_RDWR, 0o600) {
        Ok(fd) => return Ok(File::from(fd)),
        Err(e)
            if !matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP) | Some(libc::EISDIR)
            ) =>
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
    let (c_target, c) = (c_path(target)?, c_name(name)?);
    // SAFETY: both strings are valid NUL-terminated strings and `parent` an open directory.
    check(unsafe { libc::symlinkat(c_target.as_ptr(), parent.as_raw_fd(), c.as_ptr()) })?;
    if resolves_outside(root, relative) {
        // SAFETY: as above; removes the link just made.
        unsafe { libc::unlinkat(parent.as_raw_fd(), c.as_ptr(), 0) };
        return Err(escape_error(relative));
    }
    Ok(())
}

/// True when following `relative` (through every symlink on the way) leaves `root`.
pub fn resolves_outside(root: BorrowedFd<'_>, relative: &Path) -> bool {
    match open_beneath(root, relative, libc::O_PATH, 0) {
        Ok(_) => false,
        Err(e) => matches!(e.raw_os_error(), Some(libc::EXDEV)),
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
    let (c_target, c) = (c_name(target_name)?, c_name(name)?);
    // SAFETY: valid strings and open directories; flags 0: a symlink target is not followed.
    check(unsafe {
        libc::linkat(
            target_dir.as_raw_fd(),
            c_target.as_ptr(),
            parent.as_raw_fd(),
            c.as_ptr(),
            0,
        )
    })?;
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
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL touch only its status flags.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
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
        let fifo = c_path(&dir.join("fifo")).unwrap();
        // SAFETY: a valid path string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        assert!(open_log(root, "fifo").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
