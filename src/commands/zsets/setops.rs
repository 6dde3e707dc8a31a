//! Multi-key sorted set algebra (ZUNION, ZINTER, ZDIFF, their STORE forms
//! and ZINTERCARD) as t_zset.c's zunionInterDiffGenericCommand, and ZSCAN.
//!
//! Inputs may be sorted sets or plain sets (members scored 1, as
//! zuiNext does); [`Source`] is the common view of both.

use super::range::store_result;
use super::{limits, parse_double, parse_long, reply_elems};
use crate::commands::{err, Ctx};
use crate::keyspace::set::SetValue;
use crate::keyspace::zset::{ZEncoding, ZSet};
use crate::keyspace::Value;
use bytes::Bytes;
use std::collections::HashMap;

/// One input of the algebra: the members (with scores) of a key.
pub(crate) enum Source<'a> {
    Missing,
    ZSet(&'a ZSet),
    Set(&'a SetValue),
}

impl<'a> Source<'a> {
    /// The view of a value, or None if the type cannot be an input
    /// (WRONGTYPE). The integrator adds plain sets here, scored 1.0.
    pub(crate) fn of(v: Option<&'a Value>) -> Option<Source<'a>> {
        match v {
            None => Some(Source::Missing),
            Some(Value::ZSet(z)) => Some(Source::ZSet(z)),
            Some(Value::Set(s)) => Some(Source::Set(s)),
            Some(_) => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::ZSet(z) => z.len(),
            Source::Set(s) => s.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::ZSet(z) => z.score(m),
            Source::Set(s) => s.contains(m).then_some(1.0),
        }
    }

    /// Members with their scores (a plain set's members score 1).
    fn members(&self) -> Box<dyn Iterator<Item = (Bytes, f64)> + 'a> {
        match self {
            Source::Missing => Box::new(std::iter::empty()),
            Source::ZSet(z) => Box::new(z.iter().map(|e| (Bytes::copy_from_slice(e.1), e.0))),
            Source::Set(s) => Box::new(s.iter().map(|m| (Bytes::copy_from_slice(&m), 1.0))),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggr {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, val: f64, a: Aggr) {
    match a {
        Aggr::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggr::Min => {
            if val < *target {
                *target = val
            }
        }
        Aggr::Max => {
            if val > *target {
                *target = val
            }
        }
    }
}

pub(super) fn zunion(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, Op::Union, false);
}
pub(super) fn zinter(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, Op::Inter, false);
}
pub(super) fn zdiff(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, Op::Diff, false);
}
pub(super) fn zunionstore(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 2, Some(&args[1]), Op::Union, false);
}
pub(super) fn zinterstore(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 2, Some(&args[1]), Op::Inter, false);
}
pub(super) fn zdiffstore(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 2, Some(&args[1]), Op::Diff, false);
}
pub(super) fn zintercard(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, Op::Inter, true);
}

