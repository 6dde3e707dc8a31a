//! keel-check-rdb: everything redis-check-rdb 7.0.15 does, with the same
//! report and exit status, plus the repairs it cannot make: `--salvage`
//! (write every intact key of a damaged file to a new RDB), `--slots`
//! (keep only some cluster slots: rebuild a node from any backup),
//! `--stats` (what the file holds) and `--json`.
//!
//! The binary (tools/keel-check-rdb.rs) only parses the command line and
//! maps the file; everything here works on a byte slice and returns the
//! output and exit status, so it is unit-tested.
//!
//! * `walk`: the record walker (keel's decoder + redis-check-rdb's
//!   bookkeeping and offsets);
//! * `check`: the redis-check-rdb-compatible check; `report`: its text and
//!   JSON forms; `stats`: `--stats`;
//! * `rewrite`: salvage and slot filtering into a new RDB; `slots`: the
//!   range syntax; `dups`: duplicate-key detection.

pub mod check;
pub mod dups;
pub mod report;
pub mod rewrite;
pub mod slots;
pub mod stats;
pub mod walk;

use check::{CheckOptions, Checksum};
use report::{failure_json, json_bytes};
use rewrite::{RewriteOptions, RewriteReport};
use serde_json::json;
use std::path::Path;

/// What the tool prints and its exit status.
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub exit: i32,
}

/// `keel-check-rdb [--stats] [--json] <file>`.
pub fn run_check(data: &[u8], path: &str, opts: &CheckOptions, as_json: bool) -> Outcome {
    let rep = check::check(data, opts);
    let stdout = if as_json {
        let mut v = serde_json::to_vec_pretty(&report::json(path, &rep)).expect("json");
        v.push(b'\n');
        v
    } else {
        report::text(path.as_bytes(), &rep)
    };
    Outcome {
        stdout,
        exit: rep.exit_code(),
    }
}

/// The file could not be opened or mapped: redis-check-rdb prints only its
/// first line and exits 1; keel adds the reason on stderr.
pub fn open_failure(path: &str, as_json: bool, err: &std::io::Error) -> Outcome {
    let stdout = if as_json {
        let v = json!({"mode": "check", "file": path, "ok": false, "exit": 1,
                       "error": {"reason": format!("cannot open: {err}")}});
        format!("{}\n", serde_json::to_string_pretty(&v).expect("json")).into_bytes()
    } else {
        format!("[offset 0] Checking RDB file {path}\n").into_bytes()
    };
    Outcome { stdout, exit: 1 }
}

/// Exit status of a rewrite that wrote its output but lost data.
pub const EXIT_PARTIAL: i32 = 2;

/// `--salvage` / `--slots`: rewrites `data` into `dest` (atomically: a
/// temporary file in the same directory, fsync, rename). Exit 0 when
/// nothing was lost, 2 when the output was written but keys were lost or
/// dropped, 1 when no output was written.
pub fn run_rewrite(
    data: &[u8],
    path: &str,
    dest: &Path,
    opts: &RewriteOptions,
    as_json: bool,
) -> Outcome {
    let tmp = dest.with_file_name(format!(
        ".{}.tmp-{}",
        dest.file_name()
            .map_or("out".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let res = crate::persistence::atomic::write_file(dest, &tmp, |w| {
        let rep = rewrite::rewrite(data, opts, w)?;
        match &rep.failure {
            Some(_) => Err(std::io::Error::other(RewriteFailed(Box::new(rep)))),
            None => Ok(rep),
        }
    });
    let (rep, io_err) = match res {
        Ok(rep) => (Some(rep), None),
        Err(e) => match e.into_inner() {
            Some(inner) => match inner.downcast::<RewriteFailed>() {
                Ok(f) => (Some(*f.0), None),
                Err(other) => (None, Some(other.to_string())),
            },
            None => (None, Some("I/O error".to_string())),
        },
    };
    let exit = match (&rep, &io_err) {
        (_, Some(_)) | (None, _) => 1,
        (Some(r), None) if r.failure.is_some() => 1,
        (Some(r), None) if r.complete() => 0,
        _ => EXIT_PARTIAL,
    };
    let written = exit != 1;
    let stdout = if as_json {
        let v = rewrite_json(
            path,
            dest,
            opts,
            rep.as_ref(),
            io_err.as_deref(),
            written,
            exit,
        );
        format!("{}\n", serde_json::to_string_pretty(&v).expect("json")).into_bytes()
    } else {
        rewrite_text(path, dest, opts, rep.as_ref(), io_err.as_deref(), written).into_bytes()
    };
    Outcome { stdout, exit }
}

/// Carries a failed rewrite's report out of the atomic writer (which then
/// removes its temporary file and leaves the destination untouched).
#[derive(Debug)]
struct RewriteFailed(Box<RewriteReport>);

impl std::fmt::Display for RewriteFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the input is damaged")
    }
}

impl std::error::Error for RewriteFailed {}

fn mode(opts: &RewriteOptions) -> &'static str {
    if opts.salvage {
        "salvage"
    } else {
        "slots"
    }
}

