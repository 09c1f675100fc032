-- 0012: refreshes held by the shrink guard (issue 13).
--
-- A refresh that would remove more of a source's entries than
-- `refresh_shrink_guard` allows is not applied; the source records it
-- here until the operator applies it (`tvgate source refresh ID
-- --accept-shrink`, the console, the API) or a later refresh is applied:
-- `AT BEFORE AFTER REASON` (when it read the source, the entries stored,
-- the entries it read, why it was held; codec.rs). NULL: nothing held.
-- After 0011, which rebuilt `sources` with an explicit column list.
ALTER TABLE sources ADD COLUMN held TEXT;
