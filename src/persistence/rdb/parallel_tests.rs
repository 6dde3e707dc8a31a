//! The parallel loop against the single-threaded one: on whole files and
//! on damaged copies of them, the same result (summary or error, to the
//! offset and key) and the same sink calls in the same order.

use super::super::roundtrip_tests::{any_value, view};
use super::super::*;
use crate::keyspace::{Db, Value};
use proptest::prelude::*;

/// Records every sink call; refuses the key `fail_on` like a duplicate.
#[derive(Default)]
struct Trace {
    calls: Vec<String>,
    fail_on: Option<Vec<u8>>,
}

impl LoadSink for Trace {
    fn aux(&mut self, k: &[u8], v: &[u8]) -> Result<(), String> {
        self.calls.push(format!("aux {k:?} {v:?}"));
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> Result<(), String> {
        self.calls.push(format!("select {db}"));
        if db >= 16 {
            return Err("too many databases".into());
        }
        Ok(())
    }
    fn resize_db(&mut self, keys: u64, expires: u64) {
        self.calls.push(format!("resize {keys} {expires}"));
    }
    fn key(&mut self, key: &[u8], value: Value, meta: KeyMeta) -> Result<(), String> {
        if self.fail_on.as_deref() == Some(key) {
            return Err("Duplicated key found in RDB file".into());
        }
        self.calls
            .push(format!("key {key:?} {:?} {meta:?}", view(&value)));
        Ok(())
    }
    fn function(&mut self, code: &[u8]) -> Result<(), String> {
        self.calls.push(format!("function {code:?}"));
        Ok(())
    }
    fn progress(&mut self, offset: u64, keys: u64) {
        self.calls.push(format!("progress {offset} {keys}"));
    }
    fn empty_key(&mut self, key: &[u8]) {
        self.calls.push(format!("empty {key:?}"));
    }
}

/// Loads `data` with `workers` decoding threads.
fn run(
    data: &[u8],
    workers: usize,
    verify: bool,
    fail_on: Option<&[u8]>,
) -> (Result<(LoadSummary, u64), RdbError>, Vec<String>) {
    let opts = LoadOptions {
        verify_checksum: verify,
        workers,
        ..LoadOptions::default()
    };
    let mut t = Trace {
        fail_on: fail_on.map(<[u8]>::to_vec),
        ..Trace::default()
    };
    let res = load_prefix(data, &opts, &mut t);
    (res, t.calls)
}

/// The same outcome with 0, 1 and 3 workers.
fn same_outcome(data: &[u8], verify: bool, fail_on: Option<&[u8]>) {
    let (want, want_calls) = run(data, 0, verify, fail_on);
    for workers in [1, 3] {
        let (got, calls) = run(data, workers, verify, fail_on);
        assert_eq!(got, want, "{workers} workers");
        assert_eq!(calls, want_calls, "{workers} workers");
    }
}

fn file_of(vals: &[(Value, bool)]) -> Vec<u8> {
    let mut dbs: Vec<Db> = (0..3).map(|_| Db::new()).collect();
    for (i, (v, ttl)) in vals.iter().enumerate() {
        let key = format!("key:{i}");
        let db = &mut dbs[i % 3];
        db.set(key.as_bytes(), v.clone(), false, 0);
        if *ttl {
            db.set_expire(key.as_bytes(), 4_000_000_000_000 + i as i64);
        }
    }
    let opts = SaveOptions {
        aux: vec![("redis-ver".into(), "7.0.15".into())],
        ..SaveOptions::default()
    };
    let mut file = Vec::new();
    save(&mut file, &dbs, &opts, &mut || {}).unwrap();
    file
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn whole_and_damaged_files_load_the_same(
        vals in proptest::collection::vec((any_value(), any::<bool>()), 1..16),
        cut in any::<proptest::sample::Index>(),
        flip in any::<proptest::sample::Index>(),
        bits in 1u8..=255,
    ) {
        let file = file_of(&vals);
        same_outcome(&file, true, None);
        same_outcome(&file, true, Some(format!("key:{}", vals.len() / 2).as_bytes()));
        same_outcome(&file[..cut.index(file.len())], true, None);
        let mut damaged = file.clone();
        damaged[flip.index(file.len())] ^= bits;
        same_outcome(&damaged, false, None);
        same_outcome(&damaged, true, None);
    }
}

#[test]
fn real_files_load_the_same() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/redis-assets");
    let mut files = Vec::new();
    for sub in ["", "/newer"] {
        let Ok(rd) = std::fs::read_dir(format!("{dir}{sub}")) else {
            eprintln!("skipping: {dir}{sub} not present");
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rdb" || x == "aof") {
                files.push(std::fs::read(&p).unwrap());
            }
        }
    }
    for f in &files {
        same_outcome(f, true, None);
        for i in (0..f.len()).step_by((f.len() / 64).max(1)) {
            same_outcome(&f[..i], true, None);
            let mut d = f.clone();
            d[i] ^= 0x5a;
            same_outcome(&d, false, None);
        }
    }
}
