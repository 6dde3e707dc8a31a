//! Stream commands (Redis 7.0's t_stream.c): the command table and the
//! helpers they share (ID parsing, entry replies, typed lookups). Adding,
//! ranges, deletion and trimming live in [`add`]; XREAD / XREADGROUP in
//! [`read`]; consumer groups in [`group`]; XINFO in [`info`].

mod add;
mod claim;
mod group;
mod info;
mod read;
#[cfg(test)]
mod tests;

use super::ctx::notify;
use super::table::{flags::*, CommandDef, KeyPos, K1};
use super::{err, Ctx};
use crate::keyspace::stream::{Entry, Stream, StreamId};
use crate::keyspace::Value;
use crate::persistence::rdb::listpack::LpEntry;
use crate::protocol::Reply;
use bytes::Bytes;

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// streamGenericParseIDOrReply without the reply: `strict` refuses `-`
/// and `+`; `allow_seq_star` accepts `<ms>-*` (then the bool is false).
pub fn parse_id(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_seq_star: bool,
) -> Option<(StreamId, bool)> {
    if arg.len() > 127 {
        return None;
    }
    if arg == b"-" {
        return (!strict).then_some((StreamId::MIN, true));
    }
    if arg == b"+" {
        return (!strict).then_some((StreamId::MAX, true));
    }
    let (ms, seq) = match arg.iter().position(|&c| c == b'-') {
        Some(p) => (&arg[..p], Some(&arg[p + 1..])),
        None => (arg, None),
    };
    let ms = crate::util::num::parse_u64(ms)?;
    match seq {
        Some(b"*") if allow_seq_star => Some((StreamId::new(ms, 0), false)),
        Some(s) => Some((StreamId::new(ms, crate::util::num::parse_u64(s)?), true)),
        None => Some((StreamId::new(ms, missing_seq), true)),
    }
}

/// Parses an ID or replies the invalid-ID error.
pub fn id_or_reply(ctx: &mut Ctx, arg: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
    match parse_id(arg, missing_seq, strict, false) {
        Some((id, _)) => Some(id),
        None => {
            ctx.out.error(INVALID_ID);
            None
        }
    }
}

/// streamParseIntervalIDOrReply: `(id` is exclusive (and strict).
pub fn interval_id_or_reply(
    ctx: &mut Ctx,
    arg: &[u8],
    missing_seq: u64,
) -> Option<(StreamId, bool)> {
    if arg.len() > 1 && arg[0] == b'(' {
        id_or_reply(ctx, &arg[1..], missing_seq, true).map(|id| (id, true))
    } else {
        id_or_reply(ctx, arg, missing_seq, false).map(|id| (id, false))
    }
}

pub fn id_bytes(id: StreamId) -> Bytes {
    Bytes::copy_from_slice(id.text().as_bytes())
}

pub fn reply_id(out: &mut Reply, id: StreamId) {
    out.bulk(id.text().as_bytes());
}

/// One entry: `[id, [field, value, ...]]`.
pub fn reply_entry(out: &mut Reply, e: Entry) {
    out.array_len(2);
    reply_id(out, e.id);
    out.array_len(e.len());
    for f in e.fields() {
        match f {
            LpEntry::Str(s) => out.bulk(s),
            LpEntry::Int(n) => out.bulk_int(n),
        }
    }
}

/// Redis's getLongLongFromObjectOrReply.
pub fn i64_or_reply(ctx: &mut Ctx, arg: &[u8]) -> Option<i64> {
    let v = crate::util::num::parse_i64(arg);
    if v.is_none() {
        ctx.out.error(err::NOT_INT);
    }
    v
}

/// What a typed lookup found.
pub enum Found {
    Missing,
    WrongType,
    Stream,
}

/// Looks `key` up (read or write); replies WRONGTYPE for other types.
pub fn find(ctx: &mut Ctx, key: &[u8], write: bool) -> Found {
    let e = if write {
        ctx.lookup_write(key)
    } else {
        ctx.lookup_read(key)
    };
    match e {
        None => Found::Missing,
        Some(e) if matches!(e.value, Value::Stream(_)) => Found::Stream,
        Some(_) => {
            ctx.out.error(err::WRONGTYPE);
            Found::WrongType
        }
    }
}

/// The stream at `key` (checked to exist) and the reply buffer.
pub fn stream_and_out<'a>(ctx: &'a mut Ctx, key: &[u8]) -> (&'a mut Stream, &'a mut Reply) {
    let db = ctx.client.db;
    match ctx.srv.dbs[db].get_mut(key).map(|e| &mut e.value) {
        Some(Value::Stream(s)) => (s, &mut *ctx.out),
        _ => panic!("stream_and_out: key checked to hold a stream"),
    }
}

pub fn stream_at<'a>(ctx: &'a mut Ctx, key: &[u8]) -> &'a mut Stream {
    stream_and_out(ctx, key).0
}

