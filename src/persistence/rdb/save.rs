//! Writes a whole RDB file (version 10) in the order Redis 7.0's
//! `rdbSaveRio` does: the magic, the AUX fields, one FUNCTION2 record per
//! library, then for each non-empty database SELECTDB, RESIZEDB and its
//! keys (EXPIRETIME_MS, IDLE or FREQ when asked, the type byte, the key
//! and the value), then EOF and the CRC-64 trailer (8 zero bytes when
//! checksums are off, which loaders read as "not checked").
//!
//! Keys are encoded into a buffer that is handed to the writer in chunks,
//! so a file sink sees few large writes and the encoder never sees an I/O
//! error; the only failures are the writer's.

use super::encode::encode_object;
use super::write::{write_len, write_ms_time, write_string, CrcWriter};
use super::{opcode, RDB_VERSION};
use crate::keyspace::{Db, NO_EXPIRE};
use std::io::{self, Write};

/// What to write besides the data.
pub struct SaveOptions<'a> {
    /// `rdbcompression`: LZF for strings longer than 20 bytes.
    pub compress: bool,
    /// `rdbchecksum`: a real CRC-64 trailer (else 8 zero bytes).
    pub checksum: bool,
    /// AUX fields, written in this order.
    pub aux: Vec<(String, Vec<u8>)>,
    /// Function library sources (`#!lua name=...`), one FUNCTION2 each.
    pub functions: &'a [Vec<u8>],
    /// Idle seconds of a key from its `lru` field (LRU policies): writes
    /// an IDLE record before each key.
    pub idle_of: Option<&'a dyn Fn(u32) -> u64>,
    /// LFU counter of a key from its `lru` field (LFU policies): writes a
    /// FREQ record before each key.
    pub freq_of: Option<&'a dyn Fn(u32) -> u8>,
}

impl Default for SaveOptions<'_> {
    fn default() -> Self {
        SaveOptions {
            compress: true,
            checksum: true,
            aux: Vec::new(),
            functions: &[],
            idle_of: None,
            freq_of: None,
        }
    }
}

/// Flush the key buffer to the writer once it holds this much.
const FLUSH_AT: usize = 64 * 1024;

