-- Values: what EventFlow needs of a captured table's column types to write its values as the
-- setting eventflow.event.values asks (docs/events.md, "How values are written").

-- Function: eventflow.column_kinds(schema_name text, table_name text)
--
--   Each column of a table (by name) with the kind of value it holds, domains resolved to their
--   base type, arrays to their element's kind: integer, float, numeric, money, boolean, date, time,
--   timetz, timestamp, timestamptz, interval, json, bytea, point, or text (any other type, whose
--   value is its text); its precision (time, timestamp: fractional digits, 6 when unconstrained)
--   or scale (numeric: -1 when unconstrained); and whether it is an array. EventFlow reads it once
--   per table and again when a row's columns are not the ones it knows.
CREATE OR REPLACE FUNCTION eventflow.column_kinds(schema_name text, table_name text)
RETURNS TABLE (column_name text, kind text, modifier integer, is_array boolean)
LANGUAGE sql STABLE AS $$
  WITH RECURSIVE columns AS (
         SELECT a.attnum, a.attname::text AS column_name, a.atttypid AS type_id, a.atttypmod AS type_mod, false AS is_array
           FROM pg_attribute a
          WHERE a.attrelid = to_regclass(format('%I.%I', schema_name, table_name)) AND a.attnum > 0 AND NOT a.attisdropped),
       resolved AS (
         SELECT c.attnum, c.column_name, c.type_id, c.type_mod, c.is_array, 0 AS depth FROM columns c
         UNION ALL
         -- a domain is its base type (with the domain's modifier), an array its element type
         SELECT r.attnum, r.column_name,
                CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END,
                CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE r.type_mod END,
                r.is_array OR t.typtype <> 'd',
                r.depth + 1
           FROM resolved r JOIN pg_type t ON t.oid = r.type_id
          WHERE (t.typtype = 'd' OR (t.typcategory = 'A' AND t.typelem <> 0)) AND r.depth < 10)
  SELECT DISTINCT ON (r.attnum) r.column_name,
         CASE t.typname
           WHEN 'int2' THEN 'integer' WHEN 'int4' THEN 'integer' WHEN 'int8' THEN 'integer' WHEN 'oid' THEN 'integer'
           WHEN 'float4' THEN 'float' WHEN 'float8' THEN 'float'
           WHEN 'numeric' THEN 'numeric' WHEN 'money' THEN 'money' WHEN 'bool' THEN 'boolean'
           WHEN 'date' THEN 'date' WHEN 'time' THEN 'time' WHEN 'timetz' THEN 'timetz'
           WHEN 'timestamp' THEN 'timestamp' WHEN 'timestamptz' THEN 'timestamptz' WHEN 'interval' THEN 'interval'
           WHEN 'json' THEN 'json' WHEN 'jsonb' THEN 'json' WHEN 'bytea' THEN 'bytea' WHEN 'point' THEN 'point'
           ELSE 'text' END,
         CASE WHEN t.typname = 'numeric' THEN CASE WHEN r.type_mod < 0 THEN -1 ELSE (r.type_mod - 4) & 65535 END
              WHEN t.typname IN ('time', 'timetz', 'timestamp', 'timestamptz') THEN CASE WHEN r.type_mod < 0 THEN 6 ELSE r.type_mod END
         END,
         r.is_array
    FROM resolved r JOIN pg_type t ON t.oid = r.type_id
   ORDER BY r.attnum, r.depth DESC
$$;
