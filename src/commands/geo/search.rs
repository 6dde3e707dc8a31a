//! GEOSEARCH, GEOSEARCHSTORE and the GEORADIUS family: one option parser
//! and one search, in the order of checks of geo.c's georadiusGeneric.

use super::hash::{self, Shape, ShapeKind};
use super::{
    fmt_distance, parse_distance, parse_lonlat, parse_unit, points_in_area, reply_human,
    store_points, Variant,
};
use crate::commands::zsets::{parse_double, read};
use crate::commands::{err, Ctx};
use crate::keyspace::zset::ZSet;
use crate::keyspace::Value;
use bytes::Bytes;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// The set at `key` (after a successful `read`), borrowed from the db.
fn peek<'c>(ctx: &'c Ctx, key: &[u8]) -> Option<&'c ZSet> {
    match ctx.srv.dbs[ctx.client.db].get(key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => Some(z),
        _ => None,
    }
}

fn member_pos(ctx: &mut Ctx, key: &[u8], member: &[u8]) -> Option<[f64; 2]> {
    let pos = peek(ctx, key)
        .and_then(|z| z.score(member))
        .and_then(hash::decode_score);
    if pos.is_none() {
        ctx.out.error("ERR could not decode requested zset member");
    }
    pos
}

pub(super) fn generic(ctx: &mut Ctx, args: &[Bytes], v: Variant, may_store: bool) {
    let src = if v == Variant::SearchStore {
        &args[2]
    } else {
        &args[1]
    };
    let exists = match read(ctx, src) {
        Err(()) => return,
        Ok(z) => z.is_some(),
    };
    let mut storekey: Option<Bytes> = None;
    let mut storedist = false;
    let mut shape = Shape {
        kind: ShapeKind::Circle { radius: 0.0 },
        xy: [0.0, 0.0],
        conversion: 1.0,
    };
    let base = match v {
        Variant::RadiusCoords => {
            let Some(xy) = parse_lonlat(ctx, &args[2], &args[3]) else {
                return;
            };
            let Some((r, conv)) = parse_distance(ctx, &args[4], &args[5]) else {
                return;
            };
            shape = Shape {
                kind: ShapeKind::Circle { radius: r },
                xy,
                conversion: conv,
            };
            6
        }
        Variant::RadiusMember if !exists => 5,
        Variant::RadiusMember => {
            let Some(xy) = member_pos(ctx, src, &args[2]) else {
                return;
            };
            let Some((r, conv)) = parse_distance(ctx, &args[3], &args[4]) else {
                return;
            };
            shape = Shape {
                kind: ShapeKind::Circle { radius: r },
                xy,
                conversion: conv,
            };
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => {
            storekey = Some(args[1].clone());
            3
        }
    };
    let search = matches!(v, Variant::Search | Variant::SearchStore);
    let (mut withdist, mut withhash, mut withcoords, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let remaining = args.len() - base;
    let mut i = 0;
    while i < remaining {
        let a = args[base + i].to_ascii_lowercase();
        let arg = |k: usize| &args[base + i + k];
        match a.as_slice() {
            b"withdist" => withdist = true,
            b"withhash" => withhash = true,
            b"withcoord" => withcoords = true,
            b"any" => any = true,
            b"asc" => sort = Sort::Asc,
            b"desc" => sort = Sort::Desc,
            b"count" if i + 1 < remaining => {
                let Some(c) = crate::util::num::parse_i64(arg(1)) else {
                    ctx.out.error(err::NOT_INT);
                    return;
                };
                if c <= 0 {
                    ctx.out.error("ERR COUNT must be > 0");
                    return;
                }
                count = c;
                i += 1;
            }
            b"store" | b"storedist" if i + 1 < remaining && may_store && !search => {
                storekey = Some(arg(1).clone());
                storedist = a == b"storedist";
                i += 1;
            }
            b"storedist" if v == Variant::SearchStore => storedist = true,
            b"frommember" if i + 1 < remaining && search && !fromloc => {
                if exists {
                    let Some(xy) = member_pos(ctx, src, arg(1)) else {
                        return;
                    };
                    shape.xy = xy;
                }
                frommember = true;
                i += 1;
            }
            b"fromlonlat" if i + 2 < remaining && search && !frommember => {
                let (x, y) = (arg(1).clone(), arg(2).clone());
                let Some(xy) = parse_lonlat(ctx, &x, &y) else {
                    return;
                };
                shape.xy = xy;
                fromloc = true;
                i += 2;
            }
            b"byradius" if i + 2 < remaining && search && !bybox => {
                let (d, u) = (arg(1).clone(), arg(2).clone());
                let Some((r, conv)) = parse_distance(ctx, &d, &u) else {
                    return;
                };
                shape.kind = ShapeKind::Circle { radius: r };
                shape.conversion = conv;
                byradius = true;
                i += 2;
            }
            b"bybox" if i + 3 < remaining && search && !byradius => {
                let (w, h, u) = (arg(1).clone(), arg(2).clone(), arg(3).clone());
                let Some(w) = parse_double(ctx, &w, Some("ERR need numeric width")) else {
                    return;
                };
                let Some(h) = parse_double(ctx, &h, Some("ERR need numeric height")) else {
                    return;
                };
                if h < 0.0 || w < 0.0 {
                    ctx.out.error("ERR height or width cannot be negative");
                    return;
                }
                let Some(conv) = parse_unit(ctx, &u) else {
                    return;
                };
                shape.kind = ShapeKind::Box {
                    width: w,
                    height: h,
                };
                shape.conversion = conv;
                bybox = true;
                i += 3;
            }
            _ => {
                ctx.out.error(err::SYNTAX);
                return;
            }
        }
        i += 1;
    }
    if storekey.is_some() && (withdist || withhash || withcoords) {
        ctx.out.error(&format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if v == Variant::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        ));
        return;
    }
    let name = String::from_utf8_lossy(&args[0]).into_owned();
    if search && !(frommember || fromloc) {
        ctx.out.error(&format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
        return;
    }
    if search && !(byradius || bybox) {
        ctx.out.error(&format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
        return;
    }
    if any && count == 0 {
        ctx.out
            .error("ERR the ANY argument requires COUNT argument");
        return;
    }
    if !exists {
        match &storekey {
            Some(k) => {
                if ctx.delete_key(k) {
                    ctx.notify(crate::commands::ctx::notify::GENERIC, "del", k);
                    ctx.dirty += 1;
                }
                ctx.out.int(0);
            }
            None => ctx.out.array_len(0),
        }
        return;
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let mut pts = match peek(ctx, src) {
        Some(z) => points_in_area(z, &shape, if any { count as usize } else { 0 }),
        None => Vec::new(),
    };
    match sort {
        Sort::Asc => pts.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => pts.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    let n = if count == 0 {
        pts.len()
    } else {
        pts.len().min(count as usize)
    };
    pts.truncate(n);
    for p in &mut pts {
        p.dist /= shape.conversion;
    }
    if let Some(dst) = storekey {
        let event = if search {
            "geosearchstore"
        } else {
            "georadiusstore"
        };
        store_points(ctx, &dst, &pts, storedist, event);
        return;
    }
    let opts = withdist as usize + withhash as usize + withcoords as usize;
    let out = &mut *ctx.out;
    out.array_len(pts.len());
    for p in &pts {
        if opts > 0 {
            out.array_len(opts + 1);
        }
        out.bulk(&p.member);
        if withdist {
            out.bulk(fmt_distance(p.dist).as_bytes());
        }
        if withhash {
            out.int(p.score as i64);
        }
        if withcoords {
            out.array_len(2);
            reply_human(out, p.xy[0]);
            reply_human(out, p.xy[1]);
        }
    }
}
