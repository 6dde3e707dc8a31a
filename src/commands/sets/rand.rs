//! SPOP and SRANDMEMBER, following t_set.c's cases.
//!
//! SPOP with a count: count >= size returns the whole set (as SUNION of
//! the key would) and propagates DEL; otherwise members are popped one by
//! one (few of them) or the members to *keep* are drawn into a new set
//! (Redis's case 3, which re-chooses the encoding from the first kept
//! member), and each popped member propagates as an SREM.
//! SRANDMEMBER with a negative count repeats members; with a positive
//! count it returns distinct ones.

use super::{max_intset, read_set, set_mut, write_set};
use crate::commands::ctx::notify;
use crate::commands::hashes::LONG_RANGE;
use crate::commands::{err, Ctx};
use crate::keyspace::set::SetValue;
use crate::keyspace::Value;
use crate::util::num::parse_i64;
use bytes::Bytes;
use rand::seq::index::sample;
use rand::Rng;

/// Redis's SPOP_MOVE_STRATEGY_MUL.
const SPOP_MOVE_STRATEGY_MUL: usize = 5;

fn random_member(s: &SetValue) -> Vec<u8> {
    let i = rand::thread_rng().gen_range(0..s.len());
    s.member_at(i).into_owned()
}

pub fn spop(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() == 3 {
        spop_with_count(ctx, args);
        return;
    }
    if args.len() > 3 {
        ctx.out.error(err::SYNTAX);
        return;
    }
    let key = &args[1];
    // One lookup: the member is popped in place.
    let (m, emptied) = match ctx.lookup_write(key).map(|e| &mut e.value) {
        Some(Value::Set(s)) => {
            let m = random_member(s);
            s.remove(&m);
            (m, s.is_empty())
        }
        Some(_) => {
            ctx.out.error(err::WRONGTYPE);
            return;
        }
        None => {
            ctx.out.null();
            return;
        }
    };
    ctx.notify(notify::SET, "spop", key);
    ctx.propagate(vec![
        Bytes::from_static(b"SREM"),
        key.clone(),
        Bytes::copy_from_slice(&m),
    ]);
    ctx.out.bulk(&m);
    if emptied {
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    ctx.key_modified(key);
    ctx.dirty += 1;
}

fn spop_with_count(ctx: &mut Ctx, args: &[Bytes]) {
    let count = match parse_i64(&args[2]) {
        Some(n) if n >= 0 => n as usize,
        _ => {
            ctx.out.error("ERR value is out of range, must be positive");
            return;
        }
    };
    let key = &args[1];
    let max = max_intset(ctx);
    let size = match write_set(ctx, key) {
        Err(()) => return,
        Ok(None) => {
            ctx.out.set_len(0);
            return;
        }
        Ok(Some(s)) => s.len(),
    };
    if count == 0 {
        ctx.out.set_len(0);
        return;
    }
    ctx.notify(notify::SET, "spop", key);
    ctx.dirty += count.min(size) as u64;
    if count >= size {
        // Reply as SUNION of the key: a fresh set, then its members.
        let s = set_mut(ctx, key);
        let mut all = SetValue::new_intset();
        for m in s.iter() {
            all.add(&m, max);
        }
        ctx.out.set_len(all.len());
        for m in all.iter() {
            ctx.out.bulk(&m);
        }
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
        ctx.key_modified(key);
        return;
    }
    let remaining = size - count;
    let mut popped: Vec<Vec<u8>> = Vec::with_capacity(count);
    let s = set_mut(ctx, key);
    if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        // Case 2: pop `count` random members one by one.
        for _ in 0..count {
            let m = random_member(s);
            s.remove(&m);
            popped.push(m);
        }
    } else {
        // Case 3: draw the members to keep into a new set.
        let mut kept: Option<SetValue> = None;
        for _ in 0..remaining {
            let m = random_member(s);
            kept.get_or_insert_with(|| SetValue::for_member(&m))
                .add(&m, max);
            s.remove(&m);
        }
        popped.extend(s.iter().map(|m| m.into_owned()));
        *s = kept.expect("remaining > 0");
    }
    ctx.out.set_len(count);
    for m in popped {
        ctx.out.bulk(&m);
        ctx.propagate(vec![
            Bytes::from_static(b"SREM"),
            key.clone(),
            Bytes::from(m),
        ]);
    }
    ctx.key_modified(key);
}

pub fn srandmember(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() > 3 {
        ctx.out.error(err::SYNTAX);
        return;
    }
    if args.len() == 3 {
        let l = match parse_i64(&args[2]) {
            None => {
                ctx.out.error(err::NOT_INT);
                return;
            }
            Some(i64::MIN) => {
                ctx.out.error(LONG_RANGE);
                return;
            }
            Some(l) => l,
        };
        match read_set(ctx, &args[1]) {
            Err(()) => {}
            Ok(None) => ctx.out.array_len(0),
            Ok(Some((s, out))) => {
                let count = l.unsigned_abs() as usize;
                let size = s.len();
                let mut rng = rand::thread_rng();
                if count == 0 {
                    out.array_len(0);
                } else if l < 0 || count == 1 {
                    out.array_len(count);
                    for _ in 0..count {
                        out.bulk(&s.member_at(rng.gen_range(0..size)));
                    }
                } else if count >= size {
                    out.array_len(size);
                    for m in s.iter() {
                        out.bulk(&m);
                    }
                } else {
                    out.array_len(count);
                    for i in sample(&mut rng, size, count) {
                        out.bulk(&s.member_at(i));
                    }
                }
            }
        }
        return;
    }
    match read_set(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.null(),
        Ok(Some((s, out))) => out.bulk(&random_member(s)),
    }
}
