//! Property test: encode then decode is the identity, for random values of
//! every type and encoding (strings of every form, lists with plain and
//! packed nodes, intsets and hashtable sets, listpack and hashtable
//! hashes, listpack and skiplist zsets with special scores, streams with
//! tombstones and consumer groups), with and without compression, and
//! for a whole file through `save` and `load`.

use super::*;
use crate::keyspace::hash::{HashLimits, HashValue};
use crate::keyspace::list::ListValue;
use crate::keyspace::set::SetValue;
use crate::keyspace::stream::{Stream, StreamId};
use crate::keyspace::zset::{ZEncoding, ZLimits, ZSet};
use crate::keyspace::{Db, Value};
use bytes::Bytes;
use proptest::prelude::*;

/// A comparable rendering of a value: its encoding and its content, with
/// unordered collections sorted.
pub(super) fn view(v: &Value) -> (String, Vec<Vec<u8>>) {
    let enc = format!("{:?}/{}", v.value_type(), v.encoding());
    let mut out: Vec<Vec<u8>> = Vec::new();
    match v {
        Value::Int(_) | Value::Emb(_) | Value::Raw(_) => out.push(v.as_bytes().unwrap().to_vec()),
        Value::List(l) => out.extend(l.iter().map(|e| e.to_bytes())),
        Value::Set(s) => {
            out.extend(s.iter().map(|e| e.to_vec()));
            out.sort();
        }
        Value::Hash(h) => {
            let mut pairs: Vec<_> = h.iter().map(|(f, v)| [f.to_vec(), v.to_vec()]).collect();
            if matches!(h, HashValue::Table(_)) {
                pairs.sort();
            }
            out.extend(pairs.into_iter().flatten());
        }
        Value::ZSet(z) => {
            for (s, m) in z.iter() {
                out.push(m.to_vec());
                out.push(s.to_bits().to_le_bytes().to_vec());
            }
        }
        Value::Stream(s) => out.push(stream_view(s).into_bytes()),
    }
    (enc, out)
}

fn stream_view(s: &Stream) -> String {
    let mut o = format!(
        "len={} last={:?} first={:?} maxdel={:?} added={}\n",
        s.length, s.last_id, s.first_id, s.max_deleted_id, s.entries_added
    );
    for (k, n) in &s.nodes {
        o += &format!("node {:?} lp={:?}\n", k, n.listpack());
    }
    for (name, g) in &s.groups {
        o += &format!("group {:?} {:?} {}\n", name, g.last_id, g.entries_read);
        for (id, n) in &g.pel {
            o += &format!(
                "  pel {:?} {} {} {:?}\n",
                id, n.delivery_time, n.delivery_count, n.consumer
            );
        }
        for (c, con) in &g.consumers {
            o += &format!("  consumer {:?} {} {:?}\n", c, con.seen_time, con.pel);
        }
    }
    o
}

const HL: HashLimits = HashLimits {
    max_entries: 128,
    max_value: 64,
};
const ZL: ZLimits = ZLimits {
    max_entries: 128,
    max_value: 64,
};

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (0i64..100000).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..30),
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b')], 0..200),
        (1usize..9000).prop_map(|n| vec![b'z'; n]),
    ]
}

fn string_value() -> impl Strategy<Value = Value> {
    bytes_strategy().prop_map(|b| Value::string(&b))
}

fn list_value() -> impl Strategy<Value = Value> {
    proptest::collection::vec(bytes_strategy(), 1..300).prop_map(|items| {
        let l: ListValue = items.iter().map(|b| b.as_slice()).collect();
        Value::List(Box::new(l))
    })
}

fn set_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::collection::vec(any::<i64>(), 1..700),
        proptest::collection::vec(-40000i64..40000, 1..50),
    ]
    .prop_flat_map(|ints| {
        proptest::collection::vec(bytes_strategy(), 0..4).prop_map(move |strs| {
            let mut s = SetValue::for_member(ints[0].to_string().as_bytes());
            for n in &ints {
                s.add(n.to_string().as_bytes(), 512);
            }
            for b in &strs {
                s.add(b, 512);
            }
            Value::Set(s)
        })
    })
}

fn hash_value() -> impl Strategy<Value = Value> {
    proptest::collection::vec((bytes_strategy(), bytes_strategy()), 1..200).prop_map(|pairs| {
        let mut h = HashValue::new();
        for (f, v) in &pairs {
            h.set(f, v, HL);
        }
        Value::Hash(h)
    })
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<i32>().prop_map(|n| n as f64),
        (-1e6f64..1e6),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(1e300),
        Just(4611686018427387904.0),
        any::<f64>().prop_filter("not nan", |x| !x.is_nan()),
    ]
}

fn zset_value() -> impl Strategy<Value = Value> {
    proptest::collection::vec((bytes_strategy(), score()), 1..200).prop_map(|items| {
        let first = items[0].0.len();
        let mut z = ZSet::for_first(first, ZL);
        if z.encoding() == ZEncoding::Listpack && items.len() > 128 {
            z.convert_to_skiplist();
        }
        for (m, s) in &items {
            z.set(m, *s, ZL);
        }
        Value::ZSet(z)
    })
}

