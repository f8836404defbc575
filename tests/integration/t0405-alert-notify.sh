#!/usr/bin/env bash
# pgp-alert's notifications against a real PostgreSQL 15 made by
# pgp-create (checked as its shop_monitor role), a loopback HTTP receiver
# that records what it gets (and can answer 500, 404 or slowly), and
# Debian's prometheus-alertmanager on loopback: one message on a change,
# none inside repeat_interval, one after it, one RESOLVED; confirm=2
# waits a run; a receiver that answers 500 gets the message on the next
# run; the Slack payload; Alertmanager holds the firing alert with its
# labels and resolves it; the URL tokens never show in stdout, stderr or
# any process's argv, and a secret file readable by others is refused.
. "$(dirname "$0")/lib.sh"
need "$PG_BINDIR/initdb" "PostgreSQL 15 server binaries"
need python3
need /usr/bin/prometheus-alertmanager "Debian's prometheus-alertmanager"
dir=$(mktemp -d /tmp/pgpn.XXXXXX)
port=$(free_port)
at_exit "pgp-create -c /dev/null --local '$dir' --stop; rm -rf '$dir'"
pgp-create -q -c /dev/null --local "$dir" --database shop --port "$port" >/dev/null 2>&1 ||
	{ echo "Bail out! pgp-create failed"; exit 1; }
export PGSERVICEFILE=$dir/pg_service.conf PGPASSFILE=$dir/pgpass
admin() { psql -X -q -A -t -v ON_ERROR_STOP=1 "service=shop-admin" "$@"; }

# The receiver: every request as one JSON line in $dir/received; it
# answers what $dir/mode says (200, 500, 404, or "slow": 200 after 1.5 s).
cat >"$dir/receiver.py" <<'PY'
import http.server, json, sys, threading, time
d = sys.argv[1]
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            mode = open(d + "/mode").read().strip()
        except OSError:
            mode = "200"
        if mode == "slow":
            open(d + "/slow-started", "w").close()
            time.sleep(1.5)
            mode = "200"
        status = int(mode)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        with lock, open(d + "/received", "a") as f:
            f.write(json.dumps({"path": self.path, "status": status, "ctype": self.headers.get("Content-Type"),
                                "auth": self.headers.get("Authorization"), "body": doc}) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"no thanks")
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(d + "/port.tmp", "w").write(str(s.server_address[1]))
import os; os.rename(d + "/port.tmp", d + "/port")
s.serve_forever()
PY
echo 200 >"$dir/mode"
: >"$dir/received"
python3 "$dir/receiver.py" "$dir" >"$dir/receiver.log" 2>&1 &
at_exit "kill $!"
for i in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
rport=$(cat "$dir/port")

# Alertmanager on loopback, no cluster, its own storage; it notifies the
# receiver too (that is how its resolved state is seen: the API no longer
# lists an alert whose endsAt has passed).
amport=$(free_port)
cat >"$dir/am.yml" <<EOF
route:
  receiver: rec
  group_by: [alertname, target]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: rec
    webhook_configs:
      - url: http://127.0.0.1:$rport/am-hook
        send_resolved: true
EOF
/usr/bin/prometheus-alertmanager --config.file="$dir/am.yml" --storage.path="$dir/am-data" \
	--web.listen-address="127.0.0.1:$amport" --cluster.listen-address= >"$dir/am.log" 2>&1 &
at_exit "kill $!"

TOKEN=T0KEN-hook-5e1f9c2a
STOKEN=SL4CK-b7d13e0f
export PGP_ALERT_WEBHOOK_URL="http://127.0.0.1:$rport/hook/$TOKEN?key=$TOKEN"
export PGP_ALERT_SLACK_URL="http://127.0.0.1:$rport/services/$STOKEN"
export PGP_ALERT_ALERTMANAGER_URL="http://127.0.0.1:$amport"
: >"$dir/all-output"
# alert STATE_DIR ARGS...: one run on the idle_in_transaction check (CRITICAL
# from 0s); everything it prints is kept to look for the tokens at the end.
alert() {
	local s=$dir/$1; shift
	mkdir -p "$s"
	run pgp-alert -c "${CONF:-/dev/null}" -d service=shop-monitor --state-dir "$s" \
		--check idle_in_transaction --critical 0s "$@"
	printf '%s\n%s\n' "$OUT" "$ERR" >>"$dir/all-output"
}
# count PATH-PREFIX: requests received on that path.
count() { python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["path"].startswith(sys.argv[2])))' "$dir/received" "$1"; }
# last PATH-PREFIX EXPR: EXPR over the body (d) of the last such request.
last() {
	python3 -c 'import json,sys
r = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"].startswith(sys.argv[2])]
d = r[-1]["body"] if r else None; q = r[-1] if r else None
v = eval(sys.argv[3]); print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$dir/received" "$1" "$2" 2>&1
}
statef() { cat "$dir/$1/alert-shop-monitor.json"; }
wait_for() {
	local i
	for i in $(seq 300); do
		[ "$(admin -c "$1" 2>/dev/null)" = t ] && return 0
		sleep 0.1
	done
	return 1
}

