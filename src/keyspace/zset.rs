//! Sorted sets: members ordered by (score, member bytes), with Redis 7.0's
//! two logical encodings.
//!
//! * `listpack`: small sets (at most `zset-max-listpack-entries` members,
//!   each at most `zset-max-listpack-value` bytes): members and compactly
//!   encoded scores in order in one flat buffer ([`lp`]). Lookups scan it,
//!   as Redis scans its listpack.
//! * `skiplist`: larger sets. The ordered sequence ([`chunks`]: sorted
//!   chunks with a cached prefix count, O(log n) by rank or by element) is
//!   indexed by a member -> score hash map, so ZSCORE is O(1).
//!
//! Ordering follows Redis's skiplist: by score (`<`; -0 equals 0), ties
//! broken by memcmp of the member. Scores are never NaN (callers reject it).
//! Conversions follow t_zset.c: listpack -> skiplist when an insert would
//! exceed either threshold; skiplist -> listpack only where Redis calls
//! zsetConvertToListpackIfNeeded (stored results of ZUNIONSTORE and
//! friends), via [`ZSet::shrink_if_fits`].

mod bulk;
mod chunks;
mod lp;

use super::bytes::KBytes;
use super::packed::Packed;
use bytes::Bytes;
use chunks::Chunks;
use std::cmp::Ordering;
use std::collections::HashMap;

pub use bulk::DuplicateMember;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZEncoding {
    Listpack,
    Skiplist,
}

/// Thresholds of the listpack encoding (from Config).
#[derive(Clone, Copy, Debug)]
pub struct ZLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

/// A score range (zrangespec).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

/// One bound of a lex range (zlexrangespec).
#[derive(Clone, Debug)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Bytes),
    Excl(Bytes),
}

#[derive(Clone, Debug)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

pub type Elem = (f64, KBytes);

/// Redis's order: by score (`<`; -0 equals 0), ties by memcmp of the
/// member.
fn cmp_score_member(s: f64, m: &[u8], score: f64, member: &[u8]) -> Ordering {
    if s < score {
        Ordering::Less
    } else if s > score {
        Ordering::Greater
    } else {
        m.cmp(member)
    }
}

fn cmp_elem(a: &Elem, score: f64, member: &[u8]) -> Ordering {
    cmp_score_member(a.0, &a.1, score, member)
}

/// A sorted set value: 16 bytes, the listpack buffer itself or a box
/// holding the skiplist encoding.
#[derive(Clone, Debug)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    /// Member and score entries in order (see [`lp`]).
    Pack(Packed),
    Skip(Box<Skip>),
}

/// The skiplist encoding: the ordered sequence and member -> score.
#[derive(Clone, Debug, Default)]
struct Skip {
    seq: Chunks,
    dict: HashMap<KBytes, f64, super::hash::Builder>,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new(ZEncoding::Listpack)
    }
}

/// An element borrowed from a set: (score, member).
pub type ElemRef<'a> = (f64, &'a [u8]);

/// Elements in ascending order.
#[derive(Clone)]
pub struct Iter<'a>(IterInner<'a>);

#[derive(Clone)]
enum IterInner<'a> {
    Pack(lp::LpIter<'a>),
    Skip(chunks::ChunkIter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = ElemRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<ElemRef<'a>> {
        match &mut self.0 {
            IterInner::Pack(it) => it.next().map(|(_, s, m)| (s, m)),
            IterInner::Skip(it) => it.next().map(|e| (e.0, &e.1[..])),
        }
    }
}

/// See [`ZSet::ranked`].
pub enum Ranked<'a> {
    Decoded(Vec<ElemRef<'a>>),
    Set(&'a ZSet),
}

impl<'a> Ranked<'a> {
    /// The element at ascending rank `r` (< len).
    pub fn at(&self, r: usize) -> ElemRef<'a> {
        match self {
            Ranked::Decoded(v) => v[r],
            Ranked::Set(z) => z.at(r),
        }
    }
}

impl ZSet {
    pub fn new(enc: ZEncoding) -> Self {
        let repr = match enc {
            ZEncoding::Listpack => Repr::Pack(Packed::new()),
            ZEncoding::Skiplist => Repr::Skip(Box::default()),
        };
        ZSet { repr }
    }

    /// An empty set with the encoding Redis gives a new key whose first
    /// member is `first_len` bytes long (zaddGenericCommand's rule).
    pub fn for_first(first_len: usize, lim: ZLimits) -> Self {
        if lim.max_entries == 0 || lim.max_value < first_len {
            ZSet::new(ZEncoding::Skiplist)
        } else {
            ZSet::new(ZEncoding::Listpack)
        }
    }

