//! The text of INFO: Redis 7.0's sections, field names and field order
//! (genRedisInfoString), filled with keel's real figures.
//!
//! Sections are chosen like Redis: no argument or `default` gives the
//! default set, `all` every section but modules, `everything` all of
//! them; names are case-insensitive and each section appears once.
//! Persistence, replication and cluster report what this node really
//! does today (no RDB/AOF child, no replicas, no cluster bus); the
//! subsystems that add those features extend their sections here.

use super::client::Client;
use super::Server;
use std::collections::HashSet;
use std::fmt::Write;
use std::sync::OnceLock;

/// Sections of plain `INFO` / `INFO default`.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

/// What INFO was asked for.
#[derive(Debug, Default)]
pub struct Selection {
    /// Lower-cased section names.
    pub names: HashSet<String>,
    pub all: bool,
    pub everything: bool,
}

impl Selection {
    /// Parses INFO's arguments (without the command name).
    pub fn parse(args: &[&[u8]]) -> Selection {
        let mut sel = Selection::default();
        if args.is_empty() {
            sel.add_defaults();
            return sel;
        }
        for a in args {
            let s = String::from_utf8_lossy(a).to_ascii_lowercase();
            match s.as_str() {
                "default" => sel.add_defaults(),
                "all" => sel.all = true,
                "everything" => {
                    sel.all = true;
                    sel.everything = true;
                }
                _ => {
                    sel.names.insert(s);
                }
            }
        }
        sel
    }

    fn add_defaults(&mut self) {
        for s in DEFAULT_SECTIONS {
            self.names.insert(s.to_string());
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.all || self.names.contains(name)
    }
}

/// Memory allocated when the server finished starting (used_memory_startup).
static STARTUP_MEMORY: OnceLock<u64> = OnceLock::new();

/// Records the start-up memory baseline (first call wins).
pub fn record_startup_memory() {
    let _ = STARTUP_MEMORY.set(super::evict::used_memory());
}

/// used_memory_startup (0 before start-up completed).
pub fn startup_memory() -> u64 {
    STARTUP_MEMORY.get().copied().unwrap_or(0)
}

/// The replication ID this node would hand to replicas. Until the
/// replication subsystem owns it, one random ID per process.
pub fn master_replid() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| super::random_hex(40))
}

/// Redis's bytesToHuman: 100B, 2.00K, 1.50M ...
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 10, "K"),
        (1 << 20, "M"),
        (1 << 30, "G"),
        (1 << 40, "T"),
        (1 << 50, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for &(div, unit) in UNITS {
        if (n as u128) < div as u128 * 1024 {
            return format!("{:.2}{}", n as f64 / div as f64, unit);
        }
    }
    format!("{n}B")
}

/// Replaces the characters INFO cannot show (`#`, `:`, CR, LF) with `_`.
pub fn safe_info_string(s: &str) -> String {
    s.chars()
        .map(|c| if "#:\r\n".contains(c) { '_' } else { c })
        .collect()
}

