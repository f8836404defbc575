#!/usr/bin/env bash
# Benchmark (not a test): pgp-migrate-check on 100 golang-migrate
# migrations (up and down) over a database whose table "big" has ROWS rows
# (default 1,000,000), side by side with squawk (npm squawk-cli, installed
# into tests/.deps/bench on first use), ROUNDS interleaved rounds of:
#   S  pgp-migrate-check --static            Q  squawk on the same up files
#   F  pgp-migrate-check, the full run: copy, trace, round trip, live check
#   M  the migrations alone, in one psql session, up, down in reverse, up
#      again, on a template copy: what F cannot go below
# Then the cases where the two linters disagree (tests/bench/migrate-cases/),
# with what the trace saw on the server deciding who is right.
# Medians; the full run's own cost is F - M.  Run as root from the top of
# the tree:   tests/bench/migrate.sh [ROUNDS] [ROWS]
set -u
rounds=${1:-3} rows=${2:-1000000}
export PGP_BIN=${PGP_BIN:-$PWD/bin}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh" >/dev/null
squawk=$PGP_SRC/tests/.deps/bench/node_modules/.bin/squawk
if [ ! -x "$squawk" ]; then
	mkdir -p "$PGP_SRC/tests/.deps/bench"
	npm install --prefix "$PGP_SRC/tests/.deps/bench" --no-audit --no-fund --loglevel=error squawk-cli@2 >/dev/null ||
		{ echo "cannot install squawk-cli from npm" >&2; exit 1; }
fi
pg_start >/dev/null
work=$(mktemp -d /tmp/pgpmb.XXXXXX)
at_exit "rm -rf '$work'"
now() { date +%s.%N; }
createdb app || exit 1
psql -X -q -d app -c "CREATE TABLE big (id bigint PRIMARY KEY, a int, b text, created timestamptz NOT NULL DEFAULT now())" \
	-c "INSERT INTO big (id, a, b) SELECT g, g % 1000, md5(g::text) FROM generate_series(1, $rows) g" \
	-c "VACUUM ANALYZE big" || exit 1

# 100 migrations: mostly the everyday kind (new tables, their indexes,
# nullable columns, comments, views), ten that touch big.
python3 - "$work/m" <<'PY'
import os, sys
d = sys.argv[1]; os.makedirs(d)
def m(n, name, up, down):
    open(os.path.join(d, "%03d_%s.up.sql" % (n, name)), "w").write(up)
    open(os.path.join(d, "%03d_%s.down.sql" % (n, name)), "w").write(down)
big = {
    10: ("big_note", "ALTER TABLE big ADD COLUMN note text;\n", "ALTER TABLE big DROP COLUMN note;\n"),
    20: ("big_flag", "ALTER TABLE big ADD COLUMN flag boolean NOT NULL DEFAULT false;\n", "ALTER TABLE big DROP COLUMN flag;\n"),
    30: ("big_a_idx", "CREATE INDEX CONCURRENTLY big_a_idx ON big (a);\n", "DROP INDEX CONCURRENTLY big_a_idx;\n"),
    40: ("big_check", "ALTER TABLE big ADD CONSTRAINT big_a_pos CHECK (a >= 0) NOT VALID;\n",
         "ALTER TABLE big DROP CONSTRAINT big_a_pos;\n"),
    41: ("big_check_validate", "ALTER TABLE big VALIDATE CONSTRAINT big_a_pos;\n", "SELECT 1;\n"),
    50: ("big_comment", "COMMENT ON TABLE big IS 'the big one';\n", "COMMENT ON TABLE big IS NULL;\n"),
    60: ("big_b_idx", "CREATE INDEX big_b_idx ON big (b);\n", "DROP INDEX big_b_idx;\n"),
    70: ("big_token", "ALTER TABLE big ADD COLUMN token uuid DEFAULT gen_random_uuid();\n", "ALTER TABLE big DROP COLUMN token;\n"),
    80: ("big_stats", "ALTER TABLE big ALTER COLUMN a SET STATISTICS 500;\n", "ALTER TABLE big ALTER COLUMN a SET STATISTICS -1;\n"),
    90: ("big_view", "CREATE VIEW big_recent AS SELECT * FROM big WHERE created > now() - interval '1 day';\n",
         "DROP VIEW big_recent;\n"),
}
for n in range(1, 101):
    if n in big:
        m(n, *big[n]); continue
    t = "t%03d" % n
    m(n, t, "CREATE TABLE %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,\n"
            "  created timestamptz NOT NULL DEFAULT now());\n"
            "CREATE INDEX %s_name ON %s (name);\n"
            "COMMENT ON TABLE %s IS 'table %d';\n" % (t, t, t, t, n),
      "DROP TABLE %s;\n" % t)
