//! RESP: request parsing and reply encoding, the request encoding clients
//! (the load generators, benches, tests) send, and the reply decoder they
//! read with.

pub mod frame;
pub mod parse;
pub mod reply;

pub use parse::{ParseLimits, ProtocolError, RequestParser};
pub use reply::Reply;

use crate::util::numbers::format_i64;

/// A command as clients send it: a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command_into(&mut out, args);
    out
}

/// Appends a command as [`encode_command`] makes it, without allocating
/// (the load generator's requests, the append-only log's records).
pub fn encode_command_into<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.push(b'*');
    format_i64(args.len() as i64, out);
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        format_i64(a.len() as i64, out);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
