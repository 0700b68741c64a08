//! A stored key, packed for memory.
//!
//! One allocation holds a small header, the key and, for a plain string, the
//! value itself: `[flags][expiry: 8 bytes, if flagged][key length: LEB128]
//! [key][string value]`. Aggregates (and strings being grown by APPEND or
//! SETRANGE) live in a separate box. A table slot is then 24 bytes, and a
//! 100-byte string under a 16-byte key costs one 128-byte allocation.

use super::value::{Value, ValueRef};

/// Header flag: 8 bytes of expiry follow the flags byte.
const HAS_EXPIRY_SLOT: u8 = 1;

#[derive(Debug, Clone)]
pub struct Entry {
    data: Box<[u8]>,
    /// None: the value is the string stored inline after the key.
    boxed: Option<Box<Value>>,
}

impl Entry {
    pub fn new(key: &[u8], value: Value, expires_at_ms: u64) -> Entry {
        let (inline, boxed): (&[u8], _) = match &value {
            Value::Str(s) => (s, None),
            _ => (&[], Some(())),
        };
        let data = pack(key, inline, expires_at_ms);
        Entry {
            data,
            boxed: boxed.map(|()| Box::new(value)),
        }
    }

    /// A plain string, packed straight from the request's bytes.
    pub fn string(key: &[u8], value: &[u8], expires_at_ms: u64) -> Entry {
        Entry {
            data: pack(key, value, expires_at_ms),
            boxed: None,
        }
    }

    /// Where the key starts and ends in `data`.
    fn key_bounds(&self) -> (usize, usize) {
        let mut i = 1 + if self.data[0] & HAS_EXPIRY_SLOT != 0 {
            8
        } else {
            0
        };
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = self.data[i];
            i += 1;
            len |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (i, i + len)
    }

    pub fn key(&self) -> &[u8] {
        let (start, end) = self.key_bounds();
        &self.data[start..end]
    }

    /// Unix time in ms at which the key expires; 0 when it does not.
    pub fn expires_at_ms(&self) -> u64 {
        if self.data[0] & HAS_EXPIRY_SLOT == 0 {
            return 0;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.data[1..9]);
        u64::from_le_bytes(b)
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        let at = self.expires_at_ms();
        at != 0 && at <= now_ms
    }

    /// Sets (0: clears) the expiry. Clearing keeps the slot: a key that had
    /// a TTL once is likely to get one again.
    pub fn set_expires_at_ms(&mut self, at: u64) {
        if self.data[0] & HAS_EXPIRY_SLOT != 0 {
            self.data[1..9].copy_from_slice(&at.to_le_bytes());
        } else if at != 0 {
            let (start, end) = self.key_bounds();
            self.data = pack(&self.data[start..end], &self.data[end..], at);
        }
    }

    pub fn value(&self) -> ValueRef<'_> {
        match &self.boxed {
            None => ValueRef::Str(&self.data[self.key_bounds().1..]),
            Some(v) => v.as_ref().as_value_ref(),
        }
    }

    /// The value for changing in place. An inline string moves to its own
    /// growable buffer first (then repeated APPENDs are amortized O(1)).
    pub fn value_mut(&mut self) -> &mut Value {
        if self.boxed.is_none() {
            let (start, end) = self.key_bounds();
            let value = Value::Str(self.data[end..].to_vec());
            self.data = pack(&self.data[start..end], &[], self.expires_at_ms());
            self.boxed = Some(Box::new(value));
        }
        self.boxed.as_mut().expect("boxed above")
    }

    /// Replaces the value with the string `value`, keeping key and expiry:
    /// in place when an inline string of the same length is there (INCR's
    /// common case), else packed anew.
    pub fn set_str(&mut self, value: &[u8]) {
        let (start, end) = self.key_bounds();
        if self.boxed.is_none() && self.data.len() - end == value.len() {
            self.data[end..].copy_from_slice(value);
            return;
        }
        self.data = pack(&self.data[start..end], value, self.expires_at_ms());
        self.boxed = None;
    }

    /// Replaces the value, keeping key and expiry.
    pub fn set_value(&mut self, value: Value) {
        let key = self.key().to_vec();
        *self = Entry::new(&key, value, self.expires_at_ms());
    }

    pub fn into_value(self) -> Value {
        match self.boxed {
            Some(v) => *v,
            None => {
                let (_, end) = self.key_bounds();
                Value::Str(self.data[end..].to_vec())
            }
        }
    }
}

fn pack(key: &[u8], inline: &[u8], expires_at_ms: u64) -> Box<[u8]> {
    let mut data = Vec::with_capacity(1 + 8 + 5 + key.len() + inline.len());
    if expires_at_ms != 0 {
        data.push(HAS_EXPIRY_SLOT);
        data.extend_from_slice(&expires_at_ms.to_le_bytes());
    } else {
        data.push(0);
    }
    let mut len = key.len();
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            data.push(b);
            break;
        }
        data.push(b | 0x80);
    }
    data.extend_from_slice(key);
    data.extend_from_slice(inline);
    data.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_key_value_and_expiry() {
        let long_key = vec![7u8; 300];
        for key in [&b""[..], b"k", &long_key] {
            let mut e = Entry::new(key, Value::Str(b"hello".to_vec()), 0);
            assert_eq!(e.key(), key);
            assert_eq!(e.value(), ValueRef::Str(b"hello"));
            assert_eq!(e.expires_at_ms(), 0);
            e.set_expires_at_ms(42);
            assert_eq!((e.key(), e.expires_at_ms()), (key, 42));
            assert_eq!(e.value(), ValueRef::Str(b"hello"));
            if let Value::Str(s) = e.value_mut() {
                s.extend_from_slice(b" world");
            }
            assert_eq!(e.value(), ValueRef::Str(b"hello world"));
            e.set_expires_at_ms(0);
            assert!(!e.is_expired(u64::MAX));
            assert_eq!(e.key(), key);
            e.set_value(Value::Str(b"x".to_vec()));
            assert_eq!(e.value(), ValueRef::Str(b"x"));
            assert_eq!(e.clone().into_value(), Value::Str(b"x".to_vec()));
        }
    }

    #[test]
    fn entry_is_small() {
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }
}
