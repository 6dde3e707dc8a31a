//! The server: the engine state behind one lock, the listeners and
//! connection tasks, and the periodic cron.
//!
//! Threading model: the whole state ([`Server`]) sits behind one mutex.
//! A connection task parses every complete command in its buffer, takes
//! the lock once, runs the batch in order, takes the bytes to send, and
//! releases the lock before writing to its socket. The order in which
//! commands change the keyspace is therefore the order in which they take
//! the lock, and propagation (AOF, replicas) happens under the same lock,
//! so nothing can reorder them.

pub mod alloc_count;
pub mod blocking;
pub mod client;
pub mod conn;
pub mod cron;
pub mod evict;
pub mod histogram;
pub mod info;
pub mod info_memory;
pub mod listen;
pub mod log;
pub mod pubsub;
pub mod run;
pub mod shutdown;
pub mod sockio;
pub mod stats;

use crate::commands::CommandTable;
use crate::config::Config;
use crate::keyspace::Db;
use bytes::Bytes;
use client::{Client, ClientId, WatchTouch};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use stats::Stats;

/// Current unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Current unix time in microseconds.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// `Server::propagate_mask` bits (Redis's PROPAGATE_AOF / PROPAGATE_REPL).
pub const PROPAGATE_AOF: u8 = 1;
pub const PROPAGATE_REPL: u8 = 2;
pub const PROPAGATE_ALL: u8 = PROPAGATE_AOF | PROPAGATE_REPL;

pub type Shared = Arc<parking_lot::Mutex<Server>>;

/// CLIENT PAUSE state.
#[derive(Debug, Clone, Copy)]
pub struct Pause {
    /// Unix ms when the pause ends.
    pub until: i64,
    /// True for `WRITE` pauses (reads go on), false for `ALL`.
    pub write_only: bool,
}

pub struct Server {
    pub config: Config,
    pub commands: Arc<CommandTable>,
    /// The command path's last lookup (see `LookupCache`).
    pub cmd_cache: crate::commands::table::LookupCache,
    pub dbs: Vec<Db>,
    pub clients: HashMap<ClientId, Box<Client>>,
    pub next_client_id: ClientId,
    pub stats: Stats,
    pub pubsub: pubsub::PubSub,
    /// (db, key) -> clients watching it.
    pub watched: HashMap<(usize, Bytes), Vec<ClientId>>,
    /// Changes since the last save (rdb_changes_since_last_save).
    pub dirty: u64,
    pub start_ms: i64,
    pub run_id: String,
    pub pid: u32,
    /// Actual TCP port (when started with port 0 this is the bound one).
    pub port: u16,
    pub executable: String,
    pub monitors: Vec<ClientId>,
    pub pause: Option<Pause>,
    /// Set once a shutdown finished (the final save is done); the main
    /// task exits when it sees it.
    pub shutdown: Option<ShutdownRequest>,
    /// A shutdown asked by a signal, or waiting for the replicas.
    pub shutdown_state: shutdown::ShutdownState,
    /// Writes are held while a shutdown waits for the replicas (Redis's
    /// PAUSE_DURING_SHUTDOWN, apart from CLIENT PAUSE: CLIENT UNPAUSE
    /// does not lift it).
    pub shutdown_pause: bool,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire: bool,
    /// DEBUG PAUSE-CRON: serverCron does nothing while set.
    pub pause_cron: bool,
    /// True while a command must not update access times (OBJECT, TYPE...).
    pub no_touch: bool,
    /// CONFIG SET maxmemory asked the cron to evict (Redis's eviction time
    /// proc): it runs until memory is under the limit or nothing can go.
    pub evict_pending: bool,
    pub slowlog: stats::SlowLog,
    pub latency: stats::LatencyMonitor,
    /// Wakes the main task (shutdown).
    pub main_notify: Arc<tokio::sync::Notify>,
    /// Cursor of the active-expire cycle over databases.
    pub expire_db_cursor: usize,
    /// Last time LASTSAVE would report (no RDB yet: server start).
    pub lastsave: i64,
    /// The TCP accept loops (CONFIG SET port/bind replaces them).
    pub listeners: listen::Listeners,
    /// Nesting of EXEC; writes inside are wrapped in MULTI/EXEC.
    pub exec_depth: u32,
    /// MULTI was already propagated for the running EXEC.
    /// Commands running (EXEC's commands run inside EXEC): what they
    /// propagate waits in `also_propagate` until the top-level one ends.
    pub call_depth: u32,
    /// (db, command, targets: PROPAGATE_* bits; PUBLISH reaches the
    /// replicas only).
    pub also_propagate: Vec<(usize, Vec<Bytes>, u8)>,
    /// LRU clock cached at the start of each command (Redis also caches
    /// it rather than reading the clock on every key access).
    pub cached_lru: u32,
    /// Unix time in µs, refreshed at every batch and after every command.
    pub clock_us: i64,
    /// The client whose command is running (it is out of `clients` while
    /// it runs), and whether that command touched a key it WATCHes.
    pub cur_client: ClientId,
    /// Keys it WATCHes that the running command touched: (db, key, does
    /// the key exist after the change), applied to it when it returns.
    pub cur_touched: Vec<(usize, Bytes, bool)>,
    /// Clients flagged dirty-CAS while out of the registry.
    pub detached_dirty_cas: Vec<ClientId>,
    /// Clients blocked on keys, and keys signalled ready.
    pub blocking: blocking::BlockingState,
    /// BGSAVE child, save points, loading state (INFO persistence).
    pub snapshots: crate::persistence::snapshot::Snapshots,
    /// The append-only file.
    pub aof: crate::persistence::aof::control::Aof,
    /// Replication, master side: the replicas and the stream.
    pub repl: crate::replication::master::Master,
    /// Replication, replica side: the master this node follows.
    pub follow: crate::replication::replica::Follow,
    /// WAIT: clients blocked until replicas acknowledge their writes.
    pub waiting_acks: Vec<ClientId>,
    /// MIGRATE's cached connections to target instances.
    pub migrate_sockets: crate::commands::migrate::SocketCache,
    /// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE (and RDB loading) skip
    /// the CRC-64 check.
    pub skip_checksum_validation: bool,
    /// The Lua scripting engine and its script cache.
    pub scripting: crate::scripting::Scripting,
    /// While a script runs: its start time, the clock every command it
    /// calls sees (Redis freezes time for a script, so a key cannot
    /// expire half-way through it).
    pub script_time_ms: Option<i64>,
    /// Where propagated commands go (bit 1: AOF, bit 2: replicas); a
    /// script narrows it with redis.set_repl.
    pub propagate_mask: u8,
}

