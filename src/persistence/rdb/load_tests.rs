//! Tests of the whole-file loader: hand-built files and the real files
//! written by Redis 2.x..7.4 and Valkey 8 in `../shared/redis-assets`.

use super::super::{decode_object, opcode};
use super::*;
use crate::keyspace::Value;

/// Collects everything a load produces.
#[derive(Default, Debug)]
pub(crate) struct Collect {
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub db: u64,
    pub keys: Vec<(u64, Vec<u8>, Value, KeyMeta)>,
    pub functions: Vec<Vec<u8>>,
    pub resize: Vec<(u64, u64)>,
    pub progress: u64,
}

impl LoadSink for Collect {
    fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.aux.push((key.to_vec(), value.to_vec()));
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> Result<(), String> {
        if db >= 16 {
            return Err("FATAL: Data file was created with a Redis server configured to handle more than 16 databases. Exiting".into());
        }
        self.db = db;
        Ok(())
    }
    fn resize_db(&mut self, keys: u64, expires: u64) {
        self.resize.push((keys, expires));
    }
    fn key(&mut self, key: &[u8], value: Value, meta: KeyMeta) -> Result<(), String> {
        self.keys.push((self.db, key.to_vec(), value, meta));
        Ok(())
    }
    fn function(&mut self, code: &[u8]) -> Result<(), String> {
        self.functions.push(code.to_vec());
        Ok(())
    }
    fn progress(&mut self, _offset: u64, keys: u64) {
        self.progress = keys;
    }
}

impl Collect {
    pub fn get(&self, key: &str) -> &Value {
        &self
            .keys
            .iter()
            .find(|k| k.1 == key.as_bytes())
            .unwrap_or_else(|| panic!("key {key} missing"))
            .2
    }
}

pub(crate) fn load_bytes(data: &[u8]) -> Result<(LoadSummary, Collect), RdbError> {
    let mut c = Collect::default();
    let s = load(data, &LoadOptions::default(), &mut c)?;
    Ok((s, c))
}

use crate::persistence::rdb::decode::tests::enc;
use crate::persistence::rdb::{types, Reader};
use proptest::prelude::*;

/// "REDIS" + version, the records, EOF and (v >= 5) a CRC-64 trailer.
fn file(version: &str, records: &[u8]) -> Vec<u8> {
    let mut f = format!("REDIS{version}").into_bytes();
    f.extend_from_slice(records);
    f.push(0xFF);
    if version.parse::<u32>().unwrap_or(0) >= 5 {
        let c = crc64(0, &f);
        f.extend_from_slice(&c.to_le_bytes());
    }
    f
}

fn string_key(out: &mut Vec<u8>, k: &str, v: &str) {
    out.push(0);
    enc::string(out, k.as_bytes());
    enc::string(out, v.as_bytes());
}

#[test]
fn fact_sheet_vectors() {
    let empty = [
        0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xff, 0xa9, 0xfd, 0x37, 0xfe, 0x89,
        0xa7, 0x7e, 0xeb,
    ];
    let (sum, c) = load_bytes(&empty).unwrap();
    assert_eq!(
        sum,
        LoadSummary {
            version: 10,
            keys: 0,
            empty_keys_skipped: 0,
            checksum: ChecksumState::Ok
        }
    );
    assert!(c.keys.is_empty());
    let foo = [
        0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xfe, 0x00, 0xfb, 0x01, 0x00, 0x00,
        0x03, 0x66, 0x6f, 0x6f, 0x03, 0x62, 0x61, 0x72, 0xff, 0xa1, 0x25, 0xe4, 0x1c, 0x1a, 0xd0,
        0x7c, 0x4c,
    ];
    let (sum, c) = load_bytes(&foo).unwrap();
    assert_eq!((sum.keys, sum.checksum), (1, ChecksumState::Ok));
    assert_eq!(c.resize, vec![(1, 0)]);
    assert_eq!(c.keys[0].1, b"foo");
    assert_eq!(c.keys[0].2.as_bytes().unwrap().as_ref(), b"bar");
    assert_eq!(c.keys[0].3, KeyMeta::default());
    assert_eq!(c.progress, 1);
}

