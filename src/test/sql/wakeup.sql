-- The wake-up switch (sequence eventflow.wakeup_armed, 1 = armed): the first captured write that
-- finds it armed disarms it and sends one NOTIFY, the writes after it send none; EventFlow arms it
-- again with arm_wakeup once a read found nothing. probe_listener sends a listener probe.
--
-- Runs in one transaction, rolled back at the end. The writers, whose NOTIFYs go out only when
-- they commit, and the listener are sessions of their own (dblink); what the writers committed is
-- removed at the end, and the switch (a sequence, not rolled back) put back as it was.
BEGIN;
SELECT plan(18);

\ir support/sessions.psql

-- The wake-up switch and channel as they were.
CREATE TEMP TABLE switch_before AS
  SELECT pg_sequence_last_value('eventflow.wakeup_armed') AS armed, (SELECT channel FROM eventflow.wakeup) AS channel;

-- Closes the dblink sessions, removes what the writers committed (their users and those users'
-- changes, without capturing the removal) and puts the wake-up switch and channel back.
CREATE FUNCTION pg_temp.remove_committed() RETURNS void
LANGUAGE sql AS $$
  SELECT dblink_disconnect(c) FROM unnest(dblink_get_connections()) AS c;
  SELECT pg_temp.committed(format($q$
    SET LOCAL session_replication_role = replica;
    DELETE FROM eventflow.change_log WHERE coalesce(after, before)->>'email' LIKE '%%@wakeup.test';
    DELETE FROM eventflow_demo.users WHERE email LIKE '%%@wakeup.test';
    UPDATE eventflow.wakeup SET channel = %L$q$, channel))
    FROM switch_before;
  SELECT setval('eventflow.wakeup_armed', armed) FROM switch_before;
$$;

CREATE FUNCTION pg_temp.set_switch(armed integer) RETURNS void
LANGUAGE sql AS $$
  SELECT FROM setval('eventflow.wakeup_armed', armed)
$$;

CREATE FUNCTION pg_temp.switch() RETURNS bigint
LANGUAGE sql AS $$
  SELECT pg_sequence_last_value('eventflow.wakeup_armed')
$$;

-- The notifications the listener session received: waits until the expected number have come (at
-- most 5 s), then half a second more, so that one too many is seen too.
CREATE FUNCTION pg_temp.notifications(expected integer)
RETURNS TABLE (channel text, sender integer, payload text)
LANGUAGE plpgsql AS $$
DECLARE
  n record;
  got integer := 0;
  give_up timestamptz := clock_timestamp() + interval '5 seconds';
  settled timestamptz;
BEGIN
  LOOP
    FOR n IN SELECT * FROM dblink_get_notify('listener') LOOP
      channel := n.notify_name;
      sender := n.be_pid;
      payload := n.extra;
      got := got + 1;
      RETURN NEXT;
    END LOOP;
    IF got >= expected AND settled IS NULL THEN
      settled := clock_timestamp() + interval '0.5 seconds';
    END IF;
    EXIT WHEN clock_timestamp() > coalesce(settled, give_up);
    PERFORM pg_sleep(0.01);
  END LOOP;
END;
$$;

SELECT FROM dblink_connect('listener', pg_temp.this_db());
SELECT FROM dblink_exec('listener', 'LISTEN eventflow_wakeup');
SELECT FROM dblink_connect('writer1', pg_temp.this_db());
SELECT FROM dblink_connect('writer2', pg_temp.this_db());
SELECT pid AS writer1 FROM dblink('writer1', 'SELECT pg_backend_pid()') AS t(pid integer) \gset
SELECT pid AS writer2 FROM dblink('writer2', 'SELECT pg_backend_pid()') AS t(pid integer) \gset

-- Armed: the first write sends the wake-up
SELECT pg_temp.set_switch(1);
SELECT FROM dblink_exec('writer1', $$INSERT INTO eventflow_demo.users (name, email) VALUES ('one', 'one@wakeup.test')$$);
SELECT is(pg_temp.switch(), 0::bigint, 'a captured write that finds the switch armed disarms it');
SELECT FROM dblink_exec('writer2', $$INSERT INTO eventflow_demo.users (name, email) VALUES ('two', 'two@wakeup.test')$$);
SELECT is(pg_temp.switch(), 0::bigint, 'the next write leaves it disarmed');
SELECT results_eq($$SELECT channel, sender, payload FROM pg_temp.notifications(1)$$,
  format($$VALUES ('eventflow_wakeup', %s, '')$$, :writer1),
  'one wake-up was sent, on the channel, by the first writer when it committed');

