//! Reading redis.conf and the command line into directive lines, the way
//! redis-server does: the file first, then `--name value...` options
//! appended as if they were more lines (so they win), with Redis's
//! `*** FATAL CONFIG FILE ERROR ***` report on a bad line.

use super::directives;
use super::Config;
use crate::protocol::splitargs::split_args;

/// A fatal configuration error, printed like Redis's loadServerConfig.
#[derive(Debug)]
pub struct FatalConfigError {
    pub line_no: usize,
    pub line: String,
    pub reason: String,
}

impl std::fmt::Display for FatalConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}\n",
            self.line_no, self.line, self.reason
        )
    }
}

/// Turns command-line options (after the optional config file) into
/// config text, as redis-server's main() does: `--port 7000 --bind a b`
/// becomes "port 7000\nbind a b\n". A lone `-` reads stdin.
pub fn options_to_text(opts: &[String]) -> String {
    let mut text = String::new();
    let mut first = true;
    for o in opts {
        if let Some(name) = o.strip_prefix("--") {
            if !first {
                text.push('\n');
            }
            text.push_str(name);
            first = false;
        } else {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&quote_arg(o));
        }
    }
    text.push('\n');
    text
}

/// Quotes an option value so that split_args reads it back unchanged.
fn quote_arg(s: &str) -> String {
    if !s.is_empty()
        && !s
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'"' || b == b'\'' || b == b'\\')
    {
        return s.to_string();
    }
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Applies config text to `cfg`. Returns warnings (ignored directives).
pub fn load_text(cfg: &mut Config, text: &str) -> Result<Vec<String>, FatalConfigError> {
    let mut warnings = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fatal = |reason: &str| FatalConfigError {
            line_no: i + 1,
            line: line.to_string(),
            reason: reason.to_string(),
        };
        let Some(args) = split_args(line.as_bytes()) else {
            return Err(fatal("Unbalanced quotes in configuration line"));
        };
        if args.is_empty() {
            continue;
        }
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let vals: Vec<String> = args[1..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        match directives::apply_startup(cfg, &name, &vals) {
            Ok(Some(w)) => warnings.push(w),
            Ok(None) => {}
            Err(e) => return Err(fatal(&e)),
        }
    }
    Ok(warnings)
}
