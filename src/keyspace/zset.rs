//! Sorted sets: members ordered by (score, member bytes), with Redis 7.0's
//! two logical encodings.
//!
//! * `listpack`: small sets (at most `zset-max-listpack-entries` members,
//!   each at most `zset-max-listpack-value` bytes). Member lookups scan the
//!   ordered sequence, as Redis scans its listpack.
//! * `skiplist`: larger sets. The ordered sequence is indexed by a
//!   member -> score hash map, so ZSCORE is O(1).
//!
//! The ordered sequence is an order-statistics structure made of sorted
//! chunks (at most `CHUNK_MAX` elements each) with a cached per-chunk
//! prefix count: locating an element is a binary search over chunk
//! boundaries then inside one chunk; a rank is the prefix count of its
//! chunk plus its offset, so ZRANK/ZRANGE by index are O(log n) after the
//! prefix cache is rebuilt (rebuilt lazily, O(n / CHUNK_MAX), after edits).
//!
//! Ordering follows Redis's skiplist: by score (`<`; -0 equals 0), ties
//! broken by memcmp of the member. Scores are never NaN (callers reject it).
//! Conversions follow t_zset.c: listpack -> skiplist when an insert would
//! exceed either threshold; skiplist -> listpack only where Redis calls
//! zsetConvertToListpackIfNeeded (stored results of ZUNIONSTORE and
//! friends), via [`ZSet::shrink_if_fits`].

use bytes::Bytes;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;

const CHUNK_MAX: usize = 256;

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

pub type Elem = (f64, Bytes);

fn cmp_elem(a: &Elem, score: f64, member: &[u8]) -> Ordering {
    if a.0 < score {
        Ordering::Less
    } else if a.0 > score {
        Ordering::Greater
    } else {
        a.1.as_ref().cmp(member)
    }
}

/// Sorted chunks with a lazily rebuilt prefix count per chunk.
#[derive(Clone, Debug, Default)]
struct Chunks {
    chunks: Vec<Vec<Elem>>,
    len: usize,
    /// prefix[i] = number of elements before chunk i; empty when stale.
    prefix: RefCell<Vec<usize>>,
    /// ZSCAN's view, (scan hash, member) sorted by hash; built by the
    /// first ZSCAN call after a change, dropped by any change or when a
    /// scan completes.
    scan: RefCell<Vec<(u64, Bytes)>>,
}

impl Chunks {
    fn invalidate(&mut self) {
        self.prefix.get_mut().clear();
        let scan = self.scan.get_mut();
        if !scan.is_empty() {
            *scan = Vec::new();
        }
    }

    fn chunk_start(&self, ci: usize) -> usize {
        let mut p = self.prefix.borrow_mut();
        if p.len() != self.chunks.len() {
            p.clear();
            let mut acc = 0;
            for c in &self.chunks {
                p.push(acc);
                acc += c.len();
            }
        }
        p[ci]
    }

    /// Number of elements `e` for which `pred(e)` holds; `pred` must be
    /// true for a prefix of the sequence.
    fn partition_point(&self, pred: impl Fn(&Elem) -> bool) -> usize {
        let ci = self
            .chunks
            .partition_point(|c| pred(c.last().expect("chunks are never empty")));
        if ci == self.chunks.len() {
            return self.len;
        }
        self.chunk_start(ci) + self.chunks[ci].partition_point(&pred)
    }

    /// (chunk, offset) of rank `r` (< len).
    fn locate(&self, r: usize) -> (usize, usize) {
        let p = {
            self.chunk_start(0);
            self.prefix.borrow()
        };
        let ci = p.partition_point(|&s| s <= r) - 1;
        (ci, r - p[ci])
    }

    fn get(&self, r: usize) -> &Elem {
        let (ci, off) = self.locate(r);
        &self.chunks[ci][off]
    }

    fn insert(&mut self, e: Elem) {
        self.invalidate();
        self.len += 1;
        if self.chunks.is_empty() {
            self.chunks.push(vec![e]);
            return;
        }
        let ci = self
            .chunks
            .partition_point(|c| cmp_elem(c.last().unwrap(), e.0, &e.1) == Ordering::Less)
            .min(self.chunks.len() - 1);
        let c = &mut self.chunks[ci];
        let off = c.partition_point(|x| cmp_elem(x, e.0, &e.1) == Ordering::Less);
        c.insert(off, e);
        if c.len() > CHUNK_MAX {
            let tail = c.split_off(c.len() / 2);
            self.chunks.insert(ci + 1, tail);
        }
    }

