//! Tests of the object encoder: DUMP payloads captured from Redis 7.0.15
//! (with `rdbcompression no`) compared byte for byte; large ones by
//! length and CRC-64 (the payload's own trailer covers every byte).

use super::*;
use crate::keyspace::hash::HashLimits;
use crate::keyspace::stream::{Stream, StreamId};
use crate::keyspace::zset::ZLimits;
use crate::persistence::rdb::dump::dump_payload_with;
use bytes::Bytes;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn dump(v: &Value) -> Vec<u8> {
    dump_payload_with(v, false)
}

const HL: HashLimits = HashLimits {
    max_entries: 128,
    max_value: 64,
};
const ZL: ZLimits = ZLimits {
    max_entries: 128,
    max_value: 64,
};

fn list_of(items: &[String]) -> Value {
    Value::List(Box::new(items.iter().map(|s| s.as_bytes()).collect()))
}

#[test]
fn hash_listpack() {
    // HSET h a 1 b hello c 3.5
    let mut h = HashValue::new();
    for (f, v) in [("a", "1"), ("b", "hello"), ("c", "3.5")] {
        h.set(f.as_bytes(), v.as_bytes(), HL);
    }
    assert_eq!(
        dump(&Value::Hash(h)),
        hex("101e1e000000060081610201018162028568656c6c6f0681630283332e3504ff0a002ac0d54c0b886908")
    );
}

#[test]
fn intset() {
    // SADD s 1 2 3 -5 100000
    let mut s = SetValue::new_intset();
    for m in ["1", "2", "3", "-5", "100000"] {
        s.add(m.as_bytes(), 512);
    }
    assert_eq!(
        dump(&Value::Set(s)),
        hex("0b1c0400000005000000fbffffff010000000200000003000000a08601000a00d365f8d8af8752ac")
    );
}

#[test]
fn zset_listpack_scores() {
    // ZADD z 1 a 2.5 b -3 c inf d -0 e 0.1 f 1e20 g -inf h 4611686018427387904 i
    let mut z = ZSet::new(ZEncoding::Listpack);
    let items: [(&str, f64); 9] = [
        ("a", 1.0),
        ("b", 2.5),
        ("c", -3.0),
        ("d", f64::INFINITY),
        ("e", -0.0),
        ("f", 0.1),
        ("g", 1e20),
        ("h", f64::NEG_INFINITY),
        ("i", 4611686018427387904.0),
    ];
    for (m, s) in items {
        z.set(m.as_bytes(), s, ZL);
    }
    assert_eq!(
        dump(&Value::ZSet(z)),
        hex("11405f5f0000001200816802842d696e6605816302dffd02816502000181660293302e313030303030303030303030303030303114816102010181620283322e3504816902f40000000000000040098167028531652b32300681640283696e6604ff0a00faeea4b17daf63d0")
    );
}

#[test]
fn zset_skiplist_highest_first() {
    // ZADD zs 1 <70 x> 2 b 3.5 c (a long member makes it a skiplist)
    let mut z = ZSet::new(ZEncoding::Skiplist);
    let long = "x".repeat(70);
    for (m, s) in [(long.as_str(), 1.0), ("b", 2.0), ("c", 3.5)] {
        z.set(m.as_bytes(), s, ZL);
    }
    assert_eq!(
        dump(&Value::ZSet(z)),
        hex("050301630000000000000c4001620000000000000040404678787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878000000000000f03f0a0054e06e071c8eaab2")
    );
}

#[test]
fn small_list_one_node() {
    // RPUSH l a b 1 2 300 -7
    let items: Vec<String> = ["a", "b", "1", "2", "300", "-7"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        dump(&list_of(&items)),
        hex("1201021717000000060081610281620201010201c12c02dff902ff0a00a0e92bc9903444d0")
    );
}

fn len_and_crc(p: &[u8]) -> (usize, String) {
    let crc: String = p[p.len() - 8..]
        .iter()
        .map(|b| format!("{:02x}", b))
        .collect();
    (p.len(), crc)
}

#[test]
fn large_lists_chunk_like_redis() {
    // RPUSH bl element-0 .. element-1999: 4 nodes of <= 8 KB.
    let items: Vec<String> = (0..2000).map(|i| format!("element-{i}")).collect();
    let p = dump(&list_of(&items));
    assert_eq!(&p[..2], [0x12, 0x04]);
    assert_eq!(len_and_crc(&p), (26942, "95fe5f4832b30e35".to_string()));
    // RPUSH bigl <100 a> 0 .. 999
    let mut items = vec!["a".repeat(100)];
    items.extend((0..1000).map(|i| i.to_string()));
    let p = dump(&list_of(&items));
    assert_eq!(len_and_crc(&p), (2997, "22da956714d85f21".to_string()));
}

#[test]
fn stream_nodes_like_redis() {
    // XADD st 1-1 name a val 5; XADD st 1-2 name b val 6; XADD st 2-1 other x
    let mut s = Stream::new();
    let add = |s: &mut Stream, id: StreamId, f: &[&str]| {
        let f: Vec<Bytes> = f
            .iter()
            .map(|x| Bytes::copy_from_slice(x.as_bytes()))
            .collect();
        s.append(&f, Some((id, true)), 0, 100, 4096).unwrap();
    };
    add(&mut s, StreamId::new(1, 1), &["name", "a", "val", "5"]);
    add(&mut s, StreamId::new(1, 2), &["name", "b", "val", "6"]);
    add(&mut s, StreamId::new(2, 1), &["other", "x"]);
    assert_eq!(
        dump(&Value::Stream(Box::new(s))),
        hex("130110000000000000000100000000000000014048480000001900030100010201846e616d65058376616c04000102010001000181610205010501020100010101816202060105010001010100010101856f74686572068178020601ff0302010101000003000a00e05cadb6e05a68cd")
    );
}

#[test]
fn strings() {
    assert_eq!(&dump(&Value::Int(12345))[..3], [0, 0xc1, 0x39]);
    assert_eq!(&dump(&Value::string(b"bar"))[..5], b"\x00\x03bar");
    let mut out = Vec::new();
    assert_eq!(
        encode_object(&mut out, &Value::string(&[b'a'; 100]), true),
        0
    );
    assert_eq!(out[0], 0xc3);
}

#[test]
fn tables() {
    let mut s = SetValue::new_table();
    s.add(b"x", 512);
    s.add(b"12", 512);
    let mut out = Vec::new();
    assert_eq!(encode_object(&mut out, &Value::Set(s), false), types::SET);
    assert_eq!(out, b"\x02\x01x\xc0\x0c");
    let mut h = HashValue::new();
    h.set(b"f", b"v", HL);
    h.convert_to_table();
    let mut out = Vec::new();
    assert_eq!(encode_object(&mut out, &Value::Hash(h), false), types::HASH);
    assert_eq!(out, b"\x01\x01f\x01v");
}

#[test]
fn score_forms() {
    assert_eq!(double_to_i64(-0.0), Some(0));
    assert_eq!(double_to_i64(2.5), None);
    assert_eq!(double_to_i64(4611686018427387904.0), Some(1 << 62));
    assert_eq!(double_to_i64(9.3e18), None);
    assert_eq!(double_to_i64(f64::NAN), None);
}
