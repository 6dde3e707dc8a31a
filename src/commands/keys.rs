//! Generic keyspace commands that work on keys of any type: DEL UNLINK
//! EXISTS TYPE RENAME RENAMENX COPY KEYS SCAN RANDOMKEY TOUCH.
//!
//! They follow Redis 7.0's db.c and object.c: which lookup each command
//! uses decides whether the key's access time is refreshed (TYPE, EXISTS
//! and OBJECT do not touch it), whether hit/miss statistics move, and
//! whether a logically expired key is deleted (and its DEL propagated) or
//! only hidden (KEYS). The helpers at the top are shared with the expire
//! and database families.

use super::ctx::notify;
use super::table::{flags::*, CommandDef, KeyPos, K1, K12, KALL};
use super::{err, Ctx};
use crate::keyspace::{Entry, KBytes, NO_EXPIRE};
use crate::protocol::Agg;
use crate::util::glob::glob_match;
use crate::util::num::parse_i64;
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("del", -2, WRITE, KALL, del).doc(
        "generic",
        "1.0.0",
        "Delete a key",
        "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
    ),
    CommandDef::new("unlink", -2, WRITE | FAST, KALL, unlink).doc(
        "generic",
        "4.0.0",
        "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
    ),
    CommandDef::new("exists", -2, READONLY | FAST, KALL, exists).doc(
        "generic",
        "1.0.0",
        "Determine if a key exists",
        "O(N) where N is the number of keys to check.",
    ),
    CommandDef::new("type", 2, READONLY | FAST, K1, type_cmd).doc(
        "generic",
        "1.0.0",
        "Determine the type stored at key",
        "O(1)",
    ),
    CommandDef::new("rename", 3, WRITE, K12, rename).doc(
        "generic",
        "1.0.0",
        "Rename a key",
        "O(1)",
    ),
    CommandDef::new("renamenx", 3, WRITE | FAST, K12, renamenx).doc(
        "generic",
        "1.0.0",
        "Rename a key, only if the new key does not exist",
        "O(1)",
    ),
    CommandDef::new("copy", -3, WRITE | DENYOOM, K12, copy).doc(
        "generic",
        "6.2.0",
        "Copy a key",
        "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
    ),
    CommandDef::new("keys", 2, READONLY, KeyPos::None, keys).doc(
        "generic",
        "1.0.0",
        "Find all keys matching the given pattern",
        "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
    ),
    CommandDef::new("scan", -2, READONLY | TOUCHES_ARBITRARY_KEYS, KeyPos::None, scan).doc(
        "generic",
        "2.8.0",
        "Incrementally iterate the keys space",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
    ),
    CommandDef::new("randomkey", 1, READONLY | TOUCHES_ARBITRARY_KEYS, KeyPos::None, randomkey).doc(
        "generic",
        "1.0.0",
        "Return a random key from the keyspace",
        "O(1)",
    ),
    CommandDef::new("touch", -2, READONLY | FAST, KALL, touch).doc(
        "generic",
        "3.2.1",
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        "O(N) where N is the number of keys that will be touched.",
    ),
];

/// Redis's "same object" error (MOVE, COPY).
pub(crate) const SAME_OBJECT: &str = "ERR source and destination objects are the same";

// ---------------------------------------------------------------- helpers

/// Redis's lookupKeyReadWithFlags(LOOKUP_NOTOUCH): lazy expiry and hit/miss
/// statistics, but the key's access time is left alone. True if found.
pub(crate) fn lookup_notouch(ctx: &mut Ctx, key: &[u8]) -> bool {
    let prev = ctx.srv.no_touch;
    ctx.srv.no_touch = true;
    let found = ctx.lookup_read(key).is_some();
    ctx.srv.no_touch = prev;
    found
}

/// True if the entry's TTL has passed (Redis's keyIsExpired), without
/// deleting it.
pub(crate) fn is_expired(e: &Entry, now: i64) -> bool {
    e.expire != NO_EXPIRE && e.expire <= now
}

/// Redis's getIntFromObjectOrReply: an `int` argument, or the error
/// (`msg` when given) written and None.
pub(crate) fn int_arg(ctx: &mut Ctx, arg: &[u8], msg: Option<&str>) -> Option<i32> {
    match parse_i64(arg) {
        None => {
            ctx.out.error(msg.unwrap_or(err::NOT_INT));
            None
        }
        Some(v) if v < i32::MIN as i64 || v > i32::MAX as i64 => {
            ctx.out.error(msg.unwrap_or(
                "ERR value is out of range, value must between -2147483648 and 2147483647",
            ));
            None
        }
        Some(v) => Some(v as i32),
    }
}

