//! Server introspection and control: INFO, MONITOR, TIME, LASTSAVE,
//! SHUTDOWN. (SLOWLOG and LATENCY are in `monitoring`, CLIENT in
//! `client`, COMMAND in `command`, DEBUG in `debug`.)

use super::table::{flags::*, CommandDef, KeyPos};
use super::{err, Ctx};
use crate::server::info::{self, Selection};
use crate::server::shutdown;
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("info", -1, LOADING | STALE, KeyPos::None, info_cmd).doc(
        "server",
        "1.0.0",
        "Get information and statistics about the server",
        "O(1)",
    ),
    CommandDef::new(
        "monitor",
        1,
        ADMIN | NOSCRIPT | LOADING | STALE,
        KeyPos::None,
        monitor,
    )
    .doc(
        "server",
        "1.0.0",
        "Listen for all requests received by the server in real time",
        "",
    ),
    CommandDef::new("time", 1, LOADING | STALE | FAST, KeyPos::None, time).doc(
        "server",
        "2.6.0",
        "Return the current server time",
        "O(1)",
    ),
    CommandDef::new("lastsave", 1, LOADING | STALE | FAST, KeyPos::None, lastsave).doc(
        "server",
        "1.0.0",
        "Get the UNIX time stamp of the last successful save to disk",
        "O(1)",
    ),
    CommandDef::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        KeyPos::None,
        shutdown,
    )
    .doc(
        "server",
        "1.0.0",
        "Synchronously save the dataset to disk and then shut down the server",
        "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
    ),
];

fn info_cmd(ctx: &mut Ctx, args: &[Bytes]) {
    let names: Vec<&[u8]> = args[1..].iter().map(|a| &a[..]).collect();
    let sel = Selection::parse(&names);
    let text = info::generate(ctx.srv, Some(&*ctx.client), &sel);
    ctx.out.verbatim(text.as_bytes(), "txt");
}

fn monitor(ctx: &mut Ctx, _args: &[Bytes]) {
    // A client already in monitor mode just stays there (no reply), as
    // Redis ignores MONITOR from a replica/monitor.
    if ctx.client.flags.monitor {
        return;
    }
    ctx.client.flags.monitor = true;
    ctx.srv.monitors.push(ctx.client.id);
    ctx.out.ok();
}

fn time(ctx: &mut Ctx, _args: &[Bytes]) {
    let us = crate::server::now_us();
    ctx.out.array_len(2);
    ctx.out.bulk_int(us / 1_000_000);
    ctx.out.bulk_int(us % 1_000_000);
}

fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) {
    ctx.out.int(ctx.srv.lastsave);
}

fn shutdown(ctx: &mut Ctx, args: &[Bytes]) {
    let (mut nosave, mut save, mut now, mut force, mut abort) = (false, false, false, false, false);
    for a in &args[1..] {
        match a.to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" => now = true,
            b"force" => force = true,
            b"abort" => abort = true,
            _ => {
                ctx.out.error(err::SYNTAX);
                return;
            }
        }
    }
    if (abort && (nosave || save || now || force)) || (nosave && save) {
        ctx.out.error(err::SYNTAX);
        return;
    }
    if abort {
        if shutdown::abort(ctx.srv) {
            ctx.out.ok();
        } else {
            ctx.out.error("ERR No shutdown in progress.");
        }
        return;
    }
    // A timed-out script: only SHUTDOWN NOSAVE may end the server.
    if !nosave && ctx.srv.scripting.timed_out {
        ctx.out.error(crate::scripting::busy::BUSY);
        return;
    }
    let flags = shutdown::ShutdownFlags {
        save,
        nosave,
        now,
        force,
    };
    // Redis blocks the client before preparing: it stays blocked while
    // the shutdown waits for the replicas (a shutdown already waiting
    // included), and gets the error if the shutdown fails.
    match shutdown::prepare(ctx.srv, flags, ctx.now_ms) {
        shutdown::Prepared::Exit => ctx.client.flags.close_asap = true,
        shutdown::Prepared::Waiting => ctx.block_for_shutdown(),
        shutdown::Prepared::Failed => ctx.out.error("ERR Errors trying to SHUTDOWN. Check logs."),
    }
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run;

    #[test]
    fn time_and_lastsave() {
        let (mut srv, mut c) = crate::commands::testutil::setup();
        let r = run(&mut srv, &mut c, &["time"]);
        assert!(r.starts_with("*2\r\n$10\r\n"), "{r}");
        let r = run(&mut srv, &mut c, &["lastsave"]);
        assert_eq!(r, format!(":{}\r\n", srv.lastsave));
    }

    #[test]
    fn info_sections() {
        let (mut srv, mut c) = crate::commands::testutil::setup();
        let r = run(&mut srv, &mut c, &["info", "keyspace"]);
        assert_eq!(r, "$12\r\n# Keyspace\r\n\r\n");
        run(&mut srv, &mut c, &["set", "a", "1"]);
        let r = run(&mut srv, &mut c, &["info", "keyspace"]);
        assert!(r.contains("db0:keys=1,expires=0,avg_ttl=0\r\n"), "{r}");
        let r = run(&mut srv, &mut c, &["info", "commandstats"]);
        assert!(r.contains("cmdstat_set:calls=1,usec="), "{r}");
        let r = run(&mut srv, &mut c, &["info", "clients"]);
        assert!(r.contains("connected_clients:1\r\n"), "{r}");
    }

    #[test]
    fn shutdown_args() {
        let (mut srv, mut c) = crate::commands::testutil::setup();
        assert_eq!(
            run(&mut srv, &mut c, &["shutdown", "save", "nosave"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["shutdown", "abort", "now"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&mut srv, &mut c, &["shutdown", "abort"]),
            "-ERR No shutdown in progress.\r\n"
        );
        assert!(srv.shutdown.is_none());
        run(&mut srv, &mut c, &["shutdown", "nosave", "now"]);
        assert!(srv.shutdown.is_some_and(|s| s.nosave));
    }

    #[test]
    fn monitor_registers() {
        let (mut srv, mut c) = crate::commands::testutil::setup();
        assert_eq!(run(&mut srv, &mut c, &["monitor"]), "+OK\r\n");
        assert!(c.flags.monitor && srv.monitors == vec![c.id]);
    }
}