PY
conn="host=$PGHOST port=$PGPORT dbname=app user=postgres"
ups=$(ls "$work"/m/*.up.sql)
downs=$(ls -r "$work"/m/*.down.sql)
run_files() {	# DB FILE...: the files in one psql session, statement by statement
	local db=$1; shift
	cat "$@" | psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null
}
echo "table big: $rows rows, $(psql -X -A -t -d app -c "SELECT pg_size_pretty(pg_total_relation_size('big'))");" \
	"100 migrations; PostgreSQL $(psql -X -A -t -c 'SHOW server_version'); squawk $("$squawk" --version | awk '{print $NF}');" \
	"$rounds rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/rounds"
for r in $(seq "$rounds"); do
	t0=$(now); pgp-migrate-check -c /dev/null --static --tool golang-migrate "$work/m" >"$work/static.out" 2>&1; t1=$(now)
	# shellcheck disable=SC2086
	"$squawk" $ups >"$work/squawk.out" 2>&1; t2=$(now)
	pgp-migrate-check -c /dev/null -d "$conn" --format json "$work/m" >"$work/full.json" 2>"$work/full.err"
	frc=$?; t3=$(now)
	psql -X -q -c "DROP DATABASE IF EXISTS m_copy" -c "CREATE DATABASE m_copy TEMPLATE app" || exit 1
	t4=$(now)
	# shellcheck disable=SC2086
	{ run_files m_copy $ups && run_files m_copy $downs && run_files m_copy $ups; } || echo "M failed"
	t5=$(now)
	echo "S $(echo "$t1-$t0" | bc) Q $(echo "$t2-$t1" | bc) F $(echo "$t3-$t2" | bc) M $(echo "$t5-$t4" | bc) rc $frc" |
		tee -a "$work/rounds"
done
echo "full run: verdict $(json_get "$(cat "$work/full.json")" 'd["verdict"]'), copy: $(json_get "$(cat "$work/full.json")" 'd["copy"]')"
json_get "$(cat "$work/full.json")" '"\n".join("  %4d %-8s %-14s %s" % (n, s, k, r) for (s, k, r), n in sorted(__import__("collections").Counter((f["severity"], f["kind"], f["rule"] or "-") for f in d["findings"]).items()))'
awk '
function median(k,   n, i, j, t, a) { n = cnt[k]; for (i = 1; i <= n; i++) a[i] = v[k, i]
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
{ for (i = 1; i < 9; i += 2) { cnt[$i]++; v[$i, cnt[$i]] = $(i + 1) } }
END {
	printf "\nmedians of %d rounds (s)\n", cnt["S"]
	printf "  S pgp-migrate-check --static      %6.2f   (want <= 1 s)\n", median("S")
	printf "  Q squawk, same files              %6.2f   ratio squawk/pgp %.2f\n", median("Q"), median("Q") / median("S")
	printf "  F pgp-migrate-check, full run     %6.2f\n", median("F")
	printf "  M the migrations alone (up/down/up) %4.2f\n", median("M")
	printf "  F - M, the full run own cost      %6.2f   (want <= 10 s)\n", median("F") - median("M")
}' "$work/rounds"

# Where squawk and pgp-migrate-check disagree, and what the server did.
echo
echo "disagreements (tests/bench/migrate-cases: one statement per file, on a 1000-row table):"
cases=$here/migrate-cases
createdb cases && psql -X -q -d cases -f "$cases/setup.sql" >/dev/null || exit 1
mkdir -p "$work/c"
for f in "$cases"/[0-9]*.sql; do
	n=$(basename "$f" .sql)
	rm -rf "$work/c"/*
	cp "$f" "$work/c/${n%%_*}_case.up.sql"
	sq=$("$squawk" --reporter json "$f" 2>/dev/null | python3 -c 'import json,sys
try: print(",".join(sorted({v["rule_name"] for v in json.load(sys.stdin)} - {"require-timeout-settings"})))
except Exception: print("?")')
	pgp-migrate-check -c /dev/null -d "host=$PGHOST port=$PGPORT dbname=cases user=postgres" --no-roundtrip \
		--tool golang-migrate --format json "$work/c" >"$work/case.json" 2>/dev/null
	pg=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(",".join(sorted({f["rule"] for f in d["findings"] if f["rule"] and f["severity"] != "info"})))' "$work/case.json")
	seen=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
out = []
for t in d["migrations"][0]["trace"]:
    if t["file"].endswith(".down.sql"): continue
    locks = ", ".join("%s %s" % (l["mode"], l["relation"]) for l in t["locks"]) if t["locks_known"] else "not seen"
    out.append("line %d: locks %s; rewrote %s; scanned %s%s" % (t["line"], locks or "-",
               ", ".join(t["rewrote"]) or "-", ", ".join(t["scanned"]) or "-",
               "; failed, SQLSTATE " + t["sqlstate"] if t["sqlstate"] else ""))
print(" | ".join(out))' "$work/case.json")
	printf '  %-24s squawk: %s\n  %-24s pgp:    %s\n  %-24s server: %s\n  %-24s why:    %s\n' "$n" "${sq:--}" "" "${pg:--}" \
		"" "$seen" "" "$(sed -n 's/^-- why: //p' "$f")"
done
