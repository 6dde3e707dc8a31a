//! Hash commands (Redis 7.0's t_hash.c): HSET and friends here, HRANDFIELD
//! in [`rand`], HSCAN (and the SCAN argument rules shared with SSCAN) in
//! [`scan`].
//!
//! Replies, error strings and keyspace events follow Redis: every write
//! fires its event ("hset", "hdel", "hincrby", ...), a hash emptied by
//! HDEL is deleted with a "del" event, and HINCRBYFLOAT propagates as HSET
//! with the final value so replicas never redo float arithmetic.

mod rand;
pub(crate) mod scan;

use super::ctx::notify;
use super::table::K1;
use super::table::{flags::*, CommandDef};
use super::{err, Ctx};
use crate::keyspace::hash::{HashLimits, HashValue};
use crate::keyspace::Value;
use crate::protocol::Reply;
use crate::util::longdouble::LongDouble;
use crate::util::num::parse_i64;
use bytes::Bytes;

/// getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) without a message.
pub(crate) const LONG_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

pub(crate) const SCAN_DOC: &str = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..";

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("hset", -4, WRITE | DENYOOM | FAST, K1, hset).doc(
        "hash",
        "2.0.0",
        "Set the string value of a hash field",
        "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
    ),
    CommandDef::new("hsetnx", 4, WRITE | DENYOOM | FAST, K1, hsetnx).doc(
        "hash",
        "2.0.0",
        "Set the value of a hash field, only if the field does not exist",
        "O(1)",
    ),
    CommandDef::new("hget", 3, READONLY | FAST, K1, hget).doc(
        "hash",
        "2.0.0",
        "Get the value of a hash field",
        "O(1)",
    ),
    CommandDef::new("hmget", -3, READONLY | FAST, K1, hmget).doc(
        "hash",
        "2.0.0",
        "Get the values of all the given hash fields",
        "O(N) where N is the number of fields being requested.",
    ),
    CommandDef::new("hmset", -4, WRITE | DENYOOM | FAST, K1, hset).doc(
        "hash",
        "2.0.0",
        "Set multiple hash fields to multiple values",
        "O(N) where N is the number of fields being set.",
    ),
    CommandDef::new("hdel", -3, WRITE | FAST, K1, hdel).doc(
        "hash",
        "2.0.0",
        "Delete one or more hash fields",
        "O(N) where N is the number of fields to be removed.",
    ),
    CommandDef::new("hlen", 2, READONLY | FAST, K1, hlen).doc(
        "hash",
        "2.0.0",
        "Get the number of fields in a hash",
        "O(1)",
    ),
    CommandDef::new("hstrlen", 3, READONLY | FAST, K1, hstrlen).doc(
        "hash",
        "3.2.0",
        "Get the length of the value of a hash field",
        "O(1)",
    ),
    CommandDef::new("hexists", 3, READONLY | FAST, K1, hexists).doc(
        "hash",
        "2.0.0",
        "Determine if a hash field exists",
        "O(1)",
    ),
    CommandDef::new("hkeys", 2, READONLY, K1, hkeys).doc(
        "hash",
        "2.0.0",
        "Get all the fields in a hash",
        "O(N) where N is the size of the hash.",
    ),
    CommandDef::new("hvals", 2, READONLY, K1, hvals).doc(
        "hash",
        "2.0.0",
        "Get all the values in a hash",
        "O(N) where N is the size of the hash.",
    ),
    CommandDef::new("hgetall", 2, READONLY, K1, hgetall).doc(
        "hash",
        "2.0.0",
        "Get all the fields and values in a hash",
        "O(N) where N is the size of the hash.",
    ),
    CommandDef::new("hincrby", 4, WRITE | DENYOOM | FAST, K1, hincrby).doc(
        "hash",
        "2.0.0",
        "Increment the integer value of a hash field by the given number",
        "O(1)",
    ),
    CommandDef::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, K1, hincrbyfloat).doc(
        "hash",
        "2.6.0",
        "Increment the float value of a hash field by the given amount",
        "O(1)",
    ),
    CommandDef::new("hrandfield", -2, READONLY, K1, rand::hrandfield).doc(
        "hash",
        "6.2.0",
        "Get one or multiple random fields from a hash",
        "O(N) where N is the number of fields returned",
    ),
    CommandDef::new("hscan", -3, READONLY, K1, scan::hscan).doc(
        "hash",
        "2.8.0",
        "Incrementally iterate hash fields and associated values",
        SCAN_DOC,
    ),
];