/// A database index argument that must name an existing database
/// (MOVE, COPY DB); writes the error and returns None otherwise.
pub(crate) fn db_arg(ctx: &mut Ctx, arg: &[u8]) -> Option<usize> {
    let id = int_arg(ctx, arg, None)?;
    if id < 0 || id as usize >= ctx.srv.dbs.len() {
        ctx.out.error(err::DB_INDEX);
        return None;
    }
    Some(id as usize)
}

/// Redis's dbAdd followed by setExpire: stores a key that must not exist
/// in `db` and fires the `new` notification.
pub(crate) fn add_entry(ctx: &mut Ctx, db: usize, mut entry: Entry, key: &[u8]) {
    entry.key = KBytes::new(key);
    ctx.srv.dbs[db].insert_new(entry);
    ctx.notify_db(notify::NEW, "new", key, db);
    // Like dbAdd: a new key may be what blocked clients wait for.
    ctx.srv.blocking.signal(db, key);
}

/// Redis's parseScanCursorOrReply (strtoul rules: an optional sign, decimal
/// digits, no leading space, no trailing garbage, no overflow; the empty
/// string is cursor 0). Shared with SSCAN, HSCAN and ZSCAN.
pub fn parse_scan_cursor(s: &[u8]) -> Option<u64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        // strtoul converts nothing: the cursor is 0 and the end pointer is
        // the start, valid only if the string is empty.
        return s.is_empty().then_some(0);
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

// ---------------------------------------------------------------- commands

fn del_generic(ctx: &mut Ctx, args: &[Bytes]) {
    // DEL and UNLINK differ only in when memory is given back; strings are
    // freed at once by both (Redis frees small values synchronously too).
    let mut n = 0;
    for key in &args[1..] {
        if ctx.delete_key(key) {
            ctx.notify(notify::GENERIC, "del", key);
            ctx.dirty += 1;
            n += 1;
        }
    }
    ctx.out.int(n);
}

fn del(ctx: &mut Ctx, args: &[Bytes]) {
    del_generic(ctx, args)
}

fn unlink(ctx: &mut Ctx, args: &[Bytes]) {
    del_generic(ctx, args)
}

fn exists(ctx: &mut Ctx, args: &[Bytes]) {
    let mut n = 0;
    for key in &args[1..] {
        if lookup_notouch(ctx, key) {
            n += 1;
        }
    }
    ctx.out.int(n);
}

/// TYPE's name for a key of the current database ("none" if missing).
fn type_name(ctx: &mut Ctx, key: &[u8]) -> &'static str {
    if !lookup_notouch(ctx, key) {
        return "none";
    }
    let db = ctx.db_index();
    ctx.srv.dbs[db]
        .get(key)
        .map_or("none", |e| e.value.value_type().name())
}

fn type_cmd(ctx: &mut Ctx, args: &[Bytes]) {
    let t = type_name(ctx, &args[1]);
    ctx.out.simple(t);
}

