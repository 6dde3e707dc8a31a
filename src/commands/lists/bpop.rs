//! LMOVE, RPOPLPUSH, LMPOP and the blocking BLPOP BRPOP BLMOVE BRPOPLPUSH
//! BLMPOP (t_list.c's lmoveGenericCommand, mpopGenericCommand,
//! blockingPopGenericCommand, blmoveGenericCommand, and
//! serveClientBlockedOnList for the served side).
//!
//! A blocking command that finds data serves at once and propagates as
//! its non-blocking form (BLPOP -> `LPOP key`, BLMPOP -> `LPOP key n`,
//! BLMOVE -> `LMOVE ...`, BRPOPLPUSH -> `RPOPLPUSH ...`), so the AOF and
//! replicas never see a blocking command. Otherwise it blocks on its keys
//! (inside MULTI it answers the timeout null at once). When a key it waits
//! on becomes ready the command is re-run with
//! `srv.blocking.serving` naming that key: as in Redis 7.0 it is served
//! from that key only, stays blocked if the key is missing or not a list,
//! and propagates with lower-case `left`/`right` as Redis's served path.

use super::edit::{elements_removed, pop_range_reply};
use super::{end_event, find, list_at, peek_list_len, push_values, Found};
use crate::commands::ctx::notify;
use crate::commands::{err, Ctx};
use crate::keyspace::list::End;
use crate::server::blocking::parse_timeout;
use bytes::Bytes;

fn parse_end(ctx: &mut Ctx, arg: &[u8]) -> Option<End> {
    let e = End::parse(arg);
    if e.is_none() {
        ctx.out.error(err::SYNTAX);
    }
    e
}

fn parse_deadline(ctx: &mut Ctx, arg: &[u8]) -> Option<Option<i64>> {
    match parse_timeout(arg, ctx.now_ms) {
        Ok(d) => Some(d),
        Err(e) => {
            ctx.out.error(e);
            None
        }
    }
}

fn cmd_name(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// Moves one element from `src` (a non-empty list) to `dst`, checking
/// `dst`'s type first. Replies with the element (or WRONGTYPE). Returns
/// false after WRONGTYPE.
fn move_one(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> bool {
    let dst_exists = match find(ctx, dst, true) {
        Found::WrongType => return false,
        Found::Missing => false,
        Found::List(_) => true,
    };
    let db = ctx.client.db;
    let Some(v) = list_at(ctx.srv, db, src).pop(from) else {
        return false;
    };
    // lmoveHandlePush: create the destination if needed (signalling
    // clients blocked on it), push, "lpush"/"rpush", reply the element.
    push_values(ctx, dst, to, std::iter::once(&v[..]), dst_exists);
    ctx.key_modified(dst);
    ctx.notify(notify::LIST, end_event(to).0, dst);
    ctx.out.bulk(&v);
    ctx.notify(notify::LIST, end_event(from).1, src);
    super::delete_if_empty(ctx, src);
    ctx.key_modified(src);
    ctx.dirty += 1;
    true
}

fn lmove_generic(ctx: &mut Ctx, args: &[Bytes], from: End, to: End) {
    match find(ctx, &args[1], true) {
        Found::WrongType => {}
        Found::Missing | Found::List(0) => ctx.out.null(),
        Found::List(_) => {
            move_one(ctx, &args[1], &args[2], from, to);
        }
    }
}

pub fn lmove(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(from) = parse_end(ctx, &args[3]) else {
        return;
    };
    let Some(to) = parse_end(ctx, &args[4]) else {
        return;
    };
    lmove_generic(ctx, args, from, to)
}

pub fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) {
    lmove_generic(ctx, args, End::Tail, End::Head)
}

/// BLMOVE and BRPOPLPUSH (`brpoplpush`: propagate as RPOPLPUSH).
fn blmove_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    from: End,
    to: End,
    deadline: Option<i64>,
    brpoplpush: bool,
) {
    let (src, dst) = (&args[1], &args[2]);
    if ctx.srv.blocking.serving.is_some() {
        // Re-run for a ready key: serve only if the source is a list now.
        if peek_list_len(ctx, src).is_some_and(|n| n > 0) {
            if move_one(ctx, src, dst, from, to) {
                let argv = if brpoplpush {
                    vec![cmd_name("RPOPLPUSH"), src.clone(), dst.clone()]
                } else {
                    vec![
                        cmd_name("LMOVE"),
                        src.clone(),
                        dst.clone(),
                        cmd_name(from.name()),
                        cmd_name(to.name()),
                    ]
                };
                ctx.propagate(argv);
            }
        } else {
            ctx.block_on_keys(vec![src.clone()], deadline);
        }
        return;
    }
    match find(ctx, src, true) {
        Found::WrongType => {}
        Found::List(n) if n > 0 => {
            if move_one(ctx, src, dst, from, to) {
                let argv = if brpoplpush {
                    vec![cmd_name("RPOPLPUSH"), src.clone(), dst.clone()]
                } else {
                    vec![
                        cmd_name("LMOVE"),
                        src.clone(),
                        dst.clone(),
                        args[3].clone(),
                        args[4].clone(),
                    ]
                };
                ctx.propagate(argv);
            }
        }
        _ if !ctx.may_block() => ctx.out.null(),
        _ => ctx.block_on_keys(vec![src.clone()], deadline),
    }
}

