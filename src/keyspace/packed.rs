//! `Packed`: a list of byte strings in one flat buffer, keel's stand-in for
//! Redis's listpack as used by small hashes.
//!
//! Each entry is a LEB128 length followed by its bytes. Like a listpack it
//! costs one allocation for the whole collection, keeps insertion order
//! (so HGETALL on a small hash answers in Redis's order), and is searched
//! linearly, which is fast at the sizes the `*-max-listpack-*` thresholds
//! allow. The buffer grows exactly (no doubling) to stay compact; the
//! allocator's size classes keep that cheap.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    buf: Vec<u8>,
    len: u32,
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

fn encoded_size(b: &[u8]) -> usize {
    let mut n = b.len();
    let mut s = 1;
    while n >= 0x80 {
        n >>= 7;
        s += 1;
    }
    s + b.len()
}

impl Packed {
    pub fn new() -> Self {
        Packed::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes used by the buffer (for memory accounting).
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Appends an entry at the tail.
    pub fn push(&mut self, b: &[u8]) {
        self.buf.reserve_exact(encoded_size(b));
        encode_len(b.len(), &mut self.buf);
        self.buf.extend_from_slice(b);
        self.len += 1;
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
        let (_, end) = entry_bounds(&self.buf, off);
        let mut enc = Vec::with_capacity(encoded_size(b));
        encode_len(b.len(), &mut enc);
        enc.extend_from_slice(b);
        self.buf.splice(off..end, enc);
    }

    /// Removes `n` consecutive entries starting at offset `off`.
    pub fn remove(&mut self, off: usize, n: usize) {
        let mut end = off;
        for _ in 0..n {
            end = entry_bounds(&self.buf, end).1;
        }
        self.buf.drain(off..end);
        self.len -= n as u32;
        if self.buf.capacity() > self.buf.len() * 2 + 64 {
            self.buf.shrink_to_fit();
        }
    }
}

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
        p.remove(0, 2);
        assert_eq!(p.len(), 2);
        assert_eq!(p.iter().last().unwrap().1, b"c");
        let off = p.iter().next().unwrap().0;
        p.remove(off, 2);
        assert!(p.is_empty());
        assert_eq!(p.iter().count(), 0);
    }
}
