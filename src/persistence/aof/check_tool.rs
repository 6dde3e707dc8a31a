//! redis-check-aof 7.0.15 as a library function: argument handling, input
//! type detection (manifest, RDB preamble, plain RESP), the multi-part walk
//! (base, then incrs, line counter carried over), `--fix` with its prompt
//! and `--truncate-to-timestamp`, producing the exact stdout text and exit
//! code. Everything outside the AOF format goes through [`CheckEnv`]
//! (reading and truncating files, the y/N answer, the RDB preamble check,
//! the server-format log lines of manifest errors), so a `keel-check-aof`
//! binary is a thin `main` and the whole behaviour is testable in memory.

use super::check::{
    check_resp, first_newer_annotation, looks_like_manifest_7_0, truncate_to_timestamp, TsCut,
};
use super::check_report::{FileReport, Verdict};
use super::manifest::Manifest;

/// What the tool needs from the outside world.
pub trait CheckEnv {
    /// The file's bytes, or the `strerror` text of the failure.
    fn read(&mut self, path: &str) -> Result<Vec<u8>, String>;
    /// Truncates the file to `len` bytes.
    fn truncate(&mut self, path: &str, len: u64) -> Result<(), String>;
    /// Reads the answer to "Continue? [y/N]: " (true for y/Y...).
    fn confirm(&mut self) -> bool;
    /// Like [`CheckEnv::confirm`], given everything the tool has printed so
    /// far (the prompt included), so an interactive env can show it before
    /// waiting for the answer.
    fn confirm_after(&mut self, printed: &str) -> bool {
        let _ = printed;
        self.confirm()
    }
    /// Checks an RDB preamble the way redis-check-rdb does, for the file
    /// named `name`.
    fn check_rdb(&mut self, data: &[u8], name: &str) -> RdbPreamble;
    /// A server-format log line (`<pid>:C <date> # <msg>\n`).
    fn log_line(&mut self, msg: &str) -> String;
    /// Replaces the manifest at `path` with `text` durably (temporary
    /// file, fsync, rename, fsync of the directory).
    fn write_manifest(&mut self, path: &str, text: &[u8]) -> Result<(), String>;
    /// Renames a file (durably: the directory is fsynced).
    fn rename(&mut self, from: &str, to: &str) -> Result<(), String>;
}

/// The RDB checker's verdict on a preamble.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RdbPreamble {
    /// `lines` printed; the RDB part ends at `end`.
    Sane { lines: Vec<String>, end: u64 },
    /// `lines` printed; the tool exits 1. `announce`: print "RDB preamble
    /// of AOF file is not sane, aborting." (redis-check-aof skips it when
    /// the RDB code exits by itself).
    NotSane { lines: Vec<String>, announce: bool },
}

/// The tool's stdout and exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolOutput {
    pub stdout: String,
    pub code: i32,
    /// "check", "fix" or "truncate-to-timestamp".
    pub mode: &'static str,
    /// The input path ("" on a usage error).
    pub input: String,
    /// What was found in each file checked (for `--json`).
    pub files: Vec<FileReport>,
}

/// How one file's check ended (`AOF_CHECK_*`).
#[derive(Clone, Copy)]
enum FileResult {
    Ok,
    Empty,
    Truncated,
    TimestampTruncated,
    /// `--truncate-to-timestamp` cut this file, which is not the last:
    /// the later files (and this one too when `drop_self`: nothing in it
    /// is older than the timestamp) leave the manifest.
    /// The cut itself (at `offset`) is made by the caller, after the
    /// manifest is rewritten.
    TimestampCutEarly {
        drop_self: bool,
        offset: u64,
    },
}

struct Run<'e> {
    env: &'e mut dyn CheckEnv,
    out: String,
    fix: bool,
    to_ts: Option<i64>,
    line: u64,
    /// Files opened so far.
    files_seen: usize,
    /// The role ("base", "incr", "file") of the file being checked.
    role: &'static str,
    files: Vec<FileReport>,
    /// `--strict` (keel): every command must exist in keel's command
    /// table with a valid number of arguments.
    strict: Option<crate::commands::CommandTable>,
}