fn stream_value() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec((0u64..3, 0u8..3, any::<bool>()), 1..300),
        1usize..4,
        0usize..4,
    )
        .prop_map(|(ops, groups, readers)| {
            let mut s = Stream::new();
            let mut id = StreamId::new(1, 0);
            let mut ids = Vec::new();
            for (step, shape, delete) in ops {
                id = if step == 0 {
                    StreamId::new(id.ms, id.seq + 1)
                } else {
                    StreamId::new(id.ms + step, 0)
                };
                let fields: Vec<Bytes> = match shape {
                    0 => vec!["f".into(), "v".into(), "n".into(), "12".into()],
                    1 => vec!["f".into(), id.seq.to_string().into()],
                    _ => vec!["other".into(), "x".repeat(id.seq as usize % 50).into()],
                };
                s.append(&fields, Some((id, true)), 0, 100, 4096).unwrap();
                ids.push((id, delete));
            }
            let del: Vec<StreamId> = ids.iter().filter(|x| x.1).map(|x| x.0).collect();
            s.delete_ids(&del);
            for g in 0..groups {
                let mut grp = crate::keyspace::stream::Group::new(StreamId::MIN, -1);
                for r in 0..readers {
                    let name = Bytes::from(format!("c{r}"));
                    grp.consumers.insert(
                        name.clone(),
                        crate::keyspace::stream::Consumer {
                            seen_time: 1000 + r as i64,
                            pel: Default::default(),
                        },
                    );
                    for (i, (id, _)) in ids.iter().enumerate().filter(|(i, _)| i % 4 == r) {
                        if i % 3 == g {
                            grp.assign(*id, &name, 5000 + i as i64, 1 + i as u64 % 3);
                        }
                    }
                }
                grp.last_id = s.last_id;
                grp.entries_read = s.entries_added as i64;
                s.groups.insert(Bytes::from(format!("g{g}")), grp);
            }
            Value::Stream(Box::new(s))
        })
}

pub(super) fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        string_value(),
        list_value(),
        set_value(),
        hash_value(),
        zset_value(),
        stream_value(),
    ]
}

fn round_trip(v: &Value, compress: bool) -> Value {
    let mut body = Vec::new();
    let t = encode_object(&mut body, v, compress);
    let mut r = Reader::new(&body);
    let lim = Limits {
        deep: true,
        ..Limits::default()
    };
    let out = decode_object(&mut r, t, &lim)
        .unwrap_or_else(|e| panic!("decode type {t}: {e}"))
        .expect("not empty");
    assert_eq!(r.remaining(), 0, "the decoder read the whole body");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn encode_decode_is_identity(v in any_value(), compress in any::<bool>()) {
        let back = round_trip(&v, compress);
        prop_assert_eq!(view(&v), view(&back));
    }

    #[test]
    fn dump_payload_round_trips(v in any_value()) {
        let p = dump_payload(&v);
        let (t, body) = verify_dump_payload(&p).expect("sound payload");
        let mut r = Reader::new(body);
        let back = decode_object(&mut r, t, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(view(&v), view(&back));
    }

    #[test]
    fn whole_file_round_trips(vals in proptest::collection::vec((any_value(), any::<bool>()), 1..8)) {
        let mut dbs: Vec<Db> = (0..3).map(|_| Db::new()).collect();
        for (i, (v, ttl)) in vals.iter().enumerate() {
            let db = &mut dbs[i % 3];
            let key = format!("key:{i}");
            db.set(key.as_bytes(), v.clone(), false, 0);
            if *ttl {
                db.set_expire(key.as_bytes(), 4_000_000_000_000 + i as i64);
            }
        }
        let mut file = Vec::new();
        let n = save(&mut file, &dbs, &SaveOptions::default(), &mut || {}).unwrap();
        prop_assert_eq!(n as usize, file.len());
        let mut sink = Collect::default();
        let opts = LoadOptions { limits: Limits::default(), verify_checksum: true, workers: 0 };
        let summary = load(&file, &opts, &mut sink).unwrap();
        prop_assert_eq!(summary.keys as usize, vals.len());
        sink.keys.sort_by_key(|k| String::from_utf8_lossy(&k.0[4..]).parse::<usize>().unwrap());
        for (i, (v, ttl)) in vals.iter().enumerate() {
            let (_, db, val, meta) = &sink.keys[i];
            prop_assert_eq!(*db, (i % 3) as u64);
            prop_assert_eq!(view(v), view(val));
            let want = if *ttl { 4_000_000_000_000 + i as i64 } else { -1 };
            prop_assert_eq!(meta.expire_ms, want);
        }
    }
}

/// A load sink that keeps (key, db, value, meta) in file order.
#[derive(Default)]
struct Collect {
    db: u64,
    keys: Vec<(Vec<u8>, u64, Value, KeyMeta)>,
}

impl LoadSink for Collect {
    fn aux(&mut self, _k: &[u8], _v: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> Result<(), String> {
        self.db = db;
        Ok(())
    }
    fn key(&mut self, key: &[u8], value: Value, meta: KeyMeta) -> Result<(), String> {
        self.keys.push((key.to_vec(), self.db, value, meta));
        Ok(())
    }
    fn function(&mut self, _code: &[u8]) -> Result<(), String> {
        Ok(())
    }
}
