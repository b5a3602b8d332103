-- Changes the pipeline could not publish and set aside so that the changes after them still go out
-- (an event larger than RabbitMQ accepts: eventflow.rabbitmq.max-message-bytes). The change itself,
-- copied from the change log (which forgets it after the retention), how large its event was and
-- why it was set aside. Counted in eventflow_failed_total; kept until an operator deletes them.
CREATE TABLE eventflow.failed_change (
  change_id   bigint      PRIMARY KEY,
  tx_id       xid8        NOT NULL,
  schema_name text        NOT NULL,
  table_name  text        NOT NULL,
  op          char(1)     NOT NULL,
  before      jsonb,
  after       jsonb,
  changed_at  timestamptz NOT NULL,
  event_bytes bigint      NOT NULL,
  reason      text        NOT NULL,
  failed_at   timestamptz NOT NULL DEFAULT now()
);
