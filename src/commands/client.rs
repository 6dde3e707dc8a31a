//! CLIENT and the client description line shared by CLIENT LIST/INFO and
//! the log.
//!
//! The calling client is out of the server's registry while its command
//! runs, so every listing and filter here looks at `ctx.client` as well.

use super::table::{flags::*, CommandDef, KeyPos};
use super::{err, reply_help, Ctx};
use crate::server::client::Client;
use crate::server::{now_ms, Server};
use crate::util::num::parse_i64;
use bytes::Bytes;

const CONN: u32 = NOSCRIPT | LOADING | STALE;
const ADM: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

const SUBS: &[CommandDef] = &[
    CommandDef::new("id", 2, CONN, KeyPos::None, id).doc(
        "connection",
        "5.0.0",
        "Returns the client ID for the current connection",
        "O(1)",
    ),
    CommandDef::new("getname", 2, CONN, KeyPos::None, getname).doc(
        "connection",
        "2.6.9",
        "Get the current connection name",
        "O(1)",
    ),
    CommandDef::new("setname", 3, CONN, KeyPos::None, setname).doc(
        "connection",
        "2.6.9",
        "Set the current connection name",
        "O(1)",
    ),
    CommandDef::new("info", 2, CONN, KeyPos::None, info).doc(
        "connection",
        "6.2.0",
        "Returns information about the current client connection.",
        "O(1)",
    ),
    CommandDef::new("list", -2, ADM, KeyPos::None, list).doc(
        "connection",
        "2.4.0",
        "Get the list of client connections",
        "O(N) where N is the number of client connections",
    ),
    CommandDef::new("kill", -3, ADM, KeyPos::None, kill).doc(
        "connection",
        "2.4.0",
        "Kill the connection of a client",
        "O(N) where N is the number of client connections",
    ),
    CommandDef::new("pause", -3, ADM, KeyPos::None, pause).doc(
        "connection",
        "2.9.50",
        "Stop processing commands from clients for some time",
        "O(1)",
    ),
    CommandDef::new("unpause", 2, ADM, KeyPos::None, unpause).doc(
        "connection",
        "6.2.0",
        "Resume processing of clients that were paused",
        "O(N) Where N is the number of paused clients",
    ),
    CommandDef::new("reply", 3, CONN, KeyPos::None, reply).doc(
        "connection",
        "3.2.0",
        "Instruct the server whether to reply to commands",
        "O(1)",
    ),
    CommandDef::new("no-evict", 3, ADM, KeyPos::None, no_evict).doc(
        "connection",
        "7.0.0",
        "Set client eviction mode for the current connection",
        "O(1)",
    ),
    CommandDef::new("unblock", -3, ADM, KeyPos::None, unblock).doc(
        "connection",
        "5.0.0",
        "Unblock a client blocked in a blocking command from a different connection",
        "O(log N) where N is the number of client connections",
    ),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, help).doc(
        "connection",
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
];

pub static COMMANDS: &[CommandDef] =
    &[
        CommandDef::new("client", -2, 0, KeyPos::None, super::container_help)
            .doc(
                "connection",
                "2.4.0",
                "A container for client connection commands",
                "Depends on subcommand.",
            )
            .subs(SUBS),
    ];

/// Client names may not contain spaces, newlines or special characters.
pub fn valid_client_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// Flags letters as CLIENT LIST shows them.
fn flag_letters(c: &Client) -> String {
    let mut f = String::new();
    if c.flags.monitor {
        f.push('O');
    } else if c.flags.replica {
        f.push('S');
    }
    if c.flags.master {
        f.push('M');
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
        c.qbuf_cap.saturating_sub(c.qbuf),
        c.argv_mem,
        c.out.len(),
        omem,
        c.qbuf + omem + 1024,
        c.last_cmd,
        c.user,
        c.resp
    )
}

/// Client classes of CLIENT LIST TYPE / CLIENT KILL TYPE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

impl ClientType {
    pub fn by_name(b: &[u8]) -> Option<ClientType> {
        Some(match b.to_ascii_lowercase().as_slice() {
            b"normal" => ClientType::Normal,
            b"slave" | b"replica" => ClientType::Replica,
            b"pubsub" => ClientType::PubSub,
            b"master" => ClientType::Master,
            _ => return None,
        })
    }

    /// The class of a client (Redis's getClientType): the link to this
    /// node's master, a replica (a MONITOR client counts as normal),
    /// a subscriber, or normal.
    pub fn of(c: &Client) -> ClientType {
        if c.flags.master {
            ClientType::Master
        } else if c.flags.replica && !c.flags.monitor {
            ClientType::Replica
        } else if c.sub_count() > 0 {
            ClientType::PubSub
        } else {
            ClientType::Normal
        }
    }
}

