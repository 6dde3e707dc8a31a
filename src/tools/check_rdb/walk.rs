//! The record walker of keel-check-rdb: steps through an RDB file one
//! record at a time with redis-check-rdb 7.0.15's bookkeeping (the step it
//! is doing, the key and type being read, keys counted as soon as their
//! name is read) and gives each record with its byte span.
//!
//! It parses nothing itself: lengths, strings and times come from keel's
//! [`Reader`], values from keel's [`decode_object`] (the decoder the server
//! loads with, here with deep sanitization as redis-check-rdb forces).
//! What it adds is what the checker needs and the server loader does not
//! give: the offset of every record (for the report and for salvage), a
//! way to restart at any offset ([`Walker::resume_at`]), MODULE_2 values
//! and module AUX walked generically (as redis-check-rdb does) instead of
//! refused, and version gating that follows redis-check-rdb (1..=10)
//! unless newer files are accepted.

use crate::keyspace::Value;
use crate::persistence::rdb::decode::module_name;
use crate::persistence::rdb::{
    decode_object, opcode, types, KeyMeta, Limits, RdbError, Reader, RDB_VERSION,
    RDB_VERSION_MAX_READ,
};
use std::borrow::Cow;

/// redis-check-rdb's message for any short read.
pub const EOF_MSG: &str = "Unexpected EOF reading RDB file";

/// What a key record holds.
pub enum KeyValue<'a> {
    /// A value keel decoded.
    Value(Value),
    /// A string value as the decoder reads it (`Reader::string`: raw bytes
    /// borrowed from the file, INT and LZF decoded); [`KeyValue::value`]
    /// makes the `Value` that `decode_object` would (`Value::string`), so
    /// checking millions of strings allocates nothing.
    Str(Cow<'a, [u8]>),
    /// An empty collection (the server skips it; redis-check-rdb fails).
    Empty,
    /// A MODULE_2 value, walked but not decoded: the module's name.
    Module(String),
}

impl KeyValue<'_> {
    /// The decoded value (None for empty collections and module values).
    pub fn value(&self) -> Option<std::borrow::Cow<'_, Value>> {
        match self {
            KeyValue::Value(v) => Some(Cow::Borrowed(v)),
            KeyValue::Str(s) => Some(Cow::Owned(Value::string(s))),
            KeyValue::Empty | KeyValue::Module(_) => None,
        }
    }
}

/// One key with its prefix (expire, IDLE, FREQ) and its bytes in the file.
pub struct KeyRecord<'a> {
    pub key: Cow<'a, [u8]>,
    pub type_byte: u8,
    pub value: KeyValue<'a>,
    pub meta: KeyMeta,
    /// Offset of the record's first byte (its first prefix opcode, if any).
    pub start: usize,
    /// Offset of the type byte.
    pub type_at: usize,
    /// Offset of the value (just past the key's name).
    pub value_at: usize,
    /// Offset just past the value.
    pub end: usize,
}

/// One record of the file.
pub enum Record<'a> {
    Aux {
        key: Cow<'a, [u8]>,
        value: Cow<'a, [u8]>,
    },
    /// A module AUX record, walked generically; `raw` is the whole record,
    /// `header_end` the offset past its id and `when` fields.
    ModuleAux {
        name: String,
        raw: &'a [u8],
        header_end: u64,
    },
    /// A function library's source (FUNCTION2, or the pre-GA form
    /// translated as Redis does).
    Function(Vec<u8>),
    SelectDb(u64),
    /// The size hints of the current database.
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    SlotInfo,
    Key(KeyRecord<'a>),
    /// The EOF opcode (the checksum is the caller's).
    Eof,
}

/// A failure with redis-check-rdb's context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub offset: u64,
    pub msg: String,
    pub doing: &'static str,
    /// The key whose value was being read.
    pub key: Option<Vec<u8>>,
    /// redis-check-rdb's `key_type` (0 before the first key, -1 between
    /// keys, else the type of the key being read).
    pub key_type: i32,
}

