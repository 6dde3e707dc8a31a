//! `IntSet`: a sorted array of integers, Redis's `intset` encoding for
//! small sets of integers.
//!
//! As in Redis, the array uses the narrowest width (16, 32 or 64 bits) that
//! holds every member, upgrades when a wider value arrives and never
//! downgrades. Members are kept sorted, so lookups are binary searches and
//! SMEMBERS lists a small integer set in Redis's (ascending) order.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntSet {
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::I16(Vec::new())
    }
}

fn insert_sorted<T: Ord + Copy>(v: &mut Vec<T>, x: T) -> bool {
    match v.binary_search(&x) {
        Ok(_) => false,
        Err(i) => {
            v.reserve_exact(1);
            v.insert(i, x);
            true
        }
    }
}

fn remove_sorted<T: Ord + Copy>(v: &mut Vec<T>, x: T) -> bool {
    match v.binary_search(&x) {
        Ok(i) => {
            v.remove(i);
            true
        }
        Err(_) => false,
    }
}

impl IntSet {
    pub fn new() -> Self {
        IntSet::default()
    }

    pub fn len(&self) -> usize {
        match self {
            IntSet::I16(v) => v.len(),
            IntSet::I32(v) => v.len(),
            IntSet::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn heap_size(&self) -> usize {
        match self {
            IntSet::I16(v) => v.capacity() * 2,
            IntSet::I32(v) => v.capacity() * 4,
            IntSet::I64(v) => v.capacity() * 8,
        }
    }

    pub fn contains(&self, x: i64) -> bool {
        match self {
            IntSet::I16(v) => i16::try_from(x).is_ok_and(|x| v.binary_search(&x).is_ok()),
            IntSet::I32(v) => i32::try_from(x).is_ok_and(|x| v.binary_search(&x).is_ok()),
            IntSet::I64(v) => v.binary_search(&x).is_ok(),
        }
    }

    /// Adds `x`; false if it was already a member.
    pub fn insert(&mut self, x: i64) -> bool {
        if let IntSet::I16(v) = self {
            if let Ok(y) = i16::try_from(x) {
                return insert_sorted(v, y);
            }
            *self = IntSet::I32(v.iter().map(|&a| a as i32).collect());
        }
        if let IntSet::I32(v) = self {
            if let Ok(y) = i32::try_from(x) {
                return insert_sorted(v, y);
            }
            *self = IntSet::I64(v.iter().map(|&a| a as i64).collect());
        }
        match self {
            IntSet::I64(v) => insert_sorted(v, x),
            _ => unreachable!("upgraded above"),
        }
    }

    /// Removes `x`; false if it was not a member.
    pub fn remove(&mut self, x: i64) -> bool {
        match self {
            IntSet::I16(v) => i16::try_from(x).is_ok_and(|x| remove_sorted(v, x)),
            IntSet::I32(v) => i32::try_from(x).is_ok_and(|x| remove_sorted(v, x)),
            IntSet::I64(v) => remove_sorted(v, x),
        }
    }

    /// The member at position `i` in ascending order.
    pub fn get(&self, i: usize) -> Option<i64> {
        match self {
            IntSet::I16(v) => v.get(i).map(|&x| x as i64),
            IntSet::I32(v) => v.get(i).map(|&x| x as i64),
            IntSet::I64(v) => v.get(i).copied(),
        }
    }

    /// Members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(move |i| self.get(i).expect("in range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_and_order() {
        let mut s = IntSet::new();
        assert!(s.insert(5));
        assert!(s.insert(-3));
        assert!(!s.insert(5));
        assert!(matches!(s, IntSet::I16(_)));
        assert!(s.insert(100_000));
        assert!(matches!(s, IntSet::I32(_)));
        assert!(s.insert(i64::MIN));
        assert!(matches!(s, IntSet::I64(_)));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 5, 100_000]);
        assert!(s.contains(-3));
        assert!(!s.contains(4));
        assert!(s.remove(i64::MIN));
        assert!(!s.remove(i64::MIN));
        assert!(matches!(s, IntSet::I64(_)), "never downgrades");
        assert_eq!(s.len(), 3);
        let mut t = IntSet::new();
        t.insert(1);
        assert!(!t.contains(1 << 40));
        assert!(!t.remove(1 << 40));
    }
}
