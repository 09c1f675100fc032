//! The cache of proven credentials: a login that presents a line's
//! password a second time skips the keyed-verifier check (HMAC-SHA256),
//! the largest single cost of a login that is answered from memory.
//!
//! What is kept is a set of 128-bit tags, never a password:
//! `SipHash-2-4-128(k, line id ‖ the line's stored verifier ‖ password)`
//! under a key `k` drawn at random when the process starts (and never
//! written anywhere). A tag enters the set only after the verifier said
//! `Match` for that password, so a wrong password never enters it.
//!
//! * **A changed password leaves the set at once**: the tag covers the
//!   line's current verifier, which a new password (or a re-hash, or a new
//!   server key) replaces, so the old tag is never asked for again.
//! * **Only the password check is cached**: the line itself (status,
//!   expiry, formats, package, devices) is read from the directory and
//!   decided on every request, so a disabled, banned, expired or deleted
//!   line is refused as before. A deleted line that is created again gets a
//!   new id, hence new tags.
//! * **Bounded**: at most [`ProvenCache::DEFAULT_CAPACITY`] tags
//!   (16 bytes each plus the table's control byte); when it is full it is
//!   emptied and refills from the next logins (each pays the verifier once).
//! * **Timing**: a wrong password and an unknown username both compute a
//!   tag and probe the set (a miss), then run the verifier; only the right
//!   password skips it, and the right password is told apart anyway.
//!
//! docs/security.md ("The cache of proven credentials") has the argument.

use crate::ids::LineId;
use hashbrown::HashTable;
use siphasher::sip128::{Hasher128, SipHasher24};
use std::hash::Hasher;
use std::sync::RwLock;

/// A set of tags of proven (line, verifier, password) triples.
pub struct ProvenCache {
    keys: (u64, u64),
    capacity: usize,
    // std RwLock: held for one probe or one insert, never across .await.
    tags: RwLock<HashTable<u128>>,
}

impl std::fmt::Debug for ProvenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvenCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// A tag of one (line, verifier, password) triple under the process key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag(u128);

impl Tag {
    /// The table's hash: the tag is already a keyed random value.
    fn hash(&self) -> u64 {
        self.0 as u64
    }
}

impl ProvenCache {
    /// 2^20 tags: every line of a large operator (100,000 lines) several
    /// times over, in at most ~20 MiB.
    pub const DEFAULT_CAPACITY: usize = 1 << 20;

    /// An empty cache under a fresh random key.
    pub fn new(capacity: usize) -> Self {
        ProvenCache {
            keys: rand::random(),
            capacity: capacity.max(1),
            tags: RwLock::new(HashTable::new()),
        }
    }

    /// The tag of `password` presented for the line `id` whose stored
    /// verifier is `verifier`. Each field is framed by its length, so no
    /// two triples share an input.
    pub fn tag(&self, id: LineId, verifier: &[u8], password: &str) -> Tag {
        let mut h = SipHasher24::new_with_keys(self.keys.0, self.keys.1);
        h.write(&id.0.to_le_bytes());
        h.write(&(verifier.len() as u64).to_le_bytes());
        h.write(verifier);
        h.write(&(password.len() as u64).to_le_bytes());
        h.write(password.as_bytes());
        Tag(u128::from(h.finish128()))
    }

    /// Whether `tag` was proven before.
    pub fn contains(&self, tag: Tag) -> bool {
        let tags = self.tags.read().unwrap_or_else(|p| p.into_inner());
        tags.find(tag.hash(), |t| *t == tag.0).is_some()
    }

    /// Remembers a proven tag (call only after the verifier said `Match`).
    pub fn insert(&self, tag: Tag) {
        let mut tags = self.tags.write().unwrap_or_else(|p| p.into_inner());
        if tags.find(tag.hash(), |t| *t == tag.0).is_some() {
            return;
        }
        if tags.len() >= self.capacity {
            // Full: start over (rare; each line pays the verifier once more).
            *tags = HashTable::new();
        }
        tags.insert_unique(tag.hash(), tag.0, |t| *t as u64);
    }

    /// Tags held.
    pub fn len(&self) -> usize {
        self.tags.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_covers_the_line_the_verifier_and_the_password() {
        let cache = ProvenCache::new(16);
        let v = [7u8; 36];
        let tag = cache.tag(LineId(1), &v, "pw");
        assert!(!cache.contains(tag));
        cache.insert(tag);
        assert!(cache.contains(tag));
        assert!(cache.contains(cache.tag(LineId(1), &v, "pw")));
        assert!(!cache.contains(cache.tag(LineId(1), &v, "pW")));
        assert!(!cache.contains(cache.tag(LineId(2), &v, "pw")));
        assert!(!cache.contains(cache.tag(LineId(1), &[8u8; 36], "pw")));
        // Length framing: moving bytes between fields is another input.
        assert_ne!(
            cache.tag(LineId(1), b"ab", "c"),
            cache.tag(LineId(1), b"a", "bc")
        );
        // Another process (another key) makes other tags.
        assert_ne!(
            ProvenCache::new(16).tag(LineId(1), &v, "pw"),
            cache.tag(LineId(1), &v, "pw")
        );
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = ProvenCache::new(4);
        for i in 0..10 {
            cache.insert(cache.tag(LineId(i), &[0u8; 36], "pw"));
            assert!(cache.len() <= 4);
        }
        assert!(cache.contains(cache.tag(LineId(9), &[0u8; 36], "pw")));
        cache.insert(cache.tag(LineId(9), &[0u8; 36], "pw"));
        assert!(cache.len() <= 4);
    }
}
