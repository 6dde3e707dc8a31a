//! Clients blocked on keys (BLPOP, BZPOPMIN, XREAD BLOCK, ...).
//!
//! A blocking handler that finds nothing to serve calls
//! [`Ctx::block_on_keys`](crate::commands::Ctx::block_on_keys); the client
//! is queued, first come first served, on each key. Commands that create
//! or grow such a key signal it ready; after every top-level command the
//! engine re-runs the queued commands of the clients waiting on ready
//! keys, in FIFO order, exactly as Redis's handleClientsBlockedOnKeys. A
//! re-run that still finds nothing leaves the client where it was in the
//! queue. A served client's reply goes to its pending output and its
//! connection task is woken; timeouts are handled by that task.
//!
//! Inside MULTI/EXEC a blocking command never blocks: it answers as if its
//! timeout had expired (see `Ctx::may_block`).

use super::client::{BlockReason, Client, ClientId};
use super::Server;
use crate::commands::dispatch::call;
use crate::commands::table::Resolved;
use crate::protocol::Reply;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};

#[derive(Default)]
pub struct BlockingState {
    /// (db, key) -> clients blocked on it, oldest first.
    pub by_key: HashMap<(usize, Bytes), VecDeque<ClientId>>,
    /// Keys signalled since the last serving pass, in signal order.
    pub ready: Vec<(usize, Bytes)>,
    /// Number of clients blocked on keys (INFO blocked_clients).
    pub blocked_clients: usize,
    /// The ready key whose waiting client is being re-run, if any. As in
    /// Redis 7.0 (serveClientsBlockedOnListKey), a re-run serves from this
    /// key only, and stays blocked if it is missing or of another type.
    pub serving: Option<Bytes>,
}

impl BlockingState {
    /// Marks a key ready if some client waits on it.
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        let k = (db, Bytes::copy_from_slice(key));
        if self.by_key.contains_key(&k) && !self.ready.contains(&k) {
            self.ready.push(k);
        }
    }
}

/// Redis's scanDatabaseForReadyKeys, for SWAPDB: marks ready every key
/// of database `db` that clients wait on and that now exists there (the
/// waiting clients stay attached to the database index, not its data).
pub fn signal_existing_keys(srv: &mut Server, db: usize) {
    let waited: Vec<Bytes> = srv
        .blocking
        .by_key
        .keys()
        .filter(|(d, _)| *d == db)
        .map(|(_, k)| k.clone())
        .collect();
    for k in waited {
        if srv.dbs[db].contains(&k) {
            srv.blocking.signal(db, &k);
        }
    }
}

/// Redis's scanDatabaseForDeletedStreams, before database `db` is
/// emptied (`replaced_with` None) or swapped with `replaced_with`: marks
/// ready every waited key that holds a stream now and will not after, so
/// clients blocked in XREADGROUP on it fail instead of waiting forever.
pub fn signal_deleted_streams(srv: &mut Server, db: usize, replaced_with: Option<usize>) {
    use crate::keyspace::Value;
    let is_stream = |srv: &Server, d: usize, k: &[u8]| {
        matches!(srv.dbs[d].get(k).map(|e| &e.value), Some(Value::Stream(_)))
    };
    let waited: Vec<Bytes> = srv
        .blocking
        .by_key
        .keys()
        .filter(|(d, _)| *d == db)
        .map(|(_, k)| k.clone())
        .collect();
    for k in waited {
        let was = is_stream(srv, db, &k);
        let will = replaced_with.is_some_and(|o| is_stream(srv, o, &k));
        if was && !will {
            srv.blocking.signal(db, &k);
        }
    }
}

/// Registers `client` as blocked on `keys` of its database.
pub fn register(srv: &mut Server, client: &Client, keys: &[Bytes]) {
    for k in keys {
        let q = srv
            .blocking
            .by_key
            .entry((client.db, k.clone()))
            .or_default();
        if !q.contains(&client.id) {
            q.push_back(client.id);
        }
    }
    srv.blocking.blocked_clients += 1;
}

