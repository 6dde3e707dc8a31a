//! The RDB format of Redis 7.0 (version 10), read back to version 1 and
//! forward to versions 11 and 12 (Redis 7.2/7.4, Valkey 8).
//!
//! Pure codecs over byte slices and `std::io::Write`: nothing here knows
//! about sockets, tokio or the server. The same encoder serves SAVE, BGSAVE,
//! the AOF base, full resync, DUMP and the tools; the same decoder serves
//! startup loading, DEBUG RELOAD, RESTORE and keel-check-rdb.
//!
//! * `lzf`: Redis's LZF string compression.
//! * `listpack`: the listpack blob (read and write).
//! * the decoder (`read`, `load` and the legacy blobs: ziplist, zipmap,
//!   intset; `records`: the record loop; `parallel`: the same loop with
//!   values decoded on worker threads) and the encoder (`write`, `save`,
//!   `dump`).

pub mod dump;
pub mod encode;
pub mod encode_stream;
pub mod listpack;
pub mod lzf;
pub mod save;
pub mod write;

pub use dump::{dump_payload, verify_dump_payload};
pub use encode::encode_object;
pub use save::{save, SaveOptions};

// The decoder (rdb-read).
pub mod decode;
mod decode_stream;
pub mod load;
mod parallel;
pub mod read;
mod records;
pub mod ziplist;
pub mod zipmap;

pub use decode::decode_object;
pub use load::{
    load, load_prefix, ChecksumState, KeyMeta, LoadOptions, LoadSink, LoadSummary, NullSink,
};
pub use read::Reader;

#[cfg(test)]
mod roundtrip_tests;

use crate::keyspace::hash::HashLimits;
use crate::keyspace::zset::ZLimits;

/// The RDB version keel writes (Redis 7.0).
pub const RDB_VERSION: u32 = 10;
/// The newest RDB version keel reads (Redis 7.4).
pub const RDB_VERSION_MAX_READ: u32 = 12;

/// Value type bytes.
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    pub const HASH_LISTPACK_EX_PRE_GA: u8 = 23;
    pub const HASH_METADATA: u8 = 24;
    pub const HASH_LISTPACK_EX: u8 = 25;

    /// redis-check-rdb's label for a type byte.
    pub fn label(t: u8) -> &'static str {
        match t {
            STRING => "string",
            LIST => "list-linked",
            SET => "set-hashtable",
            ZSET => "zset-v1",
            HASH => "hash-hashtable",
            ZSET_2 => "zset-v2",
            MODULE => "module-value",
            MODULE_2 => "",
            HASH_ZIPMAP => "hash-zipmap",
            LIST_ZIPLIST => "list-ziplist",
            SET_INTSET => "set-intset",
            ZSET_ZIPLIST => "zset-ziplist",
            HASH_ZIPLIST => "hash-ziplist",
            LIST_QUICKLIST => "quicklist",
            STREAM_LISTPACKS => "stream",
            HASH_LISTPACK => "hash-listpack",
            ZSET_LISTPACK => "zset-listpack",
            LIST_QUICKLIST_2 => "quicklist-v2",
            _ => "unknown",
        }
    }
}

/// Control opcodes.
/// The library code a pre-GA (7.0 RC) function record stands for: Redis
/// 7.0 rebuilds it as a shebang line naming engine and library, then the
/// body.
pub fn pre_ga_function_code(engine: &[u8], name: &[u8], body: &[u8]) -> Vec<u8> {
    let mut code = b"#!".to_vec();
    code.extend_from_slice(engine);
    code.extend_from_slice(b" name=");
    code.extend_from_slice(name);
    code.push(b'\n');
    code.extend_from_slice(body);
    code
}

pub mod opcode {
    pub const SLOT_INFO: u8 = 244;
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// The encodings a decoded collection may take, from the config (the
/// loader converts to hashtable/skiplist as Redis does after loading).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hash: HashLimits,
    pub zset: ZLimits,
    pub set_max_intset_entries: usize,
    /// `list-max-listpack-size`: the fill of loaded lists.
    pub list_fill: i64,
    /// `sanitize-dump-payload yes` (or the checker): validate listpack,
    /// intset and stream blobs deeply, and reject duplicates.
    pub deep: bool,
}

impl Default for Limits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        Limits {
            hash: HashLimits {
                max_entries: 512,
                max_value: 64,
            },
            zset: ZLimits {
                max_entries: 128,
                max_value: 64,
            },
            set_max_intset_entries: 512,
            list_fill: -2,
            deep: false,
        }
    }
}

/// A decoding failure: where, while doing what, on which key, and what was
/// expected. `Display` gives one line for logs and tool output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdbError {
    /// Byte offset in the input where the problem was found.
    pub offset: u64,
    /// redis-check-rdb's step name: `start`, `read-type`, `read-expire`,
    /// `read-key`, `read-object-value`, `check-sum`, `read-len`,
    /// `read-aux`, `read-module-aux`, `read-functions`.
    pub doing: &'static str,
    /// The key being read, if inside a key.
    pub key: Option<Vec<u8>>,
    /// The value type byte being read, if inside a value.
    pub type_byte: Option<u8>,
    /// What was wrong / expected, e.g. "Unexpected EOF reading RDB file",
    /// "Invalid LZF compressed string", "Wrong RDB checksum ...".
    pub msg: String,
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at offset {} (while doing: {}",
            self.msg, self.offset, self.doing
        )?;
        if let Some(k) = &self.key {
            write!(f, ", reading key '{}'", String::from_utf8_lossy(k))?;
        }
        if let Some(t) = self.type_byte {
            write!(f, ", reading type {} ({})", t, types::label(t))?;
        }
        write!(f, ")")
    }
}

impl std::error::Error for RdbError {}

/// CRC-64/REDIS (Jones polynomial, init 0, reflected), chained like
/// Redis's `crc64(crc, buf)`.
pub fn crc64(crc: u64, data: &[u8]) -> u64 {
    ::crc64::crc64(crc, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis_vectors() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
        let empty_v10 = [
            0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xff, 0xa9, 0xfd, 0x37, 0xfe,
            0x89, 0xa7, 0x7e, 0xeb,
        ];
        let c = crc64(0, &empty_v10[..10]);
        assert_eq!(c.to_le_bytes(), empty_v10[10..]);
        // Chaining is concatenation; a whole file with its trailer has residue 0.
        assert_eq!(crc64(crc64(0, &empty_v10[..4]), &empty_v10[4..10]), c);
        assert_eq!(crc64(0, &empty_v10), 0);
    }
}
