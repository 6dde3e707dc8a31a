//! `--salvage` over the damaged AOF fixtures, in memory: the repaired
//! files equal the undamaged source where the damage touched no command,
//! and the report names each dropped range.

use super::*;
use std::path::{Path, PathBuf};

const M: &str = "appendonlydir/appendonly.aof.manifest";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/aof")
        .join(name)
}

fn run_on(name: &str, patch: &dyn Fn(&str, &mut Vec<u8>)) -> SalvageOutput {
    let root = fixture(name);
    let input = format!("<dir>/{M}");
    salvage(&input, "out", &mut |p: &str| {
        let rel = p.strip_prefix("<dir>/").unwrap_or(p);
        let mut d = std::fs::read(root.join(rel)).map_err(|e| e.to_string())?;
        patch(rel, &mut d);
        Ok(d)
    })
}

fn file<'a>(o: &'a SalvageOutput, name: &str) -> &'a [u8] {
    &o.files.iter().find(|f| f.0 == name).unwrap().1
}

fn src(name: &str, file: &str) -> Vec<u8> {
    std::fs::read(fixture(name).join("appendonlydir").join(file)).unwrap()
}

const BASE: &str = "appendonly.aof.2.base.rdb";
const INCR: &str = "appendonly.aof.2.incr.aof";

#[test]
fn garbage_and_nul_tail_lose_no_command() {
    for name in ["garbage-middle", "nul-tail"] {
        let o = run_on(name, &|_, _| {});
        assert!(o.fatal.is_none(), "{name}: {:?}", o.fatal);
        assert_eq!(file(&o, BASE), src("rdb-base", BASE), "{name}");
        assert_eq!(file(&o, INCR), src("rdb-base", INCR), "{name}");
        assert_eq!(
            file(&o, "appendonly.aof.manifest"),
            src("rdb-base", "appendonly.aof.manifest")
        );
        let incr = &o.reports[1];
        assert_eq!(incr.verdict, Verdict::Corrupt, "{name}");
        assert_eq!(incr.dropped.len(), 1, "{name}");
        assert!(o.text.contains("DROPPED bytes"), "{}", o.text);
        assert_eq!(o.reports[0].verdict, Verdict::Valid);
        assert_eq!(o.reports[0].format, "rdb");
    }
}

#[test]
fn truncated_files_lose_their_last_command() {
    let o = run_on("truncated-last-incr", &|_, _| {});
    let good = src("rdb-base", INCR);
    let got = file(&o, INCR);
    assert!(good.starts_with(got) && got.len() < good.len());
    assert_eq!(o.reports[1].verdict, Verdict::Truncated);
    assert_eq!(o.reports[1].dropped[0].commands_lost, Some(1));
    assert!(o.reports[1].dropped[0].exact);
    let o = run_on("unclosed-multi", &|_, _| {});
    assert_eq!(o.reports[1].verdict, Verdict::Truncated);
    // MULTI, SET m:last, DEL before.
    assert_eq!(o.reports[1].dropped[0].commands_lost, Some(3));
}

#[test]
fn a_damaged_rdb_base_is_rewritten_from_its_intact_keys() {
    let o = run_on("rdb-base", &|rel, d| {
        if rel.ends_with(BASE) {
            let mid = d.len() / 2;
            d[mid..mid + 40].fill(0xff);
        }
    });
    assert!(o.fatal.is_none(), "{:?}\n{}", o.fatal, o.text);
    let base = &o.reports[0];
    assert_eq!(base.verdict, Verdict::Corrupt);
    assert!(base.notes[0].contains("keys written"), "{:?}", base.notes);
    assert!(file(&o, BASE).starts_with(b"REDIS"));
    assert_eq!(file(&o, INCR), src("rdb-base", INCR));
    // An RDB base that is not an RDB at all: nothing can be written.
    let o = run_on("rdb-base", &|rel, d| {
        if rel.ends_with(BASE) {
            d.truncate(7);
        }
    });
    assert!(o.fatal.is_some(), "{}", o.text);
    assert!(o.files.is_empty());
}

#[test]
fn a_missing_incr_is_left_out_and_a_single_file_is_one_output() {
    let o = run_on("manifest-missing-file", &|_, _| {});
    assert!(o.fatal.is_none());
    let m = String::from_utf8(file(&o, "appendonly.aof.manifest").to_vec()).unwrap();
    assert!(!m.contains("appendonly.aof.3.incr.aof"), "{m}");
    assert_eq!(o.reports[2].verdict, Verdict::Missing);
    let root = fixture("old-style");
    let o = salvage("appendonly.aof", "out", &mut |p: &str| {
        std::fs::read(root.join(p)).map_err(|e| e.to_string())
    });
    assert_eq!(o.files.len(), 1);
    // Intact: copied, but for commands keel's table does not hold (its
    // loader would refuse them), each dropped alone.
    let input = std::fs::read(root.join("appendonly.aof")).unwrap();
    let mut want = Vec::new();
    let mut at = 0;
    for d in &o.reports[0].dropped {
        assert!(d.reason.starts_with("unknown command"), "{}", o.text);
        want.extend_from_slice(&input[at..d.start as usize]);
        at = d.end as usize;
    }
    want.extend_from_slice(&input[at..]);
    assert!(o.files[0].1 == want, "{}", o.text);
    assert_eq!(o.reports[0].role, "file");
}

#[test]
fn a_damaged_preamble_keeps_its_aof_tail() {
    let root = fixture("old-style-preamble");
    let orig = std::fs::read(root.join("appendonly.aof")).unwrap();
    let (_, rdb_end) =
        crate::persistence::rdb::load_prefix(&orig, &LoadOptions::default(), &mut NullSink)
            .unwrap();
    let rdb_end = rdb_end as usize;
    let o = salvage("appendonly.aof", "out", &mut |p: &str| {
        let mut d = std::fs::read(root.join(p)).map_err(|e| e.to_string())?;
        let mid = rdb_end / 2;
        d[mid..mid + 30].fill(0xfe);
        Ok(d)
    });
    assert!(o.fatal.is_none(), "{:?}", o.fatal);
    let out = &o.files[0].1;
    assert!(out.starts_with(b"REDIS"));
    assert!(out.ends_with(&orig[rdb_end..]), "{}", o.text);
    assert!(
        o.text
            .contains(&format!("AOF tail found at offset {rdb_end}")),
        "{}",
        o.text
    );
    assert_eq!(o.reports[0].verdict, Verdict::Corrupt);
}
