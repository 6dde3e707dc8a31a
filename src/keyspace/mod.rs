//! The keyspace: databases, value types, expiry bookkeeping and the
//! per-slot key index. Pure data structures; the command layer decides
//! when keys expire and what is propagated.

pub mod bytes;
pub mod db;
pub mod hash;
pub mod hll;
pub mod intset;
pub mod list;
mod list_edit;
mod list_node;
pub mod packed;
pub mod scan_order;
pub mod set;
pub mod slot;
pub mod stream;
pub mod stream_node;
pub mod value;
pub mod zset;

pub use self::bytes::KBytes;
pub use db::{Db, Entry, NO_EXPIRE};
pub use slot::{key_slot, SLOTS};
pub use value::{Value, ValueType};
