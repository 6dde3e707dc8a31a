//! HSCAN, and the cursor/option rules every collection SCAN shares
//! (Redis's parseScanCursorOrReply and scanGenericCommand).
//!
//! The cursor is parsed first ("ERR invalid cursor"), then the key is
//! looked up (a missing key answers an empty scan even if the options are
//! bad), then the options (COUNT >= 1, MATCH; TYPE only belongs to SCAN).
//! Compact encodings answer everything at once with cursor 0.

use super::read_hash;
use crate::commands::{err, Ctx};
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use bytes::Bytes;

/// Options of a collection SCAN.
pub(crate) struct ScanOpts {
    pub count: usize,
    /// None when absent or `*`.
    pub pattern: Option<Bytes>,
}

impl ScanOpts {
    pub fn matches(&self, s: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| glob_match(p, s, false))
    }
}

/// C's strtoul as Redis uses it for cursors: optional sign (a negative
/// value wraps), decimal digits, nothing after; no leading space, no
/// overflow. An empty string is cursor 0.
pub(crate) fn parse_cursor(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    if s[0].is_ascii_whitespace() {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses the cursor argument or replies "invalid cursor".
pub(crate) fn cursor_or_reply(ctx: &mut Ctx, arg: &[u8]) -> Option<u64> {
    let c = parse_cursor(arg);
    if c.is_none() {
        ctx.out.error("ERR invalid cursor");
    }
    c
}

/// Parses COUNT/MATCH from `args[3..]`, replying with the error on failure.
pub(crate) fn parse_opts(out: &mut Reply, args: &[Bytes]) -> Option<ScanOpts> {
    let mut opts = ScanOpts {
        count: 10,
        pattern: None,
    };
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - i;
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"count") && more >= 2 {
            let Some(n) = crate::util::num::parse_i64(&args[i + 1]) else {
                out.error(err::NOT_INT);
                return None;
            };
            if n < 1 {
                out.error(err::SYNTAX);
                return None;
            }
            opts.count = n as usize;
            i += 2;
        } else if a.eq_ignore_ascii_case(b"match") && more >= 2 {
            let p = &args[i + 1];
            opts.pattern = if &p[..] == b"*" {
                None
            } else {
                Some(p.clone())
            };
            i += 2;
        } else {
            out.error(err::SYNTAX);
            return None;
        }
    }
    Some(opts)
}

/// The empty reply for a SCAN of a missing key.
pub(crate) fn empty_scan(out: &mut Reply) {
    out.array_len(2);
    out.bulk(b"0");
    out.array_len(0);
}

pub fn hscan(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(cursor) = cursor_or_reply(ctx, &args[2]) else {
        return;
    };
    let (h, out) = match read_hash(ctx, &args[1]) {
        Err(()) => return,
        Ok(None) => {
            empty_scan(ctx.out);
            return;
        }
        Ok(Some(x)) => x,
    };
    let Some(opts) = parse_opts(out, args) else {
        return;
    };
    let (pairs, next) = h.scan(cursor, opts.count);
    let kept: Vec<_> = pairs.into_iter().filter(|(f, _)| opts.matches(f)).collect();
    out.array_len(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array_len(kept.len() * 2);
    for (f, v) in kept {
        out.bulk(f);
        out.bulk(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_rules() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+12"), Some(12));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1x"), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"abc"), None);
    }
}
