//! Sorted set: members ordered by (score, member), as Redis orders them, and
//! a member index for score lookups and ZSCAN cursors.
//!
//! Both orders are kept in a [`Chunked`] sequence: a list of short sorted
//! vectors (the idea of Python's `sortedcontainers`). It needs no `unsafe`
//! and no pointers, stays cache friendly, and costs, for n members:
//! - lookup, insert, remove: O(log n + MAX_CHUNK) (a binary search, then a
//!   shift inside one chunk);
//! - rank of a position, or the position of a rank (ZRANK, ZRANGE by index,
//!   ZCOUNT ...): O(n / MAX_CHUNK), a sum over chunk lengths — a few
//!   thousand additions for a million members, against O(log n) for
//!   Redis's skiplist, but with no per-node allocation.
//!
//! The member index is ordered by (hash, member) rather than hashed: a
//! lookup is a binary search on a 64-bit hash (members are compared only on
//! a hash collision, so crafted collisions cannot degrade it), and the hash
//! order gives ZSCAN a numeric cursor that never skips a member present for
//! a whole scan, even when other members come and go or change score.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::LazyLock;

use hashbrown::DefaultHashBuilder;

/// Longest chunk; a longer one is split in two halves.
const MAX_CHUNK: usize = 512;
/// A chunk shorter than this is merged into a neighbour, so the number of
/// chunks stays within `n / MIN_CHUNK + 1` whatever the history.
const MIN_CHUNK: usize = MAX_CHUNK / 4;

/// Where an element is: chunk index and offset inside it. The end of the
/// sequence is `{ chunk: chunks.len(), offset: 0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    chunk: usize,
    offset: usize,
}

