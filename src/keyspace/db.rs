//! One database: keys indexed by hash slot.
//!
//! Each of the 16384 slots has its own hash table of boxed entries, so
//! counting or listing the keys of a slot (CLUSTER COUNTKEYSINSLOT,
//! GETKEYSINSLOT, resharding) touches only that slot, and SCAN can return
//! whole slots, which gives Redis's guarantee that a key present for the
//! whole iteration is returned at least once, whatever resizes happen.
//!
//! Keys with a TTL are also kept in `expires`, an index that supports
//! random sampling for active expiry and volatile eviction. Expiry time is
//! stored in the entry itself; `expires` only names the keys.
//!
//! This layer knows nothing about time or propagation: lazy expiry, stats
//! and keyspace notifications live in the command context.

use super::bytes::KBytes;
use super::slot::{key_slot, SLOTS};
use super::value::Value;
use hashbrown::HashTable;
use indexmap::IndexSet;
use rand::Rng;
use std::hash::BuildHasher;

/// No expiry.
pub const NO_EXPIRE: i64 = -1;

#[derive(Debug)]
pub struct Entry {
    pub key: KBytes,
    pub value: Value,
    /// Absolute expiry in unix milliseconds, or [`NO_EXPIRE`].
    pub expire: i64,
    /// LRU clock (seconds, 24 bits like Redis) or LFU data (16-bit minutes
    /// + 8-bit counter), depending on maxmemory-policy.
    pub lru: u32,
}

type Table = HashTable<Box<Entry>>;

/// The per-slot tables of a database, created as slots get their first
/// key, so that memory follows use (maxmemory tests add ~100 KiB of keys
/// to an empty database): the index (32 KiB) is allocated with the first
/// table, and tables live in fixed chunks of 32 that never move, so growth
/// never reallocates (and briefly doubles) what is already there. The
/// index is a single level so that a lookup has one dependent load less.
#[derive(Default)]
struct SlotTables {
    /// For each slot, 1 + its table's number (0: no table); empty until
    /// the first table exists.
    index: Vec<u16>,
    // Boxed on purpose: a chunk never moves when the Vec grows.
    #[allow(clippy::vec_box)]
    chunks: Vec<Box<[Table; CHUNK]>>,
    /// Tables handed out so far.
    count: usize,
}

const CHUNK: usize = 32;

impl SlotTables {
    fn at(&self, n: u16) -> &Table {
        let n = n as usize - 1;
        &self.chunks[n / CHUNK][n % CHUNK]
    }

    fn at_mut(&mut self, n: u16) -> &mut Table {
        let n = n as usize - 1;
        &mut self.chunks[n / CHUNK][n % CHUNK]
    }

    /// The table number of a slot (0: none).
    fn number(&self, slot: usize) -> u16 {
        self.index.get(slot).copied().unwrap_or(0)
    }

    fn get(&self, slot: usize) -> Option<&Table> {
        match self.number(slot) {
            0 => None,
            n => Some(self.at(n)),
        }
    }

    fn get_mut(&mut self, slot: usize) -> Option<&mut Table> {
        match self.number(slot) {
            0 => None,
            n => Some(self.at_mut(n)),
        }
    }

    fn get_or_create(&mut self, slot: usize) -> &mut Table {
        let mut n = self.number(slot);
        if n == 0 {
            if self.index.is_empty() {
                self.index = vec![0; SLOTS];
            }
            if self.count.is_multiple_of(CHUNK) {
                self.chunks
                    .push(Box::new(std::array::from_fn(|_| Table::new())));
            }
            self.count += 1;
            // At most 16384 tables, so the number fits in a u16.
            n = self.count as u16;
            self.index[slot] = n;
        }
        self.at_mut(n)
    }

    /// Every table, in no particular order.
    #[cfg(test)]
    fn tables(&self) -> impl Iterator<Item = &Table> {
        self.chunks.iter().flat_map(|c| c.iter()).take(self.count)
    }

    fn tables_mut(&mut self) -> impl Iterator<Item = &mut Table> {
        let count = self.count;
        self.chunks
            .iter_mut()
            .flat_map(|c| c.iter_mut())
            .take(count)
    }

    /// The n-th table (0-based) for random picks.
    fn nth(&self, n: usize) -> &Table {
        &self.chunks[n / CHUNK][n % CHUNK]
    }

    /// The tables in slot order.
    fn in_slot_order(&self) -> impl Iterator<Item = &Table> {
        self.index.iter().filter(|&&n| n != 0).map(|&n| self.at(n))
    }
}

