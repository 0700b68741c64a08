//! Reading a whole RDB file (or any input in memory): a pull reader that
//! yields AUX fields, keys with their values and expiry, and function
//! libraries, and checks the CRC64 footer at the end. A key's value
//! decodes alone too ([`value`]): DUMP payloads hold one.

use super::cursor::{Cursor, Result};
use super::format::*;
use super::{crc, intset, listpack, ziplist, zipmap, Error, RDB_VERSION};
use crate::store::value::{Hash, List, Set};
use crate::store::{Value, ZSet};

const MAGIC: &[u8] = b"REDIS";
/// The oldest version whose files carry a CRC64 footer.
const FIRST_VERSION_WITH_CRC: u16 = 5;
/// Database indexes beyond this are refused (Redis's own limit is its
/// configured `databases`, 16 by default).
pub const MAX_DB_INDEX: u64 = 1 << 16;

/// One thing in the file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Aux(Vec<u8>, Vec<u8>),
    /// A SELECTDB's RESIZEDB hint: keys and keys with expiry in `db`.
    DbSize {
        db: u32,
        keys: u64,
        expires: u64,
    },
    Key {
        db: u32,
        key: Vec<u8>,
        value: Value,
        /// Unix time in ms; 0 when the key does not expire.
        expires_at_ms: u64,
    },
    /// A function library's code (FUNCTION2).
    Function(Vec<u8>),
}

pub struct Reader<'a> {
    c: Cursor<'a>,
    version: u16,
    db: u32,
    done: bool,
}

impl<'a> Reader<'a> {
    /// Checks the header and positions after it.
    pub fn new(data: &'a [u8]) -> Result<Reader<'a>> {
        let mut c = Cursor::new(data);
        if c.take(MAGIC.len() as u64).ok() != Some(MAGIC) {
            return Err(c.error_at(0, "not an RDB file (no REDIS magic)"));
        }
        let digits = c.array::<4>()?;
        let version = std::str::from_utf8(&digits)
            .ok()
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u16>().ok())
            .ok_or_else(|| c.error_at(5, "RDB version is not four digits"))?;
        if version == 0 || version > RDB_VERSION {
            return Err(c.error_at(5, format!("unsupported RDB version {version}")));
        }
        Ok(Reader {
            c,
            version,
            db: 0,
            done: false,
        })
    }

    pub fn version(&self) -> u16 {
        self.version
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.c.offset()
    }

    /// Reads every item: the whole file, checksum included.
    pub fn read_all(data: &'a [u8]) -> Result<Vec<Item>> {
        let mut reader = Reader::new(data)?;
        let mut items = Vec::new();
        while let Some(item) = reader.next_item()? {
            items.push(item);
        }
        Ok(items)
    }

    /// The next item; `None` after EOF (and a good checksum).
    pub fn next_item(&mut self) -> Result<Option<Item>> {
        let mut expires_at_ms = 0;
        loop {
            if self.done {
                return Ok(None);
            }
            let at = self.c.offset();
            let kind = self.c.byte()?;
            match kind {
                OPCODE_EOF => {
                    self.finish()?;
                    return Ok(None);
                }
                OPCODE_SELECTDB => {
                    let db = self.c.length()?;
                    if db > MAX_DB_INDEX {
                        return Err(self
                            .c
                            .error_at(at, format!("database index {db} too large")));
                    }
                    self.db = db as u32;
                }
                OPCODE_RESIZEDB => {
                    let keys = self.c.length()?;
                    let expires = self.c.length()?;
                    return Ok(Some(Item::DbSize {
                        db: self.db,
                        keys,
                        expires,
                    }));
                }
                OPCODE_AUX => {
                    let name = self.c.string()?;
                    let value = self.c.string()?;
                    return Ok(Some(Item::Aux(name, value)));
                }
                OPCODE_EXPIRETIME_MS => {
                    expires_at_ms = u64::from_le_bytes(self.c.array()?).max(1);
                }
                OPCODE_EXPIRETIME => {
                    // Signed 32-bit seconds, as Redis reads them: a time
                    // before 1970 is long past.
                    let secs = i32::from_le_bytes(self.c.array()?);
                    expires_at_ms = (secs.max(0) as u64 * 1000).max(1);
                }
                // Eviction hints: read past them.
                OPCODE_IDLE => {
                    self.c.length()?;
                }
                OPCODE_FREQ => {
                    self.c.byte()?;
                }
                OPCODE_FUNCTION2 => return Ok(Some(Item::Function(self.c.string()?))),
                OPCODE_FUNCTION_PRE_GA => {
                    return Err(self
                        .c
                        .error_at(at, "pre-GA function format (Redis 7.0 RC) is not supported"))
                }
                OPCODE_MODULE_AUX => {
                    return Err(self.c.error_at(at, "module data is not supported"))
                }
                _ => {
                    let key = self.c.string()?;
                    let Some(value) = value(&mut self.c, kind, at)? else {
                        // An empty collection: Redis skips such keys.
                        expires_at_ms = 0;
                        continue;
                    };
                    return Ok(Some(Item::Key {
                        db: self.db,
                        key,
                        value,
                        expires_at_ms,
                    }));
                }
            }
        }
    }

