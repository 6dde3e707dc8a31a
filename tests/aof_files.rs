//! The AOF file formats against real redis-server 7.0.15.
//!
//! - `rewrite_<fixture>`: each RDB fixture (fixtures/rdb) is decoded with
//!   keel's RDB loader and written as an AOF-format base by
//!   `aof::rewrite_cmds::write_commands`; redis-server 7.0.15 starts on an
//!   appendonlydir holding that base (`aof-use-rdb-preamble no`) and must
//!   hold the fixture's recorded dataset (keys, types, encodings, TTLs,
//!   values, functions; stream consumers' seen-times and radix-tree sizes
//!   excepted, which a rewrite does not keep) and the same DEBUG DIGEST as
//!   a redis-server that loaded the RDB file itself.
//! - `lenient_reader_agrees_with_redis_on_damaged_incrs`: 120 randomly
//!   damaged incr files (cuts, changed bytes, inserted annotations, dropped
//!   `\r`): the lenient reader ends each as redis-server did (clean,
//!   truncated at the same offset, or refused as corrupt).
//! - `strict_reader_agrees_with_redis_check_aof_on_damaged_files`: 200
//!   damaged files checked by redis-check-aof 7.0.15: `check::check_resp`
//!   prints the same error and "AOF analyzed" lines.
//! - `manifest_written_by_keel_loads_in_redis`: a manifest keel wrote (with
//!   history lines and a quoted name) is accepted by redis-server, which
//!   loads base + incrs and deletes the history.
//!
//! Tests skip with a message when redis-server is not installed.

mod common;

use common::rdb::{
    assert_same_dataset, fixtures_dir, mask_stream_volatile, read_json, record_dataset, Compare,
};
use common::rdb_server::start_on_rdb;
use common::{poll_until, redis_available, Kind, Server};
use keel::config::Config;
use keel::keyspace::Db;
use keel::persistence::aof::manifest::{AofFile, AofKind, Manifest};
use keel::persistence::aof::rewrite_cmds::write_commands;
use keel::persistence::aof::stream::encode_command;
use keel::persistence::loading::DbSink;
use keel::persistence::rdb::{load, LoadOptions};
use serde_json::Value as J;
use std::path::Path;

const ADIR: &str = "appendonlydir";

fn decode(rdb: &[u8]) -> (Vec<Db>, Vec<Vec<u8>>) {
    let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
    let mut funcs = Vec::new();
    let cfg = Config::default();
    let mut sink = DbSink::new(&mut dbs, &mut funcs, &cfg);
    load(rdb, &LoadOptions::default(), &mut sink).expect("fixture loads");
    (dbs, funcs)
}

