//! Persistence: the RDB codec (`rdb`), the one way keel replaces a file
//! (`atomic`), forking a snapshot child (`fork`) and mapping a file to
//! load (`mapped`): the only unsafe code of the library, and the snapshot
//! machinery the server drives (`snapshot`: SAVE, BGSAVE, save points,
//! child tracking, loading at start).

pub mod aof;
pub mod atomic;
pub mod fork;
pub mod loading;
pub mod mapped;
pub mod rdb;
pub mod snapshot;
