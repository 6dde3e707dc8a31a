//! Small pure helpers shared by every layer: Redis's number parsing and
//! formatting rules, and its glob matcher.

pub mod alloc;
pub mod cstr;
pub mod glob;
pub mod longdouble;
pub mod num;
