-- why: REFRESH without CONCURRENTLY holds ACCESS EXCLUSIVE on mv (pg_locks in the trace): every read of mv waits
REFRESH MATERIALIZED VIEW mv;
