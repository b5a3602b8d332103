-- Claims and fencing: one instance at a time holds a cursor (claim_cursor, with a lease); only
-- the holder reads and finishes its batches; an instance whose lease ran out and whose cursor
-- another one took cannot move it any more, and the new holder publishes the batch in flight again.
--
-- Runs in one transaction, rolled back at the end. The writers, whose changes must be committed
-- while it runs, are sessions of their own (dblink); what they committed is removed at the end.
BEGIN;
SELECT plan(23);

\ir support/writers.psql

-- Where the default cursor is: what the fenced instance must not move.
CREATE TEMP VIEW position AS
  SELECT lo_snapshot::text AS lo, hi_snapshot::text AS hi, last_id, batch_end_id, published_total
    FROM eventflow.capture_state WHERE name = 'default';

SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email)
  SELECT 'user ' || g, 'user' || g || '@claims.test' FROM generate_series(1, 3) AS g$$);
CREATE TEMP TABLE changes AS SELECT id FROM eventflow.change_log WHERE after->>'email' LIKE '%@claims.test';

-- The first to claim holds the cursor
SELECT is(eventflow.claim_cursor('default', 'instance-a'), 'instance-a', 'claim_cursor gives the cursor to the first caller');
SELECT is(eventflow.claim_cursor('default', 'instance-b'), 'instance-a', 'and names that holder to a second caller, who waits');
SELECT is((SELECT holder FROM eventflow.cursors WHERE name = 'default'), 'instance-a', 'the view says who holds it');
SELECT throws_ok($$SELECT * FROM eventflow.next_batch('default', 'instance-b')$$, '55P03',
  'cursor ''default'' is held by ''instance-a'', not by ''instance-b'': this instance lost its claim and must not move it',
  'next_batch by another instance raises');
SELECT throws_like($$SELECT eventflow.finish_batch('default', 'instance-b')$$,
  'cursor ''default'' is held by ''instance-a'', not by ''instance-b''%', 'so does finish_batch');

CREATE TEMP TABLE batch_a AS SELECT * FROM eventflow.next_batch('default', 'instance-a', 2);
SELECT is((SELECT array_agg(change_id ORDER BY change_id) FROM batch_a), (SELECT (array_agg(id ORDER BY id))[1:2] FROM changes),
  'the holder reads a part of 2 changes');
CREATE TEMP TABLE position_read AS SELECT * FROM position;

-- instance-a's lease runs out (it renews with a lease already over), instance-b takes over
SELECT is(eventflow.claim_cursor('default', 'instance-a', '-1 second'), 'instance-a', 'the holder renews its own claim');
SELECT is((SELECT holder FROM eventflow.cursors WHERE name = 'default'), NULL, 'the view names no holder once the lease ran out');
SELECT is(eventflow.claim_cursor('default', 'instance-b'), 'instance-b', 'then the second caller takes the cursor');
SELECT throws_ok($$SELECT eventflow.finish_batch('default', 'instance-a', 2)$$, '55P03',
  'cursor ''default'' is held by ''instance-b'', not by ''instance-a'': this instance lost its claim and must not move it',
  'the first holder''s finish_batch raises');
SELECT results_eq($$SELECT * FROM position$$, $$SELECT * FROM position_read$$, 'and leaves the cursor where it was');
SELECT throws_like($$SELECT * FROM eventflow.next_batch('default', 'instance-a')$$, 'cursor ''default'' is held by ''instance-b''%',
  'its next_batch raises too');
SELECT is(eventflow.claim_cursor('default', 'instance-a'), 'instance-b', 'and its claim names the new holder');

SELECT results_eq($$SELECT change_id, change, bytes FROM eventflow.next_batch('default', 'instance-b', 2)$$,
  $$SELECT change_id, change, bytes FROM batch_a$$,
  'the new holder reads the batch in flight again');
SELECT ok(eventflow.finish_batch('default', 'instance-b', 2), 'and finishes it');
SELECT is((SELECT array_agg(change_id) FROM eventflow.next_batch('default', 'instance-b', 2)), (SELECT (array_agg(id ORDER BY id))[3:3] FROM changes),
  'then the next part follows on');

-- Giving the claim up
SELECT ok(NOT eventflow.release_cursor('default', 'instance-a'), 'release_cursor by an instance that does not hold the cursor does nothing');
SELECT is((SELECT holder FROM eventflow.cursors WHERE name = 'default'), 'instance-b', 'the holder still holds it');
SELECT ok(eventflow.release_cursor('default', 'instance-b'), 'release_cursor by the holder gives the claim up');
SELECT throws_like($$SELECT eventflow.finish_batch('default', 'instance-b', 1)$$, 'cursor ''default'' is held by nobody, not by ''instance-b''%',
  'after which it cannot finish its batch');
SELECT is(eventflow.claim_cursor('default', 'instance-a'), 'instance-a', 'another instance claims it at once, before the lease would have run out');
SELECT results_eq($$SELECT change_id FROM eventflow.next_batch('default', 'instance-a', 2)$$,
  $$SELECT (array_agg(id ORDER BY id))[3] FROM changes$$,
  'and reads the part in flight again');
SELECT throws_ok($$SELECT eventflow.set_aside('default', 'instance-b', (SELECT (array_agg(id ORDER BY id))[3] FROM changes), 1, 'too large')$$,
  '55P03', NULL, 'an instance that lost its claim cannot set a change of the batch aside either');

SELECT pg_temp.remove_committed('claims.test');
SELECT * FROM finish();
ROLLBACK;
