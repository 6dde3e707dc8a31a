//! `keel-check-aof --salvage` proven end to end (issue 7 points 3 and 4):
//! for every damaged AOF fixture (garbage in the middle, a NUL-filled tail,
//! a NUL-filled block in the middle, a broken command in the middle, a
//! truncated base that is not the last file, a truncated last incr, a
//! MULTI without its EXEC; plus an unknown command, dropped, and a command
//! with LF-only headers, kept re-encoded), the tool writes a new AOF
//! directory without
//! touching the input, and both keel-server and redis-server 7.0.15 load
//! it (`appendonly yes`, `appenddirname` the output's name, `dir` its
//! parent) and hold exactly `<fixture>.salvaged.json`: the dataset Redis
//! held after loading the undamaged source with only the commands the
//! damage touched removed (recorded by fixtures/aof/regen.py). So every
//! command the damage did not touch, before and after it, is kept, and
//! nothing the damage touched is half-applied. Where redis-check-aof is
//! installed it must find the output valid. The `--json` report is checked
//! too. The Redis half skips with a message when redis-server is missing.

mod common;

use common::rdb::{
    aof_fixtures, compare_datasets, copy_dir, files_under, mask_stream_volatile, read_json,
    record_dataset, Compare,
};
use common::{redis_available, Kind, Server};
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

const DAMAGED: &[&str] = &[
    "garbage-middle",
    "nul-tail",
    "nul-middle",
    "broken-command-middle",
    "truncated-nonlast",
    "truncated-last-incr",
    "unclosed-multi",
    // Not damaged for the server's loader one way or the other: FOOBAR is
    // dropped (no loader accepts it), the LF-framed command is kept.
    "unknown-command",
    "lf-headers",
];

const MANIFEST: &str = "appendonlydir/appendonly.aof.manifest";

/// Every file under `dir`, by relative path.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|(rel, p)| (rel, std::fs::read(p).expect("read")))
        .collect()
}

fn keel_has_functions() -> bool {
    let srv = Server::keel();
    let r = srv.conn().cmd_str(&["FUNCTION", "LIST"]);
    !r.starts_with("-ERR unknown command")
}

fn tool(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keel-check-aof"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run keel-check-aof");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Starts `kind` on a copy of the salvaged directory `out` and compares
/// its dataset with `want`; the differences found.
fn load_and_compare(kind: Kind, out: &Path, want: &J, functions: bool) -> Vec<String> {
    let tmp = tempfile::Builder::new()
        .prefix("keel-salvage-run-")
        .tempdir()
        .unwrap();
    copy_dir(out, &tmp.path().join("salvaged"));
    let args = [
        "--appendonly",
        "yes",
        "--appenddirname",
        "salvaged",
        "--appendfilename",
        "appendonly.aof",
    ];
    let srv = match Server::try_start_in(kind, tmp.path(), &args) {
        Ok(s) => s,
        Err(f) => return vec![format!("{kind:?} does not start on the output: {f:?}")],
    };
    let mut got = record_dataset(&mut srv.conn(), None);
    mask_stream_volatile(&mut got);
    let mut want = want.clone();
    mask_stream_volatile(&mut want);
    compare_datasets(
        &want,
        &got,
        Compare {
            functions,
            idle_slack: 0,
        },
    )
    .into_iter()
    .map(|d| format!("{kind:?}: {d}"))
    .collect()
}

