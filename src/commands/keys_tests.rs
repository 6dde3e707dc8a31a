//! Tests of the keyspace, expire and database families, run through the
//! command table on an in-process server: replies, dirty counts, what is
//! propagated, and WATCH invalidation.

use crate::commands::Ctx;
use crate::keyspace::NO_EXPIRE;
use crate::protocol::Reply;
use crate::server::client::Client;
use crate::server::{now_ms, Server};
use bytes::Bytes;

struct T {
    srv: Server,
    client: Client,
}

/// What one command did.
struct Ran {
    reply: String,
    propagated: Option<Vec<Vec<String>>>,
    dirty: u64,
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
        }
    }

    /// Runs a command the way a connection does (MULTI queueing, EXEC).
    fn full(&mut self, args: &[&str]) -> String {
        let args = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let mut out = Reply::new(2);
        self.srv.clock_us = crate::server::now_us();
        crate::commands::dispatch::process_command(&mut self.srv, &mut self.client, args, &mut out);
        String::from_utf8_lossy(&out.buf).into_owned()
    }

    /// WATCH `key`, run `between`, then MULTI/PING/EXEC: the EXEC reply.
    fn exec_after(&mut self, key: &str, between: &[&[&str]]) -> String {
        self.full(&["watch", key]);
        for c in between {
            self.full(c);
        }
        self.full(&["multi"]);
        self.full(&["ping"]);
        self.full(&["exec"])
    }

    fn r(&mut self, args: &[&str]) -> String {
        self.run(args).reply
    }

    fn expire_of(&self, key: &str) -> i64 {
        self.srv.dbs[self.client.db]
            .expire_of(key.as_bytes())
            .unwrap()
    }
}

#[test]
fn del_exists_type() {
    let mut t = T::new();
    t.r(&["set", "a", "1"]);
    t.r(&["set", "b", "x"]);
    assert_eq!(t.r(&["exists", "a", "a", "nope"]), ":2\r\n");
    assert_eq!(t.r(&["type", "a"]), "+string\r\n");
    assert_eq!(t.r(&["type", "nope"]), "+none\r\n");
    let ran = t.run(&["del", "a", "b", "nope"]);
    assert_eq!(ran.reply, ":2\r\n");
    assert_eq!(ran.dirty, 2);
    assert_eq!(t.r(&["unlink", "a"]), ":0\r\n");
    assert_eq!(t.r(&["dbsize"]), ":0\r\n");
}

#[test]
fn rename_keeps_ttl_and_drops_target_ttl() {
    let mut t = T::new();
    assert_eq!(t.r(&["rename", "x", "y"]), "-ERR no such key\r\n");
    assert_eq!(t.r(&["renamenx", "x", "y"]), "-ERR no such key\r\n");
    t.r(&["set", "x", "10"]);
    assert_eq!(t.r(&["rename", "x", "x"]), "+OK\r\n");
    assert_eq!(t.r(&["renamenx", "x", "x"]), ":0\r\n");
    t.r(&["expire", "x", "100"]);
    t.r(&["set", "y", "20"]);
    t.r(&["expire", "y", "5000"]);
    let when = t.expire_of("x");
    assert_eq!(t.r(&["renamenx", "x", "y"]), ":0\r\n");
    assert_eq!(t.r(&["rename", "x", "y"]), "+OK\r\n");
    assert_eq!(t.expire_of("y"), when);
    assert_eq!(t.r(&["get", "y"]), "$2\r\n10\r\n");
    assert_eq!(t.r(&["exists", "x"]), ":0\r\n");
    assert_eq!(t.srv.dbs[0].expires_len(), 1);
    assert_eq!(t.r(&["renamenx", "y", "z"]), ":1\r\n");
}

