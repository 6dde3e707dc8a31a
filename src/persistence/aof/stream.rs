//! The command stream inside AOF files: RESP arrays of bulk strings
//! (`*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per argument), with `#...`
//! annotation lines (`#TS:<unix-secs>`) allowed between commands.
//!
//! [`StreamReader`] walks a byte slice (a whole file, or the part after an
//! RDB preamble) and yields [`Item`]s without copying, then reports how the
//! input ended ([`End`]). It has the two framings Redis 7.0.15 has:
//!
//! * [`Mode::Lenient`], the server's loader (`loadSingleAppendOnlyFile`):
//!   header lines are read like `fgets` into a 1024-byte buffer and parsed
//!   with `atoi`/`strtol`, so `*3\n` or `$3junk\n` pass; the two bytes after
//!   each payload are skipped unchecked. A stray EXEC is accepted.
//! * [`Mode::Strict`], redis-check-aof: exact `\r\n` after every header and
//!   payload, with its error texts ("Expected \r\n, got: 0a00", "Expected
//!   prefix '$', got: 'x'", ...), the offsets it reports, nested MULTI and
//!   stray EXEC refused, and `ok_up_to` (the last boundary outside MULTI).
//!
//! How the input ends: `Clean`; `Truncated` when it stops inside a command
//! or inside a MULTI that has no EXEC (the server may cut the file at
//! `last_good` when `aof-load-truncated yes`); `Corrupt` when a byte is
//! wrong (a line that is neither a command nor an annotation, a NUL-filled
//! tail, a bad length): never repaired by truncation.
//!
//! One deliberate difference from Redis's loader: when the input ends
//! inside a command that is inside a MULTI, Redis truncates to the end of
//! the last queued command (and reverts the MULTI at the next start); here
//! `last_good` is the offset before the MULTI, the same dataset in one
//! step; likewise a MULTI nested in a transaction (queued, as Redis queues
//! it) does not move the truncation point, which Redis does.
//! `last_good` starts at the offset the reader started from, so an RDB
//! preamble is never cut (Redis would truncate to 0 there).
//!
//! The reader only frames; the caller executes MULTI ... EXEC as a unit
//! (commands between them must not be applied unless EXEC is reached).

pub(super) use crate::util::cstr::{cstr, strtol};
use std::fmt;

/// `AOF_ANNOTATION_LINE_MAX_LEN`: the `fgets` buffer of both readers.
const LINE_BUF: usize = 1024;

/// Which reader's framing rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The server's loader.
    Lenient,
    /// redis-check-aof.
    Strict,
}

/// One command, `args` borrowed from the input; `start..end` its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    pub args: Vec<&'a [u8]>,
    pub start: u64,
    pub end: u64,
}

impl Command<'_> {
    /// The command name compared like `strcasecmp` (up to a NUL).
    pub fn is(&self, name: &str) -> bool {
        self.args
            .first()
            .is_some_and(|a| cstr(a).eq_ignore_ascii_case(name.as_bytes()))
    }
}

/// An annotation line (`#...`), `line` with its line ending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation<'a> {
    pub line: &'a [u8],
    pub start: u64,
    pub end: u64,
}

/// What a `#TS:` annotation holds, read as redis-check-aof reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timestamp {
    /// Not a `#TS:` line.
    NotTs,
    /// `#TS:<n>\r...`.
    Valid(i64),
    /// A `#TS:` line whose number is not followed by `\r` or overflows
    /// ("Invalid timestamp annotation").
    Invalid,
}

impl Annotation<'_> {
    /// The text without the line ending.
    pub fn text(&self) -> &[u8] {
        let t = self.line.strip_suffix(b"\n").unwrap_or(self.line);
        t.strip_suffix(b"\r").unwrap_or(t)
    }

    /// The `#TS:` value (`strtol`, then the next byte must be `\r`).
    pub fn timestamp(&self) -> Timestamp {
        let Some(rest) = self.line.strip_prefix(b"#TS:") else {
            return Timestamp::NotTs;
        };
        let (v, end, overflow) = strtol(rest);
        if overflow || rest.get(end) != Some(&b'\r') {
            return Timestamp::Invalid;
        }
        Timestamp::Valid(v)
    }
}

/// One element of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Command(Command<'a>),
    Annotation(Annotation<'a>),
}

/// Why the input counts as truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truncation {
    /// It ends inside the command that starts at `command_start`.
    InsideCommand { command_start: u64 },
    /// It ends inside a transaction: the MULTI at `multi_start` has no EXEC.
    UnclosedMulti { multi_start: u64 },
}

/// A framing problem at `offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A line at a command boundary starting with neither `*` nor `#`
    /// (server: "Bad file format"; redis-check-aof: "AOF X format error").
    BadLineStart { offset: u64, byte: u8 },
    /// Anything else; in strict mode `reason` is redis-check-aof's text and
    /// `offset` the one it prints.
    Framing { offset: u64, reason: String },
}

impl Fault {
    pub fn offset(&self) -> u64 {
        match self {
            Fault::BadLineStart { offset, .. } | Fault::Framing { offset, .. } => *offset,
        }
    }

