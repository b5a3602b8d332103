-- Values: eventflow.column_kinds names, for each column of a table, the kind of value EventFlow
-- writes for it (domains as their base type, arrays by their element), with its precision or scale.
--
-- Runs in one transaction, rolled back at the end.
BEGIN;
SELECT plan(4);

CREATE DOMAIN public.kinds_positive AS numeric(8, 3) CHECK (VALUE > 0);
CREATE TABLE public.kinds_test (id bigint PRIMARY KEY, price numeric(10, 2), ratio numeric, cash money, at timestamptz,
  at_ms timestamp(3), hour time, days date[], weight public.kinds_positive, weights public.kinds_positive[], doc jsonb, raw bytea,
  spot point, note text, mood_range int4range);

SELECT is((SELECT array_agg(column_name || ' ' || kind || ' ' || coalesce(modifier::text, '-') || ' ' || is_array
                            ORDER BY column_name)
             FROM eventflow.column_kinds('public', 'kinds_test')),
  ARRAY['at timestamptz 6 false', 'at_ms timestamp 3 false', 'cash money - false', 'days date - true', 'doc json - false',
        'hour time 6 false', 'id integer - false', 'mood_range text - false', 'note text - false', 'price numeric 2 false',
        'ratio numeric -1 false', 'raw bytea - false', 'spot point - false', 'weight numeric 3 false', 'weights numeric 3 true'],
  'each column with its kind, precision or scale, and whether it is an array');

ALTER TABLE public.kinds_test DROP COLUMN note;
SELECT ok(NOT EXISTS (SELECT 1 FROM eventflow.column_kinds('public', 'kinds_test') WHERE column_name = 'note'),
  'a dropped column is not listed');
SELECT is_empty($$SELECT * FROM eventflow.column_kinds('public', 'no_such_table')$$, 'a table that does not exist has no columns');
SELECT is((SELECT count(*) FROM eventflow.column_kinds('public', 'kinds_test')), 14::bigint, 'one row per column');

SELECT * FROM finish();
ROLLBACK;
