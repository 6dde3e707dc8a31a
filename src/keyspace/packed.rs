//! `Packed`: a list of byte strings in one flat buffer, keel's stand-in for
//! Redis's listpack as used by small hashes.
//!
//! Each entry is a LEB128 length followed by its bytes. Like a listpack it
//! costs one allocation for the whole collection, keeps insertion order
//! (so HGETALL on a small hash answers in Redis's order), and is searched
//! linearly, which is fast at the sizes the `*-max-listpack-*` thresholds
//! allow. The buffer is a boxed slice resized exactly on each change (as
//! Redis reallocates a listpack), so it carries no spare capacity, and it
//! holds the entries alone (no count header).

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    /// The entries, nothing else: a boxed slice (no spare capacity) keeps
    /// the header at 16 bytes, and the entry count is not stored (it is
    /// counted when needed: these lists are short), so a hash of ten short
    /// pairs fits a smaller allocator size class.
    buf: Box<[u8]>,
}

/// Decodes the entry starting at `off`: (bytes start, bytes end).
fn entry_bounds(buf: &[u8], mut off: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[off];
        off += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (off, off + n)
}

fn encode_len(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn encode(b: &[u8]) -> Vec<u8> {
    let mut enc = Vec::with_capacity(b.len() + 3);
    encode_len(b.len(), &mut enc);
    enc.extend_from_slice(b);
    enc
}

impl Packed {
    pub fn new() -> Self {
        Packed::default()
    }

    /// Number of entries (counted: O(n)).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes used by the buffer (for memory accounting).
    pub fn heap_size(&self) -> usize {
        self.buf.len()
    }

    /// Edits the buffer as a Vec, then stores it back without spare room.
    fn edit(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        let mut v = std::mem::take(&mut self.buf).into_vec();
        f(&mut v);
        self.buf = v.into_boxed_slice();
    }

    /// A list built in one allocation (loading: no reallocation per
    /// entry).
    pub fn from_entries<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Packed {
        let mut v = Vec::new();
        for b in items {
            encode_len(b.len(), &mut v);
            v.extend_from_slice(b);
        }
        Packed {
            buf: v.into_boxed_slice(),
        }
    }

    /// Appends an entry at the tail.
    pub fn push(&mut self, b: &[u8]) {
        let enc = encode(b);
        self.edit(|v| {
            v.reserve_exact(enc.len());
            v.extend_from_slice(&enc);
        });
    }

    /// Inserts `items` before the entry at offset `off` (or at the tail
    /// when `off` is [`Packed::end`]).
    pub fn insert(&mut self, off: usize, items: &[&[u8]]) {
        let mut enc = Vec::with_capacity(items.iter().map(|b| b.len() + 3).sum());
        for b in items {
            encode_len(b.len(), &mut enc);
            enc.extend_from_slice(b);
        }
        self.edit(|v| {
            v.reserve_exact(enc.len());
            v.splice(off..off, enc);
        });
    }

    /// Offset just past the last entry (where a tail insert goes).
    pub fn end(&self) -> usize {
        self.buf.len()
    }

    /// Entries in order, each with its byte offset (a cursor for
    /// [`Packed::replace`] and [`Packed::remove`]).
    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            off: 0,
        }
    }

    /// Replaces the entry at offset `off` with `b`.
    pub fn replace(&mut self, off: usize, b: &[u8]) {
        let (start, end) = entry_bounds(&self.buf, off);
        if end - start == b.len() {
            // Same length: overwrite in place, no reallocation.
            self.buf[start..end].copy_from_slice(b);
            return;
        }
        let enc = encode(b);
        self.edit(|v| {
            v.splice(off..end, enc);
        });
    }

    /// Removes `n` consecutive entries starting at offset `off`.
    pub fn remove(&mut self, off: usize, n: usize) {
        let mut end = off;
        for _ in 0..n {
            end = entry_bounds(&self.buf, end).1;
        }
        self.edit(|v| {
            v.drain(off..end);
        });
    }
}

#[derive(Clone)]
pub struct PackedIter<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    /// (offset of the entry, its bytes)
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.buf.len() {
            return None;
        }
        let at = self.off;
        let (s, e) = entry_bounds(self.buf, at);
        self.off = e;
        Some((at, &self.buf[s..e]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_entries_equals_pushes() {
        let items: [&[u8]; 3] = [b"a", b"", &[7u8; 300]];
        let mut p = Packed::new();
        for i in items {
            p.push(i);
        }
        assert_eq!(Packed::from_entries(items), p);
        assert_eq!(Packed::from_entries(std::iter::empty()), Packed::new());
    }

    #[test]
    fn insert_anywhere() {
        let mut p = Packed::new();
        p.insert(p.end(), &[b"c"]);
        let first = p.iter().next().unwrap().0;
        p.insert(first, &[b"a", b"b"]);
        p.insert(p.end(), &[&[9u8; 200]]);
        let items: Vec<_> = p.iter().map(|(_, b)| b.to_vec()).collect();
        assert_eq!(
            items,
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), vec![9u8; 200]]
        );
        assert_eq!(p.len(), 4);
        assert_eq!(p, Packed::from_entries(items.iter().map(|v| &v[..])));
    }

    #[test]
    fn push_replace_remove() {
        let mut p = Packed::new();
        let long = vec![b'x'; 300];
        p.push(b"a");
        p.push(&long);
        p.push(b"");
        p.push(b"c");
        assert_eq!(p.len(), 4);
        let items: Vec<_> = p.iter().map(|(_, b)| b.to_vec()).collect();
        assert_eq!(
            items,
            vec![b"a".to_vec(), long.clone(), vec![], b"c".to_vec()]
        );
        let off = p.iter().nth(1).unwrap().0;
        p.replace(off, b"short");
        let off = p.iter().nth(2).unwrap().0;
        p.replace(off, &long);
        let items: Vec<_> = p.iter().map(|(_, b)| b.to_vec()).collect();
        assert_eq!(
            items,
            vec![b"a".to_vec(), b"short".to_vec(), long, b"c".to_vec()]
        );
        let first = p.iter().next().unwrap().0;
        p.remove(first, 2);
        assert_eq!(p.len(), 2);
        assert_eq!(p.iter().last().unwrap().1, b"c");
        let off = p.iter().next().unwrap().0;
        p.remove(off, 2);
        assert!(p.is_empty());
        assert_eq!(p.iter().count(), 0);
        assert_eq!(p.heap_size(), 0);
        assert_eq!(std::mem::size_of::<Packed>(), 16);
    }
}
