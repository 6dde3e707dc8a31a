//! Key expiry commands: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (with NX XX GT
//! LT), TTL PTTL EXPIRETIME PEXPIRETIME, PERSIST.
//!
//! As in Redis 7.0's expire.c, every expiry is stored and propagated as an
//! absolute unix time in milliseconds: EXPIRE, PEXPIRE and EXPIREAT reach
//! the AOF and the replicas as PEXPIREAT, so replaying them later cannot
//! move the deadline. An expiry already in the past deletes the key at
//! once and is propagated as DEL (UNLINK with lazyfree-lazy-expire).

use super::ctx::notify;
use super::keys::lookup_notouch;
use super::table::K1;
use super::table::{flags::*, CommandDef};
use super::{err, Ctx};
use crate::keyspace::NO_EXPIRE;
use crate::util::num::parse_i64;
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("expire", -3, WRITE | FAST, K1, expire).doc(
        "generic",
        "1.0.0",
        "Set a key's time to live in seconds",
        "O(1)",
    ),
    CommandDef::new("pexpire", -3, WRITE | FAST, K1, pexpire).doc(
        "generic",
        "2.6.0",
        "Set a key's time to live in milliseconds",
        "O(1)",
    ),
    CommandDef::new("expireat", -3, WRITE | FAST, K1, expireat).doc(
        "generic",
        "1.2.0",
        "Set the expiration for a key as a UNIX timestamp",
        "O(1)",
    ),
    CommandDef::new("pexpireat", -3, WRITE | FAST, K1, pexpireat).doc(
        "generic",
        "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        "O(1)",
    ),
    CommandDef::new("expiretime", 2, READONLY | FAST, K1, expiretime).doc(
        "generic",
        "7.0.0",
        "Get the expiration Unix timestamp for a key",
        "O(1)",
    ),
    CommandDef::new("pexpiretime", 2, READONLY | FAST, K1, pexpiretime).doc(
        "generic",
        "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds",
        "O(1)",
    ),
    CommandDef::new("ttl", 2, READONLY | FAST, K1, ttl).doc(
        "generic",
        "1.0.0",
        "Get the time to live for a key in seconds",
        "O(1)",
    ),
    CommandDef::new("pttl", 2, READONLY | FAST, K1, pttl).doc(
        "generic",
        "2.6.0",
        "Get the time to live for a key in milliseconds",
        "O(1)",
    ),
    CommandDef::new("persist", 2, WRITE | FAST, K1, persist).doc(
        "generic",
        "2.2.0",
        "Remove the expiration from a key",
        "O(1)",
    ),
];

/// NX / XX / GT / LT of the EXPIRE family.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExpireFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

/// Redis's parseExtendedExpireArgumentsOrReply over the options after the
/// time argument. Err is the full error text.
pub fn parse_expire_flags(opts: &[Bytes]) -> Result<ExpireFlags, String> {
    let mut f = ExpireFlags::default();
    for o in opts {
        match o.to_ascii_lowercase().as_slice() {
            b"nx" => f.nx = true,
            b"xx" => f.xx = true,
            b"gt" => f.gt = true,
            b"lt" => f.lt = true,
            _ => {
                return Err(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(o)
                ))
            }
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if f.gt && f.lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    Ok(f)
}

/// Absolute expiry in ms from the argument: `base_ms` is 0 for the *AT
/// forms and the current time for relative ones. None on overflow.
pub fn absolute_expire(when: i64, base_ms: i64, seconds: bool) -> Option<i64> {
    let when = if seconds {
        when.checked_mul(1000)?
    } else {
        when
    };
    if when > i64::MAX - base_ms {
        return None;
    }
    Some(when + base_ms)
}

/// Whether the options let a new expiry `when` replace `current`
/// (NO_EXPIRE counts as an infinite TTL).
pub fn flags_allow(f: ExpireFlags, current: i64, when: i64) -> bool {
    if f.nx && current != NO_EXPIRE {
        return false;
    }
    if f.xx && current == NO_EXPIRE {
        return false;
    }
    if f.gt && (current == NO_EXPIRE || when <= current) {
        return false;
    }
    if f.lt && current != NO_EXPIRE && when >= current {
        return false;
    }
    true
}

/// Redis's expireGenericCommand.
fn expire_generic(ctx: &mut Ctx, args: &[Bytes], relative: bool, seconds: bool) {
    let flags = match parse_expire_flags(&args[3..]) {
        Ok(f) => f,
        Err(e) => {
            ctx.out.error(&e);
            return;
        }
    };
    let Some(arg) = parse_i64(&args[2]) else {
        ctx.out.error(err::NOT_INT);
        return;
    };
    let base = if relative { ctx.now_ms } else { 0 };
    let Some(when) = absolute_expire(arg, base, seconds) else {
        ctx.out.error(&format!(
            "ERR invalid expire time in '{}' command",
            ctx.cmd.name
        ));
        return;
    };
    let key = &args[1];
    let Some(e) = ctx.lookup_write(key) else {
        ctx.out.int(0);
        return;
    };
    if !flags_allow(flags, e.expire, when) {
        ctx.out.int(0);
        return;
    }
    let db = ctx.db_index();
    // checkAlreadyExpired. While the AOF is replayed a past expiry is
    // kept (the AOF's own DEL follows, or lazy expiry after the load).
    // Replication will add the replica case.
    if when <= ctx.now_ms && !ctx.srv.aof.loading {
        ctx.srv.dbs[db].remove(key);
        ctx.dirty += 1;
        let del: &'static [u8] = if ctx.srv.config.lazyfree_lazy_expire {
            b"UNLINK"
        } else {
            b"DEL"
        };
        ctx.propagate(vec![Bytes::from_static(del), key.clone()]);
        ctx.signal_modified_key(db, key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.out.int(1);
        return;
    }
    ctx.srv.dbs[db].set_expire(key, when);
    ctx.out.int(1);
    // Propagate as PEXPIREAT with the absolute time; the options stay.
    if ctx.cmd.name != "pexpireat" {
        let mut argv = args.to_vec();
        argv[0] = Bytes::from_static(b"PEXPIREAT");
        argv[2] = Bytes::copy_from_slice(itoa::Buffer::new().format(when).as_bytes());
        ctx.propagate(argv);
    }
    ctx.signal_modified_key(db, key);
    ctx.notify(notify::GENERIC, "expire", key);
    ctx.dirty += 1;
}

fn expire(ctx: &mut Ctx, args: &[Bytes]) {
    expire_generic(ctx, args, true, true)
}

fn pexpire(ctx: &mut Ctx, args: &[Bytes]) {
    expire_generic(ctx, args, true, false)
}

fn expireat(ctx: &mut Ctx, args: &[Bytes]) {
    expire_generic(ctx, args, false, true)
}

fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) {
    expire_generic(ctx, args, false, false)
}

