//! MIGRATE (Redis 7.0's cluster.c): moves keys to another instance by
//! sending it RESTORE commands carrying DUMP payloads, then deletes the
//! local keys the target acknowledged (unless COPY) and propagates them as
//! one DEL.
//!
//! Like Redis, MIGRATE does blocking socket I/O on the calling thread, so
//! the whole server waits for it, bounded by the command's timeout on
//! every connect, write and read. Connections are cached per `host:port`
//! (at most 64; a random one is closed to make room) and closed by the
//! cron after 10 seconds without use; the cache remembers the database it
//! last selected so SELECT is only sent when it changes. A failure on a
//! cached connection before any reply was read is retried once on a fresh
//! connection, unless it was a timeout.

use super::ctx::notify;
use super::table::{flags::*, CommandDef, KeyPos};
use super::{err, Ctx};
use crate::keyspace::NO_EXPIRE;
use crate::persistence::rdb::dump::dump_payload_with;
use crate::util::num::parse_i64;
use bytes::Bytes;
use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub static COMMANDS: &[CommandDef] = &[CommandDef::new(
    "migrate",
    -6,
    WRITE,
    KeyPos::Custom(migrate_keys),
    migrate,
)
.doc(
    "generic",
    "2.6.0",
    "Atomically transfer a key from a Redis instance to another one.",
    "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
)];

/// Most connections kept open (MIGRATE_SOCKET_CACHE_ITEMS).
const CACHE_ITEMS: usize = 64;
/// Seconds an unused cached connection stays open (MIGRATE_SOCKET_CACHE_TTL).
const CACHE_TTL_SECS: i64 = 10;
/// Request bytes written per write call.
const WRITE_CHUNK: usize = 64 * 1024;
/// Longest reply line read (Redis reads into 1024-byte buffers).
const LINE_MAX: usize = 1023;

/// A cached connection to a target.
pub struct CachedSocket {
    reader: BufReader<TcpStream>,
    /// Database last selected on this connection (-1: unknown).
    last_dbid: i64,
    /// Unix seconds of the last use.
    last_use: i64,
}

/// Open MIGRATE connections by "host:port".
#[derive(Default)]
pub struct SocketCache {
    sockets: HashMap<String, CachedSocket>,
}

impl SocketCache {
    /// Number of open connections (INFO migrate_cached_sockets).
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Closes connections unused for more than 10 seconds
    /// (migrateCloseTimedoutSockets, run by the cron).
    pub fn close_timed_out(&mut self, now_secs: i64) {
        self.sockets
            .retain(|_, s| now_secs - s.last_use <= CACHE_TTL_SECS);
    }
}

/// migrateGetKeys: the single key, or the keys after KEYS (none when the
/// key argument is not empty, which MIGRATE rejects).
pub fn migrate_keys(args: &[Bytes]) -> Vec<usize> {
    let mut i = 6;
    while i < args.len() {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"keys") {
            if !args[3].is_empty() {
                return Vec::new();
            }
            return (i + 1..args.len()).collect();
        } else if a.eq_ignore_ascii_case(b"auth") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"auth2") {
            i += 2;
        }
        i += 1;
    }
    if args.len() > 3 {
        vec![3]
    } else {
        Vec::new()
    }
}

struct MigrateOpts {
    copy: bool,
    replace: bool,
    username: Option<Bytes>,
    password: Option<Bytes>,
    first_key: usize,
    num_keys: usize,
}

fn parse_opts(ctx: &mut Ctx, args: &[Bytes]) -> Option<MigrateOpts> {
    let mut o = MigrateOpts {
        copy: false,
        replace: false,
        username: None,
        password: None,
        first_key: 3,
        num_keys: 1,
    };
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let a = args[j].to_ascii_lowercase();
        if a == b"copy" {
            o.copy = true;
        } else if a == b"replace" {
            o.replace = true;
        } else if a == b"auth" {
            if more == 0 {
                ctx.out.error(err::SYNTAX);
                return None;
            }
            j += 1;
            o.password = Some(args[j].clone());
        } else if a == b"auth2" {
            if more < 2 {
                ctx.out.error(err::SYNTAX);
                return None;
            }
            o.username = Some(args[j + 1].clone());
            o.password = Some(args[j + 2].clone());
            j += 2;
        } else if a == b"keys" {
            if !args[3].is_empty() {
                ctx.out.error(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                );
                return None;
            }
            o.first_key = j + 1;
            o.num_keys = args.len() - j - 1;
            break;
        } else {
            ctx.out.error(err::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// Appends one RESP command to `buf`.
fn push_command(buf: &mut Vec<u8>, argv: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// connBlockingConnect: the first address of `host:port` that accepts
/// within the timeout.
fn connect(host: &str, port: &str, timeout: Duration) -> io::Result<TcpStream> {
    let port: u16 = port
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad port"))?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// syncReadLine: one reply line without its CRLF; an error for a failed
/// read or an empty line (both end the exchange in Redis).
fn read_line(r: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let mut b = [0u8; 1];
        if r.read(&mut b)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
        }
        if b[0] == b'\n' {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            break;
        }
        line.push(b[0]);
        if line.len() >= LINE_MAX {
            break;
        }
    }
    if line.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "empty line"));
    }
    Ok(line)
}

