-- Keeping the change log bounded, and putting set-aside changes back.

-- Function: eventflow.cleanup(retention interval)
--
--   Deletes the changes that every cursor has published and that are older than the retention.
--   EventFlow runs it on a timer and then VACUUMs the change log itself (a function cannot), so the
--   table's size levels off at what the retention keeps whether autovacuum runs or not.
--
-- Algorithm:
--   A change is published for a cursor when its transaction is visible in the cursor's
--   lo_snapshot; it may go when that holds for every cursor (below the lowest xmax of their
--   snapshots, through the tx_id index, then tested against each). Testing visibility rather than
--   "older than the lowest xmin" (PgQ's rule) keeps one long transaction anywhere in the cluster
--   from holding back the clean-up of everything logged after it began. While any cursor lies
--   ahead of the database (cursor_ahead) nothing is deleted: that cursor's position means nothing
--   here. With no cursor at all, the retention alone decides.
--
-- Returns:
--   how many changes were deleted.
CREATE OR REPLACE FUNCTION eventflow.cleanup(retention interval) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  horizon xid8;
  cursors pg_snapshot[];
  deleted bigint;
BEGIN
  IF EXISTS (SELECT 1 FROM eventflow.capture_state s WHERE eventflow.cursor_ahead(s.lo_snapshot)) THEN
    RAISE WARNING 'eventflow.cleanup: a cursor lies ahead of this database (see eventflow.cursors): nothing deleted';
    RETURN 0;
  END IF;
  SELECT min(pg_snapshot_xmax(s.lo_snapshot)), array_agg(s.lo_snapshot) INTO horizon, cursors FROM eventflow.capture_state s;
  DELETE FROM eventflow.change_log c
   WHERE (horizon IS NULL OR (c.tx_id < horizon
                              AND NOT EXISTS (SELECT 1 FROM unnest(cursors) AS lo WHERE NOT pg_visible_in_snapshot(c.tx_id, lo))))
     AND c.changed_at < now() - retention;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END;
$$;

-- Function: eventflow.republish_failed(only_change_id bigint)
--
--   Puts changes set aside in eventflow.failed_change (all of them, or the one named) back into
--   the change log, after the broker's limit was raised, say; they are published after everything
--   already logged (EventFlow is woken up), and removed from failed_change.
--
-- Algorithm:
--   A change put back keeps the id it was first logged with (origin_id): its message_id and
--   source.changeId are the old ones, so a consumer that keeps the highest change id per row
--   applies it only when no newer change of the row has reached it, and ends with the row as the
--   database has it.
--
-- Returns:
--   how many changes were put back.
CREATE OR REPLACE FUNCTION eventflow.republish_failed(only_change_id bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  moved bigint;
BEGIN
  WITH taken AS (
    DELETE FROM eventflow.failed_change f
    WHERE only_change_id IS NULL OR f.change_id = only_change_id
    RETURNING f.change_id, f.schema_name, f.table_name, f.op, f.before, f.after, f.changed_at, f.partition_name, f.snapshot,
              f.headers
  )
  INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after, changed_at, origin_id, partition_name, snapshot,
                                    headers)
  SELECT schema_name, table_name, op, before, after, changed_at, change_id, partition_name, snapshot, headers
    FROM taken ORDER BY change_id;
  GET DIAGNOSTICS moved = ROW_COUNT;
  -- wake EventFlow up rather than leave them to its next poll
  IF moved > 0 THEN
    PERFORM pg_notify(w.channel, '') FROM eventflow.wakeup w;
  END IF;
  RETURN moved;
END;
$$;
