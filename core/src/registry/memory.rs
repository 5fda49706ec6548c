//! The in-memory registry store (`--registry=in_memory`, or a master without `--work_dir`;
//! Mesos's `src/state/in_memory.cpp`): the image lives as long as the process, so a
//! restarted master starts from an empty registry. Writes never fail.

use super::{Operation, Registry, RegistryStore, StoreFuture};

/// The registry kept in the master's memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    registry: Registry,
}

impl MemoryStore {
    /// A store that holds `registry` already (tests recover a master from it).
    pub fn with(registry: Registry) -> MemoryStore {
        MemoryStore { registry }
    }

    /// What the store holds.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl RegistryStore for MemoryStore {
    fn describe(&self) -> String {
        "in memory".to_string()
    }

    fn load(&mut self) -> StoreFuture<'_, Registry> {
        Box::pin(std::future::ready(Ok(self.registry.clone())))
    }

    fn store<'a>(&'a mut self, _before: &'a Registry, ops: &'a [Operation]) -> StoreFuture<'a, ()> {
        for op in ops {
            self.registry.apply(op);
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AgentRecord, Roles};
    use super::*;

    /// The in-memory store keeps what was stored for the next load (of the same process).
    #[tokio::test]
    async fn memory_store_loads_what_it_stored() {
        let mut store = MemoryStore::default();
        assert_eq!(store.load().await.unwrap(), Registry::default());
        let ops = [
            Operation::agent("a1", &Default::default(), AgentRecord::ADMITTED, 0.0),
            Operation::roles(Roles::default()),
            Operation::remove_agent("a1"),
            Operation::agent("a2", &Default::default(), AgentRecord::GONE, 2.0),
        ];
        store.store(&Registry::default(), &ops).await.unwrap();
        let loaded = store.load().await.unwrap();
        assert_eq!(loaded.agents.keys().collect::<Vec<_>>(), vec!["a2"]);
        assert_eq!(&loaded, store.registry());
        assert_eq!(store.describe(), "in memory");
    }
}
