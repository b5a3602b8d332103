-- The capture trigger turns rows into JSON with the writer's rights (R__capture_trigger.sql), which
-- needs the schema's functions visible to every role; only the two capture triggers, the row
-- conversion and enable_capture/disable_capture are executable by others. Everything else
-- (cursors, batches, clean-up) works on EventFlow's own tables, which no other role may touch.
GRANT USAGE ON SCHEMA eventflow TO PUBLIC;
