//! The Hawk nonce replay cache, bounded in memory and in time.
//!
//! A nonce only needs remembering while a replay of its request could still
//! pass the timestamp check: a request signed at `ts` is accepted until
//! `ts + skew`, and `ts` is at most `now + skew` when it arrives, so an
//! entry is dropped `2 × skew` after it was recorded. Entries are a fixed
//! 32 bytes (SHA-256 of the token id and the nonce), whatever the client
//! sent, and their number is capped by a byte budget; when the budget is
//! full the oldest entry goes first (a replay of that one request inside
//! its window would then pass — Mozilla's nodes keep no nonces at all).

use std::collections::{HashSet, VecDeque};

/// Longest nonce accepted. Hawk clients send a few random bytes in base64
/// (Firefox 8 characters, application-services and mohawk 6 to 16); a
/// longer one is a malformed header.
pub const MAX_NONCE_LEN: usize = 128;

/// Heap bytes one entry may take at worst: its 32-byte key in the hash set
/// (with control byte, at the set's lowest load factor) and key plus expiry
/// in the queue (at the queue's lowest fill).
pub const ENTRY_BYTES: usize = 160;

type Key = [u8; 32];

/// Nonces seen, with when each may be forgotten.
#[derive(Debug)]
pub struct NonceCache {
    seen: HashSet<Key>,
    /// In the order recorded, which is also the order of expiry.
    queue: VecDeque<(u64, Key)>,
    max_entries: usize,
    evicted: u64,
}

impl NonceCache {
    /// A cache whose entries take at most about `max_bytes` (at least one entry).
    pub fn new(max_bytes: usize) -> Self {
        NonceCache {
            seen: HashSet::new(),
            queue: VecDeque::new(),
            max_entries: (max_bytes / ENTRY_BYTES).max(1),
            evicted: 0,
        }
    }

    /// Records the nonce of token `id`, seen at `now` (seconds), until
    /// `forget_at`. Returns `false` if it was already recorded: a replay.
    pub fn record(&mut self, id: &str, nonce: &str, now: u64, forget_at: u64) -> bool {
        self.expire(now);
        let key = key(id, nonce);
        if self.seen.contains(&key) {
            return false;
        }
        while self.seen.len() >= self.max_entries {
            match self.queue.pop_front() {
                Some((_, oldest)) => {
                    self.seen.remove(&oldest);
                    self.evicted += 1;
                }
                None => break,
            }
        }
        self.seen.insert(key);
        self.queue.push_back((forget_at, key));
        true
    }

    /// Forgets every entry whose time has passed.
    fn expire(&mut self, now: u64) {
        while let Some(&(forget_at, key)) = self.queue.front() {
            if forget_at > now {
                break;
            }
            self.queue.pop_front();
            self.seen.remove(&key);
        }
        // Give memory back after a burst (the set never shrinks by itself).
        if self.seen.capacity() > 1024 && self.seen.len() < self.seen.capacity() / 4 {
            self.seen.shrink_to(self.seen.len() * 2);
            self.queue.shrink_to(self.queue.len() * 2);
        }
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// An upper bound of the heap bytes the entries take now.
    pub fn heap_bytes(&self) -> usize {
        // hashbrown: one control byte per bucket plus the key; buckets are
        // capacity × 8/7 rounded up to a power of two.
        let buckets = (self.seen.capacity() * 8 / 7).next_power_of_two();
        buckets * (std::mem::size_of::<Key>() + 1) + self.queue.capacity() * std::mem::size_of::<(u64, Key)>()
    }

    /// How many entries were dropped before their time to stay in budget.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

fn key(id: &str, nonce: &str) -> Key {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    // Length-prefixed, so no (id, nonce) pair can collide with another split.
    context.update(&(id.len() as u64).to_be_bytes());
    context.update(id.as_bytes());
    context.update(nonce.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_refused_until_it_leaves_the_window() {
        let mut cache = NonceCache::new(1 << 20);
        assert!(cache.record("token", "n", 1000, 1120));
        assert!(!cache.record("token", "n", 1050, 1170));
        // The same nonce under another token is another entry.
        assert!(cache.record("other", "n", 1050, 1170));
        // Splitting the same bytes differently is not the same entry.
        assert!(cache.record("tok", "enn", 1050, 1170));
        assert!(!cache.record("token", "n", 1119, 1239));
        // Past the window the first entry is gone (a replay would fail the
        // timestamp check now anyway), and so is its memory.
        assert!(cache.record("token", "n", 1120, 1240));
        assert_eq!(cache.len(), 3);
        assert!(cache.record("x", "y", 2000, 2120));
        assert_eq!(cache.len(), 1, "everything older expired");
    }

    #[test]
    fn the_byte_budget_holds_whatever_clients_send() {
        let budget = 100 * ENTRY_BYTES;
        let mut cache = NonceCache::new(budget);
        let long_id = "i".repeat(10_000);
        for i in 0..10_000 {
            assert!(cache.record(&long_id, &format!("{i:0>100}"), 1000, 1120));
            assert!(cache.heap_bytes() <= budget, "{} bytes", cache.heap_bytes());
        }
        assert_eq!(cache.len(), 100);
        assert_eq!(cache.evicted(), 9_900);
        // The newest are the ones kept.
        assert!(!cache.record(&long_id, &format!("{:0>100}", 9_999), 1000, 1120));
        assert!(cache.record(&long_id, &format!("{:0>100}", 0), 1000, 1120));
    }

    #[test]
    fn memory_comes_back_after_a_burst() {
        let mut cache = NonceCache::new(1 << 30);
        for i in 0..100_000 {
            cache.record("t", &i.to_string(), 1000, 1120);
        }
        let peak = cache.heap_bytes();
        cache.record("t", "later", 1200, 1320);
        assert_eq!(cache.len(), 1);
        assert!(
            cache.heap_bytes() < peak / 100,
            "{} of {peak}",
            cache.heap_bytes()
        );
    }
}
