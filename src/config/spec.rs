//! The value types of configuration directives and Redis's rules for
//! each: how a value is parsed (with Redis's exact error texts), how
//! CONFIG GET shows it, and how CONFIG REWRITE writes it back.
//!
//! Redis 7.0 has five generic kinds (bool, numeric, enum, string, and
//! "special" directives with their own code); numeric values carry flags
//! saying whether memory units ("1gb"), percentages ("10%") or octal
//! numbers are accepted. Everything here is pure.

use crate::util::num::parse_i64;

/// A directive's value, independent of where it is stored.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Bool(bool),
    /// Numbers and enums (an enum's value, or its bit flags).
    Int(i64),
    /// `None` is Redis's NULL string (shown as "" and left out of rewrites).
    Str(Option<String>),
}

impl Val {
    pub fn as_bool(&self) -> bool {
        matches!(self, Val::Bool(true))
    }
    pub fn as_int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            Val::Bool(b) => *b as i64,
            Val::Str(_) => 0,
        }
    }
    pub fn into_string(self) -> String {
        match self {
            Val::Str(s) => s.unwrap_or_default(),
            Val::Bool(b) => yesno(b).into(),
            Val::Int(i) => i.to_string(),
        }
    }
}

pub fn yesno(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Numeric flags.
pub const MEMORY: u8 = 1;
pub const PERCENT: u8 = 2;
pub const OCTAL: u8 = 4;

#[derive(Clone, Copy, Debug)]
pub struct NumSpec {
    pub min: i64,
    pub max: i64,
    pub default: i64,
    pub flags: u8,
    /// Stored in an unsigned C type: bounds are compared as unsigned.
    pub unsigned: bool,
}

/// Redis's is_valid_fn for enums and strings.
pub type EnumCheck = fn(i64) -> Result<(), &'static str>;
pub type StrCheck = fn(&str) -> Result<(), &'static str>;

#[derive(Clone, Copy, Debug)]
pub struct EnumSpec {
    pub items: &'static [(&'static str, i64)],
    pub default: i64,
    /// Extra check on the parsed value (Redis's is_valid_fn).
    pub valid: Option<EnumCheck>,
}

#[derive(Clone, Copy, Debug)]
pub struct StrSpec {
    /// `None`: the default is NULL.
    pub default: Option<&'static str>,
    /// EMPTY_STRING_IS_NULL: setting "" stores NULL.
    pub empty_is_null: bool,
    pub valid: Option<StrCheck>,
}

