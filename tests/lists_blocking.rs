//! Blocking list commands end to end on a real keel-server: FIFO service
//! of several blocked clients, wake-up by a push from another client and
//! from inside MULTI/EXEC, timeouts with sub-second precision, BLMOVE
//! chains, and a client that disconnects while blocked.
//!
//! Nothing here sleeps to synchronise. "Client X is blocked" is waited for
//! with a deadline by polling CLIENT LIST for `flags=b`. Where CLIENT LIST
//! is not available, the blocking command is sent in the same write as a
//! marker push that precedes it, and the test waits for the marker: a
//! connection runs the commands of one read in order under one lock, so
//! once the marker is visible the blocking command has run.

mod common;

use common::{encode_cmd, RawConn, Server};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(10);

struct Probe {
    ctl: RawConn,
    client_list: bool,
    markers: u64,
}

impl Probe {
    fn new(srv: &Server) -> Probe {
        let mut ctl = srv.conn();
        let r = ctl.cmd_str(&["CLIENT", "LIST"]);
        Probe {
            client_list: !r.starts_with('-'),
            ctl,
            markers: 0,
        }
    }

    /// Number of clients CLIENT LIST shows with the `b` flag.
    fn blocked(&mut self) -> usize {
        let r = self.ctl.cmd_str(&["CLIENT", "LIST"]);
        r.lines()
            .filter(|l| {
                l.split(' ')
                    .any(|f| f.starts_with("flags=") && f.contains('b'))
            })
            .count()
    }

    fn wait_blocked(&mut self, n: usize) {
        let end = Instant::now() + DEADLINE;
        while self.blocked() != n {
            assert!(Instant::now() < end, "never saw {n} blocked clients");
            std::thread::yield_now();
        }
    }