/// Where a key lives: its hash and slot (see [`Db::locate`]).
#[derive(Clone, Copy, Debug)]
pub struct KeyLoc {
    pub hash: u64,
    pub slot: usize,
}

pub struct Db {
    /// One table per slot; empty until the first key is stored.
    slots: SlotTables,
    len: usize,
    pub expires: IndexSet<KBytes, hashbrown::DefaultHashBuilder>,
    hasher: hashbrown::DefaultHashBuilder,
    /// Running estimate of the average TTL (INFO keyspace avg_ttl).
    pub avg_ttl: i64,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

impl Db {
    pub fn new() -> Self {
        Db {
            slots: SlotTables::default(),
            len: 0,
            expires: IndexSet::default(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            avg_ttl: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Hash and slot of a key, computed once for several probes.
    pub fn locate(&self, key: &[u8]) -> KeyLoc {
        KeyLoc {
            hash: self.hash(key),
            slot: key_slot(key),
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        self.get_at(self.locate(key), key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if self.len == 0 {
            return None;
        }
        self.get_mut_at(self.locate(key), key)
    }

    pub fn get_at(&self, loc: KeyLoc, key: &[u8]) -> Option<&Entry> {
        self.slots
            .get(loc.slot)?
            .find(loc.hash, |e| &*e.key == key)
            .map(|b| &**b)
    }

    pub fn get_mut_at(&mut self, loc: KeyLoc, key: &[u8]) -> Option<&mut Entry> {
        self.slots
            .get_mut(loc.slot)?
            .find_mut(loc.hash, |e| &*e.key == key)
            .map(|b| &mut **b)
    }

    /// Loads into the CPU cache what looking `keys` up will read (slot
    /// table header, control bytes, entry), a group of keys at a time and
    /// one step for the whole group before the next, so that the cache
    /// misses of the keys of a pipelined batch (or of a batch of keys an
    /// RDB load is about to store) overlap instead of stalling each
    /// command in turn. Only reads; the result is thrown away.
    pub fn warm<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) {
        const GROUP: usize = 16;
        if self.len == 0 {
            return;
        }
        let mut keys = keys.peekable();
        let mut sum = 0usize;
        while keys.peek().is_some() {
            let mut found: [Option<(&Table, u64, &[u8])>; GROUP] = [None; GROUP];
            for (slot, key) in found.iter_mut().zip(keys.by_ref()) {
                let loc = self.locate(key);
                *slot = self.slots.get(loc.slot).map(|t| (t, loc.hash, key));
            }
            // The table headers first (independent loads), then the probes.
            for (t, _, _) in found.iter().flatten() {
                sum = sum.wrapping_add(t.len());
            }
            for (t, hash, key) in found.iter().flatten() {
                if let Some(e) = t.find(*hash, |e| &*e.key == *key) {
                    sum = sum.wrapping_add(e.lru as usize);
                }
            }
        }
        std::hint::black_box(sum);
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Stores `value` under `key`. An existing key keeps its expiry only if
    /// `keep_ttl`; its LRU is reset. Returns true if the key was new.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool, lru: u32) -> bool {
        let loc = self.locate(key);
        self.set_at(loc, key, value, keep_ttl, lru).is_none()
    }

    /// [`Db::set`] with the key's location already computed; returns the
    /// value it replaced (None: the key is new).
    pub fn set_at(
        &mut self,
        loc: KeyLoc,
        key: &[u8],
        value: Value,
        keep_ttl: bool,
        lru: u32,
    ) -> Option<Value> {
        // One probe for both outcomes.
        let h = loc.hash;
        let hasher = &self.hasher;
        let table = self.slots.get_or_create(loc.slot);
        match table.entry(h, |e| &*e.key == key, |e| hasher.hash_one(&*e.key)) {
            hashbrown::hash_table::Entry::Occupied(mut occ) => {
                let e = occ.get_mut();
                let old = std::mem::replace(&mut e.value, value);
                e.lru = lru;
                if !keep_ttl && e.expire != NO_EXPIRE {
                    e.expire = NO_EXPIRE;
                    self.expires.swap_remove(key);
                }
                Some(old)
            }
            hashbrown::hash_table::Entry::Vacant(vac) => {
                vac.insert(Box::new(Entry {
                    key: KBytes::new(key),
                    value,
                    expire: NO_EXPIRE,
                    lru,
                }));
                self.len += 1;
                None
            }
        }
    }

    /// Inserts an entry whose key must not exist yet.
    pub fn insert_new(&mut self, entry: Entry) {
        if entry.expire != NO_EXPIRE {
            self.expires.insert(entry.key.clone());
        }
        let h = self.hash(&entry.key);
        let hasher = &self.hasher;
        let slot = key_slot(&entry.key);
        self.slots
            .get_or_create(slot)
            .insert_unique(h, Box::new(entry), |e| hasher.hash_one(&*e.key));
        self.len += 1;
    }

    /// Inserts an entry unless its key exists, with one hash and one
    /// probe (loading: a duplicate is an error or a replacement, decided
    /// by the caller). Gives the entry back when the key is present.
    pub fn insert_if_absent(&mut self, entry: Entry) -> Result<(), Entry> {
        let h = self.hash(&entry.key);
        let slot = key_slot(&entry.key);
        let hasher = &self.hasher;
        let table = self.slots.get_or_create(slot);
        match table.entry(h, |e| e.key == entry.key, |e| hasher.hash_one(&*e.key)) {
            hashbrown::hash_table::Entry::Occupied(_) => return Err(entry),
            hashbrown::hash_table::Entry::Vacant(vac) => {
                if entry.expire != NO_EXPIRE {
                    self.expires.insert(entry.key.clone());
                }
                vac.insert(Box::new(entry));
            }
        }
        self.len += 1;
        Ok(())
    }

    /// Sizes the tables for about `keys` more keys (`expires` of them with
    /// a TTL), as Redis expands its dicts on the RDB's RESIZEDB hint. Each
    /// slot table gets room for a conservative share (the mean less three
    /// standard deviations of a uniform spread), so a slot never holds
    /// more buckets than it would have grown to by itself.
    pub fn reserve(&mut self, keys: usize, expires: usize) {
        self.expires.reserve(expires);
        let mean = keys / SLOTS;
        // Below a few keys per slot, many slots stay empty: no tables.
        if mean < 8 {
            return;
        }
        let share = mean - 3 * (mean as f64).sqrt() as usize;
        let hasher = &self.hasher;
        for slot in 0..SLOTS {
            self.slots
                .get_or_create(slot)
                .reserve(share, |e| hasher.hash_one(&*e.key));
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Box<Entry>> {
        if self.len == 0 {
            return None;
        }
        let h = self.hash(key);
        let slot = key_slot(key);
        let table = self.slots.get_mut(slot)?;
        let entry = match table.find_entry(h, |e| &*e.key == key) {
            Ok(occ) => occ.remove().0,
            Err(_) => return None,
        };
        // Give memory back when a table is empty or mostly empty, as Redis
        // shrinks its dicts below 10% fill.
        if table.is_empty() {
            *table = Table::new();
        } else if table.capacity() > 64 && table.len() * 8 < table.capacity() {
            let hasher = &self.hasher;
            table.shrink_to(table.len() * 2, |e| hasher.hash_one(&*e.key));
        }
        self.len -= 1;
        if entry.expire != NO_EXPIRE {
            self.expires.swap_remove(key);
            if self.expires.capacity() > 64 && self.expires.len() * 8 < self.expires.capacity() {
                self.expires.shrink_to(self.expires.len() * 2);
            }
        }
        Some(entry)
    }

    /// Sets an absolute expiry (ms) on an existing key.
    pub fn set_expire(&mut self, key: &[u8], when: i64) -> bool {
        let Some(e) = self.get_mut(key) else {
            return false;
        };
        let had = e.expire != NO_EXPIRE;
        e.expire = when;
        if !had {
            self.expires.insert(KBytes::new(key));
        }
        true
    }

    /// Removes the expiry of a key; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let Some(e) = self.get_mut(key) else {
            return false;
        };
        if e.expire == NO_EXPIRE {
            return false;
        }
        e.expire = NO_EXPIRE;
        self.expires.swap_remove(key);
        true
    }

    pub fn expire_of(&self, key: &[u8]) -> Option<i64> {
        self.get(key).map(|e| e.expire)
    }

    /// Drops every key.
    pub fn clear(&mut self) {
        self.slots = SlotTables::default();
        self.len = 0;
        self.expires = IndexSet::default();
        self.avg_ttl = 0;
    }

    pub fn count_in_slot(&self, slot: usize) -> usize {
        self.slots.get(slot).map_or(0, |t| t.len())
    }

    pub fn slot_entries(&self, slot: usize) -> impl Iterator<Item = &Entry> {
        self.slots
            .get(slot)
            .into_iter()
            .flat_map(|t| t.iter().map(|b| &**b))
    }

    /// Every entry, slot by slot.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slots
            .in_slot_order()
            .flat_map(|t| t.iter().map(|b| &**b))
    }

    /// Calls `f` on whole slots starting at `cursor` until at least `count`
    /// entries were visited. Returns the next cursor, 0 when done.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&Entry)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mut slot = cursor as usize;
        let mut seen = 0;
        while slot < SLOTS && seen < count.max(1) {
            for e in self.slots.get(slot).into_iter().flat_map(|t| t.iter()) {
                f(e);
                seen += 1;
            }
            slot += 1;
        }
        if slot >= SLOTS {
            0
        } else {
            slot as u64
        }
    }

    /// A random key, or None if the database is empty.
    pub fn random_entry(&self) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        let mut rng = rand::thread_rng();
        let count = self.slots.count;
        let start = rng.gen_range(0..count);
        for i in 0..count {
            let t = self.slots.nth((start + i) % count);
            if !t.is_empty() {
                let n = rng.gen_range(0..t.len());
                return t.iter().nth(n).map(|b| &**b);
            }
        }
        None
    }

    /// A random key that has an expiry.
    pub fn random_volatile_key(&self) -> Option<&KBytes> {
        if self.expires.is_empty() {
            return None;
        }
        let i = rand::thread_rng().gen_range(0..self.expires.len());
        self.expires.get_index(i)
    }

    /// Expiring key at position `i` of the expires index.
    pub fn volatile_key_at(&self, i: usize) -> Option<&KBytes> {
        self.expires.get_index(i)
    }

    /// Mutable access to every entry (used by DEBUG and LFU decay).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut Entry)) {
        for t in self.slots.tables_mut() {
            for e in t.iter_mut() {
                f(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_remove_expire() {
        let mut db = Db::new();
        assert!(db.set(b"a", Value::string(b"1"), false, 0));
        assert!(!db.set(b"a", Value::string(b"2"), false, 0));
        assert_eq!(db.len(), 1);
        assert!(db.set_expire(b"a", 1000));
        assert_eq!(db.expires_len(), 1);
        db.set(b"a", Value::string(b"3"), false, 0);
        assert_eq!(db.expires_len(), 0);
        db.set_expire(b"a", 1000);
        assert!(db.remove(b"a").is_some());
        assert_eq!(db.expires_len(), 0);
        assert!(db.is_empty());
    }

    #[test]
    fn scan_visits_everything_once() {
        let mut db = Db::new();
        for i in 0..1000 {
            db.set(format!("k{i}").as_bytes(), Value::Int(i), false, 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut c = 0;
        loop {
            c = db.scan(c, 10, |e| {
                assert!(seen.insert(e.key.clone()));
            });
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        let slot = key_slot(b"k1");
        assert!(db.slot_entries(slot).any(|e| &*e.key == b"k1"));
        assert_eq!(db.slot_entries(slot).count(), db.count_in_slot(slot));
    }

    #[test]
    fn slot_tables_are_created_on_use() {
        let mut db = Db::new();
        assert!(db.slots.count == 0 && db.slots.index.is_empty());
        db.set(b"{a}1", Value::Int(1), false, 0);
        db.set(b"{a}2", Value::Int(2), false, 0);
        db.set(b"b", Value::Int(3), false, 0);
        assert_eq!(db.slots.count, 2);
        assert_eq!(db.slots.tables().count(), 2);
        assert_eq!(db.count_in_slot(key_slot(b"a")), 2);
        assert_eq!(db.iter().count(), 3);
        assert!(db.random_entry().is_some());
        db.clear();
        assert!(db.slots.count == 0);
    }

    #[test]
    fn warm_reads_only() {
        let mut db = Db::new();
        let keys: Vec<Vec<u8>> = (0..40).map(|i| format!("k{i}").into_bytes()).collect();
        db.warm(keys.iter().map(|k| &k[..]));
        for k in &keys[..20] {
            db.set(k, Value::Int(1), false, 7);
        }
        db.warm(keys.iter().map(|k| &k[..]));
        assert_eq!(db.len(), 20);
        assert!(db.iter().all(|e| e.lru == 7));
    }

    #[test]
    fn entry_is_compact() {
        // Entry must fit jemalloc's 64-byte class; see the module docs.
        assert!(
            std::mem::size_of::<Entry>() <= 64,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }
}
