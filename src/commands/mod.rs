//! Commands: the table ([`table`]), the per-command context ([`Ctx`]) that
//! handlers use to reach the keyspace, and one module per family.
//!
//! Handlers take parsed arguments and return a reply (written into
//! `ctx.out`) plus what to propagate; they do no I/O.

pub mod ctx;
pub mod dispatch;
pub mod table;

pub mod bitops;
pub mod cmdmeta;
pub mod command;
pub mod connection;
pub mod db;
pub mod debug;
pub mod digest;
pub mod dump;
pub mod expire;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod introspect;
pub mod keys;
pub mod latency_doctor;
pub mod lists;
pub mod memory;
pub mod migrate;
pub mod monitoring;
pub mod object;
pub mod persist;
pub mod replication;
pub mod scripting;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
#[cfg(test)]
pub mod testutil;
pub mod zsets;

pub use ctx::Ctx;
pub use table::{flags, CommandDef, CommandTable, KeyPos};

/// Every command family, in the order they are registered.
pub fn all_families() -> Vec<&'static [CommandDef]> {
    vec![
        connection::COMMANDS,
        strings::COMMANDS,
        bitops::COMMANDS,
        lists::COMMANDS,
        multi::COMMANDS,
        pubsub::COMMANDS,
        keys::COMMANDS,
        object::COMMANDS,
        expire::COMMANDS,
        db::COMMANDS,
        config::COMMANDS,
        zsets::COMMANDS,
        geo::COMMANDS,
        sort::COMMANDS,
        client::COMMANDS,
        introspect::COMMANDS,
        persist::COMMANDS,
        replication::COMMANDS,
        monitoring::COMMANDS,
        command::COMMANDS,
        debug::COMMANDS,
        memory::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        hyperloglog::COMMANDS,
        streams::COMMANDS,
        dump::COMMANDS,
        migrate::COMMANDS,
        scripting::COMMANDS,
    ]
}

/// Error replies shared by many commands (Redis's `shared.*` objects).
pub mod err {
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const SYNTAX: &str = "ERR syntax error";
    pub const NOT_INT: &str = "ERR value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    pub const NO_KEY: &str = "ERR no such key";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    pub const NOAUTH: &str = "NOAUTH Authentication required.";
    pub const OUT_OF_RANGE: &str = "ERR index out of range";
    pub const DB_INDEX: &str = "ERR DB index is out of range";
}

pub mod client;
pub mod config;
pub mod multi;
pub mod pubsub;

use bytes::Bytes;

/// Handler of a container command (CONFIG, CLIENT, ...) reached without a
/// known subcommand: Redis's "unknown subcommand" error.
pub fn container_help(ctx: &mut Ctx, args: &[Bytes]) {
    let sub = args
        .get(1)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .unwrap_or_default();
    ctx.out.error(&format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        sub,
        ctx.cmd.name.to_ascii_uppercase()
    ));
}

/// Redis's addReplyHelp: a header line, the given lines, and HELP's own.
pub fn reply_help(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array_len(lines.len() + 3);
    ctx.out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

/// Redis's addReplySubcommandSyntaxError.
pub fn subcommand_syntax_error(ctx: &mut Ctx, args: &[Bytes]) {
    let sub: String = String::from_utf8_lossy(&args[1])
        .chars()
        .take(128)
        .collect();
    let cmd = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    ctx.out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP."
    ));
}

/// Redis's getIntFromObjectOrReply: an i32 or the matching error.
pub fn parse_i32_or_reply(ctx: &mut Ctx, arg: &[u8]) -> Option<i32> {
    match crate::util::num::parse_i64(arg) {
        None => {
            ctx.out.error(err::NOT_INT);
            None
        }
        Some(v) if v < i32::MIN as i64 || v > i32::MAX as i64 => {
            ctx.out.error(&format!(
                "ERR value is out of range, value must between {} and {}",
                i32::MIN,
                i32::MAX
            ));
            None
        }
        Some(v) => Some(v as i32),
    }
}
