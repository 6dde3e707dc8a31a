//! LATENCY DOCTOR: Redis's human-readable analysis of the latency events
//! (latency.c createLatencyReport): per-event statistics, then advice
//! chosen by which events occurred. The events keel records today are
//! command, fast-command, expire-cycle and the eviction ones; the
//! persistence events (fork, aof-*) join here with their subsystems.

use crate::server::stats::LatencyEvent;
use crate::server::Server;
use std::fmt::Write;

/// (samples, average ms, mean absolute deviation ms, period seconds).
fn analyze(e: &LatencyEvent, now_secs: i64) -> (u64, u64, u64, i64) {
    let n = e.samples.len() as u64;
    if n == 0 {
        return (0, 0, 0, 0);
    }
    let sum: u64 = e.samples.iter().map(|s| s.1).sum();
    let avg = sum / n;
    let oldest = e.samples.iter().map(|s| s.0).min().unwrap_or(now_secs);
    let period = (now_secs - oldest).max(1);
    let mad = e
        .samples
        .iter()
        .map(|s| (s.1 as i64 - avg as i64).unsigned_abs())
        .sum::<u64>()
        / n;
    (n, avg, mad, period)
}

/// AnonHugePages of this process (non-zero means THP is in use).
fn anon_huge_pages() -> u64 {
    std::fs::read_to_string("/proc/self/smaps")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("AnonHugePages:"))
        .filter_map(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

pub fn report(s: &Server) -> String {
    let mut r = String::new();
    let threshold = s.config.latency_monitor_threshold;
    if s.latency.events.is_empty() && threshold == 0 {
        r.push_str("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
        return r;
    }
    let now = crate::server::now_ms() / 1000;
    let (mut slowlog_enabled, mut slowlog_tuning, mut slowlog_inspect) = (false, false, false);
    let (mut scheduler, mut hz, mut large_objects, mut mass_eviction) =
        (false, false, false, false);
    let mut advices = 0;
    let mut eventnum = 0;
    for (name, e) in &s.latency.events {
        eventnum += 1;
        if eventnum == 1 {
            r.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let (n, avg, mad, period) = analyze(e, now);
        let _ = write!(
            r,
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            eventnum,
            name,
            n,
            avg,
            mad,
            period as f64 / n.max(1) as f64,
            e.max
        );
        match name.as_str() {
            "command" => {
                if s.config.slowlog_log_slower_than < 0 {
                    slowlog_enabled = true;
                    advices += 1;
                } else if (s.config.slowlog_log_slower_than / 1000) as u64 > threshold {
                    slowlog_tuning = true;
                    advices += 1;
                }
                slowlog_inspect = true;
                large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                scheduler = true;
                advices += 1;
            }
            "expire-cycle" => {
                hz = true;
                large_objects = true;
                advices += 2;
            }
            "eviction-del" => {
                large_objects = true;
                advices += 1;
            }
            "eviction-cycle" => {
                mass_eviction = true;
                advices += 1;
            }
            _ => {}
        }
        r.push('\n');
    }
    let thp = anon_huge_pages() > 0;
    if thp {
        advices += 1;
    }
    if eventnum == 0 && advices == 0 {
        r.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return r;
    }
    if eventnum > 0 && advices == 0 {
        r.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return r;
    }
    r.push_str("\nI have a few advices for you:\n\n");
    if slowlog_enabled {
        let _ = writeln!(r, "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.", threshold * 1000);
    }
    if slowlog_tuning {
        let _ = writeln!(r, "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.", threshold * 1000);
    }
    if slowlog_inspect {
        r.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if scheduler {
        r.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if hz && s.config.hz < 100 {
        r.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if large_objects {
        r.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if mass_eviction {
        r.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
    }
    if thp {
        r.push_str("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n");
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_and_events() {
        let mut srv = Server::new(crate::commands::testutil::test_config());
        assert!(report(&srv).starts_with("I'm sorry, Dave"));
        srv.latency.add_if_needed(1, "command", 300);
        srv.config.latency_monitor_threshold = 1;
        let r = report(&srv);
        assert!(r.starts_with("Dave, I have observed latency spikes"), "{r}");
        assert!(r.contains("1. command: 1 latency spikes (average 300ms, mean deviation 0ms, period 1.00 sec). Worst all time event 300ms.\n"), "{r}");
        assert!(r.contains("- Check your Slow Log"), "{r}");
    }
}