#[test]
fn copy_and_move() {
    let mut t = T::new();
    t.r(&["set", "k", "v"]);
    t.r(&["expire", "k", "100"]);
    assert_eq!(
        t.r(&["copy", "k", "k"]),
        "-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(t.r(&["copy", "k", "k2"]), ":1\r\n");
    assert_eq!(t.expire_of("k2"), t.expire_of("k"));
    assert_eq!(t.r(&["copy", "k", "k2"]), ":0\r\n");
    assert_eq!(t.r(&["copy", "k", "k2", "REPLACE"]), ":1\r\n");
    assert_eq!(t.r(&["copy", "k", "k2", "db"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.r(&["copy", "k", "k2", "db", "16"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        t.r(&["copy", "k", "k2", "db", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(t.r(&["copy", "k", "k", "db", "3"]), ":1\r\n");
    assert_eq!(t.srv.dbs[3].len(), 1);
    assert_eq!(t.r(&["copy", "nope", "k9"]), ":0\r\n");

    assert_eq!(
        t.r(&["move", "k", "0"]),
        "-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(
        t.r(&["move", "k", "99999999999"]),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(t.r(&["move", "k", "3"]), ":0\r\n"); // exists there
    let when = t.expire_of("k2");
    assert_eq!(t.r(&["move", "k2", "3"]), ":1\r\n");
    assert_eq!(t.srv.dbs[3].expire_of(b"k2"), Some(when));
    assert_eq!(t.r(&["move", "nope", "3"]), ":0\r\n");
}

#[test]
fn expire_propagates_absolute_time() {
    let mut t = T::new();
    t.r(&["set", "k", "v"]);
    let before = now_ms();
    let ran = t.run(&["expire", "k", "100", "nx"]);
    assert_eq!(ran.reply, ":1\r\n");
    assert_eq!(ran.dirty, 1);
    let p = ran.propagated.unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0][0], "PEXPIREAT");
    assert_eq!(p[0][3], "nx");
    let when: i64 = p[0][2].parse().unwrap();
    assert!(when >= before + 100_000 && when <= now_ms() + 100_000);
    assert_eq!(t.expire_of("k"), when);

    // PEXPIREAT is propagated as given.
    let ran = t.run(&["pexpireat", "k", "99999999999999"]);
    assert!(ran.propagated.is_none());
    assert_eq!(ran.dirty, 1);

    let ran = t.run(&["expireat", "k", "99999999999"]);
    assert_eq!(ran.propagated.unwrap()[0][2], "99999999999000");

    // Options that refuse: nothing changes, nothing propagates.
    let ran = t.run(&["expire", "k", "10", "gt"]);
    assert_eq!(ran.reply, ":0\r\n");
    assert_eq!(ran.dirty, 0);
    assert_eq!(t.r(&["expire", "nope", "10"]), ":0\r\n");
    assert_eq!(
        t.r(&["expire", "k", "9223372036854775807"]),
        "-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_eq!(
        t.r(&["pexpire", "k", "9223372036854775807"]),
        "-ERR invalid expire time in 'pexpire' command\r\n"
    );
    assert_eq!(
        t.r(&["expire", "k", ""]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.r(&["expire", "k", "10", "lt", "gt"]),
        "-ERR GT and LT options at the same time are not compatible\r\n"
    );
}

#[test]
fn expire_in_the_past_deletes() {
    let mut t = T::new();
    t.r(&["set", "k", "v"]);
    let ran = t.run(&["expire", "k", "-1"]);
    assert_eq!(ran.reply, ":1\r\n");
    assert_eq!(ran.propagated.unwrap(), vec![vec!["DEL", "k"]]);
    assert_eq!(t.r(&["exists", "k"]), ":0\r\n");
    t.srv.config.lazyfree_lazy_expire = true;
    t.r(&["set", "k", "v"]);
    let ran = t.run(&["pexpireat", "k", "1"]);
    assert_eq!(ran.propagated.unwrap(), vec![vec!["UNLINK", "k"]]);
}

#[test]
fn ttl_family_and_persist() {
    let mut t = T::new();
    for c in ["ttl", "pttl", "expiretime", "pexpiretime"] {
        assert_eq!(t.r(&[c, "nope"]), ":-2\r\n");
    }
    t.r(&["set", "k", "v"]);
    for c in ["ttl", "pttl", "expiretime", "pexpiretime"] {
        assert_eq!(t.r(&[c, "k"]), ":-1\r\n");
    }
    assert_eq!(t.r(&["persist", "k"]), ":0\r\n");
    t.r(&["pexpireat", "k", "33177117420000"]);
    assert_eq!(t.r(&["expiretime", "k"]), ":33177117420\r\n");
    assert_eq!(t.r(&["pexpiretime", "k"]), ":33177117420000\r\n");
    t.r(&["expire", "k", "100"]);
    assert_eq!(t.r(&["ttl", "k"]), ":100\r\n");
    let ran = t.run(&["persist", "k"]);
    assert_eq!((ran.reply.as_str(), ran.dirty), (":1\r\n", 1));
    assert_eq!(t.expire_of("k"), NO_EXPIRE);
}

#[test]
fn lazy_expiry_hides_and_deletes() {
    let mut t = T::new();
    t.r(&["set", "a", "1"]);
    t.r(&["set", "b", "2"]);
    t.srv.dbs[0].set_expire(b"a", now_ms() - 10);
    // KEYS hides the expired key but does not delete it.
    assert_eq!(t.r(&["keys", "*"]), "*1\r\n$1\r\nb\r\n");
    assert_eq!(t.r(&["dbsize"]), ":2\r\n");
    // SCAN deletes it.
    assert_eq!(t.r(&["scan", "0"]), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n");
    assert_eq!(t.r(&["dbsize"]), ":1\r\n");
    assert_eq!(t.srv.stats.expired_keys, 1);
    // RANDOMKEY skips (and deletes) expired keys.
    t.srv.dbs[0].set_expire(b"b", now_ms() - 10);
    assert_eq!(t.r(&["randomkey"]), "$-1\r\n");
    assert_eq!(t.r(&["dbsize"]), ":0\r\n");
}

#[test]
fn scan_options() {
    let mut t = T::new();
    for i in 0..500 {
        t.r(&["set", &format!("key:{i}"), "v"]);
    }
    assert_eq!(t.r(&["scan", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(t.r(&["scan", " 1"]), "-ERR invalid cursor\r\n");
    assert_eq!(t.r(&["scan", "0", "count", "0"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.r(&["scan", "0", "count", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(t.r(&["scan", "0", "match"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.r(&["scan", "0", "type", "hash"]),
        t.r(&["scan", "0", "type", "hash"])
    );
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let mut out = Reply::new(2);
        let args: Vec<Bytes> = [
            "scan", &cursor, "match", "key:1*", "count", "7", "type", "STRING",
        ]
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
        let reply = {
            let table = t.srv.commands.clone();
            let cmd = table.get(b"scan").unwrap();
            let mut ctx = Ctx {
                srv: &mut t.srv,
                client: &mut t.client,
                out: &mut out,
                cmd,
                now_ms: now_ms(),
                dirty: 0,
                propagate_as: None,
                block: None,
            };
            (cmd.handler)(&mut ctx, &args);
            String::from_utf8_lossy(&out.buf).into_owned()
        };
        let parts: Vec<&str> = reply.split("\r\n").collect();
        cursor = parts[2].to_string();
        for (i, p) in parts.iter().enumerate().skip(4) {
            if p.starts_with("key:") && parts[i - 1].starts_with('$') {
                seen.insert(p.to_string());
            }
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1);
    assert_eq!(seen.len(), 111); // key:1, key:10-19, key:100-199
    assert_eq!(super::parse_scan_cursor(b""), Some(0));
    assert_eq!(super::parse_scan_cursor(b"-1"), Some(u64::MAX));
    assert_eq!(super::parse_scan_cursor(b"+7"), Some(7));
    assert_eq!(super::parse_scan_cursor(b"18446744073709551616"), None);
    assert_eq!(super::parse_scan_cursor(b"-"), None);
    // A cursor past the last slot ends the iteration.
    assert_eq!(t.r(&["scan", "99999"]), "*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn object_subcommands() {
    let mut t = T::new();
    t.r(&["set", "i", "12"]);
    t.r(&["set", "e", "hello"]);
    t.r(&["set", "r", &"x".repeat(45)]);
    t.r(&["set", "big", "123456"]);
    assert_eq!(t.r(&["object", "encoding", "i"]), "$3\r\nint\r\n");
    assert_eq!(t.r(&["object", "ENCODING", "e"]), "$6\r\nembstr\r\n");
    assert_eq!(t.r(&["object", "encoding", "r"]), "$3\r\nraw\r\n");
    assert_eq!(t.r(&["object", "encoding", "nope"]), "$-1\r\n");
    assert_eq!(t.r(&["object", "refcount", "i"]), ":2147483647\r\n");
    assert_eq!(t.r(&["object", "refcount", "big"]), ":1\r\n");
    assert!(t
        .r(&["object", "freq", "i"])
        .starts_with("-ERR An LFU maxmemory policy is not selected"));
    // OBJECT does not refresh the access time.
    t.srv.dbs[0].get_mut(b"i").unwrap().lru = crate::server::evict::lru_clock() - 100;
    assert_eq!(t.r(&["object", "idletime", "i"]), ":100\r\n");
    assert_eq!(t.r(&["type", "i"]), "+string\r\n");
    assert_eq!(t.r(&["exists", "i"]), ":1\r\n");
    assert_eq!(t.r(&["object", "idletime", "i"]), ":100\r\n");
    t.r(&["touch", "i"]);
    assert_eq!(t.r(&["object", "idletime", "i"]), ":0\r\n");
    t.srv.config.maxmemory_policy = crate::config::EvictionPolicy::AllkeysLfu;
    assert!(t
        .r(&["object", "idletime", "i"])
        .starts_with("-ERR An LFU maxmemory policy is selected"));
    assert!(t
        .r(&["object", "help"])
        .starts_with("*15\r\n+OBJECT <subcommand>"));
}

#[test]
fn flush_and_swap() {
    let mut t = T::new();
    // Flushing empty databases is still propagated.
    let ran = t.run(&["flushall"]);
    assert_eq!(ran.dirty, 0);
    assert_eq!(ran.propagated.unwrap(), vec![vec!["flushall"]]);
    t.r(&["set", "a", "1"]);
    t.r(&["set", "b", "1"]);
    t.client.db = 5;
    t.r(&["set", "c", "1"]);
    let ran = t.run(&["flushdb", "ASYNC"]);
    assert_eq!(ran.dirty, 1);
    assert_eq!(t.srv.dbs[0].len(), 2);
    assert_eq!(t.r(&["flushdb", "x"]), "-ERR syntax error\r\n");
    assert_eq!(t.r(&["flushall", "sync", "x"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.r(&["swapdb", "x", "1"]),
        "-ERR invalid first DB index\r\n"
    );
    assert_eq!(
        t.r(&["swapdb", "1", "99999999999"]),
        "-ERR invalid second DB index\r\n"
    );
    assert_eq!(
        t.r(&["swapdb", "1", "16"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(t.run(&["swapdb", "0", "5"]).dirty, 1);
    assert_eq!(t.r(&["dbsize"]), ":2\r\n");
    let ran = t.run(&["flushall", "sync"]);
    assert_eq!(ran.dirty, 2);
    assert_eq!(t.r(&["dbsize"]), ":0\r\n");
}

#[test]
fn own_watch_is_invalidated() {
    let mut t = T::new();
    t.r(&["set", "w", "1"]);
    t.r(&["watch", "w"]);
    t.r(&["expire", "w", "100"]);
    assert!(t.client.flags.dirty_cas);
    t.r(&["unwatch"]);
    t.r(&["watch", "w"]);
    t.r(&["exists", "w"]);
    t.r(&["expire", "nope", "100"]);
    assert!(!t.client.flags.dirty_cas);
    t.r(&["flushall"]);
    assert!(t.client.flags.dirty_cas);
    t.r(&["unwatch"]);
    // SWAPDB bringing a watched key in.
    t.client.db = 1;
    t.r(&["set", "w", "1"]);
    t.client.db = 0;
    t.r(&["watch", "w"]);
    t.r(&["swapdb", "0", "2"]);
    assert!(!t.client.flags.dirty_cas);
    t.r(&["swapdb", "0", "1"]);
    assert!(t.client.flags.dirty_cas);
}

#[test]
fn expired_keys_are_kept_while_clients_are_paused() {
    let mut t = T::new();
    t.r(&["set", "a", "1"]);
    t.srv.dbs[0].set_expire(b"a", now_ms() - 10);
    t.srv.pause = Some(crate::server::Pause {
        until: now_ms() + 60_000,
        write_only: true,
    });
    assert_eq!(t.r(&["exists", "a"]), ":0\r\n");
    assert_eq!(t.r(&["ttl", "a"]), ":-2\r\n");
    assert_eq!(t.r(&["object", "encoding", "a"]), "$-1\r\n");
    assert_eq!(t.r(&["scan", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    // Every key is volatile and expired: RANDOMKEY gives up on deleting.
    assert_eq!(t.r(&["randomkey"]), "$1\r\na\r\n");
    assert_eq!(t.r(&["dbsize"]), ":1\r\n");
    assert_eq!(t.srv.stats.expired_keys, 0);
    t.srv.pause = None;
    assert_eq!(t.r(&["exists", "a"]), ":0\r\n");
    assert_eq!(t.r(&["dbsize"]), ":0\r\n");
    assert_eq!(t.srv.stats.expired_keys, 1);
}

/// The stale-key cases of Redis's multi.tcl (touchAllWatchedKeysInDb).
#[test]
fn flush_and_swapdb_judge_stale_watched_keys_like_redis() {
    const PONG: &str = "*1\r\n+PONG\r\n";
    const ABORTED: &str = "*-1\r\n";
    let mut t = T::new();
    let stale = |t: &mut T, db: usize, key: &str| {
        t.srv.dbs[db].set(key.as_bytes(), crate::keyspace::Value::Int(1), false, 0);
        t.srv.dbs[db].set_expire(key.as_bytes(), now_ms() - 5);
    };
    // FLUSHDB while watching a stale key.
    stale(&mut t, 0, "x");
    assert_eq!(t.exec_after("x", &[&["flushdb"]]), PONG);
    // FLUSHALL / FLUSHDB touch live watched keys, not others.
    t.full(&["set", "x", "1"]);
    assert_eq!(t.exec_after("x", &[&["flushall"]]), ABORTED);
    t.full(&["set", "x", "1"]);
    assert_eq!(t.exec_after("y", &[&["flushall"]]), PONG);
    t.full(&["set", "x", "1"]);
    assert_eq!(
        t.exec_after("x", &[&["select", "3"], &["flushdb"], &["select", "0"]]),
        PONG
    );
    // SWAPDB: a stale key replaced by no key.
    t.full(&["flushall"]);
    t.full(&["select", "1"]);
    stale(&mut t, 1, "x");
    assert_eq!(t.exec_after("x", &[&["swapdb", "0", "1"]]), PONG);
    // No key replaced by a stale key.
    t.full(&["flushall"]);
    stale(&mut t, 0, "x");
    assert_eq!(t.exec_after("x", &[&["swapdb", "0", "1"]]), PONG);
    // A stale key replaced by another stale key.
    t.full(&["flushall"]);
    stale(&mut t, 0, "x");
    stale(&mut t, 1, "x");
    assert_eq!(t.exec_after("x", &[&["swapdb", "0", "1"]]), PONG);
    // Live keys on either side are a change.
    t.full(&["flushall"]);
    t.full(&["select", "0"]);
    t.full(&["set", "x", "1"]);
    t.full(&["select", "1"]);
    assert_eq!(t.exec_after("x", &[&["swapdb", "0", "1"]]), ABORTED);
    t.full(&["flushall"]);
    t.full(&["set", "x", "1"]);
    assert_eq!(t.exec_after("x", &[&["swapdb", "0", "1"]]), ABORTED);
}
