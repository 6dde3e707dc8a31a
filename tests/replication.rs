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
//!
//! Replica side (keel follows a master):
//! - `keel_replica_of_keel`: full sync of several databases, then the
//!   stream (MULTI/EXEC, expiries, deletions, SELECTs) until both datasets
//!   are equal; READONLY for normal clients; INFO replication, ROLE on
//!   both sides, CLIENT LIST's M flag, WAIT; REPLICAOF NO ONE promotes
//!   with the data kept and writes accepted.
//! - `keel_replica_of_redis`: the same against a real redis-server master
//!   (diskless `$EOF:` transfer), a killed link resumed with +CONTINUE,
//!   and a redis-server replica chained behind the keel replica gets the
//!   master's stream.
//! - `keel_replica_reconnects_after_master_restart`: the master restarts
//!   empty on the same port; the replica syncs again and follows it.
//! - `wait_times_out_with_the_acks_it_got`: WAIT for more replicas than
//!   exist answers the count at its timeout; on a replica WAIT is refused.

mod common;

use common::rdb::{assert_same_dataset, record_dataset, Compare};
use common::{poll_until, redis_or_skip, RawConn, Server};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// The next command of a replication stream, as strings (newlines sent
/// as keep-alives before the payload are skipped by the caller, the
/// master's periodic PINGs here).
fn next_command(c: &mut RawConn) -> Vec<String> {
    loop {
        let cmd = next_frame(c);
        if cmd != ["PING"] {
            return cmd;
        }
    }
}

