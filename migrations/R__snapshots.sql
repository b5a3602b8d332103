-- Incremental snapshots: the rows a captured table already holds, published as 'r' changes while
-- writers go on, read by EventFlow in primary-key order, one short transaction per chunk. Writers
-- are never held: a chunk takes no lock on the table or its rows (and EventFlow needs no more than
-- SELECT on it).
--
-- Why a read never overwrites a newer change, and every row left alone gets its 'r': a chunk first
-- takes the change ids its 'r' changes will carry from the change log's sequence, then waits until
-- every transaction that was running at that moment has ended, and only then reads its rows (the
-- read's snapshot S). A change that S sees is in the row read; a change S does not see was logged
-- after the ids were taken (its transaction was still to write when the chunk stopped waiting), so
-- its change id is higher than the 'r''s. A consumer that keeps, per row, the change with the
-- highest change id (source.changeId) ends with the table's rows whatever the order the two arrive
-- in; in one batch they come in change-id order. A row inserted after S gets its 'c', not an 'r';
-- a row deleted before S gets no 'r'.

-- Function: eventflow.snapshot(target regclass)
--
--   Asks EventFlow for an incremental snapshot of a captured table, and returns at once (the id of
--   the request, in eventflow.snapshots). Asking again while one is waiting or running returns
--   that one. Requests are read one after the other, oldest first.
--
--   SELECT eventflow.snapshot('public.orders');
--
--   Refused, with what to do: a table that is not captured, a partition (ask for its partitioned
--   table), a table without a primary key (chunks follow it), one EventFlow's database user cannot
--   read, one with row-level security (its policies would run as EventFlow), one whose rows would
--   turn into JSON through a cast its owner wrote (it would run with EventFlow's rights). Run by
--   EventFlow's database user, or a role it granted INSERT on eventflow.snapshot_job.
CREATE OR REPLACE FUNCTION eventflow.snapshot(target regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  target_schema text;
  target_table text;
  job_id bigint;
BEGIN
  SELECT n.nspname, c.relname INTO target_schema, target_table
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = target;
  PERFORM eventflow.check_capturable(target);
  IF eventflow.masked_columns(target) IS NULL THEN
    RAISE EXCEPTION 'capture is not enabled on %.%', target_schema, target_table
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = format('SELECT eventflow.enable_capture(%L) first', target::text);
  END IF;
  PERFORM eventflow.check_snapshot(target);
  IF NOT has_table_privilege('eventflow.snapshot_job', 'INSERT') THEN
    RAISE EXCEPTION 'only EventFlow''s database user asks for snapshots (or a role it granted INSERT on eventflow.snapshot_job)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO eventflow.snapshot_job (schema_name, table_name) VALUES (target_schema, target_table)
  ON CONFLICT (schema_name, table_name) WHERE state IN ('pending', 'running') DO NOTHING
  RETURNING id INTO job_id;
  IF job_id IS NULL THEN
    SELECT j.id INTO job_id FROM eventflow.snapshot_job j
     WHERE j.schema_name = target_schema AND j.table_name = target_table AND j.state IN ('pending', 'running');
  END IF;
  RETURN job_id;
END;
$$;

-- Function: eventflow.check_snapshot(target regclass)
--
--   Refuses a table an incremental snapshot cannot read safely (see snapshot()); checked when it is
--   asked for and again before each chunk.
CREATE OR REPLACE FUNCTION eventflow.check_snapshot(target regclass) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
  reader regrole := (SELECT n.nspowner::regrole FROM pg_namespace n WHERE n.nspname = 'eventflow');
  cast_column text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM eventflow.key_columns(target)) THEN
    RAISE EXCEPTION 'cannot snapshot %: it has no primary key, and an incremental snapshot reads a table in primary-key order', target
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'add a primary key (ALTER TABLE ... ADD PRIMARY KEY), then ask again';
  END IF;
  IF NOT has_table_privilege(reader, target, 'SELECT') THEN
    RAISE EXCEPTION 'cannot snapshot %: EventFlow''s database user % may not read it', target, reader
      USING ERRCODE = 'insufficient_privilege',
            HINT = format('as its owner: GRANT SELECT ON %s TO %s', target, reader);
  END IF;
  IF (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = target)
     AND NOT (SELECT r.rolbypassrls OR r.rolsuper FROM pg_roles r WHERE r.oid = reader) THEN
    RAISE EXCEPTION 'cannot snapshot %: it has row-level security, whose policies would run as EventFlow''s database user and hide rows', target
      USING ERRCODE = 'feature_not_supported';
  END IF;
  -- to_json turns a value into JSON through a cast to json where its type has one; any type that
  -- is not built in, in a column, an array, a domain or a composite, may have one its owner wrote
  WITH RECURSIVE types(oid) AS (
         SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
         UNION
         SELECT x.oid FROM types
           JOIN pg_type t ON t.oid = types.oid
           CROSS JOIN LATERAL (SELECT t.typelem UNION ALL SELECT t.typbasetype
                               UNION ALL SELECT a.atttypid FROM pg_attribute a
                                          WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) x(oid)
          WHERE x.oid <> 0)
  SELECT format_type(c.castsource, NULL) INTO cast_column
    FROM types JOIN pg_cast c ON c.castsource = types.oid
   WHERE c.casttarget IN ('json'::regtype, 'jsonb'::regtype) AND c.castfunc <> 0 AND c.castsource >= 16384
   LIMIT 1;
  IF cast_column IS NOT NULL THEN
    RAISE EXCEPTION 'cannot snapshot %: its type % becomes JSON through a cast of its owner, which would run with EventFlow''s rights', target, cast_column
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END;
$$;

DROP FUNCTION IF EXISTS eventflow.snapshot_chunk(integer);

-- Function: eventflow.snapshot_chunk(max_rows integer, max_wait interval)
--
--   Reads the next chunk of the oldest snapshot waiting or running: up to max_rows rows after the
--   last key read, in primary-key order, logged as 'r' changes (masked columns left out, values as
--   the capture trigger writes them: row_json's settings hold for the whole call), the last row of
--   the table marked 'last'; the key reached is kept in the same transaction. EventFlow calls it
--   in a loop, each call a transaction of its own. Another caller at the same time takes nothing
--   (the job's row is locked, SKIP LOCKED).
--
-- Algorithm:
--   The ids first (nextval of the change log's identity), then a wait, up to max_wait, for the
--   transactions running at that moment (in pg_locks, each holds the lock on its own id) to end,
--   then the read, in primary-key order with LIMIT max_rows + 1 (one more row says whether this is
--   the table's last chunk), and the 'r' changes logged with the ids taken (OVERRIDING SYSTEM
--   VALUE). A transaction still running after max_wait (a session idle in a transaction, say) ends
--   the call: the job keeps its place, and its error names who holds it up.
--
-- Returns:
--   how many rows it logged; NULL when no snapshot waits (or the chunk could not go on: its error
--   is kept in eventflow.snapshots, and the next call tries again).
CREATE OR REPLACE FUNCTION eventflow.snapshot_chunk(max_rows integer, max_wait interval DEFAULT '5 seconds')
RETURNS integer
LANGUAGE plpgsql
SET extra_float_digits = 1 SET bytea_output = 'hex' SET IntervalStyle = 'postgres' SET DateStyle = 'ISO, MDY'
SET TimeZone = 'UTC'
AS $$
DECLARE
  job eventflow.snapshot_job;
  target regclass;
  masked text[];
  key_names text[];
  key_types text[];
  keys text;
  ids bigint[];
  waiting_since timestamptz;
  running xid[];
  logged integer;
  reached text[];
  found_rows integer;
BEGIN
  IF max_rows IS NULL OR max_rows < 1 THEN
    RAISE EXCEPTION 'snapshot_chunk: max_rows must be at least 1, not %', max_rows USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO job FROM eventflow.snapshot_job j WHERE j.state IN ('pending', 'running') ORDER BY j.id LIMIT 1
     FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  target := to_regclass(format('%I.%I', job.schema_name, job.table_name));
  masked := CASE WHEN target IS NOT NULL THEN eventflow.masked_columns(target) END;
  IF masked IS NULL THEN
    UPDATE eventflow.snapshot_job j SET state = 'failed', finished_at = now(),
           error = format('%I.%I is no longer captured (or no longer exists)', job.schema_name, job.table_name)
     WHERE j.id = job.id;
    RETURN 0;
  END IF;
  BEGIN
    PERFORM eventflow.check_snapshot(target);
    SELECT array_agg(quote_ident(k.column_name) ORDER BY k.key_position), array_agg(k.type_name ORDER BY k.key_position)
      INTO key_names, key_types
      FROM eventflow.key_columns(target) k;
    keys := (SELECT string_agg('t.' || k, ', ' ORDER BY i) FROM unnest(key_names) WITH ORDINALITY AS u(k, i));

    ids := ARRAY(SELECT nextval(pg_get_serial_sequence('eventflow.change_log', 'id')) FROM generate_series(1, max_rows) ORDER BY 1);
    -- the transactions running now (with an id: writers), as their locks on their own ids show
    -- them; a snapshot's xip would miss those that took their id after its xmax
    running := ARRAY(SELECT l.transactionid FROM pg_locks l
                      WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.pid <> pg_backend_pid());
    waiting_since := clock_timestamp();
    WHILE EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock'
                                             AND l.transactionid = ANY (running)) LOOP
      IF clock_timestamp() - waiting_since > max_wait THEN
        UPDATE eventflow.snapshot_job j
           SET error = format('waiting for transactions that were running when the chunk began: %s',
                              (SELECT string_agg(CASE WHEN a.state IS NULL THEN format('transaction %s (pid %s)', l.transactionid, l.pid)
                                                      ELSE format('transaction %s (pid %s, %s since %s)', l.transactionid, l.pid,
                                                                  a.state, a.xact_start) END, ', ' ORDER BY l.pid)
                                 FROM pg_locks l
                                 LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                                WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.transactionid = ANY (running)))
         WHERE j.id = job.id;
        RETURN NULL;
      END IF;
      PERFORM pg_sleep(0.002);
    END LOOP;

    EXECUTE format($q$
      WITH chunk AS MATERIALIZED (
             SELECT t AS r, t.tableoid AS part, %1$s FROM %2$s %3$s t WHERE %4$s ORDER BY %5$s LIMIT $2 + 1),
           numbered AS (
             SELECT c.*, row_number() OVER (ORDER BY %6$s) AS n, count(*) OVER () AS total FROM chunk c),
           logged AS (
             INSERT INTO eventflow.change_log (id, schema_name, table_name, op, after, row_bytes, snapshot, partition_name)
             OVERRIDING SYSTEM VALUE
             SELECT $7[x.n], $3, $4, 'r', j.row, octet_length(j.row::text),
                    CASE WHEN x.total <= $2 AND x.n = x.total THEN 'last' ELSE 'incremental' END,
                    CASE WHEN x.part <> $6 THEN (SELECT pc.relname FROM pg_class pc WHERE pc.oid = x.part) END
               FROM numbered x
              CROSS JOIN LATERAL (SELECT CASE WHEN cardinality($5) = 0 THEN to_json(x.r)
                                              ELSE eventflow.masked_row(to_json(x.r), $5) END AS row) j
              WHERE x.n <= $2
             RETURNING 1)
      SELECT (SELECT count(*) FROM logged)::integer,
             (SELECT ARRAY[%7$s] FROM numbered WHERE n = least(total, $2)),
             coalesce((SELECT max(total) FROM numbered), 0)::integer
      $q$,
      (SELECT string_agg(format('t.%s AS k_%s', k, i), ', ' ORDER BY i) FROM unnest(key_names) WITH ORDINALITY AS u(k, i)),
      (SELECT CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY' END FROM pg_class c WHERE c.oid = target),
      target,
      CASE WHEN job.last_key IS NULL THEN 'true'
           ELSE format('(%s) > (%s)', keys, (SELECT string_agg(format('$1[%s]::%s', i, ty), ', ' ORDER BY i)
                                               FROM unnest(key_types) WITH ORDINALITY AS u(ty, i))) END,
      keys,
      (SELECT string_agg('k_' || i, ', ' ORDER BY i) FROM generate_series(1, cardinality(key_names)) AS i),
      (SELECT string_agg(format('k_%s::text', i), ', ' ORDER BY i) FROM generate_series(1, cardinality(key_names)) AS i))
      INTO logged, reached, found_rows
      USING job.last_key, max_rows, job.schema_name, job.table_name, masked, target::oid, ids;
  EXCEPTION WHEN OTHERS THEN
    UPDATE eventflow.snapshot_job j SET error = SQLERRM WHERE j.id = job.id;
    RETURN NULL;
  END;
  UPDATE eventflow.snapshot_job j
     SET state = CASE WHEN found_rows > max_rows THEN 'running' ELSE 'done' END,
         started_at = coalesce(j.started_at, now()),
         finished_at = CASE WHEN found_rows > max_rows THEN NULL ELSE now() END,
         last_key = coalesce(reached, j.last_key),
         rows_done = j.rows_done + logged,
         chunks_done = j.chunks_done + 1,
         error = NULL
   WHERE j.id = job.id;
  IF logged > 0 AND pg_sequence_last_value('eventflow.wakeup_armed') = 1 THEN
    PERFORM setval('eventflow.wakeup_armed', 0);
    PERFORM pg_notify(w.channel, '') FROM eventflow.wakeup w;
  END IF;
  RETURN logged;
END;
$$;

-- Function: eventflow.cancel_snapshot(target regclass)
--
--   Stops the snapshot of a table that waits or runs (the 'r' changes logged so far are published).
--
-- Returns:
--   whether there was one to stop.
CREATE OR REPLACE FUNCTION eventflow.cancel_snapshot(target regclass) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE eventflow.snapshot_job j SET state = 'cancelled', finished_at = now()
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = target AND j.schema_name = n.nspname AND j.table_name = c.relname AND j.state IN ('pending', 'running');
  RETURN FOUND;
END;
$$;

-- The snapshots asked for, newest first: table, state (pending, running, done, cancelled, failed),
-- rows read so far against the table's estimated size, when it was asked for, started, finished,
-- and the last chunk's error while it retries (or why it failed).
CREATE OR REPLACE VIEW eventflow.snapshots AS
SELECT j.id, j.schema_name, j.table_name, j.state, j.rows_done,
       (SELECT greatest(c.reltuples, 0)::bigint FROM pg_class c WHERE c.oid = to_regclass(format('%I.%I', j.schema_name, j.table_name)))
         AS rows_estimate,
       j.chunks_done, j.requested_at, j.started_at, j.finished_at, j.error
  FROM eventflow.snapshot_job j
 ORDER BY j.id DESC;

GRANT SELECT ON eventflow.snapshots TO PUBLIC;
