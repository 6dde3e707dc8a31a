//! RDB files written by real Redis, loaded by keel-server at startup.
//!
//! - `load_<fixture>`: keel starts on fixtures/rdb/<fixture>.rdb (`--dir`
//!   holding a copy, `--dbfilename <fixture>.rdb`, plus the fixture's
//!   recorded loader config) and must hold exactly the dataset that
//!   redis-server 7.0.15 held after loading the same file (<fixture>.json:
//!   keys, types, encodings, values, PEXPIRETIME, IDLETIME/FREQ), and
//!   report the load as Redis did ("Done loading RDB, keys loaded: N, keys
//!   expired: M." in its log, INFO rdb_last_load_keys_loaded/expired).
//! - `save_<fixture>`: keel loads the fixture, SAVEs; redis-check-rdb must
//!   accept keel's file and redis-server 7.0.15 loading it must hold the
//!   recorded dataset again.
//! - `reload_<fixture>`: keel loads the fixture, DEBUG RELOAD, and still
//!   holds the recorded dataset.
//! - `restore_<fixture>`: keel RESTOREs the DUMP payloads redis-server
//!   7.0.15 produced for each key (recorded in <fixture>.json) and must hold
//!   the recorded dataset; `dump_<fixture>`: keel loads the fixture and
//!   DUMPs each key, redis-server RESTOREs them, same dataset.
//! - `asset_<name>`: the old-version files in ../shared/redis-assets (RDB
//!   3-10) against fixtures/rdb/assets-expected/<name>.json.
//! - `newer_<name>`: ../shared/redis-assets/newer (RDB 11/12 from Redis 7.4.1
//!   and Valkey 8.0.1) against their own JSON; the 7.4 file may instead be
//!   refused with a message about hash field TTLs.
//! - `damaged_<kind>`: keel must exit non-zero at startup, say what Redis
//!   says about the file (its name and an offset), and leave it untouched.
//!
//! `KEEL_RDB_SUBJECT=redis` runs every test with redis-server 7.0.15 as
//! the server under test: this is how the harness itself is validated
//! (the `newer_*` tests skip then: 7.0 refuses RDB 11/12 by design, unless
//! `KEEL_RDB_NEWER_DIR` points at the same datasets saved by a 7.0 server).
//! Tests that need redis-server or redis-check-rdb skip with a message
//! when they are not installed.

mod common;

use common::rdb::{
    assert_same_dataset, assets_dir, fixtures_dir, loader_args, read_json, record_dataset, subject,
    unbs, unhex, Compare,
};
use common::rdb_server::{check_rdb, check_rdb_available, start_on_rdb, try_start_on_rdb};
use common::{redis_available, Kind};
use serde_json::Value as J;
use std::time::Instant;

/// "idletime" or "freq" when the recorded keys carry one.
fn meta_of(expected: &J) -> Option<&'static str> {
    let first = expected["keys"].as_array()?.first()?;
    if first.get("idletime").is_some() {
        Some("idletime")
    } else if first.get("freq").is_some() {
        Some("freq")
    } else {
        None
    }
}

fn fixture(name: &str) -> (Vec<u8>, J) {
    let dir = fixtures_dir();
    let data = std::fs::read(dir.join(format!("{name}.rdb"))).expect("fixture file");
    (data, read_json(&dir.join(format!("{name}.json"))))
}

/// The load report Redis gives, from what redis-server logged when the
/// dataset was recorded: the "Done loading RDB, ..." log line and INFO
/// persistence rdb_last_load_keys_loaded / rdb_last_load_keys_expired.
fn check_load_report(who: &str, srv: &common::Server, c: &mut common::RawConn, expected: &J) {
    let (Some(loaded), Some(expired)) = (
        expected["keys_loaded"].as_i64(),
        expected["keys_expired"].as_i64(),
    ) else {
        return;
    };
    let skipped = expected["empty_keys_skipped"].as_i64().unwrap_or(0);
    let line = if skipped > 0 {
        format!(
            "Done loading RDB, keys loaded: {loaded}, keys expired: {expired}, empty keys skipped: \
             {skipped}."
        )
    } else {
        format!("Done loading RDB, keys loaded: {loaded}, keys expired: {expired}.")
    };
    let log = srv.log();
    assert!(log.contains(&line), "{who}: the log lacks {line:?}:\n{log}");
    let info = c.cmd_str(&["INFO", "persistence"]);
    for field in [
        format!("rdb_last_load_keys_loaded:{loaded}\r\n"),
        format!("rdb_last_load_keys_expired:{expired}\r\n"),
    ] {
        assert!(
            info.contains(&field),
            "{who}: INFO persistence lacks {field:?}:\n{info}"
        );
    }
}

