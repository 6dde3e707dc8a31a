//! RDB snapshots end to end: BGSAVE in a forked child while the parent
//! serves, save points, a killed child (old dump kept, MISCONF), SHUTDOWN
//! saves, loading at start (-LOADING meanwhile, expired keys dropped), and
//! keel's dump loaded by a real redis-server.

mod common;

use common::{poll_until, redis_available, Kind, RawConn, Server};
use std::path::Path;
use std::time::{Duration, Instant};

/// One INFO field.
fn info_field(c: &mut RawConn, field: &str) -> String {
    let reply = String::from_utf8_lossy(&c.cmd(&["INFO", "all"])).into_owned();
    reply
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .to_string()
}

/// Waits (30 s at most) until `cond` holds.
fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    assert!(
        poll_until(Duration::from_secs(30), cond),
        "timed out waiting for {what}"
    );
}

fn wait_bgsave_done(c: &mut RawConn) {
    wait_for("the BGSAVE to end", || {
        info_field(c, "rdb_bgsave_in_progress") == "0"
    });
}

/// A dataset with every type.
fn fill(c: &mut RawConn) {
    for (i, cmd) in [
        vec!["SET", "s", "hello"],
        vec!["SET", "n", "12345"],
        vec!["SET", "big", &"x".repeat(300)],
        vec!["RPUSH", "l", "a", "b", "1", "2"],
        vec!["HSET", "h", "f1", "v1", "f2", "v2"],
        vec!["SADD", "si", "1", "2", "3"],
        vec!["SADD", "ss", "a", "b"],
        vec!["ZADD", "z", "1", "a", "2.5", "b"],
        vec!["XADD", "st", "1-1", "f", "v"],
        vec!["XGROUP", "CREATE", "st", "g", "0"],
        vec!["SET", "ttl", "v", "PX", "100000000"],
    ]
    .iter()
    .enumerate()
    {
        let r = c.cmd(cmd);
        assert!(!r.starts_with(b"-"), "command {i} failed: {r:?}");
    }
}

fn copy_dump(from: &Path) -> impl Fn(&Path) + '_ {
    move |to: &Path| {
        std::fs::copy(from.join("dump.rdb"), to.join("dump.rdb")).expect("copy dump.rdb");
    }
}

#[test]
fn bgsave_snapshot_is_consistent_and_redis_loads_it() {
    let keel = Server::keel_with(&["--enable-debug-command", "yes"]);
    let mut c = keel.conn();
    fill(&mut c);
    let r = c.cmd(&["DEBUG", "POPULATE", "2000", "pop", "10"]);
    assert_eq!(r, b"+OK\r\n");
    let digest = c.cmd(&["DEBUG", "DIGEST"]);
    // A slow child: the parent must keep serving reads and writes.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "200"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    assert_eq!(
        c.cmd(&["BGSAVE"]),
        b"-ERR Background save already in progress\r\n"
    );
    assert_eq!(c.cmd(&["SET", "s", "changed-after-fork"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "n"]), b"$5\r\n12345\r\n");
    wait_bgsave_done(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    // The write after the fork is not in the file; it is still counted.
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "1");
    let log = keel.log();
    assert!(log.contains("Background saving started by pid"), "{log}");
    assert!(log.contains("DB saved on disk"), "{log}");
    assert!(
        log.contains("Background saving terminated with success"),
        "{log}"
    );
    assert!(!keel.dir().join(format!("temp-{}.rdb", keel.pid())).exists());

    // keel loads it back: the dataset as it was at the fork.
    let again = Server::start_seeded(
        Kind::Keel,
        &["--enable-debug-command", "yes"],
        &copy_dump(keel.dir()),
    );
    let mut c2 = again.conn();
    assert_eq!(c2.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(info_field(&mut c2, "rdb_last_load_keys_loaded"), "2010");
    assert!(again.log().contains("DB loaded from disk"));
    // So does a real redis-server, with the same digest.
    if redis_available() {
        let redis = Server::start_seeded(
            Kind::Redis,
            &["--enable-debug-command", "yes"],
            &copy_dump(keel.dir()),
        );
        assert_eq!(redis.conn().cmd(&["DEBUG", "DIGEST"]), digest);
    }
}

#[test]
fn save_point_starts_a_bgsave() {
    let keel = Server::keel_with(&["--save", "1 1"]);
    let mut c = keel.conn();
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    wait_for("the save point's BGSAVE", || {
        keel.log()
            .contains("Background saving terminated with success")
    });
    assert!(keel.log().contains("1 changes in 1 seconds. Saving..."));
    assert!(keel.dir().join("dump.rdb").exists());
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
}

