//! Tests of what stream commands reply, change and propagate, run
//! through the real handlers on an in-memory server.

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
fn xadd_propagates_generated_ids_and_exact_trimming() {
    let (mut srv, mut c) = new_server();
    let r = run(&mut srv, &mut c, NOW, "xadd s * a 1");
    assert_eq!(r.reply, format!("$15\r\n{NOW}-0\r\n"));
    assert_eq!(r.propagated, Some(vec![format!("xadd s {NOW}-0 a 1")]));
    let r = run(&mut srv, &mut c, NOW, "xadd s 5-* a 1");
    assert!(r
        .reply
        .starts_with("-ERR The ID specified in XADD is equal or smaller"));
    let r = run(&mut srv, &mut c, NOW, "xadd s 1700000000001-* a 1");
    assert_eq!(
        r.propagated,
        Some(vec!["xadd s 1700000000001-0 a 1".into()])
    );
    // Explicit full IDs propagate as given.
    let r = run(&mut srv, &mut c, NOW, "xadd s 1700000000002-0 a 1");
    assert_eq!(r.propagated, None);
    assert_eq!(r.dirty, 1);
    // 250 entries in nodes of 100: "~ 120" drops one node and propagates
    // "= <length left>".
    let (mut srv, mut c) = new_server();
    for i in 1..=250 {
        run(&mut srv, &mut c, NOW, &format!("xadd t {i}-0 f v"));
    }
    let r = run(&mut srv, &mut c, NOW, "xtrim t maxlen ~ 120");
    assert_eq!(r.reply, ":100\r\n");
    assert_eq!(r.propagated, Some(vec!["xtrim t maxlen = 150".into()]));
    let r = run(&mut srv, &mut c, NOW, "xadd t minid ~ 230 251-0 f v");
    assert_eq!(
        r.propagated,
        Some(vec!["xadd t minid = 201-0 251-0 f v".into()])
    );
    let r = run(&mut srv, &mut c, NOW, "xtrim t maxlen 10");
    assert_eq!(r.reply, ":41\r\n");
    assert_eq!(r.propagated, None);
    assert_eq!(r.dirty, 41);
}

#[test]
fn xreadgroup_propagates_claims_and_setid() {
    let (mut srv, mut c) = new_server();
    run(&mut srv, &mut c, NOW, "xadd s 1-0 a 1");
    run(&mut srv, &mut c, NOW, "xadd s 2-0 b 2");
    let r = run(&mut srv, &mut c, NOW, "xgroup create s g 0");
    assert_eq!(r.reply, "+OK\r\n");
    let r = run(
        &mut srv,
        &mut c,
        NOW,
        "xreadgroup group g alice streams s >",
    );
    assert_eq!(
        r.propagated,
        Some(vec![
            format!("XCLAIM s g alice 0 1-0 TIME {NOW} RETRYCOUNT 1 FORCE JUSTID LASTID 1-0"),
            format!("XCLAIM s g alice 0 2-0 TIME {NOW} RETRYCOUNT 1 FORCE JUSTID LASTID 2-0"),
        ])
    );
    // consumer creation + one read.
    assert_eq!(r.dirty, 2);
    run(&mut srv, &mut c, NOW, "xadd s 3-0 c 3");
    let r = run(
        &mut srv,
        &mut c,
        NOW,
        "xreadgroup group g bob noack streams s >",
    );
    assert_eq!(
        r.propagated,
        Some(vec![
            "XGROUP CREATECONSUMER s g bob".into(),
            "XGROUP SETID s g 3-0 ENTRIESREAD 3".into(),
        ])
    );
    // Nothing new: nothing propagated, and XREAD never propagates.
    let r = run(&mut srv, &mut c, NOW, "xreadgroup group g bob streams s >");
    assert_eq!(r.reply, "*-1\r\n");
    assert_eq!(r.propagated, Some(vec![]));
    let r = run(&mut srv, &mut c, NOW, "xread streams s 0");
    assert_eq!(r.propagated, Some(vec![]));
    // XCLAIM of a deleted entry drops it and propagates the drop.
    run(&mut srv, &mut c, NOW, "xdel s 1-0");
    let r = run(&mut srv, &mut c, NOW + 5, "xclaim s g bob 0 1-0 2-0");
    assert_eq!(
        r.propagated,
        Some(vec![
            format!("XCLAIM s g alice 0 1-0 TIME {NOW} RETRYCOUNT 1 FORCE JUSTID LASTID 3-0"),
            format!(
                "XCLAIM s g bob 0 2-0 TIME {} RETRYCOUNT 2 FORCE JUSTID LASTID 3-0",
                NOW + 5
            ),
        ])
    );
    let r = run(&mut srv, &mut c, NOW + 5, "xpending s g");
    assert_eq!(
        r.reply,
        "*4\r\n:1\r\n$3\r\n2-0\r\n$3\r\n2-0\r\n*1\r\n*2\r\n$3\r\nbob\r\n$1\r\n1\r\n"
    );
    let r = run(
        &mut srv,
        &mut c,
        NOW + 5,
        "xclaim s g bob 0 2-0 lastid 9-0 justid",
    );
    assert_eq!(r.reply, "*1\r\n$3\r\n2-0\r\n");
    let r = run(
        &mut srv,
        &mut c,
        NOW + 5,
        "xclaim s g bob 0 7-0 lastid 10-0",
    );
    assert_eq!(
        r.propagated,
        Some(vec!["XGROUP SETID s g 10-0 ENTRIESREAD 3".into()])
    );
}

