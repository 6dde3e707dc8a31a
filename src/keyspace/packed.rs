//! `Packed`: a list of byte strings in one flat buffer, keel's stand-in for
//! Redis's listpack as used by small hashes.
//!
//! Each entry is a LEB128 length followed by its bytes. Like a listpack it
//! costs one allocation for the whole collection, keeps insertion order
//! (so HGETALL on a small hash answers in Redis's order), and is searched
//! linearly, which is fast at the sizes the `*-max-listpack-*` thresholds
//! allow. The buffer is a boxed slice resized exactly on each change (as
//! Redis reallocates a listpack), so it carries no spare capacity.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    /// Empty, or a little-endian u32 entry count followed by the entries.
    /// A boxed slice (no spare capacity) keeps the header at 16 bytes.
    buf: Box<[u8]>,
}

/// Size of the entry-count header.
const HEADER: usize = 4;

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

    /// Number of entries.
    pub fn len(&self) -> usize {
        if self.buf.is_empty() {
            return 0;
        }
        u32::from_le_bytes(self.buf[..HEADER].try_into().expect("header")) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes used by the buffer (for memory accounting).
    pub fn heap_size(&self) -> usize {
        self.buf.len()
    }

    /// Edits the buffer as a Vec, then stores it back without spare room
    /// and with the entry count adjusted by `delta`.
    fn edit(&mut self, delta: i64, f: impl FnOnce(&mut Vec<u8>)) {
        let n = (self.len() as i64 + delta) as u32;
        let mut v = std::mem::take(&mut self.buf).into_vec();
        if v.is_empty() {
            v.extend_from_slice(&[0; HEADER]);
        }
        f(&mut v);
        if n == 0 {
            return;
        }
        v[..HEADER].copy_from_slice(&n.to_le_bytes());
        self.buf = v.into_boxed_slice();
    }

    /// A list built in one allocation (loading: no reallocation per
    /// entry).
    pub fn from_entries<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Packed {
        let mut v = vec![0u8; HEADER];
        let mut n: u32 = 0;
        for b in items {
            encode_len(b.len(), &mut v);
            v.extend_from_slice(b);
            n += 1;
        }
        if n == 0 {
            return Packed::new();
        }
        v[..HEADER].copy_from_slice(&n.to_le_bytes());
        Packed {
            buf: v.into_boxed_slice(),
        }
    }

    /// Appends an entry at the tail.
    pub fn push(&mut self, b: &[u8]) {
        let enc = encode(b);
        self.edit(1, |v| {
            v.reserve_exact(enc.len());
            v.extend_from_slice(&enc);
        });
    }

    /// Entries in order, each with its byte offset (a cursor for
    /// [`Packed::replace`] and [`Packed::remove`]).
    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            off: HEADER,
        }
    }

    /// Replaces the entry at offset `off` with `b`.
    pub fn replace(&mut self, off: usize, b: &[u8]) {
        let (_, end) = entry_bounds(&self.buf, off);
        let enc = encode(b);
        self.edit(0, |v| {
            v.splice(off..end, enc);
        });
    }

    /// Removes `n` consecutive entries starting at offset `off`.
    pub fn remove(&mut self, off: usize, n: usize) {
        let mut end = off;
        for _ in 0..n {
            end = entry_bounds(&self.buf, end).1;
        }
        self.edit(-(n as i64), |v| {
            v.drain(off..end);
        });
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
