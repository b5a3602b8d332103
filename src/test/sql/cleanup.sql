-- The clean-up: cleanup(retention) deletes the changes every cursor has published and that are
-- older than the retention, nothing while a cursor lies ahead of the database; a cursor created
-- with create_cursor(name, true) publishes the changes the change log still holds.
--
-- Not one transaction rolled back at the end, as the other files: cleanup() deletes the changes of
-- the transactions that ended before every cursor's snapshot was taken, and an open transaction
-- (this test's own) would hold that horizon back. So every statement commits, and the end puts
-- back what was there: the cursors as they were, no user or change of this test, the wake-up
-- switch as it was.
SELECT plan(19);

\ir support/committing.psql

\ir support/sessions.psql

-- Publishes what a cursor has not, as EventFlow does (claim, then read and finish batch after batch
-- until a read finds nothing), and returns the change ids it read. It first waits (at most 10 s) for
-- the transactions of other sessions of the cluster that started before it: the cursor then ends
-- past every one of them, whatever else runs on this PostgreSQL.
CREATE FUNCTION pg_temp.publish(cursor_name text) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
  started xid8 := pg_snapshot_xmax(pg_current_snapshot());
  give_up timestamptz := clock_timestamp() + interval '10 seconds';
  n integer;
  id bigint;
BEGIN
  WHILE EXISTS (SELECT 1 FROM pg_snapshot_xip(pg_current_snapshot()) AS x WHERE x < started) LOOP
    IF clock_timestamp() > give_up THEN
      RAISE EXCEPTION 'a transaction older than this test stays open (see pg_stat_activity): the clean-up cannot pass it';
    END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  PERFORM eventflow.claim_cursor(cursor_name, 'pgtap');
  LOOP
    n := 0;
    FOR id IN SELECT b.change_id FROM eventflow.next_batch(cursor_name, 'pgtap') b LOOP
      n := n + 1;
      RETURN NEXT id;
    END LOOP;
    EXIT WHEN n = 0;
    PERFORM eventflow.finish_batch(cursor_name, 'pgtap', n);
  END LOOP;
END;
$$;

CREATE FUNCTION pg_temp.logged() RETURNS SETOF bigint
LANGUAGE sql AS $$
  SELECT id FROM eventflow.change_log WHERE coalesce(after, before)->>'email' LIKE '%@cleanup.test' ORDER BY id
$$;

-- Two cursors: the default one publishes two changes, the other one not yet
SELECT eventflow.create_cursor('lagging');
INSERT INTO eventflow_demo.users (name, email) VALUES ('a1', 'a1@cleanup.test'), ('a2', 'a2@cleanup.test');
CREATE TEMP TABLE first_changes AS SELECT * FROM pg_temp.logged() AS id;

SELECT results_eq($$SELECT * FROM pg_temp.publish('default')$$, $$SELECT id FROM first_changes ORDER BY id$$,
  'the default cursor publishes the two changes');
SELECT is(eventflow.cleanup('0 seconds'), 0::bigint, 'cleanup deletes nothing while another cursor has not published them');
SELECT results_eq($$SELECT * FROM pg_temp.logged()$$, $$SELECT id FROM first_changes ORDER BY id$$, 'the change log keeps both');

SELECT eventflow.create_cursor('joiner', true);
SELECT results_eq($$SELECT * FROM pg_temp.publish('joiner')$$, $$SELECT id FROM first_changes ORDER BY id$$,
  'a cursor created with create_cursor(name, true) publishes the changes the change log still holds');
SELECT eventflow.create_cursor('from_now');
SELECT is_empty($$SELECT * FROM pg_temp.publish('from_now')$$, 'one created with create_cursor(name) starts from now');

SELECT ok(eventflow.drop_cursor('lagging'), 'the cursor that has not published them is dropped');
SELECT is(eventflow.cleanup('0 seconds'), 2::bigint, 'then cleanup deletes the changes every cursor has published');
SELECT is_empty($$SELECT * FROM pg_temp.logged()$$, 'the change log no longer has them');

-- Retention: two changes every cursor publishes, one logged two hours ago
INSERT INTO eventflow_demo.users (name, email) VALUES ('b1', 'b1@cleanup.test');
INSERT INTO eventflow_demo.users (name, email) VALUES ('b2', 'b2@cleanup.test');
UPDATE eventflow.change_log SET changed_at = changed_at - interval '2 hours' WHERE after->>'email' = 'b1@cleanup.test';
CREATE TEMP TABLE second_changes AS SELECT * FROM pg_temp.logged() AS id;
SELECT is((SELECT count(*) FROM pg_temp.publish('default')), 2::bigint, 'the default cursor publishes the two new changes');
SELECT is((SELECT count(*) FROM pg_temp.publish('joiner')), 2::bigint, 'so does the cursor created with create_cursor(name, true)');
SELECT is((SELECT count(*) FROM pg_temp.publish('from_now')), 2::bigint, 'and the one created with create_cursor(name)');
SELECT is(eventflow.cleanup('1 hour'), 1::bigint, 'cleanup with a retention of 1 hour deletes the change logged two hours ago');
SELECT results_eq($$SELECT * FROM pg_temp.logged()$$, $$SELECT max(id) FROM second_changes$$,
  'and keeps the younger one');

-- A cursor ahead of the database: nothing is deleted (cleanup warns; not shown here)
UPDATE eventflow.capture_state SET lo_snapshot = '99999999:99999999:' WHERE name = 'from_now';
SET client_min_messages = error;
SELECT is(eventflow.cleanup('0 seconds'), 0::bigint, 'while a cursor lies ahead of the database, cleanup deletes nothing');
RESET client_min_messages;
SELECT results_eq($$SELECT * FROM pg_temp.logged()$$, $$SELECT max(id) FROM second_changes$$,
  'the change every other cursor has published stays');
SELECT ok(eventflow.drop_cursor('from_now'), 'the cursor ahead is dropped');
SELECT is(eventflow.cleanup('0 seconds'), 1::bigint, 'then cleanup deletes it');

-- A cursor created with create_cursor(name, true) while a transaction that wrote is still open
SELECT FROM dblink_connect('early', pg_temp.this_db());
SELECT FROM dblink_exec('early', 'BEGIN');
SELECT FROM dblink_exec('early', $$INSERT INTO eventflow_demo.users (name, email) VALUES ('early', 'early@cleanup.test')$$);
INSERT INTO eventflow_demo.users (name, email) VALUES ('late', 'late@cleanup.test');
SELECT eventflow.create_cursor('late_joiner', true);
SELECT FROM dblink_exec('early', 'COMMIT');
SELECT FROM dblink_disconnect('early');
SELECT is((SELECT count(*) FROM pg_temp.publish('default')), 2::bigint, 'the default cursor publishes both transactions');
SELECT results_eq($$SELECT * FROM pg_temp.publish('late_joiner')$$, $$SELECT * FROM pg_temp.logged()$$,
  'so does a cursor created with create_cursor(name, true) while the first was open');

SELECT pg_temp.put_back('cleanup.test');
SELECT * FROM finish();
