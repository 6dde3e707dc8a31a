//! A dataset written as commands: the AOF base when
//! `aof-use-rdb-preamble no` (Redis 7.0's `rewriteAppendOnlyFileRio`).
//!
//! Order: an optional `#TS:` annotation; one `FUNCTION LOAD <code>` per
//! library; then per non-empty database `SELECT n` and per key the
//! commands that rebuild it, followed by `PEXPIREAT key <ms>` when it has a
//! TTL. Collections go in batches of at most 64 items per command
//! (`AOF_REWRITE_ITEMS_PER_CMD`): `RPUSH`, `SADD`, `ZADD` (score, then
//! member; scores as `%.17g`), `HMSET`. A stream becomes `XADD` per live
//! entry (an empty one `XADD key MAXLEN 0 0-1 x y`), then `XSETID key
//! <last> ENTRIESADDED <n> MAXDELETEDID <id>`, per group `XGROUP CREATE key
//! g <last> ENTRIESREAD <n>`, per consumer (in name order) an `XCLAIM key g
//! c 0 <id> TIME <ms> RETRYCOUNT <n> JUSTID FORCE` per pending entry, or
//! `XGROUP CREATECONSUMER key g c` when it has none. What this loses, as
//! in Redis: LRU/LFU data and consumers' seen-times.
//!
//! The commands are built in a buffer and handed to the writer in 64 KB
//! chunks, so the only failures are the writer's.

use super::stream::{encode_array_header, encode_bulk, encode_command, encode_ts_annotation};
use crate::keyspace::stream::{Stream, StreamId};
use crate::keyspace::{Db, Value, NO_EXPIRE};
use crate::persistence::rdb::listpack::LpEntry;
use crate::util::num::fmt_double;
use std::io::{self, Write};

/// `AOF_REWRITE_ITEMS_PER_CMD`.
pub const ITEMS_PER_CMD: usize = 64;
/// Hand the buffer to the writer once it holds this much.
const FLUSH_AT: usize = 64 * 1024;

/// Writes `dbs` (index = database number) and the function libraries as
/// AOF commands; returns the bytes written.
pub fn write_commands<W: Write>(
    w: W,
    dbs: &[Db],
    functions: &[Vec<u8>],
    ts_annotation: Option<i64>,
) -> io::Result<u64> {
    write_commands_with(w, dbs, functions, ts_annotation, &mut || {})
}

/// [`write_commands`] calling `on_key` after each key (progress reports,
/// `rdb-key-save-delay`).
pub fn write_commands_with<W: Write>(
    mut w: W,
    dbs: &[Db],
    functions: &[Vec<u8>],
    ts_annotation: Option<i64>,
    on_key: &mut dyn FnMut(),
) -> io::Result<u64> {
    let mut buf = Vec::with_capacity(FLUSH_AT * 2);
    let mut written = 0u64;
    if let Some(ts) = ts_annotation {
        encode_ts_annotation(&mut buf, ts);
    }
    for code in functions {
        encode_command(&mut buf, &[&b"FUNCTION"[..], b"LOAD", code]);
    }
    let mut num = itoa::Buffer::new();
    for (i, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        encode_command(&mut buf, &[b"SELECT", num.format(i).as_bytes()]);
        for e in db.iter() {
            key_commands(&mut buf, &e.key, &e.value);
            if e.expire != NO_EXPIRE {
                encode_command(
                    &mut buf,
                    &[&b"PEXPIREAT"[..], &e.key, num.format(e.expire).as_bytes()],
                );
            }
            on_key();
            if buf.len() >= FLUSH_AT {
                w.write_all(&buf)?;
                written += buf.len() as u64;
                buf.clear();
            }
        }
    }
    w.write_all(&buf)?;
    written += buf.len() as u64;
    w.flush()?;
    Ok(written)
}

/// Appends the commands that rebuild one key.
pub fn key_commands(out: &mut Vec<u8>, key: &[u8], v: &Value) {
    match v {
        Value::Int(n) => {
            let n = itoa::Buffer::new().format(*n).as_bytes().to_vec();
            encode_command(out, &[&b"SET"[..], key, &n]);
        }
        Value::Emb(b) => encode_command(out, &[&b"SET"[..], key, b]),
        Value::Raw(b) => encode_command(out, &[&b"SET"[..], key, b]),
        Value::List(l) => batched(
            out,
            b"RPUSH",
            key,
            l.len(),
            l.iter().map(|x| [crate::keyspace::list::elem_bytes(x)]),
        ),
        Value::Set(s) => batched(out, b"SADD", key, s.len(), s.iter().map(|m| [m])),
        Value::ZSet(z) => batched(
            out,
            b"ZADD",
            key,
            z.len(),
            z.iter()
                .map(|(score, m)| [fmt_double(score).into_bytes(), m.to_vec()]),
        ),
        Value::Hash(h) => batched(out, b"HMSET", key, h.len(), h.iter().map(|(f, v)| [f, v])),
        Value::Stream(s) => stream_commands(out, key, s),
    }
}

