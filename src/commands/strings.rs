//! String commands: the GET/SET family here, in-place edits and counters
//! in [`edit`], LCS in [`lcs`].
//!
//! Replies, errors, keyspace events and the propagated form follow Redis
//! 7.0's t_string.c: SET with an expiry (and SETEX/PSETEX) propagates as
//! `SET key value PXAT <ms>`, SET ... GET drops its GET tokens, GETSET
//! becomes SET, GETDEL becomes DEL and GETEX becomes PEXPIREAT, PERSIST or
//! DEL. A SET whose absolute expiry is already past stores the key with
//! that expiry (it disappears at the next access), as Redis 7.0 does.

mod edit;
mod lcs;
#[cfg(test)]
mod propagation_tests;

use super::ctx::notify;
use super::table::{flags::*, CommandDef, KeyPos, K1, K12, KALL};
use super::{err, Ctx};
use crate::keyspace::Value;
use crate::protocol::Reply;
use bytes::Bytes;

const KPAIRS: KeyPos = KeyPos::Range {
    first: 1,
    last: -1,
    step: 2,
};

const RANGE_DOC: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("get", 2, READONLY | FAST, K1, get).doc(
        "string",
        "1.0.0",
        "Get the value of a key",
        "O(1)",
    ),
    CommandDef::new("set", -3, WRITE | DENYOOM, K1, set).doc(
        "string",
        "1.0.0",
        "Set the string value of a key",
        "O(1)",
    ),
    CommandDef::new("setnx", 3, WRITE | DENYOOM | FAST, K1, setnx).doc(
        "string",
        "1.0.0",
        "Set the value of a key, only if the key does not exist",
        "O(1)",
    ),
    CommandDef::new("setex", 4, WRITE | DENYOOM, K1, setex).doc(
        "string",
        "2.0.0",
        "Set the value and expiration of a key",
        "O(1)",
    ),
    CommandDef::new("psetex", 4, WRITE | DENYOOM, K1, psetex).doc(
        "string",
        "2.6.0",
        "Set the value and expiration in milliseconds of a key",
        "O(1)",
    ),
    CommandDef::new("mget", -2, READONLY | FAST, KALL, mget).doc(
        "string",
        "1.0.0",
        "Get the values of all the given keys",
        "O(N) where N is the number of keys to retrieve.",
    ),
    CommandDef::new("mset", -3, WRITE | DENYOOM, KPAIRS, mset).doc(
        "string",
        "1.0.1",
        "Set multiple keys to multiple values",
        "O(N) where N is the number of keys to set.",
    ),
    CommandDef::new("msetnx", -3, WRITE | DENYOOM, KPAIRS, msetnx).doc(
        "string",
        "1.0.1",
        "Set multiple keys to multiple values, only if none of the keys exist",
        "O(N) where N is the number of keys to set.",
    ),
    CommandDef::new("getset", 3, WRITE | DENYOOM | FAST, K1, getset).doc(
        "string",
        "1.0.0",
        "Set the string value of a key and return its old value",
        "O(1)",
    ),
    CommandDef::new("getdel", 2, WRITE | FAST, K1, getdel).doc(
        "string",
        "6.2.0",
        "Get the value of a key and delete the key",
        "O(1)",
    ),
    CommandDef::new("getex", -2, WRITE | FAST, K1, getex).doc(
        "string",
        "6.2.0",
        "Get the value of a key and optionally set its expiration",
        "O(1)",
    ),
    CommandDef::new("append", 3, WRITE | DENYOOM | FAST, K1, edit::append).doc(
        "string",
        "2.0.0",
        "Append a value to a key",
        "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
    ),
    CommandDef::new("strlen", 2, READONLY | FAST, K1, edit::strlen).doc(
        "string",
        "2.2.0",
        "Get the length of the value stored in a key",
        "O(1)",
    ),
    CommandDef::new("incr", 2, WRITE | DENYOOM | FAST, K1, edit::incr).doc(
        "string",
        "1.0.0",
        "Increment the integer value of a key by one",
        "O(1)",
    ),
    CommandDef::new("decr", 2, WRITE | DENYOOM | FAST, K1, edit::decr).doc(
        "string",
        "1.0.0",
        "Decrement the integer value of a key by one",
        "O(1)",
    ),
    CommandDef::new("incrby", 3, WRITE | DENYOOM | FAST, K1, edit::incrby).doc(
        "string",
        "1.0.0",
        "Increment the integer value of a key by the given amount",
        "O(1)",
    ),
    CommandDef::new("decrby", 3, WRITE | DENYOOM | FAST, K1, edit::decrby).doc(
        "string",
        "1.0.0",
        "Decrement the integer value of a key by the given number",
        "O(1)",
    ),
    CommandDef::new(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        K1,
        edit::incrbyfloat,
    )
    .doc(
        "string",
        "2.6.0",
        "Increment the float value of a key by the given amount",
        "O(1)",
    ),
    CommandDef::new("getrange", 4, READONLY, K1, edit::getrange).doc(
        "string",
        "2.4.0",
        "Get a substring of the string stored at a key",
        RANGE_DOC,
    ),
    CommandDef::new("substr", 4, READONLY, K1, edit::getrange).doc(
        "string",
        "1.0.0",
        "Get a substring of the string stored at a key",
        RANGE_DOC,
    ),
    CommandDef::new("setrange", 4, WRITE | DENYOOM, K1, edit::setrange).doc(
        "string",
        "2.2.0",
        "Overwrite part of a string at key starting at the specified offset",
        "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
    ),
    CommandDef::new("lcs", -3, READONLY, K12, lcs::lcs).doc(
        "string",
        "7.0.0",
        "Find longest common substring",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively",
    ),
];