/// keel has no scripting engine, so no FUNCTION command: it keeps the
/// libraries it loads and writes them back on save, which save_functions
/// checks by having redis-server list them from keel's file.
fn lists_functions(kind: Kind) -> bool {
    kind == Kind::Redis
}

/// The subject loads the fixture; its dataset must be the recorded one.
fn load_fixture(name: &str) {
    let (data, expected) = fixture(name);
    let started = Instant::now();
    let kind = subject();
    let srv = start_on_rdb(kind, &data, &format!("{name}.rdb"), &loader_args(&expected));
    let mut c = srv.conn();
    let actual = record_dataset(&mut c, meta_of(&expected));
    let how = Compare {
        functions: name == "functions" && lists_functions(kind),
        idle_slack: started.elapsed().as_secs() as i64 + 1,
    };
    let who = format!("{name}.rdb loaded by {kind:?}");
    assert_same_dataset(&who, &expected, &actual, how);
    check_load_report(&who, &srv, &mut c, &expected);
}

/// The subject loads the fixture and SAVEs; redis-check-rdb accepts the
/// result and redis-server 7.0.15 loads the recorded dataset from it.
fn save_fixture(name: &str) {
    if !redis_available() || !check_rdb_available() {
        eprintln!("SKIPPED save_{name}: redis-server / redis-check-rdb are not installed");
        return;
    }
    let (data, expected) = fixture(name);
    let started = Instant::now();
    let kind = subject();
    let file = format!("{name}.rdb");
    let args = loader_args(&expected);
    let srv = start_on_rdb(kind, &data, &file, &args);
    let mut c = srv.conn();
    assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n", "SAVE on {kind:?}");
    let saved_path = srv.dir().join(&file);
    let saved = std::fs::read(&saved_path).expect("the saved file");
    drop(c);
    drop(srv);

    let tmp = tempfile::tempdir().expect("temp dir");
    let copy = tmp.path().join(&file);
    std::fs::write(&copy, &saved).expect("copy");
    let (code, report) = check_rdb(&copy);
    assert!(
        code == 0 && report.contains("RDB looks OK"),
        "redis-check-rdb refuses {name}.rdb as saved by {kind:?} (exit {code}):\n{report}"
    );

    let redis = match try_start_on_rdb(Kind::Redis, &saved, &file, &args) {
        Ok(r) => r,
        Err(e) => panic!(
            "redis-server 7.0.15 refuses {name}.rdb as saved by {kind:?} ({}):\n{}",
            e.status, e.output
        ),
    };
    let mut rc = redis.conn();
    let actual = record_dataset(&mut rc, meta_of(&expected));
    let how = Compare {
        functions: name == "functions",
        idle_slack: started.elapsed().as_secs() as i64 + 1,
    };
    assert_same_dataset(
        &format!("{name}.rdb saved by {kind:?}, loaded by redis-server"),
        &expected,
        &actual,
        how,
    );
}

/// The subject loads the fixture, then DEBUG RELOAD (save + reload in
/// place) must give back the same dataset.
fn reload_fixture(name: &str) {
    let (data, expected) = fixture(name);
    let started = Instant::now();
    let kind = subject();
    let mut args = loader_args(&expected);
    args.extend(["--enable-debug-command".to_owned(), "yes".to_owned()]);
    let srv = start_on_rdb(kind, &data, &format!("{name}.rdb"), &args);
    let mut c = srv.conn();
    assert_eq!(
        c.cmd_str(&["DEBUG", "RELOAD"]),
        "+OK\r\n",
        "DEBUG RELOAD on {kind:?}"
    );
    let actual = record_dataset(&mut c, meta_of(&expected));
    let how = Compare {
        functions: name == "functions" && lists_functions(kind),
        idle_slack: started.elapsed().as_secs() as i64 + 1,
    };
    assert_same_dataset(
        &format!("{name}.rdb after DEBUG RELOAD on {kind:?}"),
        &expected,
        &actual,
        how,
    );
}

