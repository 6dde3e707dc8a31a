//! AOF compatibility with redis-server 7.0.15 (issue 6 point 7).
//!
//! - `swap_dirs_*`: the same command traffic (every type, absolute and
//!   relative expiries, several databases, MULTI/EXEC, a script, a
//!   function, a blocking pop served at once, and a BGREWRITEAOF in the
//!   middle) goes to keel and to redis-server, both with `appendonly yes`;
//!   every reply must be the same. Both are shut down, then each loads a
//!   copy of the other's appenddirname and must hold exactly the dataset
//!   the writer held (keys, types, encodings, TTLs, values, functions), with
//!   the base as RDB preamble and as commands.
//! - `fixtures_load_as_recorded`: every fixture in fixtures/aof (written by
//!   redis-server 7.0.15) that Redis loaded loads in keel with the recorded
//!   dataset; the ones Redis refused keel refuses; where Redis cuts a
//!   truncated last file (`aof-load-truncated yes`) keel loads the same
//!   prefix, and with `aof-load-truncated no` refuses it. Where keel
//!   deliberately does better, its behaviour is asserted instead: AOF parts
//!   without a manifest are refused (Redis starts empty beside them), and a
//!   damaged file that is not the last is refused without being cut (Redis
//!   truncates it on disk, then refuses); refused files stay byte for byte
//!   as they were.
//!
//! The swap tests skip with a message when redis-server is not installed.

mod common;

use common::rdb::{
    aof_fixtures, assert_same_dataset, copy_dir, files_under, mask_stream_volatile, read_json,
    record_dataset, Compare,
};
use common::{poll_until, redis_available, Kind, RawConn, Server};
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Contents of every file under `dir` (logs aside), by relative path.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .filter(|(rel, _)| !rel.ends_with(".log"))
        .map(|(rel, p)| (rel, std::fs::read(p).expect("read")))
        .collect()
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// The traffic before the rewrite.
fn phase_one() -> Vec<Vec<String>> {
    let mut c = vec![
        s(&["SET", "s1", "hello"]),
        s(&["SET", "n", "10"]),
        s(&["INCRBY", "n", "5"]),
        s(&["INCRBYFLOAT", "f", "1.5"]),
        s(&["APPEND", "s1", " world"]),
        s(&["SETRANGE", "s1", "0", "J"]),
        vec!["SET".into(), "big".into(), "x".repeat(500)],
        s(&["MSET", "a", "1", "b", "2"]),
        s(&["SET", "e1", "v", "EXAT", "4102444800"]),
        s(&["SET", "e2", "v", "PXAT", "4102444800123"]),
        s(&["EXPIREAT", "s1", "4102444800"]),
        s(&["SET", "rel", "v", "EX", "100000"]),
        s(&["SET", "rel2", "v"]),
        s(&["PEXPIRE", "rel2", "500000000"]),
        s(&["SET", "tmp", "v"]),
        s(&["DEL", "tmp"]),
        s(&["RPUSH", "l", "a", "b", "c", "d", "e"]),
        s(&["LPUSH", "l", "z"]),
        s(&["LPOP", "l"]),
        s(&["RPOPLPUSH", "l", "l2"]),
        s(&["LINSERT", "l", "BEFORE", "c", "X"]),
        s(&["LSET", "l", "0", "Q"]),
        s(&["LTRIM", "l", "0", "3"]),
        s(&["BLPOP", "l", "0"]),
        s(&["HSET", "h", "f1", "v1", "f2", "v2"]),
        s(&["HINCRBY", "h", "cnt", "3"]),
        s(&["HINCRBYFLOAT", "h", "fl", "2.5"]),
        s(&["HDEL", "h", "f2"]),
        s(&["SADD", "st", "1", "2", "3"]),
        s(&["SADD", "st", "x"]),
        s(&["SREM", "st", "2"]),
        s(&["SMOVE", "st", "st2", "1"]),
        s(&["SADD", "ints", "1", "2", "3", "4"]),
        s(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]),
        s(&["ZINCRBY", "z", "2.5", "a"]),
        s(&["ZREM", "z", "b"]),
        s(&["XADD", "x", "1-1", "f", "v"]),
        s(&["XADD", "x", "2-1", "f", "v"]),
        s(&["XADD", "x", "3-1", "g", "w"]),
        s(&["XDEL", "x", "2-1"]),
        s(&["XGROUP", "CREATE", "x", "grp", "0"]),
        s(&["SELECT", "2"]),
        s(&["SET", "d2", "v"]),
        s(&["HSET", "d2h", "a", "b"]),
        s(&["SELECT", "0"]),
        s(&["MULTI"]),
        s(&["INCR", "n"]),
        s(&["RPUSH", "l", "m"]),
        s(&["SADD", "st", "y"]),
        s(&["EXEC"]),
        s(&["RENAME", "a", "a2"]),
        s(&["GETDEL", "b"]),
        s(&["PERSIST", "e2"]),
    ];
    let many: Vec<String> = (0..200).map(|i| format!("item{i}")).collect();
    let mut rp = s(&["RPUSH", "biglist"]);
    rp.extend(many.iter().cloned());
    c.push(rp);
    let mut hs = s(&["HSET", "bigh"]);
    for m in &many {
        hs.push(m.clone());
        hs.push(format!("val-{m}"));
    }
    c.push(hs);
    let mut za = s(&["ZADD", "bigz"]);
    for (i, m) in many.iter().enumerate() {
        za.push(format!("{}.5", i));
        za.push(m.clone());
    }
    c.push(za);
    let mut sa = s(&["SADD", "bigset"]);
    sa.extend(many.iter().cloned());
    c.push(sa);
    c
}

