//! The multi-part AOF manifest (Redis 7.0 `aof.c`): which files make up
//! the append-only log, in which order they are replayed, and the
//! sequence numbers that name the next ones.
//!
//! The manifest `<appendfilename>.manifest` lives in the AOF directory and
//! has one line per file, `file <name> seq <n> type <b|h|i>`:
//!
//! * at most one BASE (`b`): the snapshot the last rewrite wrote
//!   (`<appendfilename>.<seq>.base.rdb`, or `.base.aof` without the RDB
//!   preamble); it is replayed first;
//! * INCR files (`i`, `<appendfilename>.<seq>.incr.aof`), replayed after the
//!   base in file order; their seqs must strictly increase. Several exist
//!   while a rewrite runs or after one failed;
//! * HISTORY files (`h`): a base and incrs a successful rewrite made
//!   obsolete, kept only until they are deleted in the background.
//!
//! Parsing follows `aofLoadManifestFromFile` exactly, including its quirks
//! (a last line without `\n` is "too long", the seq is read with `atoll`
//! so `0` and garbage count as missing, only the first character of the
//! type matters, unknown key/value pairs are ignored), because a manifest
//! keel accepts must be one Redis 7.0.15 accepts, and the other way round.
//! Writing follows `getAofManifestAsString`: base, history, incr.
//!
//! The lifecycle operations ([`Manifest::new_incr`], [`Manifest::new_base`],
//! [`Manifest::mark_rewritten_incrs_as_history`], ...) are pure state
//! changes that set `dirty`; [`Manifest::persist`] writes the file only when
//! dirty, through [`crate::persistence::atomic::write_file`] (temp file,
//! fsync, rename, fsync of the directory), so a crash leaves either the old
//! or the new manifest, never a torn one.

use crate::persistence::atomic;
use crate::protocol::splitargs::split_args;
pub use crate::util::cstr::atoll;
use crate::util::cstr::cstr;
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Longest manifest line `fgets` takes in one read (`MANIFEST_MAX_LINE`).
const MANIFEST_MAX_LINE: usize = 1024;

/// What a manifest entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AofKind {
    /// `b`: the snapshot replayed first.
    Base,
    /// `h`: obsolete, waiting to be deleted.
    Hist,
    /// `i`: commands appended after the base.
    Incr,
}

impl AofKind {
    /// The manifest's type character.
    pub fn letter(self) -> char {
        match self {
            AofKind::Base => 'b',
            AofKind::Hist => 'h',
            AofKind::Incr => 'i',
        }
    }

    fn from_letter(c: u8) -> Option<AofKind> {
        match c {
            b'b' => Some(AofKind::Base),
            b'h' => Some(AofKind::Hist),
            b'i' => Some(AofKind::Incr),
            _ => None,
        }
    }
}

/// One manifest line. `name` is a plain file name in the AOF directory
/// (bytes: a manifest may name any file, quoted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: Vec<u8>,
    pub seq: i64,
    pub kind: AofKind,
}

impl AofFile {
    /// The file's path inside the AOF directory `dir`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(OsStr::from_bytes(&self.name))
    }

    /// The name for log lines (lossy for non-UTF-8 names).
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// A manifest that Redis would refuse, with what Redis logs about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// The line number (1-based, counting `fgets` reads) and the trimmed
    /// line text, when Redis prints them.
    pub line: Option<(usize, Vec<u8>)>,
    /// Redis's message, e.g. "Invalid AOF manifest file format".
    pub msg: &'static str,
}

impl ManifestError {
    fn at(linenum: usize, line: &[u8], msg: &'static str) -> Self {
        ManifestError {
            line: Some((linenum, line.to_vec())),
            msg,
        }
    }

    /// The warning lines Redis logs before `exit(1)`, in order (each may
    /// hold embedded newlines, as Redis's do).
    pub fn log_lines(&self) -> Vec<String> {
        let mut out = vec!["\n*** FATAL AOF MANIFEST FILE ERROR ***\n".to_owned()];
        if let Some((n, text)) = &self.line {
            out.push(format!("Reading the manifest file, at line {n}\n"));
            out.push(format!(">>> '{}'\n", String::from_utf8_lossy(text)));
        }
        out.push(format!("{}\n", self.msg));
        out
    }
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.line {
            Some((n, text)) => write!(
                f,
                "{} (manifest line {n}: '{}')",
                self.msg,
                String::from_utf8_lossy(text)
            ),
            None => f.write_str(self.msg),
        }
    }
}

