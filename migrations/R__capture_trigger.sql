-- Capture: two row triggers on each captured table (enable_capture puts them there, beside one for key
-- changes and one for TRUNCATE). The first,
-- eventflow_capture, turns the row into JSON with the writer's rights; the second,
-- eventflow_capture_log, writes it to the change log with EventFlow's. No code of a table's owner
-- (a cast to json of a type of theirs, say) ever runs with EventFlow's rights, and the change log
-- names the table the trigger fired on, so nobody can log a change for a table but by changing it.

-- Function: eventflow.row_json(r anyelement)
--
--   A row as the JSON EventFlow publishes: to_json of the row, with the session settings that shape
--   values fixed, so the same row gives the same JSON whatever the writer's session says: floats
--   with every digit (extra_float_digits), bytea as hex, intervals and dates in PostgreSQL's own
--   style, times with zone in UTC. json columns are embedded as the writer wrote them.
CREATE OR REPLACE FUNCTION eventflow.row_json(r anyelement) RETURNS json
LANGUAGE sql STABLE
SET extra_float_digits = 1 SET bytea_output = 'hex' SET IntervalStyle = 'postgres' SET DateStyle = 'ISO, MDY'
SET TimeZone = 'UTC'
AS $$ SELECT to_json(r) $$;

-- Function: eventflow.capture_change()
--
--   The first capture trigger (AFTER INSERT OR UPDATE OR DELETE, FOR EACH ROW), run with the
--   writer's rights; its arguments name the masked columns, left out of the logged rows.
--
-- Algorithm:
--   The row (before and after) becomes JSON by row_json (by to_json itself where the session's
--   settings are those row_json fixes: the same text, without the cost of changing settings),
--   masked columns removed, and is handed to the second trigger in two transaction-local settings
--   (eventflow.capture_before/_after), the one place both triggers can reach without privileges.
CREATE OR REPLACE FUNCTION eventflow.capture_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  -- a session whose settings give row_json's values already (the usual case) skips its settings
  usual boolean := TG_NARGS = 0 AND current_setting('TimeZone') IN ('UTC', 'Etc/UTC')
                   AND current_setting('IntervalStyle') = 'postgres' AND current_setting('bytea_output') = 'hex'
                   AND current_setting('extra_float_digits')::integer >= 1;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM set_config('eventflow.capture_before', CASE WHEN usual THEN to_json(OLD)
                                                         WHEN TG_NARGS = 0 THEN eventflow.row_json(OLD)
                                                         ELSE eventflow.masked_row(eventflow.row_json(OLD), TG_ARGV) END::text, true);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM set_config('eventflow.capture_after', CASE WHEN usual THEN to_json(NEW)
                                                        WHEN TG_NARGS = 0 THEN eventflow.row_json(NEW)
                                                        ELSE eventflow.masked_row(eventflow.row_json(NEW), TG_ARGV) END::text, true);
  END IF;
  RETURN NULL;
END;
$$;

-- Function: eventflow.masked_row(r json, masked text[])
--
--   A row without its masked columns. Values stay the text they were (json_each), so a json column
--   is kept as written.
CREATE OR REPLACE FUNCTION eventflow.masked_row(r json, masked text[]) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((SELECT json_object_agg(j.key, j.value) FROM json_each(r) j WHERE j.key <> ALL (masked)), '{}')
$$;

