//! Decoding one RDB value (Redis's rdbLoadObject) into keel's in-memory
//! types, for every type byte from Redis 2.2 to Redis 7.4 / Valkey 8.
//!
//! The in-memory encoding is chosen as Redis 7.0 chooses it after loading
//! (hash and zset: listpack within the limits, else hashtable/skiplist;
//! sets: intset when all members are integers and few enough, else
//! hashtable). Every blob is walked completely, so a damaged blob is an
//! error, never a panic or a wrong value later. Duplicates inside hashes,
//! sets and sorted sets are always rejected (keel's structures cannot hold
//! them); `Limits::deep` adds the checks Redis only makes when sanitizing.
//! Empty collections decode to `None` ("skipping empty key"), as in Redis.

use super::listpack::{self, LpEntry, LpWriter};
use super::read::Reader;
use super::{decode_stream, types, ziplist, zipmap, Limits, RdbError};
use crate::keyspace::bytes::KBytes;
use crate::keyspace::hash::{self, HashValue};
use crate::keyspace::intset::IntSet;
use crate::keyspace::list::{End, ListValue, Node};
use crate::keyspace::packed::Packed;
use crate::keyspace::set::{self, SetValue};
use crate::keyspace::zset::{ZEncoding, ZSet};
use crate::keyspace::Value;
use crate::util::num::{parse_f64, parse_i64};
use hashbrown::{HashSet, HashTable};
use indexmap::{IndexMap, IndexSet};
use std::borrow::Cow;
use std::hash::BuildHasher;

/// Reads one value of type `type_byte`. `None` means an empty collection
/// that Redis skips.
pub fn decode_object(
    r: &mut Reader,
    type_byte: u8,
    lim: &Limits,
) -> Result<Option<Value>, RdbError> {
    decode(r, type_byte, lim).map_err(|mut e| {
        e.type_byte = Some(type_byte);
        e
    })
}

