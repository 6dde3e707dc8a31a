//! Salvage and slot filtering, end to end in memory: a file written by
//! keel's encoder is damaged at known places, salvaged, and the output is
//! loaded back with keel's loader; every key the damage did not touch
//! must be there with its value and expire.

use super::*;
use crate::keyspace::hash::HashValue;
use crate::keyspace::list::End;
use crate::keyspace::{Db, Value};
use crate::persistence::rdb::{
    dump_payload, load, save, KeyMeta, LoadOptions, LoadSink, SaveOptions,
};
use std::collections::BTreeMap;

thread_local! {
    /// Salvage cases run and keys they invented (false starts), per test.
    static CASES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static INVENTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// (db, key) -> (DUMP payload of the value, expire).
type Dataset = BTreeMap<(u64, Vec<u8>), (Vec<u8>, i64)>;

#[derive(Default)]
struct Collect {
    db: u64,
    keys: Dataset,
}

impl LoadSink for Collect {
    fn aux(&mut self, _: &[u8], _: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> Result<(), String> {
        self.db = db;
        Ok(())
    }
    fn key(&mut self, key: &[u8], v: Value, meta: KeyMeta) -> Result<(), String> {
        let old = self
            .keys
            .insert((self.db, key.to_vec()), (dump_payload(&v), meta.expire_ms));
        assert!(old.is_none(), "duplicate in output");
        Ok(())
    }
    fn function(&mut self, _: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

fn loaded(data: &[u8]) -> Dataset {
    let mut c = Collect::default();
    load(data, &LoadOptions::default(), &mut c).expect("salvaged output loads");
    c.keys
}

/// A file with strings, lists, hashes and expires in dbs 0 and 3.
fn sample() -> Vec<u8> {
    let mut dbs: Vec<Db> = (0..4).map(|_| Db::new()).collect();
    for i in 0..60 {
        let db = if i % 4 == 0 { 3 } else { 0 };
        let key = format!("key:{i}");
        let v = match i % 3 {
            0 => Value::string(format!("value-{i}-{}", "x".repeat(i)).as_bytes()),
            1 => {
                let mut l = crate::keyspace::list::ListValue::new();
                for j in 0..i {
                    l.push(End::Tail, format!("e{j}").as_bytes());
                }
                l.push(End::Tail, b"last");
                Value::List(Box::new(l))
            }
            _ => {
                let mut h = HashValue::new();
                for j in 0..5 {
                    h.set(
                        format!("f{j}").as_bytes(),
                        format!("{i}").as_bytes(),
                        crate::persistence::rdb::Limits::default().hash,
                    );
                }
                Value::Hash(h)
            }
        };
        dbs[db].set(key.as_bytes(), v, false, 0);
        if i % 5 == 0 {
            dbs[db].set_expire(key.as_bytes(), 4_000_000_000_000 + i as i64);
        }
    }
    let mut out = Vec::new();
    save(&mut out, &dbs, &SaveOptions::default(), &mut || {}).unwrap();
    out
}

/// Key spans of a valid file: (db, key, start, end).
fn spans(data: &[u8]) -> Vec<(u64, Vec<u8>, usize, usize)> {
    let mut w = Walker::open(data, false).unwrap();
    let mut db = 0;
    let mut v = Vec::new();
    loop {
        match w.next_record().unwrap() {
            Record::SelectDb(n) => db = n,
            Record::Key(k) => v.push((db, k.key.to_vec(), k.start, k.end)),
            Record::Eof => return v,
            _ => {}
        }
    }
}

fn opts(salvage: bool) -> RewriteOptions {
    RewriteOptions {
        salvage,
        slots: None,
        newer: false,
        databases: 16,
        compress: true,
    }
}

fn salvage(data: &[u8]) -> (RewriteReport, Vec<u8>) {
    let mut out = Vec::new();
    let rep = rewrite(data, &opts(true), &mut out).unwrap();
    (rep, out)
}

#[test]
fn clean_file_round_trips() {
    let d = sample();
    let (rep, out) = salvage(&d);
    assert!(rep.complete(), "{rep:?}");
    assert_eq!(rep.keys_written, 60);
    assert_eq!(rep.checksum, Some(Checksum::Ok));
    assert_eq!(loaded(&out), loaded(&d));
    assert_eq!(rep.bytes_written as usize, out.len());
}

/// Damages `d` with `f`, salvages, and checks every key whose bytes the
/// damage did not touch (`touched` = damaged byte range) is kept.
fn salvage_keeps_untouched(
    damage: std::ops::Range<usize>,
    fill: &dyn Fn(usize) -> u8,
) -> RewriteReport {
    let d = sample();
    let orig = loaded(&d);
    let sp = spans(&d);
    let mut bad = d.clone();
    for i in damage.clone() {
        bad[i] = fill(i);
    }
    let (rep, out) = salvage(&bad);
    let got = loaded(&out);
    for (db, key, s, e) in &sp {
        let touched = damage.start < *e && *s < damage.end;
        let k = (*db, key.clone());
        if !touched {
            assert_eq!(
                got.get(&k),
                orig.get(&k),
                "untouched {k:?} after damage {damage:?}: {rep:?}"
            );
        } else if let Some(v) = got.get(&k) {
            // A touched key that still decodes may differ (the CRC says so).
            assert!(v == &orig[&k] || !matches!(rep.checksum, Some(Checksum::Ok)));
        }
    }
    // A key that was not in the file can only be the first one read after
    // a resynchronisation, which the report names.
    let resumed: Vec<&Vec<u8>> = rep
        .lost
        .iter()
        .filter_map(|l| l.resumed_key.as_ref())
        .collect();
    let invented: Vec<_> = got
        .keys()
        .filter(|k| !orig.contains_key(k) && !resumed.contains(&&k.1))
        .collect();
    assert!(
        invented.is_empty(),
        "invented keys {invented:?} after damage {damage:?}: {rep:?}"
    );
    let n = INVENTED.with(|c| c.get());
    INVENTED.with(|c| c.set(n + got.keys().filter(|k| !orig.contains_key(k)).count()));
    CASES.with(|c| c.set(c.get() + 1));
    rep
}

#[test]
fn salvage_skips_damage_at_many_places() {
    let d = sample();
    let sp = spans(&d);
    // Inside several values, on type bytes, on lengths, across records.
    for (i, (_, _, s, e)) in sp.iter().enumerate().step_by(7) {
        let mid = (s + e) / 2;
        let rep = salvage_keeps_untouched(mid..mid + 3, &|_| 0xC7);
        assert!(!rep.complete() || rep.checksum != Some(Checksum::Ok), "{i}");
        salvage_keeps_untouched(*s..*s + 1, &|_| 0x42);
        salvage_keeps_untouched(*s + 1..*s + 2, &|_| 0x7f);
        salvage_keeps_untouched(mid..e + 4, &|i| (i * 37 % 251) as u8);
    }
    // A NUL-filled region spanning several keys (power loss).
    let (_, _, s, _) = sp[10];
    let (_, _, _, e) = sp[13];
    let rep = salvage_keeps_untouched(s + 2..e + 1, &|_| 0);
    assert!(!rep.lost.is_empty());
    // NUL runs ending in the middle of a record, at every offset of it.
    for cut in sp[20].2..sp[20].3 {
        salvage_keeps_untouched(sp[18].2..cut, &|_| 0);
    }
    // False starts stay rare.
    let (cases, invented) = (CASES.with(|c| c.get()), INVENTED.with(|c| c.get()));
    eprintln!("{cases} salvage cases, {invented} false starts");
    assert!(
        invented * 20 <= cases,
        "{invented} false starts in {cases} cases"
    );
    // A damaged header: the version is assumed.
    let rep = salvage_keeps_untouched(5..9, &|_| b'9');
    assert_eq!(rep.lost[0].to, 9);
}

#[test]
fn truncated_file_keeps_every_whole_key() {
    let d = sample();
    let sp = spans(&d);
    let cut = (sp[30].2 + sp[30].3) / 2;
    let (rep, out) = salvage(&d[..cut]);
    let got = loaded(&out);
    assert_eq!(got.len(), 30);
    assert_eq!(rep.lost.len(), 1);
    assert_eq!(rep.lost[0].to as usize, cut);
    assert_eq!(rep.checksum, None);
}

#[test]
fn a_value_whose_length_grew_is_dropped_not_its_successors() {
    let d = sample();
    let sp = spans(&d);
    // key:0 is a string in db 3 ("value-0-"): grow its length byte so it
    // swallows the next record.
    let (db, key, s, e) = sp.iter().find(|x| x.1 == b"key:0").unwrap().clone();
    let mut bad = d.clone();
    // The key name, then the value's length byte.
    let len_at = d[s..e].windows(6).position(|w| w == b"\x05key:0").unwrap() + s + 6;
    assert_eq!(bad[len_at] as usize, "value-0-".len());
    bad[len_at] += 30;
    let (rep, out) = salvage(&bad);
    let got = loaded(&out);
    for (db2, k2, s2, _) in &sp {
        if *s2 != s {
            assert!(
                got.contains_key(&(*db2, k2.clone())),
                "{}",
                String::from_utf8_lossy(k2)
            );
        }
    }
    assert!(!got.contains_key(&(db, key)) || rep.lost.is_empty());
}

#[test]
fn without_salvage_damage_stops_and_duplicates_keep_the_first() {
    let d = sample();
    let mut bad = d.clone();
    let n = bad.len();
    bad[n - 20] = 0x42;
    let mut out = Vec::new();
    let rep = rewrite(&bad[..n - 15], &opts(false), &mut out).unwrap();
    assert!(rep.failure.is_some());
    // Duplicates: the first copy stays.
    let mut f = b"REDIS0010\x00\x01a\x01x\x00\x01b\x01y\x00\x01a\x01z\xff".to_vec();
    let crc = crate::persistence::rdb::crc64(0, &f);
    f.extend_from_slice(&crc.to_le_bytes());
    let (rep, out) = salvage(&f);
    assert_eq!(rep.dropped.len(), 1);
    assert!(rep.dropped[0].why.starts_with("duplicate"));
    let got = loaded(&out);
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[&(0, b"a".to_vec())].0,
        dump_payload(&Value::string(b"x"))
    );
}

#[test]
fn slots_filter_keeps_only_those_slots() {
    let d = sample();
    let orig = loaded(&d);
    let set = SlotSet::parse("0-5460,10923").unwrap();
    let o = RewriteOptions {
        slots: Some(set.clone()),
        ..opts(false)
    };
    let mut out = Vec::new();
    let rep = rewrite(&d, &o, &mut out).unwrap();
    assert!(rep.complete());
    let got = loaded(&out);
    let want: Dataset = orig
        .into_iter()
        .filter(|((_, k), _)| set.contains(key_slot(k)))
        .collect();
    assert!(!want.is_empty() && want.len() < 60);
    assert_eq!(rep.keys_filtered as usize, 60 - want.len());
    assert_eq!(got, want);
}
