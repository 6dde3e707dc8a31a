//! One stream node: a single listpack laid out exactly as Redis 7.0's
//! t_stream.c lays out the value of a stream rax node.
//!
//! ```text
//! master entry: count | deleted | N | field_1 .. field_N | 0
//! per entry:    flags | ms-delta | seq-delta | [F | f,v * F] or [v * N] | lp-count
//! ```
//!
//! `flags` has bit 0 for a deleted entry and bit 1 when the entry's fields
//! are the master fields (only the values are stored then, and lp-count is
//! N + 3; otherwise 2F + 4). Deltas are wrapping u64 differences from the
//! node's master ID (its key in the stream's node map), stored as i64.
//!
//! Keeping the bytes Redis keeps gives Redis's memory footprint (one
//! allocation per node of ~100 entries instead of one per field), makes
//! `stream-node-max-bytes` compare against the real listpack size, and lets
//! RDB save write a node as it is and RDB load adopt a validated listpack.
//! The live and deleted counts are kept in the master entry as Redis keeps
//! them (rewritten in place, moving the rest only when their encoded size
//! changes); the node caches them together with the master field count and
//! the offset of the first entry so the hot paths need not decode them.

use super::stream::StreamId;
use crate::persistence::rdb::listpack::{self, LpEntry, EOF, HEADER};

pub const FLAG_DELETED: i64 = 1;
pub const FLAG_SAMEFIELDS: i64 = 2;

/// Bytes a new node reserves up front (STREAM_LISTPACK_MAX_PRE_ALLOCATE).
const PREALLOC: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The listpack: header, master entry, entries, terminator.
    lp: Vec<u8>,
    live: u32,
    deleted: u32,
    nmaster: u32,
    /// Offset of the first master field name.
    names: u32,
    /// Offset of the first entry (just past the master entry).
    first: u32,
}

/// One entry of a node, borrowed from its listpack.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub id: StreamId,
    pub deleted: bool,
    lp: &'a [u8],
    /// Same fields: offset of the first master field name; otherwise of the
    /// entry's first field.
    names: usize,
    /// Same fields: offset of the first value (unused otherwise).
    values: usize,
    /// Number of field-value pairs.
    pairs: usize,
    same: bool,
}

impl<'a> Entry<'a> {
    /// Number of fields plus values.
    pub fn len(&self) -> usize {
        self.pairs * 2
    }

    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }

    /// Field, value, field, value ... in order.
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            lp: self.lp,
            a: self.names,
            b: self.values,
            left: self.pairs * 2,
            same: self.same,
        }
    }

    /// The fields and values as owned byte strings.
    pub fn to_vecs(&self) -> Vec<Vec<u8>> {
        self.fields().map(|f| f.to_bytes()).collect()
    }
}

/// The fields and values of an [`Entry`].
pub struct Fields<'a> {
    lp: &'a [u8],
    a: usize,
    b: usize,
    left: usize,
    same: bool,
}

impl<'a> Iterator for Fields<'a> {
    type Item = LpEntry<'a>;

    #[inline]
    fn next(&mut self) -> Option<LpEntry<'a>> {
        if self.left == 0 {
            return None;
        }
        // With same fields, names come from the master entry and values
        // from the entry, alternately.
        let from_b = self.same && self.left % 2 == 1;
        let pos = if from_b { &mut self.b } else { &mut self.a };
        let (e, next) = listpack::element_at(self.lp, *pos);
        *pos = next;
        self.left -= 1;
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Fields<'_> {}

fn int_at(lp: &[u8], pos: usize) -> (i64, usize) {
    match listpack::element_at(lp, pos) {
        (LpEntry::Int(n), next) => (n, next),
        (e, next) => (e.as_int().unwrap_or(0), next),
    }
}

fn skip(lp: &[u8], mut pos: usize, n: usize) -> usize {
    for _ in 0..n {
        pos = listpack::next_element(lp, pos);
    }
    pos
}

impl Node {
    /// An empty node whose master fields are the names of `fields` (field,
    /// value, ... pairs); `max_bytes` caps the preallocation as Redis does.
    pub fn new<B: AsRef<[u8]>>(fields: &[B], max_bytes: u64) -> Node {
        let cap = if max_bytes > 0 && (max_bytes as usize) < PREALLOC {
            max_bytes as usize
        } else {
            PREALLOC
        };
        let mut lp = Vec::with_capacity(cap);
        lp.resize(HEADER, 0);
        listpack::push_int(&mut lp, 0);
        listpack::push_int(&mut lp, 0);
        let nmaster = fields.len() / 2;
        listpack::push_int(&mut lp, nmaster as i64);
        let names = lp.len() as u32;
        for f in fields.iter().step_by(2) {
            listpack::push_str(&mut lp, f.as_ref());
        }
        listpack::push_int(&mut lp, 0);
        let first = lp.len() as u32;
        lp.push(EOF);
        let mut n = Node {
            lp,
            live: 0,
            deleted: 0,
            nmaster: nmaster as u32,
            names,
            first,
        };
        n.set_header(3 + nmaster + 1);
        n
    }

