//! Per-connection state that commands read and change: selected database,
//! protocol, authentication, MULTI queue, subscriptions, pending output.
//!
//! The state lives in the server's client registry (under the engine lock)
//! so that other clients can see it (CLIENT LIST, CLIENT KILL) and write to
//! it (pub/sub messages, unblocking); the connection task only moves bytes.

use bytes::Bytes;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

pub type ClientId = u64;

/// Client flags shown by CLIENT LIST and used by the dispatcher.
#[derive(Debug, Default, Clone)]
pub struct ClientFlags {
    pub multi: bool,
    /// A watched key was touched: EXEC will fail.
    pub dirty_cas: bool,
    /// A command failed while queuing: EXEC will answer EXECABORT.
    pub dirty_exec: bool,
    pub close_after_reply: bool,
    /// Killed: the connection task closes without writing more.
    pub close_asap: bool,
    pub monitor: bool,
    pub no_evict: bool,
    pub reply_off: bool,
    pub reply_skip_next: bool,
    pub reply_skip: bool,
    pub unix_socket: bool,
    /// The AOF loader's client: its commands skip the checks that guard
    /// live clients (LOADING, MISCONF, OOM, pauses).
    pub aof_loader: bool,
    /// Attached as a replica (SYNC/PSYNC): gets the replication stream,
    /// never replies.
    pub replica: bool,
    /// The master this node replicates from: its stream is obeyed (no
    /// READONLY/OOM/MISCONF checks) and never answered.
    pub master: bool,
    /// The client scripts run their commands as (Redis's CLIENT_SCRIPT):
    /// it never blocks, MONITOR shows it as "lua".
    pub script: bool,
}

/// A query-buffer resize the cron asks a connection to make.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QbufResize {
    #[default]
    None,
    /// Idle for more than 2 seconds: free the buffer.
    Release,
    /// Much bigger than recent use: back to the base size.
    Shrink,
}

/// How a change to a watched key affects the watching client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchTouch {
    /// EXEC will fail.
    Dirty,
    /// The key was stale when watched and is now deleted: no change.
    StaleDeleted,
    /// The key was stale when watched and still exists.
    StaleKept,
}

