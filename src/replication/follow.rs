//! The replica side's changes to the server, made under the engine lock:
//! following a master (REPLICAOF host port, `replicaof` in the config) or
//! no longer (REPLICAOF NO ONE: a promotion), installing the dataset of a
//! full sync, executing the master's stream as the master client, and
//! what INFO replication and ROLE print for a replica. The link task
//! ([`super::link`]) calls these between its socket reads.

use super::replica::LinkState;
use crate::keyspace::Db;
use crate::protocol::Reply;
use crate::protocol::{ParseLimits, RequestParser};
use crate::server::client::{Client, ClientId};
use crate::server::{now_ms, Server};
use crate::{log_notice, log_warning};
use bytes::{Bytes, BytesMut};
use std::fmt::Write as _;

/// replicationSetMaster: follow `host:port` from now on. The current
/// dataset stays until the new master's full sync replaces it; a node
/// that was a master offers its own history (PSYNC replid offset+1).
pub fn set_master(srv: &mut Server, host: String, port: u16) {
    let was_master = !srv.follow.is_replica();
    stop_link(srv);
    if was_master {
        srv.follow.cached = Some((srv.repl.replid.clone(), srv.repl.offset));
        srv.follow.cached_db = 0;
    }
    crate::server::blocking::disconnect_all_blocked(srv);
    srv.config.replicaof = Some((host.clone(), port));
    srv.follow.master = Some((host, port));
    srv.follow.state = LinkState::Connect;
    srv.follow.down_since_ms = None;
    super::link::spawn(srv);
}

/// replicationUnsetMaster: this node becomes a master, keeping its data;
/// the history it had is still valid up to its offset (replid2), and its
/// replicas reconnect to get the new ID.
pub fn unset_master(srv: &mut Server) {
    if srv.follow.master.take().is_none() {
        return;
    }
    srv.config.replicaof = None;
    stop_link(srv);
    let old = srv.repl.replid.clone();
    srv.repl.shift_replid(crate::server::random_hex(40));
    log_notice!(
        "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
        old,
        srv.repl.second_offset,
        srv.repl.replid
    );
    disconnect_replicas(srv);
    srv.repl.reset_select();
    srv.follow = Default::default();
}

/// Stops the link task and forgets the master client.
fn stop_link(srv: &mut Server) {
    if let Some(h) = srv.follow.link.take() {
        h.abort();
    }
    drop_master_client(srv);
    srv.follow.transfer = None;
}

/// The connection to the master ended: the master client goes, its
/// replid and offset are kept for a partial resync.
pub fn drop_master_client(srv: &mut Server) {
    if let Some(id) = srv.follow.master_client.take() {
        srv.follow.cached_db = srv.clients.get(&id).map_or(0, |c| c.db);
        crate::server::conn::unregister(srv, id);
        srv.follow.cached = Some((srv.repl.replid.clone(), srv.repl.offset));
    }
}

/// The link failed or was lost.
pub fn link_down(srv: &mut Server, why: &str) {
    if !why.is_empty() {
        log_warning!("{}", why);
    }
    if srv.follow.state == LinkState::Connected {
        log_notice!("Connection with master lost.");
        log_notice!("Caching the disconnected master state.");
        srv.follow.down_since_ms = Some(now_ms());
    }
    drop_master_client(srv);
    srv.follow.state = LinkState::Connect;
    srv.follow.transfer = None;
}

/// Closes every replica of this node (they resynchronise).
fn disconnect_replicas(srv: &mut Server) {
    let ids: Vec<ClientId> = srv.repl.replicas.iter().map(|r| r.client).collect();
    for id in ids {
        srv.repl.detach(id);
        if let Some(c) = srv.clients.get_mut(&id) {
            c.flags.close_asap = true;
            c.notify.notify_one();
        }
    }
}

