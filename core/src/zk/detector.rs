//! Master detection: who leads, published on a `watch` channel. Shared by the agent, the
//! Rust clients, `remesos execute` and the JNI driver (`MasterDetector::parse(--master)`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use zookeeper_client as zkc;

use remesos_proto::v1;

use super::{Error, ZkUrl, decode_member, leader_of, master_address};

/// How long to wait before retrying a failed ZooKeeper connection or read.
const RETRY: Duration = Duration::from_millis(500);

/// Follows the contenders under `path` until the session ends: calls `publish` with the
/// leading member's name and MasterInfo, or `None` while nobody leads. Returns the error that
/// ended the session (expired, closed, auth failed).
pub(crate) async fn follow(
    client: &zkc::Client,
    path: &str,
    mut publish: impl FnMut(Option<(String, v1::MasterInfo)>),
) -> Error {
    loop {
        if is_terminal(client.state()) {
            return Error::Zk(zkc::Error::SessionExpired);
        }
        let (children, _, watcher) = match client.get_and_watch_children(path).await {
            Ok(r) => r,
            Err(zkc::Error::NoNode) => {
                publish(None);
                // Wait for the path to appear (the first master creates it).
                match client.check_and_watch_stat(path).await {
                    Ok((Some(_), _)) => continue,
                    Ok((None, watcher)) => {
                        let event = watcher.changed().await;
                        if is_terminal(event.session_state) {
                            return Error::Zk(zkc::Error::SessionExpired);
                        }
                        continue;
                    }
                    Err(e) if is_session_error(&e) => return Error::Zk(e),
                    Err(_) => {
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                }
            }
            Err(e) if is_session_error(&e) => return Error::Zk(e),
            Err(e) => {
                tracing::debug!(error = %e, path, "listing contenders failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        match leader_of(&children) {
            None => publish(None),
            Some(leader) => match client.get_data(&format!("{path}/{leader}")).await {
                Ok((data, _)) => match decode_member(leader, &data) {
                    Ok(info) => publish(Some((leader.to_string(), info))),
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring the leading contender");
                        publish(None);
                    }
                },
                // It went away between the two reads: look again.
                Err(zkc::Error::NoNode) => continue,
                Err(e) if is_session_error(&e) => return Error::Zk(e),
                Err(_) => {
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            },
        }
        let event = watcher.changed().await;
        if is_terminal(event.session_state) {
            return Error::Zk(zkc::Error::SessionExpired);
        }
    }
}

fn is_terminal(state: zkc::SessionState) -> bool {
    matches!(
        state,
        zkc::SessionState::Expired | zkc::SessionState::Closed | zkc::SessionState::AuthFailed
    )
}

fn is_session_error(e: &zkc::Error) -> bool {
    matches!(
        e,
        zkc::Error::SessionExpired
            | zkc::Error::SessionMoved
            | zkc::Error::ClientClosed
            | zkc::Error::AuthFailed
    )
}

/// Aborts the background task when the last clone of a detector goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A ZooKeeper master detector: one session, reopened when it expires, following the
/// contenders. Clones share the session (one connection per process, whatever the number
/// of users: ZooKeeper limits connections per client address, `maxClientCnxns`).
#[derive(Clone)]
pub struct ZkDetector {
    url: ZkUrl,
    leader: watch::Receiver<Option<v1::MasterInfo>>,
    _task: Arc<AbortOnDrop>,
}

impl ZkDetector {
    /// Starts detecting in the background (needs a tokio runtime).
    pub fn start(url: ZkUrl, session_timeout: Duration) -> ZkDetector {
        let (tx, rx) = watch::channel(None);
        let task_url = url.clone();
        let task = tokio::spawn(async move {
            loop {
                let client = match task_url.connect(session_timeout).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, servers = %task_url.servers, "cannot reach ZooKeeper; retrying");
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                };
                let ended = follow(&client, &task_url.path, |leader| {
                    let info = leader.map(|(_, info)| info);
                    tx.send_if_modified(|current: &mut Option<v1::MasterInfo>| {
                        let changed = current.as_ref().map(|i| &i.id) != info.as_ref().map(|i| &i.id);
                        if changed {
                            match &info {
                                Some(i) => tracing::info!(leader = %master_address(i), master_id = %i.id, "detected a new leading master"),
                                None => tracing::warn!("no leading master detected"),
                            }
                            *current = info.clone();
                        }
                        changed
                    });
                })
                .await;
                tracing::warn!(error = %ended, "ZooKeeper session ended; opening a new one");
                if tx.is_closed() {
                    return;
                }
            }
        });
        ZkDetector {
            url,
            leader: rx,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    pub fn url(&self) -> &ZkUrl {
        &self.url
    }

    pub fn subscribe(&self) -> watch::Receiver<Option<v1::MasterInfo>> {
        self.leader.clone()
    }
}

/// Where the leading master is, from any form of Mesos's `--master`: `host:port`,
/// `master@host:port`, `zk://...` or `file:///path` holding one of those.
#[derive(Clone)]
pub enum MasterDetector {
    /// A fixed address (standalone master).
    Fixed(String),
    Zk(ZkDetector),
}

impl From<String> for MasterDetector {
    fn from(address: String) -> Self {
        MasterDetector::Fixed(address)
    }
}

impl MasterDetector {
    /// Parses `--master`; a `zk://` URL starts a detector (call inside a tokio runtime),
    /// using Mesos's default session timeout.
    pub fn parse(text: &str) -> Result<MasterDetector, String> {
        Self::parse_with_timeout(text, super::DEFAULT_SESSION_TIMEOUT)
    }

    pub fn parse_with_timeout(
        text: &str,
        session_timeout: Duration,
    ) -> Result<MasterDetector, String> {
        let text = text.trim();
        if let Some(path) = text.strip_prefix("file://") {
            let contents = std::fs::read_to_string(path)
                .map_err(|e| format!("failed to read master file '{path}': {e}"))?;
            return Self::parse_with_timeout(&contents, session_timeout);
        }
        if text.starts_with("zk://") {
            let url = ZkUrl::parse(text).map_err(|e| e.to_string())?;
            return Ok(MasterDetector::Zk(ZkDetector::start(url, session_timeout)));
        }
        let address = text.strip_prefix("master@").unwrap_or(text);
        if address
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .is_none()
        {
            return Err(format!(
                "failed to parse master '{text}': expected host:port, zk:// or file://"
            ));
        }
        Ok(MasterDetector::Fixed(address.to_string()))
    }

    /// The leader's `host:port` now, if one is known.
    pub fn current(&self) -> Option<String> {
        match self {
            MasterDetector::Fixed(a) => Some(a.clone()),
            MasterDetector::Zk(d) => d.leader.borrow().as_ref().map(master_address),
        }
    }

    /// The leader's `host:port`, waiting until one is elected.
    pub async fn leader(&self) -> String {
        match self {
            MasterDetector::Fixed(a) => a.clone(),
            MasterDetector::Zk(d) => {
                let mut rx = d.leader.clone();
                loop {
                    if let Some(info) = rx.borrow_and_update().as_ref() {
                        return master_address(info);
                    }
                    if rx.changed().await.is_err() {
                        // The detector task ended (runtime shutting down): wait forever
                        // rather than spin; callers race this against their own shutdown.
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }

    /// Like [`leader`](Self::leader) with a deadline.
    pub async fn leader_within(&self, timeout: Duration) -> Option<String> {
        tokio::time::timeout(timeout, self.leader()).await.ok()
    }

    /// Changes of the leader's MasterInfo (`None` while nobody leads); a fixed address
    /// never changes.
    pub fn subscribe(&self) -> Option<watch::Receiver<Option<v1::MasterInfo>>> {
        match self {
            MasterDetector::Fixed(_) => None,
            MasterDetector::Zk(d) => Some(d.subscribe()),
        }
    }

    /// Resolves when the detected leader differs from `address` (never, for a fixed one).
    pub async fn changed_from(&self, address: &str) {
        let Some(mut rx) = self.subscribe() else {
            return std::future::pending().await;
        };
        loop {
            let now = rx.borrow_and_update().as_ref().map(master_address);
            if now.as_deref() != Some(address) && now.is_some() {
                return;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_forms_of_master() {
        for (text, want) in [
            ("127.0.0.1:5050", "127.0.0.1:5050"),
            ("master@10.0.0.1:5050", "10.0.0.1:5050"),
            (" host:1 ", "host:1"),
        ] {
            match MasterDetector::parse(text).unwrap() {
                MasterDetector::Fixed(a) => assert_eq!(a, want),
                MasterDetector::Zk(_) => panic!("{text} is not zk"),
            }
        }
        assert!(MasterDetector::parse("nohost").is_err());
        assert!(MasterDetector::parse("file:///nonexistent/remesos-master").is_err());
    }
}
