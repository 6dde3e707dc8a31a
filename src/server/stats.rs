//! Counters behind INFO stats/commandstats/errorstats, the slow log and
//! the latency monitor.

use std::collections::{BTreeMap, HashMap, VecDeque};

#[derive(Debug, Default, Clone)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub evicted_keys: u64,
    pub evicted_clients: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub dump_payload_sanitizations: u64,
    pub client_qbuf_limit_disconnections: u64,
    pub client_outbuf_limit_disconnections: u64,
    pub total_eviction_exceeded_time_us: u64,
    pub propagated_cmds: u64,
    pub io_threaded_reads_processed: u64,
    /// Full command name ("client|list") -> stats.
    pub commands: HashMap<String, CommandStat>,
    /// Error code ("ERR", "WRONGTYPE") -> count.
    pub errors: BTreeMap<String, u64>,
}

impl Stats {
    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }

    /// The stats of a command by full name, created on first use
    /// without allocating on later calls.
    pub fn command_stat(&mut self, name: &str) -> &mut CommandStat {
        if !self.commands.contains_key(name) {
            self.commands
                .insert(name.to_string(), CommandStat::default());
        }
        self.commands.get_mut(name).expect("inserted above")
    }

    pub fn record_error(&mut self, code: &str) {
        self.total_error_replies += 1;
        // Redis stops adding new error kinds past 128 distinct codes.
        if self.errors.len() >= 128 && !self.errors.contains_key(code) {
            return;
        }
        *self.errors.entry(code.to_string()).or_insert(0) += 1;
    }
}

#[derive(Debug, Clone)]
pub struct SlowLogEntry {
    pub id: u64,
    pub time: i64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    pub entries: VecDeque<SlowLogEntry>,
    pub next_id: u64,
}

/// Max arguments and argument length kept per slow log entry (Redis's
/// SLOWLOG_ENTRY_MAX_ARGC / SLOWLOG_ENTRY_MAX_STRING).
const SLOWLOG_MAX_ARGC: usize = 32;
const SLOWLOG_MAX_STRING: usize = 128;

impl SlowLog {
    pub fn push(
        &mut self,
        args: &[bytes::Bytes],
        duration_us: u64,
        peer: String,
        name: String,
        max_len: u64,
    ) {
        let mut a: Vec<Vec<u8>> = Vec::new();
        let argc = args.len().min(SLOWLOG_MAX_ARGC);
        for (i, arg) in args.iter().take(argc).enumerate() {
            if argc != args.len() && i == argc - 1 {
                a.push(format!("... ({} more arguments)", args.len() - argc + 1).into_bytes());
            } else if arg.len() > SLOWLOG_MAX_STRING {
                let mut v = arg[..SLOWLOG_MAX_STRING].to_vec();
                v.extend_from_slice(
                    format!("... ({} more bytes)", arg.len() - SLOWLOG_MAX_STRING).as_bytes(),
                );
                a.push(v);
            } else {
                a.push(arg.to_vec());
            }
        }
        self.entries.push_front(SlowLogEntry {
            id: self.next_id,
            time: super::now_ms() / 1000,
            duration_us,
            args: a,
            peer,
            name,
        });
        self.next_id += 1;
        while self.entries.len() as u64 > max_len {
            self.entries.pop_back();
        }
    }
}

/// One latency event's history (LATENCY HISTORY / LATEST).
#[derive(Debug, Default, Clone)]
pub struct LatencyEvent {
    /// (unix seconds, ms) samples, at most 160, one per second.
    pub samples: VecDeque<(i64, u64)>,
    pub max: u64,
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    pub events: BTreeMap<String, LatencyEvent>,
}

impl LatencyMonitor {
    /// Records `ms` for `event` if at or over the threshold (0 = off).
    pub fn add_if_needed(&mut self, threshold: u64, event: &str, ms: u64) {
        if threshold == 0 || ms < threshold {
            return;
        }
        let now = super::now_ms() / 1000;
        let e = self.events.entry(event.to_string()).or_default();
        if e.max < ms {
            e.max = ms;
        }
        if let Some(last) = e.samples.back_mut() {
            if last.0 == now {
                last.1 = last.1.max(ms);
                return;
            }
        }
        e.samples.push_back((now, ms));
        if e.samples.len() > 160 {
            e.samples.pop_front();
        }
    }
}
