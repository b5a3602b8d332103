-- The capture trigger runs with the rights of EventFlow's database user (the owner of the schema
-- eventflow), not with those of the writer: an application role that may change its own tables and
-- nothing else is captured all the same, and a missing grant on eventflow's objects can never fail
-- the writer's transaction. Every name the function uses is qualified or built in; search_path is
-- pinned so that nothing the writer puts on its path is run with EventFlow's rights.
ALTER FUNCTION eventflow.capture_change() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
