//! The listpack blob (Redis 7.0's `listpack.c` layout), as stored in RDB
//! values: small hashes and sorted sets, list nodes, stream nodes, and
//! sets in RDB 11.
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 = unknown),
//! entries, `0xFF`. Each entry is an encoding byte with its data, then a
//! "backlen" holding the entry's size so it can be walked backwards.
//! Strings that are canonical integers are stored as integers, exactly as
//! Redis's writer does, so our blobs are byte-identical to Redis's.
//!
//! The reader checks every bound, every backlen and the count: a hostile
//! blob is an error, never a panic or an out-of-bounds read.

use crate::util::num::parse_i64;

pub const HEADER: usize = 6;
pub const EOF: u8 = 0xFF;

/// One listpack element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LpEntry<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl LpEntry<'_> {
    /// The element as bytes (integers formatted in decimal).
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            LpEntry::Str(s) => s.to_vec(),
            LpEntry::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
        }
    }

    /// The element's bytes, integers formatted into `buf`.
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match *self {
            LpEntry::Str(s) => s,
            LpEntry::Int(n) => buf.format(n).as_bytes(),
        }
    }

    /// Whether the element equals the string `s` (lpCompare).
    pub fn eq_bytes(&self, s: &[u8]) -> bool {
        match *self {
            LpEntry::Str(x) => x == s,
            LpEntry::Int(n) => itoa::Buffer::new().format(n).as_bytes() == s,
        }
    }

    /// The element as an integer, if it is one (or a string that parses).
    pub fn as_int(self) -> Option<i64> {
        match self {
            LpEntry::Int(n) => Some(n),
            LpEntry::Str(s) => parse_i64(s),
        }
    }
}

/// Builds a listpack.
#[derive(Clone, Debug)]
pub struct LpWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for LpWriter {
    fn default() -> Self {
        Self::new()
    }
}

fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// Whether `back` (of `backlen_size(l)` bytes) is the backlen of an
/// entry of `l` bytes, as [`push_backlen`] writes it (no allocation: this
/// runs for every element of every loaded listpack).
fn backlen_matches(back: &[u8], l: usize) -> bool {
    let n = back.len();
    back.iter().enumerate().all(|(j, &b)| {
        let i = n - 1 - j;
        let group = ((l >> (7 * i)) & 127) as u8;
        b == if i == n - 1 { group } else { group | 128 }
    })
}

fn push_backlen(buf: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 127) as u8;
        buf.push(if i == n - 1 { group } else { group | 128 });
    }
}

impl LpWriter {
    pub fn new() -> Self {
        LpWriter {
            buf: vec![0; HEADER],
            count: 0,
        }
    }

    /// Number of elements pushed so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size in bytes the finished listpack will have.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends a string, stored as an integer when it is a canonical one
    /// shorter than 21 bytes (lpStringToInt64).
    pub fn push_str(&mut self, s: &[u8]) {
        push_str(&mut self.buf, s);
        self.count += 1;
    }

    /// Appends an integer in the smallest encoding.
    pub fn push_int(&mut self, v: i64) {
        push_int(&mut self.buf, v);
        self.count += 1;
    }

