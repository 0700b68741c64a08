//! DUMP and RESTORE: a key's value as Redis 7.0's DUMP payload and back
//! (`rdb::payload`), so values move between shardis and redis-server with
//! the commands clients and migration tools already use.
//!
//! shardis keeps no LRU clock or LFU counter: RESTORE's IDLETIME and FREQ
//! are checked as Redis checks them, then ignored.

use bytes::Bytes;

use super::flags::*;
use super::{command, int_arg, is, Command, Ctx};
use crate::notify::Class;
use crate::protocol::Reply;
use crate::rdb::payload::{self, PayloadError};

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("dump",    2,  READONLY)        .key().shard(dump),
    command("restore", -4, WRITE | DENYOOM) .key().shard(fallible!(restore)),
];

const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
const INVALID_TTL: &str = "ERR Invalid TTL value, must be >= 0";
const INVALID_IDLETIME: &str = "ERR Invalid IDLETIME value, must be >= 0";
const INVALID_FREQ: &str = "ERR Invalid FREQ value, must be >= 0 and <= 255";
const BAD_VERSION_OR_CHECKSUM: &str = "ERR DUMP payload version or checksum are wrong";
const BAD_DATA: &str = "ERR Bad data format";

/// The largest LFU counter FREQ may set (Redis's counter is one byte).
const MAX_FREQ: i64 = 255;

