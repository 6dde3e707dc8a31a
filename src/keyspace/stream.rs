//! The stream type (Redis 7.0's t_stream.c / stream.h).
//!
//! Entries live in nodes keyed by their master ID, like Redis's rax of
//! listpacks: each node is one listpack in Redis's layout (see
//! [`stream_node`](super::stream_node)) holding entries in ID order,
//! deleted ones flagged until the whole node empties. Keeping Redis's node
//! boundaries (stream-node-max-entries / stream-node-max-bytes against the
//! real listpack size) makes `~` trimming remove exactly what Redis
//! removes. The stream also carries everything the RDB
//! stream encoding needs: length, last / first / max-deleted IDs,
//! entries-added and the consumer groups with their PELs.

pub use super::stream_node::{Entry, Fields, Node, Range};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// A stream entry ID (milliseconds, sequence), ordered as Redis orders them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// streamIncrID: the next ID, None past the maximum.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// streamDecrID: the previous ID, None below 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    pub fn fmt(&self) -> String {
        String::from_utf8_lossy(self.text().as_bytes()).into_owned()
    }

    /// `<ms>-<seq>` formatted on the stack.
    pub fn text(&self) -> IdText {
        let mut t = IdText {
            buf: [0; 41],
            len: 0,
        };
        let mut b = itoa::Buffer::new();
        let ms = b.format(self.ms).as_bytes();
        t.buf[..ms.len()].copy_from_slice(ms);
        t.buf[ms.len()] = b'-';
        let at = ms.len() + 1;
        let seq = b.format(self.seq).as_bytes();
        t.buf[at..at + seq.len()].copy_from_slice(seq);
        t.len = (at + seq.len()) as u8;
        t
    }
}

/// A formatted stream ID (two u64s and a dash fit in 41 bytes).
pub struct IdText {
    buf: [u8; 41],
    len: u8,
}

impl IdText {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// Consumer groups' "entries read" value meaning "unknown".
pub const INVALID_ENTRIES_READ: i64 = -1;

/// A pending (delivered, not acknowledged) entry of a group.
#[derive(Clone, Debug)]
pub struct Nack {
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Bytes,
}

#[derive(Clone, Debug, Default)]
pub struct Consumer {
    pub seen_time: i64,
    /// IDs of the group PEL entries owned by this consumer.
    pub pel: BTreeSet<StreamId>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Self {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Adds (or re-assigns) a PEL entry to `consumer` (which must exist).
    pub fn assign(&mut self, id: StreamId, consumer: &Bytes, now: i64, count: u64) {
        if let Some(old) = self.pel.get(&id) {
            let prev = old.consumer.clone();
            if let Some(c) = self.consumers.get_mut(&prev) {
                c.pel.remove(&id);
            }
        }
        // Share the consumer's own (owned) name rather than the caller's.
        let consumer = match self.consumers.get_key_value(consumer) {
            Some((k, _)) => k.clone(),
            None => Bytes::copy_from_slice(consumer),
        };
        self.pel.insert(
            id,
            Nack {
                delivery_time: now,
                delivery_count: count,
                consumer: consumer.clone(),
            },
        );
        if let Some(c) = self.consumers.get_mut(&consumer) {
            c.pel.insert(id);
        }
    }

    /// Removes a PEL entry (XACK, or a claimed entry that was deleted).
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Deletes a consumer and its pending entries; returns how many.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}

/// A trimming request (streamAddTrimArgs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Debug, Default)]
pub struct Stream {
    pub nodes: BTreeMap<StreamId, Node>,
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Bytes, Group>,
}

/// Largest listpack Redis builds for a stream node.
const LISTPACK_MAX_SIZE: usize = 1 << 30;

/// Why XADD could not append.
#[derive(Debug, PartialEq, Eq)]
pub enum AppendError {
    /// The ID is not greater than the top item (EDOM).
    TooSmall,
    /// Elements are too large to be stored (ERANGE).
    TooLarge,
}

impl Stream {
    pub fn new() -> Self {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// streamAppendItem. `fields` are field, value, ... pairs; `want`: an
    /// explicit ID, with `seq_given` false for `<ms>-*`; None for `*` (then
    /// `now_ms` drives the generated ID).
    pub fn append<B: AsRef<[u8]>>(
        &mut self,
        fields: &[B],
        want: Option<(StreamId, bool)>,
        now_ms: u64,
        max_entries: i64,
        max_bytes: u64,
    ) -> Result<StreamId, AppendError> {
        let id = match want {
            Some((id, true)) => id,
            Some((id, false)) => {
                if self.last_id.ms == id.ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AppendError::TooSmall);
                    }
                    StreamId::new(id.ms, self.last_id.seq + 1)
                } else {
                    id
                }
            }
            None => {
                if self.last_id.ms >= now_ms {
                    self.last_id.incr().ok_or(AppendError::TooSmall)?
                } else {
                    StreamId::new(now_ms, 0)
                }
            }
        };
        if id <= self.last_id {
            return Err(AppendError::TooSmall);
        }
        let totelelen: usize = fields.iter().map(|f| f.as_ref().len()).sum();
        if totelelen > LISTPACK_MAX_SIZE {
            return Err(AppendError::TooLarge);
        }
        let node_max = if max_bytes == 0 || max_bytes as usize > LISTPACK_MAX_SIZE {
            LISTPACK_MAX_SIZE
        } else {
            max_bytes as usize
        };
        let mut tail = self.nodes.last_entry();
        if let Some(t) = tail.as_mut() {
            let n = t.get_mut();
            if n.bytes() + totelelen >= node_max
                || (max_entries != 0 && n.total() as i64 >= max_entries)
            {
                n.shrink_to_fit();
                tail = None;
            }
        }
        match tail {
            Some(mut t) => {
                let master = *t.key();
                t.get_mut().push(master, id, fields);
            }
            None => {
                let mut node = Node::new(fields, max_bytes);
                node.push(id, id, fields);
                self.nodes.insert(id, node);
            }
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// The live entry with this ID, if present.
    pub fn get(&self, id: StreamId) -> Option<Entry<'_>> {
        let (&master, node) = self.nodes.range(..=id).next_back()?;
        let (_, e) = node.find(master, id)?;
        (!e.deleted).then_some(e)
    }