# Usage and configuration errors are UNKNOWN, before any check.
alert u --notify pager
is "$RC" 3 "an unknown channel: UNKNOWN"
like "$ERR" 'unknown channel "pager"' "naming it"
run pgp-alert -c /dev/null -d service=shop-monitor --no-state --notify webhook
is "$RC" 3 "notifications without a state file: UNKNOWN"
PGP_ALERT_SLACK_URL= alert u --notify slack
is "$RC" 3 "a channel without a URL: UNKNOWN"
like "$ERR" "hint: set alert.slack_url_file .* or the environment variable PGP_ALERT_SLACK_URL" "the hint says where a URL goes"

# Healthy: nothing to say.
alert a --notify webhook --repeat-interval 3s
is "$RC:$(count /hook)" "0:0" "an OK check sends nothing"

# An idle transaction: one message on the change.
mkfifo "$dir/idler.fifo"
psql -X -q "service=shop-admin application_name=idler" <"$dir/idler.fifo" >/dev/null 2>&1 &
exec 7>"$dir/idler.fifo"
at_exit "admin -c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'idler'\""
printf 'BEGIN;\nSELECT 1;\n' >&7
ok "a session is idle in transaction" -- wait_for \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'idler' AND state = 'idle in transaction'"
alert a --notify webhook --repeat-interval 3s
is "$RC" 2 "the check is CRITICAL (exit 2)"
is "$(count /hook)" 1 "one message on the change"
is "$(last /hook 'q["ctype"]')" application/json "sent as JSON"
is "$(last /hook '[d["version"], d["status"], len(d["alerts"])]')" '["4", "firing", 1]' \
	"Alertmanager's webhook payload: version 4, firing, one alert"
is "$(last /hook 'd["alerts"][0]["labels"]')" \
	"{\"alertname\": \"PgIdleInTransaction\", \"check\": \"idle_in_transaction\", \"instance\": \"127.0.0.1:$port\", \"severity\": \"critical\", \"target\": \"shop-monitor\"}" \
	"its labels: alertname, check, instance, severity, target"
like "$(last /hook 'd["alerts"][0]["annotations"]["description"]')" "^idle in transaction for .*application idler" \
	"the description is the check's text"
like "$(last /hook '[d["alerts"][0][k] for k in ("startsAt", "endsAt")]')" \
	'^\["20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z", "0001-01-01T00:00:00Z"\]$' "startsAt in RFC 3339, no endsAt while firing"
is "$(last /hook 'd["alerts"][0]["annotations"]["reason"]')" new "reason: new"
# (An interval of an hour here: on a loaded machine 3 s can pass between
# two runs, and this run must be inside it.)
alert a --notify webhook --repeat-interval 1h
is "$RC:$(count /hook)" "2:1" "still CRITICAL inside repeat_interval: nothing more"
# Wait (by the clock) until repeat_interval has passed since it was sent.
sent=$(json_get "$(statef a)" 'd["checks"]["idle_in_transaction"]["notified_at"]')
for i in $(seq 100); do [ "$(date +%s)" -ge $((sent + 3)) ] && break; sleep 0.1; done
alert a --notify webhook --repeat-interval 3s
is "$(count /hook)" 2 "one message once repeat_interval has passed"
is "$(last /hook '[d["alerts"][0]["status"], d["alerts"][0]["annotations"]["reason"]]')" '["firing", "repeat"]' \
	"a repeat of the firing alert"

# confirm = 2: the first message waits one run.
printf 'alert: { checks: { idle_in_transaction: { confirm = 2; }; }; };\n' >"$dir/confirm.conf"
CONF=$dir/confirm.conf alert b --notify webhook
is "$RC:$(count /hook)" "2:2" "confirm=2: CRITICAL, nothing sent on the first run"
CONF=$dir/confirm.conf alert b --notify webhook
is "$(count /hook)" 3 "the second run in that state sends it"
CONF=$dir/confirm.conf alert h --notify webhook

