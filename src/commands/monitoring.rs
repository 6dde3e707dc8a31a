//! SLOWLOG and LATENCY: reading and resetting what the dispatcher
//! records after each command (slow log entries, latency events and the
//! per-command latency histograms).

use super::table::{flags::*, CommandDef, KeyPos, Resolved};
use super::{reply_help, Ctx};
use crate::protocol::Reply;
use crate::server::histogram::LatencyHistogram;
use crate::util::num::parse_i64;
use bytes::Bytes;

const SLOWLOG_SUBS: &[CommandDef] = &[
    CommandDef::new(
        "get",
        -2,
        ADMIN | LOADING | STALE,
        KeyPos::None,
        slowlog_get,
    )
    .doc(
        "server",
        "2.2.12",
        "Get the slow log's entries",
        "O(N) where N is the number of entries returned",
    ),
    CommandDef::new("len", 2, ADMIN | LOADING | STALE, KeyPos::None, slowlog_len).doc(
        "server",
        "2.2.12",
        "Get the slow log's length",
        "O(1)",
    ),
    CommandDef::new(
        "reset",
        2,
        ADMIN | LOADING | STALE,
        KeyPos::None,
        slowlog_reset,
    )
    .doc(
        "server",
        "2.2.12",
        "Clear all entries from the slow log",
        "O(N) where N is the number of entries in the slowlog",
    ),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, slowlog_help).doc(
        "server",
        "6.2.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
];

const LAT: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const LATENCY_SUBS: &[CommandDef] = &[
    CommandDef::new("history", 3, LAT, KeyPos::None, latency_history).doc(
        "server",
        "2.8.13",
        "Return timestamp-latency samples for the event.",
        "O(1)",
    ),
    CommandDef::new("latest", 2, LAT, KeyPos::None, latency_latest).doc(
        "server",
        "2.8.13",
        "Return the latest latency samples for all events.",
        "O(1)",
    ),
    CommandDef::new("reset", -2, LAT, KeyPos::None, latency_reset).doc(
        "server",
        "2.8.13",
        "Reset latency data for one or more events.",
        "O(1)",
    ),
    CommandDef::new("histogram", -2, LAT, KeyPos::None, latency_histogram).doc(
        "server",
        "7.0.0",
        "Return the cumulative distribution of latencies of a subset of commands or all commands.",
        "O(N) where N is the number of commands with latency information being retrieved.",
    ),
    CommandDef::new("doctor", 2, LAT, KeyPos::None, latency_doctor).doc(
        "server",
        "2.8.13",
        "Return a human readable latency analysis report.",
        "O(1)",
    ),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, latency_help).doc(
        "server",
        "2.8.13",
        "Show helpful text about the different subcommands.",
        "O(1)",
    ),
];

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("slowlog", -2, 0, KeyPos::None, super::container_help)
        .doc(
            "server",
            "2.2.12",
            "A container for slow log commands",
            "Depends on subcommand.",
        )
        .subs(SLOWLOG_SUBS),
    CommandDef::new("latency", -2, 0, KeyPos::None, super::container_help)
        .doc(
            "server",
            "2.8.13",
            "A container for latency diagnostics commands",
            "Depends on subcommand.",
        )
        .subs(LATENCY_SUBS),
];

fn slowlog_get(ctx: &mut Ctx, args: &[Bytes]) {
    const MSG: &str = "ERR count should be greater than or equal to -1";
    if args.len() > 3 {
        super::subcommand_syntax_error(ctx, args);
        return;
    }
    let mut count = 10usize;
    if let Some(a) = args.get(2) {
        match parse_i64(a) {
            Some(-1) => count = ctx.srv.slowlog.entries.len(),
            Some(n) if n >= 0 => count = n as usize,
            _ => {
                ctx.out.error(MSG);
                return;
            }
        }
    }
    let entries: Vec<_> = ctx
        .srv
        .slowlog
        .entries
        .iter()
        .take(count)
        .cloned()
        .collect();
    let out = &mut *ctx.out;
    out.array_len(entries.len());
    for e in entries {
        out.array_len(6);
        out.int(e.id as i64);
        out.int(e.time);
        out.int(e.duration_us as i64);
        out.array_len(e.args.len());
        for a in &e.args {
            out.bulk(a);
        }
        out.bulk(e.peer.as_bytes());
        out.bulk(e.name.as_bytes());
    }
}

fn slowlog_len(ctx: &mut Ctx, _args: &[Bytes]) {
    ctx.out.int(ctx.srv.slowlog.entries.len() as i64);
}

fn slowlog_reset(ctx: &mut Ctx, _args: &[Bytes]) {
    ctx.srv.slowlog.entries.clear();
    ctx.out.ok();
}

