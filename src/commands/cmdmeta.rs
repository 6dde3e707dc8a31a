//! What COMMAND INFO / DOCS / LIST derive from a command's table entry:
//! ACL categories, command tips, key specs and the legacy key range.
//!
//! ACL categories follow Redis: flags imply @write @read @admin
//! @dangerous @pubsub @fast @blocking (and @slow when not @fast); the
//! command group implies the data-type category (@string, @keyspace ...)
//! except for container commands; a short table holds Redis's few
//! exceptions to the group rule.

use super::table::{flags, CommandDef, KeyPos};

/// ACL categories in Redis's order (ACLCommandCategories).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

fn cat(name: &str) -> u32 {
    CATEGORIES
        .iter()
        .position(|c| *c == name)
        .map(|i| 1 << i)
        .unwrap_or(0)
}

/// Bit of a category by name (case-insensitive), 0 if unknown.
pub fn category_bit(name: &str) -> u32 {
    cat(&name.to_ascii_lowercase())
}

fn cats(names: &[&str]) -> u32 {
    names.iter().fold(0, |acc, n| acc | cat(n))
}

/// Redis's exceptions to "the group gives the category" (by full name).
fn explicit_categories(full: &str) -> Option<u32> {
    Some(match full {
        "keys" | "migrate" | "restore" => cats(&["keyspace", "dangerous"]),
        "sort" | "sort_ro" => cats(&["set", "sortedset", "list", "dangerous"]),
        "wait" | "readwrite" | "readonly" | "asking" => cats(&["connection"]),
        "command" => cats(&["connection"]),
        f if f.starts_with("command|") => cats(&["connection"]),
        "flushall" | "flushdb" | "swapdb" | "restore-asking" => cats(&["keyspace", "dangerous"]),
        "lastsave" | "role" => cats(&["admin", "dangerous"]),
        "info" => cats(&["dangerous"]),
        "dbsize" => cats(&["keyspace"]),
        _ => return None,
    })
}

fn group_category(group: &str) -> u32 {
    match group {
        "generic" => cat("keyspace"),
        "string" => cat("string"),
        "list" => cat("list"),
        "set" => cat("set"),
        "sorted_set" | "sorted-set" => cat("sortedset"),
        "hash" => cat("hash"),
        "connection" => cat("connection"),
        "scripting" => cat("scripting"),
        "transactions" => cat("transaction"),
        "stream" => cat("stream"),
        "geo" => cat("geo"),
        "bitmap" => cat("bitmap"),
        "hyperloglog" => cat("hyperloglog"),
        _ => 0,
    }
}

/// The ACL categories of a command (`parent` set for subcommands).
pub fn acl_categories(def: &CommandDef, full: &str) -> u32 {
    let mut c = match explicit_categories(full) {
        Some(c) => c,
        None if def.subcommands.is_empty() => group_category(def.group),
        None => 0,
    };
    if def.has(flags::WRITE) {
        c |= cat("write");
    }
    if def.has(flags::READONLY) && c & cat("scripting") == 0 {
        c |= cat("read");
    }
    if def.has(flags::ADMIN) {
        c |= cats(&["admin", "dangerous"]);
    }
    if def.has(flags::PUBSUB) {
        c |= cat("pubsub");
    }
    if def.has(flags::FAST) {
        c |= cat("fast");
    }
    if def.has(flags::BLOCKING) {
        c |= cat("blocking");
    }
    if c & cat("fast") == 0 {
        c |= cat("slow");
    }
    c
}

/// Category names of a bit set, in Redis's order.
pub fn category_names(bits: u32) -> Vec<&'static str> {
    CATEGORIES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Command flags as COMMAND INFO shows them (Redis hides may_replicate
/// and protected).
pub fn flag_names(def: &CommandDef) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = flags::NAMES
        .iter()
        .filter(|(f, n)| def.has(*f) && *n != "may_replicate")
        .map(|(_, n)| *n)
        .collect();
    if is_movable(def) && !v.contains(&"movablekeys") {
        v.push("movablekeys");
    }
    v
}

/// Keys whose positions depend on the arguments (numkeys, keywords).
pub fn is_movable(def: &CommandDef) -> bool {
    matches!(def.keys, KeyPos::NumKeys { .. } | KeyPos::Custom(_))
}