    /// redis-check-aof's error line (`0x<offset %16llx>: <reason>`), or for
    /// a bad line start its "AOF <file> format error" line.
    pub fn check_aof_line(&self, file: &str) -> String {
        match self {
            Fault::BadLineStart { .. } => format!("AOF {file} format error"),
            Fault::Framing { offset, reason } => format!("0x{offset:16x}: {reason}"),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::BadLineStart { offset, byte } => write!(
                f,
                "at offset {offset}: a line starts with byte 0x{byte:02x}, not '*' or '#'"
            ),
            Fault::Framing { offset, reason } => write!(f, "at offset {offset}: {reason}"),
        }
    }
}

/// How the input ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    Clean,
    /// Cut short. `last_good`: the offset to truncate to (strict mode:
    /// redis-check-aof's `ok_up_to`). `fault`: what the reader reported
    /// (redis-check-aof prints nothing when the input ends exactly at a
    /// header).
    Truncated {
        last_good: u64,
        cause: Truncation,
        fault: Option<Fault>,
    },
    /// Damaged at `fault.offset()`; `last_good` as above.
    Corrupt {
        last_good: u64,
        fault: Fault,
    },
}

impl End {
    /// The offset up to which the input is good (its length when clean).
    pub fn last_good(&self, len: u64) -> u64 {
        match self {
            End::Clean => len,
            End::Truncated { last_good, .. } | End::Corrupt { last_good, .. } => *last_good,
        }
    }
}

/// A byte printed with `%02x` after C's promotion of a signed `char`.
fn hex_char(b: u8) -> String {
    if b >= 0x80 {
        format!("ffffff{b:02x}")
    } else {
        format!("{b:02x}")
    }
}

/// Reads a RESP command stream; see the module docs.
pub struct StreamReader<'a> {
    data: &'a [u8],
    mode: Mode,
    file: String,
    pos: usize,
    /// Lenient: end of the last command (`valid_up_to`). Strict: the last
    /// boundary outside MULTI (`ok_up_to`).
    good: usize,
    /// In a transaction: the truncation point before it, and where the
    /// MULTI command starts.
    multi: Option<(usize, usize)>,
    /// Strict: redis-check-aof's `epos` and line counter (CRLFs consumed).
    epos: usize,
    crlfs: u64,
    /// Some read ran into the end of the input (`feof`).
    hit_eof: bool,
    end: Option<End>,
}

impl<'a> StreamReader<'a> {
    /// A reader over a whole file.
    pub fn new(data: &'a [u8], mode: Mode) -> Self {
        Self::starting_at(data, 0, mode)
    }

    /// A reader starting at `offset` (after an RDB preamble).
    pub fn starting_at(data: &'a [u8], offset: usize, mode: Mode) -> Self {
        let offset = offset.min(data.len());
        StreamReader {
            data,
            mode,
            file: String::new(),
            pos: offset,
            good: offset,
            multi: None,
            epos: offset,
            crlfs: 0,
            hit_eof: false,
            end: None,
        }
    }

    /// The file name used in redis-check-aof's MULTI/EXEC messages.
    pub fn named(mut self, file: &str) -> Self {
        self.file = file.to_owned();
        self
    }

    /// The offset reached so far.
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Inside a MULTI without its EXEC yet.
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Strict mode: the `\r\n`s consumed (redis-check-aof's line counter
    /// minus its initial 1).
    pub fn crlf_count(&self) -> u64 {
        self.crlfs
    }

    /// How the input ended, once the iterator returned `None`.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// Reads every item and returns how the input ended (for checking).
    pub fn finish(mut self) -> End {
        for _ in self.by_ref() {}
        self.end.take().unwrap_or(End::Clean)
    }

    /// `fgets(buf, cap, fp)` at `at`: the chunk read (None at EOF); sets
    /// `hit_eof` when the read ran into the end of the input (`feof`).
    fn fgets(&mut self, at: usize, cap: usize) -> Option<&'a [u8]> {
        let rest = &self.data[at.min(self.data.len())..];
        if rest.is_empty() {
            self.hit_eof = true;
            return None;
        }
        let limit = rest.len().min(cap - 1);
        let n = rest[..limit]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(limit, |i| i + 1);
        if n == rest.len() && rest[n - 1] != b'\n' && n < cap - 1 {
            self.hit_eof = true;
        }
        Some(&rest[..n])
    }

    /// The truncation point now: before an open MULTI, else `good`.
    fn truncation_point(&self) -> u64 {
        match self.multi {
            Some((before, _)) if self.mode == Mode::Lenient => before as u64,
            _ => self.good as u64,
        }
    }

