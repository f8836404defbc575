-- why: int -> bigint is not binary-coercible: a rewrite of t and its indexes (the trace: new relfilenodes)
ALTER TABLE t ALTER COLUMN m TYPE bigint;
