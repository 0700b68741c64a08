//! Exact emulation of C `long double` arithmetic for `INCRBYFLOAT` and
//! `HINCRBYFLOAT`.
//!
//! Redis computes these two commands in C `long double`, which on x86-64 is
//! the x87 80-bit extended format (64-bit significand, 15-bit exponent), and
//! the digits it replies with depend on that precision: `"1000"` plus `"0.1"`
//! is `"1000.09999999999999998"`, where `f64` arithmetic would print
//! `"1000.10000000000002274"`. Rust has no `long double`, so this module
//! redoes Redis's three steps in exact integer arithmetic:
//!
//! 1. `string2ld`: `strtold` parsing, correctly rounded to the nearest
//!    extended value (ties to even, as glibc does), plus Redis's acceptance
//!    rules ([`LongDouble::parse`]);
//! 2. one extended-precision addition: exact sum, single rounding
//!    ([`LongDouble::checked_add`]);
//! 3. `ld2string(..., LD_STR_HUMAN)`: `%.17Lf` from the exact binary value
//!    (glibc rounds ties to even there too), then trailing zeros and a
//!    trailing `.` removed, and `-0` turned into `0`
//!    ([`LongDouble::to_human_string`]).
//!
//! A finite value is `±mantissa × 2^exponent` with a 64-bit mantissa. Only
//! the rare slow paths (parsing, printing values ≥ 2^128) need big integers;
//! a tiny unsigned bignum (`Big`) covers them.

use std::cmp::Ordering;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: `string2ld` copies its input into a
/// buffer of this size with a NUL terminator, so inputs must be shorter.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Exponent of the last mantissa bit of subnormals (the smallest one is
/// 2^-16445); no extended value has a finer grid.
const MIN_EXP: i64 = -16445;
/// Exponent of the last mantissa bit of the largest finite value,
/// `(2^64 - 1) × 2^16320`, just below 2^16384.
const MAX_EXP: i64 = 16320;
/// `10^17`: `%.17Lf` prints 17 digits after the point.
const TEN_POW_17: u128 = 100_000_000_000_000_000;
/// Saturation point for parsed exponents: far beyond any finite or nonzero
/// value, and small enough that later arithmetic cannot overflow `i64`.
const EXP_CAP: i64 = 1 << 40;

/// Why `INCRBYFLOAT` fails; the caller maps these to Redis's error texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncrFloatError {
    /// An operand is not accepted by `string2ld`:
    /// "ERR value is not a valid float".
    NotAFloat,
    /// The sum is NaN or infinite:
    /// "ERR increment would produce NaN or Infinity".
    NanOrInfinity,
}

/// `INCRBYFLOAT` arithmetic: parse both operands like Redis's `string2ld`,
/// add them in extended precision and format the sum the way Redis replies
/// and stores it.
///
/// `current` is the stored string (pass `b"0"` for a missing key).
///
/// # Errors
///
/// [`IncrFloatError::NotAFloat`] if either operand does not parse,
/// [`IncrFloatError::NanOrInfinity`] if the sum is not finite.
pub fn incr_by_float(current: &[u8], increment: &[u8]) -> Result<String, IncrFloatError> {
    let value = LongDouble::parse(current).ok_or(IncrFloatError::NotAFloat)?;
    let incr = LongDouble::parse(increment).ok_or(IncrFloatError::NotAFloat)?;
    let sum = value
        .checked_add(incr)
        .ok_or(IncrFloatError::NanOrInfinity)?;
    Ok(sum.to_human_string())
}

/// An x87 extended-precision value: finite or infinite, never NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    negative: bool,
    magnitude: Magnitude,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Magnitude {
    /// `mantissa × 2^exponent`, normalized: bit 63 of the mantissa is set,
    /// or `exponent == MIN_EXP` (subnormals and zero).
    Finite {
        mantissa: u64,
        exponent: i64,
    },
    Infinite,
}