    /// Removes the element (score, member); true if it was there.
    fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let ci = self
            .chunks
            .partition_point(|c| cmp_elem(c.last().unwrap(), score, member) == Ordering::Less);
        if ci == self.chunks.len() {
            return false;
        }
        let c = &mut self.chunks[ci];
        let off = c.partition_point(|x| cmp_elem(x, score, member) == Ordering::Less);
        if off < c.len() && cmp_elem(&c[off], score, member) == Ordering::Equal {
            c.remove(off);
            if c.is_empty() {
                self.chunks.remove(ci);
            }
            self.len -= 1;
            self.invalidate();
            true
        } else {
            false
        }
    }

    /// Removes ranks [start, end) and returns them in order.
    fn drain(&mut self, start: usize, end: usize) -> Vec<Elem> {
        if start >= end {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(end - start);
        let (mut ci, off) = self.locate(start);
        let mut off = off;
        let mut left = end - start;
        while left > 0 {
            let c = &mut self.chunks[ci];
            let take = (c.len() - off).min(left);
            out.extend(c.drain(off..off + take));
            left -= take;
            if c.is_empty() {
                self.chunks.remove(ci);
            } else {
                ci += 1;
            }
            off = 0;
        }
        self.len -= out.len();
        self.invalidate();
        out
    }

    fn iter_from(&self, r: usize) -> impl Iterator<Item = &Elem> {
        let (ci, off) = if r >= self.len {
            (self.chunks.len(), 0)
        } else {
            self.locate(r)
        };
        self.chunks[ci.min(self.chunks.len())..]
            .iter()
            .enumerate()
            .flat_map(move |(i, c)| c[if i == 0 { off } else { 0 }..].iter())
    }
}

/// A sorted set value.
#[derive(Clone, Debug)]
pub struct ZSet {
    seq: Chunks,
    /// member -> score, present in the skiplist encoding only.
    dict: Option<HashMap<Bytes, f64>>,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new(ZEncoding::Listpack)
    }
}

