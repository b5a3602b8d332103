-- Each change's size: the bytes of its before and after as the trigger built them (before PostgreSQL
-- compresses or moves them out of line), so that a read can bound a batch by bytes, and not only
-- by count, without building the events it will not take: a backlog of large rows is read a few
-- megabytes at a time instead of a thousand rows at a time. NULL for the changes logged before
-- this migration and for those eventflow.snapshot() and eventflow.republish_failed() log: a read
-- measures those itself.
ALTER TABLE eventflow.change_log ADD COLUMN row_bytes integer;

-- Same trigger as V4 and V7 (SECURITY DEFINER, pinned search_path), with the size logged too. Each
-- row is turned into jsonb once, in a subquery, and measured there (pgbench, single-row INSERTs, 8
-- clients: as fast as the trigger before; with the rows first assigned to variables, 5 % slower).
CREATE OR REPLACE FUNCTION eventflow.capture_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  wake_channel text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after, row_bytes)
    SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'c', NULL, r.after, pg_column_size(r.after)
      FROM (SELECT CASE WHEN TG_NARGS = 0 THEN to_jsonb(NEW) ELSE to_jsonb(NEW) - TG_ARGV END AS after) r;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after, row_bytes)
    SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'u', r.before, r.after, pg_column_size(r.before) + pg_column_size(r.after)
      FROM (SELECT CASE WHEN TG_NARGS = 0 THEN to_jsonb(OLD) ELSE to_jsonb(OLD) - TG_ARGV END AS before,
                   CASE WHEN TG_NARGS = 0 THEN to_jsonb(NEW) ELSE to_jsonb(NEW) - TG_ARGV END AS after) r;
  ELSE
    INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after, row_bytes)
    SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'd', r.before, NULL, pg_column_size(r.before)
      FROM (SELECT CASE WHEN TG_NARGS = 0 THEN to_jsonb(OLD) ELSE to_jsonb(OLD) - TG_ARGV END AS before) r;
  END IF;
  IF pg_sequence_last_value('eventflow.wakeup_armed') = 1 THEN
    SELECT channel INTO wake_channel FROM eventflow.wakeup LIMIT 1;
    IF wake_channel IS NOT NULL THEN
      PERFORM pg_notify(wake_channel, '');
    END IF;
  END IF;
  RETURN NULL;
END;
$$;
