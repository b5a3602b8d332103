-- EventFlow's own objects: the change log (a transactional outbox written by the capture trigger),
-- the pipeline's read position and the wake-up switch.

-- The schema itself is created by Flyway (schemas = eventflow), which also keeps its history there.

-- One row per captured change, written in the same transaction as the change itself.
-- tx_id is the writing transaction: the pipeline reads changes in batches of transactions that
-- committed between two snapshots (as PgQ does), so a transaction that took its id early and
-- committed late is never skipped, and changes to one row keep their commit order.
CREATE TABLE eventflow.change_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tx_id       xid8        NOT NULL DEFAULT pg_current_xact_id(),
  schema_name text        NOT NULL,
  table_name  text        NOT NULL,
  op          char(1)     NOT NULL CHECK (op IN ('c', 'u', 'd', 'r')),
  before      jsonb,
  after       jsonb,
  changed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX change_log_tx_id_idx ON eventflow.change_log (tx_id);

-- The read position: every change of a transaction visible in lo_snapshot is published; when a
-- batch is split into chunks, hi_snapshot is the batch's end and last_id the last change sent.
CREATE TABLE eventflow.capture_state (
  name              text        PRIMARY KEY,
  lo_snapshot       pg_snapshot NOT NULL,
  hi_snapshot       pg_snapshot,
  last_id           bigint      NOT NULL DEFAULT 0,
  published_total   bigint      NOT NULL DEFAULT 0,
  last_published_id bigint,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

INSERT INTO eventflow.capture_state (name, lo_snapshot) VALUES ('default', pg_current_snapshot());

-- The wake-up switch: while the pipeline is idle it arms this, and a captured change sends one
-- NOTIFY (no data) on the channel; while it drains a backlog it disarms it, so busy writers pay
-- no NOTIFY at all (NOTIFY serialises committing transactions).
CREATE TABLE eventflow.wakeup (
  channel text    PRIMARY KEY,
  armed   boolean NOT NULL DEFAULT true
);

INSERT INTO eventflow.wakeup (channel, armed) VALUES ('eventflow_wakeup', true);
