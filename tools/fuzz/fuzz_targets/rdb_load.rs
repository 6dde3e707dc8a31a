//! Fuzzes the RDB decoder: whole files through `load` (with and without
//! checksum verification, so mutations reach the value decoders) and
//! single values through `decode_object` (the RESTORE path), with and
//! without deep sanitization. Any panic, overflow or huge allocation is a
//! bug: hostile input must only ever produce an `RdbError`.
#![no_main]

use keel::keyspace::Value;
use keel::persistence::rdb::{decode_object, load, KeyMeta, Limits, LoadOptions, LoadSink, Reader};
use libfuzzer_sys::fuzz_target;

struct Discard;

impl LoadSink for Discard {
    fn aux(&mut self, _key: &[u8], _value: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> Result<(), String> {
        if db < 16 {
            Ok(())
        } else {
            Err("db index out of range".into())
        }
    }
    fn key(&mut self, _key: &[u8], _value: Value, _meta: KeyMeta) -> Result<(), String> {
        Ok(())
    }
    fn function(&mut self, _code: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions {
        verify_checksum: false,
        ..LoadOptions::default()
    };
    let _ = load(data, &opts, &mut Discard);
    // The same bytes behind a valid header, so most inputs get past it.
    let mut file = b"REDIS0011".to_vec();
    file.extend_from_slice(data);
    let _ = load(&file, &opts, &mut Discard);
    // One value: the first byte picks the type.
    if let Some((&t, body)) = data.split_first() {
        for deep in [false, true] {
            let lim = Limits {
                deep,
                ..Limits::default()
            };
            let mut r = Reader::new(body);
            let _ = decode_object(&mut r, t % 32, &lim);
        }
    }
});
