//! Replication, master side: keel serves SYNC/PSYNC with a full
//! resynchronisation (an RDB from a forked BGSAVE) followed by the stream
//! of propagated commands.
//!
//! - `sync_stream_as_redis_sends_it`: a raw SYNC (what Redis's own test
//!   suite does in attach_to_replication_stream) gets `$<len>` + an RDB,
//!   then exactly the commands Redis 7.0 propagates: SELECT before the
//!   first, absolute expiries, a one-command transaction unwrapped, a
//!   two-command one in MULTI/EXEC, lazy-expiry DELs of SCAN alone.
//! - `redis_server_replicates_from_keel`: a real redis-server 7.0.15
//!   started with `replicaof` keel gets the dataset written before it
//!   attached and every write after, in several databases; INFO
//!   replication on keel shows it online. Skips when redis-server is not
//!   installed.

mod common;

use common::rdb::{assert_same_dataset, record_dataset, Compare};
use common::{poll_until, redis_or_skip, RawConn, Server};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// The next command of a replication stream, as strings (newlines sent
/// as keep-alives before the payload are skipped by the caller).
fn next_command(c: &mut RawConn) -> Vec<String> {
    let frame = c.read_reply(WAIT).expect("a command in the stream");
    let text = String::from_utf8_lossy(&frame).into_owned();
    let mut lines = text.split("\r\n");
    let n: usize = lines.next().unwrap()[1..].parse().unwrap();
    (0..n)
        .map(|_| {
            lines.next();
            lines.next().unwrap().to_string()
        })
        .collect()
}

/// Sends SYNC and reads the RDB payload; returns the connection, now
/// reading the stream.
fn attach(srv: &Server) -> (RawConn, Vec<u8>) {
    let mut c = srv.conn();
    c.send(b"SYNC\r\n");
    let header = loop {
        let line = c.read_line(WAIT).expect("the bulk header");
        if !line.is_empty() {
            break line;
        }
    };
    assert_eq!(
        header[0],
        b'$',
        "bulk header, got {:?}",
        String::from_utf8_lossy(&header)
    );
    let len: usize = std::str::from_utf8(&header[1..]).unwrap().parse().unwrap();
    let rdb = c.read_bytes(len, WAIT).expect("the RDB payload");
    (c, rdb)
}

#[test]
fn sync_stream_as_redis_sends_it() {
    let srv = Server::keel();
    let mut r = srv.conn();
    r.cmd_str(&["SET", "before", "1"]);
    let (mut repl, rdb) = attach(&srv);
    assert!(rdb.starts_with(b"REDIS0010"), "an RDB payload");
    assert!(
        rdb.windows(6).any(|w| w == b"before"),
        "the payload holds the data written before SYNC"
    );

    assert_eq!(r.cmd_str(&["SET", "a", "1"]), "+OK\r\n");
    assert_eq!(next_command(&mut repl), ["SELECT", "0"]);
    assert_eq!(next_command(&mut repl), ["SET", "a", "1"]);

    // A transaction with one write: not wrapped (Redis 7.0).
    r.cmd_str(&["MULTI"]);
    r.cmd_str(&["INCR", "n"]);
    r.cmd_str(&["GET", "a"]);
    r.cmd_str(&["EXEC"]);
    assert_eq!(next_command(&mut repl), ["INCR", "n"]);
    // Two writes: wrapped.
    r.cmd_str(&["MULTI"]);
    r.cmd_str(&["INCR", "n"]);
    r.cmd_str(&["EXPIRE", "n", "100"]);
    r.cmd_str(&["EXEC"]);
    assert_eq!(next_command(&mut repl), ["MULTI"]);
    assert_eq!(next_command(&mut repl), ["INCR", "n"]);
    let pexpireat = next_command(&mut repl);
    assert_eq!(pexpireat[..2], ["PEXPIREAT", "n"], "absolute expiry");
    assert_eq!(next_command(&mut repl), ["EXEC"]);

    // Another database: a SELECT first.
    r.cmd_str(&["SELECT", "5"]);
    r.cmd_str(&["DEL", "nothing"]);
    r.cmd_str(&["SET", "x", "y"]);
    assert_eq!(next_command(&mut repl), ["SELECT", "5"]);
    assert_eq!(next_command(&mut repl), ["SET", "x", "y"]);

    // SCAN's lazy expiry: two DELs, not wrapped.
    r.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    r.cmd_str(&["SET", "e1", "v", "PX", "1"]);
    r.cmd_str(&["SET", "e2", "v", "PX", "1"]);
    for key in ["e1", "e2"] {
        let set = next_command(&mut repl);
        assert_eq!(set[..3], ["SET", key, "v"]);
        assert_eq!(set[3], "PXAT", "relative expiry propagated as absolute");
    }
    // The keys expire by the clock; the PTTL reads do not delete them.
    let t0 = std::time::Instant::now();
    assert!(poll_until(WAIT, || t0.elapsed() >= Duration::from_millis(5)));
    r.cmd_str(&["SCAN", "0"]);
    let mut dels = vec![next_command(&mut repl), next_command(&mut repl)];
    dels.sort();
    assert_eq!(dels, [vec!["DEL", "e1"], vec!["DEL", "e2"]]);
    r.cmd_str(&["SET", "after", "1"]);
    assert_eq!(next_command(&mut repl), ["SET", "after", "1"]);
}

