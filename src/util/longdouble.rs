//! Software x87 extended precision (`long double` on x86-64 Linux).
//!
//! Redis does INCRBYFLOAT (and HINCRBYFLOAT) in C `long double`: it parses
//! both operands with `strtold`, adds them with 64 bits of mantissa, and
//! prints the sum with `%.17Lf`. Doing the same in `f64` gives different
//! strings for everyday input (0.1 + 0.2 is "0.3" in Redis, but
//! "0.30000000000000004" in f64), so keel emulates the 80-bit format:
//! correctly rounded parsing, correctly rounded addition (round to nearest,
//! ties to even), and exact decimal printing. Subnormals are supported;
//! parsing follows `string2ld`, which rejects overflow to infinity and
//! underflow to zero, leading spaces, trailing garbage and NaN.

use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};

/// Redis's MAX_LONG_DOUBLE_CHARS: longer input is rejected.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;
/// Exponent of the lowest mantissa bit of the smallest subnormal.
const MIN_LSB_EXP: i32 = -16445;
/// Largest exponent of the leading mantissa bit.
const MAX_LEAD_EXP: i32 = 16383;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Zero,
    /// `mant * 2^exp`, `mant` normalized (bit 63 set) unless subnormal.
    Finite {
        mant: u64,
        exp: i32,
    },
    Inf,
    Nan,
}

/// An x87 80-bit extended precision value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    kind: Kind,
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble {
        neg: false,
        kind: Kind::Zero,
    };

    /// Exact conversion (every i64 fits in 64 bits of mantissa).
    pub fn from_i64(n: i64) -> Self {
        if n == 0 {
            return Self::ZERO;
        }
        let m = n.unsigned_abs();
        let z = m.leading_zeros();
        LongDouble {
            neg: n < 0,
            kind: Kind::Finite {
                mant: m << z,
                exp: -(z as i32),
            },
        }
    }

    pub fn is_finite(&self) -> bool {
        matches!(self.kind, Kind::Zero | Kind::Finite { .. })
    }

    /// `string2ld`: the whole input must be a number `strtold` accepts
    /// (decimal or hex, optional sign, "inf"/"infinity"), with no leading
    /// space; NaN, overflow and underflow to zero are rejected.
    pub fn parse(s: &[u8]) -> Option<Self> {
        if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS || s[0].is_ascii_whitespace() {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let lower = body.to_ascii_lowercase();
        if lower == b"inf" || lower == b"infinity" {
            return Some(LongDouble {
                neg,
                kind: Kind::Inf,
            });
        }
        let v = if lower.len() > 1 && lower.starts_with(b"0x") {
            parse_hex(&lower[2..])?
        } else {
            parse_decimal(&lower)?
        };
        Some(LongDouble { neg, ..v })
    }

    /// `a + b` rounded to nearest, ties to even.
    pub fn sum(self, o: LongDouble) -> LongDouble {
        match (self.kind, o.kind) {
            (Kind::Nan, _) | (_, Kind::Nan) => LongDouble {
                neg: false,
                kind: Kind::Nan,
            },
            (Kind::Inf, Kind::Inf) if self.neg != o.neg => LongDouble {
                neg: false,
                kind: Kind::Nan,
            },
            (Kind::Inf, _) => self,
            (_, Kind::Inf) => o,
            (Kind::Zero, Kind::Zero) => LongDouble {
                neg: self.neg && o.neg,
                kind: Kind::Zero,
            },
            (Kind::Zero, _) => o,
            (_, Kind::Zero) => self,
            (Kind::Finite { mant: ma, exp: ea }, Kind::Finite { mant: mb, exp: eb }) => {
                let (big, bm, be, small, sm, se) = if ea >= eb {
                    (self, ma, ea, o, mb, eb)
                } else {
                    (o, mb, eb, self, ma, ea)
                };
                let d = (be - se) as u32;
                // Both operands as integers over a common exponent. When
                // the exponents are far apart the small operand only
                // contributes a sticky bit below 64 guard bits.
                let (a, b, exp, sticky) = if d <= 64 {
                    ((bm as u128) << d, sm as u128, se, false)
                } else {
                    let shift = d - 64;
                    let (b, lost) = if shift >= 64 {
                        (0u128, sm != 0)
                    } else {
                        ((sm >> shift) as u128, sm & ((1u64 << shift) - 1) != 0)
                    };
                    ((bm as u128) << 64, b, be - 64, lost)
                };
                if big.neg == small.neg {
                    round(big.neg, a + b, exp, sticky)
                } else if a > b || (a == b && sticky) {
                    // a - (b + frac) = (a - b - 1) + (1 - frac)
                    let m = if sticky { a - b - 1 } else { a - b };
                    round(big.neg, m, exp, sticky)
                } else if a == b {
                    Self::ZERO
                } else {
                    round(small.neg, b - a, exp, sticky)
                }
            }
        }
    }

    /// `%.17Lf` with trailing zeros (and a trailing dot) removed and "-0"
    /// shown as "0": Redis's LD_STR_HUMAN.
    pub fn to_human_string(&self) -> String {
        let (int, frac) = match self.kind {
            Kind::Nan => return if self.neg { "-nan" } else { "nan" }.into(),
            Kind::Inf => return if self.neg { "-inf" } else { "inf" }.into(),
            Kind::Zero => return "0".into(),
            Kind::Finite { mant, exp } => fixed17(mant, exp),
        };
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        s.push_str(&int.to_string());
        s.push('.');
        s.push_str(&format!("{:017}", frac));
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t == "-0" {
            "0".into()
        } else {
            t.to_string()
        }
    }
}

