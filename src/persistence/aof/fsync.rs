//! The background fsync of the AOF (Redis's bio fsync job) for
//! `everysec`, and for bytes written while a child ran with
//! no-appendfsync-on-rewrite.
//!
//! The engine thread writes the AOF buffer with write(2) and asks for the
//! file to be synced up to the logical offset it reached. One thread runs
//! fdatasync in a loop: each call covers every write made before it
//! started. (`always` fsyncs on the event loop at the end of each round
//! instead, see [`super::round`].)

use parking_lot::{Condvar, Mutex};
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

struct State {
    file: Option<Arc<File>>,
    /// Highest offset whose bytes were written and must be synced.
    requested: u64,
    stop: bool,
    error: Option<std::io::Error>,
}

/// What the fsync thread and its callers share.
pub struct FsyncShared {
    state: Mutex<State>,
    cv: Condvar,
    synced_tx: watch::Sender<u64>,
    in_progress: AtomicBool,
    /// Exit the process on a failed fsync (appendfsync always, as Redis).
    pub fatal_errors: AtomicBool,
    pub fsyncs: std::sync::atomic::AtomicU64,
}

/// Handle to the fsync thread.
#[derive(Clone)]
pub struct Fsyncer {
    inner: Arc<FsyncShared>,
}

impl Fsyncer {
    /// Starts the thread. `start` is the logical offset already durable.
    pub fn start(start: u64) -> Fsyncer {
        let (synced_tx, _) = watch::channel(start);
        let inner = Arc::new(FsyncShared {
            state: Mutex::new(State {
                file: None,
                requested: start,
                stop: false,
                error: None,
            }),
            cv: Condvar::new(),
            synced_tx,
            in_progress: AtomicBool::new(false),
            fatal_errors: AtomicBool::new(false),
            fsyncs: std::sync::atomic::AtomicU64::new(0),
        });
        let thread_inner = inner.clone();
        std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || run(thread_inner))
            .expect("spawn the AOF fsync thread");
        Fsyncer { inner }
    }

    /// The file later requests sync (the current incr file).
    pub fn set_file(&self, file: Option<Arc<File>>) {
        self.inner.state.lock().file = file;
    }

    /// Asks for the file to be synced up to `offset` (already written).
    pub fn request(&self, offset: u64) {
        let mut st = self.inner.state.lock();
        if offset > st.requested {
            st.requested = offset;
            self.inner.cv.notify_one();
        }
    }

    /// Offset known durable.
    pub fn synced(&self) -> u64 {
        *self.inner.synced_tx.borrow()
    }

    /// Marks everything up to `offset` durable (after a synchronous
    /// fsync by the engine, e.g. when switching files).
    pub fn mark_synced(&self, offset: u64) {
        self.inner.synced_tx.send_if_modified(|v| {
            if offset > *v {
                *v = offset;
                true
            } else {
                false
            }
        });
    }

    /// True while an fdatasync runs (everysec postpones writes then).
    pub fn in_progress(&self) -> bool {
        self.inner.in_progress.load(Ordering::Acquire)
    }

    /// Requested but not yet durable.
    pub fn pending(&self) -> bool {
        self.inner.state.lock().requested > self.synced()
    }

    /// The last fsync error, taken.
    pub fn take_error(&self) -> Option<std::io::Error> {
        self.inner.state.lock().error.take()
    }

    pub fn fsync_count(&self) -> u64 {
        self.inner.fsyncs.load(Ordering::Relaxed)
    }

    /// A receiver of the durable offset (the event loop's round task).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.synced_tx.subscribe()
    }

    /// Waits until everything up to `offset` is durable.
    pub async fn wait_synced(&self, offset: u64) {
        let mut rx = self.inner.synced_tx.subscribe();
        let _ = rx.wait_for(|v| *v >= offset).await;
    }

    /// appendfsync always: a failed fsync ends the process (as Redis).
    pub fn inner_fatal(&self, fatal: bool) {
        self.inner.fatal_errors.store(fatal, Ordering::Relaxed);
    }

    /// Stops the thread after its current job.
    pub fn stop(&self) {
        let mut st = self.inner.state.lock();
        st.stop = true;
        self.inner.cv.notify_one();
    }
}

fn run(sh: Arc<FsyncShared>) {
    let mut done = *sh.synced_tx.borrow();
    loop {
        let (target, file) = {
            let mut st = sh.state.lock();
            while st.requested <= done && !st.stop {
                sh.cv.wait(&mut st);
            }
            if st.stop {
                return;
            }
            sh.in_progress.store(true, Ordering::Release);
            (st.requested, st.file.clone())
        };
        let res = match &file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        };
        sh.in_progress.store(false, Ordering::Release);
        sh.fsyncs.fetch_add(1, Ordering::Relaxed);
        match res {
            Ok(()) => {
                done = target;
                sh.synced_tx.send_if_modified(|v| {
                    if target > *v {
                        *v = target;
                        true
                    } else {
                        false
                    }
                });
            }
            Err(e) => {
                if sh.fatal_errors.load(Ordering::Relaxed) {
                    crate::log_warning!(
                        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                        e
                    );
                    std::process::exit(1);
                }
                crate::log_warning!("Error trying to fsync the AOF file: {}", e);
                // Retried on the next request.
                done = target.saturating_sub(1).min(done);
                sh.state.lock().error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn requests_become_durable_and_wake_waiters() {
        let dir = tempfile::tempdir().unwrap();
        let f = Arc::new(File::create(dir.path().join("a.aof")).unwrap());
        let fs = Fsyncer::start(0);
        fs.set_file(Some(f.clone()));
        (&*f).write_all(b"hello").unwrap();
        fs.request(5);
        fs.wait_synced(5).await;
        assert!(fs.synced() >= 5);
        (&*f).write_all(b" world").unwrap();
        fs.request(11);
        fs.wait_synced(11).await;
        assert!(!fs.pending());
        assert!(fs.fsync_count() >= 1);
        fs.stop();
    }
}
