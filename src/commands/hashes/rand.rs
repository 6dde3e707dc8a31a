//! HRANDFIELD, following Redis's hrandfieldWithCountCommand cases:
//! a negative count samples with repetition (any length), a positive count
//! returns distinct fields (the whole hash when count >= its size). With
//! WITHVALUES, RESP2 gets a flat array and RESP3 an array of pairs.

use super::read_hash;
use crate::commands::{err, Ctx};
use crate::keyspace::hash::HashValue;
use crate::protocol::Reply;
use crate::util::num::parse_i64;
use bytes::Bytes;
use rand::seq::index::sample;
use rand::Rng;

pub fn hrandfield(ctx: &mut Ctx, args: &[Bytes]) {
    if args.len() >= 3 {
        // getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX).
        let l = match parse_i64(&args[2]) {
            None => {
                ctx.out.error(err::NOT_INT);
                return;
            }
            Some(i64::MIN) => {
                ctx.out.error(super::LONG_RANGE);
                return;
            }
            Some(l) => l,
        };
        let withvalues = match args.len() {
            3 => false,
            4 if args[3].eq_ignore_ascii_case(b"withvalues") => true,
            _ => {
                ctx.out.error(err::SYNTAX);
                return;
            }
        };
        if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            ctx.out.error("ERR value is out of range");
            return;
        }
        match read_hash(ctx, &args[1]) {
            Err(()) => {}
            Ok(None) => ctx.out.array_len(0),
            Ok(Some((h, out))) => with_count(out, h, l, withvalues),
        }
        return;
    }
    match read_hash(ctx, &args[1]) {
        Err(()) => {}
        Ok(None) => ctx.out.null(),
        Ok(Some((h, out))) => {
            let i = rand::thread_rng().gen_range(0..h.len());
            out.bulk(h.pair_at(i).0);
        }
    }
}

fn reply_pair(out: &mut Reply, f: &[u8], v: &[u8], withvalues: bool) {
    if withvalues && out.is_resp3() {
        out.array_len(2);
    }
    out.bulk(f);
    if withvalues {
        out.bulk(v);
    }
}

fn with_count(out: &mut Reply, h: &HashValue, l: i64, withvalues: bool) {
    let count = l.unsigned_abs() as usize;
    let size = h.len();
    let flat = withvalues && !out.is_resp3();
    if count == 0 {
        out.array_len(0);
        return;
    }
    let mut rng = rand::thread_rng();
    if l < 0 || count == 1 {
        // Case 1: with repetition (or a single field), random order.
        out.array_len(if flat { count * 2 } else { count });
        let pairs = matches!(h, HashValue::Listpack(_)).then(|| h.pairs());
        for _ in 0..count {
            let i = rng.gen_range(0..size);
            let (f, v) = match &pairs {
                Some(p) => p[i],
                None => h.pair_at(i),
            };
            reply_pair(out, f, v, withvalues);
        }
        return;
    }
    let n = count.min(size);
    out.array_len(if flat { n * 2 } else { n });
    if count >= size {
        // Case 2: the whole hash.
        for (f, v) in h.iter() {
            reply_pair(out, f, v, withvalues);
        }
        return;
    }
    // Cases 3 and 4: `count` distinct fields chosen uniformly.
    let pairs = matches!(h, HashValue::Listpack(_)).then(|| h.pairs());
    for i in sample(&mut rng, size, count) {
        let (f, v) = match &pairs {
            Some(p) => p[i],
            None => h.pair_at(i),
        };
        reply_pair(out, f, v, withvalues);
    }
}
