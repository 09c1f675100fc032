//! The in-memory index of lines by username, read on every request.
//!
//! Loaded from the store at start and kept in step by every write that goes
//! through the service, so answering a login needs no database round trip.

use super::credentials::username_key;
use super::Account;
use crate::ids::AccountId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Lines by username key (case-folded when the policy is on) and by id.
#[derive(Debug)]
pub struct Directory {
    case_insensitive: bool,
    // std RwLock: held only for a map lookup or insert, never across .await.
    inner: RwLock<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    by_key: HashMap<Box<str>, Arc<Account>>,
    key_of: HashMap<AccountId, Box<str>>,
}

impl Directory {
    pub fn new(case_insensitive: bool) -> Self {
        Directory {
            case_insensitive,
            inner: RwLock::new(Maps::default()),
        }
    }

    pub fn case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    /// The key a (cleaned) username is stored under.
    pub fn key<'a>(&self, username: &'a str) -> std::borrow::Cow<'a, str> {
        username_key(username, self.case_insensitive)
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

    /// Replaces the whole index.
    pub fn load(&self, accounts: Vec<Account>) {
        let mut maps = Maps::default();
        maps.by_key.reserve(accounts.len());
        for a in accounts {
            let key: Box<str> = self.key(&a.username).into();
            maps.key_of.insert(a.id, key.clone());
            maps.by_key.insert(key, Arc::new(a));
        }
        *self.write() = maps;
    }

    /// The line a cleaned username names, if any.
    pub fn find(&self, username: &str) -> Option<Arc<Account>> {
        let key = self.key(username);
        self.read().by_key.get(key.as_ref()).cloned()
    }

    pub fn get(&self, id: AccountId) -> Option<Arc<Account>> {
        let maps = self.read();
        let key = maps.key_of.get(&id)?;
        maps.by_key.get(key).cloned()
    }

    /// Inserts or replaces a line.
    pub fn put(&self, account: Account) {
        let key: Box<str> = self.key(&account.username).into();
        let mut maps = self.write();
        if let Some(old) = maps.key_of.insert(account.id, key.clone()) {
            if old != key {
                maps.by_key.remove(&old);
            }
        }
        maps.by_key.insert(key, Arc::new(account));
    }

    pub fn remove(&self, id: AccountId) {
        let mut maps = self.write();
        if let Some(key) = maps.key_of.remove(&id) {
            maps.by_key.remove(&key);
        }
    }

    /// All lines, sorted by username.
    pub fn all(&self) -> Vec<Arc<Account>> {
        let mut v: Vec<_> = self.read().by_key.values().cloned().collect();
        v.sort_by(|a, b| a.username.cmp(&b.username));
        v
    }

    pub fn len(&self) -> usize {
        self.read().by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
