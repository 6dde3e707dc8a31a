//! LRU/LFU bookkeeping and maxmemory eviction, following Redis's
//! approximated algorithms (evict.c): keys are sampled
//! (maxmemory-samples per round), the best candidates kept in a small
//! pool, and the best one evicted until memory is under the limit.

use super::Server;
use crate::config::{Config, EvictionPolicy};
use crate::keyspace::{Entry, KBytes, NO_EXPIRE};
use rand::Rng;

/// Redis's LRU clock: seconds, 24 bits.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
const LFU_INIT_VAL: u32 = 5;

pub fn lru_clock() -> u32 {
    ((super::now_ms() / 1000) as u32) & LRU_CLOCK_MAX
}

/// Minutes, 16 bits (LFU decay time base).
fn lfu_minutes() -> u32 {
    ((super::now_ms() / 1000 / 60) as u32) & 0xFFFF
}

pub fn initial_lru(lfu: bool) -> u32 {
    if lfu {
        (lfu_minutes() << 8) | LFU_INIT_VAL
    } else {
        lru_clock()
    }
}

/// The LRU clock of a key idle for `idle` seconds (RDB IDLE, RESTORE
/// IDLETIME).
pub fn lru_from_idle(idle: u64) -> u32 {
    let idle = (idle.min(LRU_CLOCK_MAX as u64)) as u32;
    let now = lru_clock();
    if now >= idle {
        now - idle
    } else {
        LRU_CLOCK_MAX - (idle - now)
    }
}

/// The LFU data of a key with access counter `freq` (RDB FREQ, RESTORE
/// FREQ).
pub fn lfu_from_freq(freq: u8) -> u32 {
    (lfu_minutes() << 8) | freq as u32
}

/// Seconds since the key was last accessed (OBJECT IDLETIME).
pub fn idle_secs(lru: u32) -> u64 {
    let now = lru_clock();
    if now >= lru {
        (now - lru) as u64
    } else {
        (now + (LRU_CLOCK_MAX - lru)) as u64
    }
}

