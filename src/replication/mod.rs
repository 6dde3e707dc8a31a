//! Replication, master side: replicas attach with SYNC or PSYNC, get a
//! full resynchronisation (the dataset as an RDB written by a forked
//! BGSAVE and sent as a `$<len>` bulk payload, Redis's disk-based sync),
//! then the stream of propagated commands. PSYNC is always answered
//! `+FULLRESYNC <replid> <offset>`: keel keeps no backlog yet, so it never
//! offers a partial resync (a valid answer in the protocol).
//!
//! [`master`] holds the decisions as a state machine; the functions here
//! connect it to the server: the propagation hook, the fork, the cron
//! (keep-alive newlines and PINGs), INFO replication, and the hand-over of
//! the RDB file to the replica's connection task.
//!
//! The replica side: [`replica`] (link state and the handshake as a state
//! machine), [`link`] (the task holding the connection to the master) and
//! [`follow`] (REPLICAOF, installing a sync, applying the stream). A
//! replica passes its master's stream on verbatim to its own replicas
//! (same replid and offsets), so `feed` does nothing on a replica.
//! WAIT: clients block until enough replicas ACK their offset; the
//! GETACK goes out once per event-loop round (`before_sleep`).

pub mod follow;
pub mod link;
pub mod master;
pub mod replica;

use crate::server::client::ClientId;
use crate::server::{now_ms, Server};
use crate::{log_notice, log_warning};
use master::ReplState;
use std::fmt::Write as _;

/// Propagation hook: the command goes into the replication stream.
pub fn feed(srv: &mut Server, db: Option<usize>, argv: &[bytes::Bytes]) {
    // A replica passes on its master's stream instead (follow.rs).
    if srv.repl.replicas.is_empty() || srv.follow.is_replica() {
        return;
    }
    if let Some(bytes) = srv.repl.feed(db, argv) {
        let ids: Vec<ClientId> = srv.repl.online_ids().collect();
        for id in ids {
            srv.write_to_client(id, None, |r| r.raw(&bytes));
        }
    }
}

/// SYNC / PSYNC from `client`, which is running the command (its reply
/// goes to `out`).
pub fn attach(
    srv: &mut Server,
    client: &mut crate::server::client::Client,
    out: &mut crate::protocol::Reply,
    psync: bool,
) {
    let name = replica_name(client);
    log_notice!("Replica {} asks for synchronization", name);
    if psync {
        log_notice!("Full resync requested by replica {}", name);
    }
    client.flags.replica = true;
    srv.repl.sync_full += 1;
    srv.repl.attach(client.id, psync, now_ms());
    for id in start_fork_if_needed(srv, Some((client.id, out))) {
        if id == client.id {
            client.flags.close_after_reply = true;
        }
    }
}

/// Starts the BGSAVE the waiting replicas need, unless a child runs (the
/// cron tries again once it ended). `cur`: the client running a command
/// and its reply. Returns the replicas dropped because the fork failed.
pub fn start_fork_if_needed(
    srv: &mut Server,
    mut cur: Option<(ClientId, &mut crate::protocol::Reply)>,
) -> Vec<ClientId> {
    if !srv.repl.waiting_for_fork() || srv.snapshots.child.is_some() {
        return Vec::new();
    }
    log_notice!("Starting BGSAVE for SYNC with target: disk");
    // The stream a replica gets starts at the fork: mark it before.
    let offset = srv.repl.offset;
    let psync = srv.repl.fork_started();
    if crate::persistence::snapshot::bgsave(srv).is_err() {
        let failed = srv.repl.fork_done(false);
        for &id in &failed {
            let cur = cur.as_mut().map(|(c, r)| (*c, &mut **r));
            srv.write_to_client(id, cur, |r| {
                r.error("ERR BGSAVE failed, replication can't continue")
            });
            if let Some(c) = srv.clients.get_mut(&id) {
                c.flags.close_after_reply = true;
            }
        }
        return failed;
    }
    srv.repl.rdb_for_replicas = true;
    let line = format!("+FULLRESYNC {} {}\r\n", srv.repl.replid, offset);
    for id in psync {
        let cur = cur.as_mut().map(|(c, r)| (*c, &mut **r));
        srv.write_to_client(id, cur, |r| r.raw(line.as_bytes()));
    }
    Vec::new()
}

/// The BGSAVE ended: replicas that waited for it get the file (opened
/// now, so a later save cannot replace what they are sent).
pub fn fork_done(srv: &mut Server, ok: bool) {
    if srv.repl.replicas.is_empty() {
        return;
    }
    let file = if ok {
        std::fs::File::open(crate::persistence::snapshot::rdb_path(srv)).ok()
    } else {
        None
    };
    let ok = ok && file.is_some();
    for id in srv.repl.fork_done(ok) {
        if !ok {
            log_warning!("SYNC failed. BGSAVE child returned an error");
        }
        let Some(c) = srv.clients.get_mut(&id) else {
            continue;
        };
        match file.as_ref().map(|f| f.try_clone()) {
            Some(Ok(f)) => {
                c.repl_send = Some(f);
                c.notify.notify_one();
            }
            _ => {
                c.flags.close_asap = true;
                c.notify.notify_one();
            }
        }
    }
    start_fork_if_needed(srv, None);
}

