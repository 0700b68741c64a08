//! CRC64 with Redis's "Jones" polynomial (reflected, init 0), the footer
//! of RDB files and DUMP payloads; incremental so a writer can stream.

const POLY: u64 = 0x95ac_9329_ac4b_c9b5; // 0xad93d23594c935a9 reflected

static TABLE: std::sync::LazyLock<[u64; 256]> = std::sync::LazyLock::new(|| {
    let mut table = [0u64; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut crc = i as u64;
        for _ in 0..8 {
            crc = (crc >> 1) ^ if crc & 1 == 1 { POLY } else { 0 };
        }
        *slot = crc;
    }
    table
});

/// The CRC of `data` continued from `crc` (0 to start).
pub fn update(crc: u64, data: &[u8]) -> u64 {
    let table = &*TABLE;
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
}
