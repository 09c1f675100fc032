//! The in-memory index of lines by username, read on every request.
//!
//! Loaded from the store at start and kept in step by every write that goes
//! through the gate, so answering a login needs no database round trip.
//! Reloaded when another process or node changed the store; a reload keeps
//! the lines changed here after it read the store ([`Directory::load_since`]).
//!
//! Memory matters here (an operator may have 100,000 lines): the table is
//! keyed by the username's hash and compared against the line's own
//! username, case-folded on the fly, so no second copy of any username is
//! kept.

use super::credentials::username_key;
use super::Line;
use crate::ids::LineId;
use hashbrown::HashTable;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, RwLock};

/// Lines by username key (case-folded when the policy is on) and by id.
#[derive(Debug)]
pub struct Directory {
    case_insensitive: bool,
    hasher: RandomState,
    // std RwLock: held only for a lookup or an insert, never across .await.
    inner: RwLock<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    by_name: HashTable<Arc<Line>>,
    by_id: HashMap<LineId, Arc<Line>>,
    /// Counts the changes made through [`Directory::put`] and
    /// [`Directory::remove`].
    seq: u64,
    /// The lines those changes touched, with the count at their last one:
    /// a reload that read the store before that change must keep them as
    /// they are here ([`Directory::load_since`]).
    changed: HashMap<LineId, u64>,
}

impl Directory {
    pub fn new(case_insensitive: bool) -> Self {
        Directory {
            case_insensitive,
            hasher: RandomState::new(),
            inner: RwLock::new(Maps::default()),
        }
    }

