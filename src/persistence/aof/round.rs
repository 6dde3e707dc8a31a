//! The end of an event-loop round for the AOF: Redis writes and fsyncs
//! the AOF buffer in beforeSleep, once for every client served in that
//! iteration. keel's connections are tokio tasks, so this module gives
//! them the same shape:
//!
//! * a batch leaves its commands in the buffer and wakes the round task
//!   ([`Round::wanted`]); the task yields once, which puts it behind every
//!   connection that is ready and behind the next poll of the sockets, then
//!   writes the buffer with one write(2) ([`super::control::flush_round`]);
//!   replies that only wait for the write leave then ([`Round::attempted`]);
//! * under `always` the round then runs one fdatasync itself, on the event
//!   loop, as Redis does in beforeSleep, and releases the replies waiting
//!   for it ([`Round::advance`]). Every client served in the round shares
//!   it (group commit). Handing the fsync to a thread was measured slower
//!   at pipeline 1 (0.60-0.80x Redis against 0.96-1.02x): the hand-off and
//!   the wake-up back cost more than the overlap gained;
//! * the background fsync thread ([`super::fsync`]) serves `everysec`, and
//!   reports its progress to this task alone, which passes it on from
//!   inside the event loop.
//!
//! Offsets are the AOF writer's logical offsets; they only grow, also when
//! the AOF is switched off and on again (a new writer starts at
//! [`Round::next_start`]).

use super::control::AofWait;
use crate::server::Shared;
use tokio::sync::{watch, Notify};

/// What connections, the writer and the round task share.
pub struct Round {
    /// A batch left commands in the buffer for this round's write, or the
    /// writer changed (the task then follows the new fsync thread).
    pub wanted: Notify,
    durable: watch::Sender<u64>,
    /// Up to where the round's write was attempted.
    written: watch::Sender<u64>,
}

impl Default for Round {
    fn default() -> Self {
        Round {
            wanted: Notify::new(),
            durable: watch::channel(0).0,
            written: watch::channel(0).0,
        }
    }
}

impl Round {
    /// The offset up to which the AOF is known durable.
    pub fn durable(&self) -> u64 {
        *self.durable.borrow()
    }

    /// Where a new writer's offsets start: past every offset a reply may
    /// still wait for.
    pub fn next_start(&self) -> u64 {
        (*self.durable.borrow()).max(*self.written.borrow())
    }

    /// Everything up to `offset` is durable: releases the replies that
    /// waited for it.
    pub fn advance(&self, offset: u64) {
        raise(&self.durable, offset);
        raise(&self.written, offset);
    }

    /// The round tried to write everything up to `offset`.
    pub fn attempted(&self, offset: u64) {
        raise(&self.written, offset);
    }

    /// Waits until the replies of a batch may leave.
    pub async fn wait(&self, what: AofWait) {
        let (mut rx, offset) = match what {
            AofWait::Durable(o) => (self.durable.subscribe(), o),
            AofWait::Written(o) => (self.written.subscribe(), o),
        };
        let _ = rx.wait_for(|v| *v >= offset).await;
    }
}

fn raise(tx: &watch::Sender<u64>, offset: u64) {
    tx.send_if_modified(|v| {
        if offset > *v {
            *v = offset;
            true
        } else {
            false
        }
    });
}

/// The round task (spawned once by the server's event loop).
pub async fn run(shared: Shared) {
    let round = shared.lock().aof.round.clone();
    loop {
        let fsync = shared.lock().aof.writer.as_ref().map(|w| w.fsync.clone());
        // Subscribe before reading, so no progress falls in between.
        let mut progress = fsync.as_ref().map(|f| f.subscribe());
        if let Some(f) = &fsync {
            round.advance(f.synced());
        }
        tokio::select! {
            _ = round.wanted.notified() => {
                tokio::task::yield_now().await;
                let mut s = shared.lock();
                super::control::flush_round(&mut s);
                crate::replication::before_sleep(&mut s);
            }
            _ = async {
                match progress.as_mut() {
                    Some(rx) => {
                        let _ = rx.changed().await;
                    }
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn waiters_are_released_in_offset_order() {
        let round = Arc::new(Round::default());
        let r2 = round.clone();
        let waiter = tokio::spawn(async move { r2.wait(AofWait::Durable(10)).await });
        round.advance(5);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        round.advance(3);
        assert_eq!(round.durable(), 5);
        round.advance(10);
        waiter.await.unwrap();
        assert_eq!(round.durable(), 10);
    }

    #[tokio::test]
    async fn a_write_attempt_releases_only_write_waiters() {
        let round = Arc::new(Round::default());
        let (r1, r2) = (round.clone(), round.clone());
        let durable = tokio::spawn(async move { r1.wait(AofWait::Durable(7)).await });
        let written = tokio::spawn(async move { r2.wait(AofWait::Written(7)).await });
        round.attempted(7);
        written.await.unwrap();
        tokio::task::yield_now().await;
        assert!(!durable.is_finished());
        round.advance(7);
        durable.await.unwrap();
    }
}
