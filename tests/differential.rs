//! Differential test: every script in `tests/differential/*.txt` runs
//! against a fresh keel-server and a fresh real redis-server, and each
//! reply must be byte-for-byte identical. Real Redis 7.0.15 is the oracle,
//! so a script needs no expected values: adding a line adds a check.
//!
//! Script format (one command per line, redis-cli quoting: `"a b\x00"`,
//! `'it'`):
//!
//! ```text
//! # a comment; blank lines are ignored
//! SET k v                  # (no trailing comments: '#' would be an argument)
//! !ignore TIME             # both must reply, the contents are not compared
//! !sort KEYS *             # compare an array/set reply with its elements sorted
//! !replies 2 UNSUBSCRIBE   # read 2 replies (SUBSCRIBE a b c reads 3 by itself)
//! @2 SUBSCRIBE ch          # run on connection 2 (connections open on first use)
//! @2 !read                 # send nothing, read the next reply (a pushed message)
//! ```
//!
//! Markers combine (`@2 !ignore PING`). A file whose first line is
//! `# pending: <reason>` is skipped with a visible message (it documents
//! commands not implemented yet); `KEEL_DIFF_PENDING=1` runs it anyway.
//! `KEEL_DIFF=strings,errors` runs only those files. `KEEL_DIFF_SELFCHECK=1`
//! runs redis-server on both sides, to prove a new script deterministic.
//!
//! Every mismatch is reported with its file, line, command and both
//! replies, and the test fails if there is any. A line that redis-server
//! itself leaves unanswered is a script error (it would only compare two
//! timeouts). If a reply is missing or a
//! connection is closed, that connection is reopened on both servers so
//! the following lines stay comparable.

mod common;

use common::{encode_cmd, frame_elements, show, RawConn, ReadEnd, Server};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long to wait for one reply before calling it missing.
const WAIT: Duration = Duration::from_secs(5);

/// How a line's replies are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Exact,
    Ignore,
    Sorted,
}

/// One parsed script line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    line: usize,
    text: String,
    conn: usize,
    compare: Compare,
    /// None: send nothing and only read.
    args: Option<Vec<Vec<u8>>>,
    replies: usize,
}

/// Parses a script; errors name the line.
fn parse_script(src: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let line = i + 1;
        let mut rest = raw.trim();
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        let mut conn = 1;
        let mut compare = Compare::Exact;
        let mut replies = None;
        let mut read_only = false;
        loop {
            let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(n) = word.strip_prefix('@') {
                conn = n
                    .parse()
                    .map_err(|_| format!("line {line}: bad connection {word:?}"))?;
            } else if word == "!ignore" {
                compare = Compare::Ignore;
            } else if word == "!sort" {
                compare = Compare::Sorted;
            } else if word == "!read" {
                read_only = true;
            } else if word == "!replies" {
                let (n, t) = tail.trim_start().split_once(' ').unwrap_or((tail, ""));
                replies = Some(
                    n.trim()
                        .parse()
                        .map_err(|_| format!("line {line}: bad !replies count"))?,
                );
                rest = t.trim_start();
                continue;
            } else if word.starts_with('!') {
                return Err(format!("line {line}: unknown marker {word}"));
            } else {
                break;
            }
            rest = tail.trim_start();
        }
        let args = if read_only {
            if !rest.is_empty() {
                return Err(format!("line {line}: !read takes no command"));
            }
            None
        } else {
            let a = keel::protocol::splitargs::split_args(rest.as_bytes())
                .ok_or_else(|| format!("line {line}: unbalanced quotes"))?;
            if a.is_empty() {
                return Err(format!("line {line}: no command"));
            }
            Some(a)
        };
        let replies = replies.unwrap_or_else(|| default_replies(args.as_deref()));
        steps.push(Step {
            line,
            text: rest.to_string(),
            conn,
            compare,
            args,
            replies,
        });
    }
    Ok(steps)
}

/// Replies a command sends: one, except the (un)subscribe family which
/// answers once per channel named.
fn default_replies(args: Option<&[Vec<u8>]>) -> usize {
    let Some(args) = args else { return 1 };
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let multi = matches!(
        name.as_str(),
        "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe" | "sunsubscribe"
    );
    if multi && args.len() > 1 {
        args.len() - 1
    } else {
        1
    }
}

/// The replies (or how reading ended) for one step on one server.
fn run_step(srv: &Server, conns: &mut BTreeMap<usize, RawConn>, step: &Step) -> Vec<String> {
    let conn = conns.entry(step.conn).or_insert_with(|| srv.conn());
    if let Some(args) = &step.args {
        if !conn.try_send(&encode_cmd(args)) {
            conns.remove(&step.conn);
            return vec!["<connection closed>".into()];
        }
    }
    let mut out = Vec::new();
    for _ in 0..step.replies {
        match conn.read_reply(WAIT) {
            Ok(frame) => out.push(render(&frame, step.compare)),
            Err(end) => {
                out.push(match end {
                    ReadEnd::Closed => "<connection closed>".into(),
                    ReadEnd::Timeout => "<no reply>".into(),
                });
                // Resynchronise: the next line starts on a new connection.
                conns.remove(&step.conn);
                break;
            }
        }
    }
    out
}

