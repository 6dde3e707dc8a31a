//! Rendering a check as redis-check-rdb 7.0.15 prints it (byte for byte
//! where keel and Redis agree on the reason), or as JSON for automation.
//!
//! One deliberate difference: where Redis reports a corruption found
//! inside the loader as "Internal error in RDB reading offset 0, function
//! at rdb.c:<line> -> <reason>" (always offset 0) and then a server log
//! line, keel prints `[offset N] <reason>` with the real offset.

use super::check::{c_msg, c_str, CheckReport, Checksum};
use super::walk::Failure;
use crate::persistence::rdb::types;
use serde_json::{json, Value as Json};

/// A byte string for JSON: a string when it is UTF-8, else `{"hex": ..}`.
pub fn json_bytes(b: &[u8]) -> Json {
    match std::str::from_utf8(b) {
        Ok(s) => Json::String(s.to_string()),
        Err(_) => {
            let hex: String = b.iter().map(|c| format!("{c:02x}")).collect();
            json!({ "hex": hex })
        }
    }
}

fn line(out: &mut Vec<u8>, offset: u64, text: &[u8]) {
    out.extend_from_slice(format!("[offset {offset}] ").as_bytes());
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// redis-check-rdb's label for `key_type`.
pub fn type_label(t: i32) -> &'static str {
    match u8::try_from(t) {
        Ok(8) => "",
        Ok(t) if t <= types::LIST_QUICKLIST_2 => types::label(t),
        _ => "unknown",
    }
}

/// The `--- RDB ERROR DETECTED ---` block (without the `[info]` lines).
pub fn error_block(out: &mut Vec<u8>, f: &Failure) {
    out.extend_from_slice(b"--- RDB ERROR DETECTED ---\n");
    line(out, f.offset, &c_msg(f.msg.clone().into_bytes()));
    out.extend_from_slice(format!("[additional info] While doing: {}\n", f.doing).as_bytes());
    if let Some(k) = &f.key {
        out.extend_from_slice(b"[additional info] Reading key '");
        out.extend_from_slice(c_str(k));
        out.extend_from_slice(b"'\n");
    }
    if f.key_type != -1 {
        out.extend_from_slice(
            format!(
                "[additional info] Reading type {} ({})\n",
                f.key_type,
                type_label(f.key_type)
            )
            .as_bytes(),
        );
    }
}

fn info(out: &mut Vec<u8>, rep: &CheckReport) {
    out.extend_from_slice(
        format!(
            "[info] {} keys read\n[info] {} expires\n[info] {} already expired\n",
            rep.keys_read, rep.expires, rep.already_expired
        )
        .as_bytes(),
    );
}

/// The report exactly as redis-check-rdb prints it on stdout.
pub fn text(path: &[u8], rep: &CheckReport) -> Vec<u8> {
    let mut out = Vec::new();
    let mut first = b"Checking RDB file ".to_vec();
    first.extend_from_slice(path);
    line(&mut out, 0, &c_msg(first));
    for l in &rep.lines {
        line(&mut out, l.offset, &l.text);
    }
    match &rep.failure {
        Some(f) => error_block(&mut out, f),
        None => line(&mut out, rep.end, b"\\o/ RDB looks OK! \\o/"),
    }
    info(&mut out, rep);
    if let Some(s) = &rep.stats {
        for l in s.text() {
            out.extend_from_slice(l.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

pub fn failure_json(f: &Failure) -> Json {
    json!({
        "offset": f.offset,
        "reason": f.msg,
        "doing": f.doing,
        "key": f.key.as_deref().map(json_bytes),
        "type": (f.key_type != -1).then_some(f.key_type),
        "type_label": (f.key_type != -1).then(|| type_label(f.key_type)),
    })
}

/// The report as one JSON object.
pub fn json(path: &str, rep: &CheckReport) -> Json {
    let checksum = rep.checksum.map(|c| match c {
        Checksum::Ok => json!("ok"),
        Checksum::Disabled => json!("disabled"),
        Checksum::Absent => json!("absent"),
        Checksum::Mismatch { expected, stored } => json!({
            "mismatch": {"expected": format!("{expected:x}"), "stored": format!("{stored:x}")}
        }),
    });
    let aux: Vec<Json> = rep
        .aux
        .iter()
        .map(|(k, v)| json!({"key": json_bytes(k), "value": json_bytes(v)}))
        .collect();
    let lines: Vec<Json> = rep
        .lines
        .iter()
        .map(|l| json!({"offset": l.offset, "text": String::from_utf8_lossy(&l.text)}))
        .collect();
    json!({
        "mode": "check",
        "file": path,
        "ok": rep.ok(),
        "exit": rep.exit_code(),
        "rdb_version": rep.version,
        "aux": aux,
        "lines": lines,
        "checksum": checksum,
        "end_offset": rep.end,
        "keys_read": rep.keys_read,
        "expires": rep.expires,
        "already_expired": rep.already_expired,
        "error": rep.failure.as_ref().map(failure_json),
        "stats": rep.stats.as_ref().map(|s| s.json()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_bytes() {
        assert_eq!(type_label(0), "string");
        assert_eq!(type_label(7), "");
        assert_eq!(type_label(8), "");
        assert_eq!(type_label(18), "quicklist-v2");
        assert_eq!(type_label(19), "unknown");
        assert_eq!(json_bytes(b"ab"), json!("ab"));
        assert_eq!(json_bytes(b"\xff\x00"), json!({"hex": "ff00"}));
    }

    #[test]
    fn error_block_as_redis() {
        let f = Failure {
            offset: 122,
            msg: "Unexpected EOF reading RDB file".into(),
            doing: "read-object-value",
            key: Some(b"alpha\0junk".to_vec()),
            key_type: 0,
        };
        let mut out = Vec::new();
        error_block(&mut out, &f);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "--- RDB ERROR DETECTED ---\n[offset 122] Unexpected EOF reading RDB file\n\
             [additional info] While doing: read-object-value\n\
             [additional info] Reading key 'alpha'\n[additional info] Reading type 0 (string)\n"
        );
    }
}
