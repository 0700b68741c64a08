//! CRC64 with Redis's "Jones" polynomial (reflected, init 0), the footer
//! of RDB files and DUMP payloads; incremental so a writer can stream.

const POLY: u64 = 0x95ac_9329_ac4b_c9b5; // 0xad93d23594c935a9 reflected

/// Slicing-by-8 tables: `TABLES[0]` is the byte-at-a-time table,
/// `TABLES[k][i]` the CRC of byte `i` followed by `k` zero bytes, so eight
/// bytes fold in at once (as Redis's crcspeed; the writer of a large RDB
/// file spends much of its time here).
static TABLES: std::sync::LazyLock<[[u64; 256]; 8]> = std::sync::LazyLock::new(|| {
    let mut tables = [[0u64; 256]; 8];
    for (i, slot) in tables[0].iter_mut().enumerate() {
        let mut crc = i as u64;
        for _ in 0..8 {
            crc = (crc >> 1) ^ if crc & 1 == 1 { POLY } else { 0 };
        }
        *slot = crc;
    }
    for k in 1..8 {
        let (done, rest) = tables.split_at_mut(k);
        for (slot, previous) in rest[0].iter_mut().zip(done[k - 1]) {
            *slot = (previous >> 8) ^ done[0][(previous & 0xff) as usize];
        }
    }
    tables
});

/// The CRC of `data` continued from `crc` (0 to start).
pub fn update(mut crc: u64, data: &[u8]) -> u64 {
    let t = &*TABLES;
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = crc ^ u64::from_le_bytes(bytes);
        crc = t[7][(x & 0xff) as usize]
            ^ t[6][((x >> 8) & 0xff) as usize]
            ^ t[5][((x >> 16) & 0xff) as usize]
            ^ t[4][((x >> 24) & 0xff) as usize]
            ^ t[3][((x >> 32) & 0xff) as usize]
            ^ t[2][((x >> 40) & 0xff) as usize]
            ^ t[1][((x >> 48) & 0xff) as usize]
            ^ t[0][(x >> 56) as usize];
    }
    bytewise(crc, words.remainder())
}

fn bytewise(crc: u64, data: &[u8]) -> u64 {
    let table = &TABLES[0];
    data.iter().fold(crc, |crc, &b| {
        table[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// The CRC of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    update(0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_test_vector_in_one_go_and_in_pieces() {
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(update(update(0, b"1234"), b"56789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(b""), 0);
    }

    #[test]
    fn eight_bytes_at_a_time_equals_one_at_a_time() {
        let data: Vec<u8> = (0..1000u64)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for start in 0..17 {
            for end in [start, start + 1, start + 7, start + 8, start + 9, 500, 1000] {
                let part = &data[start..end.max(start)];
                assert_eq!(update(12345, part), bytewise(12345, part), "{start}..{end}");
            }
        }
    }
}