/// Stream node limits from the config.
pub fn node_limits(ctx: &Ctx) -> (i64, u64) {
    (
        ctx.srv.config.stream_node_max_entries,
        ctx.srv.config.stream_node_max_bytes,
    )
}

pub fn notify_stream(ctx: &mut Ctx, event: &str, key: &[u8]) {
    ctx.notify(notify::STREAM, event, key);
}

/// XREAD / XREADGROUP keys: after STREAMS, the first half of the rest.
fn xread_keys(args: &[Bytes]) -> Vec<usize> {
    let Some(p) = args.iter().position(|a| a.eq_ignore_ascii_case(b"streams")) else {
        return Vec::new();
    };
    let n = (args.len() - p - 1) / 2;
    (p + 1..p + 1 + n).collect()
}

const XREAD_KEYS: KeyPos = KeyPos::Custom(xread_keys);
const K2: KeyPos = KeyPos::Range {
    first: 2,
    last: 2,
    step: 1,
};

const GROUP_SUBS: &[CommandDef] = &[
    CommandDef::new("create", -5, WRITE | DENYOOM, K2, group::create),
    CommandDef::new("setid", -5, WRITE, K2, group::setid),
    CommandDef::new("destroy", 4, WRITE, K2, group::destroy),
    CommandDef::new(
        "createconsumer",
        5,
        WRITE | DENYOOM,
        K2,
        group::createconsumer,
    ),
    CommandDef::new("delconsumer", 5, WRITE, K2, group::delconsumer),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, group::help),
];

const INFO_SUBS: &[CommandDef] = &[
    CommandDef::new("stream", -3, READONLY, K2, info::stream),
    CommandDef::new("groups", 3, READONLY, K2, info::groups),
    CommandDef::new("consumers", 4, READONLY, K2, info::consumers),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, info::help),
];

const DOC_LOGN: &str =
    "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.";

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("xadd", -5, WRITE | DENYOOM | FAST, K1, add::xadd).doc(
        "stream",
        "5.0.0",
        "Appends a new entry to a stream",
        DOC_LOGN,
    ),
    CommandDef::new("xlen", 2, READONLY | FAST, K1, add::xlen).doc(
        "stream",
        "5.0.0",
        "Return the number of entries in a stream",
        "O(1)",
    ),
    CommandDef::new("xrange", -4, READONLY, K1, add::xrange).doc(
        "stream",
        "5.0.0",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
    ),
    CommandDef::new("xrevrange", -4, READONLY, K1, add::xrevrange).doc(
        "stream",
        "5.0.0",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
        "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
    ),
    CommandDef::new("xdel", -3, WRITE | FAST, K1, add::xdel).doc(
        "stream",
        "5.0.0",
        "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
        "O(1) for each single item to delete in the stream, regardless of the stream size.",
    ),
    CommandDef::new("xtrim", -4, WRITE, K1, add::xtrim).doc(
        "stream",
        "5.0.0",
        "Trims the stream to (approximately if '~' is passed) a certain size",
        "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
    ),
    CommandDef::new("xsetid", -3, WRITE | DENYOOM | FAST, K1, add::xsetid).doc(
        "stream",
        "5.0.0",
        "An internal command for replicating stream values",
        "O(1)",
    ),
    CommandDef::new("xread", -4, READONLY | BLOCKING | MOVABLE_KEYS, XREAD_KEYS, read::xread).doc(
        "stream",
        "5.0.0",
        "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
        "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
    ),
    CommandDef::new("xreadgroup", -7, WRITE | BLOCKING | MOVABLE_KEYS, XREAD_KEYS, read::xreadgroup).doc(
        "stream",
        "5.0.0",
        "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
        "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
    ),
    CommandDef::new("xgroup", -2, 0, KeyPos::None, super::container_help)
        .doc("stream", "5.0.0", "A container for consumer groups commands", "Depends on subcommand.")
        .subs(GROUP_SUBS),
    CommandDef::new("xack", -4, WRITE | FAST, K1, group::xack).doc(
        "stream",
        "5.0.0",
        "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
        "O(1) for each message ID processed.",
    ),
    CommandDef::new("xpending", -3, READONLY, K1, group::xpending).doc(
        "stream",
        "5.0.0",
        "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
        "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
    ),
    CommandDef::new("xclaim", -6, WRITE | FAST, K1, claim::xclaim).doc(
        "stream",
        "5.0.0",
        "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
        "O(log N) with N being the number of messages in the PEL of the consumer group.",
    ),
    CommandDef::new("xautoclaim", -6, WRITE | FAST, K1, claim::xautoclaim).doc(
        "stream",
        "6.2.0",
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
        "O(1) if COUNT is small.",
    ),
    CommandDef::new("xinfo", -2, 0, KeyPos::None, super::container_help)
        .doc("stream", "5.0.0", "A container for stream introspection commands", "Depends on subcommand.")
        .subs(INFO_SUBS),
];
