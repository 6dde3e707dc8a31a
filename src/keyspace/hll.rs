//! HyperLogLog codec, byte-compatible with Redis 7.0 (hyperloglog.c).
//!
//! An HLL is a plain string: a 16-byte header (`HYLL`, encoding byte,
//! three unused bytes, 8-byte little-endian cached cardinality whose most
//! significant bit marks the cache invalid) followed by either 16384
//! packed 6-bit registers (dense, 12288 bytes) or a run-length sparse form
//! made of ZERO (`00xxxxxx`), XZERO (`01xxxxxx xxxxxxxx`) and VAL
//! (`1vvvvvxx`) opcodes. Keeping Redis's exact bytes means GET, DUMP and
//! replication see what Redis would produce, so every operation here
//! follows Redis's algorithm step by step, including how it treats
//! corrupted input (reads past the end see a zero byte, as the C code
//! reads the sds terminator). Nothing here panics on corrupted bytes.

/// log2 of the register count.
pub const P: u32 = 14;
/// Hash bits left after the register index.
pub const Q: u32 = 64 - P;
pub const REGISTERS: usize = 1 << P;
pub const HDR_SIZE: usize = 16;
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * 6).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const REGISTER_MAX: u8 = 63;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
const SEED: u64 = 0xadc8_3b19;

#[path = "hll_raw.rs"]
mod raw;
pub use raw::{count_raw, merge_into, RawRegisters};
#[path = "hll_debug.rs"]
mod debug;
pub use debug::{decode_sparse, registers, selftest};

/// The representation is corrupted (Redis's INVALIDOBJ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// Redis's MurmurHash64A (little-endian reads).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= (*b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// Register index and run length of `000..1` for an element.
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Register `i` of packed 6-bit registers (a missing byte reads as 0).
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = regs.get(byte).copied().unwrap_or(0) as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

/// Sets register `i` of packed 6-bit registers.
pub fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = val as u32;
    let b0 = &mut regs[byte];
    *b0 = ((*b0 as u32 & !((REGISTER_MAX as u32) << fb)) | (v << fb)) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        let mask = (REGISTER_MAX as u32) >> (8 - fb);
        *b1 = ((*b1 as u32 & !mask) | (v >> (8 - fb))) as u8;
    }
}

/// Raises register `i` to `count`; true if it changed.
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// True if a string's header makes it an HLL (Redis's isHLLObjectOrReply:
/// magic, known encoding, exact length when dense).
pub fn is_valid_header(s: &[u8]) -> bool {
    s.len() >= HDR_SIZE
        && &s[..4] == b"HYLL"
        && s[4] <= SPARSE
        && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

/// A new, empty sparse HLL (Redis's createHLLObject).
pub fn new_sparse() -> Vec<u8> {
    let mut v = vec![0u8; HDR_SIZE];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | 0x40);
    v.push((l & 0xff) as u8);
}

fn val_op(val: u8, len: usize) -> u8 {
    ((val - 1) << 2) | (len as u8 - 1) | 0x80
}

/// One decoded sparse opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Op {
    /// Registers the opcode covers.
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }

    fn bytes(self) -> usize {
        if matches!(self, Op::XZero(_)) {
            2
        } else {
            1
        }
    }
}

