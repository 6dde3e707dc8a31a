//! A whole input file as one byte slice without copying it: the RDB
//! decoder works on a slice, and reading a multi-gigabyte dump into a
//! buffer first costs a copy plus a page fault per page of fresh
//! anonymous memory (about 0.6 s of CPU for 600 MB), where mapping the
//! cached pages costs a tenth of that.
//!
//! With the fork ([`super::fork`]), the only unsafe code of the library:
//! one call, a read-only private map.
#![allow(unsafe_code)]

use std::path::Path;

/// A file's bytes: mapped, or read when the file cannot be mapped (empty,
/// or a filesystem without mmap).
pub enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl FileBytes {
    pub fn open(path: &Path) -> std::io::Result<FileBytes> {
        let file = std::fs::File::open(path)?;
        if file.metadata()?.len() > 0 {
            // SAFETY: the map is read-only and lives as long as this
            // value (one load). keel never rewrites an RDB file in place
            // (SAVE and BGSAVE write a temp file and rename it over), so
            // the mapped pages cannot change under the decoder, unless
            // another process truncates the file while it loads, which
            // faults (SIGBUS) as any mapped input would; redis-check-rdb's
            // and keel-check-rdb's exposure is the same. `populate` maps
            // every page up front in one batched pass.
            let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) };
            if let Ok(m) = map {
                let _ = m.advise(memmap2::Advice::Sequential);
                return Ok(FileBytes::Mapped(m));
            }
        }
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut &file, &mut v)?;
        Ok(FileBytes::Read(v))
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Read(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_or_reads_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"REDIS0010\xff").unwrap();
        let f = FileBytes::open(&p).unwrap();
        assert!(matches!(f, FileBytes::Mapped(_)));
        assert_eq!(&*f, b"REDIS0010\xff");
        std::fs::write(&p, b"").unwrap();
        let f = FileBytes::open(&p).unwrap();
        assert!(matches!(f, FileBytes::Read(_)));
        assert!(f.is_empty());
        let e = FileBytes::open(&dir.path().join("missing")).err().unwrap();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
