//! Typed identifiers, so a line id can never be passed where a stream id
//! is expected.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $inner);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A subscriber line.
    LineId(i64)
);

impl LineId {
    /// The id of a line the store has not assigned one yet.
    pub const UNSAVED: LineId = LineId(0);
}

id_type!(
    /// A source an operator added (a playlist or a guide).
    SourceId(i64)
);
id_type!(
    /// The public number of a live channel, movie or episode: what players
    /// call `stream_id`. Stable across source refreshes.
    StreamId(u32)
);
id_type!(
    /// The public number of a series (`series_id`).
    SeriesId(u32)
);
id_type!(
    /// The public number of a category (`category_id`).
    CategoryId(u32)
);
id_type!(
    /// A device bound to a line (see `access::device`).
    DeviceId(i64)
);
