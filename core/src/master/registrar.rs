//! The registrar: the master's writer of the durable registry (Mesos's
//! `src/master/registrar.cpp`). It batches the operations the master decides, applies them
//! to its image, makes them durable through a [`RegistryStore`] and then answers each
//! operation's waiter. The records, the operations and the stores are `crate::registry`'s;
//! this task lives with the master because, as in Mesos, only the master writes the
//! registry and the batching serves the master's reply ids.
//!
//! ```text
//!  Master (sync)  --Effect::Registry { op, reply }-->  runtime  --submit(op, done)-->  registrar task
//!                                                                                      batches queued ops,
//!       Master::registry_done(reply, result)  <--  runtime  <--  done(result)  <----  writes them, answers
//! ```
//!
//! Acknowledgement: operator writes (weights, quota, maintenance, MARK_AGENT_GONE) are
//! answered after their operation is durable, and an agent's session is held until its
//! admission is (the master decides that: `master/admission.rs`). Other writes (unreachable
//! marks, registry GC) are not waited for.

use tokio::sync::mpsc;

use crate::registry::{Operation, Registry, RegistryError, RegistryStore};

/// Told once whether an operation's batch became durable; called on the registrar's task
/// (or at once by [`RegistrarHandle::submit`] when the registrar has stopped).
pub type Done = Box<dyn FnOnce(Result<(), RegistryError>) + Send>;

/// The most operations written in one batch.
const MAX_BATCH: usize = 4096;

/// How long the registrar waits between attempts at a failed write.
const RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// A handle to the registrar task.
#[derive(Clone)]
pub struct RegistrarHandle {
    /// Unbounded: the master is the only sender and submits at most one operation per
    /// command it handles, so the master's own inbox bounds what waits here.
    tx: mpsc::UnboundedSender<(Operation, Option<Done>)>,
}

impl RegistrarHandle {
    /// Queues `op`; `done` hears whether it became durable.
    pub fn submit(&self, op: Operation, done: Option<Done>) {
        if let Err(mpsc::error::SendError((_, Some(done)))) = self.tx.send((op, done)) {
            done(Err(RegistryError::Stopped));
        }
    }
}

/// Starts the registrar over `store`, whose contents were loaded as `image`. A write is
/// retried for up to `store_timeout` (`--registry_store_timeout`) before it fails.
pub fn spawn(
    mut store: Box<dyn RegistryStore>,
    mut image: Registry,
    store_timeout: std::time::Duration,
) -> RegistrarHandle {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Operation, Option<Done>)>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            let (ops, waiters): (Vec<Operation>, Vec<Option<Done>>) = batch.into_iter().unzip();
            // Retry through short outages (a ZooKeeper restart) for up to Mesos's
            // --registry_store_timeout; every store's writes are idempotent.
            let deadline = tokio::time::Instant::now() + store_timeout;
            let result = loop {
                match store.store(&image, &ops).await {
                    Ok(()) => break Ok(()),
                    Err(e) if tokio::time::Instant::now() < deadline => {
                        tracing::warn!(error = %e, "registry write failed; retrying");
                        tokio::time::sleep(RETRY_INTERVAL).await;
                    }
                    Err(e) => break Err(e),
                }
            };
            match &result {
                Ok(()) => {
                    for op in &ops {
                        image.apply(op);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, operations = ops.len(), "registry write failed")
                }
            }
            for done in waiters.into_iter().flatten() {
                done(result.clone());
            }
        }
    });
    RegistrarHandle { tx }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{AgentRecord, FileStore, Maintenance, test_agent_info as info};
    use remesos_proto::v1;
    use tokio::sync::oneshot;

    fn maintenance(hosts: &[&str], mode: v1::machine_info::Mode) -> Maintenance {
        let ids: Vec<v1::MachineId> = hosts
            .iter()
            .map(|h| v1::MachineId {
                hostname: Some(h.to_string()),
                ip: Some("10.0.0.1".into()),
            })
            .collect();
        Maintenance {
            schedule: Some(v1::maintenance::Schedule {
                windows: vec![v1::maintenance::Window {
                    machine_ids: ids.clone(),
                    unavailability: v1::Unavailability {
                        start: v1::TimeInfo { nanoseconds: 42 },
                        duration: None,
                    },
                }],
            }),
            machines: ids
                .into_iter()
                .map(|id| v1::MachineInfo {
                    id,
                    mode: Some(mode as i32),
                    unavailability: None,
                })
                .collect(),
        }
    }

    /// Submits `op` with a waiter that forwards to a oneshot.
    fn submit(
        registrar: &RegistrarHandle,
        op: Operation,
    ) -> oneshot::Receiver<Result<(), RegistryError>> {
        let (tx, rx) = oneshot::channel();
        registrar.submit(
            op,
            Some(Box::new(move |result| {
                let _ = tx.send(result);
            })),
        );
        rx
    }

    /// Maintenance and GC removals written through the registrar task survive a restart,
    /// from the log and from a compacted snapshot.
    #[tokio::test]
    async fn maintenance_and_pruned_agents_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("remesos-registry-{}", uuid::Uuid::new_v4()));
        let mut store = FileStore::open(&dir).unwrap();
        let image = store.load().await.unwrap();
        let registrar = spawn(Box::new(store), image, std::time::Duration::from_secs(1));
        let down = maintenance(&["h1", "h2"], v1::machine_info::Mode::Down);
        let ops = [
            Operation::agent("gone", &info("h1"), AgentRecord::GONE, 3.0),
            Operation::agent("old", &info("h2"), AgentRecord::UNREACHABLE, 1.0),
            Operation::maintenance(maintenance(&["h1"], v1::machine_info::Mode::Draining)),
            Operation::maintenance(down.clone()),
            Operation::remove_agent("old"),
        ];
        let mut acks = Vec::new();
        for op in ops {
            acks.push(submit(&registrar, op));
        }
        for ack in acks {
            ack.await.unwrap().unwrap();
        }
        drop(registrar);

        let mut store = FileStore::open(&dir).unwrap();
        let recovered = store.load().await.unwrap();
        assert_eq!(recovered.maintenance, down);
        assert_eq!(
            recovered.agents.keys().collect::<Vec<_>>(),
            vec!["gone"],
            "the pruned agent stays pruned"
        );
        assert_eq!(recovered.agents["gone"].state, AgentRecord::GONE);
        store.compact(&recovered).unwrap();
        drop(store);
        let mut store = FileStore::open(&dir).unwrap();
        assert_eq!(store.load().await.unwrap(), recovered);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
