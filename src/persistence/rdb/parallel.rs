//! The record loop with values decoded on worker threads.
//!
//! This thread walks the records: it reads each key and finds where its
//! value ends without decoding it (lengths only), and sends the key
//! records in batches to the workers, round robin, over bounded channels
//! (at most [`IN_FLIGHT`] batches per worker, so a slow sink, e.g. with
//! key-load-delay, holds back the decoding instead of filling memory). It
//! then takes the decoded batches back in file order and hands each key to
//! the sink, so the sink sees exactly the calls, in the same order, that
//! the single-threaded loop makes.
//!
//! Control opcodes (databases, AUX fields, functions) wait until every
//! key before them is in the sink, then run here. Types the walk does not
//! size (streams, modules, hashes with field TTLs) are decoded here, in
//! order, the same way. At anything unusual (a value that fails to decode
//! or ends elsewhere than the walk found, a length the walk cannot read),
//! the keys before it go to the sink and [`records::load_records`] carries
//! on from that record, so every error is found and worded by the
//! single-threaded code, at the same record, with the same offset.

use super::decode::decode_object;
use super::load::{KeyMeta, LoadOptions, LoadSink, Step};
use super::read::{Len, Reader};
use super::records::{self, Counts};
use super::{opcode, types, Limits, RdbError};
use crate::keyspace::Value;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Batches a worker may hold (queued, being decoded, or done).
const IN_FLIGHT: usize = 2;
/// A batch is sent when it has this many records or input bytes (tests:
/// a few records, so that files of a dozen keys take several batches).
#[cfg(not(test))]
const BATCH_RECORDS: usize = 512;
#[cfg(test)]
const BATCH_RECORDS: usize = 3;
const BATCH_BYTES: usize = 512 << 10;

/// A key record found by the walk, its value not decoded yet.
struct Rec<'a> {
    /// Offset of the record's first byte (its first prefix opcode).
    start: usize,
    t: u8,
    key: Cow<'a, [u8]>,
    meta: KeyMeta,
    /// The value's bytes are `value..end`.
    value: usize,
    end: usize,
}

#[derive(Default)]
struct Batch<'a> {
    recs: Vec<Rec<'a>>,
    bytes: usize,
    /// The values decoded by a worker, in order, up to the first record
    /// that failed.
    values: Vec<Option<Value>>,
    failed: bool,
}

/// A worker's job: decodes every value of `b` over `data` (offsets and
/// bounds as in the whole input).
fn decode_batch(data: &[u8], lim: &Limits, b: &mut Batch) {
    for rec in &b.recs {
        let mut r = Reader::new(&data[..rec.end]);
        r.seek(rec.value);
        match decode_object(&mut r, rec.t, lim) {
            Ok(v) if r.remaining() == 0 => b.values.push(v),
            _ => {
                b.failed = true;
                return;
            }
        }
    }
}

/// The workers' channels and the batches in flight, oldest first.
struct Pool<'a> {
    to: Vec<SyncSender<Batch<'a>>>,
    from: Vec<Receiver<Batch<'a>>>,
    /// Start offset of each batch in flight (to resume from if its
    /// worker is gone).
    starts: VecDeque<usize>,
    sent: usize,
}

impl<'a> Pool<'a> {
    fn in_flight_of(&self, w: usize) -> usize {
        let n = self.to.len();
        let received = self.sent - self.starts.len();
        (received..self.sent).filter(|i| i % n == w).count()
    }

    /// Sends `b` (if it holds records) to the next worker, first taking
    /// back batches until that worker has room. `Some(offset)`: a batch
    /// failed and loading must resume there, single-threaded.
    fn send(
        &mut self,
        b: Batch<'a>,
        sink: &mut dyn LoadSink,
        counts: &mut Counts,
    ) -> Result<Option<usize>, RdbError> {
        if b.recs.is_empty() {
            return Ok(None);
        }
        let w = self.sent % self.to.len();
        while self.in_flight_of(w) >= IN_FLIGHT {
            if let Some(at) = self.take_oldest(sink, counts)? {
                return Ok(Some(at));
            }
        }
        let start = b.recs[0].start;
        if self.to[w].send(b).is_err() {
            return Ok(Some(start));
        }
        self.starts.push_back(start);
        self.sent += 1;
        Ok(None)
    }

