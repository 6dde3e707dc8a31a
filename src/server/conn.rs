//! Connection tasks: read bytes, parse every complete command, run the
//! batch under the engine lock, write the replies once per batch.
//!
//! A client that blocks (CLIENT PAUSE, blocking commands) keeps its later
//! commands queued here until whoever releases it writes its reply and
//! wakes the task through `Client::notify`.

use super::client::{BlockReason, Client, ClientId, QbufResize};
use super::sockio::{send_rdb, write_out, Input, StreamIo, Waker};
use super::{now_ms, Server, Shared};
use crate::commands::dispatch::{process_command, Outcome};
use crate::protocol::{ParseLimits, Reply, RequestParser};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

/// Redis's reply to a non-local client in protected mode.
const PROTECTED_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Redis's islocalClient: a unix socket, 127.0.0.1 or ::1.
pub fn is_local_addr(addr: &str, unix: bool) -> bool {
    if unix {
        return true;
    }
    let ip = match addr.rfind(':') {
        Some(i) => &addr[..i],
        None => addr,
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    ip == "127.0.0.1" || ip == "::1"
}

/// Registers a new client; Err (with what to tell the peer) if the
/// server is at maxclients, or in protected mode and the peer is remote.
fn register(
    shared: &Shared,
    addr: String,
    laddr: String,
    fd: i64,
    unix: bool,
) -> Result<Registered, &'static [u8]> {
    let mut s = shared.lock();
    s.stats.total_connections_received += 1;
    if s.clients.len() as u64 >= s.config.maxclients {
        s.stats.rejected_connections += 1;
        return Err(b"-ERR max number of clients reached\r\n");
    }
    if s.config.protected_mode && s.config.requirepass.is_none() && !is_local_addr(&addr, unix) {
        // Redis does not count these as connections received.
        s.stats.total_connections_received -= 1;
        s.stats.rejected_connections += 1;
        return Err(PROTECTED_DENIED);
    }
    let id = s.next_client_id;
    s.next_client_id += 1;
    let authenticated = s.config.requirepass.is_none();
    let mut c = Client::new(id, addr, laddr, fd, now_ms(), authenticated);
    c.flags.unix_socket = unix;
    let notify = c.notify.clone();
    let out_held = c.out_held.clone();
    s.clients.insert(id, Box::new(c));
    Ok((id, notify, out_held, s.snapshots.loading.clone()))
}

/// A registered client: its id, its wake-up, its held-output counter,
/// and the load in progress when it connected (if any).
type Registered = (
    ClientId,
    Arc<Notify>,
    Arc<AtomicUsize>,
    Option<Arc<crate::persistence::loading::LoadProgress>>,
);

/// Removes a client and every trace of it (subscriptions, WATCHes,
/// MONITOR, blocking).
pub fn unregister(s: &mut Server, id: ClientId) {
    crate::replication::detach(s, id);
    let Some(c) = s.clients.remove(&id) else {
        return;
    };
    super::blocking::unregister(s, &c);
    crate::commands::pubsub::unsubscribe_all(s, &c);
    crate::commands::multi::unwatch_all(s, &c);
    s.monitors.retain(|&m| m != id);
}

/// Commands parsed ahead of execution at most (see `serve`).
const MAX_QUEUED: usize = 1024;

/// Commands warmed at a time: enough for their cache misses to overlap,
/// few enough for what they load to stay in cache until they run.
const WARM_WINDOW: usize = 32;

/// Databases with fewer keys are not warmed (their tables, about 64 bytes
/// a key, fit in the last-level cache of the machines keel runs on).
const WARM_MIN_KEYS: usize = 32 * 1024;

/// For a pipelined batch or a multi-key command, brings the table data of
/// the keys of the next [`WARM_WINDOW`] queued commands into the CPU cache
/// at once (see `Db::warm`). Returns how many commands that covered (at
/// least 1).
fn warm_keys(s: &mut Server, db: usize, queue: &VecDeque<Vec<Bytes>>) -> usize {
    // A small keyspace stays in the CPU caches: warming would only look
    // every key up twice.
    if s.dbs[db].len() < WARM_MIN_KEYS {
        return queue.len().clamp(1, WARM_WINDOW);
    }
    if queue.len() > 1 || queue.front().is_some_and(|a| a.len() > 3) {
        let table = &s.commands;
        let window = queue.iter().take(WARM_WINDOW);
        let keys = window.flat_map(|a| table.key_hint(a));
        s.dbs[db].warm(keys.map(|k| &k[..]));
    }
    queue.len().clamp(1, WARM_WINDOW)
}

