//! Container loggers (`--container_logger`): where an executor's stdout and stderr go.
//! Mesos's `ContainerLogger` modules (`src/slave/container_loggers/`, `docs/logging.md`):
//!
//! - the default, Mesos's `SandboxContainerLogger`: the process writes the sandbox's
//!   `stdout` and `stderr` files directly, unbounded;
//! - `org_apache_mesos_LogrotateContainerLogger` (`logrotate.cpp`, `lib_logrotate.cpp`):
//!   each stream goes through a pipe to a companion process, Mesos's
//!   `mesos-logrotate-logger`, here `remesos logrotate-logger` ([`Rotator`]), which appends
//!   to the sandbox file and rotates it by size, so a service's output cannot fill the disk.
//!   The companions run in their own session as the task's user, so they outlive an agent
//!   restart and end at EOF, once every writer (the executor and its tasks) has exited.
//!
//! The module's parameters are agent flags, one for one ([`LogrotateSettings`]):
//! `max_stdout_size` → `--logrotate_max_stdout_size` (default 10 MB, at least one page),
//! `max_stderr_size` → `--logrotate_max_stderr_size`, `logrotate_stdout_options` →
//! `--logrotate_stdout_options`, `logrotate_stderr_options` → `--logrotate_stderr_options`,
//! `logrotate_path` → `--logrotate_path`, `environment_variable_prefix` →
//! `--logrotate_environment_variable_prefix` (default `CONTAINER_LOGGER_`: an executor's
//! environment may set `<prefix>MAX_STDOUT_SIZE`, `<prefix>LOGROTATE_STDOUT_OPTIONS` and the
//! stderr pair for itself). `launcher_dir` is the agent's `--launcher_dir`.
//!
//! Rotation, different from Mesos on purpose: Mesos always calls `logrotate` with
//! `size <max_size>` and the options. Here the size rule is applied by the logger itself:
//! when the next write would take the file past the maximum, `stdout` becomes `stdout.1`,
//! `stdout.1` becomes `stdout.2` and so on, keeping as many as the options' `rotate N` says
//! (logrotate's count; 9 when the options do not say), and a new `stdout` is started — the
//! live file keeps its name, so `/files` and `task log --follow` read it as before.
//! `logrotate` runs instead of the built-in renaming only when options are given and a
//! `logrotate` binary is there (`--logrotate_path`, else `logrotate` on the PATH), with the
//! same configuration Mesos writes (`<file> { <options>\n size <max_size - page> }`, the
//! state in `<file>.logrotate.state`); if it fails the logger keeps appending, as Mesos's.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Mesos's module name that selects log rotation.
pub const LOGROTATE_LOGGER: &str = "org_apache_mesos_LogrotateContainerLogger";
/// Mesos's default for `max_stdout_size` / `max_stderr_size`.
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;
/// Mesos's default `environment_variable_prefix`.
pub const DEFAULT_ENV_PREFIX: &str = "CONTAINER_LOGGER_";
/// Rotated files kept when the options have no `rotate N`.
pub const DEFAULT_ROTATE: u32 = 9;
/// Suffixes of the files `logrotate` uses, as Mesos names them.
const CONF_SUFFIX: &str = ".logrotate.conf";
const STATE_SUFFIX: &str = ".logrotate.state";

/// A bad `--container_logger` setting: the agent stops with it.
#[derive(Debug, thiserror::Error)]
pub enum LoggerError {
    #[error("Unknown --container_logger '{0}': expected {LOGROTATE_LOGGER} or none")]
    Unknown(String),
    #[error("--{flag} must be at least one memory page ({page} bytes), not {size}")]
    TooSmall { flag: String, size: u64, page: u64 },
    #[error("--logrotate_path '{0}' is not an executable file")]
    NoLogrotate(String),
}

/// One stream's rotation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub max_size: u64,
    /// Inserted into the `logrotate` configuration; `None` for no options.
    pub options: Option<String>,
}

/// The logrotate logger's settings (the module's parameters as flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogrotateSettings {
    pub stdout: Rotation,
    pub stderr: Rotation,
    /// `--logrotate_path`, when given.
    pub logrotate_path: Option<PathBuf>,
    pub environment_variable_prefix: String,
}