fn decode(r: &mut Reader, t: u8, lim: &Limits) -> Result<Option<Value>, RdbError> {
    use types::*;
    match t {
        STRING => Ok(Some(Value::string(&r.string()?))),
        LIST => {
            let n = r.count()?;
            let mut l = ListValue::with_fill(lim.list_fill);
            for _ in 0..n {
                l.push(End::Tail, &r.string()?);
            }
            Ok(nonempty_list(l))
        }
        SET => read_set(r, lim),
        ZSET | ZSET_2 => read_zset(r, t == ZSET_2, lim),
        HASH => read_hash(r, lim),
        MODULE | MODULE_2 => {
            let id = r.length()?;
            Err(r.err(format!(
                "The RDB file contains module data I can't load: no matching module type '{}'",
                module_name(id)
            )))
        }
        HASH_ZIPMAP => {
            let b = r.string()?;
            let pairs = zipmap::pairs(&b).map_err(|_| r.err("Zipmap integrity check failed."))?;
            let mut seen = HashSet::with_capacity(pairs.len());
            let mut maxlen = 0;
            for (f, v) in &pairs {
                if !seen.insert(*f) {
                    return Err(r.err(format!(
                        "Hash zipmap with dup elements, or big length ({})",
                        f.len()
                    )));
                }
                maxlen = maxlen.max(f.len()).max(v.len());
            }
            let table = pairs.len() > lim.hash.max_entries || maxlen > lim.hash.max_value;
            Ok(Some(Value::Hash(build_hash(pairs.into_iter(), table))))
        }
        LIST_ZIPLIST => {
            let b = r.string()?;
            let e =
                ziplist::entries(&b).map_err(|_| r.err("List ziplist integrity check failed."))?;
            let mut l = ListValue::with_fill(lim.list_fill);
            for x in e {
                l.push(End::Tail, &x.to_bytes());
            }
            Ok(nonempty_list(l))
        }
        SET_INTSET => {
            let b = r.string()?;
            let is = IntSet::from_blob(&b).map_err(|_| r.err("Intset integrity check failed."))?;
            let mut s = SetValue::Intset(is);
            if s.len() > lim.set_max_intset_entries {
                s.convert_to_table();
            }
            Ok(Some(Value::Set(s)))
        }
        SET_LISTPACK => {
            let b = r.string()?;
            let e =
                listpack::entries(&b).map_err(|_| r.err("Set listpack integrity check failed."))?;
            let members: Vec<Cow<[u8]>> = e.into_iter().map(entry_bytes).collect();
            if has_duplicates(members.iter().map(|m| &**m), members.len()) {
                return Err(r.err("Set listpack integrity check failed."));
            }
            Ok(build_set(members.iter().map(|m| &**m), members.len(), lim))
        }
        ZSET_ZIPLIST | ZSET_LISTPACK => {
            let b = r.string()?;
            let (e, what) = if t == ZSET_ZIPLIST {
                (ziplist::entries(&b), "Zset ziplist integrity check failed.")
            } else {
                (
                    listpack::entries(&b),
                    "Zset listpack integrity check failed.",
                )
            };
            let e = e.map_err(|_| r.err(what))?;
            if e.len() % 2 != 0 {
                return Err(r.err(what));
            }
            let mut items = Vec::with_capacity(e.len() / 2);
            for p in e.chunks_exact(2) {
                let score = entry_score(p[1]).ok_or_else(|| r.err(what))?;
                items.push((entry_bytes(p[0]), score));
            }
            // Redis keeps a loaded listpack as is unless it has too many
            // entries (it does not scan the member lengths).
            let enc = if items.len() > lim.zset.max_entries {
                ZEncoding::Skiplist
            } else {
                ZEncoding::Listpack
            };
            build_zset(items, enc, r, what)
        }
        HASH_ZIPLIST | HASH_LISTPACK => {
            let b = r.string()?;
            let (e, what) = if t == HASH_ZIPLIST {
                (ziplist::entries(&b), "Hash ziplist integrity check failed.")
            } else {
                (
                    listpack::entries(&b),
                    "Hash listpack integrity check failed.",
                )
            };
            let e = e.map_err(|_| r.err(what))?;
            if e.len() % 2 != 0 {
                return Err(r.err(what));
            }
            if e.is_empty() {
                return Ok(None);
            }
            let entries: Vec<Cow<[u8]>> = e.into_iter().map(entry_bytes).collect();
            let n = entries.len() / 2;
            if has_duplicates(entries.iter().step_by(2).map(|f| &**f), n) {
                return Err(r.err(what));
            }
            let table = n > lim.hash.max_entries;
            let it = entries.chunks_exact(2).map(|p| (&*p[0], &*p[1]));
            Ok(Some(Value::Hash(build_hash(it, table))))
        }
        LIST_QUICKLIST | LIST_QUICKLIST_2 => read_quicklist(r, t == LIST_QUICKLIST_2, lim),
        STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => {
            decode_stream::read_stream(r, t, lim).map(|s| Some(Value::Stream(Box::new(s))))
        }
        HASH_METADATA_PRE_GA | HASH_METADATA => read_hash_with_ttls(r, t == HASH_METADATA, lim),
        HASH_LISTPACK_EX_PRE_GA | HASH_LISTPACK_EX => {
            if t == HASH_LISTPACK_EX {
                r.time_ms()?; // the hash's smallest field expire: a hint
            }
            let b = r.string()?;
            let what = "Hash listpack integrity check failed.";
            let e = listpack::entries(&b).map_err(|_| r.err(what))?;
            if e.len() % 3 != 0 {
                return Err(r.err(what));
            }
            let now = now_ms();
            let mut pairs = Vec::with_capacity(e.len() / 3);
            let mut seen = HashSet::with_capacity(e.len() / 3);
            for t in e.chunks_exact(3) {
                let f = t[0].to_bytes();
                let ttl = t[2].as_int().ok_or_else(|| r.err(what))?;
                if !seen.insert(f.clone()) {
                    return Err(r.err(what));
                }
                if field_alive(r, &f, ttl as u64, now)? {
                    pairs.push((f, t[1].to_bytes()));
                }
            }
            if pairs.is_empty() {
                return Ok(None);
            }
            let table = pairs.len() > lim.hash.max_entries;
            let it = pairs.iter().map(|(f, v)| (f.as_slice(), v.as_slice()));
            Ok(Some(Value::Hash(build_hash(it, table))))
        }
        _ => Err(r.err(format!("Unknown RDB encoding type {t}"))),
    }
}

