-- why: VACUUM FULL rewrites t under ACCESS EXCLUSIVE (new relfilenode); squawk only flags it for PostgreSQL 19
VACUUM FULL t;
