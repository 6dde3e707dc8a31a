//! Loading a whole RDB file (Redis's rdbLoadRio): the magic and version,
//! every opcode, each key with its expire / LRU / LFU prefix, and the
//! CRC-64 trailer. What to do with the results (which database, dropping
//! expired keys on a master, logging AUX fields, compiling functions) is
//! the caller's, through a [`LoadSink`]; this module only decodes.
//!
//! Versions 1 to 12 are accepted (Redis 7.0 stops at 10; keel also reads
//! Redis 7.2 / 7.4 and Valkey 8 files). Errors carry redis-check-rdb's
//! step name (`doing`), the key and the type being read.

use super::read::Reader;
use super::records;
use super::RDB_VERSION_MAX_READ;
use super::{crc64, Limits, RdbError};
use crate::keyspace::Value;

/// What precedes a key: its expire and LRU / LFU hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyMeta {
    /// Absolute expire time in ms, -1 for none.
    pub expire_ms: i64,
    /// IDLE opcode: seconds since last access.
    pub idle_secs: Option<u64>,
    /// FREQ opcode: the LFU counter.
    pub freq: Option<u8>,
}

impl Default for KeyMeta {
    fn default() -> Self {
        KeyMeta {
            expire_ms: -1,
            idle_secs: None,
            freq: None,
        }
    }
}

/// A sink that keeps nothing: the decoder still reads and checks every
/// value (checking a file, finding where a valid prefix ends).
pub struct NullSink;

impl LoadSink for NullSink {
    fn aux(&mut self, _: &[u8], _: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn select_db(&mut self, _: u64) -> Result<(), String> {
        Ok(())
    }
    fn key(&mut self, _: &[u8], _: Value, _: KeyMeta) -> Result<(), String> {
        Ok(())
    }
    fn function(&mut self, _: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// Receives what the file holds, in file order. An `Err(msg)` aborts the
/// load with that message.
pub trait LoadSink {
    fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<(), String>;
    fn select_db(&mut self, db: u64) -> Result<(), String>;
    fn resize_db(&mut self, _keys: u64, _expires: u64) {}
    fn key(&mut self, key: &[u8], value: Value, meta: KeyMeta) -> Result<(), String>;
    /// A function library's full source (`#!<engine> name=<lib>\n...`).
    fn function(&mut self, code: &[u8]) -> Result<(), String>;
    /// Called after every key (skipped empty ones too) with the offset
    /// reached and the keys passed to `key` so far.
    fn progress(&mut self, _offset: u64, _keys: u64) {}
    /// A key holding an empty collection, skipped as Redis skips it.
    fn empty_key(&mut self, _key: &[u8]) {}
    /// The keys about to be handed to `key`, in order (the parallel
    /// loader announces each batch): a chance to bring what storing them
    /// touches into the CPU cache, the misses overlapping.
    fn prepare(&mut self, _keys: &mut dyn Iterator<Item = &[u8]>) {}
}

#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub limits: Limits,
    /// `rdbchecksum yes` and not `DEBUG SET-SKIP-CHECKSUM-VALIDATION 1`.
    pub verify_checksum: bool,
    /// Threads decoding values while this one reads records and hands
    /// keys to the sink in file order (0: decode here). Results, errors
    /// and sink calls are the same either way.
    pub workers: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            limits: Limits::default(),
            verify_checksum: true,
            workers: 0,
        }
    }
}

/// The trailer's fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumState {
    /// Stored and matching.
    Ok,
    /// Stored as 0: "RDB file was saved with checksum disabled: no check performed."
    Disabled,
    /// Version < 5: the format has no trailer.
    Absent,
    /// Verification was turned off.
    NotVerified,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSummary {
    pub version: u32,
    /// Keys passed to the sink.
    pub keys: u64,
    /// Empty collections skipped ("rdbLoadObject skipping empty key").
    pub empty_keys_skipped: u64,
    pub checksum: ChecksumState,
}

/// The state the error context needs while loading.
pub(super) struct Step {
    pub(super) doing: &'static str,
    pub(super) key: Option<Vec<u8>>,
    pub(super) type_byte: Option<u8>,
}

impl Step {
    pub(super) fn wrap(&self, mut e: RdbError) -> RdbError {
        e.doing = self.doing;
        if e.key.is_none() {
            e.key = self.key.clone();
        }
        if e.type_byte.is_none() {
            e.type_byte = self.type_byte;
        }
        e
    }
}

