//! Reply encoding for RESP2 and RESP3.
//!
//! Handlers call typed methods (`bulk`, `map_len`, `double`, ...) and the
//! writer picks the wire form for the connection's protocol: a RESP3 map is
//! a flat array of twice the length in RESP2, a double is a bulk string, and
//! the two kinds of null (`$-1` for a missing string, `*-1` for a missing
//! array) both become `_` in RESP3.

use crate::util::num::fmt_double;

/// A buffer of encoded replies for one connection.
#[derive(Debug, Default)]
pub struct Reply {
    pub buf: Vec<u8>,
    /// 2 or 3.
    pub resp: u8,
    /// The error code (first word) of the last error written, used for
    /// error statistics; reset by the dispatcher before each command.
    pub last_error: Option<String>,
    /// Number of errors written since the last reset.
    pub errors: u32,
    /// CLIENT REPLY OFF/SKIP: replies are dropped...
    pub suppress: bool,
    /// ...except while this is set (Redis's CLIENT_PUSHING: pub/sub
    /// messages and subscription confirmations always reach the client).
    pub pushing: bool,
}

/// A length header reserved before the element count is known; see
/// [`Reply::defer`] and [`Reply::fill`].
#[derive(Debug)]
pub struct Deferred {
    pos: usize,
}

/// Kinds of aggregate for a deferred length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    Array,
    Map,
    Set,
}

impl Reply {
    pub fn new(resp: u8) -> Self {
        Reply {
            buf: Vec::with_capacity(256),
            resp,
            last_error: None,
            errors: 0,
            suppress: false,
            pushing: false,
        }
    }

