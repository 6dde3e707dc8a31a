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

pub mod client;
pub mod conn;
pub mod cron;
pub mod evict;
pub mod histogram;
pub mod info;
pub mod info_memory;
pub mod log;
pub mod pubsub;
pub mod run;
pub mod stats;

use crate::commands::CommandTable;
use crate::config::Config;
use crate::keyspace::Db;
use bytes::Bytes;
use client::{Client, ClientId};
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
    /// Set by SHUTDOWN or a signal; the main task exits when it sees it.
    pub shutdown: Option<ShutdownRequest>,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire: bool,
    /// DEBUG PAUSE-CRON: serverCron does nothing while set.
    pub pause_cron: bool,
    /// True while a command must not update access times (OBJECT, TYPE...).
    pub no_touch: bool,
    pub slowlog: stats::SlowLog,
    pub latency: stats::LatencyMonitor,
    /// Wakes the main task (shutdown).
    pub main_notify: Arc<tokio::sync::Notify>,
    /// Cursor of the active-expire cycle over databases.
    pub expire_db_cursor: usize,
    /// Last time LASTSAVE would report (no RDB yet: server start).
    pub lastsave: i64,
    /// Nesting of EXEC; writes inside are wrapped in MULTI/EXEC.
    pub exec_depth: u32,
    /// MULTI was already propagated for the running EXEC.
    pub exec_multi_emitted: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ShutdownRequest {
    pub nosave: bool,
    pub save: bool,
}

impl Server {
    pub fn new(config: Config) -> Self {
        let families = crate::commands::all_families();
        let dbs = (0..config.databases).map(|_| Db::new()).collect();
        let now = now_ms();
        info::record_startup_memory();
        Server {
            port: config.port,
            config,
            commands: Arc::new(CommandTable::new(&families)),
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
            active_expire: true,
            pause_cron: false,
            no_touch: false,
            slowlog: stats::SlowLog::default(),
            latency: stats::LatencyMonitor::default(),
            main_notify: Arc::new(tokio::sync::Notify::new()),
            expire_db_cursor: 0,
            lastsave: now / 1000,
            exec_depth: 0,
            exec_multi_emitted: false,
        }
    }

    /// The LRU/LFU value a new or overwritten key starts with.
    pub fn new_lru(&self) -> u32 {
        evict::initial_lru(self.config.maxmemory_policy.is_lfu())
    }

    /// The current LRU clock (used to refresh a key on access).
    pub fn lru_value(&self) -> u32 {
        evict::lru_clock()
    }

    /// Deletes a key whose TTL passed: propagates DEL, fires `expired`.
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
            self.propagate(
                db,
                vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)],
            );
        }
    }

    /// Hands a command to the AOF and replication streams, in execution
    /// order. Both are added by their own issues; until then the command
    /// stream has no consumer and is only counted.
    pub fn propagate(&mut self, db: usize, argv: Vec<Bytes>) {
        if self.exec_depth > 0 && !self.exec_multi_emitted {
            self.exec_multi_emitted = true;
            self.propagate_raw(db, vec![Bytes::from_static(b"MULTI")]);
        }
        self.propagate_raw(db, argv);
    }

    /// Appends to the propagation stream without MULTI wrapping.
    pub fn propagate_raw(&mut self, _db: usize, _argv: Vec<Bytes>) {
        self.stats.propagated_cmds += 1;
    }

    /// WATCH invalidation (Redis's touchWatchedKey).
    pub fn touch_watched_key(&mut self, db: usize, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(ids) = self.watched.get(&(db, Bytes::copy_from_slice(key))) {
            for id in ids.clone() {
                if let Some(c) = self.clients.get_mut(&id) {
                    c.flags.dirty_cas = true;
                }
            }
        }
    }

    /// Invalidates WATCHes on every key of a database that has keys
    /// (FLUSHDB, FLUSHALL, SWAPDB).
    pub fn touch_all_watched_in_db(&mut self, db: usize, only_existing: bool) {
        let ids: Vec<ClientId> = self
            .watched
            .iter()
            .filter(|((d, k), _)| *d == db && (!only_existing || self.dbs[db].contains(k)))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        for id in ids {
            if let Some(c) = self.clients.get_mut(&id) {
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
        if let Some(c) = self.clients.get_mut(&target) {
            let mut r = crate::protocol::Reply::new(c.resp);
            r.buf = std::mem::take(&mut c.out);
            f(&mut r);
            c.out = r.buf;
            c.notify.notify_one();
        }
    }

    pub fn uptime_secs(&self) -> i64 {
        (now_ms() - self.start_ms) / 1000
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

/// True while a CLIENT PAUSE is in force.
pub fn pause_active(s: &Server, now: i64) -> bool {
    s.pause.is_some_and(|p| p.until > now)
}

/// Ends a CLIENT PAUSE and wakes the clients it held.
pub fn end_pause(s: &mut Server) {
    s.pause = None;
    for c in s.clients.values() {
        if c.blocked
            .as_ref()
            .is_some_and(|b| b.reason == client::BlockReason::Pause)
        {
            c.notify.notify_one();
        }
    }
}
