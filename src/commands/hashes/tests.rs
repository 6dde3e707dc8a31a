//! Tests of the hash commands through their real handlers on an in-memory
//! server: replies (RESP2 and RESP3), encodings, keyspace side effects,
//! propagation, and a model-based property test against a `Vec` of pairs
//! (insertion order, as a listpack keeps it).

use crate::commands::testutil;
use crate::server::client::Client;
use crate::server::Server;
use bytes::Bytes;
use proptest::prelude::*;

pub(crate) struct Run {
    pub reply: String,
    pub propagated: Option<Vec<String>>,
    pub dirty: u64,
}

pub(crate) fn new_server() -> (Server, Client) {
    let srv = Server::new(crate::commands::testutil::test_config());
    let client = Client::new(1, "127.0.0.1:1".into(), "127.0.0.1:2".into(), 1, 0, true);
    (srv, client)
}

/// Runs one command given as separate arguments, with protocol `resp`.
pub(crate) fn run_args(srv: &mut Server, client: &mut Client, resp: u8, args: &[&[u8]]) -> Run {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let h = testutil::run_handler(srv, client, &args, resp, 1_700_000_000_000);
    Run {
        reply: h.reply,
        propagated: testutil::joined(h.propagated),
        dirty: h.dirty,
    }
}

/// Runs a space-separated command line.
pub(crate) fn run(srv: &mut Server, client: &mut Client, resp: u8, line: &str) -> Run {
    let parts: Vec<&[u8]> = line.split(' ').map(|a| a.as_bytes()).collect();
    run_args(srv, client, resp, &parts)
}

pub(crate) fn encoding(srv: &Server, key: &str) -> &'static str {
    srv.dbs[0]
        .get(key.as_bytes())
        .expect("key exists")
        .value
        .encoding()
}

#[test]
fn hset_replies_and_listpack_order() {
    let (mut s, mut c) = new_server();
    let r = run(&mut s, &mut c, 2, "hset h b 1 a 2 b 3");
    assert_eq!(r.reply, ":2\r\n");
    assert_eq!(r.dirty, 3);
    assert_eq!(run(&mut s, &mut c, 2, "hmset h c 4").reply, "+OK\r\n");
    assert_eq!(
        run(&mut s, &mut c, 2, "hgetall h").reply,
        "*6\r\n$1\r\nb\r\n$1\r\n3\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        run(&mut s, &mut c, 3, "hgetall h").reply[..4].to_string(),
        "%3\r\n"
    );
    assert_eq!(run(&mut s, &mut c, 3, "hgetall none").reply, "%0\r\n");
    assert_eq!(run(&mut s, &mut c, 2, "hgetall none").reply, "*0\r\n");
    assert_eq!(encoding(&s, "h"), "listpack");
    let r = run(&mut s, &mut c, 2, "hset h a");
    assert_eq!(
        r.reply,
        "-ERR wrong number of arguments for 'hset' command\r\n"
    );
}

#[test]
fn thresholds_convert_once() {
    let (mut s, mut c) = new_server();
    s.config.hash_max_listpack_entries = 2;
    s.config.hash_max_listpack_value = 4;
    run(&mut s, &mut c, 2, "hset h a 1 b 2");
    assert_eq!(encoding(&s, "h"), "listpack");
    run(&mut s, &mut c, 2, "hset h c 3");
    assert_eq!(encoding(&s, "h"), "hashtable");
    run(&mut s, &mut c, 2, "hdel h a b");
    assert_eq!(encoding(&s, "h"), "hashtable");
    run(&mut s, &mut c, 2, "hset v a 12345");
    assert_eq!(encoding(&s, "v"), "hashtable");
    run(&mut s, &mut c, 2, "hsetnx w abcde 1");
    assert_eq!(encoding(&s, "w"), "hashtable");
}

#[test]
fn hdel_deletes_empty_hash() {
    let (mut s, mut c) = new_server();
    run(&mut s, &mut c, 2, "hset h a 1 b 2");
    let r = run(&mut s, &mut c, 2, "hdel h a b c");
    assert_eq!(r.reply, ":2\r\n");
    assert_eq!(r.dirty, 2);
    assert!(s.dbs[0].get(b"h").is_none());
    let r = run(&mut s, &mut c, 2, "hdel h a");
    assert_eq!((r.reply.as_str(), r.dirty), (":0\r\n", 0));
}

