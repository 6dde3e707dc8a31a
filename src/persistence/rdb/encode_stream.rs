//! Streams as `STREAM_LISTPACKS_2` (Redis 7.0's `rdbSaveObject` for
//! OBJ_STREAM): the nodes, then the stream metadata, then the consumer
//! groups with their PELs and consumers.
//!
//! Each node is written as it is kept in memory: its key is the master ID
//! (16 bytes, ms and seq big-endian) and its value the node's listpack,
//! already in the layout `t_stream.c` builds (see
//! [`stream_node`](crate::keyspace::stream_node)), so saving copies bytes
//! and converts nothing.

use super::write::{write_len, write_ms_time, write_string};
use crate::keyspace::stream::{Stream, StreamId};
use bytes::Bytes;

/// The 16-byte rax key of an ID: ms then seq, both big-endian.
pub fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

/// Appends the body of a stream (type 19).
pub fn encode_stream(out: &mut Vec<u8>, s: &Stream, compress: bool) {
    write_len(out, s.nodes.len() as u64);
    for (master, node) in &s.nodes {
        write_string(out, &id_bytes(*master), compress);
        write_string(out, node.listpack(), compress);
    }
    write_len(out, s.length);
    write_len(out, s.last_id.ms);
    write_len(out, s.last_id.seq);
    write_len(out, s.first_id.ms);
    write_len(out, s.first_id.seq);
    write_len(out, s.max_deleted_id.ms);
    write_len(out, s.max_deleted_id.seq);
    write_len(out, s.entries_added);
    write_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        write_string(out, name, compress);
        write_len(out, g.last_id.ms);
        write_len(out, g.last_id.seq);
        // -1 ("unknown") is written as u64::MAX, as Redis does.
        write_len(out, g.entries_read as u64);
        write_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            out.extend_from_slice(&id_bytes(*id));
            write_ms_time(out, nack.delivery_time);
            write_len(out, nack.delivery_count);
        }
        write_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            write_consumer(out, cname, c, compress);
        }
    }
}

fn write_consumer(
    out: &mut Vec<u8>,
    name: &Bytes,
    c: &crate::keyspace::stream::Consumer,
    compress: bool,
) {
    write_string(out, name, compress);
    write_ms_time(out, c.seen_time);
    write_len(out, c.pel.len() as u64);
    for id in &c.pel {
        out.extend_from_slice(&id_bytes(*id));
    }
}
