-- The platform's database, its two login roles and their grants: the one definition, run by psql as a superuser
-- (or a role with CREATEROLE and CREATEDB). The postgres image runs it once when its data volume is created
-- (docker-compose.yml mounts it into /docker-entrypoint-initdb.d), `make run` runs it at every start of the
-- embedded database, and the test suite runs it for its own database, so the suite proves what operators deploy.
-- It is idempotent: running it again changes nothing but passwords given anew.
--
-- Settings come from the environment (psql's \getenv), never from the command line, where passwords would show:
--   ANNOTATE_DB_NAME   database name                          (default annotate)
--   OWNER_DB_USER      owner role: owns the database and the public schema, runs migrations; not a superuser
--                                                              (default annotate_owner)
--   APP_DB_USER        app role: what web, worker and beat log in as; not a superuser, not an owner, NOINHERIT,
--                      no BYPASSRLS; `manage.py migrate` grants it row privileges table by table
--                                                              (default annotate_app)
--   OWNER_DB_PASSWORD, APP_DB_PASSWORD   set when given; without them the roles have no password (the embedded
--                      database and the suite, which reach the server over a private socket or trust auth)
--
-- Row-level security is FORCEd on tenant tables, so even the owner's queries go through the policies; only a
-- superuser or a BYPASSRLS role could read past them, and no process of the platform logs in as either.
\set ON_ERROR_STOP on
\set QUIET on

\getenv db_name ANNOTATE_DB_NAME
\if :{?db_name}
\else
  \set db_name annotate
\endif
\getenv owner_role OWNER_DB_USER
\if :{?owner_role}
\else
  \set owner_role annotate_owner
\endif
\getenv app_role APP_DB_USER
\if :{?app_role}
\else
  \set app_role annotate_app
\endif
\getenv owner_password OWNER_DB_PASSWORD
\getenv app_password APP_DB_PASSWORD

-- Roles belong to the whole cluster: concurrent runs (parallel test workers) take turns here.
SELECT pg_advisory_lock(hashtext('annotate.roles')) \g /dev/null

SELECT format('CREATE ROLE %I', :'owner_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner_role') \gexec
SELECT format('CREATE ROLE %I', :'app_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
-- Stated every time, so a role that drifted (or was made by hand) is put back to exactly this.
ALTER ROLE :"owner_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
-- NOINHERIT: were the app role ever granted membership of another role, it would still not use its privileges.
ALTER ROLE :"app_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
\if :{?owner_password}
ALTER ROLE :"owner_role" PASSWORD :'owner_password';
\endif
\if :{?app_password}
ALTER ROLE :"app_role" PASSWORD :'app_password';
\endif

SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'db_name', :'owner_role', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db_name') \gexec
SELECT pg_advisory_unlock(hashtext('annotate.roles')) \g /dev/null

-- Only the two roles may connect; nobody gets TEMPORARY or CREATE by default.
REVOKE ALL ON DATABASE :"db_name" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db_name" TO :"owner_role", :"app_role";
-- The import stages each batch with COPY into a temporary table and moves it on with one INSERT ... SELECT,
-- because COPY FROM is refused on tables under row-level security (projects/imports/staging.py). A temporary
-- table is private to its session and emptied at every commit, so it can hold nothing another tenant could
-- read; a permanent staging table outside the policies could. Hence this one grant, and no other.
GRANT TEMPORARY ON DATABASE :"db_name" TO :"app_role";

\connect :"db_name"
-- The owner creates the tables; the app role may only use the schema, never create in it.
ALTER SCHEMA public OWNER TO :"owner_role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_role";