pub fn blmove(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(from) = parse_end(ctx, &args[3]) else {
        return;
    };
    let Some(to) = parse_end(ctx, &args[4]) else {
        return;
    };
    let Some(deadline) = parse_deadline(ctx, &args[5]) else {
        return;
    };
    blmove_generic(ctx, args, from, to, deadline, false)
}

pub fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(deadline) = parse_deadline(ctx, &args[3]) else {
        return;
    };
    blmove_generic(ctx, args, End::Tail, End::Head, deadline, true)
}

/// Pops from the non-empty list at `key` and replies as a served pop:
/// `[key, element]` when `count` is None (BLPOP/BRPOP), else
/// `[key, [elements...]]` (LMPOP/BLMPOP). Propagates `LPOP key [n]`.
fn pop_with_key(ctx: &mut Ctx, key: &Bytes, end: End, count: Option<usize>) {
    let pop_cmd = cmd_name(match end {
        End::Head => "LPOP",
        End::Tail => "RPOP",
    });
    ctx.out.array_len(2);
    ctx.out.bulk(key);
    match count {
        Some(c) => {
            let n = pop_range_reply(ctx, key, end, c);
            elements_removed(ctx, key, end, n);
            let n = Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes());
            ctx.propagate(vec![pop_cmd, key.clone(), n]);
        }
        None => {
            let db = ctx.client.db;
            if let Some(v) = list_at(ctx.srv, db, key).pop(end) {
                ctx.out.bulk(&v);
            }
            elements_removed(ctx, key, end, 1);
            ctx.propagate(vec![pop_cmd, key.clone()]);
        }
    }
}

/// blockingPopGenericCommand (and mpopGenericCommand when `block` is
/// None): serves from the first non-empty list among `keys`, else
/// blocks, else replies the null array.
fn bpop_generic(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    count: Option<usize>,
    block: Option<Option<i64>>,
) {
    if let (Some(deadline), Some(ready)) = (block, ctx.srv.blocking.serving.clone()) {
        // Re-run for a ready key: serve from that key alone, if it now
        // holds a non-empty list (Redis 7.0's serveClientsBlockedOnListKey).
        match keys.iter().find(|k| **k == ready) {
            Some(k) if peek_list_len(ctx, k).is_some_and(|n| n > 0) => {
                pop_with_key(ctx, k, end, count)
            }
            _ => ctx.block_on_keys(keys.to_vec(), deadline),
        }
        return;
    }
    for k in keys {
        match find(ctx, k, true) {
            Found::WrongType => return,
            Found::Missing | Found::List(0) => continue,
            Found::List(_) => {
                pop_with_key(ctx, k, end, count);
                return;
            }
        }
    }
    match block {
        Some(deadline) if ctx.may_block() => ctx.block_on_keys(keys.to_vec(), deadline),
        _ => ctx.out.null_array(),
    }
}

pub fn blpop(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(deadline) = parse_deadline(ctx, &args[args.len() - 1]) else {
        return;
    };
    bpop_generic(
        ctx,
        &args[1..args.len() - 1],
        End::Head,
        None,
        Some(deadline),
    )
}

pub fn brpop(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(deadline) = parse_deadline(ctx, &args[args.len() - 1]) else {
        return;
    };
    bpop_generic(
        ctx,
        &args[1..args.len() - 1],
        End::Tail,
        None,
        Some(deadline),
    )
}

/// LMPOP/BLMPOP argument parsing (lmpopGenericCommand): numkeys at
/// `numkeys_at`, then the keys, LEFT|RIGHT and an optional COUNT.
fn mpop_args(ctx: &mut Ctx, args: &[Bytes], numkeys_at: usize) -> Option<(usize, End, usize)> {
    let numkeys = super::parse_min_long(
        ctx,
        &args[numkeys_at],
        1,
        "ERR numkeys should be greater than 0",
    )? as u64;
    let where_at = (numkeys_at as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_at >= args.len() as u64 {
        ctx.out.error(err::SYNTAX);
        return None;
    }
    let where_at = where_at as usize;
    let end = parse_end(ctx, &args[where_at])?;
    let mut count: Option<usize> = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && args[j].eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            j += 1;
            let c = super::parse_min_long(ctx, &args[j], 1, "ERR count should be greater than 0")?;
            count = Some(c as usize);
        } else {
            ctx.out.error(err::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some((numkeys as usize, end, count.unwrap_or(1)))
}

pub fn lmpop(ctx: &mut Ctx, args: &[Bytes]) {
    let Some((numkeys, end, count)) = mpop_args(ctx, args, 1) else {
        return;
    };
    bpop_generic(ctx, &args[2..2 + numkeys], end, Some(count), None)
}

pub fn blmpop(ctx: &mut Ctx, args: &[Bytes]) {
    let Some((numkeys, end, count)) = mpop_args(ctx, args, 2) else {
        return;
    };
    let Some(deadline) = parse_deadline(ctx, &args[1]) else {
        return;
    };
    bpop_generic(ctx, &args[3..3 + numkeys], end, Some(count), Some(deadline))
}