#[test]
fn magic_version_and_checksum() {
    let e = load_bytes(b"REDIX0010\xff").unwrap_err();
    assert_eq!(
        (e.msg.as_str(), e.doing),
        ("Wrong signature trying to load DB from file", "start")
    );
    for v in ["0000", "0013", "00a1", "abcd", "-001"] {
        let e = load_bytes(&file(v, &[])).unwrap_err();
        let n = match v {
            "0013" => 13,
            "-001" => -1,
            _ => 0,
        };
        assert_eq!(e.msg, format!("Can't handle RDB format version {n}"));
    }
    assert_eq!(
        load_bytes(b"REDIS").unwrap_err().msg,
        "Unexpected EOF reading RDB file"
    );
    // Versions 1..4 have no trailer; 5+ must have one.
    let (sum, _) = load_bytes(b"REDIS0001\xff").unwrap();
    assert_eq!((sum.version, sum.checksum), (1, ChecksumState::Absent));
    let e = load_bytes(b"REDIS0005\xff").unwrap_err();
    assert_eq!(
        (e.msg.as_str(), e.doing),
        ("Unexpected EOF reading RDB file", "check-sum")
    );
    for v in ["0011", "0012"] {
        assert!(load_bytes(&file(v, &[])).is_ok());
    }
    // Stored 0: checksum disabled.
    let mut f = b"REDIS0010\xff".to_vec();
    f.extend_from_slice(&[0; 8]);
    assert_eq!(load_bytes(&f).unwrap().0.checksum, ChecksumState::Disabled);
    // A mismatch, and verification turned off.
    let mut recs = vec![];
    string_key(&mut recs, "k", "v");
    let mut f = file("0010", &recs);
    let n = f.len();
    f[n - 1] ^= 0x40;
    let e = load_bytes(&f).unwrap_err();
    let stored = u64::from_le_bytes(f[n - 8..].try_into().unwrap());
    let want = crc64(0, &f[..n - 8]);
    assert_eq!(
        e.msg,
        format!("Wrong RDB checksum expected: ({want:x}) but got ({stored:x}). Aborting now.")
    );
    assert_eq!(e.doing, "check-sum");
    let opts = LoadOptions {
        verify_checksum: false,
        ..LoadOptions::default()
    };
    let s = load(&f, &opts, &mut Collect::default()).unwrap();
    assert_eq!((s.keys, s.checksum), (1, ChecksumState::NotVerified));
    // Trailing bytes after the trailer are ignored.
    let mut f = file("0010", &recs);
    f.extend_from_slice(b"garbage");
    assert!(load_bytes(&f).is_ok());
}

#[test]
fn opcodes_apply_to_the_next_key_only() {
    let mut r = vec![];
    // AUX with an int-encoded value.
    r.push(opcode::AUX);
    enc::string(&mut r, b"redis-bits");
    r.extend_from_slice(&[0xC0, 0x40]);
    r.extend_from_slice(&[opcode::SELECTDB, 3, opcode::RESIZEDB, 2, 1]);
    r.push(opcode::EXPIRETIME_MS);
    r.extend_from_slice(&1_700_000_000_123i64.to_le_bytes());
    r.extend_from_slice(&[opcode::IDLE, 0x41, 0x00, opcode::FREQ, 7]);
    string_key(&mut r, "a", "1");
    string_key(&mut r, "b", "2");
    r.push(opcode::EXPIRETIME);
    r.extend_from_slice(&1_700_000_000i32.to_le_bytes());
    string_key(&mut r, "c", "3");
    // Cluster slot info (7.4) is skipped.
    r.extend_from_slice(&[opcode::SLOT_INFO, 0x40, 0x10, 3, 0]);
    // FUNCTION2 and the pre-GA form.
    r.push(opcode::FUNCTION2);
    enc::string(
        &mut r,
        b"#!lua name=lib1\nredis.register_function('f', function() return 1 end)",
    );
    r.push(opcode::FUNCTION_PRE_GA);
    enc::string(&mut r, b"lib2");
    enc::string(&mut r, b"LUA");
    r.push(1);
    enc::string(&mut r, b"a description");
    enc::string(&mut r, b"return 2");
    let (sum, c) = load_bytes(&file("0010", &r)).unwrap();
    assert_eq!(sum.keys, 3);
    assert_eq!(c.aux, vec![(b"redis-bits".to_vec(), b"64".to_vec())]);
    assert_eq!(c.resize, vec![(2, 1)]);
    let metas: Vec<_> = c.keys.iter().map(|k| (k.0, k.3)).collect();
    assert_eq!(
        metas,
        vec![
            (
                3,
                KeyMeta {
                    expire_ms: 1_700_000_000_123,
                    idle_secs: Some(256),
                    freq: Some(7)
                }
            ),
            (3, KeyMeta::default()),
            (
                3,
                KeyMeta {
                    expire_ms: 1_700_000_000_000,
                    ..KeyMeta::default()
                }
            ),
        ]
    );
    assert_eq!(c.functions[1], b"#!LUA name=lib2\nreturn 2");
    assert!(c.functions[0].starts_with(b"#!lua name=lib1\n"));
}

