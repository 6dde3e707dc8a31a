//! What the server does with one AOF file once the lenient reader has
//! walked its command stream (Redis 7.0's `loadSingleAppendOnlyFile` tail
//! and `loadAppendOnlyFiles`): go on, cut a torn tail, or refuse to start,
//! with the warnings Redis logs, word for word, so logs and tests that
//! grep them keep working.
//!
//! keel is stricter than Redis in one place and more talkative in all:
//! * a truncated file that is not the last one is refused *before*
//!   anything is cut (Redis truncates it on disk first, then refuses, so
//!   the next start silently loads the shortened file);
//! * every refusal adds a line naming the file, the offset where it goes
//!   bad, how much before it is intact, and the repair command.

use super::stream::{End, Fault, Truncation};

/// The outcome for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Fully loaded: go on with the next file.
    Loaded,
    /// Cut the file on disk to `to` bytes (then fsync it), log `warnings`
    /// and go on: this was the last file and `aof-load-truncated yes`.
    /// Commands of an unclosed MULTI must not have been applied.
    Truncate { to: u64, warnings: Vec<String> },
    /// Do not start; log `warnings`. The file is left as it is.
    Refuse { warnings: Vec<String> },
}

/// Where the file is and how the server is configured.
#[derive(Clone, Copy, Debug)]
pub struct FileContext<'a> {
    /// The file's name as the manifest lists it.
    pub file: &'a str,
    /// The last file of the load order (only it may be cut).
    pub is_last: bool,
    /// `aof-load-truncated`.
    pub load_truncated: bool,
    /// The manifest's path, for the repair advice.
    pub manifest_path: &'a str,
}

/// `Unknown command '<name>' reading the append only file <file>` (the
/// loader's refusal when a command is not in the table).
pub fn unknown_command_warning(name: &[u8], file: &str) -> String {
    format!(
        "Unknown command '{}' reading the append only file {file}",
        String::from_utf8_lossy(name)
    )
}

fn fix_advice(cx: &FileContext, at: u64, good: u64) -> String {
    if cx.is_last {
        format!(
            "AOF {} is damaged at offset {at}; the {good} bytes before offset {good} are intact. \
             To keep them, back the directory up, then run: keel-check-aof --fix {}",
            cx.file, cx.manifest_path
        )
    } else {
        format!(
            "AOF {} is damaged at offset {at}; the {good} bytes before offset {good} are intact. \
             It is not the last file of {}, so --fix will not cut it: restore it from a backup, \
             or truncate it to {good} bytes and remove the files listed after it from the manifest \
             (their commands are lost).",
            cx.file, cx.manifest_path
        )
    }
}

