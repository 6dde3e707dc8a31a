//! RESTORE's propagation, dirty counts and access data, run through the
//! handler (the replies and errors are covered end to end in
//! tests/dump_restore.rs).

use super::*;
use crate::commands::testutil::{argv, joined, run_handler, setup};
use crate::persistence::rdb::dump_payload;

fn restore_args(key: &str, ttl: &str, payload: &[u8], extra: &[&str]) -> Vec<Bytes> {
    let mut a = argv(&["RESTORE", key, ttl]);
    a.push(Bytes::copy_from_slice(payload));
    a.extend(argv(extra));
    a
}

#[test]
fn relative_ttl_propagates_as_absttl() {
    let (mut srv, mut c) = setup();
    let p = dump_payload(&Value::string(b"v"));
    let now = crate::server::now_ms();
    let h = run_handler(
        &mut srv,
        &mut c,
        &restore_args("k", "5000", &p, &[]),
        2,
        now,
    );
    assert_eq!(h.reply, "+OK\r\n");
    assert_eq!(h.dirty, 1);
    let cmds = h.propagated.expect("rewritten");
    assert_eq!(cmds.len(), 1);
    let when: i64 = cmds[0][2].parse().unwrap();
    assert!(when >= now + 5000 && when < now + 6000, "{when}");
    assert_eq!(cmds[0].last().unwrap(), "ABSTTL");
    assert_eq!(srv.dbs[0].get(b"k").unwrap().expire, when);

    // No TTL, or ABSTTL already: the argv propagates as is.
    let h = run_handler(&mut srv, &mut c, &restore_args("k2", "0", &p, &[]), 2, now);
    assert!(h.propagated.is_none() && h.dirty == 1);
    let abs = (now + 100_000).to_string();
    let h = run_handler(
        &mut srv,
        &mut c,
        &restore_args("k3", &abs, &p, &["ABSTTL"]),
        2,
        now,
    );
    assert!(h.propagated.is_none() && h.dirty == 1);
    assert_eq!(srv.dbs[0].get(b"k3").unwrap().expire, now + 100_000);
}

#[test]
fn expired_ttl_replacing_a_key_is_a_del() {
    let (mut srv, mut c) = setup();
    let p = dump_payload(&Value::string(b"v"));
    let now = crate::server::now_ms();
    srv.dbs[0].set(b"k", Value::Int(1), false, 0);
    let h = run_handler(
        &mut srv,
        &mut c,
        &restore_args("k", "1", &p, &["ABSTTL", "REPLACE"]),
        2,
        now,
    );
    assert_eq!(h.reply, "+OK\r\n");
    assert_eq!(joined(h.propagated), Some(vec!["DEL k".to_string()]));
    assert_eq!(h.dirty, 1);
    assert!(srv.dbs[0].get(b"k").is_none());
    // Nothing to replace: no change, nothing propagated.
    let h = run_handler(
        &mut srv,
        &mut c,
        &restore_args("k", "1", &p, &["ABSTTL"]),
        2,
        now,
    );
    assert_eq!(h.reply, "+OK\r\n");
    assert!(h.propagated.is_none() && h.dirty == 0);
}

#[test]
fn freq_sets_the_lfu_counter() {
    let (mut srv, mut c) = setup();
    srv.config.maxmemory_policy = crate::config::EvictionPolicy::AllkeysLfu;
    let p = dump_payload(&Value::string(b"v"));
    let now = crate::server::now_ms();
    let h = run_handler(
        &mut srv,
        &mut c,
        &restore_args("k", "0", &p, &["FREQ", "100"]),
        2,
        now,
    );
    assert_eq!(h.reply, "+OK\r\n");
    assert_eq!(srv.dbs[0].get(b"k").unwrap().lru & 0xFF, 100);
}

#[test]
fn restored_values_keep_their_type() {
    let (mut srv, mut c) = setup();
    let mut z = crate::keyspace::zset::ZSet::default();
    z.set(
        b"m",
        2.5,
        crate::keyspace::zset::ZLimits {
            max_entries: 128,
            max_value: 64,
        },
    );
    let p = dump_payload(&Value::ZSet(z));
    let h = run_handler(&mut srv, &mut c, &restore_args("z", "0", &p, &[]), 2, 0);
    assert_eq!(h.reply, "+OK\r\n");
    assert_eq!(srv.dbs[0].get(b"z").unwrap().value.encoding(), "listpack");
    // A newer type byte in a sound payload is "Bad data format".
    let mut bad = vec![20u8, 0x07];
    bad.extend_from_slice(&[10, 0]);
    let crc = crate::persistence::rdb::crc64(0, &bad);
    bad.extend_from_slice(&crc.to_le_bytes());
    let h = run_handler(&mut srv, &mut c, &restore_args("n", "0", &bad, &[]), 2, 0);
    assert_eq!(h.reply, "-ERR Bad data format\r\n");
}

#[test]
fn sanitization_counts_blobs() {
    let items: Vec<String> = (0..3000).map(|i| format!("element-{i}")).collect();
    let l: crate::keyspace::list::ListValue = items.iter().map(|s| s.as_bytes()).collect();
    assert_eq!(sanitized_blobs(&dump_payload(&Value::List(Box::new(l)))), 6);
    assert_eq!(sanitized_blobs(&dump_payload(&Value::string(b"x"))), 0);
    let mut s = crate::keyspace::set::SetValue::new_intset();
    s.add(b"1", 512);
    assert_eq!(sanitized_blobs(&dump_payload(&Value::Set(s))), 1);
    let (mut srv, mut c) = setup();
    srv.config.sanitize_dump_payload = 1;
    let p = dump_payload(&Value::Hash(crate::keyspace::hash::HashValue::new()));
    run_handler(&mut srv, &mut c, &restore_args("h", "0", &p, &[]), 2, 0);
    assert_eq!(srv.stats.dump_payload_sanitizations, 1);
}
