//! Unit and property tests of the stream type: ID generation, node
//! boundaries, trimming and a model of ordering under adds, deletes and
//! MINID trims.

use super::*;
use proptest::prelude::*;

fn f(v: &[&str]) -> Vec<Bytes> {
    v.iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect()
}

#[test]
fn append_ids_and_errors() {
    let mut s = Stream::new();
    let a = s.append(&f(&["a", "1"]), None, 5, 100, 4096).unwrap();
    assert_eq!(a, StreamId::new(5, 0));
    let b = s.append(&f(&["a", "1"]), None, 5, 100, 4096).unwrap();
    assert_eq!(b, StreamId::new(5, 1));
    let c = s
        .append(
            &f(&["a", "1"]),
            Some((StreamId::new(5, 0), false)),
            0,
            100,
            4096,
        )
        .unwrap();
    assert_eq!(c, StreamId::new(5, 2));
    assert_eq!(
        s.append(
            &f(&["a", "1"]),
            Some((StreamId::new(5, 2), true)),
            0,
            100,
            4096
        ),
        Err(AppendError::TooSmall)
    );
    assert_eq!(s.len(), 3);
    assert_eq!(s.entries_added, 3);
}

#[test]
fn nodes_split_by_entries_and_approx_trim_removes_whole_nodes() {
    let mut s = Stream::new();
    for i in 1..=25u64 {
        s.append(
            &f(&["k", "v"]),
            Some((StreamId::new(i, 0), true)),
            0,
            10,
            4096,
        )
        .unwrap();
    }
    assert_eq!(s.nodes.len(), 3);
    assert_eq!(s.trim(Trim::MaxLen(12), true, 0), 10);
    assert_eq!(s.len(), 15);
    assert_eq!(s.trim(Trim::MaxLen(12), false, 0), 3);
    assert_eq!(s.first_id, StreamId::new(14, 0));
    assert_eq!(s.first_stored_id(), StreamId::new(11, 0));
}

proptest! {
    #[test]
    fn model(ops in proptest::collection::vec((0u8..6, 0u64..40), 1..80)) {
        let mut s = Stream::new();
        let mut model: Vec<u64> = Vec::new();
        for (op, x) in ops {
            match op {
                0 | 1 => {
                    let want = StreamId::new(x, 0);
                    let fits = model.last().is_none_or(|&l| x > l) && s.last_id < want;
                    let r = s.append(&f(&["f", "v"]), Some((want, true)), 0, 4, 4096);
                    if fits {
                        prop_assert!(r.is_ok());
                        model.push(x);
                    } else {
                        prop_assert!(r.is_err());
                    }
                }
                2 => {
                    let d = s.delete_ids(&[StreamId::new(x, 0)]);
                    let before = model.len();
                    model.retain(|&m| m != x);
                    prop_assert_eq!(d as usize, before - model.len());
                }
                4 => {
                    // Exact MAXLEN keeps the newest x entries.
                    let n = s.trim(Trim::MaxLen(x), false, 0);
                    let drop = model.len().saturating_sub(x as usize);
                    prop_assert_eq!(n as usize, drop);
                    model.drain(..drop);
                }
                5 => {
                    // Approximate MAXLEN removes whole nodes from the head
                    // only, never going below the threshold.
                    let before = model.len();
                    let n = s.trim(Trim::MaxLen(x), true, 0) as usize;
                    prop_assert!(n <= before.saturating_sub(x as usize));
                    model.drain(..n);
                }
                _ => {
                    let n = s.trim(Trim::MinId(StreamId::new(x, 0)), false, 0);
                    let before = model.len();
                    model.retain(|&m| m >= x);
                    prop_assert_eq!(n as usize, before - model.len());
                }
            }
            let got: Vec<u64> = s.range(StreamId::MIN, StreamId::MAX, false).map(|e| e.id.ms).collect();
            prop_assert_eq!(&got, &model);
            prop_assert_eq!(s.len() as usize, model.len());
            let rev: Vec<u64> = s.range(StreamId::MIN, StreamId::MAX, true).map(|e| e.id.ms).collect();
            prop_assert_eq!(rev, model.iter().rev().copied().collect::<Vec<_>>());
            if let Some(&first) = model.first() {
                prop_assert_eq!(s.first_id, StreamId::new(first, 0));
            }
        }
    }
}

