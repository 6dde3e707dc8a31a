//! SHUTDOWN with replicas (Redis 7.0): a master waits up to
//! shutdown-timeout seconds for its replicas to acknowledge its offset,
//! holding writes meanwhile, then exits; SHUTDOWN ABORT cancels.
//!
//! The replica here is a raw connection that did SYNC and acknowledges
//! (REPLCONF ACK) only when the test says so, so every step is decided by
//! the test rather than by timing.
//!
//! - `master_waits_for_the_replica_to_acknowledge_then_exits`: SHUTDOWN
//!   blocks, INFO shows shutdown_in_milliseconds, a write waits, the
//!   replica gets REPLCONF GETACK; once it acknowledges the offset the
//!   master exits and logs "1 of 1 replicas are in sync".
//! - `sigterm_waits_for_the_replica_too`: the same started by SIGTERM.
//! - `a_lagging_replica_is_given_up_after_the_timeout`: shutdown-timeout 1
//!   and no ACK: "Lagging replica" and "0 of 1 replicas are in sync".
//! - `abort_answers_the_blocked_clients_and_resumes_writes`: two blocked
//!   SHUTDOWNs get the error, the held write runs.
//! - `a_replica_that_stops_reading_shows_in_the_replication_buffers`:
//!   mem_total_replication_buffers / mem_clients_slaves grow while the
//!   replica reads nothing, and drop to 0 once it is killed (the
//!   connection's pending write is cut short).

mod common;

use common::{poll_until, RawConn, Server};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// A raw replica: SYNC, then the RDB payload is read; the connection is
/// left reading the stream.
fn attach(srv: &Server) -> RawConn {
    let mut c = srv.conn();
    c.sync(WAIT);
    c
}

fn info_field(c: &mut RawConn, section: &str, field: &str) -> Option<String> {
    let info = c.cmd_str(&["INFO", section]);
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
}

fn master_offset(c: &mut RawConn) -> String {
    info_field(c, "replication", "master_repl_offset").expect("master_repl_offset")
}

/// Sends REPLCONF ACK with the master's current offset.
fn ack_all(replica: &mut RawConn, m: &mut RawConn) {
    let off = master_offset(m);
    replica.send_cmd(&["REPLCONF", "ACK", &off]);
}

/// Reads the stream until REPLCONF GETACK arrives.
fn expect_getack(replica: &mut RawConn) {
    loop {
        let frame = replica.read_reply(WAIT).expect("a command in the stream");
        let text = String::from_utf8_lossy(&frame).to_ascii_uppercase();
        if text.contains("GETACK") {
            return;
        }
    }
}

fn shutdown_in_progress(c: &mut RawConn) -> bool {
    poll_until(WAIT, || {
        info_field(c, "server", "shutdown_in_milliseconds")
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|ms| ms > 0)
    })
}

/// A master with one raw replica that acknowledged everything so far, and
/// one more write the replica has not acknowledged.
fn master_with_lagging_replica(extra: &[&str]) -> (Server, RawConn, RawConn) {
    let master = Server::keel_with(extra);
    let mut m = master.conn();
    let mut replica = attach(&master);
    assert_eq!(m.cmd_str(&["SET", "k", "1"]), "+OK\r\n");
    ack_all(&mut replica, &mut m);
    assert!(poll_until(WAIT, || m
        .cmd_str(&["INFO", "replication"])
        .contains(&format!("offset={}", master_offset(&mut m)))));
    assert_eq!(m.cmd_str(&["INCR", "k"]), ":2\r\n");
    (master, m, replica)
}

#[test]
fn master_waits_for_the_replica_to_acknowledge_then_exits() {
    let (mut master, mut m, mut replica) = master_with_lagging_replica(&[]);
    let mut shut = master.conn();
    shut.send_cmd(&["SHUTDOWN"]);
    assert!(shutdown_in_progress(&mut m));
    // Writes are held; reads go on.
    let mut writer = master.conn();
    writer.send_cmd(&["SET", "held", "1"]);
    assert_eq!(m.cmd_str(&["GET", "k"]), "$1\r\n2\r\n");
    assert!(master.alive());
    expect_getack(&mut replica);
    ack_all(&mut replica, &mut m);
    assert!(master.wait_exit(WAIT).is_some(), "the master exits");
    let log = master.log();
    assert!(
        log.contains("Waiting for replicas before shutting down."),
        "{log}"
    );
    assert!(
        log.contains("1 of 1 replicas are in sync when shutting down."),
        "{log}"
    );
    assert!(!log.contains("Lagging replica"), "{log}");
    assert!(log.contains("ready to exit, bye bye"), "{log}");
    assert!(!log.contains("held"));
}