fn nonempty_list(l: ListValue) -> Option<Value> {
    (!l.is_empty()).then(|| Value::List(Box::new(l)))
}

/// A listpack / ziplist element as bytes: borrowed from the blob, or an
/// integer formatted in decimal.
fn entry_bytes(e: LpEntry) -> Cow<[u8]> {
    match e {
        LpEntry::Str(s) => Cow::Borrowed(s),
        LpEntry::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
    }
}

/// Whether `items` (`n` of them) holds a string twice: every pair
/// compared while few, a hash set beyond.
fn has_duplicates<'a>(items: impl Iterator<Item = &'a [u8]> + Clone, n: usize) -> bool {
    if n <= 16 {
        let mut rest = items.clone();
        items.into_iter().any(|a| {
            rest.next();
            rest.clone().any(|b| a == b)
        })
    } else {
        let mut seen = HashSet::with_capacity(n);
        !items.into_iter().all(|x| seen.insert(x))
    }
}

/// The current time in ms (for hash field TTLs already past).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A hash field's TTL (absolute ms, 0 = none): true to keep the field,
/// false if it already expired; a future TTL cannot be honoured by keel.
fn field_alive(r: &Reader, field: &[u8], expire_at: u64, now: i64) -> Result<bool, RdbError> {
    if expire_at == 0 {
        return Ok(true);
    }
    if expire_at >= 1 << 48 {
        return Err(r.err(format!("invalid expireAt time: {expire_at}")));
    }
    if (expire_at as i64) < now {
        return Ok(false);
    }
    Err(r.err(format!(
        "Hash field '{}' has a TTL in the future (at {} ms): hash field TTLs (Redis 7.4) are not supported",
        String::from_utf8_lossy(field),
        expire_at
    )))
}

/// Types 22 and 24: per field a TTL, the field and the value.
fn read_hash_with_ttls(
    r: &mut Reader,
    relative: bool,
    lim: &Limits,
) -> Result<Option<Value>, RdbError> {
    let min_expire = if relative { r.time_ms()? as u64 } else { 0 };
    let n = r.count()?;
    let now = now_ms();
    let mut pairs: IndexMap<Vec<u8>, Vec<u8>, hash::Builder> = IndexMap::default();
    for _ in 0..n {
        let ttl = r.length()?;
        let at = if relative && ttl != 0 {
            ttl.wrapping_add(min_expire).wrapping_sub(1)
        } else {
            ttl
        };
        let f = r.string()?.into_owned();
        let v = r.string()?.into_owned();
        if pairs.contains_key(&f) {
            return Err(r.err("Duplicate hash fields detected"));
        }
        if field_alive(r, &f, at, now)? {
            pairs.insert(f, v);
        }
    }
    if pairs.is_empty() {
        return Ok(None);
    }
    let maxlen = pairs
        .iter()
        .map(|(f, v)| f.len().max(v.len()))
        .max()
        .unwrap_or(0);
    let table = pairs.len() > lim.hash.max_entries || maxlen > lim.hash.max_value;
    let it = pairs.iter().map(|(f, v)| (f.as_slice(), v.as_slice()));
    Ok(Some(Value::Hash(build_hash(it, table))))
}

/// A hash from distinct pairs, as a listpack or a table.
fn build_hash<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>, table: bool) -> HashValue {
    if table {
        let mut m =
            IndexMap::with_capacity_and_hasher(pairs.size_hint().0, hash::Builder::default());
        for (f, v) in pairs {
            m.insert(KBytes::new(f), KBytes::new(v));
        }
        HashValue::Table(Box::new(m))
    } else {
        HashValue::Listpack(Packed::from_entries(pairs.flat_map(|(f, v)| [f, v])))
    }
}

