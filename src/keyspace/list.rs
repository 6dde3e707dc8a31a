//! The list type: Redis 7.0's quicklist.
//!
//! Redis 7.0 stores every list as a quicklist (a linked list of listpack
//! nodes): unlike 7.2, it never uses a bare listpack for small lists and
//! never converts back, so OBJECT ENCODING always answers `quicklist`.
//! keel keeps the same nodes: a ring buffer of [`Node`]s, each one
//! listpack in Redis's byte layout (or a PLAIN node for an element of at
//! least `packed_threshold` bytes), filled, split and merged by
//! quicklist.c's rules (`_quicklistNodeAllowInsert`, `_quicklistInsert`,
//! `_quicklistMergeNodes`) under the list's `fill`
//! (`list-max-listpack-size` when the list was created: entries per node
//! when positive, a byte limit of 4/8/16/32/64 KB when -1..-5). So a list
//! costs what it costs in Redis (about one byte of overhead per short
//! element), RDB save and DUMP write each node's bytes as they are (byte
//! for byte Redis's payload), and RDB load adopts validated nodes.
//!
//! `list-compress-depth` is not applied: nodes stay uncompressed (LZF
//! compression of inner nodes only trades CPU for memory and is not
//! observable through any reply). Nodes count their elements so indexing
//! skips whole nodes, seeking from the nearer end as Redis does.
//!
//! Indexes follow Redis: negative indexes count from the tail (-1 is the
//! last element); ranges are inclusive and clamped as in LRANGE/LTRIM.

use super::bytes::KBytes;
pub use super::list_node::Node;
use crate::persistence::rdb::listpack::LpEntry;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// Redis's quicklist `packed_threshold`: elements at least this large
/// would get a "plain" node of their own. Process-wide, as in Redis, and
/// only set by DEBUG QUICKLIST-PACKED-THRESHOLD.
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

/// Redis's `optimization_level`: node byte limits for fill -1 .. -5.
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Byte limit of count-limited (positive fill) nodes.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// quicklist's per-element size overestimate.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// quicklistSetFill's clamp.
const FILL_MAX: i64 = (1 << 15) - 1;

/// Element at least `packed_threshold` bytes: a PLAIN node of its own.
#[inline]
pub(super) fn is_large(sz: usize) -> bool {
    sz as u64 >= packed_threshold()
}

#[inline]
fn meets_optimization(sz: usize, fill: i32) -> bool {
    fill < 0
        && OPTIMIZATION_LEVEL
            .get((-fill) as usize - 1)
            .is_some_and(|&lim| sz <= lim)
}

/// _quicklistNodeAllowInsert: may `node` take an element of `sz` bytes?
pub(super) fn allow_insert(node: Option<&Node>, fill: i32, sz: usize) -> bool {
    let Some(node) = node else { return false };
    if node.is_plain() || is_large(sz) {
        return false;
    }
    let new_sz = node.sz() + sz + SIZE_ESTIMATE_OVERHEAD;
    if meets_optimization(new_sz, fill) {
        true
    } else if new_sz > SIZE_SAFETY_LIMIT {
        false
    } else {
        (node.count() as i64) < fill as i64
    }
}

/// _quicklistNodeAllowMerge.
pub(super) fn allow_merge(a: Option<&Node>, b: Option<&Node>, fill: i32) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    if a.is_plain() || b.is_plain() {
        return false;
    }
    let merge_sz = (a.sz() + b.sz()).saturating_sub(11);
    if meets_optimization(merge_sz, fill) {
        true
    } else if merge_sz > SIZE_SAFETY_LIMIT {
        false
    } else {
        (a.count() + b.count()) as i64 <= fill as i64
    }
}

/// A list element as owned compact bytes.
pub fn entry_kbytes(e: LpEntry<'_>) -> KBytes {
    match e {
        LpEntry::Str(s) => KBytes::new(s),
        LpEntry::Int(n) => KBytes::new(itoa::Buffer::new().format(n).as_bytes()),
    }
}

/// An element's bytes: borrowed for strings, the decimal form (inline,
/// no allocation) for integer elements.
pub enum ElemBytes<'a> {
    Str(&'a [u8]),
    Int(KBytes),
}

impl std::ops::Deref for ElemBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ElemBytes::Str(s) => s,
            ElemBytes::Int(k) => k.as_slice(),
        }
    }
}