#[test]
fn redis_server_replicates_from_keel() {
    let Some(_probe) = redis_or_skip("redis_server_replicates_from_keel") else {
        return;
    };
    drop(_probe);
    let master = Server::keel();
    let mut m = master.conn();
    m.cmd_str(&["SET", "s", "hello"]);
    m.cmd_str(&["HSET", "h", "f1", "v1", "f2", "v2"]);
    m.cmd_str(&["RPUSH", "l", "a", "b", "c"]);
    m.cmd_str(&["SELECT", "3"]);
    m.cmd_str(&["ZADD", "z", "1", "one", "2", "two"]);
    m.cmd_str(&["SET", "ttl", "v", "EX", "1000"]);
    let port = master.addr().port().to_string();
    let replica = Server::redis_with(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    assert!(
        poll_until(WAIT, || r
            .cmd_str(&["INFO", "replication"])
            .contains("master_link_status:up")),
        "the replica finished its sync"
    );
    // Writes after the sync, in several databases and a transaction.
    m.cmd_str(&["SELECT", "0"]);
    m.cmd_str(&["APPEND", "s", " world"]);
    m.cmd_str(&["MULTI"]);
    m.cmd_str(&["LPOP", "l"]);
    m.cmd_str(&["SADD", "set", "x", "y"]);
    m.cmd_str(&["EXEC"]);
    m.cmd_str(&["SELECT", "7"]);
    m.cmd_str(&["INCRBY", "counter", "41"]);
    m.cmd_str(&["INCR", "counter"]);
    assert!(
        poll_until(WAIT, || {
            r.cmd_str(&["SELECT", "7"]);
            r.cmd_str(&["GET", "counter"]) == "$2\r\n42\r\n"
        }),
        "the stream reached the replica"
    );
    let info = m.cmd_str(&["INFO", "replication"]);
    assert!(info.contains("connected_slaves:1"), "{info}");
    assert!(info.contains(",state=online,"), "{info}");
    let expected = record_dataset(&mut m, None);
    let actual = record_dataset(&mut r, None);
    assert_same_dataset(
        "replica of keel",
        &expected,
        &actual,
        Compare {
            functions: false,
            idle_slack: 1_000_000,
        },
    );
}

#[test]
fn rdb_del_sync_files_removes_the_sync_rdb_of_a_persistence_less_node() {
    let srv = Server::keel_with(&["--save", "", "--rdb-del-sync-files", "yes"]);
    let mut r = srv.conn();
    r.cmd_str(&["SET", "k", "v"]);
    let (mut repl, rdb) = attach(&srv);
    assert!(rdb.starts_with(b"REDIS0010"));
    let dump = srv.dir().join("dump.rdb");
    assert!(
        poll_until(WAIT, || !dump.exists()),
        "the RDB used for the sync is removed once the replica is online"
    );
    assert!(srv
        .log()
        .contains("Removing the RDB file used to feed replicas in a persistence-less instance"));
    // The replica still follows.
    r.cmd_str(&["SET", "k2", "v2"]);
    assert_eq!(next_command(&mut repl), ["SELECT", "0"]);
    assert_eq!(next_command(&mut repl), ["SET", "k2", "v2"]);
}
