-- why: random() is volatile: the table is rewritten under ACCESS EXCLUSIVE (the trace: new relfilenode); both agree
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