fn checksum_text(c: Option<Checksum>) -> String {
    match c {
        None => "not reached (no EOF opcode found)".into(),
        Some(Checksum::Ok) => "OK".into(),
        Some(Checksum::Disabled) => "disabled in the input (stored as 0)".into(),
        Some(Checksum::Absent) => "none (RDB version < 5)".into(),
        Some(Checksum::Mismatch { expected, stored }) => format!(
            "MISMATCH (computed {expected:x}, stored {stored:x}): a value may hold damaged bytes \
             that still decode"
        ),
    }
}

fn rewrite_text(
    path: &str,
    dest: &Path,
    opts: &RewriteOptions,
    rep: Option<&RewriteReport>,
    io_err: Option<&str>,
    written: bool,
) -> String {
    let m = mode(opts);
    let mut out = format!("[{m}] reading {path}\n");
    if let Some(e) = io_err {
        out += &format!("[{m}] cannot write {}: {e}\n", dest.display());
        return out;
    }
    let Some(rep) = rep else { return out };
    if let Some(f) = &rep.failure {
        out += &format!(
            "[{m}] the input is damaged, nothing written (add --salvage to keep the intact keys)\n"
        );
        let mut b = Vec::new();
        report::error_block(&mut b, f);
        out += &String::from_utf8_lossy(&b);
        return out;
    }
    out += &format!("[{m}] RDB version {}\n", rep.version);
    for l in &rep.lost {
        out += &format!(
            "[{m}] LOST bytes {}..{} ({} bytes): [offset {}] {} (while doing: {}",
            l.from,
            l.to,
            l.to - l.from,
            l.failure.offset,
            l.failure.msg,
            l.failure.doing
        );
        if let Some(k) = &l.failure.key {
            out += &format!(", key '{}'", String::from_utf8_lossy(k));
        }
        out += ")\n";
        if let Some(k) = &l.resumed_key {
            out += &format!(
                "[{m}] resumed at the key '{}' (the first key after damage: check it)\n",
                String::from_utf8_lossy(k)
            );
        }
        if let Some(k) = &l.swallowed_key {
            out += &format!(
                "[{m}] LOST key '{}' (its value ran into the next intact record)\n",
                String::from_utf8_lossy(k)
            );
        }
    }
    for d in &rep.dropped {
        out += &format!(
            "[{m}] DROPPED key '{}' of DB {} at offset {}: {}\n",
            String::from_utf8_lossy(&d.key),
            d.db,
            d.offset,
            d.why
        );
    }
    out += &format!("[{m}] input checksum: {}\n", checksum_text(rep.checksum));
    if let Some(s) = &opts.slots {
        out += &format!(
            "[{m}] slot filter: {} slots, {} keys left out\n",
            s.len(),
            rep.keys_filtered
        );
    }
    if written {
        out += &format!(
            "[{m}] wrote {} keys ({} bytes) to {}\n",
            rep.keys_written,
            rep.bytes_written,
            dest.display()
        );
    }
    out
}

fn rewrite_json(
    path: &str,
    dest: &Path,
    opts: &RewriteOptions,
    rep: Option<&RewriteReport>,
    io_err: Option<&str>,
    written: bool,
    exit: i32,
) -> serde_json::Value {
    let mut v = json!({
        "mode": mode(opts), "file": path, "output": dest.display().to_string(),
        "written": written, "exit": exit, "io_error": io_err,
    });
    if let Some(r) = rep {
        v["rdb_version"] = json!(r.version);
        v["keys_decoded"] = json!(r.keys_decoded);
        v["keys_written"] = json!(r.keys_written);
        v["keys_filtered"] = json!(r.keys_filtered);
        v["bytes_written"] = json!(r.bytes_written);
        v["checksum"] = json!(checksum_text(r.checksum));
        v["checksum_ok"] = json!(matches!(r.checksum, Some(Checksum::Ok)));
        v["error"] = json!(r.failure.as_ref().map(failure_json));
        v["lost"] = r
            .lost
            .iter()
            .map(|l| {
                json!({"from": l.from, "to": l.to, "error": failure_json(&l.failure),
                       "swallowed_key": l.swallowed_key.as_deref().map(json_bytes),
                       "resumed_key": l.resumed_key.as_deref().map(json_bytes)})
            })
            .collect();
        v["dropped"] = r
            .dropped
            .iter()
            .map(|d| json!({"db": d.db, "key": json_bytes(&d.key), "offset": d.offset, "why": d.why}))
            .collect();
        if let Some(s) = &opts.slots {
            v["slots"] = json!(s.len());
        }
    }
    v
}
