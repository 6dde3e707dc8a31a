//! SYNC, PSYNC and REPLCONF: the commands a replica sends to attach to
//! this node (thin layer over `crate::replication`).

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
];

fn sync(ctx: &mut Ctx, _args: &[Bytes]) {
    attach(ctx, false);
}

fn psync(ctx: &mut Ctx, _args: &[Bytes]) {
    // keel keeps no backlog: every PSYNC is a full resynchronisation,
    // whatever replid and offset the replica offers.
    attach(ctx, true);
}

fn attach(ctx: &mut Ctx, psync: bool) {
    // A client that is already a replica asks again: ignored (Redis).
    if ctx.client.flags.replica {
        return;
    }
    if !ctx.client.out.is_empty() || !ctx.out.buf.is_empty() {
        ctx.out
            .error("ERR SYNC and PSYNC are invalid with pending output");
        return;
    }
    crate::replication::attach(ctx.srv, ctx.client, ctx.out, psync);
}

fn replconf(ctx: &mut Ctx, args: &[Bytes]) {
    match crate::replication::replconf(ctx.srv, ctx.client, args) {
        Ok(true) => ctx.out.ok(),
        Ok(false) => {}
        Err(e) => ctx.out.error(&e),
    }
}
