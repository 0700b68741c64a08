//! Writing an RDB v10 file as a stream: header and AUX fields, then per
//! database SELECTDB, RESIZEDB and its keys, then function libraries, EOF
//! and the CRC64 of everything before it. Values use the plain encodings
//! (list 1, set 2, zset2 5, hash 4), which every Redis 7.0 loads and
//! re-encodes to its compact forms as its own settings say.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use super::format::*;
use super::{crc, encode, RDB_VERSION};
use crate::store::ValueRef;

/// What a writer says it is (the `redis-ver` AUX field).
const WRITER_VERSION: &[u8] = b"7.0.15";

pub struct Writer<W: Write> {
    out: W,
    crc: u64,
    /// One value's bytes before they go out (reused).
    buf: Vec<u8>,
    /// Whether the file ends with its CRC64 (zeros otherwise, which
    /// loaders take as "not computed": `rdbchecksum no`).
    checksum: bool,
    /// Whether the CRC64 is computed at all (not for records another
    /// writer puts in its file, which computes it there).
    track_crc: bool,
    /// Whether long strings are LZF-compressed (`rdbcompression`).
    compress: bool,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Writer<W> {
        Writer {
            out,
            crc: 0,
            buf: Vec::new(),
            checksum: true,
            track_crc: true,
            compress: false,
        }
    }

    /// A writer of records only, for another writer's file (see
    /// [`Writer::records`]): no checksum computed here.
    pub fn for_records(out: W) -> Writer<W> {
        Writer {
            track_crc: false,
            checksum: false,
            ..Writer::new(out)
        }
    }

    /// LZF-compresses long strings (`rdbcompression yes`).
    pub fn compressing(mut self, compress: bool) -> Writer<W> {
        self.compress = compress;
        self
    }

    /// Ends the file with zeros instead of its checksum (`rdbchecksum no`).
    pub fn without_checksum(mut self) -> Writer<W> {
        self.checksum = false;
        self
    }

    /// The header and the AUX fields redis-server 7.0 writes first.
    pub fn begin(&mut self, used_mem: u64) -> io::Result<()> {
        let ctime = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.put(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
        self.aux(b"redis-ver", WRITER_VERSION)?;
        self.aux(b"redis-bits", b"64")?;
        self.aux(b"ctime", ctime.to_string().as_bytes())?;
        self.aux(b"used-mem", used_mem.to_string().as_bytes())?;
        self.aux(b"aof-base", b"0")
    }

    /// An AUX field.
    pub fn aux(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        self.buf.clear();
        self.buf.push(OPCODE_AUX);
        encode::string(&mut self.buf, name, false);
        encode::string(&mut self.buf, value, false);
        self.flush_buf()
    }

    /// Starts database `db`, which holds `keys` keys, `expires` of them
    /// with an expiry (a sizing hint for the loader).
    pub fn select_db(&mut self, db: u32, keys: u64, expires: u64) -> io::Result<()> {
        self.buf.clear();
        self.buf.push(OPCODE_SELECTDB);
        encode::length(&mut self.buf, db as u64);
        self.buf.push(OPCODE_RESIZEDB);
        encode::length(&mut self.buf, keys);
        encode::length(&mut self.buf, expires);
        self.flush_buf()
    }

    /// Switches to database `db` again, without a sizing hint (a view
    /// taken in pieces: see `snapshot::Capture`).
    pub fn select(&mut self, db: u32) -> io::Result<()> {
        self.buf.clear();
        self.buf.push(OPCODE_SELECTDB);
        encode::length(&mut self.buf, db as u64);
        self.flush_buf()
    }

    /// A key of the current database; `expires_at_ms` is Unix ms, 0 for
    /// none.
    pub fn key(&mut self, key: &[u8], value: ValueRef<'_>, expires_at_ms: u64) -> io::Result<()> {
        self.buf.clear();
        if expires_at_ms != 0 {
            self.buf.push(OPCODE_EXPIRETIME_MS);
            self.buf.extend_from_slice(&expires_at_ms.to_le_bytes());
        }
        self.buf.push(value_type(value));
        encode::string(&mut self.buf, key, self.compress);
        encode_value(&mut self.buf, value, self.compress);
        self.flush_buf()
    }

    /// A function library (its code, shebang line included).
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.buf.clear();
        self.buf.push(OPCODE_FUNCTION2);
        encode::string_plain(&mut self.buf, code);
        self.flush_buf()
    }

    /// Records another writer produced (a shard's keys, written by that
    /// shard), counted in this file's checksum.
    pub fn records(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.put(bytes)
    }

    /// The output as it is: records only, no EOF or checksum (what a
    /// shard hands to the core that writes the file).
    pub fn into_records(self) -> W {
        self.out
    }

    /// The records written so far, taken out (the writer goes on with an
    /// empty output).
    pub fn take_records(&mut self) -> W
    where
        W: Default,
    {
        std::mem::take(&mut self.out)
    }

    /// EOF and the checksum; the output, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.put(&[OPCODE_EOF])?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let result = self.put(&buf);
        self.buf = buf;
        result
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.track_crc {
            self.crc = crc::update(self.crc, bytes);
        }
        self.out.write_all(bytes)
    }
}

impl Writer<Vec<u8>> {
    /// Bytes written so far and not taken.
    pub fn pending_bytes(&self) -> usize {
        self.out.len()
    }
}

/// The type byte of `value` in its plain encoding.
pub fn value_type(value: ValueRef<'_>) -> u8 {
    match value {
        ValueRef::Str(_) => TYPE_STRING,
        ValueRef::List(_) => TYPE_LIST,
        ValueRef::Set(_) => TYPE_SET,
        ValueRef::ZSet(_) => TYPE_ZSET_2,
        ValueRef::Hash(_) => TYPE_HASH,
    }
}

/// Appends `value` in the plain encoding [`value_type`] names: the part
/// of a key record after the key, and the body of a DUMP payload; long
/// strings LZF-compressed when `compress`.
pub fn encode_value(buf: &mut Vec<u8>, value: ValueRef<'_>, compress: bool) {
    match value {
        ValueRef::Str(s) => encode::string(buf, s, compress),
        ValueRef::List(list) => {
            encode::length(buf, list.len() as u64);
            for item in list {
                encode::string(buf, item, compress);
            }
        }
        ValueRef::Set(set) => {
            encode::length(buf, set.len() as u64);
            for member in set {
                encode::string(buf, member, compress);
            }
        }
        ValueRef::ZSet(zset) => {
            encode::length(buf, zset.len() as u64);
            for (member, score) in zset.iter() {
                encode::string(buf, member, compress);
                encode::binary_double(buf, score);
            }
        }
        ValueRef::Hash(hash) => {
            encode::length(buf, hash.len() as u64);
            for (field, value) in hash {
                encode::string(buf, field, compress);
                encode::string(buf, value, compress);
            }
        }
    }
}
