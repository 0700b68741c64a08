//! Which key a request uses: memtier's key patterns over a key space.
//!
//! A key space is either memtier's `prefix + number` over
//! `[min, max]`, or an explicit list of keys (a scenario that must hit
//! particular shards builds one). Each client walks it with one cursor per
//! command, so with `S:S` sets and gets each go through the keys in order,
//! independently, as memtier does.

use std::sync::Arc;

use super::MAX_KEY_BYTES;

/// How a client picks the next key index (memtier's `--key-pattern`
/// letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPattern {
    /// `R`: uniform random over the range.
    Random,
    /// `S`: min, min+1, ..., max, then again from min.
    Sequential,
    /// `G`: normal distribution around the median (default: the middle of
    /// the range) with the given deviation (default: range / 6).
    Gaussian,
    /// `P`: sequential over this client's own slice of the range (the
    /// range split evenly between all clients of all threads).
    Parallel,
}

impl KeyPattern {
    pub fn from_letter(letter: &str) -> Result<KeyPattern, String> {
        match letter {
            "R" => Ok(KeyPattern::Random),
            "S" => Ok(KeyPattern::Sequential),
            "G" => Ok(KeyPattern::Gaussian),
            "P" => Ok(KeyPattern::Parallel),
            "Z" => Err("key pattern Z (zipf) is not supported; use R, S, G or P".into()),
            other => Err(format!(
                "unknown key pattern {other:?}: expected R, S, G or P"
            )),
        }
    }

    pub fn letter(self) -> char {
        match self {
            KeyPattern::Random => 'R',
            KeyPattern::Sequential => 'S',
            KeyPattern::Gaussian => 'G',
            KeyPattern::Parallel => 'P',
        }
    }
}

/// How key indexes become key bytes.
#[derive(Debug, Clone)]
pub enum KeyNames {
    /// `prefix` followed by the index in decimal (memtier's keys).
    Prefixed(Vec<u8>),
    /// The index-th key of a list.
    Listed(Arc<[Vec<u8>]>),
}

/// The keys a command draws from.
#[derive(Debug, Clone)]
pub struct KeySpace {
    pub names: KeyNames,
    /// Smallest and largest index, inclusive.
    pub min: u64,
    pub max: u64,
    /// Gaussian pattern: standard deviation and median (`None`: memtier's
    /// defaults, range / 6 and the middle of the range).
    pub stddev: Option<f64>,
    pub median: Option<f64>,
}

impl KeySpace {
    /// memtier's keys: `prefix` + a number in `[min, max]`.
    pub fn prefixed(prefix: &str, min: u64, max: u64) -> KeySpace {
        KeySpace {
            names: KeyNames::Prefixed(prefix.as_bytes().to_vec()),
            min,
            max,
            stddev: None,
            median: None,
        }
    }

    /// Exactly these keys (at least one).
    pub fn listed(keys: Vec<Vec<u8>>) -> Result<KeySpace, String> {
        if keys.is_empty() {
            return Err("a key list needs at least one key".into());
        }
        let max = keys.len() as u64 - 1;
        Ok(KeySpace {
            names: KeyNames::Listed(keys.into()),
            min: 0,
            max,
            stddev: None,
            median: None,
        })
    }

    /// Rejects a space a client could not draw from.
    pub fn validate(&self) -> Result<(), String> {
        if self.min > self.max {
            return Err(format!(
                "key minimum {} is above key maximum {}",
                self.min, self.max
            ));
        }
        if let KeyNames::Listed(keys) = &self.names {
            if self.max >= keys.len() as u64 {
                return Err("key maximum is past the end of the key list".into());
            }
        }
        let longest = self.longest_key();
        if longest > MAX_KEY_BYTES {
            return Err(format!("keys may be at most {MAX_KEY_BYTES} bytes"));
        }
        if let Some(stddev) = self.stddev {
            if !(stddev.is_finite() && stddev > 0.0) {
                return Err("key standard deviation must be a positive number".into());
            }
        }
        if let Some(median) = self.median {
            if !(median >= self.min as f64 && median <= self.max as f64) {
                return Err("key median must lie within the key range".into());
            }
        }
        Ok(())
    }

    /// Bytes in the longest key this space can produce.
    pub fn longest_key(&self) -> usize {
        match &self.names {
            // u64 has at most 20 decimal digits.
            KeyNames::Prefixed(prefix) => prefix.len() + 20,
            KeyNames::Listed(keys) => keys.iter().map(Vec::len).max().unwrap_or(0),
        }
    }

    /// Appends the key with this index to `out`.
    pub fn write_key(&self, index: u64, out: &mut Vec<u8>) {
        match &self.names {
            KeyNames::Prefixed(prefix) => {
                out.extend_from_slice(prefix);
                push_decimal(out, index);
            }
            KeyNames::Listed(keys) => {
                // validate() keeps every index a cursor yields in the list.
                if let Some(key) = keys.get(index as usize) {
                    out.extend_from_slice(key);
                }
            }
        }
    }
}

/// Appends `n` in decimal without allocating.
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// A small, fast, seedable generator (SplitMix64): key choice needs speed
/// and reproducibility, not cryptographic quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` (n > 0), by multiply-high: no division, bias
    /// below 2^-64 * n.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal value (Marsaglia's polar method).
    pub fn normal(&mut self) -> f64 {
        loop {
            let u = self.unit() * 2.0 - 1.0;
            let v = self.unit() * 2.0 - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * s.ln() / s).sqrt();
            }
        }
    }
}

