-- Cursors: named read positions in the change log, each published by one EventFlow instance at a
-- time. A cursor is a row of eventflow.capture_state: every change of a transaction visible in
-- its lo_snapshot has been published; the batch in flight, if any, is described there too (see
-- R__batches.sql).

-- Function: eventflow.create_cursor(name text, from_oldest boolean)
--
--   A new cursor. It starts now (changes committed from now on), or, with from_oldest, at the
--   oldest change the change log still holds.
CREATE OR REPLACE FUNCTION eventflow.create_cursor(name text, from_oldest boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  oldest xid8;
BEGIN
  IF EXISTS (SELECT 1 FROM eventflow.capture_state s WHERE s.name = create_cursor.name) THEN
    RAISE EXCEPTION 'cursor % exists already', name USING ERRCODE = 'duplicate_object';
  END IF;
  IF from_oldest THEN
    -- the oldest change logged, or a transaction still open now (it may log a change yet)
    SELECT least(min(c.tx_id), pg_snapshot_xmin(pg_current_snapshot())) INTO oldest FROM eventflow.change_log c;
  END IF;
  -- 'x:x:' sees every transaction before x and none from x on
  INSERT INTO eventflow.capture_state (name, lo_snapshot)
  VALUES (name, CASE WHEN oldest IS NULL THEN pg_current_snapshot()
                     ELSE (oldest::text || ':' || oldest::text || ':')::pg_snapshot END);
END;
$$;

-- Function: eventflow.drop_cursor(name text)
--
--   Removes a cursor: the clean-up no longer keeps changes for it. Returns whether it existed.
CREATE OR REPLACE FUNCTION eventflow.drop_cursor(name text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM eventflow.capture_state s WHERE s.name = drop_cursor.name;
  RETURN FOUND;
END;
$$;

-- Function: eventflow.cursor_ahead(lo pg_snapshot)
--
--   Whether a cursor's snapshot lies ahead of this database's transaction counter: the cursor
--   comes from another cluster (a dump restored here, a promoted copy). Such a cursor would see
--   every change here as published already, so it is never read from, and the clean-up deletes
--   nothing while one exists.
CREATE OR REPLACE FUNCTION eventflow.cursor_ahead(lo pg_snapshot) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT pg_snapshot_xmax(lo) > pg_snapshot_xmax(pg_current_snapshot())
$$;

-- Function: eventflow.check_cursor(name text)
--
--   Raises an error that says what to do when the cursor does not exist or lies ahead of the
--   database; EventFlow calls it at start-up.
CREATE OR REPLACE FUNCTION eventflow.check_cursor(name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  cur eventflow.capture_state;
BEGIN
  SELECT * INTO cur FROM eventflow.capture_state s WHERE s.name = check_cursor.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no cursor named % (there are: %); to start one from now: SELECT eventflow.create_cursor(%)',
      quote_literal(name),
      coalesce((SELECT string_agg(quote_literal(s.name), ', ' ORDER BY s.name) FROM eventflow.capture_state s), 'none'),
      quote_literal(name)
      USING ERRCODE = 'undefined_object';
  END IF;
  IF eventflow.cursor_ahead(cur.lo_snapshot) THEN
    RAISE EXCEPTION 'cursor % is ahead of this database (it has read up to transaction %, the database is at %): it comes from another cluster; nothing was read or deleted. To publish from now on: SELECT eventflow.drop_cursor(%), eventflow.create_cursor(%)',
      quote_literal(name), pg_snapshot_xmax(cur.lo_snapshot), pg_snapshot_xmax(pg_current_snapshot()),
      quote_literal(name), quote_literal(name)
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
END;
$$;

-- Function: eventflow.claim_cursor(name text, holder text, lease interval)
--
--   Takes or renews the claim on a cursor. Only the holder may read batches and finish them
--   (next_batch, finish_batch): one publisher per cursor, with no coordinator but this row.
--
-- Algorithm:
--   The claim goes to the caller when nobody holds the cursor, when the caller holds it already
--   (renewed), or when the holder's lease has run out (a holder that died, or stopped renewing:
--   it is fenced from then on, its finish_batch fails). EventFlow renews its claim every few
--   seconds (eventflow.capture.claim-renew-ms), well within the lease.
--
-- Returns:
--   the holder after the call: the caller, or the instance that holds the cursor (the caller
--   waits as a standby).
CREATE OR REPLACE FUNCTION eventflow.claim_cursor(name text, holder text, lease interval DEFAULT '30 seconds') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  cur eventflow.capture_state;
BEGIN
  PERFORM eventflow.check_cursor(name);
  UPDATE eventflow.capture_state s
     SET claimed_at = CASE WHEN s.holder IS DISTINCT FROM claim_cursor.holder THEN now() ELSE s.claimed_at END,
         holder = claim_cursor.holder,
         claimed_until = now() + lease
   WHERE s.name = claim_cursor.name
     AND (s.holder IS NULL OR s.holder = claim_cursor.holder OR s.claimed_until < now())
  RETURNING * INTO cur;
  IF FOUND THEN
    RETURN holder;
  END IF;
  RETURN (SELECT s.holder FROM eventflow.capture_state s WHERE s.name = claim_cursor.name);
END;
$$;

-- Function: eventflow.release_cursor(name text, holder text)
--
--   Gives the claim up (an instance that stops), so that a standby takes over at its next look
--   rather than when the lease runs out. Returns whether the caller held it.
CREATE OR REPLACE FUNCTION eventflow.release_cursor(name text, holder text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE eventflow.capture_state s SET holder = NULL, claimed_until = NULL
   WHERE s.name = release_cursor.name AND s.holder = release_cursor.holder;
  RETURN FOUND;
END;
$$;

-- Function: eventflow.held_cursor(name text, holder text)
--
--   The cursor's row, locked for the caller's transaction, when the caller holds the cursor;
--   otherwise an error (fencing: an instance that lost its claim cannot read or move the cursor).
CREATE OR REPLACE FUNCTION eventflow.held_cursor(name text, holder text) RETURNS eventflow.capture_state
LANGUAGE plpgsql AS $$
DECLARE
  cur eventflow.capture_state;
BEGIN
  SELECT * INTO cur FROM eventflow.capture_state s WHERE s.name = held_cursor.name FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM eventflow.check_cursor(name);
  END IF;
  IF cur.holder IS DISTINCT FROM holder THEN
    RAISE EXCEPTION 'cursor % is held by %, not by %: this instance lost its claim and must not move it',
      quote_literal(name), coalesce(quote_literal(cur.holder), 'nobody'), quote_literal(holder)
      USING ERRCODE = 'lock_not_available';
  END IF;
  IF eventflow.cursor_ahead(cur.lo_snapshot) THEN
    PERFORM eventflow.check_cursor(name);
  END IF;
  RETURN cur;
END;
$$;

-- Function: eventflow.cursor_backlog(name text)
--
--   How many changes the cursor has not published yet, and for how long the oldest of them has
--   waited (seconds, 0 when none). Up to 10,000 waiting the count is exact; beyond that it is the
--   span of change ids from the lowest waiting id found to the newest change (at least 10,000; a
--   rolled-back change leaves a gap in the ids, which it counts), and the lag that of the oldest
--   change found: observing a backlog of any size reads about 10,000 of its changes, not all of
--   them (EventFlow does it every second). In tx_id order it also passes over the published
--   changes of transactions that committed while an older one, which the snapshot waits for, was
--   still open.
--
-- Algorithm:
--   Not published: a change of a transaction not visible in lo_snapshot, and, while a batch is
--   drained in parts (hi_snapshot set), not among those of it finished already (visible in
--   hi_snapshot, id up to last_id). So, while a batch is in flight, the rest of it (after last_id,
--   read in id order, among the next 20,000 ids) and the changes of the transactions hi_snapshot
--   does not see (in tx_id order, from its xmin); otherwise the transactions lo_snapshot does not
--   see (from its xmin).
--   Both bounds on tx_id keep PostgreSQL on the tx_id index (it cannot estimate a one-sided xid8
--   range and would scan the change log).
CREATE OR REPLACE FUNCTION eventflow.cursor_backlog(name text, OUT backlog bigint, OUT lag_seconds double precision)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  counted constant integer := 10000;
  cur eventflow.capture_state;
  seen pg_snapshot;
  in_batch bigint := 0;
  after_batch bigint;
  lowest_id bigint;
  oldest timestamptz;
  batch_lowest_id bigint;
  batch_oldest timestamptz;
BEGIN
  backlog := 0;
  lag_seconds := 0;
  SELECT * INTO cur FROM eventflow.capture_state s WHERE s.name = cursor_backlog.name;
  IF NOT FOUND OR eventflow.cursor_ahead(cur.lo_snapshot) THEN
    RETURN;
  END IF;
  seen := coalesce(cur.hi_snapshot, cur.lo_snapshot);
  IF cur.hi_snapshot IS NOT NULL THEN
    SELECT count(*), min(w.id), min(w.changed_at) INTO in_batch, batch_lowest_id, batch_oldest
      FROM (SELECT c.id, c.changed_at FROM eventflow.change_log c
             -- within twice as many ids: past the batch's rest, the later changes (counted below) are not
             -- walked
             WHERE c.id > cur.last_id AND c.id <= cur.last_id + 2 * counted
               AND pg_visible_in_snapshot(c.tx_id, cur.hi_snapshot) AND NOT pg_visible_in_snapshot(c.tx_id, cur.lo_snapshot)
             ORDER BY c.id
             LIMIT counted) w;
  END IF;
  -- (a transaction hi_snapshot does not see, lo_snapshot, taken before it, does not see either)
  SELECT count(*), min(w.id), min(w.changed_at) INTO after_batch, lowest_id, oldest
    FROM (SELECT c.id, c.changed_at FROM eventflow.change_log c
           WHERE c.tx_id >= pg_snapshot_xmin(seen) AND c.tx_id < pg_snapshot_xmax(pg_current_snapshot())
             AND NOT pg_visible_in_snapshot(c.tx_id, seen)
           ORDER BY c.tx_id
           LIMIT counted) w;
  backlog := in_batch + after_batch;
  lowest_id := least(lowest_id, batch_lowest_id);
  IF in_batch = counted OR after_batch = counted THEN
    backlog := greatest(backlog, (SELECT max(c.id) FROM eventflow.change_log c) - lowest_id + 1);
  END IF;
  lag_seconds := coalesce(extract(epoch FROM clock_timestamp() - least(oldest, batch_oldest)), 0)::float8;
END;
$$;

-- View: eventflow.cursors
--
--   Every cursor: who holds it and until when, what it has published, and its backlog and lag.
DROP VIEW IF EXISTS eventflow.cursors;
CREATE VIEW eventflow.cursors AS
SELECT s.name,
       CASE WHEN s.claimed_until >= now() THEN s.holder END AS holder,
       s.claimed_at,
       s.claimed_until,
       b.backlog,
       b.lag_seconds,
       eventflow.cursor_ahead(s.lo_snapshot) AS ahead,
       s.published_total,
       s.last_published_id,
       s.updated_at
  FROM eventflow.capture_state s
 CROSS JOIN LATERAL eventflow.cursor_backlog(s.name) b;
