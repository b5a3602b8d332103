-- Batches: what a cursor publishes next, and moving the cursor past it once RabbitMQ confirmed it.

DROP FUNCTION IF EXISTS eventflow.next_batch(text, text, integer, bigint, bigint);
DROP FUNCTION IF EXISTS eventflow.next_batch(text, text, integer, bigint, bigint, boolean);
DROP FUNCTION IF EXISTS eventflow.batch_events(pg_snapshot, pg_snapshot, bigint, bigint, bigint, bigint, bigint, boolean);
DROP FUNCTION IF EXISTS eventflow.batch_events(pg_snapshot, pg_snapshot, bigint, bigint, bigint);
DROP FUNCTION IF EXISTS eventflow.batch_events(pg_snapshot, pg_snapshot, bigint, bigint, bigint, bigint);

DROP FUNCTION IF EXISTS eventflow.change_event(eventflow.change_log);

-- Function: eventflow.batch_events(lo pg_snapshot, hi pg_snapshot, after_id bigint, end_id bigint, max_event_bytes bigint,
--                                  read_us bigint, start_id bigint, transaction_events boolean)
--
--   The changes of the transactions that committed between the snapshots lo and hi, with ids in
--   (after_id, end_id], in id order, each with its table, its operation, its routing key
--   <schema>.<table>.<op>, its event, the event's size in bytes, its message id (the change id) and
--   its AMQP headers as a JSON object (a primary-key change's, else NULL).
--
--   The event is Debezium's envelope as the JSON text EventFlow publishes byte for byte: the rows
--   as logged, and the rest without whitespace; source.changeId (and the message_id) is the id
--   the change was first logged with, ts_ms (ts_us, ts_ns) the time of the read (read_us, in
--   microseconds), source.ts_ms (ts_us, ts_ns) when the change was logged, source.sequence and lsn
--   null (a trigger has no WAL position; changeId orders the changes); transaction names the
--   writing transaction and the change's place in it, among all its changes (total_order) and
--   among those of its table (data_collection_order), counting those of the batch's earlier parts
--   (the batch started after start_id). Its size is the sum of its parts' (the length of a logged
--   row is known without reading it), so an event over max_event_bytes, which the broker would
--   refuse, is never built: it comes back NULL, oversized.
--
--   With transaction_events, each transaction also gets a BEGIN event before its first change and
--   an END event after its last, with how many events it had per table, both with the routing key
--   eventflow.transaction and the message ids <txid>.begin and <txid>.end (change_id NULL).
CREATE OR REPLACE FUNCTION eventflow.batch_events(lo pg_snapshot, hi pg_snapshot, after_id bigint, end_id bigint,
    max_event_bytes bigint, read_us bigint, start_id bigint, transaction_events boolean)
RETURNS TABLE (change_id bigint, schema_name text, table_name text, op text, change text, event text, bytes bigint,
    oversized boolean, message_id text, headers text)