/// Redis's ttlGenericCommand: -2 missing key, -1 no expiry, else the
/// remaining (or absolute) time, seconds rounded to nearest.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], ms: bool, absolute: bool) {
    if !lookup_notouch(ctx, key) {
        ctx.out.int(-2);
        return;
    }
    let db = ctx.db_index();
    let expire = ctx.srv.dbs[db].expire_of(key).unwrap_or(NO_EXPIRE);
    if expire == NO_EXPIRE {
        ctx.out.int(-1);
        return;
    }
    let t = if absolute {
        expire
    } else {
        expire - ctx.now_ms
    }
    .max(0);
    ctx.out.int(if ms { t } else { (t + 500) / 1000 });
}

fn ttl(ctx: &mut Ctx, args: &[Bytes]) {
    ttl_generic(ctx, &args[1], false, false)
}

fn pttl(ctx: &mut Ctx, args: &[Bytes]) {
    ttl_generic(ctx, &args[1], true, false)
}

fn expiretime(ctx: &mut Ctx, args: &[Bytes]) {
    ttl_generic(ctx, &args[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) {
    ttl_generic(ctx, &args[1], true, true)
}

fn persist(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    if ctx.lookup_write(key).is_none() {
        ctx.out.int(0);
        return;
    }
    let db = ctx.db_index();
    if !ctx.srv.dbs[db].persist(key) {
        ctx.out.int(0);
        return;
    }
    ctx.signal_modified_key(db, key);
    ctx.notify(notify::GENERIC, "persist", key);
    ctx.out.int(1);
    ctx.dirty += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn flag_conflicts() {
        assert_eq!(
            parse_expire_flags(&b(&["nx", "XX"])).unwrap_err(),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(
            parse_expire_flags(&b(&["nx", "gt"])).unwrap_err(),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(
            parse_expire_flags(&b(&["gt", "lt"])).unwrap_err(),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(
            parse_expire_flags(&b(&["xx", "foo"])).unwrap_err(),
            "ERR Unsupported option foo"
        );
        let f = parse_expire_flags(&b(&["Lt", "xx"])).unwrap();
        assert!(f.lt && f.xx && !f.gt && !f.nx);
    }

    #[test]
    fn overflow_checks() {
        assert_eq!(absolute_expire(i64::MAX / 1000 + 1, 0, true), None);
        assert_eq!(absolute_expire(i64::MIN / 1000 - 1, 0, true), None);
        assert_eq!(absolute_expire(i64::MAX - 5, 10, false), None);
        assert_eq!(absolute_expire(i64::MAX, 0, false), Some(i64::MAX));
        assert_eq!(absolute_expire(-5, 1000, true), Some(-4000));
        assert_eq!(absolute_expire(7, 1000, true), Some(8000));
    }

    #[test]
    fn option_semantics() {
        let f = |s: &[&str]| parse_expire_flags(&b(s)).unwrap();
        assert!(flags_allow(f(&["nx"]), NO_EXPIRE, 10));
        assert!(!flags_allow(f(&["nx"]), 5, 10));
        assert!(!flags_allow(f(&["xx"]), NO_EXPIRE, 10));
        assert!(flags_allow(f(&["xx"]), 5, 10));
        assert!(!flags_allow(f(&["gt"]), NO_EXPIRE, 10));
        assert!(flags_allow(f(&["gt"]), 5, 10));
        assert!(!flags_allow(f(&["gt"]), 10, 10));
        assert!(flags_allow(f(&["lt"]), NO_EXPIRE, 10));
        assert!(!flags_allow(f(&["lt"]), 5, 10));
        assert!(flags_allow(f(&["lt"]), 50, 10));
        assert!(!flags_allow(f(&["lt", "xx"]), NO_EXPIRE, 10));
    }
}
