//! Commands as templates with `__key__` and `__data__` placeholders, and
//! their encoding into RESP without per-request allocation.
//!
//! Everything that does not change between requests (the `*N` header,
//! literal arguments, the value for `__data__`) is encoded once; a request
//! then costs a few copies and one number formatted into the caller's
//! output buffer.

use super::keys::push_decimal;
use super::{MAX_COMMAND_ARGS, MAX_DATA_SIZE_BYTES};

/// Stands for the key a key pattern chose.
pub const KEY_PLACEHOLDER: &str = "__key__";
/// Stands for the value: `--data-size` bytes of `x`, as memtier sends.
pub const DATA_PLACEHOLDER: &str = "__data__";

/// The byte memtier fills non-random values with.
const DATA_FILL: u8 = b'x';

/// Part of one argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(Vec<u8>),
    Key,
    Data,
}

/// A command whose arguments may contain placeholders, e.g.
/// `SET __key__ __data__`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    args: Vec<Vec<Piece>>,
}

impl Template {
    /// Splits `text` on whitespace; `__key__` and `__data__` may stand
    /// alone or inside an argument (`user:__key__`).
    pub fn parse(text: &str) -> Result<Template, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        Template::from_args(&words)
    }

    /// A template from arguments that may contain placeholders.
    pub fn from_args(words: &[&str]) -> Result<Template, String> {
        if words.is_empty() {
            return Err("a command needs at least a name".into());
        }
        if words.len() > MAX_COMMAND_ARGS {
            return Err(format!(
                "a command may have at most {MAX_COMMAND_ARGS} arguments"
            ));
        }
        let args = words.iter().map(|word| split_placeholders(word)).collect();
        Ok(Template { args })
    }

    /// The command's name, upper-cased (the row label of its statistics).
    pub fn name(&self) -> String {
        self.args
            .first()
            .map(|pieces| argument_text(pieces).to_uppercase())
            .unwrap_or_default()
    }

    /// The template as text, placeholders included.
    pub fn text(&self) -> String {
        self.args
            .iter()
            .map(|pieces| argument_text(pieces))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn uses_key(&self) -> bool {
        self.args.iter().flatten().any(|p| *p == Piece::Key)
    }
}

/// One argument of a template as text, placeholders included.
fn argument_text(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Piece::Key => KEY_PLACEHOLDER.into(),
            Piece::Data => DATA_PLACEHOLDER.into(),
        })
        .collect()
}

fn split_placeholders(word: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = word;
    loop {
        let next = [
            (KEY_PLACEHOLDER, Piece::Key),
            (DATA_PLACEHOLDER, Piece::Data),
        ]
        .into_iter()
        .filter_map(|(text, piece)| rest.find(text).map(|at| (at, text.len(), piece)))
        .min_by_key(|&(at, _, _)| at);
        let Some((at, len, piece)) = next else {
            break;
        };
        if at > 0 {
            pieces.push(Piece::Literal(rest.as_bytes()[..at].to_vec()));
        }
        pieces.push(piece);
        rest = &rest[at + len..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Literal(rest.as_bytes().to_vec()));
    }
    pieces
}

/// A step of an encoded request.
#[derive(Debug, Clone)]
enum Segment {
    /// Bytes copied as they are (headers, literal and data arguments).
    Fixed(Vec<u8>),
    /// An argument that is exactly the key.
    KeyArg,
    /// An argument mixing the key or the data with literal text.
    Mixed(Vec<Piece>),
}

/// A template prepared for fast encoding.
#[derive(Debug, Clone)]
pub struct Encoder {
    segments: Vec<Segment>,
    /// The value `__data__` stands for.
    data: Vec<u8>,
}

impl Encoder {
    pub fn new(template: &Template, data_size: usize) -> Result<Encoder, String> {
        if data_size > MAX_DATA_SIZE_BYTES {
            return Err(format!(
                "data size may be at most {MAX_DATA_SIZE_BYTES} bytes"
            ));
        }
        let data = vec![DATA_FILL; data_size];
        let mut segments = Vec::new();
        let mut fixed = Vec::new();
        fixed.push(b'*');
        push_decimal(&mut fixed, template.args.len() as u64);
        fixed.extend_from_slice(b"\r\n");
        for pieces in &template.args {
            match pieces.as_slice() {
                [Piece::Key] => {
                    segments.push(Segment::Fixed(std::mem::take(&mut fixed)));
                    segments.push(Segment::KeyArg);
                }
                [Piece::Literal(bytes)] => push_bulk(&mut fixed, &[bytes]),
                [Piece::Data] => push_bulk(&mut fixed, &[&data]),
                mixed if !mixed.contains(&Piece::Key) => {
                    let parts: Vec<&[u8]> = mixed
                        .iter()
                        .map(|p| match p {
                            Piece::Literal(bytes) => bytes.as_slice(),
                            _ => data.as_slice(),
                        })
                        .collect();
                    push_bulk(&mut fixed, &parts);
                }
                mixed => {
                    segments.push(Segment::Fixed(std::mem::take(&mut fixed)));
                    segments.push(Segment::Mixed(mixed.to_vec()));
                }
            }
        }
        segments.push(Segment::Fixed(fixed));
        segments.retain(|s| !matches!(s, Segment::Fixed(bytes) if bytes.is_empty()));
        Ok(Encoder { segments, data })
    }

