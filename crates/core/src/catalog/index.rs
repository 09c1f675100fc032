//! Lookups by public id (stream, series, category).
//!
//! Ids are SQLite autoincrement integers: small and nearly contiguous. A
//! `Vec` indexed by id is then both the smallest index (8 bytes a slot, no
//! hashing, no per-entry key) and the fastest. A sparse id space (the
//! largest id far above the number of ids) falls back to sorted parallel
//! vectors searched by bisection (12 bytes an entry), so a stray huge id
//! cannot make the table huge.

/// Id → value, for values that are not 0 (0 marks an empty slot).
#[derive(Debug)]
pub(super) enum IdIndex {
    /// `slots[id]`.
    Dense(Vec<u64>),
    /// `ids` sorted, `values[i]` belongs to `ids[i]`.
    Sparse { ids: Vec<u32>, values: Vec<u64> },
}

impl Default for IdIndex {
    fn default() -> Self {
        IdIndex::Dense(Vec::new())
    }
}

/// Slots a dense table may spend beyond one per id.
const DENSE_SLACK: usize = 4096;

impl IdIndex {
    /// Builds from `(id, value)` pairs (values not 0); when an id repeats,
    /// the last value wins.
    pub(super) fn build(pairs: impl Iterator<Item = (u32, u64)> + Clone) -> IdIndex {
        let (count, max) = pairs
            .clone()
            .fold((0usize, None::<u32>), |(n, max), (id, _)| {
                (n + 1, Some(max.map_or(id, |m| m.max(id))))
            });
        let Some(max) = max else {
            return IdIndex::default();
        };
        let span = max as usize + 1;
        if span <= count.saturating_mul(2).saturating_add(DENSE_SLACK) {
            let mut slots = vec![0u64; span];
            for (id, value) in pairs {
                slots[id as usize] = value;
            }
            return IdIndex::Dense(slots);
        }
        let mut all: Vec<(u32, u64)> = pairs.collect();
        // Stable, so equal ids keep their order and the last one is kept.
        all.sort_by_key(|(id, _)| *id);
        let mut ids = Vec::with_capacity(all.len());
        let mut values = Vec::with_capacity(all.len());
        for (id, value) in all {
            if ids.last() == Some(&id) {
                if let Some(v) = values.last_mut() {
                    *v = value;
                }
            } else {
                ids.push(id);
                values.push(value);
            }
        }
        ids.shrink_to_fit();
        values.shrink_to_fit();
        IdIndex::Sparse { ids, values }
    }

    pub(super) fn get(&self, id: u32) -> Option<u64> {
        let v = match self {
            IdIndex::Dense(slots) => slots.get(id as usize).copied()?,
            IdIndex::Sparse { ids, values } => values[ids.binary_search(&id).ok()?],
        };
        (v != 0).then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_agree() {
        let pairs = [(3u32, 30u64), (1, 10), (7, 70), (3, 31)];
        let dense = IdIndex::build(pairs.iter().copied());
        assert!(matches!(dense, IdIndex::Dense(_)));
        let far = [(u32::MAX, 5u64), (2, 20)];
        let sparse = IdIndex::build(pairs.iter().copied().chain(far));
        assert!(matches!(sparse, IdIndex::Sparse { .. }));
        for index in [&dense, &sparse] {
            assert_eq!(index.get(3), Some(31), "the last value wins");
            assert_eq!(index.get(1), Some(10));
            assert_eq!(index.get(7), Some(70));
            assert_eq!(index.get(0), None);
            assert_eq!(index.get(8), None);
            assert_eq!(index.get(100_000), None);
        }
        assert_eq!(sparse.get(u32::MAX), Some(5));
        assert_eq!(sparse.get(2), Some(20));
        assert_eq!(IdIndex::build(std::iter::empty()).get(0), None);
    }
}