/// `--container_logger`: the sandbox's files directly (`None`) or rotated.
pub type ContainerLogger = Option<LogrotateSettings>;

/// The memory page size (the smallest `max_size`, as Mesos).
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

impl LogrotateSettings {
    /// Checks the sizes and `--logrotate_path`; `logger` is `--container_logger`.
    pub fn from_flags(
        logger: Option<&str>,
        stdout: Rotation,
        stderr: Rotation,
        logrotate_path: Option<PathBuf>,
        environment_variable_prefix: String,
    ) -> Result<ContainerLogger, LoggerError> {
        match logger.filter(|l| !l.is_empty()) {
            None => return Ok(None),
            Some(LOGROTATE_LOGGER) => {}
            Some(other) => return Err(LoggerError::Unknown(other.to_string())),
        }
        let page = page_size();
        for (flag, rotation) in [
            ("logrotate_max_stdout_size", &stdout),
            ("logrotate_max_stderr_size", &stderr),
        ] {
            if rotation.max_size < page {
                return Err(LoggerError::TooSmall {
                    flag: flag.into(),
                    size: rotation.max_size,
                    page,
                });
            }
        }
        if let Some(path) = &logrotate_path
            && !is_executable(path)
        {
            return Err(LoggerError::NoLogrotate(path.display().to_string()));
        }
        Ok(Some(LogrotateSettings {
            stdout,
            stderr,
            logrotate_path,
            environment_variable_prefix,
        }))
    }

    /// The settings of one container: the executor's environment may override the sizes
    /// and options (`<prefix>MAX_STDOUT_SIZE`, …, as Mesos's module reads them). A bad size
    /// there fails the launch.
    pub fn for_container(&self, environment: &[(String, String)]) -> Result<Self, String> {
        let mut settings = self.clone();
        let get = |name: &str| {
            let key = format!("{}{name}", self.environment_variable_prefix);
            environment
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (key, v.clone()))
        };
        for (stream, rotation) in [
            ("STDOUT", &mut settings.stdout),
            ("STDERR", &mut settings.stderr),
        ] {
            if let Some((key, value)) = get(&format!("MAX_{stream}_SIZE")) {
                let size = match crate::flags::parse_value(crate::flags::FlagKind::Bytes, &value) {
                    Ok(crate::flags::FlagValue::Bytes(size)) => Some(size),
                    _ => None,
                }
                .ok_or_else(|| format!("Invalid {key} '{value}': expected a byte size"))?;
                if size < page_size() {
                    return Err(format!(
                        "Invalid {key} '{value}': must be at least one memory page ({} bytes)",
                        page_size()
                    ));
                }
                rotation.max_size = size;
            }
            if let Some((_, value)) = get(&format!("LOGROTATE_{stream}_OPTIONS")) {
                rotation.options = Some(value);
            }
        }
        Ok(settings)
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `logrotate` for `options`: only when there are options, at `path` when given, else the
/// first `logrotate` on the PATH.
fn find_logrotate(path: Option<&Path>, options: Option<&str>) -> Option<PathBuf> {
    options.filter(|o| !o.trim().is_empty())?;
    if let Some(path) = path {
        return is_executable(path).then(|| path.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("logrotate"))
            .find(|candidate| is_executable(candidate))
    })
}

/// logrotate's `rotate N` in `options`, if any.
fn rotate_count(options: Option<&str>) -> Option<u32> {
    options?.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("rotate"))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// The writer of `remesos logrotate-logger`: appends to `path`, rotating before a write
/// would take it past `max_size` (see the module doc).
pub struct Rotator {
    path: PathBuf,
    rotation: Rotation,
    logrotate: Option<PathBuf>,
    keep: u32,
    file: std::fs::File,
    written: u64,
}

