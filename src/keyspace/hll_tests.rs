//! Unit tests of the HLL codec: bytes checked against real Redis 7.0.15
//! output, round trips between encodings, and corrupted inputs.

use super::*;
use proptest::prelude::*;

fn add_strings(s: &mut Vec<u8>, items: impl IntoIterator<Item = String>) {
    for e in items {
        add(s, e.as_bytes(), 3000).unwrap();
    }
}

#[test]
fn new_sparse_layout() {
    let s = new_sparse();
    assert_eq!(s, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
    assert!(is_valid_header(&s));
    assert_eq!(count(&s), Ok(0));
    assert_eq!(decode_sparse(&s), "Z:16384");
}

#[test]
fn pfadd_abc_matches_redis() {
    // PFADD h a b c; GET h on Redis 7.0.15.
    let mut s = new_sparse();
    add_strings(&mut s, ["a", "b", "c"].map(String::from));
    invalidate_cache(&mut s);
    let expect =
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ";
    assert_eq!(s, expect);
    assert_eq!(count(&s), Ok(3));
}

fn sha1_hex(b: &[u8]) -> String {
    // Tiny SHA-1 for comparing against Redis's output without storing it.
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = b.to_vec();
    let bits = (b.len() as u64) * 8;
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes(chunk[i * 4..i * 4 + 4].try_into().unwrap());
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut bb, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((bb & c) | (!bb & d), 0x5A827999),
                20..=39 => (bb ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((bb & c) | (bb & d) | (c & d), 0x8F1BBCDC),
                _ => (bb ^ c ^ d, 0xCA62C1D6u32),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = bb.rotate_left(30);
            bb = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, bb, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn sparse_and_dense_bytes_match_redis() {
    // Redis: PFADD k e1..e1000 one by one, PFCOUNT k -> 1008, sparse, 1906 bytes.
    let mut k = new_sparse();
    add_strings(&mut k, (1..=1000).map(|i| format!("e{i}")));
    invalidate_cache(&mut k);
    let c = count(&k).unwrap();
    assert_eq!(c, 1008);
    set_cached_card(&mut k, c);
    assert_eq!(k[4], SPARSE);
    assert_eq!(k.len(), 1906);
    assert_eq!(sha1_hex(&k), "3b1ea28489e6eee8dead1ba587ae68732da53417");
    // Same with 5000 elements: promoted to dense, PFCOUNT 4968.
    let mut d = new_sparse();
    add_strings(&mut d, (1..=5000).map(|i| format!("e{i}")));
    invalidate_cache(&mut d);
    let c = count(&d).unwrap();
    assert_eq!(c, 4968);
    set_cached_card(&mut d, c);
    assert_eq!(d.len(), DENSE_SIZE);
    assert_eq!(sha1_hex(&d), "9861bece294bd8f0c758bed7a2a7a65b10e78d8c");
}

#[test]
fn murmur_known_values() {
    assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    // Stable across tail lengths 0..=8 and seeds.
    let a = murmur64a(b"", 0xadc83b19);
    let b = murmur64a(b"12345678", 0xadc83b19);
    assert_ne!(a, b);
    assert_ne!(murmur64a(b"1234567", 1), murmur64a(b"1234567", 2));
}

#[test]
fn dense_registers_round_trip() {
    let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
    for i in 0..REGISTERS {
        dense_put(&mut regs, i, (i * 7 % 64) as u8);
    }
    for i in 0..REGISTERS {
        assert_eq!(dense_get(&regs, i), (i * 7 % 64) as u8, "register {i}");
    }
}

#[test]
fn promotion_on_big_value_and_size() {
    let mut s = new_sparse();
    assert_eq!(sparse_set(&mut s, 5, 33, 3000), Ok(true));
    assert_eq!(s.len(), DENSE_SIZE);
    assert_eq!(registers(&s)[5], 33);
    let mut s = new_sparse();
    // A tiny limit forces promotion on the first split that grows.
    assert_eq!(sparse_set(&mut s, 100, 3, 20), Ok(true));
    assert_eq!(s[4], DENSE);
}

#[test]
fn add_all_equals_one_by_one() {
    // Batches that stay sparse, cross the promotion to dense midway, and
    // run on a dense HLL (groups of 16 and a partial group).
    let mut one = new_sparse();
    let mut all = new_sparse();
    for (n, batch) in [1usize, 10, 300, 2000, 37, 16, 5000]
        .into_iter()
        .enumerate()
    {
        let elems: Vec<String> = (0..batch).map(|i| format!("e{n}:{i}")).collect();
        let mut changed = 0;
        for e in &elems {
            changed += add(&mut one, e.as_bytes(), 3000).unwrap() as u64;
        }
        assert_eq!(add_all(&mut all, &elems, 3000), Ok(changed));
        assert_eq!(one, all, "after a batch of {batch}");
    }
    assert_eq!(all[4], DENSE);
    // An element already counted changes nothing.
    assert_eq!(add_all(&mut all, &["e0:0"], 3000), Ok(0));
    let mut bad = new_sparse();
    bad.truncate(HDR_SIZE + 1);
    assert_eq!(add_all(&mut bad, &["x"], 3000), Err(Corrupt));
}

/// find_op against a walk of one opcode at a time, on real sparse HLLs
/// (with XZEROs between the runs) and on random bytes.
#[test]
fn find_op_equals_op_by_op_walk() {
    fn slow(s: &[u8], index: usize) -> Option<OpAt> {
        let mut p = HDR_SIZE;
        let mut first = 0;
        let mut prev = None;
        while p < s.len() {
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
        None
    }
    let mut x = 99u64;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let mut strings = vec![new_sparse()];
    let mut s = new_sparse();
    for i in 0..1500 {
        add(&mut s, format!("{i}").as_bytes(), 3000).unwrap();
        if i % 100 == 0 {
            strings.push(s.clone());
        }
    }
    for _ in 0..300 {
        let mut g = new_sparse()[..HDR_SIZE].to_vec();
        g.extend((0..next() % 40).map(|_| next() as u8));
        strings.push(g);
    }
    for s in &strings {
        for _ in 0..200 {
            let index = next() as usize % (REGISTERS + 50);
            assert_eq!(
                find_op(s, index),
                slow(s, index),
                "{:?} {index}",
                &s[HDR_SIZE..]
            );
        }
    }
}

#[test]
fn sparse_merges_adjacent_vals() {
    let mut s = new_sparse();
    for i in 10..14 {
        sparse_set(&mut s, i, 2, 3000).unwrap();
    }
    assert_eq!(decode_sparse(&s), "z:10 v:2,4 Z:16370");
    assert_eq!(sparse_set(&mut s, 11, 2, 3000), Ok(false));
    sparse_set(&mut s, 11, 5, 3000).unwrap();
    assert_eq!(decode_sparse(&s), "z:10 v:2,1 v:5,1 v:2,2 Z:16370");
}

#[test]
fn corrupted_inputs_are_errors() {
    // Runs covering too few registers.
    let mut s = new_sparse();
    s.truncate(HDR_SIZE);
    s.push(0x00);
    assert_eq!(count(&s), Err(Corrupt));
    assert_eq!(sparse_to_dense(&mut s.clone()), Err(Corrupt));
    assert_eq!(merge_into(&mut [0u8; REGISTERS], &s), Err(Corrupt));
    assert_eq!(sparse_set(&mut s, 5000, 1, 3000), Err(Corrupt));
    // Too many registers (VAL runs overflowing).
    let mut s = new_sparse();
    s.extend_from_slice(&[0x83, 0x83]);
    assert_eq!(count(&s), Err(Corrupt));
    // Redis 7.0.15 (with the CVE-2025-32023 fix) rejects a run past the
    // last register even when exactly 16384 registers came before it.
    assert_eq!(sparse_to_dense(&mut s.clone()), Err(Corrupt));
    assert_eq!(merge_into(&mut [0u8; REGISTERS], &s), Err(Corrupt));
    // Truncated XZERO reads a zero byte, like Redis's sds terminator.
    let mut s = new_sparse();
    s.pop();
    assert_eq!(count(&s), Err(Corrupt));
    // Only the header is not an empty HLL.
    let s = new_sparse()[..HDR_SIZE].to_vec();
    assert_eq!(count(&s), Err(Corrupt));
    // Header checks.
    assert!(!is_valid_header(b"HYLL\x01\0\0"));
    assert!(!is_valid_header(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"));
    assert!(!is_valid_header(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"));
    assert!(!is_valid_header(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"));
}

#[test]
fn cached_cardinality_flag() {
    let mut s = new_sparse();
    assert_eq!(cached_card(&s), Some(0));
    invalidate_cache(&mut s);
    assert_eq!(cached_card(&s), None);
    set_cached_card(&mut s, 0x0102);
    assert_eq!(cached_card(&s), Some(0x0102));
    assert_eq!(&s[8..16], &[2, 1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn selftest_passes() {
    let mut rng = rand::thread_rng();
    // Register access part only would be too slow in debug for 10M adds;
    // run the whole thing only in release test runs.
    if cfg!(debug_assertions) {
        return;
    }
    assert_eq!(selftest(&mut rng, 3000), Ok(()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// PFCOUNT stays within 5 standard errors (0.81% each) of the truth,
    /// and sparse and dense agree.
    #[test]
    fn count_within_error_bound(n in 1usize..20000, salt in any::<u32>()) {
        let mut s = new_sparse();
        let mut dense = new_sparse();
        sparse_to_dense(&mut dense).unwrap();
        for i in 0..n {
            let e = format!("{salt}:{i}");
            add(&mut s, e.as_bytes(), 3000).unwrap();
            add(&mut dense, e.as_bytes(), 3000).unwrap();
        }
        let c = count(&s).unwrap();
        prop_assert_eq!(c, count(&dense).unwrap());
        let err = (c as f64 - n as f64).abs();
        prop_assert!(err <= (n as f64 * 0.0081 * 5.0).max(2.0), "n={} count={}", n, c);
        // Sparse -> dense keeps every register.
        let mut conv = s.clone();
        sparse_to_dense(&mut conv).unwrap();
        prop_assert_eq!(registers(&conv), registers(&dense));
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, &s).unwrap();
        prop_assert_eq!(count_raw(&max), c);
    }

    /// Random bytes never panic the codec.
    #[test]
    fn garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..64), idx in 0usize..REGISTERS, v in 1u8..64) {
        let mut s = new_sparse()[..HDR_SIZE].to_vec();
        s.extend_from_slice(&body);
        let _ = count(&s);
        let _ = merge_into(&mut [0u8; REGISTERS], &s);
        let _ = decode_sparse(&s);
        let _ = sparse_to_dense(&mut s.clone());
        let _ = sparse_set(&mut s, idx, v, 3000);
    }
}

proptest! {
    /// The dense merge that unpacks four registers per three bytes takes
    /// the same maximum as reading each register on its own.
    #[test]
    fn dense_merge_equals_register_by_register(
        seed in proptest::collection::vec((0usize..REGISTERS, 0u8..=63), 0..400),
        start in proptest::collection::vec(0u8..=63, REGISTERS..=REGISTERS),
    ) {
        let mut hll = vec![0u8; DENSE_SIZE];
        hll[..4].copy_from_slice(b"HYLL");
        hll[4] = DENSE;
        for (i, v) in seed {
            dense_put(&mut hll[HDR_SIZE..], i, v);
        }
        let mut fast: RawRegisters = start.clone().try_into().unwrap();
        merge_into(&mut fast, &hll).unwrap();
        let slow: Vec<u8> = (0..REGISTERS)
            .map(|i| start[i].max(dense_get(&hll[HDR_SIZE..], i)))
            .collect();
        prop_assert_eq!(fast.to_vec(), slow);
    }
}
