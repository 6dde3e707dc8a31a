//! Set commands (Redis 7.0's t_set.c): membership commands here, SPOP and
//! SRANDMEMBER in [`rand`], the algebra (SINTER*, SUNION*, SDIFF*,
//! SMEMBERS) in [`ops`].
//!
//! Keyspace events and propagation follow Redis: SPOP without a count
//! propagates as `SREM key member`, SPOP with a count as one SREM per
//! popped member (or DEL when it empties the set); SMOVE fires "srem" on
//! the source and "sadd" on the destination; an emptied set is deleted
//! with a "del" event.

mod ops;
mod rand;

use super::ctx::notify;
use super::hashes::scan::{cursor_or_reply, empty_scan, parse_opts};
use super::hashes::SCAN_DOC;
use super::table::{flags::*, CommandDef, KeyPos};
use super::table::{K1, K12, KALL};
use super::{err, Ctx};
use crate::keyspace::set::SetValue;
use crate::keyspace::Value;
use crate::protocol::Reply;
use bytes::Bytes;

const KNUM: KeyPos = KeyPos::NumKeys {
    count_at: 1,
    first: 2,
    step: 1,
};
const INTER_DOC: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";
const UNION_DOC: &str = "O(N) where N is the total number of elements in all given sets.";

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("sadd", -3, WRITE | DENYOOM | FAST, K1, sadd).doc(
        "set",
        "1.0.0",
        "Add one or more members to a set",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
    ),
    CommandDef::new("srem", -3, WRITE | FAST, K1, srem).doc(
        "set",
        "1.0.0",
        "Remove one or more members from a set",
        "O(N) where N is the number of members to be removed.",
    ),
    CommandDef::new("sismember", 3, READONLY | FAST, K1, sismember).doc(
        "set",
        "1.0.0",
        "Determine if a given value is a member of a set",
        "O(1)",
    ),
    CommandDef::new("smismember", -3, READONLY | FAST, K1, smismember).doc(
        "set",
        "6.2.0",
        "Returns the membership associated with the given elements for a set",
        "O(N) where N is the number of elements being checked for membership",
    ),
    CommandDef::new("scard", 2, READONLY | FAST, K1, scard).doc(
        "set",
        "1.0.0",
        "Get the number of members in a set",
        "O(1)",
    ),
    CommandDef::new("smembers", 2, READONLY, K1, ops::smembers).doc(
        "set",
        "1.0.0",
        "Get all the members in a set",
        "O(N) where N is the set cardinality.",
    ),
    CommandDef::new("spop", -2, WRITE | FAST, K1, rand::spop).doc(
        "set",
        "1.0.0",
        "Remove and return one or multiple random members from a set",
        "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
    ),
    CommandDef::new("srandmember", -2, READONLY, K1, rand::srandmember).doc(
        "set",
        "1.0.0",
        "Get one or multiple random members from a set",
        "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
    ),
    CommandDef::new("smove", 4, WRITE | FAST, K12, smove).doc(
        "set",
        "1.0.0",
        "Move a member from one set to another",
        "O(1)",
    ),
    CommandDef::new("sinter", -2, READONLY, KALL, ops::sinter).doc(
        "set",
        "1.0.0",
        "Intersect multiple sets",
        INTER_DOC,
    ),
    CommandDef::new("sintercard", -3, READONLY | MOVABLE_KEYS, KNUM, ops::sintercard).doc(
        "set",
        "7.0.0",
        "Intersect multiple sets and return the cardinality of the result",
        INTER_DOC,
    ),
    CommandDef::new("sinterstore", -3, WRITE | DENYOOM, KALL, ops::sinterstore).doc(
        "set",
        "1.0.0",
        "Intersect multiple sets and store the resulting set in a key",
        INTER_DOC,
    ),
    CommandDef::new("sunion", -2, READONLY, KALL, ops::sunion).doc(
        "set",
        "1.0.0",
        "Add multiple sets",
        UNION_DOC,
    ),
    CommandDef::new("sunionstore", -3, WRITE | DENYOOM, KALL, ops::sunionstore).doc(
        "set",
        "1.0.0",
        "Add multiple sets and store the resulting set in a key",
        UNION_DOC,
    ),
    CommandDef::new("sdiff", -2, READONLY, KALL, ops::sdiff).doc(
        "set",
        "1.0.0",
        "Subtract multiple sets",
        UNION_DOC,
    ),
    CommandDef::new("sdiffstore", -3, WRITE | DENYOOM, KALL, ops::sdiffstore).doc(
        "set",
        "1.0.0",
        "Subtract multiple sets and store the resulting set in a key",
        UNION_DOC,
    ),
    CommandDef::new("sscan", -3, READONLY, K1, sscan).doc(
        "set",
        "2.8.0",
        "Incrementally iterate Set elements",
        SCAN_DOC,
    ),
];

/// set-max-intset-entries from the config.
fn max_intset(ctx: &Ctx) -> usize {
    ctx.srv.config.set_max_intset_entries as usize
}

