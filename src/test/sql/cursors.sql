-- Cursors: creating, checking and dropping them, their backlog (cursor_backlog and the view
-- eventflow.cursors), and a cursor that lies ahead of the database (restored from another
-- cluster), which is never read from and says how to reset it.
--
-- Runs in one transaction, rolled back at the end. The writers, whose changes must be committed
-- while it runs, are sessions of their own (dblink); what they committed is removed at the end.
BEGIN;
SELECT plan(35);

\ir support/writers.psql

-- Creating and checking
SELECT throws_ok($$SELECT eventflow.create_cursor('default')$$, '42710', 'cursor default exists already',
  'create_cursor on a name that exists raises');
SELECT throws_ok($$SELECT eventflow.check_cursor('missing')$$, '42704',
  'no cursor named ''missing'' (there are: ''default''); to start one from now: SELECT eventflow.create_cursor(''missing'')',
  'check_cursor on a missing cursor raises, naming the cursors there are and how to create it');
SELECT throws_like($$SELECT eventflow.claim_cursor('missing', 'pgtap')$$,
  'no cursor named ''missing''%SELECT eventflow.create_cursor(''missing'')',
  'so does claim_cursor');
SELECT lives_ok($$SELECT eventflow.create_cursor('second')$$, 'create_cursor on a new name creates it');
SELECT lives_ok($$SELECT eventflow.check_cursor('second')$$, 'check_cursor finds it');

-- The backlog: three changes in two transactions
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES ('one', 'one@cursors.test'), ('two', 'two@cursors.test')$$);
SELECT pg_temp.committed($$UPDATE eventflow_demo.users SET name = 'one again' WHERE email = 'one@cursors.test'$$);
SELECT eventflow.create_cursor('after');

SELECT is((SELECT backlog FROM eventflow.cursor_backlog('default')), 3::bigint,
  'cursor_backlog counts the changes the cursor has not published');
SELECT cmp_ok((SELECT lag_seconds FROM eventflow.cursor_backlog('default')), '>', 0::float8,
  'and says for how long the oldest of them has waited');
SELECT results_eq($$SELECT name, backlog, ahead FROM eventflow.cursors ORDER BY name$$,
  $$VALUES ('after', 0::bigint, false), ('default', 3, false), ('second', 3, false)$$,
  'the view eventflow.cursors lists every cursor with its backlog: none for the cursor created after the changes');
SELECT is((SELECT lag_seconds FROM eventflow.cursors WHERE name = 'after'), 0::float8,
  'and no lag where there is no backlog');

SELECT is(eventflow.claim_cursor('default', 'pgtap'), 'pgtap', 'the test holds the default cursor');
SELECT is((SELECT holder FROM eventflow.cursors WHERE name = 'default'), 'pgtap', 'the view says who holds it');
CREATE TEMP TABLE batch AS SELECT * FROM eventflow.next_batch('default', 'pgtap', 2);
SELECT is((SELECT count(*) FROM batch), 2::bigint, 'a read of at most 2 changes takes two of them');
SELECT is((SELECT backlog FROM eventflow.cursors WHERE name = 'default'), 3::bigint,
  'they stay in the backlog while their batch is in flight');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 2), 'that part of the batch is finished');
SELECT is((SELECT backlog FROM eventflow.cursors WHERE name = 'default'), 1::bigint, 'one change of the batch is left in the backlog');
INSERT INTO batch SELECT * FROM eventflow.next_batch('default', 'pgtap', 2);
SELECT ok(eventflow.finish_batch('default', 'pgtap', 1), 'the last part is read and finished');
SELECT results_eq($$SELECT name, backlog, published_total, last_published_id FROM eventflow.cursors ORDER BY name$$,
  $$SELECT * FROM (VALUES ('after', 0::bigint, 0::bigint, NULL::bigint), ('default', 0, 3, (SELECT max(change_id) FROM batch)),
                          ('second', 3, 0, NULL)) AS v$$,
  'then the default cursor''s backlog is empty and its published total 3; the other cursors are as they were');
SELECT is((SELECT lag_seconds FROM eventflow.cursor_backlog('default')), 0::float8, 'with no lag');

