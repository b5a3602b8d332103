-- Batches: next_batch bounded by a count (max_changes) and by bytes (max_bytes), read in parts
-- that together are every change once, in change-id order; a batch read again before it is
-- finished (EventFlow crashed between publishing and finishing) is the same batch.
--
-- Runs in one transaction, rolled back at the end. The writers, whose changes must be committed
-- while it runs, are sessions of their own (dblink); what they committed is removed at the end.
BEGIN;
SELECT plan(22);

\ir support/writers.psql

-- One part of a cursor's next batch, read and finished (the test holds the cursor).
CREATE FUNCTION pg_temp.read_part(cursor_name text, max_changes integer, max_bytes bigint)
RETURNS TABLE (change_id bigint, bytes bigint)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM eventflow.claim_cursor(cursor_name, 'pgtap');
  RETURN QUERY SELECT b.change_id, b.bytes FROM eventflow.next_batch(cursor_name, 'pgtap', max_changes, max_bytes) b;
  PERFORM eventflow.finish_batch(cursor_name, 'pgtap');
END;
$$;

-- The parts a cursor's next batches come in: part after part until a read finds nothing, each
-- change with the number of the part it came in.
CREATE FUNCTION pg_temp.read_parts(cursor_name text, max_changes integer, max_bytes bigint)
RETURNS TABLE (part integer, change_id bigint, bytes bigint)
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  FOR i IN 1..100 LOOP
    RETURN QUERY SELECT i, p.change_id, p.bytes FROM pg_temp.read_part(cursor_name, max_changes, max_bytes) p;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXIT WHEN n = 0;
  END LOOP;
END;
$$;

-- The changes a batch read gives, less the envelope's ts_ms, ts_us and ts_ns (when the event was made): two reads
-- of one batch give these the same.
CREATE FUNCTION pg_temp.batch_rows(cursor_name text, max_changes integer)
RETURNS TABLE (change_id bigint, change text, event jsonb, bytes bigint, oversized boolean)
LANGUAGE sql AS $$
  SELECT b.change_id, b.change, b.event::jsonb - ARRAY['ts_ms', 'ts_us', 'ts_ns'], b.bytes, b.oversized
    FROM eventflow.next_batch(cursor_name, 'pgtap', max_changes) b
$$;

SELECT is(eventflow.claim_cursor('default', 'pgtap'), 'pgtap', 'the test holds the default cursor');

-- Nothing waiting
CREATE TEMP TABLE cursor_before AS SELECT * FROM eventflow.capture_state WHERE name = 'default';
SELECT is_empty($$SELECT * FROM eventflow.next_batch('default', 'pgtap')$$, 'with nothing waiting, a read returns nothing');
SELECT results_eq($$SELECT lo_snapshot::text, hi_snapshot::text, last_id, batch_end_id FROM eventflow.capture_state WHERE name = 'default'$$,
  $$SELECT lo_snapshot::text, hi_snapshot::text, last_id, batch_end_id FROM cursor_before$$,
  'and leaves the cursor as it was');
SELECT ok(NOT eventflow.finish_batch('default', 'pgtap'), 'finish_batch says there was no batch in flight');

-- Bounded by count: five changes of one transaction, two at a time
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email)
  SELECT 'count ' || g, 'count' || g || '@batches.test' FROM generate_series(1, 5) AS g$$);
CREATE TEMP TABLE count_changes AS
  SELECT id FROM eventflow.change_log WHERE after->>'email' LIKE 'count%@batches.test';

CREATE TEMP TABLE part1 AS SELECT * FROM pg_temp.batch_rows('default', 2);
SELECT is((SELECT array_agg(change_id ORDER BY change_id) FROM part1),
  (SELECT (array_agg(id ORDER BY id))[1:2] FROM count_changes),
  'a batch of at most 2 changes has the first 2 of 5');
SELECT results_eq($$SELECT * FROM pg_temp.batch_rows('default', 2)$$,
  $$SELECT * FROM part1$$,
  'read again before it is finished (a crash), it is the same batch: same changes, events (but their ts_ms) and sizes');
SELECT results_eq($$SELECT * FROM pg_temp.batch_rows('default', 1000)$$,
  $$SELECT * FROM part1$$,
  'even when the read asks for more changes than the batch in flight has');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 2), 'the first part is finished');

-- A change committed while the batch is read in parts comes after the batch
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES ('meanwhile', 'meanwhile@batches.test')$$);
SELECT id AS meanwhile_id FROM eventflow.change_log WHERE after->>'name' = 'meanwhile' \gset

