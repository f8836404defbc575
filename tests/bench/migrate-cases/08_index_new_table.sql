-- why: an index on a table created in the same migration blocks nobody: nothing else can see the table yet
CREATE TABLE fresh (id int, name text);
CREATE INDEX fresh_name ON fresh (name);
