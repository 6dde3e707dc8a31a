//! Consumer groups: XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER,
//! DELCONSUMER, HELP), XACK and XPENDING (t_stream.c's xgroupCommand,
//! xackCommand, xpendingCommand); XCLAIM and XAUTOCLAIM are in
//! [`super::claim`].

use super::read::lookup_or_create_consumer;
use super::*;
use crate::keyspace::stream::{Group, Nack, INVALID_ENTRIES_READ};

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

pub(super) fn s(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// streamPropagateXCLAIM.
pub(super) fn xclaim_argv(
    key: &Bytes,
    group: &Bytes,
    id_arg: Bytes,
    nack: &Nack,
    g: &Group,
) -> Vec<Bytes> {
    vec![
        b("XCLAIM"),
        key.clone(),
        group.clone(),
        nack.consumer.clone(),
        b("0"),
        id_arg,
        b("TIME"),
        Bytes::from(nack.delivery_time.to_string()),
        b("RETRYCOUNT"),
        Bytes::from(nack.delivery_count.to_string()),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        id_bytes(g.last_id),
    ]
}

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

pub fn help(ctx: &mut Ctx, _args: &[Bytes]) {
    super::super::reply_help(ctx, "XGROUP", XGROUP_HELP);
}

/// xgroupCommand's shared preamble: options, key and group checks.
/// Returns (stream exists, entries_read).
fn preamble(ctx: &mut Ctx, args: &[Bytes]) -> Option<(bool, i64)> {
    let opt = &args[1];
    let create = opt.eq_ignore_ascii_case(b"create");
    let setid = opt.eq_ignore_ascii_case(b"setid");
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let mut i = 5;
    while i < args.len() {
        if create && args[i].eq_ignore_ascii_case(b"mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid)
            && args[i].eq_ignore_ascii_case(b"entriesread")
            && i + 1 < args.len()
        {
            let n = i64_or_reply(ctx, &args[i + 1])?;
            if n < 0 && n != INVALID_ENTRIES_READ {
                ctx.out
                    .error("ERR value for ENTRIESREAD must be positive or -1");
                return None;
            }
            entries_read = n;
            i += 2;
        } else {
            super::super::subcommand_syntax_error(ctx, args);
            return None;
        }
    }
    let exists = match find(ctx, &args[2], true) {
        Found::WrongType => return None,
        Found::Missing => false,
        Found::Stream => true,
    };
    if !mkstream {
        if !exists {
            ctx.out.error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
            return None;
        }
        let has = stream_at(ctx, &args[2]).groups.contains_key(&args[3]);
        if !has && !create && !opt.eq_ignore_ascii_case(b"destroy") {
            ctx.out.error(&format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                s(&args[3]),
                s(&args[2])
            ));
            return None;
        }
    }
    Some((exists, entries_read))
}

pub fn create(ctx: &mut Ctx, args: &[Bytes]) {
    let Some((exists, entries_read)) = preamble(ctx, args) else {
        return;
    };
    if args.len() > 8 {
        return super::super::subcommand_syntax_error(ctx, args);
    }
    let key = &args[2];
    let id = if args[4].as_ref() == b"$" {
        if exists {
            stream_at(ctx, key).last_id
        } else {
            StreamId::MIN
        }
    } else {
        let Some(id) = id_or_reply(ctx, &args[4], 0, true) else {
            return;
        };
        id
    };
    if !exists {
        ctx.set_key(key, Value::Stream(Box::default()), false);
    }
    let st = stream_at(ctx, key);
    if st.groups.contains_key(&args[3]) {
        ctx.out
            .error("BUSYGROUP Consumer Group name already exists");
        return;
    }
    st.groups.insert(
        Bytes::copy_from_slice(&args[3]),
        Group::new(id, entries_read),
    );
    ctx.out.ok();
    ctx.dirty += 1;
    notify_stream(ctx, "xgroup-create", key);
}

pub fn setid(ctx: &mut Ctx, args: &[Bytes]) {
    let Some((_, entries_read)) = preamble(ctx, args) else {
        return;
    };
    if args.len() != 5 && args.len() != 7 {
        return super::super::subcommand_syntax_error(ctx, args);
    }
    let key = &args[2];
    let id = if args[4].as_ref() == b"$" {
        stream_at(ctx, key).last_id
    } else {
        let Some(id) = id_or_reply(ctx, &args[4], 0, false) else {
            return;
        };
        id
    };
    let g = stream_at(ctx, key)
        .groups
        .get_mut(&args[3])
        .expect("checked");
    g.last_id = id;
    g.entries_read = entries_read;
    ctx.out.ok();
    ctx.dirty += 1;
    notify_stream(ctx, "xgroup-setid", key);
}

pub fn destroy(ctx: &mut Ctx, args: &[Bytes]) {
    if preamble(ctx, args).is_none() {
        return;
    }
    let key = &args[2];
    if stream_at(ctx, key).groups.remove(&args[3]).is_some() {
        ctx.out.int(1);
        ctx.dirty += 1;
        notify_stream(ctx, "xgroup-destroy", key);
        // Clients blocked in that group learn it is gone.
        ctx.signal_key_ready(key);
    } else {
        ctx.out.int(0);
    }
}

pub fn createconsumer(ctx: &mut Ctx, args: &[Bytes]) {
    if preamble(ctx, args).is_none() {
        return;
    }
    let exists = stream_at(ctx, &args[2]).groups[&args[3]]
        .consumers
        .contains_key(&args[4]);
    if exists {
        ctx.out.int(0);
    } else {
        lookup_or_create_consumer(ctx, &args[2], &args[3], &args[4]);
        ctx.out.int(1);
    }
}

pub fn delconsumer(ctx: &mut Ctx, args: &[Bytes]) {
    if preamble(ctx, args).is_none() {
        return;
    }
    let g = stream_at(ctx, &args[2])
        .groups
        .get_mut(&args[3])
        .expect("checked");
    match g.delete_consumer(&args[4]) {
        Some(n) => {
            ctx.out.int(n as i64);
            ctx.dirty += 1;
            notify_stream(ctx, "xgroup-delconsumer", &args[2]);
        }
        None => ctx.out.int(0),
    }
}

pub fn xack(ctx: &mut Ctx, args: &[Bytes]) {
    let has = match find(ctx, &args[1], false) {
        Found::WrongType => return,
        Found::Missing => false,
        Found::Stream => stream_at(ctx, &args[1]).groups.contains_key(&args[2]),
    };
    if !has {
        ctx.out.int(0);
        return;
    }
    let mut ids = Vec::with_capacity(args.len() - 3);
    for a in &args[3..] {
        let Some(id) = id_or_reply(ctx, a, 0, true) else {
            return;
        };
        ids.push(id);
    }
    let g = stream_at(ctx, &args[1])
        .groups
        .get_mut(&args[2])
        .expect("checked");
    let n = ids.into_iter().filter(|&id| g.ack(id)).count();
    ctx.dirty += n as u64;
    ctx.out.int(n as i64);
}

fn nogroup(ctx: &mut Ctx, key: &[u8], group: &[u8]) {
    ctx.out.error(&format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        s(key),
        s(group)
    ));
}

