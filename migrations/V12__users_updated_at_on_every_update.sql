-- The demo table: updated_at moves on every update, whoever makes it (psql, another service), not
-- only on the web demo's edits, so that a u event says when the row changed. Only for the demo
-- table as V3 creates it: a public.users of the operator's own without such a column is left alone.
CREATE FUNCTION eventflow.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute
              WHERE attrelid = to_regclass('public.users') AND attname = 'updated_at'
                AND atttypid = 'timestamptz'::regtype AND NOT attisdropped) THEN
    CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON public.users
      FOR EACH ROW EXECUTE FUNCTION eventflow.touch_updated_at();
  END IF;
END
$$;
