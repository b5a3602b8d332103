-- Rows are logged as json, the text the writer's row gives, rather than jsonb: a json column is
-- published as the writer wrote it (duplicate keys and \u0000 included, which jsonb refuses, failing
-- the writer's transaction), a row may be as large as PostgreSQL's 1 GB rather than jsonb's 256 MB,
-- no binary form is built only to be turned back into text, and a read knows a row's length without
-- reading it.
ALTER TABLE eventflow.change_log ALTER COLUMN before TYPE json USING before::json,
                                 ALTER COLUMN after TYPE json USING after::json;
ALTER TABLE eventflow.failed_change ALTER COLUMN before TYPE json USING before::json,
                                    ALTER COLUMN after TYPE json USING after::json;
