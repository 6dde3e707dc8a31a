//! The list of every directive Redis 7.0.15 has (as built with TLS, like
//! the reference redis-server), in Redis's order, with Redis's types,
//! bounds, defaults, aliases and flags. Directives keel implements point
//! at typed fields of [`Config`]; see `directives` for the model.

use super::directives::DENY_LOADING;
use super::directives::{Directive, Kind, HIDDEN, IMMUTABLE, MULTI_ARG, PROTECTED, SENSITIVE};
use super::spec::{EnumSpec, NumSpec, StrSpec, Val, MEMORY, OCTAL, PERCENT};
use super::validate::{basename, hostname_valid, proc_title_valid, shutdown_flags_valid};
use super::{AppendFsync, Config, EvictionPolicy, LogLevel};

const I32: i64 = i32::MAX as i64;
const U32: i64 = u32::MAX as i64;
const L: i64 = i64::MAX;

fn boolean(name: &'static str, flags: u32, default: bool) -> Directive {
    Directive::new(name, flags, Kind::Bool(default))
}

fn num(name: &'static str, flags: u32, min: i64, max: i64, default: i64, nf: u8) -> Directive {
    Directive::new(
        name,
        flags,
        Kind::Num(NumSpec {
            min,
            max,
            default,
            flags: nf,
            unsigned: false,
        }),
    )
}

/// A number stored in an unsigned C type (bounds compared unsigned).
fn unum(name: &'static str, flags: u32, min: i64, max: i64, default: i64, nf: u8) -> Directive {
    Directive::new(
        name,
        flags,
        Kind::Num(NumSpec {
            min,
            max,
            default,
            flags: nf,
            unsigned: true,
        }),
    )
}

fn enm(
    name: &'static str,
    flags: u32,
    items: &'static [(&'static str, i64)],
    default: i64,
) -> Directive {
    Directive::new(
        name,
        flags,
        Kind::Enum(EnumSpec {
            items,
            default,
            valid: None,
        }),
    )
}

/// A string; `null` is EMPTY_STRING_IS_NULL.
fn string(name: &'static str, flags: u32, null: bool, default: Option<&'static str>) -> Directive {
    Directive::new(
        name,
        flags,
        Kind::Str(StrSpec {
            default,
            empty_is_null: null,
            valid: None,
        }),
    )
}

fn str_valid(mut d: Directive, f: fn(&str) -> Result<(), &'static str>) -> Directive {
    if let Kind::Str(s) = &mut d.kind {
        s.valid = Some(f);
    }
    d
}

macro_rules! tbool {
    ($f:ident) => {
        (
            |c: &Config| Val::Bool(c.$f),
            |c: &mut Config, v: Val| c.$f = v.as_bool(),
        )
    };
}
macro_rules! tint {
    ($f:ident, $t:ty) => {
        (
            |c: &Config| Val::Int(c.$f as i64),
            |c: &mut Config, v: Val| c.$f = v.as_int() as $t,
        )
    };
}
/// A String field where "" means NULL.
macro_rules! tnull {
    ($f:ident) => {
        (
            |c: &Config| Val::Str(Some(c.$f.clone()).filter(|s| !s.is_empty())),
            |c: &mut Config, v: Val| c.$f = v.into_string(),
        )
    };
}
/// A String field that may be empty.
macro_rules! tstr {
    ($f:ident) => {
        (
            |c: &Config| Val::Str(Some(c.$f.clone())),
            |c: &mut Config, v: Val| c.$f = v.into_string(),
        )
    };
}
/// An Option<String> field.
macro_rules! topt {
    ($f:ident) => {
        (
            |c: &Config| Val::Str(c.$f.clone()),
            |c: &mut Config, v: Val| {
                c.$f = match v {
                    Val::Str(s) => s,
                    _ => None,
                }
            },
        )
    };
}

trait Typed {
    fn t(self, acc: (super::directives::TypedGet, super::directives::TypedSet)) -> Directive;
}
impl Typed for Directive {
    fn t(self, acc: (super::directives::TypedGet, super::directives::TypedSet)) -> Directive {
        self.typed(acc.0, acc.1)
    }
}

