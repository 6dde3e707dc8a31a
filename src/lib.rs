//! keel: a durable, Redis 7.0-compatible cluster node.
//!
//! Layout (see ARCHITECTURE.md in the shared folder): `protocol` (RESP),
//! `config`, `keyspace`, `commands`, `server` (sockets, tasks, cron).

#![deny(unsafe_code)]

pub mod commands;
pub mod config;
pub mod keyspace;
pub mod persistence;
pub mod protocol;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod tools;
pub mod util;
