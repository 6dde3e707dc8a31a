//! XREAD and XREADGROUP (t_stream.c's xreadCommand and
//! streamReplyWithRange, blocked.c's serveClientsBlockedOnStreamKey).
//!
//! Neither command propagates itself: XREADGROUP propagates what it did
//! to the group (an XCLAIM per delivered entry, XGROUP SETID under NOACK,
//! XGROUP CREATECONSUMER for a consumer created under NOACK). A blocked
//! read is re-run with `srv.blocking.serving` naming the ready key, and
//! `$` already resolved to the ID it stood for when the client blocked.

use super::*;
use crate::keyspace::stream::Group;
use crate::protocol::Agg;

/// XREAD BLOCK without COUNT serves at most this many entries.
const BLOCKED_DEFAULT_COUNT: usize = 1000;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// What a group read does (XREADGROUP's GROUP, consumer and NOACK).
pub struct GroupRead<'a> {
    pub key: &'a Bytes,
    pub group: &'a Bytes,
    pub consumer: &'a Bytes,
    pub noack: bool,
}

/// streamReplyWithRange for reads: entries after `start`, delivering to
/// a group when given. Returns the commands to propagate.
pub fn reply_read(
    s: &mut Stream,
    out: &mut Reply,
    start: StreamId,
    count: usize,
    gr: Option<&GroupRead>,
    now: i64,
) -> Vec<Vec<Bytes>> {
    let mut props = Vec::new();
    let Some(gr) = gr else {
        let d = out.defer();
        let mut n = 0;
        for e in s.range(start, StreamId::MAX, false) {
            reply_entry(out, e);
            n += 1;
            if count != 0 && n == count {
                break;
            }
        }
        out.fill(d, Agg::Array, n);
        return props;
    };
    let (gname, mut g) = s.groups.remove_entry(gr.group).expect("group checked");
    let d = out.defer();
    let mut n = 0;
    let mut propagate_last_id = false;
    let time = Bytes::copy_from_slice(itoa::Buffer::new().format(now).as_bytes());
    for e in s.range(start, StreamId::MAX, false) {
        let id = e.id;
        if s.group_deliver(&mut g, id) && gr.noack {
            propagate_last_id = true;
        }
        reply_entry(out, e);
        if !gr.noack {
            g.assign(id, gr.consumer, now, 1);
            let idb = id_bytes(id);
            let last = if g.last_id == id {
                idb.clone()
            } else {
                id_bytes(g.last_id)
            };
            props.push(vec![
                b("XCLAIM"),
                gr.key.clone(),
                gr.group.clone(),
                gr.consumer.clone(),
                b("0"),
                idb,
                b("TIME"),
                time.clone(),
                b("RETRYCOUNT"),
                b("1"),
                b("FORCE"),
                b("JUSTID"),
                b("LASTID"),
                last,
            ]);
        }
        n += 1;
        if count != 0 && n == count {
            break;
        }
    }
    if propagate_last_id {
        props.push(setid_argv(gr.key, gr.group, &g));
    }
    s.groups.insert(gname, g);
    out.fill(d, Agg::Array, n);
    props
}

/// `XGROUP SETID key group <last-id> ENTRIESREAD <n>` (streamPropagateGroupID).
pub fn setid_argv(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        b("XGROUP"),
        b("SETID"),
        key.clone(),
        group.clone(),
        id_bytes(g.last_id),
        b("ENTRIESREAD"),
        Bytes::from(g.entries_read.to_string()),
    ]
}

