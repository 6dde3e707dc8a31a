//! Transactions: MULTI EXEC DISCARD WATCH UNWATCH.
//!
//! Queued commands run back to back under the engine lock, so nothing
//! interleaves; they are propagated wrapped in MULTI/EXEC. WATCH marks
//! clients dirty when a watched key is touched (Server::touch_watched_key)
//! or has expired since it was watched.

use super::dispatch::call;
use super::table::{flags::*, CommandDef, KeyPos, Resolved};
use super::Ctx;
use crate::server::client::Client;
use crate::server::Server;
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        KeyPos::None,
        multi,
    )
    .doc(
        "transactions",
        "1.2.0",
        "Mark the start of a transaction block",
        "O(1)",
    ),
    CommandDef::new(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG,
        KeyPos::None,
        exec,
    )
    .doc(
        "transactions",
        "1.2.0",
        "Execute all commands issued after MULTI",
        "Depends on commands in the transaction",
    ),
    CommandDef::new(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        KeyPos::None,
        discard,
    )
    .doc(
        "transactions",
        "2.0.0",
        "Discard all commands issued after MULTI",
        "O(N), when N is the number of queued commands",
    ),
    CommandDef::new(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        KeyPos::Range {
            first: 1,
            last: -1,
            step: 1,
        },
        watch,
    )
    .doc(
        "transactions",
        "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
        "O(1) for every key.",
    ),
    CommandDef::new(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        KeyPos::None,
        unwatch,
    )
    .doc(
        "transactions",
        "2.2.0",
        "Forget about all watched keys",
        "O(1)",
    ),
];

fn multi(ctx: &mut Ctx, _args: &[Bytes]) {
    if ctx.client.flags.multi {
        ctx.out.error("ERR MULTI calls can not be nested");
        return;
    }
    ctx.client.flags.multi = true;
    ctx.out.ok();
}

/// Leaves MULTI state, dropping the queue.
pub fn discard_transaction(srv: &mut Server, c: &mut Client) {
    c.multi_queue.clear();
    c.flags.multi = false;
    c.flags.dirty_exec = false;
    unwatch_all_of(srv, c);
    c.flags.dirty_cas = false;
}

fn discard(ctx: &mut Ctx, _args: &[Bytes]) {
    if !ctx.client.flags.multi {
        ctx.out.error("ERR DISCARD without MULTI");
        return;
    }
    discard_transaction(ctx.srv, ctx.client);
    ctx.out.ok();
}

/// True if a key watched while it existed has expired since.
fn watched_key_expired(srv: &Server, c: &Client, now: i64) -> bool {
    c.watched.iter().any(|(db, key, expired_at_watch)| {
        !expired_at_watch
            && srv.dbs[*db]
                .get(key)
                .is_some_and(|e| e.expire != crate::keyspace::NO_EXPIRE && e.expire <= now)
    })
}

fn exec(ctx: &mut Ctx, _args: &[Bytes]) {
    if !ctx.client.flags.multi {
        ctx.out.error("ERR EXEC without MULTI");
        return;
    }
    if ctx.client.flags.dirty_exec {
        ctx.out
            .error("EXECABORT Transaction discarded because of previous errors.");
        discard_transaction(ctx.srv, ctx.client);
        return;
    }
    if ctx.client.flags.dirty_cas || watched_key_expired(ctx.srv, ctx.client, ctx.now_ms) {
        ctx.out.null_array();
        discard_transaction(ctx.srv, ctx.client);
        return;
    }
    let queue = std::mem::take(&mut ctx.client.multi_queue);
    ctx.client.flags.multi = false;
    unwatch_all_of(ctx.srv, ctx.client);
    ctx.out.array_len(queue.len());
    ctx.srv.exec_depth += 1;
    let table = ctx.srv.commands.clone();
    for args in queue {
        let Resolved::Found(cmd, sub) = table.resolve(&args) else {
            continue;
        };
        let now_us = crate::server::now_us();
        call(ctx.srv, ctx.client, ctx.out, cmd, sub, &args, now_us);
    }
    ctx.srv.exec_depth -= 1;
    ctx.client.flags.dirty_cas = false;
}

fn watch(ctx: &mut Ctx, args: &[Bytes]) {
    if ctx.client.flags.multi {
        ctx.out.error("ERR WATCH inside MULTI is not allowed");
        return;
    }
    let db = ctx.client.db;
    for key in &args[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|(d, k, _)| *d == db && k == key)
        {
            continue;
        }
        let expired = ctx.srv.dbs[db]
            .get(key)
            .is_some_and(|e| e.expire != crate::keyspace::NO_EXPIRE && e.expire <= ctx.now_ms);
        ctx.client.watched.push((db, key.clone(), expired));
        ctx.srv
            .watched
            .entry((db, key.clone()))
            .or_default()
            .push(ctx.client.id);
    }
    ctx.out.ok();
}

fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) {
    unwatch_all_of(ctx.srv, ctx.client);
    ctx.client.flags.dirty_cas = false;
    ctx.out.ok();
}

/// Drops every WATCH of a client (still registered or not).
pub fn unwatch_all_of(srv: &mut Server, c: &mut Client) {
    for (db, key, _) in c.watched.drain(..) {
        if let Some(v) = srv.watched.get_mut(&(db, key.clone())) {
            v.retain(|&id| id != c.id);
            if v.is_empty() {
                srv.watched.remove(&(db, key));
            }
        }
    }
}

/// Cleanup for a client that is gone.
pub fn unwatch_all(srv: &mut Server, c: &Client) {
    for (db, key, _) in &c.watched {
        if let Some(v) = srv.watched.get_mut(&(*db, key.clone())) {
            v.retain(|&id| id != c.id);
            if v.is_empty() {
                srv.watched.remove(&(*db, key.clone()));
            }
        }
    }
}
