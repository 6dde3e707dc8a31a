//! Pushes, pops and in-place edits: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP
//! LSET LINSERT LREM LTRIM (t_list.c's pushGenericCommand,
//! popGenericCommand, lsetCommand, linsertCommand, lremCommand,
//! ltrimCommand).

use super::{
    delete_if_empty, end_event, find, list_at, parse_long, push_values, reply_range, Found,
};
use crate::commands::ctx::notify;
use crate::commands::{err, Ctx};
use crate::keyspace::list::End;
use crate::keyspace::Value;
use bytes::Bytes;

fn push_generic(ctx: &mut Ctx, args: &[Bytes], end: End, only_existing: bool) {
    let key = &args[1];
    // One lookup: push into an existing list in place, or build a new one.
    let len = match ctx.lookup_write(key).map(|e| &mut e.value) {
        Some(Value::List(l)) => {
            for v in &args[2..] {
                l.push(end, v);
            }
            l.len()
        }
        Some(_) => {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
        None if only_existing => {
            ctx.out.int(0);
            return;
        }
        None => push_values(ctx, key, end, args[2..].iter().map(|a| &a[..]), false),
    };
    ctx.dirty += (args.len() - 2) as u64;
    ctx.out.int(len as i64);
    ctx.key_modified(key);
    ctx.notify(notify::LIST, end_event(end).0, key);
}

pub fn lpush(ctx: &mut Ctx, args: &[Bytes]) {
    push_generic(ctx, args, End::Head, false)
}

pub fn rpush(ctx: &mut Ctx, args: &[Bytes]) {
    push_generic(ctx, args, End::Tail, false)
}

pub fn lpushx(ctx: &mut Ctx, args: &[Bytes]) {
    push_generic(ctx, args, End::Head, true)
}

pub fn rpushx(ctx: &mut Ctx, args: &[Bytes]) {
    push_generic(ctx, args, End::Tail, true)
}

/// Redis's listElementsRemoved: the pop event, deletion of an emptied
/// list (with "del"), WATCH invalidation and the dirty count.
pub(super) fn elements_removed(ctx: &mut Ctx, key: &[u8], end: End, n: usize) {
    ctx.notify(notify::LIST, end_event(end).1, key);
    delete_if_empty(ctx, key);
    ctx.key_modified(key);
    ctx.dirty += n as u64;
}

/// [`elements_removed`] when the caller already knows whether the list
/// is now empty (saves a lookup).
fn popped(ctx: &mut Ctx, key: &[u8], end: End, n: usize, emptied: bool) {
    ctx.notify(notify::LIST, end_event(end).1, key);
    if emptied {
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    ctx.key_modified(key);
    ctx.dirty += n as u64;
}

/// Replies with up to `count` elements popped from one end of the
/// (non-empty) list at `key`, as a flat array, and pops them.
pub(super) fn pop_range_reply(ctx: &mut Ctx, key: &[u8], end: End, count: usize) -> usize {
    let db = ctx.client.db;
    let len = list_at(ctx.srv, db, key).len();
    let n = count.min(len);
    match end {
        End::Head => reply_range(ctx, key, 0, n - 1, false),
        End::Tail => reply_range(ctx, key, len - n, len - 1, true),
    }
    list_at(ctx.srv, db, key).pop_many(end, n);
    n
}

fn pop_generic(ctx: &mut Ctx, args: &[Bytes], end: End) {
    if args.len() > 3 {
        ctx.out.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.name
        ));
        return;
    }
    let key = &args[1];
    let count = match args.get(2) {
        None => None,
        Some(a) => match crate::util::num::parse_i64(a) {
            Some(c) if c >= 0 => Some(c),
            _ => {
                ctx.out.error("ERR value is out of range, must be positive");
                return;
            }
        },
    };
    let Some(count) = count else {
        // One lookup: pop in place.
        let (v, emptied) = match ctx.lookup_write(key).map(|e| &mut e.value) {
            Some(Value::List(l)) => (l.pop(end), l.is_empty()),
            Some(_) => {
                ctx.out.error(err::WRONGTYPE);
                return;
            }
            None => {
                ctx.out.null();
                return;
            }
        };
        if let Some(v) = v {
            ctx.out.bulk(&v);
        }
        popped(ctx, key, end, 1, emptied);
        return;
    };
    match find(ctx, key, true) {
        Found::WrongType => {}
        Found::Missing => ctx.out.null_array(),
        Found::List(_) if count == 0 => ctx.out.array_len(0),
        Found::List(_) => {
            let n = pop_range_reply(ctx, key, end, count as usize);
            elements_removed(ctx, key, end, n);
        }
    }
}

pub fn lpop(ctx: &mut Ctx, args: &[Bytes]) {
    pop_generic(ctx, args, End::Head)
}

pub fn rpop(ctx: &mut Ctx, args: &[Bytes]) {
    pop_generic(ctx, args, End::Tail)
}

pub fn lset(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    match find(ctx, key, true) {
        Found::WrongType => {}
        Found::Missing => ctx.out.error(err::NO_KEY),
        Found::List(_) => {
            let Some(index) = parse_long(ctx, &args[2]) else {
                return;
            };
            let db = ctx.client.db;
            if list_at(ctx.srv, db, key).set(index, &args[3]) {
                ctx.out.ok();
                ctx.key_modified(key);
                ctx.notify(notify::LIST, "lset", key);
                ctx.dirty += 1;
            } else {
                ctx.out.error(err::OUT_OF_RANGE);
            }
        }
    }
}

pub fn linsert(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        ctx.out.error(err::SYNTAX);
        return;
    };
    match find(ctx, key, true) {
        Found::WrongType => {}
        Found::Missing => ctx.out.int(0),
        Found::List(_) => {
            let db = ctx.client.db;
            let l = list_at(ctx.srv, db, key);
            if !l.insert(after, &args[3], &args[4]) {
                ctx.out.int(-1);
                return;
            }
            let len = l.len();
            ctx.key_modified(key);
            ctx.notify(notify::LIST, "linsert", key);
            ctx.dirty += 1;
            ctx.out.int(len as i64);
        }
    }
}

pub fn lrem(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let Some(count) = parse_long(ctx, &args[2]) else {
        return;
    };
    match find(ctx, key, true) {
        Found::WrongType => {}
        Found::Missing => ctx.out.int(0),
        Found::List(_) => {
            let db = ctx.client.db;
            let removed = list_at(ctx.srv, db, key).remove(count, &args[3]);
            ctx.dirty += removed as u64;
            if removed > 0 {
                ctx.key_modified(key);
                ctx.notify(notify::LIST, "lrem", key);
            }
            delete_if_empty(ctx, key);
            ctx.out.int(removed as i64);
        }
    }
}

pub fn ltrim(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let Some(start) = parse_long(ctx, &args[2]) else {
        return;
    };
    let Some(end) = parse_long(ctx, &args[3]) else {
        return;
    };
    match find(ctx, key, true) {
        Found::WrongType => {}
        Found::Missing => ctx.out.ok(),
        Found::List(_) => {
            let db = ctx.client.db;
            let removed = list_at(ctx.srv, db, key).trim(start, end);
            ctx.notify(notify::LIST, "ltrim", key);
            delete_if_empty(ctx, key);
            ctx.key_modified(key);
            ctx.dirty += removed as u64;
            ctx.out.ok();
        }
    }
}
