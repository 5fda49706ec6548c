//! `--log_dir`: the daemons' log files, named and split as glog names and splits Mesos's
//! (Mesos `src/logging/logging.cpp` `initialize`, glog `logging.cc` `LogFileObject`).
//!
//! Data flow: every `tracing` event the process's filter lets through is formatted once
//! (text or `--log_format=json`) by the file layer (`cli::init_logging`), which asks
//! [`LogFiles`] for a writer for the event's level; that writer appends the line to each
//! severity file the level reaches, as glog does: an ERROR line goes to the ERROR, WARNING
//! and INFO files, a WARNING line to the WARNING and INFO files, everything else (INFO,
//! DEBUG, TRACE: glog's VLOGs go to INFO too) to the INFO file. Files below
//! `--logging_level` are not written (glog's `minloglevel`).
//!
//! Names, in `<log_dir>` (glog's `LogFileObject::CreateLogfile`):
//!
//! - the file: `<program>.<host>.<user>.log.<SEVERITY>.<yyyymmdd>-<hhmmss>.<pid>`, the date
//!   and time local, of the process's start; `<user>` from `$USER` (glog:
//!   `invalid-user` when unset); `<program>` is `mesos-master`, `mesos-slave` or `mesos-local`,
//!   the names of Mesos's binaries;
//! - a symlink `<program>.<SEVERITY>` to it (replaced at each start), which is what
//!   `/master/log` and `/slave/log` attach (Mesos's `logging::getLogFile`).
//!
//! Each file begins with glog's header (creation time, machine, line format). The file of
//! the `--logging_level` severity is created at start, so that `/master/log` exists at once;
//! the others when their first line comes (glog creates them all lazily).
//!
//! Differences from glog: no rotation by size (`--max_log_size` is not a Mesos flag;
//! Mesos operators rotate with logrotate's `copytruncate`, which works here as every write
//! appends); each line is written at once (`--logbufsecs` is accepted and has nothing to
//! buffer: the file is never behind the daemon). A write that fails is dropped (glog does
//! the same); an open that fails is reported once on stderr and that severity stays off.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The logging flags of a daemon (Mesos's `src/logging/flags.cpp`, and `--log_format`);
/// `daemon` is `master` or `slave`, as in the file names and in `/<daemon>/log`.
pub fn flags(daemon: &str) -> Vec<crate::flags::Flag> {
    use crate::flags::Flag;
    vec![
        Flag::string("logging_level", "Log level: INFO, WARNING or ERROR").default("INFO"),
        Flag::bool(
            "quiet",
            "Disable logging to stderr (without --log_dir, errors are still logged there)",
        )
        .default(false),
        Flag::path(
            "log_dir",
            &format!(
                "Location to put log files (glog's names: <log_dir>/mesos-{daemon}.INFO and the \
                 others); the file is served as /{daemon}/log through /files. By default, \
                 nothing is written to disk"
            ),
        ),
        Flag::i64(
            "logbufsecs",
            "Accepted for Mesos's command lines: remesos writes each log line at once, so \
             there is nothing to buffer",
        )
        .default(0i64),
        Flag::string(
            "log_format",
            "text (default) or json: one JSON object a line (timestamp, level, target, \
             message and the event's fields), on stderr and in --log_dir's files",
        )
        .default("text"),
    ]
}

/// glog's severities, lowest first (`google::LogSeverity`; FATAL is never logged here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Error];

    /// glog's name (`GetLogSeverityName`), the suffix of the symlink.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        }
    }

    /// Mesos's `--logging_level` (`logging::getLogSeverity`: anything else is INFO).
    pub fn from_logging_level(level: &str) -> Severity {
        match level.to_ascii_uppercase().as_str() {
            "WARNING" => Severity::Warning,
            "ERROR" => Severity::Error,
            _ => Severity::Info,
        }
    }

    /// The severity of a `tracing` level: DEBUG and TRACE are glog's VLOGs, written at INFO.
    pub fn of(level: &tracing::Level) -> Severity {
        match *level {
            tracing::Level::ERROR => Severity::Error,
            tracing::Level::WARN => Severity::Warning,
            _ => Severity::Info,
        }
    }
}

/// What a file name is made of, fixed at start (glog takes them once too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naming {
    /// `mesos-master`, `mesos-slave` or `mesos-local`.
    pub program: String,
    pub host: String,
    pub user: String,
    /// Local time of the start: `yyyymmdd-hhmmss`.
    pub stamp: String,
    /// Local time of the start as the header shows it: `yyyy/mm/dd hh:mm:ss`.
    pub created: String,
    pub pid: u32,
}

