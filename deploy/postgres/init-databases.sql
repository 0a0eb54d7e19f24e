-- One database per service (each service owns its schema; none reads another's tables).
--
-- docker-compose.yml mounts this into /docker-entrypoint-initdb.d/, which the postgres image runs
-- with psql, once, when the data volume is empty. It is written to be re-runnable by hand as a
-- superuser, e.g. after a service was added to a volume that already exists (init scripts never
-- run again on an existing volume):
--
--   docker compose exec -T postgres psql -U thongthin -d thongthin -v ON_ERROR_STOP=1 \
--       < deploy/postgres/init-databases.sql
--
-- CREATE DATABASE cannot run inside a DO block or transaction, hence psql's \gexec: the SELECT
-- yields the statement only when the database is missing, and psql executes it.

-- In compose the role already exists (POSTGRES_USER=thongthin makes it the bootstrap superuser);
-- on any other cluster create it as a plain login role.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'thongthin') THEN
        CREATE ROLE thongthin LOGIN PASSWORD 'thongthin';
    END IF;
END
$$;

-- Owned by thongthin, so that in PostgreSQL 15+ (where PUBLIC may no longer create in schema
-- public) the services' migrations can create their tables.
SELECT 'CREATE DATABASE plans OWNER thongthin'
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = 'plans')\gexec
SELECT 'CREATE DATABASE assessments OWNER thongthin'
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = 'assessments')\gexec
SELECT 'CREATE DATABASE notifications OWNER thongthin'
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = 'notifications')\gexec
SELECT 'CREATE DATABASE reporting OWNER thongthin'
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = 'reporting')\gexec
SELECT 'CREATE DATABASE gateway OWNER thongthin'
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = 'gateway')\gexec