#[test]
fn counters() {
    let (mut s, mut c) = new_server();
    assert_eq!(run(&mut s, &mut c, 2, "hincrby h n 5").reply, ":5\r\n");
    let r = run(&mut s, &mut c, 2, "hincrby h n 9223372036854775807");
    assert_eq!(r.reply, "-ERR increment or decrement would overflow\r\n");
    assert_eq!(r.dirty, 0);
    run(&mut s, &mut c, 2, "hset h s x");
    assert_eq!(
        run(&mut s, &mut c, 2, "hincrby h s 1").reply,
        "-ERR hash value is not an integer\r\n"
    );
    assert_eq!(
        run(&mut s, &mut c, 2, "hincrbyfloat h s 1").reply,
        "-ERR hash value is not a float\r\n"
    );
    let r = run(&mut s, &mut c, 2, "hincrbyfloat h f 0.1");
    let r2 = run(&mut s, &mut c, 2, "hincrbyfloat h f 0.2");
    assert_eq!(r.reply, "$3\r\n0.1\r\n");
    assert_eq!(r2.reply, "$3\r\n0.3\r\n");
    assert_eq!(r2.propagated, Some(vec!["HSET h f 0.3".to_string()]));
    assert_eq!(
        run(&mut s, &mut c, 2, "hincrbyfloat h f inf").reply,
        "-ERR value is NaN or Infinity\r\n"
    );
    assert_eq!(
        run(&mut s, &mut c, 2, "hincrbyfloat h n abc").reply,
        "-ERR value is not a valid float\r\n"
    );
}

#[test]
fn wrongtype_everywhere() {
    let (mut s, mut c) = new_server();
    run(&mut s, &mut c, 2, "set str v");
    for line in [
        "hset str f v",
        "hsetnx str f v",
        "hget str f",
        "hmget str f",
        "hdel str f",
        "hlen str",
        "hstrlen str f",
        "hexists str f",
        "hkeys str",
        "hvals str",
        "hgetall str",
        "hincrby str f 1",
        "hincrbyfloat str f 1",
        "hrandfield str",
        "hrandfield str 2",
        "hscan str 0",
    ] {
        assert!(
            run(&mut s, &mut c, 2, line).reply.starts_with("-WRONGTYPE"),
            "{line}"
        );
    }
}