impl From<&Failure> for RdbError {
    fn from(f: &Failure) -> RdbError {
        RdbError {
            offset: f.offset,
            doing: f.doing,
            key: f.key.clone(),
            type_byte: u8::try_from(f.key_type).ok(),
            msg: f.msg.clone(),
        }
    }
}

/// redis-check-rdb's `rdbIsObjectType` (7.0: 0-7 and 9-19); with newer
/// files accepted, the types of Redis 7.2 / 7.4 too.
pub fn is_object_type(t: u8, newer: bool) -> bool {
    let max = if newer {
        types::HASH_LISTPACK_EX
    } else {
        types::STREAM_LISTPACKS_2
    };
    t != 8 && t <= max
}

pub struct Walker<'a> {
    data: &'a [u8],
    r: Reader<'a>,
    pub version: u32,
    newer: bool,
    lim: Limits,
    /// Keys whose name was read (redis-check-rdb's `keys`).
    pub keys_read: u64,
    doing: &'static str,
    key: Option<Cow<'a, [u8]>>,
    key_type: i32,
}

impl<'a> Walker<'a> {
    /// Reads the magic and version. `newer`: accept RDB 11 and 12 (Redis
    /// 7.2 / 7.4, Valkey 8), which keel-server loads and Redis 7.0 refuses.
    pub fn open(data: &'a [u8], newer: bool) -> Result<Self, Failure> {
        let mut w = Walker {
            data,
            r: Reader::new(data),
            version: 0,
            newer,
            lim: Limits {
                deep: true,
                ..Limits::default()
            },
            keys_read: 0,
            doing: "start",
            key: None,
            key_type: 0,
        };
        let magic = w.r.bytes(9).map_err(|e| w.fail(e))?;
        if &magic[..5] != b"REDIS" {
            return Err(w.fail_msg("Wrong signature trying to load DB from file"));
        }
        let version = atoi(&magic[5..]);
        let max = if newer {
            RDB_VERSION_MAX_READ
        } else {
            RDB_VERSION
        };
        if !(1..=max as i64).contains(&version) {
            return Err(w.fail_msg(format!("Can't handle RDB format version {version}")));
        }
        w.version = version as u32;
        Ok(w)
    }

    /// A walker over a file whose header is damaged: assume `version` and
    /// start right after the 9 header bytes.
    pub fn assume(data: &'a [u8], newer: bool, version: u32) -> Self {
        let mut w = Walker {
            data,
            r: Reader::new(data),
            version,
            newer,
            lim: Limits {
                deep: true,
                ..Limits::default()
            },
            keys_read: 0,
            doing: "start",
            key: None,
            key_type: 0,
        };
        w.resume_at(9);
        w
    }

    /// redis-check-rdb's `key_type` now (0 before any key, -1 between keys).
    pub fn key_type(&self) -> i32 {
        self.key_type
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.r.offset()
    }

    /// The whole input.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Restarts reading at `pos` (salvage: after a damaged record), with no
    /// key in progress.
    pub fn resume_at(&mut self, pos: usize) {
        self.r = Reader::new(self.data);
        // Reader has no seek: consume up to `pos` (cheap: a bounds check).
        let _ = self.r.bytes(pos.min(self.data.len()) as u64);
        self.key = None;
        self.key_type = -1;
    }

