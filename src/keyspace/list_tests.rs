//! Unit and property tests of the quicklist list (the parent module).

use super::*;
use proptest::prelude::*;

fn list(items: &[&str]) -> ListValue {
    items.iter().map(|s| s.as_bytes()).collect()
}

fn strs(l: &ListValue) -> Vec<String> {
    l.iter()
        .map(|b| String::from_utf8(b.to_bytes()).unwrap())
        .collect()
}

#[test]
fn indexes_and_ranges() {
    let l = list(&["a", "b", "c"]);
    assert_eq!(l.get(0), Some(LpEntry::Str(b"a")));
    assert_eq!(l.get(-1), Some(LpEntry::Str(b"c")));
    assert_eq!(l.get(-4), None);
    assert_eq!(l.get(3), None);
    assert_eq!(l.range_bounds(0, -1), Some((0, 2)));
    assert_eq!(l.range_bounds(-100, 100), Some((0, 2)));
    assert_eq!(l.range_bounds(2, 1), None);
    assert_eq!(l.range_bounds(3, 10), None);
    assert_eq!(l.range_bounds(0, -10), None);
    assert_eq!(l.range_bounds(i64::MIN, i64::MAX), Some((0, 2)));
}

#[test]
fn trim_insert_remove() {
    let mut l = list(&["a", "b", "c", "d"]);
    assert_eq!(l.trim(1, -2), 2);
    assert_eq!(strs(&l), ["b", "c"]);
    assert_eq!(l.trim(5, 10), 2);
    assert!(l.is_empty());

    let mut l = list(&["a", "b", "a"]);
    assert!(l.insert(true, b"a", b"x"));
    assert!(l.insert(false, b"b", b"y"));
    assert!(!l.insert(false, b"zz", b"y"));
    assert_eq!(strs(&l), ["a", "x", "y", "b", "a"]);

    let mut l = list(&["a", "b", "a", "c", "a"]);
    assert_eq!(l.remove(-2, b"a"), 2);
    assert_eq!(strs(&l), ["a", "b", "c"]);
    let mut l = list(&["a", "b", "a", "c", "a"]);
    assert_eq!(l.remove(1, b"a"), 1);
    assert_eq!(strs(&l), ["b", "a", "c", "a"]);
    assert_eq!(l.remove(0, b"a"), 2);
    assert_eq!(strs(&l), ["b", "c"]);
}