#[test]
fn hrandfield_shapes() {
    let (mut s, mut c) = new_server();
    run(&mut s, &mut c, 2, "hset h a 1");
    assert_eq!(
        run(&mut s, &mut c, 2, "hrandfield h -2 withvalues").reply,
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        run(&mut s, &mut c, 3, "hrandfield h 5 withvalues").reply,
        "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(run(&mut s, &mut c, 3, "hrandfield none").reply, "_\r\n");
    assert_eq!(run(&mut s, &mut c, 2, "hrandfield none 3").reply, "*0\r\n");
    // Distinct fields for a positive count, in both encodings.
    for big in [false, true] {
        let (mut s, mut c) = new_server();
        if big {
            s.config.hash_max_listpack_entries = 1;
        }
        for i in 0..20 {
            run(&mut s, &mut c, 2, &format!("hset h f{i} {i}"));
        }
        for _ in 0..20 {
            let r = run(&mut s, &mut c, 2, "hrandfield h 7");
            let mut fields: Vec<&str> = r
                .reply
                .split("\r\n")
                .filter(|l| l.starts_with('f'))
                .collect();
            assert_eq!(fields.len(), 7);
            fields.sort();
            fields.dedup();
            assert_eq!(fields.len(), 7, "distinct");
        }
    }
}

#[test]
fn hscan_covers_a_hashtable() {
    let (mut s, mut c) = new_server();
    s.config.hash_max_listpack_entries = 4;
    for i in 0..200 {
        run(&mut s, &mut c, 2, &format!("hset h f{i} v{i}"));
    }
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    loop {
        let r = run(&mut s, &mut c, 2, &format!("hscan h {cursor} count 15"));
        let lines: Vec<&str> = r.reply.split("\r\n").collect();
        cursor = lines[2].to_string();
        for l in &lines[4..] {
            if l.starts_with('f') {
                seen.insert(l.to_string());
            }
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 200);
    let r = run(&mut s, &mut c, 2, "hscan h 0 count 0");
    assert_eq!(r.reply, "-ERR syntax error\r\n");
    assert_eq!(
        run(&mut s, &mut c, 2, "hscan none 0 count 0").reply,
        "*2\r\n$1\r\n0\r\n*0\r\n"
    );
}

#[derive(Debug, Clone)]
enum HOp {
    Set(u8, u8),
    SetNx(u8, u8),
    Del(u8),
    Incr(u8, i8),
}

fn hop() -> impl Strategy<Value = HOp> {
    prop_oneof![
        (0..12u8, any::<u8>()).prop_map(|(f, v)| HOp::Set(f, v)),
        (0..12u8, any::<u8>()).prop_map(|(f, v)| HOp::SetNx(f, v)),
        (0..12u8).prop_map(HOp::Del),
        (0..12u8, any::<i8>()).prop_map(|(f, n)| HOp::Incr(f, n)),
    ]
}

proptest! {
    /// Random HSET/HSETNX/HDEL/HINCRBY sequences against a Vec of pairs:
    /// same replies, same HGETALL (in order while a listpack), same HLEN.
    #[test]
    fn hash_matches_model(ops in proptest::collection::vec(hop(), 1..80), max in 1..10u64) {
        let (mut s, mut c) = new_server();
        s.config.hash_max_listpack_entries = max;
        let mut model: Vec<(String, String)> = Vec::new();
        for op in ops {
            let (line, want) = match &op {
                HOp::Set(f, v) => {
                    let (f, v) = (format!("f{f}"), v.to_string());
                    let new = match model.iter_mut().find(|p| p.0 == f) {
                        Some(p) => { p.1 = v.clone(); 0 }
                        None => { model.push((f.clone(), v.clone())); 1 }
                    };
                    (format!("hset h {f} {v}"), format!(":{new}\r\n"))
                }
                HOp::SetNx(f, v) => {
                    let f = format!("f{f}");
                    let new = !model.iter().any(|p| p.0 == f);
                    if new { model.push((f.clone(), v.to_string())); }
                    (format!("hsetnx h {f} {v}"), format!(":{}\r\n", new as i32))
                }
                HOp::Del(f) => {
                    let f = format!("f{f}");
                    let n = model.len();
                    model.retain(|p| p.0 != f);
                    (format!("hdel h {f}"), format!(":{}\r\n", n - model.len()))
                }
                HOp::Incr(f, n) => {
                    let f = format!("f{f}");
                    let cur = model.iter().find(|p| p.0 == f).map(|p| p.1.parse::<i64>().unwrap());
                    let new = cur.unwrap_or(0) + *n as i64;
                    match model.iter_mut().find(|p| p.0 == f) {
                        Some(p) => p.1 = new.to_string(),
                        None => model.push((f.clone(), new.to_string())),
                    }
                    (format!("hincrby h {f} {n}"), format!(":{new}\r\n"))
                }
            };
            prop_assert_eq!(run(&mut s, &mut c, 2, &line).reply, want, "{}", line);
            prop_assert_eq!(run(&mut s, &mut c, 2, "hlen h").reply, format!(":{}\r\n", model.len()));
            let all = run(&mut s, &mut c, 2, "hgetall h").reply;
            let mut got: Vec<(String, String)> = all
                .split("\r\n")
                .filter(|l| !l.starts_with('*') && !l.starts_with('$') && !l.is_empty())
                .collect::<Vec<_>>()
                .chunks(2)
                .map(|p| (p[0].to_string(), p[1].to_string()))
                .collect();
            if model.is_empty() {
                prop_assert!(s.dbs[0].get(b"h").is_none());
                continue;
            }
            let mut want_pairs = model.clone();
            if encoding(&s, "h") == "hashtable" {
                prop_assert!(model.len() > max as usize || s.dbs[0].get(b"h").is_some());
                got.sort();
                want_pairs.sort();
            }
            prop_assert_eq!(got, want_pairs);
        }
    }
}