    /// Adopts a listpack whose structure the caller validated completely
    /// (RDB load): counts, master entry, every record and its lp-count.
    pub fn adopt(lp: Vec<u8>, live: usize, deleted: usize, nmaster: usize) -> Node {
        let names = skip(&lp, HEADER, 3);
        let first = skip(&lp, names, nmaster + 1) as u32;
        Node {
            lp,
            live: live as u32,
            deleted: deleted as u32,
            nmaster: nmaster as u32,
            names: names as u32,
            first,
        }
    }

    /// The listpack, exactly as RDB stores it.
    pub fn listpack(&self) -> &[u8] {
        &self.lp
    }

    /// lpBytes: the listpack's size.
    pub fn bytes(&self) -> usize {
        self.lp.len()
    }

    pub fn live(&self) -> usize {
        self.live as usize
    }

    pub fn deleted(&self) -> usize {
        self.deleted as usize
    }

    /// Entries stored, deleted ones included.
    pub fn total(&self) -> usize {
        (self.live + self.deleted) as usize
    }

    /// Heap bytes owned (the listpack's allocation).
    pub fn heap_size(&self) -> usize {
        self.lp.capacity()
    }

    /// Gives back the spare capacity (lpShrinkToFit).
    pub fn shrink_to_fit(&mut self) {
        self.lp.shrink_to_fit();
    }

    /// The master field names.
    pub fn master_fields(&self) -> impl Iterator<Item = LpEntry<'_>> {
        let mut pos = self.names as usize;
        (0..self.nmaster).map(move |_| {
            let (e, next) = listpack::element_at(&self.lp, pos);
            pos = next;
            e
        })
    }

    /// Writes the total bytes and, while it is known, the element count.
    fn set_header(&mut self, added: usize) {
        let total = self.lp.len() as u32;
        self.lp[0..4].copy_from_slice(&total.to_le_bytes());
        let n = u16::from_le_bytes([self.lp[4], self.lp[5]]);
        if n != u16::MAX {
            let n = (n as usize + added).min(u16::MAX as usize) as u16;
            self.lp[4..6].copy_from_slice(&n.to_le_bytes());
        }
    }

    /// Rewrites the master entry's count and deleted (lpReplaceInteger).
    pub fn set_counts(&mut self, live: usize, deleted: usize) {
        let old_end = skip(&self.lp, HEADER, 2);
        let mut enc = [0u8; 20];
        let (a, na) = listpack::encode_int(live as i64);
        let (b, nb) = listpack::encode_int(deleted as i64);
        enc[..na].copy_from_slice(&a[..na]);
        enc[na..na + nb].copy_from_slice(&b[..nb]);
        let enc = &enc[..na + nb];
        if enc.len() == old_end - HEADER {
            self.lp[HEADER..old_end].copy_from_slice(enc);
        } else {
            let grow = enc.len() as i64 - (old_end - HEADER) as i64;
            self.lp.splice(HEADER..old_end, enc.iter().copied());
            self.first = (self.first as i64 + grow) as u32;
            self.names = (self.names as i64 + grow) as u32;
            self.set_header(0);
        }
        self.live = live as u32;
        self.deleted = deleted as u32;
    }