    /// The CRC64 footer: zero means it was not computed.
    fn finish(&mut self) -> Result<()> {
        self.done = true;
        if self.version < FIRST_VERSION_WITH_CRC {
            return Ok(());
        }
        let covered = self.c.consumed();
        let at = self.c.offset();
        let stored = u64::from_le_bytes(self.c.array()?);
        if stored != 0 && stored != crc::crc64(covered) {
            return Err(self.c.error_at(at, "CRC64 checksum does not match"));
        }
        Ok(())
    }
}

/// A value of type `kind` (whose byte is at `at`); `None` when empty.
pub fn value(c: &mut Cursor<'_>, kind: u8, at: usize) -> Result<Option<Value>> {
    let value = match kind {
        TYPE_STRING => return Ok(Some(Value::Str(c.string()?))),
        TYPE_LIST => {
            let n = c.count(1)?;
            let mut list = List::with_capacity(n);
            for _ in 0..n {
                list.push_back(c.string()?);
            }
            Value::List(list)
        }
        TYPE_SET => {
            let n = c.count(1)?;
            let members = (0..n).map(|_| c.string()).collect::<Result<Vec<_>>>()?;
            set(members, at)?
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = c.count(2)?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let member = c.string()?;
                let score = if kind == TYPE_ZSET {
                    c.text_double()?
                } else {
                    c.binary_double()?
                };
                pairs.push((member, score));
            }
            zset(pairs, at)?
        }
        TYPE_HASH => {
            let n = c.count(2)?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                pairs.push((c.string()?, c.string()?));
            }
            hash(pairs, at)?
        }
        TYPE_HASH_ZIPMAP => {
            let (blob, base) = blob(c)?;
            hash(zipmap::pairs(&blob, base)?, at)?
        }
        TYPE_LIST_ZIPLIST => {
            let (blob, base) = blob(c)?;
            Value::List(ziplist::entries(&blob, base)?.into())
        }
        TYPE_SET_INTSET => {
            let (blob, base) = blob(c)?;
            set(intset::members(&blob, base)?, at)?
        }
        TYPE_SET_LISTPACK => {
            let (blob, base) = blob(c)?;
            set(listpack::elements(&blob, base)?, at)?
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let (blob, base) = blob(c)?;
            let flat = unpack(&blob, base, kind == TYPE_ZSET_ZIPLIST)?;
            let pairs = pairs(flat, base)?;
            let mut scored = Vec::with_capacity(pairs.len());
            for (member, score) in pairs {
                let score = std::str::from_utf8(&score)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|s| !s.is_nan())
                    .ok_or_else(|| Error::new(base, "zset score is not a number"))?;
                scored.push((member, score));
            }
            zset(scored, at)?
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let (blob, base) = blob(c)?;
            let flat = unpack(&blob, base, kind == TYPE_HASH_ZIPLIST)?;
            let pairs = pairs(flat, base)?;
            hash(pairs, at)?
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = c.count(2)?;
            let mut list = List::new();
            for _ in 0..nodes {
                let container = if kind == TYPE_LIST_QUICKLIST_2 {
                    c.length()?
                } else {
                    QUICKLIST_NODE_PACKED
                };
                let node_at = c.offset();
                let (blob, base) = blob(c)?;
                match container {
                    QUICKLIST_NODE_PLAIN => list.push_back(blob),
                    QUICKLIST_NODE_PACKED => {
                        let items = unpack(&blob, base, kind == TYPE_LIST_QUICKLIST)?;
                        if items.is_empty() {
                            return Err(Error::new(node_at, "empty quicklist node"));
                        }
                        list.extend(items);
                    }
                    other => {
                        return Err(Error::new(
                            node_at,
                            format!("unknown quicklist container {other}"),
                        ))
                    }
                }
            }
            Value::List(list)
        }
        _ => {
            let what = type_name(kind);
            return Err(Error::new(
                at,
                format!("value type {kind} ({what}) is not supported by shardis"),
            ));
        }
    };
    Ok(Some(value).filter(|v| !is_empty(v)))
}