/// The id of the client scripts run their commands as (outside the range
/// of connection ids).
pub const SCRIPT_CLIENT_ID: ClientId = ClientId::MAX - 1;

#[derive(Debug, Clone, Copy, Default)]
pub struct ShutdownRequest {
    pub nosave: bool,
    pub save: bool,
}

impl Server {
    pub fn new(config: Config) -> Self {
        let families = crate::commands::all_families();
        let mut commands = CommandTable::new(&families);
        for (from, to) in &config.renamed_commands {
            // Checked when the config was loaded.
            commands.rename(from, to);
        }
        let dbs = (0..config.databases).map(|_| Db::new()).collect();
        let now = now_ms();
        info::record_startup_memory();
        Server {
            port: config.port,
            config,
            commands: Arc::new(commands),
            cmd_cache: Default::default(),
            dbs,
            clients: HashMap::new(),
            next_client_id: 1,
            stats: Stats::default(),
            pubsub: pubsub::PubSub::default(),
            watched: HashMap::new(),
            dirty: 0,
            start_ms: now,
            run_id: random_hex(40),
            pid: std::process::id(),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            monitors: Vec::new(),
            pause: None,
            shutdown: None,
            shutdown_state: Default::default(),
            shutdown_pause: false,
            active_expire: true,
            pause_cron: false,
            no_touch: false,
            evict_pending: false,
            slowlog: stats::SlowLog::default(),
            latency: stats::LatencyMonitor::default(),
            main_notify: Arc::new(tokio::sync::Notify::new()),
            expire_db_cursor: 0,
            lastsave: now / 1000,
            listeners: listen::Listeners::default(),
            exec_depth: 0,
            call_depth: 0,
            also_propagate: Vec::new(),
            cached_lru: evict::lru_clock(),
            clock_us: now_us(),
            cur_client: 0,
            cur_touched: Vec::new(),
            detached_dirty_cas: Vec::new(),
            blocking: blocking::BlockingState::default(),
            snapshots: Default::default(),
            aof: Default::default(),
            repl: crate::replication::master::Master::new(info::master_replid().to_string()),
            follow: Default::default(),
            waiting_acks: Vec::new(),
            migrate_sockets: Default::default(),
            skip_checksum_validation: false,
            scripting: crate::scripting::Scripting::new(SCRIPT_CLIENT_ID),
            script_time_ms: None,
            propagate_mask: PROPAGATE_ALL,
        }
    }

    /// The LRU/LFU value a new or overwritten key starts with.
    pub fn new_lru(&self) -> u32 {
        if self.config.maxmemory_policy.is_lfu() {
            evict::initial_lru(true)
        } else {
            self.cached_lru
        }
    }

