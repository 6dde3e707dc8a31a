//! List commands (Redis 7.0's t_list.c): the command table, the shared
//! helpers, and the reading commands here; pushes, pops and in-place
//! edits in [`edit`]; LMOVE, LMPOP and the blocking commands in [`bpop`].
//!
//! Replies, error strings, keyspace events ("lpush", "rpush", "lpop",
//! "rpop", "linsert", "lset", "lrem", "ltrim", and "del" when a list
//! becomes empty), dirty counts and the propagated forms follow Redis.
//! Every list is encoded `quicklist`, as in Redis 7.0 (see
//! [`crate::keyspace::list`]).

mod bpop;
mod edit;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

use super::ctx::notify;
use super::table::{flags::*, CommandDef, KeyPos};
use super::table::{K1, K12};
use super::{err, Ctx};
use crate::keyspace::list::{End, ListValue};
use crate::keyspace::Value;
use crate::persistence::rdb::listpack::LpEntry;
use crate::server::Server;
use bytes::Bytes;

const KBPOP: KeyPos = KeyPos::Range {
    first: 1,
    last: -2,
    step: 1,
};
const KLMPOP: KeyPos = KeyPos::NumKeys {
    count_at: 1,
    first: 2,
    step: 1,
};
const KBLMPOP: KeyPos = KeyPos::NumKeys {
    count_at: 2,
    first: 3,
    step: 1,
};

const PUSH_DOC: &str = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";
const MPOP_DOC: &str =
    "O(N+M) where N is the number of provided keys and M is the number of elements returned.";

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("lpush", -3, WRITE | DENYOOM | FAST, K1, edit::lpush).doc(
        "list",
        "1.0.0",
        "Prepend one or multiple elements to a list",
        PUSH_DOC,
    ),
    CommandDef::new("rpush", -3, WRITE | DENYOOM | FAST, K1, edit::rpush).doc(
        "list",
        "1.0.0",
        "Append one or multiple elements to a list",
        PUSH_DOC,
    ),
    CommandDef::new("lpushx", -3, WRITE | DENYOOM | FAST, K1, edit::lpushx).doc(
        "list",
        "2.2.0",
        "Prepend an element to a list, only if the list exists",
        PUSH_DOC,
    ),
    CommandDef::new("rpushx", -3, WRITE | DENYOOM | FAST, K1, edit::rpushx).doc(
        "list",
        "2.2.0",
        "Append an element to a list, only if the list exists",
        PUSH_DOC,
    ),
    CommandDef::new("lpop", -2, WRITE | FAST, K1, edit::lpop).doc(
        "list",
        "1.0.0",
        "Remove and get the first elements in a list",
        "O(N) where N is the number of elements returned",
    ),
    CommandDef::new("rpop", -2, WRITE | FAST, K1, edit::rpop).doc(
        "list",
        "1.0.0",
        "Remove and get the last elements in a list",
        "O(N) where N is the number of elements returned",
    ),
    CommandDef::new("llen", 2, READONLY | FAST, K1, llen).doc(
        "list",
        "1.0.0",
        "Get the length of a list",
        "O(1)",
    ),
    CommandDef::new("lrange", 4, READONLY, K1, lrange).doc(
        "list",
        "1.0.0",
        "Get a range of elements from a list",
        "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
    ),
    CommandDef::new("lindex", 3, READONLY, K1, lindex).doc(
        "list",
        "1.0.0",
        "Get an element from a list by its index",
        "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
    ),
    CommandDef::new("lset", 4, WRITE | DENYOOM, K1, edit::lset).doc(
        "list",
        "1.0.0",
        "Set the value of an element in a list by its index",
        "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
    ),
    CommandDef::new("linsert", 5, WRITE | DENYOOM, K1, edit::linsert).doc(
        "list",
        "2.2.0",
        "Insert an element before or after another element in a list",
        "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
    ),
    CommandDef::new("lrem", 4, WRITE, K1, edit::lrem).doc(
        "list",
        "1.0.0",
        "Remove elements from a list",
        "O(N+M) where N is the length of the list and M is the number of elements removed.",
    ),
    CommandDef::new("ltrim", 4, WRITE, K1, edit::ltrim).doc(
        "list",
        "1.0.0",
        "Trim a list to the specified range",
        "O(N) where N is the number of elements to be removed by the operation.",
    ),
    CommandDef::new("lpos", -3, READONLY, K1, lpos).doc(
        "list",
        "6.0.6",
        "Return the index of matching elements on a list",
        "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
    ),
    CommandDef::new("lmove", 5, WRITE | DENYOOM, K12, bpop::lmove).doc(
        "list",
        "6.2.0",
        "Pop an element from a list, push it to another list and return it",
        "O(1)",
    ),
    CommandDef::new("rpoplpush", 3, WRITE | DENYOOM, K12, bpop::rpoplpush).doc(
        "list",
        "1.2.0",
        "Remove the last element in a list, prepend it to another list and return it",
        "O(1)",
    ),
    CommandDef::new("lmpop", -4, WRITE | MOVABLE_KEYS, KLMPOP, bpop::lmpop).doc(
        "list",
        "7.0.0",
        "Pop elements from a list",
        MPOP_DOC,
    ),
    CommandDef::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, KBPOP, bpop::blpop).doc(
        "list",
        "2.0.0",
        "Remove and get the first element in a list, or block until one is available",
        "O(N) where N is the number of provided keys.",
    ),
    CommandDef::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, KBPOP, bpop::brpop).doc(
        "list",
        "2.0.0",
        "Remove and get the last element in a list, or block until one is available",
        "O(N) where N is the number of provided keys.",
    ),
    CommandDef::new(
        "blmove",
        6,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        K12,
        bpop::blmove,
    )
    .doc(
        "list",
        "6.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "O(1)",
    ),
    CommandDef::new(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        K12,
        bpop::brpoplpush,
    )
    .doc(
        "list",
        "2.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "O(1)",
    ),
    CommandDef::new(
        "blmpop",
        -5,
        WRITE | BLOCKING | MOVABLE_KEYS,
        KBLMPOP,
        bpop::blmpop,
    )
    .doc(
        "list",
        "7.0.0",
        "Pop elements from a list, or block until one is available",
        MPOP_DOC,
    ),
];

