//! OBJECT: introspection of a key's value (encoding, reference count,
//! idle time, access frequency) as Redis 7.0's object.c reports it.
//!
//! OBJECT looks keys up without refreshing their access time and without
//! the `keymiss` event (Redis's LOOKUP_NOTOUCH|LOOKUP_NONOTIFY), so that
//! inspecting a key does not change what is inspected.

use super::table::{flags::*, CommandDef, KeyPos};
use super::Ctx;
use crate::keyspace::{Entry, Value};
use bytes::Bytes;

const K2: KeyPos = KeyPos::Range {
    first: 2,
    last: 2,
    step: 1,
};

pub static COMMANDS: &[CommandDef] =
    &[
        CommandDef::new("object", -2, 0, KeyPos::None, super::container_help)
            .doc(
                "generic",
                "2.2.3",
                "A container for object introspection commands",
                "Depends on subcommand.",
            )
            .subs(OBJECT_SUBS),
    ];

static OBJECT_SUBS: &[CommandDef] = &[
    CommandDef::new("encoding", 3, READONLY, K2, object_encoding).doc(
        "generic",
        "2.2.3",
        "Inspect the internal encoding of a Redis object",
        "O(1)",
    ),
    CommandDef::new("freq", 3, READONLY, K2, object_freq).doc(
        "generic",
        "4.0.0",
        "Get the logarithmic access frequency counter of a Redis object",
        "O(1)",
    ),
    CommandDef::new("idletime", 3, READONLY, K2, object_idletime).doc(
        "generic",
        "2.2.3",
        "Get the time since a Redis object was last accessed",
        "O(1)",
    ),
    CommandDef::new("refcount", 3, READONLY, K2, object_refcount).doc(
        "generic",
        "2.2.3",
        "Get the number of references to the value of the key",
        "O(1)",
    ),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, object_help).doc(
        "generic",
        "6.2.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
];

/// Redis's objectCommandLookup: no access-time update, no keymiss event.
/// Replies null and returns None if the key is missing.
fn object_lookup<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c Entry> {
    let db = ctx.db_index();
    if ctx.expire_if_needed(db, key) || !ctx.srv.dbs[db].contains(key) {
        ctx.srv.stats.keyspace_misses += 1;
        ctx.out.null();
        return None;
    }
    ctx.srv.stats.keyspace_hits += 1;
    ctx.srv.dbs[db].get(key)
}

fn object_encoding(ctx: &mut Ctx, args: &[Bytes]) {
    if let Some(e) = object_lookup(ctx, &args[2]) {
        let enc = e.value.encoding();
        ctx.out.bulk(enc.as_bytes());
    }
}

/// Redis shares the integers 0..9999 (refcount INT_MAX) unless maxmemory
/// with an LRU or LFU policy needs a per-key access time.
fn object_refcount(ctx: &mut Ctx, args: &[Bytes]) {
    use crate::config::EvictionPolicy as P;
    let cfg = &ctx.srv.config;
    let per_key_access = matches!(
        cfg.maxmemory_policy,
        P::VolatileLru | P::AllkeysLru | P::VolatileLfu | P::AllkeysLfu
    );
    let sharing = cfg.maxmemory == 0 || !per_key_access;
    if let Some(e) = object_lookup(ctx, &args[2]) {
        let shared = sharing && matches!(e.value, Value::Int(n) if (0..10000).contains(&n));
        ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
    }
}

fn object_idletime(ctx: &mut Ctx, args: &[Bytes]) {
    let lfu = ctx.srv.config.maxmemory_policy.is_lfu();
    if let Some(e) = object_lookup(ctx, &args[2]) {
        if lfu {
            ctx.out.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            return;
        }
        let idle = crate::server::evict::idle_secs(e.lru);
        ctx.out.int(idle as i64);
    }
}

fn object_freq(ctx: &mut Ctx, args: &[Bytes]) {
    let lfu = ctx.srv.config.maxmemory_policy.is_lfu();
    let decay = ctx.srv.config.lfu_decay_time;
    if let Some(e) = object_lookup(ctx, &args[2]) {
        if !lfu {
            ctx.out.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            return;
        }
        let freq = crate::server::evict::lfu_counter(e.lru, decay);
        ctx.out.int(freq as i64);
    }
}

fn object_help(ctx: &mut Ctx, _args: &[Bytes]) {
    super::reply_help(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
}