-- arm_wakeup
SELECT ok(eventflow.arm_wakeup('eventflow_wakeup'), 'arm_wakeup arms a disarmed switch and says it was disarmed');
SELECT is(pg_temp.switch(), 1::bigint, 'the switch is armed');
SELECT ok(NOT eventflow.arm_wakeup('eventflow_wakeup'), 'arm_wakeup again says it was armed already');
SELECT is(pg_temp.switch(), 1::bigint, 'and leaves it armed');
SELECT FROM dblink_exec('writer2', $$UPDATE eventflow_demo.users SET name = 'two again' WHERE email = 'two@wakeup.test'$$);
SELECT results_eq($$SELECT channel, sender FROM pg_temp.notifications(1)$$,
  format($$VALUES ('eventflow_wakeup', %s)$$, :writer2),
  'the next captured write sends one wake-up again');

-- Disarmed: no wake-up
SELECT pg_temp.set_switch(0);
SELECT FROM dblink_exec('writer1', $$DELETE FROM eventflow_demo.users WHERE email = 'one@wakeup.test'$$);
SELECT is_empty($$SELECT * FROM pg_temp.notifications(0)$$, 'with the switch disarmed, a captured write sends no wake-up');
SELECT is(pg_temp.switch(), 0::bigint, 'and leaves it disarmed');

-- arm_wakeup with another channel (as EventFlow configured with another one calls it)
SELECT FROM dblink_exec('listener', 'LISTEN eventflow_other');
SELECT is(armed, true, 'arm_wakeup on another channel arms the switch')
  FROM dblink(pg_temp.this_db(), $$SELECT eventflow.arm_wakeup('eventflow_other')$$) AS t(armed boolean);
SELECT is((SELECT channel FROM eventflow.wakeup), 'eventflow_other', 'and keeps the channel');
SELECT FROM dblink_exec('writer1', $$INSERT INTO eventflow_demo.users (name, email) VALUES ('three', 'three@wakeup.test')$$);
SELECT results_eq($$SELECT channel, sender FROM pg_temp.notifications(1)$$,
  format($$VALUES ('eventflow_other', %s)$$, :writer1),
  'the wake-up goes out on that channel');

-- probe_listener
SELECT is(pid, :writer2, 'probe_listener returns the pid of the session that sent the probe')
  FROM dblink('writer2', $$SELECT eventflow.probe_listener('eventflow_wakeup', 'probe-1')$$) AS t(pid integer);
SELECT results_eq($$SELECT channel, sender, payload FROM pg_temp.notifications(1)$$,
  format($$VALUES ('eventflow_wakeup', %s, 'probe-1')$$, :writer2),
  'the probe reaches the listener, from that session, with its payload');

-- A write that rolls back
SELECT pg_temp.set_switch(1);
SELECT FROM dblink_exec('writer1', 'BEGIN');
SELECT FROM dblink_exec('writer1', $$INSERT INTO eventflow_demo.users (name, email) VALUES ('rolled back', 'rolled-back@wakeup.test')$$);
SELECT FROM dblink_exec('writer1', 'ROLLBACK');
-- setval is not transactional: the write disarmed the switch, and its NOTIFY never went out. The
-- wake-ups wait for EventFlow's next poll, whose empty read arms the switch again.
SELECT is(pg_temp.switch(), 0::bigint, 'a captured write that rolled back leaves the switch disarmed');
SELECT ok(eventflow.arm_wakeup('eventflow_other'), 'the next empty read arms it again, and says it was disarmed');
SELECT FROM dblink_exec('writer2', $$INSERT INTO eventflow_demo.users (name, email) VALUES ('four', 'four@wakeup.test')$$);
SELECT results_eq($$SELECT channel, sender FROM pg_temp.notifications(1)$$,
  format($$VALUES ('eventflow_other', %s)$$, :writer2),
  'so the next committed write sends the wake-up');

SELECT pg_temp.remove_committed();
SELECT * FROM finish();
ROLLBACK;
