-- The capture trigger and the functions that turn capture on and off for a table.

-- Row trigger: logs the change as JSON (full rows; the trigger's arguments name columns that
-- never leave the database) and, only when the pipeline is idle, sends a wake-up.
CREATE FUNCTION eventflow.capture_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  masked       text[] := CASE WHEN TG_NARGS = 0 THEN '{}'::text[] ELSE TG_ARGV END;
  wake_channel text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'c', NULL, to_jsonb(NEW) - masked);
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'u', to_jsonb(OLD) - masked, to_jsonb(NEW) - masked);
  ELSE
    INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'd', to_jsonb(OLD) - masked, NULL);
  END IF;
  SELECT channel INTO wake_channel FROM eventflow.wakeup WHERE armed LIMIT 1;
  IF wake_channel IS NOT NULL THEN
    PERFORM pg_notify(wake_channel, '');
  END IF;
  RETURN NULL;
END;
$$;

-- SELECT eventflow.enable_capture('public.orders');                    -- every column
-- SELECT eventflow.enable_capture('public.accounts', 'password_hash');  -- never publish that column
CREATE FUNCTION eventflow.enable_capture(target regclass, VARIADIC masked_columns text[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DROP TRIGGER IF EXISTS eventflow_capture ON %s', target);
  EXECUTE format(
    'CREATE TRIGGER eventflow_capture AFTER INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION eventflow.capture_change(%s)',
    target,
    (SELECT coalesce(string_agg(quote_literal(c), ', '), '') FROM unnest(masked_columns) AS c));
END;
$$;

-- SELECT eventflow.disable_capture('public.orders');
CREATE FUNCTION eventflow.disable_capture(target regclass)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DROP TRIGGER IF EXISTS eventflow_capture ON %s', target);
END;
$$;

-- Which tables are captured, and which of their columns are masked.
CREATE VIEW eventflow.captured_tables AS
SELECT n.nspname AS schema_name,
       c.relname AS table_name,
       t.tgnargs AS masked_column_count
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname = 'eventflow_capture' AND NOT t.tgisinternal;