#[test]
fn refusals_carry_context() {
    // Module AUX for a module keel does not have.
    let mut r = vec![opcode::MODULE_AUX];
    enc::len(&mut r, 0x1234 << 10);
    r.extend_from_slice(&[2, 2]);
    let e = load_bytes(&file("0010", &r)).unwrap_err();
    assert!(e
        .msg
        .starts_with("The RDB file contains AUX module data I can't load: no matching module '"));
    assert_eq!(e.doing, "read-module-aux");
    let mut r = vec![opcode::MODULE_AUX, 1, 1, 2];
    r.push(0);
    assert_eq!(
        load_bytes(&file("0010", &r)).unwrap_err().msg,
        "bad when_opcode"
    );
    // The sink refusing a database index.
    let e = load_bytes(&file("0010", &[opcode::SELECTDB, 20])).unwrap_err();
    assert!(e.msg.starts_with("FATAL: Data file was created"));
    // An error inside a value names the key and the type.
    let mut r = vec![];
    r.push(types::SET);
    enc::string(&mut r, b"myset");
    r.push(2);
    enc::string(&mut r, b"x");
    enc::string(&mut r, b"x");
    let e = load_bytes(&file("0010", &r)).unwrap_err();
    assert_eq!(e.msg, "Duplicate set members detected");
    assert_eq!(
        (e.doing, e.key.as_deref(), e.type_byte),
        ("read-object-value", Some(&b"myset"[..]), Some(types::SET))
    );
    assert!(e.to_string().contains("reading key 'myset'"));
    // Unknown type byte.
    let mut r = vec![8];
    enc::string(&mut r, b"k");
    let e = load_bytes(&file("0010", &r)).unwrap_err();
    assert_eq!(e.msg, "Unknown RDB encoding type 8");
    // Truncated key.
    let e = load_bytes(b"REDIS0010\x00\x05ab").unwrap_err();
    assert_eq!((e.doing, e.type_byte), ("read-key", Some(0)));
}

#[test]
fn empty_keys_are_counted_and_skipped() {
    let mut r = vec![];
    for t in [types::LIST, types::SET, types::ZSET_2, types::HASH] {
        r.push(t);
        enc::string(&mut r, b"empty");
        r.push(0);
    }
    string_key(&mut r, "k", "v");
    r.push(opcode::EXPIRETIME_MS);
    r.extend_from_slice(&5i64.to_le_bytes());
    r.push(types::LIST_QUICKLIST_2);
    enc::string(&mut r, b"empty");
    r.push(0);
    string_key(&mut r, "after", "v");
    let (sum, c) = load_bytes(&file("0010", &r)).unwrap();
    assert_eq!((sum.keys, sum.empty_keys_skipped), (2, 5));
    // The expire of a skipped key does not leak to the next one.
    assert_eq!(c.keys[1].3, KeyMeta::default());
}

#[test]
fn hostile_lengths_are_short_reads_not_allocations() {
    // Every counted collection with a count of 2^62 (64-bit length form),
    // and strings / LZF claiming huge sizes: a short-read error, at once.
    let huge = [0x81, 0x40, 0, 0, 0, 0, 0, 0, 0];
    for t in [
        types::LIST,
        types::SET,
        types::ZSET,
        types::ZSET_2,
        types::HASH,
        types::LIST_QUICKLIST,
        types::LIST_QUICKLIST_2,
        types::STREAM_LISTPACKS_2,
        types::STRING,
        types::HASH_LISTPACK,
    ] {
        let mut r = Reader::new(&huge);
        let e = decode_object(&mut r, t, &Limits::default()).unwrap_err();
        assert_eq!(e.msg, "Unexpected EOF reading RDB file", "type {t}");
    }
    let mut b = (5u64 << 40).to_le_bytes().to_vec();
    b.extend_from_slice(&huge);
    let mut r = Reader::new(&b);
    assert!(decode_object(&mut r, types::HASH_METADATA, &Limits::default()).is_err());
    // LZF: 4 compressed bytes claiming 2^40 bytes of output.
    let lzf = [0xC3, 0x04, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    let mut r = Reader::new(&lzf);
    assert_eq!(
        decode_object(&mut r, types::STRING, &Limits::default())
            .unwrap_err()
            .msg,
        "Invalid LZF compressed string"
    );
    // A stream group with a huge PEL.
    let mut s = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    enc::string(&mut s, b"g");
    s.extend_from_slice(&[0, 0, 0]);
    s.extend_from_slice(&huge);
    let mut r = Reader::new(&s);
    let e = decode_object(&mut r, types::STREAM_LISTPACKS_2, &Limits::default()).unwrap_err();
    assert_eq!(e.msg, "Unexpected EOF reading RDB file");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400), v in 1u32..13) {
        let mut f = format!("REDIS{v:04}").into_bytes();
        f.extend_from_slice(&tail);
        let opts = LoadOptions { verify_checksum: false, ..LoadOptions::default() };
        let _ = load(&f, &opts, &mut Collect::default());
        let _ = load(&tail, &opts, &mut Collect::default());
    }

    #[test]
    fn arbitrary_values_never_panic(t in 0u8..30, body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut r = Reader::new(&body);
        let _ = decode_object(&mut r, t, &Limits::default());
        let mut r = Reader::new(&body);
        let _ = decode_object(&mut r, t, &Limits { deep: true, ..Limits::default() });
    }
}
