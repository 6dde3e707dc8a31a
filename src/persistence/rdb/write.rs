//! The RDB saver's primitives, exactly as Redis 7.0's `rdb.c` writes them:
//! lengths (`rdbSaveLen`), strings (`rdbSaveRawString` with its integer
//! and LZF encodings), integers saved as strings
//! (`rdbSaveLongLongAsStringObject`), binary doubles and millisecond
//! times, plus [`CrcWriter`], the `io::Write` wrapper that keeps the
//! running CRC-64 of everything written (Redis's `rio` checksum).
//!
//! Everything appends to a `Vec<u8>`: values are encoded into a buffer and
//! the buffer is handed to the writer, so the codec never sees I/O errors.

use super::{crc64, lzf};
use std::io::{self, Write};

/// Special-encoding prefix of a length byte (`RDB_ENCVAL << 6`).
const ENCVAL: u8 = 0xC0;
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Appends an RDB length in the smallest form (6-bit, 14-bit big-endian,
/// `0x80` + u32 BE, `0x81` + u64 BE).
pub fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends `v` in the smallest INT8/16/32 string encoding (Redis's
/// `rdbEncodeInteger`); false (nothing written) if it needs more than 32
/// bits.
fn write_encoded_int(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.push(ENCVAL | ENC_INT8);
        out.push(b as u8);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(ENCVAL | ENC_INT16);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(ENCVAL | ENC_INT32);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// The integer `s` spells canonically (what `ll2string(strtoll(s))`
/// gives back byte for byte), as Redis's `rdbTryIntegerEncoding` demands.
fn canonical_int(s: &[u8]) -> Option<i64> {
    let v = crate::util::num::parse_i64(s)?;
    (itoa::Buffer::new().format(v).as_bytes() == s).then_some(v)
}

/// Appends a string as `rdbSaveRawString` does: int-encoded when it is a
/// canonical integer of at most 11 bytes that fits in 32 bits; else
/// LZF-compressed when `compress` and it is longer than 20 bytes and the
/// compressed form fits in `len - 4` bytes; else a length and the bytes.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = canonical_int(s) {
            if write_encoded_int(out, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 && write_lzf(out, s) {
        return;
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// `rdbSaveLzfStringObject`: false (nothing written) when the compressed
/// form would not save at least 4 bytes.
fn write_lzf(out: &mut Vec<u8>, s: &[u8]) -> bool {
    if s.len() <= 4 {
        return false;
    }
    let Some(c) = lzf::compress(s, s.len() - 4) else {
        return false;
    };
    if c.is_empty() || c.len() > s.len() - 4 {
        return false;
    }
    out.push(ENCVAL | ENC_LZF);
    write_len(out, c.len() as u64);
    write_len(out, s.len() as u64);
    out.extend_from_slice(&c);
    true
}

/// An integer-encoded string object (`rdbSaveLongLongAsStringObject`):
/// INT8/16/32 when it fits, else its decimal text (never compressed).
pub fn write_int_string(out: &mut Vec<u8>, v: i64) {
    if !write_encoded_int(out, v) {
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        write_len(out, s.len() as u64);
        out.extend_from_slice(s);
    }
}

/// An 8-byte little-endian IEEE-754 double (`rdbSaveBinaryDoubleValue`).
pub fn write_binary_double(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// An 8-byte little-endian millisecond time (`rdbSaveMillisecondTime`).
pub fn write_ms_time(out: &mut Vec<u8>, ms: i64) {
    out.extend_from_slice(&ms.to_le_bytes());
}

/// An `io::Write` that counts the bytes and keeps the CRC-64 of everything
/// that went through it, as Redis's rio does with `update_cksum`.
pub struct CrcWriter<W: Write> {
    inner: W,
    crc: u64,
    written: u64,
}

impl<W: Write> CrcWriter<W> {
    pub fn new(inner: W) -> Self {
        CrcWriter {
            inner,
            crc: 0,
            written: 0,
        }
    }

    /// CRC-64 of every byte written so far.
    pub fn crc(&self) -> u64 {
        self.crc
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc64(self.crc, &buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_bytes(n: u64) -> Vec<u8> {
        let mut v = Vec::new();
        write_len(&mut v, n);
        v
    }

    fn str_bytes(s: &[u8], compress: bool) -> Vec<u8> {
        let mut v = Vec::new();
        write_string(&mut v, s, compress);
        v
    }

    #[test]
    fn lengths_use_the_smallest_form() {
        assert_eq!(len_bytes(0), [0x00]);
        assert_eq!(len_bytes(63), [0x3f]);
        assert_eq!(len_bytes(64), [0x40, 0x40]);
        assert_eq!(len_bytes(100), [0x40, 0x64]);
        assert_eq!(len_bytes(16383), [0x7f, 0xff]);
        assert_eq!(len_bytes(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(len_bytes(u32::MAX as u64), [0x80, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            len_bytes(1 << 32),
            [0x81, 0, 0, 0, 1, 0, 0, 0, 0],
            "64-bit form, big-endian"
        );
        assert_eq!(
            len_bytes(u64::MAX),
            [0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn strings_as_redis_saves_them() {
        // Fact sheet 0.3: 12345 -> c1 39 30, -100 -> c0 9c, 4294967296 raw.
        assert_eq!(str_bytes(b"12345", true), [0xc1, 0x39, 0x30]);
        assert_eq!(str_bytes(b"-100", true), [0xc0, 0x9c]);
        assert_eq!(str_bytes(b"4294967296", true)[0], 10);
        assert_eq!(
            str_bytes(b"2147483647", true),
            [0xc2, 0xff, 0xff, 0xff, 0x7f]
        );
        // Not canonical: stays a plain string.
        assert_eq!(str_bytes(b"007", true), [3, b'0', b'0', b'7']);
        assert_eq!(str_bytes(b"-0", true), [2, b'-', b'0']);
        assert_eq!(str_bytes(b"+1", true), [2, b'+', b'1']);
        assert_eq!(str_bytes(b"", true), [0]);
        assert_eq!(str_bytes(b"bar", true), [3, b'b', b'a', b'r']);
        // A 21-byte non-repetitive string does not compress.
        let s = b"abcdefghijklmnopqrstu";
        let v = str_bytes(s, true);
        assert_eq!(v[0], 21);
        assert_eq!(&v[1..], s);
    }

    #[test]
    fn int_objects() {
        let mut v = Vec::new();
        write_int_string(&mut v, 12345);
        assert_eq!(v, [0xc1, 0x39, 0x30]);
        v.clear();
        write_int_string(&mut v, 4294967296);
        assert_eq!(v, b"\x0a4294967296");
        v.clear();
        write_int_string(&mut v, i64::MIN);
        assert_eq!(&v[1..], b"-9223372036854775808");
    }

    #[test]
    fn lzf_round_trips_and_respects_the_switch() {
        let s = vec![b'a'; 100];
        let v = str_bytes(&s, true);
        assert_eq!(v[0], 0xc3);
        // compressed length, then 14-bit 100.
        let clen = v[1] as usize;
        assert_eq!(&v[2..4], [0x40, 0x64]);
        assert_eq!(v.len(), 4 + clen);
        assert_eq!(lzf::decompress(&v[4..], 100).unwrap(), s);
        let raw = str_bytes(&s, false);
        assert_eq!(&raw[..2], [0x40, 0x64]);
        assert_eq!(&raw[2..], &s[..]);
    }

    #[test]
    fn crc_writer_tracks_everything() {
        let mut w = CrcWriter::new(Vec::new());
        w.write_all(b"REDIS0010").unwrap();
        w.write_all(&[0xff]).unwrap();
        let crc = w.crc();
        assert_eq!(w.written(), 10);
        assert_eq!(
            crc.to_le_bytes(),
            [0xa9, 0xfd, 0x37, 0xfe, 0x89, 0xa7, 0x7e, 0xeb]
        );
        assert_eq!(w.into_inner(), b"REDIS0010\xff");
    }
}
