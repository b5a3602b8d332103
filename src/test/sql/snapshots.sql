-- Snapshots: a chunk reads once the transactions running when it took its change ids have ended,
-- so its read sees every change logged before them, and a change it does not see gets a higher
-- change id than its 'r'; the last row of the table is marked; requests are asked for once, and
-- can be cancelled. The masked columns' names are decoded whatever they hold.
--
-- Runs in one transaction, rolled back at the end. The writers, whose changes must be committed
-- (or stay open) while it runs, are sessions of their own (dblink); what they committed is
-- removed at the end.
BEGIN;
SELECT plan(15);

\ir support/writers.psql

SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES ('one', 'one@snapshots.test'), ('two', 'two@snapshots.test')$$);

-- a writer renames 'one' and stays open
SELECT FROM dblink_connect('open', pg_temp.this_db());
SELECT FROM dblink_exec('open', 'BEGIN');
SELECT FROM dblink_exec('open', $$UPDATE eventflow_demo.users SET name = 'one renamed' WHERE email = 'one@snapshots.test'$$);
SELECT id AS renamed_id FROM dblink('open', $$SELECT max(id) FROM eventflow.change_log$$) AS t(id bigint) \gset

SELECT eventflow.snapshot('eventflow_demo.users') AS job \gset
SELECT is(eventflow.snapshot('eventflow_demo.users'), :job::bigint, 'asked again while it waits: the same request');
SELECT is((SELECT state FROM eventflow.snapshots WHERE id = :job), 'pending', 'it waits');

SELECT is(eventflow.snapshot_chunk(1000, '100 ms'), NULL, 'a chunk does not read while a transaction older than it is open');
SELECT matches((SELECT error FROM eventflow.snapshots WHERE id = :job),
  '^waiting for transactions that were running when the chunk began: transaction [0-9]+ \(pid [0-9]+, ',
  'and says which one, with its pid');
SELECT is((SELECT count(*) FROM eventflow.change_log WHERE op = 'r'), 0::bigint, 'nothing is logged meanwhile');

SELECT FROM dblink_exec('open', 'COMMIT');
SELECT count(*) AS table_rows FROM eventflow_demo.users \gset
SELECT is(eventflow.snapshot_chunk(1000, '5 seconds'), :table_rows::integer, 'once it ended, the chunk reads every row');
SELECT is((SELECT after->>'name' FROM eventflow.change_log WHERE op = 'r' AND after->>'email' = 'one@snapshots.test'), 'one renamed',
  'its read has the change of the transaction it waited for');
SELECT cmp_ok((SELECT min(id) FROM eventflow.change_log WHERE op = 'r'), '>', :renamed_id::bigint,
  'with a higher change id than that change');
SELECT is((SELECT array_agg(snapshot ORDER BY id) FILTER (WHERE snapshot = 'last') FROM eventflow.change_log WHERE op = 'r'),
  ARRAY['last'], 'one r is the last');
SELECT is((SELECT after->>'id' FROM eventflow.change_log WHERE op = 'r' AND snapshot = 'last'),
  (SELECT max(id)::text FROM eventflow_demo.users), 'the row with the highest key');
SELECT is((SELECT state || ' ' || rows_done || ' ' || coalesce(error, 'no error') FROM eventflow.snapshots WHERE id = :job),
  'done ' || :table_rows || ' no error', 'the request is done');
SELECT is(eventflow.snapshot_chunk(1000), NULL, 'then no snapshot waits');

-- a later request, cancelled before it read anything
SELECT eventflow.snapshot('eventflow_demo.users') AS second \gset
SELECT ok(eventflow.cancel_snapshot('eventflow_demo.users'), 'a waiting snapshot is cancelled');
SELECT is((SELECT state FROM eventflow.snapshots WHERE id = :second), 'cancelled', 'and stays so');

SELECT is(eventflow.trigger_arguments(convert_to('pässwort', 'UTF8') || '\x00'::bytea || convert_to('pass\word', 'UTF8') || '\x00'::bytea),
  ARRAY['pässwort', 'pass\word'], 'masked names are decoded as written, backslashes and all');

SELECT pg_temp.remove_committed('snapshots.test');
SELECT * FROM finish();
ROLLBACK;
