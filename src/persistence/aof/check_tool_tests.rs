//! The check tool run in memory on every AOF fixture: its stdout (minus
//! the RDB checker's own lines, which belong to the RDB check) and exit
//! code must be what redis-check-aof 7.0.15 printed, for the plain check,
//! `--fix` (answered "y", with the same files cut to the same sizes) and
//! `--truncate-to-timestamp`.

use super::*;
use crate::persistence::rdb::LoadOptions;
use serde_json::Value as J;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::persistence::rdb::NullSink;

/// `<dir>` is the fixture directory; truncations are kept in memory.
struct FakeEnv {
    root: PathBuf,
    cut: HashMap<String, u64>,
    answer: bool,
    /// Manifests rewritten (read back from here).
    manifests: HashMap<String, Vec<u8>>,
    renamed: Vec<(String, String)>,
}

impl FakeEnv {
    fn real(&self, path: &str) -> PathBuf {
        match path.strip_prefix("<dir>/") {
            Some(rest) => self.root.join(rest),
            None => PathBuf::from(path),
        }
    }
}

impl CheckEnv for FakeEnv {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, String> {
        if let Some(m) = self.manifests.get(path) {
            return Ok(m.clone());
        }
        let mut d = std::fs::read(self.real(path)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "No such file or directory".to_owned(),
            _ => e.to_string(),
        })?;
        if let Some(&n) = self.cut.get(path) {
            d.truncate(n as usize);
        }
        Ok(d)
    }
    fn truncate(&mut self, path: &str, len: u64) -> Result<(), String> {
        self.cut.insert(path.to_owned(), len);
        Ok(())
    }
    fn confirm(&mut self) -> bool {
        self.answer
    }
    fn check_rdb(&mut self, data: &[u8], _name: &str) -> RdbPreamble {
        match crate::persistence::rdb::load_prefix(data, &LoadOptions::default(), &mut NullSink) {
            Ok((_, end)) => RdbPreamble::Sane { lines: vec![], end },
            Err(_) => RdbPreamble::NotSane {
                lines: vec![],
                announce: false,
            },
        }
    }
    fn log_line(&mut self, msg: &str) -> String {
        format!("<pid>:C <time> # {msg}\n")
    }
    fn write_manifest(&mut self, path: &str, text: &[u8]) -> Result<(), String> {
        self.manifests.insert(path.to_owned(), text.to_vec());
        Ok(())
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
        self.renamed.push((from.to_owned(), to.to_owned()));
        Ok(())
    }
}

fn is_rdb_check_line(l: &str) -> bool {
    l.starts_with("[offset ")
        || l.starts_with("[info] ")
        || l.starts_with("[additional info]")
        || l == "--- RDB ERROR DETECTED ---"
}

