//! The check against what redis-check-rdb 7.0.15 printed on the damaged
//! fixtures (recorded in fixtures/rdb/*.expect), and the checks keel adds.

use super::*;
use crate::tools::check_rdb::report;

fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/fixtures/rdb/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn text(data: &[u8]) -> (String, i32) {
    let rep = check(data, &CheckOptions::default());
    (
        String::from_utf8(report::text(b"<file>", &rep)).unwrap(),
        rep.exit_code(),
    )
}

#[test]
fn damaged_fixtures_match_redis_check_rdb() {
    for kind in ["checksum", "length", "truncated", "type", "version"] {
        let expect: serde_json::Value =
            serde_json::from_slice(&fixture(&format!("damaged-{kind}.expect"))).unwrap();
        let want = &expect["redis_check_rdb"];
        let lines: Vec<String> = want["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        let (got, exit) = text(&fixture(&format!("damaged-{kind}.rdb")));
        assert_eq!(exit as i64, want["exit"].as_i64().unwrap(), "{kind}");
        assert_eq!(got, lines.join("\n") + "\n", "{kind}");
    }
}

#[test]
fn good_fixtures_pass() {
    for name in [
        "small", "strings", "lists", "hashes", "sets", "zsets", "streams", "expires",
    ] {
        let (out, exit) = text(&fixture(&format!("{name}.rdb")));
        assert_eq!(exit, 0, "{name}: {out}");
        assert!(out.contains("Checksum OK\n"), "{name}");
        assert!(out.contains("\\o/ RDB looks OK! \\o/\n"), "{name}");
    }
    let (out, _) = text(&fixture("small.rdb"));
    assert!(out.starts_with(
        "[offset 0] Checking RDB file <file>\n[offset 27] AUX FIELD redis-ver = '7.0.15'\n"
    ));
    assert!(out.ends_with("[info] 3 keys read\n[info] 0 expires\n[info] 0 already expired\n"));
    let (out, exit) = text(&fixture("nochecksum.rdb"));
    assert_eq!(exit, 0);
    assert!(out.contains("RDB file was saved with checksum disabled: no check performed.\n"));
}

fn file(body: &[u8], version: &str) -> Vec<u8> {
    let mut v = format!("REDIS{version}").into_bytes();
    v.extend_from_slice(body);
    v.push(0xff);
    let crc = crc64(0, &v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

#[test]
fn keel_extras_duplicates_and_db_range() {
    let d = file(
        b"\xfe\x00\x00\x01a\x01x\x00\x01b\x01y\x00\x01a\x01z",
        "0010",
    );
    let rep = check(&d, &CheckOptions::default());
    let f = rep.failure.as_ref().unwrap();
    assert!(
        f.msg
            .starts_with("Duplicated key found in RDB file: DB 0, first copy at offset 12"),
        "{}",
        f.msg
    );
    assert_eq!(f.key.as_deref(), Some(&b"a"[..]));
    // The same key in another db is fine.
    let d = file(b"\xfe\x00\x00\x01a\x01x\xfe\x01\x00\x01a\x01z", "0010");
    assert!(check(&d, &CheckOptions::default()).ok());
    let opts = CheckOptions {
        dups: false,
        ..CheckOptions::default()
    };
    let d = file(b"\x00\x01a\x01x\x00\x01a\x01z", "0010");
    assert!(check(&d, &opts).ok());
    let d = file(b"\xfe\x10\x00\x01a\x01x", "0010");
    let rep = check(&d, &CheckOptions::default());
    assert!(rep
        .failure
        .unwrap()
        .msg
        .starts_with("DB index 16 is out of range"));
    let opts = CheckOptions {
        databases: 17,
        ..CheckOptions::default()
    };
    assert!(check(&d, &opts).ok());
}

#[test]
fn expires_empty_keys_and_old_versions() {
    // One past and one future expire.
    let mut body = vec![0xfc];
    body.extend_from_slice(&1000i64.to_le_bytes());
    body.extend_from_slice(b"\x00\x01a\x01x\xfc");
    body.extend_from_slice(&i64::MAX.to_le_bytes());
    body.extend_from_slice(b"\x00\x01b\x01y");
    let rep = check(&file(&body, "0010"), &CheckOptions::default());
    assert!(rep.ok());
    assert_eq!((rep.keys_read, rep.expires, rep.already_expired), (2, 2, 1));
    // An empty set: redis-check-rdb's EOF error after the value.
    let (out, exit) = text(&file(b"\x02\x03set\x00", "0010"));
    assert_eq!(exit, 1);
    assert!(out.contains("[offset 15] Unexpected EOF reading RDB file\n[additional info] While doing: read-object-value\n[additional info] Reading key 'set'\n[additional info] Reading type 2 (set-hashtable)\n[info] 1 keys read\n"), "{out}");
    // Version 4: no trailer, no checksum line.
    let mut d = b"REDIS0004\xfe\x00\x00\x01a\x01x\xff".to_vec();
    let (out, exit) = text(&d);
    assert_eq!(exit, 0);
    assert!(!out.contains("Checksum"));
    assert!(
        out.contains("[offset 17] \\o/ RDB looks OK! \\o/\n"),
        "{out}"
    );
    // Version 5 without its trailer: EOF while doing check-sum, with
    // type 0 still reported when no key was read.
    d = b"REDIS0005\xff\x01\x02".to_vec();
    let (out, exit) = text(&d);
    assert_eq!(exit, 1);
    assert!(out.contains("[offset 10] Unexpected EOF reading RDB file\n[additional info] While doing: check-sum\n[additional info] Reading type 0 (string)\n"), "{out}");
}

#[test]
fn aux_lines_stop_at_nul_and_stats_ride_along() {
    let (out, _) = text(&file(b"\xfa\x02k\x00\x02v\x00x", "0010"));
    assert!(out.contains("] AUX FIELD k = 'v'\n"), "{out}");
    let opts = CheckOptions {
        stats: true,
        ..CheckOptions::default()
    };
    let rep = check(&fixture("expires.rdb"), &opts);
    assert!(rep.ok());
    let s = rep.stats.as_ref().unwrap();
    let total: u64 = s.dbs.values().map(|d| d.keys).sum();
    assert_eq!(total, rep.keys_read);
    assert_eq!(s.slots.iter().sum::<u64>(), total);
    let j = report::json("x.rdb", &rep);
    assert_eq!(j["ok"], true);
    assert_eq!(j["checksum"], "ok");
    assert!(j["stats"]["largest"].as_array().unwrap().len() <= 10);
}
