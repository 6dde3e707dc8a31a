//! Sorted set commands (Redis 7.0's t_zset.c): the single-key commands
//! here, ranges in [`range`], pops and random members in [`pop`], the
//! multi-key algebra and ZSCAN in [`setops`].
//!
//! Every handler follows Redis's order of checks (syntax and number
//! parsing before the key lookup, WRONGTYPE after), fires the same
//! keyspace events, counts `dirty` as Redis does and deletes a key whose
//! set became empty (with a `del` event).

mod pop;
mod range;
mod setops;
mod table;

pub use table::COMMANDS;

use super::ctx::notify;
use super::{err, Ctx};
use crate::keyspace::zset::{parse_lex_bound, parse_score_bound, LexRange, ScoreRange};
use crate::keyspace::zset::{ZLimits, ZSet};
use crate::keyspace::Value;
use crate::protocol::Reply;
use bytes::Bytes;

pub(crate) const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";

/// The listpack thresholds from the configuration.
pub(crate) fn limits(ctx: &Ctx) -> ZLimits {
    ZLimits {
        max_entries: ctx.srv.config.zset_max_listpack_entries as usize,
        max_value: ctx.srv.config.zset_max_listpack_value as usize,
    }
}

/// Looks a sorted set up for reading. `Err` after replying WRONGTYPE.
pub(crate) fn read<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<Option<(&'c ZSet, &'c mut Reply)>, ()> {
    match ctx.lookup_read(key) {
        None => return Ok(None),
        Some(e) if !matches!(e.value, Value::ZSet(_)) => {
            ctx.out.error(err::WRONGTYPE);
            return Err(());
        }
        Some(_) => {}
    }
    let db = ctx.client.db;
    match ctx.srv.dbs[db].get(key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => Ok(Some((z, &mut *ctx.out))),
        _ => Ok(None),
    }
}

/// Looks a sorted set up for writing. `Err` after replying WRONGTYPE.
pub(crate) fn write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut ZSet>, ()> {
    match ctx.lookup_write(key) {
        None => return Ok(None),
        Some(e) if !matches!(e.value, Value::ZSet(_)) => {
            ctx.out.error(err::WRONGTYPE);
            return Err(());
        }
        Some(_) => {}
    }
    match ctx.db().get_mut(key).map(|e| &mut e.value) {
        Some(Value::ZSet(z)) => Ok(Some(z)),
        _ => Ok(None),
    }
}

/// Deletes `key` if its set is now empty, firing `del`. True if deleted.
pub(crate) fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) -> bool {
    let empty = matches!(
        ctx.db().get(key).map(|e| &e.value),
        Some(Value::ZSet(z)) if z.is_empty()
    );
    if empty {
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    empty
}

/// getLongFromObjectOrReply (with an optional custom message).
pub(crate) fn parse_long(ctx: &mut Ctx, arg: &[u8], msg: Option<&str>) -> Option<i64> {
    let v = crate::util::num::parse_i64(arg);
    if v.is_none() {
        ctx.out.error(msg.unwrap_or(err::NOT_INT));
    }
    v
}

/// getRangeLongFromObjectOrReply.
pub(crate) fn parse_long_range(
    ctx: &mut Ctx,
    arg: &[u8],
    min: i64,
    max: i64,
    msg: Option<&str>,
) -> Option<i64> {
    let v = parse_long(ctx, arg, msg)?;
    if v < min || v > max {
        match msg {
            Some(m) => ctx.out.error(m),
            None => ctx.out.error(&format!(
                "ERR value is out of range, value must between {min} and {max}"
            )),
        }
        return None;
    }
    Some(v)
}

/// getDoubleFromObjectOrReply.
pub(crate) fn parse_double(ctx: &mut Ctx, arg: &[u8], msg: Option<&str>) -> Option<f64> {
    let v = crate::util::num::parse_f64(arg);
    if v.is_none() {
        ctx.out.error(msg.unwrap_or(err::NOT_FLOAT));
    }
    v
}

pub(crate) fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, minex) = parse_score_bound(min)?;
    let (max, maxex) = parse_score_bound(max)?;
    Some(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

pub(crate) fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<LexRange> {
    Some(LexRange {
        min: parse_lex_bound(min)?,
        max: parse_lex_bound(max)?,
    })
}

/// Writes (member, score) pairs the way ZRANGE does: a flat array in
/// RESP2 with scores, an array of 2-element arrays in RESP3.
pub(crate) fn reply_elems<'a>(
    out: &mut Reply,
    items: impl Iterator<Item = (&'a [u8], f64)>,
    n: usize,
    withscores: bool,
) {
    if withscores && !out.is_resp3() {
        out.array_len(2 * n);
    } else {
        out.array_len(n);
    }
    for (m, s) in items.take(n) {
        if withscores && out.is_resp3() {
            out.array_len(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    }
}

#[derive(Clone, Copy, Default)]
struct AddFlags {
    incr: bool,
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

#[derive(PartialEq, Eq)]
enum AddOutcome {
    Nan,
    Added,
    Updated,
    Nop,
    Unchanged,
}

/// zsetAdd: applies one score/member pair under the ZADD flags.
fn zset_add(
    z: &mut ZSet,
    mut score: f64,
    member: &[u8],
    f: AddFlags,
    lim: ZLimits,
) -> (AddOutcome, f64) {
    if score.is_nan() {
        return (AddOutcome::Nan, score);
    }
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return (AddOutcome::Nop, score);
            }
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return (AddOutcome::Nan, score);
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return (AddOutcome::Nop, score);
            }
            if score != cur {
                z.update(member, cur, score);
                (AddOutcome::Updated, score)
            } else {
                (AddOutcome::Unchanged, score)
            }
        }
        None if !f.xx => {
            z.insert_member(member, score, lim);
            (AddOutcome::Added, score)
        }
        None => (AddOutcome::Nop, score),
    }
}

