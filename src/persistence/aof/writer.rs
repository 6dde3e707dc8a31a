//! The AOF write path (Redis's feedAppendOnlyFile + flushAppendOnlyFile):
//! commands are appended to a buffer in their propagated form, with a
//! SELECT whenever the database changes and, with aof-timestamp-enabled,
//! a `#TS:` annotation whenever the second changes; the buffer is written
//! to the current incr file before any reply of the batch leaves, and the
//! fsync policy decides when it becomes durable (see [`super::fsync`]).

use super::feed::AofFeed;
use super::fsync::Fsyncer;
use crate::config::AppendFsync;
use bytes::Bytes;
use std::fs::File;
use std::io::Write;
use std::sync::Arc;

/// How long everysec may postpone a write behind a running fsync.
const MAX_POSTPONE_MS: i64 = 2000;

pub struct AofWriter {
    pub buf: Vec<u8>,
    feed: AofFeed,
    pub timestamps: bool,
    file: Option<Arc<File>>,
    /// Bytes written to AOF files since start: a logical offset that only
    /// grows, across file switches (what fsync requests refer to).
    pub written: u64,
    /// Size of the current incr file.
    pub incr_size: u64,
    pub policy: AppendFsync,
    pub fsync: Fsyncer,
    /// The last write error (aof_last_write_status:err), if not solved.
    pub write_error: Option<String>,
    postponed_since: Option<i64>,
    pub delayed_fsync: u64,
    last_fsync_sec: i64,
    /// Set by the event loop's round: under `always` it fsyncs itself.
    pub inline_always: bool,
}

impl AofWriter {
    pub fn new(policy: AppendFsync, timestamps: bool, fsync: Fsyncer) -> Self {
        AofWriter {
            buf: Vec::new(),
            feed: AofFeed::new(),
            timestamps,
            file: None,
            written: fsync.synced(),
            incr_size: 0,
            policy,
            fsync,
            write_error: None,
            postponed_since: None,
            delayed_fsync: 0,
            last_fsync_sec: 0,
            inline_always: false,
        }
    }

    /// Switches to a new incr file (`size` bytes already in it). The
    /// caller flushed and synced the previous one. The next command
    /// starts with a SELECT.
    pub fn set_file(&mut self, file: Option<File>, size: u64) {
        let file = file.map(Arc::new);
        self.fsync.set_file(file.clone());
        self.file = file;
        self.incr_size = size;
        self.feed.new_file();
    }

    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    /// fdatasync of the current file, now (file switches, shutdown).
    pub fn sync_now(&mut self) -> std::io::Result<()> {
        if let Some(f) = &self.file {
            f.sync_data()?;
        }
        self.fsync.mark_synced(self.written);
        Ok(())
    }

    /// Appends one propagated command.
    pub fn feed(&mut self, db: usize, argv: &[Bytes], now_secs: i64) {
        self.feed
            .feed(&mut self.buf, db, argv, self.timestamps, now_secs);
    }

