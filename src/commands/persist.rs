//! SAVE and BGSAVE (LASTSAVE is in `introspect`, DEBUG RELOAD in
//! `debug`): thin command layers over `persistence::snapshot`.

use super::table::{flags::*, CommandDef, KeyPos};
use super::{err, Ctx};
use crate::persistence::snapshot::{self, BgsaveError};
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
];

fn save(ctx: &mut Ctx, _args: &[Bytes]) {
    if ctx.srv.snapshots.child.is_some() {
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
    // SCHEDULE only matters while another kind of child (an AOF rewrite)
    // runs; until the AOF exists the only child is a BGSAVE.
    if args.len() > 1 && (args.len() != 2 || !args[1].eq_ignore_ascii_case(b"schedule")) {
        ctx.out.error(err::SYNTAX);
        return;
    }
    if ctx.srv.snapshots.child.is_some() {
        ctx.out.error("ERR Background save already in progress");
        return;
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