# A receiver that answers 500: reported, kept, sent by the next run.
echo 500 >"$dir/mode"
alert c --notify webhook
is "$RC" 2 "the exit status is still the checks' when delivery fails"
is "$(count /hook)" 4 "the receiver was asked"
like "$ERR" "error: cannot deliver 1 notification to webhook \(http://127\.0\.0\.1:$rport/\*\*\*\): HTTP status 500" \
	"the failure is on stderr, the URL masked"
is "$(json_get "$(statef c)" 'len(d["pending"]["webhook"])')" 1 "the message waits in the state file"
echo 200 >"$dir/mode"
alert c --notify webhook
is "$(count /hook):$(last /hook 'q["status"]')" "5:200" "the next run delivers it"
is "$(last /hook '[a["annotations"]["reason"] for a in d["alerts"]]')" '["new"]' "the same message, once"
is "$(json_get "$(statef c)" '"pending" in d and d["pending"].get("webhook")')" null "nothing pending any more"
# A 404 is not retried: it would be refused again.
echo 404 >"$dir/mode"
alert c4 --notify webhook
like "$ERR" "error: webhook \(http://127\.0\.0\.1:$rport/\*\*\*\) refused 1 notification: HTTP status 404" "a 404 is reported"
echo 200 >"$dir/mode"
n=$(count /hook)
alert c4 --notify webhook
is "$(count /hook)" "$n" "and not sent again"

# Slack: {"text": ..., "attachments": [...]}.
alert d --notify slack
is "$(count /services/)" 1 "Slack gets one message"
like "$(last /services/ 'd["text"]')" '^\[FIRING:1\] pgp-alert: shop-monitor: idle_in_transaction CRITICAL$' "its text"
is "$(last /services/ '[a["color"] for a in d["attachments"]]')" '["danger"]' "an attachment, danger for CRITICAL"
like "$(last /services/ 'd["attachments"][0]["text"]')" "^idle in transaction for " "with the check's text"
is "$(last /services/ '[f["title"] for f in d["attachments"][0]["fields"]]')" '["value", "instance"]' "and fields"

# --all: the changes of every target in one message.
printf 'targets: { one: { conninfo = "service=shop-monitor"; }; two: { conninfo = "service=shop-monitor"; }; };\n' \
	>"$dir/fleet.conf"
n=$(count /hook)
run pgp-alert -c "$dir/fleet.conf" --all --state-dir "$dir/k" --check idle_in_transaction --critical 0s --notify webhook
printf '%s\n%s\n' "$OUT" "$ERR" >>"$dir/all-output"
is "$RC:$(count /hook)" "2:$((n + 1))" "--all over two targets: one message"
is "$(last /hook 'sorted(a["labels"]["target"] for a in d["alerts"])')" '["one", "two"]' "with an alert of each"
is "$(last /hook 'sorted(d["commonLabels"])')" '["alertname", "check", "instance", "severity"]' \
	"commonLabels: what they share"

# Alertmanager: every firing alert on every run, with its labels.
for i in $(seq 100); do curl -sf "http://127.0.0.1:$amport/-/ready" >/dev/null && break; sleep 0.1; done
amq() { curl -sf "http://127.0.0.1:$amport/api/v2/alerts?filter=alertname%3D%22PgIdleInTransaction%22"; }
alert e --notify alertmanager
is "$RC:$ERR" "2:" "posted to Alertmanager without a word on stderr"
am=$(amq)
is "$(json_get "$am" 'len(d)')" 1 "Alertmanager holds the firing alert"
is "$(json_get "$am" '[d[0]["labels"][k] for k in ("alertname", "severity", "target", "check")]')" \
	'["PgIdleInTransaction", "critical", "shop-monitor", "idle_in_transaction"]' "with its labels"
is "$(json_get "$am" '[d[0]["labels"]["instance"], d[0]["status"]["state"]]')" "[\"127.0.0.1:$port\", \"active\"]" \
	"the instance label, active"
