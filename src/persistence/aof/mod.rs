//! The append-only file: Redis 7.0's multi-part layout (a manifest, one
//! base file, incr files) under `dir/appenddirname`.
//!
//! Pure building blocks the server and the check tool share:
//! * [`manifest`]: the manifest file (parse with Redis's exact rules, write,
//!   file naming, the rewrite lifecycle), and [`startup`]: what to do with
//!   what is on disk when the server starts with `appendonly yes`;
//! * [`stream`]: the command stream inside base and incr files (an
//!   incremental reader with the server's lenient framing or
//!   redis-check-aof's strict one, MULTI/EXEC tracking, `#TS:` annotations),
//!   [`replay`] (commands and whole transactions out of a stream) and
//!   [`verdict`] (what a loader does with how a file ended);
//! * [`rewrite_cmds`]: a base file written as commands
//!   (`aof-use-rdb-preamble no`);
//! * [`check`], [`check_tool`], [`check_report`]: redis-check-aof as a
//!   library; [`salvage`], [`salvage_tool`]: keel-check-aof --salvage
//!   (skip damaged ranges, resynchronise, keep every intact command).
//!
//! The server side: [`writer`] (the buffer of propagated commands and its
//! flush under the fsync policy), [`fsync`] (the background fsync with
//! group commit), [`round`] (one write and one fsync per event-loop round
//! under `always`), [`loader`] (loading the files into the server) and
//! [`control`] (starting, rewriting, switching on and off, INFO).

pub mod check;
pub mod check_report;
pub mod check_tool;
pub mod control;
pub mod feed;
pub mod fsync;
pub mod loader;
pub mod manifest;
pub mod replay;
pub mod rewrite_cmds;
pub mod round;
pub mod salvage;
pub mod salvage_tool;
pub mod startup;
pub mod stream;
pub mod verdict;
pub mod writer;