/// A full sync loaded: the new dataset replaces the old one and the
/// stream continues from the master's `replid`/`offset`.
pub fn install_full_sync(
    srv: &mut Server,
    replid: String,
    offset: u64,
    dbs: Vec<Db>,
    functions: Vec<Vec<u8>>,
    addr: String,
) {
    // WATCHed keys that existed are gone: their transactions fail.
    let touched: Vec<(usize, Bytes)> = srv
        .watched
        .keys()
        .filter(|(db, key)| srv.dbs[*db].contains(key))
        .cloned()
        .collect();
    for (db, key) in touched {
        srv.touch_watched_key(db, &key);
    }
    srv.dbs = dbs;
    srv.snapshots.functions = functions;
    srv.follow.local_expires.clear();
    disconnect_replicas(srv);
    srv.repl.replid = replid;
    srv.repl.offset = offset;
    srv.repl.replid2 = "0".repeat(40);
    srv.repl.second_offset = -1;
    srv.repl.reset_select();
    srv.follow.cached = None;
    if srv.aof.is_on() {
        // Redis restarts the AOF after a sync: a new base from this data.
        if let Err(e) = crate::persistence::aof::control::rewrite_background(srv) {
            log_warning!("Failed restarting the AOF after a sync: {}", e);
        }
    }
    connected(srv, addr);
}

/// +CONTINUE: the stream continues from the cached offset; a new
/// replication ID (the master was promoted) shifts ours.
pub fn continue_partial(srv: &mut Server, new_id: Option<String>, addr: String) {
    if let Some(id) = new_id {
        if id != srv.repl.replid {
            srv.repl.shift_replid(id.clone());
            log_notice!("Master replication ID changed to {}", id);
            disconnect_replicas(srv);
        }
    }
    srv.follow.cached = None;
    log_notice!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    let db = srv.follow.cached_db;
    connected(srv, addr);
    // The stream goes on in the database the old link had selected.
    if let Some(c) = srv
        .follow
        .master_client
        .and_then(|id| srv.clients.get_mut(&id))
    {
        c.db = db;
    }
}

/// The link is up: the master client is registered (CLIENT LIST shows it
/// with flag M) and the stream is applied from `srv.repl.offset`.
fn connected(srv: &mut Server, addr: String) {
    let id = srv.next_client_id;
    srv.next_client_id += 1;
    let now = now_ms();
    let mut c = Client::new(id, addr, String::new(), -1, now, true);
    c.flags.master = true;
    srv.clients.insert(id, Box::new(c));
    srv.follow.master_client = Some(id);
    srv.follow.state = LinkState::Connected;
    srv.follow.last_io_ms = now;
    srv.follow.read_offset = srv.repl.offset;
    srv.follow.transfer = None;
    srv.follow.down_since_ms = None;
}

/// The stream bytes read but not applied yet, and the parser over them.
#[derive(Default)]
pub struct StreamInput {
    pub buf: BytesMut,
    parser: RequestParser,
    /// Copy of the bytes not yet applied (passed on to sub-replicas).
    raw: Vec<u8>,
    /// Bytes of complete commands parsed (a MULTI not yet EXECed).
    parsed: usize,
    /// Bytes consumed for a command still incomplete.
    partial: usize,
}

impl StreamInput {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.raw.extend_from_slice(data);
    }
}

/// Executes every complete command of `input` as the master client; the
/// offset advances by each command (a transaction: at its EXEC) and the
/// bytes go on to this node's replicas. Returns the offsets to send in
/// `REPLCONF ACK` (one per REPLCONF GETACK, the offset before it).
pub fn apply_stream(srv: &mut Server, input: &mut StreamInput) -> Result<Vec<u64>, String> {
    let id = srv.follow.master_client.ok_or("no master client")?;
    let Some(mut client) = srv.clients.remove(&id) else {
        return Err("the master client was killed".into());
    };
    if client.flags.close_asap {
        srv.clients.insert(id, client);
        return Err("the master client was killed".into());
    }
    let limits = ParseLimits {
        max_bulk_len: i64::MAX,
        unauthenticated: false,
    };
    let mut acks = Vec::new();
    let mut result = Ok(());
    srv.clock_us = crate::server::now_us();
    loop {
        let before = input.buf.len();
        let next = input.parser.next(&mut input.buf, limits);
        let used = before - input.buf.len();
        let cmd = match next {
            Ok(Some(cmd)) => cmd,
            Ok(None) => {
                input.partial += used;
                break;
            }
            Err(e) => {
                result = Err(format!("Protocol error from MASTER: {}", e.0));
                break;
            }
        };
        input.parsed += input.partial + used;
        input.partial = 0;
        if cmd.is_empty() {
            continue;
        }
        let getack = cmd.len() >= 2
            && cmd[0].eq_ignore_ascii_case(b"replconf")
            && cmd[1].eq_ignore_ascii_case(b"getack");
        if getack && !client.flags.multi {
            acks.push(srv.repl.offset);
        }
        let mut r = Reply::new(client.resp);
        r.suppress = true;
        let errors = r.errors;
        let name = String::from_utf8_lossy(&cmd[0]).into_owned();
        crate::commands::dispatch::process_command(srv, &mut client, cmd, &mut r);
        client.blocked = None;
        client.out.clear();
        if r.errors > errors {
            log_warning!(
                "== CRITICAL == This replica is sending an error to its master: '{}' after processing the command '{}'",
                r.last_error.clone().unwrap_or_default(),
                name
            );
        }
        if !client.flags.multi {
            let applied: Vec<u8> = input.raw.drain(..input.parsed).collect();
            input.parsed = 0;
            if let Some(bytes) = srv.repl.feed_raw(&applied) {
                let ids: Vec<ClientId> = srv.repl.online_ids().collect();
                for rid in ids {
                    srv.write_to_client(rid, None, |r| r.raw(&bytes));
                }
            }
        }
    }
    srv.clients.insert(id, client);
    result.map(|_| acks)
}

