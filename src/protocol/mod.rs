//! RESP2/RESP3 framing: request parsing and reply encoding over byte buffers.
//!
//! Nothing here knows about sockets, tokio or the keyspace. The server feeds
//! raw bytes to [`RequestParser`] and gets whole commands (argument vectors)
//! back; handlers write replies through [`Reply`], which encodes each reply
//! for the protocol version the connection negotiated with `HELLO`.
//!
//! The parser follows Redis 7.0's `processMultibulkBuffer` and
//! `processInlineBuffer` exactly, including its error texts, because clients
//! and Redis's own test suite check them byte for byte.

mod reply;
mod request;
pub mod splitargs;

pub use reply::{Agg, Deferred, Reply};
pub use request::{ParseError, ParseLimits, RequestParser};
