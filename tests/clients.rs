//! keel driven by real clients: the `redis` crate (async, tokio) and the
//! `redis-cli` program. These catch what raw-socket tests miss: the
//! handshake a client library performs, its pipelining and transaction
//! helpers, pub/sub message streams, and redis-cli's reply rendering.

mod common;

use common::{redis_cli, Server};
use futures_util::StreamExt;
use redis::AsyncCommands;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn connect(srv: &Server) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(srv.url()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

#[tokio::test]
async fn redis_crate_basic_commands() {
    let srv = Server::keel();
    let mut con = connect(&srv).await;
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    let _: () = con.set("greeting", "hello").await.unwrap();
    let v: String = con.get("greeting").await.unwrap();
    assert_eq!(v, "hello");
    let missing: Option<String> = con.get("nope").await.unwrap();
    assert_eq!(missing, None);
    let _: () = con.set("n", 42).await.unwrap();
    let n: i64 = con.get("n").await.unwrap();
    assert_eq!(n, 42);
    let echoed: Vec<u8> = redis::cmd("ECHO")
        .arg(&b"bin\x00ary\r\n"[..])
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(echoed, b"bin\x00ary\r\n");
    let err = redis::cmd("NOSUCHCOMMAND")
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
    // Pipelines keep their order.
    let mut p = redis::pipe();
    for i in 0..500 {
        p.set(format!("p{i}"), i).ignore();
    }
    for i in 0..500 {
        p.get(format!("p{i}"));
    }
    let got: Vec<i64> = p.query_async(&mut con).await.unwrap();
    assert_eq!(got, (0..500).collect::<Vec<i64>>());
}

#[tokio::test]
async fn redis_crate_select_isolates_databases() {
    let srv = Server::keel();
    let client = redis::Client::open(format!("{}3", srv.url())).unwrap();
    let mut db3 = client.get_multiplexed_async_connection().await.unwrap();
    let mut db0 = connect(&srv).await;
    let _: () = db3.set("k", "three").await.unwrap();
    let v0: Option<String> = db0.get("k").await.unwrap();
    let v3: Option<String> = db3.get("k").await.unwrap();
    assert_eq!((v0, v3), (None, Some("three".to_string())));
}

#[tokio::test]
async fn redis_crate_multi_exec_and_watch() {
    let srv = Server::keel();
    let mut a = connect(&srv).await;
    let mut b = connect(&srv).await;
    let (x, y): (String, String) = redis::pipe()
        .atomic()
        .set("tx1", "a")
        .ignore()
        .set("tx2", "b")
        .ignore()
        .get("tx1")
        .get("tx2")
        .query_async(&mut a)
        .await
        .unwrap();
    assert_eq!((x.as_str(), y.as_str()), ("a", "b"));

    // WATCH: a write by another client aborts the transaction (nil).
    let _: () = redis::cmd("WATCH")
        .arg("w")
        .query_async(&mut a)
        .await
        .unwrap();
    let _: () = b.set("w", "other").await.unwrap();
    let r: Option<(String,)> = redis::pipe()
        .atomic()
        .set("w", "mine")
        .ignore()
        .get("w")
        .query_async(&mut a)
        .await
        .unwrap();
    assert_eq!(r, None);
    let v: String = a.get("w").await.unwrap();
    assert_eq!(v, "other");

    // Without interference it commits.
    let _: () = redis::cmd("WATCH")
        .arg("w")
        .query_async(&mut a)
        .await
        .unwrap();
    let r: Option<(String,)> = redis::pipe()
        .atomic()
        .set("w", "mine")
        .ignore()
        .get("w")
        .query_async(&mut a)
        .await
        .unwrap();
    assert_eq!(r, Some(("mine".to_string(),)));

    // A queued command with a wrong arity aborts EXEC (the crate reports
    // the queuing error rather than the EXECABORT that follows it).
    let err = redis::pipe()
        .atomic()
        .set("never", "1")
        .cmd("GET")
        .query_async::<()>(&mut a)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("wrong number of arguments for 'get'"),
        "{err}"
    );
    let never: Option<String> = a.get("never").await.unwrap();
    assert_eq!(never, None);
}