/// `--strict`: the first command of `data[start..end]` that keel would
/// refuse (unknown name or wrong arity), as redis-check-aof-style line.
fn strict_problem(
    table: &crate::commands::CommandTable,
    data: &[u8],
    start: usize,
    end: usize,
) -> Option<String> {
    let reader =
        super::stream::StreamReader::starting_at(&data[..end], start, super::stream::Mode::Strict);
    reader.into_iter().find_map(|item| {
        let super::stream::Item::Command(c) = item else {
            return None;
        };
        let why = super::salvage::command_problem(table, &c)?;
        let mut chars = why.chars();
        let first = chars.next()?.to_ascii_uppercase();
        Some(format!("0x{:16x}: {first}{}", c.start, chars.as_str()))
    })
}

/// `Err(code)`: the tool exits with `code` here.
type Step<T> = Result<T, i32>;

/// glibc `dirname`.
fn dirname(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    match t.rfind('/') {
        None => ".".into(),
        Some(i) => {
            let d = t[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".into()
            } else {
                d.into()
            }
        }
    }
}

impl Run<'_> {
    fn say(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn fail(&mut self, s: &str) -> Step<FileResult> {
        self.say(s);
        Err(1)
    }

    /// Records what was found in the file being checked (for `--json`).
    fn record(&mut self, name: &str, size: u64, f: impl FnOnce(&mut FileReport)) {
        let mut r = FileReport::new(name, self.role);
        r.size = size;
        f(&mut r);
        self.files.push(r);
    }

    /// The last record's action.
    fn act(&mut self, action: String) {
        if let Some(r) = self.files.last_mut() {
            r.action = Some(action);
        }
    }

    /// `checkSingleAof`.
    fn check_file(
        &mut self,
        name: &str,
        path: &str,
        last: bool,
        preamble: bool,
    ) -> Step<FileResult> {
        let data = match self.env.read(path) {
            Ok(d) => d,
            Err(e) => {
                self.record(name, 0, |r| {
                    r.verdict = Verdict::Missing;
                    r.reason = Some(e.clone());
                });
                return self.fail(&format!("Cannot open file {path}: {e}, aborting..."));
            }
        };
        self.files_seen += 1;
        let size = data.len() as u64;
        if data.is_empty() {
            self.record(name, 0, |r| r.verdict = Verdict::Empty);
            return Ok(FileResult::Empty);
        }
        let mut start = 0;
        if preamble {
            match self.env.check_rdb(&data, name) {
                RdbPreamble::Sane { lines, end } => {
                    lines.iter().for_each(|l| self.say(l));
                    self.say("RDB preamble is OK, proceeding with AOF tail...");
                    start = end as usize;
                }
                RdbPreamble::NotSane { lines, announce } => {
                    lines.iter().for_each(|l| self.say(l));
                    if announce {
                        self.say("RDB preamble of AOF file is not sane, aborting.");
                    }
                    let why = lines.iter().find(|l| l.starts_with("[offset ")).cloned();
                    self.record(name, size, |r| {
                        r.format = "rdb";
                        r.verdict = Verdict::Corrupt;
                        r.reason = Some(why.unwrap_or_else(|| "RDB preamble is not sane".into()));
                    });
                    return Err(1);
                }
            }
        }
        let c = check_resp(&data, start, name, path, self.line);
        self.record(name, size, |r| {
            r.format = if preamble { "rdb" } else { "resp" };
            r.verdict = Verdict::of(&c.end);
            r.ok_up_to = Some(c.ok_up_to);
            match &c.end {
                super::stream::End::Clean => {}
                super::stream::End::Truncated {
                    fault, last_good, ..
                } => {
                    r.offset = Some(fault.as_ref().map_or(*last_good, |f| f.offset()));
                    r.reason = Some(fault.as_ref().map_or_else(
                        || "the file ends inside a command or MULTI block".into(),
                        super::check_report::fault_reason,
                    ));
                }
                super::stream::End::Corrupt { fault, .. } => {
                    r.offset = Some(fault.offset());
                    r.reason = Some(super::check_report::fault_reason(fault));
                }
            }
        });
        if let Some(ts) = self.to_ts {
            if !last {
                if let Some(r) = self.ts_cut_early(name, path, &data, start, ts)? {
                    return Ok(r);
                }
            } else {
                match truncate_to_timestamp(&data, start, path, ts, last) {
                    TsCut::Cut { offset } => {
                        return match self.env.truncate(path, offset) {
                            Ok(()) => {
                                self.act(format!("truncated to {offset} bytes (timestamp {ts})"));
                                Ok(FileResult::TimestampTruncated)
                            }
                            Err(_) => self
                                .fail(&format!("Failed to truncate AOF {path} to timestamp {ts}")),
                        };
                    }
                    TsCut::Refuse { lines } => {
                        lines.iter().for_each(|l| self.say(l));
                        return Err(1);
                    }
                    TsCut::NoCut => {}
                }
            }
        }
        self.line = c.line;
        if let Some(e) = &c.error_line {
            self.say(e);
        }
        if let (0, Some(ts)) = (c.diff, self.to_ts) {
            self.say(&format!("Truncate nothing in AOF {name} to timestamp {ts}"));
            return Ok(FileResult::Ok);
        }
        self.say(&c.analyzed_line(name));
        if c.diff == 0 {
            if let Some(table) = &self.strict {
                if let Some(line) = strict_problem(table, &data, start, c.ok_up_to as usize) {
                    self.say(&line);
                    return self.fail(&format!(
                        "AOF {name} holds a command keel would refuse (--strict); --fix does not repair it."
                    ));
                }
            }
            return Ok(FileResult::Ok);
        }
        if !self.fix {
            return self.fail(&format!(
                "AOF {name} is not valid. Use the --fix option to try fixing it."
            ));
        }
        if !last {
            self.say(&format!(
                "AOF {name} is not the last file: the commands after offset {} in it are lost, \
                 and the files after it are still loaded after the cut",
                c.ok_up_to
            ));
        }
        self.say(&format!(
            "This will shrink the AOF {name} from {} bytes, with {} bytes, to {} bytes",
            c.size, c.diff, c.ok_up_to
        ));
        self.out.push_str("Continue? [y/N]: ");
        if !self.env.confirm_after(&self.out) {
            return self.fail("Aborting...");
        }
        match self.env.truncate(path, c.ok_up_to) {
            Ok(()) => {
                self.act(format!("truncated to {} bytes", c.ok_up_to));
                Ok(FileResult::Truncated)
            }
            Err(_) => self.fail(&format!("Failed to truncate AOF {name}")),
        }
    }

    /// `--truncate-to-timestamp` on a file that is not the last: cut it at
    /// its first annotation newer than `ts` (after the y/N prompt, as
    /// `--fix`); the caller then removes the later files from the
    /// manifest. None: nothing to cut here.
    fn ts_cut_early(
        &mut self,
        name: &str,
        path: &str,
        data: &[u8],
        start: usize,
        ts: i64,
    ) -> Step<Option<FileResult>> {
        let offset = match first_newer_annotation(data, start, ts) {
            Ok(Some(o)) => o,
            Ok(None) => return Ok(None),
            Err(lines) => {
                lines.iter().for_each(|l| self.say(l));
                return Err(1);
            }
        };
        if offset == 0 && self.files_seen == 1 {
            self.say(&format!(
                "AOF {path} has nothing before timestamp {ts}, aborting..."
            ));
            return Err(1);
        }
        let drop_self = offset == 0;
        if drop_self {
            self.say(&format!(
                "AOF {name} holds nothing before timestamp {ts}: it and every later file \
                 will be removed from the manifest"
            ));
        } else {
            self.say(&format!(
                "AOF {name} is not the last file: this will shrink it from {} bytes to {offset} \
                 bytes (timestamp {ts}) and remove every later file from the manifest",
                data.len()
            ));
        }
        self.out.push_str("Continue? [y/N]: ");
        if !self.env.confirm_after(&self.out) {
            self.say("Aborting...");
            return Err(1);
        }
        if drop_self {
            self.act(format!("removed from the manifest (timestamp {ts})"));
        } else {
            self.act(format!("truncated to {offset} bytes (timestamp {ts})"));
        }
        Ok(Some(FileResult::TimestampCutEarly { drop_self, offset }))
    }
    fn report(&mut self, kind: &str, name: &str, r: FileResult) {
        let ts = self.to_ts.unwrap_or(0);
        let line = match r {
            FileResult::Ok => format!("{kind}{name} is valid"),
            FileResult::Empty => format!("{kind}{name} is empty"),
            FileResult::TimestampTruncated
            | FileResult::TimestampCutEarly {
                drop_self: false, ..
            } => {
                format!("Successfully truncated AOF {name} to timestamp {ts}")
            }
            FileResult::TimestampCutEarly {
                drop_self: true, ..
            } => {
                format!("Removed AOF {name} from the manifest (timestamp {ts})")
            }
            FileResult::Truncated => format!("Successfully truncated AOF {name}"),
        };
        self.say(&line);
    }

    /// `checkMultiPartAof`.
    fn multi_part(&mut self, manifest_path: &str, text: &[u8]) -> Step<()> {
        self.say("Start checking Multi Part AOF");
        let m = match Manifest::parse(text) {
            Ok(m) => m,
            Err(e) => {
                for l in e.log_lines() {
                    let s = self.env.log_line(&l);
                    self.out.push_str(&s);
                }
                return Err(1);
            }
        };
        let dir = dirname(manifest_path);
        let total = m.load_order().count();
        let mut n = 0;
        self.role = "base";
        if let Some(b) = &m.base {
            let name = b.display();
            let path = format!("{dir}/{name}");
            n += 1;
            let preamble = match self.env.read(&path) {
                Ok(d) => d.len() >= 8 && d.starts_with(b"REDIS"),
                Err(e) => {
                    self.say(&format!("Cannot open file {path}: {e}"));
                    return Err(1);
                }
            };
            let fmt = if preamble { "RDB" } else { "RESP" };
            self.say(&format!("Start to check BASE AOF ({fmt} format)."));
            let r = self.check_file(&name, &path, n == total, preamble)?;
            if let FileResult::TimestampCutEarly { drop_self, offset } = r {
                let keep = n - usize::from(drop_self);
                self.drop_from_manifest(manifest_path, &m, keep, (&path, offset))?;
                self.report("BASE AOF ", &name, r);
                return self.finish_cut(&m, keep, &dir);
            }
            self.report("BASE AOF ", &name, r);
        }
        if !m.incrs.is_empty() {
            self.say("Start to check INCR files.");
            self.role = "incr";
            for f in &m.incrs {
                let name = f.display();
                let path = format!("{dir}/{name}");
                n += 1;
                let r = self.check_file(&name, &path, n == total, false)?;
                if let FileResult::TimestampCutEarly { drop_self, offset } = r {
                    let keep = n - usize::from(drop_self);
                    self.drop_from_manifest(manifest_path, &m, keep, (&path, offset))?;
                    self.report("INCR AOF ", &name, r);
                    return self.finish_cut(&m, keep, &dir);
                }
                self.report("INCR AOF ", &name, r);
            }
        }
        self.say("All AOF files and manifest are valid");
        Ok(())
    }

    /// Point-in-time recovery across files: keeps the first `keep` files
    /// of the load order in the manifest (rewritten durably first, so a
    /// crash before the cut leaves a manifest that a re-run completes),
    /// then cuts `cut.0` at `cut.1` (unless it left the manifest too).
    fn drop_from_manifest(
        &mut self,
        manifest_path: &str,
        m: &Manifest,
        keep: usize,
        cut: (&str, u64),
    ) -> Step<()> {
        let mut kept = m.clone();
        let base = usize::from(m.base.is_some());
        if keep < base {
            kept.base = None;
        }
        kept.incrs.truncate(keep.saturating_sub(base));
        if let Err(e) = self.env.write_manifest(manifest_path, &kept.to_text()) {
            self.say(&format!(
                "Failed to rewrite the manifest {manifest_path}: {e}"
            ));
            return Err(1);
        }
        if cut.1 > 0 && self.env.truncate(cut.0, cut.1).is_err() {
            let ts = self.to_ts.unwrap_or(0);
            self.say(&format!(
                "Failed to truncate AOF {} to timestamp {ts}",
                cut.0
            ));
            return Err(1);
        }
        Ok(())
    }

    /// The end of a cross-file timestamp cut that kept the first `keep`
    /// files: the others, out of the manifest, are renamed
    /// `<name>.after-ts-<ts>` (kept, but a server that later creates an
    /// incr file of the same name must not append to the old one).
    fn finish_cut(&mut self, m: &Manifest, keep: usize, dir: &str) -> Step<()> {
        let ts = self.to_ts.unwrap_or(0);
        let gone: Vec<String> = m.load_order().skip(keep).map(|f| f.display()).collect();
        for name in &gone {
            let from = format!("{dir}/{name}");
            if let Err(e) = self.env.rename(&from, &format!("{from}.after-ts-{ts}")) {
                self.say(&format!("Failed to rename {from}: {e}"));
                return Err(1);
            }
        }
        if !gone.is_empty() {
            self.say(&format!(
                "Removed {} later file(s) from the manifest, renamed <name>.after-ts-{ts}: {}",
                gone.len(),
                gone.join(", ")
            ));
        }
        self.say("All AOF files and manifest are valid");
        Ok(())
    }

    fn main(&mut self, path: &str) -> Step<()> {
        let data = match self.env.read(path) {
            Ok(d) => d,
            Err(e) => {
                self.say(&format!("Cannot open file {path}: {e}"));
                return Err(1);
            }
        };
        if looks_like_manifest_7_0(&data) {
            return self.multi_part(path, &data);
        }
        let preamble = data.len() >= 8 && data.starts_with(b"REDIS");
        self.say("Start checking Old-Style AOF");
        self.role = "file";
        let r = self.check_file(path, path, true, preamble)?;
        self.report("AOF ", path, r);
        Ok(())
    }
}