/// Redis's getClientPeerId: `ip:port`, or `path:0` for a unix socket.
pub fn peer_id(c: &Client) -> String {
    if c.flags.unix_socket {
        format!("{}:0", c.addr)
    } else {
        c.addr.clone()
    }
}

fn id(ctx: &mut Ctx, _args: &[Bytes]) {
    ctx.out.int(ctx.client.id as i64);
}

fn getname(ctx: &mut Ctx, _args: &[Bytes]) {
    match &ctx.client.name {
        Some(n) => {
            let n = n.clone();
            ctx.out.bulk(&n)
        }
        None => ctx.out.null(),
    }
}

fn setname(ctx: &mut Ctx, args: &[Bytes]) {
    let n = &args[2];
    if n.is_empty() {
        ctx.client.name = None;
    } else if !valid_client_name(n) {
        ctx.out
            .error("ERR Client names cannot contain spaces, newlines or special characters.");
        return;
    } else {
        ctx.client.name = Some(n.clone());
    }
    ctx.out.ok();
}

fn info(ctx: &mut Ctx, _args: &[Bytes]) {
    let mut o = info_line(ctx.srv, ctx.client);
    o.push('\n');
    ctx.out.verbatim(o.as_bytes(), "txt");
}

fn list(ctx: &mut Ctx, args: &[Bytes]) {
    let srv = &*ctx.srv;
    let all = crate::server::info::all_clients(srv, Some(&*ctx.client));
    let opt = args.get(2).map(|a| a.to_ascii_lowercase());
    let lines: Vec<String> = if args.len() == 4 && opt.as_deref() == Some(b"type") {
        let Some(t) = ClientType::by_name(&args[3]) else {
            let msg = format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(&args[3])
            );
            ctx.out.error(&msg);
            return;
        };
        all.iter()
            .filter(|c| ClientType::of(c) == t)
            .map(|c| info_line(srv, c))
            .collect()
    } else if args.len() > 3 && opt.as_deref() == Some(b"id") {
        let mut v = Vec::new();
        for a in &args[3..] {
            let Some(want) = parse_i64(a) else {
                ctx.out.error("ERR Invalid client ID");
                return;
            };
            if let Some(c) = all.iter().find(|c| c.id as i64 == want) {
                v.push(info_line(srv, c));
            }
        }
        v
    } else if args.len() != 2 {
        ctx.out.error(err::SYNTAX);
        return;
    } else {
        all.iter().map(|c| info_line(srv, c)).collect()
    };
    let mut o = String::new();
    for l in lines {
        o.push_str(&l);
        o.push('\n');
    }
    ctx.out.verbatim(o.as_bytes(), "txt");
}

/// CLIENT KILL filters (Redis's new form; the old form is ADDR alone).
#[derive(Default)]
struct KillFilter {
    addr: Option<String>,
    laddr: Option<String>,
    ctype: Option<ClientType>,
    id: Option<u64>,
    user: Option<String>,
    skipme: bool,
}

impl KillFilter {
    fn matches(&self, c: &Client, me: u64) -> bool {
        self.addr.as_ref().is_none_or(|a| *a == peer_id(c))
            && self.laddr.as_ref().is_none_or(|a| *a == c.laddr)
            && self.ctype.is_none_or(|t| ClientType::of(c) == t)
            && self.id.is_none_or(|i| i == c.id)
            && self.user.as_ref().is_none_or(|u| *u == c.user)
            && !(self.skipme && c.id == me)
    }
}

fn parse_kill(ctx: &mut Ctx, args: &[Bytes]) -> Option<KillFilter> {
    let mut f = KillFilter {
        skipme: true,
        ..Default::default()
    };
    if args.len() == 3 {
        f.addr = Some(String::from_utf8_lossy(&args[2]).into_owned());
        f.skipme = false; // with the old form, you can kill yourself
        return Some(f);
    }
    let mut i = 2;
    while i < args.len() {
        let more = i + 1 < args.len();
        let opt = args[i].to_ascii_lowercase();
        let val = args.get(i + 1);
        match (opt.as_slice(), val) {
            (b"id", Some(v)) if more => match parse_i64(v) {
                Some(n) if n >= 1 => f.id = Some(n as u64),
                _ => {
                    ctx.out.error("ERR client-id should be greater than 0");
                    return None;
                }
            },
            (b"type", Some(v)) if more => match ClientType::by_name(v) {
                Some(t) => f.ctype = Some(t),
                None => {
                    let msg = format!("ERR Unknown client type '{}'", String::from_utf8_lossy(v));
                    ctx.out.error(&msg);
                    return None;
                }
            },
            (b"addr", Some(v)) if more => f.addr = Some(String::from_utf8_lossy(v).into_owned()),
            (b"laddr", Some(v)) if more => f.laddr = Some(String::from_utf8_lossy(v).into_owned()),
            (b"user", Some(v)) if more => {
                // Only the default user exists until ACL users are added.
                if &v[..] != b"default" {
                    let msg = format!("ERR No such user '{}'", String::from_utf8_lossy(v));
                    ctx.out.error(&msg);
                    return None;
                }
                f.user = Some("default".into());
            }
            (b"skipme", Some(v)) if more => match v.to_ascii_lowercase().as_slice() {
                b"yes" => f.skipme = true,
                b"no" => f.skipme = false,
                _ => {
                    ctx.out.error(err::SYNTAX);
                    return None;
                }
            },
            _ => {
                ctx.out.error(err::SYNTAX);
                return None;
            }
        }
        i += 2;
    }
    Some(f)
}

