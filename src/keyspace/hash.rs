//! The hash type, with Redis 7.0's two encodings.
//!
//! * `listpack`: field/value pairs in insertion order in one flat buffer
//!   ([`Packed`]), while the hash has at most `hash-max-listpack-entries`
//!   pairs and no field or value longer than `hash-max-listpack-value`.
//! * `hashtable`: an [`IndexMap`] (O(1) lookup and O(1) random access for
//!   HRANDFIELD), used once either threshold is crossed.
//!
//! As in Redis, conversion is one way: a hashtable never turns back into a
//! listpack, however small it becomes. The thresholds are passed in by the
//! caller (from the config) so the type stays pure.

use super::bytes::KBytes;
use super::packed::Packed;
use super::scan_order::scan_range;
use indexmap::IndexMap;

pub type Builder = hashbrown::DefaultHashBuilder;

/// A (field, value) pair borrowed from a hash.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Listpacks larger than this convert (Redis's lpSafeToAdd limit).
const LISTPACK_SAFETY: usize = 1 << 30;

#[derive(Clone, Debug)]
pub enum HashValue {
    Listpack(Packed),
    /// Boxed so a hash is 16 bytes and fits inside a `Value`.
    Table(Box<IndexMap<KBytes, KBytes, Builder>>),
}

/// The thresholds of the listpack encoding (from the config).
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Listpack(Packed::new())
    }
}

