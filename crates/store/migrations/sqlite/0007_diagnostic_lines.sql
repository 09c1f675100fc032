-- 0007: a source's refresh diagnostics keep their line number apart from
-- their message (issue 11), so nothing formats them into `line N: what`
-- and parses that back. Existing rows are split here; a row whose text
-- does not start with `line N: ` (none was ever written so) keeps its
-- text whole with line 0.
ALTER TABLE source_diagnostics ADD COLUMN line INTEGER NOT NULL DEFAULT 0;

UPDATE source_diagnostics
   SET line    = CAST(substr(message, 6, instr(message, ': ') - 6) AS INTEGER),
       message = substr(message, instr(message, ': ') + 2)
 WHERE message GLOB 'line *: *'
   AND instr(message, ': ') > 6
   AND substr(message, 6, instr(message, ': ') - 6) NOT GLOB '*[^0-9]*';
