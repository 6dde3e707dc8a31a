//! The append-only file formats of Redis 7.0's multi-part AOF, as pure
//! building blocks the server and the check tool share:
//!
//! * [`manifest`]: the manifest file (parse with Redis's exact rules, write,
//!   file naming, the rewrite lifecycle), and [`startup`]: what to do with
//!   what is on disk when the server starts with `appendonly yes`;
//! * [`stream`]: the command stream inside base and incr files (an
//!   incremental reader with the server's lenient framing or
//!   redis-check-aof's strict one, MULTI/EXEC tracking, `#TS:` annotations)
//!   and the encoder keel appends with;
//! * [`replay`]: the stream grouped for the loader (a MULTI ... EXEC only
//!   once complete);
//! * [`feed`]: what the writer appends per command (`#TS:`, SELECT, the
//!   command);
//! * [`verdict`]: what the loader does with a file whose stream ended
//!   clean, torn or corrupt (Redis's log lines, keel's repair advice);
//! * [`check`]: redis-check-aof's per-file report lines, and
//!   [`check_tool`]: the whole tool (arguments, manifest walk, `--fix`,
//!   `--truncate-to-timestamp`) over a [`check_tool::CheckEnv`];
//! * [`rewrite_cmds`]: a base file written as commands
//!   (`aof-use-rdb-preamble no`).
//!
//! Nothing here touches sockets or the server; the only I/O is
//! [`manifest::Manifest::persist`] (through `persistence::atomic`) and the
//! `Write` the rewrite writer is given.

pub mod check;
pub mod check_tool;
pub mod feed;
pub mod manifest;
pub mod replay;
pub mod rewrite_cmds;
pub mod startup;
pub mod stream;
pub mod verdict;

#[cfg(test)]
mod fixture_tests;