/// Why a client is blocked, and what it waits for.
#[derive(Debug)]
pub struct Blocked {
    /// The command to run again when the client is released.
    pub args: Vec<Bytes>,
    /// Unix ms when the block times out (None: never).
    pub deadline: Option<i64>,
    pub reason: BlockReason,
    /// Keys waited on (BlockReason::Keys), in the client's database.
    pub keys: Vec<Bytes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockReason {
    /// Held by CLIENT PAUSE; re-run when the pause ends.
    Pause,
    /// Waiting for keys to be ready (blocking list/zset/stream commands).
    Keys,
    /// WAIT: for `replicas` replicas to acknowledge `offset`.
    Wait { offset: u64, replicas: i64 },
    /// SHUTDOWN waiting for the replicas to catch up: answered only if
    /// the shutdown fails or is aborted.
    Shutdown,
}

pub struct Client {
    pub id: ClientId,
    pub addr: String,
    pub laddr: String,
    pub fd: i64,
    pub name: Option<Bytes>,
    pub db: usize,
    pub resp: u8,
    pub authenticated: bool,
    pub user: String,
    pub flags: ClientFlags,
    /// Unix ms of creation and of the last command.
    pub ctime: i64,
    pub last_interaction: i64,
    /// Commands queued by MULTI.
    pub multi_queue: Vec<Vec<Bytes>>,
    /// (db, key) pairs this client WATCHes.
    /// (db, key, was it already expired when watched).
    pub watched: Vec<(usize, Bytes, bool)>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    pub shard_channels: HashSet<Bytes>,
    /// Output produced for this client while the engine lock is held
    /// (replies, pushes from other clients); the connection task drains it.
    pub out: Vec<u8>,
    /// Wakes the connection task when `out` was written from elsewhere,
    /// the client was unblocked, or killed.
    pub notify: Arc<Notify>,
    /// Bytes allocated for the output the connection task holds: what it
    /// is writing to the socket (a peer that stops reading keeps it there)
    /// and the buffer it keeps between writes. Stored by the task without
    /// the engine lock; read for memory accounting.
    pub out_held: Arc<AtomicUsize>,
    pub blocked: Option<Blocked>,
    /// Full name of the last command ("client|list").
    pub last_cmd: String,
    /// Query buffer figures, refreshed by the connection task.
    pub qbuf: usize,
    pub qbuf_peak: usize,
    /// Allocated size of the connection's read buffer (qbuf + qbuf-free).
    pub qbuf_cap: usize,
    /// Set by the cron: resize the read buffer (done by the connection).
    pub qbuf_resize: QbufResize,
    pub argv_mem: usize,
    pub tot_net_in: u64,
    pub tot_net_out: u64,
    pub tot_cmds: u64,
    /// When the output buffer first exceeded the soft limit (ms), for
    /// client-output-buffer-limit's soft seconds.
    pub obuf_soft_since: Option<i64>,
    /// A replica's full-sync RDB, opened when its fork ended, for the
    /// connection task to send (see crate::replication).
    pub repl_send: Option<std::fs::File>,
    /// REPLCONF listening-port and ip-address (INFO replication).
    pub repl_port: u16,
    pub repl_ip: Option<String>,
    /// The replication offset right after this client's last write that
    /// propagated (WAIT waits for replicas to acknowledge it).
    pub woff: u64,
}

impl Client {
    /// Memory held by the output not yet written to the socket: the
    /// pending replies and what the connection task holds.
    pub fn output_memory(&self) -> usize {
        alloc_size(self.out.capacity()) + alloc_size(self.out_held.load(Ordering::Relaxed))
    }

    pub fn new(
        id: ClientId,
        addr: String,
        laddr: String,
        fd: i64,
        now_ms: i64,
        authenticated: bool,
    ) -> Self {
        Client {
            id,
            addr,
            laddr,
            fd,
            name: None,
            db: 0,
            resp: 2,
            authenticated,
            user: "default".into(),
            flags: ClientFlags::default(),
            ctime: now_ms,
            last_interaction: now_ms,
            multi_queue: Vec::new(),
            watched: Vec::new(),
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            out: Vec::new(),
            notify: Arc::new(Notify::new()),
            out_held: Arc::new(AtomicUsize::new(0)),
            blocked: None,
            last_cmd: "NULL".into(),
            qbuf: 0,
            qbuf_peak: 0,
            qbuf_cap: 0,
            qbuf_resize: QbufResize::None,
            argv_mem: 0,
            tot_net_in: 0,
            tot_net_out: 0,
            tot_cmds: 0,
            obuf_soft_since: None,
            repl_send: None,
            repl_port: 0,
            repl_ip: None,
            woff: 0,
        }
    }

    /// Redis's touchWatchedKey rule for this client's WATCH on `key`: a
    /// key that was already expired when watched and is now gone is no
    /// logical change (its expired mark is cleared).
    pub fn watched_key_touched(&mut self, db: usize, key: &[u8], exists: bool) -> WatchTouch {
        match self
            .watched
            .iter_mut()
            .find(|(d, k, _)| *d == db && k == key)
        {
            Some(w) if w.2 => {
                if exists {
                    WatchTouch::StaleKept
                } else {
                    w.2 = false;
                    WatchTouch::StaleDeleted
                }
            }
            _ => WatchTouch::Dirty,
        }
    }

    /// Number of pub/sub subscriptions (channels + patterns + shard channels).
    pub fn sub_count(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard_channels.len()
    }

    /// In the RESP2 pub/sub context only subscription commands are allowed.
    pub fn in_pubsub_context(&self) -> bool {
        self.resp == 2 && self.sub_count() > 0
    }
}

pub use crate::util::alloc::alloc_size;
