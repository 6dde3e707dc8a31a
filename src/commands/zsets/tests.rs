//! Sorted set handlers run through the command table on an in-process
//! server: replies, dirty counts and the propagated form of pops.

use crate::server::client::Client;
use crate::server::{now_ms, Server};

struct T {
    srv: Server,
    client: Client,
}

struct Ran {
    reply: String,
    propagated: Option<Vec<Vec<String>>>,
    dirty: u64,
    blocked: bool,
}

impl T {
    fn new() -> T {
        T {
            srv: Server::new(crate::commands::testutil::test_config()),
            client: Client::new(
                1,
                "127.0.0.1:1".into(),
                "127.0.0.1:2".into(),
                8,
                now_ms(),
                true,
            ),
        }
    }

    fn run(&mut self, args: &[&str]) -> Ran {
        let h = crate::commands::testutil::run_handler(
            &mut self.srv,
            &mut self.client,
            &crate::commands::testutil::argv(args),
            2,
            now_ms(),
        );
        Ran {
            reply: h.reply,
            propagated: h.propagated,
            dirty: h.dirty,
            blocked: h.blocked,
        }
    }

    fn r(&mut self, args: &[&str]) -> String {
        self.run(args).reply
    }
}

#[test]
fn zadd_counts_changes() {
    let mut t = T::new();
    let r = t.run(&["zadd", "z", "1", "a", "2", "b"]);
    assert_eq!((r.reply.as_str(), r.dirty), (":2\r\n", 2));
    let r = t.run(&["zadd", "z", "1", "a", "3", "b"]);
    assert_eq!((r.reply.as_str(), r.dirty), (":0\r\n", 1));
    let r = t.run(&["zadd", "z", "xx", "5", "nosuch"]);
    assert_eq!((r.reply.as_str(), r.dirty), (":0\r\n", 0));
    assert_eq!(t.r(&["zincrby", "z", "1.5", "a"]), "$3\r\n2.5\r\n");
    assert_eq!(t.r(&["zadd", "z", "incr", "nx", "1", "a"]), "$-1\r\n");
    assert_eq!(t.r(&["zadd", "z", "incr", "-inf", "inf"]), "$4\r\n-inf\r\n");
    assert_eq!(
        t.r(&["zadd", "z", "incr", "inf", "inf"]),
        "-ERR resulting score is not a number (NaN)\r\n"
    );
}

#[test]
fn zmpop_propagates_as_zpop_with_count() {
    let mut t = T::new();
    t.r(&["zadd", "z", "1", "a", "2", "b", "3", "c"]);
    let r = t.run(&["zmpop", "2", "nosuch", "z", "max", "count", "10"]);
    assert_eq!(r.dirty, 3);
    assert_eq!(
        r.propagated,
        Some(vec![vec!["ZPOPMAX".to_string(), "z".into(), "3".into()]])
    );
    assert_eq!(t.r(&["zcard", "z"]), ":0\r\n");
}

#[test]
fn blocking_pop_serves_or_blocks() {
    let mut t = T::new();
    let r = t.run(&["bzpopmin", "z", "0"]);
    assert!(r.blocked);
    assert_eq!(r.reply, "");
    t.r(&["zadd", "z", "1", "a", "2", "b"]);
    let r = t.run(&["bzpopmin", "z", "0"]);
    assert!(!r.blocked);
    assert_eq!(r.reply, "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(
        r.propagated,
        Some(vec![vec!["ZPOPMIN".to_string(), "z".into()]])
    );
    let r = t.run(&["bzmpop", "0", "1", "z", "max", "count", "5"]);
    assert_eq!(
        r.propagated,
        Some(vec![vec!["ZPOPMAX".to_string(), "z".into(), "1".into()]])
    );
    assert_eq!(
        t.r(&["bzpopmin", "z", "-1"]),
        "-ERR timeout is negative\r\n"
    );
}

#[test]
fn geoadd_propagates_as_zadd() {
    let mut t = T::new();
    let r = t.run(&["geoadd", "g", "13.361389", "38.115556", "Palermo"]);
    assert_eq!(r.reply, ":1\r\n");
    assert_eq!(
        r.propagated,
        Some(vec![vec![
            "zadd".to_string(),
            "g".into(),
            "3479099956230698".into(),
            "Palermo".into()
        ]])
    );
    let r = t.run(&["geoadd", "g", "13.361389", "38.115556", "Palermo"]);
    assert_eq!((r.dirty, r.propagated), (0, None));
}

#[test]
fn store_commands_replace_or_delete_destination() {
    let mut t = T::new();
    t.r(&["zadd", "a", "1", "x", "2", "y"]);
    t.r(&["zadd", "b", "5", "y"]);
    assert_eq!(t.r(&["zinterstore", "d", "2", "a", "b"]), ":1\r\n");
    assert_eq!(
        t.r(&["zrange", "d", "0", "-1", "withscores"]),
        "*2\r\n$1\r\ny\r\n$1\r\n7\r\n"
    );
    let r = t.run(&["zdiffstore", "d", "2", "b", "a"]);
    assert_eq!((r.reply.as_str(), r.dirty), (":0\r\n", 1));
    assert_eq!(t.r(&["zcard", "d"]), ":0\r\n");
}