    /// The 8-byte checksum trailer: Ok(stored) or a short read.
    pub fn trailer(&mut self) -> Result<u64, Failure> {
        self.doing = "check-sum";
        let b = self.r.bytes(8).map_err(|e| self.fail(e))?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn fail(&self, e: RdbError) -> Failure {
        Failure {
            offset: e.offset,
            msg: e.msg,
            doing: self.doing,
            key: self.key.as_deref().map(<[u8]>::to_vec),
            key_type: self.key_type,
        }
    }

    fn fail_msg(&self, msg: impl Into<String>) -> Failure {
        let e = self.r.err(msg);
        self.fail(e)
    }

    /// The next record. After an error the walker is positioned where the
    /// error was found; use [`Walker::resume_at`] to go on.
    pub fn next_record(&mut self) -> Result<Record<'a>, Failure> {
        let start = self.r.offset() as usize;
        let mut meta = KeyMeta::default();
        loop {
            self.doing = "read-type";
            let type_at = self.r.offset() as usize;
            let t = self.r.u8().map_err(|e| self.fail(e))?;
            match t {
                opcode::EXPIRETIME => {
                    self.doing = "read-expire";
                    meta.expire_ms = self.r.time_secs().map_err(|e| self.fail(e))? * 1000;
                }
                opcode::EXPIRETIME_MS => {
                    self.doing = "read-expire";
                    meta.expire_ms = self.r.time_ms().map_err(|e| self.fail(e))?;
                }
                opcode::FREQ => meta.freq = Some(self.r.u8().map_err(|e| self.fail(e))?),
                opcode::IDLE => meta.idle_secs = Some(self.r.length().map_err(|e| self.fail(e))?),
                opcode::EOF => return Ok(Record::Eof),
                opcode::SELECTDB => {
                    self.doing = "read-len";
                    return Ok(Record::SelectDb(self.r.length().map_err(|e| self.fail(e))?));
                }
                opcode::RESIZEDB => {
                    self.doing = "read-len";
                    let keys = self.r.length().map_err(|e| self.fail(e))?;
                    let expires = self.r.length().map_err(|e| self.fail(e))?;
                    return Ok(Record::ResizeDb { keys, expires });
                }
                opcode::SLOT_INFO if self.newer => {
                    self.doing = "read-len";
                    for _ in 0..3 {
                        self.r.length().map_err(|e| self.fail(e))?;
                    }
                    return Ok(Record::SlotInfo);
                }
                opcode::AUX => {
                    self.doing = "read-aux";
                    let key = self.r.string().map_err(|e| self.fail(e))?;
                    let value = self.r.string().map_err(|e| self.fail(e))?;
                    return Ok(Record::Aux { key, value });
                }
                opcode::MODULE_AUX => {
                    self.doing = "read-module-aux";
                    let id = self.r.length().map_err(|e| self.fail(e))?;
                    let when_opcode = self.r.length().map_err(|e| self.fail(e))?;
                    self.r.length().map_err(|e| self.fail(e))?;
                    if when_opcode != 2 {
                        return Err(self.fail_msg("bad when_opcode"));
                    }
                    let name = module_name(id);
                    let header_end = self.r.offset();
                    self.skip_module_data(&name)?;
                    let raw = &self.data[type_at..self.r.offset() as usize];
                    return Ok(Record::ModuleAux {
                        name,
                        raw,
                        header_end,
                    });
                }
                opcode::FUNCTION_PRE_GA | opcode::FUNCTION2 => {
                    self.doing = "read-functions";
                    return self.function(t).map(Record::Function);
                }
                _ => {
                    if !is_object_type(t, self.newer) {
                        return Err(self.fail_msg(format!("Invalid object type: {t}")));
                    }
                    self.key_type = t as i32;
                    return self.key_record(t, meta, start, type_at).map(Record::Key);
                }
            }
        }
    }

