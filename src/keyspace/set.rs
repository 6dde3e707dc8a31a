//! The set type, with Redis 7.0's two encodings (listpack sets arrived
//! only in 7.2):
//!
//! * `intset`: a sorted array of integers ([`IntSet`]) while every member
//!   is an integer (string2ll rules) and there are at most
//!   `set-max-intset-entries` members (capped at 2^30 as in Redis).
//! * `hashtable`: an [`IndexSet`] (O(1) membership and O(1) random access
//!   for SPOP/SRANDMEMBER).
//!
//! Conversion is one way, as in Redis. A new set starts as an intset only
//! if its first member is an integer ([`SetValue::for_member`]).

use super::bytes::KBytes;
use super::intset::IntSet;
use super::scan_order::scan_range;
use crate::util::num::parse_i64;
use indexmap::IndexSet;
use std::borrow::Cow;

pub type Builder = hashbrown::DefaultHashBuilder;

#[derive(Clone, Debug)]
pub enum SetValue {
    Intset(IntSet),
    /// Boxed so a set is 16 bytes and fits inside a `Value`.
    Table(Box<IndexSet<KBytes, Builder>>),
}

fn int_bytes(n: i64) -> Cow<'static, [u8]> {
    Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec())
}

impl SetValue {
    /// An empty intset (Redis's createIntsetObject).
    pub fn new_intset() -> Self {
        SetValue::Intset(IntSet::new())
    }

    /// An empty hashtable set.
    pub fn new_table() -> Self {
        SetValue::Table(Box::default())
    }

    /// Redis's setTypeCreate: the encoding a set created for `first` gets.
    pub fn for_member(first: &[u8]) -> Self {
        if parse_i64(first).is_some() {
            Self::new_intset()
        } else {
            Self::new_table()
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Intset(s) => s.len(),
            SetValue::Table(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Intset(s) => s.heap_size(),
            SetValue::Table(s) => {
                s.capacity() * (std::mem::size_of::<KBytes>() + 16)
                    + s.iter().map(|k| k.heap_size()).sum::<usize>()
            }
        }
    }

    pub fn convert_to_table(&mut self) {
        if let SetValue::Intset(s) = self {
            let mut t = IndexSet::with_capacity_and_hasher(s.len(), Builder::default());
            for n in s.iter() {
                t.insert(KBytes::new(itoa::Buffer::new().format(n).as_bytes()));
            }
            *self = SetValue::Table(Box::new(t));
        }
    }

    /// Adds a member; true if it was new (Redis's setTypeAdd).
    pub fn add(&mut self, member: &[u8], max_intset_entries: usize) -> bool {
        match self {
            SetValue::Intset(s) => match parse_i64(member) {
                Some(n) => {
                    if !s.insert(n) {
                        return false;
                    }
                    if s.len() > max_intset_entries.min(1 << 30) {
                        self.convert_to_table();
                    }
                    true
                }
                None => {
                    self.convert_to_table();
                    self.add(member, max_intset_entries)
                }
            },
            SetValue::Table(t) => t.insert(KBytes::new(member)),
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(s) => parse_i64(member).is_some_and(|n| s.remove(n)),
            SetValue::Table(t) => t.swap_remove(member),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(s) => parse_i64(member).is_some_and(|n| s.contains(n)),
            SetValue::Table(t) => t.contains(member),
        }
    }

    /// The member at position `i` (0 <= i < len): ascending for an intset.
    pub fn member_at(&self, i: usize) -> Cow<'_, [u8]> {
        match self {
            SetValue::Intset(s) => int_bytes(s.get(i).expect("index in range")),
            SetValue::Table(t) => Cow::Borrowed(t.get_index(i).expect("index in range").as_slice()),
        }
    }

    /// Every member: ascending for an intset.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + '_> {
        match self {
            SetValue::Intset(s) => Box::new(s.iter().map(|n| -> Cow<'_, [u8]> { int_bytes(n) })),
            SetValue::Table(t) => Box::new(t.iter().map(|k| Cow::Borrowed(k.as_slice()))),
        }
    }

    /// Redis's xorObjectDigest for a set, given DEBUG DIGEST's `xor`
    /// primitive (d ^= SHA1(data)): every member is xored in.
    pub fn digest_into(&self, digest: &mut [u8; 20], xor: impl Fn(&mut [u8; 20], &[u8])) {
        for m in self.iter() {
            xor(digest, &m);
        }
    }

    /// One SSCAN step: an intset returns everything with cursor 0.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<Cow<'_, [u8]>>, u64) {
        match self {
            SetValue::Intset(_) => (self.iter().collect(), 0),
            SetValue::Table(t) => {
                let (r, next) = scan_range(t.len(), cursor, count);
                let members = t.get_range(r).expect("in range");
                (
                    members
                        .iter()
                        .map(|k| Cow::Borrowed(k.as_slice()))
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

    #[test]
    fn compact_header() {
        assert_eq!(std::mem::size_of::<SetValue>(), 16);
    }

    #[test]
    fn intset_until_threshold_or_string() {
        let mut s = SetValue::for_member(b"3");
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"3", 4));
        assert!(s.add(b"-1", 4));
        assert!(!s.add(b"3", 4));
        assert!(!s.contains(b"03"), "not canonical: not an integer member");
        assert!(s.add(b"03", 4));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"03") && s.contains(b"3"));

        let mut s = SetValue::new_intset();
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), 4);
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(
            s.iter().map(|c| c.into_owned()).collect::<Vec<_>>()[0],
            b"0"
        );
        s.add(b"9", 4);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(SetValue::for_member(b"x").encoding(), "hashtable");
    }

    #[test]
    fn remove_and_member_at() {
        let mut s = SetValue::new_intset();
        for m in [&b"5"[..], b"1", b"3"] {
            s.add(m, 10);
        }
        assert_eq!(&*s.member_at(0), b"1");
        assert!(s.remove(b"1"));
        assert!(!s.remove(b"x"));
        assert_eq!(s.len(), 2);
        s.convert_to_table();
        assert!(s.remove(b"5"));
        assert!(s.contains(b"3"));
        assert_eq!(&*s.member_at(0), b"3");
    }
}
