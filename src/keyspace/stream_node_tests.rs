//! Tests of the node listpack: Redis's exact bytes, in-place deletion,
//! count re-encoding, and reading back through backlens.

use super::super::stream::Stream;
use super::*;
use crate::persistence::rdb::listpack::{entries, LpWriter};

fn add(s: &mut Stream, ms: u64, seq: u64, f: &[&str]) {
    s.append(f, Some((StreamId::new(ms, seq), true)), 0, 1000, 1 << 20)
        .unwrap();
}

fn ints(w: &mut LpWriter, v: &[i64]) {
    for &i in v {
        w.push_int(i);
    }
}

#[test]
fn fact_sheet_node_bytes() {
    // XADD 1-1 name a val 1, 1-2 name b val 2, 2-1 other x, XDEL 1-2 in
    // Redis gives [2,1,2,"name","val",0, 2,0,0,"a",1,5, 3,0,1,"b",2,5,
    // 0,1,0,1,"other","x",6].
    let mut s = Stream::new();
    add(&mut s, 1, 1, &["name", "a", "val", "1"]);
    add(&mut s, 1, 2, &["name", "b", "val", "2"]);
    add(&mut s, 2, 1, &["other", "x"]);
    assert_eq!(s.delete_ids(&[StreamId::new(1, 2)]), 1);
    let mut w = LpWriter::new();
    ints(&mut w, &[2, 1, 2]);
    w.push_str(b"name");
    w.push_str(b"val");
    ints(&mut w, &[0, 2, 0, 0]);
    w.push_str(b"a");
    ints(&mut w, &[1, 5, 3, 0, 1]);
    w.push_str(b"b");
    ints(&mut w, &[2, 5, 0, 1, 0, 1]);
    w.push_str(b"other");
    w.push_str(b"x");
    w.push_int(6);
    let node = &s.nodes[&StreamId::new(1, 1)];
    assert_eq!(node.listpack(), &w.finish()[..]);
    assert_eq!((node.live(), node.deleted(), node.total()), (2, 1, 3));
}

#[test]
fn counts_grow_their_encoding_in_place() {
    let mut s = Stream::new();
    let long = "v".repeat(300);
    for i in 1..=200u64 {
        let v = if i % 3 == 0 { long.as_str() } else { "7" };
        add(&mut s, i, 0, &["f", v]);
    }
    assert_eq!(s.nodes.len(), 1);
    let (&m, node) = s.nodes.iter().next().unwrap();
    let all = entries(node.listpack()).expect("a valid listpack");
    assert_eq!(all[0].as_int(), Some(200));
    assert_eq!(node.last_id(m), StreamId::new(200, 0));
    assert_eq!(node.first_id(m), StreamId::new(1, 0));
    // Deleting 150 entries moves deleted past 127 (a wider encoding).
    let ids: Vec<StreamId> = (1..=150).map(|i| StreamId::new(i, 0)).collect();
    assert_eq!(s.delete_ids(&ids), 150);
    let node = &s.nodes[&m];
    let all = entries(node.listpack()).expect("still valid");
    assert_eq!((all[0].as_int(), all[1].as_int()), (Some(50), Some(150)));
    let got: Vec<u64> = s
        .range(StreamId::MIN, StreamId::MAX, false)
        .map(|e| e.id.ms)
        .collect();
    assert_eq!(got, (151..=200).collect::<Vec<_>>());
    let e = s.get(StreamId::new(153, 0)).unwrap();
    assert_eq!(e.to_vecs(), [b"f".to_vec(), long.as_bytes().to_vec()]);
    let e = s.get(StreamId::new(152, 0)).unwrap();
    assert!(matches!(e.fields().nth(1), Some(LpEntry::Int(7))));
    assert!(s.get(StreamId::new(150, 0)).is_none());
}

#[test]
fn splits_on_real_listpack_bytes() {
    // stream-node-max-bytes compares lpBytes + the new fields' length.
    let mut s = Stream::new();
    for i in 1..=10u64 {
        s.append(
            &["field", "0123456789"],
            Some((StreamId::new(i, 0), true)),
            0,
            0,
            100,
        )
        .unwrap();
    }
    for (&m, n) in &s.nodes {
        assert_eq!(n.bytes(), 22 + 20 * n.total(), "node {m:?}");
        assert_eq!(entries(n.listpack()).unwrap().len(), 5 + n.total() * 5);
    }
    // Header 6 + master entry (2+2+2+7+2) + EOF 1 = 22 bytes; each entry
    // (flags, ms, seq, "0123456789" (a string: 12 bytes), lp-count) is 20:
    // 42, 62, 82, then 82 + 15 < 100 admits a fourth and 102 + 15 does not.
    // Redis 7.0.15 also makes 3 nodes of these 10 entries.
    let sizes: Vec<usize> = s.nodes.values().map(|n| n.total()).collect();
    assert_eq!(sizes, [4, 4, 2]);
}

#[test]
fn different_fields_and_reverse_reads() {
    let mut s = Stream::new();
    add(&mut s, 5, 0, &["a", "1", "b", "2"]);
    add(&mut s, 5, 1, &["a", "x"]);
    add(&mut s, 6, 0, &["a", "y", "b", "z"]);
    add(&mut s, 7, 3, &["-12", "1234567890123", "", "e"]);
    let fwd: Vec<(StreamId, Vec<Vec<u8>>)> = s
        .range(StreamId::MIN, StreamId::MAX, false)
        .map(|e| (e.id, e.to_vecs()))
        .collect();
    let mut rev: Vec<(StreamId, Vec<Vec<u8>>)> = s
        .range(StreamId::MIN, StreamId::MAX, true)
        .map(|e| (e.id, e.to_vecs()))
        .collect();
    rev.reverse();
    assert_eq!(fwd, rev);
    assert_eq!(fwd[1].1, [b"a".to_vec(), b"x".to_vec()]);
    assert_eq!(
        fwd[3].1,
        [
            b"-12".to_vec(),
            b"1234567890123".to_vec(),
            b"".to_vec(),
            b"e".to_vec()
        ]
    );
    let mid: Vec<StreamId> = s
        .range(StreamId::new(5, 1), StreamId::new(6, 0), true)
        .map(|e| e.id)
        .collect();
    assert_eq!(mid, [StreamId::new(6, 0), StreamId::new(5, 1)]);
    assert_eq!(
        s.nodes[&StreamId::new(5, 0)].last_id(StreamId::new(5, 0)),
        StreamId::new(7, 3)
    );
}