/// Decodes the opcode at `p` (a byte past the end reads as 0).
fn op_at(s: &[u8], p: usize) -> Op {
    let b = s[p];
    if b & 0xc0 == 0 {
        Op::Zero((b & 0x3f) as usize + 1)
    } else if b & 0x80 == 0 {
        let lo = s.get(p + 1).copied().unwrap_or(0) as usize;
        Op::XZero((((b & 0x3f) as usize) << 8 | lo) + 1)
    } else {
        Op::Val(((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1)
    }
}

/// Calls `f(first, len, value)` for each VAL run of a sparse HLL, as
/// Redis's hllSparseToDense / hllMerge walk it; Err if a run goes past
/// the last register or the runs do not cover exactly 16384 registers.
fn walk_sparse(s: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let mut p = HDR_SIZE;
    let mut idx = 0usize;
    while p < s.len() {
        let op = op_at(s, p);
        let n = op.span();
        // Any run past the last register is corruption (the rule of the
        // CVE-2025-32023 fix shipped in Redis 7.0.15 builds).
        if idx + n > REGISTERS {
            return Err(Corrupt);
        }
        if let Op::Val(v, _) = op {
            f(idx, n, v);
        }
        idx += n;
        p += op.bytes();
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Converts a sparse HLL to dense in place (header and cached cardinality
/// kept). A dense one is left alone.
pub fn sparse_to_dense(s: &mut Vec<u8>) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&s[..HDR_SIZE]);
    dense[4] = DENSE;
    walk_sparse(s, |first, n, v| {
        for i in first..first + n {
            dense_put(&mut dense[HDR_SIZE..], i, v);
        }
    })?;
    *s = dense;
    Ok(())
}

/// Where [`find_op`] found the opcode covering a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpAt {
    /// Offset of the opcode.
    p: usize,
    /// The first register it covers.
    first: usize,
    /// Offset of the opcode before it.
    prev: Option<usize>,
    /// How many registers it covers.
    span: usize,
}

/// The opcode covering register `index` of a sparse HLL, walking from
/// the start as Redis's hllSparseSet does; None if the opcodes end first.
/// Eight one-byte opcodes are taken at once (their run lengths added in
/// one u64) while the register is past them, so the walk does not take a
/// hard-to-predict branch per opcode; a group holding an XZERO (two bytes
/// long) or the register is walked one opcode at a time.
fn find_op(s: &[u8], index: usize) -> Option<OpAt> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LANES: u64 = 0x00ff_00ff_00ff_00ff;
    let end = s.len();
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    let mut prev = None;
    loop {
        let mut stop = end;
        if let Some(w) = s.get(p..p + 8) {
            let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            // No XZERO (01xxxxxx) among the eight bytes.
            if !x & (x << 1) & (ONES * 0x80) == 0 {
                // VAL (1vvvvvxx) covers xx + 1 registers, ZERO (00xxxxxx)
                // xxxxxx + 1: add the eight lengths in 16-bit lanes.
                let is_val = (x >> 7) & ONES;
                let lens = (x & ((ONES * 0x3f) ^ (is_val * 0x3c))) + ONES;
                let pairs = (lens & LANES) + ((lens >> 8) & LANES);
                let sum = (pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48) as usize;
                if index >= first + sum {
                    first += sum;
                    prev = Some(p + 7);
                    p += 8;
                    continue;
                }
            }
            stop = p + 8;
        }
        // One opcode at a time past these bytes.
        while p < stop {
            let op = op_at(s, p);
            let span = op.span();
            if index < first + span {
                return Some(OpAt {
                    p,
                    first,
                    prev,
                    span,
                });
            }
            prev = Some(p);
            p += op.bytes();
            first += span;
        }
        if p >= end {
            return None;
        }
    }
}

/// Raises register `index` of a sparse HLL to `count` (Redis's
/// hllSparseSet), promoting to dense when the value does not fit a VAL
/// opcode or the string would grow beyond `max_bytes`.
pub fn sparse_set(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: u64,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let end = s.len();
    let Some(OpAt {
        p,
        first,
        prev,
        span,
    }) = find_op(s, index)
    else {
        return Err(Corrupt);
    };
    let op = op_at(s, p);
    let mut updated_in_place = false;
    match op {
        Op::Val(old, n) => {
            if old >= count {
                return Ok(false);
            }
            if n == 1 {
                s[p] = val_op(count, 1);
                updated_in_place = true;
            }
        }
        Op::Zero(1) => {
            s[p] = val_op(count, 1);
            updated_in_place = true;
        }
        _ => {}
    }
    if !updated_in_place {
        // Step 2: split the opcode into up to three.
        let mut seq = OpSeq::default();
        let last = first + span - 1;
        match op {
            Op::Zero(_) | Op::XZero(_) => {
                if index != first {
                    seq.zeros(index - first);
                }
                seq.push(val_op(count, 1));
                if index != last {
                    seq.zeros(last - index);
                }
            }
            Op::Val(cur, _) => {
                if index != first {
                    seq.push(val_op(cur, index - first));
                }
                seq.push(val_op(count, 1));
                if index != last {
                    seq.push(val_op(cur, last - index));
                }
            }
        }
        let seq = seq.as_slice();
        // Step 3: substitute the sequence for the old opcode (in place:
        // the bytes after it move once).
        let old_len = op.bytes();
        let delta = seq.len() as isize - old_len as isize;
        if delta > 0 && (end as isize + delta) as u64 > max_bytes {
            return promote(s, index, count);
        }
        let new_len = (end as isize + delta) as usize;
        s.splice(p..(p + old_len).min(end), seq.iter().copied());
        // An XZERO cut by the end of a corrupted string counted two bytes.
        s.resize(new_len, 0);
    }
    // Step 4: merge adjacent VAL opcodes of equal value.
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let b = s[p];
        if b & 0xc0 == 0x40 {
            p += 2;
            continue;
        }
        if b & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < s.len() && s[p + 1] & 0x80 != 0 {
            if let (Op::Val(v1, l1), Op::Val(v2, l2)) = (op_at(s, p), op_at(s, p + 1)) {
                if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                    s[p + 1] = val_op(v1, l1 + l2);
                    s.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(s);
    Ok(true)
}

/// The up to five opcode bytes (XZERO, VAL, XZERO) that replace the
/// opcode a sparse update splits.
#[derive(Default)]
struct OpSeq {
    bytes: [u8; 5],
    len: usize,
}

impl OpSeq {
    fn push(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    /// A ZERO run, or XZERO when longer than a ZERO can say.
    fn zeros(&mut self, len: usize) {
        if len > ZERO_MAX_LEN {
            let l = len - 1;
            self.push((l >> 8) as u8 | 0x40);
            self.push((l & 0xff) as u8);
        } else {
            self.push((len - 1) as u8);
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    sparse_to_dense(s)?;
    Ok(dense_set(&mut s[HDR_SIZE..], index, count))
}

/// Adds an element to a valid HLL (Redis's hllAdd); true if a register
/// changed. Does not touch the cached cardinality of a dense HLL (the
/// caller invalidates it, as PFADD does).
pub fn add(s: &mut Vec<u8>, ele: &[u8], max_bytes: u64) -> Result<bool, Corrupt> {
    let (index, count) = pat_len(ele);
    set_register(s, index, count, max_bytes)
}

/// Adds elements in order (PFADD's loop over hllAdd); returns how many
/// changed a register. Same result as calling [`add`] on each, but once
/// the HLL is dense the elements are hashed a group at a time and the
/// group's register bytes are read before any is updated: the reads are
/// independent, so their cache misses overlap instead of coming one
/// after the other (a dense HLL is 12 KB, and PFADD traffic over many
/// keys rarely finds it in cache).
pub fn add_all<E: AsRef<[u8]>>(
    s: &mut Vec<u8>,
    elements: &[E],
    max_bytes: u64,
) -> Result<u64, Corrupt> {
    const GROUP: usize = 16;
    let mut changed = 0u64;
    let mut rest = elements;
    while let Some((ele, tail)) = rest.split_first() {
        if s[4] == DENSE {
            break;
        }
        changed += add(s, ele.as_ref(), max_bytes)? as u64;
        rest = tail;
    }
    let regs = &mut s[HDR_SIZE..];
    for group in rest.chunks(GROUP) {
        let mut found = [(0usize, 0u8); GROUP];
        for (f, ele) in found.iter_mut().zip(group) {
            *f = pat_len(ele.as_ref());
        }
        let found = &found[..group.len()];
        let mut touched = 0u8;
        for &(i, _) in found {
            touched ^= regs.get(i * 6 / 8).copied().unwrap_or(0);
        }
        std::hint::black_box(touched);
        for &(i, count) in found {
            changed += dense_set(regs, i, count) as u64;
        }
    }
    Ok(changed)
}

/// Raises one register whatever the encoding.
pub fn set_register(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: u64,
) -> Result<bool, Corrupt> {
    match s[4] {
        DENSE => Ok(dense_set(&mut s[HDR_SIZE..], index, count)),
        SPARSE => sparse_set(s, index, count, max_bytes),
        _ => Err(Corrupt),
    }
}

pub fn invalidate_cache(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// The cached cardinality, if valid.
pub fn cached_card(s: &[u8]) -> Option<u64> {
    if s[15] & 0x80 != 0 {
        return None;
    }
    Some(u64::from_le_bytes(s[8..16].try_into().unwrap()))
}

pub fn set_cached_card(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Redis's hllSigma (Ertl's estimator).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let zp = z;
        z += x * y;
        y += y;
        if zp == z {
            return z;
        }
    }
}

/// Redis's hllTau (Ertl's estimator).
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let zp = z;
        y *= 0.5;
        z -= (1.0 - x).powf(2.0) * y;
        if zp == z {
            return z / 3.0;
        }
    }
}

/// Cardinality from a register histogram (64 buckets).
fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Cardinality of a valid HLL (Redis's hllCount); Err if a sparse one's
/// runs do not cover exactly 16384 registers.
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u64; 64];
    if s[4] == DENSE {
        let regs = &s[HDR_SIZE..];
        if regs.len() == DENSE_SIZE - HDR_SIZE {
            // Unpacked four registers per three bytes, then counted
            // eight at a time: several times faster than one by one.
            histo = raw::dense_histogram(regs);
        } else {
            for i in 0..REGISTERS {
                histo[dense_get(regs, i) as usize] += 1;
            }
        }
    } else {
        let mut p = HDR_SIZE;
        let mut idx = 0usize;
        while p < s.len() {
            let op = op_at(s, p);
            match op {
                Op::Zero(n) | Op::XZero(n) => histo[0] += n as u64,
                Op::Val(v, n) => histo[v as usize] += n as u64,
            }
            idx += op.span();
            p += op.bytes();
        }
        if idx != REGISTERS {
            return Err(Corrupt);
        }
    }
    Ok(estimate(&histo))
}

#[cfg(test)]
#[path = "hll_tests.rs"]
mod tests;
