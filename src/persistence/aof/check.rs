//! The RESP part of redis-check-aof 7.0.15's per-file check
//! (`checkSingleAof` after any RDB preamble), as a pure function: it
//! frames the file with [`Mode::Strict`] and produces the lines
//! redis-check-aof prints, so keel's check tool (and tests) can reproduce
//! its report byte for byte. Opening files, the RDB preamble check, the
//! manifest walk, `--fix` and `--truncate-to-timestamp` are the tool's.

use super::stream::{End, Item, Mode, StreamReader, Timestamp};

/// The outcome of checking one file's command stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RespCheck {
    /// The error line redis-check-aof prints before "AOF analyzed", if any.
    pub error_line: Option<String>,
    pub size: u64,
    /// The offset `--fix` would truncate to.
    pub ok_up_to: u64,
    /// redis-check-aof's line counter after this file (it carries over to
    /// the next file of a manifest).
    pub line: u64,
    pub diff: u64,
    pub end: End,
}

impl RespCheck {
    /// `AOF analyzed: filename=X, size=S, ok_up_to=P, ok_up_to_line=L, diff=D`.
    pub fn analyzed_line(&self, filename: &str) -> String {
        format!(
            "AOF analyzed: filename={filename}, size={}, ok_up_to={}, ok_up_to_line={}, diff={}",
            self.size, self.ok_up_to, self.line, self.diff
        )
    }

    /// True when the file is valid (nothing after `ok_up_to`).
    pub fn valid(&self) -> bool {
        self.diff == 0
    }
}

/// Checks `data[start..]` (start: the end of an RDB preamble, else 0).
/// `filename` is what redis-check-aof names the file in "format error"
/// lines, `filepath` what it names it in MULTI/EXEC errors (the path it
/// opened); `line_start` its line counter before this file (1 for the
/// first file).
pub fn check_resp(
    data: &[u8],
    start: usize,
    filename: &str,
    filepath: &str,
    line_start: u64,
) -> RespCheck {
    let mut r = StreamReader::starting_at(data, start, Mode::Strict).named(filepath);
    for _ in r.by_ref() {}
    let line = line_start + r.crlf_count();
    let end = r.end().cloned().unwrap_or(End::Clean);
    let size = data.len() as u64;
    let ok_up_to = end.last_good(size);
    let error_line = match &end {
        End::Clean => None,
        End::Truncated { fault, .. } => fault.as_ref().map(|f| f.check_aof_line(filename)),
        End::Corrupt { fault, .. } => Some(fault.check_aof_line(filename)),
    };
    RespCheck {
        error_line,
        size,
        ok_up_to,
        line,
        diff: size - ok_up_to,
        end,
    }
}

/// What `--truncate-to-timestamp <ts>` does with one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TsCut {
    /// Truncate the file to `offset` (the first `#TS:` annotation newer
    /// than the timestamp, which goes too); no prompt.
    Cut { offset: u64 },
    /// No annotation newer than the timestamp before the stream ended:
    /// report the file as usual.
    NoCut,
    /// Print `lines` and exit 1.
    Refuse { lines: Vec<String> },
}

/// redis-check-aof's `processAnnotations` walk over `data[start..]` for
/// `--truncate-to-timestamp to_ts`; `filepath` names the file in its
/// messages; only the last file of a manifest may be cut.
pub fn truncate_to_timestamp(
    data: &[u8],
    start: usize,
    filepath: &str,
    to_ts: i64,
    is_last: bool,
) -> TsCut {
    match first_newer_annotation(data, start, to_ts) {
        Err(lines) => TsCut::Refuse { lines },
        Ok(None) => TsCut::NoCut,
        Ok(Some(0)) => TsCut::Refuse {
            lines: vec![format!(
                "AOF {filepath} has nothing before timestamp {to_ts}, aborting..."
            )],
        },
        Ok(Some(offset)) if !is_last => TsCut::Refuse {
            lines: vec![
                format!(
                    "Failed to truncate AOF {filepath} to timestamp {to_ts} to offset {offset} because it is not the last file."
                ),
                "If you insist, please delete all files after this file according to the manifest \
                 file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof."
                    .into(),
            ],
        },
        Ok(Some(offset)) => TsCut::Cut { offset },
    }
}

