//! Unpacked HLL registers (one byte each), the form PFCOUNT over several
//! keys and PFMERGE work in: Redis merges every input into a 16384-byte
//! max array (hllMerge) and then counts it (hllCount on HLL_RAW). These
//! loops are the whole cost of a multi-key PFCOUNT, so they are written to
//! be cheap: the sparse walk decodes one opcode per step with no closure
//! or enum in between, and the histogram spreads its increments over
//! eight tables so that equal register values (most are 0 or 1) do not
//! wait on each other's stores.

use super::{estimate, Corrupt, DENSE, HDR_SIZE, REGISTERS};

/// One byte per register.
pub type RawRegisters = [u8; REGISTERS];

/// `max[i] = max(max[i], hll[i])` over a valid HLL (Redis's hllMerge).
/// Err for a sparse HLL whose runs go past the last register or do not
/// cover exactly 16384 registers.
pub fn merge_into(max: &mut RawRegisters, s: &[u8]) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        merge_dense(max, &s[HDR_SIZE..]);
        Ok(())
    } else {
        merge_sparse(max, &s[HDR_SIZE..])
    }
}

fn merge_dense(max: &mut RawRegisters, regs: &[u8]) {
    // Four 6-bit registers in every 3 bytes, least significant first.
    for (m, b) in max.chunks_exact_mut(4).zip(regs.chunks_exact(3)) {
        let (b0, b1, b2) = (b[0], b[1], b[2]);
        m[0] = m[0].max(b0 & 63);
        m[1] = m[1].max((b0 >> 6) | ((b1 & 15) << 2));
        m[2] = m[2].max((b1 >> 4) | ((b2 & 3) << 4));
        m[3] = m[3].max(b2 >> 2);
    }
}