    /// The current LRU clock (used to refresh a key on access).
    pub fn lru_value(&self) -> u32 {
        self.cached_lru
    }

    /// Deletes a key whose TTL passed: propagates DEL (UNLINK with
    /// lazyfree-lazy-expire), fires `expired`.
    pub fn delete_expired(&mut self, db: usize, key: &[u8]) {
        if self.dbs[db].remove(key).is_some() {
            self.stats.expired_keys += 1;
            self.touch_watched_key(db, key);
            pubsub::notify_keyspace_event(
                self,
                None,
                crate::commands::ctx::notify::EXPIRED,
                "expired",
                key,
                db,
            );
            // Redis's propagateDeletion: UNLINK when expired keys are
            // freed lazily, so replicas free them the same way.
            let cmd: &'static [u8] = if self.config.lazyfree_lazy_expire {
                b"UNLINK"
            } else {
                b"DEL"
            };
            self.propagate(db, &[Bytes::from_static(cmd), Bytes::copy_from_slice(key)]);
        }
    }

    /// Hands a command to the AOF and replication streams, in execution
    /// order (replication is added by its own issue).
    pub fn propagate(&mut self, db: usize, argv: &[Bytes]) {
        self.propagate_to(db, argv, PROPAGATE_ALL);
    }

    /// Propagation to the replicas only (Redis's
    /// forceCommandPropagation(c, PROPAGATE_REPL): PUBLISH, SPUBLISH).
    pub fn propagate_repl(&mut self, db: usize, argv: &[Bytes]) {
        self.propagate_to(db, argv, PROPAGATE_REPL);
    }

    fn propagate_to(&mut self, db: usize, argv: &[Bytes], targets: u8) {
        let targets = targets & self.propagate_mask;
        if targets == 0 {
            return;
        }
        // Nobody reads the stream (no AOF, no replicas): only count, and
        // spare every write command a copy of its arguments.
        if self.aof.writer.is_none() && self.repl.replicas.is_empty() {
            self.stats.propagated_cmds += 1;
            return;
        }
        if self.call_depth > 0 {
            self.also_propagate.push((db, argv.to_vec(), targets));
        } else {
            self.propagate_target(db, argv, targets);
        }
    }

    /// The end of a top-level command (Redis 7.0's
    /// propagatePendingCommands): what it propagated, including what the
    /// commands of an EXEC and lazy expiry propagated, reaches the AOF and
    /// the replicas as one unit, wrapped in MULTI/EXEC when there are
    /// several commands, unless the command touches arbitrary keys (SCAN,
    /// RANDOMKEY: their lazy-expiry DELs go out alone).
    pub fn propagate_pending(&mut self, touches_arbitrary_keys: bool) {
        if self.also_propagate.is_empty() {
            return;
        }
        let ops = std::mem::take(&mut self.also_propagate);
        let wrap = ops.len() > 1 && !touches_arbitrary_keys;
        if wrap {
            self.propagate_raw(ops[0].0, &[Bytes::from_static(b"MULTI")]);
        }
        for (db, argv, targets) in &ops {
            self.propagate_target(*db, argv, *targets);
        }
        if wrap {
            let db = ops[ops.len() - 1].0;
            self.propagate_raw(db, &[Bytes::from_static(b"EXEC")]);
        }
    }

    /// Appends to the propagation stream without MULTI wrapping: the AOF
    /// (replication attaches here too).
    pub fn propagate_raw(&mut self, db: usize, argv: &[Bytes]) {
        self.propagate_target(db, argv, PROPAGATE_ALL);
    }

    fn propagate_target(&mut self, db: usize, argv: &[Bytes], targets: u8) {
        self.stats.propagated_cmds += 1;
        if targets & PROPAGATE_AOF != 0 {
            crate::persistence::aof::control::feed(self, db, argv);
        }
        if targets & PROPAGATE_REPL != 0 && !self.follow.is_replica() {
            crate::replication::feed(self, Some(db), argv);
        }
    }

    /// WATCH invalidation (Redis's touchWatchedKey).
    pub fn touch_watched_key(&mut self, db: usize, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        let k = (db, Bytes::copy_from_slice(key));
        let Some(ids) = self.watched.get(&k).cloned() else {
            return;
        };
        let exists = self.dbs[db].contains(key);
        for id in ids {
            if id == self.cur_client {
                self.cur_touched.push((db, k.1.clone(), exists));
                continue;
            }
            let Some(c) = self.clients.get_mut(&id) else {
                // Out of the registry because its own command is still
                // running (it woke a blocked client that wrote this key).
                self.detached_dirty_cas.push(id);
                continue;
            };
            match c.watched_key_touched(db, key, exists) {
                WatchTouch::Dirty => c.flags.dirty_cas = true,
                WatchTouch::StaleDeleted => {}
                // Redis stops at a key that was stale when watched and
                // still exists (the `break` in touchWatchedKey).
                WatchTouch::StaleKept => break,
            }
        }
    }

    /// Applies the WATCH touches recorded while `c` ran its command.
    pub fn apply_cur_touches(&mut self, c: &mut Client) {
        for (db, key, exists) in std::mem::take(&mut self.cur_touched) {
            if c.watched_key_touched(db, &key, exists) == WatchTouch::Dirty {
                c.flags.dirty_cas = true;
            }
        }
    }

    /// Writes a push/reply to another client's pending output and wakes
    /// its connection task. `cur` is the calling client (whose output is
    /// out of the registry while it runs a command).
    pub fn write_to_client(
        &mut self,
        target: ClientId,
        cur: Option<(ClientId, &mut crate::protocol::Reply)>,
        f: impl FnOnce(&mut crate::protocol::Reply),
    ) {
        if let Some((cid, out)) = cur {
            if cid == target {
                f(out);
                return;
            }
        }
        let limits = self.config.client_output_buffer_limit;
        let now = now_ms();
        let Some(c) = self.clients.get_mut(&target) else {
            return;
        };
        if c.flags.close_asap {
            return;
        }
        let mut r = crate::protocol::Reply::new(c.resp);
        r.buf = std::mem::take(&mut c.out);
        f(&mut r);
        c.out = r.buf;
        c.notify.notify_one();
        if output_limit_reached(c, &limits, now) {
            c.flags.close_asap = true;
            c.out = Vec::new();
            self.stats.client_outbuf_limit_disconnections += 1;
            let line = crate::commands::client::info_line(
                self,
                self.clients.get(&target).expect("present"),
            );
            crate::log_warning!(
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                line
            );
        }
    }

    pub fn uptime_secs(&self) -> i64 {
        (now_ms() - self.start_ms) / 1000
    }
}

