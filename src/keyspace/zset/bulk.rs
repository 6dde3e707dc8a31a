//! Building a whole sorted set at once from distinct members (loading an
//! RDB value, RESTORE): one sort, then each encoding written in a single
//! pass, instead of a search and a shift per inserted member. RDB files
//! store skiplists from the greatest element down, which the sort takes
//! as one descending run (linear time).

use super::chunks::Chunks;
use super::{cmp_score_member, lp, Repr, Skip, ZEncoding, ZSet};
use crate::keyspace::bytes::KBytes;

/// A member given twice to [`ZSet::from_distinct`].
#[derive(Debug, PartialEq, Eq)]
pub struct DuplicateMember;

/// Up to this many members, duplicates are found by comparing every pair
/// (cheaper than hashing a handful of short members).
const PAIRWISE_MAX: usize = 16;

impl ZSet {
    /// A set holding `items` (score, member) in encoding `enc`, whatever
    /// the limits. Scores must not be NaN. A member present twice is an
    /// error (the set is not built).
    pub fn from_distinct(
        mut items: Vec<(f64, &[u8])>,
        enc: ZEncoding,
    ) -> Result<ZSet, DuplicateMember> {
        match enc {
            ZEncoding::Listpack => {
                if items.len() <= PAIRWISE_MAX {
                    for (i, a) in items.iter().enumerate() {
                        if items[i + 1..].iter().any(|b| b.1 == a.1) {
                            return Err(DuplicateMember);
                        }
                    }
                } else {
                    let mut seen = hashbrown::HashSet::with_capacity(items.len());
                    if !items.iter().all(|e| seen.insert(e.1)) {
                        return Err(DuplicateMember);
                    }
                }
                // The listpack reads a -0 score back as 0.
                for e in &mut items {
                    if e.0 == 0.0 {
                        e.0 = 0.0;
                    }
                }
                sort(&mut items);
                Ok(ZSet {
                    repr: Repr::Pack(lp::from_sorted(items.into_iter())),
                })
            }
            ZEncoding::Skiplist => {
                let mut skip = Skip::default();
                skip.dict.reserve(items.len());
                let mut elems = Vec::with_capacity(items.len());
                for (score, m) in items {
                    let m = KBytes::new(m);
                    if skip.dict.insert(m.clone(), score).is_some() {
                        return Err(DuplicateMember);
                    }
                    elems.push((score, m));
                }
                elems.sort_unstable_by(|a, b| cmp_score_member(a.0, &a.1, b.0, &b.1));
                skip.seq = Chunks::from_sorted(elems);
                Ok(ZSet {
                    repr: Repr::Skip(Box::new(skip)),
                })
            }
        }
    }
}

/// Sorts distinct elements into Redis's order.
fn sort(items: &mut [(f64, &[u8])]) {
    items.sort_unstable_by(|a, b| cmp_score_member(a.0, a.1, b.0, b.1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::zset::ZLimits;

    fn members(z: &ZSet) -> Vec<(f64, Vec<u8>)> {
        z.iter().map(|(s, m)| (s, m.to_vec())).collect()
    }

    #[test]
    fn matches_one_by_one_inserts() {
        let keep = ZLimits {
            max_entries: usize::MAX,
            max_value: usize::MAX,
        };
        for n in [1usize, 5, 17, 130, 1000] {
            let names: Vec<Vec<u8>> = (0..n).map(|i| format!("m{}", i * 7 % n).into()).collect();
            // Descending, as RDB files store skiplists, with ties.
            let items: Vec<(f64, &[u8])> = names
                .iter()
                .enumerate()
                .map(|(i, m)| (((n - i) / 3) as f64, m.as_slice()))
                .collect();
            for enc in [ZEncoding::Listpack, ZEncoding::Skiplist] {
                let bulk = ZSet::from_distinct(items.clone(), enc).unwrap();
                let mut one = ZSet::new(enc);
                for (s, m) in &items {
                    one.insert_member(m, *s, keep);
                }
                assert_eq!(bulk.encoding(), enc);
                assert_eq!(bulk.len(), n);
                assert_eq!(members(&bulk), members(&one), "n={n} {enc:?}");
                for (s, m) in &items {
                    assert_eq!(bulk.score(m), Some(*s));
                }
                if n > 1 {
                    assert_eq!(bulk.rank(&names[0]), one.rank(&names[0]));
                }
            }
        }
    }

    #[test]
    fn duplicates_are_refused() {
        for n in [2usize, 40] {
            let names: Vec<Vec<u8>> = (0..n).map(|i| format!("m{i}").into()).collect();
            let mut items: Vec<(f64, &[u8])> = names.iter().map(|m| (1.0, m.as_slice())).collect();
            items.push((2.0, names[n / 2].as_slice()));
            for enc in [ZEncoding::Listpack, ZEncoding::Skiplist] {
                assert_eq!(
                    ZSet::from_distinct(items.clone(), enc).unwrap_err(),
                    DuplicateMember
                );
            }
        }
    }

    #[test]
    fn negative_zero_reads_back_as_zero_in_a_listpack() {
        let z = ZSet::from_distinct(vec![(-0.0, &b"a"[..])], ZEncoding::Listpack).unwrap();
        assert!(z.score(b"a").unwrap().is_sign_positive());
    }
}
