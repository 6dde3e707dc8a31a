//! Per-command latency histograms behind INFO latencystats.
//!
//! Redis records every command's duration (in nanoseconds, clamped to
//! 1ns..1s) in an HDR histogram with 2 significant digits and reports
//! percentiles as the highest value equivalent to the bucket the
//! percentile falls in. This is the same bucket layout (256 sub-buckets,
//! the lower half shared with the previous bucket), so the reported
//! percentiles have the same resolution as Redis's.

/// Clamp range of recorded values, in nanoseconds.
pub const MIN_VALUE: i64 = 1;
pub const MAX_VALUE: i64 = 1_000_000_000;

/// log2 of half the sub-bucket count (2 significant digits -> 256 sub-buckets).
const HALF_MAG: u32 = 7;
const HALF_COUNT: i64 = 1 << HALF_MAG;
const SUB_MASK: i64 = (1 << (HALF_MAG + 1)) - 1;
/// Buckets needed to cover MAX_VALUE: 256 << 22 > 1e9.
const BUCKETS: usize = 23;
const COUNTS_LEN: usize = (BUCKETS + 1) * HALF_COUNT as usize;

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: vec![0; COUNTS_LEN],
            total: 0,
        }
    }
}

fn bucket_index(v: i64) -> u32 {
    let pow2ceiling = 64 - ((v | SUB_MASK) as u64).leading_zeros();
    pow2ceiling - (HALF_MAG + 1)
}

fn counts_index(v: i64) -> usize {
    let b = bucket_index(v);
    let sub = v >> b;
    ((((b + 1) as i64) << HALF_MAG) + sub - HALF_COUNT) as usize
}

fn value_at_index(idx: usize) -> i64 {
    let mut b = (idx as i64 >> HALF_MAG) - 1;
    let mut sub = (idx as i64 & (HALF_COUNT - 1)) + HALF_COUNT;
    if b < 0 {
        sub -= HALF_COUNT;
        b = 0;
    }
    sub << b
}

fn lowest_equivalent(v: i64) -> i64 {
    let b = bucket_index(v);
    (v >> b) << b
}

fn range_size(v: i64) -> i64 {
    let b = bucket_index(v);
    let sub = v >> b;
    let adj = if sub >= 2 * HALF_COUNT { b + 1 } else { b };
    1 << adj
}

fn highest_equivalent(v: i64) -> i64 {
    lowest_equivalent(v) + range_size(v) - 1
}

impl LatencyHistogram {
    /// Records one duration in nanoseconds.
    pub fn record(&mut self, ns: i64) {
        let v = ns.clamp(MIN_VALUE, MAX_VALUE);
        self.counts[counts_index(v)] += 1;
        self.total += 1;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value (ns) at `percentile` (0..=100), as hdr_value_at_percentile.
    pub fn value_at_percentile(&self, percentile: f64) -> i64 {
        let p = percentile.min(100.0);
        let want = (((p / 100.0) * self.total as f64) + 0.5) as i64;
        let want = want.max(1) as u64;
        let mut seen = 0u64;
        let mut at = 0i64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                at = value_at_index(i);
                break;
            }
        }
        if percentile == 0.0 {
            lowest_equivalent(at)
        } else {
            highest_equivalent(at)
        }
    }
}

impl LatencyHistogram {
    /// Cumulative distribution as LATENCY HISTOGRAM reports it: HDR's
    /// logarithmic iteration (first level 1024ns, base 2), one
    /// (microseconds, cumulative count) pair per level where the count grew.
    pub fn cdf(&self) -> Vec<(i64, u64)> {
        let mut out = Vec::new();
        let mut level: i64 = 1024;
        let mut level_low = lowest_equivalent(level);
        let mut idx: isize = -1;
        let (mut value, mut highest, mut cum, mut prev) = (0i64, 0i64, 0u64, 0u64);
        loop {
            let next_exists = ((idx + 1) as usize) < COUNTS_LEN;
            let peek_gt = next_exists && value_at_index((idx + 1) as usize) > level_low;
            if cum >= self.total && !peek_gt {
                break;
            }
            loop {
                if value >= level_low {
                    level *= 2;
                    level_low = lowest_equivalent(level);
                    break;
                }
                idx += 1;
                if idx as usize >= COUNTS_LEN {
                    break;
                }
                cum += self.counts[idx as usize];
                value = value_at_index(idx as usize);
                highest = highest_equivalent(value);
            }
            if cum > prev {
                out.push((highest / 1000, cum));
            }
            prev = cum;
            if idx as usize >= COUNTS_LEN {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_is_cumulative() {
        let mut h = LatencyHistogram::default();
        h.record(500);
        h.record(3000);
        h.record(3100);
        let cdf = h.cdf();
        assert_eq!(cdf.last().map(|p| p.1), Some(3));
        assert!(cdf.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
        assert_eq!(cdf[0], (1, 1));
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = LatencyHistogram::default();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.value_at_percentile(50.0), 50);
        assert_eq!(h.value_at_percentile(100.0), 100);
        assert_eq!(h.value_at_percentile(0.0), 1);
    }

    #[test]
    fn large_values_have_two_digit_precision() {
        let mut h = LatencyHistogram::default();
        h.record(50_000_000);
        let v = h.value_at_percentile(50.0);
        assert!(
            (50_000_000..50_000_000 + 50_000_000 / 100).contains(&v),
            "{v}"
        );
        // Clamped at one second.
        h.record(5_000_000_000);
        assert!(h.value_at_percentile(100.0) >= MAX_VALUE);
    }
}