    /// The finished blob.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Appends the encoding of a string element (with its backlen) to `buf`;
/// canonical integers shorter than 21 bytes are stored as integers, as
/// lpAppend does.
pub fn push_str(buf: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.len() < 21 {
        if let Some(n) = parse_i64(s) {
            push_int(buf, n);
            return;
        }
    }
    let start = buf.len();
    let l = s.len();
    if l < 64 {
        buf.push(0x80 | l as u8);
    } else if l < 4096 {
        buf.push(0xE0 | (l >> 8) as u8);
        buf.push(l as u8);
    } else {
        buf.push(0xF0);
        buf.extend_from_slice(&(l as u32).to_le_bytes());
    }
    buf.extend_from_slice(s);
    let enc = buf.len() - start;
    push_backlen(buf, enc);
}

/// Appends the encoding of an integer element in its smallest encoding.
pub fn push_int(buf: &mut Vec<u8>, v: i64) {
    let (b, n) = encode_int(v);
    buf.extend_from_slice(&b[..n]);
}

/// An integer element (encoding, data and backlen: at most 10 bytes) and
/// its length.
pub fn encode_int(v: i64) -> ([u8; 10], usize) {
    let mut b = [0u8; 10];
    let enc = if (0..=127).contains(&v) {
        b[0] = v as u8;
        1
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u64) & 0x1fff;
        b[0] = 0xC0 | (u >> 8) as u8;
        b[1] = u as u8;
        2
    } else if i16::try_from(v).is_ok() {
        b[0] = 0xF1;
        b[1..3].copy_from_slice(&(v as i16).to_le_bytes());
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        b[0] = 0xF2;
        b[1..4].copy_from_slice(&(v as i32).to_le_bytes()[..3]);
        4
    } else if i32::try_from(v).is_ok() {
        b[0] = 0xF3;
        b[1..5].copy_from_slice(&(v as i32).to_le_bytes());
        5
    } else {
        b[0] = 0xF4;
        b[1..9].copy_from_slice(&v.to_le_bytes());
        9
    };
    // Every integer encoding is under 128 bytes: a one-byte backlen.
    b[enc] = enc as u8;
    (b, enc + 1)
}

/// Decodes the element at `pos` of a listpack known to be valid (built
/// here or checked by [`iter`]); returns it and the next element's offset.
/// Panics (index out of bounds) only on a damaged blob.
#[inline(always)]
pub fn element_at(lp: &[u8], pos: usize) -> (LpEntry<'_>, usize) {
    let b = lp[pos];
    let (e, enc) = if b & 0x80 == 0 {
        (LpEntry::Int(b as i64), 1)
    } else if b & 0xC0 == 0x80 {
        let l = (b & 0x3f) as usize;
        (LpEntry::Str(&lp[pos + 1..pos + 1 + l]), 1 + l)
    } else if b & 0xE0 == 0xC0 {
        let u = (((b & 0x1f) as u64) << 8) | lp[pos + 1] as u64;
        (LpEntry::Int(((u << 51) as i64) >> 51), 2)
    } else if b & 0xF0 == 0xE0 {
        let l = (((b & 0x0f) as usize) << 8) | lp[pos + 1] as usize;
        (LpEntry::Str(&lp[pos + 2..pos + 2 + l]), 2 + l)
    } else {
        let h = &lp[pos + 1..];
        match b {
            0xF0 => {
                let l = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                (LpEntry::Str(&lp[pos + 5..pos + 5 + l]), 5 + l)
            }
            0xF1 => (LpEntry::Int(i16::from_le_bytes([h[0], h[1]]) as i64), 3),
            0xF2 => (
                LpEntry::Int((i32::from_le_bytes([0, h[0], h[1], h[2]]) >> 8) as i64),
                4,
            ),
            0xF3 => (
                LpEntry::Int(i32::from_le_bytes([h[0], h[1], h[2], h[3]]) as i64),
                5,
            ),
            0xF4 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&h[..8]);
                (LpEntry::Int(i64::from_le_bytes(a)), 9)
            }
            _ => panic!("listpack: invalid element encoding {b:#x} at {pos}"),
        }
    };
    (e, pos + enc + backlen_size(enc))
}

