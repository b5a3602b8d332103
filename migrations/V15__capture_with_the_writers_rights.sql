-- The capture trigger turns rows into JSON with the writer's rights (R__capture_trigger.sql) and so
-- calls functions of the schema eventflow as the writer: every role may use the schema. Its other
-- functions (cursors, batches, clean-up) can be called by anyone too, but they read and change
-- EventFlow's own tables, which no other role may touch, so for anyone else they fail.
GRANT USAGE ON SCHEMA eventflow TO PUBLIC;
