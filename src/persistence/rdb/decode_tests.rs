//! Tests of `decode_object`: every type byte, from hand-built bodies
//! following the fact sheet, plus damaged variants.

use super::*;
use crate::keyspace::zset::ZLimits;
use crate::persistence::rdb::listpack::LpWriter;
use crate::persistence::rdb::ziplist::tests::{build as zl_build, zstr};

/// Test-side encoders of the RDB building blocks.
pub(crate) mod enc {
    pub fn len(out: &mut Vec<u8>, n: u64) {
        if n < 64 {
            out.push(n as u8);
        } else if n < 16384 {
            out.push(0x40 | (n >> 8) as u8);
            out.push(n as u8);
        } else if n <= u32::MAX as u64 {
            out.push(0x80);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0x81);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    pub fn string(out: &mut Vec<u8>, s: &[u8]) {
        len(out, s.len() as u64);
        out.extend_from_slice(s);
    }
    pub fn lp(items: &[&[u8]]) -> Vec<u8> {
        let mut w = super::LpWriter::new();
        for i in items {
            w.push_str(i);
        }
        w.finish()
    }
}

pub(crate) fn dec(t: u8, body: &[u8]) -> Result<Option<Value>, RdbError> {
    dec_lim(t, body, &Limits::default())
}

fn dec_lim(t: u8, body: &[u8], lim: &Limits) -> Result<Option<Value>, RdbError> {
    let mut r = Reader::new(body);
    let v = decode_object(&mut r, t, lim)?;
    assert_eq!(r.remaining(), 0, "type {t} left bytes unread");
    Ok(v)
}

fn some(t: u8, body: &[u8]) -> Value {
    dec(t, body).unwrap().expect("a value")
}

fn err(t: u8, body: &[u8]) -> String {
    let e = dec(t, body).unwrap_err();
    assert_eq!(e.type_byte, Some(t));
    e.msg
}

pub(crate) fn list_items(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::List(l) => l.iter().map(|x| x.to_bytes()).collect(),
        _ => panic!("not a list"),
    }
}

pub(crate) fn set_items(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::Set(s) => {
            let mut m: Vec<Vec<u8>> = s.iter().map(|x| x.into_owned()).collect();
            m.sort();
            m
        }
        _ => panic!("not a set"),
    }
}

pub(crate) fn hash_items(v: &Value) -> Vec<(Vec<u8>, Vec<u8>)> {
    match v {
        Value::Hash(h) => {
            let mut m: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            m.sort();
            m
        }
        _ => panic!("not a hash"),
    }
}

pub(crate) fn zset_items(v: &Value) -> Vec<(Vec<u8>, f64)> {
    match v {
        Value::ZSet(z) => z.iter().map(|e| (e.1.to_vec(), e.0)).collect(),
        _ => panic!("not a zset"),
    }
}