/// Removes a client's registrations (served, timed out, unblocked, gone).
pub fn unregister(srv: &mut Server, client: &Client) {
    let Some(b) = &client.blocked else { return };
    if b.reason != BlockReason::Keys {
        return;
    }
    for k in &b.keys {
        let key = (client.db, k.clone());
        if let Some(q) = srv.blocking.by_key.get_mut(&key) {
            q.retain(|&id| id != client.id);
            if q.is_empty() {
                srv.blocking.by_key.remove(&key);
            }
        }
    }
    srv.blocking.blocked_clients = srv.blocking.blocked_clients.saturating_sub(1);
}

/// Serves clients blocked on keys signalled ready, until no key is ready.
pub fn serve_ready_keys(srv: &mut Server) {
    while !srv.blocking.ready.is_empty() {
        let ready = std::mem::take(&mut srv.blocking.ready);
        for key in ready {
            let waiting: Vec<ClientId> = match srv.blocking.by_key.get(&key) {
                Some(q) => q.iter().copied().collect(),
                None => continue,
            };
            srv.blocking.serving = Some(key.1.clone());
            for id in waiting {
                serve_one(srv, id);
            }
            srv.blocking.serving = None;
        }
    }
}

/// Re-runs the blocked command of one client.
fn serve_one(srv: &mut Server, id: ClientId) {
    let Some(mut client) = srv.clients.remove(&id) else {
        return;
    };
    let still_blocked = client
        .blocked
        .as_ref()
        .is_some_and(|b| b.reason == BlockReason::Keys);
    if !still_blocked {
        srv.clients.insert(id, client);
        return;
    }
    let prev = client.blocked.take().expect("checked above");
    let table = srv.commands.clone();
    let Resolved::Found(cmd, sub) = table.resolve(&prev.args) else {
        srv.clients.insert(id, client);
        return;
    };
    let mut out = Reply::new(client.resp);
    out.buf = std::mem::take(&mut client.out);
    let args = prev.args.clone();
    let errors_before = out.errors;
    call(srv, &mut client, &mut out, cmd, sub, &args, super::now_us());
    if out.errors > errors_before {
        // A served command that failed (BLMOVE to a key of another type)
        // counts in the error stats as any reply would.
        if let Some(code) = out.last_error.take() {
            srv.stats.record_error(&code);
        }
    }
    client.out = out.buf;
    if client.blocked.is_some() {
        // Nothing to serve yet: keep the original place in every queue
        // (and the original deadline). `call` registered the client again,
        // which found it queued already but counted it twice.
        srv.blocking.blocked_clients = srv.blocking.blocked_clients.saturating_sub(1);
        client.blocked = Some(prev);
    } else {
        client.blocked = Some(prev);
        unregister(srv, &client);
        client.blocked = None;
        client.notify.notify_one();
    }
    srv.clients.insert(id, client);
}

/// Counts a blocked command that ends unserved (timeout, CLIENT
/// UNBLOCK). Redis counts a blocking command's call when it blocks; keel's
/// dispatcher counts calls when a command completes, which a served
/// re-run does, so the unserved ones are counted here.
fn count_unserved(srv: &mut Server, client: &mut Client, error: Option<&str>) {
    let Some(b) = &client.blocked else { return };
    if let Resolved::Found(cmd, sub) = srv.commands.clone().resolve(&b.args) {
        let name = crate::commands::dispatch::full_name(cmd, sub);
        let st = srv.stats.command_stat(&name);
        st.calls += 1;
        if error.is_some() {
            st.failed_calls += 1;
        }
        srv.stats.total_commands_processed += 1;
        client.tot_cmds += 1;
    }
    if let Some(code) = error {
        srv.stats.record_error(code);
    }
}

/// Ends the block of a client that timed out: removes its registrations
/// and answers the null reply blocking commands give on timeout.
pub fn timeout(srv: &mut Server, client: &mut Client) {
    count_unserved(srv, client, None);
    unregister(srv, client);
    client.blocked = None;
    let mut r = Reply::new(client.resp);
    r.buf = std::mem::take(&mut client.out);
    r.null_array();
    client.out = r.buf;
}