/// Writes `dbs` (index = database number) as an RDB file; returns the
/// number of bytes written. `on_key` runs after each key (progress,
/// rdb-key-save-delay).
pub fn save<W: Write>(
    w: W,
    dbs: &[Db],
    opts: &SaveOptions,
    on_key: &mut dyn FnMut(),
) -> io::Result<u64> {
    let mut w = CrcWriter::new(w);
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT * 2);
    buf.extend_from_slice(format!("REDIS{:04}", RDB_VERSION).as_bytes());
    for (k, v) in &opts.aux {
        buf.push(opcode::AUX);
        write_string(&mut buf, k.as_bytes(), opts.compress);
        write_string(&mut buf, v, opts.compress);
    }
    for f in opts.functions {
        buf.push(opcode::FUNCTION2);
        write_string(&mut buf, f, opts.compress);
    }
    for (i, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        buf.push(opcode::SELECTDB);
        write_len(&mut buf, i as u64);
        buf.push(opcode::RESIZEDB);
        write_len(&mut buf, db.len() as u64);
        write_len(&mut buf, db.expires_len() as u64);
        for e in db.iter() {
            if e.expire != NO_EXPIRE {
                buf.push(opcode::EXPIRETIME_MS);
                write_ms_time(&mut buf, e.expire);
            }
            if let Some(idle) = opts.idle_of {
                buf.push(opcode::IDLE);
                write_len(&mut buf, idle(e.lru));
            }
            if let Some(freq) = opts.freq_of {
                buf.push(opcode::FREQ);
                buf.push(freq(e.lru));
            }
            let at = buf.len();
            buf.push(0);
            write_string(&mut buf, &e.key, opts.compress);
            buf[at] = encode_object(&mut buf, &e.value, opts.compress);
            on_key();
            if buf.len() >= FLUSH_AT {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    buf.push(opcode::EOF);
    w.write_all(&buf)?;
    let crc = if opts.checksum { w.crc() } else { 0 };
    w.write_all(&crc.to_le_bytes())?;
    w.flush()?;
    Ok(w.written())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    #[test]
    fn empty_file_matches_redis() {
        let dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
        let mut out = Vec::new();
        let n = save(&mut out, &dbs, &SaveOptions::default(), &mut || {}).unwrap();
        assert_eq!(
            out,
            [
                0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xff, 0xa9, 0xfd, 0x37, 0xfe,
                0x89, 0xa7, 0x7e, 0xeb
            ]
        );
        assert_eq!(n, 18);
    }

    #[test]
    fn foo_bar_matches_redis() {
        let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
        dbs[0].set(b"foo", Value::string(b"bar"), false, 0);
        let mut out = Vec::new();
        let mut keys = 0;
        save(&mut out, &dbs, &SaveOptions::default(), &mut || keys += 1).unwrap();
        assert_eq!(keys, 1);
        let want = [
            0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xfe, 0x00, 0xfb, 0x01, 0x00,
            0x00, 0x03, 0x66, 0x6f, 0x6f, 0x03, 0x62, 0x61, 0x72, 0xff, 0xa1, 0x25, 0xe4, 0x1c,
            0x1a, 0xd0, 0x7c, 0x4c,
        ];
        assert_eq!(out, want);
        // Checksums off: the same bytes with a zero trailer.
        let opts = SaveOptions {
            checksum: false,
            ..SaveOptions::default()
        };
        let mut out = Vec::new();
        save(&mut out, &dbs, &opts, &mut || {}).unwrap();
        assert_eq!(out[..24], want[..24]);
        assert_eq!(out[24..], [0; 8]);
    }

    #[test]
    fn aux_functions_expire_idle_freq() {
        let mut dbs: Vec<Db> = (0..2).map(|_| Db::new()).collect();
        dbs[1].set(b"k", Value::Int(7), false, 42);
        dbs[1].set_expire(b"k", 1_700_000_000_000);
        let funcs = vec![b"#!lua name=l\nreturn 1".to_vec()];
        let idle = |lru: u32| lru as u64 + 1;
        let freq = |lru: u32| lru as u8;
        let opts = SaveOptions {
            aux: vec![
                ("redis-ver".into(), b"7.0.15".to_vec()),
                ("redis-bits".into(), b"64".to_vec()),
            ],
            functions: &funcs,
            idle_of: Some(&idle),
            freq_of: Some(&freq),
            ..SaveOptions::default()
        };
        let mut out = Vec::new();
        save(&mut out, &dbs, &opts, &mut || {}).unwrap();
        let mut want = b"REDIS0010".to_vec();
        want.extend_from_slice(b"\xfa\x09redis-ver\x067.0.15");
        want.extend_from_slice(b"\xfa\x0aredis-bits\xc0\x40");
        want.push(0xf5);
        want.push(funcs[0].len() as u8);
        want.extend_from_slice(&funcs[0]);
        want.extend_from_slice(b"\xfe\x01\xfb\x01\x01");
        want.push(0xfc);
        want.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
        want.extend_from_slice(b"\xf8\x2b\xf9\x2a\x00\x01k\xc0\x07\xff");
        assert_eq!(out[..out.len() - 8], want[..]);
        assert_eq!(crate::persistence::rdb::crc64(0, &out), 0);
    }

    /// A sink that fails once `room` bytes were written.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "no space"));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_errors_are_returned() {
        let mut dbs: Vec<Db> = (0..1).map(|_| Db::new()).collect();
        for i in 0..5000 {
            let k = format!("key:{i}");
            dbs[0].set(k.as_bytes(), Value::string(&[b'x'; 100]), false, 0);
        }
        for room in [0, 5, 70_000] {
            let err = save(Full { room }, &dbs, &SaveOptions::default(), &mut || {}).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        }
        let n = save(
            Full { room: usize::MAX },
            &dbs,
            &SaveOptions::default(),
            &mut || {},
        )
        .unwrap();
        // Each key: type, key, and an LZF-compressed value.
        assert!(n > 5000 * 10);
    }
}
