//! The table of directives: how each is parsed, shown by CONFIG GET and
//! changed by CONFIG SET. One entry per directive; typed fields of
//! [`Config`] for what keel implements.

use super::{Config, EvictionPolicy, LogLevel, OutputLimit};

pub type Getter = fn(&Config) -> String;
pub type Setter = fn(&mut Config, &[String]) -> Result<(), String>;

/// Directive flags.
pub const IMMUTABLE: u32 = 1; // not settable with CONFIG SET
pub const MULTI_ARG: u32 = 2; // takes several arguments on one line
/// Promises durability that keel does not provide yet: refuse to start.
pub const DURABILITY: u32 = 4;

pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub get: Getter,
    pub set: Setter,
    pub flags: u32,
}

pub fn yesno(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

pub fn parse_bool(v: &[String]) -> Result<bool, String> {
    match one(v)?.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn one(v: &[String]) -> Result<&str, String> {
    if v.len() != 1 {
        return Err("wrong number of arguments".into());
    }
    Ok(&v[0])
}

/// Parses a memory amount ("1gb", "100mb", "4096") like memtoull.
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.to_ascii_lowercase();
    let (num, mul) = if let Some(n) = l.strip_suffix("gb") {
        (n, 1u64 << 30)
    } else if let Some(n) = l.strip_suffix("mb") {
        (n, 1 << 20)
    } else if let Some(n) = l.strip_suffix("kb") {
        (n, 1 << 10)
    } else if let Some(n) = l.strip_suffix('g') {
        (n, 1_000_000_000)
    } else if let Some(n) = l.strip_suffix('m') {
        (n, 1_000_000)
    } else if let Some(n) = l.strip_suffix('k') {
        (n, 1000)
    } else if let Some(n) = l.strip_suffix('b') {
        (n, 1)
    } else {
        (l.as_str(), 1)
    };
    let v: u64 = num.parse().ok()?;
    v.checked_mul(mul)
}

fn int_in(v: &[String], min: i64, max: i64) -> Result<i64, String> {
    let s = one(v)?;
    let n: i64 = match parse_memory(s) {
        Some(m) if !s.starts_with('-') => m as i64,
        _ => s
            .parse()
            .map_err(|_| "argument couldn't be parsed into an integer".to_string())?,
    };
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

fn policy_name(p: EvictionPolicy) -> &'static str {
    match p {
        EvictionPolicy::VolatileLru => "volatile-lru",
        EvictionPolicy::VolatileLfu => "volatile-lfu",
        EvictionPolicy::VolatileRandom => "volatile-random",
        EvictionPolicy::VolatileTtl => "volatile-ttl",
        EvictionPolicy::AllkeysLru => "allkeys-lru",
        EvictionPolicy::AllkeysLfu => "allkeys-lfu",
        EvictionPolicy::AllkeysRandom => "allkeys-random",
        EvictionPolicy::NoEviction => "noeviction",
    }
}

fn loglevel_name(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Debug => "debug",
        LogLevel::Verbose => "verbose",
        LogLevel::Notice => "notice",
        LogLevel::Warning => "warning",
        LogLevel::Nothing => "nothing",
    }
}

