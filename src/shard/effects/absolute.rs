//! Relative expiries made absolute before they are logged, as Redis 7
//! propagates them: `EXPIRE k 10` replayed tomorrow must not live ten
//! more seconds. `EXPIRE`/`PEXPIRE` become `PEXPIREAT`, `SETEX`/`PSETEX`
//! become `SET .. PXAT`, `SET`/`GETEX`'s `EX`/`PX` become `PXAT`, and
//! `RESTORE`'s relative ttl becomes an absolute one with `ABSTTL`.

use bytes::Bytes;

/// `argv` with its relative expiry made absolute from `now_ms`, or `None`
/// when it has none (or a time that does not parse: the command refused
/// it, and replaying it refuses it again).
pub fn rewrite(argv: &[Bytes], now_ms: u64) -> Option<Vec<Bytes>> {
    let name = argv.first()?;
    // Compared in place: no allocation for the commands left as they are.
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    let at = |t: &Bytes, unit_ms: i64| -> Option<Bytes> {
        let n: i64 = std::str::from_utf8(t).ok()?.parse().ok()?;
        let ms = n.checked_mul(unit_ms)?.checked_add(now_ms as i64)?;
        Some(Bytes::from(ms.to_string()))
    };
    if (is(b"expire") || is(b"pexpire")) && argv.len() >= 3 {
        let unit = if is(b"expire") { 1000 } else { 1 };
        let mut out = argv.to_vec();
        out[0] = Bytes::from_static(b"PEXPIREAT");
        out[2] = at(&argv[2], unit)?;
        return Some(out);
    }
    if (is(b"setex") || is(b"psetex")) && argv.len() == 4 {
        let unit = if is(b"setex") { 1000 } else { 1 };
        return Some(vec![
            Bytes::from_static(b"SET"),
            argv[1].clone(),
            argv[3].clone(),
            Bytes::from_static(b"PXAT"),
            at(&argv[2], unit)?,
        ]);
    }
    if is(b"restore") {
        return restore(argv, now_ms);
    }
    let first_option = if is(b"set") {
        3
    } else if is(b"getex") {
        2
    } else {
        return None;
    };
    let mut out: Option<Vec<Bytes>> = None;
    let mut i = first_option;
    while i + 1 < argv.len() {
        let unit = if argv[i].eq_ignore_ascii_case(b"ex") {
            1000
        } else if argv[i].eq_ignore_ascii_case(b"px") {
            1
        } else {
            i += 1;
            continue;
        };
        let when = at(&argv[i + 1], unit)?;
        let out = out.get_or_insert_with(|| argv.to_vec());
        out[i] = Bytes::from_static(b"PXAT");
        out[i + 1] = when;
        i += 2;
    }
    out
}

/// `RESTORE key ttl payload [options]` with a relative, non-zero ttl:
/// the deadline it set, with `ABSTTL` added (Redis 7.0 propagates it so).
/// A ttl of 0 means no expiry and stays as it is. The command accepted its
/// options, so an `ABSTTL` among them is the flag (IDLETIME's and FREQ's
/// values are integers).
fn restore(argv: &[Bytes], now_ms: u64) -> Option<Vec<Bytes>> {
    let options = argv.get(4..)?;
    if options.iter().any(|o| o.eq_ignore_ascii_case(b"absttl")) {
        return None;
    }
    let ttl: i64 = std::str::from_utf8(argv.get(2)?).ok()?.parse().ok()?;
    if ttl <= 0 {
        return None;
    }
    // Saturating, as RESTORE itself adds the clock.
    let at = ttl.saturating_add(now_ms as i64);
    let mut out = argv.to_vec();
    out[2] = Bytes::from(at.to_string());
    out.push(Bytes::from_static(b"ABSTTL"));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::from(a.to_string())).collect()
    }

    fn text(argv: Option<Vec<Bytes>>) -> Option<String> {
        argv.map(|a| {
            a.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    #[test]
    fn relative_expiries_become_absolute() {
        let now = 1_000_000;
        let cases = [
            ("EXPIRE k 10", Some("PEXPIREAT k 1010000")),
            ("pexpire k 10 NX", Some("PEXPIREAT k 1000010 NX")),
            ("SETEX k 2 v", Some("SET k v PXAT 1002000")),
            ("PSETEX k 2 v", Some("SET k v PXAT 1000002")),
            ("SET k v NX EX 3", Some("SET k v NX PXAT 1003000")),
            ("SET k px px 5", Some("SET k px PXAT 1000005")),
            ("GETEX k PX 7", Some("GETEX k PXAT 1000007")),
            ("SET k v", None),
            ("GETEX k PERSIST", None),
            ("PEXPIREAT k 5", None),
            ("EXPIRE k notanumber", None),
            ("INCR k", None),
            ("RESTORE k 10 p", Some("RESTORE k 1000010 p ABSTTL")),
            (
                "restore k 5 p REPLACE",
                Some("restore k 1000005 p REPLACE ABSTTL"),
            ),
            ("RESTORE k 0 p", None),
            ("RESTORE k 2000000 p absttl", None),
            ("RESTORE k 10 p FREQ 3 AbsTtl", None),
        ];
        for (input, want) in cases {
            assert_eq!(text(rewrite(&line(input), now)).as_deref(), want, "{input}");
        }
    }
}
