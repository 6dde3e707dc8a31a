//! SORT and SORT_RO (Redis 7.0's sort.c): sort the elements of a list, set
//! or sorted set numerically or lexicographically, optionally by external
//! keys (`BY weight_*`, `BY h_*->field`), fetch external values (`GET #`,
//! `GET data_*`), take a LIMIT window, and reply or STORE a list.
//!
//! The elements of each sortable type come from [`source`]; STORE writes
//! a list built by [`make_list`].

use super::ctx::notify;
use super::table::K1;
use super::table::{flags::*, CommandDef, KeyPos};
use super::{err, Ctx};
use crate::keyspace::Value;
use bytes::Bytes;
use std::cmp::Ordering;

const KSORT: KeyPos = KeyPos::Custom(sort_keys);

/// SORT's keys (sortGetKeys): the input and the last STORE destination.
/// LIMIT, GET and BY skip their arguments; STORE does not.
fn sort_keys(args: &[Bytes]) -> Vec<usize> {
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    let mut v = vec![1];
    v.extend(store);
    v
}

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("sort", -2, WRITE | DENYOOM | MOVABLE_KEYS, KSORT, sort).doc(
        "generic",
        "1.0.0",
        "Sort the elements in a list, set or sorted set",
        "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
    ),
    CommandDef::new("sort_ro", -2, READONLY | MOVABLE_KEYS, K1, sort_ro).doc(
        "generic",
        "7.0.0",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
    ),
];

fn sort(ctx: &mut Ctx, args: &[Bytes]) {
    sort_generic(ctx, args, false);
}

fn sort_ro(ctx: &mut Ctx, args: &[Bytes]) {
    sort_generic(ctx, args, true);
}

/// What kind of input SORT reads; it decides Redis's no-sort shortcuts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    List,
    Set,
    ZSet,
}

struct Item {
    obj: Bytes,
    score: f64,
    cmp: Option<Vec<u8>>,
}

struct Opts {
    desc: bool,
    alpha: bool,
    limit: (i64, i64),
    store: Option<Bytes>,
    by: Option<Bytes>,
    dontsort: bool,
    gets: Vec<Bytes>,
}

fn parse_opts(ctx: &mut Ctx, args: &[Bytes], readonly: bool) -> Option<Opts> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit: (0, -1),
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j].to_ascii_lowercase();
        match a.as_slice() {
            b"asc" => o.desc = false,
            b"desc" => o.desc = true,
            b"alpha" => o.alpha = true,
            b"limit" if left >= 2 => {
                let s = super::zsets::parse_long(ctx, &args[j + 1], None)?;
                let c = super::zsets::parse_long(ctx, &args[j + 2], None)?;
                o.limit = (s, c);
                j += 2;
            }
            b"store" if !readonly && left >= 1 => {
                o.store = Some(args[j + 1].clone());
                j += 1;
            }
            b"by" if left >= 1 => {
                o.by = Some(args[j + 1].clone());
                // A BY without '*' disables sorting for good: a later
                // BY pattern does not turn it back on (as sort.c).
                if !args[j + 1].contains(&b'*') {
                    o.dontsort = true;
                }
                j += 1;
            }
            b"get" if left >= 1 => {
                o.gets.push(args[j + 1].clone());
                j += 1;
            }
            _ => {
                ctx.out.error(err::SYNTAX);
                return None;
            }
        }
        j += 1;
    }
    Some(o)
}

/// strtod over the whole string, as SORT converts scores: leading blanks
/// allowed, an empty string is 0, NaN and out-of-range values rejected.
fn sort_score(b: &[u8]) -> Option<f64> {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let t = &b[start..];
    if t.is_empty() {
        return Some(0.0);
    }
    let v = crate::util::num::parse_f64(t)?;
    let lower = t.to_ascii_lowercase();
    if v.is_infinite() && !lower.ends_with(b"inf") && !lower.ends_with(b"infinity") {
        return None;
    }
    let mantissa = lower.split(|&c| c == b'e').next().unwrap_or(&[]);
    if v == 0.0 && mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
        return None;
    }
    Some(v)
}

