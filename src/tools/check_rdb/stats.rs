//! `--stats`: what is in the file, the way people use redis-rdb-tools:
//! keys per database, per type and encoding (the encoding keel and Redis
//! 7.0 give the value once loaded), expiries, the largest keys by their
//! serialized size in the file, and the key count of every non-empty
//! cluster slot.

use super::walk::{KeyRecord, KeyValue};
use crate::keyspace::{key_slot, SLOTS};
use serde_json::{json, Value as Json};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// How many largest keys are kept.
pub const TOP: usize = 10;

#[derive(Default)]
pub struct DbStats {
    pub keys: u64,
    pub expires: u64,
    pub already_expired: u64,
    /// (type, encoding) -> (keys, serialized bytes).
    pub by_type: BTreeMap<(String, &'static str), (u64, u64)>,
}

/// One of the largest keys: (serialized size, db, key, type).
pub type Big = (u64, u64, Vec<u8>, String);

pub struct Stats {
    pub dbs: BTreeMap<u64, DbStats>,
    /// Min-heap of the largest keys: (size, db, key, type).
    top: BinaryHeap<Reverse<Big>>,
    pub slots: Vec<u64>,
    now_ms: i64,
}

/// The type and encoding names of a key record.
pub fn type_and_encoding(k: &KeyRecord) -> (String, &'static str) {
    match &k.value {
        KeyValue::Value(v) => (v.value_type().name().to_string(), v.encoding()),
        KeyValue::Str(_) => {
            let v = k.value.value().expect("a string");
            ("string".to_string(), v.encoding())
        }
        KeyValue::Module(name) => (format!("module:{name}"), "module"),
        KeyValue::Empty => ("empty".to_string(), "none"),
    }
}

impl Stats {
    pub fn new(now_ms: i64) -> Self {
        Stats {
            dbs: BTreeMap::new(),
            top: BinaryHeap::new(),
            slots: vec![0; SLOTS],
            now_ms,
        }
    }

    /// Counts one key of database `db`.
    pub fn add(&mut self, db: u64, k: &KeyRecord) {
        let size = (k.end - k.start) as u64;
        let (ty, enc) = type_and_encoding(k);
        let d = self.dbs.entry(db).or_default();
        d.keys += 1;
        if k.meta.expire_ms != -1 {
            d.expires += 1;
            if k.meta.expire_ms < self.now_ms {
                d.already_expired += 1;
            }
        }
        let e = d.by_type.entry((ty.clone(), enc)).or_default();
        e.0 += 1;
        e.1 += size;
        self.slots[key_slot(&k.key)] += 1;
        if self.top.len() < TOP {
            self.top.push(Reverse((size, db, k.key.to_vec(), ty)));
        } else if self.top.peek().is_some_and(|Reverse(m)| size > m.0) {
            self.top.pop();
            self.top.push(Reverse((size, db, k.key.to_vec(), ty)));
        }
    }

    /// The largest keys, biggest first: (size, db, key, type).
    pub fn largest(&self) -> Vec<Big> {
        let mut v: Vec<_> = self.top.iter().map(|Reverse(x)| x.clone()).collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
        v
    }

    /// The report as text lines.
    pub fn text(&self) -> Vec<String> {
        let mut out = vec!["[stats] keys per database".to_string()];
        for (db, d) in &self.dbs {
            out.push(format!(
                "[stats] db {db}: {} keys, {} expires, {} already expired",
                d.keys, d.expires, d.already_expired
            ));
            for ((ty, enc), (n, bytes)) in &d.by_type {
                out.push(format!(
                    "[stats]   {ty} ({enc}): {n} keys, {bytes} bytes serialized"
                ));
            }
        }
        out.push(format!(
            "[stats] largest keys (top {TOP} by serialized size)"
        ));
        for (size, db, key, ty) in self.largest() {
            out.push(format!(
                "[stats]   {size} bytes: db {db} {ty} '{}'",
                String::from_utf8_lossy(&key)
            ));
        }
        let used = self.slots.iter().filter(|&&n| n > 0).count();
        out.push(format!("[stats] keys per slot ({used} non-empty slots)"));
        for (slot, n) in self.slots.iter().enumerate().filter(|(_, &n)| n > 0) {
            out.push(format!("[stats]   slot {slot}: {n}"));
        }
        out
    }

    pub fn json(&self) -> Json {
        let dbs: serde_json::Map<String, Json> = self
            .dbs
            .iter()
            .map(|(db, d)| {
                let types: Vec<Json> = d
                    .by_type
                    .iter()
                    .map(|((ty, enc), (n, bytes))| {
                        json!({"type": ty, "encoding": enc, "keys": n, "bytes": bytes})
                    })
                    .collect();
                (
                    db.to_string(),
                    json!({"keys": d.keys, "expires": d.expires,
                           "already_expired": d.already_expired, "types": types}),
                )
            })
            .collect();
        let largest: Vec<Json> = self
            .largest()
            .into_iter()
            .map(|(size, db, key, ty)| {
                json!({"db": db, "key": super::report::json_bytes(&key), "type": ty, "bytes": size})
            })
            .collect();
        let slots: serde_json::Map<String, Json> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(s, &n)| (s.to_string(), json!(n)))
            .collect();
        json!({"dbs": dbs, "largest": largest, "slots": slots})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;
    use crate::persistence::rdb::KeyMeta;
    use std::borrow::Cow;

    fn rec(key: &[u8], size: usize, expire: i64) -> KeyRecord<'static> {
        KeyRecord {
            key: Cow::Owned(key.to_vec()),
            type_byte: 0,
            value: KeyValue::Value(Value::string(b"12")),
            meta: KeyMeta {
                expire_ms: expire,
                ..KeyMeta::default()
            },
            start: 100,
            type_at: 100,
            value_at: 100,
            end: 100 + size,
        }
    }

    #[test]
    fn counts_types_slots_and_largest() {
        let mut s = Stats::new(1000);
        for i in 0..15 {
            s.add(0, &rec(format!("k{i}").as_bytes(), 10 + i, -1));
        }
        s.add(3, &rec(b"foo", 5, 500));
        s.add(3, &rec(b"bar", 5, 5000));
        assert_eq!(s.dbs[&0].keys, 15);
        assert_eq!(s.dbs[&3].expires, 2);
        assert_eq!(s.dbs[&3].already_expired, 1);
        assert_eq!(s.dbs[&0].by_type[&("string".to_string(), "int")].0, 15);
        let top = s.largest();
        assert_eq!(top.len(), TOP);
        assert_eq!(top[0].0, 24);
        assert_eq!(top[0].2, b"k14");
        assert_eq!(top[9].0, 15);
        assert_eq!(s.slots[12182], 1, "foo");
        assert_eq!(s.slots[5061], 1, "bar");
        let j = s.json();
        assert_eq!(j["slots"]["12182"], 1);
        assert_eq!(j["dbs"]["3"]["keys"], 2);
        assert!(s.text().iter().any(|l| l.contains("slot 5061: 1")));
    }
}
