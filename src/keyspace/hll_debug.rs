//! PFDEBUG and PFSELFTEST support for the HLL codec: the text of a
//! sparse HLL's opcodes, the registers of a dense one, and Redis's
//! self-test (register access and estimation error, dense against
//! sparse). Kept apart from the codec that PFADD and PFCOUNT run.

use super::{
    add, count, dense_get, dense_put, new_sparse, op_at, sparse_to_dense, Op, DENSE_SIZE, HDR_SIZE,
    REGISTERS, REGISTER_MAX, SPARSE,
};

/// PFDEBUG DECODE's text for a sparse HLL.
pub fn decode_sparse(s: &[u8]) -> String {
    let mut out = String::new();
    let mut p = HDR_SIZE;
    while p < s.len() {
        let op = op_at(s, p);
        match op {
            Op::Zero(n) => out.push_str(&format!("z:{n} ")),
            Op::XZero(n) => out.push_str(&format!("Z:{n} ")),
            Op::Val(v, n) => out.push_str(&format!("v:{v},{n} ")),
        }
        p += op.bytes();
    }
    out.trim_matches(' ').to_string()
}

/// Every register of a dense HLL (PFDEBUG GETREG converts first).
pub fn registers(s: &[u8]) -> Vec<u8> {
    (0..REGISTERS)
        .map(|i| dense_get(&s[HDR_SIZE..], i))
        .collect()
}

/// PFSELFTEST: register access and estimation error checks, with dense
/// and sparse HLLs fed the same elements. Err is the failure text.
pub fn selftest(rng: &mut impl rand::Rng, max_bytes: u64) -> Result<(), String> {
    let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = rng.gen::<u8>() & REGISTER_MAX;
            dense_put(&mut regs, i, *b);
        }
        for (i, b) in bytes.iter().enumerate() {
            let v = dense_get(&regs, i);
            if v != *b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {v}"));
            }
        }
    }
    let mut dense = new_sparse();
    sparse_to_dense(&mut dense).map_err(|_| "TESTFAILED dense/sparse disagree".to_string())?;
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed: u64 = rng.gen();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let _ = add(&mut dense, &ele, max_bytes);
        let _ = add(&mut sparse, &ele, max_bytes);
        if j != checkpoint {
            continue;
        }
        if j < max_bytes / 2 && sparse[4] != SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense).unwrap_or(0);
        if count(&sparse).ok() != Some(card) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}
