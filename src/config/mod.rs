//! Configuration: redis.conf files, command-line options, and the values
//! every other layer reads.
//!
//! `table` lists every directive Redis 7.0 has, `directives` says how a
//! directive is parsed and stored, `special` holds the directives with
//! their own syntax, `spec` the value rules shared by all, `load` reads
//! files and the command line, and `rewrite` implements CONFIG REWRITE.
//! Directives keel implements live in typed fields of [`Config`]; the
//! others are kept as text in `Config::other` so that CONFIG GET and
//! CONFIG REWRITE behave as in Redis.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
    Nothing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionPolicy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl EvictionPolicy {
    /// Redis's MAXMEMORY_FLAG_LRU (the RDB then carries IDLE times).
    pub fn is_lru(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru | EvictionPolicy::AllkeysLru
        )
    }

    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLfu | EvictionPolicy::AllkeysLfu
        )
    }
}

/// appendfsync (discriminants are Redis's AOF_FSYNC_* values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    Always = 0,
    EverySec = 1,
    No = 2,
}

/// One class of client-output-buffer-limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub requirepass: Option<Vec<u8>>,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub databases: usize,
    pub dir: String,
    pub logfile: String,
    pub loglevel: LogLevel,
    pub daemonize: bool,
    pub pidfile: String,
    pub maxclients: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: EvictionPolicy,
    pub maxmemory_samples: u32,
    pub maxmemory_eviction_tenacity: u32,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    pub hz: u32,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: u64,
    /// normal, replica, pubsub
    pub client_output_buffer_limit: [OutputLimit; 3],
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub latency_tracking: bool,
    pub latency_tracking_info_percentiles: Vec<f64>,
    pub latency_monitor_threshold: u64,
    pub notify_keyspace_events: u32,
    pub unixsocket: String,
    pub always_show_logo: bool,
    pub enable_debug_command: String,
    pub lazyfree_lazy_user_flush: bool,
    /// Expired keys are freed lazily and propagated as UNLINK.
    pub lazyfree_lazy_expire: bool,
    /// min-replicas-to-write / min-replicas-max-lag.
    pub min_replicas_to_write: u32,
    pub min_replicas_max_lag: u32,
    pub active_expire_enabled: bool,
    pub unixsocketperm: u32,
    // Persistence (stored now; used by the RDB/AOF work).
    pub dbfilename: String,
    pub appendonly: bool,
    pub appendfsync: AppendFsync,
    pub appenddirname: String,
    pub appendfilename: String,
    /// Save points (seconds, changes).
    pub save: Vec<(i64, i64)>,
    /// A `save` line was already read from the config file: later lines
    /// add points instead of replacing them (Redis's config-file rule).
    pub save_file_seen: bool,
    pub stop_writes_on_bgsave_error: bool,
    pub rdb_del_sync_files: bool,
    /// 0 no, 1 yes, 2 clients (deep checks of RESTORE payloads).
    pub sanitize_dump_payload: i64,
    /// Test knobs: per-key delay (µs; negative = ns busy-wait) while
    /// saving / loading.
    pub rdb_key_save_delay: i64,
    pub key_load_delay: i64,
    pub no_appendfsync_on_rewrite: bool,
    pub aof_load_truncated: bool,
    pub aof_use_rdb_preamble: bool,
    pub aof_timestamp_enabled: bool,
    pub aof_disable_auto_gc: bool,
    pub auto_aof_rewrite_percentage: i64,
    pub auto_aof_rewrite_min_size: i64,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    /// replicaof host port (None: this is a master).
    pub replicaof: Option<(String, u16)>,
    // Cluster.
    pub cluster_enabled: bool,
    pub cluster_config_file: String,
    pub cluster_port: u16,
    pub cluster_node_timeout: i64,
    pub cluster_announce_ip: Option<String>,
    pub cluster_announce_hostname: Option<String>,
    pub cluster_announce_port: u16,
    pub cluster_announce_bus_port: u16,
    pub cluster_announce_tls_port: u16,
    pub cluster_require_full_coverage: bool,
    pub cluster_replica_no_failover: bool,
    pub cluster_replica_validity_factor: i64,
    pub cluster_migration_barrier: i64,
    pub cluster_allow_replica_migration: bool,
    pub cluster_allow_reads_when_down: bool,
    pub cluster_allow_pubsubshard_when_down: bool,
    pub cluster_link_sendbuf_limit: u64,
    /// "ip", "hostname" or "unknown-endpoint".
    pub cluster_preferred_endpoint_type: String,
    // Encoding thresholds of the aggregate types.
    pub list_max_listpack_size: i64,
    pub list_compress_depth: i64,
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    pub stream_node_max_bytes: u64,
    pub stream_node_max_entries: i64,
    pub hll_sparse_max_bytes: u64,
    /// rename-command lines (from, to; empty `to` removes), in order.
    pub renamed_commands: Vec<(String, String)>,
    /// Path of the config file keel was started with (for CONFIG REWRITE).
    pub config_file: Option<String>,
    /// Every other directive Redis 7.0 knows, by canonical name, as its
    /// CONFIG GET text (absent: the default).
    pub other: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["*".into(), "-::*".into()],
            protected_mode: true,
            requirepass: None,
            timeout: 0,
            tcp_keepalive: 300,
            databases: 16,
            dir: ".".into(),
            logfile: String::new(),
            loglevel: LogLevel::Notice,
            daemonize: false,
            pidfile: String::new(),
            maxclients: 10000,
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::NoEviction,
            maxmemory_samples: 5,
            maxmemory_eviction_tenacity: 10,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            hz: 10,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            client_output_buffer_limit: special::default_obuf_limits(),
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_tracking: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            latency_monitor_threshold: 0,
            notify_keyspace_events: 0,
            unixsocket: String::new(),
            always_show_logo: false,
            enable_debug_command: "no".into(),
            lazyfree_lazy_user_flush: false,
            lazyfree_lazy_expire: false,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            active_expire_enabled: true,
            unixsocketperm: 0,
            dbfilename: "dump.rdb".into(),
            appendonly: false,
            appendfsync: AppendFsync::EverySec,
            appenddirname: "appendonlydir".into(),
            appendfilename: "appendonly.aof".into(),
            save: REDIS_DEFAULT_SAVE.to_vec(),
            save_file_seen: false,
            stop_writes_on_bgsave_error: true,
            rdb_del_sync_files: false,
            sanitize_dump_payload: 0,
            rdb_key_save_delay: 0,
            key_load_delay: 0,
            no_appendfsync_on_rewrite: false,
            aof_load_truncated: true,
            aof_use_rdb_preamble: true,
            aof_timestamp_enabled: false,
            aof_disable_auto_gc: false,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 << 20,
            rdbcompression: true,
            rdbchecksum: true,
            replicaof: None,
            cluster_enabled: false,
            cluster_config_file: "nodes.conf".into(),
            cluster_port: 0,
            cluster_node_timeout: 15000,
            cluster_announce_ip: None,
            cluster_announce_hostname: None,
            cluster_announce_port: 0,
            cluster_announce_bus_port: 0,
            cluster_announce_tls_port: 0,
            cluster_require_full_coverage: true,
            cluster_replica_no_failover: false,
            cluster_replica_validity_factor: 10,
            cluster_migration_barrier: 1,
            cluster_allow_replica_migration: true,
            cluster_allow_reads_when_down: false,
            cluster_allow_pubsubshard_when_down: true,
            cluster_link_sendbuf_limit: 0,
            cluster_preferred_endpoint_type: "ip".into(),
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            hll_sparse_max_bytes: 3000,
            renamed_commands: Vec::new(),
            config_file: None,
            other: BTreeMap::new(),
        }
    }
}

/// Redis 7.0's default save points ("3600 1 300 100 60 10000").
pub const REDIS_DEFAULT_SAVE: [(i64, i64); 3] = [(3600, 1), (300, 100), (60, 10000)];

impl Config {
    /// The CONFIG GET text of any directive (None: no such directive).
    pub fn get_text(&self, name: &str) -> Option<String> {
        directives::find(name).map(|d| d.show(self))
    }

    /// True when `save` points are configured (Redis's saveparamslen > 0).
    pub fn has_save_points(&self) -> bool {
        !self.save.is_empty()
    }
}

pub mod directives;
pub mod load;
pub mod rewrite;
pub mod spec;
pub mod special;
pub mod table;
pub mod validate;