    /// Sends a blocking command on `c` and returns once it is blocked
    /// (the server then holds `expect` blocked clients).
    fn block(&mut self, c: &mut RawConn, args: &[&str], expect: usize) {
        if self.client_list {
            c.send_cmd(args);
            self.wait_blocked(expect);
            return;
        }
        self.markers += 1;
        let marker = format!("__marker{}", self.markers);
        let mut bytes = encode_cmd(&["RPUSH", marker.as_str(), "1"]);
        bytes.extend(encode_cmd(args));
        c.send(&bytes);
        let end = Instant::now() + DEADLINE;
        while self.ctl.cmd_str(&["LLEN", marker.as_str()]) != ":1\r\n" {
            assert!(Instant::now() < end, "marker never appeared");
            std::thread::yield_now();
        }
        // Drop the marker (and the marker push's reply on `c`).
        self.ctl.cmd_str(&["LPOP", marker.as_str()]);
        assert_eq!(String::from_utf8_lossy(&c.reply()), ":1\r\n");
    }
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

fn bulk_pair(k: &str, v: &str) -> String {
    format!("*2\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n", k.len(), v.len())
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    let srv = Server::keel();
    let mut p = Probe::new(&srv);
    let mut a = srv.conn();
    let mut b = srv.conn();
    let mut c = srv.conn();
    p.block(&mut a, &["BLPOP", "q", "0"], 1);
    p.block(&mut b, &["BLPOP", "other", "q", "0"], 2);
    p.block(&mut c, &["BRPOP", "q", "0"], 3);
    let mut w = srv.conn();
    assert_eq!(w.cmd_str(&["RPUSH", "q", "1", "2"]), ":2\r\n");
    assert_eq!(text(a.reply()), bulk_pair("q", "1"));
    assert_eq!(text(b.reply()), bulk_pair("q", "2"));
    // The list was emptied: the third client still waits.
    assert_eq!(w.cmd_str(&["LLEN", "q"]), ":0\r\n");
    assert_eq!(w.cmd_str(&["RPUSH", "q", "x", "y"]), ":2\r\n");
    assert_eq!(text(c.reply()), bulk_pair("q", "y"));
    assert_eq!(w.cmd_str(&["LRANGE", "q", "0", "-1"]), "*1\r\n$1\r\nx\r\n");
    if p.client_list {
        p.wait_blocked(0);
    }
}

#[test]
fn push_inside_multi_wakes_after_exec() {
    let srv = Server::keel();
    let mut p = Probe::new(&srv);
    let mut a = srv.conn();
    p.block(
        &mut a,
        &["BLMPOP", "0", "2", "m1", "m2", "LEFT", "COUNT", "5"],
        1,
    );
    let mut w = srv.conn();
    assert_eq!(w.cmd_str(&["MULTI"]), "+OK\r\n");
    assert_eq!(w.cmd_str(&["RPUSH", "m2", "a", "b"]), "+QUEUED\r\n");
    assert_eq!(w.cmd_str(&["RPUSH", "m2", "c"]), "+QUEUED\r\n");
    assert_eq!(w.cmd_str(&["EXEC"]), "*2\r\n:2\r\n:3\r\n");
    // Served once, after EXEC, with everything the transaction pushed.
    assert_eq!(
        text(a.reply()),
        "*2\r\n$2\r\nm2\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(w.cmd_str(&["LLEN", "m2"]), ":0\r\n");
}

#[test]
fn push_then_delete_inside_multi_does_not_wake() {
    let srv = Server::keel();
    let mut p = Probe::new(&srv);
    let mut a = srv.conn();
    p.block(&mut a, &["BLPOP", "d", "0"], 1);
    let mut w = srv.conn();
    w.cmd_str(&["MULTI"]);
    w.cmd_str(&["RPUSH", "d", "a"]);
    w.cmd_str(&["LPOP", "d"]);
    w.cmd_str(&["SET", "d", "now a string"]);
    assert!(w.cmd_str(&["EXEC"]).starts_with("*3\r\n"));
    // Still blocked: the key is a string now.
    assert!(a.read_reply(Duration::from_millis(50)).is_err());
    w.cmd_str(&["MULTI"]);
    w.cmd_str(&["GETDEL", "d"]);
    w.cmd_str(&["RPUSH", "d", "b"]);
    w.cmd_str(&["EXEC"]);
    assert_eq!(text(a.reply()), bulk_pair("d", "b"));
}

#[test]
fn timeouts_have_sub_second_precision() {
    let srv = Server::keel();
    let mut a = srv.conn();
    for (timeout, ms) in [("0.05", 50u128), ("0.2", 200), ("0.001", 1)] {
        let t = Instant::now();
        assert_eq!(a.cmd_str(&["BLPOP", "none", timeout]), "*-1\r\n");
        let took = t.elapsed().as_millis();
        assert!(took >= ms, "{timeout}s answered after {took}ms");
        assert!(took < ms + 900, "{timeout}s answered after {took}ms");
    }
    let t = Instant::now();
    assert_eq!(
        a.cmd_str(&["BLMOVE", "none", "dst", "LEFT", "RIGHT", "0.1"]),
        "*-1\r\n"
    );
    assert!(t.elapsed() >= Duration::from_millis(100));
    // RESP3: the timeout null is `_`.
    a.cmd(&["HELLO", "3"]);
    assert_eq!(a.cmd_str(&["BRPOP", "none", "0.01"]), "_\r\n");
}

#[test]
fn blmove_chain_moves_one_element_through_every_list() {
    let srv = Server::keel();
    let mut p = Probe::new(&srv);
    let mut a = srv.conn();
    let mut b = srv.conn();
    let mut c = srv.conn();
    p.block(&mut a, &["BLMOVE", "c1", "c2", "RIGHT", "LEFT", "0"], 1);
    p.block(&mut b, &["BRPOPLPUSH", "c2", "c3", "0"], 2);
    p.block(&mut c, &["BLPOP", "c3", "0"], 3);
    let mut w = srv.conn();
    assert_eq!(w.cmd_str(&["RPUSH", "c1", "v"]), ":1\r\n");
    assert_eq!(text(a.reply()), "$1\r\nv\r\n");
    assert_eq!(text(b.reply()), "$1\r\nv\r\n");
    assert_eq!(text(c.reply()), bulk_pair("c3", "v"));
    for k in ["c1", "c2", "c3"] {
        assert_eq!(w.cmd_str(&["LLEN", k]), ":0\r\n", "{k}");
    }
}

#[test]
fn circular_brpoplpush_keeps_the_element() {
    let srv = Server::keel();
    let mut p = Probe::new(&srv);
    let mut a = srv.conn();
    let mut b = srv.conn();
    p.block(&mut a, &["BRPOPLPUSH", "x1", "x2", "0"], 1);
    p.block(&mut b, &["BRPOPLPUSH", "x2", "x1", "0"], 2);
    let mut w = srv.conn();
    w.cmd_str(&["RPUSH", "x1", "foo"]);
    assert_eq!(text(a.reply()), "$3\r\nfoo\r\n");
    assert_eq!(text(b.reply()), "$3\r\nfoo\r\n");
    assert_eq!(
        w.cmd_str(&["LRANGE", "x1", "0", "-1"]),
        "*1\r\n$3\r\nfoo\r\n"
    );
    assert_eq!(w.cmd_str(&["LLEN", "x2"]), ":0\r\n");
}

#[test]
fn wrong_destination_type_when_served_keeps_the_source() {
    let srv = Server::keel();
    let mut p = Probe::new(&srv);
    let mut a = srv.conn();
    let mut w = srv.conn();
    w.cmd_str(&["SET", "dst", "str"]);
    p.block(&mut a, &["BRPOPLPUSH", "src", "dst", "0"], 1);
    w.cmd_str(&["RPUSH", "src", "a", "b", "c"]);
    assert!(text(a.reply()).starts_with("-WRONGTYPE"));
    assert_eq!(
        w.cmd_str(&["LRANGE", "src", "0", "-1"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
}

#[test]
fn disconnected_blocked_client_is_forgotten() {
    let srv = Server::keel();
    let mut p = Probe::new(&srv);
    if !p.client_list {
        eprintln!("CLIENT LIST unavailable: cannot observe the disconnect");
        return;
    }
    let mut a = srv.conn();
    let mut b = srv.conn();
    p.block(&mut a, &["BLPOP", "gone", "0"], 1);
    p.block(&mut b, &["BLPOP", "gone", "0"], 2);
    drop(a);
    p.wait_blocked(1);
    let mut w = srv.conn();
    w.cmd_str(&["RPUSH", "gone", "1", "2"]);
    assert_eq!(text(b.reply()), bulk_pair("gone", "1"));
    assert_eq!(
        w.cmd_str(&["LRANGE", "gone", "0", "-1"]),
        "*1\r\n$1\r\n2\r\n"
    );
    p.wait_blocked(0);
}

#[tokio::test]
async fn redis_crate_blpop_is_woken_by_another_client() {
    let srv = Server::keel();
    let client = redis::Client::open(srv.url()).unwrap();
    let mut waiter = client.get_multiplexed_async_connection().await.unwrap();
    let mut pusher = client.get_multiplexed_async_connection().await.unwrap();
    let pop = tokio::spawn(async move {
        let r: (String, String) = redis::cmd("BLPOP")
            .arg("jobs")
            .arg(5)
            .query_async(&mut waiter)
            .await
            .unwrap();
        r
    });
    // Whichever runs first, the waiter gets the job: served at once if the
    // push came first, woken up otherwise.
    let n: i64 = redis::cmd("RPUSH")
        .arg("jobs")
        .arg("job1")
        .query_async(&mut pusher)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let got = tokio::time::timeout(DEADLINE, pop).await.unwrap().unwrap();
    assert_eq!(got, ("jobs".to_string(), "job1".to_string()));
}
