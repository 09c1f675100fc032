-- 0005: an operator can switch single streams (channels, movies, episodes)
-- off (issue 6, "Sources and channels"). A disabled stream stays in the
-- store with its id, so a refresh (which updates rows by (source_id, key)
-- and never touches this column) keeps it disabled, and switching it back
-- on gives players the same stream id. Only the catalog players see leaves
-- it out.
ALTER TABLE streams ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1
    CHECK (enabled IN (0, 1));
