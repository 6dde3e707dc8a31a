//! Duplicate-key detection for files far larger than memory would allow
//! if every key were kept: per database, a 64-bit hash of each key maps to
//! the file offset of that key's name. A hash hit is confirmed by reading
//! the earlier key back from the file (so the answer is exact), and the
//! rare keys whose hash collides with a different key go to an exact map.
//!
//! Redis's server panics on a duplicate key ("Duplicated key found in RDB
//! file") while redis-check-rdb does not look for them; keel-check-rdb
//! reports them, and salvage keeps the first copy.

use crate::persistence::rdb::Reader;
use hashbrown::HashMap;
use std::hash::BuildHasher;

pub struct Dups<'a> {
    data: &'a [u8],
    hasher: hashbrown::DefaultHashBuilder,
    /// (db, hash of the key) -> offset of the key's name in `data`.
    first: HashMap<(u64, u64), u64>,
    /// Keys whose hash collided with a different key.
    exact: HashMap<(u64, Vec<u8>), u64>,
}

impl<'a> Dups<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Dups {
            data,
            hasher: hashbrown::DefaultHashBuilder::default(),
            first: HashMap::new(),
            exact: HashMap::new(),
        }
    }

    /// Room for `n` more keys (the RESIZEDB hint).
    pub fn reserve(&mut self, n: u64) {
        self.first.reserve(n.min(1 << 28) as usize);
    }

    fn key_at(&self, off: u64) -> Option<Vec<u8>> {
        let mut r = Reader::new(self.data);
        r.bytes(off).ok()?;
        r.string().ok().map(|k| k.into_owned())
    }

    /// True if `key` was already seen in `db` (without recording it).
    pub fn contains(&self, db: u64, key: &[u8]) -> bool {
        self.first_offset(db, key).is_some()
    }

    /// The offset of `key`'s first occurrence in `db`, if any.
    pub fn first_offset(&self, db: u64, key: &[u8]) -> Option<u64> {
        let h = self.hasher.hash_one(key);
        let off = *self.first.get(&(db, h))?;
        if self.key_at(off).as_deref() == Some(key) {
            return Some(off);
        }
        self.exact.get(&(db, key.to_vec())).copied()
    }

    /// Records `key` (its name starts at `off`); returns the offset of an
    /// earlier copy if it is a duplicate.
    pub fn insert(&mut self, db: u64, key: &[u8], off: u64) -> Option<u64> {
        let h = self.hasher.hash_one(key);
        match self.first.entry((db, h)) {
            hashbrown::hash_map::Entry::Vacant(v) => {
                v.insert(off);
                None
            }
            hashbrown::hash_map::Entry::Occupied(o) => {
                let prev = *o.get();
                if self.key_at(prev).as_deref() == Some(key) {
                    return Some(prev);
                }
                match self.exact.entry((db, key.to_vec())) {
                    hashbrown::hash_map::Entry::Occupied(o) => Some(*o.get()),
                    hashbrown::hash_map::Entry::Vacant(v) => {
                        v.insert(off);
                        None
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates_per_db() {
        // Key names at offsets 0, 4, 8: "ab", "cd", "ab".
        let data = b"\x02ab\x00\x02cd\x00\x02ab";
        let mut d = Dups::new(data);
        assert_eq!(d.insert(0, b"ab", 0), None);
        assert_eq!(d.insert(0, b"cd", 4), None);
        assert_eq!(d.insert(1, b"ab", 8), None, "another db");
        assert_eq!(d.insert(0, b"ab", 8), Some(0));
        assert!(d.contains(0, b"cd"));
        assert!(!d.contains(2, b"cd"));
        assert_eq!(d.first_offset(1, b"ab"), Some(8));
    }

    #[test]
    fn hash_collisions_stay_exact() {
        let data = b"\x02ab\x02cd";
        let mut d = Dups::new(data);
        // Force a collision: record "cd" under the hash of "ab".
        let h = d.hasher.hash_one(&b"ab"[..]);
        d.first.insert((0, h), 3);
        assert_eq!(d.insert(0, b"ab", 0), None);
        assert_eq!(d.insert(0, b"ab", 0), Some(0));
        assert!(d.contains(0, b"ab"));
    }
}
