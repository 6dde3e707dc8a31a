//! Loads the real files in `../shared/redis-assets` (written by Redis 2.x
//! to 7.4 and Valkey 8) and checks their content: the top-level files
//! against what redis-server 7.0.15 shows for them, the `newer/` files
//! against the `.json` dataset saved next to each.

use super::tests::{load_bytes, Collect};
use super::*;
use crate::keyspace::Value;
use crate::persistence::rdb::decode::tests::{hash_items, list_items, set_items, zset_items};

#[path = "load_asset_json.rs"]
mod json;
use json::{parse_json, J};

fn asset(name: &str) -> Option<Vec<u8>> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/redis-assets/").to_string() + name;
    match std::fs::read(&p) {
        Ok(d) => Some(d),
        Err(_) => {
            eprintln!("skipping: {p} not present");
            None
        }
    }
}

fn s(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|x| x.as_bytes().to_vec()).collect()
}

fn bytes_of(v: &Value) -> Vec<u8> {
    v.as_bytes().expect("a string").into_owned()
}

#[test]
fn encodings_rdb_v4() {
    let Some(d) = asset("encodings.rdb") else {
        return;
    };
    let (sum, c) = load_bytes(&d).unwrap();
    assert_eq!(
        (sum.version, sum.keys, sum.checksum),
        (4, 13, ChecksumState::Absent)
    );
    let enc = |k: &str| c.get(k).encoding();
    for (k, e) in [
        ("compressible", "raw"),
        ("hash", "listpack"),
        ("hash_zipped", "listpack"),
        ("list", "quicklist"),
        ("list_zipped", "quicklist"),
        ("number", "int"),
        ("set", "hashtable"),
        ("set_zipped_1", "intset"),
        ("set_zipped_2", "intset"),
        ("set_zipped_3", "intset"),
        ("string", "embstr"),
        ("zset", "listpack"),
        ("zset_zipped", "listpack"),
    ] {
        assert_eq!(enc(k), e, "{k}");
    }
    assert_eq!(bytes_of(c.get("compressible")), vec![b'a'; 137]);
    assert_eq!(bytes_of(c.get("string")), b"Hello World");
    assert_eq!(bytes_of(c.get("number")), b"10");
    let row = ["1", "2", "3", "a", "b", "c", "100000", "6000000000"];
    assert_eq!(list_items(c.get("list_zipped")), s(&row));
    assert_eq!(list_items(c.get("list")), s(&[row, row, row].concat()));
    assert_eq!(
        set_items(c.get("set")),
        s(&["1", "100000", "2", "3", "6000000000", "a", "b", "c"])
    );
    assert_eq!(set_items(c.get("set_zipped_1")), s(&["1", "2", "3", "4"]));
    assert_eq!(set_items(c.get("set_zipped_3")).len(), 6);
    let z: Vec<(Vec<u8>, f64)> = zset_items(c.get("zset"));
    let want = [
        ("a", 1.0),
        ("b", 2.0),
        ("c", 3.0),
        ("aa", 10.0),
        ("bb", 20.0),
        ("cc", 30.0),
        ("aaa", 100.0),
        ("bbb", 200.0),
        ("ccc", 300.0),
        ("aaaa", 1000.0),
        ("cccc", 123456789.0),
        ("bbbb", 5000000000.0),
    ];
    assert_eq!(
        z,
        want.iter()
            .map(|(m, s)| (m.as_bytes().to_vec(), *s))
            .collect::<Vec<_>>()
    );
    let h = hash_items(c.get("hash"));
    assert_eq!(h.len(), 11);
    assert!(h.contains(&(b"ddd".to_vec(), b"400".to_vec())));
    assert!(h.contains(&(b"eee".to_vec(), b"5000000000".to_vec())));
    assert_eq!(hash_items(c.get("hash_zipped")).len(), 3);
}

