//! A failing disk under the AOF (issue 6 point 5), provoked with a file
//! size limit set on the running server (prlimit RLIMIT_FSIZE): writes
//! past it fail with EFBIG. Under everysec keel refuses writes with
//! MISCONF until the disk recovers, then goes on; under always it exits.
//! Either way every acknowledged write is there after a restart.

mod common;

use common::{poll_until, Kind, RawConn, Server};
use std::process::Command;
use std::time::Duration;

fn prlimit_available() -> bool {
    Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn limit_file_size(pid: u32, limit: &str) {
    let st = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}")])
        .status()
        .expect("prlimit");
    assert!(st.success(), "prlimit failed");
}

/// A keel with the AOF on under `policy` whose files may not grow past
/// 64 KB (soft limit, liftable); None (test skipped) without prlimit.
fn limited_server(policy: &str) -> Option<(tempfile::TempDir, Server)> {
    if !prlimit_available() {
        eprintln!("SKIPPED: prlimit is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_in(
        Kind::Keel,
        dir.path(),
        &["--appendonly", "yes", "--appendfsync", policy],
    );
    limit_file_size(srv.pid(), "65536:unlimited");
    Some((dir, srv))
}

fn value(i: usize) -> String {
    format!("{i}:{}", "v".repeat(1000))
}

/// Writes keys until a write is refused; returns (acknowledged keys, the
/// refusal, or None if the connection dropped).
fn write_until_refused(c: &mut RawConn) -> (Vec<usize>, Option<String>) {
    let mut acked = Vec::new();
    for i in 0..10_000 {
        let key = format!("k{i}");
        c.send_cmd(&["SET", key.as_str(), value(i).as_str()]);
        match c.read_reply(Duration::from_secs(10)) {
            Ok(r) if r == b"+OK\r\n" => acked.push(i),
            Ok(r) => return (acked, Some(String::from_utf8_lossy(&r).into_owned())),
            Err(_) => return (acked, None),
        }
    }
    panic!("the file size limit never stopped a write");
}

fn info_has(c: &mut RawConn, line: &str) -> bool {
    String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).contains(line)
}

fn check_all_present(srv: &Server, acked: &[usize]) {
    let mut c = srv.conn();
    for &i in acked {
        let key = format!("k{i}");
        let want = value(i);
        let got = c.cmd(&["GET", key.as_str()]);
        let expect = format!("${}\r\n{}\r\n", want.len(), want);
        assert_eq!(got, expect.as_bytes(), "acknowledged {key} lost");
    }
}

#[test]
fn everysec_write_error_refuses_writes_then_recovers() {
    let Some((dir, mut srv)) = limited_server("everysec") else {
        return;
    };
    let mut c = srv.conn();
    let (acked, refusal) = write_until_refused(&mut c);
    eprintln!(
        "everysec: {} writes acknowledged before {:?}",
        acked.len(),
        refusal
    );
    let refusal = refusal.expect("a MISCONF reply, not a closed connection");
    assert!(
        refusal.starts_with("-MISCONF Errors writing to the AOF file"),
        "{refusal}"
    );
    assert!(info_has(&mut c, "aof_last_write_status:err"));
    assert!(!acked.is_empty());
    // Reads go on.
    assert_eq!(c.cmd(&["EXISTS", "k0"]), b":1\r\n");
    // The disk recovers: the cron retries the write, writes resume.
    limit_file_size(srv.pid(), "unlimited:unlimited");
    assert!(
        poll_until(Duration::from_secs(20), || c.cmd(&["SET", "after", "1"])
            == b"+OK\r\n"),
        "writes did not resume"
    );
    assert!(info_has(&mut c, "aof_last_write_status:ok"));
    c.send_cmd(&["SHUTDOWN"]);
    assert!(srv.wait_exit(Duration::from_secs(20)).is_some());
    let again = Server::start_in(Kind::Keel, dir.path(), &["--appendonly", "yes"]);
    check_all_present(&again, &acked);
    assert_eq!(again.conn().cmd(&["GET", "after"]), b"$1\r\n1\r\n");
}

#[test]
fn always_write_error_exits_without_losing_acknowledged_writes() {
    let Some((dir, mut srv)) = limited_server("always") else {
        return;
    };
    let mut c = srv.conn();
    let (acked, refusal) = write_until_refused(&mut c);
    eprintln!(
        "always: {} writes acknowledged before the exit",
        acked.len()
    );
    assert!(
        refusal.is_none(),
        "expected the server to exit, got {refusal:?}"
    );
    let status = srv
        .wait_exit(Duration::from_secs(20))
        .expect("the server exits on a write error under always");
    assert_eq!(status.code(), Some(1));
    assert!(!acked.is_empty());
    // The torn tail of the failed write is cut at load (aof-load-truncated).
    let again = Server::start_in(Kind::Keel, dir.path(), &["--appendonly", "yes"]);
    check_all_present(&again, &acked);
}

/// no-appendfsync-on-rewrite yes: while a child runs nothing is fsynced,
/// so under always the replies must not wait for an fsync that never
/// comes (they would hang until the child ends).
#[test]
fn always_replies_while_fsync_is_suspended_by_a_child() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_in(
        Kind::Keel,
        dir.path(),
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--no-appendfsync-on-rewrite",
            "yes",
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["DEBUG", "POPULATE", "100"]), b"+OK\r\n");
    // A child that takes 100 x 100 ms.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "100000"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    for i in 0..20 {
        let key = format!("during{i}");
        c.send_cmd(&["SET", key.as_str(), "1"]);
        let r = c
            .read_reply(Duration::from_secs(3))
            .unwrap_or_else(|e| panic!("SET {i} got no reply while the child ran: {e:?}"));
        assert_eq!(r, b"+OK\r\n");
    }
}
