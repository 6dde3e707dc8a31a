//! Incremental request parser (multibulk and inline), resumable across reads
//! so that a command split over many TCP segments is not re-parsed from the
//! start each time.

use bytes::{Buf, Bytes, BytesMut};

/// Redis's PROTO_INLINE_MAX_SIZE: the longest line we wait for.
const INLINE_MAX: usize = 64 * 1024;

/// Limits applied while parsing, taken from the config at each call.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// proto-max-bulk-len
    pub max_bulk_len: i64,
    /// True while the connection still has to AUTH: Redis then refuses
    /// multibulk counts over 10 and bulks over 16384 bytes.
    pub unauthenticated: bool,
}

/// A protocol violation. The text is the exact error Redis replies with
/// (without the leading `-ERR `); the connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

/// State kept between reads for a multibulk request being received.
#[derive(Default)]
pub struct RequestParser {
    /// Arguments still expected in the current multibulk (0: none started).
    multibulk_left: usize,
    /// Length of the bulk being received, once its header was read.
    bulk_len: Option<usize>,
    args: Vec<Bytes>,
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a multibulk request is partially received.
    pub fn in_progress(&self) -> bool {
        self.multibulk_left > 0
    }

    /// Bytes of arguments already parsed for the request in progress.
    pub fn pending_args_len(&self) -> usize {
        self.args.iter().map(|a| a.len()).sum()
    }

    /// Parses the next complete command from `buf`, consuming its bytes.
    /// `Ok(None)`: more input is needed. An empty argument vector (an empty
    /// inline line or `*0`) is returned as `Some(vec![])` and must be skipped.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        limits: ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ParseError> {
        if self.multibulk_left == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                return parse_inline(buf);
            }
            let Some(nl) = memchr(b'\r', buf) else {
                if buf.len() > INLINE_MAX {
                    return Err(err("Protocol error: too big mbulk count string"));
                }
                return Ok(None);
            };
            if nl + 1 >= buf.len() {
                return Ok(None); // wait for the \n
            }
            let count = parse_i64(&buf[1..nl]);
            let count = match count {
                Some(c) if c <= i32::MAX as i64 => c,
                _ => return Err(err("Protocol error: invalid multibulk length")),
            };
            if count > 10 && limits.unauthenticated {
                return Err(err("Protocol error: unauthenticated multibulk length"));
            }
            buf.advance(nl + 2);
            if count <= 0 {
                return Ok(Some(Vec::new()));
            }
            self.multibulk_left = count as usize;
            self.args = Vec::with_capacity((count as usize).min(1024));
        }
        while self.multibulk_left > 0 {
            let len = match self.bulk_len {
                Some(l) => l,
                None => {
                    let Some(nl) = memchr(b'\r', buf) else {
                        if buf.len() > INLINE_MAX {
                            return Err(err("Protocol error: too big bulk count string"));
                        }
                        return Ok(None);
                    };
                    if nl + 1 >= buf.len() {
                        return Ok(None);
                    }
                    if buf[0] != b'$' {
                        return Err(err(&format!(
                            "Protocol error: expected '$', got '{}'",
                            buf[0] as char
                        )));
                    }
                    let l = match parse_i64(&buf[1..nl]) {
                        Some(l) if l >= 0 && l <= limits.max_bulk_len => l,
                        _ => return Err(err("Protocol error: invalid bulk length")),
                    };
                    if l > 16384 && limits.unauthenticated {
                        return Err(err("Protocol error: unauthenticated bulk length"));
                    }
                    buf.advance(nl + 2);
                    let l = l as usize;
                    if buf.capacity() - buf.len() < l + 2 && l >= 32 * 1024 {
                        // A big argument: make room for it in one go.
                        buf.reserve(l + 2);
                    }
                    self.bulk_len = Some(l);
                    l
                }
            };
            if buf.len() < len + 2 {
                return Ok(None);
            }
            let arg = buf.split_to(len).freeze();
            buf.advance(2); // Redis does not check that these are \r\n
            self.args.push(arg);
            self.bulk_len = None;
            self.multibulk_left -= 1;
        }
        Ok(Some(std::mem::take(&mut self.args)))
    }
}

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(err("Protocol error: too big inline request"));
        }
        return Ok(None);
    };
    let end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let args = super::splitargs::split_args(&buf[..end])
        .ok_or_else(|| err("Protocol error: unbalanced quotes in request"))?;
    buf.advance(nl + 1);
    Ok(Some(args.into_iter().map(Bytes::from).collect()))
}

fn err(s: &str) -> ParseError {
    ParseError(s.to_string())
}

fn memchr(c: u8, b: &[u8]) -> Option<usize> {
    b.iter().position(|&x| x == c)
}

/// Redis's string2ll: optional '-', digits, no leading zeros, no spaces.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    crate::util::num::parse_i64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: ParseLimits = ParseLimits {
        max_bulk_len: 512 * 1024 * 1024,
        unauthenticated: false,
    };

    fn all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ParseError> {
        let mut p = RequestParser::new();
        let mut b = BytesMut::from(input);
        let mut out = vec![];
        while let Some(c) = p.next(&mut b, L)? {
            out.push(c.into_iter().map(|a| a.to_vec()).collect());
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let r = all(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\nset 'a b' c\n").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], vec![b"GET".to_vec(), b"a".to_vec()]);
        assert_eq!(r[1], vec![b"PING".to_vec()]);
        assert_eq!(r[2][1], b"a b".to_vec());
    }

    #[test]
    fn resumes_byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut p = RequestParser::new();
        let mut b = BytesMut::new();
        let mut got = None;
        for &c in input.iter() {
            b.extend_from_slice(&[c]);
            if let Some(cmd) = p.next(&mut b, L).unwrap() {
                got = Some(cmd);
            }
        }
        assert_eq!(got.unwrap()[2].as_ref(), b"value");
    }

    #[test]
    fn errors() {
        assert_eq!(
            all(b"*3000000000\r\n").unwrap_err().0,
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            all(b"*1\r\nfoo\r\n").unwrap_err().0,
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(
            all(b"*1\r\n$-10\r\n").unwrap_err().0,
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            all(b"set \"a\r\n").unwrap_err().0,
            "Protocol error: unbalanced quotes in request"
        );
        let big = vec![b'a'; 70000];
        assert_eq!(
            all(&big).unwrap_err().0,
            "Protocol error: too big inline request"
        );
    }

    #[test]
    fn empty_commands() {
        assert_eq!(
            all(b"*0\r\n\r\n").unwrap(),
            vec![Vec::<Vec<u8>>::new(), Vec::new()]
        );
    }
}