#[test]
fn small_legacy_files() {
    let pairs = vec![
        (b"f1".to_vec(), b"v1".to_vec()),
        (b"f2".to_vec(), b"v2".to_vec()),
    ];
    if let Some(d) = asset("hash-zipmap.rdb") {
        let (sum, c) = load_bytes(&d).unwrap();
        assert_eq!((sum.version, sum.keys), (3, 1));
        assert_eq!(c.get("hash").encoding(), "listpack");
        assert_eq!(hash_items(c.get("hash")), pairs);
    }
    if let Some(d) = asset("hash-ziplist.rdb") {
        let (sum, c) = load_bytes(&d).unwrap();
        assert_eq!(
            (sum.version, sum.keys, sum.checksum),
            (9, 1, ChecksumState::Ok)
        );
        assert_eq!(hash_items(c.get("hash")), pairs);
    }
    if let Some(d) = asset("list-quicklist.rdb") {
        let (sum, c) = load_bytes(&d).unwrap();
        assert_eq!((sum.version, sum.keys), (8, 2));
        assert_eq!(list_items(c.get("list")), s(&["7"]));
        assert!(matches!(c.get("x"), Value::Int(7)));
    }
    if let Some(d) = asset("zset-ziplist.rdb") {
        let (_, c) = load_bytes(&d).unwrap();
        assert_eq!(
            zset_items(c.get("zset")),
            vec![(b"one".to_vec(), 1.0), (b"two".to_vec(), 2.0)]
        );
    }
    if let Some(d) = asset("scriptbackup.rdb") {
        // A `lua` AUX field (ignored by Redis 7.0) and no keys.
        let (sum, c) = load_bytes(&d).unwrap();
        assert_eq!(sum.keys, 0);
        let lua = c.aux.iter().find(|a| a.0 == b"lua").expect("lua aux");
        assert_eq!(lua.1, b"return redis.call('set', 'foo', 'bar')");
        assert!(c
            .aux
            .iter()
            .any(|a| a.0 == b"repl-stream-db" && a.1 == b"0"));
        assert!(c.functions.is_empty());
    }
}

#[test]
fn corrupt_files_behave_like_redis() {
    if let Some(d) = asset("corrupt_empty_keys.rdb") {
        // redis-server: "keys loaded: 0, keys expired: 0, empty keys skipped: 9."
        let (sum, c) = load_bytes(&d).unwrap();
        assert_eq!((sum.keys, sum.empty_keys_skipped), (0, 9));
        assert!(c.keys.is_empty());
    }
    if let Some(d) = asset("corrupt_ziplist.rdb") {
        // redis-check-rdb: "[offset 494] ... Hash ziplist integrity check failed."
        let e = load_bytes(&d).expect_err("refused");
        assert_eq!(e.msg, "Hash ziplist integrity check failed.");
        assert_eq!(e.offset, 494);
        assert_eq!(e.doing, "read-object-value");
        assert_eq!(e.key.as_deref(), Some(&b"key:000000000091"[..]));
        assert_eq!(e.type_byte, Some(13));
    }
}

#[test]
fn aof_with_rdb_preamble_ends_where_commands_start() {
    let Some(d) = asset("rdb-preamble.aof") else {
        return;
    };
    let mut c = Collect::default();
    let (sum, end) = load_prefix(&d, &LoadOptions::default(), &mut c).unwrap();
    assert_eq!(sum.checksum, ChecksumState::Ok);
    assert_eq!(c.keys.len(), 2);
    assert!(d[end as usize..].starts_with(b"*2\r\n$6\r\nSELECT\r\n"));
}