fn strs(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn strings() {
    let v = some(types::STRING, &[0xC1, 0x39, 0x30]);
    assert!(matches!(v, Value::Int(12345)));
    let mut b = vec![];
    enc::string(&mut b, b"hello");
    assert_eq!(some(types::STRING, &b).encoding(), "embstr");
    let mut b = vec![];
    enc::string(&mut b, &[b'x'; 45]);
    assert_eq!(some(types::STRING, &b).encoding(), "raw");
    assert!(dec(types::STRING, &[0x05, b'a']).is_err());
}

#[test]
fn linked_list_and_ziplist_list() {
    let mut b = vec![3];
    for s in ["a", "1", "bcd"] {
        enc::string(&mut b, s.as_bytes());
    }
    assert_eq!(list_items(&some(types::LIST, &b)), strs(&["a", "1", "bcd"]));
    assert!(dec(types::LIST, &[0]).unwrap().is_none());

    let zl = zl_build(&[zstr(b"x"), vec![0xF3], vec![0xC0, 0xE8, 0x03]]);
    let mut b = vec![];
    enc::string(&mut b, &zl);
    assert_eq!(
        list_items(&some(types::LIST_ZIPLIST, &b)),
        strs(&["x", "2", "1000"])
    );
    let mut b = vec![];
    enc::string(&mut b, &zl_build(&[]));
    assert!(dec(types::LIST_ZIPLIST, &b).unwrap().is_none());
    let mut bad = zl.clone();
    bad[4] = 0;
    let mut b = vec![];
    enc::string(&mut b, &bad);
    assert_eq!(
        err(types::LIST_ZIPLIST, &b),
        "List ziplist integrity check failed."
    );
}

#[test]
fn quicklists() {
    // v1: ziplist nodes, an empty one skipped.
    let mut b = vec![2];
    enc::string(&mut b, &zl_build(&[zstr(b"a"), zstr(b"b")]));
    enc::string(&mut b, &zl_build(&[]));
    assert_eq!(
        list_items(&some(types::LIST_QUICKLIST, &b)),
        strs(&["a", "b"])
    );
    // v2: packed, plain, an empty packed node, and an LZF-compressed node.
    let big: Vec<&[u8]> = vec![b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; 4];
    let lp_big = enc::lp(&big);
    let c = crate::persistence::rdb::lzf::compress(&lp_big, lp_big.len()).unwrap();
    let mut b = vec![4];
    b.push(2);
    enc::string(&mut b, &enc::lp(&[b"x", b"-7"]));
    b.push(1);
    enc::string(&mut b, b"plain element");
    b.push(2);
    enc::string(&mut b, &enc::lp(&[]));
    b.push(2);
    b.push(0xC3);
    enc::len(&mut b, c.len() as u64);
    enc::len(&mut b, lp_big.len() as u64);
    b.extend_from_slice(&c);
    let items = list_items(&some(types::LIST_QUICKLIST_2, &b));
    assert_eq!(items.len(), 7);
    assert_eq!(items[..3], strs(&["x", "-7", "plain element"])[..]);
    assert_eq!(items[6], big[0]);
    // All nodes empty: skipped.
    let mut b = vec![1, 2];
    enc::string(&mut b, &enc::lp(&[]));
    assert!(dec(types::LIST_QUICKLIST_2, &b).unwrap().is_none());
    // Bad container, empty node string, damaged listpack.
    let mut b = vec![1, 3];
    enc::string(&mut b, &enc::lp(&[b"x"]));
    assert_eq!(
        err(types::LIST_QUICKLIST_2, &b),
        "Quicklist integrity check failed."
    );
    assert!(dec(types::LIST_QUICKLIST_2, &[1, 2, 0]).is_err());
    let mut lp = enc::lp(&[b"x"]);
    lp[4] = 2;
    let mut b = vec![1, 2];
    enc::string(&mut b, &lp);
    assert_eq!(
        err(types::LIST_QUICKLIST_2, &b),
        "Listpack integrity check failed."
    );
}

#[test]
fn sets() {
    let mut b = vec![3];
    for s in ["3", "-1", "2"] {
        enc::string(&mut b, s.as_bytes());
    }
    let v = some(types::SET, &b);
    assert_eq!(v.encoding(), "intset");
    assert_eq!(set_items(&v), strs(&["-1", "2", "3"]));
    let mut b = vec![3];
    for s in ["3", "x", "2"] {
        enc::string(&mut b, s.as_bytes());
    }
    assert_eq!(some(types::SET, &b).encoding(), "hashtable");
    let mut b = vec![2];
    enc::string(&mut b, b"7");
    enc::string(&mut b, b"7");
    assert_eq!(err(types::SET, &b), "Duplicate set members detected");
    let mut b = vec![3];
    for s in ["a", "b", "a"] {
        enc::string(&mut b, s.as_bytes());
    }
    assert_eq!(err(types::SET, &b), "Duplicate set members detected");
    let lim = Limits {
        set_max_intset_entries: 2,
        ..Limits::default()
    };
    let mut b = vec![3];
    for s in ["1", "2", "3"] {
        enc::string(&mut b, s.as_bytes());
    }
    assert_eq!(
        dec_lim(types::SET, &b, &lim).unwrap().unwrap().encoding(),
        "hashtable"
    );
    assert!(dec(types::SET, &[0]).unwrap().is_none());

    // Intset blob (type 11).
    let mut blob = vec![2, 0, 0, 0, 2, 0, 0, 0];
    blob.extend_from_slice(&(-5i16).to_le_bytes());
    blob.extend_from_slice(&9i16.to_le_bytes());
    let mut b = vec![];
    enc::string(&mut b, &blob);
    let v = some(types::SET_INTSET, &b);
    assert_eq!(
        (v.encoding(), set_items(&v)),
        ("intset", strs(&["-5", "9"]))
    );
    assert_eq!(
        dec_lim(
            types::SET_INTSET,
            &b,
            &Limits {
                set_max_intset_entries: 1,
                ..lim
            }
        )
        .unwrap()
        .unwrap()
        .encoding(),
        "hashtable"
    );
    let mut b = vec![];
    enc::string(&mut b, &[2, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(err(types::SET_INTSET, &b), "Intset integrity check failed.");

    // Listpack set (type 20, Redis 7.2).
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"1", b"2"]));
    assert_eq!(some(types::SET_LISTPACK, &b).encoding(), "intset");
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"apple", b"2"]));
    let v = some(types::SET_LISTPACK, &b);
    assert_eq!(
        (v.encoding(), set_items(&v)),
        ("hashtable", strs(&["2", "apple"]))
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a", b"a"]));
    assert_eq!(
        err(types::SET_LISTPACK, &b),
        "Set listpack integrity check failed."
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[]));
    assert!(dec(types::SET_LISTPACK, &b).unwrap().is_none());
}