/// A string holding an encoded blob, and the offset where its bytes
/// start (for errors inside it).
fn blob(c: &mut Cursor<'_>) -> Result<(Vec<u8>, usize)> {
    let start = c.offset();
    let blob = c.string()?;
    let end = c.offset();
    // A plain string's bytes end where the cursor is; an LZF blob's
    // offsets are not the file's, so its errors point at its start.
    let base = match end.checked_sub(blob.len()) {
        Some(base) if base > start => base,
        _ => start,
    };
    Ok((blob, base))
}

/// Consecutive elements as pairs.
fn pairs(flat: Vec<Vec<u8>>, base: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    if !flat.len().is_multiple_of(2) {
        return Err(Error::new(
            base,
            "odd number of elements in a pair encoding",
        ));
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

fn set(members: Vec<Vec<u8>>, at: usize) -> Result<Value> {
    let mut set = Set::with_capacity(members.len());
    for m in members {
        if !set.insert(m.into_boxed_slice()) {
            return Err(Error::new(at, "duplicate set member"));
        }
    }
    Ok(Value::Set(set))
}

fn hash(pairs: Vec<(Vec<u8>, Vec<u8>)>, at: usize) -> Result<Value> {
    let mut hash = Hash::with_capacity(pairs.len());
    for (field, value) in pairs {
        if hash.insert(field.into_boxed_slice(), value).is_some() {
            return Err(Error::new(at, "duplicate hash field"));
        }
    }
    Ok(Value::Hash(hash))
}

fn zset(pairs: Vec<(Vec<u8>, f64)>, at: usize) -> Result<Value> {
    let mut seen = Set::with_capacity(pairs.len());
    let mut boxed = Vec::with_capacity(pairs.len());
    for (member, score) in pairs {
        if score.is_nan() {
            return Err(Error::new(at, "zset score is NaN"));
        }
        let member = member.into_boxed_slice();
        if !seen.insert(member.clone()) {
            return Err(Error::new(at, "duplicate zset member"));
        }
        boxed.push((member, score));
    }
    Ok(Value::ZSet(ZSet::from_pairs(boxed)))
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Str(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::ZSet(z) => z.is_empty(),
    }
}

/// The elements of a packed blob: a ziplist (written before Redis 7.0)
/// or a listpack.
fn unpack(blob: &[u8], base: usize, is_ziplist: bool) -> Result<Vec<Vec<u8>>> {
    if is_ziplist {
        ziplist::entries(blob, base)
    } else {
        listpack::elements(blob, base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::Writer;

    fn sample() -> Vec<(Vec<u8>, Value, u64)> {
        let mut hash = Hash::new();
        hash.insert(b"f".to_vec().into_boxed_slice(), b"v".to_vec());
        hash.insert(b"n".to_vec().into_boxed_slice(), b"42".to_vec());
        let mut set = Set::new();
        set.insert(b"a".to_vec().into_boxed_slice());
        set.insert(b"-7".to_vec().into_boxed_slice());
        let zset = ZSet::from_pairs(vec![
            (b"x".to_vec().into_boxed_slice(), 1.5),
            (b"y".to_vec().into_boxed_slice(), f64::NEG_INFINITY),
        ]);
        vec![
            (b"s".to_vec(), Value::Str(b"hello".to_vec()), 0),
            (
                b"i".to_vec(),
                Value::Str(b"-123456".to_vec()),
                1_900_000_000_000,
            ),
            (
                b"l".to_vec(),
                Value::List(vec![b"1".to_vec(), b"".to_vec()].into()),
                0,
            ),
            (b"h".to_vec(), Value::Hash(hash), 0),
            (b"t".to_vec(), Value::Set(set), 5),
            (b"z".to_vec(), Value::ZSet(zset), 0),
        ]
    }

    fn write_sample() -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.begin(1234).unwrap();
        w.select_db(3, 6, 2).unwrap();
        for (key, value, at) in sample() {
            w.key(&key, value.as_value_ref(), at).unwrap();
        }
        w.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
            .unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn what_the_writer_writes_the_reader_reads() {
        let file = write_sample();
        let items = Reader::read_all(&file).unwrap();
        assert!(items.contains(&Item::Aux(b"redis-ver".to_vec(), b"7.0.15".to_vec())));
        assert!(items.contains(&Item::Aux(b"used-mem".to_vec(), b"1234".to_vec())));
        assert!(items.contains(&Item::DbSize {
            db: 3,
            keys: 6,
            expires: 2
        }));
        let keys: Vec<_> = items
            .iter()
            .filter_map(|i| match i {
                Item::Key {
                    db,
                    key,
                    value,
                    expires_at_ms,
                } => {
                    assert_eq!(*db, 3);
                    Some((key.clone(), value.clone(), *expires_at_ms))
                }
                _ => None,
            })
            .collect();
        assert_eq!(keys, sample());
        assert!(matches!(items.last(), Some(Item::Function(code)) if code.starts_with(b"#!lua")));
    }

    #[test]
    fn a_bad_checksum_is_refused_and_a_zero_one_is_not_checked() {
        let mut file = write_sample();
        let n = file.len();
        file[n - 1] ^= 1;
        let e = Reader::read_all(&file).unwrap_err();
        assert_eq!(e.offset, n - 8);
        file[n - 8..].fill(0);
        assert!(Reader::read_all(&file).is_ok());
        // A flipped byte inside the body is caught by the checksum.
        let mut file = write_sample();
        let i = file.len() - 20;
        file[i] ^= 0x01;
        assert!(Reader::read_all(&file).is_err());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let file = write_sample();
        for len in 0..file.len() {
            let e = Reader::read_all(&file[..len]).unwrap_err();
            assert!(e.offset <= len, "offset {} past {len}", e.offset);
        }
    }

    #[test]
    fn every_single_byte_corruption_is_handled_without_panic() {
        let file = write_sample();
        for i in 0..file.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = file.clone();
                bad[i] ^= flip;
                let _ = Reader::read_all(&bad);
            }
        }
    }

    #[test]
    fn headers_and_unsupported_types_are_named_errors() {
        assert_eq!(Reader::new(b"RODIS0010").err().unwrap().offset, 0);
        assert_eq!(Reader::new(b"REDIS0011").err().unwrap().offset, 5);
        assert_eq!(Reader::new(b"REDIS00x1").err().unwrap().offset, 5);
        // A stream key (type 15) in db 0.
        let e = Reader::read_all(b"REDIS0010\xfe\x00\x0f\x01k\x00").unwrap_err();
        assert_eq!(e.offset, 11);
        assert!(e.reason.contains("stream"), "{e}");
        // A list claiming 2^32 elements in a few bytes: refused up front.
        let e = Reader::read_all(b"REDIS0010\x01\x01k\x80\xff\xff\xff\xff\x00").unwrap_err();
        assert_eq!(e.offset, 12);
        // A database index past the limit.
        assert!(Reader::read_all(b"REDIS0010\xfe\x80\x7f\xff\xff\xff").is_err());
    }

    #[test]
    fn older_files_and_second_expiry_read() {
        // Version 4: no checksum; EXPIRETIME in seconds; an empty set is
        // skipped as Redis does.
        let file = b"REDIS0004\xfd\x10\x00\x00\x00\x00\x01k\x01v\x02\x01e\x00\xff";
        let items = Reader::read_all(file).unwrap();
        assert_eq!(
            items,
            vec![Item::Key {
                db: 0,
                key: b"k".to_vec(),
                value: Value::Str(b"v".to_vec()),
                expires_at_ms: 16_000,
            }]
        );
    }
}