/// The listpack thresholds from the config.
fn limits(ctx: &Ctx) -> HashLimits {
    let c = &ctx.srv.config;
    HashLimits {
        max_entries: c.hash_max_listpack_entries as usize,
        max_value: c.hash_max_listpack_value as usize,
    }
}

/// Looks a hash up for reading. `Err` after replying WRONGTYPE; `Ok(None)`
/// if the key does not exist.
pub(crate) fn read_hash<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<Option<(&'c HashValue, &'c mut Reply)>, ()> {
    ctx.read_as(key, |v| match v {
        Value::Hash(h) => Some(h),
        _ => None,
    })
}

/// Looks a hash up for writing. `Err` after replying WRONGTYPE.
fn write_hash<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut HashValue>, ()> {
    ctx.write_as(key, |v| match v {
        Value::Hash(h) => Some(h),
        _ => None,
    })
}

/// Redis's hashTypeLookupWriteOrCreate: the hash at `key`, created empty
/// (firing "new") if missing. `Err` after replying WRONGTYPE.
fn hash_or_create<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut HashValue, ()> {
    if write_hash(ctx, key)?.is_none() {
        ctx.set_key(key, Value::Hash(HashValue::new()), false);
    }
    let db = ctx.client.db;
    match ctx.srv.dbs[db].get_mut(key).map(|e| &mut e.value) {
        Some(Value::Hash(h)) => Ok(h),
        _ => unreachable!("just created"),
    }
}

/// HSET and HMSET (which answers OK instead of the count of new fields).
fn hset(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() % 2 == 1 {
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        ctx.out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return;
    }
    let lim = limits(ctx);
    let key = &args[1];
    let set_all = |h: &mut HashValue| {
        h.try_conversion(args[2..].iter().map(|a| &a[..]), lim);
        args[2..]
            .chunks(2)
            .map(|pair| h.set(&pair[0], &pair[1], lim) as i64)
            .sum::<i64>()
    };
    // One lookup: the pairs go into an existing hash in place, or into a
    // new hash that is then stored.
    let created = match ctx.lookup_write(key).map(|e| &mut e.value) {
        Some(Value::Hash(h)) => set_all(h),
        Some(_) => {
            ctx.out.error(super::err::WRONGTYPE);
            return;
        }
        None => {
            let mut h = HashValue::new();
            let created = set_all(&mut h);
            ctx.set_key(key, Value::Hash(h), false);
            created
        }
    };
    if ctx.cmd.name == "hset" {
        ctx.out.int(created);
    } else {
        ctx.out.ok();
    }
    ctx.key_modified(key);
    ctx.notify(notify::HASH, "hset", key);
    ctx.dirty += (args.len() as u64 - 2) / 2;
}

fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) {
    let lim = limits(ctx);
    let key = &args[1];
    let Ok(h) = hash_or_create(ctx, key) else {
        return;
    };
    if h.contains(&args[2]) {
        ctx.out.int(0);
        return;
    }
    h.try_conversion([&args[2][..], &args[3][..]].into_iter(), lim);
    h.set(&args[2], &args[3], lim);
    ctx.out.int(1);
    ctx.key_modified(key);
    ctx.notify(notify::HASH, "hset", key);
    ctx.dirty += 1;
}

fn hget(ctx: &mut Ctx, args: &[Bytes]) {
    match read_hash(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.null(),
        Ok(Some((h, out))) => match h.get(&args[2]) {
            Some(v) => out.bulk(v),
            None => out.null(),
        },
    }
}

fn hmget(ctx: &mut Ctx, args: &[Bytes]) {
    let Ok(h) = read_hash(ctx, &args[1]) else {
        return;
    };
    match h {
        None => {
            ctx.out.array_len(args.len() - 2);
            for _ in 2..args.len() {
                ctx.out.null();
            }
        }
        Some((h, out)) => {
            out.array_len(args.len() - 2);
            for f in &args[2..] {
                match h.get(f) {
                    Some(v) => out.bulk(v),
                    None => out.null(),
                }
            }
        }
    }
}