LANGUAGE sql STABLE AS $$
  WITH part AS MATERIALIZED (
         SELECT c.*,
                row_number() OVER (PARTITION BY c.tx_id ORDER BY c.id) AS tx_n,
                row_number() OVER (PARTITION BY c.tx_id, c.schema_name, c.table_name ORDER BY c.id) AS table_n
           FROM eventflow.change_log c
          -- through the id index only: a range of tx_id would walk every change of the batch for each part
          WHERE c.id > after_id AND c.id <= end_id
            AND NOT pg_visible_in_snapshot(c.tx_id, lo) AND pg_visible_in_snapshot(c.tx_id, hi)),
       -- the changes of these transactions that the batch's earlier parts had (none in its first part)
       earlier AS MATERIALIZED (
         SELECT p.tx_id, p.schema_name, p.table_name, count(*) AS n
           FROM eventflow.change_log p
          -- "+ 0": each transaction through the tx_id index, not the id range of the earlier parts
          WHERE after_id > start_id AND p.tx_id IN (SELECT DISTINCT x.tx_id FROM part x)
            AND p.id + 0 > start_id AND p.id + 0 <= after_id
          GROUP BY p.tx_id, p.schema_name, p.table_name),
       placed AS (
         SELECT c.*, c.tx_n + coalesce(t.n, 0) AS total_order, c.table_n + coalesce(e.n, 0) AS table_order
           FROM part c
           LEFT JOIN (SELECT e.tx_id, sum(e.n) AS n FROM earlier e GROUP BY e.tx_id) t ON t.tx_id = c.tx_id
           LEFT JOIN earlier e ON e.tx_id = c.tx_id AND e.schema_name = c.schema_name AND e.table_name = c.table_name),
       changes AS (
         SELECT c.id AS sort_id, 1 AS sort_kind, coalesce(c.origin_id, c.id) AS change_id, c.schema_name, c.table_name,
                c.op::text AS op, c.schema_name || '.' || c.table_name || '.' || c.op AS change,
                CASE WHEN e.bytes <= max_event_bytes
                     THEN '{"before":' || coalesce(c.before::text, 'null') || ',"after":' || coalesce(c.after::text, 'null') || e.tail END
                  AS event,
                e.bytes, e.bytes > max_event_bytes AS oversized, coalesce(c.origin_id, c.id)::text AS message_id,
                c.headers::text AS headers
           FROM placed c
          CROSS JOIN LATERAL (
                -- OFFSET 0: computed once per change, not once per use
                SELECT t.tail, 19 + octet_length(t.tail) + coalesce(octet_length(c.before::text), 4)
                       + coalesce(octet_length(c.after::text), 4) AS bytes
                  FROM (SELECT ',"source":{"version":"1","connector":"eventflow","name":"eventflow","db":' || to_json(current_database())::text
                               || ',"schema":' || to_json(c.schema_name)::text
                               || ',"table":' || to_json(c.table_name)::text
                               || CASE WHEN c.partition_name IS NULL THEN '' ELSE ',"partition":' || to_json(c.partition_name)::text END
                               || ',"txId":' || c.tx_id::text
                               || ',"ts_ms":' || (extract(epoch FROM c.changed_at) * 1000)::bigint::text
                               || ',"ts_us":' || (extract(epoch FROM c.changed_at) * 1000000)::bigint::text
                               || ',"ts_ns":' || (extract(epoch FROM c.changed_at) * 1000000)::bigint::text || '000'
                               || ',"sequence":null,"lsn":null'
                               || ',"changeId":' || coalesce(c.origin_id, c.id)::text
                               || ',"snapshot":' || CASE WHEN c.op <> 'r' THEN '"false"'
                                                         ELSE '"' || coalesce(c.snapshot, 'true') || '"' END
                               || '},"transaction":{"id":"' || c.tx_id::text || '","total_order":' || c.total_order::text
                               || ',"data_collection_order":' || c.table_order::text
                               || '},"op":"' || c.op || '","ts_ms":' || (read_us / 1000)::text
                               || ',"ts_us":' || read_us::text || ',"ts_ns":' || read_us::text || '000}' AS tail) t
                OFFSET 0) e),
       boundaries AS (
         -- a transaction's first change (BEGIN before it) and, when no change of it follows, its last (END after it)
         SELECT c.tx_id, min(c.id) FILTER (WHERE c.total_order = 1) AS first_id, max(c.id) AS last_id,
                min(c.changed_at) AS first_at, max(c.changed_at) AS last_at
           FROM placed c
          WHERE transaction_events
          GROUP BY c.tx_id),
       transactions AS (
         SELECT b.first_id AS sort_id, 0 AS sort_kind, b.tx_id::text || '.begin' AS message_id,
                '{"status":"BEGIN","id":"' || b.tx_id::text || '","event_count":null,"data_collections":null,"ts_ms":'
                || (extract(epoch FROM b.first_at) * 1000)::bigint::text || '}' AS event
           FROM boundaries b WHERE b.first_id IS NOT NULL
         UNION ALL
         SELECT b.last_id, 2, b.tx_id::text || '.end',
                '{"status":"END","id":"' || b.tx_id::text || '","event_count":' || t.total::text
                || ',"data_collections":' || t.collections || ',"ts_ms":' || (extract(epoch FROM b.last_at) * 1000)::bigint::text || '}'
           FROM boundaries b
          CROSS JOIN LATERAL (
                SELECT sum(n.n)::bigint AS total,
                       '[' || string_agg('{"data_collection":' || to_json(n.collection)::text || ',"event_count":' || n.n::text || '}', ','
                                         ORDER BY n.collection) || ']' AS collections
                  FROM (SELECT w.schema_name || '.' || w.table_name AS collection, max(w.table_order) AS n
                          FROM placed w WHERE w.tx_id = b.tx_id GROUP BY 1
                        UNION
                        SELECT e.schema_name || '.' || e.table_name, e.n
                          FROM earlier e WHERE e.tx_id = b.tx_id
                           AND NOT EXISTS (SELECT 1 FROM placed w WHERE w.tx_id = e.tx_id AND w.schema_name = e.schema_name
                                                                       AND w.table_name = e.table_name)) n) t
          WHERE NOT EXISTS (SELECT 1 FROM eventflow.change_log l WHERE l.tx_id = b.tx_id AND l.id > end_id))
  SELECT c.change_id, c.schema_name, c.table_name, c.op, c.change, c.event, c.bytes, c.oversized, c.message_id, c.headers
    FROM (SELECT sort_id, sort_kind, change_id, schema_name, table_name, op, change, event, bytes, oversized, message_id, headers
            FROM changes
          UNION ALL
          SELECT sort_id, sort_kind, NULL, NULL, NULL, NULL, 'eventflow.transaction', event, octet_length(event), false, message_id,
                 NULL
            FROM transactions) c
   ORDER BY c.sort_id, c.sort_kind
