//! The redis-check-rdb-compatible check: walk the whole file with keel's
//! decoder (deep sanitization), note what redis-check-rdb 7.0.15 notes
//! (AUX fields, DB selections, keys, expires, already expired keys, the
//! checksum) at the same offsets, and stop at the first problem with the
//! same step / key / type context. Beyond Redis it stops on what makes the
//! server refuse a file that redis-check-rdb passes: a duplicate key and a
//! database index out of range. `--stats` rides along on the same walk.
//!
//! The CRC-64 of the file is computed on a second thread while the first
//! one decodes (speculatively over everything but the 8-byte trailer, the
//! usual layout; recomputed if the EOF opcode turns out elsewhere).

use super::dups::DupScan;
use super::stats::Stats;
use super::walk::{Failure, KeyValue, Record, Walker, EOF_MSG};
use crate::persistence::rdb::crc64;

#[derive(Clone, Copy, Debug)]
pub struct CheckOptions {
    /// Accept RDB 11 / 12 (what keel-server loads; Redis 7.0 refuses them).
    pub newer: bool,
    /// The server's `databases`: a SELECTDB at or above it is an error.
    pub databases: u64,
    /// "now" for counting already expired keys.
    pub now_ms: i64,
    /// Collect `--stats`.
    pub stats: bool,
    /// Look for duplicate keys (memory: ~16 bytes per key).
    pub dups: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            newer: false,
            databases: 16,
            now_ms: now_ms(),
            stats: false,
            dups: true,
        }
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The checksum verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    Ok,
    /// Stored as 0.
    Disabled,
    /// Version < 5: no trailer.
    Absent,
    Mismatch {
        expected: u64,
        stored: u64,
    },
}

/// One `[offset N] text` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub offset: u64,
    pub text: Vec<u8>,
}

pub struct CheckReport {
    pub lines: Vec<Line>,
    pub failure: Option<Failure>,
    pub version: Option<u32>,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub keys_read: u64,
    pub expires: u64,
    pub already_expired: u64,
    pub checksum: Option<Checksum>,
    /// Offset reached (where "RDB looks OK" is reported).
    pub end: u64,
    pub stats: Option<Stats>,
    /// redis-check-rdb's `key_type` where the walk ended.
    pub key_type: i32,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// redis-check-rdb's exit status.
    pub fn exit_code(&self) -> i32 {
        if self.ok() {
            0
        } else {
            1
        }
    }
}

/// A `%s` of C: the bytes up to the first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    b.split(|&c| c == 0).next().unwrap_or_default()
}

/// A message as redis-check-rdb formats it into its 1024-byte buffer.
pub fn c_msg(mut m: Vec<u8>) -> Vec<u8> {
    m.truncate(1023);
    m
}

fn aux_line(k: &[u8], v: &[u8]) -> Vec<u8> {
    let mut m = b"AUX FIELD ".to_vec();
    m.extend_from_slice(c_str(k));
    m.extend_from_slice(b" = '");
    m.extend_from_slice(c_str(v));
    m.push(b'\'');
    c_msg(m)
}

/// Checks `data` (the whole file).
pub fn check(data: &[u8], opts: &CheckOptions) -> CheckReport {
    let mut rep = CheckReport {
        lines: Vec::new(),
        failure: None,
        version: None,
        aux: Vec::new(),
        keys_read: 0,
        expires: 0,
        already_expired: 0,
        checksum: None,
        end: 0,
        stats: opts.stats.then(|| Stats::new(opts.now_ms)),
        key_type: 0,
    };
    let usual_end = data.len().saturating_sub(8);
    let timing = std::env::var_os("KEEL_CHECK_RDB_TIMING").is_some();
    std::thread::scope(|s| {
        // The helper thread: the CRC of the usual span, then the duplicate
        // check on the key offsets the walk sends it in batches.
        let (tx, rx) = std::sync::mpsc::channel::<DupMsg>();
        let want_dups = opts.dups;
        let hasher = super::dups::Hasher::default();
        let helper_hasher = hasher;
        let helper = s.spawn(move || {
            let crc = crc64(0, &data[..usual_end]);
            let mut d = DupScan::with_hasher(data, helper_hasher);
            for msg in rx {
                match msg {
                    DupMsg::Keys(batch) => {
                        for (h, packed) in batch {
                            d.add_hashed(h, packed);
                        }
                    }
                    DupMsg::Expect(n) => d.reserve(n),
                }
            }
            let t = std::time::Instant::now();
            let dup = if want_dups { d.first_duplicate() } else { None };
            (crc, dup, t.elapsed())
        });
        let t0 = std::time::Instant::now();
        let walked = walk(data, opts, &mut rep, opts.dups.then_some((tx, hasher)));
        let t1 = std::time::Instant::now();
        let (crc, dup, dup_time) = helper.join().expect("helper thread");
        let Some(eof_end) = walked else { return };
        let expected = if eof_end == usual_end {
            crc
        } else {
            crc64(0, &data[..eof_end])
        };
        if timing {
            eprintln!(
                "walk {:?}, helper wait {:?} (duplicate sort {:?})",
                t1 - t0,
                t1.elapsed(),
                dup_time
            );
        }
        finish(data, eof_end, expected, &mut rep);
        if let (true, Some((db, key, first, dup))) = (rep.ok(), dup) {
            rep.failure = Some(Failure {
                offset: dup,
                msg: format!(
                    "Duplicated key found in RDB file: DB {db}, first copy at offset {first} \
                     (redis-server panics, keel-server refuses the file)"
                ),
                doing: "read-key",
                key: Some(key),
                key_type: -1,
            });
        }
    });
    rep
}

