//! Helpers for the RDB fixture tests (tests/rdb_fixtures.rs): start a
//! server on an RDB file, record the dataset it holds in the JSON format
//! of fixtures/rdb/README.md (the same walk as fixtures/rdb/dataset.py,
//! which recorded the expected datasets from redis-server 7.0.15), compare
//! two datasets, and run a server that is expected to refuse its file.
//!
//! `KEEL_RDB_SUBJECT=redis` makes [`subject`] return redis-server, so every
//! harness can be checked against real Redis itself.

use super::{Kind, RawConn};
use serde_json::{json, Map, Value as J};
use std::path::{Path, PathBuf};

/// The server the fixture tests exercise: keel-server, or redis-server
/// when `KEEL_RDB_SUBJECT=redis` (to validate the harness).
pub fn subject() -> Kind {
    match std::env::var("KEEL_RDB_SUBJECT").as_deref() {
        Ok("redis") => Kind::Redis,
        _ => Kind::Keel,
    }
}

/// fixtures/rdb in this repository.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rdb")
}

/// fixtures/aof in this repository.
pub fn aof_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/aof")
}

/// Copies a directory tree (fixtures into a server's directory).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Every file under `dir` (recursively), by its path relative to `dir`.
pub fn files_under(dir: &Path) -> std::collections::BTreeMap<String, PathBuf> {
    fn walk(root: &Path, d: &Path, out: &mut std::collections::BTreeMap<String, PathBuf>) {
        for e in std::fs::read_dir(d)
            .expect("read_dir")
            .map(|e| e.expect("entry"))
        {
            if e.file_type().expect("type").is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, e.path());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// ../shared/redis-assets (old-version sample files, not copied here).
pub fn assets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/redis-assets")
}

pub fn read_json(path: &Path) -> J {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}

/// One RESP2 reply, decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    /// Bulk or simple string.
    Str(Vec<u8>),
    Int(i64),
    Nil,
    Arr(Vec<Resp>),
    Err(String),
}

impl Resp {
    pub fn parse(frame: &[u8]) -> Resp {
        let nl = frame
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("RESP line");
        let line = &frame[1..nl];
        let text = || String::from_utf8_lossy(line).into_owned();
        match frame[0] {
            b'+' => Resp::Str(line.to_vec()),
            b'-' => Resp::Err(text()),
            b':' => Resp::Int(text().parse().expect("integer reply")),
            b'$' => {
                let n: i64 = text().parse().expect("bulk length");
                if n < 0 {
                    Resp::Nil
                } else {
                    Resp::Str(frame[nl + 2..nl + 2 + n as usize].to_vec())
                }
            }
            b'*' => match super::frame_elements(frame) {
                Some(els) => Resp::Arr(els.iter().map(|e| Resp::parse(e)).collect()),
                None => Resp::Nil,
            },
            other => panic!("unexpected RESP2 type {:?}", other as char),
        }
    }

