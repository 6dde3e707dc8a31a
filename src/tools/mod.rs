//! The offline tools' logic (the binaries under tools/ are thin CLIs):
//! `check_rdb` for keel-check-rdb.

pub mod check_rdb;