/// Where the first `#TS:` annotation newer than `to_ts` starts in
/// `data[start..]` (None: there is none); Err with the tool's message on
/// an invalid timestamp annotation before it.
pub fn first_newer_annotation(
    data: &[u8],
    start: usize,
    to_ts: i64,
) -> Result<Option<u64>, Vec<String>> {
    for item in StreamReader::starting_at(data, start, Mode::Strict) {
        let Item::Annotation(a) = item else { continue };
        match a.timestamp() {
            Timestamp::NotTs => {}
            Timestamp::Invalid => return Err(vec!["Invalid timestamp annotation".into()]),
            Timestamp::Valid(ts) if ts > to_ts => return Ok(Some(a.start)),
            Timestamp::Valid(_) => {}
        }
    }
    Ok(None)
}

/// Whether redis-check-aof 7.0.15 takes a file for a manifest: any line
/// (comments skipped) whose first 4 bytes are `file`. Known to misfire on
/// an AOF holding `\nfile...` in a value (fixed upstream after 7.0);
/// keel's tool may prefer [`super::manifest::Manifest::parse`].
pub fn looks_like_manifest_7_0(data: &[u8]) -> bool {
    // fgets(buf, 1025): chunks of up to 1024 bytes, or through '\n'.
    let mut rest = data;
    while !rest.is_empty() {
        let limit = rest.len().min(1024);
        let n = rest[..limit]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(limit, |i| i + 1);
        let chunk = &rest[..n];
        if chunk[0] != b'#' && chunk.starts_with(b"file") {
            return true;
        }
        rest = &rest[n..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines() {
        let data = b"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n*1\r\n$3\r\nba";
        let c = check_resp(data, 0, "f.aof", "f.aof", 1);
        assert_eq!(
            c.error_line.as_deref(),
            Some("0x              1e: Expected to read 5 bytes, got 2 bytes")
        );
        assert_eq!(
            c.analyzed_line("f.aof"),
            "AOF analyzed: filename=f.aof, size=32, ok_up_to=22, ok_up_to_line=8, diff=10"
        );
        assert!(!c.valid());
        let ok = check_resp(b"", 0, "e", "e", 5);
        assert!(ok.valid());
        assert_eq!(ok.line, 5);
    }

    #[test]
    fn timestamps() {
        let mut d = Vec::new();
        crate::persistence::aof::stream::encode_ts_annotation(&mut d, 10);
        crate::persistence::aof::stream::encode_command(&mut d, &["set", "a", "1"]);
        let second = d.len() as u64;
        crate::persistence::aof::stream::encode_ts_annotation(&mut d, 20);
        crate::persistence::aof::stream::encode_command(&mut d, &["set", "b", "2"]);
        assert_eq!(
            truncate_to_timestamp(&d, 0, "f", 15, true),
            TsCut::Cut { offset: second }
        );
        assert_eq!(truncate_to_timestamp(&d, 0, "f", 20, true), TsCut::NoCut);
        assert_eq!(
            truncate_to_timestamp(&d, 0, "f", 5, true),
            TsCut::Refuse {
                lines: vec!["AOF f has nothing before timestamp 5, aborting...".into()]
            }
        );
        let TsCut::Refuse { lines } = truncate_to_timestamp(&d, 0, "f", 15, false) else {
            panic!()
        };
        assert_eq!(
            lines[0],
            format!("Failed to truncate AOF f to timestamp 15 to offset {second} because it is not the last file.")
        );
        let bad = b"#TS:12x\r\n";
        assert_eq!(
            truncate_to_timestamp(bad, 0, "f", 1, true),
            TsCut::Refuse {
                lines: vec!["Invalid timestamp annotation".into()]
            }
        );
    }

    #[test]
    fn manifest_detection_7_0() {
        assert!(looks_like_manifest_7_0(b"# c\nfile x seq 1 type b\n"));
        assert!(!looks_like_manifest_7_0(b"*1\r\n$4\r\nPING\r\n"));
        // The 7.0 misdetection: a value line starting with "file".
        assert!(looks_like_manifest_7_0(
            b"*2\r\n$3\r\nSET\r\n$9\r\na\nfilexyz\r\n"
        ));
    }
}
