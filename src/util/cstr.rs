//! C library string-to-number behaviour the AOF code must reproduce byte
//! for byte (Redis reads manifests with `atoll` and AOF headers with
//! `strtol` on C strings): one copy for the manifest parser and the
//! command stream reader.

/// The C string `fgets`/`sdsnew` see: the bytes before the first NUL.
pub fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// glibc `strtol(s, &end, 10)` over the C string in `s`: (value saturated
/// to i64, index of the end pointer, overflowed). The end pointer is 0
/// when no digits were read.
pub fn strtol(s: &[u8]) -> (i64, usize, bool) {
    let s = cstr(s);
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits_start = i;
    let mut acc: i128 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        acc = (acc * 10 + (s[i] - b'0') as i128).min(i64::MAX as i128 + 2);
        i += 1;
    }
    if i == digits_start {
        return (0, 0, false);
    }
    let v = if neg { -acc } else { acc };
    let overflow = v > i64::MAX as i128 || v < i64::MIN as i128;
    (
        v.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        i,
        overflow,
    )
}

/// glibc `atoll`: `strtol`'s value (0 when there are no digits).
pub fn atoll(b: &[u8]) -> i64 {
    strtol(b).0
}
