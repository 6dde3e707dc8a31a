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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The listpack (packed) or the element's bytes (plain).
    lp: Vec<u8>,
    count: u32,
    plain: bool,
}

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
            lp,
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
            lp: v,
            count: 1,
            plain: true,
        }
    }

    /// Adopts a listpack already validated to hold `count` elements,
    /// header untouched (a declared count of 65535, "unknown", stays so
    /// until the node changes; then keel writes the real count).
    pub fn from_listpack(lp: Vec<u8>, count: usize) -> Node {
        Node {
            lp,
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
    pub fn sz(&self) -> usize {
        self.lp.len()
    }

    /// The listpack (packed) or the element (plain), as RDB stores it.
    pub fn bytes(&self) -> &[u8] {
        &self.lp
    }

    pub fn heap_size(&self) -> usize {
        self.lp.capacity()
    }

    fn fix_header(&mut self) {
        let total = self.lp.len() as u32;
        self.lp[0..4].copy_from_slice(&total.to_le_bytes());
        let c = self.count.min(65535) as u16;
        self.lp[4..6].copy_from_slice(&c.to_le_bytes());
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
            self.lp.len() - 1
        }
    }

    /// The element at `pos` and the offset of the next one.
    #[inline]
    pub fn elem(&self, pos: usize) -> (LpEntry<'_>, usize) {
        if self.plain {
            (LpEntry::Str(&self.lp), 1)
        } else {
            listpack::element_at(&self.lp, pos)
        }
    }

    /// Offset of the element after the one at `pos`.
    #[inline]
    pub fn next(&self, pos: usize) -> usize {
        if self.plain {
            1
        } else {
            listpack::next_element(&self.lp, pos)
        }
    }

    /// Offset of the element before `pos` (which may be [`Node::end`]).
    #[inline]
    pub fn prev(&self, pos: usize) -> usize {
        if self.plain {
            0
        } else {
            listpack::prev_element(&self.lp, pos)
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
        let old = self.lp.len();
        if self.lp.capacity() < old + n {
            self.lp.reserve_exact(n);
        }
        self.lp.resize(old + n, 0);
        self.lp.copy_within(pos..old, pos + n);
        e.write(&mut self.lp[pos..pos + n]);
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
        self.lp.drain(from..to);
        self.count -= n as u32;
        self.fix_header();
        self.shrink();
    }

    /// Gives back slack after a removal, as lpDelete's realloc does.
    fn shrink(&mut self) {
        let len = self.lp.len();
        if self.lp.capacity() > len + len / 4 + 16 {
            self.lp.shrink_to(len);
        }
    }

    /// Replaces the element at `pos` of a packed node with `v` (lpReplace).
    pub fn replace(&mut self, pos: usize, v: &[u8]) {
        let next = self.next(pos);
        let e = encode(v);
        let n = e.len();
        let old_n = next - pos;
        if n > old_n {
            let grow = n - old_n;
            let old = self.lp.len();
            self.lp.reserve_exact(grow);
            self.lp.resize(old + grow, 0);
            self.lp.copy_within(next..old, next + grow);
        } else if n < old_n {
            self.lp.drain(pos + n..next);
        }
        e.write(&mut self.lp[pos..pos + n]);
        self.fix_header();
        self.shrink();
    }

    /// Replaces the element of a plain node.
    pub fn set_plain(&mut self, v: &[u8]) {
        self.lp = v.to_vec();
    }

    /// _quicklistSplitNode: with `after` this node keeps elements
    /// `0..=offset` and the returned node gets the rest; otherwise this
    /// node keeps `offset..` and the returned node gets `0..offset`.
    pub fn split(&mut self, offset: usize, after: bool) -> Node {
        let cut_idx = if after { offset + 1 } else { offset };
        let cut = self.offset_of(cut_idx);
        let end = self.end();
        let mut other = Node::packed();
        let (moved, n) = if after {
            (&self.lp[cut..end], self.count() - cut_idx)
        } else {
            (&self.lp[HEADER..cut], cut_idx)
        };
        other.lp.reserve_exact(moved.len());
        other.lp.truncate(HEADER);
        other.lp.extend_from_slice(moved);
        other.lp.push(EOF);
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
        let end = self.end();
        self.lp.truncate(end);
        self.lp.reserve_exact(b.lp.len() - HEADER);
        self.lp.extend_from_slice(&b.lp[HEADER..]);
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
        let n = listpack::entries(&self.lp).map_err(|e| e.to_string())?;
        if n.len() != self.count() || n.is_empty() {
            return Err(format!("count {} vs {}", n.len(), self.count));
        }
        Ok(())
    }
}
