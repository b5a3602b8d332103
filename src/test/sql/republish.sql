-- Republishing: a change set aside (its event over the broker's limit) and put back with
-- republish_failed keeps the change id it was first logged with (its message_id and
-- source.changeId), and comes after the changes logged since.
--
-- Not one transaction rolled back at the end, as the other files: republish_failed must commit in
-- a transaction of its own, as it does in use, for a batch to take the changes it puts back (a
-- batch is the changes of the transactions that committed between two snapshots). So every
-- statement commits, and the end puts back what was there: the cursors as they were, no user,
-- change or set-aside change of this test, the wake-up switch as it was.
SELECT plan(16);

\ir support/committing.psql

-- A change too large for a limit of 4000 bytes is set aside
INSERT INTO eventflow_demo.users (name, email) VALUES (repeat('x', 5000), 'big@republish.test');
CREATE TEMP TABLE big AS SELECT id, after FROM eventflow.change_log WHERE after->>'email' = 'big@republish.test';
SELECT id AS big_id FROM big \gset

SELECT is(eventflow.claim_cursor('default', 'pgtap'), 'pgtap', 'the test holds the default cursor');
CREATE TEMP TABLE first_read AS SELECT * FROM eventflow.next_batch('default', 'pgtap', max_event_bytes => 4000);
SELECT results_eq($$SELECT change_id, oversized FROM first_read$$, $$SELECT id, true FROM big$$,
  'the change comes over the limit');
SELECT ok(eventflow.set_aside('default', 'pgtap', :big_id, (SELECT bytes FROM first_read), 'over 4000 bytes'), 'and is set aside');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 0), 'its batch is finished');

-- A change logged since, then the change set aside put back
INSERT INTO eventflow_demo.users (name, email) VALUES ('since', 'since@republish.test');
SELECT id AS since_id FROM eventflow.change_log WHERE after->>'email' = 'since@republish.test' \gset
SELECT is(eventflow.republish_failed(), 1::bigint, 'republish_failed puts it back');
SELECT is_empty($$SELECT * FROM eventflow.failed_change$$, 'and removes it from eventflow.failed_change');

CREATE TEMP TABLE second_read AS SELECT * FROM eventflow.next_batch('default', 'pgtap', max_event_bytes => 4000);
SELECT results_eq($$SELECT change_id, change FROM second_read$$,
  format($$VALUES (%s::bigint, 'eventflow_demo.users.c'), (%s, 'eventflow_demo.users.c')$$, :since_id, :big_id),
  'it comes after the change logged since, with the change id it was first logged with');
SELECT ok((SELECT oversized FROM second_read WHERE change_id = :big_id), 'still over the limit');
SELECT ok(eventflow.set_aside('default', 'pgtap', :big_id, (SELECT bytes FROM second_read WHERE change_id = :big_id), 'over 4000 bytes again'),
  'it is set aside again');
SELECT results_eq($$SELECT change_id, reason FROM eventflow.failed_change$$,
  format($$VALUES (%s::bigint, 'over 4000 bytes again')$$, :big_id),
  'under its first change id');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 1), 'that batch is finished');

-- Put back once more, by its id, and published under the limit of 128 MB
SELECT is(eventflow.republish_failed(:big_id), 1::bigint, 'republish_failed(change_id) puts that change back');
CREATE TEMP TABLE third_read AS SELECT * FROM eventflow.next_batch('default', 'pgtap');
SELECT results_eq($$SELECT change_id, (event::json->'source'->>'changeId')::bigint, oversized FROM third_read$$,
  format($$VALUES (%s::bigint, %1$s::bigint, false)$$, :big_id),
  'its event has the first change id as source.changeId');
SELECT is((SELECT event::jsonb->'after' FROM third_read), (SELECT after::jsonb FROM big), 'and the row as it was logged first');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 1), 'its batch is finished');
SELECT is_empty($$SELECT * FROM eventflow.next_batch('default', 'pgtap')$$, 'and nothing else waits');

SELECT pg_temp.put_back('republish.test');
SELECT * FROM finish();
