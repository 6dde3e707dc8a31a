//! `keel-check-aof --salvage` on one file's command stream: where the
//! stream is damaged in the middle (garbage bytes, a NUL-filled region
//! after a power loss, a broken or truncated command followed by valid
//! ones), the damaged bytes are skipped, reading resumes at the next valid
//! command, and every complete command before and after the damage is
//! kept, byte for byte. Redis's tool can only cut the file at the first
//! error, losing everything after it.
//!
//! The stream is framed with redis-check-aof's strict reader
//! ([`Mode::Strict`], the one the check uses), so what is kept is what
//! both Redis's and keel's loaders accept. In addition every command must
//! exist in keel's command table with a valid arity (the loaders refuse
//! an unknown command): such a command is dropped on its own.
//!
//! Resynchronisation after a fault starts one byte after the start of the
//! command that failed (a truncated command is often followed at once by
//! the next one, inside what its header claimed as payload). A candidate is
//! a `*` from which a command parses fully with a known name and arity; the
//! earliest candidate from which two commands parse in a row (or one up to
//! the end of the file) wins, so the inside of a damaged command's payload
//! that happens to hold one RESP command is not taken for the stream. When
//! no candidate confirms, the earliest single-command one is used. The
//! price: a lone command between two damaged regions is dropped with them
//! (and counted among the lost commands of the range).
//!
//! Transactions: a MULTI block the damage cuts is dropped whole (its
//! queued commands are counted as lost); after a resynchronisation, the
//! commands up to an EXEC that has no MULTI are the tail of a transaction
//! whose MULTI was lost, and are dropped with that EXEC. A transaction is
//! never half-applied.

use super::stream::{Command, End, Fault, Item, Mode, StreamReader, Truncation};
use crate::commands::CommandTable;

/// A byte range of the input that the salvaged copy leaves out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub start: u64,
    pub end: u64,
    /// Why the first byte of the range could not be kept.
    pub reason: String,
    /// Commands identified in the range (None: none could be identified,
    /// so how many the range held is unknown).
    pub commands_lost: Option<u64>,
    /// The range holds exactly `commands_lost` commands (else the damaged
    /// bytes may have held more than could be identified).
    pub exact: bool,
}

/// The salvaged stream of one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Salvaged {
    /// The kept bytes of `data[start..]`, in order.
    pub out: Vec<u8>,
    pub dropped: Vec<Dropped>,
    pub commands_kept: u64,
    /// Commands kept but re-encoded (`start..end` in the input): their
    /// header lines ended in a bare `\n`, which the server's loader reads
    /// and redis-check-aof does not.
    pub reframed: Vec<(u64, u64)>,
}

/// Why keel's loader would refuse this command (unknown name, wrong
/// number of arguments), or None.
pub fn command_problem(table: &CommandTable, c: &Command) -> Option<String> {
    let name = c.args.first()?;
    let shown = String::from_utf8_lossy(name);
    let Some(def) = table.get(name) else {
        return Some(format!("unknown command '{shown}'"));
    };
    let argc = c.args.len() as i32;
    let ok = if def.arity >= 0 {
        argc == def.arity
    } else {
        argc >= -def.arity
    };
    (!ok).then(|| format!("wrong number of arguments for '{shown}' ({argc} given)"))
}

/// How one run of the strict reader from a boundary stopped.
struct Segment {
    /// The end of the last complete unit (outside a transaction).
    committed: usize,
    /// Commands in `start..committed`.
    kept: u64,
    /// Commands read after `committed` (an open transaction).
    pending: u64,
    /// A MULTI was read in this segment.
    saw_multi: bool,
    /// Where the unit that stopped the reader starts.
    fail_at: usize,
    stop: Stop,
}

enum Stop {
    /// The stream ended cleanly.
    Clean,
    /// A command framed correctly but refused (reason, its end).
    Refused(String, usize),
    /// An EXEC with no MULTI before it.
    StrayExec,
    /// A framing fault or a cut-off command / transaction.
    Fault(String),
}