/// Looks up the stream and group for XPENDING / XCLAIM / XAUTOCLAIM,
/// replying WRONGTYPE or NOGROUP. True when both exist.
pub(super) fn stream_group(ctx: &mut Ctx, key: &[u8], group: &[u8]) -> bool {
    let has = match find(ctx, key, false) {
        Found::WrongType => return false,
        Found::Missing => false,
        Found::Stream => stream_at(ctx, key).groups.contains_key(group),
    };
    if !has {
        nogroup(ctx, key, group);
    }
    has
}

pub fn xpending(ctx: &mut Ctx, args: &[Bytes]) {
    let justinfo = args.len() == 3;
    if args.len() != 3 && (args.len() < 6 || args.len() > 9) {
        ctx.out.error(err::SYNTAX);
        return;
    }
    let (mut start, mut end, mut count, mut minidle) = (StreamId::MIN, StreamId::MAX, 0i64, 0i64);
    let mut consumer = None;
    if args.len() >= 6 {
        let mut si = 3;
        if args[3].eq_ignore_ascii_case(b"idle") {
            let Some(m) = i64_or_reply(ctx, &args[4]) else {
                return;
            };
            minidle = m;
            if args.len() < 8 {
                ctx.out.error(err::SYNTAX);
                return;
            }
            si += 2;
        }
        let Some(c) = i64_or_reply(ctx, &args[si + 2]) else {
            return;
        };
        count = c.max(0);
        let Some((st, sx)) = interval_id_or_reply(ctx, &args[si], 0) else {
            return;
        };
        start = st;
        if sx {
            match start.incr() {
                Some(i) => start = i,
                None => return ctx.out.error("ERR invalid start ID for the interval"),
            }
        }
        let Some((en, ex)) = interval_id_or_reply(ctx, &args[si + 1], u64::MAX) else {
            return;
        };
        end = en;
        if ex {
            match end.decr() {
                Some(i) => end = i,
                None => return ctx.out.error("ERR invalid end ID for the interval"),
            }
        }
        consumer = args.get(si + 3).cloned();
    }
    if !stream_group(ctx, &args[1], &args[2]) {
        return;
    }
    let now = ctx.now_ms;
    let (st, out) = stream_and_out(ctx, &args[1]);
    let g = &st.groups[&args[2]];
    if justinfo {
        out.array_len(4);
        out.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(&a), Some(&z)) => {
                reply_id(out, a);
                reply_id(out, z);
                let with: Vec<_> = g.consumers.iter().filter(|c| !c.1.pel.is_empty()).collect();
                out.array_len(with.len());
                for (name, c) in with {
                    out.array_len(2);
                    out.bulk(name);
                    out.bulk(c.pel.len().to_string().as_bytes());
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return;
    }
    let ids: Box<dyn Iterator<Item = StreamId>> = match &consumer {
        Some(c) => match g.consumers.get(c) {
            Some(c) => Box::new(c.pel.range(start..).copied()),
            None => return out.array_len(0),
        },
        None => Box::new(g.pel.range(start..).map(|e| *e.0)),
    };
    let d = out.defer();
    let mut n = 0;
    for id in ids {
        if count == 0 || id > end {
            break;
        }
        let nack = &g.pel[&id];
        if minidle != 0 && now - nack.delivery_time < minidle {
            continue;
        }
        n += 1;
        count -= 1;
        out.array_len(4);
        reply_id(out, id);
        out.bulk(&nack.consumer);
        out.int((now - nack.delivery_time).max(0));
        out.int(nack.delivery_count as i64);
    }
    out.fill(d, crate::protocol::Agg::Array, n);
}
