//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! HLLs are plain strings in Redis 7.0's byte layout (the codec is
//! [`crate::keyspace::hll`]); these handlers add Redis's command rules on
//! top: the type checks (a non-HLL string is "WRONGTYPE Key is not a valid
//! HyperLogLog string value."), INVALIDOBJ for corrupted sparse data,
//! PFCOUNT's cached cardinality written back into the string (a change
//! that counts as dirty and so propagates PFCOUNT), PFMERGE's rule that
//! the target becomes dense when any input is dense, and the "pfadd"
//! keyspace event that PFADD and PFMERGE fire.

use super::ctx::notify;
use super::table::{flags::*, CommandDef, KeyPos, K1, KALL};
use super::Ctx;
use crate::keyspace::hll::{self, Corrupt};
use crate::keyspace::Value;
use bytes::Bytes;

const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

const K2: KeyPos = KeyPos::Range {
    first: 2,
    last: 2,
    step: 1,
};

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("pfadd", -2, WRITE | DENYOOM | FAST, K1, pfadd).doc(
        "hyperloglog",
        "2.8.9",
        "Adds the specified elements to the specified HyperLogLog.",
        "O(1) to add every element.",
    ),
    CommandDef::new("pfcount", -2, READONLY | MAY_REPLICATE, KALL, pfcount).doc(
        "hyperloglog",
        "2.8.9",
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
        "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
    ),
    CommandDef::new("pfmerge", -2, WRITE | DENYOOM, KALL, pfmerge).doc(
        "hyperloglog",
        "2.8.9",
        "Merge N different HyperLogLogs into a single one.",
        "O(N) to merge N HyperLogLogs, but with high constant times.",
    ),
    CommandDef::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, K2, pfdebug).doc(
        "hyperloglog",
        "2.8.9",
        "Internal commands for debugging HyperLogLog values",
        "N/A",
    ),
    CommandDef::new("pfselftest", 1, ADMIN, KeyPos::None, pfselftest).doc(
        "hyperloglog",
        "2.8.9",
        "An internal command for testing HyperLogLog values",
        "N/A",
    ),
];

/// Redis's isHLLObjectOrReply: Err with the error to send.
fn check(v: &Value) -> Result<(), &'static str> {
    match v {
        Value::Emb(b) if hll::is_valid_header(b.as_slice()) => Ok(()),
        Value::Raw(b) if hll::is_valid_header(b) => Ok(()),
        Value::Int(_) | Value::Emb(_) | Value::Raw(_) => Err(NOT_HLL),
        _ => Err(super::err::WRONGTYPE),
    }
}

/// Checks the value at `key` (if any) for write access. Ok(false): no
/// key; Ok(true): a valid HLL; Err: the error was sent.
fn lookup_hll(ctx: &mut Ctx, key: &[u8], write: bool) -> Result<bool, ()> {
    let found = if write {
        ctx.lookup_write(key).map(|e| check(&e.value))
    } else {
        ctx.lookup_read(key).map(|e| check(&e.value))
    };
    match found {
        None => Ok(false),
        Some(Ok(())) => Ok(true),
        Some(Err(msg)) => {
            ctx.out.error(msg);
            Err(())
        }
    }
}

/// Runs `f` on the raw (unshared) buffer of an existing string key, as
/// after Redis's dbUnshareStringValue.
fn with_buf<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let e = ctx.db().get_mut(key).expect("key checked by the caller");
    let buf = e.value.make_raw().expect("string checked by the caller");
    f(buf)
}

fn pfadd(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let max_bytes = ctx.srv.config.hll_sparse_max_bytes;
    let mut updated: u64 = 0;
    match lookup_hll(ctx, key, true) {
        Err(()) => return,
        Ok(true) => {}
        Ok(false) => {
            ctx.set_key(key, Value::Raw(Box::new(hll::new_sparse())), false);
            updated += 1;
        }
    }
    let res = with_buf(ctx, key, |buf| {
        let changed = hll::add_all(buf, &args[2..], max_bytes)?;
        if changed + updated > 0 {
            hll::invalidate_cache(buf);
        }
        Ok::<u64, Corrupt>(changed)
    });
    match res {
        Err(Corrupt) => ctx.out.error(INVALID),
        Ok(changed) => {
            updated += changed;
            if updated > 0 {
                ctx.key_modified(key);
                ctx.notify(notify::STRING, "pfadd", key);
                ctx.dirty += updated;
            }
            ctx.out.int(if updated > 0 { 1 } else { 0 });
        }
    }
}

/// Merges the HLL at `key` (if any) into `max`: Ok(true) if it was dense;
/// Err with the error to send.
fn merge_key(ctx: &mut Ctx, key: &[u8], max: &mut hll::RawRegisters) -> Result<bool, &'static str> {
    let Some(e) = ctx.lookup_read(key) else {
        return Ok(false);
    };
    check(&e.value)?;
    let bytes = match &e.value {
        Value::Emb(b) => b.as_slice(),
        Value::Raw(b) => b.as_slice(),
        _ => return Ok(false),
    };
    hll::merge_into(max, bytes).map_err(|Corrupt| INVALID)?;
    Ok(bytes[4] == hll::DENSE)
}