fn next_frame(c: &mut RawConn) -> Vec<String> {
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
    let rdb = c.sync(WAIT);
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
    // PUBLISH reaches the replicas (for their subscribers), alone even
    // inside a transaction.
    r.cmd_str(&["MULTI"]);
    r.cmd_str(&["PUBLISH", "ch", "msg"]);
    r.cmd_str(&["EXEC"]);
    assert_eq!(next_command(&mut repl), ["PUBLISH", "ch", "msg"]);
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

/// Polls until INFO replication of `c` says the link is up.
fn link_up(c: &mut RawConn) -> bool {
    poll_until(WAIT, || {
        c.cmd_str(&["INFO", "replication"])
            .contains("master_link_status:up")
    })
}

/// The value of `field` in INFO replication.
fn info_field(c: &mut RawConn, field: &str) -> String {
    let info = c.cmd_str(&["INFO", "replication"]);
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_default()
}

/// Polls until the replica reached the master's offset (every write sent
/// so far is applied).
fn caught_up(m: &mut RawConn, r: &mut RawConn) -> bool {
    poll_until(WAIT, || {
        let want = info_field(m, "master_repl_offset");
        !want.is_empty() && info_field(r, "master_repl_offset") == want
    })
}

/// Writes of every kind the stream must carry, in several databases.
fn write_mix(m: &mut RawConn) {
    m.cmd_str(&["SELECT", "0"]);
    m.cmd_str(&["APPEND", "s", " world"]);
    m.cmd_str(&["MULTI"]);
    m.cmd_str(&["LPOP", "l"]);
    m.cmd_str(&["SADD", "set", "x", "y"]);
    m.cmd_str(&["EXPIRE", "set", "5000"]);
    assert_eq!(m.cmd_str(&["EXEC"]).as_bytes()[0], b'*');
    m.cmd_str(&["SET", "px", "v", "PX", "100000"]);
    m.cmd_str(&["DEL", "h"]);
    m.cmd_str(&["SELECT", "7"]);
    m.cmd_str(&["INCRBY", "counter", "41"]);
    m.cmd_str(&["INCR", "counter"]);
    m.cmd_str(&["XADD", "st", "1-1", "f", "v"]);
    m.cmd_str(&["SELECT", "3"]);
    m.cmd_str(&["ZINCRBY", "z", "5", "one"]);
}

fn seed(m: &mut RawConn) {
    m.cmd_str(&["SET", "s", "hello"]);
    m.cmd_str(&["HSET", "h", "f1", "v1", "f2", "v2"]);
    m.cmd_str(&["RPUSH", "l", "a", "b", "c"]);
    m.cmd_str(&["SELECT", "3"]);
    m.cmd_str(&["ZADD", "z", "1", "one", "2", "two"]);
    m.cmd_str(&["SET", "ttl", "v", "EX", "1000"]);
    m.cmd_str(&["SELECT", "0"]);
}

fn assert_same(what: &str, m: &mut RawConn, r: &mut RawConn) {
    let expected = record_dataset(m, None);
    let actual = record_dataset(r, None);
    assert_same_dataset(
        what,
        &expected,
        &actual,
        Compare {
            functions: false,
            idle_slack: 1_000_000,
        },
    );
}

#[test]
fn keel_replica_of_keel() {
    let master = Server::keel();
    let mut m = master.conn();
    seed(&mut m);
    let port = master.addr().port().to_string();
    let replica = Server::keel_with(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    assert!(link_up(&mut r), "{}", replica.log());
    write_mix(&mut m);
    assert!(caught_up(&mut m, &mut r), "{}", replica.log());
    assert_same("keel replica of keel", &mut m, &mut r);
    assert_eq!(
        info_field(&mut r, "master_replid"),
        info_field(&mut m, "master_replid"),
        "the replica keeps the master's replication ID"
    );

    // Normal clients cannot write; reads are served.
    r.cmd_str(&["SELECT", "0"]);
    assert_eq!(
        r.cmd_str(&["SET", "k", "v"]),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(r.cmd_str(&["GET", "s"]), "$11\r\nhello world\r\n");
    let info = r.cmd_str(&["INFO", "replication"]);
    for line in [
        "role:slave",
        &format!("master_port:{port}"),
        "master_sync_in_progress:0",
        "slave_read_only:1",
        "replica_announced:1",
        "slave_priority:100",
    ] {
        assert!(info.contains(line), "{line} in {info}");
    }
    let role = r.cmd_str(&["ROLE"]);
    assert!(
        role.starts_with(&format!(
            "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$9\r\nconnected\r\n:"
        )),
        "{role}"
    );
    let list = r.cmd_str(&["CLIENT", "LIST"]);
    assert!(list.contains("flags=M"), "the master client: {list}");
    // The master side: ROLE lists the replica, WAIT counts its ACK.
    let mrole = m.cmd_str(&["ROLE"]);
    assert!(mrole.starts_with("*3\r\n$6\r\nmaster\r\n:"), "{mrole}");
    assert!(mrole.contains("*1\r\n*3\r\n$9\r\n127.0.0.1\r\n"), "{mrole}");
    m.cmd_str(&["SET", "waited", "1"]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "0"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["GET", "waited"]), "$1\r\n1\r\n");

    // Promotion: the data stays, writes are accepted, the old ID is
    // kept as replid2.
    let old_id = info_field(&mut r, "master_replid");
    assert_eq!(r.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(info_field(&mut r, "role"), "master");
    assert_eq!(info_field(&mut r, "master_replid2"), old_id);
    assert_eq!(r.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(r.cmd_str(&["GET", "s"]), "$11\r\nhello world\r\n");
    m.cmd_str(&["SET", "after-promotion", "1"]);
    assert_eq!(r.cmd_str(&["EXISTS", "after-promotion"]), ":0\r\n");
    assert!(r.cmd_str(&["ROLE"]).starts_with("*3\r\n$6\r\nmaster\r\n"));
}

#[test]
fn keel_replica_of_redis() {
    let Some(master) = redis_or_skip("keel_replica_of_redis") else {
        return;
    };
    let mut m = master.conn();
    m.cmd_str(&["CONFIG", "SET", "repl-diskless-sync-delay", "0"]);
    seed(&mut m);
    let port = master.addr().port().to_string();
    let replica = Server::keel();
    let mut r = replica.conn();
    assert_eq!(r.cmd_str(&["REPLICAOF", "127.0.0.1", &port]), "+OK\r\n");
    assert_eq!(
        r.cmd_str(&["REPLICAOF", "127.0.0.1", &port]),
        "+OK Already connected to specified master\r\n"
    );
    assert!(link_up(&mut r), "{}", replica.log());
    assert!(replica
        .log()
        .contains("receiving streamed RDB from master with EOF"));
    write_mix(&mut m);
    assert!(caught_up(&mut m, &mut r), "{}", replica.log());
    assert_same("keel replica of redis", &mut m, &mut r);

    // A redis-server replica of the keel replica: the chain carries the
    // master's stream with the master's offsets.
    let rport = replica.addr().port().to_string();
    let sub = Server::redis_with(&["--replicaof", "127.0.0.1", &rport]);
    let mut s = sub.conn();
    assert!(link_up(&mut s), "{}", sub.log());

    // The link dies: the replica continues where it was (+CONTINUE).
    m.cmd_str(&["CLIENT", "KILL", "TYPE", "replica"]);
    m.cmd_str(&["SELECT", "7"]);
    m.cmd_str(&["INCR", "counter"]);
    assert!(
        poll_until(WAIT, || replica
            .log()
            .contains("Successful partial resynchronization with master.")),
        "{}",
        replica.log()
    );
    assert!(caught_up(&mut m, &mut r), "{}", replica.log());
    assert!(caught_up(&mut m, &mut s), "{}", sub.log());
    assert_same("keel replica of redis after +CONTINUE", &mut m, &mut r);
    // (Loaded from an RDB, its strings may be encoded differently: the
    // digest compares the data.)
    assert_eq!(
        s.cmd_str(&["DEBUG", "DIGEST"]),
        m.cmd_str(&["DEBUG", "DIGEST"]),
        "the redis replica of the keel replica has the master's data"
    );
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
}

#[test]
fn keel_replica_reconnects_after_master_restart() {
    let mut master = Server::keel();
    let mport = master.port;
    let mut m = master.conn();
    m.cmd_str(&["SET", "old", "1"]);
    let replica = Server::keel_with(&["--replicaof", "127.0.0.1", &mport.to_string()]);
    let mut r = replica.conn();
    assert!(link_up(&mut r));
    assert!(caught_up(&mut m, &mut r));
    assert_eq!(r.cmd_str(&["GET", "old"]), "$1\r\n1\r\n");
    master.kill9();
    assert!(
        poll_until(WAIT, || info_field(&mut r, "master_link_status") == "down"),
        "the replica notices"
    );
    assert_eq!(
        r.cmd_str(&["GET", "old"]),
        "$1\r\n1\r\n",
        "stale data is served meanwhile"
    );
    let master = Server::start_on_port(common::Kind::Keel, mport, &[]);
    let mut m = master.conn();
    m.cmd_str(&["SET", "new", "2"]);
    assert!(link_up(&mut r), "{}", replica.log());
    assert!(caught_up(&mut m, &mut r), "{}", replica.log());
    assert_eq!(r.cmd_str(&["GET", "new"]), "$1\r\n2\r\n");
    assert_eq!(
        r.cmd_str(&["EXISTS", "old"]),
        ":0\r\n",
        "the new master's data"
    );
}

#[test]
fn wait_times_out_with_the_acks_it_got() {
    let master = Server::keel();
    let mut m = master.conn();
    assert_eq!(m.cmd_str(&["WAIT", "0", "0"]), ":0\r\n");
    assert_eq!(
        m.cmd_str(&["WAIT", "1", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    m.cmd_str(&["SET", "a", "1"]);
    let t0 = std::time::Instant::now();
    assert_eq!(m.cmd_str(&["WAIT", "1", "200"]), ":0\r\n");
    assert!(t0.elapsed() >= Duration::from_millis(200));
    let port = master.addr().port().to_string();
    let replica = Server::keel_with(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    assert!(link_up(&mut r));
    m.cmd_str(&["SET", "a", "2"]);
    assert_eq!(m.cmd_str(&["WAIT", "2", "300"]), ":1\r\n");
    assert!(r
        .cmd_str(&["WAIT", "1", "0"])
        .starts_with("-ERR WAIT cannot be used with replica instances."));
}

#[test]
fn chained_keel_replicas_share_the_stream_and_its_database() {
    let master = Server::keel();
    let mut m = master.conn();
    let port = master.addr().port().to_string();
    let replica = Server::keel_with(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    assert!(link_up(&mut r));
    m.cmd_str(&["SELECT", "5"]);
    m.cmd_str(&["SET", "a", "1"]);
    assert!(caught_up(&mut m, &mut r));
    // The sub-replica attaches while the stream is in database 5: the
    // RDB's repl-stream-db tells it where the next command goes.
    let rport = replica.addr().port().to_string();
    let sub = Server::keel_with(&["--replicaof", "127.0.0.1", &rport]);
    let mut s = sub.conn();
    assert!(link_up(&mut s), "{}", sub.log());
    m.cmd_str(&["SET", "b", "2"]);
    assert!(caught_up(&mut m, &mut s), "{}", sub.log());
    s.cmd_str(&["SELECT", "5"]);
    assert_eq!(s.cmd_str(&["GET", "b"]), "$1\r\n2\r\n");
    assert_eq!(
        info_field(&mut s, "master_replid"),
        info_field(&mut m, "master_replid"),
        "one replication ID down the chain"
    );
    assert_same("sub-replica", &mut m, &mut s);
}

#[test]
fn a_writable_replica_expires_its_own_keys() {
    let master = Server::keel();
    let port = master.addr().port().to_string();
    let replica = Server::keel_with(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--replica-read-only",
        "no",
    ]);
    let mut r = replica.conn();
    assert!(link_up(&mut r));
    assert_eq!(r.cmd_str(&["SET", "local", "v", "PX", "1"]), "+OK\r\n");
    assert!(
        poll_until(WAIT, || r
            .cmd_str(&["INFO", "stats"])
            .contains("expired_keys:1\r\n")),
        "the cron deleted the replica's own expired key"
    );
    assert_eq!(r.cmd_str(&["GET", "local"]), "$-1\r\n");
}

#[test]
fn masterauth_and_masteruser_authenticate_the_link() {
    let master = Server::keel_with(&["--requirepass", "s3cret"]);
    let mut m = master.conn();
    assert_eq!(m.cmd_str(&["AUTH", "s3cret"]), "+OK\r\n");
    m.cmd_str(&["SET", "k", "v"]);
    let port = master.addr().port().to_string();
    let bad = Server::keel_with(&["--replicaof", "127.0.0.1", &port, "--masterauth", "nope"]);
    assert!(
        poll_until(WAIT, || bad
            .log()
            .contains("Unable to AUTH to MASTER: -WRONGPASS")),
        "{}",
        bad.log()
    );
    let replica = Server::keel_with(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--masteruser",
        "default",
        "--masterauth",
        "s3cret",
    ]);
    let mut r = replica.conn();
    assert!(link_up(&mut r), "{}", replica.log());
    assert_eq!(r.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    let mut b = bad.conn();
    assert_eq!(info_field(&mut b, "master_link_status"), "down");
}
