//! Decoding RDB streams (types 15, 19 and 21) into keel's `Stream`: the
//! nodes (master ID + listpack of delta-encoded entries, adopted as they
//! are once validated), the stream metadata, and the consumer groups with
//! their PELs.
//!
//! Version 1 (type 15) lacks first ID, max-deleted ID, entries-added and
//! the groups' entries-read: they are derived as Redis 7.0 derives them.
//! Version 3 (type 21) adds a consumer active-time, read and dropped (keel
//! keeps only the seen-time). Every node is parsed completely and checked
//! against its master entry counts and every entry's lp-count, IDs must
//! ascend across the whole stream, and PELs must be consistent: keel's
//! structures rely on all of it, so these checks do not depend on `deep`.

use super::listpack::{self, LpEntry};
use super::read::{id_from_be, Reader};
use super::{types, Limits, RdbError};
use crate::keyspace::stream::{Consumer, Group, Nack, Node, Stream, StreamId};
use crate::keyspace::stream_node::{FLAG_DELETED, FLAG_SAMEFIELDS};
use bytes::Bytes;
use std::collections::BTreeMap;

const BAD_LP: &str = "Stream listpack integrity check failed.";

/// Reads a whole stream value.
pub(super) fn read_stream(r: &mut Reader, t: u8, _lim: &Limits) -> Result<Stream, RdbError> {
    let mut s = Stream::default();
    let nodes = r.count()?;
    for _ in 0..nodes {
        let key = r.string()?;
        if key.len() != 16 {
            return Err(r.err("Stream node key entry is not the size of a stream ID"));
        }
        let (ms, seq) = id_from_be(&key);
        let master = StreamId::new(ms, seq);
        let lp = r.string()?.into_owned();
        let node = parse_node(lp, master).map_err(|m| r.err(m))?;
        if s.nodes.insert(master, node).is_some() {
            return Err(r.err("Listpack re-added with existing key"));
        }
    }
    s.length = r.length()?;
    s.last_id = StreamId::new(r.length()?, r.length()?);
    if t >= types::STREAM_LISTPACKS_2 {
        s.first_id = StreamId::new(r.length()?, r.length()?);
        s.max_deleted_id = StreamId::new(r.length()?, r.length()?);
        s.entries_added = r.length()?;
    } else {
        s.max_deleted_id = StreamId::MIN;
        s.entries_added = s.length;
        // streamGetEdgeID(first, skip tombstones): the maximum ID when the
        // stream holds no live entry.
        s.first_id = s.edge_id(true).unwrap_or(StreamId::MAX);
    }
    check_nodes(&s).map_err(|m| r.err(m))?;

    let groups = r.count()?;
    for _ in 0..groups {
        let name = Bytes::from(r.string()?.into_owned());
        let last = StreamId::new(r.length()?, r.length()?);
        let entries_read = if t >= types::STREAM_LISTPACKS_2 {
            // u64::MAX is how -1 ("unknown") is stored.
            r.length()? as i64
        } else {
            s.estimate_distance(last)
        };
        if s.groups.contains_key(&name) {
            return Err(r.err(format!(
                "Duplicated consumer group name {}",
                String::from_utf8_lossy(&name)
            )));
        }
        let g = read_group(r, t, last, entries_read)?;
        s.groups.insert(name, g);
    }
    Ok(s)
}

/// One consumer group: global PEL, then consumers with their own PELs.
fn read_group(r: &mut Reader, t: u8, last: StreamId, entries_read: i64) -> Result<Group, RdbError> {
    let mut g = Group::new(last, entries_read);
    let mut pending: BTreeMap<StreamId, (i64, u64, Option<Bytes>)> = BTreeMap::new();
    let n = r.count()?;
    for _ in 0..n {
        let (ms, seq) = r.raw_id()?;
        let time = r.time_ms()?;
        let count = r.length()?;
        if pending
            .insert(StreamId::new(ms, seq), (time, count, None))
            .is_some()
        {
            return Err(r.err("Duplicated global PEL entry loading stream consumer group"));
        }
    }
    let consumers = r.count()?;
    for _ in 0..consumers {
        let cname = Bytes::from(r.string()?.into_owned());
        if g.consumers.contains_key(&cname) {
            return Err(r.err("Duplicate stream consumer detected."));
        }
        let mut c = Consumer {
            seen_time: r.time_ms()?,
            ..Consumer::default()
        };
        if t >= types::STREAM_LISTPACKS_3 {
            r.time_ms()?; // active-time (Redis 7.2): keel keeps no such field
        }
        let pel = r.count()?;
        for _ in 0..pel {
            let (ms, seq) = r.raw_id()?;
            let id = StreamId::new(ms, seq);
            let Some(p) = pending.get_mut(&id) else {
                return Err(r.err("Consumer entry not found in group global PEL"));
            };
            if p.2.is_some() || !c.pel.insert(id) {
                return Err(r.err("Duplicated consumer PEL entry  loading a stream consumer group"));
            }
            p.2 = Some(cname.clone());
        }
        g.consumers.insert(cname, c);
    }
    for (id, (time, count, owner)) in pending {
        let Some(consumer) = owner else {
            return Err(r.err("Stream CG PEL entry without consumer"));
        };
        g.pel.insert(
            id,
            Nack {
                delivery_time: time,
                delivery_count: count,
                consumer,
            },
        );
    }
    Ok(g)
}