/// Scripts and functions (sent only when keel has them).
fn scripting() -> Vec<Vec<String>> {
    vec![
        s(&[
            "EVAL",
            "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])",
            "2",
            "sc",
            "n",
            "scripted",
        ]),
        s(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f1', function(keys, args) return redis.call('set', keys[1], args[1]) end)",
        ]),
        s(&["FCALL", "f1", "1", "fk", "fv"]),
    ]
}

/// True when keel-server knows FUNCTION (scripting is a later issue);
/// until then the tests leave scripts and functions out and say so.
fn keel_has_functions() -> bool {
    let srv = Server::keel();
    let r = srv.conn().cmd_str(&["FUNCTION", "LIST"]);
    let has = !r.starts_with("-ERR unknown command");
    if !has {
        eprintln!("NOTE: keel has no FUNCTION/EVAL yet: scripts and functions are left out");
    }
    has
}

/// The traffic after the rewrite (lands in the new incr file).
fn phase_two() -> Vec<Vec<String>> {
    vec![
        s(&["INCR", "n"]),
        s(&["DEL", "big"]),
        s(&["SET", "after", "rewrite"]),
        s(&["ZADD", "z", "9", "q"]),
        s(&["XADD", "x", "4-1", "f", "v"]),
        s(&["HSET", "bigh", "item0", "changed"]),
        s(&["LPOP", "biglist"]),
        s(&["SELECT", "3"]),
        s(&["SET", "d3", "v", "PXAT", "4102444800555"]),
        s(&["SELECT", "2"]),
        s(&["FLUSHDB"]),
        s(&["SET", "d2new", "v"]),
        s(&["SELECT", "0"]),
        s(&["MULTI"]),
        s(&["SET", "t1", "1"]),
        s(&["EXPIRE", "t1", "100000"]),
        s(&["SREM", "bigset", "item5"]),
        s(&["EXEC"]),
        s(&["GETEX", "e1", "PXAT", "4102444801000"]),
    ]
}

