//! Geo commands (Redis 7.0's geo.c): positions are sorted set members
//! whose score is a 52-bit geohash ([`hash`]). GEOADD is ZADD with
//! computed scores (it fires `zadd` and propagates as ZADD); searches scan
//! the centre geohash box and its neighbours in Redis's order, so results,
//! their order and every printed number match Redis.

mod hash;

use super::ctx::notify;
use super::table::{flags::*, CommandDef, KeyPos};
use super::table::{K1, K12};
use super::zsets::{limits, parse_double, read};
use super::{err, Ctx};
use crate::keyspace::zset::{ScoreRange, ZEncoding, ZSet};
use crate::protocol::Reply;
use bytes::Bytes;
use hash::Shape;

const KRADIUS: KeyPos = KeyPos::Custom(georadius_keys);

/// GEORADIUS[BYMEMBER] keys: the source and any STORE/STOREDIST target.
fn georadius_keys(args: &[Bytes]) -> Vec<usize> {
    let mut v = vec![1];
    let mut i = 2;
    while i + 1 < args.len() {
        if args[i].eq_ignore_ascii_case(b"store") || args[i].eq_ignore_ascii_case(b"storedist") {
            v.push(i + 1);
            i += 1;
        }
        i += 1;
    }
    v
}

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("geoadd", -5, WRITE | DENYOOM, K1, geoadd).doc(
        "geo",
        "3.2.0",
        "Add one or more geospatial items in the geospatial index represented using a sorted set",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
    ),
    CommandDef::new("geodist", -4, READONLY, K1, geodist).doc(
        "geo",
        "3.2.0",
        "Returns the distance between two members of a geospatial index",
        "O(log(N))",
    ),
    CommandDef::new("geohash", -2, READONLY, K1, geohash).doc(
        "geo",
        "3.2.0",
        "Returns members of a geospatial index as standard geohash strings",
        "O(log(N)) for each member requested, where N is the number of elements in the sorted set.",
    ),
    CommandDef::new("geopos", -2, READONLY, K1, geopos).doc(
        "geo",
        "3.2.0",
        "Returns longitude and latitude of members of a geospatial index",
        "O(N) where N is the number of members requested.",
    ),
    CommandDef::new("geosearch", -7, READONLY, K1, geosearch).doc(
        "geo",
        "6.2.0",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
        "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
    ),
    CommandDef::new("geosearchstore", -8, WRITE | DENYOOM, K12, geosearchstore).doc(
        "geo",
        "6.2.0",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
        "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
    ),
    CommandDef::new("georadius", -6, WRITE | DENYOOM | MOVABLE_KEYS, KRADIUS, georadius).doc(
        "geo",
        "3.2.0",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
    ),
    CommandDef::new("georadiusbymember", -5, WRITE | DENYOOM | MOVABLE_KEYS, KRADIUS, georadiusbymember).doc(
        "geo",
        "3.2.0",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
    ),
    CommandDef::new("georadius_ro", -6, READONLY, K1, georadius_ro).doc(
        "geo",
        "3.2.10",
        "A read-only variant for GEORADIUS",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
    ),
    CommandDef::new("georadiusbymember_ro", -5, READONLY, K1, georadiusbymember_ro).doc(
        "geo",
        "3.2.10",
        "A read-only variant for GEORADIUSBYMEMBER",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
    ),
];

/// extractLongLatOrReply.
fn parse_lonlat(ctx: &mut Ctx, a: &[u8], b: &[u8]) -> Option<[f64; 2]> {
    let lon = parse_double(ctx, a, None)?;
    let lat = parse_double(ctx, b, None)?;
    if !(hash::LONG_MIN..=hash::LONG_MAX).contains(&lon)
        || !(hash::LAT_MIN..=hash::LAT_MAX).contains(&lat)
    {
        ctx.out.error(&format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        ));
        return None;
    }
    Some([lon, lat])
}