#[tokio::test]
async fn redis_crate_pubsub_two_connections() {
    let srv = Server::keel();
    let client = redis::Client::open(srv.url()).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.subscribe("news").await.unwrap();
    sub.psubscribe("n*").await.unwrap();
    let mut publisher = connect(&srv).await;
    // The subscriptions are registered before SUBSCRIBE returned, so the
    // publisher sees both receivers (the channel and the pattern).
    let receivers: i64 = publisher.publish("news", "hello").await.unwrap();
    assert_eq!(receivers, 2);
    let receivers: i64 = publisher.publish("nothing-here", "x").await.unwrap();
    assert_eq!(receivers, 1);
    let numsub: (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .query_async(&mut publisher)
        .await
        .unwrap();
    assert_eq!(numsub, ("news".to_string(), 1));

    let mut stream = sub.on_message();
    let mut got = Vec::new();
    for _ in 0..3 {
        let msg = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("message in time")
            .expect("stream open");
        let pattern: Option<String> = msg.get_pattern().ok();
        let payload: String = msg.get_payload().unwrap();
        got.push((msg.get_channel_name().to_string(), pattern, payload));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("news".into(), None, "hello".into()),
            ("news".into(), Some("n*".into()), "hello".into()),
            ("nothing-here".into(), Some("n*".into()), "x".into()),
        ]
    );
}

fn cli_or_skip(test: &str) -> bool {
    if common::redis_cli_available() {
        true
    } else {
        eprintln!("SKIPPED {test}: redis-cli is not installed (apt-get install redis-tools)");
        false
    }
}

#[test]
fn redis_cli_commands() {
    if !cli_or_skip("redis_cli_commands") {
        return;
    }
    // Checked against redis-server too, so the expected renderings are
    // redis-cli's own and not guesses.
    let keel = Server::keel();
    check_cli_renderings(keel.port);
    if let Some(redis) = common::redis_or_skip("redis_cli_commands (reference run)") {
        check_cli_renderings(redis.port);
    }
}

fn check_cli_renderings(p: u16) {
    assert_eq!(redis_cli(p, &["PING"]), "PONG\n");
    assert_eq!(redis_cli(p, &["SET", "k", "hello world"]), "OK\n");
    assert_eq!(redis_cli(p, &["GET", "k"]), "hello world\n");
    assert_eq!(redis_cli(p, &["GET", "missing"]), "\n");
    assert_eq!(redis_cli(p, &["--no-raw", "GET", "missing"]), "(nil)\n");
    assert_eq!(redis_cli(p, &["--no-raw", "GET", "k"]), "\"hello world\"\n");
    assert_eq!(redis_cli(p, &["-n", "5", "GET", "k"]), "\n");
    assert_eq!(
        redis_cli(p, &["NOSUCH", "x"]),
        "ERR unknown command 'NOSUCH', with args beginning with: 'x' \n\n"
    );
    assert_eq!(
        redis_cli(p, &["-3", "--no-raw", "GET", "missing"]),
        "(nil)\n"
    );
}

#[test]
fn redis_cli_reads_commands_from_stdin() {
    if !cli_or_skip("redis_cli_reads_commands_from_stdin") {
        return;
    }
    let srv = Server::keel();
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &srv.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SET a 1\nMULTI\nSET a 2\nGET a\nEXEC\nGET a\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "OK\nOK\nQUEUED\nQUEUED\nOK\n2\n2\n"
    );
}

#[test]
fn redis_cli_pipe_mode() {
    if !cli_or_skip("redis_cli_pipe_mode") {
        return;
    }
    let srv = Server::keel();
    let mut input = Vec::new();
    for i in 0..10_000 {
        input.extend(common::encode_cmd(&["SET", &format!("key:{i}"), "v"]));
    }
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &srv.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("errors: 0, replies: 10000"), "{text}");
    assert_eq!(redis_cli(srv.port, &["GET", "key:9999"]), "v\n");
}