fn read_segment(data: &[u8], start: usize, table: &CommandTable) -> Segment {
    let mut r = StreamReader::starting_at(data, start, Mode::Strict);
    let mut seg = Segment {
        committed: start,
        kept: 0,
        pending: 0,
        saw_multi: false,
        fail_at: start,
        stop: Stop::Clean,
    };
    let mut last_end = start;
    while let Some(item) = r.next() {
        let (end, cmd) = match item {
            Item::Annotation(a) => (a.end as usize, None),
            Item::Command(c) => (c.end as usize, Some(c)),
        };
        if let Some(c) = &cmd {
            if let Some(why) = command_problem(table, c) {
                seg.fail_at = c.start as usize;
                seg.stop = Stop::Refused(why, end);
                return seg;
            }
            seg.saw_multi |= c.is("multi");
            seg.pending += 1;
        }
        last_end = end;
        if !r.in_multi() {
            seg.committed = end;
            seg.kept += seg.pending;
            seg.pending = 0;
        }
    }
    seg.fail_at = last_end;
    seg.stop = match r.end() {
        None | Some(End::Clean) => Stop::Clean,
        Some(End::Corrupt { fault, .. }) => match fault {
            Fault::Framing { reason, .. } if reason.starts_with("Unexpected EXEC") => {
                Stop::StrayExec
            }
            f => Stop::Fault(f.to_string()),
        },
        Some(End::Truncated { cause, fault, .. }) => {
            if let Truncation::UnclosedMulti { .. } = cause {
                seg.fail_at = data.len();
            }
            Stop::Fault(match (cause, fault) {
                (_, Some(f)) => f.to_string(),
                (Truncation::InsideCommand { .. }, None) => "the file ends inside a command".into(),
                (Truncation::UnclosedMulti { .. }, None) => {
                    "the file ends inside a MULTI block".into()
                }
            })
        }
    };
    seg
}

/// The command at `at` framed leniently (for an EXEC the strict reader
/// refuses), or None.
fn command_at(data: &[u8], at: usize) -> Option<Command<'_>> {
    match StreamReader::starting_at(data, at, Mode::Lenient).next()? {
        Item::Command(c) => Some(c),
        Item::Annotation(_) => None,
    }
}

/// A command at `at` that only the server's lenient framing reads (header
/// lines ending in a bare `\n`, as in hand-edited files), when every
/// payload is followed by `\r\n` and a command (or the end of the file)
/// follows it: the loader would apply it, so salvage keeps it, re-encoded.
/// Not MULTI or EXEC (a transaction is only kept as it was written).
fn reframe<'a>(data: &'a [u8], at: usize, table: &CommandTable) -> Option<Command<'a>> {
    let c = command_at(data, at)?;
    if command_problem(table, &c).is_some() || c.is("multi") || c.is("exec") {
        return None;
    }
    // `<prefix><digits>` then `\n` or `\r\n`, and nothing else.
    let header = |line: &[u8], prefix: u8| {
        let body = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        body.and_then(|b| b.strip_prefix(&[prefix]))
            .is_some_and(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
    };
    let first = data[at..].iter().position(|&b| b == b'\n')? + at + 1;
    if !header(&data[at..first], b'*') {
        return None;
    }
    let mut pos = first;
    for a in &c.args {
        let start = a.as_ptr() as usize - data.as_ptr() as usize;
        let end = start + a.len();
        if start < pos || !header(&data[pos..start], b'$') {
            return None;
        }
        if data.get(end..end + 2) != Some(b"\r\n") {
            return None;
        }
        pos = end + 2;
    }
    let next = c.end as usize;
    let follows = next >= data.len()
        || chain(data, next, table).0 > 0
        || command_at(data, next).is_some_and(|n| command_problem(table, &n).is_none());
    follows.then_some(c)
}

/// How many valid commands parse in a row from `at` (at most 2), and
/// whether the run reached the end of `data` cleanly.
fn chain(data: &[u8], at: usize, table: &CommandTable) -> (u32, bool) {
    let mut r = StreamReader::starting_at(data, at, Mode::Strict);
    let mut n = 0;
    for item in r.by_ref() {
        let Item::Command(c) = item else { continue };
        if command_problem(table, &c).is_some() {
            return (n, false);
        }
        n += 1;
        if n == 2 {
            return (n, false);
        }
    }
    (n, matches!(r.end(), Some(End::Clean)))
}

/// The offset at or after `from` where reading resumes (see the module
/// docs), or None when no valid command follows.
pub fn resync(data: &[u8], from: usize, table: &CommandTable) -> Option<usize> {
    let mut i = from;
    let mut fallback = None;
    while i < data.len() {
        let Some(off) = data[i..].iter().position(|&b| b == b'*') else {
            break;
        };
        let p = i + off;
        match chain(data, p, table) {
            (2, _) | (1, true) => return Some(p),
            (1, false) => {
                fallback.get_or_insert(p);
            }
            _ => {}
        }
        i = p + 1;
    }
    fallback
}

