//! The list type.
//!
//! Redis 7.0 stores every list as a quicklist (a linked list of listpack
//! nodes): unlike 7.2, it never uses a bare listpack for small lists and
//! never converts back, so OBJECT ENCODING always answers `quicklist`
//! whatever `list-max-listpack-size` says. That directive (entries per
//! node when positive, a byte limit per node when negative) and
//! `list-compress-depth` only shape the node layout, which nothing but
//! memory use and DEBUG can observe, so keel keeps the elements in one
//! ring buffer of compact strings: O(1) at both ends, O(1) by index, and
//! 24 bytes per element of up to 22 bytes (longer ones own a heap slice).
//!
//! Indexes follow Redis: negative indexes count from the tail (-1 is the
//! last element); ranges are inclusive and clamped as in LRANGE/LTRIM.

use super::bytes::KBytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// Redis's quicklist `packed_threshold`: elements at least this large
/// would get a "plain" node of their own. Process-wide, as in Redis, and
/// only set by DEBUG QUICKLIST-PACKED-THRESHOLD; keel's ring buffer has
/// no nodes, so it affects nothing observable but is kept for DEBUG.
static PACKED_THRESHOLD: AtomicU64 = AtomicU64::new(1 << 30);

/// DEBUG QUICKLIST-PACKED-THRESHOLD <size> (memtoull units: `1b`, `10k`,
/// ...); 0 restores the default 1GB. Err carries Redis's error reply.
pub fn set_packed_threshold(arg: &str) -> Result<(), &'static str> {
    const ERR: &str = "ERR argument must be a memory value bigger than 1 and smaller than 4gb";
    let sz = crate::config::spec::memtoull(arg).ok_or(ERR)?;
    if sz > (1u64 << 32) - (1 << 20) {
        return Err(ERR);
    }
    let sz = if sz == 0 { 1 << 30 } else { sz };
    PACKED_THRESHOLD.store(sz, Ordering::Relaxed);
    Ok(())
}

/// The current packed threshold in bytes.
pub fn packed_threshold() -> u64 {
    PACKED_THRESHOLD.load(Ordering::Relaxed)
}

/// Which end of a list an operation works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (LEFT, index 0).
    Head,
    /// The tail (RIGHT, index -1).
    Tail,
}

impl End {
    /// Redis's LEFT / RIGHT argument, case-insensitive.
    pub fn parse(arg: &[u8]) -> Option<End> {
        if arg.eq_ignore_ascii_case(b"left") {
            Some(End::Head)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Some(End::Tail)
        } else {
            None
        }
    }

