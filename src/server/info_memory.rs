//! INFO's memory and stats sections (split from `info` to keep files
//! small). Memory figures come from jemalloc's statistics and /proc; the
//! overhead/dataset split follows Redis's getMemoryOverheadData: what is
//! not start-up memory, client buffers or key-table overhead is dataset.

use super::client::Client;
use super::info::{all_clients, bytes_to_human};
use super::Server;
use std::fmt::Write;

/// Process resident set size in bytes (VmRSS from /proc/self/status).
pub fn process_rss() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Total physical memory (MemTotal from /proc/meminfo).
pub fn total_system_memory() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else {
        return 0;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// (allocated, active, resident) from jemalloc.
fn allocator_stats() -> (u64, u64, u64) {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    (
        stats::allocated::read().unwrap_or(0) as u64,
        stats::active::read().unwrap_or(0) as u64,
        stats::resident::read().unwrap_or(0) as u64,
    )
}

fn allocator_name() -> String {
    let v = tikv_jemalloc_ctl::version::read().unwrap_or("unknown");
    format!("jemalloc-{}", v.split('-').next().unwrap_or(v))
}

/// Memory used by one client's buffers (query buffer, output, argv).
pub fn client_memory(c: &Client) -> u64 {
    (c.qbuf + c.out.capacity() + c.argv_mem) as u64
}

/// Samples used memory into the peak (serverCron does this every tick).
pub fn update_peak(s: &mut Server) -> u64 {
    let used = super::evict::used_memory();
    if used > s.stats.peak_memory {
        s.stats.peak_memory = used;
    }
    used
}

fn policy_name(p: crate::config::EvictionPolicy) -> &'static str {
    use crate::config::EvictionPolicy::*;
    match p {
        VolatileLru => "volatile-lru",
        VolatileLfu => "volatile-lfu",
        VolatileRandom => "volatile-random",
        VolatileTtl => "volatile-ttl",
        AllkeysLru => "allkeys-lru",
        AllkeysLfu => "allkeys-lfu",
        AllkeysRandom => "allkeys-random",
        NoEviction => "noeviction",
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

pub fn memory_section(s: &mut Server, cur: Option<&Client>, out: &mut String) {
    let used = update_peak(s);
    let peak = s.stats.peak_memory;
    let rss = process_rss();
    let (allocated, active, resident) = allocator_stats();
    let total_sys = total_system_memory();
    let startup = super::info::startup_memory();
    let clients_normal: u64 = all_clients(s, cur)
        .iter()
        .filter(|c| !c.flags.replica)
        .map(|c| client_memory(c))
        .sum();
    let repl_buffers = crate::replication::buffer_memory(s);
    // Key-table overhead: one slot pointer and one boxed entry header per
    // key, one index slot per key with a TTL.
    let keys: u64 = s.dbs.iter().map(|d| d.len() as u64).sum();
    let expires: u64 = s.dbs.iter().map(|d| d.expires_len() as u64).sum();
    let db_overhead = keys * 40 + expires * 24;
    let overhead = startup + clients_normal + repl_buffers + db_overhead;
    let dataset = used.saturating_sub(overhead);
    let net = used.saturating_sub(startup);
    let dataset_perc = if net > 0 {
        dataset as f64 * 100.0 / net as f64
    } else {
        0.0
    };
    let maxmemory = s.config.maxmemory;
    let policy = policy_name(s.config.maxmemory_policy);
    // The scripting engine (Redis 7.0's eval VM and script cache).
    let lua = s.scripting.vm.memory() as u64;
    let scripts_mem = s.scripting.scripts_memory() as u64;
    let scripts = s.scripting.scripts.len();
    let _ = write!(
        out,
        "used_memory:{used}\r\n\
         used_memory_human:{}\r\n\
         used_memory_rss:{rss}\r\n\
         used_memory_rss_human:{}\r\n\
         used_memory_peak:{peak}\r\n\
         used_memory_peak_human:{}\r\n\
         used_memory_peak_perc:{:.2}%\r\n\
         used_memory_overhead:{overhead}\r\n\
         used_memory_startup:{startup}\r\n\
         used_memory_dataset:{dataset}\r\n\
         used_memory_dataset_perc:{dataset_perc:.2}%\r\n\
         allocator_allocated:{allocated}\r\n\
         allocator_active:{active}\r\n\
         allocator_resident:{resident}\r\n\
         total_system_memory:{total_sys}\r\n\
         total_system_memory_human:{}\r\n\
         used_memory_lua:{lua}\r\n\
         used_memory_vm_eval:{lua}\r\n\
         used_memory_lua_human:{}\r\n\
         used_memory_scripts_eval:{scripts_mem}\r\n\
         number_of_cached_scripts:{scripts}\r\n\
         number_of_functions:0\r\n\
         number_of_libraries:0\r\n\
         used_memory_vm_functions:0\r\n\
         used_memory_vm_total:{lua}\r\n\
         used_memory_vm_total_human:{}\r\n\
         used_memory_functions:0\r\n\
         used_memory_scripts:{scripts_mem}\r\n\
         used_memory_scripts_human:{}\r\n\
         maxmemory:{maxmemory}\r\n\
         maxmemory_human:{}\r\n\
         maxmemory_policy:{policy}\r\n\
         allocator_frag_ratio:{:.2}\r\n\
         allocator_frag_bytes:{}\r\n\
         allocator_rss_ratio:{:.2}\r\n\
         allocator_rss_bytes:{}\r\n\
         rss_overhead_ratio:{:.2}\r\n\
         rss_overhead_bytes:{}\r\n\
         mem_fragmentation_ratio:{:.2}\r\n\
         mem_fragmentation_bytes:{}\r\n\
         mem_not_counted_for_evict:{repl_buffers}\r\n\
         mem_replication_backlog:0\r\n\
         mem_total_replication_buffers:{repl_buffers}\r\n\
         mem_clients_slaves:{repl_buffers}\r\n\
         mem_clients_normal:{clients_normal}\r\n\
         mem_cluster_links:0\r\n\
         mem_aof_buffer:0\r\n\
         mem_allocator:{}\r\n\
         active_defrag_running:0\r\n\
         lazyfree_pending_objects:0\r\n\
         lazyfreed_objects:0\r\n",
        bytes_to_human(used),
        bytes_to_human(rss),
        bytes_to_human(peak),
        ratio(used, peak) * 100.0,
        bytes_to_human(total_sys),
        bytes_to_human(lua),
        bytes_to_human(lua),
        bytes_to_human(scripts_mem),
        bytes_to_human(maxmemory),
        ratio(active, allocated),
        active as i64 - allocated as i64,
        ratio(resident, active),
        resident as i64 - active as i64,
        ratio(rss, resident),
        rss as i64 - resident as i64,
        ratio(rss, used),
        rss as i64 - used as i64,
        allocator_name(),
    );
}

pub fn stats_section(s: &Server, out: &mut String) {
    let st = &s.stats;
    let _ = write!(
        out,
        "total_connections_received:{}\r\n\
         total_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:{}\r\n\
         total_net_input_bytes:{}\r\n\
         total_net_output_bytes:{}\r\n\
         total_net_repl_input_bytes:0\r\n\
         total_net_repl_output_bytes:0\r\n\
         instantaneous_input_kbps:{:.2}\r\n\
         instantaneous_output_kbps:{:.2}\r\n\
         instantaneous_input_repl_kbps:0.00\r\n\
         instantaneous_output_repl_kbps:0.00\r\n\
         rejected_connections:{}\r\n\
         sync_full:{}\r\n\
         sync_partial_ok:0\r\n\
         sync_partial_err:{}\r\n\
         expired_keys:{}\r\n\
         expired_stale_perc:{:.2}\r\n\
         expired_time_cap_reached_count:{}\r\n\
         expire_cycle_cpu_milliseconds:{}\r\n\
         evicted_keys:{}\r\n\
         evicted_clients:{}\r\n\
         total_eviction_exceeded_time:{}\r\n\
         current_eviction_exceeded_time:0\r\n\
         keyspace_hits:{}\r\n\
         keyspace_misses:{}\r\n\
         pubsub_channels:{}\r\n\
         pubsub_patterns:{}\r\n\
         pubsubshard_channels:{}\r\n\
         latest_fork_usec:{}\r\n\
         total_forks:{}\r\n\
         migrate_cached_sockets:{}\r\n\
         slave_expires_tracked_keys:{}\r\n\
         active_defrag_hits:0\r\n\
         active_defrag_misses:0\r\n\
         active_defrag_key_hits:0\r\n\
         active_defrag_key_misses:0\r\n\
         total_active_defrag_time:0\r\n\
         current_active_defrag_time:0\r\n\
         tracking_total_keys:0\r\n\
         tracking_total_items:0\r\n\
         tracking_total_prefixes:0\r\n\
         unexpected_error_replies:{}\r\n\
         total_error_replies:{}\r\n\
         dump_payload_sanitizations:{}\r\n\
         total_reads_processed:{}\r\n\
         total_writes_processed:{}\r\n\
         io_threaded_reads_processed:{}\r\n\
         io_threaded_writes_processed:0\r\n\
         reply_buffer_shrinks:0\r\n\
         reply_buffer_expands:0\r\n",
        st.total_connections_received,
        st.total_commands_processed,
        st.inst[0].value(),
        st.total_net_input_bytes,
        st.total_net_output_bytes,
        st.inst[1].value() as f32 / 1024.0,
        st.inst[2].value() as f32 / 1024.0,
        st.rejected_connections,
        s.repl.sync_full,
        s.repl.sync_partial_err,
        st.expired_keys,
        st.expired_stale_perc * 100.0,
        st.expired_time_cap_reached_count,
        st.expire_cycle_time_used_us / 1000,
        st.evicted_keys,
        st.evicted_clients,
        st.total_eviction_exceeded_time_us / 1000,
        st.keyspace_hits,
        st.keyspace_misses,
        s.pubsub.channels.len(),
        s.pubsub.patterns.len(),
        s.pubsub.shard_channels.len(),
        s.snapshots.latest_fork_usec,
        s.snapshots.total_forks,
        s.migrate_sockets.len(),
        s.follow.local_expires.len(),
        st.unexpected_error_replies,
        st.total_error_replies,
        st.dump_payload_sanitizations,
        st.total_reads_processed,
        st.total_writes_processed,
        st.io_threaded_reads_processed,
    );
}