    /// The bytes of a string reply; panics with the reply otherwise.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Resp::Str(b) => b,
            other => panic!("expected a string reply, got {other:?}"),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    pub fn int(&self) -> i64 {
        match self {
            Resp::Int(n) => *n,
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }

    pub fn array(&self) -> &[Resp] {
        match self {
            Resp::Arr(a) => a,
            other => panic!("expected an array reply, got {other:?}"),
        }
    }
}

/// Sends one command and decodes its reply.
pub fn call<A: AsRef<[u8]>>(c: &mut RawConn, args: &[A]) -> Resp {
    Resp::parse(&c.cmd(args))
}

/// A byte string as the fixtures' JSON: text if UTF-8, else {"hex": ..}.
pub fn bs(b: &[u8]) -> J {
    match std::str::from_utf8(b) {
        Ok(s) => J::String(s.to_owned()),
        Err(_) => json!({ "hex": b.iter().map(|x| format!("{x:02x}")).collect::<String>() }),
    }
}

/// Hex text to bytes (panics on bad hex: the fixtures are generated).
pub fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The bytes of a [`bs`] JSON byte string.
pub fn unbs(v: &J) -> Vec<u8> {
    match v {
        J::String(s) => s.as_bytes().to_vec(),
        _ => unhex(v["hex"].as_str().expect("a byte string")),
    }
}

/// A reply as generic JSON (bulk -> bs, int, nil -> null, array, error).
pub fn generic(r: &Resp) -> J {
    match r {
        Resp::Str(b) => bs(b),
        Resp::Int(n) => json!(n),
        Resp::Nil => J::Null,
        Resp::Arr(a) => J::Array(a.iter().map(generic).collect()),
        Resp::Err(e) => json!({ "error": e }),
    }
}

fn scan_keys(c: &mut RawConn) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut cursor = b"0".to_vec();
    loop {
        let r = call(c, &[&b"SCAN"[..], &cursor, b"COUNT", b"1000"]);
        let parts = r.array();
        cursor = parts[0].bytes().to_vec();
        keys.extend(parts[1].array().iter().map(|k| k.bytes().to_vec()));
        if cursor == b"0" {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn pairs(flat: &[Resp]) -> Vec<(Vec<u8>, Vec<u8>)> {
    flat.chunks(2)
        .map(|p| (p[0].bytes().to_vec(), p[1].bytes().to_vec()))
        .collect()
}

/// The value of `key` of type `typ` in the fixtures' JSON form.
pub fn value_of(c: &mut RawConn, key: &[u8], typ: &str) -> J {
    let run = |c: &mut RawConn, args: &[&[u8]]| -> Result<Resp, J> {
        match call(c, args) {
            Resp::Err(e) => Err(json!({ "error": e })),
            r => Ok(r),
        }
    };
    let res = (|| -> Result<J, J> {
        Ok(match typ {
            "string" => bs(run(c, &[b"GET", key])?.bytes()),
            "list" => J::Array(
                run(c, &[b"LRANGE", key, b"0", b"-1"])?
                    .array()
                    .iter()
                    .map(|x| bs(x.bytes()))
                    .collect(),
            ),
            "set" => {
                let r = run(c, &[b"SMEMBERS", key])?;
                let mut m: Vec<&[u8]> = r.array().iter().map(|x| x.bytes()).collect();
                m.sort();
                J::Array(m.into_iter().map(bs).collect())
            }
            "hash" => {
                let mut p = pairs(run(c, &[b"HGETALL", key])?.array());
                p.sort();
                J::Array(p.iter().map(|(f, v)| json!([bs(f), bs(v)])).collect())
            }
            "zset" => {
                let r = run(c, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])?;
                let p = pairs(r.array());
                J::Array(p.iter().map(|(m, s)| json!([bs(m), bs(s)])).collect())
            }
            "stream" => {
                let r = run(c, &[b"XRANGE", key, b"-", b"+"])?;
                let entries: Vec<J> = r
                    .array()
                    .iter()
                    .map(|e| {
                        let e = e.array();
                        let fv: Vec<J> = e[1].array().iter().map(|x| bs(x.bytes())).collect();
                        json!([bs(e[0].bytes()), fv])
                    })
                    .collect();
                let full = call(c, &[&b"XINFO"[..], b"STREAM", key, b"FULL", b"COUNT", b"0"]);
                json!({ "entries": entries, "full": generic(&full) })
            }
            other => json!({ "error": format!("unexpected type {other}") }),
        })
    })();
    res.unwrap_or_else(|e| e)
}

/// Every key of every db, as fixtures/rdb/dataset.py records it. `meta`:
/// None, "idletime" or "freq" (read first: OBJECT does not touch keys).
pub fn record_dataset(c: &mut RawConn, meta: Option<&str>) -> J {
    let mut dbsize = Map::new();
    let mut keys = Vec::new();
    for db in 0..16 {
        call(c, &["SELECT", &db.to_string()]);
        let names = scan_keys(c);
        if names.is_empty() {
            continue;
        }
        dbsize.insert(db.to_string(), generic(&call(c, &["DBSIZE"])));
        let metas: Vec<J> = match meta {
            Some(m) => names
                .iter()
                .map(|k| generic(&call(c, &[b"OBJECT", m.to_uppercase().as_bytes(), k])))
                .collect(),
            None => Vec::new(),
        };
        for (i, k) in names.iter().enumerate() {
            let typ = call(c, &[&b"TYPE"[..], k]).text();
            let mut rec = Map::new();
            rec.insert("db".into(), json!(db));
            rec.insert("key".into(), bs(k));
            rec.insert("type".into(), json!(typ));
            rec.insert(
                "encoding".into(),
                generic(&call(c, &[&b"OBJECT"[..], b"ENCODING", k])),
            );
            rec.insert(
                "pexpiretime".into(),
                generic(&call(c, &[&b"PEXPIRETIME"[..], k])),
            );
            if let Some(m) = meta {
                rec.insert(m.into(), metas[i].clone());
            }
            rec.insert("value".into(), value_of(c, k, &typ));
            keys.push(J::Object(rec));
        }
    }
    call(c, &["SELECT", "0"]);
    let functions = sorted_functions(generic(&call(c, &["FUNCTION", "LIST", "WITHCODE"])));
    json!({ "dbsize": dbsize, "keys": keys, "functions": functions })
}

/// The value after `name` in a flat [name, value, ...] array.
fn field<'a>(flat: &'a J, name: &str) -> Option<&'a J> {
    let a = flat.as_array()?;
    let i = a.iter().position(|x| x.as_str() == Some(name))?;
    a.get(i + 1)
}

