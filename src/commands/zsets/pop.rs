//! Popping commands (ZPOPMIN, ZPOPMAX, ZMPOP and their blocking forms
//! BZPOPMIN, BZPOPMAX, BZMPOP) and ZRANDMEMBER, as t_zset.c's
//! genericZpopCommand, blockingGenericZpopCommand and zrandmemberCommand.
//!
//! Served pops propagate as `ZPOPMIN|ZPOPMAX key [count]`, whichever
//! command popped, so replicas and the AOF never see a blocking command.

use super::{parse_long_range, read, reply_elems, write};
use crate::commands::ctx::notify;
use crate::commands::{err, Ctx};
use crate::keyspace::Value;
use crate::server::blocking::parse_timeout;
use bytes::Bytes;
use rand::Rng;

#[derive(Clone, Copy)]
struct PopShape {
    max: bool,
    emitkey: bool,
    nested: bool,
    nil_when_empty: bool,
}

/// Pops from the first existing key. `count` -1 is the plain single pop.
/// Returns Some((key, popped)) when something was popped.
fn generic_pop(ctx: &mut Ctx, keys: &[Bytes], count: i64, shape: PopShape) -> Option<usize> {
    // One lookup per key: the first sorted set found is popped in place.
    let pop_n = if count == -1 {
        1
    } else {
        count.max(0) as usize
    };
    let mut found = None;
    for (i, k) in keys.iter().enumerate() {
        match ctx.lookup_write(k).map(|e| &mut e.value) {
            Some(Value::ZSet(z)) => {
                let n = pop_n.min(z.len());
                let popped = if shape.max {
                    let len = z.len();
                    let mut v = z.remove_ranks(len - n, len);
                    v.reverse();
                    v
                } else {
                    z.remove_ranks(0, n)
                };
                found = Some((i, popped, z.is_empty()));
                break;
            }
            Some(_) => {
                ctx.out.error(err::WRONGTYPE);
                return None;
            }
            None => continue,
        }
    }
    let Some((i, popped, emptied)) = found else {
        if shape.nil_when_empty {
            ctx.out.null_array();
        } else {
            ctx.out.array_len(0);
        }
        return None;
    };
    if count == 0 {
        ctx.out.array_len(0);
        return None;
    }
    let key = &keys[i];
    let n = popped.len();
    let out = &mut *ctx.out;
    match (shape.nested, shape.emitkey) {
        (false, false) => out.array_len(2 * n),
        (true, false) => out.array_len(n),
        (false, true) => {
            out.array_len(2 * n + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array_len(2);
            out.bulk(key);
            out.array_len(n);
        }
    }
    for (s, m) in &popped {
        if shape.nested {
            out.array_len(2);
        }
        out.bulk(m);
        out.double(*s);
    }
    ctx.dirty += n as u64;
    ctx.notify(
        notify::ZSET,
        if shape.max { "zpopmax" } else { "zpopmin" },
        key,
    );
    ctx.key_modified(key);
    if emptied {
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    Some(i)
}

fn pop_name(max: bool) -> Bytes {
    Bytes::from_static(if max { b"ZPOPMAX" } else { b"ZPOPMIN" })
}

pub(super) fn zpopmin(ctx: &mut Ctx, args: &[Bytes]) {
    zpop_minmax(ctx, args, false);
}

pub(super) fn zpopmax(ctx: &mut Ctx, args: &[Bytes]) {
    zpop_minmax(ctx, args, true);
}

fn zpop_minmax(ctx: &mut Ctx, args: &[Bytes], max: bool) {
    if args.len() > 3 {
        ctx.out.error(err::SYNTAX);
        return;
    }
    let mut count = -1;
    if args.len() == 3 {
        let Some(c) = parse_long_range(
            ctx,
            &args[2],
            0,
            i64::MAX,
            Some("ERR value is out of range, must be positive"),
        ) else {
            return;
        };
        count = c;
    }
    let shape = PopShape {
        max,
        emitkey: false,
        nested: ctx.out.is_resp3() && count != -1,
        nil_when_empty: false,
    };
    generic_pop(ctx, &args[1..2], count, shape);
}

pub(super) fn bzpopmin(ctx: &mut Ctx, args: &[Bytes]) {
    let keys = &args[1..args.len() - 1];
    blocking_pop(ctx, keys, &args[args.len() - 1], false, -1, false, false);
}

pub(super) fn bzpopmax(ctx: &mut Ctx, args: &[Bytes]) {
    let keys = &args[1..args.len() - 1];
    blocking_pop(ctx, keys, &args[args.len() - 1], true, -1, false, false);
}

fn blocking_pop(
    ctx: &mut Ctx,
    keys: &[Bytes],
    timeout: &[u8],
    max: bool,
    count: i64,
    nested: bool,
    nil_when_empty: bool,
) {
    let deadline = match parse_timeout(timeout, ctx.now_ms) {
        Ok(d) => d,
        Err(e) => {
            ctx.out.error(e);
            return;
        }
    };
    // Re-run for a client already queued on these keys (serving a ready
    // key): as Redis, a key now holding another type is skipped, not an
    // error, and the client stays blocked.
    let db = ctx.client.db;
    let id = ctx.client.id;
    let rerun = keys.first().is_some_and(|k| {
        ctx.srv
            .blocking
            .by_key
            .get(&(db, k.clone()))
            .is_some_and(|q| q.contains(&id))
    });
    for key in keys {
        if rerun && read_len(ctx, key).is_none() {
            continue;
        }
        let len = match write(ctx, key) {
            Err(()) => return,
            Ok(None) => continue,
            Ok(Some(z)) => z.len(),
        };
        if len == 0 {
            continue;
        }
        let shape = PopShape {
            max,
            emitkey: true,
            nested,
            nil_when_empty,
        };
        generic_pop(ctx, std::slice::from_ref(key), count, shape);
        let mut argv = vec![pop_name(max), key.clone()];
        if count != -1 {
            argv.push(Bytes::from(count.min(len as i64).to_string()));
        }
        ctx.propagate(argv);
        return;
    }
    if !ctx.may_block() {
        ctx.out.null_array();
        return;
    }
    ctx.block_on_keys(keys.to_vec(), deadline);
}

pub(super) fn zmpop(ctx: &mut Ctx, args: &[Bytes]) {
    zmpop_generic(ctx, args, 1, false);
}

pub(super) fn bzmpop(ctx: &mut Ctx, args: &[Bytes]) {
    zmpop_generic(ctx, args, 2, true);
}

fn zmpop_generic(ctx: &mut Ctx, args: &[Bytes], numkeys_idx: usize, block: bool) {
    let Some(numkeys) = parse_long_range(
        ctx,
        &args[numkeys_idx],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    ) else {
        return;
    };
    let where_idx = (numkeys_idx as i64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_idx >= args.len() as i64 {
        ctx.out.error(err::SYNTAX);
        return;
    }
    let where_idx = where_idx as usize;
    let max = match args[where_idx].to_ascii_lowercase().as_slice() {
        b"min" => false,
        b"max" => true,
        _ => {
            ctx.out.error(err::SYNTAX);
            return;
        }
    };
    let mut count = -1;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count == -1 && args[j].eq_ignore_ascii_case(b"count") && more > 0 {
            j += 1;
            let Some(c) = parse_long_range(
                ctx,
                &args[j],
                1,
                i64::MAX,
                Some("ERR count should be greater than 0"),
            ) else {
                return;
            };
            count = c;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
        j += 1;
    }
    if count == -1 {
        count = 1;
    }
    let keys = &args[numkeys_idx + 1..where_idx];
    if block {
        blocking_pop(ctx, keys, &args[1], max, count, true, true);
        return;
    }
    let shape = PopShape {
        max,
        emitkey: true,
        nested: true,
        nil_when_empty: true,
    };
    // Length before the pop, for the propagated COUNT.
    let mut before = 0;
    for k in keys {
        match read_len(ctx, k) {
            Some(Some(n)) => {
                before = n;
                break;
            }
            Some(None) => continue,
            None => break,
        }
    }
    if let Some(i) = generic_pop(ctx, keys, count, shape) {
        let n = count.min(before as i64);
        ctx.propagate(vec![
            pop_name(max),
            keys[i].clone(),
            Bytes::from(n.to_string()),
        ]);
    }
}

/// Length of the set at `key` without side effects on stats: Some(None)
/// if missing, None if it holds another type.
fn read_len(ctx: &mut Ctx, key: &[u8]) -> Option<Option<usize>> {
    match ctx.db().get(key).map(|e| &e.value) {
        None => Some(None),
        Some(crate::keyspace::Value::ZSet(z)) => Some(Some(z.len())),
        Some(_) => None,
    }
}

pub(super) fn zrandmember(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() >= 3 {
        let Some(l) = parse_long_range(ctx, &args[2], -i64::MAX, i64::MAX, None) else {
            return;
        };
        let withscores = args.len() == 4;
        if args.len() > 4 || (withscores && !args[3].eq_ignore_ascii_case(b"withscores")) {
            ctx.out.error(err::SYNTAX);
            return;
        }
        if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
            ctx.out.error("ERR value is out of range");
            return;
        }
        randmember_count(ctx, &args[1], l, withscores);
        return;
    }
    match read(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.null(),
        Ok(Some((z, out))) => {
            let r = rand::thread_rng().gen_range(0..z.len());
            out.bulk(z.at(r).1);
        }
    }
}

fn randmember_count(ctx: &mut Ctx, key: &[u8], l: i64, withscores: bool) {
    let (z, out) = match read(ctx, key) {
        Err(()) => return,
        Ok(None) => {
            ctx.out.array_len(0);
            return;
        }
        Ok(Some(x)) => x,
    };
    let count = l.unsigned_abs() as usize;
    if count == 0 {
        out.array_len(0);
        return;
    }
    let size = z.len();
    let z = z.ranked();
    let mut rng = rand::thread_rng();
    if l < 0 || count == 1 {
        let items = (0..count).map(|_| {
            let e = z.at(rng.gen_range(0..size));
            (e.1, e.0)
        });
        reply_elems(out, items, count, withscores);
        return;
    }
    if count >= size {
        // zuiNext walks a sorted set from its tail.
        let items = (0..size).rev().map(|r| {
            let e = z.at(r);
            (e.1, e.0)
        });
        reply_elems(out, items, size, withscores);
        return;
    }
    let picks = rand::seq::index::sample(&mut rng, size, count);
    let items = picks.iter().map(|r| {
        let e = z.at(r);
        (e.1, e.0)
    });
    reply_elems(out, items, count, withscores);
}
