//! Redis's error texts, exactly: clients parse the code before the first
//! space and sometimes the rest.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// The reply to a command run against a key of another type.
pub fn wrongtype() -> crate::protocol::Reply {
    crate::protocol::Reply::error(WRONGTYPE)
}
pub const SYNTAX: &str = "ERR syntax error";
/// Redis 7.0's refusal of writes after a failed RDB save with
/// `stop-writes-on-bgsave-error yes`.
pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The reply to malformed options.
pub fn syntax() -> crate::protocol::Reply {
    crate::protocol::Reply::error(SYNTAX)
}
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in '{}' command";
pub const DB_INDEX_OUT_OF_RANGE: &str = "ERR DB index is out of range";
pub const INVALID_DB_INDEX: &str = "ERR invalid DB index";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
pub const MIN_MAX_NOT_STRING: &str = "ERR min or max not valid string range item";
pub const NAN_RESULT: &str = "ERR resulting score is not a number (NaN)";
pub const INCR_NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const NUMKEYS_ZERO: &str = "ERR numkeys should be greater than 0";
/// A count of SRANDMEMBER / HRANDFIELD / ZRANDMEMBER outside -LONG_MAX..=LONG_MAX.
pub const RANDOM_COUNT_OUT_OF_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// A write while fewer replicas than `min-replicas-to-write` are good.
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// `ERR wrong number of arguments for 'get' command`
pub fn wrong_args(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `
pub fn unknown_command(argv: &[bytes::Bytes]) -> String {
    let name = argv
        .first()
        .map(|n| String::from_utf8_lossy(&n[..n.len().min(128)]))
        .unwrap_or_default();
    let mut args = String::new();
    for a in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let text = String::from_utf8_lossy(&a[..a.len().min(room)]);
        args.push_str(&format!("'{text}' "));
    }
    format!("ERR unknown command '{name}', with args beginning with: {args}")
}

/// `ERR unknown subcommand 'x'. Try CONFIG HELP.`
pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> String {
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]);
    format!(
        "ERR unknown subcommand '{sub}'. Try {} HELP.",
        cmd.to_ascii_uppercase()
    )
}
