//! The classes of keyspace events (`notify-keyspace-events`) and their
//! flag letters, as Redis 7.0 parses and shows them. Low in the layers:
//! configuration validates the parameter with it; `crate::notify` queues
//! the events it selects.

/// An event class, or a set of them, with Redis's bit values
/// (`NOTIFY_*` in Redis's `server.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class(pub u32);

impl Class {
    /// `K`: `__keyspace@<db>__:<key>` channels, the event as message.
    pub const KEYSPACE: Class = Class(1 << 0);
    /// `E`: `__keyevent@<db>__:<event>` channels, the key as message.
    pub const KEYEVENT: Class = Class(1 << 1);
    /// `g`: DEL, EXPIRE, RENAME ... (not type specific).
    pub const GENERIC: Class = Class(1 << 2);
    /// `$`
    pub const STRING: Class = Class(1 << 3);
    /// `l`
    pub const LIST: Class = Class(1 << 4);
    /// `s`
    pub const SET: Class = Class(1 << 5);
    /// `h`
    pub const HASH: Class = Class(1 << 6);
    /// `z`
    pub const ZSET: Class = Class(1 << 7);
    /// `x`: a key deleted because its time was up.
    pub const EXPIRED: Class = Class(1 << 8);
    /// `e`: a key evicted for `maxmemory`.
    pub const EVICTED: Class = Class(1 << 9);
    /// `t`
    pub const STREAM: Class = Class(1 << 10);
    /// `m`: a read found no key.
    pub const KEY_MISS: Class = Class(1 << 11);
    /// (Redis's `NOTIFY_LOADED`: modules only, no letter.)
    const LOADED: Class = Class(1 << 12);
    /// `d`: module key types.
    pub const MODULE: Class = Class(1 << 13);
    /// `n`: a key created.
    pub const NEW: Class = Class(1 << 14);
    /// `A`: `g$lshzxetd` (not `m` nor `n`, as in Redis).
    pub const ALL: Class = Class(
        Self::GENERIC.0
            | Self::STRING.0
            | Self::LIST.0
            | Self::SET.0
            | Self::HASH.0
            | Self::ZSET.0
            | Self::EXPIRED.0
            | Self::EVICTED.0
            | Self::STREAM.0
            | Self::MODULE.0,
    );
    /// Where events go: either kind of channel.
    pub const CHANNELS: Class = Class(Self::KEYSPACE.0 | Self::KEYEVENT.0);

    pub fn has(self, other: Class) -> bool {
        self.0 & other.0 != 0
    }
}

/// The letter of each class but `A`, in the order Redis renders them
/// (`keyspaceEventsFlagsToString`); `K`, `E` and `m` come after `A`.
const LETTERS: [(u8, Class); 11] = [
    (b'g', Class::GENERIC),
    (b'$', Class::STRING),
    (b'l', Class::LIST),
    (b's', Class::SET),
    (b'h', Class::HASH),
    (b'z', Class::ZSET),
    (b'x', Class::EXPIRED),
    (b'e', Class::EVICTED),
    (b't', Class::STREAM),
    (b'd', Class::MODULE),
    (b'n', Class::NEW),
];

/// Rendered after the class letters (or `A`), in this order.
const TRAILING_LETTERS: [(u8, Class); 3] = [
    (b'K', Class::KEYSPACE),
    (b'E', Class::KEYEVENT),
    (b'm', Class::KEY_MISS),
];

/// Redis 7.0's refusal of an unknown letter (CONFIG SET's reason).
pub const INVALID_FLAGS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// The classes a `notify-keyspace-events` value names (Redis's
/// `keyspaceEventsStringToFlags`); `None` for a letter it does not know.
pub fn parse_flags(value: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for &c in value {
        flags |= match c {
            b'A' => Class::ALL.0,
            _ => {
                LETTERS
                    .iter()
                    .chain(&TRAILING_LETTERS)
                    .find(|(letter, _)| *letter == c)?
                    .1
                     .0
            }
        };
    }
    Some(flags)
}

/// The canonical text of `flags`, as CONFIG GET shows it (Redis's
/// `keyspaceEventsFlagsToString`: `A` hides the class letters, `n`
/// included, though `A` does not set it).
pub fn flags_to_string(flags: u32) -> String {
    let flags = Class(flags);
    let mut out = String::new();
    if flags.0 & Class::ALL.0 == Class::ALL.0 {
        out.push('A');
    } else {
        for (letter, class) in LETTERS {
            if flags.has(class) {
                out.push(letter as char);
            }
        }
    }
    for (letter, class) in TRAILING_LETTERS {
        if flags.has(class) {
            out.push(letter as char);
        }
    }
    out
}

/// The classes that produce messages under `flags`: none unless `K` or
/// `E` names a kind of channel to publish on.
pub fn effective(flags: u32) -> u32 {
    let flags = flags & !Class::LOADED.0;
    if Class(flags).has(Class::CHANNELS) {
        flags
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(value: &str) -> Option<String> {
        parse_flags(value.as_bytes()).map(flags_to_string)
    }

    /// Each pair as redis-server 7.0.15 answered CONFIG SET then CONFIG GET.
    #[test]
    fn notify_flags_parse_and_render_as_redis() {
        for (set, get) in [
            ("", ""),
            ("g", "g"),
            ("A", "A"),
            ("Ag", "A"),
            ("KEA", "AKE"),
            ("AKEmn", "AKEm"),
            ("n", "n"),
            ("m", "m"),
            ("lzK", "lzK"),
            ("Kl", "lK"),
            ("xE", "xE"),
            ("gx$lshzetdmnKE", "AKEm"),
            ("AAK", "AK"),
            ("EKnmA", "AKEm"),
            ("d", "d"),
            ("t", "t"),
            ("e", "e"),
            ("$lshzxetdgnKE", "AKE"),
            ("$n", "$n"),
        ] {
            assert_eq!(canonical(set).as_deref(), Some(get), "{set:?}");
        }
        for bad in ["Q", "Kq", "a", "KEA ", "k", "\0", "é"] {
            assert_eq!(canonical(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn notify_classes_need_a_kind_of_channel() {
        let parse = |s: &str| parse_flags(s.as_bytes()).unwrap_or(u32::MAX);
        assert_eq!(effective(parse("A")), 0);
        assert_eq!(effective(parse("Kl")), parse("Kl"));
        assert_eq!(effective(parse("E")), parse("E"));
        // With A, `n` is set only when named.
        assert!(!Class(parse("KA")).has(Class::NEW));
        assert!(Class(parse("KAn")).has(Class::NEW));
    }
}
