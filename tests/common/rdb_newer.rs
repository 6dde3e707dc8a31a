//! Reads a running server's dataset in the JSON shape of
//! ../shared/redis-assets/newer/*.json (written by Redis 7.4.1 and Valkey
//! 8.0.1 from their own servers), so tests can check what keel loaded
//! from those newer RDB files. That shape differs from fixtures/rdb's:
//! byte strings are text with invalid UTF-8 bytes as `\xNN`, maps are
//! `[name, value]` pairs sorted by name, scores are compared as numbers
//! (7.4 prints shortest round-trip doubles, 7.0 prints %.17g). [`newer`]
//! is the whole test of one such file.

use super::rdb::{assets_dir, backslash_text, call, read_json, show_diff, subject, Resp};
use super::rdb_server::try_start_on_rdb;
use super::{Kind, RawConn};
use serde_json::{json, Value as J};

fn text(r: &Resp) -> J {
    match r {
        Resp::Str(b) => J::String(backslash_text(b)),
        Resp::Int(n) => json!(n),
        Resp::Nil => J::Null,
        Resp::Arr(a) => J::Array(a.iter().map(text).collect()),
        Resp::Err(e) => json!({ "error": e }),
    }
}

/// A flat [k, v, k, v] map reply as sorted [k, v] pairs, dropping `skip`
/// names; `nested` converts the value of a given name.
fn map_pairs(r: &Resp, skip: &[&str], nested: &dyn Fn(&str, &Resp) -> Option<J>) -> J {
    let mut out: Vec<(String, J)> = r
        .array()
        .chunks(2)
        .map(|p| (p[0].text(), &p[1]))
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            let conv = nested(&k, v).unwrap_or_else(|| text(v));
            (k, conv)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    J::Array(out.into_iter().map(|(k, v)| json!([k, v])).collect())
}

/// XINFO STREAM key FULL in the newer JSON shape: radix-tree counters,
/// consumer seen-time and active-time left out (the writers differ there).
fn stream_full(r: &Resp) -> J {
    let consumer = |c: &Resp| map_pairs(c, &["seen-time", "active-time"], &|_, _| None);
    let group = |g: &Resp| {
        map_pairs(g, &[], &|k, v| {
            (k == "consumers").then(|| J::Array(v.array().iter().map(consumer).collect()))
        })
    };
    map_pairs(r, &["radix-tree-keys", "radix-tree-nodes"], &|k, v| {
        (k == "groups").then(|| J::Array(v.array().iter().map(group).collect()))
    })
}

fn sorted_texts(r: &Resp) -> Vec<String> {
    let mut v: Vec<String> = r
        .array()
        .iter()
        .map(|x| backslash_text(x.bytes()))
        .collect();
    v.sort();
    v
}

fn text_pairs(r: &Resp) -> Vec<(String, String)> {
    r.array()
        .chunks(2)
        .map(|p| (backslash_text(p[0].bytes()), backslash_text(p[1].bytes())))
        .collect()
}