/// streamReplyWithRangeFromConsumerPEL: the consumer's own pending
/// entries from `start`, deleted ones as `[id, nil]`.
fn reply_history(
    s: &mut Stream,
    out: &mut Reply,
    start: StreamId,
    count: usize,
    gr: &GroupRead,
    now: i64,
) {
    let (gname, mut g) = s.groups.remove_entry(gr.group).expect("group checked");
    let ids: Vec<StreamId> = g.consumers[gr.consumer]
        .pel
        .range(start..)
        .take(if count == 0 { usize::MAX } else { count })
        .copied()
        .collect();
    out.array_len(ids.len());
    for id in ids {
        match s.get(id) {
            Some(e) => {
                reply_entry(out, e);
                if let Some(n) = g.pel.get_mut(&id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
            None => {
                out.array_len(2);
                reply_id(out, id);
                out.null_array();
            }
        }
    }
    s.groups.insert(gname, g);
}

/// Finds (refreshing its seen time) or creates a consumer; the new one
/// fires "xgroup-createconsumer" and counts as a change.
pub fn lookup_or_create_consumer(ctx: &mut Ctx, key: &Bytes, group: &Bytes, name: &Bytes) -> bool {
    let now = ctx.now_ms;
    let g = stream_at(ctx, key)
        .groups
        .get_mut(group)
        .expect("group checked");
    if let Some(c) = g.consumers.get_mut(name) {
        c.seen_time = now;
        return false;
    }
    g.consumers.insert(
        Bytes::copy_from_slice(name),
        crate::keyspace::stream::Consumer {
            seen_time: now,
            pel: Default::default(),
        },
    );
    ctx.dirty += 1;
    notify_stream(ctx, "xgroup-createconsumer", key);
    true
}

struct ReadArgs {
    block: Option<Option<i64>>,
    count: i64,
    streams_arg: usize,
    n: usize,
    group: Option<(Bytes, Bytes)>,
    noack: bool,
}

fn parse(ctx: &mut Ctx, args: &[Bytes], xreadgroup: bool) -> Option<ReadArgs> {
    let mut r = ReadArgs {
        block: None,
        count: 0,
        streams_arg: 0,
        n: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i];
        if o.eq_ignore_ascii_case(b"block") && more > 0 {
            if ctx.client.flags.script {
                // Redis refuses BLOCK in scripts outright (not only
                // answering at once as inside MULTI).
                let name = String::from_utf8_lossy(&args[0]).into_owned();
                ctx.out.error(&format!(
                    "ERR {name} command is not allowed with BLOCK option from scripts"
                ));
                return None;
            }
            i += 1;
            let Some(ms) = crate::util::num::parse_i64(&args[i]) else {
                ctx.out
                    .error("ERR timeout is not an integer or out of range");
                return None;
            };
            if ms < 0 {
                ctx.out.error("ERR timeout is negative");
                return None;
            }
            r.block = Some((ms > 0).then(|| ctx.now_ms.saturating_add(ms)));
        } else if o.eq_ignore_ascii_case(b"count") && more > 0 {
            i += 1;
            r.count = i64_or_reply(ctx, &args[i])?.max(0);
        } else if o.eq_ignore_ascii_case(b"streams") && more > 0 {
            r.streams_arg = i + 1;
            let n = args.len() - r.streams_arg;
            if !n.is_multiple_of(2) {
                ctx.out.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
                return None;
            }
            r.n = n / 2;
            break;
        } else if o.eq_ignore_ascii_case(b"group") && more >= 2 {
            if !xreadgroup {
                ctx.out.error(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                );
                return None;
            }
            r.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 2;
        } else if o.eq_ignore_ascii_case(b"noack") {
            if !xreadgroup {
                ctx.out.error(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                );
                return None;
            }
            r.noack = true;
        } else {
            ctx.out.error(err::SYNTAX);
            return None;
        }
        i += 1;
    }
    if r.streams_arg == 0 {
        ctx.out.error(err::SYNTAX);
        return None;
    }
    if xreadgroup && r.group.is_none() {
        ctx.out.error("ERR Missing GROUP option for XREADGROUP");
        return None;
    }
    Some(r)
}

fn has_group(ctx: &mut Ctx, key: &[u8], group: &[u8]) -> bool {
    let db = ctx.client.db;
    matches!(ctx.srv.dbs[db].get(key).map(|e| &e.value),
        Some(Value::Stream(s)) if s.groups.contains_key(group))
}

fn xread_generic(ctx: &mut Ctx, args: &[Bytes], xreadgroup: bool) {
    // Neither read propagates itself (preventCommandPropagation).
    ctx.propagate_as = Some(Vec::new());
    let Some(r) = parse(ctx, args, xreadgroup) else {
        return;
    };
    let keys: Vec<Bytes> = args[r.streams_arg..r.streams_arg + r.n].to_vec();
    if let Some(ready) = ctx.srv.blocking.serving.clone() {
        return serve_blocked(ctx, args, &r, &keys, &ready);
    }
    // None: ">" (new entries for the group).
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(r.n);
    let mut rerun = args.to_vec();
    for (j, key) in keys.iter().enumerate() {
        let idx = r.streams_arg + r.n + j;
        let found = find(ctx, key, false);
        if matches!(found, Found::WrongType) {
            return;
        }
        if let Some((g, _)) = &r.group {
            if !has_group(ctx, key, g) {
                ctx.out.error(&format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(g)
                ));
                return;
            }
        }
        let a = &args[idx];
        if a.as_ref() == b"$" {
            if xreadgroup {
                ctx.out.error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
                return;
            }
            let id = match found {
                Found::Stream => stream_at(ctx, key).last_id,
                _ => StreamId::MIN,
            };
            rerun[idx] = id_bytes(id);
            ids.push(Some(id));
        } else if a.as_ref() == b">" {
            if !xreadgroup {
                ctx.out.error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
                return;
            }
            ids.push(None);
        } else {
            let Some(id) = id_or_reply(ctx, a, 0, true) else {
                return;
            };
            ids.push(Some(id));
        }
    }
    let resp3 = ctx.out.is_resp3();
    let mut d = None;
    let mut served = 0;
    for (j, key) in keys.iter().enumerate() {
        if !matches!(find(ctx, key, false), Found::Stream) {
            continue;
        }
        let s = stream_at(ctx, key);
        let last_valid = s.edge_id(false);
        let (sync, history, gt) = match (&r.group, ids[j]) {
            (Some(_), Some(id)) => (true, true, id),
            (Some((g, _)), None) => {
                let last = s.groups[g].last_id;
                (last_valid.is_some_and(|m| m > last), false, last)
            }
            (None, Some(id)) => (last_valid.is_some_and(|m| m > id), false, id),
            (None, None) => unreachable!("> refused for XREAD"),
        };
        if !sync {
            continue;
        }
        served += 1;
        if served == 1 {
            d = Some(ctx.out.defer());
        }
        if !resp3 {
            ctx.out.array_len(2);
        }
        ctx.out.bulk(key);
        let start = gt.incr().unwrap_or(StreamId::MAX);
        read_one(ctx, key, start, r.count as usize, &r, history);
        if r.group.is_some() {
            ctx.dirty += 1;
        }
    }
    if let Some(d) = d {
        ctx.out
            .fill(d, if resp3 { Agg::Map } else { Agg::Array }, served);
        return;
    }
    match r.block {
        Some(deadline) if ctx.may_block() => ctx.block_on_keys_rerun(keys, deadline, rerun),
        _ => ctx.out.null_array(),
    }
}

