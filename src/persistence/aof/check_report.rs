//! keel-check-aof's per-file findings, kept beside the redis-check-aof
//! text so every mode (check, `--fix`, `--truncate-to-timestamp`,
//! `--salvage`) can also print them as one JSON object (`--json`) for
//! automation: the verdict class of each file, where and why it is
//! damaged, what was cut or dropped, and how many commands were kept and
//! lost.

use super::salvage::Dropped;
use super::stream::{End, Fault};
use serde_json::{json, Value as Json};

/// The verdict class of one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    /// Ends inside a command or an unclosed MULTI (`--fix` can cut it).
    Truncated,
    /// A wrong byte before the end (only `--salvage` repairs it).
    Corrupt,
    Empty,
    /// Listed by the manifest but cannot be read.
    Missing,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Truncated => "truncated",
            Verdict::Corrupt => "corrupt",
            Verdict::Empty => "empty",
            Verdict::Missing => "missing",
        }
    }

    /// The class of a command stream that ended with `end`.
    pub fn of(end: &End) -> Verdict {
        match end {
            End::Clean => Verdict::Valid,
            End::Truncated { .. } => Verdict::Truncated,
            End::Corrupt { .. } => Verdict::Corrupt,
        }
    }
}

/// A fault's reason without its offset (reports carry the offset apart).
pub fn fault_reason(f: &Fault) -> String {
    match f {
        Fault::BadLineStart { byte, .. } => {
            format!("a line starts with byte 0x{byte:02x}, not '*' or '#'")
        }
        Fault::Framing { reason, .. } => reason.clone(),
    }
}

/// What the tool found in (and did to) one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// The name the manifest gives (or the path of a single file).
    pub name: String,
    /// "base", "incr" or "file" (a single file).
    pub role: &'static str,
    /// "rdb" (RDB preamble) or "resp".
    pub format: &'static str,
    pub verdict: Verdict,
    pub size: u64,
    /// Where the first problem is, and what it is.
    pub offset: Option<u64>,
    pub reason: Option<String>,
    /// The offset `--fix` would cut at (the end of the last complete unit).
    pub ok_up_to: Option<u64>,
    /// What was done: "truncated to <n> bytes", "salvaged", ...
    pub action: Option<String>,
    /// `--salvage`: the byte ranges left out of the copy.
    pub dropped: Vec<Dropped>,
    /// `--salvage`: commands copied.
    pub commands_kept: Option<u64>,
    /// Notes on the RDB preamble (salvage of a damaged one).
    pub notes: Vec<String>,
}

impl FileReport {
    pub fn new(name: &str, role: &'static str) -> Self {
        FileReport {
            name: name.to_owned(),
            role,
            format: "resp",
            verdict: Verdict::Valid,
            size: 0,
            offset: None,
            reason: None,
            ok_up_to: None,
            action: None,
            dropped: Vec::new(),
            commands_kept: None,
            notes: Vec::new(),
        }
    }

    /// Commands identified in the dropped ranges, and whether some range
    /// may have held more than were identified.
    pub fn lost(&self) -> (u64, bool) {
        let n = self.dropped.iter().filter_map(|d| d.commands_lost).sum();
        let more = self.dropped.iter().any(|d| !d.exact);
        (n, more)
    }

    pub fn json(&self) -> Json {
        let (lost, unknown) = self.lost();
        json!({
            "file": self.name,
            "role": self.role,
            "format": self.format,
            "verdict": self.verdict.label(),
            "size": self.size,
            "offset": self.offset,
            "reason": self.reason,
            "ok_up_to": self.ok_up_to,
            "action": self.action,
            "dropped": self.dropped.iter().map(dropped_json).collect::<Vec<_>>(),
            "commands_kept": self.commands_kept,
            "commands_lost": lost,
            "commands_lost_exact": !unknown,
            "notes": self.notes,
        })
    }
}

pub fn dropped_json(d: &Dropped) -> Json {
    json!({
        "start": d.start,
        "end": d.end,
        "bytes": d.end - d.start,
        "reason": d.reason,
        "commands_lost": d.commands_lost,
        "commands_lost_exact": d.exact,
    })
}

/// How many commands a dropped range lost, for text output.
pub fn lost_text(d: &Dropped) -> String {
    match (d.commands_lost, d.exact) {
        (Some(n), true) => n.to_string(),
        (Some(n), false) => format!("at least {n}"),
        (None, _) => "unknown".into(),
    }
}

/// The whole report: `mode` is check, fix, truncate-to-timestamp or
/// salvage; `text` the tool's human-readable output, line by line.
pub fn report_json(
    mode: &str,
    input: &str,
    output: Option<&str>,
    exit: i32,
    files: &[FileReport],
    text: &str,
) -> Json {
    let kept: Option<u64> = files.iter().map(|f| f.commands_kept).sum();
    let lost: u64 = files.iter().map(|f| f.lost().0).sum();
    let unknown = files.iter().any(|f| f.lost().1);
    json!({
        "tool": "keel-check-aof",
        "mode": mode,
        "input": input,
        "output": output,
        "exit": exit,
        "ok": exit == 0,
        "files": files.iter().map(FileReport::json).collect::<Vec<_>>(),
        "commands_kept": kept,
        "commands_lost": lost,
        "commands_lost_exact": !unknown,
        "messages": text.lines().collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_and_escaping() {
        let mut f = FileReport::new("a \"q\".aof", "incr");
        f.verdict = Verdict::Corrupt;
        f.dropped.push(Dropped {
            start: 3,
            end: 8,
            reason: "bad\nbyte".into(),
            commands_lost: None,
            exact: false,
        });
        f.commands_kept = Some(2);
        let j = report_json("salvage", "in", Some("out"), 0, &[f], "line 1\nline 2\n");
        let text = j.to_string();
        assert!(text.contains(r#""file":"a \"q\".aof""#), "{text}");
        assert!(text.contains(r#""reason":"bad\nbyte""#), "{text}");
        let back: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(back["files"][0]["verdict"], "corrupt");
        assert_eq!(back["files"][0]["dropped"][0]["bytes"], 5);
        assert_eq!(back["commands_kept"], 2);
        assert_eq!(back["commands_lost_exact"], false);
        assert_eq!(back["messages"][1], "line 2");
        assert_eq!(lost_text(&f_dropped(Some(3), true)), "3");
        assert_eq!(lost_text(&f_dropped(Some(3), false)), "at least 3");
        assert_eq!(lost_text(&f_dropped(None, false)), "unknown");
    }

    fn f_dropped(n: Option<u64>, exact: bool) -> Dropped {
        Dropped {
            start: 0,
            end: 1,
            reason: String::new(),
            commands_lost: n,
            exact,
        }
    }
}