/// The offset of the element after the one at `pos` of a valid listpack,
/// found from its encoding byte alone.
#[inline]
pub fn next_element(lp: &[u8], pos: usize) -> usize {
    let b = lp[pos];
    let enc = if b & 0x80 == 0 {
        1
    } else if b & 0xC0 == 0x80 {
        1 + (b & 0x3f) as usize
    } else if b & 0xE0 == 0xC0 {
        2
    } else if b & 0xF0 == 0xE0 {
        2 + ((((b & 0x0f) as usize) << 8) | lp[pos + 1] as usize)
    } else {
        match b {
            0xF0 => {
                5 + u32::from_le_bytes([lp[pos + 1], lp[pos + 2], lp[pos + 3], lp[pos + 4]])
                    as usize
            }
            0xF1 => 3,
            0xF2 => 4,
            0xF3 => 5,
            0xF4 => 9,
            _ => panic!("listpack: invalid element encoding {b:#x} at {pos}"),
        }
    };
    pos + enc + backlen_size(enc)
}

/// The offset of the element before the one at `pos` (which may be the
/// terminator), read from that element's backlen.
pub fn prev_element(lp: &[u8], pos: usize) -> usize {
    let mut p = pos - 1;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = lp[p];
        len |= ((b & 127) as usize) << shift;
        if b & 128 == 0 {
            break;
        }
        shift += 7;
        p -= 1;
    }
    pos - backlen_size(len) - len
}

/// Walks a listpack's elements, validating as it goes.
pub struct LpIter<'a> {
    data: &'a [u8],
    pos: usize,
    seen: usize,
    declared: u16,
    done: bool,
}

/// Checks the header and returns an iterator over the elements. Each item
/// is an error string on malformed input (the iterator then stops).
pub fn iter(blob: &[u8]) -> Result<LpIter<'_>, &'static str> {
    if blob.len() < HEADER + 1 {
        return Err("listpack shorter than its header");
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if total != blob.len() {
        return Err("listpack total bytes do not match its length");
    }
    if blob[blob.len() - 1] != EOF {
        return Err("listpack does not end with 0xFF");
    }
    Ok(LpIter {
        data: blob,
        pos: HEADER,
        seen: 0,
        declared: u16::from_le_bytes([blob[4], blob[5]]),
        done: false,
    })
}

/// Decodes every element (validating the whole blob).
pub fn entries(blob: &[u8]) -> Result<Vec<LpEntry<'_>>, &'static str> {
    iter(blob)?.collect()
}

/// Validates the whole blob and returns its element count.
pub fn validated_len(blob: &[u8]) -> Result<usize, &'static str> {
    let mut n = 0;
    for e in iter(blob)? {
        e?;
        n += 1;
    }
    Ok(n)
}

/// The declared element count (65535 means "count by walking").
pub fn declared_len(blob: &[u8]) -> Option<u16> {
    (blob.len() >= HEADER).then(|| u16::from_le_bytes([blob[4], blob[5]]))
}

impl<'a> LpIter<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("listpack entry overflows")?;
        // The terminator must stay after every entry.
        if end >= self.data.len() {
            return Err("listpack entry runs past the end");
        }
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next_entry(&mut self) -> Result<Option<LpEntry<'a>>, &'static str> {
        let start = self.pos;
        let b = self.data[self.pos];
        if b == EOF {
            if self.pos != self.data.len() - 1 {
                return Err("listpack terminator before the end");
            }
            if self.declared != 65535 && self.declared as usize != self.seen {
                return Err("listpack element count does not match");
            }
            return Ok(None);
        }
        let e = if b & 0x80 == 0 {
            self.take(1)?;
            LpEntry::Int(b as i64)
        } else if b & 0xC0 == 0x80 {
            let l = (b & 0x3f) as usize;
            self.take(1)?;
            LpEntry::Str(self.take(l)?)
        } else if b & 0xE0 == 0xC0 {
            let h = self.take(2)?;
            let u = (((h[0] & 0x1f) as u64) << 8) | h[1] as u64;
            // Sign-extend 13 bits.
            LpEntry::Int(((u << 51) as i64) >> 51)
        } else if b & 0xF0 == 0xE0 {
            let h = self.take(2)?;
            let l = (((h[0] & 0x0f) as usize) << 8) | h[1] as usize;
            LpEntry::Str(self.take(l)?)
        } else {
            match b {
                0xF0 => {
                    let h = self.take(5)?;
                    let l = u32::from_le_bytes([h[1], h[2], h[3], h[4]]) as usize;
                    LpEntry::Str(self.take(l)?)
                }
                0xF1 => {
                    let h = self.take(3)?;
                    LpEntry::Int(i16::from_le_bytes([h[1], h[2]]) as i64)
                }
                0xF2 => {
                    let h = self.take(4)?;
                    LpEntry::Int((i32::from_le_bytes([0, h[1], h[2], h[3]]) >> 8) as i64)
                }
                0xF3 => {
                    let h = self.take(5)?;
                    LpEntry::Int(i32::from_le_bytes([h[1], h[2], h[3], h[4]]) as i64)
                }
                0xF4 => {
                    let h = self.take(9)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&h[1..9]);
                    LpEntry::Int(i64::from_le_bytes(a))
                }
                _ => return Err("invalid listpack entry encoding"),
            }
        };
        let enc = self.pos - start;
        let n = backlen_size(enc);
        let back = self.take(n)?;
        if !backlen_matches(back, enc) {
            return Err("listpack entry backlen does not match");
        }
        self.seen += 1;
        Ok(Some(e))
    }
}

