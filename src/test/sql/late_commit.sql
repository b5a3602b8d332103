-- A transaction that took its change id early and committed late is not skipped: a batch is the
-- changes of the transactions that committed between two snapshots, not a range of change ids.
--
-- Runs in one transaction, rolled back at the end. The writers, whose changes must be committed
-- (or stay open) while it runs, are sessions of their own (dblink); what they committed is
-- removed at the end.
BEGIN;
SELECT plan(10);

\ir support/writers.psql

-- Session "early" takes the lower change id and stays open; "late" takes a higher one and commits.
SELECT FROM dblink_connect('early', pg_temp.this_db());
SELECT FROM dblink_exec('early', 'BEGIN');
SELECT FROM dblink_exec('early', $$INSERT INTO eventflow_demo.users (name, email) VALUES ('early', 'early@late-commit.test')$$);
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES ('late', 'late@late-commit.test')$$);

SELECT id AS early_id FROM dblink('early', $$SELECT id FROM eventflow.change_log WHERE after->>'name' = 'early'$$) AS t(id bigint) \gset
SELECT id AS late_id FROM eventflow.change_log WHERE after->>'name' = 'late' \gset

SELECT cmp_ok(:early_id::bigint, '<', :late_id::bigint, 'the transaction still open took the lower change id');

SELECT is(eventflow.claim_cursor('default', 'pgtap'), 'pgtap', 'the test holds the default cursor');
CREATE TEMP TABLE before_commit AS SELECT * FROM eventflow.next_batch('default', 'pgtap');
SELECT is((SELECT array_agg(event::json->'after'->>'name' ORDER BY change_id) FROM before_commit), ARRAY['late'],
  'a batch read while the earlier transaction is open has the later, committed change only');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 1), 'that batch is finished');
SELECT is((SELECT backlog FROM eventflow.cursor_backlog('default')), 0::bigint,
  'an open transaction''s change is not in the backlog yet');

SELECT FROM dblink_exec('early', 'COMMIT');

SELECT is((SELECT backlog FROM eventflow.cursor_backlog('default')), 1::bigint,
  'once committed, the earlier transaction''s change is in the backlog');
CREATE TEMP TABLE after_commit AS SELECT * FROM eventflow.next_batch('default', 'pgtap');
SELECT is((SELECT array_agg(event::json->'after'->>'name' ORDER BY change_id) FROM after_commit), ARRAY['early'],
  'the next batch after the finish has the change of the transaction that committed late');
SELECT is((SELECT array_agg(change_id) FROM after_commit), ARRAY[:early_id::bigint],
  'with the lower change id it took when it wrote');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 1), 'that batch is finished too');
SELECT is_empty($$SELECT * FROM eventflow.next_batch('default', 'pgtap')$$,
  'then nothing is left: each change came once');

SELECT pg_temp.remove_committed('late-commit.test');
SELECT * FROM finish();
ROLLBACK;