    fn key_record(
        &mut self,
        t: u8,
        meta: KeyMeta,
        start: usize,
        type_at: usize,
    ) -> Result<KeyRecord<'a>, Failure> {
        self.doing = "read-key";
        let key = self.r.string().map_err(|e| self.fail(e))?;
        self.key = Some(key.clone());
        self.keys_read += 1;
        self.doing = "read-object-value";
        let value_at = self.r.offset() as usize;
        let value = if t == types::MODULE_2 {
            let id = self.r.length().map_err(|e| self.fail(e))?;
            let name = module_name(id);
            self.skip_module_data(&name)?;
            KeyValue::Module(name)
        } else if t == types::STRING {
            // decode_object's STRING case is `Value::string(&r.string()?)`.
            KeyValue::Str(self.r.string().map_err(|e| {
                let mut e = e;
                e.type_byte = Some(t);
                self.fail(e)
            })?)
        } else {
            match decode_object(&mut self.r, t, &self.lim).map_err(|e| self.fail(e))? {
                Some(v) => KeyValue::Value(v),
                None => KeyValue::Empty,
            }
        };
        self.key = None;
        self.key_type = -1;
        Ok(KeyRecord {
            key,
            type_byte: t,
            value,
            meta,
            start,
            type_at,
            value_at,
            end: self.r.offset() as usize,
        })
    }

    /// A function record's payload (`rdbFunctionLoad` without compiling).
    fn function(&mut self, t: u8) -> Result<Vec<u8>, Failure> {
        let fail = |w: &Self, e: RdbError, what: &str| {
            let mut f = w.fail(e);
            f.msg = format!("Failed loading library, {what}");
            f
        };
        if t == opcode::FUNCTION2 {
            let code = self
                .r
                .string()
                .map_err(|e| fail(self, e, "Failed loading library payload"))?;
            return Ok(code.into_owned());
        }
        let name = self
            .r
            .string()
            .map_err(|e| fail(self, e, "Failed loading library name"))?;
        let engine = self
            .r
            .string()
            .map_err(|e| fail(self, e, "Failed loading engine name"))?;
        let has_desc = self
            .r
            .length()
            .map_err(|e| fail(self, e, "Failed loading library description indicator"))?;
        if has_desc != 0 {
            self.r
                .string()
                .map_err(|e| fail(self, e, "Failed loading library description"))?;
        }
        let blob = self
            .r
            .string()
            .map_err(|e| fail(self, e, "Failed loading library blob"))?;
        Ok(crate::persistence::rdb::pre_ga_function_code(
            &engine, &name, &blob,
        ))
    }

    /// Module-serialized data up to its EOF opcode, as redis-check-rdb's
    /// `rdbLoadCheckModuleValue` walks it (unknown opcodes carry nothing).
    fn skip_module_data(&mut self, name: &str) -> Result<(), Failure> {
        loop {
            let op = self.r.length().map_err(|e| self.fail(e))?;
            let res = match op {
                0 => return Ok(()),
                1 | 2 => self.r.length().map(|_| ()).map_err(|e| (e, "integer")),
                3 => self.r.bytes(4).map(|_| ()).map_err(|e| (e, "float")),
                4 => self.r.bytes(8).map(|_| ()).map_err(|e| (e, "double")),
                5 => self.r.string().map(|_| ()).map_err(|e| (e, "string")),
                _ => Ok(()),
            };
            if let Err((e, what)) = res {
                let mut f = self.fail(e);
                f.msg = format!("Error reading {what} from module {name} value");
                return Err(f);
            }
        }
    }
}

