//! Geohash arithmetic for the GEO commands, behaving as Redis's
//! geohash.c and geohash_helper.c so that stored scores, decoded
//! coordinates, distances and search areas are bit-for-bit the same.
//!
//! A position is stored as a sorted set score: the 52-bit interleave of a
//! 26-step geohash (latitude bits at even positions, longitude bits at
//! odd ones) over the Web-Mercator-safe latitude range +-85.05112878.
//! Distances use the haversine formula on a sphere of radius 6372797.560856 m.

pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

const D_R: f64 = std::f64::consts::PI / 180.0;
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bits {
    pub bits: u64,
    pub step: u8,
}

impl Bits {
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

/// The search shape: a circle (radius) or a box (width, height), in the
/// user's unit, with its centre and the unit's size in meters.
#[derive(Clone, Copy, Debug)]
pub enum ShapeKind {
    Circle { radius: f64 },
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub kind: ShapeKind,
    pub xy: [f64; 2],
    pub conversion: f64,
}

/// The centre box and its 8 neighbours (zeroed when not needed), in the
/// order Redis visits them: centre, N, S, E, W, NE, NW, SE, SW.
pub struct SearchArea {
    pub boxes: [Bits; 9],
}

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFF;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FF;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0F;
    x = (x | (x << 2)) & 0x3333333333333333;
    x = (x | (x << 1)) & 0x5555555555555555;
    x
}

fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555555555555555;
    x = (x | (x >> 1)) & 0x3333333333333333;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0F;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FF;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFF;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFF;
    x as u32
}

/// Latitude bits at even positions, longitude bits at odd positions.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// (latitude part, longitude part).
fn deinterleave(v: u64) -> (u32, u32) {
    (squash(v), squash(v >> 1))
}

pub fn wgs84() -> (Range, Range) {
    (
        Range {
            min: LONG_MIN,
            max: LONG_MAX,
        },
        Range {
            min: LAT_MIN,
            max: LAT_MAX,
        },
    )
}

/// geohashEncode over the given ranges; None outside the valid area.
pub fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Bits> {
    if step > 32 || step == 0 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let mut lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min);
    let mut lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min);
    lat_off *= (1u64 << step) as f64;
    lon_off *= (1u64 << step) as f64;
    Some(Bits {
        bits: interleave(lat_off as u32, lon_off as u32),
        step,
    })
}

pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Bits> {
    let (lo, la) = wgs84();
    encode(lo, la, lon, lat, step)
}

/// geohashDecode: the cell of a hash.
pub fn decode(lon_r: Range, lat_r: Range, h: Bits) -> Option<Area> {
    if h.is_zero() {
        return None;
    }
    let (ilat, ilon) = deinterleave(h.bits);
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    let div = (1u64 << h.step) as f64;
    Some(Area {
        latitude: Range {
            min: lat_r.min + (ilat as f64 / div) * lat_scale,
            max: lat_r.min + ((ilat as f64 + 1.0) / div) * lat_scale,
        },
        longitude: Range {
            min: lon_r.min + (ilon as f64 / div) * lon_scale,
            max: lon_r.min + ((ilon as f64 + 1.0) / div) * lon_scale,
        },
    })
}