    /// Takes back the oldest batch and hands its keys to the sink.
    fn take_oldest(
        &mut self,
        sink: &mut dyn LoadSink,
        counts: &mut Counts,
    ) -> Result<Option<usize>, RdbError> {
        let Some(start) = self.starts.pop_front() else {
            return Ok(None);
        };
        let w = (self.sent - self.starts.len() - 1) % self.to.len();
        match self.from[w].recv() {
            Ok(b) => insert(b, sink, counts),
            // The worker is gone (it panicked): decode from here on this
            // thread, which meets the same problem.
            Err(_) => Ok(Some(start)),
        }
    }

    /// Takes back every batch in flight, in order. After a failure the
    /// later batches are dropped: loading resumes at the failure.
    fn drain(
        &mut self,
        sink: &mut dyn LoadSink,
        counts: &mut Counts,
    ) -> Result<Option<usize>, RdbError> {
        while !self.starts.is_empty() {
            if let Some(at) = self.take_oldest(sink, counts)? {
                self.discard();
                return Ok(Some(at));
            }
        }
        Ok(None)
    }

    fn discard(&mut self) {
        while let Some(_start) = self.starts.pop_front() {
            let w = (self.sent - self.starts.len() - 1) % self.to.len();
            let _ = self.from[w].recv();
        }
    }
}

/// Hands the decoded keys of `b` to the sink, as the single-threaded loop
/// does; `Some(offset)` of the record that failed to decode.
fn insert(
    b: Batch,
    sink: &mut dyn LoadSink,
    counts: &mut Counts,
) -> Result<Option<usize>, RdbError> {
    let done = b.values.len();
    sink.prepare(&mut b.recs[..done].iter().map(|r| &*r.key));
    for (rec, v) in b.recs.iter().zip(b.values) {
        match v {
            None => {
                counts.empty += 1;
                sink.empty_key(&rec.key);
            }
            Some(v) => {
                sink.key(&rec.key, v, rec.meta).map_err(|msg| RdbError {
                    offset: rec.end as u64,
                    doing: "read-object-value",
                    key: Some(rec.key.to_vec()),
                    type_byte: Some(rec.t),
                    msg,
                })?;
                counts.keys += 1;
            }
        }
        sink.progress(rec.end as u64, counts.keys);
    }
    Ok(b.failed.then(|| b.recs[done].start))
}

/// Records from the reader's position up to and including the EOF
/// opcode, values decoded on `opts.workers` threads.
pub(super) fn load_records(
    r: &mut Reader,
    st: &mut Step,
    opts: &LoadOptions,
    sink: &mut dyn LoadSink,
) -> Result<Counts, RdbError> {
    let data = r.data();
    let lim = opts.limits;
    std::thread::scope(|scope| {
        let mut pool = Pool {
            to: Vec::new(),
            from: Vec::new(),
            starts: VecDeque::new(),
            sent: 0,
        };
        for _ in 0..opts.workers {
            let (to, jobs) = sync_channel::<Batch>(IN_FLIGHT);
            let (done, from) = sync_channel::<Batch>(IN_FLIGHT);
            let spawned = std::thread::Builder::new()
                .name("rdb-decode".into())
                .spawn_scoped(scope, move || {
                    for mut b in jobs {
                        decode_batch(data, &lim, &mut b);
                        if done.send(b).is_err() {
                            break;
                        }
                    }
                });
            if spawned.is_err() {
                break;
            }
            pool.to.push(to);
            pool.from.push(from);
        }
        if pool.to.is_empty() {
            return records::load_records(r, st, opts, sink, Counts::default());
        }
        let mut counts = Counts::default();
        let resume = walk(r, st, opts, sink, &mut pool, &mut counts);
        let resume = match resume {
            Ok(Some(at)) => at,
            Ok(None) => return Ok(counts),
            Err(e) => {
                pool.discard();
                return Err(e);
            }
        };
        drop(pool);
        r.seek(resume);
        records::load_records(r, st, opts, sink, counts)
    })
}