/// IDs ascend across nodes, every node has live entries, the live count
/// matches the stream length, and no entry is above the last ID.
fn check_nodes(s: &Stream) -> Result<(), &'static str> {
    let mut prev: Option<StreamId> = None;
    let mut live = 0u64;
    for (key, node) in &s.nodes {
        let first = node.first_id(*key);
        if first < *key || prev.is_some_and(|p| first <= p) {
            return Err("Stream entries out of order");
        }
        prev = Some(node.last_id(*key));
        live += node.live() as u64;
    }
    if live != s.length {
        return Err("Stream length inconsistent with rax entries");
    }
    if prev.is_some_and(|p| p > s.last_id) {
        return Err("Stream last ID smaller than its entries");
    }
    Ok(())
}

/// Checks a node listpack completely (listpack structure, master entry,
/// every record's fields and lp-count, ascending IDs, the master entry's
/// counts) and adopts it as the node.
fn parse_node(lp: Vec<u8>, master: StreamId) -> Result<Node, &'static str> {
    let (live, deleted, nf) = check_node(&lp, master)?;
    Ok(Node::adopt(lp, live, deleted, nf))
}

/// Returns the node's live count, deleted count and master field count.
fn check_node(lp: &[u8], master: StreamId) -> Result<(usize, usize, usize), &'static str> {
    let e = listpack::entries(lp).map_err(|_| BAD_LP)?;
    if e.is_empty() {
        return Err("Empty listpack inside stream");
    }
    let mut it = e.into_iter();
    let int =
        |it: &mut std::vec::IntoIter<LpEntry>| it.next().and_then(|x| x.as_int()).ok_or(BAD_LP);
    let count = int(&mut it)?;
    let deleted = int(&mut it)?;
    let nf = int(&mut it)?;
    if nf < 0 || nf as usize > it.len() {
        return Err(BAD_LP);
    }
    for _ in 0..nf {
        it.next().ok_or(BAD_LP)?;
    }
    if int(&mut it)? != 0 {
        return Err(BAD_LP);
    }
    let (mut live, mut dead) = (0usize, 0usize);
    let mut last: Option<StreamId> = None;
    while it.len() > 0 {
        let flags = int(&mut it)?;
        let ms = master.ms.wrapping_add(int(&mut it)? as u64);
        let seq = master.seq.wrapping_add(int(&mut it)? as u64);
        let id = StreamId::new(ms, seq);
        let want = if flags & FLAG_SAMEFIELDS != 0 {
            if (nf as usize) > it.len() {
                return Err(BAD_LP);
            }
            for _ in 0..nf {
                it.next();
            }
            nf + 3
        } else {
            let n = int(&mut it)?;
            if n < 0 || (n as usize).saturating_mul(2) > it.len() {
                return Err(BAD_LP);
            }
            for _ in 0..n * 2 {
                it.next();
            }
            n * 2 + 4
        };
        if int(&mut it)? != want {
            return Err(BAD_LP);
        }
        if last.is_some_and(|l| l >= id) || id < master {
            return Err(BAD_LP);
        }
        last = Some(id);
        if flags & FLAG_DELETED != 0 {
            dead += 1;
        } else {
            live += 1;
        }
    }
    // A node may hold no live entry: exact trimming flags every entry of
    // the first node when its last record is an already deleted one at or
    // above the MINID, and Redis keeps such a node.
    if count != live as i64 || deleted != dead as i64 {
        return Err(BAD_LP);
    }
    Ok((live, dead, nf as usize))
}

#[cfg(test)]
#[path = "decode_stream_tests.rs"]
mod tests;