/// Serves one connection until it closes.
pub async fn serve<S>(
    shared: Shared,
    mut stream: S,
    addr: String,
    laddr: String,
    fd: i64,
    unix: bool,
) where
    S: StreamIo,
{
    let (id, notify, out_held, mut early_load) = match register(&shared, addr, laddr, fd, unix) {
        Ok(r) => r,
        Err(why) => {
            let _ = stream.write_all(why).await;
            return;
        }
    };
    let mut buf = BytesMut::with_capacity(IOBUF_LEN);
    let mut parser = RequestParser::new();
    let mut queue: VecDeque<Vec<Bytes>> = VecDeque::new();
    let mut proto_error: Option<String> = None;
    let mut out: Vec<u8> = Vec::new();
    // Parser limits, refreshed under the lock after every batch.
    let mut limits = {
        let s = shared.lock();
        parse_limits(&s, id)
    };
    let mut reads: u64 = 0;
    let mut qbuf_limit: usize;
    // Input piled up in `buf` while a write waited (see write_out).
    let mut big_input = false;
    let mut read_while_writing = false;
    loop {
        if proto_error.is_none() {
            // A long pipeline is parsed a slice at a time: the rest waits
            // in the read buffer as bytes (Redis's query buffer), far
            // smaller than parsed arguments.
            while queue.len() < MAX_QUEUED {
                match parser.next(&mut buf, limits) {
                    Ok(Some(cmd)) if cmd.is_empty() => continue,
                    Ok(Some(cmd)) => queue.push_back(cmd),
                    Ok(None) => break,
                    Err(e) => {
                        proto_error = Some(e.0);
                        break;
                    }
                }
            }
        }
        // Complete commands may be left in the buffer: run them without
        // waiting for more input.
        let more_parsed_later = queue.len() >= MAX_QUEUED;
        if queue.is_empty() && queue.capacity() > MAX_QUEUED {
            queue = VecDeque::new();
        }
        let pending_bytes = buf.len() + parser.pending_args_len();
        // Like Redis, which serves clients only every
        // loading-process-events-interval-bytes of a load, a client that
        // arrives early waits instead of getting -LOADING at once.
        if let (Some(p), false) = (&early_load, queue.is_empty()) {
            p.wait_early_phase().await;
            early_load = None;
        }
        // Run the batch.
        let (close, deadline, aof_wait, repl_send) = {
            let mut guard = shared.lock();
            let s = &mut *guard;
            let Some(mut client) = s.clients.remove(&id) else {
                break; // killed while we were away
            };
            s.stats.total_reads_processed += std::mem::take(&mut reads);
            client.qbuf = pending_bytes;
            client.qbuf_peak = client.qbuf_peak.max(pending_bytes);
            // Redis's clientsCronResizeQueryBuffer, asked for by the cron:
            // an idle client's empty buffer is released (the next read
            // allocates one), a buffer grown by a big argument shrinks.
            match std::mem::take(&mut client.qbuf_resize) {
                QbufResize::Release if buf.is_empty() => buf = BytesMut::new(),
                QbufResize::Shrink if buf.is_empty() => buf = BytesMut::with_capacity(IOBUF_LEN),
                _ => {}
            }
            client.qbuf_peak = client.qbuf_peak.max(pending_bytes);
            if pending_bytes as u64 > s.config.client_query_buffer_limit {
                crate::log_warning!(
                    "Closing client that reached max query buffer length: {} (qbuf initial bytes: {:?})",
                    client_info_string(s, &client),
                    String::from_utf8_lossy(&buf[..buf.len().min(64)])
                );
                s.stats.client_qbuf_limit_disconnections += 1;
                client.flags.close_asap = true;
            }
            s.clock_us = super::now_us();
            let now = s.clock_us / 1000;
            // A blocked client whose time ran out.
            if let Some(b) = &client.blocked {
                if b.deadline.is_some_and(|d| d <= now)
                    || (b.reason == BlockReason::Pause && !super::pause_active(s, now))
                {
                    if b.reason == BlockReason::Keys {
                        super::blocking::timeout(s, &mut client);
                    } else if let BlockReason::Wait { offset, .. } = b.reason {
                        // WAIT timed out: the replicas that acknowledged.
                        client.blocked = None;
                        s.waiting_acks.retain(|&w| w != id);
                        let acks = s.repl.count_acks(offset) as i64;
                        let mut r = Reply::new(client.resp);
                        r.buf = std::mem::take(&mut client.out);
                        r.int(acks);
                        client.out = r.buf;
                    } else {
                        let b = client.blocked.take().expect("checked above");
                        queue.push_front(b.args);
                    }
                }
            }
            // Commands at the front of the queue whose keys are warm.
            let mut warm = 0;
            while client.blocked.is_none()
                && !client.flags.close_after_reply
                && !client.flags.close_asap
            {
                if warm == 0 {
                    warm = warm_keys(s, client.db, &queue);
                }
                warm -= 1;
                let Some(args) = queue.pop_front() else { break };
                let mut r = Reply::new(client.resp);
                r.buf = std::mem::take(&mut client.out);
                // CLIENT REPLY OFF/SKIP: replies written while the flags are
                // set are dropped at the source (CLIENT REPLY ON clears it
                // before answering), pushes still go through.
                r.suppress =
                    client.flags.reply_off || client.flags.reply_skip || client.flags.replica;
                s.stats.total_net_input_bytes +=
                    args.iter().map(|a| a.len() as u64 + 16).sum::<u64>();
                let outcome = process_command(s, &mut client, args, &mut r);
                if outcome == Outcome::Done {
                    // Redis's resetClient: SKIP lasts one command, and a
                    // SKIP_NEXT set by this command applies to the next one.
                    client.flags.reply_skip = false;
                    if client.flags.reply_skip_next {
                        client.flags.reply_skip_next = false;
                        client.flags.reply_skip = true;
                    }
                }
                client.out = r.buf;
                if s.shutdown.is_some() {
                    break;
                }
            }
            if queue.is_empty() && client.blocked.is_none() {
                if let Some(e) = proto_error.take() {
                    let mut r = Reply::new(client.resp);
                    r.buf = std::mem::take(&mut client.out);
                    r.error(&format!("ERR {e}"));
                    client.out = r.buf;
                    if let Some(code) = r.last_error.take() {
                        s.stats.record_error(&code);
                    }
                    crate::log_verbose!(
                        "Protocol error ({}) from client: {}",
                        e,
                        client_info_string(s, &client)
                    );
                    client.flags.close_after_reply = true;
                }
            }
            let obuf_limits = s.config.client_output_buffer_limit;
            if super::output_limit_reached(&mut client, &obuf_limits, now) {
                s.stats.client_outbuf_limit_disconnections += 1;
                crate::log_warning!(
                    "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                    client_info_string(s, &client)
                );
                client.flags.close_asap = true;
            }
            if big_input && buf.is_empty() {
                // What piled up while a write waited is consumed: let its
                // allocation go (an empty view at its end would keep it).
                buf = BytesMut::new();
                big_input = false;
            }
            if buf.capacity() > 0 {
                manage_read_buffer(&mut buf);
            }
            client.qbuf_cap = buf.capacity();
            // The AOF is written before any reply leaves; under
            // appendfsync always the replies wait until it is durable.
            let aof_wait = crate::persistence::aof::control::flush_before_reply(s)
                .map(|t| (t, s.aof.round.clone()));
            std::mem::swap(&mut out, &mut client.out);
            out_held.store(out.capacity(), Ordering::Relaxed);
            client.tot_net_out += out.len() as u64;
            s.stats.total_net_output_bytes += out.len() as u64;
            if !out.is_empty() {
                s.stats.total_writes_processed += 1;
            }
            let close = client.flags.close_after_reply || client.flags.close_asap;
            let deadline = client.blocked.as_ref().and_then(|b| b.deadline);
            let kill_now = client.flags.close_asap;
            if kill_now {
                out.clear();
            }
            let repl_send = client.repl_send.take();
            s.clients.insert(id, client);
            limits = parse_limits(s, id);
            qbuf_limit = s.config.client_query_buffer_limit as usize;
            (close, deadline, aof_wait, repl_send)
        };
        if let Some((what, round)) = aof_wait {
            if !out.is_empty() {
                round.wait(what).await;
            }
        }
        if !out.is_empty() {
            let conn = Waker {
                notify: &notify,
                shared: &shared,
                id,
            };
            let mut input = Input {
                buf: &mut buf,
                limit: qbuf_limit,
                reads: &mut reads,
                piled_up: &mut big_input,
            };
            let reads_before = *input.reads;
            if write_out(&stream, &out, conn, &mut input).await.is_err() {
                break;
            }
            // Commands read while the write waited are run before the
            // socket is waited on again (the peer may be done sending).
            read_while_writing = *input.reads != reads_before;
            out.clear();
            if out.capacity() > 64 * 1024 {
                out.shrink_to(16 * 1024);
            }
            out_held.store(out.capacity(), Ordering::Relaxed);
        }
        if close {
            let _ = stream.flush().await;
            break;
        }
        // A replica's full sync: the RDB as a bulk payload, then the
        // stream that collected meanwhile.
        if let Some(file) = repl_send {
            if send_rdb(&mut stream, file).await.is_err() {
                break;
            }
            let rest = crate::replication::bulk_sent(&mut shared.lock(), id);
            out_held.fetch_add(rest.capacity(), Ordering::Relaxed);
            if stream.write_all(&rest).await.is_err() {
                break;
            }
            out_held.fetch_sub(rest.capacity(), Ordering::Relaxed);
        }
        if (!queue.is_empty() || more_parsed_later || std::mem::take(&mut read_while_writing))
            && deadline.is_none()
            && !is_blocked(&shared, id)
        {
            continue; // commands left after a shutdown check or similar
        }
        let sleep = async {
            match deadline {
                Some(d) => {
                    let ms = (d - now_ms()).max(0) as u64;
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            r = async {
                if buf.capacity() == 0 {
                    // Released while idle: allocate only once data is here.
                    stream.read_ready().await?;
                    buf.reserve(IOBUF_LEN);
                }
                stream.read_buf(&mut buf).await
            } => {
                match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => reads += 1,
                }
            }
            _ = notify.notified() => {}
            _ = sleep => {}
        }
    }
    let mut s = shared.lock();
    unregister(&mut s, id);
}

/// Redis's PROTO_IOBUF_LEN and PROTO_RESIZE_THRESHOLD.
pub const IOBUF_LEN: usize = 16 * 1024;
pub const RESIZE_THRESHOLD: usize = 32 * 1024;

/// Keeps the read buffer the way Redis keeps its query buffer: 16 KiB to
/// read into, and the space left by parsed arguments reclaimed once they
/// are dropped (shrinking is the cron's call, see QbufResize).
fn manage_read_buffer(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < IOBUF_LEN / 4 {
        // Reclaims the front of the allocation when nothing else holds it.
        buf.reserve(IOBUF_LEN);
    } else if buf.is_empty() && buf.capacity() < IOBUF_LEN {
        buf.reserve(IOBUF_LEN);
    }
}

fn parse_limits(s: &Server, id: ClientId) -> ParseLimits {
    let authenticated = s.clients.get(&id).is_some_and(|c| c.authenticated);
    ParseLimits {
        max_bulk_len: s.config.proto_max_bulk_len,
        unauthenticated: !authenticated && s.config.requirepass.is_some(),
    }
}

fn is_blocked(shared: &Shared, id: ClientId) -> bool {
    shared
        .lock()
        .clients
        .get(&id)
        .is_some_and(|c| c.blocked.is_some())
}

/// Redis's catClientInfoString (one CLIENT LIST line without newline).
pub fn client_info_string(s: &Server, c: &Client) -> String {
    crate::commands::client::info_line(s, c)
}

/// Feeds a command to MONITOR clients in Redis's format:
/// `+<secs>.<usecs> [<db> <addr>] "arg" "arg"`.
pub fn feed_monitors(s: &mut Server, c: &Client, args: &[Bytes], _now: i64) {
    let us = super::now_us();
    let mut line = format!(
        "{}.{:06} [{} {}]",
        us / 1_000_000,
        us % 1_000_000,
        c.db,
        if c.flags.script {
            "lua".to_string()
        } else if c.flags.unix_socket {
            format!("unix:{}", c.addr)
        } else {
            c.addr.clone()
        }
    );
    for a in args {
        line.push(' ');
        line.push_str(&repr(a));
    }
    for id in s.monitors.clone() {
        if id == c.id {
            continue;
        }
        s.write_to_client(id, None, |r| r.simple(&line));
    }
}

/// Redis's sdscatrepr: a quoted, escaped representation of bytes.
pub fn repr(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{:02x}", c)),
        }
    }
    s.push('"');
    s
}
