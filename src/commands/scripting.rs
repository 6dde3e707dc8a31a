//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
//! (LOAD, EXISTS, FLUSH, KILL, HELP). The engine is in `crate::scripting`.
//!
//! SCRIPT DEBUG (the Lua debugger) is not implemented, so it is an
//! unknown subcommand.

use super::table::{flags::*, CommandDef, KeyPos};
use super::Ctx;
use crate::scripting::run::eval;
use bytes::Bytes;

const EVAL_KEYS: KeyPos = KeyPos::NumKeys {
    count_at: 2,
    first: 3,
    step: 1,
};
const EVAL_FLAGS: u32 = NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | STALE;
const EVAL_RO_FLAGS: u32 = NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("eval", -3, EVAL_FLAGS, EVAL_KEYS, eval_cmd).doc(
        "scripting",
        "2.6.0",
        "Execute a Lua script server side",
        "Depends on the script that is executed.",
    ),
    CommandDef::new("evalsha", -3, EVAL_FLAGS, EVAL_KEYS, evalsha_cmd).doc(
        "scripting",
        "2.6.0",
        "Execute a Lua script server side",
        "Depends on the script that is executed.",
    ),
    CommandDef::new("eval_ro", -3, EVAL_RO_FLAGS, EVAL_KEYS, eval_ro_cmd).doc(
        "scripting",
        "7.0.0",
        "Execute a read-only Lua script server side",
        "Depends on the script that is executed.",
    ),
    CommandDef::new("evalsha_ro", -3, EVAL_RO_FLAGS, EVAL_KEYS, evalsha_ro_cmd).doc(
        "scripting",
        "7.0.0",
        "Execute a read-only Lua script server side",
        "Depends on the script that is executed.",
    ),
    CommandDef::new("script", -2, 0, KeyPos::None, super::container_help)
        .doc(
            "scripting",
            "2.6.0",
            "A container for Lua scripts management commands",
            "Depends on subcommand.",
        )
        .subs(SUBS),
];

static SUBS: &[CommandDef] = &[
    CommandDef::new("exists", -3, NOSCRIPT, KeyPos::None, exists).doc(
        "scripting",
        "2.6.0",
        "Check existence of scripts in the script cache.",
        "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
    ),
    CommandDef::new("flush", -2, NOSCRIPT, KeyPos::None, flush).doc(
        "scripting",
        "2.6.0",
        "Remove all the scripts from the script cache.",
        "O(N) with N being the number of scripts in cache",
    ),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, help).doc(
        "scripting",
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
    CommandDef::new("kill", 2, NOSCRIPT | ALLOW_BUSY, KeyPos::None, kill).doc(
        "scripting",
        "2.6.0",
        "Kill the script currently in execution.",
        "O(1)",
    ),
    CommandDef::new("load", 3, NOSCRIPT | STALE, KeyPos::None, load).doc(
        "scripting",
        "2.6.0",
        "Load the specified Lua script into the script cache.",
        "O(N) with N being the length in bytes of the script body.",
    ),
];

fn eval_cmd(ctx: &mut Ctx, args: &[Bytes]) {
    eval(ctx, args, false, false);
}

fn evalsha_cmd(ctx: &mut Ctx, args: &[Bytes]) {
    eval(ctx, args, true, false);
}

fn eval_ro_cmd(ctx: &mut Ctx, args: &[Bytes]) {
    eval(ctx, args, false, true);
}

fn evalsha_ro_cmd(ctx: &mut Ctx, args: &[Bytes]) {
    eval(ctx, args, true, true);
}

fn load(ctx: &mut Ctx, args: &[Bytes]) {
    match ctx.srv.scripting.create(&args[2]) {
        Ok(sha) => ctx.out.bulk(sha.as_bytes()),
        Err(e) => ctx.out.error(&e),
    }
}

fn exists(ctx: &mut Ctx, args: &[Bytes]) {
    ctx.out.array_len(args.len() - 2);
    for sha in &args[2..] {
        // The cache is keyed by lower-case sha, compared case-insensitively.
        let key = String::from_utf8_lossy(sha).to_ascii_lowercase();
        let found = ctx.srv.scripting.scripts.contains_key(&key);
        ctx.out.int(found as i64);
    }
}

fn flush(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() == 3 {
        let mode = args[2].to_ascii_lowercase();
        if mode != b"sync" && mode != b"async" {
            ctx.out
                .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            return;
        }
    } else if args.len() != 2 {
        ctx.out
            .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    // ASYNC or SYNC, the cache is gone when the reply is sent; the old
    // interpreter is dropped here (Redis frees it in the background).
    ctx.srv.scripting.reset();
    ctx.out.ok();
}

/// SCRIPT KILL: only meaningful while a script is timed out (it then runs
/// from the script's hook, see `crate::scripting::busy`).
fn kill(ctx: &mut Ctx, _args: &[Bytes]) {
    use crate::scripting::busy::{UNKILLABLE_MASTER, UNKILLABLE_WRITE};
    use std::sync::atomic::Ordering::Relaxed;
    let s = &ctx.srv.scripting;
    if !s.timed_out {
        ctx.out.error("NOTBUSY No scripts in execution right now.");
    } else if s.busy.obey.load(Relaxed) {
        ctx.out.error(UNKILLABLE_MASTER);
    } else if s.busy.write_dirty.load(Relaxed) {
        ctx.out.error(UNKILLABLE_WRITE);
    } else {
        s.busy.kill.store(true, Relaxed);
        ctx.out.ok();
    }
}

fn help(ctx: &mut Ctx, _args: &[Bytes]) {
    super::reply_help(
        ctx,
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
}
