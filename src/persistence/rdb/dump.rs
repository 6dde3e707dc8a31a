//! DUMP payloads (cluster.c's `createDumpPayload` / `verifyDumpPayload`):
//! one object as an RDB type byte and body, then a 10-byte footer of the
//! RDB version (u16 LE) and the CRC-64 (u64 LE) of everything before the
//! CRC. RESTORE and MIGRATE accept payloads of versions up to ours.

use super::encode::encode_object;
use super::{crc64, RDB_VERSION};
use crate::keyspace::Value;

/// Bytes after the object: version (2) and CRC-64 (8).
const FOOTER: usize = 10;

/// The DUMP payload of `v`, its strings LZF-compressed when that pays
/// (Redis compresses DUMP payloads as `rdbcompression` says).
pub fn dump_payload(v: &Value) -> Vec<u8> {
    dump_payload_with(v, true)
}

/// The DUMP payload of `v` with compression on or off.
pub fn dump_payload_with(v: &Value, compress: bool) -> Vec<u8> {
    let mut p = vec![0u8];
    p[0] = encode_object(&mut p, v, compress);
    p.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// True when the footer is sound: the payload holds one, its version is
/// at most ours and the CRC matches (`verifyDumpPayload`).
pub fn footer_ok(p: &[u8]) -> bool {
    footer_ok_with(p, true)
}

/// `footer_ok`, with the CRC check optional (DEBUG
/// SET-SKIP-CHECKSUM-VALIDATION turns it off).
pub fn footer_ok_with(p: &[u8], check_crc: bool) -> bool {
    if p.len() < FOOTER {
        return false;
    }
    let at = p.len() - FOOTER;
    let version = u16::from_le_bytes([p[at], p[at + 1]]);
    if version as u32 > RDB_VERSION {
        return false;
    }
    if !check_crc {
        return true;
    }
    let crc = u64::from_le_bytes(p[at + 2..].try_into().expect("8 bytes"));
    crc64(0, &p[..at + 2]) == crc
}

/// (type byte, body) of a payload whose footer is sound and that holds at
/// least a type byte; None otherwise.
pub fn verify_dump_payload(p: &[u8]) -> Option<(u8, &[u8])> {
    if !footer_ok(p) || p.len() == FOOTER {
        return None;
    }
    Some((p[0], &p[1..p.len() - FOOTER]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_payload_matches_redis() {
        // redis-cli DUMP of SET k bar (7.0.15): "\x00\x03bar\n\x00" + crc.
        let p = dump_payload(&Value::string(b"bar"));
        assert_eq!(&p[..7], b"\x00\x03bar\x0a\x00");
        assert_eq!(p.len(), 15);
        let (t, body) = verify_dump_payload(&p).unwrap();
        assert_eq!(t, 0);
        assert_eq!(body, b"\x03bar");
    }

    #[test]
    fn rejects_bad_payloads() {
        let p = dump_payload(&Value::Int(5));
        let mut bad = p.clone();
        bad[1] ^= 1;
        assert!(verify_dump_payload(&bad).is_none());
        let mut newer = p.clone();
        let at = newer.len() - FOOTER;
        newer[at] = 11;
        let crc = crc64(0, &newer[..at + 2]);
        newer[at + 2..].copy_from_slice(&crc.to_le_bytes());
        assert!(!footer_ok(&newer));
        assert!(verify_dump_payload(&p[..5]).is_none());
        // A bare footer is sound but holds no object.
        let mut bare = vec![10u8, 0];
        let crc = crc64(0, &bare);
        bare.extend_from_slice(&crc.to_le_bytes());
        assert!(footer_ok(&bare));
        assert!(verify_dump_payload(&bare).is_none());
        // Older versions are accepted.
        let mut older = p.clone();
        older[at] = 9;
        let crc = crc64(0, &older[..at + 2]);
        older[at + 2..].copy_from_slice(&crc.to_le_bytes());
        assert!(verify_dump_payload(&older).is_some());
    }
}
