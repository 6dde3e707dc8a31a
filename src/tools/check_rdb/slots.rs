//! `--slots` ranges: a comma-separated list of slots and inclusive slot
//! ranges (`0-5460,10923`), as CLUSTER ADDSLOTSRANGE takes them, parsed
//! into a 16384-bit set.

use crate::keyspace::SLOTS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotSet {
    bits: Vec<u64>,
}

impl SlotSet {
    pub fn empty() -> Self {
        SlotSet {
            bits: vec![0; SLOTS / 64],
        }
    }

    pub fn insert(&mut self, slot: usize) {
        self.bits[slot / 64] |= 1 << (slot % 64);
    }

    pub fn contains(&self, slot: usize) -> bool {
        slot < SLOTS && self.bits[slot / 64] & (1 << (slot % 64)) != 0
    }

    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parses `0-5460,10923`; the error names the bad part.
    pub fn parse(s: &str) -> Result<SlotSet, String> {
        let mut set = SlotSet::empty();
        for part in s.split(',').map(str::trim) {
            let slot = |x: &str| -> Result<usize, String> {
                match x.trim().parse::<usize>() {
                    Ok(n) if n < SLOTS => Ok(n),
                    _ => Err(format!(
                        "invalid slot '{x}' in '{part}' (slots are 0..={})",
                        SLOTS - 1
                    )),
                }
            };
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (slot(a)?, slot(b)?),
                None => {
                    let n = slot(part)?;
                    (n, n)
                }
            };
            if lo > hi {
                return Err(format!("invalid slot range '{part}': start > end"));
            }
            for n in lo..=hi {
                set.insert(n);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges() {
        let s = SlotSet::parse("0-5460,10923").unwrap();
        assert_eq!(s.len(), 5462);
        assert!(s.contains(0) && s.contains(5460) && s.contains(10923));
        assert!(!s.contains(5461) && !s.contains(10922) && !s.contains(16383));
        assert!(!s.contains(20000));
        assert_eq!(SlotSet::parse("16383").unwrap().len(), 1);
        assert!(SlotSet::parse("16384").is_err());
        assert!(SlotSet::parse("5-1").is_err());
        assert!(SlotSet::parse("a").is_err());
        assert!(SlotSet::parse("").is_err());
        assert!(SlotSet::parse("1,,2").is_err());
        assert!(SlotSet::empty().is_empty());
    }
}