    /// Bytes of the longest request this encoder writes with keys of at
    /// most `longest_key` bytes.
    pub fn longest_request(&self, longest_key: usize) -> usize {
        // `$`, up to 20 digits, two CRLFs.
        const BULK_OVERHEAD: usize = 25;
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Fixed(bytes) => bytes.len(),
                Segment::KeyArg => longest_key + BULK_OVERHEAD,
                Segment::Mixed(pieces) => {
                    let body: usize = pieces
                        .iter()
                        .map(|p| match p {
                            Piece::Literal(bytes) => bytes.len(),
                            Piece::Key => longest_key,
                            Piece::Data => self.data.len(),
                        })
                        .sum();
                    body + BULK_OVERHEAD
                }
            })
            .sum()
    }

    /// Appends the request for `key` to `out`.
    pub fn encode(&self, key: &[u8], out: &mut Vec<u8>) {
        for segment in &self.segments {
            match segment {
                Segment::Fixed(bytes) => out.extend_from_slice(bytes),
                Segment::KeyArg => push_bulk(out, &[key]),
                Segment::Mixed(pieces) => {
                    let len: usize = pieces.iter().map(|p| self.piece(p, key).len()).sum();
                    out.push(b'$');
                    push_decimal(out, len as u64);
                    out.extend_from_slice(b"\r\n");
                    for piece in pieces {
                        out.extend_from_slice(self.piece(piece, key));
                    }
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
    }

    fn piece<'a>(&'a self, piece: &'a Piece, key: &'a [u8]) -> &'a [u8] {
        match piece {
            Piece::Literal(bytes) => bytes,
            Piece::Key => key,
            Piece::Data => &self.data,
        }
    }
}

/// Appends a command with fixed arguments (a handshake, a test's setup).
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    crate::protocol::encode_command_into(out, args);
}

/// Appends one bulk string made of `parts` joined.
fn push_bulk(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.push(b'$');
    push_decimal(out, parts.iter().map(|p| p.len()).sum::<usize>() as u64);
    out.extend_from_slice(b"\r\n");
    for part in parts {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(text: &str, data_size: usize, key: &str) -> String {
        let template = Template::parse(text).expect("template");
        let encoder = Encoder::new(&template, data_size).expect("encoder");
        let mut out = Vec::new();
        encoder.encode(key.as_bytes(), &mut out);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn set_and_get() {
        assert_eq!(
            encoded("SET __key__ __data__", 3, "memtier-7"),
            "*3\r\n$3\r\nSET\r\n$9\r\nmemtier-7\r\n$3\r\nxxx\r\n"
        );
        assert_eq!(
            encoded("GET __key__", 3, "k"),
            "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        );
    }

    #[test]
    fn placeholders_inside_arguments() {
        assert_eq!(
            encoded("HSET user:__key__ f __data__-__key__", 2, "9"),
            "*4\r\n$4\r\nHSET\r\n$6\r\nuser:9\r\n$1\r\nf\r\n$4\r\nxx-9\r\n"
        );
        assert_eq!(encoded("PING", 3, "k"), "*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn longest_request_bounds_the_encoding() {
        let template = Template::parse("SET k:__key__ __data__").expect("template");
        let encoder = Encoder::new(&template, 10).expect("encoder");
        let mut out = Vec::new();
        encoder.encode(b"12345", &mut out);
        assert!(out.len() <= encoder.longest_request(5));
        assert!(encoder.longest_request(5) < out.len() + 2 * 25);
    }

    #[test]
    fn names_and_text() {
        let template = Template::parse("  set  __key__ 5 ").expect("template");
        assert_eq!(template.name(), "SET");
        assert_eq!(template.text(), "set __key__ 5");
        assert!(template.uses_key());
        assert!(Template::parse("   ").is_err());
    }
}
