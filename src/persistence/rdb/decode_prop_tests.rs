//! Model-based property tests of `decode_object`: random collections,
//! encoded in each RDB form that can hold them, must decode to the same
//! contents (checked against a plain model) with the encoding Redis 7.0
//! picks.

use super::tests::{dec, enc, hash_items, list_items, set_items, zset_items};
use super::*;
use crate::persistence::rdb::ziplist::tests::{build as zl_build, zstr};
use proptest::prelude::*;
use std::collections::BTreeSet;

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (-70000i64..70000).prop_map(|n| n.to_string().into_bytes()),
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

fn blob(out: &mut Vec<u8>, b: &[u8]) {
    enc::string(out, b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn hashes_match_the_model(m in proptest::collection::btree_map(member(), member(), 1..200)) {
        let lim = Limits::default();
        let want: Vec<(Vec<u8>, Vec<u8>)> = m.clone().into_iter().collect();
        let long = m.iter().any(|(f, v)| f.len() > 64 || v.len() > 64);
        // Type 4: field, value strings.
        let mut b = vec![];
        enc::len(&mut b, m.len() as u64);
        for (f, v) in &m {
            enc::string(&mut b, f);
            enc::string(&mut b, v);
        }
        let v = dec(types::HASH, &b).unwrap().unwrap();
        prop_assert_eq!(hash_items(&v), want.clone());
        prop_assert_eq!(v.encoding(), if m.len() > lim.hash.max_entries || long { "hashtable" } else { "listpack" });
        // Type 16 (listpack) and 13 (ziplist): only the count decides.
        let flat: Vec<&[u8]> = m.iter().flat_map(|(f, v)| [f.as_slice(), v.as_slice()]).collect();
        let mut b = vec![];
        blob(&mut b, &enc::lp(&flat));
        let v = dec(types::HASH_LISTPACK, &b).unwrap().unwrap();
        prop_assert_eq!(hash_items(&v), want.clone());
        prop_assert_eq!(v.encoding(), if m.len() > lim.hash.max_entries { "hashtable" } else { "listpack" });
        let zl: Vec<Vec<u8>> = flat.iter().map(|x| zstr(x)).collect();
        let mut b = vec![];
        blob(&mut b, &zl_build(&zl));
        prop_assert_eq!(hash_items(&dec(types::HASH_ZIPLIST, &b).unwrap().unwrap()), want);
    }

    #[test]
    fn sets_match_the_model(m in proptest::collection::btree_set(member(), 1..600)) {
        let want: Vec<Vec<u8>> = m.iter().cloned().collect();
        let ints = m.len() <= 512 && m.iter().all(|x| crate::util::num::parse_i64(x).is_some());
        let mut b = vec![];
        enc::len(&mut b, m.len() as u64);
        for x in &m {
            enc::string(&mut b, x);
        }
        let v = dec(types::SET, &b).unwrap().unwrap();
        prop_assert_eq!(set_items(&v), want.clone());
        prop_assert_eq!(v.encoding(), if ints { "intset" } else { "hashtable" });
        let items: Vec<&[u8]> = m.iter().map(|x| x.as_slice()).collect();
        let mut b = vec![];
        blob(&mut b, &enc::lp(&items));
        let v = dec(types::SET_LISTPACK, &b).unwrap().unwrap();
        prop_assert_eq!(set_items(&v), want);
        prop_assert_eq!(v.encoding(), if ints { "intset" } else { "hashtable" });
    }

    #[test]
    fn zsets_match_the_model(m in proptest::collection::btree_map(member(), -1e6f64..1e6, 1..200)) {
        let mut want: Vec<(Vec<u8>, f64)> = m.clone().into_iter().collect();
        want.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let mut b = vec![];
        enc::len(&mut b, m.len() as u64);
        for (x, s) in want.iter().rev() {
            enc::string(&mut b, x);
            b.extend_from_slice(&s.to_le_bytes());
        }
        let v = dec(types::ZSET_2, &b).unwrap().unwrap();
        prop_assert_eq!(zset_items(&v), want.clone());
        let fits = m.len() <= 128 && m.keys().all(|x| x.len() <= 64);
        prop_assert_eq!(v.encoding(), if fits { "listpack" } else { "skiplist" });
        let scores: Vec<Vec<u8>> = want.iter().map(|(_, s)| crate::util::num::fmt_double(*s).into_bytes()).collect();
        let flat: Vec<&[u8]> = want.iter().zip(&scores).flat_map(|((x, _), s)| [x.as_slice(), s.as_slice()]).collect();
        let mut b = vec![];
        blob(&mut b, &enc::lp(&flat));
        prop_assert_eq!(zset_items(&dec(types::ZSET_LISTPACK, &b).unwrap().unwrap()), want);
    }

    #[test]
    fn quicklists_keep_order(items in proptest::collection::vec(member(), 1..300), cuts in proptest::collection::btree_set(1usize..300, 0..10)) {
        let cuts: BTreeSet<usize> = cuts.into_iter().filter(|&c| c < items.len()).collect();
        let mut nodes: Vec<&[Vec<u8>]> = vec![];
        let mut start = 0;
        for c in cuts.iter().copied().chain([items.len()]) {
            nodes.push(&items[start..c]);
            start = c;
        }
        let mut b = vec![];
        enc::len(&mut b, nodes.len() as u64);
        for n in &nodes {
            b.push(2);
            let refs: Vec<&[u8]> = n.iter().map(|x| x.as_slice()).collect();
            blob(&mut b, &enc::lp(&refs));
        }
        prop_assert_eq!(list_items(&dec(types::LIST_QUICKLIST_2, &b).unwrap().unwrap()), items);
    }
}