fn score(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// Differences between one recorded key of a newer JSON (`exp`, in db
/// `db`, already SELECTed) and what the server holds under `key`.
pub fn compare_key(c: &mut RawConn, key: &str, exp: &J) -> Vec<String> {
    let mut out = Vec::new();
    let k = key.as_bytes();
    let typ = call(c, &[&b"TYPE"[..], k]).text();
    if exp["type"] != json!(typ) {
        out.push(format!("{key}: type {typ}, expected {}", exp["type"]));
        return out;
    }
    if let Some(want) = exp.get("pexpiretime") {
        let got = call(c, &[&b"PEXPIRETIME"[..], k]);
        if *want != text(&got) {
            out.push(format!("{key}: pexpiretime {got:?}, expected {want}"));
        }
    }
    let want = &exp["value"];
    let got = match typ.as_str() {
        "string" => text(&call(c, &[&b"GET"[..], k])),
        "list" => text(&call(c, &[&b"LRANGE"[..], k, b"0", b"-1"])),
        "set" => json!(sorted_texts(&call(c, &[&b"SMEMBERS"[..], k]))),
        "hash" => {
            let mut p = text_pairs(&call(c, &[&b"HGETALL"[..], k]));
            p.sort();
            J::Array(p.into_iter().map(|(f, v)| json!([f, v])).collect())
        }
        "zset" => {
            let got = text_pairs(&call(c, &[&b"ZRANGE"[..], k, b"0", b"-1", b"WITHSCORES"]));
            let same = want.as_array().is_some_and(|w| {
                w.len() == got.len()
                    && w.iter().zip(&got).all(|(w, (m, s))| {
                        w[0] == json!(m) && w[1].as_str().and_then(score) == score(s)
                    })
            });
            if !same {
                out.push(format!("{key}: zset {got:?}, expected {want}"));
            }
            return out;
        }
        "stream" => {
            let r = call(c, &[&b"XRANGE"[..], k, b"-", b"+"]);
            let entries: Vec<J> = r
                .array()
                .iter()
                .map(|e| {
                    let e = e.array();
                    let fv = text_pairs(&e[1]);
                    json!([
                        backslash_text(e[0].bytes()),
                        fv.into_iter()
                            .map(|(f, v)| json!([f, v]))
                            .collect::<Vec<_>>()
                    ])
                })
                .collect();
            if let Some(g) = exp.get("groups") {
                let groups = call(c, &[&b"XINFO"[..], b"GROUPS", k]);
                let groups = J::Array(
                    groups
                        .array()
                        .iter()
                        .map(|g| map_pairs(g, &[], &|_, _| None))
                        .collect(),
                );
                if *g != groups {
                    out.push(format!("{key}: groups {groups}, expected {g}"));
                }
            }
            if let Some(f) = exp.get("full") {
                let full = stream_full(&call(
                    c,
                    &[&b"XINFO"[..], b"STREAM", k, b"FULL", b"COUNT", b"0"],
                ));
                if *f != full {
                    out.push(format!("{key}: XINFO STREAM FULL {full}, expected {f}"));
                }
            }
            J::Array(entries)
        }
        other => json!(format!("unexpected type {other}")),
    };
    if *want != got {
        let (w, g) = show_diff(&want.to_string(), &got.to_string());
        out.push(format!(
            "{key}: value differs:\n    expected {w}\n    actual   {g}"
        ));
    }
    out
}

/// Differences between a newer JSON's dataset and the server's.
pub fn compare_dataset(c: &mut RawConn, expected: &J) -> Vec<String> {
    let mut out = Vec::new();
    let ds = &expected["dataset"];
    let Some(dbs) = ds["dbs"].as_object() else {
        return vec!["no dataset.dbs in the JSON".into()];
    };
    for db in 0..16 {
        call(c, &["SELECT", &db.to_string()]);
        let size = call(c, &["DBSIZE"]).int();
        let want_size = ds["dbsize"]
            .get(db.to_string())
            .and_then(J::as_i64)
            .unwrap_or_else(|| {
                dbs.get(&db.to_string())
                    .map_or(0, |m| m.as_object().map_or(0, |o| o.len() as i64))
            });
        if size != want_size {
            out.push(format!("db {db}: dbsize {size}, expected {want_size}"));
        }
        if let Some(keys) = dbs.get(&db.to_string()).and_then(J::as_object) {
            for (key, exp) in keys {
                out.extend(
                    compare_key(c, key, exp)
                        .into_iter()
                        .map(|d| format!("db {db}: {d}")),
                );
            }
        }
    }
    call(c, &["SELECT", "0"]);
    out
}

/// A file written by a newer server, against its own JSON. `may_refuse`:
/// refusing is acceptable if the message is about hash field TTLs.
pub fn newer(name: &str, may_refuse_field_ttls: bool) {
    let kind = subject();
    // KEEL_RDB_NEWER_DIR: other files with the same JSON (e.g. the same
    // datasets rebuilt in a 7.0 server, to check this harness with Redis).
    let override_dir = std::env::var_os("KEEL_RDB_NEWER_DIR").map(std::path::PathBuf::from);
    if kind == Kind::Redis && override_dir.is_none() {
        eprintln!("SKIPPED newer_{name}: Redis 7.0 refuses RDB 11/12 by design");
        return;
    }
    let dir = override_dir.unwrap_or_else(|| assets_dir().join("newer"));
    let Ok(data) = std::fs::read(dir.join(format!("{name}.rdb"))) else {
        eprintln!(
            "SKIPPED newer_{name}: {}/{name}.rdb is absent",
            dir.display()
        );
        return;
    };
    let expected = read_json(&dir.join(format!("{name}.json")));
    let file = format!("{name}.rdb");
    let srv = match try_start_on_rdb(kind, &data, &file, &[]) {
        Ok(srv) => srv,
        Err(e) => {
            let lower = e.output.to_lowercase();
            let about_field_ttls =
                lower.contains("field") && (lower.contains("ttl") || lower.contains("expir"));
            assert!(
                may_refuse_field_ttls && about_field_ttls,
                "{kind:?} refuses {file} ({}):\n{}",
                e.status,
                e.output
            );
            assert!(e.file_after == data, "{kind:?} modified {file}");
            return;
        }
    };
    let mut c = srv.conn();
    let diffs = compare_dataset(&mut c, &expected);
    assert!(
        diffs.is_empty(),
        "{file} loaded by {kind:?}: {} difference(s):\n  {}",
        diffs.len(),
        diffs.join("\n  ")
    );
}