/// The centre of a cell, clamped to the valid area.
pub fn area_center(a: &Area) -> [f64; 2] {
    let x = ((a.longitude.min + a.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let y = ((a.latitude.min + a.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [x, y]
}

/// decodeGeohash: the position stored as a sorted set score.
pub fn decode_score(score: f64) -> Option<[f64; 2]> {
    let (lo, la) = wgs84();
    let h = Bits {
        bits: score as u64,
        step: STEP_MAX,
    };
    decode(lo, la, h).map(|a| area_center(&a))
}

/// The 52-bit score of a position (geohashAlign52Bits of a 26-step hash).
pub fn align52(h: Bits) -> u64 {
    h.bits << (52 - h.step as u32 * 2)
}

fn move_x(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - h.step as u32 * 2;
    let mut x = h.bits & 0xaaaaaaaaaaaaaaaa;
    let y = h.bits & 0x5555555555555555;
    let zz = 0x5555555555555555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64 >> shift;
    h.bits = x | y;
}

fn move_y(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - h.step as u32 * 2;
    let x = h.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = h.bits & 0x5555555555555555;
    let zz = 0xaaaaaaaaaaaaaaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64 >> shift;
    h.bits = x | y;
}

fn neighbor(h: Bits, dx: i8, dy: i8) -> Bits {
    let mut n = h;
    move_x(&mut n, dx);
    move_y(&mut n, dy);
    n
}

/// [N, S, E, W, NE, NW, SE, SW]
fn neighbors(h: Bits) -> [Bits; 8] {
    [
        neighbor(h, 0, 1),
        neighbor(h, 0, -1),
        neighbor(h, 1, 0),
        neighbor(h, -1, 0),
        neighbor(h, 1, 1),
        neighbor(h, -1, 1),
        neighbor(h, 1, -1),
        neighbor(h, -1, -1),
    ]
}

/// geohashEstimateStepsByRadius.
pub fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// geohashBoundingBox: [min_lon, min_lat, max_lon, max_lat].
pub fn bounding_box(s: &Shape) -> [f64; 4] {
    let (lon, lat) = (s.xy[0], s.xy[1]);
    let (h, w) = match s.kind {
        ShapeKind::Circle { radius } => (radius, radius),
        ShapeKind::Box { width, height } => (height / 2.0, width / 2.0),
    };
    let height = s.conversion * h;
    let width = s.conversion * w;
    let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    let long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
    let long_delta_bottom =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
    let south = lat < 0.0;
    [
        if south {
            lon - long_delta_bottom
        } else {
            lon - long_delta_top
        },
        lat - lat_delta,
        if south {
            lon + long_delta_bottom
        } else {
            lon + long_delta_top
        },
        lat + lat_delta,
    ]
}

/// geohashCalculateAreasByShapeWGS84: the boxes to scan for a shape.
pub fn areas_for_shape(s: &Shape) -> SearchArea {
    let b = bounding_box(s);
    let (min_lon, min_lat, max_lon, max_lat) = (b[0], b[1], b[2], b[3]);
    let (lon, lat) = (s.xy[0], s.xy[1]);
    let radius_meters = match s.kind {
        ShapeKind::Circle { radius } => radius,
        ShapeKind::Box { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * s.conversion;
    let mut steps = estimate_steps(radius_meters, lat);
    let (lo, la) = wgs84();
    let enc = |steps| {
        encode(lo, la, lon, lat, steps).unwrap_or(Bits {
            bits: 0,
            step: steps,
        })
    };
    let mut hash = enc(steps);
    let mut nb = neighbors(hash);
    let dec = |h: Bits| decode(lo, la, h).unwrap_or_default();
    let mut area = dec(hash);
    let decrease = dec(nb[0]).latitude.max < max_lat
        || dec(nb[1]).latitude.min > min_lat
        || dec(nb[2]).longitude.max < max_lon
        || dec(nb[3]).longitude.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        hash = enc(steps);
        nb = neighbors(hash);
        area = dec(hash);
    }
    if steps >= 2 {
        let zero = Bits::default();
        // Indices: 0 N, 1 S, 2 E, 3 W, 4 NE, 5 NW, 6 SE, 7 SW.
        if area.latitude.min < min_lat {
            nb[1] = zero;
            nb[7] = zero;
            nb[6] = zero;
        }
        if area.latitude.max > max_lat {
            nb[0] = zero;
            nb[4] = zero;
            nb[5] = zero;
        }
        if area.longitude.min < min_lon {
            nb[3] = zero;
            nb[7] = zero;
            nb[5] = zero;
        }
        if area.longitude.max > max_lon {
            nb[2] = zero;
            nb[6] = zero;
            nb[4] = zero;
        }
    }
    SearchArea {
        boxes: [hash, nb[0], nb[1], nb[2], nb[3], nb[4], nb[5], nb[6], nb[7]],
    }
}

pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// geohashGetDistance: haversine distance in meters.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// geoWithinShape: the decoded position and its distance from the centre
/// if the stored score lies inside the shape.
pub fn within_shape(s: &Shape, score: f64) -> Option<([f64; 2], f64)> {
    let xy = decode_score(score)?;
    match s.kind {
        ShapeKind::Circle { radius } => {
            let d = distance(s.xy[0], s.xy[1], xy[0], xy[1]);
            (d <= radius * s.conversion).then_some((xy, d))
        }
        ShapeKind::Box { width, height } => {
            let (w, h) = (width * s.conversion, height * s.conversion);
            if lat_distance(xy[1], s.xy[1]) > h / 2.0 {
                return None;
            }
            if distance(xy[0], xy[1], s.xy[0], xy[1]) > w / 2.0 {
                return None;
            }
            Some((xy, distance(s.xy[0], s.xy[1], xy[0], xy[1])))
        }
    }
}

/// GEOHASH's 11-character base32 string (over a -90..90 latitude range).
pub fn geohash_string(xy: [f64; 2]) -> String {
    const ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let lon_r = Range {
        min: -180.0,
        max: 180.0,
    };
    let lat_r = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(lon_r, lat_r, xy[0], xy[1], 26)
        .map(|h| h.bits)
        .unwrap_or(0);
    (0..11)
        .map(|i| {
            let idx = if i == 10 {
                0
            } else {
                ((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
            };
            ALPHABET[idx] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (a, b) in [(0u32, 0u32), (1, 2), (0x3ffffff, 0x1234567), (u32::MAX, 7)] {
            assert_eq!(deinterleave(interleave(a, b)), (a, b));
        }
    }

    #[test]
    fn known_score() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores 3479099956230698.
        let h = encode_wgs84(13.361389, 38.115556, STEP_MAX).unwrap();
        assert_eq!(align52(h), 3479099956230698);
        let xy = decode_score(3479099956230698.0).unwrap();
        assert!((xy[0] - 13.361389).abs() < 1e-5 && (xy[1] - 38.115556).abs() < 1e-5);
    }

    #[test]
    fn palermo_catania_distance() {
        let a = decode_score(3479099956230698.0).unwrap();
        let b = decode_score(3479447370796909.0).unwrap();
        let d = distance(a[0], a[1], b[0], b[1]);
        assert!((d - 166274.1516).abs() < 0.001, "{d}");
    }

    #[test]
    fn geohash_of_palermo() {
        let xy = decode_score(3479099956230698.0).unwrap();
        assert_eq!(geohash_string(xy), "sqc8b49rny0");
    }
}
