//! The stream type (Redis 7.0's t_stream.c / stream.h).
//!
//! Entries live in nodes keyed by their master ID, like Redis's rax of
//! listpacks: each node holds entries in ID order, deleted ones kept as
//! tombstones until the whole node empties. Keeping Redis's node
//! boundaries (stream-node-max-entries / stream-node-max-bytes, with the
//! listpack byte size estimated entry by entry) makes `~` trimming remove
//! exactly what Redis removes. The stream also carries everything the RDB
//! stream encoding needs: length, last / first / max-deleted IDs,
//! entries-added and the consumer groups with their PELs.

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
        format!("{}-{}", self.ms, self.seq)
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

/// One node: entries in ID order (None = deleted tombstone).
#[derive(Clone, Debug)]
pub struct Node {
    pub master_fields: Box<[Bytes]>,
    pub entries: Vec<(StreamId, Option<Box<[Bytes]>>)>,
    pub live: usize,
    /// Estimated listpack size in bytes (Redis's lpBytes).
    pub bytes: usize,
}

impl Node {
    fn deleted(&self) -> usize {
        self.entries.len() - self.live
    }

    fn header_bytes(&self) -> usize {
        lp_int_size(self.live as i64)
            + lp_int_size(self.deleted() as i64)
            + lp_int_size(self.master_fields.len() as i64)
            + self
                .master_fields
                .iter()
                .map(|f| lp_str_size(f))
                .sum::<usize>()
            + lp_int_size(0)
            + 7
    }
}

/// Size of a listpack integer entry (encoding + data + backlen).
fn lp_int_size(v: i64) -> usize {
    if (0..=127).contains(&v) {
        2
    } else if (-4096..4096).contains(&v) {
        3
    } else if (-32768..32768).contains(&v) {
        4
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        5
    } else if (-(1i64 << 31)..(1i64 << 31)).contains(&v) {
        6
    } else {
        10
    }
}

