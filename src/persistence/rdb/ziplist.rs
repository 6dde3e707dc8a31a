//! The ziplist blob (Redis <= 6.2's small lists, hashes and sorted sets,
//! RDB types 10, 12, 13 and the nodes of type 14). Read-only: Redis 7.0
//! converts ziplists to listpacks on load and never writes them.
//!
//! Layout: zlbytes (u32 LE), zltail (u32 LE, offset of the last entry),
//! zllen (u16 LE, 65535 = unknown), entries, `0xFF`. Each entry is a
//! prevlen (1 byte, or `0xFE` + u32 LE), an encoding and the data.
//!
//! Validation is always deep, as Redis does on load: every bound, every
//! prevlen, the tail offset and the count.

use super::listpack::LpEntry;

const HEADER: usize = 10;
const END: u8 = 0xFF;

/// Decodes and validates every element of a ziplist.
pub fn entries(zl: &[u8]) -> Result<Vec<LpEntry<'_>>, &'static str> {
    if zl.len() < HEADER + 1 {
        return Err("ziplist shorter than its header");
    }
    let zlbytes = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    let zltail = u32::from_le_bytes([zl[4], zl[5], zl[6], zl[7]]) as usize;
    let zllen = u16::from_le_bytes([zl[8], zl[9]]);
    if zlbytes != zl.len() {
        return Err("ziplist total bytes do not match its length");
    }
    if zl[zl.len() - 1] != END {
        return Err("ziplist does not end with 0xFF");
    }
    if zltail > zl.len() - 1 {
        return Err("ziplist tail offset out of range");
    }
    let end = zl.len() - 1;
    let mut out = Vec::new();
    let mut pos = HEADER;
    let mut prev_size = 0usize;
    let mut last_start = HEADER;
    while pos < end {
        let start = pos;
        // prevlen
        let prevlen = if zl[pos] < 0xFE {
            pos += 1;
            zl[start] as usize
        } else if zl[pos] == 0xFE {
            let h = zl
                .get(pos + 1..pos + 5)
                .ok_or("ziplist prevlen runs past the end")?;
            pos += 5;
            u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize
        } else {
            return Err("ziplist entry starts with 0xFF before the end");
        };
        if prevlen != prev_size {
            return Err("ziplist prevlen does not match the previous entry");
        }
        let b = *zl
            .get(pos)
            .filter(|_| pos < end)
            .ok_or("ziplist entry runs past the end")?;
        let take = |p: usize, n: usize| -> Result<&[u8], &'static str> {
            let e = p.checked_add(n).ok_or("ziplist entry overflows")?;
            if e > end {
                return Err("ziplist entry runs past the end");
            }
            Ok(&zl[p..e])
        };
        let e = match b >> 6 {
            0 => {
                let l = (b & 0x3f) as usize;
                let s = take(pos + 1, l)?;
                pos += 1 + l;
                LpEntry::Str(s)
            }
            1 => {
                let h = take(pos, 2)?;
                let l = (((h[0] & 0x3f) as usize) << 8) | h[1] as usize;
                let s = take(pos + 2, l)?;
                pos += 2 + l;
                LpEntry::Str(s)
            }
            2 => {
                let h = take(pos, 5)?;
                let l = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
                let s = take(pos + 5, l)?;
                pos += 5 + l;
                LpEntry::Str(s)
            }
            _ => {
                let (n, v) = match b {
                    0xC0 => {
                        let h = take(pos + 1, 2)?;
                        (2, i16::from_le_bytes([h[0], h[1]]) as i64)
                    }
                    0xD0 => {
                        let h = take(pos + 1, 4)?;
                        (4, i32::from_le_bytes([h[0], h[1], h[2], h[3]]) as i64)
                    }
                    0xE0 => {
                        let h = take(pos + 1, 8)?;
                        let mut a = [0u8; 8];
                        a.copy_from_slice(h);
                        (8, i64::from_le_bytes(a))
                    }
                    0xF0 => {
                        let h = take(pos + 1, 3)?;
                        (3, (i32::from_le_bytes([0, h[0], h[1], h[2]]) >> 8) as i64)
                    }
                    0xFE => {
                        let h = take(pos + 1, 1)?;
                        (1, h[0] as i8 as i64)
                    }
                    0xF1..=0xFD => (0, (b & 0x0f) as i64 - 1),
                    _ => return Err("invalid ziplist entry encoding"),
                };
                pos += 1 + n;
                LpEntry::Int(v)
            }
        };
        out.push(e);
        prev_size = pos - start;
        last_start = start;
    }
    if pos != end {
        return Err("ziplist entries do not end at the terminator");
    }
    if zltail != last_start {
        return Err("ziplist tail offset does not point at the last entry");
    }
    if zllen != u16::MAX && zllen as usize != out.len() {
        return Err("ziplist element count does not match");
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a ziplist from raw entry encodings (encoding + data, no
    /// prevlen), computing prevlens, tail and count.
    pub(crate) fn build(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = HEADER;
        for e in entries {
            tail = HEADER + body.len();
            let start = body.len();
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xFE);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(e);
            prev = body.len() - start;
        }
        let total = HEADER + body.len() + 1;
        let mut zl = Vec::new();
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(END);
        zl
    }

    /// A ziplist string entry encoding.
    pub(crate) fn zstr(s: &[u8]) -> Vec<u8> {
        let mut v = if s.len() < 64 {
            vec![s.len() as u8]
        } else if s.len() < 16384 {
            vec![0x40 | (s.len() >> 8) as u8, s.len() as u8]
        } else {
            let mut v = vec![0x80];
            v.extend_from_slice(&(s.len() as u32).to_be_bytes());
            v
        };
        v.extend_from_slice(s);
        v
    }

    #[test]
    fn every_encoding() {
        let big = vec![b'z'; 300];
        let huge = vec![b'h'; 17000];
        let zl = build(&[
            zstr(b"abc"),
            zstr(&big),
            zstr(&huge),
            vec![0xC0, 0x18, 0xFC],
            vec![0xD0, 0, 0, 0, 0x80],
            vec![0xE0, 1, 0, 0, 0, 0, 0, 0, 0x80],
            vec![0xF0, 0xFF, 0xFF, 0x7F],
            vec![0xFE, 0x80],
            vec![0xF1],
            vec![0xFD],
            zstr(b""),
        ]);
        let e = entries(&zl).unwrap();
        assert_eq!(
            e,
            vec![
                LpEntry::Str(b"abc"),
                LpEntry::Str(&big),
                LpEntry::Str(&huge),
                LpEntry::Int(-1000),
                LpEntry::Int(i32::MIN as i64),
                LpEntry::Int(i64::MIN + 1),
                LpEntry::Int(8388607),
                LpEntry::Int(-128),
                LpEntry::Int(0),
                LpEntry::Int(12),
                LpEntry::Str(b""),
            ]
        );
        // Empty ziplist.
        assert_eq!(entries(&build(&[])).unwrap(), vec![]);
    }

    #[test]
    fn damage_is_detected() {
        let zl = build(&[zstr(b"hello"), vec![0xFE, 5], zstr(b"x")]);
        assert!(entries(&zl).is_ok());
        for i in 0..zl.len() {
            for delta in [1u8, 0x40, 0x80] {
                let mut d = zl.clone();
                d[i] = d[i].wrapping_add(delta);
                // Must never panic; most damage is an error.
                let _ = entries(&d);
            }
        }
        let mut bad_prev = zl.clone();
        bad_prev[10 + 7] = 3; // second entry's prevlen
        assert!(entries(&bad_prev).is_err());
        let mut bad_tail = zl.clone();
        bad_tail[4] += 1;
        assert!(entries(&bad_tail).is_err());
        let mut bad_count = zl.clone();
        bad_count[8] = 2;
        assert!(entries(&bad_count).is_err());
        let mut unknown_count = zl.clone();
        unknown_count[8] = 0xFF;
        unknown_count[9] = 0xFF;
        assert_eq!(entries(&unknown_count).unwrap().len(), 3);
        let mut bad_enc = zl.clone();
        bad_enc[11] = 0xC1;
        assert!(entries(&bad_enc).is_err());
        assert!(entries(&zl[..zl.len() - 1]).is_err());
    }
}