/// A field and its value, borrowed from the input where possible.
type Pair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// Type 4: field, value pairs; listpack while small (Redis's rule).
/// Fields and values stay borrowed from the input until the encoding is
/// known. Duplicates are found as each pair is read, with Redis's message
/// for the encoding the hash has at that point.
fn read_hash(r: &mut Reader, lim: &Limits) -> Result<Option<Value>, RdbError> {
    let n = r.count()?;
    if n == 0 {
        return Ok(None);
    }
    let builder = hash::Builder::default();
    let mut small: Vec<Pair> = Vec::new();
    // Indices into `small` by field hash, for the duplicate check.
    let mut index: HashTable<usize> = HashTable::new();
    let mut table: Option<IndexMap<KBytes, KBytes, hash::Builder>> =
        (n as usize > lim.hash.max_entries).then(|| {
            // Each pair takes at least 2 bytes of the remaining input.
            let cap = (n as usize).min(r.remaining() / 2);
            IndexMap::with_capacity_and_hasher(cap, hash::Builder::default())
        });
    for _ in 0..n {
        let f = r.string()?;
        let v = r.string()?;
        match &mut table {
            Some(m) => {
                if m.insert(KBytes::new(&f), KBytes::new(&v)).is_some() {
                    return Err(r.err("Duplicate hash fields detected"));
                }
            }
            None => {
                let h = builder.hash_one(&*f);
                if index.find(h, |&i| small[i].0 == f).is_some() {
                    return Err(r.err("Hash with dup elements"));
                }
                if f.len() > lim.hash.max_value || v.len() > lim.hash.max_value {
                    let mut m = IndexMap::with_capacity_and_hasher(
                        small.len() + 1,
                        hash::Builder::default(),
                    );
                    for (a, b) in small.drain(..) {
                        m.insert(KBytes::new(&a), KBytes::new(&b));
                    }
                    m.insert(KBytes::new(&f), KBytes::new(&v));
                    table = Some(m);
                } else {
                    index.insert_unique(h, small.len(), |&i| builder.hash_one(&*small[i].0));
                    small.push((f, v));
                }
            }
        }
    }
    Ok(Some(Value::Hash(match table {
        Some(m) => HashValue::Table(Box::new(m)),
        None => build_hash(small.iter().map(|(f, v)| (&**f, &**v)), false),
    })))
}

/// Type 2: members; intset while every member is an integer and the set is
/// small enough.
fn read_set(r: &mut Reader, lim: &Limits) -> Result<Option<Value>, RdbError> {
    let n = r.count()?;
    if n == 0 {
        return Ok(None);
    }
    let max = lim.set_max_intset_entries.min(1 << 30);
    let mut s = if n as usize > max {
        // Each member takes at least a byte of the remaining input.
        let cap = (n as usize).min(r.remaining());
        SetValue::Table(Box::new(IndexSet::with_capacity_and_hasher(
            cap,
            set::Builder::default(),
        )))
    } else {
        SetValue::new_intset()
    };
    for i in 0..n {
        let m = r.string()?;
        if let SetValue::Intset(is) = &mut s {
            if parse_i64(&m).is_none() {
                s.convert_to_table();
                // Room for the members still to come, as Redis expands
                // the dict to the set's length when it converts.
                if let SetValue::Table(t) = &mut s {
                    t.reserve((n - i) as usize);
                }
            } else if !is.insert(parse_i64(&m).expect("checked")) {
                return Err(r.err("Duplicate set members detected"));
            }
        }
        if let SetValue::Table(t) = &mut s {
            if !t.insert(KBytes::new(&m)) {
                return Err(r.err("Duplicate set members detected"));
            }
        }
    }
    Ok(Some(Value::Set(s)))
}

/// A set from distinct members with the encoding Redis 7.0 would pick.
fn build_set<'a>(
    members: impl Iterator<Item = &'a [u8]> + Clone,
    n: usize,
    lim: &Limits,
) -> Option<Value> {
    if n == 0 {
        return None;
    }
    let ints = n <= lim.set_max_intset_entries.min(1 << 30)
        && members.clone().all(|m| parse_i64(m).is_some());
    let s = if ints {
        let mut is = IntSet::new();
        for m in members {
            is.insert(parse_i64(m).expect("checked"));
        }
        SetValue::Intset(is)
    } else {
        let mut t = IndexSet::with_capacity_and_hasher(n, set::Builder::default());
        for m in members {
            t.insert(KBytes::new(m));
        }
        SetValue::Table(Box::new(t))
    };
    Some(Value::Set(s))
}

