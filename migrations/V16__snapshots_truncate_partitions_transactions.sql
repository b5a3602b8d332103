-- Incremental snapshots, TRUNCATE, partitioned tables and transaction metadata. The functions that
-- use these are in the repeatable migrations (R__snapshots.sql, R__capture_trigger.sql,
-- R__batches.sql).

-- 't': a TRUNCATE of a captured table (before and after are NULL).
ALTER TABLE eventflow.change_log DROP CONSTRAINT change_log_op_check,
  ADD CONSTRAINT change_log_op_check CHECK (op IN ('c', 'u', 'd', 'r', 't')),
  -- the partition a change of a partitioned table was made in (schema_name and table_name name the
  -- partitioned table); NULL for other tables
  ADD COLUMN partition_name text,
  -- an 'r' of an incremental snapshot: 'incremental', or 'last' for the last row of its table
  ADD COLUMN snapshot text,
  -- the AMQP headers of the event: a primary-key change's 'd' and 'c' name the other key
  -- ({"__debezium.newkey": ...} and {"__debezium.oldkey": ...}), as Debezium does
  ADD COLUMN headers json;

ALTER TABLE eventflow.failed_change ADD COLUMN partition_name text, ADD COLUMN snapshot text, ADD COLUMN headers json;

-- Where the batch in flight started: the id before its first change (its first part starts there;
-- a later part counts the changes the parts before it published, for the transaction metadata).
ALTER TABLE eventflow.capture_state ADD COLUMN batch_start_id bigint;

-- The snapshots asked for (eventflow.snapshot()) and how far each one got: EventFlow reads the
-- table in primary-key order, one chunk per transaction, and keeps the last key read here, in the
-- same transaction as the chunk's 'r' changes, so a restart resumes after it.
CREATE TABLE eventflow.snapshot_job (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  schema_name  text        NOT NULL,
  table_name   text        NOT NULL,
  state        text        NOT NULL DEFAULT 'pending'
                           CHECK (state IN ('pending', 'running', 'done', 'cancelled', 'failed')),
  -- the primary key of the last row read, as text, column by column
  last_key     text[],
  rows_done    bigint      NOT NULL DEFAULT 0,
  chunks_done  bigint      NOT NULL DEFAULT 0,
  requested_at timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz,
  error        text
);

-- at most one snapshot of a table waiting or running
CREATE UNIQUE INDEX snapshot_job_open_idx ON eventflow.snapshot_job (schema_name, table_name)
  WHERE state IN ('pending', 'running');
