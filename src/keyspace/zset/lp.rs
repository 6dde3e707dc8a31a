//! The `listpack` encoding of a small sorted set: member and score
//! entries alternating in one [`Packed`] buffer, ordered by (score,
//! member), as Redis keeps them in its listpack.
//!
//! Scores are stored as compactly as Redis stores them: an integral score
//! below 2^53 in magnitude is its shortest little-endian two's complement
//! form (0 to 7 bytes, like listpack integers), anything else the 8 bytes
//! of the double. A set of ten short members then costs about 110 bytes,
//! one allocation, instead of a node and a heap string per member.

use super::super::packed::{Packed, PackedIter};
use std::cmp::Ordering;

/// The stored form of `score`: its bytes in `buf`, the length returned.
pub(super) fn encode_score(score: f64, buf: &mut [u8; 8]) -> usize {
    const LIMIT: f64 = (1u64 << 53) as f64;
    let integral = score.fract() == 0.0 && score.abs() < LIMIT;
    if integral && !(score == 0.0 && score.is_sign_negative()) {
        let n = score as i64;
        *buf = n.to_le_bytes();
        // Shortest length whose sign extension gives n back (0 for 0;
        // |n| < 2^53 always fits in 7 bytes).
        if n == 0 {
            return 0;
        }
        (1..7)
            .find(|len| {
                let shift = 64 - 8 * len;
                (n << shift) >> shift == n
            })
            .unwrap_or(7)
    } else {
        *buf = score.to_bits().to_le_bytes();
        8
    }
}

/// Reads a score written by [`encode_score`].
pub(super) fn decode_score(b: &[u8]) -> f64 {
    if b.len() == 8 {
        return f64::from_bits(u64::from_le_bytes(b.try_into().expect("8 bytes")));
    }
    if b.is_empty() {
        return 0.0;
    }
    let mut v = [0u8; 8];
    v[..b.len()].copy_from_slice(b);
    let shift = 64 - 8 * b.len();
    ((i64::from_le_bytes(v) << shift) >> shift) as f64
}

/// (offset of the member entry, score, member) of every element in order.
#[derive(Clone)]
pub(super) struct LpIter<'a> {
    it: PackedIter<'a>,
}

impl<'a> Iterator for LpIter<'a> {
    type Item = (usize, f64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (off, m) = self.it.next()?;
        let (_, s) = self.it.next().expect("member and score");
        Some((off, decode_score(s), m))
    }
}

pub(super) fn iter(p: &Packed) -> LpIter<'_> {
    LpIter { it: p.iter() }
}

/// Number of elements.
pub(super) fn len(p: &Packed) -> usize {
    p.len() / 2
}

/// (offset, score) of `member`.
pub(super) fn find(p: &Packed, member: &[u8]) -> Option<(usize, f64)> {
    let mut it = p.iter();
    while let Some((off, m)) = it.next() {
        let (_, s) = it.next().expect("member and score");
        if m == member {
            return Some((off, decode_score(s)));
        }
    }
    None
}

/// Inserts an element known to be absent at its place in the order.
pub(super) fn insert(p: &mut Packed, score: f64, member: &[u8]) {
    let at = iter(p)
        .find(|&(_, s, m)| super::cmp_score_member(s, m, score, member) == Ordering::Greater)
        .map_or(p.end(), |e| e.0);
    let mut buf = [0u8; 8];
    let n = encode_score(score, &mut buf);
    p.insert(at, &[member, &buf[..n]]);
}

/// Offset of the member entry at rank `r` (the end offset if r == len).
pub(super) fn offset_of(p: &Packed, r: usize) -> usize {
    iter(p).nth(r).map_or(p.end(), |e| e.0)
}

/// A listpack holding `items`, which must be sorted and free of
/// duplicates (loading, conversion back from a skiplist).
pub(super) fn from_sorted<'a>(items: impl Iterator<Item = (f64, &'a [u8])>) -> Packed {
    let scores: Vec<([u8; 8], usize, &[u8])> = items
        .map(|(s, m)| {
            let mut buf = [0u8; 8];
            let n = encode_score(s, &mut buf);
            (buf, n, m)
        })
        .collect();
    Packed::from_entries(
        scores
            .iter()
            .flat_map(|(buf, n, m)| [*m, &buf[..*n]].into_iter()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_compactly() {
        let cases: &[(f64, usize)] = &[
            (0.0, 0),
            (1.0, 1),
            (-1.0, 1),
            (127.0, 1),
            (128.0, 2),
            (-128.0, 1),
            (-129.0, 2),
            (65535.0, 3),
            (1e15, 7),
            (-(2f64.powi(53)) + 1.0, 7),
            (2f64.powi(53), 8),
            (1.5, 8),
            (-0.0, 8),
            (f64::INFINITY, 8),
            (f64::NEG_INFINITY, 8),
            (1e300, 8),
            (5e-324, 8),
        ];
        for &(s, want) in cases {
            let mut buf = [0u8; 8];
            let n = encode_score(s, &mut buf);
            assert_eq!(n, want, "length of {s}");
            let back = decode_score(&buf[..n]);
            assert_eq!(back.to_bits(), s.to_bits(), "{s}");
        }
    }

    #[test]
    fn insert_keeps_order() {
        let mut p = Packed::new();
        for (s, m) in [(2.0, &b"b"[..]), (1.0, b"z"), (2.0, b"a"), (-0.5, b"q")] {
            insert(&mut p, s, m);
        }
        let got: Vec<_> = iter(&p).map(|(_, s, m)| (s, m.to_vec())).collect();
        assert_eq!(
            got,
            vec![
                (-0.5, b"q".to_vec()),
                (1.0, b"z".to_vec()),
                (2.0, b"a".to_vec()),
                (2.0, b"b".to_vec())
            ]
        );
        assert_eq!(find(&p, b"a").map(|f| f.1), Some(2.0));
        assert_eq!(find(&p, b"x"), None);
        let built = from_sorted(got.iter().map(|(s, m)| (*s, &m[..])));
        assert_eq!(built, p);
        assert_eq!(offset_of(&p, 4), p.end());
    }
}