/// C's atoi over the version digits.
fn atoi(b: &[u8]) -> i64 {
    let s = b.iter().skip_while(|c| c.is_ascii_whitespace());
    let mut neg = false;
    let mut n: i64 = 0;
    for (i, &c) in s.enumerate() {
        match c {
            b'-' | b'+' if i == 0 => neg = c == b'-',
            b'0'..=b'9' => n = n * 10 + (c - b'0') as i64,
            _ => break,
        }
    }
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(body: &[u8]) -> Vec<u8> {
        let mut v = b"REDIS0010".to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn walks_records_with_spans() {
        let d = file(b"\xfa\x03ver\x017\xfe\x00\xfb\x01\x01\xfc\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03foo\x03bar\xff");
        let mut w = Walker::open(&d, false).unwrap();
        assert_eq!(w.version, 10);
        assert!(
            matches!(w.next_record().unwrap(), Record::Aux { key, value } if &*key == b"ver" && &*value == b"7")
        );
        assert!(matches!(w.next_record().unwrap(), Record::SelectDb(0)));
        assert!(matches!(
            w.next_record().unwrap(),
            Record::ResizeDb {
                keys: 1,
                expires: 1
            }
        ));
        let Record::Key(k) = w.next_record().unwrap() else {
            panic!("key")
        };
        assert_eq!(&*k.key, b"foo");
        assert_eq!(k.meta.expire_ms, 0);
        assert_eq!((k.start, k.type_at, k.end), (21, 30, 39));
        assert!(matches!(k.value, KeyValue::Str(ref s) if &**s == b"bar"));
        assert!(matches!(k.value.value().as_deref(), Some(Value::Emb(_))));
        assert!(matches!(w.next_record().unwrap(), Record::Eof));
        assert_eq!(w.keys_read, 1);
    }

    #[test]
    fn failures_carry_redis_context() {
        let f = Walker::open(b"REDIS0099", false).err().unwrap();
        assert_eq!((f.offset, f.doing, f.key_type), (9, "start", 0));
        assert_eq!(f.msg, "Can't handle RDB format version 99");
        assert!(Walker::open(b"REDIS0011", true).is_ok());
        assert_eq!(Walker::open(b"RED", false).err().unwrap().msg, EOF_MSG);
        assert!(Walker::open(b"XEDIS0010", false)
            .err()
            .unwrap()
            .msg
            .starts_with("Wrong signature"));
        // Invalid type before any key: type 0 is still reported.
        let d = file(b"\x42");
        let mut w = Walker::open(&d, false).unwrap();
        let f = w.next_record().err().unwrap();
        assert_eq!((f.offset, f.doing, f.key_type), (10, "read-type", 0));
        assert_eq!(f.msg, "Invalid object type: 66");
        // A truncated value names the key and counts it.
        let d = file(b"\x00\x03foo\x05ba");
        let mut w = Walker::open(&d, false).unwrap();
        let f = w.next_record().err().unwrap();
        assert_eq!(f.key.as_deref(), Some(&b"foo"[..]));
        assert_eq!(
            (f.offset, f.doing, f.key_type),
            (15, "read-object-value", 0)
        );
        assert_eq!(w.keys_read, 1);
    }

    #[test]
    fn modules_are_walked_and_resume_works() {
        // MODULE_2 value: id, UINT 5, STRING "ab", DOUBLE, EOF.
        let mut body = vec![7u8, 1, b'm', 0x05, 2, 5, 5, 2, b'a', b'b', 4];
        body.extend_from_slice(&1.5f64.to_le_bytes());
        body.push(0);
        // Module AUX: id 5, when_opcode 2, when 2, then EOF.
        body.extend_from_slice(&[0xf7, 5, 2, 2, 0]);
        body.push(0xff);
        let d = file(&body);
        let mut w = Walker::open(&d, false).unwrap();
        let Record::Key(k) = w.next_record().unwrap() else {
            panic!("key")
        };
        assert!(matches!(k.value, KeyValue::Module(ref n) if n.len() == 9));
        assert!(
            matches!(w.next_record().unwrap(), Record::ModuleAux { raw, .. } if raw.len() == 5)
        );
        assert!(matches!(w.next_record().unwrap(), Record::Eof));
        w.resume_at(9);
        assert!(matches!(w.next_record().unwrap(), Record::Key(_)));
        // Empty collection.
        let d = file(b"\x02\x01s\x00");
        let mut w = Walker::open(&d, false).unwrap();
        let Record::Key(k) = w.next_record().unwrap() else {
            panic!("key")
        };
        assert!(matches!(k.value, KeyValue::Empty));
        assert_eq!(atoi(b" -12x"), -12);
    }
}