fn slowlog_help(ctx: &mut Ctx, _args: &[Bytes]) {
    reply_help(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
}

/// The arguments as the slow log and MONITOR may show them: passwords
/// and user names of AUTH, HELLO AUTH, MIGRATE AUTH/AUTH2, ACL SETUSER
/// and sensitive CONFIG SET values become "(redacted)", as in Redis.
pub fn redact_args(full_name: &str, args: &[Bytes]) -> Vec<Bytes> {
    let mut v = args.to_vec();
    let red = Bytes::from_static(b"(redacted)");
    let argc = v.len();
    match full_name {
        "auth" if argc <= 3 => {
            for a in v.iter_mut().skip(1) {
                *a = red.clone();
            }
        }
        "hello" => {
            let mut j = 2;
            while j < argc {
                let more = argc - 1 - j;
                if v[j].eq_ignore_ascii_case(b"auth") && more >= 2 {
                    v[j + 1] = red.clone();
                    v[j + 2] = red.clone();
                    j += 3;
                } else if v[j].eq_ignore_ascii_case(b"setname") && more >= 1 {
                    j += 2;
                } else {
                    break;
                }
            }
        }
        "migrate" => {
            let mut j = 6;
            while j < argc {
                let more = argc - 1 - j;
                if v[j].eq_ignore_ascii_case(b"auth") && more >= 1 {
                    v[j + 1] = red.clone();
                    j += 2;
                } else if v[j].eq_ignore_ascii_case(b"auth2") && more >= 2 {
                    v[j + 1] = red.clone();
                    v[j + 2] = red.clone();
                    j += 3;
                } else if v[j].eq_ignore_ascii_case(b"keys") {
                    break;
                } else {
                    j += 1;
                }
            }
        }
        "acl|setuser" => {
            for a in v.iter_mut().skip(2) {
                *a = red.clone();
            }
        }
        "config|set" => {
            let mut j = 2;
            while j + 1 < argc {
                let n = v[j].to_ascii_lowercase();
                if matches!(n.as_slice(), b"masteruser" | b"masterauth" | b"requirepass") {
                    v[j + 1] = red.clone();
                }
                j += 2;
            }
        }
        _ => {}
    }
    v
}

fn latency_history(ctx: &mut Ctx, args: &[Bytes]) {
    let name = String::from_utf8_lossy(&args[2]).into_owned();
    let samples: Vec<(i64, u64)> = ctx
        .srv
        .latency
        .events
        .get(&name)
        .map(|e| e.samples.iter().copied().collect())
        .unwrap_or_default();
    ctx.out.array_len(samples.len());
    for (t, ms) in samples {
        ctx.out.array_len(2);
        ctx.out.int(t);
        ctx.out.int(ms as i64);
    }
}

fn latency_latest(ctx: &mut Ctx, _args: &[Bytes]) {
    let out = &mut *ctx.out;
    out.array_len(ctx.srv.latency.events.len());
    for (name, e) in &ctx.srv.latency.events {
        let (t, ms) = e.samples.back().copied().unwrap_or((0, 0));
        out.array_len(4);
        out.bulk(name.as_bytes());
        out.int(t);
        out.int(ms as i64);
        out.int(e.max as i64);
    }
}

fn latency_reset(ctx: &mut Ctx, args: &[Bytes]) {
    let events = &mut ctx.srv.latency.events;
    let n = if args.len() == 2 {
        let n = events.len();
        events.clear();
        n
    } else {
        args[2..]
            .iter()
            .filter(|a| events.remove(&*String::from_utf8_lossy(a)).is_some())
            .count()
    };
    ctx.out.int(n as i64);
}

fn write_cdf(out: &mut Reply, h: &LatencyHistogram) {
    out.map_len(2);
    out.bulk(b"calls");
    out.int(h.total() as i64);
    out.bulk(b"histogram_usec");
    let cdf = h.cdf();
    out.map_len(cdf.len());
    for (us, n) in cdf {
        out.int(us);
        out.int(n as i64);
    }
}

fn latency_histogram(ctx: &mut Ctx, args: &[Bytes]) {
    let stats = &ctx.srv.stats;
    let mut names: Vec<String> = Vec::new();
    if args.len() == 2 {
        names = stats.latency_names().into_iter().cloned().collect();
    } else {
        let table = ctx.srv.commands.clone();
        for a in &args[2..] {
            // "client|id" names one subcommand; a container name brings
            // the command and all its subcommands.
            let text = String::from_utf8_lossy(a).to_ascii_lowercase();
            let parts: Vec<Bytes> = text
                .split('|')
                .map(|p| Bytes::copy_from_slice(p.as_bytes()))
                .collect();
            if parts.len() > 2 {
                continue;
            }
            match table.resolve(&parts) {
                Resolved::Found(c, Some(s)) => names.push(format!("{}|{}", c.name, s.name)),
                Resolved::Found(c, None) if parts.len() == 1 => {
                    names.push(c.name.to_string());
                    let mut subs: Vec<String> = c
                        .subcommands
                        .iter()
                        .map(|s| format!("{}|{}", c.name, s.name))
                        .collect();
                    subs.sort();
                    names.extend(subs);
                }
                _ => {}
            }
        }
    }
    let present: Vec<(&String, &LatencyHistogram)> = names
        .iter()
        .filter_map(|n| Some((n, stats.latency_of(n)?)))
        .collect();
    let out = &mut *ctx.out;
    out.map_len(present.len());
    for (n, h) in present {
        out.bulk(n.as_bytes());
        write_cdf(out, h);
    }
}

fn latency_doctor(ctx: &mut Ctx, _args: &[Bytes]) {
    let text = super::latency_doctor::report(ctx.srv);
    ctx.out.verbatim(text.as_bytes(), "txt");
}

fn latency_help(ctx: &mut Ctx, _args: &[Bytes]) {
    reply_help(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::{run, setup};

    #[test]
    fn slowlog_records_and_resets() {
        let (mut srv, mut c) = setup();
        srv.config.slowlog_log_slower_than = 0;
        run(&mut srv, &mut c, &["client", "setname", "me"]);
        run(&mut srv, &mut c, &["ping"]);
        assert_eq!(run(&mut srv, &mut c, &["slowlog", "len"]), ":2\r\n");
        let r = run(&mut srv, &mut c, &["slowlog", "get", "1"]);
        assert!(r.starts_with("*1\r\n*6\r\n:2\r\n"), "{r}");
        assert!(r.contains("*2\r\n$7\r\nslowlog\r\n$3\r\nlen\r\n"), "{r}");
        assert!(r.ends_with("$15\r\n127.0.0.1:50000\r\n$2\r\nme\r\n"), "{r}");
        assert_eq!(
            run(&mut srv, &mut c, &["slowlog", "get", "-2"]),
            "-ERR count should be greater than or equal to -1\r\n"
        );
        assert_eq!(run(&mut srv, &mut c, &["slowlog", "reset"]), "+OK\r\n");
        // The RESET itself is the one entry left.
        srv.config.slowlog_log_slower_than = -1;
        assert_eq!(run(&mut srv, &mut c, &["slowlog", "len"]), ":1\r\n");
        assert_eq!(
            run(&mut srv, &mut c, &["slowlog", "help", "x"]),
            "-ERR wrong number of arguments for 'slowlog|help' command\r\n"
        );
    }

    #[test]
    fn redaction() {
        let b = |v: &[&str]| -> Vec<bytes::Bytes> {
            v.iter()
                .map(|s| bytes::Bytes::copy_from_slice(s.as_bytes()))
                .collect()
        };
        assert_eq!(
            super::redact_args("auth", &b(&["auth", "u", "p"])),
            b(&["auth", "(redacted)", "(redacted)"])
        );
        assert_eq!(
            super::redact_args("hello", &b(&["hello", "2", "AUTH", "u", "p"])),
            b(&["hello", "2", "AUTH", "(redacted)", "(redacted)"])
        );
        assert_eq!(
            super::redact_args(
                "migrate",
                &b(&["migrate", "h", "1", "k", "9", "5000", "AUTH2", "u", "p"])
            ),
            b(&[
                "migrate",
                "h",
                "1",
                "k",
                "9",
                "5000",
                "AUTH2",
                "(redacted)",
                "(redacted)"
            ])
        );
        assert_eq!(
            super::redact_args(
                "config|set",
                &b(&["config", "set", "masterauth", "x", "hz", "5"])
            ),
            b(&["config", "set", "masterauth", "(redacted)", "hz", "5"])
        );
    }

    #[test]
    fn latency_events_and_histograms() {
        let (mut srv, mut c) = setup();
        srv.latency.add_if_needed(1, "command", 5);
        let r = run(&mut srv, &mut c, &["latency", "latest"]);
        assert!(r.starts_with("*1\r\n*4\r\n$7\r\ncommand\r\n"), "{r}");
        let r = run(&mut srv, &mut c, &["latency", "history", "command"]);
        assert!(r.starts_with("*1\r\n*2\r\n"), "{r}");
        assert_eq!(
            run(&mut srv, &mut c, &["latency", "history", "x"]),
            "*0\r\n"
        );
        assert_eq!(run(&mut srv, &mut c, &["latency", "reset", "x"]), ":0\r\n");
        assert_eq!(run(&mut srv, &mut c, &["latency", "reset"]), ":1\r\n");
        srv.stats.commands.clear();
        run(&mut srv, &mut c, &["client", "id"]);
        run(&mut srv, &mut c, &["ping"]);
        let r = run(
            &mut srv,
            &mut c,
            &["latency", "histogram", "client", "nope"],
        );
        assert!(
            r.starts_with("*2\r\n$9\r\nclient|id\r\n*4\r\n$5\r\ncalls\r\n:1\r\n"),
            "{r}"
        );
        let r = run(&mut srv, &mut c, &["latency", "histogram", "client|id"]);
        assert!(r.starts_with("*2\r\n$9\r\nclient|id"), "{r}");
    }
}