fn hdel(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let h = match write_hash(ctx, key) {
        Err(()) => return,
        Ok(None) => {
            ctx.out.int(0);
            return;
        }
        Ok(Some(h)) => h,
    };
    let mut deleted = 0;
    for f in &args[2..] {
        if h.delete(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    let removed = h.is_empty();
    if removed {
        ctx.delete_key(key);
    }
    if deleted > 0 {
        ctx.key_modified(key);
        ctx.notify(notify::HASH, "hdel", key);
        if removed {
            ctx.notify(notify::GENERIC, "del", key);
        }
        ctx.dirty += deleted as u64;
    }
    ctx.out.int(deleted);
}

fn hlen(ctx: &mut Ctx, args: &[Bytes]) {
    match read_hash(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some((h, out))) => out.int(h.len() as i64),
    }
}

fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) {
    match read_hash(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some((h, out))) => out.int(h.get(&args[2]).map_or(0, |v| v.len()) as i64),
    }
}

fn hexists(ctx: &mut Ctx, args: &[Bytes]) {
    match read_hash(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.int(0),
        Ok(Some((h, out))) => out.int(h.contains(&args[2]) as i64),
    }
}

/// Redis's genericHgetallCommand.
fn hgetall_generic(ctx: &mut Ctx, args: &[Bytes], keys: bool, vals: bool) {
    let map = keys && vals;
    match read_hash(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) if map => ctx.out.map_len(0),
        Ok(None) => ctx.out.array_len(0),
        Ok(Some((h, out))) => {
            if map {
                out.map_len(h.len());
            } else {
                out.array_len(h.len());
            }
            for (f, v) in h.iter() {
                if keys {
                    out.bulk(f);
                }
                if vals {
                    out.bulk(v);
                }
            }
        }
    }
}

fn hkeys(ctx: &mut Ctx, args: &[Bytes]) {
    hgetall_generic(ctx, args, true, false);
}

fn hvals(ctx: &mut Ctx, args: &[Bytes]) {
    hgetall_generic(ctx, args, false, true);
}

fn hgetall(ctx: &mut Ctx, args: &[Bytes]) {
    hgetall_generic(ctx, args, true, true);
}

fn hincrby(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(incr) = parse_i64(&args[3]) else {
        ctx.out.error(err::NOT_INT);
        return;
    };
    let lim = limits(ctx);
    let key = &args[1];
    let Ok(h) = hash_or_create(ctx, key) else {
        return;
    };
    let old = match h.get(&args[2]) {
        None => 0,
        Some(v) => match parse_i64(v) {
            Some(n) => n,
            None => {
                ctx.out.error("ERR hash value is not an integer");
                return;
            }
        },
    };
    let Some(new) = old.checked_add(incr) else {
        ctx.out.error(err::OVERFLOW);
        return;
    };
    h.set(&args[2], itoa::Buffer::new().format(new).as_bytes(), lim);
    ctx.out.int(new);
    ctx.key_modified(key);
    ctx.notify(notify::HASH, "hincrby", key);
    ctx.dirty += 1;
}

fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(incr) = LongDouble::parse(&args[3]) else {
        ctx.out.error(err::NOT_FLOAT);
        return;
    };
    if !incr.is_finite() {
        ctx.out.error("ERR value is NaN or Infinity");
        return;
    }
    let lim = limits(ctx);
    let key = &args[1];
    let Ok(h) = hash_or_create(ctx, key) else {
        return;
    };
    let old = match h.get(&args[2]) {
        None => LongDouble::ZERO,
        Some(v) => match LongDouble::parse(v) {
            Some(n) => n,
            None => {
                ctx.out.error("ERR hash value is not a float");
                return;
            }
        },
    };
    let sum = old.sum(incr);
    if !sum.is_finite() {
        ctx.out.error("ERR increment would produce NaN or Infinity");
        return;
    }
    let text = sum.to_human_string();
    h.set(&args[2], text.as_bytes(), lim);
    ctx.out.bulk(text.as_bytes());
    ctx.key_modified(key);
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    ctx.dirty += 1;
    ctx.propagate(vec![
        Bytes::from_static(b"HSET"),
        key.clone(),
        args[2].clone(),
        Bytes::from(text.into_bytes()),
    ]);
}

#[cfg(test)]
pub(crate) mod tests;