    /// The argument naming this end, as Redis's served BLMOVE propagates
    /// it (its shared `left` / `right` objects are lower-case).
    pub fn name(self) -> &'static str {
        match self {
            End::Head => "left",
            End::Tail => "right",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListValue {
    items: VecDeque<KBytes>,
}

impl ListValue {
    pub fn new() -> Self {
        ListValue::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Redis's OBJECT ENCODING name: always `quicklist` in 7.0.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn push(&mut self, end: End, v: &[u8]) {
        let v = KBytes::new(v);
        match end {
            End::Head => self.items.push_front(v),
            End::Tail => self.items.push_back(v),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<KBytes> {
        match end {
            End::Head => self.items.pop_front(),
            End::Tail => self.items.pop_back(),
        }
    }

    /// Removes up to `n` elements from one end, returned in pop order.
    pub fn pop_many(&mut self, end: End, n: usize) -> Vec<KBytes> {
        let n = n.min(self.items.len());
        match end {
            End::Head => self.items.drain(..n).collect(),
            End::Tail => {
                let at = self.items.len() - n;
                let mut v: Vec<KBytes> = self.items.drain(at..).collect();
                v.reverse();
                v
            }
        }
    }

    /// Resolves a Redis index (negative from the tail) to a position.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, index: i64) -> Option<&[u8]> {
        self.resolve(index).map(|i| self.items[i].as_slice())
    }

    /// Replaces the element at `index`; false if out of range.
    pub fn set(&mut self, index: i64, v: &[u8]) -> bool {
        match self.resolve(index) {
            Some(i) => {
                self.items[i] = KBytes::new(v);
                true
            }
            None => false,
        }
    }

    /// The inclusive position range LRANGE selects for `start..=end`, or
    /// None when it is empty (addListRangeReply's clamping).
    pub fn range_bounds(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let len = self.items.len() as i64;
        let mut start = if start < 0 { len + start } else { start };
        let mut end = if end < 0 { len + end } else { end };
        if start < 0 {
            start = 0;
        }
        if start > end || start >= len {
            return None;
        }
        if end >= len {
            end = len - 1;
        }
        Some((start as usize, end as usize))
    }

    /// Elements at positions `from..=to`.
    pub fn iter_range(&self, from: usize, to: usize) -> impl DoubleEndedIterator<Item = &[u8]> {
        self.items.range(from..=to).map(|k| k.as_slice())
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|k| k.as_slice())
    }

    /// LTRIM: keeps `start..=end` (Redis clamping); returns how many
    /// elements were removed.
    pub fn trim(&mut self, start: i64, end: i64) -> usize {
        let len = self.items.len();
        match self.range_bounds(start, end) {
            None => {
                self.items.clear();
                len
            }
            Some((s, e)) => {
                self.items.truncate(e + 1);
                self.items.drain(..s);
                len - self.items.len()
            }
        }
    }

    /// LINSERT: inserts `v` before or after the first element equal to
    /// `pivot` (searching from the head). False if there is no pivot.
    pub fn insert(&mut self, after: bool, pivot: &[u8], v: &[u8]) -> bool {
        let Some(i) = self.items.iter().position(|x| x.as_slice() == pivot) else {
            return false;
        };
        self.items
            .insert(if after { i + 1 } else { i }, KBytes::new(v));
        true
    }

    /// LREM: removes elements equal to `v`, at most `count` of them
    /// (0: all) from the head when `count >= 0`, from the tail when
    /// negative. Returns how many were removed.
    pub fn remove(&mut self, count: i64, v: &[u8]) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let mut removed = 0;
        if count >= 0 {
            self.items.retain(|x| {
                if removed < limit && x.as_slice() == v {
                    removed += 1;
                    false
                } else {
                    true
                }
            });
        } else {
            let mut keep: VecDeque<KBytes> = VecDeque::with_capacity(self.items.len());
            while let Some(x) = self.items.pop_back() {
                if removed < limit && x.as_slice() == v {
                    removed += 1;
                } else {
                    keep.push_front(x);
                }
            }
            self.items = keep;
        }
        removed
    }

    /// LPOS: positions (as LINDEX indexes) of the matches of `v`, from
    /// the `rank`-th match on (negative rank: searching from the tail),
    /// at most `count` of them (0: all), looking at no more than `maxlen`
    /// elements (0: all).
    pub fn positions(&self, v: &[u8], rank: i64, count: usize, maxlen: usize) -> Vec<usize> {
        let len = self.items.len();
        // Redis negates the rank in a C long: LONG_MIN stays negative, so
        // every match from the tail qualifies and COUNT never stops it.
        let min_rank = rank == i64::MIN;
        let skip = if min_rank { 0 } else { rank.unsigned_abs() - 1 };
        let limit = if maxlen == 0 { len } else { maxlen.min(len) };
        let want = if count == 0 || min_rank {
            usize::MAX
        } else {
            count
        };
        let mut out = Vec::new();
        let mut matches: u64 = 0;
        for n in 0..limit {
            let i = if rank < 0 { len - 1 - n } else { n };
            if self.items[i].as_slice() == v {
                matches += 1;
                if matches > skip {
                    out.push(i);
                    if out.len() >= want {
                        break;
                    }
                }
            }
        }
        out
    }

    /// Heap bytes owned by the list (for memory accounting).
    pub fn heap_size(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<KBytes>()
            + self.items.iter().map(|k| k.heap_size()).sum::<usize>()
    }
}

impl<'a> FromIterator<&'a [u8]> for ListValue {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(it: I) -> Self {
        ListValue {
            items: it.into_iter().map(KBytes::new).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(items: &[&str]) -> ListValue {
        items.iter().map(|s| s.as_bytes()).collect()
    }

    fn strs(l: &ListValue) -> Vec<String> {
        l.iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn indexes_and_ranges() {
        let l = list(&["a", "b", "c"]);
        assert_eq!(l.get(0), Some(&b"a"[..]));
        assert_eq!(l.get(-1), Some(&b"c"[..]));
        assert_eq!(l.get(-4), None);
        assert_eq!(l.get(3), None);
        assert_eq!(l.range_bounds(0, -1), Some((0, 2)));
        assert_eq!(l.range_bounds(-100, 100), Some((0, 2)));
        assert_eq!(l.range_bounds(2, 1), None);
        assert_eq!(l.range_bounds(3, 10), None);
        assert_eq!(l.range_bounds(0, -10), None);
        assert_eq!(l.range_bounds(i64::MIN, i64::MAX), Some((0, 2)));
    }

    #[test]
    fn trim_insert_remove() {
        let mut l = list(&["a", "b", "c", "d"]);
        assert_eq!(l.trim(1, -2), 2);
        assert_eq!(strs(&l), ["b", "c"]);
        assert_eq!(l.trim(5, 10), 2);
        assert!(l.is_empty());

        let mut l = list(&["a", "b", "a"]);
        assert!(l.insert(true, b"a", b"x"));
        assert!(l.insert(false, b"b", b"y"));
        assert!(!l.insert(false, b"zz", b"y"));
        assert_eq!(strs(&l), ["a", "x", "y", "b", "a"]);

        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove(-2, b"a"), 2);
        assert_eq!(strs(&l), ["a", "b", "c"]);
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove(1, b"a"), 1);
        assert_eq!(strs(&l), ["b", "a", "c", "a"]);
        assert_eq!(l.remove(0, b"a"), 2);
        assert_eq!(strs(&l), ["b", "c"]);
    }

