//! keel-check-aof against redis-check-aof 7.0.15 on every AOF fixture
//! (fixtures/aof/*.expect): for the plain check, `--fix` (answered "y" on
//! stdin) and `--truncate-to-timestamp`, keel-check-aof run on a copy of
//! the fixture must give the recorded exit status and output, the RDB
//! preamble checker's lines included (its count of keys already expired
//! aside: it depends on the time), and leave the files at the recorded
//! sizes. Where
//! redis-check-aof is installed, it is also run live on another copy and
//! both tools must agree the same way, except where keel goes further by
//! design ([`KEEL_GOES_FURTHER`]: `--fix` on a file that is not the last,
//! which Redis's tool refuses). Plus `--yes` (no prompt), a refused prompt
//! (nothing cut), `--fix` repairing a damaged base that is not the last
//! file, which keel-server refuses to load, after which the server loads
//! the result, and `--json`.

mod common;

use common::rdb::{aof_fixtures, copy_dir, files_under, read_json};
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Sizes of the files under `dir`, by path relative to it.
fn sizes(dir: &Path) -> BTreeMap<String, u64> {
    files_under(dir)
        .into_iter()
        .map(|(rel, p)| (rel, std::fs::metadata(p).expect("meta").len()))
        .collect()
}

/// A line as the fixtures record it: `<dir>` for the copy's path, server
/// log prefixes as `<pid>:C <time> # `.
fn normalize(line: &str, dir: &str) -> String {
    let line = line.replace(dir, "<dir>");
    if let Some((pid, rest)) = line.split_once(":C ") {
        if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            if let Some(i) = rest.find(" # ") {
                return format!("<pid>:C <time> # {}", &rest[i + 3..]);
            }
            if let Some(r) = rest.strip_suffix(" #") {
                let _ = r;
                return "<pid>:C <time> # ".into();
            }
        }
    }
    line
}

/// The RDB checker's count of keys already expired depends on when it
/// runs (the other RDB checker lines are compared too).
fn is_rdb_line(l: &str) -> bool {
    l.starts_with("[info] ") && l.ends_with(" already expired")
}

struct Outcome {
    exit: i32,
    lines: Vec<String>,
    files: BTreeMap<String, u64>,
}

/// Runs `program` with the recorded `args` on a fresh copy of fixture
/// `name`, answering `answer` on stdin.
fn run_tool(program: &str, name: &str, args: &[String], answer: &[u8]) -> Outcome {
    let tmp = tempfile::Builder::new()
        .prefix("keel-checkaof-")
        .tempdir()
        .expect("temp dir");
    let dir = tmp.path().join(name);
    copy_dir(&aof_fixtures().join(name), &dir);
    let dir_s = dir.display().to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("<dir>", &dir_s)).collect();
    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let _ = child.stdin.take().expect("stdin").write_all(answer);
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines = text
        .split('\n')
        .map(|l| normalize(l, &dir_s))
        .filter(|l| !is_rdb_line(l))
        .collect::<Vec<_>>();
    let mut lines = lines;
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    Outcome {
        exit: out.status.code().unwrap_or(-1),
        lines,
        files: sizes(&dir),
    }
}

fn keel_tool() -> &'static str {
    env!("CARGO_BIN_EXE_keel-check-aof")
}

fn strs(v: &J) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

/// Recorded cases where keel's tool deliberately differs: `--fix` cuts a
/// damaged file that is not the last (redis-check-aof refuses).
const KEEL_GOES_FURTHER: &[(&str, &str)] = &[("truncated-nonlast", "redis_check_aof_fix")];

fn redis_check_aof_available() -> bool {
    Command::new("redis-check-aof")
        .arg("/nonexistent/file")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The cases of one fixture: (label, recorded object).
fn cases<'a>(name: &str, expect: &'a J) -> Vec<(&'static str, &'a J)> {
    [
        "redis_check_aof",
        "redis_check_aof_fix",
        "redis_check_aof_truncate_to_timestamp",
    ]
    .into_iter()
    .filter_map(|k| expect.get(k).map(|v| (k, v)))
    .filter(|(k, _)| !KEEL_GOES_FURTHER.contains(&(name, k)))
    .collect()
}

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(aof_fixtures())
        .expect("fixtures/aof")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".expect").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