/// CLIENT UNBLOCK: releases a client blocked on keys with the timeout
/// reply, or with an UNBLOCKED error. False if it was not blocked on keys.
pub fn unblock_by_request(srv: &mut Server, id: ClientId, with_error: bool) -> bool {
    let Some(mut client) = srv.clients.remove(&id) else {
        return false;
    };
    let blocked = client
        .blocked
        .as_ref()
        .is_some_and(|b| b.reason == BlockReason::Keys);
    if blocked {
        if with_error {
            count_unserved(srv, &mut client, Some("UNBLOCKED"));
            unregister(srv, &client);
            client.blocked = None;
            let mut r = Reply::new(client.resp);
            r.buf = std::mem::take(&mut client.out);
            r.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
            client.out = r.buf;
        } else {
            timeout(srv, &mut client);
        }
        client.notify.notify_one();
    }
    srv.clients.insert(id, client);
    blocked
}

/// Redis's disconnectAllBlockedClients (the node becomes a replica):
/// every client blocked on keys or WAIT gets `-UNBLOCKED ...` and is
/// closed after the reply; CLIENT PAUSE holds stay.
pub fn disconnect_all_blocked(srv: &mut Server) {
    let ids: Vec<ClientId> = srv
        .clients
        .iter()
        .filter(|(_, c)| {
            c.blocked
                .as_ref()
                .is_some_and(|b| b.reason != BlockReason::Pause)
        })
        .map(|(&id, _)| id)
        .collect();
    srv.waiting_acks.clear();
    for id in ids {
        let Some(mut client) = srv.clients.remove(&id) else {
            continue;
        };
        if client
            .blocked
            .as_ref()
            .is_some_and(|b| b.reason == BlockReason::Keys)
        {
            count_unserved(srv, &mut client, Some("UNBLOCKED"));
            unregister(srv, &client);
        }
        client.blocked = None;
        let mut r = Reply::new(client.resp);
        r.buf = std::mem::take(&mut client.out);
        r.error("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
        client.out = r.buf;
        client.flags.close_after_reply = true;
        client.notify.notify_one();
        srv.clients.insert(id, client);
    }
}

/// Redis's getTimeoutFromObjectOrReply in milliseconds (WAIT, CLIENT
/// PAUSE): a non-negative integer.
pub fn parse_timeout_ms(arg: &[u8]) -> Result<i64, &'static str> {
    match crate::util::num::parse_i64(arg) {
        None => Err("ERR timeout is not an integer or out of range"),
        Some(ms) if ms < 0 => Err("ERR timeout is negative"),
        Some(ms) => Ok(ms),
    }
}

