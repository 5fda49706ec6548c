//! The registry in ZooKeeper (`--zk`), laid out for 50,000 agents (Mesos keeps its registry
//! in the replicated log; `src/state/zookeeper.cpp` is its ZooKeeper storage). It shares the
//! master's election session (`crate::zk::election`).
//!
//! ```text
//! <path>_registry/version             empty; every write touches it (its stat version counts them)
//! <path>_registry/roles               Roles (weights + quota), protobuf
//! <path>_registry/maintenance         Maintenance (schedule + machine modes), protobuf;
//!                                     at most MAX_MAINTENANCE_BYTES (512 KiB), refused above
//! <path>_registry/agents/00 .. ff     256 buckets: FNV-1a(agent id) mod 256, two hex digits
//! <path>_registry/agents/<bb>/<id>    AgentRecord (AgentInfo + admitted/unreachable/gone), protobuf
//! ```
//!
//! ZooKeeper caps a znode (and a request or response) at about 1 MB (`jute.maxbuffer`), so
//! nothing grows with the cluster in one znode: an agent is one small znode, the
//! maintenance schedule is capped by the master at [`MAX_MAINTENANCE_BYTES`] (an operator
//! sending a larger schedule gets an error, the registry is untouched), and the
//! buckets keep every children list short (~200 names per bucket at 50,000 agents, where
//! a flat directory's listing would pass 1 MB). A batch of operations is written with
//! multi-ops in chunks of at most [`MAX_MULTI_OPS`] operations and [`MAX_MULTI_BYTES`]
//! bytes; each chunk is atomic. Operations are independent upserts and removals, so a
//! batch that is cut between chunks by a crash leaves every agent in a state it really had.
//! Recovery lists the 256 buckets and reads the agents with pipelined requests.
//!
//! Warm standby: a standby master reads the registry ahead of time ([`ZkStore::keep_warm`])
//! and again after each change (watching `version`, settling [`WARM_SETTLE`] first). Once
//! elected it syncs and compares `version` with the one its copy was read at: equal (the
//! old leader's session has expired, so nothing more can be written), the copy is the
//! registry and recovery costs one round trip; otherwise it reads everything.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::future::join_all;
use prost::Message;
use zookeeper_client as zkc;

use super::{
    AgentRecord, MAX_MAINTENANCE_BYTES, Operation, Registry, RegistryError, RegistryStore, Result,
    StoreFuture, fnv1a,
};
use crate::zk::ZkUrl;

pub const MAX_MULTI_OPS: usize = 1000;
pub const MAX_MULTI_BYTES: usize = 512 * 1024;
const BUCKETS: u64 = 256;
/// Reads in flight at once during recovery.
const READ_WINDOW: usize = 2000;
/// A warm standby rereads the registry once writes have paused this long.
pub const WARM_SETTLE: Duration = Duration::from_millis(500);

pub struct ZkStore {
    client: zkc::Client,
    url: ZkUrl,
    base: String,
    /// Whether the roles znode exists.
    roles_exist: bool,
    /// Whether the buckets and the version znode are known to exist.
    laid_out: bool,
    /// A copy read while standing by, with the `version` znode's version it was read at.
    preloaded: Option<(i32, Registry)>,
    /// Whether the maintenance znode exists.
    maintenance_exists: bool,
}

fn bucket(agent_id: &str) -> String {
    format!("{:02x}", fnv1a(agent_id.as_bytes()) % BUCKETS)
}

impl ZkStore {
    /// Uses `client` (the master's election session).
    pub fn new(client: zkc::Client, url: &ZkUrl) -> ZkStore {
        ZkStore {
            client,
            url: url.clone(),
            base: url.registry_path(),
            roles_exist: false,
            laid_out: false,
            preloaded: None,
            maintenance_exists: false,
        }
    }

    fn version_path(&self) -> String {
        format!("{}/version", self.base)
    }