#[test]
fn zsets() {
    // ZSET_2, written highest score first; loaded sorted, listpack.
    let mut b = vec![3];
    for (m, s) in [("c", 3.0f64), ("b", 2.5), ("a", f64::NEG_INFINITY)] {
        enc::string(&mut b, m.as_bytes());
        b.extend_from_slice(&s.to_le_bytes());
    }
    let v = some(types::ZSET_2, &b);
    assert_eq!(v.encoding(), "listpack");
    assert_eq!(
        zset_items(&v),
        vec![
            (b"a".to_vec(), f64::NEG_INFINITY),
            (b"b".to_vec(), 2.5),
            (b"c".to_vec(), 3.0)
        ]
    );
    // A long member: skiplist.
    let mut b = vec![1];
    enc::string(&mut b, &[b'm'; 65]);
    b.extend_from_slice(&1f64.to_le_bytes());
    assert_eq!(some(types::ZSET_2, &b).encoding(), "skiplist");
    // NaN and duplicates.
    let mut b = vec![1];
    enc::string(&mut b, b"a");
    b.extend_from_slice(&f64::NAN.to_le_bytes());
    assert_eq!(err(types::ZSET_2, &b), "Zset with NAN score detected");
    let mut b = vec![2];
    for _ in 0..2 {
        enc::string(&mut b, b"a");
        b.extend_from_slice(&1f64.to_le_bytes());
    }
    assert_eq!(err(types::ZSET_2, &b), "Duplicate zset fields detected");
    // Old ZSET with ASCII doubles.
    let mut b = vec![3];
    enc::string(&mut b, b"x");
    b.extend_from_slice(&[3, b'1', b'.', b'5']);
    enc::string(&mut b, b"y");
    b.push(254);
    enc::string(&mut b, b"z");
    b.push(255);
    let v = some(types::ZSET, &b);
    assert_eq!(
        zset_items(&v),
        vec![
            (b"z".to_vec(), f64::NEG_INFINITY),
            (b"x".to_vec(), 1.5),
            (b"y".to_vec(), f64::INFINITY)
        ]
    );
    let mut b = vec![1];
    enc::string(&mut b, b"x");
    b.push(253);
    assert_eq!(err(types::ZSET, &b), "Zset with NAN score detected");
    // Listpack (17) and ziplist (12).
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a", b"1", b"b", b"2.5"]));
    let v = some(types::ZSET_LISTPACK, &b);
    assert_eq!(
        zset_items(&v),
        vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.5)]
    );
    let lim = Limits {
        zset: ZLimits {
            max_entries: 1,
            max_value: 64,
        },
        ..Limits::default()
    };
    assert_eq!(
        dec_lim(types::ZSET_LISTPACK, &b, &lim)
            .unwrap()
            .unwrap()
            .encoding(),
        "skiplist"
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a", b"1", b"a", b"2"]));
    assert_eq!(
        err(types::ZSET_LISTPACK, &b),
        "Zset listpack integrity check failed."
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a", b"1", b"b"]));
    assert_eq!(
        err(types::ZSET_LISTPACK, &b),
        "Zset listpack integrity check failed."
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a", b"notanumber"]));
    assert!(dec(types::ZSET_LISTPACK, &b).is_err());
    let mut b = vec![];
    enc::string(
        &mut b,
        &zl_build(&[zstr(b"one"), vec![0xF2], zstr(b"two"), zstr(b"2.5")]),
    );
    assert_eq!(
        zset_items(&some(types::ZSET_ZIPLIST, &b)),
        vec![(b"one".to_vec(), 1.0), (b"two".to_vec(), 2.5)]
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[]));
    assert!(dec(types::ZSET_LISTPACK, &b).unwrap().is_none());
    assert!(dec(types::ZSET_2, &[0]).unwrap().is_none());
}

#[test]
fn hashes() {
    let mut b = vec![2];
    for s in ["f1", "v1", "f2", "2"] {
        enc::string(&mut b, s.as_bytes());
    }
    let v = some(types::HASH, &b);
    assert_eq!(v.encoding(), "listpack");
    assert_eq!(
        hash_items(&v),
        vec![
            (b"f1".to_vec(), b"v1".to_vec()),
            (b"f2".to_vec(), b"2".to_vec())
        ]
    );
    // A long value converts to a table mid-way.
    let mut b = vec![3];
    enc::string(&mut b, b"a");
    enc::string(&mut b, b"1");
    enc::string(&mut b, b"b");
    enc::string(&mut b, &[b'v'; 65]);
    enc::string(&mut b, b"c");
    enc::string(&mut b, b"3");
    let v = some(types::HASH, &b);
    assert_eq!((v.encoding(), hash_items(&v).len()), ("hashtable", 3));
    let mut b = vec![2];
    for s in ["f", "1", "f", "2"] {
        enc::string(&mut b, s.as_bytes());
    }
    assert_eq!(err(types::HASH, &b), "Hash with dup elements");
    let lim = Limits {
        hash: crate::keyspace::hash::HashLimits {
            max_entries: 1,
            max_value: 64,
        },
        ..Limits::default()
    };
    assert_eq!(
        dec_lim(types::HASH, &b, &lim).unwrap_err().msg,
        "Duplicate hash fields detected"
    );
    assert!(dec(types::HASH, &[0]).unwrap().is_none());

    // Listpack (16) and ziplist (13).
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a", b"1", b"b", b"2"]));
    let v = some(types::HASH_LISTPACK, &b);
    assert_eq!(hash_items(&v).len(), 2);
    assert_eq!(
        dec_lim(types::HASH_LISTPACK, &b, &lim)
            .unwrap()
            .unwrap()
            .encoding(),
        "hashtable"
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a", b"1", b"a", b"2"]));
    assert_eq!(
        err(types::HASH_LISTPACK, &b),
        "Hash listpack integrity check failed."
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a"]));
    assert_eq!(
        err(types::HASH_LISTPACK, &b),
        "Hash listpack integrity check failed."
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[]));
    assert!(dec(types::HASH_LISTPACK, &b).unwrap().is_none());
    let mut b = vec![];
    enc::string(&mut b, &zl_build(&[zstr(b"f"), vec![0xFE, 0x80]]));
    assert_eq!(
        hash_items(&some(types::HASH_ZIPLIST, &b)),
        vec![(b"f".to_vec(), b"-128".to_vec())]
    );

    // Zipmap (9): free bytes, dup detection, long values convert.
    let zm = [2, 1, b'a', 1, 2, b'x', 0, 0, 1, b'b', 1, 0, b'y', 0xFF];
    let mut b = vec![];
    enc::string(&mut b, &zm);
    let v = some(types::HASH_ZIPMAP, &b);
    assert_eq!(
        hash_items(&v),
        vec![
            (b"a".to_vec(), b"x".to_vec()),
            (b"b".to_vec(), b"y".to_vec())
        ]
    );
    let zm = [2, 1, b'a', 1, 0, b'x', 1, b'a', 1, 0, b'y', 0xFF];
    let mut b = vec![];
    enc::string(&mut b, &zm);
    assert_eq!(
        err(types::HASH_ZIPMAP, &b),
        "Hash zipmap with dup elements, or big length (1)"
    );
    let mut b = vec![];
    enc::string(&mut b, &[0, 0xFF]);
    assert_eq!(
        err(types::HASH_ZIPMAP, &b),
        "Zipmap integrity check failed."
    );
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn hashes_with_field_ttls() {
    let past = 1_000_000u64;
    let future = now() + 3_600_000;
    // Type 24: min-expire, then (ttl relative + 1, field, value).
    let mut b = past.to_le_bytes().to_vec();
    b.push(2);
    enc::len(&mut b, 0);
    enc::string(&mut b, b"keep");
    enc::string(&mut b, b"1");
    enc::len(&mut b, 1); // expires at min-expire: long past
    enc::string(&mut b, b"gone");
    enc::string(&mut b, b"2");
    let v = some(types::HASH_METADATA, &b);
    assert_eq!(hash_items(&v), vec![(b"keep".to_vec(), b"1".to_vec())]);
    // All fields expired: skipped like an empty key.
    let mut b = past.to_le_bytes().to_vec();
    b.push(1);
    enc::len(&mut b, 5);
    enc::string(&mut b, b"gone");
    enc::string(&mut b, b"2");
    assert!(dec(types::HASH_METADATA, &b).unwrap().is_none());
    // A future TTL is refused, naming the field.
    let mut b = future.to_le_bytes().to_vec();
    b.push(1);
    enc::len(&mut b, 1);
    enc::string(&mut b, b"later");
    enc::string(&mut b, b"2");
    let e = dec(types::HASH_METADATA, &b).unwrap_err();
    assert!(
        e.msg.contains("'later'")
            && e.msg
                .contains("hash field TTLs (Redis 7.4) are not supported"),
        "{}",
        e.msg
    );
    // Type 22: absolute TTLs, no min-expire.
    let mut b = vec![2];
    enc::len(&mut b, past);
    enc::string(&mut b, b"gone");
    enc::string(&mut b, b"2");
    enc::len(&mut b, 0);
    enc::string(&mut b, b"keep");
    enc::string(&mut b, b"1");
    assert_eq!(
        hash_items(&some(types::HASH_METADATA_PRE_GA, &b)),
        vec![(b"keep".to_vec(), b"1".to_vec())]
    );
    // Types 25 / 23: listpack of field, value, absolute ttl.
    let past_s = past.to_string();
    let fut_s = future.to_string();
    let mut b = future.to_le_bytes().to_vec();
    enc::string(
        &mut b,
        &enc::lp(&[b"a", b"1", b"0", b"b", b"2", past_s.as_bytes()]),
    );
    assert_eq!(
        hash_items(&some(types::HASH_LISTPACK_EX, &b)),
        vec![(b"a".to_vec(), b"1".to_vec())]
    );
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a", b"1", fut_s.as_bytes()]));
    assert!(err(types::HASH_LISTPACK_EX_PRE_GA, &b).contains("'a'"));
    let mut b = vec![];
    enc::string(&mut b, &enc::lp(&[b"a", b"1"]));
    assert_eq!(
        err(types::HASH_LISTPACK_EX_PRE_GA, &b),
        "Hash listpack integrity check failed."
    );
}

#[test]
fn modules_and_unknown_types() {
    // "mymodule1" with encoding version 3.
    let cset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = 0u64;
    for c in b"mymodule1" {
        id = (id << 6) | cset.iter().position(|x| x == c).unwrap() as u64;
    }
    id = (id << 10) | 3;
    assert_eq!(module::module_name(id), "mymodule1");
    let mut b = vec![];
    enc::len(&mut b, id);
    for t in [types::MODULE, types::MODULE_2] {
        let mut r = Reader::new(&b);
        let e = decode_object(&mut r, t, &Limits::default()).unwrap_err();
        assert_eq!(
            e.msg,
            "The RDB file contains module data I can't load: no matching module type 'mymodule1'"
        );
    }
    for t in [8u8, 26, 100, 243] {
        let mut r = Reader::new(&[0]);
        let e = decode_object(&mut r, t, &Limits::default()).unwrap_err();
        assert_eq!(e.msg, format!("Unknown RDB encoding type {t}"));
        assert_eq!(e.type_byte, Some(t));
    }
}

mod module {
    pub use super::super::module_name;
}