/// The connection task sent the RDB: the replica is online; returns the
/// stream collected meanwhile, to write right after the file.
pub fn bulk_sent(srv: &mut Server, id: ClientId) -> Vec<u8> {
    let pending = srv.repl.online(id);
    if let Some(r) = srv.repl.get_mut(id) {
        r.ack_time_ms = now_ms(); // no false timeout after a long transfer
    }
    if let Some(c) = srv.clients.get(&id) {
        log_notice!("Synchronization with replica {} succeeded", replica_name(c));
    }
    pending
}

/// The connection closed.
pub fn detach(srv: &mut Server, id: ClientId) {
    if srv.repl.get_mut(id).is_some() {
        srv.repl.detach(id);
        if let Some(c) = srv.clients.get(&id) {
            log_notice!("Connection with replica {} lost.", replica_name(c));
        }
    }
}

/// REPLCONF <option> <value> ...: Ok(true) when it is answered +OK.
pub fn replconf(
    srv: &mut Server,
    client: &mut crate::server::client::Client,
    args: &[bytes::Bytes],
) -> Result<bool, String> {
    if args.len().is_multiple_of(2) {
        return Err("ERR syntax error".into());
    }
    let mut i = 1;
    while i < args.len() {
        let opt = String::from_utf8_lossy(&args[i]).to_ascii_lowercase();
        let val = &args[i + 1];
        match opt.as_str() {
            "listening-port" => {
                let port = crate::util::num::parse_i64(val)
                    .filter(|p| (0..=65535).contains(p))
                    .ok_or("ERR value is out of range")?;
                client.repl_port = port as u16;
            }
            "ip-address" => {
                client.repl_ip = Some(String::from_utf8_lossy(val).into_owned());
            }
            "capa" | "rdb-only" | "rdb-filter-only" => {}
            "ack" | "fack" => {
                // Replicas acknowledge the offset they processed; never
                // answered.
                if opt == "ack" {
                    let off = crate::util::num::parse_i64(val).unwrap_or(0).max(0) as u64;
                    if let Some(r) = srv.repl.get_mut(client.id) {
                        r.ack_offset = r.ack_offset.max(off);
                        r.ack_time_ms = now_ms();
                        follow::release_waiting(srv);
                    }
                }
                return Ok(false);
            }
            "getack" => return Ok(false),
            _ => {
                return Err(format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(&args[i])
                ))
            }
        }
        i += 2;
    }
    Ok(true)
}

/// The replication AUX fields of an RDB (repl-stream-db, repl-id,
/// repl-offset), written when this node has replicas or a master.
pub fn rdb_aux(srv: &Server) -> Vec<(String, Vec<u8>)> {
    let stream_db = match srv.follow.master_client {
        Some(id) => srv.clients.get(&id).map_or(0, |c| c.db),
        None if srv.follow.is_replica() || !srv.repl.replicas.is_empty() => 0,
        None => return Vec::new(),
    };
    vec![
        (
            "repl-stream-db".to_string(),
            stream_db.to_string().into_bytes(),
        ),
        ("repl-id".to_string(), srv.repl.replid.clone().into_bytes()),
        (
            "repl-offset".to_string(),
            srv.repl.offset.to_string().into_bytes(),
        ),
    ]
}

/// The end of an event-loop round (Redis's beforeSleep): WAIT asked for
/// acknowledgements, so `REPLCONF GETACK *` goes into the stream once for
/// all of them.
pub fn before_sleep(srv: &mut Server) {
    if std::mem::take(&mut srv.repl.getack_wanted) && !srv.follow.is_replica() {
        feed(
            srv,
            None,
            &[
                bytes::Bytes::from_static(b"REPLCONF"),
                bytes::Bytes::from_static(b"GETACK"),
                bytes::Bytes::from_static(b"*"),
            ],
        );
    }
    follow::release_waiting(srv);
}

/// WAIT registered a client: the GETACK goes out at the end of the round.
pub fn request_acks(srv: &mut Server) {
    srv.repl.getack_wanted = true;
    srv.aof.round.wanted.notify_one();
}

/// Replicas online whose last ACK is at most min-replicas-max-lag old
/// (Redis's repl_good_slaves_count).
pub fn good_replicas(srv: &Server, now_ms: i64) -> usize {
    let max_lag = srv.config.min_replicas_max_lag as i64;
    srv.repl
        .replicas
        .iter()
        .filter(|r| r.state == ReplState::Online && (now_ms - r.ack_time_ms) / 1000 <= max_lag)
        .count()
}