impl LongDouble {
    fn zero(negative: bool) -> Self {
        LongDouble {
            negative,
            magnitude: Magnitude::Finite {
                mantissa: 0,
                exponent: MIN_EXP,
            },
        }
    }

    fn infinity(negative: bool) -> Self {
        LongDouble {
            negative,
            magnitude: Magnitude::Infinite,
        }
    }

    /// Whether the value is finite (not an infinity).
    #[must_use]
    pub fn is_finite(&self) -> bool {
        matches!(self.magnitude, Magnitude::Finite { .. })
    }

    /// Parse exactly like Redis's `string2ld` (that is, glibc `strtold`
    /// plus Redis's checks):
    ///
    /// * the input must be non-empty and shorter than
    ///   [`MAX_LONG_DOUBLE_CHARS`];
    /// * no leading whitespace, and `strtold` must consume every byte (so a
    ///   NUL byte anywhere is an error too);
    /// * decimal (`"1"`, `"-2.5"`, `"+.5"`, `"5."`, `"1e-3"`) and C99 hex
    ///   (`"0x1.8p3"`) forms, and `inf` / `infinity` in any case, with an
    ///   optional sign;
    /// * NaN is rejected, and so are overflow to infinity and underflow to
    ///   zero (`strtold`'s `ERANGE` cases); subnormal results are accepted.
    #[must_use]
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        if s.first().is_some_and(|&b| is_c_space(b)) {
            return None;
        }
        let (negative, body) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Self::infinity(negative));
        }
        // A failed hex scan is a failure overall: strtold would stop at the
        // 'x' after reading "0".
        let (radix, scanned) = match body {
            [b'0', b'x' | b'X', hex @ ..] => (16, scan(hex, 16, b'p')?),
            _ => (10, scan(body, 10, b'e')?),
        };
        scanned.into_value(negative, radix)
    }

    /// Add in extended precision (exact sum, one rounding to nearest-even).
    /// Returns `None` when the result is NaN or infinite, which is the
    /// condition Redis reports as "increment would produce NaN or Infinity".
    #[must_use]
    pub fn checked_add(self, other: LongDouble) -> Option<LongDouble> {
        match (self.magnitude, other.magnitude) {
            (
                Magnitude::Finite {
                    mantissa: ma,
                    exponent: ea,
                },
                Magnitude::Finite {
                    mantissa: mb,
                    exponent: eb,
                },
            ) => {
                let sum = add_finite((self.negative, ma, ea), (other.negative, mb, eb));
                sum.is_finite().then_some(sum)
            }
            _ => None,
        }
    }

    /// Format like Redis's `ld2string(..., LD_STR_HUMAN)`: `%.17Lf`, then
    /// trailing zeros and a trailing `.` removed, and `"-0"` becomes `"0"`.
    /// Infinities are spelled `inf` / `-inf`, as `ld2string` does.
    #[must_use]
    pub fn to_human_string(&self) -> String {
        let (mantissa, exponent) = match self.magnitude {
            Magnitude::Infinite if self.negative => return "-inf".to_owned(),
            Magnitude::Infinite => return "inf".to_owned(),
            Magnitude::Finite { mantissa, exponent } => (mantissa, exponent),
        };
        let body = if exponent >= 0 {
            // An integer: all 17 decimals are zeros and get trimmed.
            Big::from_u128(u128::from(mantissa))
                .shl(exponent.unsigned_abs())
                .to_decimal()
        } else {
            // mantissa × 10^17 < 2^121, so rounding the scaled value to an
            // integer, exactly like printf does, fits in a u128.
            let scaled = u128::from(mantissa) * TEN_POW_17;
            let rounded = shift_right_round(scaled, exponent.unsigned_abs(), false);
            let text = format!("{}.{:017}", rounded / TEN_POW_17, rounded % TEN_POW_17);
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        };
        if self.negative && body != "0" {
            format!("-{body}")
        } else {
            body
        }
    }
}