-- A large backlog: up to 10,000 changes are counted, beyond that the span of their ids is
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email)
                           SELECT 'many ' || g, 'many' || g || '@backlog.test' FROM generate_series(1, 9990) g$$);
-- a rolled-back insert leaves 20 change ids unused
SELECT pg_temp.committed($q$DO $d$ BEGIN
                             INSERT INTO eventflow_demo.users (name, email)
                             SELECT 'gone ' || g, 'gone' || g || '@backlog.test' FROM generate_series(1, 20) g;
                             RAISE EXCEPTION 'rolled back';
                           EXCEPTION WHEN raise_exception THEN NULL;
                           END $d$$q$);
SELECT is((SELECT backlog FROM eventflow.cursor_backlog('after')), 9990::bigint,
  'up to 10,000 waiting, the backlog is their exact count (an id a rolled-back change took is not counted)');
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email)
                           SELECT 'more ' || g, 'more' || g || '@backlog.test' FROM generate_series(1, 20) g$$);
SELECT is((SELECT backlog FROM eventflow.cursor_backlog('after')), 10030::bigint,
  'beyond 10,000, it is the span of their ids: 10,010 changes and the 20 ids between them');
SELECT cmp_ok((SELECT lag_seconds FROM eventflow.cursor_backlog('after')), '>', 0::float8, 'with the lag of the oldest');
SELECT pg_temp.remove_committed('backlog.test');

-- Dropping
SELECT ok(eventflow.drop_cursor('second'), 'drop_cursor drops a cursor');
SELECT ok(NOT eventflow.drop_cursor('second'), 'and says when there was none');
SELECT is((SELECT array_agg(name ORDER BY name) FROM eventflow.cursors), ARRAY['after', 'default'], 'the view no longer lists it');
SELECT throws_like($$SELECT eventflow.check_cursor('second')$$, 'no cursor named ''second'' (there are: ''after'', ''default'')%',
  'check_cursor no longer finds it');

-- A cursor ahead of the database: its snapshot comes from a cluster that had run more transactions
UPDATE eventflow.capture_state SET lo_snapshot = '99999999:99999999:' WHERE name = 'default';
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES ('three', 'three@cursors.test')$$);

SELECT throws_ok($$SELECT eventflow.check_cursor('default')$$, '55000', NULL,
  'check_cursor raises for a cursor ahead of the database');
SELECT throws_matching($$SELECT eventflow.check_cursor('default')$$,
  '^cursor ''default'' is ahead of this database \(it has read up to transaction 99999999, the database is at \d+\)',
  'saying it is ahead, and of how much');
SELECT throws_like($$SELECT eventflow.check_cursor('default')$$,
  '%nothing was read or deleted. To publish from now on: SELECT eventflow.drop_cursor(''default''), eventflow.create_cursor(''default'')',
  'and how to reset it');
SELECT throws_like($$SELECT eventflow.claim_cursor('default', 'another')$$, 'cursor ''default'' is ahead of this database%',
  'claim_cursor raises the same');
SELECT throws_like($$SELECT * FROM eventflow.next_batch('default', 'pgtap')$$, 'cursor ''default'' is ahead of this database%',
  'and next_batch, for the instance that held it before');
SELECT results_eq($$SELECT name, ahead, backlog FROM eventflow.cursors ORDER BY name$$,
  $$VALUES ('after', false, 1::bigint), ('default', true, 0)$$,
  'the view says it is ahead (and that it has no backlog: it is never read from)');

SELECT lives_ok($$SELECT eventflow.drop_cursor('default'), eventflow.create_cursor('default')$$, 'the reset the error names works');
SELECT lives_ok($$SELECT eventflow.check_cursor('default')$$, 'the cursor is usable again');
SELECT results_eq($$SELECT name, ahead, backlog FROM eventflow.cursors ORDER BY name$$,
  $$VALUES ('after', false, 1::bigint), ('default', false, 0)$$,
  'and starts from now: the change written while it was ahead is not in its backlog');
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES ('four', 'four@cursors.test')$$);
SELECT is((SELECT backlog FROM eventflow.cursors WHERE name = 'default'), 1::bigint, 'a change written after the reset is');

SELECT pg_temp.remove_committed('cursors.test');
SELECT * FROM finish();
ROLLBACK;
