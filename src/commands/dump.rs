//! DUMP, RESTORE and RESTORE-ASKING (Redis 7.0's cluster.c): a key's value
//! serialized as a DUMP payload (an RDB object with the RDB version and a
//! CRC-64) and created back from one.
//!
//! RESTORE checks its options, then that the key is free (unless
//! REPLACE), the TTL, the payload's footer, and only then decodes the
//! object, with the error replies Redis gives at each step. A relative TTL
//! is propagated as an absolute one with ABSTTL appended; a TTL already in
//! the past creates nothing (and a replaced key is propagated as DEL).
//! `sanitize-dump-payload` decides whether blobs are validated deeply:
//! `yes` always, `clients` for clients whose user lacks
//! `skip-sanitize-payload` (keel's only user, `default`, lacks it).

use super::ctx::notify;
use super::keys::add_entry;
use super::table::{flags::*, CommandDef, K1};
use super::{err, Ctx};
use crate::config::Config;
use crate::keyspace::{Entry, KBytes, Value, NO_EXPIRE};
use crate::persistence::rdb::dump::{dump_payload_with, footer_ok_with};
use crate::persistence::rdb::{decode_object, types, Limits, Reader};
use crate::util::num::parse_i64;
use bytes::Bytes;

const RESTORE_COMPLEXITY: &str = "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).";

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("dump", 2, READONLY, K1, dump).doc(
        "generic",
        "2.6.0",
        "Return a serialized version of the value stored at the specified key.",
        "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
    ),
    CommandDef::new("restore", -4, WRITE | DENYOOM, K1, restore).doc(
        "generic",
        "2.6.0",
        "Create a key using the provided serialized value, previously obtained using DUMP.",
        RESTORE_COMPLEXITY,
    ),
    CommandDef::new("restore-asking", -4, WRITE | DENYOOM, K1, restore).doc(
        "server",
        "3.0.0",
        "An internal command for migrating keys in a cluster",
        RESTORE_COMPLEXITY,
    ),
];

/// Whether RESTORE validates payloads deeply for the calling client
/// (`sanitize-dump-payload`; `clients` spares only users with
/// `skip-sanitize-payload`, which keel's default user does not have).
fn deep_sanitize(c: &Config) -> bool {
    // 1 = yes, 2 = clients.
    c.sanitize_dump_payload != 0
}

fn dump(ctx: &mut Ctx, args: &[Bytes]) {
    let compress = ctx.srv.config.rdbcompression;
    let Some(e) = ctx.lookup_read(&args[1]) else {
        ctx.out.null();
        return;
    };
    let payload = dump_payload_with(&e.value, compress);
    ctx.out.bulk(&payload);
}

/// Decodes a DUMP payload whose footer was checked: the type byte and the
/// object read from the rest of the payload (footer included, as Redis's
/// rio reads from the whole argument). None for any decoding failure or
/// an empty collection.
pub fn decode_payload(p: &[u8], lim: &Limits) -> Option<Value> {
    let (&type_byte, rest) = p.split_first()?;
    // rdbIsObjectType of Redis 7.0: types 20 and up are newer than RDB 10.
    if type_byte == 8 || type_byte > types::STREAM_LISTPACKS_2 {
        return None;
    }
    let mut r = Reader::new(rest);
    match decode_object(&mut r, type_byte, lim) {
        Ok(v) => v,
        Err(e) => {
            // rdbReportError in a RESTORE context: logged at verbose level.
            crate::log_verbose!(
                "Internal error in RDB reading offset 0, function at rdb.c:0 -> {}",
                e.msg
            );
            None
        }
    }
}

/// How many blobs Redis validates deeply while loading this payload
/// (its `dump_payload_sanitizations` counts one per intset or listpack,
/// per packed quicklist node and per stream node).
pub fn sanitized_blobs(p: &[u8]) -> u64 {
    let Some((&t, rest)) = p.split_first() else {
        return 0;
    };
    let mut r = Reader::new(rest);
    match t {
        types::SET_INTSET | types::HASH_LISTPACK | types::ZSET_LISTPACK => 1,
        types::STREAM_LISTPACKS_2 | types::STREAM_LISTPACKS => r.count().unwrap_or(0),
        types::LIST_QUICKLIST_2 => {
            let mut packed = 0;
            for _ in 0..r.count().unwrap_or(0) {
                let (Ok(container), Ok(_)) = (r.length(), r.string()) else {
                    break;
                };
                packed += u64::from(container == 2);
            }
            packed
        }
        _ => 0,
    }
}

/// RESTORE's options: (replace, absttl, idle seconds, LFU frequency).
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    idle: Option<i64>,
    freq: Option<i64>,
}