/// The recorded dataset without IDLETIME/FREQ (RESTORE without IDLETIME
/// or FREQ options starts them afresh).
fn without_meta(expected: &J) -> J {
    let mut e = expected.clone();
    if let Some(keys) = e["keys"].as_array_mut() {
        for k in keys {
            if let Some(m) = k.as_object_mut() {
                m.remove("idletime");
                m.remove("freq");
            }
        }
    }
    e
}

/// RESTOREs `payloads` (db, key, pexpiretime, payload) on `c` (ABSTTL when
/// the key has a TTL); panics on any reply but +OK.
fn restore_all(c: &mut common::RawConn, who: &str, payloads: &[(i64, Vec<u8>, i64, Vec<u8>)]) {
    for (db, key, pexpiretime, payload) in payloads {
        c.cmd_str(&["SELECT", &db.to_string()]);
        let reply = if *pexpiretime > 0 {
            let at = pexpiretime.to_string();
            c.cmd(&[&b"RESTORE"[..], key, at.as_bytes(), payload, b"ABSTTL"])
        } else {
            c.cmd(&[&b"RESTORE"[..], key, b"0", payload])
        };
        assert!(
            reply == b"+OK\r\n",
            "{who}: RESTORE {} in db {db}: {}",
            common::show(key),
            common::show(&reply)
        );
    }
    c.cmd_str(&["SELECT", "0"]);
}

/// (db, key, pexpiretime) of every recorded key.
fn recorded_keys(expected: &J) -> Vec<(i64, Vec<u8>, i64)> {
    expected["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["db"].as_i64().expect("db"),
                unbs(&k["key"]),
                k["pexpiretime"].as_i64().expect("pexpiretime"),
            )
        })
        .collect()
}

/// The subject RESTOREs the DUMP payloads redis-server 7.0.15 produced for
/// each key of the fixture: the dataset must be the recorded one.
fn restore_fixture(name: &str) {
    let (_, expected) = fixture(name);
    let kind = subject();
    let payloads: Vec<_> = recorded_keys(&expected)
        .into_iter()
        .zip(expected["keys"].as_array().expect("keys"))
        .map(|((db, key, at), k)| (db, key, at, unhex(k["dump"].as_str().expect("dump"))))
        .collect();
    let args = loader_args(&expected);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let srv = common::Server::start(kind, &args);
    let mut c = srv.conn();
    restore_all(&mut c, &format!("{kind:?}"), &payloads);
    let actual = record_dataset(&mut c, None);
    assert_same_dataset(
        &format!("{name}.json DUMP payloads restored by {kind:?}"),
        &without_meta(&expected),
        &actual,
        Compare::default(),
    );
}

/// The subject loads the fixture and DUMPs each key; redis-server 7.0.15
/// RESTOREs the payloads and must hold the recorded dataset.
fn dump_fixture(name: &str) {
    if !redis_available() {
        eprintln!("SKIPPED dump_{name}: redis-server is not installed");
        return;
    }
    let (data, expected) = fixture(name);
    let kind = subject();
    let args = loader_args(&expected);
    let srv = start_on_rdb(kind, &data, &format!("{name}.rdb"), &args);
    let mut c = srv.conn();
    let mut payloads = Vec::new();
    for (db, key, at) in recorded_keys(&expected) {
        c.cmd_str(&["SELECT", &db.to_string()]);
        let reply = common::rdb::call(&mut c, &[&b"DUMP"[..], &key]);
        let common::rdb::Resp::Str(payload) = reply else {
            panic!("{kind:?}: DUMP {}: {reply:?}", common::show(&key));
        };
        payloads.push((db, key, at, payload));
    }
    drop(c);
    drop(srv);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let redis = common::Server::start(Kind::Redis, &args);
    let mut rc = redis.conn();
    restore_all(
        &mut rc,
        &format!("redis-server on {kind:?}'s DUMP"),
        &payloads,
    );
    let actual = record_dataset(&mut rc, None);
    assert_same_dataset(
        &format!("{name}.rdb DUMPed by {kind:?}, RESTOREd by redis-server"),
        &without_meta(&expected),
        &actual,
        Compare::default(),
    );
}