/// FUNCTION LIST comes in dict order: libraries and their functions sorted
/// by name (as dataset.py records them).
pub fn sorted_functions(libs: J) -> J {
    let J::Array(mut libs) = libs else {
        return libs; // an error reply
    };
    let name_of = |v: &J, key: &str| field(v, key).and_then(J::as_str).unwrap_or("").to_owned();
    for lib in &mut libs {
        let Some(a) = lib.as_array_mut() else {
            continue;
        };
        if let Some(i) = a.iter().position(|x| x.as_str() == Some("functions")) {
            if let Some(J::Array(fs)) = a.get_mut(i + 1) {
                fs.sort_by_key(|f| name_of(f, "name"));
            }
        }
    }
    libs.sort_by_key(|l| name_of(l, "library_name"));
    J::Array(libs)
}

/// What [`compare_datasets`] checks beyond keys and values.
#[derive(Clone, Copy, Debug, Default)]
pub struct Compare {
    /// Compare FUNCTION LIST WITHCODE too.
    pub functions: bool,
    /// Seconds that passed since the expected idletime was recorded at
    /// load: an actual idletime may be this much larger.
    pub idle_slack: i64,
}

/// `s` cut to about `max` bytes (on a char boundary) for messages.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let end = (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}... ({} bytes)", &s[..end], s.len())
}

