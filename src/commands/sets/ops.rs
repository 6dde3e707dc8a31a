//! Set algebra: SINTER, SINTERCARD, SINTERSTORE, SUNION(STORE),
//! SDIFF(STORE), and SMEMBERS (SINTER of one key, as in Redis 7.0).
//!
//! As in t_set.c: every key is looked up (a missing key is an empty set, a
//! key of another type is WRONGTYPE even after a missing one); SINTER walks
//! the smallest set; results built for SUNION/SDIFF and the STORE variants
//! start as an intset and convert by the usual rules, so an all-integer
//! result lists in ascending order and gets Redis's encoding. A STORE with
//! an empty result deletes the destination ("del" event).

use super::max_intset;
use crate::commands::ctx::notify;
use crate::commands::{err, Ctx};
use crate::keyspace::set::SetValue;
use crate::keyspace::Value;
use bytes::Bytes;

/// Looks every key up for reading (stats, expiry): which exist, or `Err`
/// after replying WRONGTYPE.
fn lookup_all(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<bool>, ()> {
    let mut found = Vec::with_capacity(keys.len());
    for k in keys {
        match ctx.lookup_read(k) {
            None => found.push(false),
            Some(e) if matches!(e.value, Value::Set(_)) => found.push(true),
            Some(_) => {
                ctx.out.error(err::WRONGTYPE);
                return Err(());
            }
        }
    }
    Ok(found)
}

/// The sets at `keys` (None for missing keys) after [`lookup_all`].
fn sets_of<'c>(ctx: &'c Ctx, keys: &[Bytes]) -> Vec<Option<&'c SetValue>> {
    let db = &ctx.srv.dbs[ctx.client.db];
    keys.iter()
        .map(|k| match db.get(k).map(|e| &e.value) {
            Some(Value::Set(s)) => Some(s),
            _ => None,
        })
        .collect()
}

/// Stores `result` at `dst` (or deletes `dst` when empty) and replies with
/// its size, as the STORE variants do.
fn store(ctx: &mut Ctx, dst: &Bytes, result: SetValue, event: &str) {
    let n = result.len();
    if n > 0 {
        ctx.set_key(dst, Value::Set(result), false);
        ctx.out.int(n as i64);
        ctx.notify(notify::SET, event, dst);
        ctx.dirty += 1;
    } else {
        ctx.out.int(0);
        if ctx.delete_key(dst) {
            ctx.dirty += 1;
            ctx.notify(notify::GENERIC, "del", dst);
        }
    }
}

/// What SINTER produces.
enum InterOut {
    Reply,
    Card(usize),
    Store(Bytes),
}

fn sinter_generic(ctx: &mut Ctx, keys: &[Bytes], mode: InterOut) {
    let Ok(found) = lookup_all(ctx, keys) else {
        return;
    };
    if found.contains(&false) {
        match mode {
            InterOut::Store(dst) => {
                if ctx.delete_key(&dst) {
                    ctx.key_modified(&dst);
                    ctx.notify(notify::GENERIC, "del", &dst);
                    ctx.dirty += 1;
                }
                ctx.out.int(0);
            }
            InterOut::Card(_) => ctx.out.int(0),
            InterOut::Reply => ctx.out.set_len(0),
        }
        return;
    }
    let max = max_intset(ctx);
    let mut sets: Vec<&SetValue> = sets_of(ctx, keys).into_iter().flatten().collect();
    sets.sort_by_key(|s| s.len());
    let first = sets[0];
    let members = first.iter().filter(|m| {
        sets[1..]
            .iter()
            .all(|s| std::ptr::eq(*s, first) || s.contains(m))
    });
    match mode {
        InterOut::Card(limit) => {
            let mut n = 0;
            for _ in members {
                n += 1;
                if limit > 0 && n >= limit {
                    break;
                }
            }
            ctx.out.int(n as i64);
        }
        InterOut::Reply => {
            let out: Vec<Vec<u8>> = members.map(|m| m.into_owned()).collect();
            ctx.out.set_len(out.len());
            for m in out {
                ctx.out.bulk(&m);
            }
        }
        InterOut::Store(dst) => {
            let mut result = SetValue::new_intset();
            for m in members {
                result.add(&m, max);
            }
            store(ctx, &dst, result, "sinterstore");
        }
    }
}