/// Checks every key of `c` against the JSON dataset; returns how many keys
/// were compared.
fn compare_with_json(c: &Collect, json: &J) -> usize {
    let dbs = json.get("dataset").and_then(|d| d.get("dbs")).expect("dbs");
    let J::Obj(dbs) = dbs else { panic!("dbs") };
    let mut n = 0;
    for (db, keys) in dbs {
        let J::Obj(keys) = keys else { panic!("keys") };
        for (k, want) in keys {
            let Some(got) = c
                .keys
                .iter()
                .find(|e| e.0.to_string() == *db && e.1 == k.as_bytes())
            else {
                panic!("key {k} missing");
            };
            n += 1;
            let v = &got.2;
            assert_eq!(
                v.value_type().name(),
                want.get("type").unwrap().str(),
                "{k}"
            );
            if let Some(px) = want.get("pexpiretime") {
                assert_eq!(got.3.expire_ms.to_string(), px.str(), "{k}");
            }
            let wv = want.get("value").unwrap();
            let strs = |a: &[J]| {
                a.iter()
                    .map(|x| x.str().as_bytes().to_vec())
                    .collect::<Vec<_>>()
            };
            match v.value_type().name() {
                "string" if !k.starts_with("hll") => {
                    assert_eq!(bytes_of(v), wv.str().as_bytes(), "{k}")
                }
                "string" => assert!(bytes_of(v).starts_with(b"HYLL")),
                "list" => assert_eq!(list_items(v), strs(wv.arr()), "{k}"),
                "set" => {
                    let mut w = strs(wv.arr());
                    w.sort();
                    assert_eq!(set_items(v), w, "{k}");
                }
                "hash" => {
                    let mut w: Vec<_> = wv
                        .arr()
                        .iter()
                        .map(|p| {
                            (
                                p.arr()[0].str().as_bytes().to_vec(),
                                p.arr()[1].str().as_bytes().to_vec(),
                            )
                        })
                        .collect();
                    w.sort();
                    assert_eq!(hash_items(v), w, "{k}");
                }
                "zset" => {
                    let got = zset_items(v);
                    let w = wv.arr();
                    assert_eq!(got.len(), w.len(), "{k}");
                    for (g, p) in got.iter().zip(w) {
                        let ws = crate::util::num::parse_f64(p.arr()[1].str().as_bytes()).unwrap();
                        assert_eq!(g.0, p.arr()[0].str().as_bytes(), "{k}");
                        assert!(
                            g.1 == ws || ((g.1 - ws) / ws).abs() < 1e-15,
                            "{k}: {} vs {ws}",
                            g.1
                        );
                    }
                }
                "stream" => {
                    let Value::Stream(st) = v else { unreachable!() };
                    let got: Vec<_> = st
                        .range(
                            crate::keyspace::stream::StreamId::MIN,
                            crate::keyspace::stream::StreamId::MAX,
                            false,
                        )
                        .map(|e| (e.id.fmt(), e.to_vecs()))
                        .collect();
                    let w: Vec<_> = wv
                        .arr()
                        .iter()
                        .map(|e| {
                            (
                                e.arr()[0].str().to_string(),
                                e.arr()[1]
                                    .arr()
                                    .iter()
                                    .flat_map(|p| strs(p.arr()))
                                    .collect::<Vec<_>>(),
                            )
                        })
                        .collect();
                    assert_eq!(got, w, "{k}");
                }
                t => panic!("unexpected type {t}"),
            }
        }
    }
    n
}