/// Two long JSON texts shown from a little before where they differ.
pub fn show_diff(want: &str, got: &str) -> (String, String) {
    let same = want
        .bytes()
        .zip(got.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let mut from = same.saturating_sub(60);
    while !want.is_char_boundary(from) || !got.is_char_boundary(from) {
        from -= 1;
    }
    let pre = if from > 0 {
        format!("[from byte {from}] ")
    } else {
        String::new()
    };
    (
        format!("{pre}{}", cut(&want[from..], 300)),
        format!("{pre}{}", cut(&got[from..], 300)),
    )
}

fn short(v: &J) -> String {
    cut(&v.to_string(), 300)
}

/// Differences between a recorded dataset and an actual one, as lines.
pub fn compare_datasets(expected: &J, actual: &J, how: Compare) -> Vec<String> {
    let mut out = Vec::new();
    let index = |d: &J| -> Vec<(String, J)> {
        d["keys"]
            .as_array()
            .map(|ks| {
                ks.iter()
                    .map(|k| (format!("db{} {}", k["db"], k["key"]), k.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let exp = index(expected);
    let act = index(actual);
    let find =
        |set: &[(String, J)], id: &str| set.iter().find(|(i, _)| i == id).map(|x| x.1.clone());
    for (id, e) in &exp {
        let Some(a) = find(&act, id) else {
            out.push(format!("missing key {id}"));
            continue;
        };
        for field in ["type", "encoding", "pexpiretime", "value"] {
            if e[field] != a[field] {
                let (want, got) = show_diff(&e[field].to_string(), &a[field].to_string());
                out.push(format!(
                    "{id}: {field} differs:\n    expected {want}\n    actual   {got}"
                ));
            }
        }
        if let Some(want) = e.get("idletime").and_then(J::as_i64) {
            match a["idletime"].as_i64() {
                Some(got) if got >= want - 1 && got <= want + how.idle_slack + 1 => {}
                _ => out.push(format!(
                    "{id}: idletime {} not in [{}, {}]",
                    a["idletime"],
                    want - 1,
                    want + how.idle_slack + 1
                )),
            }
        }
        if let Some(want) = e.get("freq").and_then(J::as_i64) {
            // A minute boundary passing between load and OBJECT FREQ decays
            // the counter by one.
            match a["freq"].as_i64() {
                Some(got) if got == want || got == want - 1 => {}
                _ => out.push(format!("{id}: freq {} (expected {want})", a["freq"])),
            }
        }
    }
    for (id, _) in &act {
        if find(&exp, id).is_none() {
            out.push(format!("unexpected key {id}"));
        }
    }
    if expected["dbsize"] != actual["dbsize"] {
        out.push(format!(
            "dbsize differs: expected {} actual {}",
            expected["dbsize"], actual["dbsize"]
        ));
    }
    if how.functions && expected["functions"] != actual["functions"] {
        out.push(format!(
            "functions differ:\n    expected {}\n    actual   {}",
            short(&expected["functions"]),
            short(&actual["functions"])
        ));
    }
    out
}

/// Panics with every difference, naming `what`.
pub fn assert_same_dataset(what: &str, expected: &J, actual: &J, how: Compare) {
    let diffs = compare_datasets(expected, actual, how);
    assert!(
        diffs.is_empty(),
        "{what}: {} difference(s):\n  {}",
        diffs.len(),
        diffs.join("\n  ")
    );
}

/// The loader config recorded with a fixture ("loader_args").
pub fn loader_args(expected: &J) -> Vec<String> {
    expected["loader_args"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// Python's `bytes.decode("utf-8", "backslashreplace")`: the text form of
/// byte strings in ../shared/redis-assets/newer/*.json.
pub fn backslash_text(b: &[u8]) -> String {
    let mut s = String::new();
    for chunk in b.utf8_chunks() {
        s.push_str(chunk.valid());
        for x in chunk.invalid() {
            s.push_str(&format!("\\x{x:02x}"));
        }
    }
    s
}

/// Blanks what a load, a rewrite or a salvage legitimately changes in a
/// stream's XINFO FULL: consumers' seen-times and the radix-tree counts
/// (node layout: XDEL tombstones are not rewritten).
pub fn mask_stream_volatile(j: &mut J) {
    if let J::Array(a) = j {
        for i in 0..a.len() {
            let hide = matches!(&a[i], J::String(s)
                if s == "seen-time" || s == "radix-tree-keys" || s == "radix-tree-nodes");
            if hide && i + 1 < a.len() {
                a[i + 1] = J::Null;
            }
        }
        a.iter_mut().for_each(mask_stream_volatile);
    } else if let J::Object(o) = j {
        o.values_mut().for_each(mask_stream_volatile);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_strings_are_text_or_hex() {
        assert_eq!(bs(b"h\xc3\xa9"), json!("h\u{e9}"));
        assert_eq!(bs(b"\x00\xff"), json!({"hex": "00ff"}));
        assert_eq!(unbs(&bs(b"\x00\xff")), b"\x00\xff");
        assert_eq!(unbs(&bs(b"ok")), b"ok");
        assert_eq!(backslash_text(b"a\x80\xc3\xa9\xff"), "a\\x80\u{e9}\\xff");
    }

    #[test]
    fn replies_decode_to_generic_json() {
        let r = Resp::parse(b"*3\r\n$1\r\na\r\n:5\r\n*1\r\n$-1\r\n");
        assert_eq!(generic(&r), json!(["a", 5, [null]]));
        assert_eq!(
            generic(&Resp::parse(b"-ERR x\r\n")),
            json!({"error": "ERR x"})
        );
    }

    #[test]
    fn messages_cut_on_char_boundaries() {
        assert_eq!(cut("\u{e9}\u{e9}", 3), "\u{e9}... (4 bytes)");
        let (w, g) = show_diff("abc", "abd");
        assert_eq!((w.as_str(), g.as_str()), ("abc", "abd"));
    }

    #[test]
    fn function_lists_sort_by_name() {
        let libs = json!([
            [
                "library_name",
                "b",
                "functions",
                [["name", "y"], ["name", "x"]]
            ],
            ["library_name", "a", "functions", []]
        ]);
        assert_eq!(
            sorted_functions(libs),
            json!([
                ["library_name", "a", "functions", []],
                [
                    "library_name",
                    "b",
                    "functions",
                    [["name", "x"], ["name", "y"]]
                ]
            ])
        );
    }

    #[test]
    fn datasets_compare_key_by_key() {
        let want = json!({"dbsize": {"0": 1}, "keys": [
            {"db": 0, "key": "k", "type": "string", "encoding": "int", "pexpiretime": -1,
             "value": "1", "freq": 5}]});
        assert!(compare_datasets(&want, &want, Compare::default()).is_empty());
        let mut got = want.clone();
        got["keys"][0]["encoding"] = json!("embstr");
        got["keys"][0]["freq"] = json!(4); // one minute of decay is tolerated
        let d = compare_datasets(&want, &got, Compare::default());
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("encoding"), "{d:?}");
        got["keys"] = json!([]);
        let d = compare_datasets(&want, &got, Compare::default());
        assert!(
            d.iter().any(|l| l.contains("missing key db0 \"k\"")),
            "{d:?}"
        );
    }
}
