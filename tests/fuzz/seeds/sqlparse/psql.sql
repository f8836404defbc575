\set ON_ERROR_STOP on
\set tbl accounts
BEGIN;
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$;
/* nested /* comment */ ; */ SELECT E'it\'s', 'a;b', "x;y", 1::int, a[1:2] FROM :"tbl" WHERE b = :'tbl';
SELEC 2;
COMMIT;