impl Rotator {
    /// Opens (appends to) `path`; what it already holds counts toward the first rotation.
    pub fn open(
        path: &Path,
        rotation: Rotation,
        logrotate_path: Option<&Path>,
    ) -> io::Result<Rotator> {
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        let logrotate = find_logrotate(logrotate_path, rotation.options.as_deref());
        let keep = rotate_count(rotation.options.as_deref()).unwrap_or(DEFAULT_ROTATE);
        if let Some(logrotate) = &logrotate {
            // Mesos's configuration; `size` a page under the maximum because logrotate
            // rotates once the size is exceeded and the files are kept under it.
            let config = format!(
                "\"{}\" {{\n{}\nsize {}\n}}\n",
                path.display(),
                rotation.options.as_deref().unwrap_or_default(),
                rotation.max_size.saturating_sub(page_size()).max(1)
            );
            let conf = suffixed(path, CONF_SUFFIX);
            std::fs::write(&conf, config)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644))?;
            tracing::debug!(logrotate = %logrotate.display(), "rotating with logrotate");
        }
        Ok(Rotator {
            path: path.to_path_buf(),
            rotation,
            logrotate,
            keep,
            file,
            written,
        })
    }

    /// Writes `data`, rotating first whenever it would not fit; a chunk larger than the
    /// maximum is split.
    pub fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        let max = self.rotation.max_size;
        while !data.is_empty() {
            if self.written > 0 && self.written + data.len() as u64 > max {
                self.rotate()?;
            }
            let room = usize::try_from(max.saturating_sub(self.written))
                .unwrap_or(usize::MAX)
                .max(1);
            let (now, rest) = data.split_at(room.min(data.len()));
            // A failed write (a full disk) is reported, not fatal: the container keeps
            // running and its output is dropped, as Mesos's logger prefers.
            if let Err(e) = self.file.write_all(now) {
                eprintln!("Failed to write '{}': {e}", self.path.display());
            }
            self.written += now.len() as u64;
            data = rest;
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        match &self.logrotate {
            Some(logrotate) => {
                #[allow(
                    clippy::disallowed_methods,
                    reason = "logrotate is a process, as Mesos's logger runs it"
                )]
                let status = std::process::Command::new(logrotate)
                    .arg("--state")
                    .arg(suffixed(&self.path, STATE_SUFFIX))
                    .arg(suffixed(&self.path, CONF_SUFFIX))
                    .stdin(std::process::Stdio::null())
                    .status();
                if !status.as_ref().is_ok_and(|s| s.success()) {
                    eprintln!(
                        "logrotate failed ({status:?}); appending to '{}'",
                        self.path.display()
                    );
                }
            }
            None => self.shift()?,
        }
        self.file = open_append(&self.path)?;
        self.written = self.file.metadata()?.len();
        Ok(())
    }

    /// `path.N-1` → `path.N` … `path` → `path.1`, dropping what falls past `keep`.
    fn shift(&self) -> io::Result<()> {
        let numbered = |n: u32| suffixed(&self.path, &format!(".{n}"));
        if self.keep == 0 {
            return remove_if_present(&self.path);
        }
        remove_if_present(&numbered(self.keep))?;
        for n in (1..self.keep).rev() {
            match std::fs::rename(numbered(n), numbered(n + 1)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        std::fs::rename(&self.path, numbered(1))
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens `path` for appending, never through a symlink or into a FIFO (the sandbox belongs
/// to the task's user).
fn open_append(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "'{}' is not a regular file",
            path.display()
        )));
    }
    Ok(file)
}

