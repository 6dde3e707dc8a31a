//! Writing a new RDB from an old one: `--salvage` (keep every intact key
//! of a damaged file) and `--slots` (keep only the keys of some cluster
//! slots), or both at once.
//!
//! Keys are decoded with keel's decoder and written back with keel's
//! encoder (`encode_object` and the `write` primitives: the bytes Redis
//! 7.0 writes, RDB 10, LZF on, CRC-64 trailer), streamed in file order so
//! the file never has to fit in memory. AUX fields (except the `repl-*`
//! ones, which would let a replica resume from a file that lost data),
//! function libraries and module records (copied raw) are kept. Every key
//! keeps its expire and its IDLE / FREQ hints.
//!
//! Salvage: when a record fails to decode, the damaged bytes are skipped
//! and reading resumes at the first offset from which a chain of records
//! decodes cleanly ([`resync`]); the key decoded just before the damage is
//! held back until then, and dropped if the resynchronisation point lies
//! inside it (its length was damaged and it swallowed its successors).
//! Duplicate keys keep their first copy; keys of a database index the
//! server cannot hold, and empty collections, are dropped and reported.

use super::check::Checksum;
use super::dups::Dups;
use super::slots::SlotSet;
use super::walk::{Failure, KeyRecord, KeyValue, Record, Walker};
use crate::keyspace::key_slot;
use crate::persistence::rdb::write::{write_len, write_ms_time, write_string, CrcWriter};
use crate::persistence::rdb::{crc64, encode_object, opcode, RDB_VERSION};
use std::io::{self, Write};

#[derive(Clone, Debug)]
pub struct RewriteOptions {
    /// Go on after damage (else stop at the first failure).
    pub salvage: bool,
    /// Keep only keys hashing to these slots.
    pub slots: Option<SlotSet>,
    pub newer: bool,
    pub databases: u64,
    /// LZF-compress strings (rdbcompression).
    pub compress: bool,
}

/// A damaged byte range that was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    pub from: u64,
    pub to: u64,
    /// Why the first record there failed.
    pub failure: Failure,
    /// A key decoded just before the damage, dropped because its value
    /// overlapped the next intact record.
    pub swallowed_key: Option<Vec<u8>>,
    /// The first key read where decoding resumed. Resynchronisation checks
    /// that records decode in a row from there, but the first one can
    /// still be the tail of a damaged record that happens to parse.
    pub resumed_key: Option<Vec<u8>>,
}

/// A key that decoded but is not written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub db: u64,
    pub key: Vec<u8>,
    pub offset: u64,
    pub why: String,
}

#[derive(Clone, Debug, Default)]
pub struct RewriteReport {
    pub version: u32,
    pub keys_decoded: u64,
    pub keys_written: u64,
    /// Keys left out by the slot filter.
    pub keys_filtered: u64,
    pub lost: Vec<Lost>,
    pub dropped: Vec<Dropped>,
    pub checksum: Option<Checksum>,
    pub bytes_written: u64,
    /// The failure that stopped a non-salvage rewrite.
    pub failure: Option<Failure>,
}

impl RewriteReport {
    /// True if nothing was lost or dropped (the slot filter aside).
    pub fn complete(&self) -> bool {
        self.failure.is_none()
            && self.lost.is_empty()
            && self.dropped.is_empty()
            && !matches!(self.checksum, Some(Checksum::Mismatch { .. }))
    }
}

/// Flush the output buffer at this size.
const FLUSH_AT: usize = 256 * 1024;

struct Out<W: Write> {
    w: CrcWriter<W>,
    buf: Vec<u8>,
    db: Option<u64>,
    compress: bool,
}

