-- SELECT eventflow.republish_failed(42);     -- one change set aside in eventflow.failed_change
-- SELECT eventflow.republish_failed();       -- all of them
-- Puts changes set aside back into the change log (after the broker's limit was raised, say), as new
-- changes: they are published after everything already logged, with new change ids (so new
-- message_ids) and source.changeId naming the new id; the original id, time and transaction stay
-- in the row's history only through this table's rows, which are removed. Returns how many.
CREATE FUNCTION eventflow.republish_failed(only_change_id bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  moved bigint;
BEGIN
  WITH taken AS (
    DELETE FROM eventflow.failed_change f
    WHERE only_change_id IS NULL OR f.change_id = only_change_id
    RETURNING f.change_id, f.schema_name, f.table_name, f.op, f.before, f.after
  )
  INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after)
  SELECT schema_name, table_name, op, before, after FROM taken ORDER BY change_id;
  GET DIAGNOSTICS moved = ROW_COUNT;
  RETURN moved;
END;
$$;
