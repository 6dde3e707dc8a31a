//! CLIENT and the client description line shared by CLIENT LIST/INFO and
//! the log.

use crate::server::client::Client;
use crate::server::{now_ms, Server};

/// Client names may not contain spaces, newlines or special characters.
pub fn valid_client_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// Flags letters as CLIENT LIST shows them.
fn flag_letters(c: &Client) -> String {
    let mut f = String::new();
    if c.flags.monitor {
        f.push('O');
    }
    if c.sub_count() > 0 {
        f.push('P');
    }
    if c.flags.multi {
        f.push('x');
    }
    if c.blocked.is_some() {
        f.push('b');
    }
    if c.flags.dirty_cas {
        f.push('d');
    }
    if c.flags.close_after_reply {
        f.push('c');
    }
    if c.flags.close_asap {
        f.push('A');
    }
    if c.flags.unix_socket {
        f.push('U');
    }
    if c.flags.no_evict {
        f.push('e');
    }
    if f.is_empty() {
        f.push('N');
    }
    f
}

/// One CLIENT LIST line (without the trailing newline), with Redis 7.0's
/// fields in Redis's order.
pub fn info_line(_s: &Server, c: &Client) -> String {
    let now = now_ms();
    let (addr, laddr) = if c.flags.unix_socket {
        (format!("{}:0", c.addr), c.laddr.clone())
    } else {
        (c.addr.clone(), c.laddr.clone())
    };
    let name = c
        .name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let omem = c.out.capacity();
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs=16384 rbp=16384 obl={} oll=0 omem={} tot-mem={} events=r cmd={} user={} redir=-1 resp={}",
        c.id,
        addr,
        laddr,
        c.fd,
        name,
        (now - c.ctime) / 1000,
        (now - c.last_interaction) / 1000,
        flag_letters(c),
        c.db,
        c.channels.len(),
        c.patterns.len(),
        c.shard_channels.len(),
        if c.flags.multi { c.multi_queue.len() as i64 } else { -1 },
        c.qbuf,
        c.qbuf_peak.saturating_sub(c.qbuf),
        c.argv_mem,
        c.out.len(),
        omem,
        c.qbuf + omem + 1024,
        c.last_cmd,
        c.user,
        c.resp
    )
}