    /// The one place bytes are appended, so that suppression applies to
    /// every kind of reply.
    #[inline]
    fn w(&mut self, b: &[u8]) {
        if !self.suppress || self.pushing {
            self.buf.extend_from_slice(b);
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.resp >= 3
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn header(&mut self, c: u8, n: i64) {
        self.w(&[c]);
        self.w(itoa::Buffer::new().format(n).as_bytes());
        self.w(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.w(b"+OK\r\n");
    }

    /// `+text`: the text must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.w(b"+");
        self.w(s.as_bytes());
        self.w(b"\r\n");
    }

    /// Writes an error. `msg` is the full text after `-`, code included
    /// (`"ERR syntax error"`, `"WRONGTYPE Operation ..."`). If it does not
    /// start with an upper-case code, `ERR ` is prepended as Redis does.
    /// CR and LF are replaced by spaces so the reply stays one line.
    pub fn error(&mut self, msg: &str) {
        let msg = msg.strip_prefix('-').unwrap_or(msg);
        let code_len = msg.find(' ').unwrap_or(msg.len());
        let has_code = code_len > 0 && msg[..code_len].bytes().all(|b| b.is_ascii_uppercase());
        self.w(b"-");
        if !has_code {
            self.w(b"ERR ");
        }
        let line: Vec<u8> = msg
            .bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        self.w(&line);
        self.w(b"\r\n");
        let code = if has_code {
            msg[..code_len].to_string()
        } else {
            "ERR".to_string()
        };
        self.last_error = Some(code);
        self.errors += 1;
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.w(b);
        self.w(b"\r\n");
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    pub fn bulk_int(&mut self, n: i64) {
        self.bulk(itoa::Buffer::new().format(n).as_bytes());
    }

    /// A missing string: `$-1` in RESP2.
    pub fn null(&mut self) {
        if self.is_resp3() {
            self.w(b"_\r\n");
        } else {
            self.w(b"$-1\r\n");
        }
    }

    /// A missing array: `*-1` in RESP2.
    pub fn null_array(&mut self) {
        if self.is_resp3() {
            self.w(b"_\r\n");
        } else {
            self.w(b"*-1\r\n");
        }
    }

    pub fn array_len(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs (a flat array of 2n in RESP2).
    pub fn map_len(&mut self, n: usize) {
        if self.is_resp3() {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    pub fn set_len(&mut self, n: usize) {
        if self.is_resp3() {
            self.header(b'~', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    /// Out-of-band push (pub/sub messages): `>` in RESP3, `*` in RESP2.
    pub fn push_len(&mut self, n: usize) {
        if self.is_resp3() {
            self.header(b'>', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    /// A double, formatted as Redis's `%.17g` (`inf`, `-inf`, `nan`).
    pub fn double(&mut self, d: f64) {
        let s = fmt_double(d);
        if self.is_resp3() {
            self.w(b",");
            self.w(s.as_bytes());
            self.w(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    pub fn bool(&mut self, b: bool) {
        if self.is_resp3() {
            self.w(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Verbatim string (`=` with a 3-letter format) in RESP3, bulk in RESP2.
    pub fn verbatim(&mut self, s: &[u8], format: &str) {
        if self.is_resp3() {
            self.header(b'=', (s.len() + 4) as i64);
            self.w(format.as_bytes());
            self.w(b":");
            self.w(s);
            self.w(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    /// Big number (`(`) in RESP3, bulk in RESP2.
    pub fn big_number(&mut self, s: &str) {
        if self.is_resp3() {
            self.w(b"(");
            self.w(s.as_bytes());
            self.w(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// Appends already-encoded protocol.
    pub fn raw(&mut self, b: &[u8]) {
        self.w(b);
    }

    /// Reserves room for an aggregate header whose length is not known yet.
    pub fn defer(&mut self) -> Deferred {
        Deferred {
            pos: self.buf.len(),
        }
    }

    /// Writes the header reserved by `defer` for `n` elements (pairs for maps).
    pub fn fill(&mut self, d: Deferred, agg: Agg, n: usize) {
        let (c, n) = match (agg, self.is_resp3()) {
            (Agg::Array, _) => (b'*', n),
            (Agg::Map, true) => (b'%', n),
            (Agg::Map, false) => (b'*', 2 * n),
            (Agg::Set, true) => (b'~', n),
            (Agg::Set, false) => (b'*', n),
        };
        let mut h = Vec::with_capacity(16);
        h.push(c);
        h.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        h.extend_from_slice(b"\r\n");
        if !self.suppress || self.pushing {
            self.buf.splice(d.pos..d.pos, h);
        }
    }

    /// Array of bulk strings.
    pub fn bulk_array<I, B>(&mut self, items: I)
    where
        I: IntoIterator<Item = B>,
        I::IntoIter: ExactSizeIterator,
        B: AsRef<[u8]>,
    {
        let it = items.into_iter();
        self.array_len(it.len());
        for b in it {
            self.bulk(b.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_shapes() {
        let mut r = Reply::new(2);
        r.map_len(1);
        r.bulk(b"a");
        r.double(1.5);
        r.null();
        r.null_array();
        assert_eq!(r.buf, b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n$-1\r\n*-1\r\n");
        let mut r = Reply::new(3);
        r.map_len(1);
        r.double(f64::INFINITY);
        r.null();
        assert_eq!(r.buf, b"%1\r\n,inf\r\n_\r\n");
    }

    #[test]
    fn errors_get_a_code() {
        let mut r = Reply::new(2);
        r.error("syntax error");
        r.error("WRONGTYPE Operation against a key holding the wrong kind of value");
        assert!(r.buf.starts_with(b"-ERR syntax error\r\n-WRONGTYPE "));
        assert_eq!(r.last_error.as_deref(), Some("WRONGTYPE"));
    }

    #[test]
    fn deferred_lengths() {
        let mut r = Reply::new(2);
        r.int(1);
        let d = r.defer();
        r.bulk(b"x");
        r.fill(d, Agg::Map, 1);
        assert_eq!(r.buf, b":1\r\n*2\r\n$1\r\nx\r\n");
    }
}

#[cfg(test)]
mod suppress_tests {
    use super::*;

    #[test]
    fn suppressed_replies_leave_nothing_but_pushes() {
        let mut r = Reply::new(3);
        r.suppress = true;
        r.bulk(b"pong");
        r.int(12);
        r.error("ERR x\ny");
        r.bool(true);
        r.double(1.5);
        let d = r.defer();
        r.bulk(b"a");
        r.fill(d, Agg::Array, 1);
        assert!(r.buf.is_empty(), "{:?}", String::from_utf8_lossy(&r.buf));
        r.pushing = true;
        r.push_len(1);
        r.bulk(b"m");
        assert_eq!(r.buf, b">1\r\n$1\r\nm\r\n");
    }
}
