//! The list edits that work inside nodes: LSET, LINSERT, LREM, LTRIM and
//! range deletion, following quicklist.c (`quicklistReplaceEntry`,
//! `_quicklistInsert` with its split and `_quicklistMergeNodes`,
//! `quicklistDelIndex`, `quicklistDelRange`) so the node layout, and so
//! DUMP and RDB output, is the one Redis would have. Also LPOS.

use super::list::{allow_insert, allow_merge, is_large, ListValue, Node};
use crate::persistence::rdb::listpack::LpEntry;
use crate::util::num::parse_i64;

/// lpCompare against a fixed string: integer elements match its
/// canonical integer form only.
struct Matcher<'a> {
    s: &'a [u8],
    n: Option<i64>,
}

impl<'a> Matcher<'a> {
    fn new(s: &'a [u8]) -> Self {
        let n = if !s.is_empty() && s.len() < 21 {
            parse_i64(s)
        } else {
            None
        };
        Matcher { s, n }
    }

    #[inline]
    fn is(&self, e: LpEntry<'_>) -> bool {
        match e {
            LpEntry::Str(x) => x == self.s,
            LpEntry::Int(v) => self.n == Some(v),
        }
    }
}

impl ListValue {
    /// quicklistReplaceEntry for the element `off` of node `ni`.
    pub(super) fn replace_at(&mut self, ni: usize, off: usize, v: &[u8]) {
        let large = is_large(v.len());
        let node = &mut self.nodes[ni];
        if !node.is_plain() && !large {
            let pos = node.offset_of(off);
            node.replace(pos, v);
        } else if node.is_plain() {
            if large {
                node.set_plain(v);
            } else {
                // Insert after the plain node's element, then drop it.
                self.insert_at(ni, 0, true, v);
                self.nodes.remove(ni);
                self.count -= 1;
            }
        } else {
            // A large value in a packed node: insert it after the entry
            // (splitting the node), then delete the entry, now the last
            // of its node.
            self.insert_at(ni, off, true, v);
            let node = &mut self.nodes[ni];
            if node.count() == 1 {
                self.nodes.remove(ni);
            } else {
                let end = node.end();
                let p = node.prev(end);
                node.remove_bytes(p, end, 1);
            }
            self.count -= 1;
        }
    }

    /// _quicklistInsert: inserts `v` before or after element `off` of
    /// node `ni`.
    pub(super) fn insert_at(&mut self, ni: usize, off: usize, after: bool, v: &[u8]) {
        let fill = self.fill;
        let sz = v.len();
        self.count += 1;
        let node = &self.nodes[ni];
        let full = !allow_insert(Some(node), fill, sz);
        let at_tail = after && off == node.count() - 1;
        let at_head = !after && off == 0;
        let avail_next = at_tail && allow_insert(self.nodes.get(ni + 1), fill, sz);
        let avail_prev = at_head && ni > 0 && allow_insert(self.nodes.get(ni - 1), fill, sz);
        let beside = if after { ni + 1 } else { ni };
        self.room(2);
        let node = &self.nodes[ni];
        if is_large(sz) {
            if node.is_plain() || at_tail || at_head {
                self.nodes.insert(beside, Node::plain(v.to_vec()));
            } else {
                let rest = self.nodes[ni].split(off, after);
                if after {
                    self.nodes.insert(ni + 1, Node::plain(v.to_vec()));
                    self.nodes.insert(ni + 2, rest);
                } else {
                    self.nodes.insert(ni, Node::plain(v.to_vec()));
                    self.nodes.insert(ni, rest);
                }
            }
            return;
        }
        if !full {
            let node = &mut self.nodes[ni];
            let mut pos = node.offset_of(off);
            if after {
                pos = node.next(pos);
            }
            node.insert(pos, v);
        } else if avail_next {
            self.nodes[ni + 1].prepend(v);
        } else if avail_prev {
            self.nodes[ni - 1].append(v);
        } else if at_tail || at_head {
            self.nodes.insert(beside, Node::packed_with(v));
        } else {
            let mut rest = self.nodes[ni].split(off, after);
            if after {
                rest.prepend(v);
                self.nodes.insert(ni + 1, rest);
                self.merge_around(ni);
            } else {
                rest.append(v);
                self.nodes.insert(ni, rest);
                self.merge_around(ni + 1);
            }
        }
    }

    /// Merges nodes `a` and `a + 1` into `a`.
    fn merge_pair(&mut self, a: usize) {
        let b = self.nodes.remove(a + 1).expect("node exists");
        self.nodes[a].merge(b);
    }

    fn can_merge(&self, a: Option<usize>, b: Option<usize>) -> bool {
        let get = |i: Option<usize>| i.and_then(|i| self.nodes.get(i));
        allow_merge(get(a), get(b), self.fill)
    }

