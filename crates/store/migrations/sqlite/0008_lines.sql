-- 0008: one name for the subscriber's line (issue 11). The code, the CLI,
-- the console and the API call it a line; so does the schema now. Renames
-- only: SQLite rewrites the foreign keys of the tables that point here.
DROP INDEX device_audit_account;
DROP INDEX refusals_by_account;

ALTER TABLE accounts RENAME TO lines;
ALTER TABLE change_stamps RENAME COLUMN accounts TO lines;
ALTER TABLE device_policies RENAME COLUMN account_id TO line_id;
ALTER TABLE devices RENAME COLUMN account_id TO line_id;
ALTER TABLE device_audit RENAME COLUMN account_id TO line_id;
ALTER TABLE refusals RENAME COLUMN account_id TO line_id;

CREATE INDEX device_audit_line ON device_audit (line_id, id);
CREATE INDEX refusals_by_line ON refusals (line_id, id) WHERE line_id IS NOT NULL;