/// After a write of a normal client on a (writable) replica: its keys
/// that now have a TTL are expired by this node (see `expire_local_keys`).
pub fn remember_expiring_keys(
    srv: &mut Server,
    db: usize,
    def: &crate::commands::table::CommandDef,
    args: &[Bytes],
) {
    for pos in def.key_positions(args) {
        let Some(key) = args.get(pos) else { continue };
        if srv.dbs[db]
            .get(key)
            .is_some_and(|e| e.expire != crate::keyspace::NO_EXPIRE)
        {
            srv.follow.local_expires.insert((db, key.clone()));
        }
    }
}

/// The cron on a replica: deletes the remembered keys whose TTL passed
/// (expired_keys counts them, the DEL goes to the AOF), forgets those
/// that lost their TTL or are gone.
pub fn expire_local_keys(srv: &mut Server, now: i64) {
    if srv.follow.local_expires.is_empty() {
        return;
    }
    let keys: Vec<(usize, Bytes)> = srv.follow.local_expires.iter().cloned().collect();
    for (db, key) in keys {
        let expire = srv.dbs.get(db).and_then(|d| d.get(&key)).map(|e| e.expire);
        match expire {
            Some(t) if t != crate::keyspace::NO_EXPIRE && t <= now => {
                srv.delete_expired(db, &key);
                srv.follow.local_expires.remove(&(db, key));
            }
            Some(t) if t != crate::keyspace::NO_EXPIRE => {}
            _ => {
                srv.follow.local_expires.remove(&(db, key));
            }
        }
    }
}

/// The replica lines of INFO replication (after role:slave).
pub fn info(srv: &Server, out: &mut String) {
    let f = &srv.follow;
    let Some((host, port)) = &f.master else {
        return;
    };
    let now = now_ms();
    let has_offset = f.master_client.is_some() || f.cached.is_some();
    let (read, applied) = if has_offset {
        (f.read_offset.max(srv.repl.offset), srv.repl.offset)
    } else {
        (1, 1)
    };
    let _ = write!(
        out,
        "master_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n\
         master_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\n\
         slave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
        host,
        port,
        if f.connected() { "up" } else { "down" },
        if f.master_client.is_some() {
            (now - f.last_io_ms).max(0) / 1000
        } else {
            -1
        },
        u8::from(f.state == LinkState::Transfer),
        read,
        applied
    );
    if let (LinkState::Transfer, Some(t)) = (f.state, f.transfer) {
        let perc = if t.size > 0 {
            t.read as f64 / t.size as f64 * 100.0
        } else {
            0.0
        };
        let _ = write!(
            out,
            "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\n\
             master_sync_left_bytes:{}\r\nmaster_sync_perc:{:.2}\r\n\
             master_sync_last_io_seconds_ago:{}\r\n",
            t.size,
            t.read,
            t.size - t.read as i64,
            perc,
            (now - t.last_io_ms).max(0) / 1000
        );
    }
    if !f.connected() {
        let _ = write!(
            out,
            "master_link_down_since_seconds:{}\r\n",
            f.down_since_ms.map_or(-1, |t| (now - t).max(0) / 1000)
        );
    }
    let get = |n: &str, d: &str| srv.config.get_text(n).unwrap_or_else(|| d.to_string());
    let yes = |n: &str| u8::from(get(n, "yes") == "yes");
    let _ = write!(
        out,
        "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
        get("replica-priority", "100"),
        yes("replica-read-only"),
        yes("replica-announced")
    );
}