/// `<cmd> key item...` with at most [`ITEMS_PER_CMD`] items per command
/// (each item `N` arguments), written straight into `out`; `total` is the
/// number of items `items` yields (it sizes each command's header, as
/// Redis does).
fn batched<const N: usize, T: AsRef<[u8]>>(
    out: &mut Vec<u8>,
    cmd: &[u8],
    key: &[u8],
    total: usize,
    items: impl Iterator<Item = [T; N]>,
) {
    let mut in_cmd = 0;
    let mut left = total;
    for item in items {
        assert!(left > 0, "a collection yielded more items than its length");
        if in_cmd == 0 {
            encode_array_header(out, 2 + left.min(ITEMS_PER_CMD) * N);
            encode_bulk(out, cmd);
            encode_bulk(out, key);
        }
        for a in item {
            encode_bulk(out, a.as_ref());
        }
        left -= 1;
        in_cmd += 1;
        if in_cmd == ITEMS_PER_CMD {
            in_cmd = 0;
        }
    }
    assert_eq!(left, 0, "a collection yielded fewer items than its length");
}

fn id(i: StreamId) -> Vec<u8> {
    i.fmt().into_bytes()
}

fn int(n: i128) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// `rewriteStreamObject`.
fn stream_commands(out: &mut Vec<u8>, key: &[u8], s: &Stream) {
    if s.length > 0 {
        let mut ints: Vec<itoa::Buffer> = Vec::new();
        for e in s.range(StreamId::MIN, StreamId::MAX, false) {
            // Integer-encoded fields are formatted into `ints` first so
            // that every argument can borrow.
            ints.resize_with(e.len(), itoa::Buffer::new);
            let idb = e.id.text();
            let mut args: Vec<&[u8]> = Vec::with_capacity(3 + e.len());
            args.extend([&b"XADD"[..], key, idb.as_bytes()]);
            for (f, buf) in e.fields().zip(ints.iter_mut()) {
                args.push(match f {
                    LpEntry::Str(x) => x,
                    LpEntry::Int(n) => buf.format(n).as_bytes(),
                });
            }
            encode_command(out, &args);
        }
    } else {
        encode_command(
            out,
            &[&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"],
        );
    }
    encode_command(
        out,
        &[
            &b"XSETID"[..],
            key,
            &id(s.last_id),
            b"ENTRIESADDED",
            &int(s.entries_added as i128),
            b"MAXDELETEDID",
            &id(s.max_deleted_id),
        ],
    );
    for (gname, g) in &s.groups {
        encode_command(
            out,
            &[
                &b"XGROUP"[..],
                b"CREATE",
                key,
                gname,
                &id(g.last_id),
                b"ENTRIESREAD",
                &int(g.entries_read as i128),
            ],
        );
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                encode_command(out, &[&b"XGROUP"[..], b"CREATECONSUMER", key, gname, cname]);
                continue;
            }
            for pid in &c.pel {
                let Some(nack) = g.pel.get(pid) else { continue };
                encode_command(
                    out,
                    &[
                        &b"XCLAIM"[..],
                        key,
                        gname,
                        cname,
                        b"0",
                        &id(*pid),
                        b"TIME",
                        &int(nack.delivery_time as i128),
                        b"RETRYCOUNT",
                        &int(nack.delivery_count as i128),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::aof::stream::{Item, Mode, StreamReader};

    fn cmds(data: &[u8]) -> Vec<Vec<String>> {
        StreamReader::new(data, Mode::Strict)
            .filter_map(|i| match i {
                Item::Command(c) => Some(
                    c.args
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect(),
                ),
                Item::Annotation(_) => None,
            })
            .collect()
    }

    fn one(key: &[u8], v: Value) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        key_commands(&mut out, key, &v);
        cmds(&out)
    }

    #[test]
    fn header_functions_select_expire() {
        let mut dbs: Vec<Db> = (0..3).map(|_| Db::new()).collect();
        dbs[2].set(b"k", Value::Int(-7), false, 0);
        dbs[2].set_expire(b"k", 1_800_000_000_123);
        let funcs = vec![b"#!lua name=lib\nreturn 1".to_vec()];
        let mut out = Vec::new();
        let n = write_commands(&mut out, &dbs, &funcs, Some(1_700_000_000)).unwrap();
        assert_eq!(n, out.len() as u64);
        assert!(out.starts_with(b"#TS:1700000000\r\n*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n"));
        assert_eq!(
            cmds(&out),
            [
                vec!["FUNCTION", "LOAD", "#!lua name=lib\nreturn 1"],
                vec!["SELECT", "2"],
                vec!["SET", "k", "-7"],
                vec!["PEXPIREAT", "k", "1800000000123"],
            ]
        );
        // Nothing at all: an empty file.
        let empty: Vec<Db> = (0..16).map(|_| Db::new()).collect();
        let mut out = Vec::new();
        assert_eq!(write_commands(&mut out, &empty, &[], None).unwrap(), 0);
    }

    #[test]
    fn batches_of_64() {
        let mut l = crate::keyspace::list::ListValue::new();
        for i in 0..130 {
            l.push(crate::keyspace::list::End::Tail, format!("{i}").as_bytes());
        }
        let c = one(b"l", Value::List(Box::new(l)));
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].len(), 66);
        assert_eq!(c[1].len(), 66);
        assert_eq!(c[2], ["RPUSH", "l", "128", "129"]);
        assert_eq!(c[0][2], "0");
    }

    #[test]
    fn sets_hashes_zsets() {
        let mut s = crate::keyspace::set::SetValue::new_intset();
        for m in [b"3".as_slice(), b"-1", b"2"] {
            s.add(m, 512);
        }
        assert_eq!(one(b"s", Value::Set(s)), [["SADD", "s", "-1", "2", "3"]]);
        let mut h = crate::keyspace::hash::HashValue::new();
        let lim = crate::keyspace::hash::HashLimits {
            max_entries: 128,
            max_value: 64,
        };
        h.set(b"f1", b"v1", lim);
        h.set(b"f2", b"v2", lim);
        assert_eq!(
            one(b"h", Value::Hash(h)),
            [["HMSET", "h", "f1", "v1", "f2", "v2"]]
        );
        let lim = crate::keyspace::zset::ZLimits {
            max_entries: 128,
            max_value: 64,
        };
        let mut z = crate::keyspace::zset::ZSet::for_first(1, lim);
        z.set(b"a", 1.5, lim);
        z.set(b"b", f64::NEG_INFINITY, lim);
        z.set(b"c", 0.1, lim);
        assert_eq!(
            one(b"z", Value::ZSet(z)),
            [[
                "ZADD",
                "z",
                "-inf",
                "b",
                "0.10000000000000001",
                "c",
                "1.5",
                "a"
            ]]
        );
    }

    #[test]
    fn streams() {
        use crate::keyspace::stream::{Consumer, Group, Nack, Stream};
        use bytes::Bytes;
        let empty = Stream::new();
        assert_eq!(
            one(b"x", Value::Stream(Box::new(empty))),
            [
                vec!["XADD", "x", "MAXLEN", "0", "0-1", "x", "y"],
                vec![
                    "XSETID",
                    "x",
                    "0-0",
                    "ENTRIESADDED",
                    "0",
                    "MAXDELETEDID",
                    "0-0"
                ],
            ]
        );
        let mut s = Stream::new();
        s.last_id = StreamId::new(5, 1);
        s.entries_added = 3;
        s.max_deleted_id = StreamId::new(4, 0);
        let mut g = Group::new(StreamId::new(5, 1), -1);
        g.consumers
            .insert(Bytes::from_static(b"idle"), Consumer::default());
        let mut busy = Consumer::default();
        busy.pel.insert(StreamId::new(5, 1));
        g.consumers.insert(Bytes::from_static(b"busy"), busy);
        g.pel.insert(
            StreamId::new(5, 1),
            Nack {
                delivery_time: 1234,
                delivery_count: 2,
                consumer: Bytes::from_static(b"busy"),
            },
        );
        s.groups.insert(Bytes::from_static(b"g"), g);
        let c = one(b"x", Value::Stream(Box::new(s)));
        assert_eq!(
            c[1..],
            [
                vec![
                    "XSETID",
                    "x",
                    "5-1",
                    "ENTRIESADDED",
                    "3",
                    "MAXDELETEDID",
                    "4-0"
                ],
                vec!["XGROUP", "CREATE", "x", "g", "5-1", "ENTRIESREAD", "-1"],
                vec![
                    "XCLAIM",
                    "x",
                    "g",
                    "busy",
                    "0",
                    "5-1",
                    "TIME",
                    "1234",
                    "RETRYCOUNT",
                    "2",
                    "JUSTID",
                    "FORCE"
                ],
                vec!["XGROUP", "CREATECONSUMER", "x", "g", "idle"],
            ]
        );
    }
}
