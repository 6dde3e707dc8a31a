//! DEBUG DIGEST / DIGEST-VALUE: Redis's dataset digest, bit for bit, so
//! that a digest taken on keel compares equal to one taken on Redis.
//!
//! The scheme (debug.c): every key/value pair gets its own 20-byte digest
//! built by "mixing" (digest = SHA1(digest xor SHA1(data)), order
//! sensitive) the key, the type as a big-endian u32, then the value; an
//! expiring key also "xors" (order insensitive) SHA1("!!expire!!"). The
//! pair digests are hashed and xored together per database, after mixing the
//! database number into the result, so key order never matters.

use crate::keyspace::stream::StreamId;
use crate::keyspace::{Db, Entry, Value, ValueType, NO_EXPIRE};

pub type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// digest ^= SHA1(data).
pub fn xor_digest(digest: &mut Digest, data: &[u8]) {
    let h = sha1(data);
    for (d, x) in digest.iter_mut().zip(h.iter()) {
        *d ^= x;
    }
}

/// digest = SHA1(digest ^ SHA1(data)).
pub fn mix_digest(digest: &mut Digest, data: &[u8]) {
    xor_digest(digest, data);
    *digest = sha1(digest);
}

/// Redis's object type numbers (OBJ_STRING ...), hashed into the digest.
fn type_code(t: ValueType) -> u32 {
    match t {
        ValueType::String => 0,
        ValueType::List => 1,
        ValueType::Set => 2,
        ValueType::ZSet => 3,
        ValueType::Hash => 4,
        ValueType::Stream => 6,
    }
}

/// Mixes one value (and its expiry mark) into `digest`
/// (Redis's xorObjectDigest).
pub fn object_digest(digest: &mut Digest, value: &Value, expire: i64) {
    mix_digest(digest, &type_code(value.value_type()).to_be_bytes());
    match value {
        Value::Int(_) | Value::Emb(_) | Value::Raw(_) => {
            let bytes = value.as_bytes().unwrap_or_default();
            mix_digest(digest, &bytes);
        }
        Value::ZSet(z) => {
            // Each (member, %.17g score) pair is mixed on its own, then
            // xored in, so member order does not matter.
            for (score, member) in z.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, member);
                mix_digest(&mut ele, crate::util::num::fmt_double(score).as_bytes());
                xor_digest(digest, &ele);
            }
        }
        Value::Set(s) => s.digest_into(digest, xor_digest),
        Value::Hash(h) => h.digest_into(digest, mix_digest, xor_digest),
        Value::List(l) => {
            for e in l.iter() {
                mix_digest(digest, &crate::keyspace::list::elem_bytes(e));
            }
        }
        Value::Stream(s) => {
            // Each live entry: "<ms>.<seq>", then its fields and values.
            for e in s.range(StreamId::MIN, StreamId::MAX, false) {
                mix_digest(digest, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                let mut buf = itoa::Buffer::new();
                for f in e.fields() {
                    mix_digest(digest, f.bytes(&mut buf));
                }
            }
        }
    }
    if expire != NO_EXPIRE {
        xor_digest(digest, b"!!expire!!");
    }
}

/// The digest of one key/value pair.
pub fn entry_digest(e: &Entry) -> Digest {
    let mut d = [0u8; 20];
    mix_digest(&mut d, e.key.as_slice());
    object_digest(&mut d, &e.value, e.expire);
    d
}

/// The digest of the whole dataset (all zeros when it is empty).
pub fn dataset_digest(dbs: &[Db]) -> Digest {
    let mut final_d = [0u8; 20];
    for (i, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix_digest(&mut final_d, &(i as u32).to_be_bytes());
        for e in db.iter() {
            // The pair digest is itself hashed before the xor (xorDigest).
            xor_digest(&mut final_d, &entry_digest(e));
        }
    }
    final_d
}

pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_dataset_is_zero() {
        let dbs = vec![Db::new(), Db::new()];
        assert_eq!(hex(&dataset_digest(&dbs)), "0".repeat(40));
    }

    #[test]
    fn order_insensitive_and_db_sensitive() {
        let mut a = vec![Db::new(), Db::new()];
        a[0].set(b"x", Value::string(b"1"), false, 0);
        a[0].set(b"y", Value::string(b"hello"), false, 0);
        let mut b = vec![Db::new(), Db::new()];
        b[0].set(b"y", Value::string(b"hello"), false, 0);
        b[0].set(b"x", Value::string(b"1"), false, 0);
        assert_eq!(dataset_digest(&a), dataset_digest(&b));
        let mut c = vec![Db::new(), Db::new()];
        c[1].set(b"y", Value::string(b"hello"), false, 0);
        c[1].set(b"x", Value::string(b"1"), false, 0);
        assert_ne!(dataset_digest(&a), dataset_digest(&c));
        // Encoding does not matter, only the bytes.
        let mut d = vec![Db::new(), Db::new()];
        d[0].set(b"x", Value::string_no_int(b"1"), false, 0);
        d[0].set(b"y", Value::string(b"hello"), false, 0);
        assert_eq!(dataset_digest(&a), dataset_digest(&d));
    }

    #[test]
    fn matches_redis_for_one_string_key() {
        // Value computed by real redis-server 7.0.15:
        // SET foo bar; DEBUG DIGEST.
        let mut dbs = vec![Db::new()];
        dbs[0].set(b"foo", Value::string(b"bar"), false, 0);
        assert_eq!(
            hex(&dataset_digest(&dbs)),
            "d2ab4820c1be0580ea28efbfe8bfa1dc05bb802a"
        );
        // DEBUG DIGEST-VALUE foo (the value alone).
        let mut d = [0u8; 20];
        object_digest(&mut d, &Value::string(b"bar"), NO_EXPIRE);
        assert_eq!(hex(&d), "68467c70ae30376e7ce005bcc8827f5ba7fd67dc");
    }
}