    /// A listpack-encoded set of `items`, which must be in order and free
    /// of duplicates (and carry no -0 score).
    fn pack_sorted<'a>(items: impl Iterator<Item = ElemRef<'a>>) -> Self {
        ZSet {
            repr: Repr::Pack(lp::from_sorted(items)),
        }
    }

    pub fn encoding(&self) -> ZEncoding {
        match self.repr {
            Repr::Pack(_) => ZEncoding::Listpack,
            Repr::Skip(_) => ZEncoding::Skiplist,
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => lp::len(p),
            Repr::Skip(s) => s.seq.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(p) => lp::find(p, member).map(|f| f.1),
            Repr::Skip(s) => s.dict.get(member).copied(),
        }
    }

    /// Heap bytes owned by the set (MEMORY USAGE): the listpack buffer, or
    /// the ordered chunks and the map's table, plus the members too long
    /// to sit inline (each stored in both).
    pub fn heap_size(&self) -> usize {
        let s = match &self.repr {
            Repr::Pack(p) => return p.heap_size(),
            Repr::Skip(s) => s,
        };
        let elem = std::mem::size_of::<Elem>();
        let chunks: usize = s
            .seq
            .chunks
            .iter()
            .map(|c| std::mem::size_of::<Vec<Elem>>() + c.capacity() * elem)
            .sum();
        let members: usize = s.dict.keys().map(|m| 2 * m.heap_size()).sum();
        // Each slot holds a member, a score and a control byte.
        let dict = s.dict.capacity() * (std::mem::size_of::<(KBytes, f64)>() + 1);
        std::mem::size_of::<Skip>() + chunks + members + dict
    }

    /// Converts to the skiplist encoding.
    pub fn convert_to_skiplist(&mut self) {
        if let Repr::Pack(p) = &self.repr {
            let mut s = Skip::default();
            s.dict.reserve(lp::len(p));
            for (_, score, m) in lp::iter(p) {
                let m = KBytes::new(m);
                s.dict.insert(m.clone(), score);
                s.seq.insert((score, m));
            }
            self.repr = Repr::Skip(Box::new(s));
        }
    }

    /// zsetConvertToListpackIfNeeded: back to listpack if the set fits.
    /// The listpack reads a -0 score back as 0.
    pub fn shrink_if_fits(&mut self, lim: ZLimits) {
        if matches!(self.repr, Repr::Skip(_))
            && self.len() <= lim.max_entries
            && self.max_member_len() <= lim.max_value
        {
            *self = ZSet::pack_sorted(
                self.iter()
                    .map(|(s, m)| (if s == 0.0 { 0.0 } else { s }, m)),
            );
        }
    }

    fn max_member_len(&self) -> usize {
        self.iter().map(|e| e.1.len()).max().unwrap_or(0)
    }

    /// Inserts a member known to be absent, converting the encoding first
    /// if the listpack would exceed its limits.
    pub fn insert_new(&mut self, member: Bytes, score: f64, lim: ZLimits) {
        self.insert_member(&member, score, lim);
    }

    /// [`ZSet::insert_new`] from borrowed bytes.
    pub fn insert_member(&mut self, member: &[u8], score: f64, lim: ZLimits) {
        if let Repr::Pack(p) = &self.repr {
            if lp::len(p) + 1 > lim.max_entries || member.len() > lim.max_value {
                self.convert_to_skiplist();
            }
        }
        self.insert_absent(member, score);
    }

    /// Inserts an absent member with no threshold check.
    fn insert_absent(&mut self, member: &[u8], score: f64) {
        match &mut self.repr {
            Repr::Pack(p) => lp::insert(p, if score == 0.0 { 0.0 } else { score }, member),
            Repr::Skip(s) => {
                let m = KBytes::new(member);
                s.dict.insert(m.clone(), score);
                s.seq.insert((score, m));
            }
        }
    }

    /// Sets the score of a member, inserting it if absent. True if added.
    pub fn set(&mut self, member: &[u8], score: f64, lim: ZLimits) -> bool {
        match self.score(member) {
            Some(old) => {
                self.update(member, old, score);
                false
            }
            None => {
                self.insert_member(member, score, lim);
                true
            }
        }
    }

    /// Changes the score of an existing member from `old` to `new`.
    pub fn update(&mut self, member: &[u8], old: f64, new: f64) {
        if old == new {
            return;
        }
        match &mut self.repr {
            Repr::Pack(p) => {
                let (off, _) = lp::find(p, member).expect("member present");
                p.remove(off, 2);
                lp::insert(p, if new == 0.0 { 0.0 } else { new }, member);
            }
            Repr::Skip(s) => {
                let r = s
                    .seq
                    .partition_point(|e| cmp_elem(e, old, member) == Ordering::Less);
                let m = s.seq.drain(r, r + 1).pop().expect("member present").1;
                s.dict.insert(m.clone(), new);
                s.seq.insert((new, m));
            }
        }
    }

    /// Removes a member; true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(p) => match lp::find(p, member) {
                Some((off, _)) => {
                    p.remove(off, 2);
                    true
                }
                None => false,
            },
            Repr::Skip(s) => match s.dict.remove(member) {
                Some(score) => s.seq.remove(score, member),
                None => false,
            },
        }
    }

    /// Number of leading elements for which `pred` holds (it must hold for
    /// a prefix of the order).
    fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(p) => lp::iter(p).take_while(|e| pred(e.1, e.2)).count(),
            Repr::Skip(s) => s.seq.partition_point(|e| pred(e.0, &e.1)),
        }
    }

    /// 0-based ascending rank of a member.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Pack(p) => lp::iter(p).position(|e| e.2 == member),
            Repr::Skip(s) => {
                let score = *s.dict.get(member)?;
                Some(
                    s.seq
                        .partition_point(|e| cmp_elem(e, score, member) == Ordering::Less),
                )
            }
        }
    }

    /// The element at ascending rank `r` (< len).
    pub fn at(&self, r: usize) -> ElemRef<'_> {
        match &self.repr {
            Repr::Pack(_) => self.iter_from(r).next().expect("rank in range"),
            Repr::Skip(s) => {
                let e = s.seq.get(r);
                (e.0, &e.1[..])
            }
        }
    }

    /// Random access by rank for many lookups: a listpack is decoded
    /// once (its [`ZSet::at`] walks from the head), a skiplist is used as
    /// it is.
    pub fn ranked(&self) -> Ranked<'_> {
        match &self.repr {
            Repr::Pack(p) => Ranked::Decoded(lp::iter(p).map(|(_, s, m)| (s, m)).collect()),
            Repr::Skip(_) => Ranked::Set(self),
        }
    }

    /// Elements in ascending order starting at rank `r`.
    pub fn iter_from(&self, r: usize) -> Iter<'_> {
        match &self.repr {
            Repr::Pack(p) => {
                let mut it = lp::iter(p);
                if r > 0 {
                    it.nth(r - 1);
                }
                Iter(IterInner::Pack(it))
            }
            Repr::Skip(s) => Iter(IterInner::Skip(s.seq.iter_from(r))),
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Rank range [start, end) of the elements inside a score range.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let start = self.partition_point(|s, _| if r.minex { s <= r.min } else { s < r.min });
        let end = self.partition_point(|s, _| if r.maxex { s < r.max } else { s <= r.max });
        (start, end.max(start))
    }

    /// Rank range [start, end) of the elements inside a lex range.
    ///
    /// When all scores are equal (the only case Redis defines) this is a
    /// binary search. Otherwise it follows Redis's listpack walk: from
    /// the first member >= min while members are <= max (or, for `rev`,
    /// from the last member <= max backwards while members are >= min).
    pub fn lex_span_dir(&self, r: &LexRange, rev: bool) -> (usize, usize) {
        let n = self.len();
        if n == 0 {
            return (0, 0);
        }
        if self.at(0).0 == self.at(n - 1).0 {
            let start = self.partition_point(|_, m| !lex_gte_min(m, &r.min));
            let end = self.partition_point(|_, m| lex_lte_max(m, &r.max));
            return (start, end.max(start));
        }
        if lex_range_empty(r)
            || !lex_gte_min(self.at(n - 1).1, &r.min)
            || !lex_lte_max(self.at(0).1, &r.max)
        {
            return (0, 0);
        }
        let v: Vec<ElemRef> = self.iter().collect();
        if rev {
            let Some(j) = v.iter().rposition(|e| lex_lte_max(e.1, &r.max)) else {
                return (0, 0);
            };
            if !lex_gte_min(v[j].1, &r.min) {
                return (0, 0);
            }
            let mut i = j;
            while i > 0 && lex_gte_min(v[i - 1].1, &r.min) {
                i -= 1;
            }
            (i, j + 1)
        } else {
            let Some(i) = v.iter().position(|e| lex_gte_min(e.1, &r.min)) else {
                return (0, 0);
            };
            let mut j = i;
            while j < n && lex_lte_max(v[j].1, &r.max) {
                j += 1;
            }
            (i, j)
        }
    }

    /// Forward lex span (see [`ZSet::lex_span_dir`]).
    pub fn lex_span(&self, r: &LexRange) -> (usize, usize) {
        self.lex_span_dir(r, false)
    }

    /// One ZSCAN step over a skiplist-encoded set (a listpack answers
    /// every member at once, in order, with cursor 0): at least `count`
    /// members (all those sharing the last hash) whose scan hash is at or
    /// after `cursor`, in hash order, and the next cursor (0 when done).
    /// A member present for a whole scan is returned once, whatever
    /// changes in between, because the cursor is a hash, not a position.
    /// O(count + log n) per call while the set does not change.
    pub fn scan_step(&self, cursor: u64, count: usize) -> (Vec<Bytes>, u64) {
        let s = match &self.repr {
            Repr::Pack(p) => {
                return (
                    lp::iter(p).map(|e| Bytes::copy_from_slice(e.2)).collect(),
                    0,
                )
            }
            Repr::Skip(s) => s,
        };
        let mut cache = s.seq.scan.borrow_mut();
        if cache.len() != self.len() {
            *cache = s
                .seq
                .iter_from(0)
                .map(|e| (scan_hash(&e.1), Bytes::copy_from_slice(&e.1)))
                .collect();
            cache.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        }
        let start = cache.partition_point(|e| e.0 < cursor);
        let mut end = (start + count.max(1)).min(cache.len());
        while end > start && end < cache.len() && cache[end].0 == cache[end - 1].0 {
            end += 1;
        }
        let out = cache[start..end].iter().map(|e| e.1.clone()).collect();
        if end >= cache.len() {
            *cache = Vec::new();
            (out, 0)
        } else {
            (out, cache[end].0)
        }
    }

    /// Removes ranks [start, end) and returns them in order.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> Vec<Elem> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match &mut self.repr {
            Repr::Pack(p) => {
                let off = lp::offset_of(p, start);
                let out = lp::iter(p)
                    .skip(start)
                    .take(end - start)
                    .map(|(_, s, m)| (s, KBytes::new(m)))
                    .collect();
                p.remove(off, 2 * (end - start));
                out
            }
            Repr::Skip(s) => {
                let out = s.seq.drain(start, end);
                for e in &out {
                    s.dict.remove(&e.1);
                }
                out
            }
        }
    }
}

