//! The check tool run in memory on every AOF fixture: its stdout (minus
//! the RDB checker's own lines, which belong to the RDB check) and exit
//! code must be what redis-check-aof 7.0.15 printed, for the plain check,
//! `--fix` (answered "y", with the same files cut to the same sizes) and
//! `--truncate-to-timestamp`.

use super::*;
use crate::keyspace::Value;
use crate::persistence::rdb::{KeyMeta, LoadOptions, LoadSink};
use serde_json::Value as J;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

struct NullSink;

impl LoadSink for NullSink {
    fn aux(&mut self, _: &[u8], _: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn select_db(&mut self, _: u64) -> Result<(), String> {
        Ok(())
    }
    fn key(&mut self, _: &[u8], _: Value, _: KeyMeta) -> Result<(), String> {
        Ok(())
    }
    fn function(&mut self, _: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// `<dir>` is the fixture directory; truncations are kept in memory.
struct FakeEnv {
    root: PathBuf,
    cut: HashMap<String, u64>,
    answer: bool,
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

#[test]
fn reproduces_redis_check_aof_on_every_fixture() {
    let mut runs = 0;
    for (name, root, exp) in fixtures() {
        for key in [
            "redis_check_aof",
            "redis_check_aof_fix",
            "redis_check_aof_truncate_to_timestamp",
        ] {
            if !exp[key].is_null() {
                compare(&name, &root, &exp[key]);
                runs += 1;
            }
        }
    }
    assert!(runs >= 45, "{runs} runs");
}

#[test]
fn arguments() {
    let mut env = FakeEnv {
        root: PathBuf::from("/nonexistent"),
        cut: HashMap::new(),
        answer: false,
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
