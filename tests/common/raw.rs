//! Raw RESP over TCP for the integration tests: encode commands, read
//! whole replies as their exact bytes, split and show frames, and run
//! redis-cli. Re-exported from `common`.

use super::REPLY_DEADLINE;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Encodes a command as a RESP multibulk.
pub fn encode_cmd<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What a read on a [`RawConn`] ended with, when it did not yield a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEnd {
    /// The peer closed the connection (EOF or reset).
    Closed,
    /// No complete reply before the deadline.
    Timeout,
}

/// A raw TCP connection that sends bytes and reads whole RESP2/RESP3
/// replies as their exact bytes.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect_timeout(&addr, REPLY_DEADLINE)
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_nodelay(true).ok();
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// A second handle on the socket, e.g. to write from another thread
    /// while this one reads.
    pub fn stream_clone(&self) -> TcpStream {
        self.stream.try_clone().expect("clone socket")
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Sends raw bytes, tolerating a connection the server already closed.
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Sends one command as a multibulk.
    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send(&encode_cmd(args));
    }

    /// Sends a command and returns its reply's bytes (panics if none).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send_cmd(args);
        self.reply()
    }

    /// Like [`RawConn::cmd`] with the reply as (lossy) text, for asserts.
    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// The next reply's bytes; panics if none arrives in time.
    pub fn reply(&mut self) -> Vec<u8> {
        match self.read_reply(REPLY_DEADLINE) {
            Ok(r) => r,
            Err(e) => panic!(
                "expected a reply, got {e:?} (buffered: {:?})",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// The next reply's bytes, or how the wait ended.
    pub fn read_reply(&mut self, wait: Duration) -> Result<Vec<u8>, ReadEnd> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Ok(self.buf.drain(..n).collect());
            }
            self.fill(deadline)?;
        }
    }

    /// The next line (without its `\n`, and without a `\r` before it).
    pub fn read_line(&mut self, wait: Duration) -> Result<Vec<u8>, ReadEnd> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            self.fill(deadline)?;
        }
    }

    /// Exactly `n` bytes (a payload that is not a RESP frame).
    pub fn read_bytes(&mut self, n: usize, wait: Duration) -> Result<Vec<u8>, ReadEnd> {
        let deadline = Instant::now() + wait;
        while self.buf.len() < n {
            self.fill(deadline)?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads until the peer closes; returns everything received meanwhile.
    /// Fails if the connection is still open at the deadline.
    /// Acts as a replica: SYNC, then reads the RDB payload (returned);
    /// the connection is left reading the replication stream.
    pub fn sync(&mut self, wait: Duration) -> Vec<u8> {
        self.send(b"SYNC\r\n");
        // Newlines keep the link alive while the master prepares the RDB.
        let header = loop {
            let line = self.read_line(wait).expect("the bulk header");
            if !line.is_empty() {
                break line;
            }
        };
        assert_eq!(
            header[0],
            b'$',
            "bulk header, got {:?}",
            String::from_utf8_lossy(&header)
        );
        let len: usize = std::str::from_utf8(&header[1..]).unwrap().parse().unwrap();
        self.read_bytes(len, wait).expect("the RDB payload")
    }

    pub fn read_to_close(&mut self, wait: Duration) -> Result<Vec<u8>, ReadEnd> {
        let deadline = Instant::now() + wait;
        loop {
            match self.fill(deadline) {
                Ok(()) => {}
                Err(ReadEnd::Closed) => return Ok(std::mem::take(&mut self.buf)),
                Err(ReadEnd::Timeout) => return Err(ReadEnd::Timeout),
            }
        }
    }

    /// Reads more bytes into the buffer (at least one), or reports why not.
    fn fill(&mut self, deadline: Instant) -> Result<(), ReadEnd> {
        let now = Instant::now();
        if now >= deadline {
            return Err(ReadEnd::Timeout);
        }
        self.stream
            .set_read_timeout(Some(deadline - now))
            .expect("set timeout");
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(ReadEnd::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                Err(ReadEnd::Timeout)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            Err(_) => Err(ReadEnd::Closed),
        }
    }
}

/// Length of the complete RESP2/RESP3 frame at the start of `buf`, or
/// None if it is not complete yet. Attributes (`|`) count as part of the
/// frame they precede. Malformed input panics: servers must not send it.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let nl = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = &buf[1..nl];
    let after = nl + 2;
    let num = || -> i64 {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad RESP length line {:?}", String::from_utf8_lossy(buf)))
    };
    match buf[0] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = num();
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num();
            if n < 0 {
                return Some(after);
            }
            let items = if matches!(buf[0], b'%' | b'|') {
                n * 2
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items {
                pos += frame_len(&buf[pos..])?;
            }
            if buf[0] == b'|' {
                // An attribute map is followed by the reply it annotates.
                pos += frame_len(&buf[pos..])?;
            }
            Some(pos)
        }
        other => panic!(
            "unexpected RESP type byte {:?} in {:?}",
            other as char,
            String::from_utf8_lossy(buf)
        ),
    }
}

/// Splits an aggregate frame (`*`, `~`, `>`, `%`) into its element frames
/// (maps give keys and values in turn). None for other types.
pub fn frame_elements(frame: &[u8]) -> Option<Vec<Vec<u8>>> {
    if !matches!(frame.first(), Some(b'*' | b'~' | b'>' | b'%')) {
        return None;
    }
    let nl = frame.windows(2).position(|w| w == b"\r\n")?;
    let n: i64 = std::str::from_utf8(&frame[1..nl]).ok()?.parse().ok()?;
    if n < 0 {
        return None;
    }
    let items = if frame[0] == b'%' { n * 2 } else { n };
    let mut pos = nl + 2;
    let mut out = Vec::new();
    for _ in 0..items {
        let len = frame_len(&frame[pos..])?;
        out.push(frame[pos..pos + len].to_vec());
        pos += len;
    }
    Some(out)
}

/// Shows bytes with CR/LF escaped, for failure messages.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Runs redis-cli with `args` against `port`; returns its stdout.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-h")
        .arg("127.0.0.1")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_len_handles_nesting_and_partial_input() {
        assert_eq!(frame_len(b"+OK\r\n"), Some(5));
        assert_eq!(frame_len(b"$3\r\nab"), None);
        assert_eq!(frame_len(b"$-1\r\n"), Some(5));
        let arr = b"*2\r\n$1\r\na\r\n%1\r\n+k\r\n:1\r\n";
        assert_eq!(frame_len(arr), Some(arr.len()));
        assert_eq!(frame_len(&arr[..arr.len() - 1]), None);
        let els = frame_elements(arr).unwrap();
        assert_eq!(
            els,
            vec![b"$1\r\na\r\n".to_vec(), b"%1\r\n+k\r\n:1\r\n".to_vec()]
        );
    }
}
