//! A small blocking RESP client for the scenario's control connections
//! (the script, SCRIPT KILL, SHUTDOWN, INFO): reads any RESP2/RESP3 reply
//! whole through the shared decoder, with every size bounded.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::protocol::frame::{FrameLimits, FrameReader};

/// Longest reply the client accepts (INFO fits easily).
pub const MAX_REPLY_BYTES: usize = 1 << 20;
/// Bounds on a reply: control replies are small and flat.
const LIMITS: FrameLimits = FrameLimits {
    max_bytes: MAX_REPLY_BYTES,
    max_depth: 8,
};

pub struct Client {
    writer: TcpStream,
    reader: FrameReader<TcpStream>,
}

impl Client {
    pub fn connect(host: &str, port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect((host, port))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            writer: stream.try_clone()?,
            reader: FrameReader::new(stream, LIMITS),
        })
    }

    /// The connection's write side (for pipelined sends).
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.writer
    }

    /// The connection, for a caller that drives it itself.
    pub fn into_stream(self) -> TcpStream {
        self.writer
    }

    pub fn set_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.writer.set_read_timeout(timeout)
    }

    pub fn send(&mut self, args: &[&str]) -> std::io::Result<()> {
        self.writer.write_all(&encode(args))
    }

    /// One whole reply as text (its framing kept, as the server sent it).
    pub fn read(&mut self) -> std::io::Result<String> {
        let reply = self.reader.read_bytes()?;
        Ok(String::from_utf8_lossy(&reply).into_owned())
    }

    pub fn cmd(&mut self, args: &[&str]) -> std::io::Result<String> {
        self.send(args)?;
        self.read()
    }

    /// True once the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        self.reader.buffered().is_empty() && matches!(self.reader.fill(), Ok(0))
    }
}

/// A command as a RESP array of bulk strings.
pub fn encode(args: &[&str]) -> Vec<u8> {
    crate::protocol::encode_command(args)
}
