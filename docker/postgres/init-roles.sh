#!/usr/bin/env bash
# Creates the application database and its two login roles. The postgres image runs this once, when the data
# volume is empty; to change a password later use ALTER ROLE (see docs/deployment.md).
#
#   owner role (OWNER_DB_USER): owns the database and the public schema, runs migrations. Not a superuser.
#   app role   (APP_DB_USER):   what web, worker and beat log in as. Not a superuser, not an owner, no BYPASSRLS,
#                               NOINHERIT; `manage.py migrate` grants it row privileges table by table.
#
# Row-level security is FORCEd on tenant tables, so even the owner's queries go through the policies; only a
# superuser or a BYPASSRLS role could read past them, and no process of the platform logs in as either.
set -euo pipefail

: "${OWNER_DB_PASSWORD:?OWNER_DB_PASSWORD must be set for the postgres service}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD must be set for the postgres service}"

# Values reach SQL only as psql variables (:'literal', :"identifier"), which psql quotes itself.
psql --no-psqlrc -v ON_ERROR_STOP=1 \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v db_name="${ANNOTATE_DB_NAME:-annotate}" \
  -v owner_role="${OWNER_DB_USER:-annotate_owner}" \
  -v owner_password="$OWNER_DB_PASSWORD" \
  -v app_role="${APP_DB_USER:-annotate_app}" \
  -v app_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE :"owner_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'owner_password';
CREATE ROLE :"app_role" LOGIN NOSUPERUSER NOINHERIT NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'app_password';

CREATE DATABASE :"db_name" OWNER :"owner_role";
-- Only the two roles may connect; nobody gets TEMPORARY or CREATE by default.
REVOKE ALL ON DATABASE :"db_name" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db_name" TO :"owner_role", :"app_role";

\connect :"db_name"
-- The owner creates the tables; the app role may only use the schema, never create in it.
ALTER SCHEMA public OWNER TO :"owner_role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_role";
SQL
