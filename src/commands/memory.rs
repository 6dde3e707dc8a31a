//! MEMORY USAGE and MEMORY HELP: how much memory a key costs in keel's
//! own layout (the boxed entry, its hash-table bucket, and the heap bytes
//! of its key and value). MEMORY STATS, DOCTOR, MALLOC-STATS and PURGE are
//! not implemented and answer Redis's unknown-subcommand error.

use super::table::{flags::*, CommandDef, KeyPos};
use super::{err, Ctx};
use crate::keyspace::Entry;
use crate::util::num::parse_i64;
use bytes::Bytes;

pub static COMMANDS: &[CommandDef] =
    &[
        CommandDef::new("memory", -2, 0, KeyPos::None, super::container_help)
            .doc(
                "server",
                "4.0.0",
                "A container for memory diagnostics commands",
                "Depends on subcommand.",
            )
            .subs(SUBS),
    ];

static SUBS: &[CommandDef] = &[
    CommandDef::new(
        "usage",
        -3,
        READONLY,
        KeyPos::Range {
            first: 2,
            last: 2,
            step: 1,
        },
        usage,
    )
    .doc(
        "server",
        "4.0.0",
        "Estimate the memory usage of a key",
        "O(N) where N is the number of samples.",
    ),
    CommandDef::new("help", 2, LOADING | STALE, KeyPos::None, help).doc(
        "server",
        "4.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
];

/// Bytes a key costs: its entry (one allocation of the 64-byte class), the
/// bucket pointer plus control byte in its slot's table, and heap data.
pub fn key_usage(e: &Entry) -> usize {
    let entry = std::mem::size_of::<Entry>().next_multiple_of(16);
    entry + 9 + e.key.heap_size() + e.value.heap_size()
}

fn usage(ctx: &mut Ctx, args: &[Bytes]) {
    let mut j = 3;
    while j < args.len() {
        if args[j].eq_ignore_ascii_case(b"samples") && j + 1 < args.len() {
            match parse_i64(&args[j + 1]) {
                None => {
                    ctx.out.error(err::NOT_INT);
                    return;
                }
                Some(n) if n < 0 => {
                    ctx.out.error(err::SYNTAX);
                    return;
                }
                Some(_) => {}
            }
            j += 2;
        } else {
            ctx.out.error(err::SYNTAX);
            return;
        }
    }
    // Like Redis, the key is looked up without expiring it or touching it.
    let db = ctx.client.db;
    match ctx.srv.dbs[db].get(&args[2]) {
        Some(e) => {
            let n = key_usage(e);
            ctx.out.int(n as i64);
        }
        None => ctx.out.null(),
    }
}

fn help(ctx: &mut Ctx, _args: &[Bytes]) {
    super::reply_help(
        ctx,
        "MEMORY",
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::key_usage;
    use crate::keyspace::{Entry, KBytes, Value, NO_EXPIRE};

    fn entry(v: Value) -> Entry {
        Entry {
            key: KBytes::new(b"k"),
            value: v,
            expire: NO_EXPIRE,
            lru: 0,
        }
    }

    #[test]
    fn usage_grows_with_the_value() {
        let small = key_usage(&entry(Value::string(b"abc")));
        let big = key_usage(&entry(Value::string(&[b'x'; 1000])));
        assert!(small >= 64 + 9);
        assert!(big >= small + 1000);
    }
}
