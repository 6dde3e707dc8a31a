//! The AOF building blocks on every fixture in fixtures/aof (written by
//! redis-server 7.0.15, see fixtures/aof/README.md), against what
//! redis-server and redis-check-aof 7.0.15 did with them (the `.expect`
//! files):
//!
//! * the manifest parser accepts exactly the manifests the server
//!   accepted, and refuses the others with the server's message, line
//!   number and line text;
//! * the strict reader ([`super::check::check_resp`]) reproduces
//!   redis-check-aof's error line and "AOF analyzed" line for every file it
//!   checked (line counter carried across files, RDB preambles skipped);
//! * the lenient reader ends each file as the server did: clean, truncated
//!   at the offset the server truncated to, or corrupt where the server
//!   said "Bad file format".

use super::check::check_resp;
use super::manifest::Manifest;
use super::stream::{starts_with_rdb, End, Mode, StreamReader};
use crate::keyspace::Value;
use crate::persistence::rdb::{load, KeyMeta, LoadOptions, LoadSink};
use serde_json::Value as J;
use std::path::{Path, PathBuf};

const ADIR: &str = "appendonlydir";
const AOF: &str = "appendonly.aof";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/aof")
}

/// (name, fixture dir, expect JSON) for every fixture.
fn all() -> Vec<(String, PathBuf, J)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "expect") {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let exp: J = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            out.push((name.clone(), fixtures().join(&name), exp));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 20, "fixtures/aof has {} fixtures", out.len());
    out
}

fn strings(v: &J) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

use crate::persistence::rdb::NullSink;

/// Where the command stream of a file starts: after its RDB part.
fn resp_start(data: &[u8]) -> usize {
    if !starts_with_rdb(data) {
        return 0;
    }
    let (_, end) =
        crate::persistence::rdb::load_prefix(data, &LoadOptions::default(), &mut NullSink)
            .expect("RDB part loads");
    end as usize
}

/// The files a fixture's server loads, in order: (name, path).
fn load_order(dir: &Path) -> Option<Vec<(String, PathBuf)>> {
    let old = dir.join(AOF);
    if old.exists() {
        return Some(vec![(AOF.to_owned(), old)]);
    }
    let text = std::fs::read(dir.join(ADIR).join(format!("{AOF}.manifest"))).ok()?;
    let m = Manifest::parse(&text).ok()?;
    Some(
        m.load_order()
            .map(|f| (f.display(), f.path_in(&dir.join(ADIR))))
            .collect(),
    )
}

#[test]
fn manifests_parse_as_the_server_parsed_them() {
    for (name, dir, exp) in all() {
        let path = dir.join(ADIR).join(format!("{AOF}.manifest"));
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        let log = strings(&exp["redis_server"]["log"]);
        let fatal = log
            .iter()
            .any(|l| l == "*** FATAL AOF MANIFEST FILE ERROR ***");
        match Manifest::parse(&text) {
            Ok(m) => {
                assert!(!fatal, "{name}: the server refused this manifest: {log:?}");
                // What Redis wrote, keel writes back identically.
                if !name.starts_with("manifest-") {
                    assert_eq!(m.to_text(), text, "{name}");
                }
            }
            Err(e) => {
                assert!(fatal, "{name}: keel refused a manifest Redis took: {e}");
                assert_eq!(log.last().unwrap(), e.msg, "{name}");
                let at = log
                    .iter()
                    .find_map(|l| l.strip_prefix("Reading the manifest file, at line "));
                match (&e.line, at) {
                    (Some((n, text)), Some(at)) => {
                        assert_eq!(at, n.to_string(), "{name}");
                        let shown = format!(">>> '{}'", String::from_utf8_lossy(text));
                        assert!(log.contains(&shown), "{name}: {shown} not in {log:?}");
                    }
                    (None, None) => {}
                    other => panic!("{name}: line info differs: {other:?}"),
                }
            }
        }
    }
}

