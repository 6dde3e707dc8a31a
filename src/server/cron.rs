//! serverCron: the periodic work Redis does `hz` times a second: active
//! expiry, idle-client timeouts, output-buffer soft limits.

use super::client::QbufResize;
use super::{now_ms, Server};
use crate::keyspace::NO_EXPIRE;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Keys sampled per database per round (ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
const KEYS_PER_LOOP: usize = 20;
/// Percentage of expired samples above which a database is sampled again.
const ACCEPTABLE_STALE: usize = 10;
/// Share of the cron period the cycle may use (ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC).
const SLOW_TIME_PERC: u64 = 25;
/// Databases visited per cycle unless the last one ran out of time.
const DBS_PER_CALL: usize = 16;

/// The last cycle stopped on its time limit: visit every database next
/// time (Redis's static timelimit_exit).
static TIMELIMIT_EXIT: AtomicBool = AtomicBool::new(false);

/// One cron tick.
pub fn tick(s: &mut Server) {
    if s.pause_cron {
        return;
    }
    let now = now_ms();
    super::info_memory::update_peak(s);
    // Instantaneous metrics are sampled every 100ms whatever hz is.
    if now - s.stats.inst[0].last_time >= 100 {
        s.stats.track_instantaneous(now);
    }
    if let Some(p) = s.pause {
        if p.until <= now {
            super::end_pause(s);
        }
    }
    // Keys do not expire while clients are paused, so that a paused
    // primary's dataset stays still for a failover.
    if s.follow.is_replica() && s.active_expire && s.config.active_expire_enabled {
        crate::replication::follow::expire_local_keys(s, now);
    }
    // A replica waits for its master's DELs.
    if s.active_expire
        && s.config.active_expire_enabled
        && !super::pause_active(s, now)
        && !s.follow.is_replica()
    {
        let t = Instant::now();
        active_expire_cycle(s);
        s.stats.expire_cycle_time_used_us += t.elapsed().as_micros() as u64;
    }
    // Redis's eviction time proc, started by CONFIG SET maxmemory: frees
    // memory over the new limit without waiting for a command.
    if s.evict_pending {
        let res = super::evict::perform_evictions(s);
        s.evict_pending = res == super::evict::EvictResult::Ok
            && super::evict::memory_for_maxmemory(s) > s.config.maxmemory;
    }
    close_timed_out_clients(s, now);
    s.migrate_sockets.close_timed_out(now / 1000);
    resize_query_buffers(s, now);
    crate::persistence::snapshot::cron(s);
    crate::replication::cron(s, now);
    super::shutdown::cron(s, now);
}

/// Redis's activeExpireCycle (slow mode): samples keys with a TTL in each
/// database and deletes the expired ones, repeating on a database while
/// more than 10% of the samples were expired, within a time budget of 25%
/// of the cron period. Samples are drawn at random from the expires index
/// where Redis walks its buckets; both look at 20 keys per round.
pub fn active_expire_cycle(s: &mut Server) {
    let start = Instant::now();
    let budget_us = (SLOW_TIME_PERC * 1_000_000 / s.config.hz.max(1) as u64 / 100).max(1);
    let ndb = s.dbs.len();
    let dbs_per_call = if TIMELIMIT_EXIT.load(Ordering::Relaxed) {
        ndb
    } else {
        DBS_PER_CALL.min(ndb)
    };
    TIMELIMIT_EXIT.store(false, Ordering::Relaxed);
    let mut sampled_total = 0usize;
    let mut expired_total = 0usize;
    let mut iteration = 0u64;
    let mut timelimit_exit = false;
    for _ in 0..dbs_per_call {
        if timelimit_exit {
            break;
        }
        let db = s.expire_db_cursor % ndb;
        s.expire_db_cursor = (s.expire_db_cursor + 1) % ndb;
        loop {
            iteration += 1;
            let n = s.dbs[db].expires_len();
            if n == 0 {
                s.dbs[db].avg_ttl = 0;
                break;
            }
            let now = now_ms();
            let samples = KEYS_PER_LOOP.min(n);
            let mut expired = Vec::new();
            let mut ttl_sum = 0i64;
            let mut ttl_n = 0i64;
            for _ in 0..samples {
                let Some(k) = s.dbs[db].random_volatile_key() else {
                    break;
                };
                let when = s.dbs[db].get(k).map_or(NO_EXPIRE, |e| e.expire);
                if when == NO_EXPIRE {
                    continue;
                }
                if when <= now {
                    expired.push(k.clone());
                } else {
                    ttl_sum += when - now;
                    ttl_n += 1;
                }
            }
            expired.sort();
            expired.dedup();
            if ttl_n > 0 {
                let avg = ttl_sum / ttl_n;
                let d = &mut s.dbs[db];
                if d.avg_ttl == 0 {
                    d.avg_ttl = avg;
                }
                d.avg_ttl = (d.avg_ttl / 50) * 49 + avg / 50;
            }
            sampled_total += samples;
            expired_total += expired.len();
            let n_expired = expired.len();
            for k in expired {
                s.delete_expired(db, &k);
            }
            // Checking the clock is not free: every 16 rounds.
            if iteration & 0xf == 0 && start.elapsed().as_micros() as u64 > budget_us {
                timelimit_exit = true;
                s.stats.expired_time_cap_reached_count += 1;
                break;
            }
            if n_expired * 100 / samples <= ACCEPTABLE_STALE {
                break;
            }
        }
    }
    TIMELIMIT_EXIT.store(timelimit_exit, Ordering::Relaxed);
    let elapsed_ms = start.elapsed().as_millis() as u64;
    let thr = s.config.latency_monitor_threshold;
    s.latency.add_if_needed(thr, "expire-cycle", elapsed_ms);
    let perc = if sampled_total > 0 {
        expired_total as f64 / sampled_total as f64
    } else {
        0.0
    };
    s.stats.expired_stale_perc = perc * 0.05 + s.stats.expired_stale_perc * 0.95;
}

/// Closes clients idle longer than `timeout` seconds (not subscribers,
/// not blocked clients, not MONITOR).
/// Redis's clientsCronResizeQueryBuffer: a buffer wasting more than 4 KiB
/// is released when its client has been idle for over 2 seconds, or
/// shrunk when it is over 32 KiB and more than twice the recent peak. The
/// connection task owns the buffer, so it is asked to do it.
fn resize_query_buffers(s: &mut Server, now: i64) {
    for c in s.clients.values_mut() {
        let free = c.qbuf_cap.saturating_sub(c.qbuf);
        let peak = std::mem::replace(&mut c.qbuf_peak, c.qbuf);
        if free <= 4096 || c.qbuf_resize != QbufResize::None {
            continue;
        }
        let idle = (now - c.last_interaction) / 1000 > 2;
        let want = if idle {
            QbufResize::Release
        } else if c.qbuf_cap > super::conn::RESIZE_THRESHOLD && c.qbuf_cap / 2 > peak {
            QbufResize::Shrink
        } else {
            continue;
        };
        c.qbuf_resize = want;
        c.notify.notify_one();
    }
}

fn close_timed_out_clients(s: &mut Server, now: i64) {
    let timeout = s.config.timeout;
    if timeout == 0 {
        return;
    }
    for c in s.clients.values_mut() {
        if c.sub_count() > 0 || c.blocked.is_some() || c.flags.monitor || c.flags.replica {
            continue;
        }
        if (now - c.last_interaction) / 1000 > timeout as i64 {
            crate::log_verbose!("Closing idle client");
            c.flags.close_asap = true;
            c.notify.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    #[test]
    fn expires_keys_incrementally_and_tracks_stats() {
        let mut s = Server::new(crate::commands::testutil::test_config());
        let now = now_ms();
        for i in 0..200 {
            let k = format!("k{i}");
            s.dbs[3].set(k.as_bytes(), Value::Int(i), false, 0);
            // Half expired already, half expiring in an hour.
            let when = if i % 2 == 0 { now - 1 } else { now + 3_600_000 };
            s.dbs[3].set_expire(k.as_bytes(), when);
        }
        for _ in 0..50 {
            active_expire_cycle(&mut s);
        }
        assert_eq!(s.dbs[3].len(), 100);
        assert_eq!(s.dbs[3].expires_len(), 100);
        assert_eq!(s.stats.expired_keys, 100);
        assert!(s.stats.expired_stale_perc > 0.0);
        let avg = s.dbs[3].avg_ttl;
        assert!(avg > 3_000_000 && avg <= 3_600_000, "{avg}");
        // No keys with a TTL left: the average resets.
        for i in (1..200).step_by(2) {
            s.dbs[3].persist(format!("k{i}").as_bytes());
        }
        active_expire_cycle(&mut s);
        assert_eq!(s.dbs[3].avg_ttl, 0);
    }

    #[test]
    fn paused_clients_stop_active_expiry() {
        let mut s = Server::new(crate::commands::testutil::test_config());
        s.dbs[0].set(b"k", Value::Int(1), false, 0);
        s.dbs[0].set_expire(b"k", now_ms() - 1);
        s.pause = Some(super::super::Pause {
            until: now_ms() + 60_000,
            write_only: true,
        });
        tick(&mut s);
        assert_eq!(s.dbs[0].len(), 1);
        s.pause = None;
        tick(&mut s);
        assert_eq!(s.dbs[0].len(), 0);
    }
}
