//! Tests of what string and bitmap commands reply, change and propagate,
//! run through the real handlers on an in-memory server.

use crate::commands::testutil;
use crate::server::client::Client;
use crate::server::Server;

struct Run {
    reply: String,
    propagated: Option<Vec<String>>,
    dirty: u64,
}

fn new_server() -> (Server, Client) {
    let srv = Server::new(crate::commands::testutil::test_config());
    let client = Client::new(1, "127.0.0.1:1".into(), "127.0.0.1:2".into(), 1, 0, true);
    (srv, client)
}

fn run(srv: &mut Server, client: &mut Client, now_ms: i64, line: &str) -> Run {
    let args: Vec<&str> = line.split(' ').collect();
    let h = testutil::run_handler(srv, client, &testutil::argv(&args), 2, now_ms);
    Run {
        reply: h.reply,
        propagated: testutil::joined(h.propagated),
        dirty: h.dirty,
    }
}

const NOW: i64 = 1_700_000_000_000;

#[test]
fn set_family_propagates_absolute_expiry() {
    let (mut srv, mut c) = new_server();
    let r = run(&mut srv, &mut c, NOW, "set k v ex 10 nx");
    assert_eq!(r.reply, "+OK\r\n");
    assert_eq!(r.dirty, 1);
    let want = format!("SET k v PXAT {}", NOW + 10_000);
    assert_eq!(r.propagated, Some(vec![want]));
    let r = run(&mut srv, &mut c, NOW, "setex k 5 w");
    assert_eq!(
        r.propagated,
        Some(vec![format!("SET k w PXAT {}", NOW + 5000)])
    );
    let r = run(&mut srv, &mut c, NOW, "psetex k 5 w");
    assert_eq!(
        r.propagated,
        Some(vec![format!("SET k w PXAT {}", NOW + 5)])
    );
    // GET is dropped from the propagated SET; without expiry argv is kept.
    let r = run(&mut srv, &mut c, NOW, "set k x get xx GET");
    assert_eq!(r.reply, "$1\r\nw\r\n");
    assert_eq!(r.propagated, Some(vec!["set k x xx".to_string()]));
    let r = run(&mut srv, &mut c, NOW, "set k y");
    assert_eq!(r.propagated, None);
    // Aborted by NX: nothing changed.
    let r = run(&mut srv, &mut c, NOW, "set k z nx");
    assert_eq!((r.reply.as_str(), r.dirty), ("$-1\r\n", 0));
    let r = run(&mut srv, &mut c, NOW, "getset k n");
    assert_eq!(r.propagated, Some(vec!["SET k n".to_string()]));
    let r = run(&mut srv, &mut c, NOW, "set k v ex 0");
    assert_eq!(r.reply, "-ERR invalid expire time in 'set' command\r\n");
    let r = run(&mut srv, &mut c, NOW, "setex k -1 v");
    assert_eq!(r.reply, "-ERR invalid expire time in 'setex' command\r\n");
}

#[test]
fn getex_getdel_and_incrbyfloat_rewrites() {
    let (mut srv, mut c) = new_server();
    run(&mut srv, &mut c, NOW, "set k v");
    let r = run(&mut srv, &mut c, NOW, "getex k");
    assert_eq!((r.dirty, r.propagated), (0, None));
    let r = run(&mut srv, &mut c, NOW, "getex k px 100");
    assert_eq!(
        r.propagated,
        Some(vec![format!("PEXPIREAT k {}", NOW + 100)])
    );
    let r = run(&mut srv, &mut c, NOW, "getex k persist");
    assert_eq!(r.propagated, Some(vec!["PERSIST k".to_string()]));
    let r = run(&mut srv, &mut c, NOW, "getex k persist");
    assert_eq!((r.dirty, r.propagated), (0, None));
    let r = run(&mut srv, &mut c, NOW, "getex k exat 1");
    assert_eq!(r.reply, "$1\r\nv\r\n");
    assert_eq!(r.propagated, Some(vec!["DEL k".to_string()]));
    assert!(srv.dbs[0].get(b"k").is_none());
    run(&mut srv, &mut c, NOW, "set k v");
    let r = run(&mut srv, &mut c, NOW, "getdel k");
    assert_eq!(r.propagated, Some(vec!["DEL k".to_string()]));
    let r = run(&mut srv, &mut c, NOW, "getdel k");
    assert_eq!((r.reply.as_str(), r.dirty), ("$-1\r\n", 0));
    let r = run(&mut srv, &mut c, NOW, "incrbyfloat f 0.1");
    let r2 = run(&mut srv, &mut c, NOW, "incrbyfloat f 0.2");
    assert_eq!(r.propagated, Some(vec!["SET f 0.1 KEEPTTL".to_string()]));
    assert_eq!(r2.reply, "$3\r\n0.3\r\n");
    assert_eq!(r2.propagated, Some(vec!["SET f 0.3 KEEPTTL".to_string()]));
    assert_eq!(srv.dbs[0].get(b"f").unwrap().value.encoding(), "embstr");
}

#[test]
fn encodings_and_ttl_are_kept_like_redis() {
    let (mut srv, mut c) = new_server();
    run(&mut srv, &mut c, NOW, "set n 10 ex 100");
    run(&mut srv, &mut c, NOW, "incr n");
    let e = srv.dbs[0].get(b"n").unwrap();
    assert_eq!((e.value.encoding(), e.expire), ("int", NOW + 100_000));
    run(&mut srv, &mut c, NOW, "append n 1");
    assert_eq!(srv.dbs[0].get(b"n").unwrap().value.encoding(), "raw");
    run(&mut srv, &mut c, NOW, "append fresh 12");
    assert_eq!(srv.dbs[0].get(b"fresh").unwrap().value.encoding(), "int");
    run(&mut srv, &mut c, NOW, "setrange r 1 a");
    assert_eq!(srv.dbs[0].get(b"r").unwrap().value.encoding(), "raw");
    let r = run(&mut srv, &mut c, NOW, "setrange r 536870912 a");
    assert_eq!(
        r.reply,
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
    let r = run(&mut srv, &mut c, NOW, "setbit b 7 1");
    assert_eq!((r.reply.as_str(), r.dirty), (":0\r\n", 1));
    let r = run(&mut srv, &mut c, NOW, "setbit b 7 1");
    assert_eq!((r.reply.as_str(), r.dirty), (":1\r\n", 0));
    let r = run(&mut srv, &mut c, NOW, "bitfield b set u8 0 1 incrby u8 0 1");
    assert_eq!((r.reply.as_str(), r.dirty), ("*2\r\n:1\r\n:2\r\n", 1));
    let r = run(
        &mut srv,
        &mut c,
        NOW,
        "bitfield b overflow fail incrby u8 0 255",
    );
    assert_eq!((r.reply.as_str(), r.dirty), ("*1\r\n$-1\r\n", 0));
}
