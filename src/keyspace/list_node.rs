//! One quicklist node of a list: a listpack in Redis 7.0's exact byte
//! layout (`listpack.c`), or a PLAIN node holding one large element as it
//! is. The node caches its element count; the listpack header (total bytes
//! and count) is kept up to date after every change, so the buffer can be
//! written to an RDB file or a DUMP payload as it is.
//!
//! Sizes the fill rules look at are `lpBytes` (the buffer's length) for
//! packed nodes and the element's length for plain ones, as in Redis's
//! `node->sz`.

use crate::persistence::rdb::listpack::{self, LpEntry, EOF, HEADER};
use crate::util::num::parse_i64;

#[derive(Clone, Debug)]
pub struct Node {
    /// Free bytes, then the listpack (packed) or the element (plain).
    buf: Vec<u8>,
    /// Where the listpack starts in `buf`: the gap in front lets LPUSH
    /// and LPOP move the 6-byte header instead of the whole listpack.
    start: u16,
    plain: bool,
    count: u32,
}

impl PartialEq for Node {
    /// Same kind and same bytes, whatever the gaps.
    fn eq(&self, o: &Node) -> bool {
        self.plain == o.plain && self.count == o.count && self.bytes() == o.bytes()
    }
}

impl Eq for Node {}

/// The most front gap a prepend reserves.
const MAX_GAP: usize = 4096;

/// The encoding of one string element: header, payload, backlen.
struct Enc<'a> {
    head: [u8; 10],
    hlen: usize,
    body: &'a [u8],
    back: [u8; 5],
    blen: usize,
}

impl Enc<'_> {
    fn len(&self) -> usize {
        self.hlen + self.body.len() + self.blen
    }

    fn write(&self, dst: &mut [u8]) {
        dst[..self.hlen].copy_from_slice(&self.head[..self.hlen]);
        let b = self.hlen + self.body.len();
        dst[self.hlen..b].copy_from_slice(self.body);
        dst[b..b + self.blen].copy_from_slice(&self.back[..self.blen]);
    }
}

/// lpInsertString's encoding of `s`: canonical integers shorter than 21
/// bytes as integers, everything else as a string.
fn encode(s: &[u8]) -> Enc<'_> {
    if !s.is_empty() && s.len() < 21 {
        if let Some(n) = parse_i64(s) {
            let (head, hlen) = listpack::encode_int(n);
            return Enc {
                head,
                hlen,
                body: &[],
                back: [0; 5],
                blen: 0,
            };
        }
    }
    let mut head = [0u8; 10];
    let l = s.len();
    let hlen = if l < 64 {
        head[0] = 0x80 | l as u8;
        1
    } else if l < 4096 {
        head[0] = 0xE0 | (l >> 8) as u8;
        head[1] = l as u8;
        2
    } else {
        head[0] = 0xF0;
        head[1..5].copy_from_slice(&(l as u32).to_le_bytes());
        5
    };
    let enc = hlen + l;
    let mut back = [0u8; 5];
    let blen = backlen_size(enc);
    for (j, i) in (0..blen).rev().enumerate() {
        let group = ((enc >> (7 * i)) & 127) as u8;
        back[j] = if i == blen - 1 { group } else { group | 128 };
    }
    Enc {
        head,
        hlen,
        body: s,
        back,
        blen,
    }
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

impl Node {
    /// An empty listpack node.
    pub fn packed() -> Node {
        let mut lp = Vec::with_capacity(HEADER + 1);
        lp.extend_from_slice(&[0; HEADER]);
        lp.push(EOF);
        let mut n = Node {
            buf: lp,
            start: 0,
            count: 0,
            plain: false,
        };
        n.fix_header();
        n
    }

    /// A packed node holding just `v`.
    pub fn packed_with(v: &[u8]) -> Node {
        let mut n = Node::packed();
        n.insert(HEADER, v);
        n
    }

    /// A PLAIN node holding `v`.
    pub fn plain(v: Vec<u8>) -> Node {
        Node {
            buf: v,
            start: 0,
            count: 1,
            plain: true,
        }
    }

