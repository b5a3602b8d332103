-- Events: each change of a batch is Debezium's envelope (before, after, source, transaction, op, ts_ms) as the
-- exact text EventFlow publishes, with its size in bytes; an event over max_event_bytes is not
-- built (NULL, oversized) and set_aside copies its change to eventflow.failed_change.
--
-- Runs in one transaction, rolled back at the end. The writers, whose changes must be committed
-- while it runs, are sessions of their own (dblink); what they committed is removed at the end.
BEGIN;
SELECT plan(21);

\ir support/writers.psql

-- A user whose name is not ASCII is created, renamed and deleted, then a user with a 5000-character name
-- is created: four transactions.
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES ('Zoë Čapek 日本', 'zoe@events.test')$$);
SELECT pg_temp.committed($$UPDATE eventflow_demo.users SET name = 'Zoë Čapková' WHERE email = 'zoe@events.test'$$);
SELECT pg_temp.committed($$DELETE FROM eventflow_demo.users WHERE email = 'zoe@events.test'$$);
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES (repeat('x', 5000), 'big@events.test')$$);
CREATE TEMP TABLE big AS SELECT id FROM eventflow.change_log WHERE after->>'email' = 'big@events.test';
SELECT id AS big_id FROM big \gset

SELECT is(eventflow.claim_cursor('default', 'pgtap'), 'pgtap', 'the test holds the default cursor');
CREATE TEMP TABLE batch AS
  SELECT b.*, (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS read_at_ms
    FROM eventflow.next_batch('default', 'pgtap', max_event_bytes => 4000) b;
CREATE TEMP VIEW built AS SELECT * FROM batch WHERE NOT oversized;

SELECT is((SELECT array_agg(change ORDER BY change_id) FROM batch),
  ARRAY['eventflow_demo.users.c', 'eventflow_demo.users.u', 'eventflow_demo.users.d', 'eventflow_demo.users.c'],
  'each change comes as <schema>.<table>.<op>, in change-id order');
SELECT is((SELECT count(*) FROM built), 3::bigint, 'the three events under 4000 bytes are built');

-- the envelope
SELECT lives_ok($$SELECT event::json FROM built$$, 'each event is JSON');
SELECT set_eq($$SELECT json_object_keys(event::json) FROM built$$,
  ARRAY['before', 'after', 'source', 'transaction', 'op', 'ts_ms', 'ts_us', 'ts_ns'],
  'with Debezium''s envelope: before, after, source, transaction, op, ts_ms, ts_us and ts_ns');
SELECT results_eq($$SELECT event::json->>'op', event::json->'before'->>'name', event::json->'after'->>'name' FROM built ORDER BY change_id$$,
  $$VALUES ('c', NULL, 'Zoë Čapek 日本'), ('u', 'Zoë Čapek 日本', 'Zoë Čapková'), ('d', 'Zoë Čapková', NULL)$$,
  'op, before and after are those of the insert, the update and the delete');
SELECT set_eq($$SELECT jsonb_object_keys(event::jsonb->'after') FROM built WHERE change = 'eventflow_demo.users.c'$$,
  ARRAY['id', 'name', 'email', 'created_at', 'updated_at'],
  'after is the whole row');
SELECT results_eq($$SELECT (event::json->'source'->>'changeId')::bigint FROM built ORDER BY change_id$$,
  $$SELECT change_id FROM built ORDER BY change_id$$,
  'source.changeId is the change id');
SELECT set_eq($$SELECT (event::jsonb->'source') - ARRAY['txId', 'ts_ms', 'ts_us', 'ts_ns', 'changeId'] FROM built$$,
  ARRAY[jsonb_build_object('version', '1', 'connector', 'eventflow', 'name', 'eventflow', 'db', current_database(),
                           'schema', 'eventflow_demo', 'table', 'users', 'snapshot', 'false', 'sequence', NULL, 'lsn', NULL)],
  'source names the connector, the database, the schema and the table (and no snapshot)');
SELECT results_eq($$SELECT (b.event::json->'source'->>'txId')::xid8, (b.event::json->'source'->>'ts_ms')::bigint
                      FROM built b ORDER BY b.change_id$$,
  $$SELECT c.tx_id, (extract(epoch FROM c.changed_at) * 1000)::bigint
      FROM eventflow.change_log c JOIN built b ON b.change_id = c.id ORDER BY c.id$$,
  'source.txId and source.ts_ms are the writing transaction and when the change was logged');
SELECT is((SELECT count(*) FROM built WHERE abs((event::json->>'ts_ms')::bigint - read_at_ms) > 60000), 0::bigint,
  'ts_ms is when the event was built');
SELECT results_eq($$SELECT bytes FROM built ORDER BY change_id$$,
  $$SELECT octet_length(event)::bigint FROM built ORDER BY change_id$$,
  'bytes is the size of the event text in bytes (UTF-8), not in characters');

-- over max_event_bytes
SELECT results_eq($$SELECT change_id, event, oversized FROM batch WHERE bytes > 4000$$,
  $$SELECT id, NULL::text, true FROM big$$,
  'the event over 4000 bytes comes back as NULL, oversized');
SELECT results_eq($$SELECT b.bytes FROM batch b JOIN big ON big.id = b.change_id$$,
  $$SELECT octet_length(b.event)::bigint FROM eventflow.next_batch('default', 'pgtap') b JOIN big ON big.id = b.change_id$$,
  'with the size its event has (the batch read again with the default limit of 128 MB)');

SELECT ok(eventflow.set_aside('default', 'pgtap', :big_id, (SELECT bytes FROM batch WHERE change_id = :big_id), 'over 4000 bytes'),
  'set_aside copies it');
SELECT results_eq($$SELECT f.change_id, f.tx_id, f.schema_name, f.table_name, f.op::text, f.before::text, f.after::text, f.changed_at, f.reason
                      FROM eventflow.failed_change f$$,
  $$SELECT c.id, c.tx_id, c.schema_name, c.table_name, c.op::text, c.before::text, c.after::text, c.changed_at, 'over 4000 bytes'
      FROM eventflow.change_log c JOIN big ON big.id = c.id$$,
  'to eventflow.failed_change: the change as logged, and why');
SELECT is((SELECT event_bytes FROM eventflow.failed_change), (SELECT bytes FROM batch WHERE change_id = :big_id),
  'with the size of its event');
SELECT ok(NOT eventflow.set_aside('default', 'pgtap', :big_id, 1, 'again'), 'a change set aside already is not copied again');

SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES ('later', 'later@events.test')$$);
SELECT ok(NOT eventflow.set_aside('default', 'pgtap', (SELECT id FROM eventflow.change_log WHERE after->>'name' = 'later'), 1, 'not in flight'),
  'a change that is not in the batch in flight is not copied');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 3), 'the batch is finished');
SELECT is((SELECT array_agg(change_id) FROM eventflow.failed_change), ARRAY[:big_id::bigint],
  'the change set aside stays in eventflow.failed_change');

SELECT pg_temp.remove_committed('events.test');
SELECT * FROM finish();
ROLLBACK;
