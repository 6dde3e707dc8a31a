//! The append-only file: Redis 7.0's multi-part layout (a manifest, one
//! base file, incr files) under `dir/appenddirname`.
//!
//! * `writer`: the buffer of propagated commands and its flush under the
//!   fsync policy; `fsync`: the background fsync (group commit).

pub mod fsync;
pub mod writer;
