-- SELECT eventflow.snapshot('public.orders');
-- Every row the table holds now, as an 'r' (read) change, published like any other change: a
-- consumer starting from an existing table gets its rows first, then the changes after them. The
-- table must be captured (its masked columns are left out here too). Writers of the table wait
-- while its rows are read (LOCK ... IN SHARE MODE): no change can fall between the rows read and the
-- changes published after them, so each row's 'r' comes before its later changes. Runs with the
-- caller's rights: whoever calls it must be able to read the table and write eventflow.change_log
-- (EventFlow's database user can). Returns how many rows were logged.
CREATE FUNCTION eventflow.snapshot(target regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  masked text[];
  target_schema text;
  target_table text;
  logged bigint;
BEGIN
  SELECT n.nspname, c.relname INTO target_schema, target_table
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = target;
  SELECT CASE WHEN t.tgnargs = 0 THEN '{}'::text[]
              ELSE (SELECT array_agg(replace(a, '\\', '\'))
                      FROM unnest((string_to_array(encode(t.tgargs, 'escape'), '\000'))[1:t.tgnargs]) AS a) END
    INTO masked
    FROM pg_trigger t
    WHERE t.tgrelid = target AND t.tgname = 'eventflow_capture' AND NOT t.tgisinternal;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'capture is not enabled on %.%', target_schema, target_table
      USING HINT = format('SELECT eventflow.enable_capture(%L) first', target_schema || '.' || target_table);
  END IF;
  EXECUTE format('LOCK TABLE %s IN SHARE MODE', target);
  EXECUTE format(
    'INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after) '
    'SELECT %L, %L, ''r'', NULL, to_jsonb(t) - $1 FROM %s t',
    target_schema, target_table, target)
    USING masked;
  GET DIAGNOSTICS logged = ROW_COUNT;
  RETURN logged;
END;
$$;