    /// _quicklistMergeNodes around node `c`.
    fn merge_around(&mut self, mut c: usize) {
        let prev = c.checked_sub(1);
        let prev_prev = c.checked_sub(2);
        if self.can_merge(prev, prev_prev) {
            self.merge_pair(c - 2);
            c -= 1;
        }
        if self.can_merge(Some(c + 1), Some(c + 2)) {
            self.merge_pair(c + 1);
        }
        let target = if self.can_merge(Some(c), c.checked_sub(1)) {
            self.merge_pair(c - 1);
            c - 1
        } else {
            c
        };
        if self.can_merge(Some(target), Some(target + 1)) {
            self.merge_pair(target);
        }
    }

    /// quicklistDelRange: removes `n` elements from position `start`.
    pub fn delete_range(&mut self, start: usize, n: usize) {
        let n = n.min(self.count.saturating_sub(start));
        if n == 0 {
            return;
        }
        let (mut ni, mut off) = self.locate(start);
        let mut left = n;
        self.count -= n;
        while left > 0 {
            let node = &mut self.nodes[ni];
            let del = left.min(node.count() - off);
            if del == node.count() {
                self.nodes.remove(ni);
            } else {
                let from = node.offset_of(off);
                let mut to = from;
                for _ in 0..del {
                    to = node.next(to);
                }
                node.remove_bytes(from, to, del);
                ni += 1;
            }
            left -= del;
            off = 0;
        }
    }

    /// LTRIM: keeps `start..=end` (Redis clamping); returns how many
    /// elements were removed.
    pub fn trim(&mut self, start: i64, end: i64) -> usize {
        let len = self.count;
        match self.range_bounds(start, end) {
            None => {
                self.nodes.clear();
                self.count = 0;
            }
            Some((s, e)) => {
                self.delete_range(0, s);
                let keep = e - s + 1;
                self.delete_range(keep, self.count - keep);
            }
        }
        len - self.count
    }

    /// LINSERT: inserts `v` before or after the first element equal to
    /// `pivot` (searching from the head). False if there is no pivot.
    pub fn insert(&mut self, after: bool, pivot: &[u8], v: &[u8]) -> bool {
        let m = Matcher::new(pivot);
        for ni in 0..self.nodes.len() {
            let node = &self.nodes[ni];
            let (mut p, end) = (node.first(), node.end());
            let mut off = 0;
            while p != end {
                let (e, next) = node.elem(p);
                if m.is(e) {
                    self.insert_at(ni, off, after, v);
                    return true;
                }
                p = next;
                off += 1;
            }
        }
        false
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
        let m = Matcher::new(v);
        let mut removed = 0;
        if count >= 0 {
            let mut ni = 0;
            while ni < self.nodes.len() && removed < limit {
                let node = &mut self.nodes[ni];
                let mut p = node.first();
                let mut dropped = false;
                while p != node.end() && removed < limit {
                    let (e, next) = node.elem(p);
                    if m.is(e) {
                        removed += 1;
                        if node.count() == 1 {
                            dropped = true;
                            break;
                        }
                        node.remove_bytes(p, next, 1);
                    } else {
                        p = next;
                    }
                }
                if dropped {
                    self.nodes.remove(ni);
                } else {
                    ni += 1;
                }
            }
        } else {
            let mut ni = self.nodes.len();
            while ni > 0 && removed < limit {
                ni -= 1;
                let node = &mut self.nodes[ni];
                let mut p = node.end();
                let mut dropped = false;
                while p != node.first() && removed < limit {
                    let q = node.prev(p);
                    let (e, next) = node.elem(q);
                    if m.is(e) {
                        removed += 1;
                        if node.count() == 1 {
                            dropped = true;
                            break;
                        }
                        node.remove_bytes(q, next, 1);
                    }
                    p = q;
                }
                if dropped {
                    self.nodes.remove(ni);
                }
            }
        }
        self.count -= removed;
        removed
    }

    /// LPOS: positions (as LINDEX indexes) of the matches of `v`, from
    /// the `rank`-th match on (negative rank: searching from the tail),
    /// at most `count` of them (0: all), looking at no more than `maxlen`
    /// elements (0: all).
    pub fn positions(&self, v: &[u8], rank: i64, count: usize, maxlen: usize) -> Vec<usize> {
        let len = self.count;
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
        let m = Matcher::new(v);
        let mut out = Vec::new();
        let mut matches: u64 = 0;
        let mut visit = |n: usize, e: LpEntry<'_>| {
            if m.is(e) {
                matches += 1;
                if matches > skip {
                    out.push(if rank < 0 { len - 1 - n } else { n });
                    if out.len() >= want {
                        return false;
                    }
                }
            }
            true
        };
        if rank < 0 {
            for (n, e) in self.iter().rev().take(limit).enumerate() {
                if !visit(n, e) {
                    break;
                }
            }
        } else {
            for (n, e) in self.iter().take(limit).enumerate() {
                if !visit(n, e) {
                    break;
                }
            }
        }
        out
    }
}