/// Takes the cached connection to `name` or opens one (making room in
/// the cache first, as Redis does).
fn get_socket(
    ctx: &mut Ctx,
    name: &str,
    host: &str,
    port: &str,
    timeout: Duration,
) -> Option<CachedSocket> {
    let now = ctx.now_ms / 1000;
    let cache = &mut ctx.srv.migrate_sockets.sockets;
    if let Some(mut cs) = cache.remove(name) {
        cs.last_use = now;
        return Some(cs);
    }
    if cache.len() >= CACHE_ITEMS {
        let victim = cache
            .keys()
            .nth(rand::random::<usize>() % cache.len())
            .cloned();
        if let Some(v) = victim {
            cache.remove(&v);
        }
    }
    match connect(host, port, timeout) {
        Ok(s) => {
            let _ = s.set_read_timeout(Some(timeout));
            let _ = s.set_write_timeout(Some(timeout));
            Some(CachedSocket {
                reader: BufReader::new(s),
                last_dbid: -1,
                last_use: now,
            })
        }
        Err(_) => {
            ctx.out
                .error("IOERR error or timeout connecting to the client");
            None
        }
    }
}

fn migrate(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(o) = parse_opts(ctx, args) else {
        return;
    };
    let (Some(timeout), Some(dbid)) = (parse_i64(&args[5]), parse_i64(&args[4])) else {
        ctx.out.error(err::NOT_INT);
        return;
    };
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let mut keys: Vec<Bytes> = Vec::new();
    for k in &args[o.first_key..o.first_key + o.num_keys] {
        if ctx.lookup_read(k).is_some() {
            keys.push(k.clone());
        }
    }
    if keys.is_empty() {
        ctx.out.simple("NOKEY");
        return;
    }
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    let port = String::from_utf8_lossy(&args[2]).into_owned();
    let name = format!("{host}:{port}");
    let mut may_retry = true;
    loop {
        let Some(mut cs) = get_socket(ctx, &name, &host, &port, timeout) else {
            return;
        };
        match exchange(ctx, &mut cs, &o, &keys, dbid, &mut may_retry) {
            Exchange::Done { keep } => {
                if keep {
                    ctx.srv.migrate_sockets.sockets.insert(name, cs);
                }
                return;
            }
            Exchange::SocketError {
                write_error,
                timed_out,
            } => {
                // The connection is dropped (closed) here.
                if !timed_out && may_retry {
                    may_retry = false;
                    continue;
                }
                ctx.out.error(&format!(
                    "IOERR error or timeout {} to target instance",
                    if write_error { "writing" } else { "reading" }
                ));
                return;
            }
        }
    }
}

enum Exchange {
    /// Replied; `keep` the connection in the cache.
    Done { keep: bool },
    /// The connection failed; the caller retries or replies IOERR.
    SocketError { write_error: bool, timed_out: bool },
}

