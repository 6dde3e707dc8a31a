//! Streams as `STREAM_LISTPACKS_2` (Redis 7.0's `rdbSaveObject` for
//! OBJ_STREAM): the nodes, then the stream metadata, then the consumer
//! groups with their PELs and consumers.
//!
//! Each node is written as Redis keeps it: its key is the master ID (16
//! bytes, ms and seq big-endian) and its value a listpack laid out as
//! `t_stream.c` builds it:
//!
//! ```text
//! master entry: count | deleted | N | field_1 .. field_N | 0
//! per entry:    flags | ms-delta | seq-delta | [F | f,v * F] or [v * N] | lp-count
//! ```
//!
//! `flags` has bit 0 for a deleted entry and bit 1 when the entry's fields
//! are the master fields (then only the values are stored, and lp-count is
//! N + 3; otherwise it is 2F + 4). Deltas are wrapping u64 differences
//! stored as i64.
//!
//! keel keeps a deleted entry as a tombstone without its fields, so a
//! tombstone is written as a deleted same-fields record with N empty
//! values: a record Redis walks over (every reader skips deleted entries
//! and only uses the lp-count to step back), and that passes its deep
//! listpack validation.

use super::listpack::LpWriter;
use super::write::{write_len, write_ms_time, write_string};
use crate::keyspace::stream::{Node, Stream, StreamId};
use bytes::Bytes;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// The 16-byte rax key of an ID: ms then seq, both big-endian.
pub fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

/// The listpack of one node, byte-identical to Redis's for nodes without
/// tombstones.
pub fn node_listpack(master: StreamId, node: &Node) -> Vec<u8> {
    let mut lp = LpWriter::new();
    let nmaster = node.master_fields.len();
    lp.push_int(node.live as i64);
    lp.push_int((node.entries.len() - node.live) as i64);
    lp.push_int(nmaster as i64);
    for f in node.master_fields.iter() {
        lp.push_str(f);
    }
    lp.push_int(0);
    for (id, fields) in &node.entries {
        let ms_delta = id.ms.wrapping_sub(master.ms) as i64;
        let seq_delta = id.seq.wrapping_sub(master.seq) as i64;
        match fields {
            None => {
                lp.push_int(FLAG_DELETED | FLAG_SAMEFIELDS);
                lp.push_int(ms_delta);
                lp.push_int(seq_delta);
                for _ in 0..nmaster {
                    lp.push_str(b"");
                }
                lp.push_int(nmaster as i64 + 3);
            }
            Some(fv) => {
                let nf = fv.len() / 2;
                let same = nf == nmaster
                    && node
                        .master_fields
                        .iter()
                        .zip(fv.iter().step_by(2))
                        .all(|(a, b)| a == b);
                lp.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
                lp.push_int(ms_delta);
                lp.push_int(seq_delta);
                if same {
                    for v in fv.iter().skip(1).step_by(2) {
                        lp.push_str(v);
                    }
                    lp.push_int(nf as i64 + 3);
                } else {
                    lp.push_int(nf as i64);
                    for x in fv.iter() {
                        lp.push_str(x);
                    }
                    lp.push_int(nf as i64 * 2 + 4);
                }
            }
        }
    }
    lp.finish()
}

/// Appends the body of a stream (type 19).
pub fn encode_stream(out: &mut Vec<u8>, s: &Stream, compress: bool) {
    write_len(out, s.nodes.len() as u64);
    for (master, node) in &s.nodes {
        write_string(out, &id_bytes(*master), compress);
        write_string(out, &node_listpack(*master, node), compress);
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
