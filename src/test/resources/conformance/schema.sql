-- The conformance table: a column of every common type, captured by EventFlow and by Debezium
-- Server alike (src/test/java/io/eventflow/DebeziumConformanceIT.java, bench/DebeziumFixtures.java).
CREATE TYPE public.conformance_mood AS ENUM ('calm', 'curious');
CREATE DOMAIN public.conformance_positive AS integer CHECK (VALUE > 0);
CREATE TABLE public.conformance (
  id               integer PRIMARY KEY,
  c_smallint       smallint,
  c_integer        integer,
  c_bigint         bigint,
  c_numeric_fixed  numeric(10, 2),
  c_numeric        numeric,
  c_money          money,
  c_real           real,
  c_double         double precision,
  c_text           text,
  c_varchar        varchar(20),
  c_char           char(5),
  c_bool           boolean,
  c_date           date,
  c_time           time,
  c_time_ms        time(3),
  c_timetz         timetz,
  c_timestamp      timestamp,
  c_timestamp_ms   timestamp(3),
  c_timestamptz    timestamptz,
  c_interval       interval,
  c_uuid           uuid,
  c_json           json,
  c_jsonb          jsonb,
  c_bytea          bytea,
  c_int_array      integer[],
  c_text_array     text[],
  c_inet           inet,
  c_cidr           cidr,
  c_macaddr        macaddr,
  c_point          point,
  c_mood           public.conformance_mood,
  c_range          int4range,
  c_domain         public.conformance_positive,
  c_xml            xml,
  c_tsvector       tsvector
);
-- full rows on both sides: Debezium sends the whole before image only with REPLICA IDENTITY FULL
ALTER TABLE public.conformance REPLICA IDENTITY FULL;
