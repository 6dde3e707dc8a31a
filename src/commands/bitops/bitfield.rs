//! BITFIELD and BITFIELD_RO: GET/SET/INCRBY of signed (i1..i64) and
//! unsigned (u1..u63) integers at arbitrary bit offsets, with the
//! WRAP/SAT/FAIL overflow policies.
//!
//! The overflow arithmetic reproduces Redis's results bit for bit,
//! including its handling of 64-bit signed fields and of SET values that do
//! not fit the field (they are wrapped or saturated like an increment of 0).

use super::super::ctx::notify;
use super::super::{err, Ctx};
use super::{bit_offset, raw_buf, string_for_bits};
use crate::util::num::parse_i64;
use bytes::Bytes;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    Get,
    Set,
    IncrBy,
}

#[derive(Clone, Copy, Debug)]
struct Op {
    kind: OpKind,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// Reads an unsigned field of `bits` bits at bit `offset` (big-endian bit
/// order); bytes past the end read as zero.
pub(crate) fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..bits as u64 {
        let o = offset + j;
        let byte = p.get((o >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (o & 7))) & 1) as u64;
    }
    v
}

pub(crate) fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let u = get_unsigned(p, offset, bits);
    if bits < 64 && u & (1u64 << (bits - 1)) != 0 {
        (u | (u64::MAX << bits)) as i64
    } else {
        u as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset` (the buffer must
/// be long enough).
pub(crate) fn set_field(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let bit = ((value >> (bits as u64 - 1 - j)) & 1) as u8;
        let o = offset + j;
        let byte = (o >> 3) as usize;
        let shift = 7 - (o & 7) as u8;
        p[byte] = (p[byte] & !(1 << shift)) | (bit << shift);
    }
}

/// Overflow check for an unsigned field: `Some(value to store)` when
/// `value + incr` does not fit (the wrapped or saturated result; for FAIL
/// the value is irrelevant), None when it fits.
pub(crate) fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || {
        let mask = if bits == 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => max,
            Overflow::Fail => 0,
        })
    } else if incr < 0 && incr < minincr {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => 0,
            Overflow::Fail => 0,
        })
    } else {
        None
    }
}

/// Overflow check for a signed field, as [`unsigned_overflow`].
pub(crate) fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => max,
            Overflow::Fail => 0,
        })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => min,
            Overflow::Fail => 0,
        })
    } else {
        None
    }
}

const TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// `i<bits>` or `u<bits>`: (signed, bits).
fn parse_type(arg: &[u8]) -> Option<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    // The width is read up to the first NUL, as Redis uses strlen.
    let rest = &arg[1..];
    let rest = &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())];
    let bits = parse_i64(rest)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return None;
    }
    Some((signed, bits as u32))
}

/// Parses the subcommands; None after an error reply.
fn parse_ops(ctx: &mut Ctx, args: &[Bytes]) -> Option<Vec<Op>> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = &args[j];
        let kind = if sub.eq_ignore_ascii_case(b"get") && rem >= 2 {
            OpKind::Get
        } else if sub.eq_ignore_ascii_case(b"set") && rem >= 3 {
            OpKind::Set
        } else if sub.eq_ignore_ascii_case(b"incrby") && rem >= 3 {
            OpKind::IncrBy
        } else if sub.eq_ignore_ascii_case(b"overflow") && rem >= 1 {
            let t = &args[j + 1];
            overflow = if t.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if t.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if t.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                ctx.out.error("ERR Invalid OVERFLOW type specified");
                return None;
            };
            j += 2;
            continue;
        } else {
            ctx.out.error(err::SYNTAX);
            return None;
        };
        let Some((signed, bits)) = parse_type(&args[j + 1]) else {
            ctx.out.error(TYPE_ERR);
            return None;
        };
        let offset = bit_offset(ctx, &args[j + 2], bits)?;
        let mut value = 0;
        if kind != OpKind::Get {
            let Some(v) = parse_i64(&args[j + 3]) else {
                ctx.out.error(err::NOT_INT);
                return None;
            };
            value = v;
        }
        ops.push(Op {
            kind,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
        j += if kind == OpKind::Get { 3 } else { 4 };
    }
    Some(ops)
}

/// Runs one SET or INCRBY on `p`: the reply value (None for a FAIL
/// overflow) and whether the stored bits changed.
fn write_op(p: &mut [u8], op: &Op) -> (Option<i64>, bool) {
    if op.signed {
        let old = get_signed(p, op.offset, op.bits);
        let (new, ret, ovf) = if op.kind == OpKind::IncrBy {
            let o = signed_overflow(old, op.value, op.bits, op.overflow);
            let new = o.unwrap_or(old.wrapping_add(op.value));
            (new, new, o.is_some())
        } else {
            let o = signed_overflow(op.value, 0, op.bits, op.overflow);
            (o.unwrap_or(op.value), old, o.is_some())
        };
        if ovf && op.overflow == Overflow::Fail {
            return (None, false);
        }
        set_field(p, op.offset, op.bits, new as u64);
        (Some(ret), old != new)
    } else {
        let old = get_unsigned(p, op.offset, op.bits);
        let (new, ret, ovf) = if op.kind == OpKind::IncrBy {
            let o = unsigned_overflow(old, op.value, op.bits, op.overflow);
            let new = o.unwrap_or(old.wrapping_add(op.value as u64));
            (new, new, o.is_some())
        } else {
            let v = op.value as u64;
            let o = unsigned_overflow(v, 0, op.bits, op.overflow);
            (o.unwrap_or(v), old, o.is_some())
        };
        if ovf && op.overflow == Overflow::Fail {
            return (None, false);
        }
        set_field(p, op.offset, op.bits, new);
        (Some(ret as i64), old != new)
    }
}

fn read_op(p: &[u8], op: &Op) -> i64 {
    if op.signed {
        get_signed(p, op.offset, op.bits)
    } else {
        get_unsigned(p, op.offset, op.bits) as i64
    }
}

fn bitfield_generic(ctx: &mut Ctx, args: &[Bytes], readonly_cmd: bool) {
    let Some(ops) = parse_ops(ctx, args) else {
        return;
    };
    let key = &args[1];
    let highest = ops
        .iter()
        .filter(|o| o.kind != OpKind::Get)
        .map(|o| o.offset + o.bits as u64 - 1)
        .max();
    let Some(highest) = highest else {
        // Only GETs: a read, missing keys read as zeros.
        let vals: Vec<i64> = match ctx.lookup_read(key) {
            None => ops.iter().map(|op| read_op(&[], op)).collect(),
            Some(e) if !e.value.is_string() => return ctx.out.error(err::WRONGTYPE),
            Some(e) => {
                let s = e.value.as_bytes().expect("a string");
                ops.iter().map(|op| read_op(&s, op)).collect()
            }
        };
        ctx.out.array_len(vals.len());
        for v in vals {
            ctx.out.int(v);
        }
        return;
    };
    if readonly_cmd {
        return ctx
            .out
            .error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let Some(grown) = string_for_bits(ctx, key, highest) else {
        return;
    };
    let mut replies = Vec::with_capacity(ops.len());
    let mut changes = 0u64;
    let buf = raw_buf(ctx, key);
    for op in &ops {
        if op.kind == OpKind::Get {
            replies.push(Some(read_op(buf, op)));
            continue;
        }
        let (reply, changed) = write_op(buf, op);
        if reply.is_some() && (grown || changed) {
            changes += 1;
        }
        replies.push(reply);
    }
    ctx.out.array_len(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(v),
            None => ctx.out.null(),
        }
    }
    if changes > 0 {
        ctx.key_modified(key);
        ctx.notify(notify::STRING, "setbit", key);
        ctx.dirty += changes;
    }
}

pub fn bitfield(ctx: &mut Ctx, args: &[Bytes]) {
    bitfield_generic(ctx, args, false);
}

pub fn bitfield_ro(ctx: &mut Ctx, args: &[Bytes]) {
    bitfield_generic(ctx, args, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_overflow_policies() {
        // u8 at 250, +10.
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), Some(255));
        assert!(unsigned_overflow(250, 10, 8, Overflow::Fail).is_some());
        assert_eq!(unsigned_overflow(250, 5, 8, Overflow::Fail), None);
        // Below zero.
        assert_eq!(unsigned_overflow(3, -10, 8, Overflow::Wrap), Some(249));
        assert_eq!(unsigned_overflow(3, -10, 8, Overflow::Sat), Some(0));
        // SET of a value that does not fit: increment of 0.
        assert_eq!(unsigned_overflow(256, 0, 8, Overflow::Wrap), Some(0));
        assert_eq!(unsigned_overflow(u64::MAX, 0, 8, Overflow::Sat), Some(255));
        assert_eq!(
            unsigned_overflow(u64::MAX, 0, 63, Overflow::Wrap),
            Some(i64::MAX as u64)
        );
    }

    #[test]
    fn signed_overflow_policies() {
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Wrap), Some(127));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_overflow(100, 27, 8, Overflow::Fail), None);
        // 64-bit fields.
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Sat),
            Some(i64::MAX)
        );
        assert_eq!(
            signed_overflow(i64::MIN, -1, 64, Overflow::Sat),
            Some(i64::MIN)
        );
        assert_eq!(signed_overflow(-5, i64::MAX, 64, Overflow::Sat), None);
        // i1 holds -1 and 0 only.
        assert_eq!(signed_overflow(1, 0, 1, Overflow::Wrap), Some(-1));
        assert_eq!(signed_overflow(0, 1, 1, Overflow::Sat), Some(0));
    }

    #[test]
    fn fields_read_and_write() {
        let mut p = vec![0u8; 3];
        set_field(&mut p, 5, 8, 0xab);
        assert_eq!(get_unsigned(&p, 5, 8), 0xab);
        assert_eq!(get_signed(&p, 5, 8), 0xab_u8 as i8 as i64);
        assert_eq!(p, vec![0x05, 0x58, 0x00]);
        assert_eq!(get_unsigned(&p, 20, 16), 0);
        set_field(&mut p, 0, 24, 0xffffff);
        assert_eq!(get_signed(&p, 0, 24), -1);
        assert_eq!(parse_type(b"i64"), Some((true, 64)));
        assert_eq!(parse_type(b"u64"), None);
        assert_eq!(parse_type(b"u63"), Some((false, 63)));
        assert_eq!(parse_type(b"i0"), None);
        assert_eq!(parse_type(b"I8"), None);
    }
}