pub fn sinter(ctx: &mut Ctx, args: &[Bytes]) {
    sinter_generic(ctx, &args[1..], InterOut::Reply);
}

pub fn smembers(ctx: &mut Ctx, args: &[Bytes]) {
    sinter_generic(ctx, &args[1..2], InterOut::Reply);
}

pub fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) {
    sinter_generic(ctx, &args[2..], InterOut::Store(args[1].clone()));
}

pub fn sintercard(ctx: &mut Ctx, args: &[Bytes]) {
    let numkeys = match crate::util::num::parse_i64(&args[1]) {
        Some(n) if n >= 1 => n as usize,
        _ => {
            ctx.out.error("ERR numkeys should be greater than 0");
            return;
        }
    };
    if numkeys > args.len() - 2 {
        ctx.out
            .error("ERR Number of keys can't be greater than number of args");
        return;
    }
    let mut limit = 0;
    let mut j = 2 + numkeys;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args[j].eq_ignore_ascii_case(b"limit") && more > 0 {
            j += 1;
            match crate::util::num::parse_i64(&args[j]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => {
                    ctx.out.error("ERR LIMIT can't be negative");
                    return;
                }
            }
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
        j += 1;
    }
    sinter_generic(ctx, &args[2..2 + numkeys], InterOut::Card(limit));
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

fn sunion_diff(ctx: &mut Ctx, keys: &[Bytes], dst: Option<&Bytes>, op: Op) {
    let Ok(found) = lookup_all(ctx, keys) else {
        return;
    };
    let max = max_intset(ctx);
    let sameset = found[0] && keys[1..].iter().any(|k| k == &keys[0]);
    let sets = sets_of(ctx, keys);
    let mut result = SetValue::new_intset();
    match op {
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    result.add(&m, max);
                }
            }
        }
        Op::Diff if sameset => {}
        Op::Diff => {
            if let Some(first) = sets[0] {
                // Redis picks between two algorithms by estimated work;
                // the second can leave the result hashtable-encoded.
                let others = sets.iter().flatten().count();
                let one = first.len() * others / 2;
                let two: usize = sets.iter().flatten().map(|s| s.len()).sum();
                if one <= two {
                    for m in first.iter() {
                        if !sets[1..].iter().flatten().any(|s| s.contains(&m)) {
                            result.add(&m, max);
                        }
                    }
                } else {
                    for m in first.iter() {
                        result.add(&m, max);
                    }
                    for s in sets[1..].iter().flatten() {
                        for m in s.iter() {
                            result.remove(&m);
                        }
                        if result.is_empty() {
                            break;
                        }
                    }
                }
            }
        }
    }
    match dst {
        None => {
            ctx.out.set_len(result.len());
            for m in result.iter() {
                ctx.out.bulk(&m);
            }
        }
        Some(dst) => {
            let event = if op == Op::Union {
                "sunionstore"
            } else {
                "sdiffstore"
            };
            store(ctx, dst, result, event);
        }
    }
}

pub fn sunion(ctx: &mut Ctx, args: &[Bytes]) {
    sunion_diff(ctx, &args[1..], None, Op::Union);
}

pub fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) {
    sunion_diff(ctx, &args[2..], Some(&args[1]), Op::Union);
}

pub fn sdiff(ctx: &mut Ctx, args: &[Bytes]) {
    sunion_diff(ctx, &args[1..], None, Op::Diff);
}

pub fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) {
    sunion_diff(ctx, &args[2..], Some(&args[1]), Op::Diff);
}