fn field_set(k: u8, v: u64) -> Vec<Vec<u8>> {
    let val = match v % 4 {
        0 => v.to_string(),
        1 => format!("-{v}"),
        2 => "x".repeat(v as usize % 200),
        _ => format!("0{v}"),
    };
    let pairs: &[&str] = match k % 4 {
        0 => &["f"],
        1 => &["f", "g"],
        2 => &["12", "f"],
        _ => &["other"],
    };
    pairs
        .iter()
        .flat_map(|f| [f.as_bytes().to_vec(), val.clone().into_bytes()])
        .collect()
}

proptest! {
    /// Random XADD / XDEL / XTRIM sequences against a BTreeMap model, with
    /// varied fields and small node limits; every node must stay a valid
    /// listpack whose master entry counts match.
    #[test]
    fn model_with_fields(
        max_entries in 0i64..6,
        max_bytes in prop_oneof![Just(0u64), 40u64..400],
        ops in proptest::collection::vec((0u8..8, 0u64..60, 0u8..8), 1..120),
    ) {
        use crate::persistence::rdb::listpack;
        let mut s = Stream::new();
        let mut model: BTreeMap<StreamId, Vec<Vec<u8>>> = BTreeMap::new();
        let mut next = 1u64;
        for (op, x, k) in ops {
            match op {
                0..=2 => {
                    let f = field_set(k, x);
                    let id = s.append(&f, None, next, max_entries, max_bytes).unwrap();
                    next += x % 3;
                    model.insert(id, f);
                }
                3 => {
                    let id = model.keys().nth(x as usize % (model.len() + 1)).copied()
                        .unwrap_or(StreamId::new(x, 0));
                    let d = s.delete_ids(&[id]);
                    prop_assert_eq!(d, model.remove(&id).is_some() as u64);
                }
                4 => {
                    let n = s.trim(Trim::MaxLen(x % 20), k % 2 == 0, 0);
                    let drop = n as usize;
                    prop_assert!(model.len() - drop >= model.len().min((x % 20) as usize));
                    if k % 2 == 1 {
                        prop_assert_eq!(model.len() - drop, model.len().min((x % 20) as usize));
                    }
                    let keep: Vec<StreamId> = model.keys().skip(drop).copied().collect();
                    model.retain(|id, _| keep.contains(id));
                }
                _ => {
                    let min = StreamId::new(x, 0);
                    let n = s.trim(Trim::MinId(min), k % 2 == 0, 0) as usize;
                    let below = model.range(..min).count();
                    if k % 2 == 1 {
                        prop_assert_eq!(n, below);
                    } else {
                        prop_assert!(n <= below);
                    }
                    let gone: Vec<StreamId> = model.keys().take(n).copied().collect();
                    for id in gone {
                        model.remove(&id);
                    }
                }
            }
            prop_assert_eq!(s.len() as usize, model.len());
            let got: Vec<(StreamId, Vec<Vec<u8>>)> = s
                .range(StreamId::MIN, StreamId::MAX, false)
                .map(|e| (e.id, e.to_vecs()))
                .collect();
            let want: Vec<(StreamId, Vec<Vec<u8>>)> =
                model.iter().map(|(k, v)| (*k, v.clone())).collect();
            prop_assert_eq!(&got, &want);
            let rev: Vec<StreamId> = s.range(StreamId::MIN, StreamId::MAX, true).map(|e| e.id).collect();
            prop_assert_eq!(rev, model.keys().rev().copied().collect::<Vec<_>>());
            for (id, f) in &model {
                prop_assert_eq!(&s.get(*id).map(|e| e.to_vecs()), &Some(f.clone()));
            }
            if let Some((&first, _)) = model.iter().next() {
                prop_assert_eq!(s.first_id, first);
            }
            for (&m, node) in &s.nodes {
                let all = listpack::entries(node.listpack()).expect("a valid listpack");
                prop_assert_eq!(all[0].as_int(), Some(node.live() as i64));
                prop_assert_eq!(all[1].as_int(), Some(node.deleted() as i64));
                if max_entries > 0 {
                    prop_assert!(node.total() as i64 <= max_entries);
                }
                prop_assert_eq!(node.entries(m).count(), node.total());
                prop_assert_eq!(node.entries(m).last().map(|e| e.1.id), Some(node.last_id(m)));
            }
        }
    }
}