impl AsRef<[u8]> for ElemBytes<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// The bytes of a list element view.
pub fn elem_bytes(e: LpEntry<'_>) -> ElemBytes<'_> {
    match e {
        LpEntry::Str(s) => ElemBytes::Str(s),
        LpEntry::Int(n) => ElemBytes::Int(KBytes::new(itoa::Buffer::new().format(n).as_bytes())),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListValue {
    pub(super) nodes: VecDeque<Node>,
    pub(super) count: usize,
    pub(super) fill: i32,
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::with_fill(-2)
    }
}

impl ListValue {
    /// An empty list with Redis's default fill (-2: 8 KB nodes).
    pub fn new() -> Self {
        ListValue::default()
    }

    /// An empty list whose nodes follow `list-max-listpack-size` = `fill`
    /// (clamped as quicklistSetFill does).
    pub fn with_fill(fill: i64) -> Self {
        ListValue {
            nodes: VecDeque::new(),
            count: 0,
            fill: fill.clamp(-5, FILL_MAX) as i32,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Redis's OBJECT ENCODING name: always `quicklist` in 7.0.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// The nodes, head first (RDB save, DUMP, DEBUG).
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &Node> {
        self.nodes.iter()
    }

    /// Appends a node loaded from RDB (quicklistAppendListpack /
    /// quicklistAppendPlainNode): adopted as it is, never merged.
    pub fn append_node(&mut self, node: Node) {
        if node.count() == 0 {
            return;
        }
        self.count += node.count();
        self.room(1);
        self.nodes.push_back(node);
    }

    /// quicklistPushHead / quicklistPushTail.
    pub fn push(&mut self, end: End, v: &[u8]) {
        let sz = v.len();
        self.count += 1;
        if is_large(sz) {
            let n = Node::plain(v.to_vec());
            self.room(1);
            match end {
                End::Head => self.nodes.push_front(n),
                End::Tail => self.nodes.push_back(n),
            }
            return;
        }
        match end {
            End::Head => {
                if allow_insert(self.nodes.front(), self.fill, sz) {
                    self.nodes[0].prepend(v);
                } else {
                    self.room(1);
                    if let Some(old) = self.nodes.front_mut() {
                        old.settle();
                    }
                    self.nodes.push_front(Node::packed_with(v));
                }
            }
            End::Tail => {
                if allow_insert(self.nodes.back(), self.fill, sz) {
                    self.nodes.back_mut().expect("checked").append(v);
                } else {
                    self.room(1);
                    self.nodes.push_back(Node::packed_with(v));
                }
            }
        }
    }

    pub fn pop(&mut self, end: End) -> Option<KBytes> {
        let ni = match end {
            End::Head => 0,
            End::Tail => self.nodes.len().checked_sub(1)?,
        };
        let node = self.nodes.get_mut(ni)?;
        self.count -= 1;
        if node.count() == 1 {
            let n = self.nodes.remove(ni).expect("node exists");
            return Some(entry_kbytes(n.elem(n.first()).0));
        }
        let pos = match end {
            End::Head => node.first(),
            End::Tail => node.prev(node.end()),
        };
        let (e, next) = node.elem(pos);
        let v = entry_kbytes(e);
        node.remove_bytes(pos, next, 1);
        Some(v)
    }

    /// Removes up to `n` elements from one end, returned in pop order.
    pub fn pop_many(&mut self, end: End, n: usize) -> Vec<KBytes> {
        let n = n.min(self.count);
        let mut out = Vec::with_capacity(n);
        match end {
            End::Head => out.extend(self.iter_range_raw(0, n).map(entry_kbytes)),
            End::Tail => out.extend(
                self.iter_range_raw(self.count - n, self.count)
                    .rev()
                    .map(entry_kbytes),
            ),
        }
        match end {
            End::Head => self.delete_range(0, n),
            End::Tail => self.delete_range(self.count - n, n),
        }
        out
    }

    /// Resolves a Redis index (negative from the tail) to a position.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.count as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// The node holding position `i` (< len) and `i`'s index in it,
    /// walking from the nearer end of the list.
    pub(super) fn locate(&self, i: usize) -> (usize, usize) {
        if i <= (self.count - 1) / 2 {
            let mut acc = 0;
            for (ni, n) in self.nodes.iter().enumerate() {
                if acc + n.count() > i {
                    return (ni, i - acc);
                }
                acc += n.count();
            }
        } else {
            let mut acc = self.count;
            for (ni, n) in self.nodes.iter().enumerate().rev() {
                acc -= n.count();
                if acc <= i {
                    return (ni, i - acc);
                }
            }
        }
        unreachable!("position {i} beyond list length {}", self.count)
    }

    pub fn get(&self, index: i64) -> Option<LpEntry<'_>> {
        let i = self.resolve(index)?;
        let (ni, off) = self.locate(i);
        let n = &self.nodes[ni];
        Some(n.elem(n.offset_of(off)).0)
    }

    /// LSET (quicklistReplaceAtIndex); false if out of range.
    pub fn set(&mut self, index: i64, v: &[u8]) -> bool {
        let Some(i) = self.resolve(index) else {
            return false;
        };
        let (ni, off) = self.locate(i);
        self.replace_at(ni, off, v);
        true
    }

    /// The inclusive position range LRANGE selects for `start..=end`, or
    /// None when it is empty (addListRangeReply's clamping).
    pub fn range_bounds(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let len = self.count as i64;
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
    pub fn iter_range(&self, from: usize, to: usize) -> Iter<'_> {
        self.iter_range_raw(from, to + 1)
    }

    /// Elements at positions `from..to` (`from <= to <= len`).
    fn iter_range_raw(&self, from: usize, to: usize) -> Iter<'_> {
        let mut it = Iter {
            list: self,
            to,
            fnode: None,
            fi: 0,
            fp: 0,
            bnode: None,
            bi: 0,
            bp: 0,
            left: to - from,
        };
        if from == to {
            return it;
        }
        let (fi, off) = self.locate(from);
        let n = &self.nodes[fi];
        it.fnode = Some(n);
        it.fi = fi;
        it.fp = n.offset_of(off);
        it
    }

    pub fn iter(&self) -> Iter<'_> {
        self.iter_range_raw(0, self.count)
    }

    /// Makes room for `n` more nodes. The ring of nodes grows by a
    /// quarter, not by doubling from 4: a list of one node spends 32
    /// bytes on it, not 128.
    #[inline]
    pub(super) fn room(&mut self, n: usize) {
        let len = self.nodes.len();
        if len + n > self.nodes.capacity() {
            self.nodes.reserve_exact(n + len / 4);
        }
    }

    /// Heap bytes owned by the list (for memory accounting).
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(Node::heap_size).sum::<usize>()
    }
}

