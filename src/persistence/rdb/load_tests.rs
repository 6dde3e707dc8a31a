//! Tests of the whole-file loader: hand-built files and the real files
//! written by Redis 2.x..7.4 and Valkey 8 in `../shared/redis-assets`.

use super::*;
use crate::keyspace::Value;

/// Collects everything a load produces.
#[derive(Default)]
pub(crate) struct Collect {
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub db: u64,
    pub keys: Vec<(u64, Vec<u8>, Value, KeyMeta)>,
    pub functions: Vec<Vec<u8>>,
    pub resize: Vec<(u64, u64)>,
    pub progress: u64,
}

impl LoadSink for Collect {
    fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.aux.push((key.to_vec(), value.to_vec()));
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> Result<(), String> {
        if db >= 16 {
            return Err("FATAL: Data file was created with a Redis server configured to handle more than 16 databases. Exiting".into());
        }
        self.db = db;
        Ok(())
    }
    fn resize_db(&mut self, keys: u64, expires: u64) {
        self.resize.push((keys, expires));
    }
    fn key(&mut self, key: &[u8], value: Value, meta: KeyMeta) -> Result<(), String> {
        self.keys.push((self.db, key.to_vec(), value, meta));
        Ok(())
    }
    fn function(&mut self, code: &[u8]) -> Result<(), String> {
        self.functions.push(code.to_vec());
        Ok(())
    }
    fn progress(&mut self, _offset: u64, keys: u64) {
        self.progress = keys;
    }
}

impl Collect {
    pub fn get(&self, key: &str) -> &Value {
        &self
            .keys
            .iter()
            .find(|k| k.1 == key.as_bytes())
            .unwrap_or_else(|| panic!("key {key} missing"))
            .2
    }
}

pub(crate) fn load_bytes(data: &[u8]) -> Result<(LoadSummary, Collect), RdbError> {
    let mut c = Collect::default();
    let s = load(data, &LoadOptions::default(), &mut c)?;
    Ok((s, c))
}

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

#[test]
fn dump_assets() {
    for name in [
        "encodings.rdb",
        "hash-ziplist.rdb",
        "hash-zipmap.rdb",
        "list-quicklist.rdb",
        "scriptbackup.rdb",
        "zset-ziplist.rdb",
        "corrupt_empty_keys.rdb",
        "corrupt_ziplist.rdb",
        "newer/redis-7.4.1.rdb",
        "newer/redis-7.4.1-cluster.rdb",
        "newer/valkey-8.0.1.rdb",
    ] {
        let Some(d) = asset(name) else { continue };
        match load_bytes(&d) {
            Ok((s, c)) => {
                eprintln!("{name}: {s:?}");
                for (db, k, v, m) in &c.keys {
                    eprintln!(
                        "  {db} {} {} {} {:?}",
                        String::from_utf8_lossy(k),
                        v.value_type().name(),
                        v.encoding(),
                        m
                    );
                }
            }
            Err(e) => eprintln!("{name}: ERROR {e}"),
        }
    }
}
