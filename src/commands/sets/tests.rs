//! Tests of the set commands through their real handlers: replies (RESP2
//! and RESP3), encodings, propagation of SPOP/SMOVE/STORE variants, and a
//! model-based property test against a `BTreeSet`.

use crate::commands::hashes::tests::{encoding, new_server, run};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// The bulk strings of a reply, in order.
fn bulks(reply: &str) -> Vec<String> {
    let lines: Vec<&str> = reply.split("\r\n").collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with('$') && lines[i] != "$-1" {
            out.push(lines[i + 1].to_string());
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn intset_order_and_encodings() {
    let (mut s, mut c) = new_server();
    assert_eq!(run(&mut s, &mut c, 2, "sadd s 3 -1 2 3").reply, ":3\r\n");
    assert_eq!(encoding(&s, "s"), "intset");
    assert_eq!(
        bulks(&run(&mut s, &mut c, 2, "smembers s").reply),
        ["-1", "2", "3"]
    );
    assert!(run(&mut s, &mut c, 3, "smembers s")
        .reply
        .starts_with("~3\r\n"));
    assert_eq!(run(&mut s, &mut c, 3, "smembers none").reply, "~0\r\n");
    run(&mut s, &mut c, 2, "sadd s x");
    assert_eq!(encoding(&s, "s"), "hashtable");
    run(&mut s, &mut c, 2, "sadd t x");
    assert_eq!(encoding(&s, "t"), "hashtable");
    s.config.set_max_intset_entries = 3;
    run(&mut s, &mut c, 2, "sadd u 1 2 3");
    assert_eq!(encoding(&s, "u"), "intset");
    run(&mut s, &mut c, 2, "sadd u 4");
    assert_eq!(encoding(&s, "u"), "hashtable");
}

#[test]
fn srem_and_smove_side_effects() {
    let (mut s, mut c) = new_server();
    run(&mut s, &mut c, 2, "sadd a 1 2");
    let r = run(&mut s, &mut c, 2, "srem a 1 2 3");
    assert_eq!((r.reply.as_str(), r.dirty), (":2\r\n", 2));
    assert!(s.dbs[0].get(b"a").is_none());
    run(&mut s, &mut c, 2, "sadd a 1 x");
    let r = run(&mut s, &mut c, 2, "smove a b 1");
    assert_eq!((r.reply.as_str(), r.dirty), (":1\r\n", 2));
    assert_eq!(encoding(&s, "b"), "intset");
    run(&mut s, &mut c, 2, "sadd b 1");
    let r = run(&mut s, &mut c, 2, "smove a b x");
    assert_eq!(r.reply, ":1\r\n");
    assert!(s.dbs[0].get(b"a").is_none());
    assert_eq!(encoding(&s, "b"), "hashtable");
    run(&mut s, &mut c, 2, "set str v");
    assert!(run(&mut s, &mut c, 2, "smove b str 1")
        .reply
        .starts_with("-WRONGTYPE"));
    assert_eq!(run(&mut s, &mut c, 2, "smove none str 1").reply, ":0\r\n");
}

#[test]
fn spop_propagation() {
    let (mut s, mut c) = new_server();
    run(&mut s, &mut c, 2, "sadd s 7");
    let r = run(&mut s, &mut c, 2, "spop s");
    assert_eq!(r.reply, "$1\r\n7\r\n");
    assert_eq!(r.propagated, Some(vec!["SREM s 7".to_string()]));
    assert!(s.dbs[0].get(b"s").is_none());

    run(&mut s, &mut c, 2, "sadd s 1 2 3");
    let r = run(&mut s, &mut c, 3, "spop s 5");
    assert_eq!(r.reply, "~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    assert_eq!(r.propagated, Some(vec!["DEL s".to_string()]));
    assert_eq!(r.dirty, 3);

    // Both strategies: few members popped, and most members popped.
    for (n, k) in [(100, 3), (100, 97)] {
        for i in 0..n {
            run(&mut s, &mut c, 2, &format!("sadd s m{i}"));
        }
        let r = run(&mut s, &mut c, 2, &format!("spop s {k}"));
        let popped = bulks(&r.reply);
        assert_eq!(popped.len(), k);
        let prop = r.propagated.unwrap();
        assert_eq!(prop.len(), k);
        for (p, m) in prop.iter().zip(&popped) {
            assert_eq!(p, &format!("SREM s {m}"));
        }
        let left = bulks(&run(&mut s, &mut c, 2, "smembers s").reply);
        assert_eq!(left.len(), n - k);
        assert!(left.iter().all(|m| !popped.contains(m)));
        run(&mut s, &mut c, 2, "spop s 1000");
    }
    // Case 3 rebuilds the set: integers left over become an intset again.
    run(&mut s, &mut c, 2, "sadd s x 1 2 3 4 5 6 7 8 9 10 11");
    run(&mut s, &mut c, 2, "srem s x");
    assert_eq!(encoding(&s, "s"), "hashtable");
    run(&mut s, &mut c, 2, "spop s 10");
    assert_eq!(encoding(&s, "s"), "intset");
    assert_eq!(
        run(&mut s, &mut c, 2, "spop s -1").reply,
        "-ERR value is out of range, must be positive\r\n"
    );
}

#[test]
fn srandmember_counts() {
    let (mut s, mut c) = new_server();
    for i in 0..50 {
        run(&mut s, &mut c, 2, &format!("sadd s {i}"));
    }
    for k in [1, 10, 49, 50, 80] {
        let mut got = bulks(&run(&mut s, &mut c, 2, &format!("srandmember s {k}")).reply);
        assert_eq!(got.len(), k.min(50));
        got.sort();
        got.dedup();
        assert_eq!(got.len(), k.min(50), "distinct");
    }
    assert_eq!(
        bulks(&run(&mut s, &mut c, 2, "srandmember s -200").reply).len(),
        200
    );
    assert!(run(&mut s, &mut c, 3, "srandmember s 2")
        .reply
        .starts_with("*2\r\n"));
}

#[test]
fn algebra_and_store() {
    let (mut s, mut c) = new_server();
    run(&mut s, &mut c, 2, "sadd a 1 2 3 4");
    run(&mut s, &mut c, 2, "sadd b 3 4 5");
    run(&mut s, &mut c, 2, "sadd d x 3");
    assert_eq!(
        bulks(&run(&mut s, &mut c, 2, "sinter a b").reply),
        ["3", "4"]
    );
    assert_eq!(
        bulks(&run(&mut s, &mut c, 2, "sunion a b").reply),
        ["1", "2", "3", "4", "5"]
    );
    assert_eq!(
        bulks(&run(&mut s, &mut c, 2, "sdiff a b").reply),
        ["1", "2"]
    );
    assert_eq!(
        run(&mut s, &mut c, 2, "sintercard 2 a b limit 1").reply,
        ":1\r\n"
    );
    let r = run(&mut s, &mut c, 2, "sinterstore dst a d");
    assert_eq!((r.reply.as_str(), r.dirty), (":1\r\n", 1));
    assert_eq!(encoding(&s, "dst"), "intset");
    let r = run(&mut s, &mut c, 2, "sinterstore dst a none");
    assert_eq!((r.reply.as_str(), r.dirty), (":0\r\n", 1));
    assert!(s.dbs[0].get(b"dst").is_none());
    let r = run(&mut s, &mut c, 2, "sdiffstore dst a a");
    assert_eq!((r.reply.as_str(), r.dirty), (":0\r\n", 0));
    run(&mut s, &mut c, 2, "sunionstore dst a d");
    assert_eq!(encoding(&s, "dst"), "hashtable");
    assert_eq!(run(&mut s, &mut c, 2, "scard dst").reply, ":5\r\n");
    assert_eq!(
        run(&mut s, &mut c, 2, "sintercard 0 a").reply,
        "-ERR numkeys should be greater than 0\r\n"
    );
}

#[derive(Debug, Clone)]
enum SOp {
    Add(Vec<u8>),
    Rem(u8),
    Move(u8),
}

fn member(n: u8) -> String {
    if n < 20 {
        n.to_string()
    } else {
        format!("m{n}")
    }
}

fn sop() -> impl Strategy<Value = SOp> {
    prop_oneof![
        proptest::collection::vec(0..24u8, 1..4).prop_map(SOp::Add),
        (0..24u8).prop_map(SOp::Rem),
        (0..24u8).prop_map(SOp::Move),
    ]
}

proptest! {
    /// Random SADD/SREM/SMOVE sequences on two sets against two BTreeSets:
    /// same replies, same members, intset order while integer-only.
    #[test]
    fn sets_match_model(ops in proptest::collection::vec(sop(), 1..60), max in 1..8u64) {
        let (mut s, mut c) = new_server();
        s.config.set_max_intset_entries = max;
        let mut a: BTreeSet<String> = BTreeSet::new();
        let mut b: BTreeSet<String> = BTreeSet::new();
        for op in ops {
            let (line, want) = match &op {
                SOp::Add(ms) => {
                    let ms: Vec<String> = ms.iter().map(|&m| member(m)).collect();
                    let n = ms.iter().filter(|m| a.insert(m.to_string())).count();
                    (format!("sadd a {}", ms.join(" ")), format!(":{n}\r\n"))
                }
                SOp::Rem(m) => {
                    let m = member(*m);
                    (format!("srem a {m}"), format!(":{}\r\n", a.remove(&m) as i32))
                }
                SOp::Move(m) => {
                    let m = member(*m);
                    let moved = a.remove(&m);
                    if moved {
                        b.insert(m.clone());
                    }
                    (format!("smove a b {m}"), format!(":{}\r\n", moved as i32))
                }
            };
            prop_assert_eq!(run(&mut s, &mut c, 2, &line).reply, want, "{}", line);
            for (k, model) in [("a", &a), ("b", &b)] {
                prop_assert_eq!(run(&mut s, &mut c, 2, &format!("scard {k}")).reply, format!(":{}\r\n", model.len()));
                let got = bulks(&run(&mut s, &mut c, 2, &format!("smembers {k}")).reply);
                if model.is_empty() {
                    prop_assert!(s.dbs[0].get(k.as_bytes()).is_none());
                    continue;
                }
                if encoding(&s, k) == "intset" {
                    let mut ints: Vec<i64> = model.iter().map(|m| m.parse().unwrap()).collect();
                    ints.sort();
                    let want: Vec<String> = ints.iter().map(|i| i.to_string()).collect();
                    prop_assert_eq!(&got, &want);
                }
                let got: BTreeSet<String> = got.into_iter().collect();
                prop_assert_eq!(&got, model);
            }
        }
    }
}