/// Commands that can be identified in `data[from..to]`: a command header
/// at `from` (the command that failed), then every complete valid command
/// found after it, without overlap.
fn identify(data: &[u8], from: usize, to: usize, table: &CommandTable) -> u64 {
    let slice = &data[..to];
    let mut n = 0;
    let header = |at: usize| {
        let rest = &slice[at..];
        let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        digits > 0 && rest[1 + digits..].starts_with(b"\r\n")
    };
    if slice.get(from) == Some(&b'*') && header(from) {
        n += 1;
    }
    let mut i = from + 1;
    while i < to {
        let Some(off) = slice[i..].iter().position(|&b| b == b'*') else {
            break;
        };
        let p = i + off;
        match command_at(slice, p) {
            Some(c) if command_problem(table, &c).is_none() => {
                n += 1;
                i = c.end as usize;
            }
            _ => i = p + 1,
        }
    }
    n
}

impl Salvaged {
    fn drop_range(&mut self, start: usize, end: usize, reason: String, lost: u64, exact: bool) {
        if start >= end && lost == 0 {
            return;
        }
        if let Some(last) = self.dropped.last_mut() {
            if last.end == start as u64 {
                last.end = end as u64;
                let n = last.commands_lost.unwrap_or(0) + lost;
                last.commands_lost = (n > 0).then_some(n);
                last.exact &= exact;
                return;
            }
        }
        self.dropped.push(Dropped {
            start: start as u64,
            end: end as u64,
            reason,
            commands_lost: (lost > 0).then_some(lost),
            exact: exact && lost > 0,
        });
    }
}

/// Salvages `data[start..]` (start: after an RDB preamble, else 0).
pub fn salvage_stream(data: &[u8], start: usize, table: &CommandTable) -> Salvaged {
    let mut s = Salvaged::default();
    let mut pos = start.min(data.len());
    // The segment starts right after dropped bytes: an EXEC without MULTI
    // there ends a transaction whose start was lost.
    let mut resumed = false;
    while pos < data.len() {
        let seg = read_segment(data, pos, table);
        s.out.extend_from_slice(&data[pos..seg.committed]);
        s.commands_kept += seg.kept;
        let lost_here = seg.pending;
        match seg.stop {
            Stop::Clean => break,
            Stop::Refused(why, end) => {
                s.drop_range(seg.committed, end, why, lost_here + 1, true);
                resumed = lost_here > 0;
                pos = end;
            }
            Stop::StrayExec => {
                let end = command_at(data, seg.fail_at).map_or(data.len(), |c| c.end as usize);
                if resumed && !seg.saw_multi {
                    // Everything since the resync belongs to the cut
                    // transaction: take back what was kept.
                    s.out.truncate(s.out.len() - (seg.committed - pos));
                    s.commands_kept -= seg.kept;
                    s.drop_range(
                        pos,
                        end,
                        "the end of a MULTI block whose start was damaged".into(),
                        seg.kept + 1,
                        true,
                    );
                } else {
                    s.drop_range(seg.fail_at, end, "EXEC without MULTI".into(), 1, true);
                }
                resumed = false;
                pos = end;
            }
            Stop::Fault(why) => {
                if lost_here == 0 {
                    if let Some(c) = reframe(data, seg.fail_at, table) {
                        super::stream::encode_command(&mut s.out, &c.args);
                        s.commands_kept += 1;
                        s.reframed.push((c.start, c.end));
                        pos = c.end as usize;
                        continue;
                    }
                }
                let next = resync(data, seg.fail_at + 1, table);
                let to = next.unwrap_or(data.len());
                let found = if seg.fail_at < to {
                    identify(data, seg.fail_at, to, table)
                } else {
                    0
                };
                // Exact only for a command cut off by the end of the file
                // (or a transaction cut there): nothing unreadable follows.
                let exact = next.is_none() && (found == 1 || seg.fail_at == data.len());
                s.drop_range(seg.committed, to, why, lost_here + found, exact);
                resumed = true;
                pos = to;
            }
        }
    }
    s
}

#[cfg(test)]
#[path = "salvage_tests.rs"]
mod tests;