/// Reproduces redis-check-aof's report lines that concern each file.
#[test]
fn strict_reader_matches_redis_check_aof() {
    let mut checked = 0;
    for (name, dir, exp) in all() {
        let out = strings(&exp["redis_check_aof"]["output"]);
        let multi = out.first().map(String::as_str) == Some("Start checking Multi Part AOF");
        let Some(files) = load_order(&dir) else {
            continue;
        };
        let mut line = 1;
        for (fname, path) in files {
            let Ok(data) = std::fs::read(&path) else {
                assert!(
                    out.iter().any(|l| l.starts_with("Cannot open file")),
                    "{name}"
                );
                break;
            };
            if data.is_empty() {
                assert!(
                    out.iter()
                        .any(|l| l.ends_with(&format!("{fname} is empty"))),
                    "{name}"
                );
                continue;
            }
            let (shown, filepath) = if multi {
                (fname.clone(), format!("<dir>/{ADIR}/{fname}"))
            } else {
                (format!("<dir>/{fname}"), format!("<dir>/{fname}"))
            };
            let start = if data.len() >= 8 {
                resp_start(&data)
            } else {
                0
            };
            let c = check_resp(&data, start, &shown, &filepath, line);
            line = c.line;
            let analyzed = c.analyzed_line(&shown);
            let at = out
                .iter()
                .position(|l| l == &analyzed)
                .unwrap_or_else(|| panic!("{name}: {analyzed:?} not in {out:#?}"));
            let before = &out[at - 1];
            match &c.error_line {
                Some(e) => assert_eq!(before, e, "{name}"),
                None => assert!(
                    !before.starts_with("0x") && !before.ends_with("format error"),
                    "{name}: redis-check-aof reported {before:?}"
                ),
            }
            checked += 1;
            if !c.valid() {
                break;
            }
        }
    }
    assert!(checked >= 25, "only {checked} files checked");
}

#[test]
fn lenient_reader_ends_files_as_the_server_did() {
    for (name, dir, exp) in all() {
        let Some(files) = load_order(&dir) else {
            continue;
        };
        let runs = [&exp["redis_server"], &exp["redis_server_no_truncate"]];
        for (fname, path) in files {
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let start = resp_start(&data);
            let end = StreamReader::starting_at(&data, start, Mode::Lenient).finish();
            for run in runs.iter().filter(|r| !r.is_null()) {
                let log = strings(&run["log"]);
                let trunc = format!("!!! Truncating the AOF {fname} at offset ");
                let bad = format!("Bad file format reading the append only file {fname}:");
                let eof = format!("Unexpected end of file reading the append only file {fname}.");
                let loaded = [
                    format!("DB loaded from base file {fname}:"),
                    format!("DB loaded from incr file {fname}:"),
                ];
                for l in &log {
                    if let Some(off) = l.strip_prefix(&trunc) {
                        let off: u64 = off.trim_end_matches(" !!!").parse().unwrap();
                        assert!(
                            matches!(end, End::Truncated { last_good, .. } if last_good == off),
                            "{name}/{fname}: server truncated at {off}, reader says {end:?}"
                        );
                    } else if l.starts_with(&bad) {
                        assert!(
                            matches!(end, End::Corrupt { .. }),
                            "{name}/{fname}: {end:?}"
                        );
                    } else if l.starts_with(&eof) {
                        assert!(
                            matches!(end, End::Truncated { .. }),
                            "{name}/{fname}: {end:?}"
                        );
                    } else if loaded.iter().any(|p| l.starts_with(p.as_str()))
                        && !log.iter().any(|x| x.starts_with(&trunc))
                    {
                        assert_eq!(end, End::Clean, "{name}/{fname}");
                    }
                }
            }
        }
    }
}