/// Once a second: a newline to replicas waiting for their RDB (Redis's
/// keep-alive in the pre-synchronisation stage), a PING into the stream
/// every repl-ping-replica-period seconds, and a fork for waiting ones.
pub fn cron(srv: &mut Server, now_ms: i64) {
    let seconds = now_ms / 1000;
    if seconds == srv.repl.cron_second {
        return;
    }
    srv.repl.cron_second = seconds;
    remove_sync_rdb(srv);
    if srv.repl.replicas.is_empty() {
        return;
    }
    start_fork_if_needed(srv, None);
    let period = srv
        .config
        .other
        .get("repl-ping-replica-period")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(10)
        .max(1);
    if seconds % period == 0 {
        feed(srv, None, &[bytes::Bytes::from_static(b"PING")]);
    }
    // Online replicas silent for repl-timeout are dropped.
    let timeout_ms = srv
        .config
        .get_text("repl-timeout")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(60)
        * 1000;
    let silent: Vec<ClientId> = srv
        .repl
        .replicas
        .iter()
        .filter(|r| {
            // Plain SYNC replicas (pre-PSYNC) send no ACKs: never timed out.
            r.psync && r.state == ReplState::Online && now_ms - r.ack_time_ms > timeout_ms
        })
        .map(|r| r.client)
        .collect();
    for id in silent {
        if let Some(c) = srv.clients.get_mut(&id) {
            log_warning!(
                "Disconnecting timedout replica (streaming sync): {}",
                replica_name(c)
            );
            c.flags.close_asap = true;
            c.notify.notify_one();
        }
        srv.repl.detach(id);
    }
    let waiting: Vec<ClientId> = srv
        .repl
        .replicas
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                ReplState::WaitBgsaveStart | ReplState::WaitBgsaveEnd
            )
        })
        .map(|r| r.client)
        .collect();
    for id in waiting {
        srv.write_to_client(id, None, |r| r.raw(b"\n"));
    }
}

/// rdb-del-sync-files: on a node that persists nothing (no save points,
/// no AOF), the RDB written only to feed replicas is deleted once no
/// replica needs it any more (Redis's removeRDBUsedToSyncReplicas).
fn remove_sync_rdb(srv: &mut Server) {
    if !srv.config.rdb_del_sync_files {
        srv.repl.rdb_for_replicas = false;
        return;
    }
    let persistence_off = srv.config.save.is_empty() && !srv.aof.is_on();
    if !(persistence_off && srv.repl.rdb_for_replicas && srv.repl.rdb_unneeded()) {
        return;
    }
    let path = crate::persistence::snapshot::rdb_path(srv);
    if std::fs::symlink_metadata(&path).is_ok() {
        srv.repl.rdb_for_replicas = false;
        log_notice!("Removing the RDB file used to feed replicas in a persistence-less instance");
        let _ = std::fs::remove_file(&path);
    }
}

/// Memory of the stream not yet written to the replicas: what collects
/// during their sync and their output buffers (Redis's
/// mem_total_replication_buffers; keel keeps no backlog, so this is all
/// replica output). Not counted against maxmemory, as in Redis.
pub fn buffer_memory(srv: &Server) -> u64 {
    srv.repl
        .replicas
        .iter()
        .map(|r| {
            let out = srv.clients.get(&r.client).map_or(0, |c| c.output_memory());
            (crate::server::client::alloc_size(r.pending.capacity()) + out) as u64
        })
        .sum()
}

/// ip:listening-port, as Redis names a replica in its log.
pub fn replica_name(c: &crate::server::client::Client) -> String {
    format!("{}:{}", replica_ip(c), c.repl_port)
}

pub fn replica_ip(c: &crate::server::client::Client) -> String {
    c.repl_ip.clone().unwrap_or_else(|| {
        c.addr
            .rsplit_once(':')
            .map_or(c.addr.clone(), |(ip, _)| ip.to_string())
    })
}

/// INFO replication up to the replica list: role, the replica side's
/// lines, connected_slaves and one line per replica.
pub fn info(srv: &Server, out: &mut String) {
    if srv.follow.is_replica() {
        out.push_str("role:slave\r\n");
        follow::info(srv, out);
    } else {
        out.push_str("role:master\r\n");
    }
    let _ = write!(out, "connected_slaves:{}\r\n", srv.repl.replicas.len());
    let now = now_ms();
    for (i, r) in srv.repl.replicas.iter().enumerate() {
        let c = srv.clients.get(&r.client);
        let _ = write!(
            out,
            "slave{}:ip={},port={},state={},offset={},lag={}\r\n",
            i,
            c.map(|c| replica_ip(c)).unwrap_or_default(),
            c.map_or(0, |c| c.repl_port),
            r.state.label(),
            r.ack_offset,
            (now - r.ack_time_ms).max(0) / 1000
        );
    }
}