/// LFU counter after decay (OBJECT FREQ).
pub fn lfu_counter(lru: u32, decay_time: u32) -> u32 {
    let ldt = lru >> 8;
    let counter = lru & 0xFF;
    let now = lfu_minutes();
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = elapsed.checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Updates access data of a key that was read or written.
pub fn touch(e: &mut Entry, clock: u32, lfu: bool, cfg: &Config) {
    if lfu {
        let mut counter = lfu_counter(e.lru, cfg.lfu_decay_time);
        // Logarithmic increment (LFULogIncr).
        if counter < 255 {
            let r: f64 = rand::thread_rng().gen();
            let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
            let p = 1.0 / (base * cfg.lfu_log_factor as f64 + 1.0);
            if r < p {
                counter += 1;
            }
        }
        e.lru = (lfu_minutes() << 8) | counter;
    } else {
        e.lru = clock;
    }
}

/// Bytes allocated by the process, from the allocator's statistics.
///
/// keel-server's global allocator counts the usable size of every live
/// block (see [`super::alloc_count`]), as Redis's zmalloc does, so the
/// figure is exact at every instant (jemalloc's own `stats.allocated` lags
/// behind by what sits in its thread caches, which is more than
/// maxmemory's precision allows). Without that allocator (unit tests)
/// jemalloc's statistics are read instead.
pub fn used_memory() -> u64 {
    let counted = super::alloc_count::total();
    if counted > 0 {
        return counted;
    }
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    stats::allocated::read().map(|v| v as u64).unwrap_or(0)
}

/// Outcome of [`perform_evictions`].
#[derive(Debug, PartialEq, Eq)]
pub enum EvictResult {
    /// Under the limit (or no limit).
    Ok,
    /// Over the limit and nothing can be evicted.
    Fail,
}

/// Memory counted against maxmemory: used memory minus the output
/// buffers of replicas (Redis's freeMemoryGetNotCountedMemory; the AOF
/// buffer is written every round, so it is not counted either).
pub fn memory_for_maxmemory(srv: &Server) -> u64 {
    used_memory().saturating_sub(crate::replication::buffer_memory(srv))
}

const POOL_SIZE: usize = 16;

/// Evicts keys until used memory is under maxmemory, as Redis's
/// performEvictions does before every command that may grow memory.
pub fn perform_evictions(srv: &mut Server) -> EvictResult {
    let maxmemory = srv.config.maxmemory;
    if maxmemory == 0 {
        return EvictResult::Ok;
    }
    let mut used = memory_for_maxmemory(srv);
    if used <= maxmemory {
        return EvictResult::Ok;
    }
    let policy = srv.config.maxmemory_policy;
    if policy == EvictionPolicy::NoEviction {
        return EvictResult::Fail;
    }
    let start = std::time::Instant::now();
    let mut freed_any = false;
    while used > maxmemory {
        let Some((db, key)) = pick_victim(srv, policy) else {
            break;
        };
        srv.dbs[db].remove(&key);
        srv.stats.evicted_keys += 1;
        srv.touch_watched_key(db, &key);
        super::pubsub::notify_keyspace_event(
            srv,
            None,
            crate::commands::ctx::notify::EVICTED,
            "evicted",
            &key,
            db,
        );
        srv.propagate(
            db,
            &[
                bytes::Bytes::from_static(b"DEL"),
                bytes::Bytes::copy_from_slice(&key),
            ],
        );
        freed_any = true;
        used = memory_for_maxmemory(srv);
        // Redis bounds one eviction pass in time (tenacity); keep the
        // command latency bounded the same way.
        if start.elapsed().as_micros() as u64
            > eviction_time_limit_us(srv.config.maxmemory_eviction_tenacity)
        {
            break;
        }
    }
    if used <= maxmemory || freed_any {
        EvictResult::Ok
    } else {
        EvictResult::Fail
    }
}

fn eviction_time_limit_us(tenacity: u32) -> u64 {
    if tenacity <= 10 {
        50 * tenacity as u64 + 1
    } else if tenacity < 100 {
        (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64
    } else {
        u64::MAX
    }
}

/// Picks the key to evict under `policy`, sampling like Redis.
fn pick_victim(srv: &Server, policy: EvictionPolicy) -> Option<(usize, KBytes)> {
    let samples = srv.config.maxmemory_samples.max(1) as usize;
    let volatile = matches!(
        policy,
        EvictionPolicy::VolatileLru
            | EvictionPolicy::VolatileLfu
            | EvictionPolicy::VolatileRandom
            | EvictionPolicy::VolatileTtl
    );
    let random = matches!(
        policy,
        EvictionPolicy::VolatileRandom | EvictionPolicy::AllkeysRandom
    );
    let mut rng = rand::thread_rng();
    if random {
        // Round-robin over databases like Redis's next_db.
        let n = srv.dbs.len();
        let start = rng.gen_range(0..n);
        for i in 0..n {
            let db = (start + i) % n;
            let key = if volatile {
                srv.dbs[db].random_volatile_key().cloned()
            } else {
                srv.dbs[db].random_entry().map(|e| e.key.clone())
            };
            if let Some(k) = key {
                return Some((db, k));
            }
        }
        return None;
    }
    // Sample keys from every database; best score = most idle / least
    // frequently used / nearest expiry.
    let mut pool: Vec<(u64, usize, KBytes)> = Vec::with_capacity(POOL_SIZE);
    let lfu_decay = srv.config.lfu_decay_time;
    for (dbi, db) in srv.dbs.iter().enumerate() {
        let have = if volatile { db.expires_len() } else { db.len() };
        if have == 0 {
            continue;
        }
        for _ in 0..samples {
            let entry = if volatile {
                db.random_volatile_key().and_then(|k| db.get(k))
            } else {
                db.random_entry()
            };
            let Some(e) = entry else { continue };
            let score = match policy {
                EvictionPolicy::VolatileLru | EvictionPolicy::AllkeysLru => {
                    idle_secs(e.lru) * 1000 + 1
                }
                EvictionPolicy::VolatileLfu | EvictionPolicy::AllkeysLfu => {
                    255 - lfu_counter(e.lru, lfu_decay) as u64
                }
                EvictionPolicy::VolatileTtl => {
                    if e.expire == NO_EXPIRE {
                        0
                    } else {
                        u64::MAX - e.expire as u64
                    }
                }
                _ => 0,
            };
            if pool.iter().any(|(_, d, k)| *d == dbi && *k == e.key) {
                continue;
            }
            pool.push((score, dbi, e.key.clone()));
        }
    }
    pool.sort_by_key(|e| std::cmp::Reverse(e.0));
    pool.into_iter().next().map(|(_, d, k)| (d, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_decays() {
        let now = lfu_minutes();
        let lru = (now.wrapping_sub(10) & 0xFFFF) << 8 | 20;
        assert_eq!(lfu_counter(lru, 1), 10);
        assert_eq!(lfu_counter(lru, 0), 20);
    }
}
