//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP here, BITFIELD and BITFIELD_RO in [`bitfield`].
//!
//! Bit 0 is the most significant bit of the first byte. Writes grow the
//! string with zero bytes and leave it `raw`; bit offsets are limited by
//! proto-max-bulk-len. Replies, errors and the "setbit" keyspace event
//! follow Redis 7.0's bitops.c, including that SETBIT/BITFIELD only count
//! a change (dirty, propagation, event) when a byte really changed.

mod bitfield;

use super::ctx::notify;
use super::table::{flags::*, CommandDef, KeyPos, K1};
use super::{err, Ctx};
use crate::keyspace::Value;
use crate::util::num::parse_i64;
use bytes::Bytes;

const KBITOP: KeyPos = KeyPos::Range {
    first: 2,
    last: -1,
    step: 1,
};

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("setbit", 4, WRITE | DENYOOM, K1, setbit).doc(
        "bitmap",
        "2.2.0",
        "Sets or clears the bit at offset in the string value stored at key",
        "O(1)",
    ),
    CommandDef::new("getbit", 3, READONLY | FAST, K1, getbit).doc(
        "bitmap",
        "2.2.0",
        "Returns the bit value at offset in the string value stored at key",
        "O(1)",
    ),
    CommandDef::new("bitcount", -2, READONLY, K1, bitcount).doc(
        "bitmap",
        "2.6.0",
        "Count set bits in a string",
        "O(N)",
    ),
    CommandDef::new("bitpos", -3, READONLY, K1, bitpos).doc(
        "bitmap",
        "2.8.7",
        "Find first bit set or clear in a string",
        "O(N)",
    ),
    CommandDef::new("bitop", -4, WRITE | DENYOOM, KBITOP, bitop).doc(
        "bitmap",
        "2.6.0",
        "Perform bitwise operations between strings",
        "O(N)",
    ),
    CommandDef::new("bitfield", -2, WRITE | DENYOOM, K1, bitfield::bitfield).doc(
        "bitmap",
        "3.2.0",
        "Perform arbitrary bitfield integer operations on strings",
        "O(1) for each subcommand specified",
    ),
    CommandDef::new(
        "bitfield_ro",
        -2,
        READONLY | FAST,
        K1,
        bitfield::bitfield_ro,
    )
    .doc(
        "bitmap",
        "6.0.0",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        "O(1) for each subcommand specified",
    ),
];

const BIT_OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

/// Redis's getBitOffsetFromArgument: a bit offset, or with `bits > 0` also
/// `#n` meaning `n * bits`; limited to proto-max-bulk-len bytes.
fn bit_offset(ctx: &mut Ctx, arg: &[u8], bits: u32) -> Option<u64> {
    let hash = bits > 0 && arg.first() == Some(&b'#');
    let digits = if hash { &arg[1..] } else { arg };
    let Some(mut off) = parse_i64(digits) else {
        ctx.out.error(BIT_OFFSET_ERR);
        return None;
    };
    if hash {
        off = off.wrapping_mul(bits as i64);
    }
    if off < 0 || (off >> 3) >= ctx.srv.config.proto_max_bulk_len {
        ctx.out.error(BIT_OFFSET_ERR);
        return None;
    }
    Some(off as u64)
}

/// Redis's lookupStringForBitCommand: the key's string as a raw buffer
/// grown (with zero bytes) so that bit `maxbit` exists, creating the key
/// if needed. Replies WRONGTYPE and returns None for other types; else
/// returns whether the key was created or grown.
fn string_for_bits(ctx: &mut Ctx, key: &[u8], maxbit: u64) -> Option<bool> {
    let need = (maxbit >> 3) as usize + 1;
    match ctx.lookup_write(key) {
        Some(e) if !e.value.is_string() => {
            ctx.out.error(err::WRONGTYPE);
            None
        }
        Some(e) => {
            let buf = e.value.make_raw().expect("a string");
            if buf.len() < need {
                buf.resize(need, 0);
                Some(true)
            } else {
                Some(false)
            }
        }
        None => {
            ctx.set_key(key, Value::Raw(Box::new(vec![0; need])), false);
            Some(true)
        }
    }
}

/// The raw buffer of a key known to hold a raw string.
fn raw_buf<'a>(ctx: &'a mut Ctx, key: &[u8]) -> &'a mut Vec<u8> {
    let db = ctx.client.db;
    let e = ctx.srv.dbs[db].get_mut(key).expect("key exists");
    e.value.make_raw().expect("a string")
}