impl HashValue {
    pub fn new() -> Self {
        HashValue::default()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashValue::Listpack(p) => p.len() / 2,
            HashValue::Table(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Listpack(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    /// Heap bytes (approximate) for memory accounting.
    pub fn heap_size(&self) -> usize {
        match self {
            HashValue::Listpack(p) => p.heap_size(),
            HashValue::Table(m) => {
                m.capacity() * (std::mem::size_of::<(KBytes, KBytes)>() + 16)
                    + m.iter()
                        .map(|(k, v)| k.heap_size() + v.heap_size())
                        .sum::<usize>()
            }
        }
    }

    /// Offset of the field entry `field` in a listpack.
    fn lp_find(p: &Packed, field: &[u8]) -> Option<(usize, usize)> {
        let mut it = p.iter();
        while let Some((foff, f)) = it.next() {
            let (voff, _) = it.next().expect("pairs");
            if f == field {
                return Some((foff, voff));
            }
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Listpack(p) => {
                let mut it = p.iter();
                while let Some((_, f)) = it.next() {
                    let (_, v) = it.next().expect("pairs");
                    if f == field {
                        return Some(v);
                    }
                }
                None
            }
            HashValue::Table(m) => m.get(field).map(|v| v.as_slice()),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts a listpack to a hashtable (no-op if already one).
    pub fn convert_to_table(&mut self) {
        if let HashValue::Listpack(p) = self {
            let mut m = IndexMap::with_capacity_and_hasher(p.len() / 2, Builder::default());
            let mut it = p.iter();
            while let Some((_, f)) = it.next() {
                let (_, v) = it.next().expect("pairs");
                m.insert(KBytes::new(f), KBytes::new(v));
            }
            *self = HashValue::Table(Box::new(m));
        }
    }

    /// Redis's hashTypeTryConversion: converts before a write whose
    /// arguments are too long for a listpack.
    pub fn try_conversion<'a>(&mut self, args: impl Iterator<Item = &'a [u8]>, lim: HashLimits) {
        if let HashValue::Listpack(p) = self {
            let mut sum = 0;
            for a in args {
                if a.len() > lim.max_value {
                    self.convert_to_table();
                    return;
                }
                sum += a.len();
            }
            if p.heap_size() + sum > LISTPACK_SAFETY {
                self.convert_to_table();
            }
        }
    }

    /// Sets `field` to `value`; true if the field was new. Converts to a
    /// hashtable as Redis's hashTypeSet does.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: HashLimits) -> bool {
        if matches!(self, HashValue::Listpack(_))
            && (field.len() > lim.max_value || value.len() > lim.max_value)
        {
            self.convert_to_table();
        }
        match self {
            HashValue::Listpack(p) => {
                // One walk finds the field or counts the pairs.
                let mut it = p.iter();
                let mut pairs = 0;
                while let Some((_, f)) = it.next() {
                    let (voff, _) = it.next().expect("pairs");
                    if f == field {
                        p.replace(voff, value);
                        return false;
                    }
                    pairs += 1;
                }
                p.insert(p.end(), &[field, value]);
                if pairs + 1 > lim.max_entries {
                    self.convert_to_table();
                }
                true
            }
            HashValue::Table(m) => m.insert(KBytes::new(field), KBytes::new(value)).is_none(),
        }
    }

    /// Removes `field`; true if it existed.
    pub fn delete(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Listpack(p) => match Self::lp_find(p, field) {
                Some((foff, _)) => {
                    p.remove(foff, 2);
                    true
                }
                None => false,
            },
            HashValue::Table(m) => m.swap_remove(field).is_some(),
        }
    }

    /// Every (field, value) pair: insertion order for a listpack.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Pair<'_>> + '_> {
        match self {
            HashValue::Listpack(p) => {
                let mut it = p.iter();
                Box::new(std::iter::from_fn(move || {
                    let (_, f) = it.next()?;
                    let (_, v) = it.next().expect("pairs");
                    Some((f, v))
                }))
            }
            HashValue::Table(m) => Box::new(m.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))),
        }
    }

    /// The pair at position `i` (0 <= i < len).
    pub fn pair_at(&self, i: usize) -> (&[u8], &[u8]) {
        match self {
            HashValue::Listpack(_) => self.iter().nth(i).expect("index in range"),
            HashValue::Table(m) => {
                let (k, v) = m.get_index(i).expect("index in range");
                (k.as_slice(), v.as_slice())
            }
        }
    }

    /// All pairs as a vector (random access for HRANDFIELD on listpacks).
    pub fn pairs(&self) -> Vec<Pair<'_>> {
        self.iter().collect()
    }

    /// Redis's xorObjectDigest for a hash, given the DEBUG DIGEST
    /// primitives (`mix`: d = SHA1(d ^ SHA1(data)); `xor`: d ^= SHA1(data)):
    /// each pair mixes field then value into a zeroed digest, which is
    /// xored into `digest`, so field order does not matter.
    pub fn digest_into(
        &self,
        digest: &mut [u8; 20],
        mix: impl Fn(&mut [u8; 20], &[u8]),
        xor: impl Fn(&mut [u8; 20], &[u8]),
    ) {
        for (f, v) in self.iter() {
            let mut ele = [0u8; 20];
            mix(&mut ele, f);
            mix(&mut ele, v);
            xor(digest, &ele);
        }
    }

    /// One HSCAN step: a listpack returns everything with cursor 0.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<Pair<'_>>, u64) {
        match self {
            HashValue::Listpack(_) => (self.pairs(), 0),
            HashValue::Table(m) => {
                let (r, next) = scan_range(m.len(), cursor, count);
                let pairs = m.get_range(r).expect("in range");
                (
                    pairs
                        .iter()
                        .map(|(k, v)| (k.as_slice(), v.as_slice()))
                        .collect(),
                    next,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: HashLimits = HashLimits {
        max_entries: 4,
        max_value: 8,
    };

    #[test]
    fn compact_header() {
        assert_eq!(std::mem::size_of::<HashValue>(), 16);
        // Strings must not pay for the collections sitting in `Value`.
        assert_eq!(std::mem::size_of::<super::super::Value>(), 24);
    }

    #[test]
    fn listpack_order_and_conversion() {
        let mut h = HashValue::new();
        assert!(h.set(b"b", b"1", LIM));
        assert!(h.set(b"a", b"2", LIM));
        assert!(!h.set(b"b", b"3", LIM));
        assert_eq!(
            h.pairs(),
            vec![(&b"b"[..], &b"3"[..]), (&b"a"[..], &b"2"[..])]
        );
        assert_eq!(h.encoding(), "listpack");
        assert!(h.delete(b"b"));
        assert!(!h.delete(b"b"));
        assert_eq!(h.len(), 1);
        for f in [&b"c"[..], b"d", b"e", b"f"] {
            h.set(f, b"v", LIM);
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
        for f in [&b"a"[..], b"c", b"d", b"e"] {
            h.delete(f);
        }
        assert_eq!(h.encoding(), "hashtable", "no conversion back");
    }

    #[test]
    fn digest_ignores_order_and_encoding() {
        // Stand-ins for SHA1-based mixing: order sensitive vs insensitive.
        let mix = |d: &mut [u8; 20], b: &[u8]| {
            for (i, x) in b.iter().enumerate() {
                d[i % 20] = d[i % 20].rotate_left(3) ^ x;
            }
        };
        let xor = |d: &mut [u8; 20], b: &[u8]| {
            for (i, x) in b.iter().enumerate() {
                d[i % 20] ^= x;
            }
        };
        let mut a = HashValue::new();
        a.set(b"f1", b"v1", LIM);
        a.set(b"f2", b"v2", LIM);
        let mut b = HashValue::new();
        b.set(b"f2", b"v2", LIM);
        b.set(b"f1", b"v1", LIM);
        b.convert_to_table();
        let (mut da, mut db) = ([0u8; 20], [0u8; 20]);
        a.digest_into(&mut da, mix, xor);
        b.digest_into(&mut db, mix, xor);
        assert_eq!(da, db);
        assert_ne!(da, [0u8; 20]);
    }

    #[test]
    fn long_values_convert() {
        let mut h = HashValue::new();
        h.set(b"f", b"123456789", LIM);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::new();
        h.try_conversion([&b"f"[..], b"123456789"].into_iter(), LIM);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn table_scan_covers_all() {
        let mut h = HashValue::new();
        h.convert_to_table();
        for i in 0..100 {
            h.set(format!("f{i}").as_bytes(), b"v", LIM);
        }
        let (mut cursor, mut n) = (0, 0);
        loop {
            let (got, next) = h.scan(cursor, 10);
            n += got.len();
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(n, 100);
    }
}