/// extractUnitOrReply: meters per unit.
fn parse_unit(ctx: &mut Ctx, u: &[u8]) -> Option<f64> {
    match u.to_ascii_lowercase().as_slice() {
        b"m" => Some(1.0),
        b"km" => Some(1000.0),
        b"ft" => Some(0.3048),
        b"mi" => Some(1609.34),
        _ => {
            ctx.out
                .error("ERR unsupported unit provided. please use M, KM, FT, MI");
            None
        }
    }
}

/// extractDistanceOrReply: (radius, meters per unit).
fn parse_distance(ctx: &mut Ctx, d: &[u8], u: &[u8]) -> Option<(f64, f64)> {
    let r = parse_double(ctx, d, Some("ERR need numeric radius"))?;
    if r < 0.0 {
        ctx.out.error("ERR radius cannot be negative");
        return None;
    }
    Some((r, parse_unit(ctx, u)?))
}

/// Redis's fixedpoint_d2string with 4 decimals (distances).
fn fmt_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let neg = v < 0;
    let a = v.unsigned_abs();
    format!(
        "{}{}.{:04}",
        if neg { "-" } else { "" },
        a / 10000,
        a % 10000
    )
}

/// addReplyHumanLongDouble: %.17Lf with trailing zeros removed.
fn reply_human(out: &mut Reply, v: f64) {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    if out.is_resp3() {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

fn geoadd(ctx: &mut Ctx, args: &[Bytes]) {
    let (mut xx, mut nx) = (false, false);
    let mut longidx = 2;
    while longidx < args.len() {
        match args[longidx].to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"ch" => {}
            _ => break,
        }
        longidx += 1;
    }
    if !(args.len() - longidx).is_multiple_of(3) || (xx && nx) {
        ctx.out.error(err::SYNTAX);
        return;
    }
    let mut zargs: Vec<Bytes> = vec![Bytes::from_static(b"zadd")];
    zargs.extend_from_slice(&args[1..longidx]);
    for el in args[longidx..].chunks(3) {
        let Some(xy) = parse_lonlat(ctx, &el[0], &el[1]) else {
            return;
        };
        let bits = hash::encode_wgs84(xy[0], xy[1], hash::STEP_MAX).map_or(0, hash::align52);
        zargs.push(Bytes::from(bits.to_string()));
        zargs.push(el[2].clone());
    }
    super::zsets::zadd(ctx, &zargs);
    if ctx.dirty > 0 {
        ctx.propagate(zargs);
    }
}

fn geodist(ctx: &mut Ctx, args: &[Bytes]) {
    let mut to_meter = 1.0;
    if args.len() == 5 {
        let Some(u) = parse_unit(ctx, &args[4]) else {
            return;
        };
        to_meter = u;
    } else if args.len() > 5 {
        ctx.out.error(err::SYNTAX);
        return;
    }
    let (z, out) = match read(ctx, &args[1]) {
        Err(()) => return,
        Ok(None) => {
            ctx.out.null();
            return;
        }
        Ok(Some(x)) => x,
    };
    let (Some(s1), Some(s2)) = (z.score(&args[2]), z.score(&args[3])) else {
        out.null();
        return;
    };
    match (hash::decode_score(s1), hash::decode_score(s2)) {
        (Some(a), Some(b)) => {
            let d = hash::distance(a[0], a[1], b[0], b[1]) / to_meter;
            out.bulk(fmt_distance(d).as_bytes());
        }
        _ => out.null(),
    }
}

fn geohash(ctx: &mut Ctx, args: &[Bytes]) {
    if read(ctx, &args[1]).is_err() {
        return;
    }
    let db = ctx.client.db;
    let z = match ctx.srv.dbs[db].get(&args[1]).map(|e| &e.value) {
        Some(crate::keyspace::Value::ZSet(z)) => Some(z),
        _ => None,
    };
    let out = &mut *ctx.out;
    out.array_len(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)).and_then(hash::decode_score) {
            Some(xy) => out.bulk(hash::geohash_string(xy).as_bytes()),
            None => out.null(),
        }
    }
}