#[test]
fn lpos() {
    let l = list(&["a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(l.positions(b"c", 1, 1, 0), [2]);
    assert_eq!(l.positions(b"c", 1, 0, 0), [2, 6, 7]);
    assert_eq!(l.positions(b"c", -1, 0, 0), [7, 6, 2]);
    assert_eq!(l.positions(b"c", 2, 1, 0), [6]);
    assert_eq!(l.positions(b"c", -3, 1, 0), [2]);
    assert_eq!(l.positions(b"c", 1, 0, 3), [2]);
    assert_eq!(l.positions(b"c", 4, 0, 0), Vec::<usize>::new());
    assert_eq!(l.positions(b"c", i64::MIN, 0, 0), [7, 6, 2]);
    assert_eq!(l.positions(b"c", i64::MIN, 1, 2), [7, 6]);
}

#[test]
fn packed_threshold_setting_and_plain_nodes() {
    assert_eq!(set_packed_threshold("1b"), Ok(()));
    assert_eq!(packed_threshold(), 1);
    assert!(set_packed_threshold("4gb").is_err());
    assert!(set_packed_threshold("abc").is_err());
    // Elements of 100 bytes or more get PLAIN nodes of their own.
    assert_eq!(set_packed_threshold("100b"), Ok(()));
    let big = vec![b'P'; 150];
    let mut l = ListValue::new();
    for v in [&b"a"[..], b"b", &big, b"c"] {
        l.push(End::Tail, v);
    }
    l.push(End::Head, &big);
    let shape: Vec<(bool, usize)> = l.nodes().map(|n| (n.is_plain(), n.count())).collect();
    assert_eq!(shape, [(true, 1), (false, 2), (true, 1), (false, 1)]);
    // LSET small into a plain node: the element joins the next node.
    assert!(l.set(3, b"s"));
    let shape: Vec<(bool, usize)> = l.nodes().map(|n| (n.is_plain(), n.count())).collect();
    assert_eq!(shape, [(true, 1), (false, 2), (false, 2)]);
    // LSET large into a packed node: split around a new plain node.
    assert!(l.set(1, &big));
    let shape: Vec<(bool, usize)> = l.nodes().map(|n| (n.is_plain(), n.count())).collect();
    assert_eq!(shape, [(true, 1), (true, 1), (false, 1), (false, 2)]);
    assert_eq!(
        strs(&l).iter().map(|s| s.len()).collect::<Vec<_>>(),
        [150, 150, 1, 1, 1]
    );
    assert_eq!(set_packed_threshold("0"), Ok(()));
    assert_eq!(packed_threshold(), 1 << 30);
}

#[test]
fn pop_many_order() {
    let mut l = list(&["a", "b", "c", "d"]);
    let t: Vec<_> = l
        .pop_many(End::Tail, 3)
        .iter()
        .map(|k| k.to_vec())
        .collect();
    assert_eq!(t, [b"d".to_vec(), b"c".to_vec(), b"b".to_vec()]);
    let h = l.pop_many(End::Head, 10);
    assert_eq!(h.len(), 1);
    assert!(l.is_empty());
}

#[derive(Debug, Clone)]
enum Op {
    Push(bool, usize),
    Pop(bool),
    PopMany(bool, usize),
    Set(i64, usize),
    Trim(i64, i64),
    Insert(bool, usize, usize),
    Remove(i64, usize),
    Index(i64),
    Range(i64, i64),
}

/// Elements of every listpack encoding: small and large integers,
/// non-canonical numbers, strings of each length class.
fn pool() -> Vec<Vec<u8>> {
    let mut p: Vec<Vec<u8>> = [
        "0",
        "1",
        "-5",
        "127",
        "128",
        "4095",
        "-4096",
        "32767",
        "100000",
        "8388608",
        "2147483648",
        "-9223372036854775808",
        "01",
        "a",
        "hello",
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for n in [63, 64, 300, 1000, 4095, 4096, 9000] {
        p.push(vec![b'x'; n]);
    }
    p
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0..n).prop_map(|(h, v)| Op::Push(h, v)),
        1 => any::<bool>().prop_map(Op::Pop),
        1 => (any::<bool>(), 0usize..6).prop_map(|(h, c)| Op::PopMany(h, c)),
        1 => (-12i64..12, 0..n).prop_map(|(i, v)| Op::Set(i, v)),
        1 => (-12i64..12, -12i64..12).prop_map(|(s, e)| Op::Trim(s, e)),
        2 => (any::<bool>(), 0..n, 0..n).prop_map(|(a, p, v)| Op::Insert(a, p, v)),
        1 => (-3i64..3, 0..n).prop_map(|(c, v)| Op::Remove(c, v)),
        1 => (-12i64..12).prop_map(Op::Index),
        1 => (-12i64..12, -12i64..12).prop_map(|(s, e)| Op::Range(s, e)),
    ]
}

fn norm(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (i >= 0 && (i as usize) < len).then_some(i as usize)
}

/// Every node is a valid listpack with its cached count, none is empty,
/// the counts add up, no node has more entries than a positive fill, and
/// every node of several elements is within the byte limit unless
/// `strict` is off: Redis lets LSET grow a node in place, and LINSERT
/// into the middle of a full node splits it and adds the element to one
/// half whatever its size (`_quicklistInsert`).
fn check_nodes(l: &ListValue, strict: bool) -> Result<(), String> {
    let mut total = 0;
    for n in l.nodes() {
        n.validate()?;
        total += n.count();
        if l.fill > 0 && n.count() > l.fill as usize {
            return Err(format!("node of {} entries over {}", n.count(), l.fill));
        }
        if !strict || n.is_plain() || n.count() < 2 {
            continue;
        }
        if l.fill < 0 {
            let lim = OPTIMIZATION_LEVEL[(-l.fill) as usize - 1];
            if n.sz() > lim + 4 {
                return Err(format!("node of {} bytes over {lim}", n.sz()));
            }
        } else if n.count() > l.fill as usize || n.sz() > SIZE_SAFETY_LIMIT + 4 {
            return Err(format!(
                "node of {} / {} bytes over {}",
                n.count(),
                n.sz(),
                l.fill
            ));
        }
    }
    if total != l.len() {
        return Err(format!("counts {total} vs {}", l.len()));
    }
    Ok(())
}

fn fill() -> impl Strategy<Value = i64> {
    prop_oneof![-5i64..=-1, 1i64..=6, Just(128i64)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn matches_vecdeque_model(fill in fill(), ops in proptest::collection::vec(op(23), 0..120)) {
        let p = pool();
        let mut l = ListValue::with_fill(fill);
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        let mut strict = true;
        for o in ops {
            match o {
                Op::Push(h, v) => {
                    l.push(if h { End::Head } else { End::Tail }, &p[v]);
                    if h { m.push_front(p[v].clone()) } else { m.push_back(p[v].clone()) }
                }
                Op::Pop(h) => {
                    let got = l.pop(if h { End::Head } else { End::Tail }).map(|k| k.to_vec());
                    let want = if h { m.pop_front() } else { m.pop_back() };
                    prop_assert_eq!(got, want);
                }
                Op::PopMany(h, c) => {
                    let got: Vec<Vec<u8>> = l.pop_many(if h { End::Head } else { End::Tail }, c)
                        .iter().map(|k| k.to_vec()).collect();
                    let mut want = Vec::new();
                    for _ in 0..c {
                        if let Some(x) = if h { m.pop_front() } else { m.pop_back() } {
                            want.push(x);
                        }
                    }
                    prop_assert_eq!(got, want);
                }
                Op::Set(i, v) => {
                    let ok = l.set(i, &p[v]);
                    let idx = norm(m.len(), i);
                    prop_assert_eq!(ok, idx.is_some());
                    if let Some(i) = idx { m[i] = p[v].clone(); strict = false; }
                }
                Op::Trim(s, e) => {
                    l.trim(s, e);
                    let len = m.len() as i64;
                    let s2 = if s < 0 { (len + s).max(0) } else { s };
                    let e2 = if e < 0 { len + e } else { e.min(len - 1) };
                    m = m.iter().enumerate()
                        .filter(|(i, _)| (*i as i64) >= s2 && (*i as i64) <= e2)
                        .map(|(_, v)| v.clone()).collect();
                }
                Op::Insert(after, pv, v) => {
                    let ok = l.insert(after, &p[pv], &p[v]);
                    strict = false;
                    let pos = m.iter().position(|x| *x == p[pv]);
                    prop_assert_eq!(ok, pos.is_some());
                    if let Some(i) = pos { m.insert(if after { i + 1 } else { i }, p[v].clone()); }
                }
                Op::Remove(c, v) => {
                    let n = l.remove(c, &p[v]);
                    let limit = if c == 0 { usize::MAX } else { c.unsigned_abs() as usize };
                    let mut removed = 0;
                    if c >= 0 {
                        let mut i = 0;
                        while i < m.len() {
                            if removed < limit && m[i] == p[v] { m.remove(i); removed += 1; } else { i += 1; }
                        }
                    } else {
                        let mut i = m.len();
                        while i > 0 {
                            i -= 1;
                            if removed < limit && m[i] == p[v] { m.remove(i); removed += 1; }
                        }
                    }
                    prop_assert_eq!(n, removed);
                }
                Op::Index(i) => {
                    let got = l.get(i).map(|e| e.to_bytes());
                    prop_assert_eq!(got, norm(m.len(), i).map(|i| m[i].clone()));
                }
                Op::Range(s, e) => {
                    if let Some((a, b)) = l.range_bounds(s, e) {
                        let fwd: Vec<Vec<u8>> = l.iter_range(a, b).map(|e| e.to_bytes()).collect();
                        let want: Vec<Vec<u8>> = m.range(a..=b).cloned().collect();
                        prop_assert_eq!(&fwd, &want);
                        let mut back: Vec<Vec<u8>> = l.iter_range(a, b).rev().map(|e| e.to_bytes()).collect();
                        back.reverse();
                        prop_assert_eq!(back, want);
                    }
                }
            }
            if let Err(e) = check_nodes(&l, strict) {
                return Err(TestCaseError::fail(e));
            }
            let got: Vec<Vec<u8>> = l.iter().map(|b| b.to_bytes()).collect();
            let want: Vec<Vec<u8>> = m.iter().cloned().collect();
            prop_assert_eq!(got, want);
            for (i, x) in m.iter().enumerate() {
                let hits = l.positions(x, 1, 1, 0);
                prop_assert_eq!(hits.first().copied(), m.iter().position(|y| y == x));
                let _ = i;
            }
        }
    }
}
