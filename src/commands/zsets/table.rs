//! The sorted set command table (arity, flags and docs from Redis 7.0's
//! command JSON files).

use super::{pop, range, setops};
use crate::commands::table::{flags::*, CommandDef, KeyPos};
use crate::commands::table::{K1, K12};
use bytes::Bytes;

const KBLOCK: KeyPos = KeyPos::Range {
    first: 1,
    last: -2,
    step: 1,
};
const NK1: KeyPos = KeyPos::NumKeys {
    count_at: 1,
    first: 2,
    step: 1,
};
const NK2: KeyPos = KeyPos::NumKeys {
    count_at: 2,
    first: 3,
    step: 1,
};
const KSTORE: KeyPos = KeyPos::Custom(store_keys);

/// ZUNIONSTORE-style keys: the destination, then `numkeys` inputs
/// (none when numkeys is out of range, as zunionInterDiffStoreGetKeys).
fn store_keys(args: &[Bytes]) -> Vec<usize> {
    let n = args
        .get(2)
        .and_then(|a| crate::util::num::parse_i64(a))
        .unwrap_or(0);
    if n < 1 || n > args.len() as i64 - 3 {
        return Vec::new();
    }
    let mut v = vec![1];
    v.extend(3..3 + n as usize);
    v
}

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("zadd", -4, WRITE | DENYOOM | FAST, K1, super::zadd).doc(
        "sorted_set",
        "1.2.0",
        "Add one or more members to a sorted set, or update its score if it already exists",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
    ),
    CommandDef::new("zincrby", 4, WRITE | DENYOOM | FAST, K1, super::zincrby).doc(
        "sorted_set",
        "1.2.0",
        "Increment the score of a member in a sorted set",
        "O(log(N)) where N is the number of elements in the sorted set.",
    ),
    CommandDef::new("zrem", -3, WRITE | FAST, K1, super::zrem).doc(
        "sorted_set",
        "1.2.0",
        "Remove one or more members from a sorted set",
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
    ),
    CommandDef::new("zcard", 2, READONLY | FAST, K1, super::zcard).doc(
        "sorted_set",
        "1.2.0",
        "Get the number of members in a sorted set",
        "O(1)",
    ),
    CommandDef::new("zcount", 4, READONLY | FAST, K1, super::zcount).doc(
        "sorted_set",
        "2.0.0",
        "Count the members in a sorted set with scores within the given values",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    CommandDef::new("zlexcount", 4, READONLY | FAST, K1, super::zlexcount).doc(
        "sorted_set",
        "2.8.9",
        "Count the number of members in a sorted set between a given lexicographical range",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    CommandDef::new("zscore", 3, READONLY | FAST, K1, super::zscore).doc(
        "sorted_set",
        "1.2.0",
        "Get the score associated with the given member in a sorted set",
        "O(1)",
    ),
    CommandDef::new("zmscore", -3, READONLY | FAST, K1, super::zmscore).doc(
        "sorted_set",
        "6.2.0",
        "Get the score associated with the given members in a sorted set",
        "O(N) where N is the number of members being requested.",
    ),
    CommandDef::new("zrank", 3, READONLY | FAST, K1, super::zrank).doc(
        "sorted_set",
        "2.0.0",
        "Determine the index of a member in a sorted set",
        "O(log(N))",
    ),
    CommandDef::new("zrevrank", 3, READONLY | FAST, K1, super::zrevrank).doc(
        "sorted_set",
        "2.0.0",
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        "O(log(N))",
    ),
    CommandDef::new("zrange", -4, READONLY, K1, range::zrange).doc(
        "sorted_set",
        "1.2.0",
        "Return a range of members in a sorted set",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
    ),
    CommandDef::new("zrangestore", -5, WRITE | DENYOOM, K12, range::zrangestore).doc(
        "sorted_set",
        "6.2.0",
        "Store a range of members from sorted set into another key",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
    ),
    CommandDef::new("zrevrange", -4, READONLY, K1, range::zrevrange).doc(
        "sorted_set",
        "1.2.0",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
    ),
    CommandDef::new("zrangebyscore", -4, READONLY, K1, range::zrangebyscore).doc(
        "sorted_set",
        "1.0.5",
        "Return a range of members in a sorted set, by score",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
    ),
    CommandDef::new("zrevrangebyscore", -4, READONLY, K1, range::zrevrangebyscore).doc(
        "sorted_set",
        "2.2.0",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
    ),
    CommandDef::new("zrangebylex", -4, READONLY, K1, range::zrangebylex).doc(
        "sorted_set",
        "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
    ),
    CommandDef::new("zrevrangebylex", -4, READONLY, K1, range::zrevrangebylex).doc(
        "sorted_set",
        "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
    ),
    CommandDef::new("zremrangebyrank", 4, WRITE, K1, super::zremrangebyrank).doc(
        "sorted_set",
        "2.0.0",
        "Remove all members in a sorted set within the given indexes",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
    ),
    CommandDef::new("zremrangebyscore", 4, WRITE, K1, super::zremrangebyscore).doc(
        "sorted_set",
        "1.2.0",
        "Remove all members in a sorted set within the given scores",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
    ),
    CommandDef::new("zremrangebylex", 4, WRITE, K1, super::zremrangebylex).doc(
        "sorted_set",
        "2.8.9",
        "Remove all members in a sorted set between the given lexicographical range",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
    ),
    CommandDef::new("zpopmin", -2, WRITE | FAST, K1, pop::zpopmin).doc(
        "sorted_set",
        "5.0.0",
        "Remove and return members with the lowest scores in a sorted set",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
    ),
    CommandDef::new("zpopmax", -2, WRITE | FAST, K1, pop::zpopmax).doc(
        "sorted_set",
        "5.0.0",
        "Remove and return members with the highest scores in a sorted set",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
    ),
    CommandDef::new("zmpop", -4, WRITE | MOVABLE_KEYS, NK1, pop::zmpop).doc(
        "sorted_set",
        "7.0.0",
        "Remove and return members with scores in a sorted set",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
    ),
    CommandDef::new("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, KBLOCK, pop::bzpopmin).doc(
        "sorted_set",
        "5.0.0",
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    CommandDef::new("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, KBLOCK, pop::bzpopmax).doc(
        "sorted_set",
        "5.0.0",
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    CommandDef::new("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, NK2, pop::bzmpop).doc(
        "sorted_set",
        "7.0.0",
        "Remove and return members with scores in a sorted set or block until one is available",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
    ),
    CommandDef::new("zrandmember", -2, READONLY, K1, pop::zrandmember).doc(
        "sorted_set",
        "6.2.0",
        "Get one or multiple random elements from a sorted set",
        "O(N) where N is the number of elements returned",
    ),
    CommandDef::new("zunion", -3, READONLY | MOVABLE_KEYS, NK1, setops::zunion).doc(
        "sorted_set",
        "6.2.0",
        "Add multiple sorted sets",
        "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
    ),
    CommandDef::new("zunionstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, KSTORE, setops::zunionstore).doc(
        "sorted_set",
        "2.0.0",
        "Add multiple sorted sets and store the resulting sorted set in a new key",
        "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
    ),
    CommandDef::new("zinter", -3, READONLY | MOVABLE_KEYS, NK1, setops::zinter).doc(
        "sorted_set",
        "6.2.0",
        "Intersect multiple sorted sets",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
    ),
    CommandDef::new("zinterstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, KSTORE, setops::zinterstore).doc(
        "sorted_set",
        "2.0.0",
        "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
    ),
    CommandDef::new("zintercard", -3, READONLY | MOVABLE_KEYS, NK1, setops::zintercard).doc(
        "sorted_set",
        "7.0.0",
        "Intersect multiple sorted sets and return the cardinality of the result",
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
    ),
    CommandDef::new("zdiff", -3, READONLY | MOVABLE_KEYS, NK1, setops::zdiff).doc(
        "sorted_set",
        "6.2.0",
        "Subtract multiple sorted sets",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
    ),
    CommandDef::new("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, KSTORE, setops::zdiffstore).doc(
        "sorted_set",
        "6.2.0",
        "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
    ),
    CommandDef::new("zscan", -3, READONLY, K1, setops::zscan).doc(
        "sorted_set",
        "2.8.0",
        "Incrementally iterate sorted sets elements and associated scores",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
    ),
];