    /// Adopts a listpack already validated to hold `count` elements,
    /// header untouched (a declared count of 65535, "unknown", stays so
    /// until the node changes; then keel writes the real count).
    pub fn from_listpack(lp: Vec<u8>, count: usize) -> Node {
        Node {
            buf: lp,
            start: 0,
            count: count as u32,
            plain: false,
        }
    }

    pub fn count(&self) -> usize {
        self.count as usize
    }

    pub fn is_plain(&self) -> bool {
        self.plain
    }

    /// Redis's `node->sz`.
    #[inline]
    pub fn sz(&self) -> usize {
        self.buf.len() - self.start as usize
    }

    /// The listpack (packed) or the element (plain), as RDB stores it.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start as usize..]
    }

    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    fn fix_header(&mut self) {
        let s = self.start as usize;
        let total = (self.buf.len() - s) as u32;
        self.buf[s..s + 4].copy_from_slice(&total.to_le_bytes());
        let c = self.count.min(65535) as u16;
        self.buf[s + 4..s + 6].copy_from_slice(&c.to_le_bytes());
    }

    /// Drops the front gap (and spare capacity): once the node is no
    /// longer the head, LPUSH will not use it.
    pub fn settle(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start as usize);
            self.start = 0;
        }
        self.shrink();
    }

    /// Offset of the first element.
    #[inline]
    pub fn first(&self) -> usize {
        if self.plain {
            0
        } else {
            HEADER
        }
    }

    /// Offset just past the last element (the terminator).
    #[inline]
    pub fn end(&self) -> usize {
        if self.plain {
            1
        } else {
            self.sz() - 1
        }
    }

    /// The element at `pos` and the offset of the next one.
    #[inline]
    pub fn elem(&self, pos: usize) -> (LpEntry<'_>, usize) {
        if self.plain {
            (LpEntry::Str(&self.buf), 1)
        } else {
            listpack::element_at(self.bytes(), pos)
        }
    }

    /// Offset of the element after the one at `pos`.
    #[inline]
    pub fn next(&self, pos: usize) -> usize {
        if self.plain {
            1
        } else {
            listpack::next_element(self.bytes(), pos)
        }
    }

    /// Offset of the element before `pos` (which may be [`Node::end`]).
    #[inline]
    pub fn prev(&self, pos: usize) -> usize {
        if self.plain {
            0
        } else {
            listpack::prev_element(self.bytes(), pos)
        }
    }

    /// Offset of the `i`-th element, walking from the nearer end.
    pub fn offset_of(&self, i: usize) -> usize {
        let n = self.count();
        if i <= n / 2 {
            let mut p = self.first();
            for _ in 0..i {
                p = self.next(p);
            }
            p
        } else {
            let mut p = self.end();
            for _ in i..n {
                p = self.prev(p);
            }
            p
        }
    }

    /// Inserts `v` at byte offset `pos` of a packed node.
    pub fn insert(&mut self, pos: usize, v: &[u8]) {
        debug_assert!(!self.plain);
        let e = encode(v);
        let n = e.len();
        let st = self.start as usize;
        if pos == HEADER && n <= st {
            // Prepend into the gap: move the header back.
            let ns = st - n;
            self.buf.copy_within(st..st + HEADER, ns);
            e.write(&mut self.buf[ns + HEADER..ns + HEADER + n]);
            self.start = ns as u16;
        } else if pos == HEADER && self.sz() >= 64 {
            // Prepend with no gap left: rebuild with a gap of an eighth.
            let lp = self.bytes();
            let gap = (lp.len() / 8).min(MAX_GAP);
            let mut buf = Vec::with_capacity(gap + lp.len() + n);
            buf.resize(gap, 0);
            buf.extend_from_slice(&lp[..HEADER]);
            buf.resize(gap + HEADER + n, 0);
            e.write(&mut buf[gap + HEADER..]);
            buf.extend_from_slice(&lp[HEADER..]);
            self.buf = buf;
            self.start = gap as u16;
        } else {
            let abs = st + pos;
            let old = self.buf.len();
            if self.buf.capacity() < old + n {
                // Grow to the allocator's size class: the block is that
                // big anyway, and the pushes that fit in it then need no
                // realloc (lpInsert reallocs on every push).
                let want = crate::util::alloc::alloc_size(old + n);
                self.buf.reserve_exact(want - old);
            }
            self.buf.resize(old + n, 0);
            self.buf.copy_within(abs..old, abs + n);
            e.write(&mut self.buf[abs..abs + n]);
        }
        self.count += 1;
        self.fix_header();
    }

    /// Appends `v` to a packed node (lpAppend).
    pub fn append(&mut self, v: &[u8]) {
        let at = self.end();
        self.insert(at, v);
    }

    /// Prepends `v` to a packed node (lpPrepend).
    pub fn prepend(&mut self, v: &[u8]) {
        self.insert(HEADER, v);
    }

    /// Removes the `n` elements in bytes `from..to` of a packed node.
    pub fn remove_bytes(&mut self, from: usize, to: usize, n: usize) {
        debug_assert!(!self.plain);
        let st = self.start as usize;
        let d = to - from;
        if from == HEADER && st + d <= u16::MAX as usize {
            // Popping the head: move the header forward, keep a gap.
            self.buf.copy_within(st..st + HEADER, st + d);
            self.start = (st + d) as u16;
        } else {
            self.buf.drain(st + from..st + to);
        }
        self.count -= n as u32;
        self.fix_header();
        if self.start as usize > self.sz() + MAX_GAP {
            self.settle();
        } else {
            self.shrink();
        }
    }

    /// Gives back slack after a removal, as lpDelete's realloc does.
    fn shrink(&mut self) {
        let len = self.buf.len();
        if self.buf.capacity() > len + len / 4 + 16 {
            self.buf.shrink_to(len);
        }
    }

    /// Replaces the element at `pos` of a packed node with `v` (lpReplace).
    pub fn replace(&mut self, pos: usize, v: &[u8]) {
        let next = self.next(pos);
        let st = self.start as usize;
        let (pos, next) = (st + pos, st + next);
        let e = encode(v);
        let n = e.len();
        let old_n = next - pos;
        if n > old_n {
            let grow = n - old_n;
            let old = self.buf.len();
            self.buf.reserve_exact(grow);
            self.buf.resize(old + grow, 0);
            self.buf.copy_within(next..old, next + grow);
        } else if n < old_n {
            self.buf.drain(pos + n..next);
        }
        e.write(&mut self.buf[pos..pos + n]);
        self.fix_header();
        self.shrink();
    }

    /// Replaces the element of a plain node.
    pub fn set_plain(&mut self, v: &[u8]) {
        self.buf = v.to_vec();
    }

    /// _quicklistSplitNode: with `after` this node keeps elements
    /// `0..=offset` and the returned node gets the rest; otherwise this
    /// node keeps `offset..` and the returned node gets `0..offset`.
    pub fn split(&mut self, offset: usize, after: bool) -> Node {
        let cut_idx = if after { offset + 1 } else { offset };
        let cut = self.offset_of(cut_idx);
        let end = self.end();
        let mut other = Node::packed();
        let lp = self.bytes();
        let (moved, n) = if after {
            (&lp[cut..end], self.count() - cut_idx)
        } else {
            (&lp[HEADER..cut], cut_idx)
        };
        other.buf.reserve_exact(moved.len());
        other.buf.truncate(HEADER);
        other.buf.extend_from_slice(moved);
        other.buf.push(EOF);
        other.count = n as u32;
        other.fix_header();
        if after {
            self.remove_bytes(cut, end, n);
        } else {
            self.remove_bytes(HEADER, cut, n);
        }
        other
    }

    /// lpMerge: appends `b`'s elements to this node's.
    pub fn merge(&mut self, b: Node) {
        let end = self.start as usize + self.end();
        self.buf.truncate(end);
        let add = &b.bytes()[HEADER..];
        self.buf.reserve_exact(add.len());
        self.buf.extend_from_slice(add);
        self.count += b.count;
        self.fix_header();
    }

    /// Checks the node: a listpack whose header, element count and
    /// terminator agree with the cache (for tests).
    #[cfg(test)]
    pub fn validate(&self) -> Result<(), String> {
        if self.plain {
            return if self.count == 1 {
                Ok(())
            } else {
                Err("plain node count".into())
            };
        }
        let n = listpack::entries(self.bytes()).map_err(|e| e.to_string())?;
        if n.len() != self.count() || n.is_empty() {
            return Err(format!("count {} vs {}", n.len(), self.count));
        }
        Ok(())
    }
}