/// Size of a listpack string entry (stored as an integer when it is one).
fn lp_str_size(s: &[u8]) -> usize {
    if s.len() <= 20 {
        if let Some(n) = crate::util::num::parse_i64(s) {
            return lp_int_size(n);
        }
    }
    let l = s.len();
    let hdr = if l < 64 {
        1
    } else if l < 4096 {
        2
    } else {
        5
    };
    let tot = hdr + l;
    let back = if tot < 128 {
        1
    } else if tot < 16384 {
        2
    } else if tot < 2097152 {
        3
    } else if tot < 268435456 {
        4
    } else {
        5
    };
    tot + back
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

    /// streamAppendItem. `want`: an explicit ID, with `seq_given` false for
    /// `<ms>-*`; None for `*` (then `now_ms` drives the generated ID).
    pub fn append(
        &mut self,
        fields: &[Bytes],
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
        let totelelen: usize = fields.iter().map(|f| f.len()).sum();
        if totelelen > LISTPACK_MAX_SIZE {
            return Err(AppendError::TooLarge);
        }
        let max_bytes = if max_bytes == 0 || max_bytes as usize > LISTPACK_MAX_SIZE {
            LISTPACK_MAX_SIZE
        } else {
            max_bytes as usize
        };
        let mut new_node = true;
        if let Some((_, tail)) = self.nodes.iter().next_back() {
            new_node = tail.bytes + totelelen >= max_bytes
                || (max_entries != 0 && tail.entries.len() as i64 >= max_entries);
        }
        let nf = fields.len() / 2;
        if new_node {
            let master_fields: Box<[Bytes]> = fields
                .iter()
                .step_by(2)
                .map(|f| Bytes::copy_from_slice(f))
                .collect();
            let mut node = Node {
                master_fields,
                entries: Vec::new(),
                live: 0,
                bytes: 0,
            };
            node.bytes = node.header_bytes();
            self.nodes.insert(id, node);
        }
        let (master, node) = self.nodes.iter_mut().next_back().expect("a tail node");
        let same = node.master_fields.len() == nf
            && node
                .master_fields
                .iter()
                .zip(fields.iter().step_by(2))
                .all(|(a, b)| a == b);
        let old_header = node.header_bytes();
        let mut size = lp_int_size(if same { 2 } else { 0 })
            + lp_int_size(id.ms.wrapping_sub(master.ms) as i64)
            + lp_int_size(id.seq.wrapping_sub(master.seq) as i64);
        if same {
            size += fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| lp_str_size(v))
                .sum::<usize>();
            size += lp_int_size(nf as i64 + 3);
        } else {
            size += lp_int_size(nf as i64);
            size += fields.iter().map(|v| lp_str_size(v)).sum::<usize>();
            size += lp_int_size(nf as i64 * 2 + 4);
        }
        node.entries.push((
            id,
            Some(fields.iter().map(|f| Bytes::copy_from_slice(f)).collect()),
        ));
        node.live += 1;
        node.bytes = node.bytes - old_header + node.header_bytes() + size;
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// The entry with this ID, if present.
    pub fn get(&self, id: StreamId) -> Option<&[Bytes]> {
        let (_, node) = self.nodes.range(..=id).next_back()?;
        let i = node.entries.binary_search_by(|e| e.0.cmp(&id)).ok()?;
        node.entries[i].1.as_deref()
    }

    /// Live entries with start <= id <= end, in order (or reversed).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (StreamId, &[Bytes])> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        // The node that may hold `start` begins at or before it.
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map(|(k, _)| *k)
            .unwrap_or(start);
        let it = self.nodes.range(from..=end).flat_map(move |(_, n)| {
            n.entries
                .iter()
                .filter(move |(id, f)| f.is_some() && *id >= start && *id <= end)
                .map(|(id, f)| (*id, f.as_deref().unwrap()))
        });
        if rev {
            let v: Vec<_> = it.collect();
            Box::new(v.into_iter().rev())
        } else {
            Box::new(it)
        }
    }

    /// The first or last live entry ID (streamGetEdgeID skipping tombstones).
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        if first {
            self.range(StreamId::MIN, StreamId::MAX, false)
                .next()
                .map(|e| e.0)
        } else {
            self.nodes
                .values()
                .rev()
                .find_map(|n| n.entries.iter().rev().find(|e| e.1.is_some()).map(|e| e.0))
        }
    }

    /// The first ID stored, tombstones included (streamGetEdgeID(s,1,0)).
    pub fn first_stored_id(&self) -> StreamId {
        self.nodes
            .values()
            .next()
            .and_then(|n| n.entries.first())
            .map(|e| e.0)
            .unwrap_or(StreamId::MIN)
    }

    /// Deletes one entry (streamDeleteItem); a node left empty goes.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Ok(i) = node.entries.binary_search_by(|e| e.0.cmp(&id)) else {
            return false;
        };
        if node.entries[i].1.is_none() {
            return false;
        }
        if node.live == 1 {
            self.nodes.remove(&key);
        } else {
            let old = node.header_bytes();
            node.entries[i].1 = None;
            node.live -= 1;
            node.bytes = node.bytes - old + node.header_bytes();
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
            let Some((&key, node)) = self.nodes.iter_mut().next() else {
                break;
            };
            let entries = node.live as i64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(m) => self.length - entries as u64 >= m,
                Trim::MinId(min) => node.entries.last().map(|e| e.0 < min).unwrap_or(true),
            };
            if remove_node {
                self.nodes.remove(&key);
                self.length -= entries as u64;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let old = node.header_bytes();
            for e in node.entries.iter_mut() {
                let stop = match how {
                    Trim::MaxLen(m) => self.length <= m,
                    Trim::MinId(min) => e.0 >= min,
                };
                if stop {
                    break;
                }
                if e.1.is_some() {
                    e.1 = None;
                    node.live -= 1;
                    self.length -= 1;
                    deleted += 1;
                }
            }
            node.bytes = node.bytes - old + node.header_bytes();
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

    /// Bytes owned on the heap (MEMORY USAGE): the nodes, their entries
    /// and field buffers (owned copies, see `append`), and the consumer
    /// groups with their PELs.
    pub fn heap_size(&self) -> usize {
        let field = std::mem::size_of::<Bytes>();
        let mut n = std::mem::size_of::<Stream>();
        for node in self.nodes.values() {
            // A B-tree slot per node, its master fields and entry vector.
            n += std::mem::size_of::<(StreamId, Node)>();
            n += node
                .master_fields
                .iter()
                .map(|f| field + f.len())
                .sum::<usize>();
            n += node.entries.capacity() * std::mem::size_of::<(StreamId, Option<Box<[Bytes]>>)>();
            for f in node.entries.iter().filter_map(|e| e.1.as_ref()) {
                n += f.iter().map(|x| field + x.len()).sum::<usize>();
            }
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
