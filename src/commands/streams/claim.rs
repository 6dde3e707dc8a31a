//! XCLAIM and XAUTOCLAIM (t_stream.c's xclaimCommand and
//! xautoclaimCommand).
//!
//! Neither propagates itself: each claimed (or dropped, deleted) entry
//! propagates as a forced JUSTID XCLAIM carrying its exact delivery time
//! and count, and a LASTID that moved the group alone propagates as
//! XGROUP SETID, as Redis does.

use super::group::{s, stream_group, xclaim_argv};
use super::read::{lookup_or_create_consumer, setid_argv};
use super::*;
use crate::keyspace::stream::Nack;

fn i64_msg(ctx: &mut Ctx, arg: &[u8], msg: &str) -> Option<i64> {
    let v = crate::util::num::parse_i64(arg);
    if v.is_none() {
        ctx.out.error(&format!("ERR {msg}"));
    }
    v
}

/// How a claim sets the delivery time and count.
#[derive(Clone, Copy)]
struct ClaimHow {
    time: i64,
    retry: Option<u64>,
    justid: bool,
}

/// Claims one pending entry for `name` (which exists).
fn claim_one(
    ctx: &mut Ctx,
    key: &Bytes,
    group: &Bytes,
    name: &Bytes,
    id: StreamId,
    how: &ClaimHow,
) {
    let ClaimHow {
        time,
        retry,
        justid,
    } = *how;
    let g = stream_at(ctx, key).groups.get_mut(group).expect("checked");
    let nack = g.pel.get(&id).expect("pending");
    let count = match retry {
        Some(r) => r,
        None if !justid => nack.delivery_count + 1,
        None => nack.delivery_count,
    };
    g.assign(id, name, time, count);
}

pub fn xclaim(ctx: &mut Ctx, args: &[Bytes]) {
    if !stream_group(ctx, &args[1], &args[2]) {
        return;
    }
    let Some(minidle) = i64_msg(ctx, &args[4], "Invalid min-idle-time argument for XCLAIM") else {
        return;
    };
    let minidle = minidle.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(&args[j], 0, true, false) {
            Some((id, _)) => ids.push((id, args[j].clone())),
            None => break,
        }
        j += 1;
    }
    let now = ctx.now_ms;
    let (mut force, mut justid) = (false, false);
    let mut retry: Option<i64> = None;
    let mut time: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let o = &args[j];
        if o.eq_ignore_ascii_case(b"force") {
            force = true;
        } else if o.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else if o.eq_ignore_ascii_case(b"idle") && more > 0 {
            j += 1;
            let Some(v) = i64_msg(ctx, &args[j], "Invalid IDLE option argument for XCLAIM") else {
                return;
            };
            time = Some(now - v);
        } else if o.eq_ignore_ascii_case(b"time") && more > 0 {
            j += 1;
            let Some(v) = i64_msg(ctx, &args[j], "Invalid TIME option argument for XCLAIM") else {
                return;
            };
            time = Some(v);
        } else if o.eq_ignore_ascii_case(b"retrycount") && more > 0 {
            j += 1;
            let Some(v) = i64_msg(
                ctx,
                &args[j],
                "Invalid RETRYCOUNT option argument for XCLAIM",
            ) else {
                return;
            };
            retry = Some(v);
        } else if o.eq_ignore_ascii_case(b"lastid") && more > 0 {
            j += 1;
            let Some(id) = id_or_reply(ctx, &args[j], 0, true) else {
                return;
            };
            last_id = id;
        } else {
            ctx.out
                .error(&format!("ERR Unrecognized XCLAIM option '{}'", s(o)));
            return;
        }
        j += 1;
    }
    ctx.propagate_as = Some(Vec::new());
    let (key, group, name) = (&args[1], &args[2], &args[3]);
    let mut propagate_last_id = false;
    {
        let g = stream_at(ctx, key).groups.get_mut(group).expect("checked");
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
    }
    let time = match time {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    let retry = retry.filter(|&r| r >= 0).map(|r| r as u64);
    let d = ctx.out.defer();
    let mut n = 0;
    let mut consumer_ready = false;
    for (id, arg) in ids {
        let st = stream_at(ctx, key);
        let exists = st.get(id).is_some();
        let g = st.groups.get_mut(group).expect("checked");
        if !exists {
            if let Some(nack) = g.pel.get(&id) {
                let argv = xclaim_argv(key, group, arg, nack, g);
                g.ack(id);
                ctx.propagate(argv);
                propagate_last_id = false;
                ctx.dirty += 1;
            }
            continue;
        }
        let forced_new = !g.pel.contains_key(&id);
        if forced_new && !force {
            continue;
        }
        if !forced_new && minidle != 0 && now - g.pel[&id].delivery_time < minidle {
            continue;
        }
        if forced_new {
            // A NACK without owner yet (streamCreateNACK(NULL)).
            g.pel.insert(
                id,
                Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: Bytes::new(),
                },
            );
        }
        if !consumer_ready {
            lookup_or_create_consumer(ctx, key, group, name);
            consumer_ready = true;
        }
        claim_one(
            ctx,
            key,
            group,
            name,
            id,
            &ClaimHow {
                time,
                retry,
                justid,
            },
        );
        let (st, out) = stream_and_out(ctx, key);
        if justid {
            reply_id(out, id);
        } else {
            reply_entry(out, st.get(id).expect("exists"));
        }
        n += 1;
        let g = &st.groups[group];
        let argv = xclaim_argv(key, group, arg, &g.pel[&id], g);
        ctx.propagate(argv);
        propagate_last_id = false;
        ctx.dirty += 1;
    }
    if propagate_last_id {
        let argv = setid_argv(key, group, &stream_at(ctx, key).groups[group]);
        ctx.propagate(argv);
        ctx.dirty += 1;
    }
    ctx.out.fill(d, crate::protocol::Agg::Array, n);
}