/// The sparse opcodes after the header: ZERO `00xxxxxx`, XZERO
/// `01xxxxxx xxxxxxxx` (a missing second byte reads as 0, as the C code
/// reads the sds terminator) and VAL `1vvvvvxx`.
fn merge_sparse(max: &mut RawRegisters, ops: &[u8]) -> Result<(), Corrupt> {
    let mut idx = 0usize;
    let mut p = 0usize;
    while p < ops.len() {
        let b = ops[p];
        if b & 0x80 != 0 {
            let len = (b & 3) as usize + 1;
            let v = ((b >> 2) & 0x1f) + 1;
            // A run past the last register is corruption (the rule of the
            // CVE-2025-32023 fix shipped in Redis 7.0.15 builds).
            if idx + len > REGISTERS {
                return Err(Corrupt);
            }
            if len == 1 {
                max[idx] = max[idx].max(v);
            } else {
                for m in &mut max[idx..idx + len] {
                    *m = (*m).max(v);
                }
            }
            idx += len;
            p += 1;
        } else {
            if b & 0x40 == 0 {
                idx += (b & 0x3f) as usize + 1;
                p += 1;
            } else {
                let lo = ops.get(p + 1).copied().unwrap_or(0) as usize;
                idx += ((((b & 0x3f) as usize) << 8) | lo) + 1;
                p += 2;
            }
            if idx > REGISTERS {
                return Err(Corrupt);
            }
        }
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Register histogram of unpacked registers (values masked to 6 bits).
pub fn histogram(regs: &RawRegisters) -> [u64; 64] {
    // Eight empty registers at a time are counted at once (most are, for
    // small sets), as Redis's hllRawRegHisto; otherwise byte j of the word
    // goes to table j, so runs of equal values do not serialize on one
    // counter.
    let mut tables = [[0u32; 64]; 8];
    let mut empty_words = 0u64;
    for w in regs.chunks_exact(8) {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        if x == 0 {
            empty_words += 1;
            continue;
        }
        for (j, t) in tables.iter_mut().enumerate() {
            t[((x >> (8 * j)) & 63) as usize] += 1;
        }
    }
    let mut histo = [0u64; 64];
    histo[0] = empty_words * 8;
    for t in &tables {
        for (h, &n) in histo.iter_mut().zip(t.iter()) {
            *h += n as u64;
        }
    }
    histo
}

/// Register histogram of dense (packed) registers.
pub fn dense_histogram(regs: &[u8]) -> [u64; 64] {
    let mut raw = [0u8; REGISTERS];
    merge_dense(&mut raw, regs);
    histogram(&raw)
}

/// Cardinality of unpacked registers.
pub fn count_raw(regs: &RawRegisters) -> u64 {
    estimate(&histogram(regs))
}

#[cfg(test)]
mod tests {
    use super::super::{add, dense_get, new_sparse, sparse_to_dense, walk_sparse};
    use super::*;

    fn slow_histogram(regs: &[u8]) -> [u64; 64] {
        let mut h = [0u64; 64];
        for &r in regs {
            h[(r & 63) as usize] += 1;
        }
        h
    }

    #[test]
    fn histogram_matches_byte_by_byte() {
        let mut regs = [0u8; REGISTERS];
        assert_eq!(histogram(&regs), slow_histogram(&regs));
        let mut x = 12345u64;
        for (i, r) in regs.iter_mut().enumerate() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Mostly zeros with clusters, and some bytes above 63.
            *r = if i % 100 < 40 {
                0
            } else {
                (x >> 58) as u8 | (x as u8 & 0x80)
            };
        }
        assert_eq!(histogram(&regs), slow_histogram(&regs));
    }

    fn slow_merge(max: &mut [u8], s: &[u8]) -> Result<(), Corrupt> {
        if s[4] == DENSE {
            for (i, m) in max.iter_mut().enumerate() {
                *m = (*m).max(dense_get(&s[HDR_SIZE..], i));
            }
            Ok(())
        } else {
            walk_sparse(s, |first, n, v| {
                for m in &mut max[first..first + n] {
                    *m = (*m).max(v);
                }
            })
        }
    }

    #[test]
    fn merge_matches_register_by_register() {
        let mut fast = [0u8; REGISTERS];
        let mut slow = [0u8; REGISTERS];
        for k in 0..6u32 {
            let mut s = new_sparse();
            for e in 0..(k * 700) {
                add(&mut s, format!("{k}:{e}").as_bytes(), 3000).unwrap();
            }
            if k == 5 {
                sparse_to_dense(&mut s).unwrap();
            }
            merge_into(&mut fast, &s).unwrap();
            slow_merge(&mut slow, &s).unwrap();
            assert_eq!(fast, slow);
        }
        assert_eq!(count_raw(&fast), estimate(&slow_histogram(&slow)));
    }

    #[test]
    fn dense_histogram_matches_register_by_register() {
        let mut regs = vec![0u8; super::super::DENSE_SIZE - HDR_SIZE];
        let mut x = 5u64;
        for i in 0..REGISTERS {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = if i % 7 == 0 { 0 } else { (x >> 58) as u8 };
            super::super::dense_put(&mut regs, i, v);
        }
        let slow: Vec<u8> = (0..REGISTERS).map(|i| dense_get(&regs, i)).collect();
        assert_eq!(dense_histogram(&regs), slow_histogram(&slow));
    }

    #[test]
    fn corrupted_sparse_runs() {
        let hdr = |ops: &[u8]| {
            let mut s = new_sparse();
            s.truncate(HDR_SIZE);
            s.extend_from_slice(ops);
            s
        };
        let mut max = [0u8; REGISTERS];
        // Too few registers, too many, a VAL past the end, XZERO cut short.
        for ops in [
            &[0x7f, 0xfe][..],
            &[0x7f, 0xff, 0x00],
            &[0x7f, 0xfe, 0x83],
            &[0x7f, 0xfd, 0x80, 0x83],
            &[0x7f],
            &[],
        ] {
            assert_eq!(merge_into(&mut max, &hdr(ops)), Err(Corrupt), "{ops:?}");
            let mut slow = [0u8; REGISTERS];
            assert_eq!(slow_merge(&mut slow, &hdr(ops)), Err(Corrupt), "{ops:?}");
        }
        assert_eq!(merge_into(&mut max, &hdr(&[0x7f, 0xfe, 0x80])), Ok(()));
        assert_eq!(max[16383], 1);
    }
}
