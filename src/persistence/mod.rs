//! Persistence: RDB, AOF, and the fork that snapshots use. Only the fork
//! wrapper exists so far; the RDB and AOF issues fill in the rest.

pub mod fork;
