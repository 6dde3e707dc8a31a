//! The RDB primitive reader: a cursor over the whole input that reads the
//! format's building blocks (type bytes, the four length forms, strings in
//! their raw / int / LZF encodings, binary and ASCII doubles, times).
//!
//! Every read is bounds-checked against the remaining input, and nothing
//! is allocated from a declared length before the bytes are known to be
//! there: a hostile length is an "Unexpected EOF" error, never a huge
//! allocation. Errors carry the offset where the problem was found; the
//! loader fills in what it was doing and which key.

use super::{lzf, RdbError};
use std::borrow::Cow;

/// Redis's message for any short read.
pub const EOF_MSG: &str = "Unexpected EOF reading RDB file";

/// A cursor over RDB bytes.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A corruption error at `offset` (the loader adds `doing`, key and type).
pub fn corrupt(offset: u64, msg: impl Into<String>) -> RdbError {
    RdbError {
        offset,
        doing: "read-object-value",
        key: None,
        type_byte: None,
        msg: msg.into(),
    }
}

/// A length as read: plain, or the low 6 bits of a special-encoding marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    /// Moves to byte `pos` of the input (at most its length).
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.data.len());
    }

    /// The whole input.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Everything read so far (for the checksum).
    pub fn consumed(&self) -> &'a [u8] {
        &self.data[..self.pos]
    }

    /// An error at the current offset.
    pub fn err(&self, msg: impl Into<String>) -> RdbError {
        corrupt(self.offset(), msg)
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: u64) -> Result<&'a [u8], RdbError> {
        if n > self.remaining() as u64 {
            return Err(self.err(EOF_MSG));
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N as u64)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.array::<1>()?[0])
    }

    /// A length in any of its forms, or the special-string marker.
    pub fn len_or_enc(&mut self) -> Result<Len, RdbError> {
        let start = self.offset();
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain((((b & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => {
                    return Err(corrupt(
                        start,
                        format!("Unknown length encoding {} in rdbLoadLen()", b >> 6),
                    ))
                }
            },
            _ => Len::Encoded(b & 0x3f),
        })
    }

    /// A length. A special-encoding marker reads as its low 6 bits, as
    /// Redis's rdbLoadLen does when the caller does not ask.
    pub fn length(&mut self) -> Result<u64, RdbError> {
        Ok(match self.len_or_enc()? {
            Len::Plain(n) => n,
            Len::Encoded(e) => e as u64,
        })
    }

    /// A length used to size a loop of items each at least one byte long:
    /// larger than the remaining input is a short read.
    pub fn count(&mut self) -> Result<u64, RdbError> {
        let n = self.length()?;
        if n > self.remaining() as u64 {
            return Err(self.err(EOF_MSG));
        }
        Ok(n)
    }

    /// A string in any encoding: raw (borrowed), INT8/16/32 (decimal
    /// text) or LZF (decompressed).
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>, RdbError> {
        let start = self.offset();
        match self.len_or_enc()? {
            Len::Plain(n) => Ok(Cow::Borrowed(self.bytes(n)?)),
            Len::Encoded(0) => Ok(int_text(self.array::<1>()?[0] as i8 as i64)),
            Len::Encoded(1) => Ok(int_text(i16::from_le_bytes(self.array()?) as i64)),
            Len::Encoded(2) => Ok(int_text(i32::from_le_bytes(self.array()?) as i64)),
            Len::Encoded(3) => {
                let clen = self.length()?;
                let len = self.length()?;
                let c = self.bytes(clen)?;
                let len =
                    usize::try_from(len).map_err(|_| self.err("Invalid LZF compressed string"))?;
                match lzf::decompress(c, len) {
                    Some(v) if v.len() == len => Ok(Cow::Owned(v)),
                    _ => Err(corrupt(start, "Invalid LZF compressed string")),
                }
            }
            Len::Encoded(e) => Err(corrupt(
                start,
                format!("Unknown RDB string encoding type {e}"),
            )),
        }
    }

    /// An 8-byte little-endian IEEE double (ZSET_2 scores).
    pub fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// The old ASCII double: a length byte (253 NaN, 254 +inf, 255 -inf)
    /// then that many bytes parsed like `%lg`.
    pub fn ascii_double(&mut self) -> Result<f64, RdbError> {
        let start = self.offset();
        let l = self.u8()?;
        match l {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let b = self.bytes(l as u64)?;
                parse_lg(b).ok_or_else(|| corrupt(start, EOF_MSG))
            }
        }
    }

    /// A 4-byte little-endian signed time in seconds (EXPIRETIME).
    pub fn time_secs(&mut self) -> Result<i64, RdbError> {
        Ok(i32::from_le_bytes(self.array()?) as i64)
    }

    /// An 8-byte little-endian signed time in milliseconds.
    pub fn time_ms(&mut self) -> Result<i64, RdbError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A raw 16-byte stream ID: ms and seq, each a big-endian u64.
    pub fn raw_id(&mut self) -> Result<(u64, u64), RdbError> {
        let a: [u8; 16] = self.array()?;
        Ok(id_from_be(&a))
    }
}

/// A 16-byte big-endian stream ID.
pub fn id_from_be(a: &[u8]) -> (u64, u64) {
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&a[..8]);
    seq.copy_from_slice(&a[8..16]);
    (u64::from_be_bytes(ms), u64::from_be_bytes(seq))
}

