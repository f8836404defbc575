-- why: CREATE TRIGGER takes SHARE ROW EXCLUSIVE (pg_locks in the trace): writes wait, and it queues behind any
CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();