const SUPERVISED: &[(&str, i64)] = &[("upstart", 3), ("systemd", 2), ("auto", 1), ("no", 0)];
const SYSLOG: &[(&str, i64)] = &[
    ("user", 8),
    ("local0", 128),
    ("local1", 136),
    ("local2", 144),
    ("local3", 152),
    ("local4", 160),
    ("local5", 168),
    ("local6", 176),
    ("local7", 184),
];
const DISKLESS_LOAD: &[(&str, i64)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
pub const LOGLEVELS: &[(&str, i64)] =
    &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
pub const POLICIES: &[(&str, i64)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
const FSYNC: &[(&str, i64)] = &[("everysec", 1), ("always", 0), ("no", 2)];
const OOM_ADJ: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const PUBSUB_DEFAULT: &[(&str, i64)] = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("clients", 2)];
pub const PROTECTED_ACTION: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("local", 2)];
pub const ENDPOINT: &[(&str, i64)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const PROPAGATION_ERR: &[(&str, i64)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
const SHUTDOWN_SIG: &[(&str, i64)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];
const TLS_AUTH: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("optional", 2)];

fn policy_from(i: i64) -> EvictionPolicy {
    use EvictionPolicy::*;
    [
        VolatileLru,
        VolatileLfu,
        VolatileRandom,
        VolatileTtl,
        AllkeysLru,
        AllkeysLfu,
        AllkeysRandom,
        NoEviction,
    ][i as usize & 7]
}

fn loglevel_from(i: i64) -> LogLevel {
    match i {
        0 => LogLevel::Debug,
        1 => LogLevel::Verbose,
        2 => LogLevel::Notice,
        _ => LogLevel::Warning,
    }
}

fn loglevel_to(l: LogLevel) -> i64 {
    match l {
        LogLevel::Debug => 0,
        LogLevel::Verbose => 1,
        LogLevel::Notice => 2,
        LogLevel::Warning | LogLevel::Nothing => 3,
    }
}

fn name_of(items: &[(&str, i64)], v: i64) -> String {
    items
        .iter()
        .find(|(_, i)| *i == v)
        .map(|(n, _)| n.to_string())
        .unwrap_or_default()
}

fn value_of(items: &[(&str, i64)], n: &str) -> i64 {
    items
        .iter()
        .find(|(s, _)| *s == n)
        .map(|(_, i)| *i)
        .unwrap_or(0)
}

fn enum_valid(mut d: Directive, f: fn(i64) -> Result<(), &'static str>) -> Directive {
    if let Kind::Enum(e) = &mut d.kind {
        e.valid = Some(f);
    }
    d
}

pub fn build() -> Vec<Directive> {
    let (i, m, h, p, s, dl) = (
        IMMUTABLE,
        MULTI_ARG,
        HIDDEN,
        PROTECTED,
        SENSITIVE,
        DENY_LOADING,
    );
    let mut v = vec![
        // Bool configs.
        boolean("rdbchecksum", i, true).t(tbool!(rdbchecksum)),
        boolean("daemonize", i, false).t(tbool!(daemonize)),
        boolean("io-threads-do-reads", i, false),
        boolean("always-show-logo", i, false).t(tbool!(always_show_logo)),
        boolean("protected-mode", 0, true).t(tbool!(protected_mode)),
        boolean("rdbcompression", 0, true).t(tbool!(rdbcompression)),
        boolean("rdb-del-sync-files", 0, false).t(tbool!(rdb_del_sync_files)),
        boolean("activerehashing", 0, true),
        boolean("stop-writes-on-bgsave-error", 0, true).t(tbool!(stop_writes_on_bgsave_error)),
        boolean("set-proc-title", i, true),
        boolean("dynamic-hz", 0, true),
        boolean("lazyfree-lazy-eviction", 0, false),
        boolean("lazyfree-lazy-expire", 0, false).t(tbool!(lazyfree_lazy_expire)),
        boolean("lazyfree-lazy-server-del", 0, false),
        boolean("lazyfree-lazy-user-del", 0, false),
        boolean("lazyfree-lazy-user-flush", 0, false).t(tbool!(lazyfree_lazy_user_flush)),
        boolean("repl-disable-tcp-nodelay", 0, false),
        boolean("repl-diskless-sync", 0, true),
        boolean("aof-rewrite-incremental-fsync", 0, true),
        boolean("no-appendfsync-on-rewrite", 0, false).t(tbool!(no_appendfsync_on_rewrite)),
        boolean("cluster-require-full-coverage", 0, true).t(tbool!(cluster_require_full_coverage)),
        boolean("rdb-save-incremental-fsync", 0, true),
        boolean("aof-load-truncated", 0, true).t(tbool!(aof_load_truncated)),
        boolean("aof-use-rdb-preamble", 0, true).t(tbool!(aof_use_rdb_preamble)),
        boolean("aof-timestamp-enabled", 0, false).t(tbool!(aof_timestamp_enabled)),
        boolean("cluster-replica-no-failover", 0, false)
            .alias("cluster-slave-no-failover")
            .t(tbool!(cluster_replica_no_failover)),
        boolean("replica-lazy-flush", 0, false).alias("slave-lazy-flush"),
        boolean("replica-serve-stale-data", 0, true).alias("slave-serve-stale-data"),
        boolean("replica-read-only", 0, true).alias("slave-read-only"),
        boolean("replica-ignore-maxmemory", 0, true).alias("slave-ignore-maxmemory"),
        boolean("jemalloc-bg-thread", 0, true),
        boolean("activedefrag", 0, false),
        boolean("syslog-enabled", i, false),
        boolean("cluster-enabled", i, false).t(tbool!(cluster_enabled)),
        boolean("appendonly", dl, false).t(tbool!(appendonly)),
        boolean("cluster-allow-reads-when-down", 0, false).t(tbool!(cluster_allow_reads_when_down)),
        boolean("cluster-allow-pubsubshard-when-down", 0, true)
            .t(tbool!(cluster_allow_pubsubshard_when_down)),
        boolean("crash-log-enabled", 0, true),
        boolean("crash-memcheck-enabled", 0, true),
        boolean("use-exit-on-panic", h, false),
        boolean("disable-thp", i, true),
        boolean("cluster-allow-replica-migration", 0, true)
            .t(tbool!(cluster_allow_replica_migration)),
        boolean("replica-announced", 0, true),
        boolean("latency-tracking", 0, true).t(tbool!(latency_tracking)),
        boolean("aof-disable-auto-gc", 0, false).t(tbool!(aof_disable_auto_gc)),
        boolean("replica-ignore-disk-write-errors", 0, false),
        // String configs.
        string("aclfile", i, false, Some("")),
        string("unixsocket", i, true, None).t(tnull!(unixsocket)),
        string("pidfile", i, true, None).t(tnull!(pidfile)),
        string("replica-announce-ip", 0, true, None).alias("slave-announce-ip"),
        string("masteruser", s, true, None),
        string("cluster-announce-ip", 0, true, None).t(topt!(cluster_announce_ip)),
        string("cluster-config-file", i, false, Some("nodes.conf")).t(tstr!(cluster_config_file)),
        str_valid(
            string("cluster-announce-hostname", 0, true, None),
            hostname_valid,
        )
        .t(topt!(cluster_announce_hostname)),
        string("syslog-ident", i, false, Some("redis")),
        str_valid(string("dbfilename", p, false, Some("dump.rdb")), |v| {
            basename("dbfilename", false, v, "")
        })
        .t(tstr!(dbfilename)),
        str_valid(
            string("appendfilename", i, false, Some("appendonly.aof")),
            |v| basename("appendfilename", true, v, "appendfilename can't be empty"),
        )
        .t(tstr!(appendfilename)),
        str_valid(
            string("appenddirname", i, false, Some("appendonlydir")),
            |v| basename("appenddirname", true, v, "appenddirname can't be empty"),
        )
        .t(tstr!(appenddirname)),
        string("server_cpulist", i, true, None),
        string("bio_cpulist", i, true, None),
        string("aof_rewrite_cpulist", i, true, None),
        string("bgsave_cpulist", i, true, None),
        string("ignore-warnings", 0, false, Some("")),
        str_valid(
            string(
                "proc-title-template",
                0,
                false,
                Some("{title} {listen-addr} {server-mode}"),
            ),
            proc_title_valid,
        ),
        string("bind-source-addr", 0, true, None),
        string("logfile", i, false, Some("")).t(tstr!(logfile)),
        // SDS configs.
        string("masterauth", s, true, None),
        string("requirepass", s, true, None).t((
            |c: &Config| {
                Val::Str(
                    c.requirepass
                        .as_ref()
                        .map(|p| String::from_utf8_lossy(p).into_owned()),
                )
            },
            |c: &mut Config, v: Val| {
                c.requirepass = match v {
                    Val::Str(s) => s.map(String::into_bytes),
                    _ => None,
                }
            },
        )),
        // Enum configs.
        enm("supervised", i, SUPERVISED, 0),
        enm("syslog-facility", i, SYSLOG, 128),
        enm("repl-diskless-load", dl, DISKLESS_LOAD, 0),
        enm("loglevel", 0, LOGLEVELS, 2).t((
            |c: &Config| Val::Int(loglevel_to(c.loglevel)),
            |c: &mut Config, v: Val| c.loglevel = loglevel_from(v.as_int()),
        )),
        enm("maxmemory-policy", 0, POLICIES, 7).t((
            |c: &Config| Val::Int(c.maxmemory_policy as i64),
            |c: &mut Config, v: Val| c.maxmemory_policy = policy_from(v.as_int()),
        )),
        enm("appendfsync", 0, FSYNC, 1).t((
            |c: &Config| Val::Int(c.appendfsync as i64),
            |c: &mut Config, v: Val| {
                c.appendfsync = match v.as_int() {
                    0 => AppendFsync::Always,
                    2 => AppendFsync::No,
                    _ => AppendFsync::EverySec,
                }
            },
        )),
        enm("oom-score-adj", 0, OOM_ADJ, 0),
        enm("acl-pubsub-default", 0, PUBSUB_DEFAULT, 0),
        enm("sanitize-dump-payload", 0, SANITIZE, 0).t(tint!(sanitize_dump_payload, i64)),
        enm("enable-protected-configs", i, PROTECTED_ACTION, 0),
        enm("enable-debug-command", i, PROTECTED_ACTION, 0).t((
            |c: &Config| Val::Int(value_of(PROTECTED_ACTION, &c.enable_debug_command)),
            |c: &mut Config, v: Val| c.enable_debug_command = name_of(PROTECTED_ACTION, v.as_int()),
        )),
        enm("enable-module-command", i, PROTECTED_ACTION, 0),
        enm("cluster-preferred-endpoint-type", 0, ENDPOINT, 0).t((
            |c: &Config| Val::Int(value_of(ENDPOINT, &c.cluster_preferred_endpoint_type)),
            |c: &mut Config, v: Val| {
                c.cluster_preferred_endpoint_type = name_of(ENDPOINT, v.as_int())
            },
        )),
        enm("propagation-error-behavior", 0, PROPAGATION_ERR, 0),
        enum_valid(
            enm("shutdown-on-sigint", m, SHUTDOWN_SIG, 0),
            shutdown_flags_valid,
        ),
        enum_valid(
            enm("shutdown-on-sigterm", m, SHUTDOWN_SIG, 0),
            shutdown_flags_valid,
        ),
        // Integer configs.
        num("databases", i, 1, I32, 16, 0).t(tint!(databases, usize)),
        num("port", 0, 0, 65535, 6379, 0).t(tint!(port, u16)),
        num("io-threads", i, 1, 128, 1, 0),
        num("auto-aof-rewrite-percentage", 0, 0, I32, 100, 0)
            .t(tint!(auto_aof_rewrite_percentage, i64)),
        num("cluster-replica-validity-factor", 0, 0, I32, 10, 0)
            .alias("cluster-slave-validity-factor")
            .t(tint!(cluster_replica_validity_factor, i64)),
        num("list-max-listpack-size", 0, i32::MIN as i64, I32, -2, 0)
            .alias("list-max-ziplist-size")
            .t(tint!(list_max_listpack_size, i64)),
        num("tcp-keepalive", 0, 0, I32, 300, 0).t(tint!(tcp_keepalive, u64)),
        num("cluster-migration-barrier", 0, 0, I32, 1, 0).t(tint!(cluster_migration_barrier, i64)),
        num("active-defrag-cycle-min", 0, 1, 99, 1, 0),
        num("active-defrag-cycle-max", 0, 1, 99, 25, 0),
        num("active-defrag-threshold-lower", 0, 0, 1000, 10, 0),
        num("active-defrag-threshold-upper", 0, 0, 1000, 100, 0),
        num("lfu-log-factor", 0, 0, I32, 10, 0).t(tint!(lfu_log_factor, u32)),
        num("lfu-decay-time", 0, 0, I32, 1, 0).t(tint!(lfu_decay_time, u32)),
        num("replica-priority", 0, 0, I32, 100, 0).alias("slave-priority"),
        num("repl-diskless-sync-delay", 0, 0, I32, 5, 0),
        num("maxmemory-samples", 0, 1, I32, 5, 0).t(tint!(maxmemory_samples, u32)),
        num("maxmemory-eviction-tenacity", 0, 0, 100, 10, 0)
            .t(tint!(maxmemory_eviction_tenacity, u32)),
        num("timeout", 0, 0, I32, 0, 0).t(tint!(timeout, u64)),
        num("replica-announce-port", 0, 0, 65535, 0, 0).alias("slave-announce-port"),
        num("tcp-backlog", i, 0, I32, 511, 0),
        num("cluster-port", i, 0, 65535, 0, 0).t(tint!(cluster_port, u16)),
        num("cluster-announce-bus-port", 0, 0, 65535, 0, 0)
            .t(tint!(cluster_announce_bus_port, u16)),
        num("cluster-announce-port", 0, 0, 65535, 0, 0).t(tint!(cluster_announce_port, u16)),
        num("cluster-announce-tls-port", 0, 0, 65535, 0, 0)
            .t(tint!(cluster_announce_tls_port, u16)),
        num("repl-timeout", 0, 1, I32, 60, 0),
        num("repl-ping-replica-period", 0, 1, I32, 10, 0).alias("repl-ping-slave-period"),
        num("list-compress-depth", 0, 0, I32, 0, 0).t(tint!(list_compress_depth, i64)),
        num("rdb-key-save-delay", h, i32::MIN as i64, I32, 0, 0).t(tint!(rdb_key_save_delay, i64)),
        num("key-load-delay", h, i32::MIN as i64, I32, 0, 0).t(tint!(key_load_delay, i64)),
        num("active-expire-effort", 0, 1, 10, 1, 0),
        num("hz", 0, 0, I32, 10, 0).t((
            |c: &Config| Val::Int(c.hz as i64),
            // Redis accepts any value and caps it to 1..500 (updateHZ).
            |c: &mut Config, v: Val| c.hz = v.as_int().clamp(1, 500) as u32,
        )),
        num("min-replicas-to-write", 0, 0, I32, 0, 0)
            .alias("min-slaves-to-write")
            .t(tint!(min_replicas_to_write, u32)),
        num("min-replicas-max-lag", 0, 0, I32, 10, 0)
            .alias("min-slaves-max-lag")
            .t(tint!(min_replicas_max_lag, u32)),
        num("watchdog-period", h, 0, I32, 0, 0),
        num("shutdown-timeout", 0, 0, I32, 10, 0),
        num("repl-diskless-sync-max-replicas", 0, 0, I32, 0, 0),
        // Unsigned int configs.
        unum("maxclients", 0, 1, U32, 10000, 0).t(tint!(maxclients, u64)),
        unum("unixsocketperm", i, 0, 0o777, 0, OCTAL).t(tint!(unixsocketperm, u32)),
        unum("socket-mark-id", i, 0, U32, 0, 0),
        // Unsigned long configs.
        unum("active-defrag-max-scan-fields", 0, 1, L, 1000, 0),
        unum("slowlog-max-len", 0, 0, L, 128, 0).t(tint!(slowlog_max_len, u64)),
        unum("acllog-max-len", 0, 0, L, 128, 0),
        // Long long configs.
        num("busy-reply-threshold", 0, 0, L, 5000, 0).alias("lua-time-limit"),
        num("cluster-node-timeout", 0, 0, L, 15000, 0).t(tint!(cluster_node_timeout, i64)),
        num("slowlog-log-slower-than", 0, -1, L, 10000, 0).t(tint!(slowlog_log_slower_than, i64)),
        num("latency-monitor-threshold", 0, 0, L, 0, 0).t(tint!(latency_monitor_threshold, u64)),
        num("proto-max-bulk-len", 0, 1 << 20, L, 512 << 20, MEMORY)
            .t(tint!(proto_max_bulk_len, i64)),
        num("stream-node-max-entries", 0, 0, L, 100, 0).t(tint!(stream_node_max_entries, i64)),
        num("repl-backlog-size", 0, 1, L, 1 << 20, MEMORY),
        // Unsigned long long configs.
        unum("maxmemory", 0, 0, -1, 0, MEMORY).t(tint!(maxmemory, u64)),
        unum("cluster-link-sendbuf-limit", 0, 0, -1, 0, MEMORY)
            .t(tint!(cluster_link_sendbuf_limit, u64)),
        // size_t configs.
        unum("hash-max-listpack-entries", 0, 0, L, 512, 0)
            .alias("hash-max-ziplist-entries")
            .t(tint!(hash_max_listpack_entries, u64)),
        unum("set-max-intset-entries", 0, 0, L, 512, 0).t(tint!(set_max_intset_entries, u64)),
        unum("zset-max-listpack-entries", 0, 0, L, 128, 0)
            .alias("zset-max-ziplist-entries")
            .t(tint!(zset_max_listpack_entries, u64)),
        unum("active-defrag-ignore-bytes", 0, 1, L, 100 << 20, MEMORY),
        unum("hash-max-listpack-value", 0, 0, L, 64, MEMORY)
            .alias("hash-max-ziplist-value")
            .t(tint!(hash_max_listpack_value, u64)),
        unum("stream-node-max-bytes", 0, 0, L, 4096, MEMORY).t(tint!(stream_node_max_bytes, u64)),
        unum("zset-max-listpack-value", 0, 0, L, 64, MEMORY)
            .alias("zset-max-ziplist-value")
            .t(tint!(zset_max_listpack_value, u64)),
        unum("hll-sparse-max-bytes", 0, 0, L, 3000, MEMORY).t(tint!(hll_sparse_max_bytes, u64)),
        unum("tracking-table-max-keys", 0, 0, L, 1_000_000, 0),
        unum("client-query-buffer-limit", 0, 1 << 20, L, 1 << 30, MEMORY)
            .t(tint!(client_query_buffer_limit, u64)),
        num("maxmemory-clients", 0, -100, L, 0, MEMORY | PERCENT),
        // Other configs.
        num("repl-backlog-ttl", 0, 0, L, 3600, 0),
        num("auto-aof-rewrite-min-size", 0, 0, L, 64 << 20, MEMORY)
            .t(tint!(auto_aof_rewrite_min_size, i64)),
        num(
            "loading-process-events-interval-bytes",
            h,
            1024,
            I32,
            2 << 20,
            0,
        ),
        // TLS configs.
        num("tls-port", 0, 0, 65535, 0, 0),
        num("tls-session-cache-size", 0, 0, I32, 20 * 1024, 0),
        num("tls-session-cache-timeout", 0, 0, I32, 300, 0),
        boolean("tls-cluster", 0, false),
        boolean("tls-replication", 0, false),
        enm("tls-auth-clients", 0, TLS_AUTH, 1),
        boolean("tls-prefer-server-ciphers", 0, false),
        boolean("tls-session-caching", 0, true),
    ];
    for name in [
        "tls-cert-file",
        "tls-key-file",
        "tls-key-file-pass",
        "tls-client-cert-file",
        "tls-client-key-file",
        "tls-client-key-file-pass",
        "tls-dh-params-file",
        "tls-ca-cert-file",
        "tls-ca-cert-dir",
        "tls-protocols",
        "tls-ciphers",
        "tls-ciphersuites",
    ] {
        v.push(string(name, 0, true, None));
    }
    v.extend(super::special::directives(p | dl, m, i));
    v
}