/// Rewrites zset scores "-0" to "0" in a recorded dataset; returns the
/// (db, key, member) it changed.
fn negative_zero_members(d: &mut J) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for k in d["keys"].as_array_mut().into_iter().flatten() {
        if k["type"] != "zset" {
            continue;
        }
        let (db, key) = (
            k["db"].to_string(),
            k["key"].as_str().unwrap_or("").to_owned(),
        );
        for pair in k["value"].as_array_mut().into_iter().flatten() {
            if pair[1] == "-0" {
                pair[1] = J::String("0".into());
                out.push((
                    db.clone(),
                    key.clone(),
                    pair[0].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    out
}

fn manifest_text(files: &[(&str, i64, AofKind)]) -> Vec<u8> {
    let mut m = Manifest::default();
    for (name, seq, kind) in files {
        let f = AofFile {
            name: name.as_bytes().to_vec(),
            seq: *seq,
            kind: *kind,
        };
        match kind {
            AofKind::Base => m.base = Some(f),
            AofKind::Hist => m.history.push(f),
            AofKind::Incr => m.incrs.push(f),
        }
    }
    m.to_text()
}

fn digest(srv: &Server) -> Vec<u8> {
    srv.conn().cmd(&["DEBUG", "DIGEST"])
}

fn rewrite_fixture(name: &str) {
    if !redis_available() {
        eprintln!("SKIPPED rewrite_{name}: redis-server is not installed");
        return;
    }
    let rdb = std::fs::read(fixtures_dir().join(format!("{name}.rdb"))).unwrap();
    let expected = read_json(&fixtures_dir().join(format!("{name}.json")));
    let (dbs, funcs) = decode(&rdb);
    let mut base = Vec::new();
    write_commands(&mut base, &dbs, &funcs, Some(1_700_000_000)).unwrap();
    let c = keel::persistence::aof::check::check_resp(&base, 0, "b", "b", 1);
    assert!(
        c.valid(),
        "{name}: keel's strict reader refuses the rewrite: {c:?}"
    );
    let seed = |dir: &Path| {
        let adir = dir.join(ADIR);
        std::fs::create_dir(&adir).unwrap();
        std::fs::write(adir.join("appendonly.aof.1.base.aof"), &base).unwrap();
        let text = manifest_text(&[("appendonly.aof.1.base.aof", 1, AofKind::Base)]);
        std::fs::write(adir.join("appendonly.aof.manifest"), text).unwrap();
    };
    let args = [
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--enable-debug-command",
        "yes",
    ];
    let srv = Server::start_seeded(Kind::Redis, &args, &seed);
    assert!(
        srv.log()
            .contains("DB loaded from base file appendonly.aof.1.base.aof"),
        "{}",
        srv.log()
    );
    // redis-check-aof accepts the directory too.
    let manifest = srv.dir().join(ADIR).join("appendonly.aof.manifest");
    if let Ok(out) = std::process::Command::new("redis-check-aof")
        .arg(&manifest)
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("All AOF files and manifest are valid"),
            "{name}: redis-check-aof: {text}"
        );
    }
    let mut c = srv.conn();
    let mut actual = record_dataset(&mut c, None);
    let mut expected = expected.clone();
    mask_stream_volatile(&mut actual);
    mask_stream_volatile(&mut expected);
    // A score of -0 comes back as 0, as from Redis's own rewrite: ZADD
    // puts the first 64 members in a listpack, which stores -0 as the
    // integer 0, and the later conversion to a skiplist keeps 0.
    let negzero = negative_zero_members(&mut expected);
    assert_same_dataset(
        &format!("redis-server on keel's AOF rewrite of {name}.rdb"),
        &expected,
        &actual,
        Compare {
            functions: true,
            idle_slack: 0,
        },
    );
    let from_rdb = start_on_rdb(
        Kind::Redis,
        &rdb,
        "dump.rdb",
        &["--enable-debug-command".into(), "yes".into()],
    );
    let mut c = from_rdb.conn();
    c.cmd(&["SELECT", "0"]);
    for (db, key, member) in &negzero {
        c.cmd(&["SELECT", db]);
        c.cmd(&["ZREM", key, member]);
        c.cmd(&["ZADD", key, "0", member]);
    }
    assert_eq!(digest(&srv), digest(&from_rdb), "DEBUG DIGEST of {name}");
}

macro_rules! rewrite_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $( #[test] fn $test() { rewrite_fixture($name); } )*
    };
}

rewrite_tests! {
    rewrite_strings => "strings",
    rewrite_lists => "lists",
    rewrite_lists_compressed => "lists-compressed",
    rewrite_hashes => "hashes",
    rewrite_sets => "sets",
    rewrite_zsets => "zsets",
    rewrite_streams => "streams",
    rewrite_expires => "expires",
    rewrite_functions => "functions",
    rewrite_small => "small",
    rewrite_empty => "empty",
}

#[test]
fn manifest_written_by_keel_loads_in_redis() {
    if !redis_available() {
        eprintln!("SKIPPED manifest_written_by_keel_loads_in_redis: no redis-server");
        return;
    }
    const F: &str = "appendonly.aof";
    // base 1 + incr 1, then a rewrite: incr 2 opened, base 2 installed.
    let mut m = Manifest::default();
    m.new_base(F, false);
    m.last_incr_or_new(F);
    m.new_incr(F);
    let (base2, _) = m.install_rewrite(F, false, false, true);
    // ... and one incr with a name that needs quoting.
    m.incrs.push(AofFile {
        name: b"odd name.incr.aof".to_vec(),
        seq: 7,
        kind: AofKind::Incr,
    });
    let text = m.to_text();
    assert!(String::from_utf8_lossy(&text).contains("file \"odd name.incr.aof\" seq 7 type i"));
    let mut b = Vec::new();
    encode_command(&mut b, &[&b"SELECT"[..], b"0"]);
    encode_command(&mut b, &[&b"SET"[..], b"k", b"base"]);
    let mut i2 = Vec::new();
    encode_command(&mut i2, &[&b"SELECT"[..], b"0"]);
    encode_command(&mut i2, &[&b"RPUSH"[..], b"l", b"a"]);
    let mut i7 = Vec::new();
    encode_command(&mut i7, &[&b"SELECT"[..], b"0"]);
    encode_command(&mut i7, &[&b"RPUSH"[..], b"l", b"b"]);
    let base2 = String::from_utf8(base2).unwrap();
    let seed = |dir: &Path| {
        let adir = dir.join(ADIR);
        std::fs::create_dir(&adir).unwrap();
        std::fs::write(adir.join(&base2), &b).unwrap();
        std::fs::write(adir.join("appendonly.aof.2.incr.aof"), &i2).unwrap();
        std::fs::write(adir.join("odd name.incr.aof"), &i7).unwrap();
        // History files that Redis deletes after loading.
        std::fs::write(adir.join("appendonly.aof.1.base.aof"), b"").unwrap();
        std::fs::write(adir.join("appendonly.aof.1.incr.aof"), b"").unwrap();
        std::fs::write(adir.join("appendonly.aof.manifest"), &text).unwrap();
    };
    let srv = Server::start_seeded(Kind::Redis, &["--appendonly", "yes"], &seed);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["GET", "k"]), b"$4\r\nbase\r\n");
    assert_eq!(
        c.cmd(&["LRANGE", "l", "0", "-1"]),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    // Redis removed the history (in the background) and rewrote the
    // manifest, which keel parses back.
    let adir = srv.dir().join(ADIR);
    assert!(poll_until(std::time::Duration::from_secs(10), || !adir
        .join("appendonly.aof.1.base.aof")
        .exists()));
    let after = Manifest::parse(&std::fs::read(adir.join("appendonly.aof.manifest")).unwrap())
        .expect("keel parses Redis's manifest");
    assert!(after.history.is_empty());
    assert_eq!(after.incrs.last().unwrap().name, b"odd name.incr.aof");
    let mut want = m.clone();
    want.history.clear();
    assert_eq!(after.to_text(), want.to_text());
}