/// Writes a string value as a bulk reply.
pub(crate) fn bulk_value(out: &mut Reply, v: &Value) {
    match v {
        Value::Int(n) => out.bulk_int(*n),
        Value::Emb(b) => out.bulk(b),
        Value::Raw(b) => out.bulk(b),
        // Callers check the type first; a collection has no string form.
        _ => out.null(),
    }
}

/// Redis's getGenericCommand: replies with the value of `key` (nil when
/// missing). Returns false after replying WRONGTYPE.
fn reply_get(ctx: &mut Ctx, key: &[u8]) -> bool {
    match ctx.lookup_read(key) {
        None => {
            ctx.out.null();
            true
        }
        Some(e) if !e.value.is_string() => {
            ctx.out.error(err::WRONGTYPE);
            false
        }
        Some(_) => {
            let db = ctx.client.db;
            if let Some(e) = ctx.srv.dbs[db].get(key) {
                bulk_value(ctx.out, &e.value);
            }
            true
        }
    }
}

fn get(ctx: &mut Ctx, args: &[Bytes]) {
    reply_get(ctx, &args[1]);
}

/// How an expiry argument is expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Options of SET and GETEX (Redis's parseExtendedStringArgumentsOrReply).
#[derive(Default, Debug)]
struct ExtOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, Bytes)>,
}