impl Naming {
    /// glog's file name for `severity`.
    pub fn file_name(&self, severity: Severity) -> String {
        format!(
            "{}.{}.{}.log.{}.{}.{}",
            self.program,
            self.host,
            self.user,
            severity.name(),
            self.stamp,
            self.pid
        )
    }

    /// glog's symlink name for `severity`.
    pub fn link_name(&self, severity: Severity) -> String {
        format!("{}.{}", self.program, severity.name())
    }

    /// The naming of this process, started at `wall` (seconds since the epoch).
    pub fn current(program: &str, wall: f64) -> Naming {
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let host = if host.is_empty() {
            "(unknown)".to_string()
        } else {
            host
        };
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "invalid-user".to_string());
        let t = local_time(wall as libc::time_t);
        let created = format!(
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
            t.tm_year + 1900,
            t.tm_mon + 1,
            t.tm_mday,
            t.tm_hour,
            t.tm_min,
            t.tm_sec
        );
        Naming {
            program: program.to_string(),
            host,
            user,
            // `yyyy/mm/dd hh:mm:ss` -> `yyyymmdd-hhmmss`.
            stamp: created.replace(['/', ':'], "").replace(' ', "-"),
            created,
            pid: std::process::id(),
        }
    }
}

/// `localtime_r` of `seconds` (glog names files in local time); all zeros if it fails.
fn local_time(seconds: libc::time_t) -> libc::tm {
    // SAFETY: an all-zero `tm` is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; `localtime_r` writes only into `tm`.
    unsafe { libc::localtime_r(&seconds, &mut tm) };
    tm
}

/// One severity's file: opened on its first line. A `std::sync::Mutex` because a write is
/// one `write` syscall made by the thread that logs, never held across an `.await`.
#[derive(Debug)]
enum Slot {
    Unopened,
    Open(File),
    /// The open failed (reported once); nothing is written at this severity.
    Failed,
}

/// The log files of one daemon process in `--log_dir`.
#[derive(Debug)]
pub struct LogFiles {
    dir: PathBuf,
    naming: Naming,
    /// `--logging_level`: no file below it is written.
    minimum: Severity,
    /// Indexed by `Severity as usize`.
    slots: [Mutex<Slot>; 3],
}

impl LogFiles {
    /// Creates `dir` if needed and the file of `minimum` (so that `/master/log` exists at
    /// once). An error names the directory or the file: the daemon does not start (Mesos's
    /// glog aborts when it cannot create its first log file).
    pub fn create(dir: &Path, naming: Naming, minimum: Severity) -> Result<LogFiles, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("failed to create --log_dir '{}': {e}", dir.display()))?;
        let files = LogFiles {
            dir: dir.to_path_buf(),
            naming,
            minimum,
            slots: [
                Mutex::new(Slot::Unopened),
                Mutex::new(Slot::Unopened),
                Mutex::new(Slot::Unopened),
            ],
        };
        let file = files.open(minimum)?;
        if let Ok(mut slot) = files.slots[minimum as usize].lock() {
            *slot = Slot::Open(file);
        }
        Ok(files)
    }

    /// The file of the `--logging_level` severity that this process created: what
    /// `/master/log` and `/slave/log` attach (Mesos's
    /// `logging::getLogFile(getLogSeverity(flags.logging_level))`). The file, not its
    /// `<program>.<SEV>` symlink: whoever can write the directory could repoint the link
    /// (at `/etc/shadow`, say) before `/files` resolves it.
    pub fn primary(&self) -> PathBuf {
        self.dir.join(self.naming.file_name(self.minimum))
    }

    /// Creates the file of `severity` with glog's header and points its symlink at it.
    fn open(&self, severity: Severity) -> Result<File, String> {
        let name = self.naming.file_name(severity);
        let path = self.dir.join(&name);
        // A new file only, never through a symlink (glog's O_EXCL): the name is predictable,
        // and in a directory others can write a planted link would make this daemon append
        // to a file of their choosing.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o664)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| format!("failed to create log file '{}': {e}", path.display()))?;
        let header = format!(
            "Log file created at: {}\nRunning on machine: {}\nLog line format: {}\n",
            self.naming.created,
            self.naming.host,
            "<RFC 3339 time> <LEVEL> <target>: <message> <field=value ...> (remesos text) \
             or one JSON object a line (--log_format=json)"
        );
        file.write_all(header.as_bytes())
            .map_err(|e| format!("failed to write log file '{}': {e}", path.display()))?;
        // glog: the link is relative (the file's name), replaced at each start.
        let link = self.dir.join(self.naming.link_name(severity));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&name, &link)
            .map_err(|e| format!("failed to create symlink '{}': {e}", link.display()))?;
        Ok(file)
    }

    /// Appends one formatted line to every file `level` reaches.
    fn write_line(&self, level: Severity, line: &[u8]) {
        for severity in Severity::ALL {
            if severity < self.minimum || severity > level {
                continue;
            }
            let Ok(mut slot) = self.slots[severity as usize].lock() else {
                continue;
            };
            if matches!(*slot, Slot::Unopened) {
                *slot = match self.open(severity) {
                    Ok(file) => Slot::Open(file),
                    Err(e) => {
                        // The logger cannot log its own failure: stderr, once.
                        eprintln!("{e}");
                        Slot::Failed
                    }
                };
            }
            if let Slot::Open(file) = &mut *slot {
                let _ = file.write_all(line);
            }
        }
    }
}