#[test]
fn xautoclaim_cursor_and_deleted_ids() {
    let (mut srv, mut c) = new_server();
    for i in 1..=5 {
        run(&mut srv, &mut c, NOW, &format!("xadd s {i}-0 f v"));
    }
    run(&mut srv, &mut c, NOW, "xgroup create s g 0");
    run(&mut srv, &mut c, NOW, "xreadgroup group g a streams s >");
    run(&mut srv, &mut c, NOW, "xdel s 2-0");
    let r = run(&mut srv, &mut c, NOW, "xautoclaim s g b 0 0 count 2 justid");
    assert_eq!(
        r.reply,
        "*3\r\n$3\r\n3-0\r\n*1\r\n$3\r\n1-0\r\n*1\r\n$3\r\n2-0\r\n"
    );
    let r = run(
        &mut srv,
        &mut c,
        NOW,
        "xautoclaim s g b 0 3-0 count 10 justid",
    );
    assert_eq!(
        r.reply,
        "*3\r\n$3\r\n0-0\r\n*3\r\n$3\r\n3-0\r\n$3\r\n4-0\r\n$3\r\n5-0\r\n*0\r\n"
    );
}

#[test]
fn digest_matches_redis() {
    // Values computed by real redis-server 7.0.15:
    // XADD s 1-1 a 1 b 2; XADD s 2-0 c 3; DEBUG DIGEST-VALUE s
    let (mut srv, mut c) = new_server();
    run(&mut srv, &mut c, NOW, "xadd s 1-1 a 1 b 2");
    run(&mut srv, &mut c, NOW, "xadd s 2-0 c 3");
    let e = srv.dbs[0].get(b"s").unwrap();
    let mut d = [0u8; 20];
    crate::commands::digest::object_digest(&mut d, &e.value, e.expire);
    assert_eq!(crate::commands::digest::hex(&d), DIGEST);
}

const DIGEST: &str = "f9ebfe376baf354398c20e9bb5219235f942dafe";

#[test]
fn blocked_xread_resolves_dollar_and_is_served_by_xadd() {
    use crate::commands::testutil::{run as exec, setup};
    let (mut srv, mut c) = setup();
    exec(&mut srv, &mut c, &["xadd", "s", "1-0", "a", "1"]);
    let r = exec(
        &mut srv,
        &mut c,
        &["xread", "block", "0", "streams", "s", "$"],
    );
    assert_eq!(r, "");
    // `$` was resolved when the client blocked.
    assert_eq!(c.blocked.as_ref().unwrap().args[5].as_ref(), b"1-0");
    let id = c.id;
    srv.clients.insert(id, Box::new(c));
    let mut other = Client::new(99, "127.0.0.1:3".into(), "127.0.0.1:2".into(), 9, 0, true);
    // The next XADD (from another client) serves it.
    exec(&mut srv, &mut other, &["xadd", "s", "2-0", "b", "2"]);
    let out = String::from_utf8_lossy(&srv.clients[&id].out).into_owned();
    assert_eq!(
        out,
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert!(srv.clients[&id].blocked.is_none());
    assert_eq!(srv.blocking.blocked_clients, 0);
}

#[test]
fn blocked_xreadgroup_fails_when_the_stream_is_deleted() {
    use crate::commands::testutil::{run as exec, setup};
    let (mut srv, mut c) = setup();
    exec(
        &mut srv,
        &mut c,
        &["xgroup", "create", "s", "g", "$", "mkstream"],
    );
    let r = exec(
        &mut srv,
        &mut c,
        &[
            "xreadgroup",
            "group",
            "g",
            "alice",
            "block",
            "0",
            "streams",
            "s",
            ">",
        ],
    );
    assert_eq!(r, "");
    let id = c.id;
    srv.clients.insert(id, Box::new(c));
    let mut other = Client::new(99, "127.0.0.1:3".into(), "127.0.0.1:2".into(), 9, 0, true);
    exec(&mut srv, &mut other, &["del", "s"]);
    let out = String::from_utf8_lossy(&srv.clients[&id].out).into_owned();
    assert_eq!(out, "-UNBLOCKED the stream key no longer exists\r\n");
    assert_eq!(srv.blocking.blocked_clients, 0);
}
