//! The cursor of HSCAN/SSCAN over a hashtable-encoded collection.
//!
//! Redis's guarantee: an element present from the start to the end of a
//! full scan is returned at least once, whatever is added or removed in
//! between. keel's hashtables are insertion-indexed maps (`IndexMap`,
//! `IndexSet`) whose only moves are: new elements are appended at the end,
//! and a removal moves the *last* element down into the hole. Elements
//! therefore only ever move to lower positions.
//!
//! So a scan walks positions from the top down: the cursor is the number
//! of positions still to visit (cursor 0 starts at the current length).
//! An element not yet visited sits below the cursor and can only move
//! further down, so it is still ahead; an element moving from the visited
//! region into the unvisited one is merely returned twice, which SCAN
//! allows. Each call costs O(COUNT), like Redis's.

use std::ops::Range;

/// Positions to return for one SCAN call over `len` elements, and the
/// cursor to hand back (0 when the scan is complete).
pub fn scan_range(len: usize, cursor: u64, count: usize) -> (Range<usize>, u64) {
    let top = if cursor == 0 {
        len
    } else {
        usize::try_from(cursor).unwrap_or(usize::MAX).min(len)
    };
    let bottom = top.saturating_sub(count.max(1));
    (bottom..top, bottom as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexSet;

    #[test]
    fn every_element_present_throughout_is_returned() {
        // Remove and add elements between calls, as SSCAN under writes.
        let mut set: IndexSet<u32> = (0..1000).collect();
        let stable: Vec<u32> = (0..1000).filter(|i| i % 3 == 0).collect();
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut next_new = 1000;
        loop {
            let (r, next) = scan_range(set.len(), cursor, 7);
            for i in r {
                seen.insert(*set.get_index(i).unwrap());
            }
            // Churn: drop some unstable members, add new ones.
            for _ in 0..3 {
                if let Some(&x) = set.iter().find(|x| **x % 3 != 0) {
                    set.swap_remove(&x);
                }
                set.insert(next_new);
                next_new += 1;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for s in stable {
            assert!(seen.contains(&s), "{s} missed");
        }
    }

    #[test]
    fn cursor_clamps_to_length() {
        assert_eq!(scan_range(10, 0, 4), (6..10, 6));
        assert_eq!(scan_range(10, 3, 4), (0..3, 0));
        assert_eq!(scan_range(10, 500, 4), (6..10, 6));
        assert_eq!(scan_range(10, u64::MAX, 100), (0..10, 0));
    }
}
