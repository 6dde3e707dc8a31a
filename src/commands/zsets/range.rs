//! ZRANGE and its older forms (ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
//! ZRANGEBYLEX, ZREVRANGEBYLEX) and ZRANGESTORE, as t_zset.c's
//! zrangeGenericCommand: one option parser, one range resolver, and two
//! result sinks (the client, or a destination key).

use super::{limits, parse_lex_range, parse_long, parse_score_range, read, reply_elems};
use crate::commands::ctx::notify;
use crate::commands::{err, Ctx};
use crate::keyspace::zset::{LexRange, ScoreRange, ZSet};
use crate::keyspace::Value;
use bytes::Bytes;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Auto,
    Forward,
    Reverse,
}

enum Spec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

pub(super) fn zrange(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, By::Auto, Dir::Auto);
}

pub(super) fn zrangestore(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 2, Some(&args[1]), By::Auto, Dir::Auto);
}

pub(super) fn zrevrange(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, By::Rank, Dir::Reverse);
}

pub(super) fn zrangebyscore(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, By::Score, Dir::Forward);
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, By::Score, Dir::Reverse);
}

pub(super) fn zrangebylex(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, By::Lex, Dir::Forward);
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx, args: &[Bytes]) {
    generic(ctx, args, 1, None, By::Lex, Dir::Reverse);
}

/// Ascending ranks selected by a range spec, in emission order.
fn select(z: &ZSet, spec: &Spec, rev: bool, offset: i64, limit: i64) -> Vec<usize> {
    let len = z.len() as i64;
    let (a, b) = match spec {
        Spec::Rank(s, e) => {
            let (mut s, mut e) = (*s, *e);
            if s < 0 {
                s += len;
            }
            if e < 0 {
                e += len;
            }
            s = s.max(0);
            if s > e || s >= len {
                return Vec::new();
            }
            let e = e.min(len - 1);
            return if rev {
                ((len - 1 - e) as usize..=(len - 1 - s) as usize)
                    .rev()
                    .collect()
            } else {
                (s as usize..=e as usize).collect()
            };
        }
        Spec::Score(r) => z.score_span(r),
        Spec::Lex(r) => z.lex_span_dir(r, rev),
    };
    // A negative offset skips everything; a negative limit means no limit.
    if offset < 0 || (offset > 0 && offset >= len) {
        return Vec::new();
    }
    let avail = (b - a).saturating_sub(offset as usize);
    let n = if limit < 0 {
        avail
    } else {
        avail.min(limit as usize)
    };
    let off = offset as usize;
    if rev {
        (0..n).map(|i| b - 1 - off - i).collect()
    } else {
        (0..n).map(|i| a + off + i).collect()
    }
}

pub(crate) fn generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    start: usize,
    store: Option<&Bytes>,
    mut by: By,
    mut dir: Dir,
) {
    let key = &args[start];
    let (mut minidx, mut maxidx) = (start + 1, start + 2);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = start + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j].to_ascii_lowercase();
        if store.is_none() && a == b"withscores" {
            withscores = true;
        } else if a == b"limit" && left >= 2 {
            let Some(o) = parse_long(ctx, &args[j + 1], None) else {
                return;
            };
            let Some(l) = parse_long(ctx, &args[j + 2], None) else {
                return;
            };
            (offset, limit) = (o, l);
            j += 2;
        } else if dir == Dir::Auto && a == b"rev" {
            dir = Dir::Reverse;
        } else if by == By::Auto && a == b"bylex" {
            by = By::Lex;
        } else if by == By::Auto && a == b"byscore" {
            by = By::Score;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
        j += 1;
    }
    if by == By::Auto {
        by = By::Rank;
    }
    let rev = dir == Dir::Reverse;
    if limit != -1 && by == By::Rank {
        ctx.out.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return;
    }
    if withscores && by == By::Lex {
        ctx.out
            .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    if rev && by != By::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let spec = match by {
        By::Score => match parse_score_range(&args[minidx], &args[maxidx]) {
            Some(r) => Spec::Score(r),
            None => {
                ctx.out.error("ERR min or max is not a float");
                return;
            }
        },
        By::Lex => match parse_lex_range(&args[minidx], &args[maxidx]) {
            Some(r) => Spec::Lex(r),
            None => {
                ctx.out.error("ERR min or max not valid string range item");
                return;
            }
        },
        _ => {
            let Some(s) = parse_long(ctx, &args[minidx], None) else {
                return;
            };
            let Some(e) = parse_long(ctx, &args[maxidx], None) else {
                return;
            };
            Spec::Rank(s, e)
        }
    };
    let Some(dst) = store else {
        match read(ctx, key) {
            Err(()) => {}
            Ok(None) => ctx.out.array_len(0),
            Ok(Some((z, out))) => {
                let ranks = select(z, &spec, rev, offset, limit);
                let z = z.ranked();
                let items = ranks.iter().map(|&r| {
                    let e = z.at(r);
                    (e.1, e.0)
                });
                reply_elems(out, items, ranks.len(), withscores);
            }
        }
        return;
    };
    let lim = limits(ctx);
    let result = match read(ctx, key) {
        Err(()) => return,
        Ok(None) => ZSet::default(),
        Ok(Some((z, _))) => {
            let mut dz = ZSet::default();
            let ranks = select(z, &spec, rev, offset, limit);
            let z = z.ranked();
            for r in ranks {
                let e = z.at(r);
                dz.insert_new(Bytes::copy_from_slice(e.1), e.0, lim);
            }
            dz
        }
    };
    store_result(ctx, dst, result, "zrangestore");
}

/// Stores a computed set at `dst` (or deletes `dst` when it is empty),
/// replying its size: zrangeResultFinalizeStore and the STORE branch of
/// zunionInterDiffGenericCommand.
pub(crate) fn store_result(ctx: &mut Ctx, dst: &[u8], z: ZSet, event: &str) {
    let n = z.len();
    if n > 0 {
        ctx.set_key(dst, Value::ZSet(z), false);
        ctx.out.int(n as i64);
        ctx.notify(notify::ZSET, event, dst);
        ctx.dirty += 1;
    } else {
        ctx.out.int(0);
        if ctx.delete_key(dst) {
            ctx.notify(notify::GENERIC, "del", dst);
            ctx.dirty += 1;
        }
    }
}