impl std::error::Error for ManifestError {}

/// The parsed manifest plus the sequence counters (`aofManifest`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    /// Incr files in replay order (strictly increasing seq).
    pub incrs: Vec<AofFile>,
    pub history: Vec<AofFile>,
    /// The seq of the current base (history bases do not count).
    pub curr_base_seq: i64,
    /// The seq of the last incr line (history incrs do not count).
    pub curr_incr_seq: i64,
    /// Changed since it was loaded or last persisted.
    pub dirty: bool,
}

/// `sdstrim(s, " \t\r\n")`.
fn trim(b: &[u8]) -> &[u8] {
    let is = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !is(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// `sdsneedsrepr`: the name must be written quoted. keel also quotes a
/// name holding `'`, which Redis writes bare and then cannot read back
/// (`sdssplitargs` opens a single-quoted string there).
fn needs_repr(name: &[u8]) -> bool {
    name.iter()
        .any(|&c| matches!(c, b'\\' | b'"' | b'\'') || !(0x21..=0x7e).contains(&c))
}

/// `sdscatrepr`: a double-quoted, C-escaped form.
fn repr(name: &[u8]) -> Vec<u8> {
    let mut s = vec![b'"'];
    for &c in name {
        match c {
            b'\\' => s.extend_from_slice(b"\\\\"),
            b'"' => s.extend_from_slice(b"\\\""),
            b'\n' => s.extend_from_slice(b"\\n"),
            b'\r' => s.extend_from_slice(b"\\r"),
            b'\t' => s.extend_from_slice(b"\\t"),
            7 => s.extend_from_slice(b"\\a"),
            8 => s.extend_from_slice(b"\\b"),
            0x20..=0x7e => s.push(c),
            _ => s.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    s.push(b'"');
    s
}

/// Parses one non-comment line into an entry (the body of Redis's loop).
fn parse_entry(linenum: usize, line: &[u8]) -> Result<AofFile, ManifestError> {
    let err = |msg| ManifestError::at(linenum, line, msg);
    let argv = match split_args(line) {
        Some(a) if a.len() >= 6 && a.len() % 2 == 0 => a,
        _ => return Err(err("Invalid AOF manifest file format")),
    };
    let (mut name, mut seq, mut kind) = (None::<Vec<u8>>, 0i64, 0u8);
    for pair in argv.chunks(2) {
        let key = cstr(&pair[0]);
        if key.eq_ignore_ascii_case(b"file") {
            let n = cstr(&pair[1]).to_vec();
            // pathIsBaseName
            if n.contains(&b'/') || n.contains(&b'\\') {
                return Err(err("File can't be a path, just a filename"));
            }
            name = Some(n);
        } else if key.eq_ignore_ascii_case(b"seq") {
            seq = atoll(&pair[1]);
        } else if key.eq_ignore_ascii_case(b"type") {
            kind = pair[1].first().copied().unwrap_or(0);
        }
        // Other keys: ignored, for forward compatibility.
    }
    let (Some(name), true, true) = (name, seq != 0, kind != 0) else {
        return Err(err("Invalid AOF manifest file format"));
    };
    let Some(kind) = AofKind::from_letter(kind) else {
        return Err(err("Unknown AOF file type"));
    };
    Ok(AofFile { name, seq, kind })
}

impl Manifest {
    /// Parses a manifest with `aofLoadManifestFromFile`'s rules.
    pub fn parse(data: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut maxseq = 0i64;
        let mut pos = 0;
        let mut linenum = 0;
        loop {
            if pos >= data.len() {
                if linenum == 0 {
                    return Err(ManifestError {
                        line: None,
                        msg: "Found an empty AOF manifest",
                    });
                }
                break;
            }
            // One fgets(buf, MANIFEST_MAX_LINE+1): up to 1024 bytes, or
            // through the first '\n'.
            let rest = &data[pos..];
            let limit = rest.len().min(MANIFEST_MAX_LINE);
            let n = rest[..limit]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(limit, |i| i + 1);
            let chunk = &rest[..n];
            pos += n;
            linenum += 1;
            if chunk[0] == b'#' {
                continue;
            }
            let text = cstr(chunk);
            if !text.contains(&b'\n') {
                return Err(ManifestError {
                    line: None,
                    msg: "The AOF manifest file contains too long line",
                });
            }
            let line = trim(text);
            if line.is_empty() {
                return Err(ManifestError::at(
                    linenum,
                    line,
                    "Invalid AOF manifest file format",
                ));
            }
            let ai = parse_entry(linenum, line)?;
            match ai.kind {
                AofKind::Base => {
                    if m.base.is_some() {
                        return Err(ManifestError::at(
                            linenum,
                            line,
                            "Found duplicate base file information",
                        ));
                    }
                    m.curr_base_seq = ai.seq;
                    m.base = Some(ai);
                }
                AofKind::Hist => m.history.push(ai),
                AofKind::Incr => {
                    if ai.seq <= maxseq {
                        return Err(ManifestError::at(
                            linenum,
                            line,
                            "Found a non-monotonic sequence number",
                        ));
                    }
                    maxseq = ai.seq;
                    m.curr_incr_seq = ai.seq;
                    m.incrs.push(ai);
                }
            }
        }
        Ok(m)
    }

    /// The manifest text as Redis writes it: base, history, incr, one
    /// `file <name> seq <n> type <t>\n` line each (names quoted when
    /// `sdsneedsrepr` says so).
    pub fn to_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let all = self.base.iter().chain(&self.history).chain(&self.incrs);
        for f in all {
            out.extend_from_slice(b"file ");
            if needs_repr(&f.name) {
                out.extend_from_slice(&repr(&f.name));
            } else {
                out.extend_from_slice(&f.name);
            }
            out.extend_from_slice(format!(" seq {} type {}\n", f.seq, f.kind.letter()).as_bytes());
        }
        out
    }

    /// True when there is neither a base nor an incr (nothing to load).
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incrs.is_empty()
    }

    /// The files replayed at load, in order: the base, then every incr.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.incrs)
    }

    /// `getNewIncrAofName`: appends incr `++curr_incr_seq` and returns its
    /// name (at rewrite start, and at startup when there is no incr).
    pub fn new_incr(&mut self, appendfilename: &str) -> Vec<u8> {
        self.curr_incr_seq += 1;
        let name = incr_name(appendfilename, self.curr_incr_seq).into_bytes();
        self.incrs.push(AofFile {
            name: name.clone(),
            seq: self.curr_incr_seq,
            kind: AofKind::Incr,
        });
        self.dirty = true;
        name
    }

    /// `getLastIncrAofName`: the incr to append to, created when there is
    /// none; the flag says it was created.
    pub fn last_incr_or_new(&mut self, appendfilename: &str) -> (Vec<u8>, bool) {
        match self.incrs.last() {
            Some(f) => (f.name.clone(), false),
            None => (self.new_incr(appendfilename), true),
        }
    }

    /// `getNewBaseFileNameAndMarkPreAsHistory`: the current base (if any)
    /// becomes the first history entry; the new base is
    /// `<appendfilename>.<++curr_base_seq>.base.rdb|aof`. Returns its name.
    pub fn new_base(&mut self, appendfilename: &str, rdb_preamble: bool) -> Vec<u8> {
        if let Some(mut old) = self.base.take() {
            old.kind = AofKind::Hist;
            self.history.insert(0, old);
        }
        self.curr_base_seq += 1;
        let name = base_name(appendfilename, self.curr_base_seq, rdb_preamble).into_bytes();
        self.base = Some(AofFile {
            name: name.clone(),
            seq: self.curr_base_seq,
            kind: AofKind::Base,
        });
        self.dirty = true;
        name
    }

    /// `markRewrittenIncrAofAsHistory`: after a successful rewrite every
    /// incr becomes history (each moved to the front, walking from the
    /// end), except the last one when `keep_current` (AOF is on and that
    /// file is the one being written).
    pub fn mark_rewritten_incrs_as_history(&mut self, keep_current: bool) {
        if self.incrs.is_empty() {
            return;
        }
        let keep = if keep_current { self.incrs.pop() } else { None };
        while let Some(mut f) = self.incrs.pop() {
            f.kind = AofKind::Hist;
            self.history.insert(0, f);
        }
        self.incrs.extend(keep);
        self.dirty = true;
    }

    /// The bookkeeping of a successful rewrite, in Redis's order
    /// (`backgroundRewriteDoneHandler`): a new base (the old one becomes
    /// history); when the rewrite ran because AOF was switched on
    /// (`from_temp_incr`), a new incr that the temp incr is renamed to;
    /// then the rewritten incrs become history. Returns (new base name,
    /// new incr name when `from_temp_incr`). The caller renames the files
    /// and persists; on failure it keeps its previous manifest (mutate a
    /// clone, as Redis does with `aofManifestDup`).
    pub fn install_rewrite(
        &mut self,
        appendfilename: &str,
        rdb_preamble: bool,
        from_temp_incr: bool,
        aof_on: bool,
    ) -> (Vec<u8>, Option<Vec<u8>>) {
        let base = self.new_base(appendfilename, rdb_preamble);
        let incr = from_temp_incr.then(|| self.new_incr(appendfilename));
        self.mark_rewritten_incrs_as_history(aof_on || from_temp_incr);
        (base, incr)
    }

    /// Takes the history entries for deletion (`aofDelHistoryFiles`);
    /// marks the manifest dirty when there were any.
    pub fn take_history(&mut self) -> Vec<AofFile> {
        if !self.history.is_empty() {
            self.dirty = true;
        }
        std::mem::take(&mut self.history)
    }

    /// `aofUpgradePrepare`'s manifest change: the old single-file AOF
    /// becomes base `<appendfilename>` seq 1.
    pub fn adopt_old_style_file(&mut self, appendfilename: &str) {
        self.base = Some(AofFile {
            name: appendfilename.as_bytes().to_vec(),
            seq: 1,
            kind: AofKind::Base,
        });
        self.curr_base_seq = 1;
        self.dirty = true;
    }

    /// Writes the manifest into `aof_dir` when it is dirty (temp file,
    /// fsync, rename, fsync of the directory) and clears `dirty`. On error
    /// the old manifest stays in place and `dirty` stays set.
    pub fn persist(&mut self, aof_dir: &Path, appendfilename: &str) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let text = self.to_text();
        let dest = aof_dir.join(manifest_name(appendfilename));
        let tmp = aof_dir.join(temp_manifest_name(appendfilename));
        // write_file fsyncs the temp file before the rename and the
        // directory after it: a crash shows the old or the new manifest.
        atomic::write_file(&dest, &tmp, |w| w.write_all(&text))?;
        self.dirty = false;
        Ok(())
    }
}

