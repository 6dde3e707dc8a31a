//! Connection commands: PING ECHO SELECT QUIT HELLO AUTH RESET.

use super::table::{flags::*, CommandDef, KeyPos};
use super::{err, Ctx};
use crate::util::num::parse_i64;
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("ping", -1, FAST | PUBSUB_CONTEXT, KeyPos::None, ping).doc(
        "connection",
        "1.0.0",
        "Ping the server",
        "O(1)",
    ),
    CommandDef::new("echo", 2, LOADING | STALE | FAST, KeyPos::None, echo).doc(
        "connection",
        "1.0.0",
        "Echo the given string",
        "O(1)",
    ),
    CommandDef::new("select", 2, LOADING | STALE | FAST, KeyPos::None, select).doc(
        "connection",
        "1.0.0",
        "Change the selected database for the current connection",
        "O(1)",
    ),
    CommandDef::new(
        "quit",
        -1,
        ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | PUBSUB_CONTEXT,
        KeyPos::None,
        quit,
    )
    .doc("connection", "1.0.0", "Close the connection", "O(1)"),
    CommandDef::new(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        KeyPos::None,
        hello,
    )
    .doc("connection", "6.0.0", "Handshake with Redis", "O(1)"),
    CommandDef::new(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        KeyPos::None,
        auth,
    )
    .doc(
        "connection",
        "1.0.0",
        "Authenticate to the server",
        "O(N) where N is the number of passwords defined for the user",
    ),
    CommandDef::new(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | PUBSUB_CONTEXT,
        KeyPos::None,
        reset,
    )
    .doc("connection", "6.2.0", "Reset the connection", "O(1)"),
];

fn ping(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() > 2 {
        ctx.out
            .error("ERR wrong number of arguments for 'ping' command");
        return;
    }
    if ctx.client.in_pubsub_context() {
        ctx.out.array_len(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).map(|b| &b[..]).unwrap_or(b""));
    } else if let Some(m) = args.get(1) {
        ctx.out.bulk(m);
    } else {
        ctx.out.simple("PONG");
    }
}

fn echo(ctx: &mut Ctx, args: &[Bytes]) {
    ctx.out.bulk(&args[1]);
}

fn select(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(id) = super::parse_i32_or_reply(ctx, &args[1]) else {
        return;
    };
    if id < 0 || id as usize >= ctx.srv.dbs.len() {
        ctx.out.error(err::DB_INDEX);
        return;
    }
    ctx.client.db = id as usize;
    ctx.out.ok();
}

fn quit(ctx: &mut Ctx, _args: &[Bytes]) {
    ctx.out.ok();
    ctx.client.flags.close_after_reply = true;
}

/// Checks a password for the default user; replies the error on failure.
fn check_password(ctx: &mut Ctx, user: Option<&[u8]>, pass: &[u8]) -> bool {
    if let Some(u) = user {
        if u != b"default" {
            ctx.out
                .error("WRONGPASS invalid username-password pair or user is disabled.");
            return false;
        }
    }
    let ok = match &ctx.srv.config.requirepass {
        Some(p) => p.as_slice() == pass,
        None => true, // "nopass" default user accepts any password
    };
    if !ok {
        ctx.out
            .error("WRONGPASS invalid username-password pair or user is disabled.");
        return false;
    }
    ctx.client.authenticated = true;
    true
}

fn auth(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() > 3 {
        ctx.out.error(err::SYNTAX);
        return;
    }
    if args.len() == 2 && ctx.srv.config.requirepass.is_none() {
        ctx.out.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        return;
    }
    let (user, pass) = if args.len() == 3 {
        (Some(&args[1][..]), &args[2][..])
    } else {
        (None, &args[1][..])
    };
    if check_password(ctx, user, pass) {
        ctx.out.ok();
    }
}

fn hello(ctx: &mut Ctx, args: &[Bytes]) {
    let mut ver = 0;
    let mut i = 1;
    if args.len() >= 2 {
        match parse_i64(&args[1]) {
            Some(v) => ver = v,
            None => {
                ctx.out
                    .error("ERR Protocol version is not an integer or out of range");
                return;
            }
        }
        i = 2;
        if !(2..=3).contains(&ver) {
            ctx.out.error("NOPROTO unsupported protocol version");
            return;
        }
    }
    let mut setname = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        let opt = args[i].to_ascii_lowercase();
        if opt == b"auth" && more >= 2 {
            if !check_password(ctx, Some(&args[i + 1].clone()), &args[i + 2].clone()) {
                return;
            }
            i += 3;
        } else if opt == b"setname" && more >= 1 {
            if !super::client::valid_client_name(&args[i + 1]) {
                ctx.out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return;
            }
            setname = Some(args[i + 1].clone());
            i += 2;
        } else {
            ctx.out.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            ));
            return;
        }
    }
    if ctx.srv.config.requirepass.is_some() && !ctx.client.authenticated {
        ctx.out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if let Some(n) = setname {
        ctx.client.name = if n.is_empty() { None } else { Some(n) };
    }
    if ver != 0 {
        ctx.client.resp = ver as u8;
        ctx.out.resp = ver as u8;
    }
    let id = ctx.client.id as i64;
    let resp = ctx.client.resp as i64;
    let out = &mut *ctx.out;
    out.map_len(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::server::run::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(resp);
    out.bulk(b"id");
    out.int(id);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array_len(0);
}

fn reset(ctx: &mut Ctx, _args: &[Bytes]) {
    super::multi::discard_transaction(ctx.srv, ctx.client);
    super::multi::unwatch_all_of(ctx.srv, ctx.client);
    let id = ctx.client.id;
    ctx.srv.monitors.retain(|&m| m != id);
    ctx.client.flags.monitor = false;
    super::pubsub::unsubscribe_everything(ctx);
    ctx.client.db = 0;
    ctx.client.resp = 2;
    ctx.out.resp = 2;
    ctx.client.name = None;
    ctx.client.flags.reply_off = false;
    ctx.client.flags.reply_skip = false;
    ctx.client.flags.reply_skip_next = false;
    ctx.client.flags.no_evict = false;
    ctx.client.authenticated = ctx.srv.config.requirepass.is_none();
    ctx.out.simple("RESET");
}
