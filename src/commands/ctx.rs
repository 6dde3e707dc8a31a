//! The context a command handler runs in: the server state, the calling
//! client, its reply buffer, the command's time snapshot, and what the
//! command changed (dirty count, propagation, watched keys, notifications).
//!
//! All keyspace access that must behave like Redis (lazy expiry with DEL
//! propagation, hit/miss stats, LRU/LFU updates, WATCH invalidation,
//! keyspace notifications) goes through these helpers so that handlers
//! cannot forget one of them.

use super::table::CommandDef;
use crate::keyspace::db::KeyLoc;
use crate::keyspace::{Db, Entry, Value, NO_EXPIRE};
use crate::protocol::Reply;
use crate::server::client::Client;
use crate::server::Server;
use bytes::Bytes;

/// Keyspace notification classes (notify-keyspace-events letters).
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n
    /// "A": every class except m and n.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// What a blocking handler asks for when there is nothing to serve.
#[derive(Debug)]
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// Absolute unix ms, or None to wait forever.
    pub deadline: Option<i64>,
    /// The command to re-run when a key is ready, if not the original argv
    /// (XREAD BLOCK resolves `$` to an ID when it blocks).
    pub rerun_args: Option<Vec<Bytes>>,
    /// WAIT: block until `.1` replicas acknowledge offset `.0` (no keys).
    pub wait_acks: Option<(u64, i64)>,
    /// SHUTDOWN: block until the shutdown waiting for replicas fails or
    /// is aborted (the process exits otherwise).
    pub shutdown: bool,
}

pub struct Ctx<'a> {
    pub srv: &'a mut Server,
    pub client: &'a mut Client,
    pub out: &'a mut Reply,
    /// The (sub)command being run.
    pub cmd: &'static CommandDef,
    /// Time snapshot for the whole command (Redis's cmd_time_snapshot), so
    /// a key cannot expire half-way through a command.
    pub now_ms: i64,
    /// Number of changes made (Redis's server.dirty increment).
    pub dirty: u64,
    /// If set, propagate these commands instead of the original argv.
    pub propagate_as: Option<Vec<Vec<Bytes>>>,
    /// Set by a handler that must wait for keys (see `block_on_keys`).
    pub block: Option<BlockRequest>,
}

impl<'a> Ctx<'a> {
    pub fn db_index(&self) -> usize {
        self.client.db
    }

    pub fn db(&mut self) -> &mut Db {
        let i = self.client.db;
        &mut self.srv.dbs[i]
    }