#[test]
fn killed_child_keeps_the_old_dump_and_stops_writes() {
    let keel = Server::keel_with(&["--save", "3600 1", "--enable-debug-command", "yes"]);
    let mut c = keel.conn();
    assert_eq!(c.cmd(&["SET", "k", "old"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    let before = std::fs::read(keel.dir().join("dump.rdb")).unwrap();
    assert_eq!(c.cmd(&["DEBUG", "POPULATE", "100"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "1000000"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    let log = keel.log();
    let pid: i32 = log
        .split("Background saving started by pid ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("child pid in the log");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    wait_bgsave_done(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "err");
    assert!(keel
        .log()
        .contains("Background saving terminated by signal 9"));
    // The old dump is untouched, the child's temp file gone.
    assert_eq!(std::fs::read(keel.dir().join("dump.rdb")).unwrap(), before);
    assert!(!keel.dir().join(format!("temp-{pid}.rdb")).exists());
    // Writes (and PING) are refused, reads go on.
    let r = String::from_utf8(c.cmd(&["SET", "k", "new"])).unwrap();
    assert!(
        r.starts_with("-MISCONF Redis is configured to save RDB snapshots"),
        "{r}"
    );
    assert_eq!(c.cmd(&["GET", "k"]), b"$3\r\nold\r\n");
    // A successful BGSAVE lifts it.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    wait_bgsave_done(&mut c);
    assert_eq!(c.cmd(&["SET", "k", "new"]), b"+OK\r\n");
}

#[test]
fn shutdown_saves_and_restart_loads_it() {
    let mut keel = Server::keel_with(&["--save", "3600 1"]);
    let mut c = keel.conn();
    fill(&mut c);
    let _ = c.read_to_close(Duration::from_secs(1));
    c.send_cmd(&["SHUTDOWN"]);
    assert!(
        keel.wait_exit(Duration::from_secs(20)).is_some(),
        "did not exit"
    );
    let log = keel.log();
    assert!(
        log.contains("Saving the final RDB snapshot before exiting."),
        "{log}"
    );
    let again = Server::start_seeded(Kind::Keel, &[], &copy_dump(keel.dir()));
    let mut c2 = again.conn();
    assert_eq!(c2.cmd(&["DBSIZE"]), b":10\r\n");
    assert_eq!(
        c2.cmd(&["LRANGE", "l", "0", "-1"]),
        b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(c2.cmd(&["ZSCORE", "z", "b"]), b"$3\r\n2.5\r\n");
    let ttl = String::from_utf8(c2.cmd(&["PTTL", "ttl"])).unwrap();
    assert!(ttl.starts_with(":9"), "{ttl}");

    // SHUTDOWN NOSAVE leaves the file as it was.
    let mut keel2 = Server::start_seeded(Kind::Keel, &["--save", "3600 1"], &copy_dump(keel.dir()));
    let before = std::fs::read(keel2.dir().join("dump.rdb")).unwrap();
    let mut c3 = keel2.conn();
    assert_eq!(c3.cmd(&["SET", "extra", "1"]), b"+OK\r\n");
    c3.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(keel2.wait_exit(Duration::from_secs(20)).is_some());
    assert_eq!(std::fs::read(keel2.dir().join("dump.rdb")).unwrap(), before);
}

#[test]
fn clients_get_loading_while_the_dump_loads() {
    let src = Server::keel_with(&["--enable-debug-command", "yes"]);
    let mut c = src.conn();
    assert_eq!(c.cmd(&["DEBUG", "POPULATE", "20000"]), b"+OK\r\n");
    // A key saved with its TTL still running, loaded after it passed.
    let t0 = Instant::now();
    assert_eq!(c.cmd(&["SET", "gone", "v", "PX", "300"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    wait_for("the TTL to pass", || {
        t0.elapsed() > Duration::from_millis(400)
    });
    // 100 µs per key: two seconds of loading.
    let loading = Server::start_seeded_loading(
        Kind::Keel,
        &["--key-load-delay", "100"],
        &copy_dump(src.dir()),
    );
    let mut l = loading.conn();
    let first = l.cmd(&["GET", "key:1"]);
    if first.starts_with(b"-LOADING") {
        assert_eq!(
            first,
            b"-LOADING Redis is loading the dataset in memory\r\n"
        );
        assert_eq!(info_field(&mut l, "loading"), "1");
        assert!(
            info_field(&mut l, "loading_total_bytes")
                .parse::<u64>()
                .unwrap()
                > 0
        );
        assert!(!loading.log().contains("Ready to accept connections"));
    }
    wait_for("the load to finish", || l.cmd(&["PING"]) == b"+PONG\r\n");
    assert_eq!(l.cmd(&["DBSIZE"]), b":20000\r\n");
    assert_eq!(info_field(&mut l, "rdb_last_load_keys_expired"), "1");
    let log = loading.log();
    assert!(
        log.contains("Done loading RDB, keys loaded: 20000, keys expired: 1."),
        "{log}"
    );
    assert!(log.contains("Ready to accept connections"));
}

#[test]
fn flushall_and_debug_reload() {
    let keel = Server::keel_with(&["--save", "3600 1", "--enable-debug-command", "yes"]);
    let mut c = keel.conn();
    fill(&mut c);
    let digest = c.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), digest);
    assert!(keel.log().contains("DB reloaded by DEBUG RELOAD"));
    assert_eq!(
        c.cmd(&["DEBUG", "RELOAD", "BOGUS"]),
        &b"-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"[..]
    );
    // FLUSHALL with save points saves the empty dataset at once.
    assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n");
}