/// Decides what to do with one file whose stream ended with `end`.
pub fn judge(end: &End, cx: &FileContext) -> Verdict {
    let file = cx.file;
    match end {
        End::Clean => Verdict::Loaded,
        // Redis's own line comes last: it is the one a log's tail shows.
        End::Corrupt { last_good, fault } => Verdict::Refuse {
            warnings: vec![
                match fault {
                    Fault::BadLineStart { offset, byte } => format!(
                        "AOF {file}: at offset {offset} a line starts with byte 0x{byte:02x} (neither a command nor an annotation)"
                    ),
                    Fault::Framing { offset, reason } => {
                        format!("AOF {file}: at offset {offset}: {reason}")
                    }
                },
                fix_advice(cx, fault.offset(), *last_good),
                format!(
                    "Bad file format reading the append only file {file}: make a backup of your AOF file, \
                     then use ./redis-check-aof --fix <filename.manifest>"
                ),
            ],
        },
        End::Truncated {
            last_good, cause, ..
        } => {
            let mut warnings = Vec::new();
            if let Truncation::UnclosedMulti { .. } = cause {
                warnings.push(format!(
                    "Revert incomplete MULTI/EXEC transaction in AOF file {file}"
                ));
            }
            let at = match cause {
                Truncation::InsideCommand { command_start } => *command_start,
                Truncation::UnclosedMulti { multi_start } => *multi_start,
            };
            if !cx.load_truncated {
                warnings.push(fix_advice(cx, at, *last_good));
                warnings.push(format!(
                    "Unexpected end of file reading the append only file {file}. You can: \
                     1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. \
                     2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
                ));
                return Verdict::Refuse { warnings };
            }
            if !cx.is_last {
                warnings.push(fix_advice(cx, at, *last_good));
                warnings.push("Fatal error: the truncated file is not the last file".to_owned());
                return Verdict::Refuse { warnings };
            }
            warnings.push(format!(
                "!!! Warning: short read while loading the AOF file {file}!!!"
            ));
            warnings.push(format!(
                "!!! Truncating the AOF {file} at offset {last_good} !!!"
            ));
            warnings.push(format!(
                "AOF {file} loaded anyway because aof-load-truncated is enabled"
            ));
            Verdict::Truncate {
                to: *last_good,
                warnings,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::aof::stream::{Mode, StreamReader};

    fn cx(is_last: bool, load_truncated: bool) -> FileContext<'static> {
        FileContext {
            file: "appendonly.aof.2.incr.aof",
            is_last,
            load_truncated,
            manifest_path: "appendonlydir/appendonly.aof.manifest",
        }
    }

    fn fixture_log(name: &str, run: &str) -> Vec<String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/aof")
            .join(format!("{name}.expect"));
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        j[run]["log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    }

    fn end_of(data: &[u8]) -> End {
        StreamReader::new(data, Mode::Lenient).finish()
    }

    const SET: &[u8] = b"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n";

    #[test]
    fn clean_loads() {
        assert_eq!(judge(&end_of(SET), &cx(true, true)), Verdict::Loaded);
    }

    #[test]
    fn torn_tail_matches_redis_log() {
        let data = [SET, b"*1\r\n$3\r\nba"].concat();
        let Verdict::Truncate { to, warnings } = judge(&end_of(&data), &cx(true, true)) else {
            panic!()
        };
        assert_eq!(to, 22);
        let log = fixture_log("truncated-last-incr", "redis_server");
        for w in [&warnings[0], &warnings[2]] {
            assert!(log.contains(w), "{w} not in {log:?}");
        }
        assert!(warnings[2].ends_with("loaded anyway because aof-load-truncated is enabled"));
        // aof-load-truncated no: keel's advice, then Redis's line (last,
        // where a log's tail shows it).
        let Verdict::Refuse { warnings } = judge(&end_of(&data), &cx(true, false)) else {
            panic!()
        };
        let log = fixture_log("truncated-last-incr", "redis_server_no_truncate");
        assert!(log.contains(&warnings[1]), "{:?}", warnings[1]);
        assert!(warnings[0].contains("damaged at offset 22; the 22 bytes before offset 22"));
        assert!(warnings[0].contains("keel-check-aof --fix appendonlydir/appendonly.aof.manifest"));
    }

    #[test]
    fn unclosed_multi_reverts() {
        let multi = b"*1\r\n$5\r\nMULTI\r\n";
        let data = [SET, multi, SET].concat();
        let Verdict::Truncate { to, warnings } = judge(&end_of(&data), &cx(true, true)) else {
            panic!()
        };
        assert_eq!(to, 22);
        assert_eq!(
            warnings[0],
            "Revert incomplete MULTI/EXEC transaction in AOF file appendonly.aof.2.incr.aof"
        );
        let log = fixture_log("unclosed-multi", "redis_server");
        assert!(log
            .iter()
            .any(|l| l.starts_with("Revert incomplete MULTI/EXEC")));
    }

    #[test]
    fn non_last_truncated_file_is_refused_uncut() {
        let data = [SET, b"*1\r\n$3\r\nba"].concat();
        let Verdict::Refuse { warnings } = judge(&end_of(&data), &cx(false, true)) else {
            panic!()
        };
        assert_eq!(
            warnings[1],
            "Fatal error: the truncated file is not the last file"
        );
        let log = fixture_log("truncated-nonlast", "redis_server");
        assert!(log.contains(&warnings[1]));
        assert!(warnings[0].contains("not the last file"));
    }

    #[test]
    fn corruption_is_refused_with_the_offset() {
        let data = [SET, b"\0\0\0\0"].concat();
        let Verdict::Refuse { warnings } = judge(&end_of(&data), &cx(true, true)) else {
            panic!()
        };
        let log = fixture_log("nul-tail", "redis_server");
        assert!(log.contains(&warnings[2]), "{:?}", warnings[2]);
        assert!(warnings[0].contains("at offset 22 a line starts with byte 0x00"));
        assert_eq!(
            unknown_command_warning(b"FOOBAR", "appendonly.aof.2.incr.aof"),
            fixture_log("unknown-command", "redis_server")
                .last()
                .unwrap()
                .as_str()
        );
    }
}
