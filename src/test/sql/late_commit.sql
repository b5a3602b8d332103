-- A transaction that took its change id early and committed late is not skipped: a batch is the
-- changes of the transactions that committed between two snapshots, not a range of change ids.
--
-- Runs in one transaction, rolled back at the end. The writers, whose changes must be committed
-- (or stay open) while it runs, are sessions of their own (dblink); what they committed is
-- removed at the end.
BEGIN;
SELECT plan(10);

-- A connection string to this database, for dblink (through the server's own socket).
CREATE FUNCTION pg_temp.this_db() RETURNS text
LANGUAGE sql AS $$
  SELECT format('host=%s port=%s dbname=%s user=%s', trim(split_part(current_setting('unix_socket_directories'), ',', 1)),
                current_setting('port'), current_database(), current_user)
$$;

-- Runs sql in a session of its own and commits it.
CREATE FUNCTION pg_temp.committed(sql text) RETURNS void
LANGUAGE sql AS $$
  SELECT FROM dblink_exec(pg_temp.this_db(), 'SET lock_timeout = ''10s''; ' || sql)
$$;

-- The wake-up switch as it was: the writers' changes disarm it, and a sequence is not rolled back.
CREATE TEMP TABLE switch_before AS SELECT pg_sequence_last_value('eventflow.wakeup_armed') AS armed;

-- Closes the writers' sessions, removes what they committed (their users and those users'
-- changes, without capturing the removal) and puts the wake-up switch back.
CREATE FUNCTION pg_temp.remove_committed() RETURNS void
LANGUAGE sql AS $$
  SELECT dblink_disconnect(c) FROM unnest(dblink_get_connections()) AS c;
  SELECT pg_temp.committed($q$
    SET LOCAL session_replication_role = replica;
    DELETE FROM eventflow.change_log WHERE coalesce(after, before)->>'email' LIKE '%@late-commit.test';
    DELETE FROM eventflow_demo.users WHERE email LIKE '%@late-commit.test'$q$);
  SELECT setval('eventflow.wakeup_armed', armed) FROM switch_before;
$$;

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

SELECT pg_temp.remove_committed();
SELECT * FROM finish();
ROLLBACK;