/// Command tips (lower case, as COMMAND INFO shows them).
pub fn tips(full: &str) -> &'static [&'static str] {
    const ND: &[&str] = &["nondeterministic_output"];
    const NDO: &[&str] = &["nondeterministic_output_order"];
    const ALL_NODES_OK: &[&str] = &["request_policy:all_nodes", "response_policy:all_succeeded"];
    const ALL_SHARDS_OK: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];
    const LAT: &[&str] = &[
        "nondeterministic_output",
        "request_policy:all_nodes",
        "response_policy:special",
    ];
    const MULTI_SUM: &[&str] = &["request_policy:multi_shard", "response_policy:agg_sum"];
    match full {
        "client|info" | "client|list" | "time" | "lastsave" | "ttl" | "pttl" | "dump"
        | "migrate" | "object|encoding" | "object|freq" | "object|idletime" | "object|refcount" => {
            ND
        }
        "command" | "command|docs" | "command|info" | "command|list" => NDO,
        "info" => &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        "ping" | "flushall" | "flushdb" => ALL_SHARDS_OK,
        "config|set" | "slowlog|reset" | "latency|reset" => ALL_NODES_OK,
        "latency|history" | "latency|latest" | "latency|histogram" => LAT,
        "slowlog|get" => &["request_policy:all_nodes", "nondeterministic_output"],
        "slowlog|len" => &[
            "request_policy:all_nodes",
            "response_policy:agg_sum",
            "nondeterministic_output",
        ],
        "dbsize" => &["request_policy:all_shards", "response_policy:agg_sum"],
        "del" | "exists" | "touch" | "unlink" => MULTI_SUM,
        "mget" => &["request_policy:multi_shard"],
        "mset" => &[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ],
        "msetnx" => &["request_policy:multi_shard", "response_policy:agg_min"],
        "keys" => &["request_policy:all_shards", "nondeterministic_output_order"],
        "randomkey" => &["request_policy:all_shards", "nondeterministic_output"],
        "scan" => &["nondeterministic_output", "request_policy:special"],
        _ => &[],
    }
}

/// (firstkey, lastkey, step) of COMMAND INFO's legacy fields.
pub fn legacy_range(def: &CommandDef) -> (i64, i64, i64) {
    match def.keys {
        KeyPos::Range { first, last, step } => (first as i64, last as i64, step as i64),
        KeyPos::NumKeys { .. } | KeyPos::None | KeyPos::Custom(_) => (0, 0, 0),
    }
}

/// One key spec (begin_search + find_keys), from the command's KeyPos.
pub enum KeySpec {
    /// Keys at `index`, up to `lastkey` (relative; negative from the end).
    Range { index: i64, lastkey: i64, step: i64 },
    /// The key count is at `index`; keys start `first` after it.
    KeyNum { index: i64, first: i64, step: i64 },
    /// Found by command-specific code.
    Unknown,
}

pub fn key_specs(def: &CommandDef) -> Vec<KeySpec> {
    match def.keys {
        KeyPos::None => vec![],
        KeyPos::Range { first, last, step } => vec![KeySpec::Range {
            index: first as i64,
            lastkey: if last >= 0 {
                (last - first) as i64
            } else {
                last as i64
            },
            step: step as i64,
        }],
        KeyPos::NumKeys {
            count_at,
            first,
            step,
        } => vec![KeySpec::KeyNum {
            index: count_at as i64,
            first: (first - count_at) as i64,
            step: step as i64,
        }],
        KeyPos::Custom(_) => vec![KeySpec::Unknown],
    }
}

const RO: &[&str] = &["RO"];
const RO_ACCESS: &[&str] = &["RO", "access"];
const RW_ACCESS_UPDATE: &[&str] = &["RW", "access", "update"];
const RW_ACCESS_DELETE: &[&str] = &["RW", "access", "delete"];
const RW_INSERT: &[&str] = &["RW", "insert"];
const RW_ACCESS: &[&str] = &["RW", "access"];
const RW_ACCESS_INSERT: &[&str] = &["RW", "access", "insert"];
const RW_UPDATE: &[&str] = &["RW", "update"];
const RW_DELETE: &[&str] = &["RW", "delete"];
const OW_UPDATE: &[&str] = &["OW", "update"];
const OW_INSERT: &[&str] = &["OW", "insert"];
const RM_DELETE: &[&str] = &["RM", "delete"];