fn obuf_limits_string(c: &Config) -> String {
    let names = ["normal", "slave", "pubsub"];
    c.client_output_buffer_limit
        .iter()
        .zip(names)
        .map(|(l, n)| format!("{} {} {} {}", n, l.hard, l.soft, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" ")
}

fn set_obuf_limits(c: &mut Config, v: &[String]) -> Result<(), String> {
    let args: Vec<&str> = if v.len() == 1 {
        v[0].split_whitespace().collect()
    } else {
        v.iter().map(|s| s.as_str()).collect()
    };
    if args.is_empty() || !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut new = c.client_output_buffer_limit;
    for ch in args.chunks(4) {
        let class = match ch[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(ch[1]);
        let soft = parse_memory(ch[2]);
        let secs: Option<u64> = ch[3].parse().ok();
        match (hard, soft, secs) {
            (Some(hard), Some(soft), Some(soft_seconds)) => {
                new[class] = OutputLimit {
                    hard,
                    soft,
                    soft_seconds,
                }
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    c.client_output_buffer_limit = new;
    Ok(())
}

macro_rules! d {
    ($name:expr, $get:expr, $set:expr) => {
        Directive {
            name: $name,
            alias: None,
            get: $get,
            set: $set,
            flags: 0,
        }
    };
    ($name:expr, $get:expr, $set:expr, $flags:expr) => {
        Directive {
            name: $name,
            alias: None,
            get: $get,
            set: $set,
            flags: $flags,
        }
    };
}

macro_rules! boolean {
    ($name:expr, $field:ident) => {
        d!($name, |c| yesno(c.$field), |c, v| {
            c.$field = parse_bool(v)?;
            Ok(())
        })
    };
}

macro_rules! int {
    ($name:expr, $field:ident, $t:ty, $min:expr, $max:expr) => {
        d!($name, |c| c.$field.to_string(), |c, v| {
            c.$field = int_in(v, $min, $max)? as $t;
            Ok(())
        })
    };
}

/// Every directive keel implements.
pub fn table() -> &'static [Directive] {
    static TABLE: std::sync::OnceLock<Vec<Directive>> = std::sync::OnceLock::new();
    TABLE.get_or_init(build)
}

fn build() -> Vec<Directive> {
    vec![
        d!(
            "port",
            |c| c.port.to_string(),
            |c, v| {
                c.port = int_in(v, 0, 65535)? as u16;
                Ok(())
            },
            IMMUTABLE
        ),
        d!(
            "bind",
            |c| c.bind.join(" "),
            |c, v| {
                if v.is_empty() {
                    return Err("wrong number of arguments".into());
                }
                c.bind = v
                    .iter()
                    .flat_map(|s| s.split_whitespace().map(String::from).collect::<Vec<_>>())
                    .collect();
                Ok(())
            },
            IMMUTABLE | MULTI_ARG
        ),
        boolean!("protected-mode", protected_mode),
        d!(
            "requirepass",
            |c| c
                .requirepass
                .as_ref()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
            |c, v| {
                let p = one(v)?;
                c.requirepass = if p.is_empty() {
                    None
                } else {
                    Some(p.as_bytes().to_vec())
                };
                Ok(())
            }
        ),
        int!("timeout", timeout, u64, 0, i32::MAX as i64),
        int!("tcp-keepalive", tcp_keepalive, u64, 0, i32::MAX as i64),
        int!("databases", databases, usize, 1, i32::MAX as i64),
        d!("dir", |c| c.dir.clone(), |c, v| {
            let d = one(v)?;
            std::env::set_current_dir(d).map_err(|e| e.to_string())?;
            c.dir = std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| d.to_string());
            Ok(())
        }),
        d!(
            "logfile",
            |c| c.logfile.clone(),
            |c, v| {
                c.logfile = one(v)?.to_string();
                Ok(())
            },
            IMMUTABLE
        ),
        d!("loglevel", |c| loglevel_name(c.loglevel).into(), |c, v| {
            c.loglevel = match one(v)?.to_ascii_lowercase().as_str() {
                "debug" => LogLevel::Debug,
                "verbose" => LogLevel::Verbose,
                "notice" => LogLevel::Notice,
                "warning" => LogLevel::Warning,
                "nothing" => LogLevel::Nothing,
                _ => return Err("argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into()),
            };
            Ok(())
        }),
        d!(
            "daemonize",
            |c| yesno(c.daemonize),
            |c, v| {
                c.daemonize = parse_bool(v)?;
                Ok(())
            },
            IMMUTABLE
        ),
        d!(
            "pidfile",
            |c| c.pidfile.clone(),
            |c, v| {
                c.pidfile = one(v)?.to_string();
                Ok(())
            },
            IMMUTABLE
        ),
        int!("maxclients", maxclients, u64, 1, u32::MAX as i64),
        int!("maxmemory", maxmemory, u64, 0, i64::MAX),
        d!(
            "maxmemory-policy",
            |c| policy_name(c.maxmemory_policy).into(),
            |c, v| {
                let s = one(v)?.to_ascii_lowercase();
                c.maxmemory_policy = [
                EvictionPolicy::VolatileLru,
                EvictionPolicy::VolatileLfu,
                EvictionPolicy::VolatileRandom,
                EvictionPolicy::VolatileTtl,
                EvictionPolicy::AllkeysLru,
                EvictionPolicy::AllkeysLfu,
                EvictionPolicy::AllkeysRandom,
                EvictionPolicy::NoEviction,
            ]
            .into_iter()
            .find(|p| policy_name(*p) == s)
            .ok_or("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")?;
                Ok(())
            }
        ),
        int!("maxmemory-samples", maxmemory_samples, u32, 1, 64),
        int!(
            "maxmemory-eviction-tenacity",
            maxmemory_eviction_tenacity,
            u32,
            0,
            100
        ),
        int!("lfu-log-factor", lfu_log_factor, u32, 0, i32::MAX as i64),
        int!("lfu-decay-time", lfu_decay_time, u32, 0, i32::MAX as i64),
        int!("hz", hz, u32, 0, i32::MAX as i64),
        int!(
            "proto-max-bulk-len",
            proto_max_bulk_len,
            i64,
            1024 * 1024,
            i64::MAX
        ),
        int!(
            "client-query-buffer-limit",
            client_query_buffer_limit,
            u64,
            1024 * 1024,
            i64::MAX
        ),
        d!(
            "client-output-buffer-limit",
            obuf_limits_string,
            set_obuf_limits,
            MULTI_ARG
        ),
        int!(
            "slowlog-log-slower-than",
            slowlog_log_slower_than,
            i64,
            -1,
            i64::MAX
        ),
        int!("slowlog-max-len", slowlog_max_len, u64, 0, i64::MAX),
        boolean!("latency-tracking", latency_tracking),
        int!(
            "latency-monitor-threshold",
            latency_monitor_threshold,
            u64,
            0,
            i64::MAX
        ),
        d!(
            "notify-keyspace-events",
            |c| crate::server::pubsub::notify_flags_string(c.notify_keyspace_events),
            |c, v| {
                c.notify_keyspace_events = crate::server::pubsub::parse_notify_flags(one(v)?)
                    .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmd'.")?;
                Ok(())
            }
        ),
        d!(
            "unixsocket",
            |c| c.unixsocket.clone(),
            |c, v| {
                c.unixsocket = one(v)?.to_string();
                Ok(())
            },
            IMMUTABLE
        ),
        boolean!("always-show-logo", always_show_logo),
        d!(
            "enable-debug-command",
            |c| c.enable_debug_command.clone(),
            |c, v| {
                c.enable_debug_command = one(v)?.to_string();
                Ok(())
            },
            IMMUTABLE
        ),
        boolean!("lazyfree-lazy-user-flush", lazyfree_lazy_user_flush),
        boolean!("lazyfree-lazy-expire", lazyfree_lazy_expire),
    ]
}

pub fn find(name: &str) -> Option<&'static Directive> {
    let n = name.to_ascii_lowercase();
    table()
        .iter()
        .find(|d| d.name == n || d.alias == Some(n.as_str()))
}

/// Applies one config-file line. Ok(Some(warning)) for a directive that
/// Redis 7.0 knows and keel ignores.
pub fn apply_startup(
    cfg: &mut Config,
    name: &str,
    vals: &[String],
) -> Result<Option<String>, String> {
    if let Some(d) = find(name) {
        if vals.is_empty() || (vals.len() > 1 && d.flags & MULTI_ARG == 0) {
            return Err("Bad directive or wrong number of arguments".into());
        }
        (d.set)(cfg, vals)?;
        return Ok(None);
    }
    if super::known::is_known_redis_directive(name) {
        cfg.other.insert(name.to_string(), vals.join(" "));
        return Ok(Some(format!(
            "Ignoring directive '{name}': not implemented by keel yet"
        )));
    }
    Err("Bad directive or wrong number of arguments".into())
}