    /// Live entries with start <= id <= end, in order (or reversed).
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool) -> Range<'_> {
        // The node that may hold `start` begins at or before it.
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map(|(k, _)| *k)
            .unwrap_or(start);
        let nodes = if start > end {
            self.nodes.range(StreamId::MAX..StreamId::MAX)
        } else {
            self.nodes.range(from..=end)
        };
        Range::new(nodes, start, end, rev)
    }

    /// The first or last live entry ID (streamGetEdgeID skipping tombstones).
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, !first)
            .next()
            .map(|e| e.id)
    }

    /// The first ID stored, tombstones included (streamGetEdgeID(s,1,0)).
    pub fn first_stored_id(&self) -> StreamId {
        self.nodes
            .iter()
            .next()
            .map(|(&m, n)| n.first_id(m))
            .unwrap_or(StreamId::MIN)
    }

    /// Deletes one entry (streamDeleteItem); a node left empty goes.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Some((pos, e)) = node.find(key, id) else {
            return false;
        };
        if e.deleted {
            return false;
        }
        if node.live() == 1 {
            self.nodes.remove(&key);
        } else {
            node.mark_deleted(pos);
            node.set_counts(node.live() - 1, node.deleted() + 1);
        }
        self.length -= 1;
        true
    }

    /// XDEL of a list of IDs, keeping first / max-deleted IDs as Redis.
    pub fn delete_ids(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_entry = false;
        for &id in ids {
            if self.delete(id) {
                if id == self.first_id {
                    first_entry = true;
                }
                if id > self.max_deleted_id {
                    self.max_deleted_id = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first_entry {
                self.first_id = self.edge_id(true).unwrap_or_default();
            }
        }
        deleted
    }

    /// streamTrim: returns the number of entries removed. `limit` 0 means
    /// no limit; `approx` removes whole nodes only.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: i64) -> i64 {
        let mut deleted: i64 = 0;
        loop {
            if let Trim::MaxLen(m) = how {
                if self.length <= m {
                    break;
                }
            }
            let Some(mut first) = self.nodes.first_entry() else {
                break;
            };
            let key = *first.key();
            let node = first.get_mut();
            let entries = node.live() as i64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(m) => self.length - entries as u64 >= m,
                Trim::MinId(min) => node.last_id(key) < min,
            };
            if remove_node {
                first.remove();
                self.length -= entries as u64;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let mut marks = Vec::new();
            let mut length = self.length;
            for (pos, e) in node.entries(key) {
                let stop = match how {
                    Trim::MaxLen(m) => length <= m,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    marks.push(pos);
                    length -= 1;
                }
            }
            let n = marks.len();
            for pos in marks.into_iter().rev() {
                node.mark_deleted(pos);
            }
            if n > 0 {
                node.set_counts(node.live() - n, node.deleted() + n);
            }
            self.length -= n as u64;
            deleted += n as i64;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(true).unwrap_or_default();
        }
        deleted
    }

    /// streamRangeHasTombstones.
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// streamEstimateDistanceFromFirstEverEntry.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// The lag of a group (streamReplyWithCGLag), None when unknown.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let r = self.estimate_distance(g.last_id);
        (r != INVALID_ENTRIES_READ).then(|| self.entries_added as i64 - r)
    }

    /// Advances a group past `id` while serving it (streamReplyWithRange).
    pub fn group_deliver(&self, g: &mut Group, id: StreamId) -> bool {
        if id <= g.last_id {
            return false;
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.range_has_tombstones(id, StreamId::MAX) {
            g.entries_read += 1;
        } else if self.entries_added != 0 {
            g.entries_read = self.estimate_distance(id);
        }
        g.last_id = id;
        true
    }

    /// Bytes owned on the heap (MEMORY USAGE): the node listpacks with
    /// their map slots, and the consumer groups with their PELs.
    pub fn heap_size(&self) -> usize {
        let field = std::mem::size_of::<Bytes>();
        let mut n = std::mem::size_of::<Stream>();
        for node in self.nodes.values() {
            n += std::mem::size_of::<(StreamId, Node)>() + node.heap_size();
        }
        for (name, g) in &self.groups {
            n += field + name.len() + std::mem::size_of::<Group>();
            n += g.pel.len() * (std::mem::size_of::<(StreamId, Nack)>() + field);
            for (c, con) in &g.consumers {
                n += field + c.len() + std::mem::size_of::<Consumer>();
                n += con.pel.len() * std::mem::size_of::<StreamId>();
            }
        }
        n
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