/// What the walk tells the duplicate check.
enum DupMsg {
    /// (hash, packed db + offset) of keys.
    Keys(Vec<(u64, u64)>),
    /// A RESIZEDB hint: this many more keys are coming.
    Expect(u64),
}

/// Where the walk sends [`DupMsg`]s, and the hasher.
type DupFeed = (std::sync::mpsc::Sender<DupMsg>, super::dups::Hasher);

/// Keys sent to the duplicate check per batch.
const BATCH: usize = 64 * 1024;

/// Walks every record, sending each key's packed db and offset to `dups`;
/// the offset just past the EOF opcode, or None after a failure (recorded
/// in `rep`).
fn walk(
    data: &[u8],
    opts: &CheckOptions,
    rep: &mut CheckReport,
    dups: Option<DupFeed>,
) -> Option<usize> {
    let mut w = match Walker::open(data, opts.newer) {
        Ok(w) => w,
        Err(f) => {
            rep.end = f.offset;
            rep.failure = Some(f);
            return None;
        }
    };
    rep.version = Some(w.version);
    // Keys are hashed here, while their bytes are in cache.
    let mut batch: Vec<(u64, u64)> = Vec::with_capacity(BATCH);
    let mut db = 0u64;
    let result = loop {
        let rec = match w.next_record() {
            Ok(r) => r,
            Err(f) => break Err(f),
        };
        match rec {
            Record::Aux { key, value } => {
                rep.lines.push(Line {
                    offset: w.offset(),
                    text: aux_line(&key, &value),
                });
                rep.aux.push((key.into_owned(), value.into_owned()));
            }
            Record::ModuleAux {
                name, header_end, ..
            } => {
                // Redis prints this line before walking the module data.
                rep.lines.push(Line {
                    offset: header_end,
                    text: c_msg(format!("MODULE AUX for: {name}").into_bytes()),
                });
            }
            Record::SelectDb(n) => {
                rep.lines.push(Line {
                    offset: w.offset(),
                    text: format!("Selecting DB ID {n}").into_bytes(),
                });
                if n >= opts.databases {
                    break Err(Failure {
                        offset: w.offset(),
                        msg: format!(
                            "DB index {n} is out of range: the server has {} databases \
                             (FATAL in redis-server and keel-server; see --databases)",
                            opts.databases
                        ),
                        doing: "read-len",
                        key: None,
                        key_type: w.key_type(),
                    });
                }
                db = n;
            }
            Record::Key(k) => {
                if matches!(k.value, KeyValue::Empty) {
                    // redis-check-rdb fails where the server would skip.
                    break Err(Failure {
                        offset: k.end as u64,
                        msg: EOF_MSG.to_string(),
                        doing: "read-object-value",
                        key: Some(k.key.to_vec()),
                        key_type: k.type_byte as i32,
                    });
                }
                if k.meta.expire_ms != -1 {
                    rep.expires += 1;
                    if k.meta.expire_ms < opts.now_ms {
                        rep.already_expired += 1;
                    }
                }
                if let Some((tx, hasher)) = &dups {
                    batch.push(DupScan::hashed(hasher, db, &k.key, key_name_offset(&k)));
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        let _ = tx.send(DupMsg::Keys(full));
                    }
                }
                if let Some(s) = &mut rep.stats {
                    s.add(db, &k);
                }
            }
            Record::Eof => break Ok(w.offset() as usize),
            Record::ResizeDb { keys, .. } => {
                if let Some((tx, _)) = &dups {
                    let _ = tx.send(DupMsg::Expect(keys));
                }
            }
            Record::Function(_) | Record::SlotInfo => {}
        }
    };
    if let (Some((tx, _)), false) = (&dups, batch.is_empty()) {
        let _ = tx.send(DupMsg::Keys(batch));
    }
    rep.keys_read = w.keys_read;
    rep.key_type = w.key_type();
    match result {
        Ok(end) => {
            rep.end = end as u64;
            if rep.version.unwrap_or(0) < 5 {
                rep.checksum = Some(Checksum::Absent);
            }
            Some(end)
        }
        Err(f) => {
            rep.end = f.offset;
            rep.failure = Some(f);
            None
        }
    }
}

/// The offset of a key record's name (just past its type byte).
pub fn key_name_offset(k: &super::walk::KeyRecord) -> u64 {
    k.type_at as u64 + 1
}

/// The checksum trailer (version >= 5).
fn finish(data: &[u8], eof_end: usize, expected: u64, rep: &mut CheckReport) {
    if rep.checksum == Some(Checksum::Absent) {
        return;
    }
    let Some(stored) = data.get(eof_end..eof_end + 8) else {
        rep.failure = Some(Failure {
            offset: eof_end as u64,
            msg: EOF_MSG.to_string(),
            doing: "check-sum",
            key: None,
            key_type: rep.key_type,
        });
        rep.end = eof_end as u64;
        return;
    };
    let stored = u64::from_le_bytes(stored.try_into().expect("8 bytes"));
    let end = eof_end as u64 + 8;
    rep.end = end;
    if stored == 0 {
        rep.checksum = Some(Checksum::Disabled);
        rep.lines.push(Line {
            offset: end,
            text: b"RDB file was saved with checksum disabled: no check performed.".to_vec(),
        });
    } else if stored != expected {
        rep.checksum = Some(Checksum::Mismatch { expected, stored });
        rep.failure = Some(Failure {
            offset: end,
            msg: "RDB CRC error".to_string(),
            doing: "check-sum",
            key: None,
            key_type: rep.key_type,
        });
    } else {
        rep.checksum = Some(Checksum::Ok);
        rep.lines.push(Line {
            offset: end,
            text: b"Checksum OK".to_vec(),
        });
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