/// `<appendfilename>.<seq>.base.rdb` (RDB preamble) or `.base.aof`.
pub fn base_name(appendfilename: &str, seq: i64, rdb_preamble: bool) -> String {
    let fmt = if rdb_preamble { "rdb" } else { "aof" };
    format!("{appendfilename}.{seq}.base.{fmt}")
}

/// `<appendfilename>.<seq>.incr.aof`.
pub fn incr_name(appendfilename: &str, seq: i64) -> String {
    format!("{appendfilename}.{seq}.incr.aof")
}

/// `<appendfilename>.manifest`.
pub fn manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}.manifest")
}

/// `temp-<appendfilename>.manifest`, the manifest's temp file.
pub fn temp_manifest_name(appendfilename: &str) -> String {
    format!("temp-{appendfilename}.manifest")
}

/// `temp-<appendfilename>.incr`: where writes accumulate while AOF is
/// being switched on at runtime.
pub fn temp_incr_name(appendfilename: &str) -> String {
    format!("temp-{appendfilename}.incr")
}

/// `temp-rewriteaof-<pid>.aof`: the rewrite child's file (in `dir`).
pub fn temp_rewrite_name(child_pid: u32) -> String {
    format!("temp-rewriteaof-{child_pid}.aof")
}

/// `temp-rewriteaof-bg-<pid>.aof`: the child's finished file, which the
/// parent renames to the new base.
pub fn temp_rewrite_done_name(child_pid: u32) -> String {
    format!("temp-rewriteaof-bg-{child_pid}.aof")
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
