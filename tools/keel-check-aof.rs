//! keel-check-aof: redis-check-aof 7.0's command line
//! (`[--fix|--truncate-to-timestamp <unix-seconds>] <file.manifest|file.aof>`)
//! over `persistence::aof::check_tool::run`, which holds the whole
//! behaviour. This file only supplies the outside world: reading files,
//! truncating them (then fsync, which Redis's tool skips), the y/N prompt
//! on stdin, the server-format log prefix of manifest errors, and the RDB
//! preamble check through keel's RDB decoder (the same one the server
//! loads with). `--yes` (anywhere on the line) answers the prompt with y;
//! `--fix` and `--truncate-to-timestamp` work on any file of the manifest
//! (`--any-file`, once needed for that, is accepted and ignored; see
//! `check_tool::run`); `--strict` also refuses a command keel does not
//! know or that has a wrong number of arguments (Redis's tool only checks
//! the framing). `--salvage <output>` writes a repaired copy
//! (`salvage_tool::salvage` decides what goes in it; this file writes it,
//! never over an existing path). `--json` prints the report of any mode
//! as one JSON object. The RDB
//! checker's lines are redis-check-rdb's start, AUX, checksum, verdict and
//! `[info]` lines, and "Selecting DB ID" where the SELECTDB follows the
//! AUX fields, function libraries or a key (not after module AUX data).

use keel::keyspace::Value;
use keel::persistence::aof::check_report::report_json;
use keel::persistence::aof::check_tool::{run, CheckEnv, RdbPreamble};
use keel::persistence::aof::salvage_tool::salvage;
use keel::persistence::rdb::{
    load_prefix, opcode, ChecksumState, KeyMeta, LoadOptions, LoadSink, Reader,
};
use std::io::{BufRead, Write};

/// Counts what redis-check-rdb counts while the decoder loads a preamble,
/// and prints its "Selecting DB ID" lines.
struct Counter<'a> {
    data: &'a [u8],
    /// Where the last thing the sink saw ended (AUX fields, then each key):
    /// a SELECTDB that follows is found there.
    last_end: u64,
    lines: Vec<String>,
    now_ms: i64,
    keys: u64,
    expires: u64,
    expired: u64,
}