/// Integer part and 17 rounded fraction digits of `mant * 2^exp`.
fn fixed17(mant: u64, exp: i32) -> (BigUint, u64) {
    const SCALE: u64 = 100_000_000_000_000_000;
    if exp >= 0 {
        return (BigUint::from(mant) << exp as usize, 0);
    }
    let k = (-exp) as usize;
    let m = BigUint::from(mant);
    let mut int = &m >> k;
    let mask = (BigUint::one() << k) - 1u32;
    let f = (&m & &mask) * SCALE;
    let mut q = (&f >> k).to_u64().unwrap_or(0);
    let r = &f & &mask;
    let half = BigUint::one() << (k - 1);
    if r > half || (r == half && q & 1 == 1) {
        q += 1;
    }
    if q == SCALE {
        q = 0;
        int += 1u32;
    }
    (int, q)
}

/// Rounds the exact value `(m + s) * 2^exp` (0 <= s < 1, s > 0 iff
/// `sticky`) to the nearest x87 value, ties to even.
fn round(neg: bool, m: u128, exp: i32, sticky: bool) -> LongDouble {
    if m == 0 {
        return LongDouble {
            neg,
            kind: Kind::Zero,
        };
    }
    let len = 128 - m.leading_zeros() as i32;
    let lead = exp as i64 + len as i64 - 1;
    let lsb = (lead - 63).max(MIN_LSB_EXP as i64);
    let shift = lsb - exp as i64;
    let mut q: u128;
    let mut lsb = lsb;
    if shift > 0 {
        let shift = shift as u32;
        let (quot, rem, half) = if shift > 128 {
            (0, m, None)
        } else if shift == 128 {
            (0, m, Some(1u128 << 127))
        } else {
            (
                m >> shift,
                m & ((1u128 << shift) - 1),
                Some(1u128 << (shift - 1)),
            )
        };
        q = quot;
        if let Some(half) = half {
            if rem > half || (rem == half && (sticky || q & 1 == 1)) {
                q += 1;
            }
        }
        if q == 1u128 << 64 {
            q >>= 1;
            lsb += 1;
        }
    } else {
        q = m << (-shift) as u32;
    }
    if q == 0 {
        return LongDouble {
            neg,
            kind: Kind::Zero,
        };
    }
    let qlen = 128 - q.leading_zeros() as i64;
    if lsb + qlen - 1 > MAX_LEAD_EXP as i64 {
        return LongDouble {
            neg,
            kind: Kind::Inf,
        };
    }
    LongDouble {
        neg,
        kind: Kind::Finite {
            mant: q as u64,
            exp: lsb as i32,
        },
    }
}