fn setbit(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let Some(off) = bit_offset(ctx, &args[2], 0) else {
        return;
    };
    let on = match parse_i64(&args[3]) {
        Some(v) if v & !1 == 0 => v as u8,
        _ => {
            ctx.out.error("ERR bit is not an integer or out of range");
            return;
        }
    };
    let Some(grown) = string_for_bits(ctx, key, off) else {
        return;
    };
    let buf = raw_buf(ctx, key);
    let byte = (off >> 3) as usize;
    let shift = 7 - (off & 7) as u8;
    let old = (buf[byte] >> shift) & 1;
    if grown || old != on {
        buf[byte] = (buf[byte] & !(1 << shift)) | (on << shift);
        ctx.key_modified(key);
        ctx.notify(notify::STRING, "setbit", key);
        ctx.dirty += 1;
    }
    ctx.out.int(old as i64);
}

fn getbit(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(off) = bit_offset(ctx, &args[2], 0) else {
        return;
    };
    let bit = match ctx.lookup_read(&args[1]) {
        None => 0,
        Some(e) if !e.value.is_string() => {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
        Some(e) => {
            let b = e.value.as_bytes().expect("a string");
            let byte = (off >> 3) as usize;
            b.get(byte).map_or(0, |v| (v >> (7 - (off & 7))) & 1)
        }
    };
    ctx.out.int(bit as i64);
}

/// Reads the string at `key` for a read-only bit command: Ok(None) when
/// missing, Err after replying WRONGTYPE.
fn read_string(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, ()> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(e) if !e.value.is_string() => {
            ctx.out.error(err::WRONGTYPE);
            Err(())
        }
        Some(e) => Ok(Some(e.value.as_bytes().expect("a string").into_owned())),
    }
}

/// Resolves a BITCOUNT/BITPOS range to (first byte, last byte, mask of
/// bits to ignore in the first byte, mask of bits to ignore in the last
/// byte), or None for an empty range.
fn resolve_range(
    mut start: i64,
    mut end: i64,
    len: i64,
    isbit: bool,
) -> Option<(i64, i64, u8, u8)> {
    let total = if isbit { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if isbit && start <= end {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    if start > end {
        None
    } else {
        Some((start, end, first_mask, last_mask))
    }
}

/// BIT or BYTE (case-insensitive).
fn parse_unit(arg: &[u8]) -> Result<bool, &'static str> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Ok(false)
    } else {
        Err(err::SYNTAX)
    }
}

/// Runs `f` on the bytes of the string at `key` without copying them.
/// Replies `missing` when there is no key and WRONGTYPE for other types;
/// otherwise `f` gives the integer reply or an error text.
fn with_string(
    ctx: &mut Ctx,
    key: &[u8],
    missing: i64,
    f: impl FnOnce(&[u8]) -> Result<i64, &'static str>,
) {
    let res = match ctx.lookup_read(key) {
        None => Ok(missing),
        Some(e) if !e.value.is_string() => Err(err::WRONGTYPE),
        Some(e) => f(&e.value.as_bytes().expect("a string")),
    };
    match res {
        Ok(n) => ctx.out.int(n),
        Err(msg) => ctx.out.error(msg),
    }
}

fn popcount(b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    let mut n: u64 = chunks
        .by_ref()
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()).count_ones() as u64)
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|v| v.count_ones() as u64)
        .sum::<u64>();
    n
}

fn bitcount(ctx: &mut Ctx, args: &[Bytes]) {
    with_string(ctx, &args[1], 0, |s| {
        let range = match args.len() {
            2 if s.is_empty() => None,
            2 => Some((0, s.len() as i64 - 1, 0, 0)),
            4 | 5 => {
                let (Some(start), Some(end)) = (parse_i64(&args[2]), parse_i64(&args[3])) else {
                    return Err(err::NOT_INT);
                };
                if start < 0 && end < 0 && start > end {
                    return Ok(0);
                }
                let isbit = if args.len() == 5 {
                    parse_unit(&args[4])?
                } else {
                    false
                };
                resolve_range(start, end, s.len() as i64, isbit)
            }
            _ => return Err(err::SYNTAX),
        };
        let Some((start, end, first_mask, last_mask)) = range else {
            return Ok(0);
        };
        let (start, end) = (start as usize, end as usize);
        let mut count = popcount(&s[start..=end]);
        count -= (s[start] & first_mask).count_ones() as u64;
        count -= (s[end] & last_mask).count_ones() as u64;
        Ok(count as i64)
    });
}