/// Serves one stream's part of the reply (creating the consumer first).
fn read_one(
    ctx: &mut Ctx,
    key: &Bytes,
    start: StreamId,
    count: usize,
    r: &ReadArgs,
    history: bool,
) {
    let now = ctx.now_ms;
    let Some((g, c)) = &r.group else {
        let (s, out) = stream_and_out(ctx, key);
        reply_read(s, out, start, count, None, now);
        return;
    };
    if lookup_or_create_consumer(ctx, key, g, c) && r.noack {
        ctx.propagate(vec![
            b("XGROUP"),
            b("CREATECONSUMER"),
            key.clone(),
            g.clone(),
            c.clone(),
        ]);
    }
    let gr = GroupRead {
        key,
        group: g,
        consumer: c,
        noack: r.noack,
    };
    let (s, out) = stream_and_out(ctx, key);
    if history {
        reply_history(s, out, start, count, &gr, now);
    } else {
        for p in reply_read(s, out, start, count, Some(&gr), now) {
            ctx.propagate(p);
        }
    }
}

/// The re-run of a blocked read for the ready key `ready`.
fn serve_blocked(ctx: &mut Ctx, args: &[Bytes], r: &ReadArgs, keys: &[Bytes], ready: &Bytes) {
    let Some(j) = keys.iter().position(|k| k == ready) else {
        return ctx.block_on_keys(keys.to_vec(), None);
    };
    let is_stream = matches!(
        ctx.lookup_write(ready).map(|e| &e.value),
        Some(Value::Stream(_))
    );
    if !is_stream {
        if r.group.is_some() {
            ctx.out.error("UNBLOCKED the stream key no longer exists");
        } else {
            ctx.block_on_keys(keys.to_vec(), None);
        }
        return;
    }
    let s = stream_at(ctx, ready);
    let gt = match &r.group {
        Some((g, _)) => match s.groups.get(g) {
            Some(g) => g.last_id,
            None => {
                ctx.out.error(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                );
                return;
            }
        },
        None => parse_id(&args[r.streams_arg + r.n + j], 0, true, false)
            .map(|x| x.0)
            .unwrap_or_default(),
    };
    if s.last_id <= gt {
        return ctx.block_on_keys(keys.to_vec(), None);
    }
    if ctx.out.is_resp3() {
        ctx.out.map_len(1);
    } else {
        ctx.out.array_len(1);
        ctx.out.array_len(2);
    }
    ctx.out.bulk(ready);
    let count = if r.count > 0 {
        r.count as usize
    } else {
        BLOCKED_DEFAULT_COUNT
    };
    let start = gt.incr().unwrap_or(StreamId::MAX);
    read_one(ctx, ready, start, count, r, false);
}

pub fn xread(ctx: &mut Ctx, args: &[Bytes]) {
    xread_generic(ctx, args, false)
}

pub fn xreadgroup(ctx: &mut Ctx, args: &[Bytes]) {
    xread_generic(ctx, args, true)
}
