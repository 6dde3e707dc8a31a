//! The value types a key can hold, with Redis's encoding names.
//!
//! Strings keep the encoding Redis would report (`int`, `embstr`, `raw`)
//! because OBJECT ENCODING, DEBUG OBJECT and the RDB writer depend on it.
//! Collection headers are 24 bytes (their payload is boxed), so they sit
//! inside `Value` without an extra allocation and strings stay 32 bytes.

use super::bytes::KBytes;
use super::hash::HashValue;
use super::set::SetValue;

/// Longest string Redis stores as `embstr`.
pub const EMBSTR_MAX: usize = 44;

#[derive(Clone, Debug)]
pub enum Value {
    /// A string holding a 64-bit integer (encoding `int`).
    Int(i64),
    /// A string of at most 44 bytes (encoding `embstr`).
    Emb(KBytes),
    /// Any other string (encoding `raw`), growable in place by APPEND,
    /// SETRANGE and SETBIT.
    Raw(Box<Vec<u8>>),
    /// A sorted set (encodings `listpack` and `skiplist`), 16 bytes inline.
    ZSet(super::zset::ZSet),
    /// A hash (encoding `listpack` or `hashtable`).
    Hash(HashValue),
    /// A set (encoding `intset` or `hashtable`).
    Set(SetValue),
    /// A list (encoding `quicklist`, see [`super::list`]).
    List(Box<super::list::ListValue>),
    /// A stream (encoding `stream`, see [`super::stream`]).
    Stream(Box<super::stream::Stream>),
}

/// Redis's TYPE names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    String,
    List,
    Set,
    ZSet,
    Hash,
    Stream,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
            ValueType::Hash => "hash",
            ValueType::Stream => "stream",
        }
    }

    pub fn from_name(s: &[u8]) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_slice() {
            b"string" => ValueType::String,
            b"list" => ValueType::List,
            b"set" => ValueType::Set,
            b"zset" => ValueType::ZSet,
            b"hash" => ValueType::Hash,
            b"stream" => ValueType::Stream,
            _ => return None,
        })
    }
}

impl Value {
    /// A string value from client input, encoded as Redis's
    /// `tryObjectEncoding` would: integers within 20 chars become `int`.
    pub fn string(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(n) = crate::util::num::parse_i64(b) {
                return Value::Int(n);
            }
        }
        Value::string_no_int(b)
    }

    /// A string value that is never integer-encoded (`embstr` or `raw`).
    pub fn string_no_int(b: &[u8]) -> Value {
        if b.len() <= EMBSTR_MAX {
            Value::Emb(KBytes::new(b))
        } else {
            Value::Raw(Box::new(b.to_vec()))
        }
    }

    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Int(_) | Value::Emb(_) | Value::Raw(_) => ValueType::String,
            Value::ZSet(_) => ValueType::ZSet,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::List(_) => ValueType::List,
            Value::Stream(_) => ValueType::Stream,
        }
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Emb(_) => "embstr",
            Value::Raw(_) => "raw",
            Value::ZSet(z) => match z.encoding() {
                super::zset::ZEncoding::Listpack => "listpack",
                super::zset::ZEncoding::Skiplist => "skiplist",
            },
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// The bytes of a string value (integers are formatted).
    pub fn as_bytes(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        match self {
            Value::Int(n) => Some(std::borrow::Cow::Owned(
                itoa::Buffer::new().format(*n).as_bytes().to_vec(),
            )),
            Value::Emb(b) => Some(std::borrow::Cow::Borrowed(b.as_slice())),
            Value::Raw(v) => Some(std::borrow::Cow::Borrowed(v.as_slice())),
            _ => None,
        }
    }

    pub fn is_string(&self) -> bool {
        self.value_type() == ValueType::String
    }

    /// Heap bytes the value owns outside its slot in the entry (MEMORY
    /// USAGE). Strings count their buffer; collections their storage.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Emb(b) => b.heap_size(),
            Value::Raw(v) => std::mem::size_of::<Vec<u8>>() + v.capacity(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::List(l) => std::mem::size_of::<super::list::ListValue>() + l.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => s.heap_size(),
        }
    }

    /// Length in bytes of a string value.
    pub fn str_len(&self) -> usize {
        match self {
            Value::Int(n) => itoa::Buffer::new().format(*n).len(),
            Value::Emb(b) => b.len(),
            Value::Raw(v) => v.len(),
            _ => 0,
        }
    }

    /// Turns a string into the `raw` encoding and returns its buffer, for
    /// in-place edits (APPEND, SETRANGE, SETBIT).
    pub fn make_raw(&mut self) -> Option<&mut Vec<u8>> {
        if !self.is_string() {
            return None;
        }
        if !matches!(self, Value::Raw(_)) {
            let bytes = self.as_bytes().unwrap().into_owned();
            *self = Value::Raw(Box::new(bytes));
        }
        match self {
            Value::Raw(v) => Some(v),
            _ => None,
        }
    }
}
