-- why: varchar(100) -> varchar(200) is binary-coercible: no rewrite, only a brief ACCESS EXCLUSIVE (the trace)
ALTER TABLE t ALTER COLUMN v TYPE varchar(200);
