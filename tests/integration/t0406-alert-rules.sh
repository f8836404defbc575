#!/usr/bin/env bash
# The shipped Prometheus rules for pgp-alert (etc/prometheus): promtool
# check rules and test rules pass, a broken rule fails; and the rules
# cannot drift from the program: every metric they name, and every label
# their annotations use, is in what pgp-alert --textfile-dir writes for a
# real server made by pgp-create, with its PgBouncer, checked as the
# monitor role (the only other names are node_exporter's own).
. "$(dirname "$0")/lib.sh"
need promtool "promtool (Debian package prometheus)"
rules=$PGP_SRC/etc/prometheus/pgp-alert.rules.yml
tests=$PGP_SRC/etc/prometheus/pgp-alert.rules.test.yml

run promtool check rules "$rules"
is "$RC" 0 "promtool check rules: exit 0"
like "$OUT" "SUCCESS: [0-9]+ rules found" "the rules parse"
unlike "$OUT$ERR" "WARNING|FAILED" "and raise no lint"
# From another directory: rule_files is relative to the test file.
run env -C / promtool test rules "$tests"
is "$RC" 0 "promtool test rules: exit 0"
like "$OUT" "SUCCESS" "every expected alert fires, and no other"
dir=$(mktemp -d /tmp/pgpr.XXXXXX)
at_exit "rm -rf '$dir'"
chmod 755 "$dir"			# the server's OS user enters it
sed 's/time() - pgp_alert_last_run_timestamp_seconds > 300/time() - pgp_alert_last_run_timestamp_seconds >/' \
	"$rules" >"$dir/broken.yml"
run promtool check rules "$dir/broken.yml"
is "$RC" 1 "a broken expression fails promtool check rules"
cp "$tests" "$dir/t.yml"
sed 's/pgp_alert_up == 0/pgp_alert_up == 1/' "$rules" >"$dir/pgp-alert.rules.yml"
run promtool test rules "$dir/t.yml"
is "$RC" 1 "a rule that changes meaning fails promtool test rules"

# A real textfile: a server with TLS, pg_stat_statements, a slot, a
# sequence, a backup state file, and its PgBouncer's console.
need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
need "$PGBOUNCER" "PgBouncer (Debian's pgbouncer)"
c=$dir/cluster
port=$(free_port)
pport=$(free_port)
at_exit "pgp-create -c /dev/null --local '$c' --stop"
pgp-create -q -c /dev/null --local "$c" --database shop --port "$port" --pooler pgbouncer --pooler-port "$pport" \
	--extension pg_stat_statements >/dev/null 2>&1 || { echo "Bail out! pgp-create failed"; exit 1; }
export PGSERVICEFILE=$c/pg_service.conf PGPASSFILE=$c/pgpass
psql -X -q "service=shop-migrator" -c "CREATE TABLE items (id bigserial PRIMARY KEY)" \
	-c "INSERT INTO items DEFAULT VALUES" >/dev/null
psql -X -q "service=shop-admin" -c "SELECT pg_create_physical_replication_slot('spare', true)" >/dev/null
mkdir -p "$dir/state" "$dir/tf"
printf '{"database":"shop","repo":"/r","last_run_time":"%s","last_run_result":"ok","last_good_id":"shop-1","last_good_time":"%s","last_error":null}\n' \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dir/state/backup-shop.json"
cat >"$dir/pgp.conf" <<CONF
targets = {
  shop = { conninfo = "service=shop-monitor"; };
  shop_pooler = { conninfo = "service=shop-pgbouncer"; type = "pgbouncer"; };
};
backup = { repo = "/r"; state_dir = "$dir/state"; };
CONF
alert() { pgp-alert -c "$dir/pgp.conf" --all --state-dir "$dir/state" --textfile-dir "$dir/tf" "$@"; }
run alert
run alert
ok "pgp-alert --all --textfile-dir ran (exit $RC: $ERR)" -- [ "$RC" -le 2 ]
is "$(cd "$dir/tf" && ls)" "$(printf 'pgp_alert_shop.prom\npgp_alert_shop_pooler.prom')" "one textfile per target"
cat "$dir/tf"/*.prom >"$dir/all.prom"
is "$(grep -c '^pgp_alert_up{.*} 1$' "$dir/all.prom")" 2 "both targets are up"
# These files carry families t0402's do not (PgBouncer, backup, slots).
for f in "$dir/tf"/*.prom; do
	run promtool check metrics <"$f"
	is "$RC:$OUT$ERR" "0:" "promtool check metrics accepts $(basename "$f")"
done

# Every metric the rules name is a family pgp-alert writes.
names=$(grep -o 'pgp_alert_[a-z_]*[a-z]' "$rules" | sort -u)
ok "the rules name pgp-alert's metrics ($(echo "$names" | wc -l))" -- [ "$(echo "$names" | wc -l)" -ge 10 ]
missing=
for m in $names; do
	grep -q "^# TYPE $m " "$dir/all.prom" || missing="$missing $m"
done
is "$missing" "" "every metric the rules use is in pgp-alert's real output"
others=$(grep -oE '[a-z_]+\{|[a-z_]+(\[| [<>=]| ==| offset)' "$rules" | grep -oE '^[a-z_]+' | grep -v '^pgp_alert_' |
	grep -vxE 'time|absent|rate|increase|delta|predict_linear|and|unless|on|or|by' | sort -u | tr '\n' ' ')
is "$others" "node_textfile_mtime_seconds " "the only other metric is node_exporter's textfile mtime"

# And every label an alert's text uses is on a series of one of its metrics.
run python3 - "$rules" "$dir/all.prom" <<'PY'
import re, sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
labels = {}
for line in open(sys.argv[2]):
    m = re.match(r'^(pgp_alert_\w+)\{(.*)\} ', line)
    if m:
        labels.setdefault(m.group(1), set()).update(re.findall(r'(\w+)="', m.group(2)))
bad = []
for g in rules["groups"]:
    for r in g["rules"]:
        metrics = set(re.findall(r'pgp_alert_\w+', r["expr"]))
        if not metrics:
            continue
        have = set().union(*(labels.get(m, set()) for m in metrics))
        text = " ".join(r.get("annotations", {}).values())
        for l in set(re.findall(r'\$labels\.(\w+)', text)):
            if l not in have:
                bad.append("%s: $labels.%s not on %s" % (r["alert"], l, ",".join(sorted(metrics))))
print("\n".join(bad))
PY
is "$RC:$OUT$ERR" "0:" "the labels the annotations use are on the series pgp-alert writes"
done_testing