/// Percentile as Redis prints it in `p<perc>=`: `%f` with trailing
/// zeros (and a trailing dot) trimmed.
pub fn percentile_label(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

/// Builds the INFO text. `cur` is the calling client (it is out of the
/// client registry while its command runs).
pub fn generate(s: &mut Server, cur: Option<&Client>, sel: &Selection) -> String {
    let mut out = String::new();
    let mut sections = 0;
    let mut begin = |out: &mut String, title: &str| {
        if sections > 0 {
            out.push_str("\r\n");
        }
        sections += 1;
        let _ = write!(out, "# {title}\r\n");
    };
    if sel.wants("server") {
        begin(&mut out, "Server");
        server_section(s, &mut out);
    }
    if sel.wants("clients") {
        begin(&mut out, "Clients");
        clients_section(s, cur, &mut out);
    }
    if sel.wants("memory") {
        begin(&mut out, "Memory");
        super::info_memory::memory_section(s, cur, &mut out);
    }
    if sel.wants("persistence") {
        begin(&mut out, "Persistence");
        persistence_section(s, &mut out);
    }
    if sel.wants("stats") {
        begin(&mut out, "Stats");
        super::info_memory::stats_section(s, &mut out);
    }
    if sel.wants("replication") {
        begin(&mut out, "Replication");
        replication_section(s, &mut out);
    }
    if sel.wants("cpu") {
        begin(&mut out, "CPU");
        cpu_section(&mut out);
    }
    if sel.wants("module_list") || sel.wants("modules") {
        begin(&mut out, "Modules");
    }
    if sel.wants("commandstats") {
        begin(&mut out, "Commandstats");
        commandstats_section(s, &mut out);
    }
    if sel.wants("errorstats") {
        begin(&mut out, "Errorstats");
        for (code, n) in &s.stats.errors {
            let _ = write!(out, "errorstat_{}:count={}\r\n", safe_info_string(code), n);
        }
    }
    if sel.wants("latencystats") {
        begin(&mut out, "Latencystats");
        if s.config.latency_tracking {
            latencystats_section(s, &mut out);
        }
    }
    if sel.wants("cluster") {
        begin(&mut out, "Cluster");
        out.push_str("cluster_enabled:0\r\n");
    }
    if sel.wants("keyspace") {
        begin(&mut out, "Keyspace");
        for (i, db) in s.dbs.iter().enumerate() {
            let (keys, vkeys) = (db.len(), db.expires_len());
            if keys > 0 || vkeys > 0 {
                let _ = write!(
                    out,
                    "db{}:keys={},expires={},avg_ttl={}\r\n",
                    i, keys, vkeys, db.avg_ttl
                );
            }
        }
    }
    out
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn server_section(s: &Server, out: &mut String) {
    static OS: OnceLock<String> = OnceLock::new();
    let os = OS.get_or_init(|| {
        format!(
            "{} {} {}",
            read_trimmed("/proc/sys/kernel/ostype"),
            read_trimmed("/proc/sys/kernel/osrelease"),
            std::env::consts::ARCH
        )
    });
    let now_us = super::now_us();
    let uptime = s.uptime_secs();
    let _ = write!(
        out,
        "redis_version:{}\r\n\
         keel_version:{}\r\n\
         redis_git_sha1:00000000\r\n\
         redis_git_dirty:0\r\n\
         redis_build_id:{}\r\n\
         redis_mode:standalone\r\n\
         os:{}\r\n\
         arch_bits:64\r\n\
         monotonic_clock:POSIX clock_gettime\r\n\
         multiplexing_api:epoll\r\n\
         atomicvar_api:c11-builtin\r\n\
         gcc_version:0.0.0\r\n\
         process_id:{}\r\n\
         process_supervised:no\r\n\
         run_id:{}\r\n\
         tcp_port:{}\r\n\
         server_time_usec:{}\r\n\
         uptime_in_seconds:{}\r\n\
         uptime_in_days:{}\r\n\
         hz:{}\r\n\
         configured_hz:{}\r\n\
         lru_clock:{}\r\n\
         executable:{}\r\n\
         config_file:{}\r\n\
         io_threads_active:0\r\n{}",
        super::run::REDIS_VERSION,
        super::run::KEEL_VERSION,
        build_id(),
        os,
        s.pid,
        s.run_id,
        s.port,
        now_us,
        uptime,
        uptime / (3600 * 24),
        s.config.hz,
        s.config.hz,
        super::evict::lru_clock(),
        s.executable,
        s.config.config_file.as_deref().unwrap_or(""),
        super::shutdown::remaining_ms(s, now_us / 1000)
            .map(|ms| format!("shutdown_in_milliseconds:{ms}\r\n"))
            .unwrap_or_default(),
    );
}

/// A stable 16-hex-digit id of this build (crate name and version).
fn build_id() -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in concat!(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")).bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// Every client, the caller included.
pub fn all_clients<'a>(s: &'a Server, cur: Option<&'a Client>) -> Vec<&'a Client> {
    let mut v: Vec<&Client> = s.clients.values().map(|c| &**c).collect();
    if let Some(c) = cur {
        if !s.clients.contains_key(&c.id) {
            v.push(c);
        }
    }
    v.sort_by_key(|c| c.id);
    v
}

fn clients_section(s: &Server, cur: Option<&Client>, out: &mut String) {
    let clients = all_clients(s, cur);
    let max_in = clients.iter().map(|c| c.qbuf_peak).max().unwrap_or(0);
    let max_out = clients.iter().map(|c| c.out.len()).max().unwrap_or(0);
    let blocked = clients.iter().filter(|c| c.blocked.is_some()).count();
    let in_timeout = clients
        .iter()
        .filter(|c| c.blocked.as_ref().is_some_and(|b| b.deadline.is_some()))
        .count();
    let _ = write!(
        out,
        "connected_clients:{}\r\n\
         cluster_connections:0\r\n\
         maxclients:{}\r\n\
         client_recent_max_input_buffer:{}\r\n\
         client_recent_max_output_buffer:{}\r\n\
         blocked_clients:{}\r\n\
         tracking_clients:0\r\n\
         clients_in_timeout_table:{}\r\n",
        // Replicas are not counted (Redis: clients minus slaves).
        clients.len().saturating_sub(s.repl.replicas.len()),
        s.config.maxclients,
        max_in,
        max_out,
        blocked,
        in_timeout
    );
}

fn persistence_section(s: &Server, out: &mut String) {
    let snap = &s.snapshots;
    let now = std::time::Instant::now();
    let _ = write!(
        out,
        "loading:{}\r\nasync_loading:0\r\n",
        u8::from(snap.loading.is_some())
    );
    if let Some(p) = &snap.loading {
        use std::sync::atomic::Ordering;
        let loaded = p.loaded_bytes();
        let elapsed = p.start.elapsed().as_secs_f64();
        let perc = if p.total_bytes > 0 {
            loaded as f64 * 100.0 / p.total_bytes as f64
        } else {
            0.0
        };
        let eta = if loaded > 0 && elapsed > 0.0 {
            ((p.total_bytes.saturating_sub(loaded)) as f64 / (loaded as f64 / elapsed)) as u64
        } else {
            1
        };
        let _ = write!(
            out,
            "loading_start_time:{}\r\n\
             loading_total_bytes:{}\r\n\
             loading_rdb_used_mem:{}\r\n\
             loading_loaded_bytes:{}\r\n\
             loading_loaded_perc:{:.2}\r\n\
             loading_eta_seconds:{}\r\n",
            p.start_unix,
            p.total_bytes,
            p.rdb_used_mem.load(Ordering::Relaxed),
            loaded,
            perc,
            eta
        );
    }
    let child = snap.child.as_ref();
    let (cow, cow_peak, cow_age, perc, processed, total) = match child {
        Some(c) => (
            c.cow_size,
            c.cow_peak,
            c.cow_updated.map_or(0, |t| now.duration_since(t).as_secs()),
            c.progress_perc(),
            c.keys_processed,
            c.keys_total,
        ),
        None => (0, 0, 0, 0.0, 0, 0),
    };
    let _ = write!(
        out,
        "current_cow_peak:{}\r\n\
         current_cow_size:{}\r\n\
         current_cow_size_age:{}\r\n\
         current_fork_perc:{:.2}\r\n\
         current_save_keys_processed:{}\r\n\
         current_save_keys_total:{}\r\n\
         rdb_changes_since_last_save:{}\r\n\
         rdb_bgsave_in_progress:{}\r\n\
         rdb_last_save_time:{}\r\n\
         rdb_last_bgsave_status:{}\r\n\
         rdb_last_bgsave_time_sec:{}\r\n\
         rdb_current_bgsave_time_sec:{}\r\n\
         rdb_saves:{}\r\n\
         rdb_last_cow_size:{}\r\n\
         rdb_last_load_keys_expired:{}\r\n\
         rdb_last_load_keys_loaded:{}\r\n\
",
        cow_peak,
        cow,
        cow_age,
        perc,
        processed,
        total,
        s.dirty,
        u8::from(child.is_some()),
        s.lastsave,
        if snap.last_bgsave_ok { "ok" } else { "err" },
        snap.last_bgsave_time_sec,
        child.map_or(-1, |c| c.start.elapsed().as_secs() as i64),
        snap.saves,
        snap.last_cow_size,
        snap.last_load_keys_expired,
        snap.last_load_keys_loaded,
    );
    crate::persistence::aof::control::info(s, out);
}

fn replication_section(s: &Server, out: &mut String) {
    let backlog = s
        .config
        .other
        .get("repl-backlog-size")
        .and_then(|v| parse_memory(v))
        .unwrap_or(1024 * 1024);
    crate::replication::info(s, out);
    let _ = write!(
        out,
        "master_failover_state:no-failover\r\n\
         master_replid:{}\r\n\
         master_replid2:{}\r\n\
         master_repl_offset:{}\r\n\
         second_repl_offset:{}\r\n\
         repl_backlog_active:0\r\n\
         repl_backlog_size:{}\r\n\
         repl_backlog_first_byte_offset:0\r\n\
         repl_backlog_histlen:0\r\n",
        s.repl.replid, s.repl.replid2, s.repl.offset, s.repl.second_offset, backlog
    );
}

/// A memory amount as redis.conf writes it ("1mb", "512kb", "1048576").
fn parse_memory(s: &str) -> Option<u64> {
    let l = s.to_ascii_lowercase();
    let units: &[(&str, u64)] = &[
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ];
    for (suffix, mul) in units {
        if let Some(n) = l.strip_suffix(suffix) {
            return n.parse::<u64>().ok()?.checked_mul(*mul);
        }
    }
    l.parse().ok()
}

fn cpu_section(out: &mut String) {
    use nix::sys::resource::{getrusage, UsageWho};
    let fmt = |tv: nix::sys::time::TimeVal| format!("{}.{:06}", tv.tv_sec(), tv.tv_usec());
    let zero = nix::sys::time::TimeVal::new(0, 0);
    let get = |who| {
        getrusage(who)
            .map(|u| (u.system_time(), u.user_time()))
            .unwrap_or((zero, zero))
    };
    let (ss, su) = get(UsageWho::RUSAGE_SELF);
    let (cs, cu) = get(UsageWho::RUSAGE_CHILDREN);
    let (ts, tu) = get(UsageWho::RUSAGE_THREAD);
    let _ = write!(
        out,
        "used_cpu_sys:{}\r\nused_cpu_user:{}\r\nused_cpu_sys_children:{}\r\nused_cpu_user_children:{}\r\nused_cpu_sys_main_thread:{}\r\nused_cpu_user_main_thread:{}\r\n",
        fmt(ss),
        fmt(su),
        fmt(cs),
        fmt(cu),
        fmt(ts),
        fmt(tu)
    );
}

fn sorted_names<V>(m: &hashbrown::HashMap<String, V>) -> Vec<&String> {
    let mut v: Vec<&String> = m.keys().collect();
    v.sort();
    v
}

fn commandstats_section(s: &Server, out: &mut String) {
    for name in sorted_names(&s.stats.commands) {
        let c = &s.stats.commands[name];
        if c.calls == 0 && c.failed_calls == 0 && c.rejected_calls == 0 {
            continue;
        }
        let per = if c.calls == 0 {
            0.0
        } else {
            c.usec as f32 / c.calls as f32
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            safe_info_string(name),
            c.calls,
            c.usec,
            per,
            c.rejected_calls,
            c.failed_calls
        );
    }
}

fn latencystats_section(s: &Server, out: &mut String) {
    let percentiles = &s.config.latency_tracking_info_percentiles;
    for name in s.stats.latency_names() {
        let Some(h) = s.stats.latency_of(name) else {
            continue;
        };
        let _ = write!(out, "latency_percentiles_usec_{}:", safe_info_string(name));
        let parts: Vec<String> = percentiles
            .iter()
            .map(|&p| {
                format!(
                    "p{}={:.3}",
                    percentile_label(p),
                    h.value_at_percentile(p) as f64 / 1000.0
                )
            })
            .collect();
        out.push_str(&parts.join(","));
        out.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_amounts() {
        assert_eq!(parse_memory("1mb"), Some(1 << 20));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("2k"), Some(2000));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn human_bytes() {
        assert_eq!(bytes_to_human(100), "100B");
        assert_eq!(bytes_to_human(2048), "2.00K");
        assert_eq!(bytes_to_human(1536 * 1024), "1.50M");
        assert_eq!(bytes_to_human(3 << 30), "3.00G");
    }

    #[test]
    fn labels_and_sanitizing() {
        assert_eq!(percentile_label(50.0), "50");
        assert_eq!(percentile_label(99.9), "99.9");
        assert_eq!(percentile_label(0.0), "0");
        assert_eq!(safe_info_string("a:b#c"), "a_b_c");
    }

    #[test]
    fn selection_rules() {
        let s = Selection::parse(&[]);
        assert!(s.wants("server") && !s.wants("commandstats"));
        let s = Selection::parse(&[b"CommandStats"]);
        assert!(s.wants("commandstats") && !s.wants("server"));
        let s = Selection::parse(&[b"cpu", b"all"]);
        assert!(s.wants("latencystats") && s.all && !s.everything);
        let s = Selection::parse(&[b"everything"]);
        assert!(s.all && s.everything);
    }

    #[test]
    fn sections_and_order() {
        let mut srv = Server::new(crate::commands::testutil::test_config());
        let text = generate(&mut srv, None, &Selection::parse(&[]));
        let titles: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(
            titles,
            [
                "# Server",
                "# Clients",
                "# Memory",
                "# Persistence",
                "# Stats",
                "# Replication",
                "# CPU",
                "# Modules",
                "# Errorstats",
                "# Cluster",
                "# Keyspace"
            ]
        );
        assert!(text.contains("redis_version:7.0.15\r\n"));
        assert!(text.contains("\r\n\r\n# Clients\r\n"));
        let cpu = generate(&mut srv, None, &Selection::parse(&[b"cpu"]));
        assert!(cpu.starts_with("# CPU\r\nused_cpu_sys:"));
    }
}