/// A sorted sequence split into sorted chunks of at most [`MAX_CHUNK`]
/// elements; no chunk is empty. The order is the caller's: every search
/// takes the comparison to use.
#[derive(Debug, Clone)]
struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    /// Builds from elements already in order, chunks half full.
    fn from_sorted(items: Vec<T>) -> Self {
        let len = items.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(MAX_CHUNK / 2));
        let mut rest = items.into_iter();
        loop {
            let chunk: Vec<T> = rest.by_ref().take(MAX_CHUNK / 2).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(chunk);
        }
        Chunked { chunks, len }
    }

    fn end(&self) -> Pos {
        Pos {
            chunk: self.chunks.len(),
            offset: 0,
        }
    }

    /// Binary search: the position of the element `cmp` calls `Equal`
    /// (true), or where it would be inserted (false).
    fn search(&self, mut cmp: impl FnMut(&T) -> Ordering) -> (Pos, bool) {
        let chunk = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|x| cmp(x) == Ordering::Less));
        match self.chunks.get(chunk) {
            None => (self.end(), false),
            Some(c) => match c.binary_search_by(cmp) {
                Ok(offset) => (Pos { chunk, offset }, true),
                Err(offset) => (Pos { chunk, offset }, false),
            },
        }
    }

    /// How many leading elements satisfy `before` (which must hold for a
    /// prefix of the sequence and not after it).
    fn partition_point(&self, mut before: impl FnMut(&T) -> bool) -> usize {
        let chunk = self
            .chunks
            .partition_point(|c| c.last().is_some_and(&mut before));
        match self.chunks.get(chunk) {
            None => self.len,
            Some(c) => self.start_of(chunk) + c.partition_point(before),
        }
    }

    /// Rank of the first element of `chunk`.
    fn start_of(&self, chunk: usize) -> usize {
        self.chunks.iter().take(chunk).map(Vec::len).sum()
    }

    fn rank(&self, pos: Pos) -> usize {
        self.start_of(pos.chunk) + pos.offset
    }

    fn pos_of_rank(&self, mut rank: usize) -> Pos {
        for (chunk, c) in self.chunks.iter().enumerate() {
            if rank < c.len() {
                return Pos {
                    chunk,
                    offset: rank,
                };
            }
            rank -= c.len();
        }
        self.end()
    }

    fn get(&self, pos: Pos) -> Option<&T> {
        self.chunks.get(pos.chunk)?.get(pos.offset)
    }

    fn get_mut(&mut self, pos: Pos) -> Option<&mut T> {
        self.chunks.get_mut(pos.chunk)?.get_mut(pos.offset)
    }

    /// Inserts at `pos` (from [`Self::search`]), splitting a full chunk.
    fn insert_at(&mut self, pos: Pos, item: T) {
        self.len += 1;
        let Some(last) = self.chunks.len().checked_sub(1) else {
            self.chunks.push(vec![item]);
            return;
        };
        let (chunk, offset) = if pos.chunk > last {
            (last, self.chunks[last].len())
        } else {
            (pos.chunk, pos.offset)
        };
        let c = &mut self.chunks[chunk];
        c.insert(offset.min(c.len()), item);
        if c.len() > MAX_CHUNK {
            let tail = c.split_off(c.len() / 2);
            self.chunks.insert(chunk + 1, tail);
        }
    }

    fn remove_at(&mut self, pos: Pos) -> Option<T> {
        let c = self.chunks.get_mut(pos.chunk)?;
        if pos.offset >= c.len() {
            return None;
        }
        let item = c.remove(pos.offset);
        self.len -= 1;
        self.rebalance(pos.chunk);
        Some(item)
    }

    /// Removes the elements of ranks `from..to`.
    fn remove_range(&mut self, from: usize, to: usize) -> Vec<T> {
        let to = to.min(self.len);
        if from >= to {
            return Vec::new();
        }
        let start = self.pos_of_rank(from);
        let mut removed = Vec::with_capacity(to - from);
        let (mut chunk, mut offset) = (start.chunk, start.offset);
        while removed.len() < to - from {
            let Some(c) = self.chunks.get_mut(chunk) else {
                break;
            };
            let take = (c.len() - offset).min(to - from - removed.len());
            removed.extend(c.drain(offset..offset + take));
            chunk += 1;
            offset = 0;
        }
        self.len -= removed.len();
        self.chunks.retain(|c| !c.is_empty());
        // At most the two chunks at the cut are now short.
        self.rebalance(start.chunk + 1);
        self.rebalance(start.chunk);
        removed
    }

    /// Restores the chunk invariants at `chunk` after a removal.
    fn rebalance(&mut self, chunk: usize) {
        let Some(len) = self.chunks.get(chunk).map(Vec::len) else {
            return;
        };
        if len == 0 {
            self.chunks.remove(chunk);
            return;
        }
        if len >= MIN_CHUNK || self.chunks.len() == 1 {
            return;
        }
        let into = if chunk + 1 < self.chunks.len() {
            chunk
        } else {
            chunk - 1
        };
        let next = self.chunks.remove(into + 1);
        let c = &mut self.chunks[into];
        c.extend(next);
        if c.len() > MAX_CHUNK {
            let tail = c.split_off(c.len() / 2);
            self.chunks.insert(into + 1, tail);
        }
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    /// The elements of ranks `from..to` (clamped to the sequence).
    fn range(&self, from: usize, to: usize) -> impl DoubleEndedIterator<Item = &T> + '_ {
        let to = to.min(self.len);
        let from = from.min(to);
        let start = self.pos_of_rank(from);
        let end = self.pos_of_rank(to);
        (start.chunk..=end.chunk).flat_map(move |i| {
            let c = self.chunks.get(i).map_or(&[][..], Vec::as_slice);
            let lo = if i == start.chunk { start.offset } else { 0 };
            let hi = if i == end.chunk { end.offset } else { c.len() };
            c.get(lo..hi).unwrap_or(&[])
        })
    }
}

/// An element in score order.
#[derive(Debug, Clone)]
struct Ranked {
    score: f64,
    member: Box<[u8]>,
}

/// An element of the member index.
#[derive(Debug, Clone)]
struct Indexed {
    hash: u64,
    member: Box<[u8]>,
    score: f64,
}

/// One hasher for the process, so ZSCAN cursors stay valid between calls.
static MEMBER_HASHER: LazyLock<DefaultHashBuilder> = LazyLock::new(DefaultHashBuilder::default);

fn member_hash(member: &[u8]) -> u64 {
    MEMBER_HASHER.hash_one(member)
}

/// Redis's order: by score (0 and -0 are equal), then by member bytes.
/// Scores are never NaN.
fn by_score(score: f64, member: &[u8], other_score: f64, other: &[u8]) -> Ordering {
    score
        .partial_cmp(&other_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| member.cmp(other))
}

