//! SYNC, PSYNC and REPLCONF: the commands a replica sends to attach to
//! this node; REPLICAOF/SLAVEOF, ROLE and WAIT (thin layer over
//! `crate::replication`).

use super::table::{flags::*, CommandDef, KeyPos};
use super::Ctx;
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new(
        "sync",
        1,
        NO_ASYNC_LOADING | ADMIN | NO_MULTI | NOSCRIPT,
        KeyPos::None,
        sync,
    )
    .doc(
        "server",
        "1.0.0",
        "Internal command used for replication",
        "",
    ),
    CommandDef::new(
        "psync",
        -3,
        NO_ASYNC_LOADING | ADMIN | NO_MULTI | NOSCRIPT,
        KeyPos::None,
        psync,
    )
    .doc(
        "server",
        "2.8.0",
        "Internal command used for replication",
        "",
    ),
    CommandDef::new(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        KeyPos::None,
        replconf,
    )
    .doc(
        "server",
        "3.0.0",
        "An internal command for configuring the replication stream",
        "O(1)",
    ),
    CommandDef::new(
        "replicaof",
        3,
        NO_ASYNC_LOADING | ADMIN | NOSCRIPT | STALE,
        KeyPos::None,
        replicaof,
    )
    .doc(
        "server",
        "5.0.0",
        "Make the server a replica of another instance, or promote it as master.",
        "O(1)",
    ),
    CommandDef::new(
        "slaveof",
        3,
        NO_ASYNC_LOADING | ADMIN | NOSCRIPT | STALE,
        KeyPos::None,
        replicaof,
    )
    .doc(
        "server",
        "1.0.0",
        "Make the server a replica of another instance, or promote it as master.",
        "O(1)",
    ),
    CommandDef::new(
        "role",
        1,
        NOSCRIPT | LOADING | STALE | FAST,
        KeyPos::None,
        role,
    )
    .doc(
        "server",
        "2.8.12",
        "Return the role of the instance in the context of replication",
        "O(1)",
    ),
    CommandDef::new("wait", 3, NOSCRIPT, KeyPos::None, wait).doc(
        "generic",
        "3.0.0",
        "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        "O(1)",
    ),
];

fn replicaof(ctx: &mut Ctx, args: &[Bytes]) {
    if ctx.srv.config.cluster_enabled {
        ctx.out.error("ERR REPLICAOF not allowed in cluster mode.");
        return;
    }
    if args[1].eq_ignore_ascii_case(b"no") && args[2].eq_ignore_ascii_case(b"one") {
        if ctx.srv.follow.is_replica() {
            crate::replication::follow::unset_master(ctx.srv);
            let who = crate::commands::client::info_line(ctx.srv, ctx.client);
            crate::log_notice!("MASTER MODE enabled (user request from '{}')", who);
        }
        ctx.out.ok();
        return;
    }
    if ctx.client.flags.replica {
        ctx.out
            .error("ERR Command is not valid when client is a replica.");
        return;
    }
    let port = match crate::util::num::parse_i64(&args[2]) {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => {
            ctx.out.error("ERR Invalid master port");
            return;
        }
    };
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    if let Some((h, p)) = &ctx.srv.follow.master {
        if h.eq_ignore_ascii_case(&host) && *p == port {
            crate::log_notice!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            ctx.out.simple("OK Already connected to specified master");
            return;
        }
    }
    crate::replication::follow::set_master(ctx.srv, host.clone(), port);
    let who = crate::commands::client::info_line(ctx.srv, ctx.client);
    crate::log_notice!(
        "REPLICAOF {}:{} enabled (user request from '{}')",
        host,
        port,
        who
    );
    ctx.out.ok();
}

fn role(ctx: &mut Ctx, _args: &[Bytes]) {
    crate::replication::follow::role(ctx.srv, ctx.out);
}

fn wait(ctx: &mut Ctx, args: &[Bytes]) {
    if ctx.srv.follow.is_replica() {
        ctx.out.error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
        return;
    }
    let Some(replicas) = crate::util::num::parse_i64(&args[1]) else {
        ctx.out.error("ERR value is not an integer or out of range");
        return;
    };
    let ms = match crate::server::blocking::parse_timeout_ms(&args[2]) {
        Ok(ms) => ms,
        Err(e) => {
            ctx.out.error(e);
            return;
        }
    };
    let offset = ctx.client.woff;
    let acks = ctx.srv.repl.count_acks(offset) as i64;
    if acks >= replicas || ctx.client.flags.multi || !ctx.may_block() {
        ctx.out.int(acks);
        return;
    }
    let deadline = (ms > 0).then(|| ctx.now_ms.saturating_add(ms));
    ctx.block_for_acks(offset, replicas, deadline);
    crate::replication::request_acks(ctx.srv);
}

fn sync(ctx: &mut Ctx, _args: &[Bytes]) {
    attach(ctx, None);
}

fn psync(ctx: &mut Ctx, args: &[Bytes]) {
    // keel keeps no backlog: every PSYNC is a full resynchronisation,
    // whatever replid and offset the replica offers.
    attach(ctx, Some(&args[1]));
}

/// `psync`: the replication ID a PSYNC named (None: SYNC).
fn attach(ctx: &mut Ctx, psync: Option<&[u8]>) {
    // A client that is already a replica asks again: ignored (Redis).
    if ctx.client.flags.replica {
        return;
    }
    if ctx.srv.follow.is_replica() && !ctx.srv.follow.connected() {
        ctx.out
            .error("NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    if !ctx.client.out.is_empty() || !ctx.out.buf.is_empty() {
        ctx.out
            .error("ERR SYNC and PSYNC are invalid with pending output");
        return;
    }
    // No backlog: a PSYNC naming a history is a failed partial resync.
    if psync.is_some_and(|id| id != b"?") {
        ctx.srv.repl.sync_partial_err += 1;
    }
    crate::replication::attach(ctx.srv, ctx.client, ctx.out, psync.is_some());
}

fn replconf(ctx: &mut Ctx, args: &[Bytes]) {
    match crate::replication::replconf(ctx.srv, ctx.client, args) {
        Ok(true) => ctx.out.ok(),
        Ok(false) => {}
        Err(e) => ctx.out.error(&e),
    }
}