impl<W: Write> Out<W> {
    fn flush_if_big(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn key(&mut self, db: u64, k: &KeyRecord, data: &[u8]) -> io::Result<()> {
        let b = &mut self.buf;
        if self.db != Some(db) {
            b.push(opcode::SELECTDB);
            write_len(b, db);
            self.db = Some(db);
        }
        if k.meta.expire_ms != -1 {
            b.push(opcode::EXPIRETIME_MS);
            write_ms_time(b, k.meta.expire_ms);
        }
        if let Some(idle) = k.meta.idle_secs {
            b.push(opcode::IDLE);
            write_len(b, idle);
        }
        if let Some(freq) = k.meta.freq {
            b.push(opcode::FREQ);
            b.push(freq);
        }
        match &k.value {
            KeyValue::Value(_) | KeyValue::Str(_) => {
                let v = k.value.value().expect("a value");
                let at = b.len();
                b.push(0);
                write_string(b, &k.key, self.compress);
                b[at] = encode_object(b, &v, self.compress);
            }
            KeyValue::Module(_) => b.extend_from_slice(&data[k.type_at..k.end]),
            KeyValue::Empty => {}
        }
        self.flush_if_big()
    }
}

/// Where to try next after a failure: the first offset at or after
/// `from` where [`chain_ok`] holds. A chain starting before `failed_at`
/// (inside the key decoded just before the failure) must run past it:
/// real records that a damaged length swallowed do, while record-shaped
/// bytes inside an intact value (a listpack of small integers reads as a
/// run of tiny string keys) do not.
#[allow(clippy::too_many_arguments)]
pub fn resync(
    data: &[u8],
    from: usize,
    failed_at: usize,
    version: u32,
    opts: &RewriteOptions,
    dups: &Dups,
    db: u64,
    nul_end: Option<usize>,
) -> Option<usize> {
    let ok = |p: usize| -> Option<(usize, usize, usize)> {
        let t = data[p];
        let plausible = super::walk::is_object_type(t, opts.newer)
            || (t >= opcode::FUNCTION2 && t != opcode::EOF)
            || (t == opcode::EOF && data.len() - p == 9)
            || (opts.newer && t == opcode::SLOT_INFO);
        // A run of NUL bytes reads as keys "" holding "": never resync there.
        if !plausible || data[p..].starts_with(&[0, 0, 0]) {
            return None;
        }
        let must_pass = if p <= failed_at { failed_at } else { 0 };
        chain_ok(data, p, must_pass, version, opts, dups, db)
    };
    let mut p = from;
    let mut first = loop {
        if p >= data.len() {
            return None;
        }
        if let Some(e) = ok(p) {
            break e;
        }
        p += 1;
    };
    // The first record of a chain may be the tail of a damaged record that
    // happens to parse, as a key whose name swallows real records. A real
    // record never starts inside a key's name: if a chain starts there,
    // prefer it. After a NUL run that ends inside a record, also look
    // inside the rest of the first record (not after other damage, where
    // record-shaped bytes inside an intact value would win over the real
    // record holding them; nor right where the NUL run ends).
    loop {
        let whole = nul_end.is_some_and(|t| p != t && p < t + 4096);
        let (at, value_at, end) = first;
        let upto = if whole { end } else { value_at };
        match (at + 1..upto).find_map(|q| ok(q).map(|e| (q, e))) {
            Some((q, e)) => {
                p = q;
                first = e;
            }
            None => break,
        }
    }
    Some(p)
}

/// Records that must decode in a row for a resynchronisation point.
const CHAIN: usize = 8;

/// Most records a candidate chain may take to get past the failure.
const CHAIN_MAX: usize = 100_000;

/// If records decode from `p` in a row, at least [`CHAIN`] of them and up
/// to past offset `must_pass` (or fewer ending in the EOF opcode followed
/// by exactly the checksum), with no key already seen: the offsets of the
/// first record's type byte (after its expire / IDLE / FREQ prefix), of
/// its value (past the key's name; the type byte for other records) and
/// of its end.
fn chain_ok(
    data: &[u8],
    p: usize,
    must_pass: usize,
    version: u32,
    opts: &RewriteOptions,
    dups: &Dups,
    mut db: u64,
) -> Option<(usize, usize, usize)> {
    let mut w = Walker::assume(data, opts.newer, version);
    w.resume_at(p);
    let mut seen: hashbrown::HashSet<(u64, Vec<u8>)> = hashbrown::HashSet::new();
    let mut first_end = None;
    let (mut first_at, mut value_at) = (p, p);
    for n in 0..CHAIN_MAX {
        if n == 1 {
            first_end = Some((first_at, value_at, w.offset() as usize));
        }
        if n >= CHAIN && w.offset() as usize > must_pass {
            return first_end;
        }
        let rec = w.next_record();
        match rec {
            Err(_) => return None,
            Ok(Record::Eof) => {
                let left = data.len() - w.offset() as usize;
                let end = first_end.unwrap_or((p, p, w.offset() as usize));
                return (left == if version >= 5 { 8 } else { 0 }).then_some(end);
            }
            Ok(Record::SelectDb(n)) => {
                if n >= opts.databases {
                    return None;
                }
                db = n;
            }
            Ok(Record::Key(k)) => {
                if n == 0 {
                    (first_at, value_at) = (k.type_at, k.value_at);
                }
                // An empty name on the first key: the tail of a NUL run
                // ("00 00" + whatever follows), not a record.
                if matches!(k.value, KeyValue::Empty)
                    || (seen.is_empty() && k.key.is_empty())
                    || (version >= 10 && !written_by_7(k.type_byte))
                    || dups.contains(db, &k.key)
                    || !seen.insert((db, k.key.into_owned()))
                {
                    return None;
                }
            }
            Ok(_) => {}
        }
    }
    None
}

/// A key record that is three NUL bytes (type string, key "", value "")
/// followed by another NUL: a zero-filled region, not data.
fn is_nul_run(data: &[u8], k: &KeyRecord) -> bool {
    k.end - k.start == 3 && data[k.start..k.end] == [0, 0, 0] && data.get(k.end) == Some(&0)
}

/// The value types Redis 7.0 and later write (old encodings, which they
/// only read, are not trusted as a resynchronisation point in an RDB 10+
/// file: random bytes decode as a zipmap or ziplist far too easily; nor
/// are module values, whose generic walk accepts almost anything).
fn written_by_7(t: u8) -> bool {
    use crate::persistence::rdb::types::*;
    matches!(
        t,
        STRING
            | SET
            | HASH
            | ZSET_2
            | SET_INTSET
            | HASH_LISTPACK
            | ZSET_LISTPACK
            | LIST_QUICKLIST_2
            | STREAM_LISTPACKS_2
            | SET_LISTPACK
            | STREAM_LISTPACKS_3
            | HASH_METADATA
            | HASH_LISTPACK_EX
    )
}

/// Rewrites `data` into `w`; see the module doc.
pub fn rewrite<W: Write>(data: &[u8], opts: &RewriteOptions, w: W) -> io::Result<RewriteReport> {
    let mut rep = RewriteReport::default();
    let mut walker = match Walker::open(data, opts.newer) {
        Ok(w) => w,
        Err(f) if opts.salvage && data.len() >= 9 => {
            rep.lost.push(Lost {
                from: 0,
                to: 9,
                failure: f,
                swallowed_key: None,
                resumed_key: None,
            });
            Walker::assume(data, opts.newer, RDB_VERSION)
        }
        Err(f) => {
            rep.failure = Some(f);
            return Ok(rep);
        }
    };
    rep.version = walker.version;
    let mut out = Out {
        w: CrcWriter::new(w),
        buf: format!("REDIS{RDB_VERSION:04}").into_bytes(),
        db: None,
        compress: opts.compress,
    };
    let mut dups = Dups::new(data);
    let mut db = 0u64;
    let mut pending: Option<(u64, KeyRecord)> = None;
    let mut eof_end = None;
    let mut resumed = false;
    loop {
        let rec_start = walker.offset() as usize;
        let rec = match walker.next_record() {
            Ok(Record::Key(k)) if opts.salvage && is_nul_run(data, &k) => Err(Failure {
                offset: k.start as u64,
                msg: "NUL-filled region (its bytes read as empty keys)".into(),
                doing: "read-type",
                key: None,
                key_type: -1,
            }),
            other => other,
        };
        let rec = match rec {
            Ok(r) => r,
            Err(f) => {
                if !opts.salvage {
                    rep.failure = Some(f);
                    return Ok(rep);
                }
                let mut from = pending.as_ref().map_or(rec_start, |(_, k)| k.start) + 1;
                // In a NUL run, real records resume at its end at the
                // earliest (the last NUL may be a string's type byte).
                let nul_to = data[rec_start..]
                    .iter()
                    .position(|&b| b != 0)
                    .map_or(data.len(), |i| rec_start + i);
                let nul_end = (nul_to - rec_start >= 3).then_some(nul_to);
                if nul_end.is_some() {
                    from = from.max(nul_to - 1);
                }
                let at = resync(
                    data,
                    from,
                    rec_start,
                    walker.version,
                    opts,
                    &dups,
                    db,
                    nul_end,
                );
                let to = at.unwrap_or(data.len());
                let mut lost_from = rec_start;
                let mut swallowed = None;
                // The first byte of the NUL run the failure may sit in.
                let nul_from = data[..rec_start]
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(0, |i| i + 1);
                if let Some((pdb, k)) = pending.take() {
                    if to < k.end || (data.get(rec_start) == Some(&0) && nul_from + 1 < k.end) {
                        lost_from = k.start;
                        rep.keys_decoded -= 1;
                        swallowed = Some(k.key.to_vec());
                    } else {
                        keep(&mut out, &mut rep, &mut dups, pdb, k, data)?;
                    }
                }
                rep.lost.push(Lost {
                    from: lost_from as u64,
                    to: to as u64,
                    failure: f,
                    swallowed_key: swallowed,
                    resumed_key: None,
                });
                resumed = true;
                match at {
                    Some(p) => {
                        walker.resume_at(p);
                        continue;
                    }
                    None => break,
                }
            }
        };
        if let Some((pdb, k)) = pending.take() {
            keep(&mut out, &mut rep, &mut dups, pdb, k, data)?;
        }
        match rec {
            Record::Key(k) => {
                rep.keys_decoded += 1;
                if std::mem::take(&mut resumed) {
                    if let Some(l) = rep.lost.last_mut() {
                        l.resumed_key = Some(k.key.to_vec());
                    }
                }
                if matches!(k.value, KeyValue::Empty) {
                    rep.dropped.push(Dropped {
                        db,
                        key: k.key.to_vec(),
                        offset: k.start as u64,
                        why: "empty collection (the server skips it too)".into(),
                    });
                } else if db >= opts.databases {
                    rep.dropped.push(Dropped {
                        db,
                        key: k.key.to_vec(),
                        offset: k.start as u64,
                        why: format!("DB index out of range (databases {})", opts.databases),
                    });
                } else if opts
                    .slots
                    .as_ref()
                    .is_some_and(|s| !s.contains(key_slot(&k.key)))
                {
                    rep.keys_filtered += 1;
                } else {
                    pending = Some((db, k));
                }
            }
            Record::Aux { key, value } => {
                if !key.starts_with(b"repl-") {
                    out.buf.push(opcode::AUX);
                    write_string(&mut out.buf, &key, opts.compress);
                    write_string(&mut out.buf, &value, opts.compress);
                }
            }
            Record::ModuleAux { raw, .. } => out.buf.extend_from_slice(raw),
            Record::Function(code) => {
                out.buf.push(opcode::FUNCTION2);
                write_string(&mut out.buf, &code, opts.compress);
            }
            Record::SelectDb(n) => db = n,
            Record::ResizeDb { .. } | Record::SlotInfo => {}
            Record::Eof => {
                eof_end = Some(walker.offset() as usize);
                break;
            }
        }
    }
    if let Some((pdb, k)) = pending.take() {
        keep(&mut out, &mut rep, &mut dups, pdb, k, data)?;
    }
    if let Some(end) = eof_end {
        rep.checksum = Some(verify(data, end, walker.version));
    }
    out.buf.push(opcode::EOF);
    out.w.write_all(&out.buf)?;
    let crc = out.w.crc();
    out.w.write_all(&crc.to_le_bytes())?;
    out.w.flush()?;
    rep.bytes_written = out.w.written();
    Ok(rep)
}

/// Writes a decoded key unless it duplicates an earlier one.
fn keep<W: Write>(
    out: &mut Out<W>,
    rep: &mut RewriteReport,
    dups: &mut Dups,
    db: u64,
    k: KeyRecord,
    data: &[u8],
) -> io::Result<()> {
    if let Some(first) = dups.insert(db, &k.key, k.type_at as u64 + 1) {
        rep.dropped.push(Dropped {
            db,
            key: k.key.to_vec(),
            offset: k.start as u64,
            why: format!("duplicate key (first copy at offset {first} kept)"),
        });
        return Ok(());
    }
    rep.keys_written += 1;
    out.key(db, &k, data)
}

/// The input's checksum verdict.
fn verify(data: &[u8], eof_end: usize, version: u32) -> Checksum {
    if version < 5 {
        return Checksum::Absent;
    }
    let Some(stored) = data.get(eof_end..eof_end + 8) else {
        return Checksum::Mismatch {
            expected: crc64(0, &data[..eof_end]),
            stored: 0,
        };
    };
    let stored = u64::from_le_bytes(stored.try_into().expect("8 bytes"));
    let expected = crc64(0, &data[..eof_end]);
    if stored == 0 {
        Checksum::Disabled
    } else if stored == expected {
        Checksum::Ok
    } else {
        Checksum::Mismatch { expected, stored }
    }
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