#[test]
fn keel_check_aof_matches_the_recorded_redis_check_aof() {
    let names = fixture_names();
    assert!(names.len() >= 20, "fixtures: {names:?}");
    let mut failures = Vec::new();
    let mut compared = 0;
    for name in &names {
        let expect = read_json(&aof_fixtures().join(format!("{name}.expect")));
        for (label, rec) in cases(name, &expect) {
            let args = strs(&rec["args"]);
            let got = run_tool(keel_tool(), name, &args, b"y\n");
            compared += 1;
            let want_exit = rec["exit"].as_i64().expect("exit") as i32;
            let want_lines: Vec<String> = strs(&rec["output"])
                .into_iter()
                .filter(|l| !is_rdb_line(l))
                .collect();
            if got.exit != want_exit {
                failures.push(format!(
                    "{name} {label}: exit {} (redis-check-aof: {want_exit})",
                    got.exit
                ));
            }
            if got.lines != want_lines {
                failures.push(format!(
                    "{name} {label}: output\n  keel:  {:?}\n  redis: {:?}",
                    got.lines, want_lines
                ));
            }
            if let Some(files) = rec.get("files_after") {
                let want: BTreeMap<String, u64> = files
                    .as_object()
                    .expect("files_after")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().expect("size")))
                    .collect();
                if got.files != want {
                    failures.push(format!(
                        "{name} {label}: files after\n  keel:  {:?}\n  redis: {want:?}",
                        got.files
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{compared} recorded cases agree");
}

#[test]
fn keel_check_aof_agrees_with_live_redis_check_aof() {
    if !redis_check_aof_available() {
        eprintln!("SKIPPED: redis-check-aof is not installed");
        return;
    }
    let mut failures = Vec::new();
    let mut compared = 0;
    for name in fixture_names() {
        let expect = read_json(&aof_fixtures().join(format!("{name}.expect")));
        for (label, rec) in cases(&name, &expect) {
            let args = strs(&rec["args"]);
            let ours = run_tool(keel_tool(), &name, &args, b"y\n");
            let theirs = run_tool("redis-check-aof", &name, &args, b"y\n");
            compared += 1;
            if (ours.exit, &ours.lines, &ours.files) != (theirs.exit, &theirs.lines, &theirs.files)
            {
                failures.push(format!(
                    "{name} {label}:\n  keel  ({}): {:?} {:?}\n  redis ({}): {:?} {:?}",
                    ours.exit, ours.lines, ours.files, theirs.exit, theirs.lines, theirs.files
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn yes_skips_the_prompt_and_a_refusal_cuts_nothing() {
    let args = |extra: &[&str]| -> Vec<String> {
        extra
            .iter()
            .map(|s| s.to_string())
            .chain(["<dir>/appendonlydir/appendonly.aof.manifest".to_string()])
            .collect()
    };
    let incr = "appendonlydir/appendonly.aof.2.incr.aof";
    // --yes with nothing on stdin: cut where redis-check-aof cuts.
    let got = run_tool(
        keel_tool(),
        "truncated-last-incr",
        &args(&["--fix", "--yes"]),
        b"",
    );
    assert_eq!(got.exit, 0, "{:?}", got.lines);
    assert_eq!(got.files[incr], 447);
    assert!(got
        .lines
        .last()
        .unwrap()
        .contains("All AOF files and manifest are valid"));
    // --yes first works too.
    let got = run_tool(
        keel_tool(),
        "truncated-last-incr",
        &args(&["--yes", "--fix"]),
        b"",
    );
    assert_eq!((got.exit, got.files[incr]), (0, 447));
    // No answer: "Aborting...", exit 1, nothing cut.
    let got = run_tool(keel_tool(), "truncated-last-incr", &args(&["--fix"]), b"");
    assert_eq!(got.exit, 1);
    assert_eq!(got.files[incr], 490);
    assert!(
        got.lines.last().unwrap().ends_with("Aborting..."),
        "{:?}",
        got.lines
    );
    // "n": the same.
    let got = run_tool(
        keel_tool(),
        "truncated-last-incr",
        &args(&["--fix"]),
        b"n\n",
    );
    assert_eq!((got.exit, got.files[incr]), (1, 490));
}

/// keel-server refuses a damaged base that is not the last file (and
/// leaves it alone); `keel-check-aof --fix --yes` cuts it after
/// its last complete command, after which keel-server starts and holds the
/// commands before the cut plus the whole incr file.
#[test]
fn fix_repairs_a_base_the_server_refuses() {
    use common::{encode_cmd, Kind, Server};
    let tmp = tempfile::Builder::new()
        .prefix("keel-checkaof-")
        .tempdir()
        .expect("temp dir");
    let dir = tmp.path();
    let adir = dir.join("appendonlydir");
    std::fs::create_dir(&adir).unwrap();
    let mut base = encode_cmd(&["SELECT", "0"]);
    base.extend(encode_cmd(&["SET", "a", "1"]));
    base.extend(encode_cmd(&["SET", "b", "2"]));
    let good = base.len() as u64;
    let torn = encode_cmd(&["SET", "c", "3"]);
    base.extend(&torn[..torn.len() - 4]);
    let mut incr = encode_cmd(&["SELECT", "0"]);
    incr.extend(encode_cmd(&["SET", "d", "4"]));
    std::fs::write(adir.join("appendonly.aof.1.base.aof"), &base).unwrap();
    std::fs::write(adir.join("appendonly.aof.1.incr.aof"), &incr).unwrap();
    std::fs::write(
        adir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let args = ["--appendonly", "yes"];
    match Server::try_start_in(Kind::Keel, dir, &args) {
        Ok(_) => panic!("keel started on a truncated base"),
        Err(f) => assert!(f.status.is_some(), "{f:?}"),
    }
    assert_eq!(
        std::fs::read(adir.join("appendonly.aof.1.base.aof")).unwrap(),
        base
    );
    // redis-check-aof refuses ("because it is not the last file"); keel's
    // tool cuts it (`--any-file`, the former opt-in, is a no-op).
    let manifest = adir.join("appendonly.aof.manifest");
    let out = Command::new(keel_tool())
        .args(["--fix", "--yes"])
        .arg(&manifest)
        .stdin(Stdio::null())
        .output()
        .expect("run keel-check-aof");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let files = sizes(dir);
    assert_eq!(
        files["appendonlydir/appendonly.aof.1.base.aof"], good,
        "{text}"
    );
    assert_eq!(
        files["appendonlydir/appendonly.aof.1.incr.aof"],
        incr.len() as u64
    );
    let srv = Server::try_start_in(Kind::Keel, dir, &args)
        .unwrap_or_else(|f| panic!("keel does not start after the repair: {f:?}"));
    let mut c = srv.conn();
    let got: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| c.cmd_str(&["GET", k]))
        .collect();
    assert_eq!(
        got,
        ["$1\r\n1\r\n", "$1\r\n2\r\n", "$-1\r\n", "$1\r\n4\r\n"]
    );
}

/// `--json` in check and `--fix` modes: one JSON object on stdout (the
/// prompt goes to stderr), with the verdict class of each file and what
/// was cut.
#[test]
fn json_reports_every_mode() {
    let manifest = "<dir>/appendonlydir/appendonly.aof.manifest".to_string();
    let json_of = |name: &str, args: &[&str]| -> (i32, J) {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.push(manifest.clone());
        let got = run_tool(keel_tool(), name, &all, b"y\n");
        let text = got.lines.join("\n");
        (
            got.exit,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    };
    let (code, j) = json_of("garbage-middle", &["--json"]);
    assert_eq!((code, j["exit"].as_i64()), (1, Some(1)));
    assert_eq!(j["mode"], "check");
    assert_eq!(j["files"][0]["verdict"], "valid");
    assert_eq!(j["files"][1]["verdict"], "corrupt");
    assert_eq!(j["files"][1]["offset"], 82);
    assert_eq!(j["files"][1]["ok_up_to"], 82);
    let (code, j) = json_of("truncated-last-incr", &["--fix", "--json"]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["mode"], "fix");
    assert_eq!(j["files"][1]["verdict"], "truncated");
    assert_eq!(j["files"][1]["action"], "truncated to 447 bytes");
    let (code, j) = json_of("rdb-base", &["--json"]);
    assert_eq!((code, j["ok"].as_bool()), (0, Some(true)));
    assert!(j["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "All AOF files and manifest are valid"));
}

/// Point-in-time recovery across files on disk: a timestamp inside the
/// base cuts the base there and removes both incr files from the manifest
/// (rewritten atomically; the files are renamed aside), after which
/// keel-server starts and holds only what was written before the
/// timestamp, also after a restart (its new incr file starts empty).
#[test]
fn truncate_to_timestamp_in_the_base_drops_the_later_files() {
    use common::{encode_cmd, Kind, Server};
    let tmp = tempfile::Builder::new()
        .prefix("keel-checkaof-")
        .tempdir()
        .expect("temp dir");
    let dir = tmp.path();
    let adir = dir.join("appendonlydir");
    std::fs::create_dir(&adir).unwrap();
    let ts = |t: i64| format!("#TS:{t}\r\n").into_bytes();
    let mut base = ts(10);
    base.extend(encode_cmd(&["SET", "a", "1"]));
    let cut = base.len() as u64;
    base.extend(ts(20));
    base.extend(encode_cmd(&["SET", "b", "2"]));
    let mut incr1 = ts(30);
    incr1.extend(encode_cmd(&["SET", "c", "3"]));
    let mut incr2 = ts(40);
    incr2.extend(encode_cmd(&["SET", "d", "4"]));
    std::fs::write(adir.join("appendonly.aof.1.base.aof"), &base).unwrap();
    std::fs::write(adir.join("appendonly.aof.1.incr.aof"), &incr1).unwrap();
    std::fs::write(adir.join("appendonly.aof.2.incr.aof"), &incr2).unwrap();
    let manifest = adir.join("appendonly.aof.manifest");
    std::fs::write(
        &manifest,
        "file appendonly.aof.1.base.aof seq 1 type b\n\
         file appendonly.aof.1.incr.aof seq 1 type i\n\
         file appendonly.aof.2.incr.aof seq 2 type i\n",
    )
    .unwrap();
    let out = Command::new(keel_tool())
        .args(["--truncate-to-timestamp", "15", "--yes"])
        .arg(&manifest)
        .stdin(Stdio::null())
        .output()
        .expect("run keel-check-aof");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        "file appendonly.aof.1.base.aof seq 1 type b\n"
    );
    let files = sizes(dir);
    assert_eq!(
        files["appendonlydir/appendonly.aof.1.base.aof"], cut,
        "{text}"
    );
    // The later files are kept under another name (a new incr 1 created
    // by the server must not append to the old one).
    assert_eq!(
        files["appendonlydir/appendonly.aof.2.incr.aof.after-ts-15"],
        incr2.len() as u64
    );
    assert!(!files.contains_key("appendonlydir/appendonly.aof.1.incr.aof"));
    assert_eq!(files.len(), 4, "no temporary file left: {files:?}");
    let srv = Server::try_start_in(Kind::Keel, dir, &["--appendonly", "yes"])
        .unwrap_or_else(|f| panic!("keel does not start after the cut: {f:?}"));
    let mut c = srv.conn();
    let got: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| c.cmd_str(&["GET", k]))
        .collect();
    assert_eq!(got, ["$1\r\n1\r\n", "$-1\r\n", "$-1\r\n", "$-1\r\n"]);
    assert_eq!(c.cmd_str(&["SET", "e", "5"]), "+OK\r\n");
    drop(c);
    drop(srv);
    let srv = Server::try_start_in(Kind::Keel, dir, &["--appendonly", "yes"])
        .unwrap_or_else(|f| panic!("keel does not restart: {f:?}"));
    let mut c = srv.conn();
    let got: Vec<String> = ["a", "c", "e"]
        .iter()
        .map(|k| c.cmd_str(&["GET", k]))
        .collect();
    assert_eq!(got, ["$1\r\n1\r\n", "$-1\r\n", "$1\r\n5\r\n"]);
}