    /// The key a (cleaned) username is stored under.
    pub fn key<'a>(&self, username: &'a str) -> std::borrow::Cow<'a, str> {
        username_key(username, self.case_insensitive)
    }

    /// Hash of a username's key, computed without building the key.
    fn hash(&self, username: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        if username.is_ascii() {
            // The same stream as below (each character as a u32), written
            // at once: ASCII folds to ASCII, one byte per character.
            let mut buf = [0u8; 4 * 32];
            for chunk in username.as_bytes().chunks(32) {
                for (i, b) in chunk.iter().enumerate() {
                    let c = if self.case_insensitive {
                        b.to_ascii_lowercase()
                    } else {
                        *b
                    };
                    buf[4 * i..4 * i + 4].copy_from_slice(&u32::from(c).to_ne_bytes());
                }
                h.write(&buf[..4 * chunk.len()]);
            }
            return h.finish();
        }
        if self.case_insensitive {
            for c in username.chars().flat_map(char::to_lowercase) {
                h.write_u32(c as u32);
            }
        } else {
            for c in username.chars() {
                h.write_u32(c as u32);
            }
        }
        h.finish()
    }

    /// Whether two usernames have the same key, without allocating.
    fn same(&self, a: &str, b: &str) -> bool {
        if self.case_insensitive && a.is_ascii() && b.is_ascii() {
            a.eq_ignore_ascii_case(b)
        } else if self.case_insensitive {
            a.chars()
                .flat_map(char::to_lowercase)
                .eq(b.chars().flat_map(char::to_lowercase))
        } else {
            a == b
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, maps: &mut Maps, line: Arc<Line>) {
        if let Some(old) = maps.by_id.insert(line.id, line.clone()) {
            let hash = self.hash(&old.username);
            if let Ok(entry) = maps.by_name.find_entry(hash, |a| a.id == old.id) {
                entry.remove();
            }
        }
        let hash = self.hash(&line.username);
        // A different line under the same key cannot exist (the store keeps
        // keys unique); replace it anyway rather than keep two.
        if let Ok(entry) = maps
            .by_name
            .find_entry(hash, |a| self.same(&a.username, &line.username))
        {
            let (gone, _) = entry.remove();
            maps.by_id.remove(&gone.id);
            maps.by_id.insert(line.id, line.clone());
        }
        maps.by_name
            .insert_unique(hash, line, |a| self.hash(&a.username));
    }

    /// Replaces the whole index.
    pub fn load(&self, lines: Vec<Line>) {
        self.load_since(lines, u64::MAX);
    }

    /// Where the changes made here stand: take it before reading the
    /// store for [`Directory::load_since`].
    pub fn seq(&self) -> u64 {
        self.read().seq
    }

    /// Replaces the index with `lines`, read from the store after
    /// [`Directory::seq`] said `since`, except the lines changed here
    /// after that: those stay as they are here (put, or removed), since
    /// the store may have been read before their change was written. A
    /// reload that runs beside this process's own writes therefore never
    /// brings back an older line; the change of such a line another node
    /// made meanwhile comes with the next reload (its own notification).
    pub fn load_since(&self, lines: Vec<Line>, since: u64) {
        let mut fresh = Maps {
            by_name: HashTable::with_capacity(lines.len()),
            by_id: HashMap::with_capacity(lines.len()),
            ..Maps::default()
        };
        for a in lines {
            self.insert(&mut fresh, Arc::new(a));
        }
        let mut maps = self.write();
        for (&id, _) in maps.changed.iter().filter(|(_, &at)| at > since) {
            if let Some(loaded) = fresh.by_id.remove(&id) {
                let hash = self.hash(&loaded.username);
                if let Ok(entry) = fresh.by_name.find_entry(hash, |a| a.id == id) {
                    entry.remove();
                }
            }
            if let Some(here) = maps.by_id.get(&id) {
                self.insert(&mut fresh, here.clone());
            }
        }
        fresh.by_name.shrink_to_fit(|a| self.hash(&a.username));
        fresh.by_id.shrink_to_fit();
        fresh.seq = maps.seq;
        fresh.changed = std::mem::take(&mut maps.changed);
        fresh.changed.retain(|_, at| *at > since);
        *maps = fresh;
    }

    /// The line a cleaned username names, if any.
    pub fn find(&self, username: &str) -> Option<Arc<Line>> {
        let hash = self.hash(username);
        self.read()
            .by_name
            .find(hash, |a| self.same(&a.username, username))
            .cloned()
    }

    /// The line named `username`, or `stand_in` when there is none: one
    /// lookup and one clone of an `Arc` either way (`Gate::authenticate`).
    pub fn find_or(&self, username: &str, stand_in: &Arc<Line>) -> Arc<Line> {
        let hash = self.hash(username);
        self.read()
            .by_name
            .find(hash, |a| self.same(&a.username, username))
            .unwrap_or(stand_in)
            .clone()
    }

    pub fn get(&self, id: LineId) -> Option<Arc<Line>> {
        self.read().by_id.get(&id).cloned()
    }

    /// Inserts or replaces a line.
    pub fn put(&self, line: Line) {
        let mut maps = self.write();
        maps.seq += 1;
        let seq = maps.seq;
        maps.changed.insert(line.id, seq);
        self.insert(&mut maps, Arc::new(line));
    }

    pub fn remove(&self, id: LineId) {
        let mut maps = self.write();
        maps.seq += 1;
        let seq = maps.seq;
        maps.changed.insert(id, seq);
        if let Some(old) = maps.by_id.remove(&id) {
            let hash = self.hash(&old.username);
            if let Ok(entry) = maps.by_name.find_entry(hash, |a| a.id == id) {
                entry.remove();
            }
        }
    }

    /// All lines, sorted by username.
    pub fn all(&self) -> Vec<Arc<Line>> {
        let mut v: Vec<_> = self.read().by_id.values().cloned().collect();
        v.sort_by(|a, b| a.username.cmp(&b.username));
        v
    }

    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{OutputFormats, Status};

    fn line(id: i64, name: &str) -> Line {
        Line {
            id: LineId(id),
            username: name.into(),
            password_hash: "".into(),
            verifier: None,
            status: Status::Active,
            expires_at: None,
            is_trial: false,
            max_connections: 1,
            limit_policy: None,
            allowed_formats: OutputFormats::DEFAULT,
            created_at: 0,
            note: "".into(),
            package: None,
            revision: 0,
        }
    }

    #[test]
    fn ascii_and_unicode_names_hash_and_compare_alike() {
        // The ASCII fast path and the general one must agree where a
        // non-ASCII name folds to ASCII (the Kelvin sign folds to `k`).
        let d = Directory::new(true);
        let long = "A".repeat(70);
        d.load(vec![
            line(1, "kelvin"),
            line(2, "Ünïcode"),
            line(3, &long),
            line(4, "\u{212A}x"),
        ]);
        assert_eq!(d.find("\u{212A}ELVIN").map(|a| a.id), Some(LineId(1)));
        assert_eq!(d.find("KELVIN").map(|a| a.id), Some(LineId(1)));
        assert_eq!(d.find("üNÏCODE").map(|a| a.id), Some(LineId(2)));
        assert_eq!(d.find(&long.to_lowercase()).map(|a| a.id), Some(LineId(3)));
        assert_eq!(d.find("KX").map(|a| a.id), Some(LineId(4)));
        assert!(d.find(&"a".repeat(69)).is_none());
        let strict = Directory::new(false);
        strict.load(vec![line(1, "kelvin")]);
        assert!(strict.find("\u{212A}elvin").is_none());
        assert!(strict.find("kelvin").is_some());
    }

    #[test]
    fn finds_by_folded_name_and_id_and_follows_renames() {
        let d = Directory::new(true);
        d.load(vec![line(1, "Alice"), line(2, "bob")]);
        assert_eq!(d.find("ALICE").map(|a| a.id), Some(LineId(1)));
        assert_eq!(d.find("Bob").map(|a| a.id), Some(LineId(2)));
        assert!(d.find("carol").is_none());
        d.put(line(1, "Alicia"));
        assert!(d.find("alice").is_none(), "the old name is gone");
        assert_eq!(d.find("alicia").map(|a| a.id), Some(LineId(1)));
        assert_eq!(d.len(), 2);
        d.remove(LineId(2));
        assert!(d.find("bob").is_none() && d.get(LineId(2)).is_none());
        let strict = Directory::new(false);
        strict.load(vec![line(1, "Alice")]);
        assert!(strict.find("alice").is_none());
        assert!(strict.find("Alice").is_some());
    }

    #[test]
    fn a_reload_read_before_a_change_here_keeps_the_change() {
        let d = Directory::new(true);
        d.load(vec![line(1, "alice"), line(2, "bob"), line(3, "carl")]);
        let since = d.seq();
        // Changes made here while the store is being read...
        let mut banned = line(1, "alice");
        banned.status = Status::Banned;
        d.put(banned);
        d.remove(LineId(2));
        d.put(line(4, "dora"));
        // ...and the snapshot, read before them, with another node's change.
        let mut renamed = line(3, "carla");
        renamed.revision = 2;
        d.load_since(
            vec![line(1, "alice"), line(2, "bob"), renamed, line(5, "emil")],
            since,
        );
        assert_eq!(d.find("alice").map(|a| a.status), Some(Status::Banned));
        assert!(d.find("bob").is_none(), "removed here stays removed");
        assert!(d.find("dora").is_some(), "made here stays");
        assert!(d.find("carla").is_some() && d.find("carl").is_none());
        assert!(d.find("emil").is_some());
        // A reload read after the changes takes the store's word for all.
        let since = d.seq();
        d.load_since(vec![line(1, "alice"), line(2, "bob")], since);
        assert_eq!(d.find("alice").map(|a| a.status), Some(Status::Active));
        assert!(d.find("bob").is_some() && d.find("dora").is_none());
        assert_eq!(d.len(), 2);
    }
}