/// Position of the first bit equal to `bit` in `b`; when none, -1 for a
/// set bit and `8 * len` for a clear bit (the string is seen as padded
/// with zeros on the right), as Redis's redisBitpos.
fn first_bit(b: &[u8], bit: bool) -> i64 {
    let skip: u8 = if bit { 0 } else { 0xff };
    let mut chunks = b.chunks_exact(8);
    let mut pos = 0i64;
    for c in chunks.by_ref() {
        let w = u64::from_be_bytes(c.try_into().unwrap());
        if w != if bit { 0 } else { u64::MAX } {
            let z = if bit {
                w.leading_zeros()
            } else {
                w.leading_ones()
            };
            return pos + z as i64;
        }
        pos += 64;
    }
    for &v in chunks.remainder() {
        if v != skip {
            let z = if bit {
                v.leading_zeros()
            } else {
                v.leading_ones()
            };
            return pos + z as i64;
        }
        pos += 8;
    }
    if bit {
        -1
    } else {
        pos
    }
}

/// BITPOS over bytes `start..=end` of `s`, where the bits under the
/// first byte's mask `fm` and the last byte's mask `lm` are outside the
/// range. A clear bit past the range is only reported when no end was
/// given (the string counts as zero-padded), as Redis does.
fn bitpos_range(
    s: &[u8],
    bit: bool,
    start: usize,
    end: usize,
    fm: u8,
    lm: u8,
    end_given: bool,
) -> i64 {
    // Bits outside the range are forced to the opposite of what we seek.
    let fix = |v: u8, mask: u8| if bit { v & !mask } else { v | mask };
    let check = |v: u8| {
        let found = if bit { v != 0 } else { v != 0xff };
        found.then(|| if bit { v.leading_zeros() } else { v.leading_ones() } as i64)
    };
    let nbytes = end - start + 1;
    let mut pos = None;
    if nbytes == 1 {
        pos = check(fix(fix(s[start], fm), lm));
    } else {
        pos = pos.or_else(|| check(fix(s[start], fm)));
        if pos.is_none() && nbytes > 2 {
            let p = first_bit(&s[start + 1..end], bit);
            if p != -1 && p != ((nbytes - 2) * 8) as i64 {
                pos = Some(8 + p);
            }
        }
        if pos.is_none() {
            pos = check(fix(s[end], lm)).map(|z| ((nbytes - 1) * 8) as i64 + z);
        }
    }
    match pos {
        Some(p) => p + ((start as i64) << 3),
        None if bit || end_given => -1,
        None => ((nbytes * 8) as i64) + ((start as i64) << 3),
    }
}

