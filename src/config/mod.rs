//! Configuration: redis.conf files, command-line options, and the values
//! every other layer reads. (The directive table, CONFIG GET/SET/REWRITE
//! live in `directives` and `rewrite`.)

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
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLfu | EvictionPolicy::AllkeysLfu
        )
    }
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
    pub active_expire_enabled: bool,
    /// Path of the config file keel was started with (for CONFIG REWRITE).
    pub config_file: Option<String>,
    /// Every other directive Redis 7.0 knows, stored verbatim for CONFIG GET.
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
            client_output_buffer_limit: [
                OutputLimit::default(),
                OutputLimit {
                    hard: 256 << 20,
                    soft: 64 << 20,
                    soft_seconds: 60,
                },
                OutputLimit {
                    hard: 32 << 20,
                    soft: 8 << 20,
                    soft_seconds: 60,
                },
            ],
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
            active_expire_enabled: true,
            config_file: None,
            other: BTreeMap::new(),
        }
    }
}

pub mod directives;
pub mod known;
pub mod load;
