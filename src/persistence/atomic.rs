//! The one way keel replaces a file that must survive a crash: write a
//! temporary file in the same directory, flush and fsync it, rename it
//! over the destination, then fsync the directory so the rename itself is
//! durable. A reader (or a restart after a power cut) sees either the old
//! file or the complete new one, never a mix.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// fsyncs a directory (makes renames and creations in it durable).
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// Renames `tmp` over `dest` and fsyncs `dest`'s directory.
pub fn rename_durable(tmp: &Path, dest: &Path) -> io::Result<()> {
    std::fs::rename(tmp, dest)?;
    fsync_dir(dest.parent().unwrap_or(Path::new(".")))
}

/// Writes `dest` through `tmp` (same directory): `fill` writes the
/// content into a buffered writer; then flush, fsync, rename, fsync the
/// directory. On any error the temporary file is removed and `dest` is
/// left untouched.
pub fn write_file<T>(
    dest: &Path,
    tmp: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<T>,
) -> io::Result<T> {
    let res = (|| {
        let f = File::create(tmp)?;
        let mut w = BufWriter::with_capacity(64 * 1024, f);
        let out = fill(&mut w)?;
        w.flush()?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        rename_durable(tmp, dest)?;
        Ok(out)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_or_leaves_untouched() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("dump.rdb");
        let tmp = d.path().join("temp-1.rdb");
        std::fs::write(&dest, b"old").unwrap();
        let err = write_file(&dest, &tmp, |w| {
            w.write_all(b"half")?;
            Err::<(), _>(io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert!(!tmp.exists());
        write_file(&dest, &tmp, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert!(!tmp.exists());
    }
}