fn fixtures() -> Vec<(String, PathBuf, J)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/aof");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "expect") {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let j: J = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            out.push((name.clone(), dir.join(&name), j));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn compare(name: &str, root: &Path, run: &J) {
    let args: Vec<String> = std::iter::once("redis-check-aof".to_owned())
        .chain(
            run["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned()),
        )
        .collect();
    let mut env = FakeEnv {
        root: root.to_owned(),
        cut: HashMap::new(),
        answer: true,
        manifests: HashMap::new(),
        renamed: Vec::new(),
    };
    let got = run_tool(&args, &mut env);
    let want: Vec<&str> = run["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .filter(|l| !is_rdb_check_line(l))
        .collect();
    let got_lines: Vec<&str> = got.stdout.lines().collect();
    assert_eq!(got_lines, want, "{name} {args:?}");
    assert_eq!(
        got.code as i64,
        run["exit"].as_i64().unwrap(),
        "{name} {args:?}"
    );
    if let Some(after) = run["files_after"].as_object() {
        for (path, size) in &env.cut {
            let rel = path.strip_prefix("<dir>/").unwrap();
            assert_eq!(after[rel].as_u64(), Some(*size), "{name}: {rel}");
        }
    }
}

fn run_tool(args: &[String], env: &mut FakeEnv) -> ToolOutput {
    run(args, env)
}

/// Where keel's tool goes further than redis-check-aof by design: `--fix`
/// on a damaged file that is not the last (Redis refuses; see
/// `fix_cuts_a_file_that_is_not_the_last`).
pub(crate) const KEEL_GOES_FURTHER: &[(&str, &str)] =
    &[("truncated-nonlast", "redis_check_aof_fix")];

#[test]
fn reproduces_redis_check_aof_on_every_fixture() {
    let mut runs = 0;
    for (name, root, exp) in fixtures() {
        for key in [
            "redis_check_aof",
            "redis_check_aof_fix",
            "redis_check_aof_truncate_to_timestamp",
        ] {
            if KEEL_GOES_FURTHER.contains(&(name.as_str(), key)) {
                continue;
            }
            if !exp[key].is_null() {
                compare(&name, &root, &exp[key]);
                runs += 1;
            }
        }
    }
    assert!(runs >= 44, "{runs} runs");
}

#[test]
fn arguments() {
    let mut env = FakeEnv {
        root: PathBuf::from("/nonexistent"),
        cut: HashMap::new(),
        answer: false,
        manifests: HashMap::new(),
        renamed: Vec::new(),
    };
    let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let usage = "Usage: redis-check-aof [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n";
    for bad in [
        &["redis-check-aof"][..],
        &["redis-check-aof", "--bad", "x"],
        &[
            "redis-check-aof",
            "--fix",
            "--truncate-to-timestamp",
            "1",
            "x",
        ],
    ] {
        let o = run(&a(bad), &mut env);
        assert_eq!((o.stdout.as_str(), o.code), (usage, 1), "{bad:?}");
    }
    let o = run(
        &a(&["redis-check-aof", "--truncate-to-timestamp", "12x", "f"]),
        &mut env,
    );
    assert_eq!(o.stdout, "Invalid timestamp, aborting...\n");
    let o = run(&a(&["redis-check-aof", "/nonexistent/f.aof"]), &mut env);
    assert_eq!(
        (o.stdout.as_str(), o.code),
        (
            "Cannot open file /nonexistent/f.aof: No such file or directory\n",
            1
        )
    );
    assert_eq!(dirname("a/b/c.manifest"), "a/b");
    assert_eq!(dirname("c.manifest"), ".");
    assert_eq!(dirname("/c"), "/");
}

#[test]
fn declined_prompt_aborts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.aof"),
        b"*1\r\n$4\r\nPING\r\n*1\r\n$2\r\nab",
    )
    .unwrap();
    let mut env = FakeEnv {
        root: dir.path().to_owned(),
        cut: HashMap::new(),
        answer: false,
        manifests: HashMap::new(),
        renamed: Vec::new(),
    };
    let o = run(
        &[
            "redis-check-aof".into(),
            "--fix".into(),
            "<dir>/t.aof".into(),
        ],
        &mut env,
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stdout.ends_with("Continue? [y/N]: Aborting...\n"),
        "{}",
        o.stdout
    );
    assert!(env.cut.is_empty());
}

fn analyzed_ok_up_to(output: &J, file: &str) -> u64 {
    let line = output
        .as_array()
        .unwrap()
        .iter()
        .filter_map(J::as_str)
        .find(|l| l.starts_with(&format!("AOF analyzed: filename={file},")))
        .unwrap();
    let v = line.split("ok_up_to=").nth(1).unwrap();
    v.split(',').next().unwrap().parse().unwrap()
}

#[test]
fn fix_cuts_a_file_that_is_not_the_last() {
    let (_, root, exp) = fixtures()
        .into_iter()
        .find(|f| f.0 == "truncated-nonlast")
        .unwrap();
    let base = "appendonly.aof.2.base.aof";
    let ok_up_to = analyzed_ok_up_to(&exp["redis_check_aof"]["output"], base);
    let manifest = "<dir>/appendonlydir/appendonly.aof.manifest".to_owned();
    // The default; `--any-file` (the former opt-in) changes nothing.
    for args in [
        vec!["--fix"],
        vec!["--fix", "--any-file"],
        vec!["--any-file", "--fix"],
    ] {
        let mut env = FakeEnv {
            root: root.clone(),
            cut: HashMap::new(),
            answer: true,
            manifests: HashMap::new(),
            renamed: Vec::new(),
        };
        let mut argv = vec!["keel-check-aof".to_owned()];
        argv.extend(args.iter().map(|a| a.to_string()));
        argv.push(manifest.clone());
        let o = run(&argv, &mut env);
        assert_eq!(o.code, 0, "{}", o.stdout);
        assert!(o
            .stdout
            .contains("is not the last file: the commands after offset"));
        assert!(o
            .stdout
            .contains(&format!("Successfully truncated AOF {base}")));
        assert!(o.stdout.ends_with("All AOF files and manifest are valid\n"));
        let mut cut: Vec<_> = env.cut.into_iter().collect();
        cut.sort();
        assert_eq!(cut, vec![(format!("<dir>/appendonlydir/{base}"), ok_up_to)]);
    }
}

