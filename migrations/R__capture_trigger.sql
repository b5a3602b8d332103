-- Capture: two row triggers on each captured table (enable_capture puts them there). The first,
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
--   first one converted, with its size, and sends the wake-up.
--
-- Algorithm:
--   It takes the converted rows and empties the settings, so a row is logged once, and not at all
--   when the first trigger did not run for it. The wake-up switch (sequence eventflow.wakeup_armed,
--   1 = armed) is read without a query; the first writer to find it armed disarms it and sends the
--   NOTIFY (committed with its transaction): a wake-up costs writers one NOTIFY, whatever
--   EventFlow's state, because only EventFlow arms the switch again, once it has drained
--   (arm_wakeup). NOTIFY serialises committing transactions; a switch left armed while EventFlow is
--   down would make every commit pay for it. A writer that rolls back after disarming it sends no
--   NOTIFY: the changes after it wait for EventFlow's next poll.
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
BEGIN
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
  INSERT INTO eventflow.change_log (schema_name, table_name, op, before, after, row_bytes)
  VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, CASE WHEN inserting THEN 'c' WHEN deleting THEN 'd' ELSE 'u' END,
          before_row::pg_catalog.json, after_row::pg_catalog.json,
          COALESCE(pg_catalog.octet_length(before_row), 0) OPERATOR(pg_catalog.+) COALESCE(pg_catalog.octet_length(after_row), 0));
  IF pg_catalog.pg_sequence_last_value('eventflow.wakeup_armed'::pg_catalog.regclass) OPERATOR(pg_catalog.=) 1 THEN
    PERFORM pg_catalog.setval('eventflow.wakeup_armed'::pg_catalog.regclass, 0);
    PERFORM pg_catalog.pg_notify(w.channel, '') FROM eventflow.wakeup w;
  END IF;
  RETURN NULL;
END;
$$;
-- no SET clause: CREATE OR REPLACE keeps a function's settings, so they are reset
ALTER FUNCTION eventflow.log_change() RESET ALL;

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
--   Captures a table: every committed INSERT, UPDATE and DELETE of it becomes a change event. The
--   masked columns never leave the database. Run by the table's owner (it creates triggers on it).
--
--   SELECT eventflow.enable_capture('public.orders');                    -- every column
--   SELECT eventflow.enable_capture('public.accounts', 'password_hash');  -- never publish that column
--
-- Algorithm:
--   Two AFTER ... FOR EACH ROW triggers, which PostgreSQL fires in name order: eventflow_capture
--   (capture_change, with the writer's rights: the row into JSON, masked columns left out) and
--   eventflow_capture_log (log_change, with EventFlow's: the change log). Every masked name must be
--   a column of the table, or nothing changes. Calling it again replaces the triggers (new masks).
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
  EXECUTE format('DROP TRIGGER IF EXISTS eventflow_capture_log ON %s', target);
  EXECUTE format(
    'CREATE TRIGGER eventflow_capture AFTER INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION eventflow.capture_change(%s)',
    target,
    (SELECT coalesce(string_agg(quote_literal(c), ', '), '') FROM unnest(masked_columns) AS c));
  EXECUTE format(
    'CREATE TRIGGER eventflow_capture_log AFTER INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION eventflow.log_change()', target);
END;
$$;

-- Function: eventflow.disable_capture(target regclass)
--
--   Stops capturing a table (run by its owner). Changes logged before stay and are published.
CREATE OR REPLACE FUNCTION eventflow.disable_capture(target regclass)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DROP TRIGGER IF EXISTS eventflow_capture ON %s', target);
  EXECUTE format('DROP TRIGGER IF EXISTS eventflow_capture_log ON %s', target);
END;
$$;

-- A table captured before capture took two triggers gets its second one (by EventFlow's role: the
-- table's owner, or a superuser, as when capture was enabled); where that is not allowed, the
-- migration stops and says which table's owner must call enable_capture again.
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT c.oid::regclass AS target FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
            WHERE g.tgname = 'eventflow_capture' AND NOT g.tgisinternal
              AND NOT EXISTS (SELECT 1 FROM pg_trigger l WHERE l.tgrelid = g.tgrelid AND l.tgname = 'eventflow_capture_log') LOOP
    BEGIN
      EXECUTE format('CREATE TRIGGER eventflow_capture_log AFTER INSERT OR UPDATE OR DELETE ON %s '
                     'FOR EACH ROW EXECUTE FUNCTION eventflow.log_change()', t.target);
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE EXCEPTION 'capture of % needs its second trigger, which only its owner may create: as the owner, SELECT eventflow.enable_capture(%L) (with its masked columns, see eventflow.captured_tables)',
        t.target, t.target::text;
    END;
  END LOOP;
END
$$;

-- Which tables are captured, and their masked columns: for every role (table owners check their own).
GRANT SELECT ON eventflow.captured_tables TO PUBLIC;