/// How redis-server 7.0.15 took an AOF directory: (started, log).
fn redis_outcome(files: &[(&str, Vec<u8>)], extra: &[&str]) -> (bool, String) {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::time::Duration;
    for _attempt in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let adir = dir.path().join(ADIR);
        std::fs::create_dir(&adir).unwrap();
        for (name, data) in files {
            std::fs::write(adir.join(name), data).unwrap();
        }
        let port = common::free_port();
        let log_path = dir.path().join("server.log");
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir.path())
            .args(["--appendonly", "yes", "--logfile"])
            .arg(&log_path)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let mut exited = false;
        let answered = poll_until(Duration::from_secs(20), || {
            if let Ok(Some(_)) = child.try_wait() {
                exited = true;
                return true;
            }
            let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                return false;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 7];
            s.write_all(b"PING\r\n").is_ok()
                && s.read_exact(&mut buf).is_ok()
                && &buf == b"+PONG\r\n"
        });
        assert!(answered, "redis-server neither started nor exited");
        let started = !exited;
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if !started && log.contains("already in use") {
            continue;
        }
        return (started, log);
    }
    panic!("no free port for redis-server");
}

/// Random damage (cuts, byte changes, inserted annotations, dropped \r)
/// to an incr file: the lenient reader must end it as redis-server did
/// (loaded clean, truncated at the same offset, or refused as corrupt).
#[test]
fn lenient_reader_agrees_with_redis_on_damaged_incrs() {
    use keel::persistence::aof::stream::{End, Mode, StreamReader};
    use rand::{Rng, SeedableRng};
    if !redis_available() {
        eprintln!("SKIPPED lenient_reader_agrees_with_redis_on_damaged_incrs: no redis-server");
        return;
    }
    let mut good = Vec::new();
    encode_command(&mut good, &["SELECT", "0"]);
    for i in 0..6 {
        encode_command(&mut good, &["SET", &format!("k{i}"), "value"]);
        if i == 2 {
            encode_command(&mut good, &["MULTI"]);
            encode_command(&mut good, &["RPUSH", "l", "a", "b"]);
            encode_command(&mut good, &["INCR", "n"]);
            encode_command(&mut good, &["EXEC"]);
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let cases = 120;
    for case in 0..cases {
        let mut d = good.clone();
        match case % 4 {
            0 => d.truncate(rng.gen_range(1..d.len())),
            1 => {
                let at = rng.gen_range(0..d.len());
                d[at] = *[0u8, b'x', b'\n', b'\r', b'*', b'$', b'#']
                    .get(rng.gen_range(0..7))
                    .unwrap();
            }
            2 => {
                let at = rng.gen_range(0..d.len());
                d.splice(at..at, b"#TS:1\r\n".iter().copied());
            }
            _ => {
                let crs: Vec<usize> = (0..d.len()).filter(|&i| d[i] == b'\r').collect();
                d.remove(crs[rng.gen_range(0..crs.len())]);
                d.truncate(d.len() - rng.gen_range(0..4));
            }
        }
        let manifest = b"file appendonly.aof.1.incr.aof seq 1 type i\n".to_vec();
        let (started, log) = redis_outcome(
            &[
                ("appendonly.aof.1.incr.aof", d.clone()),
                ("appendonly.aof.manifest", manifest),
            ],
            &[],
        );
        let end = StreamReader::new(&d, Mode::Lenient).finish();
        let what = format!(
            "case {case}: {:?}\nreader: {end:?}\nlog:\n{log}",
            String::from_utf8_lossy(&d)
        );
        if log.contains("Unknown command") || log.contains("Unrecoverable error") {
            // The reader frames only (a damaged name is the loader's
            // business); "*\0" style reads are corrupt either way.
            continue;
        }
        let truncated_at = log
            .lines()
            .find_map(|l| {
                l.split("!!! Truncating the AOF appendonly.aof.1.incr.aof at offset ")
                    .nth(1)
            })
            .map(|x| x.trim_end_matches(" !!!").parse::<u64>().unwrap());
        match (&end, started, truncated_at) {
            (End::Clean, true, None) => {}
            (End::Truncated { last_good, .. }, true, Some(at)) => {
                // Cut inside a command inside MULTI: Redis cuts after the
                // last queued command, keel before the MULTI.
                let multi = d[*last_good as usize..].starts_with(b"*1\r\n$5\r\nMULTI\r\n");
                assert!(*last_good == at || (multi && *last_good < at), "{what}");
            }
            (End::Corrupt { .. }, false, _) => {
                assert!(
                    log.contains("Bad file format reading the append only file"),
                    "{what}"
                )
            }
            _ => panic!("disagree: started={started} truncated_at={truncated_at:?}\n{what}"),
        }
    }
}

/// The same kind of random damage, checked by redis-check-aof 7.0.15 as
/// an old-style file: `check::check_resp` must print the same error line
/// and the same "AOF analyzed" line.
#[test]
fn strict_reader_agrees_with_redis_check_aof_on_damaged_files() {
    use keel::persistence::aof::check::check_resp;
    use rand::{Rng, SeedableRng};
    let have_tool = std::process::Command::new("redis-check-aof")
        .arg("/nonexistent")
        .output()
        .is_ok();
    if !have_tool {
        eprintln!("SKIPPED strict_reader_agrees_with_redis_check_aof_on_damaged_files: no redis-check-aof");
        return;
    }
    let mut good = Vec::new();
    keel::persistence::aof::stream::encode_ts_annotation(&mut good, 1_700_000_000);
    encode_command(&mut good, &["SELECT", "0"]);
    for i in 0..5 {
        encode_command(&mut good, &["SET", &format!("k{i}"), "v\r\nx"]);
        if i == 1 {
            encode_command(&mut good, &["MULTI"]);
            encode_command(&mut good, &["INCR", "n"]);
            encode_command(&mut good, &["EXEC"]);
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.aof");
    let shown = path.to_string_lossy().into_owned();
    for case in 0..200 {
        let mut d = good.clone();
        match case % 4 {
            0 => d.truncate(rng.gen_range(1..d.len())),
            1 => {
                let at = rng.gen_range(0..d.len());
                d[at] = [0u8, b'x', b'\n', b'\r', b'*', b'$', b'#', 0xff][rng.gen_range(0..8)];
            }
            2 => {
                let at = rng.gen_range(0..d.len());
                let ins: &[u8] = [
                    &b"#TS:1\r\n"[..],
                    b"*1\r\n$5\r\nmulti\r\n",
                    b"*1\r\n$4\r\nexec\r\n",
                ][rng.gen_range(0..3)];
                d.splice(at..at, ins.iter().copied());
            }
            _ => {
                let crs: Vec<usize> = (0..d.len()).filter(|&i| d[i] == b'\r').collect();
                d.remove(crs[rng.gen_range(0..crs.len())]);
            }
        }
        std::fs::write(&path, &d).unwrap();
        let out = std::process::Command::new("redis-check-aof")
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let c = check_resp(&d, 0, &shown, &shown, 1);
        let what = format!("case {case}: {:?}\n{text}", String::from_utf8_lossy(&d));
        let head = "Start checking Old-Style AOF\n";
        let analyzed = format!("{}\n", c.analyzed_line(&shown));
        let want = match &c.error_line {
            // A header cut at the end of the file: redis-check-aof prints
            // the terminating NUL and then a stale byte of its stack
            // buffer; keel prints 00 for both.
            Some(e) if e.ends_with(": 0000") => {
                let got = text.strip_prefix(head).unwrap_or("");
                assert!(got.starts_with(&e[..e.len() - 2]), "{what}");
                let rest = &got[e.len() + 1..];
                assert!(rest.starts_with(&analyzed), "{what}");
                None
            }
            Some(e) => Some(format!("{head}{e}\n{analyzed}")),
            None => Some(format!("{head}{analyzed}")),
        };
        if let Some(want) = want {
            assert!(text.starts_with(&want), "{what}\nwanted:\n{want}");
        }
        assert_eq!(out.status.code() == Some(0), c.valid(), "{what}");
    }
}