pub(crate) fn zadd(ctx: &mut Ctx, args: &[Bytes]) {
    zadd_generic(ctx, args, false);
}

fn zincrby(ctx: &mut Ctx, args: &[Bytes]) {
    zadd_generic(ctx, args, true);
}

fn zadd_generic(ctx: &mut Ctx, args: &[Bytes], zincrby: bool) {
    let key = &args[1];
    let mut f = AddFlags {
        incr: zincrby,
        ..Default::default()
    };
    let mut ch = false;
    let mut idx = 2;
    if !zincrby {
        while idx < args.len() {
            let a = &args[idx][..];
            if a.eq_ignore_ascii_case(b"nx") {
                f.nx = true;
            } else if a.eq_ignore_ascii_case(b"xx") {
                f.xx = true;
            } else if a.eq_ignore_ascii_case(b"ch") {
                ch = true;
            } else if a.eq_ignore_ascii_case(b"incr") {
                f.incr = true;
            } else if a.eq_ignore_ascii_case(b"gt") {
                f.gt = true;
            } else if a.eq_ignore_ascii_case(b"lt") {
                f.lt = true;
            } else {
                break;
            }
            idx += 1;
        }
    }
    let rest = args.len() - idx;
    if !rest.is_multiple_of(2) || rest == 0 {
        ctx.out.error(err::SYNTAX);
        return;
    }
    if f.nx && f.xx {
        ctx.out
            .error("ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        ctx.out
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if f.incr && rest > 2 {
        ctx.out
            .error("ERR INCR option supports a single increment-element pair");
        return;
    }
    // Every score is checked before anything changes; a few fit on the
    // stack (no allocation for the common single pair).
    let (mut inline, mut heap) = ([0.0; 4], Vec::new());
    let scores: &mut [f64] = if rest / 2 <= inline.len() {
        &mut inline[..rest / 2]
    } else {
        heap.resize(rest / 2, 0.0);
        &mut heap
    };
    for (j, slot) in scores.iter_mut().enumerate() {
        let Some(s) = parse_double(ctx, &args[idx + 2 * j], None) else {
            return;
        };
        *slot = s;
    }
    let scores = &*scores;
    let lim = limits(ctx);
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    let mut nan = false;
    let mut add_all = |z: &mut ZSet| {
        for (j, &score) in scores.iter().enumerate() {
            let (outcome, newscore) = zset_add(z, score, &args[idx + 1 + 2 * j], f, lim);
            match outcome {
                AddOutcome::Nan => {
                    nan = true;
                    break;
                }
                AddOutcome::Added => added += 1,
                AddOutcome::Updated => updated += 1,
                _ => {}
            }
            if outcome != AddOutcome::Nop {
                processed += 1;
            }
            last = newscore;
        }
    };
    // One lookup: the members go into an existing set in place, or into a
    // new set that is then stored.
    match ctx.lookup_write(key).map(|e| &mut e.value) {
        Some(Value::ZSet(z)) => add_all(z),
        Some(_) => {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
        None if f.xx => {
            reply_zadd(ctx, f, ch, 0, 0, 0, 0.0);
            return;
        }
        None => {
            let mut z = ZSet::for_first(args[idx + 1].len(), lim);
            add_all(&mut z);
            ctx.set_key(key, Value::ZSet(z), false);
        }
    }
    if nan {
        ctx.out.error(NAN_ERR);
    } else {
        ctx.dirty += (added + updated) as u64;
        reply_zadd(ctx, f, ch, added, updated, processed, last);
    }
    if added + updated > 0 {
        ctx.key_modified(key);
        ctx.notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
}

fn reply_zadd(
    ctx: &mut Ctx,
    f: AddFlags,
    ch: bool,
    added: i64,
    updated: i64,
    processed: i64,
    score: f64,
) {
    if f.incr {
        if processed > 0 {
            ctx.out.double(score);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
}

fn zrem(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let mut deleted = 0;
    {
        let z = match write(ctx, key) {
            Err(()) => return,
            Ok(None) => {
                ctx.out.int(0);
                return;
            }
            Ok(Some(z)) => z,
        };
        for m in &args[2..] {
            if z.remove(m) {
                deleted += 1;
            }
            if z.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.notify(notify::ZSET, "zrem", key);
        delete_if_empty(ctx, key);
        ctx.key_modified(key);
        ctx.dirty += deleted;
    }
    ctx.out.int(deleted as i64);
}

fn zcard(ctx: &mut Ctx, args: &[Bytes]) {
    match read(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some((z, out))) => out.int(z.len() as i64),
    }
}

fn zscore(ctx: &mut Ctx, args: &[Bytes]) {
    match read(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.null(),
        Ok(Some((z, out))) => match z.score(&args[2]) {
            Some(s) => out.double(s),
            None => out.null(),
        },
    }
}

fn zmscore(ctx: &mut Ctx, args: &[Bytes]) {
    let z = match read(ctx, &args[1]) {
        Err(()) => return,
        Ok(z) => z,
    };
    let members = &args[2..];
    match z {
        None => {
            ctx.out.array_len(members.len());
            for _ in members {
                ctx.out.null();
            }
        }
        Some((z, out)) => {
            out.array_len(members.len());
            for m in members {
                match z.score(m) {
                    Some(s) => out.double(s),
                    None => out.null(),
                }
            }
        }
    }
}

fn zrank(ctx: &mut Ctx, args: &[Bytes]) {
    zrank_generic(ctx, args, false);
}

fn zrevrank(ctx: &mut Ctx, args: &[Bytes]) {
    zrank_generic(ctx, args, true);
}

fn zrank_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) {
    match read(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.null(),
        Ok(Some((z, out))) => match z.rank(&args[2]) {
            Some(r) if rev => out.int((z.len() - 1 - r) as i64),
            Some(r) => out.int(r as i64),
            None => out.null(),
        },
    }
}

fn zcount(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(r) = parse_score_range(&args[2], &args[3]) else {
        ctx.out.error("ERR min or max is not a float");
        return;
    };
    match read(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some((z, out))) => {
            let (a, b) = z.score_span(&r);
            out.int((b - a) as i64)
        }
    }
}

fn zlexcount(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(r) = parse_lex_range(&args[2], &args[3]) else {
        ctx.out.error("ERR min or max not valid string range item");
        return;
    };
    match read(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some((z, out))) => {
            let (a, b) = z.lex_span(&r);
            out.int((b - a) as i64)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RemBy {
    Rank,
    Score,
    Lex,
}

fn zremrangebyrank(ctx: &mut Ctx, args: &[Bytes]) {
    zremrange(ctx, args, RemBy::Rank);
}

fn zremrangebyscore(ctx: &mut Ctx, args: &[Bytes]) {
    zremrange(ctx, args, RemBy::Score);
}

fn zremrangebylex(ctx: &mut Ctx, args: &[Bytes]) {
    zremrange(ctx, args, RemBy::Lex);
}

fn zremrange(ctx: &mut Ctx, args: &[Bytes], by: RemBy) {
    let key = &args[1];
    let (mut score, mut lex, mut ranks) = (None, None, (0i64, 0i64));
    let event = match by {
        RemBy::Rank => {
            let Some(s) = parse_long(ctx, &args[2], None) else {
                return;
            };
            let Some(e) = parse_long(ctx, &args[3], None) else {
                return;
            };
            ranks = (s, e);
            "zremrangebyrank"
        }
        RemBy::Score => {
            score = parse_score_range(&args[2], &args[3]);
            if score.is_none() {
                ctx.out.error("ERR min or max is not a float");
                return;
            }
            "zremrangebyscore"
        }
        RemBy::Lex => {
            lex = parse_lex_range(&args[2], &args[3]);
            if lex.is_none() {
                ctx.out.error("ERR min or max not valid string range item");
                return;
            }
            "zremrangebylex"
        }
    };
    let deleted = {
        let z = match write(ctx, key) {
            Err(()) => return,
            Ok(None) => {
                ctx.out.int(0);
                return;
            }
            Ok(Some(z)) => z,
        };
        let (a, b) = match by {
            RemBy::Rank => {
                let len = z.len() as i64;
                let (mut s, mut e) = ranks;
                if s < 0 {
                    s += len;
                }
                if e < 0 {
                    e += len;
                }
                s = s.max(0);
                if s > e || s >= len {
                    ctx.out.int(0);
                    return;
                }
                (s as usize, (e.min(len - 1) + 1) as usize)
            }
            RemBy::Score => z.score_span(score.as_ref().expect("parsed")),
            RemBy::Lex => z.lex_span(lex.as_ref().expect("parsed")),
        };
        z.remove_ranks(a, b).len()
    };
    if deleted > 0 {
        ctx.key_modified(key);
        ctx.notify(notify::ZSET, event, key);
        delete_if_empty(ctx, key);
    }
    ctx.dirty += deleted as u64;
    ctx.out.int(deleted as i64);
}

#[cfg(test)]
mod tests;