/// base: TS 10, SET a, TS 20, SET b; incr 1: TS 30, SET c; incr 2: TS 40,
/// SET d.
fn timestamped_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cmd = |k: &str| format!("*3\r\n$3\r\nSET\r\n$1\r\n{k}\r\n$1\r\n1\r\n");
    let files = [
        (
            "t.1.base.aof",
            format!("#TS:10\r\n{}#TS:20\r\n{}", cmd("a"), cmd("b")),
        ),
        ("t.1.incr.aof", format!("#TS:30\r\n{}", cmd("c"))),
        ("t.2.incr.aof", format!("#TS:40\r\n{}", cmd("d"))),
    ];
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(
        dir.path().join("t.manifest"),
        "file t.1.base.aof seq 1 type b\nfile t.1.incr.aof seq 1 type i\nfile t.2.incr.aof seq 2 type i\n",
    )
    .unwrap();
    dir
}

#[test]
fn truncate_to_timestamp_crosses_files() {
    let dir = timestamped_dir();
    let base_cut = ("#TS:10\r\n".len() + "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n".len()) as u64;
    let manifest = "<dir>/t.manifest";
    let run_at = |ts: &str, any: bool, answer: bool| {
        let mut env = FakeEnv {
            root: dir.path().to_owned(),
            cut: HashMap::new(),
            answer,
            manifests: HashMap::new(),
            renamed: Vec::new(),
        };
        let mut argv = vec!["keel-check-aof".to_owned()];
        if any {
            argv.push("--any-file".into());
        }
        argv.extend(["--truncate-to-timestamp".into(), ts.into(), manifest.into()]);
        let o = run(&argv, &mut env);
        let mut cut: Vec<(String, u64)> = env.cut.into_iter().collect();
        cut.sort();
        let m = env
            .manifests
            .get(manifest)
            .map(|m| String::from_utf8(m.clone()).unwrap());
        if m.is_none() {
            assert!(env.renamed.is_empty());
        } else {
            let gone: Vec<&str> = env.renamed.iter().map(|r| r.0.as_str()).collect();
            assert_eq!(gone, ["<dir>/t.1.incr.aof", "<dir>/t.2.incr.aof"]);
            assert_eq!(
                env.renamed[0].1,
                format!("<dir>/t.1.incr.aof.after-ts-{ts}")
            );
        }
        (o, cut, m)
    };
    let base_only = "file t.1.base.aof seq 1 type b\n".to_owned();
    // Inside the base: cut there (after the prompt), both incrs leave the
    // manifest; --any-file changes nothing.
    for any in [false, true] {
        let (o, cut, m) = run_at("15", any, true);
        assert_eq!(o.code, 0, "{}", o.stdout);
        assert_eq!(cut, vec![("<dir>/t.1.base.aof".to_owned(), base_cut)]);
        assert_eq!(m.as_ref(), Some(&base_only));
        assert!(o.stdout.contains("Continue? [y/N]: "), "{}", o.stdout);
        assert!(
            o.stdout
                .contains("Removed 2 later file(s) from the manifest"),
            "{}",
            o.stdout
        );
        assert!(o.stdout.ends_with("All AOF files and manifest are valid\n"));
        assert_eq!(
            o.files[0].action.as_deref(),
            Some(format!("truncated to {base_cut} bytes (timestamp 15)").as_str())
        );
    }
    // Declined: nothing cut, the manifest untouched.
    let (o, cut, m) = run_at("15", false, false);
    assert_eq!(o.code, 1);
    assert!(o.stdout.ends_with("Aborting...\n"), "{}", o.stdout);
    assert!(cut.is_empty() && m.is_none());
    // Between the base and incr 1: both incrs leave the manifest, nothing
    // is cut.
    let (o, cut, m) = run_at("25", false, true);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(cut.is_empty());
    assert_eq!(m.as_ref(), Some(&base_only));
    // In the last file, Redis's rules: nothing older than the timestamp
    // in it is refused.
    let (o, cut, m) = run_at("35", false, true);
    assert_eq!(o.code, 1);
    assert!(
        o.stdout.contains("has nothing before timestamp 35"),
        "{}",
        o.stdout
    );
    assert!(cut.is_empty() && m.is_none());
    // Before everything: refused, nothing cut.
    let (o, cut, m) = run_at("5", false, true);
    assert_eq!(o.code, 1);
    assert!(
        o.stdout.contains("has nothing before timestamp 5"),
        "{}",
        o.stdout
    );
    assert!(cut.is_empty() && m.is_none());
    // After everything: nothing to cut.
    let (o, cut, m) = run_at("50", false, true);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(cut.is_empty() && m.is_none());
}