fn int_text(n: i64) -> Cow<'static, [u8]> {
    Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec())
}

/// sscanf's `%lg`: the longest numeric prefix (after optional spaces),
/// including "inf"/"nan" spellings.
fn parse_lg(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?.trim_start();
    let lower = s.to_ascii_lowercase();
    let (sign, body) = match lower.as_bytes().first() {
        Some(b'-') => (-1.0, &lower[1..]),
        Some(b'+') => (1.0, &lower[1..]),
        _ => (1.0, &lower[..]),
    };
    if body.starts_with("inf") {
        return Some(sign * f64::INFINITY);
    }
    if body.starts_with("nan") {
        return Some(f64::NAN);
    }
    // Longest prefix that parses.
    (1..=s.len())
        .rev()
        .filter(|&i| s.is_char_boundary(i))
        .find_map(|i| s[..i].parse::<f64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_in_all_forms() {
        let data = [
            0x05, 0x41, 0x02, 0x80, 0, 1, 0, 0, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 0xC2, 0x82,
        ];
        let mut r = Reader::new(&data);
        assert_eq!(r.length().unwrap(), 5);
        assert_eq!(r.length().unwrap(), 0x102);
        assert_eq!(r.length().unwrap(), 0x10000);
        assert_eq!(r.length().unwrap(), 1 << 32);
        assert_eq!(r.len_or_enc().unwrap(), Len::Encoded(2));
        let e = r.length().unwrap_err();
        assert_eq!(e.offset, 18);
        assert_eq!(e.msg, "Unknown length encoding 2 in rdbLoadLen()");
        let mut r = Reader::new(&[0x40]);
        assert_eq!(r.length().unwrap_err().msg, EOF_MSG);
    }

    #[test]
    fn strings_raw_int_lzf() {
        let mut data = vec![0x03, b'f', b'o', b'o', 0xC0, 0x9C, 0xC1, 0x39, 0x30];
        data.extend_from_slice(&[0xC2, 0, 0, 0, 0x80]);
        // 100 x 'a' as Redis writes it (fact sheet vector).
        data.extend_from_slice(&[
            0xC3, 0x09, 0x40, 0x64, 0x01, 0x61, 0x61, 0xE0, 0x57, 0x00, 0x01, 0x61, 0x61,
        ]);
        data.push(0x00);
        let mut r = Reader::new(&data);
        assert_eq!(&*r.string().unwrap(), b"foo");
        assert_eq!(&*r.string().unwrap(), b"-100");
        assert_eq!(&*r.string().unwrap(), b"12345");
        assert_eq!(&*r.string().unwrap(), b"-2147483648");
        assert_eq!(&*r.string().unwrap(), vec![b'a'; 100].as_slice());
        assert_eq!(&*r.string().unwrap(), b"");
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn damaged_strings() {
        // LZF claiming a different length.
        let d = [
            0xC3, 0x09, 0x40, 0x65, 0x01, 0x61, 0x61, 0xE0, 0x57, 0x00, 0x01, 0x61, 0x61,
        ];
        assert_eq!(
            Reader::new(&d).string().unwrap_err().msg,
            "Invalid LZF compressed string"
        );
        // Unknown special encoding.
        assert!(Reader::new(&[0xC4])
            .string()
            .unwrap_err()
            .msg
            .contains("Unknown RDB string encoding"));
        // A hostile 4 GiB length is a short read, not an allocation.
        let d = [0x80, 0xFF, 0xFF, 0xFF, 0xFF, b'x'];
        assert_eq!(Reader::new(&d).string().unwrap_err().msg, EOF_MSG);
        let d = [
            0xC3, 0x01, 0x81, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00,
        ];
        assert!(Reader::new(&d).string().is_err());
        // Truncated ints.
        assert_eq!(
            Reader::new(&[0xC2, 1, 2]).string().unwrap_err().msg,
            EOF_MSG
        );
    }

    #[test]
    fn doubles_and_times() {
        let mut d = vec![];
        d.extend_from_slice(&2.5f64.to_le_bytes());
        d.extend_from_slice(&[
            253, 254, 255, 3, b'1', b'.', b'5', 4, b'-', b'1', b'e', b'3',
        ]);
        d.extend_from_slice(&(-5i32).to_le_bytes());
        d.extend_from_slice(&1_700_000_000_123i64.to_le_bytes());
        d.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
        let mut r = Reader::new(&d);
        assert_eq!(r.binary_double().unwrap(), 2.5);
        assert!(r.ascii_double().unwrap().is_nan());
        assert_eq!(r.ascii_double().unwrap(), f64::INFINITY);
        assert_eq!(r.ascii_double().unwrap(), f64::NEG_INFINITY);
        assert_eq!(r.ascii_double().unwrap(), 1.5);
        assert_eq!(r.ascii_double().unwrap(), -1000.0);
        assert_eq!(r.time_secs().unwrap(), -5);
        assert_eq!(r.time_ms().unwrap(), 1_700_000_000_123);
        assert_eq!(r.raw_id().unwrap(), (1, 2));
        assert!(r.u8().is_err());
        assert!(Reader::new(&[2, b'x', b'y']).ascii_double().is_err());
    }
}
