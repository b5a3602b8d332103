-- The capture trigger: logs each row change in the writer's transaction and, when the wake-up
-- switch is armed, sends one wake-up.

-- Function: eventflow.capture_change()
--
--   Row trigger (AFTER INSERT OR UPDATE OR DELETE) that enable_capture() puts on a table; its
--   arguments name the masked columns, left out of the logged rows.
--
-- Algorithm:
--   The row becomes jsonb once and is logged with its size (row_bytes, for reads bounded by
--   bytes). The wake-up switch (sequence eventflow.wakeup_armed, 1 = armed) is read without a
--   query. The first writer to find it armed disarms it and sends the NOTIFY (committed with its
--   transaction): a wake-up costs writers one NOTIFY, whatever EventFlow's state, because only
--   EventFlow arms the switch again, once it has drained (arm_wakeup). NOTIFY serialises
--   committing transactions; a switch left armed while EventFlow is down would make every commit
--   pay for it.
--
--   SECURITY DEFINER with a pinned search_path: the writer needs no right on eventflow's objects.
CREATE OR REPLACE FUNCTION eventflow.capture_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
    PERFORM setval('eventflow.wakeup_armed', 0);
    PERFORM pg_notify(w.channel, '') FROM eventflow.wakeup w;
  END IF;
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