pub fn xautoclaim(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(minidle) = i64_msg(
        ctx,
        &args[4],
        "Invalid min-idle-time argument for XAUTOCLAIM",
    ) else {
        return;
    };
    let minidle = minidle.max(0);
    let Some((mut start, sx)) = interval_id_or_reply(ctx, &args[5], 0) else {
        return;
    };
    if sx {
        match start.incr() {
            Some(i) => start = i,
            None => return ctx.out.error("ERR invalid start ID for the interval"),
        }
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args[j].eq_ignore_ascii_case(b"count") && more > 0 {
            let max = i64::MAX / 16;
            match crate::util::num::parse_i64(&args[j + 1]) {
                Some(c) if (1..=max).contains(&c) => count = c,
                _ => return ctx.out.error("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if args[j].eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        j += 1;
    }
    if !stream_group(ctx, &args[1], &args[2]) {
        return;
    }
    ctx.propagate_as = Some(Vec::new());
    let (key, group, name) = (&args[1], &args[2], &args[3]);
    let now = ctx.now_ms;
    let mut attempts = count.saturating_mul(10);
    // The claimed entries, written after the cursor they are followed by.
    let mut claimed = Reply::new(ctx.out.resp);
    let mut cursor = Some(start);
    let mut deleted = Vec::new();
    let mut n = 0;
    let mut consumer_ready = false;
    loop {
        if attempts == 0 {
            break;
        }
        attempts -= 1;
        if count == 0 {
            break;
        }
        let Some(from) = cursor else { break };
        let st = stream_at(ctx, key);
        let g = &st.groups[group];
        let Some((&id, nack)) = g.pel.range(from..).next() else {
            cursor = None;
            break;
        };
        cursor = id.incr();
        if st.get(id).is_none() {
            let argv = xclaim_argv(key, group, id_bytes(id), nack, g);
            st.groups.get_mut(group).expect("checked").ack(id);
            ctx.propagate(argv);
            ctx.dirty += 1;
            deleted.push(id);
            count -= 1;
            continue;
        }
        if minidle != 0 && now - nack.delivery_time < minidle {
            continue;
        }
        if !consumer_ready {
            lookup_or_create_consumer(ctx, key, group, name);
            consumer_ready = true;
        }
        let how = ClaimHow {
            time: now,
            retry: None,
            justid,
        };
        claim_one(ctx, key, group, name, id, &how);
        let st = stream_at(ctx, key);
        if justid {
            reply_id(&mut claimed, id);
        } else {
            reply_entry(&mut claimed, st.get(id).expect("exists"));
        }
        n += 1;
        count -= 1;
        let g = &st.groups[group];
        let argv = xclaim_argv(key, group, id_bytes(id), &g.pel[&id], g);
        ctx.propagate(argv);
        ctx.dirty += 1;
    }
    let end_id = cursor
        .and_then(|c| {
            stream_at(ctx, key).groups[group]
                .pel
                .range(c..)
                .next()
                .map(|e| *e.0)
        })
        .unwrap_or(StreamId::MIN);
    ctx.out.array_len(3);
    reply_id(ctx.out, end_id);
    ctx.out.array_len(n);
    ctx.out.raw(&claimed.buf);
    ctx.out.array_len(deleted.len());
    for id in deleted {
        reply_id(ctx.out, id);
    }
}