#[test]
fn strict_refuses_commands_keel_does_not_know_or_cannot_run() {
    use crate::persistence::aof::stream::encode_command;
    let dir = tempfile::tempdir().unwrap();
    let check = |cmds: &[&[&str]], strict: bool| -> ToolOutput {
        let mut data = Vec::new();
        for c in cmds {
            encode_command(&mut data, c);
        }
        let path = dir.path().join("one.aof");
        std::fs::write(&path, &data).unwrap();
        let mut env = FakeEnv {
            root: dir.path().to_owned(),
            cut: HashMap::new(),
            answer: true,
            manifests: HashMap::new(),
            renamed: Vec::new(),
        };
        let mut args = vec!["keel-check-aof".to_owned()];
        if strict {
            args.push("--strict".to_owned());
        }
        args.push(path.display().to_string());
        run_tool(&args, &mut env)
    };
    let good: &[&[&str]] = &[&["set", "k", "v"], &["incr", "n"]];
    assert_eq!(check(good, true).code, 0);
    let unknown: &[&[&str]] = &[&["set", "k", "v"], &["FOOBAR", "x"]];
    // Redis's tool does not look at names: valid without --strict.
    assert_eq!(check(unknown, false).code, 0);
    let out = check(unknown, true);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("Unknown command 'FOOBAR'"),
        "{}",
        out.stdout
    );
    let arity: &[&[&str]] = &[&["set", "k"]];
    let out = check(arity, true);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("Wrong number of arguments for 'set' (2 given)"),
        "{}",
        out.stdout
    );
}

#[test]
fn every_mode_records_a_verdict_per_file() {
    use crate::persistence::aof::check_report::Verdict;
    let want = [
        ("rdb-base", vec![Verdict::Valid, Verdict::Valid]),
        ("garbage-middle", vec![Verdict::Valid, Verdict::Corrupt]),
        ("nul-tail", vec![Verdict::Valid, Verdict::Corrupt]),
        (
            "truncated-last-incr",
            vec![Verdict::Valid, Verdict::Truncated],
        ),
        ("unclosed-multi", vec![Verdict::Valid, Verdict::Truncated]),
        ("empty-files", vec![Verdict::Empty, Verdict::Empty]),
    ];
    for (name, verdicts) in want {
        let (_, root, _) = fixtures().into_iter().find(|f| f.0 == name).unwrap();
        let mut env = FakeEnv {
            root,
            cut: HashMap::new(),
            answer: true,
            manifests: HashMap::new(),
            renamed: Vec::new(),
        };
        let argv: Vec<String> = [
            "keel-check-aof",
            "<dir>/appendonlydir/appendonly.aof.manifest",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = run(&argv, &mut env);
        let got: Vec<Verdict> = o.files.iter().map(|f| f.verdict).collect();
        assert_eq!(got, verdicts, "{name}: {}", o.stdout);
        assert_eq!(o.mode, "check");
        if verdicts[1] == Verdict::Corrupt {
            assert!(o.files[1].offset.is_some() && o.files[1].reason.is_some());
        }
    }
}