impl LoadSink for Counter<'_> {
    fn aux(&mut self, _key: &[u8], _value: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> Result<(), String> {
        // The offset after the opcode and its length, when the SELECTDB
        // directly follows what was seen last (not after a function).
        let at = self.last_end as usize;
        if self.data.get(at) == Some(&opcode::SELECTDB) {
            let mut r = Reader::new(self.data);
            if r.bytes(at as u64 + 1).is_ok() && r.length().is_ok() {
                self.lines
                    .push(format!("[offset {}] Selecting DB ID {db}", r.offset()));
            }
        }
        Ok(())
    }
    fn progress(&mut self, offset: u64, _keys: u64) {
        self.last_end = offset;
    }
    fn key(&mut self, _key: &[u8], _value: Value, meta: KeyMeta) -> Result<(), String> {
        self.keys += 1;
        if meta.expire_ms != -1 {
            self.expires += 1;
            if meta.expire_ms < self.now_ms {
                self.expired += 1;
            }
        }
        Ok(())
    }
    fn function(&mut self, _code: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

impl Counter<'_> {
    fn info(&self) -> [String; 3] {
        [
            format!("[info] {} keys read", self.keys),
            format!("[info] {} expires", self.expires),
            format!("[info] {} already expired", self.expired),
        ]
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `strerror` text of an I/O error (Rust appends " (os error N)").
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

struct RealEnv {
    yes: bool,
    /// `--json`: stdout holds only the JSON report (the prompt goes to
    /// stderr).
    json: bool,
    /// How much of the tool's output has already been written to stdout
    /// (shown before the prompt).
    shown: usize,
}

impl CheckEnv for RealEnv {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| strerror(&e))
    }

    fn truncate(&mut self, path: &str, len: u64) -> Result<(), String> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| strerror(&e))?;
        f.set_len(len).map_err(|e| strerror(&e))?;
        f.sync_all().map_err(|e| strerror(&e))
    }

    fn confirm(&mut self) -> bool {
        if self.yes {
            return true;
        }
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(n) if n > 0 => line.starts_with(['y', 'Y']),
            _ => false,
        }
    }

    fn confirm_after(&mut self, printed: &str) -> bool {
        let new = &printed.as_bytes()[self.shown..];
        if self.json {
            let _ = std::io::stderr().write_all(new);
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(new);
            let _ = out.flush();
            self.shown = printed.len();
        }
        self.confirm()
    }

    fn write_manifest(&mut self, path: &str, text: &[u8]) -> Result<(), String> {
        let dest = std::path::Path::new(path);
        let tmp = dest.with_file_name(format!(
            "temp-keel-check-aof-{}.manifest",
            std::process::id()
        ));
        keel::persistence::atomic::write_file(dest, &tmp, |w| w.write_all(text))
            .map_err(|e| strerror(&e))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), String> {
        keel::persistence::atomic::rename_durable(from.as_ref(), to.as_ref())
            .map_err(|e| strerror(&e))
    }

    fn check_rdb(&mut self, data: &[u8], name: &str) -> RdbPreamble {
        let mut lines = vec![format!("[offset 0] Checking RDB file {name}")];
        let (aux, aux_end) = aux_lines(data);
        lines.extend(aux);
        let mut sink = Counter {
            data,
            last_end: aux_end,
            lines: Vec::new(),
            now_ms: now_ms(),
            keys: 0,
            expires: 0,
            expired: 0,
        };
        let opts = LoadOptions {
            verify_checksum: true,
            ..LoadOptions::default()
        };
        let res = load_prefix(data, &opts, &mut sink);
        lines.append(&mut sink.lines);
        match res {
            Ok((summary, end)) => {
                if matches!(summary.checksum, ChecksumState::Ok) {
                    lines.push(format!("[offset {end}] Checksum OK"));
                }
                lines.push(format!("[offset {end}] \\o/ RDB looks OK! \\o/"));
                lines.extend(sink.info());
                RdbPreamble::Sane { lines, end }
            }
            Err(e) => {
                lines.push("--- RDB ERROR DETECTED ---".into());
                lines.push(format!("[offset {}] {}", e.offset, e.msg));
                lines.push(format!("[additional info] While doing: {}", e.doing));
                if let Some(k) = &e.key {
                    lines.push(format!(
                        "[additional info] Reading key '{}'",
                        String::from_utf8_lossy(k)
                    ));
                }
                if let Some(t) = e.type_byte {
                    lines.push(format!(
                        "[additional info] Reading type {t} ({})",
                        keel::persistence::rdb::types::label(t)
                    ));
                }
                lines.extend(sink.info());
                // redis-check-rdb exits by itself on an error.
                RdbPreamble::NotSane {
                    lines,
                    announce: false,
                }
            }
        }
    }

    fn log_line(&mut self, msg: &str) -> String {
        let time = keel::server::log::format_time(now_ms());
        format!("{}:C {time} # {msg}\n", std::process::id())
    }
}

/// redis-check-rdb's `AUX FIELD` lines for the AUX pairs that open the
/// file (each with the offset after it, as Redis prints them), and where
/// they and the function libraries after them end.
fn aux_lines(data: &[u8]) -> (Vec<String>, u64) {
    let mut out = Vec::new();
    let mut r = Reader::new(data);
    if r.bytes(9).is_err() {
        return (out, 0);
    }
    while data.get(r.offset() as usize) == Some(&opcode::AUX) {
        let _ = r.u8();
        let (Ok(k), Ok(v)) = (r.string().map(|k| k.into_owned()), r.string()) else {
            break;
        };
        out.push(format!(
            "[offset {}] AUX FIELD {} = '{}'",
            r.offset(),
            String::from_utf8_lossy(&k),
            String::from_utf8_lossy(&v)
        ));
    }
    // Function libraries (one string each) come before the first SELECTDB.
    while data.get(r.offset() as usize) == Some(&opcode::FUNCTION2) {
        let _ = r.u8();
        if r.string().is_err() {
            break;
        }
    }
    (out, r.offset())
}

const HELP: &str = "\
Usage: keel-check-aof [--fix|--truncate-to-timestamp <unix-secs>] [--yes] [--strict] [--json] <file.manifest|file.aof>
       keel-check-aof --salvage <output> [--json] <file.manifest|file.aof>

  (no option)        check every file as redis-check-aof 7.0 does (same output, same exit status)
  --fix              cut a truncated file after its last complete command (any file of the manifest)
  --truncate-to-timestamp <t>
                     point-in-time recovery: cut at the first #TS annotation newer than <t>, in
                     whichever file holds it; later files leave the manifest
                     (renamed <name>.after-ts-<t>)
  --yes              answer y to the confirmation prompt (scripts)
  --strict           also refuse commands keel does not know or with a wrong number of arguments
  --salvage <output> skip damaged regions anywhere (garbage, NUL-filled blocks, broken commands) and
                     write a repaired copy keeping every valid command: a new AOF directory (manifest
                     + files) for a manifest, a new file for a single file; the input is never modified
  --json             print the report (verdict per file, offsets, reasons, dropped byte ranges,
                     commands kept / lost) as one JSON object, in any mode
  --any-file         accepted for compatibility (--fix and --truncate-to-timestamp work on any file)
