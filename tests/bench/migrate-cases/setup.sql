-- The table every case runs against: 1000 rows, a validated CHECK that
-- proves n has no NULL, a materialized view and a trigger function.
CREATE TABLE t (id int PRIMARY KEY, v varchar(100), n int, m int, x text,
	CONSTRAINT t_n_nn CHECK (n IS NOT NULL));
INSERT INTO t SELECT g, 'v' || g, g, g, 'x' || g FROM generate_series(1, 1000) g;
CREATE MATERIALIZED VIEW mv AS SELECT n % 10 AS k, count(*) FROM t GROUP BY 1;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