-- Function: eventflow.log_change()
--
--   The second capture trigger, run with EventFlow's rights (SECURITY DEFINER): logs the change the
--   first one converted, with its size, and sends the wake-up. Also the TRUNCATE trigger of a
--   captured table ('t', no rows).
--
-- Algorithm:
--   It takes the converted rows and empties the settings, so a row is logged once, and not at all
--   when the first trigger did not run for it. An UPDATE that changed the primary key (the
--   eventflow_capture_key trigger says so) is logged as Debezium sends it: a 'd' of the old row,
--   then a 'c' of the new one. On a partitioned table (the trigger's argument 'partitioned') the
--   change is logged under the partitioned table's name, looked up from the catalog, never taken
--   from the argument, with the partition's name beside it. A TRUNCATE of a partitioned table fires
--   its own trigger and then those of its partitions: it is logged once, for the partitioned table
--   (the partitions' triggers find it noted for this statement); a partition truncated by itself
--   gets its 't' with the partition named.
--
--   The wake-up switch (sequence eventflow.wakeup_armed, 1 = armed) is read without a query; the
--   first writer to find it armed disarms it and sends the NOTIFY (committed with its
--   transaction): a wake-up costs writers one NOTIFY, whatever EventFlow's state, because only
--   EventFlow arms the switch again, once it has drained (arm_wakeup). NOTIFY serialises
--   committing transactions; a switch left armed while EventFlow is down would make every commit
--   pay for it. A writer that rolls back after disarming it sends no NOTIFY: the changes after it
--   wait for EventFlow's next poll.
--
--   It runs in the writer's session, whose search_path the writer sets, so every name in it is
--   qualified: functions, types and operators (OPERATOR(pg_catalog.=)) are pg_catalog's, tables
--   eventflow's, and no object of the writer's can stand in for one. That replaces pinning
--   search_path with a SET clause, which costs each logged row about as much as the insert does.
CREATE OR REPLACE FUNCTION eventflow.log_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  inserting boolean := TG_OP OPERATOR(pg_catalog.=) 'INSERT';
  deleting boolean := TG_OP OPERATOR(pg_catalog.=) 'DELETE';
  before_row pg_catalog.text;
  after_row pg_catalog.text;
  log_schema pg_catalog.text := TG_TABLE_SCHEMA;
  log_table pg_catalog.text := TG_TABLE_NAME;
  log_partition pg_catalog.text;
  root pg_catalog.oid;
  truncating pg_catalog.text;
  keys pg_catalog.text;
BEGIN
  IF TG_NARGS OPERATOR(pg_catalog.>) 0 THEN
    root := pg_catalog.pg_partition_root(TG_RELID);
    IF root IS NOT NULL AND root OPERATOR(pg_catalog.<>) TG_RELID THEN
      SELECT n.nspname, c.relname INTO log_schema, log_table
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
       WHERE c.oid OPERATOR(pg_catalog.=) root;
      log_partition := TG_TABLE_NAME;
    END IF;
  END IF;
  IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
    truncating := root::pg_catalog.text OPERATOR(pg_catalog.||) '@'
                  OPERATOR(pg_catalog.||) pg_catalog.statement_timestamp()::pg_catalog.text;
    IF log_partition IS NULL THEN
      IF root IS NOT NULL THEN
        PERFORM pg_catalog.set_config('eventflow.capture_truncated', truncating, true);
      END IF;
    ELSIF pg_catalog.current_setting('eventflow.capture_truncated', true) OPERATOR(pg_catalog.=) truncating THEN
      RETURN NULL;
    END IF;
    INSERT INTO eventflow.change_log (schema_name, table_name, op, partition_name, row_bytes)
    VALUES (log_schema, log_table, 't', log_partition, 0);
  ELSE
    IF NOT inserting THEN
      before_row := pg_catalog.current_setting('eventflow.capture_before', true);
      IF before_row IS NULL OR before_row OPERATOR(pg_catalog.=) '' THEN
        RETURN NULL;
      END IF;
    END IF;
    IF NOT deleting THEN
      after_row := pg_catalog.current_setting('eventflow.capture_after', true);
      IF after_row IS NULL OR after_row OPERATOR(pg_catalog.=) '' THEN
        RETURN NULL;
      END IF;
    END IF;
    PERFORM pg_catalog.set_config('eventflow.capture_before', '', true), pg_catalog.set_config('eventflow.capture_after', '', true);
    IF NOT inserting AND NOT deleting THEN
      keys := pg_catalog.current_setting('eventflow.capture_key', true);
    END IF;
    IF keys IS NOT NULL AND keys OPERATOR(pg_catalog.<>) '' THEN
      PERFORM pg_catalog.set_config('eventflow.capture_key', '', true);
      INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after, partition_name, row_bytes, headers)
      VALUES (log_schema, log_table, 'd', before_row::pg_catalog.json, NULL, log_partition, pg_catalog.octet_length(before_row),
              pg_catalog.json_build_object('__debezium.newkey', keys::pg_catalog.json OPERATOR(pg_catalog.->) 'new')),
             (log_schema, log_table, 'c', NULL, after_row::pg_catalog.json, log_partition, pg_catalog.octet_length(after_row),
              pg_catalog.json_build_object('__debezium.oldkey', keys::pg_catalog.json OPERATOR(pg_catalog.->) 'old'));
    ELSE
      INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after, partition_name, row_bytes)
      VALUES (log_schema, log_table, CASE WHEN inserting THEN 'c' WHEN deleting THEN 'd' ELSE 'u' END,
              before_row::pg_catalog.json, after_row::pg_catalog.json, log_partition,
              COALESCE(pg_catalog.octet_length(before_row), 0) OPERATOR(pg_catalog.+) COALESCE(pg_catalog.octet_length(after_row), 0));
    END IF;
  END IF;
  IF pg_catalog.pg_sequence_last_value('eventflow.wakeup_armed'::pg_catalog.regclass) OPERATOR(pg_catalog.=) 1 THEN
    PERFORM pg_catalog.setval('eventflow.wakeup_armed'::pg_catalog.regclass, 0);
    PERFORM pg_catalog.pg_notify(w.channel, '') FROM eventflow.wakeup w;
  END IF;
  RETURN NULL;