    /// Whether `fields` (field, value, ... pairs) have the master fields.
    fn same_fields<B: AsRef<[u8]>>(&self, fields: &[B]) -> bool {
        fields.len() / 2 == self.nmaster as usize
            && self
                .master_fields()
                .zip(fields.iter().step_by(2))
                .all(|(m, f)| m.eq_bytes(f.as_ref()))
    }

    /// Appends an entry (the part of streamAppendItem after the node is
    /// chosen). `master` is the node's key.
    pub fn push<B: AsRef<[u8]>>(&mut self, master: StreamId, id: StreamId, fields: &[B]) {
        let same = self.same_fields(fields);
        let nf = fields.len() / 2;
        let lp = &mut self.lp;
        lp.pop(); // the terminator
        listpack::push_int(lp, if same { FLAG_SAMEFIELDS } else { 0 });
        listpack::push_int(lp, id.ms.wrapping_sub(master.ms) as i64);
        listpack::push_int(lp, id.seq.wrapping_sub(master.seq) as i64);
        let added = if same {
            for v in fields.iter().skip(1).step_by(2) {
                listpack::push_str(lp, v.as_ref());
            }
            listpack::push_int(lp, nf as i64 + 3);
            nf + 4
        } else {
            listpack::push_int(lp, nf as i64);
            for x in fields {
                listpack::push_str(lp, x.as_ref());
            }
            listpack::push_int(lp, nf as i64 * 2 + 4);
            nf * 2 + 5
        };
        lp.push(EOF);
        self.set_header(added);
        self.set_counts(self.live() + 1, self.deleted());
    }

    /// Offset of the terminator (where entries end).
    fn end(&self) -> usize {
        self.lp.len() - 1
    }

    /// Decodes the entry record at `pos`; returns it and the next offset.
    #[inline]
    fn entry_at(&self, master: StreamId, pos: usize) -> (Entry<'_>, usize) {
        let lp = &self.lp[..];
        let (flags, p) = int_at(lp, pos);
        let (ms, p) = int_at(lp, p);
        let (seq, p) = int_at(lp, p);
        let id = StreamId::new(
            master.ms.wrapping_add(ms as u64),
            master.seq.wrapping_add(seq as u64),
        );
        let same = flags & FLAG_SAMEFIELDS != 0;
        let (names, values, pairs, end) = if same {
            let n = self.nmaster as usize;
            (self.names as usize, p, n, skip(lp, p, n))
        } else {
            let (n, p) = int_at(lp, p);
            let n = n.max(0) as usize;
            (p, p, n, skip(lp, p, n * 2))
        };
        let next = skip(lp, end, 1); // lp-count
        let e = Entry {
            id,
            deleted: flags & FLAG_DELETED != 0,
            lp,
            names,
            values,
            pairs,
            same,
        };
        (e, next)
    }