/// What a lookup found at a key that should hold a list.
enum Found {
    Missing,
    /// A list of this many elements.
    List(usize),
    /// Another type: WRONGTYPE has been replied.
    WrongType,
}

/// Looks `key` up (for writing, or for reading with hit/miss stats) and
/// replies WRONGTYPE if it holds something other than a list.
fn find(ctx: &mut Ctx, key: &[u8], write: bool) -> Found {
    let e = if write {
        ctx.lookup_write(key)
    } else {
        ctx.lookup_read(key)
    };
    match e {
        None => Found::Missing,
        Some(e) => match &e.value {
            Value::List(l) => Found::List(l.len()),
            _ => {
                ctx.out.error(err::WRONGTYPE);
                Found::WrongType
            }
        },
    }
}

/// Like [`find`] without replying: Some(len) for a list, None otherwise
/// (missing or another type).
fn peek_list_len(ctx: &mut Ctx, key: &[u8]) -> Option<usize> {
    match &ctx.lookup_write(key)?.value {
        Value::List(l) => Some(l.len()),
        _ => None,
    }
}

/// The list stored at `key` in database `db`; the caller has checked that
/// it exists and is a list.
fn list_at<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> &'a mut ListValue {
    match srv.dbs[db].get_mut(key).map(|e| &mut e.value) {
        Some(Value::List(l)) => l,
        _ => panic!("list_at: key checked to hold a list"),
    }
}

/// Deletes `key` if its list became empty, with the "del" event, as
/// Redis does after every removal.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) -> bool {
    let db = ctx.client.db;
    if list_at(ctx.srv, db, key).is_empty() {
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
        true
    } else {
        false
    }
}

/// Pushes `vals` at one end of the list at `key`, creating it if needed
/// (which signals clients blocked on the key). Returns the new length.
fn push_values<'a>(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    vals: impl IntoIterator<Item = &'a [u8]>,
    exists: bool,
) -> usize {
    let db = ctx.client.db;
    if exists {
        let l = list_at(ctx.srv, db, key);
        for v in vals {
            l.push(end, v);
        }
        l.len()
    } else {
        let mut l = ListValue::with_fill(ctx.srv.config.list_max_listpack_size);
        for v in vals {
            l.push(end, v);
        }
        let n = l.len();
        ctx.set_key(key, Value::List(Box::new(l)), false);
        n
    }
}