macro_rules! fixture_tests {
    ($($load:ident, $save:ident, $reload:ident, $restore:ident, $dump:ident => $name:literal;)*) => {$(
        #[test]
        fn $load() {
            load_fixture($name);
        }
        #[test]
        fn $save() {
            save_fixture($name);
        }
        #[test]
        fn $reload() {
            reload_fixture($name);
        }
        #[test]
        fn $restore() {
            restore_fixture($name);
        }
        #[test]
        fn $dump() {
            dump_fixture($name);
        }
    )*};
}

fixture_tests! {
    load_strings, save_strings, reload_strings, restore_strings, dump_strings => "strings";
    load_strings_nocompress, save_strings_nocompress, reload_strings_nocompress, restore_strings_nocompress, dump_strings_nocompress => "strings-nocompress";
    load_lists, save_lists, reload_lists, restore_lists, dump_lists => "lists";
    load_lists_compressed, save_lists_compressed, reload_lists_compressed, restore_lists_compressed, dump_lists_compressed => "lists-compressed";
    load_hashes, save_hashes, reload_hashes, restore_hashes, dump_hashes => "hashes";
    load_sets, save_sets, reload_sets, restore_sets, dump_sets => "sets";
    load_zsets, save_zsets, reload_zsets, restore_zsets, dump_zsets => "zsets";
    load_streams, save_streams, reload_streams, restore_streams, dump_streams => "streams";
    load_expires, save_expires, reload_expires, restore_expires, dump_expires => "expires";
    load_functions, save_functions, reload_functions, restore_functions, dump_functions => "functions";
    load_idle_lru, save_idle_lru, reload_idle_lru, restore_idle_lru, dump_idle_lru => "idle-lru";
    load_freq_lfu, save_freq_lfu, reload_freq_lfu, restore_freq_lfu, dump_freq_lfu => "freq-lfu";
    load_nochecksum, save_nochecksum, reload_nochecksum, restore_nochecksum, dump_nochecksum => "nochecksum";
    load_empty, save_empty, reload_empty, restore_empty, dump_empty => "empty";
    load_small, save_small, reload_small, restore_small, dump_small => "small";
}

/// First number after each "offset" in `text` (case-insensitive).
fn offsets(text: &str) -> Vec<u64> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("offset") {
        rest = &rest[i + 6..];
        let tail = rest.trim_start_matches([' ', ':', '=', '[']);
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            out.push(n);
        }
    }
    out
}

