//! The append-only file: Redis 7.0's multi-part layout (a manifest, one
//! base file, incr files) under `dir/appenddirname`.
//!
//! Pure building blocks the server and the check tool share:
//! * [`manifest`]: the manifest file (parse with Redis's exact rules, write,
//!   file naming, the rewrite lifecycle), and [`startup`]: what to do with
//!   what is on disk when the server starts with `appendonly yes`;
//! * [`stream`]: the command stream inside base and incr files (an
//!   incremental reader with the server's lenient framing or
//!   redis-check-aof's strict one, MULTI/EXEC tracking, `#TS:` annotations).
//!
//! The server side: [`writer`] (the buffer of propagated commands and its
//! flush under the fsync policy), [`fsync`] (the background fsync with
//! group commit) and [`control`] (starting, loading, rewriting, INFO).

pub mod control;
pub mod fsync;
pub mod manifest;
pub mod replay;
pub mod rewrite_cmds;
pub mod startup;
pub mod stream;
pub mod writer;