/// The walk: `Ok(None)` at the EOF opcode with every key in the sink,
/// `Ok(Some(offset))` to resume single-threaded at a record.
fn walk<'a>(
    r: &mut Reader<'a>,
    st: &mut Step,
    opts: &LoadOptions,
    sink: &mut dyn LoadSink,
    pool: &mut Pool<'a>,
    counts: &mut Counts,
) -> Result<Option<usize>, RdbError> {
    let mut meta = KeyMeta::default();
    let mut batch = Batch::default();
    let mut start = r.offset() as usize;
    loop {
        records::at_record(st);
        let Ok(t) = r.u8() else {
            return fall_back(start, batch, pool, sink, counts);
        };
        match records::meta_opcode(t, r, st, &mut meta) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(_) => return fall_back(start, batch, pool, sink, counts),
        }
        let sized = !records::is_control(t) && t != opcode::EOF && is_sized(t);
        if !sized {
            // Everything before goes to the sink first, then this record
            // is read here, in order.
            if let Some(at) = pool.send(std::mem::take(&mut batch), sink, counts)? {
                return Ok(Some(at));
            }
            if let Some(at) = pool.drain(sink, counts)? {
                return Ok(Some(at));
            }
            if t == opcode::EOF {
                records::at_end(st);
                return Ok(None);
            }
            if records::is_control(t) {
                records::control_opcode(t, r, st, sink)?;
            } else {
                records::key_record(t, r, st, &opts.limits, sink, meta, counts)?;
                meta = KeyMeta::default();
            }
            start = r.offset() as usize;
            continue;
        }
        let Ok(key) = r.string() else {
            return fall_back(start, batch, pool, sink, counts);
        };
        let value = r.offset() as usize;
        if skip_value(r, t).is_none() {
            return fall_back(start, batch, pool, sink, counts);
        }
        let end = r.offset() as usize;
        batch.bytes += end - start;
        batch.recs.push(Rec {
            start,
            t,
            key,
            meta,
            value,
            end,
        });
        meta = KeyMeta::default();
        start = end;
        if batch.recs.len() >= BATCH_RECORDS || batch.bytes >= BATCH_BYTES {
            if let Some(at) = pool.send(std::mem::take(&mut batch), sink, counts)? {
                return Ok(Some(at));
            }
        }
    }
}

/// Resumes single-threaded at the record starting at `start`, or at an
/// earlier record that failed to decode.
fn fall_back<'a>(
    start: usize,
    batch: Batch<'a>,
    pool: &mut Pool<'a>,
    sink: &mut dyn LoadSink,
    counts: &mut Counts,
) -> Result<Option<usize>, RdbError> {
    if let Some(at) = pool.send(batch, sink, counts)? {
        return Ok(Some(at));
    }
    Ok(Some(pool.drain(sink, counts)?.unwrap_or(start)))
}

/// Whether the walk can find where a value of type `t` ends.
fn is_sized(t: u8) -> bool {
    use types::*;
    matches!(
        t,
        STRING
            | LIST
            | SET
            | ZSET
            | ZSET_2
            | HASH
            | HASH_ZIPMAP
            | LIST_ZIPLIST
            | SET_INTSET
            | ZSET_ZIPLIST
            | HASH_ZIPLIST
            | LIST_QUICKLIST
            | HASH_LISTPACK
            | ZSET_LISTPACK
            | LIST_QUICKLIST_2
            | SET_LISTPACK
    )
}

/// Moves past one string in any encoding without decoding it.
fn skip_string(r: &mut Reader) -> Option<()> {
    let n = match r.len_or_enc().ok()? {
        Len::Plain(n) => n,
        Len::Encoded(0) => 1,
        Len::Encoded(1) => 2,
        Len::Encoded(2) => 4,
        Len::Encoded(3) => {
            let clen = r.length().ok()?;
            r.length().ok()?;
            clen
        }
        Len::Encoded(_) => return None,
    };
    r.bytes(n).ok().map(|_| ())
}

/// Moves past a value of a type [`is_sized`] accepts, reading lengths
/// only; `None` if they do not add up (the decoder then says why).
fn skip_value(r: &mut Reader, t: u8) -> Option<()> {
    use types::*;
    match t {
        LIST | SET | LIST_QUICKLIST => {
            for _ in 0..r.count().ok()? {
                skip_string(r)?;
            }
        }
        HASH => {
            for _ in 0..r.count().ok()? {
                skip_string(r)?;
                skip_string(r)?;
            }
        }
        ZSET => {
            for _ in 0..r.count().ok()? {
                skip_string(r)?;
                let l = r.u8().ok()?;
                if l < 253 {
                    r.bytes(l as u64).ok()?;
                }
            }
        }
        ZSET_2 => {
            for _ in 0..r.count().ok()? {
                skip_string(r)?;
                r.bytes(8).ok()?;
            }
        }
        LIST_QUICKLIST_2 => {
            for _ in 0..r.count().ok()? {
                r.length().ok()?;
                skip_string(r)?;
            }
        }
        _ => skip_string(r)?,
    }
    Some(())
}

#[cfg(test)]
#[path = "parallel_tests.rs"]
mod tests;