/// DUMP key: the payload, or nil without the key.
fn dump(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    match ctx.read(&argv[1]) {
        Some(value) => Reply::Bulk(Bytes::from(payload::dump(value))),
        None => Reply::Nil,
    }
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct Options {
    replace: bool,
    absttl: bool,
}

impl Options {
    /// Parses them as Redis does: left to right, each option's value
    /// checked as it is read, IDLETIME and FREQ exclusive (the second one
    /// is a syntax error), either one missing its value a syntax error.
    fn parse(args: &[Bytes]) -> Result<Options, Reply> {
        let mut options = Options::default();
        let (mut idle, mut freq) = (false, false);
        let mut i = 0;
        while i < args.len() {
            let opt = &args[i];
            let value = args.get(i + 1);
            if is(opt, "replace") {
                options.replace = true;
            } else if is(opt, "absttl") {
                options.absttl = true;
            } else if let Some(value) = value.filter(|_| is(opt, "idletime") && !freq) {
                if int_arg(value)? < 0 {
                    return Err(Reply::error(INVALID_IDLETIME));
                }
                idle = true;
                i += 1;
            } else if let Some(value) = value.filter(|_| is(opt, "freq") && !idle) {
                if !(0..=MAX_FREQ).contains(&int_arg(value)?) {
                    return Err(Reply::error(INVALID_FREQ));
                }
                freq = true;
                i += 1;
            } else {
                return Err(super::errors::syntax());
            }
            i += 1;
        }
        Ok(options)
    }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]
///
/// Checks in Redis's order: options, BUSYKEY, the ttl, the payload's
/// footer, its value. A ttl of 0 is no expiry; a deadline already past
/// creates nothing (with REPLACE the old key is still deleted) and
/// answers OK, as Redis does.
fn restore(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply, Reply> {
    let options = Options::parse(&argv[4..])?;
    let key = &argv[1];
    let now = ctx.now_ms;
    if !options.replace && ctx.db().contains(key, now) {
        return Err(Reply::error(BUSYKEY));
    }
    let ttl = int_arg(&argv[2])?;
    if ttl < 0 {
        return Err(Reply::error(INVALID_TTL));
    }
    let value = payload::restore(&argv[3]).map_err(|e| {
        Reply::error(match e {
            PayloadError::VersionOrChecksum => BAD_VERSION_OR_CHECKSUM,
            PayloadError::BadData(_) => BAD_DATA,
        })
    })?;
    let db = ctx.db();
    let replaced = options.replace && db.remove_live(key, now).is_some();
    // Saturating: a relative ttl near i64::MAX is "never" either way.
    let expires_at = match ttl {
        0 => 0,
        ttl if options.absttl => ttl,
        ttl => ttl.saturating_add(now as i64),
    };
    if expires_at != 0 && expires_at <= now as i64 {
        if replaced {
            ctx.notify(Class::GENERIC, "del", key);
        }
        return Ok(Reply::ok());
    }
    db.insert(key, value, expires_at as u64);
    ctx.notify(Class::GENERIC, "restore", key);
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Keyspace, Value, ValueRef};

    const NOW_MS: u64 = 1_000_000;

    fn run(shard: &mut Keyspace, args: &[&[u8]]) -> Reply {
        let argv: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let cmd = super::super::lookup(args[0]).expect("known command");
        let hub = crate::pubsub::Hub::detached();
        let mut ctx = Ctx {
            keyspace: shard,
            notify: &mut Default::default(),
            db: 0,
            now_ms: NOW_MS,
            resp3: false,
            pubsub: &hub,
        };
        (cmd.run.shard_fn().expect("shard-side command"))(&mut ctx, &argv)
    }

    fn expiry(shard: &mut Keyspace, key: &[u8]) -> Option<u64> {
        shard.dbs[0].get(key, NOW_MS).map(|e| e.expires_at_ms())
    }

    #[test]
    fn restore_sets_value_and_expiry_and_refuses_what_redis_refuses() {
        let mut shard = Keyspace::for_shard(0, 1);
        let payload = payload::dump(ValueRef::Str(b"v"));
        let p = &payload[..];
        let ok = Reply::ok();
        let err = |text: &str| Reply::error(text.to_string());
        // An empty set behind a good footer: verified, then refused.
        let mut empty_set = b"\x02\x00\x0a\x00".to_vec();
        let crc = crate::rdb::crc::crc64(&empty_set);
        empty_set.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(run(&mut shard, &[b"dump", b"k"]), Reply::Nil);
        assert_eq!(run(&mut shard, &[b"restore", b"k", b"0", p]), ok);
        assert_eq!(expiry(&mut shard, b"k"), Some(0));
        assert_eq!(
            run(&mut shard, &[b"dump", b"k"]),
            Reply::Bulk(Bytes::from(payload.clone()))
        );
        assert_eq!(run(&mut shard, &[b"restore", b"k", b"0", p]), err(BUSYKEY));
        // Options come first, then BUSYKEY, then the ttl, then the payload.
        let cases: &[(&[&[u8]], &str)] = &[
            (
                &[b"restore", b"k", b"0", p, b"bogus"],
                super::super::errors::SYNTAX,
            ),
            (
                &[b"restore", b"k", b"x", p, b"idletime", b"-1"],
                INVALID_IDLETIME,
            ),
            (&[b"restore", b"k", b"0", p, b"freq", b"256"], INVALID_FREQ),
            (
                &[b"restore", b"k", b"0", p, b"idletime", b"1", b"freq", b"1"],
                super::super::errors::SYNTAX,
            ),
            (
                &[b"restore", b"k", b"0", p, b"freq"],
                super::super::errors::SYNTAX,
            ),
            (&[b"restore", b"k", b"x", p], BUSYKEY),
            (&[b"restore", b"k", b"-1", p, b"replace"], INVALID_TTL),
            (&[b"restore", b"n", b"-1", p], INVALID_TTL),
            (
                &[b"restore", b"n", b"x", p],
                super::super::errors::NOT_INTEGER,
            ),
            (
                &[b"restore", b"n", b"0", b"\x00\x01v\x0a\x00"],
                BAD_VERSION_OR_CHECKSUM,
            ),
            (&[b"restore", b"n", b"0", &empty_set], BAD_DATA),
        ];
        for (args, want) in cases {
            assert_eq!(run(&mut shard, args), err(want), "{args:?}");
        }
        // A relative ttl, an absolute one, one already past.
        assert_eq!(
            run(&mut shard, &[b"restore", b"k", b"5000", p, b"REPLACE"]),
            ok
        );
        assert_eq!(expiry(&mut shard, b"k"), Some(NOW_MS + 5000));
        let at = (NOW_MS + 7).to_string();
        let args: &[&[u8]] = &[b"restore", b"k", at.as_bytes(), p, b"replace", b"absttl"];
        assert_eq!(run(&mut shard, args), ok);
        assert_eq!(expiry(&mut shard, b"k"), Some(NOW_MS + 7));
        let past = NOW_MS.to_string();
        let args: &[&[u8]] = &[b"restore", b"k", past.as_bytes(), p, b"absttl", b"replace"];
        assert_eq!(run(&mut shard, args), ok);
        assert_eq!(
            expiry(&mut shard, b"k"),
            None,
            "REPLACE deleted the old key"
        );
        // IDLETIME and FREQ are accepted alone (and ignored).
        let args: &[&[u8]] = &[
            b"restore",
            b"i",
            b"0",
            p,
            b"idletime",
            b"10",
            b"idletime",
            b"0",
        ];
        assert_eq!(run(&mut shard, args), ok);
        let args: &[&[u8]] = &[b"restore", b"f", b"0", p, b"FREQ", b"255"];
        assert_eq!(run(&mut shard, args), ok);
        assert_eq!(
            shard.dbs[0].value(b"f", NOW_MS).map(|v| v.to_owned_value()),
            Some(Value::Str(b"v".to_vec()))
        );
    }
}
