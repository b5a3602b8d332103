#!/bin/sh
# Run once by the postgres image when its data directory is new: EventFlow's own role, which is not
# a superuser. It owns the database it captures (so it can create its schema eventflow, and the demo
# its table); the superuser stays with the database's administrator.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$EVENTFLOW_DB_PASSWORD" -v database="$POSTGRES_DB" <<'SQL'
CREATE ROLE eventflow LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
ALTER DATABASE :"database" OWNER TO eventflow;
SQL