fn parse_restore_opts(ctx: &mut Ctx, args: &[Bytes]) -> Option<RestoreOpts> {
    let mut o = RestoreOpts {
        replace: false,
        absttl: false,
        idle: None,
        freq: None,
    };
    let mut j = 4;
    while j < args.len() {
        let additional = args.len() - j - 1;
        let a = args[j].to_ascii_lowercase();
        if a == b"replace" {
            o.replace = true;
        } else if a == b"absttl" {
            o.absttl = true;
        } else if a == b"idletime" && additional >= 1 && o.freq.is_none() {
            let Some(v) = parse_i64(&args[j + 1]) else {
                ctx.out.error(err::NOT_INT);
                return None;
            };
            if v < 0 {
                ctx.out.error("ERR Invalid IDLETIME value, must be >= 0");
                return None;
            }
            o.idle = Some(v);
            j += 1;
        } else if a == b"freq" && additional >= 1 && o.idle.is_none() {
            let Some(v) = parse_i64(&args[j + 1]) else {
                ctx.out.error(err::NOT_INT);
                return None;
            };
            if !(0..=255).contains(&v) {
                ctx.out
                    .error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                return None;
            }
            o.freq = Some(v);
            j += 1;
        } else {
            ctx.out.error(err::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// objectSetLRUOrLFU: the access data a restored key starts with.
fn restored_lru(ctx: &Ctx, o: &RestoreOpts, lru_clock: u32) -> u32 {
    use crate::server::evict;
    let lfu = ctx.srv.config.maxmemory_policy.is_lfu();
    match (lfu, o.freq, o.idle) {
        (true, Some(f), _) => (evict::initial_lru(true) & !0xFF) | f as u32,
        (false, _, Some(idle)) => {
            let abs = lru_clock as i64 - idle;
            if abs < 0 {
                (abs + evict::LRU_CLOCK_MAX as i64) as u32
            } else {
                abs as u32
            }
        }
        _ => ctx.srv.new_lru(),
    }
}

fn restore(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(o) = parse_restore_opts(ctx, args) else {
        return;
    };
    let lru_clock = crate::server::evict::lru_clock();
    let key = &args[1];
    if !o.replace && ctx.lookup_write(key).is_some() {
        ctx.out.error("BUSYKEY Target key name already exists.");
        return;
    }
    let Some(mut ttl) = parse_i64(&args[2]) else {
        ctx.out.error(err::NOT_INT);
        return;
    };
    if ttl < 0 {
        ctx.out.error("ERR Invalid TTL value, must be >= 0");
        return;
    }
    let payload = &args[3];
    if !footer_ok_with(payload, !ctx.srv.skip_checksum_validation) {
        ctx.out
            .error("ERR DUMP payload version or checksum are wrong");
        return;
    }
    let deep = deep_sanitize(&ctx.srv.config);
    let lim = crate::persistence::loading::limits_from(&ctx.srv.config, deep);
    if deep {
        ctx.srv.stats.dump_payload_sanitizations += sanitized_blobs(payload);
    }
    let Some(value) = decode_payload(payload, &lim) else {
        ctx.out.error("ERR Bad data format");
        return;
    };
    let deleted = o.replace && ctx.delete_key(key);
    if ttl != 0 && !o.absttl {
        ttl = ttl.saturating_add(crate::server::now_ms());
    }
    let db = ctx.db_index();
    if ttl != 0 && ttl <= ctx.now_ms && ctx.srv.config.replicaof.is_none() && !ctx.srv.aof.loading {
        if deleted {
            ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
            ctx.signal_modified_key(db, key);
            ctx.notify(notify::GENERIC, "del", key);
            ctx.dirty += 1;
        }
        ctx.out.ok();
        return;
    }
    let lru = restored_lru(ctx, &o, lru_clock);
    let entry = Entry {
        key: KBytes::new(b""),
        value,
        expire: if ttl != 0 { ttl } else { NO_EXPIRE },
        lru,
    };
    add_entry(ctx, db, entry, key);
    if ttl != 0 && !o.absttl {
        let mut argv = args.to_vec();
        argv[2] = Bytes::copy_from_slice(itoa::Buffer::new().format(ttl).as_bytes());
        argv.push(Bytes::from_static(b"ABSTTL"));
        ctx.propagate(argv);
    }
    ctx.signal_modified_key(db, key);
    ctx.notify(notify::GENERIC, "restore", key);
    ctx.out.ok();
    ctx.dirty += 1;
}

#[cfg(test)]
#[path = "dump_tests.rs"]
mod tests;
