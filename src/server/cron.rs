//! serverCron: the periodic work Redis does `hz` times a second: active
//! expiry, idle-client timeouts, output-buffer soft limits.

use super::{now_ms, Server};
use std::time::Instant;

/// Keys sampled per database per round (ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
const KEYS_PER_LOOP: usize = 20;
/// Percentage of expired samples above which a database is sampled again.
const ACCEPTABLE_STALE: usize = 10;

/// One cron tick.
pub fn tick(s: &mut Server) {
    if s.pause_cron {
        return;
    }
    let now = now_ms();
    if s.active_expire && s.config.active_expire_enabled {
        let t = Instant::now();
        active_expire_cycle(s, now);
        s.stats.expire_cycle_time_used_us += t.elapsed().as_micros() as u64;
    }
    super::info_memory::update_peak(s);
    // Instantaneous metrics are sampled every 100ms whatever hz is.
    if now - s.stats.inst[0].last_time >= 100 {
        s.stats.track_instantaneous(now);
    }
    close_timed_out_clients(s, now);
    if let Some(p) = s.pause {
        if p.until <= now {
            super::end_pause(s);
        }
    }
}

/// Redis's activeExpireCycle (slow mode): samples keys with a TTL in each
/// database and deletes the expired ones, repeating on a database while
/// more than 10% of the samples were expired, within a time budget of 25%
/// of the cron period.
pub fn active_expire_cycle(s: &mut Server, now: i64) {
    let budget_us = (1_000_000 / s.config.hz.max(1) as u64) * 25 / 100;
    let start = Instant::now();
    let ndb = s.dbs.len();
    let mut sampled_total = 0usize;
    let mut expired_total = 0usize;
    for i in 0..ndb {
        let db = (s.expire_db_cursor + i) % ndb;
        loop {
            let n = s.dbs[db].expires_len();
            if n == 0 {
                break;
            }
            let mut expired = Vec::new();
            let samples = KEYS_PER_LOOP.min(n);
            let mut ttl_sum = 0i64;
            let mut ttl_n = 0i64;
            for _ in 0..samples {
                if let Some(k) = s.dbs[db].random_volatile_key() {
                    let when = s.dbs[db].get(k).map(|e| e.expire).unwrap_or(-1);
                    if when != -1 && when <= now {
                        expired.push(k.clone());
                    } else if when != -1 {
                        ttl_sum += when - now;
                        ttl_n += 1;
                    }
                }
            }
            expired.sort();
            expired.dedup();
            if ttl_n > 0 {
                let avg = ttl_sum / ttl_n;
                let d = &mut s.dbs[db];
                d.avg_ttl = if d.avg_ttl == 0 {
                    avg
                } else {
                    (d.avg_ttl / 50) * 49 + avg / 50
                };
            }
            sampled_total += samples;
            expired_total += expired.len();
            let n_expired = expired.len();
            for k in expired {
                s.delete_expired(db, &k);
            }
            if start.elapsed().as_micros() as u64 > budget_us {
                s.stats.expired_time_cap_reached_count += 1;
                s.expire_db_cursor = db;
                update_stale(s, sampled_total, expired_total);
                return;
            }
            if n_expired * 100 <= samples * ACCEPTABLE_STALE {
                break;
            }
        }
    }
    s.expire_db_cursor = (s.expire_db_cursor + 1) % ndb.max(1);
    update_stale(s, sampled_total, expired_total);
}

fn update_stale(s: &mut Server, sampled: usize, expired: usize) {
    let perc = if sampled > 0 {
        expired as f64 / sampled as f64
    } else {
        0.0
    };
    s.stats.expired_stale_perc = perc * 0.05 + s.stats.expired_stale_perc * 0.95;
}

/// Closes clients idle longer than `timeout` seconds (not subscribers,
/// not blocked clients, not MONITOR).
fn close_timed_out_clients(s: &mut Server, now: i64) {
    let timeout = s.config.timeout;
    if timeout == 0 {
        return;
    }
    for c in s.clients.values_mut() {
        if c.sub_count() > 0 || c.blocked.is_some() || c.flags.monitor {
            continue;
        }
        if (now - c.last_interaction) / 1000 > timeout as i64 {
            crate::log_verbose!("Closing idle client");
            c.flags.close_asap = true;
            c.notify.notify_one();
        }
    }
}