/// Redis's key-spec flags of common commands, one entry per key (the last
/// entry applies to every further key).
fn known_key_flags(full: &str) -> Option<&'static [&'static [&'static str]]> {
    Some(match full {
        "get" | "mget" | "getrange" | "substr" | "getbit" | "bitcount" | "bitpos" | "lrange"
        | "lindex" | "smembers" | "sismember" | "smismember" | "hget" | "hmget" | "hgetall"
        | "zrange" | "zscore" | "dump" | "ttl" | "pttl" | "expiretime" | "pexpiretime" | "lcs"
        | "sort_ro" => &[RO_ACCESS],
        "strlen" | "exists" | "type" | "touch" | "llen" | "scard" | "hlen" | "zcard" | "watch"
        | "object|encoding" | "object|freq" | "object|idletime" | "object|refcount" => &[RO],
        "set" | "mset" | "setex" | "psetex" | "restore" | "restore-asking" => &[OW_UPDATE],
        "setnx" | "msetnx" => &[OW_INSERT],
        "getset" | "getex" | "incr" | "decr" | "incrby" | "decrby" | "incrbyfloat" | "setbit" => {
            &[RW_ACCESS_UPDATE]
        }
        "getdel" | "lpop" | "rpop" | "move" => &[RW_ACCESS_DELETE],
        "append" | "lpush" | "rpush" | "sadd" | "pfadd" => &[RW_INSERT],
        "setrange" | "expire" | "pexpire" | "expireat" | "pexpireat" | "persist" | "hset"
        | "zadd" | "xadd" => &[RW_UPDATE],
        "srem" | "hdel" | "zrem" => &[RW_DELETE],
        "del" | "unlink" => &[RM_DELETE],
        "rename" => &[RW_ACCESS_DELETE, OW_UPDATE],
        "renamenx" => &[RW_ACCESS_DELETE, OW_INSERT],
        "copy" | "sort" => &[RO_ACCESS, OW_UPDATE],
        "lmove" | "blmove" | "rpoplpush" | "brpoplpush" => &[RW_ACCESS_DELETE, RW_INSERT],
        "pfcount" | "pfdebug" => &[RW_ACCESS],
        "pfmerge" => &[RW_ACCESS_INSERT, RO_ACCESS],
        _ => return None,
    })
}

/// Key access flags of the `nth` key of a command: Redis's key-spec
/// flags where known, else what the command flags imply (read-only
/// access, or read-write).
pub fn key_flags(def: &CommandDef, full: &str, nth: usize) -> &'static [&'static str] {
    if let Some(per_key) = known_key_flags(full) {
        return per_key[nth.min(per_key.len() - 1)];
    }
    if def.has(flags::WRITE) {
        &["RW"]
    } else if def.has(flags::READONLY) {
        RO_ACCESS
    } else {
        &[]
    }
}

/// COMMAND DOCS group names (Redis writes sorted_set as "sorted-set").
pub fn doc_group(group: &str) -> &str {
    match group {
        "sorted_set" => "sorted-set",
        "" => "server",
        g => g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::table::flags::*;

    fn noop(_: &mut crate::commands::Ctx, _: &[bytes::Bytes]) {}

    #[test]
    fn categories_from_flags_and_group() {
        let get = CommandDef::new(
            "get",
            2,
            READONLY | FAST,
            KeyPos::Range {
                first: 1,
                last: 1,
                step: 1,
            },
            noop,
        )
        .doc("string", "1.0.0", "", "");
        assert_eq!(
            category_names(acl_categories(&get, "get")),
            ["read", "string", "fast"]
        );
        let info = CommandDef::new("info", -1, LOADING | STALE, KeyPos::None, noop)
            .doc("server", "1.0.0", "", "");
        assert_eq!(
            category_names(acl_categories(&info, "info")),
            ["slow", "dangerous"]
        );
        assert_eq!(category_bit("SCRIPTING"), 1 << 20);
        assert_eq!(category_bit("nope"), 0);
    }

    #[test]
    fn key_specs_from_keypos() {
        let mset = CommandDef::new(
            "mset",
            -3,
            WRITE,
            KeyPos::Range {
                first: 1,
                last: -1,
                step: 2,
            },
            noop,
        );
        assert_eq!(legacy_range(&mset), (1, -1, 2));
        assert!(matches!(
            key_specs(&mset)[0],
            KeySpec::Range {
                index: 1,
                lastkey: -1,
                step: 2
            }
        ));
        let z = CommandDef::new(
            "zunion",
            -3,
            READONLY,
            KeyPos::NumKeys {
                count_at: 1,
                first: 2,
                step: 1,
            },
            noop,
        );
        assert!(is_movable(&z));
        assert!(flag_names(&z).contains(&"movablekeys"));
        assert!(matches!(
            key_specs(&z)[0],
            KeySpec::KeyNum {
                index: 1,
                first: 1,
                step: 1
            }
        ));
    }
}