#[test]
fn sigterm_waits_for_the_replica_too() {
    let (mut master, mut m, mut replica) = master_with_lagging_replica(&[]);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &master.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(shutdown_in_progress(&mut m));
    expect_getack(&mut replica);
    ack_all(&mut replica, &mut m);
    assert!(master.wait_exit(WAIT).is_some(), "the master exits");
    let log = master.log();
    assert!(
        log.contains("Received SIGTERM scheduling shutdown..."),
        "{log}"
    );
    assert!(
        log.contains("1 of 1 replicas are in sync when shutting down."),
        "{log}"
    );
}

#[test]
fn a_lagging_replica_is_given_up_after_the_timeout() {
    let (mut master, mut m, _replica) = master_with_lagging_replica(&["--shutdown-timeout", "1"]);
    let mut shut = master.conn();
    shut.send_cmd(&["SHUTDOWN"]);
    assert!(shutdown_in_progress(&mut m));
    assert!(master.wait_exit(WAIT).is_some(), "the master exits");
    let log = master.log();
    assert!(log.contains("Lagging replica"), "{log}");
    assert!(
        log.contains("0 of 1 replicas are in sync when shutting down."),
        "{log}"
    );
}

#[test]
fn abort_answers_the_blocked_clients_and_resumes_writes() {
    let (mut master, mut m, _replica) = master_with_lagging_replica(&[]);
    let mut rd1 = master.conn();
    let mut rd2 = master.conn();
    rd1.send_cmd(&["SHUTDOWN"]);
    rd2.send_cmd(&["SHUTDOWN"]);
    assert!(shutdown_in_progress(&mut m));
    assert!(poll_until(WAIT, || {
        info_field(&mut m, "clients", "blocked_clients").as_deref() == Some("2")
    }));
    let mut writer = master.conn();
    writer.send_cmd(&["SET", "held", "1"]);
    // NOW, FORCE and the like cannot be combined with ABORT.
    assert_eq!(
        m.cmd_str(&["SHUTDOWN", "ABORT", "NOW"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(m.cmd_str(&["SHUTDOWN", "ABORT"]), "+OK\r\n");
    let err = "-ERR Errors trying to SHUTDOWN. Check logs.\r\n";
    assert_eq!(String::from_utf8_lossy(&rd1.reply()), err);
    assert_eq!(String::from_utf8_lossy(&rd2.reply()), err);
    assert_eq!(String::from_utf8_lossy(&writer.reply()), "+OK\r\n");
    assert!(info_field(&mut m, "server", "shutdown_in_milliseconds").is_none());
    assert_eq!(
        m.cmd_str(&["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    assert!(master.alive());
    assert!(master.log().contains("Shutdown manually aborted."));
    // NOW exits without waiting for the replica.
    m.send_cmd(&["SHUTDOWN", "NOW"]);
    assert!(master.wait_exit(WAIT).is_some());
    assert!(master.log().contains("0 of 1 replicas are in sync"));
}

#[test]
fn a_replica_that_stops_reading_shows_in_the_replication_buffers() {
    let master = Server::keel();
    let mut m = master.conn();
    let _replica = attach(&master);
    let buffers = |m: &mut RawConn| -> u64 {
        info_field(m, "memory", "mem_total_replication_buffers")
            .unwrap()
            .parse()
            .unwrap()
    };
    let value = "x".repeat(1024);
    let mut i = 0;
    assert!(poll_until(Duration::from_secs(30), || {
        for _ in 0..256 {
            i += 1;
            m.send_cmd(&["SET", &format!("k{i}"), &value]);
        }
        for _ in 0..256 {
            m.reply();
        }
        buffers(&mut m) > 2 * 1024 * 1024
    }));
    let slaves = info_field(&mut m, "memory", "mem_clients_slaves").unwrap();
    assert!(slaves.parse::<u64>().unwrap() > 2 * 1024 * 1024);
    assert_eq!(m.cmd_str(&["CLIENT", "KILL", "TYPE", "replica"]), ":1\r\n");
    assert!(poll_until(WAIT, || buffers(&mut m) == 0));
    assert!(poll_until(WAIT, || {
        info_field(&mut m, "replication", "connected_slaves").as_deref() == Some("0")
    }));
}