/// Parses a memory amount like Redis's memtoull: digits then an optional
/// unit (b, k, kb, m, mb, g, gb; any case). "" and a bare unit are 0; a
/// value that overflows wraps as it does in C.
pub fn memtoull(s: &str) -> Option<u64> {
    if s.starts_with('-') {
        return None;
    }
    let digits = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    let mul: u64 = match s[digits..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    // strtoull saturates on overflow (and Redis does not check ERANGE).
    let val = if digits == 0 {
        0
    } else {
        s[..digits].parse::<u64>().unwrap_or(u64::MAX)
    };
    Some(val.wrapping_mul(mul))
}

/// strtoll(s, &end, 8) with `errno == 0 && *end == '\0'`.
fn parse_octal(s: &str) -> Option<i64> {
    if s.is_empty() {
        return Some(0);
    }
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if t.is_empty() || !t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    let v = i64::from_str_radix(t, 8).ok()?;
    Some(if neg { -v } else { v })
}

impl NumSpec {
    /// Redis's numericParseString followed by numericBoundaryCheck.
    pub fn parse(&self, s: &str) -> Result<i64, String> {
        let v = self.parse_only(s)?;
        self.check_bounds(v)?;
        Ok(v)
    }

    fn parse_only(&self, s: &str) -> Result<i64, String> {
        if self.flags & MEMORY != 0 {
            if let Some(v) = memtoull(s) {
                return Ok(v as i64);
            }
        }
        if self.flags & PERCENT != 0 && s.len() > 1 && s.ends_with('%') {
            if let Some(v) = parse_i64(&s.as_bytes()[..s.len() - 1]) {
                if v >= 0 {
                    return Ok(-v);
                }
            }
        }
        if self.flags & OCTAL != 0 {
            if let Some(v) = parse_octal(s) {
                return Ok(v);
            }
        }
        if self.flags == 0 {
            if let Some(v) = parse_i64(s.as_bytes()) {
                return Ok(v);
            }
        }
        Err(if self.flags & MEMORY != 0 && self.flags & PERCENT != 0 {
            "argument must be a memory or percent value"
        } else if self.flags & MEMORY != 0 {
            "argument must be a memory value"
        } else if self.flags & OCTAL != 0 {
            "argument couldn't be parsed as an octal number"
        } else {
            "argument couldn't be parsed into an integer"
        }
        .into())
    }

    fn check_bounds(&self, v: i64) -> Result<(), String> {
        if self.unsigned {
            let (u, lo, hi) = (v as u64, self.min as u64, self.max as u64);
            if u > hi || u < lo {
                return Err(if self.flags & OCTAL != 0 {
                    format!("argument must be between {lo:o} and {hi:o} inclusive")
                } else {
                    format!("argument must be between {lo} and {hi} inclusive")
                });
            }
        } else if self.flags & PERCENT != 0 && v < 0 {
            if v < self.min {
                return Err(format!(
                    "percentage argument must be less or equal to {}",
                    -self.min
                ));
            }
        } else if v > self.max || v < self.min {
            return Err(format!(
                "argument must be between {} and {} inclusive",
                self.min, self.max
            ));
        }
        Ok(())
    }

    /// The CONFIG GET text.
    pub fn show(&self, v: i64) -> String {
        if self.flags & PERCENT != 0 && v < 0 {
            format!("{}%", -v)
        } else if self.flags & MEMORY != 0 {
            (v as u64).to_string()
        } else if self.flags & OCTAL != 0 {
            format!("{:o}", v as u64)
        } else {
            v.to_string()
        }
    }

    /// The value as CONFIG REWRITE writes it.
    pub fn rewrite_text(&self, v: i64) -> String {
        if self.flags & PERCENT != 0 && v < 0 {
            format!("{}%", -v)
        } else if self.flags & MEMORY != 0 {
            format_memory(v)
        } else if self.flags & OCTAL != 0 {
            format!("{:o}", v as u64)
        } else {
            v.to_string()
        }
    }
}

/// rewriteConfigFormatMemory: "1gb", "64mb", "4kb" when exact, else bytes.
pub fn format_memory(bytes: i64) -> String {
    const GB: i64 = 1 << 30;
    const MB: i64 = 1 << 20;
    const KB: i64 = 1 << 10;
    if bytes != 0 && bytes % GB == 0 {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes % MB == 0 {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes % KB == 0 {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

impl EnumSpec {
    /// configEnumGetValue: one name, or (bitflags) several OR-ed together.
    pub fn parse(&self, args: &[String], bitflags: bool) -> Result<i64, String> {
        let parsed = if args.is_empty() || (!bitflags && args.len() != 1) {
            None
        } else {
            let mut v = 0;
            let mut ok = true;
            for a in args {
                let mut matched = false;
                for (n, iv) in self.items {
                    if n.eq_ignore_ascii_case(a) {
                        v |= iv;
                        matched = true;
                    }
                }
                if !matched {
                    ok = false;
                    break;
                }
            }
            ok.then_some(v)
        };
        let Some(v) = parsed else {
            let names: Vec<&str> = self.items.iter().map(|(n, _)| *n).collect();
            let mut msg = format!(
                "argument(s) must be one of the following: {}",
                names.join(", ")
            );
            msg.truncate(255); // Redis formats it into a 256-byte buffer.
            return Err(msg);
        };
        if let Some(valid) = self.valid {
            valid(v)?;
        }
        Ok(v)
    }

    /// configEnumGetName.
    pub fn show(&self, v: i64, bitflags: bool) -> String {
        let mut names: Vec<&str> = Vec::new();
        let mut unmatched = v;
        for (n, iv) in self.items {
            if v == *iv {
                return n.to_string();
            }
            if bitflags && *iv != 0 && *iv == (unmatched & iv) {
                names.push(n);
                unmatched &= !iv;
            }
        }
        if names.is_empty() || unmatched != 0 {
            return "unknown".into();
        }
        names.join(" ")
    }
}

impl StrSpec {
    pub fn parse(&self, s: &str) -> Result<Option<String>, String> {
        if let Some(valid) = self.valid {
            valid(s)?;
        }
        Ok(if self.empty_is_null && s.is_empty() {
            None
        } else {
            Some(s.to_string())
        })
    }
}

/// Redis's sdscatrepr, used to quote string values in rewritten files.
pub fn repr(s: &str) -> String {
    crate::server::conn::repr(s.as_bytes())
}

/// `printf("%f")` then Redis's trimDoubleString (drop trailing zeros).
pub fn fmt_percentile(x: f64) -> String {
    let s = format!("{x:.6}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(memtoull("1k"), Some(1000));
        assert_eq!(memtoull("1kb"), Some(1024));
        assert_eq!(memtoull("1KB"), Some(1024));
        assert_eq!(memtoull("2m"), Some(2_000_000));
        assert_eq!(memtoull("2mb"), Some(2 << 20));
        assert_eq!(memtoull("1g"), Some(1_000_000_000));
        assert_eq!(memtoull("1gb"), Some(1 << 30));
        assert_eq!(memtoull("5b"), Some(5));
        assert_eq!(memtoull(""), Some(0));
        assert_eq!(memtoull("-1"), None);
        assert_eq!(memtoull("1x"), None);
        assert_eq!(memtoull("1.5gb"), None);
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory(3 << 20), "3mb");
        assert_eq!(format_memory(2048), "2kb");
        assert_eq!(format_memory(1000), "1000");
        assert_eq!(format_memory(0), "0");
    }

    #[test]
    fn numeric_errors_match_redis() {
        let int = NumSpec {
            min: 0,
            max: i32::MAX as i64,
            default: 0,
            flags: 0,
            unsigned: false,
        };
        assert_eq!(
            int.parse("abc").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            int.parse("-1").unwrap_err(),
            "argument must be between 0 and 2147483647 inclusive"
        );
        let uint = NumSpec {
            min: 1,
            max: u32::MAX as i64,
            unsigned: true,
            ..int
        };
        assert_eq!(
            uint.parse("-1").unwrap_err(),
            "argument must be between 1 and 4294967295 inclusive"
        );
        let mem = NumSpec {
            min: 1 << 20,
            max: i64::MAX,
            flags: MEMORY,
            ..int
        };
        assert_eq!(
            mem.parse("-1").unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(mem.parse("2mb"), Ok(2 << 20));
        let pct = NumSpec {
            min: -100,
            max: i64::MAX,
            flags: MEMORY | PERCENT,
            ..int
        };
        assert_eq!(pct.parse("10%"), Ok(-10));
        assert_eq!(pct.show(-10), "10%");
        assert_eq!(
            pct.parse("200%").unwrap_err(),
            "percentage argument must be less or equal to 100"
        );
        assert_eq!(
            pct.parse("x").unwrap_err(),
            "argument must be a memory or percent value"
        );
        let oct = NumSpec {
            min: 0,
            max: 0o777,
            flags: OCTAL,
            unsigned: true,
            ..int
        };
        assert_eq!(oct.parse("700"), Ok(0o700));
        assert_eq!(
            oct.parse("1000").unwrap_err(),
            "argument must be between 0 and 777 inclusive"
        );
        assert_eq!(
            oct.parse("9").unwrap_err(),
            "argument couldn't be parsed as an octal number"
        );
    }

    #[test]
    fn enums_and_flags() {
        const SIG: &[(&str, i64)] = &[
            ("default", 0),
            ("save", 1),
            ("nosave", 2),
            ("now", 4),
            ("force", 8),
        ];
        let e = EnumSpec {
            items: SIG,
            default: 0,
            valid: None,
        };
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(e.parse(&args("nosave now"), true), Ok(6));
        assert_eq!(e.show(6, true), "nosave now");
        assert_eq!(e.show(0, true), "default");
        assert!(e.parse(&args("nosave now"), false).is_err());
        assert_eq!(
            e.parse(&args("bogus"), true).unwrap_err(),
            "argument(s) must be one of the following: default, save, nosave, now, force"
        );
    }

    #[test]
    fn percentiles() {
        assert_eq!(fmt_percentile(50.0), "50");
        assert_eq!(fmt_percentile(99.9), "99.9");
        assert_eq!(fmt_percentile(50.5), "50.5");
    }
}