like "$(json_get "$am" 'd[0]["annotations"]["summary"]')" "^shop-monitor: idle_in_transaction CRITICAL$" "the summary"
starts=$(json_get "$am" 'd[0]["startsAt"]')
alert e --notify alertmanager
am=$(amq)
is "$(json_get "$am" '[len(d), d[0]["startsAt"]]')" "[1, \"$starts\"]" "sent again by the next run: still one alert, same start"
for i in $(seq 100); do [ "$(count /am-hook)" -ge 1 ] && break; sleep 0.1; done
is "$(last /am-hook '[d["status"], d["alerts"][0]["labels"]["alertname"]]')" '["firing", "PgIdleInTransaction"]' \
	"and Alertmanager notifies it itself"

# No secret in argv: look at every process while pgp-alert waits for the receiver.
echo slow >"$dir/mode"
rm -f "$dir/slow-started"
pgp-alert -c /dev/null -d service=shop-monitor --state-dir "$dir/f" --check idle_in_transaction --critical 0s \
	--notify webhook,slack >"$dir/f.out" 2>&1 &
pid=$!
for i in $(seq 100); do [ -e "$dir/slow-started" ] && break; sleep 0.05; done
args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
like "$args" "pgp-alert .*--notify webhook,slack" "pgp-alert seen running while the receiver is slow"
# (the tokens reach the search through the environment: in its argv they would match)
hits=$(T1=$TOKEN T2=$STOKEN python3 -c 'import glob, os
n = 0
for f in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        a = open(f, "rb").read().decode("utf-8", "replace")
    except OSError:
        continue
    n += os.environ["T1"] in a or os.environ["T2"] in a
print(n)')
is "$hits" 0 "no process has a token in its argv"
wait "$pid"
echo 200 >"$dir/mode"

# A URL from a file: refused while others may read it.
printf 'http://127.0.0.1:%s/hook/%s\n' "$rport" "$TOKEN" >"$dir/hook.url"
chmod 644 "$dir/hook.url"
PGP_ALERT_WEBHOOK_URL= PGP_ALERT_WEBHOOK_URL_FILE=$dir/hook.url alert g --notify webhook
is "$RC" 3 "a URL file readable by others is a configuration error"
like "$ERR" "\"$dir/hook.url\" holds a secret but is readable by group or others \(mode 0644\)" "saying why"
chmod 600 "$dir/hook.url"
n=$(count /hook)
PGP_ALERT_WEBHOOK_URL= PGP_ALERT_WEBHOOK_URL_FILE=$dir/hook.url alert g --notify webhook
is "$RC:$(count /hook)" "2:$((n + 1))" "mode 0600: the URL is read and used"

# The condition clears: RESOLVED, once, only where it was notified.
exec 7>&-
ok "the session is gone" -- wait_for "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'idler'"
n=$(count /hook)
alert a --notify webhook --repeat-interval 3s
is "$RC:$(count /hook)" "0:$((n + 1))" "OK again: one message"
is "$(last /hook '[d["status"], d["alerts"][0]["status"], d["alerts"][0]["labels"]["severity"]]')" \
	'["resolved", "resolved", "critical"]' "RESOLVED, for the critical alert"
like "$(last /hook 'd["alerts"][0]["endsAt"]')" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "with its endsAt"
alert a --notify webhook --repeat-interval 3s
is "$(count /hook)" "$((n + 1))" "and nothing more"
alert d --notify slack
is "$(last /services/ '[d["text"], d["attachments"][0]["color"]]')" \
	'["[RESOLVED:1] pgp-alert: shop-monitor: idle_in_transaction RESOLVED (was CRITICAL)", "good"]' "Slack: RESOLVED, good"
before=$(count /hook)
CONF=$dir/confirm.conf alert h --notify webhook
is "$RC:$(count /hook)" "0:$before" "a problem never notified (one run of confirm=2) sends no RESOLVED"
alert e --notify alertmanager
is "$RC:$ERR" "0:" "resolved in Alertmanager"
is "$(json_get "$(amq)" 'len(d)')" 0 "Alertmanager no longer lists it as active"
for i in $(seq 150); do [ "$(last /am-hook 'd["status"]')" = resolved ] && break; sleep 0.1; done
is "$(last /am-hook '[d["status"], d["alerts"][0]["status"]]')" '["resolved", "resolved"]' \
	"Alertmanager sends the resolution on"
like "$(last /am-hook 'd["alerts"][0]["endsAt"]')" '^20[0-9]{2}-' "its endsAt is set"

# Never a token in what pgp-alert printed.
unlike "$(cat "$dir/all-output" "$dir/f.out")" "$TOKEN|$STOKEN" "no token on stdout or stderr"
done_testing