fn bitpos(ctx: &mut Ctx, args: &[Bytes]) {
    let bit = match parse_i64(&args[2]) {
        None => return ctx.out.error(err::NOT_INT),
        Some(0) => false,
        Some(1) => true,
        Some(_) => return ctx.out.error("ERR The bit argument must be 1 or 0."),
    };
    with_string(ctx, &args[1], if bit { -1 } else { 0 }, |s| {
        let len = s.len() as i64;
        let mut end_given = false;
        let range = match args.len() {
            3 if s.is_empty() => None,
            3 => Some((0, len - 1, 0, 0)),
            4..=6 => {
                let start = parse_i64(&args[3]).ok_or(err::NOT_INT)?;
                let isbit = if args.len() == 6 {
                    parse_unit(&args[5])?
                } else {
                    false
                };
                let end = if args.len() >= 5 {
                    end_given = true;
                    parse_i64(&args[4]).ok_or(err::NOT_INT)?
                } else if isbit {
                    (len << 3) + 7
                } else {
                    len - 1
                };
                resolve_range(start, end, len, isbit)
            }
            _ => return Err(err::SYNTAX),
        };
        Ok(match range {
            None => -1,
            Some((start, end, 0, 0)) => {
                let (start, end) = (start as usize, end as usize);
                let p = first_bit(&s[start..=end], bit);
                let nbits = ((end - start + 1) * 8) as i64;
                if end_given && !bit && p == nbits {
                    -1
                } else if p != -1 {
                    p + ((start as i64) << 3)
                } else {
                    p
                }
            }
            Some((start, end, fm, lm)) => {
                bitpos_range(s, bit, start as usize, end as usize, fm, lm, end_given)
            }
        })
    });
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// The result of BITOP over `srcs` (missing keys are empty strings and
/// shorter strings are zero-padded).
fn bitop_compute(op: BitOp, srcs: &[Vec<u8>]) -> Vec<u8> {
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut res = vec![0u8; maxlen];
    for (j, out) in res.iter_mut().enumerate() {
        let at = |s: &Vec<u8>| s.get(j).copied().unwrap_or(0);
        let mut v = at(&srcs[0]);
        if op == BitOp::Not {
            v = !v;
        }
        for s in &srcs[1..] {
            match op {
                BitOp::And => v &= at(s),
                BitOp::Or => v |= at(s),
                BitOp::Xor => v ^= at(s),
                BitOp::Not => {}
            }
        }
        *out = v;
    }
    res
}

fn bitop(ctx: &mut Ctx, args: &[Bytes]) {
    let name = &args[1];
    let op = if name.eq_ignore_ascii_case(b"and") {
        BitOp::And
    } else if name.eq_ignore_ascii_case(b"or") {
        BitOp::Or
    } else if name.eq_ignore_ascii_case(b"xor") {
        BitOp::Xor
    } else if name.eq_ignore_ascii_case(b"not") {
        BitOp::Not
    } else {
        return ctx.out.error(err::SYNTAX);
    };
    if op == BitOp::Not && args.len() != 4 {
        return ctx
            .out
            .error("ERR BITOP NOT must be called with a single source key.");
    }
    let mut srcs = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        match read_string(ctx, key) {
            Err(()) => return,
            Ok(s) => srcs.push(s.unwrap_or_default()),
        }
    }
    let res = bitop_compute(op, &srcs);
    let target = &args[2];
    let len = res.len();
    if len > 0 {
        ctx.set_key(target, Value::Raw(Box::new(res)), false);
        ctx.notify(notify::STRING, "set", target);
        ctx.dirty += 1;
    } else if ctx.delete_key(target) {
        ctx.notify(notify::GENERIC, "del", target);
        ctx.dirty += 1;
    }
    ctx.out.int(len as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bit_edges() {
        assert_eq!(first_bit(b"", true), -1);
        assert_eq!(first_bit(b"", false), 0);
        assert_eq!(first_bit(&[0xff, 0xf0], false), 12);
        assert_eq!(first_bit(&[0xff; 8], false), 64);
        assert_eq!(first_bit(&[0; 17], true), -1);
        let mut v = vec![0u8; 20];
        v[19] = 1;
        assert_eq!(first_bit(&v, true), 159);
        assert_eq!(first_bit(&[0x00, 0x10], true), 11);
    }

    #[test]
    fn bit_ranges() {
        // "\x00\xff\x00": BITPOS 1 in bits 7..15 → 8; in bits 0..7 → -1.
        let s = [0x00u8, 0xff, 0x00];
        let (a, b, fm, lm) = resolve_range(7, 15, 3, true).unwrap();
        assert_eq!(
            bitpos_range(&s, true, a as usize, b as usize, fm, lm, true),
            8
        );
        let (a, b, fm, lm) = resolve_range(0, 6, 3, true).unwrap();
        assert_eq!(
            bitpos_range(&s, true, a as usize, b as usize, fm, lm, true),
            -1
        );
        // Clear bit within one byte with both edges masked.
        let s = [0xffu8, 0xbf];
        let (a, b, fm, lm) = resolve_range(9, 10, 2, true).unwrap();
        assert_eq!(
            bitpos_range(&s, false, a as usize, b as usize, fm, lm, true),
            9
        );
        let (a, b, fm, lm) = resolve_range(10, 12, 2, true).unwrap();
        assert_eq!(
            bitpos_range(&s, false, a as usize, b as usize, fm, lm, true),
            -1
        );
        assert_eq!(resolve_range(5, 2, 10, false), None);
        assert_eq!(resolve_range(-3, -1, 10, false), Some((7, 9, 0, 0)));
        assert_eq!(popcount(b"foobar"), 26);
    }

    #[test]
    fn bitop_pads_with_zeros() {
        let a = vec![0xf0u8, 0x0f];
        let b = vec![0xffu8];
        assert_eq!(
            bitop_compute(BitOp::And, &[a.clone(), b.clone()]),
            vec![0xf0, 0]
        );
        assert_eq!(
            bitop_compute(BitOp::Or, &[a.clone(), b.clone()]),
            vec![0xff, 0x0f]
        );
        assert_eq!(bitop_compute(BitOp::Xor, &[a.clone(), b]), vec![0x0f, 0x0f]);
        assert_eq!(bitop_compute(BitOp::Not, &[a]), vec![0x0f, 0xf0]);
        assert_eq!(
            bitop_compute(BitOp::And, &[vec![], vec![]]),
            Vec::<u8>::new()
        );
    }
}