/// One client's position in a key space for one command.
#[derive(Debug, Clone)]
pub struct KeyCursor {
    pattern: KeyPattern,
    /// This cursor's range, inclusive (a slice of the space for `P`).
    lo: u64,
    hi: u64,
    /// Next index for `S` and `P`.
    next: u64,
    stddev: f64,
    median: f64,
}

impl KeyCursor {
    /// The cursor of client `client` of `clients` (over all threads).
    pub fn new(space: &KeySpace, pattern: KeyPattern, client: u64, clients: u64) -> KeyCursor {
        let (mut lo, mut hi) = (space.min, space.max);
        if pattern == KeyPattern::Parallel {
            (lo, hi) = client_slice(space.min, space.max, client, clients);
        }
        let span = (hi - lo) as f64;
        KeyCursor {
            pattern,
            lo,
            hi,
            next: lo,
            stddev: space.stddev.unwrap_or(span / 6.0),
            median: space.median.unwrap_or(lo as f64 + span / 2.0 + 0.5),
        }
    }

    /// The next key index, always within this cursor's range.
    pub fn next_index(&mut self, rng: &mut Rng) -> u64 {
        match self.pattern {
            KeyPattern::Random => match self.hi - self.lo {
                u64::MAX => rng.next_u64(),
                span => self.lo + rng.below(span + 1),
            },
            KeyPattern::Sequential | KeyPattern::Parallel => {
                let index = self.next;
                self.next = if index >= self.hi { self.lo } else { index + 1 };
                index
            }
            KeyPattern::Gaussian => self.gaussian(rng),
        }
    }

    fn gaussian(&mut self, rng: &mut Rng) -> u64 {
        if self.lo == self.hi || self.stddev <= 0.0 {
            return self.lo;
        }
        // Redraw outside [lo, hi + 1), as memtier does; a bounded number of
        // tries so a far-off median cannot spin forever.
        const MAX_DRAWS: usize = 64;
        for _ in 0..MAX_DRAWS {
            let value = self.median + rng.normal() * self.stddev;
            if value >= self.lo as f64 && value < self.hi as f64 + 1.0 {
                return (value as u64).clamp(self.lo, self.hi);
            }
        }
        (self.median as u64).clamp(self.lo, self.hi)
    }
}

/// Client `client`'s slice of `[min, max]` when it is split between
/// `clients` clients; the last client also takes the remainder. With more
/// clients than keys, the extra clients share the last key.
fn client_slice(min: u64, max: u64, client: u64, clients: u64) -> (u64, u64) {
    let clients = clients.max(1);
    let keys = (max - min).saturating_add(1);
    let per_client = (keys / clients).max(1);
    let lo = min
        .saturating_add(per_client.saturating_mul(client))
        .min(max);
    let hi = if client + 1 >= clients {
        max
    } else {
        lo.saturating_add(per_client - 1).min(max)
    };
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(space: &KeySpace, index: u64) -> String {
        let mut out = Vec::new();
        space.write_key(index, &mut out);
        String::from_utf8(out).expect("utf8 key")
    }

    #[test]
    fn prefixed_keys_are_memtiers() {
        let space = KeySpace::prefixed("memtier-", 0, 10);
        assert_eq!(key(&space, 0), "memtier-0");
        assert_eq!(key(&space, 1234567), "memtier-1234567");
        assert_eq!(key(&space, u64::MAX), "memtier-18446744073709551615");
    }

    #[test]
    fn sequential_wraps_around() {
        let space = KeySpace::prefixed("k", 5, 7);
        let mut cursor = KeyCursor::new(&space, KeyPattern::Sequential, 0, 1);
        let mut rng = Rng::new(1);
        let seen: Vec<u64> = (0..5).map(|_| cursor.next_index(&mut rng)).collect();
        assert_eq!(seen, [5, 6, 7, 5, 6]);
    }

    #[test]
    fn parallel_slices_cover_the_range_once() {
        let space = KeySpace::prefixed("k", 0, 9);
        let mut rng = Rng::new(1);
        let mut all = Vec::new();
        for client in 0..3 {
            let mut cursor = KeyCursor::new(&space, KeyPattern::Parallel, client, 3);
            let (lo, hi) = (cursor.lo, cursor.hi);
            all.extend((lo..=hi).map(|_| cursor.next_index(&mut rng)));
        }
        assert_eq!(all, (0..=9).collect::<Vec<_>>());
    }

    #[test]
    fn random_and_gaussian_stay_in_range() {
        let space = KeySpace::prefixed("k", 100, 199);
        let mut rng = Rng::new(7);
        for pattern in [KeyPattern::Random, KeyPattern::Gaussian] {
            let mut cursor = KeyCursor::new(&space, pattern, 0, 1);
            let draws: Vec<u64> = (0..10_000).map(|_| cursor.next_index(&mut rng)).collect();
            assert!(draws.iter().all(|k| (100..=199).contains(k)), "{pattern:?}");
        }
        // Gaussian draws cluster around the middle.
        let mut cursor = KeyCursor::new(&space, KeyPattern::Gaussian, 0, 1);
        let middle = (0..10_000)
            .map(|_| cursor.next_index(&mut rng))
            .filter(|k| (134..=166).contains(k))
            .count();
        assert!(middle > 6_000, "{middle} of 10000 within one deviation");
    }

    #[test]
    fn listed_keys() {
        let space = KeySpace::listed(vec![b"a".to_vec(), b"{x}b".to_vec()]).expect("list");
        assert_eq!((space.min, space.max), (0, 1));
        assert_eq!(key(&space, 1), "{x}b");
        assert!(KeySpace::listed(Vec::new()).is_err());
    }
}