    /// Writes the buffer (flushAppendOnlyFile). Under everysec a write
    /// behind a running fsync is postponed up to 2 s unless `force`.
    /// `skip_fsync`: no-appendfsync-on-rewrite with a child running.
    /// Returns false when the write failed (the error is recorded).
    pub fn flush(&mut self, force: bool, skip_fsync: bool, now_ms: i64) -> bool {
        let now_sec = now_ms / 1000;
        if self.buf.is_empty() {
            // Bytes written but never synced (fsync skipped while a child
            // ran with no-appendfsync-on-rewrite): sync them now.
            if self.policy == AppendFsync::Always
                && !skip_fsync
                && self.written > self.fsync.synced()
            {
                self.fsync.request(self.written);
            }
            // Bytes written but not yet synced (a postponed fsync).
            if self.policy == AppendFsync::EverySec
                && !skip_fsync
                && self.written > self.fsync.synced()
                && now_sec > self.last_fsync_sec
                && !self.fsync.in_progress()
            {
                self.fsync.request(self.written);
                self.last_fsync_sec = now_sec;
            }
            return true;
        }
        let Some(file) = self.file.clone() else {
            return true;
        };
        if self.policy == AppendFsync::EverySec && !force && self.fsync.in_progress() {
            match self.postponed_since {
                None => {
                    self.postponed_since = Some(now_ms);
                    return true;
                }
                Some(t) if now_ms - t < MAX_POSTPONE_MS => return true,
                Some(_) => {
                    self.delayed_fsync += 1;
                    crate::log_notice!("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
                }
            }
        }
        self.postponed_since = None;
        let mut done = 0;
        let res = loop {
            match (&*file).write(&self.buf[done..]) {
                Ok(0) => break Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                Ok(n) => {
                    done += n;
                    if done == self.buf.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = res {
            if self.policy == AppendFsync::Always {
                crate::log_warning!(
                    "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
                );
                std::process::exit(1);
            }
            // Take back a partial write so the file ends on a command.
            if done > 0 && file.set_len(self.incr_size).is_err() {
                // Could not: keep what reached the file.
                self.buf.drain(..done);
                self.written += done as u64;
                self.incr_size += done as u64;
            }
            let msg = crate::config::special::strerror(&e);
            if self.write_error.is_none() {
                crate::log_warning!("Error writing to the AOF file: {}", msg);
            }
            self.write_error = Some(msg);
            return false;
        }
        if self.write_error.take().is_some() {
            crate::log_warning!("AOF write error looks solved, Redis can write again.");
        }
        self.written += done as u64;
        self.incr_size += done as u64;
        self.buf.clear();
        if self.buf.capacity() > 4 * 1024 * 1024 {
            self.buf = Vec::new();
        }
        if skip_fsync {
            return true;
        }
        match self.policy {
            AppendFsync::Always if self.inline_always => {}
            AppendFsync::Always => self.fsync.request(self.written),
            AppendFsync::EverySec => {
                if now_sec > self.last_fsync_sec && !self.fsync.in_progress() {
                    self.fsync.request(self.written);
                    self.last_fsync_sec = now_sec;
                }
            }
            AppendFsync::No => {}
        }
        true
    }

    /// The offset a reply must wait for under `always` (None otherwise or
    /// when everything is already durable).
    pub fn reply_ticket(&self) -> Option<u64> {
        (self.policy == AppendFsync::Always && self.written > self.fsync.synced())
            .then_some(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[tokio::test]
    async fn feeds_selects_and_flushes_under_always() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.incr.aof");
        let fs = Fsyncer::start(0);
        let mut w = AofWriter::new(AppendFsync::Always, false, fs.clone());
        w.set_file(Some(File::create(&path).unwrap()), 0);
        w.feed(0, &b(&["set", "k", "v"]), 100);
        w.feed(0, &b(&["incr", "n"]), 100);
        w.feed(3, &b(&["del", "k"]), 100);
        assert!(w.flush(false, false, 100_000));
        let t = w.reply_ticket();
        fs.wait_synced(t.unwrap_or(0)).await;
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *2\r\n$4\r\nincr\r\n$1\r\nn\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\ndel\r\n$1\r\nk\r\n"
        );
        assert_eq!(w.written, text.len() as u64);
        assert!(fs.synced() >= w.written);
        fs.stop();
    }

    #[test]
    fn timestamps_annotate_each_new_second() {
        let fs = Fsyncer::start(0);
        let mut w = AofWriter::new(AppendFsync::No, true, fs.clone());
        w.feed(0, &b(&["set", "a", "1"]), 1000);
        w.feed(0, &b(&["set", "a", "2"]), 1000);
        w.feed(0, &b(&["set", "a", "3"]), 1001);
        let text = String::from_utf8(w.buf.clone()).unwrap();
        assert!(text.starts_with("#TS:1000\r\n*2\r\n$6\r\nSELECT"));
        assert_eq!(text.matches("#TS:").count(), 2);
        fs.stop();
    }
}
