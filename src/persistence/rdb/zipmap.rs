//! The zipmap blob (Redis <= 2.4 small hashes, RDB type 9). Read-only and
//! always fully validated, as Redis does (it converts zipmaps on load).
//!
//! Layout: a count byte (>= 254 means "count by walking"), then pairs of
//! key length, key, value length, a `free` byte, value and `free` padding
//! bytes, then `0xFF`. A length is one byte below 254, else `0xFE` and a
//! u32 little-endian. A zipmap with no pairs is corrupt.

const END: u8 = 0xFF;
const BIGLEN: u8 = 254;

/// One (field, value) pair.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Decodes and validates every (field, value) pair of a zipmap.
pub fn pairs(zm: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    if zm.len() < 2 {
        return Err("zipmap shorter than its header");
    }
    if zm[zm.len() - 1] != END {
        return Err("zipmap does not end with 0xFF");
    }
    let end = zm.len() - 1;
    let mut pos = 1;
    let mut out = Vec::new();
    let read_len = |pos: &mut usize| -> Result<usize, &'static str> {
        let b = zm[*pos];
        if b < BIGLEN {
            *pos += 1;
            Ok(b as usize)
        } else {
            let h = zm.get(*pos + 1..*pos + 5).filter(|_| *pos + 5 <= end);
            let h = h.ok_or("zipmap length runs past the end")?;
            *pos += 5;
            Ok(u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize)
        }
    };
    let skip = |pos: usize, n: usize| -> Result<usize, &'static str> {
        match pos.checked_add(n) {
            Some(p) if p <= end => Ok(p),
            _ => Err("zipmap entry runs past the end"),
        }
    };
    while zm[pos] != END {
        let kl = read_len(&mut pos)?;
        let k0 = pos;
        pos = skip(pos, kl)?;
        if pos >= end {
            return Err("zipmap entry runs past the end");
        }
        let vl = read_len(&mut pos)?;
        if pos >= end {
            return Err("zipmap entry runs past the end");
        }
        let free = zm[pos] as usize;
        pos += 1;
        let v0 = pos;
        let vend = skip(pos, vl)?;
        pos = skip(vend, free)?;
        out.push((&zm[k0..k0 + kl], &zm[v0..vend]));
        if pos > end {
            return Err("zipmap entry runs past the end");
        }
    }
    if pos != end {
        return Err("zipmap terminator before the end");
    }
    if out.is_empty() {
        return Err("empty zipmap");
    }
    if zm[0] != BIGLEN && zm[0] as usize != out.len() {
        return Err("zipmap count does not match");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(pairs: &[(&[u8], &[u8], u8)], count: u8) -> Vec<u8> {
        let mut v = vec![count];
        let len = |v: &mut Vec<u8>, n: usize| {
            if n < 254 {
                v.push(n as u8);
            } else {
                v.push(0xFE);
                v.extend_from_slice(&(n as u32).to_le_bytes());
            }
        };
        for (k, val, free) in pairs {
            len(&mut v, k.len());
            v.extend_from_slice(k);
            len(&mut v, val.len());
            v.push(*free);
            v.extend_from_slice(val);
            v.extend(std::iter::repeat_n(0, *free as usize));
        }
        v.push(END);
        v
    }

    #[test]
    fn reads_pairs_with_free_space_and_long_lengths() {
        let big = vec![b'v'; 300];
        let zm = build(&[(b"a", b"1", 0), (b"bb", &big, 3)], 2);
        assert_eq!(
            pairs(&zm).unwrap(),
            vec![(&b"a"[..], &b"1"[..]), (&b"bb"[..], &big[..])]
        );
        let zm = build(&[(b"a", b"1", 0)], 254);
        assert_eq!(pairs(&zm).unwrap().len(), 1);
    }

    #[test]
    fn damage_is_detected() {
        assert!(pairs(&[0, END]).is_err(), "empty zipmap is corrupt");
        let zm = build(&[(b"a", b"1", 2), (b"b", b"2", 0)], 2);
        assert!(pairs(&build(&[(b"a", b"1", 2)], 3)).is_err());
        assert!(pairs(&zm[..zm.len() - 1]).is_err());
        for i in 0..zm.len() {
            for d in [1u8, 0x7F, 0xFD] {
                let mut z = zm.clone();
                z[i] = z[i].wrapping_add(d);
                let _ = pairs(&z);
            }
        }
        let mut bad = zm.clone();
        bad[3] = 200; // value length past the end
        assert!(pairs(&bad).is_err());
    }
}
