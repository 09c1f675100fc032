//! Per-source connection caps: how many upstream connections tvgate holds
//! to one source (a provider line often allows only a few).
//!
//! A [`SourcePermit`] is an RAII token: it holds a clone of the source's
//! shared token and the count of open connections *is* the token's
//! reference count. Nothing is incremented or decremented by hand, so a
//! panic, a cancelled task or a forgotten message cannot leak a slot: when
//! the permit is dropped (on unwind too) the slot is free.
//!
//! The permit is meant to move into the upstream stream
//! ([`crate::upstream::http_ts`]), so it is held exactly as long as the
//! upstream runs, linger included.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// Open upstream connections per source. Cheap to clone; clones share state.
#[derive(Clone, Default)]
pub struct SourceCaps {
    tokens: Arc<Mutex<HashMap<u64, Arc<()>>>>,
}

/// One open connection to a source; the slot is freed when this is dropped.
pub struct SourcePermit {
    source: u64,
    _token: Arc<()>,
}

impl fmt::Debug for SourcePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourcePermit")
            .field("source", &self.source)
            .finish()
    }
}

impl SourcePermit {
    /// The source this permit counts against.
    pub fn source(&self) -> u64 {
        self.source
    }
}

impl fmt::Debug for SourceCaps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.snapshot()).finish()
    }
}

fn open_count(token: &Arc<()>) -> usize {
    // The map holds one reference; every other one is a permit.
    Arc::strong_count(token) - 1
}

impl SourceCaps {
    /// No connections open.
    pub fn new() -> SourceCaps {
        SourceCaps::default()
    }

    fn tokens(&self) -> MutexGuard<'_, HashMap<u64, Arc<()>>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A permit for one more connection to `source`, or `None` if `cap`
    /// connections are already open. `cap == 0` means unlimited.
    pub fn try_acquire(&self, source: u64, cap: u32) -> Option<SourcePermit> {
        let mut tokens = self.tokens();
        let token = tokens.entry(source).or_default();
        // Checked and taken under the lock; permits are only dropped outside
        // it, which can only lower the count, so the cap is never overshot.
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        if cap != 0 && open_count(token) >= cap {
            return None;
        }
        Some(SourcePermit {
            source,
            _token: Arc::clone(token),
        })
    }

    /// Connections open to `source` right now.
    pub fn open(&self, source: u64) -> usize {
        self.tokens().get(&source).map_or(0, open_count)
    }

    /// `(source, open connections)` for every source with at least one,
    /// sorted by source.
    pub fn snapshot(&self) -> Vec<(u64, usize)> {
        let mut tokens = self.tokens();
        // Forget sources nobody holds, so the map does not grow forever.
        tokens.retain(|_, token| open_count(token) > 0);
        let mut out: Vec<(u64, usize)> = tokens
            .iter()
            .map(|(source, token)| (*source, open_count(token)))
            .collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_refuses_then_frees_on_drop() {
        let caps = SourceCaps::new();
        let a = caps.try_acquire(7, 2).unwrap();
        let b = caps.try_acquire(7, 2).unwrap();
        assert!(caps.try_acquire(7, 2).is_none(), "third over the cap");
        assert!(caps.try_acquire(8, 2).is_some(), "other sources unaffected");
        assert_eq!(caps.open(7), 2);
        drop(a);
        assert_eq!(caps.open(7), 1);
        let c = caps.try_acquire(7, 2).unwrap();
        assert_eq!(c.source(), 7);
        assert_eq!(caps.snapshot(), vec![(7, 2)]);
        drop((b, c));
        assert_eq!(caps.open(7), 0);
        assert!(caps.snapshot().is_empty());
    }

    #[test]
    fn zero_cap_is_unlimited_but_counted() {
        let caps = SourceCaps::new();
        let permits: Vec<_> = (0..100).filter_map(|_| caps.try_acquire(1, 0)).collect();
        assert_eq!(permits.len(), 100);
        assert_eq!(caps.open(1), 100);
    }

    #[test]
    fn a_panicking_holder_releases_its_permit() {
        let caps = SourceCaps::new();
        let permit = caps.try_acquire(3, 1).unwrap();
        let r = std::thread::spawn(move || {
            let _held = permit;
            panic!("upstream task died");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(caps.open(3), 0);
        assert!(caps.try_acquire(3, 1).is_some());
    }
}
