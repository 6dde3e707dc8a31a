//! Lua scripting end to end: keel driven by the `redis` crate (its Script
//! helper: EVALSHA with an EVAL fallback), replies compared byte for byte
//! with a real redis-server for a set of scripts, what a script writes to
//! the AOF (its effects in MULTI/EXEC, never EVAL), the MONITOR feed, and
//! a busy script answered with -BUSY then stopped by SCRIPT KILL.
//! (tests/differential/scripting.txt holds many more compared replies.)

mod common;

use common::{poll_until, Server};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn connect(srv: &Server) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(srv.url()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

#[tokio::test]
async fn redis_crate_script_helper_loads_and_reuses_scripts() {
    let srv = Server::keel();
    let mut con = connect(&srv).await;
    let script = redis::Script::new(
        "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incrby', KEYS[2], ARGV[2])",
    );
    // First call: EVALSHA fails with NOSCRIPT, the crate falls back to EVAL.
    let n: i64 = script
        .key("name")
        .key("counter")
        .arg("keel")
        .arg(5)
        .invoke_async(&mut con)
        .await
        .unwrap();
    assert_eq!(n, 5);
    let n: i64 = script
        .key("name")
        .key("counter")
        .arg("keel")
        .arg(5)
        .invoke_async(&mut con)
        .await
        .unwrap();
    assert_eq!(n, 10);
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(script.get_hash())
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(exists, vec![1]);
    let name: String = redis::cmd("GET")
        .arg("name")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(name, "keel");
    let err = redis::cmd("EVAL")
        .arg("return redis.call('nosuch')")
        .arg(0)
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Unknown Redis command called from script"),
        "{err}"
    );
}

#[tokio::test]
async fn a_script_write_invalidates_watch() {
    let srv = Server::keel();
    let mut con = connect(&srv).await;
    let mut other = connect(&srv).await;
    let _: () = redis::cmd("WATCH")
        .arg("k")
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = redis::cmd("EVAL")
        .arg("redis.call('set', KEYS[1], 'x')")
        .arg(1)
        .arg("k")
        .query_async(&mut other)
        .await
        .unwrap();
    let res: Option<Vec<String>> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("k")
        .arg("y")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(res, None, "EXEC must fail after a script touched the key");
}

/// Scripts whose replies must be identical on keel and redis-server.
const SCRIPTS: &[&[&str]] = &[
    &["EVAL", "return {1, 'two', {3, false}, true, 4.9}", "0"],
    &["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"],
    &[
        "EVAL",
        "return redis.pcall('lpush', KEYS[1], 'x')",
        "1",
        "n",
    ],
    &["EVAL", "return redis.call('lpush', KEYS[1], 'x')", "1", "n"],
    &["EVAL", "return {err='MY code'}", "0"],
    &["EVAL", "return nosuch", "0"],
    &["EVAL", "nosuch = 1", "0"],
    &["EVAL", "return redis.call('get')", "0"],
    &[
        "EVAL",
        "redis.setresp(3); return redis.call('hgetall', 'nokey')",
        "0",
    ],
    &["EVAL_RO", "return redis.call('del', 'n')", "0"],
    &["EVALSHA", "0123456789012345678901234567890123456789", "0"],
    &["SCRIPT", "LOAD", "return 'x'"],
    &[
        "SCRIPT",
        "EXISTS",
        "9c2fb5fa9f9d4b6bcd2bfc06b7e9d8d3b9b2b5a1",
    ],
];

#[test]
fn replies_match_redis_server() {
    let Some(redis) = common::redis_or_skip("replies_match_redis_server") else {
        return;
    };
    let keel = Server::keel();
    let (mut k, mut r) = (keel.conn(), redis.conn());
    for args in SCRIPTS {
        let (a, b) = (k.cmd(args), r.cmd(args));
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "{args:?}"
        );
    }
}

#[test]
fn script_effects_reach_the_aof_in_multi_exec() {
    let keel = Server::keel_with(&["--appendonly", "yes"]);
    let mut c = keel.conn();
    let script = "redis.call('set', KEYS[1], 'a'); redis.call('get', KEYS[1]); redis.call('lpush', KEYS[2], 'b')";
    assert_eq!(c.cmd_str(&["EVAL", script, "2", "s", "l"]), "$-1\r\n");
    assert_eq!(
        c.cmd_str(&["EVAL", "return redis.call('get', 's')", "0"]),
        "$1\r\na\r\n"
    );
    let dir = keel.dir().join("appendonlydir");
    let aof: Vec<u8> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    let text = String::from_utf8_lossy(&aof).to_lowercase();
    let multi = text.find("multi").expect("MULTI in the AOF");
    let set = text.find("$3\r\nset\r\n").expect("SET in the AOF");
    let lpush = text.find("lpush").expect("LPUSH in the AOF");
    let exec = text.find("exec").expect("EXEC in the AOF");
    assert!(multi < set && set < lpush && lpush < exec, "{text}");
    assert!(
        !text.contains("eval"),
        "EVAL itself is never propagated: {text}"
    );
    assert!(
        !text.contains("$3\r\nget\r\n"),
        "reads are not propagated: {text}"
    );
}

#[test]
fn monitor_shows_the_script_then_its_commands_as_lua() {
    let keel = Server::keel();
    let mut mon = keel.conn();
    assert_eq!(mon.cmd_str(&["MONITOR"]), "+OK\r\n");
    let mut c = keel.conn();
    c.cmd(&["EVAL", "return redis.call('set', 'k', 'v')", "0"]);
    let first = String::from_utf8_lossy(&mon.reply()).into_owned();
    let second = String::from_utf8_lossy(&mon.reply()).into_owned();
    assert!(first.contains("\"EVAL\""), "{first}");
    assert!(second.contains("[0 lua] \"set\" \"k\" \"v\""), "{second}");
}

#[test]
fn busy_script_answers_busy_and_can_be_killed() {
    let keel = Server::keel();
    let mut admin = keel.conn();
    assert_eq!(
        admin.cmd_str(&["CONFIG", "SET", "lua-time-limit", "10"]),
        "+OK\r\n"
    );
    let mut runner = keel.conn();
    runner.send_cmd(&["EVAL", "while true do end", "0"]);
    assert!(poll_until(WAIT, || admin
        .cmd_str(&["PING"])
        .starts_with("-BUSY")));
    assert_eq!(admin.cmd_str(&["SCRIPT", "KILL"]), "+OK\r\n");
    let reply = String::from_utf8_lossy(&runner.reply()).into_owned();
    assert!(
        reply.contains("Script killed by user with SCRIPT KILL"),
        "{reply}"
    );
    assert_eq!(admin.cmd_str(&["PING"]), "+PONG\r\n");
    // A script that wrote cannot be killed.
    runner.send_cmd(&["EVAL", "redis.call('set','x','y') while true do end", "0"]);
    assert!(poll_until(WAIT, || admin
        .cmd_str(&["PING"])
        .starts_with("-BUSY")));
    assert!(admin
        .cmd_str(&["SCRIPT", "KILL"])
        .starts_with("-UNKILLABLE"));
    admin.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    let mut keel = keel;
    assert!(
        keel.wait_exit(WAIT).is_some(),
        "SHUTDOWN NOSAVE ends the server"
    );
}