/// zslLexRangeIsEmpty-style check of the range itself (min above max).
fn lex_range_empty(r: &LexRange) -> bool {
    use LexBound::*;
    match (&r.min, &r.max) {
        (PosInf, _) | (_, NegInf) => true,
        (NegInf, _) | (_, PosInf) => false,
        (Incl(a) | Excl(a), Incl(b) | Excl(b)) => {
            a > b || (a == b && (matches!(r.min, Excl(_)) || matches!(r.max, Excl(_))))
        }
    }
}

/// The order ZSCAN walks a skiplist-encoded set in: a fixed hash of the
/// member, below 2^63 so cursors print as Redis's do.
pub fn scan_hash(m: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    m.hash(&mut h);
    h.finish() >> 1
}

/// True if `m` is at or above the lower bound.
pub fn lex_gte_min(m: &[u8], b: &LexBound) -> bool {
    match b {
        LexBound::NegInf => true,
        LexBound::PosInf => false,
        LexBound::Incl(x) => m >= x.as_ref(),
        LexBound::Excl(x) => m > x.as_ref(),
    }
}

/// True if `m` is at or below the upper bound.
pub fn lex_lte_max(m: &[u8], b: &LexBound) -> bool {
    match b {
        LexBound::NegInf => false,
        LexBound::PosInf => true,
        LexBound::Incl(x) => m <= x.as_ref(),
        LexBound::Excl(x) => m < x.as_ref(),
    }
}

/// zslParseLexRangeItem: `-`, `+`, `[x` or `(x`.
pub fn parse_lex_bound(s: &[u8]) -> Option<LexBound> {
    match s.first()? {
        b'+' if s.len() == 1 => Some(LexBound::PosInf),
        b'-' if s.len() == 1 => Some(LexBound::NegInf),
        b'[' => Some(LexBound::Incl(Bytes::copy_from_slice(&s[1..]))),
        b'(' => Some(LexBound::Excl(Bytes::copy_from_slice(&s[1..]))),
        _ => None,
    }
}

/// zslParseRange: a score bound, `(` for exclusive; NaN rejected.
pub fn parse_score_bound(s: &[u8]) -> Option<(f64, bool)> {
    let (ex, body) = match s.first() {
        Some(b'(') => (true, &s[1..]),
        _ => (false, s),
    };
    // strtod: leading spaces allowed, an empty string reads as 0.
    let start = body
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(body.len());
    let body = &body[start..];
    if body.is_empty() {
        return Some((0.0, ex));
    }
    let v = crate::util::num::parse_f64(body)?;
    Some((v, ex))
}

#[cfg(test)]
mod tests;