/// Parses SET options (from argument 3) or GETEX options (from 2). The
/// conflicting combinations fall through to a syntax error, as in Redis.
fn parse_ext(args: &[Bytes], for_set: bool) -> Option<ExtOpts> {
    let mut o = ExtOpts::default();
    let mut j = if for_set { 3 } else { 2 };
    while j < args.len() {
        let opt = &args[j][..];
        let next = args.get(j + 1);
        let has_exp = |o: &ExtOpts, k: ExpireKind| o.expire.as_ref().is_some_and(|e| e.0 == k);
        let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
        let exp_kind = if is("ex") {
            Some(ExpireKind::Ex)
        } else if is("px") {
            Some(ExpireKind::Px)
        } else if is("exat") {
            Some(ExpireKind::ExAt)
        } else if is("pxat") {
            Some(ExpireKind::PxAt)
        } else {
            None
        };
        if is("nx") && !o.xx && for_set {
            o.nx = true;
        } else if is("xx") && !o.nx && for_set {
            o.xx = true;
        } else if is("get") && for_set {
            o.get = true;
        } else if is("keepttl") && !o.persist && o.expire.is_none() && for_set {
            o.keepttl = true;
        } else if is("persist") && !for_set && o.expire.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some(k), Some(next)) = (exp_kind, next) {
            // Repeating the same kind is allowed (the last one wins);
            // mixing kinds, KEEPTTL or PERSIST is not.
            let other = o.expire.is_some() && !has_exp(&o, k);
            if o.keepttl || o.persist || other {
                return None;
            }
            o.expire = Some((k, next.clone()));
            j += 1;
        } else {
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// Redis's getExpireMillisecondsOrReply: the absolute expiry in ms, or an
/// error reply.
fn expire_ms(ctx: &mut Ctx, kind: ExpireKind, arg: &[u8]) -> Option<i64> {
    let Some(mut ms) = crate::util::num::parse_i64(arg) else {
        ctx.out.error(err::NOT_INT);
        return None;
    };
    let seconds = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    let bad = |ctx: &mut Ctx| {
        ctx.out.error(&format!(
            "ERR invalid expire time in '{}' command",
            ctx.cmd.name
        ));
        None
    };
    if ms <= 0 || (seconds && ms > i64::MAX / 1000) {
        return bad(ctx);
    }
    if seconds {
        ms *= 1000;
    }
    if matches!(kind, ExpireKind::Ex | ExpireKind::Px) {
        ms = ms.wrapping_add(ctx.now_ms);
    }
    if ms <= 0 {
        return bad(ctx);
    }
    Some(ms)
}

/// Replies for a SET variant: when it was done, and when NX/XX aborted it.
#[derive(Clone, Copy)]
enum SetReply {
    OkNull,
    OneZero,
}

/// Redis's setGenericCommand.
fn set_generic(ctx: &mut Ctx, args: &[Bytes], key: &Bytes, val: &Bytes, o: &ExtOpts, r: SetReply) {
    let mut when = None;
    if let Some((kind, arg)) = &o.expire {
        match expire_ms(ctx, *kind, arg) {
            Some(ms) => when = Some(ms),
            None => return,
        }
    }
    if o.get && !reply_get(ctx, key) {
        return;
    }
    // Plain SET needs no lookup: set_key does the lazy expiry itself.
    let found = (o.nx || o.xx) && ctx.lookup_write(key).is_some();
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            match r {
                SetReply::OkNull => ctx.out.null(),
                SetReply::OneZero => ctx.out.int(0),
            }
        }
        return;
    }
    ctx.set_key(key, Value::string(val), o.keepttl);
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "set", key);
    if let Some(ms) = when {
        ctx.db().set_expire(key, ms);
        ctx.propagate(vec![
            Bytes::from_static(b"SET"),
            key.clone(),
            val.clone(),
            Bytes::from_static(b"PXAT"),
            Bytes::copy_from_slice(itoa::Buffer::new().format(ms).as_bytes()),
        ]);
        ctx.notify(notify::GENERIC, "expire", key);
    }
    if !o.get {
        match r {
            SetReply::OkNull => ctx.out.ok(),
            SetReply::OneZero => ctx.out.int(1),
        }
    }
    if o.get && when.is_none() {
        let argv = args
            .iter()
            .enumerate()
            .filter(|(j, a)| *j < 3 || !a.eq_ignore_ascii_case(b"get"))
            .map(|(_, a)| a.clone())
            .collect();
        ctx.propagate(argv);
    }
}

fn set(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(o) = parse_ext(args, true) else {
        ctx.out.error(err::SYNTAX);
        return;
    };
    set_generic(ctx, args, &args[1], &args[2], &o, SetReply::OkNull);
}

fn setnx(ctx: &mut Ctx, args: &[Bytes]) {
    let o = ExtOpts {
        nx: true,
        ..Default::default()
    };
    set_generic(ctx, args, &args[1], &args[2], &o, SetReply::OneZero);
}

fn setex_generic(ctx: &mut Ctx, args: &[Bytes], kind: ExpireKind) {
    let o = ExtOpts {
        expire: Some((kind, args[2].clone())),
        ..Default::default()
    };
    set_generic(ctx, args, &args[1], &args[3], &o, SetReply::OkNull);
}

fn setex(ctx: &mut Ctx, args: &[Bytes]) {
    setex_generic(ctx, args, ExpireKind::Ex);
}

fn psetex(ctx: &mut Ctx, args: &[Bytes]) {
    setex_generic(ctx, args, ExpireKind::Px);
}

fn getset(ctx: &mut Ctx, args: &[Bytes]) {
    if !reply_get(ctx, &args[1]) {
        return;
    }
    ctx.set_key(&args[1], Value::string(&args[2]), false);
    ctx.notify(notify::STRING, "set", &args[1]);
    ctx.dirty += 1;
    ctx.propagate(vec![
        Bytes::from_static(b"SET"),
        args[1].clone(),
        args[2].clone(),
    ]);
}

fn getdel(ctx: &mut Ctx, args: &[Bytes]) {
    if !reply_get(ctx, &args[1]) {
        return;
    }
    if ctx.delete_key(&args[1]) {
        ctx.propagate(vec![Bytes::from_static(b"DEL"), args[1].clone()]);
        ctx.notify(notify::GENERIC, "del", &args[1]);
        ctx.dirty += 1;
    }
}