/// Looks a set up for reading. `Err` after replying WRONGTYPE; `Ok(None)`
/// if the key does not exist.
fn read_set<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<(&'c SetValue, &'c mut Reply)>, ()> {
    ctx.read_as(key, |v| match v {
        Value::Set(s) => Some(s),
        _ => None,
    })
}

/// Looks a set up for writing. `Err` after replying WRONGTYPE.
fn write_set<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut SetValue>, ()> {
    ctx.write_as(key, |v| match v {
        Value::Set(s) => Some(s),
        _ => None,
    })
}

/// The set stored at `key` (which must exist and be a set).
fn set_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> &'c mut SetValue {
    let db = ctx.client.db;
    match ctx.srv.dbs[db].get_mut(key).map(|e| &mut e.value) {
        Some(Value::Set(s)) => s,
        _ => unreachable!("the caller checked the key"),
    }
}

fn sadd(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let max = max_intset(ctx);
    let add_all = |s: &mut SetValue| args[2..].iter().filter(|m| s.add(m, max)).count();
    // One lookup: the members go into an existing set in place, or into a
    // new set that is then stored.
    let added = match ctx.lookup_write(key).map(|e| &mut e.value) {
        Some(Value::Set(s)) => add_all(s),
        Some(_) => {
            ctx.out.error(super::err::WRONGTYPE);
            return;
        }
        None => {
            let mut s = SetValue::for_member(&args[2]);
            let added = add_all(&mut s);
            ctx.set_key(key, Value::Set(s), false);
            added
        }
    };
    if added > 0 {
        ctx.key_modified(key);
        ctx.notify(notify::SET, "sadd", key);
    }
    ctx.dirty += added as u64;
    ctx.out.int(added as i64);
}

fn srem(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let s = match write_set(ctx, key) {
        Err(()) => return,
        Ok(None) => {
            ctx.out.int(0);
            return;
        }
        Ok(Some(s)) => s,
    };
    let mut deleted = 0;
    for m in &args[2..] {
        if s.remove(m) {
            deleted += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    let removed = s.is_empty();
    if removed {
        ctx.delete_key(key);
    }
    if deleted > 0 {
        ctx.key_modified(key);
        ctx.notify(notify::SET, "srem", key);
        if removed {
            ctx.notify(notify::GENERIC, "del", key);
        }
        ctx.dirty += deleted;
    }
    ctx.out.int(deleted as i64);
}

fn smove(ctx: &mut Ctx, args: &[Bytes]) {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let max = max_intset(ctx);
    let src_type = ctx.lookup_write(src).map(|e| e.value.value_type());
    let dst_type = ctx.lookup_write(dst).map(|e| e.value.value_type());
    use crate::keyspace::ValueType;
    let Some(src_type) = src_type else {
        ctx.out.int(0);
        return;
    };
    if src_type != ValueType::Set || dst_type.is_some_and(|t| t != ValueType::Set) {
        ctx.out.error(err::WRONGTYPE);
        return;
    }
    if src == dst {
        let is = set_mut(ctx, src).contains(member);
        ctx.out.int(is as i64);
        return;
    }
    let s = set_mut(ctx, src);
    if !s.remove(member) {
        ctx.out.int(0);
        return;
    }
    let emptied = s.is_empty();
    ctx.notify(notify::SET, "srem", src);
    if emptied {
        ctx.delete_key(src);
        ctx.notify(notify::GENERIC, "del", src);
    }
    if dst_type.is_none() {
        let d = SetValue::for_member(member);
        ctx.set_key(dst, Value::Set(d), false);
    }
    ctx.key_modified(src);
    ctx.dirty += 1;
    if set_mut(ctx, dst).add(member, max) {
        ctx.dirty += 1;
        ctx.key_modified(dst);
        ctx.notify(notify::SET, "sadd", dst);
    }
    ctx.out.int(1);
}

fn sismember(ctx: &mut Ctx, args: &[Bytes]) {
    match read_set(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some((s, out))) => out.int(s.contains(&args[2]) as i64),
    }
}

fn smismember(ctx: &mut Ctx, args: &[Bytes]) {
    match read_set(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => {
            ctx.out.array_len(args.len() - 2);
            for _ in 2..args.len() {
                ctx.out.int(0);
            }
        }
        Ok(Some((s, out))) => {
            out.array_len(args.len() - 2);
            for m in &args[2..] {
                out.int(s.contains(m) as i64);
            }
        }
    }
}

fn scard(ctx: &mut Ctx, args: &[Bytes]) {
    match read_set(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some((s, out))) => out.int(s.len() as i64),
    }
}

fn sscan(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(cursor) = cursor_or_reply(ctx, &args[2]) else {
        return;
    };
    let (s, out) = match read_set(ctx, &args[1]) {
        Err(()) => return,
        Ok(None) => {
            empty_scan(ctx.out);
            return;
        }
        Ok(Some(x)) => x,
    };
    let Some(opts) = parse_opts(out, args) else {
        return;
    };
    let (members, next) = s.scan(cursor, opts.count);
    let kept: Vec<_> = members.into_iter().filter(|m| opts.matches(m)).collect();
    out.array_len(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array_len(kept.len());
    for m in kept {
        out.bulk(&m);
    }
}

#[cfg(test)]
mod tests;
