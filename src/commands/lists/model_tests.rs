//! Model-based property test: random sequences of list commands on two
//! keys, run through the real handlers, must answer exactly what a pair of
//! `VecDeque`s predicts (replies byte for byte, emptied keys deleted).

use super::tests::{new_server, reply};
use proptest::prelude::*;
use std::collections::VecDeque;

type Model = [VecDeque<String>; 2];

const KEYS: [&str; 2] = ["k", "j"];
const VALS: [&str; 5] = ["a", "b", "c", "1", "01"];

#[derive(Debug, Clone)]
enum Op {
    Push {
        key: usize,
        head: bool,
        vals: Vec<usize>,
        only_existing: bool,
    },
    Pop {
        key: usize,
        head: bool,
        count: Option<i64>,
    },
    Len(usize),
    Index(usize, i64),
    Set(usize, i64, usize),
    Insert {
        key: usize,
        after: bool,
        pivot: usize,
        val: usize,
    },
    Rem(usize, i64, usize),
    Trim(usize, i64, i64),
    Range(usize, i64, i64),
    Move {
        from_head: bool,
        to_head: bool,
        swap: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0usize..2;
    let v = 0usize..VALS.len();
    let i = -6i64..6;
    prop_oneof![
        4 => (k.clone(), any::<bool>(), proptest::collection::vec(v.clone(), 1..4), prop::bool::weighted(0.2))
            .prop_map(|(key, head, vals, only_existing)| Op::Push { key, head, vals, only_existing }),
        2 => (k.clone(), any::<bool>(), proptest::option::of(0i64..4))
            .prop_map(|(key, head, count)| Op::Pop { key, head, count }),
        1 => k.clone().prop_map(Op::Len),
        1 => (k.clone(), i.clone()).prop_map(|(a, b)| Op::Index(a, b)),
        1 => (k.clone(), i.clone(), v.clone()).prop_map(|(a, b, c)| Op::Set(a, b, c)),
        1 => (k.clone(), any::<bool>(), v.clone(), v.clone())
            .prop_map(|(key, after, pivot, val)| Op::Insert { key, after, pivot, val }),
        1 => (k.clone(), -2i64..3, v.clone()).prop_map(|(a, b, c)| Op::Rem(a, b, c)),
        1 => (k.clone(), i.clone(), i.clone()).prop_map(|(a, b, c)| Op::Trim(a, b, c)),
        2 => (k.clone(), i.clone(), i).prop_map(|(a, b, c)| Op::Range(a, b, c)),
        1 => (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(from_head, to_head, swap)| Op::Move { from_head, to_head, swap }),
    ]
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn array<'a>(items: impl ExactSizeIterator<Item = &'a String>) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for s in items {
        out.push_str(&bulk(s));
    }
    out
}