fn redis_check_aof_available() -> bool {
    Command::new("redis-check-aof")
        .arg("/nonexistent/file")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn salvaged_fixtures_load_in_keel_and_redis_with_every_untouched_command() {
    let functions = keel_has_functions();
    let redis = redis_available();
    if !redis {
        eprintln!("SKIPPED the redis-server half: redis-server is not installed");
    }
    let check_aof = redis_check_aof_available();
    let mut failures = Vec::new();
    for name in DAMAGED {
        let tmp = tempfile::Builder::new()
            .prefix("keel-salvage-")
            .tempdir()
            .unwrap();
        let input = tmp.path().join("in");
        copy_dir(&aof_fixtures().join(name), &input);
        let before = contents(&input);
        let out = tmp.path().join("appendonlydir");
        let manifest = input.join(MANIFEST);
        let (code, text) = tool(&[
            "--json",
            "--salvage",
            out.to_str().unwrap(),
            manifest.to_str().unwrap(),
        ]);
        assert_eq!(contents(&input), before, "{name}: the input was modified");
        let report: J =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"));
        if code != 0 || report["exit"] != 0 {
            failures.push(format!("{name}: exit {code}: {text}"));
            continue;
        }
        // Every damaged fixture reports what it dropped, with offsets.
        let dropped: Vec<&J> = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| f["dropped"].as_array().unwrap())
            .collect();
        let verdicts: Vec<&str> = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["verdict"].as_str().unwrap())
            .collect();
        match *name {
            "unknown-command" => {
                if !dropped
                    .iter()
                    .any(|d| d["reason"] == "unknown command 'FOOBAR'")
                {
                    failures.push(format!("{name}: FOOBAR not dropped: {text}"));
                }
            }
            "lf-headers" => {
                if !text.contains("LF-only header lines kept, re-encoded") {
                    failures.push(format!("{name}: not re-encoded: {text}"));
                }
            }
            _ => {
                if dropped.is_empty()
                    || dropped
                        .iter()
                        .any(|d| d["end"].as_u64() <= d["start"].as_u64())
                {
                    failures.push(format!(
                        "{name}: no (or empty) dropped range reported: {text}"
                    ));
                }
                if !verdicts
                    .iter()
                    .any(|v| *v == "corrupt" || *v == "truncated")
                {
                    failures.push(format!("{name}: verdicts {verdicts:?}"));
                }
            }
        }
        // The files of the output are the ones the manifest lists.
        let written = contents(&out);
        let listed = String::from_utf8(written["appendonly.aof.manifest"].clone()).unwrap();
        for line in listed.lines() {
            let file = line.split(' ').nth(1).unwrap();
            if !written.contains_key(file) {
                failures.push(format!("{name}: the manifest lists {file}, not written"));
            }
        }
        // A FUNCTION command keel does not know is dropped (keel's loader
        // would refuse it): compare functions only where nothing was.
        let dropped_function = dropped
            .iter()
            .any(|d| d["reason"].as_str().unwrap_or("").contains("'FUNCTION'"));
        let want = read_json(&aof_fixtures().join(format!("{name}.salvaged.json")));
        failures.extend(load_and_compare(Kind::Keel, &out, &want, functions));
        if redis {
            failures.extend(load_and_compare(
                Kind::Redis,
                &out,
                &want,
                !dropped_function,
            ));
        }
        if check_aof {
            let o = Command::new("redis-check-aof")
                .arg(out.join("appendonly.aof.manifest"))
                .stdin(Stdio::null())
                .output()
                .unwrap();
            if !o.status.success() {
                failures.push(format!(
                    "{name}: redis-check-aof refuses the output: {}",
                    String::from_utf8_lossy(&o.stdout)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The text report names each dropped range; an output path that exists
/// is refused (exit 1, nothing written); a single file is salvaged into a
/// single file.
#[test]
fn report_refusals_and_single_files() {
    let tmp = tempfile::Builder::new()
        .prefix("keel-salvage-")
        .tempdir()
        .unwrap();
    let input = tmp.path().join("in");
    copy_dir(&aof_fixtures().join("garbage-middle"), &input);
    let manifest = input.join(MANIFEST);
    let out = tmp.path().join("out");
    let (code, text) = tool(&[
        "--salvage",
        out.to_str().unwrap(),
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "appendonly.aof.2.incr.aof: DROPPED bytes 82..87 (5 bytes, commands lost: unknown)"
        ),
        "{text}"
    );
    // Again into the same path: refused, the first output untouched.
    let first = contents(&out);
    let (code, text) = tool(&[
        "--salvage",
        out.to_str().unwrap(),
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("already exists") && text.contains("nothing written"),
        "{text}"
    );
    assert_eq!(contents(&out), first);
    // A single file (the damaged incr alone): a single file out, without
    // the 5 garbage bytes.
    let incr = input.join("appendonlydir/appendonly.aof.2.incr.aof");
    let single = tmp.path().join("single.aof");
    let (code, text) = tool(&[
        "--salvage",
        single.to_str().unwrap(),
        incr.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{text}");
    let good =
        std::fs::read(aof_fixtures().join("rdb-base/appendonlydir/appendonly.aof.2.incr.aof"))
            .unwrap();
    assert_eq!(std::fs::read(&single).unwrap(), good);
    // --help mentions --salvage and --json.
    let (code, help) = tool(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        help.contains("--salvage <output>") && help.contains("--json"),
        "{help}"
    );
}
