//! What libmesos.so's `org.apache.mesos.Log`, `Log.Reader` and `Log.Writer` natives call:
//! the ZooKeeper-backed log of [`crate::zk::log`], each call blocking the calling Java
//! thread on the driver runtime for at most its timeout (Mesos's natives `await` their
//! futures the same way). Calls without a timeout in Java (`beginning`, `ending`) are
//! bounded by the log's session timeout, so that nothing waits forever on an unreachable
//! ZooKeeper.

use std::sync::Arc;
use std::time::Duration;

pub use crate::zk::log::{Entry, LogConfig, LogError};
use crate::zk::log::{Log as ZkLog, Writer as ZkWriter};

/// The outcome of a bounded call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("timed out while attempting to {0}")]
    Timeout(&'static str),
    #[error(transparent)]
    Log(#[from] LogError),
}

pub type Result<T> = std::result::Result<T, CallError>;

fn bounded<T>(
    what: &'static str,
    timeout: Duration,
    call: impl std::future::Future<Output = std::result::Result<T, LogError>>,
) -> Result<T> {
    super::runtime().block_on(async {
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result.map_err(CallError::Log),
            Err(_) => Err(CallError::Timeout(what)),
        }
    })
}

/// A log handle (Java's `Log`); readers and writers share its session.
#[derive(Clone)]
pub struct Log {
    inner: Arc<ZkLog>,
}

impl Log {
    /// Does no I/O: the session opens on first use, as Mesos's `Log` connects in the
    /// background.
    pub fn new(config: LogConfig) -> Log {
        Log {
            inner: ZkLog::new(config),
        }
    }

    fn default_timeout(&self) -> Duration {
        self.inner.config().session_timeout
    }
}

/// Java's `Log.Reader`.
pub struct Reader {
    log: Log,
}

impl Reader {
    pub fn new(log: &Log) -> Reader {
        Reader { log: log.clone() }
    }

    pub fn read(&self, from: u64, to: u64, timeout: Duration) -> Result<Vec<Entry>> {
        bounded("read", timeout, self.log.inner.read(from, to))
    }

    pub fn beginning(&self) -> Result<u64> {
        let timeout = self.log.default_timeout();
        bounded("get the beginning", timeout, self.log.inner.beginning())
    }

    pub fn ending(&self) -> Result<u64> {
        let timeout = self.log.default_timeout();
        bounded("get the ending", timeout, self.log.inner.ending())
    }

    pub fn catchup(&self, timeout: Duration) -> Result<u64> {
        bounded("catchup", timeout, self.log.inner.catchup())
    }
}

/// Java's `Log.Writer`.
pub struct Writer {
    inner: ZkWriter,
}

impl Writer {
    /// Mesos's Writer constructor: tries the election `retries` times, each for at most
    /// `timeout`; a writer that was never elected fails its appends.
    pub fn start(log: &Log, timeout: Duration, retries: i32) -> Writer {
        let writer = Writer {
            inner: ZkWriter::new(log.inner.clone()),
        };
        for _ in 0..retries.max(0) {
            match bounded("start the writer", timeout, writer.inner.start()) {
                Ok(_) => break,
                Err(e) => tracing::warn!(error = %e, "log writer election failed"),
            }
        }
        writer
    }

    pub fn append(&self, data: &[u8], timeout: Duration) -> Result<u64> {
        bounded("append", timeout, self.inner.append(data))
    }

    pub fn truncate(&self, to: u64, timeout: Duration) -> Result<u64> {
        bounded("truncate", timeout, self.inner.truncate(to))
    }
}