$$;

-- Function: eventflow.next_batch(cursor_name text, holder text, max_changes integer, max_bytes bigint, max_event_bytes bigint,
--                                 transaction_events boolean)
--
--   The next changes a cursor publishes: one row per change, in change-id order: its id, table,
--   operation, routing key, event, the event's size in bytes, whether that is over
--   max_event_bytes, its message id and headers (see batch_events; with transaction_events, the
--   transactions' BEGIN and END rows too). Called again before finish_batch, it returns the same batch: a crash between
--   publishing and finishing publishes exactly that batch again. Only the cursor's holder may call
--   it (claim_cursor).
--
-- Algorithm:
--   As PgQ: a batch is the changes of the transactions that committed between two snapshots, lo
--   (every change of a transaction it sees is published) and hi (taken when the batch starts), so
--   a transaction that took its change ids early and committed late is never skipped, and the
--   changes of one row come in commit order. A batch larger than max_changes changes, or than
--   about max_bytes (each change's logged size, row_bytes, plus its envelope; at least one change
--   is taken), is read in parts: last_id is where the part finished last ended, batch_end_id
--   where the part in flight ends. A new batch starts at the lowest id of a change lo does not
--   see, found through the tx_id index, so a read costs what waits, not what the change log keeps.
--   Each part walks the id index from where the last one ended, so a batch of any size costs what
--   it holds: the changes between its own that are not its (published already, or committed
--   after hi) are passed over once per batch, not once per part.
--   Nothing waiting: nothing is returned and nothing is written.
CREATE OR REPLACE FUNCTION eventflow.next_batch(cursor_name text, holder text, max_changes integer DEFAULT 1000,
    max_bytes bigint DEFAULT 4194304, max_event_bytes bigint DEFAULT 134217728, transaction_events boolean DEFAULT false)
RETURNS TABLE (change_id bigint, schema_name text, table_name text, op text, change text, event text, bytes bigint,
    oversized boolean, message_id text, headers text)
LANGUAGE plpgsql
-- the plans of a read are fixed: the id index walked in order (never a bitmap of what comes after
-- start_id, sorted: that reads every change left in the batch for each part), the tx_id index for
-- a new batch's start and for the transactions of a part. The planner's estimates for a change log
-- that grows by thousands of rows between two ANALYZEs would choose otherwise. They are planned
-- once per session (generic plans, batch_events inlined into the RETURN QUERY): planning
-- batch_events for every read would cost about 6 ms, more than reading 300 changes, and at a
-- steady trickle most reads hold a few changes.
SET enable_bitmapscan = off SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  cur eventflow.capture_state := eventflow.held_cursor(cursor_name, holder);
  batch_hi pg_snapshot;
  start_id bigint;
  end_id bigint;
  taken integer;
  candidates integer;
  read_us bigint;
BEGIN
  IF max_changes IS NULL OR max_changes < 1 THEN
    RAISE EXCEPTION 'next_batch: max_changes must be at least 1, not %', max_changes USING ERRCODE = 'invalid_parameter_value';
  END IF;
  WHILE cur.batch_end_id IS NULL LOOP
    batch_hi := coalesce(cur.hi_snapshot, pg_current_snapshot());
    start_id := cur.last_id;
    IF start_id = 0 THEN
      -- "+ 0": through the tx_id index, not by walking the id index past what was published
      SELECT min(p.id + 0) - 1 INTO start_id FROM eventflow.change_log p
       WHERE p.tx_id >= pg_snapshot_xmin(cur.lo_snapshot) AND p.tx_id < pg_snapshot_xmax(batch_hi)
         AND NOT pg_visible_in_snapshot(p.tx_id, cur.lo_snapshot);
    END IF;
    -- the first change is always taken, whatever its size
    SELECT max(w.id), count(*), max(w.candidates) INTO end_id, taken, candidates
      FROM (SELECT k.id, count(*) OVER () AS candidates,
                   sum(k.row_bytes) OVER (ORDER BY k.id) - k.row_bytes AS bytes_before
              FROM (SELECT c.id, 400 + coalesce(c.row_bytes, coalesce(octet_length(c.before::text), 0)
                                                + coalesce(octet_length(c.after::text), 0)) AS row_bytes
                      FROM eventflow.change_log c
                     -- the id index from start_id, in order, until max_changes are found (no range of
                     -- tx_id: that would read every change of the batch for each part, and sort them)
                     WHERE c.id > start_id
                       AND NOT pg_visible_in_snapshot(c.tx_id, cur.lo_snapshot) AND pg_visible_in_snapshot(c.tx_id, batch_hi)
                     ORDER BY c.id
                     LIMIT max_changes) k) w
     WHERE w.bytes_before = 0 OR w.bytes_before < max_bytes;
    IF end_id IS NOT NULL THEN
      UPDATE eventflow.capture_state s
         SET hi_snapshot = batch_hi, last_id = start_id, batch_end_id = end_id,
             batch_start_id = CASE WHEN cur.last_id = 0 THEN start_id ELSE s.batch_start_id END,
             batch_complete = (taken = candidates AND candidates < max_changes)
       WHERE s.name = cursor_name;
      cur.batch_start_id := CASE WHEN cur.last_id = 0 THEN start_id ELSE cur.batch_start_id END;
      cur.last_id := start_id;
      cur.batch_end_id := end_id;
    ELSIF cur.hi_snapshot IS NOT NULL THEN
      -- the parts read so far were all of that batch: it is done; look for a new one
      UPDATE eventflow.capture_state s SET lo_snapshot = s.hi_snapshot, hi_snapshot = NULL, last_id = 0, batch_start_id = NULL,
             updated_at = now()
       WHERE s.name = cursor_name
      RETURNING * INTO cur;
    ELSE
      RETURN;
    END IF;
  END LOOP;
  -- the time of the read as a variable: a volatile argument would keep batch_events from being inlined
  read_us := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
  RETURN QUERY SELECT * FROM eventflow.batch_events(cur.lo_snapshot, coalesce(batch_hi, cur.hi_snapshot), cur.last_id,
                                                    cur.batch_end_id, max_event_bytes, read_us,
                                                    cur.batch_start_id, transaction_events);
END;
$$;

-- Function: eventflow.finish_batch(cursor_name text, holder text, published bigint)
--
--   Moves the cursor past the batch in flight, once RabbitMQ confirmed it; published (how many of
--   its changes went out, the others being filtered or set aside) is added to the cursor's total.
--   Only the holder may call it (fencing: an instance that lost its claim gets an error, and the
--   new holder publishes the batch again).
--
-- Returns:
--   whether there was a batch in flight.
CREATE OR REPLACE FUNCTION eventflow.finish_batch(cursor_name text, holder text, published bigint DEFAULT 0) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  cur eventflow.capture_state := eventflow.held_cursor(cursor_name, holder);
BEGIN
  IF cur.batch_end_id IS NULL THEN
    RETURN false;
  END IF;
  UPDATE eventflow.capture_state s
     SET lo_snapshot = CASE WHEN s.batch_complete THEN s.hi_snapshot ELSE s.lo_snapshot END,
         hi_snapshot = CASE WHEN s.batch_complete THEN NULL ELSE s.hi_snapshot END,
         last_id = CASE WHEN s.batch_complete THEN 0 ELSE s.batch_end_id END,
         last_published_id = greatest(s.last_published_id, s.batch_end_id),
         batch_end_id = NULL,
         batch_complete = NULL,
         batch_start_id = CASE WHEN s.batch_complete THEN NULL ELSE s.batch_start_id END,
         published_total = s.published_total + finish_batch.published,
         updated_at = now()
   WHERE s.name = cursor_name;
  RETURN true;
END;
$$;

-- Function: eventflow.set_aside(cursor_name text, holder text, change_id bigint, event_bytes bigint, reason text)
--
--   Copies a change of the cursor's batch in flight (only its holder may) that cannot be published (its event is over
--   the broker's size limit) to eventflow.failed_change, with its size and why, so that the
--   changes after it go on. republish_failed() puts it back. Returns whether it was copied.
DROP FUNCTION IF EXISTS eventflow.set_aside(text, bigint, bigint, text);
CREATE OR REPLACE FUNCTION eventflow.set_aside(cursor_name text, holder text, change_id bigint, event_bytes bigint, reason text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM eventflow.held_cursor(cursor_name, holder);
  INSERT INTO eventflow.failed_change (change_id, tx_id, schema_name, table_name, op, before, after, changed_at,
                                       partition_name, snapshot, headers, event_bytes, reason)
  SELECT coalesce(c.origin_id, c.id), c.tx_id, c.schema_name, c.table_name, c.op, c.before, c.after, c.changed_at,
         c.partition_name, c.snapshot, c.headers,
         set_aside.event_bytes, set_aside.reason
    FROM eventflow.capture_state s
    JOIN eventflow.change_log c ON c.id > s.last_id AND c.id <= s.batch_end_id
   WHERE s.name = cursor_name AND coalesce(c.origin_id, c.id) = set_aside.change_id
  ON CONFLICT ON CONSTRAINT failed_change_pkey DO NOTHING;
  RETURN FOUND;
END;
$$;