END;
$$;
-- no SET clause: CREATE OR REPLACE keeps a function's settings, so they are reset
ALTER FUNCTION eventflow.log_change() RESET ALL;

-- Function: eventflow.key_changed()
--
--   The key trigger (eventflow_capture_key: AFTER UPDATE OF the primary key's columns, FOR EACH ROW,
--   only when they changed; its arguments name those columns), run with the writer's rights: hands
--   log_change, which fires after it, the old and the new key ({"old": {...}, "new": {...}}), so
--   that it logs the update as a 'd' and a 'c', each naming the other key in its headers.
CREATE OR REPLACE FUNCTION eventflow.key_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_row json := eventflow.row_json(OLD);
  new_row json := eventflow.row_json(NEW);
BEGIN
  PERFORM pg_catalog.set_config('eventflow.capture_key',
    json_build_object('old', (SELECT json_object_agg(k, old_row -> k) FROM unnest(TG_ARGV) AS k),
                      'new', (SELECT json_object_agg(k, new_row -> k) FROM unnest(TG_ARGV) AS k))::text, true);
  RETURN NULL;
END;
$$;

-- Function: eventflow.arm_wakeup(channel text)
--
--   Called by EventFlow when a read found nothing: the next captured change sends one NOTIFY on
--   the channel.
--
-- Returns:
--   true when the switch was disarmed (a change may have been logged since the last read without
--   a wake-up: read once more), false when it was armed already (every change since sent one).
CREATE OR REPLACE FUNCTION eventflow.arm_wakeup(channel text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE eventflow.wakeup w SET channel = arm_wakeup.channel WHERE w.channel IS DISTINCT FROM arm_wakeup.channel;
  IF pg_sequence_last_value('eventflow.wakeup_armed') = 1 THEN
    RETURN false;
  END IF;
  PERFORM setval('eventflow.wakeup_armed', 1);
  RETURN true;
END;
$$;

-- Function: eventflow.probe_listener(channel text, probe text)
--
--   Sends a listener probe on the wake-up channel.
--
-- Returns:
--   the backend pid it was sent from: a probe counts as come back only when its notification
--   names that sender, so another role's NOTIFY (a replayed probe, say) cannot fake one.
CREATE OR REPLACE FUNCTION eventflow.probe_listener(channel text, probe text) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(channel, probe);
  RETURN pg_backend_pid();
END;
$$;

-- Function: eventflow.enable_capture(target regclass, VARIADIC masked_columns text[])
--
--   Captures a table: every committed INSERT, UPDATE, DELETE and TRUNCATE of it becomes a change
--   event. The masked columns never leave the database. Run by the table's owner (it creates
--   triggers on it).
--
--   SELECT eventflow.enable_capture('public.orders');                    -- every column
--   SELECT eventflow.enable_capture('public.accounts', 'password_hash');  -- never publish that column
--
-- Algorithm:
--   AFTER ... FOR EACH ROW triggers, which PostgreSQL fires in name order: eventflow_capture
--   (capture_change, with the writer's rights: the row into JSON, masked columns left out),
--   eventflow_capture_key (key_changed, only on an UPDATE that changed the primary key, when the
--   table has one) and eventflow_capture_log (log_change, with EventFlow's: the change log); and
--   eventflow_capture_truncate (log_change, FOR EACH STATEMENT). A partitioned table's row triggers
--   are its partitions' too, present and attached later (PostgreSQL clones them), and its changes
--   are logged under its name; a partition is captured through its partitioned table only. Every
--   masked name must be a column of the table, or nothing changes. Calling it again replaces the
--   triggers (new masks, a new primary key).
CREATE OR REPLACE FUNCTION eventflow.enable_capture(target regclass, VARIADIC masked_columns text[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  unknown text[];
  kind "char";
  key_columns text;
  old_key text;
  new_key text;
  key_names text;
  partitioned text := '';
  part regclass;
BEGIN
  PERFORM eventflow.check_capturable(target);
  SELECT c.relkind INTO kind FROM pg_class c WHERE c.oid = target;
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
  IF kind = 'p' THEN
    partitioned := quote_literal('partitioned');
  END IF;
  PERFORM eventflow.drop_capture_triggers(target);
  EXECUTE format(
    'CREATE TRIGGER eventflow_capture AFTER INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION eventflow.capture_change(%s)',
    target,
    (SELECT coalesce(string_agg(quote_literal(c), ', '), '') FROM unnest(masked_columns) AS c));
  SELECT string_agg(quote_ident(k.column_name), ', ' ORDER BY k.key_position),
         string_agg('OLD.' || quote_ident(k.column_name), ', ' ORDER BY k.key_position),
         string_agg('NEW.' || quote_ident(k.column_name), ', ' ORDER BY k.key_position),
         string_agg(quote_literal(k.column_name), ', ' ORDER BY k.key_position)
    INTO key_columns, old_key, new_key, key_names
    FROM eventflow.key_columns(target) k;
  IF key_columns IS NOT NULL THEN
    EXECUTE format(
      'CREATE TRIGGER eventflow_capture_key AFTER UPDATE OF %1$s ON %2$s '
      'FOR EACH ROW WHEN ((%3$s) IS DISTINCT FROM (%4$s)) EXECUTE FUNCTION eventflow.key_changed(%5$s)',
      key_columns, target, old_key, new_key, key_names);
  END IF;
  EXECUTE format(
    'CREATE TRIGGER eventflow_capture_log AFTER INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION eventflow.log_change(%s)', target, partitioned);
  EXECUTE format(
    'CREATE TRIGGER eventflow_capture_truncate AFTER TRUNCATE ON %s '
    'FOR EACH STATEMENT EXECUTE FUNCTION eventflow.log_change(%s)', target, partitioned);
  -- a partition truncated by itself (statement triggers are not cloned)
  FOR part IN SELECT t.relid FROM pg_partition_tree(target) t WHERE t.relid <> target LOOP
    EXECUTE format(
      'CREATE TRIGGER eventflow_capture_truncate AFTER TRUNCATE ON %s '
      'FOR EACH STATEMENT EXECUTE FUNCTION eventflow.log_change(%s)', part, partitioned);
  END LOOP;
END;
$$;

-- Function: eventflow.key_columns(target regclass)
--
--   The columns of a table's primary key, in the key's order, with their types as SQL writes them
--   (no row for a table without one): for the key-change trigger and the snapshots' chunks.
CREATE OR REPLACE FUNCTION eventflow.key_columns(target regclass)
RETURNS TABLE (key_position integer, column_name name, type_name text)
LANGUAGE sql STABLE AS $$
  SELECT k.i::integer, a.attname, format_type(a.atttypid, a.atttypmod)
    FROM pg_constraint p
   CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k(attnum, i)
    JOIN pg_attribute a ON a.attrelid = p.conrelid AND a.attnum = k.attnum
   WHERE p.conrelid = target AND p.contype = 'p'
   ORDER BY k.i
$$;

-- Function: eventflow.check_capturable(target regclass)
--
--   Refuses, with what to do instead, what capture cannot take: a partition (captured through its
--   partitioned table), a view or anything else that is not a table.
CREATE OR REPLACE FUNCTION eventflow.check_capturable(target regclass) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
  rel pg_class;
  root regclass;
BEGIN
  SELECT * INTO rel FROM pg_class c WHERE c.oid = target;
  IF rel.relispartition THEN
    root := pg_partition_root(target);
    RAISE EXCEPTION '% is a partition of %: capture is turned on and off on the partitioned table, which captures every partition', target, root
      USING ERRCODE = 'wrong_object_type',
            HINT = format('SELECT eventflow.enable_capture(%L) (or disable_capture) as the owner of %s', root::text, root);
  END IF;
  IF rel.relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '% is not a table: only tables can be captured', target USING ERRCODE = 'wrong_object_type';
  END IF;
END;
$$;

-- Function: eventflow.drop_capture_triggers(target regclass)
--
--   Removes the capture triggers from a table and from its partitions.
CREATE OR REPLACE FUNCTION eventflow.drop_capture_triggers(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t record;
BEGIN
  -- (the row triggers' clones on the partitions go with them)
  FOR t IN SELECT g.tgname, g.tgrelid::regclass AS rel FROM pg_trigger g
            WHERE g.tgrelid IN (SELECT p.relid FROM pg_partition_tree(target) p UNION SELECT target)
              AND g.tgname IN ('eventflow_capture', 'eventflow_capture_key', 'eventflow_capture_log', 'eventflow_capture_truncate')
              AND NOT g.tgisinternal AND g.tgparentid = 0 LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
  END LOOP;
END;
$$;

-- Function: eventflow.disable_capture(target regclass)
--
--   Stops capturing a table (run by its owner). Changes logged before stay and are published.
CREATE OR REPLACE FUNCTION eventflow.disable_capture(target regclass)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM eventflow.check_capturable(target);
  PERFORM eventflow.drop_capture_triggers(target);
END;
$$;

-- Function: eventflow.trigger_arguments(args bytea)
--
--   A trigger's arguments (pg_trigger.tgargs: each one's bytes, then a zero byte) as text: the one
--   decoder of the masked columns, for captured_tables and the snapshots, whatever the names hold
--   (backslashes, letters beyond ASCII).
CREATE OR REPLACE FUNCTION eventflow.trigger_arguments(args bytea) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(array_agg(convert_from(substring(args FROM z.prev + 2 FOR z.i - z.prev - 1), getdatabaseencoding())
                            ORDER BY z.i), '{}')
    FROM (SELECT i, lag(i, 1, -1) OVER (ORDER BY i) AS prev
            FROM generate_series(0, length(args) - 1) AS i WHERE get_byte(args, i) = 0) z
$$;

-- Function: eventflow.masked_columns(target regclass)
--
--   The columns masked on a captured table (NULL when it is not captured).
CREATE OR REPLACE FUNCTION eventflow.masked_columns(target regclass) RETURNS text[]
LANGUAGE sql STABLE AS $$
  SELECT eventflow.trigger_arguments(t.tgargs) FROM pg_trigger t
   WHERE t.tgrelid = target AND t.tgname = 'eventflow_capture' AND NOT t.tgisinternal
$$;

-- Which tables are captured, and their masked columns (a partitioned table once: not its partitions).
DROP VIEW IF EXISTS eventflow.captured_tables;
CREATE VIEW eventflow.captured_tables AS
SELECT n.nspname AS schema_name,
       c.relname AS table_name,
       t.tgnargs AS masked_column_count,
       eventflow.trigger_arguments(t.tgargs) AS masked_columns
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname = 'eventflow_capture' AND NOT t.tgisinternal AND t.tgparentid = 0;

-- A table captured before capture took two triggers gets its second one (by EventFlow's role: the
-- table's owner, or a superuser, as when capture was enabled); where that is not allowed, the
-- migration stops and says which table's owner must call enable_capture again. A table captured
-- before TRUNCATE and key changes were gets their triggers the same way; where only its owner may
-- add them, a warning says so and its capture goes on as it was.
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT c.oid::regclass AS target FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
            WHERE g.tgname = 'eventflow_capture' AND NOT g.tgisinternal AND g.tgparentid = 0
              AND NOT EXISTS (SELECT 1 FROM pg_trigger l WHERE l.tgrelid = g.tgrelid AND l.tgname = 'eventflow_capture_log') LOOP
    BEGIN
      EXECUTE format('CREATE TRIGGER eventflow_capture_log AFTER INSERT OR UPDATE OR DELETE ON %s '
                     'FOR EACH ROW EXECUTE FUNCTION eventflow.log_change()', t.target);
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE EXCEPTION 'capture of % needs its second trigger, which only its owner may create: as the owner, SELECT eventflow.enable_capture(%L) (with its masked columns, see eventflow.captured_tables)',
        t.target, t.target::text;
    END;
  END LOOP;
  FOR t IN SELECT c.oid::regclass AS target, eventflow.trigger_arguments(g.tgargs) AS masked
             FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
            WHERE g.tgname = 'eventflow_capture' AND NOT g.tgisinternal AND g.tgparentid = 0
              AND NOT EXISTS (SELECT 1 FROM pg_trigger l WHERE l.tgrelid = g.tgrelid AND l.tgname = 'eventflow_capture_truncate') LOOP
    BEGIN
      PERFORM eventflow.enable_capture(t.target, VARIADIC t.masked);
    EXCEPTION WHEN insufficient_privilege OR wrong_object_type THEN
      RAISE WARNING 'capture of % does not see TRUNCATE and key changes yet: as its owner, SELECT eventflow.enable_capture(%L) (with its masked columns, see eventflow.captured_tables)',
        t.target, t.target::text;
    END;
  END LOOP;
END
$$;

-- Which tables are captured, and their masked columns: for every role (table owners check their own).
GRANT SELECT ON eventflow.captured_tables TO PUBLIC;