fn norm(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// LRANGE/LTRIM clamping of `start..=end`.
fn bounds(len: usize, s: i64, e: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if s < 0 { (len + s).max(0) } else { s };
    let e = if e < 0 { len + e } else { e.min(len - 1) };
    (s <= e && s < len).then_some((s as usize, e as usize))
}

/// Applies `op` to the model; returns the command line and its reply.
fn apply(m: &mut Model, op: &Op) -> (String, String) {
    match op {
        Op::Push {
            key,
            head,
            vals,
            only_existing,
        } => {
            let name = match (head, only_existing) {
                (true, false) => "lpush",
                (false, false) => "rpush",
                (true, true) => "lpushx",
                (false, true) => "rpushx",
            };
            let words: Vec<&str> = vals.iter().map(|&v| VALS[v]).collect();
            let line = format!("{name} {} {}", KEYS[*key], words.join(" "));
            let l = &mut m[*key];
            if *only_existing && l.is_empty() {
                return (line, ":0\r\n".into());
            }
            for w in words {
                if *head {
                    l.push_front(w.into())
                } else {
                    l.push_back(w.into())
                }
            }
            (line, format!(":{}\r\n", l.len()))
        }
        Op::Pop { key, head, count } => {
            let name = if *head { "lpop" } else { "rpop" };
            let l = &mut m[*key];
            let mut line = format!("{name} {}", KEYS[*key]);
            match count {
                None => {
                    let v = if *head { l.pop_front() } else { l.pop_back() };
                    (line, v.map_or("$-1\r\n".into(), |v| bulk(&v)))
                }
                Some(c) => {
                    line.push_str(&format!(" {c}"));
                    if l.is_empty() {
                        return (line, "*-1\r\n".into());
                    }
                    let n = (*c as usize).min(l.len());
                    let popped: Vec<String> = (0..n)
                        .filter_map(|_| if *head { l.pop_front() } else { l.pop_back() })
                        .collect();
                    (line, array(popped.iter()))
                }
            }
        }
        Op::Len(k) => (
            format!("llen {}", KEYS[*k]),
            format!(":{}\r\n", m[*k].len()),
        ),
        Op::Index(k, i) => {
            let l = &m[*k];
            let r = norm(l.len(), *i).map_or("$-1\r\n".into(), |i| bulk(&l[i]));
            (format!("lindex {} {i}", KEYS[*k]), r)
        }
        Op::Set(k, i, v) => {
            let line = format!("lset {} {i} {}", KEYS[*k], VALS[*v]);
            let l = &mut m[*k];
            if l.is_empty() {
                return (line, "-ERR no such key\r\n".into());
            }
            match norm(l.len(), *i) {
                Some(i) => {
                    l[i] = VALS[*v].into();
                    (line, "+OK\r\n".into())
                }
                None => (line, "-ERR index out of range\r\n".into()),
            }
        }
        Op::Insert {
            key,
            after,
            pivot,
            val,
        } => {
            let pos = if *after { "after" } else { "before" };
            let line = format!(
                "linsert {} {pos} {} {}",
                KEYS[*key], VALS[*pivot], VALS[*val]
            );
            let l = &mut m[*key];
            if l.is_empty() {
                return (line, ":0\r\n".into());
            }
            match l.iter().position(|x| x == VALS[*pivot]) {
                None => (line, ":-1\r\n".into()),
                Some(i) => {
                    l.insert(if *after { i + 1 } else { i }, VALS[*val].into());
                    (line, format!(":{}\r\n", l.len()))
                }
            }
        }
        Op::Rem(k, c, v) => {
            let line = format!("lrem {} {c} {}", KEYS[*k], VALS[*v]);
            let l = &mut m[*k];
            let limit = if *c == 0 {
                usize::MAX
            } else {
                c.unsigned_abs() as usize
            };
            let mut idx: Vec<usize> = (0..l.len()).filter(|&i| l[i] == VALS[*v]).collect();
            if *c < 0 {
                idx.reverse();
            }
            idx.truncate(limit);
            idx.sort_unstable();
            for &i in idx.iter().rev() {
                l.remove(i);
            }
            (line, format!(":{}\r\n", idx.len()))
        }
        Op::Trim(k, s, e) => {
            let l = &mut m[*k];
            *l = match bounds(l.len(), *s, *e) {
                Some((s, e)) => l.range(s..=e).cloned().collect(),
                None => VecDeque::new(),
            };
            (format!("ltrim {} {s} {e}", KEYS[*k]), "+OK\r\n".into())
        }
        Op::Range(k, s, e) => {
            let l = &m[*k];
            let r = match bounds(l.len(), *s, *e) {
                Some((s, e)) => array(l.range(s..=e)),
                None => "*0\r\n".into(),
            };
            (format!("lrange {} {s} {e}", KEYS[*k]), r)
        }
        Op::Move {
            from_head,
            to_head,
            swap,
        } => {
            let (src, dst) = if *swap { (1, 0) } else { (0, 1) };
            let end = |h: bool| if h { "left" } else { "right" };
            let line = format!(
                "lmove {} {} {} {}",
                KEYS[src],
                KEYS[dst],
                end(*from_head),
                end(*to_head)
            );
            let v = if *from_head {
                m[src].pop_front()
            } else {
                m[src].pop_back()
            };
            match v {
                None => (line, "$-1\r\n".into()),
                Some(v) => {
                    let r = bulk(&v);
                    if *to_head {
                        m[dst].push_front(v)
                    } else {
                        m[dst].push_back(v)
                    }
                    (line, r)
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn list_commands_match_a_vecdeque_model(ops in proptest::collection::vec(op(), 1..80)) {
        let (mut s, mut c) = new_server();
        let mut m: Model = Default::default();
        for op in &ops {
            let (line, want) = apply(&mut m, op);
            let got = reply(&mut s, &mut c, &line);
            prop_assert_eq!(&got, &want, "{}", line);
            for (i, k) in KEYS.iter().enumerate() {
                // An emptied list is deleted, never left empty.
                prop_assert_eq!(s.dbs[0].get(k.as_bytes()).is_some(), !m[i].is_empty());
            }
        }
    }
}
