//! A socket's send queue, bounded both in messages and in bytes: a subscription selecting large fields
//! must not let one client that does not read hold `ws_send_buffer` times that much memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

pub(in crate::http::ws) enum Outgoing {
    Text(String),
    Close(u16, String),
}

/// Why a message was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::http::ws) enum NotQueued {
    /// The queue holds as many messages or bytes as allowed: the client does not read.
    Full,
    /// The socket's writer is gone.
    Closed,
}

/// The sending side, cloned into every subscription of the socket.
#[derive(Clone)]
pub(in crate::http::ws) struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// The writer's side: takes messages, and says when one has left (its bytes are free again).
pub(in crate::http::ws) struct Inbox {
    rx: mpsc::Receiver<Outgoing>,
    queued: Arc<AtomicUsize>,
}

pub(in crate::http::ws) fn outbox(messages: usize, max_bytes: usize) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::channel(messages.max(2));
    let queued = Arc::new(AtomicUsize::new(0));
    (
        Outbox {
            tx,
            queued: Arc::clone(&queued),
            max_bytes,
        },
        Inbox { rx, queued },
    )
}

impl Outbox {
    /// Queues a text message unless the queue is full in messages or bytes; a message larger than the
    /// byte budget still goes when nothing else waits (it was already limited when it was produced).
    pub fn text(&self, text: String) -> Result<(), NotQueued> {
        let len = text.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before > 0 && before.saturating_add(len) > self.max_bytes {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(NotQueued::Full);
        }
        match self.tx.try_send(Outgoing::Text(text)) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.queued.fetch_sub(len, Ordering::AcqRel);
                Err(match err {
                    mpsc::error::TrySendError::Full(_) => NotQueued::Full,
                    mpsc::error::TrySendError::Closed(_) => NotQueued::Closed,
                })
            }
        }
    }

    /// Queues the close frame (whatever the bytes queued; not when the queue is full of messages).
    pub fn close(&self, code: u16, reason: String) {
        let _ = self.tx.try_send(Outgoing::Close(code, reason));
    }
}

impl Inbox {
    pub async fn recv(&mut self) -> Option<Outgoing> {
        self.rx.recv().await
    }

    /// A text message of `len` bytes was written to the socket.
    pub fn sent(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_queue_is_bounded_in_bytes_and_frees_what_was_written() {
        let (out, mut inbox) = outbox(100, 10);
        // One message larger than the budget fits an empty queue…
        assert_eq!(out.text("x".repeat(25)), Ok(()));
        // …but nothing joins it while it waits.
        assert_eq!(out.text("y".into()), Err(NotQueued::Full));
        let Some(Outgoing::Text(text)) = inbox.recv().await else {
            panic!("the message was queued")
        };
        inbox.sent(text.len());
        assert_eq!(out.text("a".repeat(6)), Ok(()));
        assert_eq!(out.text("b".repeat(4)), Ok(()));
        assert_eq!(out.text("c".into()), Err(NotQueued::Full));
        drop(inbox);
        // A refused message leaves no bytes behind: the queue is refused for being closed, not full.
        let (out, inbox) = outbox(100, 10);
        drop(inbox);
        assert_eq!(out.text("z".into()), Err(NotQueued::Closed));
        assert_eq!(out.queued.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_messages_too() {
        let (out, _inbox) = outbox(2, 1_000);
        assert_eq!(out.text("1".into()), Ok(()));
        assert_eq!(out.text("2".into()), Ok(()));
        assert_eq!(out.text("3".into()), Err(NotQueued::Full));
    }
}