fn kill(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(f) = parse_kill(ctx, args) else {
        return;
    };
    let me = ctx.client.id;
    let mut killed = 0;
    for c in ctx.srv.clients.values_mut() {
        if c.id != me && f.matches(c, me) {
            c.flags.close_asap = true;
            c.notify.notify_one();
            killed += 1;
        }
    }
    let close_me = f.matches(ctx.client, me);
    if close_me {
        killed += 1;
    }
    if args.len() == 3 {
        if killed == 0 {
            ctx.out.error("ERR No such client");
        } else {
            ctx.out.ok();
        }
    } else {
        ctx.out.int(killed);
    }
    if close_me {
        ctx.client.flags.close_after_reply = true;
    }
}

fn pause(ctx: &mut Ctx, args: &[Bytes]) {
    let mut write_only = false;
    if args.len() == 4 {
        match args[3].to_ascii_lowercase().as_slice() {
            b"write" => write_only = true,
            b"all" => {}
            _ => {
                ctx.out.error("ERR CLIENT PAUSE mode must be WRITE or ALL");
                return;
            }
        }
    } else if args.len() > 4 {
        super::subcommand_syntax_error(ctx, args);
        return;
    }
    let ms = match crate::server::blocking::parse_timeout_ms(&args[2]) {
        Ok(ms) => ms,
        Err(e) => {
            ctx.out.error(e);
            return;
        }
    };
    let until = ctx.now_ms.saturating_add(ms);
    // A stricter or longer pause already in force is kept (pauseClients).
    let p = match ctx.srv.pause {
        Some(old) if old.until > ctx.now_ms => crate::server::Pause {
            until: old.until.max(until),
            write_only: old.write_only && write_only,
        },
        _ => crate::server::Pause { until, write_only },
    };
    ctx.srv.pause = Some(p);
    ctx.out.ok();
}

fn unpause(ctx: &mut Ctx, _args: &[Bytes]) {
    crate::server::end_pause(ctx.srv);
    ctx.out.ok();
}

fn reply(ctx: &mut Ctx, args: &[Bytes]) {
    let f = &mut ctx.client.flags;
    match args[2].to_ascii_lowercase().as_slice() {
        b"on" => {
            f.reply_off = false;
            f.reply_skip = false;
            ctx.out.suppress = false;
            ctx.out.ok();
        }
        b"off" => {
            f.reply_off = true;
            ctx.out.suppress = true;
        }
        b"skip" => {
            if !f.reply_off {
                f.reply_skip_next = true;
            }
        }
        _ => ctx.out.error(err::SYNTAX),
    }
}

fn no_evict(ctx: &mut Ctx, args: &[Bytes]) {
    match args[2].to_ascii_lowercase().as_slice() {
        b"on" => ctx.client.flags.no_evict = true,
        b"off" => ctx.client.flags.no_evict = false,
        _ => {
            ctx.out.error(err::SYNTAX);
            return;
        }
    }
    ctx.out.ok();
}

fn unblock(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() > 4 {
        super::subcommand_syntax_error(ctx, args);
        return;
    }
    let mut as_error = false;
    if args.len() == 4 {
        match args[3].to_ascii_lowercase().as_slice() {
            b"timeout" => {}
            b"error" => as_error = true,
            _ => {
                ctx.out
                    .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        }
    }
    let Some(id) = parse_i64(&args[2]) else {
        ctx.out.error(err::NOT_INT);
        return;
    };
    // The blocking module answers the client and counts its error.
    let unblocked = crate::server::blocking::unblock_by_request(ctx.srv, id as u64, as_error);
    ctx.out.int(unblocked as i64);
}

fn help(ctx: &mut Ctx, _args: &[Bytes]) {
    reply_help(
        ctx,
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
}