/// lookupKeyByPattern: `#` is the element itself; otherwise the first `*`
/// is replaced by the element and the key (or `key->field`) is read.
fn lookup_by_pattern(ctx: &mut Ctx, pat: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pat == b"#" {
        return Some(elem.to_vec());
    }
    let star = pat.iter().position(|&c| c == b'*')?;
    let after = &pat[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&i| i + 2 < after.len());
    let (post, field) = match arrow {
        Some(i) => (&after[..i], Some(&after[i + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pat.len() + elem.len());
    key.extend_from_slice(&pat[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    let e = ctx.lookup_read(&key)?;
    match field {
        Some(f) => hash_field(&e.value, f),
        None if e.value.is_string() => e.value.as_bytes().map(|b| b.into_owned()),
        None => None,
    }
}

fn sort_generic(ctx: &mut Ctx, args: &[Bytes], readonly: bool) {
    let Some(mut o) = parse_opts(ctx, args, readonly) else {
        return;
    };
    let (kind, elems) = match ctx.lookup_read(&args[1]) {
        None => (Kind::List, Vec::new()),
        Some(e) => match source(&e.value) {
            Some(x) => x,
            None => {
                ctx.out.error(err::WRONGTYPE);
                return;
            }
        },
    };
    // A set's order is not deterministic: force ALPHA when the result is
    // stored or goes to a script (Redis's CLIENT_SCRIPT check).
    if o.dontsort && kind == Kind::Set && (o.store.is_some() || ctx.client.flags.script) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let mut vectorlen = elems.len() as i64;
    let mut start = o.limit.0.max(0).min(vectorlen);
    let count = o.limit.1.max(-1).min(vectorlen);
    let mut end = if count < 0 {
        vectorlen - 1
    } else {
        start + count - 1
    };
    if start >= vectorlen {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if end >= vectorlen {
        end = vectorlen - 1;
    }
    let mut vector: Vec<Item>;
    if o.dontsort && kind != Kind::Set {
        // Lists and sorted sets are already ordered: take the window only.
        if start != 0 || end != vectorlen - 1 {
            vectorlen = end - start + 1;
        }
        let n = vectorlen.max(0) as usize;
        let it: Box<dyn Iterator<Item = Bytes>> = if o.desc {
            Box::new(elems.into_iter().rev().skip(start.max(0) as usize))
        } else {
            Box::new(elems.into_iter().skip(start.max(0) as usize))
        };
        vector = it
            .take(n)
            .map(|obj| Item {
                obj,
                score: 0.0,
                cmp: None,
            })
            .collect();
        if end >= start {
            end -= start;
            start = 0;
        }
    } else {
        vector = elems
            .into_iter()
            .map(|obj| Item {
                obj,
                score: 0.0,
                cmp: None,
            })
            .collect();
    }
    let mut conversion_error = false;
    if !o.dontsort {
        for it in vector.iter_mut() {
            let byval = match &o.by {
                Some(p) => match lookup_by_pattern(ctx, p, &it.obj) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.obj.to_vec(),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = Some(byval);
                }
            } else {
                match sort_score(&byval) {
                    Some(s) => it.score = s,
                    None => conversion_error = true,
                }
            }
        }
        let (alpha, bypattern, desc) = (o.alpha, o.by.is_some(), o.desc);
        vector.sort_by(|a, b| {
            let c = compare(a, b, alpha, bypattern);
            if desc {
                c.reverse()
            } else {
                c
            }
        });
    }
    let window: Vec<&Item> = if end >= start && start >= 0 {
        vector[start as usize..=end as usize].iter().collect()
    } else {
        Vec::new()
    };
    let outputlen = if o.gets.is_empty() {
        window.len()
    } else {
        o.gets.len() * window.len()
    };
    if conversion_error {
        ctx.out
            .error("ERR One or more scores can't be converted into double");
        return;
    }
    let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(outputlen);
    for it in &window {
        if o.gets.is_empty() {
            values.push(Some(it.obj.to_vec()));
        }
        for g in &o.gets {
            values.push(lookup_by_pattern(ctx, g, &it.obj));
        }
    }
    let Some(dst) = o.store else {
        ctx.out.array_len(values.len());
        for v in &values {
            match v {
                Some(b) => ctx.out.bulk(b),
                None => ctx.out.null(),
            }
        }
        return;
    };
    if outputlen > 0 {
        let items: Vec<Bytes> = values
            .into_iter()
            .map(|v| Bytes::from(v.unwrap_or_default()))
            .collect();
        let fill = ctx.srv.config.list_max_listpack_size;
        ctx.set_key(&dst, make_list(items, fill), false);
        ctx.notify(notify::LIST, "sortstore", &dst);
        ctx.dirty += outputlen as u64;
    } else if ctx.delete_key(&dst) {
        ctx.notify(notify::GENERIC, "del", &dst);
        ctx.dirty += 1;
    }
    ctx.out.int(outputlen as i64);
}

/// sortCompare (ascending; the caller reverses for DESC).
fn compare(a: &Item, b: &Item, alpha: bool, bypattern: bool) -> Ordering {
    if !alpha {
        return a
            .score
            .partial_cmp(&b.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.obj.cmp(&b.obj));
    }
    if bypattern {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        }
    } else {
        a.obj.cmp(&b.obj)
    }
}

/// The elements of a sortable value in its natural order (list order,
/// set iteration order, sorted set ascending), or None for other types.
pub(crate) fn source(v: &Value) -> Option<(Kind, Vec<Bytes>)> {
    match v {
        Value::List(l) => Some((
            Kind::List,
            l.iter()
                .map(|e| Bytes::copy_from_slice(&crate::keyspace::list::elem_bytes(e)))
                .collect(),
        )),
        Value::ZSet(z) => Some((
            Kind::ZSet,
            z.iter().map(|e| Bytes::copy_from_slice(e.1)).collect(),
        )),
        Value::Set(s) => Some((
            Kind::Set,
            s.iter().map(|m| Bytes::copy_from_slice(&m)).collect(),
        )),
        _ => None,
    }
}

/// The value of `field` in a hash value (BY/GET `key->field`); None when
/// the value is not a hash.
fn hash_field(v: &Value, field: &[u8]) -> Option<Vec<u8>> {
    match v {
        Value::Hash(h) => h.get(field).map(|x| x.to_vec()),
        _ => None,
    }
}

/// The list value SORT ... STORE writes, in order.
fn make_list(items: Vec<Bytes>, fill: i64) -> Value {
    let mut l = crate::keyspace::list::ListValue::with_fill(fill);
    for it in &items {
        l.push(crate::keyspace::list::End::Tail, it);
    }
    Value::List(Box::new(l))
}

#[cfg(test)]
mod tests {
    use super::{sort_keys, sort_score};
    use bytes::Bytes;

    #[test]
    fn keys_take_the_last_store() {
        let a: Vec<Bytes> = "sort abc store invalid store stillbad store def"
            .split(' ')
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        assert_eq!(sort_keys(&a), vec![1, 7]);
        let b: Vec<Bytes> = "sort abc get store by store limit store 1 2"
            .split(' ')
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        assert_eq!(sort_keys(&b), vec![1]);
    }

    #[test]
    fn strtod_rules() {
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b"  1.5"), Some(1.5));
        assert_eq!(sort_score(b"1e400"), None);
        assert_eq!(sort_score(b"1e-400"), None);
        assert_eq!(sort_score(b"inf"), Some(f64::INFINITY));
        assert_eq!(sort_score(b"nan"), None);
        assert_eq!(sort_score(b"1 "), None);
        assert_eq!(sort_score(b"0e5"), Some(0.0));
    }
}