/// The member index's order.
fn by_hash(a: &Indexed, b: &Indexed) -> Ordering {
    a.hash.cmp(&b.hash).then_with(|| a.member.cmp(&b.member))
}

/// Redis (in its compact encoding, what small sets use) stores -0 as 0.
fn normalize(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

/// Removing more than this many members at once rebuilds the member index
/// instead of searching it once per member.
const REBUILD_INDEX_AFTER_REMOVALS: usize = 1024;

#[derive(Debug, Clone, Default)]
pub struct ZSet {
    ranked: Chunked<Ranked>,
    index: Chunked<Indexed>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.index.len
    }

    pub fn is_empty(&self) -> bool {
        self.index.len == 0
    }

    /// A set of distinct members, in O(n log n) rather than n inserts.
    pub fn from_pairs(mut pairs: Vec<(Box<[u8]>, f64)>) -> ZSet {
        for pair in &mut pairs {
            pair.1 = normalize(pair.1);
        }
        pairs.sort_by(|a, b| by_score(a.1, &a.0, b.1, &b.0));
        let mut index: Vec<Indexed> = pairs
            .iter()
            .map(|(member, score)| Indexed {
                hash: member_hash(member),
                member: member.clone(),
                score: *score,
            })
            .collect();
        index.sort_unstable_by(by_hash);
        if index.windows(2).any(|w| w[0].member == w[1].member) {
            // Not distinct after all: let inserts sort it out.
            let mut z = ZSet::default();
            for (member, score) in pairs {
                z.insert(&member, score);
            }
            return z;
        }
        let ranked = pairs
            .into_iter()
            .map(|(member, score)| Ranked { score, member })
            .collect();
        ZSet {
            ranked: Chunked::from_sorted(ranked),
            index: Chunked::from_sorted(index),
        }
    }

    fn find(&self, member: &[u8]) -> (Pos, bool) {
        let hash = member_hash(member);
        self.index
            .search(|e| e.hash.cmp(&hash).then_with(|| (*e.member).cmp(member)))
    }

    fn find_ranked(&self, score: f64, member: &[u8]) -> (Pos, bool) {
        self.ranked
            .search(|e| by_score(e.score, &e.member, score, member))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self.find(member) {
            (pos, true) => self.index.get(pos).map(|e| e.score),
            _ => None,
        }
    }

    /// Inserts or updates; returns true when the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let score = normalize(score);
        let (pos, found) = self.find(member);
        if !found {
            self.index.insert_at(
                pos,
                Indexed {
                    hash: member_hash(member),
                    member: member.into(),
                    score,
                },
            );
            let (rpos, _) = self.find_ranked(score, member);
            self.ranked.insert_at(
                rpos,
                Ranked {
                    score,
                    member: member.into(),
                },
            );
            return true;
        }
        let Some(entry) = self.index.get_mut(pos) else {
            return false;
        };
        let old = entry.score;
        if old == score {
            return false;
        }
        entry.score = score;
        if let (rpos, true) = self.find_ranked(old, member) {
            if let Some(mut e) = self.ranked.remove_at(rpos) {
                e.score = score;
                let (rpos, _) = self.find_ranked(score, member);
                self.ranked.insert_at(rpos, e);
            }
        }
        false
    }

    /// Removes `member`; its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (pos, true) = self.find(member) else {
            return None;
        };
        let score = self.index.remove_at(pos)?.score;
        if let (rpos, true) = self.find_ranked(score, member) {
            self.ranked.remove_at(rpos);
        }
        Some(score)
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        match self.find_ranked(score, member) {
            (pos, true) => Some(self.ranked.rank(pos)),
            _ => None,
        }
    }

    /// How many leading elements (in ascending order) satisfy `before`,
    /// which must hold for a prefix of the order and not after it (e.g.
    /// "score below the range minimum").
    pub fn count_while(&self, mut before: impl FnMut(f64, &[u8]) -> bool) -> usize {
        self.ranked.partition_point(|e| before(e.score, &e.member))
    }

    /// Ascending (member, score) pairs.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.ranked.iter().map(|e| (&*e.member, e.score))
    }

    /// The elements of ranks `from..to` (ascending, clamped); `.rev()` for
    /// descending.
    pub fn range(
        &self,
        from: usize,
        to: usize,
    ) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.ranked.range(from, to).map(|e| (&*e.member, e.score))
    }

    /// The elements at `ranks` (in that order, repeats allowed; ranks out
    /// of range are skipped), found in one walk over the chunks.
    pub fn at_ranks(&self, ranks: &[usize]) -> Vec<(&[u8], f64)> {
        let mut order: Vec<usize> = (0..ranks.len()).collect();
        order.sort_unstable_by_key(|&i| ranks[i]);
        let mut found: Vec<Option<(&[u8], f64)>> = vec![None; ranks.len()];
        let mut chunks = self.ranked.chunks.iter();
        let (mut chunk, mut start): (&[Ranked], usize) = (&[], 0);
        for i in order {
            let rank = ranks[i];
            while rank >= start + chunk.len() {
                start += chunk.len();
                match chunks.next() {
                    Some(c) => chunk = c,
                    None => {
                        chunk = &[];
                        break;
                    }
                }
            }
            if let Some(e) = rank.checked_sub(start).and_then(|o| chunk.get(o)) {
                found[i] = Some((&*e.member, e.score));
            }
        }
        found.into_iter().flatten().collect()
    }

    /// Removes the elements of ranks `from..to`; how many were removed.
    pub fn remove_range(&mut self, from: usize, to: usize) -> usize {
        self.take_range(from, to).len()
    }

    /// Removes and returns the `count` lowest elements, lowest first (or
    /// with `max`, the highest, highest first).
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Box<[u8]>, f64)> {
        let len = self.len();
        let count = count.min(len);
        let (from, to) = if max { (len - count, len) } else { (0, count) };
        let taken = self.take_range(from, to).into_iter();
        let pairs = taken.map(|e| (e.member, e.score));
        if max {
            pairs.rev().collect()
        } else {
            pairs.collect()
        }
    }

    fn take_range(&mut self, from: usize, to: usize) -> Vec<Ranked> {
        let removed = self.ranked.remove_range(from, to);
        if removed.len() > REBUILD_INDEX_AFTER_REMOVALS {
            let mut index: Vec<Indexed> = self
                .ranked
                .iter()
                .map(|e| Indexed {
                    hash: member_hash(&e.member),
                    member: e.member.clone(),
                    score: e.score,
                })
                .collect();
            index.sort_unstable_by(by_hash);
            self.index = Chunked::from_sorted(index);
        } else {
            for e in &removed {
                if let (pos, true) = self.find(&e.member) {
                    self.index.remove_at(pos);
                }
            }
        }
        removed
    }

    /// One ZSCAN step: members in hash order from `cursor` (a hash value)
    /// on, at least `count` of them unless the end comes first, and always
    /// all members sharing the last hash. Returns the next cursor (0 at the
    /// end) and the (member, score) pairs.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(&[u8], f64)>) {
        let from = self.index.partition_point(|e| e.hash < cursor);
        let mut out = Vec::new();
        let mut last_hash = None;
        for e in self.index.range(from, self.index.len) {
            if out.len() >= count && last_hash != Some(e.hash) {
                // Every member hashing below e.hash has been returned.
                return (e.hash, out);
            }
            last_hash = Some(e.hash);
            out.push((&*e.member, e.score));
        }
        (0, out)
    }
}

