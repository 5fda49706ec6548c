//! `ZooKeeperState`'s storage, laid out as Mesos's `ZooKeeperStorage`
//! (`src/state/zookeeper.cpp`) lays it out, so that Apache's libmesos and ours read each
//! other's state:
//!
//! ```text
//! <znode>                 persistent, empty; created with its ancestors on the first store
//! <znode>/<name>          one persistent znode per variable: the serialized Entry
//!                         {name, uuid, value}; at most 1 MB (MAX_ZOOKEEPER_ENTRY_BYTES)
//! ```
//!
//! A store reads `<znode>/<name>`, compares the stored Entry's uuid with the variable's,
//! then writes with the znode's `stat.version`, so two writers racing from one fetch cannot
//! both win: the loser gets `BadVersion` (or `NodeExists` when both create) and `false`.
//! Expunge is the same with a versioned delete. With a scheme and credentials (`digest`,
//! `user:password`) the session authenticates first and creates znodes with Mesos's
//! `EVERYONE_READ_CREATOR_ALL`; without, with `OPEN_ACL_UNSAFE`.
//!
//! Where Mesos differs: Mesos queues an operation for as long as its session is not
//! connected, so `Future.get()` may block forever while ZooKeeper is down. Here an
//! operation that cannot get a connected session within the session timeout (twice) fails
//! with [`StateError::Unavailable`]: nothing hangs.

use std::future::Future;
use std::time::Duration;

use uuid::Uuid;
use zookeeper_client as zkc;

use super::{Entry, MAX_ZOOKEEPER_ENTRY_BYTES, Result, StateError, Storage, StorageFuture};

/// Attempts of one operation when the session is lost or cannot be had.
const ATTEMPTS: usize = 2;
/// Pause before another attempt.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

pub struct ZkStorage {
    /// `host1:port1,host2:port2` (an optional chroot suffix as ZooKeeper's own clients take it).
    servers: String,
    session_timeout: Duration,
    /// Absolute, without a trailing `/` (Mesos strips it).
    znode: String,
    /// `(scheme, credentials)` given to ZooKeeper's `addAuth` before anything else.
    auth: Option<(String, Vec<u8>)>,
    /// The current session; replaced when it expires. A tokio mutex: concurrent operations
    /// wait for one connect rather than each opening a session; held only while connecting.
    session: tokio::sync::Mutex<Option<zkc::Client>>,
}

/// Why one attempt of an operation ended without an answer.
enum Failure {
    /// The session was lost or could not be had: try again with a new one.
    Retry(String),
    Fail(StateError),
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Failure {
        Failure::Fail(e)
    }
}

/// Sorts a ZooKeeper error of `action` on `path`: session trouble is retried, anything
/// else is the operation's error in Mesos's words.
fn failed(action: &'static str, path: &str, error: zkc::Error) -> Failure {
    match error {
        zkc::Error::ConnectionLoss
        | zkc::Error::SessionExpired
        | zkc::Error::Timeout
        | zkc::Error::ClientClosed
        | zkc::Error::NoHosts
        | zkc::Error::SessionMoved => Failure::Retry(error.to_string()),
        error => Failure::Fail(StateError::ZooKeeper {
            action,
            path: path.to_string(),
            reason: error.to_string(),
        }),
    }
}

impl ZkStorage {
    /// No session is opened until the first operation.
    pub fn new(
        servers: &str,
        session_timeout: Duration,
        znode: &str,
        auth: Option<(String, Vec<u8>)>,
    ) -> ZkStorage {
        ZkStorage {
            servers: servers.to_string(),
            session_timeout,
            znode: znode.trim_end_matches('/').to_string(),
            auth,
            session: tokio::sync::Mutex::new(None),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.znode)
    }

    /// The current session, connecting when there is none or it has ended.
    async fn client(&self) -> std::result::Result<zkc::Client, Failure> {
        let mut session = self.session.lock().await;
        if let Some(client) = session.as_ref()
            && !client.state().is_terminated()
        {
            return Ok(client.clone());
        }
        *session = None;
        let mut connector = zkc::Client::connector().with_session_timeout(self.session_timeout);
        if let Some((scheme, credentials)) = &self.auth {
            connector = connector.with_auth(scheme, credentials);
        }
        // The crate gives up after about a session timeout; the outer bound guards that.
        let bound = self.session_timeout + Duration::from_secs(1);
        let client = match tokio::time::timeout(bound, connector.connect(&self.servers)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(Failure::Retry(e.to_string())),
            Err(_) => return Err(Failure::Retry("connecting timed out".to_string())),
        };
        *session = Some(client.clone());
        Ok(client)
    }