/// One attempt: send AUTH / SELECT / RESTOREs, read the replies, delete
/// what the target acknowledged.
fn exchange(
    ctx: &mut Ctx,
    cs: &mut CachedSocket,
    o: &MigrateOpts,
    keys: &[Bytes],
    dbid: i64,
    may_retry: &mut bool,
) -> Exchange {
    let db = ctx.db_index();
    let compress = ctx.srv.config.rdbcompression;
    let mut cmd = Vec::new();
    if let Some(pw) = &o.password {
        match &o.username {
            Some(u) => push_command(&mut cmd, &[b"AUTH", u, pw]),
            None => push_command(&mut cmd, &[b"AUTH", pw]),
        }
    }
    let select = cs.last_dbid != dbid;
    if select {
        let id = dbid.to_string();
        push_command(&mut cmd, &[b"SELECT", id.as_bytes()]);
    }
    let restore: &[u8] = if ctx.srv.config.cluster_enabled {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let now = crate::server::now_ms();
    let mut sent: Vec<&Bytes> = Vec::new();
    for k in keys {
        let Some(e) = ctx.srv.dbs[db].get(k) else {
            continue;
        };
        let mut ttl = 0;
        if e.expire != NO_EXPIRE {
            ttl = e.expire - now;
            if ttl < 0 {
                continue;
            }
            ttl = ttl.max(1);
        }
        let payload = dump_payload_with(&e.value, compress);
        let ttl = ttl.to_string();
        let mut argv: Vec<&[u8]> = vec![restore, k, ttl.as_bytes(), &payload];
        if o.replace {
            argv.push(b"REPLACE");
        }
        push_command(&mut cmd, &argv);
        sent.push(k);
    }
    let stream = cs.reader.get_mut();
    for chunk in cmd.chunks(WRITE_CHUNK) {
        if let Err(e) = stream.write_all(chunk) {
            return Exchange::SocketError {
                write_error: true,
                timed_out: is_timeout(&e),
            };
        }
    }
    let mut auth_reply = Vec::new();
    let mut select_reply = Vec::new();
    if o.password.is_some() {
        match read_line(&mut cs.reader) {
            Ok(l) => auth_reply = l,
            Err(e) => return read_error(&e),
        }
    }
    if select {
        match read_line(&mut cs.reader) {
            Ok(l) => select_reply = l,
            Err(e) => return read_error(&e),
        }
    }
    let mut error_from_target = false;
    let mut socket_error: Option<io::Error> = None;
    let mut deleted: Vec<Bytes> = Vec::new();
    let mut read = 0;
    for k in &sent {
        let line = match read_line(&mut cs.reader) {
            Ok(l) => l,
            Err(e) => {
                socket_error = Some(e);
                break;
            }
        };
        read += 1;
        let failed = if auth_reply.first() == Some(&b'-') {
            Some(&auth_reply)
        } else if select_reply.first() == Some(&b'-') {
            Some(&select_reply)
        } else if line.first() == Some(&b'-') {
            Some(&line)
        } else {
            None
        };
        if let Some(errline) = failed {
            if !error_from_target {
                cs.last_dbid = -1;
                error_from_target = true;
                ctx.out.error(&format!(
                    "ERR Target instance replied with error: {}",
                    String::from_utf8_lossy(&errline[1..])
                ));
            }
        } else if !o.copy {
            ctx.delete_key(k);
            ctx.signal_modified_key(db, k);
            ctx.notify(notify::GENERIC, "del", k);
            ctx.dirty += 1;
            deleted.push((*k).clone());
        }
    }
    if let Some(e) = &socket_error {
        if !error_from_target && read == 0 && *may_retry && !is_timeout(e) {
            return read_error(e);
        }
    }
    if !deleted.is_empty() {
        let mut argv = vec![Bytes::from_static(b"DEL")];
        argv.extend(deleted);
        ctx.propagate(argv);
    }
    if let Some(e) = &socket_error {
        if !error_from_target {
            *may_retry = false;
            return read_error(e);
        }
        return Exchange::Done { keep: false };
    }
    if !error_from_target {
        cs.last_dbid = dbid;
        ctx.out.ok();
    }
    Exchange::Done { keep: true }
}

fn read_error(e: &io::Error) -> Exchange {
    Exchange::SocketError {
        write_error: false,
        timed_out: is_timeout(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn key_positions() {
        assert_eq!(
            migrate_keys(&b(&["migrate", "h", "1", "k", "0", "5"])),
            vec![3]
        );
        assert_eq!(
            migrate_keys(&b(&[
                "migrate", "h", "1", "", "0", "5", "auth", "keys", "copy", "keys", "a", "b"
            ])),
            vec![10, 11],
            "AUTH's argument is skipped even when it reads KEYS"
        );
        assert_eq!(
            migrate_keys(&b(&["migrate", "h", "1", "x", "0", "5", "keys", "a"])),
            Vec::<usize>::new()
        );
        assert_eq!(
            migrate_keys(&b(&[
                "migrate", "h", "1", "", "0", "5", "auth2", "u", "p", "keys", "a"
            ])),
            vec![10]
        );
    }

    #[test]
    fn commands_are_resp() {
        let mut v = Vec::new();
        push_command(&mut v, &[b"SELECT", b"3"]);
        assert_eq!(v, b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n");
    }

    #[test]
    fn cache_expires_idle_connections() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut c = SocketCache::default();
        for (name, used) in [("a", 100), ("b", 95)] {
            c.sockets.insert(
                name.into(),
                CachedSocket {
                    reader: BufReader::new(TcpStream::connect(addr).unwrap()),
                    last_dbid: -1,
                    last_use: used,
                },
            );
        }
        c.close_timed_out(105);
        assert_eq!(c.len(), 2);
        c.close_timed_out(106);
        assert_eq!(c.len(), 1);
        assert!(c.sockets.contains_key("a"));
    }
}
