//! Counters behind INFO stats/commandstats/errorstats, the slow log and
//! the latency monitor.

use hashbrown::HashMap;
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Default, Clone)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// INFO latencystats: created by the first call timed while
    /// latency-tracking is on (kept here so that one lookup per command
    /// serves both the counters and the histogram).
    pub latency: Option<Box<super::histogram::LatencyHistogram>>,
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
    /// Error replies already charged to a command's failed_calls, so that
    /// a command running others (EXEC) is not charged for their errors.
    pub attributed_errors: u64,
    /// Time spent in the active expire cycle (expire_cycle_cpu_milliseconds).
    pub expire_cycle_time_used_us: u64,
    /// Socket reads / writes done by connection tasks.
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    pub io_threaded_reads_processed: u64,
    /// Full command name ("client|list") -> stats.
    pub commands: HashMap<String, CommandStat>,
    /// Error code ("ERR", "WRONGTYPE") -> count.
    pub errors: BTreeMap<String, u64>,
    /// Highest used_memory seen (INFO used_memory_peak), sampled by cron.
    pub peak_memory: u64,
    /// Instantaneous metrics: commands, net input bytes, net output bytes.
    pub inst: [InstMetric; 3],
}

/// Samples behind an `instantaneous_*` INFO field: a rate computed every
/// 100ms, averaged over the last 16 samples (Redis's trackInstantaneousMetric).
#[derive(Debug, Default, Clone)]
pub struct InstMetric {
    pub last_time: i64,
    pub last_count: u64,
    pub samples: [u64; 16],
    pub idx: usize,
}

impl InstMetric {
    pub fn track(&mut self, now_ms: i64, reading: u64) {
        let t = now_ms - self.last_time;
        let ops = reading.saturating_sub(self.last_count);
        self.samples[self.idx] = if t > 0 { ops * 1000 / t as u64 } else { 0 };
        self.idx = (self.idx + 1) % self.samples.len();
        self.last_time = now_ms;
        self.last_count = reading;
    }

    pub fn value(&self) -> u64 {
        self.samples.iter().sum::<u64>() / self.samples.len() as u64
    }
}

impl Stats {
    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        // The memory peak survives CONFIG RESETSTAT, as in Redis.
        let peak = self.peak_memory;
        *self = Stats::default();
        self.peak_memory = peak;
    }

    /// Feeds the instantaneous metrics (called by cron every 100ms).
    pub fn track_instantaneous(&mut self, now_ms: i64) {
        let (c, i, o) = (
            self.total_commands_processed,
            self.total_net_input_bytes,
            self.total_net_output_bytes,
        );
        self.inst[0].track(now_ms, c);
        self.inst[1].track(now_ms, i);
        self.inst[2].track(now_ms, o);
    }

    /// The latency histogram of a command by full name, if it has one.
    pub fn latency_of(&self, name: &str) -> Option<&super::histogram::LatencyHistogram> {
        self.commands.get(name)?.latency.as_deref()
    }

    /// Full names of the commands that have a latency histogram, sorted.
    pub fn latency_names(&self) -> Vec<&String> {
        let mut v: Vec<&String> = self
            .commands
            .iter()
            .filter(|(_, c)| c.latency.is_some())
            .map(|(n, _)| n)
            .collect();
        v.sort();
        v
    }

    /// The stats of a command by full name, created on first use
    /// without allocating on later calls.
    pub fn command_stat(&mut self, name: &str) -> &mut CommandStat {
        // One hash of the name; the String is only made for a new entry.
        self.commands.entry_ref(name).or_default()
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
