//! XINFO STREAM [FULL [COUNT n]], GROUPS, CONSUMERS and HELP
//! (t_stream.c's xinfoCommand and xinfoReplyWithStreamInfo).

use super::*;
use crate::keyspace::stream::INVALID_ENTRIES_READ;

const HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

pub fn help(ctx: &mut Ctx, _args: &[Bytes]) {
    super::super::reply_help(ctx, "XINFO", HELP);
}

/// Number of nodes of the radix tree Redis would build for these 16-byte
/// big-endian node keys: a leaf per key, a branching node where keys
/// diverge, and a compressed node for each run without divergence.
pub fn rax_nodes(keys: &[[u8; 16]]) -> usize {
    fn count(keys: &[[u8; 16]], d: usize) -> usize {
        if keys.is_empty() {
            return 0;
        }
        if d == 16 {
            return 1;
        }
        let first = keys[0][d];
        if keys.iter().all(|k| k[d] == first) {
            // Longest run shared by every key from depth d.
            let mut l = d;
            while l < 16 && keys.iter().all(|k| k[l] == keys[0][l]) {
                l += 1;
            }
            return 1 + count(keys, l);
        }
        // Keys are sorted: split them by their byte at depth d.
        let mut n = 1;
        let mut i = 0;
        while i < keys.len() {
            let c = keys[i][d];
            let j = i + keys[i..].iter().take_while(|k| k[d] == c).count();
            n += count(&keys[i..j], d + 1);
            i = j;
        }
        n
    }
    if keys.is_empty() {
        1
    } else {
        count(keys, 0)
    }
}

fn encoded_keys(s: &Stream) -> Vec<[u8; 16]> {
    s.nodes
        .keys()
        .map(|id| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&id.ms.to_be_bytes());
            k[8..].copy_from_slice(&id.seq.to_be_bytes());
            k
        })
        .collect()
}

fn lookup(ctx: &mut Ctx, key: &[u8]) -> bool {
    match find(ctx, key, false) {
        Found::WrongType => false,
        Found::Missing => {
            ctx.out.error(err::NO_KEY);
            false
        }
        Found::Stream => true,
    }
}

fn reply_entries_read(out: &mut Reply, n: i64) {
    if n != INVALID_ENTRIES_READ {
        out.int(n);
    } else {
        out.null();
    }
}

fn reply_lag(out: &mut Reply, lag: Option<i64>) {
    match lag {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

pub fn stream(ctx: &mut Ctx, args: &[Bytes]) {
    if !lookup(ctx, &args[2]) {
        return;
    }
    let opts = &args[3..];
    let full = !opts.is_empty();
    let mut count: i64 = 10;
    if full {
        if (opts.len() != 1 && opts.len() != 3) || !opts[0].eq_ignore_ascii_case(b"full") {
            return super::super::subcommand_syntax_error(ctx, args);
        }
        if opts.len() == 3 {
            if !opts[1].eq_ignore_ascii_case(b"count") {
                return super::super::subcommand_syntax_error(ctx, args);
            }
            let Some(c) = i64_or_reply(ctx, &opts[2]) else {
                return;
            };
            count = if c < 0 { 10 } else { c };
        }
    }
    let (s, out) = stream_and_out(ctx, &args[2]);
    let keys = encoded_keys(s);
    out.map_len(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(keys.len() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(rax_nodes(&keys) as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            match s.range(StreamId::MIN, StreamId::MAX, rev).next() {
                Some(e) => reply_entry(out, e),
                None => out.null(),
            }
        }
        return;
    }
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    out.bulk(b"entries");
    let entries: Vec<_> = s
        .range(StreamId::MIN, StreamId::MAX, false)
        .take(limit)
        .collect();
    out.array_len(entries.len());
    for e in entries {
        reply_entry(out, e);
    }
    out.bulk(b"groups");
    out.array_len(s.groups.len());
    for (name, g) in &s.groups {
        out.map_len(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g.entries_read);
        out.bulk(b"lag");
        reply_lag(out, s.group_lag(g));
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let n = g.pel.len().min(limit);
        out.array_len(n);
        for (id, nack) in g.pel.iter().take(n) {
            out.array_len(4);
            reply_id(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array_len(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map_len(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let n = c.pel.len().min(limit);
            out.array_len(n);
            for id in c.pel.iter().take(n) {
                let nack = &g.pel[id];
                out.array_len(3);
                reply_id(out, *id);
                out.int(nack.delivery_time);
                out.int(nack.delivery_count as i64);
            }
        }
    }
}

pub fn groups(ctx: &mut Ctx, args: &[Bytes]) {
    if !lookup(ctx, &args[2]) {
        return;
    }
    let (s, out) = stream_and_out(ctx, &args[2]);
    out.array_len(s.groups.len());
    for (name, g) in &s.groups {
        out.map_len(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g.entries_read);
        out.bulk(b"lag");
        reply_lag(out, s.group_lag(g));
    }
}

pub fn consumers(ctx: &mut Ctx, args: &[Bytes]) {
    if !lookup(ctx, &args[2]) {
        return;
    }
    let now = ctx.now_ms;
    let (s, out) = stream_and_out(ctx, &args[2]);
    let Some(g) = s.groups.get(&args[3]) else {
        let msg = format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(&args[3]),
            String::from_utf8_lossy(&args[2])
        );
        return ctx.out.error(&msg);
    };
    out.array_len(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map_len(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int((now - c.seen_time).max(0));
    }
}

#[cfg(test)]
mod tests {
    use super::rax_nodes;

    #[test]
    fn rax_shapes() {
        assert_eq!(rax_nodes(&[]), 1);
        let k = |ms: u64| {
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&ms.to_be_bytes());
            a
        };
        assert_eq!(rax_nodes(&[k(1)]), 2);
        // Shared 7 bytes, a branch, then a compressed run and a leaf each.
        assert_eq!(rax_nodes(&[k(1), k(2)]), 6);
    }
}
