//! Tests of the stream decoder: the fact sheet's node example in all three
//! stream versions, groups and PELs, and damaged variants.

use super::*;
use crate::keyspace::Value;
use crate::persistence::rdb::decode::tests::enc;
use crate::persistence::rdb::listpack::LpWriter;
use crate::persistence::rdb::{decode_object, Limits, Reader};

/// The fact sheet's node: master 1-1 with fields name, val; entry 1-1
/// (same fields), 1-2 (deleted), 2-1 (own field "other").
fn node_lp(lp_count_first: i64) -> Vec<u8> {
    let mut w = LpWriter::new();
    for i in [2i64, 1, 2] {
        w.push_int(i);
    }
    w.push_str(b"name");
    w.push_str(b"val");
    w.push_int(0);
    for i in [2i64, 0, 0] {
        w.push_int(i);
    }
    w.push_str(b"a");
    w.push_int(1);
    w.push_int(lp_count_first);
    for i in [3i64, 0, 1] {
        w.push_int(i);
    }
    w.push_str(b"b");
    w.push_int(2);
    w.push_int(5);
    for i in [0i64, 1, 0, 1] {
        w.push_int(i);
    }
    w.push_str(b"other");
    w.push_str(b"x");
    w.push_int(6);
    w.finish()
}

fn raw_id(out: &mut Vec<u8>, ms: u64, seq: u64) {
    out.extend_from_slice(&ms.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
}

struct Opts {
    t: u8,
    lp: Vec<u8>,
    length: u64,
    consumer_pel: Vec<(u64, u64)>,
    entries_read: u64,
}

fn body(o: &Opts) -> Vec<u8> {
    let mut b = vec![1];
    let mut key = vec![];
    raw_id(&mut key, 1, 1);
    enc::string(&mut b, &key);
    enc::string(&mut b, &o.lp);
    enc::len(&mut b, o.length);
    enc::len(&mut b, 2);
    enc::len(&mut b, 1);
    if o.t >= types::STREAM_LISTPACKS_2 {
        for n in [1u64, 1, 1, 2, 3] {
            enc::len(&mut b, n);
        }
    }
    b.push(1);
    enc::string(&mut b, b"grp");
    enc::len(&mut b, 1);
    enc::len(&mut b, 1);
    if o.t >= types::STREAM_LISTPACKS_2 {
        enc::len(&mut b, o.entries_read);
    }
    b.push(1);
    raw_id(&mut b, 1, 1);
    b.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
    enc::len(&mut b, 4);
    b.push(1);
    enc::string(&mut b, b"alice");
    b.extend_from_slice(&1_700_000_000_500i64.to_le_bytes());
    if o.t >= types::STREAM_LISTPACKS_3 {
        b.extend_from_slice(&1_700_000_000_400i64.to_le_bytes());
    }
    enc::len(&mut b, o.consumer_pel.len() as u64);
    for (ms, seq) in &o.consumer_pel {
        raw_id(&mut b, *ms, *seq);
    }
    b
}

fn good(t: u8) -> Opts {
    Opts {
        t,
        lp: node_lp(5),
        length: 2,
        consumer_pel: vec![(1, 1)],
        entries_read: 1,
    }
}

fn decode(o: &Opts) -> Result<Stream, RdbError> {
    let b = body(o);
    let mut r = Reader::new(&b);
    let v = decode_object(&mut r, o.t, &Limits::default())?;
    assert_eq!(r.remaining(), 0);
    match v {
        Some(Value::Stream(s)) => Ok(*s),
        _ => panic!("not a stream"),
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn all_versions_load_the_fact_sheet_node() {
    for t in [
        types::STREAM_LISTPACKS,
        types::STREAM_LISTPACKS_2,
        types::STREAM_LISTPACKS_3,
    ] {
        let s = decode(&good(t)).unwrap();
        assert_eq!(s.length, 2);
        assert_eq!(s.last_id, StreamId::new(2, 1));
        let node = &s.nodes[&StreamId::new(1, 1)];
        assert_eq!(node.live(), 2);
        assert_eq!(node.entries(StreamId::new(1, 1)).count(), 3);
        // The listpack is adopted as it is.
        assert_eq!(node.listpack(), &node_lp(5)[..]);
        let names: Vec<Vec<u8>> = node.master_fields().map(|f| f.to_bytes()).collect();
        assert_eq!(names, [b"name".to_vec(), b"val".to_vec()]);
        let (_, e) = node
            .entries(StreamId::new(1, 1))
            .nth(1)
            .expect("three records");
        assert!(e.deleted, "1-2 is flagged deleted");
        assert_eq!(
            e.to_vecs(),
            [
                b"name".to_vec(),
                b"b".to_vec(),
                b"val".to_vec(),
                b"2".to_vec()
            ]
        );
        assert_eq!(
            s.get(StreamId::new(1, 1)).unwrap().to_vecs(),
            [
                b"name".to_vec(),
                b"a".to_vec(),
                b"val".to_vec(),
                b"1".to_vec()
            ]
        );
        assert_eq!(
            s.get(StreamId::new(2, 1)).unwrap().to_vecs(),
            [b"other".to_vec(), b"x".to_vec()]
        );
        assert!(s.get(StreamId::new(1, 2)).is_none());
        let g = &s.groups[&b("grp")];
        assert_eq!(g.last_id, StreamId::new(1, 1));
        assert_eq!(g.entries_read, 1);
        let nack = &g.pel[&StreamId::new(1, 1)];
        assert_eq!(
            (nack.delivery_time, nack.delivery_count, &nack.consumer),
            (1_700_000_000_000, 4, &b("alice"))
        );
        let c = &g.consumers[&b("alice")];
        assert_eq!(c.seen_time, 1_700_000_000_500);
        assert!(c.pel.contains(&StreamId::new(1, 1)));
        if t == types::STREAM_LISTPACKS {
            // Derived as Redis 7.0 derives them.
            assert_eq!(s.first_id, StreamId::new(1, 1));
            assert_eq!(s.max_deleted_id, StreamId::MIN);
            assert_eq!(s.entries_added, 2);
        } else {
            assert_eq!(s.first_id, StreamId::new(1, 1));
            assert_eq!(s.max_deleted_id, StreamId::new(1, 2));
            assert_eq!(s.entries_added, 3);
        }
    }
}

#[test]
fn unknown_entries_read_is_minus_one() {
    let mut o = good(types::STREAM_LISTPACKS_2);
    o.entries_read = u64::MAX;
    assert_eq!(decode(&o).unwrap().groups[&b("grp")].entries_read, -1);
}

#[test]
fn damage_is_refused() {
    let t = types::STREAM_LISTPACKS_2;
    let mut o = good(t);
    o.lp = node_lp(6);
    assert_eq!(decode(&o).unwrap_err().msg, BAD_LP);
    let mut o = good(t);
    o.length = 3;
    assert_eq!(
        decode(&o).unwrap_err().msg,
        "Stream length inconsistent with rax entries"
    );
    let mut o = good(t);
    o.consumer_pel = vec![(9, 9)];
    assert_eq!(
        decode(&o).unwrap_err().msg,
        "Consumer entry not found in group global PEL"
    );
    let mut o = good(t);
    o.consumer_pel = vec![];
    assert_eq!(
        decode(&o).unwrap_err().msg,
        "Stream CG PEL entry without consumer"
    );
    let mut o = good(t);
    o.consumer_pel = vec![(1, 1), (1, 1)];
    assert!(decode(&o)
        .unwrap_err()
        .msg
        .starts_with("Duplicated consumer PEL entry"));
    let mut o = good(t);
    o.lp = LpWriter::new().finish();
    assert_eq!(decode(&o).unwrap_err().msg, "Empty listpack inside stream");
    // A node key that is not 16 bytes.
    let mut bad = vec![1];
    enc::string(&mut bad, b"short");
    let mut r = Reader::new(&bad);
    let e = decode_object(&mut r, t, &Limits::default()).unwrap_err();
    assert_eq!(
        e.msg,
        "Stream node key entry is not the size of a stream ID"
    );
    // Every truncation is an error, never a panic.
    let full = body(&good(types::STREAM_LISTPACKS_3));
    for cut in 0..full.len() {
        let mut r = Reader::new(&full[..cut]);
        assert!(decode_object(&mut r, types::STREAM_LISTPACKS_3, &Limits::default()).is_err());
    }
}

#[test]
fn empty_stream_is_kept() {
    // No nodes, no groups: a stream that had all entries deleted.
    let mut b = vec![0, 0, 5, 0];
    for n in [0u64, 0, 5, 0, 7] {
        enc::len(&mut b, n);
    }
    b.push(0);
    let mut r = Reader::new(&b);
    let v = decode_object(&mut r, types::STREAM_LISTPACKS_2, &Limits::default()).unwrap();
    match v {
        Some(Value::Stream(s)) => {
            assert_eq!(
                (s.length, s.last_id, s.entries_added),
                (0, StreamId::new(5, 0), 7)
            );
        }
        _ => panic!("an empty stream is a value"),
    }
}