/// C's atoi over the 4 version digits.
fn atoi(b: &[u8]) -> i64 {
    let s = std::str::from_utf8(b).unwrap_or("");
    let s = s.trim_start();
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = s
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |a, d| a * 10 + (d - b'0') as i64);
    if neg {
        -n
    } else {
        n
    }
}

/// Decodes a whole RDB file into `sink`. Bytes after the trailer are
/// ignored (see [`load_prefix`] for an AOF with an RDB preamble).
pub fn load(
    data: &[u8],
    opts: &LoadOptions,
    sink: &mut dyn LoadSink,
) -> Result<LoadSummary, RdbError> {
    load_prefix(data, opts, sink).map(|(s, _)| s)
}

/// Like [`load`], also returning where the RDB ended (after the checksum
/// trailer): an AOF with an RDB preamble continues there with commands.
pub fn load_prefix(
    data: &[u8],
    opts: &LoadOptions,
    sink: &mut dyn LoadSink,
) -> Result<(LoadSummary, u64), RdbError> {
    let mut r = Reader::new(data);
    let mut st = Step {
        doing: "start",
        key: None,
        type_byte: None,
    };
    let magic = r.bytes(9).map_err(|e| st.wrap(e))?;
    if &magic[..5] != b"REDIS" {
        return Err(st.wrap(r.err("Wrong signature trying to load DB from file")));
    }
    let version = atoi(&magic[5..]);
    if !(1..=RDB_VERSION_MAX_READ as i64).contains(&version) {
        return Err(st.wrap(r.err(format!("Can't handle RDB format version {version}"))));
    }
    let version = version as u32;
    // The CRC of the usual span (all but an 8-byte trailer at the very
    // end) runs on a second thread while the keys are decoded; a file
    // whose RDB ends elsewhere (an AOF preamble) is summed at the end.
    let ahead = (opts.verify_checksum && version >= 5 && data.len() >= CRC_AHEAD_MIN)
        .then(|| data.len() - 8);
    std::thread::scope(|scope| {
        let crc_ahead = ahead.and_then(|end| {
            std::thread::Builder::new()
                .name("rdb-crc".into())
                .spawn_scoped(scope, move || crc64(0, &data[..end]))
                .ok()
                .map(|h| (end, h))
        });
        let counts = if opts.workers > 0 && data.len() >= PARALLEL_MIN {
            super::parallel::load_records(&mut r, &mut st, opts, sink)?
        } else {
            records::load_records(&mut r, &mut st, opts, sink, records::Counts::default())?
        };
        let summary = LoadSummary {
            version,
            keys: counts.keys,
            empty_keys_skipped: counts.empty,
            checksum: ChecksumState::NotVerified,
        };
        let checksum = if version < 5 {
            ChecksumState::Absent
        } else {
            let body = r.consumed();
            let stored = r.bytes(8).map_err(|e| st.wrap(e))?;
            let stored = u64::from_le_bytes(stored.try_into().expect("8 bytes"));
            if !opts.verify_checksum {
                ChecksumState::NotVerified
            } else if stored == 0 {
                ChecksumState::Disabled
            } else {
                let expected = match crc_ahead {
                    Some((end, h)) if end == body.len() => {
                        h.join().unwrap_or_else(|_| crc64(0, body))
                    }
                    _ => crc64(0, body),
                };
                if stored != expected {
                    return Err(st.wrap(r.err(format!(
                        "Wrong RDB checksum expected: ({expected:x}) but got ({stored:x}). Aborting now."
                    ))));
                }
                ChecksumState::Ok
            }
        };
        Ok((
            LoadSummary {
                checksum,
                ..summary
            },
            r.offset(),
        ))
    })
}

/// Files this big or bigger get their CRC computed on a second thread.
const CRC_AHEAD_MIN: usize = 1 << 20;

/// Files this big or bigger are decoded on [`LoadOptions::workers`]
/// threads (smaller ones load faster than threads start); tests lower it.
#[cfg(not(test))]
const PARALLEL_MIN: usize = 1 << 20;
#[cfg(test)]
const PARALLEL_MIN: usize = 1;

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "load_asset_tests.rs"]
mod asset_tests;
