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