CREATE TEMP TABLE part2 AS SELECT * FROM pg_temp.batch_rows('default', 2);
SELECT is((SELECT array_agg(change_id ORDER BY change_id) FROM part2),
  (SELECT (array_agg(id ORDER BY id))[3:4] FROM count_changes),
  'after the finish, the next part follows on: changes 3 and 4 of 5');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 2), 'the second part is finished');
SELECT is((SELECT array_agg(change_id ORDER BY change_id) FROM pg_temp.batch_rows('default', 2)),
  (SELECT (array_agg(id ORDER BY id))[5:5] FROM count_changes),
  'the last part has the last change of the batch, not the one committed while it was read');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 1), 'the last part is finished');
SELECT is((SELECT array_agg(change_id) FROM pg_temp.batch_rows('default', 2)), ARRAY[:meanwhile_id::bigint],
  'the change committed while the batch was read comes in the next batch');
SELECT ok(eventflow.finish_batch('default', 'pgtap', 1), 'which is finished');

-- Bounded by bytes: four changes of about 2 kB each, read by cursors that start before them
SELECT eventflow.create_cursor('one_byte');
SELECT eventflow.create_cursor('half');
SELECT eventflow.create_cursor('zero');
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email)
  SELECT repeat(chr(96 + g), 2000), 'bytes' || g || '@batches.test' FROM generate_series(1, 4) AS g$$);
CREATE TEMP TABLE byte_changes AS
  SELECT id FROM eventflow.change_log WHERE after->>'email' LIKE 'bytes%@batches.test';

CREATE TEMP TABLE whole AS SELECT * FROM pg_temp.read_parts('default', 1000, 1000000);
SELECT results_eq($$SELECT part, change_id FROM whole$$,
  $$SELECT 1, id FROM byte_changes ORDER BY id$$,
  'at most 1 MB: the four changes of about 2 kB come in one part');
SELECT results_eq($$SELECT part, change_id FROM pg_temp.read_parts('one_byte', 1000, 1)$$,
  $$SELECT row_number() OVER (ORDER BY id)::integer, id FROM byte_changes ORDER BY id$$,
  'at most 1 byte: each part still has one change, all of them in turn, in change-id order');

SELECT (sum(bytes) / 2)::bigint AS half_bytes FROM whole \gset
CREATE TEMP TABLE cut_parts AS SELECT * FROM pg_temp.read_parts('half', 1000, :half_bytes);
SELECT cmp_ok((SELECT max(part) FROM cut_parts), '>', 1, 'at most half of the changes'' bytes: the batch comes in more than one part');
SELECT cmp_ok((SELECT max(part) FROM cut_parts), '<', 4, 'and not one change per part');
SELECT results_eq($$SELECT change_id FROM cut_parts ORDER BY part, change_id$$,
  $$SELECT id FROM byte_changes ORDER BY id$$,
  'the parts together are every change, each once, in change-id order');

-- At most 0 bytes
CREATE TEMP TABLE zero_read AS SELECT change_id FROM pg_temp.read_part('zero', 1, 1000000);
INSERT INTO zero_read SELECT change_id FROM pg_temp.read_part('zero', 1000, 0);
INSERT INTO zero_read SELECT change_id FROM pg_temp.read_parts('zero', 1000, 1000000);
SELECT results_eq($$SELECT change_id FROM zero_read ORDER BY change_id$$, $$SELECT id FROM byte_changes ORDER BY id$$,
  'at most 0 bytes, a part still has one change: the parts together are every change');

-- A batch whose last part is exactly max_changes long: the read after it closes the batch and goes
-- on with the next one
SELECT eventflow.create_cursor('even');
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email)
  SELECT 'even ' || g, 'even' || g || '@batches.test' FROM generate_series(1, 4) AS g$$);
CREATE TEMP TABLE even_parts AS SELECT change_id FROM pg_temp.read_part('even', 2, 1000000);
INSERT INTO even_parts SELECT change_id FROM pg_temp.read_part('even', 2, 1000000);
SELECT pg_temp.committed($$INSERT INTO eventflow_demo.users (name, email) VALUES ('after even', 'after-even@batches.test')$$);
SELECT is((SELECT array_agg(change_id) FROM pg_temp.read_part('even', 2, 1000000)),
  (SELECT array_agg(id) FROM eventflow.change_log WHERE after->>'email' = 'after-even@batches.test'),
  'after a last part of exactly max_changes, the next read brings the next batch');
SELECT throws_ok($$SELECT * FROM eventflow.next_batch('default', 'pgtap', 0)$$, '22023', NULL,
  'a batch of at most 0 changes is refused');

SELECT pg_temp.remove_committed('batches.test');
SELECT * FROM finish();
ROLLBACK;
