//! `IntSet`: a sorted array of integers, Redis's `intset` encoding for
//! small sets of integers.
//!
//! As in Redis, the array uses the narrowest width (16, 32 or 64 bits) that
//! holds every member, upgrades when a wider value arrives and never
//! downgrades. Members are kept sorted, so lookups are binary searches and
//! SMEMBERS lists a small integer set in Redis's (ascending) order. The
//! array is one boxed slice resized exactly, like Redis's intset.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntSet {
    /// Empty, or the width in bytes (2, 4 or 8) followed by the members,
    /// little-endian, ascending. One boxed slice: 16 bytes of header.
    data: Box<[u8]>,
}

/// Narrowest width (bytes) that holds `x`, as Redis's _intsetValueEncoding.
fn width_of(x: i64) -> usize {
    if i16::try_from(x).is_ok() {
        2
    } else if i32::try_from(x).is_ok() {
        4
    } else {
        8
    }
}

fn read(b: &[u8]) -> i64 {
    match b.len() {
        2 => i16::from_le_bytes([b[0], b[1]]) as i64,
        4 => i32::from_le_bytes(b.try_into().expect("4 bytes")) as i64,
        _ => i64::from_le_bytes(b.try_into().expect("8 bytes")),
    }
}

fn write(x: i64, w: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&x.to_le_bytes()[..w]);
}

impl IntSet {
    pub fn new() -> Self {
        IntSet::default()
    }

    /// Width of each member in bytes (2 for an empty set).
    pub fn width(&self) -> usize {
        self.data.first().map_or(2, |&w| w as usize)
    }

    pub fn len(&self) -> usize {
        if self.data.is_empty() {
            0
        } else {
            (self.data.len() - 1) / self.width()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn heap_size(&self) -> usize {
        self.data.len()
    }

    /// The member at position `i` in ascending order.
    pub fn get(&self, i: usize) -> Option<i64> {
        if i >= self.len() {
            return None;
        }
        let w = self.width();
        Some(read(&self.data[1 + i * w..1 + (i + 1) * w]))
    }

    /// Binary search: Ok(position) or Err(insertion point).
    fn search(&self, x: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).expect("in range").cmp(&x) {
                std::cmp::Ordering::Equal => return Ok(mid),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Err(lo)
    }

    pub fn contains(&self, x: i64) -> bool {
        width_of(x) <= self.width() && self.search(x).is_ok()
    }

    /// Adds `x`; false if it was already a member. Upgrades the width
    /// when `x` needs more bytes; the array is resized exactly.
    pub fn insert(&mut self, x: i64) -> bool {
        let w = self.width().max(width_of(x));
        if w > self.width() {
            let mut v = Vec::with_capacity(1 + (self.len() + 1) * w);
            v.push(w as u8);
            for m in self.iter() {
                write(m, w, &mut v);
            }
            self.data = v.into_boxed_slice();
        }
        let pos = match self.search(x) {
            Ok(_) => return false,
            Err(p) => p,
        };
        let mut v = std::mem::take(&mut self.data).into_vec();
        if v.is_empty() {
            v.push(w as u8);
        }
        v.reserve_exact(w);
        let mut enc = Vec::with_capacity(w);
        write(x, w, &mut enc);
        v.splice(1 + pos * w..1 + pos * w, enc);
        self.data = v.into_boxed_slice();
        true
    }

    /// Removes `x`; false if it was not a member. Never downgrades.
    pub fn remove(&mut self, x: i64) -> bool {
        if width_of(x) > self.width() {
            return false;
        }
        let Ok(pos) = self.search(x) else {
            return false;
        };
        let w = self.width();
        let mut v = std::mem::take(&mut self.data).into_vec();
        v.drain(1 + pos * w..1 + (pos + 1) * w);
        if v.len() > 1 {
            self.data = v.into_boxed_slice();
        } else {
            // Keep the width of an emptied set, as Redis does.
            self.data = vec![w as u8].into_boxed_slice();
        }
        true
    }

    /// Members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(move |i| self.get(i).expect("in range"))
    }

    /// Builds a set from Redis's intset blob (RDB type 11): width u32 LE
    /// (2, 4 or 8), count u32 LE, then the members little-endian. Always
    /// fully validated: size, a non-zero count and strictly ascending
    /// members (keel's lookups rely on the order).
    pub fn from_blob(blob: &[u8]) -> Result<Self, &'static str> {
        if blob.len() < 8 {
            return Err("intset shorter than its header");
        }
        let w = u32::from_le_bytes(blob[0..4].try_into().expect("4 bytes")) as usize;
        let n = u32::from_le_bytes(blob[4..8].try_into().expect("4 bytes")) as usize;
        if !matches!(w, 2 | 4 | 8) {
            return Err("intset with an invalid encoding");
        }
        if n.checked_mul(w).and_then(|b| b.checked_add(8)) != Some(blob.len()) {
            return Err("intset size does not match its count");
        }
        if n == 0 {
            return Err("empty intset");
        }
        let body = &blob[8..];
        let mut prev = None;
        for c in body.chunks_exact(w) {
            let x = read(c);
            if prev.is_some_and(|p| x <= p) {
                return Err("intset members not strictly ascending");
            }
            prev = Some(x);
        }
        let mut data = Vec::with_capacity(1 + body.len());
        data.push(w as u8);
        data.extend_from_slice(body);
        Ok(IntSet {
            data: data.into_boxed_slice(),
        })
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
        assert_eq!(s.width(), 2);
        assert!(s.insert(100_000));
        assert_eq!(s.width(), 4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.width(), 8);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 5, 100_000]);
        assert!(s.contains(-3));
        assert!(!s.contains(4));
        assert!(s.remove(i64::MIN));
        assert!(!s.remove(i64::MIN));
        assert_eq!(s.width(), 8, "never downgrades");
        assert_eq!(s.len(), 3);
        let mut t = IntSet::new();
        t.insert(1);
        assert!(!t.contains(1 << 40));
        assert!(!t.remove(1 << 40));
        assert!(t.remove(1));
        assert!(t.is_empty() && t.iter().next().is_none());
        assert_eq!(std::mem::size_of::<IntSet>(), 16);
    }

    #[test]
    fn from_redis_blob() {
        let mut b = vec![4, 0, 0, 0, 3, 0, 0, 0];
        for x in [-70000i32, 5, 70000] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        let s = IntSet::from_blob(&b).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-70000, 5, 70000]);
        assert!(s.contains(5) && !s.contains(6));
        let mut t = s.clone();
        assert!(t.insert(1 << 40));
        assert_eq!(t.len(), 4);
        assert!(IntSet::from_blob(&b[..b.len() - 1]).is_err());
        assert!(
            IntSet::from_blob(&[2, 0, 0, 0, 0, 0, 0, 0]).is_err(),
            "count 0"
        );
        assert!(IntSet::from_blob(&[3, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3]).is_err());
        let unsorted = [2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 5, 0];
        assert!(IntSet::from_blob(&unsorted).is_err(), "duplicate");
        let huge = [8, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(IntSet::from_blob(&huge).is_err());
    }
}
