-- Masked columns are checked when capture is turned on, and listed by name.
--
-- Before, a masked column was only a name handed to the trigger: a typo (or a column that does not
-- exist yet) masked nothing, and the column it meant was published without a word. Now every name
-- must be a column of the table, or the call fails and capture stays as it was. (A masked column
-- renamed later is published under its new name: call enable_capture again after renaming it.)

-- SELECT eventflow.enable_capture('public.orders');                    -- every column
-- SELECT eventflow.enable_capture('public.accounts', 'password_hash');  -- never publish that column
CREATE OR REPLACE FUNCTION eventflow.enable_capture(target regclass, VARIADIC masked_columns text[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  unknown text[];
BEGIN
  SELECT array_agg(m ORDER BY m) INTO unknown
    FROM unnest(masked_columns) AS m
   WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = target AND a.attname = m AND a.attnum > 0 AND NOT a.attisdropped);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'cannot mask % on %: no such column; capture left as it was', array_to_string(unknown, ', '), target
      USING ERRCODE = 'undefined_column',
            HINT = format('the columns of %s: %s', target,
                          (SELECT string_agg(a.attname, ', ' ORDER BY a.attnum) FROM pg_attribute a
                            WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped));
  END IF;
  EXECUTE format('DROP TRIGGER IF EXISTS eventflow_capture ON %s', target);
  EXECUTE format(
    'CREATE TRIGGER eventflow_capture AFTER INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION eventflow.capture_change(%s)',
    target,
    (SELECT coalesce(string_agg(quote_literal(c), ', '), '') FROM unnest(masked_columns) AS c));
END;
$$;

-- Which tables are captured, and which of their columns are masked (by name: the trigger's
-- arguments, which PostgreSQL keeps as NUL-separated bytes; split in their escaped text form and
-- turned back into text one by one).
CREATE OR REPLACE VIEW eventflow.captured_tables AS
SELECT n.nspname AS schema_name,
       c.relname AS table_name,
       t.tgnargs AS masked_column_count,
       ARRAY(SELECT convert_from(decode(arg, 'escape'), 'UTF8')
               FROM unnest(string_to_array(encode(t.tgargs, 'escape'), '\000')) WITH ORDINALITY AS a(arg, i)
              WHERE arg <> '' ORDER BY i) AS masked_columns
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname = 'eventflow_capture' AND NOT t.tgisinternal;