impl ZSet {
    pub fn new(enc: ZEncoding) -> Self {
        ZSet {
            seq: Chunks::default(),
            dict: (enc == ZEncoding::Skiplist).then(HashMap::new),
        }
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

    pub fn encoding(&self) -> ZEncoding {
        if self.dict.is_some() {
            ZEncoding::Skiplist
        } else {
            ZEncoding::Listpack
        }
    }

    pub fn len(&self) -> usize {
        self.seq.len
    }

    pub fn is_empty(&self) -> bool {
        self.seq.len == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.dict {
            Some(d) => d.get(member).copied(),
            None => self
                .seq
                .chunks
                .iter()
                .flatten()
                .find(|e| e.1.as_ref() == member)
                .map(|e| e.0),
        }
    }

    /// Heap bytes owned by the set (MEMORY USAGE): the ordered chunks,
    /// the member bytes (shared with the map), and the map's table.
    pub fn heap_size(&self) -> usize {
        let elem = std::mem::size_of::<Elem>();
        let chunks: usize = self
            .seq
            .chunks
            .iter()
            .map(|c| std::mem::size_of::<Vec<Elem>>() + c.capacity() * elem)
            .sum();
        let members: usize = self.iter().map(|e| e.1.len()).sum();
        let dict = self.dict.as_ref().map_or(0, |d| {
            // A shared Bytes adds its refcount block; each slot holds a
            // key, a score and a control byte.
            d.capacity() * (std::mem::size_of::<(Bytes, f64)>() + 1) + d.len() * 24
        });
        chunks + members + dict
    }

    /// Converts to the skiplist encoding.
    pub fn convert_to_skiplist(&mut self) {
        if self.dict.is_none() {
            let mut d = HashMap::with_capacity(self.len());
            for e in self.seq.chunks.iter().flatten() {
                d.insert(e.1.clone(), e.0);
            }
            self.dict = Some(d);
        }
    }

    /// zsetConvertToListpackIfNeeded: back to listpack if the set fits.
    pub fn shrink_if_fits(&mut self, lim: ZLimits) {
        if self.dict.is_some()
            && self.len() <= lim.max_entries
            && self.max_member_len() <= lim.max_value
        {
            self.dict = None;
            for c in &mut self.seq.chunks {
                for e in c.iter_mut().filter(|e| e.0 == 0.0) {
                    e.0 = 0.0;
                }
            }
        }
    }

    fn max_member_len(&self) -> usize {
        self.iter().map(|e| e.1.len()).max().unwrap_or(0)
    }

    /// Inserts a member known to be absent, converting the encoding first
    /// if the listpack would exceed its limits.
    pub fn insert_new(&mut self, member: Bytes, score: f64, lim: ZLimits) {
        if self.dict.is_none() && (self.len() + 1 > lim.max_entries || member.len() > lim.max_value)
        {
            self.convert_to_skiplist();
        }
        let score = self.stored_score(score);
        if let Some(d) = &mut self.dict {
            d.insert(member.clone(), score);
        }
        self.seq.insert((score, member));
    }

    /// Sets the score of a member, inserting it if absent. True if added.
    pub fn set(&mut self, member: &[u8], score: f64, lim: ZLimits) -> bool {
        match self.score(member) {
            Some(old) => {
                self.update(member, old, score);
                false
            }
            None => {
                self.insert_new(Bytes::copy_from_slice(member), score, lim);
                true
            }
        }
    }

    /// Changes the score of an existing member from `old` to `new`.
    pub fn update(&mut self, member: &[u8], old: f64, new: f64) {
        if old == new {
            return;
        }
        let new = self.stored_score(new);
        let m = self.take(member, old);
        if let Some(d) = &mut self.dict {
            d.insert(m.clone(), new);
        }
        self.seq.insert((new, m));
    }

    /// A listpack stores scores as strings and reads "-0" back as the
    /// integer 0, so -0 survives only in the skiplist encoding.
    fn stored_score(&self, score: f64) -> f64 {
        if self.dict.is_none() && score == 0.0 {
            0.0
        } else {
            score
        }
    }

    /// Removes (score, member) from the sequence, returning the member's
    /// shared bytes.
    fn take(&mut self, member: &[u8], score: f64) -> Bytes {
        let r = self
            .seq
            .partition_point(|e| cmp_elem(e, score, member) == Ordering::Less);
        self.seq.drain(r, r + 1).pop().expect("member present").1
    }

    /// Removes a member; true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some(score) = self.score(member) else {
            return false;
        };
        if let Some(d) = &mut self.dict {
            d.remove(member);
        }
        self.seq.remove(score, member)
    }

    /// 0-based ascending rank of a member.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(
            self.seq
                .partition_point(|e| cmp_elem(e, score, member) == Ordering::Less),
        )
    }

    /// The element at ascending rank `r` (< len).
    pub fn at(&self, r: usize) -> &Elem {
        self.seq.get(r)
    }

    /// Elements in ascending order starting at rank `r`.
    pub fn iter_from(&self, r: usize) -> impl Iterator<Item = &Elem> {
        self.seq.iter_from(r)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Elem> {
        self.seq.chunks.iter().flatten()
    }

    /// Rank range [start, end) of the elements inside a score range.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let start = self
            .seq
            .partition_point(|e| if r.minex { e.0 <= r.min } else { e.0 < r.min });
        let end = self
            .seq
            .partition_point(|e| if r.maxex { e.0 < r.max } else { e.0 <= r.max });
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
            let start = self.seq.partition_point(|e| !lex_gte_min(&e.1, &r.min));
            let end = self.seq.partition_point(|e| lex_lte_max(&e.1, &r.max));
            return (start, end.max(start));
        }
        if lex_range_empty(r)
            || !lex_gte_min(&self.at(n - 1).1, &r.min)
            || !lex_lte_max(&self.at(0).1, &r.max)
        {
            return (0, 0);
        }
        let v: Vec<&Elem> = self.iter().collect();
        if rev {
            let Some(j) = v.iter().rposition(|e| lex_lte_max(&e.1, &r.max)) else {
                return (0, 0);
            };
            if !lex_gte_min(&v[j].1, &r.min) {
                return (0, 0);
            }
            let mut i = j;
            while i > 0 && lex_gte_min(&v[i - 1].1, &r.min) {
                i -= 1;
            }
            (i, j + 1)
        } else {
            let Some(i) = v.iter().position(|e| lex_gte_min(&e.1, &r.min)) else {
                return (0, 0);
            };
            let mut j = i;
            while j < n && lex_lte_max(&v[j].1, &r.max) {
                j += 1;
            }
            (i, j)
        }
    }

    /// Forward lex span (see [`ZSet::lex_span_dir`]).
    pub fn lex_span(&self, r: &LexRange) -> (usize, usize) {
        self.lex_span_dir(r, false)
    }

    /// One ZSCAN step: at least `count` members (all those sharing the
    /// last hash) whose scan hash is at or after `cursor`, in hash order,
    /// and the next cursor (0 when done). A member present for a whole
    /// scan is returned once, whatever changes in between, because the
    /// cursor is a hash, not a position. O(count + log n) per call while
    /// the set does not change.
    pub fn scan_step(&self, cursor: u64, count: usize) -> (Vec<Bytes>, u64) {
        let mut cache = self.seq.scan.borrow_mut();
        if cache.len() != self.len() {
            *cache = self
                .iter()
                .map(|e| (scan_hash(&e.1), e.1.clone()))
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
        let out = self.seq.drain(start, end.min(self.len()));
        if let Some(d) = &mut self.dict {
            for e in &out {
                d.remove(&e.1);
            }
        }
        out
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
