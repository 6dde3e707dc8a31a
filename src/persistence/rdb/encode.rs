//! Encodes one keel value as the body of an RDB object, choosing the type
//! byte Redis 7.0 would write for the same value (it only writes types 0,
//! 2, 4, 5, 11, 16, 17, 18 and 19):
//!
//! * strings: `STRING` (int-encoded, LZF or raw as `rdbSaveStringObject`);
//! * lists: `LIST_QUICKLIST_2`, each quicklist node as it is in memory (a
//!   PACKED container with the node's listpack bytes, or a PLAIN one with
//!   the element), so the payload is Redis's for the same history;
//! * sets: `SET_INTSET` (the intset blob, at the width the set has in
//!   memory, which is the width Redis would have) or `SET` (members);
//! * hashes: `HASH_LISTPACK` (field, value, ... in insertion order, so the
//!   blob is byte-identical to Redis's) or `HASH`;
//! * sorted sets: `ZSET_LISTPACK` (member, score sorted by (score,
//!   member); scores as `zzlInsertAt` stores them: an integer entry when
//!   the double is integral and safely castable, else Redis's `d2string`
//!   text) or `ZSET_2` (from the highest score to the lowest, binary
//!   doubles);
//! * streams: `STREAM_LISTPACKS_2`, see [`super::encode_stream`].
//!
//! Every blob (listpack, intset, node) is written with `rdbSaveRawString`
//! rules, so it is LZF-compressed when `compress` and that pays.

use super::listpack::LpWriter;
use super::types;
use super::write::{write_binary_double, write_int_string, write_len, write_string};
use crate::keyspace::hash::HashValue;
use crate::keyspace::list::ListValue;
use crate::keyspace::set::SetValue;
use crate::keyspace::zset::{ZEncoding, ZSet};
use crate::keyspace::Value;

/// quicklist node containers (`QUICKLIST_NODE_CONTAINER_*`).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// Appends the body of `v` and returns its RDB type byte.
pub fn encode_object(out: &mut Vec<u8>, v: &Value, compress: bool) -> u8 {
    match v {
        Value::Int(n) => {
            write_int_string(out, *n);
            types::STRING
        }
        Value::Emb(b) => {
            write_string(out, b, compress);
            types::STRING
        }
        Value::Raw(b) => {
            write_string(out, b, compress);
            types::STRING
        }
        Value::List(l) => {
            encode_list(out, l, compress);
            types::LIST_QUICKLIST_2
        }
        Value::Set(s) => encode_set(out, s, compress),
        Value::Hash(h) => encode_hash(out, h, compress),
        Value::ZSet(z) => encode_zset(out, z, compress),
        Value::Stream(s) => {
            super::encode_stream::encode_stream(out, s, compress);
            types::STREAM_LISTPACKS_2
        }
    }
}

fn encode_list(out: &mut Vec<u8>, l: &ListValue, compress: bool) {
    write_len(out, l.nodes().len() as u64);
    for n in l.nodes() {
        write_len(
            out,
            if n.is_plain() {
                CONTAINER_PLAIN
            } else {
                CONTAINER_PACKED
            },
        );
        write_string(out, n.bytes(), compress);
    }
}

fn encode_set(out: &mut Vec<u8>, s: &SetValue, compress: bool) -> u8 {
    match s {
        SetValue::Intset(is) => {
            let w = is.width();
            let mut blob = Vec::with_capacity(8 + is.len() * w);
            blob.extend_from_slice(&(w as u32).to_le_bytes());
            blob.extend_from_slice(&(is.len() as u32).to_le_bytes());
            for m in is.iter() {
                blob.extend_from_slice(&m.to_le_bytes()[..w]);
            }
            write_string(out, &blob, compress);
            types::SET_INTSET
        }
        SetValue::Table(t) => {
            write_len(out, t.len() as u64);
            for m in t.iter() {
                write_string(out, m, compress);
            }
            types::SET
        }
    }
}

fn encode_hash(out: &mut Vec<u8>, h: &HashValue, compress: bool) -> u8 {
    match h {
        HashValue::Listpack(_) => {
            let mut lp = LpWriter::new();
            for (f, v) in h.iter() {
                lp.push_str(f);
                lp.push_str(v);
            }
            write_string(out, &lp.finish(), compress);
            types::HASH_LISTPACK
        }
        HashValue::Table(m) => {
            write_len(out, m.len() as u64);
            for (f, v) in m.iter() {
                write_string(out, f, compress);
                write_string(out, v, compress);
            }
            types::HASH
        }
    }
}

/// Redis's `double2ll`: the integer a double equals exactly, when it is
/// within +-LLONG_MAX/2 (so the cast is safe).
pub fn double_to_i64(d: f64) -> Option<i64> {
    let lim = (i64::MAX / 2) as f64;
    if !(-lim..=lim).contains(&d) {
        return None;
    }
    let ll = d as i64;
    (ll as f64 == d).then_some(ll)
}

/// Appends a zset score as `zzlInsertAt` stores it in a listpack: an
/// integer entry when `double2ll` succeeds (so -0 is stored as 0), else
/// `d2string`'s text, which for such a double is `inf`, `-inf` or `%.17g`.
pub fn push_score(lp: &mut LpWriter, score: f64) {
    match double_to_i64(score) {
        Some(n) => lp.push_int(n),
        None => lp.push_str(crate::util::num::fmt_double(score).as_bytes()),
    }
}

fn encode_zset(out: &mut Vec<u8>, z: &ZSet, compress: bool) -> u8 {
    match z.encoding() {
        ZEncoding::Listpack => {
            let mut lp = LpWriter::new();
            for (score, member) in z.iter() {
                lp.push_str(member);
                push_score(&mut lp, score);
            }
            write_string(out, &lp.finish(), compress);
            types::ZSET_LISTPACK
        }
        ZEncoding::Skiplist => {
            write_len(out, z.len() as u64);
            let all: Vec<_> = z.iter().collect();
            for (score, member) in all.into_iter().rev() {
                write_string(out, member, compress);
                write_binary_double(out, score);
            }
            types::ZSET_2
        }
    }
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