    fn finish_with(&mut self, end: End) -> Option<Item<'a>> {
        self.end = Some(end);
        None
    }

    fn annotation(&mut self, start: usize) -> Option<Item<'a>> {
        // processAnnotations sets epos too.
        self.epos = start;
        let line = self.fgets(start, LINE_BUF).unwrap_or_default();
        self.pos = start + line.len();
        if self.mode == Mode::Strict && self.multi.is_none() {
            self.good = self.pos;
        }
        Some(Item::Annotation(Annotation {
            line,
            start: start as u64,
            end: self.pos as u64,
        }))
    }

    fn next_lenient(&mut self) -> Option<Item<'a>> {
        let start = self.pos;
        let Some(line) = self.fgets(start, LINE_BUF) else {
            return match self.multi {
                Some((before, at)) => self.finish_with(End::Truncated {
                    last_good: before as u64,
                    cause: Truncation::UnclosedMulti {
                        multi_start: at as u64,
                    },
                    fault: None,
                }),
                None => self.finish_with(End::Clean),
            };
        };
        if line[0] == b'#' {
            return self.annotation(start);
        }
        let truncated = |s: &mut Self| {
            let last_good = s.truncation_point();
            s.finish_with(End::Truncated {
                last_good,
                cause: Truncation::InsideCommand {
                    command_start: start as u64,
                },
                fault: None,
            })
        };
        let corrupt = |s: &mut Self, fault: Fault| {
            let last_good = s.truncation_point();
            s.finish_with(End::Corrupt { last_good, fault })
        };
        if line[0] != b'*' {
            let fault = Fault::BadLineStart {
                offset: start as u64,
                byte: line[0],
            };
            return corrupt(self, fault);
        }
        if line.len() == 1 || line[1] == 0 {
            // readerr: short read at the end, else an unreadable header.
            if self.hit_eof {
                return truncated(self);
            }
            let fault = Fault::Framing {
                offset: start as u64,
                reason: "a command header with no argument count".into(),
            };
            return corrupt(self, fault);
        }
        // atoi: (int) strtol.
        let argc = strtol(&line[1..]).0 as i32;
        if argc < 1 {
            let fault = Fault::Framing {
                offset: start as u64,
                reason: format!("invalid argument count {argc}"),
            };
            return corrupt(self, fault);
        }
        let mut at = start + line.len();
        let mut args = Vec::with_capacity((argc as usize).min(1024));
        for _ in 0..argc {
            let Some(hdr) = self.fgets(at, LINE_BUF) else {
                return truncated(self);
            };
            if hdr[0] != b'$' {
                let fault = Fault::Framing {
                    offset: at as u64,
                    reason: format!("expected '$', got byte 0x{:02x}", hdr[0]),
                };
                return corrupt(self, fault);
            }
            let (len, _, _) = strtol(&hdr[1..]);
            if len < 0 {
                let fault = Fault::Framing {
                    offset: at as u64,
                    reason: format!("invalid bulk length {len}"),
                };
                return corrupt(self, fault);
            }
            at += hdr.len();
            let len = len as u64;
            let avail = (self.data.len() - at) as u64;
            if len > avail || avail - len < 2 {
                self.hit_eof = true;
                return truncated(self);
            }
            let len = len as usize;
            args.push(&self.data[at..at + len]);
            at += len + 2; // the two bytes after the payload, unchecked
        }
        self.pos = at;
        let cmd = Command {
            args,
            start: start as u64,
            end: at as u64,
        };
        if cmd.is("multi") {
            // A nested MULTI is queued inside the transaction (Redis moves
            // its truncation point there; keel keeps the outermost one).
            if self.multi.is_none() {
                self.multi = Some((self.good, start));
            }
        } else if cmd.is("exec") {
            self.multi = None;
        }
        self.good = at;
        Some(Item::Command(cmd))
    }
}

impl<'a> Iterator for StreamReader<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        if self.end.is_some() {
            return None;
        }
        match self.mode {
            Mode::Lenient => self.next_lenient(),
            Mode::Strict => self.next_strict(),
        }
    }
}

/// Appends `args` as the RESP array keel (and Redis) write to the AOF:
/// `*<argc>\r\n` then `$<len>\r\n<arg>\r\n` each.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    encode_array_header(out, args.len());
    for a in args {
        encode_bulk(out, a.as_ref());
    }
}

/// Appends `*<n>\r\n`, the header of a command of `n` arguments.
pub fn encode_array_header(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one argument, `$<len>\r\n<bytes>\r\n`.
pub fn encode_bulk(out: &mut Vec<u8>, a: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

/// Appends the timestamp annotation `#TS:<unix-secs>\r\n`.
pub fn encode_ts_annotation(out: &mut Vec<u8>, unix_secs: i64) {
    out.extend_from_slice(b"#TS:");
    out.extend_from_slice(itoa::Buffer::new().format(unix_secs).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `SELECT <db>` as `feedAppendOnlyFile` writes it when the
/// target database changes.
pub fn encode_select(out: &mut Vec<u8>, db: usize) {
    encode_command(
        out,
        &[
            b"SELECT".as_slice(),
            itoa::Buffer::new().format(db).as_bytes(),
        ],
    );
}

/// The server loads a file as RDB when its first 5 bytes are `REDIS`.
pub fn starts_with_rdb(data: &[u8]) -> bool {
    data.starts_with(b"REDIS")
}

#[path = "stream_strict.rs"]
mod strict;

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
