-- why: lower('X') is immutable: PostgreSQL 11+ stores the default, no rewrite (the trace: relfilenode unchanged)
ALTER TABLE t ADD COLUMN c text DEFAULT lower('X');