    /// Every record in order, deleted ones included, with its offset.
    pub fn entries(&self, master: StreamId) -> NodeEntries<'_> {
        NodeEntries {
            node: self,
            master,
            pos: self.first as usize,
        }
    }

    /// Every record from the last to the first, walking back through the
    /// backlens (each record ends with its element count).
    pub fn entries_rev(&self, master: StreamId) -> NodeEntriesRev<'_> {
        NodeEntriesRev {
            node: self,
            master,
            pos: self.end(),
        }
    }

    /// The offset of the record that ends where the one at `pos` (or the
    /// terminator) begins.
    fn prev_record(&self, pos: usize) -> usize {
        let count_pos = listpack::prev_element(&self.lp, pos);
        let (n, _) = int_at(&self.lp, count_pos);
        let mut pos = count_pos;
        for _ in 0..n {
            pos = listpack::prev_element(&self.lp, pos);
        }
        pos
    }

    /// The ID of the last record (lpGetEdgeStreamID(last)).
    pub fn last_id(&self, master: StreamId) -> StreamId {
        self.entry_at(master, self.prev_record(self.end())).0.id
    }

    /// The ID of the first record.
    pub fn first_id(&self, master: StreamId) -> StreamId {
        self.entry_at(master, self.first as usize).0.id
    }

    /// The record with this ID: its offset and whether it is deleted.
    pub fn find(&self, master: StreamId, id: StreamId) -> Option<(usize, Entry<'_>)> {
        for (pos, e) in self.entries(master) {
            if e.id >= id {
                return (e.id == id).then_some((pos, e));
            }
        }
        None
    }

    /// Sets the deleted flag of the record at `pos` without touching the
    /// counts. Flags Redis writes (0 or 2) become 1 or 3: one byte either
    /// way; any other encoding is replaced (moving what follows, so callers
    /// marking several records go from the last one back).
    pub fn mark_deleted(&mut self, pos: usize) {
        if self.lp[pos] & 0x80 == 0 {
            self.lp[pos] |= FLAG_DELETED as u8;
            return;
        }
        let (old, next) = listpack::element_at(&self.lp, pos);
        let mut enc = Vec::with_capacity(10);
        listpack::push_int(&mut enc, old.as_int().unwrap_or(0) | FLAG_DELETED);
        self.lp.splice(pos..next, enc);
        self.set_header(0);
    }
}

/// Iterator over a node's records: (offset, entry).
pub struct NodeEntries<'a> {
    node: &'a Node,
    master: StreamId,
    pos: usize,
}

impl<'a> Iterator for NodeEntries<'a> {
    type Item = (usize, Entry<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.node.end() {
            return None;
        }
        let at = self.pos;
        let (e, next) = self.node.entry_at(self.master, at);
        self.pos = next;
        Some((at, e))
    }
}

/// Live entries of a stream between two IDs ([`Stream::range`]), read in
/// place from the node listpacks (backward through their backlens).
pub struct Range<'a> {
    nodes: std::collections::btree_map::Range<'a, StreamId, Node>,
    cur: Option<NodeEntries<'a>>,
    cur_rev: Option<NodeEntriesRev<'a>>,
    start: StreamId,
    end: StreamId,
    rev: bool,
    done: bool,
}

impl<'a> Range<'a> {
    /// Entries of `nodes` (the nodes that may hold IDs in start..=end)
    /// within start..=end.
    pub fn new(
        nodes: std::collections::btree_map::Range<'a, StreamId, Node>,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Self {
        Range {
            nodes,
            cur: None,
            cur_rev: None,
            start,
            end,
            rev,
            done: start > end,
        }
    }

    fn next_rev(&mut self) -> Option<Entry<'a>> {
        loop {
            if let Some(cur) = self.cur_rev.as_mut() {
                for (_, e) in cur.by_ref() {
                    if e.id < self.start {
                        self.done = true;
                        return None;
                    }
                    if !e.deleted && e.id <= self.end {
                        return Some(e);
                    }
                }
            }
            let Some((&master, node)) = self.nodes.next_back() else {
                self.done = true;
                return None;
            };
            self.cur_rev = Some(node.entries_rev(master));
        }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.done {
            return None;
        }
        if self.rev {
            return self.next_rev();
        }
        loop {
            if let Some(cur) = self.cur.as_mut() {
                for (_, e) in cur.by_ref() {
                    if e.id > self.end {
                        self.done = true;
                        return None;
                    }
                    if !e.deleted && e.id >= self.start {
                        return Some(e);
                    }
                }
            }
            let Some((&master, node)) = self.nodes.next() else {
                self.done = true;
                return None;
            };
            self.cur = Some(node.entries(master));
        }
    }
}

#[cfg(test)]
#[path = "stream_node_tests.rs"]
mod tests;

/// Iterator over a node's records from the last: (offset, entry).
pub struct NodeEntriesRev<'a> {
    node: &'a Node,
    master: StreamId,
    pos: usize,
}

impl<'a> Iterator for NodeEntriesRev<'a> {
    type Item = (usize, Entry<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos <= self.node.first as usize {
            return None;
        }
        self.pos = self.node.prev_record(self.pos);
        Some((self.pos, self.node.entry_at(self.master, self.pos).0))
    }
}