fn render(frame: &[u8], compare: Compare) -> String {
    match compare {
        Compare::Exact => show(frame),
        Compare::Ignore => "<any reply>".into(),
        Compare::Sorted => match frame_elements(frame) {
            Some(mut els) => {
                els.sort();
                let head_len = frame.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                let mut s = show(&frame[..head_len]);
                for e in els {
                    s.push_str(&show(&e));
                }
                s
            }
            None => show(frame),
        },
    }
}

/// Runs one script; returns (steps run, mismatch reports).
fn run_script(name: &str, steps: &[Step]) -> (usize, Vec<String>) {
    // KEEL_DIFF_SELFCHECK=1 runs redis against redis: a script line that
    // differs then is not deterministic and must be marked or rewritten.
    // DEBUG is enabled on both sides, so DEBUG lines (DIGEST-VALUE,
    // QUICKLIST-PACKED-THRESHOLD ...) compare their results, not the
    // "not allowed" error.
    let opts = ["--enable-debug-command", "yes"];
    let keel = if std::env::var("KEEL_DIFF_SELFCHECK").is_ok_and(|v| v == "1") {
        Server::redis_with(&opts)
    } else {
        Server::keel_with(&opts)
    };
    let redis = Server::redis_with(&opts);
    let mut kc = BTreeMap::new();
    let mut rc = BTreeMap::new();
    let mut bad = Vec::new();
    for step in steps {
        let k = run_step(&keel, &mut kc, step);
        let r = run_step(&redis, &mut rc, step);
        let closed = |v: &Vec<String>| v.iter().any(|s| s.starts_with("<connection closed"));
        if closed(&k) != closed(&r) {
            // One side closed: reset both so they stay comparable.
            kc.remove(&step.conn);
            rc.remove(&step.conn);
        }
        if r.iter().any(|s| s == "<no reply>") {
            // Redis itself sent nothing: the script waits for a reply that
            // never comes, and the line would compare two timeouts (a
            // check that cannot fail, costing WAIT on each side).
            bad.push(format!(
                "{name}:{}: {}: redis-server sent no reply within {WAIT:?}: fix the script",
                step.line, step.text
            ));
        } else if k != r {
            bad.push(format!(
                "{name}:{}: {}{}\n    keel:  {}\n    redis: {}",
                step.line,
                if step.conn != 1 {
                    format!("@{} ", step.conn)
                } else {
                    String::new()
                },
                step.text,
                k.join(" | "),
                r.join(" | ")
            ));
        }
    }
    (steps.len(), bad)
}

fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn differential_against_redis() {
    if common::redis_or_skip("differential_against_redis").is_none() {
        return;
    }
    let only: Option<Vec<String>> = std::env::var("KEEL_DIFF")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let run_pending = std::env::var("KEEL_DIFF_PENDING").is_ok_and(|v| v == "1");
    let mut total = 0;
    let mut failures = Vec::new();
    for path in scripts() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if only.as_ref().is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        if let Some(reason) = src
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# pending:"))
        {
            if !run_pending {
                eprintln!("PENDING {name}.txt skipped:{reason} (KEEL_DIFF_PENDING=1 runs it)");
                continue;
            }
        }
        let steps = parse_script(&src).unwrap_or_else(|e| panic!("{name}.txt: {e}"));
        let (n, bad) = run_script(&name, &steps);
        eprintln!("{name}.txt: {n} lines, {} mismatches", bad.len());
        total += n;
        failures.extend(bad);
    }
    eprintln!(
        "differential: {total} lines run, {} mismatches",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} replies differ from redis-server:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn script_parser_reads_markers_and_quotes() {
    let steps = parse_script(
        "# c\n\nSET k \"a b\"\n@2 !ignore TIME\n!sort KEYS *\n@3 !read\n!replies 2 UNSUBSCRIBE\nSUBSCRIBE a b c\n",
    )
    .unwrap();
    assert_eq!(steps.len(), 6);
    assert_eq!(steps[0].line, 3);
    assert_eq!(
        steps[0].args,
        Some(vec![b"SET".to_vec(), b"k".to_vec(), b"a b".to_vec()])
    );
    assert_eq!((steps[1].conn, steps[1].compare), (2, Compare::Ignore));
    assert_eq!(steps[2].compare, Compare::Sorted);
    assert_eq!((steps[3].conn, steps[3].args.is_none()), (3, true));
    assert_eq!(steps[4].replies, 2);
    assert_eq!(steps[5].replies, 3);
    assert!(parse_script("!bogus PING").is_err());
    assert!(parse_script("SET k \"open").is_err());
}

#[test]
fn sorted_rendering_ignores_element_order() {
    let a = render(b"*2\r\n$1\r\nb\r\n$1\r\na\r\n", Compare::Sorted);
    let b = render(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", Compare::Sorted);
    assert_eq!(a, b);
    let c = render(b"*2\r\n$1\r\na\r\n$1\r\nc\r\n", Compare::Sorted);
    assert_ne!(a, c);
}
