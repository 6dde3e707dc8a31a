//! LZF, the compression Redis applies to RDB strings longer than 20 bytes
//! (`rdbcompression yes`) and to compressed quicklist nodes.
//!
//! The stream is a sequence of tokens: a control byte below 32 starts a
//! literal run of `c + 1` bytes; any other control byte is a back-reference
//! of `(c >> 5) + 2` bytes (length 7 takes an extra length byte) at a
//! distance of `((c & 31) << 8) + next + 1`. There is no header: the RDB
//! string stores both lengths. LZF output is not reproducible across
//! implementations, so tests round-trip and let Redis load our output.

/// Longest back-reference distance.
const MAX_OFF: usize = 1 << 13;
/// Longest back-reference (bytes copied).
const MAX_REF: usize = (1 << 8) + (1 << 3);
/// Longest literal run.
const MAX_LIT: usize = 1 << 5;
const HLOG: u32 = 14;

fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2654435761) >> (32 - HLOG)) as usize
}

/// Compresses `input`; `None` when the output would exceed `max_out`
/// bytes (Redis then stores the string raw).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    // One hash table per thread, all zero between calls: allocating and
    // zeroing 64 KB for every string cost a page fault per call.
    thread_local! {
        static HTAB: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    HTAB.with(|t| {
        let mut htab = t.borrow_mut();
        if htab.is_empty() {
            htab.resize(1 << HLOG, 0);
        }
        let out = compress_with(input, max_out, &mut htab);
        // Zero what this input may have set (every entry is set at some
        // position p with p + 2 < n, under hash3 of input[p..]).
        if input.len() > 1 << HLOG {
            htab.fill(0);
        } else {
            for p in 0..input.len().saturating_sub(2) {
                htab[hash3(&input[p..])] = 0;
            }
        }
        out
    })
}

fn compress_with(input: &[u8], max_out: usize, htab: &mut [u32]) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out: Vec<u8> = Vec::with_capacity(max_out.min(n + n / 32 + 1));
    // Index of the control byte of the literal run being built.
    let mut lit_pos = 0;
    let mut lit = 0usize;
    out.push(0);
    let mut ip = 0;
    while ip < n {
        if ip + 2 < n {
            let h = hash3(&input[ip..]);
            let cand = htab[h] as usize;
            htab[h] = ip as u32 + 1;
            if cand != 0 {
                let r = cand - 1;
                let off = ip - r - 1;
                if off < MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                    let maxlen = (n - ip).min(MAX_REF);
                    let mut l = 3;
                    while l < maxlen && input[r + l] == input[ip + l] {
                        l += 1;
                    }
                    if lit > 0 {
                        out[lit_pos] = (lit - 1) as u8;
                    } else {
                        out.pop();
                    }
                    let len = l - 2;
                    if len < 7 {
                        out.push(((len << 5) | (off >> 8)) as u8);
                    } else {
                        out.push(((7 << 5) | (off >> 8)) as u8);
                        out.push((len - 7) as u8);
                    }
                    out.push(off as u8);
                    for p in ip + 1..ip + l {
                        if p + 2 < n {
                            htab[hash3(&input[p..])] = p as u32 + 1;
                        }
                    }
                    ip += l;
                    lit_pos = out.len();
                    out.push(0);
                    lit = 0;
                    if out.len() > max_out + 1 {
                        return None;
                    }
                    continue;
                }
            }
        }
        out.push(input[ip]);
        lit += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[lit_pos] = (MAX_LIT - 1) as u8;
            lit_pos = out.len();
            out.push(0);
            lit = 0;
        }
        if out.len() > max_out + 1 {
            return None;
        }
    }
    if lit > 0 {
        out[lit_pos] = (lit - 1) as u8;
    } else {
        out.pop();
    }
    (out.len() <= max_out).then_some(out)
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes.
/// `None` on any malformed stream (Redis's "Invalid LZF compressed
/// string"). Never allocates more than the input can expand to.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    // A 2-byte token expands to at most 8 bytes, a 3-byte one to 264.
    let bound = input.len().saturating_mul(MAX_REF / 3 + 1);
    if out_len > bound {
        return None;
    }
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let c = input[i] as usize;
        i += 1;
        if c < MAX_LIT {
            let l = c + 1;
            if i + l > input.len() || out.len() + l > out_len {
                return None;
            }
            out.extend_from_slice(&input[i..i + l]);
            i += l;
        } else {
            let mut len = c >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let off = ((c & 0x1f) << 8 | *input.get(i)? as usize) + 1;
            i += 1;
            len += 2;
            if off > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - off;
            if off >= len {
                out.extend_from_within(start..start + len);
            } else {
                for k in 0..len {
                    out.push(out[start + k]);
                }
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_shared_table_is_clean_between_calls() {
        // Each call must give what a fresh table gives, whatever came before.
        let inputs: Vec<Vec<u8>> = vec![
            b"abcabcabcabcabcabcabcabcabcabc".to_vec(),
            vec![b'a'; 100],
            (0..70_000u32).map(|i| (i % 251) as u8).collect(),
            b"xyzxyzxyz0123456789xyzxyzxyz0123456789".to_vec(),
            vec![0u8; 300],
        ];
        for _ in 0..2 {
            for i in &inputs {
                let mut fresh = vec![0u32; 1 << HLOG];
                assert_eq!(compress(i, i.len()), compress_with(i, i.len(), &mut fresh));
            }
        }
    }

    #[test]
    fn decodes_what_redis_wrote() {
        // 100 x 'a' as Redis 7.0.15 saved it: c3 09 40 64 then 9 bytes.
        let z = [0x01, 0x61, 0x61, 0xe0, 0x57, 0x00, 0x01, 0x61, 0x61];
        assert_eq!(decompress(&z, 100).unwrap(), vec![b'a'; 100]);
        assert_eq!(decompress(&z, 99), None);
        assert_eq!(decompress(&z, 101), None);
        assert_eq!(decompress(&z[..8], 100), None);
    }

    #[test]
    fn rejects_bad_references() {
        // A back-reference before the start of the output.
        assert_eq!(decompress(&[0x20, 0x00], 3), None);
        // Literal run longer than the input.
        assert_eq!(decompress(&[0x05, b'a'], 6), None);
        // Hostile declared length.
        assert_eq!(decompress(&[0x00, b'a'], usize::MAX), None);
    }

    #[test]
    fn compresses_repetitive_and_refuses_random() {
        let a = vec![b'a'; 100];
        let z = compress(&a, 96).unwrap();
        assert!(z.len() < 20, "{z:?}");
        assert_eq!(decompress(&z, 100).unwrap(), a);
        let noise: Vec<u8> = (0..21u32).map(|i| (i * 37 % 251) as u8).collect();
        assert_eq!(compress(&noise, 17), None);
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(prop_oneof![Just(b'x'), Just(b'y'), any::<u8>()], 1..3000)) {
            if let Some(z) = compress(&data, data.len() + 64) {
                prop_assert_eq!(decompress(&z, data.len()).unwrap(), data);
            }
        }

        #[test]
        fn decompress_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), n in 0usize..5000) {
            let _ = decompress(&data, n);
        }
    }
}
