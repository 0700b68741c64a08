//! A small blocking RESP client for the scenario's control connections
//! (the script, SCRIPT KILL, SHUTDOWN, INFO): enough of RESP2 to read any
//! reply whole, with every size bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Longest reply line or bulk the client accepts (INFO fits easily).
pub const MAX_REPLY_BYTES: usize = 1 << 20;
/// Deepest nesting of arrays the client follows.
const MAX_DEPTH: usize = 8;

pub struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(host: &str, port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect((host, port))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
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

    /// One whole reply as text (RESP2 framing kept, as the server sent it).
    pub fn read(&mut self) -> std::io::Result<String> {
        let mut out = Vec::new();
        self.read_value(&mut out, 0)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    pub fn cmd(&mut self, args: &[&str]) -> std::io::Result<String> {
        self.send(args)?;
        self.read()
    }

    /// True once the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }

    fn read_value(&mut self, out: &mut Vec<u8>, depth: usize) -> std::io::Result<()> {
        let start = out.len();
        let n = (&mut self.reader)
            .take(MAX_REPLY_BYTES as u64)
            .read_until(b'\n', out)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = &out[start..];
        let count = || {
            std::str::from_utf8(&line[1..])
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(-1)
        };
        match line.first() {
            Some(b'$') => {
                let len = count();
                if len >= 0 {
                    let len = len as usize + 2;
                    if len > MAX_REPLY_BYTES {
                        return Err(std::io::Error::other("reply too large"));
                    }
                    let mut body = vec![0u8; len];
                    self.reader.read_exact(&mut body)?;
                    out.extend_from_slice(&body);
                }
            }
            Some(b'*') | Some(b'%') => {
                let items = count() * if line[0] == b'%' { 2 } else { 1 };
                if depth >= MAX_DEPTH {
                    return Err(std::io::Error::other("reply nested too deep"));
                }
                for _ in 0..items.max(0) {
                    self.read_value(out, depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A command as a RESP array of bulk strings.
pub fn encode(args: &[&str]) -> Vec<u8> {
    crate::protocol::encode_command(args)
}
