//! Whole-database commands: SWAPDB MOVE FLUSHDB FLUSHALL DBSIZE.
//!
//! Emptying or swapping a database must fail the transactions of clients
//! that WATCH keys there, exactly as Redis's touchAllWatchedKeysInDb
//! decides: a watched key counts as changed if it exists on either side,
//! except that a key which was already expired when watched stays
//! "unchanged" while it is gone or still expired. FLUSHDB and FLUSHALL are
//! propagated even when there was nothing to remove, and count one change
//! per removed key.

use super::keys::{add_entry, db_arg, int_arg, SAME_OBJECT};
use super::table::{flags::*, CommandDef, KeyPos};
use super::{ctx::notify, err, Ctx};
use crate::keyspace::{Db, Entry, NO_EXPIRE};
use crate::server::client::Client;
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("swapdb", 3, WRITE | FAST, KeyPos::None, swapdb).doc(
        "server",
        "4.0.0",
        "Swaps two Redis databases",
        "O(N) where N is the count of clients watching or blocking on keys from both databases.",
    ),
    CommandDef::new("move", 3, WRITE | FAST, super::table::K1, move_cmd).doc(
        "generic",
        "1.0.0",
        "Move a key to another database",
        "O(1)",
    ),
    CommandDef::new("flushdb", -1, WRITE, KeyPos::None, flushdb).doc(
        "server",
        "1.0.0",
        "Remove all keys from the current database",
        "O(N) where N is the number of keys in the selected database",
    ),
    CommandDef::new("flushall", -1, WRITE, KeyPos::None, flushall).doc(
        "server",
        "1.0.0",
        "Remove all keys from all databases",
        "O(N) where N is the total number of keys in all databases",
    ),
    CommandDef::new("dbsize", 1, READONLY | FAST, KeyPos::None, dbsize).doc(
        "server",
        "1.0.0",
        "Return the number of keys in the selected database",
        "O(1)",
    ),
];

/// Databases with more keys than this are freed on a background thread
/// by FLUSHDB/FLUSHALL ASYNC; smaller ones cost less to free than a thread.
const ASYNC_FREE_MIN_KEYS: usize = 1024;

fn key_expired_in(db: &Db, key: &[u8], now: i64) -> bool {
    db.get(key)
        .is_some_and(|e| e.expire != NO_EXPIRE && e.expire <= now)
}

/// Redis's touchAllWatchedKeysInDb: `emptied` is about to be flushed, or
/// replaced by the current content of `replaced_with` (SWAPDB).
fn touch_all_watched_in_db(ctx: &mut Ctx, emptied: usize, replaced_with: Option<usize>) {
    let now = ctx.now_ms;
    let keys: Vec<Bytes> = ctx
        .srv
        .watched
        .keys()
        .filter(|(d, _)| *d == emptied)
        .map(|(_, k)| k.clone())
        .collect();
    for key in keys {
        let in_emptied = ctx.srv.dbs[emptied].contains(&key);
        let (in_replacement, replacement_expired) = match replaced_with {
            Some(r) => (
                ctx.srv.dbs[r].contains(&key),
                key_expired_in(&ctx.srv.dbs[r], &key, now),
            ),
            None => (false, false),
        };
        if !in_emptied && !in_replacement {
            continue;
        }
        let ids = ctx
            .srv
            .watched
            .get(&(emptied, key.clone()))
            .cloned()
            .unwrap_or_default();
        for id in ids {
            // The calling client is outside the registry while it runs.
            let client: &mut Client = if id == ctx.client.id {
                &mut *ctx.client
            } else {
                match ctx.srv.clients.get_mut(&id) {
                    Some(c) => c,
                    None => continue,
                }
            };
            let Some(wk) = client
                .watched
                .iter_mut()
                .find(|(d, k, _)| *d == emptied && *k == key)
            else {
                continue;
            };
            if wk.2 {
                if !in_replacement {
                    // An expired key deleted: no logical change.
                    wk.2 = false;
                    continue;
                } else if replacement_expired {
                    continue;
                }
            } else if !in_emptied && replacement_expired {
                // A missing key replaced by an expired one.
                wk.2 = true;
                continue;
            }
            client.flags.dirty_cas = true;
        }
    }
}

/// FLUSHDB/FLUSHALL [ASYNC|SYNC]: Some(async) or the syntax error.
fn flush_mode(ctx: &mut Ctx, args: &[Bytes]) -> Option<bool> {
    match args.len() {
        1 => Some(ctx.srv.config.lazyfree_lazy_user_flush),
        2 if args[1].eq_ignore_ascii_case(b"sync") => Some(false),
        2 if args[1].eq_ignore_ascii_case(b"async") => Some(true),
        _ => {
            ctx.out.error(err::SYNTAX);
            None
        }
    }
}

