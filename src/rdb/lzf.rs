//! LZF, the compression of RDB strings when `rdbcompression` is on:
//! liblzf's format, read ([`decompress`]) and written ([`compress`]).

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

/// The longest literal run one control byte announces.
const MAX_LITERAL: usize = 32;
/// The farthest a back reference reaches (13 bits of offset, plus one).
const MAX_OFFSET: usize = 1 << 13;
/// The longest back reference: 7 + 255 in the length fields, plus two.
const MAX_REFERENCE: usize = 264;
/// The hash table of 3-byte prefixes has at most 2^14 slots, and fewer
/// for short strings, so a small string does not clear a big table.
const MAX_HASH_BITS: u32 = 14;

/// `input` compressed, or `None` when that takes more than `max_out`
/// bytes (Redis keeps a string plain unless compression saves at least
/// four bytes). Greedy matching over a hash of 3-byte prefixes, as
/// liblzf; the output need not be byte-identical to liblzf's, only
/// decode to `input` with any LZF decoder.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let bits = (usize::BITS - input.len().leading_zeros()).clamp(8, MAX_HASH_BITS);
    // Positions plus one; 0 is "none yet".
    let mut table = vec![0u32; 1 << bits];
    let hash = |p: &[u8]| {
        let v = u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]);
        (v.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
    };
    let mut out = Vec::with_capacity(max_out.min(input.len()));
    let mut literal_from = 0;
    let mut at = 0;
    while at + 2 < input.len() {
        let slot = hash(&input[at..]);
        let candidate = table[slot] as usize;
        table[slot] = at as u32 + 1;
        if let Some(from) = candidate.checked_sub(1) {
            let distance = at - from;
            if distance <= MAX_OFFSET && input[from..from + 3] == input[at..at + 3] {
                let longest = (input.len() - at).min(MAX_REFERENCE);
                let mut len = 3;
                while len < longest && input[from + len] == input[at + len] {
                    len += 1;
                }
                literals(&mut out, &input[literal_from..at]);
                reference(&mut out, distance - 1, len - 2);
                if out.len() > max_out {
                    return None;
                }
                at += len;
                literal_from = at;
                continue;
            }
        }
        at += 1;
    }
    literals(&mut out, &input[literal_from..]);
    (out.len() <= max_out).then_some(out)
}

/// Literal runs of at most [`MAX_LITERAL`] bytes, each after its length.
fn literals(out: &mut Vec<u8>, bytes: &[u8]) {
    for run in bytes.chunks(MAX_LITERAL) {
        out.push(run.len() as u8 - 1);
        out.extend_from_slice(run);
    }
}

/// A back reference: copy `len + 2` bytes from `offset + 1` back.
fn reference(out: &mut Vec<u8>, offset: usize, len: usize) {
    let high = (offset >> 8) as u8;
    if len < 7 {
        out.push((len as u8) << 5 | high);
    } else {
        out.push(7 << 5 | high);
        out.push((len - 7) as u8);
    }
    out.push(offset as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(input: &[u8]) -> Option<usize> {
        let packed = compress(input, input.len())?;
        assert_eq!(decompress(&packed, input.len() as u64).unwrap(), input);
        Some(packed.len())
    }

    #[test]
    fn compressed_strings_expand_back_exactly() {
        // Repetitive text shrinks a lot, including references that
        // overlap what they produce and runs longer than one reference.
        let text = b"abcabcabcabcabcabcabcabcabcabc".repeat(40);
        assert!(round_trip(&text).unwrap() < text.len() / 10);
        assert!(round_trip(&[b'x'; 10_000]).unwrap() < 200);
        // References reaching the farthest offset, and just past it.
        let mut far = vec![0u8; 0];
        let mut x = 12345u32;
        for _ in 0..(MAX_OFFSET + 100) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            far.push((x >> 16) as u8);
        }
        far.extend_from_within(0..200);
        far.extend_from_within(100..300);
        round_trip(&far);
        // Noise does not fit in its own length: left plain.
        assert_eq!(compress(&far[..4000], 4000 - 4), None);
        for len in 0..100 {
            let s: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            if let Some(packed) = compress(&s, s.len() + 40) {
                assert_eq!(decompress(&packed, len as u64).unwrap(), s);
            }
        }
    }

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
