-- 0013: a source's upstream identity (issue 14).
--
-- The user agent tvgate sends to the source's provider (NULL: tvgate's
-- own) and extra request headers, one `Name: value` per line (NULL or
-- empty: none; core checks names and values, so a value never holds a
-- line break). Header values may carry tokens: faces never show them.
-- After 0011, which rebuilt `sources` with an explicit column list.
ALTER TABLE sources ADD COLUMN user_agent TEXT;
ALTER TABLE sources ADD COLUMN request_headers TEXT;