/// Redis's getLongFromObjectOrReply with no custom message.
fn parse_long(ctx: &mut Ctx, arg: &[u8]) -> Option<i64> {
    let v = crate::util::num::parse_i64(arg);
    if v.is_none() {
        ctx.out.error(err::NOT_INT);
    }
    v
}

/// Redis's getRangeLongFromObjectOrReply with a message: `msg` for a
/// non-integer or a value below `min`.
fn parse_min_long(ctx: &mut Ctx, arg: &[u8], min: i64, msg: &str) -> Option<i64> {
    match crate::util::num::parse_i64(arg) {
        Some(v) if v >= min => Some(v),
        _ => {
            ctx.out.error(msg);
            None
        }
    }
}

fn end_event(end: End) -> (&'static str, &'static str) {
    match end {
        End::Head => ("lpush", "lpop"),
        End::Tail => ("rpush", "rpop"),
    }
}

fn llen(ctx: &mut Ctx, args: &[Bytes]) {
    match find(ctx, &args[1], false) {
        Found::Missing => ctx.out.int(0),
        Found::List(n) => ctx.out.int(n as i64),
        Found::WrongType => {}
    }
}

fn lindex(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    match find(ctx, key, false) {
        Found::Missing => ctx.out.null(),
        Found::WrongType => {}
        Found::List(_) => {
            let Some(index) = parse_long(ctx, &args[2]) else {
                return;
            };
            let db = ctx.client.db;
            match list_at(ctx.srv, db, key).get(index) {
                Some(v) => bulk_entry(ctx.out, v),
                None => ctx.out.null(),
            }
        }
    }
}

/// Writes one element as a bulk string.
#[inline]
fn bulk_entry(out: &mut crate::protocol::Reply, e: LpEntry<'_>) {
    match e {
        LpEntry::Str(s) => out.bulk(s),
        LpEntry::Int(n) => out.bulk_int(n),
    }
}

/// Writes the elements at positions `from..=to` (reversed if `rev`).
fn reply_range(ctx: &mut Ctx, key: &[u8], from: usize, to: usize, rev: bool) {
    let db = ctx.client.db;
    let l = list_at(ctx.srv, db, key);
    ctx.out.array_len(to - from + 1);
    if rev {
        for v in l.iter_range(from, to).rev() {
            bulk_entry(ctx.out, v);
        }
    } else {
        for v in l.iter_range(from, to) {
            bulk_entry(ctx.out, v);
        }
    }
}

fn lrange(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let Some(start) = parse_long(ctx, &args[2]) else {
        return;
    };
    let Some(end) = parse_long(ctx, &args[3]) else {
        return;
    };
    match find(ctx, key, false) {
        Found::Missing => ctx.out.array_len(0),
        Found::WrongType => {}
        Found::List(_) => {
            let db = ctx.client.db;
            match list_at(ctx.srv, db, key).range_bounds(start, end) {
                None => ctx.out.array_len(0),
                Some((from, to)) => reply_range(ctx, key, from, to, false),
            }
        }
    }
}

fn lpos(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let more = j + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"rank") && more {
            j += 1;
            let Some(r) = parse_long(ctx, &args[j]) else {
                return;
            };
            if r == 0 {
                ctx.out.error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                );
                return;
            }
            rank = r;
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            j += 1;
            let Some(c) = parse_min_long(ctx, &args[j], 0, "ERR COUNT can't be negative") else {
                return;
            };
            count = Some(c);
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            j += 1;
            let Some(m) = parse_min_long(ctx, &args[j], 0, "ERR MAXLEN can't be negative") else {
                return;
            };
            maxlen = m;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
        j += 1;
    }
    match find(ctx, key, false) {
        Found::WrongType => {}
        Found::Missing => {
            if count.is_some() {
                ctx.out.array_len(0)
            } else {
                ctx.out.null()
            }
        }
        Found::List(_) => {
            let db = ctx.client.db;
            let want = count.map_or(1, |c| c as usize);
            let l = list_at(ctx.srv, db, key);
            let found = l.positions(&args[2], rank, want, maxlen as usize);
            match count {
                Some(_) => {
                    ctx.out.array_len(found.len());
                    for i in found {
                        ctx.out.int(i as i64);
                    }
                }
                None => match found.first() {
                    Some(&i) => ctx.out.int(i as i64),
                    None => ctx.out.null(),
                },
            }
        }
    }
}