fn geopos(ctx: &mut Ctx, args: &[Bytes]) {
    if read(ctx, &args[1]).is_err() {
        return;
    }
    let db = ctx.client.db;
    let z = match ctx.srv.dbs[db].get(&args[1]).map(|e| &e.value) {
        Some(crate::keyspace::Value::ZSet(z)) => Some(z),
        _ => None,
    };
    let out = &mut *ctx.out;
    out.array_len(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)).and_then(hash::decode_score) {
            Some(xy) => {
                out.array_len(2);
                reply_human(out, xy[0]);
                reply_human(out, xy[1]);
            }
            None => out.null_array(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    RadiusCoords,
    RadiusMember,
    Search,
    SearchStore,
}

fn georadius(ctx: &mut Ctx, args: &[Bytes]) {
    search::generic(ctx, args, Variant::RadiusCoords, true);
}
fn georadiusbymember(ctx: &mut Ctx, args: &[Bytes]) {
    search::generic(ctx, args, Variant::RadiusMember, true);
}
fn georadius_ro(ctx: &mut Ctx, args: &[Bytes]) {
    search::generic(ctx, args, Variant::RadiusCoords, false);
}
fn georadiusbymember_ro(ctx: &mut Ctx, args: &[Bytes]) {
    search::generic(ctx, args, Variant::RadiusMember, false);
}
fn geosearch(ctx: &mut Ctx, args: &[Bytes]) {
    search::generic(ctx, args, Variant::Search, false);
}
fn geosearchstore(ctx: &mut Ctx, args: &[Bytes]) {
    search::generic(ctx, args, Variant::SearchStore, false);
}

mod search;

/// One search hit.
struct GeoPoint {
    xy: [f64; 2],
    dist: f64,
    score: f64,
    member: Bytes,
}

/// geoGetPointsInRange over the boxes of a search area, in Redis's order.
fn points_in_area(z: &ZSet, shape: &Shape, limit: usize) -> Vec<GeoPoint> {
    let area = hash::areas_for_shape(shape);
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, b) in area.boxes.iter().enumerate() {
        if b.is_zero() {
            continue;
        }
        if let Some(l) = last {
            if l != 0 && area.boxes[l] == *b {
                continue;
            }
        }
        if !out.is_empty() && limit > 0 && out.len() >= limit {
            break;
        }
        let min = hash::align52(*b) as f64;
        let max = hash::align52(hash::Bits {
            bits: b.bits + 1,
            step: b.step,
        }) as f64;
        let range = ScoreRange {
            min,
            max,
            minex: false,
            maxex: true,
        };
        let (a, e) = z.score_span(&range);
        for el in z.iter_from(a).take(e - a) {
            if let Some((xy, dist)) = hash::within_shape(shape, el.0) {
                out.push(GeoPoint {
                    xy,
                    dist,
                    score: el.0,
                    member: Bytes::copy_from_slice(el.1),
                });
            }
            if !out.is_empty() && limit > 0 && out.len() >= limit {
                break;
            }
        }
        last = Some(i);
    }
    out
}

/// Stores search hits as a sorted set (scores: geohash or distance).
fn store_points(ctx: &mut Ctx, dst: &[u8], pts: &[GeoPoint], storedist: bool, event: &str) {
    let lim = limits(ctx);
    if !pts.is_empty() {
        let mut z = ZSet::new(ZEncoding::Skiplist);
        for p in pts {
            let s = if storedist { p.dist } else { p.score };
            if !z.set(&p.member, s, lim) {
                continue;
            }
        }
        z.shrink_if_fits(lim);
        ctx.set_key(dst, crate::keyspace::Value::ZSet(z), false);
        ctx.notify(notify::ZSET, event, dst);
        ctx.dirty += pts.len() as u64;
    } else if ctx.delete_key(dst) {
        ctx.notify(notify::GENERIC, "del", dst);
        ctx.dirty += 1;
    }
    ctx.out.int(pts.len() as i64);
}

#[cfg(test)]
mod tests {
    use super::fmt_distance;

    #[test]
    fn distance_format() {
        assert_eq!(fmt_distance(0.0), "0.0000");
        assert_eq!(fmt_distance(166274.15156960033), "166274.1516");
        assert_eq!(fmt_distance(0.00004), "0.0000");
        assert_eq!(fmt_distance(-1.5), "-1.5000");
    }
}