fn getex(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(o) = parse_ext(args, false) else {
        ctx.out.error(err::SYNTAX);
        return;
    };
    let key = &args[1];
    match ctx.lookup_read(key) {
        None => {
            ctx.out.null();
            return;
        }
        Some(e) if !e.value.is_string() => {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
        Some(_) => {}
    }
    let mut when = None;
    if let Some((kind, arg)) = &o.expire {
        match expire_ms(ctx, *kind, arg) {
            Some(ms) => when = Some((*kind, ms)),
            None => return,
        }
    }
    let db = ctx.client.db;
    if let Some(e) = ctx.srv.dbs[db].get(key) {
        bulk_value(ctx.out, &e.value);
    }
    match when {
        Some((ExpireKind::ExAt | ExpireKind::PxAt, ms)) if ms <= ctx.now_ms => {
            ctx.delete_key(key);
            ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
            ctx.notify(notify::GENERIC, "del", key);
            ctx.dirty += 1;
        }
        Some((_, ms)) => {
            ctx.db().set_expire(key, ms);
            ctx.propagate(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                Bytes::copy_from_slice(itoa::Buffer::new().format(ms).as_bytes()),
            ]);
            ctx.key_modified(key);
            ctx.notify(notify::GENERIC, "expire", key);
            ctx.dirty += 1;
        }
        None if o.persist && ctx.db().persist(key) => {
            ctx.key_modified(key);
            ctx.propagate(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
            ctx.notify(notify::GENERIC, "persist", key);
            ctx.dirty += 1;
        }
        None => {}
    }
}

fn mget(ctx: &mut Ctx, args: &[Bytes]) {
    ctx.out.array_len(args.len() - 1);
    for key in &args[1..] {
        if ctx.lookup_read(key).is_none() {
            ctx.out.null();
            continue;
        }
        let db = ctx.client.db;
        match ctx.srv.dbs[db].get(key) {
            Some(e) if e.value.is_string() => bulk_value(ctx.out, &e.value),
            _ => ctx.out.null(),
        }
    }
}

fn mset_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) {
    if args.len().is_multiple_of(2) {
        ctx.out.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.name
        ));
        return;
    }
    if nx {
        for j in (1..args.len()).step_by(2) {
            if ctx.lookup_write(&args[j]).is_some() {
                ctx.out.int(0);
                return;
            }
        }
    }
    for j in (1..args.len()).step_by(2) {
        ctx.set_key(&args[j], Value::string(&args[j + 1]), false);
        ctx.notify(notify::STRING, "set", &args[j]);
    }
    ctx.dirty += (args.len() as u64 - 1) / 2;
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
}

fn mset(ctx: &mut Ctx, args: &[Bytes]) {
    mset_generic(ctx, args, false);
}

fn msetnx(ctx: &mut Ctx, args: &[Bytes]) {
    mset_generic(ctx, args, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<Bytes> {
        s.split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn set_option_conflicts() {
        let ok = |s: &str| parse_ext(&argv(s), true).is_some();
        assert!(ok("set k v nx get ex 10"));
        assert!(ok("set k v NX nx"));
        assert!(ok("set k v ex 1 ex 2"));
        assert!(ok("set k v keepttl xx get get"));
        assert!(!ok("set k v nx xx"));
        assert!(!ok("set k v xx nx"));
        assert!(!ok("set k v ex 1 px 2"));
        assert!(!ok("set k v ex 1 keepttl"));
        assert!(!ok("set k v keepttl pxat 1"));
        assert!(!ok("set k v ex"));
        assert!(!ok("set k v persist"));
        assert!(!ok("set k v exat 1 pxat 1"));
        let getex = |s: &str| parse_ext(&argv(s), false).is_some();
        assert!(getex("getex k persist"));
        assert!(getex("getex k px 5"));
        assert!(!getex("getex k persist ex 1"));
        assert!(!getex("getex k ex 1 persist"));
        assert!(!getex("getex k nx"));
        assert!(!getex("getex k get"));
        assert!(!getex("getex k keepttl"));
        let o = parse_ext(&argv("set k v px 5 get"), true).unwrap();
        assert_eq!(o.expire.unwrap().0, ExpireKind::Px);
        assert!(o.get);
    }
}
