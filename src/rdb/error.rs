//! A reading error: where in the input, and why.

use std::fmt;

/// A malformed or unsupported input, at a byte offset from the start of
/// the file (or payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub offset: usize,
    pub reason: String,
}

impl Error {
    pub fn new(offset: usize, reason: impl Into<String>) -> Error {
        Error {
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RDB error at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for Error {}