    #[test]
    fn lpos() {
        let l = list(&["a", "b", "c", "1", "2", "3", "c", "c"]);
        assert_eq!(l.positions(b"c", 1, 1, 0), [2]);
        assert_eq!(l.positions(b"c", 1, 0, 0), [2, 6, 7]);
        assert_eq!(l.positions(b"c", -1, 0, 0), [7, 6, 2]);
        assert_eq!(l.positions(b"c", 2, 1, 0), [6]);
        assert_eq!(l.positions(b"c", -3, 1, 0), [2]);
        assert_eq!(l.positions(b"c", 1, 0, 3), [2]);
        assert_eq!(l.positions(b"c", 4, 0, 0), Vec::<usize>::new());
        assert_eq!(l.positions(b"c", i64::MIN, 0, 0), [7, 6, 2]);
        assert_eq!(l.positions(b"c", i64::MIN, 1, 2), [7, 6]);
    }

    #[test]
    fn packed_threshold_setting() {
        assert_eq!(set_packed_threshold("1b"), Ok(()));
        assert_eq!(packed_threshold(), 1);
        assert!(set_packed_threshold("4gb").is_err());
        assert!(set_packed_threshold("abc").is_err());
        assert_eq!(set_packed_threshold("0"), Ok(()));
        assert_eq!(packed_threshold(), 1 << 30);
    }

    #[test]
    fn pop_many_order() {
        let mut l = list(&["a", "b", "c", "d"]);
        let t: Vec<_> = l
            .pop_many(End::Tail, 3)
            .iter()
            .map(|k| k.to_vec())
            .collect();
        assert_eq!(t, [b"d".to_vec(), b"c".to_vec(), b"b".to_vec()]);
        let h = l.pop_many(End::Head, 10);
        assert_eq!(h.len(), 1);
        assert!(l.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, u8),
        Pop(bool),
        Set(i64, u8),
        Trim(i64, i64),
        Insert(bool, u8, u8),
        Remove(i64, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<bool>(), 0u8..5).prop_map(|(h, v)| Op::Push(h, v)),
            any::<bool>().prop_map(Op::Pop),
            (-8i64..8, 0u8..5).prop_map(|(i, v)| Op::Set(i, v)),
            (-8i64..8, -8i64..8).prop_map(|(s, e)| Op::Trim(s, e)),
            (any::<bool>(), 0u8..5, 0u8..5).prop_map(|(a, p, v)| Op::Insert(a, p, v)),
            (-3i64..3, 0u8..5).prop_map(|(c, v)| Op::Remove(c, v)),
        ]
    }

    fn norm(len: usize, i: i64) -> Option<usize> {
        let i = if i < 0 { len as i64 + i } else { i };
        (i >= 0 && (i as usize) < len).then_some(i as usize)
    }

    proptest! {
        #[test]
        fn matches_vecdeque_model(ops in proptest::collection::vec(op(), 0..60)) {
            let mut l = ListValue::new();
            let mut m: VecDeque<u8> = VecDeque::new();
            for o in ops {
                match o {
                    Op::Push(h, v) => {
                        l.push(if h { End::Head } else { End::Tail }, &[v]);
                        if h { m.push_front(v) } else { m.push_back(v) }
                    }
                    Op::Pop(h) => {
                        let got = l.pop(if h { End::Head } else { End::Tail }).map(|k| k[0]);
                        let want = if h { m.pop_front() } else { m.pop_back() };
                        prop_assert_eq!(got, want);
                    }
                    Op::Set(i, v) => {
                        let ok = l.set(i, &[v]);
                        let idx = norm(m.len(), i);
                        prop_assert_eq!(ok, idx.is_some());
                        if let Some(i) = idx { m[i] = v; }
                    }
                    Op::Trim(s, e) => {
                        l.trim(s, e);
                        let len = m.len() as i64;
                        let s2 = if s < 0 { (len + s).max(0) } else { s };
                        let e2 = if e < 0 { len + e } else { e.min(len - 1) };
                        m = m.iter().enumerate()
                            .filter(|(i, _)| (*i as i64) >= s2 && (*i as i64) <= e2)
                            .map(|(_, v)| *v).collect();
                    }
                    Op::Insert(after, p, v) => {
                        let ok = l.insert(after, &[p], &[v]);
                        let pos = m.iter().position(|x| *x == p);
                        prop_assert_eq!(ok, pos.is_some());
                        if let Some(i) = pos { m.insert(if after { i + 1 } else { i }, v); }
                    }
                    Op::Remove(c, v) => {
                        let n = l.remove(c, &[v]);
                        let limit = if c == 0 { usize::MAX } else { c.unsigned_abs() as usize };
                        let mut removed = 0;
                        if c >= 0 {
                            let mut i = 0;
                            while i < m.len() {
                                if removed < limit && m[i] == v { m.remove(i); removed += 1; } else { i += 1; }
                            }
                        } else {
                            let mut i = m.len();
                            while i > 0 {
                                i -= 1;
                                if removed < limit && m[i] == v { m.remove(i); removed += 1; }
                            }
                        }
                        prop_assert_eq!(n, removed);
                    }
                }
                let got: Vec<u8> = l.iter().map(|b| b[0]).collect();
                let want: Vec<u8> = m.iter().copied().collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
