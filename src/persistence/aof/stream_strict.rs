//! redis-check-aof 7.0.15's framing for [`super::StreamReader`] in
//! [`super::Mode::Strict`]: `readLong`/`readString`/`consumeNewline` and
//! the MULTI/EXEC pairing of `processRESP`, with its error texts and the
//! offsets (`epos`) it reports.

use super::{cstr, hex_char, strtol, Command, End, Fault, Item, StreamReader, Truncation};

/// redis-check-aof's `readLong` buffer.
const STRICT_HEADER_BUF: usize = 128;

impl<'a> StreamReader<'a> {
    /// redis-check-aof's `readLong`: a `prefix` line with exact CRLF.
    fn strict_long(&mut self, at: &mut usize, prefix: u8) -> Result<i64, Option<String>> {
        self.epos = *at;
        let Some(line) = self.fgets(*at, STRICT_HEADER_BUF) else {
            return Err(None);
        };
        *at += line.len();
        if line[0] != prefix {
            // ERROR() formats into a buffer that is then copied with %s:
            // a NUL byte printed by %c ends the message there.
            if line[0] == 0 {
                return Err(Some(format!(
                    "Expected prefix '{}', got: '",
                    prefix as char
                )));
            }
            return Err(Some(format!(
                "Expected prefix '{}', got: '{}'",
                prefix as char,
                String::from_utf8_lossy(&line[..1])
            )));
        }
        let (v, end, _) = strtol(&line[1..]);
        let c = cstr(line);
        let after = if end == 0 { 1 } else { 1 + end };
        self.newline(c.get(after).copied(), c.get(after + 1).copied())?;
        Ok(v)
    }

    /// `consumeNewline`: the two bytes must be `\r\n` (None: past the C
    /// string, printed as 00).
    fn newline(&mut self, a: Option<u8>, b: Option<u8>) -> Result<(), Option<String>> {
        if a == Some(b'\r') && b == Some(b'\n') {
            self.crlfs += 1;
            return Ok(());
        }
        let b = if a.is_none() { None } else { b };
        Err(Some(format!(
            "Expected \\r\\n, got: {}{}",
            hex_char(a.unwrap_or(0)),
            hex_char(b.unwrap_or(0))
        )))
    }

    fn strict_command(&mut self, start: usize) -> Result<Command<'a>, Option<String>> {
        let mut at = start;
        let argc = self.strict_long(&mut at, b'*')?;
        let mut args = Vec::with_capacity(argc.clamp(0, 1024) as usize);
        for i in 0..argc.max(0) {
            let len = self.strict_long(&mut at, b'$')?;
            if !(0..=i64::MAX - 2).contains(&len) {
                return Err(Some(format!(
                    "Expected to read string of {len} bytes, which is not in the suitable range"
                )));
            }
            self.epos = at;
            let want = len as u64 + 2;
            let avail = (self.data.len() - at) as u64;
            if avail < want {
                self.hit_eof = true;
                self.pos = self.data.len();
                return Err(Some(format!(
                    "Expected to read {want} bytes, got {avail} bytes"
                )));
            }
            let len = len as usize;
            let payload = &self.data[at..at + len];
            self.newline(Some(self.data[at + len]), Some(self.data[at + len + 1]))?;
            at += len + 2;
            if i == 0 {
                let name = cstr(payload);
                if name.eq_ignore_ascii_case(b"multi") {
                    if self.multi.is_some() {
                        return Err(Some(format!("Unexpected MULTI in AOF {}", self.file)));
                    }
                    self.multi = Some((self.good, start));
                } else if name.eq_ignore_ascii_case(b"exec") {
                    if self.multi.is_none() {
                        return Err(Some(format!("Unexpected EXEC in AOF {}", self.file)));
                    }
                    self.multi = None;
                }
            }
            args.push(payload);
        }
        Ok(Command {
            args,
            start: start as u64,
            end: at as u64,
        })
    }

    pub(super) fn next_strict(&mut self) -> Option<Item<'a>> {
        let start = self.pos;
        if self.multi.is_none() {
            self.good = start;
        }
        let Some(&c) = self.data.get(start) else {
            self.hit_eof = true;
            return match self.multi {
                Some((_, at)) => {
                    let fault = Fault::Framing {
                        offset: self.epos as u64,
                        reason: "Reached EOF before reading EXEC for MULTI".into(),
                    };
                    self.finish_with(End::Truncated {
                        last_good: self.good as u64,
                        cause: Truncation::UnclosedMulti {
                            multi_start: at as u64,
                        },
                        fault: Some(fault),
                    })
                }
                None => self.finish_with(End::Clean),
            };
        };
        match c {
            b'#' => self.annotation(start),
            b'*' => match self.strict_command(start) {
                Ok(cmd) => {
                    self.pos = cmd.end as usize;
                    if self.multi.is_none() {
                        self.good = self.pos;
                    }
                    Some(Item::Command(cmd))
                }
                Err(reason) => {
                    let reason = match (reason, self.multi) {
                        (Some(r), _) => Some(r),
                        (None, Some(_)) if self.hit_eof => {
                            Some("Reached EOF before reading EXEC for MULTI".to_owned())
                        }
                        (None, _) => None,
                    };
                    let fault = reason.map(|reason| Fault::Framing {
                        offset: self.epos as u64,
                        reason,
                    });
                    let last_good = self.good as u64;
                    if self.hit_eof {
                        self.finish_with(End::Truncated {
                            last_good,
                            cause: Truncation::InsideCommand {
                                command_start: start as u64,
                            },
                            fault,
                        })
                    } else {
                        let fault = fault.unwrap_or(Fault::Framing {
                            offset: start as u64,
                            reason: "unreadable command".into(),
                        });
                        self.finish_with(End::Corrupt { last_good, fault })
                    }
                }
            },
            byte => {
                let last_good = self.good as u64;
                self.finish_with(End::Corrupt {
                    last_good,
                    fault: Fault::BadLineStart {
                        offset: start as u64,
                        byte,
                    },
                })
            }
        }
    }
}