/// C `isspace` in the "C" locale (Redis does not set `LC_CTYPE`).
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// A syntactically valid number: `digits × radix^-fraction_digits × base^exponent`
/// where `base` is 10 for decimal and 2 for hex input.
struct Scanned {
    /// Digit values (0..radix), possibly with leading and trailing zeros.
    digits: Vec<u8>,
    /// How many of `digits` came after the point.
    fraction_digits: i64,
    /// The explicit exponent (`e` for decimal, binary `p` for hex), saturated.
    exponent: i64,
}

/// Match `strtold`'s grammar after the sign (and after `0x` for hex):
/// `(digits [. digits*] | . digits) [exp_char [+|-] decimal-digits]`, where
/// the exponent letter is case-insensitive. The whole input must match,
/// since Redis rejects anything `strtold` leaves unconsumed.
fn scan(s: &[u8], radix: u32, exp_char: u8) -> Option<Scanned> {
    let mut digits = Vec::new();
    let mut fraction_digits = 0i64;
    let mut seen_point = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if let Some(d) = char::from(b).to_digit(radix) {
            digits.push(u8::try_from(d).ok()?);
            fraction_digits += i64::from(seen_point);
        } else if b == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits.is_empty() {
        return None;
    }
    let mut exponent = 0i64;
    if s.get(i).is_some_and(|b| b.to_ascii_lowercase() == exp_char) {
        i += 1;
        let negative = s.get(i) == Some(&b'-');
        if matches!(s.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let start = i;
        while let Some(&d) = s.get(i).filter(|b| b.is_ascii_digit()) {
            exponent = (exponent * 10 + i64::from(d - b'0')).min(EXP_CAP);
            i += 1;
        }
        if i == start {
            // strtold stops before the exponent letter: leftover bytes.
            return None;
        }
        if negative {
            exponent = -exponent;
        }
    }
    (i == s.len()).then_some(Scanned {
        digits,
        fraction_digits,
        exponent,
    })
}

impl Scanned {
    /// The correctly rounded extended value, or `None` on overflow to
    /// infinity or underflow of a nonzero input to zero (`ERANGE`).
    fn into_value(self, negative: bool, radix: u32) -> Option<LongDouble> {
        let first = self.digits.iter().position(|&d| d != 0);
        let last = self.digits.iter().rposition(|&d| d != 0);
        let (Some(first), Some(last)) = (first, last) else {
            return Some(LongDouble::zero(negative)); // exact zero: no ERANGE
        };
        let digits = self.digits.get(first..=last)?;
        let trailing_zeros = i64::try_from(self.digits.len() - 1 - last).ok()?;
        let count = i64::try_from(digits.len()).ok()?;
        let mut numerator = Big::from_digits(digits, radix);
        let mut denominator = Big::from_u128(1);
        let binary_exponent = if radix == 16 {
            // value = digits × 2^scale, and 2^(scale+4·count-4) ≤ value < 2^(scale+4·count).
            let scale = self.exponent + 4 * (trailing_zeros - self.fraction_digits);
            if scale + 4 * count - 4 >= 16384 || scale + 4 * count < MIN_EXP - 1 {
                return None; // ≥ 2^16384 overflows; < 2^-16446 rounds to zero
            }
            scale
        } else {
            // value = digits × 10^scale, and 10^(lead-1) ≤ value < 10^lead.
            let scale = self.exponent + trailing_zeros - self.fraction_digits;
            let lead = scale + count;
            // LDBL_MAX ≈ 1.19e4932; half the smallest subnormal ≈ 1.82e-4951.
            if lead - 1 > 4933 || lead < -4951 {
                return None;
            }
            if scale >= 0 {
                numerator.mul_pow10(scale.unsigned_abs());
            } else {
                denominator.mul_pow10(scale.unsigned_abs());
            }
            0
        };
        let value = divide_round(negative, numerator, denominator, binary_exponent);
        match value.magnitude {
            Magnitude::Infinite | Magnitude::Finite { mantissa: 0, .. } => None,
            Magnitude::Finite { .. } => Some(value),
        }
    }
}

/// Round `numerator / denominator × 2^binary_exponent` (numerator nonzero)
/// to the nearest extended value, ties to even.
fn divide_round(
    negative: bool,
    numerator: Big,
    denominator: Big,
    binary_exponent: i64,
) -> LongDouble {
    // Scale so the quotient has 65 or 66 bits: with L = bit length of the
    // denominator, 2^(L+64) ≤ numerator < 2^(L+65) and 2^(L-1) ≤ denominator
    // < 2^L give 2^64 < quotient < 2^66. That is 64 mantissa bits plus at
    // least one rounding bit; the remainder supplies the sticky bit.
    let shift = 65 + bit_len_i64(&denominator) - bit_len_i64(&numerator);
    let (mut remainder, denominator) = if shift >= 0 {
        (numerator.shl(shift.unsigned_abs()), denominator)
    } else {
        (numerator, denominator.shl(shift.unsigned_abs()))
    };
    let mut quotient: u128 = 0;
    for bit in (0..66u64).rev() {
        let step = denominator.shl(bit);
        if remainder.cmp(&step) != Ordering::Less {
            remainder.sub_assign(&step);
            quotient |= 1 << bit;
        }
    }
    round_pack(
        negative,
        quotient,
        binary_exponent - shift,
        !remainder.is_zero(),
    )
}

fn bit_len_i64(b: &Big) -> i64 {
    i64::try_from(b.bit_len()).unwrap_or(i64::MAX)
}

/// Round `q × 2^exponent` (plus an infinitesimal if `sticky`) to the nearest
/// extended value, ties to even: 64 significant bits, but never finer than
/// the subnormal grid 2^MIN_EXP; beyond the largest finite value it is
/// infinite.
///
/// `sticky` must only be set when the rounding position is above bit 0 of
/// `q`, which holds for every caller (their `q` always has 65+ bits then).
fn round_pack(negative: bool, q: u128, exponent: i64, sticky: bool) -> LongDouble {
    let bits = i64::from(128 - q.leading_zeros());
    let shift = (bits - 64).max(MIN_EXP - exponent);
    let (rounded, mut exponent) = if shift > 0 {
        (
            shift_right_round(q, shift.unsigned_abs(), sticky),
            exponent + shift,
        )
    } else {
        (q, exponent)
    };
    // Rounding up may carry into bit 64: 2^64 × 2^e is 2^63 × 2^(e+1).
    let mut mantissa = match u64::try_from(rounded) {
        Ok(m) => m,
        Err(_) => {
            exponent += 1;
            1 << 63
        }
    };
    if mantissa == 0 {
        return LongDouble::zero(negative);
    }
    // Normalize (only exact small results need it), down to the subnormal grid.
    let room = i64::from(mantissa.leading_zeros()).min(exponent - MIN_EXP);
    if room > 0 {
        mantissa <<= room;
        exponent -= room;
    }
    if exponent > MAX_EXP {
        return LongDouble::infinity(negative);
    }
    LongDouble {
        negative,
        magnitude: Magnitude::Finite { mantissa, exponent },
    }
}

/// `q / 2^shift` rounded to nearest, ties to even; `sticky` says the true
/// value is a little above `q` (by less than one unit of its last bit).
fn shift_right_round(q: u128, shift: u64, sticky: bool) -> u128 {
    if shift == 0 {
        return q;
    }
    if shift > 128 {
        return 0; // q < 2^128 < 2^(shift-1): below one half
    }
    let shift = u32::try_from(shift).unwrap_or(128);
    let kept = q.checked_shr(shift).unwrap_or(0);
    let rest = q - kept.checked_shl(shift).unwrap_or(0);
    let half = 1u128 << (shift - 1);
    let round_up = match rest.cmp(&half) {
        Ordering::Greater => true,
        Ordering::Equal => sticky || kept & 1 == 1,
        Ordering::Less => false,
    };
    kept + u128::from(round_up)
}

/// Exact sum of two finite values `(negative, mantissa, exponent)`, rounded.
fn add_finite(a: (bool, u64, i64), b: (bool, u64, i64)) -> LongDouble {
    match (a.1, b.1) {
        // IEEE round-to-nearest: -0 + -0 is -0, any other zero sum is +0.
        (0, 0) => return LongDouble::zero(a.0 && b.0),
        (0, _) => return round_pack(b.0, u128::from(b.1), b.2, false),
        (_, 0) => return round_pack(a.0, u128::from(a.1), a.2, false),
        _ => {}
    }
    // Normalized operands order by (exponent, mantissa) like by magnitude.
    let (big, small) = if (a.2, a.1) >= (b.2, b.1) {
        (a, b)
    } else {
        (b, a)
    };
    let distance = (big.2 - small.2).unsigned_abs();
    // Frame: big's mantissa at bits 62..=125, leaving a carry bit on top and
    // 62 guard bits below.
    let big_frame = u128::from(big.1) << 62;
    let small_frame = if distance <= 62 {
        u128::from(small.1) << (62 - distance)
    } else {
        // The small operand falls (partly) below the frame. Then the sum
        // keeps big's top bits at 124+, so the rounding position is far
        // above bit 0 and a sticky bit there stands in exactly for the
        // discarded bits, for addition and subtraction alike.
        let drop = distance - 62;
        let m = u128::from(small.1);
        if drop >= 64 {
            1
        } else {
            let kept = m >> drop;
            kept | u128::from(kept << drop != m)
        }
    };
    let sum = if big.0 == small.0 {
        big_frame + small_frame
    } else {
        big_frame - small_frame
    };
    if sum == 0 {
        return LongDouble::zero(false);
    }
    round_pack(big.0, sum, big.2 - 62, false)
}

/// A minimal unsigned big integer (little-endian `u32` limbs, no high zero
/// limbs) for exact parsing and printing.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    fn from_u128(mut v: u128) -> Big {
        let mut limbs = Vec::new();
        while v != 0 {
            limbs.push(v as u32); // truncation intended: low limb
            v >>= 32;
        }
        Big { limbs }
    }

    /// The number written by `digits` (values below `radix`, 10 or 16).
    fn from_digits(digits: &[u8], radix: u32) -> Big {
        // Fold digits in chunks whose radix power still fits a u32.
        let chunk_len = if radix == 16 { 7 } else { 9 };
        let mut big = Big { limbs: Vec::new() };
        for chunk in digits.chunks(chunk_len) {
            let mut value = 0u32;
            let mut scale = 1u32;
            for &d in chunk {
                value = value * radix + u32::from(d);
                scale *= radix;
            }
            big.mul_add_small(scale, value);
        }
        big
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bit_len(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(top) => self.limbs.len() as u64 * 32 - u64::from(top.leading_zeros()),
        }
    }

    /// `self = self × m + a`.
    fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.limbs {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32; // low half
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32); // carry < 2^32
        }
        self.trim();
    }

    fn mul_pow10(&mut self, mut k: u64) {
        while k >= 9 {
            self.mul_add_small(1_000_000_000, 0);
            k -= 9;
        }
        let rest = (0..k).fold(1u32, |p, _| p * 10);
        self.mul_add_small(rest, 0);
    }

    fn shl(&self, bits: u64) -> Big {
        if self.is_zero() {
            return self.clone();
        }
        let limb_shift = usize::try_from(bits / 32).unwrap_or(usize::MAX);
        let bit_shift = (bits % 32) as u32;
        let mut limbs = vec![0u32; limb_shift];
        limbs.reserve(self.limbs.len() + 1);
        let mut carry = 0u32;
        for &limb in &self.limbs {
            if bit_shift == 0 {
                limbs.push(limb);
            } else {
                limbs.push((limb << bit_shift) | carry);
                carry = limb >> (32 - bit_shift);
            }
        }
        if carry != 0 {
            limbs.push(carry);
        }
        Big { limbs }
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    /// `self -= other`; requires `self >= other`.
    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = false;
        for (i, limb) in self.limbs.iter_mut().enumerate() {
            let (d1, b1) = limb.overflowing_sub(other.limbs.get(i).copied().unwrap_or(0));
            let (d2, b2) = d1.overflowing_sub(u32::from(borrow));
            *limb = d2;
            borrow = b1 || b2;
        }
        self.trim();
    }

    /// `self /= d`, returning the remainder.
    fn div_rem_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.limbs.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*limb);
            *limb = (v / u64::from(d)) as u32; // quotient digit < 2^32
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32 // rem < d
    }

    fn to_decimal(&self) -> String {
        let mut rest = self.clone();
        let mut chunks = Vec::new(); // base 10^9, least significant first
        while !rest.is_zero() {
            chunks.push(rest.div_rem_small(1_000_000_000));
        }
        let mut out = match chunks.pop() {
            Some(top) => top.to_string(),
            None => return "0".to_owned(),
        };
        for chunk in chunks.iter().rev() {
            out.push_str(&format!("{chunk:09}"));
        }
        out
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_A_FLOAT: Result<&str, IncrFloatError> = Err(IncrFloatError::NotAFloat);
    const NAN_OR_INF: Result<&str, IncrFloatError> = Err(IncrFloatError::NanOrInfinity);

    /// `(stored value, increment, result)`; every expectation was produced
    /// by C `long double` code mirroring Redis (`string2ld`, `+=`,
    /// `ld2string`) and spot-checked against redis-server 7.0.15.
    const CASES: &[(&str, &str, Result<&str, IncrFloatError>)] = &[
        ("5.736725660963", "0.70763675524186", Ok("6.44436241620486")),
        (
            "18446744073709551614",
            "6093914.047717522",
            Ok("18446744073715645528"),
        ),
        (
            "850.168316842669967670",
            "-6370557.34602257852",
            Ok("-6369707.17770573585039529"),
        ),
        (
            "-99328103920871.83730316162109375",
            "+0XddCA9p-65",
            Ok("-99328103920871.83730316162109375"),
        ),
        ("27.44986787466", "84947.7", Ok("84975.14986787466000351")),
        (
            "-4.9433090792",
            "581890249188090349564588982271.99999",
            Ok("581890249188090349547409113088"),
        ),
        (
            "-1922e-12",
            "26839949013412863.33606e-4942",
            Ok("-0.000000001922"),
        ),
        (
            "-5329993.52947129",
            "4951541095999.2064990997314453125",
            Ok("4951535766005.67702770233154297"),
        ),
        ("44.2699", ".7959041851708", Ok("45.0658041851708")),
        (
            "722519.51303232547821991",
            "036.92962422870143941614",
            Ok("722556.4426565541796208"),
        ),
        (
            "7755517.85E-4935",
            ".2512969497381709",
            Ok("0.2512969497381709"),
        ),
        (
            "-2498984.317241668701171875",
            "34370052057170362226665846734848",
            Ok("34370052057170362225566335107072"),
        ),
        (
            "863517",
            "02.22546250654e29",
            Ok("222546250654000000001682440192"),
        ),
        (
            "-12741437602180341069.5",
            "-1788213.889217376708984375",
            Ok("-12741437602182129284"),
        ),
        (
            "-750128154567966612671963856",
            "-051",
            Ok("-750128154567966612659372032"),
        ),
        (
            "-638829.7845182398510",
            "+6.68565281218109",
            Ok("-638823.09886542766992079"),
        ),
        (
            ".7083567479858932",
            "81836.249474E27",
            Ok("81836249473999999998334941003776"),
        ),
        (
            "+3145240.062905574357585",
            "-0X388df1cc8C3085p-36",
            Ok("2913592.95046719170386496"),
        ),
        (
            "-4E-122",
            "-90685946.255120826416760199452044997",
            Ok("-90685946.25512082641944289"),
        ),
        (
            "294712206894085635102688149503.99999",
            "-4369.9858203531153326",
            Ok("294712206894085635094098214912"),
        ),
        (
            "-916643.131175994873046875",
            "+.5547457697e-93",
            Ok("-916643.13117599487304688"),
        ),
        (
            "-539434552312.879748642444610595703125",
            "-479502.08673354124009",
            Ok("-539435031814.96648219227790833"),
        ),
        (
            "6454627248192491450.503853741036",
            "-3829494.1213891908283468974",
            Ok("6454627248188661956.5"),
        ),
        (
            "0020368446131312229437130428.04752",
            "+5.9988070542221",
            Ok("20368446131312229437407232"),
        ),
        ("0.1", "0.2", Ok("0.3")),
        ("1000", "0.1", Ok("1000.09999999999999998")),
        ("123456.789", "0.001", Ok("123456.78999999999999915")),
        ("10.5", "0.1", Ok("10.6")),
        ("1e10", "1.5", Ok("10000000001.5")),
        ("0", "0", Ok("0")),
        ("-0", "-0", Ok("0")),
        ("5", "-5", Ok("0")),
        ("1", "-0.9", Ok("0.1")),
        ("-1e-18", "0", Ok("0")),
        ("-5e-18", "0", Ok("0")),
        ("-5.000001e-18", "0", Ok("-0.00000000000000001")),
        ("5.000001e-18", "0", Ok("0.00000000000000001")),
        ("8.000003814697265625", "0", Ok("8.00000381469726562")),
        ("0.000011444091796875", "0", Ok("0.00001144409179688")),
        ("9.999999999999999995e-1", "0", Ok("1")),
        ("99999999999999999.999999999", "0", Ok("100000000000000000")),
        ("18446744073709551615", "1", Ok("18446744073709551616")),
        ("9223372036854775807", "1", Ok("9223372036854775808")),
        ("1e19", "1", Ok("10000000000000000001")),
        ("1e30", "0.5", Ok("1000000000000000000024696061952")),
        ("3.6451995318824746025e-4951", "0", Ok("0")),
        ("1.8225997659412373013e-4951", "0", Ok("0")),
        ("1.8225997659412373012e-4951", "0", NOT_A_FLOAT),
        ("1.18973149535723176508e4932", "0", NOT_A_FLOAT),
        ("1.1e4932", "1.1e4932", NAN_OR_INF),
        ("1e-99999999999999999999999", "0", NOT_A_FLOAT),
        ("1e99999999999999999999999", "0", NOT_A_FLOAT),
        ("0e99999999999999999999999", "5", Ok("5")),
        ("0x.8", "0", Ok("0.5")),
        ("0X1P+3", "0", Ok("8")),
        ("-0x10", "1", Ok("-15")),
        ("0x1p-16446", "0", NOT_A_FLOAT),
        ("0x1p", "0", NOT_A_FLOAT),
        ("0x", "0", NOT_A_FLOAT),
        ("inf", "1", NAN_OR_INF),
        ("-Infinity", "1", NAN_OR_INF),
        ("inf", "-inf", NAN_OR_INF),
        ("infinit", "0", NOT_A_FLOAT),
        ("nan", "1", NOT_A_FLOAT),
        ("-nan", "0", NOT_A_FLOAT),
        ("1.5e", "0", NOT_A_FLOAT),
        ("1.5e+1", "0", Ok("15")),
        (".5", ".5", Ok("1")),
        ("5.", "5.", Ok("10")),
        (".", "1", NOT_A_FLOAT),
        ("+.5", "0", Ok("0.5")),
        ("-.5e1", "0", Ok("-5")),
        ("00000000000000000001", "0", Ok("1")),
        (" 1", "0", NOT_A_FLOAT),
        ("1 ", "0", NOT_A_FLOAT),
        ("", "1", NOT_A_FLOAT),
        ("abc", "1", NOT_A_FLOAT),
        ("1", "abc", NOT_A_FLOAT),
        ("1..2", "0", NOT_A_FLOAT),
        ("--1", "0", NOT_A_FLOAT),
    ];

    #[test]
    fn matches_c_long_double() {
        for &(current, increment, expected) in CASES {
            let got = incr_by_float(current.as_bytes(), increment.as_bytes());
            assert_eq!(
                got.as_deref(),
                expected.as_deref(),
                "{current:?} + {increment:?}"
            );
        }
    }

    #[test]
    fn nul_bytes_are_rejected() {
        // Redis requires strtold to consume all `slen` bytes.
        for bad in [&b"\0"[..], b"1\0", b"1\0abc", b"\0 1"] {
            assert_eq!(incr_by_float(bad, b"1"), Err(IncrFloatError::NotAFloat));
            assert_eq!(incr_by_float(b"1", bad), Err(IncrFloatError::NotAFloat));
        }
    }

    #[test]
    fn length_limit() {
        // 5119 bytes fit Redis's buffer with the NUL; 5120 do not.
        let longest = format!("1.{}", "0".repeat(MAX_LONG_DOUBLE_CHARS - 3));
        assert_eq!(incr_by_float(longest.as_bytes(), b"1").as_deref(), Ok("2"));
        let too_long = format!("{longest}0");
        assert_eq!(
            incr_by_float(too_long.as_bytes(), b"1"),
            Err(IncrFloatError::NotAFloat)
        );
    }

    #[test]
    fn extremes() {
        // LDBL_MAX prints all of its 4933 integer digits.
        let max = incr_by_float(b"0x1.fffffffffffffffep16383", b"0").unwrap_or_default();
        assert_eq!(max.len(), 4933);
        assert!(max.starts_with("1189731495357231765021263853030970205169"));
        assert!(max.ends_with("8849149662444156604419552086811989770240"));
        assert_eq!(
            incr_by_float(b"0x1p16383", b"0x1p16383"),
            Err(IncrFloatError::NanOrInfinity)
        );
        // Subnormals: the smallest one is accepted and prints as 0.
        assert_eq!(
            incr_by_float(b"0x1p-16445", b"0x1p-16445").as_deref(),
            Ok("0")
        );
        assert_eq!(
            incr_by_float(b"0x1p-16446", b"0"),
            Err(IncrFloatError::NotAFloat)
        );
    }

    #[test]
    fn value_api() {
        let inf = LongDouble::parse(b"-INF");
        assert_eq!(inf.map(|v| v.is_finite()), Some(false));
        assert_eq!(inf.map(|v| v.to_human_string()).as_deref(), Some("-inf"));
        let one = LongDouble::parse(b"1");
        assert_eq!(one.map(|v| v.is_finite()), Some(true));
        assert_eq!(one.zip(inf).and_then(|(a, b)| a.checked_add(b)), None);
        assert_eq!(LongDouble::parse(b""), None);
        assert_eq!(LongDouble::parse(b"nan"), None);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let alphabet = b"0123456789.eEpPxX+-infINFty \t\0";
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..(x % 24) {
                let r = x.rotate_left(u32::try_from(k).unwrap_or(0) * 5);
                let pick = usize::try_from(r % alphabet.len() as u64).unwrap_or(0);
                bytes.push(if r & 0x100 == 0 {
                    alphabet[pick]
                } else {
                    r as u8
                });
            }
            let _ = incr_by_float(&bytes, b"1");
            let _ = incr_by_float(b"1", &bytes);
        }
    }
}