/// ROLE's reply.
pub fn role(srv: &Server, out: &mut Reply) {
    match &srv.follow.master {
        None => {
            out.array_len(3);
            out.bulk(b"master");
            out.int(srv.repl.offset as i64);
            let online: Vec<_> = srv
                .repl
                .replicas
                .iter()
                .filter(|r| r.state == super::master::ReplState::Online)
                .collect();
            out.array_len(online.len());
            for r in online {
                let (ip, port) = srv
                    .clients
                    .get(&r.client)
                    .map(|c| (super::replica_ip(c), c.repl_port))
                    .unwrap_or_default();
                out.array_len(3);
                out.bulk(ip.as_bytes());
                out.bulk(port.to_string().as_bytes());
                out.bulk(r.ack_offset.to_string().as_bytes());
            }
        }
        Some((host, port)) => {
            out.array_len(5);
            out.bulk(b"slave");
            out.bulk(host.as_bytes());
            out.int(*port as i64);
            out.bulk(srv.follow.state.role_label().as_bytes());
            out.int(if srv.follow.master_client.is_some() {
                srv.repl.offset as i64
            } else {
                -1
            });
        }
    }
}

/// WAIT: the clients whose replicas acknowledged enough get their count.
pub fn release_waiting(srv: &mut Server) {
    if srv.waiting_acks.is_empty() {
        return;
    }
    let ids = std::mem::take(&mut srv.waiting_acks);
    for id in ids {
        let Some(c) = srv.clients.get_mut(&id) else {
            continue;
        };
        let Some(crate::server::client::BlockReason::Wait { offset, replicas }) =
            c.blocked.as_ref().map(|b| b.reason)
        else {
            continue;
        };
        let acks = srv.repl.count_acks(offset);
        if acks as i64 >= replicas {
            let c = srv.clients.get_mut(&id).expect("present");
            c.blocked = None;
            srv.write_to_client(id, None, |r| r.int(acks as i64));
        } else {
            srv.waiting_acks.push(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testutil::{run, setup};

    fn resp(args: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::persistence::aof::stream::encode_command(&mut out, args);
        out
    }

    #[test]
    fn the_stream_is_applied_command_by_command() {
        let (mut srv, mut c) = setup();
        srv.follow.master = Some(("127.0.0.1".into(), 6379));
        srv.repl.offset = 100;
        continue_partial(&mut srv, None, "127.0.0.1:6379".into());
        assert!(srv.follow.connected());
        let mut input = StreamInput::default();
        let select = resp(&["SELECT", "2"]);
        let set = resp(&["SET", "k", "v"]);
        let getack = resp(&["REPLCONF", "GETACK", "*"]);
        let multi = resp(&["MULTI"]);
        let incr = resp(&["INCR", "n"]);
        let exec = resp(&["EXEC"]);
        input.push(&select);
        input.push(&set);
        input.push(&getack);
        input.push(&multi);
        input.push(&incr);
        let acks = apply_stream(&mut srv, &mut input).unwrap();
        let before_getack = 100 + (select.len() + set.len()) as u64;
        assert_eq!(acks, vec![before_getack], "the ACK excludes the GETACK");
        assert_eq!(
            srv.repl.offset,
            before_getack + getack.len() as u64,
            "an open transaction is not counted yet"
        );
        // Half of EXEC: nothing more.
        input.push(&exec[..3]);
        assert!(apply_stream(&mut srv, &mut input).unwrap().is_empty());
        input.push(&exec[3..]);
        apply_stream(&mut srv, &mut input).unwrap();
        assert_eq!(
            srv.repl.offset,
            before_getack + (getack.len() + multi.len() + incr.len() + exec.len()) as u64
        );
        run(&mut srv, &mut c, &["SELECT", "2"]);
        assert_eq!(run(&mut srv, &mut c, &["GET", "k"]), "$1\r\nv\r\n");
        assert_eq!(run(&mut srv, &mut c, &["GET", "n"]), "$1\r\n1\r\n");
        assert_eq!(
            run(&mut srv, &mut c, &["DEL", "k"]),
            "-READONLY You can't write against a read only replica.\r\n"
        );
        // A promotion keeps the data and the history as replid2.
        let old = srv.repl.replid.clone();
        unset_master(&mut srv);
        assert_eq!(srv.repl.replid2, old);
        assert_eq!(srv.repl.second_offset, srv.repl.offset as i64 + 1);
        assert_eq!(run(&mut srv, &mut c, &["DEL", "k"]), ":1\r\n");
    }
}
