\set ON_ERROR_STOP on
BEGIN;
CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);
COMMIT;
