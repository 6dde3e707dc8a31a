//! The cursor of HSCAN/SSCAN over a hashtable-encoded collection.
//!
//! Redis's guarantee: an element present from the start to the end of a
//! full scan is returned at least once, whatever is added or removed in
//! between. keel orders the elements by a hash of their bytes, computed
//! with the collection's own (fixed for its lifetime) hasher: the cursor is
//! "the next hash to visit", so removals and insertions never move an
//! element from after the cursor to before it. A call returns the `count`
//! elements with the smallest hashes at or after the cursor (plus any that
//! share the last hash) and the cursor after them; 0 when none are left.
//! Cursors stay below 2^63, so they print as Redis's do.

/// Picks the elements of one SCAN call. `items` yields (hash, element).
pub fn scan_step<T>(
    items: impl Iterator<Item = (u64, T)>,
    cursor: u64,
    count: usize,
) -> (Vec<T>, u64) {
    let count = count.max(1);
    let mut left: Vec<(u64, T)> = items
        .map(|(h, t)| (h >> 1, t))
        .filter(|(k, _)| *k >= cursor)
        .collect();
    if left.len() <= count {
        return (left.into_iter().map(|(_, t)| t).collect(), 0);
    }
    left.select_nth_unstable_by_key(count - 1, |(k, _)| *k);
    let pivot = left[count - 1].0;
    let out = left
        .into_iter()
        .filter(|(k, _)| *k <= pivot)
        .map(|(_, t)| t)
        .collect();
    (out, pivot + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scan_returns_every_element_once() {
        let items: Vec<(u64, u32)> = (0..1000u32)
            .map(|i| ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), i))
            .collect();
        let mut cursor = 0;
        let mut seen = Vec::new();
        loop {
            let (got, next) = scan_step(items.iter().copied(), cursor, 7);
            assert!(got.len() >= 7 || next == 0);
            seen.extend(got);
            if next == 0 {
                break;
            }
            assert!(next < 1 << 63);
            cursor = next;
        }
        seen.sort();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    }
}