fn pfcount(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() > 2 {
        let mut max = [0u8; hll::REGISTERS];
        for key in &args[1..] {
            if let Err(msg) = merge_key(ctx, key, &mut max) {
                ctx.out.error(msg);
                return;
            }
        }
        ctx.out.int(hll::count_raw(&max) as i64);
        return;
    }
    let key = &args[1];
    match lookup_hll(ctx, key, false) {
        Err(()) => return,
        Ok(false) => {
            ctx.out.int(0);
            return;
        }
        Ok(true) => {}
    }
    let res = with_buf(ctx, key, |buf| {
        if let Some(card) = hll::cached_card(buf) {
            return Ok((card, false));
        }
        let card = hll::count(buf)?;
        hll::set_cached_card(buf, card);
        Ok::<_, Corrupt>((card, true))
    });
    match res {
        Err(Corrupt) => ctx.out.error(INVALID),
        Ok((card, wrote)) => {
            if wrote {
                ctx.key_modified(key);
                ctx.dirty += 1;
                // Redis propagates any command that made a change, even a
                // read-only one; keel's dispatcher only propagates argv of
                // WRITE commands, so name it explicitly.
                ctx.propagate(args.to_vec());
            }
            ctx.out.int(card as i64);
        }
    }
}

fn pfmerge(ctx: &mut Ctx, args: &[Bytes]) {
    let mut max = [0u8; hll::REGISTERS];
    let mut use_dense = false;
    for key in &args[1..] {
        match merge_key(ctx, key, &mut max) {
            Ok(dense) => use_dense |= dense,
            Err(msg) => {
                ctx.out.error(msg);
                return;
            }
        }
    }
    let dest = &args[1];
    if ctx.lookup_write(dest).is_none() {
        ctx.set_key(dest, Value::Raw(Box::new(hll::new_sparse())), false);
    }
    let max_bytes = ctx.srv.config.hll_sparse_max_bytes;
    let res = with_buf(ctx, dest, |buf| {
        if use_dense {
            hll::sparse_to_dense(buf)?;
        }
        for (i, &m) in max.iter().enumerate() {
            if m != 0 {
                // Redis ignores a failure here: the target was validated.
                let _ = hll::set_register(buf, i, m, max_bytes);
            }
        }
        hll::invalidate_cache(buf);
        Ok::<(), Corrupt>(())
    });
    if res.is_err() {
        ctx.out.error(INVALID);
        return;
    }
    ctx.key_modified(dest);
    ctx.notify(notify::STRING, "pfadd", dest);
    ctx.dirty += 1;
    ctx.out.ok();
}

fn pfdebug(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[2];
    match lookup_hll(ctx, key, true) {
        Err(()) => return,
        Ok(false) => {
            ctx.out.error("ERR The specified key does not exist");
            return;
        }
        Ok(true) => {}
    }
    let sub = args[1].to_ascii_lowercase();
    enum Out {
        Regs(Vec<u8>),
        Text(String),
        Status(&'static str),
        Int(i64),
        Err(String),
    }
    let mut converted = false;
    let out = with_buf(ctx, key, |buf| {
        let sparse = buf[4] == hll::SPARSE;
        match sub.as_slice() {
            b"getreg" => {
                if sparse {
                    if hll::sparse_to_dense(buf).is_err() {
                        return Out::Err(INVALID.into());
                    }
                    converted = true;
                }
                Out::Regs(hll::registers(buf))
            }
            b"decode" if !sparse => Out::Err("ERR HLL encoding is not sparse".into()),
            b"decode" => Out::Text(hll::decode_sparse(buf)),
            b"encoding" => Out::Status(if sparse { "sparse" } else { "dense" }),
            b"todense" => {
                if sparse {
                    if hll::sparse_to_dense(buf).is_err() {
                        return Out::Err(INVALID.into());
                    }
                    converted = true;
                }
                Out::Int(converted as i64)
            }
            _ => Out::Err(format!(
                "ERR Unknown PFDEBUG subcommand '{}'",
                String::from_utf8_lossy(&args[1])
            )),
        }
    });
    if converted {
        // Force propagation of the encoding change, as Redis does.
        ctx.dirty += 1;
    }
    match out {
        Out::Regs(regs) => {
            ctx.out.array_len(regs.len());
            for r in regs {
                ctx.out.int(r as i64);
            }
        }
        Out::Text(t) => ctx.out.bulk(t.as_bytes()),
        Out::Status(s) => ctx.out.simple(s),
        Out::Int(n) => ctx.out.int(n),
        Out::Err(e) => ctx.out.error(&e),
    }
}

fn pfselftest(ctx: &mut Ctx, _args: &[Bytes]) {
    let max_bytes = ctx.srv.config.hll_sparse_max_bytes;
    match hll::selftest(&mut rand::thread_rng(), max_bytes) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.out.error(&format!("ERR {e}")),
    }
}

#[cfg(test)]
#[path = "hyperloglog_tests.rs"]
mod tests;
