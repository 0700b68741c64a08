//! Argument parsing shared by all families, with Redis's error replies.

use bytes::Bytes;

use super::errors;
use crate::protocol::Reply;
use crate::util::numbers::{parse_f64, parse_i64};

/// An integer argument, or Redis's "not an integer" error.
pub fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(errors::NOT_INTEGER))
}

/// A float argument (inf allowed, NaN not), or "not a valid float".
pub fn float_arg(arg: &[u8]) -> Result<f64, Reply> {
    parse_f64(arg).ok_or_else(|| Reply::error(errors::NOT_FLOAT))
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Turns a `Result<Reply, Reply>` into the reply either way, so command code
/// can use `?` on argument errors.
pub fn reply(r: Result<Reply, Reply>) -> Reply {
    r.unwrap_or_else(|e| e)
}

/// The arguments as owned bytes, for keys and values that are stored.
pub fn owned(arg: &Bytes) -> Vec<u8> {
    arg.to_vec()
}