/// Redis's getTimeoutFromObjectOrReply for blocking commands: seconds as
/// a double, returned as an absolute deadline in unix ms (None: forever).
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<Option<i64>, &'static str> {
    let secs =
        crate::util::num::parse_f64(arg).ok_or("ERR timeout is not a float or out of range")?;
    let ms = (secs * 1000.0).ceil();
    // Redis casts to long long: values beyond its range (inf included)
    // come out as LLONG_MIN on the machines Redis runs on, hence negative.
    // (NaN is outside every range too.)
    if !(0.0..(i64::MAX as f64)).contains(&ms) {
        return Err("ERR timeout is negative");
    }
    let ms = ms as i64;
    Ok(if ms == 0 {
        None
    } else {
        Some(now_ms.saturating_add(ms))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::client::Blocked;

    fn blocked_client(srv: &mut Server, id: ClientId, key: &str) {
        let mut c = Client::new(id, "127.0.0.1:1".into(), "127.0.0.1:2".into(), 1, 0, true);
        let keys = vec![Bytes::copy_from_slice(key.as_bytes())];
        register(srv, &c, &keys);
        c.blocked = Some(Blocked {
            args: ["blpop", key, "0"]
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect(),
            deadline: None,
            reason: BlockReason::Keys,
            keys,
        });
        srv.clients.insert(id, Box::new(c));
    }

    #[test]
    fn unblock_with_error_counts_the_call_and_forgets_the_client() {
        let mut srv = Server::new(crate::commands::testutil::test_config());
        blocked_client(&mut srv, 7, "k");
        blocked_client(&mut srv, 8, "k");
        assert_eq!(srv.blocking.blocked_clients, 2);
        assert!(unblock_by_request(&mut srv, 7, true));
        assert!(!unblock_by_request(&mut srv, 7, true));
        assert_eq!(srv.blocking.blocked_clients, 1);
        let q: Vec<ClientId> = srv.blocking.by_key[&(0, Bytes::from_static(b"k"))]
            .iter()
            .copied()
            .collect();
        assert_eq!(q, [8]);
        let st = srv.stats.command_stat("blpop");
        assert_eq!((st.calls, st.failed_calls), (1, 1));
        assert_eq!(srv.stats.errors.get("UNBLOCKED"), Some(&1));
        let out = String::from_utf8_lossy(&srv.clients[&7].out).into_owned();
        assert_eq!(out, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
        // TIMEOUT: the null array, counted as a call without failure.
        assert!(unblock_by_request(&mut srv, 8, false));
        assert_eq!(srv.clients[&8].out, b"*-1\r\n");
        assert_eq!(srv.stats.command_stat("blpop").calls, 2);
        assert_eq!(srv.blocking.blocked_clients, 0);
        assert!(srv.blocking.by_key.is_empty());
    }

    #[test]
    fn rerun_that_blocks_again_keeps_place_and_count() {
        let mut srv = Server::new(crate::commands::testutil::test_config());
        blocked_client(&mut srv, 7, "k");
        blocked_client(&mut srv, 8, "k");
        // The key appears as a string: both stay blocked, in order.
        srv.dbs[0].set(b"k", crate::keyspace::Value::string(b"v"), false, 0);
        srv.blocking.signal(0, b"k");
        serve_ready_keys(&mut srv);
        assert_eq!(srv.blocking.blocked_clients, 2);
        assert!(srv.clients[&7].blocked.is_some() && srv.clients[&7].out.is_empty());
        // Now a one-element list: the first client is served, the second
        // stays blocked after its re-run finds the list deleted.
        let list: crate::keyspace::list::ListValue = [&b"x"[..]].into_iter().collect();
        srv.dbs[0].remove(b"k");
        srv.dbs[0].set(b"k", crate::keyspace::Value::List(Box::new(list)), false, 0);
        srv.blocking.signal(0, b"k");
        serve_ready_keys(&mut srv);
        assert_eq!(srv.clients[&7].out, b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
        assert!(srv.clients[&7].blocked.is_none());
        assert!(srv.clients[&8].blocked.is_some());
        assert_eq!(srv.blocking.blocked_clients, 1);
        assert!(srv.dbs[0].get(b"k").is_none());
    }

    #[test]
    fn swapdb_scan_signals_only_existing_waited_keys() {
        let mut srv = Server::new(crate::commands::testutil::test_config());
        blocked_client(&mut srv, 7, "here");
        blocked_client(&mut srv, 8, "absent");
        srv.dbs[0].set(b"here", crate::keyspace::Value::string(b"v"), false, 0);
        srv.dbs[0].set(b"unwaited", crate::keyspace::Value::string(b"v"), false, 0);
        signal_existing_keys(&mut srv, 0);
        assert_eq!(srv.blocking.ready, vec![(0, Bytes::from_static(b"here"))]);
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout(b"0", 1000), Ok(None));
        assert_eq!(parse_timeout(b"0.5", 1000), Ok(Some(1500)));
        assert_eq!(parse_timeout(b"-1", 0), Err("ERR timeout is negative"));
        assert!(parse_timeout(b"abc", 0).is_err());
        assert_eq!(parse_timeout(b"inf", 0), Err("ERR timeout is negative"));
        assert_eq!(parse_timeout(b"1e16", 0), Err("ERR timeout is negative"));
        assert_eq!(parse_timeout(b"-0", 5), Ok(None));
        assert_eq!(parse_timeout(b"0.0001", 5), Ok(Some(6)));
    }
}
