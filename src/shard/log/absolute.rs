//! Relative expiries made absolute before they are logged, as Redis 7
//! propagates them: `EXPIRE k 10` replayed tomorrow must not live ten
//! more seconds. `EXPIRE`/`PEXPIRE` become `PEXPIREAT`, `SETEX`/`PSETEX`
//! become `SET .. PXAT`, and `SET`/`GETEX`'s `EX`/`PX` become `PXAT`.

use bytes::Bytes;

/// `argv` with its relative expiry made absolute from `now_ms`, or `None`
/// when it has none (or a time that does not parse: the command refused
/// it, and replaying it refuses it again).
pub fn rewrite(argv: &[Bytes], now_ms: u64) -> Option<Vec<Bytes>> {
    let name = argv.first()?.to_ascii_lowercase();
    let at = |t: &Bytes, unit_ms: i64| -> Option<Bytes> {
        let n: i64 = std::str::from_utf8(t).ok()?.parse().ok()?;
        let ms = n.checked_mul(unit_ms)?.checked_add(now_ms as i64)?;
        Some(Bytes::from(ms.to_string()))
    };
    match name.as_slice() {
        b"expire" | b"pexpire" if argv.len() >= 3 => {
            let unit = if name == b"expire" { 1000 } else { 1 };
            let mut out = argv.to_vec();
            out[0] = Bytes::from_static(b"PEXPIREAT");
            out[2] = at(&argv[2], unit)?;
            Some(out)
        }
        b"setex" | b"psetex" if argv.len() == 4 => {
            let unit = if name == b"setex" { 1000 } else { 1 };
            Some(vec![
                Bytes::from_static(b"SET"),
                argv[1].clone(),
                argv[3].clone(),
                Bytes::from_static(b"PXAT"),
                at(&argv[2], unit)?,
            ])
        }
        b"set" | b"getex" => {
            let first_option = if name == b"set" { 3 } else { 2 };
            let mut out = argv.to_vec();
            let mut changed = false;
            let mut i = first_option;
            while i + 1 < out.len() {
                let unit = match out[i].to_ascii_lowercase().as_slice() {
                    b"ex" => 1000,
                    b"px" => 1,
                    _ => {
                        i += 1;
                        continue;
                    }
                };
                out[i] = Bytes::from_static(b"PXAT");
                out[i + 1] = at(&argv[i + 1], unit)?;
                changed = true;
                i += 2;
            }
            changed.then_some(out)
        }
        _ => None,
    }
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
        ];
        for (input, want) in cases {
            assert_eq!(text(rewrite(&line(input), now)).as_deref(), want, "{input}");
        }
    }
}