/// Walks a range of a list from either end; yields element views.
#[derive(Clone)]
pub struct Iter<'a> {
    list: &'a ListValue,
    /// Position just past the range's last element (for the back cursor,
    /// placed on the first `next_back`).
    to: usize,
    /// Front cursor: node, its index, offset of the next element.
    fnode: Option<&'a Node>,
    fi: usize,
    fp: usize,
    /// Back cursor: node, its index, offset just past the next element.
    bnode: Option<&'a Node>,
    bi: usize,
    bp: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = LpEntry<'a>;

    #[inline]
    fn next(&mut self) -> Option<LpEntry<'a>> {
        if self.left == 0 {
            return None;
        }
        let mut n = self.fnode?;
        while self.fp == n.end() {
            self.fi += 1;
            n = &self.list.nodes[self.fi];
            self.fnode = Some(n);
            self.fp = n.first();
        }
        let (e, next) = n.elem(self.fp);
        self.fp = next;
        self.left -= 1;
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let mut n = match self.bnode {
            Some(n) => n,
            None => {
                let (bi, off) = self.list.locate(self.to - 1);
                let n = &self.list.nodes[bi];
                self.bi = bi;
                self.bp = n.next(n.offset_of(off));
                n
            }
        };
        self.bnode = Some(n);
        while self.bp == n.first() {
            self.bi -= 1;
            n = &self.list.nodes[self.bi];
            self.bnode = Some(n);
            self.bp = n.end();
        }
        self.bp = n.prev(self.bp);
        self.left -= 1;
        Some(n.elem(self.bp).0)
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> FromIterator<&'a [u8]> for ListValue {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(it: I) -> Self {
        let mut l = ListValue::new();
        for v in it {
            l.push(End::Tail, v);
        }
        l
    }
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
