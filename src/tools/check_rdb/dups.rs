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

/// The check's duplicate finder: each key's 64-bit hash and packed
/// db + offset are appended to one of 4096 buckets (by the hash's top
/// bits) as keys arrive; at the end every bucket, small enough to stay in
/// cache, goes through a little open-addressing table. Equal hashes are
/// confirmed by reading both keys back from the file. Linear time, and no
/// random access into a table of millions of entries.
pub struct DupScan<'a> {
    data: &'a [u8],
    hasher: Hasher,
    /// (hash of db and key, db << 48 | offset of the key's name).
    buckets: Vec<Vec<(u64, u64)>>,
}

/// The key hash of [`DupScan`] (foldhash); threads share clones of one
/// instance so that they compute the same hashes.
pub type Hasher = hashbrown::DefaultHashBuilder;

/// Offsets fit in 48 bits (256 TB files); the db goes above them.
const OFF_BITS: u32 = 48;
const OFF_MASK: u64 = (1 << OFF_BITS) - 1;
const BUCKET_BITS: u32 = 12;

/// A duplicate: (db, key, offset of the first copy's name, offset of the
/// duplicate's name).
pub type Duplicate = (u64, Vec<u8>, u64, u64);

impl<'a> DupScan<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        DupScan {
            data,
            hasher: Hasher::default(),
            buckets: vec![Vec::new(); 1 << BUCKET_BITS],
        }
    }

    /// A db and a key-name offset in one word, for [`DupScan::add_packed`].
    pub fn pack(db: u64, off: u64) -> u64 {
        (db.min(0xffff) << OFF_BITS) | off
    }

    /// Room for `n` more keys (a RESIZEDB hint; capped so that a damaged
    /// hint cannot reserve much).
    pub fn reserve(&mut self, n: u64) {
        let per = (n.min(1 << 30) as usize >> BUCKET_BITS) * 9 / 8 + 1;
        for b in &mut self.buckets {
            b.reserve(per);
        }
    }

    fn push(&mut self, h: u64, packed: u64) {
        self.buckets[(h >> (64 - BUCKET_BITS)) as usize].push((h, packed));
    }

    /// A scan hashing with (a clone of) `hasher`.
    pub fn with_hasher(data: &'a [u8], hasher: Hasher) -> Self {
        DupScan {
            hasher,
            ..DupScan::new(data)
        }
    }

    /// (hash, packed db + offset) of `key` of `db` named at `off`, for
    /// [`DupScan::add_hashed`].
    pub fn hashed(hasher: &Hasher, db: u64, key: &[u8], off: u64) -> (u64, u64) {
        (hasher.hash_one((db, key)), Self::pack(db, off))
    }

    /// Notes a key hashed by [`DupScan::hashed`].
    pub fn add_hashed(&mut self, h: u64, packed: u64) {
        self.push(h, packed);
    }

    /// Notes the key whose name is at the packed offset (read back from
    /// the file: the walking thread only sends offsets).
    pub fn add_packed(&mut self, packed: u64) {
        let mut r = Reader::new(self.data);
        if r.bytes(packed & OFF_MASK).is_err() {
            return;
        }
        if let Ok(key) = r.string() {
            let h = self.hasher.hash_one((packed >> OFF_BITS, &*key));
            self.push(h, packed);
        }
    }

    /// Notes `key` of `db`, its name at offset `off`.
    pub fn add(&mut self, db: u64, key: &[u8], off: u64) {
        let h = self.hasher.hash_one((db, key));
        self.push(h, Self::pack(db, off));
    }

    fn key_at(&self, off: u64) -> Option<Vec<u8>> {
        let mut r = Reader::new(self.data);
        r.bytes(off).ok()?;
        r.string().ok().map(|k| k.into_owned())
    }

    /// The duplicate that comes first in the file.
    pub fn first_duplicate(self) -> Option<Duplicate> {
        let mut best: Option<Duplicate> = None;
        let mut table: Vec<u32> = Vec::new();
        for bucket in &self.buckets {
            let size = (bucket.len() * 2).next_power_of_two().max(2);
            let mask = size - 1;
            table.clear();
            table.resize(size, u32::MAX);
            for (i, &(h, later)) in bucket.iter().enumerate() {
                let mut slot = h as usize & mask;
                loop {
                    let j = table[slot];
                    if j == u32::MAX {
                        table[slot] = i as u32;
                        break;
                    }
                    let (h0, first) = bucket[j as usize];
                    if h0 == h && first >> OFF_BITS == later >> OFF_BITS {
                        if let Some(d) = self.confirm(first, later) {
                            if best.as_ref().is_none_or(|b| d.3 < b.3) {
                                best = Some(d);
                            }
                            break;
                        }
                    }
                    slot = (slot + 1) & mask;
                }
            }
        }
        best
    }

    /// Both packed entries name the same key: the duplicate, ordered.
    fn confirm(&self, a: u64, b: u64) -> Option<Duplicate> {
        let ka = self.key_at(a & OFF_MASK)?;
        if self.key_at(b & OFF_MASK)? != ka {
            return None;
        }
        let (first, dup) = if a & OFF_MASK < b & OFF_MASK {
            (a, b)
        } else {
            (b, a)
        };
        Some((first >> OFF_BITS, ka, first & OFF_MASK, dup & OFF_MASK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_the_earliest_duplicate() {
        // Names at 0 "ab", 3 "cd", 6 "ab", 9 "cd".
        let data = b"\x02ab\x02cd\x02ab\x02cd";
        let mut d = DupScan::new(data);
        d.add(0, b"ab", 0);
        d.add(0, b"cd", 3);
        d.add(1, b"ab", 6);
        assert_eq!(d.first_duplicate(), None);
        let mut d = DupScan::new(data);
        d.add(0, b"ab", 0);
        d.add(0, b"cd", 3);
        d.add(0, b"cd", 9);
        d.add(0, b"ab", 6);
        assert_eq!(d.first_duplicate(), Some((0, b"ab".to_vec(), 0, 6)));
    }

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
