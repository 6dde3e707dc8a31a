//! String commands that read or change part of a value, or treat it as a
//! number: APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, INCR/DECR/INCRBY/
//! DECRBY and INCRBYFLOAT.
//!
//! Edits turn the value into the `raw` encoding as Redis does
//! (dbUnshareStringValue); counters store `int`-encoded results and keep
//! the key's TTL. INCRBYFLOAT computes in x87 long double
//! ([`crate::util::longdouble`]) and propagates as `SET key value KEEPTTL`.

use super::super::ctx::notify;
use super::super::{err, Ctx};
use crate::keyspace::Value;
use crate::util::longdouble::LongDouble;
use crate::util::num::parse_i64;
use bytes::Bytes;

/// Redis's checkStringLength: replies with an error and returns false if a
/// string of `size + append` bytes would exceed proto-max-bulk-len.
pub(crate) fn check_string_length(ctx: &mut Ctx, size: i64, append: i64) -> bool {
    match size.checked_add(append) {
        Some(total) if total <= ctx.srv.config.proto_max_bulk_len => true,
        _ => {
            ctx.out
                .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
            false
        }
    }
}

pub fn append(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let add = &args[2];
    let cur_len = match ctx.lookup_write(key) {
        None => None,
        Some(e) if !e.value.is_string() => {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
        Some(e) => Some(e.value.str_len() as i64),
    };
    let total = match cur_len {
        None => {
            ctx.set_key(key, Value::string(add), false);
            add.len()
        }
        Some(len) => {
            if !check_string_length(ctx, len, add.len() as i64) {
                return;
            }
            let e = ctx.lookup_write(key).expect("checked above");
            let buf = e.value.make_raw().expect("a string");
            buf.extend_from_slice(add);
            buf.len()
        }
    };
    ctx.key_modified(key);
    ctx.notify(notify::STRING, "append", key);
    ctx.dirty += 1;
    ctx.out.int(total as i64);
}

pub fn strlen(ctx: &mut Ctx, args: &[Bytes]) {
    match ctx.lookup_read(&args[1]) {
        None => ctx.out.int(0),
        Some(e) if !e.value.is_string() => ctx.out.error(err::WRONGTYPE),
        Some(e) => {
            let n = e.value.str_len() as i64;
            ctx.out.int(n)
        }
    }
}

/// The byte range GETRANGE returns for `start..=end` over `len` bytes.
pub(crate) fn getrange_bounds(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

pub fn getrange(ctx: &mut Ctx, args: &[Bytes]) {
    let (Some(start), Some(end)) = (parse_i64(&args[2]), parse_i64(&args[3])) else {
        ctx.out.error(err::NOT_INT);
        return;
    };
    match ctx.lookup_read(&args[1]) {
        None => {
            ctx.out.bulk(b"");
            return;
        }
        Some(e) if !e.value.is_string() => {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
        Some(_) => {}
    }
    let db = ctx.client.db;
    let Some(e) = ctx.srv.dbs[db].get(&args[1]) else {
        return;
    };
    let bytes = e.value.as_bytes().expect("a string");
    match getrange_bounds(start, end, bytes.len()) {
        None => ctx.out.bulk(b""),
        Some((s, t)) => ctx.out.bulk(&bytes[s..=t]),
    }
}

pub fn setrange(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let value = &args[3];
    let Some(offset) = parse_i64(&args[2]) else {
        ctx.out.error(err::NOT_INT);
        return;
    };
    if offset < 0 {
        ctx.out.error("ERR offset is out of range");
        return;
    }
    let existing = match ctx.lookup_write(key) {
        None => None,
        Some(e) if !e.value.is_string() => {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
        Some(e) => Some(e.value.str_len()),
    };
    if value.is_empty() {
        ctx.out.int(existing.unwrap_or(0) as i64);
        return;
    }
    if !check_string_length(ctx, offset, value.len() as i64) {
        return;
    }
    let offset = offset as usize;
    if existing.is_none() {
        ctx.set_key(key, Value::Raw(Box::default()), false);
    }
    let e = ctx.lookup_write(key).expect("exists");
    let buf = e.value.make_raw().expect("a string");
    let need = offset + value.len();
    if buf.len() < need {
        buf.resize(need, 0);
    }
    buf[offset..need].copy_from_slice(value);
    let total = buf.len() as i64;
    ctx.key_modified(key);
    ctx.notify(notify::STRING, "setrange", key);
    ctx.dirty += 1;
    ctx.out.int(total);
}

/// The integer a string value holds, as Redis's getLongLongFromObject.
fn value_as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        other => parse_i64(&other.as_bytes()?),
    }
}

fn incr_decr(ctx: &mut Ctx, key: &Bytes, incr: i64) {
    // One lookup: an existing integer is updated in place.
    let outcome = match ctx.lookup_write(key) {
        None => Err(()),
        Some(e) if !e.value.is_string() => Ok(Err(err::WRONGTYPE)),
        Some(e) => match value_as_i64(&e.value) {
            None => Ok(Err(err::NOT_INT)),
            Some(n) => match n.checked_add(incr) {
                None => Ok(Err(err::OVERFLOW)),
                Some(v) => {
                    e.value = Value::Int(v);
                    Ok(Ok(v))
                }
            },
        },
    };
    let value = match outcome {
        Ok(Ok(v)) => {
            ctx.key_modified(key);
            v
        }
        Ok(Err(msg)) => {
            ctx.out.error(msg);
            return;
        }
        Err(()) => {
            // 0 + incr cannot overflow.
            ctx.set_key(key, Value::Int(incr), false);
            incr
        }
    };
    ctx.notify(notify::STRING, "incrby", key);
    ctx.dirty += 1;
    ctx.out.int(value);
}

pub fn incr(ctx: &mut Ctx, args: &[Bytes]) {
    incr_decr(ctx, &args[1], 1);
}

pub fn decr(ctx: &mut Ctx, args: &[Bytes]) {
    incr_decr(ctx, &args[1], -1);
}

pub fn incrby(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(n) = parse_i64(&args[2]) else {
        ctx.out.error(err::NOT_INT);
        return;
    };
    incr_decr(ctx, &args[1], n);
}

pub fn decrby(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(n) = parse_i64(&args[2]) else {
        ctx.out.error(err::NOT_INT);
        return;
    };
    if n == i64::MIN {
        ctx.out.error("ERR decrement would overflow");
        return;
    }
    incr_decr(ctx, &args[1], -n);
}

pub fn incrbyfloat(ctx: &mut Ctx, args: &[Bytes]) {
    let key = &args[1];
    let current = match ctx.lookup_write(key) {
        None => Some(LongDouble::ZERO),
        Some(e) if !e.value.is_string() => {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
        Some(e) => match &e.value {
            Value::Int(n) => Some(LongDouble::from_i64(*n)),
            v => LongDouble::parse(&v.as_bytes().expect("a string")),
        },
    };
    let (Some(current), Some(incr)) = (current, LongDouble::parse(&args[2])) else {
        ctx.out.error(err::NOT_FLOAT);
        return;
    };
    let sum = current.sum(incr);
    if !sum.is_finite() {
        ctx.out.error("ERR increment would produce NaN or Infinity");
        return;
    }
    let text = sum.to_human_string();
    ctx.set_key(key, Value::string_no_int(text.as_bytes()), true);
    ctx.notify(notify::STRING, "incrbyfloat", key);
    ctx.dirty += 1;
    ctx.out.bulk(text.as_bytes());
    ctx.propagate(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        Bytes::from(text.into_bytes()),
        Bytes::from_static(b"KEEPTTL"),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_indexes() {
        // "Hello World" as in Redis's GETRANGE tests.
        let n = 11;
        assert_eq!(getrange_bounds(0, 3, n), Some((0, 3)));
        assert_eq!(getrange_bounds(0, -1, n), Some((0, 10)));
        assert_eq!(getrange_bounds(-4, -1, n), Some((7, 10)));
        assert_eq!(getrange_bounds(5, 3, n), None);
        assert_eq!(getrange_bounds(5, 5000, n), Some((5, 10)));
        assert_eq!(getrange_bounds(-5000, 10000, n), Some((0, 10)));
        assert_eq!(getrange_bounds(-1, -5, n), None);
        assert_eq!(getrange_bounds(0, -100, n), Some((0, 0)));
        assert_eq!(getrange_bounds(0, 0, 0), None);
        assert_eq!(getrange_bounds(i64::MAX - 1, i64::MAX, n), None);
        assert_eq!(getrange_bounds(0, i64::MAX, n), Some((0, 10)));
    }

    #[test]
    fn integer_values() {
        assert_eq!(value_as_i64(&Value::string(b"10")), Some(10));
        assert_eq!(value_as_i64(&Value::string(b" 10")), None);
        assert_eq!(value_as_i64(&Value::string_no_int(b"-3")), Some(-3));
        assert_eq!(value_as_i64(&Value::string(b"1.5")), None);
    }
}
