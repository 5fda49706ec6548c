//! State semantics (`src/state/state.hpp`) on the in-memory storage: fetch creates, store
//! swaps by uuid, expunge compares the uuid, names lists; and the Entry wire format.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;

use super::memory::MemoryStorage;
use super::*;

fn state() -> State {
    State::new(Arc::new(MemoryStorage::new()))
}

fn block<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn fetch_of_an_unknown_name_is_a_new_empty_variable_that_is_not_stored() {
    block(async {
        let state = state();
        let v = state.fetch("slaves").await.unwrap();
        assert_eq!(v.name(), "slaves");
        assert!(v.value().is_empty());
        // Fetching does not store: names stay empty and a second fetch has another uuid.
        assert!(state.names().await.unwrap().is_empty());
        assert_ne!(state.fetch("slaves").await.unwrap().uuid(), v.uuid());
    });
}

#[test]
fn store_swaps_by_uuid_and_a_stale_variable_gets_none() {
    block(async {
        let state = state();
        let v = state.fetch("a").await.unwrap();
        let stored = state
            .store(&v.mutate(b"one".to_vec()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.value(), b"one");
        assert_ne!(stored.uuid(), v.uuid(), "every store moves the uuid on");
        // The first variable is stale now: compare-and-swap refuses it, nothing changes.
        assert_eq!(state.store(&v.mutate(b"two".to_vec())).await.unwrap(), None);
        assert_eq!(state.fetch("a").await.unwrap().value(), b"one");
        // Storing the same value again still swaps (Mesos does not compare values).
        let again = state.store(&stored).await.unwrap().unwrap();
        assert_ne!(again.uuid(), stored.uuid());
        assert_eq!(state.store(&stored).await.unwrap(), None);
    });
}

#[test]
fn of_two_writers_from_one_fetch_exactly_one_wins() {
    block(async {
        let state = state();
        let v = state.fetch("x").await.unwrap();
        let a = state.store(&v.mutate(b"a".to_vec())).await.unwrap();
        let b = state.store(&v.mutate(b"b".to_vec())).await.unwrap();
        assert!(a.is_some() && b.is_none());
        assert_eq!(state.fetch("x").await.unwrap().value(), b"a");
    });
}

#[test]
fn expunge_compares_the_uuid_and_names_lists_what_is_stored() {
    block(async {
        let state = state();
        let a = state.fetch("a").await.unwrap();
        let a = state
            .store(&a.mutate(b"1".to_vec()))
            .await
            .unwrap()
            .unwrap();
        let b = state.fetch("b").await.unwrap();
        let b1 = state
            .store(&b.mutate(b"2".to_vec()))
            .await
            .unwrap()
            .unwrap();
        let _b2 = state
            .store(&b1.mutate(b"3".to_vec()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.names().await.unwrap(), vec!["a", "b"]);
        // A stale variable does not expunge; a never-stored one neither.
        assert!(!state.expunge(&b1).await.unwrap());
        assert!(
            !state
                .expunge(&state.fetch("c").await.unwrap())
                .await
                .unwrap()
        );
        assert!(state.expunge(&a).await.unwrap());
        assert!(!state.expunge(&a).await.unwrap(), "already gone");
        assert_eq!(state.names().await.unwrap(), vec!["b"]);
        // After an expunge, the name can be stored again from a fresh fetch.
        let a = state.fetch("a").await.unwrap();
        assert!(
            state
                .store(&a.mutate(b"4".to_vec()))
                .await
                .unwrap()
                .is_some()
        );
    });
}

#[test]
fn entries_are_mesos_protobuf_and_anything_else_is_refused() {
    let entry = Entry {
        name: "n".to_string(),
        uuid: Uuid::from_bytes([7; 16]),
        value: Vec::new(),
    };
    let bytes = entry.encode();
    // name=1 "n", uuid=2 (16 bytes), value=3 empty but present, as C++ writes it.
    let mut expected = vec![0x0a, 1, b'n', 0x12, 16];
    expected.extend([7; 16]);
    expected.extend([0x1a, 0]);
    assert_eq!(bytes, expected);
    assert_eq!(Entry::decode(&bytes).unwrap(), entry);
    // Not an Entry: garbage, an empty znode, a missing required field, a short uuid.
    assert_eq!(Entry::decode(b"\xff\xff\xff"), Err(StateError::Deserialize));
    assert_eq!(Entry::decode(b""), Err(StateError::Deserialize));
    assert_eq!(
        Entry::decode(&bytes[..bytes.len() - 2]),
        Err(StateError::Deserialize)
    );
    let short = EntryWire {
        name: Some("n".into()),
        uuid: Some(vec![1, 2]),
        value: Some(vec![]),
    };
    assert_eq!(
        Entry::decode(&short.encode_to_vec()),
        Err(StateError::Deserialize)
    );
}

#[test]
fn a_pending_operation_is_waited_on_cancelled_and_timed_out() {
    let ready = Pending::spawn(async { Ok(5) });
    assert_eq!(ready.wait(), Outcome::Ready(5));
    assert!(ready.is_done());
    let failed = Pending::<i32>::spawn(async { Err(StateError::TooBig) });
    assert_eq!(
        failed.wait(),
        Outcome::Failed("Serialized data is too big (> 1 MB)".to_string())
    );
    let stuck = Pending::<i32>::spawn(std::future::pending());
    assert!(!stuck.is_done());
    assert_eq!(stuck.wait_timeout(Duration::from_millis(20)), None);
    stuck.cancel();
    assert!(stuck.is_done());
    assert_eq!(stuck.wait(), Outcome::Discarded);
    // Cancelling a finished operation keeps its result.
    ready.cancel();
    assert_eq!(ready.wait(), Outcome::Ready(5));
}