#[test]
fn valkey_8_file_fully_loads() {
    let (Some(d), Some(j)) = (
        asset("newer/valkey-8.0.1.rdb"),
        asset("newer/valkey-8.0.1.json"),
    ) else {
        return;
    };
    let (sum, c) = load_bytes(&d).unwrap();
    assert_eq!((sum.version, sum.checksum), (11, ChecksumState::Ok));
    let json = parse_json(std::str::from_utf8(&j).unwrap());
    let n = compare_with_json(&c, &json);
    assert_eq!(n as u64, sum.keys);
    assert_eq!(n, 15);
    // Encodings keel picks with Redis 7.0's default limits.
    assert_eq!(c.get("set:strs").encoding(), "hashtable");
    assert_eq!(c.get("set:ints").encoding(), "intset");
    assert_eq!(c.get("zset:small").encoding(), "listpack");
    assert_eq!(c.get("zset:big").encoding(), "skiplist");
    // The stream's group, as XINFO STREAM FULL showed it.
    let Value::Stream(st) = c.get("stream:s") else {
        panic!()
    };
    let g = &st.groups[&bytes::Bytes::from_static(b"grp")];
    assert_eq!((g.last_id.fmt(), g.entries_read), ("1-1".to_string(), 1));
    let n = &g.pel[&crate::keyspace::stream::StreamId::new(1, 1)];
    assert_eq!(
        (&n.consumer[..], n.delivery_time, n.delivery_count),
        (&b"alice"[..], 1795377654881, 1)
    );
    assert_eq!(
        (st.entries_added, st.first_id.fmt(), st.max_deleted_id.fmt()),
        (2, "1-1".into(), "0-0".into())
    );
}

#[test]
fn redis_7_4_cluster_file_skips_slot_info() {
    let (Some(d), Some(j)) = (
        asset("newer/redis-7.4.1-cluster.rdb"),
        asset("newer/redis-7.4.1-cluster.json"),
    ) else {
        return;
    };
    let (sum, c) = load_bytes(&d).unwrap();
    assert_eq!(sum.version, 12);
    let n = compare_with_json(&c, &parse_json(std::str::from_utf8(&j).unwrap()));
    assert_eq!((n, sum.keys), (201, 201));
}

#[test]
fn redis_7_4_file_with_future_field_ttls_is_refused() {
    let (Some(d), Some(j)) = (
        asset("newer/redis-7.4.1.rdb"),
        asset("newer/redis-7.4.1.json"),
    ) else {
        return;
    };
    let mut c = Collect::default();
    let e = load(&d, &LoadOptions::default(), &mut c).unwrap_err();
    // hash:fieldttl (listpackex) holds fields that expire in 2100.
    assert_eq!(e.key.as_deref(), Some(&b"hash:fieldttl"[..]));
    assert_eq!(
        e.type_byte,
        Some(crate::persistence::rdb::types::HASH_LISTPACK_EX)
    );
    assert!(
        e.msg
            .contains("hash field TTLs (Redis 7.4) are not supported"),
        "{}",
        e.msg
    );
    // Every key read before it matches the dataset.
    let json = parse_json(std::str::from_utf8(&j).unwrap());
    let dbs = json
        .get("dataset")
        .unwrap()
        .get("dbs")
        .unwrap()
        .get("0")
        .unwrap();
    let J::Obj(all) = dbs else { panic!() };
    let mut partial = J::Obj(vec![]);
    if let J::Obj(v) = &mut partial {
        for (k, want) in all {
            if c.keys.iter().any(|e| e.1 == k.as_bytes()) {
                v.push((k.clone(), want.clone()));
            }
        }
    }
    let wrapped = J::Obj(vec![(
        "dataset".into(),
        J::Obj(vec![("dbs".into(), J::Obj(vec![("0".into(), partial)]))]),
    )]);
    assert_eq!(compare_with_json(&c, &wrapped), c.keys.len());
}

#[test]
fn damaged_real_files_never_panic() {
    for name in [
        "encodings.rdb",
        "newer/valkey-8.0.1.rdb",
        "hash-zipmap.rdb",
        "list-quicklist.rdb",
    ] {
        let Some(d) = asset(name) else { continue };
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let stride = (d.len() / 1500).max(1);
        for i in (0..d.len()).step_by(stride) {
            // Truncations at every offset.
            let mut c = Collect::default();
            assert!(load(&d[..i], &LoadOptions::default(), &mut c).is_err());
            // And byte flips, checksum off so the damage reaches the decoder.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut m = d.clone();
            m[i] ^= (seed as u8) | 1;
            let opts = LoadOptions {
                verify_checksum: false,
                ..LoadOptions::default()
            };
            let _ = load(&m, &opts, &mut Collect::default());
        }
    }
}

