//! `LevelDBState`'s storage: an embedded store in the directory the Java side names
//! (Mesos's `LevelDBStorage`, `src/state/leveldb.cpp`, keeps one LevelDB there; key = the
//! name, value = the serialized Entry). Here the directory holds one redb file,
//! `state.redb`, with the same key and value.
//!
//! Why redb: pure Rust (no C++ LevelDB to build and link into libmesos.so), maintained,
//! ACID with crash-safe commits (a store is durable when its future completes, as a LevelDB
//! `sync` write is), one dependency (libc) and one file. A LevelDB directory written by
//! Apache's libmesos is not read: the format differs (the ZooKeeper storage is the one
//! shared with Apache's library).
//!
//! Like LevelDB, the file is locked by the process that opens it: a second process opening
//! the same directory gets an error on every operation (Mesos's storage reports the open
//! error the same way, on each operation rather than in the constructor).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use uuid::Uuid;

use super::{Entry, StateError, Storage, StorageFuture};

const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");

/// The file inside the directory.
pub const FILE: &str = "state.redb";

pub struct LocalStorage {
    path: PathBuf,
    /// The open database, or why it could not be opened (reported by every operation).
    db: std::result::Result<Arc<redb::Database>, String>,
}

impl LocalStorage {
    /// Opens (creating) `<directory>/state.redb`.
    pub fn open(directory: &Path) -> LocalStorage {
        let db = Self::open_db(directory).map_err(|e| e.to_string());
        if let Err(reason) = &db {
            tracing::warn!(path = %directory.display(), %reason, "could not open the local state storage");
        }
        LocalStorage {
            path: directory.to_path_buf(),
            db,
        }
    }

    fn open_db(directory: &Path) -> std::result::Result<Arc<redb::Database>, redb::Error> {
        std::fs::create_dir_all(directory).map_err(redb::Error::Io)?;
        let db = redb::Database::create(directory.join(FILE))?;
        // Create the table once so that reads never meet a missing table.
        let txn = db.begin_write()?;
        txn.open_table(ENTRIES)?;
        txn.commit()?;
        Ok(Arc::new(db))
    }

    fn error(&self, e: impl Into<redb::Error>) -> StateError {
        StateError::Local {
            path: self.path.display().to_string(),
            reason: e.into().to_string(),
        }
    }

    /// Runs `f` on a blocking thread (redb's commits fsync).
    fn blocking<'a, T: Send + 'static>(
        &'a self,
        f: impl FnOnce(&redb::Database) -> std::result::Result<T, redb::Error> + Send + 'static,
    ) -> StorageFuture<'a, T> {
        Box::pin(async move {
            let db = match &self.db {
                Ok(db) => db.clone(),
                Err(reason) => {
                    return Err(StateError::Local {
                        path: self.path.display().to_string(),
                        reason: reason.clone(),
                    });
                }
            };
            match tokio::task::spawn_blocking(move || f(&db)).await {
                Ok(result) => result.map_err(|e| self.error(e)),
                Err(_) => Err(StateError::Abandoned),
            }
        })
    }
}

fn stored(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> std::result::Result<Option<std::result::Result<Entry, StateError>>, redb::Error> {
    Ok(table.get(name)?.map(|bytes| Entry::decode(bytes.value())))
}

/// A decoding error travels out of redb's closure inside this one.
fn decoded(
    entry: std::result::Result<Entry, StateError>,
) -> std::result::Result<Entry, redb::Error> {
    entry.map_err(|e| redb::Error::Corrupted(e.to_string()))
}

impl Storage for LocalStorage {
    fn get<'a>(&'a self, name: &'a str) -> StorageFuture<'a, Option<Entry>> {
        let name = name.to_string();
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(ENTRIES)?;
            stored(&table, &name)?.map(decoded).transpose()
        })
    }

    fn set<'a>(&'a self, entry: &'a Entry, expected: Uuid) -> StorageFuture<'a, bool> {
        let entry = entry.clone();
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let swapped = {
                let mut table = txn.open_table(ENTRIES)?;
                match stored(&table, &entry.name)?.map(decoded).transpose()? {
                    Some(current) if current.uuid != expected => false,
                    _ => {
                        table.insert(entry.name.as_str(), entry.encode().as_slice())?;
                        true
                    }
                }
            };
            if swapped {
                txn.commit()?;
            } else {
                txn.abort()?;
            }
            Ok(swapped)
        })
    }

    fn expunge<'a>(&'a self, entry: &'a Entry) -> StorageFuture<'a, bool> {
        let entry = entry.clone();
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let removed = {
                let mut table = txn.open_table(ENTRIES)?;
                match stored(&table, &entry.name)?.map(decoded).transpose()? {
                    Some(current) if current.uuid == entry.uuid => {
                        table.remove(entry.name.as_str())?;
                        true
                    }
                    _ => false,
                }
            };
            if removed {
                txn.commit()?;
            } else {
                txn.abort()?;
            }
            Ok(removed)
        })
    }

    fn names(&self) -> StorageFuture<'_, Vec<String>> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(ENTRIES)?;
            table
                .iter()?
                .map(|item| -> std::result::Result<String, redb::Error> {
                    Ok(item?.0.value().to_string())
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::State;
    use super::*;

    #[test]
    fn state_survives_reopening_and_a_second_opener_gets_errors() {
        let dir = std::env::temp_dir().join(format!("remesos-local-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            let state = State::new(Arc::new(LocalStorage::open(&dir)));
            let v = state.fetch("k").await.unwrap();
            let v = state
                .store(&v.mutate(b"v1".to_vec()))
                .await
                .unwrap()
                .unwrap();
            // While open, another opener of the directory fails on each operation.
            let other = State::new(Arc::new(LocalStorage::open(&dir)));
            assert!(matches!(
                other.fetch("k").await,
                Err(StateError::Local { .. })
            ));
            drop(state);
            let state = State::new(Arc::new(LocalStorage::open(&dir)));
            let again = state.fetch("k").await.unwrap();
            assert_eq!(again.value(), b"v1");
            assert_eq!(again.uuid(), v.uuid());
            assert_eq!(state.names().await.unwrap(), vec!["k"]);
            assert!(
                state
                    .store(&v.mutate(b"x".to_vec()))
                    .await
                    .unwrap()
                    .is_some()
            );
            assert!(!state.expunge(&again).await.unwrap(), "a stale variable");
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