/// Copies `input` into `rotator` until EOF (the loop of `remesos logrotate-logger`).
pub fn pump(input: &mut impl Read, rotator: &mut Rotator) -> io::Result<()> {
    let mut buffer = vec![0u8; page_size() as usize];
    loop {
        match input.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => rotator.write_all(&buffer[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The arguments of `remesos logrotate-logger` for one stream.
pub fn logger_args(
    log_filename: &Path,
    rotation: &Rotation,
    logrotate_path: Option<&Path>,
) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "logrotate-logger".into(),
        // stout's byte text: a number needs its unit.
        format!("--max_size={}B", rotation.max_size).into(),
    ];
    let mut file = std::ffi::OsString::from("--log_filename=");
    file.push(log_filename.as_os_str());
    args.push(file);
    if let Some(options) = &rotation.options {
        args.push(format!("--logrotate_options={options}").into());
    }
    if let Some(path) = logrotate_path {
        let mut flag = std::ffi::OsString::from("--logrotate_path=");
        flag.push(path.as_os_str());
        args.push(flag);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("logrotate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn files_stay_under_the_maximum_and_rotate_to_numbered_names() {
        let dir = dir("rotate");
        let path = dir.join("stdout");
        let rotation = Rotation {
            max_size: 100,
            options: Some("rotate 2".into()),
        };
        let mut rotator = Rotator::open(&path, rotation, Some(Path::new("/nonexistent"))).unwrap();
        for line in 0..40 {
            rotator
                .write_all(format!("line {line:04} ....\n").as_bytes())
                .unwrap();
        }
        // 40 lines of 16 bytes: 640 bytes, 6 lines per 100-byte file.
        for name in ["stdout", "stdout.1", "stdout.2"] {
            let len = std::fs::metadata(dir.join(name)).unwrap().len();
            assert!(len > 0 && len <= 100, "{name}: {len}");
        }
        assert!(!dir.join("stdout.3").exists(), "rotate 2 keeps two");
        let live = std::fs::read_to_string(&path).unwrap();
        assert!(live.ends_with("line 0039 ....\n"), "{live}");
        let previous = std::fs::read_to_string(dir.join("stdout.1")).unwrap();
        assert!(previous.starts_with("line 0030"), "{previous}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_write_larger_than_the_maximum_is_split() {
        let dir = dir("split");
        let path = dir.join("stderr");
        let rotation = Rotation {
            max_size: 10,
            options: None,
        };
        let mut rotator = Rotator::open(&path, rotation, None).unwrap();
        rotator.write_all(&[b'x'; 35]).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5);
        for n in 1..=3 {
            assert_eq!(
                std::fs::metadata(dir.join(format!("stderr.{n}")))
                    .unwrap()
                    .len(),
                10
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn settings_follow_the_modules_rules() {
        let rotation = |max_size| Rotation {
            max_size,
            options: None,
        };
        let ok = |logger: Option<&str>| {
            LogrotateSettings::from_flags(
                logger,
                rotation(DEFAULT_MAX_SIZE),
                rotation(DEFAULT_MAX_SIZE),
                None,
                DEFAULT_ENV_PREFIX.into(),
            )
        };
        assert_eq!(ok(None).unwrap(), None);
        assert!(ok(Some(LOGROTATE_LOGGER)).unwrap().is_some());
        assert!(matches!(
            ok(Some("org_apache_mesos_Other")),
            Err(LoggerError::Unknown(_))
        ));
        let small = LogrotateSettings::from_flags(
            Some(LOGROTATE_LOGGER),
            rotation(100),
            rotation(DEFAULT_MAX_SIZE),
            None,
            DEFAULT_ENV_PREFIX.into(),
        );
        assert!(matches!(small, Err(LoggerError::TooSmall { .. })));
        let missing = LogrotateSettings::from_flags(
            Some(LOGROTATE_LOGGER),
            rotation(DEFAULT_MAX_SIZE),
            rotation(DEFAULT_MAX_SIZE),
            Some("/nonexistent/logrotate".into()),
            DEFAULT_ENV_PREFIX.into(),
        );
        assert!(matches!(missing, Err(LoggerError::NoLogrotate(_))));
        // The executor's environment overrides, as the module's environment_variable_prefix.
        let settings = ok(Some(LOGROTATE_LOGGER)).unwrap().unwrap();
        let env = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let custom = settings
            .for_container(&env("CONTAINER_LOGGER_MAX_STDOUT_SIZE", "1MB"))
            .unwrap();
        assert_eq!(custom.stdout.max_size, 1024 * 1024);
        assert_eq!(custom.stderr.max_size, DEFAULT_MAX_SIZE);
        assert!(
            settings
                .for_container(&env("CONTAINER_LOGGER_MAX_STDERR_SIZE", "12"))
                .is_err()
        );
        assert_eq!(rotate_count(Some("compress\nrotate 5")), Some(5));
        assert_eq!(rotate_count(Some("compress")), None);
    }
}