fn generic(ctx: &mut Ctx, args: &[Bytes], nk: usize, dst: Option<&Bytes>, op: Op, card_only: bool) {
    let Some(setnum) = parse_long(ctx, &args[nk], None) else {
        return;
    };
    if setnum < 1 {
        ctx.out.error(&format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.cmd.name
        ));
        return;
    }
    if setnum > (args.len() - nk - 1) as i64 {
        ctx.out.error(err::SYNTAX);
        return;
    }
    let setnum = setnum as usize;
    let keys = &args[nk + 1..nk + 1 + setnum];
    for k in keys {
        let ok = match ctx.lookup_read(k) {
            None => true,
            Some(e) => Source::of(Some(&e.value)).is_some(),
        };
        if !ok {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
    }
    let mut weights = vec![1.0; setnum];
    let mut aggr = Aggr::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = nk + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args[j].to_ascii_lowercase();
        if op != Op::Diff && !card_only && remaining > setnum && a == b"weights" {
            j += 1;
            for w in weights.iter_mut() {
                let Some(v) = parse_double(ctx, &args[j], Some("ERR weight value is not a float"))
                else {
                    return;
                };
                *w = v;
                j += 1;
            }
            continue;
        } else if op != Op::Diff && !card_only && remaining >= 2 && a == b"aggregate" {
            aggr = match args[j + 1].to_ascii_lowercase().as_slice() {
                b"sum" => Aggr::Sum,
                b"min" => Aggr::Min,
                b"max" => Aggr::Max,
                _ => {
                    ctx.out.error(err::SYNTAX);
                    return;
                }
            };
            j += 2;
            continue;
        } else if dst.is_none() && !card_only && a == b"withscores" {
            withscores = true;
        } else if card_only && remaining >= 2 && a == b"limit" {
            let lim = crate::util::num::parse_i64(&args[j + 1]);
            match lim {
                Some(l) if l >= 0 => limit = l,
                _ => {
                    ctx.out.error("ERR LIMIT can't be negative");
                    return;
                }
            }
            j += 1;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
        j += 1;
    }
    let db = ctx.client.db;
    let d = &ctx.srv.dbs[db];
    let mut srcs: Vec<(Source, f64)> = keys
        .iter()
        .zip(&weights)
        .map(|(k, &w)| {
            let src = Source::of(d.get(k).map(|e| &e.value)).unwrap_or(Source::Missing);
            (src, w)
        })
        .collect();
    if op != Op::Diff {
        srcs.sort_by_key(|(s, _)| s.len());
    }
    let mut result: HashMap<Bytes, f64> = HashMap::new();
    let mut card = 0usize;
    match op {
        Op::Inter => {
            if srcs[0].0.len() > 0 {
                'outer: for (m, s) in srcs[0].0.members() {
                    let mut score = srcs[0].1 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (src, w) in &srcs[1..] {
                        match src.score(&m) {
                            // Unlike the first input's score, a NaN product is
                            // not zeroed here: SUM zeroes a NaN total, MIN and
                            // MAX ignore it (zunionInterAggregate).
                            Some(v) => aggregate(&mut score, w * v, aggr),
                            None => continue 'outer,
                        }
                    }
                    if card_only {
                        card += 1;
                        if limit > 0 && card as i64 >= limit {
                            break;
                        }
                    } else {
                        result.insert(m, score);
                    }
                }
            }
        }
        Op::Union => {
            for (src, w) in &srcs {
                for (m, s) in src.members() {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match result.get_mut(&m) {
                        Some(t) => aggregate(t, score, aggr),
                        None => {
                            result.insert(m, score);
                        }
                    }
                }
            }
        }
        Op::Diff => {
            for (m, s) in srcs[0].0.members() {
                if srcs[1..].iter().all(|(src, _)| src.score(&m).is_none()) {
                    result.insert(m, s);
                }
            }
        }
    }
    if card_only {
        ctx.out.int(card as i64);
        return;
    }
    let lim = limits(ctx);
    let mut z = ZSet::new(ZEncoding::Skiplist);
    for (m, s) in result {
        z.insert_new(m, s, lim);
    }
    match dst {
        Some(dst) => {
            z.shrink_if_fits(lim);
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            store_result(ctx, dst, z, event);
        }
        None => {
            let items = z.iter().map(|e| (e.1, e.0));
            reply_elems(ctx.out, items, z.len(), withscores);
        }
    }
}

/// Redis's d2string: integral values print as integers, others as %.17g.
pub(crate) fn d2string(v: f64) -> String {
    if v.is_finite() && v != 0.0 && v.fract() == 0.0 && v.abs() <= (i64::MAX / 2) as f64 {
        (v as i64).to_string()
    } else {
        crate::util::num::fmt_double(v)
    }
}

/// parseScanCursorOrReply: strtoul over the whole argument.
pub(crate) fn parse_cursor(arg: &[u8]) -> Option<u64> {
    if arg.first().is_some_and(|c| c.is_ascii_whitespace()) {
        return None;
    }
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return if arg.is_empty() { Some(0) } else { None };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. A listpack set is
/// returned whole with cursor 0; a skiplist set is walked in order of a
/// fixed member hash, the cursor being the next hash to visit, so every
/// member present for the whole scan is returned at least once.
pub(super) fn zscan(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(cursor) = parse_cursor(&args[2]) else {
        ctx.out.error("ERR invalid cursor");
        return;
    };
    let mut count = 10i64;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let left = args.len() - i;
        if args[i].eq_ignore_ascii_case(b"count") && left >= 2 {
            let Some(c) = parse_long(ctx, &args[i + 1], None) else {
                return;
            };
            if c < 1 {
                ctx.out.error(err::SYNTAX);
                return;
            }
            count = c;
        } else if args[i].eq_ignore_ascii_case(b"match") && left >= 2 {
            pattern = Some(&args[i + 1])
                .filter(|p| p.as_ref() != b"*")
                .map(|p| p.as_ref());
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
        i += 2;
    }
    let (z, out) = match super::read(ctx, &args[1]) {
        Err(()) => return,
        Ok(None) => {
            ctx.out.array_len(2);
            ctx.out.bulk(b"0");
            ctx.out.array_len(0);
            return;
        }
        Ok(Some(x)) => x,
    };
    let keep = |m: &[u8]| pattern.is_none_or(|p| crate::util::glob::glob_match(p, m, false));
    let mut found: Vec<(Bytes, f64)>;
    let next;
    if z.encoding() == ZEncoding::Listpack {
        found = z
            .iter()
            .map(|e| (Bytes::copy_from_slice(e.1), e.0))
            .collect();
        next = 0;
    } else {
        let (members, n) = z.scan_step(cursor, count as usize);
        found = members
            .into_iter()
            .map(|m| {
                let s = z.score(&m).unwrap_or(0.0);
                (m, s)
            })
            .collect();
        next = n;
    }
    found.retain(|(m, _)| keep(m));
    out.array_len(2);
    out.bulk(next.to_string().as_bytes());
    out.array_len(found.len() * 2);
    for (m, s) in found {
        out.bulk(&m);
        out.bulk(d2string(s).as_bytes());
    }
}