/// The writer the file layer gets for one event: its severity and the files.
pub struct LineWriter<'a> {
    files: &'a LogFiles,
    severity: Severity,
}

impl Write for LineWriter<'_> {
    /// The fmt layer formats an event whole and writes it with one `write_all`, so a
    /// `write` is a whole line (or the whole of a JSON object and its newline).
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.files.write_line(self.severity, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogFiles {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            files: self,
            severity: Severity::Info,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LineWriter<'a> {
        LineWriter {
            files: self,
            severity: Severity::of(meta.level()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> Naming {
        Naming {
            program: "mesos-master".into(),
            host: "h1".into(),
            user: "alice".into(),
            stamp: "20261207-002819".into(),
            created: "2026/12/07 00:28:19".into(),
            pid: 42,
        }
    }

    #[test]
    fn names_are_glogs() {
        let n = naming();
        assert_eq!(
            n.file_name(Severity::Info),
            "mesos-master.h1.alice.log.INFO.20261207-002819.42"
        );
        assert_eq!(n.link_name(Severity::Warning), "mesos-master.WARNING");
        assert_eq!(Severity::from_logging_level("warning"), Severity::Warning);
        assert_eq!(Severity::from_logging_level("bogus"), Severity::Info);
    }

    /// glog writes a line to its own severity's file and every lower one, none below
    /// `minloglevel`, and creates a file when its first line comes.
    #[test]
    fn a_line_reaches_its_severity_and_the_lower_files_only() {
        let dir = std::env::temp_dir().join(format!("remesos-log-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = LogFiles::create(&dir, naming(), Severity::Warning).unwrap();
        let read = |s: Severity| std::fs::read_to_string(dir.join(naming().link_name(s)));
        assert_eq!(
            files.primary(),
            dir.join("mesos-master.h1.alice.log.WARNING.20261207-002819.42"),
            "the file this process created, not the link"
        );
        assert!(
            read(Severity::Warning)
                .unwrap()
                .starts_with("Log file created at: 2026/12/07")
        );
        files.write_line(Severity::Info, b"info\n");
        files.write_line(Severity::Warning, b"warn\n");
        assert!(read(Severity::Error).is_err(), "no ERROR line yet, no file");
        files.write_line(Severity::Error, b"error\n");
        let warning = read(Severity::Warning).unwrap();
        assert!(warning.ends_with("warn\nerror\n"), "{warning}");
        assert!(read(Severity::Error).unwrap().ends_with("\nerror\n"));
        assert!(
            read(Severity::Info).is_err(),
            "INFO is below --logging_level"
        );
        let target = std::fs::read_link(dir.join("mesos-master.ERROR")).unwrap();
        assert_eq!(
            target,
            PathBuf::from("mesos-master.h1.alice.log.ERROR.20261207-002819.42")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The file's name is predictable: a link planted under it (in a directory others can
    /// write) makes the start fail, and the link's target is not touched.
    #[test]
    fn a_planted_link_at_the_files_name_is_refused() {
        let dir = std::env::temp_dir().join(format!("remesos-log-plant-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(naming().file_name(Severity::Info))).unwrap();
        let refused = LogFiles::create(&dir, naming(), Severity::Info);
        assert!(refused.is_err(), "created through a planted link");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