    /// Runs `attempt` with a session, again with a new session when the first is lost.
    async fn run<T, F, Fut>(&self, attempt: F) -> Result<T>
    where
        F: Fn(zkc::Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, Failure>>,
    {
        let mut reason = String::new();
        for n in 0..ATTEMPTS {
            if n > 0 {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            let outcome = match self.client().await {
                Ok(client) => attempt(client).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(value) => return Ok(value),
                Err(Failure::Fail(e)) => return Err(e),
                Err(Failure::Retry(why)) => {
                    tracing::debug!(servers = %self.servers, reason = %why, "ZooKeeper state operation will be retried");
                    reason = why;
                }
            }
        }
        Err(StateError::Unavailable {
            servers: self.servers.clone(),
            reason,
        })
    }

    /// The stored entry at `path` with its znode version, or `None`.
    async fn read(
        client: &zkc::Client,
        path: &str,
    ) -> std::result::Result<Option<(Entry, i32)>, Failure> {
        match client.get_data(path).await {
            Ok((bytes, stat)) => Ok(Some((Entry::decode(&bytes)?, stat.version))),
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(failed("get", path, e)),
        }
    }
}

impl Storage for ZkStorage {
    fn get<'a>(&'a self, name: &'a str) -> StorageFuture<'a, Option<Entry>> {
        Box::pin(self.run(move |client| async move {
            let path = self.path(name);
            Ok(Self::read(&client, &path).await?.map(|(entry, _)| entry))
        }))
    }

    fn set<'a>(&'a self, entry: &'a Entry, expected: Uuid) -> StorageFuture<'a, bool> {
        Box::pin(async move {
            let data = entry.encode();
            if data.len() > MAX_ZOOKEEPER_ENTRY_BYTES {
                return Err(StateError::TooBig);
            }
            let data = &data;
            self.run(move |client| async move {
                let path = self.path(&entry.name);
                let acls = crate::zk::acls(self.auth.is_some());
                let options = zkc::CreateMode::Persistent.with_acls(acls);
                match Self::read(&client, &path).await? {
                    None => {
                        client
                            .mkdir(&self.znode, &options)
                            .await
                            .map_err(|e| failed("create", &self.znode, e))?;
                        match client.create(&path, data, &options).await {
                            Ok(_) => Ok(true),
                            // Lost a race with another writer.
                            Err(zkc::Error::NodeExists) => Ok(false),
                            Err(e) => Err(failed("create", &path, e)),
                        }
                    }
                    // Our own earlier attempt applied and its answer was lost (`run`
                    // retries after a connection loss): the new uuid is ours alone.
                    Some((current, _)) if current.uuid == entry.uuid => Ok(true),
                    Some((current, _)) if current.uuid != expected => Ok(false),
                    Some((_, version)) => match client.set_data(&path, data, Some(version)).await {
                        Ok(_) => Ok(true),
                        Err(zkc::Error::BadVersion | zkc::Error::NoNode) => Ok(false),
                        Err(e) => Err(failed("set", &path, e)),
                    },
                }
            })
            .await
        })
    }

    fn expunge<'a>(&'a self, entry: &'a Entry) -> StorageFuture<'a, bool> {
        Box::pin(self.run(move |client| async move {
            let path = self.path(&entry.name);
            match Self::read(&client, &path).await? {
                None => Ok(false),
                Some((current, _)) if current.uuid != entry.uuid => Ok(false),
                Some((_, version)) => match client.delete(&path, Some(version)).await {
                    Ok(()) => Ok(true),
                    Err(zkc::Error::BadVersion | zkc::Error::NoNode) => Ok(false),
                    Err(e) => Err(failed("remove", &path, e)),
                },
            }
        }))
    }

    fn names(&self) -> StorageFuture<'_, Vec<String>> {
        Box::pin(self.run(move |client| async move {
            client
                .list_children(&self.znode)
                .await
                .map_err(|e| failed("get children of", &self.znode, e))
        }))
    }
}