#[test]
fn lenient_reader_sees_timestamps_and_transactions() {
    let dir = fixtures().join("timestamps");
    let files = load_order(&dir).unwrap();
    let mut ts = Vec::new();
    for (_, path) in &files {
        let data = std::fs::read(path).unwrap();
        for item in StreamReader::new(&data, Mode::Lenient) {
            if let super::stream::Item::Annotation(a) = item {
                if let super::stream::Timestamp::Valid(t) = a.timestamp() {
                    ts.push(t);
                }
            }
        }
    }
    assert!(ts.len() >= 3, "{ts:?}");
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{ts:?}");
    let dir = fixtures().join("multi-exec");
    let (_, incr) = load_order(&dir).unwrap().pop().unwrap();
    let data = std::fs::read(incr).unwrap();
    let multis = StreamReader::new(&data, Mode::Lenient)
        .filter(|i| matches!(i, super::stream::Item::Command(c) if c.is("multi")))
        .count();
    // The 3-command MULTI/EXEC and the 2-write script; a transaction with
    // a single write (SELECT does not count) is propagated bare.
    assert_eq!(multis, 2);
}

#[test]
fn truncate_to_timestamp_cuts_where_redis_check_aof_did() {
    use super::check::{truncate_to_timestamp, TsCut};
    let (_, dir, exp) = all().into_iter().find(|f| f.0 == "timestamps").unwrap();
    let run = &exp["redis_check_aof_truncate_to_timestamp"];
    let ts = run["timestamp"].as_i64().unwrap();
    let after = &run["files_after"];
    let files = load_order(&dir).unwrap();
    let n = files.len();
    for (i, (fname, path)) in files.into_iter().enumerate() {
        let data = std::fs::read(&path).unwrap();
        let size_after = after[format!("{ADIR}/{fname}")].as_u64().unwrap();
        let want = if size_after == data.len() as u64 {
            TsCut::NoCut
        } else {
            TsCut::Cut { offset: size_after }
        };
        let got = truncate_to_timestamp(&data, resp_start(&data), &fname, ts, i + 1 == n);
        assert_eq!(got, want, "{fname}");
    }
}

#[test]
fn startup_plan_matches_what_the_server_did() {
    use super::startup::{plan_startup, DiskState, StartupPlan};
    for (name, dir, exp) in all() {
        let adir = dir.join(ADIR);
        let disk = DiskState {
            old_style_file: dir.join(AOF).is_file(),
            aof_dir_files: std::fs::read_dir(&adir).ok().map(|rd| {
                rd.map(|e| {
                    use std::os::unix::ffi::OsStrExt;
                    e.unwrap().file_name().as_bytes().to_vec()
                })
                .collect()
            }),
            manifest: std::fs::read(adir.join(format!("{AOF}.manifest"))).ok(),
        };
        let plan = plan_startup(AOF, ADIR, &disk);
        let log = strings(&exp["redis_server"]["log"]);
        let has = |p: &str| log.iter().any(|l| l.starts_with(p));
        if has("*** FATAL AOF MANIFEST FILE ERROR ***") || has("Unable to obtain the AOF file") {
            assert!(
                matches!(plan, StartupPlan::Refuse { .. }),
                "{name}: {plan:?}"
            );
        } else if has("Successfully migrated an old-style AOF file") {
            assert!(
                matches!(plan, StartupPlan::Upgrade { .. }),
                "{name}: {plan:?}"
            );
        } else if has("Creating AOF base file") {
            if name == "manifest-missing" {
                // keel refuses where Redis starts empty beside the files.
                assert!(
                    matches!(plan, StartupPlan::Refuse { .. }),
                    "{name}: {plan:?}"
                );
            } else {
                assert!(
                    matches!(plan, StartupPlan::Fresh { .. }),
                    "{name}: {plan:?}"
                );
            }
        } else {
            let StartupPlan::Load { unlisted, .. } = &plan else {
                panic!("{name}: {plan:?}");
            };
            if name == "manifest-missing-incr" {
                assert_eq!(unlisted, &[b"appendonly.aof.2.incr.aof".to_vec()], "{name}");
            }
        }
    }
}
