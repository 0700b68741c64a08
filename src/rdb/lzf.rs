//! LZF decompression (liblzf's `lzf_decompress`), for the compressed
//! strings Redis writes when `rdbcompression` is on.

/// A back reference expands 3 input bytes to at most 264 (88 per byte):
/// a claimed length beyond that is a lie, refused before allocating.
const MAX_EXPANSION: u64 = 88;

/// The `len` bytes `input` expands to; an error (with the input offset)
/// unless it expands to exactly that.
pub fn decompress(input: &[u8], len: u64) -> Result<Vec<u8>, (usize, &'static str)> {
    if len > (input.len() as u64).saturating_mul(MAX_EXPANSION) {
        return Err((0, "LZF length larger than the data can expand to"));
    }
    let len = len as usize;
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let at = i;
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let run = input
                .get(i..i + ctrl + 1)
                .ok_or((at, "LZF literal run past the end"))?;
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            // A back reference: length in the top 3 bits (7 = one more byte).
            let mut run = ctrl >> 5;
            if run == 7 {
                run += *input.get(i).ok_or((at, "LZF reference past the end"))? as usize;
                i += 1;
            }
            let low = *input.get(i).ok_or((at, "LZF reference past the end"))? as usize;
            i += 1;
            let offset = ((ctrl & 0x1f) << 8) + low + 1;
            let start = out
                .len()
                .checked_sub(offset)
                .ok_or((at, "LZF reference before the start"))?;
            // Byte by byte: the reference may overlap what it produces.
            for k in 0..run + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return Err((at, "LZF output longer than its stated length"));
        }
    }
    if out.len() != len {
        return Err((input.len(), "LZF output shorter than its stated length"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_literals_and_overlapping_references() {
        // "abc", then 4 bytes from one back (overlapping itself).
        assert_eq!(decompress(b"\x02abc\x40\x00", 7).unwrap(), b"abccccc");
        // "abc", then a long reference (7 + 1 more) of 10 bytes three back.
        assert_eq!(
            decompress(b"\x02abc\xe0\x01\x02", 13).unwrap(),
            b"abcabcabcabca"
        );
    }

    #[test]
    fn refuses_malformed_input_with_offsets() {
        assert_eq!(decompress(b"\x20\x05", 3).unwrap_err().0, 0); // before start
        assert_eq!(decompress(b"\x05ab", 6).unwrap_err().0, 0); // truncated run
        assert_eq!(decompress(b"\x00a\xe0", 9).unwrap_err().0, 2); // truncated ref
        assert!(decompress(b"\x00a", 2).is_err()); // too short
        assert!(decompress(b"\x01ab", 1).is_err()); // too long
        assert!(decompress(b"\x00a", u64::MAX).is_err()); // absurd, not allocated
    }
}
