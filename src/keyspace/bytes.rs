//! `KBytes`: a byte string that keeps up to 22 bytes inline.
//!
//! Most keys and many values are short; storing them inline in the entry
//! saves an allocation and a pointer chase per key, which is how keel stays
//! under Redis's memory per key.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

const INLINE: usize = 22;

#[derive(Clone)]
pub enum KBytes {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl KBytes {
    pub fn new(b: &[u8]) -> Self {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            KBytes::Inline {
                len: b.len() as u8,
                data,
            }
        } else {
            KBytes::Heap(b.into())
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            KBytes::Inline { len, data } => &data[..*len as usize],
            KBytes::Heap(b) => b,
        }
    }

    /// Heap bytes used beyond the struct itself (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            KBytes::Inline { .. } => 0,
            KBytes::Heap(b) => b.len(),
        }
    }
}

impl Deref for KBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for KBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for KBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for KBytes {
    fn eq(&self, o: &Self) -> bool {
        self.as_slice() == o.as_slice()
    }
}
impl Eq for KBytes {}

impl Hash for KBytes {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_slice().hash(h)
    }
}

impl PartialOrd for KBytes {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for KBytes {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(o.as_slice())
    }
}

impl fmt::Debug for KBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

impl From<&[u8]> for KBytes {
    fn from(b: &[u8]) -> Self {
        KBytes::new(b)
    }
}

impl From<&str> for KBytes {
    fn from(s: &str) -> Self {
        KBytes::new(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap() {
        assert_eq!(std::mem::size_of::<KBytes>(), 24);
        let a = KBytes::new(b"short");
        assert!(matches!(a, KBytes::Inline { .. }));
        assert_eq!(&*a, b"short");
        let long = vec![7u8; 100];
        let b = KBytes::new(&long);
        assert!(matches!(b, KBytes::Heap(_)));
        assert_eq!(&*b, &long[..]);
    }
}