/// Rounds a big integer times `2^exp` (plus a sticky fraction).
fn round_big(n: &BigUint, exp: i64, sticky: bool) -> LongDouble {
    let bits = n.bits();
    let (m, exp, sticky) = if bits > 128 {
        let shift = bits - 128;
        let lost = n.trailing_zeros().is_some_and(|tz| tz < shift);
        (
            (n >> shift).to_u128().unwrap(),
            exp + shift as i64,
            sticky || lost,
        )
    } else {
        (n.to_u128().unwrap(), exp, sticky)
    };
    if exp > i32::MAX as i64 / 2 {
        return LongDouble {
            neg: false,
            kind: Kind::Inf,
        };
    }
    if exp < i32::MIN as i64 / 2 {
        return LongDouble::ZERO;
    }
    round(false, m, exp as i32, sticky)
}

/// A parsed magnitude that overflowed or underflowed is rejected.
fn range_checked(v: LongDouble) -> Option<LongDouble> {
    match v.kind {
        Kind::Finite { .. } => Some(v),
        _ => None,
    }
}

/// Digits with an optional dot, then an optional exponent introduced by
/// `marker`. Returns (digits without dot, digits after the dot, exponent).
fn split_number(s: &[u8], is_digit: fn(u8) -> bool, marker: u8) -> Option<(Vec<u8>, i64, i64)> {
    let mut i = 0;
    let mut digits = Vec::new();
    let mut frac = 0i64;
    let mut seen_dot = false;
    while i < s.len() {
        let c = s[i];
        if is_digit(c) {
            digits.push(c);
            if seen_dot {
                frac += 1;
            }
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits.is_empty() {
        return None;
    }
    let mut e = 0i64;
    if i < s.len() {
        if s[i] != marker {
            return None;
        }
        i += 1;
        let eneg = match s.get(i) {
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
        if i >= s.len() {
            return None;
        }
        for &c in &s[i..] {
            if !c.is_ascii_digit() {
                return None;
            }
            // Saturate: anything this large over/underflows anyway.
            e = (e * 10 + (c - b'0') as i64).min(1 << 40);
        }
        if eneg {
            e = -e;
        }
    }
    Some((digits, frac, e))
}

fn parse_decimal(s: &[u8]) -> Option<LongDouble> {
    let (digits, frac, e) = split_number(s, |c| c.is_ascii_digit(), b'e')?;
    let first = digits.iter().position(|&c| c != b'0');
    let Some(first) = first else {
        return Some(LongDouble::ZERO);
    };
    let digits = &digits[first..];
    let e10 = e - frac;
    let nd = digits.len() as i64;
    // Magnitude is in [10^(nd+e10-1), 10^(nd+e10)).
    if nd + e10 - 1 > 4933 || nd + e10 < -4952 {
        return None;
    }
    let d = BigUint::parse_bytes(digits, 10)?;
    let v = if e10 >= 0 {
        round_big(&(d * BigUint::from(10u32).pow(e10 as u32)), 0, false)
    } else {
        let p = BigUint::from(10u32).pow((-e10) as u32);
        let s = (p.bits() as i64 - d.bits() as i64 + 66).max(0) as usize;
        let num = d << s;
        let q = &num / &p;
        let sticky = !(num - &q * &p).is_zero();
        round_big(&q, -(s as i64), sticky)
    };
    range_checked(v)
}

fn parse_hex(s: &[u8]) -> Option<LongDouble> {
    let (digits, frac, e) = split_number(s, |c| c.is_ascii_hexdigit(), b'p')?;
    let d = BigUint::parse_bytes(&digits, 16)?;
    if d.is_zero() {
        return Some(LongDouble::ZERO);
    }
    let exp = e - 4 * frac;
    if exp + d.bits() as i64 > 20000 || exp + (d.bits() as i64) < -20000 {
        return None;
    }
    range_checked(round_big(&d, exp, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).unwrap();
        let b = LongDouble::parse(b.as_bytes()).unwrap();
        a.sum(b).to_human_string()
    }

    fn show(s: &str) -> String {
        LongDouble::parse(s.as_bytes()).unwrap().to_human_string()
    }

    #[test]
    fn sums_match_redis() {
        // Values observed from redis-server 7.0.15 on x86-64.
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("17179869184", "1.5"), "17179869185.5");
        assert_eq!(
            incr("5000", "1.23456789012345678901234567890"),
            "5001.23456789012345691"
        );
        assert_eq!(incr("1", "-1.1"), "-0.1");
        assert_eq!(incr("0.02439024390243902", "-0.024390243902439025"), "0");
        assert_eq!(show("0x10"), "16");
        assert_eq!(show("0x1.8p1"), "3");
        assert_eq!(show("0x.8"), "0.5");
        assert_eq!(show(".5"), "0.5");
        assert_eq!(show("5."), "5");
        assert_eq!(show("-1e-20"), "0");
        assert_eq!(show("1e-4950"), "0");
        assert_eq!(show("3.4e-4932"), "0");
        // Ties at the 17th decimal go to even, as glibc's printf.
        assert_eq!(show("0.000003814697265625"), "0.00000381469726562");
    }

    #[test]
    fn big_values_print_exactly() {
        assert_eq!(
            show("1e300"),
            "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"
        );
        assert!(show("1.18973149535723176502e+4932").starts_with("11897314953572317650212638530309702051690633222946242004403237338917370055229707226164102903365288828535456978074955773144274431536702884341981255738537436786735932007069732632019159182829615243655295106467910866143117906321697788388961347865606003991487534332114549111600886798451548665128523401497730376000"));
    }

    #[test]
    fn rejected_input() {
        for bad in [
            " 1", "1 ", "1e", "1e+", ".", "-0x", "nan", "-nan", "1.5e4932", "1e-5000", "", "0x",
            "1..2", "infin", "1\x002",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        let inf = LongDouble::parse(b"+inf").unwrap();
        assert!(!inf.is_finite());
        assert!(!inf.sum(LongDouble::from_i64(1)).is_finite());
        let ninf = LongDouble::parse(b"-Infinity").unwrap();
        assert!(!inf.sum(ninf).is_finite());
    }

    #[test]
    fn addition_rounds_to_nearest_even() {
        let one = LongDouble::from_i64(1);
        // 2^-64 is half an ulp of 1.0: ties to even keeps 1.
        let tiny = LongDouble::parse(b"0x1p-64").unwrap();
        assert_eq!(one.sum(tiny), one);
        // Just above half an ulp rounds up.
        let more = LongDouble::parse(b"0x1.0000000001p-64").unwrap();
        assert_ne!(one.sum(more), one);
        // Far apart: the small operand is only sticky.
        let huge = LongDouble::parse(b"0x1p200").unwrap();
        assert_eq!(huge.sum(one), huge);
        assert_eq!(
            LongDouble::from_i64(i64::MIN).to_human_string(),
            "-9223372036854775808"
        );
        assert_eq!(
            LongDouble::from_i64(i64::MAX)
                .sum(LongDouble::from_i64(1))
                .to_human_string(),
            "9223372036854775808"
        );
        assert_eq!(
            LongDouble::from_i64(3)
                .sum(LongDouble::from_i64(-3))
                .to_human_string(),
            "0"
        );
    }
}
