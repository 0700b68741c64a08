//! RESP: request parsing and reply encoding.

pub mod parse;
pub mod reply;

pub use parse::{ParseLimits, ProtocolError, RequestParser};
pub use reply::Reply;