";

/// Removes `flag` from `argv` (after argv[0]); whether it was there.
fn take_flag(argv: &mut Vec<String>, flag: &str) -> bool {
    let had = argv.iter().skip(1).any(|a| a == flag);
    if had {
        let prog = argv.remove(0);
        argv.retain(|a| a != flag);
        argv.insert(0, prog);
    }
    had
}

/// Writes the salvaged files: one file at `out`, or a new directory
/// `out` holding `files`. Either appears complete or not at all: the file
/// goes through a temporary file (fsync, rename), the directory is filled
/// under a temporary name (each file fsynced, then the directory), renamed
/// to `out`, and the parent fsynced.
fn write_salvage(out: &str, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    use keel::persistence::atomic::{fsync_dir, rename_durable, write_file};
    use std::path::Path;
    let dest = Path::new(out);
    if dest.exists() {
        return Err(format!("{out} already exists: give a new path"));
    }
    let name = dest
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy());
    let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let io = |what: &Path, e: std::io::Error| {
        format!("cannot write {}: {}", what.display(), strerror(&e))
    };
    if let [(single, data)] = files {
        if single.is_empty() {
            return write_file(dest, &tmp, |w| w.write_all(data)).map_err(|e| io(dest, e));
        }
    }
    let fill = || -> Result<(), String> {
        std::fs::create_dir(&tmp).map_err(|e| io(&tmp, e))?;
        for (name, data) in files {
            let p = tmp.join(name);
            let mut f = std::fs::File::create(&p).map_err(|e| io(&p, e))?;
            f.write_all(data)
                .and_then(|_| f.sync_all())
                .map_err(|e| io(&p, e))?;
        }
        fsync_dir(&tmp).map_err(|e| io(&tmp, e))?;
        rename_durable(&tmp, dest).map_err(|e| io(dest, e))
    };
    let res = fill();
    if res.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    res
}

/// `--salvage <out> <input>`: the exit status.
fn salvage_main(out: &str, input: &str, json: bool) -> i32 {
    let mut res = salvage(input, out, &mut |p: &str| {
        std::fs::read(p).map_err(|e| strerror(&e))
    });
    let mut code = 0;
    let why = match res.fatal.take() {
        Some(f) => Some(format!("cannot salvage: {f}")),
        None => write_salvage(out, &res.files).err(),
    };
    if let Some(why) = why {
        // The summary line claims a write: replace it.
        if let Some(i) = res.text.rfind("[salvage] wrote ") {
            res.text.truncate(i);
        }
        res.text += &format!("[salvage] {why}\n[salvage] nothing written\n");
        code = 1;
    }
    let mut stdout = std::io::stdout().lock();
    let text = if json {
        let v = report_json("salvage", input, Some(out), code, &res.reports, &res.text);
        format!("{}\n", serde_json::to_string_pretty(&v).expect("json"))
    } else {
        res.text
    };
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    code
}

fn main() {
    let mut argv: Vec<String> = std::env::args().collect();
    let yes = take_flag(&mut argv, "--yes");
    let json = take_flag(&mut argv, "--json");
    if argv.iter().skip(1).any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return;
    }
    if let Some(i) = argv.iter().position(|a| a == "--salvage") {
        let rest: Vec<&String> = argv
            .iter()
            .enumerate()
            .skip(1)
            // Salvage always checks names and arities (--strict).
            .filter(|&(j, a)| j != i && j != i + 1 && a != "--any-file" && a != "--strict")
            .map(|(_, a)| a)
            .collect();
        let code = match (argv.get(i + 1), rest.as_slice()) {
            (Some(out), [input]) => salvage_main(out, input, json),
            _ => {
                print!("{HELP}");
                1
            }
        };
        std::process::exit(code);
    }
    let mut env = RealEnv {
        yes,
        json,
        shown: 0,
    };
    let out = run(&argv, &mut env);
    let mut stdout = std::io::stdout().lock();
    if json {
        let v = report_json(
            out.mode,
            &out.input,
            None,
            out.code,
            &out.files,
            &out.stdout,
        );
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&v).expect("json")
        );
    } else {
        let _ = stdout.write_all(&out.stdout.as_bytes()[env.shown.min(out.stdout.len())..]);
    }
    let _ = stdout.flush();
    std::process::exit(out.code);
}