/// Walks the 7.4 file record by record, decoding every value except the
/// two hashes with field TTLs (which must be refused); returns the keys
/// decoded and the keys refused.
fn walk_7_4(d: &[u8]) -> (Collect, Vec<Vec<u8>>) {
    use crate::persistence::rdb::{decode_object, opcode, types, Reader};
    let mut c = Collect::default();
    let mut refused = vec![];
    let mut r = Reader::new(d);
    r.bytes(9).unwrap();
    let mut meta = KeyMeta::default();
    loop {
        let t = r.u8().unwrap();
        match t {
            opcode::EOF => break,
            opcode::AUX => {
                r.string().unwrap();
                r.string().unwrap();
            }
            opcode::SELECTDB => c.db = r.length().unwrap(),
            opcode::RESIZEDB => {
                r.length().unwrap();
                r.length().unwrap();
            }
            opcode::EXPIRETIME_MS => meta.expire_ms = r.time_ms().unwrap(),
            opcode::FUNCTION2 => {
                r.string().unwrap();
            }
            _ => {
                let key = r.string().unwrap().into_owned();
                if t == types::HASH_METADATA || t == types::HASH_LISTPACK_EX {
                    let off = r.offset() as usize;
                    let mut sub = Reader::new(&d[off..]);
                    let e = decode_object(&mut sub, t, &Limits::default()).unwrap_err();
                    assert!(
                        e.msg
                            .contains("hash field TTLs (Redis 7.4) are not supported"),
                        "{}",
                        e.msg
                    );
                    refused.push(key);
                    // Skip the value by hand.
                    r.time_ms().unwrap();
                    if t == types::HASH_LISTPACK_EX {
                        r.string().unwrap();
                    } else {
                        for _ in 0..r.length().unwrap() {
                            r.length().unwrap();
                            r.string().unwrap();
                            r.string().unwrap();
                        }
                    }
                } else {
                    let v = decode_object(&mut r, t, &Limits::default())
                        .unwrap()
                        .unwrap();
                    c.keys.push((c.db, key, v, meta));
                }
                meta = KeyMeta::default();
            }
        }
    }
    (c, refused)
}

#[test]
fn redis_7_4_file_every_other_key_decodes() {
    let (Some(d), Some(j)) = (
        asset("newer/redis-7.4.1.rdb"),
        asset("newer/redis-7.4.1.json"),
    ) else {
        return;
    };
    let (c, mut refused) = walk_7_4(&d);
    refused.sort();
    assert_eq!(
        refused,
        vec![b"hash:fieldttl".to_vec(), b"hash:fieldttl-big".to_vec()]
    );
    let json = parse_json(std::str::from_utf8(&j).unwrap());
    let J::Obj(all) = json
        .get("dataset")
        .unwrap()
        .get("dbs")
        .unwrap()
        .get("0")
        .unwrap()
        .clone()
    else {
        panic!()
    };
    let rest: Vec<(String, J)> = all
        .into_iter()
        .filter(|(k, _)| !k.starts_with("hash:fieldttl"))
        .collect();
    let n_rest = rest.len();
    let wrapped = J::Obj(vec![(
        "dataset".into(),
        J::Obj(vec![(
            "dbs".into(),
            J::Obj(vec![("0".into(), J::Obj(rest))]),
        )]),
    )]);
    assert_eq!(compare_with_json(&c, &wrapped), n_rest);
    assert_eq!(c.keys.len(), n_rest);
    // The 7.2 listpack set and the v3 stream.
    assert_eq!(
        set_items(c.get("set:strs")),
        s(&["apple", "banana", "cherry"])
    );
    let Value::Stream(st) = c.get("stream:s") else {
        panic!()
    };
    let g = &st.groups[&bytes::Bytes::from_static(b"grp")];
    assert_eq!(
        g.consumers[&bytes::Bytes::from_static(b"alice")].seen_time,
        1795377652105
    );
}
