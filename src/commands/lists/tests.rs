//! Tests of list replies, dirty counts and propagated forms through the
//! real handlers on an in-memory server.