impl<'a> Iterator for LpIter<'a> {
    type Item = Result<LpEntry<'a>, &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_listpack_is_seven_bytes() {
        let b = LpWriter::new().finish();
        assert_eq!(b, [7, 0, 0, 0, 0, 0, 0xFF]);
        assert_eq!(entries(&b).unwrap(), vec![]);
    }

    #[test]
    fn encodes_like_redis() {
        // Stream node from the fact sheet: ints and short strings.
        let mut w = LpWriter::new();
        w.push_str(b"-3");
        w.push_str(b"2.5");
        w.push_str(b"-0");
        w.push_int(5000);
        let b = w.finish();
        // -3 as a 13-bit int: 0xDF 0xFD, backlen 2.
        assert_eq!(&b[6..9], &[0xDF, 0xFD, 2]);
        // "2.5" as a short string.
        assert_eq!(&b[9..14], &[0x83, b'2', b'.', b'5', 4]);
        assert_eq!(
            entries(&b).unwrap(),
            vec![
                LpEntry::Int(-3),
                LpEntry::Str(b"2.5"),
                LpEntry::Str(b"-0"),
                LpEntry::Int(5000)
            ]
        );
    }

    #[test]
    fn long_entries_use_long_backlens() {
        let big = vec![b'x'; 20000];
        let mut w = LpWriter::new();
        w.push_str(&big);
        w.push_str(&big[..200]);
        let b = w.finish();
        let e = entries(&b).unwrap();
        assert_eq!(e[0], LpEntry::Str(&big));
        assert_eq!(e[1], LpEntry::Str(&big[..200]));
    }

    #[test]
    fn rejects_damage() {
        let mut w = LpWriter::new();
        w.push_str(b"hello");
        w.push_int(1 << 40);
        let b = w.finish();
        let mut short = b.clone();
        short.pop();
        assert!(iter(&short).is_err());
        let mut bad_count = b.clone();
        bad_count[4] = 3;
        assert!(entries(&bad_count).is_err());
        let mut bad_back = b.clone();
        bad_back[12] ^= 1;
        assert!(entries(&bad_back).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(items in proptest::collection::vec(prop_oneof![
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (-5000i64..5000).prop_map(|n| n.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..300),
        ], 0..50)) {
            let mut w = LpWriter::new();
            for i in &items {
                w.push_str(i);
            }
            let b = w.finish();
            let got: Vec<Vec<u8>> = entries(&b).unwrap().into_iter().map(|e| e.to_bytes()).collect();
            prop_assert_eq!(got, items);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(it) = iter(&data) {
                let _ = it.collect::<Vec<_>>();
            }
        }
    }
}