/// Replaces database `i` by an empty one; returns the number of keys it
/// held. With `lazy`, a large database is freed on another thread.
fn empty_db(ctx: &mut Ctx, i: usize, lazy: bool) -> usize {
    crate::server::blocking::signal_deleted_streams(ctx.srv, i, None);
    let old = std::mem::take(&mut ctx.srv.dbs[i]);
    let n = old.len();
    if lazy && n > ASYNC_FREE_MIN_KEYS {
        std::thread::spawn(move || drop(old));
    }
    n
}

fn flushdb(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(lazy) = flush_mode(ctx, args) else {
        return;
    };
    let db = ctx.db_index();
    // Watchers are told while the keys are still there.
    touch_all_watched_in_db(ctx, db, None);
    ctx.dirty += empty_db(ctx, db, lazy) as u64;
    ctx.propagate(args.to_vec());
    ctx.out.ok();
}

fn flushall(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(lazy) = flush_mode(ctx, args) else {
        return;
    };
    for db in 0..ctx.srv.dbs.len() {
        touch_all_watched_in_db(ctx, db, None);
    }
    for db in 0..ctx.srv.dbs.len() {
        ctx.dirty += empty_db(ctx, db, lazy) as u64;
    }
    // Redis's flushAllDataAndResetRDB: a running BGSAVE would write the
    // old dataset, so it is killed; with save points the empty dataset is
    // saved at once (which resets the change counter). Propagation is
    // forced either way.
    crate::persistence::snapshot::kill_child(ctx.srv, false);
    if ctx.srv.config.has_save_points() {
        ctx.srv.dirty += std::mem::take(&mut ctx.dirty);
        let _ = crate::persistence::snapshot::save(ctx.srv);
    }
    ctx.propagate(args.to_vec());
    ctx.out.ok();
}

fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
}

fn swapdb(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(id1) = int_arg(ctx, &args[1], Some("ERR invalid first DB index")) else {
        return;
    };
    let Some(id2) = int_arg(ctx, &args[2], Some("ERR invalid second DB index")) else {
        return;
    };
    let n = ctx.srv.dbs.len() as i64;
    if !(0..n).contains(&(id1 as i64)) || !(0..n).contains(&(id2 as i64)) {
        ctx.out.error(err::DB_INDEX);
        return;
    }
    let (a, b) = (id1 as usize, id2 as usize);
    if a != b {
        // Both sides are judged on the content before the swap.
        touch_all_watched_in_db(ctx, a, Some(b));
        touch_all_watched_in_db(ctx, b, Some(a));
        crate::server::blocking::signal_deleted_streams(ctx.srv, a, Some(b));
        crate::server::blocking::signal_deleted_streams(ctx.srv, b, Some(a));
        ctx.srv.dbs.swap(a, b);
        // Clients blocked on keys that now exist in either database wake.
        crate::server::blocking::signal_existing_keys(ctx.srv, a);
        crate::server::blocking::signal_existing_keys(ctx.srv, b);
    }
    ctx.dirty += 1;
    ctx.out.ok();
}

fn move_cmd(ctx: &mut Ctx, args: &[Bytes]) {
    let src = ctx.db_index();
    let Some(dst) = db_arg(ctx, &args[2]) else {
        return;
    };
    if src == dst {
        ctx.out.error(SAME_OBJECT);
        return;
    }
    let key = &args[1];
    if ctx.lookup_write(key).is_none() {
        ctx.out.int(0);
        return;
    }
    // lookupKeyWrite on the target database.
    if !ctx.expire_if_needed(dst, key) && ctx.srv.dbs[dst].contains(key) {
        ctx.out.int(0);
        return;
    }
    // An expired key kept during a client pause gives way.
    ctx.srv.dbs[dst].remove(key);
    let moved = ctx.srv.dbs[src].remove(key).expect("looked up above");
    let entry: Entry = *moved;
    add_entry(ctx, dst, entry, key);
    ctx.signal_modified_key(src, key);
    ctx.signal_modified_key(dst, key);
    ctx.notify_db(notify::GENERIC, "move_from", key, src);
    ctx.notify_db(notify::GENERIC, "move_to", key, dst);
    ctx.dirty += 1;
    ctx.out.int(1);
}