fn rename_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) {
    let (src, dst) = (&args[1], &args[2]);
    if ctx.lookup_write(src).is_none() {
        ctx.out.error(err::NO_KEY);
        return;
    }
    if src == dst {
        if nx {
            ctx.out.int(0)
        } else {
            ctx.out.ok()
        }
        return;
    }
    let db = ctx.db_index();
    if ctx.lookup_write(dst).is_some() && nx {
        ctx.out.int(0);
        return;
    }
    // Overwrite: the old value (or an expired one kept during a client
    // pause) goes before the new key is created.
    ctx.srv.dbs[db].remove(dst);
    // The value, its TTL and its access time move to the new name.
    let entry = ctx.srv.dbs[db].remove(src).expect("looked up above");
    add_entry(ctx, db, *entry, dst);
    ctx.signal_modified_key(db, src);
    ctx.signal_modified_key(db, dst);
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    ctx.dirty += 1;
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

fn rename(ctx: &mut Ctx, args: &[Bytes]) {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx, args: &[Bytes]) {
    rename_generic(ctx, args, true)
}

fn copy(ctx: &mut Ctx, args: &[Bytes]) {
    let src_db = ctx.db_index();
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - j - 1;
        let opt = args[j].to_ascii_lowercase();
        if opt == b"replace" {
            replace = true;
        } else if opt == b"db" && more >= 1 {
            let Some(id) = db_arg(ctx, &args[j + 1]) else {
                return;
            };
            dst_db = id;
            j += 1;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
        j += 1;
    }
    let (key, newkey) = (&args[1], &args[2]);
    if src_db == dst_db && key == newkey {
        ctx.out.error(SAME_OBJECT);
        return;
    }
    let Some(e) = ctx.lookup_read(key) else {
        ctx.out.int(0);
        return;
    };
    let (value, expire) = (e.value.clone(), e.expire);
    // lookupKeyWrite on the destination database.
    let exists = !ctx.expire_if_needed(dst_db, newkey) && ctx.srv.dbs[dst_db].contains(newkey);
    if exists && !replace {
        ctx.out.int(0);
        return;
    }
    ctx.srv.dbs[dst_db].remove(newkey);
    let lru = ctx.srv.new_lru();
    let entry = Entry {
        key: KBytes::new(b""),
        value,
        expire,
        lru,
    };
    add_entry(ctx, dst_db, entry, newkey);
    ctx.signal_modified_key(dst_db, newkey);
    ctx.notify_db(notify::GENERIC, "copy_to", newkey, dst_db);
    ctx.dirty += 1;
    ctx.out.int(1);
}

fn keys(ctx: &mut Ctx, args: &[Bytes]) {
    let pat = &args[1][..];
    let all = pat == b"*";
    let now = ctx.now_ms;
    let db = &ctx.srv.dbs[ctx.client.db];
    let out = &mut *ctx.out;
    let d = out.defer();
    let mut n = 0;
    for e in db.iter() {
        // Expired keys are hidden, not deleted (Redis's keyIsExpired).
        if (all || glob_match(pat, &e.key, false)) && !is_expired(e, now) {
            out.bulk(&e.key);
            n += 1;
        }
    }
    out.fill(d, Agg::Array, n);
}

fn scan(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(cursor) = parse_scan_cursor(&args[1]) else {
        ctx.out.error("ERR invalid cursor");
        return;
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut typename: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i;
        let opt = args[i].to_ascii_lowercase();
        if opt == b"count" && more >= 2 {
            match parse_i64(&args[i + 1]) {
                None => {
                    ctx.out.error(err::NOT_INT);
                    return;
                }
                Some(c) if c < 1 => {
                    ctx.out.error(err::SYNTAX);
                    return;
                }
                Some(c) => count = c,
            }
            i += 2;
        } else if opt == b"match" && more >= 2 {
            let p = &args[i + 1][..];
            // "*" matches everything: the same as no pattern.
            pattern = (p != b"*").then_some(p);
            i += 2;
        } else if opt == b"type" && more >= 2 {
            typename = Some(&args[i + 1][..]);
            i += 2;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
    }
    let db = ctx.db_index();
    let mut found: Vec<KBytes> = Vec::new();
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    // Cursors name hash slots; one past the last slot ends the scan.
    let start = cursor.min(crate::keyspace::SLOTS as u64);
    let next = ctx.srv.dbs[db].scan(start, count, |e| found.push(e.key.clone()));
    let mut keep = Vec::with_capacity(found.len());
    for key in found {
        if let Some(p) = pattern {
            if !glob_match(p, &key, false) {
                continue;
            }
        }
        if let Some(t) = typename {
            if !type_name(ctx, &key).as_bytes().eq_ignore_ascii_case(t) {
                continue;
            }
        }
        if ctx.expire_if_needed(db, &key) {
            continue;
        }
        keep.push(key);
    }
    ctx.out.array_len(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array_len(keep.len());
    for k in keep {
        ctx.out.bulk(&k);
    }
}

fn randomkey(ctx: &mut Ctx, _args: &[Bytes]) {
    let db = ctx.db_index();
    let all_volatile = ctx.srv.dbs[db].len() == ctx.srv.dbs[db].expires_len();
    let mut tries = 100;
    loop {
        let Some(e) = ctx.srv.dbs[db].random_entry() else {
            ctx.out.null();
            return;
        };
        let key = e.key.clone();
        if e.expire != NO_EXPIRE {
            // While clients are paused expired keys are not deleted, so
            // a database of expired keys would never run out of them.
            tries -= 1;
            if all_volatile && tries == 0 && crate::server::pause_active(ctx.srv, ctx.now_ms) {
                ctx.out.bulk(&key);
                return;
            }
            if ctx.expire_if_needed(db, &key) {
                continue; // that one expired: pick another
            }
        }
        ctx.out.bulk(&key);
        return;
    }
}

fn touch(ctx: &mut Ctx, args: &[Bytes]) {
    let mut n = 0;
    for key in &args[1..] {
        if ctx.lookup_read(key).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
