//! Helpers for the bounded queues of the daemons' actors (DESIGN.md §3: every queue is
//! bounded, with its overflow policy written where it is created).

use tokio::sync::mpsc;

/// Queues `item` on `tx` from where nothing can wait (a `Drop`, a sync function): at once
/// when the queue has room, otherwise from a task that waits for room. For notices that
/// must not be lost and happen once per connection or process, which bounds the waiting
/// tasks. A closed queue (its actor ended) drops the notice; so does a thread without a
/// tokio runtime.
pub fn send_or_wait<T: Send + 'static>(tx: &mpsc::Sender<T>, item: T) {
    match tx.try_send(item) {
        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        Err(mpsc::error::TrySendError::Full(item)) => {
            let tx = tx.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = tx.send(item).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notice sent while the queue is full is not lost: it arrives once there is room.
    #[tokio::test]
    async fn a_notice_to_a_full_queue_arrives_once_there_is_room() {
        let (tx, mut rx) = mpsc::channel(1);
        send_or_wait(&tx, 1);
        send_or_wait(&tx, 2);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
    }
}
