//! Model-based tests: random operation sequences applied to a [`ZSet`]
//! and to a `BTreeMap` member -> score model must agree on every
//! observable (score, rank, order, ranges, encoding thresholds).

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
enum Op {
    Set(u8, i8),
    Remove(u8),
    RemoveRanks(u8, u8),
    Shrink,
}

fn member(i: u8) -> Bytes {
    // Long members (>= 200) cross the max-value threshold.
    if i >= 200 {
        Bytes::from(format!("long-member-{i:0>70}"))
    } else {
        Bytes::from(format!("m{i}"))
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), -20i8..20).prop_map(|(m, s)| Op::Set(m, s)),
        3 => any::<u8>().prop_map(Op::Remove),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::RemoveRanks(a, b)),
        1 => Just(Op::Shrink),
    ]
}

/// The model's order: (score, member bytes).
fn model_order(m: &BTreeMap<Bytes, f64>) -> Vec<(f64, Bytes)> {
    let mut v: Vec<(f64, Bytes)> = m.iter().map(|(k, s)| (*s, k.clone())).collect();
    v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn zset_matches_model(ops in proptest::collection::vec(op(), 1..400)) {
        let lim = ZLimits { max_entries: 16, max_value: 64 };
        let mut z = ZSet::default();
        let mut m: BTreeMap<Bytes, f64> = BTreeMap::new();
        let mut ever_big = false;
        for o in ops {
            match o {
                Op::Set(i, s) => {
                    let added = z.set(&member(i), s as f64 / 2.0, lim);
                    prop_assert_eq!(added, m.insert(member(i), s as f64 / 2.0).is_none());
                }
                Op::Remove(i) => {
                    prop_assert_eq!(z.remove(&member(i)), m.remove(&member(i)).is_some());
                }
                Op::RemoveRanks(a, b) => {
                    let n = z.len();
                    let (a, b) = (a as usize % (n + 1), b as usize % (n + 1));
                    let (a, b) = (a.min(b), a.max(b));
                    let order = model_order(&m);
                    let removed: Vec<(f64, Bytes)> = z
                        .remove_ranks(a, b)
                        .into_iter()
                        .map(|(s, m)| (s, Bytes::copy_from_slice(&m)))
                        .collect();
                    prop_assert_eq!(&removed[..], &order[a..b]);
                    for e in removed {
                        m.remove(&e.1);
                    }
                }
                Op::Shrink => z.shrink_if_fits(lim),
            }
            if m.len() > lim.max_entries || m.keys().any(|k| k.len() > lim.max_value) {
                ever_big = true;
            }
            // Listpack never converts back by itself.
            if ever_big && z.encoding() == ZEncoding::Listpack {
                prop_assert!(m.len() <= lim.max_entries);
            }
            if !ever_big {
                prop_assert_eq!(z.encoding(), ZEncoding::Listpack);
            }
            let order = model_order(&m);
            prop_assert_eq!(z.len(), order.len());
            let got: Vec<(f64, Bytes)> = z.iter().map(|(s, m)| (s, Bytes::copy_from_slice(m))).collect();
            prop_assert_eq!(&got, &order);
            for (r, (s, k)) in order.iter().enumerate() {
                prop_assert_eq!(z.rank(k), Some(r));
                prop_assert_eq!(z.score(k), Some(*s));
                prop_assert_eq!(z.at(r), (*s, &k[..]));
            }
            if let Some(first) = order.first() {
                let range = ScoreRange { min: first.0, max: first.0 + 3.0, minex: true, maxex: false };
                let (a, b) = z.score_span(&range);
                let want = order.iter().filter(|e| e.0 > range.min && e.0 <= range.max).count();
                prop_assert_eq!(b - a, want);
                let skipped = order.iter().take_while(|e| e.0 <= range.min).count();
                prop_assert_eq!(a, skipped);
            }
            let lex = LexRange { min: LexBound::Incl(Bytes::from_static(b"m2")), max: LexBound::Excl(Bytes::from_static(b"m5")) };
            let (a, b) = z.lex_span(&lex);
            // Only meaningful when all scores are equal; check the count then.
            if order.windows(2).all(|w| w[0].0 == w[1].0) {
                let want = order.iter().filter(|e| e.1.as_ref() >= &b"m2"[..] && e.1.as_ref() < &b"m5"[..]).count();
                prop_assert_eq!(b - a, want);
            }
        }
    }
}

