//! The ordered sequence of a `skiplist`-encoded sorted set: sorted chunks
//! (at most `CHUNK_MAX` elements each) with a cached per-chunk prefix
//! count. Locating an element is a binary search over chunk boundaries
//! then inside one chunk; a rank is the prefix count of its chunk plus its
//! offset, so ZRANK/ZRANGE by index are O(log n) after the prefix cache is
//! rebuilt (lazily, O(n / CHUNK_MAX), after edits).

use super::{cmp_elem, Elem};
use bytes::Bytes;
use std::cell::RefCell;
use std::cmp::Ordering;

const CHUNK_MAX: usize = 256;

/// Sorted chunks with a lazily rebuilt prefix count per chunk.
#[derive(Clone, Debug, Default)]
pub(super) struct Chunks {
    pub(super) chunks: Vec<Vec<Elem>>,
    pub(super) len: usize,
    /// prefix[i] = number of elements before chunk i; empty when stale.
    prefix: RefCell<Vec<usize>>,
    /// ZSCAN's view, (scan hash, member) sorted by hash; built by the
    /// first ZSCAN call after a change, dropped by any change or when a
    /// scan completes.
    pub(super) scan: RefCell<Vec<(u64, Bytes)>>,
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
    pub(super) fn partition_point(&self, pred: impl Fn(&Elem) -> bool) -> usize {
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

    pub(super) fn get(&self, r: usize) -> &Elem {
        let (ci, off) = self.locate(r);
        &self.chunks[ci][off]
    }

    /// The sequence of `elems`, already sorted and distinct, in chunks
    /// three quarters full (room to insert before the first split), each
    /// allocated at its exact size.
    pub(super) fn from_sorted(elems: Vec<Elem>) -> Chunks {
        let len = elems.len();
        if len == 0 {
            return Chunks::default();
        }
        let n = len.div_ceil(CHUNK_MAX * 3 / 4);
        let mut chunks = Vec::with_capacity(n);
        let mut rest = elems.into_iter();
        for i in 0..n {
            // Even sizes: the first len % n chunks take one more.
            let size = len / n + usize::from(i < len % n);
            let mut c = Vec::with_capacity(size);
            c.extend(rest.by_ref().take(size));
            chunks.push(c);
        }
        Chunks {
            chunks,
            len,
            ..Chunks::default()
        }
    }

    pub(super) fn insert(&mut self, e: Elem) {
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
        // Grow by a quarter, not double: a chunk carries at most 25 %
        // spare room (still amortised O(1) per insert).
        if c.len() == c.capacity() {
            c.reserve_exact((c.len() / 4).max(4));
        }
        c.insert(off, e);
        if c.len() > CHUNK_MAX {
            let tail = c.split_off(c.len() / 2);
            c.shrink_to(c.len() + c.len() / 4);
            self.chunks.insert(ci + 1, tail);
        }
    }

    /// Removes the element (score, member); true if it was there.
    pub(super) fn remove(&mut self, score: f64, member: &[u8]) -> bool {
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
    pub(super) fn drain(&mut self, start: usize, end: usize) -> Vec<Elem> {
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

    /// Elements in order from rank `r`.
    pub(super) fn iter_from(&self, r: usize) -> ChunkIter<'_> {
        let (ci, off) = if r >= self.len {
            (self.chunks.len(), 0)
        } else {
            self.locate(r)
        };
        ChunkIter {
            chunks: &self.chunks,
            ci,
            off,
        }
    }
}

/// In-order iterator over the chunks.
#[derive(Clone)]
pub(super) struct ChunkIter<'a> {
    chunks: &'a [Vec<Elem>],
    ci: usize,
    off: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a Elem;

    fn next(&mut self) -> Option<&'a Elem> {
        let c = self.chunks.get(self.ci)?;
        let e = &c[self.off];
        self.off += 1;
        if self.off == c.len() {
            self.ci += 1;
            self.off = 0;
        }
        Some(e)
    }
}