/// A listpack / ziplist score: an integer entry or text parsed as a double.
fn entry_score(e: LpEntry) -> Option<f64> {
    match e {
        LpEntry::Int(n) => Some(n as f64),
        LpEntry::Str(s) => parse_f64(s),
    }
}

/// Types 3 and 5: member, score pairs; converted to a listpack after
/// loading when it fits (Redis's rule).
fn read_zset(r: &mut Reader, binary: bool, lim: &Limits) -> Result<Option<Value>, RdbError> {
    let n = r.count()?;
    if n == 0 {
        return Ok(None);
    }
    let mut items = Vec::with_capacity((n as usize).min(4096));
    for _ in 0..n {
        let m = r.string()?;
        let score = if binary {
            r.binary_double()?
        } else {
            r.ascii_double()?
        };
        if score.is_nan() {
            return Err(r.err("Zset with NAN score detected"));
        }
        items.push((m, score));
    }
    let maxlen = items.iter().map(|i| i.0.len()).max().unwrap_or(0);
    let enc = if items.len() <= lim.zset.max_entries && maxlen <= lim.zset.max_value {
        ZEncoding::Listpack
    } else {
        ZEncoding::Skiplist
    };
    build_zset(items, enc, r, "Duplicate zset fields detected")
}

/// A sorted set of `items` (member, score) in encoding `enc`, built in
/// one pass; a duplicate member or a NaN score is the error `dup_msg` /
/// "Zset with NAN score detected".
fn build_zset(
    items: Vec<(Cow<[u8]>, f64)>,
    enc: ZEncoding,
    r: &Reader,
    dup_msg: &str,
) -> Result<Option<Value>, RdbError> {
    if items.is_empty() {
        return Ok(None);
    }
    if items.iter().any(|i| i.1.is_nan()) {
        return Err(r.err("Zset with NAN score detected"));
    }
    let elems = items.iter().map(|(m, s)| (*s, &**m)).collect();
    let z = ZSet::from_distinct(elems, enc).map_err(|_| r.err(dup_msg))?;
    Ok(Some(Value::ZSet(z)))
}

/// Types 14 (ziplist nodes, converted to listpacks) and 18 (plain and
/// packed listpack nodes, adopted as they are once validated), as
/// rdbLoadObject does; empty nodes are skipped.
fn read_quicklist(r: &mut Reader, v2: bool, lim: &Limits) -> Result<Option<Value>, RdbError> {
    let n = r.count()?;
    let mut l = ListValue::with_fill(lim.list_fill);
    for _ in 0..n {
        let container = if v2 { r.length()? } else { 2 };
        if container != 1 && container != 2 {
            return Err(r.err("Quicklist integrity check failed."));
        }
        let data = r.string()?;
        if data.is_empty() {
            return Err(r.err(super::read::EOF_MSG));
        }
        if container == 1 {
            l.append_node(Node::plain(data.to_vec()));
            continue;
        }
        if v2 {
            let count = listpack::validated_len(&data)
                .map_err(|_| r.err("Listpack integrity check failed."))?;
            l.append_node(Node::from_listpack(data.to_vec(), count));
        } else {
            let e =
                ziplist::entries(&data).map_err(|_| r.err("Ziplist integrity check failed."))?;
            let mut lp = LpWriter::new();
            for x in e {
                match x {
                    LpEntry::Str(s) => lp.push_str(s),
                    LpEntry::Int(v) => lp.push_int(v),
                }
            }
            let count = lp.len();
            l.append_node(Node::from_listpack(lp.finish(), count));
        }
    }
    Ok(nonempty_list(l))
}

/// Redis's moduleTypeNameByID: 9 characters of 6 bits above the 10-bit
/// encoding version.
pub fn module_name(id: u64) -> String {
    const CSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = id >> 10;
    let mut name = [0u8; 9];
    for j in (0..9).rev() {
        name[j] = CSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

#[cfg(test)]
#[path = "decode_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "decode_prop_tests.rs"]
mod prop_tests;