#[test]
fn big_set_ranks() {
    let lim = ZLimits {
        max_entries: 128,
        max_value: 64,
    };
    let mut z = ZSet::default();
    for i in 0..10_000u32 {
        z.insert_new(Bytes::from(format!("m{i}")), (i % 1000) as f64, lim);
    }
    assert_eq!(z.encoding(), ZEncoding::Skiplist);
    assert_eq!(z.len(), 10_000);
    let mut prev: Option<(f64, Bytes)> = None;
    for (r, e) in z.iter().enumerate() {
        assert_eq!(z.rank(e.1), Some(r));
        if let Some(p) = &prev {
            assert!(p.0 < e.0 || (p.0 == e.0 && &p.1[..] < e.1));
        }
        prev = Some((e.0, Bytes::copy_from_slice(e.1)));
    }
    let removed = z.remove_ranks(100, 9_900);
    assert_eq!(removed.len(), 9_800);
    assert_eq!(z.len(), 200);
    z.shrink_if_fits(ZLimits {
        max_entries: 200,
        max_value: 64,
    });
    assert_eq!(z.encoding(), ZEncoding::Listpack);
}

#[test]
fn parse_bounds() {
    assert_eq!(parse_score_bound(b"(1.5"), Some((1.5, true)));
    assert_eq!(parse_score_bound(b"-inf"), Some((f64::NEG_INFINITY, false)));
    assert_eq!(parse_score_bound(b"("), Some((0.0, true)));
    assert_eq!(parse_score_bound(b"nan"), None);
    assert_eq!(parse_score_bound(b"x"), None);
    assert!(matches!(parse_lex_bound(b"-"), Some(LexBound::NegInf)));
    assert!(matches!(parse_lex_bound(b"[a"), Some(LexBound::Incl(_))));
    assert!(parse_lex_bound(b"a").is_none());
    assert!(parse_lex_bound(b"").is_none());
}

#[test]
fn negative_zero_in_listpack() {
    let lim = ZLimits {
        max_entries: 128,
        max_value: 64,
    };
    let mut z = ZSet::default();
    z.set(b"a", -0.0, lim);
    assert!(z.score(b"a").unwrap().is_sign_positive());
    let mut s = ZSet::new(ZEncoding::Skiplist);
    s.set(b"a", -0.0, lim);
    assert!(s.score(b"a").unwrap().is_sign_negative());
}

#[test]
fn scan_returns_every_stable_member_despite_changes() {
    let lim = ZLimits {
        max_entries: 0,
        max_value: 64,
    };
    let mut z = ZSet::new(ZEncoding::Skiplist);
    for i in 0..2000u32 {
        z.insert_new(Bytes::from(format!("s{i}")), i as f64, lim);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    let mut round = 0u32;
    loop {
        let (got, next) = z.scan_step(cursor, 7);
        seen.extend(got);
        // Churn: add and remove other members between calls.
        z.insert_new(Bytes::from(format!("t{round}")), 0.5, lim);
        if round.is_multiple_of(2) {
            z.remove(format!("t{}", round / 2).as_bytes());
        }
        round += 1;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    for i in 0..2000u32 {
        assert!(seen.contains(format!("s{i}").as_bytes()), "s{i} missing");
    }
}

#[test]
fn compact_header() {
    // A sorted set sits in `Value` without a box of its own.
    assert_eq!(std::mem::size_of::<ZSet>(), 16);
    assert_eq!(std::mem::size_of::<crate::keyspace::Value>(), 24);
}