/// Redis's checkClientOutputBufferLimits: the hard limit closes at once,
/// the soft limit after it has been exceeded for soft_seconds.
pub fn output_limit_reached(
    c: &mut Client,
    limits: &[crate::config::OutputLimit; 3],
    now: i64,
) -> bool {
    // Classes: normal (a master's link included), replica, pub/sub.
    let class = if c.flags.replica {
        1
    } else if c.sub_count() > 0 {
        2
    } else {
        0
    };
    let l = limits[class];
    // A replica's stream also waits in what its connection task holds
    // (a replica that stops reading keeps it there).
    let used = if c.flags.replica {
        c.output_memory() as u64
    } else {
        c.out.len() as u64
    };
    if l.hard > 0 && used >= l.hard {
        return true;
    }
    if l.soft > 0 && used >= l.soft {
        match c.obuf_soft_since {
            None => {
                c.obuf_soft_since = Some(now);
                false
            }
            Some(t) => (now - t) / 1000 >= l.soft_seconds as i64,
        }
    } else {
        c.obuf_soft_since = None;
        false
    }
}

/// Random lowercase hex string (run ids).
pub fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap())
        .collect()
}

/// True while clients are paused (CLIENT PAUSE, or a shutdown waiting
/// for its replicas).
pub fn pause_active(s: &Server, now: i64) -> bool {
    effective_pause(s, now).is_some()
}

/// The pause in force, the strictest and longest of CLIENT PAUSE's and
/// the shutdown's (which holds writes until it ends: `until` i64::MAX).
pub fn effective_pause(s: &Server, now: i64) -> Option<Pause> {
    let client = s.pause.filter(|p| p.until > now);
    let shutdown = s.shutdown_pause.then_some(Pause {
        until: i64::MAX,
        write_only: true,
    });
    match (client, shutdown) {
        (Some(a), Some(b)) => Some(Pause {
            until: a.until.max(b.until),
            write_only: a.write_only && b.write_only,
        }),
        (a, b) => a.or(b),
    }
}

/// Ends a CLIENT PAUSE and wakes the clients it held (they run again, or
/// wait for another pause still in force).
pub fn end_pause(s: &mut Server) {
    s.pause = None;
    wake_paused(s);
}

/// Wakes the clients held by a pause, to re-check it.
pub fn wake_paused(s: &Server) {
    for c in s.clients.values() {
        if c.blocked
            .as_ref()
            .is_some_and(|b| b.reason == client::BlockReason::Pause)
        {
            c.notify.notify_one();
        }
    }
}
