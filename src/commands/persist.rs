//! SAVE, BGSAVE and BGREWRITEAOF (LASTSAVE is in `introspect`, DEBUG
//! RELOAD in `debug`): thin command layers over `persistence::snapshot`
//! and `persistence::aof::control`.

use super::table::{flags::*, CommandDef, KeyPos};
use super::{err, Ctx};
use crate::persistence::aof::control as aof;
use crate::persistence::snapshot::{self, BgsaveError, ChildKind};
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        KeyPos::None,
        save,
    )
    .doc(
        "server",
        "1.0.0",
        "Synchronously save the dataset to disk",
        "O(N) where N is the total number of keys in all databases",
    ),
    CommandDef::new(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        KeyPos::None,
        bgsave,
    )
    .doc(
        "server",
        "1.0.0",
        "Asynchronously save the dataset to disk",
        "O(1)",
    ),
    CommandDef::new(
        "bgrewriteaof",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        KeyPos::None,
        bgrewriteaof,
    )
    .doc(
        "server",
        "1.0.0",
        "Asynchronously rewrite the append-only file",
        "O(1)",
    ),
];

fn child_kind(ctx: &Ctx) -> Option<ChildKind> {
    ctx.srv.snapshots.child.as_ref().map(|c| c.kind)
}

fn bgrewriteaof(ctx: &mut Ctx, _args: &[Bytes]) {
    match child_kind(ctx) {
        Some(ChildKind::AofRewrite) => ctx
            .out
            .error("ERR Background append only file rewriting already in progress"),
        Some(_) => schedule_rewrite(ctx),
        None if ctx.srv.exec_depth > 0 => schedule_rewrite(ctx),
        None => match aof::rewrite_background(ctx.srv) {
            Ok(()) => ctx.out.simple("Background append only file rewriting started"),
            Err(_) => ctx.out.error(
                "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
            ),
        },
    }
}

fn schedule_rewrite(ctx: &mut Ctx) {
    ctx.srv.aof.rewrite_scheduled = true;
    // A manual rewrite is not held back by earlier failures.
    ctx.srv.aof.consecutive_failures = 0;
    ctx.out
        .simple("Background append only file rewriting scheduled");
}

fn save(ctx: &mut Ctx, _args: &[Bytes]) {
    if child_kind(ctx) == Some(ChildKind::Rdb) {
        ctx.out.error("ERR Background save already in progress");
        return;
    }
    ctx.srv.snapshots.saves += 1;
    match snapshot::save(ctx.srv) {
        Ok(()) => ctx.out.ok(),
        Err(_) => ctx.out.error("ERR"),
    }
}

fn bgsave(ctx: &mut Ctx, args: &[Bytes]) {
    // SCHEDULE: behind an AOF rewrite, start when it ends.
    let schedule = args.len() == 2 && args[1].eq_ignore_ascii_case(b"schedule");
    if args.len() > 1 && !schedule {
        ctx.out.error(err::SYNTAX);
        return;
    }
    match child_kind(ctx) {
        Some(ChildKind::Rdb) => {
            ctx.out.error("ERR Background save already in progress");
            return;
        }
        Some(_) if !schedule => {
            ctx.out.error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
            return;
        }
        Some(_) => {
            ctx.srv.snapshots.bgsave_scheduled = true;
            ctx.out.simple("Background saving scheduled");
            return;
        }
        None => {}
    }
    if ctx.srv.exec_depth > 0 {
        // Never fork inside a transaction: the cron starts it after.
        ctx.srv.snapshots.bgsave_scheduled = true;
        ctx.out.simple("Background saving scheduled");
        return;
    }
    match snapshot::bgsave(ctx.srv) {
        Ok(_) => ctx.out.simple("Background saving started"),
        Err(BgsaveError::InProgress) => ctx.out.error("ERR Background save already in progress"),
        Err(BgsaveError::Fork(_)) => ctx.out.error("ERR"),
    }
}