    /// While standing by: keeps a current copy of the registry for [`RegistryStore::load`].
    /// Runs until dropped.
    pub async fn keep_warm(&mut self) {
        loop {
            match self.preload().await {
                Ok(changed) => {
                    let _ = changed.changed().await;
                    tokio::time::sleep(WARM_SETTLE).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "standby could not read the registry ahead; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn preload(&mut self) -> Result<zkc::OneshotWatcher> {
        self.lay_out().await?;
        let (_, stat, changed) = self.client.get_and_watch_data(&self.version_path()).await?;
        let registry = self.read_all().await?;
        tracing::debug!(
            agents = registry.agents.len(),
            version = stat.version,
            "standby read the registry ahead"
        );
        self.preloaded = Some((stat.version, registry));
        Ok(changed)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn agent_path(&self, agent_id: &str) -> String {
        format!("{}/agents/{}/{agent_id}", self.base, bucket(agent_id))
    }

    /// The registry, for a newly elected master: the standby's copy when nothing was
    /// written since it was read, otherwise read in full.
    async fn load_now(&mut self) -> Result<Registry> {
        self.lay_out().await?;
        // Reads may be served by a lagging follower; sync first.
        self.client.sync(&self.version_path()).await?;
        let (_, stat) = self.client.get_data(&self.version_path()).await?;
        if let Some((version, registry)) = self.preloaded.take() {
            if version == stat.version {
                tracing::info!(agents = registry.agents.len(), base = %self.base, "the registry read while standing by is current");
                return Ok(registry);
            }
            tracing::info!(
                read_at = version,
                now = stat.version,
                "the registry changed since the standby read it; reading it again"
            );
        }
        self.read_all().await
    }

    /// Creates the buckets and the version znode that do not exist yet (the first master).
    async fn lay_out(&mut self) -> Result<()> {
        if self.laid_out {
            return Ok(());
        }
        let dir = zkc::CreateMode::Persistent.with_acls(self.url.acls());
        self.client
            .mkdir(&format!("{}/agents", self.base), &dir)
            .await?;
        let buckets: Vec<String> = (0..BUCKETS)
            .map(|b| format!("{}/agents/{b:02x}", self.base))
            .collect();
        // Create the buckets that do not exist yet (the first master only).
        let existing: HashSet<String> = self
            .client
            .list_children(&format!("{}/agents", self.base))
            .await?
            .into_iter()
            .collect();
        let missing: Vec<&String> = buckets
            .iter()
            .filter(|p| !existing.contains(p.rsplit('/').next().unwrap_or_default()))
            .collect();
        let version = self.version_path();
        let creates = missing
            .iter()
            .map(|p| p.as_str())
            .chain(std::iter::once(version.as_str()))
            .map(|p| self.client.create(p, &[], &dir));
        for result in join_all(creates).await {
            match result {
                Ok(_) | Err(zkc::Error::NodeExists) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.laid_out = true;
        Ok(())
    }

    async fn read_all(&mut self) -> Result<Registry> {
        let buckets: Vec<String> = (0..BUCKETS)
            .map(|b| format!("{}/agents/{b:02x}", self.base))
            .collect();
        let mut paths = Vec::new();
        for (bucket_path, children) in buckets
            .iter()
            .zip(join_all(buckets.iter().map(|p| self.client.list_children(p))).await)
        {
            for child in children? {
                paths.push((child.clone(), format!("{bucket_path}/{child}")));
            }
        }
        let mut registry = Registry::default();
        for window in paths.chunks(READ_WINDOW) {
            let reads = join_all(window.iter().map(|(_, p)| self.client.get_data(p))).await;
            for ((id, path), read) in window.iter().zip(reads) {
                match read {
                    Ok((data, _)) => match AgentRecord::decode(data.as_slice()) {
                        Ok(record) => {
                            registry.agents.insert(id.clone(), record);
                        }
                        Err(e) => {
                            return Err(RegistryError::CorruptZnode {
                                path: path.clone(),
                                source: e,
                            });
                        }
                    },
                    Err(zkc::Error::NoNode) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if let Some(roles) = self.read_record(&format!("{}/roles", self.base)).await? {
            registry.roles = roles;
            self.roles_exist = true;
        }
        if let Some(maintenance) = self
            .read_record(&format!("{}/maintenance", self.base))
            .await?
        {
            registry.maintenance = maintenance;
            self.maintenance_exists = true;
        }
        tracing::info!(agents = registry.agents.len(), base = %self.base, "recovered the registry from ZooKeeper");
        Ok(registry)
    }

    /// The record in the znode `path`; `None` when the znode does not exist.
    async fn read_record<M: Message + Default>(&self, path: &str) -> Result<Option<M>> {
        match self.client.get_data(path).await {
            Ok((data, _)) => {
                M::decode(data.as_slice())
                    .map(Some)
                    .map_err(|source| RegistryError::CorruptZnode {
                        path: path.to_string(),
                        source,
                    })
            }
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `ops` (applied in order over `before`).
    async fn write(&mut self, before: &Registry, ops: &[Operation]) -> Result<()> {
        // Coalesce: the last operation on an agent decides its znode.
        let mut agents: BTreeMap<&str, Option<&AgentRecord>> = BTreeMap::new();
        let mut roles = None;
        let mut maintenance = None;
        for op in ops {
            if !op.agent_id.is_empty() {
                agents.insert(op.agent_id.as_str(), op.agent.as_ref());
            }
            if let Some(r) = &op.roles {
                roles = Some(r);
            }
            if let Some(m) = &op.maintenance {
                maintenance = Some(m);
            }
        }
        enum Write {
            Create(String, Vec<u8>),
            Set(String, Vec<u8>),
            Delete(String),
        }
        let mut writes = Vec::new();
        for (id, record) in agents {
            let path = self.agent_path(id);
            let existed = before.agents.contains_key(id);
            match (record, existed) {
                (Some(r), false) => writes.push(Write::Create(path, r.encode_to_vec())),
                (Some(r), true) => writes.push(Write::Set(path, r.encode_to_vec())),
                (None, true) => writes.push(Write::Delete(path)),
                (None, false) => {}
            }
        }
        if let Some(r) = roles {
            let path = format!("{}/roles", self.base);
            if self.roles_exist {
                writes.push(Write::Set(path, r.encode_to_vec()));
            } else {
                writes.push(Write::Create(path, r.encode_to_vec()));
            }
        }
        if let Some(m) = maintenance {
            let data = m.encode_to_vec();
            // The master refuses larger schedules before they get here; this guards the
            // znode limit should that ever change.
            if data.len() > MAX_MAINTENANCE_BYTES {
                return Err(RegistryError::TooLarge { size: data.len() });
            }
            let path = format!("{}/maintenance", self.base);
            if self.maintenance_exists {
                writes.push(Write::Set(path, data));
            } else {
                writes.push(Write::Create(path, data));
            }
        }
        let options = zkc::CreateMode::Persistent.with_acls(self.url.acls());
        let mut start = 0;
        while start < writes.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < writes.len() && end - start < MAX_MULTI_OPS {
                let size = match &writes[end] {
                    Write::Create(p, d) | Write::Set(p, d) => p.len() + d.len() + 64,
                    Write::Delete(p) => p.len() + 32,
                };
                if end > start && bytes + size > MAX_MULTI_BYTES {
                    break;
                }
                bytes += size;
                end += 1;
            }
            let chunk = &writes[start..end];
            let version = self.version_path();
            let mut multi = self.client.new_multi_writer();
            for w in chunk {
                match w {
                    Write::Create(p, d) => multi.add_create(p, d, &options)?,
                    Write::Set(p, d) => multi.add_set_data(p, d, None)?,
                    Write::Delete(p) => multi.add_delete(p, None)?,
                }
            }
            multi.add_set_data(&version, &[], None)?;
            if let Err(e) = multi.commit().await {
                // Our image and ZooKeeper disagree about some znode (another master wrote
                // it, or an earlier chunk half-failed): write one by one, tolerantly.
                tracing::debug!(error = %e, "registry multi-op failed; writing one by one");
                for w in chunk {
                    self.write_tolerantly(w_path(w), w_data(w), &options)
                        .await?;
                }
                self.write_tolerantly(&version, Some(&[]), &options).await?;
            }
            start = end;
        }
        if roles.is_some() {
            self.roles_exist = true;
        }
        if maintenance.is_some() {
            self.maintenance_exists = true;
        }
        return Ok(());

        fn w_path(w: &Write) -> &str {
            match w {
                Write::Create(p, _) | Write::Set(p, _) | Write::Delete(p) => p,
            }
        }
        fn w_data(w: &Write) -> Option<&[u8]> {
            match w {
                Write::Create(_, d) | Write::Set(_, d) => Some(d),
                Write::Delete(_) => None,
            }
        }
    }

    /// Create-or-set (`Some`) or delete-if-present (`None`).
    async fn write_tolerantly(
        &self,
        path: &str,
        data: Option<&[u8]>,
        options: &zkc::CreateOptions<'_>,
    ) -> Result<()> {
        match data {
            None => match self.client.delete(path, None).await {
                Ok(()) | Err(zkc::Error::NoNode) => Ok(()),
                Err(e) => Err(e.into()),
            },
            Some(d) => match self.client.create(path, d, options).await {
                Ok(_) => Ok(()),
                Err(zkc::Error::NodeExists) => {
                    self.client.set_data(path, d, None).await?;
                    Ok(())
                }
                Err(e) => Err(e.into()),
            },
        }
    }
}

impl RegistryStore for ZkStore {
    fn describe(&self) -> String {
        format!("zookeeper {}", self.base)
    }

    fn load(&mut self) -> StoreFuture<'_, Registry> {
        Box::pin(self.load_now())
    }

    fn store<'a>(&'a mut self, before: &'a Registry, ops: &'a [Operation]) -> StoreFuture<'a, ()> {
        Box::pin(self.write(before, ops))
    }
}