fn info_field(c: &mut RawConn, field: &str) -> String {
    let info = c.cmd_str(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO persistence: {info}"))
        .trim()
        .to_owned()
}

/// Waits until no rewrite runs or is scheduled.
fn wait_rewrite_done(c: &mut RawConn, what: &str) {
    assert!(
        poll_until(Duration::from_secs(20), || {
            info_field(c, "aof_rewrite_in_progress") == "0"
                && info_field(c, "aof_rewrite_scheduled") == "0"
        }),
        "{what}: the rewrite did not finish"
    );
    assert_eq!(info_field(c, "aof_last_bgrewrite_status"), "ok", "{what}");
}

/// Shuts `srv` down cleanly (SHUTDOWN, then the process exits).
fn shutdown(mut srv: Server) {
    let mut c = srv.conn();
    c.send_cmd(&["SHUTDOWN"]);
    let _ = c.read_to_close(Duration::from_secs(10));
    assert!(
        srv.wait_exit(Duration::from_secs(10)).is_some(),
        "{:?} did not exit after SHUTDOWN",
        srv.kind
    );
}

fn swap_dirs(preamble: &str) {
    if !redis_available() {
        eprintln!("SKIPPED swap_dirs: redis-server is not installed");
        return;
    }
    let args = [
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        preamble,
        "--appendfsync",
        "everysec",
    ];
    let kd = tempfile::Builder::new()
        .prefix("keel-compat-")
        .tempdir()
        .unwrap();
    let rd = tempfile::Builder::new()
        .prefix("keel-compat-")
        .tempdir()
        .unwrap();
    let keel = Server::start_in(Kind::Keel, kd.path(), &args);
    let redis = Server::start_in(Kind::Redis, rd.path(), &args);
    let (mut kc, mut rc) = (keel.conn(), redis.conn());
    let send_all = |cmds: Vec<Vec<String>>, kc: &mut RawConn, rc: &mut RawConn| {
        for cmd in cmds {
            let k = kc.cmd(&cmd);
            let r = rc.cmd(&cmd);
            assert_eq!(
                common::show(&k),
                common::show(&r),
                "preamble {preamble}: replies to {cmd:?} differ"
            );
        }
    };
    let functions = keel_has_functions();
    send_all(phase_one(), &mut kc, &mut rc);
    if functions {
        send_all(scripting(), &mut kc, &mut rc);
    }
    for (c, who) in [(&mut kc, "keel"), (&mut rc, "redis")] {
        let r = c.cmd_str(&["BGREWRITEAOF"]);
        assert!(r.starts_with('+'), "{who}: BGREWRITEAOF: {r}");
        wait_rewrite_done(c, who);
    }
    send_all(phase_two(), &mut kc, &mut rc);
    let mut keel_data = record_dataset(&mut kc, None);
    let mut redis_data = record_dataset(&mut rc, None);
    mask_stream_volatile(&mut keel_data);
    mask_stream_volatile(&mut redis_data);
    drop((kc, rc));
    shutdown(keel);
    shutdown(redis);
    assert!(
        keel_data["keys"].as_array().is_some_and(|k| k.len() > 20),
        "{keel_data}"
    );
    let base = if preamble == "yes" {
        ".2.base.rdb"
    } else {
        ".2.base.aof"
    };
    for (d, who) in [(kd.path(), "keel"), (rd.path(), "redis")] {
        let m = std::fs::read_to_string(d.join("appendonlydir/appendonly.aof.manifest"))
            .unwrap_or_default();
        assert!(m.contains(base), "{who}: manifest after the rewrite: {m:?}");
        assert!(
            m.contains(".2.incr.aof"),
            "{who}: manifest after the rewrite: {m:?}"
        );
    }

    let how = Compare {
        functions,
        idle_slack: 0,
    };
    // What each kind of server holds after loading each writer's files.
    let mut loaded = BTreeMap::new();
    for (from, writer) in [(kd.path(), "keel"), (rd.path(), "redis")] {
        for (kind, loader) in [(Kind::Keel, "keel"), (Kind::Redis, "redis")] {
            let who = format!("preamble {preamble}: {loader} on {writer}'s appendonlydir");
            let dir = tempfile::Builder::new()
                .prefix("keel-compat-")
                .tempdir()
                .unwrap();
            copy_dir(
                &from.join("appendonlydir"),
                &dir.path().join("appendonlydir"),
            );
            let srv = Server::try_start_in(kind, dir.path(), &args)
                .unwrap_or_else(|f| panic!("{who}: did not start: {f:?}"));
            let mut got = record_dataset(&mut srv.conn(), None);
            mask_stream_volatile(&mut got);
            drop(srv);
            // Against what the writer held: everything but the encoding
            // (a reload may change it: an APPENDed string comes back
            // embstr in Redis too).
            let written = if writer == "keel" {
                &keel_data
            } else {
                &redis_data
            };
            assert_same_dataset(&who, &no_encodings(written), &no_encodings(&got), how);
            loaded.insert((loader, writer), got);
        }
    }
    // Each loader holds the same from either writer's files, encodings
    // included (TTLs set relatively differ by the writers' clocks).
    for loader in ["keel", "redis"] {
        let own = no_relative_ttls(&loaded[&(loader, loader)]);
        let other_writer = if loader == "keel" { "redis" } else { "keel" };
        let other = no_relative_ttls(&loaded[&(loader, other_writer)]);
        assert_same_dataset(
            &format!("preamble {preamble}: {loader} on {other_writer}'s files vs on its own"),
            &own,
            &other,
            how,
        );
    }
}

/// Keys whose TTL the traffic sets relative to the writer's clock.
const RELATIVE_TTL_KEYS: &[&str] = &["rel", "rel2", "t1"];

fn map_keys(d: &J, f: &dyn Fn(&mut serde_json::Map<String, J>)) -> J {
    let mut d = d.clone();
    if let Some(keys) = d["keys"].as_array_mut() {
        for k in keys {
            if let Some(o) = k.as_object_mut() {
                f(o);
            }
        }
    }
    d
}

fn no_encodings(d: &J) -> J {
    map_keys(d, &|o| {
        o.insert("encoding".into(), J::Null);
    })
}

fn no_relative_ttls(d: &J) -> J {
    map_keys(d, &|o| {
        let name = o["key"].as_str().unwrap_or_default().to_owned();
        if RELATIVE_TTL_KEYS.contains(&name.as_str()) {
            o.insert("pexpiretime".into(), J::Null);
        }
    })
}

#[test]
fn swap_dirs_with_rdb_preamble() {
    swap_dirs("yes");
}

#[test]
fn swap_dirs_with_aof_base() {
    swap_dirs("no");
}

fn strs(v: &J) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Fixtures where keel deliberately differs from Redis: it refuses and
/// leaves the files as they were.
const KEEL_REFUSES: &[&str] = &["manifest-missing", "truncated-nonlast"];

#[test]
fn fixtures_load_as_recorded() {
    let mut names: Vec<String> = std::fs::read_dir(aof_fixtures())
        .expect("fixtures/aof")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".expect").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    let functions = keel_has_functions();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for name in &names {
        let expect = read_json(&aof_fixtures().join(format!("{name}.expect")));
        let mut runs = vec![(&expect["redis_server"], "")];
        if let Some(strict) = expect.get("redis_server_no_truncate") {
            runs.push((strict, " (aof-load-truncated no)"));
        }
        for (rec, label) in runs {
            let what = format!("{name}{label}");
            let args = strs(&rec["args"]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let tmp = tempfile::Builder::new()
                .prefix("keel-aoffix-")
                .tempdir()
                .unwrap();
            let dir = tmp.path();
            copy_dir(&aof_fixtures().join(name), dir);
            let before = contents(dir);
            let started = rec["started"].as_bool().expect("started");
            let refuse = !started || KEEL_REFUSES.contains(&name.as_str());
            match Server::try_start_in(Kind::Keel, dir, &args) {
                Ok(srv) if refuse => {
                    failures.push(format!("{what}: keel started (Redis: started={started})"));
                    drop(srv);
                }
                Ok(srv) => {
                    let json = aof_fixtures().join(format!("{name}.json"));
                    let mut got = record_dataset(&mut srv.conn(), None);
                    mask_stream_volatile(&mut got);
                    if json.exists() {
                        let mut want = read_json(&json);
                        mask_stream_volatile(&mut want);
                        let diffs = common::rdb::compare_datasets(
                            &want,
                            &got,
                            Compare {
                                functions,
                                idle_slack: 0,
                            },
                        );
                        if !diffs.is_empty() {
                            failures.push(format!(
                                "{what}: dataset differs:\n  {}",
                                diffs.join("\n  ")
                            ));
                        }
                    } else if rec.get("dbsize").is_some() && rec["dbsize"] != got["dbsize"] {
                        failures.push(format!(
                            "{what}: dbsize {} (Redis: {})",
                            got["dbsize"], rec["dbsize"]
                        ));
                    }
                    drop(srv);
                }
                Err(f) => {
                    if !refuse && !functions && f.log.contains("Unknown command 'FUNCTION'") {
                        skipped.push(what);
                        continue;
                    }
                    if !refuse {
                        failures.push(format!("{what}: keel refused (Redis started): {}", f.log));
                        continue;
                    }
                    if f.status.is_none() {
                        failures.push(format!(
                            "{what}: keel neither started nor exited: {}",
                            f.log
                        ));
                    }
                    let after = contents(dir);
                    if after != before {
                        let changed: Vec<_> = before
                            .keys()
                            .chain(after.keys())
                            .filter(|k| before.get(*k) != after.get(*k))
                            .collect();
                        failures.push(format!("{what}: keel refused but changed {changed:?}"));
                    }
                }
            }
        }
    }
    if !skipped.is_empty() {
        eprintln!("SKIPPED (they load FUNCTION commands, which keel lacks): {skipped:?}");
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