/// Two sorted sets are equal when they hold the same members with the same
/// scores (the chunking is an implementation detail).
impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(m, s)| other.score(m) == Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(z: &ZSet) -> Vec<(String, f64)> {
        z.iter()
            .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s))
            .collect()
    }

    #[test]
    fn order_update_remove() {
        let mut z = ZSet::default();
        assert!(z.insert(b"b", 2.0));
        assert!(z.insert(b"a", 2.0));
        assert!(z.insert(b"c", 1.0));
        assert!(!z.insert(b"c", 3.0));
        assert!(z.insert(b"z", -0.0));
        assert_eq!(
            members(&z),
            vec![
                ("z".into(), 0.0),
                ("a".into(), 2.0),
                ("b".into(), 2.0),
                ("c".into(), 3.0)
            ]
        );
        assert!(z.score(b"z").unwrap().is_sign_positive());
        assert_eq!(z.rank(b"b"), Some(2));
        assert_eq!(z.remove(b"a"), Some(2.0));
        assert_eq!(z.remove(b"a"), None);
        assert_eq!(z.rank(b"b"), Some(1));
        assert_eq!(z.len(), 3);
        let top = z.pop(1, true);
        assert_eq!(top, vec![(Box::from(&b"c"[..]), 3.0)]);
        let low = z.pop(5, false);
        assert_eq!(low.len(), 2);
        assert_eq!(low[0].0, Box::from(&b"z"[..]));
        assert!(z.is_empty());
    }

    /// Many elements: chunks split, merge, and ranks stay right.
    #[test]
    fn large_set_ranks_ranges_and_removal() {
        let mut z = ZSet::default();
        let n = 5000;
        // Insert in a scrambled order.
        for i in 0..n {
            let k = (i * 7919) % n;
            z.insert(format!("m{k:05}").as_bytes(), k as f64);
        }
        assert_eq!(z.len(), n);
        for k in [0, 1, 511, 512, 513, 2500, n - 1] {
            assert_eq!(z.rank(format!("m{k:05}").as_bytes()), Some(k));
        }
        let got: Vec<f64> = z.range(1000, 1005).map(|(_, s)| s).collect();
        assert_eq!(got, vec![1000.0, 1001.0, 1002.0, 1003.0, 1004.0]);
        let rev: Vec<f64> = z.range(1000, 1003).rev().map(|(_, s)| s).collect();
        assert_eq!(rev, vec![1002.0, 1001.0, 1000.0]);
        assert_eq!(z.count_while(|s, _| s < 1234.5), 1235);
        let picks = z.at_ranks(&[4999, 0, 77, 77, 9999]);
        let picked: Vec<f64> = picks.iter().map(|p| p.1).collect();
        assert_eq!(picked, vec![4999.0, 0.0, 77.0, 77.0]);

        assert_eq!(z.remove_range(100, 4900), 4800);
        assert_eq!(z.len(), 200);
        assert_eq!(z.rank(b"m04900"), Some(100));
        assert_eq!(z.score(b"m00150"), None);
        // Remove every other element one by one: chunks shrink and merge.
        for k in (0..100).step_by(2) {
            assert!(z.remove(format!("m{k:05}").as_bytes()).is_some());
        }
        assert_eq!(z.len(), 150);
        assert_eq!(z.rank(b"m04900"), Some(50));
        let all: Vec<f64> = z.iter().map(|(_, s)| s).collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!(z.ranked.chunks.iter().all(|c| !c.is_empty()));
        assert_eq!(z.ranked.len, z.index.len);
    }

    #[test]
    fn from_pairs_builds_both_orders() {
        let pairs: Vec<(Box<[u8]>, f64)> = (0..2000)
            .rev()
            .map(|i| {
                (
                    format!("m{i}").into_bytes().into_boxed_slice(),
                    (i % 10) as f64,
                )
            })
            .collect();
        let mut z = ZSet::from_pairs(pairs);
        assert_eq!(z.len(), 2000);
        assert_eq!(z.score(b"m1234"), Some(4.0));
        assert_eq!(z.rank(b"m0"), Some(0));
        assert_eq!(z.rank(b"m10"), Some(1));
        assert!(!z.insert(b"m0", 100.0));
        assert_eq!(z.rank(b"m0"), Some(1999));
        // Duplicates are tolerated: the last one wins, as with inserts.
        let dup = ZSet::from_pairs(vec![
            (Box::from(&b"a"[..]), 1.0),
            (Box::from(&b"a"[..]), 2.0),
        ]);
        assert_eq!(dup.len(), 1);
        assert_eq!(dup.score(b"a"), Some(2.0));
    }

    #[test]
    fn scan_visits_every_member_once() {
        let mut z = ZSet::default();
        for i in 0..3000 {
            z.insert(format!("{i}").as_bytes(), i as f64);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            let (next, items) = z.scan(cursor, 10);
            for (m, _) in items {
                assert!(seen.insert(m.to_vec()));
            }
            calls += 1;
            // Churn between calls must not hide members present throughout.
            z.insert(format!("new{calls}").as_bytes(), calls as f64);
            z.insert(b"0", calls as f64);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for i in 0..3000 {
            assert!(seen.contains(format!("{i}").as_bytes()), "missed {i}");
        }
    }
}