    /// Deletes `key` from database `db` if its TTL has passed, propagating
    /// a DEL and firing the `expired` notification. True if it expired.
    /// While clients are paused the key is reported expired but kept, so
    /// the dataset stays still (the end of the pause or a failover settles
    /// it), as Redis 7.0 does.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        let expire = match self.srv.dbs[db].get(key) {
            Some(e) if e.expire != NO_EXPIRE => e.expire,
            _ => return false,
        };
        // Nothing expires while the AOF is replayed: its own DELs do it.
        if expire > self.now_ms {
            return false;
        }
        let (expired, delete) = self.expiry_policy();
        if delete {
            self.srv.delete_expired(db, key);
        }
        expired
    }

    /// What happens to a key whose TTL passed: (is it expired, is it
    /// deleted now). Nothing expires while the AOF is replayed (its own
    /// DELs do it) nor for a replica's master client (the master sends
    /// the DEL); on a replica a read only hides it, a write of its own
    /// clients deletes it (Redis's expireIfNeeded with
    /// force_delete_expired for lookupKeyWrite).
    fn expiry_policy(&self) -> (bool, bool) {
        if self.srv.aof.loading || self.client.flags.master {
            return (false, false);
        }
        if self.expiry_paused()
            || (self.srv.follow.is_replica() && !self.cmd.has(super::table::flags::WRITE))
        {
            return (true, false);
        }
        (true, true)
    }

    /// Clients are paused: expired keys are hidden, not deleted.
    fn expiry_paused(&self) -> bool {
        crate::server::pause_active(self.srv, self.now_ms)
    }

    /// Where `key` lives in database `db`, if it may exist and has not
    /// expired; a stale entry is deleted (lazy expiry, DEL propagated).
    /// Without keys with a TTL nothing can be stale, so the table is not
    /// probed here: the caller's own probe finds the key or not.
    fn live_loc(&mut self, db: usize, key: &[u8]) -> Option<KeyLoc> {
        let d = &self.srv.dbs[db];
        if d.is_empty() {
            return None;
        }
        let loc = d.locate(key);
        if d.expires_len() == 0 {
            return Some(loc);
        }
        let e = d.get_at(loc, key)?;
        if e.expire != NO_EXPIRE && e.expire <= self.now_ms {
            let (expired, delete) = self.expiry_policy();
            if delete {
                self.srv.delete_expired(db, key);
            }
            if expired {
                return None;
            }
        }
        Some(loc)
    }

    /// Looks a key up for reading: lazy expiry, hit/miss statistics and
    /// access-time update, as Redis's lookupKeyRead. A miss fires the
    /// `keymiss` event.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.client.db;
        let found = match self.live_loc(db, key) {
            Some(loc) if self.srv.dbs[db].expires_len() == 0 => {
                // live_loc did not probe: find out whether the key exists.
                self.srv.dbs[db].get_at(loc, key).is_some().then_some(loc)
            }
            found => found,
        };
        let Some(loc) = found else {
            self.srv.stats.keyspace_misses += 1;
            self.notify_db(notify::KEY_MISS, "keymiss", key, db);
            return None;
        };
        self.srv.stats.keyspace_hits += 1;
        let touch = !self.srv.no_touch;
        self.entry_at(db, loc, key, touch)
    }

    /// Looks a key up for writing (no hit/miss stats).
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.client.db;
        let loc = self.live_loc(db, key)?;
        self.entry_at(db, loc, key, true)
    }

    fn entry_at(&mut self, db: usize, loc: KeyLoc, key: &[u8], touch: bool) -> Option<&mut Entry> {
        let clock = self.srv.lru_value();
        let cfg = &self.srv.config;
        let e = self.srv.dbs[db].get_mut_at(loc, key)?;
        if touch {
            crate::server::evict::touch(e, clock, cfg.maxmemory_policy.is_lfu(), cfg);
        }
        Some(e)
    }

    /// True if `key` exists (after lazy expiry), without touching stats.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        let db = self.client.db;
        !self.expire_if_needed(db, key) && self.srv.dbs[db].contains(key)
    }

    /// Stores a value (SET semantics: TTL dropped unless `keep_ttl`) and
    /// invalidates WATCHes on the key.
    pub fn set_key(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        let db = self.client.db;
        // One hash/slot computation for the expiry check and the store.
        let loc = self.srv.dbs[db].locate(key);
        if self.srv.dbs[db].expires_len() != 0 {
            let stale = self.srv.dbs[db]
                .get_at(loc, key)
                .is_some_and(|e| e.expire != NO_EXPIRE && e.expire <= self.now_ms);
            if stale && (!self.srv.follow.is_replica() || self.expiry_policy().1) {
                self.srv.delete_expired(db, key);
            }
        }
        let lru = self.srv.new_lru();
        match self.srv.dbs[db].set_at(loc, key, value, keep_ttl, lru) {
            // Redis's dbAdd fires "new" for every key it creates and
            // signals it to clients blocked on it.
            None => {
                self.notify_db(notify::NEW, "new", key, db);
                self.srv.blocking.signal(db, key);
            }
            // Redis's dbOverwrite: replacing a stream wakes the clients
            // blocked on it (XREADGROUP ones then fail: their group is
            // gone).
            Some(Value::Stream(_)) => self.srv.blocking.signal(db, key),
            Some(_) => {}
        }
        self.srv.touch_watched_key(db, key);
    }

    /// Deletes a key; true if it existed. Invalidates WATCHes.
    pub fn delete_key(&mut self, key: &[u8]) -> bool {
        let db = self.client.db;
        self.expire_if_needed(db, key);
        if let Some(e) = self.srv.dbs[db].remove(key) {
            // Redis's dbGenericDelete signals a deleted stream, so clients
            // blocked in XREADGROUP on it are released with an error.
            if matches!(e.value, Value::Stream(_)) {
                self.srv.blocking.signal(db, key);
            }
            self.srv.touch_watched_key(db, key);
            true
        } else {
            false
        }
    }

    /// Marks the key as modified (WATCH) after an in-place change.
    pub fn key_modified(&mut self, key: &[u8]) {
        let db = self.client.db;
        self.srv.touch_watched_key(db, key);
    }

    /// Redis's signalModifiedKey for a key of any database.
    pub fn signal_modified_key(&mut self, db: usize, key: &[u8]) {
        self.srv.touch_watched_key(db, key);
    }

    /// Fires a keyspace notification for `key` in the current database.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.client.db;
        self.notify_db(class, event, key, db);
    }

    pub fn notify_db(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        let id = self.client.id;
        crate::server::pubsub::notify_keyspace_event(
            self.srv,
            Some((id, &mut *self.out)),
            class,
            event,
            key,
            db,
        );
    }

    /// Replies WRONGTYPE and returns true if `v` is not of type `t`.
    pub fn wrong_type(&mut self, ok: bool) -> bool {
        if !ok {
            self.out.error(super::err::WRONGTYPE);
        }
        !ok
    }

    /// False inside MULTI/EXEC, where a blocking command must answer at
    /// once as if its timeout had expired.
    pub fn may_block(&self) -> bool {
        self.srv.exec_depth == 0 && !self.client.flags.script
    }

    /// Blocks the client until one of `keys` is signalled ready or the
    /// deadline passes; the handler must not write a reply. The command is
    /// re-run from the start when a key is ready.
    pub fn block_on_keys(&mut self, keys: Vec<Bytes>, deadline: Option<i64>) {
        self.block = Some(BlockRequest {
            keys,
            deadline,
            rerun_args: None,
            wait_acks: None,
            shutdown: false,
        });
    }

    /// [`Ctx::block_on_keys`], re-running `args` instead of the original
    /// command when a key is ready.
    pub fn block_on_keys_rerun(
        &mut self,
        keys: Vec<Bytes>,
        deadline: Option<i64>,
        args: Vec<Bytes>,
    ) {
        self.block = Some(BlockRequest {
            keys,
            deadline,
            rerun_args: Some(args),
            wait_acks: None,
            shutdown: false,
        });
    }

    /// WAIT: blocks until `replicas` replicas acknowledged `offset`, or
    /// the deadline; the handler writes no reply.
    pub fn block_for_acks(&mut self, offset: u64, replicas: i64, deadline: Option<i64>) {
        self.block = Some(BlockRequest {
            keys: Vec::new(),
            deadline,
            rerun_args: None,
            wait_acks: Some((offset, replicas)),
            shutdown: false,
        });
    }

    /// SHUTDOWN waits for the replicas: the client blocks until the
    /// shutdown fails or is aborted; the handler writes no reply.
    pub fn block_for_shutdown(&mut self) {
        self.block = Some(BlockRequest {
            keys: Vec::new(),
            deadline: None,
            rerun_args: None,
            wait_acks: None,
            shutdown: true,
        });
    }

    /// Wakes clients blocked on `key` (a key was created or grew).
    pub fn signal_key_ready(&mut self, key: &[u8]) {
        let db = self.client.db;
        self.srv.blocking.signal(db, key);
    }

    /// Looks `key` up for reading as the type `pick` selects: `Ok(None)`
    /// if it does not exist, `Err` after replying WRONGTYPE if it holds
    /// another type. The reply buffer comes back too, so handlers can
    /// answer while borrowing the value.
    // Err(()) means "the error reply is already written": nothing to carry.
    #[allow(clippy::result_unit_err)]
    pub fn read_as<'c, T: ?Sized>(
        &'c mut self,
        key: &[u8],
        pick: fn(&Value) -> Option<&T>,
    ) -> Result<Option<(&'c T, &'c mut Reply)>, ()> {
        match self.lookup_read(key) {
            None => return Ok(None),
            Some(e) if pick(&e.value).is_none() => {
                self.out.error(super::err::WRONGTYPE);
                return Err(());
            }
            Some(_) => {}
        }
        let db = self.client.db;
        let Ctx { srv, out, .. } = self;
        let v = srv.dbs[db]
            .get(key)
            .and_then(|e| pick(&e.value))
            .ok_or(())?;
        Ok(Some((v, &mut **out)))
    }

    /// Looks `key` up for writing as the type `pick` selects (see
    /// [`Ctx::read_as`]).
    #[allow(clippy::result_unit_err)]
    pub fn write_as<'c, T: ?Sized>(
        &'c mut self,
        key: &[u8],
        pick: fn(&mut Value) -> Option<&mut T>,
    ) -> Result<Option<&'c mut T>, ()> {
        let found = match self.lookup_write(key) {
            None => return Ok(None),
            Some(e) => pick(&mut e.value).is_some(),
        };
        if !found {
            self.out.error(super::err::WRONGTYPE);
            return Err(());
        }
        let db = self.client.db;
        let v = self.srv.dbs[db]
            .get_mut(key)
            .and_then(|e| pick(&mut e.value))
            .ok_or(())?;
        Ok(Some(v))
    }

    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        self.propagate_as.get_or_insert_with(Vec::new).push(argv);
    }
}