/// The subject must refuse the damaged file the way the .expect says.
fn damaged(name: &str) {
    let dir = fixtures_dir();
    let data = std::fs::read(dir.join(format!("{name}.rdb"))).expect("damaged file");
    let expect = read_json(&dir.join(format!("{name}.expect")));
    let kind = subject();
    let file = format!("{name}.rdb");
    let exit = match try_start_on_rdb(kind, &data, &file, &[]) {
        Ok(_) => panic!(
            "{kind:?} started on {file} ({}): it must refuse it",
            expect["about"]
        ),
        Err(e) => e,
    };
    assert!(
        !exit.status.success(),
        "{kind:?} exited with {} on {file}",
        exit.status
    );
    assert!(
        exit.file_after == data,
        "{kind:?} modified {file} while refusing it"
    );
    let inline_checker = expect["redis_server"]["stdout"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    if inline_checker {
        // Redis names the file and the offset of the problem.
        assert!(
            exit.output.contains(&file),
            "{kind:?}'s output on {file} does not name the file:\n{}",
            exit.output
        );
        let size = data.len() as u64;
        let offs = offsets(&exit.output);
        assert!(
            offs.iter().any(|&o| o > 0 && o <= size),
            "{kind:?}'s output on {file} names no offset in 1..={size} (redis-check-rdb says {} at \
             offset {}):\n{}",
            expect["redis_check_rdb"]["error"],
            expect["redis_check_rdb"]["offset"],
            exit.output
        );
    } else {
        // Refused before parsing (bad version): Redis's own words.
        let lines: Vec<&str> = expect["redis_server"]["log_warnings"]
            .as_array()
            .expect("log_warnings")
            .iter()
            .filter_map(J::as_str)
            .collect();
        let reason = lines.first().expect("a recorded reason");
        assert!(
            exit.output.contains(reason),
            "{kind:?}'s output on {file} lacks {reason:?}:\n{}",
            exit.output
        );
    }
}

#[test]
fn damaged_truncated() {
    damaged("damaged-truncated");
}

#[test]
fn damaged_checksum() {
    damaged("damaged-checksum");
}

#[test]
fn damaged_type() {
    damaged("damaged-type");
}

#[test]
fn damaged_length() {
    damaged("damaged-length");
}

#[test]
fn damaged_version() {
    damaged("damaged-version");
}

/// No dump file in `dir`: the server starts empty and creates nothing.
#[test]
fn missing_dump_file_starts_empty() {
    let kind = subject();
    let srv = common::Server::start(kind, &["--dbfilename", "absent.rdb"]);
    let mut c = srv.conn();
    let ds = record_dataset(&mut c, None);
    assert_eq!(ds["keys"], serde_json::json!([]), "{kind:?} is not empty");
    assert!(
        !srv.dir().join("absent.rdb").exists(),
        "{kind:?} created the file"
    );
}

/// An old-version sample file against what redis-server 7.0.15 loaded.
fn asset(name: &str) {
    let path = assets_dir().join(format!("{name}.rdb"));
    let Ok(data) = std::fs::read(&path) else {
        eprintln!("SKIPPED asset_{name}: {} is absent", path.display());
        return;
    };
    let expected = read_json(&fixtures_dir().join(format!("assets-expected/{name}.json")));
    let kind = subject();
    let file = format!("{name}.rdb");
    let loaded = try_start_on_rdb(kind, &data, &file, &loader_args(&expected));
    if expected["loaded"] == J::Bool(false) {
        let exit = match loaded {
            Ok(_) => panic!("{kind:?} started on {file}, which redis-server 7.0.15 refuses"),
            Err(e) => e,
        };
        assert!(
            !exit.status.success(),
            "{kind:?} exited with {} on {file}",
            exit.status
        );
        assert!(exit.file_after == data, "{kind:?} modified {file}");
        assert!(
            exit.output.contains(&file),
            "{kind:?} does not name {file}:\n{}",
            exit.output
        );
        return;
    }
    let srv =
        loaded.unwrap_or_else(|e| panic!("{kind:?} refuses {file} ({}):\n{}", e.status, e.output));
    let mut c = srv.conn();
    let actual = record_dataset(&mut c, None);
    let who = format!("{file} loaded by {kind:?}");
    assert_same_dataset(&who, &expected, &actual, Compare::default());
    check_load_report(&who, &srv, &mut c, &expected);
}

#[test]
fn asset_corrupt_empty_keys() {
    asset("corrupt_empty_keys");
}

#[test]
fn asset_corrupt_ziplist() {
    asset("corrupt_ziplist");
}

#[test]
fn asset_encodings() {
    asset("encodings");
}

#[test]
fn asset_hash_ziplist() {
    asset("hash-ziplist");
}

#[test]
fn asset_hash_zipmap() {
    asset("hash-zipmap");
}

#[test]
fn asset_list_quicklist() {
    asset("list-quicklist");
}

#[test]
fn asset_scriptbackup() {
    asset("scriptbackup");
}

#[test]
fn asset_zset_ziplist() {
    asset("zset-ziplist");
}

#[test]
fn newer_redis_7_4_1() {
    common::rdb_newer::newer("redis-7.4.1", true);
}

#[test]
fn newer_redis_7_4_1_cluster() {
    common::rdb_newer::newer("redis-7.4.1-cluster", false);
}

#[test]
fn newer_valkey_8_0_1() {
    common::rdb_newer::newer("valkey-8.0.1", false);
}