/// Runs redis-check-aof with `argv` (argv[0] is the program name), going
/// beyond it where Redis's tool gives up: `--fix` cuts any file of a
/// manifest, not only the last (the later files stay and are loaded after
/// the cut; Redis refuses), and `--truncate-to-timestamp` cuts whichever
/// file holds the timestamp, after the y/N prompt when it is not the last,
/// and removes the later files from the manifest (point-in-time recovery
/// across base and incr files). `--any-file` (keel's former opt-in) is
/// accepted and changes nothing; `--strict` (anywhere) also refuses
/// commands keel does not know.
pub fn run(argv: &[String], env: &mut dyn CheckEnv) -> ToolOutput {
    let strict = argv.iter().skip(1).any(|a| a == "--strict");
    let argv: Vec<String> = argv
        .iter()
        .enumerate()
        .filter(|&(i, a)| i == 0 || (a != "--any-file" && a != "--strict"))
        .map(|(_, a)| a.clone())
        .collect();
    let prog = argv.first().map_or("redis-check-aof", String::as_str);
    let done = |stdout: String, mode: &'static str| ToolOutput {
        stdout,
        code: 1,
        mode,
        input: String::new(),
        files: Vec::new(),
    };
    let usage = || {
        done(
            format!(
                "Usage: {prog} [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n"
            ),
            "check",
        )
    };
    let (path, fix, to_ts) = match argv.len() {
        2 => (&argv[1], false, None),
        3 if argv[1] == "--fix" => (&argv[2], true, None),
        4 if argv[1] == "--truncate-to-timestamp" => {
            // strtol, then nothing may follow; "" reads as 0, and 0 turns
            // the option off (redis-check-aof tests `if (to_timestamp)`).
            let t = argv[2].trim_start();
            let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
            let parsed = if argv[2].is_empty() {
                Ok(0)
            } else if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
                t.parse::<i64>()
            } else {
                "x".parse::<i64>()
            };
            match parsed {
                Ok(ts) => (&argv[3], false, (ts != 0).then_some(ts)),
                _ => {
                    return done(
                        "Invalid timestamp, aborting...\n".into(),
                        "truncate-to-timestamp",
                    )
                }
            }
        }
        _ => return usage(),
    };
    let mut r = Run {
        env,
        out: String::new(),
        fix,
        to_ts,
        line: 1,
        files_seen: 0,
        role: "file",
        files: Vec::new(),
        strict: strict
            .then(|| crate::commands::CommandTable::new(&crate::commands::all_families())),
    };
    let code = match r.main(path) {
        Ok(()) => 0,
        Err(c) => c,
    };
    let mode = match (fix, to_ts) {
        (true, _) => "fix",
        (_, Some(_)) => "truncate-to-timestamp",
        _ => "check",
    };
    ToolOutput {
        stdout: r.out,
        code,
        mode,
        input: path.clone(),
        files: r.files,
    }
}

#[cfg(test)]
#[path = "check_tool_tests.rs"]
mod tests;
